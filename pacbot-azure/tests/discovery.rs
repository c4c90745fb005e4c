//! Discovery against an in-process fake of Azure Resource Manager on
//! 127.0.0.1 (see `fake_arm`): exact assets, the exact violations of the
//! pack, retries, coverage failures, and reconciliation that closes nothing
//! in failed scopes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod fake_arm;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_arm::{SECRET, STATIC_TOKEN, SUB_A, SUB_B, SUB_C, TENANT_1, TENANT_2};
use pacbot_azure::pack::{PackConfig, policies};
use pacbot_azure::shapes::{self, kind};
use pacbot_azure::{
    AzureConfig, AzureConnector, ClientSecretCredential, EVERY_LOCATION, RetryConfig, StaticTokenCredential, Tenant,
};
use pacbot_core::chrono::{DateTime, Utc};
use pacbot_core::{
    Asset, AssetId, CloseReason, Connector, CoverageScope, Discovered, Engine, ExceptionSet, Inventory, ReconcileInput,
    ViolationStatus, discover_all, reconcile,
};
use serde_json::json;

fn connector(base: &str) -> AzureConnector {
    let t1 =
        Tenant::new(TENANT_1, Arc::new(ClientSecretCredential::new(TENANT_1, "client-1", SECRET).with_authority(base)))
            .with_subscriptions([SUB_A, SUB_B]);
    let t2 = Tenant::new(TENANT_2, Arc::new(StaticTokenCredential::new(STATIC_TOKEN)));
    let retry =
        RetryConfig::default().with_max_retries(2).with_delays(Duration::from_millis(10), Duration::from_millis(40));
    AzureConnector::new(AzureConfig::new(vec![t1, t2]).with_arm_endpoint(base).with_retry(retry)).unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

fn by_name(found: &Discovered, k: &str, name: &str) -> Asset {
    found
        .inventory
        .assets()
        .iter()
        .find(|a| a.id.kind.as_str() == k && a.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no {k} {name}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_the_fake_estate_with_retries_and_partial_coverage() {
    let fake = fake_arm::start().await;
    let c = connector(&fake.base);
    let started = Instant::now();
    let found = discover_all(&[&c as &dyn Connector]).await;
    let elapsed = started.elapsed();

    // Exact assets: (subscription, location, kind, name).
    let got: BTreeSet<(String, String, String, String)> = found
        .inventory
        .assets()
        .iter()
        .map(|a| (a.id.account.clone(), a.id.region.clone(), a.id.kind.to_string(), a.name.clone().unwrap_or_default()))
        .collect();
    let a = |loc: &str, k: &str, n: &str| (SUB_A.to_owned(), loc.to_owned(), k.to_owned(), n.to_owned());
    let want: BTreeSet<_> = [
        a("westeurope", kind::RESOURCE_GROUP, "rg-web"),
        a("northeurope", kind::RESOURCE_GROUP, "rg-data"),
        a("westeurope", kind::STORAGE_ACCOUNT, "webassets"),
        a("westeurope", kind::STORAGE_ACCOUNT, "legacydata"),
        a("westeurope", kind::STORAGE_CONTAINER, "images"),
        a("westeurope", kind::STORAGE_CONTAINER, "public-site"),
        a("westeurope", kind::STORAGE_CONTAINER, "private"),
        a("westeurope", kind::VM, "web-1"),
        a("westeurope", kind::VM, "legacy-vm"),
        a("westeurope", kind::DISK, "web-1-os"),
        a("westeurope", kind::DISK, "spare"),
        a("westeurope", kind::NSG, "web-nsg"),
        a("westeurope", kind::NSG, "app-nsg"),
        a("northeurope", kind::SQL_SERVER, "orders-sql"),
        a("northeurope", kind::SQL_DATABASE, "master"),
        a("northeurope", kind::SQL_DATABASE, "orders"),
        a("northeurope", kind::KEY_VAULT, "orders-kv"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);

    // Every document has its kind's documented shape (the types deny unknown fields).
    for asset in found.inventory.assets() {
        let v = asset.attributes.to_value();
        let ok = match asset.id.kind.as_str() {
            kind::RESOURCE_GROUP => serde_json::from_value::<shapes::ResourceGroup>(v.clone()).map(|_| ()),
            kind::STORAGE_ACCOUNT => serde_json::from_value::<shapes::StorageAccount>(v.clone()).map(|_| ()),
            kind::STORAGE_CONTAINER => serde_json::from_value::<shapes::StorageContainer>(v.clone()).map(|_| ()),
            kind::VM => serde_json::from_value::<shapes::VirtualMachine>(v.clone()).map(|_| ()),
            kind::DISK => serde_json::from_value::<shapes::Disk>(v.clone()).map(|_| ()),
            kind::NSG => serde_json::from_value::<shapes::NetworkSecurityGroup>(v.clone()).map(|_| ()),
            kind::SQL_SERVER => serde_json::from_value::<shapes::SqlServer>(v.clone()).map(|_| ()),
            kind::SQL_DATABASE => serde_json::from_value::<shapes::SqlDatabase>(v.clone()).map(|_| ()),
            kind::KEY_VAULT => serde_json::from_value::<shapes::KeyVault>(v.clone()).map(|_| ()),
            other => panic!("unexpected kind {other}"),
        };
        ok.unwrap_or_else(|e| panic!("{}: {e}\n{v:#}", asset.id));
        assert_eq!(asset.attributes.field("id").as_str(), Some(asset.id.resource_id.as_str()));
        assert_eq!(asset.id.resource_id, asset.id.resource_id.to_lowercase());
    }

    // Some documents in full.
    let web1 = by_name(&found, kind::VM, "web-1");
    assert_eq!(
        web1.attributes.field("os_disk").field("managed_disk_id").as_str(),
        Some(by_name(&found, kind::DISK, "web-1-os").id.resource_id.as_str()),
        "ids are lowercase everywhere, so relations are exact"
    );
    assert_eq!(web1.tag("Owner"), Some("web-team"));
    let app = by_name(&found, kind::NSG, "app-nsg").attributes.to_value();
    let admin: Vec<_> = app["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "admin")
        .map(|r| {
            (
                r["port_range"].as_str().unwrap(),
                r["source"].as_str().unwrap(),
                r["from_port"].as_u64(),
                r["to_port"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        admin,
        [
            ("22", "10.0.0.0/8", Some(22), Some(22)),
            ("22", "192.168.0.0/16", Some(22), Some(22)),
            ("3380-3390", "10.0.0.0/8", Some(3380), Some(3390)),
            ("3380-3390", "192.168.0.0/16", Some(3380), Some(3390)),
        ]
    );
    assert_eq!(app["rules"].as_array().unwrap().iter().filter(|r| r["default"] == true).count(), 6);
    let legacy = by_name(&found, kind::STORAGE_ACCOUNT, "legacydata").attributes.to_value();
    assert_eq!(legacy["creation_time"], "2026-01-10T09:00:00.123456700Z");
    assert_eq!(legacy["minimum_tls_version"], "TLS1_0");
    assert_eq!(legacy["allow_shared_key_access"], json!(null));
    let sql = by_name(&found, kind::SQL_SERVER, "orders-sql").attributes.to_value();
    assert_eq!(
        sql["firewall_rules"][1],
        json!({"name": "open-all", "start_ip": "0.0.0.0", "end_ip": "255.255.255.255"})
    );
    assert_eq!((sql["auditing_state"].as_str(), sql["auditing_retention_days"].as_i64()), (Some("Disabled"), Some(0)));
    assert_eq!(
        legacy["blob_service"],
        json!({"delete_retention_enabled": false, "delete_retention_days": null,
               "container_delete_retention_enabled": null, "container_delete_retention_days": null,
               "versioning_enabled": null})
    );
    let webassets = by_name(&found, kind::STORAGE_ACCOUNT, "webassets").attributes.to_value();
    assert_eq!(
        webassets["blob_service"],
        json!({"delete_retention_enabled": true, "delete_retention_days": 7,
               "container_delete_retention_enabled": true, "container_delete_retention_days": 7,
               "versioning_enabled": true})
    );
    // Power states come from the one `statusOnly=true` listing, matched by id.
    assert_eq!(web1.attributes.field("power_state").as_str(), Some("running"));
    assert_eq!(by_name(&found, kind::VM, "legacy-vm").attributes.field("power_state").as_str(), Some("stopped"));
    let orders = by_name(&found, kind::SQL_DATABASE, "orders").attributes.to_value();
    assert_eq!(
        (orders["transparent_data_encryption"].as_str(), orders["is_system"].as_bool()),
        (Some("Disabled"), Some(false))
    );

    // Retries: the 429 (Retry-After: 1) and the 500 of subscription A were
    // retried and succeeded; subscription C's NSG listing and its VMs'
    // `statusOnly` listing were tried 1 + 2 times each; the 403s of C's blob
    // service and auditing setting were not retried. The status listing is one
    // request per subscription, not one per VM.
    let log = fake.log.lock().unwrap();
    let hits = |p: &str| log.hits.get(&p.to_lowercase()).copied().unwrap_or(0);
    assert_eq!(hits(&format!("/subscriptions/{SUB_A}/providers/Microsoft.Storage/storageAccounts")), 2);
    assert_eq!(hits(&format!("/subscriptions/{SUB_A}/providers/Microsoft.Storage/storageAccounts?$skiptoken=p2")), 1);
    assert_eq!(hits(&format!("/subscriptions/{SUB_A}/locations?$skiptoken=2")), 1);
    assert_eq!(
        hits(&format!(
            "/subscriptions/{SUB_A}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/orders-sql/databases"
        )),
        2
    );
    assert_eq!(hits(&format!("/subscriptions/{SUB_C}/providers/Microsoft.Network/networkSecurityGroups")), 3);
    assert_eq!(hits(&format!("/subscriptions/{SUB_C}/providers/Microsoft.Compute/virtualMachines?statusOnly=true")), 3);
    assert_eq!(hits(&format!("/subscriptions/{SUB_A}/providers/Microsoft.Compute/virtualMachines?statusOnly=true")), 1);
    let c_blob = "/resourceGroups/rg-c/providers/Microsoft.Storage/storageAccounts/cstore/blobServices/default";
    assert_eq!(hits(&format!("/subscriptions/{SUB_C}{c_blob}")), 1);
    let c_audit = "/resourceGroups/rg-c/providers/Microsoft.Sql/servers/c-sql/auditingSettings/default";
    assert_eq!(hits(&format!("/subscriptions/{SUB_C}{c_audit}")), 1);
    assert_eq!(hits(&format!("/subscriptions/{SUB_B}/resourcegroups")), 1, "403 is not retried");
    assert!(elapsed >= Duration::from_secs(1), "Retry-After was honoured ({elapsed:?})");
    let stats = c.stats();
    assert_eq!(stats.retries, 6, "{stats:?}");
    assert_eq!(stats.requests, log.hits.values().map(|n| u64::from(*n)).sum::<u64>());
    assert_eq!(log.tokens.get(TENANT_1), Some(&1), "the token is cached");
    assert!(log.unknown.is_empty(), "unanswered requests: {:?}", log.unknown);
    assert_eq!(log.unauthorized, 0);
    drop(log);

    // Coverage: subscription B failed everywhere (its locations unknown),
    // C's NSGs and VMs failed in its locations (no VM is yielded without its
    // power state), C's storage account and SQL server failed in their
    // location (neither yielded half-read); everything else complete. The
    // scan itself goes on.
    let failed: BTreeSet<(String, String, String)> =
        found.coverage.failures().map(|(s, _)| (s.account.clone(), s.region.clone(), s.kind.to_string())).collect();
    let mut want_failed = BTreeSet::new();
    for k in kind::ALL {
        for loc in ["global", EVERY_LOCATION] {
            want_failed.insert((SUB_B.to_owned(), loc.to_owned(), k.to_owned()));
        }
    }
    for loc in ["global", "westeurope"] {
        want_failed.insert((SUB_C.to_owned(), loc.to_owned(), kind::NSG.to_owned()));
        want_failed.insert((SUB_C.to_owned(), loc.to_owned(), kind::VM.to_owned()));
    }
    want_failed.insert((SUB_C.to_owned(), "westeurope".to_owned(), kind::STORAGE_ACCOUNT.to_owned()));
    want_failed.insert((SUB_C.to_owned(), "westeurope".to_owned(), kind::SQL_SERVER.to_owned()));
    assert_eq!(failed, want_failed);
    let b_error = found
        .coverage
        .failures()
        .find(|(s, _)| s.account == SUB_B && s.kind.as_str() == kind::VM)
        .map(|(_, e)| e.to_owned())
        .unwrap();
    assert!(
        b_error.contains("permission denied") && b_error.contains("AuthorizationFailed") && b_error.contains(SUB_B),
        "{b_error}"
    );
    let c_error = |k: &str| {
        found
            .coverage
            .failures()
            .find(|(s, _)| s.account == SUB_C && s.kind.as_str() == k)
            .map(|(_, e)| e.to_owned())
            .unwrap()
    };
    let e = c_error(kind::NSG);
    assert!(e.contains("HTTP 500") && e.contains("InternalServerError"), "{e}");
    let e = c_error(kind::VM);
    assert!(e.contains("HTTP 500") && e.contains("statusOnly=true"), "{e}");
    let e = c_error(kind::STORAGE_ACCOUNT);
    assert!(e.contains("permission denied") && e.contains("cstore/blobservices/default"), "{e}");
    let e = c_error(kind::SQL_SERVER);
    assert!(e.contains("permission denied") && e.contains("c-sql/auditingsettings/default"), "{e}");
    for loc in ["westeurope", "northeurope", "eastus", "global"] {
        for k in kind::ALL {
            assert!(found.coverage.is_complete(&CoverageScope::new("azure", SUB_A, loc, k)), "{loc} {k}");
        }
    }
    assert!(found.coverage.is_complete(&CoverageScope::new("azure", SUB_C, "westeurope", kind::DISK)));
    assert!(found.coverage.is_complete(&CoverageScope::new("azure", SUB_C, "westeurope", kind::STORAGE_CONTAINER)));

    // The exact violations of the pack.
    let engine = Engine::new(policies(&PackConfig::default()).unwrap(), vec![]).unwrap();
    let evaluation = engine.evaluate(&found.inventory, now());
    let violations: BTreeSet<(String, String)> = evaluation
        .findings()
        .map(|(meta, _rule, pos, _)| (meta.id.clone(), found.inventory.at(pos).unwrap().name.clone().unwrap()))
        .collect();
    let v = |p: &str, n: &str| (p.to_owned(), n.to_owned());
    let want_violations: BTreeSet<_> = [
        v("azure-storage-secure-transfer-off", "legacydata"),
        v("azure-storage-tls-below-1-2", "legacydata"),
        v("azure-storage-blob-public-access", "legacydata"),
        v("azure-storage-network-default-allow", "legacydata"),
        v("azure-storage-infrastructure-encryption-off", "legacydata"),
        v("azure-storage-shared-key-access", "legacydata"),
        v("azure-storage-blob-soft-delete-off", "legacydata"),
        v("azure-sql-auditing-off", "orders-sql"),
        v("azure-vm-stopped-not-deallocated", "legacy-vm"),
        v("azure-storage-container-public", "public-site"),
        v("azure-vm-unmanaged-disks", "legacy-vm"),
        v("azure-vm-password-login", "legacy-vm"),
        v("azure-disk-no-customer-managed-key", "web-1-os"),
        v("azure-disk-no-customer-managed-key", "spare"),
        v("azure-disk-unattached", "spare"),
        v("azure-nsg-ssh-open", "web-nsg"),
        v("azure-sql-firewall-open-to-all", "orders-sql"),
        v("azure-sql-allow-azure-services", "orders-sql"),
        v("azure-sql-entra-admin-missing", "orders-sql"),
        v("azure-sql-tde-off", "orders"),
        v("azure-keyvault-purge-protection-off", "orders-kv"),
        v("azure-mandatory-tags", "rg-data"),
        v("azure-mandatory-tags", "spare"),
        v("azure-mandatory-tags", "master"),
    ]
    .into_iter()
    .collect();
    assert_eq!(violations, want_violations);
    assert!(evaluation.findings().all(|(_, _, _, o)| matches!(o, pacbot_core::FindingOutcome::Fail { .. })));

    // Reconcile against an earlier scan that saw more: violations in failed
    // scopes (B's VM, C's NSG) stay open; A's vanished disk closes as gone;
    // webassets, fixed since, closes as fixed.
    let nsg = |sub: &str, name: &str, loc: &str| {
        Asset::new(AssetId::new("azure", sub, loc, kind::NSG, format!("/subscriptions/{sub}/nsg/{name}")))
            .with_name(name)
            .with_attributes(by_name(&found, kind::NSG, "web-nsg").attributes.to_value())
    };
    let mut earlier: Vec<Asset> = found.inventory.assets().to_vec();
    earlier.push(nsg(SUB_C, "c-nsg", "westeurope"));
    let vm_b = {
        let mut vm = by_name(&found, kind::VM, "legacy-vm");
        vm.id = AssetId::new("azure", SUB_B, "westeurope", kind::VM, format!("/subscriptions/{SUB_B}/vm/b-vm"));
        vm.name = Some("b-vm".into());
        vm
    };
    earlier.push(vm_b);
    // C's stopped VM, storage account without soft delete and SQL server
    // without auditing, as an earlier scan saw them.
    for (k, from, name, what) in [
        (kind::VM, "legacy-vm", "c-vm", "virtualmachines"),
        (kind::STORAGE_ACCOUNT, "legacydata", "cstore", "storageaccounts"),
        (kind::SQL_SERVER, "orders-sql", "c-sql", "servers"),
    ] {
        let mut a = by_name(&found, k, from);
        a.id = AssetId::new("azure", SUB_C, "westeurope", k, format!("/subscriptions/{SUB_C}/{what}/{name}"));
        a.name = Some(name.into());
        earlier.push(a);
    }
    let mut gone = by_name(&found, kind::DISK, "spare");
    gone.id.resource_id.push_str("-old");
    gone.name = Some("old-disk".into());
    earlier.push(gone);
    let web = earlier.iter_mut().find(|a| a.name.as_deref() == Some("webassets")).unwrap();
    let mut doc = web.attributes.to_value();
    doc["supports_https_traffic_only"] = json!(false);
    web.attributes = doc.into();
    let earlier = Inventory::from_assets(earlier);
    let mut earlier_coverage = pacbot_core::Coverage::new();
    for a in earlier.assets() {
        earlier_coverage.complete(a.id.scope());
    }
    let before = now() - pacbot_core::chrono::Duration::days(1);
    let first = reconcile(&ReconcileInput {
        previous: &[],
        inventory: &earlier,
        evaluation: &engine.evaluate(&earlier, before),
        coverage: &earlier_coverage,
        exceptions: &ExceptionSet::default(),
        now: before,
    });
    let second = reconcile(&ReconcileInput {
        previous: &first.violations,
        inventory: &found.inventory,
        evaluation: &evaluation,
        coverage: &found.coverage,
        exceptions: &ExceptionSet::default(),
        now: now(),
    });
    let status = |sub: &str, policy: &str, name_part: &str| {
        second
            .violations
            .iter()
            .find(|v| {
                v.key.policy_id == policy && v.key.asset.account == sub && v.key.asset.resource_id.contains(name_part)
            })
            .map(|v| (v.status, v.close_reason))
            .unwrap_or_else(|| panic!("no {policy} violation on {name_part}"))
    };
    assert_eq!(status(SUB_C, "azure-nsg-ssh-open", "c-nsg"), (ViolationStatus::Open, None), "C's NSG scope failed");
    assert_eq!(status(SUB_B, "azure-vm-unmanaged-disks", "b-vm"), (ViolationStatus::Open, None), "B failed");
    for (policy, name) in [
        ("azure-vm-stopped-not-deallocated", "c-vm"),
        ("azure-storage-blob-soft-delete-off", "cstore"),
        ("azure-sql-auditing-off", "c-sql"),
    ] {
        assert_eq!(status(SUB_C, policy, name), (ViolationStatus::Open, None), "{name}: C's scope failed");
    }
    assert_eq!(
        status(SUB_A, "azure-disk-unattached", "spare-old"),
        (ViolationStatus::Closed, Some(CloseReason::ResourceGone))
    );
    assert_eq!(
        status(SUB_A, "azure-storage-secure-transfer-off", "webassets"),
        (ViolationStatus::Closed, Some(CloseReason::Fixed))
    );
    let closed_in_failed =
        second.violations.iter().filter(|v| v.status == ViolationStatus::Closed).filter(|v| {
            !found.coverage.is_complete(&v.key.asset.scope()) && found.inventory.get(&v.key.asset).is_none()
        });
    assert_eq!(closed_in_failed.count(), 0, "nothing closes in a failed scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_secret_fails_every_scope_of_its_tenant_and_says_why() {
    let fake = fake_arm::start().await;
    let t1 = Tenant::new(
        TENANT_1,
        Arc::new(ClientSecretCredential::new(TENANT_1, "client-1", "wrong").with_authority(&fake.base)),
    )
    .with_subscriptions([SUB_A]);
    let c = AzureConnector::new(AzureConfig::new(vec![t1]).with_arm_endpoint(&fake.base)).unwrap();
    let found = discover_all(&[&c as &dyn Connector]).await;
    assert!(found.inventory.is_empty());
    let failures: Vec<_> = found.coverage.failures().collect();
    assert!(failures.iter().any(|(s, _)| s.region == EVERY_LOCATION));
    for (s, e) in &failures {
        assert_eq!(s.account, SUB_A);
        assert!(e.contains(TENANT_1) && e.contains("invalid_client"), "{e}");
    }
    assert_eq!(c.stats().requests, 0, "no ARM request without a token");
}

#[test]
fn configurations_are_checked() {
    let e = AzureConnector::new(AzureConfig::new(vec![])).unwrap_err().to_string();
    assert!(e.contains("`tenants`"), "{e}");
    let t = Tenant::new(TENANT_1, Arc::new(StaticTokenCredential::new("x")));
    let e =
        AzureConnector::new(AzureConfig::new(vec![t.clone()]).with_arm_endpoint("ftp://x")).unwrap_err().to_string();
    assert!(e.contains("`arm_endpoint`") && e.contains("ftp://x"), "{e}");
    let e =
        AzureConnector::new(AzureConfig::new(vec![Tenant::new(" ", t.credential.clone())])).unwrap_err().to_string();
    assert!(e.contains("tenants[0].tenant_id"), "{e}");
}
