use crate::helpers::*;
use anxin_api::auth::Role;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn a_confirmation_commits_booking_and_call_task_together() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let seeker = new_seeker();
    let slot = app.future_slot(expert).await;
    let hold = app.held(&seeker, slot).await;
    let (holds_set, member) = app.seeker_hold_entry(&hold).await;
    let r = app.confirm(&seeker, &hold, "+86 138 1234 5678").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // Both sides of the hold are gone with the booking: the seeker's record
    // of it too, so their one hold at a time is free for another slot.
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(&holds_set)
        .arg(&member)
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
    assert_eq!(score, None, "the seeker's record of a confirmed hold stays");
    let next = app.open_slots(expert).await[3]["slot_id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    assert_ne!(next, slot);
    assert_eq!(app.hold(&seeker, next).await.status(), StatusCode::CREATED);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "confirmed");
    assert_eq!(b["slot_id"], slot.to_string());
    assert_eq!(b["expert_id"], expert.to_string());
    assert_eq!(b["phone_masked"], "+86 138****5678");
    let id = b["booking_id"].as_str().unwrap();
    // Committed before the 201: visible at once, with its call task.
    let db = app.db().await;
    let (task_state, payload_len): (String, i32) =
        sqlx::query_as("SELECT state, length(payload) FROM call_tasks WHERE booking_id = $1::uuid")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(task_state, "pending");
    assert!(payload_len > 0);
    let view: Value = app
        .get(&seeker, &format!("/v1/bookings/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "confirmed");
    assert_eq!(view["call"]["state"], "scheduled");
    assert_eq!(view["phone_masked"], "+86 138****5678");
    // The slot is no longer offered.
    assert!(!app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["slot_id"] == slot.to_string()));
    // The hold was used up: confirming it again is refused.
    assert_error(
        app.confirm(&seeker, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    // Someone else's booking is not theirs to see.
    assert_error(
        app.get(&new_seeker(), &format!("/v1/bookings/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_retried_booking_returns_the_first_and_writes_one_row() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let seeker = new_seeker();
    let hold = app.held(&seeker, app.future_slot(expert).await).await;
    let body = json!({"hold_id": hold, "phone": "+8613812345678"});
    let retries =
        join_all((0..5).map(|_| app.post_with_key(&seeker, "/v1/bookings", &body, "book-1"))).await;
    let mut ids = Vec::new();
    for r in retries {
        assert!(r.status().is_success(), "{}", r.status());
        ids.push(
            r.json::<Value>().await.unwrap()["booking_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let changed = json!({"hold_id": hold, "phone": "+8613900000000"});
    let r = app
        .post_with_key(&seeker, "/v1/bookings", &changed, "book-1")
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch").await;
}

#[tokio::test]
async fn a_seeker_can_have_only_so_many_upcoming_bookings() {
    let app = spawn_app_with(|s| s.max_active_bookings = 2).await;
    let expert = app.expert_with(&all_week(60)).await;
    let seeker = new_seeker();
    let slots = app.open_slots(expert).await;
    let ids: Vec<Uuid> = slots[2..5]
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect();
    app.book(&seeker, ids[0], "+8613812345678").await;
    app.book(&seeker, ids[1], "+8613812345678").await;
    let hold = app.held(&seeker, ids[2]).await;
    assert_error(
        app.confirm(&seeker, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "booking_limit",
    )
    .await;
}

#[tokio::test]
async fn cancelling_reopens_the_slot_cancels_the_call_and_is_audited() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let ids = app.open_slot_ids(expert, 3..6).await;
    let expert_token = token(Role::Expert, &expert.to_string());
    let cancellers = [new_seeker(), expert_token.clone(), operator()];
    let mut roles = Vec::new();
    for (i, slot) in ids.iter().enumerate() {
        let seeker = if i == 0 {
            cancellers[0].clone()
        } else {
            new_seeker()
        };
        let booking = app.book(&seeker, *slot, "+8613812345678").await;
        // A stranger can't cancel it.
        assert_error(
            app.post(
                &new_seeker(),
                &format!("/v1/bookings/{booking}/cancel"),
                &json!({}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        let r = app
            .post(
                &cancellers[i],
                &format!("/v1/bookings/{booking}/cancel"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "cancelled");
        assert_eq!(body["slot_reopened"], true);
        assert!(app
            .open_slots(expert)
            .await
            .iter()
            .any(|s| s["slot_id"] == slot.to_string()));
        let task: String = sqlx::query_scalar("SELECT state FROM call_tasks WHERE booking_id = $1")
            .bind(booking)
            .fetch_one(&app.db().await)
            .await
            .unwrap();
        assert_eq!(task, "cancelled");
        let view: Value = app
            .get(&operator(), &format!("/v1/bookings/{booking}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(view["call"]["state"], "cancelled");
        assert_error(
            app.post(
                &cancellers[i],
                &format!("/v1/bookings/{booking}/cancel"),
                &json!({}),
            )
            .await,
            StatusCode::CONFLICT,
            "booking_not_active",
        )
        .await;
        let role: String = sqlx::query_scalar(
            "SELECT actor_role FROM audit_log WHERE target_id = $1 AND action = 'booking.cancel'",
        )
        .bind(booking)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
        roles.push(role);
        // Someone else books the reopened slot.
        app.book(&new_seeker(), *slot, "+8613812345678").await;
    }
    assert_eq!(roles, vec!["seeker", "expert", "operator"]);
}

#[tokio::test]
async fn two_instances_racing_for_the_same_slots_never_double_book() {
    let first = spawn_app().await;
    let mut settings = first.settings.clone();
    settings.listen = "127.0.0.1:0".into();
    let second = start(settings).await;
    let expert = first.expert_with(&all_week(60)).await;
    let slots: Vec<Uuid> = first.open_slots(expert).await[2..7]
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect();
    let seekers: Vec<String> = (0..120).map(|_| new_seeker()).collect();
    let (first_ref, second_ref) = (&first, &second);
    let attempts = seekers.iter().enumerate().map(|(i, seeker)| {
        let (app, other) = if i % 2 == 0 {
            (first_ref, second_ref)
        } else {
            (second_ref, first_ref)
        };
        let slot = slots[i % slots.len()];
        async move {
            let r = app.hold(seeker, slot).await;
            if r.status() != StatusCode::CREATED {
                assert_eq!(r.status(), StatusCode::CONFLICT);
                return 0;
            }
            let hold = hold_id(r).await;
            // Confirm through the other instance.
            let r = other.confirm(seeker, &hold, "+8613812345678").await;
            assert_eq!(r.status(), StatusCode::CREATED);
            1
        }
    });
    let booked: i32 = join_all(attempts).await.into_iter().sum();
    assert_eq!(booked, slots.len() as i32);
    for slot in slots {
        assert_eq!(first.active_bookings_of_slot(slot).await, 1);
    }
}

#[tokio::test]
async fn a_seeker_sees_their_own_bookings_upcoming_first_without_any_phone() {
    let app = spawn_app_with(|s| s.max_active_bookings = 3).await;
    let expert = app.expert_with(&all_week(60)).await;
    let ids = app.open_slot_ids(expert, 3..6).await;
    let seeker = new_seeker();
    let later = app.book(&seeker, ids[2], "+8613812345678").await;
    let sooner = app.book(&seeker, ids[0], "+8613812345678").await;
    let past = app.book(&seeker, ids[1], "+8613812345678").await;
    // One of them is history now.
    sqlx::query(
        "UPDATE bookings SET starts_at = now() - interval '2 hours',
                             ends_at = now() - interval '1 hour' WHERE id = $1",
    )
    .bind(past)
    .execute(&app.db().await)
    .await
    .unwrap();

    let r = app.get(&seeker, "/v1/seekers/me/bookings").await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    for secret in ["13812345678", "phone", "seeker"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    let order: Vec<String> = list
        .iter()
        .map(|b| b["booking_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        [sooner, later, past].map(|id| id.to_string()).to_vec()
    );
    for b in &list {
        assert_eq!(b["display_name"], "Dr. Test");
        assert_eq!(b["expert_id"], expert.to_string());
        assert_eq!(b["status"], "confirmed");
        assert_eq!(b["call"]["state"], "scheduled");
    }

    // Nobody else sees them; only seekers have a history.
    let r = app.get(&new_seeker(), "/v1/seekers/me/bookings").await;
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 0);
    let r = app.get(&operator(), "/v1/seekers/me/bookings").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_expert_who_cancels_may_say_why_and_the_seeker_reads_it_with_the_status() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let expert_token = token(Role::Expert, &expert.to_string());
    let seeker = new_seeker();
    let slot = app.future_slot(expert).await;
    let booking = app.book(&seeker, slot, "+8613812345678").await;
    let path = format!("/v1/bookings/{booking}/cancel");

    let long = json!({"reason": "x".repeat(301)});
    let r = app.post(&expert_token, &path, &long).await;
    let e = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(e["field"], "reason");
    let r = app
        .client
        .post(app.url(&path))
        .bearer_auth(&expert_token)
        .header("content-type", "text/plain")
        .body("because")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "unsupported_media_type").await;
    // Neither refusal cancelled anything.
    let r = app.get(&seeker, &format!("/v1/bookings/{booking}")).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "confirmed");

    let why = "I am unwell today, sorry. Please book another time.";
    let r = app
        .post(&expert_token, &path, &json!({"reason": why}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let seen: Value = app
        .get(&seeker, &format!("/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (seen["status"].as_str(), seen["cancel_reason"].as_str()),
        (Some("cancelled"), Some(why))
    );
    let history: Value = app
        .get(&seeker, "/v1/seekers/me/bookings")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history[0]["cancel_reason"], why);
}

/// New seekers, straight into Postgres (the store's tests need only their rows).
async fn seekers_in(db: &sqlx::PgPool, n: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        sqlx::query("INSERT INTO seekers (id, subject_hash) VALUES ($1, $2)")
            .bind(id)
            .bind(id.as_bytes().to_vec())
            .execute(db)
            .await
            .unwrap();
    }
    ids
}

/// A booking of `slot` by `seeker` under `hold`, as the confirmation flow
/// hands it to the store.
async fn new_booking(
    db: &sqlx::PgPool,
    seeker: Uuid,
    slot: Uuid,
    hold: Uuid,
) -> anxin_store::bookings::NewBooking {
    let (expert, starts_at, ends_at): (
        Uuid,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as("SELECT expert_id, starts_at, ends_at FROM slots WHERE id = $1")
        .bind(slot)
        .fetch_one(db)
        .await
        .unwrap();
    anxin_store::bookings::NewBooking {
        id: anxin_domain::ids::BookingId::new(),
        slot_id: slot.into(),
        expert_id: expert.into(),
        seeker_id: seeker.into(),
        seeker_alias: "caller-test".into(),
        hold_id: hold.into(),
        starts_at,
        ends_at,
        phone: anxin_store::crypto::Sealed {
            key_id: "k1".into(),
            bytes: vec![1, 2, 3],
        },
        phone_masked: "+86 138****0000".into(),
        note: None,
        priority_group: anxin_domain::seeker::PriorityGroup::General,
        priority_vouched: false,
        fee_minor: 1,
        idempotency_key: None,
        request_hash: vec![7],
        seeker_ref: None,
    }
}

/// `batch` confirmed by one call of `confirm_many`, each at `now`.
async fn confirm_together(
    db: &sqlx::PgPool,
    batch: &[anxin_store::bookings::NewBooking],
    max_active: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Result<anxin_store::bookings::BookingRow, anxin_store::bookings::ConfirmError>> {
    let batch: Vec<_> = batch.iter().cloned().map(|b| (b, now)).collect();
    anxin_store::bookings::confirm_many(db, &batch, max_active).await
}

/// What Postgres holds of one booking: (status, whether it has a call task).
async fn stored(
    db: &sqlx::PgPool,
    booking: anxin_domain::ids::BookingId,
) -> Option<(String, bool)> {
    sqlx::query_as(
        "SELECT b.status, EXISTS (SELECT 1 FROM call_tasks t WHERE t.booking_id = b.id)
           FROM bookings b WHERE b.id = $1",
    )
    .bind(booking.0)
    .fetch_optional(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn confirmations_written_together_each_get_the_answer_they_would_get_alone() {
    let app = spawn_app().await;
    let db = app.db().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slots = app.open_slot_ids(expert, 2..6).await;
    // An expert who takes one session a day, and two slots of one of their days.
    let mut week = all_week(60);
    week["max_sessions_per_day"] = json!(1);
    let capped = app.expert_with(&week).await;
    let (same_day_1, same_day_2): (Uuid, Uuid) = sqlx::query_as(
        "SELECT a.id, b.id FROM slots a
           JOIN slots b ON b.expert_id = a.expert_id AND b.starts_at > a.starts_at
           JOIN availability v ON v.expert_id = a.expert_id
          WHERE a.expert_id = $1 AND a.starts_at > now() + interval '1 hour'
            AND (a.starts_at AT TIME ZONE v.timezone)::date = (b.starts_at AT TIME ZONE v.timezone)::date
          ORDER BY a.starts_at, b.starts_at LIMIT 1",
    )
    .bind(capped)
    .fetch_one(&db)
    .await
    .unwrap();
    let s = seekers_in(&db, 6).await;
    let first = new_booking(&db, s[0], slots[0], Uuid::new_v4()).await;
    let batch = [
        // Confirmed.
        first.clone(),
        // The same slot again, by someone else: taken by the first.
        new_booking(&db, s[1], slots[0], Uuid::new_v4()).await,
        // The first seeker again, at their limit of one upcoming booking.
        new_booking(&db, s[0], slots[1], Uuid::new_v4()).await,
        // The first booking's hold used again.
        new_booking(&db, s[2], slots[2], first.hold_id.0).await,
        // The capped expert's day: the first fills it.
        new_booking(&db, s[3], same_day_1, Uuid::new_v4()).await,
        new_booking(&db, s[4], same_day_2, Uuid::new_v4()).await,
        // Nothing in its way.
        new_booking(&db, s[5], slots[3], Uuid::new_v4()).await,
    ];
    let now = chrono::Utc::now();
    let said: [&str; 7] = confirm_together(&db, &batch, 1, now)
        .await
        .iter()
        .map(answer)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    // The same slot again meets the expert's no-overlap constraint first.
    assert_eq!(
        said,
        [
            "confirmed",
            "expert_busy",
            "too_many_bookings",
            "hold_used",
            "confirmed",
            "cap_reached",
            "confirmed"
        ]
    );
    for (b, said) in batch.iter().zip(said) {
        let row = stored(&db, b.id).await;
        if said == "confirmed" {
            // There, with its call task.
            assert_eq!(row, Some(("confirmed".into(), true)), "booking {}", b.id);
        } else {
            // Nothing of it written; and alone it gets the same answer.
            assert_eq!(row, None, "a refused booking ({said}) was written");
            let alone = anxin_store::bookings::NewBooking {
                id: anxin_domain::ids::BookingId::new(),
                ..b.clone()
            };
            let answered = anxin_store::bookings::confirm(&db, &alone, 1, now).await;
            assert_eq!(answer(&answered), said, "alone, booking {}", b.id);
        }
    }
    // Written by one transaction (its `now()`), not one by one.
    let confirmed: Vec<Uuid> = batch
        .iter()
        .zip(said)
        .filter(|(_, said)| *said == "confirmed")
        .map(|(b, _)| b.id.0)
        .collect();
    let transactions: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT created_at) FROM bookings WHERE id = ANY($1)")
            .bind(&confirmed)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(transactions, 1);
    assert_eq!(app.double_bookings().await, 0);
}

#[tokio::test]
async fn a_group_that_fails_as_a_whole_still_answers_each_on_its_own() {
    let app = spawn_app().await;
    let db = app.db().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slots = app.open_slot_ids(expert, 2..5).await;
    let s = seekers_in(&db, 2).await;
    // A seeker Postgres has never heard of: their row fails the whole
    // statement (a foreign key), not only itself.
    let batch = [
        new_booking(&db, s[0], slots[0], Uuid::new_v4()).await,
        new_booking(&db, Uuid::new_v4(), slots[1], Uuid::new_v4()).await,
        new_booking(&db, s[1], slots[2], Uuid::new_v4()).await,
    ];
    let answers = confirm_together(&db, &batch, 5, chrono::Utc::now()).await;
    assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
    assert!(
        matches!(
            answers[1],
            Err(anxin_store::bookings::ConfirmError::Store(_))
        ),
        "{:?}",
        answers[1]
    );
    assert_eq!(
        stored(&db, batch[0].id).await,
        Some(("confirmed".into(), true))
    );
    assert_eq!(stored(&db, batch[1].id).await, None);
    assert_eq!(
        stored(&db, batch[2].id).await,
        Some(("confirmed".into(), true))
    );
}

/// A confirmation's answer, by name.
fn answer(
    a: &Result<anxin_store::bookings::BookingRow, anxin_store::bookings::ConfirmError>,
) -> &'static str {
    use anxin_store::bookings::ConfirmError;
    match a {
        Ok(_) => "confirmed",
        Err(ConfirmError::SlotTaken) => "slot_taken",
        Err(ConfirmError::TooManyBookings) => "too_many_bookings",
        Err(ConfirmError::HoldUsed) => "hold_used",
        Err(ConfirmError::CapReached) => "cap_reached",
        Err(ConfirmError::ExpertBusy) => "expert_busy",
        Err(ConfirmError::Store(e)) => panic!("a store error: {e}"),
    }
}

#[tokio::test]
async fn confirmations_waiting_together_are_written_by_fewer_statements() {
    let app = spawn_app().await;
    let db = app.db().await;
    let expert = app.expert_with(&all_week(60)).await;
    let slots = app.open_slot_ids(expert, 1..13).await;
    let seekers = seekers_in(&db, slots.len()).await;
    let groups = app.state.metrics.confirmation_groups.clone();
    let confirmations =
        anxin_core::confirmations::Confirmations::new(db.clone(), 1, groups.clone());
    let mut bookings = Vec::new();
    for (seeker, slot) in seekers.iter().zip(&slots) {
        bookings.push(new_booking(&db, *seeker, *slot, Uuid::new_v4()).await);
    }
    // Twelve confirmations asked for at once (in one task, so all are queued
    // before a writer runs): written in groups, each answered.
    let now = chrono::Utc::now();
    let answers = join_all(
        bookings
            .iter()
            .map(|b| confirmations.confirm(b.clone(), now)),
    )
    .await;
    for (b, answer) in bookings.iter().zip(&answers) {
        let row = answer.as_ref().expect("each confirmation is confirmed");
        assert_eq!(row.id, b.id);
        assert_eq!(stored(&db, b.id).await, Some(("confirmed".into(), true)));
    }
    assert_eq!(groups.get_sample_sum() as usize, bookings.len());
    assert!(
        groups.get_sample_count() < bookings.len() as u64,
        "{} statements for {} confirmations: none were written together",
        groups.get_sample_count(),
        bookings.len()
    );
    // The group size is on /metrics for operators.
    assert!(app.metrics().await.contains(&format!(
        "anxin_confirmation_group_size_sum {}",
        bookings.len()
    )));
    assert_eq!(app.double_bookings().await, 0);
}
