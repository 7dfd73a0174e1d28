-- One reminder to a signup left unconfirmed (subscriptions.reminder_after):
-- when it was sent, so there is never a second. The passes that look for
-- old pending signups use subscribers_status_created (status, created_at);
-- no index of its own, which every signup would pay for.
ALTER TABLE subscribers ADD COLUMN reminded_at BIGINT;
