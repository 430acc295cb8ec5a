//! The numbers a policy is judged by, computed from an `Outcome`: match rate,
//! time to match, collision rate, how unequal exposure and bookings are across
//! experts (Gini), experts left without a booking, utilization.
use crate::engine::Outcome;
use crate::market::Market;
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
    /// `booking_gini` minus the capacity Gini: 0 when bookings follow the
    /// slots each expert offered exactly, above 0 when they pile up more.
    pub gini_over_capacity: f64,
    /// Share of active experts with no booking at all.
    pub zero_booked_share: f64,
    /// Share of active experts booked less than half their fair share (see
    /// [`fair_shares`]).
    pub below_half_share: f64,
    /// Booked ÷ open slots starting within the simulated period.
    pub utilization: f64,
    /// Bookings per active expert, for the Lorenz curve.
    pub bookings: Vec<u32>,
    /// Times shown and bookings per expert (every expert, by index), for
    /// the per-expert CSV.
    pub impressions_per_expert: Vec<u64>,
    pub bookings_per_expert: Vec<u32>,
}

impl PolicyReport {
    /// `capacity[i]` is the slots expert `i` offered during the run (an
    /// expert with none is not active); `capacity_gini` their Gini over
    /// the active experts.
    pub fn from_outcome(o: &Outcome, capacity: &[f64], capacity_gini: f64) -> Self {
        let mut ttm: Vec<i64> = o.matches.iter().map(|m| m.after).collect();
        ttm.sort_unstable();
        let of_active = |i: &usize| capacity.get(*i).is_none_or(|&c| c > 0.0);
        let booked: Vec<u32> = (0..o.bookings.len())
            .filter(of_active)
            .map(|i| o.bookings[i])
            .collect();
        let bookings: Vec<f64> = booked.iter().map(|&b| f64::from(b)).collect();
        let impressions: Vec<f64> = (0..o.impressions.len())
            .filter(of_active)
            .map(|i| o.impressions[i] as f64)
            .collect();
        let fair = fair_shares(capacity, o.matched);
        let below_half = (0..o.bookings.len())
            .filter(of_active)
            .filter(|&i| f64::from(o.bookings[i]) < 0.5 * fair.get(i).copied().unwrap_or(0.0))
            .count();
        let booking_gini = gini(&bookings).unwrap_or(0.0);
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
            booking_gini,
            gini_over_capacity: booking_gini - capacity_gini,
            zero_booked_share: ratio(booked.iter().filter(|&&b| b == 0).count(), booked.len()),
            below_half_share: ratio(below_half, booked.len()),
            utilization: ratio(o.booked_in_period, o.slots_in_period),
            bookings: booked,
            impressions_per_expert: o.impressions.clone(),
            bookings_per_expert: o.bookings.clone(),
        }
    }
}

/// One policy's results for the seekers of one region: what locality gains
/// or costs them.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionalReport {
    pub region: &'static str,
    pub policy: Policy,
    pub seekers: usize,
    pub matched: usize,
    /// Of this region's seekers, those who booked.
    pub match_rate: f64,
    /// Of their bookings, those with an expert of their own region.
    pub local_share: f64,
    /// Seconds from arrival to booking, over this region's matched seekers.
    pub time_to_match_p50: i64,
    pub time_to_match_p95: i64,
}

impl RegionalReport {
    /// The figures of `region`'s seekers in `o`, a run over `market`.
    pub fn of(region: &'static str, market: &Market, o: &Outcome) -> Self {
        let seekers = market
            .seekers
            .iter()
            .filter(|s| s.region == Some(region))
            .count();
        let matches: Vec<_> = o
            .matches
            .iter()
            .filter(|m| market.seekers[m.seeker as usize].region == Some(region))
            .collect();
        let local = matches
            .iter()
            .filter(|m| market.experts[m.expert as usize].region == Some(region))
            .count();
        let mut ttm: Vec<i64> = matches.iter().map(|m| m.after).collect();
        ttm.sort_unstable();
        Self {
            region,
            policy: o.policy,
            seekers,
            matched: matches.len(),
            match_rate: ratio(matches.len(), seekers),
            local_share: ratio(local, matches.len()),
            time_to_match_p50: percentile(&ttm, 0.50),
            time_to_match_p95: percentile(&ttm, 0.95),
        }
    }
}

/// Each expert's fair share of `booked` bookings: in proportion to the
/// slots they offered, `booked · c_i / Σc`.
pub fn fair_shares(capacity: &[f64], booked: usize) -> Vec<f64> {
    let total: f64 = capacity.iter().sum();
    capacity
        .iter()
        .map(|&c| {
            if total > 0.0 {
                booked as f64 * c / total
            } else {
                0.0
            }
        })
        .collect()
}

pub(crate) fn ratio(a: usize, b: usize) -> f64 {
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

    #[test]
    fn fair_shares_follow_the_slots_offered() {
        assert_eq!(fair_shares(&[1.0, 3.0, 0.0], 8), vec![2.0, 6.0, 0.0]);
        assert_eq!(fair_shares(&[0.0, 0.0], 5), vec![0.0, 0.0]);
    }
}
