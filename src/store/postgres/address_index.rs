//! PostgreSQL's address index (a GIN index, migration 0006) takes each new
//! subscriber into its pending list at insert (`fastupdate`); this moves
//! the list into the index, outside the signups' transactions (see
//! `store::address_index`). An insert that finds the list full while this
//! runs leaves it to this, rather than waiting.

use sqlx::AnyPool;

/// Moves the pending list of the address index into the index; returns
/// the pages it emptied.
pub(crate) async fn clean_pending_list(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT gin_clean_pending_list('subscribers_address_trigrams'::regclass)")
        .fetch_one(pool)
        .await
}
