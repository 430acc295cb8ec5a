//! Calls through the SIP provider, one scenario each: what the phones
//! receive (SIPp's message trace) and what Anxin records.
use crate::helpers::*;
use anxin_domain::booking::BookingStatus;
use anxin_domain::call::{CallOutcome, CallState};
use anxin_domain::ids::BookingId;
use anxin_store::bookings;
use chrono::Duration as ChronoDuration;
use std::time::{Duration, Instant};

fn expert_leg<'a>(legs: &'a [TracedLeg], seeded: &Seeded) -> Vec<&'a TracedLeg> {
    legs.iter()
        .filter(|l| l.dialed == seeded.expert_phone)
        .collect()
}

fn seeker_leg<'a>(legs: &'a [TracedLeg], seeded: &Seeded) -> Vec<&'a TracedLeg> {
    legs.iter()
        .filter(|l| l.dialed == seeded.seeker_phone)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_dials_expert_then_seeker_bridges_and_completes_when_seeker_hangs_up() {
    let db = fresh_db().await;
    let mut redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("seeker_hangs_up.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    // The worker is idle (30 s poll) before the booking exists: only the
    // NOTIFY sent with the booking can wake it in time.
    let worker = spawn_worker(worker_config(&key, 3), &db.pool, &redis, provider);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let confirmed_at = Instant::now();
    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    wait_for_task(
        &db.pool,
        seeded.booking,
        Duration::from_secs(3),
        "the first dial",
        |t| t.attempts == 1,
    )
    .await;
    assert!(
        confirmed_at.elapsed() < Duration::from_secs(2),
        "a booking for a running slot is dialed within moments"
    );
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Completed));
    assert_eq!(task.call_state, CallState::Ended);

    // What GET /v1/bookings/{id} shows.
    let booking = bookings::get(&db.pool, seeded.booking).await.unwrap();
    assert_eq!(booking.status, BookingStatus::Completed);
    assert_eq!(booking.call_state, CallState::Ended);
    assert_eq!(booking.call_outcome, Some(CallOutcome::Completed));

    let attempts = attempts(&db.pool, seeded.booking).await;
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(a.outcome, Some(CallOutcome::Completed));
    assert_eq!(a.expert_sip_status, Some(200));
    assert_eq!(a.seeker_sip_status, Some(200));
    assert!(a.expert_answered_at.is_some() && a.bridged_at.is_some() && a.ended_at.is_some());
    assert!(a.talk_seconds.unwrap() >= 1, "talked about 2 s: {a:?}");
    assert_eq!(a.reason.as_deref(), Some("seeker hung up"));
    assert!(!a.simulated);

    // The phones' view.
    let legs = sipp.legs();
    assert_eq!(legs.len(), 2, "one leg per party: {legs:#?}");
    let (expert, seeker) = (
        &expert_leg(&legs, &seeded)[0],
        &seeker_leg(&legs, &seeded)[0],
    );
    assert_ne!(expert.call_id, seeker.call_id);
    let all = sipp.messages();
    let invites: Vec<_> = all
        .iter()
        .filter(|m| m.to_sipp && m.is_request("INVITE"))
        .collect();
    assert_eq!(
        invites.len(),
        2,
        "two INVITEs, no retransmission needed on loopback"
    );
    assert!(
        invites[0]
            .header("To")
            .unwrap()
            .contains(&seeded.expert_phone),
        "the expert is dialed first"
    );
    assert!(
        invites[0].body().is_empty(),
        "the expert's INVITE has no SDP"
    );
    assert!(invites[1]
        .header("To")
        .unwrap()
        .contains(&seeded.seeker_phone));
    assert!(
        invites[1].body().contains("m=audio 6000 RTP/AVP 0"),
        "the seeker gets the expert's offer"
    );
    let expert_ack = expert.sent_by_anxin("ACK");
    assert_eq!(expert_ack.len(), 1);
    assert!(
        expert_ack[0].body().contains("m=audio 6002 RTP/AVP 0"),
        "the expert's ACK carries the seeker's answer: {}",
        expert_ack[0].text
    );
    assert_eq!(seeker.sent_by_anxin("ACK").len(), 1);
    assert!(seeker.sent_by_anxin("ACK")[0].body().is_empty());
    // The seeker hung up; Anxin answered their BYE and released the expert.
    assert!(seeker
        .messages
        .iter()
        .any(|m| !m.to_sipp && m.is_request("BYE")));
    assert!(seeker
        .messages
        .iter()
        .any(|m| m.to_sipp && m.is_response(200) && m.cseq_method() == Some("BYE")));
    assert_eq!(expert.sent_by_anxin("BYE").len(), 1);

    // Every state change went out as a call event.
    let events = read_events(&mut redis, &key).await;
    let states: Vec<&str> = events.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(
        states,
        ["dialing_expert", "dialing_seeker", "bridged", "ended"]
    );
    let ended = events.last().unwrap();
    assert_eq!(ended.outcome, "completed");
    assert_eq!(ended.booking_id, seeded.booking.to_string());
    assert!(ended.talk_seconds >= 1);
    assert!(events.iter().all(|e| !e.simulated && e.attempt == 1));

    worker.stop().await;
    delete_key(&mut redis, &key).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_legs_get_bye_at_the_slot_end_plus_grace() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("answer.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    let worker = spawn_worker(worker_config(&key, 3), &db.pool, &redis, provider);

    // Ends in 3 s; the grace is 1 s.
    let seeded = seed_running(&db.pool, ChronoDuration::seconds(3)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Completed));
    let booking = bookings::get(&db.pool, seeded.booking).await.unwrap();
    let a = &attempts(&db.pool, seeded.booking).await[0];
    assert_eq!(a.reason.as_deref(), Some("hard stop at the slot's end"));
    let hard_stop = booking.ends_at + ChronoDuration::seconds(1);
    let ended = a.ended_at.unwrap();
    assert!(
        ended >= hard_stop - ChronoDuration::milliseconds(50)
            && ended < hard_stop + ChronoDuration::seconds(1),
        "ended at {ended}, hard stop {hard_stop}"
    );
    assert!((2..=5).contains(&a.talk_seconds.unwrap()));

    let legs = sipp.legs();
    for leg in [expert_leg(&legs, &seeded)[0], seeker_leg(&legs, &seeded)[0]] {
        assert_eq!(
            leg.sent_by_anxin("BYE").len(),
            1,
            "BYE on leg {}",
            leg.dialed
        );
        assert!(leg
            .messages
            .iter()
            .any(|m| !m.to_sipp && m.is_response(200) && m.cseq_method() == Some("BYE")));
    }

    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_expert_is_retried_per_policy_and_recorded_expert_busy() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("expert_busy.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    // Two attempts, 1 s apart.
    let worker = spawn_worker(worker_config(&key, 2), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::ExpertBusy));
    assert_eq!(task.attempts, 2);
    let booking = bookings::get(&db.pool, seeded.booking).await.unwrap();
    assert_eq!(
        booking.status,
        BookingStatus::Confirmed,
        "a call that never happened leaves the booking as it was"
    );

    let attempts = attempts(&db.pool, seeded.booking).await;
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(a.outcome, Some(CallOutcome::ExpertBusy));
        assert_eq!(a.expert_sip_status, Some(486));
        assert!(a.bridged_at.is_none() && a.seeker_sip_status.is_none());
    }
    let gap = attempts[1].started_at - attempts[0].ended_at.unwrap();
    assert!(
        gap >= ChronoDuration::milliseconds(900),
        "backoff respected: {gap}"
    );

    let legs = sipp.legs();
    assert_eq!(legs.len(), 2, "two attempts, each only the expert's leg");
    for leg in &legs {
        assert_eq!(
            leg.dialed, seeded.expert_phone,
            "the seeker is never dialed"
        );
        assert_eq!(leg.sent_by_anxin("ACK").len(), 1, "486 is acknowledged");
    }

    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expert_who_does_not_answer_is_cancelled_after_the_ring_timeout() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("expert_rings.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::ExpertNoAnswer));
    let a = &attempts(&db.pool, seeded.booking).await[0];
    assert_eq!(a.outcome, Some(CallOutcome::ExpertNoAnswer));
    assert_eq!(a.expert_sip_status, Some(487));
    let rang = a.ended_at.unwrap() - a.started_at;
    assert!(
        rang >= ChronoDuration::milliseconds(1900) && rang < ChronoDuration::seconds(5),
        "rang for the 2 s ring timeout: {rang}"
    );

    let legs = sipp.legs();
    assert_eq!(legs.len(), 1, "the seeker is never dialed");
    let leg = &legs[0];
    assert_eq!(leg.sent_by_anxin("CANCEL").len(), 1);
    let cancel = leg.sent_by_anxin("CANCEL")[0];
    let invite = leg.sent_by_anxin("INVITE")[0];
    assert_eq!(
        cancel.header("Via"),
        invite.header("Via"),
        "CANCEL matches the INVITE's transaction"
    );
    assert_eq!(leg.sent_by_anxin("ACK").len(), 1, "487 is acknowledged");
    assert!(leg.sent_by_anxin("BYE").is_empty());

    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_seeker_does_not_answer_the_expert_is_released_with_bye_and_retried() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("seeker_rings.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    let worker = spawn_worker(worker_config(&key, 2), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(25)).await;
    assert_eq!(task.outcome, Some(CallOutcome::SeekerNoAnswer));
    let attempts = attempts(&db.pool, seeded.booking).await;
    assert_eq!(attempts.len(), 2, "retried once per policy");
    for a in &attempts {
        assert_eq!(a.outcome, Some(CallOutcome::SeekerNoAnswer));
        assert_eq!(a.expert_sip_status, Some(200));
        assert_eq!(a.seeker_sip_status, Some(487));
        assert!(a.expert_answered_at.is_some() && a.bridged_at.is_none());
    }

    let legs = sipp.legs();
    let experts = expert_leg(&legs, &seeded);
    let seekers = seeker_leg(&legs, &seeded);
    assert_eq!((experts.len(), seekers.len()), (2, 2));
    for leg in experts {
        let acks = leg.sent_by_anxin("ACK");
        assert_eq!(acks.len(), 1);
        assert!(
            acks[0].body().contains("m=audio 0 "),
            "the expert's offer is answered with its streams rejected: {}",
            acks[0].text
        );
        assert_eq!(
            leg.sent_by_anxin("BYE").len(),
            1,
            "the expert is released cleanly"
        );
    }
    for leg in seekers {
        assert_eq!(leg.sent_by_anxin("CANCEL").len(), 1);
        assert!(leg.sent_by_anxin("BYE").is_empty());
    }

    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_challenge_from_the_trunk_is_answered() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("digest.xml");
    let provider = sip_provider(&sipp, |c| {
        c.username = Some("anxin".into());
        c.password = Some("s3cret".into());
    })
    .await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::seconds(2)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(
        task.outcome,
        Some(CallOutcome::Completed),
        "SIPp errors: {}",
        sipp.errors()
    );

    let legs = sipp.legs();
    assert_eq!(legs.len(), 2);
    for leg in &legs {
        let invites = leg.sent_by_anxin("INVITE");
        assert_eq!(invites.len(), 2, "challenged, then authenticated");
        assert!(invites[0].header("Authorization").is_none());
        let auth = invites[1].header("Authorization").unwrap();
        assert!(auth.starts_with("Digest username=\"anxin\""), "{auth}");
        assert!(auth.contains("realm=\"anxin.test\""));
        assert!(auth.contains("qop=auth") && auth.contains("nc=00000001"));
        assert!(auth.contains("opaque=\"op4que\""));
        assert!(!auth.contains("s3cret"));
        assert!(leg
            .messages
            .iter()
            .any(|m| !m.to_sipp && m.is_response(401)));
        assert!(
            !leg.messages
                .iter()
                .any(|m| !m.to_sipp && m.is_response(403)),
            "the trunk accepted the credentials"
        );
        // Same dialog: Call-ID and From tag kept, CSeq up by one.
        let cseq = |m: &Traced| m.header("CSeq").unwrap().to_string();
        assert_eq!(cseq(invites[0]), "1 INVITE");
        assert_eq!(cseq(invites[1]), "2 INVITE");
        assert_eq!(invites[0].header("From"), invites[1].header("From"));
    }

    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_the_call_with_the_trunks_status() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("digest.xml");
    let provider = sip_provider(&sipp, |c| {
        c.username = Some("anxin".into());
        c.password = Some("wrong".into());
    })
    .await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Failed));
    let a = &attempts(&db.pool, seeded.booking).await[0];
    assert_eq!(a.expert_sip_status, Some(403));
    assert_eq!(a.reason.as_deref(), Some("expert: SIP 403"));
    assert!(
        !log_text().contains("wrong\""),
        "the password never reaches the logs"
    );

    worker.stop().await;
    db.drop_db().await;
}

/// Invariant 4: a canary seeker number never reaches the expert's leg, in any
/// header or SDP, nor the logs; both legs see the platform's number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seekers_number_never_reaches_the_experts_leg_or_the_logs() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("answer.xml");
    let provider = sip_provider(&sipp, |c| c.assert_identity = true).await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let canary = "+8617761839402";
    let expert_phone = random_phone("15");
    let now = chrono::Utc::now();
    let seeded = seed_booking(
        &db.pool,
        &cipher(),
        &expert_phone,
        canary,
        now - ChronoDuration::minutes(1),
        now + ChronoDuration::seconds(2),
    )
    .await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Completed));

    let legs = sipp.legs();
    let expert = expert_leg(&legs, &seeded)[0];
    let seeker = seeker_leg(&legs, &seeded)[0];
    // SIPp's answer put the canary in its SDP (o= and s=), as some phones
    // do; Anxin must scrub it before the expert's ACK.
    assert!(
        seeker
            .messages
            .iter()
            .any(|m| !m.to_sipp && m.body().contains("17761839402")),
        "the scenario did put the number into the seeker's SDP"
    );
    let expert_text = expert.all_text();
    for spelling in spellings(canary) {
        assert!(
            !expert_text.contains(&spelling),
            "the expert's leg carries the seeker's number ({spelling}):\n{expert_text}"
        );
    }
    for spelling in spellings(&expert_phone) {
        assert!(
            !seeker.all_text().contains(&spelling),
            "the seeker's leg carries the expert's number"
        );
    }
    for leg in [expert, seeker] {
        let invite = leg.sent_by_anxin("INVITE")[0];
        let from = invite.header("From").unwrap();
        assert!(
            from.contains(&format!("sip:{PLATFORM}@")),
            "From shows the platform: {from}"
        );
        let pai = invite.header("P-Asserted-Identity").unwrap();
        assert!(pai.contains(&format!("sip:{PLATFORM}@")));
        for m in leg.messages.iter().filter(|m| m.to_sipp) {
            assert!(!m.header("Contact").unwrap_or_default().contains("+86"));
        }
    }

    // Logs carry the masked form only.
    let logs = log_text();
    for spelling in spellings(canary) {
        assert!(
            !logs.contains(&spelling),
            "logs contain the seeker's number"
        );
    }
    assert!(
        logs.contains("+86 177****9402"),
        "the masked number is what logs show"
    );

    worker.stop().await;
    db.drop_db().await;
}

/// A booking cancelled while its call is up: the call is hung up and the
/// attempt recorded `cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_booking_hangs_up_the_call() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("answer.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    let worker = spawn_worker(worker_config(&key, 3), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    wait_for_task(
        &db.pool,
        seeded.booking,
        Duration::from_secs(10),
        "the bridge",
        |t| t.call_state == CallState::Bridged,
    )
    .await;
    cancel_as_operator(&db.pool, seeded.booking).await;
    let cancelled_at = Instant::now();
    let booking: BookingId = seeded.booking;
    let a = anxin_testkit::eventually(
        "the call is hung up",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let a = attempts(&db.pool, booking).await.remove(0);
            a.ended_at.is_some().then_some(a)
        },
    )
    .await;
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(3),
        "noticed within a lease renewal"
    );
    assert_eq!(a.outcome, Some(CallOutcome::Cancelled));
    let t = task(&db.pool, booking).await;
    assert_eq!(
        (t.state.as_str(), t.call_state.as_str()),
        ("cancelled", "cancelled")
    );
    let legs = sipp.legs();
    assert_eq!(
        legs.iter()
            .filter(|l| !l.sent_by_anxin("BYE").is_empty())
            .count(),
        2
    );

    worker.stop().await;
    db.drop_db().await;
}

/// Timer A (INVITE retransmission), a 200 OK repeated after our ACK (ACK
/// again), a re-INVITE refused with 488 without dropping the call, and an
/// in-dialog OPTIONS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmissions_repeated_200s_and_session_changes_are_handled() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("resilience.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::seconds(3)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(
        task.outcome,
        Some(CallOutcome::Completed),
        "SIPp: {}",
        sipp.errors()
    );
    let a = &attempts(&db.pool, seeded.booking).await[0];
    assert_eq!(
        a.reason.as_deref(),
        Some("hard stop at the slot's end"),
        "the re-INVITE did not end the call"
    );

    let legs = sipp.legs();
    let expert = expert_leg(&legs, &seeded)[0];
    let invites = expert.sent_by_anxin("INVITE");
    assert_eq!(invites.len(), 2, "retransmitted once before the answer");
    assert_eq!(
        invites[0].text, invites[1].text,
        "a retransmission is the same request"
    );
    let acks = expert.sent_by_anxin("ACK");
    assert_eq!(acks.len(), 2, "the repeated 200 was ACKed again");
    assert_eq!(acks[0].text, acks[1].text);
    let refused = expert
        .messages
        .iter()
        .find(|m| m.to_sipp && m.is_response(488))
        .expect("re-INVITE answered 488");
    assert_eq!(refused.header("CSeq"), Some("10 INVITE"));
    assert!(expert
        .messages
        .iter()
        .any(|m| m.to_sipp && m.is_response(200) && m.cseq_method() == Some("OPTIONS")));
    assert_eq!(expert.sent_by_anxin("BYE").len(), 1);

    worker.stop().await;
    db.drop_db().await;
}

/// A trunk that never answers: the INVITE is retransmitted with doubling
/// intervals (Timer A) and the attempt fails at Timer B (64·T1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_trunk_gets_retransmissions_then_the_attempt_fails_at_timer_b() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let trunk = silent.local_addr().unwrap();
    let mut cfg = anxin_calls::SipConfig::new(trunk.to_string(), PLATFORM);
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    // T1 = 50 ms: Timer B fires after 3.2 s instead of 32 s.
    cfg.timer_t1 = Duration::from_millis(50);
    let provider = std::sync::Arc::new(anxin_calls::SipProvider::start(cfg).await.unwrap());
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    let mut arrivals = Vec::new();
    let mut buf = vec![0u8; 65_535];
    let listen_until = Instant::now() + Duration::from_secs(4);
    while let Ok(Ok((n, _))) =
        tokio::time::timeout_at(listen_until.into(), silent.recv_from(&mut buf)).await
    {
        arrivals.push((Instant::now(), buf[..n].to_vec()));
    }
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(10)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Failed));
    let a = &attempts(&db.pool, seeded.booking).await[0];
    assert_eq!(
        a.reason.as_deref(),
        Some("expert: no response from the trunk")
    );
    assert_eq!(a.expert_sip_status, None);

    // Sent at 0, 50, 150, 350, 750, 1550 and 3150 ms.
    assert_eq!(arrivals.len(), 7, "INVITE and its six retransmissions");
    assert!(arrivals.iter().all(|(_, b)| b == &arrivals[0].1));
    // Each send comes no earlier than its nominal time after the first
    // (50 ms doubling); a late timer only ever delays later sends, so this
    // holds however loaded the machine is, where interval by interval a
    // late send shortens the next gap.
    let since_first: Vec<u128> = arrivals
        .iter()
        .map(|(at, _)| (*at - arrivals[0].0).as_millis())
        .collect();
    for (i, at) in since_first.iter().enumerate().skip(1) {
        let nominal = 50u128 * ((1u128 << i) - 1);
        assert!(
            *at + 5 >= nominal,
            "send {i} came {at} ms after the first, expected at least {nominal}: {since_first:?}"
        );
    }
    assert!(
        since_first[6] >= 3100,
        "the intervals doubled: {since_first:?}"
    );

    worker.stop().await;
    db.drop_db().await;
}

/// With an outbound proxy, every request goes to the proxy (here SIPp) with
/// a preloaded Route, while the URIs keep naming the trunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_proxy_carries_every_request() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("answer.xml");
    let proxy = sipp.addr.to_string();
    let provider = sip_provider(&sipp, |c| {
        // Unresolvable on purpose: only the proxy is ever contacted.
        c.trunk = "trunk.invalid:5060".into();
        c.outbound_proxy = Some(proxy.clone());
    })
    .await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    let seeded = seed_running(&db.pool, ChronoDuration::seconds(2)).await;
    let task = wait_finished(&db.pool, seeded.booking, Duration::from_secs(20)).await;
    assert_eq!(task.outcome, Some(CallOutcome::Completed));
    for leg in sipp.legs() {
        let invite = leg.sent_by_anxin("INVITE")[0];
        assert!(
            invite.start_line().contains("@trunk.invalid"),
            "{}",
            invite.start_line()
        );
        assert_eq!(
            invite.header("Route"),
            Some(format!("<sip:{proxy};lr>").as_str())
        );
        assert!(invite.header("From").unwrap().contains("@trunk.invalid>"));
        assert_eq!(
            leg.sent_by_anxin("BYE").len(),
            1,
            "in-dialog requests go through the proxy too"
        );
    }

    worker.stop().await;
    db.drop_db().await;
}

/// An operator's callback on a referral goes through the same call path as a
/// booking: the operator's phone rings first, then the seeker's (the
/// referral's sealed copy), both see the platform's number, neither sees the
/// other's, the booking is left alone, no booking call event is published,
/// and the operator's number is forgotten once the call is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_callback_bridges_the_operator_and_the_seeker_masked_both_ways() {
    let db = fresh_db().await;
    let mut redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("seeker_hangs_up.xml");
    let provider = sip_provider(&sipp, |c| c.assert_identity = true).await;
    let worker = spawn_worker(worker_config(&key, 1), &db.pool, &redis, provider);

    // A booking in two days (its own call is not due) that an expert referred.
    let canary = "+8617761839402";
    let operator_phone = random_phone("15");
    let later = chrono::Utc::now() + ChronoDuration::days(2);
    let seeded = seed_booking(
        &db.pool,
        &cipher(),
        &random_phone("15"),
        canary,
        later,
        later + ChronoDuration::minutes(50),
    )
    .await;
    let mut tx = db.pool.begin().await.unwrap();
    let referral = anxin_store::referrals::open_referral(
        &mut tx,
        anxin_store::referrals::Session::Booking(seeded.booking),
        anxin_domain::referral::Urgency::Emergency,
    )
    .await
    .unwrap();
    let operator = anxin_domain::phone::PhoneNumber::parse("phone", &operator_phone).unwrap();
    let queued =
        anxin_store::call_tasks::queue_callback(&mut tx, referral, &cipher().seal(&operator))
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let anxin_store::call_tasks::Queued::Queued(call) = queued else {
        panic!("not queued: {queued:?}");
    };

    let row = anxin_testkit::eventually(
        "the callback ends",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            let r = anxin_store::referrals::get(&db.pool, referral)
                .await
                .unwrap();
            let c = r.callback.clone().expect("the referral shows its callback");
            assert_eq!(c.call_id, call);
            (c.call_state == CallState::Ended).then_some(c)
        },
    )
    .await;
    assert_eq!(
        row.outcome,
        Some(CallOutcome::Completed),
        "{}",
        sipp.errors()
    );

    let legs = sipp.legs();
    assert_eq!(legs.len(), 2, "{legs:#?}");
    let operator_leg = legs.iter().find(|l| l.dialed == operator_phone).unwrap();
    let seeker_leg = legs.iter().find(|l| l.dialed == canary).unwrap();
    let invites: Vec<_> = sipp
        .messages()
        .into_iter()
        .filter(|m| m.to_sipp && m.is_request("INVITE"))
        .collect();
    assert!(
        invites[0].header("To").unwrap().contains(&operator_phone),
        "the operator is dialed first"
    );
    for spelling in spellings(canary) {
        assert!(
            !operator_leg.all_text().contains(&spelling),
            "the operator's leg carries the seeker's number ({spelling})"
        );
    }
    for spelling in spellings(&operator_phone) {
        assert!(
            !seeker_leg.all_text().contains(&spelling),
            "the seeker's leg carries the operator's number"
        );
    }
    for leg in [operator_leg, seeker_leg] {
        let invite = leg.sent_by_anxin("INVITE")[0];
        assert!(invite
            .header("From")
            .unwrap()
            .contains(&format!("sip:{PLATFORM}@")));
        assert!(invite
            .header("P-Asserted-Identity")
            .unwrap()
            .contains(&format!("sip:{PLATFORM}@")));
    }

    // The booking and its own call are untouched; the dashboards' stream
    // has no booking event for the callback.
    let booking = bookings::get(&db.pool, seeded.booking).await.unwrap();
    assert_eq!(booking.status, BookingStatus::Confirmed);
    assert_eq!(task(&db.pool, seeded.booking).await.attempts, 0);
    assert!(read_events(&mut redis, &key).await.is_empty());
    let kept: bool = sqlx::query_scalar(
        "SELECT operator_phone_ciphertext IS NOT NULL FROM call_tasks WHERE id = $1",
    )
    .bind(call.0)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!kept, "the operator's number is forgotten after the call");
    let logs = log_text();
    for spelling in spellings(canary)
        .into_iter()
        .chain(spellings(&operator_phone))
    {
        assert!(!logs.contains(&spelling), "a number reached the logs");
    }

    worker.stop().await;
    db.drop_db().await;
}

/// A booking whose expert is suspended before its dial is due (and whose
/// handover has not happened yet) is never dialled: the trunk sees no
/// INVITE. Once the booking is handed to another expert, that expert is
/// dialled, and the suspended one's number never appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_expert_is_never_dialled_and_the_stand_in_is() {
    let db = fresh_db().await;
    let redis = redis().await;
    let key = events_key();
    let sipp = Sipp::start("seeker_hangs_up.xml");
    let provider = sip_provider(&sipp, |_| {}).await;
    let seeded = seed_running(&db.pool, ChronoDuration::minutes(30)).await;
    let booking = bookings::get(&db.pool, seeded.booking).await.unwrap();
    sqlx::query("UPDATE experts SET status = 'suspended' WHERE id = $1")
        .bind(booking.expert_id.0)
        .execute(&db.pool)
        .await
        .unwrap();

    let worker = spawn_worker(worker_config(&key, 3), &db.pool, &redis, provider);
    // The worker takes the due task, finds the expert suspended and puts it
    // back for a moment later, without an attempt.
    wait_for_task(
        &db.pool,
        seeded.booking,
        Duration::from_secs(5),
        "the task looked at and put back",
        |t| t.due_at > chrono::Utc::now() && t.state == anxin_store::call_tasks::TaskState::Pending,
    )
    .await;
    assert_eq!(task(&db.pool, seeded.booking).await.attempts, 0);
    assert!(
        !sipp.messages().iter().any(|m| m.is_request("INVITE")),
        "the suspended expert was dialled"
    );

    // The handover: another expert free at the same time takes it.
    let stand_in_phone = random_phone("18");
    let stand_in = seed_expert(&db.pool, &cipher(), &stand_in_phone).await;
    let slot = seed_slot(&db.pool, stand_in, booking.starts_at, booking.ends_at).await;
    let by = anxin_store::audit::Actor {
        role: "operator",
        id: "ops".into(),
    };
    assert_eq!(
        bookings::reassign(&db.pool, &booking, stand_in, slot, &by)
            .await
            .unwrap(),
        bookings::Reassigned::Reassigned
    );
    let done = wait_finished(&db.pool, seeded.booking, Duration::from_secs(30)).await;
    assert_eq!(done.outcome, Some(CallOutcome::Completed));
    let invites: Vec<_> = sipp
        .messages()
        .into_iter()
        .filter(|m| m.to_sipp && m.is_request("INVITE"))
        .collect();
    assert!(invites[0].header("To").unwrap().contains(&stand_in_phone));
    for invite in &invites {
        assert!(
            !invite.text.contains(&seeded.expert_phone[3..]),
            "an INVITE reached the suspended expert: {}",
            invite.text
        );
    }
    worker.stop().await;
    db.drop_db().await;
}
