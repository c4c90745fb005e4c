//! [`MemoryStore`]: everything in process memory, for tests, examples and
//! one-shot scans. Always available.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pacbot_core::{
    Asset, AssetGroup, AssetId, CoverageScope, Exception, PolicyMeta, ResourceKind, ScopeStatus, Violation,
    ViolationKey,
};

use crate::codec::{fold, trunc};
use crate::error::{Result, StoreError};
use crate::keyset::{self, List};
use crate::model::{
    AssetFilter, AssetGroupRecord, AssetQuery, AssetRecord, ComplianceSnapshot, ExceptionRecord, FixFilter, FixRecord,
    HistoryEntry, MatchedField, Page, PageRequest, PolicyRecord, RuleResult, ScanCommit, ScanId, ScanRecord, ScanStart,
    ScanStatus, SearchHit, Stamp, TagFilter, TrendQuery, ViolationFilter, ViolationQuery,
};
use crate::store::Store;
use crate::summary::{FailPoint, WriteBudget, Written, summarize};
use crate::validate;

/// A store in process memory.
///
/// All data lives behind one lock; a commit checks and stages everything
/// first and then applies it without a failure point, so it is atomic like
/// the database backends. Nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    fail: FailPoint,
}

#[derive(Debug, Default)]
struct State {
    last_scan: u64,
    scans: BTreeMap<ScanId, ScanRecord>,
    /// The commit clock: how many scans committed (see the crate docs, "Scans of one scope").
    commits: u64,
    /// The clock when each scan began.
    began_at: HashMap<ScanId, u64>,
    /// Per scope, the clock of the last commit that covered it, and its scan.
    scope_commits: HashMap<CoverageScope, (u64, ScanId)>,
    results: BTreeMap<ScanId, Vec<RuleResult>>,
    assets: BTreeMap<AssetId, Stored>,
    violations: BTreeMap<ViolationKey, Violation>,
    history: HashMap<ViolationKey, Vec<HistoryEntry>>,
    snapshots: Vec<ComplianceSnapshot>,
    exceptions: BTreeMap<String, ExceptionRecord>,
    groups: BTreeMap<String, AssetGroupRecord>,
    policies: BTreeMap<String, PolicyRecord>,
    fixes: BTreeMap<String, FixRecord>,
    /// [`Store::revision`]: advanced, under the lock, by every write that succeeds.
    revision: u64,
}

#[derive(Clone, Debug)]
struct Stored {
    record: AssetRecord,
    /// (key, value), sorted by key.
    tags: Vec<(String, String)>,
    /// When it was last stored, rewritten, removed or back.
    changed_at: DateTime<Utc>,
}

impl Stored {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|i| self.tags[i].1.as_str())
    }

    fn has_tags(&self, filters: &[TagFilter]) -> bool {
        filters.iter().all(|f| match (self.tag(&f.key), &f.value) {
            (Some(v), Some(want)) => v == want,
            (Some(_), None) => true,
            (None, _) => false,
        })
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend {
        backend: "memory",
        operation: "taking the store lock".to_owned(),
        retryable: false,
        source: "a thread panicked while holding it".into(),
    }
}

fn any_of<T: PartialEq + ?Sized>(wanted: &[impl std::borrow::Borrow<T>], value: &T) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w.borrow() == value)
}

fn kind_in(kinds: &[ResourceKind], kind: &ResourceKind) -> bool {
    kinds.is_empty() || kinds.contains(kind)
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next commit fail after `writes` row writes (conformance suite).
    #[cfg(feature = "testing")]
    pub(crate) fn arm_failure(&self, writes: usize) {
        self.fail.arm(writes);
    }

    /// The row writes of the last successful commit (conformance suite).
    #[cfg(feature = "testing")]
    pub(crate) fn last_commit_writes(&self) -> u64 {
        self.fail.last_writes()
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(|_| poisoned())
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.state.write().map_err(|_| poisoned())
    }
}

fn running(st: &State, scan: ScanId) -> Result<&ScanRecord> {
    let rec = st.scans.get(&scan).ok_or_else(|| StoreError::not_found("scan", scan))?;
    if rec.status != ScanStatus::Running {
        return Err(StoreError::ScanNotRunning { scan, status: rec.status });
    }
    Ok(rec)
}

fn in_scope(id: &AssetId, scope: &CoverageScope) -> bool {
    id.provider == scope.provider && id.account == scope.account && id.region == scope.region && id.kind == scope.kind
}

fn asset_matches(s: &Stored, f: &AssetFilter) -> bool {
    let id = &s.record.asset.id;
    (f.include_removed || !s.record.is_removed())
        && f.changed_since.is_none_or(|t| s.changed_at >= trunc(t))
        && any_of::<str>(&f.providers, &id.provider)
        && any_of::<str>(&f.accounts, &id.account)
        && any_of::<str>(&f.regions, &id.region)
        && kind_in(&f.kinds, &id.kind)
        && s.has_tags(&f.tags)
        && f.criteria.as_ref().is_none_or(|c| c.criteria.matches(&s.record.asset, c.at))
}

fn violation_matches(v: &Violation, asset: Option<&Stored>, f: &ViolationFilter) -> bool {
    let id = &v.key.asset;
    let asset_ok = if f.tags.is_empty() && f.criteria.is_none() {
        true
    } else {
        asset.is_some_and(|a| {
            a.has_tags(&f.tags) && f.criteria.as_ref().is_none_or(|c| c.criteria.matches(&a.record.asset, c.at))
        })
    };
    any_of::<str>(&f.policies, &v.key.policy_id)
        && (f.severities.is_empty() || f.severities.contains(&v.severity))
        && (f.categories.is_empty() || f.categories.contains(&v.category))
        && (f.statuses.is_empty() || f.statuses.contains(&v.status))
        && any_of::<str>(&f.providers, &id.provider)
        && any_of::<str>(&f.accounts, &id.account)
        && any_of::<str>(&f.regions, &id.region)
        && kind_in(&f.kinds, &id.kind)
        && f.asset.as_ref().is_none_or(|a| a == id)
        && f.changed_since.is_none_or(|t| v.modified_at >= trunc(t))
        && asset_ok
}

#[async_trait]
impl Store for MemoryStore {
    async fn begin_scan(&self, mut start: ScanStart) -> Result<ScanRecord> {
        validate::scan_start(&mut start)?;
        let mut st = self.write()?;
        st.last_scan += 1;
        let id = ScanId::new(st.last_scan);
        let rec = ScanRecord {
            id,
            label: start.label,
            started_at: start.started_at,
            finished_at: None,
            status: ScanStatus::Running,
            counts: Default::default(),
            failed_scopes: Vec::new(),
            error: None,
        };
        st.scans.insert(id, rec.clone());
        let clock = st.commits;
        st.began_at.insert(id, clock);
        st.revision += 1;
        Ok(rec)
    }

    async fn commit_scan(&self, mut commit: ScanCommit) -> Result<ScanRecord> {
        validate::commit(&mut commit)?;
        validate::distinct_assets(&commit.assets)?;
        let mut st = self.write()?;
        let at = running(&st, commit.scan)?.started_at;
        let began = st.began_at.get(&commit.scan).copied().unwrap_or_default();
        for (scope, _) in commit.coverage.scopes() {
            if let Some(&(seq, by)) = st.scope_commits.get(scope)
                && seq > began
            {
                return Err(StoreError::scope_conflict(commit.scan, scope, by));
            }
        }
        let mut budget = WriteBudget::new(self.fail.take());

        // Stage every change; nothing below the staging can fail. The budget
        // counts the rows a database would write: a rescan writes only what changed.
        let complete: HashSet<CoverageScope> =
            commit.coverage.scopes().filter(|(_, s)| **s == ScopeStatus::Complete).map(|(s, _)| s.clone()).collect();
        let mut staged_assets = Vec::with_capacity(commit.assets.len());
        let (mut new, mut changed) = (0u64, 0u64);
        for a in &commit.assets {
            let (first_seen, changed_at) = match st.assets.get(&a.id) {
                Some(old) => {
                    let o = &old.record.asset;
                    let changed_at = if old.record.is_removed()
                        || o.name != a.name
                        || o.attributes != a.attributes
                        || o.tags != a.tags
                    {
                        validate::asset_doc(a)?;
                        budget.tick()?;
                        changed += 1;
                        at
                    } else {
                        if !complete.contains(&a.id.scope()) {
                            budget.tick()?; // the last-seen time
                        }
                        old.changed_at
                    };
                    (o.first_seen.unwrap_or(at), changed_at)
                }
                None => {
                    validate::asset_doc(a)?;
                    budget.tick()?;
                    new += 1;
                    (at, at)
                }
            };
            let mut asset = a.clone();
            asset.first_seen = Some(first_seen);
            asset.last_seen = Some(at);
            let tags = a.tags.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            staged_assets.push(Stored { record: AssetRecord { asset, removed_at: None }, tags, changed_at });
        }
        let seen: HashSet<&AssetId> = commit.assets.iter().map(|a| &a.id).collect();
        let mut removed = Vec::new();
        for (scope, status) in commit.coverage.scopes() {
            if *status != ScopeStatus::Complete {
                continue;
            }
            let start = AssetId::new(&scope.provider, &scope.account, &scope.region, scope.kind.clone(), "");
            for (id, s) in st.assets.range(start..).take_while(|(id, _)| in_scope(id, scope)) {
                let seen_before = s.record.asset.last_seen.is_some_and(|t| t < at);
                if !s.record.is_removed() && seen_before && !seen.contains(id) {
                    budget.tick()?;
                    removed.push(id.clone());
                }
            }
        }
        // Violations that changed, transitions that changed a status,
        // snapshots, results, the scopes, their last complete scans and the scan record.
        let changed_violations: Vec<bool> =
            commit.violations.iter().map(|v| st.violations.get(&v.key) != Some(v)).collect();
        let violations_written = changed_violations.iter().filter(|c| **c).count();
        let transitions = commit.transitions.iter().filter(|t| t.kind.is_change()).count();
        let scopes = commit.coverage.scopes().count() + complete.len();
        // The scopes' commit clock (one row each, and the clock's row).
        let clock_rows = commit.coverage.scopes().count() + 1;
        let rows =
            violations_written + transitions + commit.snapshots.len() + commit.results.len() + scopes + clock_rows;
        for _ in 0..=rows {
            budget.tick()?;
        }
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        let written = Written { new, changed, removed: n(removed.len()), violations: n(violations_written) };
        let (status, counts, failed_scopes) = summarize(&commit, written);

        // Apply.
        let scan = commit.scan;
        for s in staged_assets {
            st.assets.insert(s.record.asset.id.clone(), s);
        }
        for id in removed {
            if let Some(s) = st.assets.get_mut(&id) {
                s.record.removed_at = Some(at);
                s.changed_at = at;
            }
        }
        for (v, changed) in commit.violations.into_iter().zip(changed_violations) {
            if changed {
                st.violations.insert(v.key.clone(), v);
            }
        }
        for t in commit.transitions.into_iter().filter(|t| t.kind.is_change()) {
            st.history.entry(t.key.clone()).or_default().push(HistoryEntry { scan, transition: t });
        }
        for report in commit.snapshots {
            st.snapshots.push(ComplianceSnapshot { scan, at, report });
        }
        st.results.insert(scan, commit.results);
        st.commits += 1;
        let clock = st.commits;
        for (scope, _) in commit.coverage.scopes() {
            st.scope_commits.insert(scope.clone(), (clock, scan));
        }
        st.began_at.remove(&scan);
        st.revision += 1;
        let rec = st.scans.get_mut(&scan).ok_or_else(|| StoreError::not_found("scan", scan))?;
        rec.status = status;
        rec.counts = counts;
        rec.failed_scopes = failed_scopes;
        rec.finished_at = Some(commit.finished_at);
        let rec = rec.clone();
        self.fail.record(&budget);
        Ok(rec)
    }

    async fn abort_scan(&self, scan: ScanId, reason: &str) -> Result<ScanRecord> {
        validate::text(reason, || "abort reason".to_owned())?;
        let mut st = self.write()?;
        running(&st, scan)?;
        st.began_at.remove(&scan);
        st.revision += 1;
        let rec = st.scans.get_mut(&scan).ok_or_else(|| StoreError::not_found("scan", scan))?;
        rec.status = ScanStatus::Aborted;
        rec.error = Some(reason.to_owned());
        rec.finished_at = Some(trunc(Utc::now()));
        Ok(rec.clone())
    }

    async fn scan(&self, scan: ScanId) -> Result<ScanRecord> {
        self.read()?.scans.get(&scan).cloned().ok_or_else(|| StoreError::not_found("scan", scan))
    }

    async fn scans(&self, page: &PageRequest) -> Result<Page<ScanRecord>> {
        validate::page(page)?;
        let order = crate::model::Order::Descending;
        let shape = [keyset::Shape::Int];
        let after = page.cursor.as_ref().map(|c| keyset::decode(c, List::Scans, "id", order, &shape)).transpose()?;
        let st = self.read()?;
        let items = st
            .scans
            .values()
            .map(|s| (vec![keyset::KeyPart::Int(i64::try_from(s.id.get()).unwrap_or(i64::MAX))], s.clone()))
            .collect();
        Ok(keyset::paginate(items, after, order, page.limit, List::Scans, "id"))
    }

    async fn scan_results(&self, scan: ScanId) -> Result<Vec<RuleResult>> {
        let st = self.read()?;
        if !st.scans.contains_key(&scan) {
            return Err(StoreError::not_found("scan", scan));
        }
        Ok(st.results.get(&scan).cloned().unwrap_or_default())
    }

    async fn current_violations(&self, scopes: &[CoverageScope], include_closed: bool) -> Result<Vec<Violation>> {
        let scopes: HashSet<&CoverageScope> = scopes.iter().collect();
        let st = self.read()?;
        Ok(st
            .violations
            .values()
            .filter(|v| (include_closed || v.is_active()) && scopes.contains(&v.key.asset.scope()))
            .cloned()
            .collect())
    }

    async fn violations(&self, q: &ViolationQuery) -> Result<Page<Violation>> {
        validate::violation_filter(&q.filter)?;
        validate::page(&q.page)?;
        let sort = q.sort.as_str();
        let after = q
            .page
            .cursor
            .as_ref()
            .map(|c| keyset::decode(c, List::Violations, sort, q.order, &keyset::violation_shape(q.sort)))
            .transpose()?;
        let st = self.read()?;
        let items = st
            .violations
            .values()
            .filter(|v| violation_matches(v, st.assets.get(&v.key.asset), &q.filter))
            .map(|v| (keyset::violation_key(v, q.sort), v.clone()))
            .collect();
        Ok(keyset::paginate(items, after, q.order, q.page.limit, List::Violations, sort))
    }

    async fn violation_history(&self, key: &ViolationKey) -> Result<Vec<HistoryEntry>> {
        validate::key(key)?;
        let st = self.read()?;
        if !st.violations.contains_key(key) {
            return Err(StoreError::not_found("violation", key));
        }
        Ok(st.history.get(key).cloned().unwrap_or_default())
    }

    async fn asset(&self, id: &AssetId) -> Result<AssetRecord> {
        validate::asset_id(id, "asset")?;
        let st = self.read()?;
        st.assets.get(id).map(|s| s.record.clone()).ok_or_else(|| StoreError::not_found("asset", id))
    }

    async fn assets(&self, q: &AssetQuery) -> Result<Page<AssetRecord>> {
        validate::asset_filter(&q.filter)?;
        validate::page(&q.page)?;
        let sort = q.sort.as_str();
        let after = q
            .page
            .cursor
            .as_ref()
            .map(|c| keyset::decode(c, List::Assets, sort, q.order, &keyset::asset_shape(q.sort)))
            .transpose()?;
        let st = self.read()?;
        let items = st
            .assets
            .values()
            .filter(|s| asset_matches(s, &q.filter))
            .map(|s| (keyset::asset_key(&s.record, q.sort), s.record.clone()))
            .collect();
        Ok(keyset::paginate(items, after, q.order, q.page.limit, List::Assets, sort))
    }

    async fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
        validate::search(text, limit)?;
        let needle = fold(text);
        let has = |hay: &str| fold(hay).contains(&needle);
        let st = self.read()?;
        let mut hits = Vec::new();
        for s in st.assets.values().filter(|s| !s.record.is_removed()) {
            if hits.len() == limit {
                return Ok(hits);
            }
            let a: &Asset = &s.record.asset;
            let matched = if has(&a.id.resource_id) {
                Some(MatchedField::ResourceId)
            } else if a.name.as_deref().is_some_and(has) {
                Some(MatchedField::Name)
            } else {
                s.tags.iter().find(|(_, v)| has(v)).map(|(k, _)| MatchedField::Tag { key: k.clone() })
            };
            if let Some(matched) = matched {
                hits.push(SearchHit::Asset { id: a.id.clone(), name: a.name.clone(), matched });
            }
        }
        for v in st.violations.values() {
            if hits.len() == limit {
                break;
            }
            if has(&v.reason) {
                hits.push(SearchHit::Violation { key: v.key.clone(), status: v.status, reason: v.reason.clone() });
            }
        }
        Ok(hits)
    }

    async fn put_exception(&self, mut exception: Exception, mut by: Stamp) -> Result<ExceptionRecord> {
        validate::exception(&mut exception)?;
        validate::stamp(&mut by)?;
        let mut st = self.write()?;
        let created = st.exceptions.get(&exception.id).map_or_else(|| by.clone(), |e| e.created.clone());
        let rec = ExceptionRecord { exception, created, updated: by };
        st.exceptions.insert(rec.exception.id.clone(), rec.clone());
        st.revision += 1;
        Ok(rec)
    }

    async fn delete_exception(&self, id: &str) -> Result<()> {
        validate::id(id, || "exception id".to_owned())?;
        let mut st = self.write()?;
        st.exceptions.remove(id).ok_or_else(|| StoreError::not_found("exception", id))?;
        st.revision += 1;
        Ok(())
    }

    async fn exceptions(&self) -> Result<Vec<ExceptionRecord>> {
        Ok(self.read()?.exceptions.values().cloned().collect())
    }

    async fn put_group(&self, group: AssetGroup, mut by: Stamp) -> Result<AssetGroupRecord> {
        validate::group(&group)?;
        validate::stamp(&mut by)?;
        let mut st = self.write()?;
        let created = st.groups.get(&group.name).map_or_else(|| by.clone(), |g| g.created.clone());
        let rec = AssetGroupRecord { group, created, updated: by };
        st.groups.insert(rec.group.name.clone(), rec.clone());
        st.revision += 1;
        Ok(rec)
    }

    async fn delete_group(&self, name: &str) -> Result<()> {
        validate::id(name, || "asset group name".to_owned())?;
        let mut st = self.write()?;
        st.groups.remove(name).ok_or_else(|| StoreError::not_found("asset group", name))?;
        st.revision += 1;
        Ok(())
    }

    async fn groups(&self) -> Result<Vec<AssetGroupRecord>> {
        Ok(self.read()?.groups.values().cloned().collect())
    }

    async fn put_policies(&self, policies: Vec<PolicyMeta>, at: DateTime<Utc>) -> Result<()> {
        for p in &policies {
            validate::policy(p)?;
        }
        let updated_at = trunc(at);
        let mut st = self.write()?;
        for meta in policies {
            st.policies.insert(meta.id.clone(), PolicyRecord { meta, updated_at });
        }
        st.revision += 1;
        Ok(())
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>> {
        Ok(self.read()?.policies.values().cloned().collect())
    }

    async fn compliance_trend(&self, q: &TrendQuery) -> Result<Vec<ComplianceSnapshot>> {
        validate::trend(q)?;
        let (since, until) = (q.since.map(trunc), q.until.map(trunc));
        let st = self.read()?;
        let mut out: Vec<ComplianceSnapshot> = st
            .snapshots
            .iter()
            .filter(|s| s.report.group == q.group && since.is_none_or(|t| s.at >= t) && until.is_none_or(|t| s.at < t))
            .cloned()
            .collect();
        out.sort_by_key(|s| (s.at, s.scan));
        let skip = out.len().saturating_sub(q.limit);
        Ok(out.split_off(skip))
    }

    async fn put_fix_record(&self, mut record: FixRecord) -> Result<FixRecord> {
        validate::fix_record(&mut record)?;
        let mut st = self.write()?;
        if let Some(old) = st.fixes.get(&record.id) {
            record.created_at = old.created_at;
        }
        st.fixes.insert(record.id.clone(), record.clone());
        st.revision += 1;
        Ok(record)
    }

    async fn fix_record(&self, id: &str) -> Result<FixRecord> {
        validate::id(id, || "auto-fix record id".to_owned())?;
        self.read()?.fixes.get(id).cloned().ok_or_else(|| StoreError::not_found("auto-fix record", id))
    }

    async fn fix_records(&self, f: &FixFilter) -> Result<Vec<FixRecord>> {
        validate::fix_filter(f)?;
        let st = self.read()?;
        let mut out: Vec<FixRecord> = st
            .fixes
            .values()
            .filter(|r| {
                f.kind.is_none_or(|k| r.kind == k)
                    && f.policy_id.as_ref().is_none_or(|p| *p == r.policy_id)
                    && f.asset.as_ref().is_none_or(|a| *a == r.asset)
                    && f.status.as_ref().is_none_or(|s| *s == r.status)
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn revision(&self) -> Result<u64> {
        Ok(self.read()?.revision)
    }
}
