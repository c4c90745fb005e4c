//! Writes: scans (one transaction per commit, rows streamed with binary
//! `COPY`), exceptions, groups, policies, auto-fix records.

use std::collections::{BTreeSet, HashSet};

use hashbrown::HashMap;

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetGroup, AssetId, Exception, ScopeStatus};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::Tx;
use super::locks;
use super::read::{self, scan_key};
use super::sql::{Jsonb, int};
use crate::cache::{self, ScopeKey, ScopeRef, ScopesViolations, ViolationKeys, WriteCache};
use crate::codec::{enum_name, severity_rank};
use crate::delta::{self, AssetPlan, Known};
use crate::error::{Result, StoreError};
use crate::model::{
    AssetGroupRecord, ExceptionRecord, FixRecord, ScanCommit, ScanId, ScanRecord, ScanStart, ScanStatus, Stamp,
};
use crate::summary::{FailPoint, WriteBudget, Written, summarize};
use crate::validate::{self, PreparedCommit};

pub(super) async fn begin_scan(tx: &Tx<'_>, start: &ScanStart) -> Result<ScanRecord> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO scans (label, started_at, status, counts, failed_scopes, begin_seq)
             VALUES ($1, $2, 'running', '{}', '[]', (SELECT seq FROM commit_clock)) RETURNING id",
        )
        .await?;
    let id: i64 = tx.query_one(&stmt, &[&start.label, &start.started_at]).await?.try_get(0)?;
    read::scan(tx, ScanId::new(u64::try_from(id).unwrap_or_default())).await
}

/// Locks a running scan's row (so one commit or abort wins) and returns its
/// scan time and the commit clock when it began.
async fn lock_running(tx: &Tx<'_>, scan: ScanId) -> Result<(DateTime<Utc>, i64)> {
    let stmt = tx.prepare_cached("SELECT status, started_at, begin_seq FROM scans WHERE id = $1 FOR UPDATE").await?;
    let rows = tx.query(&stmt, &[&scan_key(scan)]).await?;
    let row = rows.first().ok_or_else(|| StoreError::not_found("scan", scan))?;
    let status: ScanStatus = crate::codec::parse_enum(row.try_get(0)?, "scan status")?;
    if status != ScanStatus::Running {
        return Err(StoreError::ScanNotRunning { scan, status });
    }
    Ok((row.try_get(1)?, row.try_get(2)?))
}

/// Refuses a commit when a scope of its coverage was committed by another
/// scan after this one began (see the crate docs, *Scans of one scope*).
/// Run under the shard locks, so a commit of the same scope in flight has
/// either ended (and is seen: each statement of a read-committed transaction
/// sees what committed before it) or waits for this one.
async fn check_scopes(tx: &Tx<'_>, c: &ScanCommit, began: i64) -> Result<()> {
    let mut columns: [Vec<&str>; 4] = Default::default();
    for (s, _) in c.coverage.scopes() {
        for (column, part) in columns.iter_mut().zip([&*s.provider, &*s.account, &*s.region, s.kind.as_str()]) {
            column.push(part);
        }
    }
    let stmt = tx
        .prepare_cached(
            "SELECT c.provider, c.account, c.region, c.kind, c.scan_id FROM scope_commits c
             JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s (provider, account, region, kind)
               ON c.provider = s.provider AND c.account = s.account AND c.region = s.region AND c.kind = s.kind
             WHERE c.seq > $5
             ORDER BY c.provider, c.account, c.region, c.kind
             LIMIT 1",
        )
        .await?;
    let [p, a, r, k] = &columns;
    if let Some(row) = tx.query_opt(&stmt, &[p, a, r, k, &began]).await? {
        let kind: String = row.try_get(3)?;
        let scope = pacbot_core::CoverageScope::new(
            row.try_get::<_, String>(0)?,
            row.try_get::<_, String>(1)?,
            row.try_get::<_, String>(2)?,
            kind.as_str(),
        );
        let by = u64::try_from(row.try_get::<_, i64>(4)?).unwrap_or_default();
        return Err(StoreError::scope_conflict(c.scan, &scope, ScanId::new(by)));
    }
    Ok(())
}

/// Advances the commit clock and stamps the commit's scopes with it. The
/// clock's row stays locked until the transaction ends, so commits take
/// their values in the order they become visible.
async fn stamp_scopes(tx: &Tx<'_>, c: &ScanCommit, budget: &mut WriteBudget) -> Result<i64> {
    budget.tick()?;
    let mut columns: [Vec<&str>; 4] = Default::default();
    for (s, _) in c.coverage.scopes() {
        budget.tick()?;
        for (column, part) in columns.iter_mut().zip([&*s.provider, &*s.account, &*s.region, s.kind.as_str()]) {
            column.push(part);
        }
    }
    let tick = tx.prepare_cached("UPDATE commit_clock SET seq = seq + 1 RETURNING seq").await?;
    let seq: i64 = tx.query_one(&tick, &[]).await?.try_get(0)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO scope_commits (provider, account, region, kind, seq, scan_id)
             SELECT s.*, $5, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s
             ORDER BY 1, 2, 3, 4
             ON CONFLICT (provider, account, region, kind) DO UPDATE SET seq = excluded.seq, scan_id = excluded.scan_id",
        )
        .await?;
    let [p, a, r, k] = &columns;
    tx.execute(&stmt, &[p, a, r, k, &seq, &scan_key(c.scan)]).await?;
    Ok(seq)
}

/// The staging tables a commit streams its rows into: temporary (one set
/// per connection), emptied at every commit, and created once per connection.
const STAGING: &str = r#"
CREATE TEMP TABLE pacbot_stage2_assets (
    provider text COLLATE "C", account text COLLATE "C", region text COLLATE "C", kind text COLLATE "C",
    resource_id text COLLATE "C", name text, attributes jsonb, tags jsonb, hash bigint, first_seen timestamptz,
    last_seen timestamptz, changed_at timestamptz, first_scan bigint, last_scan bigint
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE pacbot_stage2_violations (
    policy_id text COLLATE "C", rule_id text COLLATE "C", provider text COLLATE "C", account text COLLATE "C",
    region text COLLATE "C", kind text COLLATE "C", resource_id text COLLATE "C", status text, severity smallint,
    category text, reason text, details jsonb, exception_id text, created_at timestamptz, modified_at timestamptz,
    closed_at timestamptz, close_reason text, hash bigint
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE pacbot_stage2_transitions (
    seq bigint, policy_id text COLLATE "C", rule_id text COLLATE "C", provider text COLLATE "C",
    account text COLLATE "C", region text COLLATE "C", kind text COLLATE "C", resource_id text COLLATE "C",
    kind_of text, from_status text, to_status text, at timestamptz, reason text
) ON COMMIT DELETE ROWS;
"#;

async fn ensure_staging(tx: &Tx<'_>) -> Result<()> {
    // The last table of the batch: when it exists, they all do.
    let stmt = tx.prepare_cached("SELECT to_regclass('pg_temp.pacbot_stage2_transitions') IS NULL").await?;
    let missing: bool = tx.query_one(&stmt, &[]).await?.try_get(0)?;
    if missing {
        tx.batch_execute(STAGING).await?;
    }
    Ok(())
}

/// Above this many staged rows, the planner is given statistics of the staging table.
const ANALYZE_ABOVE: u64 = 10_000;

/// A commit writing more new rows than this, and more than a tenth of the
/// table, refreshes the table's statistics.
const ANALYZE_ABOVE_ROWS: usize = 10_000;

/// What a store keeps of its last commit: per scope, the stored assets and
/// the state fingerprints of the stored violations (see [`crate::cache`]).
pub(super) type Cache = WriteCache<(), i64>;

/// Below this many assets a commit writes into the indexes as it goes.
const BULK_ROWS: usize = 50_000;

/// Whether a commit of `rows` assets is a bulk load: many, and more than
/// twice what the table holds (by the planner's estimate). Rebuilding an
/// index costs about what its table holds; inserting into it row by row
/// (the GIN indexes of the documents above all) costs far more per row.
async fn bulk_load(tx: &Tx<'_>, rows: usize) -> Result<bool> {
    if rows < BULK_ROWS {
        return Ok(false);
    }
    let stmt =
        tx.prepare_cached("SELECT GREATEST(reltuples, 0)::float8 FROM pg_class WHERE oid = 'assets'::regclass").await?;
    let held: f64 = tx.query_one(&stmt, &[]).await?.try_get(0)?;
    #[allow(clippy::cast_precision_loss)]
    let rows = rows as f64;
    Ok(held * 2.0 < rows)
}

/// Drops the secondary indexes of `table` (not those of its keys and
/// constraints), returning the SQL that creates them again. Inside the
/// commit's transaction, which holds the table's lock: a commit that fails
/// keeps them, and nobody sees the table without them.
async fn drop_indexes(tx: &Tx<'_>, table: &str) -> Result<Vec<String>> {
    let stmt = tx
        .prepare_cached(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
             WHERE i.indrelid = $1::text::regclass AND NOT i.indisunique AND NOT i.indisprimary
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
             ORDER BY 1",
        )
        .await?;
    let mut sql = Vec::new();
    for row in tx.query(&stmt, &[&table]).await? {
        let name: String = row.try_get(0)?;
        tx.batch_execute(&format!("DROP INDEX {name}")).await?;
        sql.push(row.try_get(1)?);
    }
    Ok(sql)
}

/// A binary `COPY … FROM STDIN` in progress. Dropped unfinished (on an
/// error), it aborts the COPY.
type Copy = std::pin::Pin<Box<BinaryCopyInWriter>>;

async fn start_copy(tx: &Tx<'_>, copy: &str, types: &[Type]) -> Result<Copy> {
    let stmt = tx.prepare_cached(copy).await?;
    let sink = tx.copy_in(&stmt).await?;
    Ok(Box::pin(BinaryCopyInWriter::new(sink, types)))
}

pub(super) async fn commit_scan(
    tx: &Tx<'_>,
    c: &ScanCommit,
    prepared: &PreparedCommit,
    fail: &FailPoint,
    schema: &str,
    held: Option<Cache>,
) -> Result<(ScanRecord, Cache)> {
    let (at, began) = lock_running(tx, c.scan).await?;
    let scan = scan_key(c.scan);

    // Lock every shard the commit writes, in one global order (see `locks`).
    let mut shards: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    shards.extend(c.assets.iter().map(|a| (a.id.provider.as_str(), a.id.account.as_str(), a.id.region.as_str())));
    shards.extend(c.coverage.scopes().map(|(s, _)| (s.provider.as_str(), s.account.as_str(), s.region.as_str())));
    shards.extend(
        c.violations
            .iter()
            .map(|v| (v.key.asset.provider.as_str(), v.key.asset.account.as_str(), v.key.asset.region.as_str())),
    );
    locks::lock_shards(tx, schema, &shards).await?;
    check_scopes(tx, c, began).await?;
    // Read under the shard locks: a commit of these shards since is seen.
    let clock_stmt = tx.prepare_cached("SELECT seq FROM commit_clock").await?;
    let clock: i64 = tx.query_one(&clock_stmt, &[]).await?.try_get(0)?;
    let mut known = Cache::at(held, clock);
    ensure_staging(tx).await?;
    // A bulk load (the first scan of an estate) builds the secondary
    // indexes once, after the rows are in. Decided before the tables are
    // read, so that the table locks it takes come first.
    let rebuild = if bulk_load(tx, c.assets.len()).await? {
        tx.batch_execute(
            "LOCK TABLE assets, violations IN ACCESS EXCLUSIVE MODE; SET LOCAL maintenance_work_mem = '512MB'",
        )
        .await?;
        let mut sql = drop_indexes(tx, "assets").await?;
        sql.extend(drop_indexes(tx, "violations").await?);
        sql
    } else {
        Vec::new()
    };
    let mut budget = WriteBudget::new(fail.take());

    // Assets: what changed since the stored state, scope by scope; only
    // new and changed ones are staged and upserted (in key order, first seen kept).
    let (scopes, incoming) = delta::scopes(c)?;
    let mut plan = AssetPlan::default();
    let mut stored_before = 0;
    let seen_stmt = tx
        .prepare_cached(
            "SELECT seen_at FROM asset_scopes WHERE provider = $1 AND account = $2 AND region = $3 AND kind = $4",
        )
        .await?;
    let stored_stmt = tx
        .prepare_cached(
            "SELECT resource_id, hash, last_seen, removed_at IS NOT NULL FROM assets
             WHERE provider = $1 AND account = $2 AND region = $3 AND kind = $4",
        )
        .await?;
    let mut read_back = Vec::with_capacity(scopes.len());
    for w in &scopes {
        if let Some(held) = known.assets.remove(&cache::owned((w.provider, w.account, w.region, w.kind))) {
            read_back.push(held);
            continue;
        }
        let key: [&(dyn ToSql + Sync); 4] = [&w.provider, &w.account, &w.region, &w.kind];
        let seen = match tx.query_opt(&seen_stmt, &key).await? {
            Some(r) => Some(r.try_get::<_, DateTime<Utc>>(0)?.timestamp_micros()),
            None => None,
        };
        let mut stored = Vec::new();
        for r in tx.query(&stored_stmt, &key).await? {
            let resource_id: String = r.try_get(0)?;
            stored.push(Known {
                key: cache::asset_key(&resource_id),
                resource_id,
                handle: (),
                hash: r.try_get(1)?,
                last_seen: r.try_get::<_, DateTime<Utc>>(2)?.timestamp_micros(),
                removed: r.try_get(3)?,
            });
        }
        read_back.push((delta::by_key(stored)?, seen));
    }
    for (i, (w, (stored, seen))) in scopes.iter().zip(read_back).enumerate() {
        stored_before += stored.len();
        plan.merge(i, w, &incoming, stored, seen, at.timestamp_micros());
    }
    plan.sort_new(&c.assets);
    // New assets are copied straight into the table: the plan, made under
    // the shard locks, knows they are not stored (a row that is would fail
    // the commit on its key, and nothing would be written). Changed ones are
    // staged, in the same layout, and written over their rows.
    let mut hashes = Vec::with_capacity(plan.new.len() + plan.changed.len());
    if !plan.new.is_empty() {
        let copy =
            start_copy(tx, &format!("COPY assets ({ASSET_COLUMNS}) FROM STDIN (FORMAT binary)"), &ASSET_TYPES).await?;
        copy_assets(copy, &c.assets, &plan.new, (&at, scan), &mut budget, &mut hashes).await?;
    }
    if !plan.changed.is_empty() {
        let copy = start_copy(
            tx,
            &format!("COPY pacbot_stage2_assets ({ASSET_COLUMNS}) FROM STDIN (FORMAT binary)"),
            &ASSET_TYPES,
        )
        .await?;
        let changed: Vec<usize> = plan.changed.iter().map(|&(i, ())| i).collect();
        let staged = copy_assets(copy, &c.assets, &changed, (&at, scan), &mut budget, &mut hashes).await?;
        if staged > ANALYZE_ABOVE {
            tx.batch_execute("ANALYZE pacbot_stage2_assets").await?;
        }
        let rewrite = tx
            .prepare_cached(
                "UPDATE assets a SET name = s.name, attributes = s.attributes, tags = s.tags, hash = s.hash,
                                     last_seen = s.last_seen, changed_at = s.changed_at, last_scan = s.last_scan,
                                     removed_at = NULL
                 FROM pacbot_stage2_assets s
                 WHERE a.provider = s.provider AND a.account = s.account AND a.region = s.region
                   AND a.kind = s.kind AND a.resource_id = s.resource_id",
            )
            .await?;
        if tx.execute(&rewrite, &[]).await? != staged {
            return Err(StoreError::corrupt("assets", "a changed asset's row was not found"));
        }
    }
    let changed_hashes = hashes.split_off(plan.new.len().min(hashes.len()));
    plan.written(hashes.into_iter().map(|h| ((), h)), changed_hashes);
    for (i, stored, seen) in plan.after() {
        let w = &scopes[i];
        known.assets.insert(cache::owned((w.provider, w.account, w.region, w.kind)), (stored, seen));
    }

    // Unchanged assets outside a completed scope: their last-seen time. Gone ones: removed.
    let touched = id_columns(&c.assets, plan.touched.iter().map(|&(i, ())| i), &mut budget)?;
    let touch = tx
        .prepare_cached(
            "UPDATE assets a SET last_seen = $1, last_scan = $2
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  AS s (provider, account, region, kind, resource_id)
             WHERE a.provider = s.provider AND a.account = s.account AND a.region = s.region AND a.kind = s.kind
               AND a.resource_id = s.resource_id",
        )
        .await?;
    let [p, a, r, k, id] = &touched;
    tx.execute(&touch, &[&at, &scan, p, a, r, k, id]).await?;
    if !plan.restamped.is_empty() {
        let ids = id_columns(&c.assets, plan.restamped.iter().map(|&(i, (), _)| i), &mut budget)?;
        let prints: Vec<i64> = plan.restamped.iter().map(|&(_, (), print)| print).collect();
        let restamp = tx
            .prepare_cached(
                "UPDATE assets a SET hash = s.hash
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
                      AS s (provider, account, region, kind, resource_id, hash)
                 WHERE a.provider = s.provider AND a.account = s.account AND a.region = s.region
                   AND a.kind = s.kind AND a.resource_id = s.resource_id",
            )
            .await?;
        let [p, a, r, k, id] = &ids;
        tx.execute(&restamp, &[p, a, r, k, id, &prints]).await?;
    }
    let mut gone: [Vec<&str>; 5] = Default::default();
    let mut gone_seen: Vec<DateTime<Utc>> = Vec::with_capacity(plan.removed.len());
    for x in &plan.removed {
        budget.tick()?;
        let w = &scopes[x.scope];
        for (column, part) in gone.iter_mut().zip([w.provider, w.account, w.region, w.kind, &x.resource_id]) {
            column.push(part);
        }
        gone_seen.push(crate::codec::from_micros(x.last_seen, "asset last-seen time")?);
    }
    let remove = tx
        .prepare_cached(
            "UPDATE assets a SET removed_at = $1, changed_at = $1, last_seen = s.last_seen
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
                  AS s (provider, account, region, kind, resource_id, last_seen)
             WHERE a.provider = s.provider AND a.account = s.account AND a.region = s.region AND a.kind = s.kind
               AND a.resource_id = s.resource_id",
        )
        .await?;
    let [p, a, r, k, id] = &gone;
    tx.execute(&remove, &[&at, p, a, r, k, id, &gone_seen]).await?;

    // Coverage: every scope attempted, and the last complete scan of each complete one.
    let mut complete: [Vec<&str>; 4] = Default::default();
    let mut recorded: [Vec<&str>; 4] = Default::default();
    let mut errors: Vec<Option<&str>> = Vec::new();
    for (s, status) in c.coverage.scopes() {
        budget.tick()?;
        let parts = [s.provider.as_str(), s.account.as_str(), s.region.as_str(), s.kind.as_str()];
        for (column, part) in recorded.iter_mut().zip(parts) {
            column.push(part);
        }
        match status {
            ScopeStatus::Complete => {
                budget.tick()?;
                for (column, part) in complete.iter_mut().zip(parts) {
                    column.push(part);
                }
                errors.push(None);
            }
            ScopeStatus::Failed { error } => errors.push(Some(error.as_str())),
        }
    }
    let seen = tx
        .prepare_cached(
            "INSERT INTO asset_scopes (provider, account, region, kind, seen_at, scan_id)
             SELECT *, $1, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])
             ORDER BY 1, 2, 3, 4
             ON CONFLICT (provider, account, region, kind) DO UPDATE SET seen_at = excluded.seen_at,
                                                                        scan_id = excluded.scan_id
             WHERE excluded.seen_at > asset_scopes.seen_at",
        )
        .await?;
    let [p, a, r, k] = &complete;
    tx.execute(&seen, &[&at, &scan, p, a, r, k]).await?;
    let scopes_stmt = tx
        .prepare_cached(
            "INSERT INTO scan_scopes (scan_id, provider, account, region, kind, error)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])",
        )
        .await?;
    let [p, a, r, k] = &recorded;
    tx.execute(&scopes_stmt, &[&scan, p, a, r, k, &errors]).await?;

    // Per-rule results, as columns.
    let mut seqs = Vec::with_capacity(c.results.len());
    let mut names: [Vec<&str>; 2] = Default::default();
    let mut numbers: [Vec<i64>; 4] = Default::default();
    for (seq, rr) in (0_i64..).zip(&c.results) {
        budget.tick()?;
        seqs.push(seq);
        names[0].push(&rr.policy_id);
        names[1].push(&rr.rule_id);
        for (column, n) in numbers.iter_mut().zip([rr.passed, rr.failed, rr.errors, rr.not_applicable]) {
            column.push(int(n));
        }
    }
    let add_results = tx
        .prepare_cached(
            "INSERT INTO scan_results (scan_id, seq, policy_id, rule_id, passed, failed, errors, not_applicable)
             SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[],
                                      $8::int8[])",
        )
        .await?;
    let ([policies, rules], [passed, failed, errored, not_applicable]) = (&names, &numbers);
    tx.execute(&add_results, &[&scan, &seqs, policies, rules, passed, failed, errored, not_applicable]).await?;

    // Violations in their new state (those equal to the stored ones are
    // left alone), then the transitions that changed a status.
    let mut stored = stored_violations(tx, c, &prepared.violation_keys, &mut known).await?;
    // Which violations are new (copied straight into the table, as new
    // assets are) and which changed (staged, then written over their rows).
    let (mut new, mut changed) = (Vec::new(), Vec::new());
    let mut violations_before = 0;
    let states = prepared.violation_hashes.iter().zip(&prepared.violation_keys);
    for (i, (hash, keys)) in states.enumerate() {
        let (_, in_scope) = stored
            .get_mut(&keys.scope)
            .ok_or_else(|| StoreError::corrupt("violations", "a scope of the commit was not read"))?;
        match in_scope.insert(keys.key, *hash) {
            None => new.push(i),
            Some(h) => {
                violations_before += 1;
                if h != *hash {
                    changed.push(i);
                }
            }
        }
    }
    let violations_written = delta::count(new.len()) + delta::count(changed.len());
    if !new.is_empty() {
        let copy = start_copy(
            tx,
            &format!("COPY violations ({VIOLATION_COLUMNS}) FROM STDIN (FORMAT binary)"),
            &VIOLATION_TYPES,
        )
        .await?;
        copy_violations(copy, c, prepared, &new, &mut budget).await?;
    }
    if !changed.is_empty() {
        let copy = start_copy(
            tx,
            &format!("COPY pacbot_stage2_violations ({VIOLATION_COLUMNS}) FROM STDIN (FORMAT binary)"),
            &VIOLATION_TYPES,
        )
        .await?;
        let staged = copy_violations(copy, c, prepared, &changed, &mut budget).await?;
        if staged > ANALYZE_ABOVE {
            tx.batch_execute("ANALYZE pacbot_stage2_violations").await?;
        }
        let rewrite = tx
            .prepare_cached(
                "UPDATE violations v SET status = s.status, severity = s.severity, category = s.category,
                                         reason = s.reason, details = s.details, exception_id = s.exception_id,
                                         created_at = s.created_at, modified_at = s.modified_at,
                                         closed_at = s.closed_at, close_reason = s.close_reason, hash = s.hash
                 FROM pacbot_stage2_violations s
                 WHERE v.policy_id = s.policy_id AND v.rule_id = s.rule_id AND v.provider = s.provider
                   AND v.account = s.account AND v.region = s.region AND v.kind = s.kind
                   AND v.resource_id = s.resource_id",
            )
            .await?;
        if tx.execute(&rewrite, &[]).await? != staged {
            return Err(StoreError::corrupt("violations", "a changed violation's row was not found"));
        }
    }
    for sql in &rebuild {
        tx.batch_execute(sql).await?;
    }
    // A commit that grew a table by a large part (the first scan of an
    // estate) refreshes its statistics, or the planner would plan the next
    // queries for the table it was (empty) until autovacuum comes by.
    let grew = |written: usize, before: usize| written > ANALYZE_ABOVE_ROWS.max(before / 10);
    if grew(plan.new.len(), stored_before) {
        tx.batch_execute("ANALYZE assets").await?;
    }
    for (scope, held) in stored.into_values() {
        known.violations.insert(cache::owned(scope), held);
    }
    if grew(usize::try_from(violations_written).unwrap_or(usize::MAX), violations_before) {
        tx.batch_execute("ANALYZE violations").await?;
    }

    let mut copy = start_copy(
        tx,
        "COPY pacbot_stage2_transitions (seq, policy_id, rule_id, provider, account, region, kind, resource_id,
                                        kind_of, from_status, to_status, at, reason)
         FROM STDIN (FORMAT binary)",
        &[
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TEXT,
        ],
    )
    .await?;
    let changes = c.transitions.iter().filter(|t| t.kind.is_change());
    let mut staged_transitions = 0u64;
    for (seq, t) in (0_i64..).zip(changes) {
        budget.tick()?;
        staged_transitions += 1;
        let k = &t.key;
        let row: [&(dyn ToSql + Sync); 13] = [
            &seq,
            &k.policy_id,
            &k.rule_id,
            &k.asset.provider,
            &k.asset.account,
            &k.asset.region,
            &k.asset.kind.as_str(),
            &k.asset.resource_id,
            &t.kind.as_str(),
            &t.from.map(|s| s.as_str()),
            &t.to.as_str(),
            &t.at,
            &t.reason,
        ];
        copy.as_mut().write(&row).await?;
    }
    copy.as_mut().finish().await?;
    let add = tx
        .prepare_cached(
            "INSERT INTO transitions (violation_pk, scan_id, kind, from_status, to_status, at, reason)
             SELECT v.pk, $1, t.kind_of, t.from_status, t.to_status, t.at, t.reason
             FROM pacbot_stage2_transitions t
             JOIN violations v ON v.policy_id = t.policy_id AND v.rule_id = t.rule_id AND v.provider = t.provider
                              AND v.account = t.account AND v.region = t.region AND v.kind = t.kind
                              AND v.resource_id = t.resource_id
             ORDER BY t.seq",
        )
        .await?;
    let written = tx.execute(&add, &[&scan]).await?;
    if written != staged_transitions {
        return Err(StoreError::corrupt("transitions", "a transition found no violation to attach to"));
    }

    let add = tx
        .prepare_cached("INSERT INTO snapshots (scan_id, group_name, at, report) VALUES ($1, $2, $3, $4::text::jsonb)")
        .await?;
    for (report, json) in c.snapshots.iter().zip(&prepared.snapshots) {
        budget.tick()?;
        tx.execute(&add, &[&scan, &report.group, &at, json]).await?;
    }

    let seq = stamp_scopes(tx, c, &mut budget).await?;
    if seq != clock + 1 {
        // Others committed (other shards) since the clock was read: what
        // is known of this commit's own scopes, which its locks kept to
        // itself, holds; the rest may not.
        let own: HashSet<ScopeKey> = scopes
            .iter()
            .map(|w| cache::owned((w.provider, w.account, w.region, w.kind)))
            .chain(c.violations.iter().map(|v| cache::owned(scope_of(&v.key.asset))))
            .collect();
        known.assets.retain(|k, _| own.contains(k));
        known.violations.retain(|k, _| own.contains(k));
    }
    known.clock = seq;
    budget.tick()?;
    let (new, changed, removed) = plan.counts();
    let (status, counts, failed) = summarize(c, Written { new, changed, removed, violations: violations_written });
    let counts = serde_json::to_string(&counts).map_err(|e| StoreError::invalid("scan counts", e.to_string()))?;
    let failed = serde_json::to_string(&failed).map_err(|e| StoreError::invalid("failed scopes", e.to_string()))?;
    let finish = tx
        .prepare_cached(
            "UPDATE scans SET status = $2, counts = $3::text::jsonb, failed_scopes = $4::text::jsonb,
                              finished_at = $5
             WHERE id = $1",
        )
        .await?;
    tx.execute(&finish, &[&scan, &status.as_str(), &counts, &failed, &c.finished_at]).await?;
    let rec = read::scan(tx, c.scan).await?;
    fail.record(&budget);
    Ok((rec, known))
}

/// The columns of an asset row, as [`copy_assets`] writes it to `assets`
/// (new assets) or to its staging table (changed ones), and their types.
const ASSET_COLUMNS: &str = "provider, account, region, kind, resource_id, name, attributes, tags, hash, first_seen, \
                             last_seen, changed_at, first_scan, last_scan";
const ASSET_TYPES: [Type; 14] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::JSONB,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
];

/// Streams the assets `which` (indices into `assets`), seen at `at` by scan
/// `scan`, into a `COPY` of [`ASSET_COLUMNS`] and finishes it: how many were
/// written. Their fingerprints are pushed onto `hashes`, in order.
async fn copy_assets(
    mut copy: Copy,
    assets: &[Asset],
    which: &[usize],
    (at, scan): (&DateTime<Utc>, i64),
    budget: &mut WriteBudget,
    hashes: &mut Vec<i64>,
) -> Result<u64> {
    for &i in which {
        budget.tick()?;
        let a = &assets[i];
        let p = validate::asset_doc(a)?;
        hashes.push(p.hash);
        let id = &a.id;
        let (attributes, tags) = (Jsonb(&p.attributes), Jsonb(&p.tags_json));
        let row: [&(dyn ToSql + Sync); 14] = [
            &id.provider,
            &id.account,
            &id.region,
            &id.kind.as_str(),
            &id.resource_id,
            &a.name,
            &attributes,
            &tags,
            &p.hash,
            at,
            at,
            at,
            &scan,
            &scan,
        ];
        copy.as_mut().write(&row).await?;
    }
    Ok(copy.as_mut().finish().await?)
}

/// The identities of the assets `which` (indices into `assets`) as five
/// columns (provider, account, region, kind, resource id), for `unnest`.
fn id_columns<'a>(
    assets: &'a [Asset],
    which: impl Iterator<Item = usize>,
    budget: &mut WriteBudget,
) -> Result<[Vec<&'a str>; 5]> {
    let mut columns: [Vec<&str>; 5] = Default::default();
    for i in which {
        budget.tick()?;
        let id = &assets[i].id;
        let parts = [id.provider.as_str(), &id.account, &id.region, id.kind.as_str(), &id.resource_id];
        for (column, part) in columns.iter_mut().zip(parts) {
            column.push(part);
        }
    }
    Ok(columns)
}

/// The columns of a violation row, as [`copy_violations`] writes it to
/// `violations` (new ones) or to its staging table (changed ones), and their types.
const VIOLATION_COLUMNS: &str = "policy_id, rule_id, provider, account, region, kind, resource_id, status, \
                                 severity, category, reason, details, exception_id, created_at, modified_at, \
                                 closed_at, close_reason, hash";
const VIOLATION_TYPES: [Type; 18] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT2,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::INT8,
];

/// Streams the violations `which` (indices into the commit's) into a
/// `COPY` of [`VIOLATION_TYPES`] rows and finishes it: how many were written.
async fn copy_violations(
    mut copy: Copy,
    c: &ScanCommit,
    prepared: &PreparedCommit,
    which: &[usize],
    budget: &mut WriteBudget,
) -> Result<u64> {
    for &i in which {
        budget.tick()?;
        let (v, hash) = (&c.violations[i], &prepared.violation_hashes[i]);
        let details = prepared.details[i].as_deref().map(Jsonb);
        let k = &v.key;
        let severity = i16::try_from(severity_rank(v.severity)).unwrap_or_default();
        let close_reason = v.close_reason.as_ref().map(enum_name);
        let row: [&(dyn ToSql + Sync); 18] = [
            &k.policy_id,
            &k.rule_id,
            &k.asset.provider,
            &k.asset.account,
            &k.asset.region,
            &k.asset.kind.as_str(),
            &k.asset.resource_id,
            &v.status.as_str(),
            &severity,
            &v.category.as_str(),
            &v.reason,
            &details,
            &v.exception_id,
            &v.created_at,
            &v.modified_at,
            &v.closed_at,
            &close_reason,
            hash,
        ];
        copy.as_mut().write(&row).await?;
    }
    Ok(copy.as_mut().finish().await?)
}

/// An asset's scope, as (provider, account, region, kind).
fn scope_of(a: &AssetId) -> ScopeRef<'_> {
    (&a.provider, &a.account, &a.region, a.kind.as_str())
}

/// The stored violations of each scope the commit's violations are in (by
/// scope key), by [`cache::violation_key`]: the fingerprint of their state.
/// From `known` where it holds the scope, else read scope by scope.
async fn stored_violations<'c>(
    tx: &Tx<'_>,
    c: &'c ScanCommit,
    keys: &[ViolationKeys],
    known: &mut Cache,
) -> Result<ScopesViolations<'c, i64>> {
    let scopes = cache::violation_scopes(&c.violations, keys);
    let stmt = tx
        .prepare_cached(
            "SELECT policy_id, rule_id, resource_id, hash FROM violations
             WHERE provider = $1 AND account = $2 AND region = $3 AND kind = $4",
        )
        .await?;
    let mut out = HashMap::with_capacity(scopes.len());
    for (scope, key) in scopes {
        if let Some(held) = known.violations.remove(&cache::owned(scope)) {
            out.insert(key, (scope, held));
            continue;
        }
        let (p, a, r, k) = scope;
        let mut held = HashMap::new();
        for row in tx.query(&stmt, &[&p, &a, &r, &k]).await? {
            let (policy, rule, rid): (&str, &str, &str) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            held.insert(cache::violation_key(policy, rule, rid), row.try_get(3)?);
        }
        out.insert(key, (scope, held));
    }
    Ok(out)
}

pub(super) async fn abort_scan(tx: &Tx<'_>, scan: ScanId, reason: &str) -> Result<ScanRecord> {
    lock_running(tx, scan).await?;
    let stmt = tx.prepare_cached("UPDATE scans SET status = $2, error = $3, finished_at = $4 WHERE id = $1").await?;
    let now = crate::codec::trunc(Utc::now());
    tx.execute(&stmt, &[&scan_key(scan), &ScanStatus::Aborted.as_str(), &reason, &now]).await?;
    read::scan(tx, scan).await
}

pub(super) async fn put_exception(tx: &Tx<'_>, e: Exception, doc: &str, by: Stamp) -> Result<ExceptionRecord> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO exceptions (id, doc, created_by, created_at, updated_by, updated_at)
             VALUES ($1, $2::text::jsonb, $3, $4, $3, $4)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by,
                                            updated_at = excluded.updated_at
             RETURNING created_by, created_at",
        )
        .await?;
    let row = tx.query_one(&stmt, &[&e.id, &doc, &by.by, &by.at]).await?;
    let created = Stamp { by: row.try_get(0)?, at: row.try_get(1)? };
    Ok(ExceptionRecord { exception: e, created, updated: by })
}

pub(super) async fn put_group(tx: &Tx<'_>, g: AssetGroup, doc: &str, by: Stamp) -> Result<AssetGroupRecord> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO asset_groups (name, doc, created_by, created_at, updated_by, updated_at)
             VALUES ($1, $2::text::jsonb, $3, $4, $3, $4)
             ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by,
                                              updated_at = excluded.updated_at
             RETURNING created_by, created_at",
        )
        .await?;
    let row = tx.query_one(&stmt, &[&g.name, &doc, &by.by, &by.at]).await?;
    let created = Stamp { by: row.try_get(0)?, at: row.try_get(1)? };
    Ok(AssetGroupRecord { group: g, created, updated: by })
}

/// A record deleted by its key.
#[derive(Clone, Copy, Debug)]
pub(super) enum Keyed {
    Exception,
    Group,
}

/// Deletes one row by key; `NotFound` when there is none.
pub(super) async fn delete(tx: &Tx<'_>, keyed: Keyed, id: &str) -> Result<()> {
    let (sql, what) = match keyed {
        Keyed::Exception => ("DELETE FROM exceptions WHERE id = $1", "exception"),
        Keyed::Group => ("DELETE FROM asset_groups WHERE name = $1", "asset group"),
    };
    let stmt = tx.prepare_cached(sql).await?;
    if tx.execute(&stmt, &[&id]).await? == 0 {
        return Err(StoreError::not_found(what, id));
    }
    Ok(())
}

pub(super) async fn put_policies(tx: &Tx<'_>, ids: Vec<String>, docs: Vec<String>, at: DateTime<Utc>) -> Result<()> {
    // By id, so concurrent writers lock the rows in one order; the last of a repeated id wins.
    let mut rows: Vec<(String, String)> = ids.into_iter().zip(docs).collect();
    rows.reverse();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.dedup_by(|a, b| a.0 == b.0);
    let (ids, docs): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO policies (id, doc, updated_at)
             SELECT id, doc::jsonb, $3 FROM unnest($1::text[], $2::text[]) AS p (id, doc)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        )
        .await?;
    tx.execute(&stmt, &[&ids, &docs, &at]).await?;
    Ok(())
}

pub(super) async fn put_fix_record(tx: &Tx<'_>, mut r: FixRecord, data: &str) -> Result<FixRecord> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO fix_records (id, kind, policy_id, provider, account, region, asset_kind, resource_id,
                                      status, data, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, $12)
             ON CONFLICT (id) DO UPDATE SET
                 kind = excluded.kind, policy_id = excluded.policy_id, provider = excluded.provider,
                 account = excluded.account, region = excluded.region, asset_kind = excluded.asset_kind,
                 resource_id = excluded.resource_id, status = excluded.status, data = excluded.data,
                 updated_at = excluded.updated_at
             RETURNING created_at",
        )
        .await?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &r.id,
                &r.kind.as_str(),
                &r.policy_id,
                &r.asset.provider,
                &r.asset.account,
                &r.asset.region,
                &r.asset.kind.as_str(),
                &r.asset.resource_id,
                &r.status,
                &data,
                &r.created_at,
                &r.updated_at,
            ],
        )
        .await?;
    r.created_at = row.try_get(0)?;
    Ok(r)
}
