//! What a database store's writer remembers of its own last commit, so that
//! the next commit need not read back what it wrote: per scope, the stored
//! assets (fingerprint, last-seen time, whether removed) and the stored
//! violations (their row and state fingerprint).
//!
//! It is only ever used as a whole, and only when nobody committed since:
//! it carries the commit clock its commit advanced to (see the crate docs,
//! *Scans of one scope*), and a commit that finds the clock elsewhere —
//! another store instance, process or machine committed in between —
//! drops it and reads the database. The clock is read inside the commit's
//! transaction, under the write lock, so no commit can slip in between the
//! check and the writes. A commit that fails for any reason drops it too.
//!
//! Its size is about that of the keys of the assets and violations of the
//! scopes this store committed (some 100 bytes per asset).

use std::collections::BTreeMap;

use hashbrown::HashMap;
use pacbot_core::{Violation, ViolationKey};

use crate::delta::Known;

/// A scope: (provider, account, region, kind).
pub(crate) type ScopeKey = (String, String, String, String);

/// A scope, borrowed.
pub(crate) type ScopeRef<'a> = (&'a str, &'a str, &'a str, &'a str);

pub(crate) fn owned(s: ScopeRef<'_>) -> ScopeKey {
    (s.0.to_owned(), s.1.to_owned(), s.2.to_owned(), s.3.to_owned())
}

/// The seed of the keys below: drawn once per process, so that nobody can
/// choose resource ids whose keys collide ahead of time.
static SEED: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one("pacbot-store keys")
});

/// A 128-bit key of some parts, each length-prefixed (seeded XXH3-128).
fn key(parts: &[&[u8]]) -> u128 {
    let seed = *SEED;
    crate::codec::prefixed(parts, |bytes| xxhash_rust::xxh3::xxh3_128_with_seed(bytes, seed))
}

/// A violation's key within its asset's scope: a 128-bit hash of (policy,
/// rule, resource id), each part length-prefixed. (Two keys of one scope
/// sharing it is about as likely as 2^-128 times the square of their count.)
///
/// The keys here are held in memory only (never stored), with a seed of the
/// process's own, so they change from one process to the next.
pub(crate) fn violation_key(policy: &str, rule: &str, resource_id: &str) -> u128 {
    key(&[policy.as_bytes(), rule.as_bytes(), resource_id.as_bytes()])
}

/// An asset's key within its scope: a 128-bit hash of its resource id. The
/// stored and the incoming assets of a scope are matched, and kept, in the
/// order of this key, which compares integers where resource ids would
/// compare strings (a rescan matches a million of them).
pub(crate) fn asset_key(resource_id: &str) -> u128 {
    key(&[resource_id.as_bytes()])
}

/// A scope's key: a 128-bit hash of (provider, account, region, kind).
pub(crate) fn scope_key(s: ScopeRef<'_>) -> u128 {
    key(&[s.0.as_bytes(), s.1.as_bytes(), s.2.as_bytes(), s.3.as_bytes()])
}

/// A violation's keys: its asset's scope ([`scope_key`]) and
/// its key within the scope ([`violation_key`]). Together they
/// tell violations apart, as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ViolationKeys {
    pub scope: u128,
    pub key: u128,
}

impl ViolationKeys {
    pub(crate) fn of(k: &ViolationKey) -> Self {
        let a = &k.asset;
        Self {
            scope: scope_key((&a.provider, &a.account, &a.region, a.kind.as_str())),
            key: violation_key(&k.policy_id, &k.rule_id, &a.resource_id),
        }
    }
}

/// The scopes of a commit's violations (each once, in order), with their
/// keys: the scopes whose stored violations the commit compares with.
pub(crate) fn violation_scopes<'c>(
    violations: &'c [Violation],
    keys: &[ViolationKeys],
) -> BTreeMap<ScopeRef<'c>, u128> {
    let mut scopes: HashMap<u128, ScopeRef<'c>> = HashMap::new();
    for (v, k) in violations.iter().zip(keys) {
        let a = &v.key.asset;
        scopes.entry(k.scope).or_insert_with(|| (&a.provider, &a.account, &a.region, a.kind.as_str()));
    }
    scopes.into_iter().map(|(key, scope)| (scope, key)).collect()
}

/// The stored violations of the scopes a commit's violations are in: by
/// [`scope_key`], the scope and what is kept of each of its violations, by
/// [`violation_key`].
pub(crate) type ScopesViolations<'a, V> = HashMap<u128, (ScopeRef<'a>, HashMap<u128, V>)>;

/// The stored assets of one scope by key, and when its last
/// complete scan saw it.
pub(crate) type ScopeAssets<K> = (Vec<Known<K>>, Option<i64>);

/// What a writer knows of the stored state after its last commit. `K` is
/// how the backend finds an asset's row again, `V` what it keeps of a
/// stored violation.
#[derive(Debug)]
pub(crate) struct WriteCache<K, V> {
    /// The commit clock after the commit this describes.
    pub clock: i64,
    /// Every stored asset of each scope held.
    pub assets: HashMap<ScopeKey, ScopeAssets<K>>,
    /// Every stored violation of each scope held, by [`violation_key`].
    pub violations: HashMap<ScopeKey, HashMap<u128, V>>,
}

impl<K, V> Default for WriteCache<K, V> {
    fn default() -> Self {
        Self { clock: i64::MIN, assets: HashMap::new(), violations: HashMap::new() }
    }
}

impl<K, V> WriteCache<K, V> {
    /// What the cache `held` knows, if it describes the state at commit
    /// clock `clock`; otherwise an empty cache.
    pub(crate) fn at(held: Option<Self>, clock: i64) -> Self {
        held.filter(|c| c.clock == clock).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::violation_key;

    /// The streaming hash of the same length-prefixed parts: what a key of any size hashes.
    fn streamed(parts: [&str; 3]) -> u128 {
        let mut h = xxhash_rust::xxh3::Xxh3::with_seed(*super::SEED);
        for part in parts {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.digest128()
    }

    #[test]
    fn keys_hashed_on_the_stack_equal_streamed_ones_and_keep_parts_apart() {
        let text = "r".repeat(800);
        // The stack holds 512 bytes: 38 of them here are not the resource id.
        for n in [0, 1, 300, 473, 474, 475, 800] {
            let parts = ["policy-a", "rule-1", &text[..n]];
            assert_eq!(violation_key(parts[0], parts[1], parts[2]), streamed(parts), "a resource id of {n} bytes");
        }
        assert_ne!(violation_key("ab", "c", "d"), violation_key("a", "bc", "d"));
        assert_ne!(violation_key("a", "b", "cd"), violation_key("a", "bc", "d"));
    }
}
