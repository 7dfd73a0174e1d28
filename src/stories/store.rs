//! Reading and writing stories. A story is one row per URL; a client may
//! name it by its own id instead (`external_id`), and feed items are named
//! `feed:<feed_id>:<guid>`, so a story edited at the source updates in place
//! instead of arriving twice.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::input::NewStory;
use crate::newsletters::settings::Tags;
use crate::store::{Store, StoreError, now_ms};

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

pub const STORY_COLUMNS: &str = "id, url, external_id, feed_id, title, summary, image_url, \
     author, tags, published_at, hidden, created_at, updated_at";

impl Story {
    /// Reads a row selected with [`STORY_COLUMNS`] (optionally prefixed).
    pub fn from_row(row: &AnyRow) -> Result<Story, sqlx::Error> {
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    Created(Story),
    Updated(Story),
}

impl Upserted {
    pub fn story(&self) -> &Story {
        match self {
            Upserted::Created(story) | Upserted::Updated(story) => story,
        }
    }
}

/// What happened to one feed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedItemOutcome {
    Created,
    Updated,
    Unchanged,
    /// Another story (from the API or another feed) already has its URL.
    DuplicateUrl,
}

/// How often an upsert that lost a race for a new URL is tried again.
const UPSERT_TRIES: usize = 3;

impl Store {
    /// Inserts the story, or updates the one with its `external_id` (when
    /// given) or else its URL. A client changing a story's URL to one
    /// another story has gets a unique violation.
    pub async fn upsert_story(&self, story: &NewStory) -> Result<Upserted, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_upsert_story(story).await {
                // Two clients inserting the same new URL at once: the loser
                // finds the winner's row on the next try and updates it.
                Err(error) if error.is_unique_violation() && tries < UPSERT_TRIES => continue,
                other => return other,
            }
        }
    }

    async fn try_upsert_story(&self, story: &NewStory) -> Result<Upserted, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut existing: Option<i64> = None;
        if let Some(external_id) = &story.external_id {
            existing = sqlx::query_scalar("SELECT id FROM stories WHERE external_id = $1")
                .bind(external_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        if existing.is_none() {
            existing = sqlx::query_scalar("SELECT id FROM stories WHERE url = $1")
                .bind(&story.url)
                .fetch_optional(&mut *tx)
                .await?;
        }
        let now = now_ms();
        let outcome = match existing {
            Some(id) => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE stories SET url = $1, external_id = COALESCE($2, external_id), \
                     title = $3, summary = $4, image_url = $5, author = $6, tags = $7, \
                     published_at = $8, updated_at = $9 WHERE id = $10 RETURNING {STORY_COLUMNS}"
                )))
                .bind(&story.url)
                .bind(story.external_id.as_deref())
                .bind(&story.title)
                .bind(story.summary.as_deref())
                .bind(story.image_url.as_deref())
                .bind(story.author.as_deref())
                .bind(story.tags.to_column())
                .bind(story.published_at)
                .bind(now)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                Upserted::Updated(Story::from_row(&row)?)
            }
            None => Upserted::Created(insert_story(&mut tx, story, now).await?),
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// An editor's edit of one story: every field the admin form has, the
    /// publication time kept. `None` when there is no such story; a URL
    /// another story has is a unique violation.
    pub async fn update_story(
        &self,
        id: i64,
        story: &NewStory,
        hidden: bool,
    ) -> Result<Option<Story>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE stories SET url = $1, title = $2, summary = $3, image_url = $4, author = $5, \
             tags = $6, hidden = $7, updated_at = $8 WHERE id = $9 RETURNING {STORY_COLUMNS}"
        )))
        .bind(&story.url)
        .bind(&story.title)
        .bind(story.summary.as_deref())
        .bind(story.image_url.as_deref())
        .bind(story.author.as_deref())
        .bind(story.tags.to_column())
        .bind(i64::from(hidden))
        .bind(now_ms())
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Story::from_row).transpose()?)
    }

    /// Stores one feed item: a known guid updates its story (keeping its
    /// publication time, so an edit does not bring it back into the next
    /// digest), a URL already known from elsewhere is left alone, anything
    /// else is a new story.
    pub async fn ingest_feed_story(&self, story: &NewStory) -> Result<FeedItemOutcome, StoreError> {
        let Some(external_id) = &story.external_id else {
            return Ok(FeedItemOutcome::Unchanged);
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE external_id = $1"
        )))
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = row {
            let known = Story::from_row(&row)?;
            let same = known.title == story.title
                && known.summary == story.summary
                && known.image_url == story.image_url
                && known.author == story.author
                && known.tags == story.tags;
            if same {
                return Ok(FeedItemOutcome::Unchanged);
            }
            sqlx::query(
                "UPDATE stories SET title = $1, summary = $2, image_url = $3, author = $4, \
                 tags = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(&story.title)
            .bind(story.summary.as_deref())
            .bind(story.image_url.as_deref())
            .bind(story.author.as_deref())
            .bind(story.tags.to_column())
            .bind(now_ms())
            .bind(known.id)
            .execute(self.pool())
            .await?;
            return Ok(FeedItemOutcome::Updated);
        }
        let mut tx = self.begin_write().await?;
        match insert_story(&mut tx, story, now_ms()).await {
            Ok(_) => {
                tx.commit().await?;
                Ok(FeedItemOutcome::Created)
            }
            // the URL (or, in a race, the guid) is already there
            Err(error) if error.is_unique_violation() => Ok(FeedItemOutcome::DuplicateUrl),
            Err(error) => Err(error),
        }
    }

    /// Stories published after `since` (all when `None`), newest first.
    pub async fn stories_since(
        &self,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Story>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE published_at > $1 \
             ORDER BY published_at DESC, id DESC LIMIT $2"
        )))
        .bind(since.unwrap_or(i64::MIN))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(Story::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn story_by_id(&self, id: i64) -> Result<Option<Story>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {STORY_COLUMNS} FROM stories WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Story::from_row).transpose()?)
    }
}

async fn insert_story(
    tx: &mut sqlx::AnyConnection,
    story: &NewStory,
    now: i64,
) -> Result<Story, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO stories (url, external_id, feed_id, title, summary, image_url, author, tags, \
         published_at, hidden, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) RETURNING {STORY_COLUMNS}"
    )))
    .bind(&story.url)
    .bind(story.external_id.as_deref())
    .bind(story.feed_id)
    .bind(&story.title)
    .bind(story.summary.as_deref())
    .bind(story.image_url.as_deref())
    .bind(story.author.as_deref())
    .bind(story.tags.to_column())
    .bind(story.published_at)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Story::from_row(&row)?)
}
