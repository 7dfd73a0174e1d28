//! A newsletter's schedule: a cron expression read in an IANA timezone.
//! Slots are computed here, in the newsletter's zone with chrono-tz, so a
//! daylight-saving change never shifts them:
//! - a slot inside a skipped hour (spring forward) fires once, at the first
//!   valid instant after the gap;
//! - a slot inside a repeated hour (fall back) fires once, at its first pass.

use std::fmt;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::cron::{CronError, CronExpr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule: {0}")]
    Cron(#[from] CronError),
    #[error("timezone: {0:?} is not an IANA timezone (for example Africa/Bamako or Europe/Paris)")]
    Timezone(String),
}

/// How far ahead to look for the next slot: long enough for "29 February".
const SEARCH_DAYS: i64 = 366 * 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    expr: CronExpr,
    tz: Tz,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expr, self.tz.name())
    }
}

impl Schedule {
    pub fn parse(cron: &str, timezone: &str) -> Result<Schedule, ScheduleError> {
        let tz: Tz = timezone
            .trim()
            .parse()
            .map_err(|_| ScheduleError::Timezone(timezone.to_string()))?;
        Ok(Schedule {
            expr: cron.parse()?,
            tz,
        })
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn expression(&self) -> String {
        self.expr.to_string()
    }

    /// The first slot strictly after `after`, or None for a schedule that
    /// never fires (30 February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_start = after.with_timezone(&self.tz).date_naive();
        // Start a day early: a slot of yesterday's local date can still lie
        // ahead in UTC around a DST change.
        let first_day = local_start.pred_opt().unwrap_or(local_start);
        for offset in 0..SEARCH_DAYS {
            let day = first_day.checked_add_signed(Duration::days(offset))?;
            if !self.expr.matches_day(day) {
                continue;
            }
            if let Some(slot) = self.first_slot_of_day_after(day, after) {
                return Some(slot);
            }
        }
        None
    }

    /// The last slot strictly before `before`, or None for a schedule that
    /// never fired in the searched years.
    pub fn previous_before(&self, before: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_end = before.with_timezone(&self.tz).date_naive();
        // Start a day late: a slot of tomorrow's local date can lie behind
        // in UTC around a DST change.
        let last_day = local_end.succ_opt().unwrap_or(local_end);
        for offset in 0..SEARCH_DAYS {
            let day = last_day.checked_sub_signed(Duration::days(offset))?;
            if !self.expr.matches_day(day) {
                continue;
            }
            let latest = self
                .expr
                .hours()
                .flat_map(|hour| self.expr.minutes().map(move |minute| (hour, minute)))
                .filter_map(|(hour, minute)| self.resolve(day.and_hms_opt(hour, minute, 0)?))
                .filter(|slot| *slot < before)
                .max();
            if latest.is_some() {
                return latest;
            }
        }
        None
    }

    /// The next `n` slots after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut runs = Vec::with_capacity(n);
        let mut cursor = after;
        while runs.len() < n {
            match self.next_after(cursor) {
                Some(next) => {
                    runs.push(next);
                    cursor = next;
                }
                None => break,
            }
        }
        runs
    }

    /// Every slot in `(from, to]`, oldest first, at most `limit` of the
    /// newest ones.
    pub fn slots_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut slots = std::collections::VecDeque::new();
        let mut cursor = from;
        while let Some(next) = self.next_after(cursor) {
            if next > to {
                break;
            }
            if slots.len() == limit {
                slots.pop_front();
            }
            slots.push_back(next);
            cursor = next;
        }
        slots.into()
    }

    fn first_slot_of_day_after(
        &self,
        day: NaiveDate,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        for hour in self.expr.hours() {
            for minute in self.expr.minutes() {
                let naive = day.and_hms_opt(hour, minute, 0)?;
                let instant = self.resolve(naive)?;
                if instant > after {
                    return Some(instant);
                }
            }
        }
        None
    }

    /// The instant a local wall-clock time means in this zone.
    fn resolve(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            // repeated hour: the first pass only, so the slot fires once
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            // skipped hour: the first valid minute after the gap
            LocalResult::None => (1..=180).find_map(|m| {
                match self.tz.from_local_datetime(&(naive + Duration::minutes(m))) {
                    LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
                    LocalResult::None => None,
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(schedule: &Schedule, t: DateTime<Utc>) -> String {
        t.with_timezone(&schedule.timezone())
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    #[test]
    fn bamako_friday_seven_has_no_dst() {
        let s = Schedule::parse("0 7 * * FRI", "Africa/Bamako").unwrap();
        let runs = s.next_runs(utc("2026-11-27T07:00:00Z"), 3);
        assert_eq!(
            runs,
            vec![
                utc("2026-12-04T07:00:00Z"),
                utc("2026-12-11T07:00:00Z"),
                utc("2026-12-18T07:00:00Z")
            ]
        );
    }

    #[test]
    fn the_slot_before_is_the_previous_period() {
        let s = Schedule::parse("0 7 * * FRI", "Africa/Bamako").unwrap();
        assert_eq!(
            s.previous_before(utc("2026-12-04T07:00:00Z")),
            Some(utc("2026-11-27T07:00:00Z"))
        );
        assert_eq!(
            s.previous_before(utc("2026-12-04T07:00:01Z")),
            Some(utc("2026-12-04T07:00:00Z"))
        );
        let paris = Schedule::parse("0 7,19 * * *", "Europe/Paris").unwrap();
        // 29 March 2026, clocks forward: 07:00 is then 05:00 UTC
        assert_eq!(
            paris.previous_before(utc("2026-03-29T12:00:00Z")),
            Some(utc("2026-03-29T05:00:00Z"))
        );
        assert_eq!(
            paris.previous_before(utc("2026-03-29T05:00:00Z")),
            Some(utc("2026-03-28T18:00:00Z"))
        );
        let never = Schedule::parse("0 0 30 2 *", "UTC").unwrap();
        assert_eq!(never.previous_before(utc("2026-03-29T05:00:00Z")), None);
    }

    #[test]
    fn lagos_is_utc_plus_one_all_year() {
        let s = Schedule::parse("@daily", "Africa/Lagos").unwrap();
        assert_eq!(
            s.next_after(utc("2026-06-01T12:00:00Z")),
            Some(utc("2026-06-01T23:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-12-01T12:00:00Z")),
            Some(utc("2026-12-01T23:00:00Z"))
        );
    }

    #[test]
    fn paris_keeps_wall_clock_time_across_both_changes() {
        let s = Schedule::parse("0 7 * * *", "Europe/Paris").unwrap();
        let runs = s.next_runs(utc("2026-03-28T12:00:00Z"), 2);
        // 29 March 2026: clocks go forward; 07:00 is 05:00 UTC from then on
        assert_eq!(
            runs,
            vec![utc("2026-03-29T05:00:00Z"), utc("2026-03-30T05:00:00Z")]
        );
        let runs = s.next_runs(utc("2026-10-24T12:00:00Z"), 2);
        // 25 October 2026: clocks go back; 07:00 is 06:00 UTC again
        assert_eq!(
            runs,
            vec![utc("2026-10-25T06:00:00Z"), utc("2026-10-26T06:00:00Z")]
        );
    }

    #[test]
    fn slot_in_skipped_hour_fires_once_after_the_gap() {
        let s = Schedule::parse("30 2 * * *", "Europe/Paris").unwrap();
        let runs = s.next_runs(utc("2026-03-28T12:00:00Z"), 2);
        assert_eq!(local(&s, runs[0]), "2026-03-29 03:00 CEST");
        assert_eq!(local(&s, runs[1]), "2026-03-30 02:30 CEST");
        // a half-hourly schedule: 02:00 and 02:30 both fall into the gap and
        // land on 03:00, which fires once
        let s = Schedule::parse("*/30 * * * *", "America/New_York").unwrap();
        let runs: Vec<String> = s
            .next_runs(utc("2026-03-08T06:15:00Z"), 4)
            .into_iter()
            .map(|t| local(&s, t))
            .collect();
        assert_eq!(
            runs,
            vec![
                "2026-03-08 01:30 EST",
                "2026-03-08 03:00 EDT",
                "2026-03-08 03:30 EDT",
                "2026-03-08 04:00 EDT"
            ]
        );
    }

    #[test]
    fn slot_in_repeated_hour_fires_once() {
        let s = Schedule::parse("30 1 * * *", "America/New_York").unwrap();
        // 1 November 2026: 01:00–02:00 happens twice in New York
        let runs = s.next_runs(utc("2026-11-01T00:00:00Z"), 2);
        assert_eq!(runs[0], utc("2026-11-01T05:30:00Z")); // 01:30 EDT, first pass
        assert_eq!(runs[1], utc("2026-11-02T06:30:00Z")); // next day, 01:30 EST
    }

    #[test]
    fn slots_between_keeps_the_newest() {
        let s = Schedule::parse("0 * * * *", "UTC").unwrap();
        let slots = s.slots_between(utc("2026-01-01T00:00:00Z"), utc("2026-01-01T10:30:00Z"), 3);
        assert_eq!(
            slots,
            vec![
                utc("2026-01-01T08:00:00Z"),
                utc("2026-01-01T09:00:00Z"),
                utc("2026-01-01T10:00:00Z")
            ]
        );
    }

    #[test]
    fn bad_timezone_and_never_firing_schedules() {
        let e = Schedule::parse("0 7 * * *", "Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("timezone"));
        let never = Schedule::parse("0 0 30 2 *", "UTC").unwrap();
        assert_eq!(never.next_after(utc("2026-01-01T00:00:00Z")), None);
    }
}
