//! Stories: what the site publishes and the digests are made of. They come
//! in through `POST /api/stories` (a CMS) or from feeds; [`input`] checks
//! and bounds every field once, [`clean`] turns summaries into safe text,
//! and [`store`] upserts them by URL or external id.

pub mod clean;
pub mod input;
pub mod store;

pub use input::{InvalidStory, NewStory, StoryInput};
pub use store::{Story, Upserted};
