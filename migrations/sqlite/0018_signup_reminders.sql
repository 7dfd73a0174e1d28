-- One reminder to a signup left unconfirmed (subscriptions.reminder_after):
-- when it was sent, so there is never a second.
ALTER TABLE subscribers ADD COLUMN reminded_at BIGINT;
-- The reminder and expiry passes look for old pending signups only.
CREATE INDEX subscribers_pending_created ON subscribers (created_at)
    WHERE status = 'pending';
