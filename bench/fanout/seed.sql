-- Seeds one newsletter with :stories new stories and :rows active
-- subscribers, each with an active subscription and no delivery row yet:
-- the state just before an editor sends an issue. Portable SQL: it runs on
-- SQLite (sqlite3) and PostgreSQL (psql) after run substitutes the
-- placeholders. Set-based, so seeding a million rows takes seconds.
INSERT INTO newsletters (slug, name, locale, created_at, updated_at)
VALUES ('bench', 'Bench Daily', 'en', 0, 0);

WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :stories)
INSERT INTO stories (url, title, summary, published_at, created_at, updated_at)
SELECT 'https://news.example.org/2030/story-' || n,
       'A headline of ordinary length for story number ' || n,
       'A summary of the story as an editor writes it, two or three sentences long.',
       1700000000000 + n, 0, 0
FROM seq;

WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows)
INSERT INTO subscribers (email, email_key, name, status, created_at, confirmed_at, updated_at)
SELECT 'reader' || n || '@example.net', 'reader' || n || '@example.net', 'Reader ' || n, 'active', 0, 0, 0
FROM seq;

INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at)
SELECT s.id, n.id, 'active', 0, 0 FROM subscribers s, newsletters n WHERE n.slug = 'bench';

UPDATE newsletters SET active_subscribers = :rows WHERE slug = 'bench';
