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
use pacbot_core::{AssetId, Condition, Criteria, Operator};
use serde_json::Value;

use crate::model::{AssetFilter, CriteriaFilter, FixFilter, TagFilter, ViolationFilter};

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

    /// A text parameter's placeholder (typed when the dialect needs it).
    fn text(&mut self, value: &str) -> String;

    /// A condition: the asset `a` has the tag `key` (with this value, if any).
    fn tag(&mut self, key: &str, value: Option<&str>) -> String;
}

/// The conditions of a violation filter. `asset_joined`: the asset is
/// joined as `a` (needed by tag filters and criteria). Criteria are in the
/// SQL when [`criteria_in_sql`] says so; else the caller matches them in Rust.
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
        criteria_term(w, f.criteria.as_ref());
    }
}

/// The conditions of an asset filter; its criteria as for [`violation_terms`].
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
    criteria_term(w, f.criteria.as_ref());
}

/// Whether these criteria are tested in SQL (by [`violation_terms`] with
/// the asset joined, and [`asset_terms`]): when every condition in them is
/// on a field SQL has — the asset's provider, account, region, kind or
/// resource id, or one tag — with `eq`, `ne`, `in`, `not-in` (strings),
/// `exists` or `absent`, combined by `all`, `any` and `not`. Other criteria
/// are matched in Rust, row by row, after the query.
pub(crate) fn criteria_in_sql(f: Option<&CriteriaFilter>) -> bool {
    f.is_some_and(|cf| expressible(&cf.criteria))
}

fn criteria_term(w: &mut impl FilterSql, f: Option<&CriteriaFilter>) {
    if let Some(cf) = f
        && expressible(&cf.criteria)
    {
        let sql = criteria_sql(w, &cf.criteria);
        w.term(sql);
    }
}

/// An asset-level field a criteria path may name, as SQL sees it.
enum Field<'a> {
    /// A column of `a` (never null).
    Column(&'static str),
    /// The value of one tag.
    Tag(&'a str),
}

/// The field a path names, when SQL has it. Only plain paths are taken
/// (`account`, `tags.Environment`); a tag key with any other character than
/// ASCII letters, digits, `-` and `_` stays in Rust, so the path syntax
/// (dots, brackets, quotes) never needs reading here.
fn field(c: &Condition) -> Option<Field<'_>> {
    let text = c.path.as_str();
    let column = match text {
        "provider" => "a.provider",
        "account" => "a.account",
        "region" => "a.region",
        "kind" => "a.kind",
        "resource_id" => "a.resource_id",
        _ => {
            let key = text.strip_prefix("tags.")?;
            let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            return plain.then_some(Field::Tag(key));
        }
    };
    Some(Field::Column(column))
}

fn strings(values: &[Value]) -> Option<Vec<&str>> {
    values.iter().map(Value::as_str).collect()
}

fn expressible(c: &Criteria) -> bool {
    match c {
        Criteria::All(cs) | Criteria::Any(cs) => cs.iter().all(expressible),
        Criteria::Not(c) => expressible(c),
        Criteria::Match(cond) => {
            !cond.every
                && field(cond).is_some()
                && match &cond.op {
                    Operator::Eq(v) | Operator::Ne(v) => v.is_string(),
                    Operator::In(vs) | Operator::NotIn(vs) => strings(vs).is_some(),
                    Operator::Exists | Operator::Absent => true,
                    _ => false,
                }
        }
    }
}

/// The SQL of criteria that are [`expressible`] (anything else is `FALSE`).
fn criteria_sql(w: &mut impl FilterSql, c: &Criteria) -> String {
    let join = |w: &mut _, cs: &[Criteria], op: &str, empty: &str| {
        if cs.is_empty() {
            return empty.to_owned();
        }
        let parts: Vec<String> = cs.iter().map(|c| criteria_sql(w, c)).collect();
        format!("({})", parts.join(op))
    };
    match c {
        Criteria::All(cs) => join(w, cs, " AND ", "TRUE"),
        Criteria::Any(cs) => join(w, cs, " OR ", "FALSE"),
        Criteria::Not(c) => format!("(NOT {})", criteria_sql(w, c)),
        Criteria::Match(cond) => condition_sql(w, cond).unwrap_or_else(|| "FALSE".to_owned()),
    }
}

/// A value of the field is one of `values` (a tag: the asset has it with one of them).
fn one_of(w: &mut impl FilterSql, field: &Field<'_>, values: &[&str]) -> String {
    if values.is_empty() {
        return "FALSE".to_owned();
    }
    let parts: Vec<String> = match field {
        Field::Column(col) => values.iter().map(|v| format!("{col} = {}", w.text(v))).collect(),
        Field::Tag(key) => values.iter().map(|v| w.tag(key, Some(v))).collect(),
    };
    format!("({})", parts.join(" OR "))
}

fn condition_sql(w: &mut impl FilterSql, cond: &Condition) -> Option<String> {
    let field = field(cond)?;
    Some(match &cond.op {
        Operator::Eq(v) => one_of(w, &field, &[v.as_str()?]),
        Operator::Ne(v) => format!("(NOT {})", one_of(w, &field, &[v.as_str()?])),
        Operator::In(vs) => one_of(w, &field, &strings(vs)?),
        Operator::NotIn(vs) => format!("(NOT {})", one_of(w, &field, &strings(vs)?)),
        Operator::Exists => match field {
            Field::Column(_) => "TRUE".to_owned(),
            Field::Tag(key) => w.tag(key, None),
        },
        Operator::Absent => match field {
            Field::Column(_) => "FALSE".to_owned(),
            Field::Tag(key) => format!("(NOT {})", w.tag(key, None)),
        },
        _ => return None,
    })
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
