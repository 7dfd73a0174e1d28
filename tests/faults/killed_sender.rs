//! A sending `gazette serve` killed with SIGKILL half-way through an issue,
//! then started again: every reader gets the issue, and the only copies
//! sent twice are messages that had left but were not yet recorded as sent
//! when the process died (in flight).

use std::time::Duration;

use crate::helpers::{Backend, TestDb};
use crate::process::{
    Serve, Tally, allowance, count_status, fault_rows, migrate, open_store, seed_issue,
    wait_all_sent, wait_received,
};
use crate::smtp_server::SmtpServer;

const CONCURRENCY: usize = 8;
/// Short, so the restarted process claims the dead one's rows soon.
const LEASE_SECS: u64 = 3;

async fn killed_sender_loses_nothing_and_repeats_only_in_flight(backend: Backend) {
    let rows = fault_rows(2000);
    let smtp = SmtpServer::start_with(None, true).await;
    let db = TestDb::create(backend).await;
    migrate(&db);
    let store = open_store(&db).await;
    seed_issue(&store, rows, 3).await;

    let first = Serve::start(&db, &smtp, CONCURRENCY, LEASE_SECS);
    wait_received(&smtp, rows / 2, allowance(rows)).await;
    first.kill();
    // a message whose last line left just before the kill is recorded by
    // the server a moment later: count it as sent before the kill, once
    // the server has ended every session of the killed process
    smtp.wait_until_idle(Duration::from_secs(30)).await;
    let at_kill = smtp.received_count();
    let recorded = count_status(&store, "sent").await;
    let in_flight = at_kill.saturating_sub(recorded);

    let mut second = Serve::start(&db, &smtp, CONCURRENCY, LEASE_SECS);
    wait_all_sent(&store, rows, allowance(rows)).await;
    assert!(second.is_running(), "the restarted sender stopped");
    second.kill();

    let tally = Tally::of(&smtp.received(), rows);
    println!(
        "faults: killed_sender {backend:?}: rows {rows}, killed after {at_kill} sent, \
         lost {}, duplicates {}, in flight {in_flight}",
        tally.lost, tally.duplicates
    );
    assert_eq!(tally.lost, 0, "every reader gets the issue");
    assert_eq!(tally.copies.len(), rows, "and nobody else");
    assert!(
        tally.duplicates <= in_flight,
        "{} duplicates but only {in_flight} in flight",
        tally.duplicates
    );
    // A send waits for room among the unrecorded (two of the recorder's
    // batches, 64 outcomes each, sessions in flight included), whatever
    // the issue's size and however slow the database.
    assert!(in_flight <= 2 * 64, "{in_flight} in flight");
    assert_eq!(count_status(&store, "sent").await, rows);
    store.close().await;
}

crate::both_databases!(killed_sender_loses_nothing_and_repeats_only_in_flight);
