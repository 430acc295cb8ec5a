//! Recording the events only the API sees (slates served, holds placed,
//! refused and released, confirmations refused) without slowing the request
//! that caused them.
//!
//! `emit` builds the row, pushes it onto a bounded in-process queue and
//! returns: no await, no connection taken from the request's pool share. One
//! writer task per database drains the queue and inserts whatever has
//! gathered within 100 ms in a single multi-row statement, so under load the
//! cost is one round trip and one commit per batch, on one connection,
//! instead of one per request.
//!
//! Trade-offs, chosen on purpose:
//! * Best effort. When the queue is full (Postgres far behind) or an insert
//!   fails, events are dropped and counted in
//!   `anxin_ops_events_dropped_total` rather than making seekers wait; and
//!   events still queued when the process dies are lost. Bookings and calls,
//!   whose figures matter most, don't go through here: triggers record them
//!   in the writer's transaction, exactly once.
//! * The queue is `AppState`'s (`EventSink`), and its one writer is started
//!   with the application (`EventSink::start`) on the runtime that builds
//!   it, so no request thread's runtime owns it. Shutting down drains what
//!   is queued (`EventWriter::drain`).
use crate::metrics::Metrics;
use anxin_domain::ids::{ExpertId, HoldId, SeekerId, SlotId};
use anxin_domain::seeker::PriorityGroup;
use anxin_store::events::NewEvent;
use anxin_store::seekers::SeekerRow;
use anxin_store::Pool;
use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Events waiting per database before new ones are dropped.
const QUEUE: usize = 50_000;
/// Rows per INSERT, at most.
const BATCH: usize = 1_000;
/// How long the writer gathers events before it inserts them, at most. The
/// exposure rollup's trigger upserts one row per expert shown in a batch,
/// however many slates the batch holds: at 5,000 slates a second, batches of
/// 20 ms made that trigger a third of Postgres' work.
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);
/// How far back a booking's first slate is looked for (time to match).
const MATCH_LOOKBACK: Duration = Duration::days(7);

/// Why a hold or a confirmation was refused (the 409's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SlotUnavailable,
    HoldLimit,
    HoldExpired,
    BookingLimit,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SlotUnavailable => "slot_unavailable",
            Self::HoldLimit => "hold_limit",
            Self::HoldExpired => "hold_expired",
            Self::BookingLimit => "booking_limit",
        }
    }
}

/// Something that happened, as the flows report it.
pub enum Event<'a> {
    SlateServed {
        seeker: &'a SeekerRow,
        experts: &'a [ExpertId],
    },
    HoldPlaced {
        seeker: &'a SeekerRow,
        hold_id: HoldId,
        slot_id: SlotId,
        expert_id: ExpertId,
        starts_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    HoldRefused {
        seeker: &'a SeekerRow,
        slot_id: SlotId,
        expert_id: ExpertId,
        refusal: Refusal,
    },
    HoldReleased {
        seeker: &'a SeekerRow,
        hold_id: HoldId,
        slot_id: SlotId,
        expert_id: ExpertId,
    },
    BookingRefused {
        seeker: &'a SeekerRow,
        hold_id: HoldId,
        refusal: Refusal,
    },
    /// Not stored (the booking's trigger records it): observes the time to
    /// match for Prometheus, off the request path.
    BookingConfirmed { seeker: &'a SeekerRow },
}

/// What travels on the queue. Nearly every job is an `Insert`, so boxing it
/// would only add an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Job {
    Insert(NewEvent),
    ObserveMatch {
        seeker: SeekerId,
        group: PriorityGroup,
        at: DateTime<Utc>,
    },
}

fn seeker_fields(seeker: &SeekerRow, kind: &'static str) -> NewEvent {
    NewEvent {
        kind,
        at: Utc::now(),
        seeker_id: Some(seeker.id.0),
        priority_group: Some(seeker.priority_group),
        region: seeker.region.clone(),
        ..NewEvent::default()
    }
}

impl Event<'_> {
    fn into_job(self) -> Job {
        match self {
            Event::SlateServed { seeker, experts } => Job::Insert(NewEvent {
                expert_ids: Some(experts.iter().map(|e| e.0).collect()),
                ..seeker_fields(seeker, "slate_served")
            }),
            Event::HoldPlaced {
                seeker,
                hold_id,
                slot_id,
                expert_id,
                starts_at,
                expires_at,
            } => Job::Insert(NewEvent {
                hold_id: Some(hold_id.0),
                slot_id: Some(slot_id.0),
                expert_id: Some(expert_id.0),
                starts_at: Some(starts_at),
                expires_at: Some(expires_at),
                ..seeker_fields(seeker, "hold_placed")
            }),
            Event::HoldRefused {
                seeker,
                slot_id,
                expert_id,
                refusal,
            } => Job::Insert(NewEvent {
                slot_id: Some(slot_id.0),
                expert_id: Some(expert_id.0),
                refusal: Some(refusal.as_str()),
                ..seeker_fields(seeker, "hold_refused")
            }),
            Event::HoldReleased {
                seeker,
                hold_id,
                slot_id,
                expert_id,
            } => Job::Insert(NewEvent {
                hold_id: Some(hold_id.0),
                slot_id: Some(slot_id.0),
                expert_id: Some(expert_id.0),
                ..seeker_fields(seeker, "hold_released")
            }),
            Event::BookingRefused {
                seeker,
                hold_id,
                refusal,
            } => Job::Insert(NewEvent {
                hold_id: Some(hold_id.0),
                refusal: Some(refusal.as_str()),
                ..seeker_fields(seeker, "booking_refused")
            }),
            Event::BookingConfirmed { seeker } => Job::ObserveMatch {
                seeker: seeker.id,
                group: seeker.priority_group,
                at: Utc::now(),
            },
        }
    }
}

/// The queue of events waiting for the writer: what `emit` pushes onto.
pub struct EventSink {
    sender: mpsc::Sender<Job>,
    /// Until the writer is started, which takes it.
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
}

impl Default for EventSink {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

/// The running writer: `drain` stops it once what is queued is written.
pub struct EventWriter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl EventWriter {
    pub async fn drain(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl EventSink {
    /// Starts the writer on the current runtime; `None` if it was started
    /// already.
    pub fn start(&self, pool: Pool, metrics: Metrics) -> Option<EventWriter> {
        let receiver = self.receiver.lock().ok()?.take()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(write(pool, metrics, receiver, stopped));
        Some(EventWriter { stop, task })
    }
}

impl EventSink {
    /// Records an event without waiting for it to be written, counted in
    /// `metrics` (the application's).
    pub fn emit(&self, metrics: &Metrics, event: Event<'_>) {
        let job = event.into_job();
        if let Job::Insert(e) = &job {
            metrics.events.with_label_values(&[e.kind]).inc();
        }
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics.dropped("queue_full", 1);
                tracing::warn!("ops event queue full; event dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => metrics.dropped("no_writer", 1),
        }
    }
}

/// Drains the queue: whatever has gathered goes in one INSERT.
async fn write(
    pool: Pool,
    metrics: Metrics,
    mut receiver: mpsc::Receiver<Job>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut matches = Vec::new();
    loop {
        let first = tokio::select! {
            job = receiver.recv() => job,
            _ = &mut stopped, if !stopped.is_terminated() => {
                // Shutting down: take nothing new, write what is queued.
                receiver.close();
                continue;
            }
        };
        let Some(first) = first else { break };
        // Gather for a moment: a statement and a commit cost Postgres about
        // as much as a few hundred rows, so under load fewer, fuller batches
        // leave more of the machine to the requests themselves.
        let until = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Insert(e) => batch.push(e),
                Job::ObserveMatch { seeker, group, at } => matches.push((seeker, group, at)),
            }
            if batch.len() < BATCH {
                next = match receiver.try_recv() {
                    Ok(job) => Some(job),
                    Err(_) => tokio::time::timeout_at(until, receiver.recv())
                        .await
                        .ok()
                        .flatten(),
                };
            }
        }
        if let Err(e) = anxin_store::events::insert_batch(&pool, &batch).await {
            metrics.dropped("write_failed", batch.len() as u64);
            tracing::warn!(error = %e, events = batch.len(), "writing ops events failed; dropped");
        }
        batch.clear();
        // After the insert, so a slate queued just before is already stored.
        // One lookup for the batch's bookings, not a round trip each.
        let asked: Vec<_> = matches
            .iter()
            .map(|(seeker, _, at)| (*seeker, *at - MATCH_LOOKBACK))
            .collect();
        match anxin_store::events::first_slates_at(&pool, &asked).await {
            Ok(firsts) => {
                for ((_, group, at), first) in matches.iter().zip(firsts) {
                    if let Some(first) = first.filter(|first| first <= at) {
                        let secs = (*at - first).num_milliseconds() as f64 / 1000.0;
                        metrics
                            .time_to_match
                            .with_label_values(&[group.as_str()])
                            .observe(secs);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "time to match lookup failed"),
        }
        matches.clear();
    }
}
