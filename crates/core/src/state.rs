//! What every handler shares: the pools, the keys, the settings, the metrics,
//! the caches and the dashboard's event queue. Everything long-lived in an
//! application is here, made by `Application::build` (no `static` state),
//! and nothing here is needed by another instance: all shared state lives in
//! Postgres and Redis.
//!
//! This is the context the flows take, so it uses nothing above it (no
//! flow, no extractor, no dashboard page): the values its caches hold are
//! defined here or below (`figures`), and the flows fill and read them.
use crate::figures::Summary;
use crate::metrics::Metrics;
use crate::payments::alipay::Alipay;
use crate::payments::{PaymentProvider, Simulated};
use crate::token::TokenVerifier;
use anxin_domain::ids::ExpertId;
use anxin_domain::payment::ProviderName;
use anxin_reserve::Reserve;
use anxin_store::crypto::{PhoneCipher, SubjectHasher};
use anxin_store::experts::ExpertRow;
use anxin_store::Pool as PgPool;
use chrono::{DateTime, Utc};
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of the HTTP surface and the rules it applies.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Experts on one slate.
    pub slate_size: usize,
    /// Open slots shown per expert on a slate.
    pub slate_slots_per_expert: usize,
    /// How long a seeker keeps seeing the same slate.
    pub slate_stability: Duration,
    /// How far ahead slots are materialized.
    pub horizon_days: u32,
    /// A seeker's limit of confirmed bookings that have not ended.
    pub max_active_bookings: i64,
    /// The token fee recorded with each booking, in the smallest unit.
    pub fee_minor: i32,
    /// Share of near-term slots held back for priority groups, 0.0..=1.0.
    pub priority_share: f64,
    /// "Near-term" for the priority share.
    pub priority_window: Duration,
    /// Reserved slots open to everyone this long before they start.
    pub priority_release_before: Duration,
    /// Holds per seeker per minute, in this process and across instances.
    pub holds_per_minute_per_seeker: u32,
    /// Holds per client IP per minute, in this process.
    pub holds_per_minute_per_ip: u32,
    /// The base URL people reach Anxin at (sign-in links), no trailing `/`.
    pub public_url: String,
    /// How long a person's session lasts.
    pub session_ttl: Duration,
    /// How long a sign-in link stays usable.
    pub sign_in_link_ttl: Duration,
    /// After an emergency referral, the volunteer's local days (from that
    /// one) closed to new bookings, unless they reopen them; 0: none.
    pub rest_after_emergency_days: u32,
    /// How long a waitlist offer's hold lasts (at least ten minutes in
    /// production).
    pub waitlist_offer: Duration,
    /// How long a help-now ring lasts before the next expert is tried.
    pub help_now_ring: Duration,
    /// How long a help-now request may wait before it ends `timed_out`.
    pub help_now_max_wait: Duration,
    /// Sign-in attempts (links used, tokens exchanged) per client IP per
    /// minute, in this process.
    pub sign_ins_per_minute_per_ip: u32,
    /// Applications from the public page per client IP per hour, in this
    /// process.
    pub applications_per_hour_per_ip: u32,
    /// Who takes the fee. `None`, or a fee of 0, means no payment step.
    pub payment_provider: ProviderName,
    /// How long a seeker has to pay; the hold lasts at least as long.
    pub payment_window: Duration,
    /// The crisis lines the seeker app shows anyone in danger now
    /// (`ANXIN_CRISIS_LINES`, plain text).
    pub crisis_lines: String,
    /// Webhooks to the host app, when `ANXIN_WEBHOOK_URL` is set.
    pub webhook: Option<crate::flows::webhooks::WebhookConfig>,
    /// Who may read `/metrics`.
    pub metrics_access: MetricsAccess,
    /// The country calling code of phone numbers written without `+` or
    /// `00` (`ANXIN_PHONE_COUNTRY_CODE`; `86`: `138 0000 0000` is Chinese).
    pub phone_country_code: String,
    /// Proxies whose `X-Forwarded-For` is believed (see `client`).
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// A seeker's priority group comes only from the host-app token's
    /// `group` claim (`ANXIN_PRIORITY_FROM_TOKEN`).
    pub priority_from_token: bool,
}

/// Who may read `/metrics`: anyone (development without a token), only a
/// caller with the token, or nobody (production without one).
#[derive(Clone, Default)]
pub enum MetricsAccess {
    #[default]
    Open,
    Token(String),
    Closed,
}

// The token never prints.
impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Open => "Open",
            Self::Token(_) => "Token(***)",
            Self::Closed => "Closed",
        })
    }
}

/// The psychological-aid line the seeker app lists when the operator
/// configured none (the emergency numbers 120 and 110 follow it always).
pub const DEFAULT_CRISIS_LINES: &str = "全国心理援助热线 Psychological assistance hotline 12356";

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            slate_size: 20,
            slate_slots_per_expert: 3,
            slate_stability: Duration::from_secs(300),
            horizon_days: 14,
            max_active_bookings: 2,
            fee_minor: 1,
            priority_share: 0.3,
            priority_window: Duration::from_secs(24 * 3600),
            priority_release_before: Duration::from_secs(2 * 3600),
            holds_per_minute_per_seeker: 20,
            holds_per_minute_per_ip: 600,
            public_url: "http://127.0.0.1:8080".into(),
            session_ttl: Duration::from_secs(12 * 3600),
            sign_in_link_ttl: Duration::from_secs(72 * 3600),
            rest_after_emergency_days: 1,
            waitlist_offer: Duration::from_secs(600),
            help_now_ring: Duration::from_secs(20),
            help_now_max_wait: Duration::from_secs(15 * 60),
            sign_ins_per_minute_per_ip: 30,
            applications_per_hour_per_ip: 20,
            payment_provider: ProviderName::Simulated,
            payment_window: Duration::from_secs(15 * 60),
            crisis_lines: DEFAULT_CRISIS_LINES.into(),
            webhook: None,
            metrics_access: MetricsAccess::Open,
            phone_country_code: anxin_domain::phone::DEFAULT_COUNTRY_CODE.into(),
            trusted_proxies: Default::default(),
            priority_from_token: false,
        }
    }
}

/// The approved experts as one snapshot: each row is shared, so a slate
/// shows its experts without copying their profiles.
pub type Catalog = Arc<Vec<Arc<ExpertRow>>>;

/// Slots each expert offered and how many were booked, over the balance's
/// window (`anxin_store::slots::uptake`).
pub type Offered = std::collections::HashMap<ExpertId, (u32, u32)>;

pub type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Where a slot lives: its expert and its times, which never change (see
/// `flows::slots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPlace {
    pub expert_id: ExpertId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// The inputs of the balanced draw for every approved expert: open capacity
/// by band and recent impressions. Reading them costs a pipeline over every
/// expert (40,000 commands at 10,000 experts), so it is kept off the request
/// path: each instance keeps a snapshot that `flows::slate::keep_inputs_fresh`
/// replaces every `INPUTS_TTL`, on Redis' bulk connection. What a seeker is
/// shown is still read fresh (`open_slots_of`); only the weights are up to
/// `INPUTS_TTL` old. Read and written by `flows::slate` only.
pub struct WeightInputs {
    pub(crate) at: Instant,
    pub(crate) catalog: Catalog,
    /// Aligned with `catalog`.
    pub(crate) capacity: Vec<u32>,
    /// What each expert offered and how much of it was booked (aligned with
    /// `catalog`): the uptake the draw evens out (`domain::slate::Uptake`).
    pub(crate) uptake: Vec<anxin_domain::slate::Uptake>,
    /// The grouped read `uptake` was built from, and when it was made: read
    /// again only every `flows::slate::UPTAKE_TTL`.
    pub(crate) offered: Arc<Offered>,
    pub(crate) offered_at: Instant,
    /// Each expert's earliest open slot when the snapshot was read (aligned
    /// with `catalog`): whom to read fresh for the slate's `earliest_start`.
    pub(crate) earliest: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    /// Impressions in the window when the snapshot was read, plus those this
    /// instance served since: the exposure feedback acts at once on what one
    /// instance shows, and every other instance's slates arrive with the next
    /// refresh (they are in Redis as soon as they are served).
    pub(crate) impressions: Vec<AtomicU64>,
}

pub struct AppState {
    pub pool: PgPool,
    /// Confirmations, written in groups (see `confirmations`).
    pub confirmations: crate::confirmations::Confirmations,
    pub reserve: Reserve,
    pub cipher: PhoneCipher,
    pub subjects: SubjectHasher,
    pub tokens: TokenVerifier,
    pub config: ApiConfig,
    pub metrics: Metrics,
    /// The dashboard's event queue (see `events`).
    pub events: crate::events::EventSink,
    /// The dashboard's summaries by window (see `ops::summary::cached`).
    pub summaries: crate::cache::Shared<(&'static str, anxin_store::events::Scope), Summary>,
    pub seeker_limiter: Arc<KeyedLimiter>,
    pub ip_limiter: Arc<KeyedLimiter>,
    pub sign_in_limiter: Arc<KeyedLimiter>,
    pub application_limiter: Arc<KeyedLimiter>,
    /// Approved experts, cached briefly (see `flows::slate::catalog`).
    /// Seekers by subject hash, and slots by id (see `cache`).
    pub seeker_cache: crate::cache::TtlCache<Vec<u8>, anxin_store::seekers::SeekerRow>,
    pub slot_cache: crate::cache::TtlCache<anxin_domain::ids::SlotId, SlotPlace>,
    /// The holds this instance placed, by seeker and hold: which slot of
    /// which expert each is on, so confirming one asks Redis only the slot's
    /// side (see `flows::bookings::confirm`). Whether a hold is live is never
    /// read from here.
    pub hold_records: crate::cache::TtlCache<
        (anxin_domain::ids::SeekerId, anxin_domain::ids::HoldId),
        anxin_reserve::HoldRecord,
    >,
    /// Inputs of the balanced draw (see `WeightInputs`).
    pub slate_inputs: tokio::sync::RwLock<Option<Arc<WeightInputs>>>,
    /// Held by the one request that reads the inputs when there is no
    /// snapshot, so concurrent slates wait for it instead of each reading
    /// every expert (and each running the uptake query) at once.
    pub slate_reading: tokio::sync::Mutex<()>,
    /// Impressions served, not yet in Redis (see `flows::slate::Impressions`).
    pub impressions: crate::flows::slate::Impressions,
    /// Wakes this instance's waitlist round at once (a slot was freed),
    /// instead of at its next second.
    pub waitlist_wake: tokio::sync::Notify,
    /// Bumped by every invalidation of the catalog and `slate_inputs`, so a
    /// snapshot read across one is not kept.
    pub slate_generation: AtomicU64,
    pub catalog: tokio::sync::RwLock<Option<(Instant, Catalog)>>,
    /// The regions and which are open, cached briefly (see `flows::regions`).
    pub regions: tokio::sync::RwLock<Option<(Instant, Arc<anxin_domain::region::Regions>)>>,
    /// Held by the one request that reads the regions when they expired.
    pub regions_reading: tokio::sync::Mutex<()>,
    /// Who takes the fee; `None` when there is no payment step (see
    /// `payment_step`).
    pub payments: Option<Arc<dyn PaymentProvider>>,
    /// The same provider when it is Alipay: its notifications are verified
    /// with it.
    pub alipay: Option<Arc<Alipay>>,
    /// This process, in the leases it takes (webhook deliveries).
    pub instance: String,
    /// Whether an expert's or operator's account may act, by role and
    /// subject, read again after [`ACCOUNT_CHECK_TTL`] (see
    /// `flows::sign_in::require_active`).
    pub accounts: crate::cache::TtlCache<(crate::token::Role, String), bool>,
}

/// How stale this instance's view of an account's status may be: a
/// suspension or a disabled operator stops their bearer tokens on every
/// instance within this (the contract allows 5 s).
pub const ACCOUNT_CHECK_TTL: Duration = Duration::from_secs(2);

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl AppState {
    /// How long before a slot's end it stops being reservable (the reserve's
    /// setting), as `anxin_domain::booking::reservable` takes it.
    pub fn cutoff(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.reserve.config().cutoff).unwrap_or_default()
    }

    /// The provider of the payment step, when there is one: a provider is
    /// configured and the fee is above 0.
    pub fn payment_step(&self) -> Option<&dyn PaymentProvider> {
        self.payments
            .as_deref()
            .filter(|_| self.config.fee_minor > 0)
    }

    /// Takes the fee through Alipay (the configuration only names its keys,
    /// so the caller reads them and makes the provider).
    pub fn with_alipay(mut self, alipay: Arc<Alipay>) -> Self {
        self.payments = Some(alipay.clone());
        self.alipay = Some(alipay);
        self
    }

    pub fn new(
        pool: PgPool,
        reserve: Reserve,
        cipher: PhoneCipher,
        subjects: SubjectHasher,
        tokens: TokenVerifier,
        config: ApiConfig,
    ) -> Self {
        let payments: Option<Arc<dyn PaymentProvider>> = match config.payment_provider {
            ProviderName::Simulated => Some(Arc::new(Simulated {
                public_url: config.public_url.clone(),
            })),
            ProviderName::Alipay | ProviderName::None => None,
        };
        let hold_ttl = reserve.config().hold_ttl;
        let metrics = Metrics::new();
        Self {
            confirmations: crate::confirmations::Confirmations::new(
                pool.clone(),
                config.max_active_bookings,
                metrics.confirmation_groups.clone(),
            ),
            payments,
            alipay: None,
            instance: format!("api-{}", uuid::Uuid::new_v4().simple()),
            seeker_limiter: Arc::new(RateLimiter::keyed(per_minute(
                config.holds_per_minute_per_seeker,
            ))),
            ip_limiter: Arc::new(RateLimiter::keyed(per_minute(
                config.holds_per_minute_per_ip,
            ))),
            sign_in_limiter: Arc::new(RateLimiter::keyed(per_minute(
                config.sign_ins_per_minute_per_ip,
            ))),
            application_limiter: Arc::new(RateLimiter::keyed(Quota::per_hour(
                NonZeroU32::new(config.applications_per_hour_per_ip.max(1))
                    .unwrap_or(NonZeroU32::MIN),
            ))),
            pool,
            reserve,
            cipher,
            subjects,
            tokens,
            config,
            metrics,
            events: crate::events::EventSink::default(),
            summaries: crate::cache::Shared::default(),
            seeker_cache: crate::cache::TtlCache::new(Duration::from_secs(30), 100_000),
            // A slot's place never changes; the TTL only bounds memory.
            slot_cache: crate::cache::TtlCache::new(Duration::from_secs(900), 500_000),
            // A hold lasts `hold_ttl` unless its fee is being paid; a
            // confirmation after that reads the seeker's side from Redis.
            hold_records: crate::cache::TtlCache::new(hold_ttl, 100_000),
            slate_inputs: tokio::sync::RwLock::new(None),
            slate_reading: tokio::sync::Mutex::new(()),
            impressions: crate::flows::slate::Impressions::default(),
            waitlist_wake: tokio::sync::Notify::new(),
            slate_generation: AtomicU64::new(0),
            catalog: tokio::sync::RwLock::new(None),
            regions: tokio::sync::RwLock::new(None),
            regions_reading: tokio::sync::Mutex::new(()),
            accounts: crate::cache::TtlCache::new(ACCOUNT_CHECK_TTL, 100_000),
        }
    }
}
