//! Connectors: where assets come from.
//!
//! A [`Connector`] streams [`Discovery`] events: assets as they are found, and
//! for each collection scope whether it completed or failed. A failed scope
//! never fails the whole scan; it is recorded in the [`Coverage`] so that
//! reconciliation leaves its violations alone.
//!
//! [`JsonInventory`] reads assets from a JSON or JSON-lines file; it is also
//! the way to plug in any data source that can write such a file.
//!
//! Why a stream rather than an `async fn collect() -> Vec<Asset>`: a
//! connector over many accounts and regions yields assets as each scope
//! finishes, so a caller can show progress, bound memory, and merge several
//! connectors as they go ([`discover_all`]); and a scope's failure is an
//! event in the stream, not an error that would discard what other scopes
//! found. The trait is object safe (`&dyn Connector`) and needs no
//! particular async runtime.

use std::collections::BTreeSet;
use std::path::Path;

use futures::stream::{self, BoxStream, StreamExt};
use serde::Deserialize;

use crate::asset::Asset;
use crate::coverage::{Coverage, CoverageScope, ScopeStatus};
use crate::inventory::Inventory;

/// One event of a discovery.
#[derive(Clone, Debug, PartialEq)]
pub enum Discovery {
    /// An asset was found.
    Asset(Box<Asset>),
    /// A scope was listed completely.
    Complete(CoverageScope),
    /// A scope could not be listed (completely).
    Failed {
        /// The scope.
        scope: CoverageScope,
        /// Why, for humans (`AccessDenied`, a time-out, …).
        error: String,
    },
}

/// A source of assets.
///
/// Implementors list resources and report coverage; they never evaluate.
/// A connector reports `Complete` for a scope only after it has yielded every
/// asset of that scope.
pub trait Connector: Send + Sync {
    /// A short name for logs (`aws`, `azure`, `inventory.json`).
    fn name(&self) -> &str;

    /// Streams the discovery.
    fn discover(&self) -> BoxStream<'_, Discovery>;
}

/// The result of running connectors: the inventory and its coverage.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    /// Every asset found.
    pub inventory: Inventory,
    /// Every scope attempted.
    pub coverage: Coverage,
}

/// Runs connectors concurrently and gathers their results.
///
/// An asset of a scope that also failed stays in the inventory (it was
/// seen), but the scope does not count as complete.
pub async fn discover_all(connectors: &[&dyn Connector]) -> Discovered {
    let mut out = Discovered::default();
    let mut events = stream::select_all(connectors.iter().map(|c| c.discover()));
    while let Some(event) = events.next().await {
        match event {
            Discovery::Asset(a) => {
                out.inventory.insert(*a);
            }
            Discovery::Complete(scope) => out.coverage.complete(scope),
            Discovery::Failed { scope, error } => out.coverage.fail(scope, error),
        }
    }
    out
}

/// Assets read from a JSON document or a JSON-lines file.
///
/// Accepted shapes:
/// - a JSON array of assets;
/// - a JSON object `{"assets": [...], "coverage": [...]}`, where each
///   coverage entry is a scope (`provider`, `account`, `region`, `kind`)
///   with `"status": "complete"` or `"status": "failed", "error": "…"`;
/// - JSON lines (files ending in `.jsonl` or `.ndjson`): one asset per line,
///   blank lines allowed.
///
/// Without explicit coverage, every (provider, account, region, kind) that
/// holds an asset of the file counts as completely collected.
#[derive(Clone, Debug)]
pub struct JsonInventory {
    name: String,
    assets: Vec<Asset>,
    coverage: Coverage,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryDoc {
    assets: Vec<Asset>,
    #[serde(default)]
    coverage: Option<Vec<CoverageEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverageEntry {
    provider: String,
    account: String,
    region: String,
    kind: String,
    status: EntryStatus,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EntryStatus {
    Complete,
    Failed,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Shape {
    List(Vec<serde_json::Value>),
    Doc(serde_json::Map<String, serde_json::Value>),
}

impl JsonInventory {
    /// Parses an inventory. `source_name` names it in errors and decides the
    /// format (`.jsonl` / `.ndjson` for JSON lines).
    pub fn parse(source_name: &str, text: &str) -> Result<Self, crate::Error> {
        let invalid = |location: String, reason: String| crate::Error::InvalidInventory {
            source_name: source_name.to_owned(),
            location,
            reason,
        };
        let (assets, coverage) = if source_name.ends_with(".jsonl") || source_name.ends_with(".ndjson") {
            let mut assets = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let asset: Asset =
                    crate::doc::from_json(line).map_err(|(p, r)| invalid(format!("line {} at `{p}`", i + 1), r))?;
                assets.push(asset);
            }
            (assets, None)
        } else {
            let shape: Shape =
                serde_json::from_str(text).map_err(|e| invalid(format!("line {}", e.line()), e.to_string()))?;
            match shape {
                Shape::List(items) => {
                    let assets: Vec<Asset> = crate::doc::from_value(serde_json::Value::Array(items))
                        .map_err(|(p, r)| invalid(format!("`{p}`"), r))?;
                    (assets, None)
                }
                Shape::Doc(map) => {
                    let doc: InventoryDoc = crate::doc::from_value(serde_json::Value::Object(map))
                        .map_err(|(p, r)| invalid(format!("`{p}`"), r))?;
                    (doc.assets, doc.coverage)
                }
            }
        };
        let coverage = match coverage {
            Some(entries) => {
                let mut c = Coverage::new();
                for (i, e) in entries.into_iter().enumerate() {
                    let scope = CoverageScope::new(e.provider, e.account, e.region, e.kind.as_str());
                    match (e.status, e.error) {
                        (EntryStatus::Complete, None) => c.complete(scope),
                        (EntryStatus::Failed, Some(error)) => c.fail(scope, error),
                        (EntryStatus::Failed, None) => c.fail(scope, "collection failed"),
                        (EntryStatus::Complete, Some(_)) => {
                            return Err(invalid(
                                format!("`coverage[{i}].error`"),
                                "a complete scope has no error".into(),
                            ));
                        }
                    }
                }
                c
            }
            None => {
                let mut c = Coverage::new();
                let scopes: BTreeSet<CoverageScope> = assets.iter().map(|a| a.id.scope()).collect();
                for s in scopes {
                    c.complete(s);
                }
                c
            }
        };
        Ok(Self { name: source_name.to_owned(), assets, coverage })
    }

    /// Reads and parses an inventory file.
    pub fn open(path: &Path) -> Result<Self, crate::Error> {
        let text =
            std::fs::read_to_string(path).map_err(|source| crate::Error::Io { path: path.to_owned(), source })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The assets.
    #[must_use]
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The coverage the file declares (or implies).
    #[must_use]
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }
}

impl Connector for JsonInventory {
    fn name(&self) -> &str {
        &self.name
    }

    fn discover(&self) -> BoxStream<'_, Discovery> {
        let assets = self.assets.iter().map(|a| Discovery::Asset(Box::new(a.clone())));
        let scopes = self.coverage.scopes().map(|(s, st)| match st {
            ScopeStatus::Complete => Discovery::Complete(s.clone()),
            ScopeStatus::Failed { error } => Discovery::Failed { scope: s.clone(), error: error.clone() },
        });
        stream::iter(assets.chain(scopes)).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSET: &str = r#"{"id": {"provider": "aws", "account": "1", "region": "r", "kind": "aws.s3.bucket", "resource_id": "b"}, "tags": {"Owner": "x"}}"#;

    #[test]
    fn reads_every_shape_and_derives_coverage() {
        let list = JsonInventory::parse("inv.json", &format!("[{ASSET}]")).unwrap();
        assert_eq!(list.assets().len(), 1);
        assert_eq!(list.coverage().len(), 1);
        let lines = JsonInventory::parse("inv.jsonl", &format!("{ASSET}\n\n{ASSET}\n")).unwrap();
        assert_eq!(lines.assets().len(), 2);
        let doc = format!(
            r#"{{"assets": [{ASSET}], "coverage": [{{"provider": "aws", "account": "1", "region": "r", "kind": "aws.s3.bucket", "status": "failed", "error": "AccessDenied"}}]}}"#
        );
        let doc = JsonInventory::parse("inv.json", &doc).unwrap();
        assert!(doc.coverage().is_partial());
        let found = futures::executor::block_on(discover_all(&[&doc, &lines]));
        assert_eq!(found.inventory.len(), 1);
        assert!(found.coverage.is_partial(), "a failure from one source wins");
    }

    #[test]
    fn bad_inventories_say_where() {
        let e = JsonInventory::parse("inv.jsonl", &format!("{ASSET}\n{{\"id\": 5}}\n")).unwrap_err().to_string();
        assert!(e.contains("inv.jsonl") && e.contains("line 2") && e.contains("`id`"), "{e}");
        let e = JsonInventory::parse("inv.json", "[{\"id\": {\"provider\": \"aws\"}}]").unwrap_err().to_string();
        assert!(e.contains("`[0].id`") && e.contains("missing field"), "{e}");
        let e = JsonInventory::parse("inv.json", "[1, 2").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = JsonInventory::parse("inv.json", &format!("{{\"assets\": [{ASSET}], \"extra\": 1}}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
    }
}
