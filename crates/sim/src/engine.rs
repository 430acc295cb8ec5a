//! The discrete-event engine: one policy over one market.
//!
//! Two kinds of event drive it. A *view*: a seeker asks for a slate, which
//! the policy builds from the market as it is at that instant (open capacity,
//! impressions in the sliding window), and chooses a slot from it. A *pick*,
//! some seconds or minutes later: the seeker tries to take that slot — the
//! hold that in production is one atomic Redis script. If someone else took
//! it in between, that is a *collision*; the seeker asks for a fresh slate,
//! or gives up.
//!
//! A successful pick books the slot at once: the sim has no payment step, and
//! a confirmed hold cannot be lost, so nothing downstream changes who gets
//! which slot.
//!
//! The engine keeps every input of the balanced draw as production keeps
//! it: capacity by band, impressions in the sliding window, and each
//! expert's `Uptake` (slots offered and booked over the booking window).
use crate::market::{keyed_rng, mix, normal, Market, LEAD_SECS};
use crate::policy::{self, ImpressionWindow, Policy};
use crate::scenario::{SeekerModel, Taste};
use anxin_domain::region::Nearness;
use anxin_domain::slate::{
    BalanceParams, Candidate, Uptake, BOOKING_WINDOW, CAPACITY_BANDS, CAPACITY_LOOKAHEAD,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Open slots of one expert a slate shows (the API's "next few").
pub const SLOTS_SHOWN: usize = 3;

/// Salts that keep the random streams apart ("slate", "leave" in ASCII); a
/// seeker's choice streams use the attempt number, far below both.
const SLATE_STREAM: u64 = 0x0073_6c61_7465;
const LEAVE_STREAM: u64 = 0x006c_6561_7665;

/// What happened under one policy: raw counts, turned into rates by
/// `metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub policy: Policy,
    pub seekers: usize,
    pub matched: usize,
    /// Every booking, in the order made: one per matched seeker.
    pub matches: Vec<Match>,
    pub picks: usize,
    pub collisions: usize,
    /// Seekers who left because the slate showed nothing within their patience.
    pub left_nothing_suitable: usize,
    /// Seekers who left after a collision.
    pub left_after_collisions: usize,
    /// Times each expert was shown.
    pub impressions: Vec<u64>,
    /// Bookings per expert.
    pub bookings: Vec<u32>,
    /// Booked slots starting within the period, for utilization.
    pub booked_in_period: usize,
    pub slots_in_period: usize,
}

/// A seeker's booking: with whom, and how long after arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub seeker: u32,
    pub expert: u32,
    /// Seconds from arrival to the successful pick.
    pub after: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    View {
        seeker: u32,
        attempt: u32,
    },
    Pick {
        seeker: u32,
        attempt: u32,
        slot: u32,
    },
}

/// One shown slot a seeker might take.
#[derive(Debug, Clone, Copy)]
struct Choice {
    slot: u32,
    starts_at: i64,
    rating: f64,
}

struct Run<'a> {
    market: &'a Market,
    model: &'a SeekerModel,
    policy: Policy,
    params: BalanceParams,
    seed: u64,
    slate_rng: StdRng,
    now: i64,
    /// Kept for the whole run, as production keeps them in Redis:
    /// `capacity` follows the capacity events and bookings, `impressions`
    /// the sliding window. Every policy reads `capacity > 0` as "has an
    /// open slot in the look-ahead"; only `balanced` reads the values.
    candidates: Vec<Candidate>,
    window: ImpressionWindow,
    /// Per expert, what production reads for the booking correction: open
    /// slots by band (cumulative), and the slots offered and booked among
    /// those starting within the booking window.
    uptake: Vec<Uptake>,
    /// Slots counted in `uptake[..].offered` now.
    in_window: Vec<bool>,
    /// (when, slot, enters): a slot's start comes within the look-ahead
    /// (enters the booking window) or falls `BOOKING_WINDOW` behind (leaves).
    window_events: Vec<(i64, u32, bool)>,
    next_window_event: usize,
    by_rating: Vec<u32>,
    /// Under `balanced`, for each region seekers come from: how near each
    /// expert is to its seekers (see `policy::local_first`).
    tiers: Vec<(&'static str, Vec<Nearness>)>,
    booked: Vec<bool>,
    /// What each slot currently adds to its expert's capacity.
    counted: Vec<u32>,
    next_capacity_event: usize,
    /// Per expert: first of their slots starting at or after `now + LEAD`.
    cursor: Vec<usize>,
    collisions_of: Vec<u32>,
    queue: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    shown: Vec<u32>,
    options: Vec<Choice>,
    out: Outcome,
}

/// Runs `policy` over `market`. Deterministic in (`market`, `policy`, `seed`).
pub fn run(market: &Market, model: &SeekerModel, policy: Policy, seed: u64) -> Outcome {
    let n = market.experts.len();
    let mut by_rating: Vec<u32> = (0..n as u32).collect();
    // Best first; ties by index so the order is fixed.
    by_rating.sort_by(|&a, &b| {
        market.experts[b as usize]
            .rating
            .total_cmp(&market.experts[a as usize].rating)
            .then(a.cmp(&b))
    });
    let mut window_events: Vec<(i64, u32, bool)> = market
        .slots
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            [
                (
                    s.starts_at - CAPACITY_LOOKAHEAD.num_seconds(),
                    i as u32,
                    true,
                ),
                (s.starts_at + BOOKING_WINDOW.num_seconds(), i as u32, false),
            ]
        })
        .collect();
    window_events.sort_unstable();
    let tiers = if policy == Policy::Balanced {
        tiers_by_region(market)
    } else {
        Vec::new()
    };
    let mut run = Run {
        market,
        model,
        policy,
        params: BalanceParams {
            size: policy::SLATE_SIZE,
            ..BalanceParams::default()
        },
        seed,
        slate_rng: StdRng::seed_from_u64(mix(seed, SLATE_STREAM + policy as u64)),
        now: i64::MIN,
        candidates: market
            .experts
            .iter()
            .map(|e| Candidate {
                expert_id: e.id,
                capacity: 0,
                impressions: 0,
            })
            .collect(),
        window: ImpressionWindow::new(n),
        uptake: vec![Uptake::default(); n],
        in_window: vec![false; market.slots.len()],
        window_events,
        next_window_event: 0,
        by_rating,
        tiers,
        booked: vec![false; market.slots.len()],
        counted: vec![0; market.slots.len()],
        next_capacity_event: 0,
        cursor: market.experts.iter().map(|e| e.slots.start).collect(),
        collisions_of: vec![0; market.seekers.len()],
        queue: BinaryHeap::with_capacity(market.seekers.len()),
        seq: 0,
        shown: Vec::new(),
        options: Vec::new(),
        out: Outcome {
            policy,
            seekers: market.seekers.len(),
            matched: 0,
            matches: Vec::new(),
            picks: 0,
            collisions: 0,
            left_nothing_suitable: 0,
            left_after_collisions: 0,
            impressions: vec![0; n],
            bookings: vec![0; n],
            booked_in_period: 0,
            slots_in_period: market.slots_in_period,
        },
    };
    for (i, s) in market.seekers.iter().enumerate() {
        run.schedule(
            s.arrives_at,
            Event::View {
                seeker: i as u32,
                attempt: 0,
            },
        );
    }
    while let Some(Reverse((at, _, event))) = run.queue.pop() {
        run.advance(at);
        match event {
            Event::View { seeker, attempt } => run.view(seeker, attempt),
            Event::Pick {
                seeker,
                attempt,
                slot,
            } => run.pick(seeker, attempt, slot),
        }
    }
    run.out
}

impl Run<'_> {
    fn schedule(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, event)));
    }

    /// Brings capacity and impression counts to time `now`.
    fn advance(&mut self, now: i64) {
        self.now = now;
        let events = &self.market.capacity_events;
        while let Some(e) = events.get(self.next_capacity_event) {
            if e.at > now {
                break;
            }
            let slot = e.slot as usize;
            if !self.booked[slot] {
                let expert = self.market.slots[slot].expert as usize;
                let c = &mut self.candidates[expert].capacity;
                *c = *c - self.counted[slot] + e.weight;
                move_band(
                    &mut self.uptake[expert].open_by_band,
                    self.counted[slot],
                    e.weight,
                );
                self.counted[slot] = e.weight;
            }
            self.next_capacity_event += 1;
        }
        while let Some(&(at, slot, enters)) = self.window_events.get(self.next_window_event) {
            if at > now {
                break;
            }
            let slot = slot as usize;
            let u = &mut self.uptake[self.market.slots[slot].expert as usize];
            let booked = u32::from(self.booked[slot]);
            if enters {
                u.offered += 1;
                u.booked += booked;
            } else {
                u.offered -= 1;
                u.booked -= booked;
            }
            self.in_window[slot] = enters;
            self.next_window_event += 1;
        }
        self.window.advance(now, &mut self.candidates);
    }

    fn view(&mut self, seeker: u32, attempt: u32) {
        let s = self.market.seekers[seeker as usize];
        let mut shown = std::mem::take(&mut self.shown);
        // Only `balanced` has tiers: the other policies stay national.
        let tiers = self
            .tiers
            .iter()
            .find(|(code, _)| s.region == Some(*code))
            .map(|(_, tiers)| tiers);
        match tiers {
            Some(tiers) => policy::local_first(
                tiers,
                &self.candidates,
                &self.uptake,
                &self.params,
                &mut self.slate_rng,
                &mut shown,
            ),
            None => policy::slate(
                self.policy,
                &self.candidates,
                &self.uptake,
                &self.by_rating,
                &self.params,
                &mut self.slate_rng,
                &mut shown,
            ),
        }
        let window_end = self.now + CAPACITY_LOOKAHEAD.num_seconds();
        let acceptable_until = self.now + s.patience_secs;
        self.options.clear();
        let market = self.market;
        for &e in &shown {
            self.window.record(e, &mut self.candidates);
            self.out.impressions[e as usize] += 1;
            let expert = &market.experts[e as usize];
            let mut listed = 0;
            for j in self.seek_cursor(e)..expert.slots.end {
                let starts_at = market.slots[j].starts_at;
                if listed == SLOTS_SHOWN || starts_at > window_end {
                    break;
                }
                if self.booked[j] {
                    continue;
                }
                listed += 1;
                if starts_at <= acceptable_until {
                    self.options.push(Choice {
                        slot: j as u32,
                        starts_at,
                        rating: expert.rating,
                    });
                }
            }
        }
        self.shown = shown;

        // The seeker's own randomness, the same under every policy.
        let mut rng = self.seeker_rng(seeker, u64::from(attempt));
        let Some(slot) = choose(s.taste, self.now, &self.options, &mut rng) else {
            self.out.left_nothing_suitable += 1;
            return;
        };
        let median = self.model.decide_median_secs
            * if attempt > 0 {
                self.model.retry_speedup
            } else {
                1.0
            };
        let think = (median * (self.model.decide_sigma * normal(&mut rng)).exp()).round() as i64;
        self.schedule(
            self.now + think.clamp(5, 1_800),
            Event::Pick {
                seeker,
                attempt,
                slot,
            },
        );
    }

    fn seeker_rng(&self, seeker: u32, salt: u64) -> StdRng {
        keyed_rng(self.seed, self.market.seekers[seeker as usize].key, salt)
    }

    /// Moves the expert's cursor past slots starting too soon to book and
    /// returns it: slots only ever leave the front as time moves on.
    fn seek_cursor(&mut self, expert: u32) -> usize {
        let e = expert as usize;
        let end = self.market.experts[e].slots.end;
        let soonest = self.now + LEAD_SECS;
        let mut i = self.cursor[e];
        while i < end && self.market.slots[i].starts_at < soonest {
            i += 1;
        }
        self.cursor[e] = i;
        i
    }

    fn pick(&mut self, seeker: u32, attempt: u32, slot: u32) {
        self.out.picks += 1;
        let slot = slot as usize;
        let s = self.market.slots[slot];
        if self.booked[slot] || s.starts_at < self.now {
            self.out.collisions += 1;
            self.collisions_of[seeker as usize] += 1;
            let mut rng = self.seeker_rng(seeker, LEAVE_STREAM + u64::from(attempt));
            if self.collisions_of[seeker as usize] >= self.model.max_collisions
                || rng.gen::<f64>() < self.model.leave_after_collision
            {
                self.out.left_after_collisions += 1;
            } else {
                self.schedule(
                    self.now + self.model.retry_delay_secs,
                    Event::View {
                        seeker,
                        attempt: attempt + 1,
                    },
                );
            }
            return;
        }
        self.booked[slot] = true;
        let expert = s.expert as usize;
        if self.in_window[slot] {
            self.uptake[expert].booked += 1;
        }
        self.candidates[expert].capacity -= self.counted[slot];
        move_band(&mut self.uptake[expert].open_by_band, self.counted[slot], 0);
        self.counted[slot] = 0;
        self.out.bookings[s.expert as usize] += 1;
        if s.starts_at < self.market.period {
            self.out.booked_in_period += 1;
        }
        self.out.matched += 1;
        let arrived = self.market.seekers[seeker as usize].arrives_at;
        self.out.matches.push(Match {
            seeker,
            expert: s.expert,
            after: self.now - arrived,
        });
    }
}

/// For each region a seeker comes from, how near every expert is
/// (`Regions::nearness`, as production ranks them).
fn tiers_by_region(market: &Market) -> Vec<(&'static str, Vec<Nearness>)> {
    let regions = crate::region::regions();
    let mut codes: Vec<&'static str> = market.seekers.iter().filter_map(|s| s.region).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
        .into_iter()
        .map(|code| {
            let home = regions.get(code);
            let nearness = market
                .experts
                .iter()
                .map(|e| regions.nearness(home, e.region.unwrap_or_default()))
                .collect();
            (code, nearness)
        })
        .collect()
}

/// The seeker's pick among `options` under their taste; `None` if there is
/// nothing to pick.
fn choose(taste: Taste, now: i64, options: &[Choice], rng: &mut StdRng) -> Option<u32> {
    match taste {
        Taste::Earliest { rating_noise } => {
            let soonest = options.iter().map(|o| o.starts_at).min()?;
            // Opinions are drawn only for the tied slots: cheap even when
            // the `all` policy shows thousands of experts.
            options
                .iter()
                .filter(|o| o.starts_at == soonest)
                .map(|o| (o.rating + rating_noise * normal(rng), o.slot))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, slot)| slot)
        }
        Taste::Popular {
            rating_weight,
            hours_per_unit,
        } => {
            let utility = |o: &Choice| {
                rating_weight * (o.rating - 4.0)
                    - (o.starts_at - now) as f64 / 3600.0 / hours_per_unit
            };
            choose_logit(options, utility, rng)
        }
    }
}

/// Multinomial logit: picks option `i` with probability ∝ `exp(utility_i)`,
/// which is what a seeker maximising utility plus Gumbel noise does.
fn choose_logit(
    options: &[Choice],
    utility: impl Fn(&Choice) -> f64,
    rng: &mut StdRng,
) -> Option<u32> {
    if options.is_empty() {
        return None;
    }
    let max = options
        .iter()
        .map(&utility)
        .fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = options.iter().map(|o| (utility(o) - max).exp()).sum();
    let mut x = rng.gen::<f64>() * total;
    for o in options {
        x -= (utility(o) - max).exp();
        if x < 0.0 {
            return Some(o.slot);
        }
    }
    options.last().map(|o| o.slot)
}

/// Moves one open slot from the band worth `from` to the band worth `to`
/// (0: none, not open or beyond the look-ahead) in cumulative per-band
/// counts, where a slot counts in its own band and every wider one.
fn move_band(open_by_band: &mut [u32; CAPACITY_BANDS.len()], from: u32, to: u32) {
    let band = |weight: u32| {
        CAPACITY_BANDS
            .iter()
            .position(|b| weight > 0 && b.weight == weight)
            .unwrap_or(CAPACITY_BANDS.len())
    };
    let (from, to) = (band(from), band(to));
    for count in &mut open_by_band[to.min(from)..to.max(from)] {
        if to < from {
            *count += 1;
        } else {
            *count -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anxin_domain::slate::capacity_from_counts;

    #[test]
    fn band_counts_follow_a_slot_in_and_out_and_match_its_capacity() {
        let mut open = [0; CAPACITY_BANDS.len()];
        move_band(&mut open, 0, 1);
        assert_eq!(open, [0, 0, 0, 1]);
        move_band(&mut open, 1, 2);
        move_band(&mut open, 2, 4);
        assert_eq!(open, [0, 1, 1, 1]);
        assert_eq!(capacity_from_counts(open), 4);
        move_band(&mut open, 4, 8);
        assert_eq!((open, capacity_from_counts(open)), ([1, 1, 1, 1], 8));
        move_band(&mut open, 8, 0);
        assert_eq!(open, [0; 4]);
    }
}
