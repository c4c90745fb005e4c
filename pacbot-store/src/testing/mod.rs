//! The conformance suite: every backend's tests run these same functions,
//! each on a fresh, empty store.
//!
//! ```no_run
//! // tests/memory.rs: one `#[tokio::test]` per conformance test.
//! pacbot_store::conformance_tests!(async { pacbot_store::MemoryStore::new() });
//! # fn main() {}
//! ```
//!
//! The suite is test code: it fails by panicking, with a message naming the
//! check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fixtures;
mod input;
mod latest;
pub mod migration;
#[cfg(feature = "postgres")]
pub mod postgres;
mod queries;
mod records;
mod rescan;
mod revision;
mod scans;

use std::future::Future;

pub use input::{bad_input, sql_metacharacters_verbatim};
pub use latest::changes_and_latest;
pub use queries::{asset_360, filters, omni_search, pagination_without_gaps_or_repeats};
pub use records::{compliance_trend, exceptions_crud, fix_records, groups_crud, policy_catalogue};
pub use rescan::{
    another_writer_between_commits, earlier_fingerprints_are_restamped, fingerprints, rescan_writes_only_what_changed,
};
pub use revision::{revision_follows_writes, revision_seen_by_another_instance};
pub use scans::{
    concurrent_shard_writers, failed_commit_leaves_nothing, lifecycle_over_scans, partial_scan_keeps_failed_scopes,
    previous_violations_by_scope, round_trip, same_scope_scans_do_not_interleave,
};

use crate::store::Store;

/// What the suite needs from a backend beyond [`Store`]: a way to make a
/// commit fail in the middle, to check that it leaves nothing behind.
pub trait Harness: Store {
    /// Makes the next `commit_scan` fail with
    /// [`crate::StoreError::InjectedFailure`] after `writes` row writes.
    fn fail_commit_after(&self, writes: usize);

    /// How many rows the last successful `commit_scan` wrote (inserted,
    /// updated or deleted), as the backend counts them.
    fn last_commit_writes(&self) -> u64;
}

impl Harness for crate::MemoryStore {
    fn fail_commit_after(&self, writes: usize) {
        self.arm_failure(writes);
    }

    fn last_commit_writes(&self) -> u64 {
        self.last_commit_writes()
    }
}

#[cfg(feature = "sqlite")]
impl Harness for crate::SqliteStore {
    fn fail_commit_after(&self, writes: usize) {
        self.arm_failure(writes);
    }

    fn last_commit_writes(&self) -> u64 {
        self.last_commit_writes()
    }
}

#[cfg(feature = "postgres")]
impl Harness for crate::PostgresStore {
    fn fail_commit_after(&self, writes: usize) {
        self.arm_failure(writes);
    }

    fn last_commit_writes(&self) -> u64 {
        self.last_commit_writes()
    }
}

/// What a factory of the suite returns: a [`Harness`], or a harness with
/// something that must live as long as it — `(store, temp_dir)`.
pub trait Fixture {
    /// The store under test.
    fn harness(&self) -> &dyn Harness;
}

impl<H: Harness> Fixture for H {
    fn harness(&self) -> &dyn Harness {
        self
    }
}

impl<H: Harness, G> Fixture for (H, G) {
    fn harness(&self) -> &dyn Harness {
        &self.0
    }
}

/// The names of the suite's tests, in the order [`run_all`] runs them.
pub const TESTS: &[&str] = &[
    "round_trip",
    "lifecycle_over_scans",
    "partial_scan_keeps_failed_scopes",
    "previous_violations_by_scope",
    "concurrent_shard_writers",
    "same_scope_scans_do_not_interleave",
    "failed_commit_leaves_nothing",
    "rescan_writes_only_what_changed",
    "pagination_without_gaps_or_repeats",
    "filters",
    "omni_search",
    "asset_360",
    "exceptions_crud",
    "groups_crud",
    "policy_catalogue",
    "fix_records",
    "compliance_trend",
    "changes_and_latest",
    "bad_input",
    "sql_metacharacters_verbatim",
    "revision_follows_writes",
];

/// Runs every test of the suite, each on a fresh store from `factory`.
pub async fn run_all<F, Fut, S>(mut factory: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
    S: Fixture,
{
    round_trip(factory().await.harness()).await;
    lifecycle_over_scans(factory().await.harness()).await;
    partial_scan_keeps_failed_scopes(factory().await.harness()).await;
    previous_violations_by_scope(factory().await.harness()).await;
    concurrent_shard_writers(factory().await.harness()).await;
    same_scope_scans_do_not_interleave(factory().await.harness()).await;
    failed_commit_leaves_nothing(factory().await.harness()).await;
    rescan_writes_only_what_changed(factory().await.harness()).await;
    pagination_without_gaps_or_repeats(factory().await.harness()).await;
    filters(factory().await.harness()).await;
    omni_search(factory().await.harness()).await;
    asset_360(factory().await.harness()).await;
    exceptions_crud(factory().await.harness()).await;
    groups_crud(factory().await.harness()).await;
    policy_catalogue(factory().await.harness()).await;
    fix_records(factory().await.harness()).await;
    compliance_trend(factory().await.harness()).await;
    changes_and_latest(factory().await.harness()).await;
    bad_input(factory().await.harness()).await;
    sql_metacharacters_verbatim(factory().await.harness()).await;
    revision_follows_writes(factory().await.harness()).await;
}

/// Generates one `#[tokio::test]` per conformance test, each on a fresh
/// store made by `$factory` (an expression evaluating to a future of a
/// [`Fixture`]). The calling crate needs `tokio` with `macros` and `rt`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@each $factory;
            round_trip, lifecycle_over_scans, partial_scan_keeps_failed_scopes, previous_violations_by_scope,
            concurrent_shard_writers, same_scope_scans_do_not_interleave, failed_commit_leaves_nothing, rescan_writes_only_what_changed,
            pagination_without_gaps_or_repeats, filters,
            omni_search, asset_360, exceptions_crud, groups_crud, policy_catalogue, fix_records, compliance_trend,
            changes_and_latest,
            bad_input, sql_metacharacters_verbatim, revision_follows_writes);
    };
    (@each $factory:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $factory.await;
                $crate::testing::$name($crate::testing::Fixture::harness(&fixture)).await;
            }
        )+
    };
}
