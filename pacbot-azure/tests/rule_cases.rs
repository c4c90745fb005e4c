//! Rule cases of the Azure pack: every file in `tests/cases/` is one test
//! (run with `cargo test -p pacbot-azure --test rule_cases`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use pacbot_azure::pack::{PackConfig, policies};
use pacbot_core::rule_case::RuleCaseFile;

fn check(path: &Path, text: String) -> datatest_stable::Result<()> {
    let policies = policies(&PackConfig::default())?;
    Ok(RuleCaseFile::check(&path.display().to_string(), &text, &policies)?)
}

datatest_stable::harness! {
    { test = check, root = "tests/cases", pattern = r"\.yaml$" },
}
