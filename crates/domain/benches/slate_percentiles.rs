//! Benchmark of the pure slate draw at the scale of issue 4: 10,000 candidate
//! experts (the API feeds it their open capacity and recent impressions).
//! Prints p50/p99 over many draws (criterion, in `slate.rs`, reports means
//! with confidence intervals). Run: `cargo bench -p anxin-domain --bench slate_percentiles`.
mod support;

use anxin_domain::slate::{choose_balanced, BalanceParams};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::{Duration, Instant};

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    for experts in [200usize, 10_000] {
        let mut candidates = support::candidates(experts, &mut rng);
        let params = BalanceParams::default();
        let mut times: Vec<Duration> = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let started = Instant::now();
            let chosen = choose_balanced(&candidates, &params, &mut rng);
            times.push(started.elapsed());
            for i in chosen {
                candidates[i].impressions += 1;
            }
        }
        times.sort();
        let total_slots: u64 = candidates.iter().map(|c| u64::from(c.capacity)).sum();
        println!(
            "slate draw, {experts} experts ({total_slots} open slots): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() * 99 / 100].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
        );
    }
}
