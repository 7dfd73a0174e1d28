//! Snapshots of every email in both locales, HTML and text. Review changes
//! with `INSTA_UPDATE=always cargo test -p email_templates` and read the
//! `.snap` files (the HTML is shown with a line break before each block tag).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{readable, recipient, site, stories};
use email_templates::{Confirmation, Digest, Locale, RenderedEmail, ReviewNotice, Templates};

fn assert_email(name: &str, email: &RenderedEmail) {
    insta::assert_snapshot!(format!("{name}_subject"), email.subject);
    insta::assert_snapshot!(format!("{name}_html"), readable(&email.html));
    insta::assert_snapshot!(format!("{name}_text"), email.text);
}

fn newsletter_name(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "Morning Briefing",
        Locale::Fr => "Le Point du matin",
    }
}

fn digest_email(locale: Locale, test_send: bool) -> RenderedEmail {
    let templates = Templates::builtin();
    let site = site();
    let stories = stories(locale);
    let (subject, preheader, intro) = match locale {
        Locale::En => (
            "Trams, markets and your letters",
            "The tram line is approved: what changes for you.",
            "Good morning!\n\nThree stories to start the week.",
        ),
        Locale::Fr => (
            "Tram, marché et courrier des lecteurs",
            "La ligne de tram est adoptée : ce qui change pour vous.",
            "Bonjour à toutes et à tous\u{a0}!\n\nDeux articles pour bien commencer la semaine.",
        ),
    };
    let template = templates
        .digest(&Digest {
            site: &site,
            locale,
            newsletter_name: newsletter_name(locale),
            subject,
            preheader: Some(preheader),
            intro: Some(intro),
            stories: &stories,
            web_url: Some("https://news.example.org/archive/morning/42"),
            test_send,
        })
        .unwrap();
    template.personalise(&recipient())
}

#[test]
fn confirmation_emails() {
    let templates = Templates::builtin();
    let site = site();
    for locale in Locale::ALL {
        let newsletters = [newsletter_name(locale).to_owned(), "Evening".to_owned()];
        let email = templates.confirmation(&Confirmation {
            site: &site,
            locale,
            name: Some("Ann"),
            newsletter_names: &newsletters,
            confirm_url: "https://news.example.org/confirm?token=abc123",
            expires_hours: 72,
        });
        assert_email(&format!("confirmation_{locale}"), &email);
    }
}

#[test]
fn digest_emails() {
    for locale in Locale::ALL {
        assert_email(&format!("digest_{locale}"), &digest_email(locale, false));
    }
}

#[test]
fn test_send_digest_emails() {
    for locale in Locale::ALL {
        assert_email(
            &format!("digest_test_send_{locale}"),
            &digest_email(locale, true),
        );
    }
}

#[test]
fn review_notices() {
    let templates = Templates::builtin();
    let site = site();
    for locale in Locale::ALL {
        let email = templates.review_notice(&ReviewNotice {
            site: &site,
            locale,
            newsletter_name: newsletter_name(locale),
            subject: "Trams, markets and your letters",
            story_count: 3,
            review_url: "https://news.example.org/admin/issues/42",
        });
        assert_email(&format!("review_{locale}"), &email);
    }
}

#[test]
fn web_views() {
    let templates = Templates::builtin();
    let site = site();
    for locale in Locale::ALL {
        let stories = stories(locale);
        let html = templates
            .web_view(&Digest {
                site: &site,
                locale,
                newsletter_name: newsletter_name(locale),
                subject: "Trams, markets and your letters",
                preheader: None,
                intro: None,
                stories: &stories,
                web_url: Some("https://news.example.org/archive/morning/42"),
                test_send: false,
            })
            .unwrap();
        insta::assert_snapshot!(format!("web_view_{locale}_html"), readable(&html));
    }
}
