//! Organisations: they apply, operators vet them into published batches or
//! reject them, volunteers apply to them, and suspending one suspends its
//! experts.
use crate::dashboard_support::artifacts_dir;
use crate::dashboard_support::browser::Browser;
use crate::helpers::*;
use anxin_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration as Wait;
use uuid::Uuid;

pub(crate) fn application(name: &str, region: &str) -> Value {
    json!({"name": name, "kind": "psychological", "region": region, "contact_name": "张老师",
           "contact_phone": "137 1234 5678", "description": "社区心理援助与危机干预"})
}

/// Files an application with no token; returns its id.
pub(crate) async fn applied(app: &TestApp, body: &Value) -> String {
    let r = app
        .client
        .post(app.url("/v1/organisation-applications"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "applied");
    v["id"].as_str().unwrap().to_string()
}

async fn published(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url(&format!("/v1/organisations{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn organisations_apply_are_vetted_into_batches_and_only_the_approved_are_published() {
    let app = spawn_app().await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM organisations")
            .fetch_one(&app.db().await)
            .await
            .unwrap()
    };
    // Bad input is named and nothing is kept.
    for (field, bad) in [
        ("region", json!("atlantis")),
        ("contact_phone", json!("12345")),
        ("name", json!(" ")),
        ("description", json!("")),
    ] {
        let mut body = application("Bad", "hubei");
        body[field] = bad;
        let r = app
            .client
            .post(app.url("/v1/organisation-applications"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let e = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(e["field"], field);
    }
    let mut body = application("Bad", "hubei");
    body["kind"] = json!("spa");
    let r = app
        .client
        .post(app.url("/v1/organisation-applications"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(count().await, 0);

    let wuhan = applied(&app, &application("武汉市心理咨询师协会", "湖北")).await;
    let beijing = applied(&app, &application("北京社工服务中心", "beijing")).await;
    let rejected = applied(&app, &application("Not a real service", "shanghai")).await;
    assert!(
        published(&app, "").await.is_empty(),
        "nothing before vetting"
    );

    // Only operators vet.
    for who in [
        new_seeker(),
        token(Role::Expert, &Uuid::new_v4().to_string()),
    ] {
        let r = app
            .post(
                &who,
                &format!("/v1/organisations/{wuhan}/approve"),
                &json!({}),
            )
            .await;
        assert!(matches!(
            r.status(),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
        ));
    }
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{wuhan}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["batch"], 1);
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{beijing}/approve"),
            &json!({"batch": 2}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["batch"], 2);
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{rejected}/reject"),
            &json!({"reason": ""}),
        )
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{rejected}/reject"),
            &json!({"reason": "Not a registered service"}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "rejected");
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{wuhan}/reject"),
            &json!({"reason": "late"}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "invalid_transition").await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{}/approve", Uuid::new_v4()),
            &json!({}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // The public list: by batch, no contact data; filters by region and kind.
    let list = published(&app, "").await;
    let names: Vec<&str> = list.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["武汉市心理咨询师协会", "北京社工服务中心"]);
    assert_eq!(list[0]["region"], "CN-HB");
    let text = serde_json::to_string(&list).unwrap();
    assert!(
        !text.contains("contact") && !text.contains("5678") && !text.contains("张老师"),
        "{text}"
    );
    assert_eq!(published(&app, "?region=hubei").await.len(), 1);
    assert_eq!(published(&app, "?kind=medical").await.len(), 0);

    // Every move is audited.
    let moves: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE target_type = 'organisation' ORDER BY id",
    )
    .fetch_all(&app.db().await)
    .await
    .unwrap();
    assert_eq!(
        moves,
        [
            "organisation.approved",
            "organisation.approved",
            "organisation.rejected"
        ]
    );
}

#[tokio::test]
async fn volunteers_apply_to_an_approved_organisation_and_its_suspension_suspends_them() {
    let app = spawn_app().await;
    let org = applied(&app, &application("武汉市心理咨询师协会", "hubei")).await;
    let mut volunteer = expert_profile("李老师");
    volunteer["region"] = json!("");
    volunteer["organisation_id"] = json!(org);
    // Not approved yet: refused, naming the field.
    let r = app
        .post(&new_seeker(), "/v1/expert-applications", &volunteer)
        .await;
    let e = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(e["field"], "organisation_id");
    app.post(
        &operator(),
        &format!("/v1/organisations/{org}/approve"),
        &json!({}),
    )
    .await;
    let r = app
        .post(&new_seeker(), "/v1/expert-applications", &volunteer)
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let id: Uuid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (organisation, region): (Option<Uuid>, String) =
        sqlx::query_as("SELECT organisation_id, region FROM experts WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(organisation.map(|o| o.to_string()), Some(org.clone()));
    assert_eq!(region, "CN-HB", "the organisation's region by default");

    // Approved, with an upcoming booking; then the organisation is
    // suspended: so is the expert, and the seeker's booking is cancelled
    // and refunded (nobody else is free then).
    let r = app
        .post(
            &operator(),
            &format!("/v1/experts/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.put(
        &operator(),
        &format!("/v1/experts/{id}/availability"),
        &all_week(60),
    )
    .await;
    let slot = app.future_slot(id).await;
    let seeker = new_seeker();
    let booking = app.book(&seeker, slot, "+8613712345678").await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{org}/suspend"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["experts_suspended"].as_u64()),
        (Some("suspended"), Some(1))
    );
    let status: String = sqlx::query_scalar("SELECT status FROM experts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(status, "suspended");
    let b: Value = app
        .get(&seeker, &format!("/v1/bookings/{booking}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "cancelled", "{b}");
    assert!(
        published(&app, "").await.is_empty(),
        "a suspended organisation is not listed"
    );
}

/// An organisation applies on the page, an operator approves it into batch
/// 1, it appears on the public list, and a volunteer applies to it through
/// `/apply?org=…`.
async fn an_organisation_on_the_pages(lang: &str, thanks: &str, batch: &str, joining: &str) {
    let app = spawn_app().await;
    let browser = Browser::start(390, 844).await;
    browser
        .goto(&app.url(&format!("/apply/organisation?lang={lang}")))
        .await;
    browser
        .wait_for(
            "return document.querySelector('#apply') !== null",
            Wait::from_secs(10),
        )
        .await;
    browser.type_into("#name", "武汉市心理咨询师协会").await;
    browser
        .run("document.querySelector('#kind').value = 'psychological'; document.querySelector('#region').value = 'CN-HB'; return true")
        .await;
    browser.type_into("#contact_name", "张老师").await;
    browser.type_into("#contact_phone", "137 1234 5678").await;
    browser
        .type_into("#description", "社区心理援助与危机干预，40 名持证咨询师。")
        .await;
    std::fs::write(
        artifacts_dir().join(format!("apply-organisation-{lang}.png")),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser.click("#apply").await;
    let said = browser
        .wait_for(
            "const t = document.querySelector('#thanks'); return t && t.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(said.as_str().unwrap().contains(thanks), "{said}");

    let org: String = sqlx::query_scalar("SELECT id::text FROM organisations")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{org}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    browser
        .goto(&app.url(&format!("/organisations?lang={lang}")))
        .await;
    let listed = browser
        .wait_for("const b = document.querySelector('#batch-1'); return b && document.querySelector('.batch').textContent", Wait::from_secs(10))
        .await;
    let listed = listed.as_str().unwrap();
    assert!(
        listed.contains(batch) && listed.contains("武汉市心理咨询师协会"),
        "{listed}"
    );
    assert!(
        !listed.contains("5678") && !listed.contains("张老师"),
        "{listed}"
    );
    std::fs::write(
        artifacts_dir().join(format!("organisations-{lang}.png")),
        browser.screenshot_full_page().await,
    )
    .unwrap();

    // A volunteer applies to it.
    browser
        .goto(&app.url(&format!("/apply?lang={lang}&org={org}")))
        .await;
    let shown = browser
        .wait_for(
            "const o = document.querySelector('#organisation'); return o && o.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(shown.as_str().unwrap().contains(joining), "{shown}");
    browser.type_into("#display_name", "李老师").await;
    browser.type_into("#phone", "137 1111 2222").await;
    browser.click("input[name=specialties][value=grief]").await;
    browser.click("#apply").await;
    browser
        .wait_for(
            "return document.querySelector('#thanks') !== null",
            Wait::from_secs(10),
        )
        .await;
    let (organisation, region): (Option<String>, String) = sqlx::query_as(
        "SELECT organisation_id::text, region FROM experts WHERE display_name = '李老师'",
    )
    .fetch_one(&app.db().await)
    .await
    .unwrap();
    assert_eq!(
        (organisation.as_deref(), region.as_str()),
        (Some(org.as_str()), "CN-HB")
    );
    browser.quit().await;
}

#[tokio::test]
async fn an_organisation_applies_is_published_and_takes_a_volunteer_on_the_pages() {
    an_organisation_on_the_pages("zh", "申请已收到", "第 1 批", "申请加入").await;
    an_organisation_on_the_pages("en", "application is in", "Batch 1", "Applying to join").await;
}

/// An approved organisation; returns its id.
pub(crate) async fn approved(app: &TestApp, name: &str, region: &str) -> String {
    let id = applied(app, &application(name, region)).await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    id
}

/// An administrator of `org` named `name`, given a sign-in link by an
/// operator; their token.
pub(crate) async fn org_admin(app: &TestApp, org: &str, name: &str) -> String {
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{org}/admins"),
            &json!({ "name": name }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    token(Role::OrgAdmin, name)
}

/// A volunteer's application to `org` (or to nobody); returns their id.
pub(crate) async fn volunteer(app: &TestApp, name: &str, org: Option<&str>) -> Uuid {
    volunteer_from(app, expert_profile(name), org).await
}

/// A volunteer's application to `org`, of the organisation's region.
pub(crate) async fn local_volunteer(app: &TestApp, name: &str, org: &str) -> Uuid {
    let mut body = expert_profile(name);
    body["region"] = json!("");
    volunteer_from(app, body, Some(org)).await
}

async fn volunteer_from(app: &TestApp, mut body: Value, org: Option<&str>) -> Uuid {
    if let Some(org) = org {
        body["organisation_id"] = json!(org);
    }
    let r = app
        .post(&new_seeker(), "/v1/expert-applications", &body)
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) async fn status_of(app: &TestApp, expert: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM experts WHERE id = $1")
        .bind(expert)
        .fetch_one(&app.db().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_organisations_administrator_vets_their_own_volunteers_and_nothing_else() {
    let app = spawn_app().await;
    let a = approved(&app, "机构甲", "hubei").await;
    let b = approved(&app, "机构乙", "beijing").await;
    let waiting = applied(&app, &application("机构丙", "shanghai")).await;

    // Links for administrators: only for an approved organisation, a name
    // of one's own.
    let admin_link = |org: String, name: &'static str| {
        let app = &app;
        async move {
            app.post(
                &operator(),
                &format!("/v1/organisations/{org}/admins"),
                &json!({ "name": name }),
            )
            .await
        }
    };
    assert_error(
        admin_link(waiting.clone(), "Admin C").await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_error(
        admin_link(a.clone(), " ").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    )
    .await;
    let r = admin_link(a.clone(), "Admin A").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let link: Value = r.json().await.unwrap();
    assert!(link["admin_id"].is_string());
    assert_error(
        admin_link(b.clone(), "Admin A").await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    let r = app
        .post(
            &new_seeker(),
            &format!("/v1/organisations/{a}/admins"),
            &json!({"name": "Me"}),
        )
        .await;
    assert!(matches!(
        r.status(),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
    ));

    // The link signs in to /org, which names the organisation.
    let r = app
        .client
        .post(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/org");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = app
        .client
        .get(app.url("/org"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("机构甲"));
    let r = app
        .client
        .get(app.url("/ops"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the national dashboard is not theirs"
    );

    let mine = volunteer(&app, "Mine", Some(&a)).await;
    let theirs = volunteer(&app, "Theirs", Some(&b)).await;
    let independent = volunteer(&app, "Independent", None).await;
    let admin = token(Role::OrgAdmin, "Admin A");

    // Their organisation's experts, and no other's.
    let listed: Vec<Value> = app
        .get(&admin, &format!("/v1/organisations/{a}/experts"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [mine.to_string()]);
    assert_eq!(listed[0]["status"], "applied");
    let r = app
        .get(&admin, &format!("/v1/organisations/{b}/experts"))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // They approve and send links to their own; the others are not there
    // for them, and stay as they were.
    let r = app
        .post(&admin, &format!("/v1/experts/{mine}/approve"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(status_of(&app, mine).await, "approved");
    let r = app
        .post(
            &admin,
            &format!("/v1/experts/{mine}/sign-in-links"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for other in [theirs, independent] {
        for action in ["approve", "suspend", "sign-in-links"] {
            let r = app
                .post(&admin, &format!("/v1/experts/{other}/{action}"), &json!({}))
                .await;
            assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        }
        assert_eq!(status_of(&app, other).await, "applied");
    }

    // Everything else in the route table is refused to them: every operation
    // the served document says needs a credential, but the few above.
    let theirs_to_use = [
        "POST /v1/experts/{id}/approve",
        "POST /v1/experts/{id}/suspend",
        "POST /v1/experts/{id}/sign-in-links",
        "GET /v1/organisations/{id}/experts",
        "GET /v1/organisations/{id}/summary",
        "GET /v1/ops/referrals",
        "GET /v1/resources",
        "POST /v1/resources",
        "PUT /v1/resources/{id}",
        "DELETE /v1/resources/{id}",
        "POST /v1/sessions/end",
        // Supervision: the modules, their own experts' training, flags,
        // supervisors and debriefs (another organisation's expert is 404).
        "GET /v1/training/modules",
        "GET /v1/experts/{id}/training",
        "POST /v1/experts/{id}/training/{module_id}",
        "PUT /v1/experts/{id}/flags",
        "PUT /v1/experts/{id}/supervisor",
        "GET /v1/supervision/debriefs",
    ];
    let allowed: Vec<String> = every_other_operation(&app, &admin, &theirs_to_use)
        .await
        .into_iter()
        .filter(|(_, status)| status.is_success() || status.is_server_error())
        .map(|(name, status)| format!("{name} -> {status}"))
        .collect();
    assert!(
        allowed.is_empty(),
        "an organisation's administrator reached: {allowed:?}"
    );
}

/// Calls every operation of the served document that needs a credential,
/// but those `except`, as `who` (fresh ids in the path, an empty JSON
/// body); what each answered.
async fn every_other_operation(
    app: &TestApp,
    who: &str,
    except: &[&str],
) -> Vec<(String, StatusCode)> {
    let doc = crate::openapi::document(app).await;
    let mut answers = Vec::new();
    for op in crate::openapi::operations(&doc) {
        if !op.needs_credential() || except.contains(&op.name().as_str()) {
            continue;
        }
        let path = op.path_with(|_, _| Uuid::new_v4().to_string());
        let r = app
            .client
            .request(op.http_method(), app.url(&path))
            .bearer_auth(who)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        answers.push((op.name(), r.status()));
    }
    answers
}

/// The administrator's page in a browser: the organisation's figures and
/// open referral (the seeker by alias only), an applicant approved after a
/// question, and a sign-in link for them.
async fn the_organisation_page(lang: &str, approve_word: &str) {
    let app = spawn_app().await;
    let org = approved(&app, "武汉市心理咨询师协会", "hubei").await;
    let applicant = volunteer(&app, "李老师", Some(&org)).await;
    // One of its volunteers had a session with a seeker and referred them.
    let wang = member(&app, "王医生", &org).await;
    let subject = format!("org-page-{}", Uuid::new_v4().simple());
    let seeker = looking_seeker(&app, &subject).await;
    let slot = app.open_slot_ids(wang, 0..1).await[0];
    let booking = app.book(&seeker, slot, PHONE).await;
    refer(&app, wang, booking, "urgent").await;
    app.events_written(2).await;
    let r = app
        .post(
            &operator(),
            &format!("/v1/organisations/{org}/admins"),
            &json!({"name": format!("admin-{lang}")}),
        )
        .await;
    let link: Value = r.json().await.unwrap();
    let browser = Browser::start(390, 844).await;
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
            "return location.pathname === '/org' && document.body.getAttribute('data-ready')",
            Wait::from_secs(20),
        )
        .await;
    browser.goto(&app.url(&format!("/org?lang={lang}"))).await;
    let row = format!("#applicants li[data-expert=\"{applicant}\"]");
    let text = browser
        .wait_for(
            &format!("const li = document.querySelector('{row}'); return li && li.textContent"),
            Wait::from_secs(20),
        )
        .await;
    assert!(text.as_str().unwrap().contains(approve_word), "{text}");
    // Its figures: one seeker saw a list with its volunteer and booked.
    let shown = browser
        .run(
            "const f = (n) => document.querySelector(`#figures [data-figure=\"${n}\"]`).textContent;
             return [f('saw_slate'), f('booked'), f('match_rate'), f('experts')].join('|')",
        )
        .await;
    let shown = shown.as_str().unwrap().to_string();
    let expected_experts = if lang == "zh" {
        "共 1 位志愿者"
    } else {
        "of 1 volunteer"
    };
    assert_eq!(shown, format!("1|1|100%|{expected_experts}"));
    let referral = browser
        .run("return [...document.querySelectorAll('#referrals li')].map(li => li.textContent)")
        .await;
    let referral = referral.as_array().unwrap();
    assert_eq!(referral.len(), 1, "{referral:?}");
    let referral = referral[0].as_str().unwrap();
    assert!(referral.contains("王医生"), "{referral}");
    let page = browser.run("return document.body.innerHTML").await;
    let page = page.as_str().unwrap();
    assert!(!page.contains(&subject) && !page.contains("13712345678"));
    // It adds a place of its region for its volunteers to refer to.
    browser
        .run(
            "const f = document.querySelector('#resource-form');
             f.elements.name.value = '武汉市精神卫生中心';
             f.elements.kind.value = 'mental_health_centre';
             f.elements.phone.value = '027-8584 4666';
             f.elements.hours.value = '门诊 8:00-17:00';
             f.requestSubmit(); return true",
        )
        .await;
    let place = browser
        .wait_for(
            "const li = document.querySelector('#resources li'); return li && li.textContent",
            Wait::from_secs(10),
        )
        .await;
    assert!(place.as_str().unwrap().contains("027-8584 4666"), "{place}");
    let r = app.get(&new_seeker(), "/v1/resources?region=hubei").await;
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 1);
    std::fs::write(
        artifacts_dir().join(format!("org-{lang}.png")),
        browser.screenshot_full_page().await,
    )
    .unwrap();
    browser
        .run("window.confirm = () => true; return true")
        .await;
    browser.click(&format!("{row} button.approve")).await;
    let member = format!("#members li[data-expert=\"{applicant}\"]");
    browser
        .wait_for(
            &format!("return document.querySelector('{member}') !== null"),
            Wait::from_secs(10),
        )
        .await;
    assert_eq!(status_of(&app, applicant).await, "approved");
    browser
        .click(&format!("{member} button:not(.danger)"))
        .await;
    let url = browser
        .wait_for("return !document.querySelector('#link-box').hidden && document.querySelector('#link-url').value", Wait::from_secs(10))
        .await;
    assert!(url.as_str().unwrap().contains("/sign-in/"), "{url}");
    // And retires it.
    browser.click("#resources li button.danger").await;
    browser
        .wait_for(
            "return !document.querySelector('#resources-empty').hidden",
            Wait::from_secs(10),
        )
        .await;
    let r = app.get(&new_seeker(), "/v1/resources?region=hubei").await;
    assert!(r.json::<Vec<Value>>().await.unwrap().is_empty());
    browser.quit().await;
}

#[tokio::test]
async fn an_organisations_administrator_works_the_page_in_chinese_and_in_english() {
    the_organisation_page("zh", "批准").await;
    the_organisation_page("en", "Approve").await;
}

pub(crate) const PHONE: &str = "+8613712345678";

/// An approved expert of `org` with a one-hour session a day, the first
/// running now; returns their id.
pub(crate) async fn member(app: &TestApp, name: &str, org: &str) -> Uuid {
    let mut profile = expert_profile(name);
    profile["organisation_id"] = json!(org);
    // Their region is the organisation's.
    profile["region"] = json!("");
    app.expert_from(
        &profile,
        &crate::dashboard_support::daily_hour_started_five_minutes_ago(chrono::Utc::now()),
    )
    .await
}

/// A seeker who looked at the slate; their token.
async fn looking_seeker(app: &TestApp, subject: &str) -> String {
    let seeker = token(Role::Seeker, subject);
    let r = app.get(&seeker, "/v1/slate").await;
    assert_eq!(r.status(), StatusCode::OK);
    seeker
}

/// The expert records the session and refers the seeker on; the referral.
pub(crate) async fn refer(app: &TestApp, expert: Uuid, booking: Uuid, urgency: &str) -> String {
    let r = app
        .post(
            &token(Role::Expert, &expert.to_string()),
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": urgency}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["referral_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A summary computed now (never the few-seconds cache).
async fn figures(app: &TestApp, who: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(who)
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_organisations_administrator_sees_its_own_figures_and_referrals_and_no_other() {
    let app = spawn_app().await;
    let a = approved(&app, "机构甲", "hubei").await;
    let b = approved(&app, "机构乙", "beijing").await;
    let admin_a = org_admin(&app, &a, "Admin A").await;
    let admin_b = org_admin(&app, &b, "Admin B").await;
    let a1 = member(&app, "甲一", &a).await;
    let a2 = member(&app, "甲二", &a).await;
    let b1 = member(&app, "乙一", &b).await;
    let independent = app
        .expert_with(
            &crate::dashboard_support::daily_hour_started_five_minutes_ago(chrono::Utc::now()),
        )
        .await;
    let a1_slots = app.open_slot_ids(a1, 0..2).await;
    let a2_slot = app.open_slot_ids(a2, 0..1).await[0];
    let b1_slot = app.open_slot_ids(b1, 0..1).await[0];
    let own_slot = app.open_slot_ids(independent, 0..1).await[0];

    // Five seekers see the slate (every expert is on it); three book A's
    // experts, one B's, one the independent expert's.
    let subjects: Vec<String> = (0..5)
        .map(|i| format!("org-figures-{i}-{}", Uuid::new_v4().simple()))
        .collect();
    let mut seekers = Vec::new();
    for s in &subjects {
        seekers.push(looking_seeker(&app, s).await);
    }
    let with_a1 = app.book(&seekers[0], a1_slots[0], PHONE).await;
    app.book(&seekers[1], a2_slot, PHONE).await;
    app.book(&seekers[2], a1_slots[1], PHONE).await;
    let with_b1 = app.book(&seekers[3], b1_slot, PHONE).await;
    let with_independent = app.book(&seekers[4], own_slot, PHONE).await;
    refer(&app, a1, with_a1, "urgent").await;
    refer(&app, b1, with_b1, "routine").await;
    refer(&app, independent, with_independent, "emergency").await;
    app.events_written(10).await;

    // Each organisation's figures count its own experts' seekers and
    // sessions; the national ones count everyone's.
    let summary = |who: String, org: String| {
        let app = &app;
        async move {
            let r = figures(
                app,
                &who,
                &format!("/v1/organisations/{org}/summary?window=24h"),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
            r.json::<Value>().await.unwrap()["overall"].clone()
        }
    };
    let of_a = summary(admin_a.clone(), a.clone()).await;
    let of_b = summary(operator(), b.clone()).await;
    let national = figures(&app, &operator(), "/v1/ops/summary?window=24h")
        .await
        .json::<Value>()
        .await
        .unwrap()["overall"]
        .clone();
    assert_eq!(
        of_a["funnel"]["saw_slate"], 5,
        "every slate showed A's experts"
    );
    assert_eq!(of_a["funnel"]["booked"], 3);
    assert_eq!(of_a["bookings"]["confirmed"], 3);
    assert_eq!(of_a["match_rate"], 0.6);
    assert_eq!(of_a["fairness"]["experts"], 2);
    assert_eq!(of_a["fairness"]["experts_with_zero_bookings"], 0);
    assert_eq!(of_b["funnel"]["booked"], 1);
    assert_eq!(of_b["bookings"]["confirmed"], 1);
    assert_eq!(of_b["match_rate"], 0.2);
    assert_eq!(of_b["fairness"]["experts"], 1);
    assert_eq!(national["funnel"]["booked"], 5);
    assert_eq!(national["fairness"]["experts"], 4);

    // Another organisation's figures are not there for them; the national
    // ones are not theirs; a bad window is named.
    let r = figures(&app, &admin_a, &format!("/v1/organisations/{b}/summary")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = figures(&app, &admin_b, &format!("/v1/organisations/{a}/summary")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = figures(&app, &admin_a, "/v1/ops/summary").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = figures(
        &app,
        &admin_a,
        &format!("/v1/organisations/{a}/summary?window=2d"),
    )
    .await;
    assert_eq!(
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await["field"],
        "window"
    );
    let r = figures(
        &app,
        &token(Role::Expert, &a1.to_string()),
        &format!("/v1/organisations/{a}/summary"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Referrals: each administrator sees those of their own experts'
    // sessions, by alias only; operators see all three.
    let referrals = |who: String| {
        let app = &app;
        async move {
            let r = app.get(&who, "/v1/ops/referrals").await;
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let text = referrals(admin_a.clone()).await;
    let listed: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(listed.len(), 1, "{text}");
    assert_eq!(listed[0]["booking_id"], with_a1.to_string());
    assert_eq!(listed[0]["urgency"], "urgent");
    assert!(listed[0]["seeker_alias"].is_string());
    for secret in subjects.iter().map(String::as_str).chain(["13712345678"]) {
        assert!(!text.contains(secret), "{secret} reached an administrator");
    }
    let listed: Vec<Value> = serde_json::from_str(&referrals(admin_b.clone()).await).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["booking_id"], with_b1.to_string());
    let listed: Vec<Value> = serde_json::from_str(&referrals(operator()).await).unwrap();
    assert_eq!(listed.len(), 3);
    let r = app.get(&admin_a, "/v1/ops/referrals?status=resolved").await;
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 0);
}

/// The expert's past sessions, as the portal reads them.
async fn past_sessions(app: &TestApp, expert: &str) -> String {
    let r = app.get(expert, "/v1/experts/me/bookings?when=past").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

pub(crate) fn place(name: &str, region: &str) -> Value {
    json!({"name": name, "kind": "mental_health_centre", "region": region,
           "phone": "027-8584 4666", "hours": "8:00-17:00"})
}

pub(crate) async fn created(r: reqwest::Response) -> String {
    created_as(r, "id").await
}

/// A place to refer to in `region`, added by an operator; its id.
pub(crate) async fn placed(app: &TestApp, name: &str, region: &str) -> String {
    created(
        app.post(&operator(), "/v1/resources", &place(name, region))
            .await,
    )
    .await
}

async fn names_in(app: &TestApp, region: &str) -> Vec<String> {
    let r = app
        .get(&new_seeker(), &format!("/v1/resources?region={region}"))
        .await;
    r.json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_organisations_administrator_keeps_the_places_of_its_own_region_only() {
    let app = spawn_app().await;
    let a = approved(&app, "机构甲", "hubei").await;
    let admin = org_admin(&app, &a, "Admin A").await;

    // Its region's places: added, edited, retired.
    let ours = created(
        app.post(
            &admin,
            "/v1/resources",
            &place("武汉市精神卫生中心", "hubei"),
        )
        .await,
    )
    .await;
    let r = app
        .put(
            &admin,
            &format!("/v1/resources/{ours}"),
            &place("武汉市精神卫生中心（门诊）", "CN-HB"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        names_in(&app, "hubei").await,
        ["武汉市精神卫生中心（门诊）"]
    );
    let r = app.get(&admin, "/v1/resources?region=hubei").await;
    assert_eq!(
        r.json::<Vec<Value>>().await.unwrap().len(),
        1,
        "theirs to read"
    );
    let r = app
        .post(
            &admin,
            "/v1/resources",
            &json!({"name": "x", "kind": "hotline", "region": "hubei", "phone": "call us", "hours": "24h"}),
        )
        .await;
    assert_eq!(
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "phone"
    );

    // Another region's are not theirs: not to add, not to move theirs to,
    // and not there to edit or retire.
    let r = app
        .post(&admin, "/v1/resources", &place("北京安定医院", "beijing"))
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .put(
            &admin,
            &format!("/v1/resources/{ours}"),
            &place("武汉市精神卫生中心", "beijing"),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let theirs = placed(&app, "北京安定医院", "beijing").await;
    let r = app
        .put(
            &admin,
            &format!("/v1/resources/{theirs}"),
            &place("北京安定医院", "hubei"),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.delete(&admin, &format!("/v1/resources/{theirs}")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(names_in(&app, "beijing").await, ["北京安定医院"]);
    let r = app
        .post(&new_seeker(), "/v1/resources", &place("x", "hubei"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = app.delete(&admin, &format!("/v1/resources/{ours}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(names_in(&app, "hubei").await.is_empty());
    let r = app.delete(&admin, &format!("/v1/resources/{ours}")).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_referral_form_lists_where_the_seeker_can_turn_in_their_region_and_nothing_of_them() {
    let app = spawn_app().await;
    for (name, region) in [
        ("武汉市心理援助热线", "hubei"),
        ("北京心理危机研究与干预中心", "beijing"),
    ] {
        placed(&app, name, region).await;
    }
    let expert = app
        .expert_with(
            &crate::dashboard_support::daily_hour_started_five_minutes_ago(chrono::Utc::now()),
        )
        .await;
    let slots = app.open_slot_ids(expert, 0..2).await;
    // A seeker of Hubei has today's session; one who gave no region, tomorrow's.
    let subject = format!("hubei-seeker-{}", Uuid::new_v4().simple());
    let from_hubei = token(Role::Seeker, &subject);
    let r = app
        .put(&from_hubei, "/v1/seekers/me", &json!({"region": "hubei"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let booking = app.book(&from_hubei, slots[0], PHONE).await;
    app.book(&new_seeker(), slots[1], PHONE).await;

    let mine = token(Role::Expert, &expert.to_string());
    let text = past_sessions(&app, &mine).await;
    let listed: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(listed.len(), 1);
    let places = listed[0]["referral_resources"].as_array().unwrap();
    assert_eq!(places.len(), 1, "{text}");
    assert_eq!(places[0]["name"], "武汉市心理援助热线");
    assert_eq!(places[0]["phone"], "027-8584 4666");
    assert_eq!(places[0]["hours"], "8:00-17:00");
    // Nothing more of the seeker than before: no region, number or subject.
    for secret in ["CN-HB", "hubei", "13712345678", subject.as_str()] {
        assert!(!text.contains(secret), "{secret} reached the expert");
    }
    // The upcoming session's seeker gave no region: no places, and none
    // before the session.
    let r = app.get(&mine, "/v1/experts/me/bookings").await;
    let upcoming: Vec<Value> = r.json().await.unwrap();
    assert!(upcoming
        .iter()
        .filter(|b| b["booking_id"] != booking.to_string())
        .all(|b| b.get("referral_resources").is_none()));

    // Recorded, the form is gone and so is the list.
    refer(&app, expert, booking, "routine").await;
    let text = past_sessions(&app, &mine).await;
    assert!(!text.contains("referral_resources"), "{text}");
}

#[tokio::test]
async fn the_summary_narrows_every_figure_to_an_area_a_region_or_an_organisation() {
    let app = spawn_app().await;
    let a = approved(&app, "机构甲", "hubei").await;
    let b = approved(&app, "机构乙", "beijing").await;
    let a1 = member(&app, "甲一", &a).await;
    let b1 = member(&app, "乙一", &b).await;
    let mut profile = expert_profile("湖南的独立专家");
    profile["region"] = json!("hunan");
    let independent = app
        .expert_from(
            &profile,
            &crate::dashboard_support::daily_hour_started_five_minutes_ago(chrono::Utc::now()),
        )
        .await;

    // Seekers of Hubei (two), Beijing and Hunan; the one of Hunan only looks.
    let mut seekers = Vec::new();
    for region in ["hubei", "hubei", "beijing", "hunan"] {
        let seeker = token(Role::Seeker, &format!("place-{region}-{}", Uuid::new_v4()));
        let r = app
            .put(&seeker, "/v1/seekers/me", &json!({ "region": region }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(app.get(&seeker, "/v1/slate").await.status(), StatusCode::OK);
        seekers.push(seeker);
    }
    for (seeker, expert) in [(0, a1), (1, independent), (2, b1)] {
        let slot = app.open_slot_ids(expert, 0..1).await[0];
        app.book(&seekers[seeker], slot, PHONE).await;
    }
    app.events_written(7).await;

    let summary = |query: String| {
        let app = &app;
        async move {
            let r = figures(
                app,
                &operator(),
                &format!("/v1/ops/summary?window=24h{query}"),
            )
            .await;
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "{query}: {}",
                r.text().await.unwrap()
            );
            r.json::<Value>().await.unwrap()
        }
    };
    // (seekers who saw a slate, who booked, experts) for each filter.
    let seen = |s: &Value| {
        let f = &s["overall"];
        (
            f["funnel"]["saw_slate"].as_i64().unwrap(),
            f["funnel"]["booked"].as_i64().unwrap(),
            f["fairness"]["experts"].as_i64().unwrap(),
        )
    };
    let everything = summary("".into()).await;
    assert_eq!(seen(&everything), (4, 3, 3));
    assert_eq!(seen(&summary("&region=hubei".into()).await), (2, 2, 1));
    assert_eq!(seen(&summary("&region=CN-BJ".into()).await), (1, 1, 1));
    assert_eq!(seen(&summary("&area=central".into()).await), (3, 2, 2));
    assert_eq!(seen(&summary("&area=north".into()).await), (1, 1, 1));
    let by_a = summary(format!("&organisation={a}")).await;
    assert_eq!(seen(&by_a), (4, 1, 1));
    assert_eq!(by_a["overall"]["bookings"]["confirmed"], 1);
    // Beijing's seeker saw A's volunteer but booked B's.
    let a_in_beijing = summary(format!("&organisation={a}&region=beijing&area=north")).await;
    assert_eq!(seen(&a_in_beijing), (1, 0, 0));
    assert_eq!(a_in_beijing["overall"]["match_rate"], 0.0);

    // The breakdown by organisation: each with its bookings and experts,
    // the independent expert in none.
    let rows = everything["by_organisation"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (org, name) in [(&a, "机构甲"), (&b, "机构乙")] {
        let row = rows
            .iter()
            .find(|r| r["organisation_id"] == org.as_str())
            .unwrap();
        assert_eq!(row["name"], name);
        assert_eq!(row["figures"]["bookings"]["confirmed"], 1);
        assert_eq!(row["figures"]["fairness"]["experts"], 1);
    }

    // A filter that names nothing is a 422 that says which.
    let nowhere = Uuid::new_v4().to_string();
    for (query, field) in [
        ("area=middle".to_string(), "area"),
        ("region=atlantis".to_string(), "region"),
        ("area=north&region=hubei".to_string(), "region"),
        ("organisation=nope".to_string(), "organisation"),
        (format!("organisation={nowhere}"), "organisation"),
    ] {
        let r = figures(&app, &operator(), &format!("/v1/ops/summary?{query}")).await;
        assert_eq!(
            assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
            field,
            "{query}"
        );
    }
}

/// A booking of the expert's session running now by a seeker of `region`,
/// referred on; returns (booking, referral).
async fn referred_session(app: &TestApp, expert: Uuid, region: &str) -> (Uuid, String) {
    let seeker = new_seeker();
    let r = app
        .put(&seeker, "/v1/seekers/me", &json!({ "region": region }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let slot = app.open_slot_ids(expert, 0..1).await[0];
    let booking = app.book(&seeker, slot, PHONE).await;
    let referral = refer(app, expert, booking, "urgent").await;
    (booking, referral)
}

#[tokio::test]
async fn an_area_operator_sees_and_acts_within_the_regions_of_its_area_only() {
    let app = spawn_app().await;
    let north = area_operator(&app, "North Operator", anxin_domain::region::Area::North).await;

    // Hubei (central) and Beijing (north): an organisation, an expert with
    // a referred session, an applicant and a place to refer to, each.
    let mut place = std::collections::HashMap::new();
    for region in ["hubei", "beijing"] {
        let org = approved(&app, &format!("机构 {region}"), region).await;
        let expert = member(&app, &format!("专家 {region}"), &org).await;
        let applicant = local_volunteer(&app, &format!("申请人 {region}"), &org).await;
        let (booking, referral) = referred_session(&app, expert, region).await;
        let resource = placed(&app, &format!("{region} 精神卫生中心"), region).await;
        place.insert(
            region,
            (org, expert, applicant, booking, referral, resource),
        );
    }
    let (h_org, h_expert, h_applicant, h_booking, h_referral, h_resource) = place["hubei"].clone();
    let (b_org, b_expert, b_applicant, b_booking, b_referral, b_resource) =
        place["beijing"].clone();

    // Hubei's are not there for them; Beijing's are theirs.
    let get = |path: String| {
        let app = &app;
        let north = north.clone();
        async move { app.get(&north, &path).await.status() }
    };
    let post = |path: String, body: Value| {
        let app = &app;
        let north = north.clone();
        async move { app.post(&north, &path, &body).await.status() }
    };
    use StatusCode as S;
    for (path, theirs) in [
        (format!("/v1/experts/{h_expert}/availability"), S::NOT_FOUND),
        (format!("/v1/experts/{b_expert}/availability"), S::OK),
        (format!("/v1/bookings/{h_booking}"), S::NOT_FOUND),
        (format!("/v1/bookings/{b_booking}"), S::OK),
        (format!("/v1/organisations/{h_org}/experts"), S::NOT_FOUND),
        (format!("/v1/organisations/{b_org}/experts"), S::OK),
        (format!("/v1/organisations/{h_org}/summary"), S::NOT_FOUND),
        (format!("/v1/organisations/{b_org}/summary"), S::OK),
    ] {
        assert_eq!(get(path.clone()).await, theirs, "GET {path}");
    }
    // Supervision: the training and debriefs of their area's experts only
    // (both sessions were referred as urgent, so each opened a debrief);
    // the modules are the same everywhere, defined nationally.
    for (path, theirs) in [
        (format!("/v1/experts/{h_expert}/training"), S::NOT_FOUND),
        (format!("/v1/experts/{b_expert}/training"), S::OK),
    ] {
        assert_eq!(get(path.clone()).await, theirs, "GET {path}");
    }
    let debriefs = app.get_json(&north, "/v1/supervision/debriefs").await;
    let whose: Vec<&Value> = debriefs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["expert_id"])
        .collect();
    assert_eq!(whose, [&json!(b_expert)]);
    assert_eq!(
        app.get_json(&north, "/v1/ops/board").await["debriefs"]["open"],
        1
    );
    assert_eq!(
        app.get_json(&operator(), "/v1/supervision/debriefs")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = app
        .post(
            &north,
            "/v1/training/modules",
            &json!({"title": "北方的指引", "required": true, "self_attest": true}),
        )
        .await;
    assert_eq!(r.status(), S::FORBIDDEN);
    for (path, body, theirs) in [
        (
            format!("/v1/experts/{h_applicant}/approve"),
            json!({}),
            S::NOT_FOUND,
        ),
        (
            format!("/ops/experts/{h_applicant}/approve"),
            json!({}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/experts/{h_expert}/suspend"),
            json!({}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/experts/{h_expert}/sign-in-links"),
            json!({}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/experts/{b_expert}/sign-in-links"),
            json!({}),
            S::CREATED,
        ),
        (
            format!("/v1/bookings/{h_booking}/cancel"),
            json!({}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/bookings/{h_booking}/outcome"),
            json!({"outcome": "completed", "follow_up": "none"}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/ops/referrals/{h_referral}/resolve"),
            json!({"resolution": "contacted"}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/ops/referrals/{h_referral}/callback"),
            json!({"operator_phone": "+8613800000000"}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/organisations/{h_org}/suspend"),
            json!({}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/organisations/{h_org}/reject"),
            json!({"reason": "no"}),
            S::NOT_FOUND,
        ),
        (
            format!("/v1/organisations/{h_org}/admins"),
            json!({"name": "someone"}),
            S::NOT_FOUND,
        ),
        (
            "/v1/experts".into(),
            expert_profile("湖北的新专家"),
            S::FORBIDDEN,
        ),
        ("/v1/resources".into(), place_input("hubei"), S::FORBIDDEN),
        ("/v1/resources".into(), place_input("beijing"), S::CREATED),
        (
            format!("/v1/experts/{b_applicant}/approve"),
            json!({}),
            S::OK,
        ),
        (
            format!("/v1/ops/referrals/{b_referral}/resolve"),
            json!({"resolution": "contacted"}),
            S::OK,
        ),
    ] {
        assert_eq!(post(path.clone(), body).await, theirs, "POST {path}");
    }
    let r = app
        .put(&north, "/v1/regions/hubei", &json!({"open": false}))
        .await;
    assert_error(r, S::FORBIDDEN, "forbidden").await;
    let r = app
        .put(&north, "/v1/regions/beijing", &json!({"open": true}))
        .await;
    assert_eq!(r.status(), S::OK);
    let r = app
        .put(
            &north,
            &format!("/v1/resources/{h_resource}"),
            &place_input("hubei"),
        )
        .await;
    assert_error(r, S::NOT_FOUND, "not_found").await;
    let r = app
        .delete(&north, &format!("/v1/resources/{h_resource}"))
        .await;
    assert_error(r, S::NOT_FOUND, "not_found").await;
    let r = app
        .delete(&north, &format!("/v1/resources/{b_resource}"))
        .await;
    assert_eq!(r.status(), S::NO_CONTENT);
    let r = app
        .post(
            &north,
            "/ops/experts/decline",
            &json!({ "ids": [h_applicant] }),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["skipped"], 1);
    // Hubei's stayed as they were.
    assert_eq!(status_of(&app, h_applicant).await, "applied");
    assert_eq!(status_of(&app, h_expert).await, "approved");

    // What they see: their area's figures, queue and board.
    app.events_written(2).await;
    let booked = |s: Value| s["overall"]["bookings"]["confirmed"].as_i64().unwrap();
    let mine = figures(&app, &north, "/v1/ops/summary").await;
    assert_eq!(booked(mine.json().await.unwrap()), 1);
    let all = figures(&app, &operator(), "/v1/ops/summary").await;
    assert_eq!(booked(all.json().await.unwrap()), 2);
    let r = figures(&app, &north, "/v1/ops/summary?region=hubei").await;
    assert_error(r, S::FORBIDDEN, "forbidden").await;
    let r = figures(
        &app,
        &north,
        &format!("/v1/ops/summary?organisation={h_org}"),
    )
    .await;
    assert_eq!(
        assert_error(r, S::UNPROCESSABLE_ENTITY, "invalid_input").await["field"],
        "organisation"
    );
    let queue: Vec<Value> = app
        .get(&north, "/v1/ops/referrals?status=resolved")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["referral_id"], b_referral.as_str());
    let open: Vec<Value> = app
        .get(&operator(), "/v1/ops/referrals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        open.len(),
        1,
        "Hubei's is still open, for the national operators"
    );
    assert_eq!(open[0]["referral_id"], h_referral.as_str());
    let board: Value = app.get(&north, "/v1/ops/board").await.json().await.unwrap();
    assert_eq!(board["area"], "north");
    assert_eq!(board["pending_total"], 0, "{board}");
    assert_eq!(board["referrals"].as_array().unwrap().len(), 0);
    let calls: Vec<&str> = board["upcoming_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["expert_id"].as_str().unwrap())
        .collect();
    assert_eq!(calls, [b_expert.to_string()]);
    let board: Value = app
        .get(&operator(), "/v1/ops/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        board["pending_total"], 1,
        "Hubei's applicant, for the national operators"
    );
    assert!(board["area"].is_null());

    // Every operation an operator may call has been weighed for an area's
    // reach above: a new one fails here until it is.
    let weighed = [
        "GET /v1/ops/summary",
        "GET /v1/ops/board",
        "GET /ops",
        "POST /ops/experts/{id}/approve",
        "POST /ops/experts/{id}/suspend",
        "POST /ops/experts/decline",
        "GET /v1/payments/{id}",
        "POST /v1/experts/{id}/sign-in-links",
        "POST /v1/bookings/{id}/outcome",
        "GET /v1/ops/referrals",
        "POST /v1/ops/referrals/{id}/resolve",
        "POST /v1/ops/referrals/{id}/callback",
        "GET /v1/bookings/{id}",
        "POST /v1/bookings/{id}/cancel",
        // By the seeker's region (the matrix asks it of a Hubei seeker's).
        "GET /v1/help-now/{id}",
        "POST /v1/help-now/{id}/outcome",
        "POST /v1/experts",
        "POST /v1/experts/{id}/approve",
        "POST /v1/experts/{id}/suspend",
        "GET /v1/experts/{id}/availability",
        "PUT /v1/experts/{id}/availability",
        "PUT /v1/regions/{code}",
        "POST /v1/resources",
        "PUT /v1/resources/{id}",
        "DELETE /v1/resources/{id}",
        "POST /v1/organisations/{id}/approve",
        "POST /v1/organisations/{id}/reject",
        "POST /v1/organisations/{id}/suspend",
        "POST /v1/organisations/{id}/admins",
        "GET /v1/organisations/{id}/experts",
        "GET /v1/organisations/{id}/summary",
        "POST /v1/training/modules",
        "GET /v1/experts/{id}/training",
        "POST /v1/experts/{id}/training/{module_id}",
        "PUT /v1/experts/{id}/flags",
        "PUT /v1/experts/{id}/supervisor",
        "GET /v1/supervision/debriefs",
        "POST /v1/supervision/debriefs/{id}/done",
        // Anyone's with a token, not a place's: the slots, the directory, an
        // application, the end of one's own session.
        "GET /v1/experts/{id}/slots",
        "GET /v1/resources",
        "GET /v1/training/modules",
        "POST /v1/expert-applications",
        "POST /v1/sessions/end",
    ];
    let unweighed: Vec<String> = every_other_operation(&app, &north, &weighed)
        .await
        .into_iter()
        .filter(|(_, status)| *status != S::FORBIDDEN)
        .map(|(name, status)| format!("{name} -> {status}"))
        .collect();
    assert!(
        unweighed.is_empty(),
        "operations an operator reaches, not yet weighed for an area: {unweighed:?}"
    );
}

fn place_input(region: &str) -> Value {
    place(&format!("{region} 精神卫生中心"), region)
}
