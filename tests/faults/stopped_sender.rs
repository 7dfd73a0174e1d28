//! A sending `gazette serve` stopped with SIGTERM again and again while
//! visitors sign up, as in a rolling restart: every stop waits for the
//! sends in flight and writes their outcomes before the process exits, so
//! no reader ever gets a second copy, of the issue or of a confirmation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::helpers::{Backend, TestDb};
use crate::process::{
    Serve, Tally, allowance, fault_rows, migrate, open_store, seed_issue, serve_log, wait_received,
};
use crate::smtp_server::SmtpServer;

const CONCURRENCY: usize = 8;
/// Short, so a row a stop left leased (unrecorded) would go out again
/// during the test and show as a duplicate.
const LEASE_SECS: u64 = 2;
const STOPS: usize = 5;
/// Visitors posting the form at once.
const VISITORS: usize = 4;

async fn stopped_sender_never_sends_twice(backend: Backend) {
    let rows = fault_rows(3000);
    let smtp = SmtpServer::start_with(None, true).await;
    let db = TestDb::create(backend).await;
    migrate(&db);
    let store = open_store(&db).await;
    seed_issue(&store, rows, 3).await;
    let signed_up = Arc::new(AtomicUsize::new(0));

    for stop in 0..=STOPS {
        let port = free_port();
        let serve = Serve::start_with(&db, &smtp, CONCURRENCY, LEASE_SECS, &settings(port));
        wait_healthy(port).await;
        let visiting = Arc::new(AtomicBool::new(true));
        // The last run only finishes the sending.
        let visitors: Vec<_> = (0..VISITORS)
            .filter(|_| stop < STOPS)
            .map(|visitor| {
                tokio::spawn(sign_up_until_stopped(
                    port,
                    format!("{stop}-{visitor}"),
                    visiting.clone(),
                    signed_up.clone(),
                ))
            })
            .collect();
        if stop < STOPS {
            let target = smtp.received_count() + rows / (STOPS + 2);
            wait_received(&smtp, target, allowance(rows)).await;
        } else {
            wait_outbox_sent(&store, allowance(rows)).await;
        }
        assert!(
            serve.terminate(Duration::from_secs(60)),
            "stop {stop}: gazette serve did not exit cleanly on SIGTERM"
        );
        visiting.store(false, Ordering::Relaxed);
        for visitor in visitors {
            visitor.await.unwrap();
        }
    }
    smtp.wait_until_idle(Duration::from_secs(30)).await;

    let tally = Tally::of(&smtp.received(), rows);
    let signups = signed_up.load(Ordering::Relaxed);
    println!(
        "faults: stopped_sender {backend:?}: rows {rows}, {STOPS} stops, {signups} signups, \
         lost {}, duplicates {}",
        tally.lost, tally.duplicates
    );
    let log = serve_log(&db);
    assert!(
        !log.contains("cannot record delivery outcomes"),
        "an outcome was not written at once:\n{log}"
    );
    assert!(signups > 0, "the visitors signed up");
    assert_eq!(tally.lost, 0, "every reader gets the issue");
    assert_eq!(
        tally.copies.len(),
        rows + signups,
        "and every visitor a confirmation"
    );
    assert_eq!(tally.duplicates, 0, "nobody gets a second copy");
    store.close().await;
}

crate::both_databases!(stopped_sender_never_sends_twice);

fn settings(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("GAZETTE__SERVER__PORT", port.to_string()),
        (
            "GAZETTE__SERVER__BASE_URL",
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "GAZETTE__SERVER__SIGNUP_PER_IP_PER_MINUTE",
            "1000000000".into(),
        ),
        ("GAZETTE__SERVER__SIGNUP_IP_BURST", "1000000000".into()),
        // Outcomes wait a while before they are written, so every stop
        // finds some unwritten.
        ("GAZETTE_TEST_RECORD_DELAY_MS", "200".into()),
    ]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_healthy(port: u16) {
    let url = format!("http://127.0.0.1:{port}/health");
    for _ in 0..600 {
        if let Ok(answer) = reqwest::get(&url).await
            && answer.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gazette serve did not answer on port {port}");
}

/// Checks the health, as a load balancer does, and posts the subscribe form
/// with a new address, until told to stop; counts the signups the form
/// accepted. Requests refused because the server is going away are not
/// counted.
async fn sign_up_until_stopped(
    port: u16,
    visitor: String,
    visiting: Arc<AtomicBool>,
    signed_up: Arc<AtomicUsize>,
) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/subscribe");
    let health = format!("http://127.0.0.1:{port}/health");
    let mut n = 0;
    while visiting.load(Ordering::Relaxed) {
        n += 1;
        let _ = client.get(&health).send().await;
        let email = format!("visitor-{visitor}-{n}@example.org");
        let posted = client
            .post(&url)
            .form(&[("email", email.as_str()), ("name", ""), ("website", "")])
            .send()
            .await;
        match posted {
            Ok(answer) if answer.status().is_success() => {
                signed_up.fetch_add(1, Ordering::Relaxed);
            }
            Ok(answer) => panic!("the form answered {}", answer.status()),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Waits until every delivery (the issue's and the confirmations) is sent.
async fn wait_outbox_sent(store: &gazette::store::Store, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let unsent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status <> 'sent'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        if unsent == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{unsent} deliveries not sent within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
