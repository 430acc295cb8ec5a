//! Building and running the HTTP application. Production and every test go
//! through `Application::build`, so tests exercise the real wiring: the real
//! pools, the real Redis scripts, the real middleware.
use crate::config::Settings;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_core::token::{HostKeys, TokenVerifier};
use anxin_reserve::Reserve;
use anxin_store::crypto::{PhoneCipher, SubjectHasher};
use anyhow::Context;
use std::net::TcpListener;
use std::time::Duration;

/// The shared state and its connections, without an HTTP server: what the
/// CLI's one-shot commands (seeding, reconcile) need.
pub async fn build_state(settings: &Settings) -> anyhow::Result<web::Data<AppState>> {
    let secrets = settings.secrets()?;
    anxin_store::ensure_database(&settings.database_url)
        .await
        .with_context(|| {
            "connecting to PostgreSQL (is it running? see ANXIN_DATABASE_URL)".to_string()
        })?;
    let pool = anxin_store::connect_lazy(&settings.database_url, settings.db_max_connections)?;
    anxin_store::migrate(&pool)
        .await
        .context("running migrations")?;
    let reserve = Reserve::connect(&settings.redis_server()?, settings.reserve_config())
        .await
        .context("connecting to Redis (is it running? see ANXIN_REDIS_URL)")?;
    let cipher = PhoneCipher::new(&settings.phone_key_id, &secrets.phone_key)?;
    anxin_store::bookings::seal_plain_text(&pool, &cipher)
        .await
        .context("sealing notes and reasons written in the clear")?;
    let mut tokens = TokenVerifier::hs256(&secrets.jwt_secret);
    if let Some(file) = &settings.jwt_public_keys_file {
        let keys = HostKeys::load(
            file,
            settings.jwt_issuer.clone(),
            settings.jwt_audience.clone(),
        )
        .context("ANXIN_JWT_PUBLIC_KEYS_FILE")?;
        tokens = tokens.with_host_keys(keys);
    }
    let mut state = AppState::new(
        pool,
        reserve,
        cipher,
        SubjectHasher::new(&secrets.subject_key),
        tokens,
        settings.api_config(),
    );
    if let Some(alipay) = settings.alipay()? {
        let alipay = anxin_core::payments::alipay::Alipay::new(alipay).context("Alipay")?;
        state = state.with_alipay(std::sync::Arc::new(alipay));
    }
    Ok(web::Data::new(state))
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    background: tokio::task::JoinHandle<()>,
    events: Option<anxin_core::events::EventWriter>,
}

impl Application {
    /// Connects, migrates, rebuilds Redis from Postgres, binds the listener
    /// (port 0 picks a free port) and prepares the server.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        settings.check_exposure()?;
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let bound = listener.local_addr()?;
        let mut settings = settings.clone();
        if settings.public_url.is_none() {
            // Links name the port actually bound (port 0 picks one), and a
            // reachable host when bound to every interface.
            let reachable = if bound.ip().is_unspecified() {
                std::net::SocketAddr::from(([127, 0, 0, 1], bound.port()))
            } else {
                bound
            };
            settings.public_url = Some(format!("http://{reachable}"));
        }
        let settings = &settings;
        let state = build_state(settings).await?;
        // Only a serving process's configuration switches webhooks (they are
        // its to deliver); a one-shot command (a migration, a sign-in link)
        // run from a shell without ANXIN_WEBHOOK_URL leaves them as they are.
        anxin_store::webhooks::set_enabled(&state.pool, settings.webhook_url().is_some())
            .await
            .context("turning webhooks on or off")?;
        // On this runtime, which lives as long as the application; the
        // actix workers' runtimes stop with the server. With a connection
        // of its own, opened on this runtime: a connection works only while
        // the runtime that opened it runs, and the shared pool's are mostly
        // opened by the workers', which are gone when the writer drains the
        // queue at shutdown (what was queued then was dropped, "a Tokio
        // context was found, but it is being shutdown").
        let events = state.events.start(
            anxin_store::connect_lazy(&settings.database_url, 1)?,
            state.metrics.clone(),
        );
        flows::reconcile::startup(&state)
            .await
            .context("rebuilding the Redis index from Postgres")?;
        let port = bound.port();
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(from_fn(anxin_api::telemetry))
                .configure(anxin_api::configure)
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if settings.http_workers > 0 {
            server = server.workers(settings.http_workers);
        }
        let every = Duration::from_secs(settings.reconcile_interval_seconds.max(1));
        let (upkeep, weights, watched) = (state.clone(), state.clone(), state.clone());
        let (counter, folder) = (state.clone(), state.clone());
        let (settler, sender, offerer) = (state.clone(), state.clone(), state.clone());
        let background = tokio::spawn(async move {
            tokio::join!(
                maintain(upkeep, every),
                flows::slate::keep_inputs_fresh(&weights),
                flows::slate::keep_adding_impressions(&counter),
                flows::slate::keep_folding_exposure(&folder),
                flows::reconcile::watch(&watched),
                flows::payments::keep_settling(&settler),
                flows::webhooks::keep_delivering(&sender),
                flows::waitlist::keep_offering(&offerer)
            );
        });
        Ok(Self {
            port,
            server: server.run(),
            state,
            background,
            events,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (actix handles both: it stops accepting,
    /// lets in-flight requests finish for up to 10 s, then returns).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.background.abort();
        if let Some(events) = self.events {
            events.drain().await;
        }
        result
    }
}

/// Periodic upkeep: reconcile Redis with Postgres (so a wiped or restarted
/// Redis heals without a restart: each round rebuilds the experts whose rows
/// changed, every `FULL_EVERY`th round every expert), forget idle rate-limit
/// cells, and roll the slot horizon forward.
async fn maintain(state: web::Data<AppState>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut rounds: u64 = 0;
    loop {
        tick.tick().await;
        rounds += 1;
        // Keyed rate limiters keep a cell per seeker and per IP; drop the
        // ones that have fully recovered so memory stays bounded.
        for limiter in [
            &state.seeker_limiter,
            &state.ip_limiter,
            &state.sign_in_limiter,
            &state.application_limiter,
        ] {
            limiter.retain_recent();
        }
        let reconciled = if rounds.is_multiple_of(flows::reconcile::FULL_EVERY) {
            flows::reconcile::all(&state).await
        } else {
            flows::reconcile::changed(&state).await
        };
        if let Err(e) = reconciled {
            tracing::warn!(error = %e, "reconcile failed; retrying next round");
        }
        // The horizon moves by days; once an hour is plenty.
        if rounds.is_multiple_of((3600 / every.as_secs().max(1)).max(1)) {
            if let Err(e) = flows::availability::roll_horizon(&state, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "rolling the slot horizon failed");
            }
        }
    }
}
