//! Reads: decoding rows, and the filtered, keyset-paginated queries.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use pacbot_core::{
    Asset, AssetGroup, AssetId, CoverageScope, Exception, PolicyMeta, Transition, Violation, ViolationKey,
};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::write::scan_key;
use crate::codec::{fold, from_micros, parse_enum, severity_from_rank};
use crate::error::{Result, StoreError};
use crate::filter_sql::{FilterSql, asset_terms, criteria_in_sql, fix_terms, violation_terms};
use crate::keyset::{self, KeyPart, List};
use crate::model::{
    AssetGroupRecord, AssetQuery, AssetRecord, AssetSort, ComplianceSnapshot, ExceptionRecord, FixFilter, FixRecord,
    HistoryEntry, MatchedField, Order, Page, PageRequest, PolicyRecord, RuleResult, ScanId, ScanRecord, SearchHit,
    Stamp, TagFilter, TrendQuery, ViolationQuery, ViolationSort,
};

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

// ---- scans ----

const SCAN_COLS: &str = "id, label, started_at, finished_at, status, counts, failed_scopes, error";

fn decode_scan(r: &Row<'_>) -> Result<ScanRecord> {
    Ok(ScanRecord {
        id: ScanId::new(count(r.get(0)?)),
        label: r.get(1)?,
        started_at: from_micros(r.get(2)?, "scan start time")?,
        finished_at: r.get::<_, Option<i64>>(3)?.map(|t| from_micros(t, "scan finish time")).transpose()?,
        status: parse_enum(&r.get::<_, String>(4)?, "scan status")?,
        counts: json(&r.get::<_, String>(5)?, "scan counts")?,
        failed_scopes: json(&r.get::<_, String>(6)?, "failed scopes")?,
        error: r.get(7)?,
    })
}

pub(super) fn scan(c: &Connection, scan: ScanId) -> Result<ScanRecord> {
    let mut stmt = c.prepare_cached(&format!("SELECT {SCAN_COLS} FROM scans WHERE id = ?1"))?;
    let mut rows = stmt.query([scan_key(scan)])?;
    match rows.next()? {
        Some(r) => decode_scan(r),
        None => Err(StoreError::not_found("scan", scan)),
    }
}

pub(super) fn scans(c: &Connection, page: &PageRequest) -> Result<Page<ScanRecord>> {
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
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SCAN_COLS} FROM scans WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2"
    ))?;
    let mut rows = stmt.query(params![before, i64::try_from(page.limit + 1).unwrap_or(i64::MAX)])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(decode_scan(r)?);
    }
    let more = items.len() > page.limit;
    items.truncate(page.limit);
    let next = if more {
        items.last().map(|s| keyset::encode(List::Scans, "id", order, vec![KeyPart::Int(scan_key(s.id))]))
    } else {
        None
    };
    Ok(Page { items, next })
}

pub(super) fn scan_results(c: &Connection, id: ScanId) -> Result<Vec<RuleResult>> {
    scan(c, id)?;
    let mut stmt = c.prepare_cached(
        "SELECT policy_id, rule_id, passed, failed, errors, not_applicable FROM scan_results
         WHERE scan_id = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([scan_key(id)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(RuleResult {
            policy_id: r.get(0)?,
            rule_id: r.get(1)?,
            passed: count(r.get(2)?),
            failed: count(r.get(3)?),
            errors: count(r.get(4)?),
            not_applicable: count(r.get(5)?),
        });
    }
    Ok(out)
}

// ---- violations ----

const VIOLATION_COLS: &str = "v.policy_id, v.rule_id, v.provider, v.account, v.region, v.kind, v.resource_id, \
     v.status, v.severity, v.category, v.reason, v.details, v.exception_id, v.created_at, v.modified_at, \
     v.closed_at, v.close_reason";
const VIOLATION_COL_COUNT: usize = 17;
const VIOLATION_KEY_COLS: [&str; 7] =
    ["v.policy_id", "v.rule_id", "v.provider", "v.account", "v.region", "v.kind", "v.resource_id"];

fn decode_violation(r: &Row<'_>) -> Result<Violation> {
    let key = ViolationKey {
        policy_id: r.get(0)?,
        rule_id: r.get(1)?,
        asset: AssetId::new(
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?.as_str(),
            r.get::<_, String>(6)?,
        ),
    };
    let what = "violation";
    Ok(Violation {
        status: parse_enum(&r.get::<_, String>(7)?, what)?,
        severity: severity_from_rank(r.get(8)?, what)?,
        category: parse_enum(&r.get::<_, String>(9)?, what)?,
        reason: r.get(10)?,
        details: match r.get::<_, Option<String>>(11)? {
            Some(t) => json(&t, "violation details")?,
            None => serde_json::Value::Null,
        },
        exception_id: r.get(12)?,
        created_at: from_micros(r.get(13)?, what)?,
        modified_at: from_micros(r.get(14)?, what)?,
        closed_at: r.get::<_, Option<i64>>(15)?.map(|t| from_micros(t, what)).transpose()?,
        close_reason: r.get::<_, Option<String>>(16)?.map(|s| parse_enum(&s, what)).transpose()?,
        key,
    })
}

pub(super) fn current_violations(
    c: &Connection,
    scopes: &[CoverageScope],
    include_closed: bool,
) -> Result<Vec<Violation>> {
    let mut scopes: Vec<&CoverageScope> = scopes.iter().collect();
    scopes.sort();
    scopes.dedup();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {VIOLATION_COLS} FROM violations v
         WHERE v.provider = ?1 AND v.account = ?2 AND v.region = ?3 AND v.kind = ?4
           AND (?5 OR v.status <> 'closed')"
    ))?;
    let mut out = Vec::new();
    for s in scopes {
        let mut rows = stmt.query(params![s.provider, s.account, s.region, s.kind.as_str(), include_closed])?;
        while let Some(r) = rows.next()? {
            out.push(decode_violation(r)?);
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// A WHERE clause under construction.
#[derive(Default)]
struct Where {
    terms: Vec<String>,
    params: Vec<Sql>,
}

impl Where {
    fn param(&mut self, v: Sql) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    fn any_of(&mut self, column: &str, values: Vec<Sql>) {
        if values.is_empty() {
            return;
        }
        let marks: Vec<String> = values.into_iter().map(|v| self.param(v)).collect();
        self.terms.push(format!("{column} IN ({})", marks.join(", ")));
    }

    /// `(columns) > (key)`, or `<` when descending.
    fn after(&mut self, columns: &[&str], key: &[KeyPart], order: Order) {
        let marks: Vec<String> = key
            .iter()
            .map(|k| {
                self.param(match k {
                    KeyPart::Int(i) => Sql::Integer(*i),
                    KeyPart::Text(t) => Sql::Text(t.clone()),
                })
            })
            .collect();
        let op = if order.is_descending() { "<" } else { ">" };
        self.terms.push(format!("({}) {op} ({})", columns.join(", "), marks.join(", ")));
    }

    fn sql(&self) -> String {
        if self.terms.is_empty() { String::new() } else { format!("WHERE {}", self.terms.join(" AND ")) }
    }
}

impl FilterSql for Where {
    fn term(&mut self, sql: String) {
        self.terms.push(sql);
    }

    fn texts(&mut self, column: &str, values: Vec<&str>) {
        self.any_of(column, values.into_iter().map(|v| Sql::Text(v.to_owned())).collect());
    }

    fn ints(&mut self, column: &str, values: Vec<i64>) {
        self.any_of(column, values.into_iter().map(Sql::Integer).collect());
    }

    fn time_at_least(&mut self, column: &str, t: DateTime<Utc>) {
        let mark = self.param(Sql::Integer(crate::codec::micros(t)));
        self.terms.push(format!("{column} >= {mark}"));
    }

    /// Tags are members of the asset's tags document.
    fn asset_tags(&mut self, tags: &[TagFilter]) {
        for t in tags {
            let term = self.tag(&t.key, t.value.as_deref());
            self.terms.push(term);
        }
    }

    fn text(&mut self, value: &str) -> String {
        self.param(Sql::Text(value.to_owned()))
    }

    fn tag(&mut self, key: &str, value: Option<&str>) -> String {
        let key = self.text(key);
        let value = match value {
            Some(v) => format!(" AND t.value = {}", self.text(v)),
            None => String::new(),
        };
        format!("EXISTS (SELECT 1 FROM json_each(a.tags) t WHERE t.key = {key}{value})")
    }
}

fn order_by(columns: &[&str], order: Order) -> String {
    let dir = if order.is_descending() { "DESC" } else { "ASC" };
    columns.iter().map(|c| format!("{c} {dir}")).collect::<Vec<_>>().join(", ")
}

/// Items with their sort keys, and whether more follow.
type Found<T> = (Vec<(Vec<KeyPart>, T)>, bool);

/// Runs a keyset query in batches until `limit + 1` items pass the
/// post-filter (criteria, evaluated in Rust) or the rows run out.
fn keyset_pages<T>(
    c: &Connection,
    mut run: impl FnMut(Option<&[KeyPart]>, usize) -> (String, Vec<Sql>),
    mut decode: impl FnMut(&Row<'_>) -> Result<Option<T>>,
    key: impl Fn(&T) -> Vec<KeyPart>,
    after: Option<Vec<KeyPart>>,
    limit: usize,
    post_filter: bool,
) -> Result<Found<T>> {
    let batch = if post_filter { (limit + 1).max(64) } else { limit + 1 };
    let mut pos = after;
    let mut out = Vec::new();
    loop {
        let (sql, params) = run(pos.as_deref(), batch);
        let mut stmt = c.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut n = 0;
        let mut last = None;
        while let Some(r) = rows.next()? {
            n += 1;
            match decode(r)? {
                Some(item) => {
                    let k = key(&item);
                    last = Some(k.clone());
                    out.push((k, item));
                    if out.len() > limit {
                        return Ok((out, true));
                    }
                }
                None => last = Some(skipped_key(r)?),
            }
        }
        if n < batch {
            return Ok((out, false));
        }
        pos = last;
    }
}

/// The key columns of a skipped row are selected last, as `k0`, `k1`, …
fn skipped_key(r: &Row<'_>) -> Result<Vec<KeyPart>> {
    let stmt = r.as_ref();
    let mut out = Vec::new();
    for i in 0..stmt.column_count() {
        if stmt.column_name(i).is_ok_and(|n| n.starts_with("k_")) {
            out.push(match r.get::<_, Sql>(i)? {
                Sql::Integer(n) => KeyPart::Int(n),
                Sql::Text(t) => KeyPart::Text(t),
                other => return Err(StoreError::corrupt("sort key", format!("unexpected value {other:?}"))),
            });
        }
    }
    Ok(out)
}

fn finish<T>(items: Found<T>, limit: usize, list: List, sort: &str, order: Order) -> Page<T> {
    let (mut items, more) = items;
    items.truncate(limit);
    let next = if more { items.last().map(|(k, _)| keyset::encode(list, sort, order, k.clone())) } else { None };
    Page { items: items.into_iter().map(|(_, t)| t).collect(), next }
}

fn limit_param(n: usize) -> Sql {
    Sql::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn key_select(columns: &[&str]) -> String {
    columns.iter().enumerate().map(|(i, c)| format!("{c} AS k_{i}")).collect::<Vec<_>>().join(", ")
}

pub(super) fn violations(c: &Connection, q: &ViolationQuery) -> Result<Page<Violation>> {
    let sort = q.sort.as_str();
    let after = q
        .page
        .cursor
        .as_ref()
        .map(|cur| keyset::decode(cur, List::Violations, sort, q.order, &keyset::violation_shape(q.sort)))
        .transpose()?;
    let f = &q.filter;
    let mut columns: Vec<&str> = match q.sort {
        ViolationSort::Key => vec![],
        ViolationSort::Severity => vec!["v.severity"],
        ViolationSort::CreatedAt => vec!["v.created_at"],
        ViolationSort::ModifiedAt => vec!["v.modified_at"],
    };
    columns.extend(VIOLATION_KEY_COLS);
    let join_asset = !f.tags.is_empty() || f.criteria.is_some();
    // Criteria SQL cannot test are matched in Rust, on the decoded asset.
    let in_rust = f.criteria.as_ref().filter(|_| !criteria_in_sql(f.criteria.as_ref()));
    let run = |pos: Option<&[KeyPart]>, batch: usize| {
        let mut w = Where::default();
        if join_asset {
            w.terms.push("a.pk IS NOT NULL".to_owned());
        }
        violation_terms(&mut w, f, join_asset);
        if let Some(k) = pos {
            w.after(&columns, k, q.order);
        }
        let limit = w.param(limit_param(batch));
        let asset_cols = if in_rust.is_some() { format!(", {ASSET_COLS}") } else { String::new() };
        let join = if join_asset {
            "LEFT JOIN assets a ON a.provider = v.provider AND a.account = v.account AND a.region = v.region \
             AND a.kind = v.kind AND a.resource_id = v.resource_id"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {VIOLATION_COLS}{asset_cols}, {keys} FROM violations v {join} {where_} ORDER BY {order} LIMIT {limit}",
            keys = key_select(&columns),
            where_ = w.sql(),
            order = order_by(&columns, q.order),
        );
        (sql, w.params)
    };
    let decode = |r: &Row<'_>| -> Result<Option<Violation>> {
        let v = decode_violation(r)?;
        if let Some(cf) = in_rust {
            let asset = decode_asset(r, VIOLATION_COL_COUNT)?;
            if !cf.criteria.matches(&asset.asset, cf.at) {
                return Ok(None);
            }
        }
        Ok(Some(v))
    };
    let key = |v: &Violation| keyset::violation_key(v, q.sort);
    let found = keyset_pages(c, run, decode, key, after, q.page.limit, in_rust.is_some())?;
    Ok(finish(found, q.page.limit, List::Violations, sort, q.order))
}

pub(super) fn violation_history(c: &Connection, key: &ViolationKey) -> Result<Vec<HistoryEntry>> {
    let pk: Option<i64> = c
        .query_row(
            "SELECT pk FROM violations WHERE policy_id = ?1 AND rule_id = ?2 AND provider = ?3 AND account = ?4
               AND region = ?5 AND kind = ?6 AND resource_id = ?7",
            params![
                key.policy_id,
                key.rule_id,
                key.asset.provider,
                key.asset.account,
                key.asset.region,
                key.asset.kind.as_str(),
                key.asset.resource_id
            ],
            |r| r.get(0),
        )
        .optional()?;
    let pk = pk.ok_or_else(|| StoreError::not_found("violation", key))?;
    let mut stmt = c.prepare_cached(
        "SELECT scan_id, kind, from_status, to_status, at, reason FROM transitions WHERE violation_pk = ?1 ORDER BY pk",
    )?;
    let mut rows = stmt.query([pk])?;
    let mut out = Vec::new();
    let what = "transition";
    while let Some(r) = rows.next()? {
        out.push(HistoryEntry {
            scan: ScanId::new(count(r.get(0)?)),
            transition: Transition {
                key: key.clone(),
                kind: parse_enum(&r.get::<_, String>(1)?, what)?,
                from: r.get::<_, Option<String>>(2)?.map(|s| parse_enum(&s, what)).transpose()?,
                to: parse_enum(&r.get::<_, String>(3)?, what)?,
                at: from_micros(r.get(4)?, what)?,
                reason: r.get(5)?,
            },
        });
    }
    Ok(out)
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
        "(CASE WHEN a.removed_at IS NULL THEN max(a.last_seen, COALESCE((SELECT s.seen_at FROM asset_scopes s \
         WHERE s.provider = a.provider AND s.account = a.account AND s.region = a.region AND s.kind = a.kind), 0)) \
         ELSE a.last_seen END)"
    };
}
use last_seen;
const ASSET_KEY_COLS: [&str; 5] = ["a.provider", "a.account", "a.region", "a.kind", "a.resource_id"];

/// An asset from the columns of [`ASSET_COLS`] starting at `at`.
fn decode_asset(r: &Row<'_>, at: usize) -> Result<AssetRecord> {
    let id = AssetId::new(
        r.get::<_, String>(at)?,
        r.get::<_, String>(at + 1)?,
        r.get::<_, String>(at + 2)?,
        r.get::<_, String>(at + 3)?.as_str(),
        r.get::<_, String>(at + 4)?,
    );
    let what = format!("asset `{id}`");
    let mut asset = Asset::new(id);
    asset.name = r.get(at + 5)?;
    asset.attributes = json(&r.get::<_, String>(at + 6)?, &what)?;
    asset.tags = json(&r.get::<_, String>(at + 7)?, &what)?;
    asset.first_seen = Some(from_micros(r.get(at + 8)?, &what)?);
    asset.last_seen = Some(from_micros(r.get(at + 9)?, &what)?);
    let removed_at = r.get::<_, Option<i64>>(at + 10)?.map(|t| from_micros(t, &what)).transpose()?;
    Ok(AssetRecord { asset, removed_at })
}

pub(super) fn asset(c: &Connection, id: &AssetId) -> Result<AssetRecord> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ASSET_COLS} FROM assets a
         WHERE a.provider = ?1 AND a.account = ?2 AND a.region = ?3 AND a.kind = ?4 AND a.resource_id = ?5"
    ))?;
    let mut rows = stmt.query(params![id.provider, id.account, id.region, id.kind.as_str(), id.resource_id])?;
    match rows.next()? {
        Some(r) => decode_asset(r, 0),
        None => Err(StoreError::not_found("asset", id)),
    }
}

pub(super) fn assets(c: &Connection, q: &AssetQuery) -> Result<Page<AssetRecord>> {
    let sort = q.sort.as_str();
    let after = q
        .page
        .cursor
        .as_ref()
        .map(|cur| keyset::decode(cur, List::Assets, sort, q.order, &keyset::asset_shape(q.sort)))
        .transpose()?;
    let f = &q.filter;
    let mut columns: Vec<&str> = match q.sort {
        AssetSort::Id => vec![],
        AssetSort::Name => vec!["COALESCE(a.name, '')"],
        AssetSort::FirstSeen => vec!["a.first_seen"],
        AssetSort::LastSeen => vec![last_seen!()],
    };
    columns.extend(ASSET_KEY_COLS);
    let run = |pos: Option<&[KeyPart]>, batch: usize| {
        let mut w = Where::default();
        asset_terms(&mut w, f);
        if let Some(k) = pos {
            w.after(&columns, k, q.order);
        }
        let limit = w.param(limit_param(batch));
        let sql = format!(
            "SELECT {ASSET_COLS}, {keys} FROM assets a {where_} ORDER BY {order} LIMIT {limit}",
            keys = key_select(&columns),
            where_ = w.sql(),
            order = order_by(&columns, q.order),
        );
        (sql, w.params)
    };
    let in_rust = f.criteria.as_ref().filter(|_| !criteria_in_sql(f.criteria.as_ref()));
    let decode = |r: &Row<'_>| -> Result<Option<AssetRecord>> {
        let a = decode_asset(r, 0)?;
        Ok(in_rust.is_none_or(|cf| cf.criteria.matches(&a.asset, cf.at)).then_some(a))
    };
    let key = |a: &AssetRecord| keyset::asset_key(a, q.sort);
    let found = keyset_pages(c, run, decode, key, after, q.page.limit, in_rust.is_some())?;
    Ok(finish(found, q.page.limit, List::Assets, sort, q.order))
}

// ---- search ----

pub(super) fn search(c: &Connection, text: &str, limit: usize) -> Result<Vec<SearchHit>> {
    let needle = fold(text);
    let has = |hay: &str| fold(hay).contains(&needle);
    let mut hits = Vec::new();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ASSET_COLS} FROM assets a
         WHERE a.removed_at IS NULL
           AND (instr(lower(a.resource_id), ?1) > 0 OR instr(lower(COALESCE(a.name, '')), ?1) > 0
                OR EXISTS (SELECT 1 FROM json_each(a.tags) t WHERE instr(lower(t.value), ?1) > 0))
         ORDER BY a.provider, a.account, a.region, a.kind, a.resource_id
         LIMIT ?2"
    ))?;
    let mut rows = stmt.query(params![needle, limit_param(limit)])?;
    while let Some(r) = rows.next()? {
        let a = decode_asset(r, 0)?.asset;
        let tags: BTreeMap<String, String> = json(&r.get::<_, String>(7)?, "asset tags")?;
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
    let rest = limit.saturating_sub(hits.len());
    if rest == 0 {
        return Ok(hits);
    }
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {VIOLATION_COLS} FROM violations v WHERE instr(lower(v.reason), ?1) > 0
         ORDER BY {} LIMIT ?2",
        VIOLATION_KEY_COLS.join(", ")
    ))?;
    let mut rows = stmt.query(params![needle, limit_param(rest)])?;
    while let Some(r) = rows.next()? {
        let v = decode_violation(r)?;
        hits.push(SearchHit::Violation { key: v.key, status: v.status, reason: v.reason });
    }
    Ok(hits)
}

// ---- exceptions, groups, policies, snapshots, auto-fix ----

fn stamp(r: &Row<'_>, by: usize, at: usize, what: &str) -> Result<Stamp> {
    Ok(Stamp { by: r.get(by)?, at: from_micros(r.get(at)?, what)? })
}

pub(super) fn exceptions(c: &Connection) -> Result<Vec<ExceptionRecord>> {
    let mut stmt =
        c.prepare_cached("SELECT doc, created_by, created_at, updated_by, updated_at FROM exceptions ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let exception: Exception = json(&r.get::<_, String>(0)?, "exception")?;
        out.push(ExceptionRecord {
            exception,
            created: stamp(r, 1, 2, "exception")?,
            updated: stamp(r, 3, 4, "exception")?,
        });
    }
    Ok(out)
}

pub(super) fn groups(c: &Connection) -> Result<Vec<AssetGroupRecord>> {
    let mut stmt =
        c.prepare_cached("SELECT doc, created_by, created_at, updated_by, updated_at FROM asset_groups ORDER BY name")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let group: AssetGroup = json(&r.get::<_, String>(0)?, "asset group")?;
        out.push(AssetGroupRecord {
            group,
            created: stamp(r, 1, 2, "asset group")?,
            updated: stamp(r, 3, 4, "asset group")?,
        });
    }
    Ok(out)
}

pub(super) fn policies(c: &Connection) -> Result<Vec<PolicyRecord>> {
    let mut stmt = c.prepare_cached("SELECT doc, updated_at FROM policies ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let meta: PolicyMeta = json(&r.get::<_, String>(0)?, "policy")?;
        out.push(PolicyRecord { meta, updated_at: from_micros(r.get(1)?, "policy")? });
    }
    Ok(out)
}

pub(super) fn compliance_trend(c: &Connection, q: &TrendQuery) -> Result<Vec<ComplianceSnapshot>> {
    let mut stmt = c.prepare_cached(
        "SELECT scan_id, at, report FROM snapshots
         WHERE group_name IS ?1 AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at < ?3)
         ORDER BY at DESC, scan_id DESC, pk DESC LIMIT ?4",
    )?;
    let since = q.since.map(crate::codec::micros);
    let until = q.until.map(crate::codec::micros);
    let mut rows = stmt.query(params![q.group, since, until, limit_param(q.limit)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(ComplianceSnapshot {
            scan: ScanId::new(count(r.get(0)?)),
            at: from_micros(r.get(1)?, "compliance snapshot")?,
            report: json(&r.get::<_, String>(2)?, "compliance snapshot")?,
        });
    }
    out.reverse();
    Ok(out)
}

const FIX_COLS: &str =
    "id, kind, policy_id, provider, account, region, asset_kind, resource_id, status, data, created_at, updated_at";

fn decode_fix(r: &Row<'_>) -> Result<FixRecord> {
    let what = "auto-fix record";
    Ok(FixRecord {
        id: r.get(0)?,
        kind: parse_enum(&r.get::<_, String>(1)?, what)?,
        policy_id: r.get(2)?,
        asset: AssetId::new(
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?.as_str(),
            r.get::<_, String>(7)?,
        ),
        status: r.get(8)?,
        data: json(&r.get::<_, String>(9)?, what)?,
        created_at: from_micros(r.get(10)?, what)?,
        updated_at: from_micros(r.get(11)?, what)?,
    })
}

pub(super) fn fix_record(c: &Connection, id: &str) -> Result<FixRecord> {
    let mut stmt = c.prepare_cached(&format!("SELECT {FIX_COLS} FROM fix_records WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(r) => decode_fix(r),
        None => Err(StoreError::not_found("auto-fix record", id)),
    }
}

pub(super) fn fix_records(c: &Connection, f: &FixFilter) -> Result<Vec<FixRecord>> {
    let mut w = Where::default();
    fix_terms(&mut w, f);
    let mut stmt = c.prepare(&format!("SELECT {FIX_COLS} FROM fix_records {} ORDER BY created_at, id", w.sql()))?;
    let mut rows = stmt.query(params_from_iter(w.params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(decode_fix(r)?);
    }
    Ok(out)
}
