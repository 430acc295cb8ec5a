//! Help now against SIPp playing the on-duty experts and the seeker
//! (`tests/sipp/help_now.xml`: an expert's number with 13999 never answers,
//! with 13988 answers after four seconds, any other at once). The queue is
//! filled through the store as the API fills it; the worker dispatches it
//! and places the calls the way `anxin worker` does.
use crate::helpers::*;
use anxin_domain::help_now::{HelpNowStatus, HelpNowWish};
use anxin_domain::ids::ExpertId;
use anxin_domain::phone::PhoneNumber;
use anxin_domain::seeker::PriorityGroup;
use anxin_store::crypto::PhoneCipher;
use anxin_store::help_now::{self as queue, NewRequest, Queued};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// Puts these experts on duty, the first the longest (so the first free is
/// rung first when none has had a help-now call today).
async fn on_duty(pool: &PgPool, experts: &[ExpertId]) {
    for (i, e) in experts.iter().enumerate() {
        sqlx::query(
            "INSERT INTO expert_duty (expert_id, since)
             VALUES ($1, now() - make_interval(mins => $2))",
        )
        .bind(e.0)
        .bind(60 - i as i32)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// A seeker of this group asking for help now with this number.
async fn ask(pool: &PgPool, cipher: &PhoneCipher, phone: &str, group: PriorityGroup) -> Uuid {
    let seeker = Uuid::new_v4();
    sqlx::query("INSERT INTO seekers (id, subject_hash, priority_group) VALUES ($1, $2, $3)")
        .bind(seeker)
        .bind(seeker.as_bytes().to_vec())
        .bind(group.as_str())
        .execute(pool)
        .await
        .unwrap();
    let wish = HelpNowWish {
        language: None,
        topic: None,
        note: None,
    };
    let sealed = cipher.seal(&PhoneNumber::parse("phone", phone).unwrap());
    let new = NewRequest {
        seeker: anxin_domain::ids::SeekerId(seeker),
        group,
        wish: &wish,
        region: None,
        phone: &sealed,
        note: None,
        idempotency_key: None,
        request_hash: b"test",
    };
    match queue::enqueue(pool, &new).await.unwrap() {
        Queued::Queued(id) => id,
        other => panic!("not queued: {other:?}"),
    }
}

async fn wait_status(pool: &PgPool, id: Uuid, want: HelpNowStatus, within: Duration) {
    let what = format!("the request becomes {want:?}");
    anxin_testkit::eventually(&what, within, Duration::from_millis(100), || async {
        let row = queue::get(pool, id).await.unwrap().unwrap();
        (row.status == want).then_some(())
    })
    .await;
}

/// Waits until an expert's phone rings for the request.
async fn ringing(pool: &PgPool, sipp: &Sipp, request: Uuid) {
    wait_status(
        pool,
        request,
        HelpNowStatus::RingingExpert,
        Duration::from_secs(10),
    )
    .await;
    anxin_testkit::eventually(
        "the expert is rung",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async { (!sipp.legs().is_empty()).then_some(()) },
    )
    .await;
}

/// Attempts of the request's calls that bridged the seeker.
async fn bridged(pool: &PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM call_attempts a JOIN call_tasks t ON t.id = a.task_id
          WHERE t.help_now_id = $1 AND a.bridged_at IS NOT NULL",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn config(ring: Duration) -> anxin_calls::WorkerConfig {
    let mut cfg = worker_config(&events_key(), 3);
    cfg.help_now.ring = ring;
    cfg
}

#[tokio::test]
async fn an_unanswered_expert_rolls_over_to_the_next_and_only_then_is_the_seeker_called() {
    let db = fresh_db().await;
    let pool = &db.pool;
    let sipp = Sipp::start("help_now.xml");
    let c = cipher();
    let phones = [
        random_phone("13999"),
        random_phone("13800"),
        random_phone("13801"),
    ];
    let mut experts = Vec::new();
    for p in &phones {
        experts.push(seed_expert(pool, &c, p).await);
    }
    on_duty(pool, &experts).await;
    let seeker_phone = random_phone("13700");
    let request = ask(pool, &c, &seeker_phone, PriorityGroup::General).await;

    // The provider's own ring timeout is long; help now's ring is what
    // rolls the call over.
    let ring = Duration::from_secs(2);
    let provider = sip_provider(&sipp, |cfg| cfg.ring_timeout = Duration::from_secs(20)).await;
    let worker = spawn_worker(config(ring), pool, &redis().await, provider);
    wait_status(
        pool,
        request,
        HelpNowStatus::Completed,
        Duration::from_secs(30),
    )
    .await;

    let rings = queue::rings(pool, request).await.unwrap();
    assert_eq!(
        rings.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        experts[..2],
        "the first expert, then the second; never the third, nobody twice"
    );
    assert_eq!(rings[0].1.as_deref(), Some("expert_no_answer"));
    let times: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT rung_at FROM help_now_rings WHERE request_id = $1 ORDER BY rung_at",
    )
    .bind(request)
    .fetch_all(pool)
    .await
    .unwrap();
    let gap = (times[1] - times[0]).to_std().unwrap();
    assert!(
        gap <= ring + Duration::from_secs(2),
        "the second expert was rung {gap:?} after the first (ring {ring:?})"
    );

    let legs = sipp.legs();
    let dialled: Vec<String> = legs.iter().map(|l| l.dialed.clone()).collect();
    assert_eq!(
        dialled,
        vec![phones[0].clone(), phones[1].clone(), seeker_phone.clone()],
        "the first expert once (cancelled), the second, then the seeker"
    );
    assert_eq!(legs[0].sent_by_anxin("CANCEL").len(), 1);
    for leg in &legs[..2] {
        for spelling in spellings(&seeker_phone) {
            assert!(
                !leg.all_text().contains(&spelling),
                "the seeker's number on an expert's leg: {}",
                leg.all_text()
            );
        }
    }
    let seeker_invite = legs[2].sent_by_anxin("INVITE")[0];
    assert!(
        seeker_invite
            .header("From")
            .unwrap()
            .contains(PLATFORM.trim_start_matches('+')),
        "the seeker sees the platform's number: {:?}",
        seeker_invite.header("From")
    );
    assert_eq!(bridged(pool, request).await, 1);
    let row = queue::get(pool, request).await.unwrap().unwrap();
    assert_eq!(row.expert_id, Some(experts[1]));
    assert_eq!(row.rollovers, 1);
    assert!(row.connected_at.is_some());

    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_seeker_who_leaves_while_the_expert_rings_is_never_called() {
    let db = fresh_db().await;
    let pool = &db.pool;
    let sipp = Sipp::start("help_now.xml");
    let c = cipher();
    let expert_phone = random_phone("13999");
    let expert = seed_expert(pool, &c, &expert_phone).await;
    on_duty(pool, &[expert]).await;
    let seeker_phone = random_phone("13700");
    let request = ask(pool, &c, &seeker_phone, PriorityGroup::General).await;
    let provider = sip_provider(&sipp, |cfg| cfg.ring_timeout = Duration::from_secs(20)).await;
    let worker = spawn_worker(
        config(Duration::from_secs(15)),
        pool,
        &redis().await,
        provider,
    );
    ringing(pool, &sipp, request).await;
    let seeker = queue::get(pool, request).await.unwrap().unwrap().seeker_id;
    assert!(queue::cancel(pool, request, seeker).await.unwrap());

    // The worker notices at its next lease renewal (a third of the lease).
    anxin_testkit::eventually(
        "the expert's ringing is cancelled",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async { (!sipp.legs()[0].sent_by_anxin("CANCEL").is_empty()).then_some(()) },
    )
    .await;
    // Nothing more may happen: time for a wrongly dialled seeker to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let legs = sipp.legs();
    assert_eq!(legs.len(), 1, "only the expert was dialled: {legs:#?}");
    assert_eq!(legs[0].dialed, expert_phone);
    let row = queue::get(pool, request).await.unwrap().unwrap();
    assert_eq!(row.status, HelpNowStatus::Cancelled);
    assert_eq!(bridged(pool, request).await, 0);
    worker.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_worker_killed_while_an_expert_rings_leaves_exactly_one_expert_bridged() {
    let db = fresh_db().await;
    let pool = &db.pool;
    let sipp = Sipp::start("help_now.xml");
    let c = cipher();
    // Both answer after four seconds of ringing.
    let phones = [random_phone("13988"), random_phone("13988")];
    let experts = [
        seed_expert(pool, &c, &phones[0]).await,
        seed_expert(pool, &c, &phones[1]).await,
    ];
    on_duty(pool, &experts).await;
    let request = ask(pool, &c, &random_phone("13700"), PriorityGroup::General).await;
    let redis = redis().await;
    let provider = sip_provider(&sipp, |cfg| cfg.ring_timeout = Duration::from_secs(20)).await;
    let first = spawn_worker(
        config(Duration::from_secs(15)),
        pool,
        &redis,
        provider.clone(),
    );
    ringing(pool, &sipp, request).await;
    first.kill();

    // Another worker takes the task over once its lease has run out.
    let second = spawn_worker(config(Duration::from_secs(15)), pool, &redis, provider);
    wait_status(
        pool,
        request,
        HelpNowStatus::Completed,
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(
        bridged(pool, request).await,
        1,
        "exactly one expert bridged"
    );
    let connected: Vec<Option<Uuid>> = sqlx::query_scalar(
        "SELECT expert_id FROM help_now_requests WHERE id = $1 AND connected_at IS NOT NULL",
    )
    .bind(request)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(connected.len(), 1);
    // The ring the crash cut short went on to the other expert, who
    // answered; the first was not rung again.
    let rings = queue::rings(pool, request).await.unwrap();
    assert_eq!(
        rings.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        experts,
        "{rings:?}"
    );
    assert_eq!(connected[0], Some(experts[1].0));
    let legs = sipp.legs();
    let to = |phone: &str| legs.iter().filter(|l| l.dialed == phone).count();
    assert_eq!((to(&phones[0]), to(&phones[1])), (1, 1), "{legs:#?}");
    second.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn fifty_seekers_queue_for_two_free_experts_and_the_first_by_priority_then_arrival_are_rung()
{
    let db = fresh_db().await;
    let pool = &db.pool;
    let c = cipher();
    let experts = [
        seed_expert(pool, &c, &random_phone("13800")).await,
        seed_expert(pool, &c, &random_phone("13801")).await,
    ];
    on_duty(pool, &experts).await;
    let mut requests = Vec::new();
    for i in 0..50 {
        // Two of the fifty are medical workers, arriving 10th and 30th.
        let group = if i == 10 || i == 30 {
            PriorityGroup::MedicalWorker
        } else {
            PriorityGroup::General
        };
        requests.push(ask(pool, &c, &random_phone("13700"), group).await);
    }
    assert_eq!(queue::position(pool, requests[10]).await.unwrap(), 1);
    assert_eq!(queue::position(pool, requests[30]).await.unwrap(), 2);
    assert_eq!(queue::position(pool, requests[0]).await.unwrap(), 3);
    assert_eq!(queue::position(pool, requests[49]).await.unwrap(), 50);

    let done = queue::dispatch(pool, chrono::Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!((done.rung, done.waiting), (2, 48));
    for (i, r) in requests.iter().enumerate() {
        let status = queue::get(pool, *r).await.unwrap().unwrap().status;
        let rung = i == 10 || i == 30;
        assert_eq!(
            status == HelpNowStatus::RingingExpert,
            rung,
            "request {i} is {status:?}"
        );
    }
    // Everyone else moved up two places.
    assert_eq!(queue::position(pool, requests[0]).await.unwrap(), 1);
    assert_eq!(queue::position(pool, requests[1]).await.unwrap(), 2);
    assert_eq!(queue::position(pool, requests[49]).await.unwrap(), 48);
    // The two experts are busy now: nobody else is rung.
    let again = queue::dispatch(pool, chrono::Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!((again.rung, again.waiting), (0, 48));
    let mut ringing = Vec::new();
    for r in [requests[10], requests[30]] {
        ringing.push(queue::get(pool, r).await.unwrap().unwrap().expert_id);
    }
    ringing.sort();
    let mut want: Vec<_> = experts.iter().map(|e| Some(*e)).collect();
    want.sort();
    assert_eq!(ringing, want, "one expert each");
    db.drop_db().await;
}
