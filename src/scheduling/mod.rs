//! Scheduling: when each newsletter's digests fire. Slots are computed here
//! from the newsletter's cron expression in its own timezone; the unique
//! (newsletter, slot) key on issues, not the timer, makes each slot fire
//! once across instances and restarts.

pub mod cron;
pub mod runner;
pub mod schedule;

pub use runner::{Clock, ManualClock, Scheduler, SystemClock};
pub use schedule::{Schedule, ScheduleError};
