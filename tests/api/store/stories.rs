//! Stories.

use gazette::store::stories::NewStory;
use gazette::tags::Tags;

use super::fresh_store;
use crate::helpers::Backend;

fn story(url: &str, published_at: i64, tags: &[&str]) -> NewStory {
    NewStory {
        url: url.to_string(),
        external_id: None,
        feed_id: None,
        title: format!("About {url}"),
        summary: Some("A summary.".into()),
        image_url: None,
        author: Some("Ann".into()),
        tags: Tags::parse(&tags.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap(),
        published_at,
    }
}

async fn stories_are_inserted_found_and_changed(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let mut new = story("https://x.org/a", 100, &["city", "sport"]);
    new.external_id = Some("cms-1".into());
    let a = store.stories().insert(&new, 1_000).await.unwrap();
    assert_eq!(
        (a.url.as_str(), a.published_at, a.hidden),
        ("https://x.org/a", 100, false)
    );
    assert_eq!((a.created_at, a.updated_at), (1_000, 1_000));
    assert_eq!(a.tags.as_slice(), ["city", "sport"]);
    assert_eq!(store.stories().by_id(a.id).await.unwrap().unwrap(), a);
    assert_eq!(
        store
            .stories()
            .by_external_id("cms-1")
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    assert!(
        store
            .stories()
            .by_external_id("cms-2")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.stories().id_by_url("https://x.org/a").await.unwrap(),
        Some(a.id)
    );
    assert_eq!(
        store.stories().id_by_url("https://x.org/b").await.unwrap(),
        None
    );
    // a URL or an external id is one story's
    let same_url = store
        .stories()
        .insert(&story("https://x.org/a", 1, &[]), 2)
        .await;
    assert!(same_url.unwrap_err().is_unique_violation());
    // replaced as its source sends it: the external id stays when none is sent
    let mut resent = story("https://x.org/a2", 200, &[]);
    resent.title = "Renamed".into();
    let replaced = store.stories().replace(a.id, &resent, 2_000).await.unwrap();
    assert_eq!(
        (replaced.url.as_str(), replaced.title.as_str()),
        ("https://x.org/a2", "Renamed")
    );
    assert_eq!((replaced.published_at, replaced.updated_at), (200, 2_000));
    assert_eq!(replaced.external_id.as_deref(), Some("cms-1"));
    // the content alone: URL and publication time kept
    let mut content = story("https://elsewhere.org", 999, &["new"]);
    content.title = "Content only".into();
    store
        .stories()
        .update_content(a.id, &content, 3_000)
        .await
        .unwrap();
    let updated = store.stories().by_id(a.id).await.unwrap().unwrap();
    assert_eq!(
        (updated.url.as_str(), updated.published_at),
        ("https://x.org/a2", 200)
    );
    assert_eq!(
        (updated.title.as_str(), updated.tags.as_slice()),
        ("Content only", &["new".to_string()][..])
    );
    // an editor's edit, hidden with it
    let edited = store
        .stories()
        .edit(a.id, &story("https://x.org/a3", 5, &[]), true, 4_000)
        .await
        .unwrap()
        .unwrap();
    assert!(edited.hidden);
    assert_eq!(
        (edited.url.as_str(), edited.published_at),
        ("https://x.org/a3", 200)
    );
    assert!(
        store
            .stories()
            .edit(a.id + 9, &content, false, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.stories().toggle_hidden(a.id, 5_000).await.unwrap());
    assert!(!store.stories().by_id(a.id).await.unwrap().unwrap().hidden);
    assert!(
        !store
            .stories()
            .toggle_hidden(a.id + 9, 5_000)
            .await
            .unwrap()
    );
}

async fn a_transaction_rolled_back_leaves_no_story(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let mut tx = store.begin_write().await.unwrap();
    let inside = tx
        .stories()
        .insert(&story("https://x.org/t", 1, &[]), 1)
        .await
        .unwrap();
    assert_eq!(
        tx.stories().id_by_url("https://x.org/t").await.unwrap(),
        Some(inside.id)
    );
    tx.rollback().await.unwrap();
    assert!(store.stories().by_id(inside.id).await.unwrap().is_none());
}

async fn stories_are_listed_searched_and_selected(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let old = store
        .stories()
        .insert(&story("https://x.org/old", 100, &["city"]), 1)
        .await
        .unwrap();
    let mid = store
        .stories()
        .insert(&story("https://x.org/Mid_1", 200, &["sport"]), 1)
        .await
        .unwrap();
    let new = store
        .stories()
        .insert(&story("https://x.org/new", 300, &[]), 1)
        .await
        .unwrap();
    let ids = |stories: Vec<gazette::store::stories::Story>| -> Vec<i64> {
        stories.iter().map(|s| s.id).collect()
    };
    assert_eq!(
        ids(store.stories().published_since(None, 10).await.unwrap()),
        [new.id, mid.id, old.id]
    );
    assert_eq!(
        ids(store
            .stories()
            .published_since(Some(150), 10)
            .await
            .unwrap()),
        [new.id, mid.id]
    );
    assert_eq!(
        ids(store.stories().published_since(None, 1).await.unwrap()),
        [new.id]
    );
    // title or URL, case ignored, `_` literal
    assert_eq!(
        ids(store.stories().search("mid_1", 10).await.unwrap()),
        [mid.id]
    );
    assert!(store.stories().search("mid%", 10).await.unwrap().is_empty());
    assert_eq!(store.stories().search("", 10).await.unwrap().len(), 3);

    // an issue's selection: the window, the tags, shown only, not sent before
    sqlx::query(
        "INSERT INTO newsletters (slug, name, created_at, updated_at) VALUES ('n', 'N', 0, 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let newsletter: i64 = sqlx::query_scalar("SELECT id FROM newsletters WHERE slug = 'n'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let none = Tags::default();
    let selectable = |tags: Tags, since: i64, until: i64| {
        let store = store.clone();
        async move {
            store
                .stories()
                .selectable(newsletter, &tags, since, until, 10)
                .await
                .unwrap()
                .iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        selectable(none.clone(), 0, 1_000).await,
        [new.id, mid.id, old.id]
    );
    assert_eq!(
        selectable(none.clone(), 100, 250).await,
        [mid.id],
        "(since, until]"
    );
    let city = Tags::parse(&["city".to_string(), "nothing".to_string()]).unwrap();
    assert_eq!(selectable(city, 0, 1_000).await, [old.id]);
    store.stories().toggle_hidden(new.id, 1).await.unwrap();
    assert_eq!(selectable(none.clone(), 0, 1_000).await, [mid.id, old.id]);
    sqlx::query("INSERT INTO issues (newsletter_id, status, created_at, updated_at) VALUES ($1, 'sent', 0, 0)")
        .bind(newsletter)
        .execute(store.pool())
        .await
        .unwrap();
    let issue: i64 = sqlx::query_scalar("SELECT id FROM issues")
        .fetch_one(store.pool())
        .await
        .unwrap();
    for (position, story) in [(0, old.id), (1, mid.id)] {
        sqlx::query("INSERT INTO issue_stories (issue_id, newsletter_id, story_id, position) VALUES ($1, $2, $3, $4)")
            .bind(issue)
            .bind(newsletter)
            .bind(story)
            .bind(position)
            .execute(store.pool())
            .await
            .unwrap();
    }
    assert!(selectable(none, 0, 1_000).await.is_empty(), "sent before");
    assert_eq!(
        ids(store.stories().of_issue(issue).await.unwrap()),
        [old.id, mid.id],
        "in its order"
    );
    let of_issues = store
        .stories()
        .of_issues(&[issue, issue + 1])
        .await
        .unwrap();
    assert_eq!(
        of_issues
            .iter()
            .map(|(of, story)| (*of, story.id))
            .collect::<Vec<_>>(),
        [(issue, old.id), (issue, mid.id)],
        "each with its issue, in its order"
    );
    assert!(store.stories().of_issues(&[]).await.unwrap().is_empty());
}

crate::both_databases!(
    stories_are_inserted_found_and_changed,
    a_transaction_rolled_back_leaves_no_story,
    stories_are_listed_searched_and_selected,
);
