//! What a run writes: the side-by-side table for the terminal, one CSV row
//! per (scenario, policy), and an SVG of Lorenz curves of bookings per
//! scenario. All written by hand: the sim needs no formatting crates.
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
        "zero-booked",
        "utilization",
    ];
    let rows: Vec<[String; 9]> = r
        .policies
        .iter()
        .map(|p| {
            [
                p.policy.name().to_string(),
                percent(p.match_rate),
                duration(p.time_to_match_p50),
                duration(p.time_to_match_p95),
                percent(p.collision_rate),
                format!("{:.3}", p.exposure_gini),
                format!("{:.3}", p.booking_gini),
                percent(p.zero_booked_share),
                percent(p.utilization),
            ]
        })
        .collect();
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
    for row in &rows {
        let _ = writeln!(s, "{}", line(row.iter().map(String::as_str).collect()));
    }
    s
}

pub const CSV_HEADER: &str =
    "scenario,policy,experts,active_experts,slots,seekers,matched,match_rate,\
ttm_p50_s,ttm_p95_s,picks,collisions,collision_rate,left_nothing_suitable,\
left_after_collisions,exposure_gini,booking_gini,zero_booked_share,utilization";

/// One CSV row per policy (no header; see `CSV_HEADER`).
pub fn csv_rows(r: &ScenarioReport) -> String {
    let mut s = String::new();
    for p in &r.policies {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{:.4},{},{},{},{},{:.4},{},{},{:.4},{:.4},{:.4},{:.4}",
            r.scenario.name,
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
            p.zero_booked_share,
            p.utilization,
        );
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
}
