//! Help now over one peak day: seekers who want to talk now, a roster of
//! experts on duty in shifts, and the service's rule for joining them.
//!
//! The rule, as the service runs it (contract: "Help now and the
//! waitlist"): seekers wait in order of priority group, then arrival.
//! Whenever an expert is free (on duty, in no call, under the daily cap) and
//! someone waits, that expert is rung first — the free one with the fewest
//! help-now calls today, never one already rung for this request. Unanswered
//! after the ring time, or declined, the request goes back to its place and
//! the next free expert is rung: a *rollover*. Once an expert answers, the
//! seeker is dialled and the two are bridged. After the maximum wait the
//! request ends timed out; a seeker may give up sooner (abandon), and one
//! who does is never dialled.
//!
//! Capacity is the calls the roster could hold if every on-duty second were
//! spent in calls: on-duty expert-hours ÷ the mean call length. A day at
//! load 0.8 brings, on average, 0.8 × that many requests, over the hours as
//! the booking market's seekers arrive (`market::HOURLY_ARRIVALS`); the
//! roster follows the same hours in whole shifts, so some hours run a little
//! above the day's load (`Day::peak_hour_load`).
//!
//! Every random draw derives from the seed: the roster and each expert's
//! answer probability from one stream, the requests (arrival, group,
//! patience, call length) from a stream per load, and each ring's outcome
//! from the request and its ring number, so both ring orders meet the same
//! seekers and the same luck.
use crate::market::{arrivals_by_hour, keyed_rng, mix, normal, HOURLY_ARRIVALS};
use crate::metrics::{percentile, ratio};
use anxin_domain::stats::gini;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// Salts of the random streams ("roster", "helpnow" in ASCII).
const ROSTER_STREAM: u64 = 0x726f_7374_6572;
const REQUEST_STREAM: u64 = 0x0068_656c_706e_6f77;
const DAY_SECS: i64 = 24 * 3600;
/// Connected within this many seconds is the service level the targets name.
pub const WITHIN_SECS: i64 = 60;

/// One help-now market: the roster and how people behave, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpNowScenario {
    pub name: &'static str,
    pub summary: &'static str,
    /// The day's shifts; a shift past midnight wraps to the small hours of
    /// the same day (yesterday's late shift).
    pub shifts: Vec<Shift>,
    /// Each shift's experts times this: the same shape, a bigger pool.
    pub roster_scale: u32,
    /// Demand as a share of on-duty capacity, one run per level.
    pub loads: Vec<f64>,
    /// `ANXIN_HELP_NOW_RING_SECONDS`.
    pub ring_secs: i64,
    /// `ANXIN_HELP_NOW_MAX_WAIT_MINUTES`, in seconds.
    pub max_wait_secs: i64,
    /// Help-now calls an expert takes in a day at most (the daily cap).
    pub daily_cap: u32,
    /// Each expert answers a ring with a probability drawn uniformly from
    /// this range, fixed for the day.
    pub answer_probability: (f64, f64),
    /// Seconds from ring to answer: log-normal, this median and σ of the
    /// log; a draw at or past the ring time is a ring unanswered.
    pub answer_median_secs: f64,
    pub answer_sigma: f64,
    /// Of the rings not answered, the share declined at once (after a
    /// log-normal delay of this median, σ 0.5); the rest ring out.
    pub decline_share: f64,
    pub decline_median_secs: f64,
    /// Seconds from dialling the seeker to the bridge: log-normal. A seeker
    /// still waiting answers (they asked to be called now).
    pub seeker_answer_median_secs: f64,
    pub seeker_answer_sigma: f64,
    /// Call length: log-normal, this median (minutes) and σ of the log.
    pub call_median_minutes: f64,
    pub call_sigma: f64,
    /// A seeker's patience is exponential with this mean: past it, they
    /// leave the queue.
    pub patience_mean_secs: f64,
    /// Share of seekers in a priority group (served first).
    pub priority_share: f64,
}

/// `experts` on duty from `start_hour` for `hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    pub start_hour: u32,
    pub hours: u32,
    pub experts: u32,
}

/// Which free expert is rung first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingOrder {
    /// The service's rule: fewest help-now calls today first (ties: roster
    /// order).
    FewestCalls,
    /// A fixed call tree: always roster order. The comparison.
    Fixed,
}

impl RingOrder {
    pub const ALL: [RingOrder; 2] = [RingOrder::FewestCalls, RingOrder::Fixed];

    pub fn name(self) -> &'static str {
        match self {
            RingOrder::FewestCalls => "fewest",
            RingOrder::Fixed => "fixed",
        }
    }
}

const fn shift(start_hour: u32, hours: u32, experts: u32) -> Shift {
    Shift {
        start_hour,
        hours,
        experts,
    }
}

impl HelpNowScenario {
    /// The hotline's volunteers on a peak day: 54 shifts of 4–5 hours, on
    /// duty in proportion to the hour's demand in whole shifts (2 in the
    /// small hours, 22 at 20:00–22:00).
    pub fn hotline() -> Self {
        Self {
            name: "helpnow",
            summary: "the hotline's volunteers in 54 shifts over a peak day",
            shifts: vec![
                shift(23, 4, 2),
                shift(3, 5, 2),
                shift(6, 4, 4),
                shift(8, 4, 4),
                shift(10, 4, 5),
                shift(12, 4, 4),
                shift(14, 4, 4),
                shift(16, 4, 4),
                shift(18, 4, 9),
                shift(19, 4, 7),
                shift(20, 4, 6),
                shift(22, 4, 3),
            ],
            roster_scale: 1,
            loads: vec![0.8, 1.0, 1.2],
            ring_secs: 20,
            max_wait_secs: 15 * 60,
            daily_cap: 8,
            answer_probability: (0.75, 0.95),
            answer_median_secs: 7.0,
            answer_sigma: 0.5,
            decline_share: 0.4,
            decline_median_secs: 4.0,
            seeker_answer_median_secs: 6.0,
            seeker_answer_sigma: 0.4,
            call_median_minutes: 32.0,
            call_sigma: 0.4,
            patience_mean_secs: 10.0 * 60.0,
            priority_share: 0.2,
        }
    }

    /// The same day with four times the roster (8 to 88 on duty at once):
    /// what a national pool changes at the same load.
    pub fn national() -> Self {
        Self {
            name: "helpnow-national",
            summary: "the helpnow roster x4",
            roster_scale: 4,
            ..Self::hotline()
        }
    }

    /// The national platform the programme grows into, at the size
    /// `docs/capacity.md` plans for: 5,000 volunteers, each on duty for
    /// help now about 4 hours a week (5,000 × 4 h ÷ 7 ≈ 2,857 expert-hours
    /// a day), in the hotline's shape: its roster × 13, 26 to 286 on duty
    /// at once.
    pub fn platform() -> Self {
        Self {
            name: "helpnow-platform",
            summary: "5,000 volunteers on duty 4 hours a week each: the helpnow roster x13",
            roster_scale: 13,
            ..Self::hotline()
        }
    }

    /// The `helpnow` day with every ring answered after a second and every
    /// seeker's leg too: the queue's own bound. No ring order or ring time
    /// beats it; only more experts on duty or less load do. Not in
    /// [`Self::all`]: a reference, asked for by name.
    pub fn instant() -> Self {
        Self {
            name: "helpnow-instant",
            summary: "the helpnow roster, every ring and every seeker's leg answered after 1 s",
            answer_probability: (1.0, 1.0),
            answer_median_secs: 1.0,
            answer_sigma: 0.0,
            seeker_answer_median_secs: 1.0,
            seeker_answer_sigma: 0.0,
            ..Self::hotline()
        }
    }

    pub fn all() -> Vec<Self> {
        vec![Self::hotline(), Self::national(), Self::platform()]
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::all()
            .into_iter()
            .chain([Self::instant()])
            .find(|s| s.name == name)
    }

    /// The log-normal call length's mean, in seconds: what capacity divides by.
    pub fn mean_call_secs(&self) -> f64 {
        self.call_median_minutes * 60.0 * (self.call_sigma * self.call_sigma / 2.0).exp()
    }
}

/// One expert on duty.
#[derive(Debug, Clone, PartialEq)]
pub struct OnDuty {
    /// `[from, to)` seconds of the day.
    pub on_duty: Vec<(i64, i64)>,
    pub answer_probability: f64,
}

/// One help-now request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub arrives_at: i64,
    pub priority: bool,
    /// Seconds the seeker will wait before leaving the queue.
    pub patience_secs: i64,
    /// Length of the call, once connected.
    pub call_secs: i64,
    /// Seeds this request's ring outcomes.
    pub key: u64,
}

/// The day drawn for one load.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub load: f64,
    pub experts: Vec<OnDuty>,
    pub requests: Vec<Request>,
    pub on_duty_hours: f64,
    /// The fewest and the most experts on duty at once.
    pub on_duty_range: (f64, f64),
    /// On-duty expert-hours ÷ the mean call length, in calls.
    pub capacity: f64,
    /// The highest of the hours' demand ÷ that hour's capacity.
    pub peak_hour_load: f64,
}

/// Draws the day for `load` from `seed`: the roster is the same at every
/// load, the requests are drawn afresh.
pub fn draw(scenario: &HelpNowScenario, load: f64, seed: u64) -> Day {
    let mut rng = StdRng::seed_from_u64(mix(seed, ROSTER_STREAM));
    let (lo, hi) = scenario.answer_probability;
    let mut experts = Vec::new();
    for s in &scenario.shifts {
        let start = i64::from(s.start_hour) * 3600;
        let end = start + i64::from(s.hours) * 3600;
        // Past midnight: on duty in the small hours too (yesterday's late
        // shift), and on past the day's end so the day's last seekers are
        // served as its first were. Capacity counts only the day.
        let on_duty = if end > DAY_SECS {
            vec![(start - DAY_SECS, end - DAY_SECS), (start, end)]
        } else {
            vec![(start, end)]
        };
        for _ in 0..s.experts * scenario.roster_scale {
            experts.push(OnDuty {
                on_duty: on_duty.clone(),
                answer_probability: lo + (hi - lo) * rng.gen::<f64>(),
            });
        }
    }
    let mut by_hour = [0.0_f64; 24];
    for e in &experts {
        for &(from, to) in &e.on_duty {
            for (h, secs) in by_hour.iter_mut().enumerate() {
                let (a, b) = (h as i64 * 3600, (h as i64 + 1) * 3600);
                *secs += (to.min(b) - from.max(a)).max(0) as f64;
            }
        }
    }
    let on_duty_secs: f64 = by_hour.iter().sum();
    let mean_call = scenario.mean_call_secs();
    let capacity = on_duty_secs / mean_call;
    let profile: f64 = HOURLY_ARRIVALS.iter().sum();
    let peak_hour_load = (0..24)
        .map(|h| load * (HOURLY_ARRIVALS[h] / profile) / (by_hour[h] / on_duty_secs))
        .fold(0.0, f64::max);

    let mut rng = StdRng::seed_from_u64(mix(seed, REQUEST_STREAM + (load * 1000.0) as u64));
    let mut requests = Vec::new();
    let median_call = scenario.call_median_minutes * 60.0;
    arrivals_by_hour(load * capacity, DAY_SECS, &mut rng, |at, rng| {
        let priority = rng.gen::<f64>() < scenario.priority_share;
        let patience = -(1.0 - rng.gen::<f64>()).ln() * scenario.patience_mean_secs;
        let call = median_call * (scenario.call_sigma * normal(rng)).exp();
        requests.push(Request {
            arrives_at: at,
            priority,
            patience_secs: patience.round() as i64,
            call_secs: call.clamp(180.0, 3.0 * 3600.0).round() as i64,
            key: rng.gen(),
        });
    });
    Day {
        load,
        experts,
        requests,
        on_duty_hours: on_duty_secs / 3600.0,
        on_duty_range: by_hour
            .iter()
            .fold((f64::INFINITY, 0.0), |(lo, hi), &secs| {
                (lo.min(secs / 3600.0), hi.max(secs / 3600.0))
            }),
        capacity,
        peak_hour_load,
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Bridged with an expert this many seconds after the request.
    Connected { expert: u32, after: i64 },
    /// The seeker left the queue.
    Abandoned,
    /// Unmatched after the maximum wait.
    TimedOut,
}

/// What happened to each request under one ring order.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub order: RingOrder,
    /// By request: how it ended (`None`: still open at the end of the
    /// simulation, which cannot happen: every request times out).
    pub endings: Vec<Option<Ending>>,
    /// By request: the experts rung for it, in order.
    pub rung: Vec<Vec<u32>>,
    /// Help-now calls per expert.
    pub calls: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrives(u32),
    /// Patience is exhausted.
    GivesUp(u32),
    MaxWait(u32),
    /// The ring of `expert` for the request ends: answered or not.
    RingEnds {
        request: u32,
        expert: u32,
        answered: bool,
    },
    /// The seeker answers: bridged.
    Bridged {
        request: u32,
        expert: u32,
    },
    CallEnds(u32),
    OnDuty(u32),
    OffDuty(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Ringing(u32),
    Dialling,
    Done,
}

struct Run<'a> {
    day: &'a Day,
    scenario: &'a HelpNowScenario,
    order: RingOrder,
    seed: u64,
    queue: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    /// Waiting, not ringing: (priority group first, arrival, request).
    waiting: BTreeSet<(bool, i64, u32)>,
    state: Vec<State>,
    on_duty: Vec<bool>,
    /// Ringing, dialling a seeker or in a call.
    busy: Vec<bool>,
    out: Outcome,
}

/// Runs one day under `order`. Deterministic in (`day`, `order`, `seed`).
pub fn run(day: &Day, scenario: &HelpNowScenario, order: RingOrder, seed: u64) -> Outcome {
    let (experts, requests) = (day.experts.len(), day.requests.len());
    let mut run = Run {
        day,
        scenario,
        order,
        seed,
        queue: BinaryHeap::new(),
        seq: 0,
        waiting: BTreeSet::new(),
        state: vec![State::Waiting; requests],
        on_duty: vec![false; experts],
        busy: vec![false; experts],
        out: Outcome {
            order,
            endings: vec![None; requests],
            rung: vec![Vec::new(); requests],
            calls: vec![0; experts],
        },
    };
    for (i, e) in day.experts.iter().enumerate() {
        for &(from, to) in &e.on_duty {
            run.schedule(from, Event::OnDuty(i as u32));
            run.schedule(to, Event::OffDuty(i as u32));
        }
    }
    for (i, r) in day.requests.iter().enumerate() {
        let i = i as u32;
        run.schedule(r.arrives_at, Event::Arrives(i));
        run.schedule(r.arrives_at + r.patience_secs, Event::GivesUp(i));
        run.schedule(r.arrives_at + scenario.max_wait_secs, Event::MaxWait(i));
    }
    while let Some(Reverse((now, _, event))) = run.queue.pop() {
        run.handle(now, event);
        run.ring_free_experts(now);
    }
    run.out
}

impl Run<'_> {
    fn schedule(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, event)));
    }

    fn queued(&self, request: u32) -> (bool, i64, u32) {
        let r = &self.day.requests[request as usize];
        (!r.priority, r.arrives_at, request)
    }

    fn handle(&mut self, now: i64, event: Event) {
        match event {
            Event::Arrives(r) => {
                self.waiting.insert(self.queued(r));
            }
            Event::GivesUp(r) => self.end_unmatched(r, Ending::Abandoned),
            Event::MaxWait(r) => self.end_unmatched(r, Ending::TimedOut),
            Event::RingEnds {
                request,
                expert,
                answered,
            } => {
                // A ring the seeker's leaving already cancelled.
                if self.state[request as usize] != State::Ringing(expert) {
                    return;
                }
                if answered {
                    self.state[request as usize] = State::Dialling;
                    let s = self.scenario;
                    let mut rng = self.ring_rng(request, u64::MAX);
                    let delay = s.seeker_answer_median_secs
                        * (s.seeker_answer_sigma * normal(&mut rng)).exp();
                    self.schedule(
                        now + delay.round().clamp(1.0, 60.0) as i64,
                        Event::Bridged { request, expert },
                    );
                } else {
                    self.busy[expert as usize] = false;
                    self.state[request as usize] = State::Waiting;
                    self.waiting.insert(self.queued(request));
                }
            }
            Event::Bridged { request, expert } => {
                let r = &self.day.requests[request as usize];
                self.state[request as usize] = State::Done;
                self.out.endings[request as usize] = Some(Ending::Connected {
                    expert,
                    after: now - r.arrives_at,
                });
                self.out.calls[expert as usize] += 1;
                self.schedule(now + r.call_secs, Event::CallEnds(expert));
            }
            Event::CallEnds(e) => self.busy[e as usize] = false,
            Event::OnDuty(e) => self.on_duty[e as usize] = true,
            Event::OffDuty(e) => self.on_duty[e as usize] = false,
        }
    }

    /// The seeker leaves or the wait runs out: only a request not yet
    /// answered by an expert ends so; a ringing expert's leg is cancelled.
    fn end_unmatched(&mut self, request: u32, ending: Ending) {
        let i = request as usize;
        match self.state[i] {
            State::Waiting => {
                self.waiting.remove(&self.queued(request));
            }
            State::Ringing(expert) => self.busy[expert as usize] = false,
            State::Dialling | State::Done => return,
        }
        self.state[i] = State::Done;
        self.out.endings[i] = Some(ending);
    }

    fn free(&self, expert: usize) -> bool {
        self.on_duty[expert]
            && !self.busy[expert]
            && self.out.calls[expert] < self.scenario.daily_cap
    }

    /// Rings a free expert for every waiting request, in queue order, as
    /// long as any free expert remains whom that request has not rung.
    fn ring_free_experts(&mut self, now: i64) {
        if self.waiting.is_empty() {
            return;
        }
        let mut free: Vec<u32> = (0..self.day.experts.len())
            .filter(|&e| self.free(e))
            .map(|e| e as u32)
            .collect();
        if free.is_empty() {
            return;
        }
        // Roster order already; the service's rule re-sorts by calls today.
        if self.order == RingOrder::FewestCalls {
            free.sort_by_key(|&e| self.out.calls[e as usize]);
        }
        let waiting: Vec<u32> = self.waiting.iter().map(|&(_, _, r)| r).collect();
        for request in waiting {
            if free.is_empty() {
                break;
            }
            let rung = &self.out.rung[request as usize];
            let Some(k) = free.iter().position(|e| !rung.contains(e)) else {
                continue;
            };
            let expert = free.remove(k);
            self.ring(now, request, expert);
        }
    }

    fn ring(&mut self, now: i64, request: u32, expert: u32) {
        self.waiting.remove(&self.queued(request));
        self.state[request as usize] = State::Ringing(expert);
        self.busy[expert as usize] = true;
        let ring_no = self.out.rung[request as usize].len() as u64;
        self.out.rung[request as usize].push(expert);
        let s = self.scenario;
        let p = self.day.experts[expert as usize].answer_probability;
        let mut rng = self.ring_rng(request, ring_no);
        let (answered, after) = if rng.gen::<f64>() < p {
            let delay = s.answer_median_secs * (s.answer_sigma * normal(&mut rng)).exp();
            let delay = delay.round().max(1.0) as i64;
            (delay < s.ring_secs, delay.min(s.ring_secs))
        } else if rng.gen::<f64>() < s.decline_share {
            let delay = s.decline_median_secs * (0.5 * normal(&mut rng)).exp();
            (false, (delay.round() as i64).clamp(1, s.ring_secs))
        } else {
            (false, s.ring_secs)
        };
        self.schedule(
            now + after,
            Event::RingEnds {
                request,
                expert,
                answered,
            },
        );
    }

    /// The luck of one ring (or, with `u64::MAX`, of dialling the seeker):
    /// the same under either ring order.
    fn ring_rng(&self, request: u32, ring_no: u64) -> StdRng {
        keyed_rng(self.seed, self.day.requests[request as usize].key, ring_no)
    }
}

/// The figures one run is judged by.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpNowReport {
    pub load: f64,
    pub order: RingOrder,
    pub experts: usize,
    pub on_duty_hours: f64,
    pub on_duty_range: (f64, f64),
    pub capacity: f64,
    pub peak_hour_load: f64,
    pub requests: usize,
    pub connected: usize,
    /// Connected within `WITHIN_SECS` ÷ requests.
    pub within_minute: f64,
    /// The same for priority-group requests.
    pub priority_within_minute: f64,
    /// Seconds from request to bridge, over connected requests.
    pub wait_p50: i64,
    pub wait_p95: i64,
    /// Seekers who left the queue ÷ requests.
    pub abandoned: f64,
    /// Requests unmatched at the maximum wait ÷ requests.
    pub timed_out: f64,
    /// Rings after a request's first ÷ requests.
    pub rollovers_per_request: f64,
    /// Gini of help-now calls across the day's on-duty experts.
    pub calls_gini: f64,
    /// By local hour of arrival: requests, and those connected within
    /// `WITHIN_SECS`; where in the day the misses fall.
    pub requests_by_hour: [u32; 24],
    pub within_minute_by_hour: [u32; 24],
}

impl HelpNowReport {
    pub fn of(day: &Day, o: &Outcome) -> Self {
        let connected_after = |priority_only: bool| -> Vec<i64> {
            let mut v: Vec<i64> = o
                .endings
                .iter()
                .zip(&day.requests)
                .filter(|(_, r)| !priority_only || r.priority)
                .filter_map(|(e, _)| match e {
                    Some(Ending::Connected { after, .. }) => Some(*after),
                    _ => None,
                })
                .collect();
            v.sort_unstable();
            v
        };
        let waits = connected_after(false);
        let priority_waits = connected_after(true);
        let count = |ending: Ending| o.endings.iter().filter(|e| **e == Some(ending)).count();
        let within = |v: &[i64]| v.iter().filter(|&&w| w <= WITHIN_SECS).count();
        let requests = day.requests.len();
        let priority = day.requests.iter().filter(|r| r.priority).count();
        let rollovers: usize = o.rung.iter().map(|r| r.len().saturating_sub(1)).sum();
        let calls: Vec<f64> = o.calls.iter().map(|&c| f64::from(c)).collect();
        let mut requests_by_hour = [0; 24];
        let mut within_minute_by_hour = [0; 24];
        for (ending, r) in o.endings.iter().zip(&day.requests) {
            let hour = (r.arrives_at / 3600 % 24) as usize;
            requests_by_hour[hour] += 1;
            if matches!(ending, Some(Ending::Connected { after, .. }) if *after <= WITHIN_SECS) {
                within_minute_by_hour[hour] += 1;
            }
        }
        Self {
            load: day.load,
            order: o.order,
            experts: day.experts.len(),
            on_duty_hours: day.on_duty_hours,
            on_duty_range: day.on_duty_range,
            capacity: day.capacity,
            peak_hour_load: day.peak_hour_load,
            requests,
            connected: waits.len(),
            within_minute: ratio(within(&waits), requests),
            priority_within_minute: ratio(within(&priority_waits), priority),
            wait_p50: percentile(&waits, 0.50),
            wait_p95: percentile(&waits, 0.95),
            abandoned: ratio(count(Ending::Abandoned), requests),
            timed_out: ratio(count(Ending::TimedOut), requests),
            rollovers_per_request: ratio(rollovers, requests),
            calls_gini: gini(&calls).unwrap_or(0.0),
            requests_by_hour,
            within_minute_by_hour,
        }
    }
}

/// Every load level of `scenario` under both ring orders, on one seed: load
/// by load, `RingOrder::ALL` within each.
pub fn run_all(scenario: &HelpNowScenario, seed: u64) -> Vec<HelpNowReport> {
    scenario
        .loads
        .iter()
        .flat_map(|&load| {
            let day = draw(scenario, load, seed);
            RingOrder::ALL
                .iter()
                .map(|&order| HelpNowReport::of(&day, &run(&day, scenario, order, seed)))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_reproduces_the_day_exactly() {
        let s = HelpNowScenario::hotline();
        let day = draw(&s, 1.0, 7);
        assert_eq!(day, draw(&s, 1.0, 7));
        let a = run(&day, &s, RingOrder::FewestCalls, 7);
        assert_eq!(a, run(&day, &s, RingOrder::FewestCalls, 7));
        assert!(a.endings.iter().all(Option::is_some), "every request ends");
        assert_eq!(run_all(&s, 7), run_all(&s, 7));
        assert_ne!(day.requests, draw(&s, 1.0, 8).requests);
    }

    #[test]
    fn capacity_is_on_duty_hours_over_the_mean_call() {
        let s = HelpNowScenario::hotline();
        let day = draw(&s, 0.8, 1);
        let hours: u32 = s.shifts.iter().map(|x| x.hours * x.experts).sum();
        assert_eq!(day.on_duty_hours, f64::from(hours));
        assert_eq!(day.on_duty_range, (2.0, 22.0));
        assert_eq!(day.experts.len(), 54);
        let calls = day.on_duty_hours * 3600.0 / s.mean_call_secs();
        assert!((day.capacity - calls).abs() < 1e-9);
        // Poisson: 0.8 × capacity, give or take a few standard deviations.
        let expected = 0.8 * day.capacity;
        let n = day.requests.len() as f64;
        assert!(
            (n - expected).abs() < 4.0 * expected.sqrt(),
            "{n} vs {expected}"
        );
        assert_eq!(
            draw(&HelpNowScenario::national(), 0.8, 1).experts.len(),
            216
        );
    }

    #[test]
    fn at_a_trivially_low_load_everyone_connects_within_ring_time() {
        let s = HelpNowScenario {
            loads: vec![0.02],
            answer_probability: (1.0, 1.0),
            ..HelpNowScenario::hotline()
        };
        let day = draw(&s, 0.02, 3);
        assert!(day.requests.len() >= 3);
        let o = run(&day, &s, RingOrder::FewestCalls, 3);
        for (ending, rung) in o.endings.iter().zip(&o.rung) {
            let Some(Ending::Connected { after, .. }) = ending else {
                panic!("not connected: {ending:?}");
            };
            // One ring, answered within it, then the seeker's leg: within
            // the minute the targets name.
            assert_eq!(rung.len(), 1);
            assert!(*after <= WITHIN_SECS, "{after}s");
        }
        let r = HelpNowReport::of(&day, &o);
        assert_eq!(r.within_minute_by_hour, r.requests_by_hour);
        assert_eq!(
            (r.abandoned, r.timed_out, r.rollovers_per_request),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn answered_at_once_no_request_rolls_over_and_the_rule_only_waits_for_a_free_expert() {
        let s = HelpNowScenario::instant();
        let day = draw(&s, 0.8, 3);
        let o = run(&day, &s, RingOrder::FewestCalls, 3);
        for (rung, ending) in o.rung.iter().zip(&o.endings) {
            assert!(rung.len() <= 1, "rung {rung:?}");
            if let (Some(Ending::Connected { expert, .. }), [first]) = (ending, rung.as_slice()) {
                assert_eq!(expert, first);
            }
        }
        // Every request connected was rung the second an expert was free:
        // ring and dial take 2 s.
        let quick = o
            .endings
            .iter()
            .zip(&day.requests)
            .filter(|(e, _)| matches!(e, Some(Ending::Connected { after: 2, .. })))
            .count();
        assert!(
            quick > day.requests.len() / 2,
            "{quick} of {}",
            day.requests.len()
        );
    }

    #[test]
    fn a_rollover_never_rings_the_same_expert_twice_for_one_request() {
        // Experts who rarely answer: many rollovers, and many requests that
        // run out of experts to ring.
        let s = HelpNowScenario {
            answer_probability: (0.1, 0.3),
            ..HelpNowScenario::hotline()
        };
        for order in RingOrder::ALL {
            let day = draw(&s, 1.2, 5);
            let o = run(&day, &s, order, 5);
            let mut rollovers = 0;
            for rung in &o.rung {
                let mut distinct = rung.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(distinct.len(), rung.len(), "{rung:?}");
                rollovers += rung.len().saturating_sub(1);
            }
            assert!(rollovers > day.requests.len(), "{rollovers} rollovers");
            // Whoever was bridged was the last one rung.
            for (ending, rung) in o.endings.iter().zip(&o.rung) {
                if let Some(Ending::Connected { expert, .. }) = ending {
                    assert_eq!(rung.last(), Some(expert));
                }
            }
        }
    }

    #[test]
    fn fewest_calls_first_spreads_calls_more_evenly_than_a_fixed_order() {
        let s = HelpNowScenario::hotline();
        for load in [0.5, 0.8] {
            let day = draw(&s, load, 11);
            let fewest = HelpNowReport::of(&day, &run(&day, &s, RingOrder::FewestCalls, 11));
            let fixed = HelpNowReport::of(&day, &run(&day, &s, RingOrder::Fixed, 11));
            assert!(
                fewest.calls_gini < fixed.calls_gini,
                "load {load}: Gini fewest {:.3} vs fixed {:.3}",
                fewest.calls_gini,
                fixed.calls_gini
            );
        }
    }

    /// Issue 32's targets at 80 % load: met by a pool of the national
    /// platform's size, and out of the hotline's reach (Erlang C: with 2–22
    /// on duty at 80 % occupancy, a quarter or more find nobody free).
    #[test]
    fn at_eighty_percent_load_the_platforms_pool_connects_in_a_minute_and_the_hotlines_cannot() {
        let platform = HelpNowScenario::platform();
        let day = draw(&platform, 0.8, 1);
        assert_eq!(day.on_duty_range, (26.0, 286.0));
        let r = HelpNowReport::of(&day, &run(&day, &platform, RingOrder::FewestCalls, 1));
        assert!(
            r.within_minute >= 0.95,
            "within 60 s: {:.3}",
            r.within_minute
        );
        assert!(r.abandoned < 0.05, "abandoned: {:.3}", r.abandoned);

        let hotline = HelpNowScenario::hotline();
        let day = draw(&hotline, 0.8, 1);
        let r = HelpNowReport::of(&day, &run(&day, &hotline, RingOrder::FewestCalls, 1));
        assert!(r.within_minute < 0.9, "within 60 s: {:.3}", r.within_minute);
    }

    #[test]
    fn seekers_wait_by_priority_group_first() {
        let s = HelpNowScenario::hotline();
        let day = draw(&s, 1.2, 2);
        let r = HelpNowReport::of(&day, &run(&day, &s, RingOrder::FewestCalls, 2));
        assert!(
            r.priority_within_minute > r.within_minute,
            "priority {:.3} vs all {:.3}",
            r.priority_within_minute,
            r.within_minute
        );
    }
}
