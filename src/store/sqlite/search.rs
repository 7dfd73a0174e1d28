//! The address search through SQLite's trigram index (FTS5, migrations
//! 0006 and 0010).

use sqlx::any::AnyRow;

use crate::store::subscribers::search::{COLUMNS, Indexed, Query, fetch};
use crate::store::{Store, StoreError};

pub(crate) async fn indexed_rows(
    store: &Store,
    wanted: &Indexed<'_>,
) -> Result<Vec<AnyRow>, StoreError> {
    let mut q = Query::default();
    // The FTS table drives (CROSS JOIN keeps it outside) and hands rows
    // over in rowid order. FTS5 reads `%` and `_` in its LIKE as wildcards,
    // so it gets the fragment raw and answers a superset, which the LIKE of
    // the filters then narrows.
    let raw = q.text(&format!("%{}%", wanted.fragment));
    let a = q.int(wanted.after);
    q.sql = format!(
        "SELECT {COLUMNS} FROM subscriber_address_trigrams t \
         CROSS JOIN subscribers s ON s.id = t.rowid \
         WHERE t.email_key LIKE {raw} AND t.rowid > {a}"
    );
    q.push_indexed_filters(wanted.filter, wanted.like);
    // The newest subscribers, not in the index yet (it takes them in
    // batches, `address_index`), are read with the LIKE alone.
    let a = q.int(wanted.after);
    q.sql += &format!(
        " UNION ALL SELECT {COLUMNS} FROM subscribers s WHERE s.id > {a} \
         AND s.id > (SELECT indexed_up_to FROM address_index_state)"
    );
    q.push_indexed_filters(wanted.filter, wanted.like);
    let l = q.int(wanted.limit);
    q.sql += &format!(" ORDER BY id LIMIT {l}");
    fetch(store, q).await
}
