//! SQLite's checkpoints on a thread of their own, beside the writes.
//!
//! Why: in WAL mode a commit that takes the log past
//! `wal_autocheckpoint` pages copies the log back into the database file
//! (a checkpoint) before it returns, fsyncs included. Under a signup load
//! that was every thousand pages, several times a second, each in the
//! writer's turn, so every signup waited for it: a group's commit took
//! 1.3 ms, 0.45 ms with the copying done here. A passive checkpoint never
//! blocks a writer, so this thread runs one after the writes of the direct
//! connection.
//!
//! The writers keep their own automatic checkpoint, at
//! [`WAL_AUTOCHECKPOINT_PAGES`]: SQLite starts the log again from its
//! beginning only when a writer finds all of it copied back, which a
//! steady load never leaves time for. A writer's own checkpoint, with
//! little left to copy, makes that happen and bounds the log's size.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Log pages after which a writer checkpoints in its own commit (SQLite's
/// default is 1,000): the log stays under about 32 MB.
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 8_000;

/// The least time between two checkpoints: under load one copies the
/// pages of many commits at once, and a page written by each of them is
/// copied once.
const PAUSE: Duration = Duration::from_millis(20);

/// Asks the checkpoint thread for a checkpoint; the thread ends when the
/// last clone is dropped.
#[derive(Clone, Debug)]
pub struct Checkpointer {
    nudge: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread with a connection of its own to the file at
    /// `path` (already in WAL mode).
    pub fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(std::io::Error::other)?;
        // One waiting request is enough: a checkpoint copies everything
        // committed before it starts.
        let (nudge, nudged) = sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&conn, &nudged))?;
        Ok(Checkpointer { nudge })
    }

    /// Asks for a checkpoint after a commit; never waits.
    pub fn nudge(&self) {
        // Full: a checkpoint is already asked for. Disconnected cannot
        // happen while a clone lives, and the writers' own checkpoints
        // would still run.
        let _ = self.nudge.try_send(());
    }
}

fn run(conn: &Connection, nudged: &Receiver<()>) {
    while nudged.recv().is_ok() {
        // PASSIVE copies what no reader still needs and waits for nobody;
        // a failure (the disk full, say) leaves the writers' own
        // checkpoints to try again
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        if let Err(error) = done {
            tracing::warn!(%error, "background checkpoint of the SQLite log failed");
        }
        std::thread::sleep(PAUSE);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::time::{Duration, Instant};

    use super::*;

    /// A nudge after a commit gets the log copied into the database file
    /// though no writer checkpoints.
    #[test]
    fn a_nudge_copies_the_log_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(100000));")
            .unwrap();
        let in_file = || std::fs::metadata(&path).unwrap().len();
        assert!(in_file() < 100_000, "the row is still only in the log");
        let checkpointer = Checkpointer::start(&path).unwrap();
        checkpointer.nudge();
        let deadline = Instant::now() + Duration::from_secs(10);
        while in_file() < 100_000 {
            assert!(Instant::now() < deadline, "the log was never copied back");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
