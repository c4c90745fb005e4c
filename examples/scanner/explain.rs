//! `explain POLICY`: the policy's metadata, its rules, and its current results.

use std::io::Write;

use pacbot::store::{PageRequest, ScanStatus, Store, StoreExt, ViolationFilter};
use pacbot::{Engine, ViolationStatus};

use super::cli::ExplainArgs;
use super::config::{Loaded, problems_error};
use super::error::{EXIT_OK, Error, Result};
use super::run::write_error;

/// `explain`.
pub async fn run(store: &dyn Store, loaded: &Loaded, args: &ExplainArgs, out: &mut dyn Write) -> Result<u8> {
    let set = super::packs::load(loaded, &[]).map_err(|p| problems_error(&p))?;
    let origin = set.origins.get(&args.policy).cloned();
    let engine = Engine::new(set.policies, loaded.config.groups.clone())?;
    let Some(policy) = engine.policy(&args.policy) else {
        let mut ids: Vec<&str> = engine.policies().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        let close: Vec<&str> =
            ids.iter().copied().filter(|id| id.contains(args.policy.as_str()) || args.policy.contains(id)).collect();
        let hint = if close.is_empty() { String::new() } else { format!(" (did you mean {}?)", close.join(", ")) };
        return Err(Error::msg(format!("no policy `{}` in the configured packs{hint}", args.policy)));
    };
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(write_error);
    let m = policy.meta();
    w(out, format!("{}: {}", m.id, m.name))?;
    w(out, format!("  severity {}, category {}{}", m.severity, m.category, if m.enabled { "" } else { ", disabled" }))?;
    if let Some(o) = origin {
        w(out, format!("  from {o}"))?;
    }
    if let Some(scope) = &m.scope {
        w(out, format!("  scope: asset group `{scope}`"))?;
    }
    if !m.description.is_empty() {
        w(out, format!("  why: {}", m.description))?;
    }
    if !m.resolution.is_empty() {
        w(out, format!("  fix: {}", m.resolution))?;
    }
    for (framework, controls) in &m.frameworks {
        w(out, format!("  {framework}: {}", controls.join(", ")))?;
    }
    if let Some(fix) = &m.fix {
        w(out, format!("  auto-fix: {fix}"))?;
    }
    for r in policy.rules() {
        w(
            out,
            format!("\nrule `{}` on {}:", r.id(), r.kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")),
        )?;
        match r.definition() {
            Some(def) => {
                let yaml = serde_yaml_ng::to_string(&def).map_err(|e| Error::with("cannot write YAML", e))?;
                for line in yaml.lines() {
                    w(out, format!("  {line}"))?;
                }
            }
            None => w(out, format!("  (in code) {}", r.description()))?,
        }
    }

    let latest = store
        .scans(&PageRequest::first(5))
        .await?
        .items
        .into_iter()
        .find(|s| matches!(s.status, ScanStatus::Complete | ScanStatus::Partial));
    match latest {
        None => w(out, "\nno committed scan yet".into())?,
        Some(scan) => {
            w(out, format!("\nresults of scan {} ({}):", scan.id, scan.started_at.to_rfc3339()))?;
            for r in store.scan_results(scan.id).await?.iter().filter(|r| r.policy_id == m.id) {
                w(
                    out,
                    format!(
                        "  rule {}: {} passed, {} failed, {} errors, {} not applicable",
                        r.rule_id, r.passed, r.failed, r.errors, r.not_applicable
                    ),
                )?;
            }
            let filter = ViolationFilter {
                policies: vec![m.id.clone()],
                statuses: vec![ViolationStatus::Open, ViolationStatus::Exempted, ViolationStatus::Unknown],
                ..ViolationFilter::default()
            };
            let vs = store.all_violations(filter).await?;
            w(out, format!("\ncurrent violations: {}", vs.len()))?;
            for v in vs.iter().take(args.limit) {
                let exc = v.exception_id.as_ref().map(|e| format!(" (exception {e})")).unwrap_or_default();
                w(out, format!("  {:<9} {}  {}{exc}", v.status.as_str(), v.key.asset, v.reason))?;
            }
            if vs.len() > args.limit {
                w(out, format!("  … {} more (`report --policy {}`)", vs.len() - args.limit, m.id))?;
            }
        }
    }
    Ok(EXIT_OK)
}
