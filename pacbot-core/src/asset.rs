//! Assets: the resources a connector discovers.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attributes::Attributes;
use crate::tags::Tags;

/// The kind of a resource, such as `aws.ec2.instance` or `azure.storage.account`.
///
/// Kinds are an open set: a connector or plugin may introduce any kind. By
/// convention a kind is `provider.service.resource`, lowercase, dot separated.
/// Cloning is cheap (the name is shared).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceKind(Arc<str>);

impl ResourceKind {
    /// A kind with this name.
    pub fn new(name: impl AsRef<str>) -> Self {
        Self(Arc::from(name.as_ref()))
    }

    /// The kind's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider part of the kind (before the first `.`).
    #[must_use]
    pub fn provider(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }
}

impl fmt::Debug for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ResourceKind {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl AsRef<str> for ResourceKind {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The stable identity of an asset.
///
/// Two observations of the same cloud resource in different scans have equal
/// ids. Global resources (IAM users, an account's settings) use the region
/// `global`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetId {
    /// `aws`, `azure`, or a plugin's provider name.
    pub provider: String,
    /// The AWS account id, Azure subscription id, or equivalent.
    pub account: String,
    /// The region or location (`global` for global resources).
    pub region: String,
    /// The resource kind.
    pub kind: ResourceKind,
    /// The provider's identifier of the resource (instance id, bucket name, ARM id, …).
    pub resource_id: String,
}

impl AssetId {
    /// An id from its parts.
    pub fn new(
        provider: impl Into<String>,
        account: impl Into<String>,
        region: impl Into<String>,
        kind: impl Into<ResourceKind>,
        resource_id: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            account: account.into(),
            region: region.into(),
            kind: kind.into(),
            resource_id: resource_id.into(),
        }
    }

    /// The collection scope this asset belongs to.
    #[must_use]
    pub fn scope(&self) -> crate::CoverageScope {
        crate::CoverageScope::new(&self.provider, &self.account, &self.region, self.kind.clone())
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}/{}", self.provider, self.account, self.region, self.kind, self.resource_id)
    }
}

/// A discovered resource: identity, attributes, tags and when it was seen.
///
/// `attributes` is the provider's description of the resource as a JSON
/// document, held compactly (see [`Attributes`]). Its shape per kind is documented by the connector that produces it;
/// criteria and rules address it with attribute paths (see [`crate::AttributePath`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// The stable identity.
    pub id: AssetId,
    /// A human-readable name, when the resource has one (a `Name` tag, a bucket name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The resource's attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// The resource's tags.
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// When the asset was first seen (set by the store across scans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    /// When the asset was last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}

impl Asset {
    /// An asset with no attributes and no tags.
    #[must_use]
    pub fn new(id: AssetId) -> Self {
        Self { id, name: None, attributes: Attributes::new(), tags: Tags::new(), first_seen: None, last_seen: None }
    }

    /// Sets the attributes (a `serde_json::Value` converts).
    #[must_use]
    pub fn with_attributes(mut self, attributes: impl Into<Attributes>) -> Self {
        self.attributes = attributes.into();
        self
    }

    /// Adds a tag.
    #[must_use]
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The asset's kind.
    #[must_use]
    pub fn kind(&self) -> &ResourceKind {
        &self.id.kind
    }

    /// The value of a tag, by exact key.
    #[must_use]
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key)
    }
}
