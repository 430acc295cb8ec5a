//! Faults are ordinary: a Redis that restarts empty is rebuilt at once, and a
//! dependency that doesn't answer is a prompt 503 the client may retry, never
//! a 500 or a hang. Each test runs a real `redis-server` of its own (or a
//! proxy in front of the shared Postgres) so it can take it away.
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Generous bounds: they catch a service that stays down or hangs for good,
/// not a slow machine (figures come from `loadtest/chaos.sh`).
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
const ANSWER_BOUND: Duration = Duration::from_secs(5);

/// What the seekers' traffic saw: each answer's time, operation and status
/// (0 for no answer), and the bookings confirmed with a 201.
#[derive(Default)]
struct Seen {
    answers: Vec<(Instant, &'static str, u16)>,
    confirmed: Vec<Uuid>,
}

/// Seekers looping slate → hold → confirm → cancel until stopped.
struct Traffic {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Traffic {
    fn start(app: &TestApp, seekers: usize) -> Traffic {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let tasks = (0..seekers)
            .map(|_| {
                let (seen, stop, client) = (seen.clone(), stop.clone(), client.clone());
                let base = app.address.clone();
                tokio::spawn(async move {
                    let seeker = new_seeker();
                    let call = |op: &'static str, r: reqwest::RequestBuilder| {
                        let (seen, seeker) = (seen.clone(), seeker.clone());
                        async move {
                            let r = r.bearer_auth(&seeker).send().await;
                            let status = r.as_ref().map_or(0, |r| r.status().as_u16());
                            seen.lock()
                                .unwrap()
                                .answers
                                .push((Instant::now(), op, status));
                            let body = match r {
                                Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
                                Err(_) => Value::Null,
                            };
                            (status, body)
                        }
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let (status, slate) =
                            call("slate", client.get(format!("{base}/v1/slate"))).await;
                        let slot = slate["experts"]
                            .as_array()
                            .and_then(|e| e.first())
                            .and_then(|e| e["next_slots"][0]["slot_id"].as_str())
                            .map(str::to_owned);
                        let Some(slot) = slot.filter(|_| status == 200) else {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        };
                        let hold = client
                            .post(format!("{base}/v1/holds"))
                            .json(&json!({"slot_id": slot}));
                        let (status, hold) = call("hold", hold).await;
                        if status != 201 {
                            continue;
                        }
                        let confirm = client
                            .post(format!("{base}/v1/bookings"))
                            .json(&json!({"hold_id": hold["hold_id"], "phone": "+8613812345678"}));
                        let (status, booking) = call("confirm", confirm).await;
                        if status != 201 {
                            // Free the seeker's hold limit for the next round.
                            let id = hold["hold_id"].as_str().unwrap_or_default();
                            call("release", client.delete(format!("{base}/v1/holds/{id}"))).await;
                            continue;
                        }
                        let Some(id) = booking["booking_id"].as_str() else {
                            continue;
                        };
                        seen.lock().unwrap().confirmed.push(id.parse().unwrap());
                        let cancel = client.post(format!("{base}/v1/bookings/{id}/cancel"));
                        call("cancel", cancel).await;
                    }
                })
            })
            .collect();
        Traffic { seen, stop, tasks }
    }

    fn confirmed_since(&self, t: Instant) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.answers
            .iter()
            .filter(|(at, op, status)| *at > t && *op == "confirm" && *status == 201)
            .count()
    }

    /// Waits (within `bound`) until a confirmation succeeds after `t`.
    async fn wait_for_confirmation_after(&self, t: Instant, bound: Duration) -> Option<Duration> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if self.confirmed_since(t) > 0 {
                return Some(t.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(self.seen)
            .ok()
            .unwrap()
            .into_inner()
            .unwrap()
    }
}

/// Experts on a new seeker's slate, asked again until there are `full` or
/// `RECOVERY_BOUND` has passed since `since`.
async fn slate_size_once_full(app: &TestApp, since: Instant, full: usize) -> usize {
    loop {
        let slate: Value = app
            .get(&new_seeker(), "/v1/slate")
            .await
            .json()
            .await
            .unwrap_or(Value::Null);
        let shown = slate["experts"].as_array().map_or(0, Vec::len);
        if shown >= full || since.elapsed() >= RECOVERY_BOUND {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bookings among `ids` that Postgres doesn't have.
async fn missing_bookings(app: &TestApp, ids: &[Uuid]) -> i64 {
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings WHERE id = ANY($1)")
        .bind(ids)
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    ids.len() as i64 - found
}

#[tokio::test]
async fn a_restarted_redis_is_rebuilt_at_once_under_traffic() {
    let mut redis = RedisServer::start().await;
    let app = spawn_app_with(|s| {
        s.redis_url = redis.url();
        // Recovery must not wait for the periodic reconcile.
        s.reconcile_interval_seconds = 3600;
        s.holds_per_minute_per_seeker = 100_000;
        s.max_active_bookings = 100;
    })
    .await;
    for _ in 0..4 {
        app.expert_with(&all_week(30)).await;
    }
    let traffic = Traffic::start(&app, 6);
    let began = Instant::now();
    assert!(
        traffic
            .wait_for_confirmation_after(began, RECOVERY_BOUND)
            .await
            .is_some(),
        "no confirmation before the fault"
    );

    redis.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    redis.restart().await;
    let back = Instant::now();

    let resumed = traffic
        .wait_for_confirmation_after(back, RECOVERY_BOUND)
        .await;
    // A seeker who arrives now soon sees a full slate, not the empty Redis.
    let slate_experts = slate_size_once_full(&app, back, 4).await;
    let seen = traffic.stop().await;

    assert!(
        resumed.is_some(),
        "no confirmation within {RECOVERY_BOUND:?} of Redis answering again"
    );
    assert_eq!(slate_experts, 4, "the slate after the restart");
    let errors: Vec<_> = seen
        .answers
        .iter()
        .filter(|(_, _, status)| *status >= 500 && *status != 503 || *status == 0)
        .collect();
    assert!(
        errors.is_empty(),
        "answers other than 503 among 5xx: {errors:?}"
    );
    assert_eq!(app.double_bookings().await, 0);
    assert_eq!(missing_bookings(&app, &seen.confirmed).await, 0);
    // The index is marked rebuilt, so the instance won't rebuild it again.
    let marker: Option<String> = redis::cmd("GET")
        .arg(app.state.reserve.keys().index_marker())
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
    assert!(marker.is_some_and(|m| m.starts_with("ready:")));
}

#[tokio::test]
async fn a_flushed_redis_shows_full_slates_again_at_once() {
    let app = spawn_app_with(|s| s.reconcile_interval_seconds = 3600).await;
    for _ in 0..3 {
        app.expert_with(&all_week(60)).await;
    }
    let seeker = new_seeker();
    let before: Value = app.get(&seeker, "/v1/slate").await.json().await.unwrap();
    assert_eq!(before["experts"].as_array().unwrap().len(), 3);
    app.wipe_redis().await;
    let shown = slate_size_once_full(&app, Instant::now(), 3).await;
    assert_eq!(shown, 3, "experts on a slate after the wipe");
}

/// Sends a request and checks it is a prompt 503 `unavailable` with
/// `Retry-After`.
async fn assert_unavailable(request: reqwest::RequestBuilder) {
    let started = Instant::now();
    let r = request.send().await.unwrap();
    let took = started.elapsed();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After");
    assert!(took < ANSWER_BOUND, "answered after {took:?}");
}

#[tokio::test]
async fn with_redis_gone_requests_are_a_prompt_503_and_come_back_after() {
    let mut redis = RedisServer::start().await;
    let app = spawn_app_with(|s| s.redis_url = redis.url()).await;
    let expert = app.expert_with(&all_week(60)).await;
    let slot = app.future_slot(expert).await;
    let seeker = new_seeker();
    redis.kill();
    let hold = app
        .client
        .post(app.url("/v1/holds"))
        .bearer_auth(&seeker)
        .json(&json!({"slot_id": slot}));
    assert_unavailable(hold).await;
    assert_unavailable(app.client.get(app.url("/v1/slate")).bearer_auth(&seeker)).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json::<Value>().await.unwrap()["redis"], "down");

    redis.restart().await;
    let back = Instant::now();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    while back.elapsed() < RECOVERY_BOUND && status != StatusCode::CREATED {
        status = app.hold(&seeker, slot).await.status();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::CREATED, "a hold once Redis is back");
}

#[tokio::test]
async fn with_postgres_gone_requests_are_a_prompt_503() {
    let postgres = Proxy::start("127.0.0.1:5432").await;
    let db = format!("anxin_test_{}", Uuid::new_v4().simple());
    let app = spawn_app_with(|s| {
        s.database_url = format!("postgres://postgres@127.0.0.1:{}/{db}", postgres.port)
    })
    .await;
    app.expert_with(&all_week(60)).await;
    postgres.cut();
    let booking = format!("/v1/bookings/{}", Uuid::new_v4());
    assert_unavailable(app.client.get(app.url(&booking)).bearer_auth(operator())).await;
    let create = app
        .client
        .post(app.url("/v1/experts"))
        .bearer_auth(operator())
        .json(&expert_profile("Dr. Later"));
    assert_unavailable(create).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.json::<Value>().await.unwrap()["postgres"], "down");
}
