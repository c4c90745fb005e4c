//! Rule cases: tests for policies written as data.
//!
//! One YAML file per policy lists assets and the outcome each must get:
//!
//! ```yaml
//! policy: s3-versioning-off
//! now: 2026-06-01T00:00:00Z            # optional scan time
//! context:                              # optional related assets (full assets)
//!   - {id: {provider: aws, account: "1", region: us-east-1, kind: aws.ec2.security_group, resource_id: sg-1}}
//! cases:
//!   - name: versioning enabled passes
//!     asset: {attributes: {versioning: {status: Enabled}}}
//!     expect: pass
//!   - name: suspended fails
//!     asset: {attributes: {versioning: {status: Suspended}}}
//!     expect: fail
//!     reason: Suspended                 # optional: a part of the failure reason
//! ```
//!
//! A case asset may leave out its identity: `kind` defaults to the first kind
//! of the policy's first rule, `provider` to the kind's prefix, `account` to
//! `123456789012`, `region` to `us-east-1` and `resource_id` to the case name.
//! The policy's rules are combined: any failure fails the asset, else any
//! error, else any pass; otherwise it is not applicable. Set `rule:` on a case
//! to check one rule only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::asset::{Asset, AssetId, ResourceKind};
use crate::attributes::Attributes;
use crate::engine::EvalContext;
use crate::inventory::Inventory;
use crate::policy::{Outcome, Policy};

/// The outcome a case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The asset passes.
    Pass,
    /// The asset fails.
    Fail,
    /// The policy does not apply.
    NotApplicable,
    /// The rule cannot decide.
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseAsset {
    provider: Option<String>,
    account: Option<String>,
    region: Option<String>,
    kind: Option<String>,
    resource_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    attributes: Value,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    first_seen: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    asset: CaseAsset,
    expect: Expect,
    reason: Option<String>,
    rule: Option<String>,
}

/// A parsed rule-case file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCaseFile {
    policy: String,
    now: Option<DateTime<Utc>>,
    #[serde(default)]
    context: Vec<Asset>,
    cases: Vec<Case>,
}

impl std::fmt::Debug for RuleCaseFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleCaseFile").field("policy", &self.policy).field("cases", &self.cases.len()).finish()
    }
}

fn default_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_272_000, 0).unwrap_or_default() // 2026-06-01T00:00:00Z
}

impl RuleCaseFile {
    /// Parses a rule-case file (YAML).
    pub fn parse(source_name: &str, text: &str) -> Result<Self, crate::Error> {
        crate::doc::from_yaml(text).map_err(|(path, reason)| crate::Error::InvalidDocument {
            source_name: source_name.to_owned(),
            path,
            reason,
        })
    }

    /// The policy id the file tests.
    #[must_use]
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// The number of cases.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether the file has no cases.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Parses the case file `source_name` and runs it against `policies`:
    /// the harness of a rule-case test. The error names the file and lists
    /// every mismatch, one per line.
    ///
    /// # Errors
    /// The file does not parse, names an unknown policy, or a case's outcome
    /// is not the expected one.
    pub fn check(source_name: &str, text: &str, policies: &[Policy]) -> Result<(), String> {
        let file = Self::parse(source_name, text).map_err(|e| e.to_string())?;
        let mismatches = file.run(policies).map_err(|e| format!("{source_name}: {e}"))?;
        if mismatches.is_empty() { Ok(()) } else { Err(format!("{source_name}:\n  {}", mismatches.join("\n  "))) }
    }

    /// Runs every case against the policy of that id among `policies`.
    /// Returns one line per case that did not get its expected outcome;
    /// an error when the policy (or a case's rule) does not exist.
    pub fn run(&self, policies: &[Policy]) -> Result<Vec<String>, crate::Error> {
        let policy = policies
            .iter()
            .find(|p| p.id() == self.policy)
            .ok_or_else(|| crate::Error::NotFound { what: "policy", id: self.policy.clone() })?;
        let now = self.now.unwrap_or_else(default_now);
        let default_kind = policy.rules().first().and_then(|r| r.kinds().first()).cloned();
        let mut mismatches = Vec::new();
        if self.cases.is_empty() {
            mismatches.push("the file has no cases".to_owned());
        }
        for case in &self.cases {
            let asset = build_asset(case, default_kind.as_ref());
            let mut inventory = Inventory::from_assets(self.context.iter().cloned());
            inventory.insert(asset.clone());
            let ctx = EvalContext::new(&inventory, now);
            let rules: Vec<_> = match &case.rule {
                Some(id) => vec![
                    policy
                        .rules()
                        .iter()
                        .find(|r| r.id() == id)
                        .ok_or_else(|| crate::Error::NotFound { what: "rule", id: format!("{}:{id}", policy.id()) })?,
                ],
                None => policy.rules().iter().collect(),
            };
            let outcomes: Vec<Outcome> = rules
                .iter()
                .map(|r| {
                    if r.kinds().is_empty() || r.kinds().contains(&asset.id.kind) {
                        r.evaluate(&asset, &ctx)
                    } else {
                        Outcome::NotApplicable
                    }
                })
                .collect();
            let got = combine(&outcomes);
            let reason = outcomes.iter().find_map(|o| match o {
                Outcome::Fail { reason, .. } => Some(reason.as_str()),
                Outcome::Error { message } => Some(message.as_str()),
                _ => None,
            });
            if got != case.expect {
                mismatches.push(format!(
                    "case `{}`: expected {:?}, got {:?}{}",
                    case.name,
                    case.expect,
                    got,
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                ));
            } else if let Some(want) = &case.reason
                && !reason.is_some_and(|r| r.contains(want.as_str()))
            {
                mismatches.push(format!(
                    "case `{}`: reason {:?} does not contain {want:?}",
                    case.name,
                    reason.unwrap_or("")
                ));
            }
        }
        Ok(mismatches)
    }
}

fn combine(outcomes: &[Outcome]) -> Expect {
    if outcomes.iter().any(|o| matches!(o, Outcome::Fail { .. })) {
        Expect::Fail
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Error { .. })) {
        Expect::Error
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Pass)) {
        Expect::Pass
    } else {
        Expect::NotApplicable
    }
}

fn build_asset(case: &Case, default_kind: Option<&ResourceKind>) -> Asset {
    let a = &case.asset;
    let kind = a
        .kind
        .as_deref()
        .map(ResourceKind::new)
        .or_else(|| default_kind.cloned())
        .unwrap_or_else(|| ResourceKind::new("unknown"));
    let provider = a.provider.clone().unwrap_or_else(|| kind.provider().to_owned());
    let id = AssetId::new(
        provider,
        a.account.clone().unwrap_or_else(|| "123456789012".into()),
        a.region.clone().unwrap_or_else(|| "us-east-1".into()),
        kind,
        a.resource_id.clone().unwrap_or_else(|| case.name.clone()),
    );
    let mut asset = Asset::new(id);
    asset.name = a.name.clone();
    if !a.attributes.is_null() {
        asset.attributes = Attributes::from(a.attributes.clone());
    }
    asset.tags = a.tags.clone().into();
    asset.first_seen = a.first_seen;
    asset
}
