//! The waitlist: a freed slot finds the next waiting seeker by itself.
use crate::helpers::*;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PHONE: &str = "+8613812345678";

/// An expert and their first slot that has not started, booked by a
/// seeker, with anything of theirs before it (a slot under way) booked too,
/// so nothing up to its start is free: (expert, slot, its start, the
/// seeker, the booking).
async fn booked_out(app: &TestApp) -> (Uuid, Uuid, String, String, Uuid) {
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let listed = app.open_slots(expert).await;
    let at = listed
        .iter()
        .position(|s| s["slot_id"] == json!(slot))
        .unwrap();
    for earlier in &listed[..at] {
        let id = earlier["slot_id"].as_str().unwrap().parse().unwrap();
        app.book(&new_seeker(), id, PHONE).await;
    }
    let starts_at = listed[at]["starts_at"].as_str().unwrap().to_string();
    let seeker = new_seeker();
    let booking = app.book(&seeker, slot, PHONE).await;
    (expert, slot, starts_at, seeker, booking)
}

/// Joins the waitlist for this expert's slots up to `until`.
async fn wait_for_expert(app: &TestApp, seeker: &str, expert: Uuid, until: &str) -> String {
    let body = json!({"expert_id": expert, "not_after": until});
    created_as(app.post(seeker, "/v1/waitlist", &body).await, "waitlist_id").await
}

async fn entry(app: &TestApp, seeker: &str, id: &str) -> Value {
    app.get_json(seeker, &format!("/v1/waitlist/{id}")).await
}

/// Polls the entry until `done` says so, or `within` passes.
async fn until(
    app: &TestApp,
    seeker: &str,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let e = entry(app, seeker, id).await;
        if done(&e) || started.elapsed() > within {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_cancellation_offers_the_slot_to_the_first_waiting_seeker_within_a_second() {
    let app = spawn_app().await;
    let (expert, slot, starts_at, booker, booking) = booked_out(&app).await;
    let (first, second) = (new_seeker(), new_seeker());
    let w1 = wait_for_expert(&app, &first, expert, &starts_at).await;
    let w2 = wait_for_expert(&app, &second, expert, &starts_at).await;
    // Nothing suits them yet: they wait, in the order they came.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let e1 = entry(&app, &first, &w1).await;
    let e2 = entry(&app, &second, &w2).await;
    assert_eq!(
        (&e1["status"], &e1["position"]),
        (&json!("waiting"), &json!(1))
    );
    assert_eq!(
        (&e2["status"], &e2["position"]),
        (&json!("waiting"), &json!(2))
    );
    // Another seeker's entry is not theirs to see.
    let r = app.get(&second, &format!("/v1/waitlist/{w1}")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // The booking is cancelled: the first in line holds the slot at once.
    let cancelled = Instant::now();
    let r = app
        .post(
            &booker,
            &format!("/v1/bookings/{booking}/cancel"),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let offered = until(&app, &first, &w1, Duration::from_secs(5), |e| {
        e["status"] == "offered"
    })
    .await;
    let took = cancelled.elapsed();
    assert_eq!(offered["status"], "offered", "{offered}");
    assert!(took < Duration::from_secs(1), "offered after {took:?}");
    let offer = &offered["offer"];
    assert_eq!(offer["slot_id"], json!(slot));
    let expires: DateTime<Utc> = offer["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires - Utc::now() > chrono::Duration::minutes(9),
        "{offer}"
    );
    // Nobody else can take it meanwhile, however fast.
    let racers: Vec<String> = (0..10).map(|_| new_seeker()).collect();
    let answers = futures_util::future::join_all(racers.iter().map(|s| app.hold(s, slot))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::CONFLICT));
    assert_eq!(entry(&app, &second, &w2).await["position"], 1);

    // The first books it with the offered hold, as any hold.
    let hold = offer["hold_id"].as_str().unwrap();
    let r = app.confirm(&first, hold, "+8613900001111").await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(entry(&app, &first, &w1).await["status"], "booked");
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
    // The operators' summary counts the line.
    let summary = app.get_json(&operator(), "/v1/ops/summary?window=1h").await;
    assert_eq!(
        summary["waitlist"],
        json!({"waiting": 1, "offered": 0, "booked": 1})
    );
}

#[tokio::test]
async fn an_unclaimed_offer_passes_to_the_next_and_leaving_gives_an_offer_back() {
    let app = spawn_app_with(|s| {
        s.hold_ttl_seconds = 1;
        s.waitlist_offer_seconds = 2;
    })
    .await;
    let (expert, slot, starts_at, booker, booking) = booked_out(&app).await;
    let (first, second, third) = (new_seeker(), new_seeker(), new_seeker());
    let w1 = wait_for_expert(&app, &first, expert, &starts_at).await;
    let w2 = wait_for_expert(&app, &second, expert, &starts_at).await;
    let w3 = wait_for_expert(&app, &third, expert, &starts_at).await;
    app.post(
        &booker,
        &format!("/v1/bookings/{booking}/cancel"),
        &json!({}),
    )
    .await;
    let e = until(&app, &first, &w1, Duration::from_secs(3), |e| {
        e["status"] == "offered"
    })
    .await;
    assert_eq!(e["status"], "offered");

    // The first lets it lapse: it passes to the second.
    let e = until(&app, &second, &w2, Duration::from_secs(10), |e| {
        e["status"] == "offered"
    })
    .await;
    assert_eq!(e["status"], "offered", "{e}");
    assert_eq!(e["offer"]["slot_id"], json!(slot));
    assert_eq!(entry(&app, &first, &w1).await["status"], "expired");

    // The second leaves: the slot is given back and goes to the third.
    let r = app.delete(&second, &format!("/v1/waitlist/{w2}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(entry(&app, &second, &w2).await["status"], "cancelled");
    let e = until(&app, &third, &w3, Duration::from_secs(5), |e| {
        e["status"] == "offered"
    })
    .await;
    assert_eq!(e["offer"]["slot_id"], json!(slot), "{e}");
}

#[tokio::test]
async fn a_wish_is_checked_and_a_seeker_waits_three_times_at_most() {
    let app = spawn_app().await;
    let seeker = new_seeker();
    for (body, field) in [
        (json!({"language": "klingon"}), "language"),
        (json!({"topic": "boredom"}), "topic"),
        (json!({"not_after": "2020-01-01T00:00:00Z"}), "not_after"),
        (json!({"expert_id": Uuid::new_v4()}), "expert_id"),
    ] {
        let r = app.post(&seeker, "/v1/waitlist", &body).await;
        assert_eq!(
            assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
            field
        );
    }
    // Only seekers wait.
    let r = app.post(&operator(), "/v1/waitlist", &json!({})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A wish nothing can meet (this expert within the minute) just waits.
    let expert = app.expert_with(&all_week(60)).await;
    let soon = (Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let nobody = json!({"expert_id": expert, "not_after": soon});
    for _ in 0..3 {
        let r = app.post(&seeker, "/v1/waitlist", &nobody).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = app.post(&seeker, "/v1/waitlist", &nobody).await;
    assert_error(r, StatusCode::CONFLICT, "waitlist_limit").await;
    let r = app
        .delete(&seeker, &format!("/v1/waitlist/{}", Uuid::new_v4()))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}
