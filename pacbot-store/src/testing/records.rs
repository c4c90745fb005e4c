//! Exceptions, asset groups, the policy catalogue, auto-fix records and
//! compliance trends.

use pacbot_core::{AssetGroup, Category, Criteria, Exception, ExceptionTarget, PolicyMeta, Severity};
use serde_json::json;

use super::Harness;
use super::fixtures::*;
use crate::error::StoreError;
use crate::model::{FixFilter, FixKind, FixRecord, ScanCommit, ScanStart, Stamp, TrendQuery};
use crate::store::StoreExt;

fn exception(id: &str, reason: &str) -> Exception {
    Exception {
        id: id.into(),
        target: ExceptionTarget::Sticky {
            criteria: Criteria::eq("tags.Env", "sandbox").unwrap(),
            policies: vec!["*".into()],
        },
        reason: reason.into(),
        granted_by: "alice".into(),
        granted_at: at(0),
        expires_at: Some(at(100)),
    }
}

fn kept_exception(mut e: Exception) -> Exception {
    e.granted_at = kept(e.granted_at);
    e.expires_at = e.expires_at.map(kept);
    e
}

/// Exceptions: create, read, list by id, replace (creation stamp kept),
/// delete; invalid ones are refused; deleting twice is `NotFound`.
pub async fn exceptions_crud(store: &dyn Harness) {
    assert!(store.exceptions().await.unwrap().is_empty());
    let created = store.put_exception(exception("b", "first"), Stamp::new("alice", at(1))).await.unwrap();
    assert_eq!(created.created, Stamp::new("alice", kept(at(1))));
    assert_eq!(created.updated, created.created);
    assert_eq!(created.exception, kept_exception(exception("b", "first")));
    store.put_exception(exception("a", "other"), Stamp::new("carol", at(1))).await.unwrap();
    let replaced = store.put_exception(exception("b", "second"), Stamp::new("bob", at(2))).await.unwrap();
    assert_eq!(replaced.created, Stamp::new("alice", kept(at(1))), "creation is kept");
    assert_eq!(replaced.updated, Stamp::new("bob", kept(at(2))));
    assert_eq!(store.exception("b").await.unwrap(), replaced);
    let ids: Vec<String> = store.exceptions().await.unwrap().into_iter().map(|e| e.exception.id).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert_eq!(store.exception_set().await.unwrap().all().len(), 2);

    let mut invalid = exception("c", "no expiry after grant");
    invalid.expires_at = Some(at(-1));
    assert!(matches!(store.put_exception(invalid, Stamp::new("x", at(0))).await, Err(StoreError::InvalidInput { .. })));
    let no_reason = exception("c", " ");
    assert!(matches!(
        store.put_exception(no_reason, Stamp::new("x", at(0))).await,
        Err(StoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        store.put_exception(exception("c", "r"), Stamp::new("", at(0))).await,
        Err(StoreError::InvalidInput { .. })
    ));

    store.delete_exception("b").await.unwrap();
    assert!(store.exception("b").await.unwrap_err().is_not_found());
    assert!(store.delete_exception("b").await.unwrap_err().is_not_found());
    assert_eq!(store.exceptions().await.unwrap().len(), 1);
}

/// Asset groups: create, read, replace (creation kept), list by name, delete.
pub async fn groups_crud(store: &dyn Harness) {
    let mut prod = AssetGroup::new("prod", Criteria::eq("tags.Env", "prod").unwrap());
    prod.description = "production".into();
    prod.owner = Some("team-a@example.com".into());
    let rec = store.put_group(prod.clone(), Stamp::new("alice", at(0))).await.unwrap();
    assert_eq!((rec.group.clone(), rec.created.clone()), (prod.clone(), Stamp::new("alice", kept(at(0)))));
    store.put_group(AssetGroup::new("dev", Criteria::always()), Stamp::new("bob", at(0))).await.unwrap();
    prod.criteria = Criteria::eq("tags.Env", "production").unwrap();
    let rec = store.put_group(prod.clone(), Stamp::new("bob", at(1))).await.unwrap();
    assert_eq!((rec.created.by.as_str(), rec.updated.by.as_str()), ("alice", "bob"));
    assert_eq!(store.group("prod").await.unwrap().group, prod);
    let names: Vec<String> = store.groups().await.unwrap().into_iter().map(|g| g.group.name).collect();
    assert_eq!(names, vec!["dev", "prod"]);
    store.delete_group("dev").await.unwrap();
    assert!(store.delete_group("dev").await.unwrap_err().is_not_found());
    assert!(store.group("dev").await.unwrap_err().is_not_found());
    let empty = AssetGroup::new("", Criteria::always());
    assert!(matches!(store.put_group(empty, Stamp::new("x", at(0))).await, Err(StoreError::InvalidInput { .. })));
}

/// The policy catalogue: upsert by id, listed by id.
pub async fn policy_catalogue(store: &dyn Harness) {
    let mut a = PolicyMeta::new("b-policy", "B", Severity::High, Category::Security);
    a.frameworks.insert("cis-aws".into(), vec!["2.1.1".into()]);
    a.fix = Some("s3-block-public".into());
    a.scope = Some("prod".into());
    let b = PolicyMeta::new("a-policy", "A", Severity::Low, Category::Cost);
    store.put_policies(vec![a.clone(), b.clone()], at(0)).await.unwrap();
    let listed = store.policies().await.unwrap();
    assert_eq!(listed.iter().map(|p| p.meta.clone()).collect::<Vec<_>>(), vec![b.clone(), a.clone()]);
    assert_eq!(listed[0].updated_at, kept(at(0)));
    a.enabled = false;
    store.put_policies(vec![a.clone()], at(1)).await.unwrap();
    let got = store.policy("b-policy").await.unwrap();
    assert_eq!((got.meta, got.updated_at), (a, kept(at(1))));
    assert!(store.policy("nope").await.unwrap_err().is_not_found());
    let bad = PolicyMeta::new("", "no id", Severity::Low, Category::Cost);
    assert!(store.put_policies(vec![b, bad], at(2)).await.is_err());
    assert_eq!(store.policy("a-policy").await.unwrap().updated_at, kept(at(0)), "a refused batch writes nothing");
}

fn fix(id: &str, kind: FixKind, status: &str, hours: i64) -> FixRecord {
    FixRecord {
        id: id.into(),
        kind,
        policy_id: PUBLIC.into(),
        asset: pacbot_core::AssetId::new("aws", "111", "eu-west-1", BUCKET, format!("bucket-{id}")),
        status: status.into(),
        data: json!({"step": id, "config": {"acl": "private"}}),
        created_at: at(hours),
        updated_at: at(hours),
    }
}

/// Auto-fix records: put (creation time kept on replace), get, filter, order.
pub async fn fix_records(store: &dyn Harness) {
    let plan = fix("p1", FixKind::Plan, "planned", 2);
    store.put_fix_record(plan.clone()).await.unwrap();
    store.put_fix_record(fix("b1", FixKind::Backup, "stored", 1)).await.unwrap();
    store.put_fix_record(fix("a1", FixKind::Action, "done", 3)).await.unwrap();
    let mut later = plan.clone();
    later.status = "notified".into();
    later.created_at = at(9);
    later.updated_at = at(4);
    let stored = store.put_fix_record(later.clone()).await.unwrap();
    assert_eq!(stored.created_at, kept(at(2)), "creation time is kept");
    assert_eq!(stored.updated_at, kept(at(4)));
    assert_eq!(store.fix_record("p1").await.unwrap(), stored);
    let all: Vec<String> = store.fix_records(&FixFilter::default()).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(all, vec!["b1", "p1", "a1"], "by creation time");
    let plans = store.fix_records(&FixFilter { kind: Some(FixKind::Plan), ..Default::default() }).await.unwrap();
    assert_eq!(plans, vec![stored.clone()]);
    let by_status = store.fix_records(&FixFilter { status: Some("done".into()), ..Default::default() }).await.unwrap();
    assert_eq!(by_status.len(), 1);
    let by_asset = FixFilter { asset: Some(plan.asset.clone()), policy_id: Some(PUBLIC.into()), ..Default::default() };
    assert_eq!(store.fix_records(&by_asset).await.unwrap(), vec![stored]);
    assert!(
        store
            .fix_records(&FixFilter { policy_id: Some("other".into()), ..Default::default() })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.fix_record("nope").await.unwrap_err().is_not_found());
}

/// Compliance snapshots: per group or overall, by time range, the most
/// recent `limit`, oldest first.
pub async fn compliance_trend(store: &dyn Harness) {
    let mut scans = Vec::new();
    for h in 0..5 {
        let scan = store.begin_scan(ScanStart::new("trend", at(h))).await.unwrap();
        let commit = ScanCommit::new(scan.id, at(h))
            .with_snapshot(report(None, 50.0 + 10.0 * f64::from(u8::try_from(h).unwrap()), 5))
            .with_snapshot(report(Some("prod"), 25.0, 3));
        store.commit_scan(commit).await.unwrap();
        scans.push(scan.id);
    }
    let overall = store.compliance_trend(&TrendQuery::default()).await.unwrap();
    assert_eq!(overall.iter().map(|s| s.scan).collect::<Vec<_>>(), scans);
    assert_eq!(overall.iter().map(|s| s.report.overall).collect::<Vec<_>>(), vec![50.0, 60.0, 70.0, 80.0, 90.0]);
    assert!(overall.iter().all(|s| s.report.group.is_none()));
    let recent = store.compliance_trend(&TrendQuery { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(recent.iter().map(|s| s.scan).collect::<Vec<_>>(), scans[3..].to_vec());
    let range = TrendQuery { since: Some(at(1)), until: Some(at(3)), ..Default::default() };
    let ranged = store.compliance_trend(&range).await.unwrap();
    assert_eq!(ranged.iter().map(|s| s.at).collect::<Vec<_>>(), vec![kept(at(1)), kept(at(2))]);
    let prod = store.compliance_trend(&TrendQuery { group: Some("prod".into()), ..Default::default() }).await.unwrap();
    assert_eq!(prod.len(), 5);
    assert_eq!(prod[0].report, report(Some("prod"), 25.0, 3));
    let latest = store.latest_compliance(Some("prod")).await.unwrap().unwrap();
    assert_eq!(latest.scan, scans[4]);
    assert!(store.latest_compliance(Some("none")).await.unwrap().is_none());
}
