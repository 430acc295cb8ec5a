//! What a run writes: the side-by-side table for the terminal (or, over a
//! sweep of seeds, each figure's min / median / max), one CSV row per
//! (scenario, seed, policy), one per-expert CSV row per (scenario, seed,
//! policy, expert), and an SVG of Lorenz curves of bookings per scenario.
//! All written by hand: the sim needs no formatting crates.
use crate::help_now::{HelpNowReport, HelpNowScenario, RingOrder, WITHIN_SECS};
use crate::metrics::{fair_shares, PolicyReport, RegionalReport};
use crate::policy::Policy;
use crate::ScenarioReport;
use anxin_domain::stats::lorenz;
use std::fmt::Write;

/// The aligned table for one scenario, with a header line describing it.
pub fn table(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {} ({}): {} experts ({} with slots), {} slots, {} seekers over {} days; capacity Gini {:.3}",
        r.scenario.name,
        r.scenario.summary,
        r.experts,
        r.active_experts,
        r.slots_in_period,
        r.seekers,
        r.scenario.days,
        r.capacity_gini,
    );
    let header = [
        "policy",
        "match",
        "ttm p50",
        "ttm p95",
        "collisions",
        "exposure Gini",
        "booking Gini",
        "Gini - cap",
        "zero-booked",
        "< half share",
        "utilization",
    ];
    let rows: Vec<Vec<String>> = r
        .policies
        .iter()
        .map(|p| {
            vec![
                p.policy.name().to_string(),
                percent(p.match_rate),
                duration(p.time_to_match_p50),
                duration(p.time_to_match_p95),
                percent(p.collision_rate),
                format!("{:.3}", p.exposure_gini),
                format!("{:.3}", p.booking_gini),
                format!("{:+.3}", p.gini_over_capacity),
                percent(p.zero_booked_share),
                percent(p.below_half_share),
                percent(p.utilization),
            ]
        })
        .collect();
    aligned(&mut s, &header, &rows);
    s
}

/// The table by seeker region of a regional scenario: per region and
/// policy, the seekers, the share matched, the share of their bookings made
/// with an expert of their own region, and the time to booking.
pub fn regional_table(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "by seeker region (local: bookings with an expert of the seeker's region; only balanced fills slates local first)"
    );
    let header = [
        "region", "policy", "seekers", "match", "local", "ttm p50", "ttm p95",
    ];
    let rows: Vec<Vec<String>> = r
        .regional
        .iter()
        .map(|g| {
            vec![
                g.region.to_string(),
                g.policy.name().to_string(),
                g.seekers.to_string(),
                percent(g.match_rate),
                percent(g.local_share),
                duration(g.time_to_match_p50),
                duration(g.time_to_match_p95),
            ]
        })
        .collect();
    aligned(&mut s, &header, &rows);
    s
}

/// [`regional_table`] over a sweep of seeds: each figure as `min median
/// max` per region and policy.
pub fn regional_sweep_table(reports: &[ScenarioReport]) -> String {
    let mut s = String::new();
    let Some(first) = reports.first() else {
        return s;
    };
    let _ = writeln!(
        s,
        "by seeker region, {} seeds (local: bookings with an expert of the seeker's region; only balanced fills slates local first); each cell: min median max",
        reports.len()
    );
    let header = ["region", "policy", "match", "local", "ttm p50", "ttm p95"];
    let rows: Vec<Vec<String>> = first
        .regional
        .iter()
        .map(|g| {
            let of = |f: fn(&RegionalReport) -> f64| -> Vec<f64> {
                reports
                    .iter()
                    .filter_map(|r| {
                        r.regional
                            .iter()
                            .find(|x| x.region == g.region && x.policy == g.policy)
                    })
                    .map(f)
                    .collect()
            };
            let time = |x: f64| duration(x.round() as i64);
            vec![
                g.region.to_string(),
                g.policy.name().to_string(),
                spread(&of(|x| x.match_rate), percent),
                spread(&of(|x| x.local_share), percent),
                spread(&of(|x| x.time_to_match_p50 as f64), time),
                spread(&of(|x| x.time_to_match_p95 as f64), time),
            ]
        })
        .collect();
    aligned(&mut s, &header, &rows);
    s
}

/// Writes `header` and `rows` as columns, the first left-aligned and the
/// rest right-aligned.
fn aligned(s: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|row| row[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c == 0 {
                let _ = write!(l, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(l, "  {cell:>w$}", w = widths[c]);
            }
        }
        l
    };
    let _ = writeln!(s, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(s, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// The table over a sweep of seeds of one scenario: each figure as
/// `min median max` per policy, then how often `balanced` met each target of
/// the balance targets (seed by seed, against the other policies on the same seed).
pub fn sweep_table(reports: &[ScenarioReport]) -> String {
    let mut s = String::new();
    let Some(first) = reports.first() else {
        return s;
    };
    let seeds: Vec<String> = reports.iter().map(|r| r.seed.to_string()).collect();
    let capacity_gini: Vec<f64> = reports.iter().map(|r| r.capacity_gini).collect();
    let _ = writeln!(
        s,
        "scenario {} ({}), {} seeds ({}); capacity Gini {}; each cell: min median max",
        first.scenario.name,
        first.scenario.summary,
        reports.len(),
        seeds.join(","),
        spread(&capacity_gini, |x| format!("{x:.3}")),
    );
    let header = [
        "policy",
        "match",
        "ttm p95",
        "collisions",
        "booking Gini - capacity Gini",
        "zero-booked",
        "< half share",
    ];
    let rows: Vec<Vec<String>> = Policy::ALL
        .iter()
        .map(|&policy| {
            let of = |f: fn(&PolicyReport) -> f64| -> Vec<f64> {
                reports
                    .iter()
                    .filter_map(|r| r.policy(policy))
                    .map(f)
                    .collect()
            };
            vec![
                policy.name().to_string(),
                spread(&of(|p| p.match_rate), percent),
                spread(&of(|p| p.time_to_match_p95 as f64), |x| {
                    duration(x.round() as i64)
                }),
                spread(&of(|p| p.collision_rate), percent),
                spread(&of(|p| p.gini_over_capacity), |x| format!("{x:+.3}")),
                spread(&of(|p| p.zero_booked_share), percent),
                spread(&of(|p| p.below_half_share), percent),
            ]
        })
        .collect();
    aligned(&mut s, &header, &rows);
    let met = |test: fn(&ScenarioReport) -> bool| reports.iter().filter(|r| test(r)).count();
    let n = reports.len();
    let _ = writeln!(
        s,
        "balanced met, of {n} seeds: Gini - capacity Gini <= 0.015 on {}; zero-booked <= 1% and <= random20's on {}; \
match >= all's and random20's on {}; fewest collisions on {}",
        met(|r| targets(r).is_some_and(|t| t.gini)),
        met(|r| targets(r).is_some_and(|t| t.zero_booked)),
        met(|r| targets(r).is_some_and(|t| t.matched)),
        met(|r| targets(r).is_some_and(|t| t.collisions)),
    );
    s
}

/// Which balance targets `balanced` met on one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    /// Booking Gini at most 0.015 above the capacity Gini.
    pub gini: bool,
    /// Zero-booked share at most 1 % and at most `random20`'s.
    pub zero_booked: bool,
    /// Match rate at least `all`'s and `random20`'s.
    pub matched: bool,
    /// The lowest collision rate of the four policies.
    pub collisions: bool,
}

pub fn targets(r: &ScenarioReport) -> Option<Targets> {
    let b = r.policy(Policy::Balanced)?;
    let random = r.policy(Policy::Random20)?;
    let all = r.policy(Policy::All)?;
    Some(Targets {
        gini: b.gini_over_capacity <= 0.015,
        zero_booked: b.zero_booked_share <= 0.01 && b.zero_booked_share <= random.zero_booked_share,
        matched: b.match_rate >= all.match_rate && b.match_rate >= random.match_rate,
        collisions: r
            .policies
            .iter()
            .all(|p| p.policy == Policy::Balanced || b.collision_rate < p.collision_rate),
    })
}

/// `min median max` of `values` (the median of an even count is the lower
/// middle one, so every figure shown is one a seed produced).
fn spread(values: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match (v.first(), v.get((v.len().max(1) - 1) / 2), v.last()) {
        (Some(&lo), Some(&mid), Some(&hi)) => format!("{} {} {}", fmt(lo), fmt(mid), fmt(hi)),
        _ => String::new(),
    }
}

/// The help-now table of one scenario: per load level and ring order, each
/// figure (over several seeds, as `min median max`), then on how many seeds
/// the service's rule met the targets at 80 % load.
pub fn help_now_table(scenario: &HelpNowScenario, runs: &[(u64, Vec<HelpNowReport>)]) -> String {
    let mut s = String::new();
    let Some((_, first)) = runs.first() else {
        return s;
    };
    let Some(day) = first.first() else {
        return s;
    };
    let seeds: Vec<String> = runs.iter().map(|(seed, _)| seed.to_string()).collect();
    let _ = writeln!(
        s,
        "scenario {} ({}): {} experts, {:.0} to {:.0} on duty at once, {:.0} on-duty expert-hours, capacity {:.0} calls (mean call {}); \
busiest hour at {:.2} x the day's load; ring {}s, max wait {}, patience mean {}; seed{} {}{}",
        scenario.name,
        scenario.summary,
        day.experts,
        day.on_duty_range.0,
        day.on_duty_range.1,
        day.on_duty_hours,
        day.capacity,
        duration(scenario.mean_call_secs().round() as i64),
        day.peak_hour_load / day.load,
        scenario.ring_secs,
        duration(scenario.max_wait_secs),
        duration(scenario.patience_mean_secs.round() as i64),
        if runs.len() > 1 { "s" } else { "" },
        seeds.join(","),
        if runs.len() > 1 {
            "; each cell: min median max"
        } else {
            ""
        },
    );
    let header = [
        "load",
        "order",
        "requests",
        "<= 60s",
        "priority <= 60s",
        "wait p50",
        "wait p95",
        "abandoned",
        "timed out",
        "rollovers/req",
        "calls Gini",
    ];
    let rows: Vec<Vec<String>> = first
        .iter()
        .map(|row| {
            let of = |f: fn(&HelpNowReport) -> f64| -> Vec<f64> {
                runs.iter()
                    .filter_map(|(_, reports)| {
                        reports
                            .iter()
                            .find(|r| r.load == row.load && r.order == row.order)
                    })
                    .map(f)
                    .collect()
            };
            let time = |x: f64| duration(x.round() as i64);
            vec![
                format!("{:.0}%", row.load * 100.0),
                row.order.name().to_string(),
                cells(&of(|r| r.requests as f64), |x| format!("{x:.0}")),
                cells(&of(|r| r.within_minute), percent),
                cells(&of(|r| r.priority_within_minute), percent),
                cells(&of(|r| r.wait_p50 as f64), time),
                cells(&of(|r| r.wait_p95 as f64), time),
                cells(&of(|r| r.abandoned), percent),
                cells(&of(|r| r.timed_out), percent),
                cells(&of(|r| r.rollovers_per_request), |x| format!("{x:.2}")),
                cells(&of(|r| r.calls_gini), |x| format!("{x:.3}")),
            ]
        })
        .collect();
    aligned(&mut s, &header, &rows);
    let at_80: Vec<&HelpNowReport> = runs
        .iter()
        .filter_map(|(_, reports)| {
            reports
                .iter()
                .find(|r| r.order == RingOrder::FewestCalls && (r.load - 0.8).abs() < 1e-9)
        })
        .collect();
    if !at_80.is_empty() {
        let _ = writeln!(
            s,
            "targets at 80% load, fewest first, of {} seed{}: >= 95% connected within {WITHIN_SECS}s on {}; abandoned < 5% on {}",
            at_80.len(),
            if at_80.len() > 1 { "s" } else { "" },
            at_80.iter().filter(|r| r.within_minute >= 0.95).count(),
            at_80.iter().filter(|r| r.abandoned < 0.05).count(),
        );
    }
    s
}

pub const HELP_NOW_CSV_HEADER: &str =
    "scenario,seed,load,order,experts,on_duty_hours,capacity,peak_hour_load,requests,connected,\
within_60s,priority_within_60s,wait_p50_s,wait_p95_s,abandoned,timed_out,rollovers_per_request,calls_gini";

/// One CSV row per (seed, load, ring order) of a help-now scenario.
pub fn help_now_csv_rows(scenario: &HelpNowScenario, runs: &[(u64, Vec<HelpNowReport>)]) -> String {
    let mut s = String::new();
    for (key, r) in help_now_keyed(scenario, runs) {
        let _ = writeln!(
            s,
            "{key},{},{:.1},{:.1},{:.4},{},{},{:.4},{:.4},{},{},{:.4},{:.4},{:.4},{:.4}",
            r.experts,
            r.on_duty_hours,
            r.capacity,
            r.peak_hour_load,
            r.requests,
            r.connected,
            r.within_minute,
            r.priority_within_minute,
            r.wait_p50,
            r.wait_p95,
            r.abandoned,
            r.timed_out,
            r.rollovers_per_request,
            r.calls_gini,
        );
    }
    s
}

/// Each report of a help-now sweep with the columns that name its row:
/// scenario, seed, load, ring order.
fn help_now_keyed<'a>(
    scenario: &'a HelpNowScenario,
    runs: &'a [(u64, Vec<HelpNowReport>)],
) -> impl Iterator<Item = (String, &'a HelpNowReport)> + 'a {
    runs.iter().flat_map(move |(seed, reports)| {
        reports.iter().map(move |r| {
            let key = format!("{},{seed},{:.2},{}", scenario.name, r.load, r.order.name());
            (key, r)
        })
    })
}

pub const HELP_NOW_HOURS_CSV_HEADER: &str = "scenario,seed,load,order,hour,requests,within_60s";

/// One CSV row per (seed, load, ring order, local hour of arrival): the
/// requests that hour and those connected within 60 s.
pub fn help_now_hours_csv_rows(
    scenario: &HelpNowScenario,
    runs: &[(u64, Vec<HelpNowReport>)],
) -> String {
    let mut s = String::new();
    for (key, r) in help_now_keyed(scenario, runs) {
        for hour in 0..24 {
            let _ = writeln!(
                s,
                "{key},{hour},{},{}",
                r.requests_by_hour[hour], r.within_minute_by_hour[hour],
            );
        }
    }
    s
}

pub const CSV_HEADER: &str =
    "scenario,seed,policy,experts,active_experts,slots,seekers,matched,match_rate,\
ttm_p50_s,ttm_p95_s,picks,collisions,collision_rate,left_nothing_suitable,\
left_after_collisions,exposure_gini,booking_gini,capacity_gini,gini_over_capacity,\
zero_booked_share,below_half_share,utilization";

/// One CSV row per policy (no header; see `CSV_HEADER`).
pub fn csv_rows(r: &ScenarioReport) -> String {
    let mut s = String::new();
    for p in &r.policies {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{:.4},{},{},{},{},{:.4},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}",
            r.scenario.name,
            r.seed,
            p.policy.name(),
            r.experts,
            r.active_experts,
            r.slots_in_period,
            r.seekers,
            p.matched,
            p.match_rate,
            p.time_to_match_p50,
            p.time_to_match_p95,
            p.picks,
            p.collisions,
            p.collision_rate,
            p.left_nothing_suitable,
            p.left_after_collisions,
            p.exposure_gini,
            p.booking_gini,
            r.capacity_gini,
            p.gini_over_capacity,
            p.zero_booked_share,
            p.below_half_share,
            p.utilization,
        );
    }
    s
}

/// One seed's figure as it is, several seeds' as [`spread`].
fn cells(values: &[f64], fmt: impl Fn(f64) -> String) -> String {
    match values {
        [one] => fmt(*one),
        _ => spread(values, fmt),
    }
}

pub const EXPERTS_CSV_HEADER: &str =
    "scenario,seed,policy,expert,expert_id,rating,slot_minutes,weekly_hours,first_hour,\
capacity_offered,impressions,bookings,fair_share";

/// One row per (policy, expert): what the expert offered (their slots over
/// the run), how often they were shown and booked, and their fair share of
/// the policy's bookings (in proportion to the slots offered).
pub fn experts_csv_rows(r: &ScenarioReport) -> String {
    let mut s = String::new();
    let capacity: Vec<f64> = r.expert_facts.iter().map(|e| e.slots as f64).collect();
    for p in &r.policies {
        let fair = fair_shares(&capacity, p.matched);
        for (i, e) in r.expert_facts.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{:.1},{},{:.2},{},{},{},{},{:.3}",
                r.scenario.name,
                r.seed,
                p.policy.name(),
                i,
                e.id,
                e.rating,
                e.slot_minutes,
                e.weekly_hours,
                e.first_hour,
                e.slots,
                p.impressions_per_expert.get(i).copied().unwrap_or(0),
                p.bookings_per_expert.get(i).copied().unwrap_or(0),
                fair[i],
            );
        }
    }
    s
}

const COLORS: [&str; 4] = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"];

/// Lorenz curves of bookings per expert, one per policy, with the line of
/// equality: the further a curve sags below it, the more bookings pile onto
/// a few experts.
pub fn lorenz_svg(r: &ScenarioReport) -> String {
    let (w, h) = (560.0, 560.0);
    let (left, top, size) = (70.0, 50.0, 440.0);
    let x = |v: f64| left + v * size;
    let y = |v: f64| top + (1.0 - v) * size;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" text-anchor="middle" font-size="15">Bookings per expert: Lorenz curves, scenario "{}"</text>"#,
        w / 2.0,
        escape(r.scenario.name)
    );
    // Grid and axes.
    for i in 0..=10 {
        let v = f64::from(i) / 10.0;
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
            x(v),
            y(0.0),
            x(v),
            y(1.0),
            x(0.0),
            y(v),
            x(1.0),
            y(v)
        );
        if i % 2 == 0 {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}%</text><text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}%</text>"#,
                x(v),
                y(0.0) + 18.0,
                v * 100.0,
                x(0.0) - 6.0,
                y(v) + 4.0,
                v * 100.0
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 4"/>"##,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">share of experts, fewest bookings first</text>"#,
        x(0.5),
        y(0.0) + 38.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">share of bookings</text>"#,
        y(0.5)
    );
    for (i, p) in r.policies.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let values: Vec<f64> = p.bookings.iter().map(|&b| f64::from(b)).collect();
        let points: Vec<String> = lorenz(&values, 400)
            .into_iter()
            .map(|(a, b)| format!("{:.1},{:.1}", x(a), y(b)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 20.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{} (booking Gini {:.3})</text>"#,
            x(0.04),
            x(0.10),
            x(0.12),
            ly + 4.0,
            p.policy.name(),
            p.booking_gini
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// `95s`, `4m05s`, `2h13m`: short and sortable by eye.
fn duration(secs: i64) -> String {
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(245), "4m05s");
        assert_eq!(duration(7_980), "2h13m");
    }

    #[test]
    fn a_spread_is_min_lower_median_max() {
        let f = |x: f64| format!("{x}");
        assert_eq!(spread(&[3.0, 1.0, 2.0], f), "1 2 3");
        assert_eq!(spread(&[4.0, 1.0, 3.0, 2.0], f), "1 2 4");
        assert_eq!(spread(&[], f), "");
    }
}
