//! Key vaults (ARM REST, API version 2022-07-01).

use serde_json::Value;

use super::{Found, Scope, asset, bool_at, common, i64_at, list_at, list_kind, str_at};
use crate::error::Error;
use crate::shapes::{KeyVault, VaultNetworkAcls, kind};

const API: &str = "2022-07-01";

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    list_kind(s, kind::KEY_VAULT, "providers/Microsoft.KeyVault/vaults", API, convert).await
}

pub(crate) fn convert(subscription: &str, v: &Value, source: &str) -> Result<pacbot_core::Asset, Error> {
    let c = common(v, source)?;
    let p = "/properties";
    let network_acls = v
        .pointer("/properties/networkAcls")
        .filter(|n| n.is_object())
        .map(|n| VaultNetworkAcls { default_action: str_at(n, "/defaultAction"), bypass: str_at(n, "/bypass") });
    let doc = KeyVault {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        vault_uri: str_at(v, &format!("{p}/vaultUri")),
        sku: str_at(v, &format!("{p}/sku/name")),
        tenant_id: str_at(v, &format!("{p}/tenantId")),
        enable_soft_delete: bool_at(v, &format!("{p}/enableSoftDelete")),
        soft_delete_retention_days: i64_at(v, &format!("{p}/softDeleteRetentionInDays")),
        enable_purge_protection: bool_at(v, &format!("{p}/enablePurgeProtection")),
        enable_rbac_authorization: bool_at(v, &format!("{p}/enableRbacAuthorization")),
        public_network_access: str_at(v, &format!("{p}/publicNetworkAccess")),
        network_acls,
        access_policy_count: list_at(v, &format!("{p}/accessPolicies")).len() as u64,
    };
    asset(subscription, kind::KEY_VAULT, &c, &doc)
}
