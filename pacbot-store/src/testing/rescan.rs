//! Rescans: a scan that finds the estate mostly as it was writes only what
//! changed, and every query still answers as if everything had been rewritten.

use pacbot_core::{Asset, AssetId, Coverage, TransitionKind};

use super::Harness;
use super::fixtures::*;
use crate::model::{AssetFilter, AssetQuery, AssetSort, PageRequest, ScanCounts, TagFilter};
use crate::store::{Store, StoreExt};

/// Buckets in the estate.
const N: usize = 200;

/// Bucket `i` as the first scan finds it: about 30 % fail versioning, 5 % are public.
fn estate_bucket(i: usize) -> Asset {
    let versioning = if i % 10 < 3 { "Suspended" } else { "Enabled" };
    bucket("111", "eu-west-1", &format!("r{i:03}"), versioning, i.is_multiple_of(20))
        .with_tag("Owner", format!("team-{}", i % 5))
}

fn bucket_id(i: usize) -> AssetId {
    estate_bucket(i).id
}

async fn owned_by(store: &dyn Store, team: &str) -> Vec<String> {
    let filter = AssetFilter { tags: vec![TagFilter::eq("Owner", team)], ..AssetFilter::default() };
    store.all_assets(filter).await.unwrap().into_iter().map(|r| r.asset.id.resource_id).collect()
}

fn asset_counts(c: &ScanCounts) -> (u64, u64, u64, u64) {
    (c.assets_new, c.assets_changed, c.assets_removed, c.violations_changed)
}

/// A rescan of an unchanged estate writes a handful of rows, however large
/// the estate; a rescan where a few assets changed writes about as many rows
/// as changed (the asset, its tags, its violations and their transitions);
/// `still_open` is counted, not written to the history. Asset last-seen
/// times, first-seen times, removal, violation history and tag filters read
/// back as if every asset had been rewritten. A scan whose scope failed
/// writes the last-seen time of the unchanged assets it did see.
pub async fn rescan_writes_only_what_changed(store: &dyn Harness) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let cov = || complete(std::slice::from_ref(&s));

    let first = run_scan(store, &e, "s1", at(0), (0..N).map(estate_bucket).collect(), cov()).await;
    assert_eq!(asset_counts(&first.record.counts).0, N as u64);
    let full = store.last_commit_writes();
    assert!(full >= N as u64, "the first scan writes every asset ({full} writes)");

    // 1. Nothing changed.
    let same = run_scan(store, &e, "s2", at(1), (0..N).map(estate_bucket).collect(), cov()).await;
    assert_eq!(asset_counts(&same.record.counts), (0, 0, 0, 0), "an unchanged estate changes nothing");
    assert_eq!(same.record.counts.transitions.get(&TransitionKind::StillOpen).copied(), Some(70));
    let idle = store.last_commit_writes();
    assert!(idle <= 8, "a rescan of an unchanged estate of {N} assets wrote {idle} rows");

    // 2. A few changed: one fails, one is fixed, two are re-tagged, one is new, one is gone.
    let mut assets: Vec<Asset> = (0..N - 1).map(estate_bucket).collect();
    assets[3] = bucket("111", "eu-west-1", "r003", "Suspended", false).with_tag("Owner", "team-3");
    assets[1] = bucket("111", "eu-west-1", "r001", "Enabled", false).with_tag("Owner", "team-1");
    assets[5] = estate_bucket(5).with_tag("Owner", "new-team");
    assets[6] = estate_bucket(6).with_tag("Owner", "new-team");
    // Re-tagged the other way: its `Owner` tag gone, a `Retagged` tag added.
    assets[7] = bucket("111", "eu-west-1", "r007", "Enabled", false).with_tag("Retagged", "yes");
    assets.push(estate_bucket(N)); // new: fails versioning and is public
    let some = run_scan(store, &e, "s3", at(2), assets, cov()).await;
    assert_eq!(
        asset_counts(&some.record.counts),
        (1, 5, 1, 4),
        "(new, changed, removed, violations changed): r003 opened, r001 closed, r200's two opened"
    );
    let writes = store.last_commit_writes();
    let bound = idle + 3 * (1 + 5) + 1 + 2 * 4;
    assert!(writes <= bound, "a rescan with 7 assets changed wrote {writes} rows (at most {bound} expected)");

    // Everything reads back as if every asset had been rewritten.
    let unchanged = store.asset(&bucket_id(50)).await.unwrap();
    assert_eq!((unchanged.asset.first_seen, unchanged.asset.last_seen), (Some(kept(at(0))), Some(kept(at(2)))));
    let retagged = store.asset_360(&bucket_id(5)).await.unwrap();
    assert_eq!(retagged.asset.asset.tag("Owner"), Some("new-team"));
    assert_eq!(retagged.asset.asset.last_seen, Some(kept(at(2))));
    let gone = store.asset(&bucket_id(N - 1)).await.unwrap();
    assert_eq!(gone.removed_at, Some(kept(at(2))));
    assert_eq!(gone.asset.last_seen, Some(kept(at(1))), "last seen by the scan before");
    let kinds = |v: &pacbot_core::Violation, h: &[crate::model::HistoryEntry]| -> Vec<TransitionKind> {
        h.iter().filter(|e| e.transition.key == v.key).map(|e| e.transition.kind).collect()
    };
    let still = store.asset_360(&bucket_id(0)).await.unwrap();
    assert_eq!(still.violations.len(), 2);
    for v in &still.violations {
        assert_eq!(kinds(v, &still.history), vec![TransitionKind::Opened], "open for three scans: one entry");
    }
    let fixed = store.asset_360(&bucket_id(1)).await.unwrap();
    assert_eq!(kinds(&fixed.violations[0], &fixed.history), vec![TransitionKind::Opened, TransitionKind::ClosedFixed]);
    let mut new_team = owned_by(store, "new-team").await;
    new_team.sort();
    assert_eq!(new_team, vec!["r005", "r006"]);
    let team0 = owned_by(store, "team-0").await;
    assert_eq!(team0.len(), N / 5 - 1 + 1, "r005 left team-0, r200 joined it, r195 stayed");
    assert!(!team0.contains(&"r005".to_owned()));
    assert!(!owned_by(store, "team-2").await.contains(&"r007".to_owned()), "r007's Owner tag was removed");
    let retagged = AssetFilter { tags: vec![TagFilter::eq("Retagged", "yes")], ..AssetFilter::default() };
    let retagged: Vec<String> =
        store.all_assets(retagged).await.unwrap().into_iter().map(|r| r.asset.id.resource_id).collect();
    assert_eq!(retagged, vec!["r007"], "r007's new tag is found");
    assert_eq!(store.asset(&bucket_id(7)).await.unwrap().asset.tag("Owner"), None);
    let by_last_seen = store
        .assets(&AssetQuery {
            filter: AssetFilter { include_removed: true, ..AssetFilter::default() },
            sort: AssetSort::LastSeen,
            page: PageRequest::first(2),
            ..AssetQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_last_seen.items[0].asset.id, bucket_id(N - 1), "sorting by last seen uses the derived time");

    // 3. The scope failed, three unchanged assets were seen: only their last-seen times are written.
    let mut failed = Coverage::new();
    failed.fail(s.clone(), "throttled");
    let partial = run_scan(store, &e, "s4", at(3), (10..13).map(estate_bucket).collect(), failed).await;
    assert_eq!(asset_counts(&partial.record.counts), (0, 0, 0, 0));
    let writes = store.last_commit_writes();
    assert!(writes <= idle + 3, "a partial scan seeing 3 unchanged assets wrote {writes} rows");
    assert_eq!(store.asset(&bucket_id(10)).await.unwrap().asset.last_seen, Some(kept(at(3))));
    assert_eq!(store.asset(&bucket_id(50)).await.unwrap().asset.last_seen, Some(kept(at(2))));
    assert_eq!(store.all_assets(AssetFilter::default()).await.unwrap().len(), N, "a failed scope removes nothing");
}

/// Two stores on one database (two processes, or two machines on one
/// PostgreSQL) commit the same scope in turn: `first`, then `second`, then
/// `first` again. Whatever `first` remembers of its own commit must not
/// hide what `second` wrote: its next commit compares with the stored
/// state, writes what differs from it, and the history reads back whole.
pub async fn another_writer_between_commits(first: &dyn Harness, second: &dyn Harness) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let cov = || complete(std::slice::from_ref(&s));
    let b = |name: &str, versioning: &str| bucket("111", "eu-west-1", name, versioning, false);

    run_scan(first, &e, "a1", at(0), vec![b("r0", "Suspended"), b("r1", "Enabled"), b("r2", "Enabled")], cov()).await;
    // The other writer: r0 fixed, r1 fails, r2 gone, r3 new.
    let other =
        run_scan(second, &e, "b2", at(1), vec![b("r0", "Enabled"), b("r1", "Suspended"), b("r3", "Enabled")], cov())
            .await;
    assert_eq!(asset_counts(&other.record.counts), (1, 2, 1, 2));
    // The first again: r0 fails again, r1 as the other writer left it, r2 back, r3 as it was.
    let again = run_scan(
        first,
        &e,
        "a3",
        at(2),
        vec![b("r0", "Suspended"), b("r1", "Suspended"), b("r2", "Enabled"), b("r3", "Enabled")],
        cov(),
    )
    .await;
    assert_eq!(
        asset_counts(&again.record.counts),
        (0, 2, 0, 1),
        "(new, changed, removed, violations changed) against what the other writer stored: r0 and r2 rewritten, \
         r0's violation re-opened"
    );
    for store in [first, second] {
        let r0 = store.asset_360(&id("111", "eu-west-1", BUCKET, "r0")).await.unwrap();
        let versioning = r0.asset.asset.attributes.pointer("/versioning/status").and_then(|s| s.as_str());
        assert_eq!(versioning, Some("Suspended"), "r0 as the first writer last saw it");
        assert_eq!(r0.asset.asset.last_seen, Some(kept(at(2))));
        let kinds: Vec<TransitionKind> = r0.history.iter().map(|h| h.transition.kind).collect();
        assert_eq!(kinds, vec![TransitionKind::Opened, TransitionKind::ClosedFixed, TransitionKind::Reopened]);
        let r1 = store.asset_360(&id("111", "eu-west-1", BUCKET, "r1")).await.unwrap();
        let kinds: Vec<TransitionKind> = r1.history.iter().map(|h| h.transition.kind).collect();
        assert_eq!(kinds, vec![TransitionKind::Opened], "r1 stays open from the other writer's scan");
        let r2 = store.asset(&id("111", "eu-west-1", BUCKET, "r2")).await.unwrap();
        assert_eq!((r2.removed_at, r2.asset.first_seen), (None, Some(kept(at(0)))), "r2 is back");
        let r3 = store.asset(&id("111", "eu-west-1", BUCKET, "r3")).await.unwrap();
        assert_eq!(r3.asset.first_seen, Some(kept(at(1))));
    }
    // And the other writer after the first's second commit.
    let last = run_scan(
        second,
        &e,
        "b4",
        at(3),
        vec![b("r0", "Suspended"), b("r1", "Enabled"), b("r2", "Enabled"), b("r3", "Enabled")],
        cov(),
    )
    .await;
    assert_eq!(asset_counts(&last.record.counts), (0, 1, 0, 1), "r1 fixed");
}

/// The fingerprint a store writes for an asset now, and the one earlier
/// versions wrote, for tests that play an earlier version's rows.
pub fn fingerprints(asset: &Asset) -> (i64, i64) {
    (crate::validate::asset_fingerprint(asset), crate::validate::legacy_fingerprint(asset))
}

/// Rows an earlier version wrote hold its fingerprint. `reopen` gives a
/// store with nothing held from earlier commits (a new process); `set_hash`
/// stands for the earlier version, writing a stored asset's fingerprint
/// column (by resource id), and `hash` reads it. The next scan finds the
/// estate unchanged — no asset counted changed or rewritten — and leaves
/// the current fingerprints in place; the scan after it compares them
/// directly.
pub async fn earlier_fingerprints_are_restamped<S: Store>(
    store: &dyn Store,
    reopen: impl AsyncFnOnce() -> S,
    set_hash: impl AsyncFn(&str, i64),
    hash: impl AsyncFn(&str) -> i64,
) {
    let e = engine();
    let s = scope("111", "eu-west-1", BUCKET);
    let cov = || complete(std::slice::from_ref(&s));
    let estate = || (0..4).map(estate_bucket).collect::<Vec<_>>();
    run_scan(store, &e, "s1", at(0), estate(), cov()).await;
    for a in estate() {
        let (now, earlier) = fingerprints(&a);
        assert_ne!(now, earlier);
        assert_eq!(hash(&a.id.resource_id).await, now, "the first scan wrote the current fingerprint");
        set_hash(&a.id.resource_id, earlier).await;
    }

    let store = reopen().await;
    let again = run_scan(&store, &e, "s2", at(1), estate(), cov()).await;
    assert_eq!(asset_counts(&again.record.counts), (0, 0, 0, 0), "rows of an earlier version are not changed");
    for a in estate() {
        assert_eq!(hash(&a.id.resource_id).await, fingerprints(&a).0, "restamped");
    }
    let record = store.asset(&bucket_id(1)).await.unwrap();
    assert_eq!((record.asset.first_seen, record.asset.last_seen), (Some(kept(at(0))), Some(kept(at(1)))));

    // Restamped, they compare directly; a real change is still one.
    let mut assets = estate();
    assets[2] = estate_bucket(2).with_tag("Owner", "someone-else");
    let third = run_scan(&store, &e, "s3", at(2), assets, cov()).await;
    assert_eq!(asset_counts(&third.record.counts), (0, 1, 0, 0));
}
