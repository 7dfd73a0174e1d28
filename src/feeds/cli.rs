//! `gazette feed add|list|poll`.

use clap::Subcommand;

use super::{FeedError, FeedFetcher, add_feed, poll_feed_now};
use crate::config::FeedSettings;
use crate::console::{BadInput, format_ms};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Poll an RSS, Atom or JSON Feed URL for stories
    Add {
        url: String,
        /// Seconds between polls (60-86400, default 900)
        #[arg(long)]
        interval: Option<i64>,
    },
    /// List feeds with their last poll and error
    List,
    /// Poll one feed now and print what it brought
    Poll { id: i64 },
}

pub async fn run(
    store: &Store,
    settings: &FeedSettings,
    command: FeedCommand,
) -> anyhow::Result<()> {
    let fetcher = FeedFetcher::new(settings)?;
    match command {
        FeedCommand::Add { url, interval } => {
            let feed = add_feed(store, &fetcher, &url, interval)
                .await
                .map_err(bad_input)?;
            println!(
                "added feed {} ({}), polled every {} s",
                feed.id, feed.url, feed.poll_interval_secs
            );
        }
        FeedCommand::List => {
            for feed in store.feeds().all().await? {
                let polled = feed
                    .last_polled_at
                    .map(format_ms)
                    .unwrap_or_else(|| "never".to_string());
                let state = feed.last_error.as_deref().unwrap_or("ok");
                println!("{}\t{}\tpolled {}\t{}", feed.id, feed.url, polled, state);
            }
        }
        FeedCommand::Poll { id } => {
            let report = poll_feed_now(store, &fetcher, id)
                .await
                .map_err(bad_input)?;
            match report.error {
                Some(error) => anyhow::bail!("feed {id}: {error}"),
                None if report.not_modified => println!("feed {id}: not modified"),
                None => println!(
                    "feed {id}: {} new, {} updated, {} unchanged, {} already known by URL",
                    report.created, report.updated, report.unchanged, report.duplicates
                ),
            }
        }
    }
    Ok(())
}

fn bad_input(error: FeedError) -> anyhow::Error {
    match error {
        FeedError::Store(e) => e.into(),
        other => BadInput(other.to_string()).into(),
    }
}
