//! Virtual machines (API version 2024-03-01) and managed disks (2023-04-02),
//! ARM REST.

use serde_json::Value;

use super::{Found, Scope, asset, bool_at, common, i64_at, id_at, ids_at, list_at, list_kind, str_at, time_at};
use crate::error::Error;
use crate::shapes::{Disk, VirtualMachine, VmDataDisk, VmDisk, kind};

const VM_API: &str = "2024-03-01";
const DISK_API: &str = "2023-04-02";

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    let mut found = list_kind(s, kind::VM, "providers/Microsoft.Compute/virtualMachines", VM_API, vm).await;
    found.extend(list_kind(s, kind::DISK, "providers/Microsoft.Compute/disks", DISK_API, disk).await);
    found
}

fn os_disk(d: &Value) -> VmDisk {
    VmDisk {
        name: str_at(d, "/name"),
        managed_disk_id: id_at(d, "/managedDisk/id"),
        vhd_uri: str_at(d, "/vhd/uri"),
        disk_encryption_set_id: id_at(d, "/managedDisk/diskEncryptionSet/id"),
    }
}

pub(crate) fn vm(subscription: &str, v: &Value, source: &str) -> Result<pacbot_core::Asset, Error> {
    let c = common(v, source)?;
    let os = v.pointer("/properties/storageProfile/osDisk").filter(|d| d.is_object()).map(os_disk);
    let data_disks: Vec<VmDataDisk> = list_at(v, "/properties/storageProfile/dataDisks")
        .iter()
        .map(|d| {
            let base = os_disk(d);
            VmDataDisk {
                lun: i64_at(d, "/lun"),
                name: base.name,
                managed_disk_id: base.managed_disk_id,
                vhd_uri: base.vhd_uri,
                disk_encryption_set_id: base.disk_encryption_set_id,
            }
        })
        .collect();
    let managed_disks = os.as_ref().is_none_or(|d| d.managed_disk_id.is_some() || d.vhd_uri.is_none())
        && data_disks.iter().all(|d| d.managed_disk_id.is_some() || d.vhd_uri.is_none());
    let doc = VirtualMachine {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        vm_id: str_at(v, "/properties/vmId"),
        vm_size: str_at(v, "/properties/hardwareProfile/vmSize"),
        provisioning_state: str_at(v, "/properties/provisioningState"),
        os_type: str_at(v, "/properties/storageProfile/osDisk/osType"),
        os_disk: os,
        data_disks,
        managed_disks,
        disable_password_authentication: bool_at(
            v,
            "/properties/osProfile/linuxConfiguration/disablePasswordAuthentication",
        ),
        encryption_at_host: bool_at(v, "/properties/securityProfile/encryptionAtHost"),
        security_type: str_at(v, "/properties/securityProfile/securityType"),
        network_interface_ids: ids_at(v, "/properties/networkProfile/networkInterfaces"),
        identity_type: str_at(v, "/identity/type"),
        zones: list_at(v, "/zones").iter().filter_map(|z| z.as_str().map(str::to_owned)).collect(),
    };
    asset(subscription, kind::VM, &c, &doc)
}

pub(crate) fn disk(subscription: &str, v: &Value, source: &str) -> Result<pacbot_core::Asset, Error> {
    let c = common(v, source)?;
    let doc = Disk {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        sku: str_at(v, "/sku/name"),
        disk_size_gb: i64_at(v, "/properties/diskSizeGB"),
        disk_state: str_at(v, "/properties/diskState"),
        managed_by: id_at(v, "/managedBy"),
        os_type: str_at(v, "/properties/osType"),
        time_created: time_at(v, "/properties/timeCreated"),
        encryption_type: str_at(v, "/properties/encryption/type"),
        disk_encryption_set_id: id_at(v, "/properties/encryption/diskEncryptionSetId"),
        ade_enabled: bool_at(v, "/properties/encryptionSettingsCollection/enabled").unwrap_or(false),
        network_access_policy: str_at(v, "/properties/networkAccessPolicy"),
        public_network_access: str_at(v, "/properties/publicNetworkAccess"),
    };
    asset(subscription, kind::DISK, &c, &doc)
}
