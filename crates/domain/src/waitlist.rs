//! The waitlist: what a seeker waits for when nothing on offer suits them.
use crate::error::ValidationError;
use crate::vocabulary::{known_code, LANGUAGES, TOPICS};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a waitlist offer's hold lasts at least: time to notice, pay and
/// confirm.
pub const OFFER_AT_LEAST: chrono::Duration = chrono::Duration::minutes(10);

/// Waitlist entries one seeker may have waiting (or offered) at once.
pub const MAX_WAITING_PER_SEEKER: i64 = 3;

/// What `POST /v1/waitlist` takes; every part optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WaitlistInput {
    /// A language code (`GET /v1/vocabulary`), e.g. `zh`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub language: Option<String>,
    /// A topic code, e.g. `insomnia`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub topic: Option<String>,
    /// This expert again (continuity).
    #[serde(default)]
    pub expert_id: Option<uuid::Uuid>,
    /// No slot starting later than this (RFC 3339); in the future.
    #[serde(default)]
    pub not_after: Option<DateTime<Utc>>,
}

/// A checked waitlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wish {
    pub language: Option<String>,
    pub topic: Option<String>,
    pub expert_id: Option<uuid::Uuid>,
    pub not_after: Option<DateTime<Utc>>,
}

impl WaitlistInput {
    /// 422 naming the field for a language or topic that is not a code, or
    /// a latest time already past.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Wish, ValidationError> {
        if self.not_after.is_some_and(|t| t <= now) {
            return Err(ValidationError::new("not_after", "must be in the future"));
        }
        Ok(Wish {
            language: known_code("language", self.language.as_deref(), LANGUAGES)?,
            topic: known_code("topic", self.topic.as_deref(), TOPICS)?,
            expert_id: self.expert_id,
            not_after: self.not_after,
        })
    }
}

crate::named! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum WaitlistStatus as "waitlist status" {
        Waiting = "waiting",
        /// A hold on a slot that suits them is theirs until the offer's end.
        Offered = "offered",
        Booked = "booked",
        /// The offer lapsed unclaimed.
        Expired = "expired",
        Cancelled = "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wish_names_known_codes_and_a_future_time() {
        let now = Utc::now();
        let input = |language: &str, topic: &str, later: i64| WaitlistInput {
            language: Some(language.into()),
            topic: Some(topic.into()),
            expert_id: None,
            not_after: Some(now + chrono::Duration::hours(later)),
        };
        assert_eq!(
            input("klingon", "grief", 1)
                .validate(now)
                .unwrap_err()
                .field,
            "language"
        );
        assert_eq!(
            input("zh", "boredom", 1).validate(now).unwrap_err().field,
            "topic"
        );
        assert_eq!(
            input("zh", "grief", -1).validate(now).unwrap_err().field,
            "not_after"
        );
        let w = input("yue", "insomnia", 24).validate(now).unwrap();
        assert_eq!(
            (w.language.as_deref(), w.topic.as_deref()),
            (Some("yue"), Some("insomnia"))
        );
        assert_eq!(
            WaitlistInput::default().validate(now).unwrap().language,
            None
        );
    }
}
