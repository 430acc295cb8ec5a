//! Supervision and training (督导与培训): the modules a volunteer completes
//! before taking calls, and the debrief a supervisor owes a volunteer after a
//! hard session — when one opens and when it is due.
use crate::error::ValidationError;
use crate::expert::text;
use crate::referral::{SessionOutcome, Urgency};
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// The longest text a module may carry, and a supervisor's debrief note.
pub const MAX_BODY_CHARS: usize = 4000;

/// What `POST /v1/training/modules` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModuleInput {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub title: String,
    /// Where the material is: an `http(s)` link.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 500, pattern = r"^https?://[^\s\x00]+$")
    )]
    pub url: Option<String>,
    /// The material itself, as text (at most 4,000 characters).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 4000,
            pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
        )
    )]
    pub body: Option<String>,
    /// Approval waits until every required module is complete.
    pub required: bool,
    /// The volunteer may mark it complete themselves.
    pub self_attest: bool,
}

/// A checked module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub title: String,
    pub url: Option<String>,
    pub body: Option<String>,
    pub required: bool,
    pub self_attest: bool,
}

impl ModuleInput {
    /// 422 naming the field for a blank or long title, a link that is not
    /// `http(s)`, or a body too long.
    pub fn validate(&self) -> Result<Module, ValidationError> {
        let url = match self.url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => {
                let ok = (u.starts_with("https://") || u.starts_with("http://"))
                    && u.len() <= 500
                    && u.len() > "https://".len()
                    && !u.chars().any(|c| c.is_whitespace() || c == '\0');
                if !ok {
                    return Err(ValidationError::new(
                        "url",
                        "must be an http(s) link of at most 500 characters",
                    ));
                }
                Some(u.to_owned())
            }
        };
        let body = match self.body.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(b) => Some(text("body", b, MAX_BODY_CHARS)?),
        };
        Ok(Module {
            title: text("title", &self.title, 200)?,
            url,
            body,
            required: self.required,
            self_attest: self.self_attest,
        })
    }
}

crate::named! {
    /// Why a debrief was opened.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum DebriefReason as "debrief reason" {
        EmergencyReferral = "emergency_referral",
        UrgentReferral = "urgent_referral",
        CutShort = "cut_short",
        Requested = "requested",
        /// The third seeker in a row who did not answer.
        AbsentStreak = "absent_streak",
    }
}

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum DebriefStatus as "debrief status" {
        Open = "open",
        Done = "done",
    }
}

/// How many absent seekers in a row open a debrief.
pub const ABSENT_STREAK: usize = 3;

/// What a recorded session says about its expert's need to talk it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSignals {
    pub outcome: SessionOutcome,
    /// The referral's urgency, when the expert referred the seeker.
    pub urgency: Option<Urgency>,
    /// The expert asked for a debrief.
    pub requested: bool,
    /// This expert's seeker-absent sessions in a row, this one included.
    pub absent_in_a_row: usize,
}

/// Whether a session opens a debrief, why, and how long the supervisor has:
/// 24 hours after an emergency referral, 72 otherwise. The gravest reason
/// wins when there are several.
pub fn debrief_for(s: SessionSignals) -> Option<(DebriefReason, Duration)> {
    let reason = match s {
        SessionSignals {
            urgency: Some(Urgency::Emergency),
            ..
        } => DebriefReason::EmergencyReferral,
        SessionSignals {
            urgency: Some(Urgency::Urgent),
            ..
        } => DebriefReason::UrgentReferral,
        SessionSignals {
            outcome: SessionOutcome::CutShort,
            ..
        } => DebriefReason::CutShort,
        SessionSignals {
            requested: true, ..
        } => DebriefReason::Requested,
        SessionSignals {
            outcome: SessionOutcome::SeekerAbsent,
            absent_in_a_row,
            ..
        } if absent_in_a_row >= ABSENT_STREAK => DebriefReason::AbsentStreak,
        _ => return None,
    };
    let due = if reason == DebriefReason::EmergencyReferral {
        Duration::hours(24)
    } else {
        Duration::hours(72)
    };
    Some((reason, due))
}

/// A wellbeing answer: 1 (very hard) to 5 (well).
pub fn check_wellbeing(w: Option<u8>) -> Result<Option<u8>, ValidationError> {
    match w {
        Some(w) if !(1..=5).contains(&w) => Err(ValidationError::new(
            "wellbeing",
            "must be 1 (very hard) to 5 (well)",
        )),
        w => Ok(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(outcome: SessionOutcome) -> SessionSignals {
        SessionSignals {
            outcome,
            urgency: None,
            requested: false,
            absent_in_a_row: 0,
        }
    }

    #[test]
    fn a_hard_session_opens_a_debrief_due_sooner_after_an_emergency() {
        let emergency = SessionSignals {
            urgency: Some(Urgency::Emergency),
            requested: true,
            ..signals(SessionOutcome::CutShort)
        };
        assert_eq!(
            debrief_for(emergency),
            Some((DebriefReason::EmergencyReferral, Duration::hours(24)))
        );
        let urgent = SessionSignals {
            urgency: Some(Urgency::Urgent),
            ..signals(SessionOutcome::Completed)
        };
        assert_eq!(
            debrief_for(urgent),
            Some((DebriefReason::UrgentReferral, Duration::hours(72)))
        );
        assert_eq!(
            debrief_for(signals(SessionOutcome::CutShort)).map(|d| d.0),
            Some(DebriefReason::CutShort)
        );
        let requested = SessionSignals {
            requested: true,
            ..signals(SessionOutcome::Completed)
        };
        assert_eq!(
            debrief_for(requested).map(|d| d.0),
            Some(DebriefReason::Requested)
        );
    }

    #[test]
    fn an_ordinary_session_or_a_routine_referral_opens_none() {
        assert_eq!(debrief_for(signals(SessionOutcome::Completed)), None);
        let routine = SessionSignals {
            urgency: Some(Urgency::Routine),
            ..signals(SessionOutcome::Completed)
        };
        assert_eq!(debrief_for(routine), None);
    }

    #[test]
    fn the_third_absent_seeker_in_a_row_opens_one_the_second_does_not() {
        let absent = |n| SessionSignals {
            absent_in_a_row: n,
            ..signals(SessionOutcome::SeekerAbsent)
        };
        assert_eq!(debrief_for(absent(2)), None);
        assert_eq!(
            debrief_for(absent(3)),
            Some((DebriefReason::AbsentStreak, Duration::hours(72)))
        );
    }

    #[test]
    fn a_module_needs_a_title_and_a_link_that_is_a_link() {
        let input = |title: &str, url: Option<&str>| ModuleInput {
            title: title.into(),
            url: url.map(Into::into),
            body: None,
            required: true,
            self_attest: false,
        };
        assert_eq!(input(" ", None).validate().unwrap_err().field, "title");
        assert_eq!(
            input("操作指引", Some("javascript:alert(1)"))
                .validate()
                .unwrap_err()
                .field,
            "url"
        );
        let m = input(" 操作指引 ", Some("https://example.org/guide.pdf"))
            .validate()
            .unwrap();
        assert_eq!(m.title, "操作指引");
        assert_eq!(check_wellbeing(Some(6)).unwrap_err().field, "wellbeing");
        assert_eq!(check_wellbeing(Some(1)).unwrap(), Some(1));
    }
}
