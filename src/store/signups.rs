//! Groups of signups for addresses seen for the first time, the common
//! case and the busiest write: the subscribers in a multi-row insert, then
//! their subscriptions, consent events, tokens and confirmation emails,
//! and each newsletter's daily counter once for the whole group. A new
//! address needs none of the reads of a known one: it has no past, so its
//! subscriptions are exactly the ones asked for and its confirmation email
//! goes out now. The rules (which newsletters, which token, which email)
//! are `subscriptions::signup`'s; a known address is signed up there by
//! the full rules, on the other faces.
//!
//! Three ways to write the same rows: in one call on SQLite's direct
//! writer ([`super::sqlite::signups`]), in one statement on PostgreSQL
//! ([`super::postgres::signups`]), and through sqlx in the caller's
//! transaction ([`Signups::write_new`]), the fallback when a group failed.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::outbox::{MailBody, MailKind, OneOffMail, one_off_rows};
use super::rows::{self, InsertRows, Value};
use super::subscribers::{ClientMeta, ConsentKind, ConsentSource, DailyCounter, count_today_by};
use super::{Store, StoreError, WriteTx};
use crate::store::newsletters::Newsletter;

/// The signup of an address not seen before, as it is written.
#[derive(Debug, Clone)]
pub struct NewSignup {
    pub email: String,
    pub email_key: String,
    pub name: Option<String>,
    pub locale: String,
    /// The newsletters asked for: a pending subscription to each.
    pub newsletters: Vec<i64>,
    pub source: ConsentSource,
    pub client: ClientMeta,
    /// The newsletters' slugs, for the consent record.
    pub detail: String,
    pub token_hash: String,
    /// What the token confirms, as `subscriptions::token::id_list` writes it.
    pub token_newsletters: String,
    /// What the confirmation email is rendered from.
    pub mail_data: String,
}

/// A group of [`NewSignup`]s, each address once, and what they share.
#[derive(Debug, Clone)]
pub struct NewSignups {
    pub signups: Vec<NewSignup>,
    pub now: i64,
    pub tokens_expire_at: i64,
    pub mail_kind: MailKind,
}

impl NewSignups {
    /// In the byte order of their keys, so that concurrent groups on
    /// PostgreSQL lock new keys in the same order whichever path writes
    /// them.
    pub(super) fn sort(&mut self) {
        self.signups.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    }
}

/// The new subscribers' ids by address key; an address already known was
/// left untouched and is missing.
pub type NewIds = HashMap<String, i64>;

impl Store {
    /// Writes the new addresses of a group of signups in one call: on
    /// SQLite's direct writer, on PostgreSQL in one statement in
    /// autocommit. `prepare` runs first, in the same turn, with every
    /// newsletter: it says what to write and what to give back. Nothing is
    /// written when this fails.
    pub async fn write_new_signups<T, F>(&self, prepare: F) -> Result<(T, NewIds), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&[Newsletter]) -> (T, NewSignups) + Send + 'static,
    {
        match self.direct() {
            Some(direct) => Ok(super::sqlite::signups::write(direct, prepare).await?),
            None => super::postgres::signups::write(self, prepare).await,
        }
    }
}

impl WriteTx {
    pub fn signups(&mut self) -> Signups<'_> {
        Signups { conn: self }
    }
}

/// New addresses' signups in the caller's transaction.
pub struct Signups<'a> {
    conn: &'a mut AnyConnection,
}

impl Signups<'_> {
    /// Inserts the addresses of `group` not known yet as pending
    /// subscribers, with everything else their signup writes; an address
    /// already known is left untouched (its signup follows the full rules).
    pub async fn write_new(&mut self, mut group: NewSignups) -> Result<NewIds, StoreError> {
        group.sort();
        let conn = &mut *self.conn;
        let mut ids = HashMap::with_capacity(group.signups.len());
        for chunk in rows::chunks(conn, &group.signups) {
            let sql = format!(
                "{INSERT_SUBSCRIBERS}{}{NEW_ONLY}",
                rows::values(SUBSCRIBER_ROW, chunk.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(group.now);
            for signup in chunk {
                query = query
                    .bind(signup.email.as_str())
                    .bind(signup.email_key.as_str())
                    .bind(signup.name.as_deref())
                    .bind(signup.locale.as_str());
            }
            for row in query.fetch_all(&mut *conn).await? {
                ids.insert(row.try_get("email_key")?, row.try_get("id")?);
            }
        }
        let new = with_ids(&group, &ids);
        for chunk in rows::chunks(conn, &new) {
            let [subscriptions, consents, tokens, mails] = other_rows(&group, chunk);
            rows::insert_together(conn, &[&subscriptions, &consents, &tokens, &mails]).await?;
        }
        // Last, so the shared counter rows are locked for the shortest
        // time; one update per newsletter for the whole group.
        for (newsletter_id, count) in per_newsletter(&new) {
            count_today_by(conn, newsletter_id, DailyCounter::Signups, count).await?;
        }
        Ok(ids)
    }
}

pub(super) const INSERT_SUBSCRIBERS: &str = "INSERT INTO subscribers (email, email_key, name, \
     locale, status, paused, hard_bounces, created_at, updated_at, last_confirmation_sent_at) \
     VALUES ";
/// `$1` is the time; the rest are numbered from `$2`.
const SUBSCRIBER_ROW: &str = "(#, #, #, #, 'pending', 0, 0, $1, $1, $1)";
pub(super) const NEW_ONLY: &str = " ON CONFLICT (email_key) DO NOTHING RETURNING id, email_key";

/// The signups of `group` whose address got a new subscriber, with its id.
pub(super) fn with_ids<'g>(group: &'g NewSignups, ids: &NewIds) -> Vec<(i64, &'g NewSignup)> {
    group
        .signups
        .iter()
        .filter_map(|signup| ids.get(&signup.email_key).map(|&id| (id, signup)))
        .collect()
}

/// The rows of `new` but their subscribers: subscriptions, consent events,
/// tokens and outbox rows.
pub(super) fn other_rows<'a>(
    group: &'a NewSignups,
    new: &'a [(i64, &'a NewSignup)],
) -> [InsertRows<'a>; 4] {
    let now = group.now;
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
    let mut mails = Vec::with_capacity(new.len());
    for &(id, signup) in new {
        for &newsletter_id in &signup.newsletters {
            subscriptions.push(&[
                Value::Int(id),
                Value::Int(newsletter_id),
                Value::Int(now),
                Value::Int(now),
            ]);
        }
        consents.push(&[
            Value::Int(id),
            Value::Text(ConsentKind::Signup.as_str()),
            Value::Text(signup.source.as_str()),
            Value::MaybeText(signup.client.ip.as_deref()),
            Value::MaybeText(signup.client.user_agent.as_deref()),
            Value::Text(&signup.detail),
            Value::Int(now),
        ]);
        tokens.push(&[
            Value::Text(&signup.token_hash),
            Value::Int(id),
            Value::Int(now),
            Value::Int(group.tokens_expire_at),
            Value::Text(&signup.token_newsletters),
        ]);
        mails.push(OneOffMail {
            kind: group.mail_kind,
            subscriber_id: Some(id),
            recipient: &signup.email,
            body: MailBody::Data(&signup.mail_data),
        });
    }
    let mails = one_off_rows(&mails, now);
    [subscriptions, consents, tokens, mails]
}

/// How many of `new` each newsletter got, by newsletter id.
pub(super) fn per_newsletter(new: &[(i64, &NewSignup)]) -> Vec<(i64, i64)> {
    let mut counts: Vec<(i64, i64)> = Vec::new();
    for &newsletter_id in new.iter().flat_map(|(_, signup)| &signup.newsletters) {
        match counts.iter_mut().find(|(id, _)| *id == newsletter_id) {
            Some((_, count)) => *count += 1,
            None => counts.push((newsletter_id, 1)),
        }
    }
    counts.sort_unstable();
    counts
}
