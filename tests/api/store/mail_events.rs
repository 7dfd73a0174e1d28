//! Bounce and complaint events: recorded once per delivery and kind, listed,
//! counted per issue and over time, pruned; and the lookups the processor
//! makes (the delivery a report names, the last one sent to an address)
//! with what it changes on the subscriber.

use gazette::store::Store;
use gazette::store::mail_events::{
    EventCounts, EventFilter, MailEventKind, MailEventSource, NewMailEvent,
};
use gazette::store::outbox::Outcome;

use super::fresh_store;
use crate::helpers::Backend;

/// A subscriber, a sent issue with `recipients` digests to them (the
/// first sent), and the ids: (subscriber, issue, deliveries).
async fn seed(store: &Store) -> (i64, i64, Vec<i64>) {
    let pool = store.pool();
    let subscriber: i64 = sqlx::query_scalar(
        "INSERT INTO subscribers (email, email_key, status, created_at, updated_at) \
         VALUES ('Reader@Example.net', 'reader@example.net', 'active', 1, 1) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let newsletter: i64 = sqlx::query_scalar(
        "INSERT INTO newsletters (slug, name, created_at, updated_at) \
         VALUES ('daily', 'Daily', 1, 1) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let issue: i64 = sqlx::query_scalar(
        "INSERT INTO issues (newsletter_id, status, total_count, created_at, updated_at, sent_at) \
         VALUES ($1, 'sent', 40, 1, 1, 5000) RETURNING id",
    )
    .bind(newsletter)
    .fetch_one(pool)
    .await
    .unwrap();
    let mut deliveries = Vec::new();
    for status in ["sent", "pending"] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO deliveries (kind, issue_id, subscriber_id, recipient, status, attempts, \
             next_attempt_at, created_at) VALUES ('digest', $1, $2, 'Reader@Example.net', $3, 0, 0, 1) \
             RETURNING id",
        )
        .bind(if status == "sent" { Some(issue) } else { None })
        .bind(subscriber)
        .bind(status)
        .fetch_one(pool)
        .await
        .unwrap();
        deliveries.push(id);
    }
    (subscriber, issue, deliveries)
}

fn event<'a>(kind: MailEventKind, delivery: Option<i64>, at: i64) -> NewMailEvent<'a> {
    NewMailEvent {
        kind,
        source: MailEventSource::Smtp,
        delivery_id: delivery,
        subscriber_id: None,
        issue_id: None,
        status_code: Some("5.1.1"),
        reason: "user unknown",
        raw_message: "From: MAILER-DAEMON\r\n\r\nraw report",
        received_at: at,
    }
}

async fn events_count_once_per_delivery_and_kind(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let (subscriber, issue, deliveries) = seed(&store).await;
    let sent = deliveries[0];
    let hard = NewMailEvent {
        subscriber_id: Some(subscriber),
        issue_id: Some(issue),
        ..event(MailEventKind::HardBounce, Some(sent), 6000)
    };
    let first = store.mail_events().record(&hard).await.unwrap();
    assert!(first.is_some());
    assert_eq!(
        store.mail_events().record(&hard).await.unwrap(),
        None,
        "the same report again"
    );
    // In a transaction, beside another kind for the same delivery.
    let mut tx = store.begin_write().await.unwrap();
    let complaint = NewMailEvent {
        subscriber_id: Some(subscriber),
        issue_id: Some(issue),
        ..event(MailEventKind::Complaint, Some(sent), 7000)
    };
    assert!(tx.mail_events().record(&complaint).await.unwrap().is_some());
    tx.commit().await.unwrap();
    // Without a delivery nothing is a duplicate of anything.
    let loose = event(MailEventKind::SoftBounce, None, 100);
    assert!(store.mail_events().record(&loose).await.unwrap().is_some());
    assert!(store.mail_events().record(&loose).await.unwrap().is_some());

    assert_eq!(
        store.mail_events().counts_of_issue(issue).await.unwrap(),
        EventCounts {
            hard_bounces: 1,
            soft_bounces: 0,
            complaints: 1
        }
    );
    assert_eq!(
        store.mail_events().digest_counts_since(6500).await.unwrap(),
        EventCounts {
            hard_bounces: 0,
            soft_bounces: 0,
            complaints: 1
        },
        "only digests' events, received since"
    );
    assert_eq!(
        store.mail_events().digests_sent_since(4000).await.unwrap(),
        40
    );
    assert_eq!(
        store.mail_events().digests_sent_since(6000).await.unwrap(),
        0
    );

    let all = store
        .mail_events()
        .list(EventFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let theirs = store
        .mail_events()
        .list(
            EventFilter {
                subscriber_id: Some(subscriber),
                ..EventFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 2);
    assert_eq!(theirs[0].email.as_deref(), Some("Reader@Example.net"));
    let complaints = store
        .mail_events()
        .list(
            EventFilter {
                kind: Some(MailEventKind::Complaint),
                ..EventFilter::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(complaints.len(), 1);
    let older = store
        .mail_events()
        .list(
            EventFilter {
                before_id: Some(all[1].id),
                ..EventFilter::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(older.iter().map(|e| e.id).collect::<Vec<_>>(), [all[2].id]);
    let (shown, raw) = store
        .mail_events()
        .by_id(first.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (shown.kind, shown.source),
        (MailEventKind::HardBounce, MailEventSource::Smtp)
    );
    assert_eq!(shown.status_code.as_deref(), Some("5.1.1"));
    assert!(raw.ends_with("raw report"));
    assert_eq!(store.mail_events().by_id(-1).await.unwrap(), None);

    assert_eq!(store.mail_events().prune(6500).await.unwrap(), 3);
    assert_eq!(
        store
            .mail_events()
            .list(EventFilter::default(), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_refusal_is_an_event_and_a_report_finds_its_delivery(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let (subscriber, issue, deliveries) = seed(&store).await;
    let (sent, pending) = (deliveries[0], deliveries[1]);
    let reported = store.deliveries().reported(sent).await.unwrap().unwrap();
    assert_eq!(
        (
            reported.subscriber_id,
            reported.issue_id,
            reported.recipient.as_str()
        ),
        (Some(subscriber), Some(issue), "Reader@Example.net")
    );
    assert_eq!(store.deliveries().reported(-1).await.unwrap(), None);
    let last = store
        .deliveries()
        .last_sent_to("reader@example.net")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.id, sent, "the pending one was not sent");
    assert_eq!(
        store
            .deliveries()
            .last_sent_to("nobody@example.net")
            .await
            .unwrap(),
        None
    );

    // The relay's 5xx during the session: the same event a DSN would make.
    sqlx::query("UPDATE deliveries SET status = 'sending' WHERE id = $1")
        .bind(pending)
        .execute(store.pool())
        .await
        .unwrap();
    store
        .deliveries()
        .record(
            &[Outcome::Bounced {
                id: pending,
                subscriber_id: Some(subscriber),
                error: "550 5.1.1 no".into(),
            }],
            3,
            9000,
        )
        .await
        .unwrap();
    let events = store
        .mail_events()
        .list(EventFilter::default(), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].source, events[0].delivery_id),
        (
            MailEventKind::HardBounce,
            MailEventSource::Relay,
            Some(pending)
        )
    );
    let dsn = NewMailEvent {
        subscriber_id: Some(subscriber),
        ..event(MailEventKind::HardBounce, Some(pending), 9500)
    };
    assert_eq!(
        store.mail_events().record(&dsn).await.unwrap(),
        None,
        "a later DSN adds nothing"
    );
}

async fn hard_bounces_count_and_a_complaint_suppresses(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let (subscriber, _, _) = seed(&store).await;
    let mut tx = store.begin_write().await.unwrap();
    assert!(
        !tx.subscribers()
            .count_hard_bounce(subscriber, 2, 10)
            .await
            .unwrap()
    );
    assert!(
        tx.subscribers()
            .count_hard_bounce(subscriber, 2, 11)
            .await
            .unwrap(),
        "the threshold"
    );
    assert!(
        !tx.subscribers()
            .count_hard_bounce(subscriber, 2, 12)
            .await
            .unwrap(),
        "already bounced"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.subscribers().hard_bounces(subscriber).await.unwrap(),
        Some(3)
    );
    let found = store
        .subscribers()
        .by_email_key("reader@example.net")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.status.as_str()), (subscriber, "bounced"));
    assert_eq!(found.suppressed_at, None);
    store
        .subscribers()
        .set_suppressed(subscriber, Some(77))
        .await
        .unwrap();
    assert_eq!(
        store
            .subscribers()
            .by_id(subscriber)
            .await
            .unwrap()
            .unwrap()
            .suppressed_at,
        Some(77)
    );
    store
        .subscribers()
        .set_suppressed(subscriber, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .subscribers()
            .by_id(subscriber)
            .await
            .unwrap()
            .unwrap()
            .suppressed_at,
        None
    );
    assert_eq!(
        store
            .subscribers()
            .by_email_key("nobody@example.net")
            .await
            .unwrap(),
        None
    );
}

crate::both_databases!(
    events_count_once_per_delivery_and_kind,
    a_refusal_is_an_event_and_a_report_finds_its_delivery,
    hard_bounces_count_and_a_complaint_suppresses,
);
