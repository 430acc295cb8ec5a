//! The directory of resources for referral: kept by operators and, for
//! their organisation's region, by its administrators; read by anyone with
//! a token (the expert's referral form, `/ops`, `/org`, the seeker app when
//! nothing is open).
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::token::Principal;
use anxin_domain::resource::{ResourceInput, ResourceKind};
use anxin_store::resources::{self, ResourceRow};
use uuid::Uuid;

/// Resources in service, of a region (code or pinyin) and kind when given.
pub async fn list(
    state: &AppState,
    region: Option<&str>,
    kind: Option<ResourceKind>,
) -> AppResult<Vec<ResourceRow>> {
    let region = match region {
        Some(raw) => Some(crate::flows::regions::resolve(state, "region", raw).await?),
        None => None,
    };
    Ok(resources::list(&state.pool, region.as_deref(), kind).await?)
}

/// The hotlines of a region, for a seeker whom nothing suits.
pub async fn hotlines(state: &AppState, region: &str) -> AppResult<Vec<ResourceRow>> {
    Ok(resources::list(&state.pool, Some(region), Some(ResourceKind::Hotline)).await?)
}

async fn checked(
    state: &AppState,
    input: &ResourceInput,
) -> AppResult<anxin_domain::resource::Resource> {
    let mut r = input.validate()?;
    r.region = crate::flows::regions::resolve(state, "region", &r.region).await?;
    Ok(r)
}

/// Whether the caller keeps resources of `region`: a national operator
/// anywhere, an area's operator in its area's regions, an organisation's
/// administrator in its organisation's region only (403 elsewhere).
async fn may_keep(state: &AppState, principal: &Principal, region: &str) -> AppResult<()> {
    let Some(org) = crate::flows::organisations::reach(state, principal).await? else {
        // An operator: an area's within its area.
        return crate::flows::reach::may_place(state, principal, region).await;
    };
    if crate::flows::organisations::get(state, org).await?.region == region {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "an organisation's administrator keeps the resources of its own region only",
        ))
    }
}

/// A resource in service the caller keeps; 404 for none, and for another
/// region's to an organisation's administrator (as if it did not exist).
async fn kept(state: &AppState, principal: &Principal, id: Uuid) -> AppResult<ResourceRow> {
    let row = resources::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("resource"))?;
    match may_keep(state, principal, &row.resource.region).await {
        Err(AppError::Forbidden(_)) => Err(AppError::NotFound("resource")),
        kept => kept.map(|()| row),
    }
}

pub async fn create(
    state: &AppState,
    principal: &Principal,
    input: &ResourceInput,
) -> AppResult<Uuid> {
    let r = checked(state, input).await?;
    may_keep(state, principal, &r.region).await?;
    Ok(resources::insert(&state.pool, &r).await?)
}

/// Replaces a resource; an organisation's administrator may not move it
/// out of its region.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: &ResourceInput,
) -> AppResult<ResourceRow> {
    kept(state, principal, id).await?;
    let r = checked(state, input).await?;
    may_keep(state, principal, &r.region).await?;
    resources::update(&state.pool, id, &r)
        .await?
        .ok_or(AppError::NotFound("resource"))
}

pub async fn retire(state: &AppState, principal: &Principal, id: Uuid) -> AppResult<()> {
    kept(state, principal, id).await?;
    if resources::retire(&state.pool, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("resource"))
    }
}
