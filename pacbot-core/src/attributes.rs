//! Attribute documents: an asset's attributes as a compact, read-only JSON tree.
//!
//! Connectors describe a resource as JSON, and an inventory holds millions of
//! such documents while every policy reads them many times over. A
//! `serde_json::Value` tree spends most of its bytes on map nodes and key
//! strings, and most of a lookup on comparing keys. [`Attributes`] holds the
//! same JSON in two allocations: a flat array of 16-byte nodes (children of a
//! container sit next to each other) and one text buffer for the strings.
//! Object keys are interned process-wide, so a key costs four bytes in every
//! document and an [`AttributePath`](crate::AttributePath), which resolves its
//! keys once when parsed, finds a child by comparing integers.
//!
//! The document is immutable: build it from a `serde_json::Value` (or
//! deserialize it from any serde format) and read it through [`Attr`], a
//! cheap copyable view with the accessors of `serde_json::Value`. Its
//! serialized form is the plain JSON it was built from, with object keys in
//! sorted order.
//!
//! ```
//! use pacbot_core::Attributes;
//! use serde_json::json;
//!
//! let doc = Attributes::from(json!({"state": {"name": "running"}, "ports": [22, 443]}));
//! assert_eq!(doc.field("state").field("name"), "running");
//! assert_eq!(doc.field("ports").elements().filter_map(|p| p.as_u64()).sum::<u64>(), 465);
//! assert!(doc.get("missing").is_none());
//! assert_eq!(doc.to_value(), json!({"state": {"name": "running"}, "ports": [22, 443]}));
//! ```
//!
//! The key interner keeps at most [`KEY_MEMORY_LIMIT`] bytes of key text and
//! only keys up to [`MAX_INTERNED_KEY_LEN`] bytes long; keys past either limit
//! (say, maps keyed by resource ids in a very large estate) are stored in the
//! document itself and still found, just by comparing text.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use hashbrown::DefaultHashBuilder;
use lasso::{Capacity, Key as _, MemoryLimits, Spur, ThreadedRodeo};
use serde::de::Error as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// How many bytes of key text the process-wide key interner keeps at most.
pub const KEY_MEMORY_LIMIT: usize = 16 << 20;

/// Keys longer than this are never interned.
pub const MAX_INTERNED_KEY_LEN: usize = 128;

static KEYS: LazyLock<ThreadedRodeo<Spur, DefaultHashBuilder>> = LazyLock::new(|| {
    ThreadedRodeo::with_capacity_memory_limits_and_hasher(
        Capacity::default(),
        MemoryLimits::for_memory_usage(KEY_MEMORY_LIMIT),
        DefaultHashBuilder::default(),
    )
});

/// Set once interning first fails, so that a string never interned before
/// is never interned later: whether a key has a symbol then depends only on
/// the key, not on when it was first seen.
static KEYS_FULL: AtomicBool = AtomicBool::new(false);

/// The node key of array elements and the root.
const NO_KEY: u32 = 0;
/// Node keys with this bit set index the document's own key spans.
const SPARE_KEY: u32 = 1 << 31;

/// A key's interned symbol (never [`NO_KEY`], never with [`SPARE_KEY`] set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeySym(u32);

/// The symbol of `key`, interning it when the interner has room.
pub(crate) fn intern(key: &str) -> Option<KeySym> {
    if let Some(sym) = KEYS.get(key) {
        return to_sym(sym);
    }
    if key.len() > MAX_INTERNED_KEY_LEN || KEYS_FULL.load(AtomicOrdering::Relaxed) {
        return None;
    }
    match KEYS.try_get_or_intern(key) {
        Ok(sym) => to_sym(sym),
        Err(_) => {
            KEYS_FULL.store(true, AtomicOrdering::Relaxed);
            // Another thread may have interned it just before we failed.
            KEYS.get(key).and_then(to_sym)
        }
    }
}

/// The symbol of `key` if it was ever interned (never interns).
pub(crate) fn lookup(key: &str) -> Option<KeySym> {
    KEYS.get(key).and_then(to_sym)
}

fn to_sym(sym: Spur) -> Option<KeySym> {
    let raw = u32::try_from(sym.into_usize()).ok()?.checked_add(1)?;
    (raw < SPARE_KEY).then_some(KeySym(raw))
}

/// Symbols below this have their text cached by each thread that resolves them.
const CACHED_SYMS: usize = 1 << 16;

fn sym_text(raw: u32) -> &'static str {
    thread_local! {
        /// Key texts this thread resolved, by symbol: the interner is shared
        /// by every thread (a lock per lookup) and its texts never change.
        static TEXTS: RefCell<Vec<Option<&'static str>>> = const { RefCell::new(Vec::new()) };
    }
    let idx = raw as usize;
    if let Some(text) = TEXTS.with_borrow(|t| t.get(idx).copied().flatten()) {
        return text;
    }
    let resolved = idx.checked_sub(1).and_then(Spur::try_from_usize).and_then(|s| KEYS.try_resolve(&s));
    if let Some(text) = resolved
        && idx < CACHED_SYMS
    {
        TEXTS.with_borrow_mut(|t| {
            if t.len() <= idx {
                t.resize(idx + 1, None);
            }
            if let Some(slot) = t.get_mut(idx) {
                *slot = Some(text);
            }
        });
    }
    resolved.unwrap_or_default()
}

/// A key as an attribute path holds it: its text and, when interned, its symbol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PathKey {
    pub(crate) text: Box<str>,
    pub(crate) sym: Option<KeySym>,
}

impl PathKey {
    pub(crate) fn new(text: &str) -> Self {
        Self { sym: intern(text), text: text.into() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Null,
    False,
    True,
    /// `a`/`b` hold the high/low halves of a `u64`.
    PosInt,
    /// `a`/`b` hold the high/low halves of a negative `i64`.
    NegInt,
    /// `a`/`b` hold the high/low halves of an `f64`'s bits.
    Float,
    /// `a` is the offset into the text, `b` the length.
    Str,
    /// `a` is the index of the first element, `b` the count.
    Array,
    /// `a` is the index of the first entry, `b` the count; entries are sorted by key text.
    Object,
}

/// One node: 16 bytes whatever it holds.
#[derive(Clone, Copy, Debug)]
struct Node {
    tag: Tag,
    /// The key of an object entry ([`NO_KEY`] otherwise).
    key: u32,
    a: u32,
    b: u32,
}

impl Node {
    const NULL: Node = Node { tag: Tag::Null, key: NO_KEY, a: 0, b: 0 };

    fn wide(tag: Tag, bits: u64) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        let (a, b) = ((bits >> 32) as u32, bits as u32);
        Node { tag, key: NO_KEY, a, b }
    }

    fn bits(self) -> u64 {
        (u64::from(self.a) << 32) | u64::from(self.b)
    }

    fn span(self) -> std::ops::Range<usize> {
        let start = self.a as usize;
        start..start + self.b as usize
    }
}

/// Why a JSON value cannot become an attribute document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the attribute document is too large ({what} exceeds 4 GiB or 2^31 entries)")]
pub struct TooLarge {
    what: &'static str,
}

/// An asset's attributes: a compact, immutable JSON document.
///
/// See the [module documentation](self). Read it through [`Attributes::root`]
/// or the shortcuts [`Attributes::get`] and [`Attributes::field`].
#[derive(Clone)]
pub struct Attributes {
    /// `nodes[0]` is the root; a container's children are contiguous.
    nodes: Box<[Node]>,
    /// Every string value, and the keys that were not interned.
    text: Box<str>,
    /// Spans in `text` of keys that were not interned.
    spare_keys: Box<[(u32, u32)]>,
    /// See [`Attributes::digest`].
    digest: u64,
}

impl Attributes {
    /// An empty object.
    #[must_use]
    pub fn new() -> Self {
        /// The digest of an empty object, worked out once.
        static EMPTY: LazyLock<u64> = LazyLock::new(|| {
            let mut print = Print::default();
            print.container(b'o', 0);
            print.digest()
        });
        Self {
            nodes: Box::new([Node { tag: Tag::Object, ..Node::NULL }]),
            text: "".into(),
            spare_keys: Box::new([]),
            digest: *EMPTY,
        }
    }

    /// The document holding `value`.
    ///
    /// # Errors
    /// When the value holds more than 4 GiB of text or 2^31 nodes.
    pub fn from_json(value: &Value) -> Result<Self, TooLarge> {
        let mut b =
            Builder { nodes: vec![Node::NULL], text: String::new(), spare_keys: Vec::new(), print: Print::reused() };
        b.fill(0, NO_KEY, value)?;
        let digest = b.print.digest();
        b.print.give_back();
        Ok(Self { nodes: b.nodes.into(), text: b.text.into(), spare_keys: b.spare_keys.into(), digest })
    }

    /// A 64-bit hash of the document's content, computed once, as the
    /// document is built: equal documents have equal digests, in every
    /// process, and any difference (a value, a key, a number's
    /// representation — `1` and `1.0` differ, as they compare) almost surely
    /// gives another. It is XXH3 of an unambiguous encoding of the tree
    /// (object entries in key order, lengths and counts before what they
    /// count), which this crate keeps from version to version, so a digest
    /// may be stored and compared with a later one — a store tells a
    /// changed resource from an unchanged one without reading its document
    /// again.
    #[must_use]
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The whole document.
    #[must_use]
    pub fn root(&self) -> Attr<'_> {
        Attr { doc: self, idx: 0 }
    }

    /// The root's entry `key`, when the root is an object that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Attr<'_>> {
        self.root().get(key)
    }

    /// The root's entry `key`, or a missing value (which reads as `null`).
    #[must_use]
    pub fn field(&self, key: &str) -> Attr<'_> {
        self.root().field(key)
    }

    /// The value at a JSON Pointer (RFC 6901), like `serde_json::Value::pointer`:
    /// `""` is the root, `/a/0/b` a key, an index, a key.
    #[must_use]
    pub fn pointer(&self, pointer: &str) -> Option<Attr<'_>> {
        self.root().pointer(pointer)
    }

    /// Whether the document is `null` or an empty object or array.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.root().is_null() || self.root().len() == Some(0)
    }

    /// The document as a `serde_json::Value`.
    #[must_use]
    pub fn to_value(&self) -> Value {
        self.root().to_value()
    }

    /// Bytes this document holds on the heap.
    #[must_use]
    pub fn heap_size(&self) -> usize {
        std::mem::size_of_val(&*self.nodes) + self.text.len() + std::mem::size_of_val(&*self.spare_keys)
    }

    fn node(&self, idx: u32) -> Node {
        self.nodes.get(idx as usize).copied().unwrap_or(Node::NULL)
    }

    fn children(&self, node: Node) -> &[Node] {
        match node.tag {
            Tag::Array | Tag::Object => self.nodes.get(node.span()).unwrap_or_default(),
            _ => &[],
        }
    }

    fn str_of(&self, node: Node) -> &str {
        self.text.get(node.span()).unwrap_or_default()
    }

    fn key_text(&self, key: u32) -> &str {
        if key & SPARE_KEY == 0 {
            return sym_text(key);
        }
        let spare = self.spare_keys.get((key & !SPARE_KEY) as usize).copied().unwrap_or_default();
        let start = spare.0 as usize;
        self.text.get(start..start + spare.1 as usize).unwrap_or_default()
    }

    /// The index of `obj`'s entry with this key.
    fn find(&self, obj: u32, sym: Option<KeySym>, text: &str) -> Option<u32> {
        let node = self.node(obj);
        if node.tag != Tag::Object {
            return None;
        }
        let children = self.children(node);
        let hit = match sym {
            Some(KeySym(raw)) => children.iter().position(|c| c.key == raw),
            None if self.spare_keys.is_empty() => None,
            None => children.iter().position(|c| c.key & SPARE_KEY != 0 && self.key_text(c.key) == text),
        };
        hit.and_then(|i| u32::try_from(i).ok()).map(|i| node.a + i)
    }
}

impl Default for Attributes {
    fn default() -> Self {
        Self::new()
    }
}

struct Builder {
    nodes: Vec<Node>,
    text: String,
    spare_keys: Vec<(u32, u32)>,
    print: Print,
}

/// The encoding [`Attributes::digest`] hashes, written as the document is
/// built: each value is a tag byte and its content — `n`, `F`, `T`; `u`, `i`
/// or `f` and 8 bytes (little-endian); `s`, the length (8 bytes) and the
/// UTF-8; `a` or `o`, the count (8 bytes) and the items, an object's each
/// preceded by its key (length and UTF-8), in key order.
#[derive(Default)]
struct Print(Vec<u8>);

thread_local! {
    /// The buffer of the last document built on this thread, reused.
    static PRINT_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest digest buffer a thread keeps for the next document.
const MAX_KEPT_PRINT: usize = 1 << 20;

impl Print {
    fn reused() -> Self {
        let mut buffer = PRINT_BUFFER.take();
        buffer.clear();
        Print(buffer)
    }

    /// Returns the buffer to the thread for the next document (a huge one is dropped).
    fn give_back(self) {
        if self.0.capacity() <= MAX_KEPT_PRINT {
            PRINT_BUFFER.set(self.0);
        }
    }

    fn tag(&mut self, tag: u8) {
        self.0.push(tag);
    }

    fn word(&mut self, tag: u8, bits: u64) {
        self.0.push(tag);
        self.0.extend_from_slice(&bits.to_le_bytes());
    }

    fn text(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u64).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn container(&mut self, tag: u8, count: usize) {
        self.word(tag, count as u64);
    }

    fn digest(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.0)
    }
}

impl Builder {
    fn push_text(&mut self, s: &str) -> Result<(u32, u32), TooLarge> {
        let too_large = || TooLarge { what: "the text" };
        let start = u32::try_from(self.text.len()).map_err(|_| too_large())?;
        let len = u32::try_from(s.len()).map_err(|_| too_large())?;
        start.checked_add(len).ok_or_else(too_large)?;
        self.text.push_str(s);
        Ok((start, len))
    }

    fn reserve(&mut self, n: usize) -> Result<(u32, u32), TooLarge> {
        let too_large = || TooLarge { what: "the node count" };
        let first = u32::try_from(self.nodes.len()).map_err(|_| too_large())?;
        let count = u32::try_from(n).map_err(|_| too_large())?;
        if first.checked_add(count).is_none_or(|end| end >= SPARE_KEY) {
            return Err(too_large());
        }
        self.nodes.resize(self.nodes.len() + n, Node::NULL);
        Ok((first, count))
    }

    fn key(&mut self, key: &str) -> Result<u32, TooLarge> {
        if let Some(KeySym(raw)) = intern(key) {
            return Ok(raw);
        }
        let span = self.push_text(key)?;
        let idx = u32::try_from(self.spare_keys.len()).ok().filter(|i| *i < SPARE_KEY);
        let idx = idx.ok_or(TooLarge { what: "the key count" })?;
        self.spare_keys.push(span);
        Ok(SPARE_KEY | idx)
    }

    fn fill(&mut self, at: usize, key: u32, value: &Value) -> Result<(), TooLarge> {
        let mut node = match value {
            Value::Null => {
                self.print.tag(b'n');
                Node::NULL
            }
            Value::Bool(false) => {
                self.print.tag(b'F');
                Node { tag: Tag::False, ..Node::NULL }
            }
            Value::Bool(true) => {
                self.print.tag(b'T');
                Node { tag: Tag::True, ..Node::NULL }
            }
            Value::Number(n) => {
                let node = number_node(n);
                match node.tag {
                    Tag::PosInt => self.print.word(b'u', node.bits()),
                    Tag::NegInt => self.print.word(b'i', node.bits()),
                    // -0.0 equals 0.0, so it hashes as 0.0.
                    _ if f64::from_bits(node.bits()) == 0.0 => self.print.word(b'f', 0),
                    _ => self.print.word(b'f', node.bits()),
                }
                node
            }
            Value::String(s) => {
                self.print.tag(b's');
                self.print.text(s);
                let (a, b) = self.push_text(s)?;
                Node { tag: Tag::Str, key: NO_KEY, a, b }
            }
            Value::Array(items) => {
                self.print.container(b'a', items.len());
                let (a, b) = self.reserve(items.len())?;
                for (i, item) in items.iter().enumerate() {
                    self.fill(a as usize + i, NO_KEY, item)?;
                }
                Node { tag: Tag::Array, key: NO_KEY, a, b }
            }
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if !entries.is_sorted_by(|x, y| x.0 <= y.0) {
                    entries.sort_by(|x, y| x.0.cmp(y.0));
                }
                self.print.container(b'o', entries.len());
                let (a, b) = self.reserve(entries.len())?;
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    self.print.text(k);
                    let k = self.key(k)?;
                    self.fill(a as usize + i, k, v)?;
                }
                Node { tag: Tag::Object, key: NO_KEY, a, b }
            }
        };
        node.key = key;
        if let Some(slot) = self.nodes.get_mut(at) {
            *slot = node;
        }
        Ok(())
    }
}

fn number_node(n: &serde_json::Number) -> Node {
    if let Some(u) = n.as_u64() {
        Node::wide(Tag::PosInt, u)
    } else if let Some(i) = n.as_i64() {
        Node::wide(Tag::NegInt, i.cast_unsigned())
    } else {
        Node::wide(Tag::Float, n.as_f64().unwrap_or_default().to_bits())
    }
}

impl TryFrom<&Value> for Attributes {
    type Error = TooLarge;

    fn try_from(value: &Value) -> Result<Self, TooLarge> {
        Self::from_json(value)
    }
}

impl From<Value> for Attributes {
    /// The document holding `value`.
    ///
    /// A value too large to hold (more than 4 GiB of text) becomes an object
    /// with a single `"$error"` entry saying so; use [`Attributes::from_json`]
    /// to handle that case yourself.
    fn from(value: Value) -> Self {
        Self::from_json(&value).unwrap_or_else(|e| {
            let mut map = serde_json::Map::new();
            map.insert("$error".into(), Value::String(e.to_string()));
            Self::from_json(&Value::Object(map)).unwrap_or_default()
        })
    }
}

impl From<Attributes> for Value {
    fn from(doc: Attributes) -> Self {
        doc.to_value()
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.root() == other.root()
    }
}

impl PartialEq<Value> for Attributes {
    fn eq(&self, other: &Value) -> bool {
        self.root() == *other
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.root(), f)
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.root(), f)
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.root().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(D::Error::custom)
    }
}

/// The JSON type of an [`Attr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// `null`, or a value that is not there.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl AttrKind {
    /// The kind's name with an article, for messages ("a string").
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            AttrKind::Null => "null",
            AttrKind::Bool => "a boolean",
            AttrKind::Number => "a number",
            AttrKind::String => "a string",
            AttrKind::Array => "a list",
            AttrKind::Object => "a map",
        }
    }
}

/// A view of one value inside an [`Attributes`] document.
///
/// Copying it is free. A value that is not there ([`Attr::field`] of a
/// missing key) reads as `null` and reports [`Attr::exists`] false.
#[derive(Clone, Copy)]
pub struct Attr<'a> {
    doc: &'a Attributes,
    /// `u32::MAX` for a missing value.
    idx: u32,
}

const MISSING: u32 = u32::MAX;

impl<'a> Attr<'a> {
    fn node(self) -> Node {
        if self.idx == MISSING { Node::NULL } else { self.doc.node(self.idx) }
    }

    fn at(self, idx: Option<u32>) -> Option<Attr<'a>> {
        idx.map(|idx| Attr { doc: self.doc, idx })
    }

    fn missing(self) -> Attr<'a> {
        Attr { doc: self.doc, idx: MISSING }
    }

    /// The JSON type of the value.
    #[must_use]
    pub fn kind(self) -> AttrKind {
        match self.node().tag {
            Tag::Null => AttrKind::Null,
            Tag::False | Tag::True => AttrKind::Bool,
            Tag::PosInt | Tag::NegInt | Tag::Float => AttrKind::Number,
            Tag::Str => AttrKind::String,
            Tag::Array => AttrKind::Array,
            Tag::Object => AttrKind::Object,
        }
    }

    /// Whether the value is there (a present `null` is).
    #[must_use]
    pub fn exists(self) -> bool {
        self.idx != MISSING
    }

    /// Whether the value is `null` or not there.
    #[must_use]
    pub fn is_null(self) -> bool {
        self.node().tag == Tag::Null
    }

    /// The entry `key`, when this is an object that has it.
    #[must_use]
    pub fn get(self, key: &str) -> Option<Attr<'a>> {
        if self.idx == MISSING {
            return None;
        }
        self.at(self.doc.find(self.idx, lookup(key), key))
    }

    /// The entry `key`, or a missing value (reading as `null`): chain these
    /// like `serde_json::Value` indexing, `a.field("state").field("name")`.
    #[must_use]
    pub fn field(self, key: &str) -> Attr<'a> {
        self.get(key).unwrap_or(self.missing())
    }

    /// The value at a JSON Pointer (RFC 6901) relative to this one.
    #[must_use]
    pub fn pointer(self, pointer: &str) -> Option<Attr<'a>> {
        if pointer.is_empty() {
            return self.exists().then_some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        let mut node = self;
        for token in rest.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            node = match node.kind() {
                AttrKind::Object => node.get(&token)?,
                AttrKind::Array => {
                    let valid = !token.is_empty() && (token == "0" || !token.starts_with('0'));
                    let i: i64 = token.parse().ok().filter(|i| valid && *i >= 0)?;
                    node.element(i)?
                }
                _ => return None,
            };
        }
        Some(node)
    }

    /// Looks up an attribute path's key.
    pub(crate) fn get_key(self, key: &PathKey) -> Option<Attr<'a>> {
        if self.idx == MISSING {
            return None;
        }
        self.at(self.doc.find(self.idx, key.sym, &key.text))
    }

    /// Element `i` of an array (negative counts from the end).
    #[must_use]
    pub fn element(self, i: i64) -> Option<Attr<'a>> {
        let node = self.node();
        if node.tag != Tag::Array {
            return None;
        }
        let idx = if i < 0 { i64::from(node.b) + i } else { i };
        let idx = u32::try_from(idx).ok().filter(|idx| *idx < node.b)?;
        self.at(Some(node.a + idx))
    }

    /// The elements of an array (none for any other value).
    #[must_use]
    pub fn elements(self) -> Elements<'a> {
        let node = self.node();
        let range = if node.tag == Tag::Array { node.a..node.a + node.b } else { 0..0 };
        Elements { doc: self.doc, range }
    }

    /// The elements, when this is an array.
    #[must_use]
    pub fn as_array(self) -> Option<Elements<'a>> {
        (self.node().tag == Tag::Array).then(|| self.elements())
    }

    /// The entries of an object, sorted by key (none for any other value).
    #[must_use]
    pub fn entries(self) -> Entries<'a> {
        let node = self.node();
        let range = if node.tag == Tag::Object { node.a..node.a + node.b } else { 0..0 };
        Entries { doc: self.doc, range }
    }

    /// The entries, when this is an object.
    #[must_use]
    pub fn as_object(self) -> Option<Entries<'a>> {
        (self.node().tag == Tag::Object).then(|| self.entries())
    }

    /// Whether this is an object with the entry `key`.
    #[must_use]
    pub fn contains_key(self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The number of elements or entries of an array or object.
    #[must_use]
    pub fn len(self) -> Option<usize> {
        let node = self.node();
        matches!(node.tag, Tag::Array | Tag::Object).then_some(node.b as usize)
    }

    /// Whether this is an empty array or object (`None` for other values).
    #[must_use]
    pub fn is_empty(self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }

    /// The string, when this is one.
    #[must_use]
    pub fn as_str(self) -> Option<&'a str> {
        let node = self.node();
        (node.tag == Tag::Str).then(|| self.doc.str_of(node))
    }

    /// The boolean, when this is one.
    #[must_use]
    pub fn as_bool(self) -> Option<bool> {
        match self.node().tag {
            Tag::True => Some(true),
            Tag::False => Some(false),
            _ => None,
        }
    }

    /// The number as a `u64`, when it is a non-negative integer.
    #[must_use]
    pub fn as_u64(self) -> Option<u64> {
        let node = self.node();
        (node.tag == Tag::PosInt).then(|| node.bits())
    }

    /// The number as an `i64`, when it is an integer in range.
    #[must_use]
    pub fn as_i64(self) -> Option<i64> {
        let node = self.node();
        match node.tag {
            Tag::PosInt => i64::try_from(node.bits()).ok(),
            Tag::NegInt => Some(node.bits().cast_signed()),
            _ => None,
        }
    }

    /// The number as an `f64`, when this is a number.
    #[must_use]
    pub fn as_f64(self) -> Option<f64> {
        let node = self.node();
        #[allow(clippy::cast_precision_loss)]
        match node.tag {
            Tag::PosInt => Some(node.bits() as f64),
            Tag::NegInt => Some(node.bits().cast_signed() as f64),
            Tag::Float => Some(f64::from_bits(node.bits())),
            _ => None,
        }
    }

    /// The number as a `serde_json::Number`, when this is a number.
    #[must_use]
    pub fn as_number(self) -> Option<serde_json::Number> {
        let node = self.node();
        match node.tag {
            Tag::PosInt => Some(node.bits().into()),
            Tag::NegInt => Some(node.bits().cast_signed().into()),
            Tag::Float => serde_json::Number::from_f64(f64::from_bits(node.bits())),
            _ => None,
        }
    }

    /// The value as a `serde_json::Value` (a missing value is `null`).
    #[must_use]
    pub fn to_value(self) -> Value {
        let node = self.node();
        match node.tag {
            Tag::Null => Value::Null,
            Tag::False => Value::Bool(false),
            Tag::True => Value::Bool(true),
            Tag::PosInt | Tag::NegInt | Tag::Float => self.as_number().map_or(Value::Null, Value::Number),
            Tag::Str => Value::String(self.doc.str_of(node).to_owned()),
            Tag::Array => Value::Array(self.elements().map(Attr::to_value).collect()),
            Tag::Object => Value::Object(self.entries().map(|(k, v)| (k.to_owned(), v.to_value())).collect()),
        }
    }

    /// Whether this equals a JSON value, numbers compared by value (`1 == 1.0`).
    #[must_use]
    pub fn json_eq(self, other: &Value) -> bool {
        match (self.kind(), other) {
            (AttrKind::Null, Value::Null) => true,
            (AttrKind::Bool, Value::Bool(b)) => self.as_bool() == Some(*b),
            (AttrKind::Number, Value::Number(n)) => number_eq(self, n),
            (AttrKind::String, Value::String(s)) => self.as_str() == Some(s.as_str()),
            (AttrKind::Array, Value::Array(items)) => {
                self.len() == Some(items.len()) && self.elements().zip(items).all(|(a, b)| a.json_eq(b))
            }
            (AttrKind::Object, Value::Object(map)) => {
                self.len() == Some(map.len()) && self.entries().all(|(k, v)| map.get(k).is_some_and(|w| v.json_eq(w)))
            }
            _ => false,
        }
    }
}

fn number_eq(a: Attr<'_>, n: &serde_json::Number) -> bool {
    match (a.as_u64(), n.as_u64(), a.as_i64(), n.as_i64()) {
        (Some(x), Some(y), ..) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a.as_f64().is_some_and(|x| n.as_f64() == Some(x)),
    }
}

/// Iterator over an array's elements.
#[derive(Clone)]
pub struct Elements<'a> {
    doc: &'a Attributes,
    range: std::ops::Range<u32>,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        self.range.next().map(|idx| Attr { doc: self.doc, idx })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }
}

impl DoubleEndedIterator for Elements<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().map(|idx| Attr { doc: self.doc, idx })
    }
}

impl ExactSizeIterator for Elements<'_> {}

/// Iterator over an object's entries, sorted by key.
#[derive(Clone)]
pub struct Entries<'a> {
    doc: &'a Attributes,
    range: std::ops::Range<u32>,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, Attr<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.range.next()?;
        let doc = self.doc;
        Some((doc.key_text(doc.node(idx).key), Attr { doc, idx }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }
}

impl ExactSizeIterator for Entries<'_> {}

impl PartialEq for Attr<'_> {
    /// Structural equality; numbers of different representations (`1`,
    /// `1.0`) are different, as in `serde_json`.
    fn eq(&self, other: &Self) -> bool {
        let (x, y) = (self.node(), other.node());
        if x.tag != y.tag {
            return false;
        }
        match x.tag {
            Tag::Null | Tag::False | Tag::True => true,
            Tag::PosInt | Tag::NegInt => x.bits() == y.bits(),
            #[allow(clippy::float_cmp)]
            Tag::Float => f64::from_bits(x.bits()) == f64::from_bits(y.bits()),
            Tag::Str => self.doc.str_of(x) == other.doc.str_of(y),
            Tag::Array => x.b == y.b && self.elements().zip(other.elements()).all(|(a, b)| a == b),
            Tag::Object => x.b == y.b && self.entries().zip(other.entries()).all(|(a, b)| a == b),
        }
    }
}

impl PartialEq<Value> for Attr<'_> {
    fn eq(&self, other: &Value) -> bool {
        match (self.kind(), other) {
            // Same representation demanded, as `serde_json` does.
            (AttrKind::Number, Value::Number(n)) => self.as_number().as_ref() == Some(n),
            _ => self.json_eq(other),
        }
    }
}

impl PartialEq<str> for Attr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Attr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Attr<'_> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl PartialEq<bool> for Attr<'_> {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialOrd<str> for Attr<'_> {
    fn partial_cmp(&self, other: &str) -> Option<Ordering> {
        self.as_str().map(|s| s.cmp(other))
    }
}

impl Serialize for Attr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let node = self.node();
        match node.tag {
            Tag::Null => s.serialize_unit(),
            Tag::False => s.serialize_bool(false),
            Tag::True => s.serialize_bool(true),
            Tag::PosInt => s.serialize_u64(node.bits()),
            Tag::NegInt => s.serialize_i64(node.bits().cast_signed()),
            Tag::Float => s.serialize_f64(f64::from_bits(node.bits())),
            Tag::Str => s.serialize_str(self.doc.str_of(node)),
            Tag::Array => {
                let mut seq = s.serialize_seq(Some(node.b as usize))?;
                for e in self.elements() {
                    seq.serialize_element(&e)?;
                }
                seq.end()
            }
            Tag::Object => {
                let mut map = s.serialize_map(Some(node.b as usize))?;
                for (k, v) in self.entries() {
                    map.serialize_entry(k, &v)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Display for Attr<'_> {
    /// Compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Attr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exists() { fmt::Display::fmt(self, f) } else { f.write_str("<missing>") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "state": {"name": "running", "code": 16},
            "ip_permissions": [
                {"from_port": 22, "ranges": [{"cidr": "0.0.0.0/0"}]},
                {"from_port": 443, "ranges": []}
            ],
            "neg": -5, "float": 2.5, "big": u64::MAX, "yes": true, "no": false, "nothing": null,
            "unicode ✓": "naïve", "": "empty key"
        })
    }

    #[test]
    fn round_trips_and_reads_like_json() {
        let v = sample();
        let doc = Attributes::from(v.clone());
        assert_eq!(doc.to_value(), v);
        assert_eq!(serde_json::to_value(&doc).unwrap(), v);
        let back: Attributes = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, doc);
        assert_eq!(doc, v);
        assert_eq!(doc.field("state").field("name"), "running");
        assert_eq!(doc.field("state").field("code").as_u64(), Some(16));
        assert_eq!(doc.field("neg").as_i64(), Some(-5));
        assert_eq!(doc.field("neg").as_u64(), None);
        assert_eq!(doc.field("float").as_f64(), Some(2.5));
        assert_eq!(doc.field("big").as_u64(), Some(u64::MAX));
        assert_eq!(doc.field("big").as_i64(), None);
        assert_eq!(doc.field("yes"), true);
        assert_eq!(doc.field("unicode ✓"), "naïve");
        assert_eq!(doc.field(""), "empty key");
        assert!(doc.field("nothing").is_null() && doc.field("nothing").exists());
        assert!(doc.field("absent").is_null() && !doc.field("absent").exists());
        assert!(doc.field("absent").field("deeper").is_null());
        let perms = doc.field("ip_permissions");
        assert_eq!(perms.len(), Some(2));
        assert_eq!(perms.element(-1).unwrap().field("from_port").as_u64(), Some(443));
        assert!(perms.element(2).is_none() && perms.element(-3).is_none());
        let ports: Vec<u64> = perms.elements().filter_map(|p| p.field("from_port").as_u64()).collect();
        assert_eq!(ports, [22, 443]);
        let keys: Vec<&str> = doc.root().entries().map(|(k, _)| k).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "entries come sorted by key");
        assert_eq!(doc.field("state").to_string(), r#"{"code":16,"name":"running"}"#);
        assert_eq!(doc.pointer("/ip_permissions/1/from_port").and_then(Attr::as_u64), Some(443));
        assert_eq!(doc.pointer("/state/name"), Some(doc.field("state").field("name")));
        assert_eq!(doc.pointer(""), Some(doc.root()));
        for missing in ["/ip_permissions/-1", "/ip_permissions/01", "/ip_permissions/x", "/nope", "state", "/yes/x"] {
            assert!(doc.pointer(missing).is_none(), "{missing}");
        }
    }

    #[test]
    fn numbers_compare_by_value_in_json_eq_but_by_representation_in_eq() {
        let doc = Attributes::from(json!({"n": 1, "f": 1.0}));
        assert!(doc.field("n").json_eq(&json!(1.0)));
        assert!(doc.field("f").json_eq(&json!(1)));
        assert_eq!(doc.field("n"), json!(1));
        assert_ne!(doc.field("n"), json!(1.0));
        assert_ne!(doc.field("n"), doc.field("f"));
    }

    #[test]
    fn digests_are_stable_and_tell_documents_apart() {
        // Pinned: a digest may be stored and compared with one computed by a later version.
        assert_eq!(Attributes::from(sample()).digest(), 10_276_773_569_214_746_255);
        assert_eq!(Attributes::new().digest(), Attributes::from(json!({})).digest());
        assert_eq!(Attributes::default().digest(), Attributes::new().digest());
        // Key order in the input does not matter; keys kept out of the interner hash as text.
        let long = "k".repeat(MAX_INTERNED_KEY_LEN + 1);
        let one = Attributes::from(json!({"b": [1, "x"], "a": null, long.clone(): true}));
        let text = format!(r#"{{"{long}": true, "a": null, "b": [1, "x"]}}"#);
        let other: Attributes = serde_json::from_str(&text).unwrap();
        assert_eq!(one.digest(), other.digest());
        assert_eq!(Attributes::from(json!([-0.0])).digest(), Attributes::from(json!([0.0])).digest());
        // Each of these differs from every other.
        let variants = [
            json!(null),
            json!({}),
            json!([]),
            json!(""),
            json!({"a": 1}),
            json!({"a": 1.0}),
            json!({"a": -1}),
            json!({"a": 0.5}),
            json!({"a": "1"}),
            json!({"a": [1]}),
            json!({"a": {"": 1}}),
            json!({"b": 1}),
            json!({"a": 1, "b": null}),
            json!({"ab": ""}),
            json!({"a": "b"}),
            json!(["a", 1]),
            json!([["a"], 1]),
            json!([true]),
            json!([false]),
        ];
        let digests: std::collections::HashSet<u64> =
            variants.iter().map(|v| Attributes::from(v.clone()).digest()).collect();
        assert_eq!(digests.len(), variants.len());
    }

    #[test]
    fn keys_that_are_not_interned_are_still_found() {
        let long = "k".repeat(MAX_INTERNED_KEY_LEN + 1);
        let doc = Attributes::from(json!({ long.clone(): 1, "short": {long.clone(): "x"} }));
        assert_eq!(doc.field(&long).as_u64(), Some(1));
        assert_eq!(doc.field("short").field(&long), "x");
        assert!(doc.field(&format!("{long}x")).is_null());
        assert_eq!(doc.to_value(), json!({ long.clone(): 1, "short": {long: "x"} }));
        assert!(doc.heap_size() > 2 * MAX_INTERNED_KEY_LEN, "the keys live in the document");
    }

    #[test]
    fn duplicate_and_unsorted_keys_are_canonical() {
        let a: Attributes = serde_json::from_str(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        assert_eq!(a.to_value(), json!({"a": 2, "b": 3}));
        assert_eq!(a.to_string(), r#"{"a":2,"b":3}"#);
    }

    #[test]
    fn type_mismatches_yield_nothing() {
        let doc = Attributes::from(json!({"s": "x", "a": [1], "o": {"k": 1}}));
        assert!(doc.field("s").get("k").is_none());
        assert!(doc.field("s").element(0).is_none());
        assert_eq!(doc.field("o").elements().count(), 0);
        assert_eq!(doc.field("a").entries().count(), 0);
        assert!(doc.field("a").get("0").is_none());
        assert_eq!(doc.field("s").len(), None);
        assert_eq!(Attributes::from(json!("scalar root")).root(), "scalar root");
        assert!(Attributes::new().is_empty() && Attributes::from(Value::Null).is_empty());
    }

    #[test]
    fn nodes_are_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 16);
    }
}
