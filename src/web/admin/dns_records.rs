//! The Settings page's DNS section: every record a bulk sender publishes,
//! filled from the configuration, and on request a check of each against
//! what DNS answers (`POST /admin/settings/dns-check`).

use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::auth::Admin;
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::settings::settings_page;
use crate::dns::{Expected, Finding};
use crate::web::AppState;

/// The records, with what DNS said of each when it was asked.
pub fn section(csrf_token: &str, records: &[Expected], findings: Option<&[Finding]>) -> Markup {
    html! {
        h2 { "DNS records" }
        p { "Publish these records so mailbox providers trust your newsletters. They are filled from the configuration." }
        table class="dns" {
            tr {
                th { "Record" } th { "Name" } th { "Type" } th { "Value" }
                @if findings.is_some() { th { "In DNS now" } }
            }
            @for (n, record) in records.iter().enumerate() {
                tr data-record=(record.kind.label()) {
                    td { (record.kind.label()) }
                    td { code { (record.name) } }
                    td { (record.record_type) }
                    td { pre class="text" { (record.value) } p class="muted" { (record.note) } }
                    @if let Some(findings) = findings {
                        td { (finding(findings.get(n))) }
                    }
                }
            }
        }
        form method="post" action="/admin/settings/dns-check" class="inline" {
            (csrf::field(csrf_token))
            button type="submit" class="secondary" { "Check DNS" }
        }
    }
}

fn finding(finding: Option<&Finding>) -> Markup {
    match finding {
        Some(Finding::Right(found)) => {
            html! { span class="ok" data-finding="right" title=(found) { "✓ published" } }
        }
        Some(Finding::Wrong(why)) => html! { span class="bad" data-finding="wrong" { "✗ " (why) } },
        Some(Finding::Missing) => {
            html! { span class="bad" data-finding="missing" { "✗ not published" } }
        }
        Some(Finding::Unreachable(error)) => {
            html! { span class="muted" data-finding="unreachable" { "DNS could not be asked: " (error) } }
        }
        None => html! {},
    }
}

pub async fn dns_check(
    admin: Admin,
    state: web::Data<AppState>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let records = super::settings::expected_records(&state);
    let servers = state.settings.dns.server_addresses().unwrap_or_default();
    let findings = crate::dns::check(&records, &servers).await;
    settings_page(&admin, &state, None, Some(findings)).await
}
