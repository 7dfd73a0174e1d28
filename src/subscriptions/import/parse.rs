//! Reading an import file: the header is checked first (a wrong header
//! refuses the whole file), then every row is parsed into an [`ImportRow`]
//! or a [`Rejection`] that says which line and why. Pure: no database, so
//! the whole file is validated before anything is written.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};

use super::{RejectReason, Rejection};
use crate::subscriptions::domain::{SubscriberEmail, SubscriberName};

/// The columns an import file may have, by the names accepted for each.
const EMAIL_NAMES: &[&str] = &["email", "email_address"];
const NAME_NAMES: &[&str] = &["name"];
const OPTED_IN_NAMES: &[&str] = &["opted_in", "confirmed"];
const CONSENTED_AT_NAMES: &[&str] = &["consented_at"];

/// What the header must look like, for the message that refuses one.
pub const EXPECTED_HEADER: &str = "email (required), name, opted_in (or confirmed), consented_at";

/// The whole file is refused: nothing is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefused {
    #[error("the file is empty")]
    Empty,
    #[error("the file has a header line but no rows")]
    NoRows,
    #[error("the first line must name the columns ({EXPECTED_HEADER}); {0}. Nothing was imported.")]
    BadHeader(String),
    #[error("the file is larger than {0} MB; split it")]
    TooLarge(usize),
    #[error("the file cannot be read as CSV near line {line}: {problem}. Nothing was imported.")]
    Unreadable { line: u64, problem: String },
}

/// One valid row, ready to write.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Line in the file (the header is line 1).
    pub line: u64,
    pub email: SubscriberEmail,
    pub name: Option<SubscriberName>,
    /// The file says this person opted in: imported as confirmed.
    pub opted_in: bool,
    /// When they opted in, if the file says (Unix ms).
    pub consented_at: Option<i64>,
}

/// A file read whole: the rows to write and the rows refused.
#[derive(Debug, Clone, Default)]
pub struct ParsedImport {
    pub rows: Vec<ImportRow>,
    pub rejected: Vec<Rejection>,
    /// Data rows in the file (valid and refused).
    pub total_rows: u64,
}

struct Columns {
    email: usize,
    name: Option<usize>,
    opted_in: Option<usize>,
    consented_at: Option<usize>,
    count: usize,
}

fn read_header(header: &csv::ByteRecord) -> Result<Columns, ImportRefused> {
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    let groups: [(&'static str, &[&str]); 4] = [
        ("email", EMAIL_NAMES),
        ("name", NAME_NAMES),
        ("opted_in", OPTED_IN_NAMES),
        ("consented_at", CONSENTED_AT_NAMES),
    ];
    for (index, raw) in header.iter().enumerate() {
        let raw = String::from_utf8_lossy(raw);
        // A spreadsheet's UTF-8 byte-order mark sits before the first name.
        let name = raw.trim_start_matches('\u{feff}').trim().to_lowercase();
        let Some((column, _)) = groups
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
        else {
            let shown: String = name.chars().take(40).collect();
            return Err(ImportRefused::BadHeader(if name.is_empty() {
                format!("column {} has no name", index + 1)
            } else {
                format!("unknown column {shown:?}")
            }));
        };
        if seen.insert(column, index).is_some() {
            return Err(ImportRefused::BadHeader(format!(
                "the column {column:?} appears twice"
            )));
        }
    }
    let email = *seen
        .get("email")
        .ok_or_else(|| ImportRefused::BadHeader("there is no email column".to_string()))?;
    Ok(Columns {
        email,
        name: seen.get("name").copied(),
        opted_in: seen.get("opted_in").copied(),
        consented_at: seen.get("consented_at").copied(),
        count: header.len(),
    })
}

/// Reads and validates a whole file. `now_ms` bounds `consented_at` (a
/// consent cannot come from the future).
pub fn parse_import(bytes: &[u8], now_ms: i64) -> Result<ParsedImport, ImportRefused> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportRefused::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| ImportRefused::Unreadable {
            line: 1,
            problem: e.to_string(),
        })?
        .clone();
    let columns = read_header(&header)?;
    let mut parsed = ParsedImport::default();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                return Err(ImportRefused::Unreadable {
                    line,
                    problem: error.to_string(),
                });
            }
        }
        let line = lines.line_at(bytes, record.position().map_or(0, csv::Position::byte));
        // A blank line in the middle of a file is not a row.
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            continue;
        }
        parsed.total_rows += 1;
        match parse_row(&record, &columns, now_ms) {
            Ok(row) => match first_line_of.get(&row.email.key()) {
                Some(&first) => parsed.rejected.push(Rejection {
                    line,
                    email: row.email.as_str().to_string(),
                    reason: RejectReason::DuplicateInFile { first_line: first },
                }),
                None => {
                    first_line_of.insert(row.email.key(), line);
                    parsed.rows.push(ImportRow { line, ..row });
                }
            },
            Err(reason) => parsed.rejected.push(Rejection {
                line,
                email: shown_email(&record, &columns),
                reason,
            }),
        }
    }
    if parsed.total_rows == 0 {
        return Err(ImportRefused::NoRows);
    }
    Ok(parsed)
}

/// Line numbers from byte offsets. The reader's own line count is off by
/// one after a blank line (it counts from where it started looking for the
/// record), and a quoted field may span lines, so count newlines up to
/// where the record's text starts.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], record_offset: u64) -> u64 {
        let mut start = usize::try_from(record_offset)
            .unwrap_or(bytes.len())
            .min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.offset {
            self.offset = 0;
            self.line = 0;
        }
        self.line += bytes[self.offset..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.offset = start;
        self.line + 1
    }
}

/// The address as the file has it, for the report (cut, one line).
fn shown_email(record: &csv::ByteRecord, columns: &Columns) -> String {
    record
        .get(columns.email)
        .map(|raw| {
            String::from_utf8_lossy(raw)
                .chars()
                .filter(|c| !c.is_control())
                .take(254)
                .collect()
        })
        .unwrap_or_default()
}

fn field<'r>(
    record: &'r csv::ByteRecord,
    index: Option<usize>,
    name: &'static str,
) -> Result<Option<&'r str>, RejectReason> {
    let Some(index) = index else {
        return Ok(None);
    };
    match record.get(index) {
        None => Err(RejectReason::MissingColumn(name)),
        Some(raw) => std::str::from_utf8(raw)
            .map(Some)
            .map_err(|_| RejectReason::NotUtf8(name)),
    }
}

fn parse_row(
    record: &csv::ByteRecord,
    columns: &Columns,
    now_ms: i64,
) -> Result<ImportRow, RejectReason> {
    if record.len() > columns.count {
        return Err(RejectReason::ExtraFields {
            expected: columns.count,
            found: record.len(),
        });
    }
    let raw_email = field(record, Some(columns.email), "email")?.unwrap_or_default();
    let email =
        SubscriberEmail::parse(raw_email).map_err(|e| RejectReason::BadAddress(e.problem))?;
    let name = match field(record, columns.name, "name")? {
        Some(raw) => SubscriberName::parse(raw).map_err(|e| RejectReason::BadName(e.problem))?,
        None => None,
    };
    let opted_in = match field(record, columns.opted_in, "opted_in")? {
        Some(raw) => parse_yes_no(raw).ok_or_else(|| RejectReason::BadOptedIn(cut(raw)))?,
        None => false,
    };
    let consented_at = match field(record, columns.consented_at, "consented_at")? {
        Some(raw) if !raw.trim().is_empty() => {
            let at = parse_time(raw).ok_or_else(|| RejectReason::BadConsentedAt(cut(raw)))?;
            if at > now_ms {
                return Err(RejectReason::BadConsentedAt(cut(raw)));
            }
            Some(at)
        }
        _ => None,
    };
    Ok(ImportRow {
        line: 0,
        email,
        name,
        opted_in,
        consented_at: consented_at.filter(|_| opted_in),
    })
}

fn cut(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// `true`/`yes`/`1` or `false`/`no`/`0` (any case); empty is no.
fn parse_yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" => Some(true),
        "false" | "no" | "n" | "0" | "" => Some(false),
        _ => None,
    }
}

/// RFC 3339, or a UTC date or date and time as spreadsheets write them.
fn parse_time(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(at.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(at.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc().timestamp_millis())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn codes(parsed: &ParsedImport) -> Vec<(u64, &'static str)> {
        parsed
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.code()))
            .collect()
    }

    #[test]
    fn good_rows_duplicates_and_bad_rows_are_told_apart() {
        let file = "\u{feff}Email,Name,Opted_In,consented_at\n\
                    ann@example.org,Ann,yes,2024-03-01\n\
                    not-an-address,Bob,no,\n\
                    ANN@Example.org,Ann again,yes,\n\
                    \n\
                    cy@example.org,,maybe,\n\
                    dee@example.org,Dee,1,2099-01-01\n\
                    eve@example.org\n\
                    fay@example.org,Fay,0,,extra\n\
                    gus@example.org,\"Gus, Jr.\",TRUE,2024-03-01T10:00:00Z\n";
        let parsed = parse_import(file.as_bytes(), NOW).unwrap();
        assert_eq!(parsed.total_rows, 8);
        assert_eq!(
            codes(&parsed),
            vec![
                (3, "bad_address"),
                (4, "duplicate_in_file"),
                (6, "bad_opted_in"),
                (7, "bad_consented_at"),
                (8, "missing_column"),
                (9, "extra_fields"),
            ]
        );
        let lines: Vec<u64> = parsed.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 10]);
        let ann = &parsed.rows[0];
        assert!(ann.opted_in);
        assert_eq!(ann.consented_at, Some(1_709_251_200_000));
        assert_eq!(parsed.rows[1].name.as_ref().unwrap().as_str(), "Gus, Jr.");
        assert_eq!(
            parsed.rejected[1].reason,
            RejectReason::DuplicateInFile { first_line: 2 }
        );
    }

    #[test]
    fn a_wrong_header_refuses_the_whole_file() {
        for (file, problem) in [
            ("mail,name\na@example.org,A\n", "unknown column \"mail\""),
            ("name\nAnn\n", "there is no email column"),
            ("name,opted_in\nAnn,yes\n", "there is no email column"),
            ("email,e-mail\na@example.org,b@example.org\n", "unknown"),
            ("email,Email\na@example.org,a@example.org\n", "twice"),
        ] {
            let refused = parse_import(file.as_bytes(), NOW).unwrap_err();
            assert!(
                matches!(&refused, ImportRefused::BadHeader(p) if p.contains(problem)),
                "{file:?}: {refused}"
            );
        }
        assert_eq!(
            parse_import(b"  \n", NOW).unwrap_err(),
            ImportRefused::Empty
        );
        assert_eq!(
            parse_import(b"email\n", NOW).unwrap_err(),
            ImportRefused::NoRows
        );
    }

    #[test]
    fn without_an_opted_in_column_everyone_must_confirm() {
        let parsed = parse_import(b"email\nann@example.org\r\nbob@example.org", NOW).unwrap();
        assert_eq!(parsed.rows.len(), 2);
        assert!(parsed.rows.iter().all(|r| !r.opted_in));
    }

    #[test]
    fn invalid_utf8_refuses_the_row_only() {
        let mut file = b"email,name\nann@example.org,".to_vec();
        file.extend_from_slice(&[0xff, 0xfe]);
        file.extend_from_slice(b"\nbob@example.org,Bob\n");
        let parsed = parse_import(&file, NOW).unwrap();
        assert_eq!(codes(&parsed), vec![(2, "not_utf8")]);
        assert_eq!(parsed.rows.len(), 1);
    }
}
