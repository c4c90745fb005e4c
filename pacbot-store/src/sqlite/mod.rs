//! [`SqliteStore`]: an embedded SQLite database (a file, or `:memory:`).
//!
//! rusqlite with SQLite bundled, run on tokio's blocking thread pool: one
//! writer connection (SQLite allows one writer at a time; a scan commit is
//! one `BEGIN IMMEDIATE` transaction with cached prepared statements), and
//! for files a few read-only connections, which WAL mode lets read while
//! a commit is being written. Must be used within a tokio runtime.

mod read;
mod schema;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pacbot_core::{AssetGroup, AssetId, CoverageScope, Exception, PolicyMeta, Violation, ViolationKey};
use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, StoreError};
use crate::model::{
    AssetGroupRecord, AssetQuery, AssetRecord, ComplianceSnapshot, ExceptionRecord, FixFilter, FixRecord, HistoryEntry,
    Page, PageRequest, PolicyRecord, RuleResult, ScanCommit, ScanId, ScanRecord, ScanStart, SearchHit, Stamp,
    TrendQuery, ViolationQuery,
};
use crate::store::Store;
use crate::summary::FailPoint;
use crate::validate;

pub(crate) use schema::VERSION as SCHEMA_VERSION;
#[cfg(feature = "testing")]
pub(crate) use schema::migration;

/// How many idle read connections a file database keeps: as many as reads
/// run at once under load (a server's concurrent requests), so that a read
/// rarely opens a connection — opening one parses the schema, and a new
/// connection starts with empty page and statement caches.
const IDLE_READERS: usize = 32;

/// The writer's page cache, in KiB (as `PRAGMA cache_size` takes it: negative).
const WRITER_CACHE_KIB: i64 = -256 * 1024;

/// The page size of a new database file, in bytes. Assets are rows of about
/// a kilobyte: with 16 KiB pages a commit of a million of them takes about
/// a quarter less time than with the default 4 KiB (fewer page splits,
/// fewer and larger WAL frames), and a point read still reads one page.
const PAGE_SIZE: i64 = 16 * 1024;

/// A store in an SQLite database.
///
/// Cloning is cheap; clones share the connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    location: String,
    /// `None` for an in-memory database: everything goes through the writer.
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// The connection that checkpoints the WAL after writes, off the writer's path.
    checkpointer: Mutex<Option<Connection>>,
    /// What the writer knows of its last commit (see [`crate::cache`]);
    /// locked only by a commit, which holds the writer.
    cache: Mutex<Option<write::Cache>>,
    fail: FailPoint,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("location", &self.inner.location).finish_non_exhaustive()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let retryable = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        StoreError::Backend {
            backend: "sqlite",
            operation: "accessing the database".to_owned(),
            retryable,
            source: Box::new(e),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock().map_err(|_| StoreError::Backend {
        backend: "sqlite",
        operation: "taking a connection".to_owned(),
        retryable: false,
        source: "a thread panicked while holding it".into(),
    })
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` — or an in-memory
    /// one for `:memory:` — in WAL mode, and applies pending migrations.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] when the database was written
    /// by a newer version of this crate.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let location = path.display().to_string();
        let memory = path.as_os_str() == ":memory:";
        let loc = location.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let mut conn = if memory { Connection::open_in_memory()? } else { Connection::open(&path)? };
            configure(&conn)?;
            if !memory {
                // A new database gets larger pages (an existing one keeps its own).
                conn.pragma_update(None, "page_size", PAGE_SIZE)?;
                let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(StoreError::invalid(
                        format!("database `{loc}`"),
                        format!("it cannot use WAL mode (journal mode is `{mode}`)"),
                    ));
                }
                // Durable and crash-safe in WAL mode: a commit is atomic (a
                // crash, or a kill -9, loses at most the last commits since
                // the OS last flushed, never leaves a torn one), and it does
                // not wait for an fsync of the WAL.
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                // Checkpoints run on another connection after each write
                // (see `checkpoint_later`), not inside the committing call.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            }
            // Room for the indexes a commit of a million assets updates
            // (pages are allocated as needed, up to this).
            conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
            schema::migrate(&mut conn, &loc)?;
            Ok(conn)
        })
        .await
        .map_err(join_error)?
        .map_err(|e| e.during(&format!("opening `{location}`")))?;
        let path = if memory { None } else { Some(PathBuf::from(&location)) };
        Ok(Self {
            inner: Arc::new(Inner {
                location,
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                checkpointer: Mutex::new(None),
                cache: Mutex::new(None),
                fail: FailPoint::default(),
            }),
        })
    }

    /// Opens a private in-memory database.
    pub async fn open_in_memory() -> Result<Self> {
        Self::open(":memory:").await
    }

    /// The path given to [`SqliteStore::open`].
    #[must_use]
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The schema version this build writes.
    #[must_use]
    pub fn schema_version() -> i64 {
        SCHEMA_VERSION
    }

    /// Makes the next commit fail after `writes` row writes (conformance suite).
    #[cfg(feature = "testing")]
    pub(crate) fn arm_failure(&self, writes: usize) {
        self.inner.fail.arm(writes);
    }

    /// The row writes of the last successful commit (conformance suite).
    #[cfg(feature = "testing")]
    pub(crate) fn last_commit_writes(&self) -> u64 {
        self.inner.fail.last_writes()
    }

    /// Runs `f` with the writer connection on the blocking pool.
    async fn write<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &FailPoint) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let out = tokio::task::spawn_blocking(move || {
            let mut conn = lock(&inner.writer)?;
            f(&mut conn, &inner.fail)
        })
        .await
        .map_err(join_error)?
        .map_err(|e| e.during(op))?;
        self.checkpoint_later();
        Ok(out)
    }

    /// Copies the WAL's committed pages into the database file on the
    /// blocking pool, one checkpoint at a time (`PASSIVE`: it waits for no
    /// reader or writer). A checkpoint that fails or cannot finish leaves
    /// its work to the next; committed data is in the WAL either way.
    fn checkpoint_later(&self) {
        if self.inner.path.is_none() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            if let Ok(mut slot) = inner.checkpointer.try_lock() {
                let _ = checkpoint(&inner, &mut slot);
            }
        });
    }

    /// Copies the write-ahead log into the database file now, waiting for a
    /// checkpoint under way. Stores do it by themselves after each write, in
    /// the background; this is for a caller that wants it done (before a
    /// backup of the file, or a benchmark's next measurement).
    pub async fn checkpoint(&self) -> Result<()> {
        if self.inner.path.is_none() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut slot = lock(&inner.checkpointer)?;
            checkpoint(&inner, &mut slot)
        })
        .await
        .map_err(join_error)?
        .map_err(|e| e.during("checkpointing"))
    }

    /// Runs `f` with a read connection (the writer for `:memory:`) on the
    /// blocking pool, inside one read transaction (one consistent snapshot).
    async fn read<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let Some(path) = &inner.path else {
                let conn = lock(&inner.writer)?;
                let tx = conn.unchecked_transaction()?;
                return f(&tx);
            };
            let pooled = lock(&inner.readers)?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let c = Connection::open_with_flags(path, flags)?;
                    configure(&c)?;
                    c
                }
            };
            let out = {
                let tx = conn.unchecked_transaction()?;
                f(&tx)
            };
            let mut idle = lock(&inner.readers)?;
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(join_error)?
        .map_err(|e| e.during(op))
    }
}

/// A passive checkpoint on the checkpointing connection, opened on first use.
fn checkpoint(inner: &Inner, slot: &mut Option<Connection>) -> Result<()> {
    let Some(path) = &inner.path else { return Ok(()) };
    if slot.is_none() {
        let c = Connection::open(path)?;
        configure(&c)?;
        *slot = Some(c);
    }
    if let Some(c) = slot.as_ref() {
        c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    }
    Ok(())
}

fn join_error(e: tokio::task::JoinError) -> StoreError {
    StoreError::Backend {
        backend: "sqlite",
        operation: "running a blocking task".to_owned(),
        retryable: false,
        source: Box::new(e),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_scan(&self, mut start: ScanStart) -> Result<ScanRecord> {
        validate::scan_start(&mut start)?;
        self.write("beginning a scan", move |c, _| write::begin_scan(c, start)).await
    }

    async fn commit_scan(&self, mut commit: ScanCommit) -> Result<ScanRecord> {
        let prepared = validate::commit(&mut commit)?;
        let inner = Arc::clone(&self.inner);
        self.write("committing a scan", move |c, fail| {
            let mut cache = lock(&inner.cache)?;
            let out = write::commit_scan(c, &commit, prepared, fail, &mut cache);
            // Freed on a thread of its own, which holds no lock.
            crate::delta::free_later(commit, ());
            out
        })
        .await
    }

    async fn abort_scan(&self, scan: ScanId, reason: &str) -> Result<ScanRecord> {
        validate::text(reason, || "abort reason".to_owned())?;
        let reason = reason.to_owned();
        self.write("aborting a scan", move |c, _| write::abort_scan(c, scan, &reason)).await
    }

    async fn scan(&self, scan: ScanId) -> Result<ScanRecord> {
        self.read("reading a scan", move |c| read::scan(c, scan)).await
    }

    async fn scans(&self, page: &PageRequest) -> Result<Page<ScanRecord>> {
        validate::page(page)?;
        let page = page.clone();
        self.read("listing scans", move |c| read::scans(c, &page)).await
    }

    async fn scan_results(&self, scan: ScanId) -> Result<Vec<RuleResult>> {
        self.read("reading scan results", move |c| read::scan_results(c, scan)).await
    }

    async fn current_violations(&self, scopes: &[CoverageScope], include_closed: bool) -> Result<Vec<Violation>> {
        let scopes = scopes.to_vec();
        self.read("reading current violations", move |c| read::current_violations(c, &scopes, include_closed)).await
    }

    async fn violations(&self, query: &ViolationQuery) -> Result<Page<Violation>> {
        validate::violation_filter(&query.filter)?;
        validate::page(&query.page)?;
        let query = query.clone();
        self.read("listing violations", move |c| read::violations(c, &query)).await
    }

    async fn violation_history(&self, key: &ViolationKey) -> Result<Vec<HistoryEntry>> {
        validate::key(key)?;
        let key = key.clone();
        self.read("reading violation history", move |c| read::violation_history(c, &key)).await
    }

    async fn asset(&self, id: &AssetId) -> Result<AssetRecord> {
        validate::asset_id(id, "asset")?;
        let id = id.clone();
        self.read("reading an asset", move |c| read::asset(c, &id)).await
    }

    async fn assets(&self, query: &AssetQuery) -> Result<Page<AssetRecord>> {
        validate::asset_filter(&query.filter)?;
        validate::page(&query.page)?;
        let query = query.clone();
        self.read("listing assets", move |c| read::assets(c, &query)).await
    }

    async fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        validate::search(text, limit)?;
        let text = text.to_owned();
        self.read("searching", move |c| read::search(c, &text, limit)).await
    }

    async fn put_exception(&self, mut exception: Exception, mut by: Stamp) -> Result<ExceptionRecord> {
        let doc = validate::exception(&mut exception)?;
        validate::stamp(&mut by)?;
        self.write("storing an exception", move |c, _| write::put_exception(c, exception, &doc, by)).await
    }

    async fn delete_exception(&self, id: &str) -> Result<()> {
        validate::id(id, || "exception id".to_owned())?;
        let id = id.to_owned();
        self.write("deleting an exception", move |c, _| write::delete(c, "exceptions", "id", "exception", &id)).await
    }

    async fn exceptions(&self) -> Result<Vec<ExceptionRecord>> {
        self.read("listing exceptions", read::exceptions).await
    }

    async fn put_group(&self, group: AssetGroup, mut by: Stamp) -> Result<AssetGroupRecord> {
        let doc = validate::group(&group)?;
        validate::stamp(&mut by)?;
        self.write("storing an asset group", move |c, _| write::put_group(c, group, &doc, by)).await
    }

    async fn delete_group(&self, name: &str) -> Result<()> {
        validate::id(name, || "asset group name".to_owned())?;
        let name = name.to_owned();
        self.write("deleting an asset group", move |c, _| {
            write::delete(c, "asset_groups", "name", "asset group", &name)
        })
        .await
    }

    async fn groups(&self) -> Result<Vec<AssetGroupRecord>> {
        self.read("listing asset groups", read::groups).await
    }

    async fn put_policies(&self, policies: Vec<PolicyMeta>, at: DateTime<Utc>) -> Result<()> {
        let docs = policies.iter().map(validate::policy).collect::<Result<Vec<_>>>()?;
        let at = crate::codec::trunc(at);
        let ids: Vec<String> = policies.into_iter().map(|p| p.id).collect();
        self.write("storing policies", move |c, _| write::put_policies(c, &ids, &docs, at)).await
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>> {
        self.read("listing policies", read::policies).await
    }

    async fn compliance_trend(&self, query: &TrendQuery) -> Result<Vec<ComplianceSnapshot>> {
        validate::trend(query)?;
        let query = query.clone();
        self.read("reading compliance trends", move |c| read::compliance_trend(c, &query)).await
    }

    async fn put_fix_record(&self, mut record: FixRecord) -> Result<FixRecord> {
        let data = validate::fix_record(&mut record)?;
        self.write("storing an auto-fix record", move |c, _| write::put_fix_record(c, record, &data)).await
    }

    async fn fix_record(&self, id: &str) -> Result<FixRecord> {
        validate::id(id, || "auto-fix record id".to_owned())?;
        let id = id.to_owned();
        self.read("reading an auto-fix record", move |c| read::fix_record(c, &id)).await
    }

    async fn fix_records(&self, filter: &FixFilter) -> Result<Vec<FixRecord>> {
        validate::fix_filter(filter)?;
        let filter = filter.clone();
        self.read("listing auto-fix records", move |c| read::fix_records(c, &filter)).await
    }

    async fn revision(&self) -> Result<u64> {
        // Advanced by the schema's triggers, inside each writing transaction.
        self.read("reading the revision", |c| {
            let seq: i64 = c.prepare_cached("SELECT seq FROM revision")?.query_row([], |r| r.get(0))?;
            Ok(u64::try_from(seq).unwrap_or_default())
        })
        .await
    }
}
