use crate::helpers::*;

use anxin_api::auth::Role;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn hundreds_racing_for_one_slot_yield_exactly_one_hold_then_one_booking() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let seekers: Vec<String> = (0..300).map(|_| new_seeker()).collect();
    let answers = join_all(seekers.iter().map(|s| app.hold(s, slot))).await;
    let mut won = Vec::new();
    let mut lost = 0;
    for (seeker, r) in seekers.iter().zip(answers) {
        match r.status() {
            StatusCode::CREATED => won.push((seeker.clone(), hold_id(r).await)),
            StatusCode::CONFLICT => {
                assert_eq!(
                    r.json::<Value>().await.unwrap()["error"],
                    "slot_unavailable"
                );
                lost += 1;
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    assert_eq!(won.len(), 1);
    assert_eq!(lost, 299);

    // Everyone tries to confirm the one hold: only its holder can, once.
    let (winner, hold) = &won[0];
    let attempts = join_all(
        seekers
            .iter()
            .take(50)
            .chain(std::iter::repeat_n(winner, 20))
            .map(|s| app.confirm(s, hold, "+8613812345678")),
    )
    .await;
    let created = attempts
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert!(attempts
        .iter()
        .all(|r| r.status() == StatusCode::CREATED || r.status() == StatusCode::CONFLICT));
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
}

#[tokio::test]
async fn a_seeker_holds_one_slot_at_a_time_and_release_reopens_it_at_once() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let seeker = new_seeker();
    let slots = app.open_slots(expert).await;
    let a: Uuid = slots[2]["slot_id"].as_str().unwrap().parse().unwrap();
    let b: Uuid = slots[3]["slot_id"].as_str().unwrap().parse().unwrap();
    let r = app.hold(&seeker, a).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold = hold_id(r).await;
    assert_error(
        app.hold(&seeker, b).await,
        StatusCode::CONFLICT,
        "hold_limit",
    )
    .await;
    // The held slot is gone from the listing and from others' reach.
    assert!(!app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["slot_id"] == a.to_string()));
    let other = new_seeker();
    assert_error(
        app.hold(&other, a).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    // Another seeker can't release it.
    assert_error(
        app.delete(&other, &format!("/v1/holds/{hold}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Nor confirm it.
    assert_error(
        app.confirm(&other, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    // The holder releases: open again, at once, for anyone.
    assert_eq!(
        app.delete(&seeker, &format!("/v1/holds/{hold}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["slot_id"] == a.to_string()));
    assert_eq!(app.hold(&other, a).await.status(), StatusCode::CREATED);
    // A released hold can't be confirmed, even with the slot held again.
    assert_error(
        app.confirm(&seeker, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    assert_eq!(app.active_bookings_of_slot(a).await, 0);
    // And the first seeker may hold again.
    assert_eq!(app.hold(&seeker, b).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_expired_hold_blocks_nobody_and_cannot_be_confirmed() {
    let app = spawn_app_with(|s| s.hold_ttl_seconds = 1).await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let first = new_seeker();
    let r = app.hold(&first, slot).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold = hold_id(r).await;
    let second = new_seeker();
    assert_error(
        app.hold(&second, slot).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // No sweeper ran: the next hold attempt itself finds the hold expired.
    assert_eq!(app.hold(&second, slot).await.status(), StatusCode::CREATED);
    assert_error(
        app.confirm(&first, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    assert_eq!(app.active_bookings_of_slot(slot).await, 0);
}

/// The check a confirmation makes of its hold (which neither reaps nor runs
/// the caps' code) answers by the hold's expiry, even where no script has
/// reaped the hold yet; it keeps a live hold alive for the commit, and only
/// for the hold's own seeker.
#[tokio::test]
async fn a_hold_past_its_expiry_is_not_live_even_before_anything_reaps_it() {
    use anxin_domain::ids::{ExpertId, HoldId, SeekerId, SlotId};
    use anxin_reserve::{HoldRecord, SlotHold};
    let app = spawn_app_with(|s| s.hold_ttl_seconds = 1).await;
    let expert = ExpertId(app.expert_with(&all_week(60)).await);
    let slots = app.open_slot_ids(expert.0, 1..3).await;
    let reserve = &app.state.reserve;
    let seeker = SeekerId::new();
    let hold = |slot: Uuid| async move {
        let hold_id = HoldId::new();
        let held = reserve
            .hold_slot(expert, SlotId(slot), hold_id, seeker, false)
            .await
            .unwrap();
        let SlotHold::Held { expires_at } = held else {
            panic!("not held: {held:?}")
        };
        HoldRecord {
            hold_id,
            slot_id: SlotId(slot),
            expert_id: expert,
            expires_at,
        }
    };
    let (kept, lapsing) = (hold(slots[0]).await, hold(slots[1]).await);
    assert!(!reserve
        .verify_hold(&kept, SeekerId::new(), Duration::ZERO)
        .await
        .unwrap());
    assert!(reserve
        .verify_hold(&kept, seeker, Duration::from_secs(4))
        .await
        .unwrap());
    assert!(reserve
        .verify_hold(&lapsing, seeker, Duration::ZERO)
        .await
        .unwrap());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Nothing has touched the expert's keys since: both holds are still in
    // Redis, one past its expiry.
    assert!(!reserve
        .verify_hold(&lapsing, seeker, Duration::from_secs(30))
        .await
        .unwrap());
    assert!(reserve
        .verify_hold(&kept, seeker, Duration::ZERO)
        .await
        .unwrap());
    // The refusal kept nothing: the lapsed slot goes to the next seeker, the
    // extended one to nobody.
    assert_eq!(
        app.hold(&new_seeker(), slots[1]).await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.hold(&new_seeker(), slots[0]).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
}

/// A seeker's expired holds stop counting against their limit even while a
/// later hold keeps their set of holds alive.
#[tokio::test]
async fn an_expired_hold_frees_its_place_under_the_seekers_limit() {
    let app = spawn_app_with(|s| {
        s.hold_ttl_seconds = 5;
        s.max_holds_per_seeker = 2;
    })
    .await;
    let expert = app.expert_with(&all_week(60)).await;
    let slots: Vec<Uuid> = app.open_slots(expert).await[2..6]
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect();
    let seeker = new_seeker();
    assert_eq!(
        app.hold(&seeker, slots[0]).await.status(),
        StatusCode::CREATED
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        app.hold(&seeker, slots[1]).await.status(),
        StatusCode::CREATED
    );
    // The first hold has lapsed; the second has more than 2 s left, which is
    // what the last two requests may take on a busy machine.
    tokio::time::sleep(Duration::from_millis(2700)).await;
    assert_eq!(
        app.hold(&seeker, slots[2]).await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.hold(&seeker, slots[3]).await,
        StatusCode::CONFLICT,
        "hold_limit",
    )
    .await;
}

#[tokio::test]
async fn an_expired_hold_is_back_in_listings_without_a_sweeper() {
    let app = spawn_app_with(|s| s.hold_ttl_seconds = 1).await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    assert_eq!(
        app.hold(&new_seeker(), slot).await.status(),
        StatusCode::CREATED
    );
    assert!(!app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["slot_id"] == slot.to_string()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["slot_id"] == slot.to_string()));
}

#[tokio::test]
async fn a_retried_hold_returns_the_first_result() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let seeker = new_seeker();
    let slot = app.future_slot(expert).await;
    let body = json!({"slot_id": slot});
    let first = app
        .post_with_key(&seeker, "/v1/holds", &body, "key-1")
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = app
        .post_with_key(&seeker, "/v1/holds", &body, "key-1")
        .await;
    assert!(again.status().is_success());
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Same key, different body → 422.
    let other_slot: Uuid = app.open_slots(expert).await[5]["slot_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = app
        .post_with_key(
            &seeker,
            "/v1/holds",
            &json!({"slot_id": other_slot}),
            "key-1",
        )
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch").await;
    // The key belongs to this seeker only.
    let r = app
        .post_with_key(&new_seeker(), "/v1/holds", &body, "key-1")
        .await;
    assert_error(r, StatusCode::CONFLICT, "slot_unavailable").await;
}

#[tokio::test]
async fn a_refused_hold_leaves_the_seeker_neither_a_hold_nor_a_replay() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slots = app.open_slots(expert).await;
    let a = slots[2]["slot_id"].as_str().unwrap();
    let b = slots[3]["slot_id"].as_str().unwrap();
    let first = new_seeker();
    let r = app
        .post_with_key(&first, "/v1/holds", &json!({"slot_id": a}), "key-1")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let second = new_seeker();
    let r = app
        .post_with_key(&second, "/v1/holds", &json!({"slot_id": a}), "key-2")
        .await;
    assert_error(r, StatusCode::CONFLICT, "slot_unavailable").await;
    // The refusal took no place under the one-hold limit, and its key was
    // not kept: the same key for another slot is a new request, and holds.
    let r = app
        .post_with_key(&second, "/v1/holds", &json!({"slot_id": b}), "key-2")
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let held: Value = r.json().await.unwrap();
    assert_eq!(held["slot_id"], b);
    // Asked again, that key answers with the hold it made.
    let again: Value = app
        .post_with_key(&second, "/v1/holds", &json!({"slot_id": b}), "key-2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, held);
}

#[tokio::test]
async fn slot_timing_past_slots_cannot_be_held_running_ones_until_the_cutoff() {
    let app = spawn_app_with(|s| s.booking_cutoff_minutes = 10).await;
    let expert = app.expert_with(&all_week(60)).await;
    let db = app.db().await;
    // Put a slot that is running now (ends in 30 min), one ending in 5 min,
    // and one in the past, into both stores as the availability flow would.
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for (start, end) in [(-30, 30), (-55, 5), (-120, -60)] {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO slots (id, expert_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(expert)
        .bind(now + chrono::Duration::minutes(start) + chrono::Duration::seconds(7))
        .bind(now + chrono::Duration::minutes(end))
        .execute(&db)
        .await
        .unwrap();
        ids.push(id);
    }
    anxin_core::flows::reconcile::expert(&app.state, anxin_domain::ids::ExpertId(expert))
        .await
        .unwrap();
    let seeker = new_seeker();
    let r = app.hold(&seeker, ids[0]).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "a running slot with 30 min left can be held"
    );
    let hold = hold_id(r).await;
    assert_eq!(
        app.confirm(&seeker, &hold, "+8613812345678").await.status(),
        StatusCode::CREATED
    );
    assert_error(
        app.hold(&new_seeker(), ids[1]).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    assert_error(
        app.hold(&new_seeker(), ids[2]).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
}

#[tokio::test]
async fn hold_rate_limits_answer_429_with_retry_after_across_instances() {
    let first = spawn_app_with(|s| s.holds_per_minute_per_seeker = 4).await;
    // A second instance sharing Postgres and Redis.
    let mut settings = first.settings.clone();
    settings.listen = "127.0.0.1:0".into();
    let second = start(settings).await;
    let expert = first.expert_with(&all_week(60)).await;
    let seeker = new_seeker();
    let slot = first.future_slot(expert).await;
    // Alternate instances: each process alone would allow 4 a minute, but
    // the shared limit allows 4 in all.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let app = if i % 2 == 0 { &first } else { &second };
        let r = app.hold(&seeker, slot).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            assert_eq!(r.json::<Value>().await.unwrap()["error"], "rate_limited");
        } else if r.status() == StatusCode::CREATED {
            let hold = hold_id(r).await;
            assert_eq!(
                app.delete(&seeker, &format!("/v1/holds/{hold}"))
                    .await
                    .status(),
                StatusCode::NO_CONTENT
            );
            statuses.push(201);
            continue;
        }
        statuses.push(429);
    }
    assert_eq!(statuses, vec![201, 201, 201, 201, 429, 429]);
    // Another seeker is not affected.
    assert_eq!(
        second.hold(&new_seeker(), slot).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn general_seekers_cannot_take_slots_held_back_for_priority_groups() {
    let app = spawn_app_with(|s| s.priority_share = 1.0).await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot: Uuid = sqlx::query_scalar("SELECT id FROM slots WHERE expert_id = $1 AND starts_at > now() + interval '1 day' ORDER BY starts_at LIMIT 1")
        .bind(expert)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    let general = new_seeker();
    assert!(app
        .get(&general, &format!("/v1/experts/{expert}/slots"))
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .all(|s| {
            // Only slots already released (close to their start) are visible.
            s["starts_at"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                < chrono::Utc::now() + chrono::Duration::hours(3)
        }));
    assert_error(
        app.hold(&general, slot).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    let medic = new_seeker();
    let r = app
        .put(
            &medic,
            "/v1/seekers/me",
            &json!({"priority_group": "medical_worker", "region": "hubei"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["priority_group"],
        "medical_worker"
    );
    assert!(app
        .get(&medic, &format!("/v1/experts/{expert}/slots"))
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .any(|s| s["slot_id"] == slot.to_string()));
    assert_eq!(app.hold(&medic, slot).await.status(), StatusCode::CREATED);
}

/// The expert's slots on one UTC day (their time zone in `all_week`),
/// two days from now: clear of the booking cutoff.
async fn slots_on_day_after_tomorrow(
    app: &TestApp,
    expert: Uuid,
) -> (Vec<Uuid>, chrono::NaiveDate) {
    let day = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    (app.open_slots_on(expert, day, 1).await, day)
}

#[tokio::test]
async fn fifty_concurrent_holds_never_take_an_experts_day_past_its_cap() {
    let app = spawn_app().await;
    let mut week = all_week(20);
    week["max_sessions_per_day"] = json!(3);
    let expert = app.expert_with(&week).await;
    let (day_slots, day) = slots_on_day_after_tomorrow(&app, expert).await;
    assert_eq!(day_slots.len(), 72);

    // 50 seekers, each after a different slot of that day, all at once.
    let seekers: Vec<String> = (0..50).map(|_| new_seeker()).collect();
    let answers = join_all(
        seekers
            .iter()
            .zip(&day_slots)
            .map(|(s, slot)| app.hold(s, *slot)),
    )
    .await;
    let mut won = Vec::new();
    for (i, r) in answers.into_iter().enumerate() {
        match r.status() {
            StatusCode::CREATED => won.push((i, hold_id(r).await)),
            StatusCode::CONFLICT => {
                assert_eq!(
                    r.json::<Value>().await.unwrap()["error"],
                    "slot_unavailable"
                )
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    assert_eq!(won.len(), 3, "holds on a day capped at 3");
    let confirmed = join_all(
        won.iter()
            .map(|(i, hold)| app.confirm(&seekers[*i], hold, "+8613812345678")),
    )
    .await;
    let mut bookings = Vec::new();
    for r in confirmed {
        assert_eq!(r.status(), StatusCode::CREATED);
        bookings.push(
            r.json::<Value>().await.unwrap()["booking_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let booked_that_day: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM bookings WHERE expert_id = $1 AND status <> 'cancelled'
            AND (starts_at AT TIME ZONE 'UTC')::date = $2",
    )
    .bind(expert)
    .bind(day)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_eq!(booked_that_day, 3);

    // The full day offers nothing more, on the expert's listing and to a
    // seeker trying a slot of it; the next day still does.
    let (left, _) = slots_on_day_after_tomorrow(&app, expert).await;
    assert!(left.is_empty(), "a full day lists {} slots", left.len());
    let free = day_slots
        .iter()
        .find(|s| !won.iter().any(|(i, _)| day_slots[*i] == **s))
        .copied()
        .unwrap();
    assert_error(
        app.hold(&new_seeker(), free).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    let next_day = day + chrono::Duration::days(1);
    let later = app.open_slots(expert).await;
    assert!(later.iter().any(|s| s["starts_at"]
        .as_str()
        .unwrap()
        .starts_with(&next_day.to_string())));

    // A cancellation frees one place: the day opens again, for one hold.
    let r = app
        .post(
            &seekers[won[0].0],
            &format!("/v1/bookings/{}/cancel", bookings[0]),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let (reopened, _) = slots_on_day_after_tomorrow(&app, expert).await;
    assert_eq!(reopened.len(), 72 - 2);
    let late: Vec<String> = (0..10).map(|_| new_seeker()).collect();
    let answers = join_all(late.iter().zip(&reopened).map(|(k, s)| app.hold(k, *s))).await;
    let placed = answers
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert_eq!(placed, 1);

    // The cap follows the expert's edits: raised, the day opens again with
    // its three sessions kept; lowered, it closes.
    for (cap, listed) in [(4, 72 - 3), (2, 0)] {
        week["max_sessions_per_day"] = json!(cap);
        let r = app
            .put(
                &operator(),
                &format!("/v1/experts/{expert}/availability"),
                &week,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let (open, _) = slots_on_day_after_tomorrow(&app, expert).await;
        assert_eq!(open.len(), listed, "cap {cap}");
    }
    // The expert reads back what was saved, the body PUT takes.
    let mine = token(Role::Expert, &expert.to_string());
    let r = app
        .get(&mine, &format!("/v1/experts/{expert}/availability"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["max_sessions_per_day"], 2);
    assert_eq!(saved["slot_minutes"], 20);
    let other = token(Role::Expert, &Uuid::new_v4().to_string());
    let r = app
        .get(&other, &format!("/v1/experts/{expert}/availability"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn postgres_refuses_a_booking_past_the_cap_even_when_redis_is_wrong() {
    let app = spawn_app().await;
    let mut week = all_week(60);
    week["max_sessions_per_day"] = json!(1);
    let expert = app.expert_with(&week).await;
    let (day_slots, _) = slots_on_day_after_tomorrow(&app, expert).await;
    app.book(&new_seeker(), day_slots[0], "+8613812345678")
        .await;
    // Redis forgets the booking (a wipe whose rebuild hasn't run, say) and
    // offers the day's other slots again.
    let keys = app.expert_keys(expert);
    let mut redis = app.redis().await;
    redis::cmd("SREM")
        .arg(&keys.booked)
        .arg(day_slots[0].to_string())
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    app.force_open(expert, day_slots[1]).await;
    let seeker = new_seeker();
    let hold = app.held(&seeker, day_slots[1]).await;
    assert_error(
        app.confirm(&seeker, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
}
