//! Gazette as a child process (`gazette serve`, `gazette migrate`) on a
//! test database, the seeding of one issue's delivery rows, and the
//! tallies the fault tests print.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gazette::config::DatabaseSettings;
use gazette::store::Store;

use crate::helpers::TestDb;
use crate::smtp_server::{ReceivedMail, SmtpServer};

/// Rows per test: `GAZETTE_FAULT_ROWS`, else a CI-sized default.
pub fn fault_rows(default: usize) -> usize {
    std::env::var("GAZETTE_FAULT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How long a run of `rows` may take: generous, since the machine is shared.
pub fn allowance(rows: usize) -> Duration {
    Duration::from_secs(60 + rows as u64 / 100)
}

/// A `gazette` command on `db`, with nothing from the caller's environment
/// but `PATH`, run in the test's own folder.
pub fn gazette(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gazette"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("GAZETTE__LOG__LEVEL", "warn")
        .current_dir(db.dir());
    command
}

pub fn migrate(db: &TestDb) {
    let output = gazette(db).arg("migrate").output().unwrap();
    assert!(
        output.status.success(),
        "gazette migrate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A running `gazette serve`, killed when dropped so a failed test leaves
/// no process behind. Its log goes to `serve.log` in the test's folder and
/// is printed when the test fails.
pub struct Serve {
    child: Option<Child>,
    log: PathBuf,
}

impl Serve {
    /// Sends into `smtp` with `concurrency` messages in flight; rows whose
    /// holder died are claimed again after `lease_secs`.
    pub fn start(db: &TestDb, smtp: &SmtpServer, concurrency: usize, lease_secs: u64) -> Serve {
        Serve::start_with(db, smtp, concurrency, lease_secs, &[])
    }

    /// [`Serve::start`] with more settings, as environment variables.
    pub fn start_with(
        db: &TestDb,
        smtp: &SmtpServer,
        concurrency: usize,
        lease_secs: u64,
        settings: &[(&str, String)],
    ) -> Serve {
        let log = db.dir().join("serve.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = gazette(db)
            .arg("serve")
            .env("GAZETTE__SERVER__PORT", "0")
            .env("GAZETTE__SCHEDULING__ENABLED", "false")
            .env("GAZETTE__MAIL__TRANSPORT", "smtp")
            .env("GAZETTE__MAIL__SMTP__HOST", "127.0.0.1")
            .env("GAZETTE__MAIL__SMTP__PORT", smtp.port.to_string())
            .env("GAZETTE__MAIL__SMTP__TLS", "none")
            .env("GAZETTE__MAIL__SMTP__POOL_SIZE", concurrency.to_string())
            .env("GAZETTE__MAIL__CONCURRENCY", concurrency.to_string())
            .env("GAZETTE__MAIL__RATE_PER_SECOND", "100000")
            .env("GAZETTE__MAIL__RETRY_BASE_MS", "50")
            .env("GAZETTE__MAIL__LEASE_SECS", lease_secs.to_string())
            .envs(settings.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::from(file))
            .spawn()
            .expect("gazette serve starts");
        Serve {
            child: Some(child),
            log,
        }
    }

    /// SIGKILL: no shutdown, no flush, no release of claimed rows.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, as a service manager stops it; waits for the exit and
    /// returns whether it was clean.
    pub fn terminate(mut self, within: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            eprintln!("gazette serve's log (last lines):\n{}", tail.join("\n"));
        }
    }
}

/// What every `gazette serve` of the test wrote to its log.
pub fn serve_log(db: &TestDb) -> String {
    std::fs::read_to_string(db.dir().join("serve.log")).unwrap_or_default()
}

pub async fn open_store(db: &TestDb) -> Store {
    Store::connect(&DatabaseSettings {
        url: db.url.clone().into(),
        max_connections: 2,
    })
    .await
    .unwrap()
}

/// One issue of `stories` stories to `rows` active subscribers, each with a
/// pending digest row: the seed of the delivery benchmark, reused.
pub async fn seed_issue(store: &Store, rows: usize, stories: usize) {
    let sql = include_str!("../../bench/delivery/seed.sql")
        .replace(":rows", &rows.to_string())
        .replace(":stories", &stories.to_string());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .unwrap();
}

pub async fn count_status(store: &Store, status: &str) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = $1")
        .bind(status)
        .fetch_one(store.pool())
        .await
        .unwrap();
    count as usize
}

/// Waits until `rows` deliveries are `sent`; panics with the statuses
/// after `within`.
pub async fn wait_all_sent(store: &Store, rows: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(sent) = try_count_sent(store).await
            && sent >= rows
        {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let statuses: Vec<(String, i64)> = sqlx::query_as(
                "SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            panic!("not every row was sent within {within:?}: {statuses:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn try_count_sent(store: &Store) -> Result<usize, sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
        .fetch_one(store.pool())
        .await?;
    Ok(count as usize)
}

/// Waits until the SMTP server holds at least `count` messages.
pub async fn wait_received(smtp: &SmtpServer, count: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while smtp.received_count() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} messages arrived within {within:?}",
            smtp.received_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What arrived, per recipient of the seeded issue (`reader1@…` to
/// `readerN@…`).
pub struct Tally {
    pub copies: HashMap<String, usize>,
    pub lost: usize,
    pub duplicates: usize,
}

impl Tally {
    pub fn of(received: &[ReceivedMail], rows: usize) -> Tally {
        let mut copies: HashMap<String, usize> = HashMap::new();
        for mail in received {
            for to in &mail.to {
                *copies.entry(to.clone()).or_insert(0) += 1;
            }
        }
        let lost = (1..=rows)
            .filter(|n| !copies.contains_key(&format!("reader{n}@example.net")))
            .count();
        let duplicates = copies.values().map(|n| n - 1).sum();
        Tally {
            copies,
            lost,
            duplicates,
        }
    }
}
