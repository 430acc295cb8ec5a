//! The booking fee through Alipay, against a fake Alipay gateway that speaks
//! the documented protocol: it checks the merchant's RSA2 signature on the
//! cashier order, the query and the refund, answers signed with its own key,
//! and signs the notifications the tests send as Alipay would.
use crate::helpers::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anxin_domain::payment::ProviderName;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

const APP_ID: &str = "2021000000000001";
const PHONE: &str = "+8613612345678";

fn key_file(name: &str) -> String {
    format!("{}/../core/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read_key(name: &str) -> Vec<u8> {
    std::fs::read(key_file(name)).unwrap()
}

/// The content Alipay signs: sorted, without `sign` (and `skip`), no empty values.
fn content(params: &BTreeMap<String, String>, skip: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| *k != "sign" && !skip.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn rsa2_sign(text: &str, key_name: &str) -> String {
    let key = EncodingKey::from_rsa_pem(&read_key(key_name)).unwrap();
    let sig = jsonwebtoken::crypto::sign(text.as_bytes(), &key, Algorithm::RS256).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn rsa2_verifies(text: &str, sign: &str, pub_name: &str) -> bool {
    let key = DecodingKey::from_rsa_pem(&read_key(pub_name)).unwrap();
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(sign) else {
        return false;
    };
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    jsonwebtoken::crypto::verify(&sig, text.as_bytes(), &key, Algorithm::RS256).unwrap_or(false)
}

/// What the fake gateway saw.
#[derive(Default)]
struct Seen {
    /// Orders placed at the cashier: out_trade_no → biz_content.
    orders: BTreeMap<String, Value>,
    /// Order parameters besides biz_content (notify_url, return_url, …).
    order_params: Vec<BTreeMap<String, String>>,
    /// Trades the buyer paid (what a query answers).
    paid: HashSet<String>,
    /// Refunds asked for: (out_trade_no, out_request_no, refund_amount).
    refunds: Vec<(String, String, String)>,
    queries: usize,
    bad_signatures: usize,
}

struct Gateway {
    url: String,
    seen: Arc<Mutex<Seen>>,
    server: actix_web::dev::ServerHandle,
}

fn params_of(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

fn signed_by_merchant(p: &BTreeMap<String, String>) -> bool {
    p.get("sign_type").map(String::as_str) == Some("RSA2")
        && p.get("app_id").map(String::as_str) == Some(APP_ID)
        && p.get("sign")
            .is_some_and(|s| rsa2_verifies(&content(p, &[]), s, "rsa_a.pub"))
}

/// A JSON answer as Alipay signs it: over the exact text of the member.
fn signed_answer(member: &str, body: Value) -> HttpResponse {
    let text = body.to_string();
    let sign = rsa2_sign(&text, "rsa_b.key");
    HttpResponse::Ok()
        .content_type("text/html;charset=utf-8")
        .body(format!(r#"{{"{member}":{text},"sign":"{sign}"}}"#))
}

async fn cashier(req: HttpRequest, seen: web::Data<Mutex<Seen>>) -> HttpResponse {
    let p = params_of(
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()).unwrap_or_default(),
    );
    let mut seen = seen.lock().unwrap();
    if !signed_by_merchant(&p)
        || p.get("method").map(String::as_str) != Some("alipay.trade.wap.pay")
    {
        seen.bad_signatures += 1;
        return HttpResponse::BadRequest().body("invalid-signature");
    }
    let biz: Value = serde_json::from_str(&p["biz_content"]).unwrap();
    seen.orders
        .insert(biz["out_trade_no"].as_str().unwrap().to_string(), biz);
    seen.order_params.push(p);
    HttpResponse::Ok().body("<html>Alipay cashier (fake)</html>")
}

async fn api(body: String, seen: web::Data<Mutex<Seen>>) -> HttpResponse {
    let p =
        params_of(serde_urlencoded::from_str::<Vec<(String, String)>>(&body).unwrap_or_default());
    let mut seen = seen.lock().unwrap();
    if !signed_by_merchant(&p) {
        seen.bad_signatures += 1;
        return HttpResponse::BadRequest().body("invalid-signature");
    }
    let biz: Value = serde_json::from_str(&p["biz_content"]).unwrap();
    let trade = biz["out_trade_no"].as_str().unwrap().to_string();
    match p["method"].as_str() {
        "alipay.trade.query" => {
            seen.queries += 1;
            let answer = match (seen.paid.contains(&trade), seen.orders.get(&trade)) {
                (true, Some(order)) => json!({
                    "code": "10000", "msg": "Success", "out_trade_no": trade,
                    "trade_no": format!("2026{trade}"), "trade_status": "TRADE_SUCCESS",
                    "total_amount": order["total_amount"],
                }),
                _ => json!({"code": "40004", "msg": "Business Failed",
                            "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "no such trade"}),
            };
            signed_answer("alipay_trade_query_response", answer)
        }
        "alipay.trade.refund" => {
            seen.refunds.push((
                trade.clone(),
                biz["out_request_no"].as_str().unwrap_or("").to_string(),
                biz["refund_amount"].as_str().unwrap_or("").to_string(),
            ));
            signed_answer(
                "alipay_trade_refund_response",
                json!({"code": "10000", "msg": "Success", "out_trade_no": trade,
                       "fund_change": "Y", "refund_fee": biz["refund_amount"]}),
            )
        }
        _ => HttpResponse::BadRequest().body("unknown method"),
    }
}

async fn gateway() -> Gateway {
    let seen = web::Data::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    let server = HttpServer::new(move || {
        App::new().app_data(shared.clone()).service(
            web::resource("/gateway.do")
                .route(web::get().to(cashier))
                .route(web::post().to(api)),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Gateway {
        url: format!("http://127.0.0.1:{port}/gateway.do"),
        seen: seen.into_inner(),
        server: handle,
    }
}

async fn alipay_app(gateway: &Gateway) -> TestApp {
    let url = gateway.url.clone();
    spawn_app_with(move |s| {
        s.payment_provider = Some(ProviderName::Alipay);
        s.alipay_app_id = Some(APP_ID.into());
        s.alipay_private_key_file = Some(key_file("rsa_a.key"));
        s.alipay_public_key_file = Some(key_file("rsa_b.pub"));
        s.alipay_gateway = Some(url);
    })
    .await
}

/// A notification as Alipay sends it, signed with `key` (Alipay's own is
/// rsa_b; anything else is a forgery).
fn notification(trade: &str, amount: &str, status: &str, app_id: &str, key: &str) -> String {
    let mut p: BTreeMap<String, String> = [
        ("notify_time", "2026-12-03 21:00:00"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("app_id", app_id),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
        ("trade_no", "2026120322001400000000000001"),
        ("out_trade_no", trade),
        ("total_amount", amount),
        ("buyer_pay_amount", amount),
        ("trade_status", status),
        ("subject", "安心 预约费 Anxin booking fee"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sign = rsa2_sign(&content(&p, &["sign_type"]), key);
    p.insert("sign".into(), sign);
    serde_urlencoded::to_string(&p).unwrap()
}

async fn notify(app: &TestApp, form: String) -> reqwest::Response {
    app.client
        .post(app.url("/v1/payments/alipay/notify"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
}

async fn hold_and_pay_url(app: &TestApp, seeker: &str, slot: Uuid) -> (String, String, String) {
    let hold = app.held(seeker, slot).await;
    let r = app
        .post(seeker, &format!("/v1/holds/{hold}/payment"), &json!({}))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (p["provider"].as_str(), p["simulated"].as_bool()),
        (Some("alipay"), Some(false))
    );
    (
        hold,
        p["payment_id"].as_str().unwrap().to_string(),
        p["pay_url"].as_str().unwrap().to_string(),
    )
}

async fn status(app: &TestApp, seeker: &str, payment: &str) -> String {
    let v: Value = app
        .get(seeker, &format!("/v1/payments/{payment}"))
        .await
        .json()
        .await
        .unwrap();
    v["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_fee_paid_at_the_alipay_cashier_is_confirmed_by_its_signed_notification_only() {
    let gw = gateway().await;
    let app = alipay_app(&gw).await;
    let slot = app.future_slots(1).await[0];
    let seeker = new_seeker();
    let (hold, id, pay_url) = hold_and_pay_url(&app, &seeker, slot).await;

    // The seeker's browser goes to the cashier: the order verifies there.
    assert!(pay_url.starts_with(&gw.url), "{pay_url}");
    let r = reqwest::get(&pay_url).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    {
        let seen = gw.seen.lock().unwrap();
        let order = &seen.orders[&id];
        assert_eq!(order["total_amount"], "0.01");
        assert_eq!(order["product_code"], "QUICK_WAP_WAY");
        let params = &seen.order_params[0];
        assert_eq!(
            params["notify_url"],
            format!("{}/v1/payments/alipay/notify", app.address)
        );
        assert_eq!(params["return_url"], format!("{}/app", app.address));
        assert_eq!(seen.bad_signatures, 0);
    }
    assert_eq!(
        app.confirm(&seeker, &hold, PHONE).await.status(),
        StatusCode::PAYMENT_REQUIRED
    );

    // Forged (the merchant's key is not Alipay's), another merchant's, the
    // wrong amount, an unknown trade: refused, nothing changes.
    for form in [
        notification(&id, "0.01", "TRADE_SUCCESS", APP_ID, "rsa_a.key"),
        notification(
            &id,
            "0.01",
            "TRADE_SUCCESS",
            "2021999999999999",
            "rsa_b.key",
        ),
        notification(&id, "1.00", "TRADE_SUCCESS", APP_ID, "rsa_b.key"),
        notification(
            &Uuid::new_v4().to_string(),
            "0.01",
            "TRADE_SUCCESS",
            APP_ID,
            "rsa_b.key",
        ),
    ] {
        let r = notify(&app, form).await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_input").await;
        assert_eq!(status(&app, &seeker, &id).await, "pending");
    }
    let r = notify(&app, "sign=abc&out_trade_no=1".into()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A notification still waiting for the buyer is noted; the paid one,
    // before the seeker is even back from the cashier, pays it; a repeat
    // changes nothing.
    let waiting = notification(&id, "0.01", "WAIT_BUYER_PAY", APP_ID, "rsa_b.key");
    let r = notify(&app, waiting).await;
    assert_eq!(r.text().await.unwrap(), "success");
    assert_eq!(status(&app, &seeker, &id).await, "pending");
    for _ in 0..2 {
        let r = notify(
            &app,
            notification(&id, "0.01", "TRADE_SUCCESS", APP_ID, "rsa_b.key"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.text().await.unwrap(), "success");
        assert_eq!(status(&app, &seeker, &id).await, "paid");
    }
    assert!(app
        .metrics()
        .await
        .contains(r#"anxin_payments_total{event="paid"} 1"#));
    assert_eq!(
        app.confirm(&seeker, &hold, PHONE).await.status(),
        StatusCode::CREATED
    );

    let verdicts: Vec<String> =
        sqlx::query_scalar("SELECT verdict FROM payment_notifications ORDER BY id")
            .fetch_all(&app.db().await)
            .await
            .unwrap();
    assert_eq!(
        verdicts.iter().filter(|v| v.starts_with("refused")).count(),
        5
    );
    assert_eq!(&verdicts[5..], ["noted", "paid", "repeat"]);
    // No signature or key in the logs; the refusal says why.
    let logs = logs().text();
    assert!(logs.contains("Alipay notification refused"));
    assert!(!logs.contains("-----BEGIN") && !logs.contains("PRIVATE KEY"));
    assert!(!logs.contains("13612345678"));
    let paid = notification(&id, "0.01", "TRADE_SUCCESS", APP_ID, "rsa_b.key");
    let sign = params_of(serde_urlencoded::from_str(&paid).unwrap())["sign"].clone();
    assert!(
        !logs.contains(&sign[..40]),
        "a notification's signature reached the logs"
    );
    gw.server.stop(true).await;
}

#[tokio::test]
async fn a_late_notification_is_found_by_query_and_refunds_go_through_the_gateway_once() {
    let gw = gateway().await;
    let app = alipay_app(&gw).await;
    let db = app.db().await;
    let slot = app.future_slots(2).await;

    // Paid at the cashier, but the notification never comes: once overdue,
    // the settler's query finds it paid.
    let seeker = new_seeker();
    let (hold, id, pay_url) = hold_and_pay_url(&app, &seeker, slot[0]).await;
    reqwest::get(&pay_url).await.unwrap();
    gw.seen.lock().unwrap().paid.insert(id.clone());
    let settled = anxin_core::flows::payments::settle(&app.state)
        .await
        .unwrap();
    assert_eq!(settled.found_paid, 0, "not overdue yet: not asked");
    sqlx::query("UPDATE payments SET created_at = now() - interval '2 minutes' WHERE id = $1")
        .bind(id.parse::<Uuid>().unwrap())
        .execute(&db)
        .await
        .unwrap();
    let settled = anxin_core::flows::payments::settle(&app.state)
        .await
        .unwrap();
    assert_eq!(settled.found_paid, 1);
    assert_eq!(gw.seen.lock().unwrap().queries, 1);
    assert_eq!(status(&app, &seeker, &id).await, "paid");

    // Booked, then cancelled by two at once before it starts: one refund
    // at Alipay, for the fee, named by the payment so a retry is the same.
    let booking: Value = app
        .confirm(&seeker, &hold, PHONE)
        .await
        .json()
        .await
        .unwrap();
    let booking_id = booking["booking_id"].as_str().unwrap();
    let _ = app.cancel_twice_at_once(&seeker, booking_id).await;

    // And a paid hold that lapsed without a booking.
    let other = new_seeker();
    let (_, lapsed, pay_url) = hold_and_pay_url(&app, &other, slot[1]).await;
    reqwest::get(&pay_url).await.unwrap();
    let r = notify(
        &app,
        notification(&lapsed, "0.01", "TRADE_SUCCESS", APP_ID, "rsa_b.key"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    sqlx::query(
        "UPDATE payments SET paid_at = now() - interval '1 hour',
                             expires_at = now() - interval '1 hour' WHERE id = $1",
    )
    .bind(lapsed.parse::<Uuid>().unwrap())
    .execute(&db)
    .await
    .unwrap();

    for _ in 0..3 {
        anxin_core::flows::payments::settle(&app.state)
            .await
            .unwrap();
    }
    let (mut refunds, bad) = {
        let seen = gw.seen.lock().unwrap();
        (seen.refunds.clone(), seen.bad_signatures)
    };
    refunds.sort();
    let mut expected = vec![
        (id.clone(), id.clone(), "0.01".to_string()),
        (lapsed.clone(), lapsed.clone(), "0.01".to_string()),
    ];
    expected.sort();
    assert_eq!(refunds, expected);
    assert_eq!(bad, 0);
    assert_eq!(status(&app, &seeker, &id).await, "refunded");
    assert_eq!(status(&app, &other, &lapsed).await, "refunded");
    gw.server.stop(true).await;
}
