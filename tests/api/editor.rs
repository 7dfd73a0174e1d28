//! Helpers for the editor API tests: an authenticated client, newsletters,
//! stories and subscribers made in one line each.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A client sending `Authorization: Bearer TOKEN`.
pub struct Editor<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn from(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }
}

impl TestApp {
    /// A fresh API token, made through the store as `gazette token create`
    /// does.
    pub async fn editor(&self) -> Editor<'_> {
        let name = format!("test-{}", rand::random::<u32>());
        let issued = gazette::api_tokens::create_token(&self.store, &name)
            .await
            .unwrap();
        Editor {
            app: self,
            token: issued.secret,
        }
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }
}

impl Editor<'_> {
    pub async fn get(&self, path: &str) -> Answer {
        Answer::from(
            self.app
                .client
                .get(self.app.url(path))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        Answer::from(
            self.app
                .client
                .post(self.app.url(path))
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        Answer::from(
            self.app
                .client
                .put(self.app.url(path))
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Creates a newsletter whose creation is moved an hour back, so stories
    /// "published ten minutes ago" fall after it without waiting.
    pub async fn newsletter(&self, slug: &str, extra: Value) -> Value {
        let mut body = json!({"slug": slug, "name": format!("News {slug}")});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                body.insert(key.clone(), value.clone());
            }
        }
        let answer = self.post("/api/newsletters", &body).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        self.backdate_newsletter(slug).await;
        answer.body
    }

    /// A newsletter with one active subscriber per address; their ids, in
    /// order.
    pub async fn newsletter_with_readers(&self, slug: &str, addresses: &[&str]) -> Vec<i64> {
        let newsletter = self.newsletter(slug, json!({})).await;
        let id = newsletter["id"].as_i64().unwrap();
        let mut readers = Vec::new();
        for address in addresses {
            readers.push(subscriber(self.app, address, "active", false, "active", id).await);
        }
        readers
    }

    /// Moves a newsletter's creation an hour back: its first issue takes
    /// the stories published after its creation, and one stamped "now"
    /// could share its millisecond.
    pub async fn backdate_newsletter(&self, slug: &str) {
        sqlx::query("UPDATE newsletters SET created_at = created_at - 3600000 WHERE slug = $1")
            .bind(slug)
            .execute(self.app.store.pool())
            .await
            .unwrap();
    }

    /// Posts a story published `minutes_ago` minutes ago; returns its id.
    pub async fn story(&self, path: &str, title: &str, minutes_ago: i64, tags: &[&str]) -> i64 {
        let published = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
        let answer = self
            .post(
                "/api/stories",
                &json!({
                    "url": format!("https://news.example.org/{path}"),
                    "title": title,
                    "summary": format!("About {title}."),
                    "published_at": published.to_rfc3339(),
                    "tags": tags,
                }),
            )
            .await;
        assert!(answer.status.is_success(), "{}", answer.body);
        answer.body["id"].as_i64().unwrap()
    }
}

/// Inserts a subscriber with the given states and subscribes it to
/// `newsletter_id`; returns its id.
pub async fn subscriber(
    app: &TestApp,
    email: &str,
    status: &str,
    paused: bool,
    subscription_status: &str,
    newsletter_id: i64,
) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO subscribers (email, email_key, status, paused, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(email)
    .bind(email.to_lowercase())
    .bind(status)
    .bind(i64::from(paused))
    .bind(now)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id)
    .bind(newsletter_id)
    .bind(subscription_status)
    .bind(now)
    .execute(app.store.pool())
    .await
    .unwrap();
    id
}
