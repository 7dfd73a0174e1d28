//! Subscriber imports' records.

use gazette::store::imports::{ImportCounts, ImportJobStatus, ReportLine};
use gazette::store::newsletters::NewNewsletter;

use super::fresh_store;
use crate::helpers::Backend;

async fn an_import_is_started_counted_and_finished(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let new = NewNewsletter {
        slug: "news",
        name: "News",
        locale: "en",
    };
    let news = store.newsletters().create(&new, 0).await.unwrap().id;
    let id = store
        .imports()
        .start(news, "list.csv", "admin", 10, None, 100)
        .await
        .unwrap();
    let started = store.imports().by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (started.status, started.total_rows, started.processed_rows),
        (ImportJobStatus::Running, 10, 0)
    );
    assert_eq!(
        (
            started.file_name.as_str(),
            started.source.as_str(),
            started.created_at
        ),
        ("list.csv", "admin", 100)
    );
    let batch = ImportCounts {
        added_active: 2,
        added_pending: 1,
        unchanged: 1,
        rejected: 1,
    };
    let mut tx = store.begin_write().await.unwrap();
    tx.imports().record_batch(id, 5, batch, 200).await.unwrap();
    tx.commit().await.unwrap();
    let halfway = store.imports().by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (
            halfway.processed_rows,
            halfway.added_active,
            halfway.rejected,
            halfway.updated_at
        ),
        (5, 2, 1, 200)
    );
    let report = vec![ReportLine {
        line: 3,
        email: "bad@".into(),
        code: "invalid_email".into(),
        reason: "not an address".into(),
    }];
    let all = ImportCounts {
        added_active: 4,
        added_pending: 2,
        unchanged: 3,
        rejected: 1,
    };
    store.imports().finish(id, all, &report, 300).await.unwrap();
    let done = store.imports().by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (
            done.status,
            done.processed_rows,
            done.added_active,
            done.finished_at
        ),
        (ImportJobStatus::Done, 10, 4, Some(300))
    );
    assert_eq!(store.imports().report(id).await.unwrap(), report);
    let failed = store
        .imports()
        .start(news, "other.csv", "cli", 1, None, 400)
        .await
        .unwrap();
    store
        .imports()
        .fail(failed, "the database went away", 500)
        .await
        .unwrap();
    let failed = store.imports().by_id(failed).await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (ImportJobStatus::Failed, Some("the database went away"))
    );
    assert!(store.imports().report(failed.id).await.unwrap().is_empty());
    let recent: Vec<i64> = store
        .imports()
        .recent(10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(recent, [failed.id, id], "newest first");
    assert!(
        store
            .imports()
            .by_id(failed.id + 9)
            .await
            .unwrap()
            .is_none()
    );
}

crate::both_databases!(an_import_is_started_counted_and_finished);
