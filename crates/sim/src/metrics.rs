//! The numbers a policy is judged by, computed from an `Outcome`: match rate,
//! time to match, collision rate, how unequal exposure and bookings are across
//! experts (Gini), experts left without a booking, utilization.
use crate::engine::Outcome;
use crate::policy::Policy;
use anxin_domain::stats::gini;

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
            exposure_gini: gini(&impressions).unwrap_or(0.0),
            booking_gini: gini(&bookings).unwrap_or(0.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.95), 95);
        assert_eq!(percentile(&[7], 0.95), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
