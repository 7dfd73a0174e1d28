//! Importing subscribers from a CSV file, for the admin's upload and for
//! `gazette subscribers import`: one path for both.
//!
//! 1. [`parse_import`] reads the whole file before anything is written: a
//!    wrong header refuses the file whole; each bad row is set aside with
//!    its line and reason (bad address, duplicate in the file, missing
//!    column…).
//! 2. [`run_import`] drops the rows whose address was erased at its
//!    owner's request (only its hash is kept, and an import must not bring
//!    them back), then writes the rest in transactions of
//!    [`BATCH_ROWS`] rows, so SQLite's write lock is never held for long
//!    and a crash loses at most the batch in flight, never half a row.
//!    Re-running a file changes nothing twice: a row already subscribed is
//!    counted as unchanged.
//! 3. Rows whose file says they opted in (`opted_in`/`confirmed` yes) are
//!    imported confirmed; the others get a pending subscription and a
//!    confirmation email through the outbox, as a signup does
//!    ([`ConsentSource::Import`] in the consent record). Someone who
//!    unsubscribed from the newsletter, or whose mail bounced, is not
//!    subscribed again by an import.
//!
//! Every import is a row in `imports` ([`jobs`]): its progress, which the
//! admin's bar polls, and the report of rejected rows afterwards.

pub mod jobs;
pub mod parse;
mod write;

pub use jobs::{ImportJob, ImportJobStatus, ReportLine};
pub use parse::{ImportRefused, ImportRow, ParsedImport, parse_import};

use crate::newsletters::Newsletter;
use crate::store::{Store, StoreError};

/// The largest file accepted (the admin's upload limit too).
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;
/// Rows written per transaction.
pub const BATCH_ROWS: usize = 500;

/// Why a row was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    BadAddress(String),
    BadName(String),
    DuplicateInFile {
        first_line: u64,
    },
    Erased,
    MissingColumn(&'static str),
    ExtraFields {
        expected: usize,
        found: usize,
    },
    NotUtf8(&'static str),
    BadOptedIn(String),
    BadConsentedAt(String),
    /// They left this newsletter: only they can join it again.
    Unsubscribed,
    /// Their mail bounced: importing them again would only bounce again.
    Bounced,
    /// They reported a newsletter as spam: only a signup they confirm
    /// brings them back.
    Complained,
}

impl RejectReason {
    /// A stable name, for the CSV report and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::BadAddress(_) => "bad_address",
            RejectReason::BadName(_) => "bad_name",
            RejectReason::DuplicateInFile { .. } => "duplicate_in_file",
            RejectReason::Erased => "erased",
            RejectReason::MissingColumn(_) => "missing_column",
            RejectReason::ExtraFields { .. } => "extra_fields",
            RejectReason::NotUtf8(_) => "not_utf8",
            RejectReason::BadOptedIn(_) => "bad_opted_in",
            RejectReason::BadConsentedAt(_) => "bad_consented_at",
            RejectReason::Unsubscribed => "unsubscribed",
            RejectReason::Bounced => "bounced",
            RejectReason::Complained => "complained",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::BadAddress(problem) => write!(f, "bad address: the address {problem}"),
            RejectReason::BadName(problem) => write!(f, "bad name: the name {problem}"),
            RejectReason::DuplicateInFile { first_line } => {
                write!(f, "duplicate: the same address is on line {first_line}")
            }
            RejectReason::Erased => {
                f.write_str("erased: this person asked to be erased; only they can subscribe again")
            }
            RejectReason::MissingColumn(column) => {
                write!(f, "missing column: the row has no {column} field")
            }
            RejectReason::ExtraFields { expected, found } => write!(
                f,
                "extra fields: {found} fields where the header has {expected} (a comma in an unquoted value?)"
            ),
            RejectReason::NotUtf8(column) => {
                write!(f, "the {column} field is not UTF-8 text")
            }
            RejectReason::BadOptedIn(value) => {
                write!(f, "opted_in must be yes or no, not {value:?}")
            }
            RejectReason::BadConsentedAt(value) => write!(
                f,
                "consented_at must be a past date such as 2024-03-01 or 2024-03-01T10:00:00Z, not {value:?}"
            ),
            RejectReason::Unsubscribed => f.write_str(
                "unsubscribed: they left this newsletter; only they can subscribe again",
            ),
            RejectReason::Bounced => f.write_str("bounced: mail to this address bounces"),
            RejectReason::Complained => f.write_str(
                "complained: they reported our mail as spam; only a signup they confirm brings them back",
            ),
        }
    }
}

/// A row not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub line: u64,
    /// The address as the file gives it.
    pub email: String,
    pub reason: RejectReason,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows in the file.
    pub total_rows: u64,
    /// Imported as confirmed subscribers of the newsletter.
    pub added_active: u64,
    /// Imported as pending, with a confirmation email queued.
    pub added_pending: u64,
    /// Already subscribed (or already waiting for confirmation).
    pub unchanged: u64,
    /// By line.
    pub rejected: Vec<Rejection>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Refused(#[from] ImportRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an import is at, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    pub processed: u64,
    pub total: u64,
}

/// Writes a parsed file into `newsletter`, recording progress and the
/// report in the job row `job_id` (see [`jobs::start_job`]); calls
/// `on_batch` after each committed batch. The caller wakes the delivery
/// workers (or, from the CLI, leaves the mail to the server).
pub async fn run_import(
    store: &Store,
    erased: &crate::subscriptions::ErasedAddresses,
    newsletter: &Newsletter,
    parsed: ParsedImport,
    job_id: i64,
    mut on_batch: impl FnMut(ImportProgress),
) -> Result<ImportReport, StoreError> {
    let outcome = write_all(store, erased, newsletter, parsed, job_id, &mut on_batch).await;
    match &outcome {
        Ok(report) => jobs::finish_job(store, job_id, report).await?,
        Err(error) => {
            tracing::error!(%error, job_id, "subscriber import stopped");
            jobs::fail_job(store, job_id, &error.to_string()).await?;
        }
    }
    outcome
}

async fn write_all(
    store: &Store,
    erased_addresses: &crate::subscriptions::ErasedAddresses,
    newsletter: &Newsletter,
    parsed: ParsedImport,
    job_id: i64,
    on_batch: &mut impl FnMut(ImportProgress),
) -> Result<ImportReport, StoreError> {
    let ParsedImport {
        rows,
        mut rejected,
        total_rows,
    } = parsed;
    let mut report = ImportReport {
        total_rows,
        ..ImportReport::default()
    };
    // Rows refused by the parser count as handled from the start.
    let mut processed = rejected.len() as u64;
    let erased = erased_addresses
        .among(
            store,
            &rows.iter().map(|r| r.email.key()).collect::<Vec<_>>(),
        )
        .await?;
    let (rows, erased_rows): (Vec<ImportRow>, Vec<ImportRow>) = rows
        .into_iter()
        .partition(|row| !erased.contains(&row.email.key()));
    for row in erased_rows {
        rejected.push(Rejection {
            line: row.line,
            email: row.email.as_str().to_string(),
            reason: RejectReason::Erased,
        });
        processed += 1;
    }
    let writer = write::RowWriter::new(newsletter);
    for batch in rows.chunks(BATCH_ROWS) {
        let outcome = writer.write_batch(store, batch, job_id, processed).await?;
        processed += batch.len() as u64;
        report.added_active += outcome.added_active;
        report.added_pending += outcome.added_pending;
        report.unchanged += outcome.unchanged;
        rejected.extend(outcome.rejected);
        on_batch(ImportProgress {
            processed,
            total: total_rows,
        });
    }
    rejected.sort_by_key(|r| r.line);
    report.rejected = rejected;
    Ok(report)
}
