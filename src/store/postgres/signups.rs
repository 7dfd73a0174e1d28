//! A group of new addresses' signups in one statement on PostgreSQL, in
//! autocommit: the signups go in as one JSON parameter, so the statement's
//! text is the same for any group (prepared once a connection), and the
//! subscribers' ids reach the other rows inside the statement. As six
//! round trips in a transaction (`BEGIN`, the subscribers, the four other
//! tables, the counter, `COMMIT`) the backend sat idle in the transaction
//! between them, holding the counter row's lock through the commit.

use sqlx::Row;

use super::super::newsletters::all_on;
use super::super::signups::{NewIds, NewSignups};
use super::super::subscribers::{ConsentKind, counter_shard, today};
use super::super::{Store, StoreError};
use crate::store::newsletters::Newsletter;

pub(crate) async fn write<T, F>(store: &Store, prepare: F) -> Result<(T, NewIds), StoreError>
where
    F: FnOnce(&[Newsletter]) -> (T, NewSignups),
{
    let mut conn = store.write_alone().await?;
    let all = all_on(&mut conn).await?;
    let (back, mut group) = prepare(&all);
    if group.signups.is_empty() {
        return Ok((back, NewIds::new()));
    }
    group.sort();
    let rows: Vec<Signup<'_>> = group
        .signups
        .iter()
        .map(|signup| Signup {
            email: &signup.email,
            email_key: &signup.email_key,
            name: signup.name.as_deref(),
            locale: &signup.locale,
            newsletters: &signup.newsletters,
            source: signup.source.as_str(),
            ip: signup.client.ip.as_deref(),
            user_agent: signup.client.user_agent.as_deref(),
            detail: &signup.detail,
            token_hash: &signup.token_hash,
            newsletter_ids: &signup.token_newsletters,
            data: &signup.mail_data,
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let returned = sqlx::query(WRITE_NEW)
        .bind(json)
        .bind(group.now)
        .bind(group.tokens_expire_at)
        .bind(today())
        .bind(counter_shard())
        .bind(ConsentKind::Signup.as_str())
        .bind(group.mail_kind.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let mut ids = NewIds::with_capacity(returned.len());
    for row in returned {
        ids.insert(row.try_get("email_key")?, row.try_get("id")?);
    }
    Ok((back, ids))
}

/// One signup in [`WRITE_NEW`]'s JSON.
#[derive(serde::Serialize)]
struct Signup<'a> {
    email: &'a str,
    email_key: &'a str,
    name: Option<&'a str>,
    locale: &'a str,
    newsletters: &'a [i64],
    source: &'a str,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    detail: &'a str,
    token_hash: &'a str,
    newsletter_ids: &'a str,
    data: &'a str,
}

/// `$1` the signups ([`Signup`] in a JSON array), `$2` the time, `$3` the
/// tokens' expiry, `$4` today and `$5` the counter's shard (see
/// `subscribers::counters`), `$6` and `$7` the consent and mail kinds. The
/// subscribers go in in the byte order of their keys (the column's
/// collation, migration 0013), the order of [`NewSignups::sort`], so that
/// concurrent groups on either path lock new keys in the same order.
/// Data-modifying `WITH`s all run to completion, and the foreign keys are
/// checked at the end of the statement, once the subscribers are in.
///
/// `durability` commits the statement without waiting for PostgreSQL to
/// flush its log to disk (`synchronous_commit` off for this transaction
/// alone): the writers spent half their time in that wait, and a burst of
/// signups left a quarter of the CPU idle (alternating 15 s loads: 8,208
/// and 8,016 signups/s against 6,889 and 7,026). A crash of Gazette loses
/// nothing; a crash of PostgreSQL or of its machine, or a failover to an
/// asynchronous standby, may lose the signups answered in the moments
/// before it (at most three times `wal_writer_delay`, 0.6 s by default),
/// each as one whole: the subscriber with their confirmation email, never
/// one without the other. No email goes out for such a signup while the
/// server keeps `synchronous_commit` on: the delivery worker's claim of it
/// commits synchronously, which flushes the log up to and past this
/// commit.
const WRITE_NEW: &str = "\
WITH v AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS v (email TEXT, email_key TEXT, name TEXT, \
        locale TEXT, newsletters BIGINT[], source TEXT, ip TEXT, user_agent TEXT, detail TEXT, \
        token_hash TEXT, newsletter_ids TEXT, data TEXT)
), s AS (
    INSERT INTO subscribers (email, email_key, name, locale, status, paused, hard_bounces, \
        created_at, updated_at, last_confirmation_sent_at)
    SELECT email, email_key, name, locale, 'pending', 0, 0, $2, $2, $2 FROM v \
    ORDER BY email_key COLLATE \"C\"
    ON CONFLICT (email_key) DO NOTHING
    RETURNING id, email_key
), n AS MATERIALIZED (
    SELECT s.id, v.* FROM s JOIN v ON v.email_key = s.email_key
), subscribed AS (
    INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at)
    SELECT n.id, newsletter_id, 'pending', $2, $2 FROM n, unnest(n.newsletters) AS newsletter_id
    RETURNING newsletter_id
), consents AS (
    INSERT INTO consent_events (subscriber_id, kind, source, ip, user_agent, detail, at)
    SELECT id, $6, source, ip, user_agent, detail, $2 FROM n
), tokens AS (
    INSERT INTO confirmation_tokens (token_hash, subscriber_id, created_at, expires_at, \
        newsletter_ids)
    SELECT token_hash, id, $2, $3, newsletter_ids FROM n
), mails AS (
    INSERT INTO deliveries (kind, subscriber_id, recipient, template_data, status, attempts, \
        next_attempt_at, created_at)
    SELECT $7, id, email, data, 'pending', 0, $2, $2 FROM n
), counted AS (
    INSERT INTO daily_stats AS d (day, newsletter_id, shard, signups)
    SELECT $4, newsletter_id, $5, COUNT(*) FROM subscribed GROUP BY newsletter_id
    ORDER BY newsletter_id
    ON CONFLICT (day, newsletter_id, shard) DO UPDATE SET signups = d.signups + excluded.signups
), durability AS (
    SELECT set_config('synchronous_commit', 'off', true)
)
SELECT id, email_key FROM s, durability";
