//! Business hours: weekly opening intervals in an IANA time zone, minus holidays.
//!
//! Times are wall-clock times in the workspace's zone, so "09:00" stays 09:00 local across a
//! daylight-saving switch, and a holiday is a local calendar date. The zone database is
//! bundled into the binary (jiff's `tzdb-bundle-always`): a Worker on wasm32 has no
//! `/usr/share/zoneinfo`, and the relay must not depend on the host's copy. A new tzdb
//! release reaches the relay with a rebuild.

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::errors::{field, index, quoted, Errors};
use super::json::{RawHours, RawInterval, RawWeekly};

/// Most intervals per day and holidays per configuration: generous for real schedules.
pub const MAX_INTERVALS_PER_DAY: usize = 24;
pub const MAX_HOLIDAYS: usize = 1000;

const MINUTES_PER_DAY: u16 = 24 * 60;
/// How far [`BusinessHours::next_open`] looks: past a year of holidays.
pub const LOOKAHEAD_DAYS: u16 = 400;

/// Weekly opening hours in a time zone, minus holidays.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    time_zone: TimeZone,
    /// The zone's canonical IANA name, as `to_json` writes it back.
    time_zone_name: String,
    /// Monday first; each day's intervals in the admin's order (they do not overlap).
    weekly: [Vec<Interval>; 7],
    holidays: BTreeSet<Date>,
}

/// Open from `open` until before `close`, in minutes since local midnight (`close` may be
/// 1440, written `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub open: u16,
    pub close: u16,
}

impl Interval {
    fn overlaps(self, other: Interval) -> bool {
        self.open < other.close && other.open < self.close
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", hh_mm(self.open), hh_mm(self.close))
    }
}

impl BusinessHours {
    /// Whether the workspace is open at `at_ms` (ms since the epoch): the local date is not a
    /// holiday and the local time falls in one of that weekday's intervals.
    pub fn is_open(&self, at_ms: i64) -> bool {
        let Ok(at) = Timestamp::from_millisecond(at_ms) else { return false };
        let local = self.time_zone.to_datetime(at);
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let day = local.weekday().to_monday_zero_offset() as usize;
        self.weekly[day].iter().any(|i| i.open <= minute && minute < i.close)
    }

    /// When the workspace next opens, at or after `at_ms`: `at_ms` itself while open, else
    /// the start of the next interval on a local date that is not a holiday; `None` when
    /// nothing opens within [`LOOKAHEAD_DAYS`] (no hours at all, or a year of holidays). The
    /// widget says "we'll reply tomorrow from 9:00" with it.
    pub fn next_open(&self, at_ms: i64) -> Option<i64> {
        if self.is_open(at_ms) {
            return Some(at_ms);
        }
        let local = self.time_zone.to_datetime(Timestamp::from_millisecond(at_ms).ok()?);
        let minute_now = local.hour() as u16 * 60 + local.minute() as u16;
        let mut date = local.date();
        for day in 0..LOOKAHEAD_DAYS {
            let weekday = date.weekday().to_monday_zero_offset() as usize;
            let first = self.weekly[weekday]
                .iter()
                .map(|i| i.open)
                .filter(|&open| day > 0 || open > minute_now)
                .min();
            if let (Some(open), false) = (first, self.holidays.contains(&date)) {
                let at = date.at((open / 60) as i8, (open % 60) as i8, 0, 0);
                // A time a daylight-saving switch skips opens when the clock jumps past it.
                let opens = self.time_zone.to_ambiguous_timestamp(at).compatible().ok()?;
                if opens.as_millisecond() > at_ms {
                    return Some(opens.as_millisecond());
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    pub fn time_zone(&self) -> &str {
        &self.time_zone_name
    }

    pub(super) fn from_raw(raw: &RawHours, path: &str, errors: &mut Errors) -> Option<Self> {
        let time_zone = time_zone(&raw.time_zone, &field(path, "time_zone"), errors);
        let weekly_path = field(path, "weekly");
        let mut weekly: [Vec<Interval>; 7] = Default::default();
        for (slot, (day, intervals)) in weekly.iter_mut().zip(raw.weekly.days()) {
            *slot = day_intervals(intervals, &field(&weekly_path, day), errors);
        }
        let holidays = holidays(&raw.holidays, &field(path, "holidays"), errors);
        let (time_zone_name, time_zone) = time_zone?;
        Some(BusinessHours { time_zone, time_zone_name, weekly, holidays })
    }

    pub(super) fn to_raw(&self) -> RawHours {
        let day = |i: usize| -> Vec<RawInterval> {
            self.weekly[i].iter().map(|iv| (hh_mm(iv.open), hh_mm(iv.close))).collect()
        };
        RawHours {
            time_zone: self.time_zone_name.clone(),
            weekly: RawWeekly::from_days(std::array::from_fn(day)),
            holidays: self.holidays.iter().map(|d| d.to_string()).collect(),
        }
    }
}

fn time_zone(name: &str, path: &str, errors: &mut Errors) -> Option<(String, TimeZone)> {
    // `Etc/Unknown` is jiff's placeholder for "no idea", not a zone anyone lives in.
    let found = TimeZone::get(name).ok().filter(|_| !name.eq_ignore_ascii_case("Etc/Unknown"));
    match found {
        Some(tz) => Some((tz.iana_name().unwrap_or(name).to_owned(), tz)),
        None => {
            errors.push(
                path,
                format!(
                    "unknown time zone {}; use an IANA name such as \"Asia/Shanghai\"",
                    quoted(name)
                ),
            );
            None
        }
    }
}

fn day_intervals(raw: &[RawInterval], path: &str, errors: &mut Errors) -> Vec<Interval> {
    if raw.len() > MAX_INTERVALS_PER_DAY {
        errors.push(
            path,
            format!("{} intervals; a day has at most {MAX_INTERVALS_PER_DAY}", raw.len()),
        );
        return Vec::new();
    }
    let mut out: Vec<Interval> = Vec::new();
    for (i, (open, close)) in raw.iter().enumerate() {
        let here = index(path, i);
        let open = time_of_day(open, false, &index(&here, 0), errors);
        let close = time_of_day(close, true, &index(&here, 1), errors);
        let (Some(open), Some(close)) = (open, close) else { continue };
        if close <= open {
            errors.push(
                here,
                format!(
                    "closes at {} but opens at {}: the close must be later; for hours past midnight, end this day at \"24:00\" and start the next at \"00:00\"",
                    hh_mm(close),
                    hh_mm(open)
                ),
            );
            continue;
        }
        let interval = Interval { open, close };
        if let Some(earlier) = out.iter().find(|e| e.overlaps(interval)) {
            errors.push(here, format!("{interval} overlaps {earlier}"));
            continue;
        }
        out.push(interval);
    }
    out
}

/// `HH:MM`, 24-hour; `24:00` only as a closing time.
fn time_of_day(s: &str, closing: bool, path: &str, errors: &mut Errors) -> Option<u16> {
    let parsed = match s.as_bytes() {
        [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
            let hours = u16::from(h1 - b'0') * 10 + u16::from(h2 - b'0');
            let minutes = u16::from(m1 - b'0') * 10 + u16::from(m2 - b'0');
            let t = hours * 60 + minutes;
            (minutes < 60 && (t < MINUTES_PER_DAY || (closing && t == MINUTES_PER_DAY)))
                .then_some(t)
        }
        _ => None,
    };
    if parsed.is_none() {
        let end = if closing { " (\"24:00\" for midnight at the end of the day)" } else { "" };
        errors.push(
            path,
            format!("{} is not a time; write HH:MM, 24-hour, e.g. \"09:00\"{end}", quoted(s)),
        );
    }
    parsed
}

fn holidays(raw: &[String], path: &str, errors: &mut Errors) -> BTreeSet<Date> {
    if raw.len() > MAX_HOLIDAYS {
        errors.push(path, format!("{} holidays; the limit is {MAX_HOLIDAYS}", raw.len()));
        return BTreeSet::new();
    }
    let mut out = BTreeSet::new();
    for (i, s) in raw.iter().enumerate() {
        match date(s) {
            Some(d) => {
                out.insert(d);
            }
            None => errors.push(
                index(path, i),
                format!(
                    "{} is not a date; write YYYY-MM-DD (a local date in the time zone)",
                    quoted(s)
                ),
            ),
        }
    }
    out
}

/// `YYYY-MM-DD` exactly (jiff alone would also take other ISO 8601 forms).
fn date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let year = s[0..4].parse().ok()?;
    let month = s[5..7].parse().ok()?;
    let day = s[8..10].parse().ok()?;
    Date::new(year, month, day).ok()
}

fn hh_mm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(json: &str) -> BusinessHours {
        let raw: RawHours = serde_json::from_str(json).unwrap();
        let mut errors = Errors::default();
        let h = BusinessHours::from_raw(&raw, "business_hours", &mut errors);
        errors.into_result(()).unwrap();
        h.unwrap()
    }

    fn errors_of(json: &str) -> Vec<(String, String)> {
        let raw: RawHours = serde_json::from_str(json).unwrap();
        let mut errors = Errors::default();
        BusinessHours::from_raw(&raw, "business_hours", &mut errors);
        errors.into_result(()).unwrap_err().0.into_iter().map(|e| (e.path, e.message)).collect()
    }

    /// Milliseconds since the epoch of a UTC instant written `YYYY-MM-DDTHH:MM`.
    fn utc(s: &str) -> i64 {
        format!("{s}:00Z").parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn shanghai_hours_are_local_whichever_utc_day_the_instant_falls_on() {
        // Monday 06:00-18:00 in Shanghai (UTC+8) is Sunday 22:00 to Monday 10:00 in UTC.
        let h = hours(r#"{"time_zone": "Asia/Shanghai", "weekly": {"mon": [["06:00", "18:00"]]}}"#);
        assert!(!h.is_open(utc("2026-05-31T21:59")), "Monday 05:59 local");
        assert!(h.is_open(utc("2026-05-31T22:00")), "Monday 06:00 local, still Sunday in UTC");
        assert!(h.is_open(utc("2026-06-01T09:59")), "Monday 17:59 local");
        assert!(!h.is_open(utc("2026-06-01T10:00")), "Monday 18:00 local");
        // Monday 16:00 in UTC would be within the hours; in Shanghai it is Tuesday 00:00.
        assert!(!h.is_open(utc("2026-06-08T16:00")));
    }

    #[test]
    fn new_york_hours_follow_the_daylight_saving_switch() {
        // DST starts Sunday 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 UTC after.
        let h = hours(
            r#"{"time_zone": "America/New_York", "weekly": {"mon": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]}}"#,
        );
        assert!(!h.is_open(utc("2026-03-06T13:30")), "Friday 08:30 EST");
        assert!(h.is_open(utc("2026-03-09T13:30")), "Monday 09:30 EDT");
        assert!(h.is_open(utc("2026-03-06T21:30")), "Friday 16:30 EST");
        assert!(!h.is_open(utc("2026-03-09T21:30")), "Monday 17:30 EDT");
    }

    #[test]
    fn next_open_is_the_next_local_opening_skipping_closed_days_and_holidays() {
        // Shanghai, weekdays 09:00-18:00; 2026-10-01 (a Thursday) is a holiday.
        let h = hours(
            r#"{"time_zone": "Asia/Shanghai", "weekly": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "12:00"], ["13:00", "18:00"]],
                "wed": [["09:00", "18:00"]], "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]]},
                "holidays": ["2026-10-01"]}"#,
        );
        let open = utc("2026-09-29T02:00"); // Tuesday 10:00 local
        assert_eq!(h.next_open(open), Some(open), "open now");
        // Tuesday 12:30 local: the afternoon interval, 13:00 local = 05:00 UTC.
        assert_eq!(h.next_open(utc("2026-09-29T04:30")), Some(utc("2026-09-29T05:00")));
        // Wednesday 19:00 local: Thursday is a holiday, so Friday 09:00 local.
        assert_eq!(h.next_open(utc("2026-09-30T11:00")), Some(utc("2026-10-02T01:00")));
        // Friday 18:00 local: Monday 09:00 local.
        assert_eq!(h.next_open(utc("2026-10-02T10:00")), Some(utc("2026-10-05T01:00")));
        // Monday 07:00 local, before opening: the same day.
        assert_eq!(h.next_open(utc("2026-10-04T23:00")), Some(utc("2026-10-05T01:00")));
        let never = hours(r#"{"time_zone": "UTC", "weekly": {}}"#);
        assert_eq!(never.next_open(open), None);
    }

    #[test]
    fn a_holiday_closes_its_whole_local_date() {
        let h = hours(
            r#"{"time_zone": "Asia/Shanghai", "weekly": {"thu": [["00:00", "24:00"]], "fri": [["00:00", "24:00"]]},
                "holidays": ["2026-10-01"]}"#,
        );
        assert!(h.is_open(utc("2026-09-24T02:00")), "the Thursday before");
        assert!(!h.is_open(utc("2026-10-01T02:00")), "Thursday 2026-10-01 10:00 local");
        // The holiday is the local date, not the UTC one.
        assert!(!h.is_open(utc("2026-09-30T16:30")), "Thursday 00:30 local, Wednesday in UTC");
        assert!(h.is_open(utc("2026-10-01T16:30")), "Friday 00:30 local, the holiday in UTC");
    }

    #[test]
    fn intervals_are_half_open_and_may_touch() {
        let h = hours(
            r#"{"time_zone": "UTC", "weekly": {"tue": [["09:00", "12:00"], ["12:00", "13:00"], ["14:00", "24:00"]]}}"#,
        );
        // 2026-06-02 is a Tuesday.
        assert!(h.is_open(utc("2026-06-02T12:00")));
        assert!(!h.is_open(utc("2026-06-02T13:00")));
        assert!(h.is_open(utc("2026-06-02T23:59")));
        assert!(!h.is_open(utc("2026-06-03T00:00")), "Wednesday has no hours");
    }

    #[test]
    fn unknown_zones_are_refused_and_names_are_canonical() {
        let e = errors_of(r#"{"time_zone": "Mars/Base"}"#);
        assert_eq!(
            e,
            vec![(
                "business_hours.time_zone".into(),
                "unknown time zone \"Mars/Base\"; use an IANA name such as \"Asia/Shanghai\""
                    .into()
            )]
        );
        assert_eq!(errors_of(r#"{"time_zone": "Etc/Unknown"}"#).len(), 1);
        assert_eq!(hours(r#"{"time_zone": "asia/shanghai"}"#).time_zone(), "Asia/Shanghai");
    }

    #[test]
    fn overlapping_hours_name_the_interval_and_what_it_overlaps() {
        let e = errors_of(
            r#"{"time_zone": "UTC", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "18:00"]]}}"#,
        );
        assert_eq!(
            e,
            vec![(
                "business_hours.weekly.mon[1]".into(),
                "11:00-18:00 overlaps 09:00-12:00".into()
            )]
        );
    }

    #[test]
    fn bad_times_reversed_intervals_and_bad_dates_are_all_reported() {
        let e = errors_of(
            r#"{"time_zone": "UTC",
                "weekly": {"mon": [["9:00", "18:00"]], "tue": [["18:00", "09:00"]], "wed": [["24:00", "24:00"]], "thu": [["08:00", "18:60"]]},
                "holidays": ["2026-02-30", "2026/10/01", "2026-10-01"]}"#,
        );
        let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "business_hours.weekly.mon[0][0]",
                "business_hours.weekly.tue[0]",
                "business_hours.weekly.wed[0][0]",
                "business_hours.weekly.thu[0][1]",
                "business_hours.holidays[0]",
                "business_hours.holidays[1]",
            ]
        );
        assert!(e[0].1.contains("\"9:00\" is not a time; write HH:MM"), "{}", e[0].1);
        assert!(e[1].1.starts_with("closes at 09:00 but opens at 18:00"), "{}", e[1].1);
        assert!(e[4].1.contains("\"2026-02-30\" is not a date; write YYYY-MM-DD"), "{}", e[4].1);
    }

    #[test]
    fn round_trips_through_its_json_form() {
        let json = r#"{"time_zone":"Asia/Shanghai","weekly":{"mon":[["09:00","12:00"],["13:00","24:00"]]},"holidays":["2026-10-01"]}"#;
        let back = serde_json::to_string(&hours(json).to_raw()).unwrap();
        assert_eq!(back, json);
    }
}
