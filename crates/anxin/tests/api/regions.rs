//! Regions and the phased roll-out, local experts first, and the directory
//! of where to refer.
use crate::helpers::*;
use anxin_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// An approved expert of `region` open all week; returns their id.
async fn expert_in(app: &TestApp, name: &str, region: &str) -> Uuid {
    let mut profile = expert_profile(name);
    profile["region"] = json!(region);
    app.expert_from(&profile, &all_week(60)).await
}

/// A seeker who said where they are.
async fn seeker_in(app: &TestApp, region: &str) -> String {
    let seeker = new_seeker();
    let r = app
        .put(&seeker, "/v1/seekers/me", &json!({ "region": region }))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    seeker
}

async fn slate(app: &TestApp, seeker: &str) -> Value {
    let r = app.get(seeker, "/v1/slate").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_34_regions_are_listed_with_their_areas_and_any_region_field_takes_code_or_pinyin() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/v1/regions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let regions: Vec<Value> = r.json().await.unwrap();
    assert_eq!(regions.len(), 34);
    let mut by_area: HashMap<String, usize> = HashMap::new();
    for r in &regions {
        *by_area
            .entry(r["area"].as_str().unwrap().into())
            .or_default() += 1;
        assert_eq!(r["open"], true, "{r}");
    }
    assert_eq!(by_area.len(), 5, "{by_area:?}");
    let hubei = regions.iter().find(|r| r["code"] == "CN-HB").unwrap();
    assert_eq!(
        (&hubei["name_zh"], &hubei["name_en"], &hubei["area"]),
        (&json!("湖北"), &json!("Hubei"), &json!("central"))
    );

    // A seeker's region: code or pinyin in any case, kept as the code.
    let seeker = new_seeker();
    for written in ["CN-HB", "hubei", "HuBei", "湖北省"] {
        let r = app
            .put(&seeker, "/v1/seekers/me", &json!({ "region": written }))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{written}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["region"],
            "CN-HB",
            "{written}"
        );
    }
    // An expert's too; an unknown one is refused, naming the field, and
    // nothing is created.
    let id = expert_in(&app, "Dr. Guangzhou", "guangdong").await;
    let pool = app.db().await;
    let stored: String = sqlx::query_scalar("SELECT region FROM experts WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, "CN-GD");
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM experts")
        .fetch_one(&pool)
        .await
        .unwrap();
    for unknown in ["atlantis", "CN-XX", "hub"] {
        let mut profile = expert_profile("Dr. Nowhere");
        profile["region"] = json!(unknown);
        let r = app.post(&operator(), "/v1/experts", &profile).await;
        let body = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(body["field"], "region");
        let r = app
            .put(&seeker, "/v1/seekers/me", &json!({ "region": unknown }))
            .await;
        let body = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(body["field"], "region");
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM experts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_seeker_sees_their_regions_experts_first_then_their_areas_then_the_countrys() {
    // Room for three: two of Hubei, then one of Hunan (the same area,
    // central); Shanghai's only when the nearer ones run out.
    let app = spawn_app_with(|s| s.slate_size = 3).await;
    let hubei = [
        expert_in(&app, "Hubei 1", "hubei").await,
        expert_in(&app, "Hubei 2", "CN-HB").await,
    ];
    let hunan = [
        expert_in(&app, "Hunan 1", "hunan").await,
        expert_in(&app, "Hunan 2", "hunan").await,
    ];
    let shanghai = expert_in(&app, "Shanghai 1", "shanghai").await;
    let ids = |s: &Value| -> Vec<(Uuid, bool)> {
        s["experts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["expert_id"].as_str().unwrap().parse().unwrap(),
                    e["local"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    for _ in 0..5 {
        let s = slate(&app, &seeker_in(&app, "hubei").await).await;
        assert_eq!(s["service_open"], true);
        let got = ids(&s);
        assert_eq!(got.len(), 3, "{s}");
        assert!(
            got[..2]
                .iter()
                .all(|(id, local)| hubei.contains(id) && *local),
            "{s}"
        );
        assert!(hunan.contains(&got[2].0) && !got[2].1, "{s}");
        assert!(got.iter().all(|g| g.0 != shanghai), "{s}");
    }
    // A seeker of Shanghai: theirs first, then others (east has no one else).
    let got = ids(&slate(&app, &seeker_in(&app, "shanghai").await).await);
    assert_eq!(got[0], (shanghai, true));
    assert!(got[1..].iter().all(|(_, local)| !local));
    // A seeker whose region is not known is served nationally: nobody is
    // local.
    let got = ids(&slate(&app, &new_seeker()).await);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(_, local)| !local));
}

#[tokio::test]
async fn a_seeker_whose_regions_volunteers_are_free_only_in_days_also_sees_those_free_today() {
    // Hubei's two volunteers keep only the day after tomorrow (24 to 72
    // hours away); Hunan's and Shanghai's keep every day.
    let app = spawn_app_with(|s| s.slate_size = 3).await;
    let later = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%a")
        .to_string()
        .to_lowercase();
    let mut hubei = Vec::new();
    for name in ["Hubei 1", "Hubei 2"] {
        let mut profile = expert_profile(name);
        profile["region"] = json!("hubei");
        let hours = json!({
            "timezone": "UTC", "slot_minutes": 60, "overrides": [],
            "weekly": [{"weekday": later, "start": "00:00", "end": "24:00"}],
        });
        hubei.push(app.expert_from(&profile, &hours).await);
    }
    let hunan = expert_in(&app, "Hunan 1", "hunan").await;
    let shanghai = expert_in(&app, "Shanghai 1", "shanghai").await;
    for _ in 0..5 {
        let s = slate(&app, &seeker_in(&app, "hubei").await).await;
        let got: Vec<Uuid> = s["experts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["expert_id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(got.len(), 3, "{s}");
        // Someone who can talk today from the area and from the country,
        // then one of their own region's for later in the week.
        assert!(got.contains(&hunan) && got.contains(&shanghai), "{s}");
        assert_eq!(got.iter().filter(|id| hubei.contains(id)).count(), 1, "{s}");
    }
}

#[tokio::test]
async fn a_closed_region_shows_its_hotlines_and_no_experts_and_opens_again_at_once() {
    let app = spawn_app().await;
    expert_in(&app, "Hubei 1", "hubei").await;
    let r = app
        .post(
            &operator(),
            "/v1/resources",
            &json!({"name": "武汉市心理援助热线", "kind": "hotline", "region": "hubei",
                    "phone": "027-8584 4666", "hours": "24 小时"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let wuhan = seeker_in(&app, "hubei").await;
    let beijing = seeker_in(&app, "beijing").await;

    // Only an operator switches a region; an unknown region is 404.
    for who in [
        new_seeker(),
        token(Role::Expert, &Uuid::new_v4().to_string()),
    ] {
        let r = app
            .put(&who, "/v1/regions/CN-HB", &json!({"open": false}))
            .await;
        assert!(matches!(
            r.status(),
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
        ));
    }
    let r = app
        .put(&operator(), "/v1/regions/CN-XX", &json!({"open": false}))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;

    let r = app
        .put(&operator(), "/v1/regions/hubei", &json!({"open": false}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["open"], false);
    let s = slate(&app, &wuhan).await;
    assert_eq!(s["service_open"], false, "{s}");
    assert_eq!(s["experts"], json!([]));
    assert_eq!(s["hotlines"][0]["phone"], "027-8584 4666", "{s}");
    // Another region is served as before (nationally: Hubei's expert too).
    let s = slate(&app, &beijing).await;
    assert_eq!(s["service_open"], true);
    assert_eq!(s["experts"].as_array().unwrap().len(), 1);
    let listed: Vec<Value> = app
        .client
        .get(app.url("/v1/regions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().find(|r| r["code"] == "CN-HB").unwrap()["open"],
        false
    );

    let r = app
        .put(&operator(), "/v1/regions/CN-HB", &json!({"open": true}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = slate(&app, &wuhan).await;
    assert_eq!(s["service_open"], true);
    assert_eq!(s["experts"].as_array().unwrap().len(), 1);

    // Both switches are in the audit log.
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE target_type = 'region' ORDER BY at")
            .fetch_all(&app.db().await)
            .await
            .unwrap();
    assert_eq!(actions, ["region.close", "region.open"]);
}

#[tokio::test]
async fn operators_keep_the_directory_and_a_referral_names_the_resource_it_went_to() {
    let app = spawn_app().await;
    let centre = json!({"name": "武汉市精神卫生中心", "kind": "mental_health_centre",
                        "region": "湖北", "phone": "027-8584 4666", "hours": "8:00-17:00",
                        "address": "武汉市江岸区"});
    // Only operators write it; bad input is named and nothing is kept.
    let r = app.post(&new_seeker(), "/v1/resources", &centre).await;
    assert!(matches!(
        r.status(),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED
    ));
    for (field, bad) in [
        ("phone", json!("call us")),
        ("region", json!("atlantis")),
        ("name", json!(" ")),
    ] {
        let mut body = centre.clone();
        body[field] = bad;
        let r = app.post(&operator(), "/v1/resources", &body).await;
        let e = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(e["field"], field);
    }
    let r = app
        .post(&operator(), "/v1/resources", &json!({"kind": "spa"}))
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = app.post(&operator(), "/v1/resources", &centre).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut hotline = centre.clone();
    hotline["name"] = json!("武汉市心理援助热线");
    hotline["kind"] = json!("hotline");
    let r = app.post(&operator(), "/v1/resources", &hotline).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Anyone with a token reads it, by region (code or pinyin) and kind.
    let seeker = new_seeker();
    let listed: Vec<Value> = app
        .get(&seeker, "/v1/resources?region=hubei")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["kind"], "hotline", "hotlines first");
    assert_eq!(listed[1]["region"], "CN-HB");
    let centres: Vec<Value> = app
        .get(
            &seeker,
            "/v1/resources?region=CN-HB&kind=mental_health_centre",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(centres.len(), 1);
    let none: Vec<Value> = app
        .get(&seeker, "/v1/resources?region=beijing")
        .await
        .json()
        .await
        .unwrap();
    assert!(none.is_empty());
    let r = app.get(&seeker, "/v1/resources?kind=spa").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await;
    let r = app.get(&seeker, "/v1/resources").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .get(app.url("/v1/resources"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // An edit, then a referral resolved to it; an unknown resource is
    // refused and the referral stays open.
    let mut edited = centre.clone();
    edited["hours"] = json!("24 小时");
    let r = app
        .put(&operator(), &format!("/v1/resources/{id}"), &edited)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["hours"], "24 小时");

    let expert = app
        .expert_with(
            &crate::dashboard_support::daily_hour_started_five_minutes_ago(chrono::Utc::now()),
        )
        .await;
    let slot = app.open_slot_ids(expert, 0..1).await[0];
    let booking = app.book(&new_seeker(), slot, "+8613712345678").await;
    let r = app
        .post(
            &token(Role::Expert, &expert.to_string()),
            &format!("/v1/bookings/{booking}/outcome"),
            &json!({"outcome": "completed", "follow_up": "refer", "urgency": "urgent"}),
        )
        .await;
    let referral = r.json::<Value>().await.unwrap()["referral_id"]
        .as_str()
        .unwrap()
        .to_string();
    let resolve = format!("/v1/ops/referrals/{referral}/resolve");
    let r = app
        .post(
            &operator(),
            &resolve,
            &json!({"resolution": "referred", "resource_id": Uuid::new_v4()}),
        )
        .await;
    let e = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(e["field"], "resource_id");
    let r = app
        .post(
            &operator(),
            &resolve,
            &json!({"resolution": "referred", "resource_id": id}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let named: Option<Uuid> =
        sqlx::query_scalar("SELECT resource_id FROM referrals WHERE id = $1::text::uuid")
            .bind(&referral)
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(named.map(|u| u.to_string()), Some(id.clone()));

    // Retired: no longer listed.
    let r = app
        .delete(&operator(), &format!("/v1/resources/{id}"))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .delete(&operator(), &format!("/v1/resources/{id}"))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let listed: Vec<Value> = app
        .get(&seeker, "/v1/resources?region=hubei")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}
