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
    match whole_second(at)
        .as_ref()
        .and_then(|text| std::str::from_utf8(&text.0).ok())
    {
        Some(text) => s.serialize_str(text),
        None => at.serialize(s),
    }
}

/// An instant's text as chrono writes it, when it is a whole second of years
/// 0 to 9999 in UTC (`"2026-12-07T03:00:00Z"`); `None` for anything else.
fn whole_second(at: &DateTime<Utc>) -> Option<InstantText> {
    use chrono::{Datelike, Timelike};
    // Once: each field of a `DateTime` works out the local time again.
    let utc = at.naive_utc();
    let year = utc.year();
    if utc.nanosecond() != 0 || !(0..=9999).contains(&year) {
        return None;
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
    Some(InstantText(text))
}

/// Twenty ASCII digits and separators (`whole_second`).
struct InstantText([u8; 20]);

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

impl SlateView<'_> {
    /// The slate's JSON: byte for byte what `serde_json::to_vec(self)`
    /// writes (`tests::a_slate_is_written_as_serde_json_writes_it`). A
    /// slate is mostly ids and instants, three strings a slot, and none of
    /// them can hold a character JSON escapes: they are written as they are,
    /// where serde_json scans every byte of every string for one (that scan
    /// and the serializer's calls around it were the largest part of a
    /// slate's CPU after the kernel's). Every other value goes through
    /// serde_json. A field added to these structs must be added here too;
    /// the test says so when it isn't.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let slots: usize = self.experts.iter().map(|e| e.next_slots.len()).sum();
        let mut out = Vec::with_capacity(256 + 256 * self.experts.len() + 110 * slots);
        out.extend_from_slice(b"{\"slate_id\":");
        put_uuid(&mut out, &self.slate_id);
        out.extend_from_slice(b",\"experts\":[");
        for (i, e) in self.experts.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            e.write(&mut out)?;
        }
        out.push(b']');
        if let Some(hint) = &self.hint {
            put_field(&mut out, "hint", hint)?;
        }
        match &self.earliest_start {
            Some(at) => {
                out.extend_from_slice(b",\"earliest_start\":");
                put_instant(&mut out, at)?;
            }
            None => out.extend_from_slice(b",\"earliest_start\":null"),
        }
        if let Some(widen) = &self.widen {
            put_field(&mut out, "widen", widen)?;
        }
        put_field(&mut out, "service_open", &self.service_open)?;
        put_field(&mut out, "hotlines", &self.hotlines)?;
        out.push(b'}');
        Ok(out)
    }
}

impl SlateExpert<'_> {
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"expert_id\":");
        put_uuid(out, &self.expert_id);
        put_field(out, "display_name", self.display_name)?;
        put_field(out, "languages", self.languages)?;
        put_field(out, "specialties", self.specialties)?;
        put_field(out, "region", self.region)?;
        put_field(out, "local", &self.local)?;
        out.extend_from_slice(b",\"next_slots\":[");
        for (i, slot) in self.next_slots.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"slot_id\":");
            put_uuid(out, &slot.slot_id);
            out.extend_from_slice(b",\"starts_at\":");
            put_instant(out, &slot.starts_at)?;
            out.extend_from_slice(b",\"ends_at\":");
            put_instant(out, &slot.ends_at)?;
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        Ok(())
    }
}

/// `,"name":value`, the value by serde_json.
fn put_field<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    name: &str,
    value: &T,
) -> serde_json::Result<()> {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    serde_json::to_writer(out, value)
}

fn put_uuid(out: &mut Vec<u8>, id: &Uuid) {
    out.push(b'"');
    out.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b'"');
}

fn put_instant(out: &mut Vec<u8>, at: &DateTime<Utc>) -> serde_json::Result<()> {
    match whole_second(at) {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(&text.0);
            out.push(b'"');
            Ok(())
        }
        None => serde_json::to_writer(out, at),
    }
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

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn a_slate_is_written_as_serde_json_writes_it() {
        use crate::routes::resources::ResourceView;
        use anxin_domain::resource::ResourceKind;
        let id = |n: u128| Uuid::from_u128(n * 0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let slot = |n: u128, starts_at: DateTime<Utc>| SlotView {
            slot_id: id(n),
            starts_at,
            ends_at: starts_at + chrono::Duration::minutes(50),
        };
        let zh = vec!["zh".to_string(), "en".to_string()];
        let odd = vec![
            "a \"quoted\" \\ topic".to_string(),
            "tab\there\u{1}".to_string(),
        ];
        let none: Vec<String> = Vec::new();
        let expert = |n: u128, name, languages, specialties, local, next_slots| SlateExpert {
            expert_id: id(n),
            display_name: name,
            languages,
            specialties,
            region: "上海",
            local,
            next_slots,
        };
        let hotline = |address: Option<&str>| ResourceView {
            id: id(9),
            name: "心理援助热线 \"24h\"".to_string(),
            kind: ResourceKind::Hotline,
            region: "CN-31".to_string(),
            phone: "400-161-9995".to_string(),
            hours: "全天\n24 小时".to_string(),
            address: address.map(str::to_owned),
        };
        let fraction = at(2026, 12, 8, 9, 30) + chrono::Duration::milliseconds(250);
        let views = [
            SlateView {
                slate_id: id(1),
                experts: vec![
                    expert(
                        2,
                        "王老师",
                        &zh,
                        &odd,
                        true,
                        vec![slot(3, at(2026, 12, 8, 9, 0)), slot(4, fraction)],
                    ),
                    expert(
                        5,
                        "O'Brien \"Bo\" \\ \u{7f}\u{0}",
                        &none,
                        &none,
                        false,
                        vec![],
                    ),
                    expert(
                        6,
                        "",
                        &zh,
                        &none,
                        false,
                        vec![slot(7, at(9999, 12, 31, 23, 0))],
                    ),
                ],
                hint: Some("只有 3 位专家符合 \"中文\"".to_string()),
                earliest_start: Some(fraction),
                widen: Some(WidenView {
                    without_language: Some(4),
                    without_topic: None,
                    without_filters: 12,
                }),
                service_open: true,
                hotlines: vec![hotline(None), hotline(Some("某路 1 号"))],
            },
            SlateView {
                slate_id: id(8),
                experts: vec![],
                hint: None,
                earliest_start: None,
                widen: None,
                service_open: false,
                hotlines: vec![],
            },
            SlateView {
                slate_id: Uuid::nil(),
                experts: vec![expert(
                    10,
                    "李",
                    &zh,
                    &zh,
                    true,
                    vec![slot(11, at(2027, 1, 1, 0, 0))],
                )],
                hint: None,
                earliest_start: Some(at(2027, 1, 1, 0, 0)),
                widen: None,
                service_open: true,
                hotlines: vec![],
            },
        ];
        for view in &views {
            let serde = serde_json::to_vec(view).unwrap_or_default();
            let ours = view.to_json().unwrap_or_default();
            assert!(!serde.is_empty());
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&serde)
            );
        }
        // The first is read back as a client reads it.
        let read: serde_json::Value =
            serde_json::from_slice(&views[0].to_json().unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            read["experts"][1]["display_name"],
            "O'Brien \"Bo\" \\ \u{7f}\u{0}"
        );
        assert_eq!(
            read["experts"][0]["next_slots"][1]["starts_at"],
            "2026-12-08T09:30:00.250Z"
        );
        assert_eq!(
            read["experts"][0]["next_slots"].as_array().map(Vec::len),
            Some(2)
        );
    }
}
