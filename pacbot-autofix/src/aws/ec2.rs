//! EC2 fixes: security-group rules, unused groups, instances (stop,
//! quarantine, snapshot, IMDSv2), EBS default encryption, elastic IPs.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, HttpTokensState, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::{ParamKind, ParamSpec, Params};

const SG: &[&str] = &["aws.ec2.security_group"];
const INSTANCE: &[&str] = &["aws.ec2.instance"];
const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

aws_fix!(SgDeleteRule, SgRevokeWorld, SgDelete, Stop, Quarantine, Snapshot, Imdsv2, EbsDefaultEncryption, ReleaseEip);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(SgDeleteRule(s.clone())))?;
    c.register(Arc::new(SgRevokeWorld(s.clone())))?;
    c.register(Arc::new(SgDelete(s.clone())))?;
    c.register(Arc::new(Stop(s.clone())))?;
    c.register(Arc::new(Quarantine(s.clone())))?;
    c.register(Arc::new(Snapshot(s.clone())))?;
    c.register(Arc::new(Imdsv2(s.clone())))?;
    c.register(Arc::new(EbsDefaultEncryption(s.clone())))?;
    c.register(Arc::new(ReleaseEip(s.clone())))?;
    Ok(())
}

fn gone(what: &str, id: &str) -> Error {
    Error::NotFound { what: what.to_owned(), id: id.to_owned() }
}

// ---------------------------------------------------------------- security-group rules

/// One ingress rule for one CIDR block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rule {
    protocol: String,
    from: Option<i32>,
    to: Option<i32>,
    cidr: String,
}

impl Rule {
    fn permission(&self) -> IpPermission {
        let b = IpPermission::builder().ip_protocol(&self.protocol).set_from_port(self.from).set_to_port(self.to);
        if self.cidr.contains(':') {
            b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&self.cidr).build()).build()
        } else {
            b.ip_ranges(IpRange::builder().cidr_ip(&self.cidr).build()).build()
        }
    }

    fn all_ports(&self) -> bool {
        self.protocol == "-1" || (self.from.unwrap_or(-1) <= 0 && self.to.unwrap_or(-1) < 0)
    }
}

async fn ingress(c: &aws_sdk_ec2::Client, group: &str) -> Result<Option<Vec<Rule>>> {
    let r = c.describe_security_groups().group_ids(group).send().await;
    let out = match r {
        Ok(o) => o,
        Err(e) if code(&e) == Some("InvalidGroup.NotFound") => return Ok(None),
        Err(e) => return Err(sdk(format!("ec2:DescribeSecurityGroups `{group}`"))(e)),
    };
    let Some(sg) = out.security_groups().first() else { return Ok(None) };
    let mut rules = Vec::new();
    for p in sg.ip_permissions() {
        let protocol = p.ip_protocol().unwrap_or("-1").to_owned();
        let base = |cidr: &str| Rule {
            protocol: protocol.clone(),
            from: p.from_port(),
            to: p.to_port(),
            cidr: cidr.to_owned(),
        };
        rules.extend(p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).map(base));
        rules.extend(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()).map(base));
    }
    Ok(Some(rules))
}

async fn revoke(c: &aws_sdk_ec2::Client, group: &str, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    c.revoke_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(rules.iter().map(Rule::permission).collect()))
        .send()
        .await
        .map_err(sdk(format!("ec2:RevokeSecurityGroupIngress on `{group}`")))?;
    Ok(())
}

async fn authorize(c: &aws_sdk_ec2::Client, group: &str, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    c.authorize_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(rules.iter().map(Rule::permission).collect()))
        .send()
        .await
        .map_err(sdk(format!("ec2:AuthorizeSecurityGroupIngress on `{group}`")))?;
    Ok(())
}

const RULE_PARAMS: &[ParamSpec] = &[
    ParamSpec::required("port", ParamKind::Port, "the port to close"),
    ParamSpec::with_default(
        "protocol",
        ParamKind::OneOf(&["tcp", "udp", "-1"]),
        "tcp",
        "the protocol (`-1`: all traffic)",
    ),
    ParamSpec::with_default("scope", ParamKind::Cidr, "0.0.0.0/0", "the source CIDR block of the rule"),
];

/// The rules to revoke and the narrower ones to add back so that only
/// `port` closes (a range 20-25 without 22 becomes 20-21 and 23-25).
fn split(rules: &[Rule], protocol: &str, port: i32, scope: &str) -> (Vec<Rule>, Vec<Rule>) {
    let mut remove = Vec::new();
    let mut add = Vec::new();
    for r in rules.iter().filter(|r| r.cidr == scope) {
        if protocol == "-1" || r.protocol == "-1" {
            if r.protocol == protocol || r.protocol == "-1" {
                remove.push(r.clone());
            }
            continue;
        }
        if r.protocol != protocol {
            continue;
        }
        let (from, to) = (r.from.unwrap_or(0), r.to.unwrap_or(65535));
        if r.all_ports() || (from <= port && port <= to) {
            remove.push(r.clone());
            let (from, to) = if r.all_ports() { (0, 65535) } else { (from, to) };
            if from < port {
                add.push(Rule { from: Some(from), to: Some(port - 1), ..r.clone() });
            }
            if port < to {
                add.push(Rule { from: Some(port + 1), to: Some(to), ..r.clone() });
            }
        }
    }
    (remove, add)
}

fn rule_params(p: &Params) -> (String, i32, String) {
    let port = i32::try_from(p.int("port").unwrap_or(0)).unwrap_or(0);
    (p.text("protocol").unwrap_or("tcp").to_owned(), port, p.text("scope").unwrap_or("0.0.0.0/0").to_owned())
}

#[async_trait]
impl Fix for SgDeleteRule {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "sg-delete-rule",
            aliases: &["sg_single_rule_delete"],
            title: "Closes one port to one source in a security group, splitting wider port ranges so only that port closes",
            kinds: SG,
            params: RULE_PARAMS,
            permissions: &[
                "ec2:DescribeSecurityGroups",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupIngress",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let group = t.resource_id();
        let rules = ingress(&self.0.ec2(t).await?, group).await?.ok_or_else(|| gone("security group", group))?;
        let (protocol, port, scope) = rule_params(p);
        let (remove, add) = split(&rules, &protocol, port, &scope);
        if remove.is_empty() {
            return Ok(FixPlan::already_fixed(
                self.info().key,
                t,
                format!("no rule opens {protocol} {port} to {scope}"),
            ));
        }
        let mut changes =
            vec![Change::new("ec2:RevokeSecurityGroupIngress", "revoke the rules", json!(remove), Value::Null)];
        if !add.is_empty() {
            changes.push(Change::new(
                "ec2:AuthorizeSecurityGroupIngress",
                "keep the rest of the ranges",
                Value::Null,
                json!(add),
            ));
        }
        Ok(FixPlan::changes(self.info().key, t, format!("close {protocol} {port} to {scope}"), changes))
    }

    async fn backup(&self, t: &FixTarget, p: &Params) -> Result<Value> {
        let group = t.resource_id();
        let rules = ingress(&self.0.ec2(t).await?, group).await?.ok_or_else(|| gone("security group", group))?;
        let (protocol, port, scope) = rule_params(p);
        let (remove, add) = split(&rules, &protocol, port, &scope);
        Ok(json!({"removed": remove, "added": add}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let group = t.resource_id();
        let rules = ingress(&c, group).await?.ok_or_else(|| gone("security group", group))?;
        let (protocol, port, scope) = rule_params(p);
        let (remove, add) = split(&rules, &protocol, port, &scope);
        if remove.is_empty() {
            return Ok(ApplyOutcome::already(format!("no rule opens {protocol} {port} to {scope}")));
        }
        revoke(&c, group, &remove).await?;
        authorize(&c, group, &add).await?;
        Ok(ApplyOutcome::applied(format!("{protocol} {port} closed to {scope}"), json!(ingress(&c, group).await?)))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let group = t.resource_id();
        let parse = |k: &str| serde_json::from_value::<Vec<Rule>>(backup[k].clone()).unwrap_or_default();
        revoke(&c, group, &parse("added")).await?;
        authorize(&c, group, &parse("removed")).await?;
        Ok(ApplyOutcome::applied("rules restored", json!(ingress(&c, group).await?)))
    }
}

fn world(rules: &[Rule]) -> Vec<Rule> {
    rules.iter().filter(|r| WORLD.contains(&r.cidr.as_str())).cloned().collect()
}

#[async_trait]
impl Fix for SgRevokeWorld {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "sg-revoke-world-ingress",
            aliases: &["sg_rules_delete_world", "sg_open_ports_delete"],
            title: "Revokes every ingress rule of a security group open to the whole internet (0.0.0.0/0, ::/0)",
            kinds: SG,
            params: &[],
            permissions: &[
                "ec2:DescribeSecurityGroups",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupIngress",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let group = t.resource_id();
        let rules = ingress(&self.0.ec2(t).await?, group).await?.ok_or_else(|| gone("security group", group))?;
        let open = world(&rules);
        if open.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "no rule is open to the internet"));
        }
        let change = Change::new("ec2:RevokeSecurityGroupIngress", "revoke world-open rules", json!(open), Value::Null);
        Ok(FixPlan::changes(self.info().key, t, "revoke the rules open to the internet", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        let group = t.resource_id();
        let rules = ingress(&self.0.ec2(t).await?, group).await?.ok_or_else(|| gone("security group", group))?;
        Ok(json!({"removed": world(&rules)}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let group = t.resource_id();
        let rules = ingress(&c, group).await?.ok_or_else(|| gone("security group", group))?;
        let open = world(&rules);
        if open.is_empty() {
            return Ok(ApplyOutcome::already("no rule is open to the internet"));
        }
        revoke(&c, group, &open).await?;
        Ok(ApplyOutcome::applied(
            format!("{} world-open rule(s) revoked", open.len()),
            json!(ingress(&c, group).await?),
        ))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let rules: Vec<Rule> = serde_json::from_value(backup["removed"].clone()).unwrap_or_default();
        authorize(&c, t.resource_id(), &rules).await?;
        Ok(ApplyOutcome::applied("rules restored", json!(ingress(&c, t.resource_id()).await?)))
    }
}

async fn group_users(c: &aws_sdk_ec2::Client, group: &str) -> Result<usize> {
    let o = c
        .describe_network_interfaces()
        .filters(Filter::builder().name("group-id").values(group).build())
        .send()
        .await
        .map_err(sdk(format!("ec2:DescribeNetworkInterfaces for `{group}`")))?;
    Ok(o.network_interfaces().len())
}

async fn describe_group(c: &aws_sdk_ec2::Client, group: &str) -> Result<Option<Value>> {
    let r = c.describe_security_groups().group_ids(group).send().await;
    match r {
        Ok(o) => Ok(o.security_groups().first().map(|g| {
            json!({"group_id": g.group_id(), "name": g.group_name(), "description": g.description(), "vpc_id": g.vpc_id()})
        })),
        Err(e) if code(&e) == Some("InvalidGroup.NotFound") => Ok(None),
        Err(e) => Err(sdk(format!("ec2:DescribeSecurityGroups `{group}`"))(e)),
    }
}

#[async_trait]
impl Fix for SgDelete {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "sg-delete",
            aliases: &["sg_delete_unused"],
            title: "Deletes a security group no network interface uses (never a default group)",
            kinds: SG,
            params: &[],
            permissions: &["ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces", "ec2:DeleteSecurityGroup"],
            rollback: false,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let c = self.0.ec2(t).await?;
        let Some(g) = describe_group(&c, t.resource_id()).await? else {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the group is gone"));
        };
        check_deletable(&c, t, &g).await?;
        Ok(FixPlan::changes(
            self.info().key,
            t,
            "delete the unused group",
            vec![Change::new("ec2:DeleteSecurityGroup", "delete", g, Value::Null)],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        let c = self.0.ec2(t).await?;
        Ok(json!({"group": describe_group(&c, t.resource_id()).await?, "ingress": ingress(&c, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let group = t.resource_id();
        let Some(g) = describe_group(&c, group).await? else {
            return Ok(ApplyOutcome::already("the group is gone"));
        };
        check_deletable(&c, t, &g).await?;
        c.delete_security_group()
            .group_id(group)
            .send()
            .await
            .map_err(sdk(format!("ec2:DeleteSecurityGroup `{group}`")))?;
        Ok(ApplyOutcome::applied("security group deleted", Value::Null))
    }
}

async fn check_deletable(c: &aws_sdk_ec2::Client, t: &FixTarget, g: &Value) -> Result<()> {
    let refuse = |reason: String| Error::UnsupportedTarget {
        fix: "sg-delete".to_owned(),
        target: t.asset.id.to_string(),
        reason,
    };
    if g["name"] == "default" {
        return Err(refuse("a default security group cannot be deleted".to_owned()));
    }
    let users = group_users(c, t.resource_id()).await?;
    if users > 0 {
        return Err(refuse(format!("the group is in use by {users} network interface(s)")));
    }
    Ok(())
}

// ---------------------------------------------------------------- instances

async fn instance(c: &aws_sdk_ec2::Client, id: &str) -> Result<aws_sdk_ec2::types::Instance> {
    let r = c.describe_instances().instance_ids(id).send().await;
    let o = match r {
        Ok(o) => o,
        Err(e) if code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => return Err(gone("instance", id)),
        Err(e) => return Err(sdk(format!("ec2:DescribeInstances `{id}`"))(e)),
    };
    o.reservations().iter().flat_map(|r| r.instances()).next().cloned().ok_or_else(|| gone("instance", id))
}

fn state(i: &aws_sdk_ec2::types::Instance) -> String {
    i.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default()
}

#[async_trait]
impl Fix for Stop {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ec2-stop-instance",
            aliases: &["ec2_stop_instance"],
            title: "Stops an instance (a rollback starts it again)",
            kinds: INSTANCE,
            params: &[],
            permissions: &["ec2:DescribeInstances", "ec2:StopInstances", "ec2:StartInstances"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let s = state(&instance(&self.0.ec2(t).await?, t.resource_id()).await?);
        if matches!(s.as_str(), "stopped" | "stopping" | "terminated" | "shutting-down") {
            return Ok(FixPlan::already_fixed(self.info().key, t, format!("the instance is {s}")));
        }
        Ok(FixPlan::changes(
            self.info().key,
            t,
            "stop the instance",
            vec![Change::new("ec2:StopInstances", "stop", json!(s), json!("stopped"))],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"state": state(&instance(&self.0.ec2(t).await?, t.resource_id()).await?)}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let id = t.resource_id();
        let s = state(&instance(&c, id).await?);
        if matches!(s.as_str(), "stopped" | "stopping" | "terminated" | "shutting-down") {
            return Ok(ApplyOutcome::already(format!("the instance is {s}")));
        }
        c.stop_instances().instance_ids(id).send().await.map_err(sdk(format!("ec2:StopInstances `{id}`")))?;
        Ok(ApplyOutcome::applied("instance stopped", json!({"state": state(&instance(&c, id).await?)})))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        if backup["state"] != "running" && backup["state"] != "pending" {
            return Ok(ApplyOutcome::already("the instance was not running before the fix"));
        }
        let c = self.0.ec2(t).await?;
        let id = t.resource_id();
        c.start_instances().instance_ids(id).send().await.map_err(sdk(format!("ec2:StartInstances `{id}`")))?;
        Ok(ApplyOutcome::applied("instance started", json!({"state": state(&instance(&c, id).await?)})))
    }
}

const QUARANTINE_PARAMS: &[ParamSpec] = &[ParamSpec::with_default(
    "group_name",
    ParamKind::Text,
    "pacbot-quarantine",
    "the isolating security group's name",
)];

fn groups_of(i: &aws_sdk_ec2::types::Instance) -> Vec<String> {
    i.security_groups().iter().filter_map(|g| g.group_id()).map(str::to_owned).collect()
}

/// The isolating group of the VPC (created without rules when absent).
async fn quarantine_group(c: &aws_sdk_ec2::Client, vpc: &str, name: &str, create: bool) -> Result<Option<String>> {
    let o = c
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .map_err(sdk(format!("ec2:DescribeSecurityGroups `{name}`")))?;
    if let Some(id) = o.security_groups().first().and_then(|g| g.group_id()) {
        return Ok(Some(id.to_owned()));
    }
    if !create {
        return Ok(None);
    }
    let created = c
        .create_security_group()
        .group_name(name)
        .description("pacbot-autofix quarantine: no traffic in or out")
        .vpc_id(vpc)
        .send()
        .await
        .map_err(sdk(format!("ec2:CreateSecurityGroup `{name}`")))?;
    let id = created.group_id().unwrap_or_default().to_owned();
    let all =
        IpPermission::builder().ip_protocol("-1").ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build()).build();
    c.revoke_security_group_egress()
        .group_id(&id)
        .ip_permissions(all)
        .send()
        .await
        .map_err(sdk(format!("ec2:RevokeSecurityGroupEgress `{id}`")))?;
    Ok(Some(id))
}

async fn set_groups(c: &aws_sdk_ec2::Client, id: &str, groups: Vec<String>) -> Result<()> {
    c.modify_instance_attribute()
        .instance_id(id)
        .set_groups(Some(groups))
        .send()
        .await
        .map_err(sdk(format!("ec2:ModifyInstanceAttribute `{id}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for Quarantine {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ec2-quarantine-instance",
            aliases: &["ec2_quarantine_instance"],
            title: "Swaps an instance's security groups for an isolating group without rules",
            kinds: INSTANCE,
            params: QUARANTINE_PARAMS,
            permissions: &[
                "ec2:DescribeInstances",
                "ec2:DescribeSecurityGroups",
                "ec2:CreateSecurityGroup",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:ModifyInstanceAttribute",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let c = self.0.ec2(t).await?;
        let i = instance(&c, t.resource_id()).await?;
        let name = p.text("group_name").unwrap_or("pacbot-quarantine");
        let q = quarantine_group(&c, i.vpc_id().unwrap_or_default(), name, false).await?;
        let groups = groups_of(&i);
        if q.as_ref().is_some_and(|q| groups == [q.clone()]) {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the instance is quarantined"));
        }
        let change = Change::new(
            "ec2:ModifyInstanceAttribute",
            format!("replace the groups by `{name}`"),
            json!(groups),
            json!([name]),
        );
        Ok(FixPlan::changes(self.info().key, t, "isolate the instance", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"groups": groups_of(&instance(&self.0.ec2(t).await?, t.resource_id()).await?)}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let id = t.resource_id();
        let i = instance(&c, id).await?;
        let name = p.text("group_name").unwrap_or("pacbot-quarantine");
        let q = quarantine_group(&c, i.vpc_id().unwrap_or_default(), name, true).await?.unwrap_or_default();
        if groups_of(&i) == [q.clone()] {
            return Ok(ApplyOutcome::already("the instance is quarantined"));
        }
        set_groups(&c, id, vec![q]).await?;
        Ok(ApplyOutcome::applied("instance quarantined", json!({"groups": groups_of(&instance(&c, id).await?)})))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let groups: Vec<String> = serde_json::from_value(backup["groups"].clone()).unwrap_or_default();
        set_groups(&c, t.resource_id(), groups).await?;
        Ok(ApplyOutcome::applied(
            "security groups restored",
            json!({"groups": groups_of(&instance(&c, t.resource_id()).await?)}),
        ))
    }
}

const SNAPSHOT_TAG: &str = "pacbot-autofix:snapshot-of";

async fn volumes_of(c: &aws_sdk_ec2::Client, t: &FixTarget) -> Result<Vec<String>> {
    if t.asset.kind().as_str() == "aws.ec2.volume" {
        return Ok(vec![t.resource_id().to_owned()]);
    }
    let i = instance(c, t.resource_id()).await?;
    Ok(i.block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.volume_id()))
        .map(str::to_owned)
        .collect())
}

/// The volumes without a snapshot this fix took.
pub(super) async fn unsnapshotted(c: &aws_sdk_ec2::Client, volumes: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in volumes {
        let o = c
            .describe_snapshots()
            .owner_ids("self")
            .filters(Filter::builder().name(format!("tag:{SNAPSHOT_TAG}")).values(v).build())
            .send()
            .await
            .map_err(sdk(format!("ec2:DescribeSnapshots of `{v}`")))?;
        if o.snapshots().is_empty() {
            out.push(v.clone());
        }
    }
    Ok(out)
}

#[async_trait]
impl Fix for Snapshot {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ec2-create-snapshot",
            aliases: &["ec2_create_snapshot"],
            title: "Snapshots an instance's (or a volume's) EBS volumes, once (tagged `pacbot-autofix:snapshot-of`)",
            kinds: &["aws.ec2.instance", "aws.ec2.volume"],
            params: &[],
            permissions: &["ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:CreateSnapshot", "ec2:CreateTags"],
            rollback: false,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let c = self.0.ec2(t).await?;
        let todo = unsnapshotted(&c, &volumes_of(&c, t).await?).await?;
        if todo.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "every volume has a snapshot"));
        }
        let changes = todo
            .iter()
            .map(|v| Change::new("ec2:CreateSnapshot", format!("snapshot `{v}`"), Value::Null, Value::Null))
            .collect();
        Ok(FixPlan::changes(self.info().key, t, "snapshot the volumes", changes))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        let c = self.0.ec2(t).await?;
        Ok(json!({"volumes": volumes_of(&c, t).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let todo = unsnapshotted(&c, &volumes_of(&c, t).await?).await?;
        if todo.is_empty() {
            return Ok(ApplyOutcome::already("every volume has a snapshot"));
        }
        let mut ids = Vec::new();
        for v in &todo {
            ids.push(take_snapshot(&c, v, t.resource_id()).await?);
        }
        Ok(ApplyOutcome::applied(format!("{} snapshot(s) created", ids.len()), json!({"snapshots": ids})))
    }
}

/// Snapshots `volume` (tagged as this fix's, for `unsnapshotted`); the snapshot id.
pub(super) async fn take_snapshot(c: &aws_sdk_ec2::Client, volume: &str, of: &str) -> Result<String> {
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .tags(Tag::builder().key(SNAPSHOT_TAG).value(volume).build())
        .build();
    let o = c
        .create_snapshot()
        .volume_id(volume)
        .description(format!("pacbot-autofix snapshot of {volume} ({of})"))
        .tag_specifications(tags)
        .send()
        .await
        .map_err(sdk(format!("ec2:CreateSnapshot of `{volume}`")))?;
    Ok(o.snapshot_id().unwrap_or_default().to_owned())
}

async fn http_tokens(c: &aws_sdk_ec2::Client, id: &str) -> Result<String> {
    let i = instance(c, id).await?;
    Ok(i.metadata_options().and_then(|m| m.http_tokens()).map_or("optional", |t| t.as_str()).to_owned())
}

async fn set_tokens(c: &aws_sdk_ec2::Client, id: &str, tokens: HttpTokensState) -> Result<()> {
    c.modify_instance_metadata_options()
        .instance_id(id)
        .http_tokens(tokens)
        .send()
        .await
        .map_err(sdk(format!("ec2:ModifyInstanceMetadataOptions `{id}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for Imdsv2 {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ec2-require-imdsv2",
            aliases: &["ec2_enforce_imdsv2"],
            title: "Requires IMDSv2 session tokens for the instance metadata service",
            kinds: INSTANCE,
            params: &[],
            permissions: &["ec2:DescribeInstances", "ec2:ModifyInstanceMetadataOptions"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let before = http_tokens(&self.0.ec2(t).await?, t.resource_id()).await?;
        if before == "required" {
            return Ok(FixPlan::already_fixed(self.info().key, t, "IMDSv2 is required"));
        }
        let change =
            Change::new("ec2:ModifyInstanceMetadataOptions", "require tokens", json!(before), json!("required"));
        Ok(FixPlan::changes(self.info().key, t, "require IMDSv2", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"http_tokens": http_tokens(&self.0.ec2(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        if http_tokens(&c, t.resource_id()).await? == "required" {
            return Ok(ApplyOutcome::already("IMDSv2 is required"));
        }
        set_tokens(&c, t.resource_id(), HttpTokensState::Required).await?;
        Ok(ApplyOutcome::applied("IMDSv2 required", json!({"http_tokens": http_tokens(&c, t.resource_id()).await?})))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let tokens = HttpTokensState::from(backup["http_tokens"].as_str().unwrap_or("optional"));
        set_tokens(&c, t.resource_id(), tokens).await?;
        Ok(ApplyOutcome::applied(
            "metadata options restored",
            json!({"http_tokens": http_tokens(&c, t.resource_id()).await?}),
        ))
    }
}

async fn ebs_default(c: &aws_sdk_ec2::Client) -> Result<bool> {
    let o = c.get_ebs_encryption_by_default().send().await.map_err(sdk("ec2:GetEbsEncryptionByDefault"))?;
    Ok(o.ebs_encryption_by_default().unwrap_or(false))
}

#[async_trait]
impl Fix for EbsDefaultEncryption {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ebs-enable-default-encryption",
            aliases: &["ec2_enable_ebs_encryption_by_default"],
            title: "Turns on EBS encryption by default in the region",
            kinds: &["aws.ec2.account_settings"],
            params: &[],
            permissions: &[
                "ec2:GetEbsEncryptionByDefault",
                "ec2:EnableEbsEncryptionByDefault",
                "ec2:DisableEbsEncryptionByDefault",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        if ebs_default(&self.0.ec2(t).await?).await? {
            return Ok(FixPlan::already_fixed(self.info().key, t, "EBS default encryption is on"));
        }
        let change = Change::new("ec2:EnableEbsEncryptionByDefault", "encrypt new volumes", json!(false), json!(true));
        Ok(FixPlan::changes(
            self.info().key,
            t,
            format!("turn on EBS default encryption in {}", t.region()),
            vec![change],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"enabled": ebs_default(&self.0.ec2(t).await?).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        if ebs_default(&c).await? {
            return Ok(ApplyOutcome::already("EBS default encryption is on"));
        }
        c.enable_ebs_encryption_by_default().send().await.map_err(sdk("ec2:EnableEbsEncryptionByDefault"))?;
        Ok(ApplyOutcome::applied("EBS default encryption turned on", json!({"enabled": ebs_default(&c).await?})))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        if backup["enabled"] == true {
            return Ok(ApplyOutcome::already("it was on before the fix"));
        }
        let c = self.0.ec2(t).await?;
        c.disable_ebs_encryption_by_default().send().await.map_err(sdk("ec2:DisableEbsEncryptionByDefault"))?;
        Ok(ApplyOutcome::applied("EBS default encryption turned off", json!({"enabled": ebs_default(&c).await?})))
    }
}

async fn address(c: &aws_sdk_ec2::Client, id: &str) -> Result<Option<Value>> {
    let req = if id.starts_with("eipalloc-") {
        c.describe_addresses().allocation_ids(id)
    } else {
        c.describe_addresses().public_ips(id)
    };
    match req.send().await {
        Ok(o) => Ok(o.addresses().first().map(|a| {
            json!({"allocation_id": a.allocation_id(), "public_ip": a.public_ip(), "association_id": a.association_id()})
        })),
        Err(e) if code(&e).is_some_and(|c| c.starts_with("InvalidAllocationID") || c.starts_with("InvalidAddress")) => Ok(None),
        Err(e) => Err(sdk(format!("ec2:DescribeAddresses `{id}`"))(e)),
    }
}

#[async_trait]
impl Fix for ReleaseEip {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ec2-release-eip",
            aliases: &["ec2_release_eips"],
            title: "Releases an elastic IP that is not associated (an associated one is refused)",
            kinds: &["aws.ec2.address"],
            params: &[],
            permissions: &["ec2:DescribeAddresses", "ec2:ReleaseAddress"],
            rollback: false,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let Some(a) = address(&self.0.ec2(t).await?, t.resource_id()).await? else {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the address is released"));
        };
        refuse_associated(t, &a)?;
        Ok(FixPlan::changes(
            self.info().key,
            t,
            "release the address",
            vec![Change::new("ec2:ReleaseAddress", "release", a, Value::Null)],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"address": address(&self.0.ec2(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let Some(a) = address(&c, t.resource_id()).await? else {
            return Ok(ApplyOutcome::already("the address is released"));
        };
        refuse_associated(t, &a)?;
        let req = match a["allocation_id"].as_str() {
            Some(id) => c.release_address().allocation_id(id),
            None => c.release_address().public_ip(t.resource_id()),
        };
        req.send().await.map_err(sdk(format!("ec2:ReleaseAddress `{}`", t.resource_id())))?;
        Ok(ApplyOutcome::applied("address released", Value::Null))
    }
}

fn refuse_associated(t: &FixTarget, a: &Value) -> Result<()> {
    if a["association_id"].is_string() {
        return Err(Error::UnsupportedTarget {
            fix: "ec2-release-eip".to_owned(),
            target: t.asset.id.to_string(),
            reason: "the address is associated".to_owned(),
        });
    }
    Ok(())
}
