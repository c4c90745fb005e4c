//! Coverage: which parts of the estate a scan saw completely.
//!
//! Architecture invariant: a violation is closed because its resource is
//! gone only when the scan *completed* the collection of the resource's
//! (provider, account, region, kind) scope. A failed or missing scope keeps
//! its violations as they were.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::asset::ResourceKind;

/// One unit of collection: a kind of resource in one account and region.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageScope {
    /// The provider.
    pub provider: String,
    /// The account or subscription.
    pub account: String,
    /// The region or location (`global` for global resources).
    pub region: String,
    /// The kind of resource.
    pub kind: ResourceKind,
}

impl CoverageScope {
    /// A scope from its parts.
    pub fn new(
        provider: impl Into<String>,
        account: impl Into<String>,
        region: impl Into<String>,
        kind: impl Into<ResourceKind>,
    ) -> Self {
        Self { provider: provider.into(), account: account.into(), region: region.into(), kind: kind.into() }
    }
}

impl fmt::Display for CoverageScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.provider, self.account, self.region, self.kind)
    }
}

/// The outcome of collecting one scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScopeStatus {
    /// Every resource of the scope was listed.
    Complete,
    /// Collection failed; the scope's resources are unknown.
    Failed {
        /// Why.
        error: String,
    },
}

/// The scopes a scan attempted, and how each went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    scopes: BTreeMap<CoverageScope, ScopeStatus>,
}

impl Coverage {
    /// No scopes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a completed scope. A scope that already failed stays failed:
    /// part of it was not seen.
    pub fn complete(&mut self, scope: CoverageScope) {
        self.scopes.entry(scope).or_insert(ScopeStatus::Complete);
    }

    /// Records a failed scope (overriding an earlier completion).
    pub fn fail(&mut self, scope: CoverageScope, error: impl Into<String>) {
        let error = error.into();
        match self.scopes.get_mut(&scope) {
            Some(ScopeStatus::Failed { error: e }) => {
                e.push_str("; ");
                e.push_str(&error);
            }
            _ => {
                self.scopes.insert(scope, ScopeStatus::Failed { error });
            }
        }
    }

    /// Adds another coverage (from another connector) to this one.
    pub fn merge(&mut self, other: Coverage) {
        for (scope, status) in other.scopes {
            match status {
                ScopeStatus::Complete => self.complete(scope),
                ScopeStatus::Failed { error } => self.fail(scope, error),
            }
        }
    }

    /// Whether the scope was collected completely.
    #[must_use]
    pub fn is_complete(&self, scope: &CoverageScope) -> bool {
        matches!(self.scopes.get(scope), Some(ScopeStatus::Complete))
    }

    /// The status of a scope, if it was attempted.
    #[must_use]
    pub fn status(&self, scope: &CoverageScope) -> Option<&ScopeStatus> {
        self.scopes.get(scope)
    }

    /// Every attempted scope with its status, sorted.
    pub fn scopes(&self) -> impl Iterator<Item = (&CoverageScope, &ScopeStatus)> {
        self.scopes.iter()
    }

    /// The failed scopes with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&CoverageScope, &str)> {
        self.scopes.iter().filter_map(|(s, st)| match st {
            ScopeStatus::Failed { error } => Some((s, error.as_str())),
            ScopeStatus::Complete => None,
        })
    }

    /// Whether some scope failed (the scan is partial).
    #[must_use]
    pub fn is_partial(&self) -> bool {
        self.failures().next().is_some()
    }

    /// The number of attempted scopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether no scope was attempted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_wins_over_completion_in_any_order() {
        let s = CoverageScope::new("aws", "1", "us-east-1", "aws.s3.bucket");
        let mut a = Coverage::new();
        a.complete(s.clone());
        a.fail(s.clone(), "AccessDenied");
        a.complete(s.clone());
        assert!(!a.is_complete(&s));
        assert!(a.is_partial());
        let mut b = Coverage::new();
        b.fail(s.clone(), "timeout");
        b.merge(a);
        assert_eq!(b.failures().next().map(|(_, e)| e), Some("timeout; AccessDenied"));
        let mut c = Coverage::new();
        c.complete(s.clone());
        assert!(c.is_complete(&s) && !c.is_partial());
    }
}
