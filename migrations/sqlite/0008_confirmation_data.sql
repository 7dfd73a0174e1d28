-- Confirmation emails are rendered when they are sent, from this small
-- record (the link's token, the language, the newsletters' names, the
-- reader's name) instead of being stored whole: an outbox row of 100 bytes
-- instead of 6 KB, which made SQLite write five times more pages for every
-- signup. Erased with the bodies once the email is sent.
ALTER TABLE deliveries ADD COLUMN template_data TEXT;
