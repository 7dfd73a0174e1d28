//! The editor's whole job in a real browser (headless Chromium through
//! chromedriver): log in, create a scheduled newsletter, add a story, build
//! the draft, preview it, test-send it (the mail reaches the loopback SMTP
//! server), send it and watch the progress reach 100 %. And a newcomer's
//! first look: the set-up checklist and the sender banner, then a welcome
//! email written and previewed. On failure the screenshot and page source
//! are kept under tests/artifacts/.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use gazette::users::Role;

use crate::admin::{PASSWORD, smtp_at};
use crate::browser_support::Browser;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::smtp_server::SmtpServer;

const EDITOR: &str = "editor@example.org";
const WAIT: Duration = Duration::from_secs(15);

async fn editor_sends_an_issue_in_the_browser(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_at(smtp.port)).await;
    app.add_user(EDITOR, Role::Editor).await;
    let browser = Browser::start().await;
    let outcome = editor_flow(&app, &browser.client, &smtp).await;
    if let Err(problem) = outcome {
        browser
            .save_artifacts(&format!("editor_sends_an_issue_in_the_browser-{backend:?}"))
            .await;
        browser.close().await;
        panic!("{problem}");
    }
    browser.close().await;
    app.stop().await;
}

async fn newcomer_sees_the_set_up_and_writes_a_welcome(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.mail.from.address = String::new();
        s.site.postal_address = String::new();
    })
    .await;
    app.add_user(EDITOR, Role::Editor).await;
    let browser = Browser::start().await;
    let outcome = newcomer_flow(&app, &browser.client).await;
    if let Err(problem) = outcome {
        browser
            .save_artifacts(&format!("newcomer_sees_the_set_up-{backend:?}"))
            .await;
        browser.close().await;
        panic!("{problem}");
    }
    browser.close().await;
    app.stop().await;
}

async fn newcomer_flow(app: &TestApp, c: &Client) -> Result<(), String> {
    c.goto(&app.url("/admin"))
        .await
        .map_err(failed("open the admin"))?;
    fill(c, "input[name=email]", EDITOR).await?;
    fill(c, "input[name=password]", PASSWORD).await?;
    click(c, "form[action='/admin/login'] button[type=submit]").await?;
    let banner = wait_for(c, "#sender-banner").await?;
    if !banner.contains("site.postal_address") || !banner.contains("mail.from.address") {
        return Err(format!(
            "the banner does not name what is missing: {banner:?}"
        ));
    }
    let setup = wait_for(c, "#setup").await?;
    if !setup.contains("6 steps left") {
        return Err(format!("expected six steps left: {setup:?}"));
    }
    click(c, "#setup-newsletter a").await?;
    wait_for(c, "#no-newsletters, table").await?;
    c.goto(&app.url("/admin/newsletters/news"))
        .await
        .map_err(failed("open the newsletter"))?;
    click(c, "a[href='/admin/newsletters/news/welcome']").await?;
    wait_for(c, "#no-welcome").await?;
    fill(
        c,
        "textarea[name=markdown]",
        "Thank you for **joining** us.",
    )
    .await?;
    click(c, "form[action='/admin/newsletters/news/welcome'] button").await?;
    let text = wait_for(c, "#welcome-text").await?;
    if !text.contains("Thank you for **joining** us.") {
        return Err(format!("no text preview: {text:?}"));
    }
    c.find(Locator::Css("iframe[title='Desktop preview']"))
        .await
        .map_err(failed("see the desktop preview"))?
        .enter_frame()
        .await
        .map_err(failed("enter the desktop preview"))?;
    let bold = wait_for(c, "strong").await?;
    c.enter_parent_frame()
        .await
        .map_err(failed("leave the preview frame"))?;
    if bold != "joining" {
        return Err(format!("the Markdown was not rendered: {bold:?}"));
    }
    Ok(())
}

fn failed(step: &str) -> impl Fn(fantoccini::error::CmdError) -> String + '_ {
    move |e| format!("{step}: {e}")
}

async fn fill(c: &Client, css: &str, text: &str) -> Result<(), String> {
    let step = format!("fill {css}");
    c.find(Locator::Css(css))
        .await
        .map_err(failed(&step))?
        .send_keys(text)
        .await
        .map_err(failed(&step))
}

async fn click(c: &Client, css: &str) -> Result<(), String> {
    let step = format!("click {css}");
    c.find(Locator::Css(css))
        .await
        .map_err(failed(&step))?
        .click()
        .await
        .map_err(failed(&step))
}

/// The text of the first `css` match, waiting for it; a match on the page
/// being left (stale) is looked up again on the next one.
async fn wait_for(c: &Client, css: &str) -> Result<String, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = match c.find(Locator::Css(css)).await {
            Ok(element) => element.text().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(text) => return Ok(text),
            Err(e) if Instant::now() > deadline => return Err(format!("wait for {css}: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn editor_flow(app: &TestApp, c: &Client, smtp: &SmtpServer) -> Result<(), String> {
    // The admin sends to the login page, which comes back after it.
    c.goto(&app.url("/admin/newsletters/new"))
        .await
        .map_err(failed("open the admin"))?;
    fill(c, "input[name=email]", EDITOR).await?;
    fill(c, "input[name=password]", PASSWORD).await?;
    click(c, "form[action='/admin/login'] button[type=submit]").await?;
    wait_for(c, "input[name=slug]").await?;

    fill(c, "input[name=slug]", "weekly").await?;
    fill(c, "input[name=name]", "The Weekly").await?;
    fill(c, "input[name=schedule]", "0 7 * * FRI").await?;
    c.find(Locator::Css("select[name=timezone]"))
        .await
        .map_err(failed("find the timezone picker"))?
        .select_by_value("Africa/Bamako")
        .await
        .map_err(failed("choose a timezone"))?;
    // The next runs show up as the schedule is typed.
    let deadline = Instant::now() + WAIT;
    loop {
        let live = wait_for(c, "#live-runs").await?;
        if live.starts_with("Next: Fri") {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("no live next runs: {live:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click(c, "form[action='/admin/newsletters'] button[type=submit]").await?;
    let runs = wait_for(c, "#next-runs").await?;
    if runs.lines().count() != 5 || !runs.contains("GMT") {
        return Err(format!(
            "expected five Friday runs in Bamako time, got {runs:?}"
        ));
    }
    let newsletter = app
        .store
        .newsletters()
        .by_slug("weekly")
        .await
        .unwrap()
        .ok_or("the newsletter was not stored")?;
    crate::editor::subscriber(
        app,
        "reader@example.net",
        "active",
        false,
        "active",
        newsletter.id,
    )
    .await;

    c.goto(&app.url("/admin/stories"))
        .await
        .map_err(failed("open stories"))?;
    // the story form's fields (the feed form above has a URL field too)
    fill(
        c,
        "form[action='/admin/stories'] input[name=url]",
        "https://news.example.org/bridge",
    )
    .await?;
    fill(
        c,
        "form[action='/admin/stories'] input[name=title]",
        "The bridge reopens",
    )
    .await?;
    click(c, "form[action='/admin/stories'][method=post] button").await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//td/a[contains(., 'The bridge reopens')]"))
        .await
        .map_err(failed("see the story in the list"))?;

    c.goto(&app.url("/admin/newsletters/weekly"))
        .await
        .map_err(failed("open the newsletter"))?;
    click(c, "form[action='/admin/newsletters/weekly/build'] button").await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath("//main/h1[starts-with(., 'Issue #')]"))
        .await
        .map_err(failed("build opens the draft"))?;
    let issue_url = c
        .current_url()
        .await
        .map_err(failed("read the issue URL"))?
        .to_string();
    let issue_path = issue_url
        .strip_prefix(&app.address)
        .ok_or("issue URL on another host")?
        .to_string();

    click(c, &format!("a[href='{issue_path}/preview']")).await?;
    let size = wait_for(c, "#html-size").await?;
    if !size.contains("KB of Gmail's 102 KB limit") {
        return Err(format!("no size report: {size:?}"));
    }
    // The frame really shows the email (the session cookie reaches it).
    c.find(Locator::Css("iframe[title='Mobile preview']"))
        .await
        .map_err(failed("see the mobile preview"))?
        .enter_frame()
        .await
        .map_err(failed("enter the mobile preview"))?;
    let framed = wait_for(c, "body").await?;
    c.enter_parent_frame()
        .await
        .map_err(failed("leave the preview frame"))?;
    if !framed.contains("The bridge reopens") {
        return Err(format!("the preview frame lacks the story: {framed:?}"));
    }
    let text = wait_for(c, "#text-part").await?;
    if !text.contains("The bridge reopens") {
        return Err(format!("the text part lacks the story: {text:?}"));
    }

    c.goto(&issue_url)
        .await
        .map_err(failed("back to the issue"))?;
    click(c, &format!("form[action='{issue_path}/test'] button")).await?;
    wait_for(c, ".flash[role=status]").await?;
    let test = smtp.wait_for(1, WAIT).await;
    if test[0].to != vec![EDITOR.to_string()] {
        return Err(format!("the test went to {:?}", test[0].to));
    }

    c.goto(&issue_url)
        .await
        .map_err(failed("back to the issue"))?;
    // "Send now" asks first, naming how many will receive it.
    click(c, &format!("a[href='{issue_path}/send']")).await?;
    let recipients = wait_for(c, "#recipients").await?;
    if recipients != "1" {
        return Err(format!("the confirmation names {recipients:?} recipients"));
    }
    click(c, &format!("form[action='{issue_path}/send'] button")).await?;
    wait_for(c, "#progress").await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let percent = wait_for(c, "#percent").await?;
        if percent.trim() == "100 %" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("progress stuck at {percent:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = wait_for(c, "#status").await?;
    if status != "sent" {
        return Err(format!("status {status:?} at 100 %"));
    }
    let received = smtp.wait_for(2, WAIT).await;
    if !received
        .iter()
        .any(|m| m.to == vec!["reader@example.net".to_string()])
    {
        return Err("the subscriber got nothing".into());
    }
    Ok(())
}

crate::both_databases!(
    editor_sends_an_issue_in_the_browser,
    newcomer_sees_the_set_up_and_writes_a_welcome,
);
