//! The address index's upkeep, beside the signups: SQLite's segments are
//! merged as they are added, PostgreSQL's pending list is moved into the
//! index, and the search finds every address either way.

use gazette::store::Store;
use gazette::store::subscribers::SubscriberFilter;

use super::fresh_store;
use crate::helpers::Backend;

/// Adds subscribers `from..to`, each in a statement of its own, as signups
/// arrive.
async fn add(store: &Store, from: i64, to: i64) {
    for n in from..to {
        sqlx::query(
            "INSERT INTO subscribers (email, email_key, status, paused, created_at, updated_at) \
             VALUES ($1, $1, 'active', 0, 0, 0)",
        )
        .bind(format!("reader{n:04}@example.org"))
        .execute(store.pool())
        .await
        .unwrap();
    }
}

/// SQLite: the index's segments (FTS5 b-trees). Unmerged, every batch
/// would leave one more, up to FTS5's own emergency merge at 16 on a
/// level, which is the long hold of the write lock this avoids.
async fn sqlite_segments(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(DISTINCT segid) FROM subscriber_address_trigrams_idx")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// PostgreSQL: pages of the index's pending list, emptied on the way.
async fn postgres_pending_pages(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT gin_clean_pending_list('subscribers_address_trigrams'::regclass)")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn found(store: &Store, fragment: &str) -> usize {
    let filter = SubscriberFilter {
        search: fragment.to_string(),
        status: None,
        newsletter_id: None,
    };
    let (mut count, mut after) = (0, Some(0));
    while let Some(from) = after {
        let page = store
            .search_subscribers(&filter, from, 1_000)
            .await
            .unwrap();
        count += page.lines.len();
        after = page.next_after;
    }
    count
}

async fn upkeep_leaves_the_index_whole_and_nothing_owed(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    match backend {
        Backend::Sqlite => {
            // 46 batches of 10: left unmerged, FTS5 would hold 2 segments
            // of its emergency merges and the 14 batches since
            add(&store, 0, 460).await;
            while store.index_new_addresses(10).await.unwrap() > 0 {}
            let segments = sqlite_segments(&store).await;
            assert!(
                (1..=4).contains(&segments),
                "merged as they came: {segments} segments"
            );
        }
        Backend::Postgres => {
            // autovacuum's analyze empties the pending list too: kept off
            // this table, where it could run between the inserts and
            // the first count
            sqlx::query("ALTER TABLE subscribers SET (autovacuum_enabled = false)")
                .execute(store.pool())
                .await
                .unwrap();
            // the inserts fill the pending list ...
            add(&store, 0, 230).await;
            assert!(postgres_pending_pages(&store).await > 0);
            // ... which the upkeep empties
            add(&store, 230, 460).await;
            assert_eq!(store.index_new_addresses(10).await.unwrap(), 0);
            assert_eq!(postgres_pending_pages(&store).await, 0);
        }
    }
    assert_eq!(
        found(&store, "reader04").await,
        60,
        "reader0400 to reader0459"
    );
    assert_eq!(found(&store, "er0123@").await, 1);
}

crate::both_databases!(upkeep_leaves_the_index_whole_and_nothing_owed);
