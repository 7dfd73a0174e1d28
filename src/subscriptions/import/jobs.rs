//! An import's record (the store's `imports`): started before the first
//! batch, updated in the same transaction as each batch (so the progress
//! shown is exactly what is committed), finished with the report of the
//! rows it rejected, or failed with why.

use super::ImportReport;
use super::write::BatchOutcome;
pub use crate::store::imports::{ImportCounts, ImportJob, ImportJobStatus, ReportLine};
use crate::store::{Store, StoreError, WriteTx, now_ms};

/// A running import whose row has not moved for this long was stopped
/// with its instance.
pub const STALLED_AFTER_MS: i64 = 5 * 60 * 1000;

impl ImportJob {
    /// Percent of the file handled; 100 only once it is finished.
    pub fn percent(&self) -> i64 {
        match self.status {
            ImportJobStatus::Running if self.total_rows > 0 => {
                (self.processed_rows * 100 / self.total_rows).min(99)
            }
            ImportJobStatus::Running => 0,
            _ => 100,
        }
    }

    /// Still "running" but untouched for [`STALLED_AFTER_MS`]: the instance
    /// that ran it stopped. Running the file again finishes it.
    pub fn stalled(&self, now_ms: i64) -> bool {
        self.status == ImportJobStatus::Running && now_ms - self.updated_at > STALLED_AFTER_MS
    }
}

/// Records a new import of `total_rows` rows; returns its id.
pub async fn start_job(
    store: &Store,
    newsletter_id: i64,
    file_name: &str,
    source: &str,
    total_rows: u64,
    created_by: Option<i64>,
) -> Result<i64, StoreError> {
    let name: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    store
        .imports()
        .start(
            newsletter_id,
            &name,
            source,
            total_rows,
            created_by,
            now_ms(),
        )
        .await
}

pub(super) async fn record_batch(
    tx: &mut WriteTx,
    job_id: i64,
    processed: u64,
    batch: &BatchOutcome,
) -> Result<(), StoreError> {
    let counts = ImportCounts {
        added_active: batch.added_active,
        added_pending: batch.added_pending,
        unchanged: batch.unchanged,
        rejected: batch.rejected.len() as u64,
    };
    tx.imports()
        .record_batch(job_id, processed, counts, now_ms())
        .await
}

pub(super) async fn finish_job(
    store: &Store,
    job_id: i64,
    report: &ImportReport,
) -> Result<(), StoreError> {
    let lines: Vec<ReportLine> = report
        .rejected
        .iter()
        .map(|r| ReportLine {
            line: r.line,
            email: r.email.clone(),
            code: r.reason.code().to_string(),
            reason: r.reason.to_string(),
        })
        .collect();
    let counts = ImportCounts {
        added_active: report.added_active,
        added_pending: report.added_pending,
        unchanged: report.unchanged,
        rejected: report.rejected.len() as u64,
    };
    store
        .imports()
        .finish(job_id, counts, &lines, now_ms())
        .await
}

pub(super) async fn fail_job(store: &Store, job_id: i64, error: &str) -> Result<(), StoreError> {
    store.imports().fail(job_id, error, now_ms()).await
}
