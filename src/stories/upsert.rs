//! How a story sent again is matched and changed. A client's story is
//! matched by its `external_id` when it has one, else by its URL, and
//! replaced; a feed item (named `feed:<feed_id>:<guid>`) updates its story's
//! content only when it changed, keeping its publication time so an edit
//! does not bring it back into the next digest, and a URL already known
//! from elsewhere is left alone.

pub use crate::store::stories::{NewStory, Story};
use crate::store::{Store, StoreError, now_ms};

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

/// Inserts the story, or replaces the one with its `external_id` (when
/// given) or else its URL. A client changing a story's URL to one another
/// story has gets a unique violation.
pub async fn upsert_story(store: &Store, story: &NewStory) -> Result<Upserted, StoreError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match try_upsert(store, story).await {
            // Two clients inserting the same new URL at once: the loser
            // finds the winner's row on the next try and updates it.
            Err(error) if error.is_unique_violation() && tries < UPSERT_TRIES => continue,
            other => return other,
        }
    }
}

async fn try_upsert(store: &Store, story: &NewStory) -> Result<Upserted, StoreError> {
    let mut tx = store.begin_write().await?;
    let mut existing: Option<i64> = None;
    if let Some(external_id) = &story.external_id {
        existing = tx
            .stories()
            .by_external_id(external_id)
            .await?
            .map(|s| s.id);
    }
    if existing.is_none() {
        existing = tx.stories().id_by_url(&story.url).await?;
    }
    let now = now_ms();
    let outcome = match existing {
        Some(id) => Upserted::Updated(tx.stories().replace(id, story, now).await?),
        None => Upserted::Created(tx.stories().insert(story, now).await?),
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Stores one feed item (see the module's header).
pub async fn ingest_feed_story(
    store: &Store,
    story: &NewStory,
) -> Result<FeedItemOutcome, StoreError> {
    let Some(external_id) = &story.external_id else {
        return Ok(FeedItemOutcome::Unchanged);
    };
    if let Some(known) = store.stories().by_external_id(external_id).await? {
        let same = known.title == story.title
            && known.summary == story.summary
            && known.image_url == story.image_url
            && known.author == story.author
            && known.tags == story.tags;
        if same {
            return Ok(FeedItemOutcome::Unchanged);
        }
        store
            .stories()
            .update_content(known.id, story, now_ms())
            .await?;
        return Ok(FeedItemOutcome::Updated);
    }
    let mut tx = store.begin_write().await?;
    match tx.stories().insert(story, now_ms()).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(FeedItemOutcome::Created)
        }
        // the URL (or, in a race, the guid) is already there
        Err(error) if error.is_unique_violation() => Ok(FeedItemOutcome::DuplicateUrl),
        Err(error) => Err(error),
    }
}
