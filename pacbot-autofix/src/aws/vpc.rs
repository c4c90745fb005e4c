//! VPC fixes: flow logs turned on, and the default security group emptied.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    FlowLogsResourceType, IpPermission, IpRange, Ipv6Range, LogDestinationType, PrefixListId, TrafficType,
    UserIdGroupPair,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::{ParamKind, ParamSpec, Params};

aws_fix!(EnableFlowLogs, EmptyDefaultGroup);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(EnableFlowLogs(s.clone())))?;
    c.register(Arc::new(EmptyDefaultGroup(s.clone())))?;
    Ok(())
}

// ---------------------------------------------------------------- flow logs

const FLOW_LOG_PARAMS: &[ParamSpec] = &[
    ParamSpec::required(
        "destination",
        ParamKind::Arn,
        "where the records go: an S3 bucket (`arn:aws:s3:::bucket[/prefix]`) or a CloudWatch Logs group ARN",
    ),
    ParamSpec::with_default(
        "traffic_type",
        ParamKind::OneOf(&["REJECT", "ACCEPT", "ALL"]),
        "REJECT",
        "which traffic is recorded (CIS asks for rejected traffic at least)",
    ),
    ParamSpec::optional("role_arn", ParamKind::Arn, "the role that delivers to CloudWatch Logs (needed there only)"),
];

/// The VPC's flow logs: id, status, traffic type and destination.
async fn flow_logs(c: &aws_sdk_ec2::Client, vpc: &str) -> Result<Vec<Value>> {
    let filter = aws_sdk_ec2::types::Filter::builder().name("resource-id").values(vpc).build();
    let o =
        c.describe_flow_logs().filter(filter).send().await.map_err(sdk(format!("ec2:DescribeFlowLogs of `{vpc}`")))?;
    Ok(o.flow_logs()
        .iter()
        .map(|f| {
            json!({
                "id": f.flow_log_id(),
                "status": f.flow_log_status(),
                "traffic_type": f.traffic_type().map(TrafficType::as_str),
                "destination": f.log_destination(),
            })
        })
        .collect())
}

fn active(logs: &[Value]) -> bool {
    logs.iter().any(|f| f["status"] == "ACTIVE")
}

#[async_trait]
impl Fix for EnableFlowLogs {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "vpc-enable-flow-logs",
            aliases: &["vpc_turn_on_flow_logs", "vpc_enable_flow_logs"],
            title: "Creates a flow log for a VPC without an active one (to S3, or CloudWatch Logs with a role)",
            kinds: &["aws.ec2.vpc"],
            params: FLOW_LOG_PARAMS,
            permissions: &[
                "ec2:DescribeFlowLogs",
                "ec2:CreateFlowLogs",
                "ec2:DeleteFlowLogs",
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "iam:PassRole",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let before = flow_logs(&self.0.ec2(t).await?, t.resource_id()).await?;
        if active(&before) {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the VPC has an active flow log"));
        }
        let (destination_type, destination) = destination(t, p)?;
        let after = json!({
            "traffic_type": p.text("traffic_type").unwrap_or("REJECT"),
            "destination_type": destination_type.as_str(),
            "destination": destination,
        });
        let change = Change::new("ec2:CreateFlowLogs", "create a flow log", Value::Array(before), after);
        Ok(FixPlan::changes(self.info().key, t, "turn on VPC flow logs", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"flow_logs": flow_logs(&self.0.ec2(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let vpc = t.resource_id();
        if active(&flow_logs(&c, vpc).await?) {
            return Ok(ApplyOutcome::already("the VPC has an active flow log"));
        }
        let (destination_type, destination) = destination(t, p)?;
        let o = c
            .create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(vpc)
            .traffic_type(TrafficType::from(p.text("traffic_type").unwrap_or("REJECT")))
            .log_destination_type(destination_type)
            .log_destination(destination)
            .set_deliver_logs_permission_arn(p.text("role_arn").map(str::to_owned))
            .send()
            .await
            .map_err(sdk(format!("ec2:CreateFlowLogs for `{vpc}`")))?;
        if let Some(failure) = o.unsuccessful().first() {
            let why = failure.error().and_then(|e| e.message()).unwrap_or("no reason given");
            return Err(Error::provider("aws", format!("ec2:CreateFlowLogs for `{vpc}`"), why));
        }
        Ok(ApplyOutcome::applied("flow log created", json!({"flow_logs": flow_logs(&c, vpc).await?})))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let vpc = t.resource_id();
        let kept: Vec<&Value> =
            backup["flow_logs"].as_array().map(|a| a.iter().map(|f| &f["id"]).collect()).unwrap_or_default();
        let created: Vec<String> = flow_logs(&c, vpc)
            .await?
            .iter()
            .filter(|f| !kept.contains(&&f["id"]))
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect();
        if !created.is_empty() {
            c.delete_flow_logs()
                .set_flow_log_ids(Some(created.clone()))
                .send()
                .await
                .map_err(sdk(format!("ec2:DeleteFlowLogs for `{vpc}`")))?;
        }
        Ok(ApplyOutcome::applied(format!("{} flow log(s) deleted", created.len()), backup.clone()))
    }
}

/// The destination type and ARN from the parameters; the role is required for CloudWatch Logs.
fn destination(t: &FixTarget, p: &Params) -> Result<(LogDestinationType, String)> {
    let arn = p.text("destination").unwrap_or_default();
    let unsupported = |reason: String| Error::UnsupportedTarget {
        fix: "vpc-enable-flow-logs".to_owned(),
        target: t.asset.id.to_string(),
        reason,
    };
    if arn.starts_with("arn:aws:s3:::")
        || arn.starts_with("arn:aws-us-gov:s3:::")
        || arn.starts_with("arn:aws-cn:s3:::")
    {
        Ok((LogDestinationType::S3, arn.to_owned()))
    } else if arn.split(':').nth(2) == Some("logs") {
        if p.text("role_arn").is_none() {
            return Err(unsupported("a CloudWatch Logs destination needs `role_arn`".to_owned()));
        }
        Ok((LogDestinationType::CloudWatchLogs, arn.to_owned()))
    } else {
        Err(unsupported(format!("`{arn}` is neither an S3 bucket nor a CloudWatch Logs group ARN")))
    }
}

// ---------------------------------------------------------------- the default security group

/// One permission of a security group, every kind of source kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Permission {
    protocol: String,
    from: Option<i32>,
    to: Option<i32>,
    #[serde(default)]
    ipv4: Vec<String>,
    #[serde(default)]
    ipv6: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    prefix_lists: Vec<String>,
}

impl Permission {
    fn of(p: &IpPermission) -> Self {
        let own = |s: Option<&str>| s.map(str::to_owned);
        Self {
            protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
            from: p.from_port(),
            to: p.to_port(),
            ipv4: p.ip_ranges().iter().filter_map(|r| own(r.cidr_ip())).collect(),
            ipv6: p.ipv6_ranges().iter().filter_map(|r| own(r.cidr_ipv6())).collect(),
            groups: p.user_id_group_pairs().iter().filter_map(|g| own(g.group_id())).collect(),
            prefix_lists: p.prefix_list_ids().iter().filter_map(|l| own(l.prefix_list_id())).collect(),
        }
    }

    fn sdk(&self) -> IpPermission {
        IpPermission::builder()
            .ip_protocol(&self.protocol)
            .set_from_port(self.from)
            .set_to_port(self.to)
            .set_ip_ranges(Some(self.ipv4.iter().map(|c| IpRange::builder().cidr_ip(c).build()).collect()))
            .set_ipv6_ranges(Some(self.ipv6.iter().map(|c| Ipv6Range::builder().cidr_ipv6(c).build()).collect()))
            .set_user_id_group_pairs(Some(
                self.groups.iter().map(|g| UserIdGroupPair::builder().group_id(g).build()).collect(),
            ))
            .set_prefix_list_ids(Some(
                self.prefix_lists.iter().map(|l| PrefixListId::builder().prefix_list_id(l).build()).collect(),
            ))
            .build()
    }
}

/// A group's name with its ingress and egress permissions (`None` when gone).
#[derive(Debug, Serialize, Deserialize)]
struct GroupRules {
    name: String,
    ingress: Vec<Permission>,
    egress: Vec<Permission>,
}

async fn group_rules(c: &aws_sdk_ec2::Client, id: &str) -> Result<Option<GroupRules>> {
    match c.describe_security_groups().group_ids(id).send().await {
        Ok(o) => Ok(o.security_groups().first().map(|g| GroupRules {
            name: g.group_name().unwrap_or_default().to_owned(),
            ingress: g.ip_permissions().iter().map(Permission::of).collect(),
            egress: g.ip_permissions_egress().iter().map(Permission::of).collect(),
        })),
        Err(e) if code(&e).is_some_and(|c| c.starts_with("InvalidGroup")) => Ok(None),
        Err(e) => Err(sdk(format!("ec2:DescribeSecurityGroups `{id}`"))(e)),
    }
}

/// The group's rules, refusing a group that is not a VPC's default group.
async fn default_group(c: &aws_sdk_ec2::Client, t: &FixTarget) -> Result<GroupRules> {
    let id = t.resource_id();
    let Some(g) = group_rules(c, id).await? else {
        return Err(Error::NotFound { what: "security group".to_owned(), id: id.to_owned() });
    };
    if g.name != "default" {
        return Err(Error::UnsupportedTarget {
            fix: "sg-empty-default".to_owned(),
            target: t.asset.id.to_string(),
            reason: format!("`{}` is not a default security group; use sg-revoke-world-ingress", g.name),
        });
    }
    Ok(g)
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

async fn set_rules(
    c: &aws_sdk_ec2::Client,
    id: &str,
    ingress: &[Permission],
    egress: &[Permission],
    add: bool,
) -> Result<()> {
    let perms = |ps: &[Permission]| Some(ps.iter().map(Permission::sdk).collect::<Vec<_>>());
    match (add, ingress.is_empty()) {
        (_, true) => {}
        (true, false) => {
            c.authorize_security_group_ingress().group_id(id).set_ip_permissions(perms(ingress)).send().await.map(drop)
        }
        .map_err(sdk(format!("ec2:AuthorizeSecurityGroupIngress `{id}`")))?,
        (false, false) => {
            { c.revoke_security_group_ingress().group_id(id).set_ip_permissions(perms(ingress)).send().await.map(drop) }
                .map_err(sdk(format!("ec2:RevokeSecurityGroupIngress `{id}`")))?
        }
    }
    match (add, egress.is_empty()) {
        (_, true) => {}
        (true, false) => {
            c.authorize_security_group_egress().group_id(id).set_ip_permissions(perms(egress)).send().await.map(drop)
        }
        .map_err(sdk(format!("ec2:AuthorizeSecurityGroupEgress `{id}`")))?,
        (false, false) => {
            { c.revoke_security_group_egress().group_id(id).set_ip_permissions(perms(egress)).send().await.map(drop) }
                .map_err(sdk(format!("ec2:RevokeSecurityGroupEgress `{id}`")))?
        }
    }
    Ok(())
}

#[async_trait]
impl Fix for EmptyDefaultGroup {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "sg-empty-default",
            aliases: &["sg_clear_default", "sg_empty_default"],
            title: "Removes every inbound and outbound rule of a VPC's default security group",
            kinds: &["aws.ec2.security_group"],
            params: &[],
            permissions: &[
                "ec2:DescribeSecurityGroups",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:AuthorizeSecurityGroupEgress",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let g = default_group(&self.0.ec2(t).await?, t).await?;
        if g.ingress.is_empty() && g.egress.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the default group has no rules"));
        }
        let changes = vec![
            Change::new("ec2:RevokeSecurityGroupIngress", "remove every inbound rule", to_json(&g.ingress), json!([])),
            Change::new("ec2:RevokeSecurityGroupEgress", "remove every outbound rule", to_json(&g.egress), json!([])),
        ];
        Ok(FixPlan::changes(self.info().key, t, "empty the default security group", changes))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(to_json(&default_group(&self.0.ec2(t).await?, t).await?))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let g = default_group(&c, t).await?;
        if g.ingress.is_empty() && g.egress.is_empty() {
            return Ok(ApplyOutcome::already("the default group has no rules"));
        }
        set_rules(&c, t.resource_id(), &g.ingress, &g.egress, false).await?;
        let after = group_rules(&c, t.resource_id()).await?;
        Ok(ApplyOutcome::applied(
            format!("{} inbound and {} outbound rule(s) removed", g.ingress.len(), g.egress.len()),
            to_json(&after),
        ))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let saved: GroupRules = serde_json::from_value(backup.clone())
            .map_err(|e| Error::BadBackup { fix: "sg-empty-default".to_owned(), reason: e.to_string() })?;
        let c = self.0.ec2(t).await?;
        let now = default_group(&c, t).await?;
        let missing = |saved: &[Permission], now: &[Permission]| -> Vec<Permission> {
            saved.iter().filter(|p| !now.contains(p)).cloned().collect()
        };
        set_rules(
            &c,
            t.resource_id(),
            &missing(&saved.ingress, &now.ingress),
            &missing(&saved.egress, &now.egress),
            true,
        )
        .await?;
        Ok(ApplyOutcome::applied("default group rules restored", backup.clone()))
    }
}
