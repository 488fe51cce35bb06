//! Dataverse's date query functions (`LastXDays`, `Today`, `On`, …): their names, the parameter
//! each takes, and the span of instants each one means at a given moment.
//!
//! filter-rows.md lists the functions; their exact bounds are not documented. They follow the
//! FetchXML operators they stand for, read in UTC (the emulator's users all have UTC as their
//! time zone): whole days start at midnight, weeks on Sunday (the default of a new org), "last X"
//! spans end now and "next X" spans start now and run to the end of the last day. [inf]

use std::ops::Bound;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc};

/// What a date function takes besides `PropertyName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameter {
    None,
    /// `PropertyValue`: a whole number of units.
    Count,
    /// `PropertyValue`: a date.
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFunction {
    Today,
    Yesterday,
    Tomorrow,
    Last7Days,
    Next7Days,
    LastWeek,
    ThisWeek,
    NextWeek,
    LastMonth,
    ThisMonth,
    NextMonth,
    LastYear,
    ThisYear,
    NextYear,
    LastXHours,
    NextXHours,
    LastXDays,
    NextXDays,
    LastXWeeks,
    NextXWeeks,
    LastXMonths,
    NextXMonths,
    LastXYears,
    NextXYears,
    OlderThanXMinutes,
    OlderThanXHours,
    OlderThanXDays,
    OlderThanXWeeks,
    OlderThanXMonths,
    OlderThanXYears,
    On,
    OnOrAfter,
    OnOrBefore,
}

/// A span of instants: from the first bound to the second.
pub type Span = (Bound<DateTime<Utc>>, Bound<DateTime<Utc>>);

impl DateFunction {
    const ALL: [DateFunction; 33] = [
        DateFunction::Today,
        DateFunction::Yesterday,
        DateFunction::Tomorrow,
        DateFunction::Last7Days,
        DateFunction::Next7Days,
        DateFunction::LastWeek,
        DateFunction::ThisWeek,
        DateFunction::NextWeek,
        DateFunction::LastMonth,
        DateFunction::ThisMonth,
        DateFunction::NextMonth,
        DateFunction::LastYear,
        DateFunction::ThisYear,
        DateFunction::NextYear,
        DateFunction::LastXHours,
        DateFunction::NextXHours,
        DateFunction::LastXDays,
        DateFunction::NextXDays,
        DateFunction::LastXWeeks,
        DateFunction::NextXWeeks,
        DateFunction::LastXMonths,
        DateFunction::NextXMonths,
        DateFunction::LastXYears,
        DateFunction::NextXYears,
        DateFunction::OlderThanXMinutes,
        DateFunction::OlderThanXHours,
        DateFunction::OlderThanXDays,
        DateFunction::OlderThanXWeeks,
        DateFunction::OlderThanXMonths,
        DateFunction::OlderThanXYears,
        DateFunction::On,
        DateFunction::OnOrAfter,
        DateFunction::OnOrBefore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DateFunction::Today => "Today",
            DateFunction::Yesterday => "Yesterday",
            DateFunction::Tomorrow => "Tomorrow",
            DateFunction::Last7Days => "Last7Days",
            DateFunction::Next7Days => "Next7Days",
            DateFunction::LastWeek => "LastWeek",
            DateFunction::ThisWeek => "ThisWeek",
            DateFunction::NextWeek => "NextWeek",
            DateFunction::LastMonth => "LastMonth",
            DateFunction::ThisMonth => "ThisMonth",
            DateFunction::NextMonth => "NextMonth",
            DateFunction::LastYear => "LastYear",
            DateFunction::ThisYear => "ThisYear",
            DateFunction::NextYear => "NextYear",
            DateFunction::LastXHours => "LastXHours",
            DateFunction::NextXHours => "NextXHours",
            DateFunction::LastXDays => "LastXDays",
            DateFunction::NextXDays => "NextXDays",
            DateFunction::LastXWeeks => "LastXWeeks",
            DateFunction::NextXWeeks => "NextXWeeks",
            DateFunction::LastXMonths => "LastXMonths",
            DateFunction::NextXMonths => "NextXMonths",
            DateFunction::LastXYears => "LastXYears",
            DateFunction::NextXYears => "NextXYears",
            DateFunction::OlderThanXMinutes => "OlderThanXMinutes",
            DateFunction::OlderThanXHours => "OlderThanXHours",
            DateFunction::OlderThanXDays => "OlderThanXDays",
            DateFunction::OlderThanXWeeks => "OlderThanXWeeks",
            DateFunction::OlderThanXMonths => "OlderThanXMonths",
            DateFunction::OlderThanXYears => "OlderThanXYears",
            DateFunction::On => "On",
            DateFunction::OnOrAfter => "OnOrAfter",
            DateFunction::OnOrBefore => "OnOrBefore",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn parameter(self) -> Parameter {
        use DateFunction::*;
        match self {
            Today | Yesterday | Tomorrow | Last7Days | Next7Days | LastWeek | ThisWeek
            | NextWeek | LastMonth | ThisMonth | NextMonth | LastYear | ThisYear | NextYear => {
                Parameter::None
            }
            On | OnOrAfter | OnOrBefore => Parameter::Date,
            _ => Parameter::Count,
        }
    }

    /// The instants the function matches at `now`. `count` is the X of the "X" functions and
    /// `date` the value of `On`/`OnOrAfter`/`OnOrBefore`; a span beyond the calendar's range is
    /// open on that side.
    pub fn span(self, now: DateTime<Utc>, count: u32, date: NaiveDate) -> Span {
        use Bound::{Excluded, Included, Unbounded};
        use DateFunction::*;
        let today = now.date_naive();
        let at = |day: Option<NaiveDate>| day.map(|d| d.and_time(NaiveTime::MIN).and_utc());
        let from = |day: Option<NaiveDate>| at(day).map_or(Unbounded, Included);
        let until = |day: Option<NaiveDate>| at(day).map_or(Unbounded, Excluded);
        let days = |n: i64| today.checked_add_signed(Duration::days(n));
        let months_back = |n: u32| today.checked_sub_months(Months::new(n));
        let months_ahead = |n: u32| today.checked_add_months(Months::new(n));
        let sunday = days(-i64::from(today.weekday().num_days_from_sunday()));
        let week = |n: i64| sunday.and_then(|s| s.checked_add_signed(Duration::weeks(n)));
        let month_start = today.with_day(1);
        let month = |n: i32| {
            month_start.and_then(|m| match n {
                n if n < 0 => m.checked_sub_months(Months::new(n.unsigned_abs())),
                n => m.checked_add_months(Months::new(n.unsigned_abs())),
            })
        };
        let year = |n: i32| NaiveDate::from_ymd_opt(today.year().saturating_add(n), 1, 1);
        let instant_back = |d: Duration| now.checked_sub_signed(d).map_or(Unbounded, Included);
        let older_than = |d: Option<DateTime<Utc>>| (Unbounded, d.map_or(Unbounded, Excluded));
        let x = i64::from(count);
        match self {
            Today => (from(days(0)), until(days(1))),
            Yesterday => (from(days(-1)), until(days(0))),
            Tomorrow => (from(days(1)), until(days(2))),
            Last7Days => (from(days(-7)), Included(now)),
            Next7Days => (Included(now), until(days(8))),
            LastWeek => (from(week(-1)), until(week(0))),
            ThisWeek => (from(week(0)), until(week(1))),
            NextWeek => (from(week(1)), until(week(2))),
            LastMonth => (from(month(-1)), until(month(0))),
            ThisMonth => (from(month(0)), until(month(1))),
            NextMonth => (from(month(1)), until(month(2))),
            LastYear => (from(year(-1)), until(year(0))),
            ThisYear => (from(year(0)), until(year(1))),
            NextYear => (from(year(1)), until(year(2))),
            LastXHours => (instant_back(Duration::hours(x)), Included(now)),
            NextXHours => (
                Included(now),
                now.checked_add_signed(Duration::hours(x))
                    .map_or(Unbounded, Included),
            ),
            LastXDays => (from(days(-x)), Included(now)),
            NextXDays => (Included(now), until(days(x + 1))),
            LastXWeeks => (from(days(-7 * x)), Included(now)),
            NextXWeeks => (Included(now), until(days(7 * x + 1))),
            LastXMonths => (from(months_back(count)), Included(now)),
            NextXMonths => (
                Included(now),
                until(months_ahead(count).and_then(|d| d.succ_opt())),
            ),
            LastXYears => (from(months_back(count.saturating_mul(12))), Included(now)),
            NextXYears => (
                Included(now),
                until(months_ahead(count.saturating_mul(12)).and_then(|d| d.succ_opt())),
            ),
            OlderThanXMinutes => older_than(now.checked_sub_signed(Duration::minutes(x))),
            OlderThanXHours => older_than(now.checked_sub_signed(Duration::hours(x))),
            OlderThanXDays => older_than(now.checked_sub_signed(Duration::days(x))),
            OlderThanXWeeks => older_than(now.checked_sub_signed(Duration::weeks(x))),
            OlderThanXMonths => older_than(now.checked_sub_months(Months::new(count))),
            OlderThanXYears => {
                older_than(now.checked_sub_months(Months::new(count.saturating_mul(12))))
            }
            On => (from(Some(date)), until(date.succ_opt())),
            OnOrAfter => (from(Some(date)), Unbounded),
            OnOrBefore => (Unbounded, until(date.succ_opt())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap

    use super::*;

    fn dt(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Whether `instant` is inside the span of `function` on Wednesday 2024-06-12 at 15:30 UTC.
    fn inside(function: DateFunction, count: u32, date: &str, instant: &str) -> bool {
        use std::ops::RangeBounds;
        let now = dt("2024-06-12T15:30:00Z");
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        function.span(now, count, date).contains(&dt(instant))
    }

    #[test]
    fn spans_cover_whole_utc_days_weeks_months_and_years() {
        use DateFunction::*;
        let d = "2000-01-01";
        let cases: &[(DateFunction, u32, &str, &str, bool)] = &[
            (Today, 0, d, "2024-06-12T00:00:00Z", true),
            (Today, 0, d, "2024-06-12T23:59:59Z", true),
            (Today, 0, d, "2024-06-13T00:00:00Z", false),
            (Yesterday, 0, d, "2024-06-11T12:00:00Z", true),
            (Tomorrow, 0, d, "2024-06-13T12:00:00Z", true),
            (Tomorrow, 0, d, "2024-06-12T23:00:00Z", false),
            // Weeks start on Sunday: 2024-06-09.
            (ThisWeek, 0, d, "2024-06-09T00:00:00Z", true),
            (ThisWeek, 0, d, "2024-06-08T23:59:59Z", false),
            (LastWeek, 0, d, "2024-06-02T00:00:00Z", true),
            (NextWeek, 0, d, "2024-06-22T23:00:00Z", true),
            (ThisMonth, 0, d, "2024-06-01T00:00:00Z", true),
            (LastMonth, 0, d, "2024-05-31T23:59:59Z", true),
            (NextMonth, 0, d, "2024-07-31T00:00:00Z", true),
            (ThisYear, 0, d, "2024-12-31T23:59:59Z", true),
            (LastYear, 0, d, "2024-01-01T00:00:00Z", false),
            (LastXDays, 3, d, "2024-06-09T00:00:00Z", true),
            (LastXDays, 3, d, "2024-06-08T23:59:59Z", false),
            (LastXDays, 3, d, "2024-06-12T16:00:00Z", false),
            (Last7Days, 0, d, "2024-06-05T00:00:00Z", true),
            (NextXDays, 2, d, "2024-06-14T23:59:59Z", true),
            (NextXDays, 2, d, "2024-06-12T15:00:00Z", false),
            (LastXHours, 2, d, "2024-06-12T13:30:00Z", true),
            (LastXHours, 2, d, "2024-06-12T13:29:59Z", false),
            (NextXHours, 1, d, "2024-06-12T16:30:00Z", true),
            (LastXMonths, 1, d, "2024-05-12T00:00:00Z", true),
            (NextXYears, 1, d, "2025-06-12T20:00:00Z", true),
            (OlderThanXDays, 1, d, "2024-06-11T15:29:59Z", true),
            (OlderThanXDays, 1, d, "2024-06-11T15:30:00Z", false),
            (OlderThanXMinutes, 30, d, "2024-06-12T14:59:00Z", true),
            (On, 0, "2024-02-29", "2024-02-29T23:59:59Z", true),
            (On, 0, "2024-02-29", "2024-03-01T00:00:00Z", false),
            (OnOrAfter, 0, "2024-02-29", "2030-01-01T00:00:00Z", true),
            (OnOrBefore, 0, "2024-02-29", "2024-02-29T10:00:00Z", true),
            (OnOrBefore, 0, "2024-02-29", "2024-03-01T00:00:00Z", false),
        ];
        for &(function, count, date, instant, expected) in cases {
            assert_eq!(
                inside(function, count, date, instant),
                expected,
                "{}({count}, {date}) at {instant}",
                function.name()
            );
        }
    }

    #[test]
    fn absurd_counts_give_open_spans_instead_of_panicking() {
        let now = dt("2024-06-12T15:30:00Z");
        for function in DateFunction::ALL {
            let _ = function.span(now, u32::MAX, NaiveDate::MAX);
            let _ = function.span(DateTime::<Utc>::MAX_UTC, u32::MAX, NaiveDate::MIN);
            let _ = function.span(DateTime::<Utc>::MIN_UTC, u32::MAX, NaiveDate::MAX);
        }
    }
}
