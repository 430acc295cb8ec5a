//! The expert portal in a real browser (headless Chromium), once in Chinese
//! and once in English: signing in by link, editing the hours, a booking
//! appearing without a reload, and an outcome with a referral.
use crate::dashboard_support::browser::Browser;
use crate::dashboard_support::{
    artifacts_dir, daily_hour_started_five_minutes_ago, operator, spawn_app,
};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration as Wait;
use uuid::Uuid;

const PHONE: &str = "+8613612340000";
const SECRET_SUBJECT: &str = "host-user-canary-4242";

async fn the_portal_end_to_end(lang: &str, tab_hours: &str, recorded: &str) {
    let app = spawn_app(|_| {}).await;
    let expert = app
        .expert_with(&daily_hour_started_five_minutes_ago(Utc::now()))
        .await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/sign-in-links"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let link: Value = r.json().await.unwrap();

    // The expert opens the link from the message and signs in.
    let browser = Browser::start(412, 915).await;
    browser.goto(link["url"].as_str().unwrap()).await;
    browser
        .wait_for(
            "return document.querySelector('#sign-in') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.click("#sign-in").await;
    browser
        .wait_for(
            "return location.pathname === '/expert' && document.body.getAttribute('data-ready')",
            Wait::from_secs(20),
        )
        .await;
    browser
        .goto(&app.url(&format!("/expert?lang={lang}")))
        .await;
    browser
        .wait_for(
            "return document.body.getAttribute('data-ready')",
            Wait::from_secs(20),
        )
        .await;
    let shown = browser
        .run("return [document.documentElement.lang, document.querySelector('#hours-h').textContent]")
        .await;
    assert_eq!(shown[1], tab_hours, "{shown}");
    assert!(shown[0]
        .as_str()
        .unwrap()
        .starts_with(if lang == "zh" { "zh" } else { "en" }));

    // Half-hour sessions and tomorrow closed: the preview changes.
    let count = "return document.querySelector('#preview-count').textContent";
    let before = browser.run(count).await;
    let tomorrow = (Utc::now() + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    browser
        .run(&format!(
            "const s = document.querySelector('#slot-minutes'); s.value = '30'; \
             const d = document.querySelector('#ov-date'); d.value = '{tomorrow}'; return true"
        ))
        .await;
    browser.click("#ov-close").await;
    browser.click("#save").await;
    browser
        .wait_for(
            "return !document.querySelector('#saved').hidden",
            Wait::from_secs(10),
        )
        .await;
    let after = browser
        .wait_for(&format!("const c = document.querySelector('#preview-count').textContent; return c !== {before} && c"), Wait::from_secs(10))
        .await;
    assert_ne!(before, after);
    let saved: Value = app
        .get(&operator(), &format!("/v1/experts/{expert}/availability"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(saved["slot_minutes"], 30);
    assert_eq!(
        saved["overrides"],
        json!([{"date": tomorrow, "closed": true}])
    );

    // A seeker books the session running now; it appears without a reload.
    let seeker = crate::helpers::token(anxin_api::auth::Role::Seeker, SECRET_SUBJECT);
    let slot: Uuid = app.open_slot_ids(expert, 0..1).await[0];
    let booking = app.app.book(&seeker, slot, PHONE).await;
    browser.run("window.__samePage = true; return true").await;
    browser
        .wait_for(
            &format!(
                "return document.querySelector('#upcoming [data-booking=\"{booking}\"]') !== null"
            ),
            Wait::from_secs(15),
        )
        .await;

    // After the call: completed, refer as an emergency, with a note.
    browser
        .wait_for(
            &format!(
                "return document.querySelector('#past form[data-booking=\"{booking}\"]') !== null"
            ),
            Wait::from_secs(15),
        )
        .await;
    browser
        .click(&format!(
            "input[name=\"follow-{booking}\"][value=\"refer\"]"
        ))
        .await;
    browser
        .run(&format!(
            "document.querySelector('#urgency-{booking}').value = 'emergency'; return true"
        ))
        .await;
    browser
        .type_into(
            &format!("#past form[data-booking=\"{booking}\"] textarea"),
            "Needs a psychiatrist soon.",
        )
        .await;
    browser
        .click(&format!(
            "#past form[data-booking=\"{booking}\"] button[type=submit]"
        ))
        .await;
    let line = browser
        .wait_for(&format!("const r = document.querySelector('#past [data-booking=\"{booking}\"] .recorded'); return r && r.textContent"), Wait::from_secs(10))
        .await;
    assert!(line.as_str().unwrap().contains(recorded), "{line}");
    assert_eq!(
        browser.run("return window.__samePage === true").await,
        json!(true)
    );

    // The referral is in the operators' queue.
    let queue: Value = app
        .get(&operator(), "/v1/ops/referrals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue[0]["booking_id"], booking.to_string());
    assert_eq!(queue[0]["urgency"], "emergency");

    // Nothing on the page is the seeker's number or host-app identity.
    let html = browser
        .run("return document.documentElement.outerHTML")
        .await;
    let html = html.as_str().unwrap();
    let expert_token = crate::helpers::token(anxin_api::auth::Role::Expert, &expert.to_string());
    let mut seen = vec![("the expert's page".to_string(), html.to_string())];
    for path in [
        "/v1/experts/me",
        "/v1/experts/me/bookings",
        "/v1/experts/me/bookings?when=past",
    ] {
        let body = app.get(&expert_token, path).await.text().await.unwrap();
        seen.push((path.to_string(), body));
    }
    let queue = app
        .get(&operator(), "/v1/ops/referrals")
        .await
        .text()
        .await
        .unwrap();
    seen.push(("the referral queue".into(), queue));
    seen.push(("the logs".into(), crate::helpers::logs().text()));
    seen.push(("the metrics".into(), app.metrics().await));
    for (what, text) in &seen {
        for canary in ["13612340000", "3612340000", SECRET_SUBJECT] {
            assert!(!text.contains(canary), "{canary} is in {what}");
        }
    }
    let overflow = browser
        .run("return document.documentElement.scrollWidth <= window.innerWidth")
        .await;
    assert_eq!(overflow, json!(true), "the portal fits a phone's width");
    std::fs::write(
        artifacts_dir().join(format!("expert-portal-{lang}.png")),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn the_expert_portal_in_chinese() {
    the_portal_end_to_end("zh", "我的时间", "已记录").await;
}

#[tokio::test]
async fn the_expert_portal_in_english() {
    the_portal_end_to_end("en", "My hours", "Recorded").await;
}
