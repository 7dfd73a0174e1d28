//! Hostile input against every public and API endpoint, as a table: markup
//! and script, CRLF header injection, SQL metacharacters, 1 MB bodies
//! (announced and chunked), invalid UTF-8, deeply nested JSON, unknown
//! fields, wrong types, huge numbers, negative ids, `javascript:` URLs.
//! Each refused case must get a 4xx (a JSON error with its code under
//! `/api`, a page elsewhere), never echo the payload unescaped, and leave
//! every table as it was. The accepted cases (markup, emoji, IDN, SQL
//! quotes in names) must be stored as given, normalised where the contract
//! says so, and come out escaped in the pages and emails that show them.
//! docs/hostile-input.md lists the same catalogue in prose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::editor::Editor;
use crate::helpers::{Backend, TestApp, spawn_app_with};

const SCRIPT: &str = "<script>alert(1)</script>";
const TABLES: [&str; 15] = [
    "app_secrets",
    "newsletters",
    "subscribers",
    "subscriptions",
    "confirmation_tokens",
    "consent_events",
    "erased_addresses",
    "feeds",
    "stories",
    "issues",
    "issue_stories",
    "deliveries",
    "users",
    "api_tokens",
    "daily_stats",
];

/// What a refused request must get.
#[derive(Debug, Clone, Copy)]
enum Refused {
    /// A JSON error with this status and stable code.
    Api(u16, &'static str),
    /// A page (HTML) with this status.
    Page(u16),
}

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    token: bool,
    expect: Refused,
}

fn case(what: &'static str, method: &'static str, path: impl Into<String>) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        content_type: None,
        body: Vec::new(),
        token: false,
        expect: Refused::Page(404),
    }
}

impl Case {
    fn json(mut self, body: Value) -> Case {
        self.content_type = Some("application/json");
        self.body = body.to_string().into_bytes();
        self
    }
    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Case {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }
    fn form(self, pairs: &[(&str, &str)]) -> Case {
        let encoded = serde_urlencoded::to_string(pairs).unwrap();
        self.raw("application/x-www-form-urlencoded", encoded)
    }
    fn editor(mut self) -> Case {
        self.token = true;
        self
    }
    fn api(mut self, status: u16, code: &'static str) -> Case {
        self.expect = Refused::Api(status, code);
        self
    }
    fn page(mut self, status: u16) -> Case {
        self.expect = Refused::Page(status);
        self
    }
}

/// `[[[[…]]]]` nested `depth` deep: far past serde_json's recursion limit.
fn nested(depth: usize) -> Vec<u8> {
    let mut body = "[".repeat(depth).into_bytes();
    body.extend("]".repeat(depth).into_bytes());
    body
}

fn megabyte_json() -> Vec<u8> {
    json!({"email": "big@example.org", "name": "x".repeat(1024 * 1024)})
        .to_string()
        .into_bytes()
}

/// Every refused case, by endpoint. `ids` are of real rows, so the cases
/// reach the handlers' own checks, not just "not found".
fn catalogue(issue: i64, feed: i64) -> Vec<Case> {
    let huge = "99999999999999999999";
    let crlf_bcc = "Ann\r\nBcc: victim@example.org";
    let invalid_utf8: &[u8] = b"{\"email\": \"\xff\xfe@example.org\"}";
    vec![
        // POST /api/subscriptions
        case("1 MB body", "POST", "/api/subscriptions")
            .raw("application/json", megabyte_json())
            .api(413, "payload_too_large"),
        case("invalid UTF-8", "POST", "/api/subscriptions")
            .raw("application/json", invalid_utf8)
            .api(400, "malformed_json"),
        case("JSON nested 30,000 deep", "POST", "/api/subscriptions")
            .raw("application/json", nested(30_000))
            .api(400, "malformed_json"),
        case("not JSON at all", "POST", "/api/subscriptions")
            .raw("application/json", "email=a@example.org")
            .api(400, "malformed_json"),
        case("form instead of JSON", "POST", "/api/subscriptions")
            .form(&[("email", "a@example.org")])
            .api(415, "unsupported_media_type"),
        case("CRLF in the name", "POST", "/api/subscriptions")
            .json(json!({"email": "ann@example.org", "name": crlf_bcc}))
            .api(422, "invalid_input"),
        case("CRLF in the address", "POST", "/api/subscriptions")
            .json(json!({"email": "ann@example.org\r\nBcc: victim@example.org"}))
            .api(422, "invalid_input"),
        case("SQL in the address", "POST", "/api/subscriptions")
            .json(json!({"email": "x'; DROP TABLE subscribers; --@example.org"}))
            .api(422, "invalid_input"),
        case("script as the address", "POST", "/api/subscriptions")
            .json(json!({"email": format!("{SCRIPT}@example.org")}))
            .api(422, "invalid_input"),
        case("unknown field", "POST", "/api/subscriptions")
            .json(json!({"email": "ann@example.org", "admin": true}))
            .api(422, "invalid_input"),
        case("wrong type", "POST", "/api/subscriptions")
            .json(json!({"email": ["ann@example.org"]}))
            .api(422, "invalid_input"),
        case("huge number", "POST", "/api/subscriptions")
            .raw("application/json", "{\"email\": 1e999}")
            .api(400, "malformed_json"),
        case("script as a newsletter slug", "POST", "/api/subscriptions")
            .json(json!({"email": "ann@example.org", "newsletters": [SCRIPT]}))
            .api(422, "invalid_input"),
        // POST /api/stories
        case("javascript: story URL", "POST", "/api/stories")
            .editor()
            .json(json!({"url": "javascript:alert(1)", "title": "t"}))
            .api(422, "invalid_input"),
        case("JaVaScRiPt: story URL", "POST", "/api/stories")
            .editor()
            .json(json!({"url": " JaVaScRiPt:alert(1)//https://x.org", "title": "t"}))
            .api(422, "invalid_input"),
        case("data: image URL", "POST", "/api/stories")
            .editor()
            .json(json!({"url": "https://news.example.org/i", "title": "t",
                         "image_url": "data:text/html,<script>alert(1)</script>"}))
            .api(422, "invalid_input"),
        case("NUL in a story title", "POST", "/api/stories")
            .editor()
            .json(json!({"url": "https://news.example.org/c", "title": "a\u{0}b"}))
            .api(422, "invalid_input"),
        case("story without token", "POST", "/api/stories")
            .json(json!({"url": "https://news.example.org/n", "title": "t"}))
            .api(401, "unauthorized"),
        case("story with a forged token", "POST", "/api/stories")
            .json(json!({"url": "https://news.example.org/n", "title": "t"}))
            .api(401, "unauthorized"),
        case("1 MB story", "POST", "/api/stories")
            .editor()
            .raw("application/json", megabyte_json())
            .api(413, "payload_too_large"),
        case("story: unknown field", "POST", "/api/stories")
            .editor()
            .json(json!({"url": "https://news.example.org/u", "title": "t", "id": 1}))
            .api(422, "invalid_input"),
        case("story: wrong type", "POST", "/api/stories")
            .editor()
            .json(json!({"url": "https://news.example.org/w", "title": 7}))
            .api(422, "invalid_input"),
        // serde_json stops at its recursion limit (128), long before the
        // stack is in danger.
        case("story: nested JSON", "POST", "/api/stories")
            .editor()
            .raw("application/json", nested(30_000))
            .api(400, "malformed_json"),
        // serde reads a struct from an array too, field by field: found by
        // the fuzzer (`[]` built an issue); every body must be an object.
        case("story as an array", "POST", "/api/stories")
            .editor()
            .json(json!(["https://news.example.org/array", "Title"]))
            .api(422, "invalid_input"),
        case(
            "build with an array body",
            "POST",
            "/api/newsletters/news/issues",
        )
        .editor()
        .json(json!([true]))
        .api(422, "invalid_input"),
        case(
            "newsletter update as an array",
            "PUT",
            "/api/newsletters/news",
        )
        .editor()
        .json(json!(["news", "Renamed"]))
        .api(422, "invalid_input"),
        case(
            "draft edit as an array",
            "PUT",
            format!("/api/issues/{issue}"),
        )
        .editor()
        .json(json!(["New subject"]))
        .api(422, "invalid_input"),
        case("feed as an array", "POST", "/api/feeds")
            .editor()
            .json(json!(["https://x.example.org/f"]))
            .api(422, "invalid_input"),
        case(
            "stories: huge limit",
            "GET",
            format!("/api/stories?limit={huge}"),
        )
        .editor()
        .api(422, "invalid_input"),
        case("stories: negative limit", "GET", "/api/stories?limit=-1")
            .editor()
            .api(422, "invalid_input"),
        case(
            "stories: script as since",
            "GET",
            "/api/stories?since=%3Cscript%3E",
        )
        .editor()
        .api(422, "invalid_input"),
        // /api/newsletters
        case("CRLF in a newsletter name", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "crlf", "name": crlf_bcc}))
            .api(422, "invalid_input"),
        case("CRLF in a sender name", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "crlf", "name": "N", "sender_name": crlf_bcc}))
            .api(422, "invalid_input"),
        case("CRLF in reply_to", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "crlf", "name": "N",
                         "reply_to": "a@example.org\r\nBcc: victim@example.org"}))
            .api(422, "invalid_input"),
        case("path in a slug", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "../../etc", "name": "N"}))
            .api(422, "invalid_input"),
        case("huge max_stories", "POST", "/api/newsletters")
            .editor()
            .raw(
                "application/json",
                format!("{{\"slug\": \"big\", \"name\": \"N\", \"max_stories\": {huge}}}"),
            )
            .api(422, "invalid_input"),
        case("negative max_stories", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "neg", "name": "N", "max_stories": -5}))
            .api(422, "invalid_input"),
        case("script in a timezone", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "tz", "name": "N", "timezone": SCRIPT}))
            .api(422, "invalid_input"),
        case("bad cron", "POST", "/api/newsletters")
            .editor()
            .json(json!({"slug": "cron", "name": "N", "schedule": "* * * * * * * *"}))
            .api(422, "invalid_input"),
        case("newsletter: wrong type", "PUT", "/api/newsletters/news")
            .editor()
            .json(json!({"paused": "yes"}))
            .api(422, "invalid_input"),
        case(
            "newsletter: script as slug",
            "GET",
            "/api/newsletters/%3Cscript%3E",
        )
        .editor()
        .api(404, "not_found"),
        case(
            "build: body not JSON",
            "POST",
            "/api/newsletters/news/issues",
        )
        .editor()
        .raw("application/json", "{send")
        .api(400, "malformed_json"),
        // /api/issues
        case("negative issue id", "GET", "/api/issues/-1")
            .editor()
            .api(404, "not_found"),
        case("huge issue id", "GET", format!("/api/issues/{huge}"))
            .editor()
            .api(404, "not_found"),
        case("text issue id", "GET", "/api/issues/1%20OR%201=1")
            .editor()
            .api(404, "not_found"),
        case(
            "CRLF in a test address",
            "POST",
            format!("/api/issues/{issue}/test"),
        )
        .editor()
        .json(json!({"email": "ed@example.org\r\nBcc: victim@example.org"}))
        .api(422, "invalid_input"),
        case(
            "control character in a subject",
            "PUT",
            format!("/api/issues/{issue}"),
        )
        .editor()
        .json(json!({"subject": "Hello\u{7}"}))
        .api(422, "invalid_input"),
        case(
            "story ids of the wrong type",
            "PUT",
            format!("/api/issues/{issue}"),
        )
        .editor()
        .json(json!({"story_ids": ["1; DROP TABLE stories"]}))
        .api(422, "invalid_input"),
        case("send a negative issue", "POST", "/api/issues/-1/send")
            .editor()
            .api(404, "not_found"),
        case(
            "cancel an issue past i64",
            "POST",
            format!("/api/issues/{huge}/cancel"),
        )
        .editor()
        .api(404, "not_found"),
        case("newsletters with a forged token", "GET", "/api/newsletters").api(401, "unauthorized"),
        case("feeds with a forged token", "GET", "/api/feeds").api(401, "unauthorized"),
        case("description with a 1 MB body", "GET", "/api/openapi.json")
            .raw("application/json", megabyte_json())
            .api(413, "payload_too_large"),
        case(
            "script as preview format",
            "GET",
            format!("/api/issues/{issue}/preview?format=%3Cscript%3E"),
        )
        .editor()
        .api(422, "invalid_input"),
        // /api/feeds
        case("javascript: feed URL", "POST", "/api/feeds")
            .editor()
            .json(json!({"url": "javascript:alert(1)"}))
            .api(422, "invalid_input"),
        case("huge poll interval", "POST", "/api/feeds")
            .editor()
            .raw(
                "application/json",
                format!("{{\"url\": \"https://x.example.org/f\", \"poll_interval_secs\": {huge}}}"),
            )
            .api(422, "invalid_input"),
        case("negative feed id", "POST", "/api/feeds/-1/poll")
            .editor()
            .api(404, "not_found"),
        case(
            "feed id past i64",
            "POST",
            format!("/api/feeds/{huge}/poll"),
        )
        .editor()
        .api(404, "not_found"),
        case("feed: unknown field", "POST", "/api/feeds")
            .editor()
            .json(json!({"url": "https://x.example.org/f", "id": feed}))
            .api(422, "invalid_input"),
        // Public pages
        case("form: 1 MB", "POST", "/subscribe")
            .form(&[
                ("email", "a@example.org"),
                ("name", &"x".repeat(1024 * 1024)),
            ])
            .page(413),
        case("form: CRLF in the name", "POST", "/subscribe")
            .form(&[("email", "ann@example.org"), ("name", crlf_bcc)])
            .page(422),
        case("form: SQL as the address", "POST", "/subscribe")
            .form(&[("email", "x' OR '1'='1")])
            .page(422),
        case("form: script as the address", "POST", "/subscribe")
            .form(&[("email", SCRIPT)])
            .page(422),
        case("form: invalid UTF-8", "POST", "/subscribe")
            .raw(
                "application/x-www-form-urlencoded",
                b"email=%FF%FE%40example.org".to_vec(),
            )
            .page(422),
        case("form: raw invalid UTF-8", "POST", "/subscribe")
            .raw(
                "application/x-www-form-urlencoded",
                b"email=\xff\xfe@example.org".to_vec(),
            )
            .page(422),
        case("form: JSON instead of a form", "POST", "/subscribe")
            .json(json!({"email": "ann@example.org"}))
            .page(422),
        case("form: script as newsletter", "POST", "/subscribe")
            .form(&[("email", "ann@example.org"), ("newsletter", SCRIPT)])
            .page(422),
        case("confirm: script token", "POST", "/confirm")
            .form(&[("token", SCRIPT)])
            .page(404),
        case("confirm: SQL token", "POST", "/confirm")
            .form(&[("token", "' OR 1=1 --")])
            .page(404),
        case(
            "unsubscribe: forged token",
            "POST",
            "/unsubscribe?token=%27%20OR%201%3D1%20--",
        )
        .raw(
            "application/x-www-form-urlencoded",
            "List-Unsubscribe=One-Click",
        )
        .page(400),
        case(
            "preferences: delete with a forged token",
            "POST",
            "/preferences/delete",
        )
        .form(&[("token", SCRIPT)])
        .page(400),
        case(
            "preferences: pause with a forged token",
            "POST",
            "/preferences/pause",
        )
        .form(&[("token", "1")])
        .page(400),
        case(
            "preferences: resume with a forged token",
            "POST",
            "/preferences/resume",
        )
        .form(&[("token", "' OR 1=1 --")])
        .page(400),
        case(
            "preferences: save with a forged token",
            "POST",
            "/preferences",
        )
        .form(&[("token", "x"), ("newsletter", "news")])
        .page(400),
        case(
            "subscribe page: script as newsletter",
            "GET",
            "/subscribe?newsletter=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .page(200),
        case(
            "embed: script as newsletter",
            "GET",
            "/embed?newsletter=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .page(200),
        case(
            "confirm page: script token",
            "GET",
            "/confirm?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .page(404),
        case(
            "confirm page: invalid UTF-8 token",
            "GET",
            "/confirm?token=%FF%FE",
        )
        .page(404),
        case(
            "unsubscribe page: script token",
            "GET",
            "/unsubscribe?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .page(400),
        case(
            "preferences page: script token",
            "GET",
            "/preferences?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .page(400),
        case(
            "preferences export: SQL token",
            "GET",
            "/preferences/export?token=%27%20OR%201%3D1%20--",
        )
        .page(400),
        case(
            "archive: script as slug",
            "GET",
            "/archive/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        ),
        case("archive: negative issue", "GET", "/archive/news/-1"),
        case(
            "archive: huge issue",
            "GET",
            format!("/archive/news/{huge}"),
        ),
        case("archive: invalid UTF-8 slug", "GET", "/archive/%FF%FE"),
    ]
}

async fn count_all(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push((table, app.count_rows(table).await));
    }
    counts
}

async fn send_case(app: &TestApp, editor: &Editor<'_>, case: &Case) -> (u16, String, String) {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(&case.path));
    if case.token {
        request = request.bearer_auth(&editor.token);
    } else if case.what.contains("forged") && case.path.starts_with("/api/") {
        request = request.bearer_auth("' OR '1'='1");
    }
    if let Some(content_type) = case.content_type {
        request = request
            .header("content-type", content_type)
            .body(case.body.clone());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Sends a body with `Transfer-Encoding: chunked` (no length announced, so
/// only the extractors' limits can stop it); returns the status.
async fn send_chunked(app: &TestApp, path: &str, content_type: &str, body: &[u8]) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(16 * 1024) {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(chunk).await?;
            stream.write_all(b"\r\n").await
        };
        // The server may answer and close before the whole body is sent.
        if sent.await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer}"))
}

async fn every_hostile_request_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.signup_per_ip_per_minute = 100_000;
        s.server.signup_ip_burst = 100_000;
    })
    .await;
    let editor = app.editor().await;
    editor.story("a", "A story", 5, &[]).await;
    let issue = editor
        .post("/api/newsletters/news/issues", &json!({}))
        .await;
    assert_eq!(issue.status, 201, "{}", issue.body);
    let feed = editor
        .post(
            "/api/feeds",
            &json!({"url": "https://feeds.example.org/rss"}),
        )
        .await;
    let before = count_all(&app).await;
    let mut failures = Vec::new();
    let cases = catalogue(
        issue.body["id"].as_i64().unwrap(),
        feed.body["id"].as_i64().unwrap(),
    );
    for case in &cases {
        let (status, content_type, body) = send_case(&app, &editor, case).await;
        let problem = match case.expect {
            Refused::Api(want, code) => {
                let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                (status != want || parsed["error"]["code"] != code)
                    .then(|| format!("wanted {want} {code}, got {status} {body:.300}"))
            }
            Refused::Page(want) => (status != want || !content_type.starts_with("text/html"))
                .then(|| format!("wanted a {want} page, got {status} {content_type} {body:.300}")),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "{} {} ({}): {problem}",
                case.method, case.path, case.what
            ));
        }
        // JSON may quote the input back (JSON-escaped, served as JSON, which
        // no browser renders); HTML must escape it.
        if !content_type.starts_with("application/json") && body.contains("<script>alert") {
            failures.push(format!(
                "{} ({}): payload echoed unescaped",
                case.path, case.what
            ));
        }
    }
    for (path, content_type) in [
        ("/api/subscriptions", "application/json"),
        ("/subscribe", "application/x-www-form-urlencoded"),
    ] {
        let body = if content_type == "application/json" {
            megabyte_json()
        } else {
            format!("email=a%40example.org&name={}", "x".repeat(1024 * 1024)).into_bytes()
        };
        let status = send_chunked(&app, path, content_type, &body).await;
        if status != 413 {
            failures.push(format!("chunked 1 MB to {path}: wanted 413, got {status}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        count_all(&app).await,
        before,
        "a refused request wrote something"
    );
    // The server is still well after all that.
    assert_eq!(app.get("/health").await.status(), 200);
    app.stop().await;
}

/// The `.eml` the file transport wrote for `recipient` (waits for the
/// delivery worker).
async fn sent_mail(app: &TestApp, recipient: &str) -> String {
    let dir = &app.settings.mail.outbox_dir;
    for _ in 0..300 {
        if let Some(raw) = crate::helpers::newest_mail_to(dir, recipient) {
            return raw;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no mail to {recipient} in {}", dir.display());
}

/// The header names of a raw message, folded lines joined.
fn header_names(raw: &str) -> Vec<String> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter(|line| !line.starts_with([' ', '\t']))
        .filter_map(|line| line.split_once(':').map(|(name, _)| name.to_lowercase()))
        .collect()
}

fn header(raw: &str, name: &str) -> String {
    let head = raw.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
    head.split("\r\n")
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

async fn hostile_text_is_stored_as_given_and_shown_escaped(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let editor = app.editor().await;
    // A newsletter whose every text field carries markup, and a sender name
    // that looks like a second address.
    let nasty_name = format!("{SCRIPT} & \"Co\"");
    // An hour old, as the helper makes every newsletter (see
    // `backdate_newsletter`).
    let created = editor
        .newsletter(
            "nasty",
            json!({"name": nasty_name,
                   "description": "<img src=x onerror=alert(1)>",
                   "sender_name": "Boss, \"the\" <boss@evil.example>",
                   "skip_when_empty": false}),
        )
        .await;
    assert_eq!(created["name"], nasty_name, "stored as given");
    let form = app
        .get("/subscribe?newsletter=nasty")
        .await
        .text()
        .await
        .unwrap();
    assert!(!form.contains("<script>alert"), "{form}");
    assert!(!form.contains("<img src=x"), "{form}");
    assert!(
        form.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;")
            || form.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"Co\""),
        "{form}"
    );

    // A story whose title, summary and URL carry script.
    let story = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/a?q=\"><script>alert(1)</script>",
                    "title": SCRIPT,
                    "author": "<script>alert(6)</script>",
                    "tags": ["<b>tag</b>"],
                    "summary": "<img src=x onerror=alert(2)><script>alert(3)</script>Plain words",
                    "published_at": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(story.status, 201, "{}", story.body);
    assert_eq!(
        story.body["title"], SCRIPT,
        "a title is text, kept as given"
    );
    let url = story.body["url"].as_str().unwrap();
    assert!(
        !url.contains('<') && !url.contains('"'),
        "URL normalised: {url}"
    );
    let summary = story.body["summary"].as_str().unwrap();
    assert!(
        !summary.contains('<'),
        "summary kept as text only: {summary}"
    );

    // A draft whose subject tries to add a header and whose intro is markup.
    let issue = editor
        .post("/api/newsletters/nasty/issues", &json!({}))
        .await;
    assert_eq!(issue.status, 201, "{}", issue.body);
    let id = issue.body["id"].as_i64().unwrap();
    let edited = editor
        .put(
            &format!("/api/issues/{id}"),
            &json!({"subject": "Hello\r\nBcc: victim@example.org",
                    "intro": "<script>alert(4)</script>",
                    "preheader": "<script>alert(5)</script>"}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert!(
        !edited.body["subject"]
            .as_str()
            .unwrap()
            .contains(['\r', '\n']),
        "{}",
        edited.body
    );
    let preview = editor.get(&format!("/api/issues/{id}/preview")).await;
    let html = preview.body.as_str().unwrap();
    assert!(!html.contains("<script>"), "preview escapes: {html}");
    assert!(!html.contains("onerror"), "{html}");
    for shown in ["alert(1)", "alert(4)", "alert(5)", "alert(6)"] {
        assert!(
            html.contains(&format!("&lt;script&gt;{shown}")),
            "{shown}: {html}"
        );
    }

    // The test copy: no injected header, the sender address unchanged.
    let queued = editor
        .post(
            &format!("/api/issues/{id}/test"),
            &json!({"email": "ed@example.org"}),
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let mail = sent_mail(&app, "ed@example.org").await;
    let names = header_names(&mail);
    assert!(!names.contains(&"bcc".to_string()), "{names:?}");
    assert_eq!(names.iter().filter(|n| *n == "to").count(), 1);
    assert_eq!(names.iter().filter(|n| *n == "from").count(), 1);
    let from = header(&mail, "From");
    assert!(
        from.ends_with(&format!("<{}>", app.settings.mail.from.address)),
        "the display name cannot change the address: {from}"
    );
    // The plain-text part shows the title as typed (text is not markup);
    // the HTML part escapes it.
    let html = crate::subscriptions::mime_part(&mail, "text/html").unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");

    // A subscriber with an IDN address and a name of emoji, markup and SQL.
    let name = "Zoë 🎉 <b>O'Brien</b>'); DROP TABLE subscribers;--";
    let signup = app
        .post_json(
            "/api/subscriptions",
            &json!({"email": "José@Bücher.Example", "name": name, "newsletters": ["nasty"]}),
        )
        .await;
    let status = signup.status();
    assert_eq!(status, 202, "{}", signup.text().await.unwrap());
    let (email, stored_name): (String, String) =
        sqlx::query_as("SELECT email, name FROM subscribers")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(
        email, "José@xn--bcher-kva.example",
        "domain in punycode, lower case"
    );
    assert_eq!(stored_name, name, "stored as given");
    let html = app
        .newest_mail_part("José@xn--bcher-kva.example", "text/html")
        .await;
    assert!(html.contains("&lt;b&gt;O"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    app.stop().await;
}

crate::both_databases!(
    every_hostile_request_is_refused_and_changes_nothing,
    hostile_text_is_stored_as_given_and_shown_escaped,
);
