//! Persistence for pacbot: the [`Store`] trait and its backends.
//!
//! A scanner's flow, with any backend:
//!
//! ```text
//! begin_scan ─▶ connectors discover ─▶ engine evaluates ─▶ previous_violations(coverage)
//!            ─▶ core reconcile() ─▶ commit_scan(ScanCommit { assets, coverage, results,
//!                                                violations, transitions, snapshots })
//! ```
//!
//! `commit_scan` is one atomic write: the scan's assets (first and last
//! seen kept by the store), the assets found gone from scopes the scan
//! *completed* (marked removed; a failed or uncollected scope removes nothing),
//! the per-rule results, the violations in their new state with their
//! transitions appended to the history, and the compliance snapshots. Shards
//! that scan different (account, region) scopes commit independently and
//! never touch each other's assets or violations.
//!
//! Reading: violations and assets with filters (policy, severity, category,
//! status, account, region, kind, tags, asset-group criteria), sorting and
//! keyset cursor pagination; free-text search; one asset's 360° view;
//! violation history; scans and compliance trends. Writing besides scans:
//! exceptions and asset groups (who and when), the policy catalogue, auto-fix
//! records. Conveniences are in [`StoreExt`].
//!
//! ```
//! # async fn demo() -> Result<(), pacbot_store::StoreError> {
//! use std::sync::Arc;
//! use pacbot_core::chrono::Utc;
//! use pacbot_store::{MemoryStore, ScanCommit, ScanStart, Store, StoreExt};
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let scan = store.begin_scan(ScanStart::new("nightly", Utc::now())).await?;
//! let coverage = pacbot_core::Coverage::new();
//! let previous = store.previous_violations(&coverage).await?; // reconcile's input
//! # let _ = previous;
//! let done = store.commit_scan(ScanCommit::new(scan.id, Utc::now())).await?;
//! assert_eq!(done.status, pacbot_store::ScanStatus::Complete);
//! # Ok(()) }
//! # futures::executor::block_on(demo()).unwrap();
//! ```
//!
//! # Backends
//!
//! | backend | feature | for |
//! |---|---|---|
//! | [`MemoryStore`] | always | tests, examples, one-shot scans; nothing persists |
//! | `SqliteStore` | `sqlite` (default) | one machine: an embedded file (or `:memory:`), zero set-up |
//! | `PostgresStore` | `postgres` | many scanners sharing one database; shards commit side by side |
//!
//! Every backend runs the same conformance suite (`pacbot_store::testing`, feature
//! `testing`), so they behave alike, down to error kinds, size limits
//! ([`limits`]) and times kept to the microsecond.
//!
//! # Why rusqlite for SQLite
//!
//! The SQLite backend uses `rusqlite` with SQLite bundled (no system
//! library, one known SQLite version everywhere), run on tokio's blocking
//! thread pool. A scan commit is one long burst of row writes; with
//! rusqlite it is one `BEGIN IMMEDIATE` transaction on one thread using
//! cached prepared statements, with no per-row `await`, channel hop or
//! allocation of a query future — the fastest way to write a million rows to
//! SQLite from Rust. `sqlx`'s SQLite driver would run the same SQLite behind
//! a worker thread with a round trip per statement, and its compile-time
//! checking buys little for the dynamic filters a store builds. Bulk-write
//! speed and exact transaction control matter more here than using one
//! crate for every backend.
//!
//! # How a commit is written
//!
//! SQLite: one `BEGIN IMMEDIATE` transaction on the writer connection; the
//! stored assets of each scope are read in key order and compared with the
//! commit's (see *Rescans write only what changed*); new assets are inserted
//! in key order while a helper thread serializes the next ones' documents;
//! the stored violations of each scope are read at once and a violation
//! written only when its fingerprint changed. An asset's tags are stored once,
//! in its tags document, which tag filters and search read with `json_each`
//! (about as fast as probing a side table of tag rows was, and a first
//! commit of a million assets no longer writes three million such rows). A
//! new database file gets 16 KiB pages: rows of about a kilobyte fill them
//! with fewer page splits and fewer WAL frames than the default 4 KiB, about
//! a quarter less time for a large commit. The database runs in WAL mode
//! with `synchronous = NORMAL`: a commit is atomic and survives a crash of the process (a kill -9 in the
//! middle of a commit leaves the previous state, which `tests/sqlite_crash.rs`
//! checks); a power loss may lose the last commits, never corrupt the
//! database. The WAL is checkpointed by another connection after each write,
//! not inside the committing call ([`SqliteStore::checkpoint`] waits for it),
//! and the writer keeps a page cache of up to 256 MiB.
//!
//! PostgreSQL: per-shard advisory locks, then the same comparison (stored
//! fingerprints read scope by scope), and only new and changed rows written,
//! with binary `COPY`: new rows straight into their tables (the plan, made
//! under the shard locks, knows they are not there; a row that is fails the
//! commit on its key), changed ones into temporary staging tables and then
//! over their rows (`UPDATE … FROM`); unchanged assets seen outside a
//! completed scope and removed ones are updated from arrays (`unnest`). A
//! commit that grows a table by more than a tenth refreshes its statistics.
//! A bulk load — at least 50 000 assets, more than twice what `assets` holds
//! by the planner's estimate — first locks `assets` and `violations`
//! (`ACCESS EXCLUSIVE`, before reading them, so two bulk loads queue rather
//! than deadlock; readers and other shards' commits wait for it), drops
//! their secondary indexes (the GIN indexes of the documents, `violations_by_asset`)
//! and creates them again before the commit ends.
//!
//! Both database backends keep, per store instance, what their last commit
//! left stored in the scopes it wrote: the assets' fingerprints, last-seen
//! times and removal, and the violations' fingerprints (about 100 bytes an
//! asset). The next commit uses it instead of reading those scopes back,
//! but only when the commit clock (see *Scans of one scope*), read inside
//! its transaction under the write lock (SQLite) or the shard locks
//! (PostgreSQL), still shows the value that commit set: any other commit —
//! another instance, process or machine — makes it read the database again.
//! On PostgreSQL, when other shards' commits took clock values during a
//! commit, only the committing scopes' part is kept (its shard locks kept
//! them to itself). A failed commit forgets it.
//!
//! # Scans of one scope
//!
//! Reconcile's input is the stored state of the scopes a scan attempted,
//! read after [`Store::begin_scan`]. If another scan commits one of those
//! scopes in between, that input is stale, and committing it would undo the
//! other scan's changes (re-open what it closed, or the reverse). So each
//! store keeps a *commit clock* (how many scans committed), each scan the
//! clock's value when it began, and each scope the clock of the last commit
//! that covered it (complete or failed). `commit_scan` refuses, with
//! [`StoreError::ScopeConflict`] and writing nothing, a scan whose coverage
//! holds a scope committed after it began: the first of two overlapping
//! scans to commit wins; the other is aborted and scanned again. Scans of
//! disjoint scopes never conflict, and on PostgreSQL still commit side by
//! side: the check runs under the shard locks, and the clock's one row is
//! advanced last in a commit, so only the end of commits is serialized and
//! the clock's order is the order in which commits became visible.
//!
//! # Schema and migrations
//!
//! Each database backend keeps a schema version (SQLite: `PRAGMA
//! user_version`) and a list of numbered migrations in the crate. Opening a
//! database applies the missing migrations in order, each in its own
//! transaction. Opening a database whose version is newer than the crate's
//! fails with [`StoreError::SchemaTooNew`] and touches nothing. Migrations are
//! append-only: a released migration is never edited.
//!
//! The SQLite schema (version 5): `scans` (status, counts, failed scopes,
//! the commit clock when begun), `commit_clock` and `scope_commits` (see
//! *Scans of one scope*),
//! `scan_scopes`, `scan_results`, `assets` (identity, name, attributes and
//! tags as JSON, a fingerprint of them, first/last seen, removed),
//! `revision` (see [`Store::revision`]), `asset_scopes` (the latest
//! complete scan of each scope), `violations` (current state and its
//! fingerprint, one row per key), `transitions` (history), `snapshots`
//! (compliance reports per scan), `exceptions`, `asset_groups`, `policies`,
//! `fix_records`. Times are integers (microseconds since the epoch);
//! documents are JSON text. PostgreSQL has the same tables, with
//! `timestamptz` times and `jsonb` documents.
//!
//! # Rescans write only what changed
//!
//! Most of an estate is the same from one scan to the next, so a commit
//! writes only what moved. The commit reads, scope by scope, the stored
//! assets' fingerprints (XXH3 of the name and of the digests that
//! [`pacbot_core::Attributes::digest`] computes once, as a document is
//! built, so a rescan walks no document at all) and compares:
//! new assets are inserted, changed ones (or ones back from removed)
//! rewritten, and unchanged ones are not written at all — their last-seen
//! time is derived on read from the latest scan that completed their scope
//! (`asset_scopes`), which they must have been seen by, or they would have
//! been marked removed. Only an unchanged asset seen in a scope the scan did
//! *not* complete gets its last-seen time written. Violations equal to the
//! stored ones (same fingerprint) are left alone, and the history keeps
//! transitions that changed a status: `still_open`, `still_exempted` and
//! `still_unknown` are counted in [`ScanCounts::transitions`] but not
//! written. [`ScanCounts::assets_changed`] and
//! [`ScanCounts::violations_changed`] say what a commit rewrote. Rows
//! written before migration 2 have no fingerprint and are rewritten once by
//! the next scan that sees them; their `still_…` history entries are kept.
//! Fingerprints written before schema version 3 were of the serialized
//! documents: those rows are rewritten once too. Migration 3 itself
//! updates every asset row once (its `changed_at`, for
//! [`AssetFilter::changed_since`]). Fingerprints written before the
//! digests (a walk of the documents, hashed as one stream) are recognized:
//! an asset whose row holds its earlier fingerprint is unchanged, and only
//! its fingerprint is written over (not counted as changed).
//!
//! # Feature flags
//!
//! - `sqlite` (default): `SqliteStore`.
//! - `postgres`: `PostgresStore`.
//! - `testing`: the conformance suite.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod cache;
mod codec;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod delta;
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod filter_sql;
mod keyset;
pub mod limits;
mod memory;
pub mod model;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod summary;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;

pub use error::{BoxError, Result, StoreError};
pub use memory::MemoryStore;
pub use model::*;
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_POOL_SIZE, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{Store, StoreExt};
