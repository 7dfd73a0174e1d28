//! Standard five-field cron (`minute hour day-of-month month day-of-week`)
//! and the `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` shorthands,
//! with classic (Vixie) semantics: when both day fields are restricted, a
//! day matches if EITHER matches. Parsed here rather than passed to
//! tokio-cron-scheduler, whose dialect needs a seconds field and ANDs the
//! day fields; its timezone jobs also fix the UTC offset when created, so
//! they drift by an hour across a daylight-saving change.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("a schedule needs 5 fields (minute hour day-of-month month day-of-week), got {0}")]
    FieldCount(usize),
    #[error("unknown shorthand {0:?} (use @hourly, @daily, @weekly, @monthly or @yearly)")]
    UnknownShorthand(String),
    #[error("{field}: {problem}")]
    BadField {
        field: &'static str,
        problem: String,
    },
}

#[derive(Debug, Clone, Copy)]
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
// 7 is accepted as Sunday, as in every cron.
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// A parsed cron expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

impl FromStr for CronExpr {
    type Err = CronError;

    fn from_str(input: &str) -> Result<CronExpr, CronError> {
        let trimmed = input.trim();
        let expanded = match trimmed.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(CronError::UnknownShorthand(trimmed.to_string()));
            }
            _ => trimmed,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError::FieldCount(fields.len()));
        }
        let minutes = parse_field(fields[0], MINUTE)?;
        let hours = parse_field(fields[1], HOUR)?;
        let days_of_month = parse_field(fields[2], DAY_OF_MONTH)?;
        let months = parse_field(fields[3], MONTH)?;
        let mut days_of_week = parse_field(fields[4], DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        Ok(CronExpr {
            source: trimmed.to_string(),
            minutes,
            hours: hours as u32,
            days_of_month: days_of_month as u32,
            months: months as u16,
            days_of_week: days_of_week as u8,
            day_of_month_restricted: !fields[2].starts_with('*'),
            day_of_week_restricted: !fields[4].starts_with('*'),
        })
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl CronExpr {
    pub fn matches_day(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// The hours of a matching day, ascending.
    pub fn hours(&self) -> impl Iterator<Item = u32> + '_ {
        (0..24).filter(|h| self.hours & (1 << h) != 0)
    }

    /// The minutes of a matching hour, ascending.
    pub fn minutes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..60).filter(|m| self.minutes & (1u64 << m) != 0)
    }
}

fn parse_field(text: &str, spec: FieldSpec) -> Result<u64, CronError> {
    let bad = |problem: String| CronError::BadField {
        field: spec.name,
        problem,
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| bad(format!("step {step:?} is not a number")))?;
                if step == 0 {
                    return Err(bad("a step cannot be 0".into()));
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, spec)?, value(b, spec)?)
        } else {
            let single = value(range, spec)?;
            // "5/15" means from 5 to the end, every 15
            if step > 1 {
                (single, spec.max)
            } else {
                (single, single)
            }
        };
        if start > end {
            return Err(bad(format!("range {range:?} runs backwards")));
        }
        let mut v = start;
        while v <= end {
            bits |= 1u64 << v;
            v += step;
        }
    }
    if bits == 0 {
        return Err(bad("matches nothing".into()));
    }
    Ok(bits)
}

fn value(text: &str, spec: FieldSpec) -> Result<u32, CronError> {
    let upper = text.to_ascii_uppercase();
    if let Some(index) = spec.names.iter().position(|n| *n == upper) {
        // month names start at 1 (spec.min), weekday names at 0
        return Ok(index as u32 + spec.min);
    }
    let number: u32 = text.parse().map_err(|_| CronError::BadField {
        field: spec.name,
        problem: format!("{text:?} is not a number or a name"),
    })?;
    if number < spec.min || number > spec.max {
        return Err(CronError::BadField {
            field: spec.name,
            problem: format!("{number} is outside {}–{}", spec.min, spec.max),
        });
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_names_steps_lists_and_shorthands() {
        let friday: CronExpr = "0 7 * * FRI".parse().unwrap();
        assert!(friday.matches_day(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()));
        assert!(!friday.matches_day(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()));
        assert_eq!(friday.hours().collect::<Vec<_>>(), vec![7]);
        let every: CronExpr = "*/15 9-17 * JAN,dec 1-5".parse().unwrap();
        assert_eq!(every.minutes().collect::<Vec<_>>(), vec![0, 15, 30, 45]);
        assert!(every.matches_day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
        assert!(!every.matches_day(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()));
        let weekly: CronExpr = "@weekly".parse().unwrap();
        assert!(weekly.matches_day(NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()));
        let sunday_seven: CronExpr = "0 0 * * 7".parse().unwrap();
        assert!(sunday_seven.matches_day(NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()));
    }

    #[test]
    fn restricted_day_fields_are_ored_like_classic_cron() {
        // the 1st of the month OR any Monday
        let expr: CronExpr = "0 0 1 * MON".parse().unwrap();
        assert!(expr.matches_day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())); // Tuesday the 1st
        assert!(expr.matches_day(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())); // a Monday
        assert!(!expr.matches_day(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let cases = [
            ("0 7 * *", "5 fields"),
            ("61 * * * *", "minute"),
            ("0 25 * * *", "hour"),
            ("0 0 * 13 *", "month"),
            ("0 0 * * FUN", "day of week"),
            ("*/0 * * * *", "step"),
            ("@fortnightly", "shorthand"),
            ("5-1 * * * *", "backwards"),
        ];
        for (input, expected) in cases {
            let error = input.parse::<CronExpr>().unwrap_err().to_string();
            assert!(error.contains(expected), "{input}: {error}");
        }
    }
}
