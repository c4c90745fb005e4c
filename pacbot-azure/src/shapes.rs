//! The attribute documents of the Azure kinds, as Rust types.
//!
//! Each type serializes to the documented shape of its kind (see
//! [`crate::docs::shapes`]); the connector builds assets through them, and the
//! tests check the documented examples against them. Times are
//! `DateTime<Utc>` (RFC 3339 in JSON).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind names, as constants.
pub mod kind {
    /// A resource group.
    pub const RESOURCE_GROUP: &str = "azure.resources.group";
    /// A storage account.
    pub const STORAGE_ACCOUNT: &str = "azure.storage.account";
    /// A blob container of a storage account.
    pub const STORAGE_CONTAINER: &str = "azure.storage.container";
    /// A virtual machine.
    pub const VM: &str = "azure.compute.vm";
    /// A managed disk.
    pub const DISK: &str = "azure.compute.disk";
    /// A network security group.
    pub const NSG: &str = "azure.network.nsg";
    /// A logical SQL server.
    pub const SQL_SERVER: &str = "azure.sql.server";
    /// A SQL database.
    pub const SQL_DATABASE: &str = "azure.sql.database";
    /// A key vault.
    pub const KEY_VAULT: &str = "azure.keyvault.vault";

    /// Every kind, in the order of the documentation.
    pub const ALL: [&str; 9] =
        [RESOURCE_GROUP, STORAGE_ACCOUNT, STORAGE_CONTAINER, VM, DISK, NSG, SQL_SERVER, SQL_DATABASE, KEY_VAULT];
}

/// `azure.resources.group`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    pub location: String,
    pub provisioning_state: Option<String>,
    pub managed_by: Option<String>,
}

/// `azure.storage.account`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageAccount {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub kind: Option<String>,
    pub sku: Option<String>,
    pub access_tier: Option<String>,
    pub provisioning_state: Option<String>,
    pub creation_time: Option<DateTime<Utc>>,
    pub supports_https_traffic_only: Option<bool>,
    pub minimum_tls_version: Option<String>,
    pub allow_blob_public_access: Option<bool>,
    pub allow_shared_key_access: Option<bool>,
    pub allow_cross_tenant_replication: Option<bool>,
    pub public_network_access: Option<String>,
    pub is_hns_enabled: Option<bool>,
    pub network_acls: StorageNetworkAcls,
    pub encryption: StorageEncryption,
    pub private_endpoint_connection_count: u64,
    pub blob_service: Option<BlobService>,
}

/// The soft delete and versioning settings of a storage account's blob
/// service (`blobServices/default`).
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobService {
    pub delete_retention_enabled: Option<bool>,
    pub delete_retention_days: Option<i64>,
    pub container_delete_retention_enabled: Option<bool>,
    pub container_delete_retention_days: Option<i64>,
    pub versioning_enabled: Option<bool>,
}

/// A storage account's firewall.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageNetworkAcls {
    pub default_action: Option<String>,
    pub bypass: Option<String>,
    pub ip_rules: Vec<String>,
    pub virtual_network_rule_ids: Vec<String>,
}

/// A storage account's encryption settings.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageEncryption {
    pub key_source: Option<String>,
    pub require_infrastructure_encryption: Option<bool>,
    pub blob_enabled: Option<bool>,
    pub file_enabled: Option<bool>,
    pub key_vault_uri: Option<String>,
}

/// `azure.storage.container`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageContainer {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub account_name: String,
    pub account_id: String,
    pub public_access: Option<String>,
    pub has_immutability_policy: Option<bool>,
    pub has_legal_hold: Option<bool>,
    pub deleted: bool,
    pub last_modified_time: Option<DateTime<Utc>>,
}

/// `azure.compute.vm`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualMachine {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub vm_id: Option<String>,
    pub vm_size: Option<String>,
    pub provisioning_state: Option<String>,
    pub os_type: Option<String>,
    pub os_disk: Option<VmDisk>,
    pub data_disks: Vec<VmDataDisk>,
    pub managed_disks: bool,
    pub disable_password_authentication: Option<bool>,
    pub encryption_at_host: Option<bool>,
    pub security_type: Option<String>,
    pub network_interface_ids: Vec<String>,
    pub identity_type: Option<String>,
    pub zones: Vec<String>,
    pub power_state: Option<String>,
}

/// A VM's OS disk.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmDisk {
    pub name: Option<String>,
    pub managed_disk_id: Option<String>,
    pub vhd_uri: Option<String>,
    pub disk_encryption_set_id: Option<String>,
}

/// A VM's data disk.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmDataDisk {
    pub lun: Option<i64>,
    pub name: Option<String>,
    pub managed_disk_id: Option<String>,
    pub vhd_uri: Option<String>,
    pub disk_encryption_set_id: Option<String>,
}

/// `azure.compute.disk`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub sku: Option<String>,
    pub disk_size_gb: Option<i64>,
    pub disk_state: Option<String>,
    pub managed_by: Option<String>,
    pub os_type: Option<String>,
    pub time_created: Option<DateTime<Utc>>,
    pub encryption_type: Option<String>,
    pub disk_encryption_set_id: Option<String>,
    pub ade_enabled: bool,
    pub network_access_policy: Option<String>,
    pub public_network_access: Option<String>,
}

/// `azure.network.nsg`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSecurityGroup {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub rules: Vec<NsgRule>,
    pub subnet_ids: Vec<String>,
    pub network_interface_ids: Vec<String>,
}

/// One flattened NSG rule: one direction, access, protocol, destination port
/// range and source.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NsgRule {
    pub name: String,
    pub priority: Option<i64>,
    pub direction: Option<String>,
    pub access: Option<String>,
    pub protocol: Option<String>,
    pub port_range: String,
    pub from_port: Option<u16>,
    pub to_port: Option<u16>,
    pub source: Option<String>,
    pub source_asg_id: Option<String>,
    pub destinations: Vec<String>,
    pub default: bool,
    pub description: Option<String>,
}

/// `azure.sql.server`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlServer {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub version: Option<String>,
    pub fully_qualified_domain_name: Option<String>,
    pub administrator_login: Option<String>,
    pub public_network_access: Option<String>,
    pub minimal_tls_version: Option<String>,
    pub entra_admin: Option<EntraAdmin>,
    pub firewall_rules: Vec<FirewallRule>,
    pub auditing_state: Option<String>,
    pub auditing_retention_days: Option<i64>,
}

/// A SQL server's Microsoft Entra ID administrator.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraAdmin {
    pub login: Option<String>,
    pub sid: Option<String>,
    pub azure_ad_only_authentication: Option<bool>,
}

/// A SQL server firewall rule.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRule {
    pub name: String,
    pub start_ip: Option<String>,
    pub end_ip: Option<String>,
}

/// `azure.sql.database`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlDatabase {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub server_name: String,
    pub server_id: String,
    pub status: Option<String>,
    pub sku: Option<String>,
    pub is_system: bool,
    pub creation_date: Option<DateTime<Utc>>,
    pub transparent_data_encryption: Option<String>,
}

/// `azure.keyvault.vault`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVault {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub vault_uri: Option<String>,
    pub sku: Option<String>,
    pub tenant_id: Option<String>,
    pub enable_soft_delete: Option<bool>,
    pub soft_delete_retention_days: Option<i64>,
    pub enable_purge_protection: Option<bool>,
    pub enable_rbac_authorization: Option<bool>,
    pub public_network_access: Option<String>,
    pub network_acls: Option<VaultNetworkAcls>,
    pub access_policy_count: u64,
}

/// A key vault's firewall.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultNetworkAcls {
    pub default_action: Option<String>,
    pub bypass: Option<String>,
}

/// A location as the documents hold it: ARM's name, lowercase, without
/// spaces (`West Europe` → `westeurope`); `global` when empty.
#[must_use]
pub fn normalize_location(location: &str) -> String {
    let l: String = location.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    if l.is_empty() { "global".to_owned() } else { l }
}

/// The bounds of an NSG port range (`22`, `8000-8999`, `*`), or `None` when
/// the text is neither.
#[must_use]
pub fn port_bounds(range: &str) -> Option<(u16, u16)> {
    let range = range.trim();
    if range == "*" {
        return Some((0, u16::MAX));
    }
    match range.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
            (from <= to).then_some((from, to))
        }
        None => range.parse().ok().map(|p| (p, p)),
    }
}

/// The resource group named in an ARM id (`…/resourceGroups/{name}/…`).
#[must_use]
pub fn resource_group_of(arm_id: &str) -> Option<&str> {
    let mut parts = arm_id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourcegroups") {
            return parts.next().filter(|n| !n.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    fn examples() -> Vec<pacbot_core::shape_doc::ShapeExample> {
        pacbot_core::shape_doc::examples(include_str!("shapes.md")).unwrap()
    }

    fn round_trip<T: Serialize + DeserializeOwned>(example: &pacbot_core::shape_doc::ShapeExample) {
        pacbot_core::shape_doc::check_round_trip::<T>(example).unwrap();
    }

    #[test]
    fn every_kind_has_a_documented_example_matching_its_type() {
        let examples = examples();
        let kinds: Vec<&str> = examples.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, kind::ALL.to_vec());
        for e in &examples {
            match e.kind.as_str() {
                kind::RESOURCE_GROUP => round_trip::<ResourceGroup>(e),
                kind::STORAGE_ACCOUNT => round_trip::<StorageAccount>(e),
                kind::STORAGE_CONTAINER => round_trip::<StorageContainer>(e),
                kind::VM => round_trip::<VirtualMachine>(e),
                kind::DISK => round_trip::<Disk>(e),
                kind::NSG => round_trip::<NetworkSecurityGroup>(e),
                kind::SQL_SERVER => round_trip::<SqlServer>(e),
                kind::SQL_DATABASE => round_trip::<SqlDatabase>(e),
                kind::KEY_VAULT => round_trip::<KeyVault>(e),
                other => panic!("no type for `{other}`"),
            }
            // Every ARM id in a document is lowercase.
            let text = e.document.to_string();
            for id in text.split('"').filter(|s| s.starts_with("/subscriptions/")) {
                assert_eq!(id, id.to_lowercase(), "{}: ARM ids are lowercase", e.kind);
            }
        }
    }

    #[test]
    fn port_ranges_and_locations() {
        assert_eq!(port_bounds("*"), Some((0, 65535)));
        assert_eq!(port_bounds("22"), Some((22, 22)));
        assert_eq!(port_bounds("8000-8999"), Some((8000, 8999)));
        assert_eq!(port_bounds(" 1 - 2 "), Some((1, 2)));
        assert_eq!(port_bounds("9-1"), None);
        assert_eq!(port_bounds("http"), None);
        assert_eq!(port_bounds("70000"), None);
        assert_eq!(normalize_location("West Europe"), "westeurope");
        assert_eq!(normalize_location(""), "global");
        assert_eq!(resource_group_of("/subscriptions/s/resourceGroups/RG-1/providers/x"), Some("RG-1"));
        assert_eq!(resource_group_of("/subscriptions/s"), None);
    }
}
