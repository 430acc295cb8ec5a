//! Operator sign-in for the dashboard, keeping the bearer token out of URLs
//! and logs.
//!
//! The sign-in form POSTs the operator's token in the body to
//! `/ops/session`; the answer sets it as an `HttpOnly; SameSite=Strict`
//! cookie whose lifetime never exceeds the token's (and is at most 12 h).
//! The cookie holds the signed token itself, so no session is stored
//! anywhere (any instance can check it) and it is verified on every request
//! exactly like a bearer token. Page scripts can't read it, and browsers
//! don't send it with requests from other sites.
//!
//! A state-changing request authenticated by the cookie must also carry the
//! `X-Anxin-Ops: 1` header, which a cross-origin form can't set: defence in
//! depth against CSRF from another origin of the same site.
use crate::auth::{Claims, Principal, Role};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};

pub const COOKIE: &str = "anxin_ops_session";
pub const CSRF_HEADER: &str = "x-anxin-ops";
/// The longest a dashboard session lasts, whatever the token says.
const MAX_SESSION_SECS: i64 = 12 * 3600;

/// The value of one cookie in the request's `Cookie` headers.
pub fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Cookie,
}

/// What the request carries, checked.
pub enum Credential {
    None,
    Valid(Principal, Via),
    Invalid(ApiError, Via),
}

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Unavailable("the service is not configured"))
}

/// A bearer token when the request has an `Authorization` header, else the
/// session cookie.
pub fn credential(req: &HttpRequest) -> Credential {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return match crate::auth::authenticate(req) {
            Ok(p) => Credential::Valid(p, Via::Bearer),
            Err(e) => Credential::Invalid(e, Via::Bearer),
        };
    }
    let Some(token) = cookie(req, COOKIE) else {
        return Credential::None;
    };
    let verified = state(req).and_then(|s| {
        s.tokens
            .verify(token)
            .map_err(|_| ApiError::Unauthorized("the operator session has expired; sign in again"))
    });
    match verified {
        Ok(p) => Credential::Valid(p, Via::Cookie),
        Err(e) => Credential::Invalid(e, Via::Cookie),
    }
}

/// An operator, by bearer token or by dashboard session.
pub struct OperatorSession {
    pub principal: Principal,
    pub via: Via,
}

impl OperatorSession {
    fn check(req: &HttpRequest) -> Result<Self, ApiError> {
        let (principal, via) = match credential(req) {
            Credential::None => {
                return Err(ApiError::Unauthorized(
                    "sign in at /ops, or send an Authorization: Bearer token",
                ))
            }
            Credential::Invalid(e, _) => return Err(e),
            Credential::Valid(p, via) => (p, via),
        };
        if principal.role != Role::Operator {
            return Err(ApiError::Forbidden("only operators may see the dashboard"));
        }
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD);
        if via == Via::Cookie && unsafe_method {
            let marked = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == "1");
            if !marked {
                return Err(ApiError::Forbidden(
                    "send X-Anxin-Ops: 1 with requests made with the dashboard session",
                ));
            }
        }
        Ok(Self { principal, via })
    }
}

impl FromRequest for OperatorSession {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::check(req))
    }
}

/// Seconds the session cookie may live for this (already verified) token.
pub fn session_seconds(token: &str) -> i64 {
    // The signature was checked by `TokenVerifier::verify`; this only reads
    // the expiry back out.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let exp = jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &validation,
    )
    .map(|d| d.claims.exp)
    .unwrap_or(0);
    (exp - chrono::Utc::now().timestamp()).clamp(0, MAX_SESSION_SECS)
}

/// The `Set-Cookie` value starting a session.
pub fn set_cookie(token: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value ending a session.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// Whether the browser reached us over HTTPS (directly or via a proxy that
/// says so), which decides the cookie's `Secure` flag.
pub fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn finds_the_session_among_other_cookies() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; anxin_ops_session=tok.en.sig; b=2"))
            .to_http_request();
        assert_eq!(cookie(&req, COOKIE), Some("tok.en.sig"));
        assert_eq!(cookie(&req, "c"), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let c = set_cookie("t", 60, false);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Max-Age=60")
        );
        assert!(!c.contains("Secure"));
        assert!(set_cookie("t", 60, true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn a_session_never_outlives_its_token_or_twelve_hours() {
        let secret = b"s";
        let short = crate::auth::issue_token(
            secret,
            Role::Operator,
            "op",
            std::time::Duration::from_secs(600),
        )
        .unwrap();
        let s = session_seconds(&short);
        assert!((595..=600).contains(&s), "{s}");
        let long = crate::auth::issue_token(
            secret,
            Role::Operator,
            "op",
            std::time::Duration::from_secs(7 * 24 * 3600),
        )
        .unwrap();
        assert_eq!(session_seconds(&long), MAX_SESSION_SECS);
    }
}
