//! Liveness, readiness and metrics.
use crate::state::AppState;
use actix_web::{web, HttpResponse};

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "The process runs")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "service", responses(
    (status = 200, description = "Postgres and Redis answer"),
    (status = 503, description = "Postgres or Redis does not answer")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let timeout = std::time::Duration::from_secs(2);
    let postgres = tokio::time::timeout(timeout, anxin_store::ping(&state.pool)).await;
    let redis = tokio::time::timeout(timeout, state.reserve.ping()).await;
    let postgres_ok = matches!(postgres, Ok(Ok(())));
    let redis_ok = matches!(redis, Ok(Ok(())));
    let body = serde_json::json!({
        "postgres": if postgres_ok { "ok" } else { "down" },
        "redis": if redis_ok { "ok" } else { "down" },
    });
    if postgres_ok && redis_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
