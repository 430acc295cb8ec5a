//! Bearer tokens and the one place roles are checked.
//!
//! Handlers declare who may call them in their signature, e.g.
//! `Authorized<OperatorOnly>`; the extractor verifies the token (401) and the
//! role (403) before the handler runs. Verification sits behind
//! `TokenVerifier`, built from a `jsonwebtoken::DecodingKey`, so an RS256/ES256
//! key from an identity provider is a constructor away.
use crate::cache::TtlCache;
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
use std::sync::Arc;
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
    /// Tokens whose signature checked out, with their claims' expiry. A
    /// client sends the same token with every request, and checking the
    /// signature and parsing the claims cost more than the rest of a hold's
    /// own work in this process. Bounded in time and size; only valid
    /// tokens go in, and an entry is never trusted past the token's `exp`.
    verified: Arc<TtlCache<String, (Principal, i64)>>,
}

/// How long a verified token is remembered (at most; its `exp` still rules).
const VERIFIED_TTL: Duration = Duration::from_secs(60);
const VERIFIED_CAPACITY: usize = 50_000;

impl TokenVerifier {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
            verified: Arc::new(TtlCache::new(VERIFIED_TTL, VERIFIED_CAPACITY)),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    fn verify_at(&self, token: &str, now: i64) -> Result<Principal, ApiError> {
        if let Some((principal, exp)) = self.verified.get(token) {
            if now > exp + self.validation.leeway as i64 {
                self.verified.remove(token);
                return Err(ApiError::Unauthorized("the token has expired"));
            }
            return Ok(principal);
        }
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
        let principal = Principal {
            role: data.claims.role,
            sub: data.claims.sub,
        };
        self.verified
            .insert(token.to_owned(), (principal.clone(), data.claims.exp));
        Ok(principal)
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a test secret of thirty-two bytes";

    #[test]
    fn a_remembered_token_is_still_refused_once_it_expires() {
        let v = TokenVerifier::hs256(SECRET);
        let token = issue_token(SECRET, Role::Seeker, "s-1", Duration::from_secs(30)).unwrap();
        let now = chrono::Utc::now().timestamp();
        assert_eq!(v.verify_at(&token, now).unwrap().sub, "s-1");
        assert!(v.verified.get(token.as_str()).is_some());
        assert_eq!(v.verify_at(&token, now + 20).unwrap().sub, "s-1");
        // Past `exp` and the leeway, the remembered entry is refused too.
        match v.verify_at(&token, now + 60) {
            Err(ApiError::Unauthorized(m)) => assert_eq!(m, "the token has expired"),
            other => panic!("expected 401, got {:?}", other.map(|p| p.sub)),
        }
        assert!(v.verified.get(token.as_str()).is_none());
    }

    #[test]
    fn a_token_that_fails_verification_is_never_remembered() {
        let v = TokenVerifier::hs256(SECRET);
        let forged = issue_token(
            b"another secret",
            Role::Operator,
            "x",
            Duration::from_secs(30),
        )
        .unwrap();
        for _ in 0..2 {
            assert!(matches!(
                v.verify(&forged),
                Err(ApiError::Unauthorized("the token's signature is not valid"))
            ));
        }
        assert!(v.verified.get(forged.as_str()).is_none());
    }
}
