//! Queries: filters, orderings and cursor pagination.

use std::fmt;

use chrono::{DateTime, Utc};
use pacbot_core::{AssetId, Category, Criteria, ResourceKind, Severity, ViolationKey, ViolationStatus};
use serde::{Deserialize, Serialize};

/// An opaque position in a list, returned as [`Page::next`] and given back
/// in [`PageRequest::cursor`] for the following page.
///
/// Pagination is by key (keyset), not by offset: while the data does not
/// change, walking the pages returns every item exactly once; items written
/// meanwhile do not shift the pages. A cursor is only valid for the list and
/// ordering that produced it. It is safe to hand to clients (URL-safe text).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor from its text (as received from a client); checked when used.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The cursor's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which page to return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// How many items at most, 1 to [`crate::limits::MAX_PAGE`].
    pub limit: usize,
    /// Where to continue; `None` for the first page.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// The first page of `limit` items.
    #[must_use]
    pub fn first(limit: usize) -> Self {
        Self { limit, cursor: None }
    }

    /// The page of `limit` items after `cursor`.
    #[must_use]
    pub fn after(limit: usize, cursor: Cursor) -> Self {
        Self { limit, cursor: Some(cursor) }
    }
}

impl Default for PageRequest {
    /// The first page of 100 items.
    fn default() -> Self {
        Self::first(100)
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the requested order.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<Cursor>,
}

/// The direction of an ordering. It applies to the whole sort key, ties
/// included (ties are broken by identity, in the same direction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Smallest first.
    #[default]
    Ascending,
    /// Largest first.
    Descending,
}

impl Order {
    /// Whether descending.
    #[must_use]
    pub fn is_descending(self) -> bool {
        self == Order::Descending
    }
}

/// A tag an asset must carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagFilter {
    /// The tag key (exact).
    pub key: String,
    /// The value (exact); `None` for any value.
    pub value: Option<String>,
}

impl TagFilter {
    /// Assets carrying `key` with any value.
    pub fn key(key: impl Into<String>) -> Self {
        Self { key: key.into(), value: None }
    }

    /// Assets carrying `key` = `value`.
    pub fn eq(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: Some(value.into()) }
    }
}

/// Criteria (an asset group's, or any) the asset must match, evaluated at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct CriteriaFilter {
    /// The criteria.
    pub criteria: Criteria,
    /// The time `older-than`/`newer-than` conditions are evaluated at.
    pub at: DateTime<Utc>,
}

/// Which assets to list. Empty lists mean "any"; several values of one field
/// mean any of them; fields combine with "and".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssetFilter {
    /// Providers.
    pub providers: Vec<String>,
    /// Accounts or subscriptions.
    pub accounts: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// Kinds.
    pub kinds: Vec<ResourceKind>,
    /// Tags the asset must carry (all of them).
    pub tags: Vec<TagFilter>,
    /// Criteria the asset must match (an asset group's).
    pub criteria: Option<CriteriaFilter>,
    /// Whether to include assets marked removed.
    pub include_removed: bool,
    /// Only assets that changed at or after this time: first stored, their
    /// name, attributes or tags rewritten, marked removed or back from
    /// removed. (Assets stored before schema version 3 count as changed when
    /// they were last seen, as their change time is not known.)
    pub changed_since: Option<DateTime<Utc>>,
}

/// How to order assets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetSort {
    /// By identity: provider, account, region, kind, resource id.
    #[default]
    Id,
    /// By name (no name sorts as the empty name), then identity.
    Name,
    /// By first-seen time, then identity.
    FirstSeen,
    /// By last-seen time, then identity.
    LastSeen,
}

impl AssetSort {
    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AssetSort::Id => "id",
            AssetSort::Name => "name",
            AssetSort::FirstSeen => "first_seen",
            AssetSort::LastSeen => "last_seen",
        }
    }
}

/// A page of assets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssetQuery {
    /// Which assets.
    pub filter: AssetFilter,
    /// The ordering.
    pub sort: AssetSort,
    /// Its direction.
    pub order: Order,
    /// Which page.
    pub page: PageRequest,
}

/// Which violations to list. Empty lists mean "any"; several values of one
/// field mean any of them; fields combine with "and". Asset fields (tags,
/// criteria) match the stored asset; a violation whose asset is not stored
/// matches no tag or criteria filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViolationFilter {
    /// Policy ids.
    pub policies: Vec<String>,
    /// Severities.
    pub severities: Vec<Severity>,
    /// Categories.
    pub categories: Vec<Category>,
    /// Statuses (empty: every status, closed included).
    pub statuses: Vec<ViolationStatus>,
    /// Providers.
    pub providers: Vec<String>,
    /// Accounts.
    pub accounts: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// Kinds.
    pub kinds: Vec<ResourceKind>,
    /// One asset.
    pub asset: Option<AssetId>,
    /// Tags the asset must carry (all of them).
    pub tags: Vec<TagFilter>,
    /// Criteria the asset must match (an asset group's).
    pub criteria: Option<CriteriaFilter>,
    /// Only violations modified (opened, re-opened, closed, exempted, or
    /// otherwise rewritten) at or after this time: their `modified_at`.
    pub changed_since: Option<DateTime<Utc>>,
}

/// How to order violations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationSort {
    /// By key: policy, rule, then asset identity.
    #[default]
    Key,
    /// By severity (low < medium < high < critical), then key.
    Severity,
    /// By creation time, then key.
    CreatedAt,
    /// By last modification, then key.
    ModifiedAt,
}

impl ViolationSort {
    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationSort::Key => "key",
            ViolationSort::Severity => "severity",
            ViolationSort::CreatedAt => "created_at",
            ViolationSort::ModifiedAt => "modified_at",
        }
    }
}

/// A page of violations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViolationQuery {
    /// Which violations.
    pub filter: ViolationFilter,
    /// The ordering.
    pub sort: ViolationSort,
    /// Its direction.
    pub order: Order,
    /// Which page.
    pub page: PageRequest,
}

/// Which field of an asset matched a search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum MatchedField {
    /// The resource id.
    ResourceId,
    /// The name.
    Name,
    /// The value of this tag.
    Tag {
        /// The tag key.
        key: String,
    },
}

/// One result of [`crate::Store::search`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SearchHit {
    /// An asset (not removed) whose resource id, name or a tag value contains the text.
    Asset {
        /// The asset.
        id: AssetId,
        /// Its name.
        name: Option<String>,
        /// The first field that matched (resource id, name, then tags by key).
        matched: MatchedField,
    },
    /// A violation whose reason contains the text.
    Violation {
        /// The violation.
        key: ViolationKey,
        /// Its status.
        status: ViolationStatus,
        /// Its reason.
        reason: String,
    },
}
