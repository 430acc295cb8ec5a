//! How far a person's authority reaches: a national operator everywhere, an
//! area operator within the regions of its area, an organisation's
//! administrator within its organisation (`flows::organisations::reach`).
//! Outside their reach things answer as if they did not exist (404), and
//! what they would place there is refused (403).
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::token::{Principal, Role};
use anxin_domain::region::Area;

/// The area an operator is scoped to; `None` for a national operator and
/// for every other role (whose reach is decided elsewhere).
pub async fn area(state: &AppState, principal: &Principal) -> AppResult<Option<Area>> {
    if principal.role != Role::Operator {
        return Ok(None);
    }
    Ok(anxin_store::sign_in::area_of(&state.pool, &principal.sub).await?)
}

/// The region codes within the caller's reach by place (`None`: no limit).
pub async fn regions(state: &AppState, principal: &Principal) -> AppResult<Option<Vec<String>>> {
    let Some(area) = area(state, principal).await? else {
        return Ok(None);
    };
    Ok(Some(
        crate::flows::regions::all(state)
            .await?
            .all()
            .iter()
            .filter(|r| r.area == area)
            .map(|r| r.code.clone())
            .collect(),
    ))
}

/// Whether `region` (a code; `None`: none known) is within the caller's
/// area: always for everyone but an area operator.
pub async fn covers(
    state: &AppState,
    principal: &Principal,
    region: Option<&str>,
) -> AppResult<bool> {
    Ok(match regions(state, principal).await? {
        None => true,
        Some(codes) => region.is_some_and(|r| codes.iter().any(|c| c == r)),
    })
}

/// 404 (`what`) unless the thing in `region` is within the caller's area.
pub async fn sees(
    state: &AppState,
    principal: &Principal,
    region: Option<&str>,
    what: &'static str,
) -> AppResult<()> {
    if covers(state, principal, region).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(what))
    }
}

/// 403 unless the caller may place something in `region` (a code).
pub async fn may_place(state: &AppState, principal: &Principal, region: &str) -> AppResult<()> {
    if covers(state, principal, Some(region)).await? {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "an area's operator acts within the regions of its area only",
        ))
    }
}
