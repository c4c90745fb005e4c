//! The pack over the documented example of every kind (`src/shapes.md`):
//! the policies read exactly the documented shapes, so the examples, linked
//! to each other as one small estate, give a known set of violations and no
//! evaluation errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use pacbot_aws::pack::{self, PackConfig};
use pacbot_core::chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetId, Engine, FindingOutcome, Inventory};
use serde_json::Value;

const ACCOUNT: &str = "123456789012";

/// The documented examples: (kind, JSON), in document order.
fn examples() -> Vec<(String, Value)> {
    pacbot_core::shape_doc::examples(include_str!("../src/shapes.md"))
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.document))
        .collect()
}

/// The resource id of an example, by the kind's documented id field.
fn resource_id(kind: &str, doc: &Value) -> String {
    let field = match kind {
        "aws.ec2.instance" => "instance_id",
        "aws.ec2.security_group" => "group_id",
        "aws.ec2.volume" => "volume_id",
        "aws.ec2.snapshot" => "snapshot_id",
        "aws.ec2.vpc" => "vpc_id",
        "aws.ec2.subnet" => "subnet_id",
        "aws.ec2.route_table" => "route_table_id",
        "aws.ec2.address" => "allocation_id",
        "aws.ec2.account_settings" => return "us-east-1".into(),
        "aws.s3.bucket" => "name",
        "aws.iam.user" => "user_name",
        "aws.iam.group" => "group_name",
        "aws.iam.role" => "role_name",
        "aws.iam.policy" => "arn",
        _ => return ACCOUNT.into(),
    };
    doc[field].as_str().unwrap_or_else(|| panic!("{kind}: no `{field}`")).to_owned()
}

fn estate() -> Inventory {
    examples()
        .into_iter()
        .map(|(kind, doc)| {
            let global = kind.starts_with("aws.iam.") || kind == "aws.s3.account_settings";
            let region = if global { "global" } else { "us-east-1" };
            let id = AssetId::new("aws", ACCOUNT, region, kind.as_str(), resource_id(&kind, &doc));
            Asset::new(id).with_attributes(doc)
        })
        .collect()
}

#[test]
fn the_documented_examples_give_the_known_violations_and_no_errors() {
    let inventory = estate();
    assert_eq!(inventory.len(), pacbot_aws::shapes::kind::ALL.len(), "one example per kind");
    let config = PackConfig { approved_regions: vec!["us-east-1".into()], ..PackConfig::default() };
    let engine = Engine::new(pack::policies(&config), vec![]).unwrap();
    let now: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    let eval = engine.evaluate(&inventory, now);
    let mut errors = Vec::new();
    let mut got = BTreeSet::new();
    for (meta, _, pos, outcome) in eval.findings() {
        let asset = &inventory.assets()[pos].id.resource_id;
        match outcome {
            FindingOutcome::Fail { .. } => {
                got.insert(format!("{} {asset}", meta.id));
            }
            FindingOutcome::Error { message } => errors.push(format!("{} {asset}: {message}", meta.id)),
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
    let want: BTreeSet<String> = [
        // The instance: public IP in a subnet routed to igw-1, sg-1 open from 0.0.0.0/0.
        "aws-ec2-instance-public-ip i-0abc",
        "aws-ec2-instance-internet-reachable i-0abc",
        "aws-ec2-instance-imdsv1 i-0abc",
        "aws-ec2-instance-no-iam-role i-0abc",
        "aws-tagging-mandatory-tags i-0abc",
        // sg-1: tcp 0-1024 from 0.0.0.0/0 and all traffic from ::/0.
        "aws-ec2-sg-open-all-ports sg-1",
        "aws-ec2-sg-open-ssh sg-1",
        "aws-ec2-sg-open-rdp sg-1",
        "aws-ec2-sg-open-admin-ports sg-1",
        "aws-ec2-sg-open-database-ports sg-1",
        "aws-tagging-mandatory-tags sg-1",
        "aws-ebs-volume-unencrypted vol-1",
        "aws-tagging-mandatory-tags vol-1",
        "aws-ebs-snapshot-public snap-1",
        "aws-ebs-snapshot-unencrypted snap-1",
        "aws-tagging-mandatory-tags snap-1",
        "aws-tagging-mandatory-tags eipalloc-1",
        "aws-ebs-default-encryption-off us-east-1",
        // The bucket's public ACL and policy are neutralised by the account's block.
        "aws-s3-mfa-delete-off www-assets",
        "aws-s3-website-hosting www-assets",
        "aws-s3-insecure-transport-allowed www-assets",
        "aws-tagging-mandatory-tags www-assets",
        // alice: console without MFA, an old key, admin through the group `admins`.
        "aws-iam-user-console-no-mfa alice",
        "aws-iam-access-key-old alice",
        "aws-iam-user-console-unused alice",
        "aws-iam-user-admin alice",
        "aws-iam-user-direct-policies alice",
        "aws-iam-policy-full-admin arn:aws:iam::123456789012:policy/everything",
        "aws-iam-root-mfa-off 123456789012",
        "aws-iam-root-hardware-mfa-off 123456789012",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing: {missing:#?}\nunexpected: {extra:#?}");
}
