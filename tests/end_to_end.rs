//! End to end through the facade, from files on disk (`cargo test --test end_to_end`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};

use pacbot::chrono::{DateTime, Duration, Utc};
use pacbot::{
    Compliance, ComplianceConfig, Connector, Engine, ExceptionSet, JsonInventory, ReconcileInput, TransitionKind,
    Violation, ViolationStatus, discover_all, load_policy_dir, reconcile,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pacbot-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pacbot-core/tests/policies")
}

fn sg(account: &str, region: &str, id: &str, cidr: &str) -> String {
    format!(
        r#"{{"id": {{"provider": "aws", "account": "{account}", "region": "{region}", "kind": "aws.ec2.security_group", "resource_id": "{id}"}},
            "attributes": {{"group_name": "{id}", "ingress": [{{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "{cidr}"}}]}}}}"#
    )
}

fn scan(
    engine: &Engine,
    sources: &[&dyn Connector],
    previous: &[Violation],
    now: DateTime<Utc>,
) -> (pacbot::Reconciliation, pacbot::Discovered) {
    let found = futures::executor::block_on(discover_all(sources));
    let evaluation = engine.evaluate(&found.inventory, now);
    let result = reconcile(&ReconcileInput {
        previous,
        inventory: &found.inventory,
        evaluation: &evaluation,
        coverage: &found.coverage,
        exceptions: &ExceptionSet::default(),
        now,
    });
    let config = ComplianceConfig::default();
    let report = Compliance::new(&found.inventory, &evaluation, &result.violations, &config);
    assert!((0.0..=100.0).contains(&report.overall().overall));
    (result, found)
}

#[test]
fn two_shards_and_a_failed_scope_across_three_scans() {
    let dir = scratch("shards");
    let policies = load_policy_dir(&policies_dir()).unwrap();
    let engine = Engine::new(policies, vec![]).unwrap();
    let t0 = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc);

    // Scan 1: two regions, each with an open security group.
    let east = dir.join("east.json");
    let west = dir.join("west.json");
    std::fs::write(&east, format!("[{}]", sg("1", "us-east-1", "sg-east", "0.0.0.0/0"))).unwrap();
    std::fs::write(&west, format!("[{}]", sg("1", "us-west-2", "sg-west", "0.0.0.0/0"))).unwrap();
    let (a, b) = (JsonInventory::open(&east).unwrap(), JsonInventory::open(&west).unwrap());
    let (first, _) = scan(&engine, &[&a, &b], &[], t0);
    let opened: Vec<_> = first.changes().filter(|t| t.kind == TransitionKind::Opened).collect();
    assert_eq!(opened.len(), 2, "{:#?}", first.transitions);

    // Scan 2: east is fixed; west's collection failed (an explicit coverage failure) and its
    // group is missing from the file: its violation must stay open.
    std::fs::write(&east, format!("[{}]", sg("1", "us-east-1", "sg-east", "10.0.0.0/8"))).unwrap();
    std::fs::write(
        &west,
        r#"{"assets": [], "coverage": [{"provider": "aws", "account": "1", "region": "us-west-2",
            "kind": "aws.ec2.security_group", "status": "failed", "error": "AccessDenied"}]}"#,
    )
    .unwrap();
    let (a, b) = (JsonInventory::open(&east).unwrap(), JsonInventory::open(&west).unwrap());
    let (second, found) = scan(&engine, &[&a, &b], &first.violations, t0 + Duration::hours(6));
    assert!(found.coverage.is_partial());
    let status = |vs: &[Violation], id: &str| {
        vs.iter().find(|v| v.key.asset.resource_id == id && v.key.policy_id == "example-sg-ssh-open").map(|v| v.status)
    };
    assert_eq!(status(&second.violations, "sg-east"), Some(ViolationStatus::Closed));
    assert_eq!(status(&second.violations, "sg-west"), Some(ViolationStatus::Open));

    // Scan 3: only the east shard runs; west is not collected at all and stays open.
    let (third, _) = scan(&engine, &[&a], &second.violations, t0 + Duration::hours(12));
    assert_eq!(status(&third.violations, "sg-west"), Some(ViolationStatus::Open));
    assert_eq!(third.changes().count(), 0, "{:#?}", third.transitions);
}

#[test]
fn bad_files_are_named_in_errors() {
    let dir = scratch("bad");
    std::fs::copy(policies_dir().join("examples.yaml"), dir.join("a.yaml")).unwrap();
    std::fs::write(
        dir.join("b.yml"),
        "policies:\n  - {id: x, name: X, severity: low, category: cost, resource: k, fail_when: {path: 'a[', eq: 1}}\n",
    )
    .unwrap();
    let err = load_policy_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("b.yml") && err.contains("policies[0].fail_when.path"), "{err}");

    std::fs::write(dir.join("b.yml"), std::fs::read_to_string(dir.join("a.yaml")).unwrap()).unwrap();
    let err = load_policy_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("duplicate policy") && err.contains("a.yaml"), "{err}");

    let inv = dir.join("inventory.jsonl");
    std::fs::write(&inv, "{\"id\": {\"provider\": \"aws\"}}\n").unwrap();
    let err = JsonInventory::open(&inv).unwrap_err().to_string();
    assert!(err.contains("inventory.jsonl") && err.contains("line 1"), "{err}");
    let err = JsonInventory::open(&dir.join("missing.json")).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
}
