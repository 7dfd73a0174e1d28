//! Which subscribers match the admin's filter (a fragment of the address,
//! a status, a newsletter), one keyset page at a time in id order, for the
//! admin's list and the CSV export ([`Store::search_subscribers`]).
//!
//! At a million subscribers "address contains" must not read every row.
//! A search walks two stretches, so each page costs a bounded amount:
//!
//! 1. the next [`SCAN_WINDOW`] ids after the page's start, read in order
//!    with the LIKE: a common fragment ("gmail") fills the page here;
//! 2. when the page is still short, the fragment has three characters in a
//!    row (other than `%` and `_`) and was rare in the window, the rest of
//!    the ids through the trigram index of migration 0006 (FTS5 on SQLite,
//!    a GIN index on PostgreSQL): a rare fragment, or one that matches
//!    nobody, costs its few matches instead of a scan. SQLite's index
//!    takes new subscribers in batches (`store::sqlite::address_index`); the
//!    few not in it yet are read with the LIKE.
//!
//! Otherwise (a fragment of one or two characters has no trigram; a common
//! one filtered down to nothing by status or newsletter would walk most of
//! the index) the page stops at the end of the window and says where the
//! next one starts, so it never reads more than [`SCAN_WINDOW`]
//! subscribers. Either way the rows,
//! their order and the LIKE deciding them are the same as a plain scan:
//! `%` and `_` are literal, case does not matter.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SubscriberStatus, decode_error};
use crate::store::{Backend, Store, StoreError, escape_like};

/// What a page of the list and a batch of the export read of each
/// subscriber.
pub(crate) const COLUMNS: &str = "s.id, s.email, s.name, s.status, s.created_at, s.confirmed_at";

/// Ids read in order, with the LIKE, before the search turns to the
/// trigram index (or, for a fragment too short for one, ends the page).
pub const SCAN_WINDOW: i64 = 50_000;

/// Below this many matches in a window (1 %), a fragment counts as rare
/// enough for the index: its matches in the rest of a million subscribers
/// are expected to number about ten thousand at most.
const RARE_IN_WINDOW: i64 = 500;

/// Which subscribers a list or an export shows.
#[derive(Debug, Clone, Default)]
pub struct SubscriberFilter {
    /// A fragment of the address.
    pub search: String,
    pub status: Option<SubscriberStatus>,
    /// Only those subscribed (pending or active) to this newsletter id.
    pub newsletter_id: Option<i64>,
}

/// One subscriber as the list and the export show them.
#[derive(Debug, Clone)]
pub struct SubscriberLine {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub status: SubscriberStatus,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

/// A page of matching subscribers, and where the next page starts: after
/// the last line when the page is full, after the scanned window when a
/// short fragment's page ended there, `None` when nothing is left.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub lines: Vec<T>,
    pub next_after: Option<i64>,
}

impl Store {
    /// The subscribers matching `filter` with an id after `after`, in id
    /// order, at most `limit` of them.
    pub async fn search_subscribers(
        &self,
        filter: &SubscriberFilter,
        after: i64,
        limit: i64,
    ) -> Result<Page<SubscriberLine>, StoreError> {
        let (rows, next_after) = filtered_rows(self, filter, after, limit).await?;
        let lines = rows
            .iter()
            .map(|row| {
                Ok(SubscriberLine {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    status: {
                        let raw: String = row.try_get("status")?;
                        SubscriberStatus::parse(&raw).ok_or_else(|| decode_error("status", &raw))?
                    },
                    created_at: row.try_get("created_at")?,
                    confirmed_at: row.try_get("confirmed_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Page { lines, next_after })
    }
}

type Rows = (Vec<AnyRow>, Option<i64>);

async fn filtered_rows(
    store: &Store,
    filter: &SubscriberFilter,
    after: i64,
    limit: i64,
) -> Result<Rows, StoreError> {
    let fragment = filter.search.trim().to_lowercase();
    if fragment.is_empty() {
        let rows = fetch(store, walk(filter, after, None, limit, "")).await?;
        return Ok(page_of(rows, limit, None));
    }
    let like = format!("%{}%", escape_like(&fragment));
    let window_end = after.saturating_add(SCAN_WINDOW);
    let mut rows = fetch(store, walk(filter, after, Some(window_end), limit, &like)).await?;
    if rows.len() as i64 == limit {
        return Ok(page_of(rows, limit, None));
    }
    if last_id(store, filter).await? <= window_end {
        return Ok(page_of(rows, limit, None));
    }
    // The index pays off for a fragment that is rare. Without other filters
    // a short page says so; with them, the window is asked how often the
    // fragment alone came up, so "gmail" among the bounced never walks
    // every gmail address in the index.
    let filtered = filter.status.is_some() || filter.newsletter_id.is_some();
    if !has_trigram(&fragment)
        || (filtered && !rare_in_window(store, after, window_end, &like).await?)
    {
        return Ok(page_of(rows, limit, Some(window_end)));
    }
    let rest = limit - rows.len() as i64;
    let wanted = Indexed {
        filter,
        after: window_end,
        limit: rest,
        fragment: &fragment,
        like: &like,
    };
    rows.extend(match store.backend() {
        Backend::Sqlite => crate::store::sqlite::search::indexed_rows(store, &wanted).await?,
        Backend::Postgres => crate::store::postgres::search::indexed_rows(store, &wanted).await?,
    });
    Ok(page_of(rows, limit, None))
}

fn page_of(rows: Vec<AnyRow>, limit: i64, window_end: Option<i64>) -> Rows {
    let next_after = if rows.len() as i64 == limit {
        rows.last().and_then(|row| row.try_get::<i64, _>("id").ok())
    } else {
        window_end
    };
    (rows, next_after)
}

/// Three characters in a row, none of them a LIKE wildcard: what both
/// trigram indexes need to narrow the search (FTS5 reads `%` and `_` in its
/// LIKE as wildcards, so it gets the fragment raw and answers a superset).
fn has_trigram(fragment: &str) -> bool {
    let mut run = 0;
    for c in fragment.chars() {
        run = if c == '%' || c == '_' { 0 } else { run + 1 };
        if run >= 3 {
            return true;
        }
    }
    false
}

/// What the trigram index is asked: the matches of `fragment` after
/// `after`, at most `limit`, rechecked with the LIKE and the other filters.
pub(crate) struct Indexed<'a> {
    pub filter: &'a SubscriberFilter,
    pub after: i64,
    pub limit: i64,
    pub fragment: &'a str,
    pub like: &'a str,
}

/// SQL text with its arguments, numbered as they are added.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub sql: String,
    args: Vec<Arg>,
}

#[derive(Debug)]
enum Arg {
    Int(i64),
    Text(String),
}

impl Query {
    pub fn int(&mut self, value: i64) -> String {
        self.args.push(Arg::Int(value));
        format!("${}", self.args.len())
    }

    pub fn text(&mut self, value: &str) -> String {
        self.args.push(Arg::Text(value.to_string()));
        format!("${}", self.args.len())
    }

    /// The conditions every path shares, on `subscribers s`.
    fn push_filters(&mut self, filter: &SubscriberFilter, like: &str) {
        if !like.is_empty() {
            let p = self.text(like);
            self.sql += &format!(" AND s.email_key LIKE {p} ESCAPE '\\'");
        }
        if let Some(status) = filter.status {
            let p = self.text(status.as_str());
            self.sql += &format!(" AND s.status = {p}");
        }
    }
}

/// The ids after `after` (up to `until`) in order: the newsletter's
/// subscriptions when there is one (index of migration 0005: a newsletter of
/// a hundred readers reads a hundred rows), else every subscriber.
fn walk(
    filter: &SubscriberFilter,
    after: i64,
    until: Option<i64>,
    limit: i64,
    like: &str,
) -> Query {
    let mut q = Query::default();
    let id = match filter.newsletter_id {
        Some(newsletter) => {
            let n = q.int(newsletter);
            q.sql = format!(
                "SELECT {COLUMNS} FROM subscriptions su JOIN subscribers s ON s.id = su.subscriber_id \
                 WHERE su.newsletter_id = {n} AND su.status IN ('pending', 'active')"
            );
            "su.subscriber_id"
        }
        None => {
            q.sql = format!("SELECT {COLUMNS} FROM subscribers s WHERE 1 = 1");
            "s.id"
        }
    };
    let a = q.int(after);
    q.sql += &format!(" AND {id} > {a}");
    if let Some(until) = until {
        let u = q.int(until);
        q.sql += &format!(" AND {id} <= {u}");
    }
    q.push_filters(filter, like);
    let l = q.int(limit);
    q.sql += &format!(" ORDER BY {id} LIMIT {l}");
    q
}

impl Query {
    /// [`Query::push_filters`], and the newsletter's subscribers only when
    /// the filter names one (the index path does not walk subscriptions).
    pub fn push_indexed_filters(&mut self, filter: &SubscriberFilter, like: &str) {
        self.push_filters(filter, like);
        if let Some(newsletter) = filter.newsletter_id {
            let n = self.int(newsletter);
            self.sql += &format!(
                " AND EXISTS (SELECT 1 FROM subscriptions su WHERE su.subscriber_id = s.id \
                 AND su.newsletter_id = {n} AND su.status IN ('pending', 'active'))"
            );
        }
    }
}

pub(crate) fn bind(query: &Query) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    let mut sql = sqlx::query(sqlx::AssertSqlSafe(query.sql.as_str()));
    for arg in &query.args {
        sql = match arg {
            Arg::Int(v) => sql.bind(*v),
            Arg::Text(v) => sql.bind(v.as_str()),
        };
    }
    sql
}

pub(crate) async fn fetch(store: &Store, query: Query) -> Result<Vec<AnyRow>, StoreError> {
    Ok(bind(&query).fetch_all(store.pool()).await?)
}

/// Fewer than [`RARE_IN_WINDOW`] of the window's subscribers have the
/// fragment, whatever their status or newsletter.
async fn rare_in_window(
    store: &Store,
    after: i64,
    window_end: i64,
    like: &str,
) -> Result<bool, StoreError> {
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM subscribers \
         WHERE id > $1 AND id <= $2 AND email_key LIKE $3 ESCAPE '\\' LIMIT $4) AS hits",
    )
    .bind(after)
    .bind(window_end)
    .bind(like)
    .bind(RARE_IN_WINDOW)
    .fetch_one(store.pool())
    .await?;
    Ok(found < RARE_IN_WINDOW)
}

/// The highest id the walk could reach: is there anything past a window?
async fn last_id(store: &Store, filter: &SubscriberFilter) -> Result<i64, StoreError> {
    let last: Option<i64> = match filter.newsletter_id {
        Some(newsletter) => {
            sqlx::query_scalar(
                "SELECT MAX(subscriber_id) FROM subscriptions WHERE newsletter_id = $1",
            )
            .bind(newsletter)
            .fetch_one(store.pool())
            .await?
        }
        None => {
            sqlx::query_scalar("SELECT MAX(id) FROM subscribers")
                .fetch_one(store.pool())
                .await?
        }
    };
    Ok(last.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::has_trigram;
    use crate::store::escape_like;

    #[test]
    fn a_trigram_is_three_characters_that_are_not_wildcards() {
        assert!(has_trigram("r@e"));
        assert!(has_trigram("a_bcd"));
        assert!(has_trigram("éüö"));
        assert!(!has_trigram("ab"));
        assert!(!has_trigram("a_b%c"));
        assert!(!has_trigram("%%%"));
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"a%b_c\d"), r"a\%b\_c\\d");
    }
}
