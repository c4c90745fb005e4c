//! What a commit does to the stored assets, worked out the same way by both
//! database backends so that a rescan writes only what changed.
//!
//! The commit's assets are grouped by scope (provider, account, region,
//! kind) and sorted by key ([`cache::asset_key`], a hash of the resource
//! id); the backend reads the stored assets of each scope (their
//! fingerprint, last-seen time, whether removed) and puts them in the same
//! order ([`by_key`]), and [`AssetPlan::merge`] walks both lists once:
//!
//! - not stored: **new** (inserted);
//! - stored, with another fingerprint or marked removed: **changed** (rewritten);
//! - stored and unchanged, in a scope the scan did not complete: **touched**
//!   (only its last-seen time is written);
//! - stored and unchanged, in a scope the scan completed: left alone — its
//!   last-seen time is the scope's, which the commit records once;
//! - stored, not seen, in a scope the scan completed, not removed and last
//!   seen before the scan: **removed**.

use hashbrown::HashMap;
use rayon::prelude::*;

use pacbot_core::{Asset, ScopeStatus};

use crate::cache::{self, asset_key, scope_key};
use crate::error::{Result, StoreError};
use crate::model::ScanCommit;
use crate::validate::{self, PER_TASK, asset_fingerprint};

/// A stored asset, as the plan needs it. `K` is how the backend finds the row again.
#[derive(Clone, Debug)]
pub(crate) struct Known<K> {
    pub resource_id: String,
    /// [`cache::asset_key`] of the resource id: what the plan compares.
    pub key: u128,
    pub handle: K,
    /// The fingerprint of name, attributes and tags (0 when not known).
    pub hash: i64,
    /// The row's own last-seen time (microseconds).
    pub last_seen: i64,
    pub removed: bool,
}

/// One scope a commit touches: it has assets in it, or the coverage names it.
#[derive(Debug)]
pub(crate) struct ScopeWork<'a> {
    pub provider: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub kind: &'a str,
    /// Whether the scan collected it completely (a failed or absent scope did not).
    pub complete: bool,
    /// The commit's assets in the scope (indices), by key.
    pub assets: Vec<usize>,
}

/// Stored assets of a scope, read in any order, sorted by key.
///
/// # Errors
/// When two resource ids share a key (about as likely as 2^-128 times the
/// square of the scope's size: the key is seeded anew in every process).
pub(crate) fn by_key<K>(mut stored: Vec<Known<K>>) -> Result<Vec<Known<K>>> {
    stored.sort_unstable_by_key(|k| k.key);
    match stored.windows(2).find(|p| p[0].key == p[1].key) {
        Some(p) => Err(collision(&p[0].resource_id, &p[1].resource_id)),
        None => Ok(stored),
    }
}

fn collision(x: &str, y: &str) -> StoreError {
    StoreError::invalid(
        format!("resource ids `{}` and `{}`", crate::error::short(x), crate::error::short(y)),
        "their keys collide in this process; commit again from another process",
    )
}

/// The scopes of a commit, in the order of (provider, account, region,
/// kind), and its assets' keys and fingerprints, worked out on every core.
///
/// # Errors
/// When an asset is given twice (found side by side once sorted).
pub(crate) fn scopes(c: &ScanCommit) -> Result<(Vec<ScopeWork<'_>>, Incoming<'_>)> {
    // One pass on every core over the assets (a rescan sees every one):
    // scope key, key and fingerprint, so that what follows compares integers.
    let worked: Vec<(u128, u128, i64)> = c
        .assets
        .par_iter()
        .with_min_len(PER_TASK)
        .map(|a| {
            let id = &a.id;
            let scope = scope_key((&id.provider, &id.account, &id.region, id.kind.as_str()));
            (scope, asset_key(&id.resource_id), asset_fingerprint(a))
        })
        .collect();
    let mut by_scope: HashMap<u128, ScopeWork<'_>> = HashMap::new();
    fn work((provider, account, region, kind): cache::ScopeRef<'_>) -> ScopeWork<'_> {
        ScopeWork { provider, account, region, kind, complete: false, assets: Vec::new() }
    }
    for (i, (a, &(scope, _, _))) in c.assets.iter().zip(&worked).enumerate() {
        let id = &a.id;
        by_scope
            .entry(scope)
            .or_insert_with(|| work((&id.provider, &id.account, &id.region, id.kind.as_str())))
            .assets
            .push(i);
    }
    for (s, status) in c.coverage.scopes() {
        let scope = (s.provider.as_str(), s.account.as_str(), s.region.as_str(), s.kind.as_str());
        by_scope.entry(scope_key(scope)).or_insert_with(|| work(scope)).complete = *status == ScopeStatus::Complete;
    }
    let mut scopes: Vec<ScopeWork<'_>> = by_scope.into_values().collect();
    scopes.sort_unstable_by(|x, y| {
        (x.provider, x.account, x.region, x.kind).cmp(&(y.provider, y.account, y.region, y.kind))
    });
    let (keys, prints): (Vec<u128>, Vec<i64>) = worked.into_iter().map(|(_, key, print)| (key, print)).unzip();
    // Each scope sorted by key on a core of its own.
    scopes.par_iter_mut().try_for_each(|s| {
        let mut keyed: Vec<(u128, usize)> = s.assets.iter().map(|&i| (keys[i], i)).collect();
        keyed.sort_unstable();
        if let Some(p) = keyed.windows(2).find(|p| p[0].0 == p[1].0) {
            let (x, y) = (&c.assets[p[0].1], &c.assets[p[1].1]);
            return Err(if x.id.resource_id == y.id.resource_id {
                validate::twice(y)
            } else {
                collision(&x.id.resource_id, &y.id.resource_id)
            });
        }
        s.assets.clear();
        s.assets.extend(keyed.into_iter().map(|(_, i)| i));
        Ok(())
    })?;
    Ok((scopes, Incoming { assets: &c.assets, keys, prints }))
}

/// The first 16 bytes of a string (zero-padded) as a big-endian integer:
/// where two heads differ, they order as the strings do.
fn head(bytes: &[u8]) -> u128 {
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    u128::from_be_bytes(out)
}

/// A stored asset a commit marks removed.
#[derive(Debug)]
pub(crate) struct Removed<K> {
    /// The index of its scope.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub scope: usize,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub resource_id: String,
    pub handle: K,
    /// When it was last seen (microseconds): the row's time or its scope's,
    /// which the row must now keep, as its scope moves on without it.
    pub last_seen: i64,
}

/// What to write for the assets of a commit.
#[derive(Debug)]
pub(crate) struct AssetPlan<K> {
    /// Assets to insert (indices into the commit's assets).
    pub new: Vec<usize>,
    /// Assets to rewrite, with their stored row.
    pub changed: Vec<(usize, K)>,
    /// Unchanged assets whose last-seen time must be written.
    pub touched: Vec<(usize, K)>,
    /// Unchanged assets whose row holds an earlier version's fingerprint
    /// (see [`validate::legacy_fingerprint`]): the fingerprint to write instead.
    pub restamped: Vec<(usize, K, i64)>,
    /// Stored assets to mark removed.
    pub removed: Vec<Removed<K>>,
    /// The stored assets of each scope as the commit leaves them (see
    /// [`AssetPlan::after`]), with the place of each new and changed asset
    /// in them, in the order of `new` and `changed`.
    after: Vec<ScopeAfter<K>>,
    new_slots: Vec<(usize, usize)>,
    changed_slots: Vec<(usize, usize)>,
}

/// One scope's stored assets as a commit leaves them.
#[derive(Debug)]
struct ScopeAfter<K> {
    scope: usize,
    stored: Vec<Known<K>>,
    seen: Option<i64>,
}

impl<K> Default for AssetPlan<K> {
    fn default() -> Self {
        Self {
            new: Vec::new(),
            changed: Vec::new(),
            touched: Vec::new(),
            restamped: Vec::new(),
            removed: Vec::new(),
            after: Vec::new(),
            new_slots: Vec::new(),
            changed_slots: Vec::new(),
        }
    }
}

impl<K: Clone + Default> AssetPlan<K> {
    /// Adds the plan of one scope (`scopes[index]`), given its stored assets
    /// by key ([`by_key`]) and the time its last complete scan saw it
    /// (`None`: never).
    pub(crate) fn merge(
        &mut self,
        index: usize,
        work: &ScopeWork<'_>,
        incoming: &Incoming<'_>,
        stored: Vec<Known<K>>,
        scope_seen: Option<i64>,
        at: i64,
    ) {
        let assets = incoming.assets;
        let slot = self.after.len();
        let mut after: Vec<Known<K>> = Vec::with_capacity(stored.len().max(work.assets.len()));
        let mut stored = stored.into_iter().peekable();
        let unseen = |mut k: Known<K>, removed: &mut Vec<Removed<K>>, after: &mut Vec<Known<K>>| {
            let last_seen = k.last_seen.max(scope_seen.unwrap_or(i64::MIN));
            if work.complete && !k.removed && last_seen < at {
                let resource_id = k.resource_id.clone();
                removed.push(Removed { scope: index, resource_id, handle: k.handle.clone(), last_seen });
                (k.removed, k.last_seen) = (true, last_seen);
            }
            after.push(k);
        };
        for &i in &work.assets {
            let key = incoming.keys[i];
            while let Some(k) = stored.next_if(|k| k.key < key) {
                unseen(k, &mut self.removed, &mut after);
            }
            match stored.next_if(|k| k.key == key) {
                None => {
                    self.new.push(i);
                    self.new_slots.push((slot, after.len()));
                    after.push(Known {
                        resource_id: assets[i].id.resource_id.clone(),
                        key,
                        handle: K::default(),
                        hash: 0,
                        last_seen: at,
                        removed: false,
                    });
                }
                Some(mut k) => {
                    let print = incoming.prints[i];
                    // A removed row is back; a stored fingerprint of 0 is not
                    // known (a row of an older schema): both are rewritten.
                    let comparable = !k.removed && k.hash != 0;
                    if comparable && k.hash != print && k.hash == validate::legacy_fingerprint(&assets[i]) {
                        self.restamped.push((i, k.handle.clone(), print));
                        k.hash = print;
                    }
                    if !(comparable && k.hash == print) {
                        self.changed.push((i, k.handle.clone()));
                        self.changed_slots.push((slot, after.len()));
                        (k.removed, k.last_seen) = (false, at);
                    } else if !work.complete {
                        self.touched.push((i, k.handle.clone()));
                        k.last_seen = at;
                    }
                    after.push(k);
                }
            }
        }
        for k in stored {
            unseen(k, &mut self.removed, &mut after);
        }
        let seen = if work.complete { Some(scope_seen.map_or(at, |s| s.max(at))) } else { scope_seen };
        self.after.push(ScopeAfter { scope: index, stored: after, seen });
    }

    /// Puts the new assets in the order of their rows' key (scope, then
    /// resource id), which the tables' indexes are in: a first scan inserts
    /// a million rows, and each goes to the end of the index, not anywhere.
    pub(crate) fn sort_new(&mut self, assets: &[Asset]) {
        let rid = |i: usize| assets[i].id.resource_id.as_bytes();
        // (scope, head of the resource id, asset, place): the heads, compared
        // as integers, order most pairs without reading the ids again.
        let mut rows: Vec<(usize, u128, usize, usize)> = self
            .new
            .par_iter()
            .zip(&self.new_slots)
            .map(|(&i, &(scope, place))| (scope, head(rid(i)), i, place))
            .collect();
        rows.par_sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then_with(|| rid(x.2).cmp(rid(y.2))));
        self.new = rows.iter().map(|r| r.2).collect();
        self.new_slots = rows.iter().map(|r| (r.0, r.3)).collect();
    }

    /// Records what the backend wrote for the new assets (their rows and
    /// fingerprints, in the order of `new`) and the changed ones (their
    /// fingerprints, in the order of `changed`).
    pub(crate) fn written(&mut self, new: impl IntoIterator<Item = (K, i64)>, changed: impl IntoIterator<Item = i64>) {
        for (&(s, p), (handle, hash)) in self.new_slots.iter().zip(new) {
            if let Some(k) = self.after.get_mut(s).and_then(|a| a.stored.get_mut(p)) {
                (k.handle, k.hash) = (handle, hash);
            }
        }
        for (&(s, p), hash) in self.changed_slots.iter().zip(changed) {
            if let Some(k) = self.after.get_mut(s).and_then(|a| a.stored.get_mut(p)) {
                k.hash = hash;
            }
        }
    }

    /// The stored assets of each scope of the commit (by the index of the
    /// scope), sorted by resource id, and the time its last complete scan
    /// saw it, as the commit leaves them — what reading them back would
    /// give, once [`AssetPlan::written`] has filled in the new rows.
    pub(crate) fn after(&mut self) -> impl Iterator<Item = (usize, Vec<Known<K>>, Option<i64>)> + '_ {
        self.after.drain(..).map(|a| (a.scope, a.stored, a.seen))
    }
}

/// A commit's assets, with their keys and fingerprints (see [`scopes`]).
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    assets: &'a [Asset],
    /// [`cache::asset_key`] of each asset.
    keys: Vec<u128>,
    /// [`asset_fingerprint`] of each asset.
    prints: Vec<i64>,
}

/// From this many assets, a committed scan is freed on a thread of its own.
const FREE_AHEAD_ASSETS: usize = 10_000;

/// Frees a committed scan (and what was prepared from it) off the caller's
/// path, once the write is done and its lock released: freeing a million
/// assets' documents takes about as long as a rescan's writes. Small
/// commits are freed here.
pub(crate) fn free_later<T: Send + 'static>(commit: ScanCommit, prepared: T) {
    if commit.assets.len() < FREE_AHEAD_ASSETS {
        return;
    }
    // A thread that cannot start drops them here (the closure is dropped).
    let _ = std::thread::Builder::new().name("pacbot-store-free".to_owned()).spawn(move || drop((commit, prepared)));
}

/// A count as `u64` (saturating).
pub(crate) fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl<K> AssetPlan<K> {
    /// (new, changed, removed) as counts.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (count(self.new.len()), count(self.changed.len()), count(self.removed.len()))
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::fixtures::bucket;

    fn commit(assets: Vec<Asset>) -> ScanCommit {
        let mut c = ScanCommit::new(crate::model::ScanId::new(1), crate::testing::fixtures::at(0));
        c.assets = assets;
        c
    }

    #[test]
    fn scopes_group_and_order_assets_by_key_with_keys_and_fingerprints_from_threads() {
        let n = 6 * validate::PER_TASK;
        let region = |i: usize| if i.is_multiple_of(3) { "eu-west-1" } else { "us-east-1" };
        let c = commit((0..n).map(|i| bucket("111", region(i), &format!("b{i}"), "Enabled", i % 5 == 0)).collect());
        let (scopes, incoming) = scopes(&c).unwrap();
        assert_eq!(scopes.iter().map(|w| w.region).collect::<Vec<_>>(), ["eu-west-1", "us-east-1"]);
        assert_eq!(scopes.iter().map(|w| w.assets.len()).sum::<usize>(), n);
        for w in &scopes {
            assert!(w.assets.iter().all(|&i| region(i) == w.region), "{} holds its own assets only", w.region);
            let keys: Vec<u128> = w.assets.iter().map(|&i| incoming.keys[i]).collect();
            assert!(keys.is_sorted() && keys.windows(2).all(|p| p[0] != p[1]), "{} is in key order", w.region);
        }
        for (i, a) in c.assets.iter().enumerate() {
            assert_eq!(incoming.keys[i], cache::asset_key(&a.id.resource_id), "asset {i}");
            assert_eq!(incoming.prints[i], asset_fingerprint(a), "asset {i}");
        }
    }

    #[test]
    fn heads_order_as_the_strings_do_where_they_differ() {
        let ids = ["", "a", "a\u{1}", "ab", "abc", "abcdefghijklmnop", "abcdefghijklmnopq", "abd", "b", "é", "\u{7f}"];
        for x in ids {
            for y in ids {
                let (hx, hy) = (head(x.as_bytes()), head(y.as_bytes()));
                if hx != hy {
                    assert_eq!(hx.cmp(&hy), x.cmp(y), "{x:?} and {y:?}");
                }
            }
        }
        assert_eq!(head(b"abcdefghijklmnop"), head(b"abcdefghijklmnopq"), "only 16 bytes are read");
    }

    #[test]
    fn an_asset_given_twice_is_refused_by_name() {
        let c = commit(vec![
            bucket("111", "eu-west-1", "b0", "Enabled", false),
            bucket("111", "eu-west-1", "b1", "Enabled", false),
            bucket("111", "eu-west-1", "b0", "Suspended", false),
        ]);
        let err = scopes(&c).unwrap_err().to_string();
        assert!(err.contains("b0") && err.contains("twice"), "{err}");
    }

    #[test]
    fn stored_assets_are_put_in_key_order_and_new_ones_back_in_row_order() {
        // Ids longer than the heads the sort compares first, alike in those.
        let names: Vec<String> = (0..200).map(|i| format!("arn:aws:s3:::bucket-{i:03}")).collect();
        let stored: Vec<Known<i64>> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(i, rid)| Known {
                resource_id: rid.clone(),
                key: cache::asset_key(rid),
                handle: i as i64,
                hash: 7,
                last_seen: 5,
                removed: false,
            })
            .collect();
        let stored = by_key(stored).unwrap();
        assert!(stored.windows(2).all(|p| p[0].key < p[1].key));
        let c = commit(names.iter().map(|rid| bucket("111", "eu-west-1", rid, "Enabled", false)).collect());
        let (scopes, incoming) = scopes(&c).unwrap();
        let mut plan = AssetPlan::default();
        plan.merge(0, &scopes[0], &incoming, stored, Some(5), 100);
        plan.sort_new(&c.assets);
        // The odd ones are new, in resource-id order; the even ones were stored (with hash 7: changed).
        assert_eq!(plan.new, (1..200).step_by(2).collect::<Vec<_>>());
        assert_eq!(plan.changed.len(), 100);
        assert!(plan.changed.iter().all(|&(i, handle)| i % 2 == 0 && handle == i as i64));
        let rows: Vec<(i64, i64)> = plan.new.iter().map(|&i| (1000 + i as i64, 9)).collect();
        let changed = vec![8; plan.changed.len()];
        plan.written(rows, changed);
        let (_, after, _) = plan.after().next().unwrap();
        assert!(after.windows(2).all(|p| p[0].key < p[1].key), "the cache keeps key order");
        for k in &after {
            let i: usize = k.resource_id["arn:aws:s3:::bucket-".len()..].parse().unwrap();
            let (handle, hash) = if i.is_multiple_of(2) { (i as i64, 8) } else { (1000 + i as i64, 9) };
            assert_eq!((k.handle, k.hash), (handle, hash), "{} got its own row and fingerprint", k.resource_id);
        }
    }

    #[test]
    fn a_row_with_an_earlier_versions_fingerprint_is_restamped_not_rewritten() {
        let assets =
            [bucket("111", "eu-west-1", "b0", "Enabled", false), bucket("111", "eu-west-1", "b1", "Enabled", true)];
        let known = |rid: &str, handle: i64, hash: i64| Known {
            resource_id: rid.to_owned(),
            key: cache::asset_key(rid),
            handle,
            hash,
            last_seen: 5,
            removed: false,
        };
        // b0 stored unchanged under the earlier fingerprint; b1 stored with other content.
        let stored = vec![known("b0", 10, validate::legacy_fingerprint(&assets[0])), known("b1", 11, 12_345)];
        let mut c = commit(assets.to_vec());
        c.coverage =
            crate::testing::fixtures::complete(&[crate::testing::fixtures::scope("111", "eu-west-1", "aws.s3.bucket")]);
        let (scopes, incoming) = scopes(&c).unwrap();
        assert!(scopes.len() == 1 && scopes[0].complete);
        let mut plan = AssetPlan::default();
        plan.merge(0, &scopes[0], &incoming, by_key(stored).unwrap(), Some(5), 100);
        assert_eq!(plan.restamped, [(0, 10, asset_fingerprint(&assets[0]))]);
        assert_eq!(plan.changed, [(1, 11)]);
        assert!(plan.new.is_empty() && plan.touched.is_empty() && plan.removed.is_empty());
        assert_eq!(plan.counts(), (0, 1, 0));
        let (_, after, _) = plan.after().next().unwrap();
        let b0 = after.iter().find(|k| k.resource_id == "b0").unwrap();
        assert_eq!(b0.hash, asset_fingerprint(&assets[0]), "the plan's view holds the new fingerprint");
        assert_eq!(b0.last_seen, 5, "an unchanged asset of a complete scope keeps its row's time");
    }
}
