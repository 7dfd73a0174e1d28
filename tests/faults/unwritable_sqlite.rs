//! A SQLite database Gazette may not write stops the start with one clear
//! line naming the file, a non-zero exit code, and no panic.
//!
//! Root writes any file whatever its mode, so when the tests run as root
//! (CI containers) Gazette runs as `nobody` through `setpriv`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::helpers::{Backend, TestDb};
use crate::process::{gazette, migrate};

fn as_unprivileged(mut command: Command) -> Command {
    // `id -u` tells whether we run as root without a libc binding.
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return command;
    }
    let mut wrapped = Command::new("setpriv");
    wrapped.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
    wrapped.arg(command.get_program());
    wrapped.args(command.get_args());
    wrapped.env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    command = wrapped;
    command
}

fn set_mode(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn read_only_sqlite_file_stops_the_start_with_one_line() {
    let db = TestDb::create(Backend::Sqlite).await;
    migrate(&db);
    let file = db.dir().join("gazette.db");
    // read-only file in a read-only folder: no write, no journal either
    set_mode(&file, 0o444);
    for extra in ["gazette.db-wal", "gazette.db-shm"] {
        let _ = std::fs::remove_file(db.dir().join(extra));
    }
    set_mode(&db.dir(), 0o555);
    let mut serve = gazette(&db);
    serve
        .current_dir("/")
        .arg("serve")
        .env("GAZETTE__SERVER__PORT", "0");
    let output = as_unprivileged(serve).output().unwrap();
    set_mode(&db.dir(), 0o755);

    let stderr = String::from_utf8_lossy(&output.stderr);
    println!(
        "faults: unwritable_sqlite: exit code {:?}, stderr {:?}",
        output.status.code(),
        stderr.trim()
    );
    assert!(!output.status.success(), "started on a read-only database");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("not writable") || stderr.contains("readonly"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
