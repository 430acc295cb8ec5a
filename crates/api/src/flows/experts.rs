//! Vetting: moving an expert between applied, approved and suspended, audited,
//! with the Redis index following (approved experts are indexed, others not).
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use anxin_domain::expert::ExpertStatus;
use anxin_domain::ids::ExpertId;
use anxin_store::audit::{self, Actor};
use anxin_store::{experts, StoreError};

/// Sets the expert's status and records who did it; `via` notes where the
/// action came from (e.g. the dashboard) in the audit detail.
#[tracing::instrument(skip(state, actor))]
pub async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: ExpertId,
    status: ExpertStatus,
    via: Option<&str>,
) -> ApiResult<()> {
    let mut tx = state.pool.begin().await.map_err(StoreError::from)?;
    let row = experts::lock(&mut tx, id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::NotFound("expert"),
        e => e.into(),
    })?;
    let before = row.status;
    if !before.can_become(status) {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            format!(
                "a {} expert can't become {}",
                before.as_str(),
                status.as_str()
            ),
        ));
    }
    experts::set_status(&mut tx, id, status).await?;
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
        ExpertStatus::Approved => crate::flows::reconcile::expert(state, id).await?,
        _ => state.reserve.drop_expert(id).await?,
    }
    crate::flows::slate::invalidate(state).await;
    Ok(())
}
