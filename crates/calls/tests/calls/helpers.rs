//! Test harness: a fresh Postgres database per test, a Redis key per test,
//! SIPp as the trunk and phones (installed on first use), bookings seeded
//! through the store, and workers run the way the binary runs them.
#![allow(dead_code)]

use anxin_calls::events::EventStream;
use anxin_calls::{
    CallHandle, CallProvider, CallRequest, SipConfig, SipProvider, WorkerConfig, WorkerError,
};
use anxin_domain::call::RetryPolicy;
use anxin_domain::expert::{ExpertProfile, ExpertStatus};
use anxin_domain::ids::{BookingId, CallTaskId, ExpertId, HoldId, SlotId};
use anxin_domain::phone::PhoneNumber;
use anxin_domain::proto::CallEvent;
use anxin_domain::seeker::{alias, PriorityGroup};
use anxin_reserve::{RedisConnection, RedisServer};
use anxin_store::bookings::{self, NewBooking};
use anxin_store::call_tasks::{self, AttemptRow, TaskRow, TaskState};
use anxin_store::crypto::PhoneCipher;
use anxin_testkit::{free_udp_port, require_program, TestDatabase};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use prost::Message;
use rand::Rng;
use sqlx::PgPool;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The platform's number, shown to both parties.
pub const PLATFORM: &str = "+864001234567";

// ---- logs ------------------------------------------------------------------

/// Every log line any test produced, to check that no phone number leaks
/// into logs.
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        logs().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "anxin_calls=trace,anxin_store=trace,sqlx=debug",
            ))
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .init();
    });
}

pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

// ---- Postgres and Redis ------------------------------------------------------

pub struct TestDb {
    pub pool: PgPool,
    database: TestDatabase,
}

/// A fresh, uniquely named database with the migrations applied.
pub async fn fresh_db() -> TestDb {
    init();
    let database = TestDatabase::new();
    let pool = database.migrated(12).await;
    TestDb { pool, database }
}

impl TestDb {
    /// Closes the pool and drops the database (which dropping a `TestDb`
    /// does too, forcing off any connection still open).
    pub async fn drop_db(self) {
        self.pool.close().await;
        drop(self.database);
    }
}

pub async fn redis() -> RedisConnection {
    let nodes = anxin_testkit::redis_cluster_nodes();
    RedisServer::new(&anxin_testkit::redis_url(), nodes.as_deref())
        .unwrap()
        .connect(anxin_reserve::RESPONSE_TIMEOUT)
        .await
        .unwrap()
}

/// A stream key of this test's own.
pub fn events_key() -> String {
    format!("anxin_test:{}:call-events", Uuid::new_v4().simple())
}

/// XRANGE's reply: entry ids with their field/value pairs.
type StreamEntries = Vec<(String, Vec<(String, Vec<u8>)>)>;

pub async fn read_events(redis: &mut RedisConnection, key: &str) -> Vec<CallEvent> {
    let entries: StreamEntries = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(redis)
        .await
        .unwrap();
    entries
        .into_iter()
        .flat_map(|(_, fields)| fields)
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| CallEvent::decode(v.as_slice()).unwrap())
        .collect()
}

pub async fn delete_key(redis: &mut RedisConnection, key: &str) {
    let _: () = redis::cmd("DEL").arg(key).query_async(redis).await.unwrap();
}

pub fn cipher() -> PhoneCipher {
    PhoneCipher::new("test", &[7u8; 32]).unwrap()
}

// ---- bookings ------------------------------------------------------------------

/// A random number: +86 then `prefix` then random digits, 13 digits in all.
pub fn random_phone(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let mut s = format!("+86{prefix}");
    while s.len() < 14 {
        s.push(char::from(b'0' + rng.gen_range(0..10)));
    }
    s
}

pub struct Seeded {
    pub booking: BookingId,
    pub expert_phone: String,
    pub seeker_phone: String,
}

/// An approved expert with this phone.
pub async fn seed_expert(pool: &PgPool, cipher: &PhoneCipher, phone: &str) -> ExpertId {
    let expert_id = ExpertId::new();
    let phone = PhoneNumber::parse("phone", phone).unwrap();
    let profile = ExpertProfile {
        display_name: "Dr. Test".into(),
        phone: phone.clone(),
        timezone: "Asia/Shanghai".into(),
        languages: vec!["zh".into()],
        specialties: vec!["grief".into()],
        region: "hubei".into(),
        bio: None,
    };
    anxin_store::experts::insert(
        pool,
        expert_id,
        &profile,
        &cipher.seal(&phone),
        ExpertStatus::Approved,
        false,
    )
    .await
    .unwrap();
    expert_id
}

/// A slot of the expert's.
pub async fn seed_slot(
    pool: &PgPool,
    expert: ExpertId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> SlotId {
    let slot_id = SlotId::new();
    sqlx::query("INSERT INTO slots (id, expert_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)")
        .bind(slot_id.0)
        .bind(expert.0)
        .bind(starts_at)
        .bind(ends_at)
        .execute(pool)
        .await
        .unwrap();
    slot_id
}

/// An expert, a slot, a seeker, and a booking confirmed through the store
/// (which writes the call task and sends the NOTIFY, as the API does).
pub async fn seed_booking(
    pool: &PgPool,
    cipher: &PhoneCipher,
    expert_phone: &str,
    seeker_phone: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Seeded {
    let expert_id = seed_expert(pool, cipher, expert_phone).await;
    let slot_id = seed_slot(pool, expert_id, starts_at, ends_at).await;
    let subject: [u8; 32] = rand::thread_rng().gen();
    let seeker = anxin_store::seekers::resolve(pool, &subject).await.unwrap();
    let seeker_number = PhoneNumber::parse("phone", seeker_phone).unwrap();
    let booking = BookingId::new();
    bookings::confirm(
        pool,
        &NewBooking {
            id: booking,
            slot_id,
            expert_id,
            seeker_id: seeker.id,
            seeker_alias: alias(seeker.id),
            hold_id: HoldId::new(),
            starts_at,
            ends_at,
            phone: cipher.seal(&seeker_number),
            phone_masked: seeker_number.masked(),
            note: None,
            priority_group: PriorityGroup::General,
            priority_vouched: false,
            fee_minor: 1,
            idempotency_key: None,
            request_hash: vec![],
            seeker_ref: None,
        },
        10,
        Utc::now(),
    )
    .await
    .unwrap();
    Seeded {
        booking,
        expert_phone: expert_phone.into(),
        seeker_phone: seeker_phone.into(),
    }
}

/// A booking for a slot that is running now and ends in `ends_in`.
pub async fn seed_running(pool: &PgPool, ends_in: ChronoDuration) -> Seeded {
    let now = Utc::now();
    seed_booking(
        pool,
        &cipher(),
        &random_phone("15"),
        &random_phone("13"),
        now - ChronoDuration::minutes(1),
        now + ends_in,
    )
    .await
}

pub async fn task(pool: &PgPool, booking: BookingId) -> TaskRow {
    call_tasks::by_booking(pool, booking).await.unwrap()
}

pub async fn attempts(pool: &PgPool, booking: BookingId) -> Vec<AttemptRow> {
    let t = task(pool, booking).await;
    call_tasks::attempts(pool, t.id).await.unwrap()
}

/// Polls until `done` holds for the booking's task, or fails the test.
pub async fn wait_for_task(
    pool: &PgPool,
    booking: BookingId,
    within: Duration,
    what: &str,
    done: impl Fn(&TaskRow) -> bool,
) -> TaskRow {
    anxin_testkit::eventually(what, within, Duration::from_millis(50), || async {
        let t = task(pool, booking).await;
        done(&t).then_some(t)
    })
    .await
}

pub async fn wait_finished(pool: &PgPool, booking: BookingId, within: Duration) -> TaskRow {
    wait_for_task(pool, booking, within, "the task to finish", |t| {
        t.state == TaskState::Done
    })
    .await
}

// ---- workers ---------------------------------------------------------------------

/// Short timers so each test runs in seconds.
pub fn worker_config(events_key: &str, max_attempts: u32) -> WorkerConfig {
    let mut cfg = WorkerConfig::new(events_key);
    cfg.lease = Duration::from_secs(3);
    // Long: the tests prove that NOTIFY and due times wake the worker.
    cfg.poll_interval = Duration::from_secs(30); // within the notify window
    cfg.retry = RetryPolicy {
        max_attempts,
        backoff: ChronoDuration::seconds(1),
        grace: ChronoDuration::seconds(1),
    };
    cfg.max_concurrent_calls = 8;
    cfg
}

pub struct TestWorker {
    handle: Option<JoinHandle<Result<(), WorkerError>>>,
    stop: Option<oneshot::Sender<()>>,
}

pub fn spawn_worker(
    cfg: WorkerConfig,
    pool: &PgPool,
    redis: &RedisConnection,
    provider: Arc<dyn CallProvider>,
) -> TestWorker {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(anxin_calls::run(
        cfg,
        pool.clone(),
        redis.clone(),
        cipher(),
        provider,
        async move {
            let _ = stopped.await;
        },
    ));
    TestWorker {
        handle: Some(handle),
        stop: Some(stop),
    }
}

impl TestWorker {
    /// Kills the worker mid-flight, as a crash would: its future is dropped.
    pub fn kill(mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }

    /// Asks it to stop and waits for its calls to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

pub async fn sip_provider(sipp: &Sipp, tweak: impl FnOnce(&mut SipConfig)) -> Arc<SipProvider> {
    let mut cfg = SipConfig::new(sipp.addr.to_string(), PLATFORM);
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.ring_timeout = Duration::from_secs(2);
    tweak(&mut cfg);
    Arc::new(SipProvider::start(cfg).await.unwrap())
}

/// Wraps a provider to count the calls it places, per booking.
pub struct Counting {
    pub inner: Arc<dyn CallProvider>,
    pub placed: Arc<Mutex<Vec<CallTaskId>>>,
}

impl CallProvider for Counting {
    fn place_call(&self, request: CallRequest) -> CallHandle {
        self.placed.lock().unwrap().push(request.task);
        self.inner.place_call(request)
    }
    fn is_simulated(&self) -> bool {
        self.inner.is_simulated()
    }
}

pub fn events_stream(key: &str) -> EventStream {
    EventStream {
        key: key.into(),
        max_len: 1000,
    }
}

// ---- SIPp ----------------------------------------------------------------------

/// SIPp must be installed (`./scripts/test` installs it).
pub fn ensure_sipp() {
    require_program("sipp", "sip-tester");
}

/// SIPp is ready once its port is taken (and it is still running).
fn wait_bound(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if UdpSocket::bind(("127.0.0.1", port)).is_err() {
            // Give it a moment to finish loading the scenario.
            std::thread::sleep(Duration::from_millis(100));
            return matches!(child.try_wait(), Ok(None));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The temp dir, absolute even when TMPDIR is set but empty.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir();
    if dir.is_absolute() {
        dir
    } else {
        PathBuf::from("/tmp")
    }
}

/// A SIPp process answering as the trunk on its own port, tracing every
/// message it sends and receives.
pub struct Sipp {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
    trace: PathBuf,
}

impl Sipp {
    pub fn start(scenario: &str) -> Sipp {
        ensure_sipp();
        let scenario_path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(scenario);
        assert!(scenario_path.exists(), "no scenario {scenario_path:?}");
        let dir = scratch_dir().join(format!("anxin-sipp-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let trace = dir.join("messages.log");
        for _ in 0..5 {
            let port = free_udp_port();
            let media_port = free_udp_port();
            let child = Command::new("sipp")
                .arg("-sf")
                .arg(&scenario_path)
                .args(["-i", "127.0.0.1", "-p", &port.to_string()])
                .args(["-mp", &media_port.to_string()])
                .arg("-trace_msg")
                .arg("-message_file")
                .arg(&trace)
                .arg("-trace_err")
                .arg("-error_file")
                .arg(dir.join("errors.log"))
                .arg("-nostdin")
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start sipp");
            let mut child = child;
            if wait_bound(&mut child, port) {
                return Sipp {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    dir,
                    trace,
                };
            }
            // Someone took the port between our probe and SIPp's bind, or
            // the scenario did not load (see errors.log).
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sipp did not start: {}",
            std::fs::read_to_string(dir.join("errors.log")).unwrap_or_default()
        );
    }

    /// Every message SIPp sent or received so far, in order.
    pub fn messages(&self) -> Vec<Traced> {
        let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
        parse_trace(&text)
    }

    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.join("errors.log")).unwrap_or_default()
    }

    /// The legs SIPp saw, by Call-ID, with the number each was dialed for.
    pub fn legs(&self) -> Vec<TracedLeg> {
        let msgs = self.messages();
        let mut legs: Vec<TracedLeg> = Vec::new();
        for m in msgs {
            let Some(cid) = m.header("Call-ID").map(str::to_owned) else {
                continue;
            };
            match legs.iter_mut().find(|l| l.call_id == cid) {
                Some(leg) => leg.messages.push(m),
                None => {
                    let dialed = m
                        .header("To")
                        .and_then(|to| to.split("sip:").nth(1))
                        .and_then(|rest| rest.split('@').next())
                        .unwrap_or_default()
                        .to_string();
                    legs.push(TracedLeg {
                        call_id: cid,
                        dialed,
                        messages: vec![m],
                    });
                }
            }
        }
        legs
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Kept for a failed test, or on request (ANXIN_TEST_KEEP_SIPP=1).
        if !std::thread::panicking() && std::env::var_os("ANXIN_TEST_KEEP_SIPP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One message from SIPp's trace. `to_sipp` is true for what SIPp received,
/// i.e. what Anxin sent.
#[derive(Debug, Clone)]
pub struct Traced {
    pub to_sipp: bool,
    pub text: String,
    pub at: String,
}

impl Traced {
    pub fn start_line(&self) -> &str {
        self.text.lines().next().unwrap_or_default()
    }

    pub fn is_request(&self, method: &str) -> bool {
        self.start_line().starts_with(&format!("{method} "))
    }

    pub fn is_response(&self, status: u16) -> bool {
        self.start_line().starts_with(&format!("SIP/2.0 {status} "))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.text
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\n\n").map_or("", |(_, b)| b)
    }

    pub fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq")?.split_whitespace().nth(1)
    }
}

#[derive(Debug, Clone)]
pub struct TracedLeg {
    pub call_id: String,
    /// The user part of the To URI of the leg's first message.
    pub dialed: String,
    pub messages: Vec<Traced>,
}

impl TracedLeg {
    /// Messages Anxin sent on this leg with this method.
    pub fn sent_by_anxin(&self, method: &str) -> Vec<&Traced> {
        self.messages
            .iter()
            .filter(|m| m.to_sipp && m.is_request(method))
            .collect()
    }

    pub fn all_text(&self) -> String {
        self.messages
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn parse_trace(text: &str) -> Vec<Traced> {
    let mut out = Vec::new();
    let mut current: Option<(bool, String, Vec<&str>)> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("-----------------------------------------------") {
            if let Some((to_sipp, at, body)) = current.take() {
                out.push(finish(to_sipp, at, body));
            }
            let at = line.trim_start_matches('-').trim().to_string();
            let kind = lines.next().unwrap_or_default();
            let to_sipp = kind.contains("message received");
            // A blank line follows the kind line.
            if lines.peek().is_some_and(|l| l.trim().is_empty()) {
                lines.next();
            }
            current = Some((to_sipp, at, Vec::new()));
        } else if let Some((_, _, body)) = current.as_mut() {
            body.push(line);
        }
    }
    if let Some((to_sipp, at, body)) = current.take() {
        out.push(finish(to_sipp, at, body));
    }
    out
}

fn finish(to_sipp: bool, at: String, lines: Vec<&str>) -> Traced {
    let text = lines
        .iter()
        .map(|l| l.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    Traced { to_sipp, text, at }
}

/// All digits of a number, and its last eight (what any spelling contains).
pub fn spellings(e164: &str) -> Vec<String> {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    vec![
        e164.to_string(),
        digits.clone(),
        digits[digits.len() - 8..].to_string(),
    ]
}

/// A simulated provider whose phones always answer, after `ring`, and talk
/// for `talk`.
pub fn always_answering(
    ring: std::ops::Range<std::time::Duration>,
    talk: std::ops::Range<std::time::Duration>,
) -> anxin_calls::SimulatedProvider {
    anxin_calls::SimulatedProvider::new(anxin_calls::SimulatedConfig {
        expert_answer_rate: 1.0,
        expert_busy_rate: 0.0,
        seeker_answer_rate: 1.0,
        seeker_busy_rate: 0.0,
        ring_timeout: ring.end * 4,
        ring,
        talk,
    })
}

/// Cancels the booking as an operator would.
pub async fn cancel_as_operator(pool: &PgPool, booking: BookingId) {
    let actor = anxin_store::audit::Actor {
        role: "operator",
        id: "test".into(),
    };
    bookings::cancel(pool, booking, &actor, None).await.unwrap();
}
