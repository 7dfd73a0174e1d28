//! PostgreSQL's claims: the chosen rows locked with `FOR UPDATE SKIP
//! LOCKED`, so instances sharing a database never claim the same row; one
//! statement, so one round trip, and the digest rows' recipients are read
//! in it: the claim and the read stand or fall together.

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
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(due.lease_until)
        .bind(due.instance)
        .bind(due.now)
        .bind(due.limit)
        .fetch_all(store.pool())
        .await?;
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
