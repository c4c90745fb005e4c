//! Reads: decoding rows, and the filtered, keyset-paginated queries.

use std::collections::BTreeMap;

use pacbot_core::{
    Asset, AssetGroup, AssetId, CoverageScope, Exception, PolicyMeta, Transition, Violation, ViolationKey,
};
use tokio_postgres::Row;

use super::Tx;
use super::sql::{Col, Kind, Where, count, int, json, json_opt, limit, order_by};
use crate::codec::{fold, parse_enum, severity_from_rank};
use crate::error::{Result, StoreError};
use crate::filter_sql::{asset_terms, criteria_in_sql, fix_terms, violation_terms};
use crate::keyset::{self, KeyPart, List};
use crate::model::{
    AssetGroupRecord, AssetQuery, AssetRecord, AssetSort, ComplianceSnapshot, ExceptionRecord, FixFilter, FixRecord,
    HistoryEntry, MatchedField, Order, Page, PageRequest, PolicyRecord, RuleResult, ScanId, ScanRecord, SearchHit,
    Stamp, TrendQuery, ViolationQuery, ViolationSort,
};

/// A scan id as `bigint`.
pub(super) fn scan_key(scan: ScanId) -> i64 {
    int(scan.get())
}

/// Runs a query through the connection's statement cache.
async fn query(tx: &Tx<'_>, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Vec<Row>> {
    let stmt = tx.prepare_cached(sql).await?;
    Ok(tx.query(&stmt, params).await?)
}

// ---- scans ----

const SCAN_COLS: &str = "id, label, started_at, finished_at, status, counts, failed_scopes, error";

fn decode_scan(r: &Row) -> Result<ScanRecord> {
    Ok(ScanRecord {
        id: ScanId::new(count(r, 0)?),
        label: r.try_get(1)?,
        started_at: r.try_get(2)?,
        finished_at: r.try_get(3)?,
        status: parse_enum(r.try_get(4)?, "scan status")?,
        counts: json(r, 5, "scan counts")?,
        failed_scopes: json(r, 6, "failed scopes")?,
        error: r.try_get(7)?,
    })
}

pub(super) async fn scan(tx: &Tx<'_>, scan: ScanId) -> Result<ScanRecord> {
    let rows = query(tx, &format!("SELECT {SCAN_COLS} FROM scans WHERE id = $1"), &[&scan_key(scan)]).await?;
    match rows.first() {
        Some(r) => decode_scan(r),
        None => Err(StoreError::not_found("scan", scan)),
    }
}

pub(super) async fn scans(tx: &Tx<'_>, page: &PageRequest) -> Result<Page<ScanRecord>> {
    let order = Order::Descending;
    let after = page
        .cursor
        .as_ref()
        .map(|cur| keyset::decode(cur, List::Scans, "id", order, &[keyset::Shape::Int]))
        .transpose()?;
    let before = match after.as_deref() {
        Some([KeyPart::Int(id)]) => Some(*id),
        _ => None,
    };
    let sql = format!("SELECT {SCAN_COLS} FROM scans WHERE ($1::int8 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2");
    let rows = query(tx, &sql, &[&before, &limit(page.limit + 1)]).await?;
    let mut items = rows.iter().map(decode_scan).collect::<Result<Vec<_>>>()?;
    let more = items.len() > page.limit;
    items.truncate(page.limit);
    let next = if more {
        items.last().map(|s| keyset::encode(List::Scans, "id", order, vec![KeyPart::Int(scan_key(s.id))]))
    } else {
        None
    };
    Ok(Page { items, next })
}

pub(super) async fn scan_results(tx: &Tx<'_>, id: ScanId) -> Result<Vec<RuleResult>> {
    scan(tx, id).await?;
    let rows = query(
        tx,
        "SELECT policy_id, rule_id, passed, failed, errors, not_applicable FROM scan_results
         WHERE scan_id = $1 ORDER BY seq",
        &[&scan_key(id)],
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RuleResult {
                policy_id: r.try_get(0)?,
                rule_id: r.try_get(1)?,
                passed: count(r, 2)?,
                failed: count(r, 3)?,
                errors: count(r, 4)?,
                not_applicable: count(r, 5)?,
            })
        })
        .collect()
}

// ---- violations ----

const VIOLATION_COLS: &str = "v.policy_id, v.rule_id, v.provider, v.account, v.region, v.kind, v.resource_id, \
     v.status, v.severity, v.category, v.reason, v.details, v.exception_id, v.created_at, v.modified_at, \
     v.closed_at, v.close_reason";
const VIOLATION_COL_COUNT: usize = 17;
const VIOLATION_KEY_COLS: [Col; 7] = [
    ("v.policy_id", Kind::Text),
    ("v.rule_id", Kind::Text),
    ("v.provider", Kind::Text),
    ("v.account", Kind::Text),
    ("v.region", Kind::Text),
    ("v.kind", Kind::Text),
    ("v.resource_id", Kind::Text),
];

fn decode_violation(r: &Row) -> Result<Violation> {
    let key = ViolationKey {
        policy_id: r.try_get(0)?,
        rule_id: r.try_get(1)?,
        asset: AssetId::new(
            r.try_get::<_, String>(2)?,
            r.try_get::<_, String>(3)?,
            r.try_get::<_, String>(4)?,
            r.try_get::<_, &str>(5)?,
            r.try_get::<_, String>(6)?,
        ),
    };
    let what = "violation";
    Ok(Violation {
        status: parse_enum(r.try_get(7)?, what)?,
        severity: severity_from_rank(i64::from(r.try_get::<_, i16>(8)?), what)?,
        category: parse_enum(r.try_get(9)?, what)?,
        reason: r.try_get(10)?,
        details: json_opt(r, 11, "violation details")?.unwrap_or(serde_json::Value::Null),
        exception_id: r.try_get(12)?,
        created_at: r.try_get(13)?,
        modified_at: r.try_get(14)?,
        closed_at: r.try_get(15)?,
        close_reason: r.try_get::<_, Option<&str>>(16)?.map(|s| parse_enum(s, what)).transpose()?,
        key,
    })
}

pub(super) async fn current_violations(
    tx: &Tx<'_>,
    scopes: &[CoverageScope],
    include_closed: bool,
) -> Result<Vec<Violation>> {
    let mut scopes: Vec<&CoverageScope> = scopes.iter().collect();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&CoverageScope) -> &str| scopes.iter().map(|s| f(s).to_owned()).collect::<Vec<String>>();
    let (providers, accounts) = (column(|s| &s.provider), column(|s| &s.account));
    let (regions, kinds) = (column(|s| &s.region), column(|s| s.kind.as_str()));
    let rows = query(
        tx,
        &format!(
            "SELECT {VIOLATION_COLS} FROM violations v
             JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s (provider, account, region, kind)
               ON v.provider = s.provider AND v.account = s.account AND v.region = s.region AND v.kind = s.kind
             WHERE $5 OR v.status <> 'closed'"
        ),
        &[&providers, &accounts, &regions, &kinds, &include_closed],
    )
    .await?;
    let mut out = rows.iter().map(decode_violation).collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Items with their sort keys, and whether more follow.
type Found<T> = (Vec<(Vec<KeyPart>, T)>, bool);

/// Runs a keyset query in batches until `limit + 1` items pass the
/// post-filter (criteria, evaluated in Rust) or the rows run out. `decode`
/// gives each row's item and whether it passes.
async fn keyset_pages<T>(
    tx: &Tx<'_>,
    run: impl Fn(Option<&[KeyPart]>, usize) -> Result<(String, Where)>,
    decode: impl Fn(&Row) -> Result<(T, bool)>,
    key: impl Fn(&T) -> Vec<KeyPart>,
    after: Option<Vec<KeyPart>>,
    limit: usize,
    post_filter: bool,
) -> Result<Found<T>> {
    let batch = if post_filter { (limit + 1).max(64) } else { limit + 1 };
    let mut pos = after;
    let mut out = Vec::new();
    loop {
        let (sql, w) = run(pos.as_deref(), batch)?;
        let rows = query(tx, &sql, &w.refs()).await?;
        let mut last = None;
        for r in &rows {
            let (item, keep) = decode(r)?;
            let k = key(&item);
            if keep {
                out.push((k.clone(), item));
                if out.len() > limit {
                    return Ok((out, true));
                }
            }
            last = Some(k);
        }
        if rows.len() < batch {
            return Ok((out, false));
        }
        pos = last;
    }
}

fn finish<T>(items: Found<T>, limit: usize, list: List, sort: &str, order: Order) -> Page<T> {
    let (mut items, more) = items;
    items.truncate(limit);
    let next = if more { items.last().map(|(k, _)| keyset::encode(list, sort, order, k.clone())) } else { None };
    Page { items: items.into_iter().map(|(_, t)| t).collect(), next }
}

pub(super) async fn violations(tx: &Tx<'_>, q: &ViolationQuery) -> Result<Page<Violation>> {
    let sort = q.sort.as_str();
    let after = q
        .page
        .cursor
        .as_ref()
        .map(|cur| keyset::decode(cur, List::Violations, sort, q.order, &keyset::violation_shape(q.sort)))
        .transpose()?;
    let f = &q.filter;
    let mut columns: Vec<Col> = match q.sort {
        ViolationSort::Key => vec![],
        ViolationSort::Severity => vec![("v.severity", Kind::Int)],
        ViolationSort::CreatedAt => vec![("v.created_at", Kind::Time)],
        ViolationSort::ModifiedAt => vec![("v.modified_at", Kind::Time)],
    };
    columns.extend(VIOLATION_KEY_COLS);
    let join_asset = !f.tags.is_empty() || f.criteria.is_some();
    // Criteria SQL cannot test are matched in Rust, on the decoded asset.
    let in_rust = f.criteria.as_ref().filter(|_| !criteria_in_sql(f.criteria.as_ref()));
    let run = |pos: Option<&[KeyPart]>, batch: usize| -> Result<(String, Where)> {
        let mut w = Where::default();
        violation_terms(&mut w, f, join_asset);
        if let Some(k) = pos {
            w.after(&columns, k, q.order)?;
        }
        let limit = w.param(limit(batch));
        // The asset of each violation, looked up by its key, violation by
        // violation in key order (`OFFSET 0` keeps the planner from turning
        // the lookup into a join of both whole tables, sorted afterwards: a
        // page needs a few dozen rows of each). Violations without a stored
        // asset match no asset filter.
        let (asset_cols, join) = if join_asset {
            (
                if in_rust.is_some() { format!(", {ASSET_COLS}") } else { String::new() },
                "JOIN LATERAL (SELECT * FROM assets a WHERE a.provider = v.provider AND a.account = v.account \
                 AND a.region = v.region AND a.kind = v.kind AND a.resource_id = v.resource_id OFFSET 0) a ON true",
            )
        } else {
            (String::new(), "")
        };
        let sql = format!(
            "SELECT {VIOLATION_COLS}{asset_cols} FROM violations v {join} {where_} ORDER BY {order} LIMIT {limit}",
            where_ = w.sql(),
            order = order_by(&columns, q.order),
        );
        Ok((sql, w))
    };
    let decode = |r: &Row| -> Result<(Violation, bool)> {
        let v = decode_violation(r)?;
        let keep = match in_rust {
            Some(cf) => cf.criteria.matches(&decode_asset(r, VIOLATION_COL_COUNT)?.asset, cf.at),
            None => true,
        };
        Ok((v, keep))
    };
    let key = |v: &Violation| keyset::violation_key(v, q.sort);
    let found = keyset_pages(tx, run, decode, key, after, q.page.limit, in_rust.is_some()).await?;
    Ok(finish(found, q.page.limit, List::Violations, sort, q.order))
}

pub(super) async fn violation_history(tx: &Tx<'_>, key: &ViolationKey) -> Result<Vec<HistoryEntry>> {
    let found = query(
        tx,
        "SELECT pk FROM violations WHERE policy_id = $1 AND rule_id = $2 AND provider = $3 AND account = $4
           AND region = $5 AND kind = $6 AND resource_id = $7",
        &[
            &key.policy_id,
            &key.rule_id,
            &key.asset.provider,
            &key.asset.account,
            &key.asset.region,
            &key.asset.kind.as_str(),
            &key.asset.resource_id,
        ],
    )
    .await?;
    let pk: i64 = found.first().ok_or_else(|| StoreError::not_found("violation", key))?.try_get(0)?;
    let rows = query(
        tx,
        "SELECT scan_id, kind, from_status, to_status, at, reason FROM transitions WHERE violation_pk = $1 ORDER BY pk",
        &[&pk],
    )
    .await?;
    let what = "transition";
    rows.iter()
        .map(|r| {
            Ok(HistoryEntry {
                scan: ScanId::new(count(r, 0)?),
                transition: Transition {
                    key: key.clone(),
                    kind: parse_enum(r.try_get(1)?, what)?,
                    from: r.try_get::<_, Option<&str>>(2)?.map(|s| parse_enum(s, what)).transpose()?,
                    to: parse_enum(r.try_get(3)?, what)?,
                    at: r.try_get(4)?,
                    reason: r.try_get(5)?,
                },
            })
        })
        .collect()
}

// ---- assets ----

const ASSET_COLS: &str = concat!(
    "a.provider, a.account, a.region, a.kind, a.resource_id, a.name, a.attributes, a.tags, a.first_seen, ",
    last_seen!(),
    ", a.removed_at"
);

/// An asset's last-seen time: its row's, or — while it is not removed — the
/// time of the latest scan that completed its scope, if later (a rescan
/// does not rewrite the assets it finds unchanged).
macro_rules! last_seen {
    () => {
        "(CASE WHEN a.removed_at IS NULL THEN GREATEST(a.last_seen, (SELECT s.seen_at FROM asset_scopes s \
         WHERE s.provider = a.provider AND s.account = a.account AND s.region = a.region AND s.kind = a.kind)) \
         ELSE a.last_seen END)"
    };
}
use last_seen;
const ASSET_KEY_COLS: [Col; 5] = [
    ("a.provider", Kind::Text),
    ("a.account", Kind::Text),
    ("a.region", Kind::Text),
    ("a.kind", Kind::Text),
    ("a.resource_id", Kind::Text),
];

/// An asset from the columns of [`ASSET_COLS`] starting at `at`.
fn decode_asset(r: &Row, at: usize) -> Result<AssetRecord> {
    let id = AssetId::new(
        r.try_get::<_, String>(at)?,
        r.try_get::<_, String>(at + 1)?,
        r.try_get::<_, String>(at + 2)?,
        r.try_get::<_, &str>(at + 3)?,
        r.try_get::<_, String>(at + 4)?,
    );
    let what = format!("asset `{id}`");
    let mut asset = Asset::new(id);
    asset.name = r.try_get(at + 5)?;
    asset.attributes = json(r, at + 6, &what)?;
    asset.tags = json(r, at + 7, &what)?;
    asset.first_seen = Some(r.try_get(at + 8)?);
    asset.last_seen = Some(r.try_get(at + 9)?);
    Ok(AssetRecord { asset, removed_at: r.try_get(at + 10)? })
}

pub(super) async fn asset(tx: &Tx<'_>, id: &AssetId) -> Result<AssetRecord> {
    let rows = query(
        tx,
        &format!(
            "SELECT {ASSET_COLS} FROM assets a
             WHERE a.provider = $1 AND a.account = $2 AND a.region = $3 AND a.kind = $4 AND a.resource_id = $5"
        ),
        &[&id.provider, &id.account, &id.region, &id.kind.as_str(), &id.resource_id],
    )
    .await?;
    match rows.first() {
        Some(r) => decode_asset(r, 0),
        None => Err(StoreError::not_found("asset", id)),
    }
}

pub(super) async fn assets(tx: &Tx<'_>, q: &AssetQuery) -> Result<Page<AssetRecord>> {
    let sort = q.sort.as_str();
    let after = q
        .page
        .cursor
        .as_ref()
        .map(|cur| keyset::decode(cur, List::Assets, sort, q.order, &keyset::asset_shape(q.sort)))
        .transpose()?;
    let f = &q.filter;
    let mut columns: Vec<Col> = match q.sort {
        AssetSort::Id => vec![],
        AssetSort::Name => vec![("COALESCE(a.name, '')", Kind::Text)],
        AssetSort::FirstSeen => vec![("a.first_seen", Kind::Time)],
        AssetSort::LastSeen => vec![(last_seen!(), Kind::Time)],
    };
    columns.extend(ASSET_KEY_COLS);
    let run = |pos: Option<&[KeyPart]>, batch: usize| -> Result<(String, Where)> {
        let mut w = Where::default();
        asset_terms(&mut w, f);
        if let Some(k) = pos {
            w.after(&columns, k, q.order)?;
        }
        let limit = w.param(limit(batch));
        let sql = format!(
            "SELECT {ASSET_COLS} FROM assets a {where_} ORDER BY {order} LIMIT {limit}",
            where_ = w.sql(),
            order = order_by(&columns, q.order),
        );
        Ok((sql, w))
    };
    let in_rust = f.criteria.as_ref().filter(|_| !criteria_in_sql(f.criteria.as_ref()));
    let decode = |r: &Row| -> Result<(AssetRecord, bool)> {
        let a = decode_asset(r, 0)?;
        let keep = in_rust.is_none_or(|cf| cf.criteria.matches(&a.asset, cf.at));
        Ok((a, keep))
    };
    let key = |a: &AssetRecord| keyset::asset_key(a, q.sort);
    let found = keyset_pages(tx, run, decode, key, after, q.page.limit, in_rust.is_some()).await?;
    Ok(finish(found, q.page.limit, List::Assets, sort, q.order))
}

// ---- search ----

pub(super) async fn search(tx: &Tx<'_>, text: &str, max: usize) -> Result<Vec<SearchHit>> {
    let needle = fold(text);
    let has = |hay: &str| fold(hay).contains(&needle);
    let mut hits = Vec::new();
    // `lower` folds ASCII only under the C collation, as `fold` does.
    let rows = query(
        tx,
        &format!(
            "SELECT {ASSET_COLS} FROM assets a
             WHERE a.removed_at IS NULL
               AND (strpos(lower(a.resource_id), $1) > 0 OR strpos(lower(COALESCE(a.name, '')), $1) > 0
                    OR EXISTS (SELECT 1 FROM jsonb_each_text(a.tags) t
                               WHERE strpos(lower(t.value COLLATE \"C\"), $1) > 0))
             ORDER BY a.provider, a.account, a.region, a.kind, a.resource_id
             LIMIT $2"
        ),
        &[&needle, &limit(max)],
    )
    .await?;
    for r in &rows {
        let a = decode_asset(r, 0)?.asset;
        let tags: BTreeMap<String, String> = json(r, 7, "asset tags")?;
        let matched = if has(&a.id.resource_id) {
            MatchedField::ResourceId
        } else if a.name.as_deref().is_some_and(has) {
            MatchedField::Name
        } else {
            match tags.iter().find(|(_, v)| has(v)) {
                Some((k, _)) => MatchedField::Tag { key: k.clone() },
                None => continue,
            }
        };
        hits.push(SearchHit::Asset { id: a.id, name: a.name, matched });
    }
    let rest = max.saturating_sub(hits.len());
    if rest == 0 {
        return Ok(hits);
    }
    let keys: Vec<&str> = VIOLATION_KEY_COLS.iter().map(|(c, _)| *c).collect();
    let rows = query(
        tx,
        &format!(
            "SELECT {VIOLATION_COLS} FROM violations v WHERE strpos(lower(v.reason), $1) > 0
             ORDER BY {} LIMIT $2",
            keys.join(", ")
        ),
        &[&needle, &limit(rest)],
    )
    .await?;
    for r in &rows {
        let v = decode_violation(r)?;
        hits.push(SearchHit::Violation { key: v.key, status: v.status, reason: v.reason });
    }
    Ok(hits)
}

// ---- exceptions, groups, policies, snapshots, auto-fix ----

fn stamp(r: &Row, by: usize, at: usize) -> Result<Stamp> {
    Ok(Stamp { by: r.try_get(by)?, at: r.try_get(at)? })
}

pub(super) async fn exceptions(tx: &Tx<'_>) -> Result<Vec<ExceptionRecord>> {
    let rows = query(tx, "SELECT doc, created_by, created_at, updated_by, updated_at FROM exceptions ORDER BY id", &[])
        .await?;
    rows.iter()
        .map(|r| {
            let exception: Exception = json(r, 0, "exception")?;
            Ok(ExceptionRecord { exception, created: stamp(r, 1, 2)?, updated: stamp(r, 3, 4)? })
        })
        .collect()
}

pub(super) async fn groups(tx: &Tx<'_>) -> Result<Vec<AssetGroupRecord>> {
    let rows =
        query(tx, "SELECT doc, created_by, created_at, updated_by, updated_at FROM asset_groups ORDER BY name", &[])
            .await?;
    rows.iter()
        .map(|r| {
            let group: AssetGroup = json(r, 0, "asset group")?;
            Ok(AssetGroupRecord { group, created: stamp(r, 1, 2)?, updated: stamp(r, 3, 4)? })
        })
        .collect()
}

pub(super) async fn policies(tx: &Tx<'_>) -> Result<Vec<PolicyRecord>> {
    let rows = query(tx, "SELECT doc, updated_at FROM policies ORDER BY id", &[]).await?;
    rows.iter()
        .map(|r| {
            let meta: PolicyMeta = json(r, 0, "policy")?;
            Ok(PolicyRecord { meta, updated_at: r.try_get(1)? })
        })
        .collect()
}

pub(super) async fn compliance_trend(tx: &Tx<'_>, q: &TrendQuery) -> Result<Vec<ComplianceSnapshot>> {
    let since = q.since.map(crate::codec::trunc);
    let until = q.until.map(crate::codec::trunc);
    let rows = query(
        tx,
        "SELECT scan_id, at, report FROM snapshots
         WHERE group_name IS NOT DISTINCT FROM $1::text
           AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3)
         ORDER BY at DESC, scan_id DESC, pk DESC LIMIT $4",
        &[&q.group, &since, &until, &limit(q.limit)],
    )
    .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(ComplianceSnapshot {
                scan: ScanId::new(count(r, 0)?),
                at: r.try_get(1)?,
                report: json(r, 2, "compliance snapshot")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

const FIX_COLS: &str =
    "id, kind, policy_id, provider, account, region, asset_kind, resource_id, status, data, created_at, updated_at";

fn decode_fix(r: &Row) -> Result<FixRecord> {
    let what = "auto-fix record";
    Ok(FixRecord {
        id: r.try_get(0)?,
        kind: parse_enum(r.try_get(1)?, what)?,
        policy_id: r.try_get(2)?,
        asset: AssetId::new(
            r.try_get::<_, String>(3)?,
            r.try_get::<_, String>(4)?,
            r.try_get::<_, String>(5)?,
            r.try_get::<_, &str>(6)?,
            r.try_get::<_, String>(7)?,
        ),
        status: r.try_get(8)?,
        data: json(r, 9, what)?,
        created_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
    })
}

pub(super) async fn fix_record(tx: &Tx<'_>, id: &str) -> Result<FixRecord> {
    let rows = query(tx, &format!("SELECT {FIX_COLS} FROM fix_records WHERE id = $1"), &[&id]).await?;
    match rows.first() {
        Some(r) => decode_fix(r),
        None => Err(StoreError::not_found("auto-fix record", id)),
    }
}

pub(super) async fn fix_records(tx: &Tx<'_>, f: &FixFilter) -> Result<Vec<FixRecord>> {
    let mut w = Where::default();
    fix_terms(&mut w, f);
    let sql = format!("SELECT {FIX_COLS} FROM fix_records {} ORDER BY created_at, id", w.sql());
    let rows = query(tx, &sql, &w.refs()).await?;
    rows.iter().map(decode_fix).collect()
}
