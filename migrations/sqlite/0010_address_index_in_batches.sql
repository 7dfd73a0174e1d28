-- New subscribers reach the address index (0006) in batches, written by a
-- background task (src/subscriptions/address_index.rs), instead of by a
-- trigger inside every signup's transaction: FTS5 wrote out a segment and
-- merged segments in each group of signups, about a fifth of the time a
-- group held SQLite's write lock. The search reads the few subscribers not
-- indexed yet (those after `indexed_up_to`) with a plain LIKE.
DROP TRIGGER subscriber_address_trigrams_insert;

CREATE TABLE address_index_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- every subscriber with an id up to this one is in the index, and none
    -- after it
    indexed_up_to BIGINT NOT NULL
);
INSERT INTO address_index_state (id, indexed_up_to)
SELECT 1, COALESCE(MAX(id), 0) FROM subscribers;

-- A row not in the index must not be deleted from it: FTS5 would subtract
-- tokens it never counted.
DROP TRIGGER subscriber_address_trigrams_delete;
CREATE TRIGGER subscriber_address_trigrams_delete AFTER DELETE ON subscribers
WHEN OLD.id <= (SELECT indexed_up_to FROM address_index_state) BEGIN
    INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rowid, email_key)
    VALUES ('delete', OLD.id, OLD.email_key);
END;

DROP TRIGGER subscriber_address_trigrams_update;
CREATE TRIGGER subscriber_address_trigrams_update AFTER UPDATE OF email_key ON subscribers
WHEN OLD.email_key <> NEW.email_key
    AND OLD.id <= (SELECT indexed_up_to FROM address_index_state) BEGIN
    INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rowid, email_key)
    VALUES ('delete', OLD.id, OLD.email_key);
    INSERT INTO subscriber_address_trigrams (rowid, email_key) VALUES (NEW.id, NEW.email_key);
END;
