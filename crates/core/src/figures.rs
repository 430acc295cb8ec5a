//! The dashboard summary's figures: the answer of `GET /v1/ops/summary`,
//! which `ops::summary` computes. Only the shape lives here, below `state`,
//! whose cache keeps the computed summaries.
//!
//! How each figure is defined is written on its field below; the same text
//! is in the OpenAPI document and in docs/ops-dashboard.md.
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Figures over the window `[since, until]`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// `1h`, `24h` or `7d`.
    pub window: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub overall: Figures,
    /// Seeker-side figures by the seeker's priority group; expert-side
    /// figures (fairness) count only load from that group. All four groups
    /// are always present.
    pub by_priority_group: BTreeMap<String, Figures>,
    /// Seeker-side figures by the seeker's region (`unknown` when not set);
    /// expert-side figures (fairness, utilization) by the expert's region.
    /// The 50 largest regions at most.
    pub by_region: BTreeMap<String, Figures>,
    /// By the expert's organisation (independent experts in none), the
    /// busiest first, 50 at most: the figures that follow an expert —
    /// bookings, calls, no-shows, utilization, fairness.
    /// A slate shows several organisations' experts at once, so the seeker
    /// funnel, holds and time to match are not broken down here; an
    /// organisation's own are `?organisation=` (or
    /// `GET /v1/organisations/{id}/summary`).
    pub by_organisation: Vec<OrganisationFigures>,
    pub series: Series,
    /// Bookings per expert across all experts (overall only).
    pub booking_distribution: Distribution,
    /// Bookings made in the window by each priority group, those whose group
    /// the host app vouched for (the token's `group` claim) apart from those
    /// whose group the seeker declared.
    pub priority_sources: BTreeMap<String, PrioritySource>,
    /// The waitlist now (national summaries only: an entry is the seeker's,
    /// not a place's or an organisation's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waitlist: Option<WaitlistFigures>,
    /// Help now's service levels over requests made in the window
    /// (national summaries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_now: Option<HelpNowFigures>,
    /// How long computing this summary took.
    pub query_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WaitlistFigures {
    /// Entries waiting now.
    pub waiting: i64,
    /// Entries holding an offer now.
    pub offered: i64,
    /// Entries that came in the window and were booked.
    pub booked: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HelpNowFigures {
    /// Requests made in the window.
    pub requested: i64,
    /// Of them, put through to an expert.
    pub connected: i64,
    /// `connected / requested` (0 with no requests).
    pub answer_rate: f64,
    /// Time from the request to being connected, over connected requests.
    pub wait_p50_s: Option<f64>,
    pub wait_p95_s: Option<f64>,
    /// Left the queue or timed out before being connected.
    pub abandoned: i64,
    /// Rings not answered that went on to the next expert, in total.
    pub rollovers: i64,
    /// Experts on duty now.
    pub on_duty: i64,
}

/// One organisation's row of `by_organisation`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrganisationFigures {
    pub organisation_id: uuid::Uuid,
    pub name: String,
    pub figures: Figures,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PrioritySource {
    pub declared: i64,
    pub vouched: i64,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub funnel: Funnel,
    /// Seekers who booked ÷ seekers who saw a slate (`funnel.booked /
    /// funnel.saw_slate`); null when nobody saw a slate.
    pub match_rate: Option<f64>,
    /// A seeker's first slate in the window → their first confirmed booking.
    pub time_to_match_seconds: Percentiles,
    /// When a call was due (the slot's start, or the confirmation if the slot
    /// was already running) → both legs bridged, first bridge of each call.
    pub time_to_connect_seconds: Percentiles,
    /// Slates served (every `GET /v1/slate` answered).
    pub slates_served: i64,
    pub bookings: BookingCounts,
    pub calls: Calls,
    pub no_show_rate: NoShow,
    pub utilization: Utilization,
    pub fairness: Fairness,
    pub holds: Holds,
    pub collisions: Collisions,
}

/// Seekers who saw a slate in the window, and how many of them got further
/// (in the window). Each step is a subset of the one before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    pub saw_slate: i64,
    /// …placed a hold.
    pub held: i64,
    /// …had a booking confirmed.
    pub booked: i64,
    /// …had a call on such a booking bridged (both legs answered).
    pub call_connected: i64,
    /// …had such a call end `completed`.
    pub completed: i64,
}

/// Percentiles (continuous, interpolated) in seconds; null when `count` is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub count: i64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BookingCounts {
    /// Bookings confirmed in the window.
    pub confirmed: i64,
    /// Bookings cancelled in the window.
    pub cancelled: i64,
    /// Bookings whose call completed in the window.
    pub completed: i64,
    /// Confirmations refused, by code (`hold_expired`, `slot_unavailable`,
    /// `booking_limit`).
    pub refused: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Calls {
    /// Call attempts that ended in the window, by outcome.
    pub attempts_by_outcome: BTreeMap<String, i64>,
    /// Calls finished in the window (no more attempts), by final outcome;
    /// `none` when the call ended without being dialed.
    pub finished_by_outcome: BTreeMap<String, i64>,
    pub finished: i64,
}

/// Share of finished, dialed calls whose final outcome was the expert's
/// (`expert_no_answer`, `expert_busy`) or the seeker's (`seeker_no_answer`,
/// `seeker_busy`) failure to answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NoShow {
    pub expert: Option<f64>,
    pub seeker: Option<f64>,
    /// The denominator: finished calls that were dialed.
    pub dialed_calls: i64,
}

/// Booked ÷ offered slots of approved experts: `past` for slots that started
/// in the window, `ahead` for slots starting in the same span after now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Utilization {
    pub past: Capacity,
    pub ahead: Capacity,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Capacity {
    pub offered: i64,
    /// Slots with an active booking (by a seeker of this group, in a
    /// priority-group breakdown).
    pub booked: i64,
    pub rate: Option<f64>,
}

/// How evenly attention and bookings spread across experts (approved now,
/// or with load in the window). Gini: 0 = perfectly even, towards 1 = all
/// on one expert; null when there was nothing to spread.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Fairness {
    pub experts: i64,
    /// Gini of slate appearances per expert.
    pub exposure_gini: Option<f64>,
    /// Gini of bookings (confirmed in the window, not cancelled) per expert.
    pub booking_gini: Option<f64>,
    pub experts_with_zero_bookings: i64,
    pub experts_with_zero_exposure: i64,
}

/// Holds placed in the window and what became of them by now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Holds {
    pub placed: i64,
    pub confirmed: i64,
    pub released: i64,
    /// Ran out: neither confirmed nor released before `expires_at`.
    pub expired: i64,
    /// Still running.
    pub active: i64,
    /// `expired / placed`.
    pub expiry_rate: Option<f64>,
}

/// Hold attempts refused with 409.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Collisions {
    /// Holds placed plus holds refused with 409 (rate-limited attempts,
    /// answered 429, are not counted).
    pub hold_attempts: i64,
    /// 409 `slot_unavailable`: someone else had the slot.
    pub slot_unavailable: i64,
    /// 409 `hold_limit`: the seeker already held another slot.
    pub hold_limit: i64,
    /// `slot_unavailable / hold_attempts`.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub bucket_seconds: i64,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    pub start: DateTime<Utc>,
    /// Seekers whose first slate in the window fell in this bucket.
    pub seekers: i64,
    /// …of whom booked in the window.
    pub matched: i64,
    /// `matched / seekers`.
    pub match_rate: Option<f64>,
    /// Bookings confirmed in this bucket.
    pub bookings: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Distribution {
    /// How many experts had each number of bookings.
    pub histogram: Vec<HistogramBar>,
    /// Cumulative share of bookings held by the least-booked share of
    /// experts; empty when there were no bookings.
    pub lorenz: Vec<LorenzPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HistogramBar {
    pub bookings: i64,
    pub experts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LorenzPoint {
    pub experts: f64,
    pub bookings: f64,
}
