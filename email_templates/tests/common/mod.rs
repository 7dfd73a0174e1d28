//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use email_templates::{Locale, Recipient, Site, Story};

pub fn site() -> Site {
    Site {
        name: "The Daily Bugle".to_owned(),
        base_url: "https://news.example.org".to_owned(),
        postal_address: "1 Main Street\nSpringfield, IL 62701".to_owned(),
    }
}

pub fn stories(locale: Locale) -> Vec<Story> {
    match locale {
        Locale::En => vec![
            Story {
                title: "City council approves the new tram line".to_owned(),
                url: "https://news.example.org/2030/tram-line".to_owned(),
                summary: Some(
                    "After two years of debate, the council voted 31 to 12 for the line \
                     linking the station to the university. Works start in the spring and \
                     should last eighteen months."
                        .to_owned(),
                ),
                image_url: Some("https://news.example.org/images/tram.jpg".to_owned()),
                author: Some("Ann Lee".to_owned()),
                published_at: Some("3 March 2030".to_owned()),
            },
            Story {
                title: "Market day moves to Saturday".to_owned(),
                url: "https://news.example.org/2030/market".to_owned(),
                summary: Some("Stallholders asked for it; shoppers seem pleased.".to_owned()),
                image_url: None,
                author: None,
                published_at: Some("2 March 2030".to_owned()),
            },
            Story {
                title: "Letters to the editor".to_owned(),
                url: "https://news.example.org/2030/letters".to_owned(),
                summary: None,
                image_url: None,
                author: None,
                published_at: None,
            },
        ],
        Locale::Fr => vec![
            Story {
                title: "Le conseil municipal adopte la nouvelle ligne de tram".to_owned(),
                url: "https://news.example.org/2030/ligne-de-tram".to_owned(),
                summary: Some(
                    "Après deux ans de débats, le conseil a voté à 31 voix contre 12 pour la \
                     ligne qui reliera la gare à l’université. Les travaux commencent au \
                     printemps et dureront dix-huit mois."
                        .to_owned(),
                ),
                image_url: Some("https://news.example.org/images/tram.jpg".to_owned()),
                author: Some("Anne Lebrun".to_owned()),
                published_at: Some("3 mars 2030".to_owned()),
            },
            Story {
                title: "Le marché passe au samedi".to_owned(),
                url: "https://news.example.org/2030/marche".to_owned(),
                summary: Some(
                    "Les commerçants le demandaient ; les clients ont l’air ravis.".to_owned(),
                ),
                image_url: None,
                author: None,
                published_at: Some("2 mars 2030".to_owned()),
            },
        ],
    }
}

pub fn recipient() -> Recipient<'static> {
    Recipient {
        name: Some("Ann"),
        unsubscribe_url: "https://news.example.org/unsubscribe?token=abc&n=1",
        preferences_url: "https://news.example.org/preferences?token=abc",
    }
}

/// The HTML with a line break before each block-level tag, so snapshot
/// diffs are readable. Removing the inserted line breaks gives the exact
/// HTML: the rendered emails hold no line breaks of their own outside text.
pub fn readable(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    for (index, _) in html.char_indices() {
        let rest = &html[index..];
        if index > 0
            && [
                "<table", "<tr", "<td", "<p", "<h1", "<h2", "<div", "<img", "<!--", "<meta",
                "<title", "<style", "</table", "<body", "<head", "</body", "</html", "<br",
            ]
            .iter()
            .any(|tag| rest.starts_with(tag))
        {
            out.push('\n');
        }
        out.push_str(&rest[..rest.chars().next().map_or(0, char::len_utf8)]);
    }
    out
}
