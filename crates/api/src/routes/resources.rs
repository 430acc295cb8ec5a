//! `/v1/resources`: the directory of where to refer, per region.
use crate::auth::{AnyHolder, Authorized, OperatorOrOrgAdmin};
use crate::error::{ApiResult, AppError, ErrorBody, ErrorCode};
use crate::extract::{path_id, Json};
use actix_web::{web, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::resource::{ResourceInput, ResourceKind};
use anxin_store::resources::ResourceRow;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResourceView {
    pub id: Uuid,
    pub name: String,
    pub kind: ResourceKind,
    /// The region's code.
    pub region: String,
    pub phone: String,
    pub hours: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl From<ResourceRow> for ResourceView {
    fn from(r: ResourceRow) -> Self {
        Self {
            id: r.id,
            name: r.resource.name,
            kind: r.resource.kind,
            region: r.resource.region,
            phone: r.resource.phone,
            hours: r.resource.hours,
            address: r.resource.address,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// A region code or pinyin name.
    #[param(required = false, max_length = 64)]
    region: Option<String>,
    /// `mental_health_centre`, `hotline`, `hospital` or `social_service`.
    #[param(required = false, value_type = Option<ResourceKind>)]
    kind: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResourceCreated {
    pub id: Uuid,
}

#[utoipa::path(get, path = "/v1/resources", tag = "referrals", params(ResourceQuery),
    description = "Resources in service (hotlines first), of a region and a kind when given.",
    responses((status = 200, body = [ResourceView]),
              (status = 400, body = ErrorBody, description = "`invalid_query`: an unknown kind"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: an unknown region")),
    security(("bearer" = [])))]
pub async fn list(
    _auth: Authorized<AnyHolder>,
    state: web::Data<AppState>,
    q: web::Query<ResourceQuery>,
) -> ApiResult<HttpResponse> {
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            ResourceKind::parse(k).ok_or_else(|| {
                AppError::bad_request(
                    ErrorCode::InvalidQuery,
                    "kind: mental_health_centre, hotline, hospital or social_service",
                    Some("kind"),
                )
            })
        })
        .transpose()?;
    let rows = flows::resources::list(&state, q.region.as_deref(), kind).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(ResourceView::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/v1/resources", tag = "referrals", request_body = ResourceInput,
    description = "Adds a resource: operators in any region, an organisation's administrator in \
                   its organisation's region only.",
    responses((status = 201, body = ResourceCreated),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an operator, or an organisation's administrator naming another region"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: a field breaks a rule (named in `field`), e.g. an unknown region")),
    security(("bearer" = [])))]
pub async fn create(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    body: Json<ResourceInput>,
) -> ApiResult<HttpResponse> {
    let id = flows::resources::create(&state, &auth.principal, &body.0).await?;
    Ok(HttpResponse::Created().json(ResourceCreated { id }))
}

#[utoipa::path(put, path = "/v1/resources/{id}", tag = "referrals", request_body = ResourceInput,
    description = "Edits a resource: operators any, an organisation's administrator those of its \
                   organisation's region, which it may not move to another.",
    params(("id" = Uuid, Path, description = "resource id")),
    responses((status = 200, body = ResourceView),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an operator, or an organisation's administrator moving it to another region"),
              (status = 404, body = ErrorBody, description = "no such resource in service (or, to an organisation's administrator, not of its region)"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: a field breaks a rule (named in `field`), e.g. an unknown region")),
    security(("bearer" = [])))]
pub async fn update(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<ResourceInput>,
) -> ApiResult<HttpResponse> {
    let id = path_id("id", &id)?;
    let row = flows::resources::update(&state, &auth.principal, id, &body.0).await?;
    Ok(HttpResponse::Ok().json(ResourceView::from(row)))
}

#[utoipa::path(delete, path = "/v1/resources/{id}", tag = "referrals",
    description = "Retires a resource: no longer listed; referrals that name it keep it. \
                   Operators any; an organisation's administrator those of its organisation's \
                   region.",
    params(("id" = Uuid, Path, description = "resource id")),
    responses((status = 204, description = "retired"),
              (status = 404, body = ErrorBody, description = "no such resource in service (or, to an organisation's administrator, not of its region)")),
    security(("bearer" = [])))]
pub async fn retire(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    flows::resources::retire(&state, &auth.principal, path_id("id", &id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
