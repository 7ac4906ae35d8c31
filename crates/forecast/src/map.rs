//! The forecast's risk map: study cells coloured by risk, chosen sites in red, drawn by `jikimi-maps` as a
//! square-grid map (north up).
//!
//! Colours follow the viridis ramp of log(1 + risk / median positive risk), so both hot spots and the long tail stay
//! visible; that scaling is the forecast's, the drawing is the map crate's.

use jikimi_maps::{GridCell, GridMap, Palette, Rgba};

use crate::Error;

/// Colour of a site marker.
pub const SITE: Rgba = Rgba(230, 20, 20, 255);
/// Colour of cells in the extent without a value.
const BACKGROUND: Rgba = Rgba(235, 235, 235, 255);
/// The picture of an empty surface (one pixel).
const EMPTY: Rgba = Rgba(255, 255, 255, 255);

/// The map of `points` (x, y, risk) on a `cell`-metre grid (each point painted as its cell), with site markers.
pub fn risk_map(
    points: &[(f64, f64, f64)],
    cell: f64,
    px_per_cell: u32,
    sites: &[(f64, f64)],
) -> GridMap {
    let mut positive: Vec<f64> = points.iter().map(|p| p.2).filter(|&v| v > 0.0).collect();
    positive.sort_by(|a, b| a.total_cmp(b));
    let median = positive.get(positive.len() / 2).copied().unwrap_or(1.0);
    let top = positive
        .last()
        .map(|&m| (1.0 + m / median).ln())
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let cells = points
        .iter()
        .map(|&(x, y, v)| {
            let t = if v > 0.0 {
                (1.0 + v / median).ln() / top
            } else {
                0.0
            };
            GridCell {
                x,
                y,
                colour: Palette::Viridis.at(t),
            }
        })
        .collect();
    GridMap {
        cell,
        px_per_cell,
        background: if points.is_empty() { EMPTY } else { BACKGROUND },
        cells,
        markers: sites
            .iter()
            .map(|&(x, y)| GridCell { x, y, colour: SITE })
            .collect(),
    }
}

/// [`risk_map`] as PNG bytes.
pub fn render_png(
    points: &[(f64, f64, f64)],
    cell: f64,
    px_per_cell: u32,
    sites: &[(f64, f64)],
) -> Result<Vec<u8>, Error> {
    risk_map(points, cell, px_per_cell, sites)
        .raster()
        .and_then(|raster| raster.encode_png())
        .map_err(|e| Error::Render(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_north_up_with_markers() {
        // Two cells side by side in one row, one cell north of the first.
        let pts = [(0.0, 0.0, 1.0), (250.0, 0.0, 10.0), (0.0, 250.0, 0.0)];
        let raster = risk_map(&pts, 250.0, 2, &[(250.0, 250.0)])
            .raster()
            .unwrap();
        assert_eq!((raster.width, raster.height), (4, 4));
        // Top-right cell is the marker (north-east), bottom-right the hottest (yellow end), top-left the coldest.
        assert_eq!(raster.pixel(2, 0), Some(SITE));
        assert_eq!(raster.pixel(2, 2), Some(Palette::Viridis.at(1.0)));
        assert_eq!(raster.pixel(0, 0), Some(Palette::Viridis.at(0.0)));
        let png = render_png(&pts, 250.0, 2, &[]).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn an_empty_surface_is_one_white_pixel() {
        let raster = risk_map(&[], 250.0, 4, &[(0.0, 0.0)]).raster().unwrap();
        assert_eq!(raster.pixels, vec![EMPTY]);
    }
}
