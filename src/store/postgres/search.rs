//! The address search through PostgreSQL's trigram index (a GIN index on
//! `address_trigrams`, migration 0006).

use sqlx::any::AnyRow;

use crate::store::subscribers::search::{COLUMNS, Indexed, Query, bind};
use crate::store::{Store, StoreError};

/// The index path is only taken when the scan of the window found the
/// fragment rare, so PostgreSQL is told to use the index: left to its
/// estimate, the planner may walk the primary key instead and evaluate
/// `address_trigrams` (tens of microseconds) on every row it passes.
pub(crate) async fn indexed_rows(
    store: &Store,
    wanted: &Indexed<'_>,
) -> Result<Vec<AnyRow>, StoreError> {
    let mut q = Query::default();
    let f = q.text(wanted.fragment);
    let a = q.int(wanted.after);
    q.sql = format!(
        "SELECT {COLUMNS} FROM subscribers s \
         WHERE address_trigrams(s.email_key) @> address_trigrams({f}) AND s.id > {a}"
    );
    q.push_indexed_filters(wanted.filter, wanted.like);
    let l = q.int(wanted.limit);
    q.sql += &format!(" ORDER BY s.id LIMIT {l}");
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL enable_indexscan = off")
        .execute(&mut *tx)
        .await?;
    // Unnamed statement: planned with this fragment, never from a cached
    // generic plan.
    let rows = bind(&q).persistent(false).fetch_all(&mut *tx).await?;
    tx.rollback().await?;
    Ok(rows)
}
