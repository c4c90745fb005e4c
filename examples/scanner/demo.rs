//! The bundled demo: its configuration, estates and policy directory, built
//! into the binary so `scan --demo` works from any directory.

use super::cli::DemoVariant;

/// Where the demo's files live in the repository.
pub const DIR: &str = "examples/scanner/demo";
/// The demo configuration's name in messages.
pub const CONFIG_NAME: &str = "examples/scanner/demo/scanner.toml";
/// The demo configuration.
pub const CONFIG: &str = include_str!("demo/scanner.toml");

const ESTATE: &str = include_str!("demo/estate.json");
const ESTATE_FIXED: &str = include_str!("demo/estate-fixed.json");
const PRODUCTION_POLICIES: &str = include_str!("demo/policies/production.yaml");

/// A file the demo configuration names, for a variant of the estate.
pub fn file(variant: DemoVariant, rel: &str) -> Option<&'static str> {
    match (rel, variant) {
        ("estate.json", DemoVariant::Estate) => Some(ESTATE),
        ("estate.json", DemoVariant::Fixed) => Some(ESTATE_FIXED),
        _ => None,
    }
}

/// The policy files of a directory the demo configuration names: (name, text).
pub fn policy_dir(rel: &str) -> Option<Vec<(String, &'static str)>> {
    match rel.trim_end_matches('/') {
        "policies" => Some(vec![(format!("{DIR}/policies/production.yaml"), PRODUCTION_POLICIES)]),
        _ => None,
    }
}
