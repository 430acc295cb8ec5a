//! The test harness: every test gets the real application (the same
//! `Application::build` production uses) on a random port, a fresh uniquely
//! named Postgres database, and its own Redis key prefix, so tests are
//! independent and run in parallel against the real servers.
use anxin::config::{Settings, DEV_JWT_SECRET};
use anxin::Application;
use anxin_core::state::AppState;
use anxin_core::token::{issue_token, Role};
use anxin_reserve::keys::{ExpertKeys, Keys};
use anxin_testkit::TestDatabase;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use uuid::Uuid;

pub use anxin_testkit::{free_tcp_port as free_port, redis_url};

/// Everything logged by every app in this test binary, for privacy checks.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs() -> &'static LogCapture {
    static LOGS: OnceLock<LogCapture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = LogCapture::default();
        let writer = capture.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,hyper=info,reqwest=info,h2=info",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        capture
    })
}

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub state: actix_web::web::Data<AppState>,
    pub client: reqwest::Client,
    pub database_url: String,
    /// Stops the server (`stop`); dropping the app leaves it to the end of
    /// the test's runtime.
    pub server: actix_web::dev::ServerHandle,
    /// Dropped with the last app on this database, and the database with it.
    _database: Arc<TestDatabase>,
}

/// The guard of each test database in use, so a second instance started on
/// a first one's settings shares its guard.
fn database_guard(url: &str) -> Arc<TestDatabase> {
    static LIVE: OnceLock<Mutex<HashMap<String, Weak<TestDatabase>>>> = OnceLock::new();
    let mut live = LIVE.get_or_init(Default::default).lock().unwrap();
    live.retain(|_, db| db.strong_count() > 0);
    if let Some(db) = live.get(url).and_then(Weak::upgrade) {
        return db;
    }
    let db = Arc::new(TestDatabase::at(url));
    live.insert(url.to_string(), Arc::downgrade(&db));
    db
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Settings for a fresh, isolated app; `tweak` adjusts them.
pub fn test_settings(tweak: impl FnOnce(&mut Settings)) -> Settings {
    let id = Uuid::new_v4().simple().to_string();
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        database_url: TestDatabase::url_for(&format!("anxin_test_{id}")),
        redis_url: redis_url(),
        redis_cluster_nodes: anxin_testkit::redis_cluster_nodes(),
        redis_prefix: format!("test-{id}"),
        http_workers: 2,
        db_max_connections: 10,
        booking_cutoff_minutes: 10,
        // Many seekers share 127.0.0.1 in tests; the per-IP limit has its own test.
        holds_per_minute_per_ip: 1_000_000,
        // Tests of priority reservation set their own share.
        priority_share: 0.0,
        // The payment step has its own tests (payments.rs), which turn it on.
        payment_provider: Some(anxin_domain::payment::ProviderName::None),
        ..Settings::default()
    };
    tweak(&mut settings);
    settings
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    start(test_settings(tweak)).await
}

/// Starts an app on the given settings (a second instance may share the
/// database and Redis prefix of a first).
pub async fn start(settings: Settings) -> TestApp {
    logs();
    let database = database_guard(&settings.database_url);
    let app = Application::build(&settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        database_url: settings.database_url.clone(),
        settings,
        state,
        server,
        _database: database,
        // A test sees a redirect as a browser would be told it.
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            // Under the server's keep-alive (actix: 5 s), so a request never
            // goes out on a connection the server is closing at that moment
            // (reqwest then fails it with `IncompleteMessage`): a test that
            // spends seconds in the browser between two calls hit that.
            .pool_idle_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

pub fn token(role: Role, sub: &str) -> String {
    issue_token(
        DEV_JWT_SECRET.as_bytes(),
        role,
        sub,
        Duration::from_secs(3600),
    )
    .unwrap()
}

pub fn operator() -> String {
    token(Role::Operator, "operator-1")
}

/// A seeker token for a fresh host-app subject.
pub fn new_seeker() -> String {
    token(Role::Seeker, &format!("host-user-{}", Uuid::new_v4()))
}

pub fn expert_profile(name: &str) -> Value {
    json!({
        "display_name": name,
        "phone": "+8613900001111",
        "timezone": "Asia/Shanghai",
        "languages": ["zh", "en"],
        "specialties": ["anxiety", "grief"],
        "region": "hubei",
        "bio": "Test expert",
    })
}

/// Open every day, all day, in UTC: slots from now on.
pub fn all_week(slot_minutes: u32) -> Value {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    json!({
        "timezone": "UTC",
        "slot_minutes": slot_minutes,
        "weekly": days.iter().map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"})).collect::<Vec<_>>(),
        "overrides": [],
    })
}

impl TestApp {
    /// Waits until the `expected` events the API queues (slates, holds,
    /// refusals) are written, and no more: each is recorded once.
    pub async fn events_written(&self, expected: i64) {
        let db = self.db().await;
        let n = anxin_testkit::eventually(
            "the API's queued events are written",
            Duration::from_secs(15),
            Duration::from_millis(50),
            || async {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM events WHERE kind IN ('slate_served', 'hold_placed',
                            'hold_refused', 'hold_released', 'booking_refused')",
                )
                .fetch_one(&db)
                .await
                .unwrap();
                (n >= expected).then_some(n)
            },
        )
        .await;
        assert_eq!(n, expected, "each event is recorded once");
    }

    /// Waits until the API's queued events stop arriving.
    pub async fn settle_events(&self) {
        let db = self.db().await;
        anxin_testkit::settled("the events table", Duration::from_millis(300), || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
                .fetch_one(&db)
                .await
                .unwrap()
        })
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The `/metrics` page, as a scraper reads it (no token).
    /// A GET that must answer 200, as JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_with_key(
        &self,
        token: &str,
        path: &str,
        body: &Value,
        key: &str,
    ) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, token: &str, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// An approved expert with the given availability; returns their id.
    pub async fn expert_with(&self, availability: &Value) -> Uuid {
        self.expert_from(&expert_profile("Dr. Test"), availability)
            .await
    }

    /// An approved expert with this profile and availability.
    pub async fn expert_from(&self, profile: &Value, availability: &Value) -> Uuid {
        let r = self.post(&operator(), "/v1/experts", profile).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id: Uuid = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let r = self
            .put(
                &operator(),
                &format!("/v1/experts/{id}/availability"),
                availability,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        id
    }

    pub async fn open_slots(&self, expert: Uuid) -> Vec<Value> {
        let r = self
            .get(&operator(), &format!("/v1/experts/{expert}/slots"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Vec<Value>>().await.unwrap()
    }

    /// The ids of the expert's open slots starting (UTC) on `days` dates
    /// from `from`.
    pub async fn open_slots_on(
        &self,
        expert: Uuid,
        from: chrono::NaiveDate,
        days: i64,
    ) -> Vec<Uuid> {
        self.open_slots(expert)
            .await
            .iter()
            .filter(|s| {
                let day = s["starts_at"]
                    .as_str()
                    .unwrap()
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap()
                    .date_naive();
                day >= from && day < from + chrono::Duration::days(days)
            })
            .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// The ids of the expert's open slots at `range` of the listing.
    pub async fn open_slot_ids(&self, expert: Uuid, range: std::ops::Range<usize>) -> Vec<Uuid> {
        self.open_slots(expert).await[range]
            .iter()
            .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// The expert's first future slot (one that has not started).
    pub async fn future_slot(&self, expert: Uuid) -> Uuid {
        let now = chrono::Utc::now();
        self.open_slots(expert)
            .await
            .iter()
            .find(|s| {
                s["starts_at"]
                    .as_str()
                    .unwrap()
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap()
                    > now
            })
            .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
            .expect("a future slot")
    }

    pub async fn hold(&self, seeker: &str, slot: Uuid) -> Response {
        self.post(seeker, "/v1/holds", &json!({"slot_id": slot}))
            .await
    }

    pub async fn confirm(&self, seeker: &str, hold: &str, phone: &str) -> Response {
        self.post(
            seeker,
            "/v1/bookings",
            &json!({"hold_id": hold, "phone": phone}),
        )
        .await
    }

    /// Holds the slot, which must succeed; returns the hold id.
    pub async fn held(&self, seeker: &str, slot: Uuid) -> String {
        let r = self.hold(seeker, slot).await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        hold_id(r).await
    }

    /// An expert with hour-long slots all week; returns the first `n` that
    /// have not started.
    pub async fn future_slots(&self, n: usize) -> Vec<Uuid> {
        let expert = self.expert_with(&all_week(60)).await;
        self.open_slot_ids(expert, 1..n + 1).await
    }

    /// The booking's seeker and an operator cancel it at the same moment;
    /// their two answers' statuses, sorted.
    pub async fn cancel_twice_at_once(&self, seeker: &str, booking: &str) -> [StatusCode; 2] {
        let (ops, empty) = (operator(), json!({}));
        let path = format!("/v1/bookings/{booking}/cancel");
        let (a, b) = tokio::join!(
            self.post(seeker, &path, &empty),
            self.post(&ops, &path, &empty)
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        statuses
    }

    /// Hold and confirm; returns the booking id.
    pub async fn book(&self, seeker: &str, slot: Uuid, phone: &str) -> Uuid {
        let hold = self.held(seeker, slot).await;
        let r = self.confirm(seeker, &hold, phone).await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        r.json::<Value>().await.unwrap()["booking_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url).await.unwrap()
    }

    /// A connection to this app's Redis (the one server, or the cluster),
    /// made as the service makes its own.
    pub async fn redis(&self) -> anxin_reserve::RedisConnection {
        self.settings
            .redis_server()
            .unwrap()
            .connect(anxin_reserve::RESPONSE_TIMEOUT)
            .await
            .unwrap()
    }

    /// Every Redis key of this app.
    pub async fn redis_keys(&self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(self.keys().pattern())
            .query_async(&mut self.redis().await)
            .await
            .unwrap()
    }

    /// The names of this app's Redis keys, as the service builds them.
    pub fn keys(&self) -> Keys {
        Keys::new(&self.settings.redis_prefix)
    }

    /// The keys of one expert's slot index.
    pub fn expert_keys(&self, expert: Uuid) -> ExpertKeys {
        self.keys().expert(expert.into())
    }

    /// Puts the slot in the expert's open set behind the scripts' back, as
    /// a Redis that is wrong about it would have it.
    /// Its version moves as a script's write would move it, or a slate
    /// here could serve its copy from before.
    pub async fn force_open(&self, expert: Uuid, slot: Uuid) {
        let keys = self.expert_keys(expert);
        redis::pipe()
            .cmd("ZADD")
            .arg(&keys.open)
            .arg(0)
            .arg(slot.to_string())
            .cmd("INCR")
            .arg(&keys.version)
            .query_async::<()>(&mut self.redis().await)
            .await
            .unwrap();
    }

    /// Where the seeker's side keeps a hold: their set of holds, and the
    /// hold's member in it (see `seeker_side.lua`).
    pub async fn seeker_hold_entry(&self, hold: &str) -> (String, String) {
        let mut c = self.redis().await;
        let sets: Vec<String> = redis::cmd("KEYS")
            .arg(self.keys().every_seekers_holds())
            .query_async(&mut c)
            .await
            .unwrap();
        for set in sets {
            let members: Vec<String> = redis::cmd("ZRANGE")
                .arg(&set)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
                .unwrap();
            if let Some(m) = members
                .into_iter()
                .find(|m| m.starts_with(&format!("{hold}|")))
            {
                return (set, m);
            }
        }
        panic!("no seeker holds {hold}");
    }

    /// Wipes this test's Redis namespace, as `FLUSHDB` would for a
    /// dedicated server.
    pub async fn wipe_redis(&self) {
        let keys = self.redis_keys().await;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut self.redis().await)
                .await
                .unwrap();
        }
    }

    /// Every value stored under this test's Redis prefix, as text, each key
    /// read by its type (strings, hashes, sets, sorted sets with scores,
    /// lists, streams), so a number stored anywhere shows as it was written
    /// (a `DUMP` is compressed and integer-encoded and can hide one).
    pub async fn redis_dump(&self) -> String {
        let mut c = self.redis().await;
        let keys = self.redis_keys().await;
        let mut out = String::new();
        for k in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&k)
                .query_async(&mut c)
                .await
                .unwrap();
            let mut cmd = match kind.as_str() {
                "string" => redis::cmd("GET"),
                "hash" => redis::cmd("HGETALL"),
                "set" => redis::cmd("SMEMBERS"),
                "zset" => redis::cmd("ZRANGE"),
                "list" => redis::cmd("LRANGE"),
                "stream" => redis::cmd("XRANGE"),
                "none" => continue,
                other => panic!("{k}: a Redis type the dump can't read: {other}"),
            };
            cmd.arg(&k);
            match kind.as_str() {
                "zset" => {
                    cmd.arg(0).arg(-1).arg("WITHSCORES");
                }
                "list" => {
                    cmd.arg(0).arg(-1);
                }
                "stream" => {
                    cmd.arg("-").arg("+");
                }
                _ => {}
            }
            let value: redis::Value = cmd.query_async(&mut c).await.unwrap();
            out.push_str(&format!("{k} {kind} {}\n", redis_text(&value)));
        }
        out
    }

    /// Every row of every table, as text.
    pub async fn postgres_dump(&self) -> String {
        let db = self.db().await;
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                .fetch_all(&db)
                .await
                .unwrap();
        let mut out = String::new();
        for t in tables {
            let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM \"{t}\" t"))
                .fetch_all(&db)
                .await
                .unwrap();
            for r in rows {
                out.push_str(&r);
                out.push('\n');
            }
        }
        out
    }

    /// Every sealed value in the database, opened with the app's key: what
    /// the ciphertext columns (`*_ciphertext` with their `*_key_id`) hold.
    pub async fn opened_secrets(&self) -> String {
        let db = self.db().await;
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
              WHERE table_schema = 'public' AND column_name LIKE '%\\_ciphertext'",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(!columns.is_empty());
        let mut out = String::new();
        for (table, column) in columns {
            let prefix = column.trim_end_matches("_ciphertext");
            let rows: Vec<(Vec<u8>, String)> = sqlx::query_as(&format!(
                "SELECT {column}, {prefix}_key_id FROM {table} WHERE {column} IS NOT NULL"
            ))
            .fetch_all(&db)
            .await
            .unwrap();
            for (bytes, key_id) in rows {
                let sealed = anxin_store::crypto::Sealed { key_id, bytes };
                if let Ok(text) = self.state.cipher.open_text(&sealed) {
                    out.push_str(&format!("{table}.{column}: {text}\n"));
                }
            }
        }
        out
    }

    /// Slots with more than one active booking (must always be 0).
    pub async fn double_bookings(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled'
              GROUP BY slot_id HAVING count(*) > 1) d",
        )
        .fetch_one(&self.db().await)
        .await
        .unwrap()
    }

    pub async fn active_bookings_of_slot(&self, slot: Uuid) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM bookings WHERE slot_id = $1 AND status <> 'cancelled'",
        )
        .bind(slot)
        .fetch_one(&self.db().await)
        .await
        .unwrap()
    }
}

/// The id a 201 answer names in `field`.
pub async fn created_as(r: Response, field: &str) -> String {
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    r.json::<Value>().await.unwrap()[field]
        .as_str()
        .unwrap()
        .to_string()
}

/// An operator account of one area, named `name`; its token.
pub async fn area_operator(app: &TestApp, name: &str, area: anxin_domain::region::Area) -> String {
    let by = anxin_store::audit::Actor {
        role: "cli",
        id: "test".into(),
    };
    anxin_core::flows::sign_in::link_for_operator_in(
        &app.state,
        &by,
        name,
        anxin_store::sign_in::OperatorArea::Area(area),
    )
    .await
    .unwrap();
    token(Role::Operator, name)
}

/// Asserts a JSON error body with the given status and code.
/// The id of the hold a `POST /v1/holds` answer placed.
pub async fn hold_id(r: Response) -> String {
    r.json::<Value>().await.unwrap()["hold_id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn assert_error(r: Response, status: StatusCode, code: &str) -> Value {
    let got = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if got == StatusCode::INTERNAL_SERVER_ERROR && status != got {
        // The answer says nothing of why (by design); the log says.
        let logged: Vec<String> = logs()
            .text()
            .lines()
            .filter(|l| l.contains("internal error"))
            .map(str::to_owned)
            .collect();
        panic!(
            "{got} where {status} was expected; logged:\n{}",
            logged.join("\n")
        );
    }
    assert_eq!(got, status, "body: {body}");
    assert_eq!(body["error"], code, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    body
}

/// A TCP proxy in front of a real server, which a test can cut to simulate
/// that server going away.
pub struct Proxy {
    pub port: u16,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: &'static str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Proxy { port, tasks }
    }

    /// Drops the listener and every proxied connection.
    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// A real `redis-server` of the test's own, on its own port, which the test
/// may kill (`kill -9`) and start again empty, as a Redis without
/// persistence restarts.
pub struct RedisServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again), empty, and waits until it answers.
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) runs");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..200 {
            if let Ok(mut c) = client.get_multiplexed_tokio_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not come up", self.port);
    }

    /// `kill -9`: everything it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Simulated phones that ring briefly: the expert answers with this
/// probability, the seeker always; calls last about a second.
pub fn quick_phones(expert_answer_rate: f64) -> anxin_calls::SimulatedProvider {
    anxin_calls::SimulatedProvider::new(anxin_calls::SimulatedConfig {
        expert_answer_rate,
        expert_busy_rate: 0.0,
        seeker_answer_rate: 1.0,
        seeker_busy_rate: 0.0,
        ring: Duration::from_millis(50)..Duration::from_millis(150),
        ring_timeout: Duration::from_millis(500),
        talk: Duration::from_millis(800)..Duration::from_millis(1500),
    })
}

/// The call worker, wired as `anxin worker` wires it but with `provider`,
/// running until `stop` is called.
pub struct RunningWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), anxin_calls::WorkerError>>,
}

impl RunningWorker {
    pub async fn start(app: &TestApp, provider: anxin_calls::SimulatedProvider) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cfg = anxin::worker::worker_config(&app.settings, &app.state.metrics);
        let task = tokio::spawn(anxin_calls::run(
            cfg,
            app.state.pool.clone(),
            app.redis().await,
            app.state.cipher.clone(),
            Arc::new(provider),
            async move {
                let _ = stopped.await;
            },
        ));
        Self { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// A Redis reply as text, every byte string as UTF-8 (lossily).
fn redis_text(v: &redis::Value) -> String {
    use redis::Value;
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Array(items) | Value::Set(items) => {
            items.iter().map(redis_text).collect::<Vec<_>>().join(" ")
        }
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| format!("{}={}", redis_text(k), redis_text(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => format!("{other:?}"),
    }
}
