//! Storage accounts and their blob containers, read with `azure_mgmt_storage`
//! (API version 2023-05-01).
//!
//! The crate's typed models are turned back into ARM's JSON (their serde
//! form) and converted like every other kind, so the shapes do not depend on
//! the generated types. Each account's blob service properties (soft delete,
//! versioning) are one plain ARM GET of `blobServices/default`; an account
//! whose blob service cannot be read is not yielded, and its scope fails.

use azure_mgmt_storage::package_2023_05 as api;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::{Common, Found, Scope, asset, bool_at, common, list_at, str_at, time_at};
use crate::error::Error;
use crate::shapes::{BlobService, StorageAccount, StorageContainer, StorageEncryption, StorageNetworkAcls, kind};

const API: &str = "2023-05-01";

/// Every item of a generated listing, as ARM JSON.
async fn drain<T, P>(
    url: &str,
    mut pages: azure_core::Pageable<P, azure_core::Error>,
    items: fn(P) -> Vec<T>,
) -> Result<Vec<Value>, Error>
where
    T: Serialize,
{
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::from_azure(url, &e, 0))?;
        for item in items(page) {
            out.push(
                serde_json::to_value(&item)
                    .map_err(|e| Error::InvalidResponse { url: url.to_owned(), reason: e.to_string() })?,
            );
        }
    }
    Ok(out)
}

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    let mut found = Found::default();
    let credential: std::sync::Arc<dyn azure_core::auth::TokenCredential> = s.arm.credential();
    let client = api::Client::new(
        s.arm.endpoint().clone(),
        credential,
        vec![s.arm.scope().to_owned()],
        crate::arm::client_options(s.retry, s.counters),
    );
    let path =
        format!("{}subscriptions/{}/providers/Microsoft.Storage/storageAccounts", s.arm.endpoint(), s.subscription);
    let accounts = match drain(
        &path,
        client.storage_accounts_client().list(s.subscription).into_stream(),
        |p: api::models::StorageAccountListResult| p.value,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => {
            found.fail_all(kind::STORAGE_ACCOUNT, e.clone());
            found.fail_all(kind::STORAGE_CONTAINER, e);
            return found;
        }
    };
    for v in &accounts {
        let c = match common(v, &path) {
            Ok(c) => c,
            Err(e) => {
                found.fail_all(kind::STORAGE_ACCOUNT, e.clone());
                found.fail_all(kind::STORAGE_CONTAINER, e);
                continue;
            }
        };
        let blob = match s.arm.get_path(&format!("{}/blobServices/default", c.id), API).await {
            Ok(b) => Ok(Some(blob_service(&b))),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        match blob.and_then(|blob| account(s.subscription, v, &c, blob)) {
            Ok(a) => found.assets.push(a),
            Err(e) => found.fail_at(kind::STORAGE_ACCOUNT, &c.location, e),
        }
        let url = format!("{}{}/blobServices/default/containers", s.arm.endpoint(), c.id.trim_start_matches('/'));
        let pages = client.blob_containers_client().list(&c.resource_group, &c.name, s.subscription).into_stream();
        match drain(&url, pages, |p: api::models::ListContainerItems| p.value).await {
            Ok(items) => {
                for item in &items {
                    match container(s.subscription, item, &c, &url) {
                        Ok(a) => found.assets.push(a),
                        Err(e) => found.fail_at(kind::STORAGE_CONTAINER, &c.location, e),
                    }
                }
            }
            Err(e) => found.fail_at(kind::STORAGE_CONTAINER, &c.location, e),
        }
    }
    found
}

/// The shape of a `blobServices/default` document.
pub(crate) fn blob_service(b: &Value) -> BlobService {
    BlobService {
        delete_retention_enabled: bool_at(b, "/properties/deleteRetentionPolicy/enabled"),
        delete_retention_days: super::i64_at(b, "/properties/deleteRetentionPolicy/days"),
        container_delete_retention_enabled: bool_at(b, "/properties/containerDeleteRetentionPolicy/enabled"),
        container_delete_retention_days: super::i64_at(b, "/properties/containerDeleteRetentionPolicy/days"),
        versioning_enabled: bool_at(b, "/properties/isVersioningEnabled"),
    }
}

pub(crate) fn account(
    subscription: &str,
    v: &Value,
    c: &Common,
    blob_service: Option<BlobService>,
) -> Result<pacbot_core::Asset, Error> {
    let p = |k: &str| format!("/properties/{k}");
    let acls = v.pointer("/properties/networkAcls").filter(|n| n.is_object());
    let network_acls = acls.map_or_else(StorageNetworkAcls::default, |n| StorageNetworkAcls {
        default_action: str_at(n, "/defaultAction"),
        bypass: str_at(n, "/bypass"),
        ip_rules: list_at(n, "/ipRules").iter().filter_map(|r| str_at(r, "/value")).collect(),
        virtual_network_rule_ids: super::ids_at(n, "/virtualNetworkRules"),
    });
    let encryption = StorageEncryption {
        key_source: str_at(v, &p("encryption/keySource")),
        require_infrastructure_encryption: bool_at(v, &p("encryption/requireInfrastructureEncryption")),
        blob_enabled: bool_at(v, &p("encryption/services/blob/enabled")),
        file_enabled: bool_at(v, &p("encryption/services/file/enabled")),
        key_vault_uri: str_at(v, &p("encryption/keyvaultproperties/keyvaulturi")),
    };
    let doc = StorageAccount {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        kind: str_at(v, "/kind"),
        sku: str_at(v, "/sku/name"),
        access_tier: str_at(v, &p("accessTier")),
        provisioning_state: str_at(v, &p("provisioningState")),
        creation_time: time_at(v, &p("creationTime")),
        supports_https_traffic_only: bool_at(v, &p("supportsHttpsTrafficOnly")),
        minimum_tls_version: str_at(v, &p("minimumTlsVersion")),
        allow_blob_public_access: bool_at(v, &p("allowBlobPublicAccess")),
        allow_shared_key_access: bool_at(v, &p("allowSharedKeyAccess")),
        allow_cross_tenant_replication: bool_at(v, &p("allowCrossTenantReplication")),
        public_network_access: str_at(v, &p("publicNetworkAccess")),
        is_hns_enabled: bool_at(v, &p("isHnsEnabled")),
        network_acls,
        encryption,
        private_endpoint_connection_count: list_at(v, &p("privateEndpointConnections")).len() as u64,
        blob_service,
    };
    asset(subscription, kind::STORAGE_ACCOUNT, c, &doc)
}

pub(crate) fn container(
    subscription: &str,
    v: &Value,
    account: &Common,
    source: &str,
) -> Result<pacbot_core::Asset, Error> {
    // Containers have no location or tags of their own: they are the account's.
    let mut c = common(v, source)?;
    c.location = account.location.clone();
    c.tags.clear();
    let p = |k: &str| format!("/properties/{k}");
    let doc = StorageContainer {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        account_name: account.name.clone(),
        account_id: account.id.clone(),
        public_access: str_at(v, &p("publicAccess")),
        has_immutability_policy: bool_at(v, &p("hasImmutabilityPolicy")),
        has_legal_hold: bool_at(v, &p("hasLegalHold")),
        deleted: bool_at(v, &p("deleted")).unwrap_or(false),
        last_modified_time: time_at(v, &p("lastModifiedTime")),
    };
    asset(subscription, kind::STORAGE_CONTAINER, &c, &doc)
}
