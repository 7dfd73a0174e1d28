//! What a new Gazette still needs before it mails readers: the banner that
//! says the sender is not set (on the dashboard and the issue pages), and
//! the dashboard's set-up checklist, each step linking to where it is done.

use maud::{Markup, html};

use super::error::AdminError;
use crate::issues::sender::SenderSetup;
use crate::web::AppState;

/// Says what is missing before issues reach readers; nothing once the
/// sender and the postal address are set.
pub fn sender_banner(state: &AppState) -> Markup {
    let setup = SenderSetup::of(&state.settings);
    if setup.missing().is_empty() {
        return html! {};
    }
    let missing = html! {
        @for (index, missing) in setup.missing().iter().enumerate() {
            @if index > 0 { " and " }
            (missing.label()) " (" code { (missing.key()) } ")"
        }
    };
    html! {
        p class={ "flash " @if setup.over_smtp() { "error" } @else { "warn" } } role="status" id="sender-banner" {
            @if setup.over_smtp() {
                "Issues are not sent until you set " (missing)
                ". Test copies and confirmations still go. "
            } @else {
                "Mail is written to "
                code { (state.settings.mail.outbox_dir.display()) }
                ", not sent, so everything can be tried. Before sending to readers, set "
                (missing) " and " code { "mail.transport = \"smtp\"" } ". "
            }
            a href="/admin/settings" { "Settings" }
        }
    }
}

/// One step of the checklist.
struct Step {
    id: &'static str,
    done: bool,
    text: &'static str,
    link: &'static str,
}

/// The set-up checklist while a step is left: postal address, sender,
/// DKIM, SMTP check, first newsletter with a schedule, first story.
pub async fn checklist(state: &AppState) -> Result<Markup, AdminError> {
    let settings = &state.settings;
    let newsletters = state.store.newsletters().all().await?;
    let stories = state.store.stories().search("", 1).await?;
    let steps = [
        Step {
            id: "setup-postal-address",
            done: settings.site.has_postal_address(),
            text: "Set your postal address (site.postal_address): every issue's footer carries it",
            link: "/admin/settings",
        },
        Step {
            id: "setup-sender",
            done: settings.mail.from.is_set(),
            text: "Set the sender address (mail.from.address), on a domain you own",
            link: "/admin/settings",
        },
        Step {
            id: "setup-dkim",
            done: settings.mail.dkim.is_some(),
            text: "Sign mail with DKIM (mail.dkim) and publish the DNS records",
            link: "/admin/settings",
        },
        Step {
            id: "setup-smtp",
            done: state.mail_check_passed(),
            text: "Send through your SMTP relay (mail.transport = \"smtp\") and run the mail check",
            link: "/admin/settings",
        },
        Step {
            id: "setup-newsletter",
            done: newsletters.iter().any(|n| n.schedule.is_some()),
            text: "Give a newsletter its name and a schedule",
            link: "/admin/newsletters",
        },
        Step {
            id: "setup-story",
            done: !stories.is_empty(),
            text: "Add a first story, or a feed that brings them",
            link: "/admin/stories",
        },
    ];
    if steps.iter().all(|step| step.done) {
        return Ok(html! {});
    }
    let left = steps.iter().filter(|step| !step.done).count();
    Ok(html! {
        section class="setup" id="setup" {
            h2 { "Set-up: " (left) " step" @if left != 1 { "s" } " left" }
            ul class="checklist" {
                @for step in &steps {
                    li id=(step.id) class={ @if step.done { "done" } @else { "todo" } } {
                        @if step.done { "✓ " (step.text) } @else { "☐ " a href=(step.link) { (step.text) } }
                    }
                }
            }
        }
    })
}
