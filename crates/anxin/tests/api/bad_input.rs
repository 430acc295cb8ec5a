//! Every write endpoint, fed malformed and absurd input: each answer is a 4xx
//! with the JSON error body (naming the field where one is at fault), never a
//! 5xx, and nothing is written.
use crate::helpers::*;
use anxin_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

enum Body {
    Json(Value),
    Raw(&'static str),
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    token: String,
    body: Body,
    status: u16,
    field: Option<&'static str>,
}

fn profile_with(key: &str, value: Value) -> Value {
    let mut p = expert_profile("Dr. Bad");
    p[key] = value;
    p
}

fn availability_with(key: &str, value: Value) -> Value {
    let mut a = all_week(60);
    a[key] = value;
    a
}

#[tokio::test]
async fn every_write_endpoint_answers_bad_input_with_a_clear_4xx() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let op = operator();
    let seeker = new_seeker();
    let expert_token = token(Role::Expert, &expert.to_string());
    let avail = format!("/v1/experts/{expert}/availability");
    let many_ranges: Vec<Value> = (0..500)
        .map(|_| json!({"weekday": "mon", "start": "09:00", "end": "10:00"}))
        .collect();

    let mut cases = vec![
        // POST /v1/experts
        Case {
            name: "malformed json",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Raw("{\"display_name\": "),
            status: 400,
            field: None,
        },
        Case {
            name: "not json at all",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Raw("hello"),
            status: 400,
            field: None,
        },
        Case {
            name: "wrong type",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("languages", json!("zh"))),
            status: 400,
            field: Some("languages"),
        },
        Case {
            name: "missing field",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(json!({"display_name": "x"})),
            status: 400,
            field: None,
        },
        Case {
            name: "unknown field",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("salary", json!(1))),
            status: 400,
            field: None,
        },
        Case {
            name: "bad phone",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("phone", json!("12345"))),
            status: 422,
            field: Some("phone"),
        },
        Case {
            name: "bad time zone",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("timezone", json!("Mars/Base"))),
            status: 422,
            field: Some("timezone"),
        },
        Case {
            name: "empty name",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("display_name", json!("  "))),
            status: 422,
            field: Some("display_name"),
        },
        Case {
            name: "no languages",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("languages", json!([]))),
            status: 422,
            field: Some("languages"),
        },
        Case {
            name: "huge name",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("display_name", json!("x".repeat(5000)))),
            status: 422,
            field: Some("display_name"),
        },
        // POST /v1/expert-applications
        Case {
            name: "application with bad phone",
            method: "POST",
            path: "/v1/expert-applications".into(),
            token: seeker.clone(),
            body: Body::Json(profile_with("phone", json!("+0"))),
            status: 422,
            field: Some("phone"),
        },
        // approve / suspend
        Case {
            name: "approve bad uuid",
            method: "POST",
            path: "/v1/experts/not-a-uuid/approve".into(),
            token: op.clone(),
            body: Body::Json(json!({})),
            status: 400,
            field: Some("id"),
        },
        Case {
            name: "suspend bad uuid",
            method: "POST",
            path: "/v1/experts/123/suspend".into(),
            token: op.clone(),
            body: Body::Json(json!({})),
            status: 400,
            field: Some("id"),
        },
        // PUT availability
        Case {
            name: "slot_minutes 0",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with("slot_minutes", json!(0))),
            status: 422,
            field: Some("slot_minutes"),
        },
        Case {
            name: "slot_minutes 10000",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with("slot_minutes", json!(10000))),
            status: 422,
            field: Some("slot_minutes"),
        },
        Case {
            name: "slot_minutes negative",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with("slot_minutes", json!(-5))),
            status: 400,
            field: Some("slot_minutes"),
        },
        Case {
            name: "slot_minutes absurd",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with("slot_minutes", json!(1e300))),
            status: 400,
            field: Some("slot_minutes"),
        },
        Case {
            name: "start after end",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with(
                "weekly",
                json!([{"weekday": "mon", "start": "12:00", "end": "09:00"}]),
            )),
            status: 422,
            field: Some("weekly[0].end"),
        },
        Case {
            name: "unknown weekday",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with(
                "weekly",
                json!([{"weekday": "funday", "start": "09:00", "end": "10:00"}]),
            )),
            status: 400,
            field: Some("weekly[0].weekday"),
        },
        Case {
            name: "bad clock time",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with(
                "weekly",
                json!([{"weekday": "mon", "start": "9am", "end": "10:00"}]),
            )),
            status: 422,
            field: Some("weekly[0].start"),
        },
        Case {
            name: "500 weekly ranges",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with("weekly", json!(many_ranges))),
            status: 422,
            field: Some("weekly"),
        },
        Case {
            name: "overlapping ranges",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with(
                "weekly",
                json!([{"weekday": "mon", "start": "09:00", "end": "11:00"}, {"weekday": "mon", "start": "10:00", "end": "12:00"}]),
            )),
            status: 422,
            field: Some("weekly"),
        },
        Case {
            name: "bad override date",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with(
                "overrides",
                json!([{"date": "2026-02-30", "closed": true}]),
            )),
            status: 422,
            field: Some("overrides[0].date"),
        },
        Case {
            name: "closed override with hours",
            method: "PUT",
            path: avail.clone(),
            token: expert_token.clone(),
            body: Body::Json(availability_with(
                "overrides",
                json!([{"date": "2026-12-01", "closed": true, "start": "09:00", "end": "10:00"}]),
            )),
            status: 422,
            field: Some("overrides[0]"),
        },
        Case {
            name: "availability bad uuid",
            method: "PUT",
            path: "/v1/experts/zzz/availability".into(),
            token: op.clone(),
            body: Body::Json(all_week(60)),
            status: 400,
            field: Some("id"),
        },
        Case {
            name: "availability unknown expert",
            method: "PUT",
            path: format!("/v1/experts/{}/availability", uuid::Uuid::new_v4()),
            token: op.clone(),
            body: Body::Json(all_week(60)),
            status: 404,
            field: None,
        },
        // Postgres text can't hold a NUL: refused as input, not a 500.
        Case {
            name: "name with a NUL",
            method: "POST",
            path: "/v1/experts".into(),
            token: op.clone(),
            body: Body::Json(profile_with("display_name", json!("Dr.\u{0} Bad"))),
            status: 422,
            field: Some("display_name"),
        },
        // PUT /v1/seekers/me
        Case {
            name: "unknown priority group",
            method: "PUT",
            path: "/v1/seekers/me".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"priority_group": "vip"})),
            status: 400,
            field: Some("priority_group"),
        },
        Case {
            name: "region too long",
            method: "PUT",
            path: "/v1/seekers/me".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"region": "x".repeat(100)})),
            status: 422,
            field: Some("region"),
        },
        Case {
            name: "an array for an object",
            method: "PUT",
            path: "/v1/seekers/me".into(),
            token: seeker.clone(),
            body: Body::Raw(" [null, null]"),
            status: 400,
            field: None,
        },
        Case {
            name: "region with a NUL",
            method: "PUT",
            path: "/v1/seekers/me".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"region": "hu\u{0}bei"})),
            status: 422,
            field: Some("region"),
        },
        // POST /v1/holds
        Case {
            name: "hold bad slot id",
            method: "POST",
            path: "/v1/holds".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"slot_id": "nope"})),
            status: 400,
            field: Some("slot_id"),
        },
        Case {
            name: "hold slot id as number",
            method: "POST",
            path: "/v1/holds".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"slot_id": 42})),
            status: 400,
            field: Some("slot_id"),
        },
        Case {
            name: "hold unknown slot",
            method: "POST",
            path: "/v1/holds".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"slot_id": uuid::Uuid::new_v4()})),
            status: 404,
            field: None,
        },
        Case {
            name: "hold empty body",
            method: "POST",
            path: "/v1/holds".into(),
            token: seeker.clone(),
            body: Body::Raw(""),
            status: 400,
            field: None,
        },
        // DELETE /v1/holds/{id}
        Case {
            name: "release bad id",
            method: "DELETE",
            path: "/v1/holds/xyz".into(),
            token: seeker.clone(),
            body: Body::Raw(""),
            status: 400,
            field: Some("id"),
        },
        Case {
            name: "release unknown hold",
            method: "DELETE",
            path: format!("/v1/holds/{}", uuid::Uuid::new_v4()),
            token: seeker.clone(),
            body: Body::Raw(""),
            status: 404,
            field: None,
        },
        // POST /v1/bookings
        Case {
            name: "booking bad phone",
            method: "POST",
            path: "/v1/bookings".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"hold_id": uuid::Uuid::new_v4(), "phone": "call me"})),
            status: 422,
            field: Some("phone"),
        },
        Case {
            name: "booking phone as number",
            method: "POST",
            path: "/v1/bookings".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"hold_id": uuid::Uuid::new_v4(), "phone": 8613812345678u64})),
            status: 400,
            field: Some("phone"),
        },
        Case {
            name: "booking unknown hold",
            method: "POST",
            path: "/v1/bookings".into(),
            token: seeker.clone(),
            body: Body::Json(json!({"hold_id": uuid::Uuid::new_v4(), "phone": "+8613812345678"})),
            status: 409,
            field: None,
        },
        Case {
            name: "booking huge note",
            method: "POST",
            path: "/v1/bookings".into(),
            token: seeker.clone(),
            body: Body::Json(
                json!({"hold_id": uuid::Uuid::new_v4(), "phone": "+8613812345678", "note": "x".repeat(2000)}),
            ),
            status: 422,
            field: Some("note"),
        },
        Case {
            name: "booking note with a NUL",
            method: "POST",
            path: "/v1/bookings".into(),
            token: seeker.clone(),
            body: Body::Json(
                json!({"hold_id": uuid::Uuid::new_v4(), "phone": "+8613812345678", "note": "call\u{0}"}),
            ),
            status: 422,
            field: Some("note"),
        },
        // POST /v1/bookings/{id}/cancel
        Case {
            name: "cancel bad id",
            method: "POST",
            path: "/v1/bookings/0/cancel".into(),
            token: seeker.clone(),
            body: Body::Json(json!({})),
            status: 400,
            field: Some("id"),
        },
        Case {
            name: "cancel unknown booking",
            method: "POST",
            path: format!("/v1/bookings/{}/cancel", uuid::Uuid::new_v4()),
            token: seeker.clone(),
            body: Body::Json(json!({})),
            status: 404,
            field: None,
        },
    ];
    cases.push(Case {
        name: "huge body",
        method: "POST",
        path: "/v1/experts".into(),
        token: op.clone(),
        body: Body::Json(profile_with("bio", json!("x".repeat(100_000)))),
        status: 400,
        field: None,
    });

    let before = row_counts(&app).await;
    for case in cases {
        let mut req = match case.method {
            "POST" => app.client.post(app.url(&case.path)),
            "PUT" => app.client.put(app.url(&case.path)),
            _ => app.client.delete(app.url(&case.path)),
        }
        .bearer_auth(&case.token);
        req = match case.body {
            Body::Json(v) => req.json(&v),
            Body::Raw(s) => req.header("Content-Type", "application/json").body(s),
        };
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status.as_u16(), case.status, "{}: {text}", case.name);
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{}: not JSON: {text}", case.name));
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{}: {text}",
            case.name
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: {text}",
            case.name
        );
        if let Some(field) = case.field {
            assert_eq!(body["field"], field, "{}: {text}", case.name);
        }
    }
    // Nothing was written by any of them.
    assert_eq!(row_counts(&app).await, before);
    // Wrong content type.
    let r = app
        .client
        .post(app.url("/v1/holds"))
        .bearer_auth(&seeker)
        .body("slot_id=1")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "unsupported_media_type").await;
    // A bad query value names its field.
    let r = app.get(&seeker, "/v1/slate?language=%3Cscript%3E").await;
    assert_eq!(
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await["field"],
        "language"
    );
    let r = app
        .get(&op, &format!("/v1/experts/{expert}/slots?from=yesterday"))
        .await;
    assert_eq!(
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await["field"],
        "from"
    );
    let bad_key = app
        .client
        .post(app.url("/v1/holds"))
        .bearer_auth(&seeker)
        .header("Idempotency-Key", "")
        .json(&json!({"slot_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .unwrap();
    assert_error(bad_key, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
}

/// Rows per table that a write endpoint could touch (seekers aside: a seeker
/// is recorded, pseudonymously, on first sight).
async fn row_counts(app: &TestApp) -> Vec<(String, i64)> {
    let db = app.db().await;
    let mut out = Vec::new();
    for t in [
        "experts",
        "availability",
        "availability_rules",
        "availability_overrides",
        "slots",
        "bookings",
        "call_tasks",
        "audit_log",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
            .fetch_one(&db)
            .await
            .unwrap();
        out.push((t.to_string(), n));
    }
    let slots: Vec<String> =
        sqlx::query_scalar("SELECT id::text || status || starts_at::text FROM slots ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap();
    out.push((slots.concat(), 0));
    out
}

/// The body schema of `op` (its `$ref` resolved), if it takes JSON.
fn body_schema(doc: &Value, op: &crate::openapi::Operation<'_>) -> Option<Value> {
    let schema = op.spec()["requestBody"]["content"]["application/json"].get("schema")?;
    Some(resolve(doc, schema).clone())
}

fn resolve<'d>(doc: &'d Value, schema: &'d Value) -> &'d Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => match schema["allOf"].as_array().or(schema["oneOf"].as_array()) {
            // `Option<T>` and `allOf: [T]` wrap the one schema that matters.
            Some(all) => all
                .iter()
                .map(|s| resolve(doc, s))
                .find(|s| s["type"] != "null")
                .unwrap_or(schema),
            None => schema,
        },
    }
}

/// The schema's type, `null` aside (`Option<T>` is `[T, "null"]`).
fn kind_of(schema: &Value) -> Value {
    match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or_default(),
        k => k.clone(),
    }
}

/// A value of the schema's type, as little as fits: the body the bad ones
/// are made from.
fn plausible(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = kind_of(schema);
    match kind.as_str().unwrap_or("object") {
        "string" => json!("x"),
        "integer" | "number" => json!(1),
        "boolean" => json!(true),
        "array" => json!([]),
        _ => {
            let mut body = serde_json::Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&name.as_str()) {
                    body.insert(name.clone(), plausible(doc, prop));
                }
            }
            Value::Object(body)
        }
    }
}

/// The bad bodies of an operation: malformed JSON, then for each property
/// a wrong type, a NUL, an oversized value and (for a closed list) an
/// unknown one, each in an otherwise plausible body.
fn bad_bodies(doc: &Value, schema: &Value) -> Vec<(String, Body)> {
    let mut out = vec![("malformed json".to_string(), Body::Raw("{\"a\": "))];
    let base = plausible(doc, schema);
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        let prop = resolve(doc, prop);
        let kind = kind_of(prop);
        let with = |v: Value| {
            let mut b = base.clone();
            b[name.as_str()] = v;
            Body::Json(b)
        };
        let wrong = if kind == "string" {
            json!({"not": "a string"})
        } else {
            json!("not this type")
        };
        out.push((format!("{name}: wrong type"), with(wrong)));
        if kind == "string" || kind.is_null() {
            out.push((format!("{name}: a NUL"), with(json!("a\u{0}b"))));
            out.push((
                format!("{name}: oversized"),
                with(json!("很".repeat(70_000))),
            ));
        }
        if prop["enum"].is_array() {
            out.push((
                format!("{name}: unknown value"),
                with(json!("no-such-value")),
            ));
        }
    }
    out
}

/// Every table's rows, as one text per table (seekers aside: a seeker is
/// recorded, pseudonymously, on first sight).
async fn every_row(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
            AND table_name NOT IN ('seekers', '_sqlx_migrations') ORDER BY 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let rows: Option<String> = sqlx::query_scalar(&format!(
            "SELECT string_agg(x::text, E'\\n' ORDER BY x::text) FROM {t} x"
        ))
        .fetch_one(&db)
        .await
        .unwrap();
        out.push((t, rows.unwrap_or_default()));
    }
    out
}

/// Generated from the served document: every operation that takes a JSON
/// body, called by someone it lets in, with each bad body; each answer is a
/// 4xx (never a 5xx, never a success) and no table changes.
#[tokio::test]
async fn every_operation_with_a_body_refuses_each_bad_body_and_changes_nothing() {
    let app = spawn_app().await;
    let expert = app.expert_with(&all_week(60)).await;
    let org = crate::organisations::approved(&app, "整理机构", "hubei").await;
    let callers = [
        new_seeker(),
        token(Role::Expert, &expert.to_string()),
        operator(),
        crate::organisations::org_admin(&app, &org, "Admin Sweep").await,
    ];
    // Each seeker is seen once before the snapshot.
    app.get(&callers[0], "/v1/slate").await;
    let doc = crate::openapi::document(&app).await;
    let before =
        anxin_testkit::settled("every table", std::time::Duration::from_millis(300), || {
            every_row(&app)
        })
        .await;
    let mut wrong = Vec::new();
    let mut swept = 0;
    for op in crate::openapi::operations(&doc) {
        let Some(schema) = body_schema(&doc, &op) else {
            continue;
        };
        let path = op.path_with(|_, _| uuid::Uuid::new_v4().to_string());
        let send = |who: &str, body: &Body| {
            let mut r = app
                .client
                .request(op.http_method(), app.url(&path))
                .bearer_auth(who);
            r = match body {
                Body::Json(v) => r.json(v),
                Body::Raw(s) => r
                    .header("Content-Type", "application/json")
                    .body(s.to_string()),
            };
            r.send()
        };
        // Someone it lets in: the first whose malformed body is answered
        // as malformed (not as a refusal of the caller).
        let malformed = Body::Raw("{\"a\": ");
        let mut who = None;
        for c in &callers {
            if send(c, &malformed).await.unwrap().status() == StatusCode::BAD_REQUEST {
                who = Some(c.clone());
                break;
            }
        }
        let Some(who) = who else {
            wrong.push(format!(
                "{}: no caller gets past authorization to the body",
                op.name()
            ));
            continue;
        };
        swept += 1;
        for (case, body) in bad_bodies(&doc, &schema) {
            let r = send(&who, &body).await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let clear = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned));
            if !status.is_client_error() || clear.is_none() {
                wrong.push(format!(
                    "{} {case}: {status} {}",
                    op.name(),
                    &text[..text.len().min(200)]
                ));
            }
        }
    }
    assert!(
        swept >= 25,
        "only {swept} operations with a body were swept"
    );
    assert!(
        wrong.is_empty(),
        "{} answers were not a clear 4xx:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let after =
        anxin_testkit::settled("every table", std::time::Duration::from_millis(300), || {
            every_row(&app)
        })
        .await;
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.as_str())
        .collect();
    assert!(
        changed.is_empty(),
        "bad bodies changed these tables: {changed:?}"
    );
}
