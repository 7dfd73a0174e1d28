//! `[subscriptions]`: what becomes of signups left unconfirmed.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// How long after a signup's confirmation email, left unanswered, the
    /// one reminder goes out.
    #[serde(with = "humantime_serde", default = "reminder_after")]
    pub reminder_after: Duration,
    /// How long a signup may stay unconfirmed before it is removed, with
    /// its tokens and consent records.
    #[serde(with = "humantime_serde", default = "pending_expiry")]
    pub pending_expiry: Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> SubscriptionSettings {
        SubscriptionSettings {
            reminder_after: reminder_after(),
            pending_expiry: pending_expiry(),
        }
    }
}

fn reminder_after() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn pending_expiry() -> Duration {
    Duration::from_secs(30 * 86_400)
}
