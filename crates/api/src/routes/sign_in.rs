//! Signing people in: sign-in links for experts (made by operators), the
//! link's page and its use, and ending a session. See `flows::sign_in`.
use crate::auth::{self, Authorized, OperatorOrOrgAdmin, Role, Via};
use crate::error::{ApiResult, AppError, AppResult, ErrorBody};
use crate::extract::path_id;
use crate::pages::{self, Lang};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::flows;
use anxin_core::flows::sign_in::{Started, LINK_PATH};
use anxin_core::state::{AppState, KeyedLimiter};
use anxin_domain::ids::ExpertId;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignInLink {
    /// The one-time link, absolute (from `ANXIN_PUBLIC_URL`). Send it to the
    /// person by the hotline's own channel; it is shown only this once.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/v1/experts/{id}/sign-in-links", tag = "sign-in",
    description = "A one-time sign-in link for the expert (audited). Opening it shows a page; \
                   pressing its button signs the expert in to /expert.",
    params(("id" = uuid::Uuid, Path, description = "expert id")),
    responses((status = 201, body = SignInLink),
              (status = 409, body = ErrorBody, description = "`expert_suspended`: the expert is suspended")),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_link(
    auth: Authorized<OperatorOrOrgAdmin>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let expert = ExpertId(path_id("id", &id)?);
    flows::organisations::may_manage_expert(&state, &auth.principal, expert).await?;
    let by = auth.principal.actor();
    let link = flows::sign_in::link_for_expert(&state, &by, expert).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SignInLink {
            url: link.url,
            expires_at: link.expires_at,
        }))
}

/// A link's secret as `flows::sign_in` makes them (43 URL-safe characters);
/// anything else is no link.
fn secret(raw: &str) -> AppResult<&str> {
    let plausible = raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plausible {
        Ok(raw)
    } else {
        Err(AppError::NotFound("sign-in link"))
    }
}

/// A sign-in link's page with its button (`templates/sign_in_link.html`).
#[derive(askama::Template)]
#[template(path = "sign_in_link.html")]
struct LinkPage<'a> {
    lang: Lang,
    title: &'a str,
    action: &'a str,
}

/// The link's page: the button that signs in, or why it can't.
fn link_page(lang: Lang, path: &str, refusal: Option<&AppError>) -> HttpResponse {
    let title = lang.t("sign_in", "Sign in to Anxin");
    let Some(e) = refusal else {
        return pages::render(
            StatusCode::OK,
            &LinkPage {
                lang,
                title,
                action: path,
            },
        );
    };
    let why = match e.code() {
        crate::error::ErrorCode::SignInLinkUsed => lang.t(
            "sign_in",
            "This sign-in link was already used. Ask the hotline's staff for a new one.",
        ),
        crate::error::ErrorCode::SignInLinkExpired => lang.t(
            "sign_in",
            "This sign-in link has expired. Ask the hotline's staff for a new one.",
        ),
        crate::error::ErrorCode::RateLimited => lang.t(
            "sign_in",
            "Too many attempts. Please try again in a minute.",
        ),
        _ => lang.t(
            "sign_in",
            "This sign-in link is not valid. Check that it is complete, or ask for a new one.",
        ),
    };
    pages::render(
        crate::error::status_of(e),
        &pages::Message {
            lang,
            title,
            text: why,
            id: None,
            role: Some("alert"),
            notice: true,
        },
    )
}

#[utoipa::path(get, path = "/sign-in/{secret}", tag = "sign-in",
    description = "A sign-in link's page, in Chinese or English (`Accept-Language`, or \
                   `?lang=zh|en`): a button that signs in. Opening it never uses the link up \
                   (messaging apps fetch links to preview them). A link that can't sign in is a \
                   page saying why for a browser (`Accept: text/html`), the JSON error otherwise.",
    params(("secret" = String, Path, description = "the link's secret")),
    responses((status = 200, description = "the page with the sign-in button", content_type = "text/html"),
              (status = 404, description = "`not_found`: no such link",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 410, description = "`sign_in_link_used` or `sign_in_link_expired`",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 503, body = ErrorBody, description = "`unavailable`: Postgres does not answer")))]
pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let path = format!("{LINK_PATH}/{raw}");
    let refusal = match secret(&raw) {
        Err(e) => Some(e),
        Ok(s) => flows::sign_in::peek(&state, s).await?.err(),
    };
    match refusal {
        Some(e) if !wants_html(&req) => Err(e.into()),
        refusal => Ok(link_page(lang, &path, refusal.as_ref())),
    }
}

/// Whether the client is a browser that wants a page back (a form post),
/// rather than a program that wants JSON.
pub(crate) fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Counts a request against the caller's IP in this limiter.
pub(crate) fn check_rate(req: &HttpRequest, limiter: &KeyedLimiter) -> AppResult<()> {
    check_rate_of(req, limiter, &crate::client::client_ip(req))
}

/// Counts a request against `key` (an address, or a token's subject) in
/// this limiter.
pub(crate) fn check_rate_of(req: &HttpRequest, limiter: &KeyedLimiter, key: &str) -> AppResult<()> {
    use governor::clock::Clock;
    limiter.check_key(&key.to_string()).map_err(|not_until| {
        tracing::info!(
            route = req.path().split('/').nth(1).unwrap_or(""),
            "rate limited"
        );
        AppError::TooManyRequests {
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        }
    })
}

/// The answer that starts a session: 303 to the person's page, with the
/// cookie.
pub(crate) fn signed_in(req: &HttpRequest, started: &Started) -> HttpResponse {
    let to = match started.principal.role {
        Role::Operator => "/ops",
        Role::OrgAdmin => "/org",
        _ => "/expert",
    };
    let max_age = (started.expires_at - Utc::now()).num_seconds().max(0);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::SET_COOKIE,
            auth::set_session_cookie(&started.secret, max_age, auth::is_https(req)),
        ))
        .finish()
}

#[utoipa::path(post, path = "/sign-in/{secret}", tag = "sign-in",
    description = "Uses the link up and signs its person in: 303 to /expert (an expert's link) \
                   or /ops (an operator's), with an HttpOnly, SameSite=Strict session cookie. \
                   A browser (`Accept: text/html`) gets a page for a refusal; other clients \
                   the JSON error. Rate-limited per client.",
    params(("secret" = String, Path, description = "the link's secret")),
    responses((status = 303, description = "signed in; Set-Cookie carries the session",
               headers(("Location" = String, description = "/expert or /ops"), ("Set-Cookie" = String, description = "the session"))),
              (status = 404, description = "`not_found`: no such link",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 410, description = "`sign_in_link_used` or `sign_in_link_expired`",
               content((ErrorBody = "application/json"), (String = "text/html"))),
              (status = 429, body = ErrorBody, description = "`rate_limited`: too many sign-in attempts from this client",
               headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
              (status = 503, body = ErrorBody, description = "`unavailable`: Postgres does not answer")))]
pub async fn use_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let attempt = async {
        check_rate(&req, &state.sign_in_limiter)?;
        flows::sign_in::use_link(&state, secret(&raw)?).await
    };
    match attempt.await {
        Ok(started) => Ok(signed_in(&req, &started)),
        Err(e @ AppError::Unavailable(_)) => Err(e.into()),
        Err(e) if wants_html(&req) => Ok(link_page(
            Lang::of(&req),
            &format!("{LINK_PATH}/{raw}"),
            Some(&e),
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(post, path = "/v1/sessions/end", tag = "sign-in",
    description = "Signs the person out: the session ends at once (on every instance) and the \
                   cookie is cleared. Send `X-Anxin-Session: 1`.",
    responses((status = 204, description = "signed out"),
              (status = 401, body = ErrorBody, description = "`unauthorized`: no live session"),
              (status = 403, body = ErrorBody, description = "`csrf`: without `X-Anxin-Session: 1`")),
    security(("session" = [])))]
pub async fn end(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let secret = auth::cookie(&req, auth::SESSION_COOKIE)
        .ok_or(AppError::Unauthorized("there is no session to end"))?;
    auth::check_csrf(&req, Via::Session)?;
    if !flows::sign_in::end(&state, &secret).await? {
        return Err(AppError::Unauthorized("the session has already ended").into());
    }
    Ok(HttpResponse::NoContent()
        .insert_header((
            header::SET_COOKIE,
            auth::clear_session_cookie(auth::is_https(&req)),
        ))
        .finish())
}
