-- The dashboard's growth chart (new subscribers a day, last 90 days) read
-- from a counter instead of grouping the subscribers created in 90 days
-- (80,000 rows at a million subscribers). Same meaning as that count: the
-- subscribers that exist, by the UTC day they were created (day number
-- since the epoch), so an erased subscriber leaves the chart. Kept by
-- triggers in the same transaction as every insert and delete; each day
-- spread over 16 shards picked by the connection, like subscriber_counts
-- (migration 0004), so concurrent signups do not queue on today's row.
CREATE TABLE subscriber_growth (
    day BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, shard)
);
INSERT INTO subscriber_growth (day, shard, n)
SELECT created_at / 86400000, 0, COUNT(*) FROM subscribers GROUP BY created_at / 86400000;

CREATE FUNCTION subscriber_growth_count() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO subscriber_growth (day, shard, n)
        VALUES (OLD.created_at / 86400000, pg_backend_pid() % 16, -1)
        ON CONFLICT (day, shard) DO UPDATE SET n = subscriber_growth.n + excluded.n;
    ELSE
        INSERT INTO subscriber_growth (day, shard, n)
        VALUES (NEW.created_at / 86400000, pg_backend_pid() % 16, 1)
        ON CONFLICT (day, shard) DO UPDATE SET n = subscriber_growth.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER subscriber_growth_insert AFTER INSERT ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscriber_growth_count();
CREATE TRIGGER subscriber_growth_delete AFTER DELETE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscriber_growth_count();
