use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn health_ready_metrics_and_openapi_answer() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["redis"], "ok");

    let _ = app
        .get(
            &operator(),
            "/v1/experts/00000000-0000-0000-0000-000000000000/slots",
        )
        .await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("anxin_http_requests_total"));
    assert!(
        metrics.contains(r#"anxin_call_outcomes_total{outcome="completed"} 0"#),
        "{metrics}"
    );
    // Labelled by route pattern, never by the id in the path.
    assert!(
        metrics.contains(r#"route="/v1/experts/{id}/slots""#),
        "{metrics}"
    );
    assert!(!metrics.contains("00000000-0000-0000-0000-000000000000"));

    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/experts", "post"),
        ("/v1/expert-applications", "post"),
        ("/v1/experts/{id}/approve", "post"),
        ("/v1/experts/{id}/suspend", "post"),
        ("/v1/experts/{id}/availability", "put"),
        ("/v1/experts/{id}/slots", "get"),
        ("/v1/experts/me/bookings", "get"),
        ("/v1/slate", "get"),
        ("/v1/seekers/me", "put"),
        ("/v1/holds", "post"),
        ("/v1/holds/{id}", "delete"),
        ("/v1/bookings", "post"),
        ("/v1/bookings/{id}", "get"),
        ("/v1/bookings/{id}/cancel", "post"),
        ("/v1/ops/summary", "get"),
        ("/ops", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "openapi lacks {method} {path}"
        );
    }
}

#[tokio::test]
async fn readiness_is_503_when_redis_or_postgres_goes_away() {
    let redis = Proxy::start("127.0.0.1:6379").await;
    let app = spawn_app_with(|s| s.redis_url = format!("redis://127.0.0.1:{}", redis.port)).await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    redis.cut();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json::<Value>().await.unwrap()["redis"], "down");
    // Liveness does not depend on the backends.
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let postgres = Proxy::start("127.0.0.1:5432").await;
    let db = format!("anxin_test_{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(|s| {
        s.database_url = format!("postgres://postgres@127.0.0.1:{}/{db}", postgres.port)
    })
    .await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    postgres.cut();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json::<Value>().await.unwrap()["postgres"], "down");
    // A client's request that needs the database gets a JSON 5xx, not a hang
    // or a crash.
    let r = app
        .get(
            &operator(),
            "/v1/experts/00000000-0000-0000-0000-000000000000/slots",
        )
        .await;
    assert!(r.status().is_server_error());
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

/// `anxin worker` on its own serves its counters on a listener of its own
/// (`ANXIN_WORKER_METRICS_LISTEN`), counted through the hook its
/// configuration gives the worker.
#[tokio::test]
async fn a_standalone_worker_serves_its_call_outcomes() {
    let settings = test_settings(|_| {});
    let metrics = anxin_core::metrics::Metrics::new();
    let config = anxin::worker::worker_config(&settings, &metrics);
    let anxin_calls::OutcomeHook(tell) = config.on_attempt_end.expect("the worker counts outcomes");
    tell(anxin_domain::call::CallOutcome::ExpertBusy);
    tell(anxin_domain::call::CallOutcome::ExpertBusy);
    let (port, server) = anxin::worker::serve_metrics("127.0.0.1:0", metrics).unwrap();
    let handle = server.handle();
    tokio::spawn(server);
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(r#"anxin_call_outcomes_total{outcome="expert_busy"} 2"#),
        "{body}"
    );
    assert!(
        body.contains(r#"anxin_call_outcomes_total{outcome="completed"} 0"#),
        "{body}"
    );
    handle.stop(true).await;
}
