//! The login under attack: a flood of logins with new addresses is refused
//! once the password checks are busy, one client cannot try many accounts,
//! and one account is slowed down whatever the client, never locked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use gazette::users::Role;
use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::admin::{PASSWORD, csrf_of};
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

/// A visitor with their own cookies, behind the loopback proxy that says
/// they come from `client_ip`.
struct Visitor {
    client: reqwest::Client,
    client_ip: String,
    csrf: String,
}

impl Visitor {
    async fn open(app: &TestApp, client_ip: &str) -> Visitor {
        let client = app.another_browser();
        let page = client
            .get(app.url("/admin/login"))
            .header("x-forwarded-for", client_ip)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        Visitor {
            client,
            client_ip: client_ip.to_string(),
            csrf: csrf_of(&page),
        }
    }

    async fn log_in(&self, app: &TestApp, email: &str, password: &str) -> (StatusCode, String) {
        let response = self
            .client
            .post(app.url("/admin/login"))
            .header("x-forwarded-for", &self.client_ip)
            .form(&[
                ("csrf", self.csrf.as_str()),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(
                response.headers().contains_key("retry-after"),
                "a 429 says when to come back"
            );
        }
        (status, response.text().await.unwrap())
    }
}

async fn a_login_flood_is_refused_once_the_checks_are_busy(backend: Backend) {
    // One check at a time and one waiting: the rest of a burst must be
    // refused at once rather than hashed.
    let app = spawn_app_with(backend, |s| {
        s.server.login_hash_concurrency = 1;
        s.server.login_hash_queue = 1;
    })
    .await;
    let mut visitors = Vec::new();
    for n in 0..24 {
        visitors.push(Visitor::open(&app, &format!("198.51.100.{n}")).await);
    }
    let app = Arc::new(app);
    let start = Arc::new(Barrier::new(visitors.len()));
    let attempts: Vec<_> = visitors
        .into_iter()
        .enumerate()
        .map(|(n, visitor)| {
            let (app, start) = (app.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                visitor
                    .log_in(
                        &app,
                        &format!("nobody{n}@example.org"),
                        "wrong password here",
                    )
                    .await
            })
        })
        .collect();
    let mut refused = 0;
    for attempt in attempts {
        let (status, page) = attempt.await.unwrap();
        match status {
            StatusCode::UNAUTHORIZED => assert!(page.contains("The email or password is wrong")),
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(page.contains("busy checking other logins"), "{page}");
                assert!(page.contains("name=\"password\""), "the login page again");
                refused += 1;
            }
            other => panic!("unexpected {other}: {page}"),
        }
    }
    assert!(refused > 0, "a burst of 24 checks was all hashed");
    // The flood over, logins work again.
    app.add_user("editor@example.org", Role::Editor).await;
    let visitor = Visitor::open(&app, "198.51.100.200").await;
    let (status, _) = visitor.log_in(&app, "editor@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn one_client_cannot_try_many_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let visitor = Visitor::open(&app, "203.0.113.5").await;
    for n in 0..10 {
        let (status, _) = visitor
            .log_in(
                &app,
                &format!("guess{n}@example.org"),
                "wrong password here",
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, page) = visitor
        .log_in(&app, "guess10@example.org", "wrong password here")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("from your network"), "{page}");
    // Another address of the same IPv6 /64 is the same client; another
    // client is not held back.
    let other = Visitor::open(&app, "203.0.113.6").await;
    let (status, _) = other
        .log_in(&app, "guess11@example.org", "wrong password here")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let v6 = Visitor::open(&app, "2001:db8:5:6::1").await;
    for n in 0..10 {
        v6.log_in(&app, &format!("v6{n}@example.org"), "wrong password here")
            .await;
    }
    let same_64 = Visitor::open(&app, "2001:db8:5:6:ffff::9").await;
    let (status, _) = same_64
        .log_in(&app, "v6x@example.org", "wrong password here")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

async fn an_account_is_slowed_down_from_every_client_but_never_locked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    for n in 0..5 {
        let visitor = Visitor::open(&app, &format!("192.0.2.{n}")).await;
        let (status, _) = visitor
            .log_in(&app, "editor@example.org", "wrong password here")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A sixth client at once must wait, even with the right password.
    let visitor = Visitor::open(&app, "192.0.2.99").await;
    let (status, page) = visitor.log_in(&app, "EDITOR@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("for this account"), "{page}");
    // Other accounts are not held back.
    let (status, _) = visitor
        .log_in(&app, "someone@example.org", "wrong password here")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // After the wait the right password works: slowed, not locked.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = visitor.log_in(&app, "editor@example.org", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

crate::both_databases!(
    a_login_flood_is_refused_once_the_checks_are_busy,
    one_client_cannot_try_many_accounts,
    an_account_is_slowed_down_from_every_client_but_never_locked,
);
