//! The dispatcher: claims due rows in batches under a lease, has each one
//! rendered, waits for a free SMTP session, room among the unrecorded and
//! the global rate, and starts its send. The next batch is claimed while
//! the last half of this one is sent. When the queue runs dry it waits for
//! the sends, has every outcome recorded, lets the renderers settle, and
//! sleeps until woken or a poll interval has passed. At shutdown it lets
//! the sends in flight finish and gives back the rows it still holds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::outbox::MailWaker;
use super::record::UNRECORDED_MAX;
use super::send::send_one;
use super::worker::{Engine, sleep_or_stop};
use crate::store::outbox::ClaimedDelivery;
use crate::store::{StoreError, now_ms};

/// The longest an idle dispatcher sleeps: new rows from another instance
/// are found within this.
const IDLE_POLL: Duration = Duration::from_secs(1);

type ClaimFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<ClaimedDelivery>, StoreError>> + Send>,
>;

/// What the dispatcher woke for while it waited for a free session.
enum Woke {
    Permit((OwnedSemaphorePermit, OwnedSemaphorePermit)),
    Claimed(Result<Vec<ClaimedDelivery>, StoreError>),
    Stop,
}

/// Claims, renders and starts sends until shutdown, then drains and gives
/// back what it still holds.
pub(super) async fn dispatch(
    engine: Arc<Engine>,
    waker: MailWaker,
    shutdown: CancellationToken,
    recording: JoinHandle<()>,
) {
    let mail = &engine.mail;
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
    // The next batch is claimed while the last half of this one is sent: a
    // claim is a database round trip or more, and waiting for it with an
    // empty pipeline leaves every session idle once per batch.
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
            claiming = Some(claim(&engine, batch, lease_ms));
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
                // Idle: settle what was sent, then wait for new mail.
                while sends.join_next().await.is_some() {}
                engine.flush().await;
                engine.renderers.settle().await;
                let wait = idle_wait(&engine);
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
        match engine.renderers.prepare(&row).await {
            Ok(letterhead) => {
                sends.spawn(send_one(engine.clone(), row, letterhead, permit));
            }
            Err(error) => engine.record(engine.not_rendered(&row, error)),
        }
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
    match engine.store.deliveries().release(&engine.instance).await {
        Ok(0) => {}
        Ok(released) => tracing::info!(released, "gave back claimed deliveries at shutdown"),
        Err(error) => {
            tracing::warn!(%error, "cannot give back claimed deliveries; their lease will run out")
        }
    }
    engine.transport.shutdown().await;
    engine.close_recorder();
    let _ = recording.await;
}

/// Claims the next batch, as a future the dispatcher can poll beside its
/// sends.
fn claim(engine: &Arc<Engine>, batch: usize, lease_ms: i64) -> ClaimFuture {
    let engine = engine.clone();
    Box::pin(async move {
        let lease_until = now_ms().saturating_add(lease_ms);
        engine
            .store
            .deliveries()
            .claim_due(&engine.instance, batch, lease_until, now_ms())
            .await
    })
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

/// How long an idle dispatcher sleeps: a poll interval, or less when a
/// retry of this instance comes due sooner.
fn idle_wait(engine: &Engine) -> Duration {
    let earliest = engine.earliest_retry_ms.swap(i64::MAX, Ordering::Relaxed);
    if earliest == i64::MAX {
        return IDLE_POLL;
    }
    let until = earliest.saturating_sub(now_ms()).clamp(5, 1000);
    if until >= 1000 {
        // still in the future after this sleep: keep it for the next one
        engine
            .earliest_retry_ms
            .fetch_min(earliest, Ordering::Relaxed);
    }
    Duration::from_millis(u64::try_from(until).unwrap_or(1000))
}
