//! Feeds polled from a loopback HTTP server serving tests/fixtures/feeds:
//! RSS, Atom and JSON Feed become stories; broken, huge and missing feeds
//! are recorded and skipped; ETags give 304s; a guid is one story.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::http_server::serve_http;
use gazette::feeds::{FeedFetcher, poll_feed_now};

impl TestApp {
    /// A fetcher with the app's feed settings, as the poller has.
    pub fn feed_fetcher(&self) -> FeedFetcher {
        FeedFetcher::new(&self.settings.feeds).unwrap()
    }

    async fn add_feed(&self, url: &str) -> gazette::feeds::Feed {
        gazette::feeds::add_feed(&self.store, &self.feed_fetcher(), url, None)
            .await
            .unwrap()
    }

    async fn poll_feed(&self, id: i64) -> gazette::feeds::PollReport {
        poll_feed_now(&self.store, &self.feed_fetcher(), id)
            .await
            .unwrap()
    }
}

/// One request as the fixture server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    if_none_match: Option<String>,
}

/// A tiny HTTP/1.1 server: `/NAME` serves tests/fixtures/feeds/NAME with
/// an ETag (and a 304 when it matches), `/huge` sends 6 MB, anything
/// missing is a 404.
struct FeedServer {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FeedServer {
    async fn start() -> FeedServer {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let base = serve_http(move |request, mut socket| {
            let log = log.clone();
            async move {
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let if_none_match = request.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("if-none-match")
                        .then(|| value.trim().to_string())
                });
                log.lock().unwrap().push(Seen {
                    path: path.clone(),
                    if_none_match: if_none_match.clone(),
                });
                let _ = respond(&mut socket, &path, if_none_match.as_deref()).await;
            }
        })
        .await;
        FeedServer { base, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path)
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == format!("/{path}"))
            .cloned()
            .collect()
    }
}

async fn respond(
    socket: &mut tokio::net::TcpStream,
    path: &str,
    if_none_match: Option<&str>,
) -> std::io::Result<()> {
    if let Some(to) = path.strip_prefix("/redirect?to=") {
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return socket.write_all(head.as_bytes()).await;
    }
    if path == "/huge" {
        // No Content-Length: the poller must stop reading at its cap.
        socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n")
            .await?;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..100 {
            socket.write_all(&chunk).await?;
        }
        return Ok(());
    }
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feeds")
        .join(path.trim_start_matches('/'));
    let Ok(body) = std::fs::read(&file) else {
        return socket
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    };
    let etag = format!("\"{}-{}\"", path.trim_start_matches('/'), body.len());
    if if_none_match == Some(etag.as_str()) {
        let head =
            format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n");
        return socket.write_all(head.as_bytes()).await;
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nETag: {etag}\r\n\
         Last-Modified: Mon, 04 Mar 2024 07:00:00 GMT\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(&body).await
}

async fn rss_atom_and_json_feeds_become_stories(backend: Backend) {
    let app = spawn_app(backend).await;
    let server = FeedServer::start().await;
    let editor = app.editor().await;
    let mut ids = Vec::new();
    for name in ["rss.xml", "atom.xml", "feed.json"] {
        let added = editor
            .post("/api/feeds", &json!({"url": server.url(name)}))
            .await;
        assert_eq!(added.status, 201, "{}", added.body);
        ids.push(added.body["id"].as_i64().unwrap());
    }
    let rss = app.poll_feed(ids[0]).await;
    assert_eq!((rss.created, rss.error.as_deref()), (2, None), "{rss:?}");
    let atom = app.poll_feed(ids[1]).await;
    assert_eq!(atom.created, 1, "{atom:?}");
    let json_feed = app.poll_feed(ids[2]).await;
    assert_eq!(json_feed.created, 1, "{json_feed:?}");

    let stories = editor.get("/api/stories").await.body["stories"].clone();
    let by_url = |url: &str| {
        stories
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["url"] == url)
            .cloned()
            .unwrap_or_else(|| panic!("{url} missing from {stories}"))
    };
    let spider = by_url("https://bugle.example.org/spider");
    assert_eq!(spider["external_id"], format!("feed:{}:bugle-1", ids[0]));
    assert_eq!(spider["summary"], "A masked figure & a web.");
    assert_eq!(spider["image_url"], "https://bugle.example.org/spider.jpg");
    assert_eq!(spider["author"], "Peter Parker");
    assert_eq!(spider["tags"], json!(["city"]));
    assert_eq!(spider["published_at"], "2024-03-04T07:00:00Z");
    let bridge = by_url("https://bugle.example.org/bridge");
    assert_eq!(bridge["image_url"], "https://bugle.example.org/bridge.png");
    let atoms = by_url("https://atom.example.org/atoms");
    assert_eq!(atoms["title"], "Atoms & molecules");
    assert_eq!(atoms["summary"], "Small things.");
    assert_eq!(atoms["author"], "Marie Curie");
    let first = by_url("https://json.example.org/first");
    assert_eq!(first["summary"], "Objects and arrays.");
    assert_eq!(first["image_url"], "https://json.example.org/first.webp");

    let feeds = editor.get("/api/feeds").await.body["feeds"].clone();
    assert_eq!(feeds[0]["title"], "The Daily Bugle");
    assert!(feeds[0]["last_error"].is_null());
    assert!(feeds[0]["last_polled_at"].is_string());
    app.stop().await;
}

async fn broken_huge_and_missing_feeds_are_recorded_and_skipped(backend: Backend) {
    let app = spawn_app(backend).await;
    let server = FeedServer::start().await;
    let editor = app.editor().await;
    let mut ids = Vec::new();
    for name in ["broken.xml", "huge", "missing.xml", "rss.xml"] {
        let added = editor
            .post("/api/feeds", &json!({"url": server.url(name)}))
            .await;
        ids.push(added.body["id"].as_i64().unwrap());
    }
    for id in &ids[..3] {
        let report = app.poll_feed(*id).await;
        assert!(report.error.is_some(), "feed {id}: {report:?}");
        assert_eq!(report.created, 0);
    }
    let good = app.poll_feed(ids[3]).await;
    assert_eq!(good.created, 2, "a bad feed stops nothing: {good:?}");
    let feeds = editor.get("/api/feeds").await.body["feeds"].clone();
    let error = |i: usize| feeds[i]["last_error"].as_str().unwrap_or("").to_string();
    assert!(error(0).contains("not a feed"), "{}", error(0));
    assert!(error(1).contains("larger than 5 MB"), "{}", error(1));
    assert!(error(2).contains("404"), "{}", error(2));
    assert!(feeds[3]["last_error"].is_null());
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 2);
    app.stop().await;
}

async fn second_poll_honours_the_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let server = FeedServer::start().await;
    let feed = app.add_feed(&server.url("rss.xml")).await;
    let first = app.poll_feed(feed.id).await;
    assert_eq!(first.created, 2);
    let second = app.poll_feed(feed.id).await;
    assert!(second.not_modified, "{second:?}");
    assert_eq!(second.created, 0);
    let seen = server.seen("rss.xml");
    assert_eq!(seen[0].if_none_match, None);
    let size = std::fs::metadata(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds/rss.xml"),
    )
    .unwrap()
    .len();
    assert_eq!(
        seen[1].if_none_match,
        Some(format!("\"rss.xml-{size}\"")),
        "the stored ETag is sent back"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 2);
    app.stop().await;
}

async fn a_guid_is_one_story_and_a_known_url_is_not_duplicated(backend: Backend) {
    let app = spawn_app(backend).await;
    let server = FeedServer::start().await;
    let rss = app.add_feed(&server.url("rss.xml")).await;
    app.poll_feed(rss.id).await;
    let echo = app.add_feed(&server.url("duplicates.xml")).await;
    let report = app.poll_feed(echo.id).await;
    assert_eq!(report.created, 1, "{report:?}");
    assert_eq!(
        report.duplicates, 1,
        "the spider story came from the RSS feed"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 3);
    let title: String =
        sqlx::query_scalar("SELECT title FROM stories WHERE url = 'https://echo.example.org/once'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert!(title.starts_with("Said once"), "{title}");
    app.stop().await;
}

/// Feeds may not reach inside: URLs naming loopback, link-local, private or
/// IPv4-mapped addresses, and names that resolve to them, are refused when
/// added (422, nothing stored), as the attacker tried.
async fn feeds_on_inside_addresses_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.feeds.allow_private_addresses = false).await;
    let editor = app.editor().await;
    for url in [
        "http://127.0.0.1:9/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:6379/",
        "http://10.0.0.1/feed.xml",
        "http://[::ffff:127.0.0.1]/feed.xml",
        "http://localhost:6379/",
    ] {
        let added = editor.post("/api/feeds", &json!({"url": url})).await;
        assert_eq!(added.status, 422, "{url}: {}", added.body);
        assert_eq!(added.body["error"]["code"], "invalid_input");
        let problem = added.body["error"]["fields"]["url"].as_str().unwrap_or("");
        assert!(problem.contains("not public"), "{url}: {problem}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM feeds").await, 0);
    app.stop().await;
}

/// A public feed that redirects inside is refused at the redirect, whether
/// the target names an address or a host that resolves inside; the inside
/// server is never asked. A failure to connect says so in a few words that
/// give away nothing about the port.
async fn redirects_inside_are_refused_and_errors_tell_no_ports(backend: Backend) {
    let server = FeedServer::start().await;
    let port = server.base.rsplit(':').next().unwrap().to_string();
    // feeds.test stands for a public host; it is served on loopback.
    let app = spawn_app_with(backend, |s| {
        s.feeds.allow_private_addresses = false;
        s.feeds
            .test_resolve
            .insert("feeds.test".into(), "127.0.0.1".parse().unwrap());
    })
    .await;
    let editor = app.editor().await;
    let add = |url: String| {
        let editor = &editor;
        async move {
            let added = editor.post("/api/feeds", &json!({"url": url})).await;
            assert_eq!(added.status, 201, "{url}: {}", added.body);
            added.body["id"].as_i64().unwrap()
        }
    };
    let direct = add(format!("http://feeds.test:{port}/rss.xml")).await;
    let report = app.poll_feed(direct).await;
    assert_eq!(report.created, 2, "the public feed works: {report:?}");
    for target in [
        format!("http://127.0.0.1:{port}/atom.xml"),
        format!("http://localhost:{port}/atom.xml"),
    ] {
        let id = add(format!("http://feeds.test:{port}/redirect?to={target}")).await;
        let report = app.poll_feed(id).await;
        let error = report.error.unwrap_or_default();
        assert!(error.contains("not public"), "{target}: {error}");
    }
    assert!(
        server.seen("atom.xml").is_empty(),
        "the inside server was asked"
    );
    // A closed port and an open one that is no web server fail alike.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let id = add(format!("http://feeds.test:{closed_port}/feed.xml")).await;
    let error = app.poll_feed(id).await.error.unwrap_or_default();
    assert_eq!(error, "cannot connect to the feed's server");
    app.stop().await;
}

crate::both_databases!(
    feeds_on_inside_addresses_are_refused,
    redirects_inside_are_refused_and_errors_tell_no_ports,
    rss_atom_and_json_feeds_become_stories,
    broken_huge_and_missing_feeds_are_recorded_and_skipped,
    second_poll_honours_the_etag,
    a_guid_is_one_story_and_a_known_url_is_not_duplicated,
);
