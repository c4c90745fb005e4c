// Run with `cargo bench --bench engine` (a quick smoke run: `cargo test --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! Engine throughput over synthetic inventories of 10k, 100k and 1M assets
//! with a representative pack of 30 policies (27 declarative, 3 in code).
//!
//! Besides the criterion report, the bench prints a figures block: per size
//! the wall time of one evaluation, assets/s and checks/s, and the memory per
//! asset of the inventory and of an evaluation (measured with `stats_alloc`).

mod support;

use std::alloc::System;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pacbot_core::{
    Asset, AssetGroup, AssetId, Attr, AttrKind, Category, Engine, EvalContext, Evaluation, FnRule, Inventory, Outcome,
    Policy, PolicyMeta, ResourceKind, Severity, parse_policies,
};
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::Lcg;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The scan time of every evaluation: results do not depend on the clock.
const NOW: &str = "2026-06-01T00:00:00Z";

/// Targets the figures are reported against.
const TARGET_SECONDS_1M: f64 = 2.0;
const TARGET_BYTES_PER_ASSET: f64 = 2048.0;

// ---------------------------------------------------------------------------
// The policy pack
// ---------------------------------------------------------------------------

const PACK: &str = r#"
policies:
  # --- S3 buckets ----------------------------------------------------------
  - id: aws-s3-public-acl
    name: S3 bucket ACL grants access to everyone
    severity: critical
    category: security
    frameworks: {cis-aws-foundations-v3.0.0: ["2.1.4"]}
    fix: s3-remove-public-grants
    resource: aws.s3.bucket
    fail_when:
      path: "acl.grants[*].grantee.uri"
      in:
        - http://acs.amazonaws.com/groups/global/AllUsers
        - http://acs.amazonaws.com/groups/global/AuthenticatedUsers
    reason: "bucket {name} grants {acl.grants[*].permission} through its ACL"
  - id: aws-s3-versioning
    name: S3 bucket versioning is off
    severity: medium
    category: governance
    resource: aws.s3.bucket
    when: {path: state, ne: deleting}
    fail_when: {path: versioning.status, ne: Enabled}
    reason: "bucket {name} has versioning {versioning.status}"
  - id: aws-s3-default-encryption
    name: S3 bucket has no default encryption
    severity: high
    category: security
    resource: aws.s3.bucket
    pass_when:
      path: "encryption.rules[*].apply_server_side_encryption_by_default.sse_algorithm"
      in: [AES256, "aws:kms", "aws:kms:dsse"]
  - id: aws-s3-block-public-access
    name: S3 bucket does not block public access
    severity: high
    category: security
    resource: aws.s3.bucket
    pass_when:
      all:
        - {path: public_access_block.block_public_acls, eq: true}
        - {path: public_access_block.ignore_public_acls, eq: true}
        - {path: public_access_block.block_public_policy, eq: true}
        - {path: public_access_block.restrict_public_buckets, eq: true}
  - id: aws-s3-access-logging
    name: S3 bucket access logging is off
    severity: low
    category: governance
    resource: aws.s3.bucket
    pass_when: {path: logging.target_bucket, exists: true}
  - id: aws-s3-mfa-delete
    name: Production S3 bucket without MFA delete
    severity: medium
    category: governance
    scope: production
    resource: aws.s3.bucket
    fail_when: {path: versioning.mfa_delete, ne: Enabled}
  - id: aws-s3-temporary-bucket
    name: Temporary S3 bucket left behind
    severity: low
    category: cost
    resource: aws.s3.bucket
    fail_when: {path: name, glob: "{tmp,temp,scratch}-*"}

  # --- Security groups -----------------------------------------------------
  - id: aws-sg-ssh-open-world
    name: Security group allows SSH from anywhere
    severity: critical
    category: security
    frameworks: {cis-aws-foundations-v3.0.0: ["5.2"]}
    resource: aws.ec2.security_group
    # `match` keeps the protocol, the ports and the range on one permission.
    fail_when:
      path: "ip_permissions[*]"
      match:
        all:
          - any:
              - {path: ip_protocol, eq: "-1"}
              - all: [{path: ip_protocol, eq: tcp}, {path: from_port, le: 22}, {path: to_port, ge: 22}]
          - {path: "ip_ranges[*].cidr_ip", cidr-contains: 0.0.0.0/0}
    reason: "security group {group_id} admits {ip_permissions[*].ip_ranges[*].cidr_ip}"
  - id: aws-sg-rdp-open-world
    name: Security group allows RDP from anywhere
    severity: critical
    category: security
    resource: aws.ec2.security_group
    fail_when:
      path: "ip_permissions[*]"
      match:
        all:
          - any:
              - {path: ip_protocol, eq: "-1"}
              - all: [{path: ip_protocol, eq: tcp}, {path: from_port, le: 3389}, {path: to_port, ge: 3389}]
          - {path: "ip_ranges[*].cidr_ip", cidr-contains: 0.0.0.0/0}
  - id: aws-sg-ipv6-open-world
    name: Security group allows ingress from all of IPv6
    severity: high
    category: security
    resource: aws.ec2.security_group
    fail_when: {path: "ip_permissions[*].ipv6_ranges[*].cidr_ipv6", cidr-contains: "::/0"}
  - id: aws-sg-default-restricts-all
    name: Default security group allows traffic
    severity: medium
    category: security
    resource: aws.ec2.security_group
    when: {path: group_name, eq: default}
    fail_when:
      any:
        - {path: "ip_permissions[*]", exists: true}
        - {path: "ip_permissions_egress[*]", exists: true}
  - id: aws-sg-ingress-private-only
    name: Production security group admits public networks
    severity: medium
    category: security
    scope: production
    resource: aws.ec2.security_group
    when: {path: "ip_permissions[*].ip_ranges[*].cidr_ip", exists: true}
    pass_when:
      path: "ip_permissions[*].ip_ranges[*].cidr_ip"
      every: true
      regex: '^(10\.|172\.(1[6-9]|2[0-9]|3[01])\.|192\.168\.)'
  - id: aws-sg-hygiene
    name: Security group hygiene
    severity: low
    category: governance
    rules:
      - id: no-launch-wizard
        resource: aws.ec2.security_group
        fail_when: {path: group_name, glob: "launch-wizard-*"}
      - id: described-ranges
        resource: aws.ec2.security_group
        when: {path: "ip_permissions[*].ip_ranges[*]", exists: true}
        pass_when: {path: "ip_permissions[*].ip_ranges[*].description", every: true, regex: '\S'}

  # --- EC2 instances -------------------------------------------------------
  - id: aws-ec2-imdsv2
    name: Instance does not require IMDSv2
    severity: high
    category: security
    resource: aws.ec2.instance
    when: {path: state.name, eq: running}
    fail_when: {path: metadata_options.http_tokens, ne: required}
  - id: aws-ec2-public-ip
    name: Production instance has a public IP address
    severity: medium
    category: security
    scope: production
    resource: aws.ec2.instance
    when: {path: state.name, eq: running}
    fail_when: {path: public_ip_address, exists: true}
    reason: "instance {resource_id} is reachable at {public_ip_address}"
  - id: aws-ec2-stopped-30d
    name: Instance stopped for more than 30 days
    severity: low
    category: cost
    resource: aws.ec2.instance
    fail_when:
      all:
        - {path: state.name, eq: stopped}
        - {path: state_transition_time, older-than: 30d}
  - id: aws-ec2-delete-on-termination
    name: Instance keeps its volumes after termination
    severity: low
    category: cost
    resource: aws.ec2.instance
    when: {path: "block_device_mappings[*]", exists: true}
    pass_when: {path: "block_device_mappings[*].ebs.delete_on_termination", every: true, eq: true}

  # --- EBS volumes ---------------------------------------------------------
  - id: aws-ebs-encrypted
    name: EBS volume is not encrypted
    severity: high
    category: security
    resource: aws.ec2.volume
    pass_when: {path: encrypted, eq: true}
    reason: "volume {resource_id} ({size} GiB) is not encrypted"
  - id: aws-ebs-unattached
    name: EBS volume unattached for more than a week
    severity: low
    category: cost
    resource: aws.ec2.volume
    fail_when:
      all:
        - {path: state, eq: available}
        - {path: create_time, older-than: 7d}

  # --- IAM users -----------------------------------------------------------
  - id: aws-iam-access-key-rotation
    name: IAM access key older than 90 days
    severity: medium
    category: security
    frameworks: {cis-aws-foundations-v3.0.0: ["1.14"]}
    resource: aws.iam.user
    fail_when:
      all:
        - {path: "access_keys[*].status", eq: Active}
        - {path: "access_keys[*].create_date", older-than: 90d}
  - id: aws-iam-console-mfa
    name: IAM console user without MFA
    severity: high
    category: security
    resource: aws.iam.user
    when: {path: password_enabled, eq: true}
    pass_when: {path: "mfa_devices[*].serial_number", exists: true}
  - id: aws-iam-admin-attached
    name: IAM user has AdministratorAccess attached directly
    severity: high
    category: security
    resource: aws.iam.user
    fail_when: {path: "attached_policies[*].policy_arn", eq: "arn:aws:iam::aws:policy/AdministratorAccess"}
  - id: aws-iam-keys-used
    name: IAM user has access keys unused for 180 days
    severity: low
    category: security
    resource: aws.iam.user
    when: {path: "access_keys[*]", exists: true}
    pass_when: {path: "access_keys[*].last_used_date", every: true, newer-than: 180d}

  # --- Azure storage accounts ----------------------------------------------
  - id: azure-storage-https-only
    name: Storage account accepts plain HTTP
    severity: high
    category: security
    resource: azure.storage.account
    fail_when: {path: properties.supportsHttpsTrafficOnly, ne: true}
  - id: azure-storage-min-tls
    name: Storage account accepts TLS below 1.2
    severity: medium
    category: security
    resource: azure.storage.account
    fail_when: {path: properties.minimumTlsVersion, not-in: [TLS1_2, TLS1_3]}
  - id: azure-storage-public-blob
    name: Storage account allows public blob access
    severity: high
    category: security
    resource: azure.storage.account
    fail_when:
      all:
        - {path: properties.allowBlobPublicAccess, eq: true}
        - {path: attributes.kind, in: [StorageV2, BlobStorage]}

  # --- Tagging -------------------------------------------------------------
  - id: mandatory-tags
    name: Resource lacks the mandatory tags
    severity: low
    category: tagging
    resource: [aws.s3.bucket, aws.ec2.instance, aws.ec2.volume, aws.ec2.security_group, azure.storage.account]
    pass_when:
      all:
        - {path: tags.Owner, exists: true}
        - {path: tags.CostCenter, regex: '^cc-[0-9]{4}$'}
        - {path: tags.Environment, in: [production, staging, development]}
"#;

const GROUPS: &str = r#"
groups:
  - name: production
    description: Everything tagged as production.
    criteria: {path: tags.Environment, eq: production}
"#;

/// Whether a security-group permission admits the whole internet.
fn open_to_world(perm: Attr<'_>) -> bool {
    let v4 = perm.field("ip_ranges").elements().any(|x| x.field("cidr_ip") == "0.0.0.0/0");
    v4 || perm.field("ipv6_ranges").elements().any(|x| x.field("cidr_ipv6") == "::/0")
}

/// Whether a security-group permission covers a TCP port.
fn covers_port(perm: Attr<'_>, port: u64) -> bool {
    if perm.field("ip_protocol") == "-1" {
        return true;
    }
    match (perm.field("from_port").as_u64(), perm.field("to_port").as_u64()) {
        (Some(from), Some(to)) => perm.field("ip_protocol") == "tcp" && from <= port && port <= to,
        _ => false,
    }
}

/// The first port of `ports` that one single permission of the group opens to the world.
fn world_open_port(sg: &Asset, ports: &[u64]) -> Option<u64> {
    let perms = sg.attributes.field("ip_permissions").as_array()?;
    perms.filter(|p| open_to_world(*p)).find_map(|p| ports.iter().copied().find(|&port| covers_port(p, port)))
}

fn code_policies() -> Vec<Policy> {
    let exposed = FnRule::new("ssh-exposed", ["aws.ec2.instance"], |a: &Asset, ctx: &EvalContext<'_>| {
        if a.attributes.field("state").field("name") != "running" {
            return Outcome::NotApplicable;
        }
        if a.attributes.field("public_ip_address").is_null() {
            return Outcome::Pass;
        }
        let Some(groups) = a.attributes.field("security_groups").as_array() else {
            return Outcome::error("no `security_groups` attribute");
        };
        for g in groups {
            let Some(id) = g.field("group_id").as_str() else { continue };
            match ctx.related(a, "aws.ec2.security_group", id) {
                None => return Outcome::error(format!("security group {id} not in the inventory")),
                Some(sg) if world_open_port(sg, &[22]).is_some() => {
                    return Outcome::fail_with(
                        format!("public instance {} admits SSH from anywhere through {id}", a.id.resource_id),
                        json!({ "security_group": id }),
                    );
                }
                Some(_) => {}
            }
        }
        Outcome::Pass
    });
    let orphan = FnRule::new("attached-instance-exists", ["aws.ec2.volume"], |a: &Asset, ctx: &EvalContext<'_>| {
        let Some(attachments) = a.attributes.field("attachments").as_array().filter(|v| v.len() > 0) else {
            return Outcome::NotApplicable;
        };
        for att in attachments {
            let Some(id) = att.field("instance_id").as_str() else {
                return Outcome::error("attachment without `instance_id`");
            };
            if ctx.related(a, "aws.ec2.instance", id).is_none() {
                return Outcome::fail_with(format!("attached to unknown instance {id}"), json!({ "instance_id": id }));
            }
        }
        Outcome::Pass
    });
    let admin_ports =
        FnRule::new("admin-ports", ["aws.ec2.security_group"], |a: &Asset, _: &EvalContext<'_>| match world_open_port(
            a,
            &[22, 3389, 3306, 5432, 6379, 27017],
        ) {
            Some(port) => Outcome::fail_with(format!("port {port} is open to the internet"), json!({ "port": port })),
            None => Outcome::Pass,
        });
    vec![
        Policy::new(
            PolicyMeta::new(
                "aws-ec2-ssh-exposed",
                "Public instance reachable by SSH",
                Severity::Critical,
                Category::Security,
            )
            .with_description("A running instance with a public IP in a security group open to 0.0.0.0/0 on port 22."),
            exposed,
        ),
        Policy::new(
            PolicyMeta::new(
                "aws-ebs-orphan-attachment",
                "Volume attached to a missing instance",
                Severity::Low,
                Category::Cost,
            ),
            orphan,
        ),
        Policy::new(
            PolicyMeta::new(
                "aws-sg-admin-ports",
                "Administrative port open to the internet",
                Severity::High,
                Category::Security,
            )
            .with_scope("production"),
            admin_ports,
        ),
    ]
}

fn build_engine() -> Engine {
    let mut policies = parse_policies("pack.yaml", PACK).expect("the pack parses");
    policies.extend(code_policies());
    let groups = AssetGroup::parse_document("groups.yaml", GROUPS).expect("the groups parse");
    Engine::new(policies, groups).expect("the engine accepts the pack")
}

// ---------------------------------------------------------------------------
// Synthetic inventory
// ---------------------------------------------------------------------------

const ACCOUNTS: usize = 24;
const AWS_REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const AZURE_LOCATIONS: [&str; 4] = ["westeurope", "northeurope", "eastus", "uksouth"];
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
const TEAMS: [&str; 8] = ["payments", "search", "identity", "data", "platform", "mobile", "ads", "support"];

struct Generator {
    rng: Lcg,
    now: DateTime<Utc>,
    kinds: [ResourceKind; 6],
    accounts: Vec<String>,
    subscriptions: Vec<String>,
    /// Security groups generated so far, per (account, region) cell.
    sgs: Vec<u64>,
    /// Instances generated so far, per cell.
    instances: Vec<u64>,
    serial: u64,
}

impl Generator {
    fn new(seed: u64) -> Self {
        let kinds = [
            "aws.s3.bucket",
            "aws.ec2.instance",
            "aws.ec2.security_group",
            "aws.ec2.volume",
            "aws.iam.user",
            "azure.storage.account",
        ]
        .map(ResourceKind::new);
        Self {
            rng: Lcg(seed),
            now: now(),
            kinds,
            accounts: (0..ACCOUNTS).map(|a| format!("{:012}", 210_987_654_321_u64 + a as u64 * 7_919)).collect(),
            subscriptions: (0..ACCOUNTS)
                .map(|a| format!("{:08x}-5f1d-4c2e-9a7b-{:012x}", 0x3b00_0000 + a, a * 977))
                .collect(),
            sgs: vec![0; ACCOUNTS * AWS_REGIONS.len()],
            instances: vec![0; ACCOUNTS * AWS_REGIONS.len()],
            serial: 0,
        }
    }

    /// An RFC 3339 time between `min_days` and `max_days` before the scan.
    fn ago(&mut self, min_days: u64, max_days: u64) -> String {
        let secs = (min_days * 86_400 + self.rng.below((max_days - min_days).max(1) * 86_400)) as i64;
        (self.now - TimeDelta::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn ip(&mut self, first: u64) -> String {
        format!("{first}.{}.{}.{}", self.rng.below(256), self.rng.below(256), 1 + self.rng.below(254))
    }

    fn tagged(&mut self, mut asset: Asset) -> Asset {
        let env = match self.rng.below(100) {
            0..40 => Some("production"),
            40..70 => Some("staging"),
            70..95 => Some("development"),
            _ => None,
        };
        if let Some(env) = env {
            asset = asset.with_tag("Environment", env);
        }
        if !self.rng.chance(8) {
            let team = self.rng.pick(&TEAMS);
            asset = asset.with_tag("Owner", format!("team-{team}"));
        }
        match self.rng.below(100) {
            0..10 => {}
            10..13 => asset = asset.with_tag("CostCenter", format!("CC{}", self.rng.below(100))),
            _ => asset = asset.with_tag("CostCenter", format!("cc-{:04}", 1000 + self.rng.below(9000))),
        }
        asset
    }

    fn next_asset(&mut self) -> Asset {
        self.serial += 1;
        let account = self.rng.below(ACCOUNTS as u64) as usize;
        let region = self.rng.below(AWS_REGIONS.len() as u64) as usize;
        let asset = match self.rng.below(100) {
            0..12 => self.bucket(account, region),
            12..37 => self.instance(account, region),
            37..52 => self.security_group(account, region),
            52..77 => self.volume(account, region),
            77..85 => self.iam_user(account),
            _ => self.storage_account(account, region),
        };
        let asset = self.tagged(asset);
        Asset { first_seen: Some(self.now - TimeDelta::days(30)), last_seen: Some(self.now), ..asset }
    }

    fn aws_id(&self, account: usize, region: &str, kind: usize, resource_id: String) -> AssetId {
        AssetId::new("aws", self.accounts[account].clone(), region, self.kinds[kind].clone(), resource_id)
    }

    fn bucket(&mut self, account: usize, region: usize) -> Asset {
        let prefix = self.rng.pick(&["logs", "data", "backup", "assets", "web", "reports", "tmp", "scratch", "ml"]);
        let team = self.rng.pick(&TEAMS);
        let name = format!("{prefix}-{team}-{:08}", self.serial);
        let owner = format!("{:016x}{:016x}{:016x}{:016x}", account * 31, account * 37, account * 41, account * 43);
        let mut grants = vec![json!({
            "grantee": {"type": "CanonicalUser", "id": owner, "display_name": "ops"},
            "permission": "FULL_CONTROL",
        })];
        if self.rng.chance(5) {
            grants.push(json!({"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ"}));
        }
        if self.rng.chance(3) {
            grants.push(json!({"grantee": {"type": "Group", "uri": AUTH_USERS}, "permission": "READ_ACP"}));
        }
        if self.rng.chance(30) {
            grants.push(json!({"grantee": {"type": "Group", "uri": LOG_DELIVERY}, "permission": "WRITE"}));
        }
        let versioning = match self.rng.below(100) {
            0..75 => {
                json!({"status": "Enabled", "mfa_delete": if self.rng.chance(30) { "Enabled" } else { "Disabled" }})
            }
            75..90 => json!({"status": "Suspended", "mfa_delete": "Disabled"}),
            _ => json!({}),
        };
        let encryption = if self.rng.chance(92) {
            let kms = self.rng.chance(50);
            json!({"rules": [{
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": if kms { "aws:kms" } else { "AES256" },
                    "kms_master_key_id": if kms { Value::from(format!("arn:aws:kms:{}:{}:key/{:08x}", AWS_REGIONS[region], self.accounts[account], self.serial)) } else { Value::Null },
                },
                "bucket_key_enabled": kms,
            }]})
        } else {
            Value::Null
        };
        let block = |rng: &mut Lcg| rng.chance(96);
        let attributes = json!({
            "bucket_name": name,
            "arn": format!("arn:aws:s3:::{name}"),
            "creation_date": self.ago(1, 2000),
            "state": if self.rng.chance(1) { "deleting" } else { "available" },
            "acl": {"owner": {"id": owner, "display_name": "ops"}, "grants": grants},
            "versioning": versioning,
            "encryption": encryption,
            "public_access_block": {
                "block_public_acls": block(&mut self.rng),
                "ignore_public_acls": block(&mut self.rng),
                "block_public_policy": block(&mut self.rng),
                "restrict_public_buckets": block(&mut self.rng),
            },
            "logging": if self.rng.chance(70) { json!({"target_bucket": format!("logs-{}", self.accounts[account]), "target_prefix": format!("s3/{name}/")}) } else { json!({}) },
            "lifecycle_rules": [{"id": "expire-noncurrent", "status": if self.rng.chance(60) { "Enabled" } else { "Disabled" }, "noncurrent_version_expiration_days": 90}],
            "object_lock_enabled": false,
            "request_payer": "BucketOwner",
        });
        Asset::new(self.aws_id(account, AWS_REGIONS[region], 0, name.clone()))
            .with_name(name)
            .with_attributes(attributes)
    }

    fn instance(&mut self, account: usize, region: usize) -> Asset {
        let cell = account * AWS_REGIONS.len() + region;
        let n = self.instances[cell];
        self.instances[cell] += 1;
        let id = format!("i-{:017x}", (cell as u64) << 40 | n);
        let groups: Vec<Value> = (0..1 + self.rng.below(3))
            .map(|_| {
                let known = self.sgs[cell];
                // Mostly a group of the same account and region; rarely a dangling reference.
                let gn = if known == 0 || self.rng.chance(1) { 0xff_ffff } else { self.rng.below(known) };
                json!({"group_id": format!("sg-{:017x}", (cell as u64) << 40 | gn), "group_name": format!("app-{gn}")})
            })
            .collect();
        let disks: Vec<Value> = (0..1 + self.rng.below(2))
            .map(|d| {
                json!({
                    "device_name": if d == 0 { "/dev/xvda".to_owned() } else { format!("/dev/sd{}", (b'f' + d as u8) as char) },
                    "ebs": {
                        "volume_id": format!("vol-{:017x}", self.rng.next()),
                        "status": "attached",
                        "delete_on_termination": !self.rng.chance(10),
                        "attach_time": self.ago(1, 400),
                    },
                })
            })
            .collect();
        let state = match self.rng.below(100) {
            0..85 => ("running", 16),
            85..97 => ("stopped", 80),
            _ => ("pending", 0),
        };
        let mut attributes = json!({
            "instance_id": id,
            "instance_type": self.rng.pick(&["t3.micro", "t3.large", "m5.xlarge", "c5.2xlarge", "r5.large", "m6i.large", "t2.medium", "m4.large"]),
            "image_id": format!("ami-{:017x}", self.rng.next()),
            "architecture": "x86_64",
            "platform_details": "Linux/UNIX",
            "state": {"name": state.0, "code": state.1},
            "state_transition_time": self.ago(0, 120),
            "launch_time": self.ago(0, 700),
            "private_ip_address": self.ip(10),
            "vpc_id": format!("vpc-{:08x}", cell),
            "subnet_id": format!("subnet-{:08x}", cell * 4 + self.rng.below(4) as usize),
            "key_name": format!("{}-deploy", self.rng.pick(&TEAMS)),
            "security_groups": groups,
            "block_device_mappings": disks,
            "metadata_options": {"http_tokens": if self.rng.chance(70) { "required" } else { "optional" }, "http_endpoint": "enabled", "http_put_response_hop_limit": 1},
            "monitoring": {"state": if self.rng.chance(30) { "enabled" } else { "disabled" }},
            "iam_instance_profile": {"arn": format!("arn:aws:iam::{}:instance-profile/app", self.accounts[account])},
            "ebs_optimized": true,
        });
        if self.rng.chance(25) {
            let ip = self.ip(54);
            attributes.as_object_mut().unwrap().insert("public_ip_address".into(), ip.into());
        }
        Asset::new(self.aws_id(account, AWS_REGIONS[region], 1, id)).with_attributes(attributes)
    }

    fn security_group(&mut self, account: usize, region: usize) -> Asset {
        let cell = account * AWS_REGIONS.len() + region;
        let n = self.sgs[cell];
        self.sgs[cell] += 1;
        let id = format!("sg-{:017x}", (cell as u64) << 40 | n);
        let name = match self.rng.below(100) {
            0..5 => "default".to_owned(),
            5..10 => format!("launch-wizard-{}", n % 40),
            _ => format!("{}-{}-{n}", self.rng.pick(&["web", "db", "app", "cache", "bastion"]), self.rng.pick(&TEAMS)),
        };
        let range = |rng: &mut Lcg, cidr: &str| {
            if rng.chance(85) {
                json!({"cidr_ip": cidr, "description": "managed by terraform"})
            } else {
                json!({"cidr_ip": cidr})
            }
        };
        let perms: Vec<Value> = (0..1 + self.rng.below(4))
            .map(|_| match self.rng.below(100) {
                0..30 => json!({"ip_protocol": "tcp", "from_port": 443, "to_port": 443, "ip_ranges": [range(&mut self.rng, "0.0.0.0/0")], "ipv6_ranges": if self.rng.chance(30) { json!([{"cidr_ipv6": "::/0"}]) } else { json!([]) }, "user_id_group_pairs": []}),
                30..55 => json!({"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "ip_ranges": [range(&mut self.rng, "10.0.0.0/8"), range(&mut self.rng, "192.168.0.0/16")], "ipv6_ranges": [], "user_id_group_pairs": []}),
                55..60 => json!({"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "ip_ranges": [range(&mut self.rng, "0.0.0.0/0")], "ipv6_ranges": [], "user_id_group_pairs": []}),
                60..62 => json!({"ip_protocol": "tcp", "from_port": 3389, "to_port": 3389, "ip_ranges": [range(&mut self.rng, "0.0.0.0/0")], "ipv6_ranges": [], "user_id_group_pairs": []}),
                62..80 => json!({"ip_protocol": "tcp", "from_port": 5432, "to_port": 5432, "ip_ranges": [range(&mut self.rng, "172.16.0.0/12")], "ipv6_ranges": [], "user_id_group_pairs": []}),
                80..99 => json!({"ip_protocol": "-1", "ip_ranges": [], "ipv6_ranges": [], "user_id_group_pairs": [{"group_id": format!("sg-{:017x}", (cell as u64) << 40 | self.rng.below(n + 1)), "user_id": self.accounts[account]}]}),
                _ => json!({"ip_protocol": "tcp", "from_port": 0, "to_port": 65535, "ip_ranges": [range(&mut self.rng, "0.0.0.0/0")], "ipv6_ranges": [], "user_id_group_pairs": []}),
            })
            .collect();
        let attributes = json!({
            "group_id": id,
            "group_name": name,
            "description": format!("{name} security group"),
            "vpc_id": format!("vpc-{:08x}", cell),
            "owner_id": self.accounts[account],
            "arn": format!("arn:aws:ec2:{}:{}:security-group/{id}", AWS_REGIONS[region], self.accounts[account]),
            "ip_permissions": perms,
            "ip_permissions_egress": [{"ip_protocol": "-1", "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}], "ipv6_ranges": [], "user_id_group_pairs": []}],
        });
        Asset::new(self.aws_id(account, AWS_REGIONS[region], 2, id)).with_name(name).with_attributes(attributes)
    }

    fn volume(&mut self, account: usize, region: usize) -> Asset {
        let cell = account * AWS_REGIONS.len() + region;
        let id = format!("vol-{:017x}", self.serial);
        let known = self.instances[cell];
        let attached = known > 0 && self.rng.chance(80);
        let attachments = if attached {
            // Rarely a leftover attachment to an instance that no longer exists.
            let n = if self.rng.chance(1) { 0xff_ffff } else { self.rng.below(known) };
            json!([{"instance_id": format!("i-{:017x}", (cell as u64) << 40 | n), "device": "/dev/sdf", "state": "attached", "attach_time": self.ago(1, 300), "delete_on_termination": false}])
        } else {
            json!([])
        };
        let encrypted = self.rng.chance(85);
        let size = [8, 20, 100, 500][self.rng.below(4) as usize];
        let attributes = json!({
            "volume_id": id,
            "size": size,
            "volume_type": self.rng.pick(&["gp3", "gp3", "gp2", "io2", "st1"]),
            "iops": 3000,
            "throughput": 125,
            "encrypted": encrypted,
            "kms_key_id": if encrypted { Value::from(format!("arn:aws:kms:{}:{}:key/{:08x}", AWS_REGIONS[region], self.accounts[account], account)) } else { Value::Null },
            "state": if attached { "in-use" } else { "available" },
            "attachments": attachments,
            "create_time": self.ago(0, 900),
            "availability_zone": format!("{}{}", AWS_REGIONS[region], self.rng.pick(&["a", "b", "c"])),
            "snapshot_id": if self.rng.chance(40) { format!("snap-{:017x}", self.rng.next()) } else { String::new() },
            "multi_attach_enabled": false,
        });
        Asset::new(self.aws_id(account, AWS_REGIONS[region], 3, id)).with_attributes(attributes)
    }

    fn iam_user(&mut self, account: usize) -> Asset {
        let name = format!(
            "{}.{}{}",
            self.rng.pick(&["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]),
            self.rng.pick(&["smith", "jones", "garcia", "khan", "novak", "tanaka", "okafor"]),
            self.serial
        );
        let console = self.rng.chance(60);
        let mfa: Vec<Value> = if console && self.rng.chance(80) {
            vec![
                json!({"serial_number": format!("arn:aws:iam::{}:mfa/{name}", self.accounts[account]), "enable_date": self.ago(30, 900)}),
            ]
        } else {
            Vec::new()
        };
        let keys: Vec<Value> = (0..self.rng.below(3))
            .map(|k| {
                json!({
                    "access_key_id": format!("AKIA{:016X}", self.rng.next() << 8 | k),
                    "status": if self.rng.chance(85) { "Active" } else { "Inactive" },
                    "create_date": self.ago(0, 400),
                    "last_used_date": self.ago(0, 250),
                })
            })
            .collect();
        let mut policies =
            vec![json!({"policy_name": "ReadOnlyAccess", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})];
        if self.rng.chance(4) {
            policies.push(json!({"policy_name": "AdministratorAccess", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}));
        }
        let mut attributes = json!({
            "user_name": name,
            "user_id": format!("AIDA{:016X}", self.rng.next()),
            "arn": format!("arn:aws:iam::{}:user/{name}", self.accounts[account]),
            "path": "/",
            "create_date": self.ago(30, 2000),
            "password_enabled": console,
            "mfa_devices": mfa,
            "access_keys": keys,
            "attached_policies": policies,
            "groups": [self.rng.pick(&["developers", "operators", "analysts", "auditors"])],
        });
        if console {
            let used = self.ago(0, 200);
            attributes.as_object_mut().unwrap().insert("password_last_used".into(), used.into());
        }
        Asset::new(self.aws_id(account, "global", 4, name.clone())).with_name(name).with_attributes(attributes)
    }

    fn storage_account(&mut self, account: usize, region: usize) -> Asset {
        let name = format!("st{}{:08}", self.rng.pick(&TEAMS), self.serial);
        let sub = self.subscriptions[account].clone();
        let rg = format!("rg-{}-{}", self.rng.pick(&TEAMS), region);
        let arm =
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}");
        let attributes = json!({
            "id": arm,
            "name": name,
            "location": AZURE_LOCATIONS[region],
            "kind": self.rng.pick(&["StorageV2", "StorageV2", "StorageV2", "StorageV2", "BlobStorage", "Storage"]),
            "sku": {"name": self.rng.pick(&["Standard_LRS", "Standard_GRS", "Premium_LRS"]), "tier": "Standard"},
            "resource_group": rg,
            "properties": {
                "supportsHttpsTrafficOnly": self.rng.chance(92),
                "minimumTlsVersion": match self.rng.below(100) { 0..80 => "TLS1_2", 80..90 => "TLS1_0", _ => "TLS1_1" },
                "allowBlobPublicAccess": self.rng.chance(10),
                "allowSharedKeyAccess": true,
                "encryption": {"keySource": "Microsoft.Storage", "services": {"blob": {"enabled": true, "keyType": "Account"}, "file": {"enabled": true, "keyType": "Account"}}},
                "networkAcls": {"defaultAction": if self.rng.chance(60) { "Deny" } else { "Allow" }, "bypass": "AzureServices", "ipRules": [{"value": "203.0.113.0/24", "action": "Allow"}], "virtualNetworkRules": []},
                "primaryEndpoints": {"blob": format!("https://{name}.blob.core.windows.net/")},
                "creationTime": self.ago(1, 1500),
            },
        });
        let id = AssetId::new("azure", sub, AZURE_LOCATIONS[region], self.kinds[5].clone(), arm);
        Asset::new(id).with_name(name).with_attributes(attributes)
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW).unwrap().with_timezone(&Utc)
}

fn build_inventory(assets: usize) -> Inventory {
    let mut g = Generator::new(0x5eed_0000 + assets as u64);
    let mut inventory = Inventory::new();
    for _ in 0..assets {
        inventory.insert(g.next_asset());
    }
    inventory
}

// ---------------------------------------------------------------------------
// Figures (outside criterion's timing)
// ---------------------------------------------------------------------------

/// Bytes currently allocated through the instrumented allocator.
fn live_bytes() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

/// Runs `f` while a thread samples the allocator every 250 µs; returns its
/// result and the peak of live bytes above the level at the start.
fn with_peak<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let done = AtomicBool::new(false);
    let base = live_bytes();
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(live_bytes() - base);
                std::thread::sleep(Duration::from_micros(250));
            }
            peak
        });
        let out = f();
        let retained = live_bytes() - base;
        done.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap().max(retained);
        (out, peak)
    })
}

struct SizeFigures {
    assets: usize,
    build: Duration,
    inventory_bytes: i64,
    runs: usize,
    best: Duration,
    median: Duration,
    drop: Duration,
    checks: usize,
    failed: usize,
    errors: usize,
    retained_bytes: i64,
    peak_bytes: i64,
}

fn label(assets: usize) -> String {
    match assets {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn outcome_counts(eval: &Evaluation) -> (usize, usize) {
    let rules = eval.policies.iter().flat_map(|p| &p.rules);
    rules.fold((0, 0), |(f, e), r| (f + r.failed, e + r.errors))
}

fn measure(engine: &Engine, inventory: &Inventory, build: Duration, inventory_bytes: i64, runs: usize) -> SizeFigures {
    let now = now();
    // Warm up (caches, rayon's pool) once.
    drop(black_box(engine.evaluate(inventory, now)));
    let mut times = Vec::with_capacity(runs);
    let mut drop_time = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let eval = black_box(engine.evaluate(inventory, now));
        times.push(start.elapsed());
        if let Some(prev) = last.replace(eval) {
            let start = Instant::now();
            drop(prev);
            drop_time = drop_time.min(start.elapsed());
        }
    }
    let eval = last.unwrap();
    let checks = eval.checks();
    let (failed, errors) = outcome_counts(&eval);
    let start = Instant::now();
    drop(eval);
    drop_time = drop_time.min(start.elapsed());
    times.sort();
    let (eval, peak_bytes) = with_peak(|| engine.evaluate(inventory, now));
    let before_drop = live_bytes();
    drop(eval);
    let retained_bytes = before_drop - live_bytes();
    SizeFigures {
        assets: inventory.len(),
        build,
        inventory_bytes,
        runs,
        best: times[0],
        median: times[times.len() / 2],
        drop: drop_time,
        checks,
        failed,
        errors,
        retained_bytes,
        peak_bytes,
    }
}

/// Where an inventory's bytes go: the attribute documents, the tag maps, the
/// rest (ids, names, the asset vector, the indexes). Measured by cloning the
/// documents and the tags under the instrumented allocator.
struct Breakdown {
    assets: usize,
    attributes: i64,
    tags: i64,
    objects: usize,
    arrays: usize,
    entries: usize,
    scalars: usize,
    /// Bytes of the information itself: key and string bytes, 8 per other scalar.
    payload: usize,
}

fn breakdown(inventory: &Inventory) -> Breakdown {
    fn walk(v: Attr<'_>, b: &mut Breakdown) {
        match v.kind() {
            AttrKind::Object => {
                b.objects += 1;
                for (k, v) in v.entries() {
                    b.entries += 1;
                    b.payload += k.len();
                    walk(v, b);
                }
            }
            AttrKind::Array => {
                b.arrays += 1;
                v.elements().for_each(|v| walk(v, b));
            }
            AttrKind::String => {
                b.scalars += 1;
                b.payload += v.as_str().map_or(0, str::len);
            }
            _ => {
                b.scalars += 1;
                b.payload += 8;
            }
        }
    }
    let assets = inventory.assets();
    let mut b = Breakdown {
        assets: assets.len(),
        attributes: 0,
        tags: 0,
        objects: 0,
        arrays: 0,
        entries: 0,
        scalars: 0,
        payload: 0,
    };
    let mut docs = Vec::with_capacity(assets.len());
    let region = Region::new(GLOBAL);
    docs.extend(assets.iter().map(|a| a.attributes.clone()));
    let c = region.change();
    b.attributes = c.bytes_allocated as i64 - c.bytes_deallocated as i64;
    drop(docs);
    let mut tags = Vec::with_capacity(assets.len());
    let region = Region::new(GLOBAL);
    tags.extend(assets.iter().map(|a| a.tags.clone()));
    let c = region.change();
    b.tags = c.bytes_allocated as i64 - c.bytes_deallocated as i64;
    drop(tags);
    for a in assets {
        walk(a.attributes.root(), &mut b);
    }
    b
}

fn per_asset(bytes: i64, assets: usize) -> f64 {
    bytes as f64 / assets as f64
}

fn print_figures(figures: &[SizeFigures], parts: Option<&Breakdown>, engine: &Engine, bench_mode: bool) {
    let threads = rayon_threads();
    println!();
    println!("==================== pacbot engine figures ====================");
    println!(
        "pack: {} policies / {} rules ({} scoped to an asset group); rayon threads: {threads}; scan time {NOW}",
        engine.policies().len(),
        engine.policies().iter().map(|p| p.rules().len()).sum::<usize>(),
        engine.policies().iter().filter(|p| p.meta().scope.is_some()).count(),
    );
    if !bench_mode {
        println!("(test mode: 10k only, one run, unoptimized build: these numbers are not the figures)");
    }
    println!(
        "{:>6} | {:>4} {:>10} {:>10} | {:>13} | {:>14} | {:>9} {:>7} | {:>8} | {:>9}",
        "assets", "runs", "eval best", "eval med", "assets/s", "checks/s", "checks", "fails", "drop", "build"
    );
    for f in figures {
        let secs = f.best.as_secs_f64();
        println!(
            "{:>6} | {:>4} {:>10.1?} {:>10.1?} | {:>13.0} | {:>14.0} | {:>9} {:>7} | {:>8.1?} | {:>9.1?}",
            label(f.assets),
            f.runs,
            f.best,
            f.median,
            f.assets as f64 / secs,
            f.checks as f64 / secs,
            f.checks,
            f.failed + f.errors,
            f.drop,
            f.build,
        );
    }
    println!("(assets/s and checks/s from the best run; checks = judged (asset, rule) pairs = Evaluation::checks();");
    println!(" fails = failures + errors; drop = dropping one Evaluation; build = generating the inventory)");
    println!();
    println!("memory (bytes requested from the allocator, stats_alloc):");
    println!(
        "{:>6} | {:>14} {:>11} | {:>16} {:>11} | {:>16} {:>11}",
        "assets", "inventory", "per asset", "eval retained", "per asset", "eval peak", "per asset"
    );
    for f in figures {
        println!(
            "{:>6} | {:>14} {:>11.0} | {:>16} {:>11.0} | {:>16} {:>11.0}",
            label(f.assets),
            f.inventory_bytes,
            per_asset(f.inventory_bytes, f.assets),
            f.retained_bytes,
            per_asset(f.retained_bytes, f.assets),
            f.peak_bytes,
            per_asset(f.peak_bytes, f.assets),
        );
    }
    println!("(peak = max live bytes above the pre-evaluation level, sampled every 250 µs, at least what is retained)");
    if let Some(b) = parts {
        let n = b.assets as f64;
        println!(
            "inventory breakdown ({}): attribute documents {:.0} B/asset ({:.1} objects, {:.1} arrays, {:.1} object entries, {:.1} scalars; payload {:.0} B), tag maps {:.0} B/asset, size_of::<Asset>() = {} B",
            label(b.assets),
            b.attributes as f64 / n,
            b.objects as f64 / n,
            b.arrays as f64 / n,
            b.entries as f64 / n,
            b.scalars as f64 / n,
            b.payload as f64 / n,
            b.tags as f64 / n,
            std::mem::size_of::<Asset>(),
        );
        if let Some(f) = figures.iter().find(|f| f.assets == b.assets) {
            println!(
                "  the rest (Asset structs, id and name strings, the asset vector, id and kind indexes): {:.0} B/asset",
                (f.inventory_bytes - b.attributes - b.tags) as f64 / n
            );
        }
    }
    println!();
    if let Some(f) = figures.iter().find(|f| f.assets == 1_000_000) {
        let secs = f.best.as_secs_f64();
        let bytes = per_asset(f.inventory_bytes, f.assets);
        let verdict = |ok: bool| if ok { "MET" } else { "MISSED" };
        println!(
            "target: 1M assets in <= {TARGET_SECONDS_1M} s ............ {:.3} s best, {:.3} s median: {}",
            secs,
            f.median.as_secs_f64(),
            verdict(f.median.as_secs_f64() <= TARGET_SECONDS_1M)
        );
        println!(
            "target: <= {TARGET_BYTES_PER_ASSET} B per asset (inventory) .... {bytes:.0} B: {}",
            verdict(bytes <= TARGET_BYTES_PER_ASSET)
        );
        println!(
            "         inventory + evaluation peak ........ {:.0} B: {}",
            bytes + per_asset(f.peak_bytes, f.assets),
            verdict(bytes + per_asset(f.peak_bytes, f.assets) <= TARGET_BYTES_PER_ASSET)
        );
    } else {
        println!(
            "targets (1M in <= {TARGET_SECONDS_1M} s, <= {TARGET_BYTES_PER_ASSET} B/asset) are judged at 1M: not run"
        );
    }
    println!("===============================================================");
}

fn rayon_threads() -> usize {
    // The engine uses rayon's global pool.
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Per-policy cost over one inventory: which policies the time goes to.
fn print_policy_breakdown(engine: &Engine, inventory: &Inventory) {
    let now = now();
    let mut rows: Vec<(Duration, String, usize, usize)> = engine
        .policies()
        .iter()
        .map(|p| {
            let single = Engine::new(vec![p.clone()], engine.groups().values().cloned().collect()).unwrap();
            let mut best = Duration::MAX;
            let mut counts = (0, 0);
            for _ in 0..3 {
                let start = Instant::now();
                let eval = single.evaluate(inventory, now);
                best = best.min(start.elapsed());
                counts = (eval.checks(), outcome_counts(&eval).0 + outcome_counts(&eval).1);
            }
            (best, p.id().to_owned(), counts.0, counts.1)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let total: Duration = rows.iter().map(|r| r.0).sum();
    println!();
    println!("per-policy cost over {} assets (each policy alone, best of 3; sum {total:.1?}):", label(inventory.len()));
    println!("{:>32} | {:>9} | {:>8} {:>7} | {:>9}", "policy", "time", "checks", "fails", "ns/check");
    for (t, id, checks, fails) in rows.iter().take(12) {
        println!(
            "{id:>32} | {t:>9.1?} | {checks:>8} {fails:>7} | {:>9.0}",
            t.as_nanos() as f64 / (*checks).max(1) as f64
        );
    }
}

/// The declarative SSH rule (with `match`) and the code rule's port check
/// must agree on which security groups are open to the world on port 22.
fn check_consistency(engine: &Engine, inventory: &Inventory) {
    let eval = engine.evaluate(inventory, now());
    let declarative = eval.policy("aws-sg-ssh-open-world").unwrap().rules[0].failed;
    let sgs = inventory.of_kind(&ResourceKind::new("aws.ec2.security_group"));
    let by_code = sgs.filter(|sg| world_open_port(sg, &[22]).is_some()).count();
    assert_eq!(declarative, by_code, "declarative and code SSH checks disagree");
    assert!(declarative > 0, "the inventory has world-open SSH");
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not (criterion's test mode).
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let sizes: &[usize] = if bench_mode { &[10_000, 100_000, 1_000_000] } else { &[10_000] };

    let engine = build_engine();
    assert_eq!(engine.policies().len(), 30, "the pack is 30 policies");
    // Start rayon's pool before anything is measured.
    let _ = engine.evaluate(&Inventory::new(), now());

    let mut criterion = Criterion::default().sample_size(10).configure_from_args();
    let mut figures = Vec::new();
    let mut parts = None;
    {
        let mut group = criterion.benchmark_group("engine/evaluate");
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        for &n in sizes {
            let region = Region::new(GLOBAL);
            let start = Instant::now();
            let inventory = build_inventory(n);
            let build = start.elapsed();
            let change = region.change();
            let inventory_bytes = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
            assert_eq!(inventory.len(), n);
            if n == sizes[0] {
                check_consistency(&engine, &inventory);
            }

            let runs = match (bench_mode, n) {
                (false, _) => 1,
                (true, 1_000_000) => 3,
                (true, 100_000) => 10,
                (true, _) => 30,
            };
            figures.push(measure(&engine, &inventory, build, inventory_bytes, runs));
            if bench_mode && n == 100_000 {
                print_policy_breakdown(&engine, &inventory);
            }
            if n == 100_000 || !bench_mode {
                parts = Some(breakdown(&inventory));
            }

            // Enough time for criterion's 10 samples, given the evaluation time just measured.
            let budget = (figures.last().unwrap().median * 12).max(Duration::from_secs(3));
            group.throughput(Throughput::Elements(n as u64)).measurement_time(budget);
            group.sampling_mode(if n >= 1_000_000 { SamplingMode::Flat } else { SamplingMode::Auto });
            let now = now();
            group.bench_with_input(BenchmarkId::from_parameter(label(n)), &inventory, |b, inv| {
                b.iter_with_large_drop(|| engine.evaluate(inv, now));
            });
        }
        group.finish();
    }
    print_figures(&figures, parts.as_ref(), &engine, bench_mode);
    criterion.final_summary();
}
