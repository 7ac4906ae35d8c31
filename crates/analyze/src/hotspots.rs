//! The hot-spot pipeline behind `jikimi analyze hotspots`: Gi*, local Moran and global Moran on one
//! variable and one weights matrix, then hot/cold classes after Benjamini-Hochberg FDR control.
//!
//! Classes use a two-sided p-value for Gi*: `min(1, 2 p)` with `p` the permutation pseudo p-value when
//! permutations were run, else the normal one (`sf(|z|)`); q-values are BH-adjusted over the non-island
//! areas; an area is `hot_99` if `q <= 0.01` and `z > 0`, `hot_95` if `q <= 0.05`, `hot_90` if `q <= 0.10`
//! (likewise `cold_*` for `z < 0`), `not_significant` otherwise, and `island` when it has no neighbour.

use serde::Serialize;

use crate::error::Result;
use crate::stats::Permutations;
use crate::stats::fdr::benjamini_hochberg;
use crate::stats::getis_ord::{GLocal, g_local};
use crate::stats::moran::{MoranGlobal, MoranLocal, moran_global, moran_local};
use crate::weights::{Transform, Weights};

/// Settings of one hot-spot run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotspotConfig {
    /// Weights transform used by every statistic.
    pub transform: Transform,
    /// Permutation count and seed.
    pub permutations: Permutations,
}

/// Hot/cold class of an area at a confidence level after FDR control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HotspotClass {
    /// Hot spot, FDR q <= 0.01.
    Hot99,
    /// Hot spot, FDR q <= 0.05.
    Hot95,
    /// Hot spot, FDR q <= 0.10.
    Hot90,
    /// Not significant at 90%.
    NotSignificant,
    /// Cold spot, FDR q <= 0.10.
    Cold90,
    /// Cold spot, FDR q <= 0.05.
    Cold95,
    /// Cold spot, FDR q <= 0.01.
    Cold99,
    /// No neighbours: no local statistic can be judged.
    Island,
}

impl HotspotClass {
    /// Stable snake_case name written to outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            HotspotClass::Hot99 => "hot_99",
            HotspotClass::Hot95 => "hot_95",
            HotspotClass::Hot90 => "hot_90",
            HotspotClass::NotSignificant => "not_significant",
            HotspotClass::Cold90 => "cold_90",
            HotspotClass::Cold95 => "cold_95",
            HotspotClass::Cold99 => "cold_99",
            HotspotClass::Island => "island",
        }
    }

    /// All classes, hot to cold, islands last (legend order).
    pub const ALL: [HotspotClass; 8] = [
        HotspotClass::Hot99,
        HotspotClass::Hot95,
        HotspotClass::Hot90,
        HotspotClass::NotSignificant,
        HotspotClass::Cold90,
        HotspotClass::Cold95,
        HotspotClass::Cold99,
        HotspotClass::Island,
    ];
}

/// Everything computed by one hot-spot run, aligned with the input order.
#[derive(Debug, Clone)]
pub struct HotspotReport {
    /// Getis-Ord Gi*.
    pub gi_star: GLocal,
    /// Local Moran.
    pub lisa: MoranLocal,
    /// Global Moran.
    pub moran: MoranGlobal,
    /// Two-sided p-value used for the classes.
    pub p_two_sided: Vec<f64>,
    /// Benjamini-Hochberg q-values (1 for islands).
    pub q_values: Vec<f64>,
    /// Class per area.
    pub classes: Vec<HotspotClass>,
    /// Indices of areas without neighbours.
    pub islands: Vec<usize>,
}

/// Runs Gi*, local and global Moran and classifies areas.
pub fn hotspots(y: &[f64], weights: &Weights, config: HotspotConfig) -> Result<HotspotReport> {
    let gi_star = g_local(y, weights, config.transform, true, config.permutations)?;
    let plain = weights.transformed(config.transform, None);
    let lisa = moran_local(y, &plain, config.permutations)?;
    let moran = moran_global(y, &plain, config.permutations)?;
    let islands = weights.islands();
    let mut is_island = vec![false; y.len()];
    islands.iter().for_each(|&i| is_island[i] = true);
    let p_one: &[f64] = gi_star.p_sim.as_deref().unwrap_or(&gi_star.p_norm);
    let p_two_sided: Vec<f64> = p_one.iter().map(|p| (2.0 * p).min(1.0)).collect();
    let kept: Vec<usize> = (0..y.len()).filter(|&i| !is_island[i]).collect();
    let q_kept = benjamini_hochberg(&kept.iter().map(|&i| p_two_sided[i]).collect::<Vec<_>>());
    let mut q_values = vec![1.0; y.len()];
    for (k, &i) in kept.iter().enumerate() {
        q_values[i] = q_kept[k];
    }
    let classes = (0..y.len())
        .map(|i| classify(gi_star.zs[i], q_values[i], is_island[i]))
        .collect();
    Ok(HotspotReport {
        gi_star,
        lisa,
        moran,
        p_two_sided,
        q_values,
        classes,
        islands,
    })
}

fn classify(z: f64, q: f64, island: bool) -> HotspotClass {
    if island {
        return HotspotClass::Island;
    }
    let hot = z > 0.0;
    match (q, hot) {
        (q, true) if q <= 0.01 => HotspotClass::Hot99,
        (q, true) if q <= 0.05 => HotspotClass::Hot95,
        (q, true) if q <= 0.10 => HotspotClass::Hot90,
        (q, false) if q <= 0.01 && z < 0.0 => HotspotClass::Cold99,
        (q, false) if q <= 0.05 && z < 0.0 => HotspotClass::Cold95,
        (q, false) if q <= 0.10 && z < 0.0 => HotspotClass::Cold90,
        _ => HotspotClass::NotSignificant,
    }
}
