//! The outbox: queueing, claiming under a lease, recording outcomes.

use gazette::store::Store;
use gazette::store::outbox::{MailBody, MailKind, OneOffMail, Outcome};

use super::{fresh_store, fresh_store_with};
use crate::helpers::Backend;

const NOTICE: MailKind = MailKind::new("notice");

fn mail(recipient: &str) -> OneOffMail<'_> {
    OneOffMail {
        kind: NOTICE,
        subscriber_id: None,
        recipient,
        body: MailBody::Rendered {
            subject: "Hello",
            html: "<p>token=secret</p>",
            text: "token=secret",
        },
    }
}

async fn status(store: &Store, id: i64) -> (String, i64, Option<String>, Option<String>) {
    sqlx::query_as("SELECT status, attempts, html_body, last_error FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn mail_is_queued_claimed_once_and_given_back(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let first = store
        .outbox()
        .enqueue(&mail("a@example.org"), 100)
        .await
        .unwrap();
    let mut tx = store.begin_write().await.unwrap();
    let second = tx
        .outbox()
        .enqueue(&mail("b@example.org"), 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin_write().await.unwrap();
    let undone = tx
        .outbox()
        .enqueue(&mail("c@example.org"), 100)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        store.deliveries().depth().await.unwrap(),
        2,
        "{undone} was rolled back"
    );
    // not due before its time
    assert!(
        store
            .deliveries()
            .claim_due("one", 10, 1_000, 99)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .deliveries()
        .claim_due("one", 1, 1_000, 200)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.id).collect::<Vec<_>>(),
        [first],
        "oldest first, at most the limit"
    );
    let row = &claimed[0];
    assert_eq!(
        (row.recipient.as_str(), row.kind.as_str(), row.attempts),
        ("a@example.org", "notice", 0)
    );
    assert_eq!(row.subject.as_deref(), Some("Hello"));
    let rest = store
        .deliveries()
        .claim_due("two", 10, 1_000, 200)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|c| c.id).collect::<Vec<_>>(),
        [second],
        "a leased row is nobody else's"
    );
    // a lease that ran out is claimed again
    let again = store
        .deliveries()
        .claim_due("three", 10, 5_000, 1_001)
        .await
        .unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!(store.deliveries().release("three").await.unwrap(), 2);
    assert_eq!(store.deliveries().release("three").await.unwrap(), 0);
    assert_eq!(
        store
            .deliveries()
            .claim_due("four", 10, 5_000, 1_002)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn outcomes_are_recorded(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let subscriber: i64 = sqlx::query_scalar(
        "INSERT INTO subscribers (email, email_key, locale, status, paused, hard_bounces, \
         created_at, updated_at) VALUES ('r@example.org', 'r@example.org', 'en', 'active', 0, 0, 0, 0) \
         RETURNING id",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(
            store
                .outbox()
                .enqueue(&mail(&format!("{n}@example.org")), 1)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        store
            .deliveries()
            .claim_due("me", 10, 1_000, 2)
            .await
            .unwrap()
            .len(),
        6
    );
    // a batch all sent: one statement
    store
        .deliveries()
        .record(
            &[Outcome::Sent { id: ids[0] }, Outcome::Sent { id: ids[1] }],
            2,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        status(&store, ids[0]).await,
        ("sent".into(), 1, None, None),
        "the body with its token is gone"
    );
    store
        .deliveries()
        .record(
            &[
                Outcome::Retry {
                    id: ids[2],
                    next_attempt_at: 500,
                    error: "451 later".into(),
                },
                Outcome::Failed {
                    id: ids[3],
                    error: "bad address".into(),
                },
                Outcome::Bounced {
                    id: ids[4],
                    subscriber_id: Some(subscriber),
                    error: "550 no".into(),
                },
                Outcome::Cancelled {
                    id: ids[5],
                    reason: "left".into(),
                },
            ],
            2,
            20,
        )
        .await
        .unwrap();
    let retry = status(&store, ids[2]).await;
    assert_eq!(
        (retry.0.as_str(), retry.1, retry.3.as_deref()),
        ("pending", 1, Some("451 later"))
    );
    assert!(retry.2.is_some(), "kept to send again");
    assert_eq!(
        status(&store, ids[3]).await,
        ("failed".into(), 1, None, Some("bad address".into()))
    );
    assert_eq!(status(&store, ids[4]).await.0, "failed");
    assert_eq!(status(&store, ids[5]).await.0, "cancelled");
    let bounced = |store: &Store| {
        let store = store.clone();
        async move {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT status, hard_bounces FROM subscribers WHERE id = $1",
            )
            .bind(subscriber)
            .fetch_one(store.pool())
            .await
            .unwrap()
        }
    };
    assert_eq!(bounced(&store).await, ("active".to_string(), 1));
    // the retried row comes due again; a second hard bounce reaches the threshold
    let retried = store
        .deliveries()
        .claim_due("me", 10, 5_000, 600)
        .await
        .unwrap();
    assert_eq!(
        retried
            .iter()
            .map(|c| (c.id, c.attempts))
            .collect::<Vec<_>>(),
        [(ids[2], 1)]
    );
    store
        .deliveries()
        .record(
            &[Outcome::Bounced {
                id: ids[2],
                subscriber_id: Some(subscriber),
                error: "550".into(),
            }],
            2,
            30,
        )
        .await
        .unwrap();
    assert_eq!(bounced(&store).await, ("bounced".to_string(), 2));
    assert_eq!(store.deliveries().depth().await.unwrap(), 0);
}

/// PostgreSQL: how often each index was scanned, read by the connection
/// that scanned them (the store has only one), whose counts are flushed
/// first.
async fn index_scans(store: &Store) -> (i64, i64) {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query_as(
        "SELECT \
           SUM(idx_scan) FILTER (WHERE indexrelname = 'deliveries_claim_other')::BIGINT, \
           SUM(idx_scan) FILTER (WHERE indexrelname = 'deliveries_due')::BIGINT \
         FROM pg_stat_user_indexes WHERE relname = 'deliveries'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
}

/// A long queue on a table that was never analyzed (a fresh install's
/// first burst, or a server without autovacuum) is claimed from its oldest
/// rows by walking the claim's partial index, never by gathering and
/// sorting every unfinished row.
async fn a_long_unanalyzed_queue_is_claimed_by_its_index(backend: Backend) {
    let (_db, store) = fresh_store_with(backend, 1).await;
    let mut tx = store.begin_write().await.unwrap();
    let mut ids = Vec::new();
    for n in 0..3_000 {
        let recipient = format!("{n}@example.org");
        ids.push(tx.outbox().enqueue(&mail(&recipient), 100).await.unwrap());
    }
    tx.commit().await.unwrap();
    let before = match backend {
        Backend::Postgres => Some(index_scans(&store).await),
        Backend::Sqlite => None,
    };
    let claimed = store
        .deliveries()
        .claim_due("instance-a", 50, 200, 100)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.id).collect::<Vec<_>>(),
        ids[..50],
        "the oldest first"
    );
    if let Some((other, due)) = before {
        let (other_after, due_after) = index_scans(&store).await;
        assert_eq!(
            (other_after - other, due_after - due),
            (1, 0),
            "one walk of deliveries_claim_other, no scan of deliveries_due"
        );
    }
}

crate::both_databases!(
    mail_is_queued_claimed_once_and_given_back,
    outcomes_are_recorded,
    a_long_unanalyzed_queue_is_claimed_by_its_index
);
