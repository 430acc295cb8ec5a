//! The reference seeker app in a real browser (headless Chromium), once in
//! Chinese and once in English: from `/app#token=…` through the slate, the
//! hold, the simulated payment and the booking to a completed (simulated)
//! call shown on the page (with the expert who took it over when the first
//! was suspended); then "book again", and the message shown when nothing is
//! open.
use crate::dashboard_support::browser::Browser;
use crate::dashboard_support::{artifacts_dir, daily_hour_started_five_minutes_ago, App};
use crate::helpers::{operator, quick_phones, token, RunningWorker};
use crate::webhooks::expert_with_slots_at;
use anxin_api::auth::Role;
use anxin_domain::payment::ProviderName;
use chrono::Utc;
use std::time::Duration as Wait;
use uuid::Uuid;

/// As people in China write a mobile number: no country code, in groups.
const PHONE: &str = "137 1234 5678";

/// Every input, select and text area has a name a screen reader reads out:
/// a wrapping label, a label pointing at it, or `aria-label`.
const UNLABELLED: &str = "return [...document.querySelectorAll('input, select, textarea')]\
    .filter((e) => !e.closest('label') && !e.getAttribute('aria-label') && !(e.id && document.querySelector(`label[for=\"${e.id}\"]`)))\
    .map((e) => e.id || e.name || e.outerHTML)";

fn screenshot(name: &str, png: Vec<u8>) {
    std::fs::write(artifacts_dir().join(name), png).unwrap();
}

async fn the_app_end_to_end(lang: &str, booked_title: &str) {
    let app = App::with_service_defaults(|s| {
        s.payment_provider = Some(ProviderName::Simulated);
        s.crisis_lines = Some("Hope line 400-161-9995 (24 h)".into());
    })
    .await;
    let expert = app
        .expert_with(&daily_hour_started_five_minutes_ago(Utc::now()))
        .await;
    let running = app.open_slot_ids(expert, 0..1).await[0];
    let starts_at: chrono::DateTime<Utc> = app.open_slots(expert).await[0]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let subject = format!("host-user-{}", Uuid::new_v4());
    let seeker = token(Role::Seeker, &subject);

    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/app?lang={lang}#token={seeker}")))
        .await;
    // The token leaves the address bar at once.
    browser
        .wait_for(
            "return document.querySelector('#experts li') !== null && !location.hash",
            Wait::from_secs(20),
        )
        .await;
    // The configured psychological-aid line first, then 120 and 110, each
    // one tap to call.
    let crisis = browser
        .run("return [...document.querySelectorAll('#crisis-lines li')].map((li) => [li.textContent, li.querySelector('a').getAttribute('href')])")
        .await;
    let (ambulance, police) = if lang == "en" {
        ("Ambulance 120", "Police 110")
    } else {
        ("急救 120", "报警 110")
    };
    assert_eq!(
        crisis,
        serde_json::json!([
            ["Hope line 400-161-9995 (24 h)", "tel:4001619995"],
            [ambulance, "tel:120"],
            [police, "tel:110"]
        ])
    );
    assert_eq!(
        browser.run(UNLABELLED).await,
        serde_json::json!([]),
        "inputs without a label"
    );
    // Times name their zone as people do.
    let zone = browser
        .run("return document.querySelector('#zone').textContent")
        .await;
    assert!(
        zone.as_str().unwrap().contains(if lang == "en" {
            "Beijing time"
        } else {
            "北京时间"
        }),
        "{zone}"
    );
    // Words, not codes: the card names languages and topics in the page's
    // language, and every topic an expert can choose is a filter.
    let (languages, parenting) = if lang == "en" {
        ("Mandarin, English", "Parenting")
    } else {
        ("普通话、英语", "亲子")
    };
    let card = browser
        .run("return document.querySelector('#experts li').textContent")
        .await;
    assert!(card.as_str().unwrap().contains(languages), "{card}");
    assert!(!card.as_str().unwrap().contains("zh, en"), "{card}");
    let option = browser
        .run("return document.querySelector('#topic option[value=\"parenting\"]').textContent")
        .await;
    assert_eq!(option, parenting);

    // A medical worker: the near-term slot is theirs to take.
    browser
        .run("document.querySelector('#group').value = 'medical_worker'; return true")
        .await;
    browser.click("#filters button[type=submit]").await;
    let slot = format!("[data-slot=\"{running}\"]");
    browser
        .wait_for(
            &format!("return document.querySelector('{slot}') !== null"),
            Wait::from_secs(10),
        )
        .await;
    screenshot(
        &format!("seeker-app-slate-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    // The slot button says whose time it is, and that it is under way.
    let label = browser
        .run(&format!(
            "return document.querySelector('{slot}').getAttribute('aria-label')"
        ))
        .await;
    let label = label.as_str().unwrap();
    assert!(label.contains("Dr. Test"), "{label}");
    assert!(
        label.contains(if lang == "en" { "now" } else { "现在" }),
        "{label}"
    );
    browser.click(&slot).await;
    // Focus moves to the new step's heading, so it is announced.
    browser
        .wait_for(
            "return document.activeElement && document.activeElement.id === 'hold-h'",
            Wait::from_secs(10),
        )
        .await;
    let pay = browser
        .wait_for(
            "const p = document.querySelector('#pay'); return !p.hidden && document.querySelector('#pay-link').href",
            Wait::from_secs(10),
        )
        .await;
    assert!(pay.as_str().unwrap().contains("/pay/simulated/"), "{pay}");
    let amount = browser
        .run("return [document.querySelector('#amount').textContent, document.querySelector('#countdown').textContent]")
        .await;
    assert_eq!(amount[0], "¥0.01");
    // A countdown that reads as one ("14 分 59 秒", not "14:59", a time).
    let unit = if lang == "en" { " min " } else { " 分 " };
    assert!(amount[1].as_str().unwrap().contains(unit), "{amount}");
    // What the fee is for and when it comes back, said beside it.
    let why = browser
        .run("return document.querySelector('#fee-note').textContent")
        .await;
    assert!(
        why.as_str().unwrap().contains(if lang == "en" {
            "refunded in full"
        } else {
            "全额退还"
        }),
        "{why}"
    );

    // The simulated cashier names the expert and the time, and returns to
    // the app by itself once paid.
    browser.click("#pay-link").await;
    let cashier = browser
        .wait_for(
            "return location.pathname.startsWith('/pay/simulated/') && document.querySelector('form button') !== null && document.querySelector('#paid-for').textContent",
            Wait::from_secs(10),
        )
        .await;
    let cashier = cashier.as_str().unwrap();
    assert!(cashier.contains("Dr. Test"), "{cashier}");
    assert!(
        cashier.contains(if lang == "en" {
            "Beijing time"
        } else {
            "北京时间"
        }),
        "{cashier}"
    );
    browser.click("form button").await;
    browser
        .wait_for(
            "return location.pathname === '/app' && !document.querySelector('#details').hidden",
            Wait::from_secs(10),
        )
        .await;

    // An invalid number is named; a valid one books.
    assert_eq!(
        browser.run(UNLABELLED).await,
        serde_json::json!([]),
        "inputs without a label"
    );
    browser.type_into("#phone", "12345").await;
    browser.click("#details button[type=submit]").await;
    browser
        .wait_for(
            "return !document.querySelector('#phone-error').hidden",
            Wait::from_secs(10),
        )
        .await;
    browser
        .run("document.querySelector('#phone').value = ''; return true")
        .await;
    browser.type_into("#phone", PHONE).await;
    browser
        .type_into("#note", "Night shifts, cannot sleep.")
        .await;
    browser.click("#details button[type=submit]").await;
    let title = browser
        .wait_for(
            "return !document.querySelector('#booking').hidden && document.querySelector('#booking-h').textContent",
            Wait::from_secs(10),
        )
        .await;
    assert_eq!(title, booked_title);
    assert_eq!(
        browser
            .run("return document.activeElement && document.activeElement.id")
            .await,
        "booking-h"
    );
    let masked = browser
        .run("return document.querySelector('#booking-phone').textContent")
        .await;
    assert_eq!(masked, "+86 137****5678");
    // The slot had begun: the call starts at once, and the page says so.
    let at_once = browser
        .run("return document.querySelector('#we-call-label').textContent")
        .await;
    assert!(
        at_once.as_str().unwrap().contains(if lang == "en" {
            "calling you now"
        } else {
            "马上为你拨打"
        }),
        "{at_once}"
    );

    // The expert is suspended before the call: another expert free at that
    // very time takes the booking over, and the page names them.
    let (stand_in, _) = expert_with_slots_at(
        &app,
        "李安 Li An",
        &[starts_at, starts_at + chrono::Duration::hours(3)],
    )
    .await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/suspend"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let moved = browser
        .wait_for(
            "const n = document.querySelector('#booking-reassigned'); return !n.hidden && n.textContent.includes('李安') && document.querySelector('#booking-when').textContent.includes('李安') && document.querySelector('#history').textContent.includes('李安') && n.textContent",
            Wait::from_secs(20),
        )
        .await;
    assert!(
        moved.as_str().unwrap().contains(if lang == "en" {
            "same time"
        } else {
            "时间不变"
        }),
        "{moved}"
    );
    screenshot(
        &format!("seeker-app-reassigned-{lang}.png"),
        browser.screenshot_full_page().await,
    );

    // The call worker (simulated phones that answer at once) places the
    // call; the page follows it to the end without a reload.
    let worker = RunningWorker::start(&app, quick_phones(1.0)).await;
    browser
        .wait_for(
            "return document.querySelector('#booking-status').getAttribute('data-state') === 'completed'",
            Wait::from_secs(40),
        )
        .await;
    worker.stop().await;
    screenshot(
        &format!("seeker-app-booked-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    let text = browser.run("return document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        !text.contains("13712345678") && !text.contains(&subject),
        "{text}"
    );

    // History, and booking the same expert again: their next open slots.
    browser
        .wait_for(
            "return document.querySelector('#history .again') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.click("#history .again").await;
    let again = browser
        .wait_for(
            &format!("const b = document.querySelectorAll('#experts li[data-expert=\"{stand_in}\"] [data-slot]'); return b.length > 0 && b.length"),
            Wait::from_secs(10),
        )
        .await;
    assert!(again.as_u64().unwrap() >= 1);

    // Nobody open for this filter: the page says which filter left whom
    // out, points to the crisis lines, and widens in one tap.
    browser
        .run("document.querySelector('#language').value = 'yue'; return true")
        .await;
    browser.click("#filters button[type=submit]").await;
    let said = browser
        .wait_for(
            "const n = document.querySelector('#next-available'); return !n.hidden && document.querySelector('#crisis').classList.contains('urgent') && document.querySelector('[data-widen=\"language\"]') !== null && n.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(
        said.as_str()
            .unwrap()
            .contains(if lang == "en" { "Cantonese" } else { "粤语" }),
        "{said}"
    );
    screenshot(
        &format!("seeker-app-empty-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    browser.click("[data-widen=\"language\"]").await;
    browser
        .wait_for(
            "return document.querySelector('#experts li [data-slot]') !== null && document.querySelector('#language').value === '' && document.querySelector('#next-available').hidden && document.activeElement.id === 'find-h'",
            Wait::from_secs(10),
        )
        .await;
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn the_seeker_app_in_chinese() {
    the_app_end_to_end("zh", "预约成功").await;
}

#[tokio::test]
async fn the_seeker_app_in_english() {
    the_app_end_to_end("en", "Booked").await;
}

/// A token the host app did not sign (or one that expired): the page says
/// in the seeker's language what to do, never the server's English.
async fn a_bad_token_is_explained_kindly(lang: &str, expected: &str) {
    let app = App::with_service_defaults(|_| {}).await;
    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/app?lang={lang}#token=not.a.token")))
        .await;
    let shown = browser
        .wait_for(
            "const e = document.querySelector('#error'); return !e.hidden && e.textContent",
            Wait::from_secs(20),
        )
        .await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains(expected), "{shown}");
    for english in ["token", "signature", "valid", "malformed"] {
        assert!(!shown.contains(english), "{shown}");
    }
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn a_bad_token_is_explained_in_chinese_and_in_english() {
    a_bad_token_is_explained_kindly("zh", "登录已失效").await;
    a_bad_token_is_explained_kindly("en", "sign-in has expired").await;
}

/// Opened again from the host app (a new tab: nothing remembered), the page
/// shows the seeker's next call at the top, says the fee comes back, and
/// cancels it saying so; help is one tap away at the top.
async fn the_next_call_is_at_the_top_of_a_new_tab(lang: &str, refund: &str, done: &str) {
    let app =
        App::with_service_defaults(|s| s.payment_provider = Some(ProviderName::Simulated)).await;
    let subject = format!("host-user-{}", Uuid::new_v4());
    let seeker = token(Role::Seeker, &subject);
    let slot = app.future_slots(1).await[0];
    let booking = crate::webhooks::paid_booking(&app, &seeker, slot).await;

    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/app?lang={lang}#token={seeker}")))
        .await;
    let said = browser
        .wait_for(
            "const u = document.querySelector('#upcoming'); return u !== null && !u.hidden && document.querySelector('#upcoming-refund').textContent",
            Wait::from_secs(20),
        )
        .await;
    assert_eq!(said, refund);
    let help = browser
        .run("return document.querySelector('.help-now a').getAttribute('href')")
        .await;
    assert_eq!(help, "#crisis");
    screenshot(
        &format!("seeker-app-upcoming-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    browser
        .run("window.confirm = () => true; return true")
        .await;
    browser.click("#upcoming-cancel").await;
    let shown = browser
        .wait_for(
            "const d = document.querySelector('#upcoming-done'); return d.textContent && document.activeElement === d && d.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(shown.as_str().unwrap().contains(done), "{shown}");
    let r = app.get(&seeker, &format!("/v1/bookings/{booking}")).await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "cancelled");
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn the_next_call_is_at_the_top_in_chinese_and_in_english() {
    the_next_call_is_at_the_top_of_a_new_tab("zh", "现在取消，预约费会全额退还。", "全额退还")
        .await;
    the_next_call_is_at_the_top_of_a_new_tab(
        "en",
        "Cancel now and the booking fee is refunded in full.",
        "refunded in full",
    )
    .await;
}

/// A seeker of a region not open yet (the phased roll-out): the page says
/// so kindly and lists that region's hotlines, each one tap to call.
async fn a_closed_region_is_told_kindly(lang: &str, said: &str) {
    let app = App::with_service_defaults(|_| {}).await;
    app.expert_with(&crate::helpers::all_week(60)).await;
    let r = app
        .post(
            &operator(),
            "/v1/resources",
            &serde_json::json!({"name": "武汉市心理援助热线", "kind": "hotline", "region": "hubei",
                                "phone": "027-8584 4666", "hours": "24 小时"}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let r = app
        .put(
            &operator(),
            "/v1/regions/CN-HB",
            &serde_json::json!({"open": false}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let seeker = token(Role::Seeker, &format!("host-user-{}", Uuid::new_v4()));
    let r = app
        .put(
            &seeker,
            "/v1/seekers/me",
            &serde_json::json!({"region": "hubei"}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/app?lang={lang}#token={seeker}")))
        .await;
    let shown = browser
        .wait_for(
            "const n = document.querySelector('#next-available'); return !n.hidden && document.querySelector('#next-available a[href=\"tel:02785844666\"]') !== null && document.querySelectorAll('#experts li').length === 0 && n.textContent",
            Wait::from_secs(20),
        )
        .await;
    assert!(shown.as_str().unwrap().contains(said), "{shown}");
    screenshot(
        &format!("seeker-app-closed-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn a_closed_region_is_told_kindly_in_chinese_and_in_english() {
    a_closed_region_is_told_kindly("zh", "湖北的预约服务还没有开通").await;
    a_closed_region_is_told_kindly("en", "Booking isn't open in Hubei yet").await;
}

/// Nothing suits: the seeker waits on the app, and when a volunteer for
/// their topic sets hours the page holds the time for them by itself.
async fn waiting_for_a_time_that_suits(lang: &str, waiting: &str) {
    let app = App::with_service_defaults(|_| {}).await;
    app.expert_with(&crate::helpers::all_week(60)).await;
    let seeker = token(Role::Seeker, &format!("host-user-{}", Uuid::new_v4()));
    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/app?lang={lang}#token={seeker}")))
        .await;
    browser
        .wait_for(
            "return document.querySelector('#experts li') !== null",
            Wait::from_secs(20),
        )
        .await;
    // Nobody helps with sleep yet.
    browser
        .run("document.querySelector('#topic').value = 'insomnia'; return true")
        .await;
    browser.click("#filters button[type=submit]").await;
    browser
        .wait_for(
            "return document.querySelector('#wait') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.click("#wait").await;
    let said = browser
        .wait_for(
            "const w = document.querySelector('#waiting'); return w && w.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(said.as_str().unwrap().contains(waiting), "{said}");
    assert_eq!(
        browser
            .run("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        serde_json::json!(true)
    );
    screenshot(
        &format!("seeker-app-waiting-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    // A volunteer for sleep sets their hours: the time is held for the
    // seeker, and the page goes to it without a tap.
    let mut profile = crate::helpers::expert_profile("Dr. Sleep");
    profile["specialties"] = serde_json::json!(["insomnia"]);
    app.expert_from(&profile, &crate::helpers::all_week(60))
        .await;
    let held = browser
        .wait_for(
            "const h = document.querySelector('#hold'); return h && !h.hidden && document.querySelector('#hold-when').textContent",
            Wait::from_secs(15),
        )
        .await;
    assert!(held.as_str().unwrap().contains("Dr. Sleep"), "{held}");
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn waiting_for_a_time_that_suits_in_chinese_and_in_english() {
    waiting_for_a_time_that_suits("zh", "等候名单的第 1 位").await;
    waiting_for_a_time_that_suits("en", "number 1 on the waitlist").await;
}

/// An expert goes on duty on the portal; a seeker taps "Talk to someone
/// now" on the app, waits first in line, and is put through (simulated
/// phones that talk for a few seconds), the page following each step.
async fn talking_to_someone_now(lang: &str, said: [&str; 5]) {
    let app = App::with_service_defaults(|_| {}).await;
    let expert = app.expert_with(&crate::helpers::all_week(60)).await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{expert}/sign-in-links"),
            &serde_json::json!({}),
        )
        .await;
    let link: serde_json::Value = r.json().await.unwrap();
    let browser = Browser::start(390, 844).await;
    crate::portal::sign_in_by_link(
        &browser,
        link["url"].as_str().unwrap(),
        "/expert",
        "data-ready",
    )
    .await;
    browser
        .goto(&app.url(&format!("/expert?lang={lang}")))
        .await;
    browser
        .wait_for(
            "return document.body.getAttribute('data-ready') && !document.querySelector('#duty-on').hidden",
            Wait::from_secs(20),
        )
        .await;
    browser.click("#duty-on").await;
    let on = browser
        .wait_for(
            "return document.querySelector('#duty-on').hidden && document.querySelector('#duty-state').textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(on.as_str().unwrap().contains(said[0]), "{on}");
    screenshot(
        &format!("expert-portal-duty-{lang}.png"),
        browser.screenshot_full_page().await,
    );

    let seeker = token(Role::Seeker, &format!("host-user-{}", Uuid::new_v4()));
    browser
        .goto(&app.url(&format!("/app?lang={lang}#token={seeker}")))
        .await;
    let intro = browser
        .wait_for(
            "const t = document.querySelector('#talk'); return t && !t.hidden && document.querySelector('#talk-intro').textContent",
            Wait::from_secs(20),
        )
        .await;
    assert!(intro.as_str().unwrap().contains(said[1]), "{intro}");
    assert_eq!(browser.run(UNLABELLED).await, serde_json::json!([]));
    browser.type_into("#talk-phone", PHONE).await;
    browser.click("#talk-form button[type=submit]").await;
    let queued = browser
        .wait_for(
            "const s = document.querySelector('#talk-state').textContent; return s.length > 0 && s",
            Wait::from_secs(10),
        )
        .await;
    assert!(queued.as_str().unwrap().contains(said[2]), "{queued}");
    assert_eq!(
        browser
            .run("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        serde_json::json!(true)
    );
    screenshot(
        &format!("seeker-app-help-now-{lang}.png"),
        browser.screenshot_full_page().await,
    );

    // The worker rings the expert (who answers), then the seeker.
    let phones = anxin_calls::SimulatedProvider::new(anxin_calls::SimulatedConfig {
        expert_answer_rate: 1.0,
        expert_busy_rate: 0.0,
        seeker_answer_rate: 1.0,
        seeker_busy_rate: 0.0,
        ring: Wait::from_millis(200)..Wait::from_millis(400),
        ring_timeout: Wait::from_secs(2),
        talk: Wait::from_secs(6)..Wait::from_secs(7),
    });
    let worker = RunningWorker::start(&app, phones).await;
    let connected = browser
        .wait_for(
            &format!(
                "const s = document.querySelector('#talk-state').textContent; return s.includes('{}') && s",
                said[3]
            ),
            Wait::from_secs(20),
        )
        .await;
    assert!(connected.is_string());
    assert_eq!(
        browser
            .run("return document.querySelector('#talk-leave').hidden")
            .await,
        serde_json::json!(true)
    );
    screenshot(
        &format!("seeker-app-help-now-connected-{lang}.png"),
        browser.screenshot_full_page().await,
    );
    // Once the call has ended, the expert records it under "After a call"
    // with the form a booked session has.
    browser
        .goto(&app.url(&format!("/expert?lang={lang}")))
        .await;
    browser
        .wait_for(
            "return document.querySelector('#past li[data-help-now] form.outcome') !== null",
            Wait::from_secs(30),
        )
        .await;
    browser
        .click("#past li[data-help-now] form.outcome button[type=submit]")
        .await;
    let recorded = browser
        .wait_for(
            "const r = document.querySelector('#past li[data-help-now] .recorded'); return r && r.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(recorded.as_str().unwrap().contains(said[4]), "{recorded}");
    worker.stop().await;
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn talking_to_someone_now_in_chinese_and_in_english() {
    talking_to_someone_now(
        "zh",
        [
            "你正在值班",
            "1 位志愿者在值班",
            "等候的第 1 位",
            "正在通话",
            "已记录",
        ],
    )
    .await;
    talking_to_someone_now(
        "en",
        [
            "You are on duty",
            "1 volunteer is on duty",
            "number 1 in line",
            "talking now",
            "Recorded",
        ],
    )
    .await;
}

/// What an operator configures as a crisis line is shown as text, never as
/// markup, while its number still becomes a link to call.
#[tokio::test]
async fn the_page_escapes_what_the_operator_configured() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.crisis_lines = Some("<script>alert(1)</script> 12356".into());
    })
    .await;
    let page = app
        .client
        .get(app.url("/app?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"));
    assert!(page.contains(r#"<a href="tel:12356">12356</a>"#));
    assert!(page.contains(r#"<html lang="en">"#));
}
