-- A newsletter's optional welcome email (Markdown; empty is none), sent
-- once after a reader confirms: `welcomed_at` on the subscription says it
-- was queued, so there is never a second. Its outbox rows are of a new
-- kind, 'welcome'.
ALTER TABLE newsletters ADD COLUMN welcome_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE newsletters ADD COLUMN welcome_markdown TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN welcomed_at BIGINT;

-- SQLite cannot change a CHECK constraint in place: the outbox is rebuilt
-- with the same columns, indexes and triggers. Nothing references it.
CREATE TABLE deliveries_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('confirmation', 'digest', 'test', 'notice', 'welcome')),
    issue_id BIGINT REFERENCES issues (id) ON DELETE CASCADE,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    -- rendered message for one-off mail (test, notice); digest,
    -- confirmation and welcome rows are rendered when they are sent
    subject TEXT,
    html_body TEXT,
    text_body TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    leased_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    template_data TEXT,
    UNIQUE (issue_id, subscriber_id)
);
INSERT INTO deliveries_rebuilt (id, kind, issue_id, subscriber_id, recipient, subject,
    html_body, text_body, status, attempts, next_attempt_at, lease_until, leased_by,
    last_error, created_at, sent_at, template_data)
SELECT id, kind, issue_id, subscriber_id, recipient, subject, html_body, text_body, status,
    attempts, next_attempt_at, lease_until, leased_by, last_error, created_at, sent_at,
    template_data
FROM deliveries;
-- Ids are never reused, even of deleted rows: a late bounce names its
-- delivery by id.
DELETE FROM sqlite_sequence WHERE name = 'deliveries_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'deliveries_rebuilt', MAX(seq) FROM (
    SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'
    UNION ALL SELECT COALESCE(MAX(id), 0) FROM deliveries_rebuilt
);
DROP TABLE deliveries;
ALTER TABLE deliveries_rebuilt RENAME TO deliveries;

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, created_at);
CREATE INDEX deliveries_claim_digest ON deliveries (id)
    WHERE status IN ('pending', 'sending') AND kind = 'digest';
CREATE INDEX deliveries_claim_other ON deliveries (id)
    WHERE status IN ('pending', 'sending') AND kind <> 'digest';
CREATE INDEX deliveries_leased_by ON deliveries (leased_by) WHERE status = 'sending';
CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
WHEN NEW.kind = 'digest' BEGIN
    INSERT INTO issue_counts (issue_id, pending, sending, sent, failed, cancelled)
    VALUES (NEW.issue_id, NEW.status = 'pending', NEW.status = 'sending', NEW.status = 'sent',
            NEW.status = 'failed', NEW.status = 'cancelled')
    ON CONFLICT (issue_id) DO UPDATE SET
        pending = pending + excluded.pending,
        sending = sending + excluded.sending,
        sent = sent + excluded.sent,
        failed = failed + excluded.failed,
        cancelled = cancelled + excluded.cancelled;
END;
CREATE TRIGGER deliveries_count_update AFTER UPDATE OF status ON deliveries
WHEN NEW.kind = 'digest' AND OLD.status <> NEW.status BEGIN
    UPDATE issue_counts SET
        pending = pending + (NEW.status = 'pending') - (OLD.status = 'pending'),
        sending = sending + (NEW.status = 'sending') - (OLD.status = 'sending'),
        sent = sent + (NEW.status = 'sent') - (OLD.status = 'sent'),
        failed = failed + (NEW.status = 'failed') - (OLD.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled') - (OLD.status = 'cancelled')
    WHERE issue_id = NEW.issue_id;
END;
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
WHEN OLD.kind = 'digest' BEGIN
    UPDATE issue_counts SET
        pending = pending - (OLD.status = 'pending'),
        sending = sending - (OLD.status = 'sending'),
        sent = sent - (OLD.status = 'sent'),
        failed = failed - (OLD.status = 'failed'),
        cancelled = cancelled - (OLD.status = 'cancelled')
    WHERE issue_id = OLD.issue_id;
END;
