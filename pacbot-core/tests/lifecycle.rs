#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Scenario tests of the violation lifecycle: a real [`Engine`] over small
//! inventories, reconciled over several consecutive scans, with exact
//! statuses and transitions; and the compliance maths on a small estate with
//! hand-computed figures.

use chrono::{DateTime, Utc};
use pacbot_core::{
    Asset, AssetGroup, AssetId, Category, CloseReason, Compliance, ComplianceConfig, ComplianceReport, Coverage,
    Criteria, Engine, Exception, ExceptionSet, ExceptionTarget, FnRule, Inventory, Outcome, Policy, PolicyMeta,
    ReconcileInput, Reconciliation, Severity, Transition, TransitionKind, Violation, ViolationKey, ViolationStatus,
    parse_policies, reconcile,
};
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const OTHER_ACCOUNT: &str = "444455556666";
const REGION: &str = "us-east-1";
const BUCKET: &str = "aws.s3.bucket";
const VM: &str = "aws.ec2.instance";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Midnight of a day of January 2026: scan `n`.
fn day(n: u32) -> DateTime<Utc> {
    t(&format!("2026-01-{n:02}T00:00:00Z"))
}

fn bucket_in(account: &str, region: &str, name: &str, versioning: &str) -> Asset {
    Asset::new(AssetId::new("aws", account, region, BUCKET, name))
        .with_name(name)
        .with_attributes(json!({"versioning": {"status": versioning}, "logging": {"enabled": false}}))
}

fn bucket(name: &str, versioning: &str) -> Asset {
    bucket_in(ACCOUNT, REGION, name, versioning)
}

/// An instance whose `check` attribute tells the [`state_rule`] what to answer.
fn vm(id: &str, check: &str) -> Asset {
    Asset::new(AssetId::new("aws", ACCOUNT, REGION, VM, id)).with_attributes(json!({ "check": check }))
}

const VERSIONING: &str = r#"
policies:
  - id: s3-versioning
    name: S3 bucket versioning is off
    severity: medium
    category: governance
    resource: aws.s3.bucket
    fail_when: {path: versioning.status, ne: Enabled}
    reason: "bucket {resource_id} has versioning {versioning.status}"
"#;

fn versioning_engine() -> Engine {
    Engine::new(parse_policies("versioning.yaml", VERSIONING).unwrap(), vec![]).unwrap()
}

/// A rule that answers what the instance's `check` attribute says:
/// `fail`, `error`, `na`, anything else passes.
fn state_rule(id: &str) -> FnRule<impl Fn(&Asset, &pacbot_core::EvalContext<'_>) -> Outcome + Send + Sync + 'static> {
    FnRule::new(id, [VM], |a: &Asset, _: &pacbot_core::EvalContext<'_>| match a.attributes.field("check").as_str() {
        Some("fail") => Outcome::fail_with("the check fails", json!({"check": "fail"})),
        Some("error") => Outcome::error("the check could not be read"),
        Some("na") => Outcome::NotApplicable,
        _ => Outcome::Pass,
    })
}

fn state_engine() -> Engine {
    let meta = PolicyMeta::new("vm-check", "Instances pass the check", Severity::High, Category::Security);
    Engine::new(vec![Policy::new(meta, state_rule("check"))], vec![]).unwrap()
}

/// Every scope of the inventory's assets, complete.
fn complete_for(inventory: &Inventory) -> Coverage {
    let mut c = Coverage::new();
    for a in inventory.assets() {
        c.complete(a.id.scope());
    }
    c
}

fn no_exceptions() -> ExceptionSet {
    ExceptionSet::new([])
}

/// One scan: evaluate, then reconcile against `previous`.
fn scan(
    engine: &Engine,
    previous: &[Violation],
    inventory: &Inventory,
    coverage: &Coverage,
    exceptions: &ExceptionSet,
    now: DateTime<Utc>,
) -> Reconciliation {
    let evaluation = engine.evaluate(inventory, now);
    let r = reconcile(&ReconcileInput { previous, inventory, evaluation: &evaluation, coverage, exceptions, now });
    check_shape(previous, &r, now);
    r
}

/// What every reconciliation must look like, whatever the scenario.
fn check_shape(previous: &[Violation], r: &Reconciliation, now: DateTime<Utc>) {
    assert!(r.violations.windows(2).all(|w| w[0].key < w[1].key), "violations sorted by key, unique");
    assert!(r.transitions.windows(2).all(|w| w[0].key < w[1].key), "transitions sorted by key, one per violation");
    for p in previous {
        assert!(r.violations.iter().any(|v| v.key == p.key), "{} was dropped", p.key);
    }
    for tr in &r.transitions {
        let v = r.violations.iter().find(|v| v.key == tr.key).unwrap();
        assert_eq!(tr.to, v.status, "{}", tr.key);
        assert_eq!(tr.at, now);
        let before = previous.iter().find(|p| p.key == tr.key);
        assert_eq!(tr.from, before.map(|b| b.status), "{}", tr.key);
    }
    for v in &r.violations {
        assert_eq!(v.status == ViolationStatus::Closed, v.closed_at.is_some(), "{}: closed_at iff closed", v.key);
        assert_eq!(v.status == ViolationStatus::Closed, v.close_reason.is_some(), "{}: reason iff closed", v.key);
        assert_eq!(v.status == ViolationStatus::Exempted, v.exception_id.is_some(), "{}: exception iff exempt", v.key);
        assert!(v.created_at <= v.modified_at);
    }
}

fn key(policy: &str, rule: &str, asset: &Asset) -> ViolationKey {
    ViolationKey { policy_id: policy.into(), rule_id: rule.into(), asset: asset.id.clone() }
}

fn violation<'a>(r: &'a Reconciliation, key: &ViolationKey) -> &'a Violation {
    r.violations.iter().find(|v| v.key == *key).unwrap_or_else(|| panic!("no violation {key}"))
}

fn transition<'a>(r: &'a Reconciliation, key: &ViolationKey) -> Option<&'a Transition> {
    r.transitions.iter().find(|t| t.key == *key)
}

fn kind(r: &Reconciliation, key: &ViolationKey) -> Option<TransitionKind> {
    transition(r, key).map(|t| t.kind)
}

fn individual(id: &str, asset: &Asset, policies: &[&str], expires: Option<DateTime<Utc>>) -> Exception {
    Exception {
        id: id.into(),
        target: ExceptionTarget::Asset {
            asset: asset.id.clone(),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        },
        reason: "accepted risk".into(),
        granted_by: "alice@example.com".into(),
        granted_at: day(1),
        expires_at: expires,
    }
}

fn sticky(id: &str, criteria: Criteria, policies: &[&str], expires: Option<DateTime<Utc>>) -> Exception {
    Exception {
        id: id.into(),
        target: ExceptionTarget::Sticky { criteria, policies: policies.iter().map(|p| (*p).to_owned()).collect() },
        reason: "sandbox accounts are out of scope".into(),
        granted_by: "bob@example.com".into(),
        granted_at: day(1),
        expires_at: expires,
    }
}

// ---------------------------------------------------------------------------
// Open, still open, closed fixed, re-opened
// ---------------------------------------------------------------------------

#[test]
fn a_failure_opens_and_the_same_scan_again_changes_nothing() {
    let engine = versioning_engine();
    let logs = bucket("logs", "Suspended");
    let site = bucket("site", "Enabled");
    let inv = Inventory::from_assets([logs.clone(), site.clone()]);
    let cov = complete_for(&inv);
    let k = key("s3-versioning", "main", &logs);

    let first = scan(&engine, &[], &inv, &cov, &no_exceptions(), day(2));
    assert_eq!(first.violations.len(), 1, "the passing bucket has no violation");
    let v = violation(&first, &k);
    assert_eq!(v.status, ViolationStatus::Open);
    assert_eq!(v.reason, "bucket logs has versioning Suspended");
    assert_eq!((v.severity, v.category), (Severity::Medium, Category::Governance));
    assert_eq!((v.created_at, v.modified_at), (day(2), day(2)));
    assert_eq!((v.closed_at, v.close_reason, v.exception_id.as_deref()), (None, None, None));
    let tr = transition(&first, &k).unwrap();
    assert_eq!((tr.kind, tr.from, tr.to, tr.at), (TransitionKind::Opened, None, ViolationStatus::Open, day(2)));
    assert_eq!(first.changes().count(), 1);
    assert_eq!(first.changed(day(2)).count(), 1);

    // The same failure at the next scan: still open, and nothing changed.
    let second = scan(&engine, &first.violations, &inv, &cov, &no_exceptions(), day(3));
    assert_eq!(second.violations, first.violations, "the violation is untouched, modified_at included");
    assert_eq!(kind(&second, &k), Some(TransitionKind::StillOpen));
    assert_eq!(second.changes().count(), 0);
    assert_eq!(second.changed(day(3)).count(), 0, "nothing for a store to write");
    assert_eq!(second.counts().into_iter().collect::<Vec<_>>(), vec![(TransitionKind::StillOpen, 1)]);
}

#[test]
fn a_fixed_resource_closes_and_a_later_failure_reopens_keeping_created_at() {
    let engine = versioning_engine();
    let k = key("s3-versioning", "main", &bucket("logs", "x"));
    let failing = Inventory::from_assets([bucket("logs", "Suspended")]);
    let fixed = Inventory::from_assets([bucket("logs", "Enabled")]);
    let cov = complete_for(&failing);
    let none = no_exceptions();

    let s1 = scan(&engine, &[], &failing, &cov, &none, day(2));
    assert_eq!(violation(&s1, &k).status, ViolationStatus::Open);

    let s2 = scan(&engine, &s1.violations, &fixed, &cov, &none, day(3));
    let v = violation(&s2, &k);
    assert_eq!(v.status, ViolationStatus::Closed);
    assert_eq!(v.close_reason, Some(CloseReason::Fixed));
    assert_eq!(v.closed_at, Some(day(3)));
    assert_eq!((v.created_at, v.modified_at), (day(2), day(3)));
    let tr = transition(&s2, &k).unwrap();
    assert_eq!(
        (tr.kind, tr.from, tr.to),
        (TransitionKind::ClosedFixed, Some(ViolationStatus::Open), ViolationStatus::Closed)
    );

    // Still fixed: a closed violation is left alone, with no transition.
    let s3 = scan(&engine, &s2.violations, &fixed, &cov, &none, day(4));
    assert_eq!(s3.violations, s2.violations);
    assert!(s3.transitions.is_empty());

    // Fails again: the same violation re-opens and keeps its creation time.
    let s4 = scan(&engine, &s3.violations, &failing, &cov, &none, day(5));
    let v = violation(&s4, &k);
    assert_eq!(v.status, ViolationStatus::Open);
    assert_eq!(v.created_at, day(2), "re-opening keeps created_at");
    assert_eq!(v.modified_at, day(5));
    assert_eq!((v.closed_at, v.close_reason), (None, None));
    let tr = transition(&s4, &k).unwrap();
    assert_eq!(
        (tr.kind, tr.from, tr.to),
        (TransitionKind::Reopened, Some(ViolationStatus::Closed), ViolationStatus::Open)
    );
    assert_eq!(s4.violations.len(), 1, "re-opening does not create a second violation");

    // And again: still open.
    let s5 = scan(&engine, &s4.violations, &failing, &cov, &none, day(6));
    assert_eq!(s5.violations, s4.violations);
    assert_eq!(kind(&s5, &k), Some(TransitionKind::StillOpen));
}

// ---------------------------------------------------------------------------
// Resources that disappear: coverage decides
// ---------------------------------------------------------------------------

#[test]
fn an_asset_gone_from_a_completely_collected_scope_closes_resource_gone() {
    let engine = versioning_engine();
    let (logs, site) = (bucket("logs", "Suspended"), bucket("site", "Suspended"));
    let before = Inventory::from_assets([logs.clone(), site.clone()]);
    let s1 = scan(&engine, &[], &before, &complete_for(&before), &no_exceptions(), day(2));
    assert_eq!(s1.violations.len(), 2);

    // `logs` is deleted; the scan lists the whole (aws, account, region, bucket) scope.
    let after = Inventory::from_assets([site.clone()]);
    let mut cov = Coverage::new();
    cov.complete(logs.id.scope());
    assert_eq!(logs.id.scope(), site.id.scope());
    let s2 = scan(&engine, &s1.violations, &after, &cov, &no_exceptions(), day(3));
    let gone = key("s3-versioning", "main", &logs);
    let v = violation(&s2, &gone);
    assert_eq!(v.status, ViolationStatus::Closed);
    assert_eq!(v.close_reason, Some(CloseReason::ResourceGone));
    assert_eq!(v.closed_at, Some(day(3)));
    assert_eq!(kind(&s2, &gone), Some(TransitionKind::ClosedResourceGone));
    assert_eq!(kind(&s2, &key("s3-versioning", "main", &site)), Some(TransitionKind::StillOpen));
}

#[test]
fn an_asset_missing_from_a_failed_scope_stays_open() {
    let engine = versioning_engine();
    let (logs, site) = (bucket("logs", "Suspended"), bucket("site", "Suspended"));
    let before = Inventory::from_assets([logs.clone(), site.clone()]);
    let s1 = scan(&engine, &[], &before, &complete_for(&before), &no_exceptions(), day(2));

    // The listing of the scope failed half-way: `logs` was not seen.
    let after = Inventory::from_assets([site.clone()]);
    let mut cov = Coverage::new();
    cov.complete(logs.id.scope());
    cov.fail(logs.id.scope(), "ListBuckets: throttled");
    assert!(cov.is_partial() && !cov.is_complete(&logs.id.scope()));
    let s2 = scan(&engine, &s1.violations, &after, &cov, &no_exceptions(), day(3));
    let k = key("s3-versioning", "main", &logs);
    assert_eq!(violation(&s2, &k), violation(&s1, &k), "kept exactly as it was");
    assert_eq!(transition(&s2, &k), None, "no transition for what the scan could not see");
    assert_eq!(s2.changes().count(), 0);

    // The next complete listing without `logs` closes it.
    let s3 = scan(&engine, &s2.violations, &after, &complete_for(&before), &no_exceptions(), day(4));
    assert_eq!(kind(&s3, &k), Some(TransitionKind::ClosedResourceGone));
}

#[test]
fn an_asset_of_a_scope_this_scan_did_not_collect_stays_open() {
    let engine = versioning_engine();
    let ours = bucket_in(ACCOUNT, REGION, "ours", "Suspended");
    let theirs = bucket_in(OTHER_ACCOUNT, REGION, "theirs", "Suspended");
    let elsewhere = bucket_in(ACCOUNT, "eu-west-1", "elsewhere", "Suspended");
    let everything = Inventory::from_assets([ours.clone(), theirs.clone(), elsewhere.clone()]);
    let s1 = scan(&engine, &[], &everything, &complete_for(&everything), &no_exceptions(), day(2));
    assert_eq!(s1.violations.len(), 3);

    // A shard for (ACCOUNT, us-east-1) only: it collects buckets and instances
    // there completely, and finds nothing. Other accounts and regions, and
    // other kinds, belong to other shards.
    let shard = Inventory::new();
    let mut cov = Coverage::new();
    cov.complete(ours.id.scope());
    cov.complete(AssetId::new("aws", ACCOUNT, REGION, VM, "-").scope());
    cov.complete(AssetId::new("aws", OTHER_ACCOUNT, REGION, VM, "-").scope());
    let s2 = scan(&engine, &s1.violations, &shard, &cov, &no_exceptions(), day(3));
    assert_eq!(kind(&s2, &key("s3-versioning", "main", &ours)), Some(TransitionKind::ClosedResourceGone));
    for other in [&theirs, &elsewhere] {
        let k = key("s3-versioning", "main", other);
        assert_eq!(violation(&s2, &k), violation(&s1, &k), "{k}");
        assert_eq!(transition(&s2, &k), None, "{k}");
    }
}

// ---------------------------------------------------------------------------
// Exceptions exempt, they never close
// ---------------------------------------------------------------------------

#[test]
fn an_individual_exception_exempts_until_it_expires() {
    let engine = versioning_engine();
    let logs = bucket("logs", "Suspended");
    let inv = Inventory::from_assets([logs.clone()]);
    let cov = complete_for(&inv);
    let k = key("s3-versioning", "main", &logs);

    let s1 = scan(&engine, &[], &inv, &cov, &no_exceptions(), day(2));
    assert_eq!(violation(&s1, &k).status, ViolationStatus::Open);

    let granted = ExceptionSet::new([
        individual("exc-logs", &logs, &["s3-versioning"], Some(day(10))),
        // Another policy's exception does not apply.
        individual("exc-other", &logs, &["s3-encryption"], None),
    ]);
    let s2 = scan(&engine, &s1.violations, &inv, &cov, &granted, day(3));
    let v = violation(&s2, &k);
    assert_eq!(v.status, ViolationStatus::Exempted);
    assert_eq!(v.exception_id.as_deref(), Some("exc-logs"));
    assert_eq!((v.created_at, v.modified_at, v.closed_at), (day(2), day(3), None));
    let tr = transition(&s2, &k).unwrap();
    assert_eq!(
        (tr.kind, tr.from, tr.to),
        (TransitionKind::Exempted, Some(ViolationStatus::Open), ViolationStatus::Exempted)
    );
    assert!(tr.reason.contains("exc-logs"), "{}", tr.reason);

    let s3 = scan(&engine, &s2.violations, &inv, &cov, &granted, day(9));
    assert_eq!(s3.violations, s2.violations);
    assert_eq!(kind(&s3, &k), Some(TransitionKind::StillExempted));
    assert_eq!(s3.changes().count(), 0);

    // The first scan after the expiry re-opens it.
    let s4 = scan(&engine, &s3.violations, &inv, &cov, &granted, day(11));
    let v = violation(&s4, &k);
    assert_eq!(v.status, ViolationStatus::Open);
    assert_eq!(v.exception_id, None);
    assert_eq!((v.created_at, v.modified_at), (day(2), day(11)));
    let tr = transition(&s4, &k).unwrap();
    assert_eq!(
        (tr.kind, tr.from, tr.to),
        (TransitionKind::Reopened, Some(ViolationStatus::Exempted), ViolationStatus::Open)
    );

    // An exception stops applying at its expiry instant.
    let at_expiry = scan(&engine, &s3.violations, &inv, &cov, &granted, day(10));
    assert_eq!(kind(&at_expiry, &k), Some(TransitionKind::Reopened));
}

#[test]
fn a_new_failure_under_an_exception_is_exempted_from_the_start_and_closes_when_fixed() {
    let engine = versioning_engine();
    let logs = bucket("logs", "Suspended");
    let inv = Inventory::from_assets([logs.clone()]);
    let cov = complete_for(&inv);
    let granted = ExceptionSet::new([individual("exc-all", &logs, &["*"], None)]);
    let k = key("s3-versioning", "main", &logs);

    let s1 = scan(&engine, &[], &inv, &cov, &granted, day(2));
    let v = violation(&s1, &k);
    assert_eq!((v.status, v.exception_id.as_deref()), (ViolationStatus::Exempted, Some("exc-all")));
    let tr = transition(&s1, &k).unwrap();
    assert_eq!((tr.kind, tr.from), (TransitionKind::Exempted, None));

    // Fixed while exempt: the scan saw it pass, so it closes (as fixed, not by the exception).
    let fixed = Inventory::from_assets([bucket("logs", "Enabled")]);
    let s2 = scan(&engine, &s1.violations, &fixed, &cov, &granted, day(3));
    let v = violation(&s2, &k);
    assert_eq!(
        (v.status, v.close_reason, v.exception_id.as_deref()),
        (ViolationStatus::Closed, Some(CloseReason::Fixed), None)
    );
    assert_eq!(kind(&s2, &k), Some(TransitionKind::ClosedFixed));
}

#[test]
fn a_sticky_exception_exempts_resources_that_appear_in_later_scans() {
    let engine = versioning_engine();
    let prod = bucket("prod-data", "Suspended").with_tag("Environment", "production");
    let later = bucket("sandbox-tmp", "Suspended").with_tag("Environment", "sandbox");
    let exceptions = ExceptionSet::new([
        sticky("sticky-sandbox", Criteria::eq("tags.Environment", "sandbox").unwrap(), &["s3-versioning"], None),
        // Expired: never applies.
        sticky("sticky-old", Criteria::always(), &["*"], Some(day(2))),
    ]);

    let inv1 = Inventory::from_assets([prod.clone()]);
    let s1 = scan(&engine, &[], &inv1, &complete_for(&inv1), &exceptions, day(3));
    assert_eq!(violation(&s1, &key("s3-versioning", "main", &prod)).status, ViolationStatus::Open);

    // A sandbox bucket created after the exception was granted is exempt as soon as it is seen.
    let inv2 = Inventory::from_assets([prod.clone(), later.clone()]);
    let s2 = scan(&engine, &s1.violations, &inv2, &complete_for(&inv2), &exceptions, day(4));
    let k = key("s3-versioning", "main", &later);
    let v = violation(&s2, &k);
    assert_eq!((v.status, v.exception_id.as_deref()), (ViolationStatus::Exempted, Some("sticky-sandbox")));
    assert_eq!(v.created_at, day(4));
    assert_eq!(
        (transition(&s2, &k).unwrap().kind, transition(&s2, &k).unwrap().from),
        (TransitionKind::Exempted, None)
    );
    assert_eq!(kind(&s2, &key("s3-versioning", "main", &prod)), Some(TransitionKind::StillOpen));

    // When the bucket leaves the sandbox (the criteria no longer match) the violation re-opens.
    let moved = later.clone().with_tag("Environment", "staging");
    let inv3 = Inventory::from_assets([prod.clone(), moved]);
    let s3 = scan(&engine, &s2.violations, &inv3, &complete_for(&inv3), &exceptions, day(5));
    assert_eq!(kind(&s3, &k), Some(TransitionKind::Reopened));
    assert_eq!(violation(&s3, &k).created_at, day(4));
}

// ---------------------------------------------------------------------------
// Errors make violations unknown, never closed
// ---------------------------------------------------------------------------

#[test]
fn a_rule_error_makes_an_open_violation_unknown_and_a_later_pass_closes_it() {
    let engine = state_engine();
    let k = key("vm-check", "check", &vm("i-1", ""));
    let at = |check: &str| Inventory::from_assets([vm("i-1", check)]);
    let cov = complete_for(&at("fail"));
    let none = no_exceptions();

    let s1 = scan(&engine, &[], &at("fail"), &cov, &none, day(2));
    assert_eq!(violation(&s1, &k).status, ViolationStatus::Open);

    let s2 = scan(&engine, &s1.violations, &at("error"), &cov, &none, day(3));
    let v = violation(&s2, &k);
    assert_eq!(v.status, ViolationStatus::Unknown, "an error does not close");
    assert_eq!((v.closed_at, v.close_reason), (None, None));
    assert_eq!(v.reason, "the check could not be read");
    assert_eq!((v.created_at, v.modified_at), (day(2), day(3)));
    let tr = transition(&s2, &k).unwrap();
    assert_eq!(
        (tr.kind, tr.from, tr.to),
        (TransitionKind::Unknown, Some(ViolationStatus::Open), ViolationStatus::Unknown)
    );

    let s3 = scan(&engine, &s2.violations, &at("error"), &cov, &none, day(4));
    assert_eq!(s3.violations, s2.violations);
    assert_eq!(kind(&s3, &k), Some(TransitionKind::StillUnknown));

    let s4 = scan(&engine, &s3.violations, &at("pass"), &cov, &none, day(5));
    let v = violation(&s4, &k);
    assert_eq!(
        (v.status, v.close_reason, v.closed_at),
        (ViolationStatus::Closed, Some(CloseReason::Fixed), Some(day(5)))
    );
    assert_eq!(transition(&s4, &k).unwrap().from, Some(ViolationStatus::Unknown));
    assert_eq!(kind(&s4, &k), Some(TransitionKind::ClosedFixed));

    // An error on a closed violation says nothing: it stays closed.
    let s5 = scan(&engine, &s4.violations, &at("error"), &cov, &none, day(6));
    assert_eq!(s5.violations, s4.violations);
    assert!(s5.transitions.is_empty());
}

#[test]
fn an_error_on_an_exempted_violation_is_unknown_and_a_new_failure_is_exempted_again() {
    let engine = state_engine();
    let i1 = vm("i-1", "fail");
    let k = key("vm-check", "check", &i1);
    let cov = complete_for(&Inventory::from_assets([i1.clone()]));
    let granted = ExceptionSet::new([individual("exc", &i1, &["vm-check"], None)]);

    let s1 = scan(&engine, &[], &Inventory::from_assets([i1.clone()]), &cov, &granted, day(2));
    assert_eq!(violation(&s1, &k).status, ViolationStatus::Exempted);
    let s2 = scan(&engine, &s1.violations, &Inventory::from_assets([vm("i-1", "error")]), &cov, &granted, day(3));
    assert_eq!(violation(&s2, &k).status, ViolationStatus::Unknown);
    assert_eq!(violation(&s2, &k).exception_id, None);
    assert_eq!(kind(&s2, &k), Some(TransitionKind::Unknown));
    let s3 = scan(&engine, &s2.violations, &Inventory::from_assets([i1.clone()]), &cov, &granted, day(4));
    assert_eq!(violation(&s3, &k).status, ViolationStatus::Exempted);
    assert_eq!(kind(&s3, &k), Some(TransitionKind::Exempted));
}

// ---------------------------------------------------------------------------
// Policies that change: disabled, re-scoped, rules retired
// ---------------------------------------------------------------------------

#[test]
fn a_disabled_policy_leaves_its_violations_untouched() {
    let logs = bucket("logs", "Suspended");
    let inv = Inventory::from_assets([logs.clone()]);
    let cov = complete_for(&inv);
    let s1 = scan(&versioning_engine(), &[], &inv, &cov, &no_exceptions(), day(2));

    let disabled: Vec<Policy> =
        parse_policies("v.yaml", VERSIONING).unwrap().into_iter().map(|p| p.enabled(false)).collect();
    let engine = Engine::new(disabled, vec![]).unwrap();
    // Fixed, or gone from a complete scope: neither closes a violation of a policy not evaluated.
    let fixed = Inventory::from_assets([bucket("logs", "Enabled")]);
    let s2 = scan(&engine, &s1.violations, &fixed, &cov, &no_exceptions(), day(3));
    assert_eq!(s2.violations, s1.violations);
    assert!(s2.transitions.is_empty());
    let s3 = scan(&engine, &s1.violations, &Inventory::new(), &cov, &no_exceptions(), day(3));
    assert_eq!(s3.violations, s1.violations);
    assert!(s3.transitions.is_empty());
}

const SCOPED: &str = r#"
policies:
  - id: prod-versioning
    name: Production buckets are versioned
    severity: high
    category: governance
    scope: production
    resource: aws.s3.bucket
    when: {path: state, ne: deleting}
    fail_when: {path: versioning.status, ne: Enabled}
"#;

#[test]
fn an_asset_leaving_the_policy_scope_closes_not_applicable() {
    let groups = vec![AssetGroup::new("production", Criteria::eq("tags.Environment", "production").unwrap())];
    let engine = Engine::new(parse_policies("scoped.yaml", SCOPED).unwrap(), groups).unwrap();
    let a = bucket("a", "Suspended").with_tag("Environment", "production");
    let b = bucket("b", "Suspended").with_tag("Environment", "production");
    let dev = bucket("dev", "Suspended").with_tag("Environment", "development");
    let inv = Inventory::from_assets([a.clone(), b.clone(), dev.clone()]);
    let cov = complete_for(&inv);
    let s1 = scan(&engine, &[], &inv, &cov, &no_exceptions(), day(2));
    assert_eq!(s1.violations.len(), 2, "out-of-scope assets are not judged");
    let (ka, kb) = (key("prod-versioning", "main", &a), key("prod-versioning", "main", &b));

    // `a` moves to development (still unversioned); the rule's `when` excludes `b` (being deleted).
    let a_dev = a.clone().with_tag("Environment", "development");
    let b_deleting = b.clone().with_attributes(json!({"state": "deleting", "versioning": {"status": "Suspended"}}));
    let inv2 = Inventory::from_assets([a_dev, b_deleting, dev]);
    let s2 = scan(&engine, &s1.violations, &inv2, &cov, &no_exceptions(), day(3));
    for k in [&ka, &kb] {
        let v = violation(&s2, k);
        assert_eq!(
            (v.status, v.close_reason, v.closed_at),
            (ViolationStatus::Closed, Some(CloseReason::NotApplicable), Some(day(3)))
        );
        assert_eq!(kind(&s2, k), Some(TransitionKind::ClosedNotApplicable));
    }
}

const TWO_RULES: &str = r#"
policies:
  - id: s3-hygiene
    name: S3 bucket hygiene
    severity: low
    category: governance
    rules:
      - {id: versioning, resource: aws.s3.bucket, fail_when: {path: versioning.status, ne: Enabled}}
      - {id: logging, resource: aws.s3.bucket, fail_when: {path: logging.enabled, ne: true}}
"#;

const ONE_RULE: &str = r#"
policies:
  - id: s3-hygiene
    name: S3 bucket hygiene
    severity: low
    category: governance
    rules:
      - {id: versioning, resource: aws.s3.bucket, fail_when: {path: versioning.status, ne: Enabled}}
"#;

#[test]
fn a_rule_removed_from_a_policy_closes_its_violations_as_retired() {
    let v1 = Engine::new(parse_policies("v1.yaml", TWO_RULES).unwrap(), vec![]).unwrap();
    let v2 = Engine::new(parse_policies("v2.yaml", ONE_RULE).unwrap(), vec![]).unwrap();
    let logs = bucket("logs", "Suspended");
    let inv = Inventory::from_assets([logs.clone()]);
    let cov = complete_for(&inv);
    let s1 = scan(&v1, &[], &inv, &cov, &no_exceptions(), day(2));
    let (kv, kl) = (key("s3-hygiene", "versioning", &logs), key("s3-hygiene", "logging", &logs));
    assert_eq!(violation(&s1, &kv).status, ViolationStatus::Open);
    assert_eq!(violation(&s1, &kl).status, ViolationStatus::Open);

    let s2 = scan(&v2, &s1.violations, &inv, &cov, &no_exceptions(), day(3));
    let v = violation(&s2, &kl);
    assert_eq!(
        (v.status, v.close_reason, v.closed_at),
        (ViolationStatus::Closed, Some(CloseReason::RuleRetired), Some(day(3)))
    );
    assert_eq!(kind(&s2, &kl), Some(TransitionKind::ClosedNotApplicable));
    assert_eq!(kind(&s2, &kv), Some(TransitionKind::StillOpen));

    // Reconciling again changes nothing.
    let s3 = scan(&v2, &s2.violations, &inv, &cov, &no_exceptions(), day(4));
    assert_eq!(s3.violations, s2.violations);
    assert_eq!(s3.changes().count(), 0);
}

#[test]
fn a_retired_rule_does_not_close_violations_in_scopes_the_scan_did_not_cover() {
    // Shards may run different versions of a policy pack during a roll-out:
    // a shard that did not collect a scope must not close its violations,
    // whatever the reason (ARCHITECTURE: partial shards never close others'
    // violations).
    let v1 = Engine::new(parse_policies("v1.yaml", TWO_RULES).unwrap(), vec![]).unwrap();
    let v2 = Engine::new(parse_policies("v2.yaml", ONE_RULE).unwrap(), vec![]).unwrap();
    let ours = bucket_in(ACCOUNT, REGION, "ours", "Suspended");
    let failed = bucket_in(ACCOUNT, "eu-west-1", "failed", "Suspended");
    let theirs = bucket_in(OTHER_ACCOUNT, REGION, "theirs", "Suspended");
    let all = Inventory::from_assets([ours.clone(), failed.clone(), theirs.clone()]);
    let s1 = scan(&v1, &[], &all, &complete_for(&all), &no_exceptions(), day(2));
    assert_eq!(s1.violations.len(), 6);

    let shard = Inventory::from_assets([ours.clone()]);
    let mut cov = Coverage::new();
    cov.complete(ours.id.scope());
    cov.fail(failed.id.scope(), "AccessDenied");
    let s2 = scan(&v2, &s1.violations, &shard, &cov, &no_exceptions(), day(3));
    assert_eq!(violation(&s2, &key("s3-hygiene", "logging", &ours)).close_reason, Some(CloseReason::RuleRetired));
    for a in [&failed, &theirs] {
        let k = key("s3-hygiene", "logging", a);
        assert_eq!(violation(&s2, &k), violation(&s1, &k), "{k}");
        assert_eq!(transition(&s2, &k), None, "{k}");
    }

    // Once the scope is collected completely, the retired rule's violation closes.
    let mut cov = Coverage::new();
    cov.complete(failed.id.scope());
    let s3 = scan(&v2, &s2.violations, &Inventory::from_assets([failed.clone()]), &cov, &no_exceptions(), day(4));
    let k = key("s3-hygiene", "logging", &failed);
    assert_eq!(violation(&s3, &k).status, ViolationStatus::Closed);
    assert_eq!(violation(&s3, &k).close_reason, Some(CloseReason::RuleRetired));
}

// ---------------------------------------------------------------------------
// No API closes a violation by hand
// ---------------------------------------------------------------------------

/// Architecture invariant 2: there is no API to close a violation by hand.
///
/// Rust cannot enumerate an API at run time, so this is asserted as far as
/// possible:
/// - behaviourally: exceptions (even one exempting everything from every
///   policy), errors and disabled policies never produce a closed violation;
///   only a reconcile that saw the resource pass, no longer apply, or gone
///   from a complete scope does;
/// - structurally: in pacbot-core's sources, the only code that sets a
///   violation's status to `Closed` or gives it a close reason is the private
///   `on_unflagged` of `reconcile.rs`, and the public functions of
///   `reconcile.rs` are `reconcile` and the read-only accessors of
///   `Reconciliation`; no public function anywhere is named `close…`.
///
/// (`Violation`'s fields are public data, like every record the store reads
/// back; the invariant is that no *operation* closes one.)
#[test]
fn no_api_closes_a_violation_by_hand() {
    // Behaviour: everything exempt, every rule failing or erroring, forever.
    let engine = state_engine();
    let assets = [vm("i-1", "fail"), vm("i-2", "error"), vm("i-3", "fail")];
    let inv = Inventory::from_assets(assets.clone());
    let cov = complete_for(&inv);
    let everything = ExceptionSet::new([sticky("all", Criteria::always(), &["*"], None)]);
    let mut prev = Vec::new();
    for (n, exceptions) in [(2, &everything), (3, &no_exceptions()), (4, &everything)] {
        let r = scan(&engine, &prev, &inv, &cov, exceptions, day(n));
        assert!(r.violations.iter().all(Violation::is_active), "scan {n}: {:?}", r.violations);
        prev = r.violations;
    }

    // Structure: who writes `Closed`.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut writers = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut current_fn = String::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or_default();
            if let Some(rest) = code.trim_start().split("fn ").nth(1).filter(|_| code.contains("fn ")) {
                current_fn = rest.split(['(', '<']).next().unwrap_or_default().trim().to_owned();
                assert!(
                    !(code.contains("pub fn") && current_fn.starts_with("close")),
                    "{file}: public `{current_fn}` looks like a way to close violations by hand"
                );
            }
            let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            let writes_closed = compact.contains("status=ViolationStatus::Closed")
                || compact.contains("status:ViolationStatus::Closed")
                || compact.contains("close_reason=Some")
                || compact.contains("close_reason:Some")
                || compact.contains("closed_at=Some")
                || compact.contains("closed_at:Some");
            if writes_closed {
                writers.push(format!("{file}:{current_fn}"));
            }
        }
        if file == "reconcile.rs" {
            let public: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("pub fn "))
                .map(|l| l.split(['(', '<']).next().unwrap_or_default())
                .collect();
            assert_eq!(public, ["changes", "changed", "counts", "reconcile"], "reconcile.rs grew a public function");
        }
    }
    writers.sort();
    writers.dedup();
    assert_eq!(writers, ["reconcile.rs:on_unflagged"], "only reconcile closes violations");
}

// ---------------------------------------------------------------------------
// Compliance maths on a small estate
// ---------------------------------------------------------------------------

/// A rule over `kinds` that answers what the asset's attribute `key` says
/// (`fail`, `error`; anything else passes).
fn attr_rule(key: &'static str, kinds: &[&str]) -> impl pacbot_core::Rule + 'static {
    FnRule::new("main", kinds.to_vec(), move |a: &Asset, _: &pacbot_core::EvalContext<'_>| {
        match a.attributes.field(key).as_str() {
            Some("fail") => Outcome::fail(format!("{key} fails")),
            Some("error") => Outcome::error(format!("{key} errored")),
            _ => Outcome::Pass,
        }
    })
}

const OWNER_TAG: &str = r#"
policies:
  - id: tag-low
    name: Resources have an owner
    severity: low
    category: tagging
    resource: [aws.ec2.instance, aws.s3.bucket]
    pass_when: {path: tags.Owner, exists: true}
"#;

fn estate_engine() -> Engine {
    fn p(id: &'static str, sev: Severity, cat: Category, kinds: &[&str]) -> Policy {
        Policy::new(PolicyMeta::new(id, id, sev, cat), attr_rule(id, kinds))
    }
    let mut policies = vec![
        p("sec-crit", Severity::Critical, Category::Security, &[VM]),
        p("sec-high", Severity::High, Category::Security, &[BUCKET]),
        p("sec-low", Severity::Low, Category::Security, &[VM]),
        p("sec-med", Severity::Medium, Category::Security, &["aws.iam.user"]),
        p("gov-med", Severity::Medium, Category::Governance, &[BUCKET]),
        p("gov-low", Severity::Low, Category::Governance, &[VM]),
    ];
    policies.extend(parse_policies("tags.yaml", OWNER_TAG).unwrap());
    let prod = AssetGroup::new("prod", Criteria::eq("tags.Env", "prod").unwrap());
    Engine::new(policies, vec![prod]).unwrap()
}

fn asset(kind: &str, id: &str, attrs: serde_json::Value, tags: &[(&str, &str)]) -> Asset {
    let mut a = Asset::new(AssetId::new("aws", ACCOUNT, REGION, kind, id)).with_attributes(attrs);
    for (k, v) in tags {
        a = a.with_tag(*k, *v);
    }
    a
}

/// Six assets:
///
/// | asset | Env | Owner | CostCenter | sec-crit | sec-high | sec-low | gov-med | gov-low |
/// |---|---|---|---|---|---|---|---|---|
/// | i1 | prod | yes | cc-1 | fail | – | pass | – | pass |
/// | i2 | prod | yes | (blank) | fail, exempted | – | pass | – | pass |
/// | i3 | dev | yes | – | error | – | pass | – | pass |
/// | i4 | dev | – | cc-4 | pass | – | pass | – | fail |
/// | b1 | prod | yes | cc-9 | – | fail | – | fail | – |
/// | b2 | dev | – | – | – | pass | – | fail | – |
fn estate(i3_check: &str) -> Vec<Asset> {
    vec![
        asset(VM, "i1", json!({"sec-crit": "fail"}), &[("Env", "prod"), ("Owner", "ann"), ("CostCenter", "cc-1")]),
        asset(VM, "i2", json!({"sec-crit": "fail"}), &[("Env", "prod"), ("Owner", "bo"), ("CostCenter", " ")]),
        asset(VM, "i3", json!({ "sec-crit": i3_check }), &[("Env", "dev"), ("Owner", "cy")]),
        asset(VM, "i4", json!({"gov-low": "fail"}), &[("Env", "dev"), ("CostCenter", "cc-4")]),
        asset(
            BUCKET,
            "b1",
            json!({"sec-high": "fail", "gov-med": "fail"}),
            &[("Env", "prod"), ("Owner", "di"), ("CostCenter", "cc-9")],
        ),
        asset(BUCKET, "b2", json!({"gov-med": "fail"}), &[("Env", "dev")]),
    ]
}

fn i2_exempt(assets: &[Asset]) -> ExceptionSet {
    ExceptionSet::new([individual("exc-i2", &assets[1], &["sec-crit"], None)])
}

fn mandatory() -> ComplianceConfig {
    ComplianceConfig { mandatory_tags: vec!["Owner".into(), "CostCenter".into()], ..ComplianceConfig::default() }
}

/// Scans `assets` once and reports on them (overall, and the `prod` group).
fn report(
    assets: Vec<Asset>,
    exceptions: &ExceptionSet,
    config: &ComplianceConfig,
) -> (ComplianceReport, ComplianceReport) {
    let engine = estate_engine();
    let inv = Inventory::from_assets(assets);
    let now = day(2);
    let eval = engine.evaluate(&inv, now);
    let r = reconcile(&ReconcileInput {
        previous: &[],
        inventory: &inv,
        evaluation: &eval,
        coverage: &complete_for(&inv),
        exceptions,
        now,
    });
    let compliance = Compliance::new(&inv, &eval, &r.violations, config);
    let prod = &engine.groups()["prod"];
    let members = engine.group_members(prod, &inv, now);
    (compliance.overall(), compliance.for_group("prod", &members))
}

fn approx(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

/// (policy, in scope, open, exempted, unknown, percent)
type Row = (&'static str, usize, usize, usize, usize, f64);

fn assert_policies(report: &ComplianceReport, rows: &[Row]) {
    let ids: Vec<&str> = report.policies.iter().map(|p| p.policy_id.as_str()).collect();
    assert_eq!(ids, rows.iter().map(|r| r.0).collect::<Vec<_>>(), "policies in evaluation order");
    for (p, &(id, scope, open, exempted, unknown, pct)) in report.policies.iter().zip(rows) {
        assert_eq!((p.assets_in_scope, p.open, p.exempted, p.unknown), (scope, open, exempted, unknown), "{id}");
        approx(p.percent, pct);
    }
}

/// (category, percent, assessed, policies, open)
fn assert_categories(report: &ComplianceReport, rows: &[(Category, f64, bool, usize, usize)]) {
    assert_eq!(report.categories.len(), rows.len());
    for (c, &(cat, pct, assessed, policies, open)) in report.categories.iter().zip(rows) {
        assert_eq!((c.category, c.assessed, c.policies, c.open), (cat, assessed, policies, open), "{cat}");
        approx(c.percent, pct);
    }
}

#[test]
fn compliance_of_the_whole_estate() {
    let assets = estate("error");
    let (all, _) = report(assets.clone(), &i2_exempt(&assets), &mandatory());
    assert_eq!(all.group, None);
    assert_eq!(all.assets, 6);
    // Policy: (assessed − open) / assessed, where assessed = in scope − unknown.
    // i2 is exempted (compliant), i3 unknown (reported apart, left out of the figure).
    assert_policies(
        &all,
        &[
            ("sec-crit", 4, 1, 1, 1, 200.0 / 3.0), // 2/3
            ("sec-high", 2, 1, 0, 0, 50.0),        // 1/2
            ("sec-low", 4, 0, 0, 0, 100.0),
            ("sec-med", 0, 0, 0, 0, 100.0), // no asset in scope: 100, not assessed
            ("gov-med", 2, 2, 0, 0, 0.0),
            ("gov-low", 4, 1, 0, 0, 75.0),
            ("tag-low", 6, 2, 0, 0, 400.0 / 6.0), // i4 and b2 lack an owner
        ],
    );
    // Category: severity-weighted mean over the policies with assets in scope.
    let security = (10.0 * 200.0 / 3.0 + 5.0 * 50.0 + 1.0 * 100.0) / (10.0 + 5.0 + 1.0); // 63.54…
    let governance = (3.0 * 0.0 + 1.0 * 75.0) / (3.0 + 1.0); // 18.75
    let tagging = 400.0 / 6.0;
    approx(security, 63.541_666_666_666_664);
    approx(governance, 18.75);
    assert_categories(
        &all,
        &[
            (Category::Security, security, true, 4, 2),
            (Category::Governance, governance, true, 2, 3),
            (Category::Cost, 100.0, false, 0, 0),
            (Category::Tagging, tagging, true, 1, 2),
        ],
    );
    // Overall: categories weighted 50/20/20/10, over the assessed ones (cost is not).
    approx(all.overall, (50.0 * security + 20.0 * governance + 10.0 * tagging) / (50.0 + 20.0 + 10.0));
    approx(all.overall, 52.734_375);
    assert_eq!((all.open, all.exempted, all.unknown), (7, 1, 1));
    // Tagging: every mandatory tag with a non-empty value. i1 and b1 only.
    assert_eq!((all.tagging.taggable, all.tagging.tagged), (6, 2));
    approx(all.tagging.percent, 100.0 / 3.0);
    let missing: Vec<(&str, usize)> = all.tagging.missing.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(missing, [("CostCenter", 3), ("Owner", 2)], "i2's blank CostCenter is missing");
}

#[test]
fn exempted_counts_as_compliant_and_unknown_is_left_out_of_the_figure() {
    let assets = estate("error");
    let (exempt, _) = report(assets.clone(), &i2_exempt(&assets), &mandatory());
    let (not_exempt, _) = report(assets.clone(), &no_exceptions(), &mandatory());
    let (passing, _) = report(estate("pass"), &i2_exempt(&assets), &mandatory());
    let (failing, _) = report(estate("fail"), &i2_exempt(&assets), &mandatory());
    let crit = |r: &ComplianceReport| r.policies[0].clone();
    // i1 open, i2 exempted (compliant), i3 unknown (left out), i4 passing: 2/3.
    approx(crit(&exempt).percent, 200.0 / 3.0);
    // Without the exception, i2 is open: 1/3.
    assert_eq!((crit(&not_exempt).open, crit(&not_exempt).exempted), (2, 0));
    approx(crit(&not_exempt).percent, 100.0 / 3.0);
    assert!(not_exempt.overall < exempt.overall);
    // i3 passing counts it in: 3/4; failing counts it against: 2/4. An error
    // lies between, and is reported on its own.
    assert_eq!((crit(&passing).open, crit(&passing).unknown), (1, 0));
    approx(crit(&passing).percent, 75.0);
    approx(crit(&failing).percent, 50.0);
    assert_eq!((crit(&exempt).unknown, crit(&failing).unknown), (1, 0));
}

#[test]
fn a_group_report_is_restricted_to_the_group() {
    let assets = estate("error");
    let (_, prod) = report(assets.clone(), &i2_exempt(&assets), &mandatory());
    assert_eq!(prod.group.as_deref(), Some("prod"));
    assert_eq!(prod.assets, 3, "i1, i2, b1");
    assert_policies(
        &prod,
        &[
            ("sec-crit", 2, 1, 1, 0, 50.0),
            ("sec-high", 1, 1, 0, 0, 0.0),
            ("sec-low", 2, 0, 0, 0, 100.0),
            ("sec-med", 0, 0, 0, 0, 100.0),
            ("gov-med", 1, 1, 0, 0, 0.0),
            ("gov-low", 2, 0, 0, 0, 100.0),
            ("tag-low", 3, 0, 0, 0, 100.0),
        ],
    );
    let security = (10.0 * 50.0 + 5.0 * 0.0 + 1.0 * 100.0) / 16.0; // 37.5
    let governance = (3.0 * 0.0 + 1.0 * 100.0) / 4.0; // 25
    assert_categories(
        &prod,
        &[
            (Category::Security, security, true, 4, 2),
            (Category::Governance, governance, true, 2, 1),
            (Category::Cost, 100.0, false, 0, 0),
            (Category::Tagging, 100.0, true, 1, 0),
        ],
    );
    approx(prod.overall, (50.0 * 37.5 + 20.0 * 25.0 + 10.0 * 100.0) / 80.0); // 42.1875
    assert_eq!((prod.open, prod.exempted, prod.unknown), (3, 1, 0));
    assert_eq!((prod.tagging.taggable, prod.tagging.tagged), (3, 2));
    approx(prod.tagging.percent, 200.0 / 3.0);
    assert_eq!(prod.tagging.missing["CostCenter"], 1);
    assert_eq!(prod.tagging.missing["Owner"], 0);
}

#[test]
fn category_weights_and_taggable_kinds_are_configurable() {
    let assets = estate("error");
    let config = ComplianceConfig {
        category_weights: [
            (Category::Security, 1.0),
            (Category::Governance, 3.0),
            (Category::Cost, 100.0), // not assessed: ignored
            (Category::Tagging, 0.0),
        ]
        .into_iter()
        .collect(),
        mandatory_tags: vec!["Owner".into(), "CostCenter".into()],
        taggable_kinds: Some(vec![VM.into()]),
    };
    let (all, _) = report(assets.clone(), &i2_exempt(&assets), &config);
    approx(all.overall, (1.0 * 63.541_666_666_666_664 + 3.0 * 18.75) / 4.0);
    // Only instances are taggable: i1 carries both tags.
    assert_eq!((all.tagging.taggable, all.tagging.tagged), (4, 1));
    approx(all.tagging.percent, 25.0);
    assert_eq!(all.tagging.missing["Owner"], 1);
    assert_eq!(all.tagging.missing["CostCenter"], 2);

    // No mandatory tags: fully tagged.
    let (plain, _) = report(assets.clone(), &i2_exempt(&assets), &ComplianceConfig::default());
    approx(plain.tagging.percent, 100.0);
    assert!(plain.tagging.missing.is_empty());
}

#[test]
fn an_estate_without_assets_is_fully_compliant() {
    let (all, prod) = report(vec![], &no_exceptions(), &mandatory());
    for r in [&all, &prod] {
        assert_eq!(r.assets, 0);
        approx(r.overall, 100.0);
        assert!(r.policies.iter().all(|p| p.assets_in_scope == 0 && p.percent == 100.0), "{:?}", r.policies);
        assert!(r.categories.iter().all(|c| !c.assessed && c.percent == 100.0));
        assert_eq!((r.tagging.taggable, r.tagging.tagged), (0, 0));
        approx(r.tagging.percent, 100.0);
        assert_eq!((r.open, r.exempted, r.unknown), (0, 0, 0));
    }
}

#[test]
fn compliance_follows_the_lifecycle_across_scans() {
    // Open → unknown (not lowering the figure) → fixed.
    let engine = state_engine();
    let config = ComplianceConfig::default();
    let cov = complete_for(&Inventory::from_assets([vm("i-1", ""), vm("i-2", "")]));
    let mut prev: Vec<Violation> = Vec::new();
    let mut figures = Vec::new();
    for (n, checks) in [(2, ["fail", "pass"]), (3, ["error", "pass"]), (4, ["pass", "pass"])] {
        let inv = Inventory::from_assets([vm("i-1", checks[0]), vm("i-2", checks[1])]);
        let eval = engine.evaluate(&inv, day(n));
        let r = reconcile(&ReconcileInput {
            previous: &prev,
            inventory: &inv,
            evaluation: &eval,
            coverage: &cov,
            exceptions: &no_exceptions(),
            now: day(n),
        });
        let report = Compliance::new(&inv, &eval, &r.violations, &config).overall();
        figures.push((report.policies[0].percent, report.open, report.unknown));
        prev = r.violations;
    }
    assert_eq!(figures, [(50.0, 1, 0), (100.0, 0, 1), (100.0, 0, 0)]);
}

#[test]
fn an_asset_is_counted_once_by_its_worst_violation_of_the_policy() {
    // One policy, two rules: `a` fails one (exempted) and errors on the other;
    // `b` fails one (exempted) only; `c` fails one, not exempted, and errors on the other.
    fn rule(id: &'static str) -> impl pacbot_core::Rule + 'static {
        FnRule::new(id, [VM], move |a: &Asset, _: &pacbot_core::EvalContext<'_>| {
            match a.attributes.field(id).as_str() {
                Some("fail") => Outcome::fail("fails"),
                Some("error") => Outcome::error("errored"),
                _ => Outcome::Pass,
            }
        })
    }
    let meta = PolicyMeta::new("two", "Two rules", Severity::High, Category::Security);
    let engine = Engine::new(vec![Policy::new(meta, rule("r1")).with_rule(rule("r2"))], vec![]).unwrap();
    let mk = |id: &str, r1: &str, r2: &str| {
        Asset::new(AssetId::new("aws", ACCOUNT, REGION, VM, id)).with_attributes(json!({"r1": r1, "r2": r2}))
    };
    let (a, b, c, d) =
        (mk("a", "fail", "error"), mk("b", "fail", "pass"), mk("c", "fail", "error"), mk("d", "pass", "pass"));
    let inv = Inventory::from_assets([a.clone(), b.clone(), c, d]);
    let exceptions = ExceptionSet::new([individual("ea", &a, &["two"], None), individual("eb", &b, &["two"], None)]);
    let eval = engine.evaluate(&inv, day(2));
    let r = reconcile(&ReconcileInput {
        previous: &[],
        inventory: &inv,
        evaluation: &eval,
        coverage: &complete_for(&inv),
        exceptions: &exceptions,
        now: day(2),
    });
    let report = Compliance::new(&inv, &eval, &r.violations, &ComplianceConfig::default()).overall();
    let p = &report.policies[0];
    // a: unknown (not also exempted); b: exempted; c: open (not also unknown); d: clean.
    assert_eq!((p.assets_in_scope, p.open, p.unknown, p.exempted), (4, 1, 1, 1));
    approx(p.percent, 200.0 / 3.0); // a is left out: b and d of b, c, d
    assert_eq!((report.open, report.unknown, report.exempted), (1, 1, 1));
}
