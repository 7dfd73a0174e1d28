//! The writes of a group of signups for addresses seen for the first time,
//! the common case: each table gets its rows in a few multi-row statements
//! (subscribers, subscriptions, consent events, tokens, the outbox) and
//! each newsletter's daily counter one update for the whole group. A new
//! address needs none of the reads of a known one: it has no past, so its
//! subscriptions are exactly the ones asked for and its confirmation email
//! goes out now.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::writer::Prepared;
use crate::delivery::outbox;
use crate::store::rows;
use crate::subscriptions::store::{ConsentKind, DailyCounter, count_today_by};
use crate::subscriptions::token::CONFIRMATION_TOKEN_LIFETIME_HOURS;

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
    let mut rest = signups;
    for size in rows::chunk_sizes(conn, signups.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = format!(
            "INSERT INTO subscribers (email, email_key, name, locale, status, paused, \
             hard_bounces, created_at, updated_at, last_confirmation_sent_at) VALUES {} \
             ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key",
            rows::values("(#, #, #, #, 'pending', 0, 0, $1, $1, $1)", size, 2)
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

/// Everything else a new address's signup writes: pending subscriptions,
/// the consent event, the hashed token, the confirmation email in the
/// outbox and the daily counters. `signups` pairs each signup with its new
/// subscriber's id.
pub(super) async fn write_signups(
    conn: &mut AnyConnection,
    signups: &[(i64, &Prepared<'_>)],
    now: i64,
) -> Result<(), sqlx::Error> {
    if signups.is_empty() {
        return Ok(());
    }
    let subscriptions: Vec<(i64, i64)> = signups
        .iter()
        .flat_map(|(id, signup)| signup.newsletters.iter().map(|n| (*id, n.id)))
        .collect();
    insert_subscriptions(conn, &subscriptions, now).await?;
    record_consents(conn, signups, now).await?;
    insert_tokens(conn, signups, now).await?;
    let mails: Vec<_> = signups
        .iter()
        .map(|(id, signup)| {
            super::confirmation_mail(*id, signup.request.email.as_str(), &signup.email)
        })
        .collect();
    outbox::enqueue_many(conn, &mails).await?;
    // Last, so the shared counter rows are locked for the shortest time;
    // one update per newsletter for the whole group.
    let mut per_newsletter: Vec<(i64, i64)> = Vec::new();
    for (newsletter_id, _) in &subscriptions {
        match per_newsletter.iter_mut().find(|(id, _)| id == newsletter_id) {
            Some((_, count)) => *count += 1,
            None => per_newsletter.push((*newsletter_id, 1)),
        }
    }
    per_newsletter.sort_unstable();
    for (newsletter_id, count) in per_newsletter {
        count_today_by(conn, newsletter_id, DailyCounter::Signups, count).await?;
    }
    Ok(())
}

async fn insert_subscriptions(
    conn: &mut AnyConnection,
    subscriptions: &[(i64, i64)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut rest = subscriptions;
    for size in rows::chunk_sizes(conn, subscriptions.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = format!(
            "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, \
             updated_at) VALUES {}",
            rows::values("(#, #, 'pending', $1, $1)", size, 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for (subscriber_id, newsletter_id) in chunk {
            query = query.bind(subscriber_id).bind(newsletter_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn record_consents(
    conn: &mut AnyConnection,
    signups: &[(i64, &Prepared<'_>)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut rest = signups;
    for size in rows::chunk_sizes(conn, signups.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = format!(
            "INSERT INTO consent_events (subscriber_id, kind, source, ip, user_agent, detail, \
             at) VALUES {}",
            rows::values("(#, $2, #, #, #, #, $1)", size, 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(ConsentKind::Signup.as_str());
        for (id, signup) in chunk {
            let request = signup.request;
            query = query
                .bind(id)
                .bind(request.source.as_str())
                .bind(request.client.ip.as_deref())
                .bind(request.client.user_agent.as_deref())
                .bind(&signup.requested_slugs);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_tokens(
    conn: &mut AnyConnection,
    signups: &[(i64, &Prepared<'_>)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let expires_at = now + i64::from(CONFIRMATION_TOKEN_LIFETIME_HOURS) * 3_600_000;
    let mut rest = signups;
    for size in rows::chunk_sizes(conn, signups.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = format!(
            "INSERT INTO confirmation_tokens (token_hash, subscriber_id, created_at, \
             expires_at) VALUES {}",
            rows::values("(#, #, $1, $2)", size, 3)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(expires_at);
        for (id, signup) in chunk {
            query = query.bind(&signup.token_hash).bind(id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
