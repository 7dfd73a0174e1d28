//! Groups of new addresses' signups: the one call (SQLite's direct writer,
//! PostgreSQL's single statement) and the transaction's fallback write the
//! same rows.

use gazette::store::Store;
use gazette::store::newsletters::NewNewsletter;
use gazette::store::signups::{NewIds, NewSignup, NewSignups};
use gazette::store::subscribers::{ClientMeta, ConsentSource};
use gazette::subscriptions::signup::CONFIRMATION;
use sqlx::Row;

use super::fresh_store;
use crate::helpers::Backend;

const NOW: i64 = 1_700_000_000_000;

fn signup(email: &str, name: Option<&str>, newsletters: &[i64]) -> NewSignup {
    NewSignup {
        email: email.to_string(),
        email_key: email.to_lowercase(),
        name: name.map(str::to_string),
        locale: "fr".to_string(),
        newsletters: newsletters.to_vec(),
        source: ConsentSource::Form,
        client: ClientMeta {
            ip: Some("192.0.2.7".to_string()),
            user_agent: None,
        },
        detail: "news,sport".to_string(),
        token_hash: format!("hash-of-{}", email.to_lowercase()),
        token_newsletters: "1,2".to_string(),
        mail_data: format!("{{\"to\":\"{email}\"}}"),
    }
}

/// Two newsletters (ids 1 and 2) and one address already known (id 1).
async fn prepared_store(backend: Backend) -> (crate::helpers::TestDb, Store) {
    let (db, store) = fresh_store(backend).await;
    for slug in ["news", "sport"] {
        let new = NewNewsletter {
            slug,
            name: slug,
            locale: "en",
        };
        store.newsletters().create(&new, 0).await.unwrap();
    }
    let mut tx = store.begin_write().await.unwrap();
    tx.subscribers()
        .upsert_pending("known@example.org", "known@example.org", None, "en")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (db, store)
}

/// Keys out of order, a known address, one address in two newsletters.
fn group() -> NewSignups {
    NewSignups {
        signups: vec![
            signup("Zoe@example.org", Some("Zoé"), &[1]),
            signup("known@example.org", None, &[1]),
            signup("amina@example.org", None, &[1, 2]),
            signup("bo@example.org", Some("Bo"), &[2]),
        ],
        now: NOW,
        tokens_expire_at: NOW + 1000,
        mail_kind: CONFIRMATION,
    }
}

/// Every row the signups wrote, as text, table by table.
async fn written(store: &Store) -> Vec<String> {
    let queries = [
        // the known address, untouched (its creation time is the test's)
        "SELECT id, name, locale, status, last_confirmation_sent_at FROM subscribers \
         WHERE email_key = 'known@example.org'",
        "SELECT id, email, email_key, name, locale, status, paused, created_at, \
         last_confirmation_sent_at FROM subscribers \
         WHERE email_key <> 'known@example.org' ORDER BY id",
        "SELECT subscriber_id, newsletter_id, status, created_at FROM subscriptions \
         ORDER BY subscriber_id, newsletter_id",
        "SELECT subscriber_id, kind, source, ip, user_agent, detail, at FROM consent_events \
         ORDER BY subscriber_id",
        "SELECT token_hash, subscriber_id, created_at, expires_at, newsletter_ids \
         FROM confirmation_tokens ORDER BY subscriber_id",
        "SELECT kind, subscriber_id, recipient, subject, template_data, status, attempts, \
         next_attempt_at FROM deliveries ORDER BY subscriber_id",
        "SELECT newsletter_id, CAST(SUM(signups) AS BIGINT) FROM daily_stats \
         GROUP BY newsletter_id ORDER BY newsletter_id",
    ];
    let mut lines = Vec::new();
    for sql in queries {
        for row in sqlx::query(sql).fetch_all(store.pool()).await.unwrap() {
            let cells: Vec<String> = (0..row.len())
                .map(|i| match row.try_get::<Option<i64>, _>(i) {
                    Ok(v) => format!("{v:?}"),
                    Err(_) => format!("{:?}", row.try_get::<Option<String>, _>(i).unwrap()),
                })
                .collect();
            lines.push(cells.join("|"));
        }
        lines.push("--".to_string());
    }
    lines
}

fn sorted(ids: &NewIds) -> Vec<(String, i64)> {
    let mut ids: Vec<(String, i64)> = ids.clone().into_iter().collect();
    ids.sort();
    ids
}

async fn one_call_and_transaction_write_the_same_rows(backend: Backend) {
    let (_db1, one_call) = prepared_store(backend).await;
    let ((), ids) = one_call
        .write_new_signups(|all| {
            let slugs: Vec<&str> = all.iter().map(|n| n.slug.as_str()).collect();
            assert_eq!(slugs, ["news", "sport"], "prepare sees every newsletter");
            ((), group())
        })
        .await
        .unwrap();
    let (_db2, in_tx) = prepared_store(backend).await;
    let mut tx = in_tx.begin_write().await.unwrap();
    let tx_ids = tx.signups().write_new(group()).await.unwrap();
    tx.commit().await.unwrap();

    // new subscribers, inserted in the order of their keys; the known one
    // untouched
    let new = sorted(&ids);
    let keys: Vec<&str> = new.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        ["amina@example.org", "bo@example.org", "zoe@example.org"]
    );
    assert!(new.windows(2).all(|pair| pair[0].1 < pair[1].1), "{new:?}");
    assert_eq!(new, sorted(&tx_ids));
    let rows = written(&one_call).await;
    assert_eq!(rows, written(&in_tx).await);
    let tables: Vec<&[String]> = rows.split(|line| line == "--").collect();
    assert_eq!(
        tables[0],
        ["Some(1)|None|Some(\"en\")|Some(\"pending\")|None"],
        "{rows:#?}"
    );
    assert_eq!(tables[1].len(), 3, "{rows:#?}");
    assert_eq!(
        tables[2].len(),
        4,
        "amina twice, bo and zoe once: {rows:#?}"
    );
    assert_eq!(tables[3].len(), 3);
    assert!(
        tables[3][0].starts_with("Some(2)|Some(\"signup\")|Some(\"form\")|Some(\"192.0.2.7\")")
    );
    assert_eq!(tables[4].len(), 3);
    assert!(
        tables[5]
            .iter()
            .all(|line| line.starts_with("Some(\"confirmation\")"))
    );
    assert_eq!(tables[6], ["Some(1)|Some(2)", "Some(2)|Some(2)"]);
}

async fn an_empty_group_writes_nothing(backend: Backend) {
    let (_db, store) = prepared_store(backend).await;
    let before = written(&store).await;
    let (back, ids) = store
        .write_new_signups(|_| {
            (
                7,
                NewSignups {
                    signups: Vec::new(),
                    ..group()
                },
            )
        })
        .await
        .unwrap();
    assert_eq!((back, ids.len()), (7, 0));
    assert_eq!(written(&store).await, before);
}

crate::both_databases!(
    one_call_and_transaction_write_the_same_rows,
    an_empty_group_writes_nothing,
);
