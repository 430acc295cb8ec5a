//! Typed settings, layered: built-in defaults (which work on a developer
//! machine with local Postgres and Redis) → an optional TOML file
//! (`ANXIN_CONFIG`, default `anxin.toml` if present) → `ANXIN_*` environment
//! variables. Secrets are `SecretString`s: they never print, not even in
//! `Debug`.
use anyhow::{bail, Context};
use base64::Engine;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The development JWT secret, documented in the README. Production refuses it.
pub const DEV_JWT_SECRET: &str = "anxin-development-jwt-secret-not-for-production";
/// The development phone key (32 bytes, base64), documented in the README.
pub const DEV_PHONE_KEY: &str = "YW54aW4tZGV2LXBob25lLWtleS0zMi1ieXRlcyEhISE=";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallProviderKind {
    Sip,
    Simulated,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub env: Environment,
    pub listen: String,
    pub database_url: String,
    pub redis_url: String,
    /// Prefix of every Redis key (deployments or tests sharing a server).
    pub redis_prefix: String,
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    #[serde(skip_serializing)]
    pub phone_key: Option<SecretString>,
    /// Names the phone key in stored rows, so keys can rotate.
    pub phone_key_id: String,
    pub call_provider: Option<CallProviderKind>,
    pub sip_trunk: Option<String>,
    pub sip_caller_id: Option<String>,
    pub sip_username: Option<String>,
    #[serde(skip_serializing)]
    pub sip_password: Option<SecretString>,
    /// Local UDP address of the SIP socket (IP-authenticated trunks usually
    /// expect a fixed port).
    pub sip_bind: String,
    /// `host:port` every SIP request is sent to, when the carrier requires an
    /// outbound proxy.
    pub sip_outbound_proxy: Option<String>,
    /// Also present the caller ID in `P-Asserted-Identity`.
    pub sip_assert_identity: bool,
    /// Seconds a leg may ring before it is cancelled.
    pub sip_ring_timeout_seconds: u64,
    /// Call attempts per booking, minutes between them, and minutes of grace
    /// after the slot's end before both legs are hung up.
    pub call_max_attempts: u32,
    pub call_retry_minutes: u64,
    pub call_grace_minutes: u64,
    /// Days a seeker's number is kept after their call, then erased.
    pub phone_retention_days: u64,
    /// `pretty` or `json`.
    pub log_format: String,
    /// HTTP worker threads; 0 = one per core.
    pub http_workers: usize,
    pub db_max_connections: u32,
    pub slate_size: usize,
    pub slate_stability_seconds: u64,
    pub horizon_days: u32,
    pub hold_ttl_seconds: u64,
    pub booking_cutoff_minutes: u64,
    pub max_holds_per_seeker: u32,
    pub max_active_bookings: i64,
    pub fee_minor: i32,
    pub priority_share: f64,
    pub priority_release_before_minutes: u64,
    pub holds_per_minute_per_seeker: u32,
    pub holds_per_minute_per_ip: u32,
    pub reconcile_interval_seconds: u64,
    /// Synthetic seekers for the demo dashboard (`anxin all` only; refused
    /// in production).
    pub demo_traffic: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let api = anxin_api::ApiConfig::default();
        Self {
            env: Environment::Development,
            listen: "127.0.0.1:8080".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/anxin".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: "anxin".into(),
            jwt_secret: None,
            phone_key: None,
            phone_key_id: "k1".into(),
            call_provider: None,
            sip_trunk: None,
            sip_caller_id: None,
            sip_username: None,
            sip_password: None,
            sip_bind: "0.0.0.0:5060".into(),
            sip_outbound_proxy: None,
            sip_assert_identity: false,
            sip_ring_timeout_seconds: 25,
            call_max_attempts: 3,
            call_retry_minutes: 2,
            call_grace_minutes: 5,
            phone_retention_days: 7,
            log_format: "pretty".into(),
            http_workers: 0,
            db_max_connections: 20,
            slate_size: api.slate_size,
            slate_stability_seconds: api.slate_stability.as_secs(),
            horizon_days: api.horizon_days,
            hold_ttl_seconds: 300,
            booking_cutoff_minutes: 10,
            max_holds_per_seeker: 1,
            max_active_bookings: api.max_active_bookings,
            fee_minor: api.fee_minor,
            priority_share: api.priority_share,
            priority_release_before_minutes: api.priority_release_before.as_secs() / 60,
            holds_per_minute_per_seeker: api.holds_per_minute_per_seeker,
            holds_per_minute_per_ip: api.holds_per_minute_per_ip,
            reconcile_interval_seconds: 60,
            demo_traffic: false,
        }
    }
}

/// The secrets, resolved and checked.
pub struct Secrets {
    pub jwt_secret: Vec<u8>,
    pub phone_key: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

fn decode_key(raw: &str) -> anyhow::Result<Vec<u8>> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&raw[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .context("ANXIN_PHONE_KEY must be 32 bytes as base64 or 64 hex digits")?
    };
    if bytes.len() != 32 {
        bail!("ANXIN_PHONE_KEY must be 32 bytes (it is {})", bytes.len());
    }
    Ok(bytes)
}

impl Settings {
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var("ANXIN_CONFIG").unwrap_or_else(|_| "anxin.toml".into());
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("ANXIN_").ignore(&["config"]))
            .extract()
            .context("reading configuration (defaults, ANXIN_CONFIG file, ANXIN_* variables)")?;
        Ok(settings)
    }

    pub fn call_provider(&self) -> CallProviderKind {
        self.call_provider.unwrap_or(match self.env {
            Environment::Development => CallProviderKind::Simulated,
            Environment::Production => CallProviderKind::Sip,
        })
    }

    /// Resolves the secrets. In development a missing secret falls back to
    /// the documented dev value, loudly; in production it stops start-up, as
    /// does a dev value or the simulated call provider.
    pub fn secrets(&self) -> anyhow::Result<Secrets> {
        let production = self.env == Environment::Production;
        let jwt = match &self.jwt_secret {
            Some(s) if production && s.expose_secret() == DEV_JWT_SECRET => {
                bail!("ANXIN_JWT_SECRET is the development value; set a real secret in production")
            }
            Some(s) if production && s.expose_secret().len() < 32 => {
                bail!("ANXIN_JWT_SECRET must be at least 32 characters in production")
            }
            Some(s) => s.expose_secret().as_bytes().to_vec(),
            None if production => {
                bail!("ANXIN_JWT_SECRET is required in production (ANXIN_ENV=production)")
            }
            None => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| tracing::warn!("ANXIN_JWT_SECRET is not set: using the DEVELOPMENT secret; tokens are forgeable by anyone who reads the README"));
                DEV_JWT_SECRET.as_bytes().to_vec()
            }
        };
        let phone = match &self.phone_key {
            Some(s) if production && s.expose_secret() == DEV_PHONE_KEY => {
                bail!("ANXIN_PHONE_KEY is the development value; set a real key in production")
            }
            Some(s) => decode_key(s.expose_secret())?,
            None if production => {
                bail!("ANXIN_PHONE_KEY is required in production (ANXIN_ENV=production)")
            }
            None => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| tracing::warn!("ANXIN_PHONE_KEY is not set: using the DEVELOPMENT key; stored phone numbers are not protected"));
                decode_key(DEV_PHONE_KEY)?
            }
        };
        if production && self.call_provider() == CallProviderKind::Simulated {
            bail!(
                "ANXIN_CALL_PROVIDER=simulated is refused in production: it places no real calls"
            );
        }
        Ok(Secrets {
            jwt_secret: jwt,
            phone_key: phone,
        })
    }

    pub fn api_config(&self) -> anxin_api::ApiConfig {
        anxin_api::ApiConfig {
            slate_size: self.slate_size.clamp(1, 200),
            slate_stability: Duration::from_secs(self.slate_stability_seconds),
            horizon_days: self.horizon_days.clamp(1, 90),
            max_active_bookings: self.max_active_bookings.max(1),
            fee_minor: self.fee_minor.max(0),
            priority_share: self.priority_share.clamp(0.0, 1.0),
            priority_release_before: Duration::from_secs(self.priority_release_before_minutes * 60),
            holds_per_minute_per_seeker: self.holds_per_minute_per_seeker.max(1),
            holds_per_minute_per_ip: self.holds_per_minute_per_ip.max(1),
            ..anxin_api::ApiConfig::default()
        }
    }

    pub fn reserve_config(&self) -> anxin_reserve::ReserveConfig {
        anxin_reserve::ReserveConfig {
            key_prefix: self.redis_prefix.clone(),
            hold_ttl: Duration::from_secs(self.hold_ttl_seconds.max(1)),
            cutoff: Duration::from_secs(self.booking_cutoff_minutes * 60),
            max_holds_per_seeker: self.max_holds_per_seeker.max(1),
            holds_per_minute_per_seeker: self.holds_per_minute_per_seeker.max(1),
            idempotency_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_missing_or_development_secrets() {
        let mut s = Settings {
            env: Environment::Production,
            ..Settings::default()
        };
        s.call_provider = Some(CallProviderKind::Sip);
        assert!(s.secrets().is_err());
        s.jwt_secret = Some(DEV_JWT_SECRET.into());
        s.phone_key = Some("00".repeat(32).into());
        assert!(s.secrets().unwrap_err().to_string().contains("development"));
        s.jwt_secret = Some("a-real-secret-with-at-least-32-characters".into());
        assert!(s.secrets().is_ok());
        s.call_provider = Some(CallProviderKind::Simulated);
        assert!(s.secrets().unwrap_err().to_string().contains("simulated"));
    }

    #[test]
    fn secrets_never_print() {
        let s = Settings {
            jwt_secret: Some("super-secret-value".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("super-secret-value"));
    }

    #[test]
    fn development_falls_back_to_documented_values() {
        let s = Settings::default().secrets().unwrap();
        assert_eq!(s.jwt_secret, DEV_JWT_SECRET.as_bytes());
        assert_eq!(s.phone_key.len(), 32);
    }
}
