//! The hosted subscribe form (`GET /subscribe`) and its submission
//! (`POST /subscribe`, also the target of the embedded snippet and of the
//! "send me a new link" form), plus the page helpers the other token pages
//! share.
//!
//! No CSRF token here, on purpose: the form is posted from the news site
//! (another origin), carries no session or cookie, and changes nothing a
//! forger could benefit from: the address only becomes subscribed when its
//! owner clicks the link we email. Abuse is held back by the honeypot and
//! the per-IP and per-address rate limits instead.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use email_templates::{Locale, PageWords, Templates};
use maud::{Markup, html};

use crate::newsletters::Newsletter;
use crate::subscriptions::signup;
use crate::subscriptions::{
    ConsentSource, FieldError, NewsletterSlug, SignupError, SignupRequest, SubscriberEmail,
    SubscriberName,
};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;
use crate::web::pages::frame;
use crate::web::rate_limit::{RateLimited, SignupLimits};

/// The hidden field bots fill in and people never see.
pub const HONEYPOT_FIELD: &str = "website";

/// What the visitor typed, kept to show the form again.
#[derive(Debug, Default, Clone)]
pub struct FormValues {
    pub email: String,
    pub name: String,
    pub newsletters: Vec<String>,
}

/// Field errors to show next to the fields.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    pub email: Option<String>,
    pub name: Option<String>,
    pub newsletters: Option<String>,
}

impl FormErrors {
    fn is_empty(&self) -> bool {
        self.email.is_none() && self.name.is_none() && self.newsletters.is_none()
    }

    fn add(&mut self, error: &FieldError, words: &PageWords) {
        let subscribe = &words.subscribe;
        match error.field {
            "email" => self.email = Some(subscribe.email_invalid.clone()),
            "name" => self.name = Some(subscribe.name_invalid.clone()),
            _ => self.newsletters = Some(subscribe.newsletters_invalid.clone()),
        }
    }
}

pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Ok(newsletters) = state.newsletter_listing.all().await else {
        return unavailable(&state, Locale::En);
    };
    let chosen: Vec<String> = query_param(&req, "newsletter").into_iter().collect();
    let locale = page_locale(&newsletters, &chosen);
    let values = FormValues {
        newsletters: chosen,
        ..FormValues::default()
    };
    let words = &state.templates.words(locale).pages;
    page(
        StatusCode::OK,
        locale,
        &words.subscribe.title,
        subscribe_form(words, &newsletters, &values, &FormErrors::default()),
    )
}

pub async fn submit(
    state: web::Data<AppState>,
    limits: web::Data<SignupLimits>,
    client: ClientInfo,
    body: web::Bytes,
) -> HttpResponse {
    let pairs = form_pairs(&body);
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let values = FormValues {
        email: field("email"),
        name: field("name"),
        newsletters: pairs
            .iter()
            .filter(|(k, _)| k == "newsletter")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let Ok(newsletters) = state.newsletter_listing.all().await else {
        return unavailable(&state, Locale::En);
    };
    let locale = page_locale(&newsletters, &values.newsletters);
    let words = &state.templates.words(locale).pages;
    if let Err(limited) = limits.check_ip(client.ip) {
        return too_many(&state, locale, limited);
    }
    // A filled honeypot is a bot: answer exactly as for a person, keep nothing.
    if !field(HONEYPOT_FIELD).is_empty() {
        return check_inbox(&state, locale);
    }
    let mut errors = FormErrors::default();
    let email = SubscriberEmail::parse(&values.email)
        .map_err(|e| errors.add(&e, words))
        .ok();
    let name = SubscriberName::parse(&values.name)
        .map_err(|e| errors.add(&e, words))
        .ok()
        .flatten();
    let slugs: Vec<NewsletterSlug> = values
        .newsletters
        .iter()
        .filter_map(|raw| {
            NewsletterSlug::parse(raw)
                .map_err(|e| errors.add(&e, words))
                .ok()
        })
        .collect();
    let (Some(email), true) = (email, errors.is_empty()) else {
        return form_again(&state, locale, &newsletters, &values, &errors);
    };
    if let Err(limited) = limits.check_address(&email.key()) {
        return too_many(&state, locale, limited);
    }
    let request = SignupRequest {
        email,
        name,
        newsletters: slugs,
        source: ConsentSource::Form,
        client: client.meta(),
    };
    match signup::request_signup(&state.signups, request).await {
        Ok(_) => check_inbox(&state, locale),
        Err(SignupError::Invalid(error)) => {
            errors.add(&error, words);
            form_again(&state, locale, &newsletters, &values, &errors)
        }
        Err(error @ (SignupError::Store(_) | SignupError::Stopped)) => {
            tracing::error!(%error, "signup failed");
            unavailable(&state, locale)
        }
    }
}

fn form_again(
    state: &AppState,
    locale: Locale,
    newsletters: &[Newsletter],
    values: &FormValues,
    errors: &FormErrors,
) -> HttpResponse {
    let words = &state.templates.words(locale).pages;
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        locale,
        &words.subscribe.title,
        subscribe_form(words, newsletters, values, errors),
    )
}

pub fn subscribe_form(
    words: &PageWords,
    newsletters: &[Newsletter],
    values: &FormValues,
    errors: &FormErrors,
) -> Markup {
    let w = &words.subscribe;
    html! {
        h1 { (w.title) }
        p { (w.intro) }
        form method="post" action="/subscribe" id="subscribe-form" {
            label for="email" { (w.email_label) }
            input #email type="email" name="email" value=(values.email) autocomplete="email"
                required maxlength="254" inputmode="email"
                aria-invalid=[errors.email.as_ref().map(|_| "true")]
                aria-describedby=[errors.email.as_ref().map(|_| "email-error")];
            @if let Some(error) = &errors.email {
                p #email-error .error role="alert" { (error) }
            }
            label for="name" { (w.name_label) }
            input #name type="text" name="name" value=(values.name) autocomplete="name"
                maxlength="100"
                aria-invalid=[errors.name.as_ref().map(|_| "true")]
                aria-describedby=[errors.name.as_ref().map(|_| "name-error")];
            @if let Some(error) = &errors.name {
                p #name-error .error role="alert" { (error) }
            }
            @if newsletters.len() > 1 {
                fieldset aria-describedby=[errors.newsletters.as_ref().map(|_| "newsletters-error")] {
                    legend { (w.newsletters_legend) }
                    @for newsletter in newsletters {
                        label .check {
                            input type="checkbox" name="newsletter" value=(newsletter.slug)
                                checked[values.newsletters.contains(&newsletter.slug)];
                            span { (newsletter.name) }
                        }
                    }
                }
            } @else {
                @for slug in &values.newsletters {
                    input type="hidden" name="newsletter" value=(slug);
                }
            }
            @if let Some(error) = &errors.newsletters {
                p #newsletters-error .error role="alert" { (error) }
            }
            (honeypot())
            button type="submit" { (w.button) }
            p .muted { (w.privacy) }
        }
    }
}

/// The hidden field: off-screen, out of the tab order, never autofilled.
pub fn honeypot() -> Markup {
    html! {
        div .hp aria-hidden="true" {
            label for=(HONEYPOT_FIELD) { "Leave this field empty" }
            input id=(HONEYPOT_FIELD) type="text" name=(HONEYPOT_FIELD) tabindex="-1"
                autocomplete="off" value="";
        }
    }
}

pub fn check_inbox(state: &AppState, locale: Locale) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(state.check_inbox_pages.page(locale))
}

/// The "check your inbox" page, rendered once per language at start: it is
/// the same for every signup (the answer must not tell a known address
/// from a new one), and the form answers thousands of posts a second.
pub struct CheckInboxPages(Vec<(Locale, web::Bytes)>);

impl CheckInboxPages {
    pub fn render(templates: &Templates) -> CheckInboxPages {
        CheckInboxPages(
            Locale::ALL
                .into_iter()
                .map(|locale| {
                    let w = &templates.words(locale).pages.check_inbox;
                    let body = html! {
                        h1 { (w.title) }
                        p { (w.body) }
                    };
                    let page = frame(locale.as_str(), &w.title, body).into_string();
                    (locale, web::Bytes::from(page))
                })
                .collect(),
        )
    }

    fn page(&self, locale: Locale) -> web::Bytes {
        self.0
            .iter()
            .find(|(l, _)| *l == locale)
            .map(|(_, page)| page.clone())
            .unwrap_or_default()
    }
}

// ---- helpers shared by the public pages ----

/// The language of a page about these newsletters: the first chosen one's,
/// else the only newsletter's, else English.
pub fn page_locale(newsletters: &[Newsletter], chosen: &[String]) -> Locale {
    let by_choice = chosen
        .iter()
        .find_map(|slug| newsletters.iter().find(|n| &n.slug == slug));
    let newsletter = by_choice.or(match newsletters {
        [only] => Some(only),
        _ => None,
    });
    newsletter.map_or(Locale::En, |n| locale_of(&n.locale))
}

pub fn locale_of(code: &str) -> Locale {
    code.parse().unwrap_or(Locale::En)
}

pub fn page(status: StatusCode, locale: Locale, title: &str, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(frame(locale.as_str(), title, body).into_string())
}

/// A page reached through a token in its URL: no referrer, so the token
/// never leaks to another site, and no caching.
pub fn token_page(status: StatusCode, locale: Locale, title: &str, body: Markup) -> HttpResponse {
    let mut response = page(status, locale, title, body);
    let headers = response.headers_mut();
    headers.insert(
        actix_web::http::header::REFERRER_POLICY,
        actix_web::http::header::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

pub fn too_many(state: &AppState, locale: Locale, limited: RateLimited) -> HttpResponse {
    let w = &state.templates.words(locale).pages.error;
    let mut response = page(
        StatusCode::TOO_MANY_REQUESTS,
        locale,
        &w.too_many_title,
        html! {
            h1 { (w.too_many_title) }
            p { (w.too_many_requests) }
        },
    );
    if let Ok(value) = limited.retry_after_secs().to_string().parse() {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
    response
}

pub fn unavailable(state: &AppState, locale: Locale) -> HttpResponse {
    let w = &state.templates.words(locale).pages.error;
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        locale,
        &w.title,
        html! {
            h1 { (w.title) }
            p { (w.body) }
        },
    )
}

pub fn invalid_link(state: &AppState, locale: Locale) -> HttpResponse {
    let w = &state.templates.words(locale).pages.error;
    token_page(
        StatusCode::BAD_REQUEST,
        locale,
        &w.title,
        html! {
            h1 { (w.title) }
            p { (w.invalid_link) }
        },
    )
}

/// One query parameter, decoded; pages read it by hand so a bad query
/// string answers a page, not the API's JSON error.
pub fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The pairs of a form body (repeated keys kept, bad encoding tolerated).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
