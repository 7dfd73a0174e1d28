-- The dashboard's growth chart (new subscribers a day, last 90 days) read
-- from a counter instead of grouping the subscribers created in 90 days
-- (80,000 rows at a million subscribers). Same meaning as that count: the
-- subscribers that exist, by the UTC day they were created (day number
-- since the epoch), so an erased subscriber leaves the chart. Kept by
-- triggers in the same transaction as every insert and delete.
CREATE TABLE subscriber_growth (
    day BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, shard)
);
INSERT INTO subscriber_growth (day, shard, n)
SELECT created_at / 86400000, 0, COUNT(*) FROM subscribers GROUP BY created_at / 86400000;

CREATE TRIGGER subscriber_growth_insert AFTER INSERT ON subscribers BEGIN
    INSERT INTO subscriber_growth (day, shard, n) VALUES (NEW.created_at / 86400000, 0, 1)
    ON CONFLICT (day, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER subscriber_growth_delete AFTER DELETE ON subscribers BEGIN
    UPDATE subscriber_growth SET n = n - 1 WHERE day = OLD.created_at / 86400000 AND shard = 0;
END;
