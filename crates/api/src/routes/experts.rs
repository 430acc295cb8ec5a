//! Experts: creation, applications, vetting, availability, slots, bookings.
use crate::auth::{
    AnyRole, Authorized, ExpertOnly, ExpertOrOperator, OperatorOnly, OperatorOrOrgAdmin, Role,
};
use crate::dto::{
    AvailabilitySaved, CallView, ExpertBooking, ExpertCreated, ExpertMe, ExpertStatusView,
    SessionOutcomeView, SlotView,
};
use crate::error::{ApiResult, AppError, AppResult, ErrorBody, ErrorCode};
use crate::extract::{path_id, Json};
use actix_web::{web, HttpResponse};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::availability::AvailabilityInput;
use anxin_domain::expert::{ExpertInput, ExpertStatus};
use anxin_domain::ids::ExpertId;
use anxin_domain::seeker::alias;
use anxin_store::bookings;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

#[utoipa::path(post, path = "/v1/experts", tag = "experts", request_body = ExpertInput,
    description = "Creates an expert, approved at once. An area's operator creates experts of \
                   its area's regions only (403 elsewhere).",
    responses((status = 201, body = ExpertCreated),
        (status = 403, body = ErrorBody, description = "`forbidden`: not an operator, or an area's operator naming a region outside its area"),
        (status = 422, body = ErrorBody,
        description = "`invalid_input`: a field breaks a profile rule (e.g. blank once trimmed); `field` names it")),
    security(("bearer" = [])))]
pub async fn create_expert(
    auth: Authorized<OperatorOnly>,
    state: web::Data<AppState>,
    body: Json<ExpertInput>,
) -> ApiResult<HttpResponse> {
    // An area's operator places experts in its area's regions only (the
    // region given, else the organisation's; one that names nothing is the
    // profile's 422, below).
    let region = match (body.0.region.trim(), body.0.organisation_id) {
        ("", Some(org)) => flows::organisations::get(&state, org)
            .await
            .ok()
            .map(|o| o.region),
        (raw, _) => flows::regions::resolve(&state, "region", raw).await.ok(),
    };
    if let Some(region) = region {
        flows::reach::may_place(&state, &auth.principal, &region).await?;
    }
    let id = flows::experts::create(
        &state,
        &body.0,
        ExpertStatus::Approved,
        Some(&auth.principal.actor()),
    )
    .await?;
    Ok(HttpResponse::Created().json(ExpertCreated {
        id: id.0,
        status: ExpertStatus::Approved,
    }))
}

#[utoipa::path(post, path = "/v1/expert-applications", tag = "experts", request_body = ExpertInput,
    description = "Applies to be an expert; an operator approves the application. Limited per \
                   address and per token (`ANXIN_APPLICATIONS_PER_HOUR_PER_IP` each).",
    responses((status = 201, body = ExpertCreated), (status = 422, body = ErrorBody,
        description = "`invalid_input`: a field breaks a profile rule (e.g. blank once trimmed); `field` names it"),
        (status = 429, body = ErrorBody, description = "`rate_limited`: too many applications from this address or token; try again after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn apply(
    req: actix_web::HttpRequest,
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    body: Json<ExpertInput>,
) -> ApiResult<HttpResponse> {
    // The public page's budget, per address and per token: one token (or
    // one address) can't bury the real volunteers under applications.
    let limiter = &state.application_limiter;
    crate::routes::sign_in::check_rate(&req, limiter)?;
    let subject = format!("{}:{}", auth.principal.role.as_str(), auth.principal.sub);
    crate::routes::sign_in::check_rate_of(&req, limiter, &subject)?;
    let id = flows::experts::create(&state, &body.0, ExpertStatus::Applied, None).await?;
    Ok(HttpResponse::Created().json(ExpertCreated {
        id: id.0,
        status: ExpertStatus::Applied,
    }))
}

async fn set_status(
    auth: &Authorized<OperatorOrOrgAdmin>,
    state: &AppState,
    raw_id: &str,
    status: ExpertStatus,
) -> ApiResult<HttpResponse> {
    let id = ExpertId(path_id("id", raw_id)?);
    let done = flows::experts::vet(state, &auth.principal, id, status, None).await?;
    Ok(HttpResponse::Ok().json(ExpertStatusView::of(id, status, &done)))
}

#[utoipa::path(post, path = "/v1/experts/{id}/approve", tag = "experts",
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    responses((status = 200, body = ExpertStatusView),
              (status = 409, body = ErrorBody, description = "`training_incomplete`: a required training module is not done (the message names them); `invalid_transition`: the expert can't be approved from where they are")),
    security(("bearer" = [])))]
pub async fn approve(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_status(&auth, &state, &id, ExpertStatus::Approved).await
}

#[utoipa::path(post, path = "/v1/experts/{id}/suspend", tag = "experts",
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    description = "Suspends an expert. Each upcoming booking of theirs is handed to another \
                   approved expert free at the same start for the same length (the booking keeps \
                   its id; `booking.reassigned` is sent), else cancelled with reason \
                   `expert_unavailable` and its fee refunded. A call under way is not cut; a \
                   suspended expert is never dialled, and their tokens stop working.",
    responses((status = 200, body = ExpertStatusView)),
    security(("bearer" = [])))]
pub async fn suspend(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_status(&auth, &state, &id, ExpertStatus::Suspended).await
}

#[utoipa::path(get, path = "/v1/experts/{id}/availability", tag = "experts",
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    responses((status = 200, body = AvailabilityInput, description = "the body `PUT` takes"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such expert, or no availability yet")),
    security(("bearer" = [])))]
pub async fn get_availability(
    auth: Authorized<ExpertOrOperator>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = own_availability(&state, &auth, &id).await?;
    let input = anxin_store::experts::load_availability_input(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound("availability"))?;
    Ok(HttpResponse::Ok().json(input))
}

/// The expert whose availability the path names, which an expert may only
/// be themselves, and an area's operator one of its area.
async fn own_availability(
    state: &AppState,
    auth: &Authorized<ExpertOrOperator>,
    id: &str,
) -> ApiResult<ExpertId> {
    let id = ExpertId(path_id("id", id)?);
    if auth.principal.role == Role::Expert && auth.principal.expert_id() != Some(id) {
        return Err(
            AppError::Forbidden("an expert may only see and edit their own availability").into(),
        );
    }
    if auth.principal.role == Role::Operator {
        flows::organisations::may_manage_expert(state, &auth.principal, id).await?;
    }
    Ok(id)
}

#[utoipa::path(put, path = "/v1/experts/{id}/availability", tag = "experts", request_body = AvailabilityInput,
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    responses((status = 200, body = AvailabilitySaved),
              (status = 422, body = ErrorBody, description = "`invalid_input`: a range ends before it starts, \
                  is shorter than one slot, or overlaps another of the same day; `field` names it")),
    security(("bearer" = [])))]
pub async fn put_availability(
    auth: Authorized<ExpertOrOperator>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Json<AvailabilityInput>,
) -> ApiResult<HttpResponse> {
    let id = own_availability(&state, &auth, &id).await?;
    let availability = body.0.validate()?;
    let applied = flows::availability::apply(
        &state,
        id,
        &availability,
        Utc::now(),
        Some(&auth.principal.actor()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(AvailabilitySaved {
        open_slots: applied.open_slots,
        conflicts: applied.conflicts.into_iter().map(|s| s.0).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlotRange {
    /// RFC 3339; default now.
    #[param(value_type = String, format = DateTime, required = false)]
    from: Option<String>,
    /// RFC 3339, after `from`; default the end of the horizon. At most 31 days after `from`.
    #[param(value_type = String, format = DateTime, required = false)]
    to: Option<String>,
}

fn instant(field: &str, raw: Option<&str>) -> AppResult<Option<DateTime<Utc>>> {
    raw.map(|r| {
        DateTime::parse_from_rfc3339(r)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                AppError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("{field} must be an RFC 3339 time with offset"),
                    Some(field),
                )
            })
    })
    .transpose()
}

#[utoipa::path(get, path = "/v1/experts/{id}/slots", tag = "experts",
    params(("id" = uuid::Uuid, Path, description = "expert id"), SlotRange),
    responses((status = 200, body = [SlotView], links(
        ("PlaceHold" = (operation_id = "place_hold", description = "hold the first slot",
            request_body = json!({"slot_id": "$response.body#/0/slot_id"})))))),
    security(("bearer" = [])))]
pub async fn slots(
    auth: Authorized<AnyRole>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    range: web::Query<SlotRange>,
) -> ApiResult<HttpResponse> {
    let id = ExpertId(path_id("id", &id)?);
    let now = Utc::now();
    let from = instant("from", range.from.as_deref())?.unwrap_or(now);
    let to = instant("to", range.to.as_deref())?
        .unwrap_or_else(|| flows::slots::listed_until(&state, now));
    if to <= from {
        return Err(AppError::bad_request(
            ErrorCode::InvalidQuery,
            "to must be after from",
            Some("to"),
        )
        .into());
    }
    if to - from > Duration::days(31) {
        return Err(AppError::bad_request(
            ErrorCode::InvalidQuery,
            "at most 31 days at once",
            Some("to"),
        )
        .into());
    }
    let open = flows::experts::open_slots(&state, &auth.principal, id, from, to, now).await?;
    let view: Vec<SlotView> = open
        .into_iter()
        .map(|s| SlotView {
            slot_id: s.slot_id.0,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(view))
}

/// The expert the principal is; 403 for a subject that is not an expert id.
pub(crate) fn me(auth: &Authorized<ExpertOnly>) -> ApiResult<ExpertId> {
    auth.principal
        .expert_id()
        .ok_or(AppError::Forbidden("this token's subject is not an expert id").into())
}

#[utoipa::path(get, path = "/v1/experts/me", tag = "experts",
    description = "The calling expert's own profile (their phone masked) and availability.",
    responses((status = 200, body = ExpertMe),
              (status = 404, body = ErrorBody, description = "`not_found`: no expert with this token's id")),
    security(("bearer" = [])))]
pub async fn get_me(
    auth: Authorized<ExpertOnly>,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    use crate::error::OrNotFound;
    let id = me(&auth)?;
    let row = anxin_store::experts::get(&state.pool, id)
        .await
        .or_not_found("expert")?;
    let (sealed, availability, standing) = tokio::try_join!(
        anxin_store::experts::sealed_phone(&state.pool, id),
        anxin_store::experts::load_availability_input(&state.pool, id),
        anxin_store::supervision::standing(&state.pool, id),
    )?;
    let phone_masked = state
        .cipher
        .open(&sealed)
        .map(|p| p.masked())
        .map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ExpertMe {
            id: row.id.0,
            display_name: row.display_name,
            status: row.status,
            timezone: row.timezone,
            languages: row.languages,
            specialties: row.specialties,
            region: row.region,
            bio: row.bio,
            phone_masked,
            availability,
            supervisor: standing.is_some_and(|s| s.supervisor),
        }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BookingsQuery {
    /// `upcoming` (default): confirmed and not ended, soonest first;
    /// `past`: started (not cancelled), latest first, with their outcomes.
    #[param(pattern = "^(upcoming|past)$", required = false)]
    when: Option<String>,
}

#[utoipa::path(get, path = "/v1/experts/me/bookings", tag = "experts", params(BookingsQuery),
    responses((status = 200, body = [ExpertBooking])),
    security(("bearer" = [])))]
pub async fn my_bookings(
    auth: Authorized<ExpertOnly>,
    state: web::Data<AppState>,
    q: web::Query<BookingsQuery>,
) -> ApiResult<HttpResponse> {
    let id = me(&auth)?;
    let now = Utc::now();
    let rows = match q.when.as_deref() {
        None | Some("upcoming") => bookings::upcoming_for_expert(&state.pool, id, now).await?,
        Some("past") => bookings::past_for_expert(&state.pool, id, now).await?,
        Some(_) => {
            return Err(AppError::bad_request(
                ErrorCode::InvalidQuery,
                "when must be upcoming or past",
                Some("when"),
            )
            .into())
        }
    };
    let ids: Vec<_> = rows.iter().map(|b| b.id).collect();
    let mut outcomes: std::collections::HashMap<_, _> =
        anxin_store::referrals::outcomes_of(&state.pool, &ids)
            .await?
            .into_iter()
            .map(|o| (o.booking_id, o))
            .collect();
    // The referral form of a session not yet recorded lists where its
    // seeker can turn: the resources of the seeker's region, read once per
    // region.
    let unrecorded: Vec<_> = rows
        .iter()
        .filter(|b| b.starts_at <= now && !outcomes.contains_key(&b.id))
        .map(|b| b.seeker_id)
        .collect();
    let seeker_regions: std::collections::HashMap<uuid::Uuid, String> = if unrecorded.is_empty() {
        Default::default()
    } else {
        anxin_store::seekers::regions_of(&state.pool, &unrecorded)
            .await?
            .into_iter()
            .collect()
    };
    let mut places: std::collections::HashMap<String, Vec<anxin_domain::resource::Resource>> =
        Default::default();
    for region in seeker_regions.values() {
        if !places.contains_key(region) {
            let listed = anxin_store::resources::list(&state.pool, Some(region), None).await?;
            places.insert(
                region.clone(),
                listed.into_iter().map(|r| r.resource).collect(),
            );
        }
    }
    let mut view = Vec::with_capacity(rows.len());
    for b in rows {
        let referral_resources = match outcomes.get(&b.id) {
            None if b.starts_at <= now => seeker_regions
                .get(&b.seeker_id.0)
                .and_then(|region| places.get(region))
                .map(|listed| listed.iter().cloned().map(Into::into).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let outcome = match outcomes.remove(&b.id) {
            Some(o) => Some(SessionOutcomeView {
                outcome: o.outcome,
                follow_up: o.follow_up,
                urgency: o.urgency,
                note: crate::routes::unseal(&state, o.note.as_ref())?,
                recorded_at: o.recorded_at,
            }),
            None => None,
        };
        view.push(ExpertBooking {
            booking_id: b.id.0,
            slot_id: b.slot_id.0,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            seeker_alias: alias(b.seeker_id),
            priority_group: b.priority_group,
            note: crate::routes::unseal(&state, b.note.as_ref())?,
            status: b.status,
            call: CallView {
                state: b.call_state,
                outcome: b.call_outcome,
            },
            outcome,
            referral_resources,
        });
    }
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(view))
}
