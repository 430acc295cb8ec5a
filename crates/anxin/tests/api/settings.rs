//! Every setting reaches Anxin as text through the environment, as a
//! deployment (docker compose, systemd) sets it: the real binary is started
//! with every documented variable, digit-only SIP credentials and an E.164
//! caller ID among them.
use crate::helpers::*;
use anxin_core::token::{issue_token, Role};
use reqwest::StatusCode;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Digits only, as trunk passwords often are, and unlike anything else the
/// process prints.
const SIP_PASSWORD: &str = "7350981462";

/// `anxin` with only the given `ANXIN_*` variables (none inherited).
fn anxin(vars: &[(&str, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anxin"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ANXIN_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// Variables the run below leaves unset, and why.
const LEFT_UNSET: &[(&str, &str)] = &[(
    "ANXIN_REDIS_CLUSTER_NODES",
    "it needs a cluster (cluster.rs runs one)",
)];

/// `given`, then every other variable the configuration reads
/// (`Settings::variables`, its own field list) at its default value, as
/// text: a new setting is set here without anyone adding it. One without a
/// default needs a value in `given`, or a reason in `LEFT_UNSET`.
fn every_variable(given: Vec<(&str, String)>) -> Vec<(String, String)> {
    let names = anxin::config::Settings::variables();
    for (name, _) in &given {
        assert!(names.iter().any(|n| n == name), "{name} is no setting");
    }
    let defaults = serde_json::to_value(anxin::config::Settings::default()).unwrap();
    let mut vars: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let mut missing = Vec::new();
    for name in names {
        if given.iter().any(|(k, _)| *k == name) || LEFT_UNSET.iter().any(|(k, _)| *k == name) {
            continue;
        }
        let key = name.trim_start_matches("ANXIN_").to_lowercase();
        match defaults.get(&key) {
            Some(serde_json::Value::String(v)) => vars.push((name, v.clone())),
            Some(serde_json::Value::Number(v)) => vars.push((name, v.to_string())),
            Some(serde_json::Value::Bool(v)) => vars.push((name, v.to_string())),
            _ => missing.push(name),
        }
    }
    assert!(
        missing.is_empty(),
        "no default to set these to: give them a value, or a reason in LEFT_UNSET: {missing:?}"
    );
    vars
}

#[tokio::test]
async fn every_documented_variable_set_through_the_environment_starts_anxin() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // Dropped when the test ends, as every test's database.
    let database = anxin_testkit::TestDatabase::new();
    let port = free_port();
    // Digits only, as trunk credentials and secrets often are.
    let jwt_secret = "0123456789".repeat(4);
    let vars: Vec<(&str, String)> = [
        ("ANXIN_ENV", "development".to_string()),
        ("ANXIN_LISTEN", format!("127.0.0.1:{port}")),
        ("ANXIN_DATABASE_URL", database.url.clone()),
        ("ANXIN_REDIS_URL", redis_url()),
        ("ANXIN_REDIS_PREFIX", format!("test-{id}")),
        ("ANXIN_JWT_SECRET", jwt_secret.clone()),
        ("ANXIN_PHONE_KEY", "0".repeat(64)),
        ("ANXIN_PHONE_KEY_ID", "2026".into()),
        ("ANXIN_SUBJECT_KEY", "1".repeat(64)),
        ("ANXIN_CALL_PROVIDER", "sip".into()),
        ("ANXIN_SIP_TRUNK", "127.0.0.1:5999".into()),
        ("ANXIN_SIP_CALLER_ID", "+8640012345678".into()),
        ("ANXIN_SIP_USERNAME", "1001".into()),
        ("ANXIN_SIP_PASSWORD", SIP_PASSWORD.into()),
        ("ANXIN_SIP_BIND", "127.0.0.1:0".into()),
        ("ANXIN_SIP_OUTBOUND_PROXY", "127.0.0.1:5999".into()),
        ("ANXIN_SIP_ASSERT_IDENTITY", "true".into()),
        ("ANXIN_SIP_RING_TIMEOUT_SECONDS", "20".into()),
        ("ANXIN_WORKER_METRICS_LISTEN", "127.0.0.1:0".into()),
        (
            "ANXIN_JWT_PUBLIC_KEYS_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/keys/jwks.json").into(),
        ),
        ("ANXIN_JWT_ISSUER", "https://host.example".into()),
        ("ANXIN_JWT_AUDIENCE", "anxin".into()),
        ("ANXIN_CALL_MAX_ATTEMPTS", "2".into()),
        ("ANXIN_CALL_RETRY_MINUTES", "1".into()),
        ("ANXIN_CALL_GRACE_MINUTES", "3".into()),
        ("ANXIN_PHONE_RETENTION_DAYS", "5".into()),
        ("ANXIN_SLATE_SIZE", "12".into()),
        ("ANXIN_SLATE_STABILITY_SECONDS", "60".into()),
        ("ANXIN_HORIZON_DAYS", "7".into()),
        ("ANXIN_HOLD_TTL_SECONDS", "120".into()),
        ("ANXIN_BOOKING_CUTOFF_MINUTES", "5".into()),
        ("ANXIN_MAX_HOLDS_PER_SEEKER", "1".into()),
        ("ANXIN_MAX_ACTIVE_BOOKINGS", "3".into()),
        ("ANXIN_FEE_MINOR", "1".into()),
        ("ANXIN_PRIORITY_SHARE", "0.25".into()),
        ("ANXIN_PRIORITY_RELEASE_BEFORE_MINUTES", "90".into()),
        ("ANXIN_HOLDS_PER_MINUTE_PER_SEEKER", "30".into()),
        ("ANXIN_HOLDS_PER_MINUTE_PER_IP", "1000".into()),
        ("ANXIN_RECONCILE_INTERVAL_SECONDS", "30".into()),
        ("ANXIN_HTTP_WORKERS", "1".into()),
        ("ANXIN_DB_MAX_CONNECTIONS", "5".into()),
        ("ANXIN_LOG_FORMAT", "json".into()),
        ("ANXIN_DEMO_TRAFFIC", "false".into()),
        ("ANXIN_TRUSTED_PROXIES", "10.0.0.0/8, ::1".into()),
        ("ANXIN_METRICS_TOKEN", "metrics-token-of-the-scraper".into()),
        ("ANXIN_PRIORITY_FROM_TOKEN", "true".into()),
        ("ANXIN_PHONE_COUNTRY_CODE", "86".into()),
        ("ANXIN_CONFIG", "/nonexistent/anxin.toml".into()),
        ("ANXIN_PAYMENT_PROVIDER", "simulated".into()),
        (
            "ANXIN_WEBHOOK_URL",
            "http://127.0.0.1:9/anxin-webhooks".into(),
        ),
        (
            "ANXIN_WEBHOOK_SECRET",
            "whsec-of-the-host-app-0123456789".into(),
        ),
        ("ANXIN_CRISIS_LINES", "希望热线 400-161-9995 (24 h)".into()),
        ("ANXIN_ALIPAY_APP_ID", "2021000000000000".into()),
        (
            "ANXIN_ALIPAY_PRIVATE_KEY_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/keys/rsa_a.key").into(),
        ),
        (
            "ANXIN_ALIPAY_PUBLIC_KEY_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/keys/rsa_b.pub").into(),
        ),
        (
            "ANXIN_ALIPAY_GATEWAY",
            "http://127.0.0.1:9/gateway.do".into(),
        ),
        ("ANXIN_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
    ]
    .into_iter()
    .collect();
    let vars = every_variable(vars);
    let log = std::env::temp_dir().join(format!("anxin-settings-{id}.log"));
    let out = std::fs::File::create(&log).unwrap();
    // `anxin all`: the API and the call worker, whose SIP provider takes the
    // trunk's credentials and caller ID.
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut child = anxin(&vars, &["all"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let token = issue_token(
        jwt_secret.as_bytes(),
        Role::Seeker,
        "host-user-settings",
        Duration::from_secs(600),
    )
    .unwrap();
    let started = Instant::now();
    let mut slate = None;
    let mut worker = false;
    while started.elapsed() < Duration::from_secs(90) && (slate.is_none() || !worker) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "anxin exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if slate.is_none() {
            let r = client
                .get(format!("http://127.0.0.1:{port}/v1/slate"))
                .bearer_auth(&token)
                .send()
                .await;
            if let Ok(r) = r {
                slate = Some(r.status());
            }
        }
        worker = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("call worker started") && l.contains("Sip"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    // Signed with the digit-only secret, the seeker's token is accepted.
    assert_eq!(slate, Some(StatusCode::OK), "{output}");
    assert!(worker, "the SIP call worker did not start:\n{output}");
    assert!(!output.contains(SIP_PASSWORD), "a secret was logged");
}

#[test]
fn a_malformed_number_stops_start_up_naming_its_variable() {
    let out = anxin(
        &[
            ("ANXIN_HOLD_TTL_SECONDS", "five minutes".into()),
            ("ANXIN_CONFIG", "/nonexistent/anxin.toml".into()),
        ],
        &["serve"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ANXIN_HOLD_TTL_SECONDS"), "{stderr}");
    assert!(stderr.contains("a whole number"), "{stderr}");
}

/// Waits until `anxin` answers `/healthz` on `port` and its log says the
/// call worker started; panics with the log if it exits or takes too long.
async fn wait_until_serving(child: &mut std::process::Child, log: &std::path::Path, port: u16) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "anxin exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        let healthy = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK);
        let worker = std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("call worker started");
        if healthy && worker {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "anxin did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn in_production_anxin_alone_serves_and_works_calls_with_no_demo_data_and_prints_no_credential(
) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = anxin_testkit::TestDatabase::new();
    let port = free_port();
    let key = |salt: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("{id}{salt}")))
    };
    let metrics_token = key("metrics");
    let vars: Vec<(&str, String)> = vec![
        ("ANXIN_ENV", "production".into()),
        ("ANXIN_LISTEN", format!("127.0.0.1:{port}")),
        ("ANXIN_DATABASE_URL", database.url.clone()),
        ("ANXIN_REDIS_URL", redis_url()),
        ("ANXIN_REDIS_PREFIX", format!("test-{id}")),
        ("ANXIN_JWT_SECRET", key("jwt")),
        ("ANXIN_PHONE_KEY", key("phone")),
        ("ANXIN_SUBJECT_KEY", key("subject")),
        ("ANXIN_SIP_TRUNK", "127.0.0.1:5999".into()),
        ("ANXIN_SIP_CALLER_ID", "+8640012345678".into()),
        ("ANXIN_SIP_BIND", "127.0.0.1:0".into()),
        ("ANXIN_PAYMENT_PROVIDER", "none".into()),
        ("ANXIN_METRICS_TOKEN", metrics_token.clone()),
        ("ANXIN_CONFIG", "/nonexistent/anxin.toml".into()),
    ];
    let log = std::env::temp_dir().join(format!("anxin-production-{id}.log"));
    let out = std::fs::File::create(&log).unwrap();
    // `anxin` with no subcommand, as the Dockerfile's default once was.
    let mut child = anxin(&vars, &[])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    wait_until_serving(&mut child, &log, port).await;
    let client = reqwest::Client::new();
    let metrics = |token: Option<&str>| {
        let mut r = client.get(format!("http://127.0.0.1:{port}/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(
        metrics(None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        metrics(Some(&metrics_token)).await.unwrap().status(),
        StatusCode::OK
    );
    let _ = child.kill();
    let _ = child.wait();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    for credential in ["eyJ", "/sign-in/", "SEEKER=", "OPERATOR=", "demo experts"] {
        assert!(
            !output.contains(credential),
            "printed {credential}:\n{output}"
        );
    }
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let (experts, links): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM experts), (SELECT count(*) FROM sign_in_links)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((experts, links), (0, 0), "production seeded demo data");
}

#[test]
fn with_anxin_env_unset_a_server_other_machines_can_reach_refuses_to_start_naming_it() {
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.10:8080"] {
        let out = anxin(
            &[
                ("ANXIN_LISTEN", listen.into()),
                ("ANXIN_CONFIG", "/nonexistent/anxin.toml".into()),
            ],
            &["serve"],
        )
        .output()
        .unwrap();
        assert!(!out.status.success(), "{listen}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ANXIN_ENV"), "{listen}: {stderr}");
    }
}
