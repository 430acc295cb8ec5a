//! The numbers a policy is judged by, computed from an `Outcome`: match rate,
//! time to match, collision rate, how unequal exposure and bookings are across
//! experts (Gini), experts left without a booking, utilization.
use crate::engine::Outcome;
use crate::policy::Policy;

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyReport {
    pub policy: Policy,
    pub seekers: usize,
    pub matched: usize,
    /// Seekers who booked ÷ seekers who arrived.
    pub match_rate: f64,
    /// Seconds from arrival to booking, over matched seekers.
    pub time_to_match_p50: i64,
    pub time_to_match_p95: i64,
    pub picks: usize,
    pub collisions: usize,
    /// Picks that found the slot already taken ÷ picks.
    pub collision_rate: f64,
    pub left_nothing_suitable: usize,
    pub left_after_collisions: usize,
    /// Gini of times shown, across active experts (those with a slot during
    /// the run: one with none can't be booked under any policy, and counting
    /// them would only add the same inequality to every policy).
    pub exposure_gini: f64,
    /// Gini of bookings, across active experts.
    pub booking_gini: f64,
    /// Share of active experts with no booking at all.
    pub zero_booked_share: f64,
    /// Booked ÷ open slots starting within the simulated period.
    pub utilization: f64,
    /// Bookings per active expert, for the Lorenz curve.
    pub bookings: Vec<u32>,
}

impl PolicyReport {
    /// `active[i]` says whether expert `i` had a slot during the run.
    pub fn from_outcome(o: &Outcome, active: &[bool]) -> Self {
        let mut ttm = o.time_to_match.clone();
        ttm.sort_unstable();
        let of_active = |i: &usize| active.get(*i).copied().unwrap_or(true);
        let booked: Vec<u32> = (0..o.bookings.len())
            .filter(of_active)
            .map(|i| o.bookings[i])
            .collect();
        let bookings: Vec<f64> = booked.iter().map(|&b| f64::from(b)).collect();
        let impressions: Vec<f64> = (0..o.impressions.len())
            .filter(of_active)
            .map(|i| o.impressions[i] as f64)
            .collect();
        Self {
            policy: o.policy,
            seekers: o.seekers,
            matched: o.matched,
            match_rate: ratio(o.matched, o.seekers),
            time_to_match_p50: percentile(&ttm, 0.50),
            time_to_match_p95: percentile(&ttm, 0.95),
            picks: o.picks,
            collisions: o.collisions,
            collision_rate: ratio(o.collisions, o.picks),
            left_nothing_suitable: o.left_nothing_suitable,
            left_after_collisions: o.left_after_collisions,
            exposure_gini: gini(&impressions),
            booking_gini: gini(&bookings),
            zero_booked_share: ratio(booked.iter().filter(|&&b| b == 0).count(), booked.len()),
            utilization: ratio(o.booked_in_period, o.slots_in_period),
            bookings: booked,
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Nearest-rank percentile of ascending `sorted`; 0 when empty.
pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The Gini coefficient of non-negative `values`: 0 when all are equal,
/// `(n − 1) / n` when one holds everything. Computed exactly from the sorted
/// values as `Σ (2i − n − 1) · x_i / (n · Σ x)` (i from 1), the mean absolute
/// difference over twice the mean. Empty or all-zero input is 0 (nothing to
/// be unequal about).
pub fn gini(values: &[f64]) -> f64 {
    let n = values.len();
    let total: f64 = values.iter().sum();
    if n == 0 || total <= 0.0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let nf = n as f64;
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, x)| (2.0 * (i as f64 + 1.0) - nf - 1.0) * x)
        .sum();
    weighted / (nf * total)
}

/// The Lorenz curve of `values`: `(share of holders, share of the total)`,
/// poorest first, from (0, 0) to (1, 1), at most `max_points + 1` points (a
/// long curve is sampled evenly; the kinks that matter survive at that size).
pub fn lorenz(values: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let n = values.len();
    let total: f64 = values.iter().sum();
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut cumulative = Vec::with_capacity(n + 1);
    let mut sum = 0.0;
    cumulative.push(0.0);
    for x in &sorted {
        sum += x;
        cumulative.push(sum);
    }
    let step = n.div_ceil(max_points.max(1)).max(1);
    let mut points: Vec<(f64, f64)> = (0..=n)
        .step_by(step)
        .map(|i| {
            let y = if total > 0.0 {
                cumulative[i] / total
            } else {
                0.0
            };
            (i as f64 / n.max(1) as f64, y)
        })
        .collect();
    if points.last().map(|p| p.0) != Some(1.0) {
        points.push((1.0, if total > 0.0 { 1.0 } else { 0.0 }));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn gini_of_equal_values_is_zero() {
        assert!(close(gini(&[3.0; 50]), 0.0));
        assert!(close(gini(&[]), 0.0));
        assert!(close(gini(&[0.0, 0.0]), 0.0));
    }

    #[test]
    fn gini_when_one_holds_everything_is_n_minus_one_over_n() {
        for n in [2usize, 5, 200] {
            let mut v = vec![0.0; n];
            v[n / 2] = 7.0;
            let want = (n as f64 - 1.0) / n as f64;
            assert!(close(gini(&v), want), "n = {n}: {} vs {want}", gini(&v));
        }
    }

    #[test]
    fn gini_matches_the_mean_absolute_difference_definition() {
        // [1, 2, 3, 4]: Σ|xi − xj| over ordered pairs = 20, n² = 16, mean 2.5
        // → G = 20 / (2 · 16 · 2.5) = 0.25.
        assert!(close(gini(&[4.0, 1.0, 3.0, 2.0]), 0.25));
        // [0, 0, 1, 1] → 0.5; order and scale don't matter.
        assert!(close(gini(&[10.0, 0.0, 10.0, 0.0]), 0.5));
    }

    #[test]
    fn lorenz_runs_from_origin_to_one_below_the_diagonal() {
        let curve = lorenz(&[0.0, 1.0, 3.0], 10);
        assert_eq!(
            curve,
            vec![(0.0, 0.0), (1.0 / 3.0, 0.0), (2.0 / 3.0, 0.25), (1.0, 1.0)]
        );
        let long = lorenz(&(0..10_000).map(f64::from).collect::<Vec<_>>(), 500);
        assert!(long.len() <= 502);
        assert_eq!(long.first(), Some(&(0.0, 0.0)));
        assert_eq!(long.last(), Some(&(1.0, 1.0)));
        assert!(long.iter().all(|(x, y)| y <= x));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.95), 95);
        assert_eq!(percentile(&[7], 0.95), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
