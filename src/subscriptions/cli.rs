//! `gazette subscribers import FILE.csv --newsletter SLUG` and `gazette
//! subscribers export`: the same import and export as the admin's.
//! Import prints progress lines on standard error, then the report on
//! standard output; it exits with code 2 when the file is refused or any
//! row was rejected, so a script notices.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::export::{self, EXPORT_BATCH};
use super::import::{self, ImportProgress, ImportReport, MAX_IMPORT_BYTES};
use crate::console::BadInput;
use crate::newsletters::{NewsletterError, find_newsletter};
use crate::store::subscribers::{SubscriberFilter, SubscriberStatus};
use crate::store::{Store, now_ms};

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Import subscribers from a CSV file (columns: email, name, opted_in, consented_at)
    Import {
        /// The CSV file; its first line names the columns
        file: PathBuf,
        /// The newsletter they are imported into
        #[arg(long)]
        newsletter: String,
    },
    /// Print subscribers as CSV on standard output
    Export {
        /// Only those subscribed (pending or active) to this newsletter
        #[arg(long)]
        newsletter: Option<String>,
        /// Only those in this status
        #[arg(long, value_parser = SubscriberStatus::ALL.map(SubscriberStatus::as_str))]
        status: Option<String>,
    },
}

pub async fn run(
    store: &Store,
    erased: &super::ErasedAddresses,
    command: SubscribersCommand,
) -> anyhow::Result<()> {
    match command {
        SubscribersCommand::Import { file, newsletter } => {
            import_file(store, erased, &file, &newsletter).await
        }
        SubscribersCommand::Export { newsletter, status } => {
            export_all(store, newsletter.as_deref(), status.as_deref()).await
        }
    }
}

async fn newsletter_id(
    store: &Store,
    slug: &str,
) -> anyhow::Result<crate::newsletters::Newsletter> {
    find_newsletter(store, slug).await.map_err(|e| match e {
        NewsletterError::Store(e) => e.into(),
        other => BadInput(other.to_string()).into(),
    })
}

async fn import_file(
    store: &Store,
    erased: &super::ErasedAddresses,
    file: &std::path::Path,
    slug: &str,
) -> anyhow::Result<()> {
    let newsletter = newsletter_id(store, slug).await?;
    let shown = file.display().to_string();
    let size = std::fs::metadata(file)
        .map_err(|e| BadInput(format!("cannot read {shown}: {e}")))?
        .len();
    if size > MAX_IMPORT_BYTES as u64 {
        return Err(
            BadInput(import::ImportRefused::TooLarge(MAX_IMPORT_BYTES >> 20).to_string()).into(),
        );
    }
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| BadInput(format!("cannot read {shown}: {e}")))?;
    let parsed = tokio::task::spawn_blocking(move || import::parse_import(&bytes, now_ms()))
        .await?
        .map_err(|refused| BadInput(format!("{shown}: {refused}")))?;
    let file_name = file
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().to_string());
    let job_id = import::jobs::start_job(
        store,
        newsletter.id,
        &file_name,
        "cli",
        parsed.total_rows,
        None,
    )
    .await?;
    eprintln!(
        "importing {} rows into {} (import #{job_id})",
        parsed.total_rows, newsletter.slug
    );
    let mut last_tenth = 0;
    let report = import::run_import(store, erased, &newsletter, parsed, job_id, |p| {
        print_progress(p, &mut last_tenth)
    })
    .await?;
    print_report(&report);
    if report.rejected.is_empty() {
        Ok(())
    } else {
        Err(BadInput(format!(
            "{} of {} rows were rejected (listed above); the others are imported",
            report.rejected.len(),
            report.total_rows
        ))
        .into())
    }
}

/// A line at every tenth of the file, so a large import shows it moves
/// without flooding a log.
fn print_progress(progress: ImportProgress, last_tenth: &mut u64) {
    let tenth = progress.processed * 10 / progress.total.max(1);
    if tenth > *last_tenth {
        *last_tenth = tenth;
        eprintln!(
            "{} of {} rows ({} %)",
            progress.processed,
            progress.total,
            progress.processed * 100 / progress.total.max(1)
        );
    }
}

fn print_report(report: &ImportReport) {
    println!(
        "{} rows: {} added as confirmed, {} added pending (confirmation email queued), {} already subscribed, {} rejected",
        report.total_rows,
        report.added_active,
        report.added_pending,
        report.unchanged,
        report.rejected.len()
    );
    for rejection in &report.rejected {
        println!(
            "line {}: {} — {}",
            rejection.line, rejection.email, rejection.reason
        );
    }
    if report.added_pending > 0 {
        println!("The confirmation emails are in the outbox; `gazette serve` sends them.");
    }
}

async fn export_all(
    store: &Store,
    newsletter: Option<&str>,
    status: Option<&str>,
) -> anyhow::Result<()> {
    let newsletter_id = match newsletter {
        Some(slug) => Some(newsletter_id(store, slug).await?.id),
        None => None,
    };
    let filter = SubscriberFilter {
        search: String::new(),
        status: status.and_then(SubscriberStatus::parse),
        newsletter_id,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(export::CSV_HEADER.as_bytes())?;
    let mut after = 0;
    loop {
        let batch = store
            .search_subscribers(&filter, after, EXPORT_BATCH)
            .await?;
        let mut chunk = String::new();
        for line in &batch.lines {
            export::csv_line(&mut chunk, line);
        }
        out.write_all(chunk.as_bytes())?;
        match batch.next_after {
            Some(next) => after = next,
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}
