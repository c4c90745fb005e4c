//! Policies: metadata plus the rules that check assets.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::asset::{Asset, ResourceKind};
use crate::engine::EvalContext;

/// How bad a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hygiene; fix when convenient.
    Low,
    /// A weakness worth planning to fix.
    Medium,
    /// A serious exposure.
    High,
    /// An exposure to fix now.
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The weight of a policy of this severity in its category's compliance
    /// (critical 10, high 5, medium 3, low 1).
    #[must_use]
    pub fn weight(self) -> f64 {
        match self {
            Severity::Critical => 10.0,
            Severity::High => 5.0,
            Severity::Medium => 3.0,
            Severity::Low => 1.0,
        }
    }

    /// The lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| crate::Error::NotFound { what: "severity", id: s.to_owned() })
    }
}

/// What a policy protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Exposure, encryption, identity.
    Security,
    /// Operational hygiene: logging, versioning, backups.
    Governance,
    /// Waste: idle and orphaned resources.
    Cost,
    /// Mandatory tags.
    Tagging,
}

impl Category {
    /// All categories.
    pub const ALL: [Category; 4] = [Category::Security, Category::Governance, Category::Cost, Category::Tagging];

    /// The lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Security => "security",
            Category::Governance => "governance",
            Category::Cost => "cost",
            Category::Tagging => "tagging",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| crate::Error::NotFound { what: "category", id: s.to_owned() })
    }
}

fn yes() -> bool {
    true
}

/// A policy's human-readable metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    /// Stable identifier, such as `aws-s3-bucket-public-read`.
    pub id: String,
    /// Short title.
    pub name: String,
    /// What the policy checks and why it matters.
    #[serde(default)]
    pub description: String,
    /// How to fix a violation.
    #[serde(default)]
    pub resolution: String,
    /// How bad a violation is.
    pub severity: Severity,
    /// What the policy protects.
    pub category: Category,
    /// Framework controls this policy maps to, by framework
    /// (`cis-aws-foundations-v3.0.0: ["2.1.1"]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub frameworks: BTreeMap<String, Vec<String>>,
    /// The key of the auto-fix that remediates a violation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Whether the policy is evaluated.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The asset group the policy is limited to; `None` for every asset of its kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl PolicyMeta {
    /// Metadata with the required fields; the rest empty, enabled, unscoped.
    pub fn new(id: impl Into<String>, name: impl Into<String>, severity: Severity, category: Category) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            resolution: String::new(),
            severity,
            category,
            frameworks: BTreeMap::new(),
            fix: None,
            enabled: true,
            scope: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Sets the resolution.
    #[must_use]
    pub fn with_resolution(mut self, text: impl Into<String>) -> Self {
        self.resolution = text.into();
        self
    }

    /// Adds a framework control id.
    #[must_use]
    pub fn with_framework(mut self, framework: impl Into<String>, control: impl Into<String>) -> Self {
        self.frameworks.entry(framework.into()).or_default().push(control.into());
        self
    }

    /// Sets the fix key.
    #[must_use]
    pub fn with_fix(mut self, key: impl Into<String>) -> Self {
        self.fix = Some(key.into());
        self
    }

    /// Limits the policy to an asset group.
    #[must_use]
    pub fn with_scope(mut self, group: impl Into<String>) -> Self {
        self.scope = Some(group.into());
        self
    }
}

/// The result of checking one asset against one rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The asset complies.
    Pass,
    /// The asset violates the rule.
    Fail {
        /// Why, for humans.
        reason: String,
        /// Evidence, for machines (the offending rule, grant, statement, …).
        #[serde(default, skip_serializing_if = "Value::is_null")]
        details: Value,
    },
    /// The rule does not apply to this asset (a stopped instance, a kind it
    /// does not judge).
    NotApplicable,
    /// The rule could not decide (missing or malformed attributes).
    Error {
        /// What went wrong.
        message: String,
    },
}

impl Outcome {
    /// A failure with a reason and no details.
    pub fn fail(reason: impl Into<String>) -> Self {
        Outcome::Fail { reason: reason.into(), details: Value::Null }
    }

    /// A failure with a reason and details.
    pub fn fail_with(reason: impl Into<String>, details: Value) -> Self {
        Outcome::Fail { reason: reason.into(), details }
    }

    /// An evaluation error.
    pub fn error(message: impl Into<String>) -> Self {
        Outcome::Error { message: message.into() }
    }

    /// `Pass` when `ok`, otherwise a failure with `reason`.
    pub fn check(ok: bool, reason: impl FnOnce() -> String) -> Self {
        if ok { Outcome::Pass } else { Outcome::fail(reason()) }
    }

    /// The short name: `pass`, `fail`, `not_applicable`, `error`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail { .. } => "fail",
            Outcome::NotApplicable => "not_applicable",
            Outcome::Error { .. } => "error",
        }
    }
}

/// A check of one asset.
///
/// Evaluation is synchronous, deterministic and free of side effects: the
/// engine calls rules from many threads at once. A rule judges the kinds it
/// lists in [`Rule::kinds`]; the engine only passes it assets of those kinds
/// (every asset when the list is empty).
pub trait Rule: Send + Sync + fmt::Debug {
    /// The rule's id, unique within its policy.
    fn id(&self) -> &str;

    /// The kinds of asset the rule judges; empty for every kind.
    fn kinds(&self) -> &[ResourceKind];

    /// Checks one asset. `ctx` gives the scan time and the rest of the inventory.
    fn evaluate(&self, asset: &Asset, ctx: &EvalContext<'_>) -> Outcome;

    /// A human-readable description of what the rule checks.
    fn description(&self) -> String {
        String::new()
    }

    /// The rule's definition as data, for rules that have one (declarative
    /// rules return their criteria); shown by `explain`-style tooling.
    fn definition(&self) -> Option<Value> {
        None
    }
}

/// A policy: metadata plus one or more rules.
#[derive(Clone, Debug)]
pub struct Policy {
    meta: Arc<PolicyMeta>,
    rules: Vec<Arc<dyn Rule>>,
}

impl Policy {
    /// A policy with one rule.
    pub fn new(meta: PolicyMeta, rule: impl Rule + 'static) -> Self {
        Self { meta: Arc::new(meta), rules: vec![Arc::new(rule)] }
    }

    /// A policy from metadata and shared rules; checks that the policy has an
    /// id, a name, at least one rule and unique rule ids.
    pub fn from_parts(meta: PolicyMeta, rules: Vec<Arc<dyn Rule>>) -> Result<Self, crate::Error> {
        let invalid =
            |reason: String| crate::Error::InvalidPolicy { source_name: "code".into(), path: meta.id.clone(), reason };
        if meta.id.trim().is_empty() {
            return Err(invalid("the policy id is empty".into()));
        }
        if meta.name.trim().is_empty() {
            return Err(invalid("the policy name is empty".into()));
        }
        if rules.is_empty() {
            return Err(invalid("a policy needs at least one rule".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &rules {
            if !seen.insert(r.id()) {
                return Err(invalid(format!("duplicate rule id `{}`", r.id())));
            }
        }
        Ok(Self { meta: Arc::new(meta), rules })
    }

    /// Adds a rule.
    #[must_use]
    pub fn with_rule(mut self, rule: impl Rule + 'static) -> Self {
        self.rules.push(Arc::new(rule));
        self
    }

    /// The metadata.
    #[must_use]
    pub fn meta(&self) -> &PolicyMeta {
        &self.meta
    }

    /// The metadata, shared.
    #[must_use]
    pub fn meta_arc(&self) -> &Arc<PolicyMeta> {
        &self.meta
    }

    /// The policy id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.meta.id
    }

    /// The rules.
    #[must_use]
    pub fn rules(&self) -> &[Arc<dyn Rule>] {
        &self.rules
    }

    /// The same policy, enabled or disabled.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        Arc::make_mut(&mut self.meta).enabled = enabled;
        self
    }

    /// The same policy limited to an asset group (or unscoped with `None`).
    #[must_use]
    pub fn scoped(mut self, group: Option<String>) -> Self {
        Arc::make_mut(&mut self.meta).scope = group;
        self
    }
}

/// A rule written as a closure, for policies in code.
///
/// ```
/// use pacbot_core::{FnRule, Outcome};
/// let rule = FnRule::new("has-owner", ["aws.ec2.instance"], |asset, _ctx| {
///     Outcome::check(asset.tag("Owner").is_some(), || "no `Owner` tag".into())
/// });
/// ```
pub struct FnRule<F> {
    id: String,
    kinds: Vec<ResourceKind>,
    f: F,
}

impl<F> FnRule<F>
where
    F: Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync,
{
    /// A rule with an id, the kinds it judges and the check.
    pub fn new<K: Into<ResourceKind>>(id: impl Into<String>, kinds: impl IntoIterator<Item = K>, f: F) -> Self {
        Self { id: id.into(), kinds: kinds.into_iter().map(Into::into).collect(), f }
    }
}

impl<F> fmt::Debug for FnRule<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnRule").field("id", &self.id).field("kinds", &self.kinds).finish_non_exhaustive()
    }
}

impl<F> Rule for FnRule<F>
where
    F: Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync,
{
    fn id(&self) -> &str {
        &self.id
    }
    fn kinds(&self) -> &[ResourceKind] {
        &self.kinds
    }
    fn evaluate(&self, asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
        (self.f)(asset, ctx)
    }
}
