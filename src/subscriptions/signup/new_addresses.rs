//! The writes of a group of signups for addresses seen for the first time,
//! the common case: the subscribers in a multi-row insert, then their
//! subscriptions, consent events, tokens and confirmation emails (one
//! round trip for the four, see [`rows::insert_together`]), and each
//! newsletter's daily counter one update for the whole group. A new
//! address needs none of the reads of a known one: it has no past, so its
//! subscriptions are exactly the ones asked for and its confirmation email
//! goes out now.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::writer::Prepared;
use crate::delivery::outbox;
use crate::store::rows::{self, InsertRows, Value};
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
    for chunk in rows::chunks(conn, signups) {
        let size = chunk.len();
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
    let expires_at = now + i64::from(CONFIRMATION_TOKEN_LIFETIME_HOURS) * 3_600_000;
    for chunk in rows::chunks(conn, signups) {
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
             expires_at) VALUES ",
            "(#, #, #, #)",
        );
        let data: Vec<String> = chunk
            .iter()
            .map(|(_, signup)| {
                signup
                    .confirmation(&signup.requested_names, signup.name())
                    .to_json()
            })
            .collect();
        let mut mails = Vec::with_capacity(chunk.len());
        for ((id, signup), data) in chunk.iter().zip(&data) {
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
            ]);
            mails.push(super::confirmation_mail(
                id,
                signup.request.email.as_str(),
                data,
            ));
        }
        let mails = outbox::one_off_rows(&mails, now);
        rows::insert_together(conn, &[&subscriptions, &consents, &tokens, &mails]).await?;
    }
    // Last, so the shared counter rows are locked for the shortest time;
    // one update per newsletter for the whole group.
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
    for (newsletter_id, count) in per_newsletter {
        count_today_by(conn, newsletter_id, DailyCounter::Signups, count).await?;
    }
    Ok(())
}
