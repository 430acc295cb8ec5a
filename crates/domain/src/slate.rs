//! The balanced slate: which ~20 experts a seeker is shown.
//!
//! Showing everyone to everyone floods the popular few and starves the rest;
//! a fixed "top 20" does the same. Instead each candidate expert `i` (approved,
//! with at least one open slot that matches the seeker's filters) gets a weight
//!
//! ```text
//!   w_i = c_i · clamp(1 + γ · (ê_i − e_i) / (ê_i + 1), 1/K, K)      ê_i = E · c_i / C
//! ```
//!
//! where `c_i` is the expert's open near-term capacity, `e_i` their
//! impressions in the recent sliding window, `E` and `C` the sums of both over
//! all candidates (so `ê_i` is the expert's share of the window's
//! impressions), `γ` the `feedback_gain` (4) and `K` the `correction_cap`
//! (16). `size` experts are then drawn *without replacement* with probability
//! proportional to weight (Efraimidis–Spirakis: key `ln(u)/w`, keep the
//! largest), so no fixed top-N ever forms.
//!
//! **Capacity** (`c_i`) counts each open slot by how soon it starts
//! ([`CAPACITY_BANDS`]): 8 within 2 h, 4 within 6 h, 2 within 24 h, 1 within
//! the 72 h look-ahead. A slot about to start has little time left to be
//! booked and is what most seekers want, so it is shown most; every slot
//! passes through every band on its way, so over its life each slot still
//! gets the same exposure and fairness between experts is kept. (A plain
//! count of open slots also works, without the urgency.)
//!
//! **Feedback** (the clamp factor) pulls an expert shown more than their share
//! down and one shown less up: an expert not shown in the window gets up to
//! `1 + γ` = 5×, one shown once while their share is still under half an
//! impression drops to the floor `1/K`. It has to act at the timescale of a seeker's choice: two
//! seekers shown the same expert within the few minutes it takes to pick will
//! race for the same slot. Hence a short window ([`IMPRESSION_BUCKET`] ×
//! [`IMPRESSION_WINDOW_BUCKETS`], six minutes): an expert just shown to someone
//! is mostly set aside until the others have had their turn. A one-hour window
//! averages that overlap away: on the simulator's hotline scenario
//! (`crates/sim`, 13 seeds) collisions rose from 1.2% to 3.0% of picks with it.
//!
//! The correction is *linear* in the gap `ê_i − e_i`, so it averages to 1 for
//! an expert who gets their share however noisy their count is, and exposure
//! settles proportional to capacity even when the window holds only a few
//! slates. (A multiplicative rule such as `((ê+1)/(e+1))^γ` does not: with
//! counts of 0 or 1 its average is skewed, and a steep one moved small
//! experts' exposure by up to 50% in the windowed test below.) Dividing by
//! `ê_i + 1` makes the gap relative, so busy hours with large counts get the
//! same strength of correction as quiet ones.
//!
//! **Bookings**. Exposure in proportion to capacity is not enough:
//! most seekers take the soonest slot a slate shows (and among slots at the
//! same time, the best-rated expert), so an expert shown as often as their
//! capacity earns can still lose every click. On the simulator's hotline the
//! losers are evening volunteers (whose slots start at 19:00 or 20:00 with
//! most others') with a few hour-long slots and a rating below 4.2; some got
//! 150 impressions and no call. So [`choose_balanced_with`] also reads each
//! expert's [`Uptake`]: of the slots they offered in the booking window
//! ([`BOOKING_WINDOW`] back, the look-ahead forward), how many are booked.
//! Against their share `b̂_i = B · o_i / O` of the window's bookings (`o_i`
//! offered, `B`, `O` the sums) it gives a factor
//!
//! ```text
//!   u_i = clamp(1 + β · (b̂_i − b_i) / (b̂_i + 1), 1/K_b, K_b)
//! ```
//!
//! (`β` the `booking_gain`, 32, `K_b` the `booking_cap`, 8: the same linear
//! form as the exposure correction, steep because bookings are few). It
//! re-divides each capacity band among the experts with slots in it:
//!
//! ```text
//!   c'_i = Σ_b  w_b · n_ib · u_i · N_b / Σ_j n_jb · u_j        N_b = Σ_j n_jb
//! ```
//!
//! (`n_ib` the expert's open slots in band `b`, `w_b` its weight), so each
//! band keeps its total weight: seekers who need a call within hours see as
//! many near slots as before, only whose slots they are changes.
//!
//! **Above their share.** Re-dividing a band changes nothing for an expert
//! alone in it, and those booked beyond their share mostly are: volunteers
//! of the mornings and middays, whose slots are the soonest for everyone
//! arriving overnight or during the day (on the simulator's hotline they
//! were booked to 1.15–1.22× their share, the evening ones below it). So an
//! expert above their share is scaled by their factor once more, by no
//! less than [`OVER_SHARE_KEEPS`] (a half): `c'_i · clamp(u_i, ½, 1)`. Their
//! band then weighs less against the others, and a seeker who could wait
//! for the evening is shown it more often. (Scaling everyone's `c_i` by
//! `u_i` hid the few near slots from seekers who wait 3 hours at most and
//! cost matches; the near place below keeps them in sight. Without the
//! floor of a half, an expert far above their share could go unshown for
//! 400 slates.)
//!
//! The exposure correction still measures `e_i` against the *capacity*
//! share `ê_i`, and an expert already shown more than that in the window
//! gets `min(c'_i, c_i)`: a boost never undoes the set-aside that keeps two
//! seekers off one slot. `w_i = c'_i · clamp(…)` as above. When every
//! expert is booked in proportion to what they offered, `u_i = 1`,
//! `c'_i = c_i`, and the weights are the ones above; without uptake
//! ([`choose_balanced`]) they are too, with the one-slot share below.
//!
//! **One slot.** Every seeker shown an expert sees the same soonest slot,
//! and most take the soonest slot shown; an expert's share `ê_i` grows with
//! all their open time, though. On the hotline, 213 of 224 collisions
//! (seeds 1..=10) were on an expert already shown in the window, most of
//! them with `ê_i ≥ 1` and so not set aside at all. So for an expert shown
//! at least once in the window, `ê_i` is at most `E · w_0 / C`, what one
//! slot in the nearest band earns: once shown, they wait as a single near
//! slot would. Collisions fell from 1.3 % to 0.6 % of picks (median), below
//! 20 experts at random on every seed.
//!
//! **Near places.** A seeker who can wait 3 hours at most needs a slot
//! within them on the slate; on the hotline (seeds 1..=30) 4.2 % of
//! seekers left with nothing suitable while some expert had a slot free
//! within their patience (2.8 % with the near place).
//! So the first `near_places` (1) places of a slate go to experts with an
//! open slot in the nearest band *not shown in the window*, by the same
//! keys (the heaviest among them; the others fill the remaining places as
//! before). Each near slot is so offered to one seeker at a time, in turn.
//! This matched about a point more seekers, and is what lets the scaling
//! above cost no matches.
use crate::ids::ExpertId;
use crate::region::Nearness;
use chrono::Duration;
use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub expert_id: ExpertId,
    /// Open near-term capacity: open slots weighted by how soon they start
    /// ([`slot_capacity`], [`capacity_from_counts`]).
    pub capacity: u32,
    /// Times shown in the recent window.
    pub impressions: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalanceParams {
    /// How many experts a slate shows.
    pub size: usize,
    /// Bound on the exposure correction factor, so one counter can't zero or
    /// dominate a weight.
    pub correction_cap: f64,
    /// `γ` in the module docs: how hard the correction answers a gap between
    /// an expert's impressions and their share.
    pub feedback_gain: f64,
    /// `β` in the module docs: how hard the booking correction answers a gap
    /// between an expert's bookings and their share of the window's.
    pub booking_gain: f64,
    /// `K_b` in the module docs: bound on the booking correction.
    pub booking_cap: f64,
    /// Places of each slate that go first to experts with an open slot in
    /// the nearest capacity band who were not shown in the window (module
    /// docs, "Near places"), while there are any.
    pub near_places: usize,
}

impl Default for BalanceParams {
    fn default() -> Self {
        Self {
            size: 20,
            correction_cap: 16.0,
            feedback_gain: 4.0,
            booking_gain: 32.0,
            booking_cap: 8.0,
            near_places: 1,
        }
    }
}

/// How well one expert's offered time is being taken up: the input of the
/// booking correction (module docs), one per candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uptake {
    /// Open slots starting within each band's horizon of now, as
    /// [`capacity_from_counts`] takes them (so they grow band by band, and
    /// `capacity_from_counts(open_by_band)` is the candidate's capacity).
    pub open_by_band: [u32; CAPACITY_BANDS.len()],
    /// Slots the expert offered starting within the booking window (from
    /// [`BOOKING_WINDOW`] ago to [`CAPACITY_LOOKAHEAD`] ahead): open, held or
    /// booked, not withdrawn.
    pub offered: u32,
    /// Of those, the ones booked (confirmed, not cancelled).
    pub booked: u32,
}

/// An open slot starting within `within` of now adds `weight` to its
/// expert's capacity (the first band that holds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityBand {
    pub within: Duration,
    pub weight: u32,
}

/// Nearest first; the last band's horizon is the look-ahead. Each band is
/// about three times longer than the one before and worth half as much.
pub const CAPACITY_BANDS: [CapacityBand; 4] = [
    CapacityBand {
        within: Duration::hours(2),
        weight: 8,
    },
    CapacityBand {
        within: Duration::hours(6),
        weight: 4,
    },
    CapacityBand {
        within: Duration::hours(24),
        weight: 2,
    },
    CapacityBand {
        within: Duration::hours(72),
        weight: 1,
    },
];

/// Slots starting later than this don't count as capacity.
pub const CAPACITY_LOOKAHEAD: Duration = CAPACITY_BANDS[CAPACITY_BANDS.len() - 1].within;

/// The least share of their re-divided capacity an expert above their share
/// of bookings keeps (module docs, "Above their share"): with less, an
/// expert far above it could go unshown for hundreds of slates.
pub const OVER_SHARE_KEEPS: f64 = 0.5;

/// How far back [`Uptake`] counts slots (by start): long enough that an
/// evening volunteer's week is in it, short enough to forget last month.
pub const BOOKING_WINDOW: Duration = Duration::days(7);

/// Impressions are counted in buckets this long…
pub const IMPRESSION_BUCKET: Duration = Duration::minutes(1);
/// …and the last this many buckets (the current one included) are summed.
pub const IMPRESSION_WINDOW_BUCKETS: u32 = 6;

/// What one open slot adds to capacity when it starts `starts_in` from now:
/// its band's weight, or 0 once started or beyond the look-ahead.
pub fn slot_capacity(starts_in: Duration) -> u32 {
    if starts_in < Duration::zero() {
        return 0;
    }
    CAPACITY_BANDS
        .iter()
        .find(|b| starts_in <= b.within)
        .map_or(0, |b| b.weight)
}

/// Capacity from range counts over the open-slot index: `counts[i]` is the
/// number of open slots starting within `CAPACITY_BANDS[i].within` of now
/// (so the counts grow band by band). Equals the sum of [`slot_capacity`]
/// over those slots.
pub fn capacity_from_counts(counts: [u32; CAPACITY_BANDS.len()]) -> u32 {
    let mut total = 0u32;
    for (i, band) in CAPACITY_BANDS.iter().enumerate() {
        let next = CAPACITY_BANDS.get(i + 1).map_or(0, |b| b.weight);
        // A slot in band i is also counted by every wider band, so each
        // count adds only the step between its weight and the next one's.
        total = total.saturating_add(counts[i].saturating_mul(band.weight - next));
    }
    total
}

/// The linear correction of the module docs: `clamp(1 + gain · (expected −
/// actual) / (expected + 1), 1/cap, cap)`.
fn correction(expected: f64, actual: f64, gain: f64, cap: f64) -> f64 {
    let cap = cap.max(1.0);
    let gap = (expected - actual) / (expected + 1.0);
    (1.0 + gain.max(0.0) * gap).clamp(1.0 / cap, cap)
}

/// Each candidate's weight under the formula in the module docs, without
/// uptake (every `u_i` = 1).
pub fn weights(candidates: &[Candidate], params: &BalanceParams) -> Vec<f64> {
    weights_with(candidates, &[], params)
}

/// Each candidate's booking factor `u_i` (module docs); all 1 unless
/// `uptake` has one entry per candidate.
pub fn booking_factors(
    candidates: &[Candidate],
    uptake: &[Uptake],
    params: &BalanceParams,
) -> Vec<f64> {
    if uptake.len() != candidates.len() {
        return vec![1.0; candidates.len()];
    }
    let offered: f64 = uptake.iter().map(|u| f64::from(u.offered)).sum();
    let booked: f64 = uptake.iter().map(|u| f64::from(u.booked)).sum();
    uptake
        .iter()
        .map(|u| {
            if offered <= 0.0 || u.offered == 0 {
                return 1.0;
            }
            let share = booked * f64::from(u.offered) / offered;
            correction(
                share,
                f64::from(u.booked),
                params.booking_gain,
                params.booking_cap,
            )
        })
        .collect()
}

/// Each candidate's capacity with the booking factors applied band by band
/// (`c'_i` in the module docs): each band's total is re-divided, then an
/// expert above their share is scaled by their factor once more, so only
/// bands holding such experts lose weight. Without one `uptake` entry per
/// candidate, the capacities as they are.
pub fn booked_capacities(
    candidates: &[Candidate],
    uptake: &[Uptake],
    params: &BalanceParams,
) -> Vec<f64> {
    if uptake.len() != candidates.len() {
        return candidates.iter().map(|c| f64::from(c.capacity)).collect();
    }
    let factors = booking_factors(candidates, uptake, params);
    // Open slots in band b alone (the counts are cumulative).
    let in_band = |u: &Uptake, b: usize| {
        u.open_by_band[b].saturating_sub(if b == 0 { 0 } else { u.open_by_band[b - 1] })
    };
    let mut slots = [0.0; CAPACITY_BANDS.len()];
    let mut scaled = [0.0; CAPACITY_BANDS.len()];
    for (u, f) in uptake.iter().zip(&factors) {
        for b in 0..CAPACITY_BANDS.len() {
            slots[b] += f64::from(in_band(u, b));
            scaled[b] += f64::from(in_band(u, b)) * f;
        }
    }
    uptake
        .iter()
        .zip(&factors)
        .map(|(u, f)| {
            let redivided: f64 = CAPACITY_BANDS
                .iter()
                .enumerate()
                .filter(|(b, _)| scaled[*b] > 0.0)
                .map(|(b, band)| {
                    f64::from(band.weight) * f64::from(in_band(u, b)) * f * slots[b] / scaled[b]
                })
                .sum();
            // Above their share, an expert also gives up weight to the other
            // bands (module docs).
            redivided * f.clamp(OVER_SHARE_KEEPS, 1.0)
        })
        .collect()
}

/// Each candidate's weight under the formulas in the module docs, with
/// `uptake[i]` for `candidates[i]` (or none at all).
pub fn weights_with(
    candidates: &[Candidate],
    uptake: &[Uptake],
    params: &BalanceParams,
) -> Vec<f64> {
    let booked = booked_capacities(candidates, uptake, params);
    let total_capacity: f64 = candidates.iter().map(|c| f64::from(c.capacity)).sum();
    let total_impressions: f64 = candidates.iter().map(|c| c.impressions as f64).sum();
    // The share of the window's impressions one slot in the nearest band
    // earns: the most a single slot can be shown (module docs, "One slot").
    let one_slot = total_impressions * f64::from(CAPACITY_BANDS[0].weight) / total_capacity;
    candidates
        .iter()
        .zip(booked)
        .map(|(c, booked)| {
            let capacity = f64::from(c.capacity);
            if capacity <= 0.0 || total_capacity <= 0.0 {
                return 0.0;
            }
            let impressions = c.impressions as f64;
            let mut expected = total_impressions * capacity / total_capacity;
            if c.impressions > 0 {
                expected = expected.min(one_slot);
            }
            let base = if impressions > expected {
                booked.min(capacity)
            } else {
                booked
            };
            base * correction(
                expected,
                impressions,
                params.feedback_gain,
                params.correction_cap,
            )
        })
        .collect()
}

/// Draws up to `params.size` candidates without replacement, with probability
/// proportional to weight; returns their indices, heaviest key first. Experts
/// with no capacity are never drawn. Without uptake: see
/// [`choose_balanced_with`].
pub fn choose_balanced<R: Rng + ?Sized>(
    candidates: &[Candidate],
    params: &BalanceParams,
    rng: &mut R,
) -> Vec<usize> {
    choose_balanced_with(candidates, &[], params, rng)
}

/// [`choose_balanced`] with each candidate's [`Uptake`] (`uptake[i]` for
/// `candidates[i]`; an empty slice, or one of another length, is ignored),
/// so experts booked below their share of the window's bookings are shown
/// more, within each capacity band, and those above it less; and the first
/// `params.near_places` places go to experts with an open slot in the
/// nearest band not shown in the window (module docs). Returns those first,
/// then the others heaviest key first, so keeping a prefix of a longer draw
/// keeps the near places.
pub fn choose_balanced_with<R: Rng + ?Sized>(
    candidates: &[Candidate],
    uptake: &[Uptake],
    params: &BalanceParams,
    rng: &mut R,
) -> Vec<usize> {
    let w = weights_with(candidates, uptake, params);
    let mut keyed: Vec<(f64, usize)> = w
        .iter()
        .enumerate()
        .filter(|(_, w)| **w > 0.0)
        .map(|(i, w)| {
            // u in (0, 1]: ln(u) <= 0, and a heavier weight brings it nearer 0.
            let u: f64 = 1.0 - rng.gen::<f64>();
            (u.ln() / w, i)
        })
        .collect();
    let mut out = Vec::with_capacity(params.size.min(keyed.len()));
    if uptake.len() == candidates.len() {
        // The near places, by the same keys: as if the draw went on until
        // it met that many fresh experts with time in the nearest band.
        let near: Vec<(f64, usize)> = keyed
            .iter()
            .copied()
            .filter(|&(_, i)| candidates[i].impressions == 0 && uptake[i].open_by_band[0] > 0)
            .collect();
        out = heaviest(near, params.near_places.min(params.size));
        keyed.retain(|(_, i)| !out.contains(i));
    }
    let rest = params.size.saturating_sub(out.len());
    out.extend(heaviest(keyed, rest));
    out
}

/// The indices of the `k` largest keys, largest first.
fn heaviest(mut keyed: Vec<(f64, usize)>, k: usize) -> Vec<usize> {
    let k = k.min(keyed.len());
    if k == 0 {
        return Vec::new();
    }
    if k < keyed.len() {
        keyed.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        keyed.truncate(k);
    }
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// How soon an expert's open time must start to count in the first round of
/// a local-first fill: the band index of [`CAPACITY_BANDS`] (within 24 h).
pub const SOON_BAND: usize = 2;

/// The round of a local-first fill an expert is drawn in, for a seeker with
/// a known region: experts with an open slot within [`SOON_BAND`]'s horizon
/// come first, nearest tier first (rounds 0–2: local, area, country); the
/// others after them in the same order (rounds 3–5). `None`: no open time in
/// the look-ahead at all.
///
/// Counting any slot in the 72-hour look-ahead as "open" let a region whose
/// own experts were booked out for the day fill whole slates with slots days
/// away while the rest of the country had time within the hour: on the
/// simulator's `hubei2020` market that matched Hubei's seekers about half as
/// often as a national draw.
pub fn fill_round(nearness: Nearness, uptake: &Uptake) -> Option<usize> {
    if uptake.open_by_band[CAPACITY_BANDS.len() - 1] == 0 {
        return None;
    }
    let tier = nearness as usize;
    Some(if uptake.open_by_band[SOON_BAND] > 0 {
        tier
    } else {
        3 + tier
    })
}

/// The slate of a seeker with a known region: up to `params.size` experts
/// drawn round by round ([`fill_round`]), each round by the balanced rule
/// ([`choose_balanced_with`]) among its experts alone, only as far as needed.
/// `nearness[i]` and `uptake[i]` belong to `candidates[i]`; returns indices
/// into `candidates`, round by round.
pub fn choose_local_first<R: Rng + ?Sized>(
    candidates: &[Candidate],
    uptake: &[Uptake],
    nearness: &[Nearness],
    params: &BalanceParams,
    rng: &mut R,
) -> Vec<usize> {
    // Each candidate's round, in one pass.
    let mut rounds: [Vec<usize>; 6] = Default::default();
    for (i, (u, n)) in uptake.iter().zip(nearness).enumerate() {
        if let Some(round) = fill_round(*n, u) {
            rounds[round].push(i);
        }
    }
    let mut out = Vec::with_capacity(params.size);
    for pool in rounds.iter().filter(|pool| !pool.is_empty()) {
        let want = params.size.saturating_sub(out.len());
        if want == 0 {
            break;
        }
        let pool_candidates: Vec<Candidate> = pool.iter().map(|&i| candidates[i].clone()).collect();
        let pool_uptake: Vec<Uptake> = pool.iter().map(|&i| uptake[i]).collect();
        let params = BalanceParams {
            size: want,
            ..*params
        };
        out.extend(
            choose_balanced_with(&pool_candidates, &pool_uptake, &params, rng)
                .into_iter()
                .map(|k| pool[k]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn candidates(capacities: &[u32]) -> Vec<Candidate> {
        capacities
            .iter()
            .map(|c| Candidate {
                expert_id: ExpertId::new(),
                capacity: *c,
                impressions: 0,
            })
            .collect()
    }

    #[test]
    fn never_draws_an_expert_without_capacity_nor_the_same_one_twice() {
        let c = candidates(&[0, 3, 0, 5, 1]);
        let mut rng = StdRng::seed_from_u64(7);
        let params = BalanceParams {
            size: 20,
            ..Default::default()
        };
        for _ in 0..100 {
            let mut got = choose_balanced(&c, &params, &mut rng);
            got.sort();
            assert_eq!(got, vec![1, 3, 4]);
        }
    }

    #[test]
    fn a_slot_counts_more_the_sooner_it_starts() {
        let h = Duration::hours;
        assert_eq!(slot_capacity(Duration::minutes(-1)), 0, "already started");
        assert_eq!(slot_capacity(Duration::zero()), 8);
        assert_eq!(slot_capacity(h(2)), 8);
        assert_eq!(slot_capacity(h(2) + Duration::seconds(1)), 4);
        assert_eq!(slot_capacity(h(6)), 4);
        assert_eq!(slot_capacity(h(24)), 2);
        assert_eq!(slot_capacity(h(72)), 1);
        assert_eq!(slot_capacity(h(72) + Duration::seconds(1)), 0);
        assert_eq!(CAPACITY_LOOKAHEAD, h(72));
    }

    #[test]
    fn capacity_from_range_counts_equals_the_sum_over_slots() {
        // Slots starting in 1 h, 3 h, 5 h, 10 h, 30 h, 50 h and 100 h.
        let starts: Vec<Duration> = [1, 3, 5, 10, 30, 50, 100]
            .into_iter()
            .map(Duration::hours)
            .collect();
        let by_slot: u32 = starts.iter().map(|s| slot_capacity(*s)).sum();
        let counts =
            CAPACITY_BANDS.map(|b| starts.iter().filter(|s| **s <= b.within).count() as u32);
        assert_eq!(counts, [1, 3, 4, 6]);
        assert_eq!(by_slot, 8 + 4 + 4 + 2 + 1 + 1);
        assert_eq!(capacity_from_counts(counts), by_slot);
        assert_eq!(capacity_from_counts([0; 4]), 0);
    }

    #[test]
    fn an_expert_just_shown_is_set_aside_for_one_not_yet_shown() {
        let mut c = candidates(&[4, 4]);
        c[0].impressions = 1;
        let w = weights(&c, &BalanceParams::default());
        // Share 0.5 each: 1 + 4·(−0.5/1.5) < 1/16 → the floor; 1 + 4·(0.5/1.5) = 7/3.
        assert_eq!(w[0], 4.0 / 16.0);
        assert!((w[1] - 4.0 * 7.0 / 3.0).abs() < 1e-12);
        // At their share, nobody is corrected.
        c[1].impressions = 1;
        assert_eq!(weights(&c, &BalanceParams::default()), vec![4.0, 4.0]);
    }

    /// An uptake whose band counts give `capacity` (all in the farthest
    /// band) with `booked` of `offered` slots booked.
    fn uptake(capacity: u32, offered: u32, booked: u32) -> Uptake {
        Uptake {
            open_by_band: [0, 0, 0, capacity],
            offered,
            booked,
        }
    }

    #[test]
    fn the_booking_rule_is_todays_when_bookings_follow_what_was_offered() {
        let mut c = candidates(&[3, 8, 1, 5]);
        c[1].impressions = 2;
        c[3].impressions = 1;
        // Each expert has 60 % of what they offered booked, so u_i = 1.
        let u = [
            uptake(3, 10, 6),
            Uptake {
                open_by_band: [1, 1, 1, 1],
                offered: 5,
                booked: 3,
            },
            uptake(1, 20, 12),
            uptake(5, 0, 0),
        ];
        assert_eq!(capacity_from_counts(u[1].open_by_band), 8);
        let params = BalanceParams::default();
        assert_eq!(booking_factors(&c, &u, &params), vec![1.0; 4]);
        let today = weights(&c, &params);
        for (a, b) in weights_with(&c, &u, &params).iter().zip(&today) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        // No uptake, or not one per candidate: today's rule too.
        assert_eq!(weights_with(&c, &u[..2], &params), today);
        assert_eq!(weights_with(&c, &[], &params), today);
    }

    #[test]
    fn an_expert_below_their_share_is_drawn_more_than_one_above_it() {
        let c = candidates(&[4, 4, 4]);
        // Same capacity, same time offered, 9 of the 30 slots booked: a
        // share of 3 each. The first has none, the second is at their share,
        // the third has twice it.
        let u = [uptake(4, 10, 0), uptake(4, 10, 3), uptake(4, 10, 6)];
        let params = BalanceParams {
            size: 1,
            ..Default::default()
        };
        let f = booking_factors(&c, &u, &params);
        assert_eq!(f, vec![params.booking_cap, 1.0, 1.0 / params.booking_cap]);
        let mut rng = StdRng::seed_from_u64(29);
        let mut first = [0u32; 3];
        for _ in 0..3_000 {
            first[choose_balanced_with(&c, &u, &params, &mut rng)[0]] += 1;
        }
        assert!(
            first[0] > 4 * first[1] && first[1] > 4 * first[2],
            "drawn first: {first:?}"
        );
    }

    #[test]
    fn a_band_is_re_divided_and_an_expert_above_their_share_gives_up_weight() {
        // Two experts with one slot within 2 h each, one with two slots a
        // day out; the first is far below their share of bookings (4 each),
        // the second far above it, the third at it.
        let c = candidates(&[8, 8, 4]);
        let near = [1, 1, 1, 1];
        let u = [
            Uptake {
                open_by_band: near,
                offered: 10,
                booked: 0,
            },
            Uptake {
                open_by_band: near,
                offered: 10,
                booked: 8,
            },
            Uptake {
                open_by_band: [0, 0, 2, 2],
                offered: 10,
                booked: 4,
            },
        ];
        let params = BalanceParams::default();
        let f = booking_factors(&c, &u, &params);
        assert_eq!(f, vec![params.booking_cap, 1.0 / params.booking_cap, 1.0]);
        let booked = booked_capacities(&c, &u, &params);
        // The near band's 16 is re-divided by the factors; the one above
        // their share keeps only half their part (their factor, but no less
        // than a half), so the band weighs less against the far one, whose
        // expert keeps their 4.
        let part = |i: usize| 16.0 * f[i] / (f[0] + f[1]);
        assert!((booked[0] - part(0)).abs() < 1e-9, "{booked:?}");
        assert!(
            (booked[1] - part(1) * OVER_SHARE_KEEPS).abs() < 1e-9,
            "{booked:?}"
        );
        assert!(booked[0] + booked[1] < 16.0);
        assert!((booked[2] - 4.0).abs() < 1e-9);
    }

    #[test]
    fn an_expert_above_their_share_alone_in_their_band_is_shown_less() {
        // The only expert with time this morning, booked twice their share
        // (4 of the 6 bookings, with a third of the slots offered):
        // re-dividing their band alone would leave them as they are.
        let c = candidates(&[8, 4, 4]);
        let u = [
            Uptake {
                open_by_band: [1, 1, 1, 1],
                offered: 10,
                booked: 4,
            },
            Uptake {
                open_by_band: [0, 0, 2, 2],
                offered: 10,
                booked: 1,
            },
            Uptake {
                open_by_band: [0, 0, 2, 2],
                offered: 10,
                booked: 1,
            },
        ];
        let params = BalanceParams::default();
        let f = booking_factors(&c, &u, &params);
        assert!(f[0] < OVER_SHARE_KEEPS && f[1] > 1.0, "{f:?}");
        let booked = booked_capacities(&c, &u, &params);
        assert!(
            (booked[0] - 8.0 * OVER_SHARE_KEEPS).abs() < 1e-9,
            "{booked:?}"
        );
        // The experts below their share share a band: it keeps its 8.
        assert!((booked[1] + booked[2] - 8.0).abs() < 1e-9, "{booked:?}");
    }

    #[test]
    fn an_expert_with_much_open_time_is_set_aside_after_a_showing_too() {
        // Capacity 40 against five of 8: their share of the window's 4
        // impressions is 2, one near slot's is 0.4.
        let mut c = candidates(&[40, 8, 8, 8, 8, 8]);
        for e in &mut c[..4] {
            e.impressions = 1;
        }
        let params = BalanceParams::default();
        let w = weights(&c, &params);
        // Shown once, they are measured against one slot's share: the floor,
        // below an expert of 8 not yet shown. Against their whole share
        // (2, shown once) they would have been boosted to 40 · 7/3.
        assert_eq!(w[0], 40.0 / params.correction_cap);
        assert!(w[0] < w[4], "{w:?}");
        // Not shown, their whole share of the 3 impressions left counts:
        // 1.5, so 1 + 4 · 1.5/2.5.
        c[0].impressions = 0;
        let w = weights(&c, &params);
        assert!(
            (w[0] - 40.0 * (1.0 + 4.0 * 1.5 / 2.5)).abs() < 1e-9,
            "{w:?}"
        );
    }

    #[test]
    fn the_near_place_goes_to_an_expert_with_time_soon_not_yet_shown() {
        // Thirty experts with much time days away, one with a single slot
        // within 2 h, one with time within 2 h who was just shown.
        let mut capacities = vec![40; 30];
        capacities.extend([8, 8]);
        let mut c = candidates(&capacities);
        c[31].impressions = 1;
        let mut u = far_slots(&capacities);
        u[30].open_by_band = [1, 1, 1, 1];
        u[31].open_by_band = [1, 1, 1, 1];
        let params = BalanceParams {
            size: 5,
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(32);
        let mut shown_just_shown = 0;
        for _ in 0..200 {
            let out = choose_balanced_with(&c, &u, &params, &mut rng);
            assert_eq!(out.len(), 5);
            assert_eq!(out[0], 30, "the near place, first");
            shown_just_shown += usize::from(out.contains(&31));
        }
        assert!(shown_just_shown < 20, "{shown_just_shown} of 200");
        // Without a near place, the near expert is one among many.
        let params = BalanceParams {
            near_places: 0,
            ..params
        };
        let with_near = (0..200)
            .filter(|_| choose_balanced_with(&c, &u, &params, &mut rng).contains(&30))
            .count();
        assert!(with_near < 100, "{with_near} of 200");
        // Nobody with time soon, or everyone just shown: the draw as before.
        c[30].impressions = 1;
        let params = BalanceParams {
            near_places: 1,
            ..params
        };
        let mut a = StdRng::seed_from_u64(5);
        let mut b = StdRng::seed_from_u64(5);
        let without = BalanceParams {
            near_places: 0,
            ..params
        };
        assert_eq!(
            choose_balanced_with(&c, &u, &params, &mut a),
            choose_balanced_with(&c, &u, &without, &mut b)
        );
    }

    /// Draws 400 slates of 20 from 200 experts with capacities 1..=8 in
    /// every band, some far above their share of bookings and some far
    /// below it, with impressions fed back through a 20-slate window.
    #[test]
    fn four_hundred_slates_reach_every_expert_with_an_open_slot() {
        let bands = [[1, 1, 1, 1], [0, 1, 1, 2], [0, 0, 2, 4], [0, 0, 0, 8]];
        let u: Vec<Uptake> = (0..200)
            .map(|i| Uptake {
                open_by_band: bands[i % 4],
                offered: 10,
                booked: (i % 7) as u32,
            })
            .collect();
        let mut c = candidates(
            &u.iter()
                .map(|u| capacity_from_counts(u.open_by_band))
                .collect::<Vec<_>>(),
        );
        let params = BalanceParams::default();
        let mut rng = StdRng::seed_from_u64(400);
        let mut reached = vec![false; c.len()];
        let mut recent = std::collections::VecDeque::new();
        for _ in 0..400 {
            let slate = choose_balanced_with(&c, &u, &params, &mut rng);
            for &i in &slate {
                reached[i] = true;
                c[i].impressions += 1;
            }
            recent.push_back(slate);
            if recent.len() > 20 {
                for i in recent.pop_front().unwrap_or_default() {
                    c[i].impressions -= 1;
                }
            }
        }
        let missed: Vec<usize> = (0..c.len()).filter(|&i| !reached[i]).collect();
        assert!(missed.is_empty(), "never shown: {missed:?}");
    }

    #[test]
    fn a_boost_never_undoes_the_set_aside_after_a_showing() {
        let mut c = candidates(&[4, 4]);
        c[0].impressions = 1;
        let u = [uptake(4, 10, 0), uptake(4, 10, 5)];
        let params = BalanceParams::default();
        let w = weights_with(&c, &u, &params);
        // Shown once with a share of half an impression: the floor, on
        // capacity alone, as without uptake.
        assert_eq!(w[0], 4.0 / 16.0);
        assert!(w[1] < 4.0 * 7.0 / 3.0, "the other is not boosted: {w:?}");
        c[0].impressions = 0;
        let w = weights_with(&c, &u, &params);
        assert!(w[0] > 8.0 * w[1], "once set aside no more: {w:?}");
    }

    #[test]
    fn uptake_never_brings_in_an_expert_without_capacity() {
        let c = candidates(&[0, 2, 0, 3]);
        let u = [
            uptake(0, 10, 0),
            uptake(2, 10, 9),
            Uptake {
                open_by_band: [0, 0, 0, 5],
                offered: 10,
                booked: 0,
            },
            uptake(3, 10, 9),
        ];
        let params = BalanceParams::default();
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let mut got = choose_balanced_with(&c, &u, &params, &mut rng);
            got.sort();
            assert_eq!(got, vec![1, 3]);
        }
    }

    /// Draws 10,000 slates of 20 from 200 experts with capacities 1..=8
    /// (25 of each), feeding impressions back into the counters — for good,
    /// or only for the last `window` slates, as the production buckets
    /// forget. Returns each expert's exposure ÷ the share their capacity
    /// earns.
    fn exposure_over_capacity(window: Option<usize>) -> Vec<(u32, f64)> {
        let mut c = candidates(&(0..200).map(|i| 1 + (i % 8)).collect::<Vec<_>>());
        let mut rng = StdRng::seed_from_u64(42);
        let params = BalanceParams::default();
        let mut shown = vec![0u64; c.len()];
        let mut recent = std::collections::VecDeque::new();
        for _ in 0..10_000 {
            let slate = choose_balanced(&c, &params, &mut rng);
            for &i in &slate {
                shown[i] += 1;
                c[i].impressions += 1;
            }
            recent.push_back(slate);
            if window.is_some_and(|w| recent.len() > w) {
                for i in recent.pop_front().unwrap_or_default() {
                    c[i].impressions -= 1;
                }
            }
        }
        let total_cap: f64 = c.iter().map(|c| f64::from(c.capacity)).sum();
        let total_shown: f64 = shown.iter().map(|&s| s as f64).sum();
        c.iter()
            .zip(&shown)
            .map(|(x, &s)| {
                let share = total_shown * f64::from(x.capacity) / total_cap;
                (x.capacity, s as f64 / share)
            })
            .collect()
    }

    /// The statistical test of issue 4 (seed 42): over 10,000 slates with
    /// the counters fed back, every expert's exposure is within 8% of
    /// proportional to capacity (measured: 5.7%; a 1-capacity expert expects
    /// only ~220 impressions, so some of that is the draw's own noise).
    #[test]
    fn exposure_follows_capacity_with_feedback() {
        for (capacity, ratio) in exposure_over_capacity(None) {
            assert!(
                (ratio - 1.0).abs() < 0.08,
                "capacity {capacity}: shown {ratio:.3}× its share"
            );
        }
    }

    /// With a short window (20 slates, a quiet six minutes) the counters hold
    /// only 0–2 impressions each; the linear correction still keeps each
    /// capacity class within 15% of proportional (measured: 13%).
    #[test]
    fn exposure_follows_capacity_with_a_short_window() {
        let ratios = exposure_over_capacity(Some(20));
        for capacity in 1..=8 {
            let class: Vec<f64> = ratios
                .iter()
                .filter(|(c, _)| *c == capacity)
                .map(|(_, r)| *r)
                .collect();
            let mean = class.iter().sum::<f64>() / class.len() as f64;
            assert!(
                (mean - 1.0).abs() < 0.15,
                "capacity {capacity}: shown {mean:.3}× its share"
            );
        }
    }

    fn far_slots(capacities: &[u32]) -> Vec<Uptake> {
        // Open slots all in the farthest band (weight 1), as capacity says.
        capacities
            .iter()
            .map(|&c| Uptake {
                open_by_band: [0, 0, 0, c],
                ..Uptake::default()
            })
            .collect()
    }

    fn tiers(local: usize, area: usize, all: usize) -> Vec<Nearness> {
        (0..all)
            .map(|i| match i {
                i if i < local => Nearness::Local,
                i if i < local + area => Nearness::Area,
                _ => Nearness::Country,
            })
            .collect()
    }

    #[test]
    fn local_first_fills_from_the_nearest_tier_only_as_far_as_needed() {
        // Experts 0..8 local (two without an open slot), 8..13 of the area,
        // 13..40 elsewhere.
        let mut capacities = vec![4; 40];
        capacities[1] = 0;
        capacities[6] = 0;
        let c = candidates(&capacities);
        let uptake = far_slots(&capacities);
        let params = BalanceParams::default();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let out = choose_local_first(&c, &uptake, &tiers(8, 5, 40), &params, &mut rng);
            assert_eq!(out.len(), 20);
            let mut local = out[..6].to_vec();
            local.sort_unstable();
            assert_eq!(
                local,
                vec![0, 2, 3, 4, 5, 7],
                "every local expert with a slot"
            );
            let mut area = out[6..11].to_vec();
            area.sort_unstable();
            assert_eq!(area, vec![8, 9, 10, 11, 12], "then the whole area");
            assert!(out[11..].iter().all(|&e| e >= 13), "then the country");
        }
        // Enough local experts: nobody from further away.
        let out = choose_local_first(&c, &uptake, &tiers(30, 5, 40), &params, &mut rng);
        assert_eq!(out.len(), 20);
        assert!(out.iter().all(|&e| e < 30 && e != 1 && e != 6));
    }

    #[test]
    fn local_experts_free_only_in_days_come_after_anyone_free_today() {
        // 30 local experts, all with their open time two days away; 10 of
        // the area and 10 elsewhere with a slot within the hour.
        let capacities = vec![4; 50];
        let c = candidates(&capacities);
        let mut uptake = far_slots(&capacities);
        for u in &mut uptake[30..] {
            u.open_by_band = [1, 1, 1, 4];
        }
        let nearness = tiers(30, 10, 50);
        let params = BalanceParams::default();
        let mut rng = StdRng::seed_from_u64(2);
        for _ in 0..50 {
            let out = choose_local_first(&c, &uptake, &nearness, &params, &mut rng);
            assert_eq!(out.len(), 20);
            let mut soon = out[..20].to_vec();
            soon.sort_unstable();
            assert_eq!(
                soon,
                (30..50).collect::<Vec<_>>(),
                "today's time first, the area's before the country's"
            );
            assert!(
                out[..10].iter().all(|&e| e < 40),
                "the area before the country"
            );
        }
        // With local time today, local experts come first again.
        uptake[0].open_by_band = [0, 1, 1, 4];
        let out = choose_local_first(&c, &uptake, &nearness, &params, &mut rng);
        assert_eq!(out[0], 0);
        assert_eq!(
            fill_round(Nearness::Local, &Uptake::default()),
            None,
            "no open time at all"
        );
    }
}
