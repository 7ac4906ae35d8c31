//! Map and HTML report of a hot-spot run: class colours, a PNG choropleth through `jikimi-maps`, and a
//! short self-contained HTML page (the PNG is referenced by file name, next to the page).

use geo::MultiPolygon;
use jikimi_maps::{Fill, MapSpec, Rgba, Shape, render_png};

use crate::error::Result;
use crate::hotspots::{HotspotClass, HotspotReport};

/// The colour of each hot-spot class (ColorBrewer RdBu, grey for islands).
pub fn class_colour(class: HotspotClass) -> Rgba {
    match class {
        HotspotClass::Hot99 => Rgba::hex(0xb2182b),
        HotspotClass::Hot95 => Rgba::hex(0xef8a62),
        HotspotClass::Hot90 => Rgba::hex(0xfddbc7),
        HotspotClass::NotSignificant => Rgba::hex(0xf2f2f2),
        HotspotClass::Cold90 => Rgba::hex(0xd1e5f0),
        HotspotClass::Cold95 => Rgba::hex(0x67a9cf),
        HotspotClass::Cold99 => Rgba::hex(0x2166ac),
        HotspotClass::Island => Rgba::hex(0x9e9e9e),
    }
}

/// Polygons as map shapes.
pub fn shapes(polygons: &[MultiPolygon<f64>]) -> Vec<Shape> {
    polygons
        .iter()
        .map(|mp| Shape {
            rings: mp
                .0
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(|ring| ring.coords().map(|c| (c.x, c.y)).collect())
                .collect(),
        })
        .collect()
}

/// A PNG of the hot-spot classes.
pub fn hotspot_png(
    polygons: &[MultiPolygon<f64>],
    report: &HotspotReport,
    geographic: bool,
    width: u32,
) -> Result<Vec<u8>> {
    let colours = report.classes.iter().map(|c| class_colour(*c)).collect();
    let mut spec = MapSpec::new(shapes(polygons), Fill::Colours(colours));
    spec.geographic = geographic;
    spec.width = width;
    spec.outline = if polygons.len() > 2000 {
        None
    } else {
        Some(Rgba(150, 150, 150, 140))
    };
    spec.legend = HotspotClass::ALL[..7]
        .iter()
        .map(|c| class_colour(*c))
        .collect();
    Ok(render_png(&spec)?)
}

/// A short HTML report: what was computed, global Moran, class counts, the map.
pub fn hotspot_html(
    title: &str,
    variable: &str,
    weights_desc: &str,
    report: &HotspotReport,
    png_name: Option<&str>,
    notes: &[String],
) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let m = &report.moran;
    let mut rows = String::new();
    for class in HotspotClass::ALL {
        let n = report.classes.iter().filter(|c| **c == class).count();
        let c = class_colour(class);
        rows.push_str(&format!(
            "<tr><td><span style=\"display:inline-block;width:1em;height:1em;background:rgb({},{},{})\"></span> {}</td><td>{n}</td></tr>\n",
            c.0,
            c.1,
            c.2,
            class.as_str()
        ));
    }
    let p_sim = m
        .p_sim
        .map(|p| format!("{p:.4}"))
        .unwrap_or_else(|| "not run".into());
    let map = png_name
        .map(|p| {
            format!(
                "<img src=\"{}\" alt=\"hot-spot map\" style=\"max-width:100%\">",
                esc(p)
            )
        })
        .unwrap_or_default();
    let notes: String = notes
        .iter()
        .map(|n| format!("<li>{}</li>", esc(n)))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{padding:.2em .8em;text-align:left}}</style></head><body>\n\
<h1>{t}</h1>\n<p>Variable <b>{v}</b>, {n} areas, weights: {w}. Getis-Ord Gi* classes after Benjamini-Hochberg FDR \
(two-sided; 99/95/90% = q &le; 0.01/0.05/0.10). Definitions as PySAL/esda.</p>\n\
<h2>Global Moran's I</h2>\n<table><tr><th>I</th><td>{i:.6}</td></tr><tr><th>E[I]</th><td>{ei:.6}</td></tr>\
<tr><th>z (normal)</th><td>{z:.4}</td></tr><tr><th>p (normal, two-tailed)</th><td>{p:.3e}</td></tr>\
<tr><th>p (permutation, {perms})</th><td>{ps}</td></tr></table>\n<h2>Hot and cold spots</h2>\n<table>{rows}</table>\n{map}\n\
<h2>Notes</h2><ul>{notes}</ul>\n</body></html>\n",
        t = esc(title),
        v = esc(variable),
        n = report.classes.len(),
        w = esc(weights_desc),
        i = m.i,
        ei = m.ei,
        z = m.z_norm,
        p = m.p_norm,
        perms = m.permutations,
        ps = p_sim,
    )
}
