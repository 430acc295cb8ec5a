//! Webhooks to the host app, against a receiver the test starts: every event
//! type signed, retries after failures, a hanging receiver that holds up no
//! booking, reminders once, replay, and no phone number or subject in any
//! payload.
use crate::helpers::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anxin_api::auth::{Claims, Role};
use anxin_domain::payment::ProviderName;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const SECRET: &str = "whsec-test-3f9a";
pub(crate) const PHONE: &str = "+8613698765432";

/// One request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub id: String,
    pub signature: String,
    pub body: String,
}

#[derive(Default)]
pub(crate) struct Receiver {
    pub got: Vec<Received>,
    /// Answer 500 to this many requests first.
    fail_first: usize,
    /// Never answer (until the test ends).
    hang: bool,
}

async fn receive(req: HttpRequest, body: String, r: web::Data<Mutex<Receiver>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (fail, hang) = {
        let mut r = r.lock().unwrap();
        r.got.push(Received {
            id: header("Anxin-Webhook-Id"),
            signature: header("Anxin-Signature"),
            body,
        });
        let fail = r.fail_first > 0;
        if fail {
            r.fail_first -= 1;
        }
        (fail, r.hang)
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    if fail {
        HttpResponse::InternalServerError().finish()
    } else {
        HttpResponse::Ok().finish()
    }
}

pub(crate) async fn receiver(fail_first: usize, hang: bool) -> (String, Arc<Mutex<Receiver>>) {
    let state = web::Data::new(Mutex::new(Receiver {
        fail_first,
        hang,
        ..Receiver::default()
    }));
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/hooks", web::post().to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hooks"), state.into_inner())
}

pub(crate) async fn app_sending_to(
    url: &str,
    tweak: impl FnOnce(&mut anxin::config::Settings),
) -> TestApp {
    let url = url.to_string();
    spawn_app_with(move |s| {
        s.webhook_url = Some(url);
        s.webhook_secret = Some(SECRET.into());
        s.webhook_first_retry_seconds = 0.2;
        tweak(s);
    })
    .await
}

/// Checks the signature as a receiver would: HMAC-SHA256 of "<t>.<body>".
pub(crate) fn verifies(r: &Received) -> bool {
    let Some((t, v1)) = r
        .signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
    else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    fresh && hex::encode(mac.finalize().into_bytes()) == v1
}

/// A seeker token whose `ref` claim the host app set.
pub(crate) fn seeker_with_ref(sub: &str, seeker_ref: &str) -> String {
    let claims = Claims {
        sub: sub.into(),
        role: Role::Seeker,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: 0,
        seeker_ref: Some(seeker_ref.into()),
        group: None,
        region: None,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(anxin::config::DEV_JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A new expert with one slot from `starts_in` for an hour; returns it.
pub(crate) async fn slot_at(app: &TestApp, starts_in: chrono::Duration) -> Uuid {
    let at = chrono::Utc::now() + starts_in;
    expert_with_slots_at(app, "Dr. Test", &[at]).await.1[0]
}

/// A new approved expert named `name` with one hour-long slot from each of
/// `starts` (and no weekly hours); returns the expert and the slots.
pub(crate) async fn expert_with_slots_at(
    app: &TestApp,
    name: &str,
    starts: &[chrono::DateTime<chrono::Utc>],
) -> (Uuid, Vec<Uuid>) {
    let r = app
        .post(&operator(), "/v1/experts", &expert_profile(name))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let expert: Uuid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{expert}/availability"),
            &json!({"timezone": "UTC", "slot_minutes": 60, "weekly": []}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let db = app.db().await;
    let mut slots = Vec::new();
    for at in starts {
        let slot = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO slots (id, expert_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(slot)
        .bind(expert)
        .bind(at)
        .bind(*at + chrono::Duration::hours(1))
        .execute(&db)
        .await
        .unwrap();
        slots.push(slot);
    }
    anxin_core::flows::reconcile::expert(&app.state, anxin_domain::ids::ExpertId(expert))
        .await
        .unwrap();
    (expert, slots)
}

/// Hold, pay on the simulated page, book; returns the booking id.
pub(crate) async fn paid_booking(app: &TestApp, seeker: &str, slot: Uuid) -> String {
    paid_booking_with(app, seeker, slot, PHONE, None).await
}

/// Hold, pay on the simulated page, book with this phone (and note);
/// returns the booking id.
pub(crate) async fn paid_booking_with(
    app: &TestApp,
    seeker: &str,
    slot: Uuid,
    phone: &str,
    note: Option<&str>,
) -> String {
    let hold = app.held(seeker, slot).await;
    let p: Value = app
        .post(seeker, &format!("/v1/holds/{hold}/payment"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .client
        .post(app.url(&format!(
            "/pay/simulated/{}",
            p["payment_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = json!({"hold_id": hold, "phone": phone});
    if let Some(note) = note {
        body["note"] = json!(note);
    }
    let r = app.post(seeker, "/v1/bookings", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["booking_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs the call worker with `provider` until the booking's call is over.
pub(crate) async fn with_worker(
    app: &TestApp,
    provider: anxin_calls::SimulatedProvider,
    booking: &str,
) {
    let worker = RunningWorker::start(app, provider).await;
    let db = app.db().await;
    anxin_testkit::eventually(
        "the call's task is done",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let state: String =
                sqlx::query_scalar("SELECT state FROM call_tasks WHERE booking_id = $1")
                    .bind(booking.parse::<Uuid>().unwrap())
                    .fetch_one(&db)
                    .await
                    .unwrap();
            (state == "done").then_some(())
        },
    )
    .await;
    worker.stop().await;
}

/// Waits until the receiver's requests satisfy `enough`; returns them.
pub(crate) async fn wait_for(
    r: &Arc<Mutex<Receiver>>,
    what: &str,
    enough: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    anxin_testkit::eventually(
        what,
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let got = r.lock().unwrap().got.clone();
            let done = enough(&got);
            async move { done.then_some(got) }
        },
    )
    .await
}

pub(crate) fn types(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn every_event_type_arrives_signed_with_the_seekers_ref_and_never_a_number_or_subject() {
    let (url, got) = receiver(0, false).await;
    let app = app_sending_to(&url, |s| {
        s.payment_provider = Some(ProviderName::Simulated);
        s.call_max_attempts = 1;
        s.reminder_minutes = 10;
    })
    .await;
    let subject = format!("host-user-{}", Uuid::new_v4());
    let seeker = seeker_with_ref(&subject, "host-ref-42");

    // Confirmed, and reminded: it starts in five minutes.
    let soon = paid_booking(
        &app,
        &seeker,
        slot_at(&app, chrono::Duration::minutes(5)).await,
    )
    .await;
    // Cancelled before it starts: the fee is refunded.
    let cancelled = paid_booking(
        &app,
        &seeker,
        slot_at(&app, chrono::Duration::hours(5)).await,
    )
    .await;
    let r = app
        .post(
            &seeker,
            &format!("/v1/bookings/{cancelled}/cancel"),
            &json!({"reason": "feeling better"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    anxin_core::flows::payments::settle(&app.state)
        .await
        .unwrap();
    // A call that completes, and one the expert never answers.
    let other = seeker_with_ref(&format!("host-user-{}", Uuid::new_v4()), "host-ref-43");
    let completed = paid_booking(
        &app,
        &other,
        slot_at(&app, chrono::Duration::minutes(-1)).await,
    )
    .await;
    with_worker(&app, quick_phones(1.0), &completed).await;
    let third = seeker_with_ref(&format!("host-user-{}", Uuid::new_v4()), "host-ref-44");
    let failed = paid_booking(
        &app,
        &third,
        slot_at(&app, chrono::Duration::minutes(-1)).await,
    )
    .await;
    with_worker(&app, quick_phones(0.0), &failed).await;

    let all = wait_for(&got, "every event type", |g| {
        let t = types(g);
        [
            "booking.confirmed",
            "booking.cancelled",
            "call.reminder",
            "call.completed",
            "call.failed",
            "payment.refunded",
        ]
        .iter()
        .all(|want| t.iter().any(|x| x == want))
    })
    .await;
    for r in &all {
        assert!(verifies(r), "signature does not verify: {r:?}");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["id"], r.id.as_str(), "Anxin-Webhook-Id is the event's id");
        assert!(
            v["created_at"].is_string() && v["data"]["starts_at"].is_string(),
            "{v}"
        );
        for secret in ["13698765432", "3698765432", subject.as_str(), "host-user-"] {
            assert!(
                !r.body.contains(secret),
                "a payload carries {secret}: {}",
                r.body
            );
        }
    }
    let event = |kind: &str, booking: &str| -> Value {
        all.iter()
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .find(|v| v["type"] == kind && v["data"]["booking_id"] == booking)
            .unwrap_or_else(|| panic!("no {kind} for {booking}"))
    };
    assert_eq!(
        event("booking.confirmed", &soon)["data"]["seeker_ref"],
        "host-ref-42"
    );
    event("call.reminder", &soon);
    let c = event("booking.cancelled", &cancelled);
    assert_eq!(c["data"]["reason"], "feeling better");
    let refund = event("payment.refunded", &cancelled);
    assert_eq!(refund["data"]["amount_minor"], 1);
    assert_eq!(refund["data"]["seeker_ref"], "host-ref-42");
    assert_eq!(
        event("call.completed", &completed)["data"]["seeker_ref"],
        "host-ref-43"
    );
    let f = event("call.failed", &failed);
    assert_eq!(f["data"]["outcome"], "expert_no_answer");
    assert_eq!(f["data"]["seeker_ref"], "host-ref-44");
    // The ref is sealed at rest like the phone.
    let dump = app.postgres_dump().await;
    assert!(
        !dump.contains("host-ref-4"),
        "the seeker's ref is stored in the clear"
    );
    assert!(
        app.get(&operator(), "/v1/ops/board")
            .await
            .json::<Value>()
            .await
            .unwrap()["webhooks"]["enabled"]
            == true
    );
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_event_a_third_time_and_replay_sends_it_again() {
    let (url, got) = receiver(2, false).await;
    let app = app_sending_to(&url, |_| {}).await;
    let slot = app.future_slots(1).await[0];
    app.book(&new_seeker(), slot, PHONE).await;

    let three = wait_for(&got, "three attempts", |g| g.len() >= 3).await;
    assert!(
        three.iter().all(|r| r.id == three[0].id),
        "the same event each time"
    );
    assert!(three.iter().all(verifies));
    let db = app.db().await;
    let attempts = anxin_testkit::eventually(
        "the webhook is delivered",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let (state, attempts): (String, i32) =
                sqlx::query_as("SELECT state, attempts FROM webhooks WHERE id = $1")
                    .bind(three[0].id.parse::<Uuid>().unwrap())
                    .fetch_one(&db)
                    .await
                    .unwrap();
            (state == "delivered").then_some(attempts)
        },
    )
    .await;
    assert_eq!(attempts, 3);
    let health: Value = app
        .get(&operator(), "/v1/ops/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(health["webhooks"]["pending"], 0);
    assert_eq!(health["webhooks"]["failed"], 0);

    // Replay (`anxin webhooks replay --since 1h`): the same event once more.
    let n = anxin_core::flows::webhooks::replay(
        &app.state,
        chrono::Utc::now() - chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    let again = wait_for(&got, "the replay", |g| g.len() >= 4).await;
    assert_eq!(again[3].id, three[0].id);
}

#[tokio::test]
async fn a_receiver_that_hangs_holds_up_no_confirmation() {
    let (url, got) = receiver(0, true).await;
    let app = app_sending_to(&url, |_| {}).await;
    let slots = app.future_slots(5).await;
    app.book(&new_seeker(), slots[0], PHONE).await;
    // The receiver holds that event's request open...
    wait_for(&got, "the first event", |g| !g.is_empty()).await;
    // ...and seekers keep booking all the same.
    for slot in &slots[1..] {
        app.book(&new_seeker(), *slot, PHONE).await;
    }
    let undelivered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhooks WHERE state = 'pending'")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(undelivered, 5, "the receiver still has not answered");
}

#[tokio::test]
async fn a_reminder_goes_once_per_booking_and_never_for_a_cancelled_one() {
    let (url, got) = receiver(0, false).await;
    let app = app_sending_to(&url, |s| s.reminder_minutes = 10).await;
    let kept = app
        .book(
            &new_seeker(),
            slot_at(&app, chrono::Duration::minutes(5)).await,
            PHONE,
        )
        .await;
    let seeker = new_seeker();
    let dropped = app
        .book(
            &seeker,
            slot_at(&app, chrono::Duration::minutes(6)).await,
            PHONE,
        )
        .await;
    let r = app
        .post(
            &seeker,
            &format!("/v1/bookings/{dropped}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Later than ten minutes out: not yet.
    let later = app
        .book(
            &new_seeker(),
            slot_at(&app, chrono::Duration::minutes(30)).await,
            PHONE,
        )
        .await;
    for _ in 0..3 {
        anxin_store::webhooks::queue_reminders(&app.state.pool, chrono::Duration::minutes(10))
            .await
            .unwrap();
    }
    wait_for(&got, "the reminder", |g| {
        types(g).iter().any(|t| t == "call.reminder")
    })
    .await;
    let reminders: Vec<Uuid> =
        sqlx::query_scalar("SELECT booking_id FROM webhooks WHERE type = 'call.reminder'")
            .fetch_all(&app.db().await)
            .await
            .unwrap();
    assert_eq!(reminders, [kept]);
    let _ = later;
}

#[tokio::test]
async fn without_a_url_the_triggers_are_off_and_nothing_is_written() {
    let app = spawn_app().await;
    let slot = app.future_slots(1).await[0];
    let seeker = new_seeker();
    let booking = app.book(&seeker, slot, PHONE).await;
    let r = app
        .post(
            &seeker,
            &format!("/v1/bookings/{booking}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let db = app.db().await;
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(written, 0);
    let enabled: Vec<String> = sqlx::query_scalar(
        "SELECT tgname::text FROM pg_trigger WHERE tgname LIKE 'webhooks_of_%' AND tgenabled <> 'D'",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(enabled.is_empty(), "{enabled:?}");
}
