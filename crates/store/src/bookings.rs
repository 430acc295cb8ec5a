//! Bookings. A confirmation writes the booking and its call task (the outbox
//! row the worker reads) in one transaction, so a confirmed booking always has
//! its call, and the database's constraints have the last word on double
//! booking whatever Redis believed.
use crate::audit::{self, Actor};
use crate::crypto::Sealed;
use crate::row;
use crate::{Result, StoreError};
use anxin_domain::booking::BookingStatus;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::{BookingId, ExpertId, HoldId, SeekerId, SlotId};
use anxin_domain::proto::CallTask;
use anxin_domain::seeker::PriorityGroup;
use chrono::{DateTime, Utc};
use prost::Message;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewBooking {
    pub id: BookingId,
    pub slot_id: SlotId,
    pub expert_id: ExpertId,
    pub seeker_id: SeekerId,
    pub seeker_alias: String,
    pub hold_id: HoldId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub phone: Sealed,
    pub phone_masked: String,
    /// The seeker's note for the expert, sealed.
    pub note: Option<Sealed>,
    pub priority_group: PriorityGroup,
    /// The host app vouched for the group (the token's `group` claim).
    pub priority_vouched: bool,
    pub fee_minor: i32,
    pub idempotency_key: Option<String>,
    pub request_hash: Vec<u8>,
    /// The seeker's `ref` for the host app's webhooks, sealed.
    pub seeker_ref: Option<Sealed>,
}

/// A booking with where its call stands.
#[derive(Debug, Clone)]
pub struct BookingRow {
    pub id: BookingId,
    pub slot_id: SlotId,
    pub expert_id: ExpertId,
    pub seeker_id: SeekerId,
    pub hold_id: HoldId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    pub phone_masked: Option<String>,
    /// The seeker's note, sealed (`None` once erased).
    pub note: Option<Sealed>,
    pub priority_group: PriorityGroup,
    pub request_hash: Option<Vec<u8>>,
    pub call_state: CallState,
    pub call_outcome: Option<CallOutcome>,
    /// Why it was cancelled, when the canceller said; sealed.
    pub cancel_reason: Option<Sealed>,
    /// Handed to another expert after it was booked (its expert was
    /// suspended, or cancelled).
    pub reassigned: bool,
    /// The current expert's display name; `None` on the row a confirmation
    /// returns, which is not read back.
    pub display_name: Option<String>,
}

impl<'r> sqlx::FromRow<'r, PgRow> for BookingRow {
    fn from_row(r: &'r PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row::id(r, "id")?,
            slot_id: row::id(r, "slot_id")?,
            expert_id: row::id(r, "expert_id")?,
            seeker_id: row::id(r, "seeker_id")?,
            hold_id: row::id(r, "hold_id")?,
            starts_at: r.try_get("starts_at")?,
            ends_at: r.try_get("ends_at")?,
            status: row::named(r, "status")?,
            phone_masked: r.try_get("phone_masked")?,
            note: row::sealed(r, "note")?,
            priority_group: row::named(r, "priority_group")?,
            request_hash: r.try_get("request_hash")?,
            // Every booking is written with its call task (one transaction),
            // so a missing one is corrupt data, not "scheduled".
            call_state: row::named(r, "call_state")?,
            call_outcome: row::named_opt(r, "call_outcome")?,
            cancel_reason: row::sealed(r, "cancel_reason")?,
            reassigned: r.try_get("reassigned")?,
            display_name: r.try_get("display_name")?,
        })
    }
}

const BOOKING_SELECT: &str =
    "SELECT b.id, b.slot_id, b.expert_id, b.seeker_id, b.hold_id, b.starts_at, b.ends_at,
        b.status, b.phone_masked, b.note_ciphertext, b.note_key_id, b.priority_group,
        b.request_hash, b.cancel_reason_ciphertext, b.cancel_reason_key_id,
        b.reassigned, e.display_name, t.call_state, t.outcome AS call_outcome
   FROM bookings b JOIN experts e ON e.id = b.expert_id
   LEFT JOIN call_tasks t ON t.booking_id = b.id";

/// Why a confirmation was refused by the database.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// The slot is already booked (or no longer offered).
    #[error("slot already booked")]
    SlotTaken,
    /// The expert's local day or week already has as many sessions as they
    /// allow; the slot itself is free.
    #[error("the expert's day or week is full")]
    CapReached,
    /// The expert has an overlapping booking on another slot.
    #[error("expert already booked at that time")]
    ExpertBusy,
    /// This hold was already confirmed (a retry without an idempotency key).
    #[error("hold already confirmed")]
    HoldUsed,
    #[error("seeker has too many active bookings")]
    TooManyBookings,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConfirmError {
    /// The confirmation was not written, because the process is shutting
    /// down: an outage to the client (503), who may try again.
    pub fn not_written() -> Self {
        Self::Store(StoreError::Other(sqlx::Error::PoolClosed))
    }
}

impl From<sqlx::Error> for ConfirmError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The channel a confirmation notifies when its call is due soon; the call
/// worker listens on it.
pub const CALL_TASKS_CHANNEL: &str = "anxin_call_tasks";

/// A confirmation wakes the call worker (NOTIFY) only when its call is due
/// within this long; the worker's poll, which must be no longer, finds the
/// rest in time. NOTIFY serializes committing transactions, so sending it for
/// every booking would cap confirmations.
pub const NOTIFY_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Inserts the booking and its call task in one transaction and one round
/// trip (the `confirm_booking` function). The per-seeker limit is checked
/// under a per-seeker advisory lock, so two concurrent confirmations by one
/// seeker can't both slip under it.
#[tracing::instrument(skip(pool, b), fields(booking_id = %b.id, slot_id = %b.slot_id))]
pub async fn confirm(
    pool: &PgPool,
    b: &NewBooking,
    max_active: i64,
    now: DateTime<Utc>,
) -> std::result::Result<BookingRow, ConfirmError> {
    let decided: std::result::Result<String, _> = sqlx::query_scalar(
        "SELECT confirm_booking($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                                $16, $17, $18, $19, $20, $21, make_interval(secs => $22), $23, $24)",
    )
    .bind(b.id.0)
    .bind(b.slot_id.0)
    .bind(b.expert_id.0)
    .bind(b.seeker_id.0)
    .bind(b.hold_id.0)
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(&b.phone.bytes)
    .bind(&b.phone.key_id)
    .bind(&b.phone_masked)
    .bind(b.note.as_ref().map(|n| n.bytes.clone()))
    .bind(b.note.as_ref().map(|n| n.key_id.clone()))
    .bind(b.priority_group.as_str())
    .bind(b.priority_vouched)
    .bind(b.fee_minor)
    .bind(&b.idempotency_key)
    .bind(&b.request_hash)
    .bind(max_active)
    .bind(now)
    .bind(Uuid::new_v4())
    .bind(task_of(b))
    .bind(NOTIFY_WITHIN.as_secs_f64())
    .bind(b.seeker_ref.as_ref().map(|r| r.bytes.clone()))
    .bind(b.seeker_ref.as_ref().map(|r| r.key_id.clone()))
    .fetch_one(pool)
    .await;
    decide(b, decided.map_err(StoreError::from))
}

/// Confirms several bookings in one statement and one transaction (the
/// `confirm_bookings` function: group commit), each under every guard it has
/// alone and each with the answer `confirm` would give it. One booking goes
/// through `confirm`. If the statement fails as a whole (a deadlock Postgres
/// broke, a lost connection, an outage), each is confirmed on its own, at
/// once, so each still gets its own answer: a booking the failed statement
/// did commit is then refused as `HoldUsed`, as a retry would be.
#[tracing::instrument(skip_all, fields(bookings = batch.len()))]
pub async fn confirm_many(
    pool: &PgPool,
    batch: &[(NewBooking, DateTime<Utc>)],
    max_active: i64,
) -> Vec<std::result::Result<BookingRow, ConfirmError>> {
    if let [(b, now)] = batch {
        return vec![confirm(pool, b, max_active, *now).await];
    }
    let decided: std::result::Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(
        "SELECT confirm_bookings($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                                 $16, $17, $18, $19, $20, $21, make_interval(secs => $22), $23, $24)",
    )
    .bind(column(batch, |b| b.id.0))
    .bind(column(batch, |b| b.slot_id.0))
    .bind(column(batch, |b| b.expert_id.0))
    .bind(column(batch, |b| b.seeker_id.0))
    .bind(column(batch, |b| b.hold_id.0))
    .bind(column(batch, |b| b.starts_at))
    .bind(column(batch, |b| b.ends_at))
    .bind(column(batch, |b| b.phone.bytes.clone()))
    .bind(column(batch, |b| b.phone.key_id.clone()))
    .bind(column(batch, |b| b.phone_masked.clone()))
    .bind(column(batch, |b| b.note.as_ref().map(|n| n.bytes.clone())))
    .bind(column(batch, |b| b.note.as_ref().map(|n| n.key_id.clone())))
    .bind(column(batch, |b| b.priority_group.as_str()))
    .bind(column(batch, |b| b.priority_vouched))
    .bind(column(batch, |b| b.fee_minor))
    .bind(column(batch, |b| b.idempotency_key.clone()))
    .bind(column(batch, |b| b.request_hash.clone()))
    .bind(max_active)
    .bind(batch.iter().map(|(_, now)| *now).collect::<Vec<_>>())
    .bind(column(batch, |_| Uuid::new_v4()))
    .bind(column(batch, task_of))
    .bind(NOTIFY_WITHIN.as_secs_f64())
    .bind(column(batch, |b| b.seeker_ref.as_ref().map(|r| r.bytes.clone())))
    .bind(column(batch, |b| b.seeker_ref.as_ref().map(|r| r.key_id.clone())))
    .fetch_one(pool)
    .await;
    match decided {
        Ok(decided) if decided.len() == batch.len() => batch
            .iter()
            .zip(decided)
            .map(|((b, _), d)| {
                let d = match d.strip_prefix("conflict:") {
                    Some(constraint) => Err(StoreError::Conflict(constraint.to_owned())),
                    None => Ok(d),
                };
                decide(b, d)
            })
            .collect(),
        failed => {
            let reason = match failed {
                Ok(d) => format!("{} answers for {} bookings", d.len(), batch.len()),
                Err(e) => e.to_string(),
            };
            tracing::warn!(
                error = %reason,
                "a group of confirmations failed as a whole; confirming each on its own"
            );
            futures_util::future::join_all(
                batch
                    .iter()
                    .map(|(b, now)| confirm(pool, b, max_active, *now)),
            )
            .await
        }
    }
}

/// One of `confirm_bookings`' arrays: `f` of each booking, in the batch's order.
fn column<T>(batch: &[(NewBooking, DateTime<Utc>)], f: impl Fn(&NewBooking) -> T) -> Vec<T> {
    batch.iter().map(|(b, _)| f(b)).collect()
}

/// The call task of a booking to be confirmed, encoded.
fn task_of(b: &NewBooking) -> Vec<u8> {
    call_task(
        b.id,
        b.slot_id,
        b.expert_id,
        b.starts_at,
        b.ends_at,
        &b.seeker_alias,
    )
    .encode_to_vec()
}

/// What `confirm_booking` decided for `b`, or the constraint that refused it.
fn decide(
    b: &NewBooking,
    decided: std::result::Result<String, StoreError>,
) -> std::result::Result<BookingRow, ConfirmError> {
    match decided {
        Ok(d) if d == "confirmed" => {}
        Ok(d) if d == "too_many_bookings" => return Err(ConfirmError::TooManyBookings),
        Ok(d) if d == "slot_taken" => return Err(ConfirmError::SlotTaken),
        // The expert's day or week has its sessions (max_sessions_per_day,
        // max_sessions_per_week).
        Ok(d) if d == "day_full" => return Err(ConfirmError::CapReached),
        Ok(d) => return Err(StoreError::Corrupt(format!("confirm_booking: {d:?}")).into()),
        Err(StoreError::Conflict(c)) if c.contains("hold_id") => {
            return Err(ConfirmError::HoldUsed)
        }
        Err(StoreError::Conflict(c)) if c.contains("idempotency") => {
            return Err(ConfirmError::HoldUsed)
        }
        Err(StoreError::Conflict(c)) if c.contains("overlap") => {
            return Err(ConfirmError::ExpertBusy)
        }
        Err(StoreError::Conflict(_)) => return Err(ConfirmError::SlotTaken),
        Err(e) => return Err(e.into()),
    }
    // What was just written, without reading it back.
    Ok(BookingRow {
        id: b.id,
        slot_id: b.slot_id,
        expert_id: b.expert_id,
        seeker_id: b.seeker_id,
        hold_id: b.hold_id,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        status: BookingStatus::Confirmed,
        phone_masked: Some(b.phone_masked.clone()),
        note: b.note.clone(),
        priority_group: b.priority_group,
        request_hash: Some(b.request_hash.clone()),
        call_state: CallState::Scheduled,
        call_outcome: None,
        cancel_reason: None,
        reassigned: false,
        display_name: None,
    })
}

#[tracing::instrument(skip(pool))]
pub async fn get(pool: &PgPool, id: BookingId) -> Result<BookingRow> {
    Ok(sqlx::query_as(&format!("{BOOKING_SELECT} WHERE b.id = $1"))
        .bind(id.0)
        .fetch_one(pool)
        .await?)
}

#[tracing::instrument(skip(pool, key))]
pub async fn by_idempotency_key(
    pool: &PgPool,
    seeker: SeekerId,
    key: &str,
) -> Result<Option<BookingRow>> {
    Ok(sqlx::query_as(&format!(
        "{BOOKING_SELECT} WHERE b.seeker_id = $1 AND b.idempotency_key = $2"
    ))
    .bind(seeker.0)
    .bind(key)
    .fetch_optional(pool)
    .await?)
}

#[tracing::instrument(skip(pool))]
pub async fn by_hold(pool: &PgPool, hold: HoldId) -> Result<Option<BookingRow>> {
    Ok(
        sqlx::query_as(&format!("{BOOKING_SELECT} WHERE b.hold_id = $1"))
            .bind(hold.0)
            .fetch_optional(pool)
            .await?,
    )
}

/// How many of a seeker's bookings their history shows.
pub const SEEKER_HISTORY: i64 = 100;

/// A seeker's bookings with each expert's display name and whether its fee
/// was paid (and not yet refunded): those not yet ended first, soonest
/// first, then the past ones, latest first.
#[tracing::instrument(skip(pool))]
pub async fn for_seeker(
    pool: &PgPool,
    seeker: SeekerId,
    now: DateTime<Utc>,
) -> Result<Vec<(BookingRow, String, bool)>> {
    let rows = sqlx::query(&format!(
        "SELECT q.*, EXISTS (SELECT 1 FROM payments p WHERE p.hold_id = q.hold_id
                                AND p.status = 'paid') AS fee_paid
           FROM ({BOOKING_SELECT} WHERE b.seeker_id = $1) q
          ORDER BY q.ends_at <= $2, CASE WHEN q.ends_at > $2 THEN q.starts_at END, q.starts_at DESC
          LIMIT $3"
    ))
    .bind(seeker.0)
    .bind(now)
    .bind(SEEKER_HISTORY)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                BookingRow::from_row(r)?,
                r.try_get("display_name")?,
                r.try_get("fee_paid")?,
            ))
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The expert's active bookings that have not ended, soonest first.
#[tracing::instrument(skip(pool))]
pub async fn upcoming_for_expert(
    pool: &PgPool,
    expert: ExpertId,
    now: DateTime<Utc>,
) -> Result<Vec<BookingRow>> {
    Ok(sqlx::query_as(&format!(
        "{BOOKING_SELECT} WHERE b.expert_id = $1 AND b.status = 'confirmed' AND b.ends_at > $2 ORDER BY b.starts_at"
    ))
    .bind(expert.0)
    .bind(now)
    .fetch_all(pool)
    .await?)
}

/// How many past sessions an expert's history shows.
pub const EXPERT_HISTORY: i64 = 50;

/// The expert's sessions that have started (not cancelled), latest first.
#[tracing::instrument(skip(pool))]
pub async fn past_for_expert(
    pool: &PgPool,
    expert: ExpertId,
    now: DateTime<Utc>,
) -> Result<Vec<BookingRow>> {
    Ok(sqlx::query_as(&format!(
        "{BOOKING_SELECT} WHERE b.expert_id = $1 AND b.status <> 'cancelled' AND b.starts_at <= $2
          ORDER BY b.starts_at DESC LIMIT $3"
    ))
    .bind(expert.0)
    .bind(now)
    .bind(EXPERT_HISTORY)
    .fetch_all(pool)
    .await?)
}

/// Cancels a confirmed booking and its call task, and records who did it.
/// Returns the booking as it was before, or `None` when it was not confirmed.
#[tracing::instrument(skip(pool))]
pub async fn cancel(
    pool: &PgPool,
    id: BookingId,
    actor: &Actor,
    reason: Option<&Sealed>,
) -> Result<Option<BookingRow>> {
    let mut tx = pool.begin().await?;
    let before: BookingRow =
        sqlx::query_as(&format!("{BOOKING_SELECT} WHERE b.id = $1 FOR UPDATE OF b"))
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
    if before.status != BookingStatus::Confirmed {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancelled_by_role = $2,
                cancel_reason_ciphertext = $3, cancel_reason_key_id = $4
          WHERE id = $1",
    )
    .bind(id.0)
    .bind(actor.role)
    .bind(reason.map(|r| r.bytes.clone()))
    .bind(reason.map(|r| r.key_id.clone()))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE call_tasks SET state = 'cancelled', call_state = 'cancelled', outcome = COALESCE(outcome, 'cancelled'),
                updated_at = now()
          WHERE booking_id = $1 AND state IN ('pending', 'leased')",
    )
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        "booking.cancel",
        "booking",
        id.0,
        serde_json::json!({"with_reason": reason.is_some()}),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(before))
}

/// Every active booking's slot, for rebuilding Redis' booked markers.
#[tracing::instrument(skip(pool))]
pub async fn active_slots(pool: &PgPool, from: DateTime<Utc>) -> Result<Vec<(Uuid, Uuid)>> {
    Ok(sqlx::query_as(
        "SELECT expert_id, slot_id FROM bookings WHERE status <> 'cancelled' AND ends_at > $1",
    )
    .bind(from)
    .fetch_all(pool)
    .await?)
}

/// The call task's message (the outbox row's payload) for a booking.
fn call_task(
    booking: BookingId,
    slot: SlotId,
    expert: ExpertId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    seeker_alias: &str,
) -> CallTask {
    CallTask {
        booking_id: booking.to_string(),
        slot_id: slot.to_string(),
        expert_id: expert.to_string(),
        starts_at: starts_at.timestamp(),
        ends_at: ends_at.timestamp(),
        seeker_alias: seeker_alias.to_owned(),
        ..CallTask::default()
    }
}

/// An expert who could take over a booking: their open slot at the
/// booking's exact start and end, and how many open slots they have in the
/// next 72 h (the capacity the balanced draw weighs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandIn {
    pub expert_id: ExpertId,
    pub slot_id: SlotId,
    pub open_slots: u32,
}

/// Approved experts other than the booking's own (or any who had it before)
/// who speak one of its expert's languages and have an open, unbooked slot
/// at exactly the booking's start and end, with nothing else booked over it. Whether one
/// can really take it is decided by the hold and `reassign`.
#[tracing::instrument(skip(pool, booking), fields(booking_id = %booking.id))]
pub async fn stand_ins(
    pool: &PgPool,
    booking: &BookingRow,
    now: DateTime<Utc>,
) -> Result<Vec<StandIn>> {
    let rows: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
        "SELECT s.expert_id, s.id,
                (SELECT count(*) FROM slots o
                  WHERE o.expert_id = s.expert_id AND o.status = 'open'
                    AND o.starts_at >= $4 AND o.starts_at < $4 + interval '72 hours'
                    AND NOT EXISTS (SELECT 1 FROM bookings ob
                                     WHERE ob.slot_id = o.id AND ob.status <> 'cancelled'))
           FROM slots s JOIN experts e ON e.id = s.expert_id
          WHERE s.starts_at = $1 AND s.ends_at = $2 AND s.status = 'open'
            AND e.status = 'approved' AND e.id <> $3
            AND e.languages && (SELECT languages FROM experts WHERE id = $3)
            -- Never back to an expert who had it before (and gave it up).
            AND NOT EXISTS (SELECT 1 FROM audit_log a
                             WHERE a.target_id = $5 AND a.action = 'booking.reassign'
                               AND a.detail->>'from' = e.id::text)
            AND NOT EXISTS (SELECT 1 FROM bookings x
                             WHERE x.expert_id = s.expert_id AND x.status <> 'cancelled'
                               AND tstzrange(x.starts_at, x.ends_at) && tstzrange($1, $2))",
    )
    .bind(booking.starts_at)
    .bind(booking.ends_at)
    .bind(booking.expert_id.0)
    .bind(now)
    .bind(booking.id.0)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(expert, slot, open)| StandIn {
            expert_id: ExpertId(expert),
            slot_id: SlotId(slot),
            open_slots: u32::try_from(open).unwrap_or(u32::MAX),
        })
        .collect())
}

/// What `reassign` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reassigned {
    Reassigned,
    /// The booking is no longer its expert's confirmed booking, or its call
    /// is under way (a running call is not moved).
    NotActive,
    /// The stand-in's slot is taken, withdrawn, or their day is full.
    SlotTaken,
}

/// Moves `booking` from its expert to `to`'s slot `slot` (the
/// `reassign_booking` function: the same guards as a confirmation, the call
/// task's payload rewritten, `booking.reassigned` sent by the trigger).
#[tracing::instrument(skip(pool, booking), fields(booking_id = %booking.id))]
pub async fn reassign(
    pool: &PgPool,
    booking: &BookingRow,
    to: ExpertId,
    slot: SlotId,
    actor: &Actor,
) -> Result<Reassigned> {
    let task = call_task(
        booking.id,
        slot,
        to,
        booking.starts_at,
        booking.ends_at,
        &anxin_domain::seeker::alias(booking.seeker_id),
    );
    let mut tx = pool.begin().await?;
    let decided: std::result::Result<String, StoreError> =
        sqlx::query_scalar("SELECT reassign_booking($1, $2, $3, $4, $5)")
            .bind(booking.id.0)
            .bind(booking.expert_id.0)
            .bind(slot.0)
            .bind(to.0)
            .bind(task.encode_to_vec())
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from);
    match decided {
        Ok(d) if d == "reassigned" => {
            let detail = serde_json::json!({"from": booking.expert_id.0, "to": to.0});
            audit::record(
                &mut tx,
                actor,
                "booking.reassign",
                "booking",
                booking.id.0,
                detail,
            )
            .await?;
            tx.commit().await?;
            Ok(Reassigned::Reassigned)
        }
        Ok(d) if d == "not_active" => Ok(Reassigned::NotActive),
        Ok(d) if d == "slot_taken" => Ok(Reassigned::SlotTaken),
        Ok(d) => Err(StoreError::Corrupt(format!("reassign_booking: {d:?}"))),
        // The slot booked, or the stand-in booked over it, meanwhile.
        Err(StoreError::Conflict(_)) => Ok(Reassigned::SlotTaken),
        Err(e) => Err(e),
    }
}

/// Seals the notes and cancellation reasons written in the clear before
/// they were sealed at rest, and empties the plain columns; run at start-up
/// (the key is not in the database). Returns how many bookings it sealed.
#[tracing::instrument(skip_all)]
pub async fn seal_plain_text(pool: &PgPool, cipher: &crate::crypto::PhoneCipher) -> Result<u64> {
    let plain: Vec<(Uuid, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, note, cancel_reason FROM bookings
          WHERE note IS NOT NULL OR cancel_reason IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    for (id, note, reason) in &plain {
        let note = note.as_deref().map(|n| cipher.seal_text(n));
        let reason = reason.as_deref().map(|r| cipher.seal_text(r));
        sqlx::query(
            "UPDATE bookings SET note = NULL, cancel_reason = NULL,
                    note_ciphertext = COALESCE($2, note_ciphertext),
                    note_key_id = COALESCE($3, note_key_id),
                    cancel_reason_ciphertext = COALESCE($4, cancel_reason_ciphertext),
                    cancel_reason_key_id = COALESCE($5, cancel_reason_key_id)
              WHERE id = $1",
        )
        .bind(id)
        .bind(note.as_ref().map(|n| n.bytes.clone()))
        .bind(note.as_ref().map(|n| n.key_id.clone()))
        .bind(reason.as_ref().map(|r| r.bytes.clone()))
        .bind(reason.as_ref().map(|r| r.key_id.clone()))
        .execute(pool)
        .await?;
    }
    Ok(plain.len() as u64)
}

/// The seeker's confirmed bookings that have not ended.
#[tracing::instrument(skip(pool))]
pub async fn active_of_seeker(pool: &PgPool, seeker: SeekerId) -> Result<Vec<BookingId>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM bookings WHERE seeker_id = $1 AND status = 'confirmed' AND ends_at > now()",
    )
    .bind(seeker.0)
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(BookingId).collect())
}
