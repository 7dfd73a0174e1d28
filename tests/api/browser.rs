//! The subscribe flow in a real browser (headless Chromium): fill in the
//! hosted form, see "check your inbox", open the link from the outbox, and
//! see the confirmed page, submitted by the page's own script.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fantoccini::Locator;

use crate::browser_support::Browser;
use crate::helpers::{Backend, TestApp, spawn_app};

const EMAIL: &str = "reader@example.org";

async fn browser_subscribes_and_confirms(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = Browser::start().await;
    let outcome = subscribe_and_confirm(&app, &browser).await;
    if let Err(problem) = outcome {
        browser
            .save_artifacts(&format!("browser_subscribes_and_confirms-{backend:?}"))
            .await;
        browser.close().await;
        panic!("{problem}");
    }
    browser.close().await;
    assert_eq!(
        app.subscriber_status(EMAIL).await.as_deref(),
        Some("active")
    );
    app.stop().await;
}

async fn subscribe_and_confirm(app: &TestApp, browser: &Browser) -> Result<(), String> {
    let client = &browser.client;
    let fail = |step: &str, e: &dyn std::fmt::Display| format!("{step}: {e}");
    client
        .goto(&app.url("/subscribe"))
        .await
        .map_err(|e| fail("open /subscribe", &e))?;
    client
        .find(Locator::Css("#email"))
        .await
        .map_err(|e| fail("find the email field", &e))?
        .send_keys(EMAIL)
        .await
        .map_err(|e| fail("type the address", &e))?;
    client
        .find(Locator::Css("#name"))
        .await
        .map_err(|e| fail("find the name field", &e))?
        .send_keys("Reader")
        .await
        .map_err(|e| fail("type the name", &e))?;
    client
        .find(Locator::Css("#subscribe-form button[type=submit]"))
        .await
        .map_err(|e| fail("find the button", &e))?
        .click()
        .await
        .map_err(|e| fail("submit", &e))?;
    let heading = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//h1[contains(., 'Check your inbox')]"))
        .await
        .map_err(|e| fail("see the check-your-inbox page", &e))?;
    let _ = heading;
    if app.subscriber_status(EMAIL).await.as_deref() != Some("pending") {
        return Err("the subscriber is not pending after the form".into());
    }
    let link = app.confirmation_link(EMAIL).await;
    client
        .goto(&link)
        .await
        .map_err(|e| fail("open the confirmation link", &e))?;
    let confirmed = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("h1#confirmed"))
        .await
        .map_err(|e| fail("see the confirmed page (auto-submitted)", &e))?;
    let text = confirmed
        .text()
        .await
        .map_err(|e| fail("read the heading", &e))?;
    if !text.contains("subscribed") {
        return Err(format!("unexpected heading {text:?}"));
    }
    Ok(())
}

crate::both_databases!(browser_subscribes_and_confirms);
