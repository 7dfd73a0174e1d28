//! Newsletters: their rows and statements, the same on both databases.
//! What a valid setting is, and that a fresh install gets one newsletter,
//! are the `newsletters` module's rules.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::{Store, StoreError, WriteTx};
use crate::tags::Tags;

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

/// A newsletter's welcome email as stored; an empty body means none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredWelcome {
    pub subject: String,
    pub markdown: String,
}

/// The minimum to create a newsletter; the rest takes its defaults.
#[derive(Debug, Clone)]
pub struct NewNewsletter<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub locale: &'a str,
}

/// Every setting of a newsletter, as `newsletters::settings` checked them.
#[derive(Debug, Clone)]
pub struct NewsletterFields<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub locale: &'a str,
    pub sender_name: Option<&'a str>,
    pub reply_to: Option<&'a str>,
    pub max_stories: i64,
    pub tags: &'a Tags,
    pub review_before_send: bool,
    pub skip_when_empty: bool,
    pub schedule: Option<&'a str>,
    pub timezone: &'a str,
    pub paused: bool,
}

pub(super) const NEWSLETTER_COLUMNS: &str = "id, slug, name, description, locale, sender_name, \
     reply_to, max_stories, tags, review_before_send, skip_when_empty, schedule, timezone, \
     paused, created_at, updated_at";

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

pub(super) fn newsletter(row: &AnyRow) -> Result<Newsletter, sqlx::Error> {
    Ok(newsletter_from!(row.try_get))
}

static ALL_NEWSLETTERS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {NEWSLETTER_COLUMNS} FROM newsletters ORDER BY name")
});

/// Every newsletter, by name, on `conn` (the signup writer's connection,
/// until signups are written by the store).
pub(crate) async fn all_on(conn: &mut sqlx::AnyConnection) -> Result<Vec<Newsletter>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(ALL_NEWSLETTERS.as_str()))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(newsletter).collect()
}

/// Every newsletter, by name, on SQLite's direct writer (inside a group of
/// signups written there).
pub(crate) fn all_on_direct(
    conn: &rusqlite::Connection,
) -> Result<Vec<Newsletter>, rusqlite::Error> {
    let mut statement = conn.prepare_cached(&ALL_NEWSLETTERS)?;
    let rows = statement.query_map([], |row| Ok(newsletter_from!(row.get)))?;
    rows.collect()
}

impl Store {
    pub fn newsletters(&self) -> Newsletters<'_> {
        Newsletters {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn newsletters(&mut self) -> Newsletters<'_> {
        Newsletters { on: On::Tx(self) }
    }
}

pub struct Newsletters<'a> {
    on: On<'a>,
}

impl Newsletters<'_> {
    /// Every newsletter, by name (in a transaction: as it sees them).
    pub async fn all(&mut self) -> Result<Vec<Newsletter>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(ALL_NEWSLETTERS.as_str()))
            .fetch_all(&mut *conn)
            .await?;
        Ok(rows.iter().map(newsletter).collect::<Result<_, _>>()?)
    }

    pub async fn by_slug(&mut self, slug: &str) -> Result<Option<Newsletter>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NEWSLETTER_COLUMNS} FROM newsletters WHERE slug = $1"
        )))
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(newsletter).transpose()?)
    }

    pub async fn by_id(&mut self, id: i64) -> Result<Option<Newsletter>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NEWSLETTER_COLUMNS} FROM newsletters WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(newsletter).transpose()?)
    }

    /// Whether there is any newsletter at all.
    pub async fn any(&mut self) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let any: Option<i64> = sqlx::query_scalar("SELECT id FROM newsletters LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
        Ok(any.is_some())
    }

    /// A newsletter with the defaults but for these; a taken slug is a
    /// unique violation.
    pub async fn create(
        &mut self,
        new: &NewNewsletter<'_>,
        now: i64,
    ) -> Result<Newsletter, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO newsletters (slug, name, locale, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {NEWSLETTER_COLUMNS}"
        )))
        .bind(new.slug)
        .bind(new.name)
        .bind(new.locale)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(newsletter(&row)?)
    }

    /// [`Newsletters::create`] unless the slug is taken (by another instance
    /// starting at the same moment): then nothing.
    pub async fn create_unless_taken(
        &mut self,
        new: &NewNewsletter<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "INSERT INTO newsletters (slug, name, locale, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(new.slug)
        .bind(new.name)
        .bind(new.locale)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// A newsletter with every setting; a taken slug is a unique violation.
    pub async fn insert(
        &mut self,
        fields: &NewsletterFields<'_>,
        now: i64,
    ) -> Result<Newsletter, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO newsletters (slug, name, description, locale, sender_name, reply_to, \
             max_stories, tags, review_before_send, skip_when_empty, schedule, timezone, paused, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
             RETURNING {NEWSLETTER_COLUMNS}"
        )))
        .bind(fields.slug)
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.locale)
        .bind(fields.sender_name)
        .bind(fields.reply_to)
        .bind(fields.max_stories)
        .bind(fields.tags.to_column())
        .bind(i64::from(fields.review_before_send))
        .bind(i64::from(fields.skip_when_empty))
        .bind(fields.schedule)
        .bind(fields.timezone)
        .bind(i64::from(fields.paused))
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(newsletter(&row)?)
    }

    /// Replaces every setting of newsletter `id` (the slug stays); `None`
    /// when there is no such newsletter.
    pub async fn update(
        &mut self,
        id: i64,
        fields: &NewsletterFields<'_>,
        now: i64,
    ) -> Result<Option<Newsletter>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE newsletters SET name = $1, description = $2, locale = $3, sender_name = $4, \
             reply_to = $5, max_stories = $6, tags = $7, review_before_send = $8, \
             skip_when_empty = $9, schedule = $10, timezone = $11, paused = $12, updated_at = $13 \
             WHERE id = $14 RETURNING {NEWSLETTER_COLUMNS}"
        )))
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.locale)
        .bind(fields.sender_name)
        .bind(fields.reply_to)
        .bind(fields.max_stories)
        .bind(fields.tags.to_column())
        .bind(i64::from(fields.review_before_send))
        .bind(i64::from(fields.skip_when_empty))
        .bind(fields.schedule)
        .bind(fields.timezone)
        .bind(i64::from(fields.paused))
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(newsletter).transpose()?)
    }

    /// The welcome email of newsletter `id`; `None` when there is no such
    /// newsletter.
    pub async fn welcome(&mut self, id: i64) -> Result<Option<StoredWelcome>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT welcome_subject, welcome_markdown FROM newsletters WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.map(|(subject, markdown)| StoredWelcome { subject, markdown }))
    }

    /// Replaces the welcome email of newsletter `id` (empty: none); false
    /// when there is no such newsletter.
    pub async fn set_welcome(
        &mut self,
        id: i64,
        welcome: &StoredWelcome,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let changed = sqlx::query(
            "UPDATE newsletters SET welcome_subject = $1, welcome_markdown = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(&welcome.subject)
        .bind(&welcome.markdown)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }
}
