//! Scans: round trips, the lifecycle over several scans, partial scans,
//! shards committing concurrently, atomic commits.

use std::collections::BTreeMap;

use pacbot_core::{
    Asset, CloseReason, Coverage, Exception, ExceptionTarget, Severity, TransitionKind, ViolationStatus,
};
use serde_json::json;

use super::Harness;
use super::fixtures::*;
use crate::error::StoreError;
use crate::model::{
    AssetFilter, AssetQuery, ComplianceSnapshot, FailedScope, HistoryEntry, PageRequest, RuleResult, ScanCommit,
    ScanRecord, ScanStart, ScanStatus, Stamp, TrendQuery, ViolationFilter,
};
use crate::store::{Store, StoreExt};

/// Everything a scan writes reads back equal: assets (first/last seen set),
/// violations, history, per-rule results, snapshot, the scan record and its
/// counts. Times come back truncated to the microsecond.
pub async fn round_trip(store: &dyn Harness) {
    let now = at(0);
    let scan = store.begin_scan(ScanStart::new("nightly", now)).await.unwrap();
    assert_eq!(scan.status, ScanStatus::Running);
    assert_eq!(scan.started_at, kept(now), "times are kept to the microsecond");
    assert_eq!(scan.finished_at, None);

    let a = bucket("111", "eu-west-1", "logs", "Suspended", false).with_tag("Owner", "ops");
    let b = Asset::new(id("111", "eu-west-1", "aws.ec2.instance", "i-0abc")).with_attributes(
        json!({"state": {"name": "running"}, "sgs": [{"id": "sg-1"}, {"id": "sg-2"}], "n": -7, "ok": null}),
    );
    let (v1, t1) = opened(VERSIONING, a.id.clone(), Severity::Medium, now, "versioning is Suspended");
    let (mut v2, mut t2) = opened(PUBLIC, b.id.clone(), Severity::Critical, now, "exposed");
    v2.status = ViolationStatus::Exempted;
    v2.exception_id = Some("exc-1".into());
    v2.details = serde_json::Value::Null;
    t2.kind = TransitionKind::Exempted;
    t2.to = ViolationStatus::Exempted;
    let results = vec![
        RuleResult {
            policy_id: VERSIONING.into(),
            rule_id: VERSIONING.into(),
            passed: 0,
            failed: 1,
            errors: 0,
            not_applicable: 1,
        },
        RuleResult {
            policy_id: PUBLIC.into(),
            rule_id: PUBLIC.into(),
            passed: 1,
            failed: 1,
            errors: 2,
            not_applicable: 0,
        },
    ];
    let mut commit = ScanCommit::new(scan.id, at(1));
    commit.assets = vec![a.clone(), b.clone()];
    commit.coverage = complete(&[scope("111", "eu-west-1", BUCKET), scope("111", "eu-west-1", "aws.ec2.instance")]);
    commit.results = results.clone();
    commit.violations = vec![v1.clone(), v2.clone()];
    commit.transitions = vec![t1.clone(), t2.clone()];
    commit.snapshots = vec![report(None, 50.0, 1)];
    let rec = store.commit_scan(commit).await.unwrap();

    assert_eq!(rec.id, scan.id);
    assert_eq!(rec.status, ScanStatus::Complete);
    assert_eq!(rec.finished_at, Some(kept(at(1))));
    assert!(rec.failed_scopes.is_empty());
    let c = &rec.counts;
    assert_eq!((c.assets_seen, c.assets_new, c.assets_removed), (2, 2, 0));
    assert_eq!((c.scopes_complete, c.scopes_failed), (2, 0));
    assert_eq!((c.passed, c.failed, c.errors, c.not_applicable), (1, 2, 2, 1));
    assert_eq!(c.transitions, BTreeMap::from([(TransitionKind::Opened, 1), (TransitionKind::Exempted, 1)]));
    assert_eq!(c.violations, BTreeMap::from([(ViolationStatus::Open, 1), (ViolationStatus::Exempted, 1)]));
    assert_eq!(store.scan(scan.id).await.unwrap(), rec);
    assert_eq!(store.scans(&PageRequest::default()).await.unwrap().items, vec![rec.clone()]);
    assert_eq!(store.scan_results(scan.id).await.unwrap(), results);

    for original in [&a, &b] {
        let got = store.asset(&original.id).await.unwrap();
        let mut want = original.clone();
        want.first_seen = Some(kept(now));
        want.last_seen = Some(kept(now));
        assert_eq!(got.asset, want, "asset {} reads back as written", original.id);
        assert_eq!(got.removed_at, None);
    }
    let violations = store.all_violations(ViolationFilter::default()).await.unwrap();
    let mut want = vec![kept_violation(v1.clone()), kept_violation(v2.clone())];
    want.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(violations, want);
    assert_eq!(
        store.violation_history(&v1.key).await.unwrap(),
        vec![HistoryEntry { scan: scan.id, transition: kept_transition(t1) }]
    );
    assert_eq!(
        store.violation_history(&v2.key).await.unwrap(),
        vec![HistoryEntry { scan: scan.id, transition: kept_transition(t2) }]
    );
    let trend = store.compliance_trend(&TrendQuery::default()).await.unwrap();
    assert_eq!(trend, vec![ComplianceSnapshot { scan: scan.id, at: kept(now), report: report(None, 50.0, 1) }]);
}

/// Four scans through the core's engine and reconcile: opened, closed as
/// fixed, re-opened, exempted by a stored exception and re-opened when it is
/// deleted, closed because the resource is gone (and the asset marked
/// removed). First seen stays, last seen moves.
pub async fn lifecycle_over_scans(store: &dyn Harness) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let cov = || complete(std::slice::from_ref(&s));
    let a = |v: &str| bucket("111", "eu-west-1", "alpha", v, false);
    let b = |v: &str| bucket("111", "eu-west-1", "beta", v, false);
    let c = bucket("111", "eu-west-1", "gamma", "Enabled", true);
    let (ida, idb, idc) = (a("x").id, b("x").id, c.id.clone());

    let s1 = run_scan(store, &e, "s1", at(0), vec![a("Suspended"), b("Enabled"), c.clone()], cov()).await;
    assert_eq!(s1.record.status, ScanStatus::Complete);
    assert_eq!(s1.record.counts.assets_new, 3);
    assert_eq!(s1.transition(VERSIONING, &ida), Some(TransitionKind::Opened));
    assert_eq!(s1.transition(PUBLIC, &idc), Some(TransitionKind::Opened));
    assert_eq!(s1.transition(VERSIONING, &idb), None);

    let s2 = run_scan(store, &e, "s2", at(1), vec![a("Enabled"), b("Suspended"), c.clone()], cov()).await;
    assert_eq!(s2.transition(VERSIONING, &ida), Some(TransitionKind::ClosedFixed));
    assert_eq!(s2.transition(VERSIONING, &idb), Some(TransitionKind::Opened));
    assert_eq!(s2.transition(PUBLIC, &idc), Some(TransitionKind::StillOpen));
    assert_eq!(s2.record.counts.assets_new, 0);

    let exception = Exception {
        id: "exc-beta".into(),
        target: ExceptionTarget::Asset { asset: idb.clone(), policies: vec![VERSIONING.into()] },
        reason: "legacy bucket".into(),
        granted_by: "alice".into(),
        granted_at: at(1),
        expires_at: None,
    };
    store.put_exception(exception, Stamp::new("alice", at(1))).await.unwrap();
    let s3 = run_scan(store, &e, "s3", at(2), vec![a("Suspended"), b("Suspended")], cov()).await;
    assert_eq!(s3.transition(VERSIONING, &ida), Some(TransitionKind::Reopened), "a closed violation re-opens");
    assert_eq!(s3.transition(VERSIONING, &idb), Some(TransitionKind::Exempted));
    assert_eq!(s3.transition(PUBLIC, &idc), Some(TransitionKind::ClosedResourceGone));
    assert_eq!(s3.record.counts.assets_removed, 1);
    let gone = store.asset(&idc).await.unwrap();
    assert_eq!(gone.removed_at, Some(kept(at(2))));
    assert_eq!(gone.asset.last_seen, Some(kept(at(1))));

    store.delete_exception("exc-beta").await.unwrap();
    let s4 = run_scan(store, &e, "s4", at(3), vec![a("Suspended"), b("Suspended")], cov()).await;
    assert_eq!(s4.transition(VERSIONING, &idb), Some(TransitionKind::Reopened), "exemption ended");
    assert_eq!(s4.transition(VERSIONING, &ida), Some(TransitionKind::StillOpen));

    let alpha = store.asset(&ida).await.unwrap();
    assert_eq!(alpha.asset.first_seen, Some(kept(at(0))));
    assert_eq!(alpha.asset.last_seen, Some(kept(at(3))));
    let key = s4.reconciliation.violations.iter().find(|v| v.key.asset == ida).unwrap().key.clone();
    let history = store.violation_history(&key).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|h| h.transition.kind).collect();
    use TransitionKind::*;
    assert_eq!(kinds, vec![Opened, ClosedFixed, Reopened], "the history keeps changes of status only");
    let scans: Vec<_> = history.iter().map(|h| h.scan).collect();
    assert_eq!(scans, vec![s1.record.id, s2.record.id, s3.record.id]);
    assert_eq!(s4.record.counts.transitions.get(&StillOpen), Some(&1), "still open is counted");
    let stored = store.all_violations(ViolationFilter::default()).await.unwrap();
    let va = stored.iter().find(|v| v.key == key).unwrap();
    assert_eq!((va.status, va.created_at, va.closed_at), (ViolationStatus::Open, kept(at(0)), None));
    let vc = stored.iter().find(|v| v.key.asset == idc).unwrap();
    assert_eq!((vc.status, vc.close_reason), (ViolationStatus::Closed, Some(CloseReason::ResourceGone)));
    assert_eq!(stored, s4.reconciliation.violations.iter().cloned().map(kept_violation).collect::<Vec<_>>());

    let current = store.all_assets(AssetFilter::default()).await.unwrap();
    assert_eq!(current.iter().map(|r| r.asset.id.clone()).collect::<Vec<_>>(), vec![ida.clone(), idb.clone()]);
    let all = store.all_assets(AssetFilter { include_removed: true, ..AssetFilter::default() }).await.unwrap();
    assert_eq!(all.len(), 3);
    let listed = store.scans(&PageRequest::default()).await.unwrap().items;
    let ids: Vec<_> = listed.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![s4.record.id, s3.record.id, s2.record.id, s1.record.id], "scans list newest first");
}

/// A scan whose scope failed is partial, lists the failed scope, and keeps
/// that scope's assets and violations exactly as they were; a later
/// complete scan of the scope removes and closes.
pub async fn partial_scan_keeps_failed_scopes(store: &dyn Harness) {
    let e = engine();
    let (west, east) = (scope("111", "eu-west-1", BUCKET), scope("111", "us-east-1", BUCKET));
    let a = bucket("111", "eu-west-1", "a", "Suspended", false);
    let d = bucket("111", "us-east-1", "d", "Suspended", false);
    run_scan(store, &e, "s1", at(0), vec![a.clone(), d.clone()], complete(&[west.clone(), east.clone()])).await;
    let before =
        store.all_violations(ViolationFilter { asset: Some(d.id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(before.len(), 1);

    let mut cov = complete(std::slice::from_ref(&west));
    cov.fail(east.clone(), "AccessDenied: 'quoted' %_");
    let s2 = run_scan(store, &e, "s2", at(1), vec![a.clone()], cov).await;
    assert_eq!(s2.record.status, ScanStatus::Partial);
    assert_eq!(
        s2.record.failed_scopes,
        vec![FailedScope { scope: east.clone(), error: "AccessDenied: 'quoted' %_".into() }]
    );
    assert_eq!((s2.record.counts.scopes_complete, s2.record.counts.scopes_failed), (1, 1));
    assert_eq!(s2.record.counts.assets_removed, 0);
    assert_eq!(store.scan(s2.record.id).await.unwrap(), s2.record);
    let kept_d = store.asset(&d.id).await.unwrap();
    assert_eq!((kept_d.removed_at, kept_d.asset.last_seen), (None, Some(kept(at(0)))));
    let after =
        store.all_violations(ViolationFilter { asset: Some(d.id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(after, before, "a failed scope keeps its violations as they were");
    assert_eq!(store.violation_history(&before[0].key).await.unwrap().len(), 1);

    let s3 = run_scan(store, &e, "s3", at(2), vec![a], complete(&[west, east])).await;
    assert_eq!(s3.record.status, ScanStatus::Complete);
    assert_eq!(s3.transition(VERSIONING, &d.id), Some(TransitionKind::ClosedResourceGone));
    assert_eq!(store.asset(&d.id).await.unwrap().removed_at, Some(kept(at(2))));
}

/// `current_violations` returns the violations of the scopes asked for,
/// closed ones only when asked, sorted by key.
pub async fn previous_violations_by_scope(store: &dyn Harness) {
    let now = at(0);
    let scan = store.begin_scan(ScanStart::new("manual", now)).await.unwrap();
    let ids = [
        id("111", "eu-west-1", BUCKET, "b2"),
        id("111", "eu-west-1", BUCKET, "b1"),
        id("111", "us-east-1", BUCKET, "b3"),
        id("222", "eu-west-1", BUCKET, "b4"),
        id("111", "eu-west-1", "aws.ec2.instance", "i-1"),
    ];
    let mut commit = ScanCommit::new(scan.id, now);
    for i in &ids {
        let (v, t) = opened(VERSIONING, i.clone(), Severity::Low, now, "r");
        commit.violations.push(v);
        commit.transitions.push(t);
    }
    commit.violations[0].status = ViolationStatus::Closed;
    commit.violations[0].closed_at = Some(now);
    commit.violations[0].close_reason = Some(CloseReason::Fixed);
    store.commit_scan(commit).await.unwrap();

    let west = scope("111", "eu-west-1", BUCKET);
    let active = store.current_violations(std::slice::from_ref(&west), false).await.unwrap();
    assert_eq!(active.iter().map(|v| v.key.asset.resource_id.as_str()).collect::<Vec<_>>(), vec!["b1"]);
    let with_closed = store.current_violations(&[west.clone(), west.clone()], true).await.unwrap();
    assert_eq!(with_closed.iter().map(|v| v.key.asset.resource_id.as_str()).collect::<Vec<_>>(), vec!["b1", "b2"]);
    let two = store.current_violations(&[scope("222", "eu-west-1", BUCKET), west], true).await.unwrap();
    assert_eq!(two.iter().map(|v| v.key.asset.resource_id.as_str()).collect::<Vec<_>>(), vec!["b1", "b2", "b4"]);
    assert!(store.current_violations(&[], true).await.unwrap().is_empty());
    assert!(store.current_violations(&[scope("999", "eu-west-1", BUCKET)], true).await.unwrap().is_empty());
}

fn shard(account: &str, region: &str, n: usize, skip: usize) -> Vec<Asset> {
    (skip..n)
        .map(|i| {
            bucket(
                account,
                region,
                &format!("{account}-b{i:03}"),
                if i % 2 == 0 { "Suspended" } else { "Enabled" },
                false,
            )
        })
        .collect()
}

/// Two shards — different (account, region) scopes — scan and commit at
/// the same time; neither touches the other's assets or violations, and a
/// shard's failed scope removes nothing.
pub async fn concurrent_shard_writers(store: &dyn Harness) {
    let e = engine();
    let (sa, sb) = (scope("111", "eu-west-1", BUCKET), scope("222", "us-east-1", BUCKET));
    let (ra, rb) = futures::future::join(
        run_scan(store, &e, "shard a", at(0), shard("111", "eu-west-1", 40, 0), complete(std::slice::from_ref(&sa))),
        run_scan(store, &e, "shard b", at(0), shard("222", "us-east-1", 40, 0), complete(std::slice::from_ref(&sb))),
    )
    .await;
    assert_ne!(ra.record.id, rb.record.id);
    assert_eq!((ra.record.counts.assets_new, rb.record.counts.assets_new), (40, 40));
    assert_eq!(store.all_assets(AssetFilter::default()).await.unwrap().len(), 80);
    let open = ViolationFilter { statuses: vec![ViolationStatus::Open], ..Default::default() };
    assert_eq!(store.all_violations(open.clone()).await.unwrap().len(), 40);
    let b_before =
        store.all_violations(ViolationFilter { accounts: vec!["222".into()], ..Default::default() }).await.unwrap();

    let mut failed = Coverage::new();
    failed.fail(sb.clone(), "throttled");
    let (ra, rb) = futures::future::join(
        run_scan(store, &e, "shard a", at(1), shard("111", "eu-west-1", 40, 10), complete(std::slice::from_ref(&sa))),
        run_scan(store, &e, "shard b", at(1), vec![], failed),
    )
    .await;
    assert_eq!((ra.record.status, rb.record.status), (ScanStatus::Complete, ScanStatus::Partial));
    assert_eq!((ra.record.counts.assets_removed, rb.record.counts.assets_removed), (10, 0));
    assert_eq!(store.all_assets(AssetFilter::default()).await.unwrap().len(), 70);
    let b_after =
        store.all_violations(ViolationFilter { accounts: vec!["222".into()], ..Default::default() }).await.unwrap();
    assert_eq!(b_after, b_before, "shard b's violations are untouched");
    assert_eq!(store.all_violations(open).await.unwrap().len(), 35);
    let page = store
        .assets(&AssetQuery {
            filter: AssetFilter { accounts: vec!["111".into()], include_removed: true, ..Default::default() },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.iter().filter(|r| r.is_removed()).count(), 10);
}

#[derive(Debug, PartialEq)]
struct Everything {
    assets: Vec<crate::model::AssetRecord>,
    violations: Vec<pacbot_core::Violation>,
    history: Vec<Vec<HistoryEntry>>,
    scans: Vec<ScanRecord>,
    trend: Vec<ComplianceSnapshot>,
}

async fn everything(store: &dyn Store) -> Everything {
    let assets = store.all_assets(AssetFilter { include_removed: true, ..Default::default() }).await.unwrap();
    let violations = store.all_violations(ViolationFilter::default()).await.unwrap();
    let mut history = Vec::new();
    for v in &violations {
        history.push(store.violation_history(&v.key).await.unwrap());
    }
    let scans = store.scans(&PageRequest::default()).await.unwrap().items;
    let trend = store.compliance_trend(&TrendQuery::default()).await.unwrap();
    Everything { assets, violations, history, scans, trend }
}

/// A commit that fails part-way — at every point the suite can reach —
/// leaves the store exactly as it was, and the scan still running; the same
/// commit then succeeds.
pub async fn failed_commit_leaves_nothing(store: &dyn Harness) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let first = vec![
        bucket("111", "eu-west-1", "a", "Suspended", false),
        bucket("111", "eu-west-1", "b", "Enabled", true),
        bucket("111", "eu-west-1", "c", "Suspended", true),
    ];
    run_scan(store, &e, "s1", at(0), first, complete(std::slice::from_ref(&s))).await;
    let before = everything(store).await;

    let second = vec![
        bucket("111", "eu-west-1", "a", "Enabled", false).with_tag("New", "tag"),
        bucket("111", "eu-west-1", "b", "Suspended", true),
        bucket("111", "eu-west-1", "d", "Suspended", false),
        bucket("111", "eu-west-1", "e", "Enabled", true),
    ];
    let (commit, _) = plan_scan(store, &e, "s2", at(1), second, complete(&[s])).await;
    let scan = commit.scan;
    let mut failures = 0;
    let mut committed = false;
    for point in 0..60 {
        store.fail_commit_after(point);
        match store.commit_scan(commit.clone()).await {
            Err(StoreError::InjectedFailure { .. }) => failures += 1,
            Err(other) => panic!("unexpected error at write {point}: {other}"),
            Ok(rec) => {
                assert_eq!(rec.status, ScanStatus::Complete);
                committed = true;
                break;
            }
        }
        let mut now = everything(store).await;
        let running = now.scans.iter().position(|r| r.id == scan).expect("the scan is listed");
        assert_eq!(now.scans.remove(running).status, ScanStatus::Running, "a failed commit leaves the scan running");
        assert_eq!(now, before, "a commit failing after {point} writes left something behind");
    }
    assert!(committed, "the commit succeeds once no failure is injected");
    assert!(failures >= 10, "failures were injected at {failures} points only");
    let after = everything(store).await;
    assert_ne!(after.violations, before.violations);
    assert_eq!(after.assets.len(), 5);
    assert_eq!(after.trend.len(), 2);
}

/// Two scans of the same scope, begun before either commits, do not
/// interleave: the first to commit wins, and the other — whose reconcile
/// read the scope's violations before that commit — is refused with
/// `ScopeConflict`, leaving the winner's state (a complete or a failed scope
/// alike). Scans of other scopes begun at the same time still commit, and a
/// scan begun after the winner's commit reads its state and commits.
pub async fn same_scope_scans_do_not_interleave(store: &dyn Harness) {
    let e = engine();
    let (x, y) = (scope("111", "eu-west-1", BUCKET), scope("222", "us-east-1", BUCKET));
    let a = |v: &str| bucket("111", "eu-west-1", "alpha", v, false);
    let cov_x = || complete(std::slice::from_ref(&x));
    run_scan(store, &e, "s0", at(0), vec![a("Suspended")], cov_x()).await;
    let key = |name: &str| ViolationFilter { asset: Some(a(name).id), ..Default::default() };
    let open_before = store.all_violations(key("x")).await.unwrap();
    assert_eq!(open_before.len(), 1);
    assert_eq!(open_before[0].status, ViolationStatus::Open);

    // Three scans begin and reconcile against the same stored state.
    let (fixes, _) = plan_scan(store, &e, "fixes x", at(1), vec![a("Enabled")], cov_x()).await;
    let late = bucket("111", "eu-west-1", "beta", "Suspended", true);
    let (stale, stale_rec) = plan_scan(store, &e, "stale x", at(1), vec![a("Suspended"), late.clone()], cov_x()).await;
    assert!(stale_rec.transitions.iter().any(|t| t.kind == TransitionKind::StillOpen));
    let (other, _) =
        plan_scan(store, &e, "y", at(1), vec![bucket("222", "us-east-1", "gamma", "Suspended", false)], complete(&[y]))
            .await;

    let won = store.commit_scan(fixes.clone()).await.unwrap();
    assert_eq!(won.status, ScanStatus::Complete);
    let after_win = everything(store).await;

    let err = store.commit_scan(stale.clone()).await.expect_err("a stale commit of the same scope is refused");
    assert!(err.is_scope_conflict(), "{err}");
    match &err {
        StoreError::ScopeConflict { scan, scope, by } => {
            assert_eq!((*scan, *by), (stale.scan, won.id));
            assert_eq!(scope, &x.to_string());
        }
        other => panic!("expected ScopeConflict, got {other}"),
    }
    assert!(!err.is_retryable(), "repeating the same commit cannot succeed");
    let mut now = everything(store).await;
    let running = now.scans.iter().position(|r| r.id == stale.scan).expect("the refused scan is listed");
    assert_eq!(now.scans.remove(running).status, ScanStatus::Running);
    let mut want = after_win;
    want.scans.retain(|r| r.id != stale.scan);
    assert_eq!(now, want, "the refused commit changed nothing");
    let closed = store.all_violations(key("x")).await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].status, ViolationStatus::Closed, "the winner's close stands");
    assert!(store.asset(&late.id).await.unwrap_err().is_not_found());
    assert_eq!(store.abort_scan(stale.scan, "scope conflict").await.unwrap().status, ScanStatus::Aborted);

    // Another scope, begun before the winner committed, is not held back.
    assert_eq!(store.commit_scan(other).await.unwrap().status, ScanStatus::Complete);

    // A failed scope conflicts too: its commit would rewrite the scope's
    // violations as they were when it read them.
    let mut failed = Coverage::new();
    failed.fail(x.clone(), "throttled");
    let (failing, _) = plan_scan(store, &e, "failing x", at(2), vec![], failed).await;
    // A scan begun after the winner's commit reads its state: the bucket fails again, re-opened.
    let again = run_scan(store, &e, "again x", at(2), vec![a("Suspended"), late.clone()], cov_x()).await;
    assert_eq!(again.transition(VERSIONING, &a("x").id), Some(TransitionKind::Reopened));
    let err = store.commit_scan(failing.clone()).await.expect_err("a failed scope's stale commit is refused");
    assert!(matches!(err, StoreError::ScopeConflict { by, .. } if by == again.record.id), "{err}");
    let open = store.all_violations(key("x")).await.unwrap();
    assert_eq!(open[0].status, ViolationStatus::Open);
    assert_eq!(store.asset(&late.id).await.unwrap().asset.id, late.id);
}
