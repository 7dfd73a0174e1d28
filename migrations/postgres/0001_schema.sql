-- Gazette's whole domain. Timestamps are Unix milliseconds (BIGINT) and flags
-- are 0/1 integers on both backends, so one set of SQL reads both (see
-- src/store/mod.rs for why).

CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE newsletters (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    locale TEXT NOT NULL DEFAULT 'en',
    sender_name TEXT,
    reply_to TEXT,
    max_stories BIGINT NOT NULL DEFAULT 10,
    tags TEXT NOT NULL DEFAULT '',
    review_before_send BIGINT NOT NULL DEFAULT 0,
    skip_when_empty BIGINT NOT NULL DEFAULT 1,
    schedule TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    paused BIGINT NOT NULL DEFAULT 0,
    active_subscribers BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE subscribers (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    -- the address lower-cased: one subscriber per mailbox
    email_key TEXT NOT NULL UNIQUE,
    name TEXT,
    locale TEXT NOT NULL DEFAULT 'en',
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
    paused BIGINT NOT NULL DEFAULT 0,
    hard_bounces BIGINT NOT NULL DEFAULT 0,
    last_confirmation_sent_at BIGINT,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscribers_status_created ON subscribers (status, created_at);

CREATE TABLE subscriptions (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, newsletter_id)
);
CREATE INDEX subscriptions_newsletter_status ON subscriptions (newsletter_id, status, subscriber_id);

-- Confirmation links: random tokens stored as SHA-256 hashes.
CREATE TABLE confirmation_tokens (
    token_hash TEXT PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX confirmation_tokens_subscriber ON confirmation_tokens (subscriber_id);

-- The consent record: signup, confirmation, unsubscribe, import, erasure.
CREATE TABLE consent_events (
    id BIGSERIAL PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    detail TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX consent_events_subscriber ON consent_events (subscriber_id, at);

-- Erased subscribers leave only a hash, so an import cannot add them back
-- without a fresh opt-in.
CREATE TABLE erased_addresses (
    email_hash TEXT PRIMARY KEY,
    erased_at BIGINT NOT NULL
);

CREATE TABLE feeds (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    poll_interval_secs BIGINT NOT NULL DEFAULT 900,
    last_polled_at BIGINT,
    last_error TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE stories (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    external_id TEXT UNIQUE,
    feed_id BIGINT REFERENCES feeds (id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    summary TEXT,
    image_url TEXT,
    author TEXT,
    tags TEXT NOT NULL DEFAULT '',
    published_at BIGINT NOT NULL,
    hidden BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX stories_published ON stories (published_at);

CREATE TABLE issues (
    id BIGSERIAL PRIMARY KEY,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    -- the schedule slot this issue was made for; NULL for "send now" issues
    slot_at BIGINT,
    status TEXT NOT NULL CHECK (status IN ('draft', 'sending', 'sent', 'cancelled', 'skipped', 'missed')),
    subject TEXT NOT NULL DEFAULT '',
    preheader TEXT,
    intro TEXT,
    skip_reason TEXT,
    total_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    send_at BIGINT,
    sent_at BIGINT,
    UNIQUE (newsletter_id, slot_at)
);
CREATE INDEX issues_newsletter_created ON issues (newsletter_id, created_at);

CREATE TABLE issue_stories (
    issue_id BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    story_id BIGINT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    PRIMARY KEY (issue_id, story_id),
    -- a story goes out at most once in a newsletter
    UNIQUE (newsletter_id, story_id)
);

-- The outbox: every email Gazette sends is a row here, written in the same
-- transaction as the change that causes it.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('confirmation', 'digest', 'test', 'notice')),
    issue_id BIGINT REFERENCES issues (id) ON DELETE CASCADE,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    -- rendered message for one-off mail (confirmation, test, notice); digest
    -- rows are rendered from their issue at send time
    subject TEXT,
    html_body TEXT,
    text_body TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    leased_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    UNIQUE (issue_id, subscriber_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, created_at);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor')),
    created_at BIGINT NOT NULL,
    last_login_at BIGINT
);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

-- Daily counters per newsletter, so the dashboard never counts whole tables.
CREATE TABLE daily_stats (
    day BIGINT NOT NULL,
    newsletter_id BIGINT NOT NULL,
    signups BIGINT NOT NULL DEFAULT 0,
    confirmations BIGINT NOT NULL DEFAULT 0,
    unsubscribes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, newsletter_id)
);
