//! A newsletter's settings as a domain type: every field the API or the CLI
//! may set is parsed and checked here once, the schedule together with its
//! timezone, so the store and the scheduler only ever see valid settings.
//! Input is partial ([`NewsletterInput`]): creating starts from the defaults,
//! updating from the stored newsletter, and only the given fields change.

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;
use email_templates::Locale;

use super::Newsletter;
pub use super::input::NewsletterInput;
use super::schedule::{Schedule, ScheduleError};
use crate::tags::Tags;

pub const MAX_SLUG: usize = 64;
pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_SENDER_NAME: usize = 100;
pub const DEFAULT_MAX_STORIES: i64 = 10;

/// The problems found in an input, by field, all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidSettings {
    pub fields: BTreeMap<&'static str, String>,
}

impl InvalidSettings {
    fn add(&mut self, field: &'static str, problem: impl Into<String>) {
        self.fields.entry(field).or_insert_with(|| problem.into());
    }
}

impl fmt::Display for InvalidSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, problem) in &self.fields {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidSettings {}

/// Lower-case letters, digits and dashes, 1 to 64: it appears in URLs
/// (`/archive/SLUG`) and on command lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Slug, String> {
        let slug = raw.trim();
        if slug.is_empty() || slug.len() > MAX_SLUG {
            return Err(format!("must be 1 to {MAX_SLUG} characters"));
        }
        if !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("use only lower-case letters a-z, digits and dashes".into());
        }
        if slug.starts_with('-') {
            return Err("must not start with a dash".into());
        }
        Ok(Slug(slug.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A newsletter's settings, all valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsletterSettings {
    pub slug: Slug,
    pub name: String,
    pub description: String,
    pub locale: Locale,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub max_stories: i64,
    pub tags: Tags,
    pub review_before_send: bool,
    pub skip_when_empty: bool,
    pub schedule: Option<String>,
    pub timezone: String,
    pub paused: bool,
}

impl NewsletterSettings {
    /// The settings as the store writes them.
    pub fn fields(&self) -> crate::store::newsletters::NewsletterFields<'_> {
        crate::store::newsletters::NewsletterFields {
            slug: self.slug.as_str(),
            name: &self.name,
            description: &self.description,
            locale: self.locale.as_str(),
            sender_name: self.sender_name.as_deref(),
            reply_to: self.reply_to.as_deref(),
            max_stories: self.max_stories,
            tags: &self.tags,
            review_before_send: self.review_before_send,
            skip_when_empty: self.skip_when_empty,
            schedule: self.schedule.as_deref(),
            timezone: &self.timezone,
            paused: self.paused,
        }
    }

    /// Settings for a new newsletter: `slug` and `name` are required.
    pub fn parse_new(input: NewsletterInput) -> Result<NewsletterSettings, InvalidSettings> {
        let mut problems = InvalidSettings::default();
        let slug = match input.slug.as_deref().map(Slug::parse) {
            Some(Ok(slug)) => Some(slug),
            Some(Err(problem)) => {
                problems.add("slug", problem);
                None
            }
            None => {
                problems.add("slug", "is required");
                None
            }
        };
        if input.name.is_none() {
            problems.add("name", "is required");
        }
        let base = NewsletterSettings {
            slug: slug.unwrap_or(Slug(String::new())),
            name: String::new(),
            description: String::new(),
            locale: Locale::En,
            sender_name: None,
            reply_to: None,
            max_stories: DEFAULT_MAX_STORIES,
            tags: Tags::default(),
            review_before_send: false,
            skip_when_empty: true,
            schedule: None,
            timezone: "UTC".to_string(),
            paused: false,
        };
        base.apply_into(input, problems)
    }

    /// The stored settings of `newsletter`.
    pub fn of(newsletter: &Newsletter) -> NewsletterSettings {
        NewsletterSettings {
            slug: Slug(newsletter.slug.clone()),
            name: newsletter.name.clone(),
            description: newsletter.description.clone(),
            locale: newsletter.locale.parse().unwrap_or_default(),
            sender_name: newsletter.sender_name.clone(),
            reply_to: newsletter.reply_to.clone(),
            max_stories: newsletter.max_stories,
            tags: Tags::from_column(&newsletter.tags),
            review_before_send: newsletter.review_before_send,
            skip_when_empty: newsletter.skip_when_empty,
            schedule: newsletter.schedule.clone(),
            timezone: newsletter.timezone.clone(),
            paused: newsletter.paused,
        }
    }

    /// These settings with the fields of `input` applied; the slug cannot
    /// change (it is in every archive link already sent).
    pub fn apply(self, input: NewsletterInput) -> Result<NewsletterSettings, InvalidSettings> {
        let mut problems = InvalidSettings::default();
        if let Some(slug) = &input.slug
            && slug.trim() != self.slug.as_str()
        {
            problems.add(
                "slug",
                "cannot be changed (archive links already sent use it)",
            );
        }
        self.apply_into(input, problems)
    }

    fn apply_into(
        mut self,
        input: NewsletterInput,
        mut problems: InvalidSettings,
    ) -> Result<NewsletterSettings, InvalidSettings> {
        if let Some(name) = input.name {
            match one_line(&name, MAX_NAME, false) {
                Ok(name) => self.name = name,
                Err(problem) => problems.add("name", problem),
            }
        }
        if let Some(description) = input.description {
            let description = description.trim();
            if description.chars().count() > MAX_DESCRIPTION {
                problems.add(
                    "description",
                    format!("at most {MAX_DESCRIPTION} characters"),
                );
            } else {
                self.description = description.to_string();
            }
        }
        if let Some(locale) = input.locale {
            match locale.parse::<Locale>() {
                Ok(locale) => self.locale = locale,
                Err(_) => problems.add("locale", "must be \"en\" or \"fr\""),
            }
        }
        if let Some(sender_name) = input.sender_name {
            match sender_name.map(|s| one_line(&s, MAX_SENDER_NAME, true)) {
                None => self.sender_name = None,
                Some(Ok(s)) => self.sender_name = (!s.is_empty()).then_some(s),
                Some(Err(problem)) => problems.add("sender_name", problem),
            }
        }
        if let Some(reply_to) = input.reply_to {
            let reply_to = reply_to.map(|r| r.trim().to_string());
            match reply_to.filter(|r| !r.is_empty()) {
                None => self.reply_to = None,
                Some(address) if is_plausible_address(&address) => self.reply_to = Some(address),
                Some(_) => {
                    problems.add("reply_to", "must be an email address like name@example.org")
                }
            }
        }
        if let Some(max) = input.max_stories {
            if (1..=100).contains(&max) {
                self.max_stories = max;
            } else {
                problems.add("max_stories", "must be between 1 and 100");
            }
        }
        if let Some(tags) = input.tags {
            match Tags::parse(&tags) {
                Ok(tags) => self.tags = tags,
                Err(problem) => problems.add("tags", problem),
            }
        }
        if let Some(review) = input.review_before_send {
            self.review_before_send = review;
        }
        if let Some(skip) = input.skip_when_empty {
            self.skip_when_empty = skip;
        }
        if let Some(paused) = input.paused {
            self.paused = paused;
        }
        if let Some(schedule) = input.schedule {
            self.schedule = schedule
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|s| !s.is_empty());
        }
        if let Some(timezone) = input.timezone {
            self.timezone = timezone.trim().to_string();
        }
        // The schedule and the timezone are checked together: a valid cron
        // in an unknown zone, or a zone change that leaves a schedule, must
        // both be caught.
        match &self.schedule {
            Some(cron) => match Schedule::parse(cron, &self.timezone) {
                Ok(_) => {}
                Err(ScheduleError::Timezone(_)) => problems.add("timezone", timezone_problem()),
                Err(error) => problems.add("schedule", error.to_string()),
            },
            None => {
                if self.timezone.parse::<Tz>().is_err() {
                    problems.add("timezone", timezone_problem());
                }
            }
        }
        if problems.fields.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }

    /// The parsed schedule, when there is one.
    pub fn schedule(&self) -> Option<Schedule> {
        self.schedule
            .as_deref()
            .and_then(|cron| Schedule::parse(cron, &self.timezone).ok())
    }
}

fn timezone_problem() -> String {
    "must be an IANA timezone such as UTC, Europe/Paris or Africa/Bamako".to_string()
}

/// Trimmed text of at most `max` characters with no control characters.
fn one_line(raw: &str, max: usize, may_be_empty: bool) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() && !may_be_empty {
        return Err("must not be empty".into());
    }
    if text.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must be one line with no control characters".into());
    }
    Ok(text.to_string())
}

/// A reply-to address a mail client can answer: one `@`, a dotted domain,
/// no spaces. Full validation happens where mail is addressed.
pub fn is_plausible_address(address: &str) -> bool {
    if address.len() > 254 || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !local.contains(['<', '>', '"', ','])
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> NewsletterInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn new_settings_take_defaults_and_check_every_field() {
        let ok = NewsletterSettings::parse_new(input(
            serde_json::json!({"slug": "morning", "name": " Morning "}),
        ))
        .unwrap();
        assert_eq!(ok.name, "Morning");
        assert_eq!(ok.max_stories, DEFAULT_MAX_STORIES);
        assert_eq!(ok.timezone, "UTC");
        let bad = NewsletterSettings::parse_new(input(serde_json::json!({
            "slug": "Bad Slug", "locale": "de", "max_stories": 0,
            "reply_to": "nobody", "tags": ["a,b"]
        })))
        .unwrap_err();
        for field in ["slug", "name", "locale", "max_stories", "reply_to", "tags"] {
            assert!(bad.fields.contains_key(field), "{field}: {bad}");
        }
    }

    #[test]
    fn schedule_and_timezone_are_checked_together() {
        let ok = NewsletterSettings::parse_new(input(serde_json::json!({
            "slug": "w", "name": "W", "schedule": "0 7 * * FRI", "timezone": "Africa/Bamako"
        })))
        .unwrap();
        assert!(ok.schedule().is_some());
        let bad_tz = ok
            .clone()
            .apply(input(serde_json::json!({"timezone": "Mars/Olympus"})))
            .unwrap_err();
        assert!(bad_tz.fields.contains_key("timezone"));
        let bad_cron = ok
            .apply(input(serde_json::json!({"schedule": "every day"})))
            .unwrap_err();
        assert!(bad_cron.fields.contains_key("schedule"));
    }

    #[test]
    fn slugs_and_tags_are_normalised() {
        assert!(Slug::parse("a-b-1").is_ok());
        assert!(Slug::parse("").is_err());
        assert!(Slug::parse(&"a".repeat(65)).is_err());
        assert!(Slug::parse("-a").is_err());
        let tags = Tags::parse(&[" World ".into(), "world".into(), "sport".into()]).unwrap();
        assert_eq!(tags.to_column(), "world,sport");
        assert_eq!(Tags::from_column("world,sport"), tags);
    }
}
