-- Seeds an admin benchmark database: two newsletters, :N subscribers over
-- three years (70 % active, 10 % pending, 10 % unsubscribed, 10 % bounced),
-- their subscriptions, the daily counters, 200 stories, 20 sent issues,
-- the newest sent to every active subscriber (one delivery row each).
-- `SEQ(:N)` is replaced by the backend's row generator by bench/admin/run:
-- generate_series on PostgreSQL, a recursive CTE on SQLite. Set-based
-- statements only, so a million rows take seconds.

INSERT INTO newsletters (slug, name, locale, schedule, timezone, active_subscribers, created_at, updated_at)
VALUES ('news', 'The Daily', 'en', '0 7 * * *', 'Europe/Paris', 0, :NOW, :NOW),
       ('weekly', 'The Weekly', 'en', '0 7 * * FRI', 'Africa/Bamako', 0, :NOW, :NOW);

INSERT INTO subscribers (id, email, email_key, name, locale, status, paused, hard_bounces, created_at, confirmed_at, updated_at)
SELECT i, 'reader' || i || '@example.org', 'reader' || i || '@example.org', 'Reader ' || i, 'en',
       CASE i % 10 WHEN 7 THEN 'pending' WHEN 8 THEN 'unsubscribed' WHEN 9 THEN 'bounced' ELSE 'active' END,
       0, 0,
       :NOW - (:N - i) * (94608000000 / :N),
       CASE WHEN i % 10 < 7 THEN :NOW - (:N - i) * (94608000000 / :N) + 60000 END,
       :NOW
FROM SEQ(:N);

INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at)
SELECT id, 1, CASE status WHEN 'active' THEN 'active' WHEN 'pending' THEN 'pending' ELSE 'unsubscribed' END, created_at, created_at
FROM subscribers;

UPDATE newsletters SET active_subscribers = (SELECT COUNT(*) FROM subscriptions WHERE newsletter_id = 1 AND status = 'active') WHERE id = 1;

INSERT INTO daily_stats (day, newsletter_id, signups, confirmations, unsubscribes)
SELECT created_at - created_at % 86400000, 1, COUNT(*), SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'unsubscribed' THEN 1 ELSE 0 END)
FROM subscribers GROUP BY created_at - created_at % 86400000;

INSERT INTO stories (url, title, summary, tags, published_at, created_at, updated_at)
SELECT 'https://news.example.org/story-' || i, 'Story number ' || i, 'What happened in story ' || i || '.', 'city',
       :NOW - (200 - i) * 3600000, :NOW, :NOW
FROM SEQ(200);

INSERT INTO issues (newsletter_id, slot_at, status, subject, total_count, created_at, updated_at, send_at, sent_at)
SELECT 1, :NOW - (21 - i) * 86400000, 'sent', 'The Daily, issue ' || i, 0,
       :NOW - (21 - i) * 86400000, :NOW, :NOW - (21 - i) * 86400000, :NOW - (21 - i) * 86400000 + 3600000
FROM SEQ(20);

INSERT INTO issue_stories (issue_id, newsletter_id, story_id, position)
SELECT (s.id - 1) / 10 + 1, 1, s.id, (s.id - 1) % 10 FROM stories s WHERE s.id <= 200;

INSERT INTO deliveries (kind, issue_id, subscriber_id, recipient, status, attempts, next_attempt_at, created_at, sent_at)
SELECT 'digest', 20, s.id, s.email, CASE WHEN s.id % 1000 = 0 THEN 'failed' ELSE 'sent' END, 1, :NOW, :NOW,
       CASE WHEN s.id % 1000 = 0 THEN NULL ELSE :NOW END
FROM subscribers s WHERE s.status = 'active';

UPDATE issues SET total_count = (SELECT COUNT(*) FROM deliveries WHERE issue_id = 20) WHERE id = 20;
