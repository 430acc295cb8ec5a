//! Bearer tokens: their claims, who they say is calling, verifying them
//! (`TokenVerifier`, held by `AppState`) and signing them. No request in
//! sight here: the extractors that check a handler's roles are in `auth`.
//!
//! `TokenVerifier` takes HS256 tokens signed with `ANXIN_JWT_SECRET` (the
//! CLI, development, the dashboard), and, with host-app keys configured
//! (`HostKeys`: `ANXIN_JWT_PUBLIC_KEYS_FILE`), RS256 and ES256 seeker tokens
//! signed by the host app, so the host never shares a secret with Anxin and
//! Anxin cannot forge its users' tokens. The token's header picks the path;
//! each path accepts only its own algorithms, so an HS256 token whose
//! "secret" is the public key is checked against `ANXIN_JWT_SECRET` and
//! fails (no algorithm confusion), and `alg: none` is no algorithm at all.
use crate::cache::TtlCache;
use crate::error::AppError;
use anxin_domain::ids::ExpertId;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

anxin_domain::named! {
    /// Who a token or session speaks for; the one role type of the API, the
    /// CLI (`anxin token <role>`) and the tokens themselves.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Role as "role" {
        Seeker = "seeker",
        Expert = "expert",
        Operator = "operator",
        /// An organisation's administrator (an operator account scoped to
        /// one organisation).
        OrgAdmin = "org_admin",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    /// The host app's own reference for the seeker, returned in webhooks
    /// as `seeker_ref` (sealed at rest); never the subject.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub seeker_ref: Option<String>,
    /// A priority group the host app vouches for (`medical_worker`, …):
    /// it wins over what the seeker declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The seeker's region as the host app knows it; wins over a declared one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// Who is calling, once the token checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    pub sub: String,
    /// The token's `ref` claim, when the host app put one there.
    pub seeker_ref: Option<String>,
    /// The token's `group` claim: a priority group the host app vouches for.
    pub group: Option<anxin_domain::seeker::PriorityGroup>,
    /// The token's `region` claim.
    pub region: Option<String>,
}

impl Principal {
    /// Who acted, as the audit log names them.
    pub fn actor(&self) -> anxin_store::audit::Actor {
        anxin_store::audit::Actor {
            role: self.role.as_str(),
            id: self.sub.clone(),
        }
    }

    /// Who a subject of this role is, with no claims beyond the two.
    pub fn new(role: Role, sub: impl Into<String>) -> Self {
        Self {
            role,
            sub: sub.into(),
            seeker_ref: None,
            group: None,
            region: None,
        }
    }

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
    /// The host app's public keys, when configured.
    host: Option<Arc<HostKeys>>,
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
            host: None,
            verified: Arc::new(TtlCache::new(VERIFIED_TTL, VERIFIED_CAPACITY)),
        }
    }

    /// Also accepts host-app tokens verified with `keys`.
    pub fn with_host_keys(mut self, keys: HostKeys) -> Self {
        self.host = Some(Arc::new(keys));
        self
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AppError> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    fn verify_at(&self, token: &str, now: i64) -> Result<Principal, AppError> {
        // New keys: tokens remembered under the old ones are checked again.
        if self.host.as_ref().is_some_and(|h| h.refresh()) {
            self.verified.clear();
        }
        if let Some((principal, exp)) = self.verified.get(token) {
            if now > exp + self.validation.leeway as i64 {
                self.verified.remove(token);
                return Err(AppError::Unauthorized("the token has expired"));
            }
            return Ok(principal);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AppError::Unauthorized("the token is malformed or not valid"))?;
        let data = match (header.alg, &self.host) {
            (Algorithm::HS256, _) => {
                jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            }
            (Algorithm::RS256 | Algorithm::ES256, Some(host)) => {
                let (key, validation) = host.key_for(header.alg, header.kid.as_deref())?;
                jsonwebtoken::decode::<Claims>(token, &key, &validation)
            }
            _ => {
                return Err(AppError::Unauthorized(
                    "the token's algorithm is not accepted",
                ))
            }
        }
        .map_err(refusal)?;
        if header.alg != Algorithm::HS256 && data.claims.role != Role::Seeker {
            return Err(AppError::Unauthorized(
                "a host-app token may only speak for a seeker",
            ));
        }
        if data.claims.sub.is_empty() {
            return Err(AppError::Unauthorized("the token has no subject"));
        }
        let group = match data.claims.group.as_deref() {
            None => None,
            Some(g) => Some(anxin_domain::seeker::PriorityGroup::parse(g).ok_or(
                AppError::Unauthorized("the token's group is not a priority group"),
            )?),
        };
        let principal = Principal {
            role: data.claims.role,
            sub: data.claims.sub,
            seeker_ref: data.claims.seeker_ref.filter(|r| !r.is_empty()),
            group,
            region: data
                .claims
                .region
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty() && r.chars().count() <= 64),
        };
        self.verified
            .insert(token.to_owned(), (principal.clone(), data.claims.exp));
        Ok(principal)
    }
}

fn refusal(e: jsonwebtoken::errors::Error) -> AppError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AppError::Unauthorized("the token has expired"),
        ErrorKind::InvalidSignature => AppError::Unauthorized("the token's signature is not valid"),
        ErrorKind::InvalidIssuer => AppError::Unauthorized("the token's issuer is not accepted"),
        ErrorKind::InvalidAudience => {
            AppError::Unauthorized("the token's audience is not accepted")
        }
        _ => AppError::Unauthorized("the token is malformed or not valid"),
    }
}

/// The host app's public keys (`ANXIN_JWT_PUBLIC_KEYS_FILE`): one PEM key,
/// which serves whatever the token's `kid`, or a JWKS document, whose keys
/// the token's `kid` selects. The file is read again when it changes, so
/// keys rotate without a restart; a file that no longer parses keeps the
/// keys last read (and says so in the log).
pub struct HostKeys {
    path: std::path::PathBuf,
    issuer: Option<String>,
    audience: Option<String>,
    loaded: std::sync::RwLock<Loaded>,
    /// When the file was last looked at (ms since the epoch), and how often
    /// to look: one `stat` a second, not one a request.
    checked_at: std::sync::atomic::AtomicI64,
    check_every_ms: i64,
}

struct Loaded {
    /// The file's modification time and length when read.
    stamp: Option<(std::time::SystemTime, u64)>,
    keys: KeySet,
}

enum KeySet {
    Pem(Algorithm, DecodingKey),
    Jwks(std::collections::HashMap<String, (Algorithm, DecodingKey)>),
}

/// Why a key file can't be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: neither an RSA or P-256 public key in PEM, nor a JWKS document of such keys")]
    Unusable(String),
}

impl HostKeys {
    /// Reads the file now (start-up fails on a bad one); `iss`/`aud` are
    /// checked when given.
    pub fn load(
        path: impl Into<std::path::PathBuf>,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, KeyFileError> {
        let path = path.into();
        let (stamp, keys) = read_keys(&path)?;
        Ok(Self {
            path,
            issuer,
            audience,
            loaded: std::sync::RwLock::new(Loaded {
                stamp: Some(stamp),
                keys,
            }),
            checked_at: std::sync::atomic::AtomicI64::new(chrono::Utc::now().timestamp_millis()),
            check_every_ms: 1000,
        })
    }

    /// The key and checks for a token of `alg` naming `kid`.
    fn key_for(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<(DecodingKey, Validation), AppError> {
        let loaded = self
            .loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = match &loaded.keys {
            KeySet::Pem(a, key) if *a == alg => key.clone(),
            KeySet::Jwks(keys) => match kid.and_then(|k| keys.get(k)) {
                Some((a, key)) if *a == alg => key.clone(),
                _ => return Err(AppError::Unauthorized("the token's key is not known")),
            },
            KeySet::Pem(..) => return Err(AppError::Unauthorized("the token's key is not known")),
        };
        let mut validation = Validation::new(alg);
        // A small allowance for the host's clock.
        validation.leeway = 30;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok((key, validation))
    }

    /// Reads the file again if its time or length changed since it was
    /// read; true when new keys were loaded.
    fn refresh(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = chrono::Utc::now().timestamp_millis();
        let last = self.checked_at.load(Ordering::Relaxed);
        if now - last < self.check_every_ms
            || self
                .checked_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return false;
        };
        let stamp = (meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len());
        let current = self
            .loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stamp;
        if current == Some(stamp) {
            return false;
        }
        let mut loaded = self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match read_keys(&self.path) {
            Ok((stamp, keys)) => {
                tracing::info!("host-app public keys reloaded");
                *loaded = Loaded {
                    stamp: Some(stamp),
                    keys,
                };
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "host-app public keys not reloaded; keeping the last ones");
                loaded.stamp = Some(stamp);
                false
            }
        }
    }
}

fn read_keys(
    path: &std::path::Path,
) -> Result<((std::time::SystemTime, u64), KeySet), KeyFileError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| KeyFileError::Read(shown.clone(), e))?;
    let text = std::fs::read(path).map_err(|e| KeyFileError::Read(shown.clone(), e))?;
    let stamp = (meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len());
    let keys = parse_keys(&text).ok_or(KeyFileError::Unusable(shown))?;
    Ok((stamp, keys))
}

fn parse_keys(text: &[u8]) -> Option<KeySet> {
    if let Ok(set) = serde_json::from_slice::<jsonwebtoken::jwk::JwkSet>(text) {
        use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
        let mut keys = std::collections::HashMap::new();
        for jwk in &set.keys {
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk))
            else {
                continue;
            };
            keys.insert(kid, (alg, key));
        }
        return (!keys.is_empty()).then_some(KeySet::Jwks(keys));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(text) {
        return Some(KeySet::Pem(Algorithm::RS256, key));
    }
    DecodingKey::from_ec_pem(text)
        .ok()
        .map(|key| KeySet::Pem(Algorithm::ES256, key))
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
        seeker_ref: None,
        group: None,
        region: None,
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
    use base64::Engine as _;

    /// Test-only keys (see `tests/keys/README.md`).
    fn key_path(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/keys")
            .join(name)
    }

    fn host_token(
        alg: Algorithm,
        private: &str,
        kid: Option<&str>,
        claims: serde_json::Value,
    ) -> String {
        let pem = std::fs::read(key_path(private)).unwrap();
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
            _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    fn seeker_claims() -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        serde_json::json!({"sub": "host-user-1", "role": "seeker", "exp": now + 300, "iat": now,
                           "iss": "https://host.example", "aud": "anxin"})
    }

    fn with_keys(file: &str, iss: Option<&str>, aud: Option<&str>) -> TokenVerifier {
        let keys =
            HostKeys::load(key_path(file), iss.map(Into::into), aud.map(Into::into)).unwrap();
        TokenVerifier::hs256(SECRET).with_host_keys(keys)
    }

    fn refused(v: &TokenVerifier, token: &str) -> &'static str {
        match v.verify(token) {
            Err(AppError::Unauthorized(m)) => m,
            other => panic!("expected 401, got {:?}", other.map(|p| p.sub)),
        }
    }

    #[test]
    fn rs256_and_es256_host_tokens_verify_with_the_key_their_kid_names() {
        let jwks = with_keys("jwks.json", Some("https://host.example"), Some("anxin"));
        let rs = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            seeker_claims(),
        );
        let es = host_token(Algorithm::ES256, "ec_a.key", Some("ec-a"), seeker_claims());
        for token in [&rs, &es] {
            let p = jwks.verify(token).unwrap();
            assert_eq!((p.role, p.sub.as_str()), (Role::Seeker, "host-user-1"));
        }
        // A PEM file's one key serves whatever the kid.
        let pem = with_keys("rsa_a.pub", None, None);
        assert_eq!(pem.verify(&rs).unwrap().sub, "host-user-1");
        let rs_no_kid = host_token(Algorithm::RS256, "rsa_a.key", None, seeker_claims());
        assert_eq!(pem.verify(&rs_no_kid).unwrap().sub, "host-user-1");
        let ec = with_keys("ec_a.pub", None, None);
        assert_eq!(ec.verify(&es).unwrap().sub, "host-user-1");
        // HS256 tokens of the CLI still pass beside them.
        let hs = issue_token(SECRET, Role::Operator, "ops", Duration::from_secs(60)).unwrap();
        assert_eq!(jwks.verify(&hs).unwrap().role, Role::Operator);
    }

    #[test]
    fn forged_expired_misaddressed_and_confused_host_tokens_are_refused() {
        let v = with_keys("jwks.json", Some("https://host.example"), Some("anxin"));
        let now = chrono::Utc::now().timestamp();
        let claims = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut c = seeker_claims();
            f(&mut c);
            c
        };
        // Signed by another key under a known kid.
        let wrong_key = host_token(
            Algorithm::RS256,
            "rsa_b.key",
            Some("rsa-a"),
            seeker_claims(),
        );
        assert_eq!(
            refused(&v, &wrong_key),
            "the token's signature is not valid"
        );
        // A kid the file doesn't have, or an algorithm its key isn't for.
        let unknown = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-z"),
            seeker_claims(),
        );
        assert_eq!(refused(&v, &unknown), "the token's key is not known");
        let cross = host_token(Algorithm::ES256, "ec_a.key", Some("rsa-a"), seeker_claims());
        assert_eq!(refused(&v, &cross), "the token's key is not known");
        // Past exp beyond the leeway.
        let expired = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            claims(&|c| c["exp"] = (now - 120).into()),
        );
        assert_eq!(refused(&v, &expired), "the token has expired");
        let wrong_iss = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            claims(&|c| c["iss"] = "https://evil.example".into()),
        );
        assert_eq!(
            refused(&v, &wrong_iss),
            "the token's issuer is not accepted"
        );
        let wrong_aud = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            claims(&|c| c["aud"] = "someone-else".into()),
        );
        assert_eq!(
            refused(&v, &wrong_aud),
            "the token's audience is not accepted"
        );
        let no_iss = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            claims(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        );
        refused(&v, &no_iss);
        // A host key speaks for seekers only.
        let operator = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            claims(&|c| c["role"] = "operator".into()),
        );
        assert_eq!(
            refused(&v, &operator),
            "a host-app token may only speak for a seeker"
        );
        // alg: none, unsigned.
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let none = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(seeker_claims())
        );
        refused(&v, &none);
        // Algorithm confusion: HS256 with the public key as the secret.
        let public = std::fs::read(key_path("rsa_a.pub")).unwrap();
        let confused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &seeker_claims(),
            &EncodingKey::from_secret(&public),
        )
        .unwrap();
        assert_eq!(refused(&v, &confused), "the token's signature is not valid");
        // Without host keys, an RS256 token is no token.
        let rs = host_token(
            Algorithm::RS256,
            "rsa_a.key",
            Some("rsa-a"),
            seeker_claims(),
        );
        assert_eq!(
            refused(&TokenVerifier::hs256(SECRET), &rs),
            "the token's algorithm is not accepted"
        );
    }

    #[test]
    fn rewriting_the_key_file_rotates_the_keys_without_a_restart() {
        let dir =
            std::env::temp_dir().join(format!("anxin-keys-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("host.pem");
        std::fs::copy(key_path("rsa_a.pub"), &file).unwrap();
        let mut keys = HostKeys::load(&file, None, None).unwrap();
        keys.check_every_ms = 0;
        let v = TokenVerifier::hs256(SECRET).with_host_keys(keys);
        let old = host_token(Algorithm::RS256, "rsa_a.key", None, seeker_claims());
        let new = host_token(Algorithm::RS256, "rsa_b.key", None, seeker_claims());
        assert!(v.verify(&old).is_ok());
        assert_eq!(refused(&v, &new), "the token's signature is not valid");
        std::fs::copy(key_path("rsa_b.pub"), &file).unwrap();
        // However coarse the file system's clock, the file reads as changed.
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        assert!(v.verify(&new).is_ok());
        // The old key's token is checked again, not taken from memory.
        assert_eq!(refused(&v, &old), "the token's signature is not valid");
        // A file that no longer parses keeps the keys last read.
        std::fs::write(&file, "not a key").unwrap();
        let mut other = seeker_claims();
        other["sub"] = "host-user-2".into();
        let unseen = host_token(Algorithm::RS256, "rsa_b.key", None, other);
        assert_eq!(v.verify(&unseen).unwrap().sub, "host-user-2");
        let _ = std::fs::remove_dir_all(dir);
    }

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
            Err(AppError::Unauthorized(m)) => assert_eq!(m, "the token has expired"),
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
                Err(AppError::Unauthorized("the token's signature is not valid"))
            ));
        }
        assert!(v.verified.get(forged.as_str()).is_none());
    }
}
