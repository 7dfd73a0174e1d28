//! The admin's reads built for a million subscribers. The address search:
//! the scanned window, the trigram index behind it and the pages a short
//! fragment walks give the same rows, in the same order, as a plain
//! "address contains" over every subscriber, with `%`, `_` and `\` literal
//! and case ignored. The growth chart: read from its daily counter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::store::subscribers::SubscriberStatus;
use gazette::store::subscribers::search::{SCAN_WINDOW, SubscriberFilter};
use gazette::users::Role;
use reqwest::StatusCode;

use crate::admin::PASSWORD;
use crate::helpers::{Backend, TestApp, spawn_app};

/// Addresses chosen to trip a search: wildcards and a backslash typed
/// literally, upper case, non-ASCII, and some far past the scanned window
/// (explicit ids), where only the trigram index or the next pages reach.
const ADDRESSES: &[(i64, &str, &str)] = &[
    (1, "a%b@example.net", "active"),
    (2, "a_b@example.net", "active"),
    (3, "axb@example.net", "pending"),
    (4, r"back\slash@example.net", "active"),
    (5, "Mixed.Case@Example.NET", "bounced"),
    (6, "ümlaut@example.net", "active"),
    (7, "reader@example.org", "unsubscribed"),
    (SCAN_WINDOW - 1, "edge.before@example.org", "active"),
    (SCAN_WINDOW, "edge.at@example.org", "active"),
    (SCAN_WINDOW + 1, "edge.after@example.org", "pending"),
    (SCAN_WINDOW + 20_000, "rare.one@far.example", "active"),
    (3 * SCAN_WINDOW + 7, "zq@far.example", "active"),
    (3 * SCAN_WINDOW + 8, "A%B@far.example", "bounced"),
    // What `a_b@far` and `a%b@far` would match if `_` and `%` were wildcards.
    (3 * SCAN_WINDOW + 9, "axb@far.example", "active"),
    (3 * SCAN_WINDOW + 10, "a-long-b@far.example", "active"),
];

const FRAGMENTS: &[&str] = &[
    "",
    "%",
    "_",
    "a%b",
    "a_b",
    r"\",
    r"k\s",
    "MIXED",
    "x",
    "zq",
    "ex",
    "example",
    "üml",
    "ÜMLAUT",
    "r@e",
    "rare.one",
    "edge.",
    "nobody-has-this",
    "@far.example",
    "a%",
    "a_b@far",
    "a%b@far",
    "A%B@FAR",
];

async fn add(app: &TestApp, id: i64, email: &str, status: &str, newsletter_id: i64) {
    sqlx::query(
        "INSERT INTO subscribers (id, email, email_key, status, paused, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, 0, 0)",
    )
    .bind(id)
    .bind(email)
    .bind(email.to_lowercase())
    .bind(status)
    .execute(app.store.pool())
    .await
    .unwrap();
    let subscription = if status == "pending" {
        "pending"
    } else {
        "active"
    };
    if status != "unsubscribed" {
        sqlx::query(
            "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, 0)",
        )
        .bind(id)
        .bind(newsletter_id)
        .bind(subscription)
        .execute(app.store.pool())
        .await
        .unwrap();
    }
}

/// Every id the search gives, page after page of `limit`.
async fn search_all(app: &TestApp, filter: &SubscriberFilter, limit: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after = 0;
    for _ in 0..1000 {
        let page = app
            .store
            .search_subscribers(filter, after, limit)
            .await
            .unwrap();
        assert!(page.lines.len() as i64 <= limit);
        ids.extend(page.lines.iter().map(|line| line.id));
        match page.next_after {
            Some(next) => {
                assert!(next > after, "pages move forward");
                after = next;
            }
            None => return ids,
        }
    }
    panic!("more than 1000 pages");
}

/// What "address contains" means, computed without the database's help.
fn expected(filter: &SubscriberFilter, newsletter_members: &[i64]) -> Vec<i64> {
    let fragment = filter.search.trim().to_lowercase();
    let mut ids: Vec<i64> = ADDRESSES
        .iter()
        .filter(|(_, email, _)| email.to_lowercase().contains(&fragment))
        .filter(|(_, _, status)| filter.status.is_none_or(|s| s.as_str() == *status))
        .filter(|(id, _, _)| filter.newsletter_id.is_none() || newsletter_members.contains(id))
        .map(|(id, _, _)| *id)
        .collect();
    ids.sort_unstable();
    ids
}

async fn address_search_gives_the_rows_of_a_plain_contains(backend: Backend) {
    let app = spawn_app(backend).await;
    let newsletter = app.store.newsletters().all().await.unwrap().remove(0);
    for (id, email, status) in ADDRESSES {
        add(&app, *id, email, status, newsletter.id).await;
    }
    let members: Vec<i64> = ADDRESSES
        .iter()
        .filter(|(_, _, status)| *status != "unsubscribed")
        .map(|(id, _, _)| *id)
        .collect();
    // Before SQLite's index has the rows (the background task may have
    // taken some of them), then once it has them all.
    for indexed in [false, true] {
        if indexed {
            while app.store.index_new_addresses(4).await.unwrap() > 0 {}
        }
        for fragment in FRAGMENTS {
            for status in [
                None,
                Some(SubscriberStatus::Active),
                Some(SubscriberStatus::Bounced),
            ] {
                for newsletter_id in [None, Some(newsletter.id)] {
                    let filter = SubscriberFilter {
                        search: fragment.to_string(),
                        status,
                        newsletter_id,
                    };
                    let want = expected(&filter, &members);
                    for limit in [1, 2, 50] {
                        assert_eq!(
                            search_all(&app, &filter, limit).await,
                            want,
                            "{filter:?}, pages of {limit}, indexed: {indexed}"
                        );
                    }
                }
            }
        }
    }
}

async fn rare_fragment_is_on_the_first_page_and_short_ones_page_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let newsletter = app.store.newsletters().all().await.unwrap().remove(0);
    for (id, email, status) in ADDRESSES {
        add(&app, *id, email, status, newsletter.id).await;
    }
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;

    // Past the scanned window, found through the trigram index at once.
    let rare = app.get("/admin/subscribers?q=RARE.one").await;
    assert_eq!(rare.status(), StatusCode::OK);
    let rare = rare.text().await.unwrap();
    assert!(rare.contains("rare.one@far.example"), "{rare}");
    assert!(!rare.contains("rel=\"next\""));

    // Two characters have no trigram: the first pages say where the next
    // one starts, and the address comes on the page of its window.
    let mut url = "/admin/subscribers?q=zq".to_string();
    let mut pages = 0;
    let found = loop {
        pages += 1;
        let page = app.get(&url).await.text().await.unwrap();
        if page.contains("zq@far.example") {
            break page;
        }
        assert!(page.contains("searched"), "the short page says why: {page}");
        let next = page.split("rel=\"next\"").next().unwrap();
        let next = &next[next.rfind("href=\"").unwrap() + 6..];
        url = next[..next.find('"').unwrap()].replace("&amp;", "&");
        assert!(pages < 10, "{url}");
    };
    assert_eq!(pages, 4, "windows of {SCAN_WINDOW} ids");
    assert!(!found.contains("rel=\"next\""), "nothing after the last id");

    // The export walks every window.
    let csv = app
        .get("/admin/subscribers.csv?q=zq")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("zq@far.example"));

    // A fragment common in the window but filtered down to nobody by the
    // status pages on by windows instead of walking its every match.
    let values: Vec<String> = (0..600)
        .map(|i| {
            format!(
                "({}, 'common{i}@example.com', 'common{i}@example.com', 'active', 0, 0, 0)",
                100 + i
            )
        })
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO subscribers (id, email, email_key, status, paused, created_at, updated_at) VALUES {}",
        values.join(", ")
    )))
    .execute(app.store.pool())
    .await
    .unwrap();
    let bounced = app
        .get("/admin/subscribers?q=common&status=bounced")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        bounced.contains(&format!("after={SCAN_WINDOW}\"")),
        "{bounced}"
    );
    let csv = app
        .get("/admin/subscribers.csv?q=COMMON&status=active")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 601);

    // The index follows the table: an erased address is no longer found,
    // a new one is.
    let id = SCAN_WINDOW + 20_000;
    let (_, erased) = app.subscriber_action(id, "erase").await;
    assert_eq!(erased.status(), StatusCode::SEE_OTHER);
    let gone = app
        .get("/admin/subscribers?q=rare.one")
        .await
        .text()
        .await
        .unwrap();
    assert!(!gone.contains("rare.one@far.example"));
    add(
        &app,
        5 * SCAN_WINDOW,
        "rare.two@far.example",
        "active",
        newsletter.id,
    )
    .await;
    let new = app
        .get("/admin/subscribers?q=rare.two")
        .await
        .text()
        .await
        .unwrap();
    assert!(new.contains("rare.two@far.example"));
}

/// The dashboard's chart reads the daily counter, which follows inserts
/// and erasures and leaves out days older than 90.
async fn growth_chart_counts_new_subscribers_of_90_days(backend: Backend) {
    let app = spawn_app(backend).await;
    let newsletter = app.store.newsletters().all().await.unwrap().remove(0);
    let mut today = Vec::new();
    for n in 0..3 {
        today.push(
            crate::editor::subscriber(
                &app,
                &format!("today{n}@example.net"),
                "active",
                false,
                "active",
                newsletter.id,
            )
            .await,
        );
    }
    let day = 86_400_000;
    let now = chrono::Utc::now().timestamp_millis();
    for (id, age_days) in [(1000, 10), (1001, 100)] {
        sqlx::query(
            "INSERT INTO subscribers (id, email, email_key, status, paused, created_at, updated_at) \
             VALUES ($1, $2, $2, 'active', 0, $3, $3)",
        )
        .bind(id)
        .bind(format!("old{id}@example.net"))
        .bind(now - age_days * day)
        .execute(app.store.pool())
        .await
        .unwrap();
    }
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let dashboard = app.get("/admin").await.text().await.unwrap();
    assert!(
        dashboard.contains("aria-label=\"4 new subscribers in 90 days\""),
        "three today, one ten days ago: {dashboard}"
    );
    assert!(dashboard.contains("<title>3</title>"), "today's bar");

    let detail = app
        .get(&format!("/admin/subscribers/{}", today[0]))
        .await
        .text()
        .await
        .unwrap();
    let csrf = crate::admin::csrf_of(&detail);
    app.admin_post(
        &format!("/admin/subscribers/{}/erase", today[0]),
        &[("csrf", &csrf)],
    )
    .await;
    let dashboard = app.get("/admin").await.text().await.unwrap();
    assert!(
        dashboard.contains("aria-label=\"3 new subscribers in 90 days\""),
        "the erased one left the chart: {dashboard}"
    );
}

crate::both_databases!(
    address_search_gives_the_rows_of_a_plain_contains,
    rare_fragment_is_on_the_first_page_and_short_ones_page_on,
    growth_chart_counts_new_subscribers_of_90_days,
);

mod sqlite_only {
    use gazette::store::ADDRESS_INDEX_BATCH as BATCH;

    use crate::helpers::{Backend, spawn_app};

    /// SQLite's address index takes new subscribers in batches, so a row
    /// may be deleted or change its address before or after it is
    /// indexed: the index must stay exactly the subscribers it was given,
    /// as FTS5's own check says once it has them all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_address_index_stays_whole_through_deletes_and_changes() {
        let app = spawn_app(Backend::Sqlite).await;
        let pool = app.store.pool();
        let add = |n: i64| {
            sqlx::query(
                "INSERT INTO subscribers (email, email_key, status, paused, created_at, \
                 updated_at) VALUES ($1, $1, 'active', 0, 0, 0)",
            )
            .bind(format!("reader{n}@example.org"))
            .execute(pool)
        };
        let change = |from: &str, to: &str| {
            sqlx::query("UPDATE subscribers SET email_key = $2 WHERE email_key = $1")
                .bind(from.to_string())
                .bind(to.to_string())
                .execute(pool)
        };
        let delete = |key: &str| {
            sqlx::query("DELETE FROM subscribers WHERE email_key = $1")
                .bind(key.to_string())
                .execute(pool)
        };
        for n in 0..10 {
            add(n).await.unwrap();
        }
        while app.store.index_new_addresses(3).await.unwrap() > 0 {}
        // indexed rows
        delete("reader1@example.org").await.unwrap();
        change("reader2@example.org", "changed2@example.org")
            .await
            .unwrap();
        // rows not indexed yet
        for n in 10..14 {
            add(n).await.unwrap();
        }
        delete("reader11@example.org").await.unwrap();
        change("reader12@example.org", "changed12@example.org")
            .await
            .unwrap();
        while app.store.index_new_addresses(BATCH).await.unwrap() > 0 {}

        sqlx::query(
            // rank 1: checked against the subscribers too, not only itself
            "INSERT INTO subscriber_address_trigrams (subscriber_address_trigrams, rank) \
             VALUES ('integrity-check', 1)",
        )
        .execute(pool)
        .await
        .expect("FTS5 finds the index and the subscribers in step");
        let found: Vec<i64> = sqlx::query_scalar(
            "SELECT rowid FROM subscriber_address_trigrams WHERE email_key LIKE '%changed%' \
             ORDER BY rowid",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(
            found,
            vec![3, 13],
            "the changed addresses, by the index alone"
        );
        let indexed_up_to: i64 =
            sqlx::query_scalar("SELECT indexed_up_to FROM address_index_state")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(indexed_up_to, 14);
    }
}

mod postgres_only {
    use crate::helpers::{Backend, skip_postgres, spawn_app};

    /// Migrations 0009 and 0012 rewrote `address_trigrams` in PL/pgSQL; the index
    /// built by the old SQL function stays valid only if both give the same
    /// set of trigrams for every address.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn address_trigrams_give_the_set_of_the_old_sql_function() {
        if skip_postgres() {
            return;
        }
        let app = spawn_app(Backend::Postgres).await;
        for address in [
            "",
            "ab",
            "abc",
            "aaaa@aaaa.aa",
            "ann.lee@example.org",
            "zoë@exämple.org",
            "a_b%c\\d@x.io",
        ] {
            let same: bool = sqlx::query_scalar(
                // Sets, not arrays: since 0012 the function keeps repeats
                // (GIN indexes each distinct key once and `@>` compares sets).
                "SELECT address_trigrams($1) @> old AND old @> address_trigrams($1) \
                   AND cardinality(address_trigrams($1)) = greatest(length($1) - 2, 0) \
                 FROM (SELECT COALESCE(array_agg(DISTINCT substr($1, i, 3)), '{}') AS old \
                       FROM generate_series(1, length($1) - 2) AS i) o",
            )
            .bind(address)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
            assert!(same, "{address:?}");
        }
        app.stop().await;
    }
}
