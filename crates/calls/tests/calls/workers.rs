//! Several workers, a crash, leases and fences, retention, the simulation.
use crate::helpers::*;
use anxin_calls::{CallProvider, SimulatedConfig, SimulatedProvider};
use anxin_domain::booking::BookingStatus;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_store::call_tasks::{self, AttemptEnd, LeaseStatus, NextStep, TaskState};
use chrono::{Duration as ChronoDuration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Invariant 3: many due tasks, two workers racing for them, each task
/// dialed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_dial_each_due_task_exactly_once() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("answer.xml");

    let mut seeded = Vec::new();
    for _ in 0..16 {
        seeded.push(seed_running(&db.pool, ChronoDuration::seconds(4)).await);
    }
    let placed = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..2 {
        let mine = Arc::new(Mutex::new(Vec::new()));
        let provider = Counting {
            inner: sip_provider(&sipp, |_| {}).await,
            placed: mine.clone(),
        };
        counts.push(mine);
        let cfg = worker_config(&key, 3);
        workers.push(spawn_worker(cfg, &db.pool, &redis, Arc::new(provider)));
    }
    for s in &seeded {
        let t = wait_finished(&db.pool, s.booking, Duration::from_secs(20)).await;
        assert_eq!(
            t.outcome,
            Some(CallOutcome::Completed),
            "SIPp: {}",
            sipp.errors()
        );
        assert_eq!(attempts(&db.pool, s.booking).await.len(), 1);
    }
    for c in &counts {
        placed
            .lock()
            .unwrap()
            .extend(c.lock().unwrap().iter().copied());
    }
    let placed = placed.lock().unwrap().clone();
    let mut per_booking: HashMap<_, usize> = HashMap::new();
    for b in &placed {
        *per_booking.entry(*b).or_default() += 1;
    }
    assert_eq!(per_booking.len(), 16);
    assert!(
        per_booking.values().all(|n| *n == 1),
        "a booking dialed twice: {per_booking:?}"
    );
    assert!(
        counts.iter().all(|c| !c.lock().unwrap().is_empty()),
        "both workers took a share"
    );
    // And what the trunk saw: one INVITE transaction per party.
    let legs = sipp.legs();
    assert_eq!(legs.len(), 32);
    for s in &seeded {
        for number in [&s.expert_phone, &s.seeker_phone] {
            let n = legs.iter().filter(|l| &l.dialed == number).count();
            assert_eq!(n, 1, "{number} dialed {n} times");
        }
    }

    for w in workers {
        w.stop().await;
    }
    db.drop_db().await;
}

/// Invariant 3, the crash: the worker dies while the call is up. The task
/// waits out the lease (no second live dial), then another worker records
/// the interrupted attempt and dials again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_task_resumes_after_the_lease_with_the_interrupted_attempt_recorded() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("answer.xml");

    let doomed = spawn_worker(
        worker_config(&key, 3),
        &db.pool,
        &redis,
        sip_provider(&sipp, |_| {}).await,
    );
    let seeded = seed_running(&db.pool, ChronoDuration::seconds(9)).await;
    let bridged = wait_for_task(
        &db.pool,
        seeded.booking,
        Duration::from_secs(10),
        "the bridge",
        |t| t.call_state == CallState::Bridged,
    )
    .await;
    let lease_expiry = bridged.lease_expires_at.unwrap();
    doomed.kill();
    let killed_at = Utc::now();

    let survivor = spawn_worker(
        worker_config(&key, 3),
        &db.pool,
        &redis,
        sip_provider(&sipp, |_| {}).await,
    );
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(25)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Completed));
    assert_eq!(task.fence, 2, "leased twice");

    let attempts = attempts(&db.pool, seeded.booking).await;
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    let (first, second) = (&attempts[0], &attempts[1]);
    assert_eq!(first.outcome, Some(CallOutcome::Failed));
    assert_eq!(first.reason.as_deref(), Some("worker lost lease"));
    assert!(first.bridged_at.is_some());
    assert_eq!((first.fence, second.fence), (1, 2));
    assert!(
        first.ended_at.unwrap() <= second.started_at,
        "the interruption is recorded before the new attempt"
    );
    assert!(
        second.started_at >= lease_expiry - ChronoDuration::milliseconds(100),
        "not redialed before the lease ran out: {} < {lease_expiry}",
        second.started_at
    );
    assert!(second.started_at > killed_at);
    assert_eq!(second.outcome, Some(CallOutcome::Completed));

    // On the wire: the dead worker's legs were gone (BYE) before the new
    // INVITEs, never two live calls at once.
    let msgs = sipp.messages();
    let legs = sipp.legs();
    assert_eq!(legs.len(), 4);
    let first_legs: Vec<_> = legs.iter().take(2).map(|l| l.call_id.clone()).collect();
    let last_bye_of_first = msgs
        .iter()
        .rposition(|m| {
            m.to_sipp
                && m.is_request("BYE")
                && first_legs.contains(&m.header("Call-ID").unwrap().to_string())
        })
        .expect("the killed worker's call was hung up");
    let first_new_invite = msgs
        .iter()
        .position(|m| {
            m.to_sipp
                && m.is_request("INVITE")
                && !first_legs.contains(&m.header("Call-ID").unwrap().to_string())
        })
        .unwrap();
    assert!(last_bye_of_first < first_new_invite);

    survivor.stop().await;
    db.drop_db().await;
}

/// The fence: once another worker leased the task, nothing the old holder
/// writes lands, and the new holder sees the old attempt as interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_lease_holder_cannot_write() {
    let db = fresh_db().await;
    let pool = &db.pool;
    let seeded = seed_running(pool, ChronoDuration::minutes(30)).await;
    let short = ChronoDuration::milliseconds(300);

    let expert = anxin_store::bookings::get(pool, seeded.booking)
        .await
        .unwrap()
        .expert_id;
    let old = call_tasks::lease_due(pool, "old", short, 10).await.unwrap();
    assert_eq!(old.len(), 1);
    let old = old[0].lease();
    assert!(
        call_tasks::lease_due(pool, "thief", short, 10)
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    assert!(
        call_tasks::begin_attempt(pool, old, 1, false, Some(expert.0))
            .await
            .unwrap()
    );
    assert!(
        call_tasks::set_call_state(pool, old, CallState::DialingSeeker)
            .await
            .unwrap()
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    let new = call_tasks::lease_due(pool, "new", ChronoDuration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].attempts, 1);
    let new = new[0].lease();
    assert_eq!(new.fence, old.fence + 1);

    assert_eq!(
        call_tasks::renew(pool, old, short).await.unwrap(),
        LeaseStatus::Lost
    );
    assert!(!call_tasks::set_call_state(pool, old, CallState::Bridged)
        .await
        .unwrap());
    assert!(
        !call_tasks::record_bridged(pool, old, 1, Utc::now(), Some(200))
            .await
            .unwrap()
    );
    let end = AttemptEnd {
        attempt: 1,
        outcome: anxin_domain::call::CallOutcome::Completed,
        ended_at: Utc::now(),
        expert_answered_at: None,
        bridged_at: None,
        expert_sip_status: Some(200),
        seeker_sip_status: Some(200),
        talk_seconds: 60,
        reason: None,
    };
    assert!(
        !call_tasks::conclude_attempt(pool, old, &end, NextStep::Finished)
            .await
            .unwrap()
    );
    assert!(
        !call_tasks::begin_attempt(pool, old, 2, false, Some(expert.0))
            .await
            .unwrap()
    );

    assert_eq!(
        call_tasks::close_interrupted_attempts(pool, new, "worker lost lease")
            .await
            .unwrap(),
        vec![1]
    );
    let t = task(pool, seeded.booking).await;
    assert_eq!(
        (t.state.as_str(), t.lease_owner.as_deref()),
        ("leased", Some("new"))
    );
    assert_eq!(
        t.call_state,
        CallState::DialingSeeker,
        "the stale write did not land"
    );
    let a = &call_tasks::attempts(pool, t.id).await.unwrap()[0];
    assert_eq!(a.outcome, Some(CallOutcome::Failed));
    assert!(a.bridged_at.is_none());
    let booking = anxin_store::bookings::get(pool, seeded.booking)
        .await
        .unwrap();
    assert_eq!(
        booking.status,
        BookingStatus::Confirmed,
        "the stale 'completed' did not land"
    );

    db.drop_db().await;
}

/// The simulated provider goes through the same worker; everything it
/// produces is marked simulated. The seeker's number (and note) is erased
/// after the retention period; the outcome stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_calls_are_marked_and_the_seekers_number_is_erased_after_retention() {
    let db = fresh_db().await;
    let mut redis = redis().await;
    let key = events_key();
    let provider = always_answering(
        Duration::from_millis(50)..Duration::from_millis(100),
        Duration::from_millis(1100)..Duration::from_millis(1200),
    );
    assert!(provider.is_simulated());
    let mut cfg = worker_config(&key, 1);
    cfg.phone_retention = Duration::from_secs(1);
    cfg.erase_interval = Duration::from_millis(200);
    // The sweep runs in the worker loop, which otherwise sleeps until the
    // next due task; keep it looking.
    cfg.poll_interval = Duration::from_millis(200);
    let worker = spawn_worker(cfg, &db.pool, &redis, Arc::new(provider));

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    // The seeker's note, sealed as the API writes it.
    let note = cipher().seal_text("a note for the expert");
    sqlx::query("UPDATE bookings SET note_ciphertext = $2, note_key_id = $3 WHERE id = $1")
        .bind(seeded.booking.0)
        .bind(&note.bytes)
        .bind(&note.key_id)
        .execute(&db.pool)
        .await
        .unwrap();
    let t = wait_finished(&db.pool, seeded.booking, Duration::from_secs(10)).await;
    assert_eq!(t.outcome, Some(CallOutcome::Completed));
    let a = &attempts(&db.pool, seeded.booking).await[0];
    assert!(a.simulated);
    assert_eq!(a.talk_seconds, Some(1));
    let events = read_events(&mut redis, &key).await;
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e.simulated));

    let has_phone = || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT phone_ciphertext IS NOT NULL FROM bookings WHERE id = $1",
        )
        .bind(seeded.booking.0)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    assert!(has_phone().await, "kept during the retention period");
    anxin_testkit::eventually(
        "the number is erased",
        Duration::from_secs(5),
        Duration::from_millis(100),
        || async { (!has_phone().await).then_some(()) },
    )
    .await;
    let booking = anxin_store::bookings::get(&db.pool, seeded.booking)
        .await
        .unwrap();
    assert!(booking.note.is_none(), "the note goes with the number");
    assert_eq!(
        booking.call_outcome,
        Some(CallOutcome::Completed),
        "the outcome stays"
    );
    assert_eq!(booking.status, BookingStatus::Completed);
    assert!(booking.phone_masked.is_some(), "the masked form stays");

    worker.stop().await;
    delete_key(&mut redis, &key).await;
    db.drop_db().await;
}

/// A booking cancelled while its expert's phone rings: the next step's
/// write is refused because the task is cancelled, not because the lease
/// was lost, so the call is hung up and the attempt ends as cancelled
/// instead of staying open for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_cancelled_while_dialing_ends_its_attempt_as_cancelled() {
    let db = fresh_db().await;
    let mut redis = redis().await;
    let key = events_key();
    // Answered well before the first lease renewal (after 1 s), so the
    // refused write, not the renewal, is what meets the cancellation.
    let provider = always_answering(
        Duration::from_millis(500)..Duration::from_millis(550),
        Duration::from_secs(60)..Duration::from_secs(61),
    );
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, Arc::new(provider));
    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    wait_for_task(
        &db.pool,
        seeded.booking,
        Duration::from_secs(10),
        "dialing the expert",
        |t| t.call_state == CallState::DialingExpert,
    )
    .await;
    cancel_as_operator(&db.pool, seeded.booking).await;
    let a = anxin_testkit::eventually(
        "the attempt ends",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let a = attempts(&db.pool, seeded.booking).await.remove(0);
            a.ended_at.is_some().then_some(a)
        },
    )
    .await;
    assert_eq!(a.outcome, Some(CallOutcome::Cancelled));
    let t = task(&db.pool, seeded.booking).await;
    assert_eq!(t.state, TaskState::Cancelled);

    worker.stop().await;
    delete_key(&mut redis, &key).await;
    db.drop_db().await;
}

/// A slot that ended before any worker got to it is not dialed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_that_is_already_over_is_not_dialed() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let placed = Arc::new(Mutex::new(Vec::new()));
    let provider = Counting {
        inner: Arc::new(SimulatedProvider::default()),
        placed: placed.clone(),
    };
    let now = Utc::now();
    let seeded = seed_booking(
        &db.pool,
        &cipher(),
        &random_phone("15"),
        &random_phone("13"),
        now - ChronoDuration::minutes(50),
        now - ChronoDuration::minutes(1),
    )
    .await;
    let worker = spawn_worker(worker_config(&key, 3), &db.pool, &redis, Arc::new(provider));
    let t = wait_finished(&db.pool, seeded.booking, Duration::from_secs(10)).await;
    assert_eq!(t.outcome, Some(CallOutcome::Failed));
    assert_eq!(t.attempts, 0);
    assert!(placed.lock().unwrap().is_empty());
    worker.stop().await;
    db.drop_db().await;
}

/// A confirmation wakes the worker only for calls due within the notify
/// window; a worker polling less often could start the others late, so it
/// refuses to start.
#[tokio::test]
async fn a_poll_longer_than_the_notify_window_is_refused() {
    let db = fresh_db().await;
    let redis = redis().await;
    let mut cfg = worker_config(&events_key(), 1);
    cfg.poll_interval = anxin_store::bookings::NOTIFY_WITHIN + Duration::from_secs(1);
    let started = anxin_calls::run(
        cfg,
        db.pool.clone(),
        redis,
        cipher(),
        Arc::new(SimulatedProvider::new(SimulatedConfig::default())),
        std::future::pending(),
    )
    .await;
    assert!(
        matches!(started, Err(anxin_calls::WorkerError::Config(m)) if m.contains("poll_interval")),
        "{started:?}"
    );
    db.drop_db().await;
}

/// The statement that begins a dial is the last look: an expert suspended,
/// or a booking handed to someone else, after the numbers were read, makes
/// it refuse, so the number read a moment ago is never dialled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_does_not_begin_for_a_suspended_or_replaced_expert() {
    let db = fresh_db().await;
    let pool = &db.pool;
    let seeded = seed_running(pool, ChronoDuration::minutes(30)).await;
    let booking = anxin_store::bookings::get(pool, seeded.booking)
        .await
        .unwrap();
    let expert = booking.expert_id;
    let lease = call_tasks::lease_due(pool, "w", ChronoDuration::seconds(30), 10)
        .await
        .unwrap()[0]
        .lease();
    let set_status = |status: &'static str| async move {
        sqlx::query("UPDATE experts SET status = $2 WHERE id = $1")
            .bind(expert.0)
            .bind(status)
            .execute(pool)
            .await
            .unwrap();
    };
    set_status("suspended").await;
    assert!(
        !call_tasks::begin_attempt(pool, lease, 1, false, Some(expert.0))
            .await
            .unwrap()
    );
    set_status("approved").await;
    // Handed to another expert meanwhile: the old one is not dialled.
    let other = seed_expert(pool, &cipher(), &random_phone("18")).await;
    let slot = seed_slot(pool, other, booking.starts_at, booking.ends_at).await;
    let by = anxin_store::audit::Actor {
        role: "operator",
        id: "ops".into(),
    };
    anxin_store::bookings::reassign(pool, &booking, other, slot, &by)
        .await
        .unwrap();
    assert!(
        !call_tasks::begin_attempt(pool, lease, 1, false, Some(expert.0))
            .await
            .unwrap()
    );
    assert!(
        call_tasks::begin_attempt(pool, lease, 1, false, Some(other.0))
            .await
            .unwrap()
    );
    db.drop_db().await;
}
