//! Building an issue: choose the stories published since the newsletter's
//! previous issue that no issue of this newsletter carried yet, filtered by
//! the newsletter's tags, newest first, at most `max_stories`; record them in
//! order. The unique (newsletter, story) key makes "never twice in one
//! newsletter" a fact of the database, and the unique (newsletter, slot)
//! key makes a scheduled slot produce one issue however many instances
//! fire it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Issue, IssueError, IssueStatus};
use crate::newsletters::{Newsletter, Schedule};
use crate::store::{Store, StoreError, now_ms};
use crate::stories::Story;
use crate::stories::clean::truncate;
use crate::tags::Tags;

/// The longest default subject taken from a story title.
pub const MAX_SUBJECT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutcome {
    /// A draft with its stories (possibly none, when the newsletter keeps
    /// empty issues).
    Built(Issue),
    /// Nothing new: recorded as `skipped` with the reason.
    Skipped(Issue),
    /// An issue for this slot exists already (built by another instance or
    /// an earlier run); its id.
    AlreadyExists(i64),
}

/// Tries again when a concurrent build took some of the same stories first.
const BUILD_TRIES: usize = 3;

/// Builds an issue of `newsletter` now; `slot` is the schedule slot (Unix
/// ms) it is for, `None` for an editor's "build now".
/// `first_window` is `scheduling.first_issue_window`.
pub async fn build_issue(
    store: &Store,
    newsletter: &Newsletter,
    slot: Option<i64>,
    first_window: Duration,
) -> Result<BuildOutcome, IssueError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match try_build(store, newsletter, slot, first_window).await {
            Err(Attempt::SlotTaken) => {
                // The slot was taken: report the existing issue.
                let existing = match slot {
                    Some(slot) => store.issues().for_slot(newsletter.id, slot).await?,
                    None => None,
                };
                return match existing {
                    Some(issue) => Ok(BuildOutcome::AlreadyExists(issue.id)),
                    None if tries < BUILD_TRIES => continue,
                    None => Err(IssueError::Store(StoreError::Inconsistent(
                        "issue slot taken but not found",
                    ))),
                };
            }
            Err(Attempt::Failed(error)) if error.is_unique_violation() && tries < BUILD_TRIES => {
                continue;
            }
            Err(Attempt::Failed(error)) => return Err(error.into()),
            Ok(outcome) => return Ok(outcome),
        }
    }
}

enum Attempt {
    SlotTaken,
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Attempt {
        Attempt::Failed(error)
    }
}

async fn try_build(
    store: &Store,
    newsletter: &Newsletter,
    slot: Option<i64>,
    first_window: Duration,
) -> Result<BuildOutcome, Attempt> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    // The issue row first: it takes the write lock at once on SQLite and
    // settles the slot before any work is done.
    let issue_id = match tx.issues().insert_draft(newsletter.id, slot, now).await {
        Ok(id) => id,
        Err(error) if error.is_unique_violation() => return Err(Attempt::SlotTaken),
        Err(error) => return Err(error.into()),
    };
    let since = window_start(
        tx.issues(),
        newsletter,
        &Building {
            issue_id,
            slot,
            now,
            first_window,
        },
    )
    .await?;
    let stories = select_stories(tx.stories(), newsletter, since, now).await?;
    for (position, story) in stories.iter().enumerate() {
        tx.issues()
            .add_story(issue_id, newsletter.id, story.id, position as i64)
            .await?;
    }
    let skip = stories.is_empty() && newsletter.skip_when_empty;
    let (status, skip_reason) = if skip {
        (
            IssueStatus::Skipped,
            Some("no new stories since the previous issue"),
        )
    } else {
        (IssueStatus::Draft, None)
    };
    let issue = tx
        .issues()
        .finish_build(
            issue_id,
            status,
            &default_subject(newsletter, &stories),
            skip_reason,
        )
        .await?;
    tx.commit().await?;
    Ok(if skip {
        BuildOutcome::Skipped(issue)
    } else {
        BuildOutcome::Built(issue)
    })
}

/// The top story's title, or the newsletter's name for an empty issue.
fn default_subject(newsletter: &Newsletter, stories: &[Story]) -> String {
    let title = stories
        .first()
        .map(|story| story.title.as_str())
        .unwrap_or(&newsletter.name);
    truncate(title, MAX_SUBJECT)
}

/// The issue a window is computed for.
pub struct Building {
    /// Left out of "the previous issue" (0 for one not built yet).
    pub issue_id: i64,
    /// The schedule slot it is for; `None` for one built by hand.
    pub slot: Option<i64>,
    pub now: i64,
    /// `scheduling.first_issue_window`.
    pub first_window: Duration,
}

/// Where an issue's stories start: at the creation of the newsletter's
/// previous issue that went or may go out (skipped, missed and cancelled
/// ones do not count). A first issue covers the schedule's previous
/// period, from the slot before its own, as RSS-to-email tools do: stories
/// the site published before the newsletter existed qualify, so the first
/// slot is not skipped for want of them. Built by hand or without a
/// schedule, it covers `first_window` back from now. Either way it reaches
/// back at least to the newsletter's creation.
pub async fn window_start(
    mut issues: crate::store::issues::Issues<'_>,
    newsletter: &Newsletter,
    building: &Building,
) -> Result<i64, StoreError> {
    if let Some(previous) = issues
        .last_counted_created_at(newsletter.id, building.issue_id)
        .await?
    {
        return Ok(previous);
    }
    let window_ms = i64::try_from(building.first_window.as_millis()).unwrap_or(i64::MAX);
    let fallback = building.now.saturating_sub(window_ms);
    let schedule = newsletter
        .schedule
        .as_deref()
        .and_then(|cron| Schedule::parse(cron, &newsletter.timezone).ok());
    let previous_slot = match (building.slot, schedule) {
        (Some(slot), Some(schedule)) => DateTime::<Utc>::from_timestamp_millis(slot)
            .and_then(|slot| schedule.previous_before(slot))
            .map(|previous| previous.timestamp_millis()),
        _ => None,
    };
    // Stories published since the newsletter was created count too (it
    // may have been set up long before its first slot went out).
    Ok(previous_slot.unwrap_or(fallback).min(newsletter.created_at))
}

/// Where a built issue's window started: computed as when it was built.
pub async fn draft_window_start(
    store: &Store,
    newsletter: &Newsletter,
    issue: &Issue,
    first_window: Duration,
) -> Result<i64, StoreError> {
    let building = Building {
        issue_id: issue.id,
        slot: issue.slot_at,
        now: issue.created_at,
        first_window,
    };
    window_start(store.issues(), newsletter, &building).await
}

/// What an issue built now would carry, without building it (dry runs),
/// and where its window starts.
pub async fn candidate_stories(
    store: &Store,
    newsletter: &Newsletter,
    first_window: Duration,
) -> Result<(Vec<Story>, i64), IssueError> {
    let now = now_ms();
    let building = Building {
        issue_id: 0,
        slot: None,
        now,
        first_window,
    };
    let since = window_start(store.issues(), newsletter, &building).await?;
    let stories = select_stories(store.stories(), newsletter, since, now).await?;
    Ok((stories, since))
}

/// The selection itself (see `store::stories::Stories::selectable`): at
/// most `max_stories`, by the newsletter's tags.
async fn select_stories(
    mut stories: crate::store::stories::Stories<'_>,
    newsletter: &Newsletter,
    since: i64,
    until: i64,
) -> Result<Vec<Story>, StoreError> {
    let tags = Tags::from_column(&newsletter.tags);
    stories
        .selectable(
            newsletter.id,
            &tags,
            since,
            until,
            newsletter.max_stories.clamp(1, 100),
        )
        .await
}
