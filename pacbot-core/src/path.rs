//! Attribute paths: how criteria and rules address parts of an asset.
//!
//! A path is a dot-separated list of keys, each optionally followed by
//! brackets: `[*]` visits every element of an array, `[N]` one element
//! (negative counts from the end), and `["key"]` is a key that itself holds
//! dots or brackets (`tags["kubernetes.io/cluster"]`).
//!
//! The first key is looked up on the asset itself when it is one of
//! `provider`, `account`, `region`, `kind`, `resource_id`, `name`, `tags`,
//! `first_seen`, `last_seen` or `attributes`; any other first key is looked up
//! in the attribute document. So `state.name` and `attributes.state.name` are
//! the same, and `attributes.region` reaches an attribute that an asset-level
//! field would otherwise shadow. Inside a `match` operator (see
//! [`crate::criteria`]) paths are relative to the element being matched, and
//! every key, `name` and `region` included, is a key of that element.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::asset::Asset;
use crate::attributes::{Attr, PathKey};
use crate::tags::Tags;

/// One step of an [`AttributePath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    /// An object key.
    Key(PathKey),
    /// Every element of an array.
    Each,
    /// One element of an array; negative counts from the end.
    Index(i64),
}

/// Where a path starts: a field of the asset, or the attribute document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Root {
    Provider,
    Account,
    Region,
    Kind,
    ResourceId,
    Name,
    Tags,
    FirstSeen,
    LastSeen,
    Attributes,
}

impl Root {
    fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "provider" => Root::Provider,
            "account" => Root::Account,
            "region" => Root::Region,
            "kind" => Root::Kind,
            "resource_id" => Root::ResourceId,
            "name" => Root::Name,
            "tags" => Root::Tags,
            "first_seen" => Root::FirstSeen,
            "last_seen" => Root::LastSeen,
            "attributes" => Root::Attributes,
            _ => return None,
        })
    }
}

/// A parsed attribute path such as `ip_permissions[*].ip_ranges[*].cidr_ip`.
///
/// Parse once (with [`str::parse`]) and resolve many times.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AttributePath {
    text: String,
    root: Root,
    /// Every segment, the first key included.
    segs: Vec<Segment>,
    /// How many leading segments name the root (0 for an attribute path
    /// without the `attributes.` prefix, else 1).
    skip: usize,
}

/// What a path is resolved in: an asset, or a value inside its attributes
/// (an element inside a `match`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subject<'a> {
    Asset(&'a Asset),
    Attr(Attr<'a>),
}

/// A value found at a path: a node of the attribute document, or an
/// asset-level field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// A value in the attribute document.
    Attr(Attr<'a>),
    /// A string field (provider, account, region, kind, id, name, a tag value).
    Str(&'a str),
    /// A time field (first or last seen).
    Time(DateTime<Utc>),
    /// The whole tag map.
    Tags(&'a Tags),
}

impl ValueRef<'_> {
    /// The value as a string, when it is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ValueRef::Attr(a) => a.as_str(),
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is JSON `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Attr(a) if a.is_null())
    }
}

impl AttributePath {
    /// The path as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path can yield more than one value (it has a `[*]`).
    #[must_use]
    pub fn is_multi(&self) -> bool {
        self.segs.contains(&Segment::Each)
    }

    fn rest(&self) -> &[Segment] {
        &self.segs[self.skip..]
    }

    pub(crate) fn any_subject<'a>(&self, subject: Subject<'a>, visit: impl FnMut(ValueRef<'a>) -> bool) -> bool {
        match subject {
            Subject::Asset(a) => self.any(a, visit),
            Subject::Attr(node) => {
                let mut visit = visit;
                walk(node, &self.segs, &mut visit)
            }
        }
    }

    /// Calls `visit` with each value found at this path in `asset`, stopping
    /// early when `visit` returns `true`. Returns whether it stopped early.
    ///
    /// Missing keys, out-of-range indices and type mismatches (a key on an
    /// array, `[*]` on an object) yield nothing.
    pub fn any<'a>(&self, asset: &'a Asset, mut visit: impl FnMut(ValueRef<'a>) -> bool) -> bool {
        let leaf = |v: ValueRef<'a>, visit: &mut dyn FnMut(ValueRef<'a>) -> bool| -> bool {
            if self.rest().is_empty() { visit(v) } else { false }
        };
        match self.root {
            Root::Provider => leaf(ValueRef::Str(&asset.id.provider), &mut visit),
            Root::Account => leaf(ValueRef::Str(&asset.id.account), &mut visit),
            Root::Region => leaf(ValueRef::Str(&asset.id.region), &mut visit),
            Root::Kind => leaf(ValueRef::Str(asset.id.kind.as_str()), &mut visit),
            Root::ResourceId => leaf(ValueRef::Str(&asset.id.resource_id), &mut visit),
            Root::Name => match &asset.name {
                Some(n) => leaf(ValueRef::Str(n), &mut visit),
                None => false,
            },
            Root::FirstSeen => match asset.first_seen {
                Some(t) => leaf(ValueRef::Time(t), &mut visit),
                None => false,
            },
            Root::LastSeen => match asset.last_seen {
                Some(t) => leaf(ValueRef::Time(t), &mut visit),
                None => false,
            },
            Root::Tags => match self.rest() {
                [] => visit(ValueRef::Tags(&asset.tags)),
                [Segment::Key(k)] => match asset.tags.get_key(k) {
                    Some(v) => visit(ValueRef::Str(v)),
                    None => false,
                },
                _ => false,
            },
            Root::Attributes => walk(asset.attributes.root(), self.rest(), &mut visit),
        }
    }

    /// Collects every value found at this path (for diagnostics and rules
    /// written in code; criteria use the allocation-free [`AttributePath::any`]).
    #[must_use]
    pub fn values<'a>(&self, asset: &'a Asset) -> Vec<ValueRef<'a>> {
        let mut out = Vec::new();
        self.any(asset, |v| {
            out.push(v);
            false
        });
        out
    }

    /// Resolves the path in a value of an attribute document, every key (the
    /// first included) being a key of that value.
    pub fn any_in<'a>(&self, node: Attr<'a>, mut visit: impl FnMut(Attr<'a>) -> bool) -> bool {
        walk(node, &self.segs, &mut |v| match v {
            ValueRef::Attr(a) => visit(a),
            _ => false,
        })
    }
}

fn walk<'a>(node: Attr<'a>, segs: &[Segment], visit: &mut dyn FnMut(ValueRef<'a>) -> bool) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return visit(ValueRef::Attr(node));
    };
    match first {
        Segment::Key(k) => node.get_key(k).is_some_and(|child| walk(child, rest, visit)),
        Segment::Each => node.elements().any(|item| walk(item, rest, visit)),
        Segment::Index(i) => node.element(*i).is_some_and(|child| walk(child, rest, visit)),
    }
}

/// Why a path failed to parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid attribute path `{path}`: {reason}")]
pub struct PathError {
    /// The path as written.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for AttributePath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| PathError { path: text.to_owned(), reason: reason.to_owned() };
        let segs = parse_segments(text).map_err(|r| err(&r))?;
        let root = match segs.first() {
            Some(Segment::Key(k)) => Root::from_key(&k.text).unwrap_or(Root::Attributes),
            _ => return Err(err("a path must start with a key")),
        };
        let explicit = matches!(segs.first(), Some(Segment::Key(k)) if Root::from_key(&k.text).is_some());
        Ok(Self { text: text.to_owned(), root, segs, skip: usize::from(explicit) })
    }
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, String> {
    if text.is_empty() {
        return Err("the path is empty".into());
    }
    let mut segs = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut expect_key = true;
    while let Some(&(i, c)) = chars.peek() {
        match c {
            '.' => {
                if expect_key {
                    return Err(format!("empty key at offset {i}"));
                }
                chars.next();
                expect_key = true;
                if chars.peek().is_none() {
                    return Err("the path ends with `.`".into());
                }
            }
            '[' => {
                chars.next();
                let mut inner = String::new();
                let mut closed = false;
                let quoted = matches!(chars.peek(), Some((_, '"')));
                if quoted {
                    chars.next();
                    let mut escaped = false;
                    for (_, c) in chars.by_ref() {
                        match (escaped, c) {
                            (false, '\\') => escaped = true,
                            (false, '"') => {
                                closed = true;
                                break;
                            }
                            _ => {
                                inner.push(c);
                                escaped = false;
                            }
                        }
                    }
                    if !closed || chars.next().map(|(_, c)| c) != Some(']') {
                        return Err(format!("unclosed `[\"` at offset {i}"));
                    }
                    segs.push(Segment::Key(PathKey::new(&inner)));
                } else {
                    for (_, c) in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(format!("unclosed `[` at offset {i}"));
                    }
                    let inner = inner.trim();
                    if inner == "*" {
                        segs.push(Segment::Each);
                    } else {
                        let n: i64 = inner
                            .parse()
                            .map_err(|_| format!("`[{inner}]` is neither `[*]`, an index nor a quoted key"))?;
                        segs.push(Segment::Index(n));
                    }
                }
                expect_key = false;
            }
            ']' => return Err(format!("unexpected `]` at offset {i}")),
            _ => {
                if !expect_key {
                    return Err(format!("expected `.` or `[` at offset {i}"));
                }
                let mut key = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c == '.' || c == '[' || c == ']' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                segs.push(Segment::Key(PathKey::new(&key)));
                expect_key = false;
            }
        }
    }
    if expect_key {
        return Err("the path ends with `.`".into());
    }
    Ok(segs)
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttributePath({:?})", self.text)
    }
}

impl Serialize for AttributePath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AttributePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetId;
    use serde_json::json;

    fn asset() -> Asset {
        Asset::new(AssetId::new("aws", "111", "eu-west-1", "aws.ec2.security_group", "sg-1"))
            .with_tag("Owner", "team-a")
            .with_tag("kubernetes.io/cluster", "blue")
            .with_attributes(json!({
                "region": "attr-region",
                "ip_permissions": [
                    {"from_port": 22, "ip_ranges": [{"cidr_ip": "10.0.0.0/8"}, {"cidr_ip": "0.0.0.0/0"}]},
                    {"from_port": 443, "ip_ranges": []}
                ],
                "state": {"name": "running"}
            }))
    }

    fn strings(path: &str) -> Vec<String> {
        let p: AttributePath = path.parse().unwrap();
        let a = asset();
        p.values(&a)
            .into_iter()
            .map(|v| match v {
                ValueRef::Attr(a) => a.to_string(),
                ValueRef::Str(s) => s.to_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn resolves_roots_attributes_and_wildcards() {
        assert_eq!(strings("region"), ["eu-west-1"]);
        assert_eq!(strings("attributes.region"), ["\"attr-region\""]);
        assert_eq!(strings("state.name"), ["\"running\""]);
        assert_eq!(strings("tags.Owner"), ["team-a"]);
        assert_eq!(strings("tags[\"kubernetes.io/cluster\"]"), ["blue"]);
        assert_eq!(strings("ip_permissions[*].ip_ranges[*].cidr_ip"), ["\"10.0.0.0/8\"", "\"0.0.0.0/0\""]);
        assert_eq!(strings("ip_permissions[-1].from_port"), ["443"]);
        assert_eq!(strings("ip_permissions[5].from_port"), Vec::<String>::new());
        assert_eq!(strings("ip_permissions.from_port"), Vec::<String>::new());
        assert_eq!(strings("tags.Missing"), Vec::<String>::new());
        assert_eq!(strings("tags.Owner.x"), Vec::<String>::new(), "tags are flat");
        assert_eq!(strings("region.x"), Vec::<String>::new(), "asset fields have no parts");
    }

    #[test]
    fn any_stops_early() {
        let p: AttributePath = "ip_permissions[*].from_port".parse().unwrap();
        let a = asset();
        let mut seen = 0;
        assert!(p.any(&a, |_| {
            seen += 1;
            true
        }));
        assert_eq!(seen, 1);
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["", ".a", "a.", "a..b", "a[", "a[x]", "a]b", "a[\"x]", "[*]", "a[0]b"] {
            let err = bad.parse::<AttributePath>().unwrap_err();
            assert_eq!(err.path, bad, "{bad}");
        }
    }
}
