//! Who may call a handler: the one place roles are checked.
//!
//! Handlers declare who may call them in their signature, e.g.
//! `Authorized<OperatorOnly>`; the extractor verifies the token (401, see
//! `token`) and the role (403) before the handler runs. `SeekerSession`
//! goes on to resolve the seeker (`flows::seekers`).
//!
//! Apps and scripts send a bearer token; people (experts, operators) sign in
//! with a one-time link and then hold a session cookie (`flows::sign_in`),
//! which every route that takes their role's token also takes.
use crate::error::{ApiError, AppError};
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use anxin_core::state::AppState;
use anxin_store::seekers::SeekerRow;
use futures_util::future::LocalBoxFuture;
use std::marker::PhantomData;

pub use anxin_core::token::{issue_token, Claims, HostKeys, Principal, Role, TokenVerifier};

/// Which roles may call a handler.
pub trait Policy {
    const ROLES: &'static [Role];
}

macro_rules! policy {
    ($($name:ident => [$($role:ident),*];)*) => {$(
        pub struct $name;
        impl Policy for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),*];
        }
    )*};
}

policy! {
    AnyRole => [Seeker, Expert, Operator];
    OperatorOnly => [Operator];
    ExpertOnly => [Expert];
    SeekerOnly => [Seeker];
    ExpertOrOperator => [Expert, Operator];
    OperatorOrOrgAdmin => [Operator, OrgAdmin];
    ExpertOrStaff => [Expert, Operator, OrgAdmin];
    // What anyone who holds a token may read (the directory of resources,
    // the training modules): an organisation's administrator too.
    AnyHolder => [Seeker, Expert, Operator, OrgAdmin];
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    /// A person's session cookie (see `flows::sign_in`).
    Session,
}

/// The session cookie of a signed-in person (an expert or an operator).
pub const SESSION_COOKIE: &str = "anxin_session";
/// A state-changing request made with the session cookie must carry
/// `X-Anxin-Session: 1`, which a form or a simple request from another site
/// can't set: defence in depth beside `SameSite=Strict`.
pub const SESSION_HEADER: &str = "x-anxin-session";

pub struct Authorized<P: Policy> {
    pub principal: Principal,
    pub via: Via,
    _policy: PhantomData<P>,
}

fn bearer(req: &HttpRequest) -> Result<&str, AppError> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized(
            "an Authorization: Bearer token is required",
        ))?;
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthorized("the Authorization header is malformed"))?;
    let (scheme, token) = value.split_once(' ').ok_or(AppError::Unauthorized(
        "the Authorization header must be 'Bearer <token>'",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::Unauthorized(
            "the Authorization header must be 'Bearer <token>'",
        ));
    }
    Ok(token.trim())
}

fn app_state(req: &HttpRequest) -> Result<&web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or(AppError::Unavailable("the service is not configured"))
}

/// The value of one cookie in the request's `Cookie` headers, parsed by
/// actix's cookie support one pair at a time: another site's malformed
/// cookie does not hide ours.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| actix_web::cookie::Cookie::parse(pair.trim()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// What the request carries, checked.
pub enum Credential {
    None,
    Valid(Principal, Via),
    Invalid(AppError, Via),
}

/// A bearer token when the request has an `Authorization` header, else the
/// session cookie (looked up in Postgres: a session ends the moment it is
/// ended, on every instance).
pub async fn credential(req: &HttpRequest) -> Credential {
    if req.headers().contains_key(header::AUTHORIZATION) {
        let checked = async {
            let state = app_state(req)?;
            let principal = state.tokens.verify(bearer(req)?)?;
            anxin_core::flows::sign_in::require_active(state, &principal).await?;
            Ok(principal)
        };
        return match checked.await {
            Ok(p) => Credential::Valid(p, Via::Bearer),
            Err(e) => Credential::Invalid(e, Via::Bearer),
        };
    }
    let Some(secret) = cookie(req, SESSION_COOKIE) else {
        return Credential::None;
    };
    let state = match app_state(req) {
        Ok(s) => s,
        Err(e) => return Credential::Invalid(e, Via::Session),
    };
    match anxin_core::flows::sign_in::session(state, &secret).await {
        Ok(Some(p)) => Credential::Valid(p, Via::Session),
        Ok(None) => Credential::Invalid(
            AppError::Unauthorized("the session has ended; sign in again"),
            Via::Session,
        ),
        Err(e) => Credential::Invalid(e, Via::Session),
    }
}

/// Who is calling, by bearer token or session; 401 without either.
pub async fn authenticate(req: &HttpRequest) -> Result<(Principal, Via), AppError> {
    match credential(req).await {
        Credential::Valid(p, via) => Ok((p, via)),
        Credential::Invalid(e, _) => Err(e),
        Credential::None => Err(AppError::Unauthorized(
            "an Authorization: Bearer token (or a session) is required",
        )),
    }
}

/// A request made with the session cookie that changes something must say
/// so with `X-Anxin-Session: 1`.
pub fn check_csrf(req: &HttpRequest, via: Via) -> Result<(), AppError> {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD);
    let marked = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "1");
    if via == Via::Session && unsafe_method && !marked {
        return Err(AppError::Csrf);
    }
    Ok(())
}

impl<P: Policy> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (principal, via) = authenticate(&req).await?;
            if !P::ROLES.contains(&principal.role) {
                return Err(AppError::Forbidden("this role may not do that").into());
            }
            check_csrf(&req, via)?;
            Ok(Self {
                principal,
                via,
                _policy: PhantomData,
            })
        })
    }
}

/// The `Set-Cookie` value starting a session of `max_age` seconds.
pub fn set_session_cookie(secret: &str, max_age: i64, secure: bool) -> String {
    use actix_web::cookie::{time, Cookie, SameSite};
    Cookie::build(SESSION_COOKIE, secret)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
        .to_string()
}

/// The `Set-Cookie` value ending a session.
pub fn clear_session_cookie(secure: bool) -> String {
    set_session_cookie("", 0, secure)
}

/// Whether the browser reached us over HTTPS (directly or via a proxy that
/// says so), which decides the cookie's `Secure` flag.
pub fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A seeker, resolved to their pseudonymous record (created on first sight).
/// The host-app subject goes no further than the keyed hash taken here.
pub struct SeekerSession {
    pub seeker: SeekerRow,
    /// The token's `ref` claim (sealed on the seeker's bookings, for the
    /// host app's webhooks).
    pub seeker_ref: Option<String>,
    /// Who the token speaks for, with its claims. Its subject only keys the
    /// per-instance cache; it is never stored or logged.
    pub(crate) principal: Principal,
}

impl FromRequest for SeekerSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Authorized::<SeekerOnly>::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let auth = auth.await?;
            let state = state.ok_or(AppError::Unavailable("the service is not configured"))?;
            let seeker = anxin_core::flows::seekers::resolve_for(&state, &auth.principal).await?;
            Ok(Self {
                seeker,
                seeker_ref: auth.principal.seeker_ref.clone(),
                principal: auth.principal,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn finds_the_session_among_other_cookies() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; anxin_session=s3cr3t; b=2"))
            .to_http_request();
        assert_eq!(cookie(&req, SESSION_COOKIE).as_deref(), Some("s3cr3t"));
        assert_eq!(cookie(&req, "c"), None);
        // Another site's cookie that is no pair does not hide ours.
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "junk; anxin_session=s3cr3t"))
            .to_http_request();
        assert_eq!(cookie(&req, SESSION_COOKIE).as_deref(), Some("s3cr3t"));
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let c = set_session_cookie("t", 60, false);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age=60")
        );
        assert!(!c.contains("Secure"));
        assert!(set_session_cookie("t", 60, true).contains("; Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn cookie_writes_need_the_session_header_and_bearer_ones_do_not() {
        let post = TestRequest::post().to_http_request();
        assert!(matches!(
            check_csrf(&post, Via::Session),
            Err(AppError::Csrf)
        ));
        assert!(check_csrf(&post, Via::Bearer).is_ok());
        let marked = TestRequest::post()
            .insert_header((SESSION_HEADER, "1"))
            .to_http_request();
        assert!(check_csrf(&marked, Via::Session).is_ok());
        assert!(check_csrf(&TestRequest::get().to_http_request(), Via::Session).is_ok());
    }
}
