//! Headless Chromium for page tests: starts Debian's `chromedriver` on a
//! free port as a child process and drives Chromium through WebDriver
//! (fantoccini over plain HTTP on loopback). On failure a test calls
//! [`Browser::save_artifacts`] to keep a screenshot and the page source
//! under `tests/artifacts/` (gitignored).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        // The port is free when picked but not held: another test may bind
        // it before chromedriver does, and chromedriver then exits. Try
        // again on another port.
        let (driver, webdriver) = 'started: {
            for _ in 0..3 {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port")
                    .port();
                let mut driver = Command::new(CHROMEDRIVER)
                    .arg(format!("--port={port}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot start {CHROMEDRIVER} ({e}); install chromium-driver (.ci/run does)"
                        )
                    });
                let webdriver = format!("http://127.0.0.1:{port}");
                if wait_until_ready(&webdriver, &mut driver).await {
                    break 'started (driver, webdriver);
                }
            }
            panic!("chromedriver exited at start 3 times");
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-quic",
                    "--disable-dev-shm-usage",
                    "--window-size=1024,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a WebDriver session with Chromium");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Keeps a screenshot and the page source of the current page as
    /// `tests/artifacts/<name>.png` and `.html`.
    pub async fn save_artifacts(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
        if let Ok(source) = self.client.source().await {
            let _ = std::fs::write(dir.join(format!("{name}.html")), source);
        }
        eprintln!("browser artifacts saved under {}", dir.display());
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// True once chromedriver answers at `webdriver`; false when it exited
/// first (its port was taken).
async fn wait_until_ready(webdriver: &str, driver: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = reqwest::Client::new();
    while Instant::now() < deadline {
        if driver.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(response) = client.get(format!("{webdriver}/status")).send().await
            && response.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer at {webdriver} within 20 s");
}
