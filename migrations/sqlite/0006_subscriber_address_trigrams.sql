-- The admin's address search ("address contains…") at a million
-- subscribers: every address's trigrams in an FTS5 index, so a rare
-- fragment of three or more characters finds its few rows without reading
-- the table. The trigram tokenizer takes every character (`@`, `.`, `-`
-- too), so `r@e` is one trigram. External content: the addresses are
-- stored once, in subscribers; `detail = 'none'` keeps the index small (no
-- positions), so it answers a superset and the search rechecks each row
-- with the same LIKE as before. Kept by triggers in the same transaction as
-- every change, whichever code makes it (signup, import, erase...).
CREATE VIRTUAL TABLE subscriber_address_trigrams USING fts5(
    email_key,
    content = 'subscribers',
    content_rowid = 'id',
    tokenize = 'trigram',
    detail = 'none'
);
INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams) VALUES ('rebuild');

CREATE TRIGGER subscriber_address_trigrams_insert AFTER INSERT ON subscribers BEGIN
    INSERT INTO subscriber_address_trigrams (rowid, email_key) VALUES (NEW.id, NEW.email_key);
END;
-- An external-content index forgets a row only when told its old text.
CREATE TRIGGER subscriber_address_trigrams_delete AFTER DELETE ON subscribers BEGIN
    INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rowid, email_key)
    VALUES ('delete', OLD.id, OLD.email_key);
END;
-- A repeated signup rewrites email_key with the same value: not a change.
CREATE TRIGGER subscriber_address_trigrams_update AFTER UPDATE OF email_key ON subscribers
WHEN OLD.email_key <> NEW.email_key BEGIN
    INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rowid, email_key)
    VALUES ('delete', OLD.id, OLD.email_key);
    INSERT INTO subscriber_address_trigrams (rowid, email_key) VALUES (NEW.id, NEW.email_key);
END;
