//! Building queries: WHERE clauses with numbered parameters, keyset
//! positions, and JSON documents read straight from `jsonb` columns.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::error::{Result, StoreError};
pub(super) use crate::filter_sql::FilterSql;
use crate::keyset::KeyPart;
use crate::model::{Order, TagFilter};

/// A query parameter.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// What a sort column holds, to bind a cursor's key part with the right type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Int,
    /// A `timestamptz`; the cursor holds microseconds since the epoch.
    Time,
}

/// A sort column: an SQL expression and what it holds.
pub(super) type Col = (&'static str, Kind);

/// A WHERE clause under construction, with its parameters.
#[derive(Default)]
pub(super) struct Where {
    pub terms: Vec<String>,
    pub params: Vec<Param>,
}

impl Where {
    /// Adds a parameter; returns its placeholder (`$3`).
    pub fn param(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    /// `(columns) > (key)`, or `<` when descending.
    pub fn after(&mut self, columns: &[Col], key: &[KeyPart], order: Order) -> Result<()> {
        let mut marks = Vec::with_capacity(key.len());
        for ((_, kind), part) in columns.iter().zip(key) {
            let mark = match (kind, part) {
                (Kind::Text, KeyPart::Text(t)) => format!("{}::text", self.param(t.clone())),
                (Kind::Int, KeyPart::Int(i)) => format!("{}::int8", self.param(*i)),
                (Kind::Time, KeyPart::Int(us)) => {
                    let t = DateTime::from_timestamp_micros(*us)
                        .ok_or_else(|| StoreError::cursor("its position holds a time out of range"))?;
                    format!("{}::timestamptz", self.param(t))
                }
                _ => return Err(StoreError::cursor("its position does not fit this ordering")),
            };
            marks.push(mark);
        }
        let op = if order.is_descending() { "<" } else { ">" };
        let cols: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        self.terms.push(format!("({}) {op} ({})", cols.join(", "), marks.join(", ")));
        Ok(())
    }

    /// `WHERE …`, or nothing.
    pub fn sql(&self) -> String {
        if self.terms.is_empty() { String::new() } else { format!("WHERE {}", self.terms.join(" AND ")) }
    }

    /// The parameters, as the driver takes them.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

impl FilterSql for Where {
    fn term(&mut self, sql: String) {
        self.terms.push(sql);
    }

    fn texts(&mut self, column: &str, values: Vec<&str>) {
        if values.is_empty() {
            return;
        }
        let p = self.param(values.into_iter().map(str::to_owned).collect::<Vec<String>>());
        self.terms.push(format!("{column} = ANY({p}::text[])"));
    }

    fn ints(&mut self, column: &str, values: Vec<i64>) {
        if values.is_empty() {
            return;
        }
        let p = self.param(values);
        self.terms.push(format!("{column} = ANY({p}::int8[])"));
    }

    fn time_at_least(&mut self, column: &str, t: DateTime<Utc>) {
        let mark = self.param(crate::codec::trunc(t));
        self.terms.push(format!("{column} >= {mark}"));
    }

    /// Tags are the `jsonb` column `a.tags`.
    fn asset_tags(&mut self, filters: &[TagFilter]) {
        for t in filters {
            let term = self.tag(&t.key, t.value.as_deref());
            self.terms.push(term);
        }
    }

    fn text(&mut self, value: &str) -> String {
        format!("{}::text", self.param(value.to_owned()))
    }

    fn tag(&mut self, key: &str, value: Option<&str>) -> String {
        let key = self.text(key);
        match value {
            Some(v) => {
                let value = self.text(v);
                format!("a.tags @> jsonb_build_object({key}, {value})")
            }
            None => format!("a.tags ? {key}"),
        }
    }
}

/// `ORDER BY` terms for the columns, all in one direction.
pub(super) fn order_by(columns: &[Col], order: Order) -> String {
    let dir = if order.is_descending() { "DESC" } else { "ASC" };
    columns.iter().map(|(c, _)| format!("{c} {dir}")).collect::<Vec<_>>().join(", ")
}

/// A page size or limit as a parameter.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The text of a `json` or `jsonb` value, borrowed from the row.
struct JsonText<'a>(&'a [u8]);

impl<'a> FromSql<'a> for JsonText<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        if *ty == Type::JSONB {
            // Binary `jsonb` is a version byte (1) and the JSON text.
            match raw.split_first() {
                Some((1, text)) => Ok(JsonText(text)),
                _ => Err("unsupported jsonb format version".into()),
            }
        } else {
            Ok(JsonText(raw))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

/// A serialized JSON document, sent as it is to a `jsonb` (or `json`)
/// column: binary `jsonb` is a version byte (1) and the text, so the server
/// parses the text once, into the column, with no cast from `text` between.
#[derive(Debug)]
pub(super) struct Jsonb<'a>(pub &'a str);

impl ToSql for Jsonb<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        if *ty == Type::JSONB {
            out.put_u8(1);
        }
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}

/// The document in a `jsonb` column, deserialized with serde.
pub(super) fn json<T: DeserializeOwned>(row: &Row, idx: usize, what: &str) -> Result<T> {
    let text: JsonText<'_> = row.try_get(idx)?;
    serde_json::from_slice(text.0).map_err(|e| StoreError::corrupt(what, e))
}

/// The document in a nullable `jsonb` column.
pub(super) fn json_opt<T: DeserializeOwned>(row: &Row, idx: usize, what: &str) -> Result<Option<T>> {
    let text: Option<JsonText<'_>> = row.try_get(idx)?;
    text.map(|t| serde_json::from_slice(t.0).map_err(|e| StoreError::corrupt(what, e))).transpose()
}

/// A count column as `u64`.
pub(super) fn count(row: &Row, idx: usize) -> Result<u64> {
    let n: i64 = row.try_get(idx)?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// A `u64` count as `bigint` (saturating).
pub(super) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
