//! One scan, end to end, and the continuous loop.

use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pacbot::chrono::Utc;
use pacbot::store::{ScanCommit, ScanRecord, ScanStart, Stamp, Store, StoreExt};
use pacbot::{
    AssetGroup, Compliance, ComplianceReport, Engine, ReconcileInput, Severity, TransitionKind, ViolationStatus,
    reconcile,
};
use serde::Serialize;

use super::config::{Loaded, problems_error};
use super::error::{Error, Result};
use super::{packs, sources};

/// What a scan did.
#[derive(Debug, Serialize)]
pub struct ScanOutcome {
    /// The committed scan.
    pub scan: ScanRecord,
    /// Transitions of this scan by kind.
    pub transitions: BTreeMap<TransitionKind, usize>,
    /// The overall compliance report.
    pub compliance: ComplianceReport,
    /// One report per asset group.
    pub groups: Vec<ComplianceReport>,
    /// Sources that could not be read: (source, why).
    pub failed_sources: Vec<(String, String)>,
    /// Open violations by severity after the scan.
    pub open_by_severity: BTreeMap<Severity, usize>,
    /// Where the scan was committed.
    pub database: String,
}

impl ScanOutcome {
    /// Whether an open violation at or above `threshold` exists.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.open_by_severity.iter().any(|(s, n)| *s >= threshold && *n > 0)
    }
}

/// A progress bar drawn on standard error when it is a terminal.
pub fn bar(show: bool, len: Option<u64>, what: &str) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if show {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = match len {
            Some(_) => ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}"),
            None => ProgressStyle::with_template("{prefix:>10} {spinner} {pos} {msg} ({elapsed})"),
        };
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(120));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_prefix(what.to_owned());
    bar
}

/// The asset groups of a scan: the stored ones, with the configuration's
/// (stored first, stamped `config`) replacing those of the same name.
async fn groups(store: &dyn Store, loaded: &Loaded) -> Result<Vec<AssetGroup>> {
    let now = Utc::now();
    let stored = store.groups().await?;
    let mut by_name: BTreeMap<String, AssetGroup> =
        stored.into_iter().map(|r| (r.group.name.clone(), r.group)).collect();
    for g in &loaded.config.groups {
        if by_name.get(&g.name) != Some(g) {
            store.put_group(g.clone(), Stamp::new("config", now)).await?;
        }
        by_name.insert(g.name.clone(), g.clone());
    }
    Ok(by_name.into_values().collect())
}

/// The scan in progress, so an interrupted one can be aborted.
pub type Running = std::sync::Mutex<Option<pacbot::store::ScanId>>;

fn set_running(running: &Running, scan: Option<pacbot::store::ScanId>) {
    if let Ok(mut r) = running.lock() {
        *r = scan;
    }
}

/// Runs one scan and commits it. `running` holds its id while it runs.
pub async fn scan_once(
    store: &dyn Store,
    database: &str,
    loaded: &Loaded,
    progress: bool,
    running: &Running,
) -> Result<ScanOutcome> {
    let policies = packs::load(loaded, &[]).map_err(|p| problems_error(&p))?;
    let (connectors, unreadable) = sources::connectors(loaded).map_err(|p| problems_error(&p))?;
    let groups = groups(store, loaded).await?;
    let engine = Engine::new(policies.policies, groups.clone())?;
    let now = Utc::now();
    store.put_policies(engine.policies().iter().map(|p| p.meta().clone()).collect(), now).await?;
    let scan = store.begin_scan(ScanStart::new(&loaded.config.scan.label, now)).await?;
    set_running(running, Some(scan.id));
    tracing::info!(scan = %scan.id, label = %scan.label, "scan started");

    let discover_bar = bar(progress, None, "discover");
    let found = sources::discover(&connectors, unreadable, &discover_bar).await;
    discover_bar.finish_with_message(format!("{} assets", found.inventory.len()));
    if found.inventory.is_empty() && !found.failed_sources.is_empty() && connectors.is_empty() {
        let why: Vec<String> = found.failed_sources.iter().map(|(s, e)| format!("{s}: {e}")).collect();
        store.abort_scan(scan.id, "every source failed").await?;
        set_running(running, None);
        return Err(Error::msg(format!("every source failed:\n  {}", why.join("\n  "))));
    }

    let eval_bar = bar(progress, None, "evaluate");
    eval_bar.set_message(format!("{} policies over {} assets", engine.policies().len(), found.inventory.len()));
    let evaluation = engine.evaluate(&found.inventory, now);
    eval_bar.finish_with_message(format!("{} checks", evaluation.checks()));

    let commit_bar = bar(progress, None, "commit");
    let previous = store.previous_violations(&found.coverage).await?;
    let exceptions = store.exception_set().await?;
    let result = reconcile(&ReconcileInput {
        previous: &previous,
        inventory: &found.inventory,
        evaluation: &evaluation,
        coverage: &found.coverage,
        exceptions: &exceptions,
        now,
    });
    let transitions = result.counts();
    let mut open_by_severity: BTreeMap<Severity, usize> = BTreeMap::new();
    for v in result.violations.iter().filter(|v| v.status == ViolationStatus::Open) {
        *open_by_severity.entry(v.severity).or_default() += 1;
    }

    let compliance = Compliance::new(&found.inventory, &evaluation, &result.violations, &loaded.config.compliance);
    let overall = compliance.overall();
    let group_reports: Vec<ComplianceReport> =
        groups.iter().map(|g| compliance.for_group(&g.name, &engine.group_members(g, &found.inventory, now))).collect();
    let mut commit = ScanCommit::from_scan(scan.id, Utc::now(), &found.inventory, found.coverage, &evaluation, result)
        .with_snapshot(overall.clone());
    for g in &group_reports {
        commit = commit.with_snapshot(g.clone());
    }
    let record = match store.commit_scan(commit).await {
        Ok(r) => r,
        Err(e) => {
            // Nothing of the scan was written; say so in the scan list.
            let _ = store.abort_scan(scan.id, &e.to_string()).await;
            set_running(running, None);
            return Err(e.into());
        }
    };
    set_running(running, None);
    commit_bar.finish_with_message(format!("scan {} {}", record.id, record.status));
    tracing::info!(scan = %record.id, status = %record.status, assets = record.counts.assets_seen, "scan committed");
    Ok(ScanOutcome {
        scan: record,
        transitions,
        compliance: overall,
        groups: group_reports,
        failed_sources: found.failed_sources,
        open_by_severity,
        database: database.to_owned(),
    })
}

/// Waits for ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; ctrl-c only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Scans every `every` until a signal (or `max_scans`); a failed scan is
/// logged and the loop goes on. Calls `each` with every scan's result.
pub async fn continuous(
    every: Duration,
    max_scans: Option<u64>,
    mut scan: impl AsyncFnMut() -> Result<ScanOutcome>,
    mut each: impl FnMut(u64, &Result<ScanOutcome>),
) -> u64 {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut n = 0;
    loop {
        n += 1;
        let result = tokio::select! {
            r = scan() => r,
            () = &mut shutdown => {
                tracing::warn!("interrupted during a scan; it is not committed");
                return n - 1;
            }
        };
        if let Err(e) = &result {
            tracing::error!(scan = n, error = %e, "scan failed; the next one runs on schedule");
        }
        each(n, &result);
        if max_scans.is_some_and(|m| n >= m) {
            return n;
        }
        tracing::info!(next_in = %humantime::format_duration(every), "waiting for the next scan");
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = &mut shutdown => {
                tracing::info!("shutting down");
                return n;
            }
        }
    }
}
