//! Issues, their stories, and their digest rows.

use gazette::store::Store;
use gazette::store::issues::IssueStatus;
use gazette::store::newsletters::NewNewsletter;
use gazette::store::stories::NewStory;
use gazette::tags::Tags;

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

async fn story(store: &Store, url: &str) -> i64 {
    let new = NewStory {
        url: url.into(),
        external_id: None,
        feed_id: None,
        title: url.into(),
        summary: None,
        image_url: None,
        author: None,
        tags: Tags::default(),
        published_at: 1,
    };
    store.stories().insert(&new, 1).await.unwrap().id
}

/// A subscriber with an active subscription to `newsletter_id`.
async fn reader(store: &Store, email: &str, newsletter_id: i64, paused: i64) {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO subscribers (email, email_key, locale, status, paused, hard_bounces, \
         created_at, updated_at) VALUES ($1, $1, 'en', 'active', $2, 0, 0, 0) RETURNING id",
    )
    .bind(email)
    .bind(paused)
    .fetch_one(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at) \
         VALUES ($1, $2, 'active', 0, 0)",
    )
    .bind(id)
    .bind(newsletter_id)
    .execute(store.pool())
    .await
    .unwrap();
}

async fn drafts_are_built_edited_and_found(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let news = newsletter(&store, "news").await;
    let (a, b, c) = (
        story(&store, "https://x.org/a").await,
        story(&store, "https://x.org/b").await,
        story(&store, "https://x.org/c").await,
    );
    let mut tx = store.begin_write().await.unwrap();
    let id = tx
        .issues()
        .insert_draft(news, Some(700), 100)
        .await
        .unwrap();
    for (position, story) in [a, b, c].into_iter().enumerate() {
        tx.issues()
            .add_story(id, news, story, position as i64)
            .await
            .unwrap();
    }
    let built = tx
        .issues()
        .finish_build(id, IssueStatus::Draft, "Top story", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (built.status, built.subject.as_str(), built.slot_at),
        (IssueStatus::Draft, "Top story", Some(700))
    );
    assert_eq!((built.created_at, built.total_count), (100, 0));
    // a slot makes one issue; a story goes out once in a newsletter
    let twice = store.issues().insert_draft(news, Some(700), 200).await;
    assert!(twice.unwrap_err().is_unique_violation());
    let other = store.issues().insert_draft(news, None, 300).await.unwrap();
    assert!(
        store
            .issues()
            .add_story(other, news, a, 0)
            .await
            .unwrap_err()
            .is_unique_violation()
    );
    assert_eq!(
        store
            .issues()
            .for_slot(news, 700)
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    assert!(store.issues().for_slot(news, 800).await.unwrap().is_none());
    assert_eq!(
        store
            .issues()
            .current_draft(news)
            .await
            .unwrap()
            .unwrap()
            .id,
        other,
        "newest"
    );
    assert_eq!(store.issues().last_slot(news).await.unwrap(), Some(700));
    assert_eq!(
        store
            .issues()
            .last_counted_created_at(news, 0)
            .await
            .unwrap(),
        Some(300)
    );
    assert_eq!(
        store
            .issues()
            .last_counted_created_at(news, other)
            .await
            .unwrap(),
        Some(100)
    );
    assert_eq!(
        store.issues().slot_drafts(news, 700, 200).await.unwrap(),
        [id]
    );
    assert!(
        store
            .issues()
            .slot_drafts(news, 701, 200)
            .await
            .unwrap()
            .is_empty()
    );
    // editing a draft
    let taken = store.issues().take_draft(id, 400).await.unwrap().unwrap();
    assert_eq!(taken.updated_at, 400);
    store.issues().remove_story(id, b).await.unwrap();
    store.issues().set_story_position(id, c, 0).await.unwrap();
    store.issues().set_story_position(id, a, 1).await.unwrap();
    let mut ids = store.issues().story_ids(id).await.unwrap();
    ids.sort_unstable();
    assert_eq!(ids, [a, c]);
    let order: Vec<i64> = store
        .stories()
        .of_issue(id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(order, [c, a]);
    let texts = store
        .issues()
        .set_texts(id, "New subject", Some("Pre"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            texts.subject.as_str(),
            texts.preheader.as_deref(),
            texts.intro
        ),
        ("New subject", Some("Pre"), None)
    );
    let content = store.issue_content(id).await.unwrap().unwrap();
    assert_eq!(
        (
            content.issue.id,
            content.newsletter.id,
            content.stories.len()
        ),
        (id, news, 2)
    );
    assert!(store.issue_content(id + 100).await.unwrap().is_none());
    // statuses
    assert_eq!(
        store.issues().status(id).await.unwrap(),
        Some(IssueStatus::Draft)
    );
    let cancelled = store
        .issues()
        .change_status(id, IssueStatus::Draft, IssueStatus::Cancelled, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cancelled.status, cancelled.updated_at),
        (IssueStatus::Cancelled, 500)
    );
    assert!(store.issues().take_draft(id, 600).await.unwrap().is_none());
    assert!(
        store
            .issues()
            .change_status(id, IssueStatus::Draft, IssueStatus::Sending, 600)
            .await
            .unwrap()
            .is_none()
    );
    store.issues().remove_stories(id).await.unwrap();
    assert!(store.issues().story_ids(id).await.unwrap().is_empty());
    assert_eq!(
        store
            .issues()
            .last_counted_created_at(news, other)
            .await
            .unwrap(),
        None,
        "cancelled ones do not count"
    );
    assert!(
        store
            .issues()
            .insert_missed(news, 900, "down", 1_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .issues()
            .insert_missed(news, 900, "down", 1_000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .issues()
            .for_slot(news, 900)
            .await
            .unwrap()
            .unwrap()
            .status,
        IssueStatus::Missed
    );
    let recent = store.issues().recent(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].1, "news");
}

async fn a_send_queues_one_row_per_active_reader(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let news = newsletter(&store, "news").await;
    let elsewhere = newsletter(&store, "other").await;
    reader(&store, "a@example.org", news, 0).await;
    reader(&store, "b@example.org", news, 0).await;
    reader(&store, "paused@example.org", news, 1).await;
    reader(&store, "other@example.org", elsewhere, 0).await;
    assert_eq!(store.issues().count_recipients(news).await.unwrap(), 2);
    let id = store.issues().insert_draft(news, None, 10).await.unwrap();
    let mut tx = store.begin_write().await.unwrap();
    assert_eq!(tx.issues().start_sending(id, 20).await.unwrap(), Some(news));
    tx.issues().queue_digests(id, news, 20).await.unwrap();
    tx.issues().queue_digests(id, news, 21).await.unwrap();
    let counted = tx.issues().recount(id).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (counted.status, counted.total_count, counted.send_at),
        (IssueStatus::Sending, 2, Some(20))
    );
    let counts = store.issues().delivery_counts(id).await.unwrap();
    assert_eq!((counts.pending, counts.total()), (2, 2));
    assert!(
        !store.issues().mark_sent_if_done(id, 30).await.unwrap(),
        "rows are pending"
    );
    // cancelling leaves no pending row: then the issue is done
    store.issues().cancel_pending_digests(id).await.unwrap();
    assert_eq!(
        store.issues().delivery_counts(id).await.unwrap().cancelled,
        2
    );
    assert!(store.issues().mark_sent_if_done(id, 40).await.unwrap());
    assert!(
        !store.issues().mark_sent_if_done(id, 50).await.unwrap(),
        "once"
    );
    let sent = store.issues().by_id(id).await.unwrap().unwrap();
    assert_eq!((sent.status, sent.sent_at), (IssueStatus::Sent, Some(40)));
    assert_eq!(
        store.issues().start_sending(id, 60).await.unwrap(),
        None,
        "sent is final"
    );
    assert_eq!(
        store.issues().published(news, 10, 0).await.unwrap().len(),
        1
    );
    assert_eq!(store.issues().count_published(news).await.unwrap(), 1);
    assert!(
        store
            .issues()
            .published(news, 10, 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.issues().count_published(elsewhere).await.unwrap(), 0);
}

async fn drafts_are_scheduled_and_come_due(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let news = newsletter(&store, "news").await;
    let early = store.issues().insert_draft(news, None, 1).await.unwrap();
    let late = store.issues().insert_draft(news, None, 2).await.unwrap();
    let scheduled = store
        .issues()
        .schedule_draft(early, Some(1_000), 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scheduled.send_at, Some(1_000));
    store
        .issues()
        .schedule_draft(late, Some(5_000), 3)
        .await
        .unwrap();
    assert_eq!(store.issues().next_send_at(0).await.unwrap(), Some(1_000));
    assert_eq!(
        store.issues().next_send_at(1_000).await.unwrap(),
        Some(5_000)
    );
    assert_eq!(
        store.issues().due_drafts(999).await.unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(
        store.issues().due_drafts(5_000).await.unwrap(),
        [early, late]
    );
    assert_eq!(
        store
            .issues()
            .unschedule_due_before(2_000, "missed", 4)
            .await
            .unwrap(),
        1
    );
    let missed = store.issues().by_id(early).await.unwrap().unwrap();
    assert_eq!(
        (missed.send_at, missed.skip_reason.as_deref()),
        (None, Some("missed"))
    );
    store.issues().schedule_draft(late, None, 5).await.unwrap();
    assert_eq!(store.issues().next_send_at(0).await.unwrap(), None);
    store
        .issues()
        .change_status(late, IssueStatus::Draft, IssueStatus::Cancelled, 6)
        .await
        .unwrap();
    assert!(
        store
            .issues()
            .schedule_draft(late, Some(9_000), 7)
            .await
            .unwrap()
            .is_none(),
        "drafts only"
    );
}

crate::both_databases!(
    drafts_are_built_edited_and_found,
    a_send_queues_one_row_per_active_reader,
    drafts_are_scheduled_and_come_due,
);
