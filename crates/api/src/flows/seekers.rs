//! Resolving a host-app subject to Anxin's pseudonymous seeker. The subject
//! goes no further than the keyed hash taken here.
use crate::error::ApiResult;
use crate::state::AppState;
use anxin_domain::seeker::PriorityGroup;
use anxin_store::seekers::{self, SeekerRow};

/// The seeker for this subject, created on first sight. Cached briefly per
/// instance; a priority-group change reaches other instances within the
/// cache's TTL (30 s).
pub async fn resolve(state: &AppState, subject: &str) -> ApiResult<SeekerRow> {
    let hash = state.subjects.hash(subject);
    if let Some(row) = state.seeker_cache.get(&hash) {
        return Ok(row);
    }
    let row = seekers::resolve(&state.pool, &hash).await?;
    state.seeker_cache.insert(hash, row.clone());
    Ok(row)
}

pub async fn update(
    state: &AppState,
    subject: &str,
    seeker: &SeekerRow,
    priority_group: Option<PriorityGroup>,
    region: Option<&str>,
) -> ApiResult<SeekerRow> {
    let row = seekers::update(&state.pool, seeker.id, priority_group, region).await?;
    state
        .seeker_cache
        .insert(state.subjects.hash(subject), row.clone());
    Ok(row)
}
