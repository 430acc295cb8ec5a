//! Trust: a suspended expert is never connected to a seeker (their bookings
//! are handed to a free expert, or cancelled and refunded; the worker never
//! dials them), an expert who cancels hands over, a suspended expert's or
//! disabled operator's token stops on every instance, per-address limits
//! see through a trusted proxy only, `/metrics` can be closed, only a
//! serving process switches webhooks, and an erased seeker leaves no trace
//! but anonymous figures.
use crate::helpers::*;
use crate::webhooks::{
    app_sending_to, expert_with_slots_at, paid_booking, receiver, seeker_with_ref, types, verifies,
    wait_for, with_worker,
};
use anxin_api::auth::Role;
use anxin_domain::payment::ProviderName;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A whole hour `hours` from now (so two experts' slots start at exactly
/// the same instant).
fn hour_from_now(hours: i64) -> DateTime<Utc> {
    let at = Utc::now() + ChronoDuration::hours(hours);
    at - ChronoDuration::nanoseconds(i64::from(at.timestamp_subsec_nanos()))
}

async fn suspend(app: &TestApp, expert: Uuid) -> Value {
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/suspend"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn booking(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app.get(token, &format!("/v1/bookings/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn suspension_hands_a_booking_to_a_free_expert_and_cancels_and_refunds_where_nobody_is() {
    let (url, got) = receiver(0, false).await;
    let app = app_sending_to(&url, |s| {
        s.payment_provider = Some(ProviderName::Simulated);
    })
    .await;
    let (t1, t2) = (hour_from_now(3), hour_from_now(6));
    let (suspended, theirs) = expert_with_slots_at(&app, "Dr. Suspended", &[t1, t2]).await;
    let (stand_in, _) = expert_with_slots_at(&app, "Dr. Stand-in", &[t1]).await;
    let first = seeker_with_ref(&format!("host-user-{}", Uuid::new_v4()), "ref-moved");
    let second = seeker_with_ref(&format!("host-user-{}", Uuid::new_v4()), "ref-cancelled");
    let moved = paid_booking(&app, &first, theirs[0]).await;
    let cancelled = paid_booking(&app, &second, theirs[1]).await;

    let done = suspend(&app, suspended).await;
    assert_eq!(done["status"], "suspended");
    assert_eq!(
        (done["reassigned"].as_u64(), done["cancelled"].as_u64()),
        (Some(1), Some(1))
    );

    // The first seeker keeps their booking, time and call, with the stand-in.
    let b = booking(&app, &first, &moved).await;
    assert_eq!(b["status"], "confirmed");
    assert_eq!(b["expert_id"], stand_in.to_string());
    assert_eq!(b["display_name"], "Dr. Stand-in");
    assert_eq!(b["reassigned"], true);
    assert_eq!(
        b["starts_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        t1
    );
    // Nobody was free for the second: cancelled, saying why, and refunded.
    let b = booking(&app, &second, &cancelled).await;
    assert_eq!(b["status"], "cancelled");
    assert_eq!(b["cancel_reason"], "expert_unavailable");
    anxin_core::flows::payments::settle(&app.state)
        .await
        .unwrap();
    let all = wait_for(&got, "reassigned, cancelled and refunded", |g| {
        let t = types(g);
        [
            "booking.reassigned",
            "booking.cancelled",
            "payment.refunded",
        ]
        .iter()
        .all(|want| t.iter().any(|x| x == want))
    })
    .await;
    let event = |kind: &str, id: &str| -> Value {
        all.iter()
            .filter(|r| verifies(r))
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .find(|v| v["type"] == kind && v["data"]["booking_id"] == id)
            .unwrap_or_else(|| panic!("no verified {kind} for {id}"))
    };
    let r = event("booking.reassigned", &moved);
    assert_eq!(r["data"]["display_name"], "Dr. Stand-in");
    assert_eq!(r["data"]["seeker_ref"], "ref-moved");
    assert_eq!(
        event("booking.cancelled", &cancelled)["data"]["reason"],
        "expert_unavailable"
    );
    assert_eq!(
        event("payment.refunded", &cancelled)["data"]["amount_minor"],
        1
    );

    // Nothing of the suspended expert is still confirmed, and the stand-in's
    // slot is nobody else's now.
    let db = app.db().await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM bookings WHERE expert_id = $1 AND status = 'confirmed'",
    )
    .bind(suspended)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(app.double_bookings().await, 0);
    // The suspended expert sees no booking of theirs any more, and the
    // stand-in sees it among their own.
    let mine: Vec<Value> = app
        .get(
            &token(Role::Expert, &stand_in.to_string()),
            "/v1/experts/me/bookings",
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        mine.iter().any(|b| b["booking_id"] == moved.as_str()),
        "{mine:?}"
    );
    // Suspending again finds nothing left to move.
    let again = suspend(&app, suspended).await;
    assert_eq!(
        (again["reassigned"].as_u64(), again["cancelled"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn fifty_seekers_racing_a_handover_for_its_slot_never_book_it_twice() {
    let app = spawn_app().await;
    for _round in 0..3 {
        let at = hour_from_now(4);
        let (suspended, theirs) = expert_with_slots_at(&app, "Dr. Suspended", &[at]).await;
        let (_, target) = expert_with_slots_at(&app, "Dr. Target", &[at]).await;
        let target = target[0];
        let booked = app.book(&new_seeker(), theirs[0], "13712345678").await;
        let racers = (0..50u64).map(|i| {
            let app = &app;
            async move {
                // Spread over the time the suspension takes to reach its hold.
                tokio::time::sleep(Duration::from_millis(i % 25 * 2)).await;
                let seeker = new_seeker();
                let r = app.hold(&seeker, target).await;
                if r.status() != StatusCode::CREATED {
                    return false;
                }
                let hold = hold_id(r).await;
                app.confirm(&seeker, &hold, "137 1234 5678").await.status() == StatusCode::CREATED
            }
        });
        let (won, done) = tokio::join!(
            futures_util::future::join_all(racers),
            suspend(&app, suspended)
        );
        let seekers_won = won.iter().filter(|w| **w).count();
        assert!(seekers_won <= 1, "{seekers_won} seekers booked one slot");
        assert_eq!(app.active_bookings_of_slot(target).await, 1);
        assert_eq!(app.double_bookings().await, 0);
        // Whoever lost the slot: the handover (then the booking is
        // cancelled, nobody else being free) or every seeker.
        let handed = done["reassigned"].as_u64().unwrap();
        assert_eq!(handed + seekers_won as u64, 1, "{done}");
        let status = booking(&app, &operator(), &booked.to_string()).await["status"].clone();
        assert_eq!(
            status,
            if handed == 1 {
                "confirmed"
            } else {
                "cancelled"
            }
        );
    }
}

#[tokio::test]
async fn an_expert_who_cancels_hands_the_booking_to_a_free_expert() {
    let app = spawn_app().await;
    let at = hour_from_now(5);
    let (first, theirs) = expert_with_slots_at(&app, "Dr. First", &[at]).await;
    let (second, _) = expert_with_slots_at(&app, "Dr. Second", &[at]).await;
    let seeker = new_seeker();
    let id = app.book(&seeker, theirs[0], "+8613712345678").await;
    let r = app
        .post(
            &token(Role::Expert, &first.to_string()),
            &format!("/v1/bookings/{id}/cancel"),
            &json!({"reason": "unwell"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["reassigned"].as_bool()),
        (Some("confirmed"), Some(true))
    );
    let b = booking(&app, &seeker, &id.to_string()).await;
    assert_eq!(b["expert_id"], second.to_string());
    assert_eq!(b["display_name"], "Dr. Second");
    // The seeker's history names the new expert too.
    let history: Vec<Value> = app
        .get(&seeker, "/v1/seekers/me/bookings")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history[0]["display_name"], "Dr. Second");
    // With nobody else free, the second expert's cancellation cancels.
    let r = app
        .post(
            &token(Role::Expert, &second.to_string()),
            &format!("/v1/bookings/{id}/cancel"),
            &json!({}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["reassigned"].as_bool()),
        (Some("cancelled"), Some(false))
    );
}

/// Polls `path` with `token` on `app` until it answers 401
/// `account_suspended`; fails past `within`.
async fn refused_within(app: &TestApp, token: &str, method: &str, path: &str, within: Duration) {
    let what = format!("{method} {path} answers 401");
    let refused = anxin_testkit::eventually(&what, within, Duration::from_millis(100), || async {
        let r = match method {
            "POST" => app.post(token, path, &json!({})).await,
            _ => app.get(token, path).await,
        };
        (r.status() == StatusCode::UNAUTHORIZED).then_some(r)
    })
    .await;
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "account_suspended", "{path}");
}

#[tokio::test]
async fn a_suspended_experts_and_a_disabled_operators_tokens_stop_on_every_instance_within_5_s() {
    let one = spawn_app().await;
    let two = start(one.settings.clone()).await;
    let expert = one.expert_with(&all_week(60)).await;
    let slot = one.future_slot(expert).await;
    let booking = one.book(&new_seeker(), slot, "13712345678").await;
    let expert_token = token(Role::Expert, &expert.to_string());
    let ops = token(Role::Operator, "ops-to-disable");
    let expert_routes = [
        ("GET", "/v1/experts/me".to_string()),
        ("GET", format!("/v1/bookings/{booking}")),
        ("POST", format!("/v1/bookings/{booking}/cancel")),
    ];
    let operator_routes = [
        ("GET", "/v1/ops/summary".to_string()),
        ("POST", format!("/v1/experts/{expert}/approve")),
    ];
    // Both work on both instances first (and each has cached that).
    for app in [&one, &two] {
        assert_eq!(
            app.get(&expert_token, "/v1/experts/me").await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get(&ops, "/v1/ops/summary").await.status(),
            StatusCode::OK
        );
    }

    suspend(&one, expert).await;
    disable_operator(&one, "ops-to-disable", true).await;
    let started = Instant::now();
    let five = Duration::from_secs(5);
    for app in [&one, &two] {
        for (method, path) in expert_routes.iter() {
            refused_within(
                app,
                &expert_token,
                method,
                path,
                five.saturating_sub(started.elapsed()),
            )
            .await;
        }
        for (method, path) in operator_routes.iter() {
            refused_within(
                app,
                &ops,
                method,
                path,
                five.saturating_sub(started.elapsed()),
            )
            .await;
        }
    }
    // Another operator is unaffected; enabling the first again restores them.
    assert_eq!(
        one.get(&operator(), "/v1/ops/summary").await.status(),
        StatusCode::OK
    );
    disable_operator(&one, "ops-to-disable", false).await;
    anxin_testkit::eventually(
        "an enabled operator is let in",
        five,
        Duration::from_millis(100),
        || async {
            (two.get(&ops, "/v1/ops/summary").await.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action IN ('operator.disable', 'operator.enable')",
    )
    .fetch_one(&one.db().await)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

/// What `anxin operator disable|enable <name>` does.
async fn disable_operator(app: &TestApp, name: &str, disabled: bool) {
    let by = anxin_store::audit::Actor {
        role: "cli",
        id: "anxin operator".into(),
    };
    anxin_core::flows::sign_in::set_operator_disabled(&app.state, &by, name, disabled)
        .await
        .unwrap();
}

/// `n` junk sign-in attempts from the given forwarded-for address.
async fn junk_sign_ins(app: &TestApp, forwarded_for: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        let r = app
            .client
            .post(app.url("/sign-in/not-a-real-link"))
            .header("X-Forwarded-For", forwarded_for)
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    statuses
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_sign_in_budget_and_elsewhere_the_header_is_ignored(
) {
    let behind = spawn_app_with(|s| {
        s.sign_ins_per_minute_per_ip = 3;
        s.trusted_proxies = Some("127.0.0.1/32, ::1/128".into());
    })
    .await;
    let spent = junk_sign_ins(&behind, "203.0.113.7", 4).await;
    assert_eq!(spent[3], StatusCode::TOO_MANY_REQUESTS, "{spent:?}");
    // Another client behind the same proxy still signs in.
    let other = junk_sign_ins(&behind, "198.51.100.20", 1).await;
    assert_ne!(other[0], StatusCode::TOO_MANY_REQUESTS);
    // A client can't pick its bucket by prepending an address.
    let forged = junk_sign_ins(&behind, "198.51.100.99, 203.0.113.7", 1).await;
    assert_eq!(forged[0], StatusCode::TOO_MANY_REQUESTS);

    // From a peer that is not a trusted proxy the header means nothing: the
    // two "clients" are one address.
    let direct = spawn_app_with(|s| s.sign_ins_per_minute_per_ip = 3).await;
    junk_sign_ins(&direct, "203.0.113.7", 3).await;
    let other = junk_sign_ins(&direct, "198.51.100.20", 1).await;
    assert_eq!(other[0], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set_and_methods_stay_a_closed_set() {
    let app =
        spawn_app_with(|s| s.metrics_token = Some("m3trics-t0ken-for-the-scraper".into())).await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for method in ["BREW", "PROPFIND", "X-INVENTED"] {
        app.client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/healthz"),
            )
            .send()
            .await
            .unwrap();
    }
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("m3trics-t0ken-for-the-scraper")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.contains("method=\"other\""), "{text}");
    for invented in ["BREW", "PROPFIND", "X-INVENTED"] {
        assert!(!text.contains(invented), "{invented} became a label");
    }
}

#[tokio::test]
async fn a_one_shot_command_without_a_webhook_url_leaves_webhooks_on() {
    let (url, _got) = receiver(0, false).await;
    let app = app_sending_to(&url, |_| {}).await;
    // `anxin migrate` or `anxin sign-in-link` from a shell that lacks the
    // serving process's ANXIN_WEBHOOK_URL.
    let mut shell = app.settings.clone();
    shell.webhook_url = None;
    shell.webhook_secret = None;
    anxin::startup::build_state(&shell).await.unwrap();
    let db = app.db().await;
    let enabled: bool = sqlx::query_scalar("SELECT enabled FROM webhook_config")
        .fetch_one(&db)
        .await
        .unwrap();
    let triggers_on: bool = sqlx::query_scalar(
        "SELECT bool_and(tgenabled <> 'D') FROM pg_trigger WHERE tgname LIKE 'webhooks_of_%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(enabled && triggers_on);
    let slot = app.future_slots(1).await[0];
    let booking = app.book(&new_seeker(), slot, "13712345678").await;
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks WHERE booking_id = $1")
        .bind(booking)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(written, 1, "booking.confirmed is still written");
}

/// Books `slot` for `seeker` with the canary number and a note, paying the
/// fee on the simulated page; returns the booking id.
async fn booked_with_note(
    app: &TestApp,
    seeker: &str,
    slot: Uuid,
    phone: &str,
    note: &str,
) -> String {
    crate::webhooks::paid_booking_with(app, seeker, slot, phone, Some(note)).await
}

#[tokio::test]
async fn an_erased_seekers_number_notes_and_ref_are_found_nowhere_and_the_figures_stay() {
    let (url, got) = receiver(0, false).await;
    let app = app_sending_to(&url, |s| {
        s.payment_provider = Some(ProviderName::Simulated);
        s.call_max_attempts = 1;
    })
    .await;
    let canaries = [
        "13987654321",
        "3987654321",
        "note-canary-半夜睡不着",
        "ref-canary-5d1e",
        "expert-note-canary",
        "reason-canary",
    ];
    let subject = format!("host-user-{}", Uuid::new_v4());
    let seeker = seeker_with_ref(&subject, "ref-canary-5d1e");

    // A past session: the call took place, and the expert referred them on
    // with a private note (the referral keeps its own sealed number).
    let now = Utc::now();
    let (expert, past) =
        expert_with_slots_at(&app, "Dr. Past", &[now - ChronoDuration::minutes(1)]).await;
    let done = booked_with_note(
        &app,
        &seeker,
        past[0],
        "139 8765 4321",
        "note-canary-半夜睡不着",
    )
    .await;
    with_worker(&app, quick_phones(1.0), &done).await;
    let r = app
        .post(
            &token(Role::Expert, &expert.to_string()),
            &format!("/v1/bookings/{done}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": "routine",
                    "note": "expert-note-canary"}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // One the seeker cancelled before, saying why.
    let earlier = app.future_slots(2).await[1];
    let earlier = booked_with_note(
        &app,
        &seeker,
        earlier,
        "13987654321",
        "note-canary-半夜睡不着",
    )
    .await;
    let r = app
        .post(
            &seeker,
            &format!("/v1/bookings/{earlier}/cancel"),
            &json!({"reason": "reason-canary"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The canaries are there before, sealed, so the checks below can fail.
    assert!(
        !app.postgres_dump().await.contains("13987654321"),
        "the number is stored in the clear"
    );
    let sealed = app.opened_secrets().await;
    for canary in [
        "13987654321",
        "note-canary",
        "ref-canary",
        "expert-note-canary",
        "reason-canary",
    ] {
        assert!(
            sealed.contains(canary),
            "{canary} is not stored at all: {sealed}"
        );
    }
    let view: Value = app
        .get(
            &token(Role::Expert, &expert.to_string()),
            "/v1/experts/me/bookings?when=past",
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        view.to_string().contains("note-canary"),
        "the expert reads the note: {view}"
    );

    // The dashboard's figures over these bookings, before and after, once
    // the two holds' events (written in the background) are in.
    app.events_written(2).await;
    let window = anxin_api::ops::summary::Window::parse("24h").unwrap();
    let at = Utc::now() + ChronoDuration::seconds(1);
    let figures = || async {
        let summary =
            anxin_api::ops::summary::compute(&app.state.pool, window, &Default::default(), at)
                .await
                .unwrap();
        let mut v = serde_json::to_value(summary).unwrap();
        v["query_ms"] = Value::Null;
        v
    };
    let before = figures().await;
    let r = app.delete(&seeker, "/v1/seekers/me").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 0);
    assert_eq!(before, figures().await, "erasure changed the figures");

    // Another seeker with an upcoming booking: erasure cancels it, and the
    // fee comes back.
    let other = seeker_with_ref(&format!("host-user-{}", Uuid::new_v4()), "ref-canary-5d1e");
    let upcoming = booked_with_note(
        &app,
        &other,
        app.future_slots(1).await[0],
        "+86 139 8765 4321",
        "note-canary-半夜睡不着",
    )
    .await;
    let r = app.delete(&other, "/v1/seekers/me").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["cancelled"], 1);
    let b = booking(&app, &operator(), &upcoming).await;
    assert_eq!(b["status"], "cancelled");
    anxin_core::flows::payments::settle(&app.state)
        .await
        .unwrap();
    wait_for(&got, "the upcoming booking's refund", |g| {
        g.iter()
            .any(|r| r.body.contains("payment.refunded") && r.body.contains(upcoming.as_str()))
    })
    .await;

    let pg = app.postgres_dump().await + &app.opened_secrets().await;
    let redis = app.redis_dump().await;
    let logs = logs().text();
    let sent_after: Vec<String> = {
        let all = got.lock().unwrap().got.clone();
        all.iter().map(|r| r.body.clone()).collect()
    };
    for canary in canaries {
        assert!(!pg.contains(canary), "Postgres still holds {canary}");
        assert!(!redis.contains(canary), "Redis still holds {canary}");
        assert!(!logs.contains(canary), "a log line holds {canary}");
    }
    // Events sent after the erasure carry no ref.
    let refund = sent_after
        .iter()
        .find(|b| b.contains("payment.refunded") && b.contains(upcoming.as_str()))
        .unwrap();
    assert!(!refund.contains("ref-canary"), "{refund}");
    // The same subject is a new seeker with nothing behind it.
    let mine: Vec<Value> = app
        .get(&seeker, "/v1/seekers/me/bookings")
        .await
        .json()
        .await
        .unwrap();
    assert!(mine.is_empty(), "{mine:?}");
    // And the bookings remain as anonymous rows.
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings WHERE id = ANY($1)")
        .bind(vec![
            done.parse::<Uuid>().unwrap(),
            upcoming.parse().unwrap(),
            earlier.parse().unwrap(),
        ])
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(kept, 3);
}

/// A seeker token the host app signs, vouching for a priority group.
fn seeker_vouched_for(group: &str) -> String {
    let claims = anxin_api::auth::Claims {
        sub: format!("host-user-{}", Uuid::new_v4()),
        role: Role::Seeker,
        exp: Utc::now().timestamp() + 3600,
        iat: 0,
        seeker_ref: None,
        group: Some(group.into()),
        region: Some("hubei".into()),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(anxin::config::DEV_JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_group_the_host_app_vouches_for_wins_and_from_the_token_only_a_declared_one_counts_for_nothing(
) {
    let app = spawn_app_with(|s| {
        s.priority_share = 1.0;
        s.priority_from_token = true;
    })
    .await;
    let expert = app.expert_with(&all_week(60)).await;
    // A slot held back for priority groups.
    let slot: Uuid = sqlx::query_scalar(
        "SELECT id FROM slots WHERE expert_id = $1 AND starts_at > now() + interval '1 day'
          ORDER BY starts_at LIMIT 1",
    )
    .bind(expert)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    // Declaring oneself a medical worker takes nothing held back for them.
    let declared = new_seeker();
    let r = app
        .put(
            &declared,
            "/v1/seekers/me",
            &json!({"priority_group": "medical_worker"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["priority_group"],
        "general"
    );
    assert_error(
        app.hold(&declared, slot).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    // The host app's word does, and it wins over a declaration.
    let vouched = seeker_vouched_for("medical_worker");
    let r = app
        .put(
            &vouched,
            "/v1/seekers/me",
            &json!({"priority_group": "general"}),
        )
        .await;
    let view: Value = r.json().await.unwrap();
    assert_eq!(
        (view["priority_group"].as_str(), view["region"].as_str()),
        (Some("medical_worker"), Some("CN-HB"))
    );
    let hold = app.held(&vouched, slot).await;
    let r = app.confirm(&vouched, &hold, "13712345678").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // The dashboard counts it as the host app's word, apart from declared.
    let summary: Value = app
        .get(&operator(), "/v1/ops/summary?window=1h")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        summary["priority_sources"]["medical_worker"],
        json!({"declared": 0, "vouched": 1})
    );
    // A group that is no group makes the token worthless.
    assert_error(
        app.get(&seeker_vouched_for("vip"), "/v1/slate").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

/// An application from `token`, from behind the proxy at `forwarded_for`.
async fn apply(app: &TestApp, token: &str, forwarded_for: &str) -> StatusCode {
    app.client
        .post(app.url("/v1/expert-applications"))
        .bearer_auth(token)
        .header("X-Forwarded-For", forwarded_for)
        .json(&expert_profile("Applicant"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn applications_are_limited_per_address_and_per_token() {
    let app = spawn_app_with(|s| {
        s.applications_per_hour_per_ip = 2;
        s.trusted_proxies = Some("127.0.0.1".into());
    })
    .await;
    let (one, two, three) = (new_seeker(), new_seeker(), new_seeker());
    assert_eq!(apply(&app, &one, "203.0.113.1").await, StatusCode::CREATED);
    assert_eq!(apply(&app, &one, "203.0.113.2").await, StatusCode::CREATED);
    // The token has used its budget, from whatever address.
    assert_eq!(
        apply(&app, &one, "203.0.113.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The address has too, whatever the token.
    assert_eq!(apply(&app, &two, "203.0.113.1").await, StatusCode::CREATED);
    assert_eq!(
        apply(&app, &three, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Everyone else is served.
    assert_eq!(
        apply(&app, &three, "198.51.100.4").await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn operators_page_through_every_applicant_and_decline_several_at_once() {
    let app = spawn_app_with(|s| s.applications_per_hour_per_ip = 1000).await;
    let mut applicants = Vec::new();
    for i in 0..120 {
        let r = app
            .post(
                &new_seeker(),
                "/v1/expert-applications",
                &expert_profile(&format!("Applicant {i}")),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        applicants.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let page = |n: u32| {
        let app = &app;
        async move {
            let b: Value = app
                .get(&operator(), &format!("/v1/ops/board?applicants_page={n}"))
                .await
                .json()
                .await
                .unwrap();
            b
        }
    };
    let first = page(0).await;
    assert_eq!(first["pending_total"], 120);
    assert_eq!(first["pending_experts"].as_array().unwrap().len(), 50);
    let last = page(2).await;
    let last_ids: Vec<&str> = last["pending_experts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    // The oldest first: the last page holds the last 20 who applied.
    assert_eq!(
        last_ids,
        applicants[100..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_error(
        app.get(&operator(), "/v1/ops/board?applicants_page=-1")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;

    // Two spam applications and one already approved expert.
    let approved = &applicants[0];
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{approved}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &operator(),
            "/ops/experts/decline",
            &json!({"ids": [applicants[1], applicants[2], approved]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["declined"].as_u64(), v["skipped"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(page(0).await["pending_total"], 117);
    let status: String = sqlx::query_scalar("SELECT status FROM experts WHERE id = $1::uuid")
        .bind(approved)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(
        status, "approved",
        "a bulk decline never suspends a vetted expert"
    );
    assert_error(
        app.post(&operator(), "/ops/experts/decline", &json!({"ids": []}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
}

#[tokio::test]
async fn the_vocabulary_names_every_code_in_either_language() {
    let app = spawn_app().await;
    let get = |q: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/v1/vocabulary{q}")))
                .send()
                .await
                .unwrap()
        }
    };
    let zh: Value = get("").await.json().await.unwrap();
    let en: Value = get("?lang=en").await.json().await.unwrap();
    let label = |v: &Value, list: &str, code: &str| {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["code"] == code)
            .map(|w| w["label"].as_str().unwrap().to_string())
    };
    assert_eq!(label(&zh, "topics", "family").as_deref(), Some("家庭"));
    assert_eq!(
        label(&en, "topics", "health-anxiety").as_deref(),
        Some("Health anxiety")
    );
    assert_eq!(label(&zh, "languages", "yue").as_deref(), Some("粤语"));
    assert_eq!(
        label(&zh, "priority_groups", "medical_worker").as_deref(),
        Some("医护人员")
    );
    assert_eq!(
        label(&en, "urgencies", "emergency").as_deref(),
        Some("Emergency")
    );
    for list in ["outcomes", "organisation_kinds", "resource_kinds"] {
        assert!(!zh[list].as_array().unwrap().is_empty(), "{list}");
    }
    assert_error(
        get("?lang=fr").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
}
