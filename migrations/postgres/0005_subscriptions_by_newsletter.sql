-- The admin's subscriber list filtered by newsletter walks a newsletter's
-- subscriptions in subscriber order (keyset pages), so a small newsletter
-- does not cost a scan of every subscriber.
CREATE INDEX subscriptions_newsletter_subscriber ON subscriptions (newsletter_id, subscriber_id);
