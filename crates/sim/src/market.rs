//! The market a scenario describes, drawn once from the seed: experts (weekly
//! availability turned into slots by the real `domain::availability` rules,
//! and a rating) and the seekers who will arrive. Every policy then runs on
//! this same market, so differences between policies come from the policy,
//! never from different arrivals.
//!
//! Time is whole seconds from the start of the simulation, which is Monday
//! 00:00 in Asia/Shanghai (no DST, so the local hour is `t / 3600 % 24`).
use crate::scenario::{Scenario, Taste};
use anxin_domain::availability::{AvailabilityInput, Weekday, WeeklyInput};
use anxin_domain::ids::ExpertId;
use anxin_domain::slate::{CAPACITY_BANDS, CAPACITY_LOOKAHEAD};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// A slot starting sooner than this is no longer shown: too late to book.
pub const LEAD_SECS: i64 = 15 * 60;
pub const TIMEZONE: &str = "Asia/Shanghai";
/// Salt of the market's random stream ("market" in ASCII).
const MARKET_STREAM: u64 = 0x6d61_726b_6574;

#[derive(Debug, Clone, PartialEq)]
pub struct Expert {
    /// Deterministic (derived from the index) so runs reproduce.
    pub id: ExpertId,
    /// 3.0–5.0; what "popular" seekers chase and `top20` sorts by.
    pub rating: f64,
    pub slot_minutes: u32,
    pub weekly_hours: f64,
    /// Region code, in a regional scenario.
    pub region: Option<&'static str>,
    /// Indices into `Market::slots`, ascending by start.
    pub slots: std::ops::Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub expert: u32,
    pub starts_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seeker {
    pub arrives_at: i64,
    pub taste: Taste,
    pub patience_secs: i64,
    /// Seeds this seeker's own choices, identical under every policy.
    pub key: u64,
    /// Region code; `None`: served nationally.
    pub region: Option<&'static str>,
}

/// From `at` on, an open `slot` adds `weight` to its expert's capacity: it
/// entered a nearer band of `domain::slate::CAPACITY_BANDS`, or (weight 0)
/// got too close to its start to book. The engine replays these in order to
/// keep every expert's capacity current without rescanning their slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CapacityEvent {
    pub at: i64,
    pub slot: u32,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    pub experts: Vec<Expert>,
    /// Grouped by expert (see `Expert::slots`).
    pub slots: Vec<Slot>,
    /// Ordered by arrival.
    pub seekers: Vec<Seeker>,
    /// Ordered by time.
    pub capacity_events: Vec<CapacityEvent>,
    /// Seconds of arrivals.
    pub period: i64,
    /// Slots starting within `[0, period)`: the open capacity of the run.
    pub slots_in_period: usize,
}

impl Market {
    /// Slots per expert over the whole run (the period and the look-ahead
    /// beyond it): what each could have been booked for.
    pub fn slots_per_expert(&self) -> Vec<f64> {
        self.experts.iter().map(|e| e.slots.len() as f64).collect()
    }
}

/// Relative arrival rate by local hour: quiet nights, a lunch bump and the
/// evening peak when people are home and alone with their worries.
pub(crate) const HOURLY_ARRIVALS: [f64; 24] = [
    0.35, 0.25, 0.2, 0.2, 0.2, 0.25, 0.4, 0.6, 0.8, 0.9, 0.9, 1.0, 1.1, 1.0, 0.9, 0.9, 0.9, 1.0,
    1.4, 2.2, 2.5, 2.5, 2.0, 1.1,
];

/// Where in the day an expert's blocks sit, and how often: most volunteers
/// give evenings, fewer mornings or afternoons. (start minute, block hours
/// choices, weight)
const DAY_PARTS: [(u32, [u32; 2], f64); 5] = [
    (19 * 60, [2, 3], 0.45),
    (20 * 60, [2, 3], 0.10),
    (14 * 60, [3, 4], 0.20),
    (9 * 60, [3, 4], 0.15),
    (12 * 60, [2, 3], 0.10),
];

/// Draws the market for `scenario` from `seed`.
pub fn build(scenario: &Scenario, seed: u64) -> Result<Market, String> {
    if scenario.experts == 0 || scenario.days == 0 {
        return Err(format!("scenario {}: no experts or no days", scenario.name));
    }
    let known = crate::region::regions();
    if let Some(r) = scenario
        .regions
        .iter()
        .find(|r| known.get(r.code).is_none())
    {
        return Err(format!(
            "scenario {}: unknown region {}",
            scenario.name, r.code
        ));
    }
    let mut rng = StdRng::seed_from_u64(mix(seed, MARKET_STREAM));
    let period = i64::from(scenario.days) * 86_400;
    let epoch = epoch()?;

    let mut experts = Vec::with_capacity(scenario.experts);
    let mut slots = Vec::new();
    for i in 0..scenario.experts {
        let (expert, starts) = draw_expert(scenario, i, period, epoch, &mut rng)?;
        let first = slots.len();
        slots.extend(starts.into_iter().map(|starts_at| Slot {
            expert: i as u32,
            starts_at,
        }));
        experts.push(Expert {
            slots: first..slots.len(),
            region: region_of(scenario, i),
            ..expert
        });
    }
    let slots_in_period = slots.iter().filter(|s| s.starts_at < period).count();

    // Expected seekers: the national ones, then each region's.
    let demand: Vec<(Option<&'static str>, f64)> =
        std::iter::once((None, scenario.demand_ratio * slots_in_period as f64))
            .chain(scenario.regions.iter().map(|r| {
                let local_slots = slots
                    .iter()
                    .filter(|s| {
                        s.starts_at < period && experts[s.expert as usize].region == Some(r.code)
                    })
                    .count();
                (Some(r.code), r.demand_ratio * local_slots as f64)
            }))
            .collect();
    let seekers = draw_seekers(scenario, &demand, period, &mut rng);

    let mut capacity_events: Vec<CapacityEvent> = slots
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let slot = i as u32;
            CAPACITY_BANDS
                .iter()
                .map(move |b| CapacityEvent {
                    at: s.starts_at - b.within.num_seconds(),
                    slot,
                    weight: b.weight,
                })
                .chain([CapacityEvent {
                    at: s.starts_at - LEAD_SECS + 1,
                    slot,
                    weight: 0,
                }])
        })
        .collect();
    capacity_events.sort_unstable();

    Ok(Market {
        experts,
        slots,
        seekers,
        capacity_events,
        period,
        slots_in_period,
    })
}

/// Monday 2026-03-02 00:00 in Shanghai, as UTC.
fn epoch() -> Result<DateTime<Utc>, String> {
    NaiveDate::from_ymd_opt(2026, 3, 1)
        .and_then(|d| d.and_hms_opt(16, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| "bad simulation epoch".to_string())
}

fn draw_expert(
    scenario: &Scenario,
    index: usize,
    period: i64,
    epoch: DateTime<Utc>,
    rng: &mut StdRng,
) -> Result<(Expert, Vec<i64>), String> {
    let rating = ((4.3 + 0.35 * normal(rng)).clamp(3.0, 5.0) * 10.0).round() / 10.0;
    let slot_minutes = *[30, 45, 60, 60].choose(rng).unwrap_or(&60);
    let weekly_hours = (scenario.median_weekly_hours
        * (scenario.weekly_hours_sigma * normal(rng)).exp())
    .clamp(1.5, 60.0);

    let (part_start, block_choices) = pick_day_part(rng);
    let mut block_hours = f64::from(*block_choices.choose(rng).unwrap_or(&2));
    // Someone offering more than a block every day gives longer days instead.
    if weekly_hours > 7.0 * block_hours {
        block_hours = (weekly_hours / 7.0).min(14.0);
    }
    let days = ((weekly_hours / block_hours).round() as usize).clamp(1, 7);
    // Whole half hours, at least one slot long.
    let block_minutes = ((block_hours * 2.0).round() as u32 * 30).max(slot_minutes);
    let start = part_start.min(24 * 60 - block_minutes);
    let end = start + block_minutes;

    let mut weekdays = Weekday::ALL.to_vec();
    weekdays.shuffle(rng);
    weekdays.truncate(days);
    let input = AvailabilityInput {
        timezone: TIMEZONE.to_string(),
        slot_minutes,
        weekly: weekdays
            .into_iter()
            .map(|weekday| WeeklyInput {
                weekday,
                start: hhmm(start),
                end: hhmm(end),
            })
            .collect(),
        overrides: Vec::new(),
        max_sessions_per_day: None,
        max_sessions_per_week: None,
    };
    let availability = input
        .validate()
        .map_err(|e| format!("expert {index}: generated availability rejected: {e}"))?;
    let horizon = Duration::seconds(period) + CAPACITY_LOOKAHEAD;
    let starts: Vec<i64> = availability
        .slots(epoch, horizon)
        .into_iter()
        .map(|s| (s.starts_at - epoch).num_seconds())
        .filter(|t| (0..period + CAPACITY_LOOKAHEAD.num_seconds()).contains(t))
        .collect();

    let expert = Expert {
        id: ExpertId(Uuid::from_u128(index as u128 + 1)),
        rating,
        slot_minutes,
        weekly_hours,
        region: None,
        slots: 0..0,
    };
    Ok((expert, starts))
}

fn pick_day_part(rng: &mut StdRng) -> (u32, [u32; 2]) {
    let total: f64 = DAY_PARTS.iter().map(|p| p.2).sum();
    let mut x = rng.gen::<f64>() * total;
    for (start, blocks, weight) in DAY_PARTS {
        if x < weight {
            return (start, blocks);
        }
        x -= weight;
    }
    (DAY_PARTS[0].0, DAY_PARTS[0].1)
}

/// The region of expert `index`: the regions' expert shares, in order, laid
/// over the experts by index (experts are drawn independently, so which
/// indices a region gets doesn't matter). `None` outside a regional scenario.
fn region_of(scenario: &Scenario, index: usize) -> Option<&'static str> {
    let total: f64 = scenario.regions.iter().map(|r| r.expert_share).sum();
    let mut at = (index as f64 + 0.5) / scenario.experts as f64 * total;
    for r in &scenario.regions {
        if at < r.expert_share {
            return Some(r.code);
        }
        at -= r.expert_share;
    }
    scenario.regions.last().map(|r| r.code)
}

/// Seekers arrive as a Poisson process whose rate follows `HOURLY_ARRIVALS`
/// (see [`arrivals_by_hour`]), scaled so the expected count is the sum of
/// `demand` (expected seekers per region, `None` the national ones). Each
/// seeker's region is drawn in proportion to it, only when there are
/// regions, so a national scenario draws exactly what it drew before regions
/// existed.
fn draw_seekers(
    scenario: &Scenario,
    demand: &[(Option<&'static str>, f64)],
    period: i64,
    rng: &mut StdRng,
) -> Vec<Seeker> {
    let expected: f64 = demand.iter().map(|d| d.1).sum();
    let model = &scenario.seekers;
    let mut seekers = Vec::new();
    arrivals_by_hour(expected, period, rng, |at, rng| {
        let taste = if rng.gen::<f64>() < model.popular_share {
            model.popular
        } else {
            model.earliest
        };
        let mut x = rng.gen::<f64>() * model.patience_hours.iter().map(|p| p.1).sum::<f64>();
        let mut patience_hours = model.patience_hours[0].0;
        for (hours, share) in model.patience_hours {
            patience_hours = hours;
            if x < share {
                break;
            }
            x -= share;
        }
        let key = rng.gen();
        let region = if scenario.regions.is_empty() {
            None
        } else {
            let mut x = rng.gen::<f64>() * expected;
            demand
                .iter()
                .find(|(_, d)| {
                    x -= d;
                    x < 0.0
                })
                .or(demand.last())
                .and_then(|(r, _)| *r)
        };
        seekers.push(Seeker {
            arrives_at: at,
            taste,
            patience_secs: (patience_hours * 3600.0) as i64,
            key,
            region,
        });
    });
    seekers
}

/// A Poisson process over `[0, period)` whose rate follows the local hour as
/// `HOURLY_ARRIVALS` does, `expected` arrivals in all (drawn by thinning a
/// process at the peak rate). Calls `arrive` with each arrival's second, in
/// order, and the same `rng`, so whatever it draws per arrival interleaves
/// with the arrival draws exactly as it always has: the booking market and
/// help now arrive by the same rule.
pub(crate) fn arrivals_by_hour(
    expected: f64,
    period: i64,
    rng: &mut StdRng,
    mut arrive: impl FnMut(i64, &mut StdRng),
) {
    let mean_profile = HOURLY_ARRIVALS.iter().sum::<f64>() / 24.0;
    let peak_profile = HOURLY_ARRIVALS.iter().copied().fold(0.0, f64::max);
    let mean_rate = expected / period as f64;
    let peak_rate = mean_rate * peak_profile / mean_profile;
    if peak_rate <= 0.0 {
        return;
    }
    let mut t = 0.0_f64;
    loop {
        t += -(1.0 - rng.gen::<f64>()).ln() / peak_rate;
        let at = t as i64;
        if at >= period {
            break;
        }
        let hour = ((at / 3600) % 24) as usize;
        if rng.gen::<f64>() * peak_profile > HOURLY_ARRIVALS[hour] {
            continue;
        }
        arrive(at, rng);
    }
}

fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A standard normal draw (Box–Muller); `rand` 0.8 without `rand_distr` has none.
pub(crate) fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.gen::<f64>();
    let u2 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The random stream of one actor's one decision: `key` names the actor (a
/// seeker, a help-now request), `salt` the decision (an attempt, a ring), so
/// it is the same whatever else the run does.
pub(crate) fn keyed_rng(seed: u64, key: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(mix(seed ^ key, salt))
}

/// Derives independent seeds from one (SplitMix64 finaliser), so each stream
/// (market, a policy's slates, a seeker's choices) is fixed by the run seed.
pub(crate) fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
