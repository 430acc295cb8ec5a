//! Group commit for confirmations. Postgres' part of a confirmation is most
//! of its cost (its insert under every guard, and the commit), and much of
//! that is per transaction: written eight to a transaction, a booking costs
//! Postgres about half the CPU it costs alone (docs/benchmarks.md). So
//! confirmations are queued, and each writer takes every confirmation waiting
//! when it is free (up to `MOST`) into one statement
//! (`anxin_store::bookings::confirm_many`), each with its own answer. Nothing
//! waits for a group to fill: with no other confirmation waiting, one goes
//! alone at once, and groups form only while the writers are busy.
//!
//! Each thread that confirms (each actix worker is a runtime on its own
//! thread) has its own queue and writers, spawned on first use on its own
//! runtime, so a confirmation never crosses threads to reach its writer.
use anxin_store::bookings::{self, BookingRow, ConfirmError, NewBooking};
use anxin_store::Pool as PgPool;
use chrono::{DateTime, Utc};
use prometheus::Histogram;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Confirmations one statement writes at most.
const MOST: usize = 16;
/// Statements one thread has under way at once. With two threads, eight
/// in all: in pgbench on Anxin's schema, eight clients writing eight a
/// transaction did best of the mixes tried (docs/benchmarks.md).
const WRITERS: usize = 4;

type Answer = Result<BookingRow, ConfirmError>;

struct Waiting {
    booking: NewBooking,
    now: DateTime<Utc>,
    answer: oneshot::Sender<Answer>,
}

type Queue = mpsc::UnboundedSender<Waiting>;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Per thread, the queue of each `Confirmations` used on it.
    static QUEUES: RefCell<HashMap<u64, Queue>> = RefCell::new(HashMap::new());
}

/// Confirms bookings in groups (see the module's note). Cheap to clone.
#[derive(Clone)]
pub struct Confirmations {
    /// Names this handle's queues in each thread's `QUEUES`.
    id: u64,
    pool: PgPool,
    max_active: i64,
    groups: Histogram,
}

impl Confirmations {
    pub fn new(pool: PgPool, max_active: i64, groups: Histogram) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            pool,
            max_active,
            groups,
        }
    }

    /// Confirms `booking` (`anxin_store::bookings::confirm`'s answer), in a
    /// group with whatever other confirmations are waiting on this thread.
    pub async fn confirm(&self, booking: NewBooking, now: DateTime<Utc>) -> Answer {
        let (answer, answered) = oneshot::channel();
        let mut waiting = Waiting {
            booking,
            now,
            answer,
        };
        // A queue whose writers are gone (their runtime ended: a test's) is
        // replaced once.
        for _ in 0..2 {
            match self.queue().send(waiting) {
                Ok(()) => {
                    return answered.await.unwrap_or_else(|_| Err(writers_gone()));
                }
                Err(mpsc::error::SendError(w)) => {
                    QUEUES.with(|q| q.borrow_mut().remove(&self.id));
                    waiting = w;
                }
            }
        }
        Err(writers_gone())
    }

    /// This thread's queue, with its writers spawned on first use.
    fn queue(&self) -> Queue {
        if let Some(q) = QUEUES.with(|q| q.borrow().get(&self.id).cloned()) {
            return q;
        }
        let (queue, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..WRITERS {
            tokio::spawn(self.clone().write(waiting.clone()));
        }
        QUEUES.with(|q| q.borrow_mut().insert(self.id, queue.clone()));
        queue
    }

    /// One writer: takes every confirmation waiting (up to `MOST`), writes
    /// them in one statement, answers each; until the queue is dropped.
    async fn write(self, waiting: Arc<Mutex<mpsc::UnboundedReceiver<Waiting>>>) {
        loop {
            let group = {
                let mut waiting = waiting.lock().await;
                let Some(first) = waiting.recv().await else {
                    return;
                };
                let mut group = vec![first];
                while group.len() < MOST {
                    match waiting.try_recv() {
                        Ok(w) => group.push(w),
                        Err(_) => break,
                    }
                }
                group
            };
            self.groups.observe(group.len() as f64);
            let (batch, answers): (Vec<_>, Vec<_>) = group
                .into_iter()
                .map(|w| ((w.booking, w.now), w.answer))
                .unzip();
            let decided = bookings::confirm_many(&self.pool, &batch, self.max_active).await;
            for (answer, decided) in answers.into_iter().zip(decided) {
                // A request that went away still has its booking; nobody to tell.
                let _ = answer.send(decided);
            }
        }
    }
}

/// The writers of this thread stopped (its runtime is shutting down): the
/// confirmation is not written, and the seeker may try again.
fn writers_gone() -> ConfirmError {
    ConfirmError::not_written()
}
