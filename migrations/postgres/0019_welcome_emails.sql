-- A newsletter's optional welcome email (Markdown; empty is none), sent
-- once after a reader confirms: `welcomed_at` on the subscription says it
-- was queued, so there is never a second. Its outbox rows are of a new
-- kind, 'welcome'.
ALTER TABLE newsletters ADD COLUMN welcome_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE newsletters ADD COLUMN welcome_markdown TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN welcomed_at BIGINT;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_kind_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check
    CHECK (kind IN ('confirmation', 'digest', 'test', 'notice', 'welcome'));
