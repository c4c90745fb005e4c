//! SQL servers with their firewall rules and auditing setting, and databases
//! with their transparent data encryption (ARM REST, API version 2021-11-01).
//!
//! A server whose firewall rules or auditing setting cannot be read, or a
//! database whose encryption setting cannot be read, is not yielded
//! half-known: its scope is recorded as failed instead, so its violations
//! stay as they were.

use serde_json::Value;

use super::{Found, Scope, asset, bool_at, common, str_at, time_at};
use crate::error::Error;
use crate::shapes::{EntraAdmin, FirewallRule, SqlDatabase, SqlServer, kind};

const API: &str = "2021-11-01";

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    let mut found = Found::default();
    let path = format!("/subscriptions/{}/providers/Microsoft.Sql/servers", s.subscription);
    let mut url = match s.arm.url(&path, API) {
        Ok(u) => u,
        Err(e) => {
            found.fail_all(kind::SQL_SERVER, e);
            return found;
        }
    };
    url.query_pairs_mut().append_pair("$expand", "administrators/activedirectory");
    let servers = match s.arm.list_url(url).await {
        Ok(items) => items,
        Err(e) => {
            found.fail_all(kind::SQL_SERVER, e.clone());
            found.fail_all(kind::SQL_DATABASE, e);
            return found;
        }
    };
    for v in &servers {
        let c = match common(v, &path) {
            Ok(c) => c,
            Err(e) => {
                found.fail_all(kind::SQL_SERVER, e.clone());
                found.fail_all(kind::SQL_DATABASE, e);
                continue;
            }
        };
        let auditing = match s.arm.get_path(&format!("{}/auditingSettings/default", c.id), API).await {
            Ok(a) => Ok(Some(a)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        let read = match auditing {
            Ok(auditing) => s.arm.list(&format!("{}/firewallRules", c.id), API).await.map(|rules| (rules, auditing)),
            Err(e) => Err(e),
        };
        match read.and_then(|(rules, auditing)| server(s.subscription, v, &c, &rules, auditing.as_ref())) {
            Ok(a) => found.assets.push(a),
            Err(e) => found.fail_at(kind::SQL_SERVER, &c.location, e),
        }
        databases(s, &c, &mut found).await;
    }
    found
}

async fn databases(s: &Scope<'_>, server: &super::Common, found: &mut Found) {
    let path = format!("{}/databases", server.id);
    let dbs = match s.arm.list(&path, API).await {
        Ok(dbs) => dbs,
        Err(e) => {
            found.fail_at(kind::SQL_DATABASE, &server.location, e);
            return;
        }
    };
    for v in &dbs {
        let c = match common(v, &path) {
            Ok(c) => c,
            Err(e) => {
                found.fail_at(kind::SQL_DATABASE, &server.location, e);
                continue;
            }
        };
        let tde = match s.arm.get_path(&format!("{}/transparentDataEncryption/current", c.id), API).await {
            Ok(t) => str_at(&t, "/properties/state"),
            Err(Error::NotFound { .. }) => None,
            Err(e) => {
                found.fail_at(kind::SQL_DATABASE, &c.location, e);
                continue;
            }
        };
        match database(s.subscription, v, &c, server, tde) {
            Ok(a) => found.assets.push(a),
            Err(e) => found.fail_at(kind::SQL_DATABASE, &c.location, e),
        }
    }
}

pub(crate) fn server(
    subscription: &str,
    v: &Value,
    c: &super::Common,
    rules: &[Value],
    auditing: Option<&Value>,
) -> Result<pacbot_core::Asset, Error> {
    let p = |k: &str| format!("/properties/{k}");
    let entra_admin = v.pointer("/properties/administrators").filter(|a| a.is_object()).map(|a| EntraAdmin {
        login: str_at(a, "/login"),
        sid: str_at(a, "/sid"),
        azure_ad_only_authentication: bool_at(a, "/azureADOnlyAuthentication"),
    });
    let doc = SqlServer {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        version: str_at(v, &p("version")),
        fully_qualified_domain_name: str_at(v, &p("fullyQualifiedDomainName")),
        administrator_login: str_at(v, &p("administratorLogin")),
        public_network_access: str_at(v, &p("publicNetworkAccess")),
        minimal_tls_version: str_at(v, &p("minimalTlsVersion")),
        entra_admin,
        firewall_rules: rules
            .iter()
            .map(|r| FirewallRule {
                name: str_at(r, "/name").unwrap_or_default(),
                start_ip: str_at(r, "/properties/startIpAddress"),
                end_ip: str_at(r, "/properties/endIpAddress"),
            })
            .collect(),
        auditing_state: auditing.and_then(|a| str_at(a, "/properties/state")),
        auditing_retention_days: auditing.and_then(|a| super::i64_at(a, "/properties/retentionDays")),
    };
    asset(subscription, kind::SQL_SERVER, c, &doc)
}

pub(crate) fn database(
    subscription: &str,
    v: &Value,
    c: &super::Common,
    server: &super::Common,
    tde: Option<String>,
) -> Result<pacbot_core::Asset, Error> {
    let doc = SqlDatabase {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        server_name: server.name.clone(),
        server_id: server.id.clone(),
        status: str_at(v, "/properties/status"),
        sku: str_at(v, "/sku/name"),
        is_system: str_at(v, "/kind").is_some_and(|k| k.split(',').any(|p| p.trim() == "system")),
        creation_date: time_at(v, "/properties/creationDate"),
        transparent_data_encryption: tde,
    };
    asset(subscription, kind::SQL_DATABASE, c, &doc)
}
