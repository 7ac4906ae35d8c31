//! The triage report as one self-contained HTML page: totals, banks, categories and series with counts, the
//! unknown items, the unreadable files and the videos not hashed.
//!
//! Pure (report in, string out). The page shows no image content: no `<img>`, no thumbnails, no data URIs, only
//! paths and hashes. It loads nothing and runs nothing: inline CSS only, and a Content-Security-Policy that forbids
//! scripts, images and every fetch, so even a path crafted to break out of its cell (every path is HTML-escaped)
//! could not run. Known items are listed by path too, but only as text, so an analyst can find them.

use super::report::Report;
use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#111}\
table{border-collapse:collapse;margin:0 0 1.5rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;\
vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.85em;word-break:break-all}\
caption{text-align:left;font-weight:bold;padding:.25rem 0}";

/// Renders `report` as a complete HTML document.
pub fn render(report: &Report) -> String {
    let mut h = String::new();
    let t = &report.totals;
    // `write!` to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>Triage report: {root}</title><style>{STYLE}</style></head><body>\n\
         <h1>Triage report</h1>\n<p>Directory: <code>{root}</code></p>",
        root = escape(&report.root)
    );
    let _ = writeln!(
        h,
        "<table><caption>Totals</caption><tbody>\
         <tr><th scope=\"row\">Files</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Images hashed</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Videos hashed</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Videos not hashed (build with --features video)</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Unreadable</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Not images or videos</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Known (matched a bank)</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Unknown</th><td class=\"n\">{}</td></tr>\
         <tr><th scope=\"row\">Share pre-categorised</th><td class=\"n\">{:.1}%</td></tr>\
         <tr><th scope=\"row\">Duplicate media files</th><td class=\"n\">{}</td></tr>\
         </tbody></table>",
        t.files,
        t.images_hashed,
        t.videos_hashed,
        t.videos_not_hashed,
        t.unreadable,
        t.not_media,
        t.known,
        t.unknown,
        t.share_precategorised * 100.0,
        t.duplicate_media_files,
    );
    h.push_str(
        "<table><caption>Banks</caption><thead><tr><th>Bank</th><th>Entries</th><th>Distance</th>\
         <th>Dihedral</th><th>Files matched</th></tr></thead><tbody>",
    );
    for b in &report.banks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&b.name),
            b.entries,
            b.distance,
            if b.dihedral { "yes" } else { "no" },
            b.files_matched
        );
    }
    h.push_str("</tbody></table>\n");
    h.push_str(
        "<table><caption>Categories and series</caption><thead><tr><th>Bank</th><th>Category</th>\
         <th>Series</th><th>Files</th></tr></thead><tbody>",
    );
    for c in &report.categories {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><em>all</em></td><td class=\"n\">{}</td></tr>",
            escape(&c.bank),
            escape(&c.category),
            c.files
        );
        for s in &c.series {
            let _ = write!(
                h,
                "<tr><td></td><td></td><td>{}</td><td class=\"n\">{}</td></tr>",
                escape(&s.series),
                s.files
            );
        }
    }
    h.push_str("</tbody></table>\n");
    let _ = write!(
        h,
        "<table><caption>Unknown items ({})</caption><thead><tr><th>Path</th><th>Kind</th><th>PDQ</th>\
         <th>Quality</th><th>SHA-256</th></tr></thead><tbody>",
        report.unknown.len()
    );
    for u in &report.unknown {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td>\
             <td><code>{}</code></td></tr>",
            escape(&u.path),
            kind_name(u.kind),
            u.pdq.map(|p| p.to_hex()).unwrap_or_default(),
            u.quality.map(|q| q.to_string()).unwrap_or_default(),
            escape(&u.sha256)
        );
    }
    h.push_str("</tbody></table>\n");
    let _ = write!(
        h,
        "<table><caption>Known items ({})</caption><thead><tr><th>Path</th><th>Bank</th><th>Category</th>\
         <th>Series</th><th>Distance</th></tr></thead><tbody>",
        report.known.len()
    );
    for k in &report.known {
        for m in &k.matches {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                escape(&k.path),
                escape(&m.bank),
                escape(&m.category),
                escape(&m.series),
                m.distance
            );
        }
    }
    h.push_str("</tbody></table>\n");
    for (title, list) in [
        ("Unreadable files", &report.unreadable),
        ("Videos not hashed", &report.videos_not_hashed),
    ] {
        let _ = write!(
            h,
            "<table><caption>{title} ({})</caption><thead><tr><th>Path</th><th>Reason</th></tr></thead><tbody>",
            list.len()
        );
        for s in list {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                escape(&s.path),
                escape(&s.reason)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn kind_name(kind: super::sniff::MediaKind) -> &'static str {
    use super::sniff::MediaKind as K;
    match kind {
        K::Image => "image",
        K::UndecodableImage => "image (undecodable format)",
        K::Video => "video",
        K::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("a/<script>alert('x')</script>&\"b\""),
            "a/&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;b&quot;"
        );
    }
}
