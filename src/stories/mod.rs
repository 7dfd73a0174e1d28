//! Stories: what the site publishes and the digests are made of. They come
//! in through `POST /api/stories` (a CMS) or from feeds; [`input`] checks
//! and bounds every field once, [`clean`] turns summaries into safe text,
//! and [`upsert`] matches a story sent again by URL or external id.

pub mod clean;
pub mod input;
pub mod upsert;

pub use input::{InvalidStory, StoryInput};
pub use upsert::{FeedItemOutcome, NewStory, Story, Upserted, ingest_feed_story, upsert_story};
