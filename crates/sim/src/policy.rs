//! The slate policies compared, and the sliding-window impression counters the
//! balanced one reads, kept the way production keeps them (buckets of
//! `domain::slate::IMPRESSION_BUCKET`, the last `IMPRESSION_WINDOW_BUCKETS`
//! of them summed).
//!
//! `balanced` calls the real `anxin_domain::slate::choose_balanced_with`;
//! the others are the usual alternatives it must beat.
use anxin_domain::region::Nearness;
use anxin_domain::slate::{
    choose_balanced_with, choose_local_first, BalanceParams, Candidate, Uptake, IMPRESSION_BUCKET,
    IMPRESSION_WINDOW_BUCKETS,
};
use rand::rngs::StdRng;
use rand::seq::index;

/// Experts shown per slate (the hotline's 20).
pub const SLATE_SIZE: usize = 20;
const BUCKET_SECS: i64 = IMPRESSION_BUCKET.num_seconds();
const WINDOW_BUCKETS: usize = IMPRESSION_WINDOW_BUCKETS as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Ours: `domain::slate::choose_balanced_with`, with exposure and
    /// booking feedback.
    Balanced,
    /// The 20 best-rated experts with an open slot: the marketplace default.
    Top20,
    /// 20 experts with an open slot, uniformly at random.
    Random20,
    /// Every expert with an open slot.
    All,
}

impl Policy {
    pub const ALL: [Policy; 4] = [
        Policy::Balanced,
        Policy::Top20,
        Policy::Random20,
        Policy::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Balanced => "balanced",
            Policy::Top20 => "top20",
            Policy::Random20 => "random20",
            Policy::All => "all",
        }
    }
}

/// Chooses which experts a seeker sees. `candidates[i].capacity` is expert
/// `i`'s open slots in the look-ahead window and `.impressions` their
/// impressions in the sliding window; `uptake[i]` their slots offered and
/// booked in the booking window; `by_rating` lists experts best-rated
/// first. Never returns an expert without capacity.
pub fn slate(
    policy: Policy,
    candidates: &[Candidate],
    uptake: &[Uptake],
    by_rating: &[u32],
    params: &BalanceParams,
    rng: &mut StdRng,
    out: &mut Vec<u32>,
) {
    out.clear();
    match policy {
        Policy::Balanced => out.extend(
            choose_balanced_with(candidates, uptake, params, rng)
                .into_iter()
                .map(|i| i as u32),
        ),
        Policy::Top20 => out.extend(
            by_rating
                .iter()
                .copied()
                .filter(|&i| candidates[i as usize].capacity > 0)
                .take(SLATE_SIZE),
        ),
        Policy::Random20 => {
            out.extend(
                candidates
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.capacity > 0)
                    .map(|(i, _)| i as u32),
            );
            if out.len() > SLATE_SIZE {
                let picked: Vec<u32> = index::sample(rng, out.len(), SLATE_SIZE)
                    .into_iter()
                    .map(|k| out[k])
                    .collect();
                *out = picked;
            }
        }
        Policy::All => out.extend(
            candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| c.capacity > 0)
                .map(|(i, _)| i as u32),
        ),
    }
}

/// `balanced` for a seeker whose region is known, filled as production
/// fills it: `anxin_domain::slate::choose_local_first` over every expert,
/// `nearness[i]` being expert `i`'s to this seeker. Production draws a few
/// spare experts per round and keeps the first ones with a slot it can show;
/// here every expert with capacity has one (no priority hold-back), so
/// drawing exactly the places left gives the same slate.
pub fn local_first(
    nearness: &[Nearness],
    candidates: &[Candidate],
    uptake: &[Uptake],
    params: &BalanceParams,
    rng: &mut StdRng,
    out: &mut Vec<u32>,
) {
    out.clear();
    out.extend(
        choose_local_first(candidates, uptake, nearness, params, rng)
            .into_iter()
            .map(|i| i as u32),
    );
}

/// Impressions per expert in the last `WINDOW_BUCKETS` buckets, written into
/// `Candidate::impressions` so `choose_balanced` reads exactly what the API
/// would read from Redis.
#[derive(Debug, Clone)]
pub struct ImpressionWindow {
    /// `counts[expert * WINDOW_BUCKETS + bucket % WINDOW_BUCKETS]`.
    counts: Vec<u32>,
    experts: usize,
    bucket: i64,
}

impl ImpressionWindow {
    pub fn new(experts: usize) -> Self {
        Self {
            counts: vec![0; experts * WINDOW_BUCKETS],
            experts,
            bucket: i64::MIN,
        }
    }

    /// Moves the window to `now`, dropping buckets that fell out of it (as
    /// their Redis keys would expire).
    pub fn advance(&mut self, now: i64, candidates: &mut [Candidate]) {
        let bucket = now.div_euclid(BUCKET_SECS);
        if self.bucket == i64::MIN {
            self.bucket = bucket;
            return;
        }
        let steps = (bucket - self.bucket).clamp(0, WINDOW_BUCKETS as i64);
        for step in 1..=steps {
            let b = (self.bucket + step).rem_euclid(WINDOW_BUCKETS as i64) as usize;
            for (e, c) in candidates.iter_mut().enumerate().take(self.experts) {
                let n = &mut self.counts[e * WINDOW_BUCKETS + b];
                c.impressions -= u64::from(*n);
                *n = 0;
            }
        }
        self.bucket = self.bucket.max(bucket);
    }

    pub fn record(&mut self, expert: u32, candidates: &mut [Candidate]) {
        let b = self.bucket.rem_euclid(WINDOW_BUCKETS as i64) as usize;
        self.counts[expert as usize * WINDOW_BUCKETS + b] += 1;
        candidates[expert as usize].impressions += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anxin_domain::ids::ExpertId;

    #[test]
    fn impressions_leave_the_window_when_it_moves_past_them() {
        let mut c = vec![
            Candidate {
                expert_id: ExpertId::new(),
                capacity: 1,
                impressions: 0,
            };
            2
        ];
        let mut w = ImpressionWindow::new(2);
        w.advance(0, &mut c);
        w.record(0, &mut c);
        w.advance(3 * BUCKET_SECS, &mut c);
        w.record(0, &mut c);
        w.record(1, &mut c);
        assert_eq!((c[0].impressions, c[1].impressions), (2, 1));
        w.advance(WINDOW_BUCKETS as i64 * BUCKET_SECS, &mut c);
        assert_eq!(c[0].impressions, 1, "the first bucket has expired");
        w.advance(100_000, &mut c);
        assert_eq!((c[0].impressions, c[1].impressions), (0, 0));
    }
}
