//! Scheduling: firing each newsletter's digests at the slots of its
//! schedule (`newsletters::Schedule`, a cron expression in the
//! newsletter's own timezone). The unique (newsletter, slot) key on issues,
//! not the timer, makes each slot fire once across instances and restarts.

mod clock;
pub mod runner;

pub use clock::{Clock, ManualClock, SystemClock};
pub use runner::Scheduler;
