//! Input checks shared by every backend, run before anything is written:
//! sizes (see [`crate::limits`]), empty identifiers, NUL characters,
//! consistency of a scan commit. They also truncate times to the
//! microsecond and serialize documents once, for the backend to store.

use hashbrown::HashSet;
use rayon::prelude::*;

use pacbot_core::{
    Asset, AssetGroup, AssetId, AttrKind, CoverageScope, Exception, ExceptionTarget, PolicyMeta, ScopeStatus,
    ViolationKey,
};

use crate::cache::ViolationKeys;
use crate::codec::{Fingerprint, enum_name, fingerprint, micros, severity_rank, trunc};
use crate::error::{Result, StoreError, short};
use crate::limits::{MAX_DOCUMENT_BYTES, MAX_ID_BYTES, MAX_PAGE, MAX_SEARCH_BYTES, MAX_TEXT_BYTES};
use crate::model::{
    AssetFilter, CriteriaFilter, FixFilter, FixRecord, PageRequest, ScanCommit, ScanStart, Stamp, TagFilter,
    TrendQuery, ViolationFilter,
};

fn check(value: &str, max: usize, empty_ok: bool, what: impl FnOnce() -> String) -> Result<()> {
    if value.len() > max {
        return Err(StoreError::TooLarge { what: what(), len: value.len(), max });
    }
    if !empty_ok && value.is_empty() {
        return Err(StoreError::invalid(what(), "it is empty"));
    }
    if value.contains('\0') {
        return Err(StoreError::invalid(what(), "it contains a NUL character"));
    }
    Ok(())
}

/// A non-empty identifier.
pub(crate) fn id(value: &str, what: impl FnOnce() -> String) -> Result<()> {
    check(value, MAX_ID_BYTES, false, what)
}

/// An identifier that may be empty (a filter value, a tag key).
fn id_or_empty(value: &str, what: impl FnOnce() -> String) -> Result<()> {
    check(value, MAX_ID_BYTES, true, what)
}

/// A text (may be empty).
pub(crate) fn text(value: &str, what: impl FnOnce() -> String) -> Result<()> {
    check(value, MAX_TEXT_BYTES, true, what)
}

fn document(json: &str, what: impl Fn() -> String) -> Result<()> {
    if json.len() > MAX_DOCUMENT_BYTES {
        return Err(StoreError::TooLarge { what: what(), len: json.len(), max: MAX_DOCUMENT_BYTES });
    }
    Ok(())
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T, what: impl Fn() -> String) -> Result<String> {
    let json = serde_json::to_string(value).map_err(|e| StoreError::invalid(what(), e.to_string()))?;
    document(&json, &what)?;
    if has_nul(&json) {
        return Err(StoreError::invalid(what(), "it contains a NUL character in a string or key"));
    }
    Ok(json)
}

/// Whether serialized JSON holds a NUL character (which `serde_json` writes
/// as the escape `\u0000`) in a string or a key. PostgreSQL's `jsonb` cannot
/// store one, so no backend accepts one.
fn has_nul(json: &str) -> bool {
    if !json.contains("u0000") {
        return false;
    }
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            // An escape: `\u0000` is a NUL; `\\u0000` is a backslash and text.
            if b[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// An asset id: provider, kind and resource id non-empty; account and region may be empty.
pub(crate) fn asset_id(a: &AssetId, what: &str) -> Result<()> {
    asset_id_of(a, || what.to_owned())
}

/// [`asset_id`], naming the asset only when it is wrong.
fn asset_id_of(a: &AssetId, what: impl Fn() -> String) -> Result<()> {
    let at = |part: &str| format!("{part} of {}", what());
    id(&a.provider, || at("provider"))?;
    id_or_empty(&a.account, || at("account"))?;
    id_or_empty(&a.region, || at("region"))?;
    id(a.kind.as_str(), || at("kind"))?;
    id(&a.resource_id, || at("resource id"))
}

fn scope(s: &CoverageScope) -> Result<()> {
    let what = |part: &str| format!("{part} of coverage scope `{}`", short(&s.to_string()));
    id(&s.provider, || what("provider"))?;
    id_or_empty(&s.account, || what("account"))?;
    id_or_empty(&s.region, || what("region"))?;
    id(s.kind.as_str(), || what("kind"))
}

fn violation_key(k: &ViolationKey, what: impl Fn() -> String) -> Result<()> {
    id(&k.policy_id, || format!("policy id of {}", what()))?;
    id(&k.rule_id, || format!("rule id of {}", what()))?;
    asset_id_of(&k.asset, what)
}

/// The error of an asset given twice in one scan.
pub(crate) fn twice(a: &Asset) -> StoreError {
    StoreError::invalid(format!("asset `{}`", short(&a.id.to_string())), "it appears twice in the scan")
}

/// Checks that no asset is given twice (a backend that sorts the assets by
/// their ids finds duplicates side by side instead).
pub(crate) fn distinct_assets(assets: &[Asset]) -> Result<()> {
    let mut seen = HashSet::with_capacity(assets.len());
    match assets.iter().find(|a| !seen.insert(&a.id)) {
        Some(a) => Err(twice(a)),
        None => Ok(()),
    }
}

/// Checks an asset's identity, name and tags (cheap: nothing is
/// serialized). Only assets a commit writes are checked (by [`asset_doc`]):
/// an asset equal to a stored one is as valid as the row it matches.
fn asset(a: &Asset) -> Result<()> {
    let label = || format!("asset `{}`", short(&a.id.to_string()));
    asset_id_of(&a.id, label)?;
    if let Some(name) = &a.name {
        text(name, || format!("name of {}", label()))?;
    }
    let mut n = 0;
    for (k, v) in a.tags.iter() {
        id_or_empty(k, || format!("tag key `{}` of {}", short(k), label()))?;
        text(v, || format!("tag `{}` of {}", short(k), label()))?;
        n += 1;
    }
    if n != a.tags.len() {
        return Err(StoreError::invalid(format!("tags of {}", label()), "a tag value is not a string"));
    }
    Ok(())
}

/// An asset's documents, serialized and checked, for a row the store writes.
#[derive(Debug)]
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) struct AssetDoc {
    /// `attributes` as JSON.
    pub attributes: String,
    /// `tags` as JSON.
    pub tags_json: String,
    /// [`asset_fingerprint`] of the asset.
    pub hash: i64,
}

/// Serializes and checks an asset's attributes and tags (size, NUL
/// characters). Only assets a commit writes need it: an asset whose
/// fingerprint equals a stored one's has the documents of a row that passed
/// these checks.
pub(crate) fn asset_doc(a: &Asset) -> Result<AssetDoc> {
    asset(a)?;
    let label = || format!("asset `{}`", short(&a.id.to_string()));
    let attributes = to_json(&a.attributes, || format!("attributes of {}", label()))?;
    let tags_json = to_json(&a.tags, || format!("tags of {}", label()))?;
    Ok(AssetDoc { hash: asset_fingerprint(a), attributes, tags_json })
}

/// The fingerprint of an asset's name, attributes and tags — equal when
/// they are. It combines the digests the documents carry from when they were
/// built ([`pacbot_core::Attributes::digest`]), so a rescan compares a
/// million assets with the stored ones without walking any document.
pub(crate) fn asset_fingerprint(a: &Asset) -> i64 {
    let (attributes, tags) = (a.attributes.digest().to_le_bytes(), a.tags.digest().to_le_bytes());
    match &a.name {
        Some(name) => fingerprint(&[b"named", name.as_bytes(), &attributes, &tags]),
        None => fingerprint(&[b"unnamed", &attributes, &tags]),
    }
}

/// The fingerprint earlier versions stored (a walk of the documents, hashed
/// as one stream). A stored row that has it is recognized as unchanged and
/// given [`asset_fingerprint`] instead of being rewritten: a store written
/// by an earlier version is restamped, asset by asset, by its next scans.
pub(crate) fn legacy_fingerprint(a: &Asset) -> i64 {
    thread_local! {
        /// The buffer of the last fingerprint on this thread, reused.
        static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let mut f = Fingerprint::with_buffer(BUFFER.take());
    match &a.name {
        Some(name) => f.raw(&[1]).part(name.as_bytes()),
        None => f.raw(&[0]),
    };
    attr_part(&mut f, a.attributes.root());
    f.raw(b"t").raw(&(a.tags.len() as u64).to_le_bytes());
    for (k, v) in a.tags.iter() {
        f.part(k.as_bytes()).part(v.as_bytes());
    }
    let print = f.finish();
    let buffer = f.into_buffer();
    // A huge document's buffer is not kept.
    if buffer.capacity() <= MAX_KEPT_BUFFER {
        BUFFER.set(buffer);
    }
    print
}

/// The largest fingerprint buffer a thread keeps for the next asset.
const MAX_KEPT_BUFFER: usize = 1 << 20;

/// Adds a document node: a tag byte, then its content (lengths and counts
/// first, so the encoding is unambiguous). Numbers keep their representation
/// (`1` and `1.0` differ, as they compare).
fn attr_part(f: &mut Fingerprint, v: pacbot_core::Attr<'_>) {
    match v.kind() {
        AttrKind::Null => {
            f.raw(b"n");
        }
        AttrKind::Bool => {
            f.raw(if v.as_bool() == Some(true) { b"T" } else { b"F" });
        }
        AttrKind::Number => {
            if let Some(u) = v.as_u64() {
                f.raw(b"u").raw(&u.to_le_bytes());
            } else if let Some(i) = v.as_i64() {
                f.raw(b"i").raw(&i.to_le_bytes());
            } else {
                f.raw(b"f").raw(&v.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
            }
        }
        AttrKind::String => {
            f.raw(b"s").part(v.as_str().unwrap_or_default().as_bytes());
        }
        AttrKind::Array => {
            let items = v.elements();
            f.raw(b"a").raw(&(items.len() as u64).to_le_bytes());
            for item in items {
                attr_part(f, item);
            }
        }
        AttrKind::Object => {
            let entries = v.entries();
            f.raw(b"o").raw(&(entries.len() as u64).to_le_bytes());
            for (k, item) in entries {
                f.part(k.as_bytes());
                attr_part(f, item);
            }
        }
    }
}

/// A commit, checked and serialized.
#[derive(Debug)]
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) struct PreparedCommit {
    /// One per violation: the details as JSON, `None` when null.
    pub details: Vec<Option<String>>,
    /// One per violation: the fingerprint of its state (every field but the key).
    pub violation_hashes: Vec<i64>,
    /// One per violation: its keys.
    pub violation_keys: Vec<ViolationKeys>,
    /// One per transition: the keys of its violation.
    pub transition_keys: Vec<ViolationKeys>,
    /// One per snapshot: the report as JSON.
    pub snapshots: Vec<String>,
}

/// Below this many items, one task does them (the split costs more than it saves).
pub(crate) const PER_TASK: usize = 8_192;

/// Checks a scan commit, truncates its times and serializes its documents.
pub(crate) fn commit(c: &mut ScanCommit) -> Result<PreparedCommit> {
    c.finished_at = trunc(c.finished_at);
    for (s, status) in c.coverage.scopes() {
        scope(s)?;
        if let ScopeStatus::Failed { error } = status {
            text(error, || format!("error of coverage scope `{}`", short(&s.to_string())))?;
        }
    }
    for r in &c.results {
        id(&r.policy_id, || "policy id of a rule result".to_owned())?;
        id(&r.rule_id, || format!("rule id of a result of policy `{}`", short(&r.policy_id)))?;
    }
    for v in &mut c.violations {
        v.created_at = trunc(v.created_at);
        v.modified_at = trunc(v.modified_at);
        v.closed_at = v.closed_at.map(trunc);
    }
    // Each violation checked, its details serialized, its state
    // fingerprinted and its keys hashed on every core (a rescan commits every
    // open violation); the first error in the commit's order is the one reported.
    let checked: Vec<(Option<String>, i64, ViolationKeys)> = c
        .violations
        .par_iter()
        .with_min_len(PER_TASK)
        .map(|v| {
            let label = || format!("violation `{}`", short(&v.key.to_string()));
            violation_key(&v.key, label)?;
            text(&v.reason, || format!("reason of {}", label()))?;
            if let Some(e) = &v.exception_id {
                id(e, || format!("exception id of {}", label()))?;
            }
            let details = if v.details.is_null() {
                None
            } else {
                Some(to_json(&v.details, || format!("details of {}", label()))?)
            };
            let hash = violation_fingerprint(v, details.as_deref());
            Ok((details, hash, ViolationKeys::of(&v.key)))
        })
        .collect::<Result<_>>()?;
    let mut details = Vec::with_capacity(checked.len());
    let mut violation_hashes = Vec::with_capacity(checked.len());
    let mut violation_keys = Vec::with_capacity(checked.len());
    for (d, h, k) in checked {
        details.push(d);
        violation_hashes.push(h);
        violation_keys.push(k);
    }
    // Keys compared as integers: a rescan checks every open violation.
    let mut keys = HashSet::with_capacity(violation_keys.len());
    if let Some(v) = c.violations.iter().zip(&violation_keys).find(|(_, k)| !keys.insert(**k)).map(|(v, _)| v) {
        return Err(StoreError::invalid(
            format!("violation `{}`", short(&v.key.to_string())),
            "it appears twice in the scan",
        ));
    }
    let transition_keys: Vec<ViolationKeys> = c
        .transitions
        .par_iter_mut()
        .with_min_len(PER_TASK)
        .map(|t| {
            let label = || format!("transition of violation `{}`", short(&t.key.to_string()));
            let key = ViolationKeys::of(&t.key);
            if !keys.contains(&key) {
                return Err(StoreError::invalid(label(), "the scan commits no violation with this key"));
            }
            text(&t.reason, || format!("reason of {}", label()))?;
            t.at = trunc(t.at);
            Ok(key)
        })
        .collect::<Result<_>>()?;
    let mut snapshots = Vec::with_capacity(c.snapshots.len());
    for r in &c.snapshots {
        let label = || format!("compliance report of group `{}`", r.group.as_deref().unwrap_or("(overall)"));
        if let Some(g) = &r.group {
            id(g, label)?;
        }
        snapshots.push(to_json(r, label)?);
    }
    Ok(PreparedCommit { details, violation_hashes, violation_keys, transition_keys, snapshots })
}

/// The fingerprint of a violation's state: equal when every field but the key is.
fn violation_fingerprint(v: &pacbot_core::Violation, details: Option<&str>) -> i64 {
    let none: &[u8] = &[0xff];
    let time = |t: chrono::DateTime<chrono::Utc>| micros(t).to_le_bytes();
    let (created, modified) = (time(v.created_at), time(v.modified_at));
    let closed = v.closed_at.map(time);
    let close_reason = v.close_reason.as_ref().map(enum_name);
    fingerprint(&[
        v.status.as_str().as_bytes(),
        &severity_rank(v.severity).to_le_bytes(),
        v.category.as_str().as_bytes(),
        v.reason.as_bytes(),
        details.map_or(none, str::as_bytes),
        v.exception_id.as_deref().map_or(none, str::as_bytes),
        &created,
        &modified,
        closed.as_ref().map_or(none, |c| &c[..]),
        close_reason.as_deref().map_or(none, str::as_bytes),
    ])
}

/// Checks the start of a scan and truncates its time.
pub(crate) fn scan_start(s: &mut ScanStart) -> Result<()> {
    text(&s.label, || "scan label".to_owned())?;
    s.started_at = trunc(s.started_at);
    Ok(())
}

/// Checks who did something and truncates the time.
pub(crate) fn stamp(s: &mut Stamp) -> Result<()> {
    id(&s.by, || "who (`by`)".to_owned())?;
    s.at = trunc(s.at);
    Ok(())
}

/// Checks an exception (with core's own validation) and serializes it.
pub(crate) fn exception(e: &mut Exception) -> Result<String> {
    let label = format!("exception `{}`", short(&e.id));
    id(&e.id, || "exception id".to_owned())?;
    e.validate().map_err(|err| StoreError::invalid(label.clone(), err.to_string()))?;
    text(&e.reason, || format!("reason of {label}"))?;
    id(&e.granted_by, || format!("granted_by of {label}"))?;
    for p in e.policies() {
        id(p, || format!("policy of {label}"))?;
    }
    if let ExceptionTarget::Asset { asset, .. } = &e.target {
        asset_id(asset, &format!("asset of {label}"))?;
    }
    e.granted_at = trunc(e.granted_at);
    e.expires_at = e.expires_at.map(trunc);
    to_json(e, || label.clone())
}

/// Checks an asset group and serializes it.
pub(crate) fn group(g: &AssetGroup) -> Result<String> {
    let label = format!("asset group `{}`", short(&g.name));
    id(&g.name, || "asset group name".to_owned())?;
    text(&g.description, || format!("description of {label}"))?;
    if let Some(o) = &g.owner {
        id(o, || format!("owner of {label}"))?;
    }
    to_json(g, || label.clone())
}

/// Checks a policy's metadata and serializes it.
pub(crate) fn policy(p: &PolicyMeta) -> Result<String> {
    let label = format!("policy `{}`", short(&p.id));
    id(&p.id, || "policy id".to_owned())?;
    text(&p.name, || format!("name of {label}"))?;
    text(&p.description, || format!("description of {label}"))?;
    text(&p.resolution, || format!("resolution of {label}"))?;
    if let Some(f) = &p.fix {
        id(f, || format!("fix of {label}"))?;
    }
    if let Some(s) = &p.scope {
        id(s, || format!("scope of {label}"))?;
    }
    to_json(p, || label.clone())
}

/// Checks an auto-fix record, truncates its times and serializes its data.
pub(crate) fn fix_record(r: &mut FixRecord) -> Result<String> {
    let label = format!("auto-fix record `{}`", short(&r.id));
    id(&r.id, || "auto-fix record id".to_owned())?;
    id(&r.policy_id, || format!("policy id of {label}"))?;
    asset_id(&r.asset, &format!("asset of {label}"))?;
    id(&r.status, || format!("status of {label}"))?;
    r.created_at = trunc(r.created_at);
    r.updated_at = trunc(r.updated_at);
    to_json(&r.data, || format!("data of {label}"))
}

/// Checks a page request.
pub(crate) fn page(p: &PageRequest) -> Result<()> {
    limit(p.limit)?;
    if let Some(c) = &p.cursor {
        check(c.as_str(), MAX_TEXT_BYTES, false, || "cursor".to_owned())
            .map_err(|e| StoreError::cursor(e.to_string()))?;
    }
    Ok(())
}

/// Checks a page size or search limit.
pub(crate) fn limit(limit: usize) -> Result<()> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(StoreError::invalid("page limit", format!("{limit} is not between 1 and {MAX_PAGE}")));
    }
    Ok(())
}

/// Checks a search text.
pub(crate) fn search(text: &str, limit_: usize) -> Result<()> {
    check(text, MAX_SEARCH_BYTES, false, || "search text".to_owned())?;
    limit(limit_)
}

fn values(field: &str, vs: &[String]) -> Result<()> {
    vs.iter().try_for_each(|v| id_or_empty(v, || format!("{field} filter")))
}

fn tags(ts: &[TagFilter]) -> Result<()> {
    for t in ts {
        id_or_empty(&t.key, || "tag filter key".to_owned())?;
        if let Some(v) = &t.value {
            text(v, || format!("tag filter `{}` value", short(&t.key)))?;
        }
    }
    Ok(())
}

fn criteria(c: Option<&CriteriaFilter>) -> Result<()> {
    if let Some(c) = c {
        to_json(&c.criteria, || "criteria filter".to_owned())?;
    }
    Ok(())
}

/// Checks the strings of an asset filter.
pub(crate) fn asset_filter(f: &AssetFilter) -> Result<()> {
    values("provider", &f.providers)?;
    values("account", &f.accounts)?;
    values("region", &f.regions)?;
    f.kinds.iter().try_for_each(|k| id_or_empty(k.as_str(), || "kind filter".to_owned()))?;
    tags(&f.tags)?;
    criteria(f.criteria.as_ref())
}

/// Checks the strings of a violation filter.
pub(crate) fn violation_filter(f: &ViolationFilter) -> Result<()> {
    values("policy", &f.policies)?;
    values("provider", &f.providers)?;
    values("account", &f.accounts)?;
    values("region", &f.regions)?;
    f.kinds.iter().try_for_each(|k| id_or_empty(k.as_str(), || "kind filter".to_owned()))?;
    if let Some(a) = &f.asset {
        asset_id(a, "asset filter")?;
    }
    tags(&f.tags)?;
    criteria(f.criteria.as_ref())
}

/// Checks a violation key used to look up history.
pub(crate) fn key(k: &ViolationKey) -> Result<()> {
    violation_key(k, || "violation key".to_owned())
}

/// Checks the strings of an auto-fix filter.
pub(crate) fn fix_filter(f: &FixFilter) -> Result<()> {
    if let Some(p) = &f.policy_id {
        id_or_empty(p, || "policy filter".to_owned())?;
    }
    if let Some(a) = &f.asset {
        asset_id(a, "asset filter")?;
    }
    if let Some(s) = &f.status {
        id_or_empty(s, || "status filter".to_owned())?;
    }
    Ok(())
}

/// Checks a trend query.
pub(crate) fn trend(q: &TrendQuery) -> Result<()> {
    if let Some(g) = &q.group {
        id(g, || "group of a trend query".to_owned())?;
    }
    limit(q.limit)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use pacbot_core::{Asset, AssetId};

    use super::{asset_fingerprint, has_nul, legacy_fingerprint};

    #[test]
    fn fingerprints_are_equal_exactly_when_name_attributes_and_tags_are() {
        let base = || Asset::new(AssetId::new("aws", "1", "r", "k", "x"));
        let fp = |a: Asset| asset_fingerprint(&a);
        let doc = json!({"b": [1, "two", null, true], "a": {"x": 1.5, "y": -3}});
        let reordered = json!({"a": {"y": -3, "x": 1.5}, "b": [1, "two", null, true]});
        assert_eq!(fp(base().with_attributes(doc.clone())), fp(base().with_attributes(reordered)));
        let distinct = [
            fp(base()),
            fp(base().with_name("")),
            fp(base().with_name("n")),
            fp(base().with_attributes(doc.clone())),
            fp(base().with_attributes(json!({"n": 1}))),
            fp(base().with_attributes(json!({"n": 1.0}))),
            fp(base().with_attributes(json!({"n": "1"}))),
            fp(base().with_attributes(json!({"n": [1]}))),
            fp(base().with_attributes(json!({"n": false}))),
            fp(base().with_attributes(json!({"n": null}))),
            fp(base().with_attributes(json!({"n": {}}))),
            fp(base().with_attributes(json!({"n": []}))),
            fp(base().with_attributes(json!({"ab": "c"}))),
            fp(base().with_attributes(json!({"a": "bc"}))),
            fp(base().with_attributes(json!([["a"], "b"]))),
            fp(base().with_attributes(json!([["a", "b"]]))),
            fp(base().with_tag("ab", "c")),
            fp(base().with_tag("a", "bc")),
            fp(base().with_tag("a", "bc").with_tag("d", "")),
        ];
        let unique: std::collections::HashSet<i64> = distinct.iter().copied().collect();
        assert_eq!(unique.len(), distinct.len(), "{distinct:?}");
    }

    fn pinned() -> (Asset, Asset) {
        let asset = Asset::new(AssetId::new("aws", "111", "eu-west-1", "s3_bucket", "b1"))
            .with_name("bucket one")
            .with_attributes(json!({
                "versioning": {"status": "Enabled", "mfa_delete": false},
                "size": 12345, "ratio": 0.25, "delta": -7, "none": null,
                "rules": [{"id": "r1", "days": [30, 60]}, "x", true],
            }))
            .with_tag("env", "prod")
            .with_tag("owner", "team-a");
        (asset, Asset::new(AssetId::new("aws", "1", "r", "k", "x")))
    }

    /// The stored fingerprints must not change from one version to the next
    /// (a change makes the next rescan rewrite every stored asset once).
    #[test]
    fn fingerprints_are_stable() {
        let (asset, bare) = pinned();
        assert_eq!(asset_fingerprint(&asset), -1_588_658_999_348_760_655);
        assert_eq!(asset_fingerprint(&bare), -8_315_752_852_930_055_207);
    }

    /// Earlier versions' fingerprints, which stored rows may still hold.
    #[test]
    fn legacy_fingerprints_are_those_earlier_versions_stored() {
        let (asset, bare) = pinned();
        assert_eq!(legacy_fingerprint(&asset), -8_233_746_814_789_627_732);
        assert_eq!(legacy_fingerprint(&bare), -4_960_886_581_677_279_213);
        assert_ne!(legacy_fingerprint(&asset), asset_fingerprint(&asset));
    }

    #[test]
    fn nul_characters_are_found_in_strings_and_keys_only() {
        let json = |v: serde_json::Value| serde_json::to_string(&v).unwrap();
        assert!(has_nul(&json(json!({"k": "a\u{0}b"}))));
        assert!(has_nul(&json(json!({"a\u{0}": 1}))));
        assert!(has_nul(&json(json!(["\\", "\u{0}"]))));
        assert!(!has_nul(&json(json!({"k": "\\u0000"}))), "a backslash followed by text");
        assert!(!has_nul(&json(json!({"k": "\\\\u0000", "u0000": "u0000"}))));
        assert!(!has_nul(&json(json!({"k": "\u{1}"}))));
    }
}
