//! The [`Fix`] trait, what it produces, and the [`Catalogue`] of fixes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use pacbot_core::{Asset, AssetId, Violation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Params;
use crate::error::{Error, Result};
use crate::params::ParamSpec;

/// What a fix works on: the asset (as last scanned, or built from a
/// finding) and, for policy fixes, the violation.
#[derive(Clone, Debug, PartialEq)]
pub struct FixTarget {
    /// The resource.
    pub asset: Asset,
    /// The violation being fixed, when the fix comes from a policy.
    pub violation: Option<Violation>,
}

impl FixTarget {
    /// A target without a violation (a remediation bot's).
    #[must_use]
    pub fn asset(asset: Asset) -> Self {
        Self { asset, violation: None }
    }

    /// The resource id.
    #[must_use]
    pub fn resource_id(&self) -> &str {
        &self.asset.id.resource_id
    }

    /// The account.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.asset.id.account
    }

    /// The region.
    #[must_use]
    pub fn region(&self) -> &str {
        &self.asset.id.region
    }
}

/// One change a fix will make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The API call (`s3:PutPublicAccessBlock`).
    pub action: String,
    /// What it does, for humans.
    pub description: String,
    /// The setting before.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub before: Value,
    /// The setting after.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub after: Value,
}

impl Change {
    /// A change with before and after.
    pub fn new(action: impl Into<String>, description: impl Into<String>, before: Value, after: Value) -> Self {
        Self { action: action.into(), description: description.into(), before, after }
    }
}

/// What a fix will do to one resource: human readable ([`FixPlan::render`])
/// and JSON (serde).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixPlan {
    /// The fix key.
    pub fix: String,
    /// The resource.
    pub target: AssetId,
    /// One sentence.
    pub summary: String,
    /// The changes, in order; empty when already fixed.
    pub changes: Vec<Change>,
    /// The parameters used.
    #[serde(default)]
    pub params: Params,
}

impl FixPlan {
    /// A plan that changes nothing: the resource is already as the fix wants it.
    pub fn already_fixed(fix: &str, target: &FixTarget, why: impl Into<String>) -> Self {
        Self {
            fix: fix.to_owned(),
            target: target.asset.id.clone(),
            summary: why.into(),
            changes: Vec::new(),
            params: Params::new(),
        }
    }

    /// A plan with changes.
    pub fn changes(fix: &str, target: &FixTarget, summary: impl Into<String>, changes: Vec<Change>) -> Self {
        Self {
            fix: fix.to_owned(),
            target: target.asset.id.clone(),
            summary: summary.into(),
            changes,
            params: Params::new(),
        }
    }

    /// Whether applying it would change nothing.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }

    /// The plan as text, one line per change.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!("{} on {}: {}", self.fix, self.target, self.summary);
        for c in &self.changes {
            out.push_str(&format!("\n  - {} ({})", c.description, c.action));
            if !c.before.is_null() || !c.after.is_null() {
                out.push_str(&format!("\n      before: {}\n      after:  {}", c.before, c.after));
            }
        }
        out
    }

    /// The plan as JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What applying (or rolling back) a fix did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// The resource was changed.
    Applied {
        /// What was done.
        message: String,
        /// The configuration afterwards, as read back or as set.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        after: Value,
    },
    /// Nothing needed doing.
    AlreadyFixed {
        /// Why.
        message: String,
    },
}

impl ApplyOutcome {
    /// A change with the configuration afterwards.
    pub fn applied(message: impl Into<String>, after: Value) -> Self {
        ApplyOutcome::Applied { message: message.into(), after }
    }

    /// A no-op.
    pub fn already(message: impl Into<String>) -> Self {
        ApplyOutcome::AlreadyFixed { message: message.into() }
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            ApplyOutcome::Applied { message, .. } | ApplyOutcome::AlreadyFixed { message } => message,
        }
    }
}

/// A fix's description: what it is, what it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixInfo {
    /// The key (`s3-block-public-access`); an `AUTO:` line may write `_` for `-`.
    pub key: &'static str,
    /// Other names it answers to (CloudBots names such as `ec2_stop_instance`).
    pub aliases: &'static [&'static str],
    /// What it does.
    pub title: &'static str,
    /// The resource kinds it handles.
    pub kinds: &'static [&'static str],
    /// Its parameters.
    pub params: &'static [ParamSpec],
    /// The IAM actions it calls (for the least-privilege policy).
    pub permissions: &'static [&'static str],
    /// Whether it can be rolled back from its backup.
    pub rollback: bool,
    /// Whether it destroys something (deletes, terminates): such fixes are
    /// only in the opt-in catalogue.
    pub impactful: bool,
}

/// A remediation: plan, back up, apply, and maybe roll back.
///
/// Implementors keep `apply` idempotent: on a resource already as the fix
/// wants it, it changes nothing and returns [`ApplyOutcome::AlreadyFixed`].
/// `plan` and `backup` only read. The [`crate::Executor`] calls them in the
/// order plan → backup (stored) → audit (stored) → apply, and never calls
/// `apply` in dry-run.
#[async_trait]
pub trait Fix: Send + Sync + fmt::Debug {
    /// What the fix is.
    fn info(&self) -> FixInfo;

    /// What applying would change (reads only).
    async fn plan(&self, target: &FixTarget, params: &Params) -> Result<FixPlan>;

    /// The configuration the fix will change, to store before applying.
    async fn backup(&self, target: &FixTarget, params: &Params) -> Result<Value>;

    /// Makes the change (idempotent).
    async fn apply(&self, target: &FixTarget, params: &Params) -> Result<ApplyOutcome>;

    /// Restores the configuration from a backup `backup` returned.
    async fn rollback(&self, target: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let _ = (target, backup);
        Err(Error::RollbackUnsupported { fix: self.info().key.to_owned() })
    }
}

/// Conveniences over [`Fix`].
pub trait FixExt: Fix {
    /// Checks and converts an `AUTO:` line's or a configuration's arguments.
    fn parse_params(&self, args: &[crate::Arg]) -> Result<Params> {
        let info = self.info();
        Params::parse(info.key, info.params, args)
    }

    /// Fails unless the target's kind is one the fix handles.
    fn check_kind(&self, target: &FixTarget) -> Result<()> {
        let info = self.info();
        if info.kinds.is_empty() || info.kinds.contains(&target.asset.kind().as_str()) {
            Ok(())
        } else {
            Err(Error::UnsupportedTarget {
                fix: info.key.to_owned(),
                target: target.asset.id.to_string(),
                reason: format!("it handles {}, not `{}`", info.kinds.join(", "), target.asset.kind()),
            })
        }
    }
}

impl<F: Fix + ?Sized> FixExt for F {}

fn normalise(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace('_', "-")
}

/// The fixes available, by key (and alias; `_` and `-` are the same).
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    fixes: BTreeMap<String, Arc<dyn Fix>>,
    names: BTreeMap<String, String>,
}

impl Catalogue {
    /// An empty catalogue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a fix; fails when its key or an alias is taken.
    pub fn register(&mut self, fix: Arc<dyn Fix>) -> Result<&mut Self> {
        let info = fix.info();
        let names: Vec<String> = std::iter::once(info.key).chain(info.aliases.iter().copied()).map(normalise).collect();
        for n in &names {
            if let Some(other) = self.names.get(n) {
                return Err(Error::InvalidConfig {
                    path: format!("catalogue.{}", info.key),
                    reason: format!("the name `{n}` is taken by `{other}`"),
                });
            }
        }
        for n in names {
            self.names.insert(n, info.key.to_owned());
        }
        self.fixes.insert(info.key.to_owned(), fix);
        Ok(self)
    }

    /// Adds a fix (builder style).
    pub fn with(mut self, fix: Arc<dyn Fix>) -> Result<Self> {
        self.register(fix)?;
        Ok(self)
    }

    /// The fix with this key or alias.
    pub fn get(&self, key: &str) -> Result<&Arc<dyn Fix>> {
        self.names
            .get(&normalise(key))
            .and_then(|k| self.fixes.get(k))
            .ok_or_else(|| Error::UnknownFix { key: key.to_owned() })
    }

    /// Every fix, by key.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Fix>> {
        self.fixes.values()
    }

    /// The keys, sorted.
    #[must_use]
    pub fn keys(&self) -> Vec<&str> {
        self.fixes.keys().map(String::as_str).collect()
    }

    /// How many fixes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.fixes.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fixes.is_empty()
    }
}
