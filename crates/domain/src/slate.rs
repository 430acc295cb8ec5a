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
//! many near slots as before (scaling `c_i` by `u_i` instead hid them and cost
//! matches), only whose slots they are changes. The exposure correction
//! still measures `e_i` against the *capacity* share `ê_i`, and an expert
//! already shown more than that in the window gets `min(c'_i, c_i)`: a boost
//! never undoes the set-aside that keeps two seekers off one slot.
//! `w_i = c'_i · clamp(…)` as above. When every expert is booked in
//! proportion to what they offered, `u_i = 1`, `c'_i = c_i`, and the weights
//! are the ones above; without uptake ([`choose_balanced`]) they are too.
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
}

impl Default for BalanceParams {
    fn default() -> Self {
        Self {
            size: 20,
            correction_cap: 16.0,
            feedback_gain: 4.0,
            booking_gain: 32.0,
            booking_cap: 8.0,
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
/// (`c'_i` in the module docs); each band's total stays as it was. Without
/// one `uptake` entry per candidate, the capacities as they are.
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
            CAPACITY_BANDS
                .iter()
                .enumerate()
                .filter(|(b, _)| scaled[*b] > 0.0)
                .map(|(b, band)| {
                    f64::from(band.weight) * f64::from(in_band(u, b)) * f * slots[b] / scaled[b]
                })
                .sum()
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
    candidates
        .iter()
        .zip(booked)
        .map(|(c, booked)| {
            let capacity = f64::from(c.capacity);
            if capacity <= 0.0 || total_capacity <= 0.0 {
                return 0.0;
            }
            let impressions = c.impressions as f64;
            let expected = total_impressions * capacity / total_capacity;
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
/// more, within each capacity band.
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
    let k = params.size.min(keyed.len());
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
    fn each_band_keeps_its_weight_only_whose_slots_changes() {
        // Two experts with one slot within 2 h each, one with two slots a
        // day out; the first is far below their share of bookings.
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
        let booked = booked_capacities(&c, &u, &params);
        // The near band's 16 is re-divided; the far expert keeps their 4,
        // though they are under their share too (alone in their band).
        assert!((booked[0] + booked[1] - 16.0).abs() < 1e-9, "{booked:?}");
        assert!(booked[0] > 8.0 && booked[1] < 8.0);
        assert!((booked[2] - 4.0).abs() < 1e-9);
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
