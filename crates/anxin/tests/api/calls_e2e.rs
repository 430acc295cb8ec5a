//! End to end: a booking made through the API for a slot that is already
//! running becomes a bridged call against a real SIP peer (SIPp playing both
//! phones and the trunk), and `GET /v1/bookings/{id}` shows it completed. The
//! worker is started through the same wiring `anxin worker` uses.
use crate::helpers::*;
use anxin_api::auth::Role;
use anxin_testkit::{free_udp_port, require_program};
use reqwest::StatusCode;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

struct Sipp(std::process::Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_booking_for_a_running_slot_becomes_a_completed_call_against_sipp() {
    require_program("sipp", "sip-tester");
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../calls/tests/sipp/seeker_hangs_up.xml");
    let port = free_udp_port();
    let dir = std::env::temp_dir().join(format!("anxin-e2e-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let _sipp = Sipp(
        Command::new("sipp")
            .arg("-sf")
            .arg(&scenario)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-mp",
                &free_udp_port().to_string(),
                "-nostdin",
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let app = spawn_app_with(|s| {
        s.call_provider = Some(anxin::config::CallProviderKind::Sip);
        s.sip_trunk = Some(format!("127.0.0.1:{port}"));
        s.sip_caller_id = Some("+8640012345678".into());
        s.sip_bind = "127.0.0.1:0".into();
        s.sip_ring_timeout_seconds = 5;
    })
    .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = app.settings.clone();
    let state = app.state.clone();
    let worker = tokio::spawn(async move {
        anxin::worker::run(&settings, &state.metrics, async move {
            let _ = stopped.await;
        })
        .await
    });

    // A slot that started a minute ago and runs for half an hour.
    let expert = app
        .expert_with(&serde_json::json!({"timezone": "UTC", "slot_minutes": 60, "weekly": []}))
        .await;
    let slot = Uuid::new_v4();
    let now = chrono::Utc::now();
    sqlx::query("INSERT INTO slots (id, expert_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)")
        .bind(slot)
        .bind(expert)
        .bind(now - chrono::Duration::minutes(1))
        .bind(now + chrono::Duration::minutes(30))
        .execute(&app.db().await)
        .await
        .unwrap();
    anxin_core::flows::reconcile::expert(&app.state, anxin_domain::ids::ExpertId(expert))
        .await
        .unwrap();

    let seeker = token(Role::Seeker, "e2e-seeker");
    let booking = app.book(&seeker, slot, "+8613812345678").await;
    let last = anxin_testkit::eventually(
        "the booking's call has an outcome",
        Duration::from_secs(25),
        Duration::from_millis(200),
        || async {
            let r = app.get(&seeker, &format!("/v1/bookings/{booking}")).await;
            assert_eq!(r.status(), StatusCode::OK);
            let v: Value = r.json().await.unwrap();
            v["call"]["outcome"].is_string().then_some(v)
        },
    )
    .await;
    assert_eq!(last["call"]["outcome"], "completed", "{last}");
    assert_eq!(last["call"]["state"], "ended");
    assert_eq!(last["status"], "completed");
    // The worker counted the attempt where it recorded it, in the registry
    // of the process it runs in (as under `anxin`).
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"anxin_call_outcomes_total{outcome="completed"} 1"#),
        "{metrics}"
    );
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
