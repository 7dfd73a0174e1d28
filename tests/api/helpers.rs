//! The test harness: [`spawn_app`] starts Gazette on port 0 with a fresh
//! database of the chosen [`Backend`], and [`both_databases!`] turns one test
//! function into a SQLite test and a PostgreSQL test.
//!
//! PostgreSQL is the one at `GAZETTE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test gets its own
//! database, dropped afterwards. When it cannot be reached the test fails;
//! only outside CI may `GAZETTE_TEST_SKIP_POSTGRES=1` skip those tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use gazette::config::Settings;
use gazette::startup::Application;
use gazette::store::Store;
use sqlx::{Connection, Executor};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite::NAME` and `postgres::NAME` tests for each async
/// `fn NAME(backend: Backend)` listed.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::helpers::skip_postgres() {
                        return;
                    }
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

pub fn postgres_admin_url() -> String {
    std::env::var("GAZETTE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// True only outside CI when the developer asked to skip PostgreSQL.
pub fn skip_postgres() -> bool {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let asked = std::env::var("GAZETTE_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if asked && !in_ci {
        eprintln!("skipping a PostgreSQL test: GAZETTE_TEST_SKIP_POSTGRES=1");
        return true;
    }
    false
}

/// A database that exists for one test.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub pg_name: Option<String>,
    dir: tempfile::TempDir,
}

impl TestDb {
    pub async fn create(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/gazette.db", dir.path().display());
                TestDb {
                    backend,
                    url,
                    pg_name: None,
                    dir,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = sqlx::postgres::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL is not reachable at {admin}: {e}. Start it \
                             (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) \
                             or, outside CI only, set GAZETTE_TEST_SKIP_POSTGRES=1"
                        )
                    });
                let name = format!("gazette_test_{}", random_suffix());
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create test database");
                let options =
                    sqlx::postgres::PgConnectOptions::from_str(&admin).expect("admin url");
                let url = format!(
                    "postgres://{}@{}:{}/{}",
                    options.get_username(),
                    options.get_host(),
                    options.get_port(),
                    name
                );
                TestDb {
                    backend,
                    url,
                    pg_name: Some(name),
                    dir,
                }
            }
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async code: a short-lived runtime on its own
        // thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) =
                    sqlx::postgres::PgConnection::connect(&postgres_admin_url()).await
                {
                    let _ = conn
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

pub const TEST_METRICS_TOKEN: &str = "metrics-token-for-the-tests";

/// Settings for a test app: compiled defaults, the test database, port and
/// base URL of `listener`, mail into a temporary outbox, quiet logs.
pub fn test_settings(db: &TestDb, port: u16) -> Settings {
    let outbox = db.dir().join("outbox");
    let vars = vec![
        ("DATABASE_URL".to_string(), db.url.clone()),
        ("GAZETTE__SERVER__PORT".to_string(), port.to_string()),
        (
            "GAZETTE__SERVER__BASE_URL".to_string(),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "GAZETTE__MAIL__OUTBOX_DIR".to_string(),
            outbox.display().to_string(),
        ),
        (
            "GAZETTE__DATABASE__MAX_CONNECTIONS".to_string(),
            "5".to_string(),
        ),
        // The tests read /metrics with this token (TestApp::metrics).
        (
            "GAZETTE__METRICS__TOKEN".to_string(),
            TEST_METRICS_TOKEN.to_string(),
        ),
        // Tests serve their feeds on loopback.
        (
            "GAZETTE__FEEDS__ALLOW_PRIVATE_ADDRESSES".to_string(),
            "true".to_string(),
        ),
        // Gazette ships no sender; tests of the unset case clear these.
        (
            "GAZETTE__MAIL__FROM__ADDRESS".to_string(),
            "newsletter@example.org".to_string(),
        ),
        (
            "GAZETTE__SITE__POSTAL_ADDRESS".to_string(),
            "1 Example Street, Bamako, Mali".to_string(),
        ),
        // Tests drive the scheduler with their own clock (Scheduler::tick).
        (
            "GAZETTE__SCHEDULING__ENABLED".to_string(),
            "false".to_string(),
        ),
    ];
    Settings::load_with(std::path::Path::new("/nonexistent"), None, vars).expect("test settings")
}

/// Mail goes to a test SMTP server on loopback at `port`, without TLS and
/// without a rate limit to wait for.
pub fn send_through_smtp(s: &mut Settings, port: u16) {
    s.mail.transport = gazette::config::MailTransportKind::Smtp;
    s.mail.smtp.host = "127.0.0.1".into();
    s.mail.smtp.port = port;
    s.mail.smtp.tls = gazette::config::SmtpTls::None;
    s.mail.rate_per_second = 10_000;
}

pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub port: u16,
    /// The port of `metrics.listen`, when the test set it.
    pub metrics_port: Option<u16>,
    /// The port of `mail.bounce.listen`, when the test set it.
    pub bounce_port: Option<u16>,
    pub client: reqwest::Client,
    pub store: Store,
    pub settings: Settings,
    pub db: TestDb,
    shutdown: CancellationToken,
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts an app after letting the test adjust its settings.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::create(backend).await;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("local addr").port();
    let mut settings = test_settings(&db, port);
    adjust(&mut settings);
    let app = Application::build_on(settings.clone(), listener)
        .await
        .expect("application starts");
    let store = app.store().clone();
    let metrics_port = app.metrics_address().map(|a| a.port());
    let bounce_port = app.bounce_address().map(|a| a.port());
    let shutdown = app.shutdown_token();
    let running = tokio::spawn(app.run(false));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("http client");
    TestApp {
        backend,
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        bounce_port,
        client,
        store,
        settings,
        db,
        shutdown,
        running: Some(running),
    }
}

/// Another Gazette on a test app's database, as a deployment of several
/// instances runs; it stops when dropped.
pub struct Instance {
    pub address: String,
    shutdown: CancellationToken,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts another instance on `app`'s database after letting the test
/// adjust its settings.
pub async fn another_instance(app: &TestApp, adjust: impl FnOnce(&mut Settings)) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("local addr").port();
    let mut settings = test_settings(&app.db, port);
    adjust(&mut settings);
    let instance = Application::build_on(settings, listener)
        .await
        .expect("instance starts");
    let shutdown = instance.shutdown_token();
    tokio::spawn(instance.run(false));
    Instance {
        address: format!("http://127.0.0.1:{port}"),
        shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// `/metrics` as Prometheus reads it, with the test token.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(TEST_METRICS_TOKEN)
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200, "/metrics with the token");
        response.text().await.expect("metrics text")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// Stops the app gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The `.eml` files the file transport has finished in `dir`, oldest first
/// (their names start with the time). The transport writes a hidden `.tmp`
/// file and then renames it, so a file listed here is whole.
pub fn outbox_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The newest finished `.eml` in `dir` with `recipient` in its `To`, raw.
pub fn newest_mail_to(dir: &Path, recipient: &str) -> Option<String> {
    let wanted = recipient.to_lowercase();
    outbox_files(dir).iter().rev().find_map(|file| {
        let raw = std::fs::read_to_string(file).ok()?;
        let head = raw.split("\r\n\r\n").next().unwrap_or("").to_lowercase();
        head.lines()
            .any(|line| line.starts_with("to:") && line.contains(&wanted))
            .then_some(raw)
    })
}
