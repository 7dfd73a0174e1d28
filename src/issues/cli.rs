//! `gazette digest preview|send`: what the editors do from a terminal.

use clap::Subcommand;

use std::time::Duration;

use super::build::{BuildOutcome, build_issue, candidate_stories, draft_window_start};
use super::render::{self, GMAIL_CLIP_BYTES};
use super::send::send_issue;
use super::sender::SenderSetup;
use super::{Issue, IssueError};
use crate::config::Settings;
use crate::console::BadInput;
use crate::delivery::outbox::MailWaker;
use crate::links::LinkSigner;
use crate::newsletters::{Newsletter, NewsletterError, find_newsletter};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Print the current draft of a newsletter (built now if there is none) as HTML
    Preview {
        slug: String,
        /// Print the plain-text part instead
        #[arg(long)]
        text: bool,
    },
    /// Send the current draft (built now if there is none) to every active subscriber
    Send {
        slug: String,
        /// Print what would go (subject, stories, recipients) and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(store: &Store, settings: &Settings, command: DigestCommand) -> anyhow::Result<()> {
    match command {
        DigestCommand::Preview { slug, text } => preview(store, settings, &slug, text).await,
        DigestCommand::Send { slug, dry_run } => send(store, settings, &slug, dry_run).await,
    }
}

async fn newsletter(store: &Store, slug: &str) -> anyhow::Result<Newsletter> {
    find_newsletter(store, slug).await.map_err(|e| match e {
        NewsletterError::Store(e) => e.into(),
        other => BadInput(other.to_string()).into(),
    })
}

/// The newsletter's draft, built now when there is none. `None` when there
/// is nothing new to build from.
async fn current_or_new_draft(
    store: &Store,
    newsletter: &Newsletter,
    first_window: Duration,
) -> Result<Option<Issue>, IssueError> {
    if let Some(draft) = store.issues().current_draft(newsletter.id).await? {
        return Ok(Some(draft));
    }
    // Building a skipped issue just to preview it would leave a trace for
    // nothing: look first.
    if newsletter.skip_when_empty
        && candidate_stories(store, newsletter, first_window)
            .await?
            .0
            .is_empty()
    {
        return Ok(None);
    }
    match build_issue(store, newsletter, None, first_window).await? {
        BuildOutcome::Built(issue) => Ok(Some(issue)),
        BuildOutcome::Skipped(_) | BuildOutcome::AlreadyExists(_) => Ok(None),
    }
}

async fn preview(store: &Store, settings: &Settings, slug: &str, text: bool) -> anyhow::Result<()> {
    let newsletter = newsletter(store, slug).await?;
    let Some(draft) =
        current_or_new_draft(store, &newsletter, settings.scheduling.first_issue_window).await?
    else {
        anyhow::bail!("{slug}: no new stories since the previous issue, nothing to preview");
    };
    let content = store
        .issue_content(draft.id)
        .await?
        .ok_or(IssueError::NotFound(draft.id))?;
    let templates = crate::templates::load(settings.templates.dir.as_deref())?;
    let links = LinkSigner::new(
        &store.secret("link_signing_key").await?,
        settings.base_url(),
    );
    let template = render::render_digest(&templates, settings, &content, false)?;
    let email = render::editor_copy(&template, &links);
    if text {
        print!("{}", email.text);
    } else {
        print!("{}", email.html);
    }
    let verdict = if email.html.len() > GMAIL_CLIP_BYTES {
        "over Gmail's clipping limit: Gmail will hide the end of it"
    } else {
        "under Gmail's clipping limit"
    };
    eprintln!(
        "issue {} ({} stories): subject {:?}; HTML {} bytes, {verdict} ({} bytes); text {} bytes",
        draft.id,
        content.stories.len(),
        email.subject,
        email.html.len(),
        GMAIL_CLIP_BYTES,
        email.text.len()
    );
    Ok(())
}

async fn send(store: &Store, settings: &Settings, slug: &str, dry_run: bool) -> anyhow::Result<()> {
    let newsletter = newsletter(store, slug).await?;
    let first_window = settings.scheduling.first_issue_window;
    let recipients = store.issues().count_recipients(newsletter.id).await?;
    if dry_run {
        let (label, subject, stories, since) =
            match store.issues().current_draft(newsletter.id).await? {
                Some(draft) => {
                    let since =
                        draft_window_start(store, &newsletter, &draft, first_window).await?;
                    (
                        format!("draft issue {}", draft.id),
                        draft.subject.clone(),
                        store.stories().of_issue(draft.id).await?,
                        since,
                    )
                }
                None => {
                    let (stories, since) =
                        candidate_stories(store, &newsletter, first_window).await?;
                    let subject = stories
                        .first()
                        .map(|s| s.title.clone())
                        .unwrap_or_else(|| newsletter.name.clone());
                    ("a new issue".to_string(), subject, stories, since)
                }
            };
        let since = crate::console::format_ms(since);
        if stories.is_empty() && newsletter.skip_when_empty {
            println!("dry run: nothing would go: no new stories published since {since}");
            return Ok(());
        }
        println!("dry run: {label} would go to {recipients} subscribers");
        println!("subject: {subject}");
        println!("stories published since {since}");
        for (index, story) in stories.iter().enumerate() {
            println!("{:>3}. {}  <{}>", index + 1, story.title, story.url);
        }
        return Ok(());
    }
    let sender = SenderSetup::of(settings);
    sender.allow_issue()?;
    let Some(draft) = current_or_new_draft(store, &newsletter, first_window).await? else {
        println!("{slug}: no new stories since the previous issue, nothing sent");
        return Ok(());
    };
    // This process runs no delivery workers: the running server's workers
    // find the rows at their next poll.
    let issue = send_issue(store, &MailWaker::default(), &sender, draft.id).await?;
    println!(
        "issue {} ({:?}) queued for {} subscribers; the running Gazette delivers it",
        issue.id, issue.subject, issue.total_count
    );
    Ok(())
}
