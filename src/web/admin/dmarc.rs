//! The DMARC reports page: what receivers (Google, Microsoft, Yahoo...)
//! said of the mail bearing the site's domain, report by report, and each
//! report's sending sources. Its question for editors: does every source
//! that sends as us pass DMARC, so the policy can move past `p=none`?

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Editor;
use super::error::AdminError;
use super::layout::{older_link, page, when};
use crate::store::dmarc_reports::DmarcReport;
use crate::web::AppState;

const SECTION: &str = "Bounces";
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    before: Option<i64>,
}

pub async fn list(
    editor: Editor,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let reports = state
        .store
        .dmarc_reports()
        .list(query.before, PAGE_SIZE)
        .await?;
    let body = html! {
        p { a href="/admin/bounces" { "← Bounces and complaints" } }
        @if reports.is_empty() {
            p class="muted" {
                "No DMARC report yet. Receivers send one a day to the rua address of your DMARC record: "
                "publish the record Settings shows, with "
                code { "mail.bounce.complaints_address" }
                " as its rua, and the reports appear here the day after mail goes out."
            }
        } @else {
            (report_table(&reports))
            (older_link(&reports, PAGE_SIZE, |r| r.id, |id| format!("/admin/dmarc?before={id}"), "Older reports →"))
        }
    };
    Ok(page(&editor, SECTION, "DMARC reports", body))
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let (report, sources) = state
        .store
        .dmarc_reports()
        .by_id(*id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let body = html! {
        p { a href="/admin/dmarc" { "← DMARC reports" } }
        (report_table(std::slice::from_ref(&report)))
        h2 { "Who sent mail as " (report.domain) }
        p class="muted" {
            "A source whose mail fails both DKIM and SPF is either not yours (someone using your domain) "
            "or yours and not yet set up: sign its mail with DKIM or add it to SPF before moving past p=none."
        }
        table {
            tr {
                th { "Source" } th { "Messages" } th { "DKIM" } th { "SPF" }
                th { "DMARC" } th { "Receiver did" } th { "From domain" }
            }
            @for s in &sources {
                @let passed = s.dkim == "pass" || s.spf == "pass";
                tr {
                    td { code { (s.source_ip) } }
                    td { (s.count) }
                    td { (s.dkim) }
                    td { (s.spf) }
                    td data-dmarc=(if passed { "pass" } else { "fail" }) {
                        @if passed { "pass" } @else { strong { "fail" } }
                    }
                    td { (s.disposition) }
                    td { (s.header_from) }
                }
            }
        }
    };
    Ok(page(
        &editor,
        SECTION,
        &format!("DMARC report from {}", report.org_name),
        body,
    ))
}

fn report_table(reports: &[DmarcReport]) -> Markup {
    html! {
        table {
            tr {
                th { "Period" } th { "Reporter" } th { "Domain" } th { "Policy" }
                th { "Messages" } th { "Passed DMARC" } th { "DKIM pass" } th { "SPF pass" }
            }
            @for r in reports {
                tr {
                    td { a href={"/admin/dmarc/" (r.id)} { (when(r.date_begin)) " – " (when(r.date_end)) } }
                    td { (r.org_name) }
                    td { (r.domain) }
                    td { "p=" (r.policy) }
                    td { (r.messages) }
                    td class=(if r.dmarc_pass < r.messages { "warn" } else { "" }) data-passed=(r.dmarc_pass) {
                        (r.dmarc_pass) " (" (share(r.dmarc_pass, r.messages)) ")"
                    }
                    td { (share(r.dkim_pass, r.messages)) }
                    td { (share(r.spf_pass, r.messages)) }
                }
            }
        }
    }
}

fn share(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "—".into();
    }
    format!("{:.1} %", part as f64 * 100.0 / whole as f64)
}
