//! The AWS pack's rule cases: one file per policy in `tests/cases/`, named
//! after the policy id. Also checks that every policy has a case file and
//! complete metadata, and that the policy table in the docs is current
//! (`UPDATE_POLICY_TABLE=1 cargo test -p pacbot-aws --test rule_cases` rewrites it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pacbot_aws::pack::{self, CIS_V1_4, CIS_V3_0, PackConfig};
use pacbot_core::Policy;
use pacbot_core::rule_case::RuleCaseFile;

/// The configuration the cases are written for.
fn config() -> PackConfig {
    PackConfig {
        approved_regions: vec!["us-east-1".into(), "eu-west-1".into()],
        trusted_accounts: vec!["111111111111".into()],
        ..PackConfig::default()
    }
}

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_case_gets_its_expected_outcome() {
    let policies = pack::policies(&config());
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in case_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = match RuleCaseFile::parse(&name, &text) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        cases += file.len();
        if Path::new(&name).file_stem().is_none_or(|s| s != file.policy()) {
            failures.push(format!("{name}: tests `{}`; name the file after the policy", file.policy()));
        }
        match file.run(&policies) {
            Ok(m) if m.is_empty() => {}
            Ok(m) => failures.push(format!("{name}:\n  {}", m.join("\n  "))),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= 4 * policies.len(), "only {cases} cases");
}

#[test]
fn every_policy_has_a_case_file_with_passes_and_failures() {
    let policies = pack::policies(&config());
    let files: BTreeSet<String> =
        case_files().iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
    let ids: BTreeSet<String> = policies.iter().map(|p| p.id().to_owned()).collect();
    let without: Vec<_> = ids.difference(&files).collect();
    assert!(without.is_empty(), "policies without a case file: {without:?}");
    let stray: Vec<_> = files.difference(&ids).collect();
    assert!(stray.is_empty(), "case files for no policy: {stray:?}");
    for path in case_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for outcome in ["expect: pass", "expect: fail"] {
            assert!(text.contains(outcome), "{}: no case with `{outcome}`", path.display());
        }
    }
}

#[test]
fn metadata_is_complete_and_ids_unique() {
    let policies: Vec<Policy> = pack::policies(&config());
    assert!(policies.len() >= 40, "{} policies", policies.len());
    let mut seen = BTreeSet::new();
    for p in &policies {
        let m = p.meta();
        assert!(seen.insert(m.id.clone()), "duplicate id {}", m.id);
        assert!(m.id.starts_with("aws-"), "{}", m.id);
        assert!(m.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{}", m.id);
        for (what, text) in [("name", &m.name), ("description", &m.description), ("resolution", &m.resolution)] {
            assert!(text.trim().len() >= 10, "{}: {what} is empty or too short", m.id);
        }
        for (framework, ids) in &m.frameworks {
            assert!(framework == CIS_V1_4 || framework == CIS_V3_0, "{}: framework {framework}", m.id);
            assert!(!ids.is_empty() && ids.iter().all(|i| i.split('.').all(|n| n.parse::<u32>().is_ok())), "{}", m.id);
        }
        if let Some(fix) = &m.fix {
            assert!(!fix.trim().is_empty() && !fix.contains(' '), "{}: fix `{fix}`", m.id);
        }
        assert!(m.enabled, "{} is disabled in the test configuration", m.id);
        assert!(!p.rules().is_empty());
        for r in p.rules() {
            assert!(!r.kinds().is_empty(), "{}: rule {} judges every kind", m.id, r.id());
            for k in r.kinds() {
                assert!(pacbot_aws::shapes::kind::ALL.contains(&k.as_str()), "{}: unknown kind {k}", m.id);
            }
        }
    }
    let categories: BTreeSet<_> = policies.iter().map(|p| p.meta().category).collect();
    assert_eq!(categories.len(), 4, "every category has policies");
}

#[test]
fn unconfigured_region_and_tag_policies_are_disabled() {
    let none = PackConfig { mandatory_tags: vec![], ..PackConfig::default() };
    let disabled: Vec<_> =
        pack::policies(&none).into_iter().filter(|p| !p.meta().enabled).map(|p| p.id().to_owned()).collect();
    assert_eq!(disabled, ["aws-region-not-approved", "aws-tagging-mandatory-tags"]);
}

#[test]
fn the_policy_table_in_the_docs_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pack/policies.md");
    let want = pack::markdown_table(&pack::policies(&PackConfig::default()));
    if std::env::var_os("UPDATE_POLICY_TABLE").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap();
    assert!(have == want, "src/pack/policies.md is stale: run with UPDATE_POLICY_TABLE=1\n{want}");
}

#[test]
fn the_configuration_reads_from_json_with_defaults() {
    let c: PackConfig =
        serde_json::from_str(r#"{"approved_regions": ["eu-west-1"], "access_key_max_age_days": 30}"#).unwrap();
    assert_eq!(c.access_key_max_age_days, 30);
    assert_eq!(c.mandatory_tags, PackConfig::default().mandatory_tags);
    let err = serde_json::from_str::<PackConfig>(r#"{"approved_region": []}"#).unwrap_err().to_string();
    assert!(err.contains("unknown field `approved_region`"), "{err}");
    let thirty = pack::policies(&c);
    let rotate = thirty.iter().find(|p| p.id() == "aws-iam-access-key-old").unwrap();
    assert!(rotate.meta().description.contains("older than 30 days"), "{}", rotate.meta().description);
}
