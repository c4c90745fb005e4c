//! The [`Store`] trait backends implement, and [`StoreExt`], its conveniences.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pacbot_core::{
    AssetGroup, AssetId, Coverage, CoverageScope, Exception, ExceptionSet, PolicyMeta, Violation, ViolationKey,
};

use crate::error::{Result, StoreError};
use crate::limits::MAX_PAGE;
use crate::model::{
    Asset360, AssetFilter, AssetGroupRecord, AssetQuery, AssetRecord, ComplianceSnapshot, CriteriaFilter,
    ExceptionRecord, FixFilter, FixRecord, HistoryEntry, Page, PageRequest, PolicyRecord, RuleResult, ScanCommit,
    ScanId, ScanRecord, ScanStart, ScanStatus, SearchHit, Stamp, TrendQuery, ViolationFilter, ViolationQuery,
};

/// Persistence for scans, assets, violations and their history, exceptions,
/// asset groups, the policy catalogue, compliance snapshots and auto-fix records.
///
/// Object safe: use it as `Arc<dyn Store>`. Every backend passes the same
/// conformance suite (`pacbot_store::testing`, feature `testing`). Times are
/// kept to the microsecond (finer parts are dropped, as PostgreSQL does).
///
/// There is no operation that closes a violation: violations change only
/// through [`Store::commit_scan`], with what `reconcile` produced.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Starts a scan and returns its record (status running).
    async fn begin_scan(&self, start: ScanStart) -> Result<ScanRecord>;

    /// Commits everything a scan produced, atomically: on error nothing of
    /// it is stored. See [`ScanCommit`] for what is written. Returns the
    /// scan's record, now complete or partial (some scope failed).
    ///
    /// Fails with `NotFound` for an unknown scan, `ScanNotRunning` for one
    /// already committed or aborted, and `ScopeConflict` when another scan
    /// committed a scope of this one's coverage after this one began (its
    /// reconcile input may be stale; see the crate docs, *Scans of one scope*).
    async fn commit_scan(&self, commit: ScanCommit) -> Result<ScanRecord>;

    /// Gives up a running scan; it changes nothing else.
    async fn abort_scan(&self, scan: ScanId, reason: &str) -> Result<ScanRecord>;

    /// One scan.
    async fn scan(&self, scan: ScanId) -> Result<ScanRecord>;

    /// Scans, newest first.
    async fn scans(&self, page: &PageRequest) -> Result<Page<ScanRecord>>;

    /// The per-rule result counts a committed scan recorded.
    async fn scan_results(&self, scan: ScanId) -> Result<Vec<RuleResult>>;

    /// The violations of assets in these scopes — the `previous` input of
    /// `reconcile`: the active ones (open, exempted, unknown), and the closed
    /// ones too when `include_closed` (so a repeat failure re-opens rather
    /// than opens anew). Sorted by key.
    async fn current_violations(&self, scopes: &[CoverageScope], include_closed: bool) -> Result<Vec<Violation>>;

    /// A page of violations.
    async fn violations(&self, query: &ViolationQuery) -> Result<Page<Violation>>;

    /// A violation's transitions, oldest first.
    async fn violation_history(&self, key: &ViolationKey) -> Result<Vec<HistoryEntry>>;

    /// One asset (removed or not).
    async fn asset(&self, id: &AssetId) -> Result<AssetRecord>;

    /// A page of assets.
    async fn assets(&self, query: &AssetQuery) -> Result<Page<AssetRecord>>;

    /// Free-text search, ASCII case-insensitive, for `text` as a substring
    /// (`%`, `_` and quotes are plain characters) of current assets'
    /// resource ids, names and tag values — assets first, by identity — then
    /// of violation reasons, by key. At most `limit` hits (1 to
    /// [`crate::limits::MAX_PAGE`]).
    async fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>>;

    /// Stores an exception (validated), creating or replacing it by id.
    async fn put_exception(&self, exception: Exception, by: Stamp) -> Result<ExceptionRecord>;

    /// Deletes an exception; it stops applying at the next scan.
    async fn delete_exception(&self, id: &str) -> Result<()>;

    /// Every exception, by id.
    async fn exceptions(&self) -> Result<Vec<ExceptionRecord>>;

    /// Stores an asset group, creating or replacing it by name.
    async fn put_group(&self, group: AssetGroup, by: Stamp) -> Result<AssetGroupRecord>;

    /// Deletes an asset group.
    async fn delete_group(&self, name: &str) -> Result<()>;

    /// Every asset group, by name.
    async fn groups(&self) -> Result<Vec<AssetGroupRecord>>;

    /// Creates or replaces policies of the catalogue, by id.
    async fn put_policies(&self, policies: Vec<PolicyMeta>, at: DateTime<Utc>) -> Result<()>;

    /// The policy catalogue, by id.
    async fn policies(&self) -> Result<Vec<PolicyRecord>>;

    /// Compliance snapshots of one group (or overall), oldest first: the
    /// most recent `limit` in the range.
    async fn compliance_trend(&self, query: &TrendQuery) -> Result<Vec<ComplianceSnapshot>>;

    /// Creates or replaces an auto-fix record by id (its `created_at` kept
    /// from the first put). Returns the stored record.
    async fn put_fix_record(&self, record: FixRecord) -> Result<FixRecord>;

    /// One auto-fix record.
    async fn fix_record(&self, id: &str) -> Result<FixRecord>;

    /// Auto-fix records, oldest first (by creation time, then id).
    async fn fix_records(&self, filter: &FixFilter) -> Result<Vec<FixRecord>>;

    /// The store's revision: a number that changes whenever a write that a
    /// read could observe commits — a scan begun, committed or aborted, an
    /// exception or asset group stored or deleted, policies stored, an
    /// auto-fix record stored — and does not change otherwise (a read, a
    /// write that fails, changes nothing). For caches of read results: one
    /// computed after reading revision `r` is current as long as the
    /// revision is still `r`.
    ///
    /// It changes no earlier than the write becomes visible (the database
    /// backends advance it inside the writing transaction), so a result
    /// computed after reading `r` reflects at least every write before
    /// `r`. It is kept in the database: other instances and processes on
    /// the same SQLite file or PostgreSQL schema see each other's writes
    /// advance it. One point query; only equality is meaningful (it grows,
    /// but by no fixed step).
    async fn revision(&self) -> Result<u64>;
}

/// Conveniences built on [`Store`], for every store (`dyn Store` included).
#[async_trait]
pub trait StoreExt: Store {
    /// The `previous` input of `reconcile` for a scan with this coverage:
    /// every violation (closed included) of the scopes it attempted.
    async fn previous_violations(&self, coverage: &Coverage) -> Result<Vec<Violation>> {
        let scopes: Vec<CoverageScope> = coverage.scopes().map(|(s, _)| s.clone()).collect();
        self.current_violations(&scopes, true).await
    }

    /// Every violation matching a filter, by key (all pages).
    async fn all_violations(&self, filter: ViolationFilter) -> Result<Vec<Violation>> {
        let mut query = ViolationQuery { filter, page: PageRequest::first(MAX_PAGE), ..ViolationQuery::default() };
        let mut out = Vec::new();
        loop {
            let page = self.violations(&query).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => query.page.cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Every asset matching a filter, by identity (all pages).
    async fn all_assets(&self, filter: AssetFilter) -> Result<Vec<AssetRecord>> {
        let mut query = AssetQuery { filter, page: PageRequest::first(MAX_PAGE), ..AssetQuery::default() };
        let mut out = Vec::new();
        loop {
            let page = self.assets(&query).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => query.page.cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// One asset with its violations and their history.
    async fn asset_360(&self, id: &AssetId) -> Result<Asset360> {
        let asset = self.asset(id).await?;
        let filter = ViolationFilter { asset: Some(id.clone()), ..ViolationFilter::default() };
        let violations = self.all_violations(filter).await?;
        let mut history = Vec::new();
        for v in &violations {
            history.extend(self.violation_history(&v.key).await?);
        }
        Ok(Asset360 { asset, violations, history })
    }

    /// One exception.
    async fn exception(&self, id: &str) -> Result<ExceptionRecord> {
        let all = self.exceptions().await?;
        all.into_iter().find(|e| e.exception.id == id).ok_or_else(|| StoreError::not_found("exception", id))
    }

    /// Every stored exception, indexed for `reconcile`.
    async fn exception_set(&self) -> Result<ExceptionSet> {
        let all = self.exceptions().await?;
        Ok(ExceptionSet::new(all.into_iter().map(|e| e.exception)))
    }

    /// One asset group.
    async fn group(&self, name: &str) -> Result<AssetGroupRecord> {
        let all = self.groups().await?;
        all.into_iter().find(|g| g.group.name == name).ok_or_else(|| StoreError::not_found("asset group", name))
    }

    /// A filter for the members of a stored asset group, at a time.
    async fn group_filter(&self, name: &str, at: DateTime<Utc>) -> Result<CriteriaFilter> {
        let group = self.group(name).await?;
        Ok(CriteriaFilter { criteria: group.group.criteria, at })
    }

    /// One policy of the catalogue.
    async fn policy(&self, id: &str) -> Result<PolicyRecord> {
        let all = self.policies().await?;
        all.into_iter().find(|p| p.meta.id == id).ok_or_else(|| StoreError::not_found("policy", id))
    }

    /// The newest committed scan — complete or partial; running and aborted
    /// scans are skipped — if any.
    async fn latest_committed_scan(&self) -> Result<Option<ScanRecord>> {
        let mut page = PageRequest::first(MAX_PAGE);
        loop {
            let scans = self.scans(&page).await?;
            let found =
                scans.items.into_iter().find(|s| matches!(s.status, ScanStatus::Complete | ScanStatus::Partial));
            if found.is_some() {
                return Ok(found);
            }
            match scans.next {
                Some(next) => page.cursor = Some(next),
                None => return Ok(None),
            }
        }
    }

    /// The latest compliance snapshot of every stored asset group that has
    /// one, by group name (groups without a snapshot are left out; the
    /// overall snapshot is [`StoreExt::latest_compliance`] with `None`).
    async fn latest_compliance_by_group(&self) -> Result<BTreeMap<String, ComplianceSnapshot>> {
        let mut out = BTreeMap::new();
        for g in self.groups().await? {
            if let Some(snapshot) = self.latest_compliance(Some(&g.group.name)).await? {
                out.insert(g.group.name, snapshot);
            }
        }
        Ok(out)
    }

    /// The latest compliance snapshot of a group (or overall), if any.
    async fn latest_compliance(&self, group: Option<&str>) -> Result<Option<ComplianceSnapshot>> {
        let query = TrendQuery { group: group.map(str::to_owned), limit: 1, ..TrendQuery::default() };
        Ok(self.compliance_trend(&query).await?.pop())
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
