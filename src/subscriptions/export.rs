//! Subscribers as CSV, for the admin's download and `gazette subscribers
//! export`: the same filter as the admin's list ([`super::search`]), read
//! in keyset batches so a million rows never sit in memory at once, and
//! cells a spreadsheet would run as formulas defused.

use sqlx::Row;

use super::search::{Page, SubscriberFilter, filtered_rows};
use crate::store::{Store, StoreError};

/// The first line of every export.
pub const CSV_HEADER: &str = "email,name,status,created_at,confirmed_at\r\n";
/// Rows read per database round trip.
pub const EXPORT_BATCH: i64 = 2000;

/// One row of the CSV export.
#[derive(Debug, Clone)]
pub struct ExportLine {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

/// A batch of the export, and where the next one starts (`None`: done).
pub type ExportBatch = Page<ExportLine>;

pub async fn export_batch(
    store: &Store,
    filter: &SubscriberFilter,
    after: i64,
    limit: i64,
) -> Result<ExportBatch, StoreError> {
    filtered_rows(
        store,
        "s.id, s.email, s.name, s.status, s.created_at, s.confirmed_at",
        filter,
        after,
        limit,
    )
    .await?
    .read(|row| {
        Ok(ExportLine {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            status: row.try_get("status")?,
            created_at: row.try_get("created_at")?,
            confirmed_at: row.try_get("confirmed_at")?,
        })
    })
}

/// Appends one CSV line for `line`.
pub fn csv_line(out: &mut String, line: &ExportLine) {
    let fields = [
        line.email.clone(),
        line.name.clone().unwrap_or_default(),
        line.status.clone(),
        rfc3339(Some(line.created_at)),
        rfc3339(line.confirmed_at),
    ];
    let cells: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// Quotes when needed, and defuses a cell a spreadsheet would run as a
/// formula (a name such as `=HYPERLINK(…)` typed into the signup form).
pub fn csv_cell(raw: &str) -> String {
    let defused = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

fn rfc3339(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
    }
}
