//! Recording what each send did. Sends hand their outcome to one recorder
//! task, which gathers outcomes for a few milliseconds (or up to
//! [`RECORD_BATCH`]) and writes them in one transaction, retrying while the
//! database is away. A send holds room among the unrecorded
//! ([`UNRECORDED_MAX`]) until its outcome is written, so a slow database
//! slows the sending instead of letting sent-but-unrecorded mail pile up:
//! that is what a crash can make go twice.

use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use super::worker::Engine;
use crate::store::Store;
use crate::store::outbox::Outcome;

/// Outcomes written per transaction at most.
pub(super) const RECORD_BATCH: usize = 64;
/// Messages sent or being sent whose outcome is not written yet, at most.
pub(super) const UNRECORDED_MAX: usize = 2 * RECORD_BATCH;
/// How long the recorder gathers outcomes before writing them.
const RECORD_WINDOW: Duration = Duration::from_millis(20);

pub(super) enum RecorderMessage {
    /// With the room it took among the unrecorded, when it was sent.
    Outcome(Outcome, Option<OwnedSemaphorePermit>),
    Flush(oneshot::Sender<()>),
    /// Write what is left and stop: the last message of a shutdown.
    Close,
}

impl Engine {
    pub(super) fn record(&self, outcome: Outcome) {
        // fails only after shutdown dropped the recorder; the row's lease
        // then runs out and it is sent again
        let _ = self.recorder.send(RecorderMessage::Outcome(outcome, None));
    }

    /// [`Engine::record`] for a send, whose room among the unrecorded is
    /// given back once the outcome is written.
    pub(super) fn record_sent(&self, outcome: Outcome, room: OwnedSemaphorePermit) {
        let _ = self
            .recorder
            .send(RecorderMessage::Outcome(outcome, Some(room)));
    }

    /// Has the recorder write what it holds and stop; the dispatcher then
    /// awaits it, so the process does not exit with outcomes unwritten.
    pub(super) fn close_recorder(&self) {
        let _ = self.recorder.send(RecorderMessage::Close);
    }

    /// Waits until every outcome handed to the recorder so far is written.
    pub(super) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.recorder.send(RecorderMessage::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

/// The recorder task: runs until told to close, or every sender of
/// outcomes is gone.
pub(super) async fn record_outcomes(
    store: Store,
    mut inbox: mpsc::UnboundedReceiver<RecorderMessage>,
    bounce_threshold: u32,
) {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(RECORD_BATCH);
    let mut rooms: Vec<OwnedSemaphorePermit> = Vec::with_capacity(RECORD_BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut open = true;
    let pause = test_pause();
    while open {
        match inbox.recv().await {
            Some(message) => open = take(message, &mut outcomes, &mut rooms, &mut waiters),
            None => open = false,
        }
        let deadline = tokio::time::Instant::now() + RECORD_WINDOW;
        while open && outcomes.len() < RECORD_BATCH && waiters.is_empty() {
            match tokio::time::timeout_at(deadline, inbox.recv()).await {
                Ok(Some(message)) => open = take(message, &mut outcomes, &mut rooms, &mut waiters),
                Ok(None) => open = false,
                Err(_) => break,
            }
        }
        if let Some(pause) = pause.filter(|_| !outcomes.is_empty()) {
            tokio::time::sleep(pause).await;
        }
        write_outcomes(&store, &mut outcomes, bounce_threshold).await;
        rooms.clear();
        for waiter in waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}

/// A pause before each write, for the fault tests only: it makes a stop
/// land while outcomes wait to be written. Debug builds read it from
/// `GAZETTE_TEST_RECORD_DELAY_MS`; release builds have none.
fn test_pause() -> Option<Duration> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let millis = std::env::var("GAZETTE_TEST_RECORD_DELAY_MS").ok()?;
    millis.parse().ok().map(Duration::from_millis)
}

/// Takes one message; false when it was [`RecorderMessage::Close`].
fn take(
    message: RecorderMessage,
    outcomes: &mut Vec<Outcome>,
    rooms: &mut Vec<OwnedSemaphorePermit>,
    waiters: &mut Vec<oneshot::Sender<()>>,
) -> bool {
    match message {
        RecorderMessage::Outcome(outcome, room) => {
            outcomes.push(outcome);
            rooms.extend(room);
        }
        RecorderMessage::Flush(waiter) => waiters.push(waiter),
        RecorderMessage::Close => return false,
    }
    true
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
            .deliveries()
            .record(outcomes, bounce_threshold, crate::store::now_ms())
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
