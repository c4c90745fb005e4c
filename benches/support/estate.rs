//! The benchmarks' estate: a representative pack of 30 policies (27
//! declarative, 3 in code) with an asset group, and a deterministic
//! generator of realistic AWS and Azure assets (buckets, instances, security
//! groups, volumes, IAM users, storage accounts) with their tags.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use pacbot_core::{
    Asset, AssetGroup, AssetId, Attr, Category, Engine, EvalContext, FnRule, Inventory, Outcome, Policy, PolicyMeta,
    ResourceKind, Severity, parse_policies,
};
use serde_json::{Value, json};

use super::Lcg;

/// The scan time of every evaluation: results do not depend on the clock.
pub const NOW: &str = "2026-06-01T00:00:00Z";

// ---------------------------------------------------------------------------
// The policy pack
// ---------------------------------------------------------------------------

pub const PACK: &str = r#"
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

pub const GROUPS: &str = r#"
groups:
  - name: production
    description: Everything tagged as production.
    criteria: {path: tags.Environment, eq: production}
"#;

/// Whether a security-group permission admits the whole internet.
pub fn open_to_world(perm: Attr<'_>) -> bool {
    let v4 = perm.field("ip_ranges").elements().any(|x| x.field("cidr_ip") == "0.0.0.0/0");
    v4 || perm.field("ipv6_ranges").elements().any(|x| x.field("cidr_ipv6") == "::/0")
}

/// Whether a security-group permission covers a TCP port.
pub fn covers_port(perm: Attr<'_>, port: u64) -> bool {
    if perm.field("ip_protocol") == "-1" {
        return true;
    }
    match (perm.field("from_port").as_u64(), perm.field("to_port").as_u64()) {
        (Some(from), Some(to)) => perm.field("ip_protocol") == "tcp" && from <= port && port <= to,
        _ => false,
    }
}

/// The first port of `ports` that one single permission of the group opens to the world.
pub fn world_open_port(sg: &Asset, ports: &[u64]) -> Option<u64> {
    let perms = sg.attributes.field("ip_permissions").as_array()?;
    perms.filter(|p| open_to_world(*p)).find_map(|p| ports.iter().copied().find(|&port| covers_port(p, port)))
}

pub fn code_policies() -> Vec<Policy> {
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

pub fn build_engine() -> Engine {
    let mut policies = parse_policies("pack.yaml", PACK).expect("the pack parses");
    policies.extend(code_policies());
    Engine::new(policies, groups()).expect("the engine accepts the pack")
}

/// The pack's asset groups.
pub fn groups() -> Vec<AssetGroup> {
    AssetGroup::parse_document("groups.yaml", GROUPS).expect("the groups parse")
}

// ---------------------------------------------------------------------------
// Synthetic inventory
// ---------------------------------------------------------------------------

pub const ACCOUNTS: usize = 24;
pub const AWS_REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
pub const AZURE_LOCATIONS: [&str; 4] = ["westeurope", "northeurope", "eastus", "uksouth"];
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
pub const TEAMS: [&str; 8] = ["payments", "search", "identity", "data", "platform", "mobile", "ads", "support"];

pub struct Generator {
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
    pub fn new(seed: u64) -> Self {
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

    pub fn next_asset(&mut self) -> Asset {
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

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW).unwrap().with_timezone(&Utc)
}

pub fn build_inventory(assets: usize) -> Inventory {
    let mut g = Generator::new(0x5eed_0000 + assets as u64);
    let mut inventory = Inventory::new();
    for _ in 0..assets {
        inventory.insert(g.next_asset());
    }
    inventory
}
