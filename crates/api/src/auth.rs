//! Bearer tokens and the one place roles are checked.
//!
//! Handlers declare who may call them in their signature, e.g.
//! `Authorized<OperatorOnly>`; the extractor verifies the token (401) and the
//! role (403) before the handler runs. Verification sits behind
//! `TokenVerifier`, built from a `jsonwebtoken::DecodingKey`, so an RS256/ES256
//! key from an identity provider is a constructor away.
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use anxin_domain::ids::ExpertId;
use anxin_store::seekers::SeekerRow;
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Seeker,
    Expert,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seeker => "seeker",
            Self::Expert => "expert",
            Self::Operator => "operator",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

/// Who is calling, once the token checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    pub sub: String,
}

impl Principal {
    /// The expert id, for an expert (their `sub`).
    pub fn expert_id(&self) -> Option<ExpertId> {
        (self.role == Role::Expert)
            .then(|| self.sub.parse().ok())
            .flatten()
    }
}

#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::Unauthorized("the token has expired"),
                ErrorKind::InvalidSignature => {
                    ApiError::Unauthorized("the token's signature is not valid")
                }
                _ => ApiError::Unauthorized("the token is malformed or not valid"),
            },
        )?;
        if data.claims.sub.is_empty() {
            return Err(ApiError::Unauthorized("the token has no subject"));
        }
        Ok(Principal {
            role: data.claims.role,
            sub: data.claims.sub,
        })
    }
}

/// Signs tokens; used by `anxin token`, the demo seeder and tests.
pub fn issue_token(
    secret: &[u8],
    role: Role,
    sub: &str,
    ttl: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: sub.to_string(),
        role,
        exp: now + ttl.as_secs() as i64,
        iat: now,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

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
