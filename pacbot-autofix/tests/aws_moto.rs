//! The AWS catalogue against moto (started by scripts/test.sh; `PACBOT_TEST_MOTO_URL`):
//! each fix on a seeded bad resource — dry-run changes nothing, apply changes it
//! (read back through the API), a second apply is a no-op, rollback restores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::{Arc, LazyLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use pacbot_autofix::aws::{AwsSessions, impactful};
use pacbot_autofix::{AccountMode, AutoLine, Catalogue, Executor, FixExt, FixTarget, Mode, RunStatus};
use pacbot_aws::testing::{FaultProxy, moto_url, reset_moto};
use pacbot_core::{Asset, AssetId};
use pacbot_store::{MemoryStore, Store};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// One moto for every test: they take turns.
static SERIAL: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

struct World {
    conf: SdkConfig,
    catalogue: Catalogue,
    store: Arc<dyn Store>,
    _proxy: FaultProxy,
}

async fn world() -> World {
    let url = moto_url();
    reset_moto(&url);
    // The proxy smooths moto's GetBucketVersioning answer for the SDK.
    let proxy = FaultProxy::start(&url).await.unwrap();
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("AKIAIOSFODNN7EXAMPLE", "secret", None, None, "test"))
        .region(Region::new(REGION))
        .endpoint_url(proxy.url())
        .load()
        .await;
    let sessions = AwsSessions::new(conf.clone(), AccountMode::Single { account: ACCOUNT.into() });
    let catalogue = impactful::catalogue(&sessions).unwrap();
    World { conf, catalogue, store: Arc::new(MemoryStore::new()), _proxy: proxy }
}

impl World {
    fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&self.conf).force_path_style(true).build())
    }
    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.conf)
    }
    fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.conf)
    }
}

fn target(kind: &str, region: &str, id: &str) -> FixTarget {
    FixTarget::asset(Asset::new(AssetId::new("aws", ACCOUNT, region, kind, id)))
}

/// Dry-run, apply, apply again, and rollback (when `restored` is given), reading
/// the resource with `$read` after each step.
macro_rules! exercise {
    ($w:expr, $line:expr, $target:expr, $read:expr, before: $before:expr, after: $after:expr, restored: $restored:expr) => {{
        let w: &World = &$w;
        let line = AutoLine::parse($line).unwrap();
        let fix = w.catalogue.get(&line.bot).unwrap().clone();
        let params = fix.parse_params(&line.args).unwrap();
        let target: FixTarget = $target;
        fix.check_kind(&target).unwrap();
        let key = fix.info().key;
        assert_eq!($read, $before, "{key}: the seeded state");
        let dry = Executor::new(w.store.clone(), "test");
        let run = dry.run(fix.as_ref(), &target, &params, "policy", chrono::Utc::now()).await.unwrap();
        assert_eq!(run.status, RunStatus::Planned, "{key}: {run:?}");
        assert_eq!($read, $before, "{key}: dry-run changed something");
        let live = Executor::new(w.store.clone(), "test").with_mode(Mode::Apply);
        let run = live.run(fix.as_ref(), &target, &params, "policy", chrono::Utc::now()).await.unwrap();
        assert_eq!(run.status, RunStatus::Applied, "{key}: {run:?}");
        assert_eq!($read, $after, "{key}: after apply");
        let again = live.run(fix.as_ref(), &target, &params, "policy", chrono::Utc::now()).await.unwrap();
        assert_eq!(again.status, RunStatus::AlreadyFixed, "{key}: {again:?}");
        assert_eq!($read, $after, "{key}: after the second apply");
        let restored: Option<Value> = $restored;
        if let Some(r) = restored {
            let back = live.rollback(&w.catalogue, &run.action_id, chrono::Utc::now()).await.unwrap();
            assert_eq!(back.status, RunStatus::RolledBack, "{key}: {back:?}");
            assert_eq!($read, r, "{key}: after rollback");
        } else {
            assert!(!fix.info().rollback, "{key} claims a rollback the test does not check");
        }
    }};
}

#[tokio::test]
async fn s3_fixes_change_moto_and_roll_back() {
    let _turn = SERIAL.lock().await;
    let w = world().await;
    let s3 = w.s3();
    for b in ["acl", "pab", "pol", "enc", "ver", "log", "logs", "gone"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let bucket = |b: &str| target("aws.s3.bucket", REGION, b);

    s3.put_bucket_acl().bucket("acl").acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead).send().await.unwrap();
    let public_grants = || async {
        let o = s3.get_bucket_acl().bucket("acl").send().await.unwrap();
        json!(o.grants().iter().filter_map(|g| g.grantee().and_then(|e| e.uri())).collect::<Vec<_>>())
    };
    exercise!(w, "AUTO: s3_remove_public_acl_grants", bucket("acl"), public_grants().await,
        before: json!(["http://acs.amazonaws.com/groups/global/AllUsers"]), after: json!([]),
        restored: Some(json!(["http://acs.amazonaws.com/groups/global/AllUsers"])));

    let pab = || async {
        match s3.get_public_access_block().bucket("pab").send().await {
            Ok(o) => json!(o.public_access_block_configuration().and_then(|c| c.block_public_policy())),
            Err(_) => Value::Null,
        }
    };
    exercise!(w, "AUTO: s3-block-public-access", bucket("pab"), pab().await,
        before: Value::Null, after: json!(true), restored: Some(Value::Null));

    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pol/*"},
        {"Sid": "Own", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pol/*"}]});
    s3.put_bucket_policy().bucket("pol").policy(policy.to_string()).send().await.unwrap();
    let sids = || async {
        let text = s3.get_bucket_policy().bucket("pol").send().await.unwrap().policy().unwrap_or_default().to_owned();
        let doc: Value = serde_json::from_str(&text).unwrap();
        json!(doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].clone()).collect::<Vec<_>>())
    };
    exercise!(w, "AUTO: s3-remove-public-policy-statements", bucket("pol"), sids().await,
        before: json!(["Public", "Own"]), after: json!(["Own"]), restored: Some(json!(["Public", "Own"])));

    let enc = || async {
        match s3.get_bucket_encryption().bucket("enc").send().await {
            Ok(o) => json!(
                o.server_side_encryption_configuration().unwrap().rules()[0]
                    .apply_server_side_encryption_by_default()
                    .unwrap()
                    .sse_algorithm()
                    .as_str()
            ),
            Err(_) => Value::Null,
        }
    };
    exercise!(w, "AUTO: s3_enable_encryption algorithm=AES256", bucket("enc"), enc().await,
        before: Value::Null, after: json!("AES256"), restored: Some(Value::Null));

    let ver = || async {
        json!(s3.get_bucket_versioning().bucket("ver").send().await.unwrap().status().map(|s| s.as_str().to_owned()))
    };
    exercise!(w, "AUTO: s3-enable-versioning", bucket("ver"), ver().await,
        before: Value::Null, after: json!("Enabled"), restored: Some(json!("Suspended")));

    s3.put_bucket_acl()
        .bucket("logs")
        .acl(aws_sdk_s3::types::BucketCannedAcl::from("log-delivery-write"))
        .send()
        .await
        .unwrap();
    let log = || async {
        let o = s3.get_bucket_logging().bucket("log").send().await.unwrap();
        o.logging_enabled().map_or(Value::Null, |l| json!([l.target_bucket(), l.target_prefix()]))
    };
    exercise!(w, "AUTO: s3-enable-access-logging logs", bucket("log"), log().await,
        before: Value::Null, after: json!(["logs", "log/"]), restored: Some(Value::Null));

    let exists = || async { json!(s3.head_bucket().bucket("gone").send().await.is_ok()) };
    exercise!(w, "AUTO: s3_delete_bucket", bucket("gone"), exists().await, before: json!(true), after: json!(false), restored: None);
}

async fn ingress(ec2: &aws_sdk_ec2::Client, group: &str) -> Value {
    let o = ec2.describe_security_groups().group_ids(group).send().await.unwrap();
    let mut rules: Vec<String> = Vec::new();
    for p in o.security_groups()[0].ip_permissions() {
        let ports = format!(
            "{} {}-{}",
            p.ip_protocol().unwrap_or_default(),
            p.from_port().unwrap_or(-1),
            p.to_port().unwrap_or(-1)
        );
        rules.extend(p.ip_ranges().iter().map(|r| format!("{ports} {}", r.cidr_ip().unwrap_or_default())));
        rules.extend(p.ipv6_ranges().iter().map(|r| format!("{ports} {}", r.cidr_ipv6().unwrap_or_default())));
    }
    rules.sort();
    json!(rules)
}

async fn open_group(w: &World, name: &str) -> String {
    use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
    let ec2 = w.ec2();
    let g = ec2.create_security_group().group_name(name).description("test").send().await.unwrap();
    let id = g.group_id().unwrap().to_owned();
    let perm = |proto: &str, from: i32, to: i32, cidr: &str| {
        let b = IpPermission::builder().ip_protocol(proto).from_port(from).to_port(to);
        if cidr.contains(':') {
            b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()).build()
        } else {
            b.ip_ranges(IpRange::builder().cidr_ip(cidr).build()).build()
        }
    };
    ec2.authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(perm("tcp", 20, 25, "0.0.0.0/0"))
        .ip_permissions(perm("tcp", 443, 443, "10.0.0.0/8"))
        .ip_permissions(perm("tcp", 3389, 3389, "::/0"))
        .send()
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn security_group_fixes_change_moto_and_roll_back() {
    let _turn = SERIAL.lock().await;
    let w = world().await;
    let ec2 = w.ec2();
    let original = json!(["tcp 20-25 0.0.0.0/0", "tcp 3389-3389 ::/0", "tcp 443-443 10.0.0.0/8"]);

    let a = open_group(&w, "split").await;
    let sg = |id: &str| target("aws.ec2.security_group", REGION, id);
    exercise!(w, "AUTO: sg_single_rule_delete 22 tcp 0.0.0.0/0", sg(&a), ingress(&ec2, &a).await,
        before: original.clone(),
        after: json!(["tcp 20-21 0.0.0.0/0", "tcp 23-25 0.0.0.0/0", "tcp 3389-3389 ::/0", "tcp 443-443 10.0.0.0/8"]),
        restored: Some(original.clone()));

    let b = open_group(&w, "world").await;
    exercise!(w, "AUTO: sg-revoke-world-ingress", sg(&b), ingress(&ec2, &b).await,
        before: original.clone(), after: json!(["tcp 443-443 10.0.0.0/8"]), restored: Some(original.clone()));

    let c = ec2
        .create_security_group()
        .group_name("unused")
        .description("x")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    let exists = || async {
        let o = ec2
            .describe_security_groups()
            .filters(aws_sdk_ec2::types::Filter::builder().name("group-id").values(&c).build())
            .send()
            .await
            .unwrap();
        json!(!o.security_groups().is_empty())
    };
    exercise!(w, "AUTO: sg-delete", sg(&c), exists().await, before: json!(true), after: json!(false), restored: None);

    // A default group is refused: a failed run that changes nothing.
    let default = ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build())
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_owned();
    let fix = w.catalogue.get("sg-delete").unwrap();
    let live = Executor::new(w.store.clone(), "test").with_mode(Mode::Apply);
    let run = live.run(fix.as_ref(), &sg(&default), &Default::default(), "p", chrono::Utc::now()).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.message.contains("a default security group cannot be deleted"), "{}", run.message);
}

#[tokio::test]
async fn instance_volume_and_address_fixes_change_moto() {
    let _turn = SERIAL.lock().await;
    let w = world().await;
    let ec2 = w.ec2();
    let image = ec2.describe_images().send().await.unwrap().images()[0].image_id().unwrap().to_owned();
    let run = |n: &str| {
        let ec2 = ec2.clone();
        let image = image.clone();
        let n = n.to_owned();
        async move {
            let o = ec2
                .run_instances()
                .image_id(image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .min_count(1)
                .max_count(1)
                .tag_specifications(
                    aws_sdk_ec2::types::TagSpecification::builder()
                        .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                        .tags(aws_sdk_ec2::types::Tag::builder().key("Name").value(n).build())
                        .build(),
                )
                .send()
                .await
                .unwrap();
            o.instances()[0].instance_id().unwrap().to_owned()
        }
    };
    let inst = |id: &str| target("aws.ec2.instance", REGION, id);
    let describe = |id: String| {
        let ec2 = ec2.clone();
        async move {
            ec2.describe_instances().instance_ids(id).send().await.unwrap().reservations()[0].instances()[0].clone()
        }
    };

    let i1 = run("stop-me").await;
    exercise!(w, "AUTO: ec2_stop_instance", inst(&i1),
        json!(describe(i1.clone()).await.state().unwrap().name().unwrap().as_str()),
        before: json!("running"), after: json!("stopped"), restored: Some(json!("running")));

    let i2 = run("imds").await;
    let tokens =
        || async { json!(describe(i2.clone()).await.metadata_options().unwrap().http_tokens().unwrap().as_str()) };
    exercise!(w, "AUTO: ec2-require-imdsv2", inst(&i2), tokens().await,
        before: json!("optional"), after: json!("required"), restored: Some(json!("optional")));

    let i3 = run("quarantine").await;
    // Seed: the instance in the default VPC's group `web`.
    let vpc = describe(i3.clone()).await.vpc_id().map(str::to_owned);
    let web = ec2.create_security_group().group_name("web").description("web").set_vpc_id(vpc).send().await.unwrap();
    ec2.modify_instance_attribute().instance_id(&i3).groups(web.group_id().unwrap()).send().await.unwrap();
    let groups = || async {
        json!(
            describe(i3.clone())
                .await
                .security_groups()
                .iter()
                .map(|g| g.group_name().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        )
    };
    exercise!(w, "AUTO: ec2_quarantine_instance", inst(&i3), groups().await,
        before: json!(["web"]), after: json!(["pacbot-quarantine"]), restored: Some(json!(["web"])));

    let i4 = run("doomed").await;
    exercise!(w, "AUTO: ec2_terminate_instance", inst(&i4),
        json!(describe(i4.clone()).await.state().unwrap().name().unwrap().as_str()),
        before: json!("running"), after: json!("terminated"), restored: None);

    let vol = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_owned();
    let snaps = || async {
        let o = ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(aws_sdk_ec2::types::Filter::builder().name("volume-id").values(&vol).build())
            .send()
            .await
            .unwrap();
        json!(o.snapshots().len())
    };
    exercise!(w, "AUTO: ec2_create_snapshot", target("aws.ec2.volume", REGION, &vol), snaps().await,
        before: json!(0), after: json!(1), restored: None);

    let ebs = || async { json!(ec2.get_ebs_encryption_by_default().send().await.unwrap().ebs_encryption_by_default()) };
    exercise!(w, "AUTO: ebs-enable-default-encryption", target("aws.ec2.account_settings", REGION, REGION), ebs().await,
        before: json!(false), after: json!(true), restored: Some(json!(false)));

    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_owned();
    let count = || async { json!(ec2.describe_addresses().send().await.unwrap().addresses().len()) };
    exercise!(w, "AUTO: ec2_release_eips", target("aws.ec2.address", REGION, &eip), count().await,
        before: json!(1), after: json!(0), restored: None);
}

#[tokio::test]
async fn iam_fixes_change_moto_and_roll_back() {
    let _turn = SERIAL.lock().await;
    let w = world().await;
    let iam = w.iam();
    for u in ["alice", "bob", "carol", "dave"] {
        iam.create_user().user_name(u).send().await.unwrap();
    }
    let user = |u: &str| target("aws.iam.user", "global", u);

    iam.create_access_key().user_name("alice").send().await.unwrap();
    let statuses = || async {
        let o = iam.list_access_keys().user_name("alice").send().await.unwrap();
        json!(o.access_key_metadata().iter().map(|k| k.status().unwrap().as_str().to_owned()).collect::<Vec<_>>())
    };
    exercise!(w, "AUTO: iam_turn_off_access_key", user("alice"), statuses().await,
        before: json!(["Active"]), after: json!(["Inactive"]), restored: Some(json!(["Active"])));

    let key =
        iam.create_access_key().user_name("bob").send().await.unwrap().access_key().unwrap().access_key_id().to_owned();
    let n =
        || async { json!(iam.list_access_keys().user_name("bob").send().await.unwrap().access_key_metadata().len()) };
    exercise!(w, &format!("AUTO: iam-delete-access-key access_key_id={key}"), user("bob"), n().await,
        before: json!(1), after: json!(0), restored: None);

    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]});
    let arn = iam
        .create_policy()
        .policy_name("p1")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let attached = |u: &'static str| {
        let iam = iam.clone();
        async move {
            let o = iam.list_attached_user_policies().user_name(u).send().await.unwrap();
            json!(
                o.attached_policies().iter().map(|p| p.policy_arn().unwrap_or_default().to_owned()).collect::<Vec<_>>()
            )
        }
    };
    exercise!(w, &format!("AUTO: iam_user_attach_policy policy_arn={arn}"), user("carol"), attached("carol").await,
        before: json!([]), after: json!([arn]), restored: Some(json!([])));
    iam.attach_user_policy().user_name("dave").policy_arn(&arn).send().await.unwrap();
    exercise!(w, &format!("AUTO: iam-detach-policy {arn}"), user("dave"), attached("dave").await,
        before: json!([arn]), after: json!([]), restored: Some(json!([arn])));

    iam.put_user_policy()
        .user_name("carol")
        .policy_name("inline1")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();
    let inline = |u: &'static str| {
        let iam = iam.clone();
        async move { json!(iam.list_user_policies().user_name(u).send().await.unwrap().policy_names()) }
    };
    exercise!(w, "AUTO: iam-delete-inline-policies", user("carol"), inline("carol").await,
        before: json!(["inline1"]), after: json!([]), restored: Some(json!(["inline1"])));

    exercise!(w, "AUTO: iam_quarantine_user", user("dave"), inline("dave").await,
        before: json!([]), after: json!(["pacbot-quarantine-deny-all"]), restored: Some(json!([])));

    let min_len = || async {
        match iam.get_account_password_policy().send().await {
            Ok(o) => json!(o.password_policy().and_then(|p| p.minimum_password_length())),
            Err(_) => Value::Null,
        }
    };
    exercise!(w, "AUTO: iam_set_password_policy min_length=16", target("aws.iam.password_policy", "global", ACCOUNT), min_len().await,
        before: Value::Null, after: json!(16), restored: Some(Value::Null));
}

#[tokio::test]
async fn the_catalogue_has_twenty_standard_fixes_and_a_policy_for_them() {
    let _turn = SERIAL.lock().await;
    let w = world().await;
    let sessions = AwsSessions::new(w.conf.clone(), AccountMode::Single { account: ACCOUNT.into() });
    let standard = pacbot_autofix::aws::catalogue(&sessions).unwrap();
    assert!(standard.len() >= 20, "{}", standard.len());
    assert!(standard.iter().all(|f| !f.info().impactful));
    let impactful: Vec<&str> = w.catalogue.iter().filter(|f| f.info().impactful).map(|f| f.info().key).collect();
    assert_eq!(impactful.len(), 3, "{impactful:?}");
    // Every fix key of the AWS pack resolves: in the standard catalogue, or
    // (the destructive ones) in the opt-in one.
    for policy in pacbot_aws::policies(&pacbot_aws::PackConfig::default()) {
        if let Some(key) = &policy.meta().fix {
            let fix = w.catalogue.get(key).unwrap_or_else(|e| panic!("{}: {e}", policy.meta().id));
            assert_eq!(standard.get(key).is_ok(), !fix.info().impactful, "{key}");
        }
    }
    let keys = standard.keys();
    let policy = pacbot_autofix::least_privilege_policy(
        &standard,
        &keys,
        Some(&AccountMode::Multi { role_name: "bots".into() }),
    )
    .unwrap();
    let actions: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(actions.contains(&"s3:PutBucketPublicAccessBlock") && actions.contains(&"iam:UpdateAccessKey"));
    assert!(!actions.contains(&"s3:DeleteBucket") && !actions.contains(&"ec2:TerminateInstances"));
    // A finding of another account is refused by the single-account sessions.
    let other = FixTarget::asset(Asset::new(AssetId::new("aws", "999999999999", REGION, "aws.s3.bucket", "x")));
    let e = standard.get("s3-enable-versioning").unwrap().plan(&other, &Default::default()).await.unwrap_err();
    assert!(e.to_string().contains("not this session's account"), "{e}");
}

#[tokio::test]
async fn account_vpc_snapshot_and_console_fixes_change_moto() {
    let _turn = SERIAL.lock().await;
    let w = world().await;
    let s3 = w.s3();
    let ec2 = w.ec2();
    let iam = w.iam();

    // The account-wide public access block (S3 Control).
    let control = pacbot_aws::s3control_client(&w.conf, REGION);
    let account_pab = || async {
        match control.get_public_access_block().account_id(ACCOUNT).send().await {
            Ok(o) => json!(o.public_access_block_configuration().and_then(|c| c.restrict_public_buckets())),
            Err(_) => Value::Null,
        }
    };
    exercise!(w, "AUTO: s3_enable_account_block_public_access", target("aws.s3.account_settings", "global", ACCOUNT),
        account_pab().await, before: Value::Null, after: json!(true), restored: Some(Value::Null));

    // A statement denying plain HTTP, added to an existing policy and removed on rollback.
    s3.create_bucket().bucket("tls").send().await.unwrap();
    let own = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Own", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tls/*"}]});
    s3.put_bucket_policy().bucket("tls").policy(own.to_string()).send().await.unwrap();
    let sids = || async {
        let text = s3.get_bucket_policy().bucket("tls").send().await.unwrap().policy().unwrap_or_default().to_owned();
        let doc: Value = serde_json::from_str(&text).unwrap();
        json!(doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].clone()).collect::<Vec<_>>())
    };
    exercise!(w, "AUTO: s3_enforce_ssl", target("aws.s3.bucket", REGION, "tls"), sids().await,
        before: json!(["Own"]), after: json!(["Own", "PacbotDenyInsecureTransport"]), restored: Some(json!(["Own"])));

    // Flow logs to an S3 bucket.
    s3.create_bucket().bucket("flow-logs").send().await.unwrap();
    let vpc =
        ec2.create_vpc().cidr_block("10.7.0.0/16").send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_owned();
    let flows = || async {
        let f = aws_sdk_ec2::types::Filter::builder().name("resource-id").values(&vpc).build();
        let o = ec2.describe_flow_logs().filter(f).send().await.unwrap();
        json!(o.flow_logs().iter().map(|l| l.traffic_type().map(|t| t.as_str().to_owned())).collect::<Vec<_>>())
    };
    exercise!(w, "AUTO: vpc_enable_flow_logs arn:aws:s3:::flow-logs", target("aws.ec2.vpc", REGION, &vpc), flows().await,
        before: json!([]), after: json!(["REJECT"]), restored: Some(json!([])));

    // The default group of that VPC emptied, then restored.
    let f = aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc).build();
    let groups = ec2.describe_security_groups().filters(f).send().await.unwrap();
    let default = groups.security_groups().iter().find(|g| g.group_name() == Some("default")).unwrap();
    let default_id = default.group_id().unwrap().to_owned();
    let rule_count = || async {
        let o = ec2.describe_security_groups().group_ids(&default_id).send().await.unwrap();
        let g = &o.security_groups()[0];
        json!([g.ip_permissions().len(), g.ip_permissions_egress().len()])
    };
    let seeded = rule_count().await;
    assert_ne!(seeded, json!([0, 0]), "moto's default group starts with rules");
    exercise!(w, "AUTO: sg-empty-default", target("aws.ec2.security_group", REGION, &default_id), rule_count().await,
        before: seeded.clone(), after: json!([0, 0]), restored: Some(seeded.clone()));
    // A group that is not a default group is refused.
    let web = ec2.create_security_group().group_name("web").description("web").vpc_id(&vpc).send().await.unwrap();
    let fix = w.catalogue.get("sg-empty-default").unwrap();
    let e = fix
        .plan(&target("aws.ec2.security_group", REGION, web.group_id().unwrap()), &Default::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a default security group"), "{e}");

    // A public snapshot made private; a share with one account is kept.
    let vol = ec2.create_volume().availability_zone("us-east-1a").size(4).send().await.unwrap();
    let vol = vol.volume_id().unwrap().to_owned();
    let snap = ec2.create_snapshot().volume_id(&vol).send().await.unwrap().snapshot_id().unwrap().to_owned();
    let modify = |group: Option<&str>, user: Option<&str>| {
        ec2.modify_snapshot_attribute()
            .snapshot_id(&snap)
            .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
            .operation_type(aws_sdk_ec2::types::OperationType::Add)
            .set_group_names(group.map(|g| vec![g.to_owned()]))
            .set_user_ids(user.map(|u| vec![u.to_owned()]))
            .send()
    };
    modify(Some("all"), None).await.unwrap();
    modify(None, Some("111122223333")).await.unwrap();
    let shared = || async {
        let o = ec2
            .describe_snapshot_attribute()
            .snapshot_id(&snap)
            .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
            .send()
            .await
            .unwrap();
        let mut who: Vec<String> = o
            .create_volume_permissions()
            .iter()
            .map(|p| p.group().map_or_else(|| p.user_id().unwrap_or_default().to_owned(), |g| g.as_str().to_owned()))
            .collect();
        who.sort();
        json!(who)
    };
    exercise!(w, "AUTO: ebs_private_snapshot", target("aws.ec2.snapshot", REGION, &snap), shared().await,
        before: json!(["111122223333", "all"]), after: json!(["111122223333"]), restored: Some(json!(["111122223333", "all"])));

    // An unattached volume snapshotted, then deleted (opt-in).
    let volumes = || async {
        let f = aws_sdk_ec2::types::Filter::builder().name("volume-id").values(&vol).build();
        json!(ec2.describe_volumes().filters(f).send().await.unwrap().volumes().len())
    };
    exercise!(w, "AUTO: ebs-snapshot-and-delete", target("aws.ec2.volume", REGION, &vol), volumes().await,
        before: json!(1), after: json!(0), restored: None);
    let f = aws_sdk_ec2::types::Filter::builder().name("tag:pacbot-autofix:snapshot-of").values(&vol).build();
    assert_eq!(ec2.describe_snapshots().owner_ids("self").filters(f).send().await.unwrap().snapshots().len(), 1);

    // Console access removed.
    iam.create_user().user_name("erin").send().await.unwrap();
    iam.create_login_profile().user_name("erin").password("Correct-Horse-9!").send().await.unwrap();
    let console = || async { json!(iam.get_login_profile().user_name("erin").send().await.is_ok()) };
    exercise!(w, "AUTO: iam_remove_console_access", target("aws.iam.user", "global", "erin"), console().await,
        before: json!(true), after: json!(false), restored: None);
}

#[tokio::test]
async fn multi_account_mode_assumes_the_role_in_the_finding_account() {
    const OTHER: &str = "222233334444";
    let _turn = SERIAL.lock().await;
    let w = world().await;
    // What the catalogue will see in the other account, through a role there.
    let endpoint = w.conf.endpoint_url().unwrap().to_owned();
    let other_conf = pacbot_aws::testing::emulator_config(&endpoint, Some((OTHER, "pacbot-fix"))).await;
    let other_s3 = pacbot_aws::testing::s3_client(&other_conf);
    other_s3.create_bucket().bucket("elsewhere").send().await.unwrap();
    let other_ec2 = aws_sdk_ec2::Client::new(&other_conf);
    let own_ec2 = w.ec2();
    assert!(!own_ec2.get_ebs_encryption_by_default().send().await.unwrap().ebs_encryption_by_default().unwrap());

    let sessions = AwsSessions::new(w.conf.clone(), AccountMode::Multi { role_name: "pacbot-fix".into() });
    let catalogue = pacbot_autofix::aws::catalogue(&sessions).unwrap();
    let live = Executor::new(w.store.clone(), "test").with_mode(Mode::Apply);
    let in_other =
        |kind: &str, region: &str, id: &str| FixTarget::asset(Asset::new(AssetId::new("aws", OTHER, region, kind, id)));

    let fix = catalogue.get("s3-enable-versioning").unwrap();
    let run = live
        .run(
            fix.as_ref(),
            &in_other("aws.s3.bucket", REGION, "elsewhere"),
            &Default::default(),
            "p",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Applied, "{run:?}");
    let status = other_s3.get_bucket_versioning().bucket("elsewhere").send().await.unwrap();
    assert_eq!(status.status().map(|s| s.as_str()), Some("Enabled"));

    let fix = catalogue.get("ebs-enable-default-encryption").unwrap();
    let run = live
        .run(
            fix.as_ref(),
            &in_other("aws.ec2.account_settings", REGION, REGION),
            &Default::default(),
            "p",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Applied, "{run:?}");
    // Changed in the other account only.
    assert!(other_ec2.get_ebs_encryption_by_default().send().await.unwrap().ebs_encryption_by_default().unwrap());
    assert!(!own_ec2.get_ebs_encryption_by_default().send().await.unwrap().ebs_encryption_by_default().unwrap());
}
