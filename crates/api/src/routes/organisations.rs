//! Organisations: the application (`POST /v1/organisation-applications` and
//! the form at `/apply/organisation`), vetting by operators, and the public
//! list (`GET /v1/organisations`, the page `/organisations`: 公示).
use crate::auth::{Authorized, OperatorOnly, OperatorOrOrgAdmin};
use crate::error::{ApiResult, AppError, AppResult, ErrorBody, ErrorCode};
use crate::extract::{path_id, Json};
use crate::pages::{self, choices, form_field, region_choices, Choice, Lang};
use crate::routes::sign_in::{check_rate, wants_html};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::organisation::{OrganisationInput, OrganisationKind, OrganisationStatus};
use anxin_domain::vocabulary;
use anxin_store::organisations::OrganisationRow;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganisationStatusView {
    pub id: Uuid,
    pub status: OrganisationStatus,
    /// The batch it was published in (approved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<i32>,
    /// Experts suspended with it (suspension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experts_suspended: Option<usize>,
}

/// An organisation as the public list shows it: no contact data.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublishedOrganisation {
    pub id: Uuid,
    pub name: String,
    pub kind: OrganisationKind,
    /// The region's code.
    pub region: String,
    pub approved_at: Option<DateTime<Utc>>,
    pub batch: Option<i32>,
}

impl From<&OrganisationRow> for PublishedOrganisation {
    fn from(o: &OrganisationRow) -> Self {
        Self {
            id: o.id,
            name: o.name.clone(),
            kind: o.kind,
            region: o.region.clone(),
            approved_at: o.approved_at,
            batch: o.batch,
        }
    }
}

#[utoipa::path(post, path = "/v1/organisation-applications", tag = "organisations",
    request_body = OrganisationInput,
    description = "An organisation applies to join (no token; limited per address). It awaits \
                   vetting on `/ops`; the contact's phone is sealed and never published.",
    responses((status = 201, body = OrganisationStatusView),
              (status = 422, body = ErrorBody, description = "`invalid_input`: a field breaks a rule (named in `field`)"),
              (status = 429, body = ErrorBody, description = "`rate_limited`: too many applications from this address",
               headers(("Retry-After" = u64, description = "Seconds to wait before trying again.")))))]
pub async fn apply(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<OrganisationInput>,
) -> ApiResult<HttpResponse> {
    check_rate(&req, &state.application_limiter)?;
    let id = flows::organisations::apply(&state, &body.0).await?;
    Ok(HttpResponse::Created().json(OrganisationStatusView {
        id,
        status: OrganisationStatus::Applied,
        batch: None,
        experts_suspended: None,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrganisationQuery {
    /// A region code or pinyin name.
    #[param(required = false, max_length = 64)]
    region: Option<String>,
    /// `social_work`, `psychological`, `medical` or `other`.
    #[param(required = false, value_type = Option<OrganisationKind>)]
    kind: Option<String>,
    /// The page's language (for `/organisations`; read by `Lang::of`).
    #[param(required = false, pattern = "^(zh|en)$")]
    #[allow(dead_code)]
    lang: Option<String>,
}

fn kind_filter(raw: Option<&str>) -> AppResult<Option<OrganisationKind>> {
    raw.filter(|k| !k.is_empty())
        .map(|k| {
            OrganisationKind::parse(k).ok_or_else(|| {
                AppError::bad_request(
                    ErrorCode::InvalidQuery,
                    "kind: social_work, psychological, medical or other",
                    Some("kind"),
                )
            })
        })
        .transpose()
}

#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", params(OrganisationQuery),
    description = "The public list of approved organisations (公示), by batch: no contact data. \
                   No token.",
    responses((status = 200, body = [PublishedOrganisation]),
              (status = 400, body = ErrorBody, description = "`invalid_query`: an unknown kind"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: an unknown region")))]
pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<OrganisationQuery>,
) -> ApiResult<HttpResponse> {
    let kind = kind_filter(q.kind.as_deref())?;
    let rows = flows::organisations::published(
        &state,
        q.region.as_deref().filter(|r| !r.is_empty()),
        kind,
    )
    .await?;
    Ok(HttpResponse::Ok().json(
        rows.iter()
            .map(PublishedOrganisation::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The batch to publish it in; the latest batch when absent.
    #[schema(minimum = 1, maximum = 10000)]
    pub batch: Option<i32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Why, for the organisation (1–500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

fn status_view(o: &OrganisationRow, experts_suspended: Option<usize>) -> HttpResponse {
    HttpResponse::Ok().json(OrganisationStatusView {
        id: o.id,
        status: o.status,
        batch: o.batch,
        experts_suspended,
    })
}

#[utoipa::path(post, path = "/v1/organisations/{id}/approve", tag = "organisations",
    params(("id" = Uuid, Path, description = "organisation id")),
    request_body(content = Approval, description = "optional"),
    responses((status = 200, body = OrganisationStatusView),
              (status = 404, body = ErrorBody, description = "no such organisation"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: rejected"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: batch out of range")),
    security(("bearer" = [])))]
pub async fn approve(
    req: actix_web::HttpRequest,
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    // Without a body, the next batch; a body that is not an `Approval` is
    // refused, never ignored.
    let batch = crate::extract::optional_json_body::<Approval>(&req, &body)?.and_then(|b| b.batch);
    let row =
        flows::organisations::approve(&state, &auth.principal, path_id("id", &id)?, batch).await?;
    Ok(status_view(&row, None))
}

#[utoipa::path(post, path = "/v1/organisations/{id}/reject", tag = "organisations",
    params(("id" = Uuid, Path, description = "organisation id")),
    request_body = Rejection,
    responses((status = 200, body = OrganisationStatusView),
              (status = 404, body = ErrorBody, description = "no such organisation"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: already approved or suspended"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: no reason")),
    security(("bearer" = [])))]
pub async fn reject(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<Rejection>,
) -> ApiResult<HttpResponse> {
    let row =
        flows::organisations::reject(&state, &auth.principal, path_id("id", &id)?, &body.0.reason)
            .await?;
    Ok(status_view(&row, None))
}

#[utoipa::path(post, path = "/v1/organisations/{id}/suspend", tag = "organisations",
    description = "Suspends an approved organisation and every approved expert of it: each \
                   expert's upcoming bookings are handed to another free expert or cancelled \
                   and refunded, as for any suspended expert.",
    params(("id" = Uuid, Path, description = "organisation id")),
    responses((status = 200, body = OrganisationStatusView),
              (status = 404, body = ErrorBody, description = "no such organisation"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: not approved")),
    security(("bearer" = [])))]
pub async fn suspend(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (row, experts) =
        flows::organisations::suspend(&state, &auth.principal, path_id("id", &id)?).await?;
    Ok(status_view(&row, Some(experts)))
}

// ---- pages -------------------------------------------------------------------

/// The application form (`templates/apply_organisation.html`).
#[derive(askama::Template)]
#[template(path = "apply_organisation.html")]
struct ApplyPage<'a> {
    lang: Lang,
    title: &'a str,
    form: &'a OrganisationForm,
    notice: Option<&'a str>,
    kinds: Vec<Choice>,
    regions: Vec<Choice>,
}

/// What the form sent, kept to fill it again.
#[derive(Default)]
struct OrganisationForm {
    name: String,
    kind: String,
    region: String,
    contact_name: String,
    contact_phone: String,
    description: String,
}

async fn form_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    form: &OrganisationForm,
    notice: Option<&str>,
) -> ApiResult<HttpResponse> {
    let regions = flows::regions::all(state).await?;
    let chosen = regions
        .resolve("region", &form.region)
        .ok()
        .map(|r| r.code.clone());
    Ok(pages::render(
        status,
        &ApplyPage {
            lang,
            title: lang.t("apply_organisation", "Apply as an organisation"),
            form,
            notice,
            kinds: choices(lang, vocabulary::ORGANISATION_KINDS, &[form.kind.as_str()]),
            regions: region_choices(lang, &regions, chosen.as_deref()),
        },
    ))
}

#[utoipa::path(get, path = "/apply/organisation", tag = "organisations",
    description = "The organisations' application form (zh-CN, or English by `Accept-Language` / \
                   `?lang=en`); it posts to `POST /apply/organisation`.",
    responses((status = 200, description = "the form", content_type = "text/html")))]
pub async fn apply_page(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    form_page(
        &state,
        Lang::of(&req),
        StatusCode::OK,
        &OrganisationForm::default(),
        None,
    )
    .await
}

#[utoipa::path(post, path = "/apply/organisation", tag = "organisations",
    description = "Sends the organisation's application from the form \
                   (`application/x-www-form-urlencoded`, the fields of `OrganisationInput`). No \
                   token; limited per address. 201 with a thank-you page; a field that breaks a \
                   rule gets the form again (422), filled in, saying which.",
    request_body(content = OrganisationInput, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, description = "received", content_type = "text/html"),
              (status = 422, description = "`invalid_input`: the form again, saying which field",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 429, body = ErrorBody, description = "`rate_limited`",
               headers(("Retry-After" = u64, description = "Seconds to wait before trying again.")))))]
pub async fn apply_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    check_rate(&req, &state.application_limiter)?;
    let field = |name| form_field(&body, name).unwrap_or_default();
    let form = OrganisationForm {
        name: field("name"),
        kind: field("kind"),
        region: field("region"),
        contact_name: field("contact_name"),
        contact_phone: field("contact_phone"),
        description: field("description"),
    };
    let Some(kind) = OrganisationKind::parse(&form.kind) else {
        let which = lang.t("organisations", "Please choose the kind of organisation.");
        return form_page(
            &state,
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            Some(which),
        )
        .await;
    };
    let input = OrganisationInput {
        name: form.name.clone(),
        kind,
        region: form.region.clone(),
        contact_name: form.contact_name.clone(),
        contact_phone: form.contact_phone.clone(),
        description: form.description.clone(),
    };
    match flows::organisations::apply(&state, &input).await {
        Ok(_) => Ok(pages::render(
            StatusCode::CREATED,
            &pages::Message {
                lang,
                title: lang.t("organisations", "Application sent"),
                text: lang.t("organisations", "Thank you! Your application is in. Our staff will assess it and contact you; once approved, the organisation appears in the published list."),
                id: Some("thanks"),
                role: Some("status"),
                notice: false,
            },
        )),
        Err(e @ AppError::Unprocessable { .. }) if !wants_html(&req) => Err(e.into()),
        Err(AppError::Unprocessable { field, .. }) => {
            let which = match field.as_deref().unwrap_or("") {
                "name" => lang.t("organisations", "Please give the organisation's name."),
                "region" => lang.t("organisations", "Please choose the organisation's province."),
                "contact_name" => lang.t("organisations", "Please give a contact person."),
                "contact_phone" => lang.t("organisations", "That phone number is not valid; write an 11-digit mobile such as 138 0000 0000, or + and the number."),
                "description" => lang.t("organisations", "Please describe the organisation's services."),
                _ => lang.t("organisations", "Please check what you wrote."),
            };
            form_page(&state, lang, StatusCode::UNPROCESSABLE_ENTITY, &form, Some(which)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// One batch of the public list.
struct Batch {
    number: i32,
    organisations: Vec<ListedOrganisation>,
}

struct ListedOrganisation {
    name: String,
    kind: String,
    region: String,
    approved_on: String,
}

/// The public list as a page (`templates/organisations.html`).
#[derive(askama::Template)]
#[template(path = "organisations.html")]
struct ListPage<'a> {
    lang: Lang,
    title: &'a str,
    batches: Vec<Batch>,
    total: usize,
    kinds: Vec<Choice>,
    regions: Vec<Choice>,
}

#[utoipa::path(get, path = "/organisations", tag = "organisations", params(OrganisationQuery),
    description = "The public list of approved organisations as a page (公示), by batch, \
                   filterable by region and kind; zh-CN or English.",
    responses((status = 200, description = "the page", content_type = "text/html"),
              (status = 400, body = ErrorBody, description = "`invalid_query`: an unknown kind"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: an unknown region")))]
pub async fn list_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<OrganisationQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let kind = kind_filter(q.kind.as_deref())?;
    let region = q.region.as_deref().filter(|r| !r.is_empty());
    let rows = flows::organisations::published(&state, region, kind).await?;
    let regions = flows::regions::all(&state).await?;
    let region_name = |code: &str| {
        regions
            .get(code)
            .map(|r| match lang {
                Lang::Zh => r.name_zh.clone(),
                Lang::En => r.name_en.clone(),
            })
            .unwrap_or_else(|| code.to_string())
    };
    let kind_name = |k: OrganisationKind| {
        vocabulary::ORGANISATION_KINDS
            .iter()
            .find(|t| t.code == k.as_str())
            .map_or(k.as_str(), |t| lang.pick(t.zh, t.en))
            .to_string()
    };
    let mut batches: Vec<Batch> = Vec::new();
    for o in &rows {
        let number = o.batch.unwrap_or(1);
        if batches.last().is_none_or(|b| b.number != number) {
            batches.push(Batch {
                number,
                organisations: Vec::new(),
            });
        }
        if let Some(b) = batches.last_mut() {
            b.organisations.push(ListedOrganisation {
                name: o.name.clone(),
                kind: kind_name(o.kind),
                region: region_name(&o.region),
                approved_on: o
                    .approved_at
                    .map(|t| {
                        anxin_domain::clock::beijing(t)
                            .format("%Y-%m-%d")
                            .to_string()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    let chosen_region = region
        .and_then(|r| regions.resolve("region", r).ok())
        .map(|r| r.code.clone());
    let chosen_kind = kind.map(OrganisationKind::as_str);
    Ok(pages::render(
        StatusCode::OK,
        &ListPage {
            lang,
            title: lang.t("organisations", "Published: organisations in Anxin"),
            total: rows.len(),
            batches,
            kinds: choices(
                lang,
                vocabulary::ORGANISATION_KINDS,
                &chosen_kind.into_iter().collect::<Vec<_>>(),
            ),
            regions: region_choices(lang, &regions, chosen_region.as_deref()),
        },
    ))
}

// ---- the organisation's administrators ------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// The administrator's name: their account, as the audit log records it.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminLink {
    pub admin_id: Uuid,
    /// A one-time sign-in link to `/org`; send it by the organisation's own
    /// channel. Shown only this once.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/v1/organisations/{id}/admins", tag = "organisations",
    description = "A one-time sign-in link for an administrator of an approved organisation                    (created if new; audited). They see and act on their own organisation only.",
    params(("id" = Uuid, Path, description = "organisation id")),
    request_body = NewAdmin,
    responses((status = 201, body = AdminLink),
              (status = 404, body = ErrorBody, description = "no such organisation"),
              (status = 409, body = ErrorBody, description = "`invalid_transition`: the organisation is not approved, or the name is another account's"),
              (status = 422, body = ErrorBody, description = "`invalid_input`: the name is blank or too long")),
    security(("bearer" = [])))]
pub async fn admins(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<NewAdmin>,
) -> ApiResult<HttpResponse> {
    let org = flows::organisations::may_read(&state, &auth.principal, path_id("id", &id)?).await?;
    if org.status != OrganisationStatus::Approved {
        return Err(AppError::conflict(
            ErrorCode::InvalidTransition,
            "only an approved organisation has administrators",
        )
        .into());
    }
    let (admin_id, link) =
        flows::sign_in::link_for_org_admin(&state, &auth.principal.actor(), org.id, &body.0.name)
            .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(AdminLink {
            admin_id,
            url: link.url,
            expires_at: link.expires_at,
        }))
}

/// One of the organisation's experts, as its administrators see them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: Uuid,
    pub display_name: String,
    pub status: anxin_domain::expert::ExpertStatus,
    pub region: String,
    /// Carries the supervisor flag.
    pub supervisor: bool,
    /// Every required training module done (approval waits for it).
    pub training_complete: bool,
    /// The required modules not yet done, by title.
    pub training_missing: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    pub applied_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/organisations/{id}/experts", tag = "organisations",
    description = "The organisation's experts (applicants first): to its administrators and to                    operators. Another organisation's administrator gets 404.",
    params(("id" = Uuid, Path, description = "organisation id")),
    responses((status = 200, body = [MemberView]),
              (status = 404, body = ErrorBody, description = "no such organisation (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn experts(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let org = flows::organisations::may_read(&state, &auth.principal, path_id("id", &id)?).await?;
    let members = flows::organisations::members(&state, org.id).await?;
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let mut missing = anxin_store::supervision::missing_for(&state.pool, &ids).await?;
    let view: Vec<MemberView> = members
        .into_iter()
        .filter_map(|m| {
            Some(MemberView {
                status: anxin_domain::expert::ExpertStatus::parse(&m.status)?,
                id: m.id,
                display_name: m.display_name,
                region: m.region,
                supervisor: m.supervisor,
                training_complete: m.training_complete,
                training_missing: missing.remove(&m.id).unwrap_or_default(),
                bio: m.bio,
                applied_at: m.created_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(view))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrganisationSummaryQuery {
    /// `1h`, `24h` (default) or `7d`.
    #[param(schema_with = crate::ops::window_schema, required = false)]
    window: Option<String>,
}

#[utoipa::path(get, path = "/v1/organisations/{id}/summary", tag = "organisations",
    params(("id" = Uuid, Path, description = "organisation id"), OrganisationSummaryQuery),
    description = "The figures of `GET /v1/ops/summary` for the organisation's experts only: to \
                   its administrators and to operators. Seekers count when a slate showed one \
                   of its experts, or they held or booked one; fairness and utilization are \
                   over its experts. Another organisation's administrator gets 404.",
    responses((status = 200, body = anxin_core::figures::Summary),
              (status = 400, body = ErrorBody, description = "`invalid_query`: window is not 1h, 24h or 7d"),
              (status = 404, body = ErrorBody, description = "no such organisation (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn summary(
    auth: Authorized<OperatorOrOrgAdmin>,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<OrganisationSummaryQuery>,
) -> ApiResult<HttpResponse> {
    let org = flows::organisations::may_read(&state, &auth.principal, path_id("id", &id)?).await?;
    let scope = anxin_store::events::Scope {
        organisation: Some(org.id),
        ..Default::default()
    };
    crate::ops::summary_of(&req, &state, q.window.as_deref(), scope).await
}

/// The organisation's page (`templates/org.html`); org.js draws the rest.
#[derive(askama::Template)]
#[template(path = "org.html")]
struct OrgPage {
    lang: Lang,
    id: String,
    name: String,
    /// The organisation's region, whose resources it keeps.
    region: String,
    region_name: String,
    kinds: Vec<Choice>,
}

#[utoipa::path(get, path = "/org", tag = "organisations",
    description = "The organisation's page for its administrator's browser (zh-CN or English):                    its applicants and experts, approve and suspend, sign-in links. Without a                    session, how to sign in; other roles get 403.",
    responses((status = 200, description = "the page, or how to sign in", content_type = "text/html"),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an organisation's administrator")),
    security((), ("bearer" = []), ("session" = [])))]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    use crate::auth::{Credential, Role};
    let lang = Lang::of(&req);
    match crate::auth::credential(&req).await {
        Credential::Valid(p, _) if p.role == Role::OrgAdmin => {
            let Some(org) = flows::organisations::reach(&state, &p).await? else {
                return Err(AppError::Forbidden("the page is for an organisation's administrators").into());
            };
            let org = flows::organisations::get(&state, org).await?;
            let region_name = flows::regions::all(&state)
                .await?
                .get(&org.region)
                .map(|r| match lang {
                    Lang::Zh => r.name_zh.clone(),
                    Lang::En => r.name_en.clone(),
                })
                .unwrap_or_else(|| org.region.clone());
            Ok(pages::render(
                StatusCode::OK,
                &OrgPage {
                    lang,
                    id: org.id.to_string(),
                    name: org.name,
                    region: org.region,
                    region_name,
                    kinds: choices(lang, vocabulary::RESOURCE_KINDS, &[]),
                },
            ))
        }
        Credential::Valid(..) => Err(AppError::Forbidden(
            "the page is for an organisation's administrators",
        ).into()),
        Credential::Invalid(AppError::Unavailable(m), _) => Err(AppError::Unavailable(m).into()),
        _ => Ok(pages::render(
            StatusCode::OK,
            &pages::Message {
                lang,
                title: lang.t("organisations", "Organisation sign-in"),
                text: lang.t("organisations", "Open the sign-in link Anxin's staff sent you. Each link works once; if yours no longer does, ask for a new one."),
                id: None,
                role: None,
                notice: false,
            },
        )),
    }
}
