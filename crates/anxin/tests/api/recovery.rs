//! Redis is a cache: wiping it must never double-book a slot or lose a
//! confirmed booking, and reconcile must put the index back.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn a_wipe_between_hold_and_confirm_loses_the_hold_not_the_slot() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let first = new_seeker();
    let r = app.hold(&first, slot).await;
    let hold = hold_id(r).await;
    app.wipe_redis().await;
    // The hold is gone with Redis: its seeker is told so, cleanly.
    assert_error(
        app.confirm(&first, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    // The slot is rebuilt from Postgres on demand and can be booked once.
    let second = new_seeker();
    let booking = app.book(&second, slot, "+8613812345678").await;
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
    let view: Value = app
        .get(&second, &format!("/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "confirmed");
}

#[tokio::test]
async fn a_wipe_between_two_seekers_attempts_never_double_books() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let first = new_seeker();
    let booking = app.book(&first, slot, "+8613812345678").await;
    app.wipe_redis().await;
    // Redis forgot the slot is booked. The second seeker's hold may succeed
    // (the index is rebuilt from Postgres first, so it shouldn't), but a
    // confirmation can never: Postgres has the last word.
    let second = new_seeker();
    let r = app.hold(&second, slot).await;
    if r.status() == StatusCode::CREATED {
        let hold = hold_id(r).await;
        assert_error(
            app.confirm(&second, &hold, "+8613812345678").await,
            StatusCode::CONFLICT,
            "slot_unavailable",
        )
        .await;
    } else {
        assert_error(r, StatusCode::CONFLICT, "slot_unavailable").await;
    }
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
    let view: Value = app
        .get(&first, &format!("/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "confirmed");
}

#[tokio::test]
async fn postgres_refuses_a_second_booking_even_when_redis_is_wrong() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let first = new_seeker();
    let second = new_seeker();
    // Both hold the same slot: the second after Redis lost the first hold's
    // state (a split brain, or a wipe right after the first hold).
    let r = app.hold(&first, slot).await;
    let hold_a = hold_id(r).await;
    let mut redis = app.redis().await;
    let keys = app.expert_keys(expert);
    // Forget the expert's hold markers only, keep the seeker's record.
    redis::cmd("DEL")
        .arg(&keys.hold_expiry)
        .arg(&keys.hold_owner)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    app.force_open(expert, slot).await;
    let r = app.hold(&second, slot).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let hold_b = hold_id(r).await;
    assert_eq!(
        app.confirm(&second, &hold_b, "+8613812345678")
            .await
            .status(),
        StatusCode::CREATED
    );
    // Now make Redis wrong the other way: it believes the first hold is live
    // and the slot unbooked. Only Postgres stands in the way.
    let (seeker_holds, _) = app.seeker_hold_entry(&hold_a).await;
    let first_id = seeker_holds
        .split("{seeker:")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap()
        .to_string();
    redis::pipe()
        .cmd("SREM")
        .arg(&keys.booked)
        .arg(slot.to_string())
        .cmd("HSET")
        .arg(&keys.hold_owner)
        .arg(slot.to_string())
        .arg(format!("{hold_a}:{first_id}"))
        .cmd("ZADD")
        .arg(&keys.hold_expiry)
        .arg(i64::MAX / 2)
        .arg(slot.to_string())
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    assert_error(
        app.confirm(&first, &hold_a, "+8613812345678").await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
}

#[tokio::test]
async fn a_redis_that_forgot_the_scripts_still_takes_holds() {
    // A restarted Redis keeps no scripts. Scripts are sent by their hash, so
    // the first call after the restart must load them and carry on, on the
    // seeker's side and on the slot's. (Every test sharing this Redis goes
    // through the same path when this runs.)
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async::<()>(&mut app.redis().await)
        .await
        .unwrap();
    let seeker = new_seeker();
    let r = app.hold(&seeker, slot).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // The hold is real: the slot is gone from the listing, and it books.
    assert!(!app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["slot_id"] == slot.to_string()));
    let hold = hold_id(r).await;
    assert_eq!(
        app.confirm(&seeker, &hold, "+8613812345678").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.active_bookings_of_slot(slot).await, 1);
}

/// The periodic round rebuilds only the experts whose rows in Postgres are
/// not those their index was built from, or whose index is gone: the others
/// are left as they are, their version unmoved, so no instance reads their
/// open slots again.
#[tokio::test]
async fn the_periodic_reconcile_rebuilds_only_experts_whose_rows_changed() {
    use anxin_core::flows::reconcile;
    // No periodic round of the app's own in the middle of this one's.
    let app = spawn_app_with(|s| s.reconcile_interval_seconds = 3600).await;
    let still = app.expert_with(&all_week(60)).await;
    let moved = app.expert_with(&all_week(60)).await;
    reconcile::all(&app.state).await.unwrap();
    let mut redis = app.redis().await;
    let version = |expert: uuid::Uuid| {
        let key = app.keys().expert_version(expert.into());
        let mut redis = redis.clone();
        async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<String>(&mut redis)
                .await
                .unwrap()
        }
    };
    let (still_at, moved_at) = (version(still).await, version(moved).await);
    // Nothing changed: nothing is rebuilt.
    let done = reconcile::changed(&app.state).await.unwrap();
    assert_eq!((done.experts, done.unchanged), (0, 2));
    assert_eq!(version(still).await, still_at);
    // A slot withdrawn in Postgres alone (its mirror to Redis lost): only
    // its expert is rebuilt, and the slot leaves the listing.
    let gone = app.future_slot(moved).await;
    assert!(app
        .open_slots(moved)
        .await
        .iter()
        .any(|s| s["slot_id"] == gone.to_string()));
    sqlx::query("UPDATE slots SET status = 'withdrawn' WHERE id = $1")
        .bind(gone)
        .execute(&app.db().await)
        .await
        .unwrap();
    let done = reconcile::changed(&app.state).await.unwrap();
    assert_eq!((done.experts, done.unchanged), (1, 1));
    assert_eq!(version(still).await, still_at);
    assert_ne!(version(moved).await, moved_at);
    assert!(!app
        .open_slots(moved)
        .await
        .iter()
        .any(|s| s["slot_id"] == gone.to_string()));
    // An index that lost its slots is rebuilt though its rows are the same.
    let listed = app.open_slots(still).await;
    redis::cmd("DEL")
        .arg(app.expert_keys(still).slots)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let done = reconcile::changed(&app.state).await.unwrap();
    assert_eq!((done.experts, done.unchanged), (1, 1));
    assert_eq!(app.open_slots(still).await, listed);
    // The full round rebuilds every one.
    let done = reconcile::all(&app.state).await.unwrap();
    assert_eq!((done.experts, done.unchanged), (2, 0));
}

#[tokio::test]
async fn reconcile_restores_the_index_after_a_wipe() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let before = app.open_slots(expert).await;
    let booked = app.future_slot(expert).await;
    app.book(&new_seeker(), booked, "+8613812345678").await;
    app.wipe_redis().await;
    let done = anxin_core::flows::reconcile::all(&app.state).await.unwrap();
    assert_eq!(done.experts, 1);
    assert_eq!(done.booked_slots, 1);
    let after = app.open_slots(expert).await;
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.iter().any(|s| s["slot_id"] == booked.to_string()));
}

#[tokio::test]
async fn flushing_redis_in_the_middle_of_traffic_loses_nothing() {
    // Short holds: a hold orphaned by a wipe (its seeker's record gone)
    // blocks its slot only until it expires.
    let app = spawn_app_with(|s| s.hold_ttl_seconds = 2).await;
    let expert = app.expert_with(&all_week(30)).await;
    let slots: Vec<uuid::Uuid> = app.open_slots(expert).await[2..12]
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect();
    let seekers: Vec<String> = (0..100).map(|_| new_seeker()).collect();
    let traffic = futures_util::future::join_all(seekers.iter().enumerate().map(|(i, s)| {
        let app = &app;
        let slot = slots[i % slots.len()];
        async move {
            let r = app.hold(s, slot).await;
            if r.status() != StatusCode::CREATED {
                return None;
            }
            let hold = hold_id(r).await;
            let r = app.confirm(s, &hold, "+8613812345678").await;
            let status = r.status();
            if status != StatusCode::CREATED {
                let body = r.text().await.unwrap_or_default();
                assert_eq!(status, StatusCode::CONFLICT, "{body}");
                return None;
            }
            Some(r)
        }
    }));
    let wiper = async {
        for _ in 0..5 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            app.wipe_redis().await;
        }
    };
    let (results, ()) = tokio::join!(traffic, wiper);
    let mut confirmed = Vec::new();
    for r in results.into_iter().flatten() {
        confirmed.push(
            r.json::<Value>().await.unwrap()["booking_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let db = app.db().await;
    // No slot has two active bookings…
    let doubled = app.double_bookings().await;
    assert_eq!(doubled, 0);
    // …and every booking a seeker was told about is there.
    for id in &confirmed {
        let status: String = sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(status, "confirmed");
    }
    // After the storm (and once orphaned holds have expired) every slot not
    // booked is bookable again, exactly once.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for slot in &slots {
        if app.active_bookings_of_slot(*slot).await == 0 {
            app.book(&new_seeker(), *slot, "+8613812345678").await;
        }
        assert_eq!(app.active_bookings_of_slot(*slot).await, 1);
    }
}

/// A rebuild longer than its lease keeps its claim by renewing it, and only
/// the instance holding the claim can mark the index built: without the
/// renewal the lease runs out and the rebuild counts for nothing.
#[tokio::test]
async fn a_rebuild_that_outlasts_its_lease_keeps_its_claim_by_renewing_it() {
    let app = spawn_app().await;
    // A handle of its own prefix, whose index no running instance watches.
    let mut settings = app.settings.clone();
    settings.redis_prefix = format!("{}-claims", settings.redis_prefix);
    let reserve = &anxin_reserve::Reserve::connect(
        &settings.redis_server().unwrap(),
        settings.reserve_config(),
    )
    .await
    .unwrap();
    let lease = std::time::Duration::from_millis(300);

    assert!(reserve.claim_rebuild("renewed", lease).await.unwrap());
    for _ in 0..5 {
        tokio::time::sleep(lease / 3).await;
        assert!(reserve.renew_rebuild("renewed", lease).await.unwrap());
    }
    // 500 ms past the first lease: still ours, and another claim is refused.
    assert!(!reserve.claim_rebuild("other", lease).await.unwrap());
    assert!(!reserve.renew_rebuild("other", lease).await.unwrap());
    assert!(reserve.finish_rebuild("renewed").await.unwrap());
    assert_eq!(
        reserve.index_state().await.unwrap(),
        anxin_reserve::IndexState::Ready("renewed".into())
    );

    redis::cmd("DEL")
        .arg(reserve.keys().index_marker())
        .query_async::<()>(&mut app.redis().await)
        .await
        .unwrap();
    assert!(reserve.claim_rebuild("lapsed", lease).await.unwrap());
    tokio::time::sleep(lease * 2).await;
    assert!(!reserve.renew_rebuild("lapsed", lease).await.unwrap());
    assert!(!reserve.finish_rebuild("lapsed").await.unwrap());
}
