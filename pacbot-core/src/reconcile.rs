//! Reconcile: from the previous violations and a new evaluation to the new
//! violation set and its transitions.
//!
//! Architecture invariants held here (each has a test):
//! - A violation closes only when the scan saw its resource pass (or no
//!   longer apply), or completed the resource's collection scope without
//!   finding it. A violation whose scope failed, or was not collected by this
//!   scan (another shard's), stays as it was.
//! - A policy that was not evaluated (disabled, or not part of this scan)
//!   leaves its violations as they were.
//! - A rule retired from an evaluated policy closes its violations
//!   (`RuleRetired`) only where the scan covered the resource: it saw the
//!   asset, or completed its scope. Elsewhere (a failed scope, another
//!   shard's, which may still run the previous version of the pack) they stay
//!   as they were, and close at the first scan that covers them.
//! - Exceptions exempt, they never close.
//! - Reconciling the same evaluation again changes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::asset::AssetId;
use crate::coverage::Coverage;
use crate::engine::{Evaluation, FindingOutcome, PolicyEvaluation, RuleEvaluation};
use crate::exception::{Exception, ExceptionSet};
use crate::inventory::Inventory;
use crate::violation::{CloseReason, Transition, TransitionKind, Violation, ViolationKey, ViolationStatus};

/// Everything reconciliation looks at.
#[derive(Clone, Copy, Debug)]
pub struct ReconcileInput<'a> {
    /// The violations known before this scan for the scopes concerned: at
    /// least every active one; closed ones too, so a repeat failure is
    /// recognised as re-opened.
    pub previous: &'a [Violation],
    /// The inventory the evaluation was made from.
    pub inventory: &'a Inventory,
    /// The evaluation.
    pub evaluation: &'a Evaluation,
    /// What the scan collected completely.
    pub coverage: &'a Coverage,
    /// The exceptions in force.
    pub exceptions: &'a ExceptionSet,
    /// The scan time.
    pub now: DateTime<Utc>,
}

/// The result of reconciling.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciliation {
    /// Every violation of the input and every new one, in its new state,
    /// sorted by key.
    pub violations: Vec<Violation>,
    /// What happened to each violation that this scan judged, sorted by key.
    pub transitions: Vec<Transition>,
}

impl Reconciliation {
    /// The transitions that changed a status.
    pub fn changes(&self) -> impl Iterator<Item = &Transition> {
        self.transitions.iter().filter(|t| t.kind.is_change())
    }

    /// The violations this reconciliation created or changed, for a store
    /// that writes only what moved: those whose `modified_at` is the scan
    /// time `now` the reconciliation ran with. (A violation last changed at
    /// exactly `now` by an earlier run counts too, which costs a rewrite,
    /// never a lost change.)
    pub fn changed(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.modified_at == now)
    }

    /// How many transitions of each kind.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<TransitionKind, usize> {
        let mut out = BTreeMap::new();
        for t in &self.transitions {
            *out.entry(t.kind).or_insert(0) += 1;
        }
        out
    }
}

/// What the scan says about a violation it did not flag.
enum Unflagged {
    /// Passed, no longer applicable, or out of scope.
    Clean(CloseReason),
    /// The asset was not found and its scope was completed.
    Gone,
    /// Nothing can be said (policy not evaluated, scope not collected).
    Unseen,
}

/// Computes the new violation set and its transitions.
#[must_use]
pub fn reconcile(input: &ReconcileInput<'_>) -> Reconciliation {
    let ReconcileInput { previous, inventory, evaluation, coverage, exceptions, now } = *input;
    let policies: HashMap<&str, &PolicyEvaluation> =
        evaluation.policies.iter().map(|p| (p.meta.id.as_str(), p)).collect();
    let prev: HashMap<&ViolationKey, &Violation> = previous.iter().map(|v| (&v.key, v)).collect();

    let mut out: BTreeMap<ViolationKey, (Violation, Option<Transition>)> = BTreeMap::new();

    // 1. Everything the evaluation found failing or erroring.
    for p in &evaluation.policies {
        for r in &p.rules {
            for f in &r.findings {
                let Some(asset) = inventory.at(f.asset as usize) else { continue };
                let key =
                    ViolationKey { policy_id: p.meta.id.clone(), rule_id: r.rule_id.clone(), asset: asset.id.clone() };
                let old = prev.get(&key).copied();
                let next = match &f.outcome {
                    FindingOutcome::Fail { reason, details } => {
                        let exception = exceptions.find(asset, &p.meta.id, now);
                        on_fail(old, &key, reason, details, exception, p, now)
                    }
                    FindingOutcome::Error { message } => on_error(old, &key, message, p, now),
                };
                out.insert(key, next);
            }
        }
    }

    // 2. Every previous violation the evaluation did not flag.
    for v in previous {
        if out.contains_key(&v.key) {
            continue;
        }
        let verdict = match policies.get(v.key.policy_id.as_str()) {
            None => Unflagged::Unseen,
            Some(p) => match p.rule(&v.key.rule_id) {
                Some(r) => judge_unflagged(&v.key.asset, r, inventory, coverage),
                None if covers(&v.key.asset, inventory, coverage) => Unflagged::Clean(CloseReason::RuleRetired),
                None => Unflagged::Unseen,
            },
        };
        out.insert(v.key.clone(), on_unflagged(v, verdict, now));
    }

    let mut violations = Vec::with_capacity(out.len());
    let mut transitions = Vec::new();
    for (_, (v, t)) in out {
        violations.push(v);
        transitions.extend(t);
    }
    Reconciliation { violations, transitions }
}

/// Whether this scan saw the asset, or completed its collection scope.
fn covers(id: &AssetId, inventory: &Inventory, coverage: &Coverage) -> bool {
    inventory.position(id).is_some() || coverage.is_complete(&id.scope())
}

fn judge_unflagged(id: &AssetId, r: &RuleEvaluation, inventory: &Inventory, coverage: &Coverage) -> Unflagged {
    match inventory.position(id) {
        Some(pos) if r.applicable.contains(pos) => Unflagged::Clean(CloseReason::Fixed),
        Some(_) => Unflagged::Clean(CloseReason::NotApplicable),
        None if coverage.is_complete(&id.scope()) => Unflagged::Gone,
        None => Unflagged::Unseen,
    }
}

fn transition(
    key: &ViolationKey,
    kind: TransitionKind,
    from: Option<&Violation>,
    to: ViolationStatus,
    now: DateTime<Utc>,
    reason: String,
) -> Transition {
    Transition { key: key.clone(), kind, from: from.map(|v| v.status), to, at: now, reason }
}

fn new_violation(
    key: &ViolationKey,
    status: ViolationStatus,
    reason: &str,
    details: &Value,
    policy: &PolicyEvaluation,
    now: DateTime<Utc>,
) -> Violation {
    Violation {
        key: key.clone(),
        status,
        severity: policy.meta.severity,
        category: policy.meta.category,
        reason: reason.to_owned(),
        details: details.clone(),
        exception_id: None,
        created_at: now,
        modified_at: now,
        closed_at: None,
        close_reason: None,
    }
}

fn on_fail(
    old: Option<&Violation>,
    key: &ViolationKey,
    reason: &str,
    details: &Value,
    exception: Option<&Exception>,
    policy: &PolicyEvaluation,
    now: DateTime<Utc>,
) -> (Violation, Option<Transition>) {
    let status = if exception.is_some() { ViolationStatus::Exempted } else { ViolationStatus::Open };
    let mut v = match old {
        Some(o) => o.clone(),
        None => new_violation(key, status, reason, details, policy, now),
    };
    let kind = match (old.map(|o| o.status), status) {
        (None | Some(ViolationStatus::Unknown), ViolationStatus::Open) => TransitionKind::Opened,
        (Some(ViolationStatus::Open), ViolationStatus::Open) => TransitionKind::StillOpen,
        (Some(ViolationStatus::Closed | ViolationStatus::Exempted), ViolationStatus::Open) => TransitionKind::Reopened,
        (Some(ViolationStatus::Exempted), _) => TransitionKind::StillExempted,
        (_, _) => TransitionKind::Exempted,
    };
    let exception_id = exception.map(|e| e.id.clone());
    let changed = v.status != status
        || v.reason != reason
        || v.details != *details
        || v.severity != policy.meta.severity
        || v.category != policy.meta.category
        || v.exception_id != exception_id;
    if changed {
        v.status = status;
        reason.clone_into(&mut v.reason);
        v.details = details.clone();
        v.severity = policy.meta.severity;
        v.category = policy.meta.category;
        v.exception_id = exception_id;
        v.closed_at = None;
        v.close_reason = None;
        v.modified_at = now;
    }
    let why = match exception {
        Some(e) => format!("exempted by `{}`: {}", e.id, e.reason),
        None => reason.to_owned(),
    };
    let t = transition(key, kind, old, status, now, why);
    (v, Some(t))
}

fn on_error(
    old: Option<&Violation>,
    key: &ViolationKey,
    message: &str,
    policy: &PolicyEvaluation,
    now: DateTime<Utc>,
) -> (Violation, Option<Transition>) {
    let unknown = ViolationStatus::Unknown;
    match old {
        // An error says nothing about a closed violation: it stays closed.
        Some(o) if o.status == ViolationStatus::Closed => (o.clone(), None),
        Some(o) => {
            let mut v = o.clone();
            let kind = if o.status == unknown { TransitionKind::StillUnknown } else { TransitionKind::Unknown };
            if v.status != unknown || v.reason != message {
                v.status = unknown;
                v.exception_id = None;
                message.clone_into(&mut v.reason);
                v.modified_at = now;
            }
            (v, Some(transition(key, kind, old, unknown, now, message.to_owned())))
        }
        None => {
            let v = new_violation(key, unknown, message, &Value::Null, policy, now);
            (v, Some(transition(key, TransitionKind::Unknown, None, unknown, now, message.to_owned())))
        }
    }
}

fn on_unflagged(old: &Violation, verdict: Unflagged, now: DateTime<Utc>) -> (Violation, Option<Transition>) {
    let (close, kind, why) = match verdict {
        Unflagged::Unseen => return (old.clone(), None),
        _ if old.status == ViolationStatus::Closed => return (old.clone(), None),
        Unflagged::Gone => {
            (CloseReason::ResourceGone, TransitionKind::ClosedResourceGone, "the resource no longer exists")
        }
        Unflagged::Clean(CloseReason::Fixed) => {
            (CloseReason::Fixed, TransitionKind::ClosedFixed, "the resource now passes")
        }
        Unflagged::Clean(CloseReason::RuleRetired) => {
            (CloseReason::RuleRetired, TransitionKind::ClosedNotApplicable, "the rule was retired")
        }
        Unflagged::Clean(other) => {
            (other, TransitionKind::ClosedNotApplicable, "the rule no longer applies to the resource")
        }
    };
    let mut v = old.clone();
    v.status = ViolationStatus::Closed;
    v.closed_at = Some(now);
    v.close_reason = Some(close);
    v.exception_id = None;
    v.modified_at = now;
    let t = transition(&old.key, kind, Some(old), ViolationStatus::Closed, now, why.to_owned());
    (v, Some(t))
}
