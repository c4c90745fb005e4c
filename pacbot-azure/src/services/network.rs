//! Network security groups (ARM REST, API version 2023-09-01), with their
//! rules flattened (see the shapes documentation).

use serde_json::Value;

use super::{Found, Scope, asset, common, i64_at, ids_at, list_at, list_kind, str_at};
use crate::error::Error;
use crate::shapes::{NetworkSecurityGroup, NsgRule, kind, port_bounds};

const API: &str = "2023-09-01";

pub(crate) async fn collect(s: &Scope<'_>) -> Found {
    list_kind(s, kind::NSG, "providers/Microsoft.Network/networkSecurityGroups", API, convert).await
}

pub(crate) fn convert(subscription: &str, v: &Value, source: &str) -> Result<pacbot_core::Asset, Error> {
    let c = common(v, source)?;
    let mut rules = Vec::new();
    for (ptr, default) in [("/properties/securityRules", false), ("/properties/defaultSecurityRules", true)] {
        for r in list_at(v, ptr) {
            flatten(r, default, &mut rules);
        }
    }
    let doc = NetworkSecurityGroup {
        id: c.id.clone(),
        name: c.name.clone(),
        resource_group: c.resource_group.clone(),
        location: c.location.clone(),
        rules,
        subnet_ids: ids_at(v, "/properties/subnets"),
        network_interface_ids: ids_at(v, "/properties/networkInterfaces"),
    };
    asset(subscription, kind::NSG, &c, &doc)
}

/// The strings of a singular property and its plural twin
/// (`sourceAddressPrefix` and `sourceAddressPrefixes`).
fn one_and_many(p: &Value, one: &str, many: &str) -> Vec<String> {
    let mut out: Vec<String> = str_at(p, one).filter(|s| !s.is_empty()).into_iter().collect();
    out.extend(list_at(p, many).iter().filter_map(|s| s.as_str().map(str::to_owned)));
    out
}

/// One entry per (destination port range, source) of an ARM security rule.
pub(crate) fn flatten(rule: &Value, default: bool, out: &mut Vec<NsgRule>) {
    let name = str_at(rule, "/name").unwrap_or_default();
    let p = rule.get("properties").unwrap_or(rule);
    let mut ranges = one_and_many(p, "/destinationPortRange", "/destinationPortRanges");
    if ranges.is_empty() {
        // ARM requires a range; a rule without one is read as every port.
        ranges.push("*".into());
    }
    let mut sources: Vec<(Option<String>, Option<String>)> =
        one_and_many(p, "/sourceAddressPrefix", "/sourceAddressPrefixes")
            .into_iter()
            .map(|s| (Some(s), None))
            .collect();
    sources.extend(ids_at(p, "/sourceApplicationSecurityGroups").into_iter().map(|id| (None, Some(id))));
    let mut destinations = one_and_many(p, "/destinationAddressPrefix", "/destinationAddressPrefixes");
    destinations.extend(ids_at(p, "/destinationApplicationSecurityGroups"));
    for range in &ranges {
        let bounds = port_bounds(range);
        for (source, asg) in &sources {
            out.push(NsgRule {
                name: name.clone(),
                priority: i64_at(p, "/priority"),
                direction: str_at(p, "/direction"),
                access: str_at(p, "/access"),
                protocol: str_at(p, "/protocol"),
                port_range: range.clone(),
                from_port: bounds.map(|b| b.0),
                to_port: bounds.map(|b| b.1),
                source: source.clone(),
                source_asg_id: asg.clone(),
                destinations: destinations.clone(),
                default,
                description: str_at(p, "/description"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_flatten_per_range_and_source() {
        let rule = json!({"name": "web", "properties": {
            "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 100,
            "sourceAddressPrefix": "", "sourceAddressPrefixes": ["Internet", "10.0.0.0/8"],
            "sourceApplicationSecurityGroups": [{"id": "/Subscriptions/S/asg/Admins"}],
            "destinationPortRange": "", "destinationPortRanges": ["80", "8000-8100", "bad"],
            "destinationAddressPrefix": "*"}});
        let mut out = Vec::new();
        flatten(&rule, false, &mut out);
        assert_eq!(out.len(), 9);
        let sources: Vec<_> = out.iter().take(3).map(|r| (r.source.clone(), r.source_asg_id.clone())).collect();
        assert_eq!(
            sources,
            [
                (Some("Internet".into()), None),
                (Some("10.0.0.0/8".into()), None),
                (None, Some("/subscriptions/s/asg/admins".into()))
            ]
        );
        assert_eq!(
            (out[3].port_range.as_str(), out[3].from_port, out[3].to_port),
            ("8000-8100", Some(8000), Some(8100))
        );
        assert_eq!((out[8].port_range.as_str(), out[8].from_port), ("bad", None));
        assert!(out.iter().all(|r| r.destinations == ["*"] && r.priority == Some(100) && !r.default));
    }
}
