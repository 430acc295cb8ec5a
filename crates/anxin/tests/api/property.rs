//! Random interleavings of hold / release / expire / confirm / cancel,
//! checked step by step against a simple model, and the invariants checked in
//! Postgres after every run: never two active bookings of one slot, never a
//! booking without a hold. Seeds are fixed, so a failure reproduces; the
//! failing seed and step are in the message.
use crate::helpers::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Debug)]
enum SlotModel {
    Free,
    Held(usize),
    Booked(Uuid),
}

struct Model {
    slots: Vec<SlotModel>,
    /// Per seeker: their live hold (id, slot index).
    holds: Vec<Option<(String, usize)>>,
    /// Holds that expired or were released, per seeker (can't be confirmed).
    dead: Vec<Vec<String>>,
    bookings: Vec<(Uuid, usize)>,
}

#[tokio::test]
async fn random_interleavings_never_double_book_nor_book_without_a_hold() {
    let app = spawn_app_with(|s| {
        s.max_active_bookings = 100;
        s.holds_per_minute_per_seeker = 100_000;
    })
    .await;
    let mut redis = app.redis().await;
    let mut granted: HashSet<String> = HashSet::new();
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let expert = app.expert_with(&all_week(60)).await;
        let slots: Vec<Uuid> = app.open_slots(expert).await[2..5]
            .iter()
            .map(|s| s["slot_id"].as_str().unwrap().parse().unwrap())
            .collect();
        let seekers: Vec<String> = (0..4).map(|_| new_seeker()).collect();
        let mut m = Model {
            slots: vec![SlotModel::Free; 3],
            holds: vec![None; 4],
            dead: vec![Vec::new(); 4],
            bookings: Vec::new(),
        };
        for step in 0..40 {
            let who = rng.gen_range(0..4);
            let ctx = format!("seed {seed} step {step}");
            match rng.gen_range(0..10) {
                0..=3 => {
                    let slot = rng.gen_range(0..3);
                    let r = app.hold(&seekers[who], slots[slot]).await;
                    let status = r.status();
                    let body: Value = r.json().await.unwrap();
                    if m.holds[who].is_some() {
                        assert_eq!(
                            (status, body["error"].as_str()),
                            (StatusCode::CONFLICT, Some("hold_limit")),
                            "{ctx}"
                        );
                    } else if m.slots[slot] == SlotModel::Free {
                        assert_eq!(status, StatusCode::CREATED, "{ctx}: {body}");
                        let id = body["hold_id"].as_str().unwrap().to_string();
                        granted.insert(id.clone());
                        m.holds[who] = Some((id, slot));
                        m.slots[slot] = SlotModel::Held(who);
                    } else {
                        assert_eq!(
                            (status, body["error"].as_str()),
                            (StatusCode::CONFLICT, Some("slot_unavailable")),
                            "{ctx}: {:?}",
                            m.slots[slot]
                        );
                    }
                }
                4 => {
                    if let Some((id, slot)) = m.holds[who].take() {
                        let r = app.delete(&seekers[who], &format!("/v1/holds/{id}")).await;
                        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{ctx}");
                        m.slots[slot] = SlotModel::Free;
                        m.dead[who].push(id);
                    }
                }
                5 => {
                    // Time passes for this hold: make it expire as the clock would.
                    if let Some((id, slot)) = m.holds[who].take() {
                        redis::cmd("ZADD")
                            .arg(app.expert_keys(expert).hold_expiry)
                            .arg(1)
                            .arg(slots[slot].to_string())
                            .query_async::<()>(&mut redis)
                            .await
                            .unwrap();
                        let (seeker_holds, member) = app.seeker_hold_entry(&id).await;
                        redis::cmd("ZADD")
                            .arg(seeker_holds)
                            .arg(1)
                            .arg(member)
                            .query_async::<()>(&mut redis)
                            .await
                            .unwrap();
                        m.slots[slot] = SlotModel::Free;
                        m.dead[who].push(id);
                    }
                }
                6..=8 => {
                    let live = m.holds[who].clone();
                    let dead = m.dead[who].last().cloned();
                    let (hold, expect_ok) = match (live, dead) {
                        (Some((id, _)), _) => (id, true),
                        (None, Some(id)) => (id, false),
                        (None, None) => (Uuid::new_v4().to_string(), false),
                    };
                    let r = app.confirm(&seekers[who], &hold, "+8613812345678").await;
                    if expect_ok {
                        assert_eq!(r.status(), StatusCode::CREATED, "{ctx}");
                        let booking: Uuid = r.json::<Value>().await.unwrap()["booking_id"]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        let (_, slot) = m.holds[who].take().unwrap();
                        m.slots[slot] = SlotModel::Booked(booking);
                        m.bookings.push((booking, slot));
                        m.dead[who].push(hold);
                    } else {
                        assert_eq!(r.status(), StatusCode::CONFLICT, "{ctx}");
                    }
                }
                _ => {
                    if !m.bookings.is_empty() {
                        let (booking, slot) = m.bookings.remove(rng.gen_range(0..m.bookings.len()));
                        let r = app
                            .post(
                                &operator(),
                                &format!("/v1/bookings/{booking}/cancel"),
                                &json!({}),
                            )
                            .await;
                        assert_eq!(r.status(), StatusCode::OK, "{ctx}");
                        m.slots[slot] = SlotModel::Free;
                    }
                }
            }
        }
        let db = app.db().await;
        let doubled = app.double_bookings().await;
        assert_eq!(doubled, 0, "seed {seed}");
        let active: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bookings WHERE status = 'confirmed' AND expert_id = $1",
        )
        .bind(expert)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(active as usize, m.bookings.len(), "seed {seed}");
    }
    let holds: Vec<Uuid> = sqlx::query_scalar("SELECT hold_id FROM bookings")
        .fetch_all(&app.db().await)
        .await
        .unwrap();
    for h in holds {
        assert!(
            granted.contains(&h.to_string()),
            "booking with hold {h} that was never granted"
        );
    }
}
