//! Collection per Azure service: each lists its kinds in one subscription and
//! converts ARM's documents to the documented shapes.
//!
//! Storage accounts and blob containers are read with `azure_mgmt_storage`;
//! the other kinds with plain ARM REST ([`crate::arm`]), because the
//! `azure_mgmt_*` crates for them are, like `azure_mgmt_storage`, generated
//! bindings of the retired legacy SDK (no release since 0.21), each adding a
//! large generated crate for one or two GETs, and the new Azure SDK for Rust
//! has no management-plane crates yet. Both paths share one pipeline
//! configuration (retries, `Retry-After`, request counting) and one token
//! cache.

pub(crate) mod compute;
pub(crate) mod keyvault;
pub(crate) mod network;
pub(crate) mod resources;
pub(crate) mod sql;
pub(crate) mod storage;

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetId};
use serde::Serialize;
use serde_json::Value;

use crate::arm::Arm;
use crate::error::Error;
use crate::shapes::{normalize_location, resource_group_of};

/// What one subscription's collection has to work with.
#[derive(Clone, Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) arm: &'a Arm,
    pub(crate) subscription: &'a str,
    pub(crate) counters: &'a std::sync::Arc<crate::arm::Counters>,
    pub(crate) retry: &'a crate::arm::RetryConfig,
}

/// A scope that could not be collected.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The kind.
    pub(crate) kind: &'static str,
    /// The location, or `None` for every location of the subscription.
    pub(crate) location: Option<String>,
    /// Why.
    pub(crate) error: Error,
}

/// What a service found in one subscription.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) assets: Vec<Asset>,
    pub(crate) failures: Vec<Failure>,
}

impl Found {
    pub(crate) fn fail_all(&mut self, kind: &'static str, error: Error) {
        self.failures.push(Failure { kind, location: None, error });
    }

    pub(crate) fn fail_at(&mut self, kind: &'static str, location: &str, error: Error) {
        self.failures.push(Failure { kind, location: Some(location.to_owned()), error });
    }

    pub(crate) fn extend(&mut self, other: Found) {
        self.assets.extend(other.assets);
        self.failures.extend(other.failures);
    }
}

/// Converts one ARM document of a listing (the subscription, the document,
/// the listing's path for errors) to an asset.
pub(crate) type Convert = fn(&str, &Value, &str) -> Result<Asset, Error>;

/// Lists `/subscriptions/{s}/{rest}` and converts every element; a failure
/// fails the kind in every location.
pub(crate) async fn list_kind(s: &Scope<'_>, kind: &'static str, rest: &str, api: &str, convert: Convert) -> Found {
    let mut found = Found::default();
    let path = format!("/subscriptions/{}/{rest}", s.subscription);
    match s.arm.list(&path, api).await {
        Ok(items) => {
            for v in &items {
                match convert(s.subscription, v, &path) {
                    Ok(a) => found.assets.push(a),
                    Err(e) => found.fail_all(kind, e),
                }
            }
        }
        Err(e) => found.fail_all(kind, e),
    }
    found
}

/// The fields every ARM resource has.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    /// The lowercase ARM id.
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) resource_group: String,
    pub(crate) location: String,
    pub(crate) tags: Vec<(String, String)>,
}

/// The common fields of an ARM resource document.
pub(crate) fn common(v: &Value, source: &str) -> Result<Common, Error> {
    let bad = |reason: &str| Error::InvalidResponse { url: source.to_owned(), reason: reason.to_owned() };
    let id = str_at(v, "/id").ok_or_else(|| bad("a resource has no `id`"))?;
    let name = str_at(v, "/name").ok_or_else(|| bad(&format!("resource `{id}` has no `name`")))?;
    let resource_group = resource_group_of(&id).unwrap_or_default().to_owned();
    let location = normalize_location(&str_at(v, "/location").unwrap_or_default());
    let tags = match v.get("tags") {
        Some(Value::Object(m)) => {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
        }
        _ => Vec::new(),
    };
    Ok(Common { id: id.to_lowercase(), name, resource_group, location, tags })
}

/// An asset of `kind` in `subscription` from its common fields and document.
pub(crate) fn asset<T: Serialize>(subscription: &str, kind: &str, c: &Common, doc: &T) -> Result<Asset, Error> {
    let attributes = serde_json::to_value(doc).map_err(|e| Error::InvalidResponse {
        url: c.id.clone(),
        reason: format!("cannot build the attribute document: {e}"),
    })?;
    let id = AssetId::new("azure", subscription.to_lowercase(), &c.location, kind, &c.id);
    let mut a = Asset::new(id).with_name(&c.name).with_attributes(attributes);
    for (k, v) in &c.tags {
        a = a.with_tag(k, v);
    }
    Ok(a)
}

/// A string at a JSON pointer.
pub(crate) fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_owned)
}

/// A boolean at a JSON pointer (ARM sometimes writes `"true"`).
pub(crate) fn bool_at(v: &Value, ptr: &str) -> Option<bool> {
    match v.pointer(ptr)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An integer at a JSON pointer.
pub(crate) fn i64_at(v: &Value, ptr: &str) -> Option<i64> {
    match v.pointer(ptr)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 time at a JSON pointer, in UTC.
pub(crate) fn time_at(v: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    let s = v.pointer(ptr)?.as_str()?;
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// A lowercase ARM id at a JSON pointer.
pub(crate) fn id_at(v: &Value, ptr: &str) -> Option<String> {
    str_at(v, ptr).map(|s| s.to_lowercase())
}

/// The elements of the array at a JSON pointer.
pub(crate) fn list_at<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The lowercase ids (`/id`) of the objects in the array at a JSON pointer.
pub(crate) fn ids_at(v: &Value, ptr: &str) -> Vec<String> {
    list_at(v, ptr).iter().filter_map(|e| id_at(e, "/id")).collect()
}
