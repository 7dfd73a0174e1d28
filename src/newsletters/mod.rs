//! Newsletters: what a visitor subscribes to and what a digest is sent for.
//! [`settings`] parses and checks what editors set, [`schedule`] (on
//! [`cron`]) computes the slots of a newsletter's schedule in its own
//! timezone; [`create_newsletter`] and [`update_newsletter`] are the one
//! way the API and the CLI change them.

pub mod cli;
pub mod cron;
mod input;
pub mod listing;
pub mod schedule;
pub mod settings;
pub mod welcome;

pub use crate::store::newsletters::{NewNewsletter, Newsletter};
pub use input::NewsletterInput;
pub use listing::NewsletterListing;
pub use schedule::{Schedule, ScheduleError};
pub use settings::{InvalidSettings, NewsletterSettings};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::store::{Store, StoreError, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum NewsletterError {
    #[error("invalid newsletter: {0}")]
    Invalid(#[from] InvalidSettings),
    #[error("a newsletter with the slug {0:?} already exists")]
    SlugTaken(String),
    #[error("no newsletter with the slug {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `input` and stores a new newsletter.
pub async fn create_newsletter(
    store: &Store,
    input: NewsletterInput,
) -> Result<Newsletter, NewsletterError> {
    let settings = NewsletterSettings::parse_new(input)?;
    match store
        .newsletters()
        .insert(&settings.fields(), now_ms())
        .await
    {
        Ok(newsletter) => Ok(newsletter),
        Err(error) if error.is_unique_violation() => Err(NewsletterError::SlugTaken(
            settings.slug.as_str().to_string(),
        )),
        Err(error) => Err(error.into()),
    }
}

/// Applies the fields given in `input` to the newsletter `slug`.
pub async fn update_newsletter(
    store: &Store,
    slug: &str,
    input: NewsletterInput,
) -> Result<Newsletter, NewsletterError> {
    let current = find_newsletter(store, slug).await?;
    let settings = NewsletterSettings::of(&current).apply(input)?;
    store
        .newsletters()
        .update(current.id, &settings.fields(), now_ms())
        .await?
        .ok_or_else(|| NewsletterError::NotFound(slug.to_string()))
}

pub async fn find_newsletter(store: &Store, slug: &str) -> Result<Newsletter, NewsletterError> {
    store
        .newsletters()
        .by_slug(slug)
        .await?
        .ok_or_else(|| NewsletterError::NotFound(slug.to_string()))
}

/// Creates the newsletter `news`, named after the site, when there is no
/// newsletter at all, so a fresh install has something to subscribe to.
/// Several instances starting at once are harmless: the slug is unique.
pub async fn ensure_default_newsletter(store: &Store, site_name: &str) -> Result<(), StoreError> {
    if store.newsletters().any().await? {
        return Ok(());
    }
    let news = NewNewsletter {
        slug: "news",
        name: site_name,
        locale: "en",
    };
    store
        .newsletters()
        .create_unless_taken(&news, now_ms())
        .await
}

/// One upcoming fire time, in the newsletter's zone and in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRun {
    pub local: DateTime<Tz>,
    pub utc: DateTime<Utc>,
}

/// The next `n` fire times after `after`; empty when not scheduled.
pub fn next_runs(newsletter: &Newsletter, after: DateTime<Utc>, n: usize) -> Vec<NextRun> {
    let Some(schedule) = NewsletterSettings::of(newsletter).schedule() else {
        return Vec::new();
    };
    let tz = schedule.timezone();
    schedule
        .next_runs(after, n)
        .into_iter()
        .map(|utc| NextRun {
            local: utc.with_timezone(&tz),
            utc,
        })
        .collect()
}
