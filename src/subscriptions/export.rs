//! Subscribers as CSV, for the admin's download and `gazette subscribers
//! export`: the same filter as the admin's list, read in keyset batches so
//! a million rows never sit in memory at once, and cells a spreadsheet
//! would run as formulas defused.

use sqlx::Row;

use crate::store::{Store, StoreError};

/// The first line of every export.
pub const CSV_HEADER: &str = "email,name,status,created_at,confirmed_at\r\n";
/// Rows read per database round trip.
pub const EXPORT_BATCH: i64 = 2000;

pub const SUBSCRIBER_STATUSES: [&str; 4] = ["pending", "active", "unsubscribed", "bounced"];

/// Which subscribers a list or an export shows.
#[derive(Debug, Clone, Default)]
pub struct SubscriberFilter {
    /// A fragment of the address.
    pub search: String,
    pub status: Option<&'static str>,
    /// Only those subscribed (pending or active) to this newsletter id.
    pub newsletter_id: Option<i64>,
}

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

const FILTERED_SUBSCRIBERS: &str = "FROM subscribers s \
     WHERE s.id > $1 AND ($2 = '' OR s.status = $2) \
     AND ($3 = '%%' OR s.email_key LIKE $3 ESCAPE '\\') AND $4 = 0 \
     ORDER BY s.id LIMIT $5";

/// With a newsletter, the walk starts from its subscriptions (index on
/// newsletter and subscriber, migration 0005): a newsletter of a hundred
/// readers among a million subscribers reads a hundred rows, not a million.
const FILTERED_BY_NEWSLETTER: &str = "FROM subscriptions su JOIN subscribers s ON s.id = su.subscriber_id \
     WHERE su.newsletter_id = $4 AND su.subscriber_id > $1 AND su.status IN ('pending', 'active') \
     AND ($2 = '' OR s.status = $2) AND ($3 = '%%' OR s.email_key LIKE $3 ESCAPE '\\') \
     ORDER BY su.subscriber_id LIMIT $5";

/// `columns` of the subscribers matching `filter` with an id after
/// `after`, in id order (keyset: the last page costs what the first does).
pub async fn filtered_rows(
    store: &Store,
    columns: &str,
    filter: &SubscriberFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let pattern = format!("%{}%", escape_like(&filter.search.trim().to_lowercase()));
    let from = if filter.newsletter_id.is_some() {
        FILTERED_BY_NEWSLETTER
    } else {
        FILTERED_SUBSCRIBERS
    };
    Ok(
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {columns} {from}")))
            .bind(after)
            .bind(filter.status.unwrap_or(""))
            .bind(pattern)
            .bind(filter.newsletter_id.unwrap_or(0))
            .bind(limit)
            .fetch_all(store.pool())
            .await?,
    )
}

pub async fn export_batch(
    store: &Store,
    filter: &SubscriberFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<ExportLine>, StoreError> {
    let rows = filtered_rows(
        store,
        "s.id, s.email, s.name, s.status, s.created_at, s.confirmed_at",
        filter,
        after,
        limit,
    )
    .await?;
    let mut lines = Vec::new();
    for row in &rows {
        lines.push(ExportLine {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            status: row.try_get("status")?,
            created_at: row.try_get("created_at")?,
            confirmed_at: row.try_get("confirmed_at")?,
        });
    }
    Ok(lines)
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

/// `%` and `_` typed in a search are meant literally (`LIKE … ESCAPE '\\'`).
pub fn escape_like(raw: &str) -> String {
    raw.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
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
