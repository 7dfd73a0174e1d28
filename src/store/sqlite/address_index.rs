//! SQLite's index of addresses for the admin's search (FTS5 trigrams,
//! migrations 0006 and 0010) takes new subscribers in batches, here, not
//! in the transaction that adds them: writing FTS5 a few rows at a time
//! cost a signup group about a fifth of its turn at the write lock, where
//! a batch of thousands costs each row a fraction of that. The search
//! reads the subscribers not indexed yet with a plain LIKE
//! (`store::subscribers::search`), so an address is found at once either
//! way.
//!
//! PostgreSQL's trigram index is kept by PostgreSQL itself; nothing runs
//! there.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::direct::{DirectError, DirectWriter};
use crate::store::{Store, StoreError};

/// How often the index is brought up to date.
const TICK: Duration = Duration::from_millis(200);
/// Subscribers added to the index in one transaction: big enough that a
/// row costs a fraction of what it would in its signup's transaction,
/// small enough to hold the write lock for a few milliseconds, which
/// every signup waiting meanwhile adds to its answer time.
pub const BATCH: i64 = 1_000;

impl Store {
    /// Adds up to `batch` subscribers not in SQLite's address index yet,
    /// in id order; returns how many. Nothing on PostgreSQL.
    pub async fn index_new_addresses(&self, batch: i64) -> Result<usize, StoreError> {
        let Some(direct) = self.direct() else {
            return Ok(0);
        };
        Ok(index_batch(direct, batch).await?)
    }

    /// Keeps SQLite's address index up to date until `shutdown`: every
    /// [`TICK`], and at once again after a full batch (an import to catch
    /// up with). Returns at once on PostgreSQL.
    pub async fn keep_address_index(self, shutdown: CancellationToken) {
        if self.direct().is_none() {
            return;
        }
        loop {
            let added = match self.index_new_addresses(BATCH).await {
                Ok(added) => added,
                Err(error) => {
                    tracing::warn!(%error, "the address index could not be brought up to date");
                    0
                }
            };
            if added as i64 >= BATCH {
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

async fn index_batch(direct: &DirectWriter, batch: i64) -> Result<usize, DirectError> {
    direct
        .write(move |tx| {
            let from: i64 = tx
                .prepare_cached("SELECT indexed_up_to FROM address_index_state")?
                .query_row([], |row| row.get(0))?;
            let to: Option<i64> = tx
                .prepare_cached(
                    "SELECT MAX(id) FROM (SELECT id FROM subscribers WHERE id > $1 \
                     ORDER BY id LIMIT $2)",
                )?
                .query_row((from, batch), |row| row.get(0))?;
            let Some(to) = to else {
                return Ok(0);
            };
            let added = tx
                .prepare_cached(
                    "INSERT INTO subscriber_address_trigrams (rowid, email_key) \
                     SELECT id, email_key FROM subscribers WHERE id > $1 AND id <= $2",
                )?
                .execute((from, to))?;
            tx.prepare_cached("UPDATE address_index_state SET indexed_up_to = $1")?
                .execute([to])?;
            Ok(added)
        })
        .await
}
