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
use crate::ids::ExpertId;
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
}

impl Default for BalanceParams {
    fn default() -> Self {
        Self {
            size: 20,
            correction_cap: 16.0,
            feedback_gain: 4.0,
        }
    }
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

/// Each candidate's weight under the formula in the module docs.
pub fn weights(candidates: &[Candidate], params: &BalanceParams) -> Vec<f64> {
    let total_capacity: f64 = candidates.iter().map(|c| f64::from(c.capacity)).sum();
    let total_impressions: f64 = candidates.iter().map(|c| c.impressions as f64).sum();
    let cap = params.correction_cap.max(1.0);
    let gain = params.feedback_gain.max(0.0);
    candidates
        .iter()
        .map(|c| {
            let capacity = f64::from(c.capacity);
            if capacity <= 0.0 || total_capacity <= 0.0 {
                return 0.0;
            }
            let expected = total_impressions * capacity / total_capacity;
            let gap = (expected - c.impressions as f64) / (expected + 1.0);
            let correction = (1.0 + gain * gap).clamp(1.0 / cap, cap);
            capacity * correction
        })
        .collect()
}

/// Draws up to `params.size` candidates without replacement, with probability
/// proportional to weight; returns their indices, heaviest key first. Experts
/// with no capacity are never drawn.
pub fn choose_balanced<R: Rng + ?Sized>(
    candidates: &[Candidate],
    params: &BalanceParams,
    rng: &mut R,
) -> Vec<usize> {
    let w = weights(candidates, params);
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
}
