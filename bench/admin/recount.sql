-- The counters of migration 0004, computed from the rows (the PostgreSQL
-- seed runs without triggers).
DELETE FROM subscriber_counts;
INSERT INTO subscriber_counts (status, shard, n)
SELECT status, 0, COUNT(*) FROM subscribers GROUP BY status;
DELETE FROM issue_counts;
INSERT INTO issue_counts (issue_id, pending, sending, sent, failed, cancelled)
SELECT issue_id,
       SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'sending' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END)
FROM deliveries WHERE kind = 'digest' AND issue_id IS NOT NULL GROUP BY issue_id;
DELETE FROM subscriber_growth;
INSERT INTO subscriber_growth (day, shard, n)
SELECT created_at / 86400000, 0, COUNT(*) FROM subscribers GROUP BY created_at / 86400000;
