//! Bearer tokens: their claims, who they say is calling, verifying them
//! (`TokenVerifier`, held by `AppState`) and signing them. No request in
//! sight here: the extractors that check a handler's roles are in `auth`.
//!
//! Verification sits behind `TokenVerifier`, built from a
//! `jsonwebtoken::DecodingKey`, so an RS256/ES256 key from an identity
//! provider is a constructor away.
use crate::cache::TtlCache;
use crate::error::ApiError;
use anxin_domain::ids::ExpertId;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

anxin_domain::named! {
    /// Who a token or session speaks for; the one role type of the API, the
    /// CLI (`anxin token <role>`) and the tokens themselves.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Role as "role" {
        Seeker = "seeker",
        Expert = "expert",
        Operator = "operator",
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
