//! The operator dashboard, end to end: the summary's figures against a
//! scripted scenario, who may see it, the sign-in, and the page in a real
//! (headless) browser. Each test runs the real application on a fresh
//! database and Redis prefix.
use crate::dashboard_support::browser::Browser;
use crate::dashboard_support::{
    assert_close, daily_hour_started_five_minutes_ago, gini, operator, token, App, Attempt, Seeker,
    Slot,
};
use anxin_api::auth::Role;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// The running slot (started five minutes ago) of `expert` on a slate.
fn running_slot(slate: &[(Uuid, Vec<Slot>)], expert: Uuid) -> Uuid {
    let now = Utc::now();
    slate
        .iter()
        .find(|(e, _)| *e == expert)
        .and_then(|(_, slots)| slots.iter().find(|s| s.starts_at <= now))
        .unwrap_or_else(|| panic!("expert {expert}'s running slot is not on the slate"))
        .slot_id
}

/// A slot of `expert` on a slate that has not started.
fn future_slot(slate: &[(Uuid, Vec<Slot>)], expert: Uuid) -> Uuid {
    let now = Utc::now();
    slate
        .iter()
        .find(|(e, _)| *e == expert)
        .and_then(|(_, slots)| slots.iter().find(|s| s.starts_at > now))
        .unwrap_or_else(|| panic!("expert {expert} has no future slot on the slate"))
        .slot_id
}

/// Every seeker's slates first at `t0`, their first booking `after` seconds
/// later: makes the times to match known numbers.
async fn set_match_times(app: &App, t0: DateTime<Utc>, plan: &[(&Seeker, Option<i64>)]) {
    for (seeker, after) in plan {
        sqlx::query("UPDATE events SET at = $2 WHERE kind = 'slate_served' AND seeker_id = $1")
            .bind(seeker.id)
            .bind(t0)
            .execute(&app.db)
            .await
            .unwrap();
        if let Some(secs) = after {
            sqlx::query(
                "UPDATE events SET at = $2 WHERE kind = 'booking_confirmed' AND seeker_id = $1",
            )
            .bind(seeker.id)
            .bind(t0 + Duration::seconds(*secs))
            .execute(&app.db)
            .await
            .unwrap();
        }
    }
}

fn canary_free(what: &str, text: &str, seekers: &[&Seeker]) {
    for s in seekers {
        let national = &s.phone[3..];
        for needle in [s.subject.as_str(), s.phone.as_str(), national] {
            assert!(!text.contains(needle), "{what} contains {needle}");
        }
    }
}

#[tokio::test]
async fn summary_matches_a_scripted_scenario() {
    let app = App::with_service_defaults(|s| s.hold_ttl_seconds = 4).await;
    let availability = daily_hour_started_five_minutes_ago(Utc::now());
    // Four experts, each with an hour that started five minutes ago and one
    // a day after: every call below can have happened already.
    let e1 = app
        .expert("E1", "hubei", &["zh", "en"], &availability)
        .await;
    let e2 = app.expert("E2", "hubei", &["zh"], &availability).await;
    let e3 = app
        .expert("E3", "beijing", &["zh", "en"], &availability)
        .await;
    let e4 = app.expert("E4", "beijing", &["zh"], &availability).await;
    let experts = [e1, e2, e3, e4];
    // An application waiting for approval: not an expert yet.
    app.applicant("Applicant", "hubei").await;

    let s1 = app.seeker(1, "medical_worker", Some("hubei")).await;
    let s2 = app.seeker(2, "medical_worker", Some("hubei")).await;
    let s3 = app.seeker(3, "patient", Some("beijing")).await;
    let s4 = app.seeker(4, "general", Some("beijing")).await;
    let s5 = app.seeker(5, "general", None).await;
    let s6 = app.seeker(6, "bereaved_family", Some("hubei")).await;
    let group = |s: &Seeker| -> &str {
        match s.id {
            id if id == s1.id || id == s2.id => "medical_worker",
            id if id == s3.id => "patient",
            id if id == s6.id => "bereaved_family",
            _ => "general",
        }
    };

    // 7 slates (S1 twice; S3 filtered to English speakers), tallied as shown.
    let mut exposure: HashMap<Uuid, i64> = experts.iter().map(|e| (*e, 0)).collect();
    let mut exposure_medical: HashMap<Uuid, i64> = experts.iter().map(|e| (*e, 0)).collect();
    let mut slates = HashMap::new();
    for (s, q) in [
        (&s1, ""),
        (&s1, ""),
        (&s2, ""),
        (&s3, "?language=en"),
        (&s4, ""),
        (&s5, ""),
        (&s6, ""),
    ] {
        let slate = app.slate(s, q).await;
        for (e, _) in &slate {
            *exposure.get_mut(e).unwrap() += 1;
            if group(s) == "medical_worker" {
                *exposure_medical.get_mut(e).unwrap() += 1;
            }
        }
        slates.insert(s.id, slate);
    }
    assert_eq!(slates[&s3.id].len(), 2, "only E1 and E3 speak English");

    // S1 books E1's running slot; S2 collides on it (409), then books E2's.
    let r1 = running_slot(&slates[&s1.id], e1);
    let b1 = app.book(&s1, r1).await;
    let r = app.hold(&s2, r1).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "slot_unavailable"
    );
    let b2 = app.book(&s2, running_slot(&slates[&s2.id], e2)).await;
    // S3 books E3's running slot.
    let b3 = app.book(&s3, running_slot(&slates[&s3.id], e3)).await;
    // S4 holds E4 tomorrow and releases it, holds it again, is refused a
    // second hold (409 hold_limit), and lets the hold expire.
    let f = future_slot(&slates[&s4.id], e4);
    let h = app.hold_ok(&s4, f).await;
    let r = app.delete(&s4.token, &format!("/v1/holds/{h}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let expiring = app.hold_ok(&s4, f).await;
    let r = app.hold(&s4, future_slot(&slates[&s4.id], e2)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "hold_limit");
    // S5 books E4's running slot, then cancels.
    let b5 = app.book(&s5, running_slot(&slates[&s5.id], e4)).await;
    let r = app
        .post(
            &s5.token,
            &format!("/v1/bookings/{b5}/cancel"),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // S6 only looks.
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    let r = app.confirm(&s4, expiring).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "hold_expired");

    // Calls, as the worker writes them (seconds after the slot's start).
    // S1's was booked an hour ahead, so it was due at the slot's start and
    // bridged 42 s later, then completed.
    sqlx::query("UPDATE bookings SET created_at = starts_at - interval '1 hour' WHERE id = $1")
        .bind(b1)
        .execute(&app.db)
        .await
        .unwrap();
    app.call(
        b1,
        &[Attempt {
            started: 5,
            expert_answered: Some(20),
            bridged: Some(42),
            ended: Some((240, "completed")),
        }],
    )
    .await;
    // S2's expert never answered, twice.
    app.call(
        b2,
        &[
            Attempt {
                started: 5,
                expert_answered: None,
                bridged: None,
                ended: Some((35, "expert_no_answer")),
            },
            Attempt {
                started: 155,
                expert_answered: None,
                bridged: None,
                ended: Some((185, "expert_no_answer")),
            },
        ],
    )
    .await;
    // S3's expert answered; S3's line was busy.
    app.call(
        b3,
        &[Attempt {
            started: 5,
            expert_answered: Some(15),
            bridged: None,
            ended: Some((45, "seeker_busy")),
        }],
    )
    .await;

    // 7 slates, 6 holds placed, 1 released, 2 refused, 1 confirmation refused.
    app.events_written(7 + 6 + 1 + 2 + 1).await;
    // Known times to match: 30, 60, 90 and 300 s.
    let t0 = Utc::now() - Duration::minutes(20);
    set_match_times(
        &app,
        t0,
        &[
            (&s1, Some(30)),
            (&s2, Some(60)),
            (&s3, Some(90)),
            (&s4, None),
            (&s5, Some(300)),
            (&s6, None),
        ],
    )
    .await;

    let s = app.summary("24h").await;
    let o = &s["overall"];
    assert_eq!(s["window"], "24h");
    // Funnel: 6 saw a slate, 5 held, 4 booked (S5 too: matched, then
    // cancelled), 1 call connected and completed.
    assert_eq!(
        o["funnel"],
        serde_json::json!({"saw_slate": 6, "held": 5, "booked": 4, "call_connected": 1, "completed": 1})
    );
    assert_close(&o["match_rate"], Some(4.0 / 6.0), "match rate");
    assert_eq!(o["slates_served"], 7);
    // percentile_cont of 30, 60, 90, 300.
    assert_eq!(o["time_to_match_seconds"]["count"], 4);
    assert_close(&o["time_to_match_seconds"]["p50"], Some(75.0), "ttm p50");
    assert_close(&o["time_to_match_seconds"]["p95"], Some(268.5), "ttm p95");
    assert_eq!(o["time_to_connect_seconds"]["count"], 1);
    assert_close(&o["time_to_connect_seconds"]["p50"], Some(42.0), "ttc p50");
    assert_close(&o["time_to_connect_seconds"]["p95"], Some(42.0), "ttc p95");
    assert_eq!(
        o["bookings"],
        serde_json::json!({"confirmed": 4, "cancelled": 1, "completed": 1, "refused": {"hold_expired": 1}})
    );
    assert_eq!(
        o["calls"],
        serde_json::json!({
            "attempts_by_outcome": {"completed": 1, "expert_no_answer": 2, "seeker_busy": 1},
            "finished_by_outcome": {"completed": 1, "expert_no_answer": 1, "seeker_busy": 1},
            "finished": 3,
        })
    );
    assert_close(
        &o["no_show_rate"]["expert"],
        Some(1.0 / 3.0),
        "expert no-show",
    );
    assert_close(
        &o["no_show_rate"]["seeker"],
        Some(1.0 / 3.0),
        "seeker no-show",
    );
    // Each expert offered its running slot (past) and tomorrow's (ahead);
    // three running slots are booked (S5's was cancelled).
    assert_eq!(o["utilization"]["past"]["offered"], 4);
    assert_eq!(o["utilization"]["past"]["booked"], 3);
    assert_close(
        &o["utilization"]["past"]["rate"],
        Some(0.75),
        "past utilization",
    );
    assert_eq!(o["utilization"]["ahead"]["offered"], 4);
    assert_eq!(o["utilization"]["ahead"]["booked"], 0);
    assert_close(
        &o["utilization"]["ahead"]["rate"],
        Some(0.0),
        "ahead utilization",
    );
    // Bookings per expert [1, 1, 1, 0]; exposure as tallied from the slates.
    let tally: Vec<i64> = experts.iter().map(|e| exposure[e]).collect();
    assert_eq!(o["fairness"]["experts"], 4);
    assert_close(&o["fairness"]["booking_gini"], Some(0.25), "booking Gini");
    assert_close(
        &o["fairness"]["exposure_gini"],
        gini(&tally),
        "exposure Gini",
    );
    assert_eq!(o["fairness"]["experts_with_zero_bookings"], 1);
    assert_eq!(o["fairness"]["experts_with_zero_exposure"], 0);
    assert_eq!(
        o["holds"],
        serde_json::json!({"placed": 6, "confirmed": 4, "released": 1, "expired": 1, "active": 0,
                           "expiry_rate": 1.0 / 6.0})
    );
    assert_eq!(
        o["collisions"],
        serde_json::json!({"hold_attempts": 8, "slot_unavailable": 1, "hold_limit": 1, "rate": 0.125})
    );
    assert_eq!(
        s["booking_distribution"]["histogram"],
        serde_json::json!([
            {"bookings": 0, "experts": 1}, {"bookings": 1, "experts": 3}
        ])
    );

    // By priority group.
    let g = &s["by_priority_group"];
    assert_eq!(
        g["medical_worker"]["funnel"],
        serde_json::json!({"saw_slate": 2, "held": 2, "booked": 2, "call_connected": 1, "completed": 1})
    );
    assert_close(
        &g["medical_worker"]["match_rate"],
        Some(1.0),
        "medical match rate",
    );
    assert_close(
        &g["medical_worker"]["time_to_match_seconds"]["p50"],
        Some(45.0),
        "medical ttm",
    );
    assert_eq!(g["medical_worker"]["collisions"]["hold_attempts"], 3);
    assert_close(
        &g["medical_worker"]["collisions"]["rate"],
        Some(1.0 / 3.0),
        "medical collisions",
    );
    // Medical seekers booked E1 and E2: [1, 1, 0, 0].
    assert_close(
        &g["medical_worker"]["fairness"]["booking_gini"],
        Some(0.5),
        "medical booking Gini",
    );
    let medical: Vec<i64> = experts.iter().map(|e| exposure_medical[e]).collect();
    assert_close(
        &g["medical_worker"]["fairness"]["exposure_gini"],
        gini(&medical),
        "medical exposure Gini",
    );
    assert_eq!(g["medical_worker"]["utilization"]["past"]["booked"], 2);
    assert_eq!(g["medical_worker"]["calls"]["finished"], 2);
    assert_close(
        &g["medical_worker"]["no_show_rate"]["expert"],
        Some(0.5),
        "medical expert no-show",
    );
    assert_eq!(g["patient"]["funnel"]["booked"], 1);
    assert_close(
        &g["patient"]["no_show_rate"]["seeker"],
        Some(1.0),
        "patient seeker no-show",
    );
    assert_eq!(
        g["general"]["funnel"],
        serde_json::json!({"saw_slate": 2, "held": 2, "booked": 1, "call_connected": 0, "completed": 0})
    );
    assert_close(&g["general"]["match_rate"], Some(0.5), "general match rate");
    assert_eq!(g["general"]["holds"]["placed"], 3);
    assert_close(
        &g["general"]["holds"]["expiry_rate"],
        Some(1.0 / 3.0),
        "general expiry",
    );
    assert_eq!(g["general"]["collisions"]["hold_limit"], 1);
    assert_eq!(g["general"]["bookings"]["cancelled"], 1);
    assert_eq!(g["bereaved_family"]["funnel"]["saw_slate"], 1);
    assert_close(
        &g["bereaved_family"]["match_rate"],
        Some(0.0),
        "bereaved match rate",
    );

    // By region: seekers' regions for seeker figures, experts' for theirs.
    let r = &s["by_region"];
    assert_eq!(r["CN-HB"]["funnel"]["saw_slate"], 3);
    assert_eq!(r["CN-HB"]["funnel"]["booked"], 2);
    assert_eq!(r["CN-BJ"]["funnel"]["saw_slate"], 2);
    assert_eq!(r["CN-BJ"]["funnel"]["booked"], 1);
    assert_eq!(r["unknown"]["funnel"]["booked"], 1);
    assert_close(
        &r["CN-HB"]["utilization"]["past"]["rate"],
        Some(1.0),
        "hubei utilization",
    );
    assert_close(
        &r["CN-BJ"]["utilization"]["past"]["rate"],
        Some(0.5),
        "beijing utilization",
    );
    assert_close(
        &r["CN-HB"]["fairness"]["booking_gini"],
        Some(0.0),
        "hubei Gini",
    );
    assert_close(
        &r["CN-BJ"]["fairness"]["booking_gini"],
        Some(0.5),
        "beijing Gini",
    );
    assert_eq!(r["CN-BJ"]["fairness"]["experts_with_zero_bookings"], 1);

    // The last hour: the same people; five-minute buckets.
    let h = app.summary("1h").await;
    assert_eq!(h["overall"]["funnel"], o["funnel"]);
    assert_eq!(h["overall"]["utilization"]["ahead"]["offered"], 0);
    assert!(h["overall"]["utilization"]["ahead"]["rate"].is_null());
    let since: DateTime<Utc> = h["since"].as_str().unwrap().parse().unwrap();
    let bucket = |t: DateTime<Utc>| ((t - since).num_seconds() / 300) as usize;
    let points = h["series"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 12);
    assert_eq!(points[bucket(t0)]["seekers"], 6);
    assert_eq!(points[bucket(t0)]["matched"], 4);
    let mut bookings = [0i64; 12];
    for secs in [30, 60, 90, 300] {
        bookings[bucket(t0 + Duration::seconds(secs))] += 1;
    }
    let seen: Vec<i64> = points
        .iter()
        .map(|p| p["bookings"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, bookings);
    assert_eq!(app.summary("7d").await["overall"]["funnel"], o["funnel"]);

    // Exposure is kept per hour for the window's whole hours: moving the
    // slates three hours back (into whole hours) leaves it exact.
    sqlx::query("UPDATE events SET at = at - interval '3 hours' WHERE kind = 'slate_served'")
        .execute(&app.db)
        .await
        .unwrap();
    // The rollup is the hourly rows plus the batches not yet folded into
    // them; folding moves the counts and changes no figure.
    let rollup = |folded: bool| {
        let db = app.db.clone();
        async move {
            if folded {
                fold_all(&db).await;
            }
            let counts: (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COALESCE(sum(n), 0)::int8 FROM exposure_hourly),
                        (SELECT COALESCE(sum(n), 0)::int8 FROM exposure_pending, unnest(counts) AS n)",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            counts
        }
    };
    let (hourly, pending) = rollup(false).await;
    assert_eq!(hourly + pending, tally.iter().sum::<i64>());
    let moved = app.summary("24h").await;
    assert_eq!(moved["overall"]["fairness"], o["fairness"]);
    assert_eq!(
        moved["by_priority_group"]["medical_worker"]["fairness"],
        g["medical_worker"]["fairness"]
    );
    assert_eq!(rollup(true).await, (tally.iter().sum::<i64>(), 0));
    assert_eq!(
        app.summary("24h").await["overall"]["fairness"],
        o["fairness"]
    );

    // Canary: no seeker phone or host-app subject in the summary, the board,
    // the page, the events table or the metrics.
    let seekers = [&s1, &s2, &s3, &s4, &s5, &s6];
    canary_free("the summary", &s.to_string(), &seekers);
    let board = app
        .get(&operator(), "/v1/ops/board")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        board.contains("Seeker "),
        "calls show seeker aliases: {board}"
    );
    canary_free("the board", &board, &seekers);
    let page = app.get(&operator(), "/ops").await.text().await.unwrap();
    canary_free("the page", &page, &seekers);
    let events: Vec<String> = sqlx::query_scalar("SELECT e::text FROM events e")
        .fetch_all(&app.db)
        .await
        .unwrap();
    canary_free("the events table", &events.join("\n"), &seekers);
    let metrics = app.metrics().await;
    canary_free("/metrics", &metrics, &seekers);
    let ops_metrics = app.state.metrics.render();
    canary_free("the ops metrics", &ops_metrics, &seekers);
    assert!(ops_metrics.contains("anxin_ops_events_total{kind=\"slate_served\"}"));
    assert!(ops_metrics.contains("anxin_time_to_match_seconds_bucket"));
    app.stop().await;
}

/// Folds every batch's exposure into the hourly rollup, until none is left
/// (the app's own folding may hold one a moment).
async fn fold_all(db: &sqlx::PgPool) {
    loop {
        anxin_store::events::fold_exposure(db, 500).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM exposure_pending")
            .fetch_one(db)
            .await
            .unwrap();
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Every instance folds the slates' exposure into the hourly rollup; when
/// several fold at once, each batch is still counted exactly once.
#[tokio::test]
async fn exposure_folded_by_several_instances_at_once_counts_each_slate_once() {
    let app = App::with_service_defaults(|_| {}).await;
    let experts: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    // 120 batches (one statement each, as the events writer's), each of 5
    // slates showing 20 of the 30 experts; two priority groups, and an hour
    // ago as well as now.
    let mut expected: HashMap<Uuid, i64> = HashMap::new();
    for b in 0..120usize {
        let shown: Vec<Vec<Uuid>> = (0..5)
            .map(|k| (0..20).map(|i| experts[(b + k + i) % 30]).collect())
            .collect();
        for e in shown.iter().flatten() {
            *expected.entry(*e).or_default() += 1;
        }
        let group = if b % 2 == 0 {
            "general"
        } else {
            "medical_worker"
        };
        let ago = if b % 3 == 0 { 3600.0 } else { 0.0 };
        sqlx::query(
            "INSERT INTO events (kind, at, priority_group, expert_ids)
             SELECT 'slate_served', now() - make_interval(secs => $3), $2,
                    ARRAY(SELECT jsonb_array_elements_text(x)::uuid)
               FROM jsonb_array_elements($1) AS x",
        )
        .bind(serde_json::json!(shown))
        .bind(group)
        .bind(ago)
        .execute(&app.db)
        .await
        .unwrap();
    }
    // What the dashboard reads (whole hours from the rollup, batches not yet
    // folded included; the partial hours from the slates), before folding
    // and after.
    let exposure = || {
        let db = app.db.clone();
        async move {
            let now = chrono::Utc::now();
            let rows = anxin_store::events::expert_loads(
                &db,
                now - Duration::hours(3),
                now,
                &anxin_store::events::Scope::default(),
            )
            .await
            .unwrap();
            let mut by_expert: HashMap<Uuid, i64> = HashMap::new();
            for r in rows.iter().filter(|r| r.exposures != 0) {
                *by_expert.entry(r.expert_id).or_default() += r.exposures;
            }
            by_expert
        }
    };
    assert_eq!(exposure().await, expected);
    let folds = (0..4).map(|_| {
        let db = app.db.clone();
        tokio::spawn(async move {
            let mut n = 0;
            loop {
                let folded = anxin_store::events::fold_exposure(&db, 3).await.unwrap();
                if folded == 0 {
                    return n;
                }
                n += folded;
            }
        })
    });
    let folded: i64 = futures_util::future::join_all(folds)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    // Together with the app's own folding, every batch once (each hour and
    // group of a batch is a row of its own).
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM exposure_pending")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        folded <= 120 && left <= 120 - folded,
        "{folded} folded, {left} left"
    );
    fold_all(&app.db).await;
    let rows: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT expert_id, sum(n)::int8 FROM exposure_hourly GROUP BY 1")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let got: HashMap<Uuid, i64> = rows.into_iter().collect();
    assert_eq!(got, expected);
    assert_eq!(exposure().await, expected);
    app.stop().await;
}

#[tokio::test]
async fn only_operators_see_the_dashboard() {
    let app = App::with_service_defaults(|_| {}).await;
    let seeker = token(Role::Seeker, "host-user-auth");
    let expert = token(Role::Expert, &Uuid::new_v4().to_string());
    for path in ["/v1/ops/summary", "/v1/ops/board", "/ops"] {
        for t in [&seeker, &expert] {
            let r = app.get(t, path).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        }
        let r = app.get(&operator(), path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    // No credentials: 401 from the API, the sign-in page from /ops.
    for path in ["/v1/ops/summary", "/v1/ops/board"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = app.client.get(app.url("/ops")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    let body = r.text().await.unwrap();
    assert!(body.contains("action=\"/ops/session\"") && body.contains("name=\"token\""));

    // A bad window is a 400 naming the field.
    let r = app.get(&operator(), "/v1/ops/summary?window=2h").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["error"].as_str(), e["field"].as_str()),
        (Some("invalid_query"), Some("window"))
    );

    // Sign-in: other roles and bad tokens are refused, as a form and as JSON.
    for (t, status) in [
        (seeker.as_str(), StatusCode::FORBIDDEN),
        (expert.as_str(), StatusCode::FORBIDDEN),
        ("not-a-token", StatusCode::UNAUTHORIZED),
    ] {
        let r = app
            .client
            .post(app.url("/ops/session"))
            .form(&[("token", t)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
        assert!(r.headers().get("set-cookie").is_none());
        let r = app
            .client
            .post(app.url("/ops/session"))
            .json(&serde_json::json!({"token": t}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
    // An operator gets a session cookie and is sent to the page.
    let r = app
        .client
        .post(app.url("/ops/session"))
        .form(&[("token", operator())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ops");
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let max_age: i64 = set_cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3000..=3600).contains(&max_age),
        "the session ends with the token: {max_age}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let with_cookie = |req: reqwest::RequestBuilder| req.header("cookie", cookie.clone());

    let r = with_cookie(app.client.get(app.url("/ops")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("/assets/ops.js"));
    let r = with_cookie(app.client.get(app.url("/v1/ops/summary?window=1h")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for asset in ["ops.js", "ops.css", "anxin.svg"] {
        let r = app
            .client
            .get(app.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
    }
    let r = app
        .client
        .get(app.url("/assets/..%2Fsecret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Vetting from the page: the session alone is not enough to change
    // anything (CSRF); with the page's header it is, and it is audited.
    let applicant = app.applicant("Dr. Applicant", "hubei").await;
    let path = format!("/ops/experts/{applicant}/approve");
    let r = with_cookie(app.client.post(app.url(&path)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = with_cookie(app.client.post(app.url(&path)))
        .header("X-Anxin-Session", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let status: String = sqlx::query_scalar("SELECT status FROM experts WHERE id = $1")
        .bind(applicant)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "approved");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE target_id = $1 AND action = 'expert.approve'
            AND actor_role = 'operator' AND actor_id = 'ops-dashboard-test'",
    )
    .bind(applicant)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    let r = app
        .post(
            &seeker,
            &format!("/ops/experts/{applicant}/suspend"),
            &Value::Null,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Signing out ends the session (the page's header is needed) and clears
    // the cookie; the ended cookie, or a forged one, gets the sign-in page.
    let r = with_cookie(app.client.post(app.url("/v1/sessions/end")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = with_cookie(app.client.post(app.url("/v1/sessions/end")))
        .header("X-Anxin-Session", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    for stale in [cookie.clone(), "anxin_session=forged".to_string()] {
        let r = app
            .client
            .get(app.url("/ops"))
            .header("cookie", stale)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // In Chinese by default (the sign-in page is bilingual now).
        assert!(r.text().await.unwrap().contains("登录已过期，请重新登录"));
    }
    let r = with_cookie(app.client.get(app.url("/v1/ops/summary")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Every dashboard route is in the OpenAPI document.
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/ops/summary",
        "/v1/ops/board",
        "/ops",
        "/ops/session",
        "/assets/{name}",
        "/ops/experts/{id}/approve",
        "/ops/experts/{id}/suspend",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(doc["components"]["schemas"]["Summary"].is_object());
    app.stop().await;
}

/// Seekers, bookings and calls enough for every chart to have a shape.
async fn busy_day(app: &App) -> Vec<Seeker> {
    let availability = daily_hour_started_five_minutes_ago(Utc::now());
    let regions = ["hubei", "hubei", "beijing", "shanghai"];
    let mut experts = Vec::new();
    for i in 0..10 {
        let langs: &[&str] = if i % 3 == 0 { &["zh", "en"] } else { &["zh"] };
        experts.push(
            app.expert(
                &format!("Dr. Expert {}", i + 1),
                regions[i % 4],
                langs,
                &availability,
            )
            .await,
        );
    }
    app.applicant("Dr. Wang (applicant)", "hubei").await;
    app.applicant("Dr. Li (applicant)", "湖北省").await;
    let groups = [
        "medical_worker",
        "patient",
        "bereaved_family",
        "general",
        "general",
    ];
    // Favour a few experts, so the Lorenz curve bends.
    let favourite = [0, 0, 1, 0, 2, 1, 0, 3, 4, 1, 0, 2, 5, 0, 1, 6, 0, 2];
    let mut seekers = Vec::new();
    let mut running_booked = Vec::new();
    for (i, fav) in favourite.iter().enumerate() {
        let s = app
            .seeker(
                100 + i,
                groups[i % groups.len()],
                Some(regions[(i / 2) % 4]),
            )
            .await;
        let slate = app.slate(&s, "").await;
        seekers.push(s.clone());
        if i % 5 == 4 {
            continue; // only looked
        }
        let want = experts[*fav];
        let Some((_, slots)) = slate.iter().find(|(e, _)| *e == want) else {
            continue;
        };
        let now = Utc::now();
        let slot = slots
            .iter()
            .find(|x| x.starts_at <= now && !running_booked.contains(&want))
            .or_else(|| slots.iter().find(|x| x.starts_at > now))
            .cloned();
        let Some(slot) = slot else { continue };
        let hold = app.hold_ok(&s, slot.slot_id).await;
        if i % 7 == 6 {
            app.delete(&s.token, &format!("/v1/holds/{hold}")).await;
            continue;
        }
        let r = app.confirm(&s, hold).await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        if slot.starts_at > now {
            continue;
        }
        let b = crate::dashboard_support::uuid_of(&r.json::<Value>().await.unwrap()["booking_id"]);
        running_booked.push(want);
        // Booked ahead of time, as most are: the call was due at the start.
        sqlx::query(
            "UPDATE bookings SET created_at = starts_at - interval '3 hours' WHERE id = $1",
        )
        .bind(b)
        .execute(&app.db)
        .await
        .unwrap();
        let attempts: &[Attempt] = match running_booked.len() % 4 {
            1 => &[Attempt {
                started: 5,
                expert_answered: Some(12),
                bridged: Some(31),
                ended: Some((250, "completed")),
            }],
            2 => &[Attempt {
                started: 5,
                expert_answered: None,
                bridged: None,
                ended: Some((35, "expert_no_answer")),
            }],
            3 => &[Attempt {
                started: 5,
                expert_answered: Some(20),
                bridged: Some(48),
                ended: None,
            }],
            _ => &[Attempt {
                started: 5,
                expert_answered: Some(9),
                bridged: None,
                ended: Some((40, "seeker_no_answer")),
            }],
        };
        app.call(b, attempts).await;
    }
    app.settle_events().await;
    // Spread the day: each seeker's events move back a few hours together,
    // and their slates a few minutes further (their time to match).
    for (i, s) in seekers.iter().enumerate() {
        sqlx::query(
            "UPDATE events SET at = at - make_interval(secs => $2)
              WHERE seeker_id = $1 AND kind = 'slate_served'",
        )
        .bind(s.id)
        .bind(((i * 97) % 900) as f64 + 25.0)
        .execute(&app.db)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE events SET at = at - make_interval(mins => $2),
                    expires_at = expires_at - make_interval(mins => $2)
              WHERE seeker_id = $1 AND kind NOT LIKE 'call_%'",
        )
        .bind(s.id)
        .bind(((i * 83) % 1200) as i32 + 30)
        .execute(&app.db)
        .await
        .unwrap();
    }
    seekers
}

#[tokio::test]
async fn dashboard_in_a_real_browser() {
    let app = App::with_service_defaults(|_| {}).await;
    let seekers = busy_day(&app).await;

    let browser = Browser::start(1366, 900).await;
    browser.goto(&app.url("/ops")).await;
    browser
        .wait_for(
            "return document.querySelector('#token') !== null",
            std::time::Duration::from_secs(10),
        )
        .await;
    browser.type_into("#token", &operator()).await;
    browser.click("#sign-in").await;
    // The token went in the body: the address bar shows only /ops.
    let url = browser
        .wait_for(
            "return document.body.getAttribute('data-updated') && location.href",
            std::time::Duration::from_secs(20),
        )
        .await;
    assert_eq!(url.as_str().unwrap(), app.url("/ops"));

    // The rendered headline numbers are the API's.
    let read_figures = "const out = {}; for (const n of document.querySelectorAll('.value[data-figure]')) \
                        out[n.getAttribute('data-figure')] = [n.textContent, n.getAttribute('data-value')]; return out;";
    let api = app.summary("24h").await;
    let o = &api["overall"];
    let rate = |v: &Value| {
        v.as_f64()
            .map_or("–".to_string(), |r| format!("{:.1}%", r * 100.0))
    };
    let expected: Vec<(&str, Value, Option<String>)> = vec![
        (
            "match_rate",
            o["match_rate"].clone(),
            Some(rate(&o["match_rate"])),
        ),
        (
            "saw_slate",
            o["funnel"]["saw_slate"].clone(),
            Some(o["funnel"]["saw_slate"].to_string()),
        ),
        (
            "bookings_confirmed",
            o["bookings"]["confirmed"].clone(),
            Some(o["bookings"]["confirmed"].to_string()),
        ),
        (
            "calls_completed",
            o["funnel"]["completed"].clone(),
            Some(o["funnel"]["completed"].to_string()),
        ),
        (
            "time_to_match_p50",
            o["time_to_match_seconds"]["p50"].clone(),
            None,
        ),
        (
            "time_to_connect_p50",
            o["time_to_connect_seconds"]["p50"].clone(),
            None,
        ),
        (
            "no_show_expert",
            o["no_show_rate"]["expert"].clone(),
            Some(rate(&o["no_show_rate"]["expert"])),
        ),
        (
            "utilization_ahead",
            o["utilization"]["ahead"]["rate"].clone(),
            Some(rate(&o["utilization"]["ahead"]["rate"])),
        ),
        (
            "booking_gini",
            o["fairness"]["booking_gini"].clone(),
            o["fairness"]["booking_gini"]
                .as_f64()
                .map(|g| format!("{g:.2}")),
        ),
        (
            "experts_with_zero_bookings",
            o["fairness"]["experts_with_zero_bookings"].clone(),
            Some(o["fairness"]["experts_with_zero_bookings"].to_string()),
        ),
        (
            "hold_expiry_rate",
            o["holds"]["expiry_rate"].clone(),
            Some(rate(&o["holds"]["expiry_rate"])),
        ),
        (
            "collision_rate",
            o["collisions"]["rate"].clone(),
            Some(rate(&o["collisions"]["rate"])),
        ),
    ];
    assert!(
        o["bookings"]["confirmed"].as_i64().unwrap() > 5,
        "the scenario booked: {o}"
    );
    let shown = browser.run(read_figures).await;
    for (name, value, text) in &expected {
        let [t, v] = [&shown[*name][0], &shown[*name][1]];
        let raw = v.as_str().unwrap();
        match value.as_f64() {
            Some(x) => assert_eq!(
                raw.parse::<f64>().unwrap(),
                x,
                "{name}: page {raw}, API {x}"
            ),
            None => assert_eq!(raw, "", "{name}"),
        }
        if let Some(text) = text {
            assert_eq!(t.as_str().unwrap(), text, "{name} as shown");
        }
    }
    // Priority bookings by whose word the group rests on.
    let sources = browser
        .run("return document.querySelector('#group-sources').textContent")
        .await;
    assert!(
        sources.as_str().unwrap().contains("declared")
            && sources.as_str().unwrap().contains("vouched"),
        "{sources}"
    );

    // The lists: applicants to vet, calls of the next hour by alias.
    let pending = browser
        .run("return document.querySelectorAll('#pending tbody tr').length")
        .await;
    assert_eq!(pending, 2);
    let calls = browser.run("return Array.from(document.querySelectorAll('#upcoming tbody tr td:nth-child(4)')).map(td => td.textContent)").await;
    let calls = calls.as_array().unwrap();
    assert!(
        !calls.is_empty()
            && calls
                .iter()
                .all(|a| a.as_str().unwrap().starts_with("Seeker ")),
        "{calls:?}"
    );
    let html = browser
        .run("return document.documentElement.outerHTML")
        .await;
    canary_free(
        "the rendered page",
        html.as_str().unwrap(),
        &seekers.iter().collect::<Vec<_>>(),
    );

    // Narrowed to Hubei, the headline is Hubei's, as the API counts it.
    let r = app
        .client
        .get(app.url("/v1/ops/summary?window=24h&region=hubei"))
        .bearer_auth(operator())
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    let hubei: Value = r.json().await.unwrap();
    let (in_hubei, everywhere) = (
        hubei["overall"]["funnel"]["saw_slate"].as_i64().unwrap(),
        o["funnel"]["saw_slate"].as_i64().unwrap(),
    );
    assert!(
        0 < in_hubei && in_hubei < everywhere,
        "{in_hubei} of {everywhere}"
    );
    let choose = |region: &str| {
        format!(
            "const s = document.querySelector('#filter-region'); s.value = '{region}'; \
             s.dispatchEvent(new Event('change')); return true"
        )
    };
    let saw = |n: i64| {
        format!(
            "return document.querySelector('.value[data-figure=saw_slate]').getAttribute('data-value') === '{n}'"
        )
    };
    browser.run(&choose("CN-HB")).await;
    browser
        .wait_for(&saw(in_hubei), std::time::Duration::from_secs(15))
        .await;
    browser.run(&choose("")).await;
    browser
        .wait_for(&saw(everywhere), std::time::Duration::from_secs(15))
        .await;

    let dir = crate::dashboard_support::artifacts_dir();
    std::fs::write(
        dir.join("ops-dashboard.png"),
        browser.screenshot_full_page().await,
    )
    .unwrap();

    // A booking made while the page is open shows up without a reload.
    browser
        .run("window.__stillTheSamePage = true; return true")
        .await;
    let before = o["bookings"]["confirmed"].as_i64().unwrap();
    let late = app.seeker(999, "patient", Some("hubei")).await;
    let slate = app.slate(&late, "").await;
    let (expert, _) = slate
        .iter()
        .find(|(_, slots)| slots.iter().any(|s| s.starts_at > Utc::now()))
        .unwrap();
    app.book(&late, future_slot(&slate, *expert)).await;
    let script = format!(
        "return window.__stillTheSamePage === true && \
         document.querySelector('[data-figure=bookings_confirmed]').textContent === '{}'",
        before + 1
    );
    browser
        .wait_for(&script, std::time::Duration::from_secs(15))
        .await;

    // Vetting from the page: approve the first applicant.
    let first = browser
        .run("return document.querySelector('#pending tbody tr').getAttribute('data-expert')")
        .await;
    // One tap is not enough: the operator is asked, with the applicant's
    // own words, and a "no" leaves them waiting.
    browser
        .run("window.__asked = []; window.confirm = (m) => { window.__asked.push(m); return false; }; return true")
        .await;
    browser.click("#pending tbody tr .approve").await;
    let asked = browser.run("return window.__asked").await;
    let bio: String = sqlx::query_scalar("SELECT bio FROM experts WHERE id = $1::text::uuid")
        .bind(first.as_str().unwrap())
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(asked[0].as_str().unwrap().contains(&bio), "{asked}");
    assert_eq!(
        browser
            .run("return document.querySelectorAll('#pending tbody tr').length")
            .await,
        2
    );
    browser
        .run("window.confirm = () => true; return true")
        .await;
    browser.click("#pending tbody tr .approve").await;
    browser
        .wait_for(
            "return document.querySelectorAll('#pending tbody tr').length === 1",
            std::time::Duration::from_secs(10),
        )
        .await;
    let status: String = sqlx::query_scalar("SELECT status FROM experts WHERE id = $1")
        .bind(first.as_str().unwrap().parse::<Uuid>().unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "approved");

    // Declining several at once: tick, decline, confirm.
    let rest = browser
        .run("return document.querySelector('#pending tbody tr').getAttribute('data-expert')")
        .await;
    browser
        .run("window.confirm = () => true; return true")
        .await;
    browser.click("#pending tbody tr .pick").await;
    browser.click("#decline-selected").await;
    browser
        .wait_for(
            "return document.querySelectorAll('#pending tbody tr').length === 0",
            std::time::Duration::from_secs(10),
        )
        .await;
    let status: String = sqlx::query_scalar("SELECT status FROM experts WHERE id = $1")
        .bind(rest.as_str().unwrap().parse::<Uuid>().unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "suspended");

    // Regions by name, and the roll-out's switch: closing Hubei closes it
    // for its seekers (and is audited).
    let named = browser
        .wait_for(
            "return document.querySelectorAll('#regions input[data-region]').length === 34 && document.querySelector('#breakdown').textContent",
            std::time::Duration::from_secs(10),
        )
        .await;
    assert!(named.as_str().unwrap().contains("Hubei"), "{named}");
    assert!(!named.as_str().unwrap().contains("CN-HB"), "{named}");
    browser.click("#regions input[data-region=\"CN-HB\"]").await;
    anxin_testkit::eventually(
        "Hubei closed from the page",
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(100),
        || async {
            let open: bool = sqlx::query_scalar("SELECT open FROM regions WHERE code = 'CN-HB'")
                .fetch_one(&app.db)
                .await
                .unwrap();
            (!open).then_some(())
        },
    )
    .await;

    // And on a phone.
    browser.resize(390, 844).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let overflow = browser
        .run("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(overflow, true, "the page fits a phone's width");
    std::fs::write(
        dir.join("ops-dashboard-phone.png"),
        browser.screenshot_full_page().await,
    )
    .unwrap();

    // In Chinese (the default without an English Accept-Language; here by
    // the switch): the page's own texts and the drawn ones, the figures
    // unchanged.
    let english = browser
        .run("return document.querySelector('[data-figure=\"bookings_confirmed\"]').textContent")
        .await;
    browser.click("#lang-switch").await;
    let shown = browser
        .wait_for(
            "return document.documentElement.lang === 'zh-CN' && document.body.getAttribute('data-updated') && \
             [document.querySelector('#referral-card .label').textContent, \
              document.querySelector('#funnel li span').textContent, \
              document.querySelector('#lang-switch').textContent, \
              document.querySelector('[data-figure=\"bookings_confirmed\"]').textContent]",
            std::time::Duration::from_secs(10),
        )
        .await;
    assert_eq!(shown[0], "待处理转介");
    assert_eq!(shown[1], "看到名单");
    assert_eq!(shown[2], "English");
    assert_eq!(shown[3], english);
    browser.resize(1366, 900).await;
    // The charts are drawn to the width at the next poll.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    std::fs::write(
        dir.join("ops-dashboard-zh.png"),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser.quit().await;
    app.stop().await;
}
