//! Liveness, readiness, metrics and the OpenAPI document.
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
        .body(format!(
            "{}{}",
            state.metrics.render(),
            call_outcomes(&state).await
        ))
}

/// Call outcomes happen in the worker, which serves no HTTP; the counter is
/// read from Postgres, where every attempt is recorded once (so it only grows,
/// as a counter must, and agrees across instances).
async fn call_outcomes(state: &AppState) -> String {
    let counted = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        anxin_store::call_tasks::outcome_counts(&state.pool),
    )
    .await;
    let Ok(Ok(counts)) = counted else {
        return String::new();
    };
    let mut out = String::from(
        "# HELP anxin_call_outcomes_total Ended call attempts by outcome\n# TYPE anxin_call_outcomes_total counter\n",
    );
    for outcome in anxin_domain::call::CallOutcome::ALL {
        let n = counts.get(outcome.as_str()).copied().unwrap_or(0);
        out.push_str(&format!(
            "anxin_call_outcomes_total{{outcome=\"{}\"}} {n}\n",
            outcome.as_str()
        ));
    }
    out
}

#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "This document")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}
