//! SQLite write transactions run in one call, on a connection of our own
//! (rusqlite), instead of one round trip to sqlx's worker thread per
//! statement.
//!
//! Why: a group of signups is a `BEGIN`, a read, a few inserts and a
//! `COMMIT`. Through sqlx each is a hand-off to the connection's thread and
//! back, about 170 µs under a signup load on two cores, and the group's
//! answers wait for all of them: a group of 16 took about 2.2 ms where
//! SQLite itself worked about 1.4 ms. Here the whole transaction runs in
//! one blocking call, with statements prepared once and bound in place.
//!
//! It takes the writer's turn ([`SqliteWriter::alone`]) for the whole
//! call, so this process still writes one transaction at a time and
//! nobody meets SQLite's busy handler. The price of a second connection:
//! SQLite drops a connection's page cache when another one has written
//! since its last transaction, so the frequent writes of the delivery
//! workers (claims of one-off mail, outcomes all sent) come here too;
//! their rarer ones still go through sqlx. After each commit the
//! checkpoint thread ([`super::checkpointer`]) is asked to copy the log
//! back, beside the next writes.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use tokio::runtime::RuntimeFlavor;

use super::checkpointer::{Checkpointer, WAL_AUTOCHECKPOINT_PAGES};
use super::writer::SqliteWriter;

#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The blocking call did not come back (a panic in it, or the runtime
    /// shutting down).
    #[error("the SQLite write did not finish: {0}")]
    Lost(String),
}

#[derive(Clone)]
pub struct DirectWriter {
    conn: Arc<Mutex<Connection>>,
    turn: SqliteWriter,
    checkpointer: Checkpointer,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter").finish_non_exhaustive()
    }
}

impl DirectWriter {
    /// Opens the file at `path` (already created and migrated by the pool),
    /// set up as sqlx's connections are.
    pub fn open(
        path: &Path,
        turn: SqliteWriter,
        checkpointer: Checkpointer,
    ) -> Result<DirectWriter, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        // A statement of many rows is prepared once for each count of rows
        // and then kept: five tables a group of signups, and groups of up
        // to 32 or so under a heavy load.
        conn.set_prepared_statement_cache_capacity(192);
        Ok(DirectWriter {
            conn: Arc::new(Mutex::new(conn)),
            turn,
            checkpointer,
        })
    }

    /// Runs `work` in a transaction begun with `BEGIN IMMEDIATE` and
    /// commits it when `work` returns `Ok`; an `Err` rolls everything
    /// back. The transaction keeps the writer's turn to its end, even if
    /// the caller stops waiting.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DirectError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let turn = self.turn.alone().await;
        let conn = self.conn.clone();
        let checkpointer = self.checkpointer.clone();
        let transaction = move || {
            // A panic in an earlier call poisoned the lock after its
            // transaction was rolled back (rusqlite rolls back on drop):
            // the connection is usable.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = work(&tx)?;
            tx.commit()?;
            drop(turn);
            checkpointer.nudge();
            Ok(done)
        };
        // On the multi-thread runtime the transaction runs on this thread,
        // whose other tasks go to another one (`block_in_place`): a trip to
        // the blocking pool and back cost about 0.35 ms a call on a loaded
        // two-core machine, all of it in the writer's turn. A
        // current-thread runtime (tests, the web server's workers) has no
        // other thread to give its tasks to.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread);
        if multi_thread {
            return tokio::task::block_in_place(transaction);
        }
        match tokio::task::spawn_blocking(transaction).await {
            Ok(result) => result,
            Err(lost) => Err(DirectError::Lost(lost.to_string())),
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
        sqlx::query("CREATE TABLE t (x INTEGER NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        store
    }

    async fn values(store: &Store) -> Vec<i64> {
        sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_write_commits_and_a_failed_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let direct = store.direct().expect("SQLite has a direct writer");
        let n = direct
            .write(|tx| tx.execute("INSERT INTO t VALUES (1), (2)", []))
            .await
            .unwrap();
        assert_eq!(n, 2);
        // the second statement fails (NOT NULL): the first is undone
        let failed = direct
            .write(|tx| {
                tx.execute("INSERT INTO t VALUES (3)", [])?;
                tx.execute("INSERT INTO t VALUES (NULL)", [])
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(values(&store).await, vec![1, 2], "seen from the pool");
        // and the writer connection of sqlx is free and sees the rows
        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (4)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(values(&store).await, vec![1, 2, 4]);
    }

    /// The direct write waits for the transaction that holds the writer's
    /// turn instead of meeting SQLite's busy handler.
    #[tokio::test]
    async fn a_direct_write_takes_its_turn_after_an_open_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let mut tx = store.begin_write().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let direct = store.direct().unwrap().clone();
        let waiting = tokio::spawn(async move {
            direct
                .write(|tx| tx.execute("INSERT INTO t VALUES (2)", []))
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "it wrote during the transaction");
        tx.commit().await.unwrap();
        waiting.await.unwrap();
        assert_eq!(values(&store).await, vec![1, 2]);
    }
}
