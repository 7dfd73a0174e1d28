//! Multi-row statements: one `INSERT … VALUES (…), (…)` for many rows,
//! with `$N` placeholders written by hand (sqlx's `QueryBuilder` writes
//! `?`, which PostgreSQL refuses through the Any driver).
//!
//! How many rows go in one statement depends on the backend. A statement
//! PostgreSQL has not seen on this connection costs an extra round trip to
//! prepare, so there rows go in chunks whose sizes are powers of two: a
//! statement's text is then one of a few and stays in the connection's
//! prepared-statement cache. SQLite prepares in-process at no such cost,
//! while every query is a round trip to sqlx's worker thread, so there
//! all the rows go in one statement.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

/// The most rows in one statement: 128 rows of ten columns stay far below
/// SQLite's and PostgreSQL's limits on parameters.
pub const MAX_ROWS_PER_STATEMENT: usize = 128;

/// The sizes of the chunks `count` rows go in on this connection's backend,
/// largest first.
pub fn chunk_sizes(conn: &AnyConnection, count: usize) -> Vec<usize> {
    chunk_sizes_for(conn.backend_name() == "SQLite", count)
}

fn chunk_sizes_for(any_size: bool, count: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = count;
    while left > 0 {
        let size = if left >= MAX_ROWS_PER_STATEMENT {
            MAX_ROWS_PER_STATEMENT
        } else if any_size {
            left
        } else {
            1 << left.ilog2()
        };
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// `rows` copies of `row`, comma-separated, each `#` in it replaced by the
/// next placeholder from `$first` on: `values("(#, #, $1)", 2, 2)` gives
/// `($2, $3, $1), ($4, $5, $1)`.
pub fn values(row: &str, rows: usize, first: usize) -> String {
    let mut out = String::with_capacity((row.len() + 8) * rows);
    let mut next = first;
    for index in 0..rows {
        if index > 0 {
            out.push_str(", ");
        }
        for c in row.chars() {
            if c == '#' {
                // into `out` directly: a `to_string` a placeholder was an
                // allocation each, hundreds for every group of signups
                let _ = write!(out, "${next}");
                next += 1;
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// A value for one placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(i64),
    MaybeInt(Option<i64>),
    Text(&'a str),
    MaybeText(Option<&'a str>),
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Owned, ValueRef};
        Ok(match *self {
            Value::Int(v) | Value::MaybeInt(Some(v)) => ToSqlOutput::Owned(Owned::Integer(v)),
            Value::Text(v) | Value::MaybeText(Some(v)) => {
                ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))
            }
            Value::MaybeInt(None) | Value::MaybeText(None) => ToSqlOutput::Owned(Owned::Null),
        })
    }
}

/// The rows of one `INSERT … VALUES`: `head` is the statement up to
/// `VALUES`, `row` one row with a `#` for each value pushed.
pub struct InsertRows<'a> {
    head: &'static str,
    row: &'static str,
    width: usize,
    values: Vec<Value<'a>>,
}

impl<'a> InsertRows<'a> {
    pub fn new(head: &'static str, row: &'static str) -> Self {
        InsertRows {
            head,
            row,
            width: row.matches('#').count(),
            values: Vec::new(),
        }
    }

    /// Adds a row; `values` has one value for each `#` of the row.
    pub fn push(&mut self, values: &[Value<'a>]) {
        debug_assert_eq!(values.len(), self.width, "{}", self.head);
        self.values.extend_from_slice(values);
    }

    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    /// Inserts the one row pushed and returns its id (`RETURNING` gives
    /// no order, so with several rows "the first id" would mean nothing).
    pub async fn insert_returning_id(&self, conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
        debug_assert_eq!(self.rows(), 1, "{}", self.head);
        let sql = format!("{} RETURNING id", self.statement(1));
        let row = self
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_one(conn)
            .await?;
        sqlx::Row::try_get(&row, "id")
    }

    /// Inserts all the rows in one statement on a rusqlite connection
    /// ([`super::DirectWriter`]), followed by `tail` (`RETURNING …` or
    /// nothing), and maps each row returned. The statement is kept in the
    /// connection's cache, one for each count of rows. One statement, not
    /// one a row: each statement costs SQLite a statement journal, and
    /// FTS5 writes out what it holds in memory at the start of each (a row
    /// a statement made a segment a row): signups about +25 % over one a
    /// row.
    pub fn insert_all<T>(
        &self,
        conn: &rusqlite::Connection,
        tail: &str,
        mut map: impl FnMut(&rusqlite::Row<'_>) -> Result<T, rusqlite::Error>,
    ) -> Result<Vec<T>, rusqlite::Error> {
        if self.rows() == 0 {
            return Ok(Vec::new());
        }
        // numbered from $1 in order: `$N` is then parameter N
        let mut statement = conn.prepare_cached(&format!("{}{tail}", self.statement(1)))?;
        let mut returned = statement.query(rusqlite::params_from_iter(&self.values))?;
        let mut out = Vec::new();
        while let Some(row) = returned.next()? {
            out.push(map(row)?);
        }
        Ok(out)
    }

    fn statement(&self, first: usize) -> String {
        format!("{}{}", self.head, values(self.row, self.rows(), first))
    }

    fn bind<'q>(&'q self, mut query: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        for value in &self.values {
            query = match *value {
                Value::Int(v) => query.bind(v),
                Value::MaybeInt(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::MaybeText(v) => query.bind(v),
            };
        }
        query
    }
}

/// Writes the rows of several tables that do not depend on one another in
/// one round trip instead of one per table. PostgreSQL gets them in one
/// statement (each `INSERT` but the last in a `WITH`: data-modifying
/// statements there always run to completion). SQLite gets one query of
/// several statements, run in order on its connection's thread: each
/// round trip to that thread costs far more under load than on an idle
/// machine (17 µs idle, about 170 µs under a signup load on two cores);
/// signups about +10 % in three alternating pairs of runs. Both are
/// meant for a transaction: on an error, what ran before it is undone
/// with the rest.
pub async fn insert_together(
    conn: &mut AnyConnection,
    tables: &[&InsertRows<'_>],
) -> Result<(), sqlx::Error> {
    let tables: Vec<&InsertRows<'_>> = tables.iter().copied().filter(|t| t.rows() > 0).collect();
    if tables.is_empty() {
        return Ok(());
    }
    // `$N` numbers run on from one table to the next: the statements share
    // one argument list (sqlx's SQLite driver binds each statement's
    // parameters by their number).
    let mut first = 1;
    let statements: Vec<String> = tables
        .iter()
        .map(|table| {
            let statement = table.statement(first);
            first += table.values.len();
            statement
        })
        .collect();
    let sql = match statements.split_last() {
        Some((last, before)) if conn.backend_name() != "SQLite" && !before.is_empty() => {
            let with: Vec<String> = before
                .iter()
                .enumerate()
                .map(|(index, statement)| format!("w{index} AS ({statement})"))
                .collect();
            format!("WITH {} {last}", with.join(", "))
        }
        _ => statements.join("; "),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for table in &tables {
        query = table.bind(query);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Splits `items` into the chunks [`chunk_sizes`] gives for `conn`.
pub fn chunks<'s, T>(conn: &AnyConnection, items: &'s [T]) -> Vec<&'s [T]> {
    let mut rest = items;
    chunk_sizes(conn, items.len())
        .into_iter()
        .map(|size| {
            let (chunk, after) = rest.split_at(size);
            rest = after;
            chunk
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_that_add_up() {
        assert_eq!(chunk_sizes_for(false, 0), Vec::<usize>::new());
        assert_eq!(chunk_sizes_for(false, 1), vec![1]);
        assert_eq!(chunk_sizes_for(false, 37), vec![32, 4, 1]);
        assert_eq!(chunk_sizes_for(false, 128), vec![128]);
        assert_eq!(chunk_sizes_for(false, 260), vec![128, 128, 4]);
    }

    #[test]
    fn chunks_of_any_size_are_as_few_as_the_limit_allows() {
        assert_eq!(chunk_sizes_for(true, 0), Vec::<usize>::new());
        assert_eq!(chunk_sizes_for(true, 37), vec![37]);
        assert_eq!(chunk_sizes_for(true, 260), vec![128, 128, 4]);
    }

    #[test]
    fn values_number_the_placeholders_row_by_row() {
        assert_eq!(values("(#, #, $1)", 2, 2), "($2, $3, $1), ($4, $5, $1)");
        assert_eq!(values("(#)", 1, 1), "($1)");
    }
}
