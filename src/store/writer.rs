//! SQLite's one writer connection, lent to one write transaction at a time.
//!
//! Every write transaction on SQLite runs on this connection, outside the
//! pool, for two reasons measured under a burst of signups:
//! - SQLite drops a connection's whole page cache whenever another
//!   connection has written since its last transaction. When each write
//!   took whichever pooled connection came first, each began cold and read
//!   its index pages back through the kernel; here the cache stays warm.
//! - Lending a pooled connection cost a ping and the pool's bookkeeping:
//!   about 300 µs a transaction under that load (measured), of the 1.8 ms a
//!   group of signups took. Without it, signups went up about 6 %.
//!
//! The async lock around it is also SQLite's one-writer rule kept inside
//! this process: writers queue here instead of meeting SQLite's busy
//! handler, which sleeps and polls.

use std::sync::Arc;

use sqlx::{AnyConnection, Connection, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The writer connection and whether a transaction is open on it.
#[derive(Debug)]
struct Writer {
    conn: AnyConnection,
    /// A transaction was begun and neither committed nor rolled back: its
    /// holder went away (an error, a cancelled request). Rolled back by
    /// whoever takes the connection next.
    open: bool,
}

impl Writer {
    async fn roll_back_if_open(&mut self) {
        if self.open {
            // An error here means SQLite already ended the transaction
            // (some errors roll it back themselves): either way none is
            // open after this.
            let _ = self.conn.execute("ROLLBACK").await;
            self.open = false;
        }
    }
}

#[derive(Clone, Debug)]
pub struct SqliteWriter {
    writer: Arc<Mutex<Writer>>,
}

impl SqliteWriter {
    /// Opens the connection at `url`, set up as the pool's are.
    pub async fn connect(url: &str) -> Result<SqliteWriter, sqlx::Error> {
        let mut conn = AnyConnection::connect(url).await?;
        super::set_up_sqlite(&mut conn).await?;
        Ok(SqliteWriter {
            writer: Arc::new(Mutex::new(Writer { conn, open: false })),
        })
    }

    /// Waits for the connection, then begins with `BEGIN IMMEDIATE`, taking
    /// SQLite's write lock at once instead of failing to upgrade a read
    /// later.
    pub async fn begin(&self) -> Result<WriterTurn, sqlx::Error> {
        let mut writer = self.writer.clone().lock_owned().await;
        writer.roll_back_if_open().await;
        // Marked open before the BEGIN is sent: a caller that gives up
        // while it runs (a shutdown cancelling a claim) drops the turn, and
        // the BEGIN still runs on the connection's thread; the drop then
        // rolls it back rather than leave SQLite's write lock taken.
        writer.open = true;
        let mut turn = WriterTurn { writer };
        turn.writer.conn.execute("BEGIN IMMEDIATE").await?;
        Ok(turn)
    }
}

/// A write transaction on the writer connection; the connection is lent
/// until this is committed, rolled back or dropped.
pub struct WriterTurn {
    writer: OwnedMutexGuard<Writer>,
}

impl WriterTurn {
    pub fn conn(&self) -> &AnyConnection {
        &self.writer.conn
    }

    pub fn conn_mut(&mut self) -> &mut AnyConnection {
        &mut self.writer.conn
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.end("COMMIT").await
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        // On failure the transaction may still be open: `open` stays set
        // and the transaction is rolled back on drop or by the next writer.
        self.writer.conn.execute(statement).await?;
        self.writer.open = false;
        Ok(())
    }
}

impl Drop for WriterTurn {
    /// Dropped with its transaction open (an error returned early, a
    /// request cancelled): the transaction must not keep SQLite's write
    /// lock until the next writer comes, so a task rolls it back as soon as
    /// the connection is free (the next writer would too, whichever takes
    /// it first).
    fn drop(&mut self) {
        if self.writer.open
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let lock = OwnedMutexGuard::mutex(&self.writer).clone();
            runtime.spawn(async move {
                lock.lock().await.roll_back_if_open().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use crate::config::DatabaseSettings;
    use crate::store::Store;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let store = Store::connect(&DatabaseSettings {
            url: url.into(),
            max_connections: 2,
        })
        .await
        .unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(store.pool())
            .await
            .unwrap();
        store
    }

    async fn rows(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// A write transaction holding one insert, not ended yet.
    async fn writing(store: &Store, x: i64) -> crate::store::WriteTx {
        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("INSERT INTO t VALUES ($1)")
            .bind(x)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// A write from the pool, outside the writer, that must go through
    /// without waiting for SQLite's busy timeout (10 s): nobody holds the
    /// write lock.
    async fn pooled_insert(store: &Store, x: i64) {
        let pooled = sqlx::query("INSERT INTO t VALUES ($1)")
            .bind(x)
            .execute(store.pool());
        tokio::time::timeout(Duration::from_secs(5), pooled)
            .await
            .expect("a writer gone kept the write lock")
            .unwrap();
    }

    #[tokio::test]
    async fn committed_writes_stay_and_dropped_ones_are_rolled_back_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;

        writing(&store, 1).await.commit().await.unwrap();
        assert_eq!(rows(&store).await, 1);

        // An early return drops the transaction with a write in it.
        drop(writing(&store, 2).await);
        // Nobody takes the writer next, yet the write lock is given back
        // at once.
        pooled_insert(&store, 3).await;
        assert_eq!(rows(&store).await, 2, "the dropped write is gone");

        // and the writer is ready for the next transaction
        writing(&store, 4).await.rollback().await.unwrap();
        let tx = store.begin_write().await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows(&store).await, 2);
    }

    #[tokio::test]
    async fn a_begin_given_up_half_way_leaves_the_write_lock_free() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        // A shutdown cancels a claim while its BEGIN is on its way; polled
        // once, the BEGIN is sent and the caller gone.
        for _ in 0..20 {
            let _ = tokio::time::timeout(Duration::ZERO, store.begin_write()).await;
        }
        pooled_insert(&store, 1).await;
        let tx = store.begin_write().await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows(&store).await, 1);
    }
}
