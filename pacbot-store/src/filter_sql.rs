//! The one mapping of [`ViolationFilter`] and [`AssetFilter`] to SQL
//! conditions, shared by the SQLite and PostgreSQL backends. Each backend's
//! WHERE builder implements [`FilterSql`]: how it binds a parameter (its
//! placeholder style and value types) and how it tests an asset's tags (a
//! side table on SQLite, a `jsonb` column on PostgreSQL); which column each
//! field of a filter tests is said here only.
//!
//! Violations are `v`, their assets (when joined) and listed assets `a`.

use chrono::{DateTime, Utc};

use crate::codec::severity_rank;
use pacbot_core::AssetId;

use crate::model::{AssetFilter, FixFilter, TagFilter, ViolationFilter};

/// A WHERE clause under construction, in one SQL dialect.
pub(crate) trait FilterSql {
    /// Adds a condition as it is.
    fn term(&mut self, sql: String);

    /// `column` is one of `values` (nothing when there are none).
    fn texts(&mut self, column: &str, values: Vec<&str>);

    /// `column`, an integer, is one of `values` (nothing when there are none).
    fn ints(&mut self, column: &str, values: Vec<i64>);

    /// `column`, a time, is at or after `t`.
    fn time_at_least(&mut self, column: &str, t: DateTime<Utc>);

    /// The asset `a` carries every tag.
    fn asset_tags(&mut self, tags: &[TagFilter]);
}

/// The conditions of a violation filter, but for its criteria (matched in
/// Rust). `asset_joined`: the asset is joined as `a` (needed by tag filters).
pub(crate) fn violation_terms(w: &mut impl FilterSql, f: &ViolationFilter, asset_joined: bool) {
    w.texts("v.policy_id", f.policies.iter().map(String::as_str).collect());
    w.ints("v.severity", f.severities.iter().map(|s| severity_rank(*s)).collect());
    w.texts("v.category", f.categories.iter().map(|c| c.as_str()).collect());
    w.texts("v.status", f.statuses.iter().map(|s| s.as_str()).collect());
    w.texts("v.provider", f.providers.iter().map(String::as_str).collect());
    w.texts("v.account", f.accounts.iter().map(String::as_str).collect());
    w.texts("v.region", f.regions.iter().map(String::as_str).collect());
    w.texts("v.kind", f.kinds.iter().map(|k| k.as_str()).collect());
    if let Some(t) = f.changed_since {
        w.time_at_least("v.modified_at", t);
    }
    if let Some(a) = &f.asset {
        asset_is(w, ["v.provider", "v.account", "v.region", "v.kind", "v.resource_id"], a);
    }
    if asset_joined {
        w.asset_tags(&f.tags);
    }
}

/// The conditions of an asset filter, but for its criteria (matched in Rust).
pub(crate) fn asset_terms(w: &mut impl FilterSql, f: &AssetFilter) {
    if !f.include_removed {
        w.term("a.removed_at IS NULL".to_owned());
    }
    if let Some(t) = f.changed_since {
        w.time_at_least("a.changed_at", t);
    }
    w.texts("a.provider", f.providers.iter().map(String::as_str).collect());
    w.texts("a.account", f.accounts.iter().map(String::as_str).collect());
    w.texts("a.region", f.regions.iter().map(String::as_str).collect());
    w.texts("a.kind", f.kinds.iter().map(|k| k.as_str()).collect());
    w.asset_tags(&f.tags);
}

/// The conditions of an auto-fix record filter (the `fix_records` table).
pub(crate) fn fix_terms(w: &mut impl FilterSql, f: &FixFilter) {
    if let Some(k) = f.kind {
        w.texts("kind", vec![k.as_str()]);
    }
    if let Some(p) = &f.policy_id {
        w.texts("policy_id", vec![p.as_str()]);
    }
    if let Some(a) = &f.asset {
        asset_is(w, ["provider", "account", "region", "asset_kind", "resource_id"], a);
    }
    if let Some(s) = &f.status {
        w.texts("status", vec![s.as_str()]);
    }
}

/// The asset identity in these columns (provider, account, region, kind, resource id) is `a`.
fn asset_is(w: &mut impl FilterSql, columns: [&str; 5], a: &AssetId) {
    let parts = [a.provider.as_str(), a.account.as_str(), a.region.as_str(), a.kind.as_str(), a.resource_id.as_str()];
    for (column, part) in columns.into_iter().zip(parts) {
        w.texts(column, vec![part]);
    }
}
