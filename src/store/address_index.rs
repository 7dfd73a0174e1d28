//! The admin's address search reads an index of its own on each backend
//! (migration 0006), and a background task keeps it up to date beside the
//! signups, so that the work does not fall inside a signup's transaction:
//!
//! - SQLite (FTS5 trigrams) takes new subscribers in batches and merges
//!   its segments in small steps ([`super::sqlite::address_index`]).
//! - PostgreSQL (a GIN index) adds each subscriber at insert, to the
//!   index's pending list; the task moves that list into the index
//!   ([`super::postgres::address_index`]). Left to the inserts, the insert
//!   that found the list full (4 MB, every second or two under a signup
//!   flood) moved all of it, for 100 to 250 ms, while its whole group of
//!   signups waited.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Store, StoreError, postgres, sqlite};

/// How often the index is brought up to date: on PostgreSQL, often
/// enough that the pending list stays under its 4 MB at 8,000 signups a
/// second; rarely enough that each move takes a good batch (moving it
/// five times a second cost PostgreSQL more CPU than the inserts' own
/// moves had).
const TICK: Duration = Duration::from_millis(500);
/// After a failure: the next try, without filling the log.
const AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Subscribers SQLite's index takes in one transaction.
pub use sqlite::address_index::BATCH;

impl Store {
    /// Brings the address index up to date by one step. On SQLite: adds up
    /// to `batch` subscribers not in the index yet, in id order, and merges
    /// its segments as far as needed; returns how many subscribers were
    /// added. On PostgreSQL: moves the index's pending list into it;
    /// returns 0 (every subscriber is in the index from its insert).
    pub async fn index_new_addresses(&self, batch: i64) -> Result<usize, StoreError> {
        match self.direct() {
            Some(direct) => Ok(sqlite::address_index::index_new(direct, batch).await?),
            None => {
                postgres::address_index::clean_pending_list(self.pool()).await?;
                Ok(0)
            }
        }
    }

    /// Keeps the address index up to date until `shutdown`: every
    /// [`TICK`], and at once again after a full batch (an import to catch
    /// up with).
    pub async fn keep_address_index(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.index_new_addresses(BATCH).await {
                Ok(added) if added as i64 >= BATCH => Duration::ZERO,
                Ok(_) => TICK,
                Err(error) => {
                    tracing::warn!(%error, "the address index could not be brought up to date");
                    AFTER_FAILURE
                }
            };
            if pause.is_zero() {
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
