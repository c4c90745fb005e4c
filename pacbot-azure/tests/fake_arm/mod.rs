//! An in-process fake of Azure Resource Manager and the Entra ID token
//! endpoint, on 127.0.0.1, serving response shapes from the public Azure REST
//! API reference.
//!
//! Three subscriptions: `A` holds a small estate (with `nextLink` paging, a
//! 429 with `Retry-After: 1` on the first storage listing and one 500 on the
//! SQL database listing), `B` answers 403 to everything, and `C` (found by
//! listing tenant two's subscriptions) answers 500 to every NSG listing and
//! to the VMs' `statusOnly=true` listing, and 403 to its storage account's
//! blob service properties and its SQL server's auditing setting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const TENANT_1: &str = "11111111-1111-1111-1111-111111111111";
pub const TENANT_2: &str = "22222222-2222-2222-2222-222222222222";
pub const SUB_A: &str = "aaaaaaaa-0000-0000-0000-00000000000a";
pub const SUB_B: &str = "bbbbbbbb-0000-0000-0000-00000000000b";
pub const SUB_C: &str = "cccccccc-0000-0000-0000-00000000000c";
pub const SECRET: &str = "s3cret";
pub const STATIC_TOKEN: &str = "static-token-t2";
const TOKEN_1: &str = "token-from-entra-t1";

/// What the server saw.
#[derive(Default)]
pub struct Log {
    /// Requests per lowercase path (with `$skiptoken` when paged).
    pub hits: BTreeMap<String, u32>,
    /// Token requests per tenant.
    pub tokens: BTreeMap<String, u32>,
    /// Paths nothing answers (404).
    pub unknown: Vec<String>,
    /// Requests with a bad or missing bearer token.
    pub unauthorized: u32,
}

pub struct Fake {
    pub base: String,
    pub log: Mutex<Log>,
}

/// Starts the server; it runs until the test's runtime ends.
pub async fn start() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(Fake { base, log: Mutex::default() });
    let app = Router::new().fallback(handle).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

fn arm_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

async fn handle(State(fake): State<Arc<Fake>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_lowercase();
    let query = uri.query().unwrap_or_default().to_owned();
    let skip = query.split('&').find_map(|kv| kv.strip_prefix("$skiptoken=")).map(str::to_owned);
    let status_only = query.split('&').any(|kv| kv == "statusOnly=true");
    if method == Method::POST && path.ends_with("/oauth2/v2.0/token") {
        return token(&fake, &path, &body);
    }
    let key = match (&skip, status_only) {
        (Some(s), _) => format!("{path}?$skiptoken={s}"),
        (None, true) => format!("{path}?statusonly=true"),
        (None, false) => path.clone(),
    };
    let hit = {
        let mut log = fake.log.lock().unwrap();
        let n = log.hits.entry(key).or_default();
        *n += 1;
        *n
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let tenant_two = auth == format!("Bearer {STATIC_TOKEN}");
    if auth != format!("Bearer {TOKEN_1}") && !tenant_two {
        fake.log.lock().unwrap().unauthorized += 1;
        return arm_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "The access token is invalid.");
    }
    if !query.contains("api-version=") {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    if path.starts_with(&format!("/subscriptions/{SUB_B}")) {
        return arm_error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            &format!(
                "The client 'c1' with object id 'c1' does not have authorization to perform action 'read' over scope '/subscriptions/{SUB_B}' or the scope is invalid."
            ),
        );
    }
    match reply(&fake.base, &path, skip.as_deref(), hit, tenant_two, status_only) {
        Some(r) => r,
        None => {
            fake.log.lock().unwrap().unknown.push(format!("{path}?{query}"));
            arm_error(StatusCode::NOT_FOUND, "ResourceNotFound", &format!("The resource '{path}' was not found."))
        }
    }
}

fn token(fake: &Fake, path: &str, body: &[u8]) -> Response {
    let tenant = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned();
    *fake.log.lock().unwrap().tokens.entry(tenant.clone()).or_default() += 1;
    let form: BTreeMap<String, String> = url_pairs(body);
    let scope_ok = form.get("scope").is_some_and(|s| *s == format!("{}/.default", fake.base));
    if tenant != TENANT_1
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_secret").map(String::as_str) != Some(SECRET)
        || !scope_ok
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})),
        )
            .into_response();
    }
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": TOKEN_1}))
        .into_response()
}

fn url_pairs(body: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn list(items: Vec<Value>) -> Response {
    axum::Json(json!({"value": items})).into_response()
}

fn page(items: Vec<Value>, next: String) -> Response {
    axum::Json(json!({"value": items, "nextLink": next})).into_response()
}

fn rg(sub: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{name}")
}

fn tags() -> Value {
    json!({"Owner": "web-team", "Environment": "prod"})
}

/// The answer to a GET, or `None` for an unknown path.
fn reply(
    base: &str,
    path: &str,
    skip: Option<&str>,
    hit: u32,
    tenant_two: bool,
    status_only: bool,
) -> Option<Response> {
    let a = format!("/subscriptions/{SUB_A}");
    let c = format!("/subscriptions/{SUB_C}");
    if path == "/subscriptions" {
        return Some(if tenant_two {
            list(vec![
                json!({"id": c, "authorizationSource": "RoleBased", "managedByTenants": [], "subscriptionId": SUB_C,
                       "tenantId": TENANT_2, "displayName": "Tenant two production", "state": "Enabled",
                       "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}),
                json!({"id": "/subscriptions/dddddddd-0000-0000-0000-00000000000d", "subscriptionId": "dddddddd-0000-0000-0000-00000000000d",
                       "tenantId": TENANT_2, "displayName": "Cancelled", "state": "Disabled"}),
            ])
        } else {
            list(vec![])
        });
    }
    if let Some(rest) = path.strip_prefix(&c) {
        let denied = |what: &str| {
            arm_error(
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                &format!(
                    "The client 'c2' with object id 'c2' does not have authorization to perform action '{what}' over scope '{path}' or the scope is invalid."
                ),
            )
        };
        return Some(match rest {
            "/locations" => list(vec![location(SUB_C, "westeurope", "West Europe")]),
            "/providers/microsoft.network/networksecuritygroups" => arm_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Encountered internal server error. Diagnostic information: timestamp '20260601T000000Z'.",
            ),
            "/providers/microsoft.compute/virtualmachines" if status_only => arm_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalExecutionError",
                "An internal execution error occurred. Please retry later.",
            ),
            "/providers/microsoft.compute/virtualmachines" => list(vec![vm_in(SUB_C, "rg-c", "c-vm", true)]),
            "/providers/microsoft.storage/storageaccounts" => list(vec![json!({
                "id": format!("{}/providers/Microsoft.Storage/storageAccounts/cstore", rg(SUB_C, "rg-c")),
                "name": "cstore", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
                "kind": "StorageV2", "sku": {"name": "Standard_LRS", "tier": "Standard"},
                "properties": {"provisioningState": "Succeeded", "supportsHttpsTrafficOnly": true,
                               "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false}})]),
            p if p.ends_with("/storageaccounts/cstore/blobservices/default/containers") => list(vec![]),
            p if p.ends_with("/storageaccounts/cstore/blobservices/default") => {
                denied("Microsoft.Storage/storageAccounts/blobServices/read")
            }
            "/providers/microsoft.sql/servers" => list(vec![json!({
                "id": format!("{}/providers/Microsoft.Sql/servers/c-sql", rg(SUB_C, "rg-c")), "name": "c-sql",
                "type": "Microsoft.Sql/servers", "location": "westeurope", "kind": "v12.0",
                "properties": {"administratorLogin": "sqladmin", "version": "12.0", "state": "Ready",
                               "fullyQualifiedDomainName": "c-sql.database.windows.net"}})]),
            p if p.ends_with("/servers/c-sql/auditingsettings/default") => {
                denied("Microsoft.Sql/servers/auditingSettings/read")
            }
            p if p.ends_with("/servers/c-sql/firewallrules") || p.ends_with("/servers/c-sql/databases") => list(vec![]),
            "/resourcegroups" | "/providers/microsoft.compute/disks" | "/providers/microsoft.keyvault/vaults" => {
                list(vec![])
            }
            _ => return None,
        });
    }
    let rest = path.strip_prefix(&a)?;
    let next = |p: &str, api: &str, token: &str| {
        format!("{base}/subscriptions/{SUB_A}{p}?api-version={api}&$skiptoken={token}")
    };
    let sa = "/providers/microsoft.storage/storageaccounts";
    Some(match (rest, skip) {
        ("/locations", None) => page(
            vec![location(SUB_A, "westeurope", "West Europe"), location(SUB_A, "northeurope", "North Europe")],
            next("/locations", "2022-12-01", "2"),
        ),
        ("/locations", Some("2")) => list(vec![location(SUB_A, "eastus", "East US")]),
        ("/resourcegroups", None) => list(vec![
            json!({"id": rg(SUB_A, "rg-web"), "name": "rg-web", "type": "Microsoft.Resources/resourceGroups",
                   "location": "westeurope", "tags": tags(), "properties": {"provisioningState": "Succeeded"}}),
            json!({"id": rg(SUB_A, "rg-data"), "name": "rg-data", "type": "Microsoft.Resources/resourceGroups",
                   "location": "northeurope", "properties": {"provisioningState": "Succeeded"}}),
        ]),
        (p, None) if p == sa && hit == 1 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "1")],
            axum::Json(json!({"error": {"code": "TooManyRequests", "message": "The request is being throttled."}})),
        )
            .into_response(),
        (p, None) if p == sa => page(vec![storage_account("webassets", true)], next(sa, "2023-05-01", "p2")),
        (p, Some("p2")) if p == sa => list(vec![storage_account("legacydata", false)]),
        (p, None) if p.ends_with("/blobservices/default/containers") => {
            if p.contains("/storageaccounts/webassets/") {
                list(vec![container("webassets", "images", "None")])
            } else {
                list(vec![
                    container("legacydata", "public-site", "Container"),
                    container("legacydata", "private", "None"),
                ])
            }
        }
        ("/providers/microsoft.compute/virtualmachines", None) if status_only => {
            list(vec![vm_status("web-1", "running"), vm_status("legacy-vm", "stopped")])
        }
        ("/providers/microsoft.compute/virtualmachines", None) => list(vec![vm("web-1", true), vm("legacy-vm", false)]),
        (p, None) if p.ends_with("/blobservices/default") => {
            let good = p.contains("/storageaccounts/webassets/");
            blob_service(p, good)
        }
        (p, None) if p.ends_with("/servers/orders-sql/auditingsettings/default") => axum::Json(json!({
            "id": p, "name": "Default", "type": "Microsoft.Sql/servers/auditingSettings",
            "properties": {"retentionDays": 0, "auditActionsAndGroups": [], "isStorageSecondaryKeyInUse": false,
                           "isAzureMonitorTargetEnabled": false, "isManagedIdentityInUse": false,
                           "state": "Disabled", "storageAccountSubscriptionId": "00000000-0000-0000-0000-000000000000"}}))
        .into_response(),
        ("/providers/microsoft.compute/disks", None) => {
            list(vec![disk("web-1-os", Some("web-1"), 30), disk("spare", None, 512)])
        }
        ("/providers/microsoft.network/networksecuritygroups", None) => list(vec![nsg_web(), nsg_app()]),
        ("/providers/microsoft.sql/servers", None) => list(vec![sql_server()]),
        (p, None) if p.ends_with("/servers/orders-sql/firewallrules") => list(vec![
            firewall("AllowAllWindowsAzureIps", "0.0.0.0", "0.0.0.0"),
            firewall("open-all", "0.0.0.0", "255.255.255.255"),
            firewall("office", "203.0.113.10", "203.0.113.20"),
        ]),
        (p, None) if p.ends_with("/servers/orders-sql/databases") && hit == 1 => arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An unexpected error occured while processing the request.",
        ),
        (p, None) if p.ends_with("/servers/orders-sql/databases") => {
            list(vec![database("master", true), database("orders", false)])
        }
        (p, None) if p.ends_with("/transparentdataencryption/current") => {
            let db = p.split('/').rev().nth(2).unwrap_or_default().to_owned();
            axum::Json(json!({"id": format!("{p}"), "name": "Current",
                "type": "Microsoft.Sql/servers/databases/transparentDataEncryption",
                "properties": {"state": if db == "master" { "Enabled" } else { "Disabled" }}}))
            .into_response()
        }
        ("/providers/microsoft.keyvault/vaults", None) => list(vec![vault()]),
        _ => return None,
    })
}

/// `blobServices/default` (2023-05-01): soft delete on for blobs and
/// containers with versioning, or blob soft delete off and no container
/// policy at all.
fn blob_service(id: &str, good: bool) -> Response {
    let props = if good {
        json!({"cors": {"corsRules": []}, "isVersioningEnabled": true,
               "deleteRetentionPolicy": {"allowPermanentDelete": false, "enabled": true, "days": 7},
               "containerDeleteRetentionPolicy": {"enabled": true, "days": 7}})
    } else {
        json!({"cors": {"corsRules": []}, "deleteRetentionPolicy": {"allowPermanentDelete": false, "enabled": false}})
    };
    axum::Json(json!({"id": id, "name": "default", "type": "Microsoft.Storage/storageAccounts/blobServices",
                      "sku": {"name": "Standard_GRS", "tier": "Standard"}, "properties": props}))
    .into_response()
}

/// A VM of the `statusOnly=true` listing: its instance view statuses only.
fn vm_status(name: &str, power: &str) -> Value {
    json!({"name": name, "id": format!("{}/providers/Microsoft.Compute/virtualMachines/{name}", rg(SUB_A, "rg-web")),
           "type": "Microsoft.Compute/virtualMachines", "location": "westeurope",
           "properties": {"instanceView": {"statuses": [
               {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
                "time": "2026-01-10T09:10:00.1234567+00:00"},
               {"code": format!("PowerState/{power}"), "level": "Info", "displayStatus": format!("VM {power}")}]}}})
}

fn location(sub: &str, name: &str, display: &str) -> Value {
    json!({"id": format!("/subscriptions/{sub}/locations/{name}"), "name": name, "type": "Region",
           "displayName": display, "regionalDisplayName": format!("(Europe) {display}"),
           "metadata": {"regionType": "Physical", "regionCategory": "Recommended", "geographyGroup": "Europe",
                        "longitude": "4.9", "latitude": "52.3", "physicalLocation": display, "pairedRegion": []}})
}

fn storage_account(name: &str, good: bool) -> Value {
    let mut props = json!({
        "provisioningState": "Succeeded", "creationTime": "2026-01-10T09:00:00.1234567Z",
        "primaryLocation": "westeurope", "statusOfPrimary": "available",
        "primaryEndpoints": {"blob": format!("https://{name}.blob.core.windows.net/"), "dfs": format!("https://{name}.dfs.core.windows.net/")},
        "accessTier": "Hot", "privateEndpointConnections": [],
        "encryption": {"services": {"blob": {"keyType": "Account", "enabled": true, "lastEnabledTime": "2026-01-10T09:00:00.2Z"},
                                    "file": {"keyType": "Account", "enabled": true, "lastEnabledTime": "2026-01-10T09:00:00.2Z"}},
                       "keySource": "Microsoft.Storage"},
    });
    let extra = if good {
        json!({"supportsHttpsTrafficOnly": true, "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false,
               "allowSharedKeyAccess": false, "allowCrossTenantReplication": false, "publicNetworkAccess": "Enabled",
               "isHnsEnabled": false,
               "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [{"value": "203.0.113.0/24", "action": "Allow"}], "defaultAction": "Deny"}})
    } else {
        json!({"supportsHttpsTrafficOnly": false, "minimumTlsVersion": "TLS1_0", "allowBlobPublicAccess": true,
               "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [], "defaultAction": "Allow"}})
    };
    for (k, v) in extra.as_object().unwrap() {
        props[k] = v.clone();
    }
    if good {
        props["encryption"]["requireInfrastructureEncryption"] = json!(true);
    }
    json!({"id": format!("{}/providers/Microsoft.Storage/storageAccounts/{name}", rg(SUB_A, "rg-web")), "name": name,
           "type": "Microsoft.Storage/storageAccounts", "location": "westeurope", "tags": tags(),
           "sku": {"name": "Standard_LRS", "tier": "Standard"}, "kind": "StorageV2", "properties": props})
}

fn container(account: &str, name: &str, access: &str) -> Value {
    json!({"id": format!("{}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{name}", rg(SUB_A, "rg-web")),
           "name": name, "type": "Microsoft.Storage/storageAccounts/blobServices/containers", "etag": "\"0x8DC1F2A3B4C5D6E\"",
           "properties": {"deleted": false, "remainingRetentionDays": 0, "defaultEncryptionScope": "$account-encryption-key",
                          "denyEncryptionScopeOverride": false, "publicAccess": access, "leaseStatus": "Unlocked",
                          "leaseState": "Available", "lastModifiedTime": "2026-02-01T08:30:00Z",
                          "hasImmutabilityPolicy": false, "hasLegalHold": false}})
}

fn vm(name: &str, modern: bool) -> Value {
    vm_in(SUB_A, "rg-web", name, modern)
}

fn vm_in(sub: &str, group: &str, name: &str, modern: bool) -> Value {
    let os_disk = if modern {
        json!({"osType": "Linux", "name": format!("{name}-os"), "createOption": "FromImage", "caching": "ReadWrite",
               "managedDisk": {"storageAccountType": "Premium_LRS",
                               "id": format!("{}/providers/Microsoft.Compute/disks/{name}-os", rg(sub, &group.to_uppercase()))},
               "deleteOption": "Delete", "diskSizeGB": 30})
    } else {
        json!({"osType": "Linux", "name": format!("{name}-os"), "createOption": "FromImage", "caching": "ReadWrite",
               "vhd": {"uri": format!("https://legacyvhds.blob.core.windows.net/vhds/{name}-os.vhd")}, "diskSizeGB": 30})
    };
    json!({"id": format!("{}/providers/Microsoft.Compute/virtualMachines/{name}", rg(sub, group)), "name": name,
           "type": "Microsoft.Compute/virtualMachines", "location": "westeurope", "tags": tags(),
           "identity": if modern { json!({"type": "SystemAssigned", "principalId": "p", "tenantId": TENANT_1}) } else { Value::Null },
           "zones": if modern { json!(["1"]) } else { json!([]) },
           "properties": {
               "vmId": format!("0000-{name}"), "hardwareProfile": {"vmSize": "Standard_B2s"},
               "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                                  "osDisk": os_disk, "dataDisks": []},
               "osProfile": {"computerName": name, "adminUsername": "azureuser",
                             "linuxConfiguration": {"disablePasswordAuthentication": modern, "provisionVMAgent": true},
                             "secrets": [], "allowExtensionOperations": true},
               "networkProfile": {"networkInterfaces": [{"id": format!("{}/providers/Microsoft.Network/networkInterfaces/{name}-nic", rg(sub, group))}]},
               "provisioningState": "Succeeded"}})
}

fn disk(name: &str, vm: Option<&str>, size: u32) -> Value {
    let mut d = json!({"id": format!("{}/providers/Microsoft.Compute/disks/{name}", rg(SUB_A, "rg-web")), "name": name,
           "type": "Microsoft.Compute/disks", "location": "westeurope",
           "sku": {"name": "Premium_LRS", "tier": "Premium"},
           "properties": {"osType": "Linux", "hyperVGeneration": "V2", "creationData": {"createOption": "Empty"},
                          "diskSizeGB": size, "diskIOPSReadWrite": 120, "diskMBpsReadWrite": 25,
                          "encryption": {"type": "EncryptionAtRestWithPlatformKey"}, "networkAccessPolicy": "AllowAll",
                          "publicNetworkAccess": "Enabled", "timeCreated": "2026-01-10T09:05:00.5+00:00",
                          "provisioningState": "Succeeded", "diskState": if vm.is_some() { "Attached" } else { "Unattached" },
                          "diskSizeBytes": u64::from(size) << 30, "uniqueId": "d1"}});
    if let Some(vm) = vm {
        d["managedBy"] = json!(format!("{}/providers/Microsoft.Compute/virtualMachines/{vm}", rg(SUB_A, "rg-web")));
        d["tags"] = tags();
    }
    d
}

fn security_rule(nsg: &str, name: &str, p: Value) -> Value {
    let mut props = json!({"provisioningState": "Succeeded", "sourcePortRange": "*", "sourcePortRanges": [],
                           "destinationPortRanges": [], "sourceAddressPrefixes": [], "destinationAddressPrefixes": []});
    for (k, v) in p.as_object().unwrap() {
        props[k] = v.clone();
    }
    json!({"name": name, "id": format!("{}/providers/Microsoft.Network/networkSecurityGroups/{nsg}/securityRules/{name}", rg(SUB_A, "rg-web")),
           "etag": "W/\"00000000-0000-0000-0000-000000000000\"", "type": "Microsoft.Network/networkSecurityGroups/securityRules",
           "properties": props})
}

fn default_rules(nsg: &str) -> Vec<Value> {
    let r = |name: &str, prio: u32, dir: &str, access: &str, src: &str, dst: &str, desc: &str| {
        security_rule(
            nsg,
            name,
            json!({"description": desc, "protocol": "*", "destinationPortRange": "*",
            "sourceAddressPrefix": src, "destinationAddressPrefix": dst, "access": access, "priority": prio, "direction": dir}),
        )
    };
    vec![
        r(
            "AllowVnetInBound",
            65000,
            "Inbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow inbound traffic from all VMs in VNET",
        ),
        r(
            "AllowAzureLoadBalancerInBound",
            65001,
            "Inbound",
            "Allow",
            "AzureLoadBalancer",
            "*",
            "Allow inbound traffic from azure load balancer",
        ),
        r("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic"),
        r(
            "AllowVnetOutBound",
            65000,
            "Outbound",
            "Allow",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow outbound traffic from all VMs to all VMs in VNET",
        ),
        r(
            "AllowInternetOutBound",
            65001,
            "Outbound",
            "Allow",
            "*",
            "Internet",
            "Allow outbound traffic from all VMs to Internet",
        ),
        r("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic"),
    ]
}

fn nsg(name: &str, rules: Vec<Value>) -> Value {
    json!({"id": format!("{}/providers/Microsoft.Network/networkSecurityGroups/{name}", rg(SUB_A, "rg-web")), "name": name,
           "type": "Microsoft.Network/networkSecurityGroups", "location": "westeurope", "tags": tags(),
           "etag": "W/\"00000000-0000-0000-0000-000000000000\"",
           "properties": {"provisioningState": "Succeeded", "resourceGuid": "r1", "securityRules": rules,
                          "defaultSecurityRules": default_rules(name),
                          "subnets": [{"id": format!("{}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{name}", rg(SUB_A, "rg-web"))}]}})
}

fn nsg_web() -> Value {
    nsg(
        "web-nsg",
        vec![security_rule(
            "web-nsg",
            "ssh",
            json!({"protocol": "Tcp", "destinationPortRange": "22",
        "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "access": "Allow", "priority": 100, "direction": "Inbound"}),
        )],
    )
}

fn nsg_app() -> Value {
    nsg(
        "app-nsg",
        vec![
            security_rule(
                "app-nsg",
                "https",
                json!({"protocol": "Tcp", "destinationPortRange": "443",
            "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": "Allow", "priority": 100, "direction": "Inbound"}),
            ),
            security_rule(
                "app-nsg",
                "admin",
                json!({"protocol": "Tcp", "destinationPortRange": "",
            "destinationPortRanges": ["22", "3380-3390"], "sourceAddressPrefix": "",
            "sourceAddressPrefixes": ["10.0.0.0/8", "192.168.0.0/16"], "destinationAddressPrefix": "*",
            "access": "Allow", "priority": 110, "direction": "Inbound"}),
            ),
        ],
    )
}

fn sql_server() -> Value {
    json!({"id": format!("{}/providers/Microsoft.Sql/servers/orders-sql", rg(SUB_A, "rg-data")), "name": "orders-sql",
           "type": "Microsoft.Sql/servers", "location": "northeurope", "kind": "v12.0", "tags": tags(),
           "properties": {"administratorLogin": "sqladmin", "version": "12.0", "state": "Ready",
                          "fullyQualifiedDomainName": "orders-sql.database.windows.net", "privateEndpointConnections": [],
                          "minimalTlsVersion": "1.2", "publicNetworkAccess": "Enabled", "restrictOutboundNetworkAccess": "Disabled"}})
}

fn firewall(name: &str, start: &str, end: &str) -> Value {
    json!({"id": format!("{}/providers/Microsoft.Sql/servers/orders-sql/firewallRules/{name}", rg(SUB_A, "rg-data")), "name": name,
           "type": "Microsoft.Sql/servers/firewallRules", "properties": {"startIpAddress": start, "endIpAddress": end}})
}

fn database(name: &str, system: bool) -> Value {
    let mut d = json!({"id": format!("{}/providers/Microsoft.Sql/servers/orders-sql/databases/{name}", rg(SUB_A, "rg-data")),
           "name": name, "type": "Microsoft.Sql/servers/databases", "location": "northeurope",
           "kind": if system { "v12.0,system" } else { "v12.0,user,vcore" },
           "sku": if system { json!({"name": "System", "tier": "System", "capacity": 0}) } else { json!({"name": "S0", "tier": "Standard", "capacity": 10}) },
           "properties": {"collation": "SQL_Latin1_General_CP1_CI_AS", "maxSizeBytes": 268435456000u64, "status": "Online",
                          "databaseId": "6c764297-577b-470f-9af4-96d3d41e2ba3", "creationDate": "2026-01-12T10:00:00Z",
                          "currentServiceObjectiveName": if system { "System0" } else { "S0" }, "zoneRedundant": false,
                          "readScale": "Disabled", "requestedBackupStorageRedundancy": "Geo", "isLedgerOn": false}});
    if !system {
        d["tags"] = tags();
    }
    d
}

fn vault() -> Value {
    json!({"id": format!("{}/providers/Microsoft.KeyVault/vaults/orders-kv", rg(SUB_A, "rg-data")), "name": "orders-kv",
           "type": "Microsoft.KeyVault/vaults", "location": "northeurope", "tags": tags(),
           "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": TENANT_1, "accessPolicies": [],
                          "enabledForDeployment": false, "enabledForDiskEncryption": false, "enabledForTemplateDeployment": false,
                          "enableSoftDelete": true, "softDeleteRetentionInDays": 90, "enableRbacAuthorization": true,
                          "vaultUri": "https://orders-kv.vault.azure.net/", "provisioningState": "Succeeded",
                          "publicNetworkAccess": "Enabled"}})
}
