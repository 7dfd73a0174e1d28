//! Reading and writing newsletters.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::settings::NewsletterSettings;
use crate::store::{Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newsletter {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub locale: String,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub max_stories: i64,
    /// Comma-separated tag filter; empty means every story.
    pub tags: String,
    pub review_before_send: bool,
    pub skip_when_empty: bool,
    pub schedule: Option<String>,
    pub timezone: String,
    pub paused: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const NEWSLETTER_COLUMNS: &str = "id, slug, name, description, locale, sender_name, reply_to, \
     max_stories, tags, review_before_send, skip_when_empty, schedule, timezone, paused, \
     created_at, updated_at";

/// A `Newsletter` from a row of either driver: `$get` reads a column by
/// name (sqlx's `try_get`, rusqlite's `get`).
macro_rules! newsletter_from {
    ($row:ident . $get:ident) => {
        Newsletter {
            id: $row.$get("id")?,
            slug: $row.$get("slug")?,
            name: $row.$get("name")?,
            description: $row.$get("description")?,
            locale: $row.$get("locale")?,
            sender_name: $row.$get("sender_name")?,
            reply_to: $row.$get("reply_to")?,
            max_stories: $row.$get("max_stories")?,
            tags: $row.$get("tags")?,
            review_before_send: {
                let flag: i64 = $row.$get("review_before_send")?;
                flag != 0
            },
            skip_when_empty: {
                let flag: i64 = $row.$get("skip_when_empty")?;
                flag != 0
            },
            schedule: $row.$get("schedule")?,
            timezone: $row.$get("timezone")?,
            paused: {
                let flag: i64 = $row.$get("paused")?;
                flag != 0
            },
            created_at: $row.$get("created_at")?,
            updated_at: $row.$get("updated_at")?,
        }
    };
}

impl Newsletter {
    pub fn from_row(row: &AnyRow) -> Result<Newsletter, sqlx::Error> {
        Ok(newsletter_from!(row.try_get))
    }
}

/// The minimum to create a newsletter; the rest takes its defaults.
#[derive(Debug, Clone)]
pub struct NewNewsletter<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub locale: &'a str,
}

impl Store {
    pub async fn create_newsletter(
        &self,
        new: &NewNewsletter<'_>,
    ) -> Result<Newsletter, StoreError> {
        let now = now_ms();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO newsletters (slug, name, locale, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {NEWSLETTER_COLUMNS}"
        )))
        .bind(new.slug)
        .bind(new.name)
        .bind(new.locale)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(Newsletter::from_row(&row)?)
    }

    pub async fn newsletter_by_slug(&self, slug: &str) -> Result<Option<Newsletter>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NEWSLETTER_COLUMNS} FROM newsletters WHERE slug = $1"
        )))
        .bind(slug)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Newsletter::from_row).transpose()?)
    }

    pub async fn newsletters(&self) -> Result<Vec<Newsletter>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        Ok(newsletters_on(&mut conn).await?)
    }
}

/// Every newsletter, by name, read on `conn` (inside a transaction: as it
/// sees them).
pub async fn newsletters_on(conn: &mut AnyConnection) -> Result<Vec<Newsletter>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(ALL_NEWSLETTERS.as_str()))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(Newsletter::from_row).collect()
}

/// [`newsletters_on`] on SQLite's direct writer ([`crate::store::DirectWriter`]).
pub fn newsletters_on_direct(
    conn: &rusqlite::Connection,
) -> Result<Vec<Newsletter>, rusqlite::Error> {
    let mut statement = conn.prepare_cached(&ALL_NEWSLETTERS)?;
    let rows = statement.query_map([], |row| Ok(newsletter_from!(row.get)))?;
    rows.collect()
}

static ALL_NEWSLETTERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {NEWSLETTER_COLUMNS} FROM newsletters ORDER BY name")
});

impl Store {
    /// Inserts a newsletter with every setting; a taken slug is a unique
    /// violation the caller reports as a conflict.
    pub async fn insert_newsletter(
        &self,
        settings: &NewsletterSettings,
    ) -> Result<Newsletter, StoreError> {
        let now = now_ms();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO newsletters (slug, name, description, locale, sender_name, reply_to, \
             max_stories, tags, review_before_send, skip_when_empty, schedule, timezone, paused, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
             RETURNING {NEWSLETTER_COLUMNS}"
        )))
        .bind(settings.slug.as_str())
        .bind(&settings.name)
        .bind(&settings.description)
        .bind(settings.locale.as_str())
        .bind(settings.sender_name.as_deref())
        .bind(settings.reply_to.as_deref())
        .bind(settings.max_stories)
        .bind(settings.tags.to_column())
        .bind(i64::from(settings.review_before_send))
        .bind(i64::from(settings.skip_when_empty))
        .bind(settings.schedule.as_deref())
        .bind(&settings.timezone)
        .bind(i64::from(settings.paused))
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(Newsletter::from_row(&row)?)
    }

    /// Replaces every setting of newsletter `id` (the slug stays).
    pub async fn update_newsletter(
        &self,
        id: i64,
        settings: &NewsletterSettings,
    ) -> Result<Option<Newsletter>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE newsletters SET name = $1, description = $2, locale = $3, sender_name = $4, \
             reply_to = $5, max_stories = $6, tags = $7, review_before_send = $8, \
             skip_when_empty = $9, schedule = $10, timezone = $11, paused = $12, updated_at = $13 \
             WHERE id = $14 RETURNING {NEWSLETTER_COLUMNS}"
        )))
        .bind(&settings.name)
        .bind(&settings.description)
        .bind(settings.locale.as_str())
        .bind(settings.sender_name.as_deref())
        .bind(settings.reply_to.as_deref())
        .bind(settings.max_stories)
        .bind(settings.tags.to_column())
        .bind(i64::from(settings.review_before_send))
        .bind(i64::from(settings.skip_when_empty))
        .bind(settings.schedule.as_deref())
        .bind(&settings.timezone)
        .bind(i64::from(settings.paused))
        .bind(now_ms())
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Newsletter::from_row).transpose()?)
    }

    pub async fn newsletter_by_id(&self, id: i64) -> Result<Option<Newsletter>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NEWSLETTER_COLUMNS} FROM newsletters WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Newsletter::from_row).transpose()?)
    }
}
