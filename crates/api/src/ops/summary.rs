//! The operator summary: every figure of `GET /v1/ops/summary`, computed
//! from the event log and the slots (capacity) over a window, never
//! estimated. The queries do the counting (`anxin_store::events`); this
//! module shapes their rows into figures and computes what SQL says poorly
//! (Gini coefficients, the Lorenz curve, rates with empty denominators).
//!
//! How each figure is defined is written on its field (in `figures`); the
//! same text is in the OpenAPI document and in docs/ops-dashboard.md.
use crate::error::ApiResult;
use anxin_core::state::AppState;
use anxin_domain::seeker::PriorityGroup;
use anxin_domain::stats;
use anxin_store::events::{
    self, CapacityRow, CountRow, ExpertLoadRow, FunnelRow, HoldRow, PercentileRow, Scope,
};
use anxin_store::Pool;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

pub use anxin_core::figures::*;

/// At most this many regions, and as many organisations, are broken out
/// (the largest first).
const MAX_REGIONS: usize = 50;
/// Points on the Lorenz curve, at most.
const LORENZ_POINTS: usize = 101;

/// The windows an operator can look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Hour,
    Day,
    Week,
}

impl Window {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "1h" => Some(Self::Hour),
            "24h" => Some(Self::Day),
            "7d" => Some(Self::Week),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }

    pub fn duration(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::hours(24),
            Self::Week => Duration::days(7),
        }
    }

    /// How long a computed summary is served again: every operator's page
    /// polls every few seconds, and a week's figures take a while.
    pub fn max_age(self) -> std::time::Duration {
        std::time::Duration::from_secs(match self {
            Self::Hour => 2,
            Self::Day => 5,
            Self::Week => 15,
        })
    }

    /// The time series' resolution: five minutes in the last hour, hours
    /// otherwise.
    pub fn bucket_seconds(self) -> i64 {
        match self {
            Self::Hour => 300,
            Self::Day | Self::Week => 3600,
        }
    }
}

pub fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The Lorenz curve of the bookings per expert, as the dashboard draws it.
fn lorenz(bookings: &[i64]) -> Vec<LorenzPoint> {
    stats::lorenz(&stats::amounts(bookings), LORENZ_POINTS)
        .into_iter()
        .map(|(experts, bookings)| LorenzPoint { experts, bookings })
        .collect()
}

fn gini(amounts: &[i64]) -> Option<f64> {
    stats::gini(&stats::amounts(amounts))
}

fn histogram(amounts: &[i64]) -> Vec<HistogramBar> {
    let mut bars: BTreeMap<i64, i64> = BTreeMap::new();
    for &a in amounts {
        *bars.entry(a).or_default() += 1;
    }
    bars.into_iter()
        .map(|(bookings, experts)| HistogramBar { bookings, experts })
        .collect()
}

/// Which breakdown a row belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Slice {
    All,
    Group(String),
    Region(String),
    Organisation(String),
}

fn slice(by: &str, key: Option<&str>) -> Option<Slice> {
    match (by, key) {
        ("all", _) => Some(Slice::All),
        ("priority_group", Some(k)) => Some(Slice::Group(k.to_string())),
        ("region", Some(k)) => Some(Slice::Region(k.to_string())),
        ("organisation", Some(k)) => Some(Slice::Organisation(k.to_string())),
        // A NULL group or region in a breakdown: nothing to file it under.
        _ => None,
    }
}

/// What the queries returned, before shaping.
pub struct Rows {
    pub funnel: Vec<FunnelRow>,
    pub holds: Vec<HoldRow>,
    pub counts: Vec<CountRow>,
    pub connect: Vec<PercentileRow>,
    pub loads: Vec<ExpertLoadRow>,
    pub capacity: Vec<CapacityRow>,
}

/// The summary of a window over a scope (the whole service, a place, an
/// organisation), computed at most once per `Window::max_age` in this
/// application (unless `fresh` is asked for): concurrent requests wait for
/// the one computation under way and share its result (`until` says as of
/// when).
pub async fn cached(
    state: &AppState,
    window: Window,
    scope: Scope,
    fresh: bool,
) -> ApiResult<Arc<Summary>> {
    let compute = compute(&state.pool, window, &scope, Utc::now());
    state
        .summaries
        .get_or_compute(
            (window.as_str(), scope.clone()),
            window.max_age(),
            fresh,
            compute,
        )
        .await
}

/// Runs the queries (concurrently, each on its own connection) and shapes
/// the summary of what is in `scope`.
pub async fn compute(
    pool: &Pool,
    window: Window,
    scope: &Scope,
    now: DateTime<Utc>,
) -> ApiResult<Summary> {
    let started = std::time::Instant::now();
    let since = now - window.duration();
    let ahead = now + window.duration();
    let bucket = window.bucket_seconds();
    let (funnel, holds, mut counts, by_organisation, connect, loads, capacity, sources) =
        tokio::try_join!(
            events::funnel(pool, since, now, bucket, scope),
            events::holds(pool, since, now, scope),
            events::counts(pool, since, now, bucket, scope),
            events::counts_by_organisation(pool, since, now, scope),
            events::connect_times(pool, since, now, scope),
            events::expert_loads(pool, since, now, scope),
            events::capacity(pool, since, now, ahead, scope),
            events::priority_sources(pool, since, now, scope),
        )
        .map_err(crate::error::AppError::from)?;
    counts.extend(by_organisation);
    let rows = Rows {
        funnel,
        holds,
        counts,
        connect,
        loads,
        capacity,
    };
    let mut summary = shape(window, since, now, &rows);
    let ids: Vec<Uuid> = summary
        .by_organisation
        .iter()
        .map(|o| o.organisation_id)
        .collect();
    let names: HashMap<Uuid, String> = anxin_store::organisations::names(pool, &ids)
        .await?
        .into_iter()
        .collect();
    for o in &mut summary.by_organisation {
        o.name = names.get(&o.organisation_id).cloned().unwrap_or_default();
    }
    for group in PriorityGroup::ALL {
        summary
            .priority_sources
            .insert(group.as_str().to_string(), Default::default());
    }
    for (group, vouched, n) in sources {
        let source = summary.priority_sources.entry(group).or_default();
        if vouched {
            source.vouched += n;
        } else {
            source.declared += n;
        }
    }
    if scope.everything() {
        let (waiting, offered, booked) = anxin_store::waitlist::counts(pool, since).await?;
        summary.waitlist = Some(anxin_core::figures::WaitlistFigures {
            waiting,
            offered,
            booked,
        });
        let (levels, duty) = tokio::try_join!(
            anxin_store::help_now::levels(pool, since, None),
            anxin_store::help_now::on_duty(pool),
        )?;
        summary.help_now = Some(anxin_core::figures::HelpNowFigures {
            requested: levels.requested,
            connected: levels.connected,
            answer_rate: if levels.requested > 0 {
                levels.connected as f64 / levels.requested as f64
            } else {
                0.0
            },
            wait_p50_s: levels.wait_p50_s,
            wait_p95_s: levels.wait_p95_s,
            abandoned: levels.abandoned,
            rollovers: levels.rollovers,
            on_duty: duty.on_duty,
        });
    }
    summary.query_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// Turns the rows into the summary (pure, so it is tested without a database).
pub fn shape(window: Window, since: DateTime<Utc>, until: DateTime<Utc>, rows: &Rows) -> Summary {
    let mut figures: BTreeMap<Slice, Figures> = BTreeMap::new();
    figures.insert(Slice::All, Figures::default());
    for g in PriorityGroup::ALL {
        figures.insert(Slice::Group(g.as_str().to_string()), Figures::default());
    }

    for r in &rows.funnel {
        let Some(s) = slice(&r.by, r.key.as_deref()) else {
            continue;
        };
        let f = figures.entry(s).or_default();
        f.funnel = Funnel {
            saw_slate: r.saw_slate,
            held: r.held,
            booked: r.booked,
            call_connected: r.connected,
            completed: r.completed,
        };
        f.time_to_match_seconds = Percentiles {
            count: r.ttm_count,
            p50: r.ttm_p50,
            p95: r.ttm_p95,
        };
    }
    for r in &rows.holds {
        let Some(s) = slice(&r.by, r.key.as_deref()) else {
            continue;
        };
        let f = figures.entry(s).or_default();
        f.holds = Holds {
            placed: r.placed,
            confirmed: r.confirmed,
            released: r.released,
            expired: r.expired,
            active: r.active,
            expiry_rate: None,
        };
        f.collisions = Collisions {
            hold_attempts: r.placed + r.refused_unavailable + r.refused_limit,
            slot_unavailable: r.refused_unavailable,
            hold_limit: r.refused_limit,
            rate: None,
        };
    }
    for r in &rows.counts {
        let Some(s) = slice(&r.by, r.key.as_deref()) else {
            continue;
        };
        let f = figures.entry(s).or_default();
        let detail = r.detail.clone().unwrap_or_else(|| "none".into());
        match r.kind.as_str() {
            "slate_served" => f.slates_served += r.n,
            "booking_confirmed" => f.bookings.confirmed += r.n,
            "booking_cancelled" => f.bookings.cancelled += r.n,
            "booking_completed" => f.bookings.completed += r.n,
            "booking_refused" => *f.bookings.refused.entry(detail).or_default() += r.n,
            "call_attempt_ended" => *f.calls.attempts_by_outcome.entry(detail).or_default() += r.n,
            "call_finished" => {
                f.calls.finished += r.n;
                *f.calls.finished_by_outcome.entry(detail).or_default() += r.n;
            }
            _ => {}
        }
    }
    for r in &rows.connect {
        let Some(s) = slice(&r.by, r.key.as_deref()) else {
            continue;
        };
        figures.entry(s).or_default().time_to_connect_seconds = Percentiles {
            count: r.count,
            p50: r.p50,
            p95: r.p95,
        };
    }

    let booking_distribution = fairness(&mut figures, &rows.loads);
    utilization(&mut figures, &rows.capacity);

    for f in figures.values_mut() {
        f.match_rate = ratio(f.funnel.booked, f.funnel.saw_slate);
        f.holds.expiry_rate = ratio(f.holds.expired, f.holds.placed);
        f.collisions.rate = ratio(f.collisions.slot_unavailable, f.collisions.hold_attempts);
        let by = &f.calls.finished_by_outcome;
        let n = |k: &str| by.get(k).copied().unwrap_or(0);
        let dialed = f.calls.finished - n("none") - n("cancelled");
        f.no_show_rate = NoShow {
            expert: ratio(n("expert_no_answer") + n("expert_busy"), dialed),
            seeker: ratio(n("seeker_no_answer") + n("seeker_busy"), dialed),
            dialed_calls: dialed,
        };
    }

    let mut overall = Figures::default();
    let mut by_priority_group = BTreeMap::new();
    let mut regions = Vec::new();
    let mut organisations = Vec::new();
    for (s, f) in figures {
        match s {
            Slice::All => overall = f,
            Slice::Group(g) => {
                by_priority_group.insert(g, f);
            }
            Slice::Region(r) => regions.push((r, f)),
            Slice::Organisation(o) => organisations.push((o, f)),
        }
    }
    // The busiest organisations first: bookings, then experts.
    organisations.sort_by_key(|(o, f)| {
        (
            std::cmp::Reverse(f.bookings.confirmed),
            std::cmp::Reverse(f.fairness.experts),
            o.clone(),
        )
    });
    organisations.truncate(MAX_REGIONS);
    // The busiest regions first: seekers seen, then experts.
    regions.sort_by_key(|(r, f)| {
        (
            std::cmp::Reverse(f.funnel.saw_slate),
            std::cmp::Reverse(f.fairness.experts),
            r.clone(),
        )
    });
    regions.truncate(MAX_REGIONS);

    Summary {
        window: window.as_str().to_string(),
        since,
        until,
        overall,
        by_priority_group,
        by_region: regions.into_iter().collect(),
        by_organisation: organisations
            .into_iter()
            .filter_map(|(id, figures)| {
                Some(OrganisationFigures {
                    organisation_id: id.parse().ok()?,
                    name: String::new(),
                    figures,
                })
            })
            .collect(),
        series: series(window, since, until, rows),
        booking_distribution,
        priority_sources: BTreeMap::new(),
        waitlist: None,
        help_now: None,
        query_ms: 0,
    }
}

/// Exposure and booking spread per slice; returns the overall distribution.
fn fairness(figures: &mut BTreeMap<Slice, Figures>, loads: &[ExpertLoadRow]) -> Distribution {
    // expert → (the slices of their place, exposures, bookings, per-group
    // (exposures, bookings))
    type Load = (Vec<Slice>, i64, i64, HashMap<String, (i64, i64)>);
    let mut experts: HashMap<Uuid, Load> = HashMap::new();
    for r in loads {
        let e = experts.entry(r.expert_id).or_insert_with(|| {
            let mut at = vec![Slice::All, Slice::Region(r.region.clone())];
            at.extend(r.organisation.clone().map(Slice::Organisation));
            (at, 0, 0, HashMap::new())
        });
        e.1 += r.exposures;
        e.2 += r.bookings;
        if let Some(g) = &r.priority_group {
            let per = e.3.entry(g.clone()).or_default();
            per.0 += r.exposures;
            per.1 += r.bookings;
        }
    }
    let mut slices: BTreeMap<Slice, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    let groups: Vec<String> = PriorityGroup::ALL
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    for (at, exposures, bookings, per_group) in experts.values() {
        for s in at {
            let v = slices.entry(s.clone()).or_default();
            v.0.push(*exposures);
            v.1.push(*bookings);
        }
        for g in &groups {
            let (x, b) = per_group.get(g).copied().unwrap_or((0, 0));
            let v = slices.entry(Slice::Group(g.clone())).or_default();
            v.0.push(x);
            v.1.push(b);
        }
    }
    let mut distribution = Distribution::default();
    for (s, (exposures, bookings)) in slices {
        if s == Slice::All {
            distribution = Distribution {
                histogram: histogram(&bookings),
                lorenz: lorenz(&bookings),
            };
        }
        figures.entry(s).or_default().fairness = Fairness {
            experts: bookings.len() as i64,
            exposure_gini: gini(&exposures),
            booking_gini: gini(&bookings),
            experts_with_zero_bookings: bookings.iter().filter(|&&b| b == 0).count() as i64,
            experts_with_zero_exposure: exposures.iter().filter(|&&x| x == 0).count() as i64,
        };
    }
    distribution
}

fn utilization(figures: &mut BTreeMap<Slice, Figures>, capacity: &[CapacityRow]) {
    let mut all = Utilization::default();
    let mut by_place: BTreeMap<Slice, Utilization> = BTreeMap::new();
    let mut by_group: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in capacity {
        let pick = |u: &mut Utilization| {
            let c = if r.past { &mut u.past } else { &mut u.ahead };
            c.offered += r.slots;
            if r.booked_by.is_some() {
                c.booked += r.slots;
            }
        };
        pick(&mut all);
        pick(by_place.entry(Slice::Region(r.region.clone())).or_default());
        if let Some(o) = &r.organisation {
            pick(by_place.entry(Slice::Organisation(o.clone())).or_default());
        }
        if let Some(g) = &r.booked_by {
            let e = by_group.entry(g.clone()).or_default();
            if r.past {
                e.0 += r.slots;
            } else {
                e.1 += r.slots;
            }
        }
    }
    let finish = |mut u: Utilization| {
        u.past.rate = ratio(u.past.booked, u.past.offered);
        u.ahead.rate = ratio(u.ahead.booked, u.ahead.offered);
        u
    };
    // A priority group shares everyone's capacity: its utilization is the
    // part of all offered slots its seekers booked.
    let groups: BTreeSet<String> = PriorityGroup::ALL
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    for g in groups {
        let (past, ahead) = by_group.get(&g).copied().unwrap_or((0, 0));
        let mut u = all.clone();
        u.past.booked = past;
        u.ahead.booked = ahead;
        figures.entry(Slice::Group(g)).or_default().utilization = finish(u);
    }
    for (s, u) in by_place {
        figures.entry(s).or_default().utilization = finish(u);
    }
    figures.entry(Slice::All).or_default().utilization = finish(all);
}

fn series(window: Window, since: DateTime<Utc>, until: DateTime<Utc>, rows: &Rows) -> Series {
    let bucket = window.bucket_seconds();
    let span = (until - since).num_seconds().max(0);
    let buckets = ((span + bucket - 1) / bucket).max(1);
    let index = |key: &Option<String>| {
        key.as_deref()
            .and_then(|k| k.parse::<i64>().ok())
            .filter(|b| (0..buckets).contains(b))
    };
    // bucket → (seekers first seen, of whom matched, bookings)
    let mut points: BTreeMap<i64, (i64, i64, i64)> = (0..buckets).map(|b| (b, (0, 0, 0))).collect();
    for r in rows.funnel.iter().filter(|r| r.by == "bucket") {
        if let Some(p) = index(&r.key).and_then(|b| points.get_mut(&b)) {
            p.0 += r.saw_slate;
            p.1 += r.booked;
        }
    }
    let confirmed = rows
        .counts
        .iter()
        .filter(|r| r.by == "bucket" && r.kind == "booking_confirmed");
    for r in confirmed {
        if let Some(p) = index(&r.key).and_then(|b| points.get_mut(&b)) {
            p.2 += r.n;
        }
    }
    let points = points
        .into_iter()
        .map(|(b, (seekers, matched, bookings))| SeriesPoint {
            start: since + Duration::seconds(b * bucket),
            seekers,
            matched,
            match_rate: ratio(matched, seekers),
            bookings,
        })
        .collect();
    Series {
        bucket_seconds: bucket,
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_nothing_else_does() {
        assert_eq!(Window::parse("1h"), Some(Window::Hour));
        assert_eq!(Window::parse("24h"), Some(Window::Day));
        assert_eq!(Window::parse("7d"), Some(Window::Week));
        assert_eq!(Window::parse("2h"), None);
        assert_eq!(Window::parse(""), None);
    }

    /// Times `compute` against a prepared database, e.g. the 1M-event one of
    /// docs/ops-dashboard.md:
    /// `ANXIN_PERF_DATABASE_URL=postgres://postgres@127.0.0.1:5432/anxin_ops_perf
    ///  cargo test -p anxin-api --lib -- --ignored summary_timing --nocapture`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs ANXIN_PERF_DATABASE_URL"]
    async fn summary_timing() {
        let url = std::env::var("ANXIN_PERF_DATABASE_URL").unwrap();
        let pool = anxin_store::connect_lazy(&url, 10).unwrap();
        let now = Utc::now();
        let since = now - Duration::days(7);
        macro_rules! time {
            ($name:literal, $e:expr) => {{
                let t = std::time::Instant::now();
                let _ = $e.await.unwrap();
                println!("  7d {}: {} ms", $name, t.elapsed().as_millis());
            }};
        }
        let all = Scope::default();
        time!("funnel", events::funnel(&pool, since, now, 3600, &all));
        time!("holds", events::holds(&pool, since, now, &all));
        time!("counts", events::counts(&pool, since, now, 3600, &all));
        time!(
            "counts by organisation",
            events::counts_by_organisation(&pool, since, now, &all)
        );
        time!("connect", events::connect_times(&pool, since, now, &all));
        time!("loads", events::expert_loads(&pool, since, now, &all));
        time!(
            "capacity",
            events::capacity(&pool, since, now, now + Duration::days(7), &all)
        );
        for window in [Window::Hour, Window::Day, Window::Week] {
            let mut ms = Vec::new();
            for _ in 0..5 {
                let s = compute(&pool, window, &all, Utc::now()).await.unwrap();
                ms.push(s.query_ms);
            }
            ms.sort_unstable();
            println!(
                "window {}: median {} ms, min {} ms, max {} ms",
                window.as_str(),
                ms[2],
                ms[0],
                ms[4]
            );
        }
    }

    #[test]
    fn an_empty_log_gives_zeros_and_nulls_not_errors() {
        let now = Utc::now();
        let rows = Rows {
            funnel: vec![],
            holds: vec![],
            counts: vec![],
            connect: vec![],
            loads: vec![],
            capacity: vec![],
        };
        let s = shape(Window::Hour, now - Duration::hours(1), now, &rows);
        assert_eq!(s.overall.match_rate, None);
        assert_eq!(s.by_priority_group.len(), 4);
        assert_eq!(s.series.points.len(), 12);
        assert!(s.booking_distribution.lorenz.is_empty());
    }
}
