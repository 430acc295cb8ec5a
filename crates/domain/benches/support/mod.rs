//! The candidates both slate benchmarks draw from.
use anxin_domain::ids::ExpertId;
use anxin_domain::slate::Candidate;
use rand::Rng;

/// `experts` candidates with open capacities around 50 (10,000 experts make
/// about 500,000 open slots) and some recent impressions.
pub fn candidates(experts: usize, rng: &mut impl Rng) -> Vec<Candidate> {
    (0..experts)
        .map(|_| Candidate {
            expert_id: ExpertId::new(),
            capacity: rng.gen_range(1..100),
            impressions: rng.gen_range(0..500),
        })
        .collect()
}
