//! The scheduler that runs in every instance. Each pass ([`Scheduler::tick`])
//! looks at every scheduled newsletter, finds the slots that came due since
//! its last one, fires the newest if it is within
//! `scheduling.catch_up_grace`, and records the older ones as missed, never
//! sending them late in a burst. The unique (newsletter, slot) key on issues
//! makes a second instance's attempt, or a second start, a no-op. The same
//! pass sends the drafts an editor scheduled ("Send at") whose time has
//! come ([`crate::issues::timing`]).
//!
//! tokio-cron-scheduler only wakes the loop: a one-shot job at the next slot
//! (and a 30-second cap, so edits made on other instances are seen). The
//! slots themselves come from [`crate::newsletters::Schedule`], computed in the
//! newsletter's timezone, and time comes from a [`Clock`] tests can set.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use email_templates::{Locale, ReviewNotice, Templates};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::delivery::outbox::{MailBody, MailKind, MailWaker, OneOffMail};

use crate::issues::IssueError;
use crate::issues::build::{BuildOutcome, build_issue};
use crate::issues::send::send_issue;
use crate::issues::sender::SenderSetup;
use crate::issues::timing::{next_due, send_due_issues};
use crate::newsletters::{Newsletter, Schedule};
use crate::store::{Store, StoreError, now_ms};

use super::clock::Clock;

/// The email telling editors an issue waits for their review, stored
/// rendered.
pub const REVIEW_NOTICE: MailKind = MailKind::new("notice");

/// The longest the loop sleeps, so schedule edits made through another
/// instance take effect within this time.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// Missed slots recorded per newsletter and pass, newest first.
const MISSED_RECORDED: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum SchedulingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// What became of one slot in a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotOutcome {
    /// Built and handed to the delivery workers.
    Sent(i64),
    /// Built and left for the editors' review.
    Draft(i64),
    /// Nothing new to send; recorded with the reason.
    Skipped(i64),
    /// Another instance, or an earlier run, had it already.
    AlreadyTaken(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredSlot {
    pub newsletter_id: i64,
    pub slot: DateTime<Utc>,
    pub outcome: SlotOutcome,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub fired: Vec<FiredSlot>,
    pub missed: usize,
    /// Drafts an editor scheduled ("Send at") that were sent in this pass.
    pub sent_scheduled: Vec<i64>,
}

#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    settings: Arc<Settings>,
    templates: Arc<Templates>,
    waker: MailWaker,
    clock: Arc<dyn Clock>,
    changed: Arc<Notify>,
    /// Read once from the settings, which do not change while it runs.
    sender: Arc<SenderSetup>,
}

impl Scheduler {
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        templates: Arc<Templates>,
        waker: MailWaker,
        clock: Arc<dyn Clock>,
    ) -> Scheduler {
        Scheduler {
            sender: Arc::new(SenderSetup::of(&settings)),
            store,
            settings,
            templates,
            waker,
            clock,
            changed: Arc::new(Notify::new()),
        }
    }

    /// Tells the loop a schedule changed, so it recomputes its next wake-up.
    pub fn schedules_changed(&self) {
        self.changed.notify_one();
    }

    /// One pass over every scheduled newsletter at the clock's time.
    pub async fn tick(&self) -> Result<TickReport, SchedulingError> {
        let now = self.clock.now();
        let grace = chrono::Duration::from_std(self.settings.scheduling.catch_up_grace)
            .unwrap_or_else(|_| chrono::Duration::hours(6));
        let mut report = TickReport::default();
        for newsletter in self.scheduled_newsletters().await? {
            let Some(schedule) = schedule_of(&newsletter) else {
                continue;
            };
            let since = self.last_slot(&newsletter).await?;
            let slots = schedule.slots_between(since, now, MISSED_RECORDED + 1);
            let Some((latest, older)) = slots.split_last() else {
                continue;
            };
            for slot in older {
                report.missed += self.record_missed(&newsletter, *slot).await?;
            }
            if now - *latest <= grace {
                let outcome = self.fire(&newsletter, *latest).await?;
                report.fired.push(FiredSlot {
                    newsletter_id: newsletter.id,
                    slot: *latest,
                    outcome,
                });
            } else {
                report.missed += self.record_missed(&newsletter, *latest).await?;
            }
            self.resume_interrupted_sends(&newsletter, now - grace)
                .await?;
        }
        report.sent_scheduled =
            send_due_issues(&self.store, &self.waker, &self.sender, now, grace).await?;
        Ok(report)
    }

    /// Runs passes until `shutdown`, sleeping until the next slot.
    pub async fn run(self, shutdown: CancellationToken) {
        let timer = match tokio_cron_scheduler::JobScheduler::new().await {
            Ok(timer) => Some(timer),
            Err(error) => {
                tracing::warn!(%error, "scheduler timer unavailable; polling instead");
                None
            }
        };
        if let Some(timer) = &timer
            && let Err(error) = timer.start().await
        {
            tracing::warn!(%error, "scheduler timer did not start; polling instead");
        }
        loop {
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "scheduler pass failed; retrying at the next wake-up");
            }
            let sleep = self.until_next_slot().await.min(MAX_SLEEP);
            let woken = Arc::new(Notify::new());
            let job_id = match &timer {
                Some(timer) => arm(timer, sleep, woken.clone()).await,
                None => None,
            };
            let fired = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = woken.notified() => true,
                _ = self.changed.notified() => false,
                // Belt and braces: the timer is only an optimisation.
                _ = tokio::time::sleep(sleep + Duration::from_secs(1)) => false,
            };
            // A one-shot job that fired is removed by the library itself;
            // removing it again while the library still updates it logs
            // "Could not get job metadata" on every wake-up.
            if let (false, Some(timer), Some(id)) = (fired, &timer, job_id) {
                let _ = timer.remove(&id).await;
            }
        }
        if let Some(mut timer) = timer {
            let _ = timer.shutdown().await;
        }
    }

    async fn until_next_slot(&self) -> Duration {
        let now = self.clock.now();
        let Ok(newsletters) = self.scheduled_newsletters().await else {
            return MAX_SLEEP;
        };
        let next_send = next_due(&self.store, now).await.ok().flatten();
        newsletters
            .iter()
            .filter_map(schedule_of)
            .filter_map(|s| s.next_after(now))
            .chain(next_send)
            .map(|next| (next - now).to_std().unwrap_or(Duration::ZERO))
            .min()
            .unwrap_or(MAX_SLEEP)
    }

    async fn scheduled_newsletters(&self) -> Result<Vec<Newsletter>, StoreError> {
        Ok(self
            .store
            .newsletters()
            .all()
            .await?
            .into_iter()
            .filter(|n| n.schedule.is_some() && !n.paused)
            .collect())
    }

    /// Slots after this instant are owed: the newest slot with an issue, or
    /// the last change of the newsletter (a schedule set or resumed today
    /// owes nothing from before).
    async fn last_slot(&self, newsletter: &Newsletter) -> Result<DateTime<Utc>, StoreError> {
        let last = self.store.issues().last_slot(newsletter.id).await?;
        let since = last.unwrap_or(i64::MIN).max(newsletter.updated_at);
        Ok(DateTime::from_timestamp_millis(since).unwrap_or_default())
    }

    async fn record_missed(
        &self,
        newsletter: &Newsletter,
        slot: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let inserted = self
            .store
            .issues()
            .insert_missed(
                newsletter.id,
                slot.timestamp_millis(),
                "Gazette was not running at this time; older than scheduling.catch_up_grace",
                now_ms(),
            )
            .await?;
        if inserted {
            tracing::warn!(newsletter = %newsletter.slug, %slot, "schedule slot missed while down");
        }
        Ok(usize::from(inserted))
    }

    async fn fire(
        &self,
        newsletter: &Newsletter,
        slot: DateTime<Utc>,
    ) -> Result<SlotOutcome, SchedulingError> {
        let outcome = match build_issue(
            &self.store,
            newsletter,
            Some(slot.timestamp_millis()),
            self.settings.scheduling.first_issue_window,
        )
        .await?
        {
            BuildOutcome::AlreadyExists(id) => return Ok(SlotOutcome::AlreadyTaken(id)),
            BuildOutcome::Skipped(issue) => SlotOutcome::Skipped(issue.id),
            BuildOutcome::Built(issue) if newsletter.review_before_send => {
                self.notify_editors(newsletter, issue.id, &issue.subject)
                    .await?;
                SlotOutcome::Draft(issue.id)
            }
            BuildOutcome::Built(issue) => match self.sender.allow_issue() {
                Ok(()) => {
                    send_issue(&self.store, &self.waker, &self.sender, issue.id).await?;
                    SlotOutcome::Sent(issue.id)
                }
                // Left for the editors, who see why on its page.
                Err(not_set) => {
                    tracing::warn!(issue_id = issue.id, %not_set, "scheduled issue left as a draft");
                    SlotOutcome::Draft(issue.id)
                }
            },
        };
        tracing::info!(newsletter = %newsletter.slug, %slot, ?outcome, "schedule slot fired");
        Ok(outcome)
    }

    /// An instance that died between building an auto-send issue and
    /// sending it leaves a draft; the next pass sends it (the fan-out is
    /// idempotent, so two instances doing this at once add nothing twice).
    async fn resume_interrupted_sends(
        &self,
        newsletter: &Newsletter,
        not_before: DateTime<Utc>,
    ) -> Result<(), SchedulingError> {
        if newsletter.review_before_send || self.sender.allow_issue().is_err() {
            return Ok(());
        }
        let stranded = self
            .store
            .issues()
            .slot_drafts(
                newsletter.id,
                not_before.timestamp_millis(),
                now_ms() - 60_000,
            )
            .await?;
        for issue_id in stranded {
            tracing::warn!(
                issue_id,
                "sending a scheduled issue left as a draft by a stopped instance"
            );
            send_issue(&self.store, &self.waker, &self.sender, issue_id).await?;
        }
        Ok(())
    }

    /// Mails every editor and admin a link to review the new draft.
    async fn notify_editors(
        &self,
        newsletter: &Newsletter,
        issue_id: i64,
        subject: &str,
    ) -> Result<(), SchedulingError> {
        let editors: Vec<String> = self
            .store
            .users()
            .all()
            .await?
            .into_iter()
            .map(|user| user.email)
            .collect();
        if editors.is_empty() {
            tracing::info!(
                issue_id,
                "draft ready for review; no editor accounts to notify"
            );
            return Ok(());
        }
        let story_count = self.store.issues().story_ids(issue_id).await?.len();
        let site = crate::templates::site(&self.settings);
        let review_url = format!("{}/admin/issues/{issue_id}", self.settings.base_url());
        let locale: Locale = newsletter.locale.parse().unwrap_or_default();
        let notice = self.templates.review_notice(&ReviewNotice {
            site: &site,
            locale,
            newsletter_name: &newsletter.name,
            subject,
            story_count,
            review_url: &review_url,
        });
        let mut tx = self.store.begin_write().await?;
        for editor in &editors {
            let mail = OneOffMail {
                kind: REVIEW_NOTICE,
                subscriber_id: None,
                recipient: editor,
                body: MailBody::Rendered {
                    subject: &notice.subject,
                    html: &notice.html,
                    text: &notice.text,
                },
            };
            tx.outbox().enqueue(&mail, now_ms()).await?;
        }
        tx.commit().await?;
        self.waker.wake();
        Ok(())
    }
}

fn schedule_of(newsletter: &Newsletter) -> Option<Schedule> {
    let expression = newsletter.schedule.as_deref()?;
    match Schedule::parse(expression, &newsletter.timezone) {
        Ok(schedule) => Some(schedule),
        Err(error) => {
            // Refused at every entry point; only a hand-edited row gets here.
            tracing::warn!(newsletter = %newsletter.slug, %error, "ignoring an invalid schedule");
            None
        }
    }
}

/// A one-shot timer job that wakes the loop after `after`.
async fn arm(
    timer: &tokio_cron_scheduler::JobScheduler,
    after: Duration,
    woken: Arc<Notify>,
) -> Option<uuid::Uuid> {
    let job = tokio_cron_scheduler::Job::new_one_shot_async(after, move |_id, _timer| {
        let woken = woken.clone();
        Box::pin(async move {
            woken.notify_one();
        })
    })
    .ok()?;
    timer.add(job).await.ok()
}
