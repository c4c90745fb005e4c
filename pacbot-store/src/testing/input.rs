//! Bad input gives errors, never panics or partial writes; SQL
//! metacharacters are stored and found verbatim.

use std::collections::BTreeSet;

use pacbot_core::{
    Asset, AssetGroup, Category, Coverage, Criteria, Exception, ExceptionTarget, PolicyMeta, Severity, Violation,
};
use serde_json::json;

use super::Harness;
use super::fixtures::*;
use crate::error::StoreError;
use crate::limits::{MAX_DOCUMENT_BYTES, MAX_ID_BYTES, MAX_PAGE, MAX_SEARCH_BYTES, MAX_TEXT_BYTES};
use crate::model::{
    AssetFilter, AssetQuery, AssetSort, Cursor, FixFilter, FixKind, FixRecord, Order, PageRequest, ScanCommit, ScanId,
    ScanStart, ScanStatus, SearchHit, Stamp, TagFilter, TrendQuery, ViolationFilter, ViolationQuery, ViolationSort,
};
use crate::store::StoreExt;

fn is_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::InvalidInput { .. }) => {}
        other => panic!("{what}: expected invalid input, got {other:?}"),
    }
}

fn is_too_large<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(e @ StoreError::TooLarge { .. }) => assert!(e.to_string().contains("over the limit"), "{e}"),
        other => panic!("{what}: expected too large, got {other:?}"),
    }
}

fn is_cursor_error<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(StoreError::InvalidCursor { .. }) => {}
        other => panic!("{what}: expected an invalid cursor, got {other:?}"),
    }
}

/// A one-asset commit with a violation, for a running scan.
fn small_commit(scan: ScanId) -> ScanCommit {
    let a = bucket("111", "eu-west-1", "ok", "Suspended", false);
    let (v, t) = opened(VERSIONING, a.id.clone(), Severity::Medium, at(0), "r");
    let mut c = ScanCommit::new(scan, at(0));
    c.assets = vec![a];
    c.violations = vec![v];
    c.transitions = vec![t];
    c
}

/// Unknown ids, repeated commits, malformed or foreign cursors, bad limits,
/// oversize and NUL-bearing text, inconsistent commits: each is an error of
/// the right kind, with nothing written.
pub async fn bad_input(store: &dyn Harness) {
    let ghost = ScanId::new(999_999);
    let e = store.commit_scan(ScanCommit::new(ghost, at(0))).await.unwrap_err();
    assert!(e.is_not_found() && e.to_string() == "scan `999999` not found", "{e}");
    assert!(store.abort_scan(ghost, "x").await.unwrap_err().is_not_found());
    assert!(store.scan(ghost).await.unwrap_err().is_not_found());
    assert!(store.scan_results(ghost).await.unwrap_err().is_not_found());

    let scan = store.begin_scan(ScanStart::new("bad", at(0))).await.unwrap();
    store.commit_scan(small_commit(scan.id)).await.unwrap();
    let again = store.commit_scan(small_commit(scan.id)).await.unwrap_err();
    assert!(matches!(again, StoreError::ScanNotRunning { status: ScanStatus::Complete, .. }), "{again}");
    assert!(matches!(store.abort_scan(scan.id, "late").await, Err(StoreError::ScanNotRunning { .. })));
    let aborted = store.begin_scan(ScanStart::new("to abort", at(1))).await.unwrap();
    let rec = store.abort_scan(aborted.id, "connector crashed; 'quoted'").await.unwrap();
    assert_eq!((rec.status, rec.error.as_deref()), (ScanStatus::Aborted, Some("connector crashed; 'quoted'")));
    assert!(rec.finished_at.is_some());
    let late = store.commit_scan(small_commit(aborted.id)).await.unwrap_err();
    assert!(matches!(late, StoreError::ScanNotRunning { status: ScanStatus::Aborted, .. }), "{late}");

    // Cursors.
    let mut assets_q = AssetQuery { page: PageRequest::first(1), ..Default::default() };
    let mut two = store.begin_scan(ScanStart::new("two", at(2))).await.unwrap();
    let mut c = small_commit(two.id);
    c.assets.push(bucket("111", "eu-west-1", "ok2", "Enabled", false));
    two = store.commit_scan(c).await.unwrap();
    assert_eq!(two.counts.assets_seen, 2);
    let asset_cursor = store.assets(&assets_q).await.unwrap().next.expect("a second page");
    let mut vq = ViolationQuery { sort: ViolationSort::Severity, page: PageRequest::first(1), ..Default::default() };
    let _ = store.violations(&vq).await.unwrap();
    for bad in ["", "not a cursor!", "e30", "eyJ2IjoxfQ", "AAAA"] {
        vq.page.cursor = Some(Cursor::new(bad));
        is_cursor_error(store.violations(&vq).await, bad);
        assets_q.page.cursor = Some(Cursor::new(bad));
        is_cursor_error(store.assets(&assets_q).await, bad);
        is_cursor_error(store.scans(&PageRequest::after(1, Cursor::new(bad))).await, bad);
    }
    vq.page.cursor = Some(asset_cursor.clone());
    is_cursor_error(store.violations(&vq).await, "an assets cursor for violations");
    is_cursor_error(store.scans(&PageRequest::after(1, asset_cursor.clone())).await, "an assets cursor for scans");
    assets_q.page.cursor = Some(asset_cursor.clone());
    assets_q.sort = AssetSort::Name;
    is_cursor_error(store.assets(&assets_q).await, "another ordering");
    assets_q.sort = AssetSort::Id;
    assets_q.order = Order::Descending;
    is_cursor_error(store.assets(&assets_q).await, "another direction");
    assets_q.order = Order::Ascending;
    assert_eq!(store.assets(&assets_q).await.unwrap().items.len(), 1, "the cursor itself is fine");
    let long = Cursor::new("A".repeat(MAX_TEXT_BYTES + 1));
    is_cursor_error(store.scans(&PageRequest::after(1, long)).await, "an oversize cursor");

    // Limits.
    for limit in [0, MAX_PAGE + 1] {
        is_invalid(store.scans(&PageRequest::first(limit)).await, "page limit");
        is_invalid(
            store.assets(&AssetQuery { page: PageRequest::first(limit), ..Default::default() }).await,
            "page limit",
        );
        is_invalid(store.search("x", limit).await, "search limit");
        is_invalid(store.compliance_trend(&TrendQuery { limit, ..Default::default() }).await, "trend limit");
    }
    is_invalid(store.search("", 10).await, "empty search");
    is_too_large(store.search(&"x".repeat(MAX_SEARCH_BYTES + 1), 10).await, "oversize search");
    is_invalid(store.search("a\0b", 10).await, "NUL in search");

    // Unknown things.
    assert!(store.asset(&id("111", "eu-west-1", BUCKET, "ghost")).await.unwrap_err().is_not_found());
    let ghost_key = opened(VERSIONING, id("1", "r", BUCKET, "ghost"), Severity::Low, at(0), "r").0.key;
    assert!(store.violation_history(&ghost_key).await.unwrap_err().is_not_found());
    assert!(store.fix_record("ghost").await.unwrap_err().is_not_found());
    assert!(store.delete_exception("ghost").await.unwrap_err().is_not_found());
    assert!(store.delete_group("ghost").await.unwrap_err().is_not_found());
    is_invalid(store.asset(&id("111", "eu-west-1", BUCKET, "")).await, "empty resource id");

    // Bad commits write nothing and leave the scan running.
    let before_assets = store.all_assets(AssetFilter { include_removed: true, ..Default::default() }).await.unwrap();
    let before_violations = store.all_violations(ViolationFilter::default()).await.unwrap();
    let scan = store.begin_scan(ScanStart::new("rejected", at(3))).await.unwrap();
    let big_text = "x".repeat(MAX_TEXT_BYTES + 1);
    let big_id = "i".repeat(MAX_ID_BYTES + 1);
    type Spoil = Box<dyn Fn(&mut ScanCommit)>;
    let too_large: Vec<(&str, Spoil)> = vec![
        ("asset name", Box::new(|c| c.assets[0].name = Some("x".repeat(MAX_TEXT_BYTES + 1)))),
        ("resource id", {
            let b = big_id.clone();
            Box::new(move |c| c.assets[0].id.resource_id = b.clone())
        }),
        ("attributes", Box::new(|c| c.assets[0].attributes = json!({"blob": "x".repeat(MAX_DOCUMENT_BYTES)}).into())),
        ("tag value", {
            let t = big_text.clone();
            Box::new(move |c| {
                let a = c.assets[0].clone().with_tag("T", t.clone());
                c.assets[0] = a;
            })
        }),
        ("violation reason", {
            let t = big_text.clone();
            Box::new(move |c| c.violations[0].reason = t.clone())
        }),
        ("transition reason", {
            let t = big_text.clone();
            Box::new(move |c| c.transitions[0].reason = t.clone())
        }),
        ("policy id", {
            let b = big_id.clone();
            Box::new(move |c| {
                c.violations[0].key.policy_id = b.clone();
                c.transitions[0].key.policy_id = b.clone();
            })
        }),
        ("scope error", {
            let t = big_text.clone();
            Box::new(move |c| c.coverage.fail(scope("1", "r", BUCKET), t.clone()))
        }),
    ];
    for (what, spoil) in &too_large {
        let mut c = small_commit(scan.id);
        spoil(&mut c);
        is_too_large(store.commit_scan(c).await, what);
    }
    let invalid: Vec<(&str, Spoil)> = vec![
        ("NUL in a name", Box::new(|c| c.assets[0].name = Some("a\0b".into()))),
        ("empty resource id", Box::new(|c| c.assets[0].id.resource_id = String::new())),
        ("empty kind", Box::new(|c| c.assets[0].id.kind = pacbot_core::ResourceKind::new(""))),
        ("duplicate asset", Box::new(|c| c.assets.push(c.assets[0].clone()))),
        ("duplicate violation", Box::new(|c| c.violations.push(c.violations[0].clone()))),
        ("transition without violation", Box::new(|c| c.violations.clear())),
        ("NUL in a reason", Box::new(|c| c.violations[0].reason = "\0".into())),
        ("NUL in an attribute", Box::new(|c| c.assets[0].attributes = json!({"k": ["a\u{0}b"]}).into())),
        ("NUL in an attribute key", Box::new(|c| c.assets[0].attributes = json!({"a\u{0}": 1}).into())),
        ("NUL in violation details", Box::new(|c| c.violations[0].details = json!({"evidence": "\u{0}"}))),
        ("empty rule id", Box::new(|c| c.violations[0].key.rule_id = String::new())),
    ];
    for (what, spoil) in &invalid {
        let mut c = small_commit(scan.id);
        spoil(&mut c);
        is_invalid(store.commit_scan(c).await, what);
    }
    assert_eq!(store.scan(scan.id).await.unwrap().status, ScanStatus::Running);
    assert_eq!(
        store.all_assets(AssetFilter { include_removed: true, ..Default::default() }).await.unwrap(),
        before_assets
    );
    assert_eq!(store.all_violations(ViolationFilter::default()).await.unwrap(), before_violations);
    is_too_large(store.begin_scan(ScanStart::new(big_text.clone(), at(0))).await, "scan label");
    is_too_large(store.abort_scan(scan.id, &big_text).await, "abort reason");

    // Records.
    let mut exc = Exception {
        id: "e".into(),
        target: ExceptionTarget::Asset { asset: id("1", "r", BUCKET, "b"), policies: vec!["*".into()] },
        reason: big_text.clone(),
        granted_by: "alice".into(),
        granted_at: at(0),
        expires_at: None,
    };
    is_too_large(store.put_exception(exc.clone(), Stamp::new("a", at(0))).await, "exception reason");
    exc.reason = "ok".into();
    is_too_large(store.put_exception(exc.clone(), Stamp::new(big_id.clone(), at(0))).await, "who");
    let mut group = AssetGroup::new("g", Criteria::always());
    group.description = big_text.clone();
    is_too_large(store.put_group(group, Stamp::new("a", at(0))).await, "group description");
    let mut policy = PolicyMeta::new("p", "P", Severity::Low, Category::Cost);
    policy.description = big_text.clone();
    is_too_large(store.put_policies(vec![policy], at(0)).await, "policy description");
    let mut record = FixRecord {
        id: "f".into(),
        kind: FixKind::Plan,
        policy_id: "p".into(),
        asset: id("1", "r", BUCKET, "b"),
        status: "planned".into(),
        data: json!({"blob": "x".repeat(MAX_DOCUMENT_BYTES)}),
        created_at: at(0),
        updated_at: at(0),
    };
    is_too_large(store.put_fix_record(record.clone()).await, "fix data");
    record.data = json!(null);
    record.id = String::new();
    is_invalid(store.put_fix_record(record).await, "empty fix id");
    assert!(store.exceptions().await.unwrap().is_empty());
    assert!(store.groups().await.unwrap().is_empty());
    assert!(store.policies().await.unwrap().is_empty());
    assert!(store.fix_records(&FixFilter::default()).await.unwrap().is_empty());
}

/// Strings that break naive SQL or LIKE patterns.
pub const NASTY: &[&str] = &[
    "'; DROP TABLE assets; --",
    "%",
    "_",
    "100%_done",
    "\"double\" 'single' `back`",
    "back\\slash",
    "ünïcödé 日本語 🚀",
    "tab\tnew\nline",
    "Robert'); DROP TABLE violations;--",
    "?1 $1 :name @x",
];

/// Every text field holds SQL metacharacters, quotes and unicode: written,
/// read back and found by filters and search verbatim; `%` and `_` match
/// only themselves.
pub async fn sql_metacharacters_verbatim(store: &dyn Harness) {
    let now = at(0);
    let scan = store.begin_scan(ScanStart::new(NASTY.join(" | "), now)).await.unwrap();
    assert_eq!(scan.label, NASTY.join(" | "));
    let mut commit = ScanCommit::new(scan.id, now);
    let mut coverage = Coverage::new();
    for (i, s) in NASTY.iter().enumerate() {
        let mut a = Asset::new(pacbot_core::AssetId::new("aws", *s, *s, BUCKET, format!("{s}-{i}")))
            .with_name(*s)
            .with_attributes(json!({*s: *s, "nested": [{"k": *s}]}))
            .with_tag(*s, *s);
        a = a.with_tag("idx", i.to_string());
        let (mut v, mut t) = opened(s, a.id.clone(), Severity::High, now, &format!("reason {s}"));
        v.key.rule_id = (*s).to_owned();
        t.key.rule_id = (*s).to_owned();
        v.details = json!({"evidence": *s});
        v.exception_id = Some((*s).to_owned());
        t.reason = (*s).to_owned();
        coverage.fail(scope(s, s, "aws.ec2.instance"), *s);
        commit.assets.push(a);
        commit.violations.push(v);
        commit.transitions.push(t);
    }
    commit.coverage = coverage;
    commit.snapshots.push(report(Some(NASTY[0]), 50.0, 1));
    let rec = store.commit_scan(commit.clone()).await.unwrap();
    assert_eq!(rec.status, ScanStatus::Partial);
    let errors: BTreeSet<&str> = rec.failed_scopes.iter().map(|f| f.error.as_str()).collect();
    assert_eq!(errors, NASTY.iter().copied().collect());

    for (i, s) in NASTY.iter().enumerate() {
        let a = &commit.assets[i];
        let got = store.asset(&a.id).await.unwrap().asset;
        assert_eq!((&got.id, &got.name, &got.attributes), (&a.id, &a.name, &a.attributes), "asset {s:?}");
        assert_eq!(got.tag(s), Some(*s));
        let by_account = store
            .all_violations(ViolationFilter { accounts: vec![(*s).to_owned()], ..Default::default() })
            .await
            .unwrap();
        assert_eq!(by_account, vec![kept_violation(commit.violations[i].clone())], "violation {s:?}");
        let by_policy = store
            .all_violations(ViolationFilter { policies: vec![(*s).to_owned()], ..Default::default() })
            .await
            .unwrap();
        assert_eq!(by_policy.len(), 1, "policy filter {s:?}");
        let by_tag =
            store.all_assets(AssetFilter { tags: vec![TagFilter::eq(*s, *s)], ..Default::default() }).await.unwrap();
        assert_eq!(by_tag.len(), 1, "tag filter {s:?}");
        let history = store.violation_history(&commit.violations[i].key).await.unwrap();
        assert_eq!(history[0].transition.reason, *s);
        let hits = store.search(s, 100).await.unwrap();
        let want: BTreeSet<String> = NASTY
            .iter()
            .enumerate()
            .filter(|(j, n)| {
                format!("{n}-{j}").to_ascii_lowercase().contains(&s.to_ascii_lowercase())
                    || n.to_ascii_lowercase().contains(&s.to_ascii_lowercase())
            })
            .map(|(j, n)| format!("{n}-{j}"))
            .collect();
        let got: BTreeSet<String> = hits
            .iter()
            .filter_map(|h| match h {
                SearchHit::Asset { id, .. } => Some(id.resource_id.clone()),
                SearchHit::Violation { .. } => None,
            })
            .collect();
        assert_eq!(got, want, "search for {s:?} matches literally");
        assert!(
            hits.iter().any(|h| matches!(h, SearchHit::Violation { reason, .. } if *reason == format!("reason {s}")))
        );
    }
    let trend =
        store.compliance_trend(&TrendQuery { group: Some(NASTY[0].into()), ..Default::default() }).await.unwrap();
    assert_eq!(trend.len(), 1);

    for (i, s) in NASTY.iter().enumerate() {
        let exc = Exception {
            id: (*s).to_owned(),
            target: ExceptionTarget::Asset { asset: commit.assets[i].id.clone(), policies: vec![(*s).to_owned()] },
            reason: (*s).to_owned(),
            granted_by: (*s).to_owned(),
            granted_at: now,
            expires_at: None,
        };
        store.put_exception(exc.clone(), Stamp::new(*s, now)).await.unwrap();
        let mut group = AssetGroup::new(*s, Criteria::eq("name", *s).unwrap());
        group.description = (*s).to_owned();
        group.owner = Some((*s).to_owned());
        store.put_group(group.clone(), Stamp::new(*s, now)).await.unwrap();
        let mut policy = PolicyMeta::new(*s, *s, Severity::Low, Category::Tagging);
        policy.description = (*s).to_owned();
        store.put_policies(vec![policy.clone()], now).await.unwrap();
        let fix = FixRecord {
            id: (*s).to_owned(),
            kind: FixKind::Action,
            policy_id: (*s).to_owned(),
            asset: commit.assets[i].id.clone(),
            status: (*s).to_owned(),
            data: json!({*s: *s}),
            created_at: now,
            updated_at: now,
        };
        store.put_fix_record(fix.clone()).await.unwrap();

        let got = store.exception(s).await.unwrap();
        assert_eq!((got.exception.reason.as_str(), got.created.by.as_str()), (*s, *s));
        assert_eq!(got.exception.target, exc.target);
        assert_eq!(store.group(s).await.unwrap().group, group);
        assert_eq!(store.policy(s).await.unwrap().meta, policy);
        let got = store.fix_record(s).await.unwrap();
        assert_eq!((&got.status, &got.data, &got.asset), (&fix.status, &fix.data, &fix.asset));
        let filtered =
            store.fix_records(&FixFilter { status: Some((*s).to_owned()), ..Default::default() }).await.unwrap();
        assert_eq!(filtered.len(), 1);
    }
    assert_eq!(store.exceptions().await.unwrap().len(), NASTY.len());
    let group_members = store.group_filter(NASTY[1], now).await.unwrap();
    let members = store.all_assets(AssetFilter { criteria: Some(group_members), ..Default::default() }).await.unwrap();
    assert_eq!(members.len(), 1, "group criteria over a `%` name match it literally");
    let page = store
        .violations(&ViolationQuery {
            sort: ViolationSort::Key,
            order: Order::Descending,
            page: PageRequest::first(3),
            ..Default::default()
        })
        .await
        .unwrap();
    let rest = store
        .violations(&ViolationQuery {
            sort: ViolationSort::Key,
            order: Order::Descending,
            page: PageRequest { limit: MAX_PAGE, cursor: page.next.clone() },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len() + rest.items.len(), NASTY.len(), "cursors over metacharacter keys");
    let all: Vec<Violation> = store.all_violations(ViolationFilter::default()).await.unwrap();
    assert_eq!(all.len(), NASTY.len(), "no table was dropped");
}
