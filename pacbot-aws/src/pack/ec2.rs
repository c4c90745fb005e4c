//! EC2 instances, elastic IPs and VPCs.

use pacbot_core::{Asset, Attr, Category, EvalContext, FnRule, Outcome, Policy, Severity};
use serde_json::json;

use super::sg::{Ingress, is_world};
use super::{Check, PackConfig, cis, days_since, declarative, meta, strings, time};
use crate::shapes::kind::{ADDRESS, INSTANCE, ROUTE_TABLE, SECURITY_GROUP, SUBNET, VPC};

/// The routes of an instance's subnet to an internet gateway, per address
/// family: `0.0.0.0/0 → igw-1`.
struct InternetRoutes {
    v4: Option<String>,
    v6: Option<String>,
}

fn internet_routes(ctx: &EvalContext<'_>, instance: &Asset, subnet: &Asset) -> InternetRoutes {
    let s = subnet.attributes.root();
    let table = s.field("route_table_id").as_str().and_then(|id| ctx.related(instance, ROUTE_TABLE, id));
    let Some(table) = table else {
        // Without the table, the subnet's own judgement, for both families.
        let public = s.field("routes_to_internet_gateway").as_bool() == Some(true);
        let via = public.then(|| "a route to an internet gateway".to_owned());
        return InternetRoutes { v4: via.clone(), v6: via };
    };
    let mut routes = InternetRoutes { v4: None, v6: None };
    for r in table.attributes.field("routes").elements() {
        let (Some(dest), Some(target)) = (r.field("destination").as_str(), r.field("target").as_str()) else {
            continue;
        };
        let active = r.field("state").as_str().is_none_or(|s| s == "active");
        if !active || !target.starts_with("igw-") || !is_world(dest) {
            continue;
        }
        let slot = if dest.contains(':') { &mut routes.v6 } else { &mut routes.v4 };
        slot.get_or_insert_with(|| format!("{dest} → {target}"));
    }
    routes
}

fn reachable(asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
    let a = asset.attributes.root();
    if !matches!(a.field("state").field("name").as_str(), Some("running" | "pending")) {
        return Outcome::NotApplicable;
    }
    let v4 = a.field("public_ip").as_str();
    let v6 = strings(a.field("ipv6_addresses"));
    if v4.is_none() && v6.is_empty() {
        return Outcome::Pass;
    }
    let Some(subnet_id) = a.field("subnet_id").as_str() else {
        return Outcome::error("the instance has no subnet, so its routes are unknown");
    };
    let Some(subnet) = ctx.related(asset, SUBNET, subnet_id) else {
        return Outcome::error(format!("subnet {subnet_id} is not in the inventory"));
    };
    let routes = internet_routes(ctx, asset, subnet);
    let v4_route = v4.zip(routes.v4.as_deref());
    let v6_route = v6.first().copied().zip(routes.v6.as_deref());
    if v4_route.is_none() && v6_route.is_none() {
        return Outcome::Pass;
    }
    let mut open = Vec::new();
    let mut missing = Vec::new();
    for sg_id in strings(a.field("security_group_ids")) {
        let Some(sg) = ctx.related(asset, SECURITY_GROUP, sg_id) else {
            missing.push(sg_id);
            continue;
        };
        for rule in Ingress::of(sg.attributes.root()) {
            let family_routed = if rule.is_ipv6() { v6_route.is_some() } else { v4_route.is_some() };
            if rule.is_world_open() && rule.carries_ports() && family_routed {
                open.push(format!("security group {sg_id} allows {rule}"));
            }
        }
    }
    if open.is_empty() {
        return if missing.is_empty() {
            Outcome::Pass
        } else {
            Outcome::error(format!("security groups not in the inventory: {}", missing.join(", ")))
        };
    }
    let mut path = Vec::new();
    if let Some((ip, route)) = v4_route {
        path.push(format!("public IP {ip} ({route})"));
    }
    if let Some((ip, route)) = v6_route {
        path.push(format!("IPv6 address {ip} ({route})"));
    }
    Outcome::fail_with(
        format!(
            "instance {} is reachable from the internet: {} in subnet {subnet_id}; {}",
            asset.id.resource_id,
            path.join(" and "),
            open.join("; ")
        ),
        json!({"subnet": subnet_id, "paths": path, "open": open}),
    )
}

fn long_stopped(days: u32) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("long-stopped", [INSTANCE], move |asset: &Asset, ctx: &EvalContext<'_>| {
        let a: Attr<'_> = asset.attributes.root();
        if a.field("state").field("name").as_str() != Some("stopped") {
            return Outcome::NotApplicable;
        }
        let Some(since) = time(a.field("state_transition_time")) else {
            return Outcome::error(format!(
                "the instance is stopped but AWS gives no time for it (state transition reason: {})",
                a.field("state_transition_reason").as_str().unwrap_or("none")
            ));
        };
        let stopped = days_since(since, ctx.now());
        Outcome::check(stopped < i64::from(days), || {
            format!(
                "instance {} has been stopped for {stopped} days (since {}), longer than {days} days",
                asset.id.resource_id,
                since.format("%Y-%m-%d")
            )
        })
    })
}

pub(crate) fn policies(config: &PackConfig) -> Vec<Policy> {
    vec![
        Policy::new(
            meta(
                "aws-ec2-instance-public-ip",
                "Instance has a public IP address",
                Severity::Medium,
                Category::Security,
                "An instance with a public IPv4 address (auto-assigned or elastic) is one security group rule away \
                 from exposure; most instances belong in private subnets behind a load balancer or NAT.",
                "Launch the instance in a private subnet without a public address, or release its elastic IP.",
            ),
            declarative(
                "public-ip",
                &[INSTANCE],
                None,
                Check::FailWhen("{path: public_ip, exists: true}"),
                "instance {resource_id} has the public IP {public_ip}",
            ),
        ),
        Policy::new(
            meta(
                "aws-ec2-instance-internet-reachable",
                "Instance is reachable from the internet",
                Severity::High,
                Category::Security,
                "A running instance is reachable when it has a public address, its subnet routes 0.0.0.0/0 (or \
                 ::/0 for IPv6) to an internet gateway, and one of its security groups allows TCP, UDP or all \
                 traffic from 0.0.0.0/0 (or ::/0) — the address family of route, address and rule agreeing. \
                 The subnet, route table and security groups are read from the inventory.",
                "Remove the public address, move the instance to a private subnet, or narrow its security groups.",
            )
            .with_fix("sg-revoke-world-ingress"),
            FnRule::new("reachable", [INSTANCE], reachable),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-ec2-instance-imdsv1",
                    "Instance allows IMDSv1",
                    Severity::Medium,
                    Category::Security,
                    "With http_tokens `optional` the instance metadata service answers IMDSv1 requests, which \
                     server-side request forgery can abuse to steal the instance role's credentials.",
                    "Set the instance's metadata options to http_tokens `required` (IMDSv2 only).",
                ),
                &[],
                &["5.6"],
            )
            .with_fix("ec2-require-imdsv2"),
            declarative(
                "imdsv1",
                &[INSTANCE],
                Some("{path: metadata_options.http_endpoint, ne: disabled}"),
                Check::FailWhen("{path: metadata_options.http_tokens, ne: required}"),
                "instance {resource_id} allows IMDSv1 (http_tokens {metadata_options.http_tokens})",
            ),
        ),
        Policy::new(
            meta(
                "aws-ec2-instance-long-stopped",
                "Instance stopped for a long time",
                Severity::Low,
                Category::Cost,
                "An instance stopped for longer than the configured days (30 by default) still pays for its \
                 volumes and elastic IPs and is likely abandoned.",
                "Snapshot what must be kept, then terminate the instance.",
            ),
            long_stopped(config.long_stopped_days),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-ec2-instance-no-iam-role",
                    "Running instance has no IAM role",
                    Severity::Low,
                    Category::Governance,
                    "Instances that call AWS should use an instance role, whose credentials rotate by themselves, \
                     rather than access keys stored on disk; an instance without a profile suggests the latter.",
                    "Attach an instance profile with a least-privilege role and remove stored access keys.",
                ),
                &["1.18"],
                &["1.18"],
            ),
            declarative(
                "no-role",
                &[INSTANCE],
                Some("{path: state.name, eq: running}"),
                Check::FailWhen("{path: iam_instance_profile_arn, absent: true}"),
                "running instance {resource_id} has no IAM instance profile",
            ),
        ),
        Policy::new(
            meta(
                "aws-ec2-eip-unassociated",
                "Elastic IP is not associated",
                Severity::Low,
                Category::Cost,
                "An elastic IP that is not attached to an instance or network interface is billed for nothing.",
                "Release the address, or associate it with the resource that needs it.",
            )
            .with_fix("ec2-release-eip"),
            declarative(
                "unassociated",
                &[ADDRESS],
                None,
                Check::FailWhen("{path: associated, ne: true}"),
                "elastic IP {public_ip} ({resource_id}) is not associated with anything",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-vpc-flow-logs-off",
                    "VPC flow logging is off",
                    Severity::Medium,
                    Category::Governance,
                    "Without an active flow log there is no record of the traffic in the VPC to investigate an \
                     incident with.",
                    "Create a flow log for the VPC (at least rejected traffic) to CloudWatch Logs or S3.",
                ),
                &["3.9"],
                &["3.7"],
            )
            .with_fix("vpc-enable-flow-logs"),
            declarative(
                "flow-logs",
                &[VPC],
                None,
                Check::PassWhen("{path: 'flow_logs[*].status', eq: ACTIVE}"),
                "VPC {resource_id} has no active flow log",
            ),
        ),
    ]
}
