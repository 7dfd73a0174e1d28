//! SQLite's claims. One writer at a time makes a conditional `UPDATE …
//! WHERE id IN (SELECT … LIMIT n) RETURNING` exclusive already. One-off
//! claims run on the direct writer (the signups' own connection, one
//! blocking call); digest claims read their recipients in the claim's
//! transaction.

use sqlx::AnyConnection;
use sqlx::Row;

use crate::store::outbox::claims::{ClaimedDelivery, Due, RECIPIENT_JOINS, WANTED, claim_sql};
use crate::store::outbox::placeholders;
use crate::store::{Store, StoreError};

/// SQLite's planner preferred `deliveries_due` for the claim's OR, gathered
/// every due row and sorted them all to keep 64: with 100,000 rows queued
/// that sort was most of the sender's CPU, so the partial index is named.
fn sql(digest: bool) -> String {
    let index = if digest {
        "deliveries_claim_digest"
    } else {
        "deliveries_claim_other"
    };
    claim_sql(digest, &format!("INDEXED BY {index}"), "")
}

pub(crate) async fn claim(
    store: &Store,
    due: &Due<'_>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let sql = sql(due.digest);
    if let (false, Some(direct)) = (due.digest, store.direct()) {
        let (instance, lease_until, now, limit) =
            (due.instance.to_owned(), due.lease_until, due.now, due.limit);
        let claimed = direct
            .write(move |tx| {
                let mut statement = tx.prepare_cached(&sql)?;
                let rows = statement.query_map(
                    rusqlite::params![lease_until, instance, now, limit],
                    ClaimedDelivery::from_direct_row,
                )?;
                rows.collect::<Result<Vec<_>, _>>()
            })
            .await?;
        return Ok(claimed);
    }
    let mut tx = store.begin_write().await?;
    let mut claimed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(due.lease_until)
        .bind(due.instance)
        .bind(due.now)
        .bind(due.limit)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(ClaimedDelivery::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    // In the claim's transaction: if reading the recipients fails, the
    // claim is undone, rather than leaving the batch leased to nobody
    // until its lease runs out.
    if due.digest && !claimed.is_empty() {
        digest_recipients(&mut tx, &mut claimed).await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Fills in the name of each digest row's subscriber and whether they
/// are still active on the newsletter, in one query.
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
                sql(digest)
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
