//! `jikimi-maps`: a small PNG choropleth renderer, pure Rust (tiny-skia), no fonts, no network.
//!
//! Give it shapes (polygons as rings of planar or lon/lat coordinates, e.g. areas or H3 cells), one fill
//! per shape (colours, or values mapped through a [`Palette`]), optionally a points layer, and get PNG
//! bytes back from [`render_png`]. Lon/lat input is drawn in an equirectangular projection scaled by the
//! cosine of the middle latitude, which is faithful enough for a city. A legend is a row of swatches
//! (there is no text: no font is needed or shipped); captions belong in the HTML report around the map.
//!
//! [`GridMap`] draws the other kind of map: cells of a planar grid, one colour each, pixel-exact, with marker cells
//! on top (the forecast's risk surface and chosen sites); [`Palette::at`] gives a continuous ramp for it.
//!
//! Architecture Invariant: this crate knows nothing of statistics, GeoJSON or files; it turns numbers
//! into pixels.
//!
//! ```
//! use jikimi_maps::{Fill, MapSpec, Palette, Shape, render_png};
//! let square = Shape { rings: vec![vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]] };
//! let spec = MapSpec::new(vec![square], Fill::Values { values: vec![Some(3.0)], palette: Palette::YlOrRd });
//! let png = render_png(&spec).unwrap();
//! assert_eq!(&png[1..4], b"PNG");
//! ```

pub mod grid;

pub use grid::{GridCell, GridMap, Raster};

use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

/// Errors of the renderer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing with finite coordinates to draw.
    #[error("nothing to draw: no shape or point has finite coordinates")]
    Empty,
    /// The image size is zero or too large.
    #[error("invalid image size {0}x{1}")]
    Size(u32, u32),
    /// Fills and shapes disagree in number.
    #[error("{shapes} shapes but {fills} fills")]
    FillCount {
        /// Shapes given.
        shapes: usize,
        /// Fills given.
        fills: usize,
    },
    /// PNG encoding failed.
    #[error("png encoding: {0}")]
    Encode(String),
}

/// An sRGB colour with alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgba(pub u8, pub u8, pub u8, pub u8);

impl Rgba {
    /// Opaque colour from a `0xRRGGBB` value.
    pub const fn hex(v: u32) -> Self {
        Rgba((v >> 16) as u8, (v >> 8) as u8, v as u8, 255)
    }
}

/// Colour ramps: ColorBrewer's with 7 classes, and viridis with 5 anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// Sequential yellow-orange-red, for counts and rates.
    YlOrRd,
    /// Diverging blue-white-red, for z-scores (negative blue, positive red).
    BluRed,
    /// Sequential dark purple to yellow, perceptually even (matplotlib's viridis), for continuous surfaces.
    Viridis,
}

impl Palette {
    /// The ramp's colours, low to high.
    pub fn colours(self) -> &'static [Rgba] {
        const YLORRD: [Rgba; 7] = [
            Rgba::hex(0xffffb2),
            Rgba::hex(0xfed976),
            Rgba::hex(0xfeb24c),
            Rgba::hex(0xfd8d3c),
            Rgba::hex(0xfc4e2a),
            Rgba::hex(0xe31a1c),
            Rgba::hex(0xb10026),
        ];
        const BLURED: [Rgba; 7] = [
            Rgba::hex(0x2166ac),
            Rgba::hex(0x67a9cf),
            Rgba::hex(0xd1e5f0),
            Rgba::hex(0xf7f7f7),
            Rgba::hex(0xfddbc7),
            Rgba::hex(0xef8a62),
            Rgba::hex(0xb2182b),
        ];
        const VIRIDIS: [Rgba; 5] = [
            Rgba(68, 1, 84, 255),
            Rgba(59, 82, 139, 255),
            Rgba(33, 145, 140, 255),
            Rgba(94, 201, 98, 255),
            Rgba(253, 231, 37, 255),
        ];
        match self {
            Palette::YlOrRd => &YLORRD,
            Palette::BluRed => &BLURED,
            Palette::Viridis => &VIRIDIS,
        }
    }

    /// The colour at `t` in [0, 1] (clamped) along the ramp, interpolated linearly between its colours.
    pub fn at(self, t: f64) -> Rgba {
        let ramp = self.colours();
        let t = t.clamp(0.0, 1.0) * (ramp.len() - 1) as f64;
        let i = (t.floor() as usize).min(ramp.len() - 2);
        let f = t - i as f64;
        let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
        let (a, b) = (ramp[i], ramp[i + 1]);
        Rgba(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2), mix(a.3, b.3))
    }
}

/// A polygon or multipolygon as rings (exteriors and holes alike; filled with the even-odd rule).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Shape {
    /// Rings of `(x, y)` (or `(lon, lat)`); closing the ring is optional.
    pub rings: Vec<Vec<(f64, f64)>>,
}

/// How shapes are filled.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// One colour per shape (e.g. hot-spot classes).
    Colours(Vec<Rgba>),
    /// One value per shape, binned into the palette by quantiles of the finite values; `None` is grey.
    Values {
        /// Values aligned with the shapes.
        values: Vec<Option<f64>>,
        /// The ramp.
        palette: Palette,
    },
}

/// Everything [`render_png`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MapSpec {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels; `None` derives it from the data's aspect ratio.
    pub height: Option<u32>,
    /// Shapes to fill.
    pub shapes: Vec<Shape>,
    /// Their fills.
    pub fill: Fill,
    /// Outline colour of shapes (`None`: no outline).
    pub outline: Option<Rgba>,
    /// Points drawn on top (e.g. incidents).
    pub points: Vec<(f64, f64)>,
    /// Colour of the points.
    pub point_colour: Rgba,
    /// Radius of the points in pixels.
    pub point_radius_px: f32,
    /// Treat coordinates as lon/lat degrees (scale x by cos of the middle latitude).
    pub geographic: bool,
    /// Background colour.
    pub background: Rgba,
    /// Legend swatches drawn in the lower-left corner, in order.
    pub legend: Vec<Rgba>,
}

impl MapSpec {
    /// An 800-pixel-wide lon/lat map with thin grey outlines, no points, and the fill's legend.
    pub fn new(shapes: Vec<Shape>, fill: Fill) -> Self {
        let legend = match &fill {
            Fill::Values { palette, .. } => palette.colours().to_vec(),
            Fill::Colours(_) => Vec::new(),
        };
        MapSpec {
            width: 800,
            height: None,
            shapes,
            fill,
            outline: Some(Rgba(120, 120, 120, 160)),
            points: Vec::new(),
            point_colour: Rgba(0, 0, 0, 120),
            point_radius_px: 1.0,
            geographic: true,
            background: Rgba(255, 255, 255, 255),
            legend,
        }
    }
}

/// Quantile class (0..k) of each value among the finite values; `None` stays `None`.
pub fn quantile_classes(values: &[Option<f64>], k: usize) -> Vec<Option<usize>> {
    let mut sorted: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    sorted.sort_by(f64::total_cmp);
    let k = k.max(1);
    values
        .iter()
        .map(|v| {
            let v = (*v).filter(|v| v.is_finite())?;
            if sorted.len() < 2 {
                return Some(k - 1);
            }
            // Rank of the value (count of strictly smaller values) scaled to k classes.
            let below = sorted.partition_point(|x| *x < v);
            Some((below * k / sorted.len()).min(k - 1))
        })
        .collect()
}

/// Renders the map to PNG bytes.
pub fn render_png(spec: &MapSpec) -> Result<Vec<u8>, Error> {
    let colours: Vec<Rgba> = match &spec.fill {
        Fill::Colours(c) => c.clone(),
        Fill::Values { values, palette } => {
            let ramp = palette.colours();
            quantile_classes(values, ramp.len())
                .into_iter()
                .map(|c| c.map(|c| ramp[c]).unwrap_or(Rgba(200, 200, 200, 255)))
                .collect()
        }
    };
    if colours.len() != spec.shapes.len() {
        return Err(Error::FillCount {
            shapes: spec.shapes.len(),
            fills: colours.len(),
        });
    }
    let all = spec
        .shapes
        .iter()
        .flat_map(|s| s.rings.iter().flatten())
        .chain(spec.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Err(Error::Empty);
    }
    let x_scale = if spec.geographic {
        ((y0 + y1) / 2.0).to_radians().cos().max(0.01)
    } else {
        1.0
    };
    let data_w = ((x1 - x0) * x_scale).max(1e-12);
    let data_h = (y1 - y0).max(1e-12);
    let margin = 10.0;
    let width = spec.width;
    let height = spec.height.unwrap_or_else(|| {
        (((f64::from(width) - 2.0 * margin) * data_h / data_w) + 2.0 * margin).clamp(50.0, 8000.0)
            as u32
    });
    if width == 0 || height == 0 || width > 16000 || height > 16000 {
        return Err(Error::Size(width, height));
    }
    let scale = ((f64::from(width) - 2.0 * margin) / data_w)
        .min((f64::from(height) - 2.0 * margin) / data_h);
    let project = |x: f64, y: f64| -> (f32, f32) {
        (
            (margin + (x - x0) * x_scale * scale) as f32,
            (f64::from(height) - margin - (y - y0) * scale) as f32,
        )
    };
    let mut pixmap = Pixmap::new(width, height).ok_or(Error::Size(width, height))?;
    pixmap.fill(colour(spec.background));
    let mut paint = Paint {
        anti_alias: true,
        ..Paint::default()
    };
    let stroke = Stroke {
        width: 0.5,
        ..Stroke::default()
    };
    for (shape, fill) in spec.shapes.iter().zip(&colours) {
        let mut pb = PathBuilder::new();
        for ring in &shape.rings {
            let mut pts = ring.iter().filter(|(x, y)| x.is_finite() && y.is_finite());
            if let Some(&(x, y)) = pts.next() {
                let (px, py) = project(x, y);
                pb.move_to(px, py);
                for &(x, y) in pts {
                    let (px, py) = project(x, y);
                    pb.line_to(px, py);
                }
                pb.close();
            }
        }
        let Some(path) = pb.finish() else { continue };
        paint.set_color(colour(*fill));
        pixmap.fill_path(
            &path,
            &paint,
            FillRule::EvenOdd,
            Transform::identity(),
            None,
        );
        if let Some(outline) = spec.outline {
            paint.set_color(colour(outline));
            pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
        }
    }
    paint.set_color(colour(spec.point_colour));
    for &(x, y) in &spec.points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (px, py) = project(x, y);
        if let Some(circle) = PathBuilder::from_circle(px, py, spec.point_radius_px.max(0.1)) {
            pixmap.fill_path(
                &circle,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
    let swatch = 18.0f32;
    for (k, c) in spec.legend.iter().enumerate() {
        let x = margin as f32 + k as f32 * swatch;
        let y = height as f32 - margin as f32 - swatch;
        if let Some(rect) = Rect::from_xywh(x, y, swatch, swatch) {
            paint.set_color(colour(*c));
            pixmap.fill_rect(rect, &paint, Transform::identity(), None);
        }
    }
    pixmap
        .encode_png()
        .map_err(|e| Error::Encode(e.to_string()))
}

fn colour(c: Rgba) -> tiny_skia::Color {
    tiny_skia::Color::from_rgba8(c.0, c.1, c.2, c.3)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_spread_over_the_ramp() {
        let v: Vec<Option<f64>> = (0..70).map(|i| Some(f64::from(i))).chain([None]).collect();
        let c = quantile_classes(&v, 7);
        assert_eq!(c[0], Some(0));
        assert_eq!(c[69], Some(6));
        assert_eq!(c[70], None);
    }

    #[test]
    fn a_ramp_is_continuous_between_its_colours() {
        let viridis = Palette::Viridis;
        assert_eq!(viridis.at(-1.0), viridis.colours()[0]);
        assert_eq!(viridis.at(1.0), Rgba(253, 231, 37, 255));
        // Halfway between the second and third anchors.
        assert_eq!(viridis.at(0.375), Rgba(46, 114, 140, 255));
    }

    #[test]
    fn empty_input_is_an_error_not_a_panic() {
        let spec = MapSpec::new(vec![], Fill::Colours(vec![]));
        assert!(matches!(render_png(&spec), Err(Error::Empty)));
    }

    #[test]
    fn mismatched_fills_are_reported() {
        let spec = MapSpec::new(vec![Shape::default()], Fill::Colours(vec![]));
        assert!(matches!(render_png(&spec), Err(Error::FillCount { .. })));
    }
}
