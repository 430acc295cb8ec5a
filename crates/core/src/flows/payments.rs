//! The token fee: a payment per hold, paid before the hold is booked, and
//! given back when the seeker did not get what they paid for.
//!
//! - `start` creates the hold's payment (or returns it) and keeps the hold
//!   alive until the payment expires, so a seeker in the cashier is never
//!   overtaken by another seeker.
//! - `record_paid` takes a provider's word that the fee was paid, once; a
//!   repeated word changes nothing. The hold is then kept for another hold
//!   period, for the seeker to give their number and confirm.
//! - `require_paid` is the booking's check (402 `payment_required`).
//! - `settle`, run every few seconds by each API instance, expires unpaid
//!   payments, puts every refund owed into the outbox (once per payment,
//!   whatever races) and makes the due refunds through the provider,
//!   retrying with backoff.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::bookings::hold_expired;
use crate::payments::Queried;
use crate::state::AppState;
use anxin_domain::ids::{HoldId, PaymentId};
use anxin_domain::payment::{PaymentStatus, ProviderName};
use anxin_store::payments::{self, MarkPaid, NewPayment, PaymentRow};
use anxin_store::seekers::SeekerRow;
use anxin_store::StoreError;
use chrono::Utc;
use std::time::Duration;

/// A little more than the payment's time, so the hold outlives it.
const HOLD_MARGIN: Duration = Duration::from_secs(5);
/// How often `keep_settling` runs.
const SETTLE_EVERY: Duration = Duration::from_secs(5);
/// Refunds made per round.
const REFUNDS_PER_ROUND: i64 = 50;
/// The first retry of a refund the provider refused; later ones wait longer.
const REFUND_RETRY: chrono::Duration = chrono::Duration::seconds(30);
/// A payment whose notification has not come this long after it was made
/// is asked about (and again this long after each asking).
const QUERY_AFTER: chrono::Duration = chrono::Duration::seconds(60);
const QUERIES_PER_ROUND: i64 = 20;

pub struct Started {
    pub payment: PaymentRow,
    pub pay_url: String,
    /// False when the hold already had this payment.
    pub created: bool,
}

/// Creates (or returns) the hold's payment. 409 `invalid_transition` when
/// no fee is taken, `hold_expired` when the hold is gone.
#[tracing::instrument(skip_all, fields(seeker_id = %seeker.id, hold_id = %hold_id))]
pub async fn start(state: &AppState, seeker: &SeekerRow, hold_id: HoldId) -> AppResult<Started> {
    let Some(provider) = state.payment_step() else {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "no fee is taken here: book the hold directly",
        ));
    };
    let url = |payment: &PaymentRow| provider.pay_url(payment).map_err(AppError::internal);
    // A repeated request gets the payment it made, whatever became of it.
    if let Some(payment) = payments::by_hold(&state.pool, hold_id).await? {
        if payment.seeker_id != seeker.id {
            return Err(hold_expired());
        }
        return Ok(Started {
            pay_url: url(&payment)?,
            payment,
            created: false,
        });
    }
    let Some(record) = state.reserve.hold_record(seeker.id, hold_id).await? else {
        return Err(hold_expired());
    };
    let window = state.config.payment_window;
    if !state
        .reserve
        .extend_hold(&record, seeker.id, window + HOLD_MARGIN)
        .await?
    {
        return Err(hold_expired());
    }
    let new = NewPayment {
        id: PaymentId::new(),
        hold_id,
        seeker_id: seeker.id,
        expert_id: record.expert_id,
        slot_id: record.slot_id,
        provider: provider.name(),
        amount_minor: state.config.fee_minor,
        expires_at: Utc::now() + chrono::Duration::from_std(window).unwrap_or_default(),
    };
    let Some((payment, created)) = payments::create_or_get(&state.pool, &new).await? else {
        return Err(hold_expired());
    };
    if created {
        state.metrics.payment("started");
    }
    tracing::info!(payment_id = %payment.id, provider = provider.name().as_str(), "payment started");
    Ok(Started {
        pay_url: url(&payment)?,
        payment,
        created,
    })
}

/// The seeker's payment, or 404 (another seeker's too).
pub async fn of_seeker(
    state: &AppState,
    seeker: &SeekerRow,
    id: PaymentId,
) -> AppResult<PaymentRow> {
    match payments::get(&state.pool, id).await? {
        Some(p) if p.seeker_id == seeker.id => Ok(p),
        _ => Err(AppError::NotFound("payment")),
    }
}

pub async fn get(state: &AppState, id: PaymentId) -> AppResult<PaymentRow> {
    payments::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("payment"))
}

/// What a payment is for, as its cashier names it: the expert and the
/// slot's start.
pub async fn paid_for(
    state: &AppState,
    payment: &PaymentRow,
) -> AppResult<(String, chrono::DateTime<Utc>)> {
    let expert = anxin_store::experts::get(&state.pool, payment.expert_id).await?;
    let slot = anxin_store::slots::get(&state.pool, payment.slot_id).await?;
    Ok((expert.display_name, slot.starts_at))
}

/// Records a provider's word that the payment was made. Once paid, the hold
/// is kept for another hold period (when it is still live), for the seeker
/// to confirm; a payment whose hold already lapsed is refunded by `settle`.
#[tracing::instrument(skip(state, trade_no))]
pub async fn record_paid(
    state: &AppState,
    id: PaymentId,
    trade_no: Option<&str>,
) -> Result<MarkPaid, StoreError> {
    let marked = payments::mark_paid(&state.pool, id, trade_no).await?;
    if marked != MarkPaid::Paid {
        return Ok(marked);
    }
    state.metrics.payment("paid");
    tracing::info!("payment paid");
    if let Some(payment) = payments::get(&state.pool, id).await? {
        let keep = state.reserve.config().hold_ttl;
        let kept = match state
            .reserve
            .hold_record(payment.seeker_id, payment.hold_id)
            .await
        {
            Ok(Some(record)) => state
                .reserve
                .extend_hold(&record, payment.seeker_id, keep)
                .await
                .unwrap_or(false),
            _ => false,
        };
        if !kept {
            tracing::info!("paid after the hold lapsed; it will be refunded");
        }
    }
    Ok(marked)
}

/// The booking's check: with a payment step, a hold is booked only once its
/// fee is paid.
pub async fn require_paid(state: &AppState, seeker: &SeekerRow, hold: HoldId) -> AppResult<()> {
    if state.payment_step().is_none() {
        return Ok(());
    }
    match payments::by_hold(&state.pool, hold).await? {
        Some(p) if p.seeker_id == seeker.id && p.status == PaymentStatus::Paid => Ok(()),
        _ => Err(AppError::PaymentRequired(
            "the booking fee for this hold is not paid: POST /v1/holds/{id}/payment",
        )),
    }
}

/// What one round of `settle` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Pending payments the provider said were paid (late notifications).
    pub found_paid: u64,
    pub expired: u64,
    pub owed: u64,
    pub refunded: u64,
}

/// One round: expire unpaid payments, put owed refunds into the outbox,
/// make the due ones.
pub async fn settle(state: &AppState) -> Result<Settled, StoreError> {
    let found = query_overdue(state).await?;
    let mut done = Settled {
        expired: payments::expire_pending(&state.pool).await?,
        found_paid: found,
        ..Settled::default()
    };
    // A paid hold lapses a hold period after the payment (plus the time a
    // confirmation may take to commit); only then is it owed back.
    let lapse = state.reserve.config().hold_ttl + Duration::from_secs(60);
    done.owed = payments::owe_refunds(
        &state.pool,
        chrono::Duration::from_std(lapse).unwrap_or_default(),
    )
    .await?;
    for due in payments::take_due_refunds(&state.pool, REFUND_RETRY, REFUNDS_PER_ROUND).await? {
        let id = due.payment.id;
        let provider = state
            .payments
            .as_deref()
            .filter(|p| p.name() == due.payment.provider);
        let Some(provider) = provider else {
            let why = "the payment's provider is not configured here";
            tracing::warn!(payment_id = %id, why, "refund waits");
            payments::refund_failed(&state.pool, id, why).await?;
            continue;
        };
        match provider.refund(&due.payment).await {
            Ok(()) => {
                payments::refund_done(&state.pool, id).await?;
                state.metrics.payment("refunded");
                done.refunded += 1;
                tracing::info!(payment_id = %id, reason = due.reason.as_str(), "fee refunded");
            }
            Err(e) => {
                tracing::warn!(payment_id = %id, attempts = due.attempts, error = %e, "refund failed; retrying later");
                payments::refund_failed(&state.pool, id, &e.0).await?;
            }
        }
    }
    Ok(done)
}

/// What a provider's notification came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// Verified and recorded (a repeat changes nothing): answer `success`.
    Recorded,
}

/// Takes Alipay's asynchronous notification: verified with Alipay's public
/// key, for our merchant app, for one of our payments, for its amount; a
/// paid one is recorded once. Every notification is kept with its verdict;
/// a refused one changes nothing, is logged without its signature, and is
/// answered 400 (Alipay then sends it again, which a forger's won't pass
/// either).
pub async fn alipay_notified(
    state: &AppState,
    fields: &[(String, String)],
) -> AppResult<Notification> {
    let Some(alipay) = state
        .alipay
        .as_deref()
        .filter(|_| state.payment_step().is_some())
    else {
        return Err(AppError::NotFound(
            "Alipay payments are not configured here",
        ));
    };
    let notified = match alipay.verify_notification(fields) {
        Ok(n) => n,
        Err(e) => return refuse(state, None, None, &e.to_string()).await,
    };
    let id = notified.payment_id;
    let status = Some(notified.trade_status.as_str());
    let Some(payment) = payments::get(&state.pool, id).await? else {
        return refuse(
            state,
            None,
            status,
            "out_trade_no is not one of our payments",
        )
        .await;
    };
    if payment.provider != ProviderName::Alipay {
        return refuse(
            state,
            Some(id),
            status,
            "the payment is not an Alipay payment",
        )
        .await;
    }
    if notified.total_amount != anxin_domain::payment::yuan(payment.amount_minor) {
        return refuse(
            state,
            Some(id),
            status,
            "total_amount is not the payment's amount",
        )
        .await;
    }
    let verdict = if notified.is_paid() {
        match record_paid(state, id, notified.trade_no.as_deref()).await? {
            MarkPaid::Paid => "paid",
            MarkPaid::AlreadyPaid => "repeat",
            MarkPaid::Unknown => "unknown",
        }
    } else {
        "noted"
    };
    payments::record_notification(&state.pool, ProviderName::Alipay, Some(id), status, verdict)
        .await?;
    tracing::info!(payment_id = %id, verdict, "Alipay notification");
    Ok(Notification::Recorded)
}

/// Records a refused notification and answers 400, logged with its reason
/// (never its signature).
async fn refuse(
    state: &AppState,
    payment: Option<PaymentId>,
    status: Option<&str>,
    why: &str,
) -> AppResult<Notification> {
    tracing::warn!(payment_id = ?payment.map(|p| p.to_string()), why, "Alipay notification refused");
    let verdict = format!("refused: {why}");
    payments::record_notification(&state.pool, ProviderName::Alipay, payment, status, &verdict)
        .await?;
    Err(AppError::bad_request(
        ErrorCode::InvalidInput,
        format!("notification refused: {why}"),
        None,
    ))
}

/// Asks the provider about payments whose notification is overdue, and
/// records those it says were paid.
async fn query_overdue(state: &AppState) -> Result<u64, StoreError> {
    let Some(provider) = state.payments.as_deref() else {
        return Ok(0);
    };
    let overdue =
        payments::take_overdue(&state.pool, provider.name(), QUERY_AFTER, QUERIES_PER_ROUND)
            .await?;
    let mut found = 0;
    for payment in overdue {
        match provider.query(&payment).await {
            Ok(Queried::Paid { trade_no }) => {
                if record_paid(state, payment.id, trade_no.as_deref()).await? == MarkPaid::Paid {
                    found += 1;
                    tracing::info!(payment_id = %payment.id, "paid, found by query");
                }
            }
            Ok(Queried::NotPaid) => {}
            Err(e) => tracing::warn!(payment_id = %payment.id, error = %e, "payment query failed"),
        }
    }
    Ok(found)
}

/// Runs `settle` every few seconds, forever.
pub async fn keep_settling(state: &AppState) {
    let mut tick = tokio::time::interval(SETTLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if state.payments.is_none() {
            continue;
        }
        if let Err(e) = settle(state).await {
            tracing::warn!(error = %e, "settling payments failed; retrying next round");
        }
    }
}
