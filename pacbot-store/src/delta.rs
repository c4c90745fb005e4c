//! What a commit does to the stored assets, worked out the same way by both
//! database backends so that a rescan writes only what changed.
//!
//! The commit's assets are grouped by scope (provider, account, region,
//! kind) and sorted by resource id; the backend reads the stored assets of
//! each scope in the same order (their fingerprint, last-seen time, whether
//! removed), and [`AssetPlan::merge`] walks both lists once:
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

use crate::error::Result;
use crate::model::ScanCommit;
use crate::validate::{self, asset_fingerprint};

/// A stored asset, as the plan needs it. `K` is how the backend finds the row again.
#[derive(Clone, Debug)]
pub(crate) struct Known<K> {
    pub resource_id: String,
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
    /// The commit's assets in the scope (indices), by resource id.
    pub assets: Vec<usize>,
}

/// The scopes of a commit, in key order.
///
/// # Errors
/// When an asset is given twice (found side by side once sorted).
pub(crate) fn scopes(c: &ScanCommit) -> Result<Vec<ScopeWork<'_>>> {
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str);
    type Map<'a> = HashMap<Key<'a>, ScopeWork<'a>>;
    fn entry<'a, 'm>(map: &'m mut Map<'a>, key: Key<'a>) -> &'m mut ScopeWork<'a> {
        let (provider, account, region, kind) = key;
        map.entry(key).or_insert_with(|| ScopeWork {
            provider,
            account,
            region,
            kind,
            complete: false,
            assets: Vec::new(),
        })
    }
    let mut by_scope: Map<'_> = HashMap::new();
    for (i, a) in c.assets.iter().enumerate() {
        entry(&mut by_scope, (&a.id.provider, &a.id.account, &a.id.region, a.id.kind.as_str())).assets.push(i);
    }
    for (s, status) in c.coverage.scopes() {
        entry(&mut by_scope, (&s.provider, &s.account, &s.region, s.kind.as_str())).complete =
            *status == ScopeStatus::Complete;
    }
    let mut scopes: Vec<ScopeWork<'_>> = by_scope.into_values().collect();
    scopes.sort_unstable_by(|x, y| {
        (x.provider, x.account, x.region, x.kind).cmp(&(y.provider, y.account, y.region, y.kind))
    });
    // Each scope sorted on a core of its own.
    let rid = |i: usize| c.assets[i].id.resource_id.as_str();
    scopes.par_iter_mut().try_for_each(|s| {
        s.assets.sort_unstable_by(|&x, &y| rid(x).cmp(rid(y)));
        match s.assets.windows(2).find(|p| rid(p[0]) == rid(p[1])) {
            Some(pair) => Err(validate::twice(&c.assets[pair[1]])),
            None => Ok(()),
        }
    })?;
    Ok(scopes)
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
    /// by resource id and the time its last complete scan saw it (`None`:
    /// never). Only assets stored before are fingerprinted.
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
            let rid = assets[i].id.resource_id.as_str();
            while let Some(k) = stored.next_if(|k| k.resource_id.as_str() < rid) {
                unseen(k, &mut self.removed, &mut after);
            }
            match stored.next_if(|k| k.resource_id == rid) {
                None => {
                    self.new.push(i);
                    self.new_slots.push((slot, after.len()));
                    after.push(Known {
                        resource_id: rid.to_owned(),
                        handle: K::default(),
                        hash: 0,
                        last_seen: at,
                        removed: false,
                    });
                }
                Some(mut k) => {
                    let print = incoming.fingerprint(i);
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

/// A commit's assets, with the fingerprints computed ahead (0: not computed).
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    assets: &'a [Asset],
    prints: Vec<i64>,
}

impl Incoming<'_> {
    /// The fingerprint of `assets[i]`.
    fn fingerprint(&self, i: usize) -> i64 {
        match self.prints.get(i) {
            Some(&f) if f != 0 => f,
            _ => asset_fingerprint(&self.assets[i]),
        }
    }
}

/// The fingerprints of `assets[i]` for each `i` of `wanted` (0 for the
/// others: not computed), on every core. A rescan compares every asset it
/// sees with the stored one; this is most of its work once the stored state
/// is known.
pub(crate) fn fingerprints<'a>(assets: &'a [Asset], wanted: &[usize]) -> Incoming<'a> {
    let mut out = vec![0; assets.len()];
    let prints: Vec<i64> =
        wanted.par_iter().with_min_len(validate::PER_TASK).map(|&i| asset_fingerprint(&assets[i])).collect();
    for (&i, f) in wanted.iter().zip(prints) {
        out[i] = f;
    }
    Incoming { assets, prints: out }
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

    #[test]
    fn fingerprints_on_threads_equal_one_by_one() {
        let n = 6 * validate::PER_TASK;
        let assets: Vec<Asset> =
            (0..n).map(|i| bucket("111", "eu-west-1", &format!("b{i}"), "Enabled", i % 3 == 0)).collect();
        // Every other asset wanted; the rest stay 0 (computed on demand).
        let wanted: Vec<usize> = (0..n).step_by(2).collect();
        let incoming = fingerprints(&assets, &wanted);
        for (i, a) in assets.iter().enumerate() {
            let ahead = incoming.prints[i];
            if i % 2 == 0 {
                assert_eq!(ahead, asset_fingerprint(a), "asset {i}");
            } else {
                assert_eq!(ahead, 0, "asset {i} was not wanted");
            }
            assert_eq!(incoming.fingerprint(i), asset_fingerprint(a));
        }
    }

    #[test]
    fn a_row_with_an_earlier_versions_fingerprint_is_restamped_not_rewritten() {
        let assets =
            [bucket("111", "eu-west-1", "b0", "Enabled", false), bucket("111", "eu-west-1", "b1", "Enabled", true)];
        let id = &assets[0].id;
        let work = ScopeWork {
            provider: &id.provider,
            account: &id.account,
            region: &id.region,
            kind: id.kind.as_str(),
            complete: true,
            assets: vec![0, 1],
        };
        let known = |rid: &str, handle: i64, hash: i64| Known {
            resource_id: rid.to_owned(),
            handle,
            hash,
            last_seen: 5,
            removed: false,
        };
        // b0 stored unchanged under the earlier fingerprint; b1 stored with other content.
        let stored = vec![known("b0", 10, validate::legacy_fingerprint(&assets[0])), known("b1", 11, 12_345)];
        let incoming = fingerprints(&assets, &[0, 1]);
        let mut plan = AssetPlan::default();
        plan.merge(0, &work, &incoming, stored, Some(5), 100);
        assert_eq!(plan.restamped, [(0, 10, asset_fingerprint(&assets[0]))]);
        assert_eq!(plan.changed, [(1, 11)]);
        assert!(plan.new.is_empty() && plan.touched.is_empty() && plan.removed.is_empty());
        assert_eq!(plan.counts(), (0, 1, 0));
        let (_, after, _) = plan.after().next().unwrap();
        assert_eq!(after[0].hash, asset_fingerprint(&assets[0]), "the plan's view holds the new fingerprint");
        assert_eq!(after[0].last_seen, 5, "an unchanged asset of a complete scope keeps its row's time");
    }
}
