//! The writes of a group of signups for addresses seen for the first time,
//! the common case: the subscribers in a multi-row insert, then their
//! subscriptions, consent events, tokens and confirmation emails (one
//! round trip for the four, see [`rows::insert_together`]), and each
//! newsletter's daily counter one update for the whole group. The same
//! rows go through sqlx (PostgreSQL, and SQLite's fallback) or, on SQLite,
//! through its direct writer in one call (the `_direct` functions). A new
//! address needs none of the reads of a known one: it has no past, so its
//! subscriptions are exactly the ones asked for and its confirmation email
//! goes out now.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::writer::Prepared;
use crate::store::rows::{self, InsertRows, Value};
use crate::store::subscribers::{
    ConsentKind, DailyCounter, count_today_by, count_today_by_direct, counter_shard, today,
};
use crate::subscriptions::token::CONFIRMATION_TOKEN_LIFETIME_HOURS;

const INSERT_SUBSCRIBERS: &str = "INSERT INTO subscribers (email, email_key, name, locale, \
     status, paused, hard_bounces, created_at, updated_at, last_confirmation_sent_at) VALUES ";
/// `$1` is the time; the rest are numbered from `$2`.
const SUBSCRIBER_ROW: &str = "(#, #, #, #, 'pending', 0, 0, $1, $1, $1)";
const NEW_ONLY: &str = " ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key";

/// Inserts the addresses of `signups` that are not known yet as pending
/// subscribers, their confirmation sent at `now` (the rest of this module
/// queues it in the same transaction). Returns the new subscribers' ids by
/// address key; a known address is left untouched and not returned.
/// `signups` must hold each address once, in the order of their keys, so
/// that concurrent groups on PostgreSQL lock new keys in the same order.
pub(super) async fn insert_subscribers(
    conn: &mut AnyConnection,
    signups: &[&Prepared<'_>],
    now: i64,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let mut ids = HashMap::with_capacity(signups.len());
    for chunk in rows::chunks(conn, signups) {
        let sql = format!(
            "{INSERT_SUBSCRIBERS}{}{NEW_ONLY}",
            rows::values(SUBSCRIBER_ROW, chunk.len(), 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for signup in chunk {
            query = query
                .bind(signup.request.email.as_str())
                .bind(&signup.email_key)
                .bind(signup.name())
                .bind(&signup.subscriber_locale);
        }
        for row in query.fetch_all(&mut *conn).await? {
            ids.insert(row.try_get("email_key")?, row.try_get("id")?);
        }
    }
    Ok(ids)
}

/// [`insert_subscribers`] on SQLite's direct writer, in one statement
/// (see [`InsertRows::insert_all`]).
pub(super) fn insert_subscribers_direct(
    conn: &rusqlite::Connection,
    signups: &[&Prepared<'_>],
    now: i64,
) -> Result<HashMap<String, i64>, rusqlite::Error> {
    let mut subscribers =
        InsertRows::new(INSERT_SUBSCRIBERS, "(#, #, #, #, 'pending', 0, 0, #, #, #)");
    for signup in signups {
        subscribers.push(&[
            Value::Text(signup.request.email.as_str()),
            Value::Text(&signup.email_key),
            Value::MaybeText(signup.name()),
            Value::Text(&signup.subscriber_locale),
            Value::Int(now),
            Value::Int(now),
            Value::Int(now),
        ]);
    }
    let ids = subscribers.insert_all(conn, NEW_ONLY, |row| {
        Ok((row.get("email_key")?, row.get("id")?))
    })?;
    Ok(ids.into_iter().collect())
}

/// Everything else a new address's signup writes: pending subscriptions,
/// the consent event, the hashed token, the confirmation email in the
/// outbox and the daily counters. `signups` pairs each signup with its new
/// subscriber's id.
pub(super) async fn write_signups(
    conn: &mut AnyConnection,
    signups: &[(i64, &Prepared<'_>)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in rows::chunks(conn, signups) {
        let data = confirmation_data(chunk);
        let [subscriptions, consents, tokens, mails] = signup_rows(chunk, &data, now);
        rows::insert_together(conn, &[&subscriptions, &consents, &tokens, &mails]).await?;
    }
    // Last, so the shared counter rows are locked for the shortest time;
    // one update per newsletter for the whole group.
    for (newsletter_id, count) in signups_per_newsletter(signups) {
        count_today_by(conn, newsletter_id, DailyCounter::Signups, count).await?;
    }
    Ok(())
}

/// [`write_signups`] on SQLite's direct writer.
pub(super) fn write_signups_direct(
    conn: &rusqlite::Connection,
    signups: &[(i64, &Prepared<'_>)],
    now: i64,
) -> Result<(), rusqlite::Error> {
    let data = confirmation_data(signups);
    for table in signup_rows(signups, &data, now) {
        table.insert_all(conn, "", |_| Ok(()))?;
    }
    for (newsletter_id, count) in signups_per_newsletter(signups) {
        count_today_by_direct(conn, newsletter_id, DailyCounter::Signups, count)?;
    }
    Ok(())
}

/// The whole write of new addresses on PostgreSQL in one statement, in
/// autocommit: the signups go in as one JSON parameter, so the statement's
/// text is the same for any group (prepared once a connection), and the
/// subscribers' ids reach the other rows inside the statement. Before, a
/// group was six round trips in a transaction (`BEGIN`, the subscribers,
/// the four other tables, the counter, `COMMIT`), and the backend sat
/// idle in the transaction between them, holding the counter row's lock
/// through the commit. Only the first signup of each address may be in
/// `signups` (an address asked twice in a group is known the second
/// time). Returns the new subscribers' ids by address key, as
/// [`insert_subscribers`] does; a known address writes nothing here.
pub(super) async fn write_new_postgres(
    conn: &mut AnyConnection,
    signups: &[&Prepared<'_>],
    now: i64,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows: Vec<PostgresSignup<'_>> = signups
        .iter()
        .map(|signup| PostgresSignup {
            email: signup.request.email.as_str(),
            email_key: &signup.email_key,
            name: signup.name(),
            locale: &signup.subscriber_locale,
            newsletters: signup.newsletters.iter().map(|n| n.id).collect(),
            source: signup.request.source.as_str(),
            ip: signup.request.client.ip.as_deref(),
            user_agent: signup.request.client.user_agent.as_deref(),
            detail: &signup.requested_slugs,
            token_hash: &signup.token_hash,
            newsletter_ids: &signup.newsletter_ids,
            data: signup
                .confirmation(&signup.requested_names, signup.name())
                .to_json(),
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let expires_at = now + i64::from(CONFIRMATION_TOKEN_LIFETIME_HOURS) * 3_600_000;
    let returned = sqlx::query(WRITE_NEW_POSTGRES)
        .bind(json)
        .bind(now)
        .bind(expires_at)
        .bind(today())
        .bind(counter_shard())
        .bind(ConsentKind::Signup.as_str())
        .bind(super::CONFIRMATION.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let mut ids = HashMap::with_capacity(returned.len());
    for row in returned {
        ids.insert(row.try_get("email_key")?, row.try_get("id")?);
    }
    Ok(ids)
}

/// One signup in [`WRITE_NEW_POSTGRES`]'s JSON.
#[derive(serde::Serialize)]
struct PostgresSignup<'a> {
    email: &'a str,
    email_key: &'a str,
    name: Option<&'a str>,
    locale: &'a str,
    newsletters: Vec<i64>,
    source: &'a str,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    detail: &'a str,
    token_hash: &'a str,
    newsletter_ids: &'a str,
    data: String,
}

/// `$1` the signups ([`PostgresSignup`] in a JSON array), `$2` the time,
/// `$3` the tokens' expiry, `$4` today and `$5` the counter's shard (see
/// [`count_today_by`]), `$6` and `$7` the consent and mail kinds. The
/// subscribers go in in the byte order of their keys (the column's
/// collation, migration 0013), the order of the writer's `firsts` and so
/// of [`insert_subscribers`], so that concurrent groups on either path
/// lock new keys in the same order. Data-modifying `WITH`s all run
/// to completion, and the foreign keys are checked at the end of the
/// statement, once the subscribers are in.
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
const WRITE_NEW_POSTGRES: &str = "\
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

/// What each signup's confirmation email is rendered from, in JSON.
fn confirmation_data(signups: &[(i64, &Prepared<'_>)]) -> Vec<String> {
    signups
        .iter()
        .map(|(_, signup)| {
            signup
                .confirmation(&signup.requested_names, signup.name())
                .to_json()
        })
        .collect()
}

/// The rows of `signups`: subscriptions, consent events, tokens and
/// outbox rows; `data` is [`confirmation_data`] of the same signups.
fn signup_rows<'a>(
    signups: &'a [(i64, &'a Prepared<'a>)],
    data: &'a [String],
    now: i64,
) -> [InsertRows<'a>; 4] {
    let expires_at = now + i64::from(CONFIRMATION_TOKEN_LIFETIME_HOURS) * 3_600_000;
    let mut subscriptions = InsertRows::new(
        "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, \
         updated_at) VALUES ",
        "(#, #, 'pending', #, #)",
    );
    let mut consents = InsertRows::new(
        "INSERT INTO consent_events (subscriber_id, kind, source, ip, user_agent, detail, \
         at) VALUES ",
        "(#, #, #, #, #, #, #)",
    );
    let mut tokens = InsertRows::new(
        "INSERT INTO confirmation_tokens (token_hash, subscriber_id, created_at, \
         expires_at, newsletter_ids) VALUES ",
        "(#, #, #, #, #)",
    );
    let mut mails = Vec::with_capacity(signups.len());
    for ((id, signup), data) in signups.iter().zip(data) {
        let id = *id;
        for newsletter in &signup.newsletters {
            subscriptions.push(&[
                Value::Int(id),
                Value::Int(newsletter.id),
                Value::Int(now),
                Value::Int(now),
            ]);
        }
        let client = &signup.request.client;
        consents.push(&[
            Value::Int(id),
            Value::Text(ConsentKind::Signup.as_str()),
            Value::Text(signup.request.source.as_str()),
            Value::MaybeText(client.ip.as_deref()),
            Value::MaybeText(client.user_agent.as_deref()),
            Value::Text(&signup.requested_slugs),
            Value::Int(now),
        ]);
        tokens.push(&[
            Value::Text(&signup.token_hash),
            Value::Int(id),
            Value::Int(now),
            Value::Int(expires_at),
            Value::Text(&signup.newsletter_ids),
        ]);
        mails.push(super::confirmation_mail(
            id,
            signup.request.email.as_str(),
            data,
        ));
    }
    let mails = crate::store::outbox::one_off_rows(&mails, now);
    [subscriptions, consents, tokens, mails]
}

/// How many of `signups` each newsletter got, by newsletter id.
fn signups_per_newsletter(signups: &[(i64, &Prepared<'_>)]) -> Vec<(i64, i64)> {
    let mut per_newsletter: Vec<(i64, i64)> = Vec::new();
    for newsletter_id in signups
        .iter()
        .flat_map(|(_, signup)| signup.newsletters.iter().map(|n| n.id))
    {
        match per_newsletter
            .iter_mut()
            .find(|(id, _)| *id == newsletter_id)
        {
            Some((_, count)) => *count += 1,
            None => per_newsletter.push((newsletter_id, 1)),
        }
    }
    per_newsletter.sort_unstable();
    per_newsletter
}
