//! Writes: scans (one transaction per commit), exceptions, groups,
//! policies, auto-fix records.

use hashbrown::HashMap;

use chrono::{DateTime, Utc};
use pacbot_core::{AssetGroup, Exception, ScopeStatus};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::read;
use crate::cache::{self, ScopeRef, ScopesViolations, WriteCache, violation_key};
use crate::codec::{enum_name, from_micros, micros, severity_rank};
use crate::delta::{self, AssetPlan, Known, ScopeWork};
use crate::error::{Result, StoreError};
use crate::model::{
    AssetGroupRecord, ExceptionRecord, FixRecord, ScanCommit, ScanId, ScanRecord, ScanStart, ScanStatus, Stamp,
};
use crate::summary::{FailPoint, WriteBudget, Written, summarize};
use crate::validate::{self, PreparedCommit};

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How many serialized assets the helper thread of a commit may run ahead.
const DOCS_AHEAD: usize = 1024;

pub(super) fn scan_key(scan: ScanId) -> i64 {
    int(scan.get())
}

pub(super) fn begin_scan(conn: &mut Connection, start: ScanStart) -> Result<ScanRecord> {
    conn.execute(
        "INSERT INTO scans (label, started_at, status, counts, failed_scopes, begin_seq)
         VALUES (?1, ?2, ?3, '{}', '[]', (SELECT seq FROM commit_clock))",
        params![start.label, micros(start.started_at), ScanStatus::Running.as_str()],
    )?;
    let id = u64::try_from(conn.last_insert_rowid()).unwrap_or_default();
    read::scan(conn, ScanId::new(id))
}

/// The scan time of a running scan, and the commit clock when it began.
fn running(conn: &Connection, scan: ScanId) -> Result<(DateTime<Utc>, i64)> {
    let row: Option<(String, i64, i64)> = conn
        .query_row("SELECT status, started_at, begin_seq FROM scans WHERE id = ?1", [scan_key(scan)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (status, started, began) = row.ok_or_else(|| StoreError::not_found("scan", scan))?;
    let status: ScanStatus = crate::codec::parse_enum(&status, "scan status")?;
    if status != ScanStatus::Running {
        return Err(StoreError::ScanNotRunning { scan, status });
    }
    Ok((from_micros(started, "scan start time")?, began))
}

/// Refuses a commit when a scope of its coverage was committed by another
/// scan after this one began (see the crate docs, *Scans of one scope*).
fn check_scopes(tx: &Connection, c: &ScanCommit, began: i64) -> Result<()> {
    let mut last = tx.prepare_cached(
        "SELECT seq, scan_id FROM scope_commits WHERE provider = ?1 AND account = ?2 AND region = ?3 AND kind = ?4",
    )?;
    for (s, _) in c.coverage.scopes() {
        let found: Option<(i64, i64)> = last
            .query_row(params![s.provider, s.account, s.region, s.kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((seq, by)) = found
            && seq > began
        {
            return Err(StoreError::scope_conflict(c.scan, s, ScanId::new(u64::try_from(by).unwrap_or_default())));
        }
    }
    Ok(())
}

/// Advances the commit clock and stamps the commit's scopes with it.
fn stamp_scopes(tx: &Connection, c: &ScanCommit, budget: &mut WriteBudget) -> Result<i64> {
    budget.tick()?;
    let seq: i64 = tx.query_row("UPDATE commit_clock SET seq = seq + 1 RETURNING seq", [], |r| r.get(0))?;
    let mut stamp = tx.prepare_cached(
        "INSERT INTO scope_commits (provider, account, region, kind, seq, scan_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (provider, account, region, kind) DO UPDATE SET seq = excluded.seq, scan_id = excluded.scan_id",
    )?;
    for (s, _) in c.coverage.scopes() {
        budget.tick()?;
        stamp.execute(params![s.provider, s.account, s.region, s.kind.as_str(), seq, scan_key(c.scan)])?;
    }
    Ok(seq)
}

/// The stored assets of one scope, by key, and when its last complete scan
/// saw it.
fn stored_assets(tx: &Connection, w: &ScopeWork<'_>) -> Result<(Vec<Known<i64>>, Option<i64>)> {
    let scope = params![w.provider, w.account, w.region, w.kind];
    let seen: Option<i64> = tx
        .prepare_cached(
            "SELECT seen_at FROM asset_scopes WHERE provider = ?1 AND account = ?2 AND region = ?3 AND kind = ?4",
        )?
        .query_row(scope, |r| r.get(0))
        .optional()?;
    let mut stmt = tx.prepare_cached(
        "SELECT resource_id, pk, hash, last_seen, removed_at IS NOT NULL FROM assets
         WHERE provider = ?1 AND account = ?2 AND region = ?3 AND kind = ?4",
    )?;
    let mut rows = stmt.query(scope)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let resource_id: String = r.get(0)?;
        out.push(Known {
            key: cache::asset_key(&resource_id),
            resource_id,
            handle: r.get(1)?,
            hash: r.get(2)?,
            last_seen: r.get(3)?,
            removed: r.get(4)?,
        });
    }
    Ok((delta::by_key(out)?, seen))
}

/// What the writer keeps of its last commit: per scope, the stored assets
/// (by row key) and violations (row key and state fingerprint).
pub(super) type Cache = WriteCache<i64, (i64, i64)>;

/// The stored violations of one scope: (row key, state fingerprint) by
/// [`violation_key`].
fn stored_violations(tx: &Connection, scope: ScopeRef<'_>) -> Result<HashMap<u128, (i64, i64)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT policy_id, rule_id, resource_id, pk, hash FROM violations
         WHERE provider = ?1 AND account = ?2 AND region = ?3 AND kind = ?4",
    )?;
    let mut rows = stmt.query(params![scope.0, scope.1, scope.2, scope.3])?;
    let mut out = HashMap::new();
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> { r.get(i) };
    while let Some(r) = rows.next()? {
        let key = violation_key(&text(r, 0)?, &text(r, 1)?, &text(r, 2)?);
        out.insert(key, (r.get(3)?, r.get(4)?));
    }
    Ok(out)
}

/// Commits a scan. `cache` is what this writer knew after its last commit
/// (see [`crate::cache`]): used if nobody committed since, and replaced by
/// what it knows after this one — or emptied, when this one fails.
pub(super) fn commit_scan(
    conn: &mut Connection,
    c: &ScanCommit,
    prepared: PreparedCommit,
    fail: &FailPoint,
    cache: &mut Option<Cache>,
) -> Result<ScanRecord> {
    let held = cache.take();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let clock: i64 = tx.query_row("SELECT seq FROM commit_clock", [], |r| r.get(0))?;
    let mut known = Cache::at(held, clock);
    let (at, began) = running(&tx, c.scan)?;
    check_scopes(&tx, c, began)?;
    let at_us = micros(at);
    let scan = scan_key(c.scan);
    let mut budget = WriteBudget::new(fail.take());

    // Assets: what changed since the stored state, scope by scope.
    let (scopes, incoming) = delta::scopes(c)?;
    let mut plan = AssetPlan::default();
    let mut stored = Vec::with_capacity(scopes.len());
    for w in &scopes {
        stored.push(match known.assets.remove(&cache::owned((w.provider, w.account, w.region, w.kind))) {
            Some(held) => held,
            None => stored_assets(&tx, w)?,
        });
    }
    for (i, (w, (held, seen))) in scopes.iter().zip(stored).enumerate() {
        plan.merge(i, w, &incoming, held, seen, at_us);
    }
    plan.sort_new(&c.assets);
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO assets (provider, account, region, kind, resource_id, name, attributes, tags, hash,
                                 first_seen, last_seen, changed_at, first_scan, last_scan)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?10, ?11, ?11)",
        )?;
        // The keys of the new rows, in the order of `plan.new`.
        let mut new_rows: Vec<(i64, i64)> = Vec::with_capacity(plan.new.len());
        // Serializing the documents (a helper thread) overlaps writing the rows (this one).
        std::thread::scope(|threads| -> Result<()> {
            let (docs, ready) = std::sync::mpsc::sync_channel(DOCS_AHEAD);
            let (new, assets) = (&plan.new, &c.assets);
            threads.spawn(move || {
                for &i in new {
                    // The receiver gone (an error below), stop.
                    if docs.send(validate::asset_doc(&assets[i])).is_err() {
                        return;
                    }
                }
            });
            for (&i, doc) in plan.new.iter().zip(ready) {
                let a = &c.assets[i];
                budget.tick()?;
                let p = doc?;
                let id = &a.id;
                insert.execute(params![
                    id.provider,
                    id.account,
                    id.region,
                    id.kind.as_str(),
                    id.resource_id,
                    a.name,
                    p.attributes,
                    p.tags_json,
                    p.hash,
                    at_us,
                    scan
                ])?;
                new_rows.push((tx.last_insert_rowid(), p.hash));
            }
            Ok(())
        })?;
        let mut update = tx.prepare_cached(
            "UPDATE assets SET name = ?2, attributes = ?3, tags = ?4, hash = ?5, last_seen = ?6, changed_at = ?6,
                               last_scan = ?7, removed_at = NULL
             WHERE pk = ?1",
        )?;
        let mut changed_hashes = Vec::with_capacity(plan.changed.len());
        for &(i, pk) in &plan.changed {
            let a = &c.assets[i];
            budget.tick()?;
            let p = validate::asset_doc(a)?;
            changed_hashes.push(p.hash);
            update.execute(params![pk, a.name, p.attributes, p.tags_json, p.hash, at_us, scan])?;
        }
        let mut touch = tx.prepare_cached("UPDATE assets SET last_seen = ?2, last_scan = ?3 WHERE pk = ?1")?;
        for &(_, pk) in &plan.touched {
            budget.tick()?;
            touch.execute(params![pk, at_us, scan])?;
        }
        let mut restamp = tx.prepare_cached("UPDATE assets SET hash = ?2 WHERE pk = ?1")?;
        for (_, pk, hash) in &plan.restamped {
            budget.tick()?;
            restamp.execute(params![pk, hash])?;
        }
        let mut remove =
            tx.prepare_cached("UPDATE assets SET removed_at = ?2, changed_at = ?2, last_seen = ?3 WHERE pk = ?1")?;
        for r in &plan.removed {
            budget.tick()?;
            remove.execute(params![r.handle, at_us, r.last_seen])?;
        }
        plan.written(new_rows, changed_hashes);
        for (i, stored, seen) in plan.after() {
            let w = &scopes[i];
            known.assets.insert(cache::owned((w.provider, w.account, w.region, w.kind)), (stored, seen));
        }
    }

    // Coverage: every scope attempted, and the last complete scan of each complete one.
    {
        let mut add_scope = tx.prepare_cached(
            "INSERT INTO scan_scopes (scan_id, provider, account, region, kind, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut seen = tx.prepare_cached(
            "INSERT INTO asset_scopes (provider, account, region, kind, seen_at, scan_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (provider, account, region, kind) DO UPDATE SET seen_at = excluded.seen_at,
                                                                        scan_id = excluded.scan_id
             WHERE excluded.seen_at > asset_scopes.seen_at",
        )?;
        for (s, status) in c.coverage.scopes() {
            budget.tick()?;
            let error = match status {
                ScopeStatus::Complete => {
                    budget.tick()?;
                    seen.execute(params![s.provider, s.account, s.region, s.kind.as_str(), at_us, scan])?;
                    None
                }
                ScopeStatus::Failed { error } => Some(error.as_str()),
            };
            add_scope.execute(params![scan, s.provider, s.account, s.region, s.kind.as_str(), error])?;
        }
    }

    {
        let mut add = tx.prepare_cached(
            "INSERT INTO scan_results (scan_id, seq, policy_id, rule_id, passed, failed, errors, not_applicable)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (seq, r) in c.results.iter().enumerate() {
            budget.tick()?;
            add.execute(params![
                scan,
                int(u64::try_from(seq).unwrap_or(u64::MAX)),
                r.policy_id,
                r.rule_id,
                int(r.passed),
                int(r.failed),
                int(r.errors),
                int(r.not_applicable)
            ])?;
        }
    }

    // Violations in their new state (those equal to the stored ones are left
    // alone), then the transitions that changed a status.
    let mut written = 0u64;
    // The stored violations of each scope the commit's violations are in, by scope key.
    let mut stored: ScopesViolations<'_, (i64, i64)> = HashMap::new();
    for (scope, key) in cache::violation_scopes(&c.violations, &prepared.violation_keys) {
        let held = match known.violations.remove(&cache::owned(scope)) {
            Some(held) => held,
            None => stored_violations(&tx, scope)?,
        };
        stored.insert(key, (scope, held));
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO violations (policy_id, rule_id, provider, account, region, kind, resource_id, status,
                                     severity, category, reason, details, exception_id, created_at, modified_at,
                                     closed_at, close_reason, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE violations SET status = ?2, severity = ?3, category = ?4, reason = ?5, details = ?6,
                                   exception_id = ?7, created_at = ?8, modified_at = ?9, closed_at = ?10,
                                   close_reason = ?11, hash = ?12
             WHERE pk = ?1",
        )?;
        let states = prepared.details.iter().zip(&prepared.violation_hashes).zip(&prepared.violation_keys);
        for (v, ((details, &hash), keys)) in c.violations.iter().zip(states) {
            let k = &v.key;
            let a = &k.asset;
            let (_, in_scope) = stored
                .get_mut(&keys.scope)
                .ok_or_else(|| StoreError::corrupt("violations", "a scope of the commit was not read"))?;
            let found = in_scope.get(&keys.key).copied();
            let state = (
                v.status.as_str(),
                severity_rank(v.severity),
                v.category.as_str(),
                &v.reason,
                details,
                &v.exception_id,
                micros(v.created_at),
                micros(v.modified_at),
                v.closed_at.map(micros),
                v.close_reason.as_ref().map(enum_name),
            );
            let pk = match found {
                Some((pk, stored)) if stored == hash => pk,
                Some((pk, _)) => {
                    budget.tick()?;
                    let (st, sev, cat, reason, details, exc, created, modified, closed, close) = state;
                    update.execute(params![
                        pk, st, sev, cat, reason, details, exc, created, modified, closed, close, hash
                    ])?;
                    written += 1;
                    pk
                }
                None => {
                    budget.tick()?;
                    let (st, sev, cat, reason, details, exc, created, modified, closed, close) = state;
                    insert.execute(params![
                        k.policy_id,
                        k.rule_id,
                        a.provider,
                        a.account,
                        a.region,
                        a.kind.as_str(),
                        a.resource_id,
                        st,
                        sev,
                        cat,
                        reason,
                        details,
                        exc,
                        created,
                        modified,
                        closed,
                        close,
                        hash
                    ])?;
                    written += 1;
                    tx.last_insert_rowid()
                }
            };
            in_scope.insert(keys.key, (pk, hash));
        }
    }
    {
        let mut add = tx.prepare_cached(
            "INSERT INTO transitions (violation_pk, scan_id, kind, from_status, to_status, at, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (t, keys) in c.transitions.iter().zip(&prepared.transition_keys).filter(|(t, _)| t.kind.is_change()) {
            budget.tick()?;
            // Every violation of the commit is in its scope's map now, with its row.
            let pk =
                stored.get(&keys.scope).and_then(|(_, held)| held.get(&keys.key)).map(|&(pk, _)| pk).ok_or_else(
                    || StoreError::invalid("transition", format!("no violation `{}` in the scan", t.key)),
                )?;
            add.execute(params![
                pk,
                scan,
                t.kind.as_str(),
                t.from.map(|s| s.as_str()),
                t.to.as_str(),
                micros(t.at),
                t.reason
            ])?;
        }
    }
    for (scope, held) in stored.into_values() {
        known.violations.insert(cache::owned(scope), held);
    }
    {
        let mut add =
            tx.prepare_cached("INSERT INTO snapshots (scan_id, group_name, at, report) VALUES (?1, ?2, ?3, ?4)")?;
        for (r, json) in c.snapshots.iter().zip(&prepared.snapshots) {
            budget.tick()?;
            add.execute(params![scan, r.group, at_us, json])?;
        }
    }

    known.clock = stamp_scopes(&tx, c, &mut budget)?;
    budget.tick()?;
    let (new, changed, removed) = plan.counts();
    let (status, counts, failed) = summarize(c, Written { new, changed, removed, violations: written });
    let counts = serde_json::to_string(&counts).map_err(|e| StoreError::invalid("scan counts", e.to_string()))?;
    let failed = serde_json::to_string(&failed).map_err(|e| StoreError::invalid("failed scopes", e.to_string()))?;
    tx.execute(
        "UPDATE scans SET status = ?2, counts = ?3, failed_scopes = ?4, finished_at = ?5 WHERE id = ?1",
        params![scan, status.as_str(), counts, failed, micros(c.finished_at)],
    )?;
    let rec = read::scan(&tx, c.scan)?;
    tx.commit()?;
    *cache = Some(known);
    fail.record(&budget);
    Ok(rec)
}

pub(super) fn abort_scan(conn: &mut Connection, scan: ScanId, reason: &str) -> Result<ScanRecord> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    running(&tx, scan)?;
    tx.execute(
        "UPDATE scans SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
        params![scan_key(scan), ScanStatus::Aborted.as_str(), reason, micros(crate::codec::trunc(Utc::now()))],
    )?;
    let rec = read::scan(&tx, scan)?;
    tx.commit()?;
    Ok(rec)
}

fn stamp(r: &rusqlite::Row<'_>, by: usize, at: usize) -> Result<Stamp> {
    Ok(Stamp { by: r.get(by)?, at: from_micros(r.get(at)?, "time")? })
}

pub(super) fn put_exception(conn: &mut Connection, e: Exception, doc: &str, by: Stamp) -> Result<ExceptionRecord> {
    let created = conn.query_row(
        "INSERT INTO exceptions (id, doc, created_by, created_at, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by,
                                        updated_at = excluded.updated_at
         RETURNING created_by, created_at",
        params![e.id, doc, by.by, micros(by.at)],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    )?;
    let created = Stamp { by: created.0, at: from_micros(created.1, "exception creation time")? };
    Ok(ExceptionRecord { exception: e, created, updated: by })
}

pub(super) fn put_group(conn: &mut Connection, g: AssetGroup, doc: &str, by: Stamp) -> Result<AssetGroupRecord> {
    let mut stmt = conn.prepare(
        "INSERT INTO asset_groups (name, doc, created_by, created_at, updated_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_by = excluded.updated_by,
                                          updated_at = excluded.updated_at
         RETURNING created_by, created_at",
    )?;
    let mut rows = stmt.query(params![g.name, doc, by.by, micros(by.at)])?;
    let row = rows.next()?.ok_or_else(|| StoreError::corrupt("asset group", "the upsert returned nothing"))?;
    let created = stamp(row, 0, 1)?;
    Ok(AssetGroupRecord { group: g, created, updated: by })
}

/// Deletes one row by key; `NotFound` when there is none.
pub(super) fn delete(conn: &mut Connection, table: &str, column: &str, what: &'static str, id: &str) -> Result<()> {
    let n = conn.execute(&format!("DELETE FROM {table} WHERE {column} = ?1"), [id])?;
    if n == 0 {
        return Err(StoreError::not_found(what, id));
    }
    Ok(())
}

pub(super) fn put_policies(conn: &mut Connection, ids: &[String], docs: &[String], at: DateTime<Utc>) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO policies (id, doc, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        )?;
        for (id, doc) in ids.iter().zip(docs) {
            upsert.execute(params![id, doc, micros(at)])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn put_fix_record(conn: &mut Connection, mut r: FixRecord, data: &str) -> Result<FixRecord> {
    let created: i64 = conn.query_row(
        "INSERT INTO fix_records (id, kind, policy_id, provider, account, region, asset_kind, resource_id, status,
                                  data, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET
             kind = excluded.kind, policy_id = excluded.policy_id, provider = excluded.provider,
             account = excluded.account, region = excluded.region, asset_kind = excluded.asset_kind,
             resource_id = excluded.resource_id, status = excluded.status, data = excluded.data,
             updated_at = excluded.updated_at
         RETURNING created_at",
        params![
            r.id,
            r.kind.as_str(),
            r.policy_id,
            r.asset.provider,
            r.asset.account,
            r.asset.region,
            r.asset.kind.as_str(),
            r.asset.resource_id,
            r.status,
            data,
            micros(r.created_at),
            micros(r.updated_at)
        ],
        |row| row.get(0),
    )?;
    r.created_at = from_micros(created, "auto-fix record creation time")?;
    Ok(r)
}
