-- Counters the admin reads instead of counting big tables on every load,
-- kept by triggers in the same transaction as every change, whichever code
-- makes it (signup, confirmation, bounce, erase, import...).

-- Subscribers by status, each status spread over 16 shards picked by the
-- connection, so concurrent signups do not queue on one counter row.
CREATE TABLE subscriber_counts (
    status TEXT NOT NULL,
    shard BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (status, shard)
);
INSERT INTO subscriber_counts (status, shard, n)
SELECT status, 0, COUNT(*) FROM subscribers GROUP BY status;

CREATE FUNCTION subscriber_count_add(status TEXT, delta BIGINT) RETURNS void AS $$
    INSERT INTO subscriber_counts (status, shard, n) VALUES (status, pg_backend_pid() % 16, delta)
    ON CONFLICT (status, shard) DO UPDATE SET n = subscriber_counts.n + excluded.n;
$$ LANGUAGE sql;

CREATE FUNCTION subscribers_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM subscriber_count_add(OLD.status, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM subscriber_count_add(NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER subscribers_count_insert AFTER INSERT ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscribers_count();
CREATE TRIGGER subscribers_count_update AFTER UPDATE OF status ON subscribers
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION subscribers_count();
CREATE TRIGGER subscribers_count_delete AFTER DELETE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscribers_count();

-- An issue's digest rows by status. A table of their own, not columns of
-- the issue, so a worker updating a counter never waits on (or blocks) an
-- editor's change to the issue itself (cancel locks the issue, then waits
-- for the rows a worker holds). Statement-level triggers: a fan-out of a
-- million rows, or a worker's batch of outcomes, is one counter update.
CREATE TABLE issue_counts (
    issue_id BIGINT PRIMARY KEY REFERENCES issues (id) ON DELETE CASCADE,
    pending BIGINT NOT NULL DEFAULT 0,
    sending BIGINT NOT NULL DEFAULT 0,
    sent BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    cancelled BIGINT NOT NULL DEFAULT 0
);
INSERT INTO issue_counts (issue_id, pending, sending, sent, failed, cancelled)
SELECT issue_id,
       COUNT(*) FILTER (WHERE status = 'pending'),
       COUNT(*) FILTER (WHERE status = 'sending'),
       COUNT(*) FILTER (WHERE status = 'sent'),
       COUNT(*) FILTER (WHERE status = 'failed'),
       COUNT(*) FILTER (WHERE status = 'cancelled')
FROM deliveries WHERE kind = 'digest' AND issue_id IS NOT NULL GROUP BY issue_id;

CREATE FUNCTION deliveries_count_insert() RETURNS trigger AS $$
BEGIN
    WITH changes AS (
        SELECT issue_id, status, 1 AS sign FROM new_rows WHERE kind = 'digest'
    ), sums AS (
        SELECT issue_id,
               SUM(sign) FILTER (WHERE status = 'pending') AS pending,
               SUM(sign) FILTER (WHERE status = 'sending') AS sending,
               SUM(sign) FILTER (WHERE status = 'sent') AS sent,
               SUM(sign) FILTER (WHERE status = 'failed') AS failed,
               SUM(sign) FILTER (WHERE status = 'cancelled') AS cancelled
        FROM changes GROUP BY issue_id
    )
    INSERT INTO issue_counts AS c (issue_id, pending, sending, sent, failed, cancelled)
    SELECT issue_id, COALESCE(s.pending, 0), COALESCE(s.sending, 0), COALESCE(s.sent, 0),
           COALESCE(s.failed, 0), COALESCE(s.cancelled, 0)
    FROM sums s
    WHERE s.issue_id IS NOT NULL
      AND (s.pending <> 0 OR s.sending <> 0 OR s.sent <> 0 OR s.failed <> 0 OR s.cancelled <> 0)
    ORDER BY s.issue_id
    ON CONFLICT (issue_id) DO UPDATE SET
        pending = c.pending + excluded.pending,
        sending = c.sending + excluded.sending,
        sent = c.sent + excluded.sent,
        failed = c.failed + excluded.failed,
        cancelled = c.cancelled + excluded.cancelled;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION deliveries_count_update() RETURNS trigger AS $$
BEGIN
    WITH changes AS (
        SELECT issue_id, status, 1 AS sign FROM new_rows WHERE kind = 'digest'
        UNION ALL
        SELECT issue_id, status, -1 FROM old_rows WHERE kind = 'digest'
    ), sums AS (
        SELECT issue_id,
               SUM(sign) FILTER (WHERE status = 'pending') AS pending,
               SUM(sign) FILTER (WHERE status = 'sending') AS sending,
               SUM(sign) FILTER (WHERE status = 'sent') AS sent,
               SUM(sign) FILTER (WHERE status = 'failed') AS failed,
               SUM(sign) FILTER (WHERE status = 'cancelled') AS cancelled
        FROM changes GROUP BY issue_id
    )
    INSERT INTO issue_counts AS c (issue_id, pending, sending, sent, failed, cancelled)
    SELECT issue_id, COALESCE(s.pending, 0), COALESCE(s.sending, 0), COALESCE(s.sent, 0),
           COALESCE(s.failed, 0), COALESCE(s.cancelled, 0)
    FROM sums s
    WHERE s.issue_id IS NOT NULL
      AND (s.pending <> 0 OR s.sending <> 0 OR s.sent <> 0 OR s.failed <> 0 OR s.cancelled <> 0)
    ORDER BY s.issue_id
    ON CONFLICT (issue_id) DO UPDATE SET
        pending = c.pending + excluded.pending,
        sending = c.sending + excluded.sending,
        sent = c.sent + excluded.sent,
        failed = c.failed + excluded.failed,
        cancelled = c.cancelled + excluded.cancelled;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION deliveries_count_delete() RETURNS trigger AS $$
BEGIN
    WITH changes AS (
        SELECT issue_id, status, -1 AS sign FROM old_rows WHERE kind = 'digest'
    ), sums AS (
        SELECT issue_id,
               SUM(sign) FILTER (WHERE status = 'pending') AS pending,
               SUM(sign) FILTER (WHERE status = 'sending') AS sending,
               SUM(sign) FILTER (WHERE status = 'sent') AS sent,
               SUM(sign) FILTER (WHERE status = 'failed') AS failed,
               SUM(sign) FILTER (WHERE status = 'cancelled') AS cancelled
        FROM changes GROUP BY issue_id
    )
    INSERT INTO issue_counts AS c (issue_id, pending, sending, sent, failed, cancelled)
    SELECT issue_id, COALESCE(s.pending, 0), COALESCE(s.sending, 0), COALESCE(s.sent, 0),
           COALESCE(s.failed, 0), COALESCE(s.cancelled, 0)
    FROM sums s
    WHERE s.issue_id IS NOT NULL
      AND (s.pending <> 0 OR s.sending <> 0 OR s.sent <> 0 OR s.failed <> 0 OR s.cancelled <> 0)
    ORDER BY s.issue_id
    ON CONFLICT (issue_id) DO UPDATE SET
        pending = c.pending + excluded.pending,
        sending = c.sending + excluded.sending,
        sent = c.sent + excluded.sent,
        failed = c.failed + excluded.failed,
        cancelled = c.cancelled + excluded.cancelled;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deliveries_count_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_insert();
CREATE TRIGGER deliveries_count_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_update();
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_count_delete();
