//! Advisory locks that let shard writers commit side by side.
//!
//! A scan commit holds, until it ends, an exclusive transaction-level
//! advisory lock on every (provider, account, region) shard it writes —
//! the shards of its coverage, its assets and its violations. Two scanners
//! of different shards take different locks and never wait for each other;
//! two commits touching one shard run one after the other, so a commit's
//! "new" and "removed" counts and its removal of unseen assets are computed
//! on a stable shard. To make deadlocks impossible, every commit takes its
//! locks in one global order: first a global lock, then the shard locks by
//! ascending key.
//!
//! The global lock bounds how many locks a commit holds: a commit of at most
//! [`MAX_SHARD_LOCKS`] shards takes it in shared mode (commits of other
//! shards go on), a larger one takes it exclusively instead of locking
//! shard by shard (it then runs alone).
//!
//! Keys are a stable 64-bit hash (FNV-1a) of the schema and the shard, the
//! same in every build and on every platform, so every scanner agrees on
//! them; two shards whose keys collide only serialize their commits.

use std::collections::BTreeSet;

use super::Tx;
use crate::error::Result;

/// The most shards a commit locks one by one.
pub(super) const MAX_SHARD_LOCKS: usize = 256;

/// A stable lock key for `parts` within `schema`.
pub(super) fn key(schema: &str, parts: &[&str]) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h = OFFSET;
    for part in std::iter::once(&"pacbot").chain(std::iter::once(&schema)).chain(parts) {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX).to_le_bytes();
        for b in len.iter().chain(part.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h.cast_signed()
}

/// Takes the locks of a commit writing these (provider, account, region) shards.
pub(super) async fn lock_shards(tx: &Tx<'_>, schema: &str, shards: &BTreeSet<(&str, &str, &str)>) -> Result<()> {
    let global = key(schema, &["global"]);
    if shards.len() > MAX_SHARD_LOCKS {
        let stmt = tx.prepare_cached("SELECT pg_advisory_xact_lock($1)").await?;
        tx.execute(&stmt, &[&global]).await?;
        return Ok(());
    }
    let shared = tx.prepare_cached("SELECT pg_advisory_xact_lock_shared($1)").await?;
    tx.execute(&shared, &[&global]).await?;
    let mut keys: Vec<i64> = shards.iter().map(|(p, a, r)| key(schema, &["shard", p, a, r])).collect();
    keys.sort_unstable();
    keys.dedup();
    // A function scan yields the array's elements in order, so the locks are taken in key order.
    let each = tx.prepare_cached("SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k").await?;
    tx.execute(&each, &[&keys]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn keys_are_stable_and_separate_their_parts() {
        // The same in every build: scanners built apart must agree.
        assert_eq!(key("public", &["global"]), key("public", &["global"]));
        assert_eq!(key("public", &["shard", "aws", "111", "eu-west-1"]), -750_567_599_454_890_333);
        assert_ne!(key("public", &["shard", "ab", "c", ""]), key("public", &["shard", "a", "bc", ""]));
        assert_ne!(key("a", &["global"]), key("b", &["global"]));
    }
}
