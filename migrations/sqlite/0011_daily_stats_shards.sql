-- The daily counters get PostgreSQL's shards (its migration 0011), so
-- both backends run the same upserts; SQLite has one writer at a time and
-- gains nothing from them. SQLite cannot change a primary key: the table
-- is copied into a new one. Existing rows become shard 0.
CREATE TABLE daily_stats_sharded (
    day BIGINT NOT NULL,
    newsletter_id BIGINT NOT NULL,
    shard BIGINT NOT NULL DEFAULT 0,
    signups BIGINT NOT NULL DEFAULT 0,
    confirmations BIGINT NOT NULL DEFAULT 0,
    unsubscribes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, newsletter_id, shard)
);
INSERT INTO daily_stats_sharded (day, newsletter_id, shard, signups, confirmations, unsubscribes)
SELECT day, newsletter_id, 0, signups, confirmations, unsubscribes FROM daily_stats;
DROP TABLE daily_stats;
ALTER TABLE daily_stats_sharded RENAME TO daily_stats;
