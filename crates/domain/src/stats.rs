//! How evenly something is spread over experts: the Gini coefficient and the
//! Lorenz curve. The dashboard, the simulator and the tests all read balance
//! through these two functions, so "balanced" means one thing everywhere.

/// The Gini coefficient of non-negative amounts (negative ones count as 0):
/// `Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n Σx)`, the mean absolute difference over twice the
/// mean. 0 when all are equal, `(n − 1) / n` when one holds everything.
/// Computed from the sorted amounts as `Σ (2i − n − 1) · xᵢ / (n Σx)`. `None`
/// for no amounts or a zero total: there is nothing to be unequal about.
pub fn gini(amounts: &[f64]) -> Option<f64> {
    let sorted = sorted_non_negative(amounts);
    let n = sorted.len() as f64;
    let total: f64 = sorted.iter().sum();
    if sorted.is_empty() || total <= 0.0 {
        return None;
    }
    let weighted: f64 = sorted
        .iter()
        .zip(1u32..)
        .map(|(x, i)| (2.0 * f64::from(i) - n - 1.0) * x)
        .sum();
    Some(weighted / (n * total))
}

/// The Lorenz curve of non-negative amounts: `(share of experts, share of the
/// total)`, smallest first, from (0, 0) to (1, 1), sampled evenly to at most
/// `max_points` points (at least 2). Empty for no amounts or a zero total.
pub fn lorenz(amounts: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let sorted = sorted_non_negative(amounts);
    let total: f64 = sorted.iter().sum();
    if sorted.is_empty() || total <= 0.0 {
        return Vec::new();
    }
    let n = sorted.len();
    let mut cumulative = Vec::with_capacity(n + 1);
    cumulative.push(0.0);
    let mut sum = 0.0;
    for x in &sorted {
        sum += x;
        cumulative.push(sum);
    }
    let steps = max_points.max(2).saturating_sub(1).min(n);
    let mut points: Vec<(f64, f64)> = (0..=steps)
        .map(|k| {
            let i = (k * n + steps / 2) / steps;
            (i as f64 / n as f64, cumulative[i] / total)
        })
        .collect();
    points.dedup();
    points
}

/// Counts as amounts, for the two functions above.
pub fn amounts(counts: &[i64]) -> Vec<f64> {
    counts.iter().map(|&c| c as f64).collect()
}

fn sorted_non_negative(amounts: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = amounts.iter().map(|&a| a.max(0.0)).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition itself, over every ordered pair.
    fn mean_abs_difference_gini(x: &[f64]) -> f64 {
        let n = x.len() as f64;
        let total: f64 = x.iter().sum();
        let diffs: f64 = x
            .iter()
            .flat_map(|a| x.iter().map(move |b| (a - b).abs()))
            .sum();
        diffs / (2.0 * n * total)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn gini_matches_the_mean_absolute_difference_definition() {
        for x in [
            vec![1.0, 1.0, 1.0, 1.0],
            vec![0.0, 0.0, 0.0, 4.0],
            vec![0.0, 1.0, 2.0, 3.0, 4.0],
            vec![5.0, 0.0, 2.0, 2.0, 0.0, 1.0, 7.0],
            vec![4.0, 1.0, 3.0, 2.0],
        ] {
            let g = gini(&x).unwrap_or(f64::NAN);
            assert!(close(g, mean_abs_difference_gini(&x)), "{x:?}: {g}");
        }
        assert_eq!(
            gini(&[4.0, 1.0, 3.0, 2.0]).map(|g| close(g, 0.25)),
            Some(true)
        );
    }

    #[test]
    fn gini_is_zero_when_equal_and_n_minus_one_over_n_when_one_holds_all() {
        assert_eq!(gini(&[3.0; 50]), Some(0.0));
        for n in [2usize, 5, 200] {
            let mut v = vec![0.0; n];
            v[n / 2] = 7.0;
            let want = (n as f64 - 1.0) / n as f64;
            assert!(gini(&v).is_some_and(|g| close(g, want)), "n = {n}");
        }
        assert_eq!(gini(&[0.0, 0.0]), None);
        assert_eq!(gini(&[]), None);
    }

    #[test]
    fn lorenz_runs_from_origin_to_one_below_the_diagonal() {
        assert_eq!(
            lorenz(&[0.0, 1.0, 3.0], 10),
            vec![(0.0, 0.0), (1.0 / 3.0, 0.0), (2.0 / 3.0, 0.25), (1.0, 1.0)]
        );
        let l = lorenz(&amounts(&[0, 0, 1, 3]), 101);
        assert_eq!(l.len(), 5);
        let long = lorenz(&(0..10_000).map(f64::from).collect::<Vec<_>>(), 101);
        assert_eq!(long.len(), 101);
        for curve in [&l, &long] {
            assert_eq!(curve.first(), Some(&(0.0, 0.0)));
            assert_eq!(curve.last(), Some(&(1.0, 1.0)));
            assert!(curve.iter().all(|(x, y)| *y <= x + 1e-12));
        }
        assert!(lorenz(&[0.0, 0.0], 101).is_empty());
        assert!(lorenz(&[], 101).is_empty());
    }
}
