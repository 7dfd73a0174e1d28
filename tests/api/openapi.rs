//! The OpenAPI description against what the server really does: every
//! route written in the source is described, every described route is
//! served (and guarded as its `security` says), a wrong method is a 405,
//! and real answers, successes and errors, match their schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use crate::editor::Answer;
use crate::helpers::{Backend, TestApp, spawn_app};

/// (METHOD, path template) of every operation in a description.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

fn description() -> Value {
    serde_json::to_value(gazette::web::api::openapi::description()).unwrap()
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The routes the source registers under `/api`: handlers carry an actix
/// route attribute (`#[post("/api/…")]`); any other way to register one
/// (`.route("/api…"`, `resource("/api…"`, `scope("/api…"`) would escape
/// the description, so it fails here.
#[test]
fn every_api_route_in_the_source_is_described() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut written = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for line in source.lines().map(str::trim) {
            for method in ["get", "post", "put", "delete", "patch"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"/api")) {
                    let path = format!("/api{}", rest.split('"').next().unwrap());
                    written.insert((method.to_uppercase(), path));
                }
            }
            for bypass in [".route(\"/api", "resource(\"/api", "scope(\"/api"] {
                assert!(
                    !line.contains(bypass),
                    "{}: `{line}` registers an /api route outside the described \
                     services; use #[utoipa::path] and service(…) in web::api::register",
                    file.display()
                );
            }
        }
    }
    assert!(written.len() >= 18, "found only {written:?}");
    assert_eq!(written, operations(&description()));
}

fn concrete(template: &str) -> String {
    template
        .replace("{id}", "999999")
        .replace("{slug}", "no-such-newsletter")
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> Answer {
    let mut request = app.client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        app.url(path),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method != "GET" {
        request = request.json(&json!({}));
    }
    Answer::from(request.send().await.unwrap()).await
}

async fn every_described_route_is_served_and_guarded(backend: Backend) {
    let app = spawn_app(backend).await;
    let served: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert_eq!(
        served,
        description(),
        "the served document is the description"
    );
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    let scheme = &served["components"]["securitySchemes"]["api_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for (method, template) in operations(&served) {
        let operation = &served["paths"][&template][method.to_lowercase()];
        let path = concrete(&template);
        let anonymous = send(&app, &method, &path, None).await;
        let guarded = operation["security"] == json!([{"api_token": []}]);
        if guarded {
            assert_eq!(anonymous.status, 401, "{method} {path}: {}", anonymous.body);
            assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
            assert_eq!(anonymous.body["error"]["code"], "unauthorized");
        } else {
            assert!(operation.get("security").is_none(), "{method} {template}");
            assert!(
                ![401, 404, 405].contains(&anonymous.status.as_u16()),
                "{method} {path} is public but answered {}: {}",
                anonymous.status,
                anonymous.body
            );
        }
        let documented: Vec<&String> = operation["responses"].as_object().unwrap().keys().collect();
        assert!(
            documented.contains(&&anonymous.status.as_str().to_string()),
            "{method} {path} answered {}, not among {documented:?}",
            anonymous.status
        );
    }
    // A described path with another method: 405 naming the right ones.
    let wrong = send(&app, "DELETE", "/api/stories", None).await;
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    assert_eq!(wrong.headers["allow"], "GET, POST");
    assert_eq!(wrong.body["error"]["code"], "method_not_allowed");
    let nowhere = send(&app, "GET", "/api/no-such-thing", None).await;
    assert_eq!(nowhere.status, 404);
    assert_eq!(nowhere.body["error"]["code"], "not_found");
    app.stop().await;
}

/// Checks `body` against the schema the description gives for this
/// operation and status (JSON Schema 2020-12, which OpenAPI 3.1 uses).
fn assert_conforms(doc: &Value, method: &str, template: &str, answer: &Answer) {
    let status = answer.status.as_str();
    let response = &doc["paths"][template][method]["responses"][status];
    assert!(
        response.is_object(),
        "{method} {template}: status {status} is not described ({})",
        answer.body
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {template} {status}: no JSON schema"
    );
    // The document is the root, so `#/components/schemas/…` resolves.
    let mut root = doc.clone();
    let object = root.as_object_mut().unwrap();
    object.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    for (key, value) in schema.as_object().unwrap() {
        object.insert(key.clone(), value.clone());
    }
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&answer.body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: {errors:?}\n{}",
        answer.body
    );
}

async fn real_answers_match_their_schemas(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc = description();
    let editor = app.editor().await;

    let created = editor
        .post(
            "/api/newsletters",
            &json!({"slug": "daily", "name": "Daily", "schedule": "0 7 * * *",
                    "timezone": "Africa/Bamako", "tags": ["World"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_conforms(&doc, "post", "/api/newsletters", &created);
    // so the story below (a minute old) is inside its first issue's window
    editor.backdate_newsletter("daily").await;
    let taken = editor
        .post(
            "/api/newsletters",
            &json!({"slug": "daily", "name": "Again"}),
        )
        .await;
    assert_eq!(taken.status, 409);
    assert_conforms(&doc, "post", "/api/newsletters", &taken);
    let invalid = editor
        .post(
            "/api/newsletters",
            &json!({"slug": "Bad Slug", "max_stories": 0}),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert_conforms(&doc, "post", "/api/newsletters", &invalid);
    let listed = editor.get("/api/newsletters").await;
    assert_conforms(&doc, "get", "/api/newsletters", &listed);
    let shown = editor.get("/api/newsletters/daily").await;
    assert_conforms(&doc, "get", "/api/newsletters/{slug}", &shown);
    let missing = editor.get("/api/newsletters/nope").await;
    assert_eq!(missing.status, 404);
    assert_conforms(&doc, "get", "/api/newsletters/{slug}", &missing);

    let story = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/a", "title": "A",
                    "summary": "<b>bold</b>", "tags": ["world"],
                    "published_at": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(story.status, 201, "{}", story.body);
    assert_conforms(&doc, "post", "/api/stories", &story);
    let stories = editor.get("/api/stories?limit=5").await;
    assert_conforms(&doc, "get", "/api/stories", &stories);
    let bad_query = editor.get("/api/stories?since=yesterday").await;
    assert_eq!(bad_query.status, 422);
    assert_conforms(&doc, "get", "/api/stories", &bad_query);

    let issue = editor
        .post("/api/newsletters/daily/issues", &json!({}))
        .await;
    assert_eq!(issue.status, 201, "{}", issue.body);
    assert_conforms(&doc, "post", "/api/newsletters/{slug}/issues", &issue);
    let id = issue.body["id"].as_i64().unwrap();
    let shown = editor.get(&format!("/api/issues/{id}")).await;
    assert_conforms(&doc, "get", "/api/issues/{id}", &shown);
    let edited = editor
        .put(
            &format!("/api/issues/{id}"),
            &json!({"subject": "Today", "intro": null}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_conforms(&doc, "put", "/api/issues/{id}", &edited);
    let report = editor
        .get(&format!("/api/issues/{id}/preview?format=json"))
        .await;
    assert_eq!(report.status, 200);
    assert_conforms(&doc, "get", "/api/issues/{id}/preview", &report);
    let test = editor
        .post(
            &format!("/api/issues/{id}/test"),
            &json!({"email": "ed@example.org"}),
        )
        .await;
    assert_eq!(test.status, 202, "{}", test.body);
    assert_conforms(&doc, "post", "/api/issues/{id}/test", &test);
    let cancelled = editor
        .post(&format!("/api/issues/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_conforms(&doc, "post", "/api/issues/{id}/cancel", &cancelled);
    let not_draft = editor
        .post(&format!("/api/issues/{id}/send"), &json!({}))
        .await;
    assert_eq!(not_draft.status, 409, "{}", not_draft.body);
    assert_conforms(&doc, "post", "/api/issues/{id}/send", &not_draft);

    let feed = editor
        .post("/api/feeds", &json!({"url": "http://127.0.0.1:9/feed.xml"}))
        .await;
    assert_eq!(feed.status, 201, "{}", feed.body);
    assert_conforms(&doc, "post", "/api/feeds", &feed);
    let feeds = editor.get("/api/feeds").await;
    assert_conforms(&doc, "get", "/api/feeds", &feeds);
    let polled = editor
        .post(&format!("/api/feeds/{}/poll", feed.body["id"]), &json!({}))
        .await;
    assert_eq!(polled.status, 200, "{}", polled.body);
    assert!(
        polled.body["error"].is_string(),
        "nothing listens on port 9"
    );
    assert_conforms(&doc, "post", "/api/feeds/{id}/poll", &polled);

    let signup = app
        .post_json(
            "/api/subscriptions",
            &json!({"email": "reader@example.org", "newsletters": ["daily"]}),
        )
        .await;
    let signup = Answer::from(signup).await;
    assert_eq!(signup.status, 202, "{}", signup.body);
    assert_conforms(&doc, "post", "/api/subscriptions", &signup);
    let not_json = Answer::from(
        app.client
            .post(app.url("/api/subscriptions"))
            .header("content-type", "application/json")
            .body("{\"email\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert_conforms(&doc, "post", "/api/subscriptions", &not_json);
    let wrong_type = Answer::from(
        app.client
            .post(app.url("/api/subscriptions"))
            .header("content-type", "text/plain")
            .body("reader@example.org")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(wrong_type.status, 415);
    assert_conforms(&doc, "post", "/api/subscriptions", &wrong_type);
    let unauthorized = send(&app, "GET", "/api/feeds", Some("not-a-token")).await;
    assert_eq!(unauthorized.status, 401);
    assert_conforms(&doc, "get", "/api/feeds", &unauthorized);
    app.stop().await;
}

crate::both_databases!(
    every_described_route_is_served_and_guarded,
    real_answers_match_their_schemas,
);
