//! Help now: a seeker who needs to talk now is queued (priority groups first,
//! then arrival) and put through to a free on-duty expert. The rules that
//! need no database live here: what a request and a duty change may say, the
//! order of the queue, and the wait a seeker is told.
use crate::error::ValidationError;
use crate::seeker::PriorityGroup;
use crate::vocabulary::{known_code, LANGUAGES, TOPICS};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// An expert is not offered help-now calls this close to a booked session.
pub const CLEAR_OF_BOOKINGS: Duration = Duration::minutes(15);

/// How long a help-now call may last: its legs are released after this.
pub const CALL_WINDOW: Duration = Duration::minutes(60);

/// The longest a duty may be set for in one go.
pub const LONGEST_DUTY: Duration = Duration::hours(24);

/// A call's length assumed for the estimate until help-now calls were made.
pub const ASSUMED_CALL_SECONDS: u32 = 20 * 60;

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum HelpNowStatus as "help-now status" {
        /// Waiting for a free expert.
        Queued = "queued",
        /// An expert's phone is ringing; the seeker is not called yet.
        RingingExpert = "ringing_expert",
        /// The expert answered; the seeker's phone rings.
        CallingSeeker = "calling_seeker",
        Connected = "connected",
        Completed = "completed",
        /// The seeker left the queue.
        Cancelled = "cancelled",
        /// Nobody was free in time.
        TimedOut = "timed_out",
    }
}

impl HelpNowStatus {
    /// Still in the queue or on the phone.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Self::Queued | Self::RingingExpert | Self::CallingSeeker | Self::Connected
        )
    }
}

/// The queue's order: every priority group before the general public.
pub fn priority_rank(group: PriorityGroup) -> i16 {
    if group.is_priority() {
        0
    } else {
        1
    }
}

/// A request waiting in the queue, as dispatch sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: uuid::Uuid,
    pub language: Option<String>,
    pub topic: Option<String>,
    /// The experts already rung for it: never again.
    pub rung: Vec<uuid::Uuid>,
}

/// An expert free for a help-now call now, as dispatch sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeExpert {
    pub id: uuid::Uuid,
    pub languages: Vec<String>,
    pub topics: Vec<String>,
    /// Help-now calls they took today.
    pub calls_today: i64,
}

/// Who rings for whom in one dispatch. `queue` is in queue order (priority
/// groups, then arrival); `free` in the order ties go (the longest on duty
/// first). Each request in turn gets the free expert not yet taken in this
/// dispatch and never rung for it, who speaks its language, with the fewest
/// help-now calls today, one with its topic before one without; a request
/// nobody suits waits, and those behind it still get their turn.
pub fn assign(queue: &[Waiting], free: &[FreeExpert]) -> Vec<(uuid::Uuid, uuid::Uuid)> {
    let mut taken = vec![false; free.len()];
    let mut out = Vec::new();
    for request in queue {
        let choice = free
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                !taken[*i]
                    && !request.rung.contains(&e.id)
                    && request
                        .language
                        .as_ref()
                        .is_none_or(|l| e.languages.contains(l))
            })
            .min_by_key(|(_, e)| {
                let has_topic = request.topic.as_ref().is_some_and(|t| e.topics.contains(t));
                (e.calls_today, !has_topic)
            });
        if let Some((i, e)) = choice {
            taken[i] = true;
            out.push((request.id, e.id));
        }
    }
    out
}

/// What `POST /v1/help-now` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HelpNowInput {
    /// The seeker's number: dialled once an expert has answered, shown to
    /// nobody.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 32, example = "138 1234 5678")
    )]
    pub phone: String,
    /// A language the call must be in (`GET /v1/vocabulary`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub language: Option<String>,
    /// What it is about: an expert with this topic is preferred.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub topic: Option<String>,
    /// A few words for the expert (at most 500 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub note: Option<String>,
}

/// A checked request, the phone aside (its country comes from settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpNowWish {
    pub language: Option<String>,
    pub topic: Option<String>,
    pub note: Option<String>,
}

impl HelpNowInput {
    pub fn validate(&self) -> Result<HelpNowWish, ValidationError> {
        let note = match self.note.as_deref().map(str::trim) {
            Some(n) if n.chars().count() > 500 || n.contains('\0') => {
                return Err(ValidationError::new(
                    "note",
                    "at most 500 characters, and no NUL",
                ))
            }
            Some("") | None => None,
            Some(n) => Some(n.to_owned()),
        };
        Ok(HelpNowWish {
            language: known_code("language", self.language.as_deref(), LANGUAGES)?,
            topic: known_code("topic", self.topic.as_deref(), TOPICS)?,
            note,
        })
    }
}

/// What `PUT /v1/experts/me/duty` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DutyInput {
    pub on_duty: bool,
    /// On duty until then (RFC 3339, within 24 hours); without it, until
    /// switched off.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

impl DutyInput {
    /// 422 for an end already past or more than a day away, or an end
    /// given while switching off.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ValidationError> {
        match (self.on_duty, self.until) {
            (false, Some(_)) => Err(ValidationError::new("until", "only when switching on duty")),
            (true, Some(t)) if t <= now => {
                Err(ValidationError::new("until", "must be in the future"))
            }
            (true, Some(t)) if t > now + LONGEST_DUTY => {
                Err(ValidationError::new("until", "at most 24 hours from now"))
            }
            (_, until) => Ok(until),
        }
    }
}

/// The wait to tell a seeker at `position` (1 = next) in the queue, in
/// seconds: the seekers ahead of them beyond the experts free now wait for
/// calls to end, `on_duty` of them at a time at `mean_call_seconds` each;
/// then the phone rings (about half the ring time). An honest figure is
/// rounded up to whole minutes past the first one.
pub fn estimate_wait_seconds(
    position: u32,
    free_now: u32,
    on_duty: u32,
    mean_call_seconds: u32,
    ring_seconds: u32,
) -> u32 {
    let answer = ring_seconds.div_ceil(2);
    let ahead = position.saturating_sub(1);
    if ahead < free_now {
        return answer;
    }
    let waiting_for_calls = ahead - free_now + 1;
    let per_call = mean_call_seconds / on_duty.max(1);
    let wait = waiting_for_calls
        .saturating_mul(per_call)
        .saturating_add(answer);
    wait.div_ceil(60).saturating_mul(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(n: u128, language: Option<&str>, topic: Option<&str>, rung: &[u128]) -> Waiting {
        Waiting {
            id: uuid::Uuid::from_u128(n),
            language: language.map(Into::into),
            topic: topic.map(Into::into),
            rung: rung.iter().map(|r| uuid::Uuid::from_u128(*r)).collect(),
        }
    }

    fn free(n: u128, languages: &[&str], topics: &[&str], calls_today: i64) -> FreeExpert {
        FreeExpert {
            id: uuid::Uuid::from_u128(n),
            languages: languages.iter().map(|l| l.to_string()).collect(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            calls_today,
        }
    }

    fn ids(pairs: &[(uuid::Uuid, uuid::Uuid)]) -> Vec<(u128, u128)> {
        pairs
            .iter()
            .map(|(r, e)| (r.as_u128(), e.as_u128()))
            .collect()
    }

    #[test]
    fn the_first_in_line_get_the_free_experts_one_each() {
        let queue = [
            waiting(1, None, None, &[]),
            waiting(2, None, None, &[]),
            waiting(3, None, None, &[]),
        ];
        let experts = [free(10, &["zh"], &[], 0), free(11, &["zh"], &[], 0)];
        assert_eq!(ids(&assign(&queue, &experts)), [(1, 10), (2, 11)]);
    }

    #[test]
    fn the_fewest_calls_today_first_then_the_topic_then_the_longest_on_duty() {
        let experts = [
            free(10, &["zh"], &[], 2),
            free(11, &["zh"], &[], 1),
            free(12, &["zh"], &["grief"], 1),
        ];
        assert_eq!(
            ids(&assign(&[waiting(1, None, None, &[])], &experts)),
            [(1, 11)]
        );
        assert_eq!(
            ids(&assign(&[waiting(1, None, Some("grief"), &[])], &experts)),
            [(1, 12)]
        );
        // The topic never outweighs the balance of calls.
        let busy_with_topic = [free(10, &["zh"], &[], 0), free(12, &["zh"], &["grief"], 3)];
        assert_eq!(
            ids(&assign(
                &[waiting(1, None, Some("grief"), &[])],
                &busy_with_topic
            )),
            [(1, 10)]
        );
    }

    #[test]
    fn nobody_is_rung_twice_for_a_request_and_a_language_is_kept() {
        let experts = [free(10, &["zh"], &[], 0), free(11, &["yue"], &[], 0)];
        // Rung once already, the first expert is skipped for this request.
        assert_eq!(
            ids(&assign(&[waiting(1, None, None, &[10])], &experts)),
            [(1, 11)]
        );
        // Nobody who speaks English is free: that request waits, and the
        // one behind it still gets an expert.
        let queue = [
            waiting(1, Some("en"), None, &[]),
            waiting(2, Some("yue"), None, &[]),
        ];
        assert_eq!(ids(&assign(&queue, &experts)), [(2, 11)]);
        assert!(assign(&[waiting(1, None, None, &[10, 11])], &experts).is_empty());
    }

    #[test]
    fn priority_groups_are_served_before_the_general_public() {
        assert!(
            priority_rank(PriorityGroup::MedicalWorker) < priority_rank(PriorityGroup::General)
        );
        assert_eq!(
            priority_rank(PriorityGroup::Patient),
            priority_rank(PriorityGroup::BereavedFamily)
        );
    }

    #[test]
    fn a_seeker_with_a_free_expert_waits_only_for_the_phone_to_be_answered() {
        assert_eq!(estimate_wait_seconds(1, 1, 3, 1200, 20), 10);
        assert_eq!(estimate_wait_seconds(2, 2, 3, 1200, 20), 10);
    }

    #[test]
    fn a_seeker_behind_busy_experts_waits_for_calls_to_end_shared_among_them() {
        // Nobody free, three on duty, 20-minute calls: the next seeker waits
        // about a third of a call, the fourth about four thirds.
        assert_eq!(estimate_wait_seconds(1, 0, 3, 1200, 20), 420);
        assert_eq!(estimate_wait_seconds(4, 0, 3, 1200, 20), 1620);
        // More experts on duty, shorter waits.
        assert!(
            estimate_wait_seconds(4, 0, 6, 1200, 20) < estimate_wait_seconds(4, 0, 3, 1200, 20)
        );
        // Nobody on duty at all is not a division by zero.
        assert_eq!(estimate_wait_seconds(1, 0, 0, 600, 20), 660);
    }

    #[test]
    fn a_request_names_known_codes_and_a_short_note() {
        let input =
            |language: Option<&str>, topic: Option<&str>, note: Option<&str>| HelpNowInput {
                phone: "13812345678".into(),
                language: language.map(Into::into),
                topic: topic.map(Into::into),
                note: note.map(Into::into),
            };
        assert_eq!(
            input(Some("tlh"), None, None).validate().unwrap_err().field,
            "language"
        );
        assert_eq!(
            input(None, Some("boredom"), None)
                .validate()
                .unwrap_err()
                .field,
            "topic"
        );
        let long = "很".repeat(501);
        assert_eq!(
            input(None, None, Some(&long)).validate().unwrap_err().field,
            "note"
        );
        assert_eq!(
            input(None, None, Some("a\0b"))
                .validate()
                .unwrap_err()
                .field,
            "note"
        );
        let ok = input(Some("zh"), Some("grief"), Some("  "))
            .validate()
            .unwrap();
        assert_eq!(
            ok,
            HelpNowWish {
                language: Some("zh".into()),
                topic: Some("grief".into()),
                note: None
            }
        );
    }

    #[test]
    fn a_duty_ends_in_the_future_within_a_day_or_when_switched_off() {
        let now = Utc::now();
        let duty = |on_duty, hours: Option<i64>| DutyInput {
            on_duty,
            until: hours.map(|h| now + Duration::hours(h)),
        };
        assert_eq!(duty(true, None).validate(now).unwrap(), None);
        assert!(duty(true, Some(2)).validate(now).unwrap().is_some());
        assert_eq!(
            duty(true, Some(-1)).validate(now).unwrap_err().field,
            "until"
        );
        assert_eq!(
            duty(true, Some(25)).validate(now).unwrap_err().field,
            "until"
        );
        assert_eq!(
            duty(false, Some(2)).validate(now).unwrap_err().field,
            "until"
        );
        assert_eq!(duty(false, None).validate(now).unwrap(), None);
    }
}
