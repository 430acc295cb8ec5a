use crate::helpers::*;
use anxin_api::auth::{issue_token, Claims, Role};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

fn expired_token() -> String {
    let claims = Claims {
        sub: "someone".into(),
        role: Role::Seeker,
        exp: chrono::Utc::now().timestamp() - 600,
        iat: 0,
        seeker_ref: None,
        group: None,
        region: None,
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(anxin::config::DEV_JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_tokens_get_401_and_wrong_roles_403() {
    let app = spawn_app().await;
    let forged = issue_token(
        b"not-the-server-secret",
        Role::Operator,
        "mallory",
        std::time::Duration::from_secs(600),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("Bearer not.a.jwt".into())),
        ("wrong scheme", Some(format!("Basic {}", operator()))),
        ("empty", Some("Bearer ".into())),
        ("expired", Some(format!("Bearer {}", expired_token()))),
        ("wrong signature", Some(format!("Bearer {forged}"))),
    ];
    for (name, header) in cases {
        let mut req = app.client.get(app.url("/v1/slate"));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{name}");
    }

    // Wrong role → 403.
    let expert = token(Role::Expert, &uuid::Uuid::new_v4().to_string());
    assert_error(
        app.get(&expert, "/v1/slate").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let seeker = new_seeker();
    assert_error(
        app.post(&seeker, "/v1/experts", &expert_profile("X")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.get(&seeker, "/v1/experts/me/bookings").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.get(&seeker, "/v1/ops/summary").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let id = uuid::Uuid::new_v4();
    assert_error(
        app.post(&seeker, &format!("/v1/experts/{id}/approve"), &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn an_expert_may_edit_only_their_own_availability() {
    let app = spawn_app().await;
    let alice = app.expert_with(&all_week(60)).await;
    let bob = app.expert_with(&all_week(60)).await;
    let alice_token = token(Role::Expert, &alice.to_string());
    let r = app
        .put(
            &alice_token,
            &format!("/v1/experts/{bob}/availability"),
            &all_week(30),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .put(
            &alice_token,
            &format!("/v1/experts/{alice}/availability"),
            &all_week(30),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Bob's slots are untouched: still hour-long.
    let slots = app.open_slots(bob).await;
    let s = &slots[1];
    let start: chrono::DateTime<chrono::Utc> = s["starts_at"].as_str().unwrap().parse().unwrap();
    let end: chrono::DateTime<chrono::Utc> = s["ends_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(end - start, chrono::Duration::minutes(60));
}

#[tokio::test]
async fn the_token_command_prints_a_token_the_service_accepts() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_anxin"))
        .args([
            "token", "--role", "operator", "--sub", "ops-1", "--ttl", "10m",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let r = app
        .post(&token, "/v1/experts", &expert_profile("Dr. CLI"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_anxin"))
        .args(["token", "--role", "admin", "--sub", "x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// The host app signs its seekers' tokens with its own private key; Anxin
/// holds only the public half (`ANXIN_JWT_PUBLIC_KEYS_FILE`, here a JWKS)
/// and checks `iss`/`aud`. The same token with another audience is refused.
#[tokio::test]
async fn a_host_app_signs_seeker_tokens_anxin_verifies_them_with_its_public_key() {
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/keys");
    let app = spawn_app_with(|s| {
        s.jwt_public_keys_file = Some(keys.join("jwks.json").display().to_string());
        s.jwt_issuer = Some("https://host.example".into());
        s.jwt_audience = Some("anxin".into());
    })
    .await;
    let private = EncodingKey::from_ec_pem(&std::fs::read(keys.join("ec_a.key")).unwrap()).unwrap();
    let token = |aud: &str| {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("ec-a".into());
        let now = chrono::Utc::now().timestamp();
        encode(
            &header,
            &json!({"sub": "host-user-77", "role": "seeker", "exp": now + 300, "iat": now,
                    "iss": "https://host.example", "aud": aud}),
            &private,
        )
        .unwrap()
    };
    let r = app.get(&token("anxin"), "/v1/slate").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert_error(
        app.get(&token("another-service"), "/v1/slate").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}
