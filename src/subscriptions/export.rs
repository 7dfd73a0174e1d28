//! Subscribers as CSV, for the admin's download and `gazette subscribers
//! export`: the same filter as the admin's list
//! ([`crate::store::Store::search_subscribers`]), read
//! in keyset batches so a million rows never sit in memory at once, and
//! cells a spreadsheet would run as formulas defused.

use crate::store::subscribers::SubscriberLine;

/// The first line of every export.
pub const CSV_HEADER: &str = "email,name,status,created_at,confirmed_at\r\n";
/// Rows read per database round trip.
pub const EXPORT_BATCH: i64 = 2000;

/// Appends one CSV line for `line`.
pub fn csv_line(out: &mut String, line: &SubscriberLine) {
    let fields = [
        line.email.clone(),
        line.name.clone().unwrap_or_default(),
        line.status.as_str().to_string(),
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
