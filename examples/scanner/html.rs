//! The HTML report: one self-contained page (inline CSS and SVG charts, no
//! scripts, nothing fetched).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pacbot::{ComplianceReport, Severity, ViolationStatus};

use super::report::ReportData;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A colour for a compliance percentage.
fn colour(percent: f64) -> &'static str {
    if percent >= 90.0 {
        "#2e7d32"
    } else if percent >= 70.0 {
        "#f9a825"
    } else {
        "#c62828"
    }
}

/// A donut showing a percentage, with the figure in the middle.
fn donut(percent: f64, label: &str) -> String {
    let r = 54.0_f64;
    let c = 2.0 * std::f64::consts::PI * r;
    let filled = c * percent.clamp(0.0, 100.0) / 100.0;
    format!(
        r##"<svg class="donut" viewBox="0 0 140 140" width="160" height="160" role="img" aria-label="{label} {percent:.1} %">
<circle cx="70" cy="70" r="{r}" fill="none" stroke="#e0e0e0" stroke-width="16"/>
<circle cx="70" cy="70" r="{r}" fill="none" stroke="{col}" stroke-width="16" stroke-dasharray="{filled:.2} {c:.2}" transform="rotate(-90 70 70)"/>
<text x="70" y="72" text-anchor="middle" font-size="22" font-weight="bold">{percent:.1} %</text>
<text x="70" y="94" text-anchor="middle" font-size="11" fill="#555">{label}</text>
</svg>"##,
        label = esc(label),
        col = colour(percent),
    )
}

/// Horizontal bars: (label, percent, note).
fn bars(rows: &[(String, f64, String)]) -> String {
    let h = 26;
    let height = rows.len() * h + 10;
    let mut s = format!(r#"<svg class="bars" viewBox="0 0 620 {height}" width="620" height="{height}" role="img">"#);
    for (i, (label, percent, note)) in rows.iter().enumerate() {
        let y = i * h + 5;
        let w = 3.0 * percent.clamp(0.0, 100.0);
        let _ = write!(
            s,
            r##"<text x="0" y="{ty}" font-size="13">{label}</text><rect x="170" y="{y}" width="300" height="18" fill="#eeeeee"/><rect x="170" y="{y}" width="{w:.1}" height="18" fill="{col}"/><text x="478" y="{ty}" font-size="13">{percent:.1} % {note}</text>"##,
            ty = y + 14,
            label = esc(label),
            col = colour(*percent),
            note = esc(note),
        );
    }
    s.push_str("</svg>");
    s
}

/// A line of compliance over time.
fn trend(points: &[(String, f64)]) -> String {
    let (w, h, pad) = (620.0_f64, 180.0_f64, 30.0_f64);
    let n = points.len().max(2) - 1;
    let x = |i: usize| pad + (w - 2.0 * pad) * (i as f64) / (n as f64);
    let y = |p: f64| h - pad - (h - 2.0 * pad) * p.clamp(0.0, 100.0) / 100.0;
    let path: Vec<String> = points.iter().enumerate().map(|(i, (_, p))| format!("{:.1},{:.1}", x(i), y(*p))).collect();
    let mut s = format!(
        r##"<svg class="trend" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"><line x1="{pad}" y1="{y0:.1}" x2="{x1:.1}" y2="{y0:.1}" stroke="#999"/><line x1="{pad}" y1="{y100:.1}" x2="{x1:.1}" y2="{y100:.1}" stroke="#ddd"/><text x="2" y="{y100t:.1}" font-size="10">100 %</text><text x="2" y="{y0t:.1}" font-size="10">0 %</text><polyline fill="none" stroke="#1565c0" stroke-width="2" points="{pts}"/>"##,
        y0 = y(0.0),
        y100 = y(100.0),
        y0t = y(0.0) + 4.0,
        y100t = y(100.0) + 4.0,
        x1 = w - pad,
        pts = path.join(" "),
    );
    for (i, (label, p)) in points.iter().enumerate() {
        let _ = write!(
            s,
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="#1565c0"><title>{label}: {p:.1} %</title></circle>"##,
            cx = x(i),
            cy = y(*p),
            label = esc(label),
        );
    }
    s.push_str("</svg>");
    s
}

fn compliance_section(s: &mut String, report: &ComplianceReport) {
    s.push_str(r#"<section class="overview">"#);
    s.push_str(&donut(report.overall, "overall"));
    let _ = write!(
        s,
        r#"<div class="figures"><p><b class="overall">{:.1} %</b> compliant across <b>{}</b> assets</p><p><b>{}</b> open, <b>{}</b> exempted, <b>{}</b> unknown</p><p>Mandatory tags: <b>{:.1} %</b> ({} of {} taggable assets)</p></div>"#,
        report.overall,
        report.assets,
        report.open,
        report.exempted,
        report.unknown,
        report.tagging.percent,
        report.tagging.tagged,
        report.tagging.taggable
    );
    s.push_str("</section><h2>By category</h2>");
    let rows: Vec<(String, f64, String)> = report
        .categories
        .iter()
        .filter(|c| c.assessed)
        .map(|c| (c.category.as_str().to_owned(), c.percent, format!("({} open)", c.open)))
        .collect();
    s.push_str(&bars(&rows));
    let worst = super::table::worst(report, 15);
    if !worst.is_empty() {
        s.push_str("<h2>Worst policies</h2><table><tr><th>policy</th><th>name</th><th>severity</th><th>open / in scope</th><th>compliant</th></tr>");
        for p in worst {
            let _ = write!(
                s,
                r#"<tr><td><code>{}</code></td><td>{}</td><td class="sev-{sev}">{sev}</td><td>{} / {}</td><td>{:.1} %</td></tr>"#,
                esc(&p.policy_id),
                esc(&p.name),
                p.open,
                p.assets_in_scope,
                p.percent,
                sev = p.severity.as_str(),
            );
        }
        s.push_str("</table>");
    }
}

/// The page.
pub fn page(data: &ReportData) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let title = match &data.group {
        Some(g) => format!("Compliance report: {g}"),
        None => "Compliance report".to_owned(),
    };
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{t}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}}
h1{{margin-bottom:0}} .meta{{color:#666}} .overview{{display:flex;gap:2em;align-items:center}}
table{{border-collapse:collapse;width:100%;font-size:13px}} td,th{{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}}
.sev-critical{{color:#b71c1c;font-weight:bold}} .sev-high{{color:#c62828}} .sev-medium{{color:#ef6c00}} .sev-low{{color:#555}}
code{{font-size:12px}}
</style></head><body><h1>{t}</h1>"#,
        t = esc(&title)
    );
    let _ = write!(
        s,
        r#"<p class="meta">Generated {} from <code>{}</code>"#,
        data.generated_at.to_rfc3339(),
        esc(&data.database)
    );
    if let Some(scan) = &data.scan {
        let _ = write!(
            s,
            " · latest scan {} ({}) {} at {}, {} assets",
            scan.id,
            esc(&scan.label),
            scan.status,
            scan.started_at.to_rfc3339(),
            scan.counts.assets_seen
        );
        for f in &scan.failed_scopes {
            let _ = write!(s, "<br>partial: {} failed: {}", esc(&f.scope.to_string()), esc(&f.error));
        }
    }
    s.push_str("</p>");
    match &data.compliance {
        Some(snap) => compliance_section(&mut s, &snap.report),
        None => s.push_str("<p>No compliance snapshot yet: run a scan.</p>"),
    }
    if !data.groups.is_empty() {
        s.push_str("<h2>By asset group</h2>");
        let rows: Vec<(String, f64, String)> = data
            .groups
            .iter()
            .map(|g| {
                let name = g.report.group.clone().unwrap_or_default();
                (name, g.report.overall, format!("({} assets, {} open)", g.report.assets, g.report.open))
            })
            .collect();
        s.push_str(&bars(&rows));
    }
    if data.trend.len() > 1 {
        s.push_str("<h2>Over time</h2>");
        let points: Vec<(String, f64)> =
            data.trend.iter().map(|t| (t.at.format("%Y-%m-%d %H:%M").to_string(), t.report.overall)).collect();
        s.push_str(&trend(&points));
    }
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for v in data.violations.iter().filter(|v| v.status == ViolationStatus::Open) {
        *by_sev.entry(v.severity).or_default() += 1;
    }
    if !by_sev.is_empty() {
        s.push_str("<h2>Open violations by severity</h2><ul>");
        for (sev, n) in by_sev.iter().rev() {
            let _ = write!(s, r#"<li class="sev-{0}">{0}: {n}</li>"#, sev.as_str());
        }
        s.push_str("</ul>");
    }
    let _ = write!(s, "<h2>Violations ({})</h2>", data.violations.len());
    let mut vs: Vec<&pacbot::Violation> = data.violations.iter().collect();
    vs.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.key.cmp(&b.key)));
    s.push_str(
        "<table><tr><th>severity</th><th>status</th><th>policy</th><th>resource</th><th>reason</th><th>since</th></tr>",
    );
    const MAX_ROWS: usize = 500;
    for v in vs.iter().take(MAX_ROWS) {
        let _ = write!(
            s,
            r#"<tr><td class="sev-{sev}">{sev}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>"#,
            v.status.as_str(),
            esc(&v.key.policy_id),
            esc(&v.key.asset.to_string()),
            esc(&v.reason),
            v.created_at.format("%Y-%m-%d"),
            sev = v.severity.as_str(),
        );
    }
    s.push_str("</table>");
    if vs.len() > MAX_ROWS {
        let _ = write!(s, "<p>… and {} more: use the CSV or JSON report for all.</p>", vs.len() - MAX_ROWS);
    }
    s.push_str("</body></html>\n");
    s
}
