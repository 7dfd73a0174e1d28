//! SQLite's index of addresses for the admin's search (FTS5 trigrams,
//! migrations 0006 and 0010) takes new subscribers in batches, here, not
//! in the transaction that adds them: writing FTS5 a few rows at a time
//! cost a signup group about a fifth of its turn at the write lock, where
//! a batch of hundreds costs each row a fraction of that. The search
//! reads the subscribers not indexed yet with a plain LIKE
//! (`store::subscribers::search`), so an address is found at once either
//! way.
//!
//! FTS5 merges the index's segments in steps of their own (migration
//! 0020 turned its automatic merging off): each step writes about
//! [`MERGE_PAGES`] pages in its own short transaction, so the signups
//! waiting for the write lock take their turns between steps instead of
//! waiting for a whole merge.
//!
//! The task that calls it is in `store::address_index`.

use super::direct::{DirectError, DirectWriter};

/// Subscribers added to the index in one transaction: big enough that a
/// row costs a fraction of what it would in its signup's transaction,
/// small enough to hold the write lock for about a millisecond, which
/// every signup waiting meanwhile adds to its answer time.
pub const BATCH: i64 = 200;
/// Pages of the index one merge step writes, in about a millisecond.
const MERGE_PAGES: i64 = 8;
/// Merge steps after a batch at most: more than a batch needs (it writes a
/// few pages, each merged once a level), while an import's catch-up still
/// gets to its next batch.
const MERGE_STEPS: usize = 64;

/// Adds up to `batch` subscribers not in the index yet, in id order, then
/// merges the index's segments as far as needed; returns how many
/// subscribers were added.
pub(crate) async fn index_new(direct: &DirectWriter, batch: i64) -> Result<usize, DirectError> {
    let added = index_batch(direct, batch).await?;
    if added > 0 {
        for _ in 0..MERGE_STEPS {
            if !merge_step(direct).await? {
                break;
            }
        }
    }
    Ok(added)
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

/// One step of merging the index's segments, in its own transaction;
/// `false` when there was nothing to merge. FTS5 merges only where a level
/// holds `usermerge` (4) segments or a merge is under way, and tells that
/// it worked by two changes or more.
async fn merge_step(direct: &DirectWriter) -> Result<bool, DirectError> {
    direct
        .write(|tx| {
            let before = tx.total_changes();
            tx.prepare_cached(
                "INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rank) \
                 VALUES ('merge', $1)",
            )?
            .execute([MERGE_PAGES])?;
            Ok(tx.total_changes() - before >= 2)
        })
        .await
}
