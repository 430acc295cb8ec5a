//! The booking fee through the simulated provider: the payment is tied to
//! the hold, keeps it alive, is required to book, and is refunded once when
//! the seeker did not get what they paid for.
use crate::helpers::*;
use anxin_domain::payment::ProviderName;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

const PHONE: &str = "+8613612345678";

async fn paying_app(tweak: impl FnOnce(&mut anxin::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.payment_provider = Some(ProviderName::Simulated);
        tweak(s);
    })
    .await
}

pub(crate) async fn start_payment(app: &TestApp, seeker: &str, hold: &str) -> reqwest::Response {
    app.post(seeker, &format!("/v1/holds/{hold}/payment"), &json!({}))
        .await
}

/// Pays on the simulated page as a browser does (a form POST, no token).
pub(crate) async fn pay(app: &TestApp, payment: &str) -> String {
    let r = app
        .client
        .post(app.url(&format!("/pay/simulated/{payment}")))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

async fn payment(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app.get(token, &format!("/v1/payments/{id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_hold_is_booked_only_once_its_fee_is_paid_on_the_simulated_page() {
    let app = paying_app(|_| {}).await;
    let slot = app.future_slots(1).await[0];
    let seeker = new_seeker();
    let hold = app.held(&seeker, slot).await;

    // Unpaid: 402, and the hold stays (the seeker may be in the cashier).
    let r = app.confirm(&seeker, &hold, PHONE).await;
    assert_error(r, StatusCode::PAYMENT_REQUIRED, "payment_required").await;

    let r = start_payment(&app, &seeker, &hold).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let started: Value = r.json().await.unwrap();
    assert_eq!(started["status"], "pending");
    assert_eq!(started["amount_minor"], 1);
    assert_eq!(started["currency"], "CNY");
    assert_eq!(started["provider"], "simulated");
    assert_eq!(started["simulated"], true);
    let id = started["payment_id"].as_str().unwrap().to_string();
    assert_eq!(
        started["pay_url"],
        format!("{}/pay/simulated/{id}", app.address)
    );
    // A second request returns the same payment.
    let r = start_payment(&app, &seeker, &hold).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["payment_id"], id.as_str());
    // Not another seeker's to pay, see or book.
    let other = new_seeker();
    let r = start_payment(&app, &other, &hold).await;
    assert_error(r, StatusCode::CONFLICT, "hold_expired").await;
    let r = app.get(&other, &format!("/v1/payments/{id}")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let expert = token(anxin_api::auth::Role::Expert, &Uuid::new_v4().to_string());
    let r = app.get(&expert, &format!("/v1/payments/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The page shows the amount in yuan and says it is simulated.
    let page = app
        .client
        .get(app.url(&format!("/pay/simulated/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("¥0.01") && page.contains("模拟支付"),
        "{page}"
    );
    assert!(page.contains(r#"<form method="post">"#));
    // Paying twice pays once.
    let paid = pay(&app, &id).await;
    assert!(paid.contains("Payment received"), "{paid}");
    let again = pay(&app, &id).await;
    assert!(!again.contains("Payment received") && !again.contains("<form"));
    assert_eq!(payment(&app, &seeker, &id).await["status"], "paid");
    assert!(app
        .metrics()
        .await
        .contains(r#"anxin_payments_total{event="paid"} 1"#));

    let booking = app.confirm(&seeker, &hold, PHONE).await;
    assert_eq!(booking.status(), StatusCode::CREATED);
    let booking: Value = booking.json().await.unwrap();
    let seen = payment(&app, &operator(), &id).await;
    assert_eq!(seen["booking_id"], booking["booking_id"]);
    assert_eq!(seen["status"], "paid");

    // Unknown payments, bad ids.
    let r = app
        .get(&seeker, &format!("/v1/payments/{}", Uuid::new_v4()))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.get(&seeker, "/v1/payments/not-a-uuid").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .client
        .post(app.url(&format!("/pay/simulated/{}", Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The seeker's number is nowhere in the payment's rows or the logs.
    let db = app.db().await;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT row_to_json(p)::text FROM payments p
         UNION ALL SELECT row_to_json(n)::text FROM payment_notifications n
         UNION ALL SELECT row_to_json(r)::text FROM refunds r",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        // Every spelling of it: whole, grouped, or masked (a bare "5678"
        // also turns up inside random ids).
        for spelling in ["12345678", "1234 5678", "1234-5678", "*5678"] {
            assert!(!row.contains(spelling), "{spelling} in {row}");
        }
    }
    assert!(!logs().text().contains("13612345678"));
    assert!(!app.metrics().await.contains("13612345678"));
}

#[tokio::test]
async fn a_pending_payment_keeps_the_hold_and_once_it_expires_the_slot_opens_again() {
    let app = paying_app(|s| {
        s.hold_ttl_seconds = 1;
        s.payment_window_seconds = 2;
    })
    .await;
    let slot = app.future_slots(1).await[0];
    let seeker = new_seeker();
    let hold = app.held(&seeker, slot).await;
    let r = start_payment(&app, &seeker, &hold).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["payment_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Well past the hold's own time, the seeker in the cashier keeps it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = app.hold(&new_seeker(), slot).await;
    assert_error(r, StatusCode::CONFLICT, "slot_unavailable").await;
    assert_eq!(
        app.confirm(&seeker, &hold, PHONE).await.status(),
        StatusCode::PAYMENT_REQUIRED
    );

    // The payment's time (and the hold's margin past it) runs out: the
    // payment reads expired and the slot is open to others again.
    anxin_testkit::eventually(
        "the slot opens once the payment expired",
        Duration::from_secs(15),
        Duration::from_millis(250),
        || async {
            (app.hold(&new_seeker(), slot).await.status() == StatusCode::CREATED).then_some(())
        },
    )
    .await;
    anxin_core::flows::payments::settle(&app.state)
        .await
        .unwrap();
    assert_eq!(payment(&app, &seeker, &id).await["status"], "expired");
    let r = app.confirm(&seeker, &hold, PHONE).await;
    assert_error(r, StatusCode::CONFLICT, "hold_expired").await;
}

#[tokio::test]
async fn with_a_fee_of_zero_there_is_no_payment_step() {
    let app = paying_app(|s| s.fee_minor = 0).await;
    let slot = app.future_slots(1).await[0];
    let seeker = new_seeker();
    let hold = app.held(&seeker, slot).await;
    let r = start_payment(&app, &seeker, &hold).await;
    assert_error(r, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(
        app.confirm(&seeker, &hold, PHONE).await.status(),
        StatusCode::CREATED
    );
}

/// A hold held and paid; returns (hold id, payment id).
async fn paid_hold(app: &TestApp, seeker: &str, slot: Uuid) -> (String, String) {
    let hold = app.held(seeker, slot).await;
    let r = start_payment(app, seeker, &hold).await;
    let id = r.json::<Value>().await.unwrap()["payment_id"]
        .as_str()
        .unwrap()
        .to_string();
    pay(app, &id).await;
    (hold, id)
}

#[tokio::test]
async fn a_fee_is_refunded_once_when_the_seeker_did_not_get_their_call() {
    let app = paying_app(|_| {}).await;
    let slot = app.future_slots(4).await;
    let db = app.db().await;
    let settle = || anxin_core::flows::payments::settle(&app.state);

    // 1. A paid booking cancelled before it starts, by two racing cancels.
    let seeker = new_seeker();
    let (hold, cancelled) = paid_hold(&app, &seeker, slot[0]).await;
    let booking: Value = app
        .confirm(&seeker, &hold, PHONE)
        .await
        .json()
        .await
        .unwrap();
    let booking_id = booking["booking_id"].as_str().unwrap();
    let statuses = app.cancel_twice_at_once(&seeker, booking_id).await;
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);

    // 2. A paid hold that lapses without a booking (its time moved back
    //    past the hold period).
    let lapser = new_seeker();
    let (_, lapsed) = paid_hold(&app, &lapser, slot[1]).await;
    sqlx::query(
        "UPDATE payments SET paid_at = now() - interval '1 hour',
                             expires_at = now() - interval '1 hour' WHERE id = $1",
    )
    .bind(lapsed.parse::<Uuid>().unwrap())
    .execute(&db)
    .await
    .unwrap();

    // 3. A call the expert never answered; and 4. one the seeker missed.
    let mut failed = Vec::new();
    for outcome in ["expert_no_answer", "seeker_no_answer"] {
        let s = new_seeker();
        let (hold, id) = paid_hold(
            &app,
            &s,
            slot[if outcome == "expert_no_answer" { 2 } else { 3 }],
        )
        .await;
        let b: Value = app.confirm(&s, &hold, PHONE).await.json().await.unwrap();
        sqlx::query("UPDATE call_tasks SET state = 'done', outcome = $2 WHERE booking_id = $1")
            .bind(b["booking_id"].as_str().unwrap().parse::<Uuid>().unwrap())
            .bind(outcome)
            .execute(&db)
            .await
            .unwrap();
        failed.push(id);
    }

    let first = settle().await.unwrap();
    assert_eq!((first.owed, first.refunded), (3, 3), "{first:?}");
    // Settling again (another instance, a retry) refunds nothing twice.
    let second = settle().await.unwrap();
    assert_eq!((second.owed, second.refunded), (0, 0));

    for id in [&cancelled, &lapsed, &failed[0]] {
        assert_eq!(
            payment(&app, &operator(), id).await["status"],
            "refunded",
            "{id}"
        );
    }
    assert_eq!(
        payment(&app, &operator(), &failed[1]).await["status"],
        "paid"
    );
    let reasons: Vec<(String, i32)> =
        sqlx::query_as("SELECT reason, attempts FROM refunds ORDER BY reason")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        reasons,
        [
            ("call_failed".to_string(), 1),
            ("cancelled_before_start".to_string(), 1),
            ("hold_lapsed".to_string(), 1)
        ]
    );
    assert!(app
        .metrics()
        .await
        .contains(r#"anxin_payments_total{event="refunded"} 3"#));
}
