//! The engine: evaluates an inventory against policies, in parallel.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use fixedbitset::FixedBitSet;
use rayon::prelude::*;
use serde_json::Value;

use crate::asset::{Asset, AssetId, ResourceKind};
use crate::group::AssetGroup;
use crate::inventory::Inventory;
use crate::policy::{Outcome, Policy, PolicyMeta, Rule};

/// What a rule sees besides the asset: the scan time and the whole inventory.
#[derive(Clone, Copy, Debug)]
pub struct EvalContext<'a> {
    inventory: &'a Inventory,
    now: DateTime<Utc>,
}

impl<'a> EvalContext<'a> {
    /// A context over an inventory at scan time `now`.
    #[must_use]
    pub fn new(inventory: &'a Inventory, now: DateTime<Utc>) -> Self {
        Self { inventory, now }
    }

    /// The scan time; rules use it instead of the clock, so results are repeatable.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The whole inventory.
    #[must_use]
    pub fn inventory(&self) -> &'a Inventory {
        self.inventory
    }

    /// An asset by id.
    #[must_use]
    pub fn get(&self, id: &AssetId) -> Option<&'a Asset> {
        self.inventory.get(id)
    }

    /// A related asset of `kind` with `resource_id`, in the same provider and
    /// account as `of` and in its region or `global` (an instance's security
    /// group, a user's group).
    #[must_use]
    pub fn related(&self, of: &Asset, kind: &str, resource_id: &str) -> Option<&'a Asset> {
        self.inventory.related(&of.id, kind, resource_id)
    }

    /// Every asset of a kind.
    pub fn of_kind(&self, kind: &str) -> impl Iterator<Item = &'a Asset> + use<'a> {
        self.inventory.of_kind(&ResourceKind::new(kind))
    }
}

/// A non-passing outcome of one rule on one asset.
#[derive(Clone, Debug, PartialEq)]
pub enum FindingOutcome {
    /// The asset fails the rule.
    Fail {
        /// Why.
        reason: String,
        /// Evidence.
        details: Value,
    },
    /// The rule could not decide.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// A failure or error of one rule on one asset.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The asset's position in the evaluated inventory.
    pub asset: u32,
    /// What happened.
    pub outcome: FindingOutcome,
}

/// The results of one rule over the inventory.
///
/// Passing assets are not listed one by one: an asset passed when it is in
/// `applicable` and has no finding.
#[derive(Clone, Debug)]
pub struct RuleEvaluation {
    /// The rule id.
    pub rule_id: String,
    /// Assets (by position) the rule judged: passed, failed or errored.
    pub applicable: FixedBitSet,
    /// Failures and errors, sorted by asset position.
    pub findings: Vec<Finding>,
    /// How many assets passed.
    pub passed: usize,
    /// How many assets failed.
    pub failed: usize,
    /// How many assets the rule found not applicable (or the policy's scope excluded).
    pub not_applicable: usize,
    /// How many assets the rule could not decide.
    pub errors: usize,
}

impl RuleEvaluation {
    /// The finding for an asset position, if it failed or errored.
    #[must_use]
    pub fn finding(&self, asset: usize) -> Option<&FindingOutcome> {
        let asset = u32::try_from(asset).ok()?;
        self.findings.binary_search_by_key(&asset, |f| f.asset).ok().map(|i| &self.findings[i].outcome)
    }

    /// The outcome for an asset position (`NotApplicable` when it was not judged).
    #[must_use]
    pub fn outcome(&self, asset: usize) -> Outcome {
        match self.finding(asset) {
            Some(FindingOutcome::Fail { reason, details }) => {
                Outcome::Fail { reason: reason.clone(), details: details.clone() }
            }
            Some(FindingOutcome::Error { message }) => Outcome::Error { message: message.clone() },
            None if self.applicable.contains(asset) => Outcome::Pass,
            None => Outcome::NotApplicable,
        }
    }
}

/// The results of one policy over the inventory.
#[derive(Clone, Debug)]
pub struct PolicyEvaluation {
    /// The policy's metadata.
    pub meta: Arc<PolicyMeta>,
    /// One entry per rule, in the policy's order.
    pub rules: Vec<RuleEvaluation>,
    /// Assets (by position) that at least one rule judged: the policy's
    /// assets in scope for compliance.
    pub in_scope: FixedBitSet,
}

impl PolicyEvaluation {
    /// The evaluation of one rule.
    #[must_use]
    pub fn rule(&self, rule_id: &str) -> Option<&RuleEvaluation> {
        self.rules.iter().find(|r| r.rule_id == rule_id)
    }
}

/// The results of evaluating an inventory: per enabled policy, per rule.
///
/// An evaluation refers to assets by position in the inventory it was made
/// from; use it with that inventory.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The scan time.
    pub now: DateTime<Utc>,
    /// The number of assets in the evaluated inventory.
    pub asset_count: usize,
    /// One entry per enabled policy, in the engine's order.
    pub policies: Vec<PolicyEvaluation>,
}

impl Evaluation {
    /// The evaluation of one policy.
    #[must_use]
    pub fn policy(&self, policy_id: &str) -> Option<&PolicyEvaluation> {
        self.policies.iter().find(|p| p.meta.id == policy_id)
    }

    /// Every failure and error: (policy, rule, asset position, outcome).
    pub fn findings(&self) -> impl Iterator<Item = (&PolicyMeta, &str, usize, &FindingOutcome)> {
        self.policies.iter().flat_map(|p| {
            p.rules.iter().flat_map(move |r| {
                r.findings.iter().map(move |f| (&*p.meta, r.rule_id.as_str(), f.asset as usize, &f.outcome))
            })
        })
    }

    /// How many (asset, rule) pairs were judged.
    #[must_use]
    pub fn checks(&self) -> usize {
        self.policies.iter().flat_map(|p| &p.rules).map(|r| r.passed + r.failed + r.errors).sum()
    }
}

/// Evaluates inventories against a validated set of policies.
///
/// ```
/// use pacbot_core::{Asset, AssetId, Engine, FnRule, Inventory, Outcome, Policy, PolicyMeta, Severity, Category};
/// let policy = Policy::new(
///     PolicyMeta::new("owner-tag", "Instances have an owner", Severity::Low, Category::Tagging),
///     FnRule::new("has-owner", ["aws.ec2.instance"], |a, _| {
///         Outcome::check(a.tag("Owner").is_some(), || "no `Owner` tag".into())
///     }),
/// );
/// let engine = Engine::new(vec![policy], vec![]).unwrap();
/// let inventory = Inventory::from_assets([
///     Asset::new(AssetId::new("aws", "1", "us-east-1", "aws.ec2.instance", "i-1")),
/// ]);
/// let eval = engine.evaluate(&inventory, chrono::Utc::now());
/// assert_eq!(eval.policies[0].rules[0].failed, 1);
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    policies: Vec<Policy>,
    groups: BTreeMap<String, AssetGroup>,
}

impl Engine {
    /// An engine over policies and the asset groups their scopes name.
    ///
    /// Fails on duplicate policy ids, duplicate group names and scopes that
    /// name a group not given.
    pub fn new(policies: Vec<Policy>, groups: Vec<AssetGroup>) -> Result<Self, crate::Error> {
        let mut by_name = BTreeMap::new();
        for g in groups {
            if by_name.contains_key(&g.name) {
                return Err(crate::Error::Duplicate { what: "asset group", id: g.name });
            }
            by_name.insert(g.name.clone(), g);
        }
        let mut ids = BTreeSet::new();
        for p in &policies {
            if !ids.insert(p.id()) {
                return Err(crate::Error::Duplicate { what: "policy", id: p.id().to_owned() });
            }
            if let Some(scope) = &p.meta().scope
                && !by_name.contains_key(scope)
            {
                return Err(crate::Error::InvalidPolicy {
                    source_name: format!("policy `{}`", p.id()),
                    path: "scope".into(),
                    reason: format!("asset group `{scope}` not found"),
                });
            }
        }
        Ok(Self { policies, groups: by_name })
    }

    /// The policies, enabled or not.
    #[must_use]
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// A policy by id.
    #[must_use]
    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id() == id)
    }

    /// The asset groups, by name.
    #[must_use]
    pub fn groups(&self) -> &BTreeMap<String, AssetGroup> {
        &self.groups
    }

    /// Which assets (by position) belong to a group.
    #[must_use]
    pub fn group_members(&self, group: &AssetGroup, inventory: &Inventory, now: DateTime<Utc>) -> FixedBitSet {
        members(group, inventory, now)
    }

    /// Evaluates every enabled policy over the inventory at scan time `now`.
    ///
    /// The work is spread over rayon's thread pool; the result does not
    /// depend on the number of threads.
    #[must_use]
    pub fn evaluate(&self, inventory: &Inventory, now: DateTime<Utc>) -> Evaluation {
        let ctx = EvalContext::new(inventory, now);
        let enabled: Vec<&Policy> = self.policies.iter().filter(|p| p.meta().enabled).collect();

        // Group membership, once per group that some enabled policy is scoped to.
        let scoped: BTreeSet<&str> = enabled.iter().filter_map(|p| p.meta().scope.as_deref()).collect();
        let scopes: HashMap<&str, FixedBitSet> = scoped
            .into_par_iter()
            .filter_map(|name| self.groups.get(name).map(|g| (name, members(g, inventory, now))))
            .collect();

        let tasks: Vec<(usize, &Arc<dyn Rule>)> =
            enabled.iter().enumerate().flat_map(|(i, p)| p.rules().iter().map(move |r| (i, r))).collect();
        let rule_scope = |ri: usize| enabled[tasks[ri].0].meta().scope.as_deref().and_then(|s| scopes.get(s));
        let rule_results = evaluate_rules(&tasks, rule_scope, &ctx);

        let mut results = rule_results.into_iter();
        let policies = enabled
            .iter()
            .map(|p| {
                let rules: Vec<RuleEvaluation> = results.by_ref().take(p.rules().len()).collect();
                let mut in_scope = FixedBitSet::with_capacity(inventory.len());
                for r in &rules {
                    in_scope.union_with(&r.applicable);
                }
                PolicyEvaluation { meta: Arc::clone(p.meta_arc()), rules, in_scope }
            })
            .collect();
        Evaluation { now, asset_count: inventory.len(), policies }
    }
}

fn members(group: &AssetGroup, inventory: &Inventory, now: DateTime<Utc>) -> FixedBitSet {
    let assets = inventory.assets();
    let hits: Vec<usize> =
        assets.par_iter().enumerate().filter(|(_, a)| group.criteria.matches(a, now)).map(|(i, _)| i).collect();
    let mut set = FixedBitSet::with_capacity(assets.len());
    for i in hits {
        set.insert(i);
    }
    set
}

/// How many assets one parallel job judges: small enough that the job's
/// assets stay in the core's cache while every rule of their kind reads them.
const CHUNK: usize = 256;

/// What one rule concluded over one chunk of assets.
#[derive(Default)]
struct Partial {
    applicable: Vec<u32>,
    findings: Vec<Finding>,
    passed: usize,
    not_applicable: usize,
}

/// Evaluates every rule over the assets of its kinds.
///
/// The work is split by asset, not by rule: a job takes a chunk of assets of
/// one kind and runs every rule for that kind over it, so each attribute
/// document is fetched from memory once per scan rather than once per rule.
fn evaluate_rules<'s>(
    rules: &[(usize, &Arc<dyn Rule>)],
    scope_of: impl Fn(usize) -> Option<&'s FixedBitSet> + Sync,
    ctx: &EvalContext<'_>,
) -> Vec<RuleEvaluation> {
    let inventory = ctx.inventory();
    let kinds = inventory.kinds();
    // Per kind present, the rules that judge it (a rule without kinds judges all).
    let rules_of_kind: Vec<(Vec<usize>, &[u32])> = kinds
        .iter()
        .map(|(kind, _)| {
            let applicable = rules
                .iter()
                .enumerate()
                .filter(|(_, (_, r))| r.kinds().is_empty() || r.kinds().contains(kind))
                .map(|(ri, _)| ri)
                .collect();
            (applicable, inventory.positions_of_kind(kind))
        })
        .collect();
    let jobs: Vec<(&[usize], &[u32])> = rules_of_kind
        .iter()
        .filter(|(rs, _)| !rs.is_empty())
        .flat_map(|(rs, positions)| positions.chunks(CHUNK).map(move |chunk| (rs.as_slice(), chunk)))
        .collect();
    let partials: Vec<Vec<(usize, Partial)>> = jobs
        .into_par_iter()
        .map(|(rs, chunk)| rs.iter().map(|&ri| (ri, judge(rules[ri].1.as_ref(), scope_of(ri), chunk, ctx))).collect())
        .collect();

    let mut evals: Vec<RuleEvaluation> = rules
        .iter()
        .map(|(_, rule)| RuleEvaluation {
            rule_id: rule.id().to_owned(),
            applicable: FixedBitSet::with_capacity(inventory.len()),
            findings: Vec::new(),
            passed: 0,
            failed: 0,
            not_applicable: 0,
            errors: 0,
        })
        .collect();
    for (ri, part) in partials.into_iter().flatten() {
        let Some(eval) = evals.get_mut(ri) else { continue };
        eval.passed += part.passed;
        eval.not_applicable += part.not_applicable;
        for pos in part.applicable {
            eval.applicable.insert(pos as usize);
        }
        eval.findings.extend(part.findings);
    }
    for eval in &mut evals {
        eval.findings.sort_by_key(|f| f.asset);
        for f in &eval.findings {
            match f.outcome {
                FindingOutcome::Fail { .. } => eval.failed += 1,
                FindingOutcome::Error { .. } => eval.errors += 1,
            }
        }
    }
    evals
}

/// Runs one rule over a chunk of assets.
fn judge(rule: &dyn Rule, scope: Option<&FixedBitSet>, chunk: &[u32], ctx: &EvalContext<'_>) -> Partial {
    let inventory = ctx.inventory();
    let mut part = Partial::default();
    for &pos in chunk {
        if scope.is_some_and(|s| !s.contains(pos as usize)) {
            part.not_applicable += 1;
            continue;
        }
        let Some(asset) = inventory.at(pos as usize) else { continue };
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rule.evaluate(asset, ctx))) {
            Ok(o) => o,
            Err(_) => Outcome::error(format!("rule `{}` panicked", rule.id())),
        };
        match outcome {
            Outcome::Pass => {
                part.passed += 1;
                part.applicable.push(pos);
            }
            Outcome::NotApplicable => part.not_applicable += 1,
            Outcome::Fail { reason, details } => {
                part.applicable.push(pos);
                part.findings.push(Finding { asset: pos, outcome: FindingOutcome::Fail { reason, details } });
            }
            Outcome::Error { message } => {
                part.applicable.push(pos);
                part.findings.push(Finding { asset: pos, outcome: FindingOutcome::Error { message } });
            }
        }
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criteria::Criteria;
    use crate::policy::{Category, FnRule, Severity};

    fn inv() -> Inventory {
        (0..5000)
            .map(|i| {
                Asset::new(AssetId::new("aws", "1", "r", if i % 2 == 0 { "vm" } else { "disk" }, format!("a{i}")))
                    .with_tag("Env", if i % 3 == 0 { "prod" } else { "dev" })
                    .with_attributes(serde_json::json!({"n": i}))
            })
            .collect()
    }

    fn meta(id: &str) -> PolicyMeta {
        PolicyMeta::new(id, id, Severity::High, Category::Security)
    }

    #[test]
    fn evaluates_by_kind_and_scope_with_counts() {
        let odd_n = FnRule::new("odd", ["vm"], |a: &Asset, _: &EvalContext<'_>| {
            let n = a.attributes.field("n").as_u64().unwrap_or(0);
            if n.is_multiple_of(4) {
                Outcome::fail_with("divisible by four", serde_json::json!({"n": n}))
            } else if n == 2 {
                Outcome::error("two is odd")
            } else if n == 6 {
                Outcome::NotApplicable
            } else {
                Outcome::Pass
            }
        });
        let policies = vec![
            Policy::new(meta("p1"), odd_n),
            Policy::new(
                meta("p2").with_scope("prod"),
                FnRule::new("any", Vec::<&str>::new(), |_, _| Outcome::fail("x")),
            ),
            Policy::new(meta("p3"), FnRule::new("off", ["vm"], |_, _| Outcome::fail("x"))).enabled(false),
        ];
        let groups = vec![AssetGroup::new("prod", Criteria::eq("tags.Env", "prod").unwrap())];
        let engine = Engine::new(policies, groups).unwrap();
        let inventory = inv();
        let now = Utc::now();
        let eval = engine.evaluate(&inventory, now);
        assert_eq!(eval.policies.len(), 2, "disabled policies are not evaluated");
        let r = &eval.policies[0].rules[0];
        assert_eq!(r.failed, 1250);
        assert_eq!(r.errors, 1);
        assert_eq!(r.not_applicable, 1);
        assert_eq!(r.passed, 2500 - 1250 - 2);
        assert_eq!(r.applicable.count_ones(..), 2499);
        assert!(matches!(r.outcome(4), Outcome::Fail { .. }));
        assert_eq!(r.outcome(1), Outcome::NotApplicable, "disks are not judged");
        assert_eq!(r.outcome(10), Outcome::Pass);
        let p2 = &eval.policies[1];
        assert_eq!(p2.rules[0].failed, (0..5000).filter(|i| i % 3 == 0).count());
        assert_eq!(p2.in_scope.count_ones(..), p2.rules[0].failed);
        assert_eq!(eval.checks(), 2499 + 1667);

        // Deterministic whatever the thread count.
        let single = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let again = single.install(|| engine.evaluate(&inventory, now));
        let a: Vec<_> = eval.findings().map(|(p, r, i, o)| (p.id.clone(), r.to_owned(), i, o.clone())).collect();
        let b: Vec<_> = again.findings().map(|(p, r, i, o)| (p.id.clone(), r.to_owned(), i, o.clone())).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn a_panicking_rule_is_an_error_not_a_crash() {
        let engine = Engine::new(
            vec![Policy::new(meta("p"), FnRule::new("boom", ["vm"], |_, _| -> Outcome { unreachable!("bad rule") }))],
            vec![],
        )
        .unwrap();
        let inventory = Inventory::from_assets([Asset::new(AssetId::new("aws", "1", "r", "vm", "x"))]);
        let eval = engine.evaluate(&inventory, Utc::now());
        assert_eq!(eval.policies[0].rules[0].errors, 1);
    }

    #[test]
    fn rejects_duplicate_ids_and_unknown_scopes() {
        let p = || Policy::new(meta("p"), FnRule::new("r", ["vm"], |_, _| Outcome::Pass));
        assert!(matches!(Engine::new(vec![p(), p()], vec![]), Err(crate::Error::Duplicate { .. })));
        let scoped = p().scoped(Some("nope".into()));
        let err = Engine::new(vec![scoped], vec![]).unwrap_err().to_string();
        assert!(err.contains("asset group `nope` not found"), "{err}");
    }
}
