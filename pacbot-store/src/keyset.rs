//! Keyset pagination shared by the backends: the sort key of an item as a
//! tuple, and cursors that carry the last key of a page.
//!
//! Both backends order by the same tuples: text compares by bytes (SQLite's
//! `BINARY` collation, Rust's `str` order), numbers as `i64`. The last part of
//! every key is the item's identity, so keys are unique and a page boundary
//! never splits or repeats items.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pacbot_core::{AssetId, Violation, ViolationKey};
use serde::{Deserialize, Serialize};

use crate::codec::{micros, severity_rank};
use crate::error::{Result, StoreError};
use crate::model::{AssetRecord, AssetSort, Cursor, Order, Page, ViolationSort};

/// One component of a sort key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum KeyPart {
    /// A number (rank, time in microseconds, scan id).
    Int(i64),
    /// A text.
    Text(String),
}

/// The shape of a component, to check decoded cursors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Int,
    Text,
}

/// Which list a cursor belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum List {
    Assets,
    Violations,
    Scans,
}

impl List {
    fn name(self) -> &'static str {
        match self {
            List::Assets => "assets",
            List::Violations => "violations",
            List::Scans => "scans",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    v: u8,
    list: String,
    sort: String,
    desc: bool,
    key: Vec<KeyPart>,
}

const VERSION: u8 = 1;

fn text(s: &str) -> KeyPart {
    KeyPart::Text(s.to_owned())
}

fn asset_id_parts(id: &AssetId) -> [KeyPart; 5] {
    [text(&id.provider), text(&id.account), text(&id.region), text(id.kind.as_str()), text(&id.resource_id)]
}

fn violation_key_parts(k: &ViolationKey) -> Vec<KeyPart> {
    let mut out = vec![text(&k.policy_id), text(&k.rule_id)];
    out.extend(asset_id_parts(&k.asset));
    out
}

/// The sort key of a violation.
pub(crate) fn violation_key(v: &Violation, sort: ViolationSort) -> Vec<KeyPart> {
    let mut out = match sort {
        ViolationSort::Key => Vec::with_capacity(7),
        ViolationSort::Severity => vec![KeyPart::Int(severity_rank(v.severity))],
        ViolationSort::CreatedAt => vec![KeyPart::Int(micros(v.created_at))],
        ViolationSort::ModifiedAt => vec![KeyPart::Int(micros(v.modified_at))],
    };
    out.extend(violation_key_parts(&v.key));
    out
}

/// The shape of a violation sort key.
pub(crate) fn violation_shape(sort: ViolationSort) -> Vec<Shape> {
    let mut out = match sort {
        ViolationSort::Key => vec![],
        _ => vec![Shape::Int],
    };
    out.extend([Shape::Text; 7]);
    out
}

/// The sort key of an asset.
pub(crate) fn asset_key(a: &AssetRecord, sort: AssetSort) -> Vec<KeyPart> {
    let asset = &a.asset;
    let mut out = match sort {
        AssetSort::Id => Vec::with_capacity(5),
        AssetSort::Name => vec![text(asset.name.as_deref().unwrap_or_default())],
        AssetSort::FirstSeen => vec![KeyPart::Int(asset.first_seen.map_or(0, micros))],
        AssetSort::LastSeen => vec![KeyPart::Int(asset.last_seen.map_or(0, micros))],
    };
    out.extend(asset_id_parts(&asset.id));
    out
}

/// The shape of an asset sort key.
pub(crate) fn asset_shape(sort: AssetSort) -> Vec<Shape> {
    let mut out = match sort {
        AssetSort::Id => vec![],
        AssetSort::Name => vec![Shape::Text],
        AssetSort::FirstSeen | AssetSort::LastSeen => vec![Shape::Int],
    };
    out.extend([Shape::Text; 5]);
    out
}

/// A cursor after `key`.
pub(crate) fn encode(list: List, sort: &str, order: Order, key: Vec<KeyPart>) -> Cursor {
    let body =
        Body { v: VERSION, list: list.name().to_owned(), sort: sort.to_owned(), desc: order.is_descending(), key };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    Cursor::new(URL_SAFE_NO_PAD.encode(json))
}

/// The key a cursor carries, checked against the list, ordering and shape it is used with.
pub(crate) fn decode(cursor: &Cursor, list: List, sort: &str, order: Order, shape: &[Shape]) -> Result<Vec<KeyPart>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_str())
        .map_err(|_| StoreError::cursor("it is not a cursor this store produced (bad encoding)"))?;
    let body: Body = serde_json::from_slice(&bytes)
        .map_err(|_| StoreError::cursor("it is not a cursor this store produced (bad content)"))?;
    if body.v != VERSION {
        return Err(StoreError::cursor(format!("cursor version {} is not supported", body.v)));
    }
    if body.list != list.name() {
        return Err(StoreError::cursor(format!("it belongs to the {} list, not {}", body.list, list.name())));
    }
    if body.sort != sort || body.desc != order.is_descending() {
        let dir = |d: bool| if d { "descending" } else { "ascending" };
        return Err(StoreError::cursor(format!(
            "it was made for the order `{}` {}, not `{sort}` {}",
            body.sort,
            dir(body.desc),
            dir(order.is_descending())
        )));
    }
    let fits = body.key.len() == shape.len()
        && body
            .key
            .iter()
            .zip(shape)
            .all(|(k, s)| matches!((k, s), (KeyPart::Int(_), Shape::Int) | (KeyPart::Text(_), Shape::Text)));
    if !fits {
        return Err(StoreError::cursor("its position does not fit this ordering"));
    }
    Ok(body.key)
}

/// Pages through items already in memory: sorts by key, skips to after the
/// cursor, takes `limit` and makes the next cursor.
pub(crate) fn paginate<T>(
    mut items: Vec<(Vec<KeyPart>, T)>,
    after: Option<Vec<KeyPart>>,
    order: Order,
    limit: usize,
    list: List,
    sort: &str,
) -> Page<T> {
    let desc = order.is_descending();
    items.sort_by(|a, b| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) });
    if let Some(after) = after {
        items.retain(|(k, _)| if desc { *k < after } else { *k > after });
    }
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(|(k, _)| encode(list, sort, order, k.clone())) } else { None };
    Page { items: items.into_iter().map(|(_, t)| t).collect(), next }
}
