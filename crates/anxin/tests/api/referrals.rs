//! After a call: outcomes, referrals, their queue and resolution.
use crate::dashboard_support::daily_hour_started_five_minutes_ago;
use crate::helpers::*;
use anxin_api::auth::Role;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

const PHONE: &str = "+8613712345678";
const NOTE: &str = "Says she has not slept for days; spoke of ending it. Needs a psychiatrist.";

/// An expert with a one-hour slot each day that started five minutes ago,
/// and a booking of today's (running) one; returns (expert, booking).
pub(crate) async fn running_session(app: &TestApp) -> (Uuid, Uuid) {
    let expert = app
        .expert_with(&daily_hour_started_five_minutes_ago(Utc::now()))
        .await;
    let slot = app.open_slot_ids(expert, 0..1).await[0];
    let booking = app.book(&new_seeker(), slot, PHONE).await;
    (expert, booking)
}

async fn outcome(app: &TestApp, t: &str, booking: Uuid, body: Value) -> reqwest::Response {
    app.post(t, &format!("/v1/bookings/{booking}/outcome"), &body)
        .await
}

#[tokio::test]
async fn only_the_sessions_expert_or_an_operator_records_its_outcome_and_a_referral_needs_an_urgency(
) {
    let app = spawn_app().await;
    let (expert, booking) = running_session(&app).await;
    let expert_token = token(Role::Expert, &expert.to_string());
    let (other, _) = running_session(&app).await;
    let done = json!({"outcome": "completed", "follow_up": "none"});

    // Not the seeker, not another expert.
    let r = outcome(&app, &new_seeker(), booking, done.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = outcome(
        &app,
        &token(Role::Expert, &other.to_string()),
        booking,
        done.clone(),
    )
    .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // The rules of the body.
    let r = outcome(
        &app,
        &expert_token,
        booking,
        json!({"outcome": "completed", "follow_up": "refer"}),
    )
    .await;
    assert_eq!(
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "urgency"
    );
    let r = outcome(
        &app,
        &expert_token,
        booking,
        json!({"outcome": "completed", "follow_up": "none", "note": "x".repeat(2001)}),
    )
    .await;
    assert_eq!(
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "note"
    );
    let r = outcome(
        &app,
        &expert_token,
        booking,
        json!({"outcome": "great", "follow_up": "none"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A session that has not started has no outcome yet.
    let slot = app.open_slot_ids(expert, 0..1).await[0];
    let later = app.book(&new_seeker(), slot, PHONE).await;
    let r = outcome(&app, &expert_token, later, done.clone()).await;
    assert_error(r, StatusCode::CONFLICT, "booking_not_active").await;

    // The expert refers the seeker as an emergency, with a private note.
    let r = outcome(
        &app,
        &expert_token,
        booking,
        json!({"outcome": "completed", "follow_up": "refer", "urgency": "emergency", "note": NOTE}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let recorded: Value = r.json().await.unwrap();
    assert_eq!(recorded["outcome"], "completed");
    let referral = recorded["referral_id"].as_str().unwrap().to_string();

    // The expert sees it among their past sessions, note and all.
    let r = app
        .get(&expert_token, "/v1/experts/me/bookings?when=past")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let past: Value = r.json().await.unwrap();
    let past = past.as_array().unwrap();
    assert_eq!(past.len(), 1);
    assert_eq!(past[0]["booking_id"], booking.to_string());
    assert_eq!(past[0]["outcome"]["urgency"], "emergency");
    assert_eq!(past[0]["outcome"]["note"], NOTE);
    let r = app
        .get(&expert_token, "/v1/experts/me/bookings?when=yesterday")
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await;
    // Correcting the outcome keeps the referral.
    let r = outcome(
        &app,
        &expert_token,
        booking,
        json!({"outcome": "cut_short", "follow_up": "rebook"}),
    )
    .await;
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["referral_id"], referral.as_str());
    // An operator may record it too.
    let r = outcome(
        &app,
        &operator(),
        booking,
        json!({"outcome": "cut_short", "follow_up": "refer", "urgency": "emergency", "note": NOTE}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The note is sealed at rest; the number stays out of the referral list.
    let dump = app.postgres_dump().await;
    assert!(
        !dump.contains("psychiatrist"),
        "the note is stored in plain text"
    );
    let list = app.get(&operator(), "/v1/ops/referrals").await;
    let text = list.text().await.unwrap();
    assert!(
        !text.contains("13712345678") && !text.contains("psychiatrist"),
        "{text}"
    );
    let audit: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE target_id IN ($1, $2) AND action LIKE '%.%' ORDER BY id",
    )
    .bind(booking)
    .bind(referral.parse::<Uuid>().unwrap())
    .fetch_all(&app.db().await)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [
            "outcome.record",
            "referral.open",
            "outcome.record",
            "outcome.record",
            "referral.open"
        ]
    );
}

#[tokio::test]
async fn the_referral_queue_is_most_urgent_first_and_a_resolved_referral_lets_the_number_go() {
    let app = spawn_app().await;
    let mut referrals = Vec::new();
    for urgency in ["routine", "emergency", "urgent"] {
        let (expert, booking) = running_session(&app).await;
        let r = outcome(
            &app,
            &token(Role::Expert, &expert.to_string()),
            booking,
            json!({"outcome": "completed", "follow_up": "refer", "urgency": urgency}),
        )
        .await;
        let body: Value = r.json().await.unwrap();
        referrals.push(body["referral_id"].as_str().unwrap().to_string());
    }
    for t in [
        new_seeker(),
        token(Role::Expert, &Uuid::new_v4().to_string()),
    ] {
        assert_eq!(
            app.get(&t, "/v1/ops/referrals").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let open: Value = app
        .get(&operator(), "/v1/ops/referrals")
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["urgency"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["emergency", "urgent", "routine"]);
    assert!(open[0]["seeker_alias"].is_string() && open[0]["status"] == "open");
    let r = app.get(&operator(), "/v1/ops/referrals?status=lost").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await;

    // An open referral keeps the seeker's number whatever the retention.
    let db = app.db().await;
    let kept = |id: String| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT phone_ciphertext IS NOT NULL FROM referrals WHERE id = $1",
            )
            .bind(id.parse::<Uuid>().unwrap())
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    anxin_store::call_tasks::erase_seeker_phones(&db, chrono::Duration::zero())
        .await
        .unwrap();
    assert!(kept(referrals[1].clone()).await);

    let path = format!("/v1/ops/referrals/{}/resolve", referrals[1]);
    let body = json!({"resolution": "referred", "centre": "Wuhan Mental Health Centre"});
    let r = app
        .post(
            &token(Role::Expert, &Uuid::new_v4().to_string()),
            &path,
            &body,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .post(&operator(), &path, &json!({"resolution": "forgotten"}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.post(&operator(), &path, &body).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let resolved: Value = r.json().await.unwrap();
    assert_eq!(
        (resolved["status"].as_str(), resolved["resolution"].as_str()),
        (Some("resolved"), Some("referred"))
    );
    let r = app.post(&operator(), &path, &body).await;
    assert_error(r, StatusCode::CONFLICT, "invalid_transition").await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/ops/referrals/{}/resolve", Uuid::new_v4()),
            &body,
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let open: Value = app
        .get(&operator(), "/v1/ops/referrals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open.as_array().unwrap().len(), 2);
    let done: Value = app
        .get(&operator(), "/v1/ops/referrals?status=resolved")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done[0]["referral_id"], referrals[1].as_str());
    assert_eq!(done[0]["centre"], "Wuhan Mental Health Centre");

    // Resolved: the retention clock runs from now (here, zero).
    anxin_store::call_tasks::erase_seeker_phones(&db, chrono::Duration::zero())
        .await
        .unwrap();
    assert!(!kept(referrals[1].clone()).await);
    assert!(kept(referrals[0].clone()).await);
}

/// The request side of a masked callback (the call itself is SIPp-tested in
/// `anxin-calls`): an operator asks, the task is queued for the call worker
/// with the operator's number sealed, the queue shows it, and the number
/// reaches no listing, audit record or log line.
#[tokio::test]
async fn an_operator_queues_a_masked_callback_on_an_open_referral() {
    const OPERATOR_PHONE: &str = "+8613598765432";
    let app = spawn_app().await;
    let (expert, booking) = running_session(&app).await;
    let r = outcome(
        &app,
        &token(Role::Expert, &expert.to_string()),
        booking,
        json!({"outcome": "cut_short", "follow_up": "refer", "urgency": "emergency"}),
    )
    .await;
    let referral: Value = r.json().await.unwrap();
    let referral = referral["referral_id"].as_str().unwrap().to_string();
    let path = format!("/v1/ops/referrals/{referral}/callback");
    let body = json!({"operator_phone": OPERATOR_PHONE});

    // Operators only; a number that is not E.164 is named.
    for t in [new_seeker(), token(Role::Expert, &expert.to_string())] {
        assert_eq!(
            app.post(&t, &path, &body).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let r = app
        .post(&operator(), &path, &json!({"operator_phone": "1359876543"}))
        .await;
    assert_eq!(
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "operator_phone"
    );
    let r = app.post(&operator(), &path, &json!({})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .post(
            &operator(),
            &format!("/v1/ops/referrals/{}/callback", Uuid::new_v4()),
            &body,
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let r = app.post(&operator(), &path, &body).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let call_id = r.json::<Value>().await.unwrap()["call_id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    // One callback at a time.
    let r = app.post(&operator(), &path, &body).await;
    assert_error(r, StatusCode::CONFLICT, "invalid_transition").await;

    // The queue shows it; the call worker has it, due now, the number sealed.
    let open: Value = app
        .get(&operator(), "/v1/ops/referrals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open[0]["callback"]["call_id"], call_id.to_string());
    assert_eq!(open[0]["callback"]["call_state"], "scheduled");
    let db = app.db().await;
    let (state, due_now, sealed): (String, bool, bool) = sqlx::query_as(
        "SELECT state, due_at <= now(), operator_phone_ciphertext IS NOT NULL
           FROM call_tasks WHERE id = $1 AND referral_id = $2 AND booking_id IS NULL",
    )
    .bind(call_id)
    .bind(referral.parse::<Uuid>().unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((state.as_str(), due_now, sealed), ("pending", true, true));
    let audit: Vec<Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('action', action, 'who', actor_role, 'detail', detail)
           FROM audit_log WHERE action = 'referral.callback' AND target_id = $1",
    )
    .bind(referral.parse::<Uuid>().unwrap())
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["who"], "operator");
    assert_eq!(audit[0]["detail"]["call_id"], call_id.to_string());

    let dump = app.postgres_dump().await;
    let logs = logs().text();
    for digits in ["13598765432", "13712345678"] {
        assert!(!dump.contains(digits), "a number is stored in the clear");
        assert!(!logs.contains(digits), "a number reached the logs");
        assert!(!open.to_string().contains(digits));
    }

    // A resolved referral calls nobody.
    sqlx::query("UPDATE call_tasks SET state = 'done' WHERE id = $1")
        .bind(call_id)
        .execute(&db)
        .await
        .unwrap();
    let r = app
        .post(
            &operator(),
            &format!("/v1/ops/referrals/{referral}/resolve"),
            &json!({"resolution": "contacted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post(&operator(), &path, &body).await;
    assert_error(r, StatusCode::CONFLICT, "invalid_transition").await;
}
