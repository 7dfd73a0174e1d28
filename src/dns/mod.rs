//! The DNS records a bulk sender publishes, filled from the configuration
//! ([`records`]), and a check of each against what DNS answers now
//! ([`check`]): DKIM (the key Gazette signs with), SPF (of the domain SPF
//! checks: the bounce domain with VERP, else the sender's), DMARC (a start
//! at `p=none`), and the MX of the bounce domain.

pub mod check;
pub mod records;

pub use check::{Finding, check};
pub use records::{Expected, RecordKind, expected};
