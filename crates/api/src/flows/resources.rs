//! The directory of resources for referral: kept by operators, read by
//! anyone with a token (the expert's referral form, `/ops`, the seeker app
//! when nothing is open).
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use anxin_domain::resource::{ResourceInput, ResourceKind};
use anxin_store::resources::{self, ResourceRow};
use uuid::Uuid;

/// Resources in service, of a region (code or pinyin) and kind when given.
pub async fn list(
    state: &AppState,
    region: Option<&str>,
    kind: Option<ResourceKind>,
) -> ApiResult<Vec<ResourceRow>> {
    let region = match region {
        Some(raw) => Some(crate::flows::regions::resolve(state, "region", raw).await?),
        None => None,
    };
    Ok(resources::list(&state.pool, region.as_deref(), kind).await?)
}

/// The hotlines of a region, for a seeker whom nothing suits.
pub async fn hotlines(state: &AppState, region: &str) -> ApiResult<Vec<ResourceRow>> {
    Ok(resources::list(&state.pool, Some(region), Some(ResourceKind::Hotline)).await?)
}

async fn checked(
    state: &AppState,
    input: &ResourceInput,
) -> ApiResult<anxin_domain::resource::Resource> {
    let mut r = input.validate()?;
    r.region = crate::flows::regions::resolve(state, "region", &r.region).await?;
    Ok(r)
}

pub async fn create(state: &AppState, input: &ResourceInput) -> ApiResult<Uuid> {
    let r = checked(state, input).await?;
    Ok(resources::insert(&state.pool, &r).await?)
}

pub async fn update(state: &AppState, id: Uuid, input: &ResourceInput) -> ApiResult<ResourceRow> {
    let r = checked(state, input).await?;
    resources::update(&state.pool, id, &r)
        .await?
        .ok_or(ApiError::NotFound("resource"))
}

pub async fn retire(state: &AppState, id: Uuid) -> ApiResult<()> {
    if resources::retire(&state.pool, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound("resource"))
    }
}
