//! Virtual machines (API version 2024-03-01) and managed disks (2023-04-02),
//! ARM REST.
//!
//! A VM's power state comes from a second listing of the subscription's VMs
//! with `statusOnly=true`: one call per subscription rather than one instance
//! view per VM. When it fails, no VM of the subscription is yielded half-known
//! and the kind's scopes fail.

use std::collections::HashMap;

use serde_json::Value;

use super::{Found, Scope, asset, bool_at, common, i64_at, id_at, ids_at, list_at, list_kind, str_at, time_at};
use crate::error::Error;
use crate::shapes::{Disk, VirtualMachine, VmDataDisk, VmDisk, kind};

const VM_API: &str = "2024-03-01";
const DISK_API: &str = "2023-04-02";

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    let mut found = vms(s).await;
    found.extend(list_kind(s, kind::DISK, "providers/Microsoft.Compute/disks", DISK_API, disk).await);
    found
}

async fn vms(s: &Scope<'_>) -> Found {
    let mut found = Found::default();
    let path = format!("/subscriptions/{}/providers/Microsoft.Compute/virtualMachines", s.subscription);
    let items = match s.arm.list(&path, VM_API).await {
        Ok(items) => items,
        Err(e) => {
            found.fail_all(kind::VM, e);
            return found;
        }
    };
    let power = match power_states(s, &path).await {
        Ok(p) => p,
        Err(e) => {
            found.fail_all(kind::VM, e);
            return found;
        }
    };
    for v in &items {
        let state = str_at(v, "/id").and_then(|id| power.get(&id.to_lowercase()).cloned());
        match vm(s.subscription, v, &path, state) {
            Ok(a) => found.assets.push(a),
            Err(e) => found.fail_all(kind::VM, e),
        }
    }
    found
}

/// The power state of every VM of the subscription, by lowercase id.
async fn power_states(s: &Scope<'_>, path: &str) -> Result<HashMap<String, String>, Error> {
    let mut url = s.arm.url(path, VM_API)?;
    url.query_pairs_mut().append_pair("statusOnly", "true");
    let items = s.arm.list_url(url).await?;
    Ok(items.iter().filter_map(|v| Some((str_at(v, "/id")?.to_lowercase(), power_state(v)?))).collect())
}

/// `running` of the status `PowerState/running` in a VM's instance view.
pub(crate) fn power_state(v: &Value) -> Option<String> {
    list_at(v, "/properties/instanceView/statuses")
        .iter()
        .filter_map(|st| str_at(st, "/code"))
        .find_map(|code| code.strip_prefix("PowerState/").map(str::to_owned))
}

fn os_disk(d: &Value) -> VmDisk {
    VmDisk {
        name: str_at(d, "/name"),
        managed_disk_id: id_at(d, "/managedDisk/id"),
        vhd_uri: str_at(d, "/vhd/uri"),
        disk_encryption_set_id: id_at(d, "/managedDisk/diskEncryptionSet/id"),
    }
}

pub(crate) fn vm(
    subscription: &str,
    v: &Value,
    source: &str,
    power_state: Option<String>,
) -> Result<pacbot_core::Asset, Error> {
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
        power_state,
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
