//! Security groups: ingress open to the world, unused groups, default groups.

use std::collections::BTreeMap;

use pacbot_core::{Asset, Attr, Category, EvalContext, FnRule, Outcome, Policy, Severity};
use serde_json::json;

use super::{Check, PackConfig, ServicePort, cis, declarative, meta};
use crate::shapes::kind::SECURITY_GROUP;

/// Whether an address range is the whole address space (`0.0.0.0/0`, `::/0`).
pub(crate) fn is_world(cidr: &str) -> bool {
    cidr.rsplit_once('/').is_some_and(|(_, prefix)| prefix.trim().parse::<u8>() == Ok(0))
}

/// One flattened rule of a group's `ingress`.
#[derive(Clone, Copy)]
pub(crate) struct Ingress<'a> {
    pub(crate) protocol: &'a str,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) cidr: Option<&'a str>,
}

impl<'a> Ingress<'a> {
    pub(crate) fn read(rule: Attr<'a>) -> Self {
        let protocol = rule.field("protocol").as_str().unwrap_or("-1");
        Self {
            protocol,
            from: rule.field("from_port").as_i64().unwrap_or(0),
            to: rule.field("to_port").as_i64().unwrap_or(65535),
            cidr: rule.field("cidr").as_str(),
        }
    }

    /// The rules of a security group.
    pub(crate) fn of(group: Attr<'a>) -> impl Iterator<Item = Ingress<'a>> {
        group.field("ingress").elements().map(Ingress::read)
    }

    /// Whether the source is the whole internet.
    pub(crate) fn is_world_open(&self) -> bool {
        self.cidr.is_some_and(is_world)
    }

    /// Whether the source is the IPv6 internet.
    pub(crate) fn is_ipv6(&self) -> bool {
        self.cidr.is_some_and(|c| c.contains(':'))
    }

    fn all_traffic(&self) -> bool {
        self.protocol == "-1"
    }

    fn has_ports(&self) -> bool {
        matches!(self.protocol.to_ascii_lowercase().as_str(), "tcp" | "udp" | "6" | "17")
    }

    /// Whether traffic to `port` passes the rule.
    pub(crate) fn covers(&self, port: u16) -> bool {
        self.all_traffic() || (self.has_ports() && self.from <= i64::from(port) && i64::from(port) <= self.to)
    }

    /// Whether the rule passes some traffic with ports (or all traffic):
    /// what makes an instance reachable; ICMP does not count.
    pub(crate) fn carries_ports(&self) -> bool {
        self.all_traffic() || self.has_ports()
    }

    /// Whether every port of TCP or UDP passes the rule.
    fn every_port(&self) -> bool {
        self.all_traffic() || (self.has_ports() && self.from <= 1 && self.to >= 65535)
    }
}

impl std::fmt::Display for Ingress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = self.cidr.unwrap_or("another source");
        if self.all_traffic() {
            write!(f, "ingress all traffic (protocol -1) from {source}")
        } else if !self.has_ports() {
            write!(f, "ingress protocol {} from {source}", self.protocol)
        } else if self.from == self.to {
            write!(f, "ingress {} {} from {source}", self.protocol, self.from)
        } else {
            write!(f, "ingress {} {}-{} from {source}", self.protocol, self.from, self.to)
        }
    }
}

/// Fails a group with a world-open ingress rule that covers one of `ports`:
/// `ingress tcp 0-1024 from 0.0.0.0/0 includes port 22 (SSH)`.
fn open_ports_rule(ports: Vec<ServicePort>) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("open-ports", [SECURITY_GROUP], move |asset: &Asset, _: &EvalContext<'_>| {
        let mut findings = Vec::new();
        let mut evidence = Vec::new();
        for rule in Ingress::of(asset.attributes.root()).filter(Ingress::is_world_open) {
            let hit: Vec<String> =
                ports.iter().filter(|p| rule.covers(p.port)).map(|p| format!("{} ({})", p.port, p.service)).collect();
            if hit.is_empty() {
                continue;
            }
            let noun = if hit.len() == 1 { "port" } else { "ports" };
            findings.push(format!("{rule} includes {noun} {}", hit.join(", ")));
            evidence.push(json!({"rule": rule.to_string(), "ports": hit}));
        }
        if findings.is_empty() {
            Outcome::Pass
        } else {
            Outcome::fail_with(findings.join("; "), json!({"open": evidence}))
        }
    })
}

fn open_all_rule() -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("open-all-ports", [SECURITY_GROUP], |asset: &Asset, _: &EvalContext<'_>| {
        let open: Vec<String> = Ingress::of(asset.attributes.root())
            .filter(|r| r.is_world_open() && r.every_port())
            .map(|r| format!("{r} opens every port"))
            .collect();
        if open.is_empty() { Outcome::Pass } else { Outcome::fail(open.join("; ")) }
    })
}

fn default_group_rule() -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("default-closed", [SECURITY_GROUP], |asset: &Asset, _: &EvalContext<'_>| {
        let a = asset.attributes.root();
        if a.field("is_default").as_bool() != Some(true) {
            return Outcome::NotApplicable;
        }
        let count = |dir: &str| a.field(dir).len().unwrap_or(0);
        let (ingress, egress) = (count("ingress"), count("egress"));
        Outcome::check(ingress == 0 && egress == 0, || {
            format!(
                "default security group {} of {} has {ingress} ingress and {egress} egress rules",
                asset.id.resource_id,
                a.field("vpc_id").as_str().unwrap_or("its VPC")
            )
        })
    })
}

pub(crate) fn policies(config: &PackConfig) -> Vec<Policy> {
    let mut by_port: BTreeMap<u16, &str> = BTreeMap::new();
    for p in config.admin_ports.iter().chain(&config.database_ports) {
        by_port.entry(p.port).or_insert(&p.service);
    }
    vec![
        Policy::new(
            meta(
                "aws-ec2-sg-open-all-ports",
                "Security group allows all ports from the internet",
                Severity::Critical,
                Category::Security,
                "An ingress rule from 0.0.0.0/0 or ::/0 that passes all traffic (protocol -1) or every TCP or UDP \
                 port exposes every service on the group's instances to the whole internet.",
                "Replace the rule with rules for the ports the service needs, from the address ranges that need them.",
            )
            .with_fix("sg-revoke-world-ingress"),
            open_all_rule(),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-ec2-sg-open-ssh",
                    "Security group allows SSH (22) from the internet",
                    Severity::High,
                    Category::Security,
                    "An ingress rule from 0.0.0.0/0 or ::/0 whose port range includes 22 (or that passes all \
                     traffic) lets anyone try to log in over SSH.",
                    "Limit the rule to known address ranges, or reach instances through Session Manager or a bastion.",
                ),
                &["5.2"],
                &["5.2", "5.3"],
            )
            .with_fix("sg-revoke-world-ingress"),
            open_ports_rule(vec![ServicePort::new(22, "SSH")]),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-ec2-sg-open-rdp",
                    "Security group allows RDP (3389) from the internet",
                    Severity::High,
                    Category::Security,
                    "An ingress rule from 0.0.0.0/0 or ::/0 whose port range includes 3389 (or that passes all \
                     traffic) exposes Windows remote desktop to the internet.",
                    "Limit the rule to known address ranges, or use Session Manager or a VPN.",
                ),
                &["5.2"],
                &["5.2", "5.3"],
            )
            .with_fix("sg-revoke-world-ingress"),
            open_ports_rule(vec![ServicePort::new(3389, "RDP")]),
        ),
        Policy::new(
            meta(
                "aws-ec2-sg-open-admin-ports",
                "Security group allows remote administration ports from the internet",
                Severity::High,
                Category::Security,
                "An ingress rule from 0.0.0.0/0 or ::/0 covers a remote administration port (FTP, Telnet, MSRPC, \
                 SMB, VNC, WinRM by default; configurable).",
                "Remove the rule or limit it to known address ranges; administer through a VPN or Session Manager.",
            )
            .with_fix("sg-revoke-world-ingress"),
            open_ports_rule(config.admin_ports.clone()),
        ),
        Policy::new(
            meta(
                "aws-ec2-sg-open-database-ports",
                "Security group allows database ports from the internet",
                Severity::High,
                Category::Security,
                "An ingress rule from 0.0.0.0/0 or ::/0 covers a database or cache port (SQL Server, Oracle, MySQL, \
                 PostgreSQL, Redis, MongoDB, … by default; configurable).",
                "Remove the rule; let only the application's security group reach the database.",
            )
            .with_fix("sg-revoke-world-ingress"),
            open_ports_rule(config.database_ports.clone()),
        ),
        Policy::new(
            meta(
                "aws-ec2-sg-unused",
                "Security group is not used",
                Severity::Low,
                Category::Governance,
                "A security group that no network interface uses and no other group references is clutter that \
                 makes reviews harder and can be attached by mistake later. Default groups cannot be deleted and \
                 are not judged.",
                "Delete the group if nothing is going to use it.",
            )
            .with_fix("sg-delete"),
            declarative(
                "unused",
                &[SECURITY_GROUP],
                Some("{path: is_default, ne: true}"),
                Check::FailWhen("{all: [{path: network_interface_count, eq: 0}, {path: 'referenced_by[*]', absent: true}]}"),
                "security group {resource_id} ({group_name}) is used by no network interface and referenced by no group",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-ec2-sg-default-allows-traffic",
                    "Default security group allows traffic",
                    Severity::Medium,
                    Category::Security,
                    "Every VPC's default security group should have no rules, so that resources launched without \
                     an explicit group get no access by accident.",
                    "Remove every ingress and egress rule from the default group and give resources groups of their own.",
                ),
                &["5.3"],
                &["5.4"],
            )
            .with_fix("sg-empty-default"),
            default_group_rule(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_ranges_and_port_coverage() {
        assert!(is_world("0.0.0.0/0") && is_world("::/0") && !is_world("0.0.0.0/1") && !is_world("10.0.0.0"));
        let r = Ingress { protocol: "tcp", from: 0, to: 1024, cidr: Some("0.0.0.0/0") };
        assert!(r.covers(22) && !r.covers(3389));
        assert_eq!(r.to_string(), "ingress tcp 0-1024 from 0.0.0.0/0");
        let icmp = Ingress { protocol: "icmp", from: -1, to: -1, cidr: Some("::/0") };
        assert!(!icmp.covers(22) && !icmp.carries_ports());
    }
}
