//! Subscribers and their per-newsletter subscriptions, confirmation
//! tokens, the consent record, erased-address hashes and the daily
//! counters: the rows, and the statements, the same on both databases,
//! behind [`Subscribers`] (on the pool, or in a transaction). The rules of
//! signing up, confirming, unsubscribing and erasing are the
//! `subscriptions` module's; the store keeps the denormalised counts
//! (`newsletters.active_subscribers`) right as statuses change.

use std::collections::HashSet;
use std::fmt;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::handle::On;
use super::{Store, StoreError, WriteTx, now_ms};

/// Where a subscriber stands: waiting for their confirmation, receiving
/// mail, gone, or unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    Pending,
    Active,
    Unsubscribed,
    Bounced,
}

impl SubscriberStatus {
    pub const ALL: [SubscriberStatus; 4] = [
        SubscriberStatus::Pending,
        SubscriberStatus::Active,
        SubscriberStatus::Unsubscribed,
        SubscriberStatus::Bounced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Active => "active",
            SubscriberStatus::Unsubscribed => "unsubscribed",
            SubscriberStatus::Bounced => "bounced",
        }
    }

    pub fn parse(raw: &str) -> Option<SubscriberStatus> {
        SubscriberStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Pending,
    Active,
    Unsubscribed,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(raw: &str) -> Option<SubscriptionStatus> {
        [
            SubscriptionStatus::Pending,
            SubscriptionStatus::Active,
            SubscriptionStatus::Unsubscribed,
        ]
        .into_iter()
        .find(|status| status.as_str() == raw)
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn decode_error(column: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unknown status {raw:?}").into(),
    }
}

/// Milliseconds in a day: `daily_stats.day` is the UTC midnight of the day,
/// in Unix milliseconds like every other time in the database.
const DAY_MS: i64 = 86_400_000;

/// What a request says about where it came from, for the consent record.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Where a consent event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSource {
    /// The hosted or embedded form.
    Form,
    /// `POST /api/subscriptions`.
    Api,
    /// `gazette subscribers import`.
    Import,
    /// A confirmation or unsubscribe page.
    Link,
    /// The RFC 8058 one-click POST from a mail client.
    OneClick,
    /// The preferences page.
    Preferences,
}

impl ConsentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Form => "form",
            ConsentSource::Api => "api",
            ConsentSource::Import => "import",
            ConsentSource::Link => "link",
            ConsentSource::OneClick => "one_click",
            ConsentSource::Preferences => "preferences",
        }
    }
}

/// What happened, in the consent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    Signup,
    Confirm,
    Unsubscribe,
    /// Newsletters chosen or dropped on the preferences page.
    Preferences,
    Pause,
    Resume,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Signup => "signup",
            ConsentKind::Confirm => "confirm",
            ConsentKind::Unsubscribe => "unsubscribe",
            ConsentKind::Preferences => "preferences",
            ConsentKind::Pause => "pause",
            ConsentKind::Resume => "resume",
        }
    }
}

/// The daily counters this module maintains.
#[derive(Debug, Clone, Copy)]
pub enum DailyCounter {
    Signups,
    Confirmations,
    Unsubscribes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub email_key: String,
    pub name: Option<String>,
    pub locale: String,
    pub status: SubscriberStatus,
    pub paused: bool,
    pub last_confirmation_sent_at: Option<i64>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

const SUBSCRIBER_COLUMNS: &str = "id, email, email_key, name, locale, status, paused, \
     last_confirmation_sent_at, created_at, confirmed_at";

impl Subscriber {
    fn from_row(row: &AnyRow) -> Result<Subscriber, sqlx::Error> {
        Ok(Subscriber {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            email_key: row.try_get("email_key")?,
            name: row.try_get("name")?,
            locale: row.try_get("locale")?,
            status: {
                let raw: String = row.try_get("status")?;
                SubscriberStatus::parse(&raw).ok_or_else(|| decode_error("status", &raw))?
            },
            paused: row.try_get::<i64, _>("paused")? != 0,
            last_confirmation_sent_at: row.try_get("last_confirmation_sent_at")?,
            created_at: row.try_get("created_at")?,
            confirmed_at: row.try_get("confirmed_at")?,
        })
    }
}

/// One subscription of a subscriber, with its newsletter's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub newsletter_id: i64,
    pub slug: String,
    pub name: String,
    pub locale: String,
    pub status: SubscriptionStatus,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub kind: String,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub at: i64,
}

/// A stored confirmation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRow {
    pub subscriber_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Inserts the subscriber as pending, or returns the existing one untouched.
/// A write comes first so the transaction takes SQLite's write lock at once
/// (a read first could fail with SQLITE_BUSY_SNAPSHOT under concurrency) and
/// PostgreSQL locks the row against a concurrent signup of the same address.
async fn upsert_pending_subscriber(
    conn: &mut AnyConnection,
    email: &str,
    email_key: &str,
    name: Option<&str>,
    locale: &str,
) -> Result<Subscriber, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO subscribers (email, email_key, name, locale, status, paused, hard_bounces, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $5) \
         ON CONFLICT (email_key) DO UPDATE SET email_key = excluded.email_key \
         RETURNING {SUBSCRIBER_COLUMNS}"
    )))
    .bind(email)
    .bind(email_key)
    .bind(name)
    .bind(locale)
    .bind(now_ms())
    .fetch_one(conn)
    .await?;
    Subscriber::from_row(&row)
}

/// Back to pending (from unsubscribed or bounced), with the latest name.
async fn reopen_subscriber(
    conn: &mut AnyConnection,
    id: i64,
    name: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE subscribers SET status = 'pending', name = COALESCE($2, name), hard_bounces = 0, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Asks for a subscription: a new row is pending, an unsubscribed one goes
/// back to pending, a pending or active one stays. True when it became
/// pending now.
async fn request_subscription(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    newsletter_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at) \
         VALUES ($1, $2, 'pending', $3, $3) \
         ON CONFLICT (subscriber_id, newsletter_id) DO UPDATE \
         SET status = 'pending', updated_at = excluded.updated_at \
         WHERE subscriptions.status = 'unsubscribed'",
    )
    .bind(subscriber_id)
    .bind(newsletter_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The subscriber's subscriptions in one status (all when `status` is None).
async fn subscriptions_of(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    status: Option<SubscriptionStatus>,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.newsletter_id, n.slug, n.name, n.locale, s.status, s.created_at \
         FROM subscriptions s JOIN newsletters n ON n.id = s.newsletter_id \
         WHERE s.subscriber_id = $1 AND ($2 IS NULL OR s.status = $2) ORDER BY n.name",
    )
    .bind(subscriber_id)
    .bind(status.map(SubscriptionStatus::as_str))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SubscriptionRow {
                newsletter_id: row.try_get("newsletter_id")?,
                slug: row.try_get("slug")?,
                name: row.try_get("name")?,
                locale: row.try_get("locale")?,
                status: {
                    let raw: String = row.try_get("status")?;
                    SubscriptionStatus::parse(&raw).ok_or_else(|| decode_error("status", &raw))?
                },
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// A confirmation token for the newsletters `newsletter_ids` (as
/// `token::id_list` writes them): the ones its email names.
async fn insert_confirmation_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    subscriber_id: i64,
    lifetime_hours: u32,
    newsletter_ids: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO confirmation_tokens (token_hash, subscriber_id, created_at, expires_at, \
         newsletter_ids) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(subscriber_id)
    .bind(now)
    .bind(now + i64::from(lifetime_hours) * 3_600_000)
    .bind(newsletter_ids)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE subscribers SET last_confirmation_sent_at = $2 WHERE id = $1")
        .bind(subscriber_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a valid, unused token used; returns its subscriber and the
/// newsletters it names (`None` for a token older than that list). `None`
/// when the token is unknown, used or expired.
async fn use_confirmation_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<(i64, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE confirmation_tokens SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING subscriber_id, newsletter_ids",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(conn)
    .await
}

async fn token_by_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT subscriber_id, expires_at, used_at FROM confirmation_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(TokenRow {
            subscriber_id: row.try_get("subscriber_id")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
        })
    })
    .transpose()
}

async fn subscriber_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<Subscriber>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(Subscriber::from_row).transpose()
}

async fn set_subscriber_status(
    conn: &mut AnyConnection,
    id: i64,
    status: SubscriberStatus,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let confirmed_at = (status == SubscriberStatus::Active).then_some(now);
    sqlx::query(
        "UPDATE subscribers SET status = $2, confirmed_at = COALESCE($3, confirmed_at), \
         hard_bounces = CASE WHEN $2 = 'active' THEN 0 ELSE hard_bounces END, updated_at = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(confirmed_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A write that changes nothing visible, so a transaction that reads next
/// already holds SQLite's write lock (a read first could fail with
/// SQLITE_BUSY_SNAPSHOT when another writer commits in between).
async fn touch_subscriber(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscribers SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

async fn set_paused(conn: &mut AnyConnection, id: i64, paused: bool) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscribers SET paused = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(i64::from(paused))
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves one subscription to `status`; keeps `newsletters.active_subscribers`
/// right. True when the status changed.
async fn set_subscription_status(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    newsletter_id: i64,
    from: SubscriptionStatus,
    to: SubscriptionStatus,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE subscriptions SET status = $4, updated_at = $5 \
         WHERE subscriber_id = $1 AND newsletter_id = $2 AND status = $3",
    )
    .bind(subscriber_id)
    .bind(newsletter_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    let delta = match (from, to) {
        (SubscriptionStatus::Active, SubscriptionStatus::Active) => 0,
        (_, SubscriptionStatus::Active) => 1,
        (SubscriptionStatus::Active, _) => -1,
        _ => 0,
    };
    if changed && delta != 0 {
        adjust_active_count(conn, newsletter_id, delta).await?;
    }
    Ok(changed)
}

async fn adjust_active_count(
    conn: &mut AnyConnection,
    newsletter_id: i64,
    delta: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE newsletters SET active_subscribers = active_subscribers + $2 WHERE id = $1",
    )
    .bind(newsletter_id)
    .bind(delta)
    .execute(conn)
    .await?;
    Ok(())
}

async fn record_consent(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    kind: ConsentKind,
    source: ConsentSource,
    client: &ClientMeta,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consent_events (subscriber_id, kind, source, ip, user_agent, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(subscriber_id)
    .bind(kind.as_str())
    .bind(source.as_str())
    .bind(client.ip.as_deref())
    .bind(client.user_agent.as_deref())
    .bind(detail)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

async fn consent_events_of(
    conn: &mut AnyConnection,
    subscriber_id: i64,
) -> Result<Vec<ConsentEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, source, ip, user_agent, detail, at FROM consent_events \
         WHERE subscriber_id = $1 ORDER BY at, id",
    )
    .bind(subscriber_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ConsentEvent {
                kind: row.try_get("kind")?,
                source: row.try_get("source")?,
                ip: row.try_get("ip")?,
                user_agent: row.try_get("user_agent")?,
                detail: row.try_get("detail")?,
                at: row.try_get("at")?,
            })
        })
        .collect()
}

/// Adds one to today's counter of a newsletter.
async fn count_today(
    conn: &mut AnyConnection,
    newsletter_id: i64,
    counter: DailyCounter,
) -> Result<(), sqlx::Error> {
    count_today_by(conn, newsletter_id, counter, 1).await
}

/// Adds `amount` to today's counter of a newsletter (a group of signups
/// counts once).
pub(crate) async fn count_today_by(
    conn: &mut AnyConnection,
    newsletter_id: i64,
    counter: DailyCounter,
    amount: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(counter.upsert())
        .bind(today())
        .bind(newsletter_id)
        .bind(amount)
        .bind(counter_shard())
        .execute(conn)
        .await?;
    Ok(())
}

/// [`count_today_by`] on SQLite's direct writer.
pub(crate) fn count_today_by_direct(
    conn: &rusqlite::Connection,
    newsletter_id: i64,
    counter: DailyCounter,
    amount: i64,
) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(counter.upsert())?.execute((
        today(),
        newsletter_id,
        amount,
        counter_shard(),
    ))?;
    Ok(())
}

/// Which of a day's 16 rows a write adds to (PostgreSQL migration 0011):
/// concurrent transactions mostly pick different rows, so they do not
/// wait for each other's commit. Readers sum the shards.
pub(crate) fn counter_shard() -> i64 {
    rand::random_range(0..16)
}

/// The start of today (UTC), the key of the daily counters.
pub(crate) fn today() -> i64 {
    let now = now_ms();
    now - now.rem_euclid(DAY_MS)
}

impl DailyCounter {
    /// Adds `$3` to the counter of day `$1` and newsletter `$2`, in
    /// shard `$4` ([`counter_shard`]).
    fn upsert(self) -> &'static str {
        match self {
            DailyCounter::Signups => {
                "INSERT INTO daily_stats (day, newsletter_id, signups, shard) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, newsletter_id, shard) DO UPDATE \
                 SET signups = daily_stats.signups + excluded.signups"
            }
            DailyCounter::Confirmations => {
                "INSERT INTO daily_stats (day, newsletter_id, confirmations, shard) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, newsletter_id, shard) DO UPDATE \
                 SET confirmations = daily_stats.confirmations + excluded.confirmations"
            }
            DailyCounter::Unsubscribes => {
                "INSERT INTO daily_stats (day, newsletter_id, unsubscribes, shard) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, newsletter_id, shard) DO UPDATE \
                 SET unsubscribes = daily_stats.unsubscribes + excluded.unsubscribes"
            }
        }
    }
}

/// Erases subscriber `id` (address key `email_key`): the row and
/// everything hanging off it (cascades), every outbox row addressed to
/// them, the active counts; keeps only `email_hash`.
async fn erase_subscriber(
    conn: &mut AnyConnection,
    id: i64,
    email_key: &str,
    email_hash: &str,
) -> Result<(), sqlx::Error> {
    for subscription in subscriptions_of(&mut *conn, id, Some(SubscriptionStatus::Active)).await? {
        adjust_active_count(&mut *conn, subscription.newsletter_id, -1).await?;
    }
    sqlx::query(
        "INSERT INTO erased_addresses (email_hash, erased_at) VALUES ($1, $2) \
         ON CONFLICT (email_hash) DO NOTHING",
    )
    .bind(email_hash)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM deliveries WHERE subscriber_id = $1 OR LOWER(recipient) = $2")
        .bind(id)
        .bind(email_key)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM subscribers WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Cancels digests not yet sent to a subscriber (all newsletters, or one),
/// so an unsubscribe takes effect even in the middle of a send.
async fn cancel_pending_digests(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    newsletter_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE deliveries SET status = 'cancelled' \
         WHERE subscriber_id = $1 AND status = 'pending' AND kind = 'digest' \
         AND ($2 IS NULL OR issue_id IN (SELECT id FROM issues WHERE newsletter_id = $2))",
    )
    .bind(subscriber_id)
    .bind(newsletter_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Which of `hashes` are stored erased-address hashes.
async fn erased_hashes(
    conn: &mut AnyConnection,
    hashes: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut found = HashSet::new();
    for chunk in hashes.chunks(300) {
        let placeholders = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql =
            format!("SELECT email_hash FROM erased_addresses WHERE email_hash IN ({placeholders})");
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for hash in chunk {
            query = query.bind(hash.clone());
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

impl Store {
    pub fn subscribers(&self) -> Subscribers<'_> {
        Subscribers {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn subscribers(&mut self) -> Subscribers<'_> {
        Subscribers { on: On::Tx(self) }
    }
}

/// The face on a bare connection, for the signup writer until signups are
/// written by the store.
pub(crate) fn subscribers_on(conn: &mut AnyConnection) -> Subscribers<'_> {
    Subscribers { on: On::Tx(conn) }
}

/// Subscribers, their subscriptions, tokens and consent record; the time
/// of every write is now.
pub struct Subscribers<'a> {
    on: On<'a>,
}

impl Subscribers<'_> {
    pub async fn by_id(&mut self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(subscriber_by_id(&mut conn, id).await?)
    }

    /// Inserts the subscriber as pending, or returns the existing one
    /// untouched. A write comes first so the transaction takes SQLite's
    /// write lock at once and PostgreSQL locks the row against a
    /// concurrent signup of the same address.
    pub async fn upsert_pending(
        &mut self,
        email: &str,
        email_key: &str,
        name: Option<&str>,
        locale: &str,
    ) -> Result<Subscriber, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(upsert_pending_subscriber(&mut conn, email, email_key, name, locale).await?)
    }

    /// Back to pending (from unsubscribed or bounced), with the latest name.
    pub async fn reopen(&mut self, id: i64, name: Option<&str>) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(reopen_subscriber(&mut conn, id, name).await?)
    }

    /// A write that changes nothing visible, so a transaction that reads
    /// next already holds SQLite's write lock.
    pub async fn touch(&mut self, id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(touch_subscriber(&mut conn, id).await?)
    }

    /// Sets the subscriber's status; `active` also sets `confirmed_at` and
    /// forgets their hard bounces.
    pub async fn set_status(
        &mut self,
        id: i64,
        status: SubscriberStatus,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(set_subscriber_status(&mut conn, id, status).await?)
    }

    pub async fn set_paused(&mut self, id: i64, paused: bool) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(set_paused(&mut conn, id, paused).await?)
    }

    /// Asks for a subscription: a new row is pending, an unsubscribed one
    /// goes back to pending, a pending or active one stays. True when it
    /// became pending now.
    pub async fn request_subscription(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(request_subscription(&mut conn, subscriber_id, newsletter_id).await?)
    }

    /// Where the subscriber's subscription to the newsletter stands, if
    /// they have one.
    pub async fn subscription_status(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
    ) -> Result<Option<SubscriptionStatus>, StoreError> {
        let mut conn = self.on.conn().await?;
        let raw: Option<String> = sqlx::query_scalar(
            "SELECT status FROM subscriptions WHERE subscriber_id = $1 AND newsletter_id = $2",
        )
        .bind(subscriber_id)
        .bind(newsletter_id)
        .fetch_optional(&mut *conn)
        .await?;
        raw.map(|raw| {
            SubscriptionStatus::parse(&raw)
                .ok_or_else(|| StoreError::Sql(decode_error("status", &raw)))
        })
        .transpose()
    }

    /// Makes the subscriber active (unless they are), confirmed at
    /// `confirmed_at` when they never were.
    pub async fn activate_as_of(&mut self, id: i64, confirmed_at: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE subscribers SET status = 'active', confirmed_at = COALESCE(confirmed_at, $2), \
             updated_at = $3 WHERE id = $1 AND status <> 'active'",
        )
        .bind(id)
        .bind(confirmed_at)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The subscriber's subscriptions in one status (all when `None`), by
    /// newsletter name.
    pub async fn subscriptions_of(
        &mut self,
        subscriber_id: i64,
        status: Option<SubscriptionStatus>,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(subscriptions_of(&mut conn, subscriber_id, status).await?)
    }

    /// Moves one subscription from `from` to `to`, keeping the
    /// newsletter's count of active subscribers right; true when it moved.
    pub async fn set_subscription_status(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(set_subscription_status(&mut conn, subscriber_id, newsletter_id, from, to).await?)
    }

    /// A confirmation token for the newsletters `newsletter_ids` (as
    /// `subscriptions::token::id_list` writes them), valid
    /// `lifetime_hours`; the subscriber's last confirmation is now.
    pub async fn insert_confirmation_token(
        &mut self,
        token_hash: &str,
        subscriber_id: i64,
        lifetime_hours: u32,
        newsletter_ids: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(insert_confirmation_token(
            &mut conn,
            token_hash,
            subscriber_id,
            lifetime_hours,
            newsletter_ids,
        )
        .await?)
    }

    /// Marks a valid, unused token used; its subscriber and the
    /// newsletters it names (`None` for a token older than that list).
    /// `None` when the token is unknown, used or expired.
    pub async fn use_confirmation_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(use_confirmation_token(&mut conn, token_hash).await?)
    }

    pub async fn token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<TokenRow>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(token_by_hash(&mut conn, token_hash).await?)
    }

    pub async fn record_consent(
        &mut self,
        subscriber_id: i64,
        kind: ConsentKind,
        source: ConsentSource,
        client: &ClientMeta,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(record_consent(&mut conn, subscriber_id, kind, source, client, detail).await?)
    }

    /// The subscriber's consent record, oldest first.
    pub async fn consent_events_of(
        &mut self,
        subscriber_id: i64,
    ) -> Result<Vec<ConsentEvent>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(consent_events_of(&mut conn, subscriber_id).await?)
    }

    /// Adds one to today's counter of a newsletter.
    pub async fn count_today(
        &mut self,
        newsletter_id: i64,
        counter: DailyCounter,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(count_today(&mut conn, newsletter_id, counter).await?)
    }

    /// Cancels digests not yet sent to a subscriber (all newsletters, or
    /// one), so an unsubscribe takes effect even in the middle of a send.
    pub async fn cancel_pending_digests(
        &mut self,
        subscriber_id: i64,
        newsletter_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(cancel_pending_digests(&mut conn, subscriber_id, newsletter_id).await?)
    }

    /// Erases the subscriber (address key `email_key`) and everything of
    /// theirs, keeping only `email_hash`.
    pub async fn erase(
        &mut self,
        id: i64,
        email_key: &str,
        email_hash: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(erase_subscriber(&mut conn, id, email_key, email_hash).await?)
    }

    /// Which of `hashes` are hashes of erased addresses.
    pub async fn erased_hashes(
        &mut self,
        hashes: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(erased_hashes(&mut conn, hashes).await?)
    }
}
