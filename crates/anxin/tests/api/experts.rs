use crate::helpers::*;
use anxin_api::auth::Role;
use chrono::{DateTime, Duration, Timelike, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

fn starts(slots: &[Value]) -> Vec<DateTime<Utc>> {
    slots
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn applicants_are_vetted_before_they_show_and_every_move_is_audited() {
    let app = spawn_app().await;
    let applicant = new_seeker();
    let r = app
        .post(
            &applicant,
            "/v1/expert-applications",
            &expert_profile("Dr. New"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "applied");
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();

    // Not visible until approved.
    assert_eq!(
        app.get(&operator(), &format!("/v1/experts/{id}/slots"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{id}/availability"),
            &all_week(60),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get(&operator(), &format!("/v1/experts/{id}/slots"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");
    assert!(!app.open_slots(id).await.is_empty());

    // A seeker holding one of the expert's slots when the expert is suspended
    // can no longer book it.
    let held: Uuid = app.open_slots(id).await[3]["slot_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let holder = new_seeker();
    let r = app.hold(&holder, held).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold = hold_id(r).await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{id}/suspend"),
            &json!({}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "suspended");
    assert_eq!(
        app.get(&operator(), &format!("/v1/experts/{id}/slots"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_error(
        app.confirm(&holder, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    // A suspended expert's slots can't be held.
    let slot: Uuid = sqlx::query_scalar(
        "SELECT id FROM slots WHERE expert_id = $1 AND starts_at > now() LIMIT 1",
    )
    .bind(id)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_error(
        app.hold(&new_seeker(), slot).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;

    let audit: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&app.db().await)
            .await
            .unwrap();
    // The operator's edit of the hours, then the vetting.
    assert_eq!(
        audit,
        vec!["availability.edit", "expert.approve", "expert.suspend"]
    );

    let unknown = Uuid::new_v4();
    assert_error(
        app.post(
            &operator(),
            &format!("/v1/experts/{unknown}/approve"),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn slots_follow_the_experts_local_time_zone() {
    let app = spawn_app().await;
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let shanghai = json!({
        "timezone": "Asia/Shanghai", "slot_minutes": 60,
        "weekly": days.iter().map(|d| json!({"weekday": d, "start": "09:00", "end": "12:00"})).collect::<Vec<_>>(),
    });
    let id = app.expert_with(&shanghai).await;
    let slots = app.open_slots(id).await;
    assert!(slots.len() >= 3 * 13, "{} slots", slots.len());
    for t in starts(&slots) {
        // 09:00-12:00 in Shanghai (UTC+8) is 01:00-04:00 UTC.
        assert!((1..4).contains(&t.hour()) && t.minute() == 0, "{t}");
    }
    let horizon = Utc::now() + Duration::days(15);
    assert!(starts(&slots).iter().all(|t| *t < horizon));

    let new_york = json!({
        "timezone": "America/New_York", "slot_minutes": 30,
        "weekly": [{"weekday": "mon", "start": "18:00", "end": "19:00"}],
    });
    let id = app.expert_with(&new_york).await;
    let slots = starts(&app.open_slots(id).await);
    // Two half-hour slots on each Monday in the horizon, past today's
    // (during a Monday evening in New York one of them may have ended, and
    // a running one is still listed).
    let later: Vec<_> = slots
        .iter()
        .filter(|t| **t > Utc::now() + Duration::days(1))
        .collect();
    assert!(
        later.len() >= 2 && later.len().is_multiple_of(2),
        "{slots:?}"
    );
    // 18:00 in New York is 23:00 UTC in winter (EST) and 22:00 in summer (EDT).
    assert!(
        slots
            .iter()
            .all(|t| (t.hour() == 23 || t.hour() == 22) && t.minute() % 30 == 0),
        "{slots:?}"
    );
}

#[tokio::test]
async fn overrides_close_days_and_replace_hours() {
    let app = spawn_app().await;
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    let after = tomorrow + Duration::days(1);
    let mut a = all_week(60);
    a["overrides"] = json!([
        {"date": tomorrow.to_string(), "closed": true},
        {"date": after.to_string(), "start": "10:00", "end": "12:00"},
    ]);
    let id = app.expert_with(&a).await;
    let slots = starts(&app.open_slots(id).await);
    assert!(!slots.iter().any(|t| t.date_naive() == tomorrow));
    let on_after: Vec<_> = slots
        .iter()
        .filter(|t| t.date_naive() == after)
        .map(|t| t.hour())
        .collect();
    assert_eq!(on_after, vec![10, 11]);

    // Read back, the overrides are what was written, in the same shape.
    let r = app
        .get(&operator(), &format!("/v1/experts/{id}/availability"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let saved: Value = r.json().await.unwrap();
    let mut overrides = saved["overrides"].as_array().unwrap().clone();
    overrides.sort_by_key(|o| o["date"].as_str().unwrap().to_string());
    assert_eq!(
        overrides,
        vec![
            json!({"date": tomorrow.to_string(), "closed": true}),
            json!({"date": after.to_string(), "closed": false, "start": "10:00", "end": "12:00"}),
        ]
    );
    assert_eq!(saved["max_sessions_per_day"], Value::Null);
}

#[tokio::test]
async fn an_edit_never_removes_a_held_or_booked_slot() {
    let app = spawn_app().await;
    let id = app.expert_with(&all_week(60)).await;
    let open = app.open_slots(id).await;
    let future: Vec<Uuid> = open
        .iter()
        .filter(|s| {
            s["starts_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                > Utc::now()
        })
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect();
    let (booked, held) = (future[0], future[1]);
    app.book(&new_seeker(), booked, "+8613812345678").await;
    let r = app.hold(&new_seeker(), held).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Close everything.
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{id}/availability"),
            &json!({"timezone": "UTC", "slot_minutes": 60, "weekly": []}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let mut conflicts: Vec<Uuid> = body["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    conflicts.sort();
    let mut expected = vec![booked, held];
    expected.sort();
    assert_eq!(conflicts, expected);
    assert_eq!(body["open_slots"], 0, "{body}");
    assert!(app.open_slots(id).await.is_empty());
    // Both slots still exist and the booking stands.
    let db = app.db().await;
    let status: Vec<String> = sqlx::query_scalar("SELECT status FROM slots WHERE id = ANY($1)")
        .bind(vec![booked, held])
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(status, vec!["open", "open"]);
    assert_eq!(app.active_bookings_of_slot(booked).await, 1);

    // Re-opening the week brings slots back, but none overlapping the kept ones twice.
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{id}/availability"),
            &all_week(60),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = app.open_slots(id).await;
    assert!(again.len() > 100);
    let ids: Vec<Uuid> = again
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(!ids.contains(&booked) && !ids.contains(&held));
}

#[tokio::test]
async fn the_horizon_rolls_forward_without_touching_bookings() {
    let app = spawn_app_with(|s| s.horizon_days = 2).await;
    let id = app.expert_with(&all_week(60)).await;
    let before = app.open_slots(id).await.len();
    assert!((48..=50).contains(&before), "{before}");
    let slot = app.future_slot(id).await;
    app.book(&new_seeker(), slot, "+8613812345678").await;
    // Roll as the maintenance task would, a day later.
    anxin_core::flows::availability::roll_horizon(&app.state, Utc::now() + Duration::days(1))
        .await
        .unwrap();
    let latest: DateTime<Utc> = sqlx::query_scalar(
        "SELECT max(starts_at) FROM slots WHERE expert_id = $1 AND status = 'open'",
    )
    .bind(id)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert!(
        latest > Utc::now() + Duration::days(2) + Duration::hours(12),
        "{latest}"
    );
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
}

#[tokio::test]
async fn an_expert_sees_their_upcoming_bookings_masked() {
    let app = spawn_app().await;
    let id = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(id).await;
    let booking = app.book(&new_seeker(), slot, "+8613812345678").await;
    let me = token(Role::Expert, &id.to_string());
    let r = app.get(&me, "/v1/experts/me/bookings").await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["booking_id"], booking.to_string());
    assert!(list[0]["seeker_alias"]
        .as_str()
        .unwrap()
        .starts_with("Seeker "));
    assert_eq!(list[0]["priority_group"], "general");
    // Another expert sees nothing of it.
    let other = token(Role::Expert, &Uuid::new_v4().to_string());
    assert!(app
        .get(&other, "/v1/experts/me/bookings")
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .is_empty());
    assert_error(
        app.get(&other, &format!("/v1/bookings/{booking}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
