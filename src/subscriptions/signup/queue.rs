//! Group commit for signups. Handlers put their signup on a channel and
//! wait for its answer; a writer takes everything waiting (up to
//! [`MAX_GROUP`]), writes it in one transaction and answers each signup
//! after the commit. A burst of signups then costs one transaction (one
//! turn of SQLite's write lock, one WAL flush on PostgreSQL) per group
//! instead of one each, and nobody is answered before their rows are
//! committed.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::writer::SignupWriter;
use super::{SignupError, SignupOutcome, SignupRequest};
use crate::delivery::outbox::MailWaker;

/// The most signups written in one transaction.
pub const MAX_GROUP: usize = 128;

/// Signups waiting for a writer beyond this make the handlers wait to
/// queue theirs.
const QUEUE_CAPACITY: usize = 4096;

struct Job {
    request: SignupRequest,
    answer: oneshot::Sender<Result<SignupOutcome, SignupError>>,
}

/// The handlers' end of the signup writers; cheap to clone.
#[derive(Clone)]
pub struct SignupQueue {
    sender: mpsc::Sender<Job>,
}

impl SignupQueue {
    /// Starts `writers` writer tasks (at least one), each with its own copy
    /// of `writer`. SQLite takes one writer at a time, so one suffices
    /// there; on PostgreSQL a second one writes a group while the first
    /// waits for its commit. They stop when the last `SignupQueue` is
    /// dropped.
    pub fn start(writer: SignupWriter, waker: MailWaker, writers: usize) -> SignupQueue {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..writers.max(1) {
            tokio::spawn(run(receiver.clone(), writer.clone(), waker.clone()));
        }
        SignupQueue { sender }
    }

    /// Signs up once the signup is committed (or failed).
    pub async fn sign_up(&self, request: SignupRequest) -> Result<SignupOutcome, SignupError> {
        let (answer, answered) = oneshot::channel();
        self.sender
            .send(Job { request, answer })
            .await
            .map_err(|_| SignupError::Stopped)?;
        answered.await.unwrap_or(Err(SignupError::Stopped))
    }
}

async fn run(
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    mut writer: SignupWriter,
    waker: MailWaker,
) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    loop {
        {
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut jobs, MAX_GROUP).await == 0 {
                return;
            }
        }
        let (requests, answers): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|job| (job.request, job.answer)).unzip();
        let results = writer.write(&requests).await;
        // their ratio is the mean group size, the measure of how much the
        // grouping saves
        metrics::counter!("gazette_signup_groups_total").increment(1);
        metrics::counter!("gazette_signup_grouped_total").increment(requests.len() as u64);
        count_outcomes(&results);
        if results
            .iter()
            .any(|result| matches!(result, Ok(SignupOutcome::ConfirmationQueued)))
        {
            waker.wake();
        }
        for (answer, result) in answers.into_iter().zip(results) {
            // a handler that went away (client disconnected) needs no answer
            let _ = answer.send(result);
        }
    }
}

/// `gazette_signups_total` by outcome (`failed` for an error), counted
/// once a group.
fn count_outcomes(results: &[Result<SignupOutcome, SignupError>]) {
    let mut counts = [0u64; 4];
    for result in results {
        counts[match result {
            Ok(SignupOutcome::ConfirmationQueued) => 0,
            Ok(SignupOutcome::ConfirmationRecentlySent) => 1,
            Ok(SignupOutcome::AlreadySubscribed) => 2,
            Err(_) => 3,
        }] += 1;
    }
    let names = [
        SignupOutcome::ConfirmationQueued.as_str(),
        SignupOutcome::ConfirmationRecentlySent.as_str(),
        SignupOutcome::AlreadySubscribed.as_str(),
        "failed",
    ];
    for (outcome, count) in names.into_iter().zip(counts) {
        if count > 0 {
            metrics::counter!("gazette_signups_total", "outcome" => outcome).increment(count);
        }
    }
}
