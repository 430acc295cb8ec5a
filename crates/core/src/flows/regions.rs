//! Regions: reading a region as people write it, and the phased roll-out.
//! The list is read from Postgres and kept briefly in each instance; a
//! region opened or closed here is seen at once on this instance and within
//! `REGIONS_TTL` on the others.
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::token::Principal;
use anxin_domain::region::{Region, Regions};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an instance trusts its copy of the regions' open switches.
pub const REGIONS_TTL: Duration = Duration::from_secs(5);

/// Every region, with its open switch.
pub async fn all(state: &AppState) -> AppResult<Arc<Regions>> {
    let fresh = || async {
        // Not in an `if let`'s scrutinee: the read guard would live on.
        let current = state.regions.read().await.clone();
        current
            .filter(|(at, _)| at.elapsed() < REGIONS_TTL)
            .map(|(_, regions)| regions)
    };
    if let Some(regions) = fresh().await {
        return Ok(regions);
    }
    // One request reads; the others wait for it. Every slate needs the
    // regions, so at each expiry every request under way would otherwise
    // read them at once.
    let _reading = state.regions_reading.lock().await;
    if let Some(regions) = fresh().await {
        return Ok(regions);
    }
    let regions = Arc::new(Regions::new(anxin_store::regions::list(&state.pool).await?));
    *state.regions.write().await = Some((Instant::now(), regions.clone()));
    Ok(regions)
}

/// The code of the region `raw` names (code or pinyin, any case; see
/// `Regions::resolve`); 422 naming `field` otherwise.
pub async fn resolve(state: &AppState, field: &str, raw: &str) -> AppResult<String> {
    Ok(all(state).await?.resolve(field, raw)?.code.clone())
}

/// Opens or closes a region (audited). 404 for an unknown one, 403 for
/// one outside an area operator's area.
pub async fn set_open(
    state: &AppState,
    principal: &Principal,
    raw: &str,
    open: bool,
) -> AppResult<Region> {
    let code = all(state)
        .await?
        .resolve("code", raw)
        .map_err(|_| AppError::NotFound("region"))?
        .code
        .clone();
    crate::flows::reach::may_place(state, principal, &code).await?;
    let region = anxin_store::regions::set_open(&state.pool, &principal.actor(), &code, open)
        .await?
        .ok_or(AppError::NotFound("region"))?;
    *state.regions.write().await = None;
    tracing::info!(region = %region.code, open, "region switched");
    Ok(region)
}
