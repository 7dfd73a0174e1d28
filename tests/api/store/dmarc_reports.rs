//! DMARC aggregate reports: stored once per reporter and report id, listed
//! newest first and paged, read back with their sources, pruned by age.

use gazette::store::dmarc_reports::{DmarcReportData, DmarcSource, MAX_SOURCES_KEPT};
use gazette::store::mail_events::MailEventSource;

use super::fresh_store;
use crate::helpers::Backend;

fn source(ip: &str, count: i64, dkim: &str, spf: &str) -> DmarcSource {
    DmarcSource {
        source_ip: ip.into(),
        count,
        disposition: "none".into(),
        dkim: dkim.into(),
        spf: spf.into(),
        header_from: "example.org".into(),
    }
}

fn report(org: &str, id: &str, sources: Vec<DmarcSource>) -> DmarcReportData {
    DmarcReportData {
        org_name: org.into(),
        report_id: id.into(),
        domain: "example.org".into(),
        policy: "none".into(),
        date_begin: 1_000,
        date_end: 87_400_000,
        sources,
    }
}

async fn reports_are_stored_once_listed_and_pruned(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let google = report(
        "google.com",
        "1",
        vec![
            source("192.0.2.25", 40, "pass", "fail"),
            source("198.51.100.9", 2, "fail", "pass"),
            source("203.0.113.7", 3, "fail", "fail"),
        ],
    );
    let mut tx = store.begin_write().await.unwrap();
    let first = tx
        .dmarc_reports()
        .record(&google, MailEventSource::Smtp, 100)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        tx.dmarc_reports()
            .record(&google, MailEventSource::Imap, 200)
            .await
            .unwrap(),
        None,
        "the same report again"
    );
    // Another reporter may use the same report id.
    let yahoo = report("Yahoo", "1", vec![source("192.0.2.25", 7, "pass", "pass")]);
    let second = tx
        .dmarc_reports()
        .record(&yahoo, MailEventSource::Imap, 300)
        .await
        .unwrap()
        .expect("stored");
    tx.commit().await.unwrap();

    let listed = store.dmarc_reports().list(None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, second, "newest first");
    let g = &listed[1];
    assert_eq!(
        (g.messages, g.dkim_pass, g.spf_pass, g.dmarc_pass),
        (45, 40, 2, 42)
    );
    assert_eq!((g.source, g.received_at), (MailEventSource::Smtp, 100));
    assert_eq!(
        store.dmarc_reports().list(Some(second), 10).await.unwrap()[0].id,
        first
    );
    let (read, sources) = store.dmarc_reports().by_id(first).await.unwrap().unwrap();
    assert_eq!(&read, g);
    let counts: Vec<i64> = sources.iter().map(|s| s.count).collect();
    assert_eq!(counts, [40, 3, 2], "most messages first");
    assert_eq!(store.dmarc_reports().by_id(-1).await.unwrap(), None);

    assert_eq!(store.dmarc_reports().prune(250).await.unwrap(), 1);
    let left = store.dmarc_reports().list(None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].org_name, "Yahoo");
}

/// A report listing more sources than are kept counts them all in its
/// totals and keeps the largest.
async fn a_long_report_keeps_its_totals(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let many: Vec<DmarcSource> = (0..MAX_SOURCES_KEPT as i64 + 10)
        .map(|n| source(&format!("10.0.{}.{}", n / 256, n % 256), 1, "fail", "fail"))
        .collect();
    let mut tx = store.begin_write().await.unwrap();
    let id = tx
        .dmarc_reports()
        .record(&report("big", "b", many), MailEventSource::Smtp, 1)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let (read, sources) = store.dmarc_reports().by_id(id).await.unwrap().unwrap();
    assert_eq!(read.messages, MAX_SOURCES_KEPT as i64 + 10);
    assert_eq!(sources.len(), MAX_SOURCES_KEPT);
}

crate::both_databases!(
    reports_are_stored_once_listed_and_pruned,
    a_long_report_keeps_its_totals,
);
