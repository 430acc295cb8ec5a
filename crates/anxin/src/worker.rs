//! Wiring of the call worker: picks the call provider from the settings and
//! runs `anxin_calls::run` until shutdown.
use crate::config::{CallProviderKind, Settings};
use anxin_calls::{
    CallProvider, OutcomeHook, SimulatedProvider, SipConfig, SipProvider, WorkerConfig,
};
use anxin_core::metrics::Metrics;
use anxin_domain::call::RetryPolicy;
use anxin_store::crypto::PhoneCipher;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

pub async fn provider(settings: &Settings) -> anyhow::Result<Arc<dyn CallProvider>> {
    Ok(match settings.call_provider() {
        CallProviderKind::Simulated => {
            tracing::warn!("call provider is SIMULATED: no real calls are placed; every call event is marked simulated");
            Arc::new(SimulatedProvider::default())
        }
        CallProviderKind::Sip => {
            let trunk = settings
                .sip_trunk
                .clone()
                .context("ANXIN_SIP_TRUNK (host:port of the SIP trunk) is required with ANXIN_CALL_PROVIDER=sip")?;
            let caller_id = settings
                .sip_caller_id
                .clone()
                .context("ANXIN_SIP_CALLER_ID (the platform's E.164 number) is required with ANXIN_CALL_PROVIDER=sip")?;
            let mut config = SipConfig::new(trunk, caller_id);
            config.username = settings.sip_username.clone();
            config.password = settings
                .sip_password
                .as_ref()
                .map(|p| p.expose_secret().to_string());
            config.outbound_proxy = settings.sip_outbound_proxy.clone();
            config.assert_identity = settings.sip_assert_identity;
            config.ring_timeout =
                Duration::from_secs(settings.sip_ring_timeout_seconds.clamp(5, 30));
            config.bind = settings
                .sip_bind
                .parse()
                .context("ANXIN_SIP_BIND must be ip:port")?;
            Arc::new(
                SipProvider::start(config)
                    .await
                    .context("starting the SIP provider")?,
            )
        }
    })
}

/// The worker's settings; each attempt it records is counted in `metrics`.
pub fn worker_config(settings: &Settings, metrics: &Metrics) -> WorkerConfig {
    let keys = anxin_reserve::keys::Keys::new(&settings.redis_prefix);
    let mut config = WorkerConfig::new(keys.call_events());
    config.retry = RetryPolicy {
        max_attempts: settings.call_max_attempts.max(1),
        backoff: chrono::Duration::minutes(settings.call_retry_minutes as i64),
        grace: chrono::Duration::minutes(settings.call_grace_minutes as i64),
    };
    config.phone_retention = Duration::from_secs(settings.phone_retention_days * 24 * 3600);
    let api = settings.api_config();
    config.help_now = anxin_calls::worker::HelpNowConfig {
        ring: api.help_now_ring,
        max_wait: api.help_now_max_wait,
    };
    let outcomes = metrics.call_outcomes.clone();
    config.on_attempt_end = Some(OutcomeHook(Arc::new(move |outcome| {
        outcomes.with_label_values(&[outcome.as_str()]).inc();
    })));
    config
}

/// Serves `metrics` at `/metrics` on `listen` (a standalone worker's own
/// listener); returns the bound port and the server, to be awaited.
pub fn serve_metrics(
    listen: &str,
    metrics: Metrics,
) -> anyhow::Result<(u16, actix_web::dev::Server)> {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let body = metrics.render();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(listen)
    .with_context(|| format!("ANXIN_WORKER_METRICS_LISTEN: binding {listen}"))?;
    let port = server.addrs().first().map_or(0, |a| a.port());
    Ok((port, server.run()))
}

/// Runs the worker until `shutdown` resolves; calls in progress finish.
/// Attempt outcomes are counted in `metrics` (the API's registry when both
/// run in one process).
pub async fn run(
    settings: &Settings,
    metrics: &Metrics,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let secrets = settings.secrets()?;
    anxin_store::ensure_database(&settings.database_url).await?;
    let pool = anxin_store::connect_lazy(&settings.database_url, 10)?;
    anxin_store::migrate(&pool)
        .await
        .context("running migrations")?;
    // Timeouts and quick reconnects as the API's (see
    // `anxin_reserve::RedisServer::connect`): the call events a worker
    // publishes while Redis is down are dropped, never waited for.
    let redis = settings
        .redis_server()?
        .connect(anxin_reserve::RESPONSE_TIMEOUT)
        .await
        .context("connecting to Redis")?;
    let cipher = PhoneCipher::new(&settings.phone_key_id, &secrets.phone_key)?;
    let provider = provider(settings).await?;
    tracing::info!(provider = ?settings.call_provider(), "call worker started");
    anxin_calls::run(
        worker_config(settings, metrics),
        pool,
        redis,
        cipher,
        provider,
        shutdown,
    )
    .await?;
    Ok(())
}
