//! Text output: the scan summary and the `report --format table` view.

use std::io::{self, Write};

use pacbot::{ComplianceReport, PolicyCompliance, TransitionKind};

use super::report::ReportData;
use super::scan::ScanOutcome;

fn count(map: &std::collections::BTreeMap<TransitionKind, usize>, k: TransitionKind) -> usize {
    map.get(&k).copied().unwrap_or(0)
}

/// The policies with the most open violations, worst severity first on ties.
pub fn worst(report: &ComplianceReport, n: usize) -> Vec<&PolicyCompliance> {
    let mut ps: Vec<&PolicyCompliance> = report.policies.iter().filter(|p| p.open > 0).collect();
    ps.sort_by(|a, b| {
        a.percent
            .total_cmp(&b.percent)
            .then(b.severity.cmp(&a.severity))
            .then(b.open.cmp(&a.open))
            .then(a.policy_id.cmp(&b.policy_id))
    });
    ps.truncate(n);
    ps
}

/// The overall figure, per category, tagging, worst policies.
pub fn compliance(out: &mut dyn Write, report: &ComplianceReport, top: usize) -> io::Result<()> {
    writeln!(
        out,
        "Compliance: {:.1} %   ({} assets; {} open, {} exempted, {} unknown)",
        report.overall, report.assets, report.open, report.exempted, report.unknown
    )?;
    for c in &report.categories {
        if c.assessed {
            writeln!(
                out,
                "  {:<11} {:>5.1} %   {:>4} open  ({} policies)",
                c.category.as_str(),
                c.percent,
                c.open,
                c.policies
            )?;
        } else {
            writeln!(out, "  {:<11}     -     not assessed", c.category.as_str())?;
        }
    }
    let t = &report.tagging;
    if !t.missing.is_empty() {
        let missing: Vec<String> = t.missing.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "  mandatory tags: {:.1} %  ({} of {} taggable assets; missing: {})",
            t.percent,
            t.tagged,
            t.taggable,
            missing.join(", ")
        )?;
    }
    let worst = worst(report, top);
    if !worst.is_empty() {
        writeln!(out)?;
        writeln!(out, "Worst policies:")?;
        writeln!(out, "  {:<44} {:<9} {:>9} {:>8}", "POLICY", "SEVERITY", "OPEN/ALL", "COMPLY")?;
        for p in worst {
            writeln!(
                out,
                "  {:<44} {:<9} {:>9} {:>6.1} %",
                p.policy_id,
                p.severity.as_str(),
                format!("{}/{}", p.open, p.assets_in_scope),
                p.percent
            )?;
        }
    }
    Ok(())
}

/// Per asset group: the figure, assets and open violations.
pub fn groups(out: &mut dyn Write, reports: &[&ComplianceReport]) -> io::Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Asset groups:")?;
    for g in reports {
        writeln!(
            out,
            "  {:<24} {:>5.1} %   {:>4} assets  {:>4} open",
            g.group.as_deref().unwrap_or("-"),
            g.overall,
            g.assets,
            g.open
        )?;
    }
    Ok(())
}

/// What `scan` prints.
pub fn scan_summary(out: &mut dyn Write, o: &ScanOutcome, top: usize, demo: bool) -> io::Result<()> {
    let s = &o.scan;
    let c = &s.counts;
    writeln!(
        out,
        "Scan {} ({}) {}: {} assets ({} new, {} removed), {} checks",
        s.id,
        s.label,
        s.status,
        c.assets_seen,
        c.assets_new,
        c.assets_removed,
        c.passed + c.failed + c.errors
    )?;
    let t = &o.transitions;
    writeln!(
        out,
        "Violations: {} opened, {} reopened, {} closed as fixed, {} closed as gone, {} closed as not applicable, \
         {} exempted, {} still open",
        count(t, TransitionKind::Opened),
        count(t, TransitionKind::Reopened),
        count(t, TransitionKind::ClosedFixed),
        count(t, TransitionKind::ClosedResourceGone),
        count(t, TransitionKind::ClosedNotApplicable),
        count(t, TransitionKind::Exempted),
        count(t, TransitionKind::StillOpen),
    )?;
    for f in &s.failed_scopes {
        writeln!(out, "  partial: {} failed: {}", f.scope, f.error)?;
    }
    writeln!(out)?;
    compliance(out, &o.compliance, top)?;
    groups(out, &o.groups.iter().collect::<Vec<_>>())?;
    writeln!(out)?;
    writeln!(out, "Database: {}", o.database)?;
    if demo {
        writeln!(out)?;
        writeln!(out, "Next: run the same scan again (nothing new opens), then `scan --demo fixed` to see fixes")?;
        writeln!(out, "close violations; `report --format html -o report.html` writes a report with charts.")?;
    }
    Ok(())
}

/// `report --format table`.
pub fn report(out: &mut dyn Write, data: &ReportData, top: usize) -> io::Result<()> {
    match &data.scan {
        Some(s) => writeln!(
            out,
            "Latest scan {} ({}) {} at {}: {} assets",
            s.id,
            s.label,
            s.status,
            s.started_at.to_rfc3339(),
            s.counts.assets_seen
        )?,
        None => writeln!(out, "No scan yet: run `scanner scan`.")?,
    }
    if let Some(g) = &data.group {
        writeln!(out, "Group: {g}")?;
    }
    if let Some(snap) = &data.compliance {
        writeln!(out)?;
        compliance(out, &snap.report, top)?;
    }
    groups(out, &data.groups.iter().map(|s| &s.report).collect::<Vec<_>>())?;
    if data.trend.len() > 1 {
        writeln!(out)?;
        let points: Vec<String> = data.trend.iter().map(|s| format!("{:.1}", s.report.overall)).collect();
        writeln!(out, "Trend (oldest first): {} %", points.join(" → "))?;
    }
    writeln!(out)?;
    writeln!(out, "Violations ({}):", data.violations.len())?;
    let mut vs: Vec<&pacbot::Violation> = data.violations.iter().collect();
    vs.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.key.cmp(&b.key)));
    for v in vs.iter().take(top.max(1)) {
        writeln!(out, "  {:<9} {:<9} {:<40} {}", v.severity.as_str(), v.status.as_str(), v.key.policy_id, v.key.asset)?;
    }
    if vs.len() > top {
        writeln!(out, "  … {} more (use --format json or csv for all)", vs.len() - top)?;
    }
    writeln!(out)?;
    writeln!(out, "Database: {}", data.database)?;
    Ok(())
}
