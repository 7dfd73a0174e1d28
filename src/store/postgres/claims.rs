//! PostgreSQL's claims: the chosen rows locked with `FOR UPDATE SKIP
//! LOCKED`, so instances sharing a database never claim the same row; one
//! statement, and the digest rows' recipients are read in it: the claim
//! and the read stand or fall together.
//!
//! The claim is planned with sorts disabled, so it always walks the
//! partial index `deliveries_claim_*` in id order and stops at the limit.
//! Left to its estimates, the planner sorts every unfinished row instead
//! whenever `deliveries` has no statistics yet (a fresh install's first
//! large send, or a server with autovacuum off): about 100 ms a claim at
//! 100,000 unfinished rows, against a few. JIT is turned off with it: a
//! disabled sort still costed into a plan (the counters trigger must sort)
//! crosses `jit_above_cost` and compiles for hundreds of milliseconds.

use sqlx::Row;

use crate::store::outbox::claims::{ClaimedDelivery, Due, RECIPIENT_JOINS, WANTED, claim_sql};
use crate::store::{Store, StoreError};

pub(crate) async fn claim(
    store: &Store,
    due: &Due<'_>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let claim = claim_sql(due.digest, "", "FOR UPDATE SKIP LOCKED");
    let sql = if due.digest {
        format!(
            "WITH claimed AS ({claim}) \
             SELECT d.*, s.name AS subscriber_name, {WANTED} AS wanted \
             FROM claimed d {RECIPIENT_JOINS}"
        )
    } else {
        claim
    };
    let mut tx = store.pool().begin().await?;
    sqlx::raw_sql("SET LOCAL enable_sort = off; SET LOCAL jit = off")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(due.lease_until)
        .bind(due.instance)
        .bind(due.now)
        .bind(due.limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let claimed = rows
        .iter()
        .map(|row| {
            let mut claimed = ClaimedDelivery::from_row(row)?;
            if due.digest {
                claimed.subscriber_name = row.try_get("subscriber_name")?;
                claimed.still_subscribed = row.try_get::<i64, _>("wanted")? == 1;
            }
            Ok(claimed)
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(claimed)
}
