//! The scanner example end to end (`cargo test --test scanner`).
//!
//! Examples have no `CARGO_BIN_EXE_…`, so the example's modules are compiled
//! into this test and its entry point, `run(args, stdout, stderr) -> exit
//! code`, is called in-process: the same code path as the binary, minus
//! `main`'s three lines, with no cargo build in the test. scripts/test.sh runs
//! the binary itself (the README's quick start).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../examples/scanner/main.rs"]
#[allow(dead_code, unreachable_pub)]
mod scanner;

use std::path::{Path, PathBuf};

use serde_json::Value;

use scanner::error::{EXIT_ERROR, EXIT_OK, EXIT_VIOLATIONS};
use scanner::report::CsvRow;

/// A temporary directory with a database in it.
struct Env {
    dir: tempfile::TempDir,
}

struct Out {
    code: u8,
    out: String,
    err: String,
}

impl Env {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("scans.db")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Out {
        let db = self.db().display().to_string();
        let mut all = vec!["scanner", "--db", db.as_str(), "--no-progress"];
        all.extend_from_slice(args);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = scanner::run(all, &mut out, &mut err);
        Out { code, out: String::from_utf8(out).unwrap(), err: String::from_utf8(err).unwrap() }
    }

    /// Runs a command that must succeed (exit 0) and returns its output.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.code, EXIT_OK, "{args:?}\nstdout:\n{}\nstderr:\n{}", o.out, o.err);
        o.out
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
    }
}

fn transitions(scan: &Value, kind: &str) -> u64 {
    scan["transitions"][kind].as_u64().unwrap_or(0)
}

#[test]
fn demo_scan_commits_to_a_sqlite_file_and_reports() {
    let env = Env::new();
    let out = env.ok(&["scan", "--demo"]);
    assert!(out.contains("Scan 1 (demo) complete: 433 assets (433 new, 0 removed)"), "{out}");
    assert!(out.contains("Compliance: "), "{out}");
    assert!(out.contains("Worst policies:") && out.contains("Asset groups:") && out.contains("production"), "{out}");
    assert!(out.contains(&format!("Database: {}", env.db().display())), "{out}");
    assert!(env.db().is_file());

    // The committed scan reads back the same.
    let report = env.json(&["report", "--format", "json"]);
    assert_eq!(report["scan"]["counts"]["assets_seen"], 433);
    assert_eq!(report["scan"]["counts"]["errors"], 0, "the packs read the demo's shapes without errors");
    let open = report["violations"].as_array().unwrap();
    assert_eq!(open.len(), 681);
    assert_demo_violations(open);
    let groups: Vec<&str> =
        report["groups"].as_array().unwrap().iter().filter_map(|g| g["report"]["group"].as_str()).collect();
    assert_eq!(groups, ["azure", "production", "team-payments"]);
    for category in report["compliance"]["report"]["categories"].as_array().unwrap() {
        assert_eq!(category["assessed"], true, "{category}");
    }
}

#[test]
fn two_scans_show_the_lifecycle_with_exceptions() {
    let env = Env::new();
    let first = env.json(&["scan", "--demo", "--json"]);
    let opened = transitions(&first, "opened");
    assert_eq!(opened, 681, "{first}");

    // The same estate again: nothing new opens, nothing closes.
    let second = env.json(&["scan", "--demo", "--json"]);
    assert_eq!(transitions(&second, "opened"), 0);
    assert_eq!(transitions(&second, "still_open"), opened);
    assert_eq!(second["scan"]["counts"]["assets_new"], 0);

    // Exceptions: one asset (the staging account's root access keys, unchanged in
    // the fixed estate) and a sticky one for every asset of the search team.
    let root = "aws/444455556666/global/aws.iam.account_summary/444455556666";
    let out = env.ok(&[
        "exceptions",
        "add",
        "--id",
        "root-keys",
        "--policy",
        "aws-iam-root-access-keys",
        "--asset",
        root,
        "--reason",
        "break-glass keys, in the safe",
        "--by",
        "security@example.com",
        "--expires",
        "30d",
    ]);
    assert!(out.contains("exception `root-keys` stored"), "{out}");
    env.ok(&[
        "exceptions",
        "add",
        "--id",
        "search-tags",
        "--policy",
        "demo-tag-cost-center",
        "--criteria",
        "{path: tags.Team, eq: search}",
        "--reason",
        "search is being re-organised",
        "--by",
        "finops@example.com",
    ]);
    let listed = env.json(&["exceptions", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // The fixed estate: fixes close, removed resources close as gone, the new
    // public bucket opens, and the exceptions exempt.
    let third = env.json(&["scan", "--demo", "fixed", "--json"]);
    assert_eq!(transitions(&third, "closed_fixed"), 117, "{third}");
    // 11 resources were removed (433 - 424 + 2 new), with their 49 open violations.
    assert_eq!(third["scan"]["counts"]["assets_removed"], 11, "{third}");
    assert_eq!(transitions(&third, "closed_resource_gone"), 49, "{third}");
    // The new staging bucket readable by everyone opens four; the new
    // production bucket is compliant.
    assert_eq!(transitions(&third, "opened"), 4, "{third}");
    let exempted = transitions(&third, "exempted");
    // The root keys, and the two search-team assets still without a cost
    // center in the fixed estate (both open before).
    assert_eq!(exempted, 3, "{third}");
    assert_eq!(third["compliance"]["exempted"].as_u64().unwrap(), exempted);
    let violations = env.json(&["report", "--format", "json", "--policy", "aws-iam-root-access-keys"]);
    let v = &violations["violations"][0];
    assert_eq!((v["status"].as_str(), v["exception_id"].as_str()), (Some("exempted"), Some("root-keys")));
    let all = env.json(&["report", "--format", "json"]);
    let new_bucket = "acme-staging-us-east-1-marketing-share";
    let mut on_new: Vec<&str> = all["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["key"]["asset"]["resource_id"] == new_bucket)
        .map(|v| v["key"]["policy_id"].as_str().unwrap())
        .collect();
    on_new.sort_unstable();
    assert_eq!(
        on_new,
        [
            "aws-s3-insecure-transport-allowed",
            "aws-s3-mfa-delete-off",
            "aws-s3-public-access-block-off",
            "aws-s3-public-acl-read",
        ]
    );
    assert!(
        violated(all["violations"].as_array().unwrap(), "aws-s3-mfa-delete-off")
            .iter()
            .all(|b| b != "acme-production-us-east-1-payments-reports")
    );

    // Revoking an exception re-opens its violations at the next scan.
    env.ok(&["exceptions", "revoke", "root-keys"]);
    let fourth = env.json(&["scan", "--demo", "fixed", "--json"]);
    assert_eq!(transitions(&fourth, "reopened"), 1, "{fourth}");
    assert_eq!(transitions(&fourth, "opened"), 0);
    let o = env.run(&["exceptions", "revoke", "root-keys"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("no exception `root-keys`"), "{}", o.err);

    // The trend has one point per scan.
    let report = env.json(&["report", "--format", "json", "--since", "1h"]);
    assert_eq!(report["trend"].as_array().unwrap().len(), 4);
}

/// The resource ids of the open violations of one policy, sorted.
fn violated(open: &[Value], policy: &str) -> Vec<String> {
    let mut ids: Vec<String> = open
        .iter()
        .filter(|v| v["key"]["policy_id"] == policy)
        .map(|v| v["key"]["asset"]["resource_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The demo estate's documents.
fn demo_estate() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scanner/demo/estate.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Violations of the real packs on the demo estate, each worked out from how
/// examples/scanner/demo/generate.py builds the estate.
fn assert_demo_violations(open: &[Value]) {
    // The staging account (444455556666) keeps root access keys, has no MFA on root,
    // and its `audit` role trusts every AWS principal; production does neither.
    let staging = "444455556666";
    assert_eq!(violated(open, "aws-iam-root-access-keys"), [staging]);
    assert_eq!(violated(open, "aws-iam-root-mfa-off"), [staging]);
    assert_eq!(violated(open, "aws-iam-role-trust-public"), ["audit"]);
    // The customer policy `everything` (Allow * on *) exists in both accounts.
    assert_eq!(
        violated(open, "aws-iam-policy-full-admin"),
        ["arn:aws:iam::111122223333:policy/everything", "arn:aws:iam::444455556666:policy/everything"]
    );
    // Instance 5 of every (account, region) is stopped since March 2025: 2 × 2.
    assert_eq!(violated(open, "aws-ec2-instance-long-stopped").len(), 4);
    // Only staging's account-wide S3 public access block is missing.
    assert_eq!(violated(open, "aws-s3-account-public-access-block-off"), ["444455556666"]);

    // Azure: development's westeurope SQL server lets in 0.0.0.0–255.255.255.255;
    // every development server and production's eastus one let in all Azure services.
    let dev_sql = concat!(
        "/subscriptions/9a7d3c2b-1e4f-4a6b-8c0d-2f1e3d4c5b6a/resourcegroups/rg-development-westeurope",
        "/providers/microsoft.sql/servers/sql-deve-westeurope"
    );
    assert_eq!(violated(open, "azure-sql-firewall-open-to-all"), [dev_sql]);
    assert_eq!(violated(open, "azure-sql-allow-azure-services").len(), 3);
    // Development's storage account 3 of each location accepts plain HTTP.
    let http: Vec<String> = violated(open, "azure-storage-secure-transfer-off")
        .iter()
        .map(|id| id.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(http, ["stdeveeastsear3", "stdevewestsear3"]);
    // Development's VM 4 of each location has a data disk in a page blob.
    assert_eq!(violated(open, "azure-vm-unmanaged-disks").len(), 2);
    // Development's SQL servers do not audit; its VM 1 of each location is
    // stopped but still allocated (production's VM 4 is deallocated: no cost).
    let last =
        |ids: Vec<String>| -> Vec<String> { ids.iter().map(|id| id.rsplit('/').next().unwrap().to_owned()).collect() };
    assert_eq!(last(violated(open, "azure-sql-auditing-off")), ["sql-deve-eastus", "sql-deve-westeurope"]);
    assert_eq!(last(violated(open, "azure-vm-stopped-not-deallocated")), ["vm-deve-east-web-1", "vm-deve-west-web-1"]);
    // Blob soft delete: production's account 2 of each location, and every
    // development account (none has container soft delete): 2 + 8.
    assert_eq!(violated(open, "azure-storage-blob-soft-delete-off").len(), 10);

    // Mandatory tags (the demo's `Owner`, `Environment`, `CostCenter`), counted
    // from the estate itself: AWS keys exactly, on the kinds its pack owns except
    // default groups and VPCs; Azure keys case-insensitively on taggable kinds.
    let estate = demo_estate();
    let mandatory = ["Owner", "Environment", "CostCenter"];
    let lacks = |a: &Value, exact: bool| {
        let tags = a["tags"].as_object().unwrap();
        mandatory.iter().any(|m| {
            !tags.iter().any(|(k, v)| {
                (if exact { k == m } else { k.eq_ignore_ascii_case(m) }) && !v.as_str().unwrap().trim().is_empty()
            })
        })
    };
    let kind = |a: &Value| a["id"]["kind"].as_str().unwrap().to_owned();
    let aws_owned = ["instance", "volume", "snapshot", "address", "security_group", "vpc"];
    let aws_missing = estate
        .iter()
        .filter(|a| {
            let k = kind(a);
            (k == "aws.s3.bucket" || aws_owned.iter().any(|o| k == format!("aws.ec2.{o}")))
                && a["attributes"]["is_default"] != true
                && lacks(a, true)
        })
        .count();
    let azure_missing = estate
        .iter()
        .filter(|a| {
            let k = kind(a);
            pacbot::azure::pack::TAGGABLE.contains(&k.as_str()) && lacks(a, false)
        })
        .count();
    assert_eq!(violated(open, "aws-tagging-mandatory-tags").len(), aws_missing);
    assert_eq!(violated(open, "azure-mandatory-tags").len(), azure_missing);
    assert_eq!((aws_missing, azure_missing), (99, 91));
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas").join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().should_validate_formats(false).build(&schema).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> =
        validator.iter_errors(instance).take(5).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} is invalid:\n{}", errors.join("\n"));
}

#[test]
fn report_formats_parse_and_validate() {
    let env = Env::new();
    env.ok(&["scan", "--demo"]);
    env.ok(&["scan", "--demo", "fixed"]);
    let json = env.json(&["report", "--format", "json", "--all"]);
    let violations = json["violations"].as_array().unwrap();
    assert!(violations.iter().any(|v| v["status"] == "closed"));

    // CSV round-trips: every row reads back as the JSON report's violation.
    let csv_text = env.ok(&["report", "--format", "csv", "--all"]);
    let rows: Vec<CsvRow> = csv::Reader::from_reader(csv_text.as_bytes()).deserialize().map(Result::unwrap).collect();
    let expected: Vec<CsvRow> = violations
        .iter()
        .map(|v| CsvRow::from(&serde_json::from_value::<pacbot::Violation>(v.clone()).unwrap()))
        .collect();
    assert_eq!(rows.len(), violations.len());
    assert_eq!(rows, expected);

    // SARIF 2.1.0.
    let sarif: Value = serde_json::from_str(&env.ok(&["report", "--format", "sarif", "--all"])).unwrap();
    assert_valid(&schema("sarif-2.1.0.json"), &sarif, "the SARIF log");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), violations.len());
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
    }

    // OCSF 1.5.0 compliance findings, each valid.
    let ocsf: Value = serde_json::from_str(&env.ok(&["report", "--format", "ocsf", "--all"])).unwrap();
    let findings = ocsf.as_array().unwrap();
    assert_eq!(findings.len(), violations.len());
    let validator = schema("ocsf-1.5.0-compliance_finding.json");
    for f in findings {
        assert_valid(&validator, f, "an OCSF finding");
    }
    assert!(findings.iter().any(|f| f["activity_id"] == 3 && f["compliance"]["status_id"] == 1));

    // HTML: one file with the figures and charts, nothing fetched.
    let html_path = env.path("report.html");
    let out = env.ok(&["report", "--format", "html", "--output", html_path.to_str().unwrap()]);
    assert!(out.contains("report.html"));
    let html = std::fs::read_to_string(&html_path).unwrap();
    let overall = json["compliance"]["report"]["overall"].as_f64().unwrap();
    assert!(html.contains(&format!("{overall:.1} %")), "overall {overall:.1} missing");
    for g in json["groups"].as_array().unwrap() {
        let name = g["report"]["group"].as_str().unwrap();
        assert!(html.contains(&format!(">{name}<")), "group {name} missing");
    }
    assert!(html.contains("<svg") && html.contains("class=\"trend\""));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("src="));

    // Filters: a group, a policy.
    let prod = env.json(&["report", "--format", "json", "--group", "production"]);
    assert_eq!(prod["compliance"]["report"]["group"], "production");
    assert!(prod["violations"].as_array().unwrap().len() < json["violations"].as_array().unwrap().len());
    let o = env.run(&["report", "--group", "nope"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("no asset group `nope`"), "{}", o.err);
    let table = env.ok(&["report"]);
    assert!(table.contains("Latest scan 2 (demo)") && table.contains("Trend"), "{table}");
}

/// One compliant EBS volume, in its documented shape, with every tag the
/// built-in packs ask for (the AWS pack's defaults and the tagging pack's).
const CLEAN: &str = r#"[{"id": {"provider": "aws", "account": "111122223333", "region": "us-east-1",
  "kind": "aws.ec2.volume", "resource_id": "vol-1"},
  "tags": {"Owner": "ops@example.com", "CostCenter": "CC-1234", "Application": "ledger", "Environment": "production"},
  "attributes": {"volume_id": "vol-1", "volume_type": "gp3", "size_gib": 8, "iops": 3000, "state": "in-use",
    "encrypted": true, "kms_key_id": null, "snapshot_id": null, "availability_zone": "us-east-1a",
    "create_time": "2025-05-01T12:00:00Z",
    "attachments": [{"instance_id": "i-0abc", "device": "/dev/xvda", "state": "attached", "delete_on_termination": true}]}}]"#;

fn config(env: &Env, inventory: &str, extra: &str) -> PathBuf {
    env.write("inventory.json", inventory);
    env.write(
        "scanner.toml",
        &format!(
            "[[sources]]\ntype = \"json\"\npath = \"inventory.json\"\n\n[policies]\npacks = [\"builtin\"]\n{extra}\n"
        ),
    )
}

#[test]
fn exit_codes() {
    let env = Env::new();
    let cfg = config(&env, CLEAN, "");
    let cfg = cfg.to_str().unwrap();
    assert_eq!(env.run(&["--config", cfg, "scan", "--fail-on", "low"]).code, EXIT_OK);
    assert_eq!(env.run(&["scan", "--demo", "--fail-on", "critical"]).code, EXIT_VIOLATIONS);
    assert_eq!(env.run(&["report", "--fail-on", "critical"]).code, EXIT_VIOLATIONS);
    assert_eq!(
        env.run(&["report", "--fail-on", "low", "--policy", "demo-tag-owner", "--group", "azure"]).code,
        EXIT_VIOLATIONS
    );
    let o = env.run(&["scan", "--demo", "--fail-on", "urgent"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("`urgent` is not a severity"), "{}", o.err);
    let o = env.run(&["--config", env.path("missing.toml").to_str().unwrap(), "scan"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("missing.toml") && o.err.contains("cannot read"), "{}", o.err);
    // A source that cannot be read: the scan is committed as partial, and the exit code says so.
    let cfg2 = env.write(
        "two.toml",
        "[[sources]]\ntype = \"json\"\npath = \"inventory.json\"\n[[sources]]\ntype = \"json\"\npath = \"broken.json\"\n",
    );
    env.write("broken.json", "[{\"id\": 5}]");
    let o = env.run(&["--config", cfg2.to_str().unwrap(), "scan"]);
    assert_eq!(o.code, EXIT_ERROR, "{}", o.out);
    assert!(o.out.contains("partial") && o.out.contains("broken.json"), "{}", o.out);
    assert!(o.err.contains("broken.json") && o.err.contains("`[0].id`"), "{}", o.err);
    assert_eq!(env.run(&["--help"]).code, EXIT_OK);
}

#[test]
fn validate_names_file_path_and_reason() {
    let env = Env::new();
    let good = env.write("demo/scanner.toml", scanner::demo::CONFIG);
    env.write("demo/estate.json", "[]");
    env.write("demo/policies/production.yaml", "policies: []\n");
    let out = env.ok(&["--config", good.to_str().unwrap(), "validate"]);
    assert!(out.contains("valid") && out.contains("pack aws (aws)"), "{out}");

    let bad = env.write(
        "bad.toml",
        r#"
[[sources]]
type = "aws"
regions = ["us-east-1", "mars-1"]
role_arn = "arn:aws:iam::{account}:role/Audit"

[[sources]]
type = "azure"
subscriptions = ["not-a-guid"]

[policies]
packs = ["builtin", "nope"]
disabled = ["no-such-policy"]
"#,
    );
    let o = env.run(&["--config", bad.to_str().unwrap(), "validate"]);
    assert_eq!(o.code, EXIT_ERROR);
    let file = bad.display().to_string();
    assert!(o.err.contains(&format!("{file}: at `sources[0].regions[1]`: `mars-1` is not an AWS region")), "{}", o.err);
    assert!(o.err.contains("at `sources[1].subscriptions[0]`"), "{}", o.err);

    // Well-formed AWS and Azure sources pass validation with a note, and a scan says what is missing.
    let aws = env.write(
        "aws.toml",
        "[[sources]]\ntype = \"aws\"\nprofile = \"audit\"\nregions = [\"eu-west-1\"]\n\
         accounts = [\"111122223333\"]\nrole_arn = \"arn:aws:iam::{account}:role/Audit\"\n",
    );
    let out = env.ok(&["--config", aws.to_str().unwrap(), "validate"]);
    assert!(out.contains("source: aws: profile audit") && out.contains("note:"), "{out}");
    let o = env.run(&["--config", aws.to_str().unwrap(), "scan"]);
    assert_eq!(o.code, EXIT_ERROR);
    let why = if cfg!(feature = "aws") { "profile `audit` is read from the environment" } else { "AWS sources need" };
    assert!(o.err.contains(&format!("at `sources[0]`: {why}")), "{}", o.err);

    let typo = env.write("typo.toml", "[policies]\npacks = [\"builtin\"]\ndisabeld = [\"x\"]\n");
    let o = env.run(&["--config", typo.to_str().unwrap(), "validate"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("typo.toml:3") && o.err.contains("unknown field `disabeld`"), "{}", o.err);

    let criteria =
        env.write("crit.toml", "[[groups]]\nname = \"p\"\ncriteria = { path = \"tags.Env\", regex = \"([\" }\n");
    let o = env.run(&["--config", criteria.to_str().unwrap(), "validate"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("crit.toml") && o.err.contains("groups[0].criteria"), "{}", o.err);

    let bad_policy = env.write(
        "policies/bad.yaml",
        "policies:\n  - {id: x, name: X, severity: low, category: cost, resource: k, fail_when: {path: a, regex: '['}}\n",
    );
    let o = env.run(&["validate", "--policies", env.path("policies").to_str().unwrap()]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(
        o.err.contains(&bad_policy.display().to_string()) && o.err.contains("policies[0].fail_when.regex"),
        "{}",
        o.err
    );
    let disabled = env.write("disabled.toml", "[policies]\ndisabled = [\"no-such-policy\"]\n");
    let o = env.run(&["--config", disabled.to_str().unwrap(), "validate"]);
    assert!(o.err.contains("at `policies.disabled[0]`: policy `no-such-policy` not found"), "{}", o.err);
}

#[test]
fn groups_explain_and_continuous_scans() {
    let env = Env::new();
    let out = env.ok(&[
        "groups",
        "add",
        "volumes",
        "--criteria",
        "{path: kind, eq: aws.ec2.volume}",
        "--owner",
        "ops@example.com",
    ]);
    assert!(out.contains("`volumes` stored"));
    let o = env.run(&["groups", "add", "bad", "--criteria", "{path: kind, regex: '('}"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("--criteria: invalid criteria"), "{}", o.err);

    let cfg = config(&env, CLEAN, "");
    let cfg = cfg.to_str().unwrap();
    let out = env.ok(&["--config", cfg, "scan", "--continuous", "--every", "10ms", "--max-scans", "2"]);
    assert!(out.contains("Scan 1 (scan) complete") && out.contains("Scan 2 (scan) complete"), "{out}");
    assert!(out.contains("volumes"), "stored groups get a report: {out}");
    let groups = env.json(&["groups", "list", "--json"]);
    assert_eq!(groups[0]["group"]["name"], "volumes");
    env.ok(&["groups", "remove", "volumes"]);
    assert!(env.ok(&["groups", "list"]).contains("no asset groups"));

    // A failing scan does not stop the loop.
    env.write("inventory.json", "not json");
    let o = env.run(&["--config", cfg, "scan", "--continuous", "--every", "10ms", "--max-scans", "2"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("scan 1 failed") && o.err.contains("scan 2 failed"), "{}", o.err);

    let out = env.ok(&["--config", cfg, "explain", "aws-ebs-volume-unencrypted"]);
    assert!(out.contains("EBS volume is not encrypted") && out.contains("fail_when"), "{out}");
    assert!(out.contains("rule unencrypted: 1 passed, 0 failed"), "{out}");
    let o = env.run(&["explain", "aws-ebs"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("did you mean"), "{}", o.err);
}

/// Against moto: two accounts scanned through an assumed role, the AWS pack's
/// versioning policy failing in both, then `fix` in dry-run (nothing changes)
/// and applied in the one allow-listed account, and a rescan closing it.
#[cfg(all(feature = "aws", feature = "autofix", feature = "testing"))]
#[test]
fn moto_accounts_scanned_through_a_role_and_fixed() {
    use pacbot::aws::testing::{FaultProxy, emulator_config, moto_url, reset_moto, s3_client};

    const OWN: &str = "123456789012";
    const OTHER: &str = "210987654321";
    // A multi-threaded runtime keeps the proxy serving while the scanner runs its own.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = moto_url();
    reset_moto(&url);
    let (proxy, own, other) = rt.block_on(async {
        let proxy = FaultProxy::start(&url).await.unwrap();
        let own = s3_client(&emulator_config(&proxy.url(), None).await);
        let other = s3_client(&emulator_config(&proxy.url(), Some((OTHER, "seed"))).await);
        own.create_bucket().bucket("own-records").send().await.unwrap();
        other.create_bucket().bucket("other-records").send().await.unwrap();
        (proxy, own, other)
    });
    let versioning = |c: &pacbot::aws::testing::sdk::aws_sdk_s3::Client, bucket: &str| {
        rt.block_on(c.get_bucket_versioning().bucket(bucket).send()).unwrap().status().map(|s| s.as_str().to_owned())
    };

    let env = Env::new();
    let endpoint = proxy.url();
    let config = env.write(
        "moto.toml",
        &format!(
            r#"
[[sources]]
type = "aws"
regions = ["us-east-1"]
role_arn = "arn:aws:iam::{{account}}:role/pacbot-audit"
accounts = ["{OWN}", "{OTHER}"]
endpoint_url = "{endpoint}"

[policies]
packs = ["aws"]

[autofix.aws]
role_name = "pacbot-fix"
endpoint_url = "{endpoint}"

[[autofix.policies]]
policy_id = "aws-s3-versioning-off"
silent = true
allowed_accounts = ["{OTHER}"]
"#
        ),
    );
    let config = config.to_str().unwrap();
    let bucket_id = |account: &str, name: &str| format!("aws/{account}/us-east-1/aws.s3.bucket/{name}");
    let failing = |env: &Env| -> Vec<String> {
        let r = env.json(&["--config", config, "report", "--format", "json", "--policy", "aws-s3-versioning-off"]);
        let mut ids: Vec<String> = r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let a = &v["key"]["asset"];
                format!(
                    "{}/{}/{}/{}/{}",
                    a["provider"].as_str().unwrap(),
                    a["account"].as_str().unwrap(),
                    a["region"].as_str().unwrap(),
                    a["kind"].as_str().unwrap(),
                    a["resource_id"].as_str().unwrap()
                )
            })
            .collect();
        ids.sort();
        ids
    };

    let first = env.json(&["--config", config, "scan", "--json"]);
    assert_eq!(first["scan"]["status"], "complete", "{first}");
    assert_eq!(failing(&env), [bucket_id(OWN, "own-records"), bucket_id(OTHER, "other-records")]);

    // Dry-run: the allow-listed account's bucket is planned, the other skipped; nothing changes.
    let dry = env.json(&["--config", config, "fix", "--dry-run", "--json"]);
    assert_eq!(dry["mode"], "dry_run");
    let decided = |report: &Value| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = report["report"]["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let what = match d["decision"]["decision"].as_str().unwrap() {
                    "ran" => format!("ran:{}", d["decision"]["run"]["status"].as_str().unwrap()),
                    other => other.to_owned(),
                };
                (d["violation"]["asset"]["account"].as_str().unwrap().to_owned(), what)
            })
            .collect();
        out.sort();
        out
    };
    assert_eq!(decided(&dry), [(OWN.to_owned(), "skipped".to_owned()), (OTHER.to_owned(), "ran:planned".to_owned())]);
    assert_eq!(versioning(&other, "other-records"), None);

    // Applied: only the allow-listed account's bucket changes, as moto reads it back.
    let applied = env.json(&["--config", config, "fix", "--apply", "--json"]);
    assert_eq!(
        decided(&applied),
        [(OWN.to_owned(), "skipped".to_owned()), (OTHER.to_owned(), "ran:applied".to_owned())]
    );
    assert_eq!(versioning(&other, "other-records").as_deref(), Some("Enabled"));
    assert_eq!(versioning(&own, "own-records"), None);

    // The next scan closes the fixed violation at its source.
    let second = env.json(&["--config", config, "scan", "--json"]);
    assert_eq!(transitions(&second, "closed_fixed"), 1, "{second}");
    assert_eq!(failing(&env), [bucket_id(OWN, "own-records")]);

    // An unknown policy for `fix` is a configuration error naming it.
    let o = env.run(&["--config", config, "fix", "--policy", "aws-nope"]);
    assert_eq!(o.code, EXIT_ERROR);
    assert!(o.err.contains("aws-nope"), "{}", o.err);
    drop(proxy);
}

/// Every attribute document of the demo estates reads as the Rust type of
/// its kind and writes back unchanged: the documented shapes of pacbot-aws
/// and pacbot-azure exactly, every field present and nothing else.
#[test]
fn the_demo_estates_follow_the_documented_shapes() {
    use pacbot::aws::shapes as aws;
    use pacbot::azure::shapes as az;
    use pacbot::shape_doc::{ShapeExample, check_round_trip};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scanner/demo");
    for file in ["estate.json", "estate-fixed.json"] {
        let estate: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        for (i, asset) in estate.iter().enumerate() {
            let id = &asset["id"];
            let kind = id["kind"].as_str().unwrap().to_owned();
            let example = ShapeExample { kind: kind.clone(), document: asset["attributes"].clone(), line: i + 2 };
            let checked = match kind.as_str() {
                aws::kind::INSTANCE => check_round_trip::<aws::Instance>(&example),
                aws::kind::SECURITY_GROUP => check_round_trip::<aws::SecurityGroup>(&example),
                aws::kind::VOLUME => check_round_trip::<aws::Volume>(&example),
                aws::kind::SNAPSHOT => check_round_trip::<aws::Snapshot>(&example),
                aws::kind::VPC => check_round_trip::<aws::Vpc>(&example),
                aws::kind::SUBNET => check_round_trip::<aws::Subnet>(&example),
                aws::kind::ROUTE_TABLE => check_round_trip::<aws::RouteTable>(&example),
                aws::kind::ADDRESS => check_round_trip::<aws::Address>(&example),
                aws::kind::EC2_ACCOUNT_SETTINGS => check_round_trip::<aws::Ec2AccountSettings>(&example),
                aws::kind::BUCKET => check_round_trip::<aws::Bucket>(&example),
                aws::kind::S3_ACCOUNT_SETTINGS => check_round_trip::<aws::S3AccountSettings>(&example),
                aws::kind::USER => check_round_trip::<aws::User>(&example),
                aws::kind::GROUP => check_round_trip::<aws::Group>(&example),
                aws::kind::ROLE => check_round_trip::<aws::Role>(&example),
                aws::kind::POLICY => check_round_trip::<aws::ManagedPolicy>(&example),
                aws::kind::PASSWORD_POLICY => check_round_trip::<aws::PasswordPolicy>(&example),
                aws::kind::ACCOUNT_SUMMARY => check_round_trip::<aws::AccountSummary>(&example),
                az::kind::RESOURCE_GROUP => check_round_trip::<az::ResourceGroup>(&example),
                az::kind::STORAGE_ACCOUNT => check_round_trip::<az::StorageAccount>(&example),
                az::kind::STORAGE_CONTAINER => check_round_trip::<az::StorageContainer>(&example),
                az::kind::VM => check_round_trip::<az::VirtualMachine>(&example),
                az::kind::DISK => check_round_trip::<az::Disk>(&example),
                az::kind::NSG => check_round_trip::<az::NetworkSecurityGroup>(&example),
                az::kind::SQL_SERVER => check_round_trip::<az::SqlServer>(&example),
                az::kind::SQL_DATABASE => check_round_trip::<az::SqlDatabase>(&example),
                az::kind::KEY_VAULT => check_round_trip::<az::KeyVault>(&example),
                other => Err(format!("no documented shape for `{other}`")),
            };
            if let Err(e) = checked {
                panic!("{file}: {e}");
            }
            if id["provider"] == "azure" {
                // The Azure conventions: the lowercase ARM id is the resource id.
                let rid = id["resource_id"].as_str().unwrap();
                assert_eq!(rid, rid.to_lowercase(), "{file}: {rid}");
                assert_eq!(asset["attributes"]["id"].as_str(), Some(rid), "{file}");
            }
            kinds.insert(kind);
        }
        // Every kind the packs judge is in the demo.
        let all: std::collections::BTreeSet<String> =
            aws::kind::ALL.iter().chain(az::kind::ALL.iter()).map(|k| (*k).to_owned()).collect();
        assert_eq!(kinds, all, "{file}");
    }
}
