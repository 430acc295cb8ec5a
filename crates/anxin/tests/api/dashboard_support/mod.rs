//! Helpers of the dashboard tests: the real application on a fresh database
//! and Redis prefix (as every API test), a small client for the seeker and
//! operator paths, the call rows the worker would write, and a WebDriver
//! client for headless Chromium.
pub mod browser;

use crate::helpers::{spawn_app_with, TestApp};
use anxin::config::Settings;
use anxin_api::auth::Role;
use chrono::{DateTime, Duration, Timelike, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

pub use crate::helpers::token;

/// The operator the dashboard tests sign in as (the audit log names them).
pub fn operator() -> String {
    token(Role::Operator, "ops-dashboard-test")
}

/// The API tests' app, with the dashboard tests' own helpers (below) and a
/// pool on its database.
pub struct App {
    pub app: TestApp,
    pub db: sqlx::PgPool,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// The app as the API tests start it, but with the service's own defaults
/// for what those tests relax (the cutoff, the per-IP hold limit, the
/// priority share): the dashboard's figures are those of a default setup.
impl App {
    pub async fn with_service_defaults(tweak: impl FnOnce(&mut Settings)) -> App {
        let defaults = Settings::default();
        let app = spawn_app_with(|s| {
            s.http_workers = 1;
            s.booking_cutoff_minutes = defaults.booking_cutoff_minutes;
            s.holds_per_minute_per_ip = defaults.holds_per_minute_per_ip;
            s.priority_share = defaults.priority_share;
            tweak(s);
        })
        .await;
        let db = app.db().await;
        App { app, db }
    }
}

/// A seeker: their token, and the subject and phone the canary looks for.
#[derive(Clone)]
pub struct Seeker {
    pub token: String,
    pub subject: String,
    pub phone: String,
    pub id: Uuid,
}

/// One expert's slot on a slate.
#[derive(Debug, Clone)]
pub struct Slot {
    pub slot_id: Uuid,
    pub starts_at: DateTime<Utc>,
}

/// Today's (local) minute of day in a timezone where a one-hour range that
/// started five minutes ago fits in the day, and that timezone; UTC and
/// Shanghai are eight hours apart, so one of them always works.
pub fn running_range_timezone(now: DateTime<Utc>) -> (&'static str, u32) {
    let utc = now.hour() * 60 + now.minute();
    if (5..=1380).contains(&utc) {
        ("UTC", utc)
    } else {
        ("Asia/Shanghai", (utc + 8 * 60) % 1440)
    }
}

fn hhmm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// One 60-minute slot a day that started five minutes ago, so every expert
/// has a call running now (its attempts can be in the past) and one slot a
/// day after.
pub fn daily_hour_started_five_minutes_ago(now: DateTime<Utc>) -> Value {
    let (tz, minute) = running_range_timezone(now);
    let start = minute - 5;
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    json!({
        "timezone": tz,
        "slot_minutes": 60,
        "weekly": days.iter().map(|d| json!({"weekday": d, "start": hhmm(start), "end": hhmm(start + 60)})).collect::<Vec<_>>(),
        "overrides": [],
    })
}

pub fn expert_profile(name: &str, region: &str, languages: &[&str]) -> Value {
    json!({
        "display_name": name,
        "phone": "+8613700001111",
        "timezone": "Asia/Shanghai",
        "languages": languages,
        "specialties": ["anxiety", "grief"],
        "region": region,
        "bio": "Dashboard test expert",
    })
}

impl App {
    /// An approved expert with the given availability.
    pub async fn expert(
        &self,
        name: &str,
        region: &str,
        languages: &[&str],
        availability: &Value,
    ) -> Uuid {
        let r = self
            .post(
                &operator(),
                "/v1/experts",
                &expert_profile(name, region, languages),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = uuid_of(&r.json::<Value>().await.unwrap()["id"]);
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

    /// An expert application (status `applied`), as anyone with a token may file.
    pub async fn applicant(&self, name: &str, region: &str) -> Uuid {
        let r = self
            .post(
                &token(Role::Seeker, &format!("applicant-{}", Uuid::new_v4())),
                "/v1/expert-applications",
                &expert_profile(name, region, &["zh"]),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        uuid_of(&r.json::<Value>().await.unwrap()["id"])
    }

    /// A seeker with a canary subject and phone, a priority group and region.
    pub async fn seeker(&self, n: usize, group: &str, region: Option<&str>) -> Seeker {
        let subject = format!("canary-subject-{}", Uuid::new_v4().simple());
        let token = token(Role::Seeker, &subject);
        let mut body = json!({"priority_group": group});
        if let Some(r) = region {
            body["region"] = json!(r);
        }
        let r = self.put(&token, "/v1/seekers/me", &body).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        let hash = self.state.subjects.hash(&subject);
        let id: Uuid = sqlx::query_scalar("SELECT id FROM seekers WHERE subject_hash = $1")
            .bind(hash)
            .fetch_one(&self.db)
            .await
            .unwrap();
        Seeker {
            token,
            subject,
            // Distinct valid mainland mobile numbers: +86 139 5xxx xxxx.
            phone: format!("+861395{:07}", 1_234_000 + n),
            id,
        }
    }

    /// `GET /v1/slate`: the experts shown and their slots.
    pub async fn slate(&self, seeker: &Seeker, query: &str) -> Vec<(Uuid, Vec<Slot>)> {
        let r = self.get(&seeker.token, &format!("/v1/slate{query}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        let body: Value = r.json().await.unwrap();
        body["experts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let expert_id = uuid_of(&e["expert_id"]);
                let slots = e["next_slots"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| Slot {
                        slot_id: uuid_of(&s["slot_id"]),
                        starts_at: s["starts_at"].as_str().unwrap().parse().unwrap(),
                    })
                    .collect();
                (expert_id, slots)
            })
            .collect()
    }

    // A dashboard seeker through the API tests' own hold and booking steps.
    pub async fn hold(&self, seeker: &Seeker, slot: Uuid) -> reqwest::Response {
        self.app.hold(&seeker.token, slot).await
    }

    pub async fn hold_ok(&self, seeker: &Seeker, slot: Uuid) -> Uuid {
        self.app.held(&seeker.token, slot).await.parse().unwrap()
    }

    pub async fn confirm(&self, seeker: &Seeker, hold: Uuid) -> reqwest::Response {
        self.app
            .confirm(&seeker.token, &hold.to_string(), &seeker.phone)
            .await
    }

    /// Hold and confirm; the booking id.
    pub async fn book(&self, seeker: &Seeker, slot: Uuid) -> Uuid {
        self.app.book(&seeker.token, slot, &seeker.phone).await
    }

    /// The summary, computed now (not served from the few-seconds cache).
    pub async fn summary(&self, window: &str) -> Value {
        let r = self
            .client
            .get(self.url(&format!("/v1/ops/summary?window={window}")))
            .bearer_auth(operator())
            .header("cache-control", "no-cache")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Writes a call's attempts as the worker does (begin, answered,
    /// bridged, conclude), then finishes its task with the last outcome.
    /// Offsets are seconds from the slot's start.
    pub async fn call(&self, booking: Uuid, attempts: &[Attempt]) {
        let (task, starts_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
            "SELECT t.id, b.starts_at FROM call_tasks t JOIN bookings b ON b.id = t.booking_id
              WHERE t.booking_id = $1",
        )
        .bind(booking)
        .fetch_one(&self.db)
        .await
        .unwrap();
        let at = |s: i64| starts_at + Duration::seconds(s);
        for (i, a) in attempts.iter().enumerate() {
            let n = i as i32 + 1;
            sqlx::query(
                "UPDATE call_tasks SET state = 'leased', fence = fence + 1, attempts = $2,
                        call_state = 'dialing_expert', outcome = NULL WHERE id = $1",
            )
            .bind(task)
            .bind(n)
            .execute(&self.db)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO call_attempts (task_id, attempt, fence, started_at, simulated)
                 SELECT id, $2, fence, $3, true FROM call_tasks WHERE id = $1",
            )
            .bind(task)
            .bind(n)
            .bind(at(a.started))
            .execute(&self.db)
            .await
            .unwrap();
            if let Some(s) = a.expert_answered {
                sqlx::query("UPDATE call_attempts SET expert_answered_at = $3 WHERE task_id = $1 AND attempt = $2")
                    .bind(task)
                    .bind(n)
                    .bind(at(s))
                    .execute(&self.db)
                    .await
                    .unwrap();
            }
            if let Some(s) = a.bridged {
                sqlx::query(
                    "UPDATE call_attempts SET bridged_at = $3 WHERE task_id = $1 AND attempt = $2",
                )
                .bind(task)
                .bind(n)
                .bind(at(s))
                .execute(&self.db)
                .await
                .unwrap();
                sqlx::query("UPDATE call_tasks SET call_state = 'bridged' WHERE id = $1")
                    .bind(task)
                    .execute(&self.db)
                    .await
                    .unwrap();
            }
            let Some((ended, outcome)) = a.ended else {
                // Still going: the call shows where it stands.
                return;
            };
            sqlx::query(
                "UPDATE call_attempts SET ended_at = $3, outcome = $4,
                        talk_seconds = CASE WHEN bridged_at IS NULL THEN 0
                                            ELSE EXTRACT(EPOCH FROM $3 - bridged_at)::int END
                  WHERE task_id = $1 AND attempt = $2",
            )
            .bind(task)
            .bind(n)
            .bind(at(ended))
            .bind(outcome)
            .execute(&self.db)
            .await
            .unwrap();
            let last = i + 1 == attempts.len();
            if last {
                sqlx::query(
                    "UPDATE call_tasks SET state = 'done', call_state = 'ended', outcome = $2 WHERE id = $1",
                )
                .bind(task)
                .bind(outcome)
                .execute(&self.db)
                .await
                .unwrap();
                if outcome == "completed" {
                    sqlx::query("UPDATE bookings SET status = 'completed' WHERE id = $1")
                        .bind(booking)
                        .execute(&self.db)
                        .await
                        .unwrap();
                }
            } else {
                sqlx::query(
                    "UPDATE call_tasks SET state = 'pending', call_state = 'retry_waiting', outcome = $2 WHERE id = $1",
                )
                .bind(task)
                .bind(outcome)
                .execute(&self.db)
                .await
                .unwrap();
            }
        }
    }

    pub async fn stop(&self) {
        self.server.stop(true).await;
    }
}

/// One call attempt, in seconds after the slot's start.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub started: i64,
    pub expert_answered: Option<i64>,
    pub bridged: Option<i64>,
    pub ended: Option<(i64, &'static str)>,
}

pub fn uuid_of(v: &Value) -> Uuid {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .parse()
        .unwrap()
}

/// The Gini coefficient of bookings or exposures per expert, as the domain
/// defines it (its own tests check it against the textbook definition).
pub fn gini(x: &[i64]) -> Option<f64> {
    anxin_domain::stats::gini(&anxin_domain::stats::amounts(x))
}

/// Asserts a JSON number equals `expected` (to rounding), or is null.
pub fn assert_close(actual: &Value, expected: Option<f64>, what: &str) {
    match expected {
        None => assert!(actual.is_null(), "{what}: expected null, got {actual}"),
        Some(e) => {
            let a = actual
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: expected {e}, got {actual}"));
            assert!((a - e).abs() < 1e-9, "{what}: expected {e}, got {a}");
        }
    }
}

/// Where tests leave files for people to look at (screenshots).
pub fn artifacts_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../out/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
