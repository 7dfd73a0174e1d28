//! Opening a SQLite database: the file and its folder created when
//! missing, every connection set up alike, and a clear reason when the
//! file cannot be written.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::{AnyConnection, AnyPool, Executor};

use super::checkpointer::WAL_AUTOCHECKPOINT_PAGES;
use crate::store::{StoreError, pool_options};

/// The pool, and the path of the file it opened.
pub(crate) async fn connect_sqlite(
    url: &str,
    max_connections: u32,
) -> Result<(AnyPool, std::path::PathBuf), StoreError> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(e.to_string()))?;
    let path = options.get_filename().to_path_buf();
    let shown = path.display().to_string();
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| StoreError::SqliteOpen {
            path: shown.clone(),
            reason: format!("cannot create folder {}: {e}", folder.display()),
        })?;
    }
    probe_sqlite(&options, &shown).await?;
    let pool = sqlite_pool(url, max_connections)
        .await
        .map_err(|e| StoreError::SqliteOpen {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    check_writable(&pool, &path).await?;
    Ok((pool, path))
}

/// A pool of up to `max_connections` connections to the SQLite file at
/// `url`, each set up the same way.
async fn sqlite_pool(url: &str, max_connections: u32) -> Result<AnyPool, sqlx::Error> {
    pool_options(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| Box::pin(set_up_sqlite(conn)))
        .connect(&sqlite_url_with_create(url))
        .await
}

/// Every SQLite connection's settings.
pub(crate) async fn set_up_sqlite(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    // WAL lets the web server read while the delivery workers write; the
    // busy timeout turns brief lock contention (another process on the
    // file) into waiting instead of SQLITE_BUSY errors.
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute("PRAGMA synchronous = NORMAL").await?;
    // see store::sqlite::checkpointer: the copying is done beside the writers
    conn.execute(sqlx::AssertSqlSafe(format!(
        "PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}"
    )))
    .await?;
    Ok(())
}

/// One plain connection first, switched to WAL as the pool's connections
/// are: a pool retries a connection that fails until its acquire timeout
/// and then reports only "pool timed out", where this names the cause (a
/// read-only file, a folder where the journal cannot be created).
async fn probe_sqlite(
    options: &sqlx::sqlite::SqliteConnectOptions,
    shown: &str,
) -> Result<(), StoreError> {
    use sqlx::Connection;
    let probe = async {
        let mut conn =
            sqlx::sqlite::SqliteConnection::connect_with(&options.clone().create_if_missing(true))
                .await?;
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.close().await
    };
    probe.await.map_err(|e| StoreError::SqliteOpen {
        path: shown.to_string(),
        reason: format!(
            "{} (Gazette must be able to write the file and create its journal next to it)",
            sqlite_reason(&e)
        ),
    })
}

/// SQLite's own words, without sqlx's "error returned from database:
/// (code: …)" wrapping.
fn sqlite_reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// SQLite opens read-only files without complaint and fails on the first
/// write; fail at start instead, with the path in the message.
async fn check_writable(pool: &AnyPool, path: &Path) -> Result<(), StoreError> {
    let probe = async {
        let mut tx = pool.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS _gazette_write_probe (x INTEGER)")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DROP TABLE _gazette_write_probe")
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    };
    probe.await.map_err(|e| StoreError::SqliteOpen {
        path: path.display().to_string(),
        reason: format!("not writable: {e}"),
    })
}

pub(crate) fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}
