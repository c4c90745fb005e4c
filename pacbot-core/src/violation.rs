//! Violations and their lifecycle.
//!
//! A violation is identified by (policy, rule, asset). Its status moves only
//! through [`crate::reconcile`]:
//!
//! ```text
//!             fail                    exception applies
//!   (none) ───────────▶ Open ◀──────────────────────────▶ Exempted
//!                        │  ▲   exception expires/revoked    │
//!            pass, gone, │  │ fail                           │ pass, gone,
//!            not in scope▼  │                                ▼ not in scope
//!                       Closed ◀─────────────────────────────┘
//!   rule errors on an open or exempted violation: Unknown (never closed by an error)
//! ```
//!
//! Architecture invariant: there is no operation that closes a violation
//! by hand.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::asset::AssetId;
use crate::policy::{Category, Severity};

/// The identity of a violation: which rule of which policy, on which asset.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationKey {
    /// The policy id.
    pub policy_id: String,
    /// The rule id within the policy.
    pub rule_id: String,
    /// The asset.
    pub asset: AssetId,
}

impl fmt::Display for ViolationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} on {}", self.policy_id, self.rule_id, self.asset)
    }
}

/// Where a violation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationStatus {
    /// Failing and not exempt.
    Open,
    /// Failing, but an exception applies; counts as compliant.
    Exempted,
    /// The rule could not decide at the last scan; reported separately.
    Unknown,
    /// Fixed, gone, or no longer applicable.
    Closed,
}

impl ViolationStatus {
    /// Every status.
    pub const ALL: [ViolationStatus; 4] =
        [ViolationStatus::Open, ViolationStatus::Exempted, ViolationStatus::Unknown, ViolationStatus::Closed];

    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationStatus::Open => "open",
            ViolationStatus::Exempted => "exempted",
            ViolationStatus::Unknown => "unknown",
            ViolationStatus::Closed => "closed",
        }
    }
}

impl fmt::Display for ViolationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a violation closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The scan saw the resource pass.
    Fixed,
    /// The scan completed the resource's scope and did not find it.
    ResourceGone,
    /// The scan saw the resource, and the rule no longer applies to it (it
    /// left the policy's scope, or the rule judged it not applicable).
    NotApplicable,
    /// The policy or rule was retired.
    RuleRetired,
}

impl CloseReason {
    /// Every reason.
    pub const ALL: [CloseReason; 4] =
        [CloseReason::Fixed, CloseReason::ResourceGone, CloseReason::NotApplicable, CloseReason::RuleRetired];

    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Fixed => "fixed",
            CloseReason::ResourceGone => "resource_gone",
            CloseReason::NotApplicable => "not_applicable",
            CloseReason::RuleRetired => "rule_retired",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `FromStr` by the snake-case name (the serde name), for the enums above.
macro_rules! from_name {
    ($($t:ty => $what:literal),*) => {$(
        impl FromStr for $t {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| crate::Error::NotFound { what: $what, id: s.to_owned() })
            }
        }
    )*};
}
from_name!(ViolationStatus => "violation status", CloseReason => "close reason", TransitionKind => "transition kind");

/// A violation with its current state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    /// The identity.
    pub key: ViolationKey,
    /// The current status.
    pub status: ViolationStatus,
    /// The policy's severity when the violation was last updated.
    pub severity: Severity,
    /// The policy's category.
    pub category: Category,
    /// Why the asset fails (or the rule's error, when unknown).
    pub reason: String,
    /// Evidence.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// The exception that exempts it, when exempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<String>,
    /// When it was first opened.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub modified_at: DateTime<Utc>,
    /// When it closed, if closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it closed, if closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
}

impl Violation {
    /// Whether the violation is open (failing and not exempt).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.status == ViolationStatus::Open
    }

    /// Whether the violation is still tracked (anything but closed).
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.status != ViolationStatus::Closed
    }
}

/// What happened to a violation in one reconciliation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// A new failure.
    Opened,
    /// A closed violation fails again, or an exemption ended.
    Reopened,
    /// Still failing (no change).
    StillOpen,
    /// An exception now applies.
    Exempted,
    /// Still failing and still exempt (no change of status).
    StillExempted,
    /// The rule could not decide.
    Unknown,
    /// Still undecided (no change).
    StillUnknown,
    /// The resource passed.
    ClosedFixed,
    /// The resource is gone from a completely collected scope.
    ClosedResourceGone,
    /// The rule no longer applies to the resource, or was retired.
    ClosedNotApplicable,
}

impl TransitionKind {
    /// Every kind.
    pub const ALL: [TransitionKind; 10] = [
        TransitionKind::Opened,
        TransitionKind::Reopened,
        TransitionKind::StillOpen,
        TransitionKind::Exempted,
        TransitionKind::StillExempted,
        TransitionKind::Unknown,
        TransitionKind::StillUnknown,
        TransitionKind::ClosedFixed,
        TransitionKind::ClosedResourceGone,
        TransitionKind::ClosedNotApplicable,
    ];

    /// Whether the status changed (the `Still…` kinds did not).
    #[must_use]
    pub fn is_change(self) -> bool {
        !matches!(self, TransitionKind::StillOpen | TransitionKind::StillExempted | TransitionKind::StillUnknown)
    }

    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Opened => "opened",
            TransitionKind::Reopened => "reopened",
            TransitionKind::StillOpen => "still_open",
            TransitionKind::Exempted => "exempted",
            TransitionKind::StillExempted => "still_exempted",
            TransitionKind::Unknown => "unknown",
            TransitionKind::StillUnknown => "still_unknown",
            TransitionKind::ClosedFixed => "closed_fixed",
            TransitionKind::ClosedResourceGone => "closed_resource_gone",
            TransitionKind::ClosedNotApplicable => "closed_not_applicable",
        }
    }
}

impl fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a violation's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// Which violation.
    pub key: ViolationKey,
    /// What happened.
    pub kind: TransitionKind,
    /// The status before (`None` for a new violation).
    pub from: Option<ViolationStatus>,
    /// The status after.
    pub to: ViolationStatus,
    /// When (the scan time).
    pub at: DateTime<Utc>,
    /// Why, for humans.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_match_serde() {
        fn check<T: Copy + fmt::Display + FromStr + PartialEq + fmt::Debug + Serialize>(all: &[T]) {
            for &v in all {
                let name = v.to_string();
                assert_eq!(serde_json::to_value(v).unwrap(), Value::String(name.clone()));
                assert_eq!(name.parse::<T>().ok(), Some(v));
            }
            assert!("no-such-name".parse::<T>().is_err());
        }
        check(&ViolationStatus::ALL);
        check(&CloseReason::ALL);
        check(&TransitionKind::ALL);
    }
}
