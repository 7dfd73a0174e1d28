//! The admin's story edit (the same rules as the API) and user management
//! (admins only; never yourself, never the last admin), on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::users::Role;
use reqwest::StatusCode;

use crate::admin::PASSWORD;
use crate::helpers::{Backend, TestApp, spawn_app};

async fn user_id(app: &TestApp, email: &str) -> Option<i64> {
    app.store
        .users()
        .by_email(email)
        .await
        .unwrap()
        .map(|u| u.id)
}

async fn story_is_edited_with_the_same_rules_as_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let id = editor.story("a", "Bridge reopens", 30, &["city"]).await;
    editor.story("b", "Market day moves", 20, &[]).await;
    let before = app.store.stories().by_id(id).await.unwrap().unwrap();
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let path = format!("/admin/stories/{id}");
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains("value=\"Bridge reopens\"") && page.contains("value=\"city\""));
    let csrf = app.admin_csrf().await;

    let form = |url: &'static str, image: &'static str, title: &'static str| {
        vec![
            ("url", url),
            ("title", title),
            ("summary", "<p>The bridge <b>reopens</b> today.</p>"),
            ("image_url", image),
            ("author", "Awa"),
            ("tags", "City, transport"),
            ("hidden", "1"),
        ]
    };
    for (bad, problem) in [
        (
            form("javascript:alert(1)", "", "Title"),
            "url: must be an absolute http or https URL",
        ),
        (
            form(
                "https://news.example.org/a",
                "ftp://x.example/i.png",
                "Title",
            ),
            "image_url",
        ),
        (
            form("https://news.example.org/a", "", ""),
            "title: is required",
        ),
        (
            form("https://news.example.org/b", "", "Title"),
            "Another story already has this URL",
        ),
    ] {
        let mut fields = bad.clone();
        fields.push(("csrf", &csrf));
        let refused = app.admin_post(&path, &fields).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let text = refused.text().await.unwrap();
        assert!(text.contains(problem), "{problem}: {text}");
        assert_eq!(
            app.store.stories().by_id(id).await.unwrap().unwrap(),
            before
        );
    }

    let mut good = form(
        "https://news.example.org/a-new",
        "https://img.example.org/bridge.jpg",
        "Bridge reopens at last",
    );
    good.push(("csrf", &csrf));
    let saved = app.admin_post(&path, &good).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let story = app.store.stories().by_id(id).await.unwrap().unwrap();
    assert_eq!(story.title, "Bridge reopens at last");
    assert_eq!(story.url, "https://news.example.org/a-new");
    assert_eq!(story.summary.as_deref(), Some("The bridge reopens today."));
    assert_eq!(
        story.image_url.as_deref(),
        Some("https://img.example.org/bridge.jpg")
    );
    assert_eq!(story.tags.as_slice(), ["city", "transport"]);
    assert!(story.hidden);
    assert_eq!(story.published_at, before.published_at, "publication kept");

    // Unticking "hidden" shows it again.
    good.retain(|(name, _)| *name != "hidden");
    app.admin_post(&path, &good).await;
    assert!(!app.store.stories().by_id(id).await.unwrap().unwrap().hidden);
    let api = editor
        .get(&format!("/api/stories?since={}", "2000-01-01T00:00:00Z"))
        .await;
    assert!(api.body.to_string().contains("Bridge reopens at last"));
    app.stop().await;
}

async fn admins_manage_users_and_editors_cannot(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("chief@example.org", Role::Admin).await;
    app.add_user("desk@example.org", Role::Editor).await;
    let desk = user_id(&app, "desk@example.org").await.unwrap();
    let chief = user_id(&app, "chief@example.org").await.unwrap();

    // An editor gets a 403 page on every user route, and changes nothing.
    app.log_in("desk@example.org", PASSWORD).await;
    let csrf = app.admin_csrf().await;
    assert_eq!(
        app.get("/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );
    for (path, fields) in [
        (
            "/admin/users".to_string(),
            vec![
                ("email", "sneaky@example.org"),
                ("role", "admin"),
                ("password", "a long enough password"),
            ],
        ),
        (format!("/admin/users/{desk}/role"), vec![("role", "admin")]),
        (format!("/admin/users/{chief}/remove"), vec![]),
    ] {
        let mut fields = fields;
        fields.push(("csrf", &csrf));
        let refused = app.admin_post(&path, &fields).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(refused.text().await.unwrap().contains("Admins only"));
    }
    assert!(user_id(&app, "sneaky@example.org").await.is_none());
    assert_eq!(
        app.store.users().by_id(desk).await.unwrap().unwrap().role,
        Role::Editor
    );
    app.admin_post("/admin/logout", &[("csrf", &csrf)]).await;

    // The admin adds a user, who can log in with that password.
    app.log_in("chief@example.org", PASSWORD).await;
    let csrf = app.admin_csrf().await;
    let page = app.get("/admin/users").await.text().await.unwrap();
    assert!(page.contains("desk@example.org") && page.contains("(you)"));
    let weak = app
        .admin_post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("email", "new@example.org"),
                ("role", "editor"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert!(
        weak.text()
            .await
            .unwrap()
            .contains("at least 12 characters")
    );
    let taken = app
        .admin_post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("email", "Desk@example.org"),
                ("role", "editor"),
                ("password", "another long password"),
            ],
        )
        .await;
    assert_eq!(taken.status(), StatusCode::BAD_REQUEST);
    assert!(taken.text().await.unwrap().contains("already exists"));
    let added = app
        .admin_post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("email", "New@Example.org"),
                ("role", "editor"),
                ("password", "another long password"),
            ],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let new = app
        .store
        .users()
        .by_email("new@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.role, Role::Editor);
    assert!(!new.password_hash.contains("another long password"));

    // Not yourself; not the last admin.
    let own = app
        .admin_post(
            &format!("/admin/users/{chief}/role"),
            &[("csrf", &csrf), ("role", "editor")],
        )
        .await;
    assert_eq!(own.status(), StatusCode::CONFLICT);
    let own = app
        .admin_post(&format!("/admin/users/{chief}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(own.status(), StatusCode::CONFLICT);
    assert!(own.text().await.unwrap().contains("cannot remove yourself"));
    assert!(user_id(&app, "chief@example.org").await.is_some());

    // Promote desk, then desk may demote chief, but not themselves when
    // they are the last admin.
    let promoted = app
        .admin_post(
            &format!("/admin/users/{desk}/role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.store.users().by_id(desk).await.unwrap().unwrap().role,
        Role::Admin
    );
    let removed = app
        .admin_post(
            &format!("/admin/users/{}/remove", new.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(user_id(&app, "new@example.org").await.is_none());
    // The last-admin rule holds in the store whoever asks.
    assert!(
        gazette::users::change_role(&app.store, desk, chief, Role::Editor)
            .await
            .is_ok()
    );
    let last = gazette::users::remove_user(&app.store, chief, desk).await;
    assert!(
        matches!(last, Err(gazette::users::UserError::LastAdmin)),
        "{last:?}"
    );
    // chief, now an editor, is logged out at once: a role change ends the
    // sessions started under the old role.
    let after = app.get("/admin/users").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(
        after.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/login"),
        "{:?}",
        after.headers()
    );
    app.stop().await;
}

/// The stories page lists every feed with its last poll and last error.
async fn stories_page_shows_each_feeds_last_poll_and_error(backend: Backend) {
    let app = spawn_app(backend).await;
    for (url, polled, error) in [
        (
            "https://ok.example.org/feed.xml",
            Some(1_700_000_000_000_i64),
            None,
        ),
        (
            "https://broken.example.org/feed.xml",
            Some(1_700_000_600_000),
            Some("HTTP 503 from the feed"),
        ),
        ("https://new.example.org/feed.xml", None, None),
    ] {
        sqlx::query(
            "INSERT INTO feeds (url, last_polled_at, last_error, created_at) VALUES ($1, $2, $3, 0)",
        )
        .bind(url)
        .bind(polled)
        .bind(error)
        .execute(app.store.pool())
        .await
        .unwrap();
    }
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let page = app.get("/admin/stories").await.text().await.unwrap();
    let feeds = page.split("<h2 id=\"feeds\">Feeds</h2>").nth(1).unwrap();
    let row = |url: &str| {
        // The address is shown twice (as the title when there is none, and
        // under it): the row's cells come after the last.
        let row = feeds
            .rsplit(url)
            .next()
            .filter(|_| feeds.contains(url))
            .unwrap_or_else(|| panic!("{url}: {feeds}"));
        row[..row.find("</tr>").unwrap()].to_string()
    };
    assert!(row("ok.example.org").contains("2023-11-14"), "{feeds}");
    let broken = row("broken.example.org");
    assert!(
        broken.contains("2023-11-14") && broken.contains("HTTP 503 from the feed"),
        "{broken}"
    );
    assert!(
        row("new.example.org").contains("not polled yet"),
        "never polled: {feeds}"
    );
    app.stop().await;
}

crate::both_databases!(
    story_is_edited_with_the_same_rules_as_the_api,
    admins_manage_users_and_editors_cannot,
    stories_page_shows_each_feeds_last_poll_and_error,
);
