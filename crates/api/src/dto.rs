//! The JSON shapes of the API, as the served OpenAPI document describes them. Only these
//! ever leave the service; none of them has a place for a seeker's phone or
//! host-app identity except the seeker's own masked phone.
use anxin_domain::booking::BookingStatus;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::expert::ExpertStatus;
use anxin_domain::seeker::PriorityGroup;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
pub struct ExpertCreated {
    pub id: Uuid,
    pub status: ExpertStatus,
}

/// An expert's status after a vetting move; for a suspension, also what
/// became of their upcoming bookings (handed to another expert, or
/// cancelled and refunded where nobody was free).
#[derive(Serialize, ToSchema)]
pub struct ExpertStatusView {
    pub id: Uuid,
    pub status: ExpertStatus,
    pub reassigned: u32,
    pub cancelled: u32,
}

impl ExpertStatusView {
    /// The answer of a vetting move, on the API and the dashboard alike.
    pub fn of(
        id: anxin_domain::ids::ExpertId,
        status: ExpertStatus,
        done: &anxin_core::flows::handover::HandedOver,
    ) -> Self {
        Self {
            id: id.0,
            status,
            reassigned: done.reassigned,
            cancelled: done.cancelled,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AvailabilitySaved {
    /// Open slots in the rolling horizon after the change.
    pub open_slots: usize,
    /// Held or booked slots the new availability no longer covers. They are
    /// kept; cancel them explicitly if they must go.
    pub conflicts: Vec<Uuid>,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct SlotView {
    pub slot_id: Uuid,
    #[serde(serialize_with = "instant")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "instant")]
    pub ends_at: DateTime<Utc>,
}

/// An instant as chrono writes it ("2026-12-07T03:00:00Z" for a whole
/// second in UTC), written as one string. chrono's own formatter writes a
/// field at a time, and serde_json escapes each write on its own: with 120
/// slot times a slate, that was a tenth of the slate's CPU
/// (`loadtest/profile.sh`). Anything but a whole second of years 0 to 9999
/// goes through chrono.
fn instant<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    use chrono::{Datelike, Timelike};
    // Once: each field of a `DateTime` works out the local time again.
    let utc = at.naive_utc();
    let year = utc.year();
    if utc.nanosecond() != 0 || !(0..=9999).contains(&year) {
        return at.serialize(s);
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, utc.month());
    put(8, 2, utc.day());
    put(11, 2, utc.hour());
    put(14, 2, utc.minute());
    put(17, 2, utc.second());
    match std::str::from_utf8(&text) {
        Ok(text) => s.serialize_str(text),
        Err(_) => at.serialize(s),
    }
}

/// An expert's own record, as their portal shows it.
#[derive(Serialize, ToSchema)]
pub struct ExpertMe {
    pub id: Uuid,
    pub display_name: String,
    pub status: ExpertStatus,
    pub timezone: String,
    pub languages: Vec<String>,
    pub specialties: Vec<String>,
    pub region: String,
    pub bio: Option<String>,
    /// The expert's own number, masked (e.g. `+86 138****5678`).
    pub phone_masked: String,
    /// The body `PUT /v1/experts/{id}/availability` takes; null before the
    /// first one.
    pub availability: Option<anxin_domain::availability::AvailabilityInput>,
    /// Supervises other volunteers (their page is `/supervise`).
    pub supervisor: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ExpertBooking {
    pub booking_id: Uuid,
    pub slot_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// A pseudonym; never the seeker's phone or host-app identity.
    pub seeker_alias: String,
    pub priority_group: PriorityGroup,
    /// The seeker's note to the expert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub status: BookingStatus,
    pub call: CallView,
    /// The session's outcome as recorded (past sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<SessionOutcomeView>,
    /// Where the seeker can turn in their own region, for the referral form
    /// of a past session with no outcome yet: each place's name, kind,
    /// number and hours, never the seeker's region or anything else of
    /// theirs. Absent when the seeker gave no region.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referral_resources: Vec<ReferralResource>,
}

/// A place to refer a seeker to, as the expert's referral form lists it.
#[derive(Serialize, ToSchema)]
pub struct ReferralResource {
    pub name: String,
    pub kind: anxin_domain::resource::ResourceKind,
    pub phone: String,
    pub hours: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl From<anxin_domain::resource::Resource> for ReferralResource {
    fn from(r: anxin_domain::resource::Resource) -> Self {
        Self {
            name: r.name,
            kind: r.kind,
            phone: r.phone,
            hours: r.hours,
            address: r.address,
        }
    }
}

/// A recorded session outcome, as its expert (or an operator) sees it.
#[derive(Serialize, ToSchema)]
pub struct SessionOutcomeView {
    pub outcome: anxin_domain::referral::SessionOutcome,
    pub follow_up: anxin_domain::referral::FollowUp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<anxin_domain::referral::Urgency>,
    /// The expert's private note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

// Borrowed from the catalog the slate was drawn from: a slate copies none
// of its experts' profiles.
#[derive(Serialize, ToSchema)]
pub struct SlateExpert<'a> {
    pub expert_id: Uuid,
    #[schema(value_type = String)]
    pub display_name: &'a str,
    #[schema(value_type = Vec<String>)]
    pub languages: &'a [String],
    #[schema(value_type = Vec<String>)]
    pub specialties: &'a [String],
    #[schema(value_type = String)]
    pub region: &'a str,
    /// Of the seeker's own region.
    pub local: bool,
    pub next_slots: Vec<SlotView>,
}

#[derive(Serialize, ToSchema)]
pub struct SlateView<'a> {
    pub slate_id: Uuid,
    pub experts: Vec<SlateExpert<'a>>,
    /// Present when the filters leave fewer experts than a full slate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The start of the earliest open slot among all experts matching the
    /// filters (shown or not), or null when none has one: when help is next
    /// available.
    pub earliest_start: Option<DateTime<Utc>>,
    /// Present when the filters leave nobody: how many experts with open
    /// time the search finds with each filter dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub widen: Option<WidenView>,
    /// False when the seeker's region is not open yet: no experts, and the
    /// region's hotlines instead.
    pub service_open: bool,
    /// The seeker's region's hotlines, when no expert is shown.
    pub hotlines: Vec<crate::routes::resources::ResourceView>,
}

/// Experts with open time with a filter dropped; a count is absent where
/// that filter was not set.
#[derive(Serialize, ToSchema)]
pub struct WidenView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_language: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_topic: Option<usize>,
    pub without_filters: usize,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeekerUpdate {
    pub priority_group: Option<PriorityGroup>,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub region: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SeekerView {
    pub priority_group: PriorityGroup,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub slot_id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct HoldView {
    pub hold_id: Uuid,
    pub slot_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub hold_id: Uuid,
    /// Stored encrypted; shown masked.
    #[schema(value_type = anxin_domain::openapi::Phone)]
    pub phone: String,
    /// For the expert; blank is the same as none.
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BookingCreated {
    pub booking_id: Uuid,
    pub slot_id: Uuid,
    pub expert_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    /// The seeker's own number, masked (`+86 138****5678`).
    pub phone_masked: String,
}

#[derive(Serialize, ToSchema)]
pub struct CallView {
    pub state: CallState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
}

#[derive(Serialize, ToSchema)]
pub struct BookingView {
    pub booking_id: Uuid,
    pub status: BookingStatus,
    pub slot_id: Uuid,
    pub expert_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub call: CallView,
    /// Only for the seeker who booked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_masked: Option<String>,
    /// Only for the expert and operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeker_alias: Option<String>,
    /// Why it was cancelled, when whoever cancelled said
    /// (`expert_unavailable`: the expert was suspended and nobody else was
    /// free at that time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// Handed to another expert after it was booked.
    pub reassigned: bool,
    /// The current expert's display name.
    pub display_name: String,
}

/// The optional body of a cancellation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why (at most 300 characters), shown to the other side with the
    /// booking's status.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub reason: Option<String>,
}

/// One booking in a seeker's history (`GET /v1/seekers/me/bookings`).
#[derive(Serialize, ToSchema)]
pub struct SeekerBooking {
    pub booking_id: Uuid,
    pub expert_id: Uuid,
    pub display_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    pub call: CallView,
    /// Why it was cancelled, when whoever cancelled said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// Cancelling it now gives the booking fee back in full (it was paid and
    /// the call has not started).
    pub refund_on_cancel: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CancelView {
    pub booking_id: Uuid,
    pub status: BookingStatus,
    /// False when the slot had already started.
    pub slot_reopened: bool,
    /// The expert cancelled and another expert free at that time took the
    /// booking over: it stays `confirmed` with them.
    pub reassigned: bool,
}

/// A seeker's erasure, done.
#[derive(Serialize, ToSchema)]
pub struct Erased {
    /// Upcoming bookings cancelled (their fees are refunded).
    pub cancelled: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize)]
    struct Written(#[serde(serialize_with = "instant")] DateTime<Utc>);

    fn both(at: DateTime<Utc>) -> (String, String) {
        let ours = serde_json::to_string(&Written(at)).unwrap_or_default();
        let chronos = serde_json::to_string(&at).unwrap_or_default();
        (ours, chronos)
    }

    #[test]
    fn an_instant_is_written_exactly_as_chrono_writes_it() {
        // Whole seconds spread over years 0 to 9999, by a fixed sequence.
        let (first, last) = (
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single(),
        );
        let (Some(first), Some(last)) = (first, last) else {
            panic!("the range's ends are valid instants");
        };
        let span = (last - first).num_seconds() as u64;
        let mut x: u64 = 2020;
        let mut checked = 0;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = first + chrono::Duration::seconds(((x >> 11) % (span + 1)) as i64);
            let (ours, chronos) = both(at);
            assert_eq!(ours, chronos, "{at:?}");
            checked += 1;
        }
        assert_eq!(checked, 20_000);
        // The ends, and what goes through chrono: a fraction of a second, a
        // leap second, years outside 0 to 9999.
        let mut odd = vec![first, last];
        odd.extend(
            Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0)
                .single()
                .map(|t| t + chrono::Duration::milliseconds(250)),
        );
        odd.extend(
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .map(|t| t.and_utc()),
        );
        odd.extend(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).single());
        odd.extend(Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).single());
        assert_eq!(odd.len(), 6);
        for at in odd {
            let (ours, chronos) = both(at);
            assert_eq!(ours, chronos, "{at:?}");
        }
        let known = Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).single();
        assert_eq!(
            known.map(|at| both(at).0).as_deref(),
            Some("\"2026-12-07T03:00:00Z\"")
        );
    }
}
