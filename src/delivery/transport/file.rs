//! The `file` transport: one `.eml` per message under `mail.outbox_dir`,
//! written under a temporary name and renamed, so a reader never sees
//! half a file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{SendFailure, TransportError};

pub struct FileTransport {
    pub(super) dir: PathBuf,
    counter: AtomicU64,
}

impl FileTransport {
    pub(super) fn new(dir: PathBuf) -> Result<FileTransport, TransportError> {
        std::fs::create_dir_all(&dir).map_err(|e| TransportError::OutboxDir {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(FileTransport {
            dir,
            counter: AtomicU64::new(0),
        })
    }

    pub(super) async fn write(&self, bytes: Arc<Vec<u8>>) -> Result<(), SendFailure> {
        let sequence = self.counter.fetch_add(1, Ordering::Relaxed);
        // time first, so a listing sorts oldest first; pid and sequence make
        // names unique across instances writing to one folder
        let name = format!(
            "{}-{}-{sequence:06}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            std::process::id()
        );
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let temp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&temp, bytes.as_slice())?;
            std::fs::rename(&temp, dir.join(&name))
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SendFailure::Connection(format!(
                "cannot write to the outbox folder: {e}"
            ))),
            Err(e) => Err(SendFailure::Connection(format!(
                "outbox writer failed: {e}"
            ))),
        }
    }
}
