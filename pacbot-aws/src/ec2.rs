//! EC2 and VPC discovery for one account and region: instances, security
//! groups, volumes, snapshots, VPCs, subnets, route tables, elastic IPs and
//! the region's EBS default encryption.
//!
//! Every list is one paginated call (page size at its maximum); the only
//! per-resource call is `DescribeSnapshotAttribute` (who may create volumes
//! from a snapshot), which no list call carries.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{self as t, Filter, SnapshotAttributeName};
use futures::{StreamExt, TryStreamExt, stream};
use pacbot_core::Discovery;

use crate::collect::{Place, finish, first_err, owned, strings, time};
use crate::error::Error;
use crate::shapes::{self, kind};

type R<T> = Result<T, Error>;

/// Collects one region. `wants` says which kinds to collect.
pub(crate) async fn collect(
    client: &Client,
    place: &Place,
    wants: &(dyn Fn(&str) -> bool + Sync),
    concurrency: usize,
) -> Vec<Discovery> {
    let w = |k: &str| wants(k);
    let need_sg = w(kind::SECURITY_GROUP);
    let need_rt = w(kind::ROUTE_TABLE) || w(kind::SUBNET);
    let need_vpc = w(kind::VPC);
    let (instances, sgs, enis, volumes, snapshots, vpcs, igws, flow_logs, subnets, route_tables, addresses, ebs) = futures::join!(
        when(w(kind::INSTANCE), instances(client, place)),
        when(need_sg, security_groups(client, place)),
        when(need_sg, network_interfaces(client, place)),
        when(w(kind::VOLUME), volumes(client, place)),
        when(w(kind::SNAPSHOT), snapshots(client, place, concurrency)),
        when(need_vpc, vpcs(client, place)),
        when(need_vpc, internet_gateways(client, place)),
        when(need_vpc, flow_logs(client, place)),
        when(w(kind::SUBNET), subnets(client, place)),
        when(need_rt, route_tables(client, place)),
        when(w(kind::ADDRESS), addresses(client, place)),
        when(w(kind::EC2_ACCOUNT_SETTINGS), ebs_default(client, place)),
    );
    let mut out = Vec::new();
    let mut emit = |k: &str, deps: &[Option<&Error>], build: &dyn Fn() -> Vec<Discovery>| {
        if w(k) {
            let scope = place.scope(k);
            match first_err(deps) {
                Some(e) => finish(&mut out, scope, Err(e)),
                None => finish::<&Error>(&mut out, scope, Ok(build())),
            }
        }
    };
    emit(kind::INSTANCE, &[instances.as_ref().err()], &|| {
        instances.as_ref().map(|v| v.iter().map(|i| instance(place, i)).collect()).unwrap_or_default()
    });
    emit(kind::SECURITY_GROUP, &[sgs.as_ref().err(), enis.as_ref().err()], &|| match (&sgs, &enis) {
        (Ok(sgs), Ok(enis)) => security_group_assets(place, sgs, enis),
        _ => Vec::new(),
    });
    emit(kind::VOLUME, &[volumes.as_ref().err()], &|| {
        volumes.as_ref().map(|v| v.iter().map(|x| volume(place, x)).collect()).unwrap_or_default()
    });
    emit(kind::SNAPSHOT, &[snapshots.as_ref().err()], &|| {
        snapshots.as_ref().map(|v| v.iter().map(|(s, p)| snapshot(place, s, p)).collect()).unwrap_or_default()
    });
    emit(kind::VPC, &[vpcs.as_ref().err(), igws.as_ref().err(), flow_logs.as_ref().err()], &|| match (
        &vpcs, &igws, &flow_logs,
    ) {
        (Ok(v), Ok(i), Ok(f)) => vpc_assets(place, v, i, f),
        _ => Vec::new(),
    });
    emit(kind::SUBNET, &[subnets.as_ref().err(), route_tables.as_ref().err()], &|| match (&subnets, &route_tables) {
        (Ok(s), Ok(r)) => subnet_assets(place, s, r),
        _ => Vec::new(),
    });
    emit(kind::ROUTE_TABLE, &[route_tables.as_ref().err()], &|| {
        route_tables.as_ref().map(|v| v.iter().map(|x| route_table(place, x)).collect()).unwrap_or_default()
    });
    emit(kind::ADDRESS, &[addresses.as_ref().err()], &|| {
        addresses.as_ref().map(|v| v.iter().filter_map(|x| address(place, x)).collect()).unwrap_or_default()
    });
    emit(kind::EC2_ACCOUNT_SETTINGS, &[ebs.as_ref().err()], &|| match &ebs {
        Ok(Some(on)) => vec![place.asset(
            kind::EC2_ACCOUNT_SETTINGS,
            &place.region,
            None,
            &shapes::Ec2AccountSettings { ebs_encryption_by_default: *on },
            [],
        )],
        _ => Vec::new(),
    });
    out
}

/// Runs `f` only when wanted (an unwanted list is empty).
async fn when<T: Default>(wanted: bool, f: impl Future<Output = R<T>>) -> R<T> {
    if wanted { f.await } else { Ok(T::default()) }
}

fn tags(tags: &[t::Tag]) -> Vec<(String, String)> {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

fn name_tag(tags: &[t::Tag]) -> Option<&str> {
    tags.iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value())
}

// ---- calls -------------------------------------------------------------

/// One paginated list call, every page at the maximum size.
macro_rules! list_all {
    ($($name:ident: $item:ident = $method:ident($op:literal, $max:literal);)*) => {$(
        async fn $name(c: &Client, p: &Place) -> R<Vec<t::$item>> {
            let call = p.call("ec2", $op);
            c.$method().max_results($max).into_paginator().items().send().try_collect().await.map_err(|e| call.error(e))
        }
    )*};
}

list_all! {
    instances_raw: Reservation = describe_instances("DescribeInstances", 1000);
    security_groups: SecurityGroup = describe_security_groups("DescribeSecurityGroups", 1000);
    network_interfaces: NetworkInterface = describe_network_interfaces("DescribeNetworkInterfaces", 1000);
    volumes: Volume = describe_volumes("DescribeVolumes", 500);
    vpcs: Vpc = describe_vpcs("DescribeVpcs", 1000);
    internet_gateways: InternetGateway = describe_internet_gateways("DescribeInternetGateways", 1000);
    flow_logs: FlowLog = describe_flow_logs("DescribeFlowLogs", 1000);
    subnets: Subnet = describe_subnets("DescribeSubnets", 1000);
    route_tables: RouteTable = describe_route_tables("DescribeRouteTables", 100);
}

async fn instances(c: &Client, p: &Place) -> R<Vec<t::Instance>> {
    let reservations = instances_raw(c, p).await?;
    Ok(reservations
        .into_iter()
        .flat_map(|r| r.instances.unwrap_or_default())
        .filter(|i| !matches!(i.state().and_then(|s| s.name()), Some(t::InstanceStateName::Terminated)))
        .collect())
}

async fn snapshots(c: &Client, p: &Place, concurrency: usize) -> R<Vec<(t::Snapshot, Vec<t::CreateVolumePermission>)>> {
    let call = p.call("ec2", "DescribeSnapshots");
    let owner = Filter::builder().name("owner-id").values(&p.account).build();
    let snaps: Vec<t::Snapshot> = c
        .describe_snapshots()
        .filters(owner)
        .max_results(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| call.error(e))?;
    let attr_call = p.call("ec2", "DescribeSnapshotAttribute");
    stream::iter(snaps)
        .map(|s| async move {
            let id = s.snapshot_id().unwrap_or_default().to_owned();
            let out = c
                .describe_snapshot_attribute()
                .snapshot_id(id)
                .attribute(SnapshotAttributeName::CreateVolumePermission)
                .send()
                .await;
            match out {
                Ok(o) => Ok((s, o.create_volume_permissions.unwrap_or_default())),
                Err(e) => {
                    let e = attr_call.error(e);
                    // Deleted between the list and this call: gone, not failed.
                    if e.kind() == Some(crate::FailureKind::NotFound) { Ok((s, Vec::new())) } else { Err(e) }
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await
}

async fn addresses(c: &Client, p: &Place) -> R<Vec<t::Address>> {
    let call = p.call("ec2", "DescribeAddresses");
    let out = c.describe_addresses().send().await.map_err(|e| call.error(e))?;
    Ok(out.addresses.unwrap_or_default())
}

async fn ebs_default(c: &Client, p: &Place) -> R<Option<bool>> {
    let call = p.call("ec2", "GetEbsEncryptionByDefault");
    let out = c.get_ebs_encryption_by_default().send().await.map_err(|e| call.error(e))?;
    Ok(Some(out.ebs_encryption_by_default().unwrap_or(false)))
}

// ---- shapes ------------------------------------------------------------

fn instance(p: &Place, i: &t::Instance) -> Discovery {
    let id = i.instance_id().unwrap_or_default();
    let reason = i.state_transition_reason().filter(|r| !r.is_empty());
    let meta = i.metadata_options();
    let attrs = shapes::Instance {
        instance_id: id.to_owned(),
        instance_type: i.instance_type().map(|x| x.as_str().to_owned()),
        image_id: owned(i.image_id()),
        state: shapes::InstanceState {
            name: i.state().and_then(|s| s.name()).map_or("unknown", |n| n.as_str()).to_owned(),
            code: i.state().and_then(|s| s.code()),
        },
        state_transition_reason: reason.map(str::to_owned),
        state_transition_time: reason.and_then(transition_time),
        launch_time: time(i.launch_time()),
        public_ip: owned(i.public_ip_address()),
        public_dns_name: owned(i.public_dns_name().filter(|s| !s.is_empty())),
        private_ip: owned(i.private_ip_address()),
        ipv6_addresses: i
            .network_interfaces()
            .iter()
            .flat_map(|n| n.ipv6_addresses().iter().filter_map(|a| a.ipv6_address()))
            .map(str::to_owned)
            .collect(),
        vpc_id: owned(i.vpc_id()),
        subnet_id: owned(i.subnet_id()),
        security_group_ids: instance_groups(i),
        iam_instance_profile_arn: owned(i.iam_instance_profile().and_then(|p| p.arn())),
        key_name: owned(i.key_name()),
        platform: i.platform().map(|x| x.as_str().to_owned()),
        monitoring: i.monitoring().and_then(|m| m.state()).map(|s| s.as_str().to_owned()),
        metadata_options: shapes::MetadataOptions {
            http_tokens: meta.and_then(|m| m.http_tokens()).map(|x| x.as_str().to_owned()),
            http_endpoint: meta.and_then(|m| m.http_endpoint()).map(|x| x.as_str().to_owned()),
            http_put_response_hop_limit: meta.and_then(|m| m.http_put_response_hop_limit()),
        },
        volume_ids: strings(i.block_device_mappings().iter().map(|b| b.ebs().and_then(|e| e.volume_id()))),
        network_interface_ids: strings(i.network_interfaces().iter().map(|n| n.network_interface_id())),
    };
    p.asset(kind::INSTANCE, id, name_tag(i.tags()), &attrs, tags(i.tags()))
}

/// The instance's security groups, with those of its network interfaces
/// (where AWS records them for instances launched with interface settings).
fn instance_groups(i: &t::Instance) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = i.security_groups().iter().chain(i.network_interfaces().iter().flat_map(|n| n.groups()));
    for g in all.filter_map(|g| g.group_id()) {
        if !out.iter().any(|x| x == g) {
            out.push(g.to_owned());
        }
    }
    out
}

/// The time in a state-transition reason such as
/// `User initiated (2026-01-01 10:00:00 GMT)`.
pub(crate) fn transition_time(reason: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let start = reason.rfind('(')? + 1;
    let end = start + reason.get(start..)?.find(')')?;
    let inner = reason.get(start..end)?.trim();
    let inner = inner.strip_suffix(" GMT").or_else(|| inner.strip_suffix(" UTC")).unwrap_or(inner);
    chrono::NaiveDateTime::parse_from_str(inner, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc())
}

/// The protocol as the shape writes it.
fn protocol(p: Option<&str>) -> String {
    match p.unwrap_or("-1").to_ascii_lowercase().as_str() {
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "58" => "icmpv6".to_owned(),
        "all" => "-1".to_owned(),
        other => other.to_owned(),
    }
}

/// Flattens rules: one entry per (protocol, ports, source).
pub(crate) fn flatten_rules(perms: &[t::IpPermission]) -> Vec<shapes::SgRule> {
    let mut out = Vec::new();
    for perm in perms {
        let protocol = protocol(perm.ip_protocol());
        let (from_port, to_port) = if protocol == "-1" {
            (0, 65535)
        } else {
            let from = perm.from_port().unwrap_or(-1);
            let to = perm.to_port().unwrap_or(from);
            if (protocol == "tcp" || protocol == "udp") && from == -1 { (0, 65535) } else { (from, to) }
        };
        let rule =
            |cidr: Option<&str>, ipv6: bool, group: Option<(&str, Option<&str>)>, pl: Option<&str>, d: Option<&str>| {
                shapes::SgRule {
                    protocol: protocol.clone(),
                    from_port,
                    to_port,
                    cidr: owned(cidr),
                    ipv6,
                    group_id: group.map(|g| g.0.to_owned()),
                    group_owner_id: group.and_then(|g| g.1).map(str::to_owned),
                    prefix_list_id: owned(pl),
                    description: owned(d.filter(|d| !d.is_empty())),
                }
            };
        for r in perm.ip_ranges() {
            out.push(rule(r.cidr_ip(), false, None, None, r.description()));
        }
        for r in perm.ipv6_ranges() {
            out.push(rule(r.cidr_ipv6(), true, None, None, r.description()));
        }
        for g in perm.user_id_group_pairs() {
            if let Some(gid) = g.group_id() {
                out.push(rule(None, false, Some((gid, g.user_id())), None, g.description()));
            }
        }
        for pl in perm.prefix_list_ids() {
            out.push(rule(None, false, None, pl.prefix_list_id(), pl.description()));
        }
    }
    out
}

fn security_group_assets(p: &Place, sgs: &[t::SecurityGroup], enis: &[t::NetworkInterface]) -> Vec<Discovery> {
    let mut uses: HashMap<&str, u64> = HashMap::new();
    for eni in enis {
        let groups: BTreeSet<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        for g in groups {
            *uses.entry(g).or_default() += 1;
        }
    }
    let mut referenced_by: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for sg in sgs {
        let Some(me) = sg.group_id() else { continue };
        for perm in sg.ip_permissions().iter().chain(sg.ip_permissions_egress()) {
            for pair in perm.user_id_group_pairs() {
                if let Some(other) = pair.group_id().filter(|o| *o != me) {
                    referenced_by.entry(other).or_default().insert(me);
                }
            }
        }
    }
    sgs.iter()
        .filter_map(|sg| {
            let id = sg.group_id()?;
            let attrs = shapes::SecurityGroup {
                group_id: id.to_owned(),
                group_name: owned(sg.group_name()),
                description: owned(sg.description()),
                vpc_id: owned(sg.vpc_id()),
                owner_id: owned(sg.owner_id()),
                is_default: sg.group_name() == Some("default"),
                ingress: flatten_rules(sg.ip_permissions()),
                egress: flatten_rules(sg.ip_permissions_egress()),
                network_interface_count: uses.get(id).copied().unwrap_or(0),
                referenced_by: referenced_by
                    .get(id)
                    .map(|s| s.iter().map(|x| (*x).to_owned()).collect())
                    .unwrap_or_default(),
            };
            Some(p.asset(kind::SECURITY_GROUP, id, sg.group_name(), &attrs, tags(sg.tags())))
        })
        .collect()
}

fn volume(p: &Place, v: &t::Volume) -> Discovery {
    let id = v.volume_id().unwrap_or_default();
    let attrs = shapes::Volume {
        volume_id: id.to_owned(),
        volume_type: v.volume_type().map(|x| x.as_str().to_owned()),
        size_gib: v.size(),
        iops: v.iops(),
        state: v.state().map(|x| x.as_str().to_owned()),
        encrypted: v.encrypted().unwrap_or(false),
        kms_key_id: owned(v.kms_key_id()),
        snapshot_id: owned(v.snapshot_id().filter(|s| !s.is_empty())),
        availability_zone: owned(v.availability_zone()),
        create_time: time(v.create_time()),
        attachments: v
            .attachments()
            .iter()
            .map(|a| shapes::VolumeAttachment {
                instance_id: owned(a.instance_id()),
                device: owned(a.device()),
                state: a.state().map(|x| x.as_str().to_owned()),
                delete_on_termination: a.delete_on_termination(),
            })
            .collect(),
    };
    p.asset(kind::VOLUME, id, name_tag(v.tags()), &attrs, tags(v.tags()))
}

fn snapshot(p: &Place, s: &t::Snapshot, perms: &[t::CreateVolumePermission]) -> Discovery {
    let id = s.snapshot_id().unwrap_or_default();
    let permissions: Vec<shapes::CreateVolumePermission> = perms
        .iter()
        .map(|x| shapes::CreateVolumePermission {
            group: x.group().map(|g| g.as_str().to_owned()),
            user_id: owned(x.user_id()),
        })
        .collect();
    let attrs = shapes::Snapshot {
        snapshot_id: id.to_owned(),
        volume_id: owned(s.volume_id()),
        volume_size_gib: s.volume_size(),
        state: s.state().map(|x| x.as_str().to_owned()),
        encrypted: s.encrypted().unwrap_or(false),
        kms_key_id: owned(s.kms_key_id()),
        owner_id: owned(s.owner_id()),
        description: owned(s.description().filter(|d| !d.is_empty())),
        start_time: time(s.start_time()),
        public: permissions.iter().any(|x| x.group.as_deref() == Some("all")),
        create_volume_permissions: permissions,
    };
    p.asset(kind::SNAPSHOT, id, name_tag(s.tags()), &attrs, tags(s.tags()))
}

fn vpc_assets(p: &Place, vpcs: &[t::Vpc], igws: &[t::InternetGateway], logs: &[t::FlowLog]) -> Vec<Discovery> {
    let mut gateways: HashMap<&str, Vec<String>> = HashMap::new();
    for igw in igws {
        let Some(id) = igw.internet_gateway_id() else { continue };
        for a in igw.attachments() {
            if let Some(v) = a.vpc_id() {
                gateways.entry(v).or_default().push(id.to_owned());
            }
        }
    }
    let mut flow: HashMap<&str, Vec<shapes::FlowLog>> = HashMap::new();
    for l in logs {
        if let Some(r) = l.resource_id() {
            flow.entry(r).or_default().push(shapes::FlowLog {
                flow_log_id: owned(l.flow_log_id()),
                status: owned(l.flow_log_status()),
                traffic_type: l.traffic_type().map(|x| x.as_str().to_owned()),
            });
        }
    }
    vpcs.iter()
        .filter_map(|v| {
            let id = v.vpc_id()?;
            let attrs = shapes::Vpc {
                vpc_id: id.to_owned(),
                cidr_block: owned(v.cidr_block()),
                ipv6_cidr_blocks: strings(v.ipv6_cidr_block_association_set().iter().map(|a| a.ipv6_cidr_block())),
                is_default: v.is_default().unwrap_or(false),
                state: v.state().map(|x| x.as_str().to_owned()),
                owner_id: owned(v.owner_id()),
                instance_tenancy: v.instance_tenancy().map(|x| x.as_str().to_owned()),
                internet_gateway_ids: gateways.remove(id).unwrap_or_default(),
                flow_logs: flow.remove(id).unwrap_or_default(),
            };
            Some(p.asset(kind::VPC, id, name_tag(v.tags()), &attrs, tags(v.tags())))
        })
        .collect()
}

/// The target of a route: the id of whatever it leads to.
fn route_target(r: &t::Route) -> Option<&str> {
    r.gateway_id()
        .or(r.nat_gateway_id())
        .or(r.transit_gateway_id())
        .or(r.vpc_peering_connection_id())
        .or(r.egress_only_internet_gateway_id())
        .or(r.network_interface_id())
        .or(r.instance_id())
        .or(r.local_gateway_id())
        .or(r.carrier_gateway_id())
        .or(r.core_network_arn())
}

fn routes(rt: &t::RouteTable) -> Vec<shapes::Route> {
    rt.routes()
        .iter()
        .map(|r| shapes::Route {
            destination: owned(
                r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).or(r.destination_prefix_list_id()),
            ),
            target: owned(route_target(r)),
            state: r.state().map(|x| x.as_str().to_owned()),
        })
        .collect()
}

fn is_main(rt: &t::RouteTable) -> bool {
    rt.associations().iter().any(|a| a.main() == Some(true))
}

fn route_table(p: &Place, rt: &t::RouteTable) -> Discovery {
    let id = rt.route_table_id().unwrap_or_default();
    let attrs = shapes::RouteTable {
        route_table_id: id.to_owned(),
        vpc_id: owned(rt.vpc_id()),
        main: is_main(rt),
        subnet_ids: strings(rt.associations().iter().map(|a| a.subnet_id())),
        routes: routes(rt),
    };
    p.asset(kind::ROUTE_TABLE, id, name_tag(rt.tags()), &attrs, tags(rt.tags()))
}

/// Whether a table routes the whole internet (IPv4 or IPv6) to an internet gateway.
fn routes_to_igw(rt: &t::RouteTable) -> bool {
    rt.routes().iter().any(|r| {
        let world = matches!(r.destination_cidr_block(), Some("0.0.0.0/0"))
            || matches!(r.destination_ipv6_cidr_block(), Some("::/0"));
        let igw = r.gateway_id().is_some_and(|g| g.starts_with("igw-"));
        let active = !matches!(r.state(), Some(t::RouteState::Blackhole));
        world && igw && active
    })
}

fn subnet_assets(p: &Place, subnets: &[t::Subnet], tables: &[t::RouteTable]) -> Vec<Discovery> {
    let mut explicit: HashMap<&str, &t::RouteTable> = HashMap::new();
    let mut main: BTreeMap<&str, &t::RouteTable> = BTreeMap::new();
    for rt in tables {
        for a in rt.associations() {
            if let Some(s) = a.subnet_id() {
                explicit.insert(s, rt);
            }
        }
        if let (true, Some(vpc)) = (is_main(rt), rt.vpc_id()) {
            main.insert(vpc, rt);
        }
    }
    subnets
        .iter()
        .filter_map(|s| {
            let id = s.subnet_id()?;
            let (table, is_explicit) = match explicit.get(id) {
                Some(rt) => (Some(*rt), true),
                None => (s.vpc_id().and_then(|v| main.get(v).copied()), false),
            };
            let attrs = shapes::Subnet {
                subnet_id: id.to_owned(),
                vpc_id: owned(s.vpc_id()),
                cidr_block: owned(s.cidr_block()),
                ipv6_cidr_blocks: strings(s.ipv6_cidr_block_association_set().iter().map(|a| a.ipv6_cidr_block())),
                availability_zone: owned(s.availability_zone()),
                state: s.state().map(|x| x.as_str().to_owned()),
                default_for_az: s.default_for_az().unwrap_or(false),
                map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
                route_table_id: owned(table.and_then(|t| t.route_table_id())),
                route_table_explicit: is_explicit,
                routes_to_internet_gateway: table.is_some_and(routes_to_igw),
            };
            Some(p.asset(kind::SUBNET, id, name_tag(s.tags()), &attrs, tags(s.tags())))
        })
        .collect()
}

fn address(p: &Place, a: &t::Address) -> Option<Discovery> {
    let id = a.allocation_id().or(a.public_ip())?;
    let attrs = shapes::Address {
        allocation_id: owned(a.allocation_id()),
        public_ip: owned(a.public_ip()),
        domain: a.domain().map(|x| x.as_str().to_owned()),
        associated: a.association_id().is_some() || a.instance_id().is_some_and(|i| !i.is_empty()),
        association_id: owned(a.association_id()),
        instance_id: owned(a.instance_id().filter(|i| !i.is_empty())),
        network_interface_id: owned(a.network_interface_id()),
        private_ip: owned(a.private_ip_address()),
    };
    Some(p.asset(kind::ADDRESS, id, name_tag(a.tags()), &attrs, tags(a.tags())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_times_parse() {
        let t = transition_time("User initiated (2026-01-02 10:00:00 GMT)").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-02T10:00:00+00:00");
        assert!(transition_time("").is_none());
        assert!(transition_time("Server.SpotInstanceTermination").is_none());
        assert!(transition_time("weird (").is_none());
    }

    #[test]
    fn rules_flatten_per_source_and_all_traffic_spans_every_port() {
        let perm = t::IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(t::IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ipv6_ranges(t::Ipv6Range::builder().cidr_ipv6("::/0").build())
            .user_id_group_pairs(t::UserIdGroupPair::builder().group_id("sg-2").user_id("1").build())
            .build();
        let tcp = t::IpPermission::builder()
            .ip_protocol("6")
            .from_port(20)
            .to_port(23)
            .ip_ranges(t::IpRange::builder().cidr_ip("10.0.0.0/8").description("").build())
            .build();
        let rules = flatten_rules(&[perm, tcp]);
        assert_eq!(rules.len(), 4);
        assert!(rules[..3].iter().all(|r| r.protocol == "-1" && r.from_port == 0 && r.to_port == 65535));
        assert_eq!(rules[1].cidr.as_deref(), Some("::/0"));
        assert!(rules[1].ipv6);
        assert_eq!(rules[2].group_id.as_deref(), Some("sg-2"));
        assert_eq!((rules[3].protocol.as_str(), rules[3].from_port, rules[3].to_port), ("tcp", 20, 23));
        assert_eq!(rules[3].description, None);
    }
}
