//! PostgreSQL goes away while an issue is being sent, and comes back: the
//! send resumes by itself, nobody misses the issue, and the only copies
//! sent twice are messages whose outcome could not be recorded while the
//! database was away (in flight).
//!
//! The shared PostgreSQL cluster serves other tests in parallel, so the
//! outage is of this test's database only: new connections refused
//! (`ALLOW_CONNECTIONS false`) and every open one terminated, as a restart
//! would do to Gazette.

use std::time::Duration;

use sqlx::{Connection, Executor};

use crate::helpers::{Backend, TestDb, postgres_admin_url};
use crate::process::{
    Serve, Tally, allowance, count_status, fault_rows, migrate, open_store, seed_issue,
    wait_all_sent, wait_received,
};
use crate::smtp_server::SmtpServer;

const OUTAGE: Duration = Duration::from_secs(4);

async fn set_reachable(name: &str, reachable: bool) {
    let mut admin = sqlx::postgres::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS {reachable}"
        )))
        .await
        .unwrap();
    if !reachable {
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )))
            .await
            .unwrap();
    }
}

async fn send_resumes_by_itself_after_a_postgres_outage(backend: Backend) {
    assert_eq!(backend, Backend::Postgres);
    let rows = fault_rows(2000);
    let smtp = SmtpServer::start_with(None, true).await;
    let db = TestDb::create(backend).await;
    let name = db.pg_name.clone().unwrap();
    migrate(&db);
    let store = open_store(&db).await;
    seed_issue(&store, rows, 3).await;

    let mut sender = Serve::start(&db, &smtp, 8, 300);
    wait_received(&smtp, rows / 4, allowance(rows)).await;
    let recorded_before = count_status(&store, "sent").await;
    set_reachable(&name, false).await;
    let at_cut = smtp.received_count();
    tokio::time::sleep(OUTAGE).await;
    // Sent since the last outcome recorded before the cut: an upper bound
    // of the messages whose outcome could not be written.
    let at_restore = smtp.received_count();
    let in_flight = at_restore.saturating_sub(recorded_before);
    set_reachable(&name, true).await;

    wait_all_sent(&store, rows, allowance(rows)).await;
    assert!(sender.is_running(), "the sender stopped during the outage");
    sender.kill();

    let tally = Tally::of(&smtp.received(), rows);
    println!(
        "faults: postgres_outage: rows {rows}, cut after {at_cut} sent for {OUTAGE:?}, \
         {} sent during the outage; lost {}, duplicates {}, in flight {in_flight}",
        at_restore - at_cut,
        tally.lost,
        tally.duplicates
    );
    assert_eq!(tally.lost, 0, "every reader gets the issue");
    assert_eq!(tally.copies.len(), rows, "and nobody else");
    assert!(
        tally.duplicates <= in_flight,
        "{} duplicates but only {in_flight} in flight",
        tally.duplicates
    );
    store.close().await;
}

mod postgres {
    use crate::helpers::{Backend, skip_postgres};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn send_resumes_by_itself_after_a_postgres_outage() {
        if skip_postgres() {
            return;
        }
        super::send_resumes_by_itself_after_a_postgres_outage(Backend::Postgres).await
    }
}
