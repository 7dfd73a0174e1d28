//! `gazette newsletter add|show|list|pause|resume`.

use clap::Subcommand;

use super::{
    NewsletterError, NewsletterInput, create_newsletter, find_newsletter, next_runs,
    update_newsletter,
};
use crate::console::{BadInput, format_ms};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum NewsletterCommand {
    /// Create a newsletter
    Add {
        /// Lower-case letters, digits and dashes, used in URLs
        slug: String,
        /// The name subscribers see
        #[arg(long)]
        name: String,
        /// Cron expression, for example "0 7 * * FRI"
        #[arg(long)]
        schedule: Option<String>,
        /// IANA timezone of the schedule, for example Africa/Bamako
        #[arg(long)]
        timezone: Option<String>,
        /// en or fr
        #[arg(long)]
        locale: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// At most this many stories per issue (1-100)
        #[arg(long)]
        max_stories: Option<i64>,
        /// Only stories with one of these tags (comma-separated)
        #[arg(long, value_delimiter = ',')]
        tags: Option<Vec<String>>,
        /// Leave scheduled issues as drafts for an editor to send
        #[arg(long)]
        review: bool,
        /// Build an issue even when there are no new stories
        #[arg(long)]
        keep_empty: bool,
    },
    /// Show a newsletter's settings and its next five runs
    Show { slug: String },
    /// List newsletters
    List,
    /// Stop scheduled issues until resumed (slots while paused are not owed)
    Pause { slug: String },
    /// Start scheduled issues again from the next slot
    Resume { slug: String },
}

pub async fn run(store: &Store, command: NewsletterCommand) -> anyhow::Result<()> {
    match command {
        NewsletterCommand::Add {
            slug,
            name,
            schedule,
            timezone,
            locale,
            description,
            max_stories,
            tags,
            review,
            keep_empty,
        } => {
            let input = NewsletterInput {
                slug: Some(slug),
                name: Some(name),
                description,
                locale,
                max_stories,
                tags,
                review_before_send: Some(review),
                skip_when_empty: Some(!keep_empty),
                schedule: schedule.map(Some),
                timezone,
                ..NewsletterInput::default()
            };
            let newsletter = create_newsletter(store, input).await.map_err(bad_input)?;
            println!("created newsletter {}", newsletter.slug);
            print_newsletter(&newsletter);
        }
        NewsletterCommand::Show { slug } => {
            let newsletter = find_newsletter(store, &slug).await.map_err(bad_input)?;
            print_newsletter(&newsletter);
        }
        NewsletterCommand::Pause { slug } => set_paused(store, &slug, true).await?,
        NewsletterCommand::Resume { slug } => set_paused(store, &slug, false).await?,
        NewsletterCommand::List => {
            for newsletter in store.newsletters().all().await? {
                let schedule = match &newsletter.schedule {
                    Some(cron) => format!("{cron} ({})", newsletter.timezone),
                    None => "not scheduled".to_string(),
                };
                println!("{}\t{}\t{}", newsletter.slug, newsletter.name, schedule);
            }
        }
    }
    Ok(())
}

/// The same update the API's PUT makes; a running server sees it at its
/// next scheduler pass (within 30 seconds).
async fn set_paused(store: &Store, slug: &str, paused: bool) -> anyhow::Result<()> {
    let input = NewsletterInput {
        paused: Some(paused),
        ..NewsletterInput::default()
    };
    let newsletter = update_newsletter(store, slug, input)
        .await
        .map_err(bad_input)?;
    let done = if paused { "paused" } else { "resumed" };
    println!("{done} {}", newsletter.slug);
    Ok(())
}

fn print_newsletter(newsletter: &super::Newsletter) {
    let yes_no = |flag: bool| if flag { "yes" } else { "no" };
    println!("slug:               {}", newsletter.slug);
    println!("name:               {}", newsletter.name);
    if !newsletter.description.is_empty() {
        println!("description:        {}", newsletter.description);
    }
    println!("locale:             {}", newsletter.locale);
    if let Some(sender) = &newsletter.sender_name {
        println!("sender name:        {sender}");
    }
    if let Some(reply_to) = &newsletter.reply_to {
        println!("reply-to:           {reply_to}");
    }
    println!("max stories:        {}", newsletter.max_stories);
    let tags = if newsletter.tags.is_empty() {
        "(every story)"
    } else {
        &newsletter.tags
    };
    println!("tags:               {tags}");
    println!(
        "review before send: {}",
        yes_no(newsletter.review_before_send)
    );
    println!("skip when empty:    {}", yes_no(newsletter.skip_when_empty));
    println!("paused:             {}", yes_no(newsletter.paused));
    println!("created:            {}", format_ms(newsletter.created_at));
    match &newsletter.schedule {
        None => println!("schedule:           none"),
        Some(cron) => {
            println!("schedule:           {cron} ({})", newsletter.timezone);
            println!("next runs:");
            for run in next_runs(newsletter, chrono::Utc::now(), 5) {
                println!(
                    "  {}  ({})",
                    run.local.format("%a %Y-%m-%d %H:%M %Z"),
                    run.utc.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
    }
}

fn bad_input(error: NewsletterError) -> anyhow::Error {
    match error {
        NewsletterError::Store(e) => e.into(),
        other => BadInput(other.to_string()).into(),
    }
}
