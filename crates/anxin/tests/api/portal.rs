//! The expert portal in a real browser (headless Chromium), once in Chinese
//! and once in English: signing in by link, editing the hours, a booking
//! appearing without a reload, and an outcome with a referral.
use crate::dashboard_support::browser::Browser;
use crate::dashboard_support::{artifacts_dir, daily_hour_started_five_minutes_ago, operator, App};
use chrono::{Datelike, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration as Wait;
use uuid::Uuid;

const PHONE: &str = "+8613612340000";
const SECRET_SUBJECT: &str = "host-user-canary-4242";

/// Opens a sign-in link, presses its button, and waits for the page it
/// leads to (`path`) to say it is drawn (`marker` on its body).
pub(crate) async fn sign_in_by_link(browser: &Browser, url: &str, path: &str, marker: &str) {
    browser.goto(url).await;
    browser
        .wait_for(
            "return document.querySelector('#sign-in') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.click("#sign-in").await;
    browser
        .wait_for(
            &format!(
                "return location.pathname === '{path}' && document.body.getAttribute('{marker}')"
            ),
            Wait::from_secs(20),
        )
        .await;
}

/// The seeker gives Hubei as their region, whose directory has a
/// mental-health centre (open 24 hours); returns the centre's id.
async fn in_hubei_with_a_centre(app: &crate::helpers::TestApp, seeker: &str) -> String {
    let r = app
        .put(seeker, "/v1/seekers/me", &json!({"region": "hubei"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &operator(),
            "/v1/resources",
            &json!({"name": "武汉市精神卫生中心", "kind": "mental_health_centre", "region": "hubei",
                    "phone": "027-8584 4666", "hours": "24 小时"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn the_portal_end_to_end(lang: &str, tab_hours: &str, recorded: &str) {
    let app = App::with_service_defaults(|_| {}).await;
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
    // A guide the volunteer reads and marks done themselves, and a
    // supervisor who looks after them.
    let r = app
        .post(
            &operator(),
            "/v1/training/modules",
            &json!({"title": "操作指引一：接听流程", "url": "https://example.org/guide-1",
                    "required": true, "self_attest": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let supervisor = app.expert_with(&crate::helpers::all_week(60)).await;
    for (path, body) in [
        (
            format!("/v1/experts/{supervisor}/flags"),
            json!({"supervisor": true}),
        ),
        (
            format!("/v1/experts/{expert}/supervisor"),
            json!({"supervisor_id": supervisor}),
        ),
    ] {
        assert_eq!(
            app.put(&operator(), &path, &body).await.status(),
            StatusCode::OK
        );
    }

    // The expert opens the link from the message and signs in.
    let browser = Browser::start(412, 915).await;
    sign_in_by_link(
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

    // The guide is listed with a button to say it is done.
    browser.click("#training li button.approve").await;
    let done = browser
        .wait_for(
            "const li = document.querySelector('#training li');              return li && li.querySelector('button') === null && li.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(
        done.as_str()
            .unwrap()
            .contains(if lang == "en" { "Done" } else { "已完成" }),
        "{done}"
    );

    // Half-hour sessions and tomorrow closed: the preview changes.
    let count = "return document.querySelector('#preview-count').textContent";
    let before = browser.run(count).await;
    // Tomorrow in the expert's own timezone (the running session is today's
    // there, whatever UTC's date is).
    let east_of_utc = match crate::dashboard_support::running_range_timezone(Utc::now()).0 {
        "UTC" => Duration::zero(),
        _ => Duration::hours(8),
    };
    let tomorrow = (Utc::now() + east_of_utc + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    browser
        .run(&format!(
            "const s = document.querySelector('#slot-minutes'); s.value = '30'; \
             const d = document.querySelector('#ov-date'); d.value = '{tomorrow}'; return true"
        ))
        .await;
    browser.click("#ov-close").await;
    // Nothing is kept until Save, and the page says so beside it.
    assert_eq!(
        browser
            .run("return !document.querySelector('#unsaved').hidden && document.querySelector('#unsaved').closest('.save-bar') !== null")
            .await,
        json!(true)
    );
    // A day's hours ending before they start (the day after tomorrow, so
    // today's running session stays): the error says which day, in the
    // page's language, beside the Save button.
    let day = (Utc::now() + east_of_utc + Duration::days(2))
        .weekday()
        .num_days_from_monday() as usize;
    let id = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day];
    let named = if lang == "en" {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day]
    } else {
        ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][day]
    };
    browser
        .run(&format!(
            "const o = document.querySelector('#open-{id}'); if (!o.checked) o.click(); \
             document.querySelector('#start-{id}').value = '18:00'; document.querySelector('#end-{id}').value = '09:00'; return true",
        ))
        .await;
    browser.click("#save").await;
    let error = browser
        .wait_for(
            "const e = document.querySelector('.save-bar #form-error'); return !e.hidden && e.textContent",
            Wait::from_secs(10),
        )
        .await;
    let error = error.as_str().unwrap();
    assert!(error.contains(named), "{error}");
    assert!(
        !error.contains("weekly[") && !error.contains("after start"),
        "{error}"
    );
    browser
        .run(&format!(
            "document.querySelector('#end-{id}').value = '20:00'; return true"
        ))
        .await;
    browser.click("#save").await;
    browser
        .wait_for(
            "return !document.querySelector('.save-bar #saved').hidden && document.querySelector('#unsaved').hidden && document.querySelector('#form-error').hidden",
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
    in_hubei_with_a_centre(&app, &seeker).await;
    let slot: Uuid = app.open_slot_ids(expert, 0..1).await[0];
    let booking = app.app.book(&seeker, slot, PHONE).await;
    browser.run("window.__samePage = true; return true").await;
    // It has begun: shown once, in progress, with no cancel button and no
    // outcome form yet; the seeker appears by alias, in the page's language.
    let shown = browser
        .wait_for(
            &format!(
                "const li = document.querySelector('#upcoming [data-booking=\"{booking}\"]'); \
                 return li !== null && li.classList.contains('in-progress') && li.querySelector('button') === null \
                 && document.querySelector('#past [data-booking=\"{booking}\"]') === null && li.textContent"
            ),
            Wait::from_secs(15),
        )
        .await;
    assert!(
        shown.as_str().unwrap().contains(if lang == "en" {
            "Seeker "
        } else {
            "求助者 "
        }),
        "{shown}"
    );

    // The call worker (simulated phones that answer at once) places and
    // ends the call. After the call: completed, refer as an emergency,
    // with a note.
    let worker =
        crate::helpers::RunningWorker::start(&app, crate::helpers::quick_phones(1.0)).await;
    browser
        .wait_for(
            &format!(
                "return document.querySelector('#past form[data-booking=\"{booking}\"]') !== null \
                 && document.querySelector('#upcoming [data-booking=\"{booking}\"]') === null"
            ),
            Wait::from_secs(40),
        )
        .await;
    let places = format!("#past form[data-booking=\"{booking}\"] .places");
    let hidden = format!("return document.querySelector('{places}').hidden");
    assert_eq!(browser.run(&hidden).await, json!(true));
    browser
        .click(&format!(
            "input[name=\"follow-{booking}\"][value=\"refer\"]"
        ))
        .await;
    // Referring, the form lists where the seeker can turn in their region.
    assert_eq!(browser.run(&hidden).await, json!(false));
    let listed = browser
        .run(&format!(
            "return document.querySelector('{places}').textContent"
        ))
        .await;
    let listed = listed.as_str().unwrap();
    assert!(
        listed.contains("武汉市精神卫生中心")
            && listed.contains("027-8584 4666")
            && listed.contains("24 小时"),
        "{listed}"
    );
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
        .click(&format!("input[name=\"wellbeing-{booking}\"][value=\"2\"]"))
        .await;
    browser
        .click(&format!(
            "#past form[data-booking=\"{booking}\"] input[name=debrief]"
        ))
        .await;
    browser
        .click(&format!(
            "#past form[data-booking=\"{booking}\"] button[type=submit]"
        ))
        .await;
    let line = browser
        .wait_for(&format!("const r = document.querySelector('#past [data-booking=\"{booking}\"] .recorded'); return r && r.textContent"), Wait::from_secs(10))
        .await;
    worker.stop().await;
    assert!(line.as_str().unwrap().contains(recorded), "{line}");
    assert_eq!(
        browser.run("return window.__samePage === true").await,
        json!(true)
    );

    // A hard call: the volunteer is told a debrief is arranged.
    let arranged = browser
        .wait_for(
            "const p = document.querySelector('#debrief-arranged'); return !p.hidden && p.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(
        arranged
            .as_str()
            .unwrap()
            .contains(if lang == "en" { "debrief" } else { "复盘" }),
        "{arranged}"
    );
    the_supervisors_page(&app, supervisor, expert, lang).await;

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

/// The supervisor signs in on a phone and finds the debrief the volunteer's
/// outcome opened, with how they said they were, and records it done.
async fn the_supervisors_page(
    app: &crate::dashboard_support::App,
    supervisor: Uuid,
    expert: Uuid,
    lang: &str,
) {
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{supervisor}/sign-in-links"),
            &json!({}),
        )
        .await;
    let link: Value = r.json().await.unwrap();
    let name: String = sqlx::query_scalar("SELECT display_name FROM experts WHERE id = $1")
        .bind(expert)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    let browser = Browser::start(390, 844).await;
    sign_in_by_link(
        &browser,
        link["url"].as_str().unwrap(),
        "/expert",
        "data-ready",
    )
    .await;
    // The portal of a supervisor links to their page.
    assert_eq!(
        browser
            .run("return !document.querySelector('#supervise-link').hidden")
            .await,
        json!(true)
    );
    browser
        .goto(&app.url(&format!("/supervise?lang={lang}")))
        .await;
    let text = browser
        .wait_for(
            "const li = document.querySelector('#debriefs li'); return li && document.body.textContent",
            Wait::from_secs(10),
        )
        .await;
    let text = text.as_str().unwrap();
    let (reason, wellbeing) = if lang == "en" {
        ("after an emergency referral", "wellbeing 2/5")
    } else {
        ("紧急转介之后", "状态 2/5")
    };
    assert!(
        text.contains(&name) && text.contains(reason) && text.contains(wellbeing),
        "{text}"
    );
    let html = browser
        .run("return document.documentElement.outerHTML")
        .await;
    for canary in [
        "13612340000",
        "3612340000",
        SECRET_SUBJECT,
        "Needs a psychiatrist",
    ] {
        assert!(
            !html.as_str().unwrap().contains(canary),
            "{canary} on /supervise"
        );
    }
    assert_eq!(
        browser
            .run("return document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        json!(true),
        "the page fits a phone's width"
    );
    std::fs::write(
        artifacts_dir().join(format!("supervise-{lang}.png")),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser
        .type_into(
            "#debriefs textarea",
            "Talked it over; she is sleeping and will take calls again on Friday.",
        )
        .await;
    browser.click("#debriefs button[type=submit]").await;
    browser
        .wait_for(
            "return document.querySelector('#debriefs-empty') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.quit().await;
}

#[tokio::test]
async fn the_expert_portal_in_chinese() {
    the_portal_end_to_end("zh", "我的时间", "已记录").await;
}

#[tokio::test]
async fn the_expert_portal_in_english() {
    the_portal_end_to_end("en", "My hours", "Recorded").await;
}

#[tokio::test]
async fn an_operator_works_the_referral_queue_and_makes_sign_in_links_on_the_dashboard() {
    let app = App::with_service_defaults(|_| {}).await;
    let expert = app
        .expert_with(&daily_hour_started_five_minutes_ago(Utc::now()))
        .await;
    let slot: Uuid = app.open_slot_ids(expert, 0..1).await[0];
    let seeker = crate::helpers::new_seeker();
    let centre = in_hubei_with_a_centre(&app, &seeker).await;
    let booking = app.app.book(&seeker, slot, PHONE).await;
    let expert_token = crate::helpers::token(anxin_api::auth::Role::Expert, &expert.to_string());
    let r = app
        .post(
            &expert_token,
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": "emergency"}),
        )
        .await;
    let referral = r.json::<Value>().await.unwrap()["referral_id"]
        .as_str()
        .unwrap()
        .to_string();
    let applicant = app.applicant("Dr. Applicant", "hubei").await;

    // The operator signs in with the link `anxin sign-in-link` prints.
    let by = anxin_store::audit::Actor {
        role: "cli",
        id: "test".into(),
    };
    let link = anxin_core::flows::sign_in::link_for_operator(&app.state, &by, "Lin Operator")
        .await
        .unwrap();
    let browser = Browser::start(1280, 900).await;
    sign_in_by_link(&browser, &link.url, "/ops", "data-updated").await;

    // The emergency is at once on the summary card and in the queue.
    let row = format!("#referrals tr[data-referral=\"{referral}\"]");
    browser
        .wait_for(
            &format!("return document.querySelector('{row}') !== null"),
            Wait::from_secs(10),
        )
        .await;
    let card = browser
        .run("const c = document.querySelector('#referral-card'); return [c.classList.contains('alarm'), document.querySelector('#referrals-emergency').textContent]")
        .await;
    assert_eq!(card, json!([true, "1"]));

    // The applicant by name, their own words one tap away.
    let named = browser
        .run(&format!("const d = document.querySelector('#pending tr[data-expert=\"{applicant}\"] details'); return [d.querySelector('summary').textContent, d.querySelector('p').textContent]"))
        .await;
    assert_eq!(named, json!(["Dr. Applicant", "Dashboard test expert"]));

    // A sign-in link for the applicant, from their row.
    browser
        .click(&format!(
            "#pending tr[data-expert=\"{applicant}\"] button.link"
        ))
        .await;
    let url = browser
        .wait_for(
            "return document.querySelector('#link-url').value",
            Wait::from_secs(10),
        )
        .await;
    let url = url.as_str().unwrap();
    assert!(url.starts_with(&app.url("/sign-in/")), "{url}");
    assert_eq!(
        app.client.get(url).send().await.unwrap().status(),
        StatusCode::OK
    );
    std::fs::write(
        artifacts_dir().join("ops-referrals.png"),
        browser.screenshot_full_page().await,
    )
    .unwrap();

    // Resolving it from the page to a place in the seeker's region's
    // directory, audited as the operator.
    let chosen = browser
        .wait_for(
            &format!("const s = document.querySelector('{row} select.resource'); return s.options.length > 1 && (s.value = s.options[1].value)"),
            Wait::from_secs(10),
        )
        .await;
    assert_eq!(chosen, centre.as_str());
    browser
        .run(&format!(
            "document.querySelector('{row} select').value = 'contacted'; return true"
        ))
        .await;
    browser.click(&format!("{row} button")).await;
    browser
        .wait_for(
            &format!("return document.querySelector('{row}') === null"),
            Wait::from_secs(10),
        )
        .await;
    let done: Value = app
        .get(&operator(), "/v1/ops/referrals?status=resolved")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done[0]["referral_id"], referral.as_str());
    assert_eq!(done[0]["resolution"], "contacted");
    let named: Option<String> =
        sqlx::query_scalar("SELECT resource_id::text FROM referrals WHERE id = $1::text::uuid")
            .bind(&referral)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(named.as_deref(), Some(centre.as_str()));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'referral.resolve'
            AND actor_role = 'operator' AND actor_id = 'Lin Operator'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
async fn a_volunteer_applies_on_the_page_in_a_real_browser() {
    let app = App::with_service_defaults(|_| {}).await;
    let browser = Browser::start(412, 915).await;
    // In English first: the page's own words and the vocabulary's.
    browser.goto(&app.url("/apply?lang=en")).await;
    let english = browser
        .wait_for(
            "return document.querySelector('#apply') !== null && document.querySelector('h1').textContent",
            Wait::from_secs(10),
        )
        .await;
    assert_eq!(english, "Volunteer as an expert");
    let grief = browser
        .run("return document.querySelector('input[name=specialties][value=grief]').closest('label').textContent.trim()")
        .await;
    assert_eq!(grief, "Grief");
    std::fs::write(
        artifacts_dir().join("apply-en.png"),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser.goto(&app.url("/apply?lang=zh")).await;
    browser
        .wait_for(
            "return document.querySelector('#apply') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.type_into("#display_name", "李医生").await;
    browser.type_into("#phone", "+8613711112222").await;
    // The province is chosen from the list, by its name.
    let hubei = browser
        .run("const s = document.querySelector('#region'); s.value = 'CN-HB'; return s.selectedOptions[0].textContent")
        .await;
    assert_eq!(hubei, "湖北");
    browser.click("input[name=specialties][value=grief]").await;
    std::fs::write(
        artifacts_dir().join("apply-zh.png"),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser.click("#apply").await;
    let thanks = browser
        .wait_for(
            "const t = document.querySelector('#thanks'); return t && t.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(thanks.as_str().unwrap().contains("申请已收到"), "{thanks}");
    let board: Value = app
        .get(&operator(), "/v1/ops/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(board["pending_experts"][0]["display_name"], "李医生");
    assert_eq!(board["pending_experts"][0]["specialties"], json!(["grief"]));
    browser.quit().await;
    app.stop().await;
}
