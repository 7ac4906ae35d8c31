//! The fixed 250 m evaluation grid in UTM zone 17N (EPSG:32617) and the study area built on it.
//!
//! Cells are aligned at x0 = 609500, y0 = 4827000: column = floor((x - x0) / 250), row = floor((y - y0) / 250).
//! The study area is every cell holding at least one event anywhere in the file; its cells get dense
//! integer ids `0..n_cells` (sorted by row, then column) so that models work on plain vectors.

use proj4rs::proj::Proj;

use crate::Error;

/// Easting of the grid origin (metres, EPSG:32617).
pub const X0: f64 = 609_500.0;
/// Northing of the grid origin (metres, EPSG:32617).
pub const Y0: f64 = 4_827_000.0;
/// Cell side (metres).
pub const CELL: f64 = 250.0;

/// Projects WGS84 degrees to UTM zone 17N (EPSG:32617) with proj4rs, a pure-Rust port of PROJ's
/// extended transverse Mercator (accurate to PROJ within micrometres).
pub struct Projector {
    from: Proj,
    to: Proj,
}

impl Projector {
    /// Builds the WGS84 → EPSG:32617 projector.
    pub fn utm17n() -> Result<Self, Error> {
        let from = Proj::from_proj_string("+proj=longlat +datum=WGS84 +no_defs")
            .map_err(|e| Error::Projection(e.to_string()))?;
        let to = Proj::from_proj_string("+proj=utm +zone=17 +datum=WGS84 +units=m +no_defs")
            .map_err(|e| Error::Projection(e.to_string()))?;
        Ok(Self { from, to })
    }

    /// Returns (easting, northing) in metres for a latitude and longitude in degrees.
    pub fn project(&self, lat: f64, lon: f64) -> Result<(f64, f64), Error> {
        let mut p = (lon.to_radians(), lat.to_radians(), 0.0);
        proj4rs::transform::transform(&self.from, &self.to, &mut p)
            .map_err(|e| Error::Projection(e.to_string()))?;
        Ok((p.0, p.1))
    }

    /// Returns (latitude, longitude) in degrees for UTM 17N metres (used to write GeoJSON).
    pub fn unproject(&self, x: f64, y: f64) -> Result<(f64, f64), Error> {
        let mut p = (x, y, 0.0);
        proj4rs::transform::transform(&self.to, &self.from, &mut p)
            .map_err(|e| Error::Projection(e.to_string()))?;
        Ok((p.1.to_degrees(), p.0.to_degrees()))
    }
}

/// Grid column and row of a projected point.
pub fn cell_of(x: f64, y: f64) -> (i32, i32) {
    (
        ((x - X0) / CELL).floor() as i32,
        ((y - Y0) / CELL).floor() as i32,
    )
}

/// The study area: the occupied cells, with dense ids and a bounding raster for smoothing.
#[derive(Debug, Clone)]
pub struct StudyArea {
    /// (column, row) of each study cell, indexed by cell id; sorted by (row, column).
    pub cells: Vec<(i32, i32)>,
    /// Smallest column of any study cell (raster origin).
    pub col_min: i32,
    /// Smallest row of any study cell (raster origin).
    pub row_min: i32,
    /// Raster width in cells.
    pub width: usize,
    /// Raster height in cells.
    pub height: usize,
    /// Raster index of each study cell, indexed by cell id.
    pub raster_idx: Vec<usize>,
    /// Cell id of each raster position, or `u32::MAX` outside the study area.
    pub id_of_raster: Vec<u32>,
}

impl StudyArea {
    /// Builds the study area from every (column, row) that holds an event; duplicates are fine.
    pub fn from_cells(mut occupied: Vec<(i32, i32)>) -> Self {
        occupied.sort_by_key(|&(c, r)| (r, c));
        occupied.dedup();
        let col_min = occupied.iter().map(|c| c.0).min().unwrap_or(0);
        let col_max = occupied.iter().map(|c| c.0).max().unwrap_or(-1);
        let row_min = occupied.iter().map(|c| c.1).min().unwrap_or(0);
        let row_max = occupied.iter().map(|c| c.1).max().unwrap_or(-1);
        let width = (col_max - col_min + 1).max(0) as usize;
        let height = (row_max - row_min + 1).max(0) as usize;
        let mut id_of_raster = vec![u32::MAX; width * height];
        let mut raster_idx = Vec::with_capacity(occupied.len());
        for (id, &(c, r)) in occupied.iter().enumerate() {
            let ri = (r - row_min) as usize * width + (c - col_min) as usize;
            id_of_raster[ri] = id as u32;
            raster_idx.push(ri);
        }
        Self {
            cells: occupied,
            col_min,
            row_min,
            width,
            height,
            raster_idx,
            id_of_raster,
        }
    }

    /// Number of study cells.
    pub fn n_cells(&self) -> usize {
        self.cells.len()
    }

    /// Cell id of a (column, row), if it is in the study area.
    pub fn id(&self, col: i32, row: i32) -> Option<u32> {
        let c = col - self.col_min;
        let r = row - self.row_min;
        if c < 0 || r < 0 || c as usize >= self.width || r as usize >= self.height {
            return None;
        }
        let id = self.id_of_raster[r as usize * self.width + c as usize];
        (id != u32::MAX).then_some(id)
    }

    /// UTM coordinates of the centre of a study cell.
    pub fn centre(&self, id: usize) -> (f64, f64) {
        let (c, r) = self.cells[id];
        (X0 + (c as f64 + 0.5) * CELL, Y0 + (r as f64 + 0.5) * CELL)
    }
}
