//! Group commit for signups. Handlers put their signup on a channel and
//! wait for its answer; a writer takes everything waiting (up to
//! [`MAX_GROUP`]), writes it in one transaction and answers each signup
//! after the commit. A burst of signups then costs one transaction (one
//! turn of SQLite's write lock, one WAL flush on PostgreSQL) per group
//! instead of one each, and nobody is answered before their rows are
//! committed. With several writers (PostgreSQL), a writer that finds only
//! a few signups waiting while another is writing gathers a few more
//! first (at most [`GATHER_AT_MOST`]), so the groups stay big enough to
//! pay for their fixed cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use super::writer::SignupWriter;
use super::{SignupError, SignupOutcome, SignupRequest};
use crate::delivery::outbox::MailWaker;

/// The most signups written in one transaction.
pub const MAX_GROUP: usize = 128;

/// Signups waiting for a writer beyond this make the handlers wait to
/// queue theirs.
const QUEUE_CAPACITY: usize = 4096;

/// While another writer is busy, a writer gathers at least this many
/// signups before it writes ...
const GATHER: usize = 8;

/// ... or until this much time has passed. Under load on PostgreSQL each
/// group has a fixed cost (the statement's start, its triggers, the
/// commit: about 0.3 ms of the database's CPU). Writers that take only
/// whatever is waiting leave the CPU idle while they wait for their
/// commits, or, when there are more of them, write small groups and pay
/// the fixed cost more often; writers that gather a moment write groups of
/// about 11 at 32 connections.
/// With nobody else writing, a signup is written at once: a lone visitor
/// never waits for company.
const GATHER_AT_MOST: Duration = Duration::from_millis(2);

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
    /// there; on PostgreSQL others write groups while one waits for its
    /// commit. They stop when the last `SignupQueue` is dropped.
    pub fn start(writer: SignupWriter, waker: MailWaker, writers: usize) -> SignupQueue {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        let busy = Arc::new(AtomicUsize::new(0));
        for _ in 0..writers.max(1) {
            tokio::spawn(run(
                receiver.clone(),
                busy.clone(),
                writer.clone(),
                waker.clone(),
            ));
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

/// `busy` counts the writers writing a group.
async fn run(
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    busy: Arc<AtomicUsize>,
    mut writer: SignupWriter,
    waker: MailWaker,
) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    loop {
        {
            // held while gathering, so the next writer gathers after this one
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut jobs, MAX_GROUP).await == 0 {
                return;
            }
            if jobs.len() < GATHER && busy.load(Ordering::Acquire) > 0 {
                gather(&mut receiver, &mut jobs).await;
            }
        }
        let (requests, answers): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|job| (job.request, job.answer)).unzip();
        busy.fetch_add(1, Ordering::AcqRel);
        let results = writer.write(&requests).await;
        busy.fetch_sub(1, Ordering::AcqRel);
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

/// Adds what arrives to `jobs` until it holds [`GATHER`] signups or
/// [`GATHER_AT_MOST`] has passed (a closed channel ends it too; the
/// signups already taken are still written).
async fn gather(receiver: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    let deadline = Instant::now() + GATHER_AT_MOST;
    while jobs.len() < GATHER {
        let room = MAX_GROUP - jobs.len();
        match timeout_at(deadline, receiver.recv_many(jobs, room)).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::subscriptions::domain::SubscriberEmail;
    use crate::subscriptions::{ClientMeta, ConsentSource};

    fn job(n: usize) -> Job {
        let (answer, _) = oneshot::channel();
        Job {
            request: SignupRequest {
                email: SubscriberEmail::parse(&format!("reader{n}@example.org")).unwrap(),
                name: None,
                newsletters: Vec::new(),
                source: ConsentSource::Api,
                client: ClientMeta::default(),
            },
            answer,
        }
    }

    fn emails(jobs: &[Job]) -> Vec<String> {
        jobs.iter()
            .map(|job| job.request.email.as_str().to_string())
            .collect()
    }

    #[tokio::test]
    async fn gathering_takes_everything_waiting_at_once() {
        let (sender, mut receiver) = mpsc::channel(QUEUE_CAPACITY);
        for n in 1..GATHER + 3 {
            sender.send(job(n)).await.unwrap();
        }
        let mut jobs = vec![job(0)];
        gather(&mut receiver, &mut jobs).await;
        assert_eq!(jobs.len(), GATHER + 3);
        assert!(receiver.try_recv().is_err(), "nothing is left behind");
    }

    #[tokio::test]
    async fn gathering_ends_short_when_nobody_else_comes() {
        let (sender, mut receiver) = mpsc::channel(QUEUE_CAPACITY);
        sender.send(job(1)).await.unwrap();
        let mut jobs = vec![job(0)];
        // the sender stays open: only the time limit ends the gathering
        gather(&mut receiver, &mut jobs).await;
        assert_eq!(
            emails(&jobs),
            ["reader0@example.org", "reader1@example.org"]
        );
        drop(sender);
    }

    #[tokio::test]
    async fn a_signup_arriving_while_gathering_joins_the_group() {
        let (sender, mut receiver) = mpsc::channel(QUEUE_CAPACITY);
        // runs once the gathering below waits
        let late = tokio::spawn(async move {
            sender.send(job(1)).await.unwrap();
            sender
        });
        let mut jobs = vec![job(0)];
        gather(&mut receiver, &mut jobs).await;
        late.await.unwrap();
        assert_eq!(
            emails(&jobs),
            ["reader0@example.org", "reader1@example.org"]
        );
    }

    #[tokio::test]
    async fn a_closed_queue_ends_the_gathering_with_what_was_taken() {
        let (sender, mut receiver) = mpsc::channel(QUEUE_CAPACITY);
        sender.send(job(1)).await.unwrap();
        drop(sender);
        let mut jobs = vec![job(0)];
        gather(&mut receiver, &mut jobs).await;
        assert_eq!(jobs.len(), 2);
    }
}
