//! Newsletters.

use gazette::store::newsletters::{NewNewsletter, NewsletterFields, StoredWelcome};
use gazette::tags::Tags;

use super::fresh_store;
use crate::helpers::Backend;

fn fields<'a>(slug: &'a str, name: &'a str, tags: &'a Tags) -> NewsletterFields<'a> {
    NewsletterFields {
        slug,
        name,
        description: "Every morning",
        locale: "fr",
        sender_name: Some("La rédaction"),
        reply_to: Some("desk@example.org"),
        max_stories: 7,
        tags,
        review_before_send: true,
        skip_when_empty: false,
        schedule: Some("0 7 * * *"),
        timezone: "Africa/Bamako",
        paused: false,
    }
}

async fn newsletters_are_created_found_and_listed(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    assert!(!store.newsletters().any().await.unwrap());
    let minimal = NewNewsletter {
        slug: "news",
        name: "Zed News",
        locale: "en",
    };
    let news = store.newsletters().create(&minimal, 100).await.unwrap();
    assert_eq!(
        (news.slug.as_str(), news.name.as_str(), news.locale.as_str()),
        ("news", "Zed News", "en")
    );
    assert_eq!(
        (news.max_stories, news.tags.as_str(), news.schedule.clone()),
        (10, "", None)
    );
    assert!(news.skip_when_empty && !news.review_before_send && !news.paused);
    assert_eq!((news.created_at, news.updated_at), (100, 100));
    assert!(store.newsletters().any().await.unwrap());
    let taken = store.newsletters().create(&minimal, 200).await;
    assert!(taken.unwrap_err().is_unique_violation());
    // taken: nothing happens
    store
        .newsletters()
        .create_unless_taken(&minimal, 300)
        .await
        .unwrap();
    let tags = Tags::parse(&["politics".to_string()]).unwrap();
    let morning = store
        .newsletters()
        .insert(&fields("matin", "Le Matin", &tags), 400)
        .await
        .unwrap();
    assert_eq!(morning.tags, "politics");
    assert_eq!(morning.schedule.as_deref(), Some("0 7 * * *"));
    assert_eq!(
        (morning.sender_name.as_deref(), morning.reply_to.as_deref()),
        (Some("La rédaction"), Some("desk@example.org"))
    );
    assert!(morning.review_before_send && !morning.skip_when_empty);
    assert!(
        store
            .newsletters()
            .insert(&fields("matin", "Again", &tags), 1)
            .await
            .unwrap_err()
            .is_unique_violation()
    );
    assert_eq!(
        store.newsletters().by_slug("matin").await.unwrap().unwrap(),
        morning
    );
    assert_eq!(
        store.newsletters().by_id(news.id).await.unwrap().unwrap(),
        news
    );
    assert!(store.newsletters().by_slug("none").await.unwrap().is_none());
    let names: Vec<String> = store
        .newsletters()
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["Le Matin", "Zed News"], "by name");
}

async fn settings_are_replaced_but_not_the_slug(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let none = Tags::default();
    let first = store
        .newsletters()
        .insert(&fields("matin", "Le Matin", &none), 1)
        .await
        .unwrap();
    let mut changed = fields("ignored", "Le Soir", &none);
    changed.paused = true;
    changed.schedule = None;
    let updated = store
        .newsletters()
        .update(first.id, &changed, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.slug.as_str(), updated.name.as_str()),
        ("matin", "Le Soir")
    );
    assert!(updated.paused);
    assert_eq!(
        (updated.schedule, updated.updated_at, updated.created_at),
        (None, 2, 1)
    );
    assert!(
        store
            .newsletters()
            .update(first.id + 5, &changed, 3)
            .await
            .unwrap()
            .is_none()
    );
    // in a transaction, as it sees them
    let mut tx = store.begin_write().await.unwrap();
    tx.newsletters()
        .create(
            &NewNewsletter {
                slug: "tx",
                name: "Inside",
                locale: "en",
            },
            4,
        )
        .await
        .unwrap();
    assert_eq!(tx.newsletters().all().await.unwrap().len(), 2);
    tx.rollback().await.unwrap();
    assert_eq!(store.newsletters().all().await.unwrap().len(), 1);
}

async fn welcome_emails_are_kept_per_newsletter(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let new = NewNewsletter {
        slug: "news",
        name: "News",
        locale: "en",
    };
    let news = store.newsletters().create(&new, 0).await.unwrap();
    assert_eq!(
        store.newsletters().welcome(news.id).await.unwrap(),
        Some(StoredWelcome::default()),
        "none at first"
    );
    let welcome = StoredWelcome {
        subject: "Welcome".into(),
        markdown: "Hello **you**".into(),
    };
    assert!(
        store
            .newsletters()
            .set_welcome(news.id, &welcome, 9)
            .await
            .unwrap()
    );
    assert_eq!(
        store.newsletters().welcome(news.id).await.unwrap(),
        Some(welcome.clone())
    );
    assert_eq!(
        store
            .newsletters()
            .by_id(news.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        9
    );
    assert!(
        !store
            .newsletters()
            .set_welcome(news.id + 1, &welcome, 9)
            .await
            .unwrap()
    );
    assert_eq!(
        store.newsletters().welcome(news.id + 1).await.unwrap(),
        None
    );
}

crate::both_databases!(
    newsletters_are_created_found_and_listed,
    settings_are_replaced_but_not_the_slug,
    welcome_emails_are_kept_per_newsletter,
);
