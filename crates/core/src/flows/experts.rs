//! Experts: creating them; vetting, which moves an expert between applied,
//! approved and suspended, audited, with the Redis index following
//! (approved experts are indexed, others not); and listing an expert's open
//! slots.
use crate::error::{AppError, AppResult, ErrorCode, OrNotFound};
use crate::flows::handover::{self, HandedOver};
use crate::flows::{reconcile, seekers, slots};
use crate::state::AppState;
use crate::token::{Principal, Role};
use anxin_domain::booking::{reservable, RUNNING_FOR};
use anxin_domain::expert::{ExpertInput, ExpertStatus};
use anxin_domain::ids::ExpertId;
use anxin_reserve::IndexedSlot;
use anxin_store::audit::{self, Actor};
use anxin_store::{experts, StoreError};
use chrono::{DateTime, Utc};

/// The most slots one listing of an expert's slots reads.
const LISTED_AT_MOST: usize = 2000;

/// Creates an expert with this profile and status. With `audited_by`, the
/// creation is recorded in the audit log, in the insert's transaction.
#[tracing::instrument(skip_all, fields(status = status.as_str()))]
pub async fn create(
    state: &AppState,
    input: &ExpertInput,
    status: ExpertStatus,
    audited_by: Option<&Actor>,
) -> AppResult<ExpertId> {
    // A volunteer of an organisation: it must be approved, and their region
    // is the organisation's unless they give one.
    let organisation = match input.organisation_id {
        Some(org) => Some(crate::flows::organisations::open_to_volunteers(state, org).await?),
        None => None,
    };
    let mut input = input.clone();
    if let Some(org) = organisation
        .as_ref()
        .filter(|_| input.region.trim().is_empty())
    {
        input.region = org.region.clone();
    }
    let mut profile = input.validate(&state.config.phone_country_code)?;
    profile.region = crate::flows::regions::resolve(state, "region", &profile.region).await?;
    let id = ExpertId::new();
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    experts::insert(
        &mut *tx,
        id,
        &profile,
        &state.cipher.seal(&profile.phone),
        status,
        false,
    )
    .await?;
    if let Some(org) = &organisation {
        anxin_store::organisations::join(&mut tx, id.0, org.id).await?;
    }
    if let Some(actor) = audited_by {
        audit::record(
            &mut tx,
            actor,
            "expert.create",
            "expert",
            id.0,
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    // The catalog holds approved experts only.
    if status == ExpertStatus::Approved {
        crate::flows::slate::invalidate(state).await;
    }
    Ok(id)
}

/// Sets the expert's status and records who did it; `via` notes where the
/// action came from (e.g. the dashboard) in the audit detail. Suspension
/// then hands the expert's upcoming bookings over (`flows::handover`): the
/// status is committed first, so from that moment the call worker will not
/// dial them, and a repeated suspension finishes a handover cut short.
#[tracing::instrument(skip(state, actor))]
pub async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: ExpertId,
    status: ExpertStatus,
    via: Option<&str>,
) -> AppResult<HandedOver> {
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let row = experts::lock(&mut tx, id).await.or_not_found("expert")?;
    let before = row.status;
    if !before.can_become(status) {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "a {} expert can't become {}",
                before.as_str(),
                status.as_str()
            ),
        ));
    }
    if status == ExpertStatus::Approved && before != ExpertStatus::Approved {
        crate::flows::supervision::require_trained(&mut tx, id).await?;
    }
    experts::set_status(&mut tx, id, status).await?;
    if status == ExpertStatus::Suspended {
        // Their sessions end and their links lapse with the suspension.
        anxin_store::sign_in::end_expert_access(&mut tx, id).await?;
    }
    let action = if status == ExpertStatus::Approved {
        "expert.approve"
    } else {
        "expert.suspend"
    };
    let mut detail = serde_json::json!({"from": before.as_str()});
    if let Some(via) = via {
        detail["via"] = via.into();
    }
    audit::record(&mut tx, actor, action, "expert", id.0, detail).await?;
    tx.commit().await.map_err(StoreError::from)?;
    match status {
        ExpertStatus::Approved => reconcile::expert(state, id).await?,
        _ => state.reserve.drop_expert(id).await?,
    }
    crate::flows::slate::invalidate(state).await;
    if status == ExpertStatus::Suspended {
        return handover::expert_suspended(state, actor, id).await;
    }
    Ok(HandedOver::default())
}

/// Vetting by a person: the expert must be in the caller's reach (an
/// organisation's administrator vets their own volunteers only, 404 for
/// others; an area's operator their area's), then `set_status` as them.
/// `via` notes where it came from (the dashboard) in the audit record.
pub async fn vet(
    state: &AppState,
    principal: &Principal,
    id: ExpertId,
    status: ExpertStatus,
    via: Option<&str>,
) -> AppResult<HandedOver> {
    crate::flows::organisations::may_manage_expert(state, principal, id).await?;
    set_status(state, &principal.actor(), id, status, via).await
}

/// An approved expert's open slots that overlap `[from, to)`, earliest
/// first, as `principal` may see them: a general seeker doesn't see slots
/// held back for priority groups, and a running slot is listed until the
/// booking cutoff. 404 `expert` for an expert who is not approved. Rebuilds
/// the expert's index first when Redis lost it.
#[tracing::instrument(skip(state, principal))]
pub async fn open_slots(
    state: &AppState,
    principal: &Principal,
    expert: ExpertId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<Vec<IndexedSlot>> {
    let row = experts::get(&state.pool, expert)
        .await
        .or_not_found("expert")?;
    if row.status != ExpertStatus::Approved {
        return Err(AppError::NotFound("expert"));
    }
    // General seekers don't see slots held back for priority groups.
    let priority_seeker = match principal.role {
        Role::Seeker => seekers::resolve_for(state, principal)
            .await?
            .priority_group
            .is_priority(),
        _ => true,
    };
    if !state.reserve.is_indexed(expert).await? {
        reconcile::expert(state, expert).await?;
    }
    let cutoff = state.cutoff();
    let open: Vec<IndexedSlot> = state
        .reserve
        .open_slots(
            expert,
            from - RUNNING_FOR,
            to,
            priority_seeker,
            LISTED_AT_MOST,
        )
        .await?
        .into_iter()
        .filter(|s| reservable(s.ends_at, now, cutoff) && s.ends_at > from && s.starts_at < to)
        .collect();
    slots::shown(state, expert, &open);
    Ok(open)
}
