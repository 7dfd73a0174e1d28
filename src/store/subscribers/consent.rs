//! The consent record: who asked for what, when, and from where. Kept for
//! as long as the subscriber (erasing them erases it).

use sqlx::Row;

use super::Subscribers;
use crate::store::{StoreError, now_ms};

/// What a request says about where it came from, for the consent record.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Where a consent event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSource {
    /// The hosted or embedded form.
    Form,
    /// `POST /api/subscriptions`.
    Api,
    /// `gazette subscribers import`.
    Import,
    /// A confirmation or unsubscribe page.
    Link,
    /// The RFC 8058 one-click POST from a mail client.
    OneClick,
    /// The preferences page.
    Preferences,
    /// A spam complaint (a feedback loop's ARF report or a provider's).
    Complaint,
}

impl ConsentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Form => "form",
            ConsentSource::Api => "api",
            ConsentSource::Import => "import",
            ConsentSource::Link => "link",
            ConsentSource::OneClick => "one_click",
            ConsentSource::Preferences => "preferences",
            ConsentSource::Complaint => "complaint",
        }
    }
}

/// What happened, in the consent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    Signup,
    Confirm,
    Unsubscribe,
    /// Newsletters chosen or dropped on the preferences page.
    Preferences,
    Pause,
    Resume,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Signup => "signup",
            ConsentKind::Confirm => "confirm",
            ConsentKind::Unsubscribe => "unsubscribe",
            ConsentKind::Preferences => "preferences",
            ConsentKind::Pause => "pause",
            ConsentKind::Resume => "resume",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub kind: String,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub at: i64,
}

impl Subscribers<'_> {
    pub async fn record_consent(
        &mut self,
        subscriber_id: i64,
        kind: ConsentKind,
        source: ConsentSource,
        client: &ClientMeta,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "INSERT INTO consent_events (subscriber_id, kind, source, ip, user_agent, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(subscriber_id)
        .bind(kind.as_str())
        .bind(source.as_str())
        .bind(client.ip.as_deref())
        .bind(client.user_agent.as_deref())
        .bind(detail)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The subscriber's consent record, oldest first.
    pub async fn consent_events_of(
        &mut self,
        subscriber_id: i64,
    ) -> Result<Vec<ConsentEvent>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(
            "SELECT kind, source, ip, user_agent, detail, at FROM consent_events \
             WHERE subscriber_id = $1 ORDER BY at, id",
        )
        .bind(subscriber_id)
        .fetch_all(&mut *conn)
        .await?;
        let events = rows
            .iter()
            .map(|row| {
                Ok(ConsentEvent {
                    kind: row.try_get("kind")?,
                    source: row.try_get("source")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                    detail: row.try_get("detail")?,
                    at: row.try_get("at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(events)
    }
}
