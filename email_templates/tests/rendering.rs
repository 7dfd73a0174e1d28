//! Behaviour of the rendered emails: escaping, URL filtering, overrides,
//! personalisation and size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{recipient, site, stories};
use email_templates::{
    Confirmation, Digest, Field, Locale, PersonalisedTemplate, Recipient, ReviewNotice, Site,
    Story, TemplateError, Templates,
};

const HOSTILE: &str = "<script>alert(1)</script> \"quoted\" & 'single'";

fn digest_of<'a>(site: &'a Site, stories: &'a [Story]) -> Digest<'a> {
    Digest {
        site,
        locale: Locale::En,
        newsletter_name: "Morning",
        subject: "Issue 42",
        preheader: Some("Preview text"),
        intro: Some("Intro."),
        stories,
        web_url: Some("https://news.example.org/archive/morning/42"),
        test_send: false,
    }
}

fn render(templates: &Templates, stories: &[Story]) -> PersonalisedTemplate {
    templates.digest(&digest_of(&site(), stories)).unwrap()
}

#[test]
fn hostile_story_text_is_escaped_in_html_and_kept_in_text() {
    let stories = [Story {
        title: HOSTILE.to_owned(),
        url: "https://news.example.org/a?x=1&y=2".to_owned(),
        summary: Some(HOSTILE.to_owned()),
        image_url: Some("https://news.example.org/i.jpg".to_owned()),
        author: Some(HOSTILE.to_owned()),
        published_at: Some("<b>today</b>".to_owned()),
    }];
    let email = render(&Templates::builtin(), &stories).personalise(&recipient());
    assert!(!email.html.contains("<script"), "{}", email.html);
    assert!(!email.html.contains("<b>"));
    // Text content: angle brackets and ampersands escaped.
    assert!(email.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(email.html.contains("&amp; 'single'"));
    // The alt attribute: quotes escaped too.
    assert!(email.html.contains(
        "alt=\"&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; 'single'\""
    ));
    assert!(
        email
            .html
            .contains("href=\"https://news.example.org/a?x=1&amp;y=2\"")
    );
    assert!(email.text.contains(&format!("1. {HOSTILE}")));
    assert!(email.text.contains("https://news.example.org/a?x=1&y=2"));
}

#[test]
fn only_http_urls_are_linked() {
    let stories = [Story {
        title: "Bad links".to_owned(),
        url: "javascript:alert(1)".to_owned(),
        summary: None,
        image_url: Some("data:image/png;base64,AAAA".to_owned()),
        author: None,
        published_at: None,
    }];
    let site = Site {
        base_url: "javascript:alert(2)".to_owned(),
        ..site()
    };
    let digest = Digest {
        web_url: Some("JavaScript:alert(3)"),
        ..digest_of(&site, &stories)
    };
    let templates = Templates::builtin();
    let email = templates.digest(&digest).unwrap().personalise(&recipient());
    for part in [&email.html, &email.text] {
        assert!(!part.to_lowercase().contains("javascript:"), "{part}");
        assert!(!part.contains("data:"), "{part}");
    }
    assert!(email.html.contains("Bad links"));
    assert!(!email.html.contains("Read more"));
    assert!(!email.html.contains("<img"));
    assert!(!email.html.contains("View in your browser"));
    let web = templates.web_view(&digest).unwrap();
    assert!(!web.to_lowercase().contains("javascript:"));

    let confirmation = templates.confirmation(&Confirmation {
        site: &site,
        locale: Locale::En,
        name: None,
        newsletter_names: &[],
        confirm_url: "javascript:alert(4)",
        expires_hours: 72,
    });
    assert!(!confirmation.html.to_lowercase().contains("javascript:"));
    assert!(!confirmation.text.to_lowercase().contains("javascript:"));
}

#[test]
fn personalise_escapes_the_name_in_html_and_keeps_it_raw_in_text() {
    let template = render(&Templates::builtin(), &stories(Locale::En));
    let email = template.personalise(&Recipient {
        name: Some("<b>\"x\"&"),
        ..recipient()
    });
    assert!(
        email.html.contains("Hello &lt;b&gt;&quot;x&quot;&amp;,"),
        "{}",
        email.html
    );
    assert!(!email.html.contains("<b>"));
    assert!(email.text.contains("Hello <b>\"x\"&,"));
    assert!(
        email
            .html
            .contains("href=\"https://news.example.org/unsubscribe?token=abc&amp;n=1\"")
    );
    assert!(
        email
            .text
            .contains("\nhttps://news.example.org/unsubscribe?token=abc&n=1\n")
    );

    let anonymous = template.personalise(&Recipient {
        name: None,
        ..recipient()
    });
    assert!(anonymous.html.contains(">Hello,<"));
    assert!(anonymous.text.contains("\nHello,\n"));
}

#[test]
fn input_cannot_forge_a_recipient_field() {
    let stories = [Story {
        title: "\u{1}GAZETTE:UNSUBSCRIBE_URL\u{1} and GAZETTE:NAME".to_owned(),
        url: "https://news.example.org/a".to_owned(),
        ..Story::default()
    }];
    let email = render(&Templates::builtin(), &stories).personalise(&recipient());
    assert!(
        email
            .html
            .contains("GAZETTE:UNSUBSCRIBE_URL and GAZETTE:NAME")
    );
    assert!(!email.html.contains('\u{1}'));
    assert!(!email.text.contains('\u{1}'));
}

#[test]
fn every_field_is_used_and_no_marker_leaks() {
    let template = render(&Templates::builtin(), &stories(Locale::En));
    for field in [Field::Name, Field::UnsubscribeUrl, Field::PreferencesUrl] {
        assert!(template.uses_field(field), "{field:?}");
    }
    let email = template.personalise(&recipient());
    assert!(!email.html.contains('\u{1}') && !email.text.contains('\u{1}'));
    assert_eq!(email.subject, "Issue 42");
}

#[test]
fn web_view_has_no_personal_links() {
    let site = site();
    let stories = stories(Locale::En);
    let html = Templates::builtin()
        .web_view(&digest_of(&site, &stories))
        .unwrap();
    assert!(!html.contains('\u{1}'));
    for absent in [
        "Unsubscribe",
        "preferences",
        "Hello",
        "View in your browser",
        "You receive this",
    ] {
        assert!(!html.contains(absent), "{absent}");
    }
    assert!(html.contains("City council approves the new tram line"));
    assert!(html.contains("1 Main Street"));
}

#[test]
fn test_send_is_marked_in_subject_body_and_text() {
    let site = site();
    let stories = stories(Locale::En);
    let digest = Digest {
        test_send: true,
        ..digest_of(&site, &stories)
    };
    let email = Templates::builtin()
        .digest(&digest)
        .unwrap()
        .personalise(&recipient());
    assert_eq!(email.subject, "[TEST] Issue 42");
    assert!(email.html.contains("TEST SEND"));
    assert!(email.text.starts_with("*** TEST SEND"));
}

#[test]
fn html_has_the_outlook_safe_structure() {
    let email = render(&Templates::builtin(), &stories(Locale::En)).personalise(&recipient());
    let html = &email.html;
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\""));
    assert!(html.contains("role=\"presentation\""));
    assert!(html.contains("width=\"600\""));
    assert!(html.contains("bgcolor=\"#f3f4f6\""));
    assert!(html.contains("<!--[if mso]>"));
    assert!(html.contains("class=\"preheader\" style=\"display:none;"));
    assert!(html.contains("width=\"568\""));
    assert!(html.contains("alt=\"City council approves the new tram line\""));
    assert!(html.contains("display:block;width:100%;max-width:568px;height:auto"));
    // The CSS is inlined: no class-only styling is left for non-media rules.
    assert!(html.contains("style=\"margin:0 0 6px;font-size:20px"));
    let french = Templates::builtin()
        .digest(&Digest {
            locale: Locale::Fr,
            ..digest_of(&site(), &stories(Locale::Fr))
        })
        .unwrap()
        .personalise(&recipient());
    assert!(french.html.starts_with("<!DOCTYPE html><html lang=\"fr\""));
}

#[test]
fn text_part_wraps_at_72_columns_with_urls_on_their_own_line() {
    let long = "word ".repeat(60);
    let stories = [Story {
        title: "A title".to_owned(),
        url: format!("https://news.example.org/{}", "long-slug-".repeat(10)),
        summary: Some(long),
        ..Story::default()
    }];
    let email = render(&Templates::builtin(), &stories).personalise(&recipient());
    for line in email.text.lines() {
        assert!(
            line.chars().count() <= 72 || line.trim_start().starts_with("https://"),
            "{line:?}"
        );
    }
    assert!(email.text.contains(&format!("\n   {}\n", stories[0].url)));
}

#[test]
fn twenty_story_digest_stays_well_under_gmail_clip_limit() {
    let stories: Vec<Story> = (1..=20)
        .map(|index| Story {
            title: format!("Story number {index}: a fairly long headline about the day's events"),
            url: format!(
                "https://news.example.org/2030/03/03/story-number-{index}-with-a-long-slug"
            ),
            summary: Some("x".repeat(299) + "."),
            image_url: Some(format!(
                "https://cdn.news.example.org/images/2030/03/{index}/large.jpg"
            )),
            author: Some("Ann Lee".to_owned()),
            published_at: Some("3 March 2030".to_owned()),
        })
        .collect();
    let template = render(&Templates::builtin(), &stories);
    let email = template.personalise(&recipient());
    let limit = 102 * 1024;
    assert!(
        template.html_size_hint() < limit * 2 / 3,
        "{} bytes",
        template.html_size_hint()
    );
    assert!(
        email.html.len() < limit * 2 / 3,
        "{} bytes",
        email.html.len()
    );
    // The hint tracks a real recipient within a few hundred bytes.
    assert!(template.html_size_hint().abs_diff(email.html.len()) < 512);
}

#[test]
fn override_words_with_a_missing_key_name_it() {
    let french = Templates::builtin_words_source(Locale::Fr)
        .replace("unsubscribe = \"Se désinscrire\"\n", "");
    let error = Templates::with_overrides(None, &[(Locale::Fr, french.as_str())]).unwrap_err();
    assert_eq!(
        error,
        TemplateError::MissingWords {
            locale: Locale::Fr,
            keys: vec!["footer.unsubscribe".to_owned()],
        }
    );
    assert_eq!(
        error.to_string(),
        "words for locale fr: missing key(s) footer.unsubscribe"
    );
}

#[test]
fn override_words_are_used() {
    let english = Templates::builtin_words_source(Locale::En).replace(
        "read_more = \"Read more\"",
        "read_more = \"Continue reading\"",
    );
    let templates = Templates::with_overrides(None, &[(Locale::En, english.as_str())]).unwrap();
    assert_eq!(
        templates.words(Locale::En).digest.read_more,
        "Continue reading"
    );
    assert_eq!(
        templates.words(Locale::Fr),
        Templates::builtin().words(Locale::Fr)
    );
    let email = render(&templates, &stories(Locale::En)).personalise(&recipient());
    assert!(email.html.contains("Continue reading"));
}

#[test]
fn the_same_locale_twice_is_refused() {
    let english = Templates::builtin_words_source(Locale::En);
    let error = Templates::with_overrides(None, &[(Locale::En, english), (Locale::En, english)])
        .unwrap_err();
    assert_eq!(error, TemplateError::DuplicateWords(Locale::En));
}

#[test]
fn override_css_is_accepted_and_inlined() {
    let css = format!(
        "{}\n.story-title a {{ color: #7a1f5c; }}\n",
        Templates::builtin_css_source()
    );
    let templates = Templates::with_overrides(Some(&css), &[]).unwrap();
    assert_eq!(templates.css(), css);
    let email = render(&templates, &stories(Locale::En)).personalise(&recipient());
    assert!(email.html.contains("color:#7a1f5c"));
    let minimal = Templates::with_overrides(Some("p { margin: 0 }"), &[]).unwrap();
    assert!(
        minimal
            .confirmation(&Confirmation {
                site: &site(),
                locale: Locale::Fr,
                name: None,
                newsletter_names: &[],
                confirm_url: "https://news.example.org/confirm?token=t",
                expires_hours: 1,
            })
            .html
            .contains("Ce lien est valable 1&nbsp;heure.")
    );
}

#[test]
fn broken_override_css_is_refused_with_its_line() {
    for (css, message) in [
        (
            "p { color: red }\n.a { color: blue",
            "CSS: '{' at line 2 is never closed",
        ),
        (
            "p{}\n</style><script>alert(1)</script>",
            "CSS: '</' at line 2: the CSS must not contain '</' (it could end the <style> block)",
        ),
    ] {
        let error = Templates::with_overrides(Some(css), &[]).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn confirmation_escapes_the_name_and_lists_newsletters() {
    let newsletters = [
        "Morning".to_owned(),
        "Noon".to_owned(),
        "<i>Evening</i>".to_owned(),
    ];
    let email = Templates::builtin().confirmation(&Confirmation {
        site: &site(),
        locale: Locale::En,
        name: Some("<b>Ann</b>\r\n"),
        newsletter_names: &newsletters,
        confirm_url: "https://news.example.org/confirm?token=t&x=1",
        expires_hours: 1,
    });
    assert!(email.html.contains("Hello &lt;b&gt;Ann&lt;/b&gt;,"));
    assert!(
        email
            .html
            .contains("Morning, Noon and &lt;i&gt;Evening&lt;/i&gt;")
    );
    assert!(
        email
            .html
            .contains("href=\"https://news.example.org/confirm?token=t&amp;x=1\"")
    );
    assert!(email.text.contains("Hello <b>Ann</b>,"));
    assert!(
        email
            .text
            .contains("\nhttps://news.example.org/confirm?token=t&x=1\n")
    );
    assert!(email.text.contains("This link expires in 1 hour."));
}

#[test]
fn subjects_are_one_line() {
    let templates = Templates::builtin();
    let site = Site {
        name: "Bugle\r\nBcc: victim@example.org".to_owned(),
        ..site()
    };
    let email = templates.review_notice(&ReviewNotice {
        site: &site,
        locale: Locale::En,
        newsletter_name: "Morning",
        subject: "Issue\n42",
        story_count: 1,
        review_url: "https://news.example.org/admin/issues/42",
    });
    assert_eq!(email.subject, "Ready for review: Issue 42");
    assert!(email.text.contains("is ready with 1 story."));
    let confirmation = templates.confirmation(&Confirmation {
        site: &site,
        locale: Locale::En,
        name: None,
        newsletter_names: &[],
        confirm_url: "https://news.example.org/confirm?token=t",
        expires_hours: 72,
    });
    assert_eq!(
        confirmation.subject,
        "Confirm your subscription to Bugle Bcc: victim@example.org"
    );
    assert!(!confirmation.subject.contains(['\r', '\n']));
}

#[test]
fn page_words_exist_in_both_locales() {
    let templates = Templates::builtin();
    assert_eq!(
        templates.words(Locale::En).pages.subscribe.intro,
        "Receive captivating stories direct to your inbox."
    );
    assert_eq!(
        templates.words(Locale::Fr).pages.confirm.done_title,
        "Inscription confirmée"
    );
}

#[test]
fn templates_can_be_shared_between_workers() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Templates>();
    shareable::<PersonalisedTemplate>();
}

/// The default newsletter bears the site's name: the digest names it once,
/// not as its own tagline, and the footer does not say "subscribed to X
/// on X".
#[test]
fn a_newsletter_named_after_the_site_is_not_repeated() {
    let site = site();
    let stories = stories(Locale::En);
    let mut digest = digest_of(&site, &stories);
    digest.newsletter_name = &site.name;
    let email = Templates::builtin()
        .digest(&digest)
        .unwrap()
        .personalise(&recipient());
    assert!(!email.html.contains("newsletter-name"), "{}", email.html);
    let reason = format!("You receive this because you subscribed to {}.", site.name);
    assert!(email.html.contains(&reason), "{}", email.html);
    assert!(email.text.contains(&reason), "{}", email.text);
    assert!(!email.text.contains(&format!("{0} · {0}", site.name)));

    // Another name keeps both.
    let morning = Templates::builtin()
        .digest(&digest_of(&site, &stories))
        .unwrap()
        .personalise(&recipient());
    assert!(morning.html.contains("newsletter-name"));
    assert!(morning.text.contains("subscribed to Morning on"));
}
