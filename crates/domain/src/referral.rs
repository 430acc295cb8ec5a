//! After a call: the expert's record of how the session went, and the
//! referral of a seeker who needs more help than a call (the programme's
//! "referral of people with severe mental disorders" to mental-health
//! centres), which operators follow up.
use crate::phone::PhoneNumber;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

crate::named! {
    /// How the session went, as the expert saw it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum SessionOutcome as "session outcome" {
        Completed = "completed",
        SeekerAbsent = "seeker_absent",
        CutShort = "cut_short",
    }
}

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum FollowUp as "follow-up" {
        None = "none",
        Rebook = "rebook",
        Refer = "refer",
    }
}

crate::named! {
    /// How soon a referral needs an operator; `emergency` means now.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Urgency as "urgency" {
        Routine = "routine",
        Urgent = "urgent",
        Emergency = "emergency",
    }
}

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ReferralStatus as "referral status" {
        Open = "open",
        Resolved = "resolved",
    }
}

crate::named! {
    /// How an operator closed a referral.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum Resolution as "resolution" {
        /// Passed to a mental-health centre (`centre` says which).
        Referred = "referred",
        /// The operator reached the seeker and that was enough.
        Contacted = "contacted",
        NotNeeded = "not_needed",
    }
}

/// The longest private note an expert may keep on a session.
pub const MAX_NOTE_CHARS: usize = 2000;

/// What `POST /v1/bookings/{id}/outcome` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    pub outcome: SessionOutcome,
    pub follow_up: FollowUp,
    /// Required when `follow_up` is `refer`, and only then.
    #[serde(default)]
    pub urgency: Option<Urgency>,
    /// The expert's private note (at most 2,000 characters), sealed at rest
    /// and shown only to that expert and operators.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub note: Option<String>,
    /// How the expert is after the session: 1 (very hard) to 5 (well). Their
    /// supervisor sees it; nobody else.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub wellbeing: Option<u8>,
    /// The expert would like to talk the session over with their supervisor.
    #[serde(default)]
    pub debrief: bool,
}

impl OutcomeInput {
    /// The note trimmed (none when blank); 422 for a `refer` without
    /// urgency, urgency without `refer`, a note too long or a wellbeing
    /// outside 1–5.
    pub fn validate(&self) -> Result<Option<String>, ValidationError> {
        crate::supervision::check_wellbeing(self.wellbeing)?;
        match (self.follow_up, self.urgency) {
            (FollowUp::Refer, None) => {
                return Err(ValidationError::new(
                    "urgency",
                    "urgency is required when follow_up is refer",
                ))
            }
            (FollowUp::None | FollowUp::Rebook, Some(_)) => {
                return Err(ValidationError::new(
                    "urgency",
                    "urgency is only for follow_up refer",
                ))
            }
            _ => {}
        }
        let note = self
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            return Err(ValidationError::new(
                "note",
                "the note is at most 2,000 characters",
            ));
        }
        Ok(note.map(str::to_owned))
    }
}

/// What `POST /v1/ops/referrals/{id}/resolve` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    pub resolution: Resolution,
    /// The centre the seeker was referred to.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub centre: Option<String>,
    /// The resource (`/v1/resources`) the seeker was referred to.
    #[serde(default)]
    pub resource_id: Option<uuid::Uuid>,
}

impl ResolveInput {
    pub fn validate(&self) -> Result<Option<String>, ValidationError> {
        let centre = self
            .centre
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if centre.is_some_and(|c| c.chars().count() > 200) {
            return Err(ValidationError::new("centre", "at most 200 characters"));
        }
        Ok(centre.map(str::to_owned))
    }
}

/// What `POST /v1/ops/referrals/{id}/callback` takes.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CallbackInput {
    /// The operator's phone (`138 0000 0000`, or `+` and country code). It is dialed first; the seeker sees the
    /// platform's number, never this one.
    #[cfg_attr(feature = "openapi", schema(example = "+8613800000000"))]
    pub operator_phone: String,
}

impl CallbackInput {
    /// A number written without `+` is one of `country_code`.
    pub fn validate(&self, country_code: &str) -> Result<PhoneNumber, ValidationError> {
        PhoneNumber::parse_in("operator_phone", &self.operator_phone, country_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(follow_up: FollowUp, urgency: Option<Urgency>, note: Option<&str>) -> OutcomeInput {
        OutcomeInput {
            outcome: SessionOutcome::Completed,
            follow_up,
            urgency,
            note: note.map(str::to_owned),
            wellbeing: None,
            debrief: false,
        }
    }

    #[test]
    fn a_referral_needs_an_urgency_and_only_a_referral_has_one() {
        let e = input(FollowUp::Refer, None, None).validate().unwrap_err();
        assert_eq!(e.field, "urgency");
        let e = input(FollowUp::Rebook, Some(Urgency::Urgent), None)
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "urgency");
        assert!(input(FollowUp::Refer, Some(Urgency::Emergency), None)
            .validate()
            .is_ok());
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        let ok = input(FollowUp::None, None, Some("  seen  ")).validate();
        assert_eq!(ok.unwrap().as_deref(), Some("seen"));
        assert_eq!(
            input(FollowUp::None, None, Some("   ")).validate().unwrap(),
            None
        );
        let long = "字".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            input(FollowUp::None, None, Some(&long))
                .validate()
                .unwrap_err()
                .field,
            "note"
        );
        assert!(
            input(FollowUp::None, None, Some(&"字".repeat(MAX_NOTE_CHARS)))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn emergencies_sort_first() {
        let mut u = [Urgency::Routine, Urgency::Emergency, Urgency::Urgent];
        u.sort_by(|a, b| b.cmp(a));
        assert_eq!(u, [Urgency::Emergency, Urgency::Urgent, Urgency::Routine]);
    }
}
