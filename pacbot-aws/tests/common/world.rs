//! A seeded AWS world, built with the SDK itself against moto.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::types as ec2t;
use aws_sdk_iam::types as iamt;
use aws_sdk_s3::types as s3t;

/// The ids moto gave the seeded resources.
#[derive(Debug, Default)]
pub struct World {
    pub vpc: String,
    pub igw: String,
    pub public_subnet: String,
    pub private_subnet: String,
    pub public_rt: String,
    pub main_rt: String,
    pub sg_web: String,
    pub sg_db: String,
    pub web: String,
    pub web_public_ip: String,
    pub batch: String,
    pub vol_loose: String,
    pub vol_enc: String,
    pub snap_public: String,
    pub snap_private: String,
    pub eip_free: String,
    pub eip_used: String,
    pub alice_keys: Vec<String>,
    pub bob_mfa: String,
}

pub fn ec2(conf: &SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(conf).region(Region::new(region.to_owned())).build(),
    )
}

pub fn s3(conf: &SdkConfig, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf).region(Region::new(region.to_owned())).force_path_style(true).build(),
    )
}

fn tag(k: &str, v: &str) -> ec2t::Tag {
    ec2t::Tag::builder().key(k).value(v).build()
}

fn tags(resource: ec2t::ResourceType, pairs: &[(&str, &str)]) -> ec2t::TagSpecification {
    let mut b = ec2t::TagSpecification::builder().resource_type(resource);
    for (k, v) in pairs {
        b = b.tags(tag(k, v));
    }
    b.build()
}

pub const AMI: &str = "ami-12c6146b";
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Seeds EC2 in us-east-1 and the EBS default in eu-west-1.
pub async fn seed_ec2(conf: &SdkConfig, w: &mut World) {
    let c = ec2(conf, "us-east-1");
    let vpc = c
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .tag_specifications(tags(ec2t::ResourceType::Vpc, &[("Name", "app")]))
        .send()
        .await
        .unwrap();
    w.vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let igw = c.create_internet_gateway().send().await.unwrap();
    w.igw = igw.internet_gateway().unwrap().internet_gateway_id().unwrap().to_owned();
    c.attach_internet_gateway().internet_gateway_id(&w.igw).vpc_id(&w.vpc).send().await.unwrap();
    let subnet = |cidr: &'static str, name: &'static str| {
        let c = c.clone();
        let vpc = w.vpc.clone();
        async move {
            c.create_subnet()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .availability_zone("us-east-1a")
                .tag_specifications(tags(ec2t::ResourceType::Subnet, &[("Name", name)]))
                .send()
                .await
                .unwrap()
                .subnet()
                .unwrap()
                .subnet_id()
                .unwrap()
                .to_owned()
        }
    };
    w.public_subnet = subnet("10.0.1.0/24", "public").await;
    w.private_subnet = subnet("10.0.2.0/24", "private").await;
    let rt = c.create_route_table().vpc_id(&w.vpc).send().await.unwrap();
    w.public_rt = rt.route_table().unwrap().route_table_id().unwrap().to_owned();
    c.create_route()
        .route_table_id(&w.public_rt)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&w.igw)
        .send()
        .await
        .unwrap();
    c.associate_route_table().route_table_id(&w.public_rt).subnet_id(&w.public_subnet).send().await.unwrap();
    let tables = c
        .describe_route_tables()
        .filters(ec2t::Filter::builder().name("vpc-id").values(&w.vpc).build())
        .send()
        .await
        .unwrap();
    w.main_rt = tables
        .route_tables()
        .iter()
        .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_owned();

    // Security groups: a wide port range, all traffic over IPv6, a group reference.
    let sg = |name: &'static str| {
        let c = c.clone();
        let vpc = w.vpc.clone();
        async move {
            c.create_security_group()
                .group_name(name)
                .description(format!("{name} tier"))
                .vpc_id(vpc)
                .send()
                .await
                .unwrap()
                .group_id()
                .unwrap()
                .to_owned()
        }
    };
    w.sg_web = sg("web").await;
    w.sg_db = sg("db").await;
    c.authorize_security_group_ingress()
        .group_id(&w.sg_web)
        .ip_permissions(
            ec2t::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(0)
                .to_port(1024)
                .ip_ranges(ec2t::IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .ip_permissions(
            ec2t::IpPermission::builder()
                .ip_protocol("-1")
                .ipv6_ranges(ec2t::Ipv6Range::builder().cidr_ipv6("::/0").description("all v6").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.authorize_security_group_ingress()
        .group_id(&w.sg_db)
        .ip_permissions(
            ec2t::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .user_id_group_pairs(ec2t::UserIdGroupPair::builder().group_id(&w.sg_web).build())
                .ip_ranges(ec2t::IpRange::builder().cidr_ip("10.0.0.0/16").description("app").build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Instances: public + IMDSv1 in the public subnet; private + IMDSv2, stopped.
    let web = c
        .run_instances()
        .image_id(AMI)
        .instance_type(ec2t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .network_interfaces(
            ec2t::InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .subnet_id(&w.public_subnet)
                .associate_public_ip_address(true)
                .groups(&w.sg_web)
                .build(),
        )
        .metadata_options(
            ec2t::InstanceMetadataOptionsRequest::builder().http_tokens(ec2t::HttpTokensState::Optional).build(),
        )
        .tag_specifications(tags(ec2t::ResourceType::Instance, &[("Name", "web-1"), ("owner", "ops@example.com")]))
        .send()
        .await
        .unwrap();
    let web = &web.instances()[0];
    w.web = web.instance_id().unwrap().to_owned();
    let batch = c
        .run_instances()
        .image_id(AMI)
        .instance_type(ec2t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(&w.private_subnet)
        .security_group_ids(&w.sg_db)
        .metadata_options(
            ec2t::InstanceMetadataOptionsRequest::builder().http_tokens(ec2t::HttpTokensState::Required).build(),
        )
        .send()
        .await
        .unwrap();
    w.batch = batch.instances()[0].instance_id().unwrap().to_owned();
    c.stop_instances().instance_ids(&w.batch).send().await.unwrap();
    let d = c.describe_instances().instance_ids(&w.web).send().await.unwrap();
    w.web_public_ip = d.reservations()[0].instances()[0].public_ip_address().unwrap().to_owned();

    // Volumes: one loose and unencrypted, one encrypted and attached.
    let loose = c
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .volume_type(ec2t::VolumeType::Gp3)
        .send()
        .await
        .unwrap();
    w.vol_loose = loose.volume_id().unwrap().to_owned();
    let enc = c.create_volume().availability_zone("us-east-1a").size(20).encrypted(true).send().await.unwrap();
    w.vol_enc = enc.volume_id().unwrap().to_owned();
    c.attach_volume().volume_id(&w.vol_enc).instance_id(&w.web).device("/dev/sdf").send().await.unwrap();

    // Snapshots: one public, one private.
    let snap = c.create_snapshot().volume_id(&w.vol_loose).description("public one").send().await.unwrap();
    w.snap_public = snap.snapshot_id().unwrap().to_owned();
    c.modify_snapshot_attribute()
        .snapshot_id(&w.snap_public)
        .attribute(ec2t::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(ec2t::OperationType::Add)
        .group_names("all")
        .send()
        .await
        .unwrap();
    let snap = c.create_snapshot().volume_id(&w.vol_enc).send().await.unwrap();
    w.snap_private = snap.snapshot_id().unwrap().to_owned();

    // Elastic IPs: one free, one on the web instance.
    let free = c.allocate_address().domain(ec2t::DomainType::Vpc).send().await.unwrap();
    w.eip_free = free.allocation_id().unwrap().to_owned();
    let used = c.allocate_address().domain(ec2t::DomainType::Vpc).send().await.unwrap();
    w.eip_used = used.allocation_id().unwrap().to_owned();
    c.associate_address().allocation_id(&w.eip_used).instance_id(&w.batch).send().await.unwrap();

    // EBS encryption by default: on in eu-west-1 only.
    ec2(conf, "eu-west-1").enable_ebs_encryption_by_default().send().await.unwrap();
}

/// Seeds S3: public ACLs, public / own-account / deny policies, a locked-down bucket, the account PAB.
pub async fn seed_s3(conf: &SdkConfig) {
    let us = s3(conf, "us-east-1");
    let eu = s3(conf, "eu-west-1");
    for name in ["acl-public", "policy-public", "policy-own", "plain"] {
        us.create_bucket().bucket(name).send().await.unwrap();
    }
    us.put_bucket_acl()
        .bucket("acl-public")
        .grant_full_control("id=75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a")
        .grant_read(format!("uri={ALL_USERS}"))
        .grant_write(format!("uri={AUTH_USERS}"))
        .send()
        .await
        .unwrap();
    us.put_bucket_tagging()
        .bucket("acl-public")
        .tagging(
            s3t::Tagging::builder()
                .tag_set(s3t::Tag::builder().key("owner").value("web").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::policy-public/*"}}"#;
    us.put_bucket_policy().bucket("policy-public").policy(public).send().await.unwrap();
    let own = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::policy-own/*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::policy-own/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    us.put_bucket_policy().bucket("policy-own").policy(own).send().await.unwrap();

    eu.create_bucket()
        .bucket("locked")
        .create_bucket_configuration(
            s3t::CreateBucketConfiguration::builder()
                .location_constraint(s3t::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    eu.put_public_access_block()
        .bucket("locked")
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
    eu.put_bucket_encryption()
        .bucket("locked")
        .server_side_encryption_configuration(
            s3t::ServerSideEncryptionConfiguration::builder()
                .rules(
                    s3t::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            s3t::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(s3t::ServerSideEncryption::Aes256)
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
    eu.put_bucket_versioning()
        .bucket("locked")
        .versioning_configuration(
            s3t::VersioningConfiguration::builder().status(s3t::BucketVersioningStatus::Enabled).build(),
        )
        .send()
        .await
        .unwrap();
    eu.put_bucket_acl()
        .bucket("locked")
        .grant_full_control("id=75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a")
        .grant_write("uri=http://acs.amazonaws.com/groups/s3/LogDelivery")
        .grant_read_acp("uri=http://acs.amazonaws.com/groups/s3/LogDelivery")
        .send()
        .await
        .unwrap();
    eu.put_bucket_logging()
        .bucket("locked")
        .bucket_logging_status(
            s3t::BucketLoggingStatus::builder()
                .logging_enabled(
                    s3t::LoggingEnabled::builder().target_bucket("locked").target_prefix("locked/").build().unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    eu.put_bucket_ownership_controls()
        .bucket("locked")
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
    eu.put_bucket_website()
        .bucket("locked")
        .website_configuration(
            s3t::WebsiteConfiguration::builder()
                .index_document(s3t::IndexDocument::builder().suffix("index.html").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Seeds the account-wide S3 public access block (S3 Control, addressed at the endpoint itself).
pub async fn seed_s3_account(endpoint: &str, conf: &SdkConfig) {
    let c = aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(conf).endpoint_resolver(Fixed(endpoint.to_owned())).build(),
    );
    c.put_public_access_block()
        .account_id("123456789012")
        .public_access_block_configuration(
            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[derive(Debug)]
struct Fixed(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for Fixed {
    fn resolve_endpoint<'a>(
        &'a self,
        _: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(aws_smithy_types::endpoint::Endpoint::builder()
            .url(self.0.clone())
            .build()))
    }
}

pub const EVERYTHING: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
pub const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
pub const S3_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

/// Seeds IAM: alice (console, no MFA, an active and an inactive key, inline
/// policy), bob (admin only through a group, virtual MFA), carol (nothing),
/// a role with a customer `*:*` policy, a password policy.
pub async fn seed_iam(conf: &SdkConfig, w: &mut World) {
    let c = aws_sdk_iam::Client::new(conf);
    for u in ["alice", "bob", "carol"] {
        c.create_user().user_name(u).send().await.unwrap();
    }
    c.tag_user()
        .user_name("alice")
        .tags(iamt::Tag::builder().key("team").value("web").build().unwrap())
        .send()
        .await
        .unwrap();
    c.create_login_profile().user_name("alice").password("Correct-Horse-1").send().await.unwrap();
    c.create_login_profile().user_name("bob").password("Correct-Horse-2").send().await.unwrap();
    for _ in 0..2 {
        let k = c.create_access_key().user_name("alice").send().await.unwrap();
        w.alice_keys.push(k.access_key().unwrap().access_key_id().to_owned());
    }
    c.update_access_key()
        .user_name("alice")
        .access_key_id(&w.alice_keys[1])
        .status(iamt::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    w.alice_keys.sort();
    c.put_user_policy().user_name("alice").policy_name("s3-all").policy_document(S3_ALL).send().await.unwrap();
    c.attach_user_policy()
        .user_name("alice")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();

    c.create_group().group_name("admins").send().await.unwrap();
    c.attach_group_policy()
        .group_name("admins")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    c.add_user_to_group().group_name("admins").user_name("bob").send().await.unwrap();
    let mfa = c.create_virtual_mfa_device().virtual_mfa_device_name("bob").send().await.unwrap();
    w.bob_mfa = mfa.virtual_mfa_device().unwrap().serial_number().to_owned();
    c.enable_mfa_device()
        .user_name("bob")
        .serial_number(&w.bob_mfa)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();

    c.create_policy().policy_name("everything").policy_document(EVERYTHING).send().await.unwrap();
    c.create_role().role_name("app").assume_role_policy_document(TRUST_EC2).send().await.unwrap();
    c.attach_role_policy()
        .role_name("app")
        .policy_arn("arn:aws:iam::123456789012:policy/everything")
        .send()
        .await
        .unwrap();
    c.create_instance_profile().instance_profile_name("app").send().await.unwrap();
    c.add_role_to_instance_profile().instance_profile_name("app").role_name("app").send().await.unwrap();

    c.update_account_password_policy()
        .minimum_password_length(8)
        .require_numbers(true)
        .max_password_age(90)
        .send()
        .await
        .unwrap();
}
