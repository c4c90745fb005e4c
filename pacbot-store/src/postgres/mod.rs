//! [`PostgresStore`]: a PostgreSQL database that many scanners share.
//!
//! tokio-postgres behind a deadpool connection pool. A scan commit is one
//! `READ COMMITTED` transaction: it locks the scan's row, takes advisory
//! locks on the (provider, account, region) shards it writes — in one global
//! order — copies its new assets and violations straight into their tables
//! with binary `COPY` (documents sent as `jsonb`), streams changed rows and
//! transitions into temporary tables, and applies those with a few
//! set-based statements. Reads run in `REPEATABLE READ, READ ONLY` transactions, so a
//! read of several statements sees one snapshot. Must be used within a tokio
//! runtime.

mod locks;
mod read;
mod schema;
mod sql;
mod write;

#[cfg(feature = "testing")]
pub(crate) use schema::migration;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use pacbot_core::{AssetGroup, AssetId, CoverageScope, Exception, PolicyMeta, Violation, ViolationKey};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls};

use crate::error::{Result, StoreError};
use crate::model::{
    AssetGroupRecord, AssetQuery, AssetRecord, ComplianceSnapshot, ExceptionRecord, FixFilter, FixRecord, HistoryEntry,
    Page, PageRequest, PolicyRecord, RuleResult, ScanCommit, ScanId, ScanRecord, ScanStart, SearchHit, Stamp,
    TrendQuery, ViolationQuery,
};
use crate::store::Store;
use crate::summary::FailPoint;
use crate::validate;

/// A transaction on a pooled connection.
type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// How many connections [`PostgresStore::open`] pools at most.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// A store in a PostgreSQL database, shared by any number of processes.
///
/// Cloning is cheap; clones share the connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The connection URL without its password.
    location: String,
    /// The schema the tables live in (`current_schema()`); it scopes the advisory locks.
    schema: String,
    pool: Pool,
    /// What this store knows of its last commit (see [`crate::cache`]).
    cache: std::sync::Mutex<Option<write::Cache>>,
    fail: FailPoint,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.inner.location)
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

/// A driver error whose message carries its cause: tokio-postgres shows
/// only its kind (`db error`) and keeps the server's message in the source.
#[derive(Debug)]
struct Driver {
    message: String,
    source: tokio_postgres::Error,
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Driver {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The error and its causes on one line: `db error: ERROR: relation … does not exist`.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text.replace('\n', " "));
        }
        cause = c.source();
    }
    out
}

/// Whether trying again may help: the server broke a deadlock or a
/// serialization conflict, is starting or shutting down, or the connection
/// dropped.
fn retryable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
            ]
            .contains(code)
                || code.code().starts_with("08")
        }
        // No SQLSTATE: the network or the connection failed.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Backend {
            backend: "postgres",
            operation: "accessing the database".to_owned(),
            retryable: retryable(&e),
            source: Box::new(Driver { message: describe(&e), source: e }),
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            other => StoreError::Backend {
                backend: "postgres",
                operation: "taking a connection from the pool".to_owned(),
                retryable: matches!(other, PoolError::Timeout(_)),
                source: describe(&other).into(),
            },
        }
    }
}

/// The connection's target without its password: `postgres://user@host:port/db`.
fn location(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            let port = config.get_ports().get(i).or(config.get_ports().first()).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// or libpq's `key=value` form), with a pool of up to [`DEFAULT_POOL_SIZE`]
    /// connections, and applies pending migrations.
    ///
    /// The tables live in the connection's current schema: to keep them apart
    /// from other tables, give the store a database of its own, or a schema
    /// through the URL (`?options=-csearch_path%3Dpacbot`). Connections are
    /// not encrypted (no TLS): reach the server over a trusted network, a
    /// Unix socket or a tunnel.
    ///
    /// Fails with [`StoreError::InvalidInput`] for a URL that cannot be parsed,
    /// a [`StoreError::Backend`] error naming the server when it cannot be
    /// reached, and [`StoreError::SchemaTooNew`] when the database was written
    /// by a newer version of this crate (it is then left untouched).
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with_pool_size(url, DEFAULT_POOL_SIZE).await
    }

    /// [`PostgresStore::open`] with a pool of up to `pool_size` connections (at least one).
    pub async fn open_with_pool_size(url: &str, pool_size: usize) -> Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::invalid("PostgreSQL connection URL", describe(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("pacbot");
        }
        let location = location(&config);
        let op = format!("connecting to `{location}`");
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(15)))
            .wait_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| StoreError::invalid("PostgreSQL connection pool", e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| StoreError::from(e).during(&op))?;
        let schema =
            schema::migrate(&mut client, &location).await.map_err(|e| e.during(&format!("opening `{location}`")))?;
        drop(client);
        Ok(Self {
            inner: Arc::new(Inner {
                location,
                schema,
                pool,
                cache: std::sync::Mutex::new(None),
                fail: FailPoint::default(),
            }),
        })
    }

    /// The database's URL, without its password.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The schema the store's tables live in.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The schema version this build writes.
    #[must_use]
    pub fn schema_version() -> i64 {
        schema::VERSION
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

    async fn client(&self) -> Result<deadpool_postgres::Client> {
        Ok(self.inner.pool.get().await?)
    }
}

/// Advances the store's revision (see [`Store::revision`]).
const BUMP_REVISION: &str = "UPDATE revision SET seq = seq + 1";

/// Runs `$body` (an expression using the transaction `$tx`, awaited) in a
/// read-only repeatable-read transaction: one snapshot for all its statements.
macro_rules! reading {
    ($self:ident, $op:expr, |$tx:ident| $body:expr) => {
        async {
            let mut client = $self.client().await?;
            let $tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let out = $body.await?;
            $tx.commit().await?;
            Ok(out)
        }
        .await
        .map_err(|e: StoreError| e.during($op))
    };
}

/// Runs `$body` in a read-committed transaction, committed when it succeeds
/// (rolled back when it fails). The store's revision is advanced last, in
/// the same transaction: it changes when (and only if) the write commits.
macro_rules! writing {
    ($self:ident, $op:expr, |$tx:ident| $body:expr) => {
        async {
            let mut client = $self.client().await?;
            let $tx = client.transaction().await?;
            let out = $body.await?;
            let bump = $tx.prepare_cached(BUMP_REVISION).await?;
            $tx.execute(&bump, &[]).await?;
            $tx.commit().await?;
            Ok(out)
        }
        .await
        .map_err(|e: StoreError| e.during($op))
    };
}

#[async_trait]
impl Store for PostgresStore {
    async fn begin_scan(&self, mut start: ScanStart) -> Result<ScanRecord> {
        validate::scan_start(&mut start)?;
        writing!(self, "beginning a scan", |tx| write::begin_scan(&tx, &start))
    }

    async fn commit_scan(&self, mut commit: ScanCommit) -> Result<ScanRecord> {
        let prepared = validate::commit(&mut commit)?;
        let inner = &self.inner;
        // Taken for the commit (a concurrent commit of this store reads the
        // database instead), put back once it is committed.
        let held = inner.cache.lock().ok().and_then(|mut c| c.take());
        let (rec, known) = writing!(self, "committing a scan", |tx| write::commit_scan(
            &tx,
            &commit,
            &prepared,
            &inner.fail,
            &inner.schema,
            held
        ))?;
        if let Ok(mut c) = inner.cache.lock() {
            *c = Some(known);
        }
        crate::delta::free_later(commit, prepared);
        Ok(rec)
    }

    async fn abort_scan(&self, scan: ScanId, reason: &str) -> Result<ScanRecord> {
        validate::text(reason, || "abort reason".to_owned())?;
        writing!(self, "aborting a scan", |tx| write::abort_scan(&tx, scan, reason))
    }

    async fn scan(&self, scan: ScanId) -> Result<ScanRecord> {
        reading!(self, "reading a scan", |tx| read::scan(&tx, scan))
    }

    async fn scans(&self, page: &PageRequest) -> Result<Page<ScanRecord>> {
        validate::page(page)?;
        reading!(self, "listing scans", |tx| read::scans(&tx, page))
    }

    async fn scan_results(&self, scan: ScanId) -> Result<Vec<RuleResult>> {
        reading!(self, "reading scan results", |tx| read::scan_results(&tx, scan))
    }

    async fn current_violations(&self, scopes: &[CoverageScope], include_closed: bool) -> Result<Vec<Violation>> {
        reading!(self, "reading current violations", |tx| read::current_violations(&tx, scopes, include_closed))
    }

    async fn violations(&self, query: &ViolationQuery) -> Result<Page<Violation>> {
        validate::violation_filter(&query.filter)?;
        validate::page(&query.page)?;
        reading!(self, "listing violations", |tx| read::violations(&tx, query))
    }

    async fn violation_history(&self, key: &ViolationKey) -> Result<Vec<HistoryEntry>> {
        validate::key(key)?;
        reading!(self, "reading violation history", |tx| read::violation_history(&tx, key))
    }

    async fn asset(&self, id: &AssetId) -> Result<AssetRecord> {
        validate::asset_id(id, "asset")?;
        reading!(self, "reading an asset", |tx| read::asset(&tx, id))
    }

    async fn assets(&self, query: &AssetQuery) -> Result<Page<AssetRecord>> {
        validate::asset_filter(&query.filter)?;
        validate::page(&query.page)?;
        reading!(self, "listing assets", |tx| read::assets(&tx, query))
    }

    async fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        validate::search(text, limit)?;
        reading!(self, "searching", |tx| read::search(&tx, text, limit))
    }

    async fn put_exception(&self, mut exception: Exception, mut by: Stamp) -> Result<ExceptionRecord> {
        let doc = validate::exception(&mut exception)?;
        validate::stamp(&mut by)?;
        writing!(self, "storing an exception", |tx| write::put_exception(&tx, exception, &doc, by))
    }

    async fn delete_exception(&self, id: &str) -> Result<()> {
        validate::id(id, || "exception id".to_owned())?;
        writing!(self, "deleting an exception", |tx| write::delete(&tx, write::Keyed::Exception, id))
    }

    async fn exceptions(&self) -> Result<Vec<ExceptionRecord>> {
        reading!(self, "listing exceptions", |tx| read::exceptions(&tx))
    }

    async fn put_group(&self, group: AssetGroup, mut by: Stamp) -> Result<AssetGroupRecord> {
        let doc = validate::group(&group)?;
        validate::stamp(&mut by)?;
        writing!(self, "storing an asset group", |tx| write::put_group(&tx, group, &doc, by))
    }

    async fn delete_group(&self, name: &str) -> Result<()> {
        validate::id(name, || "asset group name".to_owned())?;
        writing!(self, "deleting an asset group", |tx| write::delete(&tx, write::Keyed::Group, name))
    }

    async fn groups(&self) -> Result<Vec<AssetGroupRecord>> {
        reading!(self, "listing asset groups", |tx| read::groups(&tx))
    }

    async fn put_policies(&self, policies: Vec<PolicyMeta>, at: DateTime<Utc>) -> Result<()> {
        let docs = policies.iter().map(validate::policy).collect::<Result<Vec<_>>>()?;
        let at = crate::codec::trunc(at);
        let ids: Vec<String> = policies.into_iter().map(|p| p.id).collect();
        writing!(self, "storing policies", |tx| write::put_policies(&tx, ids, docs, at))
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>> {
        reading!(self, "listing policies", |tx| read::policies(&tx))
    }

    async fn compliance_trend(&self, query: &TrendQuery) -> Result<Vec<ComplianceSnapshot>> {
        validate::trend(query)?;
        reading!(self, "reading compliance trends", |tx| read::compliance_trend(&tx, query))
    }

    async fn put_fix_record(&self, mut record: FixRecord) -> Result<FixRecord> {
        let data = validate::fix_record(&mut record)?;
        writing!(self, "storing an auto-fix record", |tx| write::put_fix_record(&tx, record, &data))
    }

    async fn fix_record(&self, id: &str) -> Result<FixRecord> {
        validate::id(id, || "auto-fix record id".to_owned())?;
        reading!(self, "reading an auto-fix record", |tx| read::fix_record(&tx, id))
    }

    async fn fix_records(&self, filter: &FixFilter) -> Result<Vec<FixRecord>> {
        validate::fix_filter(filter)?;
        reading!(self, "listing auto-fix records", |tx| read::fix_records(&tx, filter))
    }

    async fn revision(&self) -> Result<u64> {
        async {
            let client = self.client().await?;
            let stmt = client.prepare_cached("SELECT seq FROM revision").await?;
            let seq: i64 = client.query_one(&stmt, &[]).await?.try_get(0)?;
            Ok(u64::try_from(seq).unwrap_or_default())
        }
        .await
        .map_err(|e: StoreError| e.during("reading the revision"))
    }
}
