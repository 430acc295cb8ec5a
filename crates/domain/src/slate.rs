//! The balanced slate: which ~20 experts a seeker is shown.
//!
//! Showing everyone to everyone floods the popular few and starves the rest;
//! a fixed "top 20" does the same. Instead each candidate expert `i` (approved,
//! with at least one open slot that matches the seeker's filters) gets a weight
//!
//! ```text
//!   w_i = c_i · clamp((ê_i + 1) / (e_i + 1), 1/K, K)      ê_i = E · c_i / C
//! ```
//!
//! where `c_i` is the expert's open near-term capacity (open slots in the
//! look-ahead window), `e_i` their impressions in the recent sliding window,
//! `E` and `C` the sums of both over all candidates, and `K` the
//! `correction_cap`. The first factor makes exposure proportional to capacity;
//! the second pulls an expert who has been shown more than their share down,
//! and one shown less up, so drift from randomness is corrected instead of
//! compounding. `size` experts are then drawn *without replacement* with
//! probability proportional to weight (Efraimidis–Spirakis: key `ln(u)/w`,
//! keep the largest), so no fixed top-N ever forms.
use crate::ids::ExpertId;
use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub expert_id: ExpertId,
    /// Open slots in the look-ahead window.
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
}

impl Default for BalanceParams {
    fn default() -> Self {
        Self {
            size: 20,
            correction_cap: 4.0,
        }
    }
}

/// Each candidate's weight under the formula in the module docs.
pub fn weights(candidates: &[Candidate], params: &BalanceParams) -> Vec<f64> {
    let total_capacity: f64 = candidates.iter().map(|c| f64::from(c.capacity)).sum();
    let total_impressions: f64 = candidates.iter().map(|c| c.impressions as f64).sum();
    let cap = params.correction_cap.max(1.0);
    candidates
        .iter()
        .map(|c| {
            let capacity = f64::from(c.capacity);
            if capacity <= 0.0 || total_capacity <= 0.0 {
                return 0.0;
            }
            let expected = total_impressions * capacity / total_capacity;
            let correction =
                ((expected + 1.0) / (c.impressions as f64 + 1.0)).clamp(1.0 / cap, cap);
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
    fn exposure_follows_capacity_with_feedback() {
        // 200 experts, capacities 1..=8; 10,000 slates of 20 with counters fed back.
        let mut c = candidates(&(0..200).map(|i| 1 + (i % 8)).collect::<Vec<_>>());
        let mut rng = StdRng::seed_from_u64(42);
        let params = BalanceParams::default();
        for _ in 0..10_000 {
            for i in choose_balanced(&c, &params, &mut rng) {
                c[i].impressions += 1;
            }
        }
        let total_cap: f64 = c.iter().map(|c| f64::from(c.capacity)).sum();
        let total_imp: f64 = c.iter().map(|c| c.impressions as f64).sum();
        for x in &c {
            let expected = total_imp * f64::from(x.capacity) / total_cap;
            let err = (x.impressions as f64 - expected).abs() / expected;
            assert!(
                err < 0.10,
                "capacity {} shown {} vs {expected:.0}",
                x.capacity,
                x.impressions
            );
        }
    }
}
