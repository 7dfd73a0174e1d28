//! Multi-row statements: one `INSERT … VALUES (…), (…)` for many rows,
//! with `$N` placeholders written by hand (sqlx's `QueryBuilder` writes
//! `?`, which PostgreSQL refuses through the Any driver). Rows go in chunks
//! whose sizes are powers of two, so a statement's text is one of a few and
//! stays in each connection's prepared-statement cache instead of being
//! parsed again for every batch size.

/// The most rows in one statement: 64 rows of ten columns stay far below
/// SQLite's and PostgreSQL's limits on parameters.
pub const MAX_ROWS_PER_STATEMENT: usize = 64;

/// The sizes of the chunks `count` rows go in, largest first: powers of
/// two up to [`MAX_ROWS_PER_STATEMENT`].
pub fn chunk_sizes(count: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = count;
    while left > 0 {
        let size = if left >= MAX_ROWS_PER_STATEMENT {
            MAX_ROWS_PER_STATEMENT
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
                out.push('$');
                out.push_str(&next.to_string());
                next += 1;
            } else {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_that_add_up() {
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1), vec![1]);
        assert_eq!(chunk_sizes(37), vec![32, 4, 1]);
        assert_eq!(chunk_sizes(64), vec![64]);
        assert_eq!(chunk_sizes(130), vec![64, 64, 2]);
    }

    #[test]
    fn values_number_the_placeholders_row_by_row() {
        assert_eq!(values("(#, #, $1)", 2, 2), "($2, $3, $1), ($4, $5, $1)");
        assert_eq!(values("(#)", 1, 1), "($1)");
    }
}
