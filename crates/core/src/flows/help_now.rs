//! Help now: experts switch on duty; a seeker who needs to talk now joins
//! the queue and is told their place and an honest wait. The call worker
//! dispatches the queue and places the calls (`anxin_calls::worker`); this
//! side only records, tells and cancels.
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;
use anxin_domain::help_now::{
    estimate_wait_seconds, DutyInput, HelpNowInput, ASSUMED_CALL_SECONDS,
};
use anxin_domain::ids::ExpertId;
use anxin_domain::phone::PhoneNumber;
use anxin_store::help_now::{self as store, HelpNowRow, NewRequest, OnDuty, Queued};
use anxin_store::resources::ResourceRow;
use anxin_store::seekers::SeekerRow;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An expert's duty: `Some(until)` (`None` inside: until switched off)
/// while on duty.
pub type Duty = Option<Option<DateTime<Utc>>>;

pub async fn set_duty(state: &AppState, expert: ExpertId, input: &DutyInput) -> AppResult<Duty> {
    let until = input.validate(Utc::now())?;
    if input.on_duty {
        let approved = anxin_store::supervision::standing(&state.pool, expert)
            .await?
            .is_some_and(|s| s.approved);
        if !approved {
            return Err(AppError::conflict(
                ErrorCode::InvalidTransition,
                "only an approved expert can go on duty",
            ));
        }
        store::go_on_duty(&state.pool, expert, until).await?;
    } else {
        store::go_off_duty(&state.pool, expert).await?;
    }
    duty(state, expert).await
}

pub async fn duty(state: &AppState, expert: ExpertId) -> AppResult<Duty> {
    Ok(store::duty(&state.pool, expert).await?)
}

/// Where a request stands, as the seeker is told.
pub struct Standing {
    pub row: HelpNowRow,
    pub position: Option<i64>,
    pub estimated_wait_seconds: Option<u32>,
}

/// What asking for help now came to.
pub enum Asked {
    Queued(Standing),
    /// Nobody is on duty: the earliest slot that can be booked, and the
    /// seeker's region's hotlines.
    NobodyOnDuty {
        earliest_start: Option<DateTime<Utc>>,
        hotlines: Vec<ResourceRow>,
    },
}

pub struct Ask<'a> {
    pub input: &'a HelpNowInput,
    pub idempotency_key: Option<&'a str>,
}

/// Puts the seeker in the queue (202), or says why not: 409
/// `help_now_active` while they have a live request, `nobody_on_duty` when
/// no expert is on duty. A retry with the same Idempotency-Key gets the
/// first request.
#[tracing::instrument(skip_all, fields(seeker_id = %seeker.id))]
pub async fn ask(state: &AppState, seeker: &SeekerRow, ask: Ask<'_>) -> AppResult<Asked> {
    let wish = ask.input.validate()?;
    let phone = PhoneNumber::parse_in("phone", &ask.input.phone, &state.config.phone_country_code)?;
    let request_hash = state.subjects.request_hash(&format!(
        "help-now\n{}\n{}\n{}\n{}",
        phone.expose_e164(),
        wish.language.as_deref().unwrap_or(""),
        wish.topic.as_deref().unwrap_or(""),
        wish.note.as_deref().unwrap_or("")
    ));
    let duty = store::on_duty(&state.pool).await?;
    if duty.on_duty == 0 {
        // A retry of a request queued while someone was on duty still gets
        // it; anything else is told nobody is on duty (nothing is queued).
        let earlier = match ask.idempotency_key {
            Some(key) => store::by_key(&state.pool, seeker.id, key).await?,
            None => None,
        };
        return match earlier {
            Some(row) if row.request_hash == request_hash => {
                Ok(Asked::Queued(standing(state, row.id).await?))
            }
            Some(_) => Err(mismatch()),
            None if store::live_of(&state.pool, seeker.id).await?.is_some() => Err(active()),
            None => nobody_on_duty(state, seeker, &wish).await,
        };
    }
    let sealed = state.cipher.seal(&phone);
    let note = wish.note.as_deref().map(|n| state.cipher.seal_text(n));
    let new = NewRequest {
        seeker: seeker.id,
        group: seeker.priority_group,
        wish: &wish,
        region: seeker.region.as_deref(),
        phone: &sealed,
        note: note.as_ref(),
        idempotency_key: ask.idempotency_key,
        request_hash: &request_hash,
    };
    let id = match store::enqueue(&state.pool, &new).await? {
        Queued::Replay(row) if row.request_hash != request_hash => return Err(mismatch()),
        Queued::Replay(row) => row.id,
        Queued::Active(_) => return Err(active()),
        Queued::Queued(id) => id,
    };
    tracing::info!(help_now_id = %id, "help-now request queued");
    Ok(Asked::Queued(standing(state, id).await?))
}

fn mismatch() -> AppError {
    AppError::conflict(
        ErrorCode::IdempotencyMismatch,
        "this Idempotency-Key was used with a different request",
    )
}

fn active() -> AppError {
    AppError::conflict(
        ErrorCode::HelpNowActive,
        "you are already waiting to talk to someone; stay on this page, or leave the queue first",
    )
}

async fn nobody_on_duty(
    state: &AppState,
    seeker: &SeekerRow,
    wish: &anxin_domain::help_now::HelpNowWish,
) -> AppResult<Asked> {
    let from = Utc::now() + state.cutoff();
    let soonest = anxin_store::waitlist::candidate_slots(
        &state.pool,
        &anxin_domain::waitlist::Wish {
            language: wish.language.clone(),
            topic: None,
            expert_id: None,
            not_after: None,
        },
        from,
        1,
    )
    .await?;
    let earliest_start = match soonest.first() {
        Some((slot, _)) => Some(anxin_store::slots::get(&state.pool, *slot).await?.starts_at),
        None => None,
    };
    let hotlines = match seeker.region.as_deref() {
        Some(region) => crate::flows::resources::hotlines(state, region).await?,
        None => Vec::new(),
    };
    Ok(Asked::NobodyOnDuty {
        earliest_start,
        hotlines,
    })
}

/// The wait told to the seeker at `position`, from the experts on duty and
/// free now and the length of this week's help-now calls.
fn told_wait(state: &AppState, position: i64, duty: OnDuty, mean_call: Option<f64>) -> u32 {
    estimate_wait_seconds(
        u32::try_from(position).unwrap_or(u32::MAX),
        u32::try_from(duty.free).unwrap_or(0),
        u32::try_from(duty.on_duty).unwrap_or(0),
        mean_call.map_or(ASSUMED_CALL_SECONDS, |m| m.round() as u32),
        u32::try_from(state.config.help_now_ring.as_secs()).unwrap_or(u32::MAX),
    )
}

/// The request with its place and wait while queued.
pub async fn standing(state: &AppState, id: Uuid) -> AppResult<Standing> {
    let row = store::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("help-now request"))?;
    standing_of(state, row).await
}

async fn standing_of(state: &AppState, row: HelpNowRow) -> AppResult<Standing> {
    let (position, estimated_wait_seconds) = match row.status {
        anxin_domain::help_now::HelpNowStatus::Queued => {
            let position = store::position(&state.pool, row.id).await?;
            let (duty, mean) = tokio::try_join!(
                store::on_duty(&state.pool),
                store::mean_call_seconds(&state.pool)
            )?;
            (Some(position), Some(told_wait(state, position, duty, mean)))
        }
        _ => (None, None),
    };
    Ok(Standing {
        row,
        position,
        estimated_wait_seconds,
    })
}

/// The seeker's own request (404 for anyone else's), or any within an
/// operator's reach; its place and wait are worked out only once the
/// caller may see it.
pub async fn view(
    state: &AppState,
    principal: &crate::token::Principal,
    seeker: Option<&SeekerRow>,
    id: Uuid,
) -> AppResult<Standing> {
    let row = store::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("help-now request"))?;
    use crate::token::Role;
    match principal.role {
        Role::Seeker if seeker.map(|s| s.id) == Some(row.seeker_id) => {}
        Role::Operator => {
            crate::flows::reach::sees(state, principal, row.region.as_deref(), "help-now request")
                .await?
        }
        _ => return Err(AppError::NotFound("help-now request")),
    }
    standing_of(state, row).await
}

/// Leaves the queue: the request ends `cancelled` and an expert being rung
/// for it is hung up on; the seeker is never called. 404 for another's.
#[tracing::instrument(skip(state, seeker), fields(seeker_id = %seeker.id))]
pub async fn leave(state: &AppState, seeker: &SeekerRow, id: Uuid) -> AppResult<()> {
    match store::get(&state.pool, id).await? {
        Some(row) if row.seeker_id == seeker.id => {}
        _ => return Err(AppError::NotFound("help-now request")),
    }
    if store::cancel(&state.pool, id, seeker.id).await? {
        tracing::info!(help_now_id = %id, "seeker left the help-now queue");
    }
    Ok(())
}

/// Whether anyone is on duty now, and the wait a new request would be told.
pub struct Offer {
    pub on_duty: i64,
    pub estimated_wait_seconds: Option<u32>,
}

pub async fn offer(state: &AppState) -> AppResult<Offer> {
    let (duty, mean, queued) = tokio::try_join!(
        store::on_duty(&state.pool),
        store::mean_call_seconds(&state.pool),
        store::queued(&state.pool),
    )?;
    let estimated_wait_seconds =
        (duty.on_duty > 0).then(|| told_wait(state, queued + 1, duty, mean));
    Ok(Offer {
        on_duty: duty.on_duty,
        estimated_wait_seconds,
    })
}
