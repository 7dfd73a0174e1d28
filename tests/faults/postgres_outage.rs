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

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};

use crate::helpers::{Backend, TestDb, postgres_admin_url};
use crate::process::{
    Serve, Tally, allowance, count_status, fault_rows, migrate, open_store, seed_issue,
    wait_all_sent, wait_received,
};
use crate::smtp_server::SmtpServer;

const OUTAGE: Duration = Duration::from_secs(4);
/// A claim the outage interrupts after it committed leaves its batch
/// leased until the lease ends (see
/// [`claim_cut_midway_is_undone_and_resumed_at_once`]); a short
/// lease keeps the outage test about the outage.
const LEASE_SECS: u64 = 10;

async fn set_reachable(admin: &mut PgConnection, name: &str, reachable: bool) {
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

    let mut sender = Serve::start(&db, &smtp, 8, LEASE_SECS);
    wait_received(&smtp, rows / 4, allowance(rows)).await;
    let mut admin = PgConnection::connect(&postgres_admin_url()).await.unwrap();
    let recorded_before = count_status(&store, "sent").await;
    set_reachable(&mut admin, &name, false).await;
    let at_cut = smtp.received_count();
    tokio::time::sleep(OUTAGE).await;
    // Sent since the last outcome recorded before the cut: an upper bound
    // of the messages whose outcome could not be written.
    let at_restore = smtp.received_count();
    let in_flight = at_restore.saturating_sub(recorded_before);
    set_reachable(&mut admin, &name, true).await;

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

/// A claim of digest rows is two statements: the `UPDATE … RETURNING` that
/// leases a batch, then a `SELECT` of the recipients' names. When the
/// database goes away between the two, the batch must not stay leased to a
/// claim that failed (for the whole `mail.lease_secs`, 300 s by default):
/// both run in one transaction, so the cut undoes the lease. The test makes
/// that window wide: it holds a lock on `subscribers`, so the second
/// statement waits, and terminates the waiting session; every row must
/// then go out long before the lease would have ended.
async fn claim_cut_midway_is_undone_and_resumed_at_once(backend: Backend) {
    assert_eq!(backend, Backend::Postgres);
    let rows = 200;
    let smtp = SmtpServer::start_with(None, true).await;
    let db = TestDb::create(backend).await;
    let name = db.pg_name.clone().unwrap();
    migrate(&db);
    let store = open_store(&db).await;
    seed_issue(&store, rows, 3).await;
    let mut lock = PgConnection::connect(&db.url).await.unwrap();
    lock.execute("BEGIN").await.unwrap();
    lock.execute("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let mut sender = Serve::start(&db, &smtp, 8, 300);
    let mut admin = PgConnection::connect(&postgres_admin_url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let waiting: i32 = loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'              AND query LIKE '%JOIN subscribers%' LIMIT 1",
        )
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
        if let Some(pid) = pid {
            break pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no claim waited for the recipients' lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // rows another session sees leased while the claim waits: none, the
    // lease is not committed before the recipients are read
    let leased = count_status(&store, "sending").await;
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(waiting)
        .execute(&mut admin)
        .await
        .unwrap();
    lock.execute("ROLLBACK").await.unwrap();

    wait_all_sent(&store, rows, Duration::from_secs(60)).await;
    assert!(sender.is_running());
    sender.kill();
    let tally = Tally::of(&smtp.received(), rows);
    println!(
        "faults: claim_cut_midway: rows {rows}, {leased} leased by the cut claim; \
         lost {}, duplicates {}",
        tally.lost, tally.duplicates
    );
    assert_eq!(leased, 0, "a half-done claim leased rows");
    assert_eq!((tally.lost, tally.duplicates), (0, 0));
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claim_cut_midway_is_undone_and_resumed_at_once() {
        if skip_postgres() {
            return;
        }
        super::claim_cut_midway_is_undone_and_resumed_at_once(Backend::Postgres).await
    }
}
