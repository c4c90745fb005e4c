//! Run with `cargo run --example quickstart`.
//!
//! Two scans of a small estate: the first opens violations, the second (after
//! a fix, a removed resource and an exception) shows the lifecycle.

use pacbot::chrono::{Duration, Utc};
use pacbot::{
    AssetGroup, Compliance, ComplianceConfig, Criteria, Engine, Exception, ExceptionSet, ExceptionTarget, Inventory,
    JsonInventory, ReconcileInput, Violation, parse_policies, reconcile,
};

const POLICIES: &str = r#"
policies:
  - id: s3-public-read
    name: S3 bucket readable by everyone
    severity: critical
    category: security
    resource: aws.s3.bucket
    fail_when: {path: "acl.grants[*].grantee", eq: AllUsers}
  - id: ebs-unencrypted
    name: EBS volume not encrypted
    severity: high
    category: security
    resource: aws.ec2.volume
    pass_when: {path: encrypted, eq: true}
  - id: owner-tag
    name: Resources have an owner
    severity: low
    category: tagging
    resource: [aws.s3.bucket, aws.ec2.volume]
    pass_when: {path: tags.Owner, exists: true}
"#;

fn estate(fixed: bool) -> String {
    let volume2 = if fixed {
        ""
    } else {
        r#"{"id": {"provider":"aws","account":"1","region":"eu-west-1","kind":"aws.ec2.volume","resource_id":"vol-2"}, "attributes": {"encrypted": false}},"#
    };
    format!(
        r#"[
  {{"id": {{"provider":"aws","account":"1","region":"eu-west-1","kind":"aws.s3.bucket","resource_id":"www"}},
    "tags": {{"Owner": "web@example.com", "Environment": "production"}},
    "attributes": {{"acl": {{"grants": [{{"grantee": "AllUsers", "permission": "READ"}}]}}}}}},
  {{"id": {{"provider":"aws","account":"1","region":"eu-west-1","kind":"aws.ec2.volume","resource_id":"vol-1"}},
    "tags": {{"Environment": "production"}},
    "attributes": {{"encrypted": {fixed}}}}},
  {volume2}
  {{"id": {{"provider":"aws","account":"1","region":"eu-west-1","kind":"aws.s3.bucket","resource_id":"logs"}},
    "tags": {{"Owner": "ops@example.com"}}, "attributes": {{"acl": {{"grants": []}}}}}}
]"#
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let production = AssetGroup::new("production", Criteria::eq("tags.Environment", "production")?);
    let engine = Engine::new(parse_policies("policies.yaml", POLICIES)?, vec![production.clone()])?;
    let config = ComplianceConfig { mandatory_tags: vec!["Owner".into()], ..ComplianceConfig::default() };
    let mut previous: Vec<Violation> = Vec::new();
    let start = Utc::now();

    for (scan, fixed) in [(1, false), (2, true)] {
        let now = start + Duration::hours(24 * (scan - 1));
        let source = JsonInventory::parse("estate.json", &estate(fixed))?;
        let inventory = Inventory::from_assets(source.assets().iter().cloned());
        // Before the second scan the web team is granted an exception for its public bucket.
        let exceptions = if scan == 2 {
            ExceptionSet::new([Exception {
                id: "exc-www-public".into(),
                target: ExceptionTarget::Asset {
                    asset: inventory.assets()[0].id.clone(),
                    policies: vec!["s3-public-read".into()],
                },
                reason: "static website, reviewed by security".into(),
                granted_by: "security@example.com".into(),
                granted_at: now - Duration::hours(1),
                expires_at: Some(now + Duration::days(90)),
            }])
        } else {
            ExceptionSet::default()
        };
        let evaluation = engine.evaluate(&inventory, now);
        let result = reconcile(&ReconcileInput {
            previous: &previous,
            inventory: &inventory,
            evaluation: &evaluation,
            coverage: source.coverage(),
            exceptions: &exceptions,
            now,
        });
        println!("scan {scan}: {} assets", inventory.len());
        for t in result.changes() {
            println!("  {:<22} {}  ({})", t.kind.as_str(), t.key, t.reason);
        }
        let compliance = Compliance::new(&inventory, &evaluation, &result.violations, &config);
        let report = compliance.overall();
        println!("  overall {:.1} %, tagging {:.1} %", report.overall, report.tagging.percent);
        for c in report.categories.iter().filter(|c| c.assessed) {
            println!("    {:<10} {:.1} %", c.category.as_str(), c.percent);
        }
        let members = engine.group_members(&production, &inventory, now);
        println!("  group production: {:.1} %", compliance.for_group("production", &members).overall);
        previous = result.violations;
    }
    Ok(())
}
