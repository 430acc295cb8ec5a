//! Anxin on a Redis Cluster of its own that loses a master in the middle of
//! a hold race (the other suites run on a cluster too when `./scripts/test`
//! sets `ANXIN_TEST_REDIS_CLUSTER_NODES`; this one breaks its cluster, so it
//! starts one).
use crate::helpers::*;

use anxin_testkit::RedisCluster;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// What the racing seekers saw.
#[derive(Default)]
struct Race {
    /// (slot, booking id) of every 201 to `POST /v1/bookings`.
    booked: Vec<(Uuid, Uuid)>,
    /// Holds and confirmations answered 503 while the master was gone.
    unavailable: usize,
    /// Any answer a seeker should never get (a 500, say).
    unexpected: Vec<String>,
}

async fn race_once(app: &TestApp, slot: Uuid, race: &Mutex<Race>) {
    let seeker = new_seeker();
    let r = app.hold(&seeker, slot).await;
    let status = r.status();
    let hold = match status {
        StatusCode::CREATED => hold_id(r).await,
        StatusCode::CONFLICT => return,
        StatusCode::SERVICE_UNAVAILABLE => {
            race.lock().unwrap().unavailable += 1;
            return;
        }
        _ => {
            let body = r.text().await.unwrap_or_default();
            race.lock()
                .unwrap()
                .unexpected
                .push(format!("hold {status}: {body}"));
            return;
        }
    };
    let r = app.confirm(&seeker, &hold, "+8613812345678").await;
    let status = r.status();
    let race_seen = |body: Value| {
        let mut race = race.lock().unwrap();
        match status {
            StatusCode::CREATED => race
                .booked
                .push((slot, body["booking_id"].as_str().unwrap().parse().unwrap())),
            // A hold the failed master took with it, or a slot it forgot
            // was booked: Postgres refuses the second booking.
            StatusCode::CONFLICT | StatusCode::GONE => {}
            StatusCode::SERVICE_UNAVAILABLE => race.unavailable += 1,
            _ => race.unexpected.push(format!("confirm {status}: {body}")),
        }
    };
    race_seen(r.json::<Value>().await.unwrap_or(Value::Null));
}

#[tokio::test]
async fn a_master_killed_during_a_hold_race_books_nothing_twice_and_loses_no_booking() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(1000))
        .await
        .unwrap();
    let nodes = cluster.nodes.clone();
    let app = Arc::new(spawn_app_with(|s| s.redis_cluster_nodes = Some(nodes)).await);
    // Enough experts that every master holds some of their indexes.
    let mut experts = Vec::new();
    for _ in 0..6 {
        experts.push(app.expert_with(&all_week(30)).await);
    }
    let victim = cluster
        .master_of(&app.expert_keys(experts[0]).open)
        .expect("a master serves the first expert's index");
    let mut slots = Vec::new();
    for &e in &experts {
        for s in &app.open_slots(e).await[2..70] {
            slots.push(s["slot_id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
    }

    let race = Arc::new(Mutex::new(Race::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let seekers: Vec<_> = (0..16)
        .map(|i| {
            let (app, race, stop, slots) = (app.clone(), race.clone(), stop.clone(), slots.clone());
            tokio::spawn(async move {
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    race_once(&app, slots[n % slots.len()], &race).await;
                    n += 7;
                }
            })
        })
        .collect();

    // The master dies once the race is under way: after its first bookings
    // (waited for, not timed, so a slow machine still races on both sides).
    let started = std::time::Instant::now();
    while race.lock().unwrap().booked.is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_kill = race.lock().unwrap().booked.len();
    cluster.kill(victim);
    let cluster = Arc::new(cluster);
    let watching = cluster.clone();
    let promoted = tokio::task::spawn_blocking(move || {
        watching.wait_for_failover(victim, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert!(promoted, "the killed master's replica took over");
    // The race goes on against the promoted replica.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for s in seekers {
        s.await.unwrap();
    }

    let race = Arc::try_unwrap(race).ok().unwrap().into_inner().unwrap();
    if !race.unexpected.is_empty() {
        let errors: Vec<String> = logs()
            .text()
            .lines()
            .filter(|l| l.contains("internal error"))
            .take(5)
            .map(String::from)
            .collect();
        panic!("{:?}\n{}", race.unexpected, errors.join("\n"));
    }
    assert!(before_kill > 0, "bookings were made before the failover");
    assert!(
        race.booked.len() > before_kill,
        "bookings were made after the failover too: {} booked, {before_kill} before the kill, \
         {} answered 503",
        race.booked.len(),
        race.unavailable
    );
    // Every confirmed booking is there, each slot booked at most once.
    let pool = app.db().await;
    let ids: Vec<Uuid> = race.booked.iter().map(|(_, b)| *b).collect();
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM bookings WHERE id = ANY($1) AND status <> 'cancelled'",
    )
    .bind(&ids)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, ids.len() as i64);
    let slots_booked: HashSet<Uuid> = race.booked.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        slots_booked.len(),
        race.booked.len(),
        "a slot confirmed twice"
    );
    let doubles: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled' \
         GROUP BY slot_id HAVING count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(doubles, 0);

    // Holds and slates work again, on the promoted replica's slots too.
    let fresh = app.open_slots(experts[0]).await;
    let slot: Uuid = fresh
        .iter()
        .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
        .find(|s| !slots_booked.contains(s))
        .unwrap();
    let r = app.hold(&new_seeker(), slot).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let r = app.get(&new_seeker(), "/v1/slate").await;
    assert_eq!(r.status(), StatusCode::OK);
    let slate: Value = r.json().await.unwrap();
    assert!(!slate["experts"].as_array().unwrap().is_empty(), "{slate}");
    eprintln!(
        "failover race: {} booked ({before_kill} before the kill), {} answered 503",
        race.booked.len(),
        race.unavailable
    );
}
