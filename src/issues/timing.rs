//! Sending a draft at a time an editor chose ("Send at" in the admin,
//! `send_at` on the API). The time is kept on the issue (`send_at` of a
//! draft), so it survives restarts; every instance's scheduler pass sends
//! the drafts that came due ([`send_due_issues`]) through the same
//! idempotent fan-out as "Send now", so several instances sending the same
//! issue at once still give each subscriber one copy.

use std::collections::BTreeMap;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::edit::InvalidEdit;
use super::send::send_issue;
use super::sender::SenderSetup;
use super::{Issue, IssueError, IssueStatus};
use crate::delivery::outbox::MailWaker;
use crate::store::{Store, now_ms};

fn invalid(problem: impl Into<String>) -> IssueError {
    let mut fields = BTreeMap::new();
    fields.insert("send_at", problem.into());
    InvalidEdit { fields }.into()
}

/// A wall-clock time as a `datetime-local` field sends it
/// (`2026-03-29T07:30`, seconds optional), read in the newsletter's
/// timezone. A time that does not exist there (the hour skipped when
/// clocks go forward) is refused; one that happens twice is the first.
pub fn parse_local(raw: &str, timezone: &str) -> Result<DateTime<Utc>, IssueError> {
    let tz: Tz = timezone
        .parse()
        .map_err(|_| invalid(format!("the newsletter's timezone {timezone:?} is unknown")))?;
    let raw = raw.trim();
    let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
        .ok_or_else(|| invalid("must be a date and time such as 2026-03-27T07:30"))?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Ok(at.with_timezone(&Utc)),
        LocalResult::None => Err(invalid(format!(
            "{raw} does not exist in {timezone} (the clocks change then); choose another time"
        ))),
    }
}

/// An RFC 3339 time, as the API takes it.
pub fn parse_rfc3339(raw: &str) -> Result<DateTime<Utc>, IssueError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| invalid("must be an RFC 3339 time such as 2026-03-27T07:30:00Z"))
}

/// Sets (or, with `None`, clears) the time a draft goes out. The time must
/// be after `now`.
pub async fn schedule_send(
    store: &Store,
    issue_id: i64,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Issue, IssueError> {
    if at.is_some_and(|at| at <= now) {
        return Err(invalid(
            "must be in the future; use Send now to send at once",
        ));
    }
    let scheduled = store
        .issues()
        .schedule_draft(issue_id, at.map(|at| at.timestamp_millis()), now_ms())
        .await?;
    match scheduled {
        Some(issue) => Ok(issue),
        None => Err(match store.issues().by_id(issue_id).await? {
            Some(issue) => IssueError::WrongStatus(issue.status, "scheduled"),
            None => IssueError::NotFound(issue_id),
        }),
    }
}

/// Sends every draft whose time has come. One that came due longer than
/// `grace` ago (Gazette was down) is not sent late: it is unscheduled with
/// a note, and stays a draft for the editors. While the sender is not set,
/// due drafts wait. Returns the issues sent.
pub async fn send_due_issues(
    store: &Store,
    waker: &MailWaker,
    sender: &SenderSetup,
    now: DateTime<Utc>,
    grace: chrono::Duration,
) -> Result<Vec<i64>, IssueError> {
    let now = now.timestamp_millis();
    let stale = store
        .issues()
        .unschedule_due_before(
            now - grace.num_milliseconds(),
            "Its scheduled send time passed while Gazette was not running \
             (longer ago than scheduling.catch_up_grace); send or schedule it again.",
            now_ms(),
        )
        .await?;
    if stale > 0 {
        tracing::warn!(
            issues = stale,
            "scheduled sends missed while down; left as drafts"
        );
    }
    let due = store.issues().due_drafts(now).await?;
    if let Err(not_set) = sender.allow_issue() {
        if !due.is_empty() {
            tracing::warn!(issues = due.len(), %not_set, "scheduled sends wait");
        }
        return Ok(Vec::new());
    }
    let mut sent = Vec::new();
    for issue_id in due {
        match send_issue(store, waker, sender, issue_id).await {
            Ok(_) => {
                tracing::info!(issue_id, "scheduled send started");
                sent.push(issue_id);
            }
            // Cancelled, or already sent by another instance, in between.
            Err(IssueError::WrongStatus(status, _)) if status != IssueStatus::Draft => {}
            Err(error) => return Err(error),
        }
    }
    Ok(sent)
}

/// The next time a draft is due, to wake the scheduler then.
pub async fn next_due(
    store: &Store,
    after: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, IssueError> {
    let next = store
        .issues()
        .next_send_at(after.timestamp_millis())
        .await?;
    Ok(next.and_then(DateTime::from_timestamp_millis))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_read_in_the_newsletters_zone() {
        let at = parse_local("2026-07-03T07:30", "Europe/Paris").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-07-03T05:30:00+00:00");
        let at = parse_local("2026-07-03T07:30", "Africa/Bamako").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-07-03T07:30:00+00:00");
    }

    #[test]
    fn a_skipped_hour_is_refused_and_a_repeated_one_is_the_first() {
        assert!(parse_local("2026-03-29T02:30", "Europe/Paris").is_err());
        let at = parse_local("2026-10-25T02:30", "Europe/Paris").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert!(parse_local("next friday", "UTC").is_err());
    }
}
