//! The JSON shapes of newsletters, stories, issues and feeds as the API
//! answers them: times in RFC 3339, tags as lists, nothing internal.

use chrono::{TimeZone, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::bounces::EventCounts;
use crate::feeds::Feed;
use crate::issues::{DeliveryCounts, Issue};
use crate::newsletters::{Newsletter, NextRun};
use crate::stories::Story;

pub fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn tags(column: &str) -> Vec<String> {
    crate::tags::Tags::from_column(column).as_slice().to_vec()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NextRunView {
    /// In the newsletter's timezone, with its offset.
    #[schema(format = DateTime)]
    pub local: String,
    #[schema(format = DateTime)]
    pub utc: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewsletterView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub locale: String,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub max_stories: i64,
    pub tags: Vec<String>,
    pub review_before_send: bool,
    pub skip_when_empty: bool,
    pub schedule: Option<String>,
    pub timezone: String,
    pub paused: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_runs: Option<Vec<NextRunView>>,
}

impl NewsletterView {
    pub fn new(newsletter: &Newsletter, next_runs: Option<&[NextRun]>) -> NewsletterView {
        NewsletterView {
            id: newsletter.id,
            slug: newsletter.slug.clone(),
            name: newsletter.name.clone(),
            description: newsletter.description.clone(),
            locale: newsletter.locale.clone(),
            sender_name: newsletter.sender_name.clone(),
            reply_to: newsletter.reply_to.clone(),
            max_stories: newsletter.max_stories,
            tags: tags(&newsletter.tags),
            review_before_send: newsletter.review_before_send,
            skip_when_empty: newsletter.skip_when_empty,
            schedule: newsletter.schedule.clone(),
            timezone: newsletter.timezone.clone(),
            paused: newsletter.paused,
            created_at: rfc3339(newsletter.created_at),
            updated_at: rfc3339(newsletter.updated_at),
            next_runs: next_runs.map(|runs| {
                runs.iter()
                    .map(|run| NextRunView {
                        local: run.local.to_rfc3339(),
                        utc: run.utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoryView {
    pub id: i64,
    pub url: String,
    pub external_id: Option<String>,
    pub feed_id: Option<i64>,
    pub title: String,
    pub summary: Option<String>,
    pub image_url: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    #[schema(format = DateTime)]
    pub published_at: String,
    pub hidden: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Story> for StoryView {
    fn from(story: &Story) -> StoryView {
        StoryView {
            id: story.id,
            url: story.url.clone(),
            external_id: story.external_id.clone(),
            feed_id: story.feed_id,
            title: story.title.clone(),
            summary: story.summary.clone(),
            image_url: story.image_url.clone(),
            author: story.author.clone(),
            tags: story.tags.as_slice().to_vec(),
            published_at: rfc3339(story.published_at),
            hidden: story.hidden,
            created_at: rfc3339(story.created_at),
            updated_at: rfc3339(story.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountsView {
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    /// Waiting or in flight.
    pub pending: i64,
    pub cancelled: i64,
}

impl From<DeliveryCounts> for CountsView {
    fn from(counts: DeliveryCounts) -> CountsView {
        CountsView {
            total: counts.total(),
            sent: counts.sent,
            failed: counts.failed,
            pending: counts.pending + counts.sending,
            cancelled: counts.cancelled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssueView {
    pub id: i64,
    pub newsletter: String,
    #[schema(format = DateTime)]
    pub slot_at: Option<String>,
    /// draft, sending, sent, cancelled, skipped or missed
    #[schema(value_type = String)]
    pub status: &'static str,
    pub subject: String,
    pub preheader: Option<String>,
    pub intro: Option<String>,
    pub skip_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub send_at: Option<String>,
    #[schema(format = DateTime)]
    pub sent_at: Option<String>,
    pub stories: Vec<StoryView>,
    pub counts: CountsView,
    /// Deliveries that bounced for good: refused by the relay, or reported
    /// by a DSN or a provider afterwards.
    pub bounced: i64,
    /// Deliveries whose reader reported the issue as spam.
    pub complained: i64,
}

impl IssueView {
    pub fn new(
        issue: &Issue,
        newsletter_slug: &str,
        stories: &[Story],
        counts: DeliveryCounts,
        events: EventCounts,
    ) -> IssueView {
        IssueView {
            id: issue.id,
            newsletter: newsletter_slug.to_string(),
            slot_at: issue.slot_at.map(rfc3339),
            status: issue.status.as_str(),
            subject: issue.subject.clone(),
            preheader: issue.preheader.clone(),
            intro: issue.intro.clone(),
            skip_reason: issue.skip_reason.clone(),
            created_at: rfc3339(issue.created_at),
            send_at: issue.send_at.map(rfc3339),
            sent_at: issue.sent_at.map(rfc3339),
            stories: stories.iter().map(StoryView::from).collect(),
            counts: counts.into(),
            bounced: events.hard_bounces,
            complained: events.complaints,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    pub id: i64,
    pub url: String,
    pub title: Option<String>,
    pub poll_interval_secs: i64,
    #[schema(format = DateTime)]
    pub last_polled_at: Option<String>,
    pub last_error: Option<String>,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Feed> for FeedView {
    fn from(feed: &Feed) -> FeedView {
        FeedView {
            id: feed.id,
            url: feed.url.clone(),
            title: feed.title.clone(),
            poll_interval_secs: feed.poll_interval_secs,
            last_polled_at: feed.last_polled_at.map(rfc3339),
            last_error: feed.last_error.clone(),
            active: feed.active,
            created_at: rfc3339(feed.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoryList {
    pub stories: Vec<StoryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewsletterList {
    pub newsletters: Vec<NewsletterView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedList {
    pub feeds: Vec<FeedView>,
}
