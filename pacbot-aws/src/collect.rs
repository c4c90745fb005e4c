//! What every service collector shares: building assets and reporting scopes.

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetId, CoverageScope, Discovery};
use serde::Serialize;

use crate::error::Error;

/// The account and region a collector works in.
#[derive(Clone, Debug)]
pub(crate) struct Place {
    pub account: String,
    pub region: String,
}

impl Place {
    pub(crate) fn new(account: &str, region: &str) -> Self {
        Self { account: account.to_owned(), region: region.to_owned() }
    }

    pub(crate) fn scope(&self, kind: &str) -> CoverageScope {
        CoverageScope::new("aws", &self.account, &self.region, kind)
    }

    pub(crate) fn call(&self, service: &'static str, operation: &'static str) -> crate::error::Call<'_> {
        crate::error::Call { service, operation, account: &self.account, region: &self.region }
    }

    /// An asset of this place.
    pub(crate) fn asset(
        &self,
        kind: &str,
        resource_id: &str,
        name: Option<&str>,
        attributes: &impl Serialize,
        tags: impl IntoIterator<Item = (String, String)>,
    ) -> Discovery {
        let id = AssetId::new("aws", &self.account, &self.region, kind, resource_id);
        // Serializing the shape types cannot fail (string keys, no custom code).
        let attrs = serde_json::to_value(attributes).unwrap_or_default();
        let mut asset = Asset::new(id).with_attributes(attrs);
        for (k, v) in tags {
            asset = asset.with_tag(k, v);
        }
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            asset = asset.with_name(n);
        }
        Discovery::Asset(Box::new(asset))
    }
}

/// Appends the events of one scope: its assets and `Complete`, or `Failed`
/// when one of the calls it depends on failed (its assets are then left out:
/// what was seen of a scope that failed is not trustworthy).
pub(crate) fn finish<E: std::fmt::Display>(
    out: &mut Vec<Discovery>,
    scope: CoverageScope,
    result: Result<Vec<Discovery>, E>,
) {
    match result {
        Ok(assets) => {
            out.extend(assets);
            out.push(Discovery::Complete(scope));
        }
        Err(e) => out.push(Discovery::Failed { scope, error: e.to_string() }),
    }
}

/// The first error among the results a scope depends on.
pub(crate) fn first_err<'a>(deps: &[Option<&'a Error>]) -> Option<&'a Error> {
    deps.iter().flatten().next().copied()
}

/// An SDK time as a UTC time.
pub(crate) fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

pub(crate) fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

pub(crate) fn strings<'a>(items: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    items.into_iter().flatten().map(str::to_owned).collect()
}
