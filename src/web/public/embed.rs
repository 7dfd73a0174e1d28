//! `GET /embed[?newsletter=SLUG]`: the HTML snippet a site owner pastes into
//! the news site, shown escaped for copying and rendered as a live preview.
//! The snippet posts to `{base_url}/subscribe`, which answers a page in the
//! visitor's tab; it needs no script and no stylesheet from us.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use email_templates::{Locale, PageWords};
use maud::{PreEscaped, html};

use super::subscribe::{HONEYPOT_FIELD, page, page_locale, query_param, unavailable};
use crate::newsletters::Newsletter;
use crate::web::AppState;

pub async fn page_handler(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Ok(newsletters) = state.store.newsletters().all().await else {
        return unavailable(&state, Locale::En);
    };
    let chosen: Vec<String> = query_param(&req, "newsletter")
        .filter(|slug| newsletters.iter().any(|n| &n.slug == slug))
        .into_iter()
        .collect();
    let locale = page_locale(&newsletters, &chosen);
    let words = &state.templates.words(locale).pages;
    let code = snippet(state.settings.base_url(), words, &newsletters, &chosen);
    page(
        StatusCode::OK,
        locale,
        "Embed the subscribe form",
        html! {
            h1 { "Embed the subscribe form" }
            p {
                "Copy this HTML into your site where the form should appear. It posts to "
                code { (state.settings.base_url()) "/subscribe" }
                " and needs no script. Add " code { "?newsletter=SLUG" }
                " to this page's address for a form for one newsletter."
            }
            label for="snippet" { "HTML snippet" }
            textarea #snippet readonly rows="14" spellcheck="false" { (code) }
            h2 { "Preview" }
            div #preview { (PreEscaped(&code)) }
        },
    )
}

/// The form as plain HTML with inline styles (the host page's CSS is
/// unknown). Every value in it is escaped by maud.
pub fn snippet(
    base_url: &str,
    words: &PageWords,
    newsletters: &[Newsletter],
    chosen: &[String],
) -> String {
    let w = &words.subscribe;
    let field = "display:block;width:100%;max-width:24rem;padding:.5rem;margin:.25rem 0 .75rem;\
                 font:inherit;border:1px solid #8c8f94;border-radius:6px";
    let several = chosen.is_empty() && newsletters.len() > 1;
    html! {
        form class="gazette-subscribe" method="post" action={ (base_url) "/subscribe" } {
            label for="gazette-email" { (w.email_label) }
            input id="gazette-email" type="email" name="email" required autocomplete="email"
                style=(field);
            label for="gazette-name" { (w.name_label) }
            input id="gazette-name" type="text" name="name" autocomplete="name" maxlength="100"
                style=(field);
            @if several {
                fieldset style="border:0;padding:0;margin:0 0 .75rem" {
                    legend { (w.newsletters_legend) }
                    @for newsletter in newsletters {
                        label style="display:block" {
                            input type="checkbox" name="newsletter" value=(newsletter.slug);
                            " " (newsletter.name)
                        }
                    }
                }
            }
            @for slug in chosen {
                input type="hidden" name="newsletter" value=(slug);
            }
            div aria-hidden="true" style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" {
                input type="text" name=(HONEYPOT_FIELD) tabindex="-1" autocomplete="off" value="";
            }
            button type="submit" style="padding:.6rem 1.2rem;font:inherit;font-weight:600;color:#fff;background:#9a3412;border:0;border-radius:6px;cursor:pointer" {
                (w.button)
            }
        }
    }
    .into_string()
}
