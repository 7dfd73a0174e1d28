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
//! handler, which sleeps and polls. Left open: a connection whose thread
//! died is not replaced (a pool would have); SQLite's connections to a
//! local file do not drop as network ones do.

use std::sync::Arc;

use sqlx::{Any, AnyConnection, Connection, Database, SqlSafeStr};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// sqlx's own transaction bookkeeping, as its `Transaction` uses it: the
/// connection knows it is in a transaction, so a nested `begin()` on it
/// makes a savepoint, and a rollback started on drop runs on the
/// connection's thread before anything sent after it.
type Manager = <Any as Database>::TransactionManager;

#[derive(Clone, Debug)]
pub struct SqliteWriter {
    conn: Arc<Mutex<AnyConnection>>,
}

impl SqliteWriter {
    /// Opens the connection at `url`, set up as the pool's are.
    pub async fn connect(url: &str) -> Result<SqliteWriter, sqlx::Error> {
        let mut conn = AnyConnection::connect(url).await?;
        super::connect::set_up_sqlite(&mut conn).await?;
        Ok(SqliteWriter {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Waits for the connection, then begins with `BEGIN IMMEDIATE`, taking
    /// SQLite's write lock at once instead of failing to upgrade a read
    /// later.
    pub async fn begin(&self) -> Result<WriterTurn, sqlx::Error> {
        // The turn exists before its BEGIN is sent: a caller that gives up
        // while it runs (a shutdown cancelling a claim) drops the turn, and
        // the drop queues the rollback behind the BEGIN rather than leave
        // SQLite's write lock taken.
        let mut turn = WriterTurn {
            conn: self.conn.clone().lock_owned().await,
            open: true,
        };
        Manager::begin(&mut turn.conn, Some("BEGIN IMMEDIATE".into_sql_str())).await?;
        Ok(turn)
    }

    /// Waits for the connection and lends it for one statement in
    /// autocommit. SQLite makes a lone statement atomic and takes the write
    /// lock at its start, as `BEGIN IMMEDIATE` does (its busy handler waits
    /// for the lock there too), in one round trip to the connection's
    /// thread instead of three. A caller that gives up half-way leaves
    /// nothing open: the statement commits or fails on its own.
    pub async fn alone(&self) -> OwnedMutexGuard<AnyConnection> {
        self.conn.clone().lock_owned().await
    }
}

/// A write transaction on the writer connection; the connection is lent
/// until this is committed, rolled back or dropped.
pub struct WriterTurn {
    conn: OwnedMutexGuard<AnyConnection>,
    /// Neither committed nor rolled back yet.
    open: bool,
}

impl WriterTurn {
    pub fn conn(&self) -> &AnyConnection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        Manager::commit(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        Manager::rollback(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriterTurn {
    /// Dropped with its transaction open (an error returned early, a
    /// request cancelled): the rollback is queued on the connection's
    /// thread at once, ahead of the next writer's BEGIN.
    fn drop(&mut self) {
        if self.open {
            Manager::start_rollback(&mut self.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::Duration;

    use crate::store::{Store, test_sqlite_store};

    async fn store(dir: &tempfile::TempDir) -> Store {
        let store = test_sqlite_store(dir).await;
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

    /// A lone write waits for the transaction that holds the writer, then
    /// commits by itself and leaves the writer ready for the next one.
    #[tokio::test]
    async fn a_lone_write_waits_its_turn_and_commits_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let tx = writing(&store, 1).await;
        let lone = tokio::spawn({
            let store = store.clone();
            async move {
                let mut conn = store.write_alone().await.unwrap();
                sqlx::query("INSERT INTO t VALUES (2)")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!lone.is_finished(), "it went in during the transaction");
        tx.rollback().await.unwrap();
        lone.await.unwrap();
        assert_eq!(rows(&store).await, 1, "seen from the pool: committed");
        writing(&store, 3).await.commit().await.unwrap();
        assert_eq!(rows(&store).await, 2);
    }

    /// A nested transaction on a write transaction is a savepoint, as on
    /// PostgreSQL (a known address's signup runs in one).
    #[tokio::test]
    async fn a_nested_transaction_is_a_savepoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let mut tx = writing(&store, 1).await;
        {
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await.unwrap();
            sqlx::query("INSERT INTO t VALUES (2)")
                .execute(&mut *savepoint)
                .await
                .unwrap();
            savepoint.rollback().await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(rows(&store).await, 1);
    }
}
