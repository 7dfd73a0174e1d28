//! The delivery workers that run in every instance: claim due rows in
//! batches under a lease, send them with `mail.concurrency` messages in
//! flight under a global `mail.rate_per_second` limit, and record what
//! happened.
//!
//! Three tasks per instance:
//! - the dispatcher claims rows, renders each issue once (cached per issue
//!   id, dropped when the queue runs dry), and starts one send per row;
//! - the recorder writes outcomes in small batches (one statement for all
//!   sent rows of a batch), so the database is not the bottleneck;
//! - the gauge task refreshes `gazette_outbox_pending` every few seconds.
//!
//! Outcomes: a 2xx reply marks the row `sent`; a 4xx reply or a connection
//! failure puts it back to `pending` with exponential backoff and jitter,
//! until `mail.max_attempts`; a 5xx reply fails it and counts a hard bounce.
//! An idle dispatcher waits for [`MailWaker`] or a one-second timer, so new
//! mail leaves within a second without polling an empty queue in a loop.
//!
//! Shutdown: stop claiming, let the sends in flight finish, record them,
//! and give back claimed rows that were not sent. A process that dies
//! instead leaves its rows leased; they are claimed again when the lease
//! runs out, so only the messages in flight at the crash (sent but not yet
//! recorded) can go twice.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use email_templates::{Recipient, RenderedEmail, Templates};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::dkim::{DkimError, DkimSigner};
use super::message::{self, ListInfo, MessageError, Outgoing, Sender};
use super::outbox::MailWaker;
use super::store::{ClaimedDelivery, Outcome};
use super::transport::{SendFailure, Transport, TransportError};
use crate::config::Settings;
use crate::issues::prepare::{PrepareError, PreparedIssue, prepare_issue};
use crate::links::LinkSigner;
use crate::store::{Store, StoreError, now_ms};
use crate::subscriptions::signup::{ConfirmationData, ConfirmationMails};
use crate::telemetry::mask_email;
use crate::web::AppState;

/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 64;
/// Messages sent or being sent whose outcome is not written yet, at most:
/// what a crash can make go twice. A send waits for room, so a slow
/// database slows the sending instead of letting the unrecorded pile up.
const UNRECORDED_MAX: usize = 2 * RECORD_BATCH;
/// How long the recorder gathers outcomes before writing them.
const RECORD_WINDOW: Duration = Duration::from_millis(20);
/// The longest an idle dispatcher sleeps: new rows from another instance
/// are found within this.
const IDLE_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF_MS: u64 = 3_600_000;
const GAUGE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DeliveryStartError {
    #[error(transparent)]
    Dkim(#[from] DkimError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("mail.from: {0}")]
    Sender(#[from] MessageError),
}

/// The parts a send needs, shared by the tasks of one instance.
struct Engine {
    store: Store,
    settings: Arc<Settings>,
    templates: Arc<Templates>,
    confirmations: ConfirmationMails,
    links: LinkSigner,
    transport: Transport,
    sender: Sender,
    dkim: Option<Arc<DkimSigner>>,
    limiter: DefaultDirectRateLimiter,
    instance: String,
    recorder: mpsc::UnboundedSender<RecorderMessage>,
    /// The earliest retry this instance scheduled, so an idle dispatcher
    /// wakes for it rather than a whole poll interval later.
    earliest_retry_ms: AtomicI64,
}

enum RecorderMessage {
    /// With the room it took among the unrecorded, when it was sent.
    Outcome(Outcome, Option<OwnedSemaphorePermit>),
    Flush(oneshot::Sender<()>),
}

/// Loads the DKIM key and the transport (a bad key or setting stops the
/// start) and spawns the delivery tasks, which stop on `shutdown`.
pub fn start(
    state: &AppState,
    shutdown: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, DeliveryStartError> {
    let settings = state.settings.clone();
    let dkim = match &settings.mail.dkim {
        Some(dkim) => Some(Arc::new(DkimSigner::load(dkim)?)),
        None => None,
    };
    let transport = Transport::from_settings(&settings.mail)?;
    let sender = Sender::from_settings(&settings.mail)?;
    let rate = NonZeroU32::new(settings.mail.rate_per_second).unwrap_or(NonZeroU32::MIN);
    let (recorder, outcomes) = mpsc::unbounded_channel();
    let instance = instance_id();
    let engine = Arc::new(Engine {
        store: state.store.clone(),
        settings: settings.clone(),
        templates: state.templates.clone(),
        confirmations: ConfirmationMails::new(
            state.templates.clone(),
            crate::issues::render::site(&settings),
            settings.base_url().to_string(),
        ),
        links: state.links.clone(),
        transport,
        sender,
        dkim,
        limiter: RateLimiter::direct(Quota::per_second(rate)),
        instance,
        recorder,
        earliest_retry_ms: AtomicI64::new(i64::MAX),
    });
    let recording = tokio::spawn(record_outcomes(
        state.store.clone(),
        outcomes,
        settings.mail.bounce_threshold,
    ));
    let dispatching = tokio::spawn(dispatch(
        engine,
        state.mail_waker.clone(),
        shutdown.clone(),
        recording,
    ));
    let gauge = tokio::spawn(refresh_queue_gauge(state.store.clone(), shutdown));
    Ok(vec![dispatching, gauge])
}

fn instance_id() -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..8)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    format!("{}-{suffix}", std::process::id())
}

/// The dispatcher: claims, prepares and starts sends until shutdown, then
/// drains and gives back what it still holds.
async fn dispatch(
    engine: Arc<Engine>,
    waker: MailWaker,
    shutdown: CancellationToken,
    recording: JoinHandle<()>,
) {
    let mail = &engine.settings.mail;
    let concurrency = mail.concurrency.max(1);
    // Large batches keep claims cheap at high rates; at low rates a batch
    // holds about a second of sending, so claimed rows never wait long
    // under their lease.
    let batch = (concurrency * 16)
        .clamp(32, 512)
        .min(mail.rate_per_second.max(1) as usize);
    let lease_ms = i64::try_from(mail.lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let in_flight = Arc::new(Semaphore::new(concurrency));
    let unrecorded = Arc::new(Semaphore::new(UNRECORDED_MAX.max(concurrency)));
    let mut queue: VecDeque<ClaimedDelivery> = VecDeque::new();
    let mut sends: JoinSet<()> = JoinSet::new();
    let mut prepared: HashMap<i64, Arc<PreparedIssue>> = HashMap::new();
    let mut touched_issues: HashSet<i64> = HashSet::new();
    // The next batch is claimed while the last half of this one is sent: a
    // claim is a database round trip or more, and waiting for it with an
    // empty pipeline left every session idle once per batch.
    let mut claiming: Option<ClaimFuture> = None;
    // false once a claim came back short: the queue is drained, so do not
    // claim again until the local queue is empty
    let mut more_due = true;
    'dispatch: loop {
        if shutdown.is_cancelled() {
            break;
        }
        while sends.try_join_next().is_some() {}
        if claiming.is_none() && (queue.is_empty() || (more_due && queue.len() < batch / 2)) {
            claiming = Some(engine.claim(batch, lease_ms));
        }
        let Some(row) = queue.pop_front() else {
            // Nothing to send until the claim answers.
            let Some(claim) = claiming.take() else {
                continue;
            };
            let claimed = tokio::select! {
                _ = shutdown.cancelled() => break,
                claimed = claim => claimed,
            };
            if !take_claim(claimed, &mut queue, &mut more_due, batch) {
                if sleep_or_stop(IDLE_POLL, &shutdown).await {
                    break;
                }
                continue;
            }
            if queue.is_empty() {
                // Idle: settle finished issues, then wait for new mail.
                while sends.join_next().await.is_some() {}
                finish_issues(&engine, &mut prepared, &mut touched_issues).await;
                let wait = engine.idle_wait();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = waker.woken() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                more_due = true;
            }
            continue;
        };
        // Waiting for a free session, a claim under way may answer.
        let permit = loop {
            let woke = tokio::select! {
                _ = shutdown.cancelled() => Woke::Stop,
                permits = async {
                    let session = in_flight.clone().acquire_owned().await?;
                    let room = unrecorded.clone().acquire_owned().await?;
                    Ok::<_, tokio::sync::AcquireError>((session, room))
                } => match permits {
                    Ok(permits) => Woke::Permit(permits),
                    Err(_) => Woke::Stop,
                },
                claimed = async {
                    match claiming.as_mut() {
                        Some(claim) => claim.await,
                        None => std::future::pending().await,
                    }
                } => Woke::Claimed(claimed),
            };
            match woke {
                Woke::Permit(permit) => break permit,
                Woke::Claimed(claimed) => {
                    claiming = None;
                    take_claim(claimed, &mut queue, &mut more_due, batch);
                }
                Woke::Stop => {
                    queue.push_front(row);
                    break 'dispatch;
                }
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => {
                queue.push_front(row);
                break;
            }
            _ = engine.limiter.until_ready() => {}
        }
        let issue = match row.issue_id.filter(|_| row.is_digest()) {
            Some(issue_id) => {
                touched_issues.insert(issue_id);
                match prepared_issue(&engine, &mut prepared, issue_id).await {
                    Ok(issue) => Some(issue),
                    Err(outcome) => {
                        engine.record(outcome_for(&row, outcome, &engine));
                        continue;
                    }
                }
            }
            None => None,
        };
        sends.spawn(send_one(engine.clone(), row, issue, permit));
    }
    // A claim still under way may have leased rows: let it finish, so the
    // release below gives them back too.
    if let Some(claim) = claiming.take() {
        let _ = claim.await;
    }
    // Shutdown: what is in flight finishes and is recorded; the rest goes
    // back to pending for another instance or the next start.
    while sends.join_next().await.is_some() {}
    engine.flush().await;
    drop(queue);
    match engine.store.release_deliveries(&engine.instance).await {
        Ok(0) => {}
        Ok(released) => tracing::info!(released, "gave back claimed deliveries at shutdown"),
        Err(error) => {
            tracing::warn!(%error, "cannot give back claimed deliveries; their lease will run out")
        }
    }
    engine.transport.shutdown().await;
    let Engine { recorder, .. } = match Arc::try_unwrap(engine) {
        Ok(engine) => engine,
        Err(_) => return,
    };
    drop(recorder);
    let _ = recording.await;
}

type ClaimFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<ClaimedDelivery>, StoreError>> + Send>,
>;

/// What the dispatcher woke for while it waited for a free session.
enum Woke {
    Permit((OwnedSemaphorePermit, OwnedSemaphorePermit)),
    Claimed(Result<Vec<ClaimedDelivery>, StoreError>),
    Stop,
}

/// Queues what a claim brought; false when the claim failed (logged).
fn take_claim(
    claimed: Result<Vec<ClaimedDelivery>, StoreError>,
    queue: &mut VecDeque<ClaimedDelivery>,
    more_due: &mut bool,
    batch: usize,
) -> bool {
    match claimed {
        Ok(rows) => {
            *more_due = rows.len() == batch;
            queue.extend(rows);
            true
        }
        Err(error) => {
            tracing::error!(%error, "cannot claim deliveries; retrying in a second");
            *more_due = false;
            false
        }
    }
}

/// Why an issue could not be prepared, as the outcome for its row.
enum PrepareFailure {
    /// The database did not answer: try again later.
    Later(String),
    /// The issue is gone or cannot render: give up on the row.
    Never(String),
}

fn outcome_for(row: &ClaimedDelivery, failure: PrepareFailure, engine: &Engine) -> Outcome {
    match failure {
        PrepareFailure::Later(error) => engine.retry_or_fail(row, error),
        PrepareFailure::Never(error) => {
            tracing::warn!(delivery = row.id, error = %error, "digest cannot be rendered");
            Outcome::Failed { id: row.id, error }
        }
    }
}

async fn prepared_issue(
    engine: &Engine,
    cache: &mut HashMap<i64, Arc<PreparedIssue>>,
    issue_id: i64,
) -> Result<Arc<PreparedIssue>, PrepareFailure> {
    if let Some(issue) = cache.get(&issue_id) {
        return Ok(issue.clone());
    }
    match prepare_issue(
        &engine.store,
        &engine.templates,
        &engine.settings,
        issue_id,
        false,
    )
    .await
    {
        Ok(issue) => {
            let issue = Arc::new(issue);
            cache.insert(issue_id, issue.clone());
            Ok(issue)
        }
        Err(PrepareError::Store(error)) => Err(PrepareFailure::Later(error.to_string())),
        Err(error) => Err(PrepareFailure::Never(error.to_string())),
    }
}

/// Once the queue is dry: marks the issues this instance sent as `sent`
/// when no row of theirs is left, and forgets their rendering.
async fn finish_issues(
    engine: &Engine,
    prepared: &mut HashMap<i64, Arc<PreparedIssue>>,
    touched: &mut HashSet<i64>,
) {
    if touched.is_empty() {
        prepared.clear();
        return;
    }
    engine.flush().await;
    for issue_id in touched.drain() {
        if let Err(error) = engine.store.mark_issue_sent_if_done(issue_id).await {
            tracing::warn!(issue_id, %error, "cannot mark issue as sent");
        }
    }
    prepared.clear();
}

/// Renders, signs and sends one row, and hands the outcome to the recorder.
async fn send_one(
    engine: Arc<Engine>,
    row: ClaimedDelivery,
    issue: Option<Arc<PreparedIssue>>,
    (_session, room): (OwnedSemaphorePermit, OwnedSemaphorePermit),
) {
    let outcome = engine.deliver(&row, issue.as_deref()).await;
    engine.record_sent(outcome, room);
}

impl Engine {
    /// A one-off row's email: rendered from its data (confirmations), or
    /// as it was stored (test sends, notices, rows queued before
    /// migration 0008).
    fn one_off_email(&self, row: &ClaimedDelivery) -> Result<RenderedEmail, String> {
        match row.template_data.as_deref() {
            Some(data) => ConfirmationData::from_json(data)
                .map(|data| self.confirmations.render(&data))
                .map_err(|error| format!("unreadable confirmation data: {error}")),
            None => Ok(RenderedEmail {
                subject: row.subject.clone().unwrap_or_default(),
                html: row.html_body.clone().unwrap_or_default(),
                text: row.text_body.clone().unwrap_or_default(),
            }),
        }
    }

    async fn deliver(&self, row: &ClaimedDelivery, issue: Option<&PreparedIssue>) -> Outcome {
        let composed = match issue {
            Some(issue) => {
                let Some(subscriber_id) = row.subscriber_id.filter(|_| row.still_subscribed) else {
                    return Outcome::Cancelled {
                        id: row.id,
                        reason: "subscriber no longer subscribed".into(),
                    };
                };
                let unsubscribe_url = self.links.unsubscribe_url(subscriber_id);
                let preferences_url = self.links.preferences_url(subscriber_id);
                let email = issue.template.personalise_encoded(&Recipient {
                    name: row.subscriber_name.as_deref(),
                    unsubscribe_url: &unsubscribe_url,
                    preferences_url: &preferences_url,
                });
                message::compose(
                    &self.sender,
                    Outgoing {
                        recipient: &row.recipient,
                        subject: email.subject,
                        html_qp: email.html,
                        text_qp: email.text,
                        sender_name: issue.sender_name.as_deref(),
                        reply_to: issue.reply_to.as_deref(),
                        list: Some(ListInfo {
                            newsletter_name: &issue.newsletter_name,
                            newsletter_slug: &issue.newsletter_slug,
                            unsubscribe_url: &unsubscribe_url,
                        }),
                    },
                )
            }
            None => {
                let email = match self.one_off_email(row) {
                    Ok(email) => email,
                    Err(error) => return Outcome::Failed { id: row.id, error },
                };
                message::compose(
                    &self.sender,
                    Outgoing {
                        recipient: &row.recipient,
                        subject: &email.subject,
                        html_qp: message::encode_part(&email.html),
                        text_qp: message::encode_part(&email.text),
                        sender_name: None,
                        reply_to: None,
                        list: None,
                    },
                )
            }
        };
        let composed = match composed {
            Ok(composed) => composed,
            Err(error) => {
                tracing::warn!(delivery = row.id, to = %mask_email(&row.recipient), %error, "message cannot be built");
                return Outcome::Failed {
                    id: row.id,
                    error: error.to_string(),
                };
            }
        };
        let bytes = match &self.dkim {
            // Signed where it is sent, on the delivery task's own thread: a
            // signature is about 0.2 ms of CPU, and handing each one to the
            // blocking pool and back cost more context switches than it
            // spared. The web server runs on its own threads (actix's
            // workers), so pages do not wait behind it.
            Some(signer) => match signer.sign(&composed.bytes, now_ms() / 1000) {
                Ok(signed) => signed,
                Err(error) => {
                    return Outcome::Failed {
                        id: row.id,
                        error: error.to_string(),
                    };
                }
            },
            None => composed.bytes,
        };
        match self
            .transport
            .send(&composed.envelope, Arc::new(bytes))
            .await
        {
            Ok(()) => Outcome::Sent { id: row.id },
            Err(SendFailure::Permanent(reply)) => {
                tracing::warn!(delivery = row.id, to = %mask_email(&row.recipient), reply = %reply, "delivery failed permanently");
                Outcome::Bounced {
                    id: row.id,
                    subscriber_id: row.subscriber_id,
                    error: reply,
                }
            }
            Err(failure) => {
                tracing::warn!(delivery = row.id, to = %mask_email(&row.recipient), attempt = row.attempts + 1, reply = %failure.message(), "delivery failed, will retry");
                self.retry_or_fail(row, failure.message().to_string())
            }
        }
    }

    /// Claims the next batch, as a future the dispatcher can poll beside
    /// its sends.
    fn claim(self: &Arc<Self>, batch: usize, lease_ms: i64) -> ClaimFuture {
        let engine = self.clone();
        Box::pin(async move {
            let lease_until = now_ms().saturating_add(lease_ms);
            engine
                .store
                .claim_due_deliveries(&engine.instance, batch, lease_until)
                .await
        })
    }

    /// A temporary failure: retry later, or give up after `max_attempts`.
    fn retry_or_fail(&self, row: &ClaimedDelivery, error: String) -> Outcome {
        let attempts = row.attempts.saturating_add(1);
        if attempts >= i64::from(self.settings.mail.max_attempts) {
            return Outcome::Failed { id: row.id, error };
        }
        let delay = backoff_ms(self.settings.mail.retry_base_ms, attempts);
        let next_attempt_at = now_ms().saturating_add(delay);
        self.earliest_retry_ms
            .fetch_min(next_attempt_at, Ordering::Relaxed);
        Outcome::Retry {
            id: row.id,
            next_attempt_at,
            error,
        }
    }

    fn record(&self, outcome: Outcome) {
        // fails only after shutdown dropped the recorder; the row's lease
        // then runs out and it is sent again
        let _ = self.recorder.send(RecorderMessage::Outcome(outcome, None));
    }

    /// [`Engine::record`] for a send, whose room among the unrecorded is
    /// given back once the outcome is written.
    fn record_sent(&self, outcome: Outcome, room: OwnedSemaphorePermit) {
        let _ = self
            .recorder
            .send(RecorderMessage::Outcome(outcome, Some(room)));
    }

    /// Waits until every outcome handed to the recorder so far is written.
    async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.recorder.send(RecorderMessage::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }

    /// How long an idle dispatcher sleeps: a poll interval, or less when a
    /// retry of ours comes due sooner.
    fn idle_wait(&self) -> Duration {
        let earliest = self.earliest_retry_ms.swap(i64::MAX, Ordering::Relaxed);
        if earliest == i64::MAX {
            return IDLE_POLL;
        }
        let until = earliest.saturating_sub(now_ms()).clamp(5, 1000);
        if until >= 1000 {
            // still in the future after this sleep: keep it for the next one
            self.earliest_retry_ms
                .fetch_min(earliest, Ordering::Relaxed);
        }
        Duration::from_millis(u64::try_from(until).unwrap_or(1000))
    }
}

/// `base · 2^(attempt-1)`, capped at an hour, then scaled by a random
/// factor in [0.5, 1] so failed rows do not come back in lockstep.
fn backoff_ms(base_ms: u64, attempt: i64) -> i64 {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = base_ms.saturating_mul(1u64 << exponent).min(MAX_BACKOFF_MS);
    let jittered = full / 2 + rand::rng().random_range(0..=full / 2);
    i64::try_from(jittered).unwrap_or(i64::MAX)
}

/// The recorder: gathers outcomes for a few milliseconds (or up to
/// [`RECORD_BATCH`]) and writes them in one transaction.
async fn record_outcomes(
    store: Store,
    mut inbox: mpsc::UnboundedReceiver<RecorderMessage>,
    bounce_threshold: u32,
) {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(RECORD_BATCH);
    let mut rooms: Vec<OwnedSemaphorePermit> = Vec::with_capacity(RECORD_BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut open = true;
    while open {
        match inbox.recv().await {
            Some(message) => take(message, &mut outcomes, &mut rooms, &mut waiters),
            None => open = false,
        }
        let deadline = tokio::time::Instant::now() + RECORD_WINDOW;
        while open && outcomes.len() < RECORD_BATCH && waiters.is_empty() {
            match tokio::time::timeout_at(deadline, inbox.recv()).await {
                Ok(Some(message)) => take(message, &mut outcomes, &mut rooms, &mut waiters),
                Ok(None) => open = false,
                Err(_) => break,
            }
        }
        write_outcomes(&store, &mut outcomes, bounce_threshold).await;
        rooms.clear();
        for waiter in waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

fn take(
    message: RecorderMessage,
    outcomes: &mut Vec<Outcome>,
    rooms: &mut Vec<OwnedSemaphorePermit>,
    waiters: &mut Vec<oneshot::Sender<()>>,
) {
    match message {
        RecorderMessage::Outcome(outcome, room) => {
            outcomes.push(outcome);
            rooms.extend(room);
        }
        RecorderMessage::Flush(waiter) => waiters.push(waiter),
    }
}

/// Writes the batch, retrying while the database is away (the rows stay
/// leased meanwhile), and counts the outcomes.
async fn write_outcomes(store: &Store, outcomes: &mut Vec<Outcome>, bounce_threshold: u32) {
    if outcomes.is_empty() {
        return;
    }
    let mut tries = 0;
    loop {
        match store
            .record_delivery_outcomes(outcomes, bounce_threshold)
            .await
        {
            Ok(()) => break,
            Err(error) if tries < 30 => {
                tries += 1;
                tracing::error!(%error, "cannot record delivery outcomes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                tracing::error!(%error, lost = outcomes.len(), "giving up recording delivery outcomes; the rows will be sent again when their lease ends");
                break;
            }
        }
    }
    for outcome in outcomes.drain(..) {
        match outcome {
            Outcome::Sent { .. } => metrics::counter!("gazette_mail_sent_total").increment(1),
            Outcome::Retry { .. } => metrics::counter!("gazette_mail_retried_total").increment(1),
            Outcome::Failed { .. } | Outcome::Bounced { .. } => {
                metrics::counter!("gazette_mail_failed_total").increment(1)
            }
            Outcome::Cancelled { .. } => {
                metrics::counter!("gazette_mail_cancelled_total").increment(1)
            }
        }
    }
}

async fn refresh_queue_gauge(store: Store, shutdown: CancellationToken) {
    loop {
        match store.outbox_depth().await {
            Ok(depth) => metrics::gauge!("gazette_outbox_pending").set(depth as f64),
            Err(error) => tracing::debug!(%error, "cannot read the outbox depth"),
        }
        if sleep_or_stop(GAUGE_EVERY, &shutdown).await {
            return;
        }
    }
}

/// Sleeps; true when shutdown came first.
async fn sleep_or_stop(duration: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(duration) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        for attempt in 1..6 {
            let full = 100 * (1 << (attempt - 1));
            let delay = backoff_ms(100, attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay}");
        }
        assert!(backoff_ms(30_000, 40) <= MAX_BACKOFF_MS as i64);
        assert!(backoff_ms(30_000, 40) >= (MAX_BACKOFF_MS / 2) as i64);
    }
}
