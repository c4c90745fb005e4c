//! Tags: an asset's labels, held compactly.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::attributes::{Attributes, Entries, PathKey};

/// An asset's tags (labels): string keys to string values, sorted by key.
///
/// Held like an attribute document (interned keys, one text buffer), so a
/// typical asset's tags take about a hundred bytes and a criteria path such
/// as `tags.Owner` finds its tag by comparing integers. The API follows
/// `BTreeMap<String, String>`; changing a tag rebuilds the set, which is
/// cheap for the handful of tags a resource carries.
///
/// ```
/// use pacbot_core::Tags;
/// let mut tags: Tags = [("Owner", "team-a"), ("Env", "prod")].into_iter().collect();
/// assert_eq!(tags.get("Owner"), Some("team-a"));
/// tags.insert("Env", "dev");
/// assert_eq!(tags.iter().collect::<Vec<_>>(), [("Env", "dev"), ("Owner", "team-a")]);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Tags(Attributes);

impl Tags {
    /// No tags.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn from_map(map: Map<String, Value>) -> Self {
        Self(Attributes::from(Value::Object(map)))
    }

    fn to_map(&self) -> Map<String, Value> {
        self.iter().map(|(k, v)| (k.to_owned(), Value::String(v.to_owned()))).collect()
    }

    /// The value of a tag.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    /// The value of a tag, by an attribute path's key.
    pub(crate) fn get_key(&self, key: &PathKey) -> Option<&str> {
        self.0.root().get_key(key)?.as_str()
    }

    /// Whether the tag is set.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// How many tags there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.root().len().unwrap_or(0)
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A 64-bit hash of the tags, as [`Attributes::digest`] of the object
    /// they form: equal tags have equal digests, in every process.
    #[must_use]
    pub fn digest(&self) -> u64 {
        self.0.digest()
    }

    /// The tags, sorted by key.
    #[must_use]
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.root().entries())
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(_, v)| v)
    }

    /// Sets a tag, returning the value it replaces.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let mut map = self.to_map();
        let old = map.insert(key.into(), Value::String(value.into()));
        *self = Self::from_map(map);
        old.and_then(|v| v.as_str().map(str::to_owned))
    }

    /// Removes a tag, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        if !self.contains_key(key) {
            return None;
        }
        let mut map = self.to_map();
        let old = map.remove(key);
        *self = Self::from_map(map);
        old.and_then(|v| v.as_str().map(str::to_owned))
    }

    /// Bytes these tags hold on the heap.
    #[must_use]
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

/// Iterator over tags as `(key, value)`, sorted by key.
#[derive(Clone)]
pub struct Iter<'a>(Entries<'a>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.find_map(|(k, v)| Some((k, v.as_str()?)))
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Tags {
    /// Tags from pairs; a repeated key keeps its last value.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self::from_map(pairs.into_iter().map(|(k, v)| (k.into(), Value::String(v.into()))).collect())
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Tags {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        let mut map = self.to_map();
        map.extend(pairs.into_iter().map(|(k, v)| (k.into(), Value::String(v.into()))));
        *self = Self::from_map(map);
    }
}

impl From<BTreeMap<String, String>> for Tags {
    fn from(map: BTreeMap<String, String>) -> Self {
        map.into_iter().collect()
    }
}

impl From<&Tags> for BTreeMap<String, String> {
    fn from(tags: &Tags) -> Self {
        tags.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        let map: Map<String, Value> = map.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        Attributes::from_json(&Value::Object(map)).map(Self).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut t: Tags = [("b", "2"), ("a", "1"), ("b", "3")].into_iter().collect();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("b"), Some("3"), "last value wins");
        assert_eq!(t.insert("c", "x"), None);
        assert_eq!(t.insert("a", "y"), Some("1".into()));
        assert_eq!(t.remove("b"), Some("3".into()));
        assert_eq!(t.remove("zz"), None);
        assert_eq!(t.iter().collect::<Vec<_>>(), [("a", "y"), ("c", "x")]);
        assert!(t.contains_key("c") && !t.contains_key("b"));
        assert!(Tags::new().is_empty());
        assert_eq!(format!("{t:?}"), r#"{"a": "y", "c": "x"}"#);
    }

    #[test]
    fn serializes_as_a_map_of_strings() {
        let t: Tags = [("Owner", "team-a"), ("'; DROP", "<script>")].into_iter().collect();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"'; DROP":"<script>","Owner":"team-a"}"#);
        let back: Tags = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        let err = serde_json::from_str::<Tags>(r#"{"n": 1}"#).unwrap_err();
        assert!(err.to_string().contains("string"), "{err}");
    }
}
