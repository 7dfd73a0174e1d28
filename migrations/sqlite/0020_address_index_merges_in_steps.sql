-- The address index's segments are merged by the indexing task in small
-- steps of their own (`'merge'` commands, src/store/sqlite/address_index.rs)
-- instead of by FTS5's automatic merging: that did its work in quanta of
-- 64 pages a level, so every few batches one held SQLite's write lock for
-- 10 to 60 ms, and every signup waiting meanwhile waited that long too.
INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rank) VALUES ('automerge', 0);
