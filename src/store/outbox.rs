//! The outbox: every email Gazette sends is a row of `deliveries`, written
//! in the same transaction as the change that causes it
//! ([`Outbox::enqueue`]), then claimed under a lease by the delivery
//! workers, and its outcome recorded in batches.
//!
//! Claiming: PostgreSQL locks the chosen rows with `FOR UPDATE SKIP LOCKED`,
//! so instances sharing a database never claim the same row; SQLite has one
//! writer at a time, so a conditional `UPDATE … WHERE id IN (SELECT … LIMIT
//! n) RETURNING` is already exclusive. A row is due when it is `pending` and
//! its `next_attempt_at` has come, or `sending` with an expired lease (its
//! sender died). One-off mail (confirmations above all) is claimed before
//! digest rows, so a signup does not wait behind a 100,000-row issue.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::handle::On;
use super::rows::{self, Value};
use super::{Backend, Store, StoreError, WriteTx};

/// A kind of outbox row (`deliveries.kind`), named by the module that owns
/// that mail (`issues::mail::DIGEST`, `subscriptions::signup::CONFIRMATION`
/// …), which also registers its renderer with delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailKind(&'static str);

impl MailKind {
    pub const fn new(name: &'static str) -> MailKind {
        MailKind(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// A message for one recipient (everything but digests, which are
/// rendered from their issue at send time).
#[derive(Debug, Clone)]
pub struct OneOffMail<'a> {
    pub kind: MailKind,
    pub subscriber_id: Option<i64>,
    pub recipient: &'a str,
    pub body: MailBody<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum MailBody<'a> {
    /// Rendered in full when enqueued.
    Rendered {
        subject: &'a str,
        html: &'a str,
        text: &'a str,
    },
    /// Rendered by the sender from this record (a confirmation's data in
    /// JSON): a small row for the commonest mail.
    Data(&'a str),
}

const INSERT_ONE_OFF: &str = "INSERT INTO deliveries (kind, subscriber_id, recipient, subject, \
     html_body, text_body, template_data, status, attempts, next_attempt_at, created_at) VALUES ";
const ONE_OFF_ROW: &str = "(#, #, #, #, #, #, #, 'pending', 0, #, #)";

/// The outbox rows of many messages, to be written with other rows of the
/// same transaction by [`rows::insert_together`] (a group of signups).
pub(crate) fn one_off_rows<'a>(mails: &[OneOffMail<'a>], now: i64) -> rows::InsertRows<'a> {
    let mut rows = rows::InsertRows::new(INSERT_ONE_OFF, ONE_OFF_ROW);
    for mail in mails {
        let (subject, html, text, data) = match mail.body {
            MailBody::Rendered {
                subject,
                html,
                text,
            } => (Some(subject), Some(html), Some(text), None),
            MailBody::Data(data) => (None, None, None, Some(data)),
        };
        rows.push(&[
            Value::Text(mail.kind.as_str()),
            Value::MaybeInt(mail.subscriber_id),
            Value::Text(mail.recipient),
            Value::MaybeText(subject),
            Value::MaybeText(html),
            Value::MaybeText(text),
            Value::MaybeText(data),
            Value::Int(now),
            Value::Int(now),
        ]);
    }
    rows
}

/// Adds one message to the outbox on `conn` (the caller's transaction);
/// its delivery id. For the signup paths that hold a bare connection until
/// they are written by the store; everyone else uses [`Outbox::enqueue`].
pub(crate) async fn enqueue_on(
    conn: &mut AnyConnection,
    mail: &OneOffMail<'_>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    one_off_rows(std::slice::from_ref(mail), now)
        .insert_returning_id(conn)
        .await
}

/// A row this instance holds a lease on.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub kind: String,
    pub issue_id: Option<i64>,
    pub subscriber_id: Option<i64>,
    pub recipient: String,
    pub subject: Option<String>,
    pub html_body: Option<String>,
    pub text_body: Option<String>,
    /// What the sender renders the message from, when it was not stored
    /// rendered (confirmations).
    pub template_data: Option<String>,
    /// Attempts before this one.
    pub attempts: i64,
    /// For digest rows: the subscriber's name and whether they still want
    /// this newsletter (read with the claim).
    pub subscriber_name: Option<String>,
    pub still_subscribed: bool,
}

impl ClaimedDelivery {
    fn from_row(row: &AnyRow) -> Result<ClaimedDelivery, sqlx::Error> {
        Ok(ClaimedDelivery {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            issue_id: row.try_get("issue_id")?,
            subscriber_id: row.try_get("subscriber_id")?,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            html_body: row.try_get("html_body")?,
            text_body: row.try_get("text_body")?,
            template_data: row.try_get("template_data")?,
            attempts: row.try_get("attempts")?,
            subscriber_name: None,
            still_subscribed: true,
        })
    }

    /// [`ClaimedDelivery::from_row`] for a row read by rusqlite.
    fn from_direct_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClaimedDelivery> {
        Ok(ClaimedDelivery {
            id: row.get("id")?,
            kind: row.get("kind")?,
            issue_id: row.get("issue_id")?,
            subscriber_id: row.get("subscriber_id")?,
            recipient: row.get("recipient")?,
            subject: row.get("subject")?,
            html_body: row.get("html_body")?,
            text_body: row.get("text_body")?,
            template_data: row.get("template_data")?,
            attempts: row.get("attempts")?,
            subscriber_name: None,
            still_subscribed: true,
        })
    }

    pub fn is_digest(&self) -> bool {
        self.kind == "digest"
    }
}

/// What happened to a claimed row.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        id: i64,
    },
    /// Back to `pending` until `next_attempt_at`.
    Retry {
        id: i64,
        next_attempt_at: i64,
        error: String,
    },
    /// Given up: too many attempts, or a message that cannot be built.
    Failed {
        id: i64,
        error: String,
    },
    /// A 5xx reply: failed, and a hard bounce for the subscriber.
    Bounced {
        id: i64,
        subscriber_id: Option<i64>,
        error: String,
    },
    /// Not sent: the subscriber left or bounced before their turn.
    Cancelled {
        id: i64,
        reason: String,
    },
}

/// An issue's rows by status; `retrying` counts pending rows that already
/// failed at least once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryProgress {
    pub total: i64,
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub retrying: i64,
}

const CLAIMED_COLUMNS: &str = "id, kind, issue_id, subscriber_id, recipient, subject, html_body, \
     text_body, template_data, attempts";

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl WriteTx {
    pub fn outbox(&mut self) -> Outbox<'_> {
        Outbox { on: On::Tx(self) }
    }
}

/// The outbox as the code that queues mail sees it.
pub struct Outbox<'a> {
    on: On<'a>,
}

impl Outbox<'_> {
    /// Adds one message to the outbox; its delivery id.
    pub async fn enqueue(&mut self, mail: &OneOffMail<'_>, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(enqueue_on(&mut conn, mail, now).await?)
    }
}

impl Store {
    /// The outbox as the delivery workers see it: claims, outcomes,
    /// progress.
    pub fn deliveries(&self) -> Deliveries<'_> {
        Deliveries { store: self }
    }

    /// [`Outbox::enqueue`] outside a transaction (a test copy).
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox {
            on: On::Pool(self.pool()),
        }
    }
}

pub struct Deliveries<'a> {
    store: &'a Store,
}

impl Deliveries<'_> {
    /// Claims up to `limit` rows due at `now` for `instance` until
    /// `lease_until`, one-off mail first, oldest first.
    pub async fn claim_due(
        &self,
        instance: &str,
        limit: usize,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut claimed = self
            .claim_kind(false, instance, limit, lease_until, now)
            .await?;
        if claimed.len() < limit {
            let digests = self
                .claim_kind(true, instance, limit - claimed.len(), lease_until, now)
                .await?;
            claimed.extend(digests);
        }
        Ok(claimed)
    }

    async fn claim_kind(
        &self,
        digest: bool,
        instance: &str,
        limit: usize,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let store = self.store;
        let sql = claim_sql(store.backend(), digest);
        // SQLite always has the direct writer, so its one-off claims take
        // it (the signups' own connection, one blocking call); the digest
        // claims also read their recipients, in the claim's transaction
        if let (false, Some(direct)) = (digest, store.direct()) {
            let instance = instance.to_owned();
            let mut claimed = direct
                .write(move |tx| {
                    let mut statement = tx.prepare_cached(&sql)?;
                    let rows = statement.query_map(
                        rusqlite::params![lease_until, instance, now, limit as i64],
                        ClaimedDelivery::from_direct_row,
                    )?;
                    rows.collect::<Result<Vec<_>, _>>()
                })
                .await?;
            // RETURNING gives no order guarantee; send oldest first.
            claimed.sort_by_key(|row| row.id);
            return Ok(claimed);
        }
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until)
            .bind(instance)
            .bind(now)
            .bind(limit as i64);
        let mut claimed = match store.backend() {
            // One statement, so one round trip, and the digest rows'
            // recipients are read in it: the claim and the read stand or
            // fall together.
            Backend::Postgres => query
                .fetch_all(store.pool())
                .await?
                .iter()
                .map(|row| {
                    let mut claimed = ClaimedDelivery::from_row(row)?;
                    if digest {
                        claimed.subscriber_name = row.try_get("subscriber_name")?;
                        claimed.still_subscribed = row.try_get::<i64, _>("wanted")? == 1;
                    }
                    Ok(claimed)
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?,
            Backend::Sqlite => {
                let mut tx = store.begin_write().await?;
                let mut claimed = query
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(ClaimedDelivery::from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                // In the claim's transaction: if reading the recipients
                // fails, the claim is undone, rather than leaving the batch
                // leased to nobody until its lease runs out.
                if digest && !claimed.is_empty() {
                    digest_recipients(&mut tx, &mut claimed).await?;
                }
                tx.commit().await?;
                claimed
            }
        };
        // RETURNING gives no order guarantee; send oldest first.
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    /// Writes a batch of outcomes in one transaction: sent and cancelled
    /// rows in one statement each, the rarer failures one by one.
    pub async fn record(
        &self,
        outcomes: &[Outcome],
        bounce_threshold: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        let store = self.store;
        let sent: Vec<i64> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Sent { id } => Some(*id),
                _ => None,
            })
            .collect();
        if sent.len() == outcomes.len() && sent.len() <= SENT_PER_STATEMENT {
            // The common batch, all sent: one statement in autocommit, one
            // round trip instead of three (on SQLite, fewer turns of the
            // writer taken from signups).
            match store.direct() {
                Some(direct) => {
                    direct
                        .write(move |tx| {
                            let mut statement = tx.prepare_cached(&mark_sent_sql(sent.len()))?;
                            statement.execute(rusqlite::params_from_iter(
                                std::iter::once(now).chain(sent),
                            ))
                        })
                        .await?;
                }
                None => mark_sent(&mut *store.write_alone().await?, &sent, now).await?,
            }
            return Ok(());
        }
        let mut tx = store.begin_write().await?;
        for chunk in sent.chunks(SENT_PER_STATEMENT) {
            mark_sent(&mut *tx, chunk, now).await?;
        }
        for outcome in outcomes {
            match outcome {
                Outcome::Sent { .. } => {}
                Outcome::Retry {
                    id,
                    next_attempt_at,
                    error,
                } => {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'pending', attempts = attempts + 1, \
                         next_attempt_at = $1, last_error = $2, lease_until = NULL, \
                         leased_by = NULL WHERE id = $3 AND status = 'sending'",
                    )
                    .bind(*next_attempt_at)
                    .bind(error.as_str())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                }
                Outcome::Failed { id, error } => {
                    fail(&mut tx, *id, error).await?;
                }
                Outcome::Bounced {
                    id,
                    subscriber_id,
                    error,
                } => {
                    fail(&mut tx, *id, error).await?;
                    if let Some(subscriber_id) = subscriber_id {
                        count_hard_bounce(&mut tx, *subscriber_id, bounce_threshold, now).await?;
                    }
                }
                Outcome::Cancelled { id, reason } => {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'cancelled', last_error = $1, \
                         lease_until = NULL WHERE id = $2 AND status = 'sending'",
                    )
                    .bind(reason.as_str())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives back the rows `instance` claimed but did not send (graceful
    /// shutdown), so another instance or the next start sends them at once.
    pub async fn release(&self, instance: &str) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL, leased_by = NULL \
             WHERE status = 'sending' AND leased_by = $1",
        )
        .bind(instance)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        Ok(released)
    }

    /// Rows waiting to be sent (pending or leased), for the queue gauge.
    pub async fn depth(&self) -> Result<i64, StoreError> {
        let depth: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.store.pool())
        .await?;
        Ok(depth)
    }

    /// An issue's rows by status, with the pending ones that already failed
    /// once counted again as `retrying`.
    pub async fn progress(&self, issue_id: i64) -> Result<DeliveryProgress, StoreError> {
        let rows = sqlx::query(
            "SELECT status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS retried, \
               COUNT(*) AS n FROM deliveries WHERE issue_id = $1 \
             GROUP BY status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END",
        )
        .bind(issue_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut progress = DeliveryProgress::default();
        for row in &rows {
            let status: String = row.try_get("status")?;
            let retried: i64 = row.try_get("retried")?;
            let n: i64 = row.try_get("n")?;
            progress.total += n;
            match status.as_str() {
                "pending" => {
                    progress.pending += n;
                    if retried == 1 {
                        progress.retrying += n;
                    }
                }
                "sending" => progress.sending += n,
                "sent" => progress.sent += n,
                "failed" => progress.failed += n,
                "cancelled" => progress.cancelled += n,
                _ => {}
            }
        }
        Ok(progress)
    }
}

/// The claim of up to `$4` due rows of one kind (digest or one-off mail)
/// for instance `$2` until `$1`, `$3` being now.
fn claim_sql(backend: Backend, digest: bool) -> String {
    let (kind, index) = if digest {
        ("kind = 'digest'", "deliveries_claim_digest")
    } else {
        ("kind <> 'digest'", "deliveries_claim_other")
    };
    // `status IN (…) AND kind …` matches the partial indexes of
    // migration 0002, so the scan walks only unfinished rows, in id
    // order, and stops at the limit. PostgreSQL's planner finds that
    // plan; SQLite's preferred `deliveries_due` for the OR, gathered
    // every due row and sorted them all to keep 64: with 100,000 rows
    // queued that sort was most of the sender's CPU, so SQLite is told.
    let (hint, lock) = match backend {
        Backend::Postgres => (String::new(), "FOR UPDATE SKIP LOCKED"),
        Backend::Sqlite => (format!("INDEXED BY {index}"), ""),
    };
    let claim = format!(
        "UPDATE deliveries SET status = 'sending', lease_until = $1, leased_by = $2 \
         WHERE id IN (SELECT id FROM deliveries {hint} \
           WHERE status IN ('pending', 'sending') AND {kind} \
             AND ((status = 'pending' AND next_attempt_at <= $3) \
               OR (status = 'sending' AND lease_until < $3)) \
           ORDER BY id LIMIT $4 {lock}) \
         RETURNING {CLAIMED_COLUMNS}"
    );
    match backend {
        Backend::Postgres if digest => format!(
            "WITH claimed AS ({claim}) \
             SELECT d.*, s.name AS subscriber_name, {WANTED} AS wanted \
             FROM claimed d {RECIPIENT_JOINS}"
        ),
        _ => claim,
    }
}

/// Whether a digest row's subscriber still wants its newsletter, over
/// [`RECIPIENT_JOINS`].
const WANTED: &str = "CASE WHEN s.status = 'active' AND s.paused = 0 AND x.status = 'active' \
     THEN 1 ELSE 0 END";
const RECIPIENT_JOINS: &str = "LEFT JOIN subscribers s ON s.id = d.subscriber_id \
     LEFT JOIN issues i ON i.id = d.issue_id \
     LEFT JOIN subscriptions x ON x.subscriber_id = s.id AND x.newsletter_id = i.newsletter_id";

/// Rows per `UPDATE … WHERE id IN (…)`: well under every driver's limit
/// of bound parameters.
const SENT_PER_STATEMENT: usize = 500;

/// Marks `count` rows sent: `$1` is the time, the ids follow.
fn mark_sent_sql(count: usize) -> String {
    // the bodies and data of one-off mail hold tokens (confirmation
    // links): they must not outlive the send
    format!(
        "UPDATE deliveries SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
         lease_until = NULL, html_body = NULL, text_body = NULL, template_data = NULL, \
         last_error = NULL \
         WHERE id IN ({})",
        placeholders(2, count)
    )
}

async fn mark_sent<'c, E>(executor: E, ids: &[i64], now: i64) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut query = sqlx::query(sqlx::AssertSqlSafe(mark_sent_sql(ids.len()))).bind(now);
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(executor).await?;
    Ok(())
}

async fn fail(conn: &mut sqlx::AnyConnection, id: i64, error: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = $1, \
         lease_until = NULL, html_body = NULL, text_body = NULL, template_data = NULL \
         WHERE id = $2 AND status = 'sending'",
    )
    .bind(error)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a hard bounce; at the threshold the subscriber becomes `bounced`
/// and their digest rows still waiting are cancelled.
async fn count_hard_bounce(
    conn: &mut sqlx::AnyConnection,
    subscriber_id: i64,
    threshold: u32,
    now: i64,
) -> Result<(), StoreError> {
    let bounces: Option<i64> = sqlx::query_scalar(
        "UPDATE subscribers SET hard_bounces = hard_bounces + 1, updated_at = $1 \
         WHERE id = $2 RETURNING hard_bounces",
    )
    .bind(now)
    .bind(subscriber_id)
    .fetch_optional(&mut *conn)
    .await?;
    if bounces.is_some_and(|n| n >= i64::from(threshold)) {
        sqlx::query(
            "UPDATE subscribers SET status = 'bounced', updated_at = $1 \
             WHERE id = $2 AND status <> 'bounced'",
        )
        .bind(now)
        .bind(subscriber_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', last_error = 'subscriber bounced' \
             WHERE subscriber_id = $1 AND kind = 'digest' AND status = 'pending'",
        )
        .bind(subscriber_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Fills in the name of each digest row's subscriber and whether they
/// are still active on the issue's newsletter, in one query.
async fn digest_recipients(
    conn: &mut AnyConnection,
    rows: &mut [ClaimedDelivery],
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT d.id, s.name, {WANTED} AS wanted FROM deliveries d {RECIPIENT_JOINS} \
         WHERE d.id IN ({})",
        placeholders(1, rows.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows.iter() {
        query = query.bind(row.id);
    }
    let found = query.fetch_all(&mut *conn).await?;
    let mut wanted = std::collections::HashMap::with_capacity(found.len());
    for row in &found {
        let id: i64 = row.try_get("id")?;
        let name: Option<String> = row.try_get("name")?;
        let active: i64 = row.try_get("wanted")?;
        wanted.insert(id, (name, active == 1));
    }
    for row in rows.iter_mut() {
        let (name, active) = wanted.remove(&row.id).unwrap_or((None, false));
        row.subscriber_name = name;
        row.still_subscribed = active;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A claim must walk the partial index in id order and stop at its
    /// limit; a plan that gathers and sorts every due row costs the whole
    /// queue on every claim (it did, on SQLite, until the index was named).
    #[tokio::test]
    async fn sqlite_claims_walk_the_partial_index_without_sorting_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::test_sqlite_store(&dir).await;
        store.migrate().await.unwrap();
        for (digest, index) in [
            (true, "deliveries_claim_digest"),
            (false, "deliveries_claim_other"),
        ] {
            let explained = sqlx::query(sqlx::AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {}",
                claim_sql(Backend::Sqlite, digest)
            )))
            .bind(0_i64)
            .bind("instance")
            .bind(0_i64)
            .bind(64_i64)
            .fetch_all(store.pool())
            .await
            .unwrap();
            let plan: Vec<String> = explained
                .iter()
                .map(|row| row.try_get::<String, _>("detail").unwrap())
                .collect();
            let plan = plan.join(" | ");
            assert!(plan.contains(&format!("USING INDEX {index}")), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
