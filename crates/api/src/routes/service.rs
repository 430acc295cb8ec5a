//! Liveness, readiness and metrics.
use crate::error::{ApiResult, AppError};
use actix_web::{web, HttpRequest, HttpResponse};
use anxin_core::state::AppState;

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

#[utoipa::path(get, path = "/metrics", tag = "service",
    description = "Prometheus text format. With `ANXIN_METRICS_TOKEN` set (and always in production) \
                   it needs `Authorization: Bearer <ANXIN_METRICS_TOKEN>`.",
    responses((status = 200, description = "Prometheus text format"),
              (status = 401, body = crate::error::ErrorBody, description = "`unauthorized`: the metrics token is missing or wrong")))]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    use anxin_core::state::MetricsAccess;
    let needed = match &state.config.metrics_access {
        MetricsAccess::Open => None,
        MetricsAccess::Token(token) => Some(token.as_str()),
        MetricsAccess::Closed => Some(""),
    };
    if let Some(token) = needed {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared in constant time: the token guards every figure.
        if token.is_empty() || !constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
            return Err(AppError::Unauthorized(
                "/metrics needs Authorization: Bearer <ANXIN_METRICS_TOKEN>",
            )
            .into());
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
