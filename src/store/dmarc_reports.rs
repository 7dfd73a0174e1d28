//! DMARC aggregate reports (`dmarc_reports`): what receivers say of the
//! mail that bore the site's domain, one row a report with its totals and
//! the sending sources it lists. Read by the `bounces` module; shown to
//! editors so they can tell when it is safe to move DMARC past `p=none`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::mail_events::MailEventSource;
use super::{Store, StoreError, WriteTx};

/// One sending source a report lists: an address that sent `count`
/// messages bearing the domain, and what DMARC made of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcSource {
    pub source_ip: String,
    pub count: i64,
    /// What the receiver did: none, quarantine or reject.
    pub disposition: String,
    /// Whether DKIM passed aligned with the From domain.
    pub dkim: String,
    /// Whether SPF passed aligned with the From domain.
    pub spf: String,
    pub header_from: String,
}

/// What a report says, as read from its XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcReportData {
    /// The receiver that wrote it (google.com, Outlook.com...).
    pub org_name: String,
    pub report_id: String,
    /// The domain whose policy it applied.
    pub domain: String,
    /// The policy published then (`p=`).
    pub policy: String,
    /// The period it covers, in milliseconds.
    pub date_begin: i64,
    pub date_end: i64,
    pub sources: Vec<DmarcSource>,
}

impl DmarcReportData {
    pub fn messages(&self) -> i64 {
        self.count_where(|_| true)
    }

    pub fn dkim_pass(&self) -> i64 {
        self.count_where(|s| s.dkim == "pass")
    }

    pub fn spf_pass(&self) -> i64 {
        self.count_where(|s| s.spf == "pass")
    }

    /// Messages that passed DMARC: aligned DKIM or aligned SPF.
    pub fn dmarc_pass(&self) -> i64 {
        self.count_where(|s| s.dkim == "pass" || s.spf == "pass")
    }

    fn count_where(&self, keep: impl Fn(&DmarcSource) -> bool) -> i64 {
        self.sources
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.count)
            .sum()
    }
}

/// A stored report's totals, without its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcReport {
    pub id: i64,
    pub org_name: String,
    pub report_id: String,
    pub domain: String,
    pub policy: String,
    pub date_begin: i64,
    pub date_end: i64,
    pub messages: i64,
    pub dkim_pass: i64,
    pub spf_pass: i64,
    pub dmarc_pass: i64,
    pub source: MailEventSource,
    pub received_at: i64,
}

/// The most sources kept of one report.
pub const MAX_SOURCES_KEPT: usize = 1000;

const REPORT_COLUMNS: &str = "id, org_name, report_id, domain, policy, date_begin, date_end, \
     messages, dkim_pass, spf_pass, dmarc_pass, source, received_at";

fn report(row: &AnyRow) -> Result<DmarcReport, sqlx::Error> {
    let source: String = row.try_get("source")?;
    Ok(DmarcReport {
        id: row.try_get("id")?,
        org_name: row.try_get("org_name")?,
        report_id: row.try_get("report_id")?,
        domain: row.try_get("domain")?,
        policy: row.try_get("policy")?,
        date_begin: row.try_get("date_begin")?,
        date_end: row.try_get("date_end")?,
        messages: row.try_get("messages")?,
        dkim_pass: row.try_get("dkim_pass")?,
        spf_pass: row.try_get("spf_pass")?,
        dmarc_pass: row.try_get("dmarc_pass")?,
        source: MailEventSource::parse(&source).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "source".into(),
            source: format!("unknown value {source:?}").into(),
        })?,
        received_at: row.try_get("received_at")?,
    })
}

impl Store {
    pub fn dmarc_reports(&self) -> DmarcReports<'_> {
        DmarcReports {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn dmarc_reports(&mut self) -> DmarcReports<'_> {
        DmarcReports { on: On::Tx(self) }
    }
}

pub struct DmarcReports<'a> {
    on: On<'a>,
}

impl DmarcReports<'_> {
    /// Stores a report; `None` when its reporter's report id is already
    /// stored (the same report read twice), which changes nothing.
    pub async fn record(
        &mut self,
        data: &DmarcReportData,
        source: MailEventSource,
        received_at: i64,
    ) -> Result<Option<i64>, StoreError> {
        // The totals count every source; the list kept for the page is
        // the largest ones (a report lists them most messages first).
        let kept = &data.sources[..data.sources.len().min(MAX_SOURCES_KEPT)];
        let sources = serde_json::to_string(kept)
            .map_err(|_| StoreError::Inconsistent("DMARC sources cannot be written as JSON"))?;
        let mut conn = self.on.conn().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO dmarc_reports (org_name, report_id, domain, policy, date_begin, \
             date_end, messages, dkim_pass, spf_pass, dmarc_pass, sources, source, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&data.org_name)
        .bind(&data.report_id)
        .bind(&data.domain)
        .bind(&data.policy)
        .bind(data.date_begin)
        .bind(data.date_end)
        .bind(data.messages())
        .bind(data.dkim_pass())
        .bind(data.spf_pass())
        .bind(data.dmarc_pass())
        .bind(sources)
        .bind(source.as_str())
        .bind(received_at)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(id)
    }

    /// The newest reports first; `before_id` pages back.
    pub async fn list(
        &mut self,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DmarcReport>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM dmarc_reports WHERE ($1 IS NULL OR id < $1) \
             ORDER BY id DESC LIMIT $2"
        )))
        .bind(before_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(report).collect::<Result<_, _>>()?)
    }

    /// A report with the sources it lists, most messages first.
    pub async fn by_id(
        &mut self,
        id: i64,
    ) -> Result<Option<(DmarcReport, Vec<DmarcSource>)>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS}, sources FROM dmarc_reports WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sources: String = row.try_get("sources")?;
        let mut sources: Vec<DmarcSource> = serde_json::from_str(&sources)
            .map_err(|_| StoreError::Inconsistent("DMARC sources are not the JSON written"))?;
        sources.sort_by_key(|s| std::cmp::Reverse(s.count));
        Ok(Some((report(&row)?, sources)))
    }

    /// Removes reports received before `before_ms`; how many went.
    pub async fn prune(&mut self, before_ms: i64) -> Result<u64, StoreError> {
        let mut conn = self.on.conn().await?;
        let done = sqlx::query("DELETE FROM dmarc_reports WHERE received_at < $1")
            .bind(before_ms)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }
}
