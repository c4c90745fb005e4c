//! Resource groups (ARM REST, API version 2021-04-01).

use serde_json::Value;

use super::{Found, Scope, asset, common, id_at, list_kind, str_at};
use crate::error::Error;
use crate::shapes::{ResourceGroup, kind};

const API: &str = "2021-04-01";

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    list_kind(s, kind::RESOURCE_GROUP, "resourcegroups", API, convert).await
}

pub(crate) fn convert(subscription: &str, v: &Value, source: &str) -> Result<pacbot_core::Asset, Error> {
    let c = common(v, source)?;
    let doc = ResourceGroup {
        id: c.id.clone(),
        name: c.name.clone(),
        location: c.location.clone(),
        provisioning_state: str_at(v, "/properties/provisioningState"),
        managed_by: id_at(v, "/managedBy"),
    };
    asset(subscription, kind::RESOURCE_GROUP, &c, &doc)
}
