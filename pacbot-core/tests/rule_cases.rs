//! Rule cases: every file in `tests/cases/` is one test (run with `cargo test -p pacbot-core --test rule_cases`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use pacbot_core::rule_case::RuleCaseFile;

fn check(path: &Path, text: String) -> datatest_stable::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies");
    let policies = pacbot_core::load_policy_dir(&dir)?;
    Ok(RuleCaseFile::check(&path.display().to_string(), &text, &policies)?)
}

datatest_stable::harness! {
    { test = check, root = "tests/cases", pattern = r"\.yaml$" },
}
