//! A discrete-event simulator of Anxin's matching market, to show with numbers
//! that the balanced slate does what the design says: spread exposure and
//! bookings across experts without costing matches, and keep seekers from
//! colliding on the same few slots.
//!
//! - `scenario`: the named markets (hotline, scarce, large).
//! - `market`: draws one market from a seed (experts' slots via the real
//!   `domain::availability`, ratings, seeker arrivals).
//! - `policy`: the slate policies compared; `balanced` is the real
//!   `domain::slate::choose_balanced`, fed by sliding-window impressions.
//! - `engine`: runs one policy over one market, event by event.
//! - `metrics`: match rate, time to match, collisions, Gini, utilization.
//! - `output`: the table, the CSV and the Lorenz-curve SVG.
//!
//! Every policy runs on the same market (same experts, same arrivals, same
//! seeker tastes), and every random stream derives from one seed, so a run
//! reproduces exactly. `anxin sim` calls [`cli`].
pub mod engine;
pub mod market;
pub mod metrics;
pub mod output;
pub mod policy;
pub mod scenario;

pub use metrics::PolicyReport;
pub use policy::Policy;
pub use scenario::Scenario;

use std::path::{Path, PathBuf};
use std::time::Instant;

/// The seed runs use unless told otherwise (the hotline's year).
pub const DEFAULT_SEED: u64 = 2020;

/// Every policy's results on one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioReport {
    pub scenario: Scenario,
    pub seed: u64,
    pub experts: usize,
    pub seekers: usize,
    pub slots_in_period: usize,
    /// Experts with at least one slot during the run: the ones any policy
    /// could have booked, over whom the Gini and zero-booked figures run.
    pub active_experts: usize,
    /// Gini of slots per active expert: what the booking Gini would be if
    /// bookings followed capacity exactly.
    pub capacity_gini: f64,
    /// In `Policy::ALL` order.
    pub policies: Vec<PolicyReport>,
}

impl ScenarioReport {
    pub fn policy(&self, policy: Policy) -> Option<&PolicyReport> {
        self.policies.iter().find(|p| p.policy == policy)
    }
}

/// Draws the scenario's market from `seed` and runs every policy on it, on
/// as many threads as there are policies (the runs share nothing but the
/// read-only market, so the result doesn't depend on scheduling).
pub fn run(scenario: &Scenario, seed: u64) -> Result<ScenarioReport, String> {
    let market = market::build(scenario, seed)?;
    let outcomes: Vec<engine::Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = Policy::ALL
            .iter()
            .map(|&p| {
                let market = &market;
                s.spawn(move || engine::run(market, &scenario.seekers, p, seed))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a policy run panicked".to_string()))
            .collect::<Result<_, _>>()
    })?;
    let capacity = market.slots_per_expert();
    let active: Vec<bool> = capacity.iter().map(|&c| c > 0.0).collect();
    let active_capacity: Vec<f64> = capacity.into_iter().filter(|&c| c > 0.0).collect();
    Ok(ScenarioReport {
        scenario: scenario.clone(),
        seed,
        experts: market.experts.len(),
        seekers: market.seekers.len(),
        slots_in_period: market.slots_in_period,
        active_experts: active_capacity.len(),
        capacity_gini: anxin_domain::stats::gini(&active_capacity).unwrap_or(0.0),
        policies: outcomes
            .iter()
            .map(|o| PolicyReport::from_outcome(o, &active))
            .collect(),
    })
}

const USAGE: &str = "usage: anxin sim [--scenario hotline|scarce|large|all] [--out DIR] [--seed N]

Simulates the matching market under four slate policies (balanced, top20,
random20, all) on the same arrivals, prints a table per scenario, and writes
sim.csv and lorenz-<scenario>.svg under DIR (default out/sim).";

#[derive(Debug, Clone, PartialEq)]
struct Args {
    scenarios: Vec<Scenario>,
    out: PathBuf,
    seed: u64,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        scenarios: Scenario::all(),
        out: PathBuf::from("out/sim"),
        seed: DEFAULT_SEED,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        if matches!(flag, "-h" | "--help") {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag {
            "--scenario" => {
                let name = value()?;
                parsed.scenarios = if name == "all" {
                    Scenario::all()
                } else {
                    vec![Scenario::named(&name).ok_or_else(|| {
                        format!("unknown scenario {name:?}: use hotline, scarce, large or all")
                    })?]
                };
            }
            "--out" => parsed.out = PathBuf::from(value()?),
            "--seed" => {
                let v = value()?;
                parsed.seed = v
                    .parse()
                    .map_err(|_| format!("--seed must be a non-negative integer, got {v:?}"))?;
            }
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Some(parsed))
}

/// `anxin sim [args]`: runs the scenarios, prints their tables, writes the
/// CSV and charts. `args` are the arguments after `sim`.
pub fn cli(args: &[String]) -> Result<(), String> {
    let Some(args) = parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    let mut csv = format!("{}\n", output::CSV_HEADER);
    let mut written = Vec::new();
    for scenario in &args.scenarios {
        let started = Instant::now();
        let report = run(scenario, args.seed)?;
        println!("{}", output::table(&report));
        println!(
            "({} simulated in {:.1}s, seed {})\n",
            scenario.name,
            started.elapsed().as_secs_f64(),
            args.seed
        );
        csv.push_str(&output::csv_rows(&report));
        let svg = args.out.join(format!("lorenz-{}.svg", scenario.name));
        write(&svg, &output::lorenz_svg(&report))?;
        written.push(svg);
    }
    let csv_path = args.out.join("sim.csv");
    write(&csv_path, &csv)?;
    written.insert(0, csv_path);
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hotline market over two days: small enough for a debug-mode test.
    fn small_hotline() -> Scenario {
        Scenario {
            days: 2,
            ..Scenario::hotline()
        }
    }

    #[test]
    fn the_same_seed_reproduces_the_run_exactly() {
        let scenario = Scenario {
            experts: 40,
            ..small_hotline()
        };
        let a = run(&scenario, 7).unwrap();
        let b = run(&scenario, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.seekers > 0 && a.policies.iter().all(|p| p.matched > 0));
        let c = run(&scenario, 8).unwrap();
        assert_ne!(a.policies, c.policies, "another seed is another market");
    }

    #[test]
    fn balanced_spreads_bookings_more_evenly_than_top20_on_the_hotline() {
        let r = run(&small_hotline(), DEFAULT_SEED).unwrap();
        let balanced = r.policy(Policy::Balanced).unwrap();
        let top20 = r.policy(Policy::Top20).unwrap();
        let all = r.policy(Policy::All).unwrap();
        assert!(
            balanced.booking_gini < top20.booking_gini,
            "booking Gini: balanced {:.3} vs top20 {:.3}",
            balanced.booking_gini,
            top20.booking_gini
        );
        assert!(balanced.zero_booked_share < top20.zero_booked_share);
        assert!(balanced.match_rate > top20.match_rate);
        assert!(
            balanced.collision_rate < all.collision_rate,
            "collisions: balanced {:.3} vs all {:.3}",
            balanced.collision_rate,
            all.collision_rate
        );
    }

    #[test]
    fn every_seeker_is_accounted_for() {
        let r = run(&small_hotline(), 3).unwrap();
        for p in &r.policies {
            assert_eq!(
                p.matched + p.left_nothing_suitable + p.left_after_collisions,
                p.seekers,
                "{}",
                p.policy.name()
            );
            assert_eq!(
                p.bookings.iter().map(|&b| b as usize).sum::<usize>(),
                p.matched
            );
            assert!(p.collisions <= p.picks);
        }
    }

    #[test]
    fn arguments_are_parsed_and_bad_ones_named() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = parse(&args(&["--scenario", "scarce", "--out=x", "--seed", "9"]))
            .unwrap()
            .unwrap();
        assert_eq!(a.scenarios, vec![Scenario::scarce()]);
        assert_eq!((a.out, a.seed), (PathBuf::from("x"), 9));
        assert_eq!(parse(&args(&[])).unwrap().unwrap().scenarios.len(), 3);
        assert!(parse(&args(&["--help"])).unwrap().is_none());
        assert!(parse(&args(&["--scenario", "moon"]))
            .unwrap_err()
            .contains("moon"));
        assert!(parse(&args(&["--seed", "-1"]))
            .unwrap_err()
            .contains("--seed"));
        assert!(parse(&args(&["--seed"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&args(&["--bogus"])).unwrap_err().contains("--bogus"));
    }
}
