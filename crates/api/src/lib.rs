//! Anxin's HTTP surface (actix-web): routes, the auth extractor, the mapping
//! of the core's errors to status codes, OpenAPI, metrics and the pages.
//! Handlers hold no business rules: they parse, authorize, call a use case
//! of `anxin_core::flows`, and shape the answer.
//!
//! Each module uses only those below it:
//! - `routes` (the handlers) and `ops` (the dashboard) use `auth`, `pages`,
//!   `client`, `dto`, `extract` and `error`, and the core;
//! - `auth` (the extractors) checks tokens with the core's `token` and
//!   resolves a seeker with `flows::seekers`;
//! - `client`, `dto`, `extract`, `pages` and `error` use none of the above.
//!
//! `openapi` reads the annotations of `routes` and `ops`, and serves the
//! document itself; nothing refers back to it.

pub mod auth;
pub mod client;
pub mod dto;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod routes;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use routes::{apply, bookings, experts, portal, referrals, seekers, service, sign_in};
use std::time::Instant;

use anxin_core::state::AppState;

/// Every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    extract::configure(cfg);
    // The seeker's hot paths first: actix tries routes in order, and the
    // ones with path parameters cost a pattern match each.
    cfg.route("/v1/holds", web::post().to(seekers::place_hold))
        .route("/v1/bookings", web::post().to(bookings::confirm))
        .route("/v1/slate", web::get().to(seekers::slate))
        .route("/v1/holds/{id}", web::delete().to(seekers::release_hold))
        .route("/v1/bookings/{id}", web::get().to(bookings::get))
        .route("/v1/bookings/{id}/cancel", web::post().to(bookings::cancel))
        .route(
            "/v1/holds/{id}/payment",
            web::post().to(routes::payments::start),
        )
        .route(
            "/v1/payments/alipay/notify",
            web::post().to(routes::payments::alipay_notify),
        )
        .route("/v1/payments/{id}", web::get().to(routes::payments::get))
        .service(
            web::resource("/pay/simulated/{payment_id}")
                .route(web::get().to(routes::payments::simulated_get))
                .route(web::post().to(routes::payments::simulated_pay)),
        )
        .route("/v1/seekers/me", web::put().to(seekers::update_me))
        .route("/v1/seekers/me", web::delete().to(seekers::erase_me))
        .route(
            "/v1/seekers/me/bookings",
            web::get().to(seekers::my_bookings),
        )
        .route("/healthz", web::get().to(service::healthz))
        .route(
            "/v1/vocabulary",
            web::get().to(crate::routes::vocabulary::vocabulary),
        )
        .route("/v1/regions", web::get().to(routes::regions::list))
        .route(
            "/v1/organisation-applications",
            web::post().to(routes::organisations::apply),
        )
        .route(
            "/v1/organisations",
            web::get().to(routes::organisations::list),
        )
        .route(
            "/v1/organisations/{id}/approve",
            web::post().to(routes::organisations::approve),
        )
        .route(
            "/v1/organisations/{id}/reject",
            web::post().to(routes::organisations::reject),
        )
        .route(
            "/v1/organisations/{id}/suspend",
            web::post().to(routes::organisations::suspend),
        )
        .route(
            "/organisations",
            web::get().to(routes::organisations::list_page),
        )
        .route(
            "/v1/organisations/{id}/admins",
            web::post().to(routes::organisations::admins),
        )
        .route(
            "/v1/organisations/{id}/experts",
            web::get().to(routes::organisations::experts),
        )
        .route(
            "/v1/organisations/{id}/summary",
            web::get().to(routes::organisations::summary),
        )
        .route("/org", web::get().to(routes::organisations::page))
        .service(
            web::resource("/apply/organisation")
                .route(web::get().to(routes::organisations::apply_page))
                .route(web::post().to(routes::organisations::apply_form)),
        )
        .service(
            web::resource("/v1/resources")
                .route(web::get().to(routes::resources::list))
                .route(web::post().to(routes::resources::create)),
        )
        .service(
            web::resource("/v1/resources/{id}")
                .route(web::put().to(routes::resources::update))
                .route(web::delete().to(routes::resources::retire)),
        )
        .route("/v1/regions/{code}", web::put().to(routes::regions::switch))
        .service(
            web::resource("/v1/training/modules")
                .route(web::get().to(routes::supervision::modules))
                .route(web::post().to(routes::supervision::create_module)),
        )
        .route(
            "/v1/experts/{id}/training",
            web::get().to(routes::supervision::training),
        )
        .route(
            "/v1/experts/{id}/training/{module_id}",
            web::post().to(routes::supervision::complete),
        )
        .route(
            "/v1/experts/{id}/flags",
            web::put().to(routes::supervision::flags),
        )
        .route(
            "/v1/experts/{id}/supervisor",
            web::put().to(routes::supervision::supervisor),
        )
        .route(
            "/v1/supervision/debriefs",
            web::get().to(routes::supervision::debriefs),
        )
        .route(
            "/v1/supervision/debriefs/{id}/done",
            web::post().to(routes::supervision::done),
        )
        .route("/supervise", web::get().to(routes::supervision::page))
        .route("/assets/{name}", web::get().to(pages::asset))
        .route("/v1/waitlist", web::post().to(routes::waitlist::join))
        .service(
            web::resource("/v1/waitlist/{id}")
                .route(web::get().to(routes::waitlist::get))
                .route(web::delete().to(routes::waitlist::leave)),
        )
        .service(
            web::resource("/v1/help-now")
                .route(web::get().to(routes::help_now::offer))
                .route(web::post().to(routes::help_now::ask)),
        )
        .service(
            web::resource("/v1/help-now/{id}")
                .route(web::get().to(routes::help_now::get))
                .route(web::delete().to(routes::help_now::leave)),
        )
        .route(
            "/v1/help-now/{id}/outcome",
            web::post().to(routes::help_now::record_outcome),
        )
        .route(
            "/v1/experts/me/help-now",
            web::get().to(routes::help_now::taken),
        )
        .service(
            web::resource("/v1/experts/me/duty")
                .route(web::get().to(routes::help_now::get_duty))
                .route(web::put().to(routes::help_now::set_duty)),
        )
        .route("/readyz", web::get().to(service::readyz))
        .route("/metrics", web::get().to(service::metrics))
        .route("/openapi.json", web::get().to(openapi::openapi))
        .route("/v1/experts", web::post().to(experts::create_expert))
        .route("/v1/expert-applications", web::post().to(experts::apply))
        .route("/v1/experts/me", web::get().to(experts::get_me))
        .route(
            "/v1/experts/me/bookings",
            web::get().to(experts::my_bookings),
        )
        .route("/v1/experts/{id}/approve", web::post().to(experts::approve))
        .route("/v1/experts/{id}/suspend", web::post().to(experts::suspend))
        .service(
            web::resource("/v1/experts/{id}/availability")
                .route(web::get().to(experts::get_availability))
                .route(web::put().to(experts::put_availability)),
        )
        .route("/v1/experts/{id}/slots", web::get().to(experts::slots))
        .route(
            "/v1/experts/{id}/sign-in-links",
            web::post().to(sign_in::create_link),
        )
        .service(
            web::resource("/sign-in/{secret}")
                .route(web::get().to(sign_in::link))
                .route(web::post().to(sign_in::use_link)),
        )
        .route("/v1/sessions/end", web::post().to(sign_in::end))
        .route(
            "/v1/bookings/{id}/outcome",
            web::post().to(referrals::record_outcome),
        )
        .route("/v1/ops/referrals", web::get().to(referrals::list))
        .route("/expert", web::get().to(portal::page))
        .route("/app", web::get().to(routes::app::page))
        .service(
            web::resource("/apply")
                .route(web::get().to(apply::page))
                .route(web::post().to(apply::submit)),
        )
        .route(
            "/v1/ops/referrals/{id}/resolve",
            web::post().to(referrals::resolve),
        )
        .route(
            "/v1/ops/referrals/{id}/callback",
            web::post().to(referrals::callback),
        )
        .configure(ops::configure)
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, error::ApiError> {
    Err(error::AppError::NotFound("route").into())
}

/// A request id for log correlation, taken from `X-Request-Id` when the
/// client (or a proxy) set a sane one, else fresh.
#[derive(Clone)]
pub struct RequestId(pub String);

/// The method as a metric label and log field: one of the known methods, or
/// `other`, so a client inventing methods can't grow the label set.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Per-request telemetry: a span with the request id, method and route
/// pattern (never the raw path, which carries ids), and the metrics.
pub async fn telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    if let Some(state) = state {
        state
            .metrics
            .http_requests
            .with_label_values(&[method, &route, &status.to_string()])
            .inc();
        state
            .metrics
            .http_duration
            .with_label_values(&[method, &route])
            .observe(elapsed.as_secs_f64());
    }
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            v,
        );
    }
    Ok(res)
}
