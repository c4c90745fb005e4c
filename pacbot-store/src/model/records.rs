//! Records the store keeps besides scans: assets with their state,
//! exceptions, asset groups, the policy catalogue and auto-fix records.

use std::fmt;

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetGroup, AssetId, Exception, PolicyMeta, Violation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::scan::HistoryEntry;

/// Who did something, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// A user or service name.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Stamp {
    /// `by` at `at`.
    pub fn new(by: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self { by: by.into(), at }
    }
}

/// A stored asset: its last observation, with first/last seen set, and
/// whether a later complete scan found it gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssetRecord {
    /// The asset as last seen (`first_seen` and `last_seen` set by the store).
    pub asset: Asset,
    /// When a scan that completed the asset's scope did not find it.
    pub removed_at: Option<DateTime<Utc>>,
}

impl AssetRecord {
    /// Whether the asset is gone.
    #[must_use]
    pub fn is_removed(&self) -> bool {
        self.removed_at.is_some()
    }
}

/// Everything about one asset: the asset, its violations (every status) and
/// their histories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Asset360 {
    /// The asset.
    pub asset: AssetRecord,
    /// Its violations, by key.
    pub violations: Vec<Violation>,
    /// The history of those violations, oldest first within each violation.
    pub history: Vec<HistoryEntry>,
}

/// A stored exception with who created and last changed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExceptionRecord {
    /// The exception.
    pub exception: Exception,
    /// Who stored it first.
    pub created: Stamp,
    /// Who stored it last.
    pub updated: Stamp,
}

/// A stored asset group with who created and last changed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssetGroupRecord {
    /// The group.
    pub group: AssetGroup,
    /// Who stored it first.
    pub created: Stamp,
    /// Who stored it last.
    pub updated: Stamp,
}

/// A policy of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// The policy's metadata.
    pub meta: PolicyMeta,
    /// When it was last stored.
    pub updated_at: DateTime<Utc>,
}

/// What an auto-fix record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixKind {
    /// A planned fix (what will be done, when).
    Plan,
    /// A fix carried out, or attempted (its audit).
    Action,
    /// The configuration before a fix.
    Backup,
}

impl FixKind {
    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FixKind::Plan => "plan",
            FixKind::Action => "action",
            FixKind::Backup => "backup",
        }
    }
}

impl fmt::Display for FixKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An auto-fix plan, action or backup: generic, the autofix crate gives `data` its shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixRecord {
    /// Unique id.
    pub id: String,
    /// What it is.
    pub kind: FixKind,
    /// The policy whose violation it fixes.
    pub policy_id: String,
    /// The asset.
    pub asset: AssetId,
    /// Its state, in the autofix crate's terms (`planned`, `notified`, `done`, …).
    pub status: String,
    /// The plan, audit or backed-up configuration.
    pub data: Value,
    /// When it was first stored (kept by later puts).
    pub created_at: DateTime<Utc>,
    /// When it was last stored.
    pub updated_at: DateTime<Utc>,
}

/// Which auto-fix records to list. `None` means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixFilter {
    /// The kind.
    pub kind: Option<FixKind>,
    /// The policy.
    pub policy_id: Option<String>,
    /// The asset.
    pub asset: Option<AssetId>,
    /// The status.
    pub status: Option<String>,
}

/// Which compliance snapshots to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrendQuery {
    /// The asset group; `None` for the overall reports.
    pub group: Option<String>,
    /// Scans at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Scans before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many, the most recent (1 to [`crate::limits::MAX_PAGE`]).
    pub limit: usize,
}

impl Default for TrendQuery {
    /// The 100 most recent overall reports.
    fn default() -> Self {
        Self { group: None, since: None, until: None, limit: 100 }
    }
}
