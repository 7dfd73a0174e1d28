//! The frame every email shares (head, preheader, centred 600 px table,
//! header, footer slot) and the last steps of rendering: inlining the CSS
//! and hardening the serialised HTML.

use std::borrow::Cow;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::{Locale, Site, sanitize};

/// The page background, repeated as `bgcolor` for clients that ignore CSS
/// backgrounds (Outlook on Windows).
const PAGE_BACKGROUND: &str = "#f3f4f6";
const CONTAINER_BACKGROUND: &str = "#ffffff";
const BANNER_BACKGROUND: &str = "#b42318";
const BUTTON_BACKGROUND: &str = "#0b5cad";

/// Outlook on Windows renders with Word: it needs 96 dpi declared to keep
/// images at their size, and a font it has on every element. Other clients
/// skip this conditional comment.
const MSO_HEAD: &str = "<!--[if mso]><noscript><xml><o:OfficeDocumentSettings>\
<o:AllowPNG/><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript>\
<style>body,table,td,p,a,h1,h2,span{font-family:Arial,Helvetica,sans-serif !important;}</style>\
<![endif]-->";

/// Word ignores `max-width`: a fixed 600 px "ghost" table, seen only by
/// Outlook, keeps the container from stretching.
const MSO_OPEN: &str = "<!--[if mso]><table role=\"presentation\" width=\"600\" align=\"center\" \
cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td><![endif]-->";
const MSO_CLOSE: &str = "<!--[if mso]></td></tr></table><![endif]-->";

/// Invisible characters after the preheader so inbox previews do not pull
/// in the email's first lines after it.
const PREHEADER_PADDING: &str = "&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;\
&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;\
&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;";

/// What the frame shows around an email's own rows.
pub(crate) struct Frame<'a> {
    pub locale: Locale,
    pub site: &'a Site,
    /// The `<title>`: the subject.
    pub title: &'a str,
    pub preheader: Option<&'a str>,
    /// Shown under the site name (the newsletter's name).
    pub subtitle: Option<&'a str>,
    /// A red banner on top (test sends).
    pub banner: Option<&'a str>,
}

/// The whole document: `rows` are `<tr>`s of the white container, `footer`
/// goes under it on the page background.
pub(crate) fn document(frame: &Frame<'_>, rows: Markup, footer: Markup) -> String {
    let site_name = sanitize::line(&frame.site.name);
    let home = sanitize::url(&frame.site.base_url);
    html! {
        (DOCTYPE)
        html lang=(frame.locale.as_str()) dir="ltr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="x-apple-disable-message-reformatting";
                meta name="format-detection" content="telephone=no, date=no, address=no, email=no, url=no";
                meta name="color-scheme" content="light";
                meta name="supported-color-schemes" content="light";
                title { (sanitize::line(frame.title)) }
                (PreEscaped(MSO_HEAD))
            }
            body bgcolor=(PAGE_BACKGROUND) {
                @if let Some(preheader) = frame.preheader.map(sanitize::line).and_then(sanitize::non_empty) {
                    div.preheader { (preheader) (PreEscaped(PREHEADER_PADDING)) }
                }
                table.wrapper role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor=(PAGE_BACKGROUND) {
                    tr {
                        td.wrapper-cell align="center" {
                            (PreEscaped(MSO_OPEN))
                            table.container role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" border="0" bgcolor=(CONTAINER_BACKGROUND) {
                                @if let Some(banner) = frame.banner {
                                    tr { td.banner bgcolor=(BANNER_BACKGROUND) { (banner) } }
                                }
                                tr {
                                    td.header {
                                        @if let Some(home) = home {
                                            a.site-name href=(home) { (site_name) }
                                        } @else {
                                            span.site-name { (site_name) }
                                        }
                                        @if let Some(subtitle) = frame.subtitle.map(sanitize::line).and_then(sanitize::non_empty) {
                                            p.newsletter-name { (subtitle) }
                                        }
                                    }
                                }
                                (rows)
                            }
                            table.footer-container role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" border="0" {
                                tr { td.footer { (footer) } }
                            }
                            (PreEscaped(MSO_CLOSE))
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A "bulletproof" button: the colour sits on the table cell, so Outlook,
/// which ignores padding on links, still shows a coloured block.
pub(crate) fn button(url: &str, label: &str) -> Markup {
    html! {
        table role="presentation" cellpadding="0" cellspacing="0" border="0" {
            tr {
                td.button-cell bgcolor=(BUTTON_BACKGROUND) align="center" {
                    a.button href=(url) target="_blank" { (label) }
                }
            }
        }
    }
}

/// The lines of a postal address, each on its own line; nothing while the
/// address is not set.
pub(crate) fn address(postal_address: &str) -> Markup {
    let address = sanitize::block(postal_address);
    if address.trim().is_empty() {
        return html! {};
    }
    html! {
        p.address {
            @for (index, line) in address.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
                @if index > 0 { br; }
                (line)
            }
        }
    }
}

/// Inlines `css` into `html` and hardens the result. The inliner is
/// configured to never read a file or the network (the `file` and `http`
/// features are off as well): only `@media` rules stay in a `<style>` block.
pub(crate) fn inline_css(css: &str, html: &str) -> Result<String, css_inline::InlineError> {
    let inliner = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .keep_link_tags(false)
        .keep_style_tags(false)
        .keep_at_rules(true)
        .minify_css(true)
        .apply_width_attributes(false)
        .extra_css(Some(Cow::Borrowed(css)))
        .build();
    Ok(harden_attributes(&inliner.inline(html)?))
}

/// Escapes `<` and `>` inside attribute values of serialised HTML.
///
/// The inliner re-serialises the document and, as HTML allows, writes `<`
/// and `>` raw in attribute values, so a story titled `<script>` ends up as
/// `alt="<script>"`. That is safe for a conforming parser, but mail filters
/// and webmail sanitisers are not all conforming (and the HTML standard now
/// escapes them too, against mutation XSS), so they are escaped here. The
/// input is the inliner's output: every attribute value is double-quoted,
/// text never holds a raw `<`, and `<style>` (raw text) is skipped whole.
pub(crate) fn harden_attributes(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 64);
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment
                .find("-->")
                .map_or(rest.len(), |end| end + "<!---->".len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        // A tag (or doctype): copy up to its closing `>`, escaping inside quotes.
        out.push('<');
        let mut in_quotes = false;
        let mut end = rest.len();
        for (index, c) in rest.char_indices().skip(1) {
            match c {
                '"' => {
                    in_quotes = !in_quotes;
                    out.push('"');
                }
                '<' if in_quotes => out.push_str("&lt;"),
                '>' if in_quotes => out.push_str("&gt;"),
                '>' => {
                    out.push('>');
                    end = index + 1;
                    break;
                }
                c => out.push(c),
            }
        }
        let is_style = rest
            .get(1..6)
            .is_some_and(|name| name.eq_ignore_ascii_case("style"))
            && rest
                .as_bytes()
                .get(6)
                .is_some_and(|b| *b == b'>' || b.is_ascii_whitespace());
        rest = &rest[end..];
        if is_style {
            let close = find_ignore_case(rest, "</style").unwrap_or(rest.len());
            out.push_str(&rest[..close]);
            rest = &rest[close..];
        }
    }
    out.push_str(rest);
    out
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harden_escapes_angle_brackets_in_attribute_values_only() {
        let html = "<!DOCTYPE html><html><head><style>td > p { color: red }</style>\
<!--[if mso]><table width=\"600\"><![endif]--></head>\
<body><img alt=\"<script>a > b</script>\" src=\"https://x.test/\">&lt;text&gt;</body></html>";
        assert_eq!(
            harden_attributes(html),
            "<!DOCTYPE html><html><head><style>td > p { color: red }</style>\
<!--[if mso]><table width=\"600\"><![endif]--></head>\
<body><img alt=\"&lt;script&gt;a &gt; b&lt;/script&gt;\" src=\"https://x.test/\">&lt;text&gt;</body></html>"
        );
    }

    #[test]
    fn harden_leaves_plain_html_unchanged() {
        let html = "<p class=\"a\">x</p><style media=\"screen\">a>b{}</style><br>tail";
        assert_eq!(harden_attributes(html), html);
    }

    #[test]
    fn inlining_reads_no_stylesheet_link() {
        let html = "<html><head><link rel=\"stylesheet\" href=\"/etc/passwd\"></head>\
<body><p class=\"x\">a</p></body></html>";
        let out = inline_css(".x { color: red }", html).unwrap();
        assert!(out.contains("style=\"color:red\""), "{out}");
        assert!(!out.contains("<link"), "{out}");
    }
}
