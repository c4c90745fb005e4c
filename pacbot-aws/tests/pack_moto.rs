//! The whole AWS pack end to end against moto: one account seeded with the
//! SDK with a deliberate mix of good and bad resources (and decoys), found by
//! `AwsConnector` through `sts:AssumeRole`, evaluated by pacbot-core's engine
//! with every policy of `pacbot_aws::policies`; the exact set of
//! (policy, asset) violations is asserted, and for a few policies the exact
//! set of passing assets.
//!
//! The account is `ACCOUNT` (not the caller's own), reached through an assumed
//! role as a multi-account scan would, so it shares nothing with the other
//! tests' account.
//!
//! What moto cannot represent (so the rule-case files in `tests/cases/` cover
//! it instead):
//! - access-key and password ages and last use: `CreateDate` cannot be set and
//!   keys are never "used"; the pack is evaluated at discovery time + 60 days
//!   (keys then unused, not yet old) and again at + 100 days (old);
//! - the root user: account MFA is always off in moto and root has no keys,
//!   so `aws-iam-root-mfa-off` and `aws-iam-root-hardware-mfa-off` always
//!   fail and `aws-iam-root-access-keys` always passes;
//! - MFA delete on versioned buckets (moto keeps no `MFADelete` state we can
//!   set without an MFA device), so every bucket fails `aws-s3-mfa-delete-off`;
//! - the default VPC moto creates in every region (no flow logs, a default
//!   group with rules) is part of the estate, as it would be in AWS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::types as ec2t;
use aws_sdk_iam::types as iamt;
use aws_sdk_s3::types as s3t;
use common::{connector, discover, runtime, sdk_config, serial};
use pacbot_aws::pack::{self, PackConfig};
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{FaultProxy, Match, moto_url, reset_moto};
use pacbot_core::chrono::{Duration, Utc};
use pacbot_core::{Discovered, Engine, Evaluation, FindingOutcome};

/// The scanned account, reached through `sts:AssumeRole`.
const ACCOUNT: &str = "444455556666";
const AMI: &str = "ami-12c6146b";
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn ec2(conf: &SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(conf).region(Region::new(region.to_owned())).build(),
    )
}

fn s3(conf: &SdkConfig, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf).region(Region::new(region.to_owned())).force_path_style(true).build(),
    )
}

fn tags(resource: ec2t::ResourceType, pairs: &[(&str, &str)]) -> ec2t::TagSpecification {
    let mut b = ec2t::TagSpecification::builder().resource_type(resource);
    for (k, v) in pairs {
        b = b.tags(ec2t::Tag::builder().key(*k).value(*v).build());
    }
    b.build()
}

fn owned_by(resource: ec2t::ResourceType) -> ec2t::TagSpecification {
    tags(resource, &[("Owner", "ops")])
}

/// The ids moto gave the seeded resources, by a name of the test's own.
#[derive(Debug, Default)]
struct Ids(BTreeMap<&'static str, String>);

impl Ids {
    fn set(&mut self, name: &'static str, id: &str) {
        self.0.insert(name, id.to_owned());
    }

    fn get(&self, name: &str) -> &str {
        self.0.get(name).unwrap_or_else(|| panic!("no id `{name}`"))
    }
}

async fn seed_s3(conf: &SdkConfig) {
    let us = s3(conf, US);
    let names = ["pm-acl-read", "pm-acl-write", "pm-policy-public", "pm-policy-own", "pm-website", "pm-good"];
    for name in names {
        us.create_bucket().bucket(name).send().await.unwrap();
        let owner = if name == "pm-website" { "owner" } else { "Owner" }; // a lower-case decoy
        us.put_bucket_tagging()
            .bucket(name)
            .tagging(
                s3t::Tagging::builder()
                    .tag_set(s3t::Tag::builder().key(owner).value("web").build().unwrap())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let owner_id = "id=75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
    us.put_bucket_acl()
        .bucket("pm-acl-read")
        .grant_full_control(owner_id)
        .grant_read(format!("uri={ALL_USERS}"))
        .send()
        .await
        .unwrap();
    us.put_bucket_acl()
        .bucket("pm-acl-write")
        .grant_full_control(owner_id)
        .grant_write(format!("uri={AUTH_USERS}"))
        .grant_read_acp(format!("uri={ALL_USERS}"))
        .grant_write_acp(format!("uri={ALL_USERS}"))
        .send()
        .await
        .unwrap();
    let public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pm-policy-public/*"}}"#;
    us.put_bucket_policy().bucket("pm-policy-public").policy(public).send().await.unwrap();
    // Decoy: the own account and a Deny of plain HTTP to everyone are not public.
    let own = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pm-policy-own/*"}},{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::pm-policy-own","arn:aws:s3:::pm-policy-own/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#
    );
    us.put_bucket_policy().bucket("pm-policy-own").policy(own).send().await.unwrap();
    us.put_bucket_website()
        .bucket("pm-website")
        .website_configuration(
            s3t::WebsiteConfiguration::builder()
                .index_document(s3t::IndexDocument::builder().suffix("index.html").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    make_good(&us, "pm-good").await;

    // A good bucket in a region that is not approved.
    let eu = s3(conf, EU);
    eu.create_bucket()
        .bucket("pm-eu")
        .create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    eu.put_bucket_tagging()
        .bucket("pm-eu")
        .tagging(
            s3t::Tagging::builder()
                .tag_set(s3t::Tag::builder().key("Owner").value("data").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    make_good(&eu, "pm-eu").await;
}

/// Public access block, default encryption, versioning, access logging,
/// a policy denying plain HTTP, bucket-owner-enforced ownership.
async fn make_good(c: &aws_sdk_s3::Client, name: &str) {
    c.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            s3t::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            s3t::ServerSideEncryptionConfiguration::builder()
                .rules(
                    s3t::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            s3t::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(s3t::ServerSideEncryption::AwsKms)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    c.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            s3t::VersioningConfiguration::builder().status(s3t::BucketVersioningStatus::Enabled).build(),
        )
        .send()
        .await
        .unwrap();
    c.put_bucket_acl()
        .bucket(name)
        .grant_full_control("id=75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a")
        .grant_write("uri=http://acs.amazonaws.com/groups/s3/LogDelivery")
        .grant_read_acp("uri=http://acs.amazonaws.com/groups/s3/LogDelivery")
        .send()
        .await
        .unwrap();
    c.put_bucket_logging()
        .bucket(name)
        .bucket_logging_status(
            s3t::BucketLoggingStatus::builder()
                .logging_enabled(
                    s3t::LoggingEnabled::builder().target_bucket(name).target_prefix("logs/").build().unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let deny_http = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{name}","arn:aws:s3:::{name}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#
    );
    c.put_bucket_policy().bucket(name).policy(deny_http).send().await.unwrap();
    c.put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(
            s3t::OwnershipControls::builder()
                .rules(
                    s3t::OwnershipControlsRule::builder()
                        .object_ownership(s3t::ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

fn world_open(protocol: &str, from: i32, to: i32) -> ec2t::IpPermission {
    ec2t::IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(from)
        .to_port(to)
        .ip_ranges(ec2t::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

async fn seed_ec2(conf: &SdkConfig, ids: &mut Ids) {
    let c = ec2(conf, US);
    // A VPC with flow logs, an internet gateway, a public and a private subnet.
    let vpc = c
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(owned_by(ec2t::ResourceType::Vpc))
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    ids.set("vpc", &vpc);
    c.create_flow_logs()
        .resource_ids(&vpc)
        .resource_type(ec2t::FlowLogsResourceType::Vpc)
        .traffic_type(ec2t::TrafficType::All)
        .log_destination_type(ec2t::LogDestinationType::S3)
        .log_destination("arn:aws:s3:::pm-good")
        .send()
        .await
        .unwrap();
    let igw = c.create_internet_gateway().send().await.unwrap();
    let igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    c.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc).send().await.unwrap();
    let mut subnets = Vec::new();
    for cidr in ["10.0.1.0/24", "10.0.2.0/24"] {
        let s = c.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone("us-east-1a").send().await.unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let (public_subnet, private_subnet) = (subnets[0].clone(), subnets[1].clone());
    let rt = c.create_route_table().vpc_id(&vpc).send().await.unwrap();
    let rt = rt.route_table().unwrap().route_table_id().unwrap().to_owned();
    c.create_route().route_table_id(&rt).destination_cidr_block("0.0.0.0/0").gateway_id(&igw).send().await.unwrap();
    c.associate_route_table().route_table_id(&rt).subnet_id(&public_subnet).send().await.unwrap();

    // Security groups.
    let mut sg = async |name: &'static str, rules: Vec<ec2t::IpPermission>| {
        let id = c
            .create_security_group()
            .group_name(name)
            .description(name)
            .vpc_id(&vpc)
            .tag_specifications(owned_by(ec2t::ResourceType::SecurityGroup))
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_owned();
        if !rules.is_empty() {
            c.authorize_security_group_ingress().group_id(&id).set_ip_permissions(Some(rules)).send().await.unwrap();
        }
        ids.set(name, &id);
        id
    };
    let ssh = sg("sg-ssh", vec![world_open("tcp", 22, 22)]).await;
    // A range that contains 3389 (and no other listed port).
    let rdp_range = sg("sg-rdp-range", vec![world_open("tcp", 3380, 3400)]).await;
    let all = sg("sg-all", vec![world_open("-1", -1, -1)]).await;
    let v6 = sg(
        "sg-v6",
        vec![
            ec2t::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3389)
                .to_port(3389)
                .ipv6_ranges(ec2t::Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        ],
    )
    .await;
    // Decoys: HTTPS to the world is no admin port; a group only referenced is used.
    let https = sg("sg-https", vec![world_open("tcp", 443, 443)]).await;
    let referenced = sg("sg-referenced", vec![]).await;
    let db = sg(
        "sg-db",
        vec![
            ec2t::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .user_id_group_pairs(ec2t::UserIdGroupPair::builder().group_id(&referenced).build())
                .ip_ranges(ec2t::IpRange::builder().cidr_ip("10.0.0.0/16").build())
                .build(),
        ],
    )
    .await;
    sg("sg-unused", vec![]).await;

    // web: public IP, public subnet, world-open groups, IMDSv1, no IAM role.
    let web = c
        .run_instances()
        .image_id(AMI)
        .instance_type(ec2t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .network_interfaces(
            ec2t::InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(&public_subnet)
                .associate_public_ip_address(true)
                .groups(&ssh)
                .groups(&rdp_range)
                .groups(&all)
                .groups(&v6)
                .groups(&https)
                .build(),
        )
        .metadata_options(
            ec2t::InstanceMetadataOptionsRequest::builder().http_tokens(ec2t::HttpTokensState::Optional).build(),
        )
        .tag_specifications(owned_by(ec2t::ResourceType::Instance))
        .send()
        .await
        .unwrap();
    ids.set("i-web", web.instances()[0].instance_id().unwrap());
    // private: no public IP, IMDSv2 only, an instance profile.
    let private = c
        .run_instances()
        .image_id(AMI)
        .instance_type(ec2t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .network_interfaces(
            ec2t::InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(&private_subnet)
                .associate_public_ip_address(false)
                .groups(&db)
                .build(),
        )
        .iam_instance_profile(ec2t::IamInstanceProfileSpecification::builder().name("app").build())
        .metadata_options(
            ec2t::InstanceMetadataOptionsRequest::builder().http_tokens(ec2t::HttpTokensState::Required).build(),
        )
        .tag_specifications(owned_by(ec2t::ResourceType::Instance))
        .send()
        .await
        .unwrap();
    ids.set("i-private", private.instances()[0].instance_id().unwrap());
    // stopped: private, IMDSv2, stopped now (long stopped at the evaluation time).
    let stopped = c
        .run_instances()
        .image_id(AMI)
        .instance_type(ec2t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .network_interfaces(
            ec2t::InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(&private_subnet)
                .associate_public_ip_address(false)
                .groups(&db)
                .build(),
        )
        .metadata_options(
            ec2t::InstanceMetadataOptionsRequest::builder().http_tokens(ec2t::HttpTokensState::Required).build(),
        )
        .tag_specifications(owned_by(ec2t::ResourceType::Instance))
        .send()
        .await
        .unwrap();
    let stopped = stopped.instances()[0].instance_id().unwrap().to_owned();
    c.stop_instances().instance_ids(&stopped).send().await.unwrap();
    ids.set("i-stopped", &stopped);

    // Volumes: one unencrypted and unattached, one encrypted and attached.
    let loose = c
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .tag_specifications(owned_by(ec2t::ResourceType::Volume))
        .send()
        .await
        .unwrap();
    let loose = loose.volume_id().unwrap().to_owned();
    ids.set("vol-loose", &loose);
    let enc = c
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .encrypted(true)
        .tag_specifications(owned_by(ec2t::ResourceType::Volume))
        .send()
        .await
        .unwrap();
    let enc = enc.volume_id().unwrap().to_owned();
    ids.set("vol-enc", &enc);
    c.attach_volume().volume_id(&enc).instance_id(ids.get("i-private")).device("/dev/sdf").send().await.unwrap();

    // Snapshots: public and unencrypted; shared with an unknown account; private.
    let snap = async |volume: &str, name: &'static str, ids: &mut Ids| {
        let s = c
            .create_snapshot()
            .volume_id(volume)
            .tag_specifications(owned_by(ec2t::ResourceType::Snapshot))
            .send()
            .await
            .unwrap();
        ids.set(name, s.snapshot_id().unwrap());
        s.snapshot_id().unwrap().to_owned()
    };
    let public = snap(&loose, "snap-public", ids).await;
    c.modify_snapshot_attribute()
        .snapshot_id(&public)
        .attribute(ec2t::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(ec2t::OperationType::Add)
        .group_names("all")
        .send()
        .await
        .unwrap();
    let shared = snap(&enc, "snap-shared", ids).await;
    c.modify_snapshot_attribute()
        .snapshot_id(&shared)
        .attribute(ec2t::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(ec2t::OperationType::Add)
        .user_ids("999988887777")
        .send()
        .await
        .unwrap();
    snap(&enc, "snap-private", ids).await;

    // Elastic IPs: one free, one on the private instance.
    let eip = async |name: &'static str, ids: &mut Ids| {
        let a = c
            .allocate_address()
            .domain(ec2t::DomainType::Vpc)
            .tag_specifications(owned_by(ec2t::ResourceType::ElasticIp))
            .send()
            .await
            .unwrap();
        ids.set(name, a.allocation_id().unwrap());
        a.allocation_id().unwrap().to_owned()
    };
    eip("eip-free", ids).await;
    let used = eip("eip-used", ids).await;
    c.associate_address().allocation_id(&used).instance_id(ids.get("i-private")).send().await.unwrap();

    // EBS default encryption: on in eu-west-1 only.
    ec2(conf, EU).enable_ebs_encryption_by_default().send().await.unwrap();
}

const EVERYTHING: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
const EVERYTHING_DENIED: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*:*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_ANYONE: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

async fn seed_iam(conf: &SdkConfig) {
    let c = aws_sdk_iam::Client::new(conf);
    // The instance profile `app` (before the instances that use it).
    c.create_role().role_name("app").assume_role_policy_document(TRUST_EC2).send().await.unwrap();
    c.create_instance_profile().instance_profile_name("app").send().await.unwrap();
    c.add_role_to_instance_profile().instance_profile_name("app").role_name("app").send().await.unwrap();
    c.create_role().role_name("open-trust").assume_role_policy_document(TRUST_ANYONE).send().await.unwrap();

    for u in ["alice", "bob", "carol", "dave", "erin", "frank", "grace"] {
        let mut b = c.create_user().user_name(u);
        if u == "grace" {
            b = b.permissions_boundary(READ_ONLY);
        }
        b.send().await.unwrap();
    }
    // alice: console without MFA, two active keys, AdministratorAccess attached.
    c.create_login_profile().user_name("alice").password("Correct-Horse-1").send().await.unwrap();
    for _ in 0..2 {
        c.create_access_key().user_name("alice").send().await.unwrap();
    }
    c.attach_user_policy().user_name("alice").policy_arn(ADMIN).send().await.unwrap();
    // bob: administrator only through the group `admins`; console with a virtual MFA device.
    c.create_group().group_name("admins").send().await.unwrap();
    c.attach_group_policy().group_name("admins").policy_arn(ADMIN).send().await.unwrap();
    c.add_user_to_group().group_name("admins").user_name("bob").send().await.unwrap();
    c.create_login_profile().user_name("bob").password("Correct-Horse-2").send().await.unwrap();
    let mfa = c.create_virtual_mfa_device().virtual_mfa_device_name("bob").send().await.unwrap();
    c.enable_mfa_device()
        .user_name("bob")
        .serial_number(mfa.virtual_mfa_device().unwrap().serial_number())
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    // carol: an inline `*` policy.
    c.put_user_policy().user_name("carol").policy_name("all").policy_document(EVERYTHING).send().await.unwrap();
    // dave: the customer managed `*:*` policy `everything`.
    c.create_policy().policy_name("everything").policy_document(EVERYTHING).send().await.unwrap();
    c.attach_user_policy()
        .user_name("dave")
        .policy_arn(format!("arn:aws:iam::{ACCOUNT}:policy/everything"))
        .send()
        .await
        .unwrap();
    // erin: read-only through a group; one active and one inactive key.
    c.create_group().group_name("readers").send().await.unwrap();
    c.attach_group_policy().group_name("readers").policy_arn(READ_ONLY).send().await.unwrap();
    c.add_user_to_group().group_name("readers").user_name("erin").send().await.unwrap();
    c.create_access_key().user_name("erin").send().await.unwrap();
    let inactive = c.create_access_key().user_name("erin").send().await.unwrap();
    c.update_access_key()
        .user_name("erin")
        .access_key_id(inactive.access_key().unwrap().access_key_id())
        .status(iamt::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    // frank: `*:*` cancelled by an unconditional Deny of everything (decoy).
    c.put_user_policy()
        .user_name("frank")
        .policy_name("denied")
        .policy_document(EVERYTHING_DENIED)
        .send()
        .await
        .unwrap();
    // grace: AdministratorAccess capped by a read-only permissions boundary (decoy).
    c.attach_user_policy().user_name("grace").policy_arn(ADMIN).send().await.unwrap();
    // A weak password policy: 8 characters, numbers only, no reuse prevention.
    c.update_account_password_policy().minimum_password_length(8).require_numbers(true).send().await.unwrap();
}

/// The pack's evaluation `days` after now, and the (policy id, resource id)
/// of every failure; evaluation errors fail the test.
fn evaluate(d: &Discovered, days: i64) -> (Evaluation, BTreeSet<(String, String)>) {
    let pack = pack::policies(&config());
    assert_eq!(pack.len(), 50, "the whole pack");
    let engine = Engine::new(pack, vec![]).unwrap();
    let eval = engine.evaluate(&d.inventory, Utc::now() + Duration::days(days));
    let mut got = BTreeSet::new();
    let mut errors = Vec::new();
    for (meta, _, pos, outcome) in eval.findings() {
        let id = d.inventory.assets()[pos].id.resource_id.clone();
        match outcome {
            FindingOutcome::Fail { .. } => {
                got.insert((meta.id.to_string(), id));
            }
            FindingOutcome::Error { message } => errors.push(format!("{} {id}: {message}", meta.id)),
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    (eval, got)
}

/// The resource ids of the assets a policy judged and passed.
fn passing(d: &Discovered, eval: &Evaluation, policy: &str) -> BTreeSet<String> {
    let p = eval.policy(policy).unwrap();
    p.in_scope
        .ones()
        .filter(|&pos| p.rules.iter().all(|r| r.finding(pos).is_none()))
        .map(|pos| d.inventory.assets()[pos].id.resource_id.clone())
        .collect()
}

fn config() -> PackConfig {
    PackConfig { mandatory_tags: vec!["Owner".into()], approved_regions: vec![US.into()], ..PackConfig::default() }
}

fn attrs(d: &Discovered, kind: &str, id: &str) -> serde_json::Value {
    d.inventory
        .of_kind(&kind.into())
        .find(|a| a.id.resource_id == id)
        .unwrap_or_else(|| panic!("no {kind} `{id}`"))
        .attributes
        .to_value()
}

/// The ids of the assets of a kind whose attributes satisfy `f`.
fn ids_where(d: &Discovered, kind: &str, f: impl Fn(&serde_json::Value) -> bool) -> Vec<String> {
    let mut v: Vec<String> = d
        .inventory
        .of_kind(&kind.into())
        .filter(|a| f(&a.attributes.to_value()))
        .map(|a| a.id.resource_id.clone())
        .collect();
    v.sort();
    v
}

fn set<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, ids: &Ids) -> BTreeSet<(String, String)> {
    pairs.into_iter().map(|(p, a)| (p.to_owned(), ids.0.get(a).cloned().unwrap_or_else(|| a.to_owned()))).collect()
}

fn names<'a>(list: impl IntoIterator<Item = &'a str>, ids: &Ids) -> BTreeSet<String> {
    list.into_iter().map(|a| ids.0.get(a).cloned().unwrap_or_else(|| a.to_owned())).collect()
}

#[test]
fn the_pack_finds_exactly_the_seeded_violations() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        let conf = common::assumed_config(&url, ACCOUNT).await;
        seed_s3(&conf).await;
        seed_iam(&conf).await;
        let mut ids = Ids::default();
        seed_ec2(&conf, &mut ids).await;

        let proxy = FaultProxy::start(&url).await.unwrap();
        let c = connector(sdk_config(&proxy.url()).await, &[US, EU])
            .include_own_account(false)
            .accounts([ACCOUNT])
            .build()
            .unwrap();
        let d = discover(&c).await;
        let failed: Vec<_> = d.coverage.failures().collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(d.coverage.len(), 10 * 2 + 7);
        assert!(d.inventory.assets().iter().all(|a| a.id.account == ACCOUNT));
        assert_eq!(proxy.count(&Match::service("sts").operation("AssumeRole")), 1, "one AssumeRole per account");

        // What moto adds by itself: a root volume per instance (unencrypted,
        // untagged), the default VPC of each region with its default group,
        // and the default group of the seeded VPC.
        let instances = [ids.get("i-web"), ids.get("i-private"), ids.get("i-stopped")];
        let root_volumes = ids_where(&d, kind::VOLUME, |v| {
            v["attachments"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x["device"] == "/dev/sda1" && instances.contains(&x["instance_id"].as_str().unwrap_or_default())
                })
            })
        });
        assert_eq!(root_volumes.len(), 3, "{root_volumes:?}");
        let default_groups = ids_where(&d, kind::SECURITY_GROUP, |v| v["is_default"] == true);
        assert_eq!(default_groups.len(), 3, "{default_groups:?}");
        let default_vpcs = ids_where(&d, kind::VPC, |v| v["is_default"] == true);
        assert_eq!(default_vpcs.len(), 2, "{default_vpcs:?}");
        // moto drops a user's permissions boundary (it keeps only roles'):
        // grace's read-only cap is lost, so she counts as an administrator.
        assert_eq!(attrs(&d, kind::USER, "grace")["permissions_boundary_arn"], serde_json::Value::Null);

        let (eval, got) = evaluate(&d, 60);
        let mut want = set(
            [
                // S3: public ACL grants (AllUsers READ; AuthenticatedUsers WRITE; AllUsers READ_ACP, WRITE_ACP).
                ("aws-s3-public-acl-read", "pm-acl-read"),
                ("aws-s3-public-acl-write", "pm-acl-write"),
                ("aws-s3-public-acl-read-acp", "pm-acl-write"),
                ("aws-s3-public-acl-write-acp", "pm-acl-write"),
                // `Principal: *`; not the own-account policy with a Deny to everyone.
                ("aws-s3-public-policy", "pm-policy-public"),
                ("aws-s3-account-public-access-block-off", ACCOUNT),
                ("aws-s3-website-hosting", "pm-website"),
                ("aws-region-not-approved", "pm-eu"),
                // A lower-case `owner` tag is not `Owner`.
                ("aws-tagging-mandatory-tags", "pm-website"),
                // EC2: the web instance (public IP in a subnet routed to the
                // internet gateway, world-open groups, IMDSv1, no role).
                ("aws-ec2-instance-public-ip", "i-web"),
                ("aws-ec2-instance-internet-reachable", "i-web"),
                ("aws-ec2-instance-imdsv1", "i-web"),
                ("aws-ec2-instance-no-iam-role", "i-web"),
                // The private instance's elastic IP is a public IP, but its subnet has no route out.
                ("aws-ec2-instance-public-ip", "i-private"),
                ("aws-ec2-instance-long-stopped", "i-stopped"),
                ("aws-ec2-sg-open-all-ports", "sg-all"),
                ("aws-ec2-sg-open-ssh", "sg-all"),
                ("aws-ec2-sg-open-ssh", "sg-ssh"),
                ("aws-ec2-sg-open-rdp", "sg-all"),
                ("aws-ec2-sg-open-rdp", "sg-rdp-range"),
                ("aws-ec2-sg-open-rdp", "sg-v6"),
                ("aws-ec2-sg-open-admin-ports", "sg-all"),
                ("aws-ec2-sg-open-database-ports", "sg-all"),
                // Not sg-referenced: unattached, but another group's rule names it.
                ("aws-ec2-sg-unused", "sg-unused"),
                ("aws-ec2-eip-unassociated", "eip-free"),
                // EBS.
                ("aws-ebs-volume-unencrypted", "vol-loose"),
                ("aws-ebs-volume-unattached", "vol-loose"),
                ("aws-ebs-snapshot-public", "snap-public"),
                ("aws-ebs-snapshot-unencrypted", "snap-public"),
                ("aws-ebs-snapshot-shared-externally", "snap-shared"),
                ("aws-ebs-default-encryption-off", US),
                // IAM.
                ("aws-iam-user-console-no-mfa", "alice"),
                ("aws-iam-user-multiple-active-keys", "alice"),
                // Never used, created 60 days before the evaluation (erin's inactive key does not count).
                ("aws-iam-access-key-unused", "alice"),
                ("aws-iam-access-key-unused", "erin"),
                ("aws-iam-user-console-unused", "alice"),
                ("aws-iam-user-console-unused", "bob"),
                // Attached AdministratorAccess; through the group `admins`; inline `*`; customer `*`.
                ("aws-iam-user-admin", "alice"),
                ("aws-iam-user-admin", "bob"),
                ("aws-iam-user-admin", "carol"),
                ("aws-iam-user-admin", "dave"),
                ("aws-iam-user-admin", "grace"), // moto: see above
                // Not frank: his `*:*` is cancelled by a Deny of everything.
                ("aws-iam-policy-full-admin", &format!("arn:aws:iam::{ACCOUNT}:policy/everything")),
                ("aws-iam-policy-full-admin", "carol"),
                ("aws-iam-user-direct-policies", "alice"),
                ("aws-iam-user-direct-policies", "carol"),
                ("aws-iam-user-direct-policies", "dave"),
                ("aws-iam-user-direct-policies", "frank"),
                ("aws-iam-user-direct-policies", "grace"),
                ("aws-iam-role-trust-public", "open-trust"),
                ("aws-iam-password-policy-min-length", ACCOUNT),
                ("aws-iam-password-policy-reuse", ACCOUNT),
                ("aws-iam-password-policy-complexity", ACCOUNT),
                // moto: account MFA is always off.
                ("aws-iam-root-mfa-off", ACCOUNT),
                ("aws-iam-root-hardware-mfa-off", ACCOUNT),
            ],
            &ids,
        );
        // Buckets without the good settings (pm-good and pm-eu have them all).
        for b in ["pm-acl-read", "pm-acl-write", "pm-policy-public", "pm-policy-own", "pm-website"] {
            for p in [
                "aws-s3-public-access-block-off",
                "aws-s3-default-encryption-off",
                "aws-s3-versioning-off",
                "aws-s3-access-logging-off",
            ] {
                want.insert((p.to_owned(), b.to_owned()));
            }
        }
        // No policy denying plain HTTP.
        for b in ["pm-acl-read", "pm-acl-write", "pm-policy-public", "pm-website"] {
            want.insert(("aws-s3-insecure-transport-allowed".to_owned(), b.to_owned()));
        }
        // moto: MFA delete cannot be turned on.
        for b in ["pm-acl-read", "pm-acl-write", "pm-policy-public", "pm-policy-own", "pm-website", "pm-good", "pm-eu"]
        {
            want.insert(("aws-s3-mfa-delete-off".to_owned(), b.to_owned()));
        }
        for v in &root_volumes {
            want.insert(("aws-ebs-volume-unencrypted".to_owned(), v.clone()));
            want.insert(("aws-tagging-mandatory-tags".to_owned(), v.clone()));
        }
        for g in &default_groups {
            want.insert(("aws-ec2-sg-default-allows-traffic".to_owned(), g.clone()));
        }
        for v in &default_vpcs {
            want.insert(("aws-vpc-flow-logs-off".to_owned(), v.clone()));
        }
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing: {missing:#?}\nunexpected: {extra:#?}");

        // Passing assets of a few policies.
        assert_eq!(passing(&d, &eval, "aws-ec2-instance-imdsv1"), names(["i-private", "i-stopped"], &ids));
        assert_eq!(passing(&d, &eval, "aws-ec2-instance-internet-reachable"), names(["i-private"], &ids));
        assert_eq!(passing(&d, &eval, "aws-iam-user-admin"), names(["erin", "frank"], &ids));
        assert_eq!(
            passing(&d, &eval, "aws-s3-public-policy"),
            names(["pm-acl-read", "pm-acl-write", "pm-policy-own", "pm-website", "pm-good", "pm-eu"], &ids)
        );
        assert_eq!(
            passing(&d, &eval, "aws-ec2-sg-unused"),
            names(["sg-ssh", "sg-rdp-range", "sg-all", "sg-v6", "sg-https", "sg-referenced", "sg-db"], &ids)
        );

        // 100 days on, the active keys are also old (moto cannot date a key).
        let (_, later) = evaluate(&d, 100);
        let old: BTreeSet<&str> =
            later.iter().filter(|(p, _)| p == "aws-iam-access-key-old").map(|(_, a)| a.as_str()).collect();
        assert_eq!(old, BTreeSet::from(["alice", "erin"]));
    });
}
