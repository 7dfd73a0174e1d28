-- Counters the admin reads instead of counting big tables on every load,
-- kept by triggers in the same transaction as every change, whichever code
-- makes it (signup, confirmation, bounce, erase, import...).

-- Subscribers by status. (PostgreSQL spreads each status over shards so
-- concurrent signups do not queue on one row; SQLite has one writer, so
-- shard 0 only.)
CREATE TABLE subscriber_counts (
    status TEXT NOT NULL,
    shard BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (status, shard)
);
INSERT INTO subscriber_counts (status, shard, n)
SELECT status, 0, COUNT(*) FROM subscribers GROUP BY status;

CREATE TRIGGER subscribers_count_insert AFTER INSERT ON subscribers BEGIN
    INSERT INTO subscriber_counts (status, shard, n) VALUES (NEW.status, 0, 1)
    ON CONFLICT (status, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER subscribers_count_update AFTER UPDATE OF status ON subscribers
WHEN OLD.status <> NEW.status BEGIN
    UPDATE subscriber_counts SET n = n - 1 WHERE status = OLD.status AND shard = 0;
    INSERT INTO subscriber_counts (status, shard, n) VALUES (NEW.status, 0, 1)
    ON CONFLICT (status, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER subscribers_count_delete AFTER DELETE ON subscribers BEGIN
    UPDATE subscriber_counts SET n = n - 1 WHERE status = OLD.status AND shard = 0;
END;

-- An issue's digest rows by status. A table of their own, not columns of
-- the issue, so a worker updating a counter never waits on (or blocks) an
-- editor's change to the issue itself.
CREATE TABLE issue_counts (
    issue_id BIGINT PRIMARY KEY REFERENCES issues (id) ON DELETE CASCADE,
    pending BIGINT NOT NULL DEFAULT 0,
    sending BIGINT NOT NULL DEFAULT 0,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    cancelled BIGINT NOT NULL DEFAULT 0
);
INSERT INTO issue_counts (issue_id, pending, sending, sent, failed, cancelled)
SELECT issue_id, SUM(status = 'pending'), SUM(status = 'sending'), SUM(status = 'sent'),
       SUM(status = 'failed'), SUM(status = 'cancelled')
FROM deliveries WHERE kind = 'digest' AND issue_id IS NOT NULL GROUP BY issue_id;

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
