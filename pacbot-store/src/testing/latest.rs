//! What a scanner and a dashboard ask for between scans: violations and
//! assets changed since a time, the latest committed scan, the latest compliance of each
//! asset group.

use std::collections::BTreeMap;

use pacbot_core::{AssetGroup, Coverage, Criteria, ViolationStatus};

use super::Harness;
use super::fixtures::*;
use crate::model::{AssetFilter, ComplianceSnapshot, ScanStatus, Stamp, ViolationFilter};
use crate::store::{Store, StoreExt};

/// `changed_since` keeps the violations modified at or after a time (and
/// combines with the other filters), and the assets stored, rewritten or
/// removed at or after it; `latest_committed_scan` is the newest
/// complete or partial scan, never a running or aborted one;
/// `latest_compliance_by_group` holds, for each stored group with a
/// snapshot, its newest one.
pub async fn changes_and_latest(store: &dyn Harness) {
    assert_eq!(store.latest_committed_scan().await.unwrap(), None, "an empty store has no committed scan");
    assert!(store.latest_compliance_by_group().await.unwrap().is_empty());

    for name in ["prod", "web", "idle"] {
        let group = AssetGroup::new(name, Criteria::eq("tags.Env", name).unwrap());
        store.put_group(group, Stamp::new("alice", at(0))).await.unwrap();
    }
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let cov = || complete(std::slice::from_ref(&s));
    let a = |v: &str| bucket("111", "eu-west-1", "alpha", v, false);
    let b = bucket("111", "eu-west-1", "beta", "Enabled", true);
    let gone = bucket("111", "eu-west-1", "gone", "Enabled", false);

    let (c1, _) = plan_scan(store, &e, "s1", at(0), vec![a("Suspended"), b.clone(), gone.clone()], cov()).await;
    let c1 = c1.with_snapshot(report(Some("prod"), 50.0, 2)).with_snapshot(report(Some("web"), 25.0, 1));
    let s1 = store.commit_scan(c1).await.unwrap();
    let (c2, _) = plan_scan(store, &e, "s2", at(2), vec![a("Enabled"), b.clone()], cov()).await;
    let s2 = store.commit_scan(c2.with_snapshot(report(Some("prod"), 75.0, 1))).await.unwrap();
    // Newer scans that committed nothing.
    store.begin_scan(crate::model::ScanStart::new("running", at(3))).await.unwrap();
    let aborted = store.begin_scan(crate::model::ScanStart::new("aborted", at(4))).await.unwrap();
    store.abort_scan(aborted.id, "gave up").await.unwrap();
    assert_eq!(store.latest_committed_scan().await.unwrap(), Some(s2.clone()));

    let since = |t| ViolationFilter { changed_since: Some(t), ..ViolationFilter::default() };
    let all = store.all_violations(since(at(0))).await.unwrap();
    assert_eq!(all.len(), 2, "both violations were modified at or after the first scan");
    let changed = store.all_violations(since(at(1))).await.unwrap();
    assert_eq!(changed.len(), 1, "only the closed one changed since: {changed:?}");
    assert_eq!(changed[0].key.asset, a("x").id);
    assert_eq!(changed[0].status, ViolationStatus::Closed);
    assert_eq!(kept(changed[0].modified_at), kept(at(2)));
    assert_eq!(store.all_violations(since(kept(at(2)))).await.unwrap().len(), 1, "the bound is inclusive");
    assert!(store.all_violations(since(at(3))).await.unwrap().is_empty());
    let open_changed =
        ViolationFilter { statuses: vec![ViolationStatus::Open], changed_since: Some(at(1)), ..Default::default() };
    assert!(store.all_violations(open_changed).await.unwrap().is_empty(), "filters combine with and");

    // Assets: stored, rewritten or removed at or after the time.
    let assets_since =
        |t, include_removed| AssetFilter { changed_since: Some(t), include_removed, ..Default::default() };
    let ids = |v: Vec<crate::model::AssetRecord>| v.into_iter().map(|r| r.asset.id).collect::<Vec<_>>();
    assert_eq!(store.all_assets(assets_since(at(0), true)).await.unwrap().len(), 3, "all were stored by s1");
    assert_eq!(
        ids(store.all_assets(assets_since(at(1), true)).await.unwrap()),
        vec![a("x").id, gone.id.clone()],
        "alpha was rewritten and gone removed by s2; beta is unchanged"
    );
    assert_eq!(ids(store.all_assets(assets_since(at(1), false)).await.unwrap()), vec![a("x").id]);
    assert!(store.all_assets(assets_since(at(3), true)).await.unwrap().is_empty());

    let latest = store.latest_compliance_by_group().await.unwrap();
    let want = BTreeMap::from([
        ("prod".to_owned(), ComplianceSnapshot { scan: s2.id, at: kept(at(2)), report: report(Some("prod"), 75.0, 1) }),
        ("web".to_owned(), ComplianceSnapshot { scan: s1.id, at: kept(at(0)), report: report(Some("web"), 25.0, 1) }),
    ]);
    assert_eq!(latest, want, "the newest snapshot of each group; `idle` has none");

    // A partial scan is committed too.
    let mut failed = Coverage::new();
    failed.fail(s.clone(), "throttled");
    let partial = run_scan(store, &e, "s5", at(5), vec![], failed).await.record;
    assert_eq!(partial.status, ScanStatus::Partial);
    assert_eq!(store.latest_committed_scan().await.unwrap(), Some(partial));
    let dyn_store: &dyn Store = store;
    assert!(dyn_store.latest_committed_scan().await.unwrap().is_some(), "usable on `dyn Store`");
}
