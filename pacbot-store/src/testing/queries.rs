//! Queries: pagination, filters, search, the asset 360° view.

use std::collections::HashSet;

use chrono::Duration;
use pacbot_core::{
    Asset, AssetGroup, AssetId, Category, CloseReason, Criteria, ResourceKind, Severity, TransitionKind, Violation,
    ViolationKey, ViolationStatus,
};
use serde_json::json;

use super::Harness;
use super::fixtures::*;
use crate::model::{
    AssetFilter, AssetQuery, AssetRecord, AssetSort, CriteriaFilter, MatchedField, Order, PageRequest, ScanCommit,
    ScanStart, SearchHit, Stamp, TagFilter, ViolationFilter, ViolationQuery, ViolationSort,
};
use crate::store::{Store, StoreExt};

const ACCOUNTS: [&str; 3] = ["111", "222", "333"];
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const INSTANCE: &str = "aws.ec2.instance";

/// A varied estate committed in one scan: 137 assets over three accounts,
/// two regions and two kinds, with tags, names (some missing, some equal)
/// and one violation each, of varied policy, severity, status and times —
/// plus a violation of an asset that is not stored.
async fn estate(store: &dyn Store) -> (Vec<Asset>, Vec<Violation>) {
    let now = at(0);
    let scan = store.begin_scan(ScanStart::new("estate", now)).await.unwrap();
    let mut commit = ScanCommit::new(scan.id, now);
    for i in 0..137usize {
        let account = ACCOUNTS[i % 3];
        let region = REGIONS[i % 2];
        let kind = if i % 5 == 0 { INSTANCE } else { BUCKET };
        let mut a = Asset::new(id(account, region, kind, &format!("r-{:03}", (i * 37) % 137)))
            .with_attributes(json!({"state": {"name": if i % 4 == 0 { "stopped" } else { "running" }}, "i": i}))
            .with_tag("Env", if i % 3 == 0 { "prod" } else { "dev" });
        if i % 7 != 0 {
            a = a.with_name(format!("name-{}", i % 10));
        }
        if i % 11 == 0 {
            a = a.with_tag("Team", "payments");
        }
        let severity = Severity::ALL[i % 4];
        let policy = if i % 2 == 0 { VERSIONING } else { PUBLIC };
        let (mut v, t) = opened(policy, a.id.clone(), severity, now, &format!("reason {i}"));
        v.created_at = now - Duration::hours(i64::try_from(i % 9).unwrap());
        v.modified_at = now - Duration::minutes(i64::try_from(i % 13).unwrap());
        v.category = Category::ALL[i % 4];
        v.status =
            [ViolationStatus::Open, ViolationStatus::Exempted, ViolationStatus::Unknown, ViolationStatus::Closed]
                [i % 4];
        if v.status == ViolationStatus::Closed {
            v.closed_at = Some(now);
            v.close_reason = Some(CloseReason::Fixed);
        }
        commit.assets.push(a);
        commit.violations.push(v);
        commit.transitions.push(t);
    }
    let orphan = id("111", "eu-west-1", BUCKET, "not-stored");
    let (v, t) = opened(VERSIONING, orphan, Severity::High, now, "orphan");
    commit.violations.push(v);
    commit.transitions.push(t);
    let assets = commit.assets.clone();
    let violations = commit.violations.iter().cloned().map(kept_violation).collect();
    store.commit_scan(commit).await.unwrap();
    let assets = assets
        .into_iter()
        .map(|mut a| {
            a.first_seen = Some(kept(now));
            a.last_seen = Some(kept(now));
            a
        })
        .collect();
    (assets, violations)
}

fn keys(vs: &[Violation]) -> Vec<ViolationKey> {
    vs.iter().map(|v| v.key.clone()).collect()
}

async fn walk_violations(
    store: &dyn Store,
    filter: &ViolationFilter,
    sort: ViolationSort,
    order: Order,
    limit: usize,
) -> Vec<Violation> {
    let mut q = ViolationQuery { filter: filter.clone(), sort, order, page: PageRequest::first(limit) };
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = store.violations(&q).await.unwrap();
        assert!(page.items.len() <= limit);
        if page.next.is_some() {
            assert_eq!(page.items.len(), limit, "only the last page is short");
        }
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

async fn walk_assets(
    store: &dyn Store,
    filter: &AssetFilter,
    sort: AssetSort,
    order: Order,
    limit: usize,
) -> Vec<AssetRecord> {
    let mut q = AssetQuery { filter: filter.clone(), sort, order, page: PageRequest::first(limit) };
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = store.assets(&q).await.unwrap();
        assert!(page.items.len() <= limit);
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

fn sorted_violations(mut vs: Vec<Violation>, sort: ViolationSort, order: Order) -> Vec<ViolationKey> {
    vs.sort_by(|a, b| {
        let primary = match sort {
            ViolationSort::Key => std::cmp::Ordering::Equal,
            ViolationSort::Severity => a.severity.cmp(&b.severity),
            ViolationSort::CreatedAt => a.created_at.cmp(&b.created_at),
            ViolationSort::ModifiedAt => a.modified_at.cmp(&b.modified_at),
        };
        primary.then_with(|| a.key.cmp(&b.key))
    });
    if order == Order::Descending {
        vs.reverse();
    }
    keys(&vs)
}

fn sorted_assets(mut assets: Vec<Asset>, sort: AssetSort, order: Order) -> Vec<AssetId> {
    assets.sort_by(|a, b| {
        let primary = match sort {
            AssetSort::Id => std::cmp::Ordering::Equal,
            AssetSort::Name => a.name.as_deref().unwrap_or("").cmp(b.name.as_deref().unwrap_or("")),
            AssetSort::FirstSeen => a.first_seen.cmp(&b.first_seen),
            AssetSort::LastSeen => a.last_seen.cmp(&b.last_seen),
        };
        primary.then_with(|| a.id.cmp(&b.id))
    });
    if order == Order::Descending {
        assets.reverse();
    }
    assets.into_iter().map(|a| a.id).collect()
}

/// Walking the pages of every ordering, both directions and several page
/// sizes (with and without filters, criteria included) returns every item
/// once, in order; only the last page is short and it has no cursor.
pub async fn pagination_without_gaps_or_repeats(store: &dyn Harness) {
    let (assets, violations) = estate(store).await;
    let sorts = [ViolationSort::Key, ViolationSort::Severity, ViolationSort::CreatedAt, ViolationSort::ModifiedAt];
    for sort in sorts {
        for order in [Order::Ascending, Order::Descending] {
            for limit in [1, 7, 138, 500] {
                let got = walk_violations(store, &ViolationFilter::default(), sort, order, limit).await;
                let got = keys(&got);
                assert_eq!(
                    got.iter().collect::<HashSet<_>>().len(),
                    got.len(),
                    "no repeats ({sort:?} {order:?} {limit})"
                );
                assert_eq!(got, sorted_violations(violations.clone(), sort, order), "{sort:?} {order:?} by {limit}");
            }
        }
    }
    let in_111 = ViolationFilter { accounts: vec!["111".into()], ..Default::default() };
    let got = walk_violations(store, &in_111, ViolationSort::Severity, Order::Descending, 5).await;
    let want: Vec<Violation> = violations.iter().filter(|v| v.key.asset.account == "111").cloned().collect();
    assert_eq!(keys(&got), sorted_violations(want, ViolationSort::Severity, Order::Descending));

    let prod = CriteriaFilter { criteria: Criteria::eq("tags.Env", "prod").unwrap(), at: at(0) };
    let by_criteria = ViolationFilter { criteria: Some(prod.clone()), ..Default::default() };
    let got = walk_violations(store, &by_criteria, ViolationSort::ModifiedAt, Order::Ascending, 3).await;
    let prod_ids: HashSet<&AssetId> = assets.iter().filter(|a| a.tag("Env") == Some("prod")).map(|a| &a.id).collect();
    let want: Vec<Violation> = violations.iter().filter(|v| prod_ids.contains(&v.key.asset)).cloned().collect();
    assert_eq!(keys(&got), sorted_violations(want, ViolationSort::ModifiedAt, Order::Ascending));

    // A selective criteria filter: a page needs more rows than one batch of a database scan.
    let team = CriteriaFilter { criteria: Criteria::eq("tags.Team", "payments").unwrap(), at: at(0) };
    let by_team = ViolationFilter { criteria: Some(team), ..Default::default() };
    let team_ids: HashSet<&AssetId> = assets.iter().filter(|a| a.tag("Team").is_some()).map(|a| &a.id).collect();
    let want: Vec<Violation> = violations.iter().filter(|v| team_ids.contains(&v.key.asset)).cloned().collect();
    for limit in [1, 10, 12] {
        let got = walk_violations(store, &by_team, ViolationSort::Key, Order::Descending, limit).await;
        assert_eq!(keys(&got), sorted_violations(want.clone(), ViolationSort::Key, Order::Descending), "by {limit}");
    }

    for sort in [AssetSort::Id, AssetSort::Name, AssetSort::FirstSeen, AssetSort::LastSeen] {
        for order in [Order::Ascending, Order::Descending] {
            for limit in [1, 10, 137] {
                let got: Vec<AssetId> = walk_assets(store, &AssetFilter::default(), sort, order, limit)
                    .await
                    .into_iter()
                    .map(|r| r.asset.id)
                    .collect();
                assert_eq!(got, sorted_assets(assets.clone(), sort, order), "assets {sort:?} {order:?} by {limit}");
            }
        }
    }
    let filter = AssetFilter { criteria: Some(prod), ..Default::default() };
    let got: Vec<AssetId> = walk_assets(store, &filter, AssetSort::Name, Order::Ascending, 4)
        .await
        .into_iter()
        .map(|r| r.asset.id)
        .collect();
    let want: Vec<Asset> = assets.iter().filter(|a| a.tag("Env") == Some("prod")).cloned().collect();
    assert_eq!(got, sorted_assets(want, AssetSort::Name, Order::Ascending));
}

async fn check_violations(
    store: &dyn Store,
    all: &[Violation],
    filter: ViolationFilter,
    pred: impl Fn(&Violation) -> bool,
) {
    let got = keys(&store.all_violations(filter.clone()).await.unwrap());
    let want: Vec<ViolationKey> = all.iter().filter(|v| pred(v)).map(|v| v.key.clone()).collect();
    assert!(!want.is_empty(), "the filter {filter:?} selects something");
    assert_eq!(got, want, "violations for {filter:?}");
}

async fn check_assets(store: &dyn Store, all: &[Asset], filter: AssetFilter, pred: impl Fn(&Asset) -> bool) {
    let got: Vec<AssetId> = store.all_assets(filter.clone()).await.unwrap().into_iter().map(|r| r.asset.id).collect();
    let mut want: Vec<AssetId> = all.iter().filter(|a| pred(a)).map(|a| a.id.clone()).collect();
    want.sort();
    assert!(!want.is_empty(), "the filter {filter:?} selects something");
    assert_eq!(got, want, "assets for {filter:?}");
}

/// Every filter field, alone and combined, selects exactly the matching
/// violations and assets; an asset group's criteria filter by membership.
pub async fn filters(store: &dyn Harness) {
    let (assets, mut all) = estate(store).await;
    all.sort_by(|a, b| a.key.cmp(&b.key));
    let asset_of = |id: &AssetId| assets.iter().find(|a| a.id == *id);
    let f = ViolationFilter::default;
    check_violations(store, &all, ViolationFilter { policies: vec![PUBLIC.into()], ..f() }, |v| {
        v.key.policy_id == PUBLIC
    })
    .await;
    check_violations(
        store,
        &all,
        ViolationFilter { severities: vec![Severity::Critical, Severity::Low], ..f() },
        |v| matches!(v.severity, Severity::Critical | Severity::Low),
    )
    .await;
    check_violations(store, &all, ViolationFilter { categories: vec![Category::Cost], ..f() }, |v| {
        v.category == Category::Cost
    })
    .await;
    check_violations(
        store,
        &all,
        ViolationFilter { statuses: vec![ViolationStatus::Exempted, ViolationStatus::Unknown], ..f() },
        |v| matches!(v.status, ViolationStatus::Exempted | ViolationStatus::Unknown),
    )
    .await;
    check_violations(store, &all, ViolationFilter { accounts: vec!["222".into(), "333".into()], ..f() }, |v| {
        v.key.asset.account != "111"
    })
    .await;
    check_violations(store, &all, ViolationFilter { regions: vec!["us-east-1".into()], ..f() }, |v| {
        v.key.asset.region == "us-east-1"
    })
    .await;
    check_violations(store, &all, ViolationFilter { providers: vec!["aws".into()], ..f() }, |_| true).await;
    check_violations(store, &all, ViolationFilter { kinds: vec![ResourceKind::new(INSTANCE)], ..f() }, |v| {
        v.key.asset.kind.as_str() == INSTANCE
    })
    .await;
    let one = all[5].key.asset.clone();
    check_violations(store, &all, ViolationFilter { asset: Some(one.clone()), ..f() }, |v| v.key.asset == one).await;
    check_violations(store, &all, ViolationFilter { tags: vec![TagFilter::key("Team")], ..f() }, |v| {
        asset_of(&v.key.asset).is_some_and(|a| a.tag("Team").is_some())
    })
    .await;
    check_violations(
        store,
        &all,
        ViolationFilter { tags: vec![TagFilter::eq("Env", "prod"), TagFilter::key("Team")], ..f() },
        |v| asset_of(&v.key.asset).is_some_and(|a| a.tag("Env") == Some("prod") && a.tag("Team").is_some()),
    )
    .await;
    let combined = ViolationFilter {
        policies: vec![VERSIONING.into()],
        statuses: vec![ViolationStatus::Open],
        accounts: vec!["111".into(), "333".into()],
        kinds: vec![ResourceKind::new(BUCKET)],
        ..f()
    };
    check_violations(store, &all, combined, |v| {
        v.key.policy_id == VERSIONING
            && v.status == ViolationStatus::Open
            && v.key.asset.account != "222"
            && v.key.asset.kind.as_str() == BUCKET
    })
    .await;
    let none = ViolationFilter { accounts: vec!["999".into()], ..f() };
    assert!(store.all_violations(none).await.unwrap().is_empty());

    let group = AssetGroup::new("stopped-prod", Criteria::eq("state.name", "stopped").unwrap());
    store.put_group(group, Stamp::new("bob", at(0))).await.unwrap();
    let members = store.group_filter("stopped-prod", at(0)).await.unwrap();
    let stopped = |a: &Asset| a.attributes.pointer("/state/name").and_then(|s| s.as_str()) == Some("stopped");
    check_violations(store, &all, ViolationFilter { criteria: Some(members.clone()), ..f() }, |v| {
        asset_of(&v.key.asset).is_some_and(stopped)
    })
    .await;

    let g = AssetFilter::default;
    check_assets(store, &assets, g(), |_| true).await;
    check_assets(
        store,
        &assets,
        AssetFilter { accounts: vec!["111".into()], regions: vec!["eu-west-1".into()], ..g() },
        |a| a.id.account == "111" && a.id.region == "eu-west-1",
    )
    .await;
    check_assets(store, &assets, AssetFilter { kinds: vec![ResourceKind::new(INSTANCE)], ..g() }, |a| {
        a.id.kind.as_str() == INSTANCE
    })
    .await;
    check_assets(store, &assets, AssetFilter { tags: vec![TagFilter::eq("Env", "dev")], ..g() }, |a| {
        a.tag("Env") == Some("dev")
    })
    .await;
    check_assets(
        store,
        &assets,
        AssetFilter { criteria: Some(members), providers: vec!["aws".into()], ..g() },
        stopped,
    )
    .await;
    let missing = AssetFilter { tags: vec![TagFilter::eq("Env", "staging")], ..g() };
    assert!(store.all_assets(missing).await.unwrap().is_empty());

    // Criteria select what matching them in Rust selects, whether a backend
    // tests them in SQL (asset fields and tags with eq, ne, in, not-in,
    // exists, absent, under all / any / not) or after its query (the rest).
    for criteria in [
        json!({"path": "tags.Env", "eq": "prod"}),
        json!({"path": "tags.Env", "ne": "prod"}),
        json!({"path": "tags.Team", "ne": "payments"}),
        json!({"path": "tags.Env", "in": ["prod", "staging"]}),
        json!({"path": "tags.Env", "not-in": ["dev"]}),
        json!({"path": "tags.Team", "exists": true}),
        json!({"path": "tags.Team", "absent": true}),
        json!({"path": "account", "in": ["111", "333"]}),
        json!({"path": "region", "ne": "us-east-1"}),
        json!({"path": "kind", "eq": INSTANCE}),
        json!({"path": "provider", "eq": "aws"}),
        json!({"path": "account", "exists": true}),
        json!({"any": [{"path": "tags.Team", "eq": "payments"}, {"path": "account", "eq": "222"}]}),
        json!({"all": [{"path": "tags.Env", "eq": "prod"}, {"not": {"path": "region", "eq": "eu-west-1"}}]}),
        json!({"not": {"any": [{"path": "tags.Env", "eq": "dev"}, {"path": "tags.Team", "exists": true}]}}),
        json!({"all": []}),
        // Not expressible in SQL: matched after the query, alone or inside.
        json!({"path": "tags.Env", "glob": "pr*"}),
        json!({"any": [{"path": "state.name", "eq": "stopped"}, {"path": "tags.Team", "eq": "payments"}]}),
    ] {
        let criteria: Criteria = serde_json::from_value(criteria).unwrap();
        let cf = CriteriaFilter { criteria: criteria.clone(), at: at(0) };
        let matching = |a: &Asset| criteria.matches(a, at(0));
        check_assets(store, &assets, AssetFilter { criteria: Some(cf.clone()), ..g() }, matching).await;
        check_violations(store, &all, ViolationFilter { criteria: Some(cf), ..f() }, |v| {
            asset_of(&v.key.asset).is_some_and(matching)
        })
        .await;
    }
    // `any` of nothing matches nothing.
    let nothing = CriteriaFilter { criteria: Criteria::Any(Vec::new()), at: at(0) };
    assert!(store.all_assets(AssetFilter { criteria: Some(nothing.clone()), ..g() }).await.unwrap().is_empty());
    assert!(store.all_violations(ViolationFilter { criteria: Some(nothing), ..f() }).await.unwrap().is_empty());
}

/// Search finds text in resource ids, names, tag values (ASCII
/// case-insensitively) and violation reasons: assets first by identity,
/// then violations by key; removed assets are not found; `limit` holds.
pub async fn omni_search(store: &dyn Harness) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let by_id = bucket("111", "eu-west-1", "Prod-WEB-01", "Enabled", false);
    let by_name = bucket("111", "eu-west-1", "b-2", "Enabled", false).with_name("my-web-app");
    let by_tag = bucket("111", "eu-west-1", "b-3", "Enabled", false).with_tag("Site", "the WEBSITE");
    let failing = bucket("111", "eu-west-1", "b-4", "Suspended", false).with_name("l'été");
    let doomed = bucket("111", "eu-west-1", "web-doomed", "Enabled", false);
    let all = vec![by_id.clone(), by_name.clone(), by_tag.clone(), failing.clone(), doomed.clone()];
    run_scan(store, &e, "s1", at(0), all, complete(std::slice::from_ref(&s))).await;
    let kept = vec![by_id.clone(), by_name.clone(), by_tag.clone(), failing.clone()];
    run_scan(store, &e, "s2", at(1), kept, complete(&[s])).await;

    let hits = store.search("Web", 50).await.unwrap();
    let mut want_assets = vec![
        SearchHit::Asset { id: by_id.id.clone(), name: by_id.name.clone(), matched: MatchedField::ResourceId },
        SearchHit::Asset { id: by_name.id.clone(), name: by_name.name.clone(), matched: MatchedField::Name },
        SearchHit::Asset {
            id: by_tag.id.clone(),
            name: by_tag.name.clone(),
            matched: MatchedField::Tag { key: "Site".into() },
        },
    ];
    want_assets.sort_by(|a, b| match (a, b) {
        (SearchHit::Asset { id: x, .. }, SearchHit::Asset { id: y, .. }) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    assert_eq!(hits, want_assets, "the removed asset is not found");

    let hits = store.search("HAS VERSIONING suspended", 50).await.unwrap();
    assert_eq!(hits.len(), 1);
    match &hits[0] {
        SearchHit::Violation { key, status, reason } => {
            assert_eq!((key.policy_id.as_str(), &key.asset), (VERSIONING, &failing.id));
            assert_eq!(*status, ViolationStatus::Open);
            assert_eq!(reason, "bucket b-4 has versioning Suspended");
        }
        other => panic!("expected a violation, got {other:?}"),
    }
    let hits = store.search("b-4", 50).await.unwrap();
    assert!(matches!(hits.first(), Some(SearchHit::Asset { matched: MatchedField::ResourceId, .. })));
    assert!(matches!(hits.last(), Some(SearchHit::Violation { .. })), "assets first, then violations: {hits:?}");
    assert_eq!(store.search("b-", 2).await.unwrap().len(), 2, "limit holds");
    assert_eq!(store.search("été", 5).await.unwrap().len(), 1);
    assert!(store.search("ÉTÉ", 5).await.unwrap().is_empty(), "case folding is ASCII only");
    assert!(store.search("nothing-like-this", 5).await.unwrap().is_empty());
}

/// The 360° view of an asset: the asset, its violations (closed included)
/// and their history.
pub async fn asset_360(store: &dyn Harness) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let a1 = bucket("111", "eu-west-1", "a", "Suspended", true);
    let a2 = bucket("111", "eu-west-1", "a", "Enabled", true);
    let other = bucket("111", "eu-west-1", "z", "Suspended", true);
    run_scan(store, &e, "s1", at(0), vec![a1, other.clone()], complete(std::slice::from_ref(&s))).await;
    run_scan(store, &e, "s2", at(1), vec![a2.clone(), other], complete(&[s])).await;
    let view = store.asset_360(&a2.id).await.unwrap();
    assert_eq!(view.asset.asset.attributes, a2.attributes);
    assert_eq!(view.asset.asset.first_seen, Some(kept(at(0))));
    let statuses: Vec<(String, ViolationStatus)> =
        view.violations.iter().map(|v| (v.key.policy_id.clone(), v.status)).collect();
    assert_eq!(
        statuses,
        vec![(PUBLIC.to_owned(), ViolationStatus::Open), (VERSIONING.to_owned(), ViolationStatus::Closed)]
    );
    let kinds: Vec<TransitionKind> = view.history.iter().map(|h| h.transition.kind).collect();
    assert_eq!(
        kinds,
        vec![TransitionKind::Opened, TransitionKind::Opened, TransitionKind::ClosedFixed],
        "opened (still open is no transition); opened and closed"
    );
    assert_eq!(view.asset.asset.last_seen, Some(kept(at(1))));
    assert!(view.history.iter().all(|h| h.transition.key.asset == a2.id));
    let unknown = store.asset_360(&id("111", "eu-west-1", BUCKET, "nope")).await.unwrap_err();
    assert!(unknown.is_not_found(), "{unknown}");
}
