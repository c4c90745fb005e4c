//! Scans: what a scanner starts, commits, and what the store records.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use pacbot_core::{
    Asset, ComplianceReport, Coverage, CoverageScope, Evaluation, Inventory, Reconciliation, Transition,
    TransitionKind, Violation, ViolationStatus,
};
use serde::{Deserialize, Serialize};

/// The identity of a scan, assigned by the store in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScanId(u64);

impl ScanId {
    /// A scan id from its number (as shown by `Display`).
    #[must_use]
    pub fn new(n: u64) -> Self {
        Self(n)
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ScanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a scan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    /// Begun, not yet committed.
    Running,
    /// Committed, and every scope it attempted was collected completely.
    Complete,
    /// Committed, and some scope failed: the failed scopes kept their state.
    Partial,
    /// Given up by the scanner; it changed nothing.
    Aborted,
}

impl ScanStatus {
    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Running => "running",
            ScanStatus::Complete => "complete",
            ScanStatus::Partial => "partial",
            ScanStatus::Aborted => "aborted",
        }
    }
}

impl fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a scanner says when it begins a scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStart {
    /// A label for people (`nightly`, `shard aws/111122223333/eu-west-1`).
    pub label: String,
    /// The scan time: the `now` the engine and reconcile use, and the
    /// first/last-seen time of the assets this scan commits.
    pub started_at: DateTime<Utc>,
}

impl ScanStart {
    /// A scan with a label, at a time.
    pub fn new(label: impl Into<String>, started_at: DateTime<Utc>) -> Self {
        Self { label: label.into(), started_at }
    }
}

/// A scope whose collection failed in a scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedScope {
    /// The scope.
    pub scope: CoverageScope,
    /// Why it failed.
    pub error: String,
}

/// How many of each thing a committed scan wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanCounts {
    /// Assets the scan saw.
    pub assets_seen: u64,
    /// Of those, assets never stored before.
    pub assets_new: u64,
    /// Of those, stored assets the store rewrote: their name, attributes or
    /// tags changed, or they had been marked removed. Assets seen unchanged
    /// are not rewritten (their last-seen time follows from the scan that
    /// completed their scope).
    pub assets_changed: u64,
    /// Assets marked removed: stored, in a scope the scan completed, and not seen.
    pub assets_removed: u64,
    /// Scopes collected completely.
    pub scopes_complete: u64,
    /// Scopes whose collection failed.
    pub scopes_failed: u64,
    /// Checks (asset × rule) that passed.
    pub passed: u64,
    /// Checks that failed.
    pub failed: u64,
    /// Checks whose rule errored.
    pub errors: u64,
    /// Checks where the rule did not apply.
    pub not_applicable: u64,
    /// Transitions by kind, as reconcile reported them (the `still_…` kinds
    /// included, though the history keeps only changes of status).
    pub transitions: BTreeMap<TransitionKind, u64>,
    /// Violations the store created or rewrote: new, or with any field
    /// changed. The others of the commit were left as stored.
    pub violations_changed: u64,
    /// The committed violations by their new status.
    pub violations: BTreeMap<ViolationStatus, u64>,
}

/// A scan as the store records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// The id.
    pub id: ScanId,
    /// The label given at the start.
    pub label: String,
    /// The scan time.
    pub started_at: DateTime<Utc>,
    /// When it was committed or aborted.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: ScanStatus,
    /// What it wrote (zero until committed).
    pub counts: ScanCounts,
    /// The scopes whose collection failed.
    pub failed_scopes: Vec<FailedScope>,
    /// Why it was aborted, if it was.
    pub error: Option<String>,
}

/// The results of one rule in one scan, as counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleResult {
    /// The policy id.
    pub policy_id: String,
    /// The rule id.
    pub rule_id: String,
    /// Assets that passed.
    pub passed: u64,
    /// Assets that failed.
    pub failed: u64,
    /// Assets the rule could not decide.
    pub errors: u64,
    /// Assets the rule did not apply to.
    pub not_applicable: u64,
}

impl RuleResult {
    /// The per-rule counts of an evaluation, in evaluation order.
    #[must_use]
    pub fn from_evaluation(evaluation: &Evaluation) -> Vec<RuleResult> {
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        evaluation
            .policies
            .iter()
            .flat_map(|p| {
                p.rules.iter().map(|r| RuleResult {
                    policy_id: p.meta.id.clone(),
                    rule_id: r.rule_id.clone(),
                    passed: n(r.passed),
                    failed: n(r.failed),
                    errors: n(r.errors),
                    not_applicable: n(r.not_applicable),
                })
            })
            .collect()
    }
}

/// Everything one scan commits, atomically.
///
/// The usual flow: [`crate::Store::begin_scan`], discover, evaluate, read the
/// previous violations of the attempted scopes
/// ([`crate::StoreExt::previous_violations`]), `reconcile`, then
/// [`crate::Store::commit_scan`] with this.
///
/// On commit the store upserts `assets` (first seen kept, last seen set to
/// the scan time), marks removed the stored assets of every scope that
/// `coverage` says was *complete* but that are not in `assets` and were last
/// seen before this scan's time (a failed or absent scope removes nothing;
/// scans of one scope are expected to run one after the other), writes the
/// violations in their new state, appends the transitions that changed a
/// status to their history, and records the per-rule results and the
/// compliance snapshots. The `first_seen`/`last_seen` of the assets given
/// are ignored: the store keeps them.
///
/// A rescan writes only what changed: an asset seen with the same name,
/// attributes and tags is not rewritten (its last-seen time follows from the
/// scan that completed its scope; only in a failed or uncovered scope is its
/// last-seen time written), a violation equal to the stored one is left
/// alone, and the `still_…` transitions are counted in the scan's
/// [`ScanCounts`] but not kept in the history.
#[derive(Clone, Debug)]
pub struct ScanCommit {
    /// The scan being committed (running).
    pub scan: ScanId,
    /// When the scan finished.
    pub finished_at: DateTime<Utc>,
    /// Every asset the scan saw.
    pub assets: Vec<Asset>,
    /// The scopes the scan attempted, complete or failed.
    pub coverage: Coverage,
    /// Per-rule result counts.
    pub results: Vec<RuleResult>,
    /// Violations in their new state (reconcile's output). Each key at most once.
    pub violations: Vec<Violation>,
    /// What happened to each judged violation. Each names a violation in `violations`.
    pub transitions: Vec<Transition>,
    /// Compliance reports of this scan: overall (`group: None`) and per asset group.
    pub snapshots: Vec<ComplianceReport>,
}

impl ScanCommit {
    /// An empty commit of a scan.
    #[must_use]
    pub fn new(scan: ScanId, finished_at: DateTime<Utc>) -> Self {
        Self {
            scan,
            finished_at,
            assets: Vec::new(),
            coverage: Coverage::new(),
            results: Vec::new(),
            violations: Vec::new(),
            transitions: Vec::new(),
            snapshots: Vec::new(),
        }
    }

    /// The commit of a scan from the engine's and reconcile's outputs (the
    /// inventory's assets are cloned).
    #[must_use]
    pub fn from_scan(
        scan: ScanId,
        finished_at: DateTime<Utc>,
        inventory: &Inventory,
        coverage: Coverage,
        evaluation: &Evaluation,
        reconciliation: Reconciliation,
    ) -> Self {
        Self {
            scan,
            finished_at,
            assets: inventory.assets().to_vec(),
            coverage,
            results: RuleResult::from_evaluation(evaluation),
            violations: reconciliation.violations,
            transitions: reconciliation.transitions,
            snapshots: Vec::new(),
        }
    }

    /// Adds a compliance report.
    #[must_use]
    pub fn with_snapshot(mut self, report: ComplianceReport) -> Self {
        self.snapshots.push(report);
        self
    }
}

/// One entry of a violation's history: a transition and the scan that made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The scan.
    pub scan: ScanId,
    /// What happened.
    pub transition: Transition,
}

/// A compliance report as recorded by a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComplianceSnapshot {
    /// The scan.
    pub scan: ScanId,
    /// The scan time.
    pub at: DateTime<Utc>,
    /// The report.
    pub report: ComplianceReport,
}
