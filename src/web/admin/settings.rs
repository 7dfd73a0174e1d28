//! Settings, for admins only: API tokens (create, shown once; revoke), the
//! users, the DNS records to publish (with a check, [`super::dns_records`]), and a mail check that connects to
//! the configured SMTP server and says what happened.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use lettre::AsyncSmtpTransport;
use lettre::Tokio1Executor;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use maud::{Markup, html};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::auth::{Admin, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page, when};
use crate::api_tokens::ApiTokenError;
use crate::config::{MailSettings, MailTransportKind, SmtpTls};
use crate::delivery::dkim::DkimSigner;
use crate::web::AppState;

const SECTION: &str = "Settings";

/// The records to publish for this configuration.
pub fn expected_records(state: &AppState) -> Vec<crate::dns::Expected> {
    let dkim = state
        .settings
        .mail
        .dkim
        .as_ref()
        .and_then(|dkim| DkimSigner::load(dkim).ok());
    crate::dns::expected(&state.settings, dkim.as_ref())
}

pub async fn settings_page(
    admin: &Admin,
    state: &AppState,
    notice: Option<Markup>,
    dns_findings: Option<Vec<crate::dns::Finding>>,
) -> Result<HttpResponse, AdminError> {
    let editor = &admin.0;
    let tokens = state.store.api_tokens().all().await?;
    let users = state.store.users().all().await?;
    let dkim = state.settings.mail.dkim.as_ref().map(DkimSigner::load);
    let mail = &state.settings.mail;
    let body = html! {
        @if let Some(notice) = notice { (notice) }
        h2 { "Mail" }
        p {
            @match mail.transport {
                MailTransportKind::File => { "Mail is written as files under " code { (mail.outbox_dir.display()) } "." }
                MailTransportKind::Smtp => { "Mail goes to " code { (mail.smtp.host) ":" (mail.smtp.port) } "." }
            }
        }
        form method="post" action="/admin/settings/mail-check" class="inline" {
            (csrf::field(&editor.csrf))
            button type="submit" class="secondary" { "Check mail settings" }
        }
        @if let Some(Err(e)) = &dkim {
            p class="flash error" { "The DKIM key cannot be read: " (e) }
        }
        @if dkim.is_none() {
            p class="muted" { "No DKIM key is configured (mail.dkim): mail goes out unsigned." }
        }
        (super::dns_records::section(&editor.csrf, &expected_records(state), dns_findings.as_deref()))
        h2 { "API tokens" }
        table {
            tr { th { "Name" } th { "Created" } th { "Last used" } th { "" } }
            @for t in &tokens {
                tr {
                    td { (t.name) } td { (when(t.created_at)) } td { (opt_when(t.last_used_at)) }
                    td {
                        @if t.revoked_at.is_some() { "revoked" } @else {
                            form method="post" action={"/admin/settings/tokens/" (t.id) "/revoke"} class="inline" {
                                (csrf::field(&editor.csrf))
                                button type="submit" class="danger" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/admin/settings/tokens" class="actions" {
            (csrf::field(&editor.csrf))
            input name="name" placeholder="Token name, e.g. cms" required aria-label="Token name";
            button type="submit" { "Create token" }
        }
        h2 { "Users" }
        p { a href="/admin/users" { "Add users, change roles, remove users" } " (or " code { "gazette user add EMAIL --role admin|editor" } ")." }
        table {
            tr { th { "Address" } th { "Role" } th { "Last login" } }
            @for u in &users { tr { td { (u.email) } td { (u.role) } td { (opt_when(u.last_login_at)) } } }
        }
    };
    Ok(page(editor, SECTION, "Settings", body))
}

pub async fn show(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    settings_page(&admin, &state, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    admin: Admin,
    state: web::Data<AppState>,
    Checked(form): Checked<TokenForm>,
) -> Result<HttpResponse, AdminError> {
    let notice = match crate::api_tokens::create_token(&state.store, form.name.trim()).await {
        Ok(issued) => html! {
            div class="flash" role="status" {
                p { "Token " strong { (issued.token.name) } " created. Copy it now: it is not shown again." }
                pre class="text" id="new-token" { (issued.secret) }
            }
        },
        Err(ApiTokenError::Store(e)) => return Err(e.into()),
        Err(other) => html! { p class="flash error" role="alert" { (other) } },
    };
    settings_page(&admin, &state, Some(notice), None).await
}

pub async fn revoke_token(
    _admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    match crate::api_tokens::revoke_token(&state.store, &id.to_string()).await {
        Ok(_) | Err(ApiTokenError::NotFound(_)) => Ok(see_other("/admin/settings")),
        Err(ApiTokenError::Store(e)) => Err(e.into()),
        Err(other) => Err(AdminError::BadForm(other.to_string())),
    }
}

pub async fn mail_check(
    admin: Admin,
    state: web::Data<AppState>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let (ok, message) = check_mail(&state.settings.mail).await;
    if ok && state.settings.mail.transport == MailTransportKind::Smtp {
        state
            .mail_check_passed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let notice = html! {
        p class={ "flash" @if !ok { " error" } } role="status" id="mail-check" { (message) }
    };
    settings_page(&admin, &state, Some(notice), None).await
}

/// Connects (and logs in, when credentials are set) without sending.
pub async fn check_mail(mail: &MailSettings) -> (bool, String) {
    if mail.transport == MailTransportKind::File {
        return match std::fs::create_dir_all(&mail.outbox_dir) {
            Ok(()) => (
                true,
                format!(
                    "The file transport writes to {}, which is writable.",
                    mail.outbox_dir.display()
                ),
            ),
            Err(e) => (
                false,
                format!("Cannot use {}: {e}", mail.outbox_dir.display()),
            ),
        };
    }
    let smtp = &mail.smtp;
    let tls = match smtp.tls {
        SmtpTls::None => Ok(Tls::None),
        SmtpTls::Starttls => TlsParameters::new(smtp.host.clone()).map(Tls::Required),
        SmtpTls::Tls => TlsParameters::new(smtp.host.clone()).map(Tls::Wrapper),
    };
    let tls = match tls {
        Ok(tls) => tls,
        Err(e) => return (false, format!("TLS setup failed: {e}")),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        ));
    }
    let target = format!("{}:{}", smtp.host, smtp.port);
    let transport: AsyncSmtpTransport<Tokio1Executor> = builder.build();
    match transport.test_connection().await {
        Ok(true) => (true, format!("Connected to {target}: the server answered.")),
        Ok(false) => (
            false,
            format!("Connected to {target}, but it did not answer NOOP."),
        ),
        Err(e) => (false, format!("Cannot use {target}: {e}")),
    }
}
