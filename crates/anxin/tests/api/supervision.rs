//! Supervision and training: modules before approval, supervisors, and the
//! debriefs hard sessions open.
use crate::helpers::*;
use crate::organisations::{approved, status_of, volunteer};
use crate::referrals::running_session;
use anxin_api::auth::Role;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

const NOTE_CANARY: &str = "debrief-note-canary-7731: she carried the call well";

async fn module(app: &TestApp, title: &str, self_attest: bool) -> String {
    let r = app
        .post(
            &operator(),
            "/v1/training/modules",
            &json!({"title": title, "url": "https://example.org/guide", "required": true,
                    "self_attest": self_attest}),
        )
        .await;
    created_as(r, "id").await
}

async fn audited(app: &TestApp, action: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT actor_role, actor_id FROM audit_log WHERE action = $1 ORDER BY at")
        .bind(action)
        .fetch_all(&app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn approval_waits_for_the_required_training_and_only_some_of_it_is_self_attested() {
    let app = spawn_app().await;
    // Only operators define modules, and a module is checked.
    let r = app
        .post(
            &token(Role::Expert, &Uuid::new_v4().to_string()),
            "/v1/training/modules",
            &json!({"title": "x", "required": true, "self_attest": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for (body, field) in [
        (
            json!({"title": " ", "required": true, "self_attest": true}),
            "title",
        ),
        (
            json!({"title": "指引", "url": "javascript:alert(1)", "required": true, "self_attest": true}),
            "url",
        ),
    ] {
        let r = app.post(&operator(), "/v1/training/modules", &body).await;
        assert_eq!(
            assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
            field
        );
    }
    let guide = module(&app, "操作指引一：接听前的准备", true).await;
    let crisis = module(&app, "操作指引二：危机干预", false).await;
    let r = app
        .post(
            &operator(),
            "/v1/training/modules",
            &json!({"title": "延伸阅读", "body": "可选", "required": false, "self_attest": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let listed = app.get_json(&new_seeker(), "/v1/training/modules").await;
    assert_eq!(listed.as_array().unwrap().len(), 3);

    // An applicant is not approved before the required modules are done.
    let applicant = volunteer(&app, "王老师", None).await;
    let approve = || {
        let app = &app;
        async move {
            app.post(
                &operator(),
                &format!("/v1/experts/{applicant}/approve"),
                &json!({}),
            )
            .await
        }
    };
    let refused = assert_error(approve().await, StatusCode::CONFLICT, "training_incomplete").await;
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("接听前的准备") && message.contains("危机干预"),
        "{message}"
    );
    assert_eq!(status_of(&app, applicant).await, "applied");
    // The dashboard says what is missing beside the applicant.
    let board = app.get_json(&operator(), "/v1/ops/board").await;
    assert_eq!(
        board["pending_experts"][0]["training_missing"],
        json!(["操作指引一：接听前的准备", "操作指引二：危机干预"])
    );

    // The applicant attests the self-attest one, not the other.
    let own = token(Role::Expert, &applicant.to_string());
    let r = app
        .post(
            &own,
            &format!("/v1/experts/{applicant}/training/{guide}"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let progress: Vec<Value> = r.json().await.unwrap();
    let done: Vec<&str> = progress
        .iter()
        .filter(|m| m["completed_at"].is_string())
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    assert_eq!(done, ["操作指引一：接听前的准备"]);
    let r = app
        .post(
            &own,
            &format!("/v1/experts/{applicant}/training/{crisis}"),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let still = assert_error(approve().await, StatusCode::CONFLICT, "training_incomplete").await;
    assert!(!still["message"].as_str().unwrap().contains("接听前的准备"));
    // Another expert sees nothing of it.
    let stranger = token(Role::Expert, &Uuid::new_v4().to_string());
    let r = app
        .get(&stranger, &format!("/v1/experts/{applicant}/training"))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // An operator marks the other; marking again changes nothing.
    for _ in 0..2 {
        let r = app
            .post(
                &operator(),
                &format!("/v1/experts/{applicant}/training/{crisis}"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(approve().await.status(), StatusCode::OK);
    assert_eq!(status_of(&app, applicant).await, "approved");
    let marks = audited(&app, "training.complete").await;
    assert_eq!(
        marks.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        ["expert", "operator"],
        "one audit record per completion, with who"
    );
}

/// An approved expert of `org` with a session under way; (expert, booking).
async fn member_in_session(app: &TestApp, org: &str) -> (Uuid, Uuid) {
    let (expert, booking) = running_session(app).await;
    join(app, expert, org).await;
    (expert, booking)
}

pub(crate) async fn join(app: &TestApp, expert: Uuid, org: &str) {
    sqlx::query("UPDATE experts SET organisation_id = $2 WHERE id = $1")
        .bind(expert)
        .bind(org.parse::<Uuid>().unwrap())
        .execute(&app.db().await)
        .await
        .unwrap();
}

/// An approved expert of `org` with the supervisor flag.
pub(crate) async fn supervisor_of(app: &TestApp, org: &str) -> Uuid {
    let s = app.expert_with(&all_week(60)).await;
    join(app, s, org).await;
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{s}/flags"),
            &json!({"supervisor": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    s
}

async fn debriefs(app: &TestApp, who: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(who, &format!("/v1/supervision/debriefs{query}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn an_emergency_referral_opens_a_debrief_for_the_experts_supervisor_alone() {
    let app = spawn_app().await;
    let org = approved(&app, "武汉市心理咨询师协会", "hubei").await;
    let other_org = approved(&app, "北京心理援助中心", "beijing").await;
    let (expert, booking) = member_in_session(&app, &org).await;
    let supervisor = supervisor_of(&app, &org).await;
    let stranger = supervisor_of(&app, &other_org).await;
    let unflagged = app.expert_with(&all_week(60)).await;
    join(&app, unflagged, &org).await;

    // A supervisor is a flagged, approved expert of the same organisation.
    for bad in [unflagged, stranger, expert] {
        let r = app
            .put(
                &operator(),
                &format!("/v1/experts/{expert}/supervisor"),
                &json!({ "supervisor_id": bad }),
            )
            .await;
        assert_eq!(
            assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
            "supervisor_id"
        );
    }
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{expert}/supervisor"),
            &json!({ "supervisor_id": supervisor }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(audited(&app, "expert.supervisor").await.len(), 1);
    // The supervisor confirms a module the volunteer may not attest; a
    // supervisor of another organisation can't.
    let practice = module(&app, "危机干预演练", false).await;
    let mark = |who: Uuid| {
        let (app, practice) = (&app, &practice);
        async move {
            app.post(
                &token(Role::Expert, &who.to_string()),
                &format!("/v1/experts/{expert}/training/{practice}"),
                &json!({}),
            )
            .await
        }
    };
    assert_error(mark(stranger).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(mark(expert).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(mark(supervisor).await.status(), StatusCode::OK);

    // The session ends in an emergency referral.
    let own = token(Role::Expert, &expert.to_string());
    let recorded_at = Utc::now();
    let r = app
        .post(
            &own,
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": "emergency",
                    "wellbeing": 2, "debrief": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let outcome: Value = r.json().await.unwrap();
    let debrief = outcome["debrief_id"].as_str().unwrap().to_string();

    // Due within a day, to this supervisor.
    let s = token(Role::Expert, &supervisor.to_string());
    let theirs = debriefs(&app, &s, "").await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    let d = &theirs[0];
    assert_eq!(
        (&d["debrief_id"], &d["reason"], &d["status"], &d["overdue"]),
        (
            &json!(debrief),
            &json!("emergency_referral"),
            &json!("open"),
            &json!(false)
        )
    );
    assert_eq!(d["expert_id"], json!(expert));
    let due: DateTime<Utc> = d["due_at"].as_str().unwrap().parse().unwrap();
    let hours = (due - recorded_at).num_minutes() as f64 / 60.0;
    assert!((23.9..24.1).contains(&hours), "due in {hours} h");
    // Nobody else's: another organisation's supervisor sees none and can't
    // close it; a seeker may not look.
    let other = token(Role::Expert, &stranger.to_string());
    assert!(debriefs(&app, &other, "").await.is_empty());
    let r = app
        .post(
            &other,
            &format!("/v1/supervision/debriefs/{debrief}/done"),
            &json!({"note": "x"}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        app.get(&new_seeker(), "/v1/supervision/debriefs")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // The expert sees that one is arranged; correcting the outcome opens no
    // second one.
    assert_eq!(debriefs(&app, &own, "?status=open").await.len(), 1);
    let r = app
        .post(
            &own,
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "cut_short", "follow_up": "refer", "urgency": "emergency"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(debriefs(&app, &s, "").await.len(), 1);

    // Overdue once past due, until it is done.
    sqlx::query("UPDATE debriefs SET due_at = now() - interval '1 hour'")
        .execute(&app.db().await)
        .await
        .unwrap();
    assert_eq!(debriefs(&app, &s, "?status=open").await[0]["overdue"], true);
    // Counted on /ops, and on the organisation's page (its own only).
    let board = app.get_json(&operator(), "/v1/ops/board").await;
    assert_eq!(board["debriefs"], json!({"open": 1, "overdue": 1}));
    for (org_id, seen) in [(&org, 1), (&other_org, 0)] {
        let name = format!("admin of {org_id}");
        let r = app
            .post(
                &operator(),
                &format!("/v1/organisations/{org_id}/admins"),
                &json!({ "name": name }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let admin = token(Role::OrgAdmin, &name);
        let open = debriefs(&app, &admin, "?status=open").await;
        assert_eq!(open.len(), seen, "{open:?}");
    }
    let r = app
        .post(
            &s,
            &format!("/v1/supervision/debriefs/{debrief}/done"),
            &json!({"note": " "}),
        )
        .await;
    assert_eq!(
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "note"
    );
    let r = app
        .post(
            &s,
            &format!("/v1/supervision/debriefs/{debrief}/done"),
            &json!({ "note": NOTE_CANARY }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &s,
            &format!("/v1/supervision/debriefs/{debrief}/done"),
            &json!({ "note": NOTE_CANARY }),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "invalid_transition").await;
    assert!(debriefs(&app, &s, "?status=open").await.is_empty());
    assert_eq!(debriefs(&app, &s, "?status=done").await.len(), 1);
    assert_error(
        app.get(&s, "/v1/supervision/debriefs?status=later").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    let closed = audited(&app, "debrief.done").await;
    assert_eq!(closed, [("expert".to_string(), supervisor.to_string())]);

    // The note is sealed: not in any table as written, not in any answer,
    // not in the logs.
    assert!(!app.postgres_dump().await.contains("debrief-note-canary"));
    // Nor the seeker's number, in any answer about supervision.
    for who in [&s, &own, &operator()] {
        for path in [
            "/v1/supervision/debriefs".to_string(),
            format!("/v1/experts/{expert}/training"),
        ] {
            let text = app.get(who, &path).await.text().await.unwrap();
            assert!(!text.contains("debrief-note-canary"), "{text}");
            assert!(!text.contains("13712345678"), "{text}");
        }
    }
    let booking_view = app
        .get(&operator(), &format!("/v1/bookings/{booking}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!booking_view.contains("debrief-note-canary"));
    assert!(!logs().text().contains("debrief-note-canary"));
}

#[tokio::test]
async fn an_ordinary_session_opens_no_debrief_and_a_request_opens_one_due_in_three_days() {
    let app = spawn_app().await;
    let (quiet, quiet_booking) = running_session(&app).await;
    let r = app
        .post(
            &token(Role::Expert, &quiet.to_string()),
            &format!("/v1/bookings/{quiet_booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "none", "wellbeing": 5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.unwrap()["debrief_id"].is_null());
    let r = app
        .post(
            &token(Role::Expert, &quiet.to_string()),
            &format!("/v1/bookings/{quiet_booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "none", "wellbeing": 6}),
        )
        .await;
    assert_eq!(
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "wellbeing"
    );

    let (asking, booking) = running_session(&app).await;
    let r = app
        .post(
            &token(Role::Expert, &asking.to_string()),
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "none", "debrief": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // No supervisor and no organisation: operators see it.
    let all = debriefs(&app, &operator(), "").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["reason"], "requested");
    let due: DateTime<Utc> = all[0]["due_at"].as_str().unwrap().parse().unwrap();
    assert!((due - Utc::now() - Duration::hours(72)).num_minutes().abs() < 5);
}

/// The open slots of the expert's next local week (UTC, Monday to Sunday),
/// and that Monday.
async fn next_week_slots(app: &TestApp, expert: Uuid) -> (Vec<Uuid>, chrono::NaiveDate) {
    use chrono::Datelike;
    let today = Utc::now().date_naive();
    let monday = today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()));
    (app.open_slots_on(expert, monday, 7).await, monday)
}

#[tokio::test]
async fn fifty_concurrent_holds_across_a_week_never_take_it_past_the_weekly_cap() {
    use futures_util::future::join_all;
    let app = spawn_app().await;
    let mut hours = all_week(60);
    hours["max_sessions_per_week"] = json!(4);
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{}/availability", Uuid::new_v4()),
            &json!({"timezone": "UTC", "slot_minutes": 60, "max_sessions_per_week": 61}),
        )
        .await;
    assert!(r.status().is_client_error());
    let expert = app.expert_with(&hours).await;
    let (week, monday) = next_week_slots(&app, expert).await;
    assert_eq!(week.len(), 7 * 24);

    // 50 seekers after 50 different slots spread over the week, at once.
    let picked: Vec<Uuid> = week.iter().step_by(3).take(50).copied().collect();
    let seekers: Vec<String> = picked.iter().map(|_| new_seeker()).collect();
    let answers = join_all(
        seekers
            .iter()
            .zip(&picked)
            .map(|(s, slot)| app.hold(s, *slot)),
    )
    .await;
    let mut won = Vec::new();
    for (i, r) in answers.into_iter().enumerate() {
        match r.status() {
            StatusCode::CREATED => won.push((i, hold_id(r).await)),
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    assert_eq!(won.len(), 4, "holds in a week capped at 4");
    let mut bookings = Vec::new();
    for (i, hold) in &won {
        let r = app.confirm(&seekers[*i], hold, "+8613812345678").await;
        assert_eq!(r.status(), StatusCode::CREATED);
        bookings.push((
            *i,
            r.json::<Value>().await.unwrap()["booking_id"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    let booked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM bookings WHERE expert_id = $1 AND status <> 'cancelled'
            AND starts_at >= $2::date AND starts_at < $2::date + 7",
    )
    .bind(expert)
    .bind(monday)
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_eq!(booked, 4);
    // The full week lists nothing more; the week after still does.
    let (left, _) = next_week_slots(&app, expert).await;
    assert!(left.is_empty(), "a full week lists {} slots", left.len());
    let after = (monday + Duration::days(7)).to_string();
    assert!(app
        .open_slots(expert)
        .await
        .iter()
        .any(|s| s["starts_at"].as_str().unwrap().starts_with(&after)));

    // Postgres refuses a fifth even when Redis is wrong.
    let free = *week.iter().find(|s| !picked.contains(s)).unwrap();
    app.force_open(expert, free).await;
    let seeker = new_seeker();
    let hold = app.held(&seeker, free).await;
    assert_error(
        app.confirm(&seeker, &hold, "+8613812345678").await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;

    // A cancellation frees one place: the week opens again, for one hold.
    let (i, booking) = &bookings[0];
    let r = app
        .post(
            &seekers[*i],
            &format!("/v1/bookings/{booking}/cancel"),
            &json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let (reopened, _) = next_week_slots(&app, expert).await;
    assert_eq!(reopened.len(), 7 * 24 - 3);
    let late: Vec<String> = (0..10).map(|_| new_seeker()).collect();
    let answers = join_all(late.iter().zip(&reopened).map(|(k, s)| app.hold(k, *s))).await;
    let placed = answers
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    assert_eq!(placed, 1);
}

async fn listed(app: &TestApp, expert: Uuid) -> Vec<Uuid> {
    app.open_slots(expert)
        .await
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn after_an_emergency_referral_the_rest_of_the_day_is_closed_until_the_volunteer_reopens_it()
{
    // Two half-hour slots today: one under way, one later; the same every
    // day.
    let now = Utc::now();
    let (tz, minute) = crate::dashboard_support::running_range_timezone(now);
    let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let hours = json!({
        "timezone": tz, "slot_minutes": 30, "overrides": [],
        "weekly": days.iter().map(|d| json!({"weekday": d, "start": hhmm(minute - 5),
                                             "end": hhmm(minute + 55)})).collect::<Vec<_>>(),
    });
    let app = spawn_app().await;
    let expert = app.expert_with(&hours).await;
    let slots = app.open_slots(expert).await;
    let id = |s: &Value| -> Uuid { s["slot_id"].as_str().unwrap().parse().unwrap() };
    let (running, later, tomorrow) = (id(&slots[0]), id(&slots[1]), id(&slots[2]));
    let booking = app.book(&new_seeker(), running, "+8613812345678").await;
    assert!(listed(&app, expert).await.contains(&later));

    let own = token(Role::Expert, &expert.to_string());
    let r = app
        .post(
            &own,
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": "emergency"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The rest of today is closed: not listed, not on a slate, not holdable;
    // tomorrow is as it was.
    let open = listed(&app, expert).await;
    assert!(!open.contains(&later) && open.contains(&tomorrow));
    let slate = app.get_json(&new_seeker(), "/v1/slate").await;
    assert!(!slate.to_string().contains(&later.to_string()), "{slate}");
    assert_error(
        app.hold(&new_seeker(), later).await,
        StatusCode::CONFLICT,
        "slot_unavailable",
    )
    .await;
    // The volunteer sees the closed day among their dates, and reopens it.
    let mut saved = app
        .get_json(&own, &format!("/v1/experts/{expert}/availability"))
        .await;
    let overrides = saved["overrides"].as_array().unwrap();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0]["closed"], true);
    saved["overrides"] = json!([]);
    let r = app
        .put(&own, &format!("/v1/experts/{expert}/availability"), &saved)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(listed(&app, expert).await.contains(&later));
    assert_eq!(
        app.hold(&new_seeker(), later).await.status(),
        StatusCode::CREATED
    );
}
