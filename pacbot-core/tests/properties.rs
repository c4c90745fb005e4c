#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Properties of reconciliation, compliance and criteria over random small
//! estates.
//!
//! Every reconcile property runs on the same generator: assets over a few
//! providers' accounts, regions and kinds, random previous violations of
//! every status (including ones of disabled and removed policies and of
//! retired rules), per-asset rule outcomes (pass / fail / error / not
//! applicable, read from attributes by an `FnRule`), random coverage
//! (complete, failed or missing per scope) and random exceptions (individual
//! and sticky, some expired).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use fixedbitset::FixedBitSet;
use pacbot_core::{
    Asset, AssetGroup, AssetId, Category, CloseReason, Compliance, ComplianceConfig, ComplianceReport, Coverage,
    CoverageScope, Criteria, Engine, EvalContext, Evaluation, Exception, ExceptionSet, ExceptionTarget, FnRule,
    Inventory, Outcome, Policy, PolicyMeta, ReconcileInput, Reconciliation, Severity, Violation, ViolationKey,
    ViolationStatus, reconcile,
};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The estate generator
// ---------------------------------------------------------------------------

const ACCOUNTS: [&str; 2] = ["a1", "a2"];
const REGIONS: [&str; 2] = ["r1", "r2"];
const KINDS: [&str; 3] = ["k.vm", "k.disk", "k.bucket"];
/// Resource ids per (account, region, kind).
const IDS: usize = 3;
/// Every asset id the generator can name.
const UNIVERSE: usize = ACCOUNTS.len() * REGIONS.len() * KINDS.len() * IDS;

/// (policy, rule) pairs the engine evaluates, by attribute key; `p3` is disabled.
const RULES: [(&str, &str); 5] = [("p1", "r1"), ("p1", "r2"), ("p2", "r1"), ("p3", "r1"), ("p4", "r1")];
/// Policies previous violations may name: `p9` is not in the engine at all.
const POLICY_IDS: [&str; 5] = ["p1", "p2", "p3", "p4", "p9"];
/// Rules previous violations may name: `r-old` was retired from every policy.
const RULE_IDS: [&str; 3] = ["r1", "r2", "r-old"];
const OUTCOMES: [&str; 4] = ["pass", "fail", "error", "na"];
const ENVS: [&str; 3] = ["prod", "dev", "sandbox"];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn asset_id(i: usize) -> AssetId {
    let id = i % IDS;
    let kind = (i / IDS) % KINDS.len();
    let region = (i / IDS / KINDS.len()) % REGIONS.len();
    let account = i / IDS / KINDS.len() / REGIONS.len();
    AssetId::new("cloud", ACCOUNTS[account], REGIONS[region], KINDS[kind], format!("x{id}"))
}

/// Every (account, region, kind) scope, in a fixed order.
fn all_scopes() -> Vec<CoverageScope> {
    (0..UNIVERSE).step_by(IDS).map(|i| asset_id(i).scope()).collect()
}

#[derive(Clone, Debug)]
struct AssetSpec {
    env: Option<usize>,
    /// One outcome index per entry of [`RULES`].
    outcomes: [usize; RULES.len()],
}

#[derive(Clone, Debug)]
struct PrevSpec {
    status: usize,
    /// Whether the new reason / details differ from what the rule reports.
    stale_reason: bool,
    age_days: i64,
}

#[derive(Clone, Debug)]
struct ExceptionSpec {
    sticky: bool,
    /// An asset index (individual) or a criteria choice (sticky).
    target: usize,
    /// Which of p1, p2, p4 and `*` the exception names (bit mask, never empty).
    policies: u8,
    /// 0: never expires, 1: expired, 2: expires later, 3: expires exactly now.
    expiry: usize,
}

#[derive(Clone, Debug)]
struct Case {
    assets: BTreeMap<usize, AssetSpec>,
    previous: BTreeMap<(usize, usize, usize), PrevSpec>,
    /// Per scope of [`all_scopes`]: 0 complete, 1 failed, 2 not collected.
    coverage: Vec<usize>,
    exceptions: Vec<ExceptionSpec>,
}

fn asset_spec() -> impl Strategy<Value = AssetSpec> {
    (prop::option::of(0..ENVS.len()), prop::array::uniform5(0..OUTCOMES.len()))
        .prop_map(|(env, outcomes)| AssetSpec { env, outcomes })
}

fn prev_spec() -> impl Strategy<Value = PrevSpec> {
    (0..4usize, any::<bool>(), 1..400i64).prop_map(|(status, stale_reason, age_days)| PrevSpec {
        status,
        stale_reason,
        age_days,
    })
}

fn exception_spec() -> impl Strategy<Value = ExceptionSpec> {
    (any::<bool>(), 0..UNIVERSE, 1..16u8, 0..4usize).prop_map(|(sticky, target, policies, expiry)| ExceptionSpec {
        sticky,
        target,
        policies,
        expiry,
    })
}

fn case_with(max_assets: usize) -> impl Strategy<Value = Case> {
    (
        prop::collection::btree_map(0..UNIVERSE, asset_spec(), 0..=max_assets),
        prop::collection::btree_map((0..POLICY_IDS.len(), 0..RULE_IDS.len(), 0..UNIVERSE), prev_spec(), 0..24),
        prop::collection::vec(0..3usize, all_scopes().len()),
        prop::collection::vec(exception_spec(), 0..5),
    )
        .prop_map(|(assets, previous, coverage, exceptions)| Case { assets, previous, coverage, exceptions })
}

fn case() -> impl Strategy<Value = Case> {
    case_with(16)
}

/// The rule of `policy`/`rule`: it answers what the asset's attribute
/// `"policy/rule"` says.
fn attr_rule(policy: &str, rule: &'static str, kinds: &[&str]) -> impl pacbot_core::Rule + 'static {
    let key = format!("{policy}/{rule}");
    FnRule::new(rule, kinds.to_vec(), move |a: &Asset, _: &EvalContext<'_>| match a.attributes.field(&key).as_str() {
        Some("fail") => Outcome::fail_with(format!("{key} fails"), json!({ "key": key })),
        Some("error") => Outcome::error(format!("{key} errored")),
        Some("na") => Outcome::NotApplicable,
        _ => Outcome::Pass,
    })
}

/// p1 (security, high): r1 on vms and disks, r2 on everything.
/// p2 (governance, medium): r1 on buckets and vms, scoped to group `prod`.
/// p3 (cost, low): disabled.
/// p4 (tagging, critical): r1 on everything.
fn engine() -> Engine {
    let meta = |id: &str, sev, cat| PolicyMeta::new(id, id, sev, cat);
    let policies = vec![
        Policy::new(meta("p1", Severity::High, Category::Security), attr_rule("p1", "r1", &["k.vm", "k.disk"]))
            .with_rule(attr_rule("p1", "r2", &[])),
        Policy::new(
            meta("p2", Severity::Medium, Category::Governance).with_scope("prod"),
            attr_rule("p2", "r1", &["k.bucket", "k.vm"]),
        ),
        Policy::new(meta("p3", Severity::Low, Category::Cost), attr_rule("p3", "r1", &[])).enabled(false),
        Policy::new(meta("p4", Severity::Critical, Category::Tagging), attr_rule("p4", "r1", &[])),
    ];
    let groups = vec![AssetGroup::new("prod", Criteria::eq("tags.Env", "prod").unwrap())];
    Engine::new(policies, groups).unwrap()
}

/// Everything a reconcile needs, built from a [`Case`].
struct World {
    engine: Engine,
    inventory: Inventory,
    evaluation: Evaluation,
    previous: Vec<Violation>,
    coverage: Coverage,
    exceptions: ExceptionSet,
}

impl World {
    fn new(case: &Case) -> Self {
        let engine = engine();
        let inventory: Inventory = case
            .assets
            .iter()
            .map(|(&i, spec)| {
                let mut attrs = serde_json::Map::new();
                for ((p, r), &o) in RULES.iter().zip(&spec.outcomes) {
                    attrs.insert(format!("{p}/{r}"), Value::from(OUTCOMES[o]));
                }
                let mut a = Asset::new(asset_id(i)).with_attributes(Value::Object(attrs));
                if let Some(e) = spec.env {
                    a = a.with_tag("Env", ENVS[e]);
                }
                a
            })
            .collect();
        let evaluation = engine.evaluate(&inventory, now());

        let previous = case
            .previous
            .iter()
            .map(|(&(p, r, a), spec)| {
                let status = [
                    ViolationStatus::Open,
                    ViolationStatus::Exempted,
                    ViolationStatus::Unknown,
                    ViolationStatus::Closed,
                ][spec.status];
                let created = now() - days(spec.age_days);
                let modified = created + days(spec.age_days / 2);
                let key =
                    ViolationKey { policy_id: POLICY_IDS[p].into(), rule_id: RULE_IDS[r].into(), asset: asset_id(a) };
                let reason = if spec.stale_reason {
                    "an older reason".to_owned()
                } else {
                    format!("{}/{} fails", key.policy_id, key.rule_id)
                };
                Violation {
                    status,
                    severity: Severity::High,
                    category: Category::Security,
                    reason,
                    details: Value::Null,
                    exception_id: (status == ViolationStatus::Exempted).then(|| "e-old".to_owned()),
                    created_at: created,
                    modified_at: modified,
                    closed_at: (status == ViolationStatus::Closed).then_some(modified),
                    close_reason: (status == ViolationStatus::Closed).then_some(CloseReason::Fixed),
                    key,
                }
            })
            .collect();

        let mut coverage = Coverage::new();
        for (scope, &c) in all_scopes().into_iter().zip(&case.coverage) {
            match c {
                0 => coverage.complete(scope),
                1 => coverage.fail(scope, "throttled"),
                _ => {}
            }
        }

        let exceptions = ExceptionSet::new(case.exceptions.iter().enumerate().map(|(n, e)| {
            let names = ["p1", "p2", "p4", "*"];
            let policies: Vec<String> = names
                .iter()
                .enumerate()
                .filter(|(b, _)| e.policies & (1 << b) != 0)
                .map(|(_, p)| (*p).to_owned())
                .collect();
            let target = if e.sticky {
                let criteria = match e.target % 3 {
                    0 => Criteria::eq("tags.Env", "sandbox").unwrap(),
                    1 => Criteria::eq("account", "a2").unwrap(),
                    _ => Criteria::All(vec![
                        Criteria::eq("kind", "k.bucket").unwrap(),
                        Criteria::eq("region", "r1").unwrap(),
                    ]),
                };
                ExceptionTarget::Sticky { criteria, policies }
            } else {
                ExceptionTarget::Asset { asset: asset_id(e.target), policies }
            };
            Exception {
                id: format!("e{n}"),
                target,
                reason: "accepted".into(),
                granted_by: "someone".into(),
                granted_at: now() - days(100),
                expires_at: match e.expiry {
                    0 => None,
                    1 => Some(now() - days(1)),
                    2 => Some(now() + days(30)),
                    _ => Some(now()),
                },
            }
        }));

        Self { engine, inventory, evaluation, previous, coverage, exceptions }
    }

    fn reconcile_from(&self, previous: &[Violation], exceptions: &ExceptionSet) -> Reconciliation {
        reconcile(&ReconcileInput {
            previous,
            inventory: &self.inventory,
            evaluation: &self.evaluation,
            coverage: &self.coverage,
            exceptions,
            now: now(),
        })
    }

    fn reconcile(&self) -> Reconciliation {
        self.reconcile_from(&self.previous, &self.exceptions)
    }

    /// Whether the evaluation found the violation's (asset, rule) failing or erroring.
    fn flagged(&self, key: &ViolationKey) -> bool {
        let Some(pos) = self.inventory.position(&key.asset) else { return false };
        self.evaluation
            .policy(&key.policy_id)
            .and_then(|p| p.rule(&key.rule_id))
            .is_some_and(|r| matches!(r.outcome(pos), Outcome::Fail { .. } | Outcome::Error { .. }))
    }

    /// Whether the violation's policy was evaluated without its rule.
    fn retired(&self, key: &ViolationKey) -> bool {
        self.evaluation.policy(&key.policy_id).is_some_and(|p| p.rule(&key.rule_id).is_none())
    }

    fn present(&self, key: &ViolationKey) -> bool {
        self.inventory.position(&key.asset).is_some()
    }

    fn scope_complete(&self, key: &ViolationKey) -> bool {
        self.coverage.is_complete(&key.asset.scope())
    }
}

fn by_key(vs: &[Violation]) -> BTreeMap<&ViolationKey, &Violation> {
    vs.iter().map(|v| (&v.key, v)).collect()
}

fn config() -> proptest::test_runner::Config {
    proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() }
}

// ---------------------------------------------------------------------------
// Reconcile
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Invariant 3: reconciling the same evaluation again changes nothing.
    #[test]
    fn reconcile_is_idempotent(case in case()) {
        let w = World::new(&case);
        let first = w.reconcile();
        let second = w.reconcile_from(&first.violations, &w.exceptions);
        prop_assert_eq!(&second.violations, &first.violations);
        let changes: Vec<_> = second.changes().collect();
        prop_assert!(changes.is_empty(), "changes on the second pass: {:?}", changes);
        // And a third time, for good measure: the same transitions as the second.
        let third = w.reconcile_from(&second.violations, &w.exceptions);
        prop_assert_eq!(third, second);
    }

    /// Invariant 1: a violation whose asset is absent and whose scope failed
    /// or was not collected is kept exactly as it was.
    #[test]
    fn nothing_changes_in_a_failed_or_uncollected_scope_for_an_absent_asset(case in case()) {
        let w = World::new(&case);
        let r = w.reconcile();
        let after = by_key(&r.violations);
        for v in &w.previous {
            if w.present(&v.key) || w.scope_complete(&v.key) {
                continue;
            }
            prop_assert_eq!(after[&v.key], v, "{} changed", v.key);
            prop_assert!(r.transitions.iter().all(|t| t.key != v.key), "{} has a transition", v.key);
        }
    }

    /// Invariant 1, the other way round: a violation is closed only if it was
    /// closed before, or its asset was seen and not failing, or its asset is
    /// absent from a completely collected scope, or its rule was retired.
    #[test]
    fn a_violation_closes_only_for_a_reason(case in case()) {
        let w = World::new(&case);
        let r = w.reconcile();
        let before = by_key(&w.previous);
        for v in r.violations.iter().filter(|v| v.status == ViolationStatus::Closed) {
            let was_closed = before.get(&v.key).is_some_and(|b| b.status == ViolationStatus::Closed);
            let seen_clean = w.present(&v.key) && !w.flagged(&v.key);
            let gone = !w.present(&v.key) && w.scope_complete(&v.key);
            prop_assert!(was_closed || seen_clean || gone || w.retired(&v.key), "{} closed without reason", v.key);
            if !was_closed {
                let judged = |k: &ViolationKey| {
                    let pos = w.inventory.position(&k.asset).unwrap();
                    w.evaluation.policy(&k.policy_id).and_then(|p| p.rule(&k.rule_id)).unwrap().applicable.contains(pos)
                };
                let expected = if w.retired(&v.key) {
                    CloseReason::RuleRetired
                } else if gone {
                    CloseReason::ResourceGone
                } else if judged(&v.key) {
                    CloseReason::Fixed
                } else {
                    CloseReason::NotApplicable
                };
                prop_assert_eq!(v.close_reason, Some(expected));
                prop_assert_eq!(v.closed_at, Some(now()));
            }
        }
    }

    /// Statuses follow the evaluation and the exceptions; every transition
    /// says what happened; no violation is lost.
    #[test]
    fn statuses_follow_findings_and_exceptions(case in case()) {
        let w = World::new(&case);
        let r = w.reconcile();
        let before = by_key(&w.previous);
        let after = by_key(&r.violations);
        prop_assert_eq!(after.len(), r.violations.len(), "one violation per key");
        prop_assert!(r.violations.windows(2).all(|p| p[0].key < p[1].key));
        prop_assert!(r.transitions.windows(2).all(|p| p[0].key < p[1].key));
        for k in before.keys() {
            prop_assert!(after.contains_key(k), "{} was dropped", k);
        }
        for t in &r.transitions {
            prop_assert_eq!(t.to, after[&t.key].status);
            prop_assert_eq!(t.from, before.get(&t.key).map(|b| b.status));
        }
        for (pos, a) in w.inventory.assets().iter().enumerate() {
            for p in &w.evaluation.policies {
                for rule in &p.rules {
                    let key = ViolationKey { policy_id: p.meta.id.clone(), rule_id: rule.rule_id.clone(), asset: a.id.clone() };
                    let was_closed = before.get(&key).is_some_and(|b| b.status == ViolationStatus::Closed);
                    match rule.outcome(pos) {
                        Outcome::Fail { reason, .. } => {
                            let v = after[&key];
                            prop_assert_eq!(&v.reason, &reason);
                            match w.exceptions.find(a, &p.meta.id, now()) {
                                Some(e) => {
                                    prop_assert_eq!(v.status, ViolationStatus::Exempted);
                                    prop_assert_eq!(v.exception_id.as_deref(), Some(e.id.as_str()));
                                }
                                None => {
                                    prop_assert_eq!(v.status, ViolationStatus::Open);
                                    prop_assert_eq!(&v.exception_id, &None);
                                }
                            }
                            prop_assert_eq!((v.closed_at, v.close_reason), (None, None));
                        }
                        Outcome::Error { .. } => {
                            let v = after[&key];
                            let expected = if was_closed { ViolationStatus::Closed } else { ViolationStatus::Unknown };
                            prop_assert_eq!(v.status, expected, "an error never closes nor re-opens");
                        }
                        Outcome::Pass | Outcome::NotApplicable => {
                            if let Some(v) = after.get(&key) {
                                prop_assert_eq!(v.status, ViolationStatus::Closed, "{} judged clean", key);
                            }
                        }
                    }
                }
            }
        }
        // Policies not evaluated (disabled, removed) keep their violations.
        for v in w.previous.iter().filter(|v| w.evaluation.policy(&v.key.policy_id).is_none()) {
            prop_assert_eq!(after[&v.key], v);
        }
    }

    /// Invariant 2: exceptions exempt, they never close. The same scan with
    /// and without exceptions closes exactly the same violations.
    #[test]
    fn exceptions_never_close(case in case()) {
        let w = World::new(&case);
        let with = w.reconcile();
        let without = w.reconcile_from(&w.previous, &ExceptionSet::new([]));
        let closed = |r: &Reconciliation| -> Vec<ViolationKey> {
            r.violations.iter().filter(|v| v.status == ViolationStatus::Closed).map(|v| v.key.clone()).collect()
        };
        prop_assert_eq!(closed(&with), closed(&without));
        prop_assert!(without.violations.iter().all(|v| v.status != ViolationStatus::Exempted || w.previous.contains(v)));
    }
}

// ---------------------------------------------------------------------------
// Compliance
// ---------------------------------------------------------------------------

fn in_range(x: f64) -> bool {
    (0.0..=100.0).contains(&x)
}

fn check_report(
    w: &World,
    r: &ComplianceReport,
    violations: &[Violation],
    members: Option<&FixedBitSet>,
) -> Result<(), TestCaseError> {
    prop_assert!(in_range(r.overall), "overall {}", r.overall);
    prop_assert!(in_range(r.tagging.percent));
    for c in &r.categories {
        prop_assert!(in_range(c.percent), "{:?}", c);
    }
    let mut open_total = 0;
    for pc in &r.policies {
        prop_assert!(in_range(pc.percent), "{:?}", pc);
        let p = w.evaluation.policy(&pc.policy_id).unwrap();
        let member = |pos: usize| members.is_none_or(|m| m.contains(pos));
        let in_scope: BTreeSet<usize> = p.in_scope.ones().filter(|&i| member(i)).collect();
        let with_status = |s: ViolationStatus| -> BTreeSet<usize> {
            violations
                .iter()
                .filter(|v| v.key.policy_id == pc.policy_id && v.status == s)
                .filter_map(|v| w.inventory.position(&v.key.asset))
                .filter(|pos| in_scope.contains(pos))
                .collect()
        };
        // Each asset is counted once, by its worst status: open, else
        // unknown, else exempted (`PolicyCompliance` field docs).
        let open = with_status(ViolationStatus::Open);
        let unknown: BTreeSet<usize> = with_status(ViolationStatus::Unknown).difference(&open).copied().collect();
        let exempted: BTreeSet<usize> = with_status(ViolationStatus::Exempted)
            .difference(&open)
            .filter(|pos| !unknown.contains(pos))
            .copied()
            .collect();
        prop_assert!(open.len() + unknown.len() + exempted.len() <= in_scope.len());
        prop_assert_eq!(pc.assets_in_scope, in_scope.len(), "{}", pc.policy_id);
        prop_assert_eq!(pc.open, open.len(), "{}: open counts only open violations", pc.policy_id);
        prop_assert_eq!(pc.exempted, exempted.len(), "{}", pc.policy_id);
        prop_assert_eq!(pc.unknown, unknown.len(), "{}", pc.policy_id);
        // Unknown results are left out of both sides of the figure.
        let assessed = in_scope.len() - unknown.len();
        let expected = if assessed == 0 { 100.0 } else { (assessed - open.len()) as f64 * 100.0 / assessed as f64 };
        prop_assert!((pc.percent - expected).abs() < 1e-9, "{}: {} != {}", pc.policy_id, pc.percent, expected);
        open_total += open.len();
    }
    prop_assert_eq!(r.open, open_total);
    if r.assets == 0 {
        prop_assert_eq!(r.overall, 100.0);
        prop_assert_eq!(r.tagging.percent, 100.0);
        prop_assert!(r.policies.iter().all(|p| p.percent == 100.0));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Invariant 4: exempted counts as compliant, unknown apart; open counts
    /// only open violations; every figure within 0..=100.
    #[test]
    fn compliance_counts_only_open_violations_and_stays_in_range(case in case(), tags in prop::collection::vec("[A-C]", 0..3)) {
        let w = World::new(&case);
        let r = w.reconcile();
        let config = ComplianceConfig { mandatory_tags: tags, ..ComplianceConfig::default() };
        let compliance = Compliance::new(&w.inventory, &w.evaluation, &r.violations, &config);
        let overall = compliance.overall();
        check_report(&w, &overall, &r.violations, None)?;
        let prod = &w.engine.groups()["prod"];
        let members = w.engine.group_members(prod, &w.inventory, now());
        let group = compliance.for_group("prod", &members);
        check_report(&w, &group, &r.violations, Some(&members))?;

        // Exempted violations weigh exactly as much as none at all.
        let without_exempted: Vec<Violation> =
            r.violations.iter().filter(|v| v.status != ViolationStatus::Exempted).cloned().collect();
        let plain = Compliance::new(&w.inventory, &w.evaluation, &without_exempted, &config).overall();
        prop_assert_eq!(plain.overall, overall.overall);
        prop_assert_eq!(plain.open, overall.open);
        for (a, b) in plain.policies.iter().zip(&overall.policies) {
            prop_assert_eq!(a.percent, b.percent);
        }
    }

    /// With no assets everything is 100 %, whatever the violations say.
    #[test]
    fn compliance_is_complete_without_assets(case in case_with(0)) {
        let w = World::new(&case);
        prop_assert!(w.inventory.is_empty());
        let r = w.reconcile();
        // Also with the raw previous violations, not only reconciled ones.
        for violations in [&r.violations, &w.previous] {
            let config = ComplianceConfig { mandatory_tags: vec!["Owner".into()], ..ComplianceConfig::default() };
            let report = Compliance::new(&w.inventory, &w.evaluation, violations, &config).overall();
            prop_assert_eq!(report.assets, 0);
            prop_assert_eq!(report.overall, 100.0);
            prop_assert_eq!(report.tagging.percent, 100.0);
            prop_assert!(report.policies.iter().all(|p| p.percent == 100.0 && p.open == 0));
            prop_assert!(report.categories.iter().all(|c| c.percent == 100.0 && !c.assessed));
            prop_assert_eq!((report.open, report.exempted, report.unknown), (0, 0, 0));
        }
    }
}

// ---------------------------------------------------------------------------
// Criteria serialization
// ---------------------------------------------------------------------------

const PATHS: &[&str] = &[
    "name",
    "account",
    "region",
    "kind",
    "resource_id",
    "first_seen",
    "tags",
    "tags.Env",
    "tags[\"k8s.io/cluster\"]",
    "state",
    "size",
    "created",
    "ips[*]",
    "rules[*].port",
    "rules[*].cidr",
    "rules[0].cidr",
    "rules[-1].port",
    "nested.a.b",
    "attributes.region",
    "missing.key",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-5i64..70000).prop_map(Value::from),
        (-1000.0f64..1000.0).prop_map(Value::from),
        prop::sample::select(vec!["prod", "dev", "web", "", "10.0.0.0/8", "2026-01-01T00:00:00Z", "x.y"])
            .prop_map(Value::from),
    ]
}

fn operand_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
        1 => (scalar(), scalar()).prop_map(|(a, b)| json!({"a": a, "b": b})),
    ]
}

fn ordinal() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..70000).prop_map(Value::from),
        (-1000.0f64..1000.0).prop_map(Value::from),
        prop::sample::select(vec!["2026-01-01T00:00:00Z", "2025-06-30T12:00:00+02:00", "m", "prod", ""])
            .prop_map(Value::from),
    ]
}

/// One operator entry: (name, operand, whether `every` may go with it).
fn operator() -> impl Strategy<Value = (&'static str, Value, bool)> {
    let s = |xs: &[&'static str]| prop::sample::select(xs.to_vec()).prop_map(Value::from);
    prop_oneof![
        operand_value().prop_map(|v| ("eq", v, true)),
        operand_value().prop_map(|v| ("ne", v, true)),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| ("in", Value::Array(v), true)),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| ("not-in", Value::Array(v), true)),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| ("not_in", Value::Array(v), true)),
        s(&["prod*", "*-?", "[a-c]*", "{dev,prod}", "x\\*", "**"]).prop_map(|v| ("glob", v, true)),
        s(&["^prod", "a|b", "^[0-9]+$", "(?i)PROD", ".*", "^sg-\\d+$"]).prop_map(|v| ("regex", v, true)),
        any::<bool>().prop_map(|b| ("exists", Value::Bool(b), false)),
        any::<bool>().prop_map(|b| ("absent", Value::Bool(b), false)),
        ordinal().prop_map(|v| ("gt", v, true)),
        ordinal().prop_map(|v| ("ge", v, true)),
        ordinal().prop_map(|v| ("lt", v, true)),
        ordinal().prop_map(|v| ("le", v, true)),
        scalar().prop_map(|v| ("contains", v, true)),
        s(&["10.0.0.0/8", "10.1.2.3", "::/0", "2001:db8::1", "0.0.0.0/0", "192.168.1.0/24"]).prop_map(|v| (
            "cidr-contains",
            v,
            true
        )),
        s(&["10.0.0.1", "::1"]).prop_map(|v| ("cidr_contains", v, true)),
        s(&["90d", "12h", "2w", "1w 2d", "30min", "1s"]).prop_map(|v| ("older-than", v, true)),
        s(&["90d", "1y", "3days"]).prop_map(|v| ("newer-than", v, true)),
        s(&["365d"]).prop_map(|v| ("older_than", v, true)),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    (prop::sample::select(PATHS.to_vec()), operator(), 0..3usize).prop_map(|(path, (op, operand, can_every), every)| {
        let mut node = serde_json::Map::new();
        node.insert("path".into(), Value::from(path));
        node.insert(op.into(), operand);
        match every {
            1 if can_every => {
                node.insert("every".into(), Value::Bool(true));
            }
            2 => {
                node.insert("every".into(), Value::Bool(false));
            }
            _ => {}
        }
        Value::Object(node)
    })
}

fn criteria_value() -> impl Strategy<Value = Value> {
    condition().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|cs| json!({ "all": cs })),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|cs| json!({ "any": cs })),
            inner.prop_map(|c| json!({ "not": c })),
        ]
    })
}

fn random_asset() -> impl Strategy<Value = Asset> {
    (
        (0..UNIVERSE, prop::option::of(prop::sample::select(vec!["prod", "dev", "prod-eu"]))),
        (prop::option::of(prop::sample::select(vec!["prod-web", "sg-12", "x*"])), any::<bool>()),
        (prop::option::of(scalar()), prop::option::of(-10i64..70000)),
        prop::option::of(0..800i64),
        prop::collection::vec(
            prop::sample::select(vec!["10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "bad", "0.0.0.0/0"]),
            0..3,
        ),
        prop::collection::vec(
            (prop::option::of(0..70000i64), prop::sample::select(vec!["10.0.0.0/16", "192.168.1.7", "::/0"])),
            0..3,
        ),
        prop::option::of(operand_value()),
    )
        .prop_map(|((i, env), (name, cluster), (state, size), created_days, ips, rules, nested)| {
            let mut a = Asset::new(asset_id(i));
            if let Some(e) = env {
                a = a.with_tag("Env", e);
            }
            if cluster {
                a = a.with_tag("k8s.io/cluster", "prod");
            }
            if let Some(n) = name {
                a = a.with_name(n);
            }
            a.first_seen = created_days.map(|d| now() - days(d));
            let rules: Vec<Value> = rules.into_iter().map(|(port, cidr)| json!({"port": port, "cidr": cidr})).collect();
            let mut attrs = json!({"ips": ips, "rules": rules, "region": "attr-region"});
            if let Some(s) = state {
                attrs["state"] = s;
            }
            if let Some(s) = size {
                attrs["size"] = Value::from(s);
            }
            if let Some(d) = created_days {
                attrs["created"] = Value::from((now() - days(d)).to_rfc3339());
            }
            if let Some(n) = nested {
                attrs["nested"] = json!({"a": {"b": n}});
            }
            a.with_attributes(attrs)
        })
}

proptest! {
    #![proptest_config(config())]

    /// Criteria read back from their serialization are equal, and match the same assets.
    #[test]
    fn criteria_round_trip(doc in criteria_value(), assets in prop::collection::vec(random_asset(), 1..6)) {
        let parsed = Criteria::from_value(doc.clone()).map_err(|e| TestCaseError::fail(format!("{doc}: {e}")))?;
        let written = parsed.to_value();
        let again = Criteria::from_value(written.clone()).map_err(|e| TestCaseError::fail(format!("{written}: {e}")))?;
        prop_assert_eq!(&again, &parsed, "{} -> {}", doc, written);
        prop_assert_eq!(again.to_value(), written.clone(), "serialization is stable");
        // Also through YAML text, the form policy files use.
        let yaml = serde_yaml_ng::to_string(&written).unwrap();
        let from_yaml = Criteria::from_yaml(&yaml).map_err(|e| TestCaseError::fail(format!("{yaml}: {e}")))?;
        prop_assert_eq!(&from_yaml, &parsed, "{}", yaml);
        for a in &assets {
            for at in [now(), now() - days(200)] {
                prop_assert_eq!(again.matches(a, at), parsed.matches(a, at), "{} on {:?}", written, a);
                prop_assert_eq!(from_yaml.matches(a, at), parsed.matches(a, at));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The generators are not vacuous
// ---------------------------------------------------------------------------

/// The reconcile generator reaches every transition kind and close reason,
/// and the criteria generator yields criteria that match and that don't, so
/// the properties above are not trivially true.
#[test]
fn the_generators_reach_every_case() {
    use pacbot_core::TransitionKind as K;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        proptest::test_runner::Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut kinds = BTreeSet::new();
    let mut reasons = BTreeSet::new();
    let (mut kept_failed, mut kept_uncollected) = (0, 0);
    for _ in 0..256 {
        let case = case().new_tree(&mut runner).unwrap().current();
        let w = World::new(&case);
        let r = w.reconcile();
        kinds.extend(r.transitions.iter().map(|t| t.kind));
        reasons.extend(
            r.violations
                .iter()
                .filter(|v| v.closed_at == Some(now()))
                .filter_map(|v| v.close_reason.map(|c| format!("{c:?}"))),
        );
        for v in w.previous.iter().filter(|v| v.is_active() && !w.present(&v.key)) {
            match w.coverage.status(&v.key.asset.scope()) {
                Some(pacbot_core::ScopeStatus::Failed { .. }) => kept_failed += 1,
                None => kept_uncollected += 1,
                Some(pacbot_core::ScopeStatus::Complete) => {}
            }
        }
    }
    let all = [
        K::Opened,
        K::Reopened,
        K::StillOpen,
        K::Exempted,
        K::StillExempted,
        K::Unknown,
        K::StillUnknown,
        K::ClosedFixed,
        K::ClosedResourceGone,
        K::ClosedNotApplicable,
    ];
    assert_eq!(kinds, all.into_iter().collect(), "transition kinds reached");
    assert_eq!(reasons.len(), 4, "close reasons reached: {reasons:?}");
    assert!(kept_failed > 20 && kept_uncollected > 20, "{kept_failed} {kept_uncollected}");

    let (mut matched, mut missed) = (0, 0);
    for _ in 0..256 {
        let doc = criteria_value().new_tree(&mut runner).unwrap().current();
        let asset = random_asset().new_tree(&mut runner).unwrap().current();
        if Criteria::from_value(doc).unwrap().matches(&asset, now()) {
            matched += 1;
        } else {
            missed += 1;
        }
    }
    assert!(matched > 30 && missed > 30, "matched {matched}, missed {missed}");
}

// ---------------------------------------------------------------------------
// Attribute documents
// ---------------------------------------------------------------------------

/// Any JSON value: deep, with repeated and unusual keys (empty, unicode,
/// over the interning length limit) and numbers of every representation.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just(String::new()),
        "[a-c]{1,2}",
        "[ -~ü✓]{0,6}",
        Just("k".repeat(pacbot_core::attributes::MAX_INTERNED_KEY_LEN + 3)),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[ -~é]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Every (pointer, value) pair of a JSON document.
fn leaves(v: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            map.iter().for_each(|(k, c)| leaves(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out))
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, c)| leaves(c, format!("{at}/{i}"), out)),
        other => out.push((at, other.clone())),
    }
}

proptest! {
    #![proptest_config(config())]

    /// A document gives back exactly the JSON it was built from, through
    /// `to_value`, serde, and lookups of every key and index.
    #[test]
    fn attribute_documents_round_trip(v in json_value()) {
        let doc = pacbot_core::Attributes::from(v.clone());
        prop_assert_eq!(doc.to_value(), v.clone());
        prop_assert_eq!(serde_json::to_value(&doc).unwrap(), v.clone());
        let text = serde_json::to_string(&doc).unwrap();
        // Through text, as serde_json reads it back (its float parsing may move the last bit).
        let back: pacbot_core::Attributes = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back.to_value(), serde_json::from_str::<Value>(&text).unwrap(), "{}", text);
        let mut found = Vec::new();
        leaves(&v, String::new(), &mut found);
        for (pointer, expected) in found {
            let node = doc.pointer(&pointer).ok_or_else(|| TestCaseError::fail(format!("{pointer} not found")))?;
            prop_assert_eq!(node.to_value(), expected, "at {}", pointer);
        }
    }

    /// Two documents have equal digests exactly when they are equal (a
    /// 64-bit hash could collide, but not within a test run), however built.
    #[test]
    fn attribute_digests_follow_equality(a in json_value(), b in json_value()) {
        let (da, db) = (pacbot_core::Attributes::from(a.clone()), pacbot_core::Attributes::from(b.clone()));
        prop_assert_eq!(da.digest() == db.digest(), a == b, "{} / {}", a, b);
        // Rebuilt from its own value, or read back from its serialization: the same digest.
        prop_assert_eq!(pacbot_core::Attributes::from(da.to_value()).digest(), da.digest());
        let back: pacbot_core::Attributes = serde_json::from_value(serde_json::to_value(&da).unwrap()).unwrap();
        prop_assert_eq!(back.digest(), da.digest());
    }
}
