-- Bounces and complaints reported after the relay accepted a message: by a
-- DSN or an ARF report mailed to the VERP Return-Path, or by a provider's
-- webhook. The raw report is kept (at most 64 KB) so an editor can see why;
-- events are pruned after mail.bounce.keep_days. A delivery counts once per
-- kind, however often its report arrives (webhook retries, a mailbox read
-- twice). delivery_id has no foreign key: it is only a reference, and a
-- large issue's rows should not carry a second index check on delete.
CREATE TABLE mail_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint')),
    source TEXT NOT NULL,
    delivery_id BIGINT,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE,
    issue_id BIGINT REFERENCES issues (id) ON DELETE SET NULL,
    status_code TEXT,
    reason TEXT NOT NULL DEFAULT '',
    raw_message TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX mail_events_once ON mail_events (delivery_id, kind)
    WHERE delivery_id IS NOT NULL;
CREATE INDEX mail_events_received ON mail_events (received_at);
CREATE INDEX mail_events_issue ON mail_events (issue_id, kind);
CREATE INDEX mail_events_subscriber ON mail_events (subscriber_id, received_at);

-- Set by a complaint: the address gets no mail from any newsletter until a
-- new signup of it is confirmed.
ALTER TABLE subscribers ADD COLUMN suppressed_at BIGINT;
