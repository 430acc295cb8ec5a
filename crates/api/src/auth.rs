//! Who may call a handler: the one place roles are checked.
//!
//! Handlers declare who may call them in their signature, e.g.
//! `Authorized<OperatorOnly>`; the extractor verifies the token (401, see
//! `token`) and the role (403) before the handler runs. `SeekerSession`
//! goes on to resolve the seeker (`flows::seekers`).
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use anxin_store::seekers::SeekerRow;
use futures_util::future::LocalBoxFuture;
use std::marker::PhantomData;

pub use crate::token::{issue_token, Claims, HostKeys, Principal, Role, TokenVerifier};

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
}

pub struct Authorized<P: Policy> {
    pub principal: Principal,
    _policy: PhantomData<P>,
}

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "an Authorization: Bearer token is required",
        ))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is malformed"))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized(
        "the Authorization header must be 'Bearer <token>'",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized(
            "the Authorization header must be 'Bearer <token>'",
        ));
    }
    Ok(token.trim())
}

pub(crate) fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Unavailable("the service is not configured"))?;
    state.tokens.verify(bearer(req)?)
}

impl<P: Policy> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req).and_then(|principal| {
            if P::ROLES.contains(&principal.role) {
                Ok(Self {
                    principal,
                    _policy: PhantomData,
                })
            } else {
                Err(ApiError::Forbidden("this role may not do that"))
            }
        }))
    }
}

/// A seeker, resolved to their pseudonymous record (created on first sight).
/// The host-app subject goes no further than the keyed hash taken here.
pub struct SeekerSession {
    pub seeker: SeekerRow,
    /// Kept only to key the per-instance cache; never stored or logged.
    pub(crate) subject: String,
}

impl FromRequest for SeekerSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Authorized::<SeekerOnly>::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let auth = auth?;
            let state = state.ok_or(ApiError::Unavailable("the service is not configured"))?;
            let seeker = crate::flows::seekers::resolve(&state, &auth.principal.sub).await?;
            Ok(Self {
                seeker,
                subject: auth.principal.sub,
            })
        })
    }
}
