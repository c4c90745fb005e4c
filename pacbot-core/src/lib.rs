#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod asset;
pub mod attributes;
pub mod compliance;
mod connector;
mod coverage;
pub mod criteria;
pub mod declarative;
mod doc;
mod engine;
mod error;
mod exception;
mod group;
mod inventory;
pub mod path;
mod policy;
pub mod reconcile;
pub mod rule_case;
pub mod shape_doc;
mod tags;
mod violation;

pub use asset::{Asset, AssetId, ResourceKind};
pub use attributes::{Attr, AttrKind, Attributes};
pub use compliance::{
    CategoryCompliance, Compliance, ComplianceConfig, ComplianceReport, PolicyCompliance, TaggingCompliance,
};
pub use connector::{Connector, Discovered, Discovery, JsonInventory, discover_all};
pub use coverage::{Coverage, CoverageScope, ScopeStatus};
pub use criteria::{Condition, Criteria, Operator};
pub use declarative::{DeclarativeRule, Test, load_policy_dir, load_policy_file, parse_policies};
pub use engine::{Engine, EvalContext, Evaluation, Finding, FindingOutcome, PolicyEvaluation, RuleEvaluation};
pub use error::{Error, Result};
pub use exception::{Exception, ExceptionSet, ExceptionTarget};
pub use group::AssetGroup;
pub use inventory::Inventory;
pub use path::AttributePath;
pub use policy::{Category, FnRule, Outcome, Policy, PolicyMeta, Rule, Severity};
pub use reconcile::{ReconcileInput, Reconciliation, reconcile};
pub use tags::Tags;
pub use violation::{CloseReason, Transition, TransitionKind, Violation, ViolationKey, ViolationStatus};

/// The date-time crate used in this API (re-exported so users need not pin it).
pub use chrono;
/// The JSON crate used in this API.
pub use serde_json;
