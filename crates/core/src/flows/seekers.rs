//! Resolving a host-app subject to Anxin's pseudonymous seeker. The subject
//! goes no further than the keyed hash taken here.
use crate::error::AppResult;
use crate::state::AppState;
use crate::token::Principal;
use anxin_domain::seeker::PriorityGroup;
use anxin_store::seekers::{self, SeekerRow};

/// The seeker for this subject, created on first sight. Cached briefly per
/// instance; a priority-group change reaches other instances within the
/// cache's TTL (30 s).
pub async fn resolve(state: &AppState, subject: &str) -> AppResult<SeekerRow> {
    let hash = state.subjects.hash(subject);
    if let Some(row) = state.seeker_cache.get(&hash) {
        return Ok(row);
    }
    let row = seekers::resolve(&state.pool, &hash).await?;
    state.seeker_cache.insert(hash, row.clone());
    Ok(row)
}

/// The seeker a token speaks for, as the service treats them: what the
/// host app vouches for in the token (`group`, `region`) wins over what the
/// seeker declared; with `ANXIN_PRIORITY_FROM_TOKEN` a declared group counts
/// for nothing (anyone could declare themselves a medical worker).
pub async fn resolve_for(state: &AppState, principal: &Principal) -> AppResult<SeekerRow> {
    let mut row = resolve(state, &principal.sub).await?;
    apply_claims(state, principal, &mut row).await?;
    Ok(row)
}

async fn apply_claims(
    state: &AppState,
    principal: &Principal,
    row: &mut SeekerRow,
) -> AppResult<()> {
    match principal.group {
        Some(vouched) => {
            row.priority_group = vouched;
            row.priority_vouched = true;
        }
        None if state.config.priority_from_token => row.priority_group = PriorityGroup::General,
        None => {}
    }
    if let Some(claim) = &principal.region {
        // A claim naming no region is the host app's slip, not the
        // seeker's: it is passed over (the declared region stands).
        match crate::flows::regions::all(state)
            .await?
            .resolve("region", claim)
        {
            Ok(region) => row.region = Some(region.code.clone()),
            Err(_) => tracing::warn!("a token's region claim names no region; ignored"),
        }
    }
    Ok(())
}

/// Records what the seeker declares; returns them as the service treats
/// them (`resolve_for`).
pub async fn update(
    state: &AppState,
    principal: &Principal,
    seeker: &SeekerRow,
    priority_group: Option<PriorityGroup>,
    region: Option<&str>,
) -> AppResult<SeekerRow> {
    let mut row = seekers::update(&state.pool, seeker.id, priority_group, region).await?;
    state
        .seeker_cache
        .insert(state.subjects.hash(&principal.sub), row.clone());
    apply_claims(state, principal, &mut row).await?;
    Ok(row)
}

/// The seeker's erasure (`DELETE /v1/seekers/me`): their upcoming bookings
/// are cancelled as they would cancel them (the slot reopens, the fee is
/// refunded, the host app hears `booking.cancelled`), then every copy of
/// their number, their notes, reasons, `ref` and the link from the host-app
/// subject are erased (`store::seekers::erase`). Their past bookings remain
/// as anonymous figures. Returns how many bookings were cancelled.
#[tracing::instrument(skip_all, fields(seeker_id = %seeker.id))]
pub async fn erase(state: &AppState, principal: &Principal, seeker: &SeekerRow) -> AppResult<u32> {
    let mut cancelled = 0;
    for id in anxin_store::bookings::active_of_seeker(&state.pool, seeker.id).await? {
        match crate::flows::bookings::cancel(state, principal, Some(seeker), id, None).await {
            Ok(_) => cancelled += 1,
            // Ended or cancelled meanwhile: nothing to cancel.
            Err(crate::error::AppError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    seekers::erase(&state.pool, seeker.id).await?;
    // This instance forgets the subject at once; others within the cache's
    // TTL (30 s), after which the subject is a new seeker everywhere.
    state
        .seeker_cache
        .remove(&state.subjects.hash(&principal.sub));
    Ok(cancelled)
}
