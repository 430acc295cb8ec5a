//! Typed settings, layered: built-in defaults (which work on a developer
//! machine with local Postgres and Redis) → an optional TOML file
//! (`ANXIN_CONFIG`, default `anxin.toml` if present) → `ANXIN_*` environment
//! variables. Secrets are `SecretString`s: they never print, not even in
//! `Debug`.
//!
//! Every variable is read as text (see `TextEnv`): `ANXIN_SIP_USERNAME=1001`
//! is the string "1001", never a number. Numbers and switches are parsed
//! from that text field by field (see `text`), so one that doesn't parse
//! stops start-up with a message naming its variable and the form expected.
use anxin_domain::payment::ProviderName;
use anyhow::{bail, Context};
use base64::Engine;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The development JWT secret, documented in the README. Production refuses it.
pub const DEV_JWT_SECRET: &str = "anxin-development-jwt-secret-not-for-production";
/// The development phone key (32 bytes, base64), documented in the README.
pub const DEV_PHONE_KEY: &str = "YW54aW4tZGV2LXBob25lLWtleS0zMi1ieXRlcyEhISE=";
/// The development subject key (32 bytes, base64), documented in the README.
pub const DEV_SUBJECT_KEY: &str = "YW54aW4tZGV2LXN1YmplY3Qta2V5LTMyLWJ5dGVzISE=";
/// Every environment variable Anxin reads starts with this.
const ENV_PREFIX: &str = "ANXIN_";

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
    /// Whether `ANXIN_ENV` was set (by a variable or the file) rather than
    /// defaulted: a server reachable from other machines must say which it is.
    #[serde(skip)]
    pub env_given: bool,
    pub listen: String,
    pub database_url: String,
    pub redis_url: String,
    /// Comma-separated `redis://host:port` seed nodes of a Redis Cluster;
    /// when set, Anxin uses the cluster instead of `redis_url`.
    pub redis_cluster_nodes: Option<String>,
    /// Prefix of every Redis key (deployments or tests sharing a server).
    pub redis_prefix: String,
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    #[serde(skip_serializing)]
    pub phone_key: Option<SecretString>,
    /// Keys the HMAC that turns a host app's subject into a seeker id. Kept
    /// apart from the phone key, so phone keys can rotate without every
    /// seeker becoming a new one.
    #[serde(skip_serializing)]
    pub subject_key: Option<SecretString>,
    /// Names the phone key in stored rows, so keys can rotate.
    pub phone_key_id: String,
    pub call_provider: Option<CallProviderKind>,
    /// Who takes the booking fee: `simulated` (development's default),
    /// `alipay` or `none`. Production must name one and refuses `simulated`.
    pub payment_provider: Option<ProviderName>,
    /// Where host-app webhooks go, and their signing secret.
    pub webhook_url: Option<String>,
    #[serde(skip_serializing)]
    pub webhook_secret: Option<SecretString>,
    /// `call.reminder` goes out this many minutes before the start.
    #[serde(deserialize_with = "text::parse")]
    pub reminder_minutes: u64,
    /// The wait before a failed webhook's first retry (then doubling).
    #[serde(deserialize_with = "text::parse")]
    pub webhook_first_retry_seconds: f64,
    /// The psychological-aid lines the seeker app lists first, one a line
    /// (120 and 110 follow them always).
    pub crisis_lines: Option<String>,
    /// The Alipay merchant app, its RSA2 private key (a file), Alipay's
    /// public key (a file) and the gateway (`ANXIN_ALIPAY_*`).
    pub alipay_app_id: Option<String>,
    pub alipay_private_key_file: Option<String>,
    pub alipay_public_key_file: Option<String>,
    pub alipay_gateway: Option<String>,
    /// How long a seeker has to pay the fee; the hold lasts as long.
    #[serde(deserialize_with = "text::parse")]
    pub payment_window_seconds: u64,
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
    /// Where a standalone `anxin worker` serves `/metrics` (its call outcome
    /// counters); none by default. Under `anxin` (everything in one process)
    /// the API's `/metrics` carries them.
    pub worker_metrics_listen: Option<String>,
    /// The host app's public keys (PEM or JWKS): RS256/ES256 seeker tokens
    /// verified with them, beside HS256 tokens signed with the JWT secret.
    pub jwt_public_keys_file: Option<String>,
    /// Checked against host-app tokens' `iss` / `aud` when set.
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// Also present the caller ID in `P-Asserted-Identity`.
    #[serde(deserialize_with = "text::parse")]
    pub sip_assert_identity: bool,
    /// Seconds a leg may ring before it is cancelled.
    #[serde(deserialize_with = "text::parse")]
    pub sip_ring_timeout_seconds: u64,
    /// Call attempts per booking, minutes between them, and minutes of grace
    /// after the slot's end before both legs are hung up.
    #[serde(deserialize_with = "text::parse")]
    pub call_max_attempts: u32,
    #[serde(deserialize_with = "text::parse")]
    pub call_retry_minutes: u64,
    #[serde(deserialize_with = "text::parse")]
    pub call_grace_minutes: u64,
    /// Days a seeker's number is kept after their call, then erased.
    #[serde(deserialize_with = "text::parse")]
    pub phone_retention_days: u64,
    /// `pretty` or `json`.
    pub log_format: String,
    /// HTTP worker threads; 0 = one per core.
    #[serde(deserialize_with = "text::parse")]
    pub http_workers: usize,
    #[serde(deserialize_with = "text::parse")]
    pub db_max_connections: u32,
    #[serde(deserialize_with = "text::parse")]
    pub slate_size: usize,
    #[serde(deserialize_with = "text::parse")]
    pub slate_stability_seconds: u64,
    #[serde(deserialize_with = "text::parse")]
    pub horizon_days: u32,
    #[serde(deserialize_with = "text::parse")]
    pub hold_ttl_seconds: u64,
    #[serde(deserialize_with = "text::parse")]
    pub booking_cutoff_minutes: u64,
    #[serde(deserialize_with = "text::parse")]
    pub max_holds_per_seeker: u32,
    #[serde(deserialize_with = "text::parse")]
    pub max_active_bookings: i64,
    #[serde(deserialize_with = "text::parse")]
    pub fee_minor: i32,
    #[serde(deserialize_with = "text::parse")]
    pub priority_share: f64,
    #[serde(deserialize_with = "text::parse")]
    pub priority_release_before_minutes: u64,
    #[serde(deserialize_with = "text::parse")]
    pub holds_per_minute_per_seeker: u32,
    #[serde(deserialize_with = "text::parse")]
    pub holds_per_minute_per_ip: u32,
    #[serde(deserialize_with = "text::parse")]
    pub reconcile_interval_seconds: u64,
    /// The base URL people reach Anxin at (sign-in links); by default
    /// `http://` + `listen`.
    pub public_url: Option<String>,
    /// How long a person's session lasts, and a sign-in link stays usable.
    #[serde(deserialize_with = "text::parse")]
    pub session_hours: u64,
    #[serde(deserialize_with = "text::parse")]
    pub sign_in_link_hours: u64,
    /// After a volunteer's emergency referral, the local days (from that
    /// one) they are offered no new booking, unless they reopen them; 0:
    /// no rest.
    #[serde(deserialize_with = "text::parse")]
    pub rest_after_emergency_days: u32,
    /// How long a waitlist offer's hold lasts; at least ten minutes in
    /// production.
    #[serde(deserialize_with = "text::parse")]
    pub waitlist_offer_seconds: u64,
    /// How long an on-duty expert's phone rings for a help-now request
    /// before the next free expert is rung.
    #[serde(deserialize_with = "text::parse")]
    pub help_now_ring_seconds: u64,
    /// A help-now request nobody could take this long ends `timed_out`.
    #[serde(deserialize_with = "text::parse")]
    pub help_now_max_wait_minutes: u64,
    /// Sign-in attempts per client IP per minute (links used, dashboard
    /// tokens exchanged), in each process.
    #[serde(deserialize_with = "text::parse")]
    pub sign_ins_per_minute_per_ip: u32,
    /// Applications from the public `/apply` page per client IP per hour.
    #[serde(deserialize_with = "text::parse")]
    pub applications_per_hour_per_ip: u32,
    /// Synthetic seekers for the demo dashboard (`anxin all` only; refused
    /// in production).
    #[serde(deserialize_with = "text::parse")]
    pub demo_traffic: bool,
    /// Comma-separated CIDRs whose `X-Forwarded-For` is believed for
    /// per-address limits; none by default (the TCP peer is the client).
    pub trusted_proxies: Option<String>,
    /// The bearer token `/metrics` requires (always required in
    /// production: without one, nobody reads it).
    #[serde(skip_serializing)]
    pub metrics_token: Option<SecretString>,
    /// A seeker's priority group only from the host-app token's `group`.
    #[serde(deserialize_with = "text::parse")]
    pub priority_from_token: bool,
    /// The country calling code of phone numbers written without `+` or
    /// `00`: with `86`, `138 0000 0000` is +86 138 0000 0000.
    pub phone_country_code: String,
}

impl Default for Settings {
    fn default() -> Self {
        let api = anxin_core::state::ApiConfig::default();
        Self {
            env: Environment::Development,
            env_given: false,
            listen: "127.0.0.1:8080".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/anxin".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_cluster_nodes: None,
            redis_prefix: "anxin".into(),
            jwt_secret: None,
            phone_key: None,
            subject_key: None,
            phone_key_id: "k1".into(),
            call_provider: None,
            payment_provider: None,
            payment_window_seconds: 900,
            alipay_app_id: None,
            alipay_private_key_file: None,
            alipay_public_key_file: None,
            alipay_gateway: None,
            crisis_lines: None,
            webhook_url: None,
            webhook_secret: None,
            reminder_minutes: 10,
            webhook_first_retry_seconds: 10.0,
            sip_trunk: None,
            sip_caller_id: None,
            sip_username: None,
            sip_password: None,
            sip_bind: "0.0.0.0:5060".into(),
            sip_outbound_proxy: None,
            worker_metrics_listen: None,
            jwt_public_keys_file: None,
            jwt_issuer: None,
            jwt_audience: None,
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
            public_url: None,
            session_hours: 12,
            sign_in_link_hours: 72,
            rest_after_emergency_days: api.rest_after_emergency_days,
            waitlist_offer_seconds: api.waitlist_offer.as_secs(),
            help_now_ring_seconds: api.help_now_ring.as_secs(),
            help_now_max_wait_minutes: api.help_now_max_wait.as_secs() / 60,
            sign_ins_per_minute_per_ip: api.sign_ins_per_minute_per_ip,
            applications_per_hour_per_ip: api.applications_per_hour_per_ip,
            demo_traffic: false,
            trusted_proxies: None,
            metrics_token: None,
            priority_from_token: false,
            phone_country_code: anxin_domain::phone::DEFAULT_COUNTRY_CODE.into(),
        }
    }
}

/// A listen address only this machine can reach (`localhost:…` too).
fn is_loopback(listen: &str) -> bool {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => listen
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
    }
}

/// The secrets, resolved and checked.
pub struct Secrets {
    pub jwt_secret: Vec<u8>,
    pub phone_key: Vec<u8>,
    pub subject_key: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

fn decode_key(name: &str, raw: &str) -> anyhow::Result<Vec<u8>> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&raw[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .with_context(|| format!("{name} must be 32 bytes as base64 or 64 hex digits"))?
    };
    if bytes.len() != 32 {
        bail!("{name} must be 32 bytes (it is {})", bytes.len());
    }
    Ok(bytes)
}

impl Settings {
    /// Every `ANXIN_*` variable the configuration reads, from the settings'
    /// own field list (as serde sees it), in declaration order; plus
    /// `ANXIN_CONFIG`, which names the file.
    pub fn variables() -> Vec<String> {
        std::iter::once("ANXIN_CONFIG".to_string())
            .chain(
                fields::of::<Settings>()
                    .iter()
                    .map(|f| format!("{ENV_PREFIX}{}", f.to_uppercase())),
            )
            .collect()
    }

    /// Defaults, then the file, then the process environment.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_vars(std::env::vars())
    }

    /// `load` over the given variables instead of the process environment
    /// (`ANXIN_CONFIG` among them names the file).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let env = TextEnv::new(vars);
        let file = env
            .config_file
            .clone()
            .unwrap_or_else(|| "anxin.toml".into());
        let env_given =
            env.dict.contains_key("env") || Figment::from(Toml::file(&file)).contains("env");
        let mut settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(env)
            .extract()
            .map_err(|e| anyhow::anyhow!(describe(&e)))
            .context("reading configuration (defaults, ANXIN_CONFIG file, ANXIN_* variables)")?;
        settings.env_given = env_given;
        Ok(settings)
    }

    /// A server that other machines can reach must be told whether it is a
    /// development or a production one: with `ANXIN_ENV` unset it would
    /// serve with development secrets and the simulated providers.
    pub fn check_exposure(&self) -> anyhow::Result<()> {
        if self.env_given || is_loopback(&self.listen) {
            return Ok(());
        }
        bail!(
            "ANXIN_ENV is not set and ANXIN_LISTEN={} is reachable from other machines: \
             set ANXIN_ENV=production (with real secrets), or ANXIN_ENV=development \
             to serve development settings on purpose",
            self.listen
        )
    }

    /// Who takes the fee. Development's default is the simulation;
    /// production has none and must name one (`secrets` checks).
    pub fn payment_provider(&self) -> Option<ProviderName> {
        self.payment_provider.or(match self.env {
            Environment::Development => Some(ProviderName::Simulated),
            Environment::Production => None,
        })
    }

    /// The Alipay provider's settings when it is the payment provider, its
    /// key files read; start-up stops naming what is missing.
    pub fn alipay(&self) -> anyhow::Result<Option<anxin_core::payments::alipay::AlipayConfig>> {
        if self.payment_provider() != Some(ProviderName::Alipay) {
            return Ok(None);
        }
        let need = |value: &Option<String>, name: &str| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .with_context(|| format!("{name} is required with ANXIN_PAYMENT_PROVIDER=alipay"))
        };
        let read = |value: &Option<String>, name: &str| -> anyhow::Result<String> {
            let path = need(value, name)?;
            std::fs::read_to_string(&path).with_context(|| format!("{name}: cannot read {path}"))
        };
        Ok(Some(anxin_core::payments::alipay::AlipayConfig {
            app_id: need(&self.alipay_app_id, "ANXIN_ALIPAY_APP_ID")?,
            private_key: read(
                &self.alipay_private_key_file,
                "ANXIN_ALIPAY_PRIVATE_KEY_FILE",
            )?,
            alipay_public_key: read(&self.alipay_public_key_file, "ANXIN_ALIPAY_PUBLIC_KEY_FILE")?,
            gateway: self
                .alipay_gateway
                .clone()
                .filter(|g| !g.trim().is_empty())
                .unwrap_or_else(|| anxin_core::payments::alipay::PRODUCTION_GATEWAY.to_string()),
            public_url: self.api_config().public_url,
        }))
    }

    /// `ANXIN_WEBHOOK_URL`, when set.
    pub fn webhook_url(&self) -> Option<&str> {
        self.webhook_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
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
        let phone = self.key(
            "ANXIN_PHONE_KEY",
            &self.phone_key,
            DEV_PHONE_KEY,
            "stored phone numbers are not protected",
        )?;
        let subject = self.key(
            "ANXIN_SUBJECT_KEY",
            &self.subject_key,
            DEV_SUBJECT_KEY,
            "seekers' pseudonyms can be linked back to host-app subjects",
        )?;
        if production && self.call_provider() == CallProviderKind::Simulated {
            bail!(
                "ANXIN_CALL_PROVIDER=simulated is refused in production: it places no real calls"
            );
        }
        if self.webhook_url().is_some()
            && self
                .webhook_secret
                .as_ref()
                .is_none_or(|s| s.expose_secret().trim().is_empty())
        {
            bail!("ANXIN_WEBHOOK_SECRET is required with ANXIN_WEBHOOK_URL: receivers verify every event with it");
        }
        self.trusted_proxies()?;
        let code = self.phone_country_code.trim().trim_start_matches('+');
        if !(1..=3).contains(&code.len())
            || code.starts_with('0')
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            bail!("ANXIN_PHONE_COUNTRY_CODE must be a country calling code such as 86, found {code:?}");
        }
        match self.payment_provider() {
            None => bail!(
                "ANXIN_PAYMENT_PROVIDER is required in production: alipay, or none for no fee"
            ),
            Some(ProviderName::Simulated) if production => bail!(
                "ANXIN_PAYMENT_PROVIDER=simulated is refused in production: it takes no real payment"
            ),
            Some(_) => {}
        }
        Ok(Secrets {
            jwt_secret: jwt,
            phone_key: phone,
            subject_key: subject,
        })
    }

    /// `ANXIN_TRUSTED_PROXIES`, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<anxin_core::proxies::TrustedProxies> {
        anxin_core::proxies::TrustedProxies::parse(self.trusted_proxies.as_deref().unwrap_or(""))
            .map_err(|e| anyhow::anyhow!("ANXIN_TRUSTED_PROXIES: {e}"))
    }

    /// A 32-byte key setting: required (and not the development value) in
    /// production, the documented development value otherwise, loudly.
    fn key(
        &self,
        name: &str,
        value: &Option<SecretString>,
        dev: &str,
        risk: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let production = self.env == Environment::Production;
        match value {
            Some(s) if production && s.expose_secret() == dev => {
                bail!("{name} is the development value; set a real key in production")
            }
            Some(s) => decode_key(name, s.expose_secret()),
            None if production => bail!("{name} is required in production (ANXIN_ENV=production)"),
            None => {
                tracing::warn!("{name} is not set: using the DEVELOPMENT key; {risk}");
                decode_key(name, dev)
            }
        }
    }

    pub fn api_config(&self) -> anxin_core::state::ApiConfig {
        anxin_core::state::ApiConfig {
            slate_size: self.slate_size.clamp(1, 200),
            slate_stability: Duration::from_secs(self.slate_stability_seconds),
            horizon_days: self.horizon_days.clamp(1, 90),
            max_active_bookings: self.max_active_bookings.max(1),
            fee_minor: self.fee_minor.max(0),
            priority_share: self.priority_share.clamp(0.0, 1.0),
            priority_release_before: Duration::from_secs(self.priority_release_before_minutes * 60),
            holds_per_minute_per_seeker: self.holds_per_minute_per_seeker.max(1),
            holds_per_minute_per_ip: self.holds_per_minute_per_ip.max(1),
            public_url: self
                .public_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("http://{}", self.listen)),
            session_ttl: Duration::from_secs(self.session_hours.clamp(1, 24 * 30) * 3600),
            sign_in_link_ttl: Duration::from_secs(self.sign_in_link_hours.clamp(1, 24 * 30) * 3600),
            rest_after_emergency_days: self.rest_after_emergency_days.min(14),
            waitlist_offer: Duration::from_secs(if self.env == Environment::Production {
                self.waitlist_offer_seconds.max(600)
            } else {
                self.waitlist_offer_seconds.max(1)
            }),
            help_now_ring: Duration::from_secs(self.help_now_ring_seconds.clamp(1, 120)),
            help_now_max_wait: Duration::from_secs(
                self.help_now_max_wait_minutes.clamp(1, 24 * 60) * 60,
            ),
            sign_ins_per_minute_per_ip: self.sign_ins_per_minute_per_ip.max(1),
            applications_per_hour_per_ip: self.applications_per_hour_per_ip.max(1),
            payment_provider: self.payment_provider().unwrap_or(ProviderName::None),
            payment_window: Duration::from_secs(self.payment_window_seconds.clamp(1, 3600)),
            metrics_access: match self
                .metrics_token
                .as_ref()
                .map(|t| t.expose_secret().trim().to_string())
                .filter(|t| !t.is_empty())
            {
                Some(token) => anxin_core::state::MetricsAccess::Token(token),
                None if self.env == Environment::Production => {
                    anxin_core::state::MetricsAccess::Closed
                }
                None => anxin_core::state::MetricsAccess::Open,
            },
            // Checked by `secrets`, which every start-up calls first.
            trusted_proxies: self.trusted_proxies().unwrap_or_default(),
            priority_from_token: self.priority_from_token,
            phone_country_code: self
                .phone_country_code
                .trim()
                .trim_start_matches('+')
                .to_string(),
            webhook: self
                .webhook_url()
                .zip(self.webhook_secret.clone())
                .map(|(url, secret)| anxin_core::flows::webhooks::WebhookConfig {
                    url: url.to_string(),
                    secret,
                    reminder: Duration::from_secs(self.reminder_minutes.clamp(1, 24 * 60) * 60),
                    first_retry: Duration::from_secs_f64(
                        self.webhook_first_retry_seconds.clamp(0.05, 3600.0),
                    ),
                }),
            crisis_lines: self
                .crisis_lines
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .unwrap_or(anxin_core::state::DEFAULT_CRISIS_LINES)
                .to_string(),
            ..anxin_core::state::ApiConfig::default()
        }
    }

    /// The one Redis server, or the cluster when its nodes are set.
    pub fn redis_server(&self) -> anyhow::Result<anxin_reserve::RedisServer> {
        anxin_reserve::RedisServer::new(&self.redis_url, self.redis_cluster_nodes.as_deref())
            .context("ANXIN_REDIS_URL / ANXIN_REDIS_CLUSTER_NODES")
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

/// The `ANXIN_*` variables as a figment provider that keeps every value as
/// text. figment's own `Env` guesses a type from the text, so `1001` became a
/// number and a string setting (a SIP user name, a password, `+86…`) then
/// failed to load; here the field's type decides, through `text::parse`.
struct TextEnv {
    dict: Dict,
    config_file: Option<String>,
}

impl TextEnv {
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut dict = Dict::new();
        let mut config_file = None;
        for (name, value) in vars {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "" => {}
                "config" => config_file = Some(value),
                _ => {
                    dict.insert(key, Value::from(value));
                }
            }
        }
        Self { dict, config_file }
    }
}

impl Provider for TextEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_, path| variable(path))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The variable that sets the setting at `path` (`["slate_size"]` →
/// `ANXIN_SLATE_SIZE`).
fn variable(path: &[&str]) -> String {
    format!("{ENV_PREFIX}{}", path.join("_").to_ascii_uppercase())
}

/// A configuration error as one line naming the variable, what it was set
/// to where that is no secret, and the form expected.
fn describe(e: &figment::Error) -> String {
    let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
    if path.is_empty() {
        return e.to_string();
    }
    let source = e
        .metadata
        .as_ref()
        .map_or_else(|| "configuration".to_string(), |m| m.name.to_string());
    format!("{} ({source}): {}", variable(&path), e.kind)
}

/// Numbers and switches read from text (the environment) or from typed
/// values (a TOML file).
mod text {
    use serde::de::{Deserializer, Error, Visitor};
    use std::fmt;
    use std::marker::PhantomData;
    use std::str::FromStr;

    /// A setting's type, with the form it is written in.
    pub trait Setting: FromStr {
        const FORM: &'static str;
    }

    macro_rules! forms {
        ($($t:ty => $form:literal),* $(,)?) => {
            $(impl Setting for $t { const FORM: &'static str = $form; })*
        };
    }

    forms! {
        u32 => "a whole number from 0 to 4294967295",
        u64 => "a whole number, 0 or more",
        usize => "a whole number, 0 or more",
        i32 => "a whole number",
        i64 => "a whole number",
        f64 => "a decimal number such as 0.3",
        bool => "true or false",
    }

    pub fn parse<'de, D: Deserializer<'de>, T: Setting>(d: D) -> Result<T, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData))
    }

    struct TextVisitor<T>(PhantomData<T>);

    impl<T: Setting> TextVisitor<T> {
        fn from_text<E: Error>(text: &str) -> Result<T, E> {
            text.trim()
                .parse()
                .map_err(|_| E::custom(format!("expected {}, found {text:?}", T::FORM)))
        }
    }

    impl<T: Setting> Visitor<'_> for TextVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(T::FORM)
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
            Self::from_text(v)
        }

        fn visit_bool<E: Error>(self, v: bool) -> Result<T, E> {
            Self::from_text(&v.to_string())
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
            Self::from_text(&v.to_string())
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
            Self::from_text(&v.to_string())
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
            Self::from_text(&v.to_string())
        }
    }
}

/// A struct's field names as serde's derived `Deserialize` declares them:
/// a deserializer that only listens for the list and then gives up.
mod fields {
    use serde::de::{self, Deserialize, Deserializer, Visitor};

    #[derive(Debug)]
    struct Listed(&'static [&'static str]);

    impl std::fmt::Display for Listed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field list")
        }
    }

    impl std::error::Error for Listed {}

    impl de::Error for Listed {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Listed(&[])
        }
    }

    struct Listen;

    impl<'de> Deserializer<'de> for Listen {
        type Error = Listed;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Listed> {
            Err(Listed(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Listed> {
            Err(Listed(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    pub fn of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
        match T::deserialize(Listen) {
            Err(Listed(fields)) => fields,
            Ok(_) => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/configuration.md documents exactly the variables the
    /// configuration reads: a new setting without a row (or a row left
    /// after a setting went) fails here.
    #[test]
    fn the_configuration_page_lists_every_variable_and_no_other() {
        let page = include_str!("../../../docs/configuration.md");
        let documented: std::collections::BTreeSet<String> = page
            .lines()
            .filter(|l| l.starts_with("| `ANXIN_"))
            .flat_map(|l| {
                let first = l.split('|').nth(1).unwrap_or_default();
                first
                    .split('`')
                    .filter(|w| w.starts_with("ANXIN_"))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let read: std::collections::BTreeSet<String> = Settings::variables().into_iter().collect();
        assert!(read.len() > 60, "{read:?}");
        assert_eq!(
            read.difference(&documented).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "read but not documented"
        );
        assert_eq!(
            documented.difference(&read).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "documented but not read"
        );
    }

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
        s.subject_key = Some("11".repeat(32).into());
        assert!(s.secrets().unwrap_err().to_string().contains("development"));
        s.jwt_secret = Some("a-real-secret-with-at-least-32-characters".into());
        assert!(s
            .secrets()
            .unwrap_err()
            .to_string()
            .contains("ANXIN_PAYMENT_PROVIDER"));
        s.payment_provider = Some(ProviderName::None);
        assert!(s.secrets().is_ok());
        s.payment_provider = Some(ProviderName::Simulated);
        assert!(s.secrets().unwrap_err().to_string().contains("simulated"));
        s.payment_provider = Some(ProviderName::None);
        s.call_provider = Some(CallProviderKind::Simulated);
        assert!(s.secrets().unwrap_err().to_string().contains("simulated"));
    }

    #[test]
    fn alipay_names_each_missing_setting() {
        let mut s = Settings {
            payment_provider: Some(ProviderName::Alipay),
            ..Settings::default()
        };
        let missing = |s: &Settings| {
            s.alipay()
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default()
        };
        assert!(missing(&s).contains("ANXIN_ALIPAY_APP_ID"));
        s.alipay_app_id = Some("2021000000000001".into());
        assert!(missing(&s).contains("ANXIN_ALIPAY_PRIVATE_KEY_FILE"));
        s.alipay_private_key_file = Some("/nonexistent/key.pem".into());
        assert!(missing(&s).contains("cannot read /nonexistent/key.pem"));
        s.payment_provider = Some(ProviderName::None);
        assert!(s.alipay().unwrap().is_none());
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

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cluster_nodes_choose_the_cluster_over_the_one_server() {
        let nodes = " redis://127.0.0.1:7101, redis://127.0.0.1:7102 ,";
        let s = Settings::from_vars(vars(&[
            ("ANXIN_REDIS_CLUSTER_NODES", nodes),
            ("ANXIN_CONFIG", "/nonexistent/anxin.toml"),
        ]))
        .unwrap();
        match s.redis_server().unwrap() {
            anxin_reserve::RedisServer::Cluster(seeds, _) => assert_eq!(
                seeds,
                vec!["redis://127.0.0.1:7101", "redis://127.0.0.1:7102"]
            ),
            other => panic!("{other:?}"),
        }
        assert!(!Settings::default().redis_server().unwrap().is_cluster());
        let bad = Settings {
            redis_cluster_nodes: Some("http://nowhere".into()),
            ..Settings::default()
        };
        let e = format!("{:#}", bad.redis_server().unwrap_err());
        assert!(e.contains("ANXIN_REDIS_CLUSTER_NODES"), "{e}");
    }

    #[test]
    fn digit_only_strings_stay_strings() {
        let s = Settings::from_vars(vars(&[
            ("ANXIN_SIP_USERNAME", "1001"),
            ("ANXIN_SIP_PASSWORD", "123456"),
            ("ANXIN_SIP_CALLER_ID", "+8640012345678"),
            ("ANXIN_PHONE_KEY_ID", "2026"),
            ("ANXIN_REDIS_PREFIX", "42"),
            ("ANXIN_SLATE_SIZE", "25"),
            ("ANXIN_PRIORITY_SHARE", "0.5"),
            ("ANXIN_SIP_ASSERT_IDENTITY", "true"),
            ("ANXIN_CONFIG", "/nonexistent/anxin.toml"),
        ]))
        .unwrap();
        assert_eq!(s.sip_username.as_deref(), Some("1001"));
        assert_eq!(
            s.sip_password
                .as_ref()
                .map(|p| p.expose_secret().to_string()),
            Some("123456".into())
        );
        assert_eq!(s.sip_caller_id.as_deref(), Some("+8640012345678"));
        assert_eq!(s.phone_key_id, "2026");
        assert_eq!(s.redis_prefix, "42");
        assert_eq!(s.slate_size, 25);
        assert_eq!(s.priority_share, 0.5);
        assert!(s.sip_assert_identity);
    }

    #[test]
    fn a_malformed_number_names_its_variable_and_form() {
        let e = Settings::from_vars(vars(&[("ANXIN_SLATE_SIZE", "twenty")])).unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("ANXIN_SLATE_SIZE"), "{text}");
        assert!(text.contains("a whole number"), "{text}");
        assert!(text.contains("twenty"), "{text}");
        let e = Settings::from_vars(vars(&[("ANXIN_DEMO_TRAFFIC", "yes please")])).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("ANXIN_DEMO_TRAFFIC") && text.contains("true or false"),
            "{text}"
        );
    }

    #[test]
    fn a_toml_file_still_takes_typed_values() {
        let dir = std::env::temp_dir().join(format!("anxin-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("anxin.toml");
        std::fs::write(
            &file,
            "slate_size = 12\nsip_username = \"2002\"\ndemo_traffic = true\n",
        )
        .unwrap();
        let s = Settings::from_vars(vars(&[
            ("ANXIN_CONFIG", file.to_str().unwrap()),
            ("ANXIN_HORIZON_DAYS", "7"),
        ]))
        .unwrap();
        assert_eq!((s.slate_size, s.horizon_days), (12, 7));
        assert_eq!(s.sip_username.as_deref(), Some("2002"));
        assert!(s.demo_traffic);
        // The environment overrides the file.
        let s = Settings::from_vars(vars(&[
            ("ANXIN_CONFIG", file.to_str().unwrap()),
            ("ANXIN_SLATE_SIZE", "30"),
        ]))
        .unwrap();
        assert_eq!(s.slate_size, 30);
    }
}
