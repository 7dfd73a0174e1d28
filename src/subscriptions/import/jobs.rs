//! The `imports` table: one row per import, updated in the same
//! transaction as each batch it writes (so the progress shown is exactly
//! what is committed), and the report of rejected rows kept afterwards.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::ImportReport;
use super::write::BatchOutcome;
use crate::store::{Store, StoreError, now_ms};

/// A running import whose row has not moved for this long was stopped
/// with its instance.
pub const STALLED_AFTER_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportJobStatus {
    Running,
    Done,
    Failed,
}

impl ImportJobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportJobStatus::Running => "running",
            ImportJobStatus::Done => "done",
            ImportJobStatus::Failed => "failed",
        }
    }

    fn parse(raw: &str) -> ImportJobStatus {
        match raw {
            "running" => ImportJobStatus::Running,
            "done" => ImportJobStatus::Done,
            _ => ImportJobStatus::Failed,
        }
    }
}

/// One rejected row as the report keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    pub line: u64,
    pub email: String,
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct ImportJob {
    pub id: i64,
    pub newsletter_id: i64,
    pub file_name: String,
    pub source: String,
    pub status: ImportJobStatus,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub added_active: i64,
    pub added_pending: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub error: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

const JOB_COLUMNS: &str = "id, newsletter_id, file_name, source, status, total_rows, \
     processed_rows, added_active, added_pending, unchanged, rejected, error, created_by, \
     created_at, updated_at, finished_at";

impl ImportJob {
    fn from_row(row: &AnyRow) -> Result<ImportJob, sqlx::Error> {
        Ok(ImportJob {
            id: row.try_get("id")?,
            newsletter_id: row.try_get("newsletter_id")?,
            file_name: row.try_get("file_name")?,
            source: row.try_get("source")?,
            status: ImportJobStatus::parse(&row.try_get::<String, _>("status")?),
            total_rows: row.try_get("total_rows")?,
            processed_rows: row.try_get("processed_rows")?,
            added_active: row.try_get("added_active")?,
            added_pending: row.try_get("added_pending")?,
            unchanged: row.try_get("unchanged")?,
            rejected: row.try_get("rejected")?,
            error: row.try_get("error")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            finished_at: row.try_get("finished_at")?,
        })
    }

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
    let now = now_ms();
    let name: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Ok(sqlx::query_scalar(
        "INSERT INTO imports (newsletter_id, file_name, source, status, total_rows, created_by, \
         created_at, updated_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $6) RETURNING id",
    )
    .bind(newsletter_id)
    .bind(name)
    .bind(source)
    .bind(i64::try_from(total_rows).unwrap_or(i64::MAX))
    .bind(created_by)
    .bind(now)
    .fetch_one(store.pool())
    .await?)
}

pub(super) async fn record_batch(
    conn: &mut AnyConnection,
    job_id: i64,
    processed: u64,
    batch: &BatchOutcome,
) -> Result<(), sqlx::Error> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE imports SET processed_rows = $2, added_active = added_active + $3, \
         added_pending = added_pending + $4, unchanged = unchanged + $5, \
         rejected = rejected + $6, updated_at = $7 WHERE id = $1",
    )
    .bind(job_id)
    .bind(n(processed))
    .bind(n(batch.added_active))
    .bind(n(batch.added_pending))
    .bind(n(batch.unchanged))
    .bind(n(batch.rejected.len() as u64))
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
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
    let json = serde_json::to_string(&lines).unwrap_or_else(|_| "[]".to_string());
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let now = now_ms();
    sqlx::query(
        "UPDATE imports SET status = 'done', processed_rows = total_rows, added_active = $2, \
         added_pending = $3, unchanged = $4, rejected = $5, report = $6, updated_at = $7, \
         finished_at = $7 WHERE id = $1",
    )
    .bind(job_id)
    .bind(n(report.added_active))
    .bind(n(report.added_pending))
    .bind(n(report.unchanged))
    .bind(n(report.rejected.len() as u64))
    .bind(json)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

pub(super) async fn fail_job(store: &Store, job_id: i64, error: &str) -> Result<(), StoreError> {
    let now = now_ms();
    sqlx::query(
        "UPDATE imports SET status = 'failed', error = $2, updated_at = $3, finished_at = $3 \
         WHERE id = $1",
    )
    .bind(job_id)
    .bind(error)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

impl Store {
    pub async fn import_job(&self, id: i64) -> Result<Option<ImportJob>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM imports WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(ImportJob::from_row).transpose()?)
    }

    /// The newest imports first.
    pub async fn recent_import_jobs(&self, limit: i64) -> Result<Vec<ImportJob>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM imports ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(ImportJob::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The rejected rows of a finished import.
    pub async fn import_report(&self, id: i64) -> Result<Vec<ReportLine>, StoreError> {
        let report: Option<Option<String>> =
            sqlx::query_scalar("SELECT report FROM imports WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(report
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }
}
