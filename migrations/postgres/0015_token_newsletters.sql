-- The newsletters a confirmation email named (their ids, comma-separated):
-- its link confirms those and no other. Without it, a visitor could add a
-- newsletter to someone's pending signup (no second email goes out within
-- ten minutes) and the first email's link would confirm that one too.
-- Tokens from before this column (NULL) confirm every pending newsletter,
-- as they did.
ALTER TABLE confirmation_tokens ADD COLUMN newsletter_ids TEXT;
