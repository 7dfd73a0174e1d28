//! Render benchmark (`bench/render/run`): is personalising a digest ever
//! what holds a send back?
//!
//! 1. Renders one 20-story issue once (maud + CSS inlining), then
//!    personalises it for N recipients in memory on one thread (name,
//!    signed unsubscribe and preferences links), and prints messages per
//!    second per core.
//! 2. Delivers the same N personalised messages into an SMTP sink
//!    (Postfix's `smtp-sink`) through Gazette's own message composition and
//!    pooled SMTP transport, the way the delivery workers do (personalise,
//!    compose the MIME message with its list headers, send; 16 in flight),
//!    and prints messages per second.
//! 3. Prints `render_share_of_delivery: X.XX`, the personalisation time over
//!    the delivery time. Goal: under 0.05.
//!
//! The delivery here skips the outbox (no database): the real path is
//! slower, so the share printed is an upper bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use email_templates::{Digest, PersonalisedTemplate, Recipient, Site, Story, Templates};
use gazette::config::Settings;
use gazette::delivery::message::{self, ListInfo, Outgoing, Sender};
use gazette::delivery::transport::Transport;
use gazette::links::LinkSigner;
use tokio::sync::Semaphore;

struct Options {
    recipients: u64,
    deliver: u64,
    smtp: Option<String>,
    concurrency: usize,
}

fn options() -> Options {
    let mut options = Options {
        recipients: 100_000,
        deliver: 0,
        smtp: None,
        concurrency: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match arg.as_str() {
            "--recipients" => options.recipients = value().parse().expect("a number"),
            "--deliver" => options.deliver = value().parse().expect("a number"),
            "--smtp" => options.smtp = Some(value()),
            "--concurrency" => options.concurrency = value().parse().expect("a number"),
            other => panic!("unknown option {other}; see bench/render/run"),
        }
    }
    if options.deliver == 0 {
        options.deliver = options.recipients;
    }
    options
}

fn site() -> Site {
    Site {
        name: "The Daily Bugle".into(),
        base_url: "https://news.example.org".into(),
        postal_address: "1 Main Street\nSpringfield".into(),
    }
}

/// Twenty stories shaped like a news site's: long slugs, an image each,
/// summaries of three sentences.
fn stories() -> Vec<Story> {
    (0..20)
        .map(|n| Story {
            title: format!("Story {n}: council approves the new bridge after a long debate"),
            url: format!(
                "https://news.example.org/2030/03/05/story-{n}-council-approves-the-new-bridge"
            ),
            summary: Some(
                "The council voted late on Tuesday to approve the bridge. Opponents say the cost \
                 is too high & the timing wrong. Work starts in spring and should last two years."
                    .into(),
            ),
            image_url: Some(format!(
                "https://cdn.example.org/images/2030/03/story-{n}.jpg"
            )),
            author: Some("Ann Reporter".into()),
            published_at: Some("5 March 2030".into()),
        })
        .collect()
}

const NAMES: [Option<&str>; 4] = [Some("Ann"), None, Some("Bob Example"), Some("Zoë")];

/// What the delivery workers do per recipient: fill in the fields and
/// encode them (the literal parts were encoded once, with the template).
fn personalise<'t>(
    template: &'t PersonalisedTemplate,
    links: &LinkSigner,
    i: u64,
) -> email_templates::EncodedEmail<'t> {
    let id = i as i64 + 1;
    let unsubscribe = links.unsubscribe_url(id);
    let preferences = links.preferences_url(id);
    template.personalise_encoded(&Recipient {
        name: NAMES[(i % 4) as usize],
        unsubscribe_url: &unsubscribe,
        preferences_url: &preferences,
    })
}

fn main() {
    let options = options();
    let templates = Templates::builtin();
    let site = site();
    let stories = stories();
    let started = Instant::now();
    let template = templates
        .digest(&Digest {
            site: &site,
            locale: email_templates::Locale::En,
            newsletter_name: "Morning briefing",
            subject: "Council approves the new bridge",
            preheader: Some("And nineteen more stories"),
            intro: Some("Good morning. Here is what happened."),
            stories: &stories,
            web_url: Some("https://news.example.org/archive/morning/1"),
            test_send: false,
        })
        .expect("the digest renders");
    let render_once = started.elapsed();
    let links = LinkSigner::new(
        b"bench-secret-key-bench-secret-key",
        "https://news.example.org",
    );

    // 1. Personalisation alone, one thread.
    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..options.recipients {
        let email = personalise(&template, &links, i);
        bytes += std::hint::black_box(email.html.len() + email.text.len());
    }
    let render_time = started.elapsed();
    let per_core = options.recipients as f64 / render_time.as_secs_f64();
    println!(
        "issue rendered once (maud + CSS inlining): {:.1} ms",
        ms(render_once)
    );
    println!(
        "personalised {} messages in {:.2} s on one core, {:.0} KB each on average",
        options.recipients,
        render_time.as_secs_f64(),
        bytes as f64 / options.recipients as f64 / 1024.0
    );
    println!("render_messages_per_second_per_core: {per_core:.0}");

    let Some(smtp) = options.smtp.clone() else {
        println!("no --smtp given: delivery comparison skipped");
        return;
    };

    // 2. Delivery of the same messages into the sink.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let delivered = runtime.block_on(deliver(&options, &smtp, template, links));
    let per_message_delivery = delivered.as_secs_f64() / options.deliver as f64;
    let per_message_render = render_time.as_secs_f64() / options.recipients as f64;
    println!(
        "delivered {} messages into smtp-sink at {smtp} in {:.2} s: {:.0} messages/s ({} in flight)",
        options.deliver,
        delivered.as_secs_f64(),
        options.deliver as f64 / delivered.as_secs_f64(),
        options.concurrency
    );
    let share = per_message_render / per_message_delivery;
    println!(
        "personalising takes {:.1} µs a message, delivering {:.0} µs: a share of {share:.4}",
        per_message_render * 1e6,
        per_message_delivery * 1e6
    );
    println!("render_share_of_delivery: {share:.2}");
}

async fn deliver(
    options: &Options,
    smtp: &str,
    template: PersonalisedTemplate,
    links: LinkSigner,
) -> Duration {
    // Gazette's own message composition and SMTP transport, configured the
    // way `mail.transport = "smtp"` configures them.
    let (host, port) = smtp.rsplit_once(':').expect("--smtp HOST:PORT");
    let vars = [
        ("GAZETTE__MAIL__TRANSPORT", "smtp".to_string()),
        ("GAZETTE__MAIL__SMTP__HOST", host.to_string()),
        ("GAZETTE__MAIL__SMTP__PORT", port.to_string()),
        ("GAZETTE__MAIL__SMTP__TLS", "none".to_string()),
        (
            "GAZETTE__MAIL__SMTP__POOL_SIZE",
            options.concurrency.to_string(),
        ),
        (
            "GAZETTE__MAIL__FROM__ADDRESS",
            "news@example.org".to_string(),
        ),
        ("GAZETTE__MAIL__FROM__NAME", "The Daily Bugle".to_string()),
    ]
    .map(|(key, value)| (key.to_string(), value));
    let settings = Settings::load_with(Path::new("/nonexistent"), None, vars).expect("settings");
    let transport = Arc::new(Transport::from_settings(&settings.mail).expect("transport"));
    let sender = Arc::new(Sender::from_settings(&settings.mail).expect("sender"));
    let template = Arc::new(template);
    let links = Arc::new(links);
    let in_flight = Arc::new(Semaphore::new(options.concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..options.deliver {
        let permit = in_flight.clone().acquire_owned().await.expect("semaphore");
        let (transport, sender, template, links) = (
            transport.clone(),
            sender.clone(),
            template.clone(),
            links.clone(),
        );
        tasks.spawn(async move {
            let email = personalise(&template, &links, i);
            let recipient = format!("reader{i}@example.net");
            let unsubscribe = links.unsubscribe_url(i as i64 + 1);
            let composed = message::compose(
                &sender,
                Outgoing {
                    recipient: &recipient,
                    subject: email.subject.into(),
                    html_qp: email.html,
                    text_qp: email.text,
                    sender_name: None,
                    reply_to: None,
                    list: Some(ListInfo {
                        name: "Morning briefing",
                        slug: "morning",
                        unsubscribe_url: unsubscribe,
                    }),
                },
                None,
            )
            .map_err(|e| e.to_string())?;
            let sent = transport
                .send(&composed.envelope, Arc::new(composed.bytes))
                .await
                .map_err(|e| e.message().to_string());
            drop(permit);
            sent
        });
        while let Some(done) = tasks.try_join_next() {
            check(done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        check(done);
    }
    let elapsed = started.elapsed();
    transport.shutdown().await;
    elapsed
}

/// A delivery that failed makes the whole measurement meaningless: stop.
fn check(done: Result<Result<(), String>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            eprintln!("delivery into the sink failed: {error}");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("a delivery task failed: {error}");
            std::process::exit(1);
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
