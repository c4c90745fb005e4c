//! What both backends compute the same way when a scan commits: its status,
//! counts and failed scopes; and the fail point the conformance suite arms.

use std::sync::Mutex;

use pacbot_core::ScopeStatus;

use crate::error::{Result, StoreError};
use crate::model::{FailedScope, ScanCommit, ScanCounts, ScanStatus};

/// What a commit wrote, as the backend counted it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Written {
    /// Assets inserted.
    pub new: u64,
    /// Stored assets rewritten (content changed, or back from removed).
    pub changed: u64,
    /// Assets marked removed.
    pub removed: u64,
    /// Violations inserted or rewritten.
    pub violations: u64,
}

/// The status, counts and failed scopes of a commit, given what it wrote.
pub(crate) fn summarize(c: &ScanCommit, w: Written) -> (ScanStatus, ScanCounts, Vec<FailedScope>) {
    let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
    let mut counts = ScanCounts {
        assets_seen: n(c.assets.len()),
        assets_new: w.new,
        assets_changed: w.changed,
        assets_removed: w.removed,
        violations_changed: w.violations,
        ..ScanCounts::default()
    };
    let mut failed = Vec::new();
    for (scope, status) in c.coverage.scopes() {
        match status {
            ScopeStatus::Complete => counts.scopes_complete += 1,
            ScopeStatus::Failed { error } => {
                counts.scopes_failed += 1;
                failed.push(FailedScope { scope: scope.clone(), error: error.clone() });
            }
        }
    }
    for r in &c.results {
        counts.passed = counts.passed.saturating_add(r.passed);
        counts.failed = counts.failed.saturating_add(r.failed);
        counts.errors = counts.errors.saturating_add(r.errors);
        counts.not_applicable = counts.not_applicable.saturating_add(r.not_applicable);
    }
    for t in &c.transitions {
        *counts.transitions.entry(t.kind).or_insert(0) += 1;
    }
    for v in &c.violations {
        *counts.violations.entry(v.status).or_insert(0) += 1;
    }
    let status = if failed.is_empty() { ScanStatus::Complete } else { ScanStatus::Partial };
    (status, counts, failed)
}

/// A one-shot failure the conformance suite arms to test atomic commits,
/// and the number of row writes of the last successful commit (which the
/// suite checks to see that a rescan writes only what changed).
#[derive(Debug, Default)]
pub(crate) struct FailPoint(Mutex<Option<usize>>, Mutex<u64>);

impl FailPoint {
    /// Records the writes of a successful commit.
    pub(crate) fn record(&self, budget: &WriteBudget) {
        if let Ok(mut g) = self.1.lock() {
            *g = u64::try_from(budget.writes).unwrap_or(u64::MAX);
        }
    }

    /// The writes of the last successful commit.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn last_writes(&self) -> u64 {
        self.1.lock().map(|g| *g).unwrap_or_default()
    }

    /// Makes the next commit fail after `writes` writes.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn arm(&self, writes: usize) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(writes);
        }
    }

    /// The armed failure, disarming it.
    pub(crate) fn take(&self) -> Option<usize> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// Counts the writes of one commit and fails at the armed point.
#[derive(Debug)]
pub(crate) struct WriteBudget {
    writes: usize,
    fail_after: Option<usize>,
}

impl WriteBudget {
    /// A budget failing after `fail_after` writes, if set.
    pub(crate) fn new(fail_after: Option<usize>) -> Self {
        Self { writes: 0, fail_after }
    }

    /// Accounts for one write.
    pub(crate) fn tick(&mut self) -> Result<()> {
        if self.fail_after.is_some_and(|n| self.writes >= n) {
            return Err(StoreError::InjectedFailure { after_writes: self.writes });
        }
        self.writes += 1;
        Ok(())
    }
}
