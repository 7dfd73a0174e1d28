//! Subscriber imports: the `imports` table, one row per import, updated in
//! the same transaction as each batch it writes (so the progress shown is
//! exactly what is committed), and the report of rejected rows kept
//! afterwards. The same statements on both databases.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::{Store, StoreError, WriteTx};

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

    pub fn parse(raw: &str) -> ImportJobStatus {
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

fn job(row: &AnyRow) -> Result<ImportJob, sqlx::Error> {
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

/// An import's counts so far (or in all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub added_active: u64,
    pub added_pending: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

fn n(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    pub fn imports(&self) -> Imports<'_> {
        Imports {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn imports(&mut self) -> Imports<'_> {
        Imports { on: On::Tx(self) }
    }
}

pub struct Imports<'a> {
    on: On<'a>,
}

impl Imports<'_> {
    /// Records a new, running import of `total_rows` rows; its id.
    pub async fn start(
        &mut self,
        newsletter_id: i64,
        file_name: &str,
        source: &str,
        total_rows: u64,
        created_by: Option<i64>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "INSERT INTO imports (newsletter_id, file_name, source, status, total_rows, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $6) \
             RETURNING id",
        )
        .bind(newsletter_id)
        .bind(file_name)
        .bind(source)
        .bind(n(total_rows))
        .bind(created_by)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?)
    }

    /// One more batch written: `processed` rows handled in all, `batch`'s
    /// counts added.
    pub async fn record_batch(
        &mut self,
        id: i64,
        processed: u64,
        batch: ImportCounts,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE imports SET processed_rows = $2, added_active = added_active + $3, \
             added_pending = added_pending + $4, unchanged = unchanged + $5, \
             rejected = rejected + $6, updated_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(n(processed))
        .bind(n(batch.added_active))
        .bind(n(batch.added_pending))
        .bind(n(batch.unchanged))
        .bind(n(batch.rejected))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The import is done: its final counts and its report.
    pub async fn finish(
        &mut self,
        id: i64,
        counts: ImportCounts,
        report: &[ReportLine],
        now: i64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(report).unwrap_or_else(|_| "[]".to_string());
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE imports SET status = 'done', processed_rows = total_rows, added_active = $2, \
             added_pending = $3, unchanged = $4, rejected = $5, report = $6, updated_at = $7, \
             finished_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(n(counts.added_active))
        .bind(n(counts.added_pending))
        .bind(n(counts.unchanged))
        .bind(n(counts.rejected))
        .bind(json)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn fail(&mut self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE imports SET status = 'failed', error = $2, updated_at = $3, finished_at = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn by_id(&mut self, id: i64) -> Result<Option<ImportJob>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM imports WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(job).transpose()?)
    }

    /// The newest imports first.
    pub async fn recent(&mut self, limit: i64) -> Result<Vec<ImportJob>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM imports ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(job).collect::<Result<_, _>>()?)
    }

    /// The rejected rows of a finished import.
    pub async fn report(&mut self, id: i64) -> Result<Vec<ReportLine>, StoreError> {
        let mut conn = self.on.conn().await?;
        let report: Option<Option<String>> =
            sqlx::query_scalar("SELECT report FROM imports WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok(report
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }
}
