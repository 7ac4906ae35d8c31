//! Conditional permutation inference as esda's `crand`: one seeded table of random neighbour sets,
//! shared by all observations, evaluated in parallel with rayon.
//!
//! esda draws, for each of `P` permutations, `max_card` distinct indices from `0..n-1` (all observations
//! but the one under test); observation `i` uses the first `card_i` of them, shifting indices `>= i` up by
//! one so that `i` itself is never drawn. We do the same with a ChaCha8 generator, so the result depends
//! on the seed only, never on the number of threads. The p-value is esda's default ("directed"):
//! `larger = #{random >= observed}`, folded to the smaller tail, `p = (larger + 1) / (P + 1)`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::weights::TransformedWeights;

/// `count x max_card` random indices into `0..n-1`, distinct within each permutation.
#[derive(Debug, Clone)]
pub struct PermutationTable {
    ids: Vec<u32>,
    max_card: usize,
    count: usize,
}

impl PermutationTable {
    /// Draws the table for `n` observations whose largest neighbour count is `max_card`.
    pub fn new(n: usize, max_card: usize, count: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let max_card = max_card.min(n.saturating_sub(1));
        let mut ids = Vec::with_capacity(count * max_card);
        if max_card > 0 {
            for _ in 0..count {
                let sample = rand::seq::index::sample(&mut rng, n - 1, max_card);
                ids.extend(sample.iter().map(|v| v as u32));
            }
        }
        PermutationTable {
            ids,
            max_card,
            count,
        }
    }

    /// Number of permutations.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Random neighbour indices of permutation `p` for observation `i`, first `card` of them.
    #[inline]
    fn draw(&self, p: usize, card: usize) -> &[u32] {
        let start = p * self.max_card;
        &self.ids[start..start + card]
    }
}

/// esda's directed pseudo p-value from the count of random statistics `>=` the observed one.
pub fn directed_p(larger: usize, count: usize) -> f64 {
    let folded = if count - larger < larger {
        count - larger
    } else {
        larger
    };
    (folded + 1) as f64 / (count + 1) as f64
}

/// Local conditional randomisation: for each `i`, the random off-diagonal lag `sum_k w_ik x_{pi(k)}` is
/// passed to `stat(i, lag)` and compared with `observed[i]`. Islands get p = 1 (nothing to permute).
pub fn local_p_sim<F>(
    w: &TransformedWeights,
    x: &[f64],
    observed: &[f64],
    table: &PermutationTable,
    stat: F,
) -> Vec<f64>
where
    F: Fn(usize, f64) -> f64 + Sync,
{
    let count = table.count();
    (0..w.n())
        .into_par_iter()
        .with_min_len(64)
        .map(|i| {
            let (neighbours, weights) = w.row(i);
            let card = neighbours.len();
            if card == 0 || count == 0 {
                return 1.0;
            }
            let mut larger = 0usize;
            for p in 0..count {
                let ids = table.draw(p, card);
                let mut lag = 0.0;
                for (&id, &wk) in ids.iter().zip(weights) {
                    let j = id as usize + usize::from(id as usize >= i);
                    lag += wk * x[j];
                }
                if stat(i, lag) >= observed[i] {
                    larger += 1;
                }
            }
            directed_p(larger, count)
        })
        .collect()
}
