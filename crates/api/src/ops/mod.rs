//! The operator dashboard: the figures (`GET /v1/ops/summary`), the live
//! lists (`GET /v1/ops/board`), the page (`GET /ops`) with its sign-in, and
//! vetting from the page.
//!
//! * `summary` (here): the figures, computed from the event log over a window.
//! * `anxin_core::events`: recording what only the API sees, off the request path.
//! * `anxin_core::metrics`: the business metrics added to Prometheus.
//!
//! The page comes from a template (`templates/ops.html`) and its script and
//! sheet are compiled into the binary (no CDN, no external fonts or scripts,
//! so it works offline); the script polls the two JSON endpoints with the
//! session cookie and redraws.
pub mod summary;

use crate::auth::{Authorized, Credential, OperatorOnly, Via};
use crate::dto::ExpertStatusView;
use crate::error::{ApiResult, AppError, ErrorBody, ErrorCode};
use crate::extract::{parse_json, path_id};
use crate::pages::Lang;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::state::AppState;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::expert::ExpertStatus;
use anxin_domain::ids::ExpertId;
use anxin_domain::seeker::alias;
use anxin_domain::seeker::PriorityGroup;
use anxin_store::audit::Actor;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// An operator, by bearer token or by session cookie.
pub type OperatorSession = Authorized<OperatorOnly>;
use anxin_store::events::Scope;
use summary::{Summary, Window};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/ops/summary", web::get().to(summary))
        .route("/v1/ops/board", web::get().to(board))
        .route("/ops", web::get().to(page))
        .route("/ops/session", web::post().to(sign_in))
        .route("/ops/experts/{id}/approve", web::post().to(approve_expert))
        .route("/ops/experts/{id}/suspend", web::post().to(suspend_expert))
        .route("/ops/experts/decline", web::post().to(decline_experts));
}

/// Applicants shown on one page of the board.
pub const APPLICANTS_PER_PAGE: i64 = 50;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// Which page of the applicants awaiting approval (0 = the oldest 50).
    #[param(minimum = 0, maximum = 100000, required = false)]
    applicants_page: Option<u32>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// `1h`, `24h` (default) or `7d`.
    #[param(schema_with = window_schema, required = false)]
    window: Option<String>,
    /// Only this area's regions: `north`, `east`, `central`, `south` or `west`.
    #[param(required = false, value_type = Option<anxin_domain::region::Area>)]
    area: Option<String>,
    /// Only this region (code or pinyin name); within `area` when both are given.
    #[param(required = false, max_length = 64)]
    region: Option<String>,
    /// Only this organisation's experts (its id).
    #[param(required = false, value_type = Option<uuid::Uuid>)]
    organisation: Option<String>,
}

/// The part of the service a summary's filters name: seekers and experts
/// of a region or an area's regions, experts of an organisation. A value
/// that names nothing is 422 naming its field.
async fn place(
    state: &AppState,
    principal: &anxin_core::token::Principal,
    q: &SummaryQuery,
) -> ApiResult<Scope> {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    use anxin_domain::error::ValidationError;
    let regions = anxin_core::flows::regions::all(state).await?;
    let area = given(&q.area)
        .map(|raw| {
            anxin_domain::region::Area::parse(&raw.to_ascii_lowercase()).ok_or_else(|| {
                ValidationError::new("area", "must be north, east, central, south or west")
            })
        })
        .transpose()?;
    let region = given(&q.region)
        .map(|raw| regions.resolve("region", raw))
        .transpose()?;
    let codes = match (area, region) {
        (Some(area), Some(region)) if region.area != area => {
            return Err(ValidationError::new("region", "is not in that area").into())
        }
        (_, Some(region)) => Some(vec![region.code.clone()]),
        (Some(area), None) => Some(
            regions
                .all()
                .iter()
                .filter(|r| r.area == area)
                .map(|r| r.code.clone())
                .collect(),
        ),
        (None, None) => None,
    };
    let organisation = match given(&q.organisation) {
        None => None,
        Some(raw) => {
            let named = uuid::Uuid::parse_str(raw).map_err(|_| {
                ValidationError::new("organisation", "must be an organisation's id")
            })?;
            match anxin_core::flows::organisations::may_read(state, principal, named).await {
                Ok(org) => Some(org.id),
                Err(AppError::NotFound(_)) => {
                    return Err(ValidationError::new(
                        "organisation",
                        "names no organisation (GET /v1/organisations)",
                    )
                    .into())
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    // An area's operator sees its area's regions only: narrowed to them, a
    // region outside refused.
    let codes = match (
        codes,
        anxin_core::flows::reach::regions(state, principal).await?,
    ) {
        (codes, None) => codes,
        (None, Some(reach)) => Some(reach),
        (Some(codes), Some(reach)) => {
            if codes.iter().any(|c| !reach.contains(c)) {
                return Err(AppError::Forbidden(
                    "an area's operator sees the figures of its area's regions only",
                )
                .into());
            }
            Some(codes)
        }
    };
    Ok(Scope {
        regions: codes,
        organisation,
    })
}

pub fn window_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            [Window::Hour, Window::Day, Window::Week].map(Window::as_str),
        ))
        .default(Some(Window::Day.as_str().into()))
        .build()
}

#[utoipa::path(get, path = "/v1/ops/summary", tag = "operators", params(SummaryQuery),
    description = "Funnel, match rate, time to match and to connect, call outcomes, no-shows, \
                   utilization, fairness (Gini), holds and collisions over the window, overall \
                   and by priority group, region and organisation, computed from the event log. \
                   `area`, `region` and `organisation` narrow every figure to a place: seekers of \
                   those regions and experts of those regions and of that organisation. Served again for up to \
                   2 s (1h), 5 s (24h) or 15 s (7d), unless the request says `Cache-Control: \
                   no-cache`; `until` says as of when. Also accepts the dashboard session cookie.",
    responses((status = 200, body = Summary),
              (status = 422, body = ErrorBody, description = "`invalid_input`: `area`, `region` or `organisation` names nothing (or the region is not in the area); `field` says which")),
    security(("bearer" = []), ("session" = [])))]
pub async fn summary(
    auth: OperatorSession,
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<SummaryQuery>,
) -> ApiResult<HttpResponse> {
    let scope = place(&state, &auth.principal, &q).await?;
    summary_of(&req, &state, q.window.as_deref(), scope).await
}

/// The summary of `scope` over the window `raw` names (24h when none; 400
/// naming `window` otherwise), as `GET /v1/ops/summary` answers it and every
/// narrower summary too. `Cache-Control: no-cache` asks for figures computed
/// now.
pub async fn summary_of(
    req: &HttpRequest,
    state: &AppState,
    raw: Option<&str>,
    scope: Scope,
) -> ApiResult<HttpResponse> {
    let window = Window::parse(raw.unwrap_or("24h")).ok_or_else(|| {
        AppError::bad_request(
            ErrorCode::InvalidQuery,
            "window must be 1h, 24h or 7d",
            Some("window"),
        )
    })?;
    let fresh = req
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("no-cache"));
    let figures = summary::cached(state, window, scope, fresh).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(&*figures))
}

/// What needs an operator now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Board {
    pub generated_at: DateTime<Utc>,
    /// Expert applications awaiting approval, oldest first: the page asked
    /// for (`applicants_page`, 50 a page).
    pub pending_experts: Vec<PendingExpertView>,
    /// Every application awaiting approval, on all pages.
    pub pending_total: i64,
    /// The page `pending_experts` is (0-based).
    pub applicants_page: u32,
    /// Calls running now or starting within the hour, soonest first (at most
    /// 200). Seekers appear only by alias.
    pub upcoming_calls: Vec<UpcomingCallView>,
    /// Open referrals, most urgent first (at most 200).
    pub referrals: Vec<crate::routes::referrals::ReferralView>,
    /// Open referrals by urgency.
    pub open_referrals: OpenReferrals,
    /// Booking fees started in the last 24 hours, by where they stand.
    pub payments: PaymentFigures,
    /// Delivery of the host app's webhooks.
    pub webhooks: WebhookHealth,
    /// Organisations' applications awaiting vetting, oldest first (at most
    /// 200), with the contact an operator calls.
    pub pending_organisations: Vec<PendingOrganisationView>,
    /// Debriefs supervisors owe volunteers after hard sessions.
    pub debriefs: DebriefCounts,
    /// The area the operator is scoped to (none: national): everything on
    /// the board, and every figure, is of its regions.
    pub area: Option<anxin_domain::region::Area>,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct DebriefCounts {
    pub open: i64,
    /// Open past their due time.
    pub overdue: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingOrganisationView {
    pub id: uuid::Uuid,
    pub name: String,
    pub kind: anxin_domain::organisation::OrganisationKind,
    pub region: String,
    pub contact_name: String,
    /// For the operators who vet it; never published.
    pub contact_phone: String,
    pub description: String,
    pub applied_at: DateTime<Utc>,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct WebhookHealth {
    /// Whether `ANXIN_WEBHOOK_URL` is set.
    pub enabled: bool,
    /// Waiting to be delivered (or retried).
    pub pending: i64,
    /// Given up after 24 h of retries (`anxin webhooks replay` resends).
    pub failed: i64,
    pub oldest_undelivered: Option<DateTime<Utc>>,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct PaymentFigures {
    pub pending: i64,
    pub paid: i64,
    pub refunded: i64,
    /// Not paid in time: seekers who walked away at the payment step.
    pub abandoned: i64,
    pub failed: i64,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct OpenReferrals {
    pub emergency: i64,
    pub urgent: i64,
    pub routine: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PendingExpertView {
    pub id: uuid::Uuid,
    pub display_name: String,
    pub region: String,
    pub languages: Vec<String>,
    pub specialties: Vec<String>,
    /// What they wrote about themselves, for the operator to read before
    /// approving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    pub applied_at: DateTime<Utc>,
    /// Required training modules not yet done, by title: approval waits
    /// for them.
    pub training_missing: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UpcomingCallView {
    pub booking_id: uuid::Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub seeker_alias: String,
    pub priority_group: PriorityGroup,
    pub expert_id: uuid::Uuid,
    pub expert_name: String,
    pub call_state: CallState,
    pub outcome: Option<CallOutcome>,
    pub attempts: i32,
}

#[utoipa::path(get, path = "/v1/ops/board", tag = "operators",
    description = "Experts awaiting approval, the calls of the next hour, the open \
                   referrals (most urgent first) with their counts by urgency, and the booking \
                   fees of the last 24 hours. Also accepts the dashboard session cookie.",
    params(BoardQuery),
    responses((status = 200, body = Board)),
    security(("bearer" = []), ("session" = [])))]
pub async fn board(
    auth: OperatorSession,
    state: web::Data<AppState>,
    query: web::Query<BoardQuery>,
) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let page = query.0.applicants_page.unwrap_or(0).min(100_000);
    let offset = i64::from(page) * APPLICANTS_PER_PAGE;
    // An area's operator: what is in its area's regions only.
    let area = anxin_core::flows::reach::area(&state, &auth.principal).await?;
    let regions = anxin_core::flows::reach::regions(&state, &auth.principal).await?;
    let within = regions.as_deref();
    let ((pending, pending_total), calls, referrals, counts, fees, hooks) = tokio::try_join!(
        anxin_store::events::pending_experts(&state.pool, offset, APPLICANTS_PER_PAGE, within),
        anxin_store::events::upcoming_calls(
            &state.pool,
            now,
            now + Duration::hours(1),
            200,
            within
        ),
        anxin_core::flows::referrals::list_store(
            &state,
            anxin_domain::referral::ReferralStatus::Open,
            None,
            within
        ),
        anxin_store::referrals::open_counts(&state.pool, within),
        anxin_store::payments::counts_since(&state.pool, now - Duration::hours(24), within),
        anxin_store::webhooks::health(&state.pool),
    )?;
    let ids: Vec<uuid::Uuid> = pending.iter().map(|e| e.id).collect();
    let (mut missing, (open, overdue)) = tokio::try_join!(
        async {
            Ok::<_, AppError>(anxin_store::supervision::missing_for(&state.pool, &ids).await?)
        },
        anxin_core::flows::supervision::open_counts(&state, None, within),
    )?;
    let pending_organisations = anxin_core::flows::organisations::applied(&state)
        .await?
        .into_iter()
        .filter(|o| within.is_none_or(|codes| codes.contains(&o.region)))
        .map(|o| {
            Ok(PendingOrganisationView {
                id: o.id,
                name: o.name,
                kind: o.kind,
                region: o.region,
                contact_name: o.contact_name,
                contact_phone: state
                    .cipher
                    .open(&o.contact_phone)
                    .map(|p| p.expose_e164().to_string())
                    .map_err(AppError::internal)?,
                description: o.description,
                applied_at: o.created_at,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let webhooks = WebhookHealth {
        enabled: state.config.webhook.is_some(),
        pending: hooks.pending,
        failed: hooks.failed,
        oldest_undelivered: hooks.oldest_undelivered,
    };
    let mut payments = PaymentFigures::default();
    for (status, n) in fees {
        use anxin_domain::payment::PaymentStatus;
        match status {
            PaymentStatus::Pending => payments.pending = n,
            PaymentStatus::Paid => payments.paid = n,
            PaymentStatus::Refunded => payments.refunded = n,
            PaymentStatus::Expired => payments.abandoned = n,
            PaymentStatus::Failed => payments.failed = n,
        }
    }
    let mut open_referrals = OpenReferrals::default();
    for (urgency, n) in counts {
        use anxin_domain::referral::Urgency;
        match urgency {
            Urgency::Emergency => open_referrals.emergency = n,
            Urgency::Urgent => open_referrals.urgent = n,
            Urgency::Routine => open_referrals.routine = n,
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Board {
            generated_at: now,
            pending_total,
            applicants_page: page,
            pending_experts: pending
                .into_iter()
                .map(|e| PendingExpertView {
                    id: e.id,
                    display_name: e.display_name,
                    region: e.region,
                    languages: e.languages,
                    specialties: e.specialties,
                    bio: e.bio,
                    applied_at: e.created_at,
                    training_missing: missing.remove(&e.id).unwrap_or_default(),
                })
                .collect(),
            upcoming_calls: calls
                .into_iter()
                .map(|c| UpcomingCallView {
                    booking_id: c.booking_id.0,
                    starts_at: c.starts_at,
                    ends_at: c.ends_at,
                    seeker_alias: alias(c.seeker_id),
                    priority_group: c.priority_group,
                    expert_id: c.expert_id.0,
                    expert_name: c.expert_name,
                    call_state: c.call_state,
                    outcome: c.outcome,
                    attempts: c.attempts,
                })
                .collect(),
            referrals: referrals.into_iter().map(Into::into).collect(),
            open_referrals,
            payments,
            webhooks,
            pending_organisations,
            debriefs: DebriefCounts { open, overdue },
            area,
        }))
}

/// The dashboard (`templates/ops.html`); its script draws the figures.
#[derive(askama::Template)]
#[template(path = "ops.html")]
struct Dashboard {
    lang: Lang,
}

/// The token sign-in page (`templates/ops_sign_in.html`), with one of our
/// own messages (never caller input), by its key in the catalogue.
#[derive(askama::Template)]
#[template(path = "ops_sign_in.html")]
struct SignInPage {
    lang: Lang,
    notice: Option<&'static str>,
}

fn sign_in_page(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    message: Option<&'static str>,
) -> HttpResponse {
    let lang = Lang::of(req);
    crate::pages::render(
        status,
        &SignInPage {
            lang,
            notice: message.map(|en| lang.t("ops", en)),
        },
    )
}

#[utoipa::path(get, path = "/ops", tag = "operators",
    description = "The dashboard page for an operator's browser. Without a session it is the \
                   sign-in page; with an operator's session cookie (or bearer token) the \
                   dashboard; other roles get 403.",
    responses((status = 200, description = "the dashboard, or the sign-in page", content_type = "text/html"),
              (status = 401, body = ErrorBody, description = "`unauthorized`: an invalid bearer token"),
              (status = 403, body = ErrorBody, description = "`forbidden`: not an operator")),
    security((), ("bearer" = []), ("session" = [])))]
pub async fn page(req: HttpRequest) -> ApiResult<HttpResponse> {
    use actix_web::http::StatusCode;
    match crate::auth::credential(&req).await {
        Credential::None => Ok(sign_in_page(&req, StatusCode::OK, None)),
        Credential::Invalid(AppError::Unavailable(m), _) => Err(AppError::Unavailable(m).into()),
        Credential::Invalid(_, Via::Session) => {
            let mut res = sign_in_page(
                &req,
                StatusCode::OK,
                Some("Your session has ended. Sign in again."),
            );
            if let Ok(v) = header::HeaderValue::from_str(&crate::auth::clear_session_cookie(
                crate::auth::is_https(&req),
            )) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(res)
        }
        Credential::Invalid(e, Via::Bearer) => Err(e.into()),
        Credential::Valid(p, _) if p.role != crate::auth::Role::Operator => {
            Err(AppError::Forbidden("only operators may see the dashboard").into())
        }
        Credential::Valid(..) => Ok(crate::pages::render(
            StatusCode::OK,
            &Dashboard {
                lang: Lang::of(&req),
            },
        )),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// An operator's bearer token (e.g. from `anxin token --role operator`).
    #[schema(min_length = 1, pattern = r"\S")]
    pub token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionStarted {
    /// Seconds until the session ends (at most `ANXIN_SESSION_HOURS`, never
    /// after the token).
    pub expires_in: i64,
}

#[utoipa::path(post, path = "/ops/session", tag = "operators",
    description = "Signs in to the dashboard: exchanges an operator's token, sent in the body \
                   (a form field `token`, or JSON), for an HttpOnly, SameSite=Strict session \
                   cookie. A form gets 303 to /ops; JSON gets 200.",
    request_body(content((SignIn = "application/x-www-form-urlencoded"), (SignIn = "application/json"))),
    responses((status = 303, description = "signed in (form); Set-Cookie carries the session",
               headers(("Location" = String, description = "/ops"), ("Set-Cookie" = String, description = "the session"))),
              (status = 200, body = SessionStarted, description = "signed in (JSON); Set-Cookie carries the session"),
              (status = 400, description = "no token in the body (the sign-in page again, for a form), or malformed JSON",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 401, description = "`unauthorized`: the token is invalid or expired (the sign-in page again, for a form)",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 403, description = "`forbidden`: not an operator's token (the sign-in page again, for a form)",
               content((ErrorBody = "application/json"), (String = "text/html")))))]
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    use actix_web::http::StatusCode;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_json = content_type.starts_with("application/json");
    let token = if is_json {
        parse_json::<SignIn>(&body)?.token
    } else {
        crate::pages::form_field(&body, "token").unwrap_or_default()
    };
    let token = token.trim();
    if token.is_empty() {
        return if is_json {
            Err(
                AppError::bad_request(ErrorCode::InvalidBody, "token is required", Some("token"))
                    .into(),
            )
        } else {
            Ok(sign_in_page(
                &req,
                StatusCode::BAD_REQUEST,
                Some("Paste an operator token to sign in."),
            ))
        };
    }
    if let Err(e) = crate::routes::sign_in::check_rate(&req, &state.sign_in_limiter) {
        return if is_json {
            Err(e.into())
        } else {
            Ok(sign_in_page(
                &req,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many sign-in attempts. Try again in a minute."),
            ))
        };
    }
    let verified = state.tokens.verify(token);
    let refusal = match &verified {
        Err(_) => Some((
            StatusCode::UNAUTHORIZED,
            "That token is not valid or has expired.",
        )),
        Ok(p) if p.role != crate::auth::Role::Operator => Some((
            StatusCode::FORBIDDEN,
            "That token is not an operator's: only operators may sign in here.",
        )),
        Ok(_) => None,
    };
    if let Some((status, message)) = refusal {
        return if is_json {
            Err(if status == StatusCode::FORBIDDEN {
                AppError::Forbidden("only operators may sign in to the dashboard").into()
            } else {
                AppError::Unauthorized("the token is not valid or has expired").into()
            })
        } else {
            Ok(sign_in_page(&req, status, Some(message)))
        };
    }
    let principal = verified.map_err(|_| AppError::Unauthorized("the token is not valid"))?;
    let started = anxin_core::flows::sign_in::start_operator_session(
        &state,
        &principal.sub,
        token_expiry(token),
    )
    .await?;
    if !is_json {
        return Ok(crate::routes::sign_in::signed_in(&req, &started));
    }
    let seconds = (started.expires_at - Utc::now()).num_seconds().max(0);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::SET_COOKIE,
            crate::auth::set_session_cookie(&started.secret, seconds, crate::auth::is_https(&req)),
        ))
        .json(SessionStarted {
            expires_in: seconds,
        }))
}

/// When an (already verified) token expires.
fn token_expiry(token: &str) -> DateTime<Utc> {
    // The signature was checked by `TokenVerifier::verify`; this only reads
    // the expiry back out.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let exp = jsonwebtoken::decode::<crate::auth::Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &validation,
    )
    .map(|d| d.claims.exp)
    .unwrap_or(0);
    DateTime::from_timestamp(exp, 0).unwrap_or_else(Utc::now)
}

/// Approves or suspends an expert from the dashboard: the same rules, audit
/// record and index update as `POST /v1/experts/{id}/approve|suspend`, for a
/// browser that holds a session cookie rather than a bearer token.
async fn set_expert_status(
    auth: &OperatorSession,
    state: &AppState,
    raw_id: &str,
    status: ExpertStatus,
) -> ApiResult<HttpResponse> {
    let id = ExpertId(path_id("id", raw_id)?);
    let done =
        anxin_core::flows::experts::vet(state, &auth.principal, id, status, Some("dashboard"))
            .await?;
    Ok(HttpResponse::Ok().json(ExpertStatusView::of(id, status, &done)))
}

#[utoipa::path(post, path = "/ops/experts/{id}/approve", tag = "operators",
    description = "Approves an expert from the dashboard (audited). With the session cookie, \
                   send `X-Anxin-Session: 1`.",
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    responses((status = 200, body = ExpertStatusView),
              (status = 409, body = ErrorBody, description = "`training_incomplete`: a required training module is not done (the message names them); `invalid_transition`: the expert can't be approved from where they are")),
    security(("bearer" = []), ("session" = [])))]
pub async fn approve_expert(
    auth: OperatorSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_expert_status(&auth, &state, &id, ExpertStatus::Approved).await
}

#[utoipa::path(post, path = "/ops/experts/{id}/suspend", tag = "operators",
    description = "Suspends an expert (or declines an application) from the dashboard \
                   (audited). With the session cookie, send `X-Anxin-Session: 1`.",
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    responses((status = 200, body = ExpertStatusView)),
    security(("bearer" = []), ("session" = [])))]
pub async fn suspend_expert(
    auth: OperatorSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    set_expert_status(&auth, &state, &id, ExpertStatus::Suspended).await
}

/// Applications to decline at once (`POST /ops/experts/decline`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    /// The applicants' ids (1 to 200).
    #[schema(min_items = 1, max_items = 200)]
    pub ids: Vec<uuid::Uuid>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Declined {
    /// Applications declined now.
    pub declined: u32,
    /// Ids that were not an application awaiting approval (already vetted,
    /// or no such expert): left as they were.
    pub skipped: u32,
}

#[utoipa::path(post, path = "/ops/experts/decline", tag = "operators", request_body = DeclineRequest,
    description = "Declines several applications at once (spam, or a batch of unsuitable \
                   applicants), each audited as a decline from the dashboard. Only experts still \
                   awaiting approval are declined; others are counted as skipped. With the session \
                   cookie, send `X-Anxin-Session: 1`.",
    responses((status = 200, body = Declined),
              (status = 422, body = ErrorBody, description = "`invalid_input`: no ids, or more than 200")),
    security(("bearer" = []), ("session" = [])))]
pub async fn decline_experts(
    auth: OperatorSession,
    state: web::Data<AppState>,
    body: crate::extract::Json<DeclineRequest>,
) -> ApiResult<HttpResponse> {
    let ids = &body.0.ids;
    if ids.is_empty() || ids.len() > 200 {
        return Err(
            anxin_domain::ValidationError::new("ids", "1 to 200 applicants at a time").into(),
        );
    }
    let actor = Actor {
        role: "operator",
        id: auth.principal.sub.clone(),
    };
    let mut done = Declined {
        declined: 0,
        skipped: 0,
    };
    for id in ids {
        let applied = matches!(
            anxin_store::experts::get(&state.pool, ExpertId(*id)).await,
            Ok(row) if row.status == ExpertStatus::Applied
        );
        // Outside an area operator's area, as if it did not exist.
        let reachable = anxin_core::flows::organisations::may_manage_expert(
            &state,
            &auth.principal,
            ExpertId(*id),
        )
        .await
        .is_ok();
        if !applied || !reachable {
            done.skipped += 1;
            continue;
        }
        anxin_core::flows::experts::set_status(
            &state,
            &actor,
            ExpertId(*id),
            ExpertStatus::Suspended,
            Some("dashboard, declined with others"),
        )
        .await?;
        done.declined += 1;
    }
    Ok(HttpResponse::Ok().json(done))
}
