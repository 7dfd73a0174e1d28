//! The delivery workers that run in every instance: claim due rows in
//! batches under a lease, send them with `mail.concurrency` messages in
//! flight under a global `mail.rate_per_second` limit, and record what
//! happened. Three tasks per instance:
//!
//! - the dispatcher ([`super::dispatch`]) claims rows, has each rendered
//!   ([`super::render`]) and starts one send per row ([`super::send`]);
//! - the recorder ([`super::record`]) writes outcomes in small batches, so
//!   the database is not the bottleneck;
//! - the gauge task refreshes `gazette_outbox_pending` every few seconds.
//!
//! An idle dispatcher waits for [`MailWaker`] or a one-second timer, so new
//! mail leaves within a second without polling an empty queue in a loop.
//!
//! Shutdown: stop claiming, let the sends in flight finish, record them,
//! give back claimed rows that were not sent, and wait for the recorder to
//! write its last outcomes before the dispatcher's task ends. A process that dies
//! instead leaves its rows leased; they are claimed again when the lease
//! runs out, so only the messages in flight at the crash (sent but not yet
//! recorded) can go twice.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::dkim::{DkimError, DkimSigner};
use super::message::{MessageError, Sender};
use super::outbox::MailWaker;
use super::record::{RecorderMessage, record_outcomes};
use super::render::Renderers;
use super::transport::{Transport, TransportError};
use super::verp::Verp;
use crate::config::MailSettings;
use crate::store::Store;

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

/// What the delivery workers are started with.
pub struct DeliveryParts {
    pub store: Store,
    pub mail: MailSettings,
    pub waker: MailWaker,
    /// The renderers of the kinds of mail, registered by their owners.
    pub renderers: Renderers,
    /// Names each message's delivery in its Message-ID and, when
    /// `mail.bounce.domain` is set, its Return-Path.
    pub verp: Verp,
}

/// The parts a send needs, shared by the tasks of one instance.
pub(super) struct Engine {
    pub store: Store,
    pub mail: MailSettings,
    pub renderers: Renderers,
    pub transport: Transport,
    pub sender: Sender,
    pub dkim: Option<Arc<DkimSigner>>,
    pub verp: Verp,
    pub limiter: DefaultDirectRateLimiter,
    /// Names this instance's leases.
    pub instance: String,
    pub recorder: mpsc::UnboundedSender<RecorderMessage>,
    /// The earliest retry this instance scheduled, so an idle dispatcher
    /// wakes for it rather than a whole poll interval later.
    pub earliest_retry_ms: AtomicI64,
}

/// Loads the DKIM key and the transport (a bad key or setting stops the
/// start) and spawns the delivery tasks, which stop on `shutdown`.
pub fn start(
    parts: DeliveryParts,
    shutdown: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, DeliveryStartError> {
    let DeliveryParts {
        store,
        mail,
        waker,
        renderers,
        verp,
    } = parts;
    let dkim = match &mail.dkim {
        Some(dkim) => Some(Arc::new(DkimSigner::load(dkim)?)),
        None => None,
    };
    let transport = Transport::from_settings(&mail)?;
    let sender = Sender::from_settings(&mail)?;
    let rate = NonZeroU32::new(mail.rate_per_second).unwrap_or(NonZeroU32::MIN);
    let (recorder, outcomes) = mpsc::unbounded_channel();
    let recording = tokio::spawn(record_outcomes(
        store.clone(),
        outcomes,
        mail.bounce_threshold,
    ));
    let engine = Arc::new(Engine {
        store: store.clone(),
        mail,
        renderers,
        transport,
        sender,
        dkim,
        verp,
        limiter: RateLimiter::direct(Quota::per_second(rate)),
        instance: instance_id(),
        recorder,
        earliest_retry_ms: AtomicI64::new(i64::MAX),
    });
    let dispatching = tokio::spawn(super::dispatch::dispatch(
        engine,
        waker,
        shutdown.clone(),
        recording,
    ));
    let gauge = tokio::spawn(refresh_queue_gauge(store, shutdown));
    Ok(vec![dispatching, gauge])
}

fn instance_id() -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..8)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    format!("{}-{suffix}", std::process::id())
}

async fn refresh_queue_gauge(store: Store, shutdown: CancellationToken) {
    loop {
        match store.deliveries().depth().await {
            Ok(depth) => metrics::gauge!("gazette_outbox_pending").set(depth as f64),
            Err(error) => tracing::debug!(%error, "cannot read the outbox depth"),
        }
        if sleep_or_stop(GAUGE_EVERY, &shutdown).await {
            return;
        }
    }
}

/// Sleeps; true when shutdown came first.
pub(super) async fn sleep_or_stop(duration: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(duration) => false,
    }
}
