//! The authorization matrix: every operation the served OpenAPI document
//! says takes a credential, called by each kind of caller on organisation
//! A's side (A's expert, booking, referral, debrief, organisation, region,
//! place to refer to), answered as the contract's "who" column says.
//!
//! An operation missing from `EXPECTED` fails the test, so a new route is
//! weighed here before it ships: add its one row. Last, with A suspended,
//! A's administrator is refused everything they were allowed but reading
//! what anyone with a token reads.
use crate::helpers::*;
use crate::organisations::{
    application, applied, approved, created, member, org_admin, place, placed, refer, volunteer,
    PHONE,
};
use crate::payments::{pay, start_payment};
use crate::supervision::{join, supervisor_of};
use anxin_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The callers, the columns of `EXPECTED`.
const WHO: [&str; 8] = [
    "seeker",     // owns A's booking, hold and payment
    "seeker B",   // another seeker, owning nothing of A's
    "expert",     // A's expert, whose booking it is
    "supervisor", // an expert of A flagged supervisor, supervising A's expert
    "admin A",    // an administrator of organisation A (Hubei)
    "admin B",    // an administrator of organisation B (Beijing)
    "north op",   // an operator of the north area (Hubei is central)
    "national",   // a national operator
];

/// Reaches the handler: 2xx, or 400/409/422 past authorization.
const Y: bool = true;
/// Refused: 401, 403 or 404 (and 409 `hold_expired`, see `reached`).
const N: bool = false;

/// Who may do what to A's side, columns as `WHO`. A list (summary, board,
/// referral queue, debriefs) is allowed where the caller gets its own
/// share of it; what the share holds is tested where the feature is.
#[rustfmt::skip]
const EXPECTED: &[(&str, [bool; 8])] = &[
    // operation                                    seeker, seeker B, expert, supervisor,
    //                                                admin A, admin B, north op, national
    ("POST /v1/experts",                            [N, N, N, N, N, N, N, Y]), // a Hubei expert: not the north's
    // Anyone with a token but an org admin, who vets and does not apply.
    ("POST /v1/expert-applications",                [Y, Y, Y, Y, N, N, Y, Y]),
    ("POST /v1/experts/{id}/approve",               [N, N, N, N, Y, N, N, Y]),
    ("POST /v1/experts/{id}/suspend",               [N, N, N, N, Y, N, N, Y]),
    ("POST /v1/experts/{id}/sign-in-links",         [N, N, N, N, Y, N, N, Y]),
    ("GET /v1/experts/{id}/availability",           [N, N, Y, N, N, N, N, Y]),
    ("PUT /v1/experts/{id}/availability",           [N, N, Y, N, N, N, N, Y]),
    // Anyone with a token but an org admin (least privilege: not theirs to book).
    ("GET /v1/experts/{id}/slots",                  [Y, Y, Y, Y, N, N, Y, Y]),
    ("GET /v1/experts/me",                          [N, N, Y, Y, N, N, N, N]),
    ("GET /v1/experts/me/bookings",                 [N, N, Y, Y, N, N, N, N]),
    ("GET /v1/slate",                               [Y, Y, N, N, N, N, N, N]),
    ("PUT /v1/seekers/me",                          [Y, Y, N, N, N, N, N, N]),
    ("DELETE /v1/seekers/me",                       [Y, Y, N, N, N, N, N, N]),
    ("GET /v1/seekers/me/bookings",                 [Y, Y, N, N, N, N, N, N]),
    ("POST /v1/holds",                              [Y, Y, N, N, N, N, N, N]),
    ("POST /v1/waitlist",                           [Y, Y, N, N, N, N, N, N]),
    ("GET /v1/waitlist/{id}",                       [Y, N, N, N, N, N, N, N]),
    ("DELETE /v1/waitlist/{id}",                    [Y, N, N, N, N, N, N, N]),
    ("GET /v1/help-now",                            [Y, Y, N, N, N, N, N, N]),
    // Seeker A is waiting already (409 `help_now_active`), B is queued.
    ("POST /v1/help-now",                           [Y, Y, N, N, N, N, N, N]),
    // An operator's reach is the seeker's region (A's seeker is in Hubei).
    ("GET /v1/help-now/{id}",                       [Y, N, N, N, N, N, N, Y]),
    ("DELETE /v1/help-now/{id}",                    [Y, N, N, N, N, N, N, N]),
    // A's seeker's help-now call, taken by A's expert (as for a booking).
    ("POST /v1/help-now/{id}/outcome",              [N, N, Y, N, N, N, N, Y]),
    ("GET /v1/experts/me/help-now",                 [N, N, Y, Y, N, N, N, N]),
    ("GET /v1/experts/me/duty",                     [N, N, Y, Y, N, N, N, N]),
    ("PUT /v1/experts/me/duty",                     [N, N, Y, Y, N, N, N, N]),
    ("DELETE /v1/holds/{id}",                       [Y, N, N, N, N, N, N, N]),
    ("POST /v1/holds/{id}/payment",                 [Y, N, N, N, N, N, N, N]),
    ("POST /v1/bookings",                           [Y, N, N, N, N, N, N, N]), // the seeker's hold
    ("GET /v1/bookings/{id}",                       [Y, N, Y, N, N, N, N, Y]),
    ("POST /v1/bookings/{id}/cancel",               [Y, N, Y, N, N, N, N, Y]), // a fresh one each
    ("POST /v1/bookings/{id}/outcome",              [N, N, Y, N, N, N, N, Y]),
    // The seeker's payment for a Hubei expert's slot.
    ("GET /v1/payments/{id}",                       [Y, N, N, N, N, N, N, Y]),
    ("GET /v1/ops/summary",                         [N, N, N, N, N, N, Y, Y]),
    ("GET /v1/ops/board",                           [N, N, N, N, N, N, Y, Y]),
    ("GET /v1/ops/referrals",                       [N, N, N, N, Y, Y, Y, Y]),
    ("POST /v1/ops/referrals/{id}/resolve",         [N, N, N, N, N, N, N, Y]),
    ("POST /v1/ops/referrals/{id}/callback",        [N, N, N, N, N, N, N, Y]),
    ("POST /ops/experts/{id}/approve",              [N, N, N, N, N, N, N, Y]),
    ("POST /ops/experts/{id}/suspend",              [N, N, N, N, N, N, N, Y]),
    // 200 to an area's operator, skipping the ids outside its area.
    ("POST /ops/experts/decline",                   [N, N, N, N, N, N, Y, Y]),
    ("PUT /v1/regions/{code}",                      [N, N, N, N, N, N, N, Y]),
    ("POST /v1/organisations/{id}/approve",         [N, N, N, N, N, N, N, Y]),
    ("POST /v1/organisations/{id}/reject",          [N, N, N, N, N, N, N, Y]),
    ("POST /v1/organisations/{id}/suspend",         [N, N, N, N, N, N, N, Y]),
    ("POST /v1/organisations/{id}/admins",          [N, N, N, N, N, N, N, Y]),
    ("GET /v1/organisations/{id}/experts",          [N, N, N, N, Y, N, N, Y]),
    ("GET /v1/organisations/{id}/summary",          [N, N, N, N, Y, N, N, Y]),
    ("GET /v1/resources",                           [Y, Y, Y, Y, Y, Y, Y, Y]),
    ("POST /v1/resources",                          [N, N, N, N, Y, N, N, Y]), // a Hubei place
    ("PUT /v1/resources/{id}",                      [N, N, N, N, Y, N, N, Y]),
    ("DELETE /v1/resources/{id}",                   [N, N, N, N, Y, N, N, Y]),
    ("POST /v1/training/modules",                   [N, N, N, N, N, N, N, Y]), // defined nationally
    ("GET /v1/training/modules",                    [Y, Y, Y, Y, Y, Y, Y, Y]),
    ("GET /v1/experts/{id}/training",               [N, N, Y, Y, Y, N, N, Y]),
    ("POST /v1/experts/{id}/training/{module_id}",  [N, N, Y, Y, Y, N, N, Y]), // a self-attested module
    // Like the supervisor it names: its org admin, operator.
    ("PUT /v1/experts/{id}/flags",                  [N, N, N, N, Y, N, N, Y]),
    ("PUT /v1/experts/{id}/supervisor",             [N, N, N, N, Y, N, N, Y]),
    // An expert without the flag lists their own (the portal says one is arranged).
    ("GET /v1/supervision/debriefs",                [N, N, Y, Y, Y, Y, Y, Y]),
    ("POST /v1/supervision/debriefs/{id}/done",     [N, N, N, Y, N, N, N, Y]),
    // The pages, for the role each is for (without a credential, how to sign in).
    ("GET /ops",                                    [N, N, N, N, N, N, Y, Y]),
    ("GET /org",                                    [N, N, N, N, Y, Y, N, N]),
    ("GET /expert",                                 [N, N, Y, Y, N, N, N, N]),
    // An expert without the flag gets a page saying so, and nothing else.
    ("GET /supervise",                              [N, N, Y, Y, N, N, N, N]),
    // A session's, not a token's: 401 to every bearer (sign_in.rs ends sessions).
    ("POST /v1/sessions/end",                       [N, N, N, N, N, N, N, N]),
];

/// Operations that change what later cells stand on run after all the
/// others, in this order.
const RUN_LAST: [&str; 4] = [
    "DELETE /v1/seekers/me",
    "POST /v1/experts/{id}/suspend",
    "POST /ops/experts/{id}/suspend",
    "POST /v1/organisations/{id}/suspend",
];

/// What an administrator may still do once their organisation is
/// suspended: read what anyone with a token reads.
const ANYONE_MAY_READ: [&str; 2] = ["GET /v1/resources", "GET /v1/training/modules"];

/// What a supervisor does as their experts' supervisor: refused once
/// their flag is taken.
const AS_SUPERVISOR: [&str; 3] = [
    "GET /v1/experts/{id}/training",
    "POST /v1/experts/{id}/training/{module_id}",
    "POST /v1/supervision/debriefs/{id}/done",
];

/// A's side, and the callers.
struct World {
    callers: [String; 8],
    /// The A-side id for a path parameter, by the path segment before it.
    ids: HashMap<&'static str, String>,
    applicant: String,
    other_applicant: String,
    supervisor: String,
    availability: Value,
    /// The seeker's hold now (a seeker holds one at a time), and the slots
    /// fresh holds take.
    hold: Option<String>,
    free_slots: Vec<uuid::Uuid>,
    /// A's expert's slots to come, for fresh bookings.
    expert_slots: Vec<uuid::Uuid>,
    /// Whether calls that use something up get a fresh one (else A's own).
    fresh: bool,
    /// The seeker's latest fresh waitlist entry (a seeker may have three).
    entry: Option<String>,
}

/// An expert's session under way, booked by `seeker` and referred on as an
/// emergency (which opens a debrief); the booking and referral.
async fn referred(app: &TestApp, expert: uuid::Uuid, seeker: &str) -> (uuid::Uuid, String) {
    let slot = app.open_slot_ids(expert, 0..1).await[0];
    let hold = app.held(seeker, slot).await;
    paid_for(app, seeker, &hold).await;
    let r = app.confirm(seeker, &hold, PHONE).await;
    let booking = created_as(r, "booking_id").await.parse().unwrap();
    (booking, refer(app, expert, booking, "emergency").await)
}

/// The debrief the booking's referral opened.
async fn debrief_of(app: &TestApp, booking: uuid::Uuid) -> String {
    let debriefs = app.get_json(&operator(), "/v1/supervision/debriefs").await;
    debriefs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["booking_id"] == booking.to_string())
        .expect("the emergency referral opened a debrief")["debrief_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An expert of `org` supervised by `supervisor`.
async fn supervised(app: &TestApp, name: &str, org: &str, supervisor: &str) -> uuid::Uuid {
    let expert = member(app, name, org).await;
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{expert}/supervisor"),
            &json!({ "supervisor_id": supervisor }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expert
}

/// The seeker pays the hold's fee on the simulated page; the payment.
async fn paid_for(app: &TestApp, seeker: &str, hold: &str) -> String {
    let payment = created_as(start_payment(app, seeker, hold).await, "payment_id").await;
    pay(app, &payment).await;
    payment
}

async fn world(app: &TestApp) -> World {
    let north = area_operator(app, "Matrix North", anxin_domain::region::Area::North).await;
    let org_a = approved(app, "机构甲", "hubei").await;
    let org_b = approved(app, "机构乙", "beijing").await;
    let admin_a = org_admin(app, &org_a, "Matrix Admin A").await;
    let admin_b = org_admin(app, &org_b, "Matrix Admin B").await;
    let supervisor = supervisor_of(app, &org_a).await.to_string();
    let expert = supervised(app, "甲的专家", &org_a, &supervisor).await;
    let expert_b = member(app, "乙的专家", &org_b).await;
    let seeker = token(Role::Seeker, &format!("matrix-{}", uuid::Uuid::new_v4()));
    let r = app
        .put(&seeker, "/v1/seekers/me", &json!({"region": "hubei"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (booking, referral) = referred(app, expert, &seeker).await;
    referred(app, expert_b, &new_seeker()).await;
    let debrief = debrief_of(app, booking).await;
    let r = app
        .post(
            &operator(),
            "/v1/training/modules",
            &json!({"title": "倾听", "required": false, "self_attest": true}),
        )
        .await;
    let module = created(r).await;
    let resource = placed(app, "武汉精神卫生中心", "hubei").await;
    let applicant = volunteer(app, "甲的申请人", Some(&org_a)).await;
    let other_applicant = volunteer(app, "甲的另一申请人", Some(&org_a)).await;
    // Holds and the payment take slots of another of A's experts, open all
    // week in half hours: never where a booking an expert cancels is moved
    // to (the same start and length as A's expert's hours).
    let open = app.expert_with(&all_week(30)).await;
    join(app, open, &org_a).await;
    let free_slots = app.open_slot_ids(open, 0..80).await;
    let expert_slots = app.open_slot_ids(expert, 0..WHO.len()).await;
    let availability = app
        .get_json(&operator(), &format!("/v1/experts/{expert}/availability"))
        .await;
    let mut w = World {
        callers: [
            seeker,
            new_seeker(),
            token(Role::Expert, &expert.to_string()),
            token(Role::Expert, &supervisor),
            admin_a,
            admin_b,
            north,
            operator(),
        ],
        ids: HashMap::from([
            ("experts", expert.to_string()),
            ("bookings", booking.to_string()),
            ("organisations", org_a),
            ("referrals", referral),
            ("debriefs", debrief),
            ("resources", resource),
            ("training", module),
            ("regions", "CN-HB".to_string()),
        ]),
        applicant: applicant.to_string(),
        other_applicant: other_applicant.to_string(),
        supervisor,
        availability,
        hold: None,
        free_slots,
        expert_slots,
        fresh: true,
        entry: None,
    };
    let hold = w.fresh_hold(app).await;
    let payment = paid_for(app, &w.callers[0], &hold).await;
    w.ids.insert("payments", payment);
    let entry = w.waitlist_entry(app).await;
    w.entry = None;
    w.ids.insert("waitlist", entry);
    // A's expert on duty, and the seeker waiting to talk now (no worker
    // runs here, so they stay queued).
    let duty = json!({"on_duty": true});
    let r = app.put(&w.callers[2], "/v1/experts/me/duty", &duty).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = app
        .post(&w.callers[0], "/v1/help-now", &json!({"phone": PHONE}))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    let request = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A's expert took it and they talked (no worker runs: written as the
    // worker would have left it).
    sqlx::query(
        "UPDATE help_now_requests SET status = 'completed', expert_id = $2,
                connected_at = now() - interval '20 minutes', ended_at = now()
          WHERE id = $1::uuid",
    )
    .bind(&request)
    .bind(uuid::Uuid::parse_str(&w.ids["experts"]).unwrap())
    .execute(&app.db().await)
    .await
    .unwrap();
    w.ids.insert("help-now", request);
    w
}

impl World {
    /// A waitlist entry of the seeker's that nothing will meet (A's expert
    /// in Cantonese, which they don't speak), so no offer takes a hold.
    fn wish(&self) -> Value {
        json!({"expert_id": self.ids["experts"], "language": "yue"})
    }

    /// A new entry of the seeker's (their last fresh one left).
    async fn waitlist_entry(&mut self, app: &TestApp) -> String {
        if let Some(old) = self.entry.take() {
            app.delete(&self.callers[0], &format!("/v1/waitlist/{old}"))
                .await;
        }
        let r = app
            .post(&self.callers[0], "/v1/waitlist", &self.wish())
            .await;
        let entry = created_as(r, "waitlist_id").await;
        self.entry = Some(entry.clone());
        entry
    }

    /// A new hold of the seeker's (their last one let go).
    async fn fresh_hold(&mut self, app: &TestApp) -> String {
        let slot = self.free_slots.pop().expect("enough open slots");
        self.hold_of(app, slot).await
    }

    async fn hold_of(&mut self, app: &TestApp, slot: uuid::Uuid) -> String {
        if let Some(old) = self.hold.take() {
            app.delete(&self.callers[0], &format!("/v1/holds/{old}"))
                .await;
        }
        let hold = app.held(&self.callers[0], slot).await;
        self.hold = Some(hold.clone());
        hold
    }

    /// A new booking of the seeker's with A's expert, paid, to come.
    async fn fresh_booking(&mut self, app: &TestApp) -> String {
        let slot = self.expert_slots.pop().expect("enough open slots");
        let hold = self.hold_of(app, slot).await;
        paid_for(app, &self.callers[0], &hold).await;
        let r = app.confirm(&self.callers[0], &hold, PHONE).await;
        self.hold = None;
        created_as(r, "booking_id").await
    }

    /// The path and body of `op` as it is called about A's side; fresh
    /// entities where a call uses one up.
    async fn request(
        &mut self,
        app: &TestApp,
        op: &crate::openapi::Operation<'_>,
    ) -> Result<(String, Option<Value>), String> {
        let name = op.name();
        let fresh = match name.as_str() {
            _ if !self.fresh => None,
            "DELETE /v1/resources/{id}" => Some(placed(app, "新的中心", "hubei").await),
            "DELETE /v1/holds/{id}" | "POST /v1/holds/{id}/payment" => {
                Some(self.fresh_hold(app).await)
            }
            // Paid, so the seeker's booking is made (201).
            "POST /v1/bookings" => {
                let hold = self.fresh_hold(app).await;
                paid_for(app, &self.callers[0], &hold).await;
                Some(hold)
            }
            "POST /v1/bookings/{id}/cancel" => Some(self.fresh_booking(app).await),
            "DELETE /v1/waitlist/{id}" => Some(self.waitlist_entry(app).await),
            // Another session of A's, supervised by the same supervisor.
            "POST /v1/supervision/debriefs/{id}/done" => {
                let org = &self.ids["organisations"];
                let expert = supervised(app, "甲的又一专家", org, &self.supervisor).await;
                let (booking, _) = referred(app, expert, &new_seeker()).await;
                Some(debrief_of(app, booking).await)
            }
            // An application in Hubei, so vetting it is not a conflict.
            "POST /v1/organisations/{id}/approve" | "POST /v1/organisations/{id}/reject" => {
                Some(applied(app, &application("湖北的新机构", "hubei")).await)
            }
            // The seeker holds one already (409 `hold_limit` past
            // authorization), so no hold is left untracked.
            "POST /v1/holds" => {
                self.fresh_hold(app).await;
                None
            }
            "POST /v1/experts/{id}/approve" | "POST /ops/experts/{id}/approve" => {
                Some(self.applicant.clone())
            }
            _ => None,
        };
        let mut unknown = Vec::new();
        let path = op.path_with(|before, param| {
            if let Some(id) = &fresh {
                return id.clone();
            }
            match self.ids.get(before) {
                Some(id) => id.clone(),
                None => {
                    unknown.push(format!("{{{param}}} after {before:?}"));
                    String::new()
                }
            }
        });
        if !unknown.is_empty() {
            return Err(format!(
                "no A-side id for {} in {name}: add one to World::ids",
                unknown.join(", ")
            ));
        }
        if !op.takes_body() {
            return Ok((path, None));
        }
        let body = match name.as_str() {
            "POST /v1/experts" => expert_profile("湖北的新专家"),
            "POST /v1/expert-applications" => {
                let mut body = expert_profile("新的申请人");
                body["organisation_id"] = json!(self.ids["organisations"]);
                body
            }
            "PUT /v1/experts/{id}/availability" => self.availability.clone(),
            "POST /v1/bookings/{id}/outcome" => {
                json!({"outcome": "completed", "follow_up": "none"})
            }
            "POST /v1/ops/referrals/{id}/resolve" => json!({"resolution": "contacted"}),
            "POST /v1/ops/referrals/{id}/callback" => json!({"operator_phone": "+8613800000000"}),
            "POST /v1/organisations/{id}/reject" => json!({"reason": "不合格"}),
            "POST /v1/organisations/{id}/admins" => {
                json!({"name": format!("admin-{}", uuid::Uuid::new_v4().simple())})
            }
            "POST /ops/experts/decline" => json!({"ids": [self.other_applicant]}),
            "POST /v1/resources" | "PUT /v1/resources/{id}" => place("湖北的中心", "hubei"),
            "PUT /v1/regions/{code}" => json!({"open": true}),
            "POST /v1/training/modules" => {
                json!({"title": "新模块", "required": false, "self_attest": true})
            }
            "PUT /v1/experts/{id}/flags" => json!({"supervisor": false}),
            "PUT /v1/experts/{id}/supervisor" => json!({"supervisor_id": self.supervisor}),
            "POST /v1/supervision/debriefs/{id}/done" => json!({"note": "谈过了"}),
            "PUT /v1/seekers/me" => json!({"region": "hubei"}),
            "POST /v1/waitlist" => self.wish(),
            "POST /v1/help-now" => json!({"phone": PHONE}),
            "PUT /v1/experts/me/duty" => json!({"on_duty": true}),
            "POST /v1/help-now/{id}/outcome" => {
                json!({"outcome": "completed", "follow_up": "none"})
            }
            "POST /v1/holds" => json!({"slot_id": self.free_slots.pop()}),
            "POST /v1/bookings" => json!({"hold_id": fresh, "phone": PHONE}),
            // Authorization comes before the body for the rest.
            _ => json!({}),
        };
        Ok((path, Some(body)))
    }

    /// Calls `op` about A's side as `who`: the status and error code.
    async fn call(
        &mut self,
        app: &TestApp,
        op: &crate::openapi::Operation<'_>,
        who: &str,
    ) -> Result<(StatusCode, String), String> {
        let (path, body) = self.request(app, op).await?;
        let mut request = app
            .client
            .request(op.http_method(), app.url(&path))
            .bearer_auth(who);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let r = request.send().await.unwrap();
        let status = r.status();
        let error = r.json::<Value>().await.unwrap_or_default()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok((status, error))
    }
}

/// What disagreed with the matrix, as table rows, and what could not be
/// asked at all.
struct Answers {
    rows: Vec<[String; 4]>,
    problems: Vec<String>,
}

impl Default for Answers {
    fn default() -> Self {
        let head = ["operation", "caller", "expected", "answered"];
        Self {
            rows: vec![head.map(String::from)],
            problems: Vec::new(),
        }
    }
}

/// Whether caller `i`'s cell allows `op`.
fn allows(op: &crate::openapi::Operation<'_>, i: usize) -> bool {
    let name = op.name();
    EXPECTED.iter().any(|(n, e)| *n == name && e[i])
}

fn label(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "refused"
    }
}

impl Answers {
    /// Every caller's answer to `op`, against its row of `EXPECTED`.
    async fn weigh(&mut self, app: &TestApp, w: &mut World, op: &crate::openapi::Operation<'_>) {
        let name = op.name();
        let Some((_, expected)) = EXPECTED.iter().find(|(n, _)| *n == name) else {
            self.problems.push(format!(
                "{name} is not in the matrix: add its row to EXPECTED"
            ));
            return;
        };
        // The refused first, so no refusal is of something an allowed call
        // has used up; each call gets fresh entities where it uses one up.
        let mut order: Vec<usize> = (0..WHO.len()).collect();
        order.sort_by_key(|&i| expected[i]);
        for i in order {
            if !self.ask(app, w, op, i, WHO[i], expected[i]).await {
                break;
            }
        }
    }

    /// Whether `op` could be asked at all.
    async fn ask(
        &mut self,
        app: &TestApp,
        w: &mut World,
        op: &crate::openapi::Operation<'_>,
        i: usize,
        who: &str,
        allowed: bool,
    ) -> bool {
        let token = w.callers[i].clone();
        match w.call(app, op, &token).await {
            Ok((status, error)) => {
                if reached(status, &error) != Some(allowed) {
                    self.rows.push([
                        op.name(),
                        who.into(),
                        label(allowed).into(),
                        format!("{} {error}", status.as_u16()),
                    ]);
                }
                true
            }
            Err(e) => {
                self.problems.push(e);
                false
            }
        }
    }
}

/// Whether the answer reached the handler (`Some(Y)`), was refused
/// (`Some(N)`), or is neither (a server error, say). Another seeker's hold
/// is answered as one that is gone, 409 `hold_expired`: a refusal.
fn reached(status: StatusCode, error: &str) -> Option<bool> {
    match status.as_u16() {
        409 if error == "hold_expired" => Some(N),
        200..=299 | 400 | 409 | 422 => Some(Y),
        401 | 403 | 404 => Some(N),
        _ => None,
    }
}

#[tokio::test]
async fn every_operation_answers_each_caller_as_the_contract_says() {
    // The fee is on, so payments are there to ask about; the seeker takes
    // a fresh hold for each call that uses one up.
    let app = spawn_app_with(|s| {
        s.payment_provider = Some(anxin_domain::payment::ProviderName::Simulated);
        s.holds_per_minute_per_seeker = 1_000;
        s.max_active_bookings = 100;
        s.applications_per_hour_per_ip = 1_000;
        // A fresh booking with A's expert, a day apart, for each caller.
        s.horizon_days = 14;
    })
    .await;
    let mut w = world(&app).await;
    let doc = crate::openapi::document(&app).await;
    let mut ops: Vec<_> = crate::openapi::operations(&doc)
        .into_iter()
        .filter(|op| op.takes_credential())
        .collect();
    // The rest (`None`) in the document's order, then `RUN_LAST`'s.
    let last = |name: &str| RUN_LAST.iter().position(|l| *l == name);
    ops.sort_by_key(|op| last(&op.name()));

    let mut m = Answers::default();
    let (main, last): (Vec<_>, Vec<_>) = ops.iter().partition(|op| last(&op.name()).is_none());
    for op in &main {
        m.weigh(&app, &mut w, op).await;
    }
    // An operator takes the supervisor's flag: what they did as A's
    // expert's supervisor is refused them now; what any expert does is not.
    let r = app
        .put(
            &operator(),
            &format!("/v1/experts/{}/flags", w.supervisor),
            &json!({"supervisor": false}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    w.fresh = false;
    let supervisor = WHO.iter().position(|w| *w == "supervisor").unwrap();
    for op in main.iter().filter(|op| allows(op, supervisor)) {
        let allowed = !AS_SUPERVISOR.contains(&op.name().as_str());
        let who = "supervisor, unflagged";
        m.ask(&app, &mut w, op, supervisor, who, allowed).await;
    }
    w.fresh = true;
    for op in &last {
        m.weigh(&app, &mut w, op).await;
    }
    // Organisation A is suspended now (the last of `RUN_LAST`): its
    // administrator is refused all they were allowed but what anyone with a
    // token may read, as its experts are suspended with it.
    let admin_a = WHO.iter().position(|w| *w == "admin A").unwrap();
    for op in ops.iter().filter(|op| allows(op, admin_a)) {
        let allowed = ANYONE_MAY_READ.contains(&op.name().as_str());
        let who = "admin A, A suspended";
        m.ask(&app, &mut w, op, admin_a, who, allowed).await;
    }
    let Answers { mut problems, rows } = m;
    for (name, _) in EXPECTED {
        if !ops.iter().any(|op| op.name() == *name) {
            problems.push(format!("{name} is in the matrix but not in the document"));
        }
    }
    if rows.len() > 1 {
        let widths: Vec<usize> = (0..4)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap())
            .collect();
        let mut table = String::from("answers that disagree with the matrix:\n");
        for row in &rows {
            for (c, cell) in row.iter().enumerate() {
                table.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
            table.push('\n');
        }
        problems.push(table);
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
