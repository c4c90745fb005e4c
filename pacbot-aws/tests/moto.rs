//! Discovery against moto: a seeded world, discovered and asserted exactly.
//!
//! Needs `PACBOT_TEST_MOTO_URL` (scripts/test.sh starts moto_server); fails,
//! never skips, without it. Tests take turns on the one server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/world.rs"]
mod world_mod;

use common::{ACCOUNT, connector, discover, runtime, sdk_config, serial};
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{FaultProxy, moto_url, reset_moto};
use pacbot_core::{Asset, Discovered, serde_json::json};
use serde_json::Value;
use world::World;
use world_mod as world;

fn asset<'a>(d: &'a Discovered, kind: &str, region: &str, id: &str) -> &'a Asset {
    d.inventory
        .assets()
        .iter()
        .find(|a| a.id.kind.as_str() == kind && a.id.resource_id == id && a.id.region == region)
        .unwrap_or_else(|| panic!("no {kind} `{id}` in {region}"))
}

/// The attributes with the named (volatile) keys checked to be times and removed.
fn attrs(a: &Asset, times: &[&str]) -> Value {
    let mut v = a.attributes.to_value();
    for t in times {
        let removed = v.as_object_mut().unwrap().remove(*t).unwrap_or_else(|| panic!("{}: no `{t}`", a.id));
        let text = removed.as_str().unwrap_or_else(|| panic!("{}: `{t}` is {removed}", a.id));
        assert!(pacbot_core::chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{}: `{t}` = {text}", a.id);
    }
    v
}

fn ids(d: &Discovered, kind: &str, region: &str) -> Vec<String> {
    let mut v: Vec<String> = d
        .inventory
        .assets()
        .iter()
        .filter(|a| a.id.kind.as_str() == kind && a.id.region == region)
        .map(|a| a.id.resource_id.clone())
        .collect();
    v.sort();
    v
}

fn rule(
    protocol: &str,
    from: i32,
    to: i32,
    cidr: Option<&str>,
    group: Option<&str>,
    description: Option<&str>,
) -> Value {
    json!({"protocol": protocol, "from_port": from, "to_port": to, "cidr": cidr,
           "ipv6": cidr.is_some_and(|c| c.contains(':')), "group_id": group,
           "group_owner_id": group.map(|_| ACCOUNT), "prefix_list_id": null, "description": description})
}

#[test]
fn a_seeded_world_is_discovered_exactly() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        let conf = sdk_config(&url).await;
        let mut w = World::default();
        world::seed_ec2(&conf, &mut w).await;
        world::seed_s3(&conf).await;
        world::seed_s3_account(&url, &conf).await;
        world::seed_iam(&conf, &mut w).await;

        let proxy = FaultProxy::start(&url).await.unwrap();
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1", "eu-west-1"]).build().unwrap();
        let d = discover(&c).await;

        // Coverage: every kind, every region (global ones once), all complete.
        let failures: Vec<_> = d.coverage.failures().collect();
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(d.coverage.len(), 10 * 2 + 7);

        check_ec2(&d, &w);
        check_s3(&d);
        check_iam(&d, &w);
    });
}

fn check_ec2(d: &Discovered, w: &World) {
    let us = "us-east-1";
    // Instances.
    let web = asset(d, kind::INSTANCE, us, &w.web);
    assert_eq!(web.name.as_deref(), Some("web-1"));
    assert_eq!(web.tag("owner"), Some("ops@example.com"));
    let mut a = attrs(web, &["launch_time"]);
    let o = a.as_object_mut().unwrap();
    for volatile in ["private_ip", "public_dns_name", "network_interface_ids", "volume_ids", "ipv6_addresses"] {
        assert!(o.remove(volatile).is_some(), "{volatile}");
    }
    assert_eq!(
        a,
        json!({"instance_id": w.web, "instance_type": "t3.micro", "image_id": world::AMI,
               "state": {"name": "running", "code": 16}, "state_transition_reason": null, "state_transition_time": null,
               "public_ip": w.web_public_ip, "vpc_id": w.vpc, "subnet_id": w.public_subnet,
               "security_group_ids": [w.sg_web], "iam_instance_profile_arn": null, "key_name": null, "platform": "windows",
               "monitoring": "disabled",
               "metadata_options": {"http_tokens": "optional", "http_endpoint": "enabled", "http_put_response_hop_limit": 1}})
    );
    let batch = attrs(asset(d, kind::INSTANCE, us, &w.batch), &["launch_time", "state_transition_time"]);
    assert_eq!(batch["state"], json!({"name": "stopped", "code": 80}));
    assert!(batch["state_transition_reason"].as_str().unwrap().starts_with("User initiated ("));
    assert_eq!(batch["metadata_options"]["http_tokens"], "required");
    assert_eq!(batch["subnet_id"], w.private_subnet.as_str());

    // Security groups: flattened rules, ranges and protocol -1 kept, group references, use counts.
    let web_sg = attrs(asset(d, kind::SECURITY_GROUP, us, &w.sg_web), &[]);
    assert_eq!(
        web_sg,
        json!({"group_id": w.sg_web, "group_name": "web", "description": "web tier", "vpc_id": w.vpc, "owner_id": ACCOUNT,
               "is_default": false,
               "ingress": [rule("tcp", 0, 1024, Some("0.0.0.0/0"), None, None), rule("-1", 0, 65535, Some("::/0"), None, Some("all v6"))],
               "egress": [rule("-1", 0, 65535, Some("0.0.0.0/0"), None, None)],
               "network_interface_count": 1, "referenced_by": [w.sg_db]})
    );
    let db_sg = attrs(asset(d, kind::SECURITY_GROUP, us, &w.sg_db), &[]);
    assert_eq!(
        db_sg["ingress"],
        json!([
            rule("tcp", 5432, 5432, Some("10.0.0.0/16"), None, Some("app")),
            rule("tcp", 5432, 5432, None, Some(&w.sg_web), None)
        ])
    );
    assert_eq!(db_sg["network_interface_count"], 1);

    // Volumes and snapshots.
    let loose = attrs(asset(d, kind::VOLUME, us, &w.vol_loose), &["create_time"]);
    assert_eq!(
        loose,
        json!({"volume_id": w.vol_loose, "volume_type": "gp3", "size_gib": 8, "iops": loose["iops"], "state": "available",
               "encrypted": false, "kms_key_id": null, "snapshot_id": null, "availability_zone": "us-east-1a", "attachments": []})
    );
    let enc = attrs(asset(d, kind::VOLUME, us, &w.vol_enc), &["create_time"]);
    assert_eq!((enc["encrypted"].clone(), enc["state"].clone()), (json!(true), json!("in-use")));
    assert_eq!(enc["attachments"][0]["instance_id"], w.web.as_str());
    assert_eq!(enc["attachments"][0]["device"], "/dev/sdf");
    let public = attrs(asset(d, kind::SNAPSHOT, us, &w.snap_public), &["start_time"]);
    assert_eq!(
        public,
        json!({"snapshot_id": w.snap_public, "volume_id": w.vol_loose, "volume_size_gib": 8, "state": "completed",
               "encrypted": false, "kms_key_id": null, "owner_id": ACCOUNT, "description": "public one",
               "create_volume_permissions": [{"group": "all", "user_id": null}], "public": true})
    );
    let private = attrs(asset(d, kind::SNAPSHOT, us, &w.snap_private), &["start_time"]);
    assert_eq!((private["public"].clone(), private["encrypted"].clone()), (json!(false), json!(true)));
    assert_eq!(ids(d, kind::SNAPSHOT, us), {
        let mut v = vec![w.snap_public.clone(), w.snap_private.clone()];
        v.sort();
        v
    });

    // Network: VPC with its gateway, subnets with their route table in effect, route tables.
    let vpc = attrs(asset(d, kind::VPC, us, &w.vpc), &[]);
    assert_eq!(
        vpc,
        json!({"vpc_id": w.vpc, "cidr_block": "10.0.0.0/16", "ipv6_cidr_blocks": [], "is_default": false, "state": "available",
               "owner_id": ACCOUNT, "instance_tenancy": "default", "internet_gateway_ids": [w.igw], "flow_logs": []})
    );
    let public_subnet = attrs(asset(d, kind::SUBNET, us, &w.public_subnet), &[]);
    assert_eq!(
        public_subnet,
        json!({"subnet_id": w.public_subnet, "vpc_id": w.vpc, "cidr_block": "10.0.1.0/24", "ipv6_cidr_blocks": [],
               "availability_zone": "us-east-1a", "state": "available", "default_for_az": false,
               "map_public_ip_on_launch": false, "route_table_id": w.public_rt, "route_table_explicit": true,
               "routes_to_internet_gateway": true})
    );
    let private_subnet = attrs(asset(d, kind::SUBNET, us, &w.private_subnet), &[]);
    assert_eq!(private_subnet["route_table_id"], w.main_rt.as_str());
    assert_eq!(private_subnet["route_table_explicit"], false);
    assert_eq!(private_subnet["routes_to_internet_gateway"], false);
    let rt = attrs(asset(d, kind::ROUTE_TABLE, us, &w.public_rt), &[]);
    assert_eq!(
        rt,
        json!({"route_table_id": w.public_rt, "vpc_id": w.vpc, "main": false, "subnet_ids": [w.public_subnet],
               "routes": [{"destination": "10.0.0.0/16", "target": "local", "state": "active"},
                          {"destination": "0.0.0.0/0", "target": w.igw, "state": "active"}]})
    );
    assert_eq!(attrs(asset(d, kind::ROUTE_TABLE, us, &w.main_rt), &[])["main"], true);

    // Elastic IPs.
    let free = attrs(asset(d, kind::ADDRESS, us, &w.eip_free), &[]);
    assert_eq!(free["associated"], false);
    assert_eq!(free["instance_id"], Value::Null);
    let used = attrs(asset(d, kind::ADDRESS, us, &w.eip_used), &[]);
    assert_eq!((used["associated"].clone(), used["instance_id"].clone()), (json!(true), json!(w.batch)));

    // EBS default encryption per region.
    assert_eq!(attrs(asset(d, kind::EC2_ACCOUNT_SETTINGS, us, us), &[]), json!({"ebs_encryption_by_default": false}));
    let eu = "eu-west-1";
    assert_eq!(attrs(asset(d, kind::EC2_ACCOUNT_SETTINGS, eu, eu), &[]), json!({"ebs_encryption_by_default": true}));
}

fn grant(kind: &str, uri: Option<&str>, id: Option<&str>, permission: &str) -> Value {
    json!({"grantee": {"type": kind, "uri": uri, "id": id, "display_name": null, "email": null}, "permission": permission})
}

fn check_s3(d: &Discovered) {
    let us = "us-east-1";
    assert_eq!(ids(d, kind::BUCKET, us), ["acl-public", "plain", "policy-own", "policy-public"]);
    assert_eq!(ids(d, kind::BUCKET, "eu-west-1"), ["locked"]);

    let acl = asset(d, kind::BUCKET, us, "acl-public");
    assert_eq!(acl.tag("owner"), Some("web"));
    let a = attrs(acl, &["creation_date"]);
    let owner = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
    let mut grants = a["acl"]["grants"].as_array().unwrap().clone();
    grants.sort_by_key(|g| g["permission"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        grants,
        [
            grant("CanonicalUser", None, Some(owner), "FULL_CONTROL"),
            grant("Group", Some(world::ALL_USERS), None, "READ"),
            grant("Group", Some(world::AUTH_USERS), None, "WRITE"),
        ]
    );
    assert_eq!(a["policy"], Value::Null);
    assert_eq!(a["policy_is_public"], false);
    assert_eq!(a["public_access_block"], Value::Null);
    assert_eq!(a["encryption"], Value::Null);
    assert_eq!(a["versioning"], json!({"status": null, "mfa_delete": null}));
    assert_eq!((a["logging"].clone(), a["website"].clone()), (Value::Null, Value::Null));
    assert_eq!(a["object_ownership"], "ObjectWriter", "no ownership controls");
    assert_eq!(a["arn"], "arn:aws:s3:::acl-public");

    let public = attrs(asset(d, kind::BUCKET, us, "policy-public"), &["creation_date"]);
    assert_eq!(
        public["policy"],
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]},
               "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::policy-public/*"]}]})
    );
    assert_eq!(public["policy_is_public"], true);
    let own = attrs(asset(d, kind::BUCKET, us, "policy-own"), &["creation_date"]);
    assert_eq!(own["policy_is_public"], false, "own-account and Deny statements are not public");
    assert_eq!(own["policy"]["Statement"][1]["Principal"], json!({"AWS": ["*"]}));
    assert_eq!(own["policy"]["Statement"][1]["Resource"], json!(["arn:aws:s3:::policy-own/*"]));

    let locked = attrs(asset(d, kind::BUCKET, "eu-west-1", "locked"), &["creation_date"]);
    let o = locked.as_object().unwrap();
    assert_eq!(
        o.iter().filter(|(k, _)| *k != "acl").map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>(),
        json!({"name": "locked", "arn": "arn:aws:s3:::locked", "policy": null, "policy_is_public": false,
               "public_access_block": {"block_public_acls": true, "ignore_public_acls": true,
                                       "block_public_policy": true, "restrict_public_buckets": true},
               "encryption": {"rules": [{"sse_algorithm": "AES256", "kms_master_key_id": null, "bucket_key_enabled": false}]},
               "versioning": {"status": "Enabled", "mfa_delete": null},
               "logging": {"target_bucket": "locked", "target_prefix": "locked/"},
               "object_ownership": "BucketOwnerEnforced",
               "website": {"index_document": "index.html", "error_document": null, "redirect_all_requests_to": null}})
        .as_object()
        .unwrap()
        .clone()
    );

    assert_eq!(
        attrs(asset(d, kind::S3_ACCOUNT_SETTINGS, "global", ACCOUNT), &[]),
        json!({"public_access_block": {"block_public_acls": true, "ignore_public_acls": true,
                                       "block_public_policy": false, "restrict_public_buckets": false}})
    );
}

fn check_iam(d: &Discovered, w: &World) {
    let g = "global";
    assert_eq!(ids(d, kind::USER, g), ["alice", "bob", "carol"]);
    let alice = asset(d, kind::USER, g, "alice");
    assert_eq!(alice.tag("team"), Some("web"));
    let mut a = attrs(alice, &["create_date", "password_last_changed"]);
    let o = a.as_object_mut().unwrap();
    assert!(o.remove("user_id").is_some());
    let keys = o.remove("access_keys").unwrap();
    assert_eq!(
        a,
        json!({"user_name": "alice", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"), "path": "/",
               "password_enabled": true, "password_last_used": null, "mfa_active": false, "mfa_devices": [],
               "groups": [],
               "attached_policies": [{"policy_name": "ReadOnlyAccess", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
               "inline_policies": [{"policy_name": "s3-all", "document": {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}]}}],
               "permissions_boundary_arn": null})
    );
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let statuses: Vec<(&str, &str)> =
        keys.iter().map(|k| (k["access_key_id"].as_str().unwrap(), k["status"].as_str().unwrap())).collect();
    assert!(statuses.iter().any(|s| s.1 == "Inactive") && statuses.iter().any(|s| s.1 == "Active"), "{statuses:?}");
    assert_eq!(statuses.iter().map(|s| s.0.to_owned()).collect::<Vec<_>>(), w.alice_keys);
    for k in keys {
        assert!(k["created"].is_string() && k["last_used"].is_null() && k["last_used_service"].is_null(), "{k}");
    }

    let bob = attrs(asset(d, kind::USER, g, "bob"), &["create_date", "password_last_changed"]);
    assert_eq!(bob["groups"], json!(["admins"]));
    assert_eq!(bob["mfa_active"], true);
    assert_eq!(bob["mfa_devices"][0]["serial_number"], w.bob_mfa.as_str());
    assert_eq!(bob["access_keys"], json!([]));
    let carol = attrs(asset(d, kind::USER, g, "carol"), &["create_date", "password_last_changed"]);
    assert_eq!((carol["password_enabled"].clone(), carol["mfa_active"].clone()), (json!(false), json!(false)));

    let admins = attrs(asset(d, kind::GROUP, g, "admins"), &["create_date"]);
    assert_eq!(admins["users"], json!(["bob"]));
    assert_eq!(
        admins["attached_policies"],
        json!([{"policy_name": "AdministratorAccess", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}])
    );

    let role = attrs(asset(d, kind::ROLE, g, "app"), &["create_date"]);
    assert_eq!(
        role["assume_role_policy"],
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]},
               "Action": ["sts:AssumeRole"]}]})
    );
    assert_eq!(role["instance_profile_arns"], json!([format!("arn:aws:iam::{ACCOUNT}:instance-profile/app")]));
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/everything");
    assert_eq!(role["attached_policies"], json!([{"policy_name": "everything", "policy_arn": arn}]));

    assert_eq!(ids(d, kind::POLICY, g), std::slice::from_ref(&arn));
    let p = attrs(asset(d, kind::POLICY, g, &arn), &["create_date", "update_date"]);
    assert_eq!(
        p["document"],
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]})
    );
    assert_eq!((p["attachment_count"].clone(), p["default_version_id"].clone()), (json!(1), json!("v1")));

    let pp = attrs(asset(d, kind::PASSWORD_POLICY, g, ACCOUNT), &[]);
    assert_eq!(
        pp,
        json!({"present": true, "minimum_password_length": 8, "require_symbols": false, "require_numbers": true,
               "require_uppercase_characters": false, "require_lowercase_characters": false,
               "allow_users_to_change_password": false, "expire_passwords": true, "max_password_age": 90,
               "password_reuse_prevention": null, "hard_expiry": false})
    );
    let summary = attrs(asset(d, kind::ACCOUNT_SUMMARY, g, ACCOUNT), &[]);
    assert_eq!(
        (
            summary["root_mfa_enabled"].clone(),
            summary["root_access_keys_present"].clone(),
            summary["root_hardware_mfa"].clone()
        ),
        (json!(false), json!(false), json!(false))
    );
    assert_eq!(summary["summary"]["users"], 3);
    assert_eq!(summary["summary"]["groups"], 1);
}
