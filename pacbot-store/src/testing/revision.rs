//! The store's revision: advanced by every kind of write, by nothing else.

use pacbot_core::{AssetGroup, Category, Criteria, Exception, ExceptionTarget, PolicyMeta, Severity};
use serde_json::json;

use super::Harness;
use super::fixtures::*;
use crate::model::{FixKind, FixRecord, PageRequest, ScanStart, Stamp, TrendQuery, ViolationQuery};
use crate::store::{Store, StoreExt};

fn exception(id: &str) -> Exception {
    Exception {
        id: id.into(),
        target: ExceptionTarget::Sticky {
            criteria: Criteria::eq("tags.Env", "sandbox").unwrap(),
            policies: vec!["*".into()],
        },
        reason: "accepted risk".into(),
        granted_by: "alice".into(),
        granted_at: at(0),
        expires_at: Some(at(100)),
    }
}

fn fix(id: &str) -> FixRecord {
    FixRecord {
        id: id.into(),
        kind: FixKind::Plan,
        policy_id: PUBLIC.into(),
        asset: id_of("r0"),
        status: "planned".into(),
        data: json!({"step": id}),
        created_at: at(1),
        updated_at: at(1),
    }
}

fn id_of(name: &str) -> pacbot_core::AssetId {
    id("111", "eu-west-1", BUCKET, name)
}

/// Every read of the store's API, once: none may advance the revision.
async fn read_everything(store: &dyn Store) {
    let s = scope("111", "eu-west-1", BUCKET);
    store.scans(&PageRequest::first(10)).await.unwrap();
    store.current_violations(std::slice::from_ref(&s), true).await.unwrap();
    store.violations(&ViolationQuery::default()).await.unwrap();
    store.all_assets(Default::default()).await.unwrap();
    let _ = store.asset(&id_of("r0")).await;
    store.search("r", 10).await.unwrap();
    store.exceptions().await.unwrap();
    store.groups().await.unwrap();
    store.policies().await.unwrap();
    store.compliance_trend(&TrendQuery { limit: 10, ..TrendQuery::default() }).await.unwrap();
    store.fix_records(&Default::default()).await.unwrap();
    let _ = store.fix_record("f1").await;
    store.latest_committed_scan().await.unwrap();
}

/// The revision changes after each kind of write — a scan begun, committed
/// and aborted, an exception stored and deleted, a group stored and
/// deleted, policies stored, an auto-fix record stored and replaced — and
/// not after reads, nor after writes that fail.
pub async fn revision_follows_writes(store: &dyn Harness) {
    let mut last = store.revision().await.unwrap();
    read_everything(store).await;
    assert_eq!(store.revision().await.unwrap(), last, "reads leave the revision alone");

    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let assets = vec![bucket("111", "eu-west-1", "r0", "Suspended", false)];
    let (commit, _) = plan_scan(store, &e, "a", at(1), assets, complete(std::slice::from_ref(&s))).await;
    step(store, &mut last, "a scan began").await;
    store.commit_scan(commit).await.unwrap();
    step(store, &mut last, "a scan commit").await;
    let running = store.begin_scan(ScanStart::new("b", at(2))).await.unwrap();
    step(store, &mut last, "another scan began").await;
    store.abort_scan(running.id, "cancelled").await.unwrap();
    step(store, &mut last, "a scan abort").await;

    store.put_exception(exception("x1"), Stamp::new("alice", at(2))).await.unwrap();
    step(store, &mut last, "an exception stored").await;
    store.put_exception(exception("x1"), Stamp::new("bob", at(3))).await.unwrap();
    step(store, &mut last, "an exception replaced").await;
    store.delete_exception("x1").await.unwrap();
    step(store, &mut last, "an exception deleted").await;

    let group = AssetGroup::new("prod", Criteria::eq("tags.Env", "prod").unwrap());
    store.put_group(group.clone(), Stamp::new("alice", at(2))).await.unwrap();
    step(store, &mut last, "a group stored").await;
    store.put_group(group, Stamp::new("bob", at(3))).await.unwrap();
    step(store, &mut last, "a group replaced").await;
    store.delete_group("prod").await.unwrap();
    step(store, &mut last, "a group deleted").await;

    let mut policy = PolicyMeta::new("p", "P", Severity::High, Category::Security);
    store.put_policies(vec![policy.clone()], at(2)).await.unwrap();
    step(store, &mut last, "a policy stored").await;
    policy.enabled = !policy.enabled;
    store.put_policies(vec![policy], at(3)).await.unwrap();
    step(store, &mut last, "a policy disabled").await;

    store.put_fix_record(fix("f1")).await.unwrap();
    step(store, &mut last, "an auto-fix record stored").await;
    store.put_fix_record(fix("f1")).await.unwrap();
    step(store, &mut last, "an auto-fix record replaced").await;

    // Writes that fail change nothing.
    assert!(store.delete_exception("x1").await.is_err());
    assert!(store.delete_group("prod").await.is_err());
    assert!(store.abort_scan(running.id, "again").await.is_err());
    assert_eq!(store.revision().await.unwrap(), last, "failed writes leave the revision alone");
}

/// Checks that the revision moved since `last` (after `what`), and that
/// reads leave it there; makes it the new `last`.
async fn step(store: &dyn Store, last: &mut u64, what: &str) {
    let now = store.revision().await.unwrap();
    assert_ne!(now, *last, "the revision changes after {what}");
    read_everything(store).await;
    assert_eq!(store.revision().await.unwrap(), now, "reads after {what} leave the revision alone");
    *last = now;
}

/// Two stores on one database: each sees the revision the other's writes
/// advanced (for caches in several processes).
pub async fn revision_seen_by_another_instance(first: &dyn Harness, second: &dyn Harness) {
    let start = first.revision().await.unwrap();
    assert_eq!(second.revision().await.unwrap(), start);
    first.put_exception(exception("x1"), Stamp::new("alice", at(2))).await.unwrap();
    let after_first = second.revision().await.unwrap();
    assert_ne!(after_first, start, "the other instance sees the revision change");
    assert_eq!(first.revision().await.unwrap(), after_first);
    second.put_group(AssetGroup::new("prod", Criteria::always()), Stamp::new("bob", at(2))).await.unwrap();
    let after_second = first.revision().await.unwrap();
    assert_ne!(after_second, after_first);
    assert_eq!(second.revision().await.unwrap(), after_second);
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    run_scan(second, &e, "a", at(1), vec![bucket("111", "eu-west-1", "r0", "Enabled", false)], complete(&[s])).await;
    assert_ne!(first.revision().await.unwrap(), after_second, "a scan by the other instance is seen");
}
