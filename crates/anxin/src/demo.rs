//! Demo data: about 200 approved experts with varied, realistic availability,
//! languages and specialties — the shape of the original hotline. Ids come
//! from a fixed seed, so seeding again finds the same experts and adds none.
use anxin_core::flows;
use anxin_core::state::AppState;
use anxin_domain::availability::{AvailabilityInput, Weekday, WeeklyInput};
use anxin_domain::expert::{ExpertInput, ExpertStatus};
use anxin_domain::ids::ExpertId;
use anxin_domain::organisation::OrganisationKind;
use anxin_domain::resource::{ResourceInput, ResourceKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

pub const DEMO_EXPERTS: usize = 200;

const SURNAMES: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma",
    "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao",
];
const GIVEN: &[&str] = &[
    "Wei", "Fang", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yan", "Hui", "Xin", "Ping", "Hong",
    "Ying", "Tao", "Ning", "Lan", "Yu", "Chen", "Bo",
];
/// Region codes (the `regions` table): Hubei, where the hotline began,
/// thrice as often as the others.
const REGIONS: &[&str] = &[
    "CN-HB", "CN-HB", "CN-HB", "CN-BJ", "CN-SH", "CN-GD", "CN-ZJ", "CN-SC", "CN-HN", "CN-HA",
];

fn demo_id(rng: &mut StdRng) -> ExpertId {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    ExpertId(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// One demo expert: profile and availability.
pub fn expert(i: usize, rng: &mut StdRng) -> (ExpertId, ExpertInput, AvailabilityInput) {
    let id = demo_id(rng);
    let mut languages = vec!["zh".to_string()];
    if rng.gen_bool(0.3) {
        languages.push("en".into());
    }
    if rng.gen_bool(0.1) {
        languages.push("yue".into());
    }
    let mut specialties: Vec<String> = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let topics = anxin_domain::vocabulary::TOPICS;
        let s = topics[rng.gen_range(0..topics.len())].code.to_string();
        if !specialties.contains(&s) {
            specialties.push(s);
        }
    }
    let profile = ExpertInput {
        display_name: format!(
            "{} {} ({})",
            SURNAMES[i % SURNAMES.len()],
            GIVEN[(i / SURNAMES.len() + i) % GIVEN.len()],
            i + 1
        ),
        phone: format!("+86139{:08}", rng.gen_range(0..100_000_000u32)),
        timezone: "Asia/Shanghai".into(),
        languages,
        specialties,
        region: REGIONS[rng.gen_range(0..REGIONS.len())].into(),
        bio: Some("Volunteer counsellor with the psychological-aid hotline.".into()),
        organisation_id: None,
    };
    // Volunteers give what they can: some an evening or two, some most days;
    // mornings, afternoons or evenings.
    let days = rng.gen_range(2..=6);
    let slot_minutes = if rng.gen_bool(0.6) { 60 } else { 30 };
    let (start, len) = match rng.gen_range(0..4) {
        0 => (9, rng.gen_range(2..=3)),
        1 => (14, rng.gen_range(2..=4)),
        2 => (19, rng.gen_range(2..=3)),
        _ => (rng.gen_range(8..=18), rng.gen_range(1..=4)),
    };
    let offset = rng.gen_range(0..7);
    let weekly = (0..days)
        .map(|d| WeeklyInput {
            weekday: Weekday::ALL[(offset + d) % 7],
            start: format!("{start:02}:00"),
            end: format!("{:02}:00", (start + len).min(24)),
        })
        .collect();
    let availability = AvailabilityInput {
        timezone: "Asia/Shanghai".into(),
        slot_minutes,
        weekly,
        overrides: vec![],
        max_sessions_per_day: None,
        max_sessions_per_week: None,
    };
    (id, profile, availability)
}

pub struct Seeded {
    pub created: usize,
    pub total: usize,
    pub open_slots: usize,
}

/// Creates the demo experts that are missing and (re)applies every demo
/// expert's availability; running it twice leaves one set.
/// Demo volunteers on duty for help now (until switched off on `/expert`).
const DEMO_ON_DUTY: usize = 5;

pub async fn seed(state: &AppState) -> anyhow::Result<Seeded> {
    let mut rng = StdRng::seed_from_u64(2020);
    let now = chrono::Utc::now();
    let mut created = 0;
    let mut open_slots = 0;
    for i in 0..DEMO_EXPERTS {
        let (id, input, availability) = expert(i, &mut rng);
        // A few new volunteers go on duty, so "talk to someone now" is
        // offered (each switches off on `/expert`).
        let on_duty = i < DEMO_ON_DUTY;
        let profile = input.validate(&state.config.phone_country_code)?;
        let sealed = state.cipher.seal(&profile.phone);
        let new = anxin_store::experts::insert(
            &state.pool,
            id,
            &profile,
            &sealed,
            ExpertStatus::Approved,
            true,
        )
        .await?;
        if new {
            created += 1;
        }
        let applied = flows::availability::apply(state, id, &availability.validate()?, now, None)
            .await
            .map_err(|e| anyhow::anyhow!("availability of demo expert {id}: {e}"))?;
        open_slots += applied.open_slots;
        if on_duty && new {
            anxin_store::help_now::go_on_duty(&state.pool, id, None).await?;
        }
    }
    anxin_core::flows::slate::invalidate(state).await;
    seed_resources(state).await?;
    seed_organisations(state).await?;
    seed_training(state).await?;
    Ok(Seeded {
        created,
        total: DEMO_EXPERTS,
        open_slots,
    })
}

/// Places to refer to in the demo's three busiest regions, added once.
const RESOURCES: &[(&str, ResourceKind, &str, &str, &str)] = &[
    (
        "武汉市心理援助热线",
        ResourceKind::Hotline,
        "CN-HB",
        "027-8584 4666",
        "24 小时",
    ),
    (
        "武汉市精神卫生中心",
        ResourceKind::MentalHealthCentre,
        "CN-HB",
        "027-8584 4666",
        "门诊 周一至周日 8:00-17:00",
    ),
    (
        "北京心理危机研究与干预中心",
        ResourceKind::Hotline,
        "CN-BJ",
        "010-8295 1332",
        "24 小时",
    ),
    (
        "北京回龙观医院",
        ResourceKind::Hospital,
        "CN-BJ",
        "010-8376 9999",
        "门诊 周一至周五 8:00-17:00",
    ),
    (
        "上海市心理热线",
        ResourceKind::Hotline,
        "CN-SH",
        "021-12320-5",
        "24 小时",
    ),
    (
        "上海市精神卫生中心",
        ResourceKind::MentalHealthCentre,
        "CN-SH",
        "021-6438 7250",
        "门诊 周一至周日 8:00-17:00",
    ),
];

async fn seed_resources(state: &AppState) -> anyhow::Result<()> {
    let have = anxin_store::resources::list(&state.pool, None, None).await?;
    let operator = anxin_core::token::Principal::new(anxin_core::token::Role::Operator, "demo");
    for (name, kind, region, phone, hours) in RESOURCES {
        if have.iter().any(|r| r.resource.name == *name) {
            continue;
        }
        let input = ResourceInput {
            name: (*name).into(),
            kind: *kind,
            region: (*region).into(),
            phone: (*phone).into(),
            hours: (*hours).into(),
            address: None,
        };
        flows::resources::create(state, &operator, &input)
            .await
            .map_err(|e| anyhow::anyhow!("demo resource {name}: {e}"))?;
    }
    Ok(())
}

/// Three organisations, approved in the first batch, each with the demo
/// experts of its region as volunteers; added once.
const ORGANISATIONS: &[(&str, OrganisationKind, &str)] = &[
    (
        "武汉市心理咨询师协会",
        OrganisationKind::Psychological,
        "CN-HB",
    ),
    (
        "北京社会工作服务中心",
        OrganisationKind::SocialWork,
        "CN-BJ",
    ),
    (
        "上海心理援助志愿者联盟",
        OrganisationKind::Psychological,
        "CN-SH",
    ),
];

async fn seed_organisations(state: &AppState) -> anyhow::Result<()> {
    use anxin_domain::organisation::{OrganisationInput, OrganisationStatus};
    let have = anxin_store::organisations::published(&state.pool, None, None).await?;
    for (name, kind, region) in ORGANISATIONS {
        if have.iter().any(|o| o.name == *name) {
            continue;
        }
        let input = OrganisationInput {
            name: (*name).into(),
            kind: *kind,
            region: (*region).into(),
            contact_name: "Demo contact".into(),
            contact_phone: "+8613800000000".into(),
            description: "Demo organisation: its region's demo experts volunteer with it.".into(),
        };
        let id = flows::organisations::apply(state, &input)
            .await
            .map_err(|e| anyhow::anyhow!("demo organisation {name}: {e}"))?;
        let mut tx = state.pool.begin().await?;
        anxin_store::organisations::transition(
            &mut tx,
            id,
            &[OrganisationStatus::Applied],
            OrganisationStatus::Approved,
            Some(1),
            None,
        )
        .await?;
        anxin_store::organisations::adopt_demo_experts(&mut tx, id, region).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The programme's two operating guides (操作指引), required before a
/// volunteer takes calls, and one of its recorded trainings; added once. The
/// demo experts have done the required ones.
const MODULES: &[(&str, &str, bool, bool)] = &[
    (
        "操作指引一：心理援助热线的接听流程",
        "从接通、自我介绍、评估到结束通话，每一步怎么做；隐私和记录的要求。",
        true,
        true,
    ),
    (
        "操作指引二：危机评估、干预与转介",
        "识别自伤自杀风险，何时以及如何转介到精神卫生中心。由督导或机构确认完成。",
        true,
        false,
    ),
    (
        "音视频培训：倾听与共情",
        "疫情期间常见的情绪反应，以及如何倾听。",
        false,
        true,
    ),
];

async fn seed_training(state: &AppState) -> anyhow::Result<()> {
    use anxin_domain::supervision::Module;
    let have = anxin_store::supervision::modules(&state.pool).await?;
    for (title, body, required, self_attest) in MODULES {
        if have.iter().any(|m| m.module.title == *title) {
            continue;
        }
        let module = Module {
            title: (*title).into(),
            url: None,
            body: Some((*body).into()),
            required: *required,
            self_attest: *self_attest,
        };
        anxin_store::supervision::insert_module(&state.pool, &module).await?;
    }
    anxin_store::supervision::train_demo_experts(&state.pool).await?;
    Ok(())
}

/// The demo's supervisor: the first organisation's first volunteer, who
/// supervises the others there.
pub async fn supervisor(state: &AppState, organisation: Uuid) -> anyhow::Result<Option<ExpertId>> {
    Ok(anxin_store::supervision::demo_supervision(&state.pool, organisation).await?)
}

/// A stable id for the first demo expert, for the printed examples.
pub fn first_expert_id() -> Uuid {
    first_expert().0 .0
}

/// The first demo expert's name, for the printed examples.
pub fn first_expert_name() -> String {
    first_expert().1.display_name
}

fn first_expert() -> (ExpertId, ExpertInput, AvailabilityInput) {
    expert(0, &mut StdRng::seed_from_u64(2020))
}

/// Demo traffic: a trickle of synthetic seekers going through the real flows
/// (slate → hold → fee → confirm, now and then a release or a cancellation), so the
/// dashboard has something to show. Off unless `ANXIN_DEMO_TRAFFIC=true` or
/// `anxin all --demo-traffic`; never in production.
pub async fn traffic(state: actix_web::web::Data<AppState>, every: std::time::Duration) {
    use anxin_core::flows::{bookings, holds, payments, seekers, slate};
    let mut rng = StdRng::from_entropy();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let subject = format!("demo-traffic-seeker-{}", rng.gen_range(0..400));
        let Ok(seeker) = seekers::resolve(&state, &subject).await else {
            continue;
        };
        let Ok(shown) = slate::build(&state, &seeker, &slate::Filters::default()).await else {
            continue;
        };
        if !rng.gen_bool(0.6) || shown.experts.is_empty() {
            continue;
        }
        let expert = &shown.experts[rng.gen_range(0..shown.experts.len())];
        let Some(slot) = expert.slots.first() else {
            continue;
        };
        let Ok(hold) = holds::place(&state, &seeker, slot.slot_id, None, "demo-traffic").await
        else {
            continue;
        };
        if rng.gen_bool(0.15) {
            let _ = holds::release(&state, &seeker, hold.hold_id).await;
            continue;
        }
        // The fee, as a seeker pays it on the simulated page; a few walk
        // away at the cashier.
        if state.payment_step().is_some() {
            if rng.gen_bool(0.05) {
                continue;
            }
            let Ok(started) = payments::start(&state, &seeker, hold.hold_id).await else {
                continue;
            };
            if payments::record_paid(&state, started.payment.id, None)
                .await
                .is_err()
            {
                continue;
            }
        }
        let phone = format!("+86137{:08}", rng.gen_range(0..100_000_000u32));
        let request = bookings::ConfirmRequest {
            hold_id: hold.hold_id,
            phone: &phone,
            note: None,
            idempotency_key: None,
            seeker_ref: None,
        };
        if let Ok(done) = bookings::confirm(&state, &seeker, request).await {
            if rng.gen_bool(0.1) {
                let principal = anxin_core::token::Principal::new(
                    anxin_core::token::Role::Seeker,
                    subject.clone(),
                );
                let id = done.booking.id;
                let _ = bookings::cancel(&state, &principal, Some(&seeker), id, None).await;
            }
        }
    }
}
