//! Dense rasters over the study area's bounding box, and a separable truncated Gaussian blur.
//!
//! Smoothing on the raster (not only on study cells) lets mass spread across empty cells the way a
//! kernel density estimate over the plane does; values are read back at study cells.

use crate::grid::StudyArea;

/// Spreads per-study-cell values into a raster of the bounding box (zero elsewhere).
pub fn to_raster(area: &StudyArea, values: &[f64]) -> Vec<f64> {
    let mut r = vec![0.0; area.width * area.height];
    for (id, &ri) in area.raster_idx.iter().enumerate() {
        r[ri] = values[id];
    }
    r
}

/// Reads a raster back at the study cells.
pub fn from_raster(area: &StudyArea, raster: &[f64]) -> Vec<f64> {
    area.raster_idx.iter().map(|&ri| raster[ri]).collect()
}

/// Normalised discrete Gaussian weights for offsets -radius..=radius, radius = ceil(4 sigma).
pub fn gaussian_weights(sigma_cells: f64) -> Vec<f64> {
    if sigma_cells <= 0.0 {
        return vec![1.0];
    }
    let radius = (4.0 * sigma_cells).ceil() as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma_cells * sigma_cells)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|x| x / s).collect()
}

/// Blurs a `width × height` raster in place with a Gaussian of `sigma_cells` (truncated at 4 sigma).
pub fn gaussian_blur(raster: &mut [f64], width: usize, height: usize, sigma_cells: f64) {
    let w = gaussian_weights(sigma_cells);
    if w.len() == 1 {
        return;
    }
    let radius = (w.len() / 2) as i64;
    let mut tmp = vec![0.0; raster.len()];
    // Rows, then columns; mass past the edge is lost (the box already spans every study cell).
    for y in 0..height {
        let row = &raster[y * width..(y + 1) * width];
        for (x, &v) in row.iter().enumerate() {
            if v == 0.0 {
                continue;
            }
            let lo = (x as i64 - radius).max(0);
            let hi = (x as i64 + radius).min(width as i64 - 1);
            for xx in lo..=hi {
                tmp[y * width + xx as usize] += v * w[(xx - x as i64 + radius) as usize];
            }
        }
    }
    raster.iter_mut().for_each(|v| *v = 0.0);
    for y in 0..height {
        let lo = (y as i64 - radius).max(0);
        let hi = (y as i64 + radius).min(height as i64 - 1);
        for x in 0..width {
            let v = tmp[y * width + x];
            if v == 0.0 {
                continue;
            }
            for yy in lo..=hi {
                raster[yy as usize * width + x] += v * w[(yy - y as i64 + radius) as usize];
            }
        }
    }
}

/// Gaussian-smooths per-study-cell values and reads them back at study cells.
pub fn smooth(area: &StudyArea, values: &[f64], sigma_m: f64) -> Vec<f64> {
    if sigma_m <= 0.0 {
        return values.to_vec();
    }
    let mut r = to_raster(area, values);
    gaussian_blur(&mut r, area.width, area.height, sigma_m / crate::grid::CELL);
    from_raster(area, &r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_preserves_mass_away_from_edges() {
        let (w, h) = (41, 41);
        let mut r = vec![0.0; w * h];
        r[20 * w + 20] = 1.0;
        gaussian_blur(&mut r, w, h, 2.0);
        let s: f64 = r.iter().sum();
        assert!((s - 1.0).abs() < 1e-9);
        assert!(r[20 * w + 20] > r[20 * w + 22]);
        assert!((r[20 * w + 22] - r[22 * w + 20]).abs() < 1e-12);
    }
}
