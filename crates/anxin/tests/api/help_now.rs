//! Help now through the API: experts on and off duty, the queue a seeker
//! sees (place, wait, leaving it), the answers when nobody is on duty, and a
//! request put through by the worker as `anxin worker` runs it, counted on
//! the dashboard. The ringing and rollover against a real SIP peer are in
//! the calls crate's tests (`help_now.rs`).
use crate::helpers::*;
use anxin_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn on_duty(app: &TestApp, expert: &str, body: Value) -> Value {
    let r = app.put(expert, "/v1/experts/me/duty", &body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn approved_expert(app: &TestApp) -> String {
    let id = app.expert_with(&all_week(60)).await;
    token(Role::Expert, &id.to_string())
}

#[tokio::test]
async fn a_seeker_is_told_their_place_and_wait_and_can_leave_the_queue() {
    let app = spawn_app().await;
    let expert = approved_expert(&app).await;
    let until = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let duty = on_duty(&app, &expert, json!({"on_duty": true, "until": until})).await;
    assert_eq!(duty["on_duty"], true, "{duty}");
    assert!(duty["until"].is_string());
    assert_eq!(
        app.get_json(&expert, "/v1/experts/me/duty").await["on_duty"],
        true
    );

    let (first, second) = (new_seeker(), new_seeker());
    let offer = app.get_json(&first, "/v1/help-now").await;
    assert_eq!(offer["on_duty"], 1, "{offer}");
    // One expert free: the wait is the phone being answered.
    assert_eq!(offer["estimated_wait_seconds"], 10, "{offer}");

    // A number typed the Chinese way is taken.
    let r = app
        .post_with_key(
            &first,
            "/v1/help-now",
            &json!({"phone": "138 1234 5678", "topic": "grief"}),
            "k1",
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    let asked: Value = r.json().await.unwrap();
    assert_eq!(asked["status"], "queued", "{asked}");
    assert_eq!(asked["position"], 1);
    let id = asked["request_id"].as_str().unwrap().to_string();

    let r = app
        .post(&second, "/v1/help-now", &json!({"phone": "13912345678"}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let behind: Value = r.json().await.unwrap();
    assert_eq!(behind["position"], 2, "{behind}");
    // Behind one seeker who has the only free expert: a call's length,
    // rounded up to whole minutes (20 min assumed before any call).
    assert_eq!(behind["estimated_wait_seconds"], 1260, "{behind}");
    let behind_id = behind["request_id"].as_str().unwrap().to_string();

    // The expert goes off duty: nobody is rung for now, but those waiting
    // keep their place, a retry still gets its request, and another is
    // still refused as one already waiting.
    on_duty(&app, &expert, json!({"on_duty": false})).await;
    // The same request again (a retry) is the first; another is refused.
    let again = app
        .post_with_key(
            &first,
            "/v1/help-now",
            &json!({"phone": "138 1234 5678", "topic": "grief"}),
            "k1",
        )
        .await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(
        again.json::<Value>().await.unwrap()["request_id"],
        id.as_str()
    );
    let r = app
        .post(&first, "/v1/help-now", &json!({"phone": "13812345678"}))
        .await;
    assert_error(r, StatusCode::CONFLICT, "help_now_active").await;

    // Nobody else's request is visible to a seeker.
    let r = app.get(&second, &format!("/v1/help-now/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.delete(&second, &format!("/v1/help-now/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The first leaves; the second moves up.
    let r = app.delete(&first, &format!("/v1/help-now/{id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let left = app.get_json(&first, &format!("/v1/help-now/{id}")).await;
    assert_eq!(left["status"], "cancelled", "{left}");
    assert!(left.get("position").is_none());
    let moved = app
        .get_json(&second, &format!("/v1/help-now/{behind_id}"))
        .await;
    assert_eq!(moved["status"], "queued");
    assert_eq!(moved["position"], 1, "{moved}");
    // Leaving twice changes nothing.
    let r = app.delete(&first, &format!("/v1/help-now/{id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // An operator sees the request, and never the seeker's number.
    let seen = app
        .get(&operator(), &format!("/v1/help-now/{behind_id}"))
        .await;
    let text = seen.text().await.unwrap();
    assert!(!text.contains("12345678"), "{text}");
}

#[tokio::test]
async fn with_nobody_on_duty_a_seeker_is_given_the_earliest_time_and_the_hotlines() {
    let app = spawn_app().await;
    let expert = approved_expert(&app).await;
    let r = app
        .post(
            &operator(),
            "/v1/resources",
            &json!({"name": "武汉市心理援助热线", "kind": "hotline", "region": "hubei",
                    "phone": "027-8584 4666", "hours": "24 小时"}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let seeker = new_seeker();
    let r = app
        .put(&seeker, "/v1/seekers/me", &json!({"region": "hubei"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let offer = app.get_json(&seeker, "/v1/help-now").await;
    assert_eq!(offer["on_duty"], 0, "{offer}");
    assert!(offer.get("estimated_wait_seconds").is_none());
    let body = assert_error(
        app.post(&seeker, "/v1/help-now", &json!({"phone": "13812345678"}))
            .await,
        StatusCode::CONFLICT,
        "nobody_on_duty",
    )
    .await;
    assert!(body["earliest_start"].is_string(), "{body}");
    assert_eq!(body["hotlines"][0]["phone"], "027-8584 4666", "{body}");

    // On duty, then off: the same again.
    on_duty(&app, &expert, json!({"on_duty": true})).await;
    assert_eq!(app.get_json(&seeker, "/v1/help-now").await["on_duty"], 1);
    let off = on_duty(&app, &expert, json!({"on_duty": false})).await;
    assert_eq!(off["on_duty"], false);
    assert_error(
        app.post(&seeker, "/v1/help-now", &json!({"phone": "13812345678"}))
            .await,
        StatusCode::CONFLICT,
        "nobody_on_duty",
    )
    .await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM help_now_requests")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing queued while nobody is on duty");
}

#[tokio::test]
async fn bad_help_now_input_is_refused_by_field_and_queues_nothing() {
    let app = spawn_app().await;
    let expert = approved_expert(&app).await;
    on_duty(&app, &expert, json!({"on_duty": true})).await;
    let seeker = new_seeker();
    for (body, field) in [
        (json!({"phone": "12345"}), "phone"),
        (
            json!({"phone": "13812345678", "language": "klingon"}),
            "language",
        ),
        (json!({"phone": "13812345678", "topic": "boredom"}), "topic"),
        (
            json!({"phone": "13812345678", "note": "很".repeat(501)}),
            "note",
        ),
    ] {
        let e = assert_error(
            app.post(&seeker, "/v1/help-now", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        )
        .await;
        assert_eq!(e["field"], field, "{e}");
    }
    let r = app
        .post(&seeker, "/v1/help-now", &json!({"phone": 138}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for body in [
        json!({"on_duty": true, "until": past}),
        json!({"on_duty": false, "until": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
    ] {
        let e = assert_error(
            app.put(&expert, "/v1/experts/me/duty", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        )
        .await;
        assert_eq!(e["field"], "until", "{e}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM help_now_requests")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn a_seeker_who_asks_is_put_through_to_the_expert_on_duty_and_the_dashboard_counts_it() {
    let app = spawn_app().await;
    let expert = approved_expert(&app).await;
    on_duty(&app, &expert, json!({"on_duty": true})).await;
    let worker = RunningWorker::start(&app, quick_phones(1.0)).await;
    let seeker = new_seeker();
    let r = app
        .post(&seeker, "/v1/help-now", &json!({"phone": "13812345678"}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let mut seen = Vec::new();
    let last = loop {
        let v = app.get_json(&seeker, &format!("/v1/help-now/{id}")).await;
        let status = v["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "completed" || started.elapsed() > Duration::from_secs(20) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(last["status"], "completed", "{last} after {seen:?}");
    assert_eq!(last["call"]["outcome"], "completed", "{last}");
    assert!(seen.contains(&"connected".to_string()), "{seen:?}");
    worker.stop().await;

    let summary = app.get_json(&operator(), "/v1/ops/summary?window=1h").await;
    let h = &summary["help_now"];
    assert_eq!(h["requested"], 1, "{h}");
    assert_eq!(h["connected"], 1, "{h}");
    assert_eq!(h["answer_rate"], 1.0, "{h}");
    assert_eq!(h["abandoned"], 0, "{h}");
    assert_eq!(h["rollovers"], 0, "{h}");
    assert_eq!(h["on_duty"], 1, "{h}");
    assert!(h["wait_p50_s"].as_f64().unwrap() < 20.0, "{h}");

    // The expert records how it went as for a booked session: an
    // emergency referral reaches operators, and a debrief is opened.
    let outcome = json!({"outcome": "completed", "follow_up": "refer", "urgency": "emergency",
                         "note": "needs a local centre", "debrief": true});
    let other = approved_expert(&app).await;
    let r = app
        .post(&other, &format!("/v1/help-now/{id}/outcome"), &outcome)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "another expert's call");
    let r = app
        .post(&seeker, &format!("/v1/help-now/{id}/outcome"), &outcome)
        .await;
    assert!(r.status().is_client_error());
    let r = app
        .post(&expert, &format!("/v1/help-now/{id}/outcome"), &outcome)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let recorded: Value = r.json().await.unwrap();
    assert!(recorded["referral_id"].is_string(), "{recorded}");
    assert!(recorded["debrief_id"].is_string(), "{recorded}");
    // After an emergency the volunteer rests: off duty too.
    let duty = app.get_json(&expert, "/v1/experts/me/duty").await;
    assert_eq!(duty["on_duty"], false, "{duty}");
    let referrals = app.get_json(&operator(), "/v1/ops/referrals").await;
    let referral = referrals
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["referral_id"] == recorded["referral_id"])
        .unwrap_or_else(|| panic!("{referrals}"))
        .clone();
    assert_eq!(referral["help_now_id"], id.as_str(), "{referral}");
    assert_eq!(referral["urgency"], "emergency");
    assert!(referral.get("booking_id").is_none(), "{referral}");
    let taken = app.get_json(&expert, "/v1/experts/me/help-now").await;
    assert_eq!(taken[0]["help_now_id"], id.as_str(), "{taken}");
    assert_eq!(taken[0]["follow_up"], "refer", "{taken}");
    assert!(!taken.to_string().contains("12345678"), "{taken}");
    // A request that never connected has nothing to record (another
    // volunteer is on duty now; no worker runs, so it stays queued).
    on_duty(&app, &other, json!({"on_duty": true})).await;
    let waiting = new_seeker();
    let r = app
        .post(&waiting, "/v1/help-now", &json!({"phone": "13912345678"}))
        .await;
    let queued = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            &operator(),
            &format!("/v1/help-now/{queued}/outcome"),
            &outcome,
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "booking_not_active").await;
}
