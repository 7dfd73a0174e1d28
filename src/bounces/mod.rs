//! Bounces and complaints that arrive after the relay said yes. Every
//! message's envelope sender names its delivery ([`crate::delivery::verp`]);
//! reports come back by mail to that address, to Gazette's own SMTP
//! listener ([`listener`]) or to a mailbox it polls ([`imap`]), and are read ([`report`]: DSN and ARF, never an
//! auto-reply) and applied by one processor ([`process`]), as are the
//! events of providers' webhooks ([`webhooks`]). DMARC aggregate reports
//! mailed to the same addresses are read too ([`dmarc`]) and stored for
//! editors. Events and reports are kept `mail.bounce.keep_days`, then
//! pruned ([`prune`]).

pub mod dmarc;
pub mod imap;
pub mod listener;
pub mod process;
pub mod rates;
pub mod report;
pub mod webhooks;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{Store, now_ms};

pub use crate::store::mail_events::{
    EventCounts, EventFilter, MailEvent, MailEventKind, MailEventSource,
};
pub use process::{Incoming, Processed, Processor};

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Removes events and DMARC reports older than `keep_days`, once an
/// hour, until `shutdown`.
pub async fn prune(store: Store, keep_days: u32, shutdown: CancellationToken) {
    loop {
        let before = now_ms() - i64::from(keep_days) * 86_400_000;
        match store.mail_events().prune(before).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "old bounce and complaint events pruned"),
            Err(error) => tracing::warn!(%error, "cannot prune old bounce events"),
        }
        match store.dmarc_reports().prune(before).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "old DMARC reports pruned"),
            Err(error) => tracing::warn!(%error, "cannot prune old DMARC reports"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}
