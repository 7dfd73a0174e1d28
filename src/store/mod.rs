//! The database: one `sqlx::Any` pool over SQLite or PostgreSQL, chosen once
//! from the URL scheme. SQL is written once with `$1, $2…` placeholders;
//! timestamps are integer Unix milliseconds and flags 0/1 integers, because the
//! Any driver only carries integers, floats, text and bytes. Code outside this
//! module asks [`Store::backend`] only where one database has a better tool
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL).

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::config::DatabaseSettings;

mod address_index;
pub mod dmarc_reports;
pub mod feeds;
mod handle;
pub mod imports;
pub mod issues;
pub mod mail_events;
pub mod newsletters;
pub mod outbox;
mod postgres;
pub mod rows;
pub mod secrets;
pub mod signups;
mod sqlite;
pub mod stories;
pub mod subscribers;
pub mod users;

pub use address_index::BATCH as ADDRESS_INDEX_BATCH;
use postgres::connect::connect_postgres;
use sqlite::checkpointer::Checkpointer;
use sqlite::connect::{connect_sqlite, sqlite_url_with_create};
pub(crate) use sqlite::direct::{DirectError, DirectWriter};
use sqlite::writer::{SqliteWriter, WriterTurn};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database.url: {0}")]
    BadUrl(String),
    #[error("cannot open the SQLite database at {path}: {reason}")]
    SqliteOpen { path: String, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    PostgresConnect { target: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("database error: {0}")]
    Direct(#[from] DirectError),
    /// What the database holds contradicts itself (a row just reported
    /// there is not found).
    #[error("database error: {0}")]
    Inconsistent(&'static str),
}

impl StoreError {
    /// A unique-key violation, which callers often turn into "already there".
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sql(e) if is_unique_violation(e))
    }
}

pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite: the one connection every write transaction runs on (see
    /// [`Store::begin_write`]); `None` on PostgreSQL.
    writer: Option<SqliteWriter>,
    /// SQLite: whole write transactions in one call, in the same turn
    /// (see [`Store::direct`]); `None` on PostgreSQL.
    direct: Option<DirectWriter>,
}

/// A write transaction from [`Store::begin_write`]; used like the
/// connection it wraps, then committed.
pub enum WriteTx {
    Sqlite(WriterTurn),
    Postgres(Transaction<'static, Any>),
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTx::Sqlite(turn) => turn.conn(),
            WriteTx::Postgres(tx) => tx,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTx::Sqlite(turn) => turn.conn_mut(),
            WriteTx::Postgres(tx) => tx,
        }
    }
}

/// A connection lent for one write statement in autocommit: SQLite's
/// writer connection (see [`SqliteWriter::alone`]) or a pooled PostgreSQL
/// one. For a write that is one statement, it saves the round trips of
/// `BEGIN` and `COMMIT`.
pub enum OneWrite {
    Sqlite(OwnedMutexGuard<AnyConnection>),
    Postgres(PoolConnection<Any>),
}

impl Deref for OneWrite {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            OneWrite::Sqlite(conn) => conn,
            OneWrite::Postgres(conn) => conn,
        }
    }
}

impl DerefMut for OneWrite {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            OneWrite::Sqlite(conn) => conn,
            OneWrite::Postgres(conn) => conn,
        }
    }
}

/// A savepoint in a write transaction ([`WriteTx::savepoint`]): its
/// writes are undone alone, or kept with the transaction.
pub struct Savepoint<'a>(Transaction<'a, Any>);

impl Savepoint<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.0.rollback().await?)
    }
}

impl WriteTx {
    pub async fn savepoint(&mut self) -> Result<Savepoint<'_>, StoreError> {
        Ok(Savepoint(sqlx::Connection::begin(&mut **self).await?))
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            WriteTx::Sqlite(turn) => turn.commit().await?,
            WriteTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            WriteTx::Sqlite(turn) => turn.rollback().await?,
            WriteTx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl Store {
    /// Opens the pool. SQLite files and their folder are created when missing;
    /// a missing PostgreSQL database is created when the server allows it.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = settings.url.expose_secret();
        let backend = backend_of(url)?;
        let (pool, writer, direct) = match backend {
            Backend::Sqlite => {
                let (pool, path) = connect_sqlite(url, settings.max_connections).await?;
                let writer = SqliteWriter::connect(&sqlite_url_with_create(url)).await?;
                let cannot_open = |reason: String| StoreError::SqliteOpen {
                    path: path.display().to_string(),
                    reason,
                };
                let checkpointer =
                    Checkpointer::start(&path).map_err(|e| cannot_open(e.to_string()))?;
                let direct = DirectWriter::open(&path, writer.clone(), checkpointer)
                    .map_err(|e| cannot_open(e.to_string()))?;
                (pool, Some(writer), Some(direct))
            }
            Backend::Postgres => (
                connect_postgres(url, settings.max_connections).await?,
                None,
                None,
            ),
        };
        Ok(Store {
            pool,
            backend,
            writer,
            direct,
        })
    }

    /// Begins a transaction that will write. SQLite lets one writer in at
    /// a time and makes the others sleep and poll (its busy handler backs
    /// off up to 100 ms between tries), which under a burst of signups
    /// costs far more than the writes. So on SQLite the busy paths (signups,
    /// confirmations, claims and outcomes of the delivery workers) take
    /// turns on one connection of their own (`store::sqlite::writer`) and begin with
    /// `BEGIN IMMEDIATE`, taking the write lock at once instead of failing
    /// to upgrade a read later. Other processes on the same file still meet
    /// the busy handler. PostgreSQL writers run side by side.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        match &self.writer {
            Some(writer) => Ok(WriteTx::Sqlite(writer.begin().await?)),
            None => Ok(WriteTx::Postgres(self.pool.begin().await?)),
        }
    }

    /// A connection for one write statement in autocommit ([`OneWrite`]),
    /// in the same turn as [`Store::begin_write`]'s transactions on SQLite.
    pub async fn write_alone(&self) -> Result<OneWrite, sqlx::Error> {
        match &self.writer {
            Some(writer) => Ok(OneWrite::Sqlite(writer.alone().await)),
            None => Ok(OneWrite::Postgres(self.pool.acquire().await?)),
        }
    }

    /// SQLite only: runs a whole write transaction in one blocking call
    /// ([`DirectWriter`]), for the busiest path (a group of signups), in
    /// the same turn as [`Store::begin_write`]'s transactions.
    pub(crate) fn direct(&self) -> Option<&DirectWriter> {
        self.direct.as_ref()
    }

    /// How many transactions write usefully side by side: one on SQLite
    /// (one writer at a time is all it takes), four on PostgreSQL, so
    /// groups are written while others wait for their commits (they gather
    /// groups of a useful size, see `subscriptions::signup::queue`).
    pub fn useful_writers(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// A cheap round trip for `/health`, bounded so a hung database answers
    /// "unavailable" instead of hanging the probe.
    pub async fn ping(&self, within: Duration) -> Result<(), StoreError> {
        let probe = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(within, probe).await {
            Ok(result) => result.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Timeout(within)),
        }
    }

    /// Closes the pool; SQLite's writer connection closes with the last
    /// clone of the store.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A store on a fresh SQLite file in `dir`, for unit tests.
#[cfg(test)]
pub(crate) async fn test_sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let settings = DatabaseSettings {
        url: url.into(),
        max_connections: 2,
    };
    match Store::connect(&settings).await {
        Ok(store) => store,
        Err(error) => panic!("test store: {error}"),
    }
}

/// Milliseconds since the Unix epoch: the one time format in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Escapes LIKE's wildcards, so text typed in a search or a tag matches
/// only itself (`LIKE … ESCAPE '\\'`).
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::BadUrl(
            "must start with sqlite:// or postgres://".to_string(),
        ))
    }
}

/// Connections that sat idle this long are pinged before they are lent.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Pool settings both backends share. sqlx pings every connection it lends
/// by default: a round trip before each `/health` probe, each PostgreSQL
/// transaction and each group of signups, to guard against a connection
/// the server dropped. Under load the connections never sit idle, so they
/// are pinged only after [`PING_WHEN_IDLE_FOR`] in the pool (as HikariCP
/// does after 500 ms). sqlx still pings each connection as it comes back
/// to the pool, after its user is done: one that broke while in use is
/// closed there and never lent again.
pub(crate) fn pool_options(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < PING_WHEN_IDLE_FOR {
                    return Ok(true);
                }
                // a connection that fails the ping is closed and another
                // one lent instead
                Ok(sqlx::Connection::ping(conn).await.is_ok())
            })
        })
}
