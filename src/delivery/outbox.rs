//! Queueing mail: what the rest of Gazette calls to put an email in the
//! outbox (inside the transaction of the change that causes it, through
//! the store's `Outbox` face), and [`MailWaker`], which it calls after the
//! commit so a worker of this instance picks the mail up at once.

use std::sync::Arc;

use tokio::sync::Notify;

pub use crate::store::outbox::{MailBody, MailKind, OneOffMail};

/// Wakes this instance's delivery workers after a commit, so new mail goes
/// out at once instead of at the next poll. Other instances find it at
/// their next poll.
#[derive(Debug, Clone, Default)]
pub struct MailWaker(Arc<Notify>);

impl MailWaker {
    pub fn wake(&self) {
        self.0.notify_waiters();
        self.0.notify_one();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
