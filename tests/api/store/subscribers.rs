//! Subscribers, subscriptions, tokens, consent and erasure.

use gazette::store::Store;
use gazette::store::newsletters::NewNewsletter;
use gazette::store::subscribers::{
    ClientMeta, ConsentKind, ConsentSource, DailyCounter, SubscriberStatus, SubscriptionStatus,
};

use super::fresh_store;
use crate::helpers::Backend;

async fn newsletter(store: &Store, slug: &str) -> i64 {
    let new = NewNewsletter {
        slug,
        name: slug,
        locale: "en",
    };
    store.newsletters().create(&new, 0).await.unwrap().id
}

async fn active_count(store: &Store, newsletter: i64) -> i64 {
    sqlx::query_scalar("SELECT active_subscribers FROM newsletters WHERE id = $1")
        .bind(newsletter)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn subscribers_and_subscriptions_change_status(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let (news, sport) = (
        newsletter(&store, "news").await,
        newsletter(&store, "sport").await,
    );
    let mut tx = store.begin_write().await.unwrap();
    let amina = tx
        .subscribers()
        .upsert_pending(
            "Amina@Example.org",
            "amina@example.org",
            Some("Amina"),
            "fr",
        )
        .await
        .unwrap();
    assert_eq!(
        (amina.status, amina.locale.as_str(), amina.paused),
        (SubscriberStatus::Pending, "fr", false)
    );
    // the same key again: the existing row, untouched
    let again = tx
        .subscribers()
        .upsert_pending("x@example.org", "amina@example.org", None, "en")
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.email.as_str(), again.name.as_deref()),
        (amina.id, "Amina@Example.org", Some("Amina"))
    );
    assert!(
        tx.subscribers()
            .request_subscription(amina.id, news)
            .await
            .unwrap()
    );
    assert!(
        !tx.subscribers()
            .request_subscription(amina.id, news)
            .await
            .unwrap(),
        "already pending"
    );
    tx.commit().await.unwrap();
    let mut subscribers = store.subscribers();
    assert_eq!(
        subscribers
            .subscription_status(amina.id, news)
            .await
            .unwrap(),
        Some(SubscriptionStatus::Pending)
    );
    assert_eq!(
        subscribers
            .subscription_status(amina.id, sport)
            .await
            .unwrap(),
        None
    );
    // activating counts; leaving uncounts
    assert!(
        subscribers
            .set_subscription_status(
                amina.id,
                news,
                SubscriptionStatus::Pending,
                SubscriptionStatus::Active
            )
            .await
            .unwrap()
    );
    assert_eq!(active_count(&store, news).await, 1);
    assert!(
        !subscribers
            .set_subscription_status(
                amina.id,
                news,
                SubscriptionStatus::Pending,
                SubscriptionStatus::Active
            )
            .await
            .unwrap(),
        "not pending any more"
    );
    subscribers
        .set_status(amina.id, SubscriberStatus::Active)
        .await
        .unwrap();
    let active = subscribers.by_id(amina.id).await.unwrap().unwrap();
    assert_eq!(active.status, SubscriberStatus::Active);
    assert!(active.confirmed_at.is_some());
    subscribers.set_paused(amina.id, true).await.unwrap();
    assert!(subscribers.by_id(amina.id).await.unwrap().unwrap().paused);
    subscribers
        .set_subscription_status(
            amina.id,
            news,
            SubscriptionStatus::Active,
            SubscriptionStatus::Unsubscribed,
        )
        .await
        .unwrap();
    assert_eq!(active_count(&store, news).await, 0);
    // an unsubscribed subscription asked again is pending again
    assert!(
        subscribers
            .request_subscription(amina.id, news)
            .await
            .unwrap()
    );
    subscribers
        .request_subscription(amina.id, sport)
        .await
        .unwrap();
    let pending = subscribers
        .subscriptions_of(amina.id, Some(SubscriptionStatus::Pending))
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|s| s.slug.as_str()).collect::<Vec<_>>(),
        ["news", "sport"]
    );
    assert_eq!(
        subscribers
            .subscriptions_of(amina.id, None)
            .await
            .unwrap()
            .len(),
        2
    );
    subscribers
        .set_status(amina.id, SubscriberStatus::Unsubscribed)
        .await
        .unwrap();
    subscribers.reopen(amina.id, Some("A.")).await.unwrap();
    let reopened = subscribers.by_id(amina.id).await.unwrap().unwrap();
    assert_eq!(
        (reopened.status, reopened.name.as_deref()),
        (SubscriberStatus::Pending, Some("A."))
    );
    subscribers.activate_as_of(amina.id, 42).await.unwrap();
    let activated = subscribers.by_id(amina.id).await.unwrap().unwrap();
    assert_eq!(activated.status, SubscriberStatus::Active);
    subscribers.touch(amina.id).await.unwrap();
    assert!(subscribers.by_id(amina.id + 99).await.unwrap().is_none());
}

async fn tokens_consent_and_counters_are_kept(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let news = newsletter(&store, "news").await;
    let mut subscribers = store.subscribers();
    let reader = subscribers
        .upsert_pending("r@example.org", "r@example.org", None, "en")
        .await
        .unwrap();
    subscribers
        .insert_confirmation_token("0000000000aa.hash", reader.id, 72, &news.to_string())
        .await
        .unwrap();
    assert!(
        subscribers
            .by_id(reader.id)
            .await
            .unwrap()
            .unwrap()
            .last_confirmation_sent_at
            .is_some()
    );
    let row = subscribers
        .token_by_hash("0000000000aa.hash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.subscriber_id, row.used_at), (reader.id, None));
    assert!(row.expires_at > gazette::store::now_ms());
    let used = subscribers
        .use_confirmation_token("0000000000aa.hash")
        .await
        .unwrap();
    assert_eq!(used, Some((reader.id, Some(news.to_string()))));
    assert_eq!(
        subscribers
            .use_confirmation_token("0000000000aa.hash")
            .await
            .unwrap(),
        None,
        "once"
    );
    assert!(
        subscribers
            .token_by_hash("0000000000aa.hash")
            .await
            .unwrap()
            .unwrap()
            .used_at
            .is_some()
    );
    assert!(
        subscribers
            .token_by_hash("nothing")
            .await
            .unwrap()
            .is_none()
    );
    let client = ClientMeta {
        ip: Some("203.0.113.9".into()),
        user_agent: Some("UA".into()),
    };
    subscribers
        .record_consent(
            reader.id,
            ConsentKind::Signup,
            ConsentSource::Form,
            &client,
            Some("news"),
        )
        .await
        .unwrap();
    subscribers
        .record_consent(
            reader.id,
            ConsentKind::Confirm,
            ConsentSource::Link,
            &ClientMeta::default(),
            None,
        )
        .await
        .unwrap();
    let events = subscribers.consent_events_of(reader.id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["signup", "confirm"]
    );
    assert_eq!(
        (events[0].source.as_str(), events[0].ip.as_deref()),
        ("form", Some("203.0.113.9"))
    );
    for _ in 0..3 {
        subscribers
            .count_today(news, DailyCounter::Signups)
            .await
            .unwrap();
    }
    subscribers
        .count_today(news, DailyCounter::Unsubscribes)
        .await
        .unwrap();
    let (signups, unsubscribes): (i64, i64) = sqlx::query_as(
        "SELECT CAST(SUM(signups) AS BIGINT), CAST(SUM(unsubscribes) AS BIGINT) FROM daily_stats \
         WHERE newsletter_id = $1",
    )
    .bind(news)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((signups, unsubscribes), (3, 1), "summed over the shards");
}

async fn erasure_keeps_only_the_hash(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let news = newsletter(&store, "news").await;
    let mut subscribers = store.subscribers();
    let gone = subscribers
        .upsert_pending("g@example.org", "g@example.org", None, "en")
        .await
        .unwrap();
    subscribers
        .request_subscription(gone.id, news)
        .await
        .unwrap();
    subscribers
        .set_subscription_status(
            gone.id,
            news,
            SubscriptionStatus::Pending,
            SubscriptionStatus::Active,
        )
        .await
        .unwrap();
    sqlx::query("INSERT INTO issues (newsletter_id, status, created_at, updated_at) VALUES ($1, 'sending', 0, 0)")
        .bind(news)
        .execute(store.pool())
        .await
        .unwrap();
    let issue: i64 = sqlx::query_scalar("SELECT id FROM issues")
        .fetch_one(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO deliveries (kind, issue_id, subscriber_id, recipient, status, attempts, \
         next_attempt_at, created_at) VALUES ('digest', $1, $2, 'g@example.org', 'pending', 0, 0, 0)",
    )
    .bind(issue)
    .bind(gone.id)
    .execute(store.pool())
    .await
    .unwrap();
    subscribers
        .cancel_pending_digests(gone.id, Some(news))
        .await
        .unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM deliveries")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    subscribers
        .erase(gone.id, "g@example.org", "hash-of-g")
        .await
        .unwrap();
    assert!(subscribers.by_id(gone.id).await.unwrap().is_none());
    assert_eq!(active_count(&store, news).await, 0);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    let found = subscribers
        .erased_hashes(&["hash-of-g".to_string(), "hash-of-h".to_string()])
        .await
        .unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["hash-of-g"]);
}

async fn counts_growth_history_and_savepoints(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let mut tx = store.begin_write().await.unwrap();
    let mut ids = Vec::new();
    for email in ["a@example.org", "b@example.org", "c@example.org"] {
        let s = tx
            .subscribers()
            .upsert_pending(email, email, None, "en")
            .await
            .unwrap();
        ids.push(s.id);
    }
    tx.subscribers()
        .set_status(ids[0], SubscriberStatus::Active)
        .await
        .unwrap();
    // a savepoint rolled back undoes its writes alone
    let mut savepoint = tx.savepoint().await.unwrap();
    savepoint
        .subscribers()
        .set_status(ids[1], SubscriberStatus::Bounced)
        .await
        .unwrap();
    savepoint.rollback().await.unwrap();
    let mut savepoint = tx.savepoint().await.unwrap();
    savepoint
        .subscribers()
        .set_status(ids[2], SubscriberStatus::Unsubscribed)
        .await
        .unwrap();
    savepoint.commit().await.unwrap();
    tx.commit().await.unwrap();

    let mut counts = store.subscribers().count_by_status().await.unwrap();
    counts.retain(|(_, n)| *n > 0);
    counts.sort_by_key(|(status, _)| SubscriberStatus::ALL.iter().position(|s| s == status));
    assert_eq!(
        counts,
        [
            (SubscriberStatus::Pending, 1),
            (SubscriberStatus::Active, 1),
            (SubscriberStatus::Unsubscribed, 1)
        ]
    );
    let days = store.subscribers().new_per_day(0).await.unwrap();
    let today = gazette::store::now_ms() / gazette::store::subscribers::DAY_MS;
    assert_eq!(days, [(today, 3)]);
    assert!(
        store
            .subscribers()
            .new_per_day((today + 1) * gazette::store::subscribers::DAY_MS)
            .await
            .unwrap()
            .is_empty()
    );

    for (created_at, status) in [(10, "sent"), (20, "pending")] {
        sqlx::query(
            "INSERT INTO deliveries (kind, subscriber_id, recipient, status, attempts, \
             next_attempt_at, created_at) VALUES ('confirmation', $1, 'a@example.org', $2, 0, 0, $3)",
        )
        .bind(ids[0])
        .bind(status)
        .bind(created_at)
        .execute(store.pool())
        .await
        .unwrap();
    }
    let history = store.deliveries().history_of(ids[0], 10).await.unwrap();
    let seen: Vec<(i64, &str)> = history
        .iter()
        .map(|line| (line.created_at, line.status.as_str()))
        .collect();
    assert_eq!(seen, [(20, "pending"), (10, "sent")]);
    assert_eq!(
        store
            .deliveries()
            .history_of(ids[0], 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .deliveries()
            .history_of(ids[1], 10)
            .await
            .unwrap()
            .is_empty()
    );
}

crate::both_databases!(
    counts_growth_history_and_savepoints,
    subscribers_and_subscriptions_change_status,
    tokens_consent_and_counters_are_kept,
    erasure_keeps_only_the_hash,
    a_subscription_is_welcomed_once,
);

async fn a_subscription_is_welcomed_once(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let (news, sport) = (
        newsletter(&store, "news").await,
        newsletter(&store, "sport").await,
    );
    let mut tx = store.begin_write().await.unwrap();
    let amina = tx
        .subscribers()
        .upsert_pending("amina@example.org", "amina@example.org", None, "fr")
        .await
        .unwrap();
    for newsletter in [news, sport] {
        tx.subscribers()
            .request_subscription(amina.id, newsletter)
            .await
            .unwrap();
    }
    assert!(
        tx.subscribers()
            .claim_welcome(amina.id, news, 5)
            .await
            .unwrap()
    );
    assert!(
        !tx.subscribers()
            .claim_welcome(amina.id, news, 6)
            .await
            .unwrap()
    );
    assert!(
        tx.subscribers()
            .claim_welcome(amina.id, sport, 6)
            .await
            .unwrap()
    );
    assert!(
        !tx.subscribers()
            .claim_welcome(amina.id + 1, news, 6)
            .await
            .unwrap(),
        "no such subscription"
    );
    tx.commit().await.unwrap();
    let welcomed: Option<i64> = sqlx::query_scalar(
        "SELECT welcomed_at FROM subscriptions WHERE subscriber_id = $1 AND newsletter_id = $2",
    )
    .bind(amina.id)
    .bind(news)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(welcomed, Some(5), "the first claim's time is kept");
}
