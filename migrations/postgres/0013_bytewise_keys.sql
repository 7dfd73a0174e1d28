-- The two random-order text keys every signup adds to a B-tree, the
-- address key (and its trigram index, 0006) and the confirmation token's
-- hash, compare byte by byte: under the database's default collation
-- (C.UTF-8 and the like) every comparison went through the C library's
-- strcoll, about a twentieth of the database's time in a burst of signups
-- (measured: 6-9 us less database CPU a signup). Both are keys, never
-- sorted for a reader by language rules: the address key is the lower-cased
-- address in UTF-8, whose byte order is code point order, and the hash is
-- hex. PostgreSQL rebuilds the indexes on these columns here (the table
-- itself is not rewritten): 12 s at a million subscribers, measured.
ALTER TABLE subscribers ALTER COLUMN email_key TYPE TEXT COLLATE "C";
ALTER TABLE confirmation_tokens ALTER COLUMN token_hash TYPE TEXT COLLATE "C";
