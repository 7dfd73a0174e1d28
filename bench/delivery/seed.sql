-- Seeds one newsletter, one issue of :stories stories and :rows active
-- subscribers, each with a pending digest row. Portable SQL: it runs on
-- SQLite (sqlite3) and PostgreSQL (psql) after run.sh substitutes the
-- placeholders.
INSERT INTO newsletters (slug, name, locale, created_at, updated_at)
VALUES ('bench', 'Bench Daily', 'en', 0, 0);

INSERT INTO issues (newsletter_id, status, subject, preheader, intro, created_at, updated_at)
SELECT id, 'sending', 'The benchmark digest', 'Everything that happened today',
       'Good morning. Here is a digest about the size of a real one, with stories, images and summaries.',
       0, 0
FROM newsletters WHERE slug = 'bench';

WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :stories)
INSERT INTO stories (url, title, summary, image_url, author, published_at, created_at, updated_at)
SELECT 'https://news.example.org/2030/story-' || n,
       'A headline of ordinary length for story number ' || n,
       'A summary of the story as an editor writes it, two or three sentences that say what happened, where and why it matters to the reader of a news site. '
         || 'It goes on a little to look like real copy, with names, places and numbers: 1,200 people in Bamako on Friday. '
         || 'And a last sentence that invites the reader to click through to the full story.',
       'https://news.example.org/images/story-' || n || '.jpg',
       'Reporter ' || n,
       1900000000000, 0, 0
FROM seq;

INSERT INTO issue_stories (issue_id, newsletter_id, story_id, position)
SELECT i.id, i.newsletter_id, s.id, s.id
FROM issues i, stories s
WHERE s.url LIKE 'https://news.example.org/2030/story-%';

WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows)
INSERT INTO subscribers (email, email_key, name, status, created_at, confirmed_at, updated_at)
SELECT 'reader' || n || '@example.net', 'reader' || n || '@example.net', 'Reader ' || n, 'active', 0, 0, 0
FROM seq;

INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at)
SELECT s.id, n.id, 'active', 0, 0 FROM subscribers s, newsletters n WHERE n.slug = 'bench';

INSERT INTO deliveries (kind, issue_id, subscriber_id, recipient, status, attempts, next_attempt_at, created_at)
SELECT 'digest', i.id, s.id, s.email, 'pending', 0, 0, 0
FROM subscribers s, issues i;
