-- Each day's counters spread over 16 shards, like subscriber_counts
-- (0004): one row a newsletter a day was locked from every signup
-- group's upsert until its commit, so two writers' commits (each a WAL
-- flush) queued behind each other instead of sharing a flush. Readers
-- sum the shards. Existing rows become shard 0.
ALTER TABLE daily_stats ADD COLUMN shard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE daily_stats DROP CONSTRAINT daily_stats_pkey;
ALTER TABLE daily_stats ADD PRIMARY KEY (day, newsletter_id, shard);
