//! Claiming due rows under a lease, and giving back the ones not sent.
//!
//! PostgreSQL locks the chosen rows with `FOR UPDATE SKIP LOCKED`, so
//! instances sharing a database never claim the same row; SQLite has one
//! writer at a time, so a conditional `UPDATE … WHERE id IN (SELECT … LIMIT
//! n) RETURNING` is already exclusive. A row is due when it is `pending` and
//! its `next_attempt_at` has come, or `sending` with an expired lease (its
//! sender died). One-off mail (confirmations above all) is claimed before
//! digest rows, so a signup does not wait behind a 100,000-row issue.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Deliveries, placeholders};
use crate::store::{Backend, StoreError};

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
const CLAIMED_COLUMNS: &str = "id, kind, issue_id, subscriber_id, recipient, subject, html_body, \
     text_body, template_data, attempts";

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
