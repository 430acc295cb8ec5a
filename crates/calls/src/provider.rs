//! The `CallProvider` trait: what the worker needs from whatever places calls
//! (a SIP trunk, or the simulation), and the types that cross that line.
//!
//! A provider starts a two-way call in the background and hands back a
//! [`CallHandle`]. The worker reads [`CallProgress`] from the handle as the
//! call moves on and may ask it to hang up. The call belongs to the handle:
//! dropping the handle hangs up, so a worker that goes away (its task aborted,
//! its lease lost) never leaves a call running that nobody records.
//!
//! The trait is object safe and needs no async machinery: `place_call` returns
//! at once, so it is usable as `Arc<dyn CallProvider>`.
use anxin_domain::call::CallOutcome;
use anxin_domain::ids::CallTaskId;
use anxin_domain::phone::PhoneNumber;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

/// Places two-way calls: dials the expert, then the seeker, and joins them.
pub trait CallProvider: Send + Sync {
    /// Starts the call in the background and returns at once. Must be called
    /// inside a Tokio runtime. Every outcome, failures to start included,
    /// arrives as the handle's final [`CallProgress::Ended`].
    fn place_call(&self, request: CallRequest) -> CallHandle;

    /// True for the simulation: its events and attempts are marked simulated.
    fn is_simulated(&self) -> bool;
}

/// One attempt to connect two parties: a booking's expert and seeker, or an
/// operator calling a referred seeker back (the operator is then the `expert`
/// leg, dialed first). Both numbers are presented to neither party: each side sees the platform's caller ID, which belongs to
/// the provider's configuration (it must be a number the carrier lets us
/// present).
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The call task this attempt belongs to, for logs.
    pub task: CallTaskId,
    /// 1-based attempt number, for logs.
    pub attempt: u32,
    /// The first party: the expert, or the operator of a callback.
    pub expert: PhoneNumber,
    pub seeker: PhoneNumber,
    /// Both legs are released at this instant whatever state they are in
    /// (the slot's end plus the grace period).
    pub hard_stop: DateTime<Utc>,
    /// How long the first party's phone may ring, when shorter than the
    /// provider's own ring timeout: a help-now call rolls over to the next
    /// expert after `ANXIN_HELP_NOW_RING_SECONDS`.
    pub first_ring: Option<std::time::Duration>,
}

/// A step of a call, in the order they happen. Every call ends with exactly
/// one `Ended`.
#[derive(Debug, Clone, PartialEq)]
pub enum CallProgress {
    DialingExpert {
        at: DateTime<Utc>,
    },
    ExpertAnswered {
        at: DateTime<Utc>,
        sip_status: Option<u16>,
    },
    DialingSeeker {
        at: DateTime<Utc>,
    },
    Bridged {
        at: DateTime<Utc>,
        seeker_sip_status: Option<u16>,
    },
    Ended(CallReport),
}

/// How an attempt went, as the provider saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub outcome: CallOutcome,
    /// Why it did not complete (or how a completed call ended), in words safe
    /// to store and show: never a phone number.
    pub reason: Option<String>,
    /// The final status of the expert's INVITE (or its last one, e.g. 487
    /// after our CANCEL); `None` when no final response came.
    pub expert_sip_status: Option<u16>,
    pub seeker_sip_status: Option<u16>,
    pub expert_answered_at: Option<DateTime<Utc>>,
    pub bridged_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    /// Seconds both parties were joined.
    pub talk_seconds: u32,
    pub simulated: bool,
}

impl CallReport {
    /// A call that ended before anything happened, e.g. a bad configuration.
    pub fn failed(reason: impl Into<String>, simulated: bool) -> Self {
        Self {
            outcome: CallOutcome::Failed,
            reason: Some(reason.into()),
            expert_sip_status: None,
            seeker_sip_status: None,
            expert_answered_at: None,
            bridged_at: None,
            ended_at: Utc::now(),
            talk_seconds: 0,
            simulated,
        }
    }
}

/// Why the worker asks a call to end early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupReason {
    /// The booking was cancelled: the attempt ends `cancelled`.
    BookingCancelled,
    /// The worker can no longer prove it holds the task: another worker may
    /// take it over, so this call must not go on.
    LeaseLost,
    /// The handle was dropped without a word (the worker's task was aborted).
    HandleDropped,
}

impl HangupReason {
    pub fn outcome(self) -> CallOutcome {
        match self {
            Self::BookingCancelled => CallOutcome::Cancelled,
            _ => CallOutcome::Failed,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::BookingCancelled => "booking cancelled during the call",
            Self::LeaseLost => "worker lost lease",
            Self::HandleDropped => "worker went away",
        }
    }
}

/// The worker's side of a running call.
#[derive(Debug)]
pub struct CallHandle {
    progress: mpsc::UnboundedReceiver<CallProgress>,
    hangup: Option<oneshot::Sender<HangupReason>>,
}

/// The provider's side of a running call.
#[derive(Debug)]
pub struct CallControl {
    progress: mpsc::UnboundedSender<CallProgress>,
    /// `None` once the hang-up request was taken.
    hangup: Option<oneshot::Receiver<HangupReason>>,
}

impl CallHandle {
    /// A connected pair: the handle goes to the worker, the control to the
    /// task that runs the call.
    pub fn pair() -> (CallHandle, CallControl) {
        let (progress_tx, progress_rx) = mpsc::unbounded_channel();
        let (hangup_tx, hangup_rx) = oneshot::channel();
        (
            CallHandle {
                progress: progress_rx,
                hangup: Some(hangup_tx),
            },
            CallControl {
                progress: progress_tx,
                hangup: Some(hangup_rx),
            },
        )
    }

    /// The next step of the call; `None` once the provider is gone. A
    /// provider that vanishes without `Ended` is a failed call.
    pub async fn next(&mut self) -> Option<CallProgress> {
        self.progress.recv().await
    }

    /// Asks the call to end (both legs released). The call still reports
    /// `Ended`. Asking twice keeps the first reason.
    pub fn hang_up(&mut self, reason: HangupReason) {
        if let Some(tx) = self.hangup.take() {
            // The call may already be over; then there is nothing to stop.
            let _ = tx.send(reason);
        }
    }
}

impl CallControl {
    /// Reports a step. The worker may have gone; the call goes on regardless
    /// (it hangs up through `hangup`), so a closed channel is not an error.
    pub fn report(&self, progress: CallProgress) {
        let _ = self.progress.send(progress);
    }

    /// Waits for the worker to ask for a hang-up (or to drop the handle).
    /// Resolves once; after that it never resolves again, so it can sit in a
    /// `select!` loop. Cancel safe.
    pub async fn hangup_requested(&mut self) -> HangupReason {
        let Some(rx) = self.hangup.as_mut() else {
            return std::future::pending().await;
        };
        let reason = rx.await.unwrap_or(HangupReason::HandleDropped);
        self.hangup = None;
        reason
    }
}
