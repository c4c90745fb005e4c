//! Criteria: the one declarative matcher over assets.
//!
//! Asset groups, sticky exceptions, policy scopes and declarative rules all
//! describe a set of assets with a [`Criteria`]. In YAML:
//!
//! ```yaml
//! all:
//!   - path: tags.Environment
//!     eq: production
//!   - any:
//!       - path: ip_permissions[*].ip_ranges[*].cidr_ip
//!         cidr-contains: 8.8.8.8
//!       - not:
//!           path: tags.Owner
//!           exists: true
//! ```
//!
//! A node is either a combinator (`all`, `any`, `not`) or a condition: a
//! `path` (see [`AttributePath`]) and exactly one operator:
//!
//! | operator | operand | matches when |
//! |---|---|---|
//! | `eq` / `ne` | any JSON value | a value equals the operand (numbers compare by value) / none does |
//! | `in` / `not-in` | a list | a value equals one of the list / none does |
//! | `glob` | a glob pattern | a string value matches the whole pattern (`*`, `?`, `[a-z]`, `{a,b}`) |
//! | `regex` | a regular expression | a string value contains a match (anchor with `^…$`) |
//! | `exists` / `absent` | `true` (or `false` for the opposite) | the path yields a non-null value / yields none |
//! | `gt` `ge` `lt` `le` | a number, or a string | a number value compares so; for strings, two RFC 3339 times compare as times, other strings by their text |
//! | `contains` | any JSON value | an array value has the element, a string value the substring, an object or the tag map the key |
//! | `cidr-contains` | an IPv4/IPv6 address or network | a value (an address or a CIDR network) contains the operand |
//! | `older-than` / `newer-than` | a duration (`90d`, `12h`, `2w`) | a time value (RFC 3339, or seconds since the epoch) lies further back / less far back than that from the scan time |
//! | `match` | criteria | a value is an object (or other JSON value) that the nested criteria match, their paths being relative to it |
//!
//! `match` keeps conditions on the same element together. With
//! `path: "ingress[*]"` and `match: {all: [{path: cidr, eq: 0.0.0.0/0}, {path: port, eq: 22}]}`
//! one rule must be both world-open and on port 22; the two conditions
//! written side by side on `ingress[*].cidr` and `ingress[*].port` would also
//! match a world-open rule on 443 next to a private one on 22.
//!
//! Paths with `[*]` yield several values; a positive operator matches when
//! *any* value matches. `ne` and `not-in` are the exact negations of `eq` and
//! `in`, so they also match when the path yields nothing (a missing setting
//! is "not equal to `Enabled`"). A condition with `every: true` instead
//! demands that the path yields at least one value and that *every* value
//! satisfies the operator (`{path: "rules[*].port", every: true, ne: 22}`:
//! there are rules, and none is on port 22); `every` does not combine with
//! `exists` or `absent`.
//!
//! Values of the wrong type never match (a `regex` on a number, `gt` on a
//! string when the operand is a number). Operator names are also accepted in
//! snake case (`not_in`, `cidr_contains`, `older_than`).
//!
//! Criteria are compiled when they are built or deserialized: regular
//! expressions, globs, networks and durations are parsed once and invalid
//! ones are rejected with the path of the offending node.

use std::cmp::Ordering;
use std::fmt;
use std::io::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use ipnet::IpNet;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::asset::Asset;
use crate::attributes::{Attr, AttrKind, Attributes};
use crate::path::{AttributePath, Subject, ValueRef};

/// A boolean expression over an asset's identity, tags and attributes.
#[derive(Clone, Debug, PartialEq)]
pub enum Criteria {
    /// Every child matches (true when there are none).
    All(Vec<Criteria>),
    /// Some child matches (false when there are none).
    Any(Vec<Criteria>),
    /// The child does not match.
    Not(Box<Criteria>),
    /// A single condition on a path.
    Match(Condition),
}

/// A condition: an attribute path and an operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// Where to look.
    pub path: AttributePath,
    /// What to test.
    pub op: Operator,
    /// Whether every value must satisfy the operator (instead of any).
    pub every: bool,
}

/// A condition's operator with its compiled operand.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Operator {
    /// Equal to the value.
    Eq(Value),
    /// Not equal to the value.
    Ne(Value),
    /// Equal to one of the values.
    In(Vec<Value>),
    /// Equal to none of the values.
    NotIn(Vec<Value>),
    /// The whole string matches a glob.
    Glob(Glob),
    /// The string contains a match of a regular expression.
    Regex(Pattern),
    /// The path yields a non-null value.
    Exists,
    /// The path yields no non-null value.
    Absent,
    /// Greater than.
    Gt(Ordinal),
    /// Greater than or equal.
    Ge(Ordinal),
    /// Less than.
    Lt(Ordinal),
    /// Less than or equal.
    Le(Ordinal),
    /// Array element, substring or map key.
    Contains(Value),
    /// The value's network contains this address or network.
    CidrContains(Cidr),
    /// A time further back from the scan time than the duration.
    OlderThan(Age),
    /// A time less far back from the scan time than the duration.
    NewerThan(Age),
    /// Nested criteria match the value (paths relative to it).
    Match(Box<Criteria>),
}

/// A compiled glob pattern (compared by its text).
#[derive(Clone)]
pub struct Glob {
    text: String,
    matcher: globset::GlobMatcher,
}

/// A compiled regular expression (compared by its text).
#[derive(Clone)]
pub struct Pattern(regex::Regex);

/// A parsed network or address for `cidr-contains` (compared by its text).
#[derive(Clone)]
pub struct Cidr {
    text: String,
    net: IpNet,
}

/// A parsed duration for `older-than` / `newer-than` (compared by its text).
#[derive(Clone)]
pub struct Age {
    text: String,
    delta: TimeDelta,
}

/// The operand of an ordering operator.
#[derive(Clone, Debug, PartialEq)]
pub enum Ordinal {
    /// A number.
    Number(serde_json::Number),
    /// A time, written as an RFC 3339 string.
    Time(String, DateTime<Utc>),
    /// Any other string.
    Text(String),
}

impl Glob {
    /// Compiles a glob pattern.
    pub fn new(text: &str) -> Result<Self, String> {
        let glob = globset::GlobBuilder::new(text)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("invalid glob `{text}`: {}", e.kind()))?;
        Ok(Self { text: text.to_owned(), matcher: glob.compile_matcher() })
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole string matches.
    #[must_use]
    pub fn is_match(&self, s: &str) -> bool {
        self.matcher.is_match(s)
    }
}

impl Pattern {
    /// Compiles a regular expression.
    pub fn new(text: &str) -> Result<Self, String> {
        regex::Regex::new(text).map(Self).map_err(|e| format!("invalid regex `{text}`: {e}"))
    }

    /// The expression as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Cidr {
    /// Parses an address (`10.0.0.1`, `::1`) or a network (`10.0.0.0/8`, `2001:db8::/32`).
    pub fn new(text: &str) -> Result<Self, String> {
        parse_net(text)
            .map(|net| Self { text: text.to_owned(), net })
            .ok_or_else(|| format!("invalid IP address or CIDR `{text}`"))
    }

    /// The network as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The network (a single address is a /32 or /128).
    #[must_use]
    pub fn net(&self) -> IpNet {
        self.net
    }
}

/// Parses an address or CIDR network into a network.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

impl Age {
    /// Parses a duration such as `90d`, `12h`, `1w 2d` or `30min`.
    pub fn new(text: &str) -> Result<Self, String> {
        let std = humantime::parse_duration(text).map_err(|e| format!("invalid duration `{text}`: {e}"))?;
        let delta = TimeDelta::from_std(std).map_err(|_| format!("duration `{text}` is too long"))?;
        Ok(Self { text: text.to_owned(), delta })
    }

    /// The duration as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The duration.
    #[must_use]
    pub fn delta(&self) -> TimeDelta {
        self.delta
    }
}

impl Ordinal {
    /// An operand from JSON: a number or a string.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => Ok(Ordinal::Number(n.clone())),
            Value::String(s) => Ok(match parse_time_str(s) {
                Some(t) => Ordinal::Time(s.clone(), t),
                None => Ordinal::Text(s.clone()),
            }),
            other => Err(format!("expected a number or a string, found {}", type_name(other))),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Ordinal::Number(n) => Value::Number(n.clone()),
            Ordinal::Time(s, _) | Ordinal::Text(s) => Value::String(s.clone()),
        }
    }

    /// How `value` compares to this operand, when they are comparable.
    fn compare(&self, value: ValueRef<'_>) -> Option<Ordering> {
        match self {
            Ordinal::Number(n) => match value {
                ValueRef::Attr(v) => v.as_f64()?.partial_cmp(&n.as_f64()?),
                _ => None,
            },
            Ordinal::Time(_, t) => value_time(value).map(|v| v.cmp(t)),
            Ordinal::Text(s) => value.as_str().map(|v| v.cmp(s.as_str())),
        }
    }
}

macro_rules! eq_by_text {
    ($($t:ty),*) => {$(
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }
    )*};
}
eq_by_text!(Glob, Pattern, Cidr, Age);

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn parse_time_str(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn value_time(v: ValueRef<'_>) -> Option<DateTime<Utc>> {
    match v {
        ValueRef::Time(t) => Some(t),
        ValueRef::Attr(a) if a.kind() == AttrKind::Number => {
            let secs = a.as_f64()?;
            if !secs.is_finite() {
                return None;
            }
            #[allow(clippy::cast_possible_truncation)]
            DateTime::from_timestamp(secs.trunc() as i64, 0)
        }
        other => other.as_str().and_then(parse_time_str),
    }
}

fn value_eq(v: ValueRef<'_>, operand: &Value) -> bool {
    match v {
        ValueRef::Attr(a) => a.json_eq(operand),
        ValueRef::Str(s) => operand.as_str() == Some(s),
        ValueRef::Time(t) => operand.as_str().and_then(parse_time_str) == Some(t),
        ValueRef::Tags(tags) => match operand {
            Value::Object(map) => map.len() == tags.len() && map.iter().all(|(k, v)| tags.get(k) == v.as_str()),
            _ => false,
        },
    }
}

/// Whether one value satisfies the operator (the negative operators
/// negated per value).
fn test_value(op: &Operator, v: ValueRef<'_>, now: DateTime<Utc>) -> bool {
    match op {
        Operator::Eq(x) => value_eq(v, x),
        Operator::Ne(x) => !value_eq(v, x),
        Operator::In(xs) => xs.iter().any(|x| value_eq(v, x)),
        Operator::NotIn(xs) => !xs.iter().any(|x| value_eq(v, x)),
        Operator::Glob(g) => v.as_str().is_some_and(|s| g.is_match(s)),
        Operator::Regex(r) => v.as_str().is_some_and(|s| r.0.is_match(s)),
        Operator::Exists => !v.is_null(),
        Operator::Absent => v.is_null(),
        Operator::Gt(o) => o.compare(v) == Some(Ordering::Greater),
        Operator::Ge(o) => matches!(o.compare(v), Some(Ordering::Greater | Ordering::Equal)),
        Operator::Lt(o) => o.compare(v) == Some(Ordering::Less),
        Operator::Le(o) => matches!(o.compare(v), Some(Ordering::Less | Ordering::Equal)),
        Operator::Contains(x) => value_contains(v, x),
        Operator::CidrContains(c) => v.as_str().and_then(parse_net).is_some_and(|net| net.contains(&c.net)),
        Operator::OlderThan(a) => value_time(v).is_some_and(|t| now - t > a.delta),
        Operator::NewerThan(a) => value_time(v).is_some_and(|t| now - t < a.delta),
        Operator::Match(c) => match v {
            ValueRef::Attr(a) => c.matches_subject(Subject::Attr(a), now),
            _ => false,
        },
    }
}

fn value_contains(v: ValueRef<'_>, operand: &Value) -> bool {
    match v {
        ValueRef::Attr(a) if a.kind() == AttrKind::Array => a.elements().any(|i| i.json_eq(operand)),
        ValueRef::Attr(a) if a.kind() == AttrKind::Object => operand.as_str().is_some_and(|k| a.contains_key(k)),
        ValueRef::Tags(tags) => operand.as_str().is_some_and(|k| tags.contains_key(k)),
        other => match (other.as_str(), operand.as_str()) {
            (Some(s), Some(needle)) => s.contains(needle),
            _ => false,
        },
    }
}

/// The bytes written by the explainers, which write only UTF-8.
/// Shrunk to fit: findings keep their reasons for as long as the evaluation lives.
pub(crate) fn bytes_to_string(bytes: Vec<u8>) -> String {
    let mut s = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    s.shrink_to_fit();
    s
}

impl Condition {
    /// A condition from a path and an operator.
    pub fn new(path: &str, op: Operator) -> Result<Self, crate::Error> {
        let path = path.parse().map_err(|e: crate::path::PathError| crate::Error::InvalidCriteria {
            path: "path".into(),
            reason: e.to_string(),
        })?;
        Ok(Self { path, op, every: false })
    }

    /// Demands that every value at the path satisfies the operator.
    #[must_use]
    pub fn for_every(mut self) -> Self {
        self.every = true;
        self
    }

    /// Whether the asset satisfies the condition at scan time `now`.
    #[must_use]
    pub fn matches(&self, asset: &Asset, now: DateTime<Utc>) -> bool {
        self.matches_subject(Subject::Asset(asset), now)
    }

    fn matches_subject(&self, subject: Subject<'_>, now: DateTime<Utc>) -> bool {
        let path = &self.path;
        if self.every {
            let mut seen = false;
            let counterexample = path.any_subject(subject, |v| {
                seen = true;
                !test_value(&self.op, v, now)
            });
            return seen && !counterexample;
        }
        match &self.op {
            Operator::Ne(x) => !path.any_subject(subject, |v| value_eq(v, x)),
            Operator::NotIn(xs) => !path.any_subject(subject, |v| xs.iter().any(|x| value_eq(v, x))),
            Operator::Absent => !path.any_subject(subject, |v| !v.is_null()),
            op => path.any_subject(subject, |v| test_value(op, v, now)),
        }
    }

    fn operator_entry(&self) -> (&'static str, Value) {
        (self.op.name(), self.op.operand())
    }
}

impl Operator {
    /// The operator's name as written in documents.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Operator::Eq(_) => "eq",
            Operator::Ne(_) => "ne",
            Operator::In(_) => "in",
            Operator::NotIn(_) => "not-in",
            Operator::Glob(_) => "glob",
            Operator::Regex(_) => "regex",
            Operator::Exists => "exists",
            Operator::Absent => "absent",
            Operator::Gt(_) => "gt",
            Operator::Ge(_) => "ge",
            Operator::Lt(_) => "lt",
            Operator::Le(_) => "le",
            Operator::Contains(_) => "contains",
            Operator::CidrContains(_) => "cidr-contains",
            Operator::OlderThan(_) => "older-than",
            Operator::NewerThan(_) => "newer-than",
            Operator::Match(_) => "match",
        }
    }

    /// Writes the operand as JSON without copying it.
    fn write_operand(&self, out: &mut Vec<u8>) {
        let _ = match self {
            Operator::Eq(x) | Operator::Ne(x) | Operator::Contains(x) => serde_json::to_writer(&mut *out, x),
            Operator::In(xs) | Operator::NotIn(xs) => serde_json::to_writer(&mut *out, xs),
            Operator::Glob(g) => serde_json::to_writer(&mut *out, &g.text),
            Operator::Regex(r) => serde_json::to_writer(&mut *out, r.as_str()),
            Operator::Exists | Operator::Absent => serde_json::to_writer(&mut *out, &true),
            Operator::CidrContains(c) => serde_json::to_writer(&mut *out, &c.text),
            Operator::OlderThan(a) | Operator::NewerThan(a) => serde_json::to_writer(&mut *out, &a.text),
            Operator::Gt(o) | Operator::Ge(o) | Operator::Lt(o) | Operator::Le(o) => match o {
                Ordinal::Number(n) => serde_json::to_writer(&mut *out, n),
                Ordinal::Time(s, _) | Ordinal::Text(s) => serde_json::to_writer(&mut *out, s),
            },
            Operator::Match(c) => serde_json::to_writer(&mut *out, c),
        };
    }

    /// The operand as a JSON value.
    fn operand(&self) -> Value {
        match self {
            Operator::Eq(x) | Operator::Ne(x) | Operator::Contains(x) => x.clone(),
            Operator::In(xs) | Operator::NotIn(xs) => Value::Array(xs.clone()),
            Operator::Glob(g) => Value::String(g.text.clone()),
            Operator::Regex(r) => Value::String(r.as_str().to_owned()),
            Operator::Exists | Operator::Absent => Value::Bool(true),
            Operator::Gt(o) | Operator::Ge(o) | Operator::Lt(o) | Operator::Le(o) => o.to_value(),
            Operator::CidrContains(c) => Value::String(c.text.clone()),
            Operator::OlderThan(a) | Operator::NewerThan(a) => Value::String(a.text.clone()),
            Operator::Match(c) => c.to_value(),
        }
    }
}

impl Criteria {
    /// Criteria that match every asset.
    #[must_use]
    pub fn always() -> Self {
        Criteria::All(Vec::new())
    }

    /// A single condition, parsing the path.
    pub fn condition(path: &str, op: Operator) -> Result<Self, crate::Error> {
        Condition::new(path, op).map(Criteria::Match)
    }

    /// `path eq value`.
    pub fn eq(path: &str, value: impl Into<Value>) -> Result<Self, crate::Error> {
        Self::condition(path, Operator::Eq(value.into()))
    }

    /// `path exists`.
    pub fn exists(path: &str) -> Result<Self, crate::Error> {
        Self::condition(path, Operator::Exists)
    }

    /// The negation of these criteria.
    #[must_use]
    pub fn negate(self) -> Self {
        Criteria::Not(Box::new(self))
    }

    /// Whether the asset matches, at scan time `now`.
    #[must_use]
    pub fn matches(&self, asset: &Asset, now: DateTime<Utc>) -> bool {
        self.matches_subject(Subject::Asset(asset), now)
    }

    /// Whether a value of an attribute document matches, every path being
    /// relative to it (as inside a `match` operator).
    #[must_use]
    pub fn matches_attr(&self, node: Attr<'_>, now: DateTime<Utc>) -> bool {
        self.matches_subject(Subject::Attr(node), now)
    }

    /// Whether a JSON document matches, every path being relative to it.
    /// Converts the document first; prefer [`Criteria::matches_attr`] in loops.
    #[must_use]
    pub fn matches_json(&self, doc: &Value, now: DateTime<Utc>) -> bool {
        Attributes::from_json(doc).is_ok_and(|doc| self.matches_attr(doc.root(), now))
    }

    fn matches_subject(&self, subject: Subject<'_>, now: DateTime<Utc>) -> bool {
        match self {
            Criteria::All(cs) => cs.iter().all(|c| c.matches_subject(subject, now)),
            Criteria::Any(cs) => cs.iter().any(|c| c.matches_subject(subject, now)),
            Criteria::Not(c) => !c.matches_subject(subject, now),
            Criteria::Match(cond) => cond.matches_subject(subject, now),
        }
    }

    /// The first condition (depth first) that decides a failed `all` — a
    /// short explanation for humans of why criteria did or did not match.
    #[must_use]
    pub fn explain(&self, asset: &Asset, now: DateTime<Utc>) -> String {
        let mut out = Vec::with_capacity(96);
        self.explain_into(&mut out, asset, now);
        bytes_to_string(out)
    }

    /// Appends the explanation to `out` (UTF-8), allocating nothing else
    /// for the common case of one condition.
    pub(crate) fn explain_into(&self, out: &mut Vec<u8>, asset: &Asset, now: DateTime<Utc>) {
        match self {
            Criteria::Match(c) => {
                out.push(b'`');
                out.extend_from_slice(c.path.as_str().as_bytes());
                out.extend_from_slice(b"` ");
                out.extend_from_slice(c.op.name().as_bytes());
                out.push(b' ');
                c.op.write_operand(out);
                out.extend_from_slice(b" (found ");
                let mut found = 0;
                c.path.any(asset, |v| {
                    if found > 0 {
                        out.extend_from_slice(b", ");
                    }
                    let _ = match v {
                        ValueRef::Attr(a) => serde_json::to_writer(&mut *out, &a),
                        ValueRef::Str(s) => serde_json::to_writer(&mut *out, s),
                        ValueRef::Time(t) => serde_json::to_writer(&mut *out, &t.to_rfc3339()),
                        ValueRef::Tags(t) => write!(out, "{} tags", t.len()).map_err(serde_json::Error::io),
                    };
                    found += 1;
                    found == 5
                });
                if found == 0 {
                    out.extend_from_slice(b"nothing");
                }
                out.push(b')');
            }
            Criteria::All(cs) => match cs.iter().find(|c| !c.matches(asset, now)) {
                Some(c) => c.explain_into(out, asset, now),
                None => {
                    for (i, c) in cs.iter().enumerate() {
                        if i > 0 {
                            out.extend_from_slice(b" and ");
                        }
                        c.explain_into(out, asset, now);
                    }
                }
            },
            Criteria::Any(cs) => match cs.iter().find(|c| c.matches(asset, now)) {
                Some(c) => c.explain_into(out, asset, now),
                None => {
                    let _ = write!(out, "none of {} alternatives", cs.len());
                }
            },
            Criteria::Not(c) => {
                out.extend_from_slice(b"not (");
                c.explain_into(out, asset, now);
                out.push(b')');
            }
        }
    }

    /// Parses criteria from a YAML (or JSON, which is YAML) document.
    pub fn from_yaml(text: &str) -> Result<Self, crate::Error> {
        crate::doc::from_yaml::<Criteria>(text).map_err(|(path, reason)| crate::Error::InvalidCriteria { path, reason })
    }

    /// Parses criteria from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, crate::Error> {
        crate::doc::from_value::<Criteria>(value)
            .map_err(|(path, reason)| crate::Error::InvalidCriteria { path, reason })
    }

    /// These criteria as a JSON value (the same shape they deserialize from).
    #[must_use]
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for Criteria {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            Criteria::All(cs) => map.serialize_entry("all", cs)?,
            Criteria::Any(cs) => map.serialize_entry("any", cs)?,
            Criteria::Not(c) => map.serialize_entry("not", c)?,
            Criteria::Match(cond) => {
                map.serialize_entry("path", &cond.path)?;
                if cond.every {
                    map.serialize_entry("every", &true)?;
                }
                let (op, operand) = cond.operator_entry();
                map.serialize_entry(op, &operand)?;
            }
        }
        map.end()
    }
}

/// Deserializes a present value as `Some`, so that `eq: null` is kept.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

macro_rules! compiled {
    ($name:ident, $ty:ty, $ctor:path) => {
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$ty>, D::Error> {
            let text = String::deserialize(d)?;
            $ctor(&text).map(Some).map_err(de::Error::custom)
        }
    };
}
compiled!(de_glob, Glob, Glob::new);
compiled!(de_regex, Pattern, Pattern::new);
compiled!(de_cidr, Cidr, Cidr::new);
compiled!(de_age, Age, Age::new);

fn de_ordinal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ordinal>, D::Error> {
    let v = Value::deserialize(d)?;
    Ordinal::from_value(&v).map(Some).map_err(de::Error::custom)
}

fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Value>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => Ok(Some(items)),
        other => Err(de::Error::custom(format!("expected a list, found {}", type_name(&other)))),
    }
}

/// The serialized form of a node, before it is checked to have exactly one
/// meaning.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    all: Option<Vec<Criteria>>,
    any: Option<Vec<Criteria>>,
    not: Option<Box<Criteria>>,
    path: Option<AttributePath>,
    every: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    eq: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    ne: Option<Value>,
    #[serde(default, rename = "in", deserialize_with = "de_list")]
    in_: Option<Vec<Value>>,
    #[serde(default, rename = "not-in", alias = "not_in", deserialize_with = "de_list")]
    not_in: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "de_glob")]
    glob: Option<Glob>,
    #[serde(default, deserialize_with = "de_regex")]
    regex: Option<Pattern>,
    exists: Option<bool>,
    absent: Option<bool>,
    #[serde(default, deserialize_with = "de_ordinal")]
    gt: Option<Ordinal>,
    #[serde(default, deserialize_with = "de_ordinal")]
    ge: Option<Ordinal>,
    #[serde(default, deserialize_with = "de_ordinal")]
    lt: Option<Ordinal>,
    #[serde(default, deserialize_with = "de_ordinal")]
    le: Option<Ordinal>,
    #[serde(default, deserialize_with = "present")]
    contains: Option<Value>,
    #[serde(default, rename = "cidr-contains", alias = "cidr_contains", deserialize_with = "de_cidr")]
    cidr_contains: Option<Cidr>,
    #[serde(default, rename = "older-than", alias = "older_than", deserialize_with = "de_age")]
    older_than: Option<Age>,
    #[serde(default, rename = "newer-than", alias = "newer_than", deserialize_with = "de_age")]
    newer_than: Option<Age>,
    #[serde(rename = "match")]
    match_: Option<Box<Criteria>>,
}

impl RawNode {
    fn into_criteria(self) -> Result<Criteria, String> {
        let mut ops: Vec<Operator> = Vec::with_capacity(1);
        let mut push = |o: Option<Operator>| ops.extend(o);
        push(self.eq.map(Operator::Eq));
        push(self.ne.map(Operator::Ne));
        push(self.in_.map(Operator::In));
        push(self.not_in.map(Operator::NotIn));
        push(self.glob.map(Operator::Glob));
        push(self.regex.map(Operator::Regex));
        push(self.exists.map(|e| if e { Operator::Exists } else { Operator::Absent }));
        push(self.absent.map(|a| if a { Operator::Absent } else { Operator::Exists }));
        push(self.gt.map(Operator::Gt));
        push(self.ge.map(Operator::Ge));
        push(self.lt.map(Operator::Lt));
        push(self.le.map(Operator::Le));
        push(self.contains.map(Operator::Contains));
        push(self.cidr_contains.map(Operator::CidrContains));
        push(self.older_than.map(Operator::OlderThan));
        push(self.newer_than.map(Operator::NewerThan));
        push(self.match_.map(Operator::Match));

        let combinators =
            usize::from(self.all.is_some()) + usize::from(self.any.is_some()) + usize::from(self.not.is_some());
        let every = self.every.unwrap_or(false);
        if every && matches!(ops.as_slice(), [Operator::Exists | Operator::Absent]) {
            return Err("`every` does not combine with `exists` or `absent`".into());
        }
        if self.every.is_some() && self.path.is_none() {
            return Err("`every` belongs to a condition with a `path`".into());
        }
        match (combinators, self.path, ops.len()) {
            (1, None, 0) => Ok(if let Some(cs) = self.all {
                Criteria::All(cs)
            } else if let Some(cs) = self.any {
                Criteria::Any(cs)
            } else if let Some(c) = self.not {
                Criteria::Not(c)
            } else {
                Criteria::always()
            }),
            (0, Some(path), 1) => Ok(Criteria::Match(Condition { path, op: ops.remove(0), every })),
            (0, Some(_), 0) => Err("a condition needs an operator (eq, ne, in, not-in, glob, regex, exists, absent, gt, ge, lt, le, contains, cidr-contains, older-than, newer-than, match)".into()),
            (0, Some(_), _) => Err("a condition has exactly one operator; write several conditions under `all` to combine them".into()),
            (0, None, 0) => Err("empty criteria: expected `all`, `any`, `not` or a `path` with an operator".into()),
            (0, None, _) => Err("an operator needs a `path`".into()),
            _ => Err("a node is either one of `all`, `any`, `not`, or a condition with `path`; write several nodes under `all` to combine them".into()),
        }
    }
}

impl<'de> Deserialize<'de> for Criteria {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawNode::deserialize(d)?.into_criteria().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetId;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn sg() -> Asset {
        Asset::new(AssetId::new("aws", "111122223333", "us-east-1", "aws.ec2.security_group", "sg-1"))
            .with_tag("Environment", "production")
            .with_tag("Owner", "<script>alert(1)</script>")
            .with_attributes(json!({
                "group_name": "web",
                "ip_permissions": [
                    {"ip_protocol": "tcp", "from_port": 22, "to_port": 22,
                     "ip_ranges": [{"cidr_ip": "10.0.0.0/8"}, {"cidr_ip": "0.0.0.0/0"}],
                     "ipv6_ranges": [{"cidr_ipv6": "::/0"}]},
                    {"ip_protocol": "-1", "from_port": null, "ip_ranges": []}
                ],
                "created": "2026-01-01T00:00:00Z",
                "epoch": 1767225600,
                "size": 100,
                "ratio": 1.0,
                "names": ["a", "b"],
                "nothing": null
            }))
    }

    fn check(yaml: &str) -> bool {
        let c = Criteria::from_yaml(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        c.matches(&sg(), now())
    }

    #[test]
    fn every_operator_matches_and_misses() {
        let cases: &[(&str, bool)] = &[
            ("{path: group_name, eq: web}", true),
            ("{path: group_name, eq: db}", false),
            ("{path: ratio, eq: 1}", true),
            ("{path: size, eq: 100.0}", true),
            ("{path: nothing, eq: null}", true),
            ("{path: group_name, ne: db}", true),
            ("{path: missing, ne: db}", true),
            ("{path: region, in: [us-east-1, eu-west-1]}", true),
            ("{path: region, not-in: [us-east-1]}", false),
            ("{path: region, not_in: [ap-south-1]}", true),
            ("{path: tags.Environment, glob: 'prod*'}", true),
            ("{path: tags.Environment, glob: 'prod'}", false),
            ("{path: resource_id, regex: '^sg-[0-9]+$'}", true),
            ("{path: size, regex: '1'}", false),
            ("{path: tags.Owner, exists: true}", true),
            ("{path: tags.Team, exists: true}", false),
            ("{path: tags.Team, absent: true}", true),
            ("{path: nothing, exists: true}", false),
            ("{path: nothing, absent: true}", true),
            ("{path: tags.Owner, exists: false}", false),
            ("{path: size, gt: 99}", true),
            ("{path: size, gt: 100}", false),
            ("{path: size, ge: 100}", true),
            ("{path: size, lt: 100}", false),
            ("{path: size, le: 100}", true),
            ("{path: group_name, gt: 100}", false),
            ("{path: created, lt: '2026-02-01T00:00:00Z'}", true),
            ("{path: group_name, lt: x}", true),
            ("{path: names, contains: b}", true),
            ("{path: names, contains: c}", false),
            ("{path: group_name, contains: e}", true),
            ("{path: tags, contains: Owner}", true),
            ("{path: 'ip_permissions[0]', contains: ip_ranges}", true),
            ("{path: 'ip_permissions[*].ip_ranges[*].cidr_ip', cidr-contains: 8.8.8.8}", true),
            ("{path: 'ip_permissions[*].ip_ranges[*].cidr_ip', cidr-contains: 10.1.0.0/16}", true),
            ("{path: 'ip_permissions[*].ip_ranges[*].cidr_ip', cidr-contains: 2001:db8::1}", false),
            ("{path: 'ip_permissions[*].ipv6_ranges[*].cidr_ipv6', cidr-contains: '2001:db8::/32'}", true),
            ("{path: created, older-than: 90d}", true),
            ("{path: created, older-than: 365d}", false),
            ("{path: created, newer-than: 365d}", true),
            ("{path: epoch, older-than: 30d}", true),
            ("{path: group_name, older-than: 1d}", false),
            ("{path: 'ip_permissions[*].ip_protocol', eq: '-1'}", true),
            ("{all: []}", true),
            ("{any: []}", false),
            ("{not: {path: group_name, eq: web}}", false),
            (
                "{all: [{path: region, eq: us-east-1}, {any: [{path: size, gt: 1000}, {path: tags.Environment, eq: production}]}]}",
                true,
            ),
            ("{not: {path: 'ip_permissions[*].ip_protocol', ne: tcp}}", true),
            ("{path: 'ip_permissions[*].ip_protocol', every: true, ne: udp}", true),
            ("{path: 'ip_permissions[*].ip_protocol', every: true, ne: tcp}", false),
            ("{path: 'ip_permissions[*].ip_protocol', every: true, in: [tcp, '-1']}", true),
            ("{path: 'ip_permissions[*].missing', every: true, ne: x}", false),
            ("{path: names, every: false, contains: a}", true),
            (
                "{path: 'ip_permissions[*]', match: {all: [{path: from_port, eq: 22}, {path: 'ip_ranges[*].cidr_ip', cidr-contains: 1.2.3.4}]}}",
                true,
            ),
            (
                "{path: 'ip_permissions[*]', match: {all: [{path: from_port, eq: 443}, {path: 'ip_ranges[*].cidr_ip', cidr-contains: 1.2.3.4}]}}",
                false,
            ),
            ("{path: 'ip_permissions[*]', every: true, match: {path: ip_protocol, in: [tcp, '-1']}}", true),
            ("{path: 'ip_permissions[*]', match: {path: region, exists: true}}", false),
            ("{path: group_name, match: {path: x, exists: true}}", false),
        ];
        for (yaml, expected) in cases {
            assert_eq!(check(yaml), *expected, "{yaml}");
        }
    }

    fn err(yaml: &str) -> (String, String) {
        match Criteria::from_yaml(yaml) {
            Err(crate::Error::InvalidCriteria { path, reason }) => (path, reason),
            other => panic!("{yaml}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn bad_documents_name_the_path() {
        let (path, reason) = err("any: [{path: a, eq: 1}, {path: b, regex: '(unclosed'}]");
        assert_eq!(path, "any[1].regex");
        assert!(reason.contains("invalid regex"), "{reason}");

        let (path, reason) = err("all: [{not: {path: ip, cidr-contains: 10.0.0.0/33}}]");
        assert_eq!(path, "all[0].not.cidr-contains");
        assert!(reason.contains("`10.0.0.0/33`"), "{reason}");

        let (path, reason) = err("{path: a, between: [1, 2]}");
        assert!(reason.contains("unknown field `between`"), "{path}: {reason}");

        let (path, reason) = err("{path: a, in: 5}");
        assert_eq!(path, "in");
        assert!(reason.contains("expected a list"), "{reason}");

        let (path, reason) = err("{path: a, older-than: soon}");
        assert_eq!(path, "older-than");
        assert!(reason.contains("invalid duration"), "{reason}");

        let (_, reason) = err("{path: a, gt: [1]}");
        assert!(reason.contains("expected a number or a string"), "{reason}");

        let (_, reason) = err("{path: a, exists: yes-please}");
        assert!(reason.contains("invalid type"), "{reason}");

        let (path, reason) = err("any: [{all: [{path: 'a..b', eq: 1}]}]");
        assert_eq!(path, "any[0].all[0].path");
        assert!(reason.contains("`a..b`"), "{reason}");

        let (_, reason) = err("{path: a, eq: 1, ne: 2}");
        assert!(reason.contains("exactly one operator"), "{reason}");
        let (_, reason) = err("{path: a}");
        assert!(reason.contains("needs an operator"), "{reason}");
        let (_, reason) = err("{all: [], any: []}");
        assert!(reason.contains("either one of"), "{reason}");
        let (_, reason) = err("{path: a, every: true, exists: true}");
        assert!(reason.contains("does not combine"), "{reason}");
        let (path, reason) = err("{path: a, match: {all: [{path: b, regex: '('}]}}");
        assert_eq!(path, "match.all[0].regex", "{reason}");
        let (_, reason) = err("{}");
        assert!(reason.contains("empty criteria"), "{reason}");
        let (_, reason) = err("{eq: 1}");
        assert!(reason.contains("needs a `path`"), "{reason}");
        let (_, reason) = err("all: [{path: a, glob: '[z-a]'}]");
        assert!(reason.contains("invalid glob"), "{reason}");
        let (_, reason) = err("all: [1, 2");
        assert!(!reason.is_empty());
    }

    #[test]
    fn serializes_to_the_shape_it_reads() {
        let yaml = "all: [{path: a, not-in: [1, x]}, {not: {path: 'b[*].c', cidr-contains: '::/0'}}, {path: d, older-than: 90d}, {path: e, absent: true}, {path: f, gt: 2.5}, {path: 'g[*]', every: true, lt: 3}, {path: 'h[*]', match: {path: name, eq: x}}]";
        let c = Criteria::from_yaml(yaml).unwrap();
        let v = c.to_value();
        assert_eq!(
            v,
            json!({"all": [
                {"path": "a", "not-in": [1, "x"]},
                {"not": {"path": "b[*].c", "cidr-contains": "::/0"}},
                {"path": "d", "older-than": "90d"},
                {"path": "e", "absent": true},
                {"path": "f", "gt": 2.5},
                {"path": "g[*]", "every": true, "lt": 3},
                {"path": "h[*]", "match": {"path": "name", "eq": "x"}}
            ]})
        );
        assert_eq!(Criteria::from_value(v).unwrap(), c);
    }

    #[test]
    fn explain_names_the_deciding_condition() {
        let c = Criteria::from_yaml("all: [{path: region, eq: us-east-1}, {path: size, gt: 500}]").unwrap();
        let why = c.explain(&sg(), now());
        assert_eq!(why, "`size` gt 500 (found 100)");
    }
}
