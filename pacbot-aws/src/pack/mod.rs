//! The AWS policy pack: policies over the attribute shapes of
//! [`crate::docs::shapes`].
//!
//! ```
//! use pacbot_aws::pack::{policies, PackConfig};
//! let config = PackConfig {
//!     approved_regions: vec!["eu-west-1".into(), "us-east-1".into()],
//!     ..PackConfig::default()
//! };
//! let pack = policies(&config);
//! assert!(pack.len() >= 40);
//! assert!(pack.iter().any(|p| p.id() == "aws-s3-public-policy"));
//! ```
//!
//! Simple checks are declarative [`Criteria`] (their
//! definition is shown by [`Rule::definition`]); checks that read port
//! ranges, IAM policy documents or related assets are Rust rules. Every
//! policy has a rule-case file in `tests/cases/` (assets in, outcome out),
//! and the table below is checked against [`policies`] by a test.
//!
//! # Decisions
//!
//! - **Open to the world** is a source range of prefix length 0
//!   (`0.0.0.0/0`, `::/0`). A rule *covers* a port when its protocol is `-1`
//!   (all traffic), or `tcp` / `udp` (`6` / `17`) with `from_port <= port <=
//!   to_port`; ICMP and other protocols carry no ports.
//! - **Public S3 access** is judged as AWS applies it: a public ACL grant
//!   does not count when `ignore_public_acls` is on for the bucket or the
//!   account, and a public bucket policy does not count when
//!   `restrict_public_buckets` is on for either (the public access block
//!   policies report the missing settings themselves). `FULL_CONTROL`
//!   includes every permission. A policy statement is public when it allows
//!   the principal `*` (or `{"AWS": "*"}`, or uses `NotPrincipal`) and no
//!   condition pins a fixed value of `aws:SourceIp` (not `/0`),
//!   `aws:SourceVpc(e)`, `aws:SourceArn`, `aws:SourceAccount`,
//!   `aws:SourceOwner`, `aws:PrincipalOrgID`, `aws:PrincipalAccount`,
//!   `aws:PrincipalArn`, `aws:userid` or the KMS key id (negated, `…IfExists`
//!   and `ForAllValues:` operators and wildcard values pin nothing). `Deny`
//!   statements and named principals (the own account, another account, a
//!   service) are not public. AWS's `policy_is_public` is in the details.
//! - **Administrator rights** are an `Allow` of every action (`*`, `*:*`) on
//!   every resource (`*`), conditions or not, in an attached AWS managed
//!   `AdministratorAccess`, an attached customer managed policy, an inline
//!   policy, or any of those on one of the user's groups. An unconditional
//!   `Deny` of every action on every resource in any of them cancels it; a
//!   narrower `Deny` does not. A permissions boundary that does not itself
//!   grant everything caps the user below administrator.
//! - **Access keys**: only `Active` keys are judged by the age and unused
//!   policies; an `Inactive` key is already disabled, which is what the
//!   benchmark asks for. A key never used counts as unused once it is older
//!   than the threshold.
//! - **Mandatory tags** match keys exactly (`environment` is not
//!   `Environment`); the failure names a key that differs only in case.
//! - **Configuration switches policies off**: with no approved regions the
//!   region policy is disabled, with no mandatory tags the tagging policy is.
//!
//! Benchmark ids are given for the CIS AWS Foundations Benchmark v1.4.0 and
//! v3.0.0 (frameworks `cis-aws-foundations-v1.4.0`, `cis-aws-foundations-v3.0.0`).
//!
//! # Policies
//!
#![doc = include_str!("policies.md")]

use std::fmt::Write as _;

use pacbot_core::declarative::{DeclarativeRule, Test};
use pacbot_core::{Asset, Attr, Criteria, EvalContext, Outcome, Policy, PolicyMeta, ResourceKind, Rule};
use serde::{Deserialize, Serialize};

mod account;
mod document;
mod ebs;
mod ec2;
mod governance;
mod iam;
mod s3;
mod sg;

/// The framework name of CIS AWS Foundations Benchmark v1.4.0.
pub const CIS_V1_4: &str = "cis-aws-foundations-v1.4.0";
/// The framework name of CIS AWS Foundations Benchmark v3.0.0.
pub const CIS_V3_0: &str = "cis-aws-foundations-v3.0.0";

/// A port and the service it usually carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePort {
    /// The port.
    pub port: u16,
    /// The service, for failure reasons (`MySQL`).
    pub service: String,
}

impl ServicePort {
    /// A port and its service name.
    pub fn new(port: u16, service: impl Into<String>) -> Self {
        Self { port, service: service.into() }
    }
}

/// What the pack's policies are configured with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PackConfig {
    /// Tags every taggable resource must carry (exact keys). Empty disables
    /// `aws-tagging-mandatory-tags`.
    pub mandatory_tags: Vec<String>,
    /// Regions resources may live in. Empty disables `aws-region-not-approved`.
    pub approved_regions: Vec<String>,
    /// The age in days past which an active access key must be rotated.
    pub access_key_max_age_days: u32,
    /// The days without use past which an active key or a console password
    /// counts as unused.
    pub unused_credentials_days: u32,
    /// The days past which a stopped instance counts as abandoned.
    pub long_stopped_days: u32,
    /// Remote administration ports that must not be open to the world
    /// (SSH and RDP have policies of their own).
    pub admin_ports: Vec<ServicePort>,
    /// Database and cache ports that must not be open to the world.
    pub database_ports: Vec<ServicePort>,
    /// The shortest acceptable password policy minimum length.
    pub min_password_length: u32,
    /// The fewest previous passwords the password policy must remember.
    pub password_reuse_prevention: u32,
    /// Accounts (besides the snapshot's own) that snapshots may be shared with.
    pub trusted_accounts: Vec<String>,
}

impl Default for PackConfig {
    fn default() -> Self {
        Self {
            mandatory_tags: vec!["Application".into(), "Environment".into()],
            approved_regions: Vec::new(),
            access_key_max_age_days: 90,
            unused_credentials_days: 45,
            long_stopped_days: 30,
            admin_ports: vec![
                ServicePort::new(20, "FTP data"),
                ServicePort::new(21, "FTP"),
                ServicePort::new(23, "Telnet"),
                ServicePort::new(135, "MSRPC"),
                ServicePort::new(445, "SMB"),
                ServicePort::new(5900, "VNC"),
                ServicePort::new(5985, "WinRM"),
                ServicePort::new(5986, "WinRM over HTTPS"),
            ],
            database_ports: vec![
                ServicePort::new(1433, "SQL Server"),
                ServicePort::new(1521, "Oracle"),
                ServicePort::new(2379, "etcd"),
                ServicePort::new(3306, "MySQL"),
                ServicePort::new(5432, "PostgreSQL"),
                ServicePort::new(6379, "Redis"),
                ServicePort::new(9042, "Cassandra"),
                ServicePort::new(9200, "Elasticsearch"),
                ServicePort::new(11211, "Memcached"),
                ServicePort::new(27017, "MongoDB"),
            ],
            min_password_length: 14,
            password_reuse_prevention: 24,
            trusted_accounts: Vec::new(),
        }
    }
}

/// Every policy of the pack, configured.
#[must_use]
pub fn policies(config: &PackConfig) -> Vec<Policy> {
    let mut out = Vec::with_capacity(64);
    out.extend(s3::policies());
    out.extend(sg::policies(config));
    out.extend(ec2::policies(config));
    out.extend(ebs::policies(config));
    out.extend(iam::policies(config));
    out.extend(account::policies(config));
    out.extend(governance::policies(config));
    out
}

/// The kinds the mandatory-tags policy judges (the taggable resources that
/// someone owns); use them as `ComplianceConfig::taggable_kinds`.
#[must_use]
pub fn taggable_kinds() -> Vec<ResourceKind> {
    governance::OWNED.iter().map(ResourceKind::new).collect()
}

/// A Markdown table of policies: id, name, severity, category, CIS ids, fix.
#[must_use]
pub fn markdown_table(policies: &[Policy]) -> String {
    let mut out = String::from("| id | name | severity | category | CIS v1.4.0 | CIS v3.0.0 | fix |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for p in policies {
        let m = p.meta();
        let cis = |f: &str| m.frameworks.get(f).map(|ids| ids.join(", ")).unwrap_or_default();
        let fix = m.fix.as_deref().map(|f| format!("`{f}`")).unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            m.id,
            m.name.replace('|', "\\|"),
            m.severity,
            m.category,
            cis(CIS_V1_4),
            cis(CIS_V3_0),
            fix
        );
    }
    out
}

/// Metadata with CIS ids for both benchmark versions (empty slices where a
/// version has no such control).
fn meta(
    id: &str,
    name: &str,
    severity: pacbot_core::Severity,
    category: pacbot_core::Category,
    description: &str,
    resolution: &str,
) -> PolicyMeta {
    PolicyMeta::new(id, name, severity, category).with_description(description).with_resolution(resolution)
}

/// Adds CIS AWS Foundations ids.
fn cis(mut meta: PolicyMeta, v1_4: &[&str], v3_0: &[&str]) -> PolicyMeta {
    for c in v1_4 {
        meta = meta.with_framework(CIS_V1_4, *c);
    }
    for c in v3_0 {
        meta = meta.with_framework(CIS_V3_0, *c);
    }
    meta
}

/// A declarative rule written in YAML, or, when the YAML does not compile (a
/// bug the rule-case tests catch), a rule that reports the error for every
/// asset instead of panicking.
#[derive(Debug)]
struct Declared {
    id: String,
    kinds: Vec<ResourceKind>,
    rule: Result<DeclarativeRule, String>,
}

/// How a declarative rule decides: the asset fails when the criteria match,
/// or passes only when they match.
#[derive(Clone, Copy)]
enum Check<'a> {
    FailWhen(&'a str),
    PassWhen(&'a str),
}

fn declarative(id: &str, kinds: &[&str], when: Option<&str>, check: Check<'_>, reason: &str) -> Declared {
    let build = || -> Result<DeclarativeRule, pacbot_core::Error> {
        let test = match check {
            Check::FailWhen(c) => Test::FailWhen(Criteria::from_yaml(c)?),
            Check::PassWhen(c) => Test::PassWhen(Criteria::from_yaml(c)?),
        };
        let mut rule = DeclarativeRule::new(id, kinds.iter().copied(), test).with_reason(reason)?;
        if let Some(w) = when {
            rule = rule.when(Criteria::from_yaml(w)?);
        }
        Ok(rule)
    };
    Declared {
        id: id.to_owned(),
        kinds: kinds.iter().map(ResourceKind::new).collect(),
        rule: build().map_err(|e| e.to_string()),
    }
}

impl Rule for Declared {
    fn id(&self) -> &str {
        &self.id
    }
    fn kinds(&self) -> &[ResourceKind] {
        &self.kinds
    }
    fn evaluate(&self, asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
        match &self.rule {
            Ok(r) => r.evaluate(asset, ctx),
            Err(e) => Outcome::error(format!("the rule `{}` does not compile: {e}", self.id)),
        }
    }
    fn description(&self) -> String {
        self.rule.as_ref().map(Rule::description).unwrap_or_default()
    }
    fn definition(&self) -> Option<serde_json::Value> {
        self.rule.as_ref().ok().and_then(Rule::definition)
    }
}

/// The strings of a value that is a string or a list of strings.
fn strings(a: Attr<'_>) -> Vec<&str> {
    match a.as_str() {
        Some(s) => vec![s],
        None => a.elements().filter_map(Attr::as_str).collect(),
    }
}

/// A timestamp attribute as a time.
fn time(a: Attr<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    a.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&chrono::Utc))
}

/// Whole days from `then` to `now` (0 when `then` is in the future).
fn days_since(then: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> i64 {
    (now - then).num_days().max(0)
}
