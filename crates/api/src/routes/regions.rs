//! `GET /v1/regions` and the phased roll-out's switch,
//! `PUT /v1/regions/{code}`.
use crate::auth::{Authorized, OperatorOnly};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use actix_web::{web, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::region::Region;
use serde::Deserialize;

#[utoipa::path(get, path = "/v1/regions", tag = "service",
    description = "The provincial-level divisions Anxin serves (ISO 3166-2:CN codes), each with \
                   its Chinese and English name, its area and whether it is open for bookings. \
                   No token.",
    responses((status = 200, body = [Region])))]
pub async fn list(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let regions = flows::regions::all(&state).await?;
    Ok(HttpResponse::Ok().json(regions.all()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionSwitch {
    /// Open (taking bookings) or closed.
    pub open: bool,
}

#[utoipa::path(put, path = "/v1/regions/{code}", tag = "operators",
    description = "Opens or closes a region (the phased roll-out; audited). A seeker of a closed \
                   region is shown no experts and that region's hotlines. The code or the pinyin \
                   name.",
    params(("code" = String, Path, description = "`CN-HB` or `hubei`")),
    request_body = RegionSwitch,
    responses((status = 200, body = Region),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an operator, or an area's operator and the region outside its area"),
              (status = 404, body = ErrorBody, description = "no such region")),
    security(("bearer" = [])))]
pub async fn switch(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    code: web::Path<String>,
    body: Json<RegionSwitch>,
) -> ApiResult<HttpResponse> {
    let region = flows::regions::set_open(&state, &auth.principal, &code, body.0.open).await?;
    Ok(HttpResponse::Ok().json(region))
}
