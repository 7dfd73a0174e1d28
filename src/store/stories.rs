//! Stories: their rows and statements, the same on both databases. A story
//! is one row per URL, and may also be named by its client's own id
//! (`external_id`; feed items are `feed:<feed_id>:<guid>`). How a story
//! sent again is matched and what changes is the `stories` module's rule,
//! written once on a transaction ([`super::WriteTx::stories`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::{Store, StoreError, WriteTx, escape_like};
use crate::tags::Tags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    pub id: i64,
    pub url: String,
    pub external_id: Option<String>,
    pub feed_id: Option<i64>,
    pub title: String,
    pub summary: Option<String>,
    pub image_url: Option<String>,
    pub author: Option<String>,
    pub tags: Tags,
    pub published_at: i64,
    pub hidden: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A story ready to store (every field checked by `stories::input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStory {
    pub url: String,
    pub external_id: Option<String>,
    pub feed_id: Option<i64>,
    pub title: String,
    pub summary: Option<String>,
    pub image_url: Option<String>,
    pub author: Option<String>,
    pub tags: Tags,
    pub published_at: i64,
}

const STORY_COLUMNS: &str = "id, url, external_id, feed_id, title, summary, \
     image_url, author, tags, published_at, hidden, created_at, updated_at";

fn story(row: &AnyRow) -> Result<Story, sqlx::Error> {
    Ok(Story {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        external_id: row.try_get("external_id")?,
        feed_id: row.try_get("feed_id")?,
        title: row.try_get("title")?,
        summary: row.try_get("summary")?,
        image_url: row.try_get("image_url")?,
        author: row.try_get("author")?,
        tags: Tags::from_column(&row.try_get::<String, _>("tags")?),
        published_at: row.try_get("published_at")?,
        hidden: row.try_get::<i64, _>("hidden")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub fn stories(&self) -> Stories<'_> {
        Stories {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn stories(&mut self) -> Stories<'_> {
        Stories { on: On::Tx(self) }
    }
}

pub struct Stories<'a> {
    on: On<'a>,
}

impl Stories<'_> {
    pub async fn by_id(&mut self, id: i64) -> Result<Option<Story>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(story).transpose()?)
    }

    pub async fn by_external_id(&mut self, external_id: &str) -> Result<Option<Story>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE external_id = $1"
        )))
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(story).transpose()?)
    }

    pub async fn id_by_url(&mut self, url: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar("SELECT id FROM stories WHERE url = $1")
            .bind(url)
            .fetch_optional(&mut *conn)
            .await?)
    }

    /// A new story, shown; a URL or external id another story has is a
    /// unique violation.
    pub async fn insert(&mut self, new: &NewStory, now: i64) -> Result<Story, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO stories (url, external_id, feed_id, title, summary, image_url, author, \
             tags, published_at, hidden, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) RETURNING {STORY_COLUMNS}"
        )))
        .bind(&new.url)
        .bind(new.external_id.as_deref())
        .bind(new.feed_id)
        .bind(&new.title)
        .bind(new.summary.as_deref())
        .bind(new.image_url.as_deref())
        .bind(new.author.as_deref())
        .bind(new.tags.to_column())
        .bind(new.published_at)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(story(&row)?)
    }

    /// Story `id` as its source sends it now: every field, the external id
    /// kept when none is sent.
    pub async fn replace(
        &mut self,
        id: i64,
        new: &NewStory,
        now: i64,
    ) -> Result<Story, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE stories SET url = $1, external_id = COALESCE($2, external_id), \
             title = $3, summary = $4, image_url = $5, author = $6, tags = $7, \
             published_at = $8, updated_at = $9 WHERE id = $10 RETURNING {STORY_COLUMNS}"
        )))
        .bind(&new.url)
        .bind(new.external_id.as_deref())
        .bind(&new.title)
        .bind(new.summary.as_deref())
        .bind(new.image_url.as_deref())
        .bind(new.author.as_deref())
        .bind(new.tags.to_column())
        .bind(new.published_at)
        .bind(now)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(story(&row)?)
    }

    /// Story `id`'s content (title, summary, image, author, tags), its URL
    /// and publication time kept.
    pub async fn update_content(
        &mut self,
        id: i64,
        new: &NewStory,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE stories SET title = $1, summary = $2, image_url = $3, author = $4, \
             tags = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&new.title)
        .bind(new.summary.as_deref())
        .bind(new.image_url.as_deref())
        .bind(new.author.as_deref())
        .bind(new.tags.to_column())
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// An editor's edit: every field the admin form has, the publication
    /// time kept. `None` when there is no such story; a URL another story
    /// has is a unique violation.
    pub async fn edit(
        &mut self,
        id: i64,
        new: &NewStory,
        hidden: bool,
        now: i64,
    ) -> Result<Option<Story>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE stories SET url = $1, title = $2, summary = $3, image_url = $4, author = $5, \
             tags = $6, hidden = $7, updated_at = $8 WHERE id = $9 RETURNING {STORY_COLUMNS}"
        )))
        .bind(&new.url)
        .bind(&new.title)
        .bind(new.summary.as_deref())
        .bind(new.image_url.as_deref())
        .bind(new.author.as_deref())
        .bind(new.tags.to_column())
        .bind(i64::from(hidden))
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(story).transpose()?)
    }

    /// Flips a story's `hidden` flag; false when there is no such story.
    pub async fn toggle_hidden(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let done =
            sqlx::query("UPDATE stories SET hidden = 1 - hidden, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The stories a new issue of newsletter `newsletter_id` may carry:
    /// published in (`since`, `until`], shown, in no issue of that
    /// newsletter yet, with one of `tags` when there are any; newest first,
    /// at most `limit`.
    pub async fn selectable(
        &mut self,
        newsletter_id: i64,
        tags: &Tags,
        since: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<Story>, StoreError> {
        let mut sql = format!(
            "SELECT {STORY_COLUMNS} FROM stories s \
             WHERE s.published_at > $1 AND s.published_at <= $2 AND s.hidden = 0 \
             AND NOT EXISTS (SELECT 1 FROM issue_stories x \
                             WHERE x.newsletter_id = $3 AND x.story_id = s.id)"
        );
        if !tags.is_empty() {
            // Tags are stored comma-separated: ",a,b," contains ",a,".
            let matches: Vec<String> = (0..tags.as_slice().len())
                .map(|i| format!("(',' || s.tags || ',') LIKE ${} ESCAPE '\\'", i + 5))
                .collect();
            sql.push_str(&format!(" AND ({})", matches.join(" OR ")));
        }
        sql.push_str(" ORDER BY s.published_at DESC, s.id DESC LIMIT $4");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(until)
            .bind(newsletter_id)
            .bind(limit);
        for tag in tags.as_slice() {
            query = query.bind(format!("%,{},%", escape_like(tag)));
        }
        let mut conn = self.on.conn().await?;
        let rows = query.fetch_all(&mut *conn).await?;
        Ok(rows.iter().map(story).collect::<Result<_, _>>()?)
    }

    /// The stories of issue `issue_id`, in its order.
    pub async fn of_issue(&mut self, issue_id: i64) -> Result<Vec<Story>, StoreError> {
        let columns = STORY_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM issue_stories x JOIN stories s ON s.id = x.story_id \
             WHERE x.issue_id = $1 ORDER BY x.position, s.id"
        )))
        .bind(issue_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(story).collect::<Result<_, _>>()?)
    }

    /// The stories of several issues in one statement (an archive feed's
    /// entries), each with its issue's id, in each issue's order.
    pub async fn of_issues(&mut self, issue_ids: &[i64]) -> Result<Vec<(i64, Story)>, StoreError> {
        if issue_ids.is_empty() {
            return Ok(Vec::new());
        }
        let columns = STORY_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let placeholders = (1..=issue_ids.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT x.issue_id AS of_issue, {columns} FROM issue_stories x \
             JOIN stories s ON s.id = x.story_id WHERE x.issue_id IN ({placeholders}) \
             ORDER BY x.issue_id, x.position, s.id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in issue_ids {
            query = query.bind(*id);
        }
        let mut conn = self.on.conn().await?;
        let rows = query.fetch_all(&mut *conn).await?;
        Ok(rows
            .iter()
            .map(|row| Ok((row.try_get("of_issue")?, story(row)?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Stories published after `since` (all when `None`), newest first.
    pub async fn published_since(
        &mut self,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Story>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE published_at > $1 \
             ORDER BY published_at DESC, id DESC LIMIT $2"
        )))
        .bind(since.unwrap_or(i64::MIN))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(story).collect::<Result<_, _>>()?)
    }

    /// Stories, newest first, whose title or URL contains `search` (case
    /// ignored, `%` and `_` literal); all when it is empty.
    pub async fn search(&mut self, search: &str, limit: i64) -> Result<Vec<Story>, StoreError> {
        let mut conn = self.on.conn().await?;
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories \
             WHERE $1 = '' OR LOWER(title) LIKE $2 ESCAPE '\\' OR LOWER(url) LIKE $2 ESCAPE '\\' \
             ORDER BY published_at DESC, id DESC LIMIT $3"
        )))
        .bind(search)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(story).collect::<Result<_, _>>()?)
    }
}
