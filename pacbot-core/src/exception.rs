//! Exceptions: granted exemptions from policies.
//!
//! Architecture invariant: exceptions *exempt* violations; they never close
//! them. An exempted violation counts as compliant, and goes back to open
//! at the first scan after its exception expires or is revoked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::asset::{Asset, AssetId};
use crate::criteria::Criteria;

/// What an exception exempts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExceptionTarget {
    /// One asset, for some policies.
    Asset {
        /// The asset.
        asset: AssetId,
        /// Policy ids; `*` for every policy.
        policies: Vec<String>,
    },
    /// Every asset matching the criteria, now and in the future ("sticky").
    Sticky {
        /// Which assets.
        criteria: Criteria,
        /// Policy ids; `*` for every policy.
        policies: Vec<String>,
    },
}

/// A granted exemption, with who, why and until when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Unique id.
    pub id: String,
    /// What is exempt.
    pub target: ExceptionTarget,
    /// Why the exemption was granted.
    pub reason: String,
    /// Who granted it.
    pub granted_by: String,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
    /// When it stops applying; `None` for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Exception {
    /// Checks that the exception is complete: an id, a reason, who granted
    /// it, at least one policy, and an expiry after the grant.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let invalid = |path: &str, reason: &str| crate::Error::InvalidDocument {
            source_name: format!("exception `{}`", self.id),
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if self.id.trim().is_empty() {
            return Err(invalid("id", "the id is empty"));
        }
        if self.reason.trim().is_empty() {
            return Err(invalid("reason", "an exception needs a reason"));
        }
        if self.granted_by.trim().is_empty() {
            return Err(invalid("granted_by", "an exception needs to say who granted it"));
        }
        if self.policies().is_empty() || self.policies().iter().any(|p| p.trim().is_empty()) {
            return Err(invalid("target.policies", "list policy ids, or `*` for every policy"));
        }
        if self.expires_at.is_some_and(|e| e <= self.granted_at) {
            return Err(invalid("expires_at", "the expiry is not after the grant"));
        }
        Ok(())
    }

    /// The policies the exception covers.
    #[must_use]
    pub fn policies(&self) -> &[String] {
        match &self.target {
            ExceptionTarget::Asset { policies, .. } | ExceptionTarget::Sticky { policies, .. } => policies,
        }
    }

    /// Whether the exception is in force at `now`.
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }

    /// Whether the exception covers this policy.
    #[must_use]
    pub fn covers_policy(&self, policy_id: &str) -> bool {
        self.policies().iter().any(|p| p == "*" || p == policy_id)
    }

    /// Whether the exception exempts `asset` from `policy_id` at `now`.
    #[must_use]
    pub fn applies(&self, asset: &Asset, policy_id: &str, now: DateTime<Utc>) -> bool {
        self.is_active(now)
            && self.covers_policy(policy_id)
            && match &self.target {
                ExceptionTarget::Asset { asset: id, .. } => *id == asset.id,
                ExceptionTarget::Sticky { criteria, .. } => criteria.matches(asset, now),
            }
    }
}

/// Exceptions indexed for fast lookup during reconciliation.
#[derive(Clone, Debug, Default)]
pub struct ExceptionSet {
    exceptions: Vec<Exception>,
    by_asset: HashMap<AssetId, Vec<usize>>,
    sticky: Vec<usize>,
}

impl ExceptionSet {
    /// Indexes exceptions (sorted by id, so lookups are deterministic).
    pub fn new(exceptions: impl IntoIterator<Item = Exception>) -> Self {
        let mut exceptions: Vec<Exception> = exceptions.into_iter().collect();
        exceptions.sort_by(|a, b| a.id.cmp(&b.id));
        let mut by_asset: HashMap<AssetId, Vec<usize>> = HashMap::new();
        let mut sticky = Vec::new();
        for (i, e) in exceptions.iter().enumerate() {
            match &e.target {
                ExceptionTarget::Asset { asset, .. } => by_asset.entry(asset.clone()).or_default().push(i),
                ExceptionTarget::Sticky { .. } => sticky.push(i),
            }
        }
        Self { exceptions, by_asset, sticky }
    }

    /// The exception (lowest id first) that exempts `asset` from `policy_id` at `now`.
    #[must_use]
    pub fn find(&self, asset: &Asset, policy_id: &str, now: DateTime<Utc>) -> Option<&Exception> {
        let individual = self.by_asset.get(&asset.id).into_iter().flatten();
        let mut best: Option<&Exception> = None;
        for e in individual.chain(&self.sticky).map(|&i| &self.exceptions[i]) {
            if e.applies(asset, policy_id, now) && best.is_none_or(|b| e.id < b.id) {
                best = Some(e);
            }
        }
        best
    }

    /// All exceptions, sorted by id.
    #[must_use]
    pub fn all(&self) -> &[Exception] {
        &self.exceptions
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn exc(id: &str, target: ExceptionTarget, expires: Option<&str>) -> Exception {
        Exception {
            id: id.into(),
            target,
            reason: "accepted risk".into(),
            granted_by: "alice".into(),
            granted_at: t("2026-01-01T00:00:00Z"),
            expires_at: expires.map(t),
        }
    }

    #[test]
    fn individual_and_sticky_exceptions_apply_until_expiry() {
        let asset = Asset::new(AssetId::new("aws", "1", "r", "k", "i-1")).with_tag("Env", "sandbox");
        let other = Asset::new(AssetId::new("aws", "1", "r", "k", "i-2"));
        let set = ExceptionSet::new([
            exc(
                "b-ind",
                ExceptionTarget::Asset { asset: asset.id.clone(), policies: vec!["p1".into()] },
                Some("2026-03-01T00:00:00Z"),
            ),
            exc(
                "a-sticky",
                ExceptionTarget::Sticky {
                    criteria: Criteria::eq("tags.Env", "sandbox").unwrap(),
                    policies: vec!["*".into()],
                },
                Some("2026-02-01T00:00:00Z"),
            ),
        ]);
        let jan = t("2026-01-15T00:00:00Z");
        let feb = t("2026-02-15T00:00:00Z");
        let apr = t("2026-04-01T00:00:00Z");
        assert_eq!(set.find(&asset, "p1", jan).map(|e| e.id.as_str()), Some("a-sticky"));
        assert_eq!(set.find(&asset, "p2", jan).map(|e| e.id.as_str()), Some("a-sticky"));
        assert_eq!(set.find(&asset, "p1", feb).map(|e| e.id.as_str()), Some("b-ind"));
        assert!(set.find(&asset, "p2", feb).is_none());
        assert!(set.find(&asset, "p1", apr).is_none());
        assert!(set.find(&other, "p1", jan).is_none());
    }

    #[test]
    fn validation_rejects_incomplete_exceptions() {
        let target = ExceptionTarget::Sticky { criteria: Criteria::always(), policies: vec![] };
        let e = exc("x", target, None);
        assert!(e.validate().unwrap_err().to_string().contains("target.policies"));
        let mut e =
            exc("x", ExceptionTarget::Sticky { criteria: Criteria::always(), policies: vec!["p".into()] }, None);
        assert!(e.validate().is_ok());
        e.expires_at = Some(t("2025-01-01T00:00:00Z"));
        assert!(e.validate().unwrap_err().to_string().contains("expires_at"));
        e.expires_at = None;
        e.reason = " ".into();
        assert!(e.validate().is_err());
    }
}
