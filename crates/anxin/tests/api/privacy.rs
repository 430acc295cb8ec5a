//! The seeker stays masked: a canary phone number and host-app subject are
//! searched for in everything an expert sees, in Postgres, in Redis and in
//! the logs, after a booking and after a help-now call (rung, bridged and
//! recorded).
use crate::helpers::*;
use anxin_api::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

const CANARY_DIGITS: &str = "13999887766";
const CANARY_SUBJECT: &str = "canary-host-subject-7Q2Z";

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY_DIGITS),
        "{what} contains the seeker's phone"
    );
    assert!(
        !text.contains(CANARY_SUBJECT),
        "{what} contains the seeker's host-app subject"
    );
}

#[tokio::test]
async fn the_seekers_phone_and_identity_never_leak() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let seeker = token(Role::Seeker, CANARY_SUBJECT);
    // A few hours ahead: the same expert takes a help-now call below, and
    // an expert is not rung within 15 minutes of a booked session.
    let slot = app.open_slots(expert).await[6]["slot_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = app
        .put(&seeker, "/v1/seekers/me", &json!({"region": "hubei"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let booking = app
        .book(&seeker, slot, &format!("+86{CANARY_DIGITS}"))
        .await;
    // A failed confirmation with the canary must not echo it either.
    let other_slot = app.open_slots(expert).await[4]["slot_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = app.hold(&seeker, other_slot).await;
    let hold = hold_id(r).await;
    let r = app.post(&seeker, "/v1/bookings", &json!({"hold_id": hold, "phone": format!("+86{CANARY_DIGITS}"), "note": "x".repeat(600)})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_clean("an error message", &r.text().await.unwrap());
    // A phone sent with the wrong type is not echoed back either.
    let r = app
        .post(&seeker, "/v1/bookings", &json!({"hold_id": hold, "phone": format!("86{CANARY_DIGITS}").parse::<u64>().unwrap()}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_clean("a type error", &r.text().await.unwrap());

    // The seeker sees only their own number, masked.
    let mine = app
        .get(&seeker, &format!("/v1/bookings/{booking}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(mine.contains("+86 139****7766"), "{mine}");
    assert_clean("the seeker's own view", &mine);

    // Everything the expert can see.
    let expert_token = token(Role::Expert, &expert.to_string());
    for path in [
        "/v1/experts/me/bookings".to_string(),
        format!("/v1/bookings/{booking}"),
    ] {
        let r = app.get(&expert_token, &path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_clean(&format!("the expert's {path}"), &r.text().await.unwrap());
    }
    let r = app
        .get(&operator(), &format!("/v1/bookings/{booking}"))
        .await;
    assert_clean("the operator's view", &r.text().await.unwrap());

    // Help now: the same seeker asks to talk now, the worker puts them
    // through to the expert on duty, and the expert records the call.
    let r = app
        .put(
            &expert_token,
            "/v1/experts/me/duty",
            &json!({"on_duty": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let worker = RunningWorker::start(&app, quick_phones(1.0)).await;
    let r = app
        .post(
            &seeker,
            "/v1/help-now",
            &json!({"phone": format!("+86{CANARY_DIGITS}"), "note": "请先打给我"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let asked = r.text().await.unwrap();
    assert_clean("the help-now answer", &asked);
    let request = serde_json::from_str::<serde_json::Value>(&asked).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    anxin_testkit::eventually(
        "the help-now call is completed",
        std::time::Duration::from_secs(20),
        std::time::Duration::from_millis(100),
        || async {
            let v = app
                .get_json(&seeker, &format!("/v1/help-now/{request}"))
                .await;
            assert_clean("the seeker's help-now view", &v.to_string());
            (v["status"] == "completed").then_some(())
        },
    )
    .await;
    worker.stop().await;
    let r = app
        .post(
            &expert_token,
            &format!("/v1/help-now/{request}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": "routine"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for path in [
        "/v1/experts/me/help-now".to_string(),
        "/v1/supervision/debriefs".to_string(),
    ] {
        let r = app.get(&expert_token, &path).await;
        assert_clean(&format!("the expert's {path}"), &r.text().await.unwrap());
    }
    for path in [
        format!("/v1/help-now/{request}"),
        "/v1/ops/referrals".to_string(),
    ] {
        let r = app.get(&operator(), &path).await;
        assert_clean(&format!("the operator's {path}"), &r.text().await.unwrap());
    }

    assert_clean("Postgres", &app.postgres_dump().await);
    assert_clean("Redis", &app.redis_dump().await);
    let metrics = app.metrics().await;
    assert_clean("the metrics", &metrics);
    // Give the log writer a moment, then search everything every app logged.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let logs = logs().text();
    assert!(logs.contains("request"), "logs were captured");
    assert_clean("the logs", &logs);
}
