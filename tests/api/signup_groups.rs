//! Signups written in groups (group commit): a group keeps exactly what
//! writing its signups one at a time would keep. A signup the database
//! refuses fails alone and leaves nothing behind; the same address twice in
//! one group is one subscriber and one email; known addresses follow their
//! own rules inside the group. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::subscriptions::signup::{SignupError, SignupOutcome, SignupWriter};
use gazette::subscriptions::{
    ClientMeta, ConsentSource, NewsletterSlug, SignupRequest, SubscriberEmail, SubscriberName,
};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

fn request(email: &str, name: Option<&str>, newsletters: &[&str]) -> SignupRequest {
    SignupRequest {
        email: SubscriberEmail::parse(email).unwrap(),
        name: name.and_then(|n| SubscriberName::parse(n).unwrap()),
        newsletters: newsletters
            .iter()
            .map(|slug| NewsletterSlug::parse(slug).unwrap())
            .collect(),
        source: ConsentSource::Api,
        client: ClientMeta::default(),
    }
}

fn writer(app: &TestApp) -> SignupWriter {
    SignupWriter::new(app.store.clone())
}

impl TestApp {
    async fn rows_about(&self, table: &'static str, email_key: &str) -> i64 {
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE subscriber_id IN \
             (SELECT id FROM subscribers WHERE email_key = $1)"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(email_key)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    async fn signups_counted_today(&self) -> i64 {
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(signups), 0) AS BIGINT) FROM daily_stats")
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    /// Makes the database itself refuse to queue mail to `recipient`, after
    /// the signup's other rows were written in the same transaction.
    async fn refuse_mail_to(&self, recipient: &str) {
        let statements = match self.backend {
            Backend::Sqlite => vec![format!(
                "CREATE TRIGGER refuse_mail BEFORE INSERT ON deliveries \
                 WHEN NEW.recipient = '{recipient}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )],
            Backend::Postgres => vec![
                format!(
                    "CREATE FUNCTION refuse_mail() RETURNS trigger AS $$ BEGIN \
                     IF NEW.recipient = '{recipient}' THEN \
                     RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END \
                     $$ LANGUAGE plpgsql"
                ),
                "CREATE TRIGGER refuse_mail BEFORE INSERT ON deliveries FOR EACH ROW \
                 EXECUTE FUNCTION refuse_mail()"
                    .to_owned(),
            ],
        };
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(self.store.pool())
                .await
                .unwrap();
        }
    }
}

async fn a_refused_signup_fails_alone_and_leaves_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.refuse_mail_to("refused@example.org").await;
    let group = [
        request("first@example.org", Some("First"), &[]),
        request("refused@example.org", None, &[]),
        request("second@example.org", None, &["news"]),
        request("third@example.org", None, &[]),
    ];
    let results = writer(&app).write(&group).await;
    assert_eq!(results.len(), 4);
    assert!(
        matches!(results[1], Err(SignupError::Store(_))),
        "{:?}",
        results[1]
    );
    for index in [0, 2, 3] {
        assert!(
            matches!(results[index], Ok(SignupOutcome::ConfirmationQueued)),
            "signup {index}: {:?}",
            results[index]
        );
    }
    for key in [
        "first@example.org",
        "second@example.org",
        "third@example.org",
    ] {
        assert_eq!(app.subscriber_status(key).await.as_deref(), Some("pending"));
        assert_eq!(app.rows_about("subscriptions", key).await, 1, "{key}");
        assert_eq!(app.rows_about("consent_events", key).await, 1, "{key}");
        assert_eq!(app.rows_about("confirmation_tokens", key).await, 1, "{key}");
        assert_eq!(app.confirmation_mails(key).await, 1, "{key}");
    }
    // nothing half-written for the refused one, and counted once each
    assert_eq!(app.subscriber_status("refused@example.org").await, None);
    assert_eq!(app.count_rows("subscribers").await, 3);
    assert_eq!(app.count_rows("subscriptions").await, 3);
    assert_eq!(app.count_rows("consent_events").await, 3);
    assert_eq!(app.count_rows("confirmation_tokens").await, 3);
    assert_eq!(app.signups_counted_today().await, 3);
    // the email greets by name and links a token that confirms
    let html = app.newest_mail_part("first@example.org", "text/html").await;
    assert!(html.contains("First"), "{html}");
    assert_eq!(app.confirm("first@example.org").await.status(), 200);
    assert_eq!(
        app.subscriber_status("first@example.org").await.as_deref(),
        Some("active")
    );
}

async fn the_same_address_twice_in_a_group_is_one_subscriber_and_one_mail(backend: Backend) {
    let app = spawn_app(backend).await;
    let group = [
        request("twice@example.org", Some("Ann"), &[]),
        request("other@example.org", None, &[]),
        request("TWICE@example.org", None, &["news"]),
    ];
    let results = writer(&app).write(&group).await;
    let outcomes: Vec<_> = results.iter().map(|r| r.as_ref().ok().copied()).collect();
    assert_eq!(
        outcomes,
        [
            Some(SignupOutcome::ConfirmationQueued),
            Some(SignupOutcome::ConfirmationQueued),
            Some(SignupOutcome::ConfirmationRecentlySent),
        ]
    );
    assert_eq!(app.count_rows("subscribers").await, 2);
    assert_eq!(
        app.rows_about("subscriptions", "twice@example.org").await,
        1
    );
    // both asked, so both are in the consent record
    assert_eq!(
        app.rows_about("consent_events", "twice@example.org").await,
        2
    );
    assert_eq!(app.confirmation_mails("twice@example.org").await, 1);
    assert_eq!(app.signups_counted_today().await, 2);
}

async fn known_addresses_keep_their_rules_inside_a_group(backend: Backend) {
    let app = spawn_app(backend).await;
    app.subscribe_and_confirm("confirmed@example.org").await;
    app.subscribe_and_confirm("bounced@example.org").await;
    sqlx::query("UPDATE subscribers SET status = 'bounced' WHERE email_key = $1")
        .bind("bounced@example.org")
        .execute(app.store.pool())
        .await
        .unwrap();
    let response = app
        .post_subscription(&json!({"email": "pending@example.org"}))
        .await;
    assert_eq!(response.status(), 202);
    let mails_before = app.count_rows("deliveries").await;
    let group = [
        request("confirmed@example.org", None, &[]),
        request("new@example.org", None, &[]),
        request("bounced@example.org", None, &[]),
        request("unknown-list@example.org", None, &["nope"]),
        request("pending@example.org", None, &[]),
    ];
    let results = writer(&app).write(&group).await;
    assert_eq!(
        results[0].as_ref().ok(),
        Some(&SignupOutcome::AlreadySubscribed)
    );
    assert_eq!(
        results[1].as_ref().ok(),
        Some(&SignupOutcome::ConfirmationQueued)
    );
    // its subscription is still active: nothing to ask, and the savepoint
    // undoes the reopening, so it stays bounced
    assert_eq!(
        results[2].as_ref().ok(),
        Some(&SignupOutcome::AlreadySubscribed)
    );
    assert_eq!(
        app.subscriber_status("bounced@example.org")
            .await
            .as_deref(),
        Some("bounced")
    );
    assert!(
        matches!(&results[3], Err(SignupError::Invalid(e)) if e.field == "newsletters"),
        "{:?}",
        results[3]
    );
    assert_eq!(
        app.subscriber_status("unknown-list@example.org").await,
        None
    );
    assert_eq!(
        results[4].as_ref().ok(),
        Some(&SignupOutcome::ConfirmationRecentlySent)
    );
    // one new mail: the new address's
    assert_eq!(app.count_rows("deliveries").await, mails_before + 1);
    assert_eq!(app.confirmation_mails("new@example.org").await, 1);
}

/// Many signups at once through HTTP go through the queue in groups; each
/// gets its answer after its rows are committed.
async fn concurrent_signups_are_all_committed(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.signup_per_ip_per_minute = 1000;
        s.server.signup_ip_burst = 1000;
    })
    .await;
    let posts = (0..60).map(|i| {
        // every tenth address comes twice
        let email = format!("burst-{}@example.org", if i % 10 == 9 { i - 1 } else { i });
        let app = &app;
        async move { app.post_subscription(&json!({"email": email})).await }
    });
    for response in futures_util::future::join_all(posts).await {
        assert_eq!(response.status(), 202);
    }
    assert_eq!(app.count_rows("subscribers").await, 54);
    assert_eq!(app.count_rows("subscriptions").await, 54);
    assert_eq!(app.count_rows("confirmation_tokens").await, 54);
    assert_eq!(app.count_rows("consent_events").await, 60);
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deliveries WHERE kind = 'confirmation'")
            .fetch_one(app.store.pool())
            .await
            .unwrap(),
        54
    );
    assert_eq!(app.signups_counted_today().await, 54);
}

/// A group of new addresses on PostgreSQL commits without waiting for the
/// log's flush (`synchronous_commit` off for its own transaction): the
/// pooled connection it ran on must keep the durability everything else
/// commits with, the server's own setting. The pool holds one connection,
/// so the one looked at is the group's. On SQLite the pooled connection
/// keeps `synchronous = NORMAL`.
async fn a_groups_relaxed_commit_stays_in_its_transaction(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.database.max_connections = 1).await;
    let group = [
        request("one@example.org", None, &[]),
        request("two@example.org", None, &[]),
    ];
    for result in writer(&app).write(&group).await {
        assert!(
            matches!(result, Ok(SignupOutcome::ConfirmationQueued)),
            "{result:?}"
        );
    }
    assert_eq!(app.count_rows("subscribers").await, 2);
    assert_eq!(app.store.pool().size(), 1);
    let mut conn = app.store.pool().acquire().await.unwrap();
    let (now, configured) = match backend {
        Backend::Postgres => sqlx::query_as::<_, (String, String)>(
            "SELECT setting, reset_val FROM pg_settings WHERE name = 'synchronous_commit'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap(),
        Backend::Sqlite => {
            let level = sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            (level.to_string(), "1".to_owned())
        }
    };
    assert_eq!(now, configured);
}

crate::both_databases!(
    a_refused_signup_fails_alone_and_leaves_nothing,
    the_same_address_twice_in_a_group_is_one_subscriber_and_one_mail,
    known_addresses_keep_their_rules_inside_a_group,
    concurrent_signups_are_all_committed,
    a_groups_relaxed_commit_stays_in_its_transaction,
);
