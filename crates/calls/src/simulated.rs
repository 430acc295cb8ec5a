//! The simulated provider, for the demo and the dashboard only: it dials no
//! one, but walks through the same steps a real call does, with outcomes
//! drawn at configurable rates and durations drawn from configurable ranges.
//! Every report it makes is marked `simulated`, and the worker marks the
//! attempt rows and call events it records from it. The binary refuses it in
//! production.
use crate::provider::{
    CallControl, CallHandle, CallProgress, CallProvider, CallReport, CallRequest,
};
use anxin_domain::call::CallOutcome;
use chrono::Utc;
use rand::Rng;
use std::ops::Range;
use std::time::Duration;
use tracing::info;

/// Rates are probabilities in `0.0..=1.0`; what is neither answer nor busy
/// rings out (no answer).
#[derive(Debug, Clone)]
pub struct SimulatedConfig {
    pub expert_answer_rate: f64,
    pub expert_busy_rate: f64,
    pub seeker_answer_rate: f64,
    pub seeker_busy_rate: f64,
    /// How long a phone rings before it is answered or refused.
    pub ring: Range<Duration>,
    /// How long an unanswered phone rings before we give up.
    pub ring_timeout: Duration,
    /// How long the two talk, unless the hard stop comes first.
    pub talk: Range<Duration>,
}

impl Default for SimulatedConfig {
    /// Rates in the spirit of the original hotline: most calls connect.
    fn default() -> Self {
        Self {
            expert_answer_rate: 0.9,
            expert_busy_rate: 0.05,
            seeker_answer_rate: 0.85,
            seeker_busy_rate: 0.05,
            ring: Duration::from_secs(2)..Duration::from_secs(8),
            ring_timeout: Duration::from_secs(25),
            talk: Duration::from_secs(60)..Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SimulatedProvider {
    config: SimulatedConfig,
}

impl SimulatedProvider {
    pub fn new(config: SimulatedConfig) -> Self {
        Self { config }
    }
}

impl CallProvider for SimulatedProvider {
    fn place_call(&self, request: CallRequest) -> CallHandle {
        let (handle, control) = CallHandle::pair();
        tokio::spawn(simulate(self.config.clone(), request, control));
        handle
    }

    fn is_simulated(&self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pickup {
    Answer,
    Busy,
    NoAnswer,
}

fn draw(answer: f64, busy: f64) -> Pickup {
    let x: f64 = rand::thread_rng().gen();
    if x < answer {
        Pickup::Answer
    } else if x < answer + busy {
        Pickup::Busy
    } else {
        Pickup::NoAnswer
    }
}

fn within(range: &Range<Duration>) -> Duration {
    if range.start >= range.end {
        return range.start;
    }
    rand::thread_rng().gen_range(range.clone())
}

async fn simulate(config: SimulatedConfig, request: CallRequest, mut control: CallControl) {
    let task = request.task;
    info!(%task, attempt = request.attempt, simulated = true, "simulated call starts");
    let report = run(&config, &request, &mut control).await;
    info!(
        %task,
        attempt = request.attempt,
        simulated = true,
        outcome = report.outcome.as_str(),
        talk_seconds = report.talk_seconds,
        "simulated call ended"
    );
    control.report(CallProgress::Ended(report));
}

async fn run(
    config: &SimulatedConfig,
    request: &CallRequest,
    control: &mut CallControl,
) -> CallReport {
    let mut report = CallReport::failed("", true);
    report.reason = None;
    let until_stop = (request.hard_stop - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let hard_stop = tokio::time::Instant::now() + until_stop;

    control.report(CallProgress::DialingExpert { at: Utc::now() });
    let legs = [
        (config.expert_answer_rate, config.expert_busy_rate, true),
        (config.seeker_answer_rate, config.seeker_busy_rate, false),
    ];
    for (answer_rate, busy_rate, is_expert) in legs {
        let pickup = draw(answer_rate, busy_rate);
        let wait = match pickup {
            Pickup::NoAnswer => match (is_expert, request.first_ring) {
                (true, Some(first)) => first.min(config.ring_timeout),
                _ => config.ring_timeout,
            },
            _ => within(&config.ring),
        };
        if let Some(stopped) = pause(wait, hard_stop, control).await {
            return finish(report, stopped);
        }
        let (status, outcome) = match (pickup, is_expert) {
            (Pickup::Answer, _) => (200, None),
            (Pickup::Busy, true) => (486, Some(CallOutcome::ExpertBusy)),
            (Pickup::Busy, false) => (486, Some(CallOutcome::SeekerBusy)),
            (Pickup::NoAnswer, true) => (487, Some(CallOutcome::ExpertNoAnswer)),
            (Pickup::NoAnswer, false) => (487, Some(CallOutcome::SeekerNoAnswer)),
        };
        if is_expert {
            report.expert_sip_status = Some(status);
        } else {
            report.seeker_sip_status = Some(status);
        }
        if let Some(outcome) = outcome {
            report.outcome = outcome;
            report.ended_at = Utc::now();
            return report;
        }
        if is_expert {
            report.expert_answered_at = Some(Utc::now());
            control.report(CallProgress::ExpertAnswered {
                at: Utc::now(),
                sip_status: Some(200),
            });
            control.report(CallProgress::DialingSeeker { at: Utc::now() });
        }
    }
    let bridged = Utc::now();
    report.bridged_at = Some(bridged);
    control.report(CallProgress::Bridged {
        at: bridged,
        seeker_sip_status: Some(200),
    });
    let stopped = pause(within(&config.talk), hard_stop, control).await;
    report.ended_at = Utc::now();
    report.talk_seconds =
        u32::try_from((report.ended_at - bridged).num_seconds().max(0)).unwrap_or(u32::MAX);
    match stopped {
        None | Some(Stopped::HardStop) => {
            report.outcome = CallOutcome::Completed;
            report.reason = Some(if stopped.is_some() {
                "hard stop at the slot's end".into()
            } else {
                "a party hung up".into()
            });
            report
        }
        Some(stopped) => finish(report, stopped),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    HardStop,
    Hangup(crate::provider::HangupReason),
}

/// Sleeps, unless the hard stop or a hang-up comes first.
async fn pause(
    wait: Duration,
    hard_stop: tokio::time::Instant,
    control: &mut CallControl,
) -> Option<Stopped> {
    tokio::select! {
        _ = tokio::time::sleep(wait) => None,
        _ = tokio::time::sleep_until(hard_stop) => Some(Stopped::HardStop),
        reason = control.hangup_requested() => Some(Stopped::Hangup(reason)),
    }
}

fn finish(mut report: CallReport, stopped: Stopped) -> CallReport {
    report.ended_at = Utc::now();
    match stopped {
        Stopped::HardStop => {
            report.outcome = CallOutcome::Failed;
            report.reason = Some("slot ended before the call was bridged".into());
        }
        Stopped::Hangup(reason) => {
            report.outcome = reason.outcome();
            report.reason = Some(reason.describe().into());
        }
    }
    if let Some(bridged) = report.bridged_at {
        report.talk_seconds =
            u32::try_from((report.ended_at - bridged).num_seconds().max(0)).unwrap_or(u32::MAX);
    }
    report
}
