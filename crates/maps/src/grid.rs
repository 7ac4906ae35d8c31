//! Square-grid maps: one colour per cell of a planar grid (metres, north up), drawn pixel-exact with no
//! anti-aliasing, for surfaces computed cell by cell (the forecast's risk map) with marker cells on top.
//!
//! The caller chooses every colour (typically through [`crate::Palette::at`]); this module only lays cells out.

use crate::{Error, Rgba};

/// Largest image side, in pixels, a grid map may have.
const MAX_SIDE_PX: u64 = 16_000;

/// One painted cell: any point inside the cell, and its colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridCell {
    /// East coordinate of a point in the cell.
    pub x: f64,
    /// North coordinate of a point in the cell.
    pub y: f64,
    /// The cell's colour.
    pub colour: Rgba,
}

/// Everything [`GridMap::raster`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GridMap {
    /// Cell side in the coordinates' unit; cell `(⌊x / cell⌋, ⌊y / cell⌋)` holds point `(x, y)`.
    pub cell: f64,
    /// Pixels per cell side.
    pub px_per_cell: u32,
    /// Colour of cells inside the extent that nothing paints.
    pub background: Rgba,
    /// The surface: its cells set the image's extent; a later cell paints over an earlier one.
    pub cells: Vec<GridCell>,
    /// Painted after the surface (e.g. chosen sites); a marker outside the surface's extent is not drawn.
    pub markers: Vec<GridCell>,
}

/// A straight (not premultiplied) RGBA image, top row first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// One colour per pixel, row-major.
    pub pixels: Vec<Rgba>,
}

impl GridMap {
    /// Lays the cells out: the image spans the surface's cells from west to east and north to south. A map with no
    /// surface is one pixel of the background.
    pub fn raster(&self) -> Result<Raster, Error> {
        let px = u64::from(self.px_per_cell.max(1));
        let key = |c: &GridCell| {
            (
                (c.x / self.cell).floor() as i64,
                (c.y / self.cell).floor() as i64,
            )
        };
        let Some((col_min, col_max, row_min, row_max)) =
            self.cells.iter().map(key).fold(None, |acc, (c, r)| {
                let (c0, c1, r0, r1) = acc.unwrap_or((c, c, r, r));
                Some((c0.min(c), c1.max(c), r0.min(r), r1.max(r)))
            })
        else {
            return Ok(Raster {
                width: 1,
                height: 1,
                pixels: vec![self.background],
            });
        };
        let side = |lo: i64, hi: i64| (hi.abs_diff(lo) + 1).saturating_mul(px);
        let (width, height) = (side(col_min, col_max), side(row_min, row_max));
        if width > MAX_SIDE_PX || height > MAX_SIDE_PX {
            return Err(Error::Size(
                width.min(u64::from(u32::MAX)) as u32,
                height.min(u64::from(u32::MAX)) as u32,
            ));
        }
        let (w, px) = (width as usize, px as usize);
        let mut pixels = vec![self.background; w * height as usize];
        for cell in self.cells.iter().chain(&self.markers) {
            let (c, r) = key(cell);
            if c < col_min || c > col_max || r < row_min || r > row_max {
                continue;
            }
            let x0 = (c - col_min) as usize * px;
            let y0 = (row_max - r) as usize * px; // north up
            for y in y0..y0 + px {
                pixels[y * w + x0..y * w + x0 + px].fill(cell.colour);
            }
        }
        Ok(Raster {
            width: width as u32,
            height: height as u32,
            pixels,
        })
    }
}

impl Raster {
    /// The colour at `(x, y)` from the top-left corner, if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgba> {
        (x < self.width && y < self.height)
            .then(|| self.pixels[y as usize * self.width as usize + x as usize])
    }

    /// Encodes the image as PNG bytes.
    pub fn encode_png(&self) -> Result<Vec<u8>, Error> {
        let mut pixmap = tiny_skia::Pixmap::new(self.width, self.height)
            .ok_or(Error::Size(self.width, self.height))?;
        for (out, c) in pixmap.pixels_mut().iter_mut().zip(&self.pixels) {
            *out = tiny_skia::ColorU8::from_rgba(c.0, c.1, c.2, c.3).premultiply();
        }
        pixmap
            .encode_png()
            .map_err(|e| Error::Encode(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RED: Rgba = Rgba(230, 20, 20, 255);
    const GREY: Rgba = Rgba(235, 235, 235, 255);

    fn at(x: f64, y: f64, colour: Rgba) -> GridCell {
        GridCell { x, y, colour }
    }

    #[test]
    fn cells_are_laid_out_north_up_with_markers_on_top() {
        // Two cells side by side in one row, one cell north of the first; a marker north-east.
        let (blue, green) = (Rgba::hex(0x0000ff), Rgba::hex(0x00ff00));
        let map = GridMap {
            cell: 250.0,
            px_per_cell: 2,
            background: GREY,
            cells: vec![
                at(0.0, 0.0, blue),
                at(250.0, 0.0, green),
                at(0.0, 250.0, blue),
            ],
            markers: vec![at(250.0, 250.0, RED), at(5_000.0, 0.0, RED)],
        };
        let raster = map.raster().unwrap();
        assert_eq!((raster.width, raster.height), (4, 4));
        assert_eq!(raster.pixel(0, 0), Some(blue));
        assert_eq!(raster.pixel(3, 1), Some(RED));
        assert_eq!(raster.pixel(2, 2), Some(green));
        assert_eq!(raster.pixel(4, 0), None);
        let png = raster.encode_png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn an_empty_map_is_one_background_pixel_and_a_huge_one_an_error() {
        let mut map = GridMap {
            cell: 1.0,
            px_per_cell: 4,
            background: GREY,
            cells: vec![],
            markers: vec![at(0.0, 0.0, RED)],
        };
        assert_eq!(map.raster().unwrap().pixels, vec![GREY]);
        map.cells = vec![at(0.0, 0.0, RED), at(1e9, 0.0, RED)];
        assert!(matches!(map.raster(), Err(Error::Size(..))));
    }
}
