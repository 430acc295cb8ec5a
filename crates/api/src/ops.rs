//! Operator pages and figures.
use crate::auth::{Authorized, OperatorOnly};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/ops/summary", web::get().to(summary))
        .route("/ops", web::get().to(page));
}

#[utoipa::path(get, path = "/v1/ops/summary", tag = "operators",
    params(("window" = Option<String>, Query, description = "1h, 24h or 7d")),
    responses((status = 200, description = "funnel and match-rate figures"), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn summary(
    _auth: Authorized<OperatorOnly>,
    _state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    Err(crate::error::ApiError::Unavailable(
        "the operator summary is not built yet",
    ))
}

#[utoipa::path(get, path = "/ops", tag = "operators", responses((status = 200, description = "the dashboard page")))]
pub async fn page(_auth: Authorized<OperatorOnly>) -> ApiResult<HttpResponse> {
    Err(crate::error::ApiError::Unavailable(
        "the operator dashboard is not built yet",
    ))
}
