//! Criterion benchmark of the pure slate draw (`choose_balanced`) at the
//! hotline's scale (200 experts) and at issue 4's (10,000 experts, about
//! 500,000 open slots). The impressions of the drawn experts grow from draw to
//! draw, as they do in the service. Run: `cargo bench -p anxin-domain --bench slate`.
mod support;

use anxin_domain::slate::{choose_balanced, BalanceParams};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn draw(c: &mut Criterion) {
    let mut group = c.benchmark_group("slate_draw");
    for experts in [200usize, 10_000] {
        let mut rng = StdRng::seed_from_u64(1);
        let mut candidates = support::candidates(experts, &mut rng);
        let params = BalanceParams::default();
        group.bench_function(BenchmarkId::from_parameter(experts), |b| {
            b.iter(|| {
                let chosen = choose_balanced(&candidates, &params, &mut rng);
                for &i in &chosen {
                    candidates[i].impressions += 1;
                }
                chosen
            })
        });
    }
    group.finish();
}

criterion_group!(benches, draw);
criterion_main!(benches);
