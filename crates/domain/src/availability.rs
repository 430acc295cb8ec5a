//! Weekly availability with date overrides, in the expert's own time zone, and
//! the slots it yields. Slots are computed in local time and stored in UTC, so
//! a week that crosses a DST change still starts every slot at the local time
//! the expert chose. A local time skipped by a spring-forward gap yields no
//! slot; a local time repeated by a fall-back is taken at its first occurrence.
use crate::ValidationError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MIN_SLOT_MINUTES: u32 = 10;
pub const MAX_SLOT_MINUTES: u32 = 240;
pub const MAX_WEEKLY_RANGES: usize = 70;
pub const MAX_OVERRIDES: usize = 120;
/// The highest `max_sessions_per_day`: one session an hour, all day.
pub const MAX_SESSIONS_PER_DAY: u32 = 24;
/// The highest `max_sessions_per_week`.
pub const MAX_SESSIONS_PER_WEEK: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Monday first, as ISO 8601 counts.
    pub const ALL: [Weekday; 7] = [
        Self::Mon,
        Self::Tue,
        Self::Wed,
        Self::Thu,
        Self::Fri,
        Self::Sat,
        Self::Sun,
    ];

    fn of(date: NaiveDate) -> Self {
        use chrono::Weekday as W;
        match date.weekday() {
            W::Mon => Self::Mon,
            W::Tue => Self::Tue,
            W::Wed => Self::Wed,
            W::Thu => Self::Thu,
            W::Fri => Self::Fri,
            W::Sat => Self::Sat,
            W::Sun => Self::Sun,
        }
    }
}

/// The request shape of an availability, as the expert writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AvailabilityInput {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::TimeZone))]
    pub timezone: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 10, maximum = 240))]
    pub slot_minutes: u32,
    /// Ranges on the same weekday may not overlap, and each must hold at
    /// least one slot.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 70))]
    pub weekly: Vec<WeeklyInput>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 120))]
    pub overrides: Vec<OverrideInput>,
    /// At most this many sessions on one of the expert's local days (1–24),
    /// or null for no cap. Held slots count: concurrent holds never take the
    /// day past it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 24))]
    pub max_sessions_per_day: Option<u32>,
    /// At most this many sessions in one of the expert's local weeks,
    /// Monday to Sunday (1–60), or null for no cap; enforced like the daily
    /// cap. Volunteers who give more than about 12 hours a week burn out.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 60))]
    pub max_sessions_per_week: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeeklyInput {
    pub weekday: Weekday,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::LocalTime))]
    pub start: String,
    /// After `start`: a range never crosses midnight.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::LocalTime))]
    pub end: String,
}

/// One date's hours instead of its weekday's: either `closed: true`, or a
/// `start` and an `end`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    pub date: String,
    #[serde(default)]
    pub closed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// Minutes since local midnight, `0..=1440` (so a range may end at `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start_minute: u32,
    pub end_minute: u32,
}

/// A validated availability.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    pub timezone: Tz,
    pub slot_minutes: u32,
    pub weekly: BTreeMap<Weekday, Vec<Range>>,
    /// A date present with no ranges is closed that day.
    pub overrides: BTreeMap<NaiveDate, Vec<Range>>,
    /// Sessions (held or booked) allowed on one local day; None: no cap.
    pub max_sessions_per_day: Option<u32>,
    /// Sessions allowed in one local week (Monday to Sunday); None: no cap.
    pub max_sessions_per_week: Option<u32>,
}

crate::named! {
    /// Whether a slot is offered. A withdrawn slot (the expert's hours changed)
    /// keeps its row, so a booking on it still has its slot.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SlotStatus as "slot status" {
        Open = "open",
        Withdrawn = "withdrawn",
    }
}

/// A slot's time, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotTime {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl SlotTime {
    pub fn overlaps(&self, other: &SlotTime) -> bool {
        self.starts_at < other.ends_at && other.starts_at < self.ends_at
    }
}

pub fn parse_timezone(field: &str, name: &str) -> Result<Tz, ValidationError> {
    name.parse::<Tz>()
        .map_err(|_| ValidationError::new(field, format!("unknown IANA time zone {name:?}")))
}

fn parse_hhmm(field: &str, s: &str) -> Result<u32, ValidationError> {
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let t = NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| ValidationError::new(field, "must be a time HH:MM between 00:00 and 24:00"))?;
    Ok(t.signed_duration_since(NaiveTime::MIN).num_minutes() as u32)
}

fn parse_range(
    field: &str,
    start: &str,
    end: &str,
    slot_minutes: u32,
) -> Result<Range, ValidationError> {
    let start_minute = parse_hhmm(&format!("{field}.start"), start)?;
    let end_minute = parse_hhmm(&format!("{field}.end"), end)?;
    if end_minute <= start_minute {
        return Err(ValidationError::new(
            format!("{field}.end"),
            "must be after start (ranges may not cross midnight; split them)",
        ));
    }
    if end_minute - start_minute < slot_minutes {
        return Err(ValidationError::new(
            format!("{field}.end"),
            format!("range is shorter than one slot of {slot_minutes} minutes"),
        ));
    }
    Ok(Range {
        start_minute,
        end_minute,
    })
}

fn check_no_overlap(field: &str, ranges: &mut [Range]) -> Result<(), ValidationError> {
    ranges.sort();
    for pair in ranges.windows(2) {
        if pair[1].start_minute < pair[0].end_minute {
            return Err(ValidationError::new(
                field,
                "ranges on the same day overlap",
            ));
        }
    }
    Ok(())
}

impl AvailabilityInput {
    pub fn validate(&self) -> Result<Availability, ValidationError> {
        let timezone = parse_timezone("timezone", &self.timezone)?;
        if !(MIN_SLOT_MINUTES..=MAX_SLOT_MINUTES).contains(&self.slot_minutes) {
            return Err(ValidationError::new(
                "slot_minutes",
                format!("must be between {MIN_SLOT_MINUTES} and {MAX_SLOT_MINUTES}"),
            ));
        }
        if self
            .max_sessions_per_day
            .is_some_and(|n| !(1..=MAX_SESSIONS_PER_DAY).contains(&n))
        {
            return Err(ValidationError::new(
                "max_sessions_per_day",
                format!("must be between 1 and {MAX_SESSIONS_PER_DAY}, or null for no cap"),
            ));
        }
        if self
            .max_sessions_per_week
            .is_some_and(|n| !(1..=MAX_SESSIONS_PER_WEEK).contains(&n))
        {
            return Err(ValidationError::new(
                "max_sessions_per_week",
                format!("must be between 1 and {MAX_SESSIONS_PER_WEEK}, or null for no cap"),
            ));
        }
        if self.weekly.len() > MAX_WEEKLY_RANGES {
            return Err(ValidationError::new(
                "weekly",
                format!("at most {MAX_WEEKLY_RANGES} weekly ranges"),
            ));
        }
        if self.overrides.len() > MAX_OVERRIDES {
            return Err(ValidationError::new(
                "overrides",
                format!("at most {MAX_OVERRIDES} overrides"),
            ));
        }
        let mut weekly: BTreeMap<Weekday, Vec<Range>> = BTreeMap::new();
        for (i, w) in self.weekly.iter().enumerate() {
            let range = parse_range(&format!("weekly[{i}]"), &w.start, &w.end, self.slot_minutes)?;
            weekly.entry(w.weekday).or_default().push(range);
        }
        for ranges in weekly.values_mut() {
            check_no_overlap("weekly", ranges)?;
        }
        let mut overrides: BTreeMap<NaiveDate, Vec<Range>> = BTreeMap::new();
        for (i, o) in self.overrides.iter().enumerate() {
            let field = format!("overrides[{i}]");
            let date = NaiveDate::parse_from_str(&o.date, "%Y-%m-%d")
                .map_err(|_| ValidationError::new(format!("{field}.date"), "must be YYYY-MM-DD"))?;
            let day = overrides.entry(date).or_default();
            match (o.closed, &o.start, &o.end) {
                (true, None, None) => {}
                (true, _, _) => {
                    return Err(ValidationError::new(
                        field,
                        "a closed day takes no start or end",
                    ))
                }
                (false, Some(start), Some(end)) => {
                    day.push(parse_range(&field, start, end, self.slot_minutes)?)
                }
                (false, _, _) => {
                    return Err(ValidationError::new(
                        field,
                        "give either closed: true, or both start and end",
                    ))
                }
            }
        }
        for ranges in overrides.values_mut() {
            check_no_overlap("overrides", ranges)?;
        }
        Ok(Availability {
            timezone,
            slot_minutes: self.slot_minutes,
            weekly,
            overrides,
            max_sessions_per_day: self.max_sessions_per_day,
            max_sessions_per_week: self.max_sessions_per_week,
        })
    }
}

impl Availability {
    /// Every slot that ends after `now` and starts before `now + horizon`.
    pub fn slots(&self, now: DateTime<Utc>, horizon: Duration) -> Vec<SlotTime> {
        let until = now + horizon;
        let step = self.slot_minutes;
        let first_day = now.with_timezone(&self.timezone).date_naive() - Duration::days(1);
        let last_day = until.with_timezone(&self.timezone).date_naive();
        let mut out = Vec::new();
        let mut day = first_day;
        while day <= last_day {
            let ranges = match self.overrides.get(&day) {
                Some(r) => r.as_slice(),
                None => self
                    .weekly
                    .get(&Weekday::of(day))
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            };
            for range in ranges {
                let mut minute = range.start_minute;
                while minute + step <= range.end_minute {
                    if let Some(starts_at) = self.local_to_utc(day, minute) {
                        let slot = SlotTime {
                            starts_at,
                            ends_at: starts_at + Duration::minutes(i64::from(step)),
                        };
                        if slot.ends_at > now && slot.starts_at < until {
                            out.push(slot);
                        }
                    }
                    minute += step;
                }
            }
            day += Duration::days(1);
        }
        out.sort();
        out.dedup();
        out
    }

    fn local_to_utc(&self, day: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
        let naive = day.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
        self.timezone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// A slot already stored, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSlot<Id> {
    pub id: Id,
    pub time: SlotTime,
    /// Held or booked: an availability change must not remove it.
    pub protected: bool,
}

/// What an availability change does to the stored slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPlan<Id> {
    pub insert: Vec<SlotTime>,
    pub withdraw: Vec<Id>,
    /// Held or booked slots the new availability no longer covers: kept, and
    /// reported so the expert knows why they still have them.
    pub conflicts: Vec<Id>,
}

/// Reconciles stored open slots with the slots a new availability wants.
/// Protected slots are never withdrawn, and no new slot may overlap one.
pub fn plan_slot_changes<Id: Copy>(
    stored: &[StoredSlot<Id>],
    desired: &[SlotTime],
) -> SlotPlan<Id> {
    let mut plan = SlotPlan {
        insert: Vec::new(),
        withdraw: Vec::new(),
        conflicts: Vec::new(),
    };
    for s in stored {
        if desired.contains(&s.time) {
            continue;
        }
        if s.protected {
            plan.conflicts.push(s.id);
        } else {
            plan.withdraw.push(s.id);
        }
    }
    for d in desired {
        let exists = stored.iter().any(|s| s.time == *d);
        let clashes = stored
            .iter()
            .any(|s| s.protected && s.time != *d && s.time.overlaps(d));
        if !exists && !clashes {
            plan.insert.push(*d);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(tz: &str, weekly: &[(Weekday, &str, &str)]) -> AvailabilityInput {
        AvailabilityInput {
            timezone: tz.into(),
            slot_minutes: 60,
            weekly: weekly
                .iter()
                .map(|(d, s, e)| WeeklyInput {
                    weekday: *d,
                    start: (*s).into(),
                    end: (*e).into(),
                })
                .collect(),
            overrides: vec![],
            max_sessions_per_day: None,
            max_sessions_per_week: None,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn new_york_slots_keep_local_time_across_the_dst_change() {
        // 2026-03-08 is the US spring-forward Sunday.
        let a = input(
            "America/New_York",
            &[
                (Weekday::Sat, "09:00", "10:00"),
                (Weekday::Mon, "09:00", "10:00"),
            ],
        )
        .validate()
        .unwrap();
        let slots = a.slots(utc("2026-03-07T00:00:00Z"), Duration::days(3));
        let starts: Vec<_> = slots.iter().map(|s| s.starts_at).collect();
        assert_eq!(
            starts,
            vec![utc("2026-03-07T14:00:00Z"), utc("2026-03-09T13:00:00Z")]
        );
    }

    #[test]
    fn shanghai_has_no_dst_and_a_gap_hour_yields_no_slot() {
        let a = input("Asia/Shanghai", &[(Weekday::Mon, "08:00", "10:00")])
            .validate()
            .unwrap();
        let slots = a.slots(utc("2026-03-08T00:00:00Z"), Duration::days(2));
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0].starts_at, utc("2026-03-09T00:00:00Z"));

        // 02:00-03:00 does not exist in New York on 2026-03-08.
        let gap = input("America/New_York", &[(Weekday::Sun, "02:00", "03:00")])
            .validate()
            .unwrap();
        assert!(gap
            .slots(utc("2026-03-08T00:00:00Z"), Duration::days(1))
            .is_empty());
    }

    #[test]
    fn overrides_close_a_day_or_replace_its_hours() {
        let mut i = input(
            "UTC",
            &[
                (Weekday::Mon, "09:00", "11:00"),
                (Weekday::Tue, "09:00", "10:00"),
            ],
        );
        i.overrides = vec![
            OverrideInput {
                date: "2026-11-23".into(),
                closed: true,
                start: None,
                end: None,
            },
            OverrideInput {
                date: "2026-11-24".into(),
                closed: false,
                start: Some("20:00".into()),
                end: Some("21:00".into()),
            },
        ];
        let slots = i
            .validate()
            .unwrap()
            .slots(utc("2026-11-22T00:00:00Z"), Duration::days(3));
        let starts: Vec<_> = slots.iter().map(|s| s.starts_at).collect();
        assert_eq!(starts, vec![utc("2026-11-24T20:00:00Z")]);
    }

    #[test]
    fn the_horizon_rolls_forward_with_now() {
        let a = input("UTC", &[(Weekday::Mon, "09:00", "10:00")])
            .validate()
            .unwrap();
        let early = a.slots(utc("2026-11-22T00:00:00Z"), Duration::days(7));
        let later = a.slots(utc("2026-11-29T00:00:00Z"), Duration::days(7));
        assert_eq!(early.len(), 1);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].starts_at - early[0].starts_at, Duration::days(7));
    }

    #[test]
    fn a_daily_cap_is_one_to_twenty_four_or_none() {
        let mut i = input("UTC", &[(Weekday::Mon, "09:00", "10:00")]);
        for bad in [0, 25, 1000] {
            i.max_sessions_per_day = Some(bad);
            assert_eq!(i.validate().unwrap_err().field, "max_sessions_per_day");
        }
        for good in [Some(1), Some(24), None] {
            i.max_sessions_per_day = good;
            assert_eq!(i.validate().unwrap().max_sessions_per_day, good);
        }
        for bad in [0, 61] {
            i.max_sessions_per_week = Some(bad);
            assert_eq!(i.validate().unwrap_err().field, "max_sessions_per_week");
        }
        i.max_sessions_per_week = Some(12);
        assert_eq!(i.validate().unwrap().max_sessions_per_week, Some(12));
    }

    #[test]
    fn absurd_input_names_the_field() {
        let mut i = input("UTC", &[(Weekday::Mon, "09:00", "10:00")]);
        i.slot_minutes = 0;
        assert_eq!(i.validate().unwrap_err().field, "slot_minutes");
        i.slot_minutes = 10000;
        assert_eq!(i.validate().unwrap_err().field, "slot_minutes");
        let i = input("Mars/Olympus", &[]);
        assert_eq!(i.validate().unwrap_err().field, "timezone");
        let i = input("UTC", &[(Weekday::Mon, "10:00", "09:00")]);
        assert_eq!(i.validate().unwrap_err().field, "weekly[0].end");
        let i = input("UTC", &[(Weekday::Mon, "25:00", "26:00")]);
        assert_eq!(i.validate().unwrap_err().field, "weekly[0].start");
        let many: Vec<_> = (0..500).map(|_| (Weekday::Mon, "09:00", "10:00")).collect();
        assert_eq!(input("UTC", &many).validate().unwrap_err().field, "weekly");
        let i = input(
            "UTC",
            &[
                (Weekday::Mon, "09:00", "11:00"),
                (Weekday::Mon, "10:00", "12:00"),
            ],
        );
        assert_eq!(i.validate().unwrap_err().field, "weekly");
    }

    #[test]
    fn a_change_never_removes_a_protected_slot() {
        let t = |h: u32| SlotTime {
            starts_at: utc("2026-11-23T00:00:00Z") + Duration::hours(h.into()),
            ends_at: utc("2026-11-23T01:00:00Z") + Duration::hours(h.into()),
        };
        let stored = [
            StoredSlot {
                id: 1,
                time: t(1),
                protected: true,
            },
            StoredSlot {
                id: 2,
                time: t(2),
                protected: false,
            },
            StoredSlot {
                id: 3,
                time: t(3),
                protected: false,
            },
        ];
        let half = SlotTime {
            starts_at: t(1).starts_at + Duration::minutes(30),
            ends_at: t(1).ends_at + Duration::minutes(30),
        };
        let plan = plan_slot_changes(&stored, &[t(3), t(4), half]);
        assert_eq!(plan.conflicts, vec![1]);
        assert_eq!(plan.withdraw, vec![2]);
        assert_eq!(plan.insert, vec![t(4)]);
    }
}
