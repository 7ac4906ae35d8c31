//! A small PNG renderer for risk surfaces and placements on a square grid (north up).
//!
//! Self-contained on purpose: a heat map of grid cells plus site markers needs no plotting stack;
//! the workspace's map crate can replace it later. Colours follow a viridis-like ramp of
//! log(1 + risk / median positive risk), so both hot spots and the long tail stay visible.

use crate::Error;

/// A rendered RGB image.
#[derive(Debug, Clone)]
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major RGB bytes, top row first.
    pub rgb: Vec<u8>,
}

const RAMP: [[f64; 3]; 5] = [
    [68.0, 1.0, 84.0],
    [59.0, 82.0, 139.0],
    [33.0, 145.0, 140.0],
    [94.0, 201.0, 98.0],
    [253.0, 231.0, 37.0],
];

/// Colour of a value in [0, 1] on the ramp.
pub fn ramp(t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let i = (t.floor() as usize).min(RAMP.len() - 2);
    let f = t - i as f64;
    std::array::from_fn(|k| (RAMP[i][k] + f * (RAMP[i + 1][k] - RAMP[i][k])).round() as u8)
}

/// Renders points on a `cell`-metre grid (each point painted as its cell) with red site markers.
pub fn render(
    points: &[(f64, f64, f64)],
    cell: f64,
    px_per_cell: usize,
    sites: &[(f64, f64)],
) -> Image {
    let px = px_per_cell.max(1);
    let key = |x: f64, y: f64| ((x / cell).floor() as i64, (y / cell).floor() as i64);
    let (mut c0, mut c1, mut r0, mut r1) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
    for &(x, y, _) in points {
        let (c, r) = key(x, y);
        (c0, c1, r0, r1) = (c0.min(c), c1.max(c), r0.min(r), r1.max(r));
    }
    if points.is_empty() {
        return Image {
            width: 1,
            height: 1,
            rgb: vec![255; 3],
        };
    }
    let (w, h) = ((c1 - c0 + 1) as usize * px, (r1 - r0 + 1) as usize * px);
    let mut rgb = vec![235u8; w * h * 3];
    let mut positive: Vec<f64> = points.iter().map(|p| p.2).filter(|&v| v > 0.0).collect();
    positive.sort_by(|a, b| a.total_cmp(b));
    let median = positive.get(positive.len() / 2).copied().unwrap_or(1.0);
    let top = positive
        .last()
        .map(|&m| (1.0 + m / median).ln())
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let mut paint = |c: i64, r: i64, colour: [u8; 3], inset: usize| {
        if c < c0 || c > c1 || r < r0 || r > r1 {
            return;
        }
        let x0 = (c - c0) as usize * px;
        let y0 = (r1 - r) as usize * px; // north up
        for y in y0 + inset..y0 + px - inset.min(px / 2) {
            for x in x0 + inset..x0 + px - inset.min(px / 2) {
                let o = (y * w + x) * 3;
                rgb[o..o + 3].copy_from_slice(&colour);
            }
        }
    };
    for &(x, y, v) in points {
        let (c, r) = key(x, y);
        let t = if v > 0.0 {
            (1.0 + v / median).ln() / top
        } else {
            0.0
        };
        paint(c, r, ramp(t), 0);
    }
    for &(x, y) in sites {
        let (c, r) = key(x, y);
        paint(c, r, [230, 20, 20], 0);
    }
    Image {
        width: w,
        height: h,
        rgb,
    }
}

/// Encodes an image as PNG bytes.
pub fn encode_png(img: &Image) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| Error::Render(e.to_string()))?;
        writer
            .write_image_data(&img.rgb)
            .map_err(|e| Error::Render(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_north_up_with_markers() {
        // Two cells side by side in one row, one cell north of the first.
        let pts = [(0.0, 0.0, 1.0), (250.0, 0.0, 10.0), (0.0, 250.0, 0.0)];
        let img = render(&pts, 250.0, 2, &[(250.0, 250.0)]);
        assert_eq!((img.width, img.height), (4, 4));
        // Top-right cell is the marker (north-east), bottom-right the hottest (yellow end).
        let pixel = |x: usize, y: usize| img.rgb[(y * 4 + x) * 3..(y * 4 + x) * 3 + 3].to_vec();
        assert_eq!(pixel(2, 0), vec![230, 20, 20]);
        assert_eq!(pixel(2, 2), ramp(1.0).to_vec());
        let png = encode_png(&img).unwrap_or_default();
        assert_eq!(&png[1..4], b"PNG");
    }
}
