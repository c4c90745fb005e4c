//! The Azure policy pack.
//!
//! [`policies`] returns every policy of the pack: declarative ones (the file
//! `src/pack/policies.yaml`, built into the crate) and two in code — the
//! mandatory tags of [`PackConfig`], and public blob containers judged
//! together with their storage account. Framework ids are those of the CIS
//! Microsoft Azure Foundations Benchmark v2.0.0 (key
//! [`CIS_FRAMEWORK`]); the policies without a CIS control say so by having
//! none.
//!
//! ```
//! use pacbot_azure::pack::{PackConfig, policies};
//! let pack = policies(&PackConfig::default()).unwrap();
//! assert!(pack.len() >= 15);
//! assert!(pack.iter().all(|p| p.id().starts_with("azure-")));
//! ```

use pacbot_core::{Asset, Category, EvalContext, FnRule, Outcome, Policy, PolicyMeta, Severity};

use crate::shapes::kind;

/// The framework key of the CIS ids in this pack's metadata.
pub const CIS_FRAMEWORK: &str = "cis-azure-foundations-v2.0.0";

/// The id of the mandatory-tags policy.
pub const MANDATORY_TAGS: &str = "azure-mandatory-tags";

/// The id of the public-container policy.
pub const CONTAINER_PUBLIC: &str = "azure-storage-container-public";

/// The kinds that carry ARM tags (blob containers do not).
pub const TAGGABLE: [&str; 8] = [
    kind::RESOURCE_GROUP,
    kind::STORAGE_ACCOUNT,
    kind::VM,
    kind::DISK,
    kind::NSG,
    kind::SQL_SERVER,
    kind::SQL_DATABASE,
    kind::KEY_VAULT,
];

/// Settings of the pack.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PackConfig {
    /// Tags every taggable resource must carry with a non-empty value. Azure
    /// tag names are case-insensitive, so `Owner` is satisfied by `owner`.
    /// With no tags the mandatory-tags policy is left out.
    pub mandatory_tags: Vec<String>,
}

impl Default for PackConfig {
    /// `Owner` and `Environment` are mandatory.
    fn default() -> Self {
        Self { mandatory_tags: vec!["Owner".into(), "Environment".into()] }
    }
}

impl PackConfig {
    /// A configuration with these mandatory tags.
    #[must_use]
    pub fn with_mandatory_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.mandatory_tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

/// Every policy of the pack.
///
/// # Errors
/// Only if the built-in policy document were invalid (a test guards it).
pub fn policies(config: &PackConfig) -> Result<Vec<Policy>, pacbot_core::Error> {
    let mut out =
        pacbot_core::parse_policies("pacbot-azure/src/pack/policies.yaml", include_str!("pack/policies.yaml"))?;
    out.push(container_public());
    if !config.mandatory_tags.is_empty() {
        out.push(mandatory_tags(config.mandatory_tags.clone()));
    }
    Ok(out)
}

fn container_public() -> Policy {
    let meta = PolicyMeta::new(
        CONTAINER_PUBLIC,
        "Blob container is readable anonymously",
        Severity::Critical,
        Category::Security,
    )
    .with_description(
        "A container with public access level Blob or Container, in an account that allows blob public access, \
             lets anyone on the internet read its blobs (and, for Container, list them).",
    )
    .with_resolution(
        "Set the container's public access level to Private, and disallow blob public access on the account.",
    )
    .with_framework(CIS_FRAMEWORK, "3.7");
    Policy::new(meta, FnRule::new("main", [kind::STORAGE_CONTAINER], container_rule))
}

fn container_rule(asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
    let a = &asset.attributes;
    if a.field("deleted").as_bool() == Some(true) {
        return Outcome::NotApplicable;
    }
    let level = a.field("public_access").as_str().unwrap_or("None");
    if !matches!(level, "Blob" | "Container") {
        return Outcome::Pass;
    }
    let name = asset.name.as_deref().unwrap_or(&asset.id.resource_id);
    // The account's setting overrides the container's: with blob public
    // access disallowed (or unset, which means disallowed), no container of
    // the account is public. An account not in the inventory is not known to
    // disallow it.
    let account = a.field("account_id").as_str().and_then(|id| ctx.related(asset, kind::STORAGE_ACCOUNT, id));
    match account {
        Some(acc) if acc.attributes.field("allow_blob_public_access").as_bool() != Some(true) => Outcome::Pass,
        _ => Outcome::fail(format!("container {name} allows anonymous {} access", level.to_lowercase())),
    }
}

fn mandatory_tags(tags: Vec<String>) -> Policy {
    let meta = PolicyMeta::new(MANDATORY_TAGS, "Resource is missing mandatory tags", Severity::Low, Category::Tagging)
        .with_description(format!(
            "Every taggable Azure resource carries the tags {} with a non-empty value, so that its owner and \
             purpose are known and its cost can be allocated.",
            tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        ))
        .with_resolution("Add the missing tags (Azure Policy can require or inherit them from the resource group).");
    Policy::new(
        meta,
        FnRule::new("main", TAGGABLE, move |asset: &Asset, _ctx: &EvalContext<'_>| {
            let missing: Vec<&str> = tags
                .iter()
                .filter(|want| !asset.tags.iter().any(|(k, v)| k.eq_ignore_ascii_case(want) && !v.trim().is_empty()))
                .map(String::as_str)
                .collect();
            Outcome::check(missing.is_empty(), || format!("missing tags: {}", missing.join(", ")))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_has_complete_metadata_and_a_rule_case_file() {
        let pack = policies(&PackConfig::default()).unwrap();
        assert!(pack.len() >= 15, "{} policies", pack.len());
        // Policies with no CIS control in v2.0.0, on purpose.
        let no_cis = [
            "azure-storage-shared-key-access",
            "azure-disk-unencrypted",
            "azure-disk-unattached",
            "azure-vm-password-login",
            "azure-vm-stopped-not-deallocated",
            MANDATORY_TAGS,
        ];
        let cases = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
        let mut ids = std::collections::BTreeSet::new();
        for p in &pack {
            let m = p.meta();
            assert!(ids.insert(m.id.clone()), "duplicate id {}", m.id);
            assert!(m.id.starts_with("azure-"), "{}", m.id);
            for (what, text) in [("name", &m.name), ("description", &m.description), ("resolution", &m.resolution)] {
                assert!(text.trim().len() > 10, "{}: {what} is missing or too short", m.id);
            }
            let cis = m.frameworks.get(CIS_FRAMEWORK);
            if no_cis.contains(&m.id.as_str()) {
                assert!(m.frameworks.is_empty(), "{} is listed as having no CIS control", m.id);
            } else {
                let ids = cis.unwrap_or_else(|| panic!("{} has no {CIS_FRAMEWORK} id", m.id));
                assert!(!ids.is_empty() && ids.iter().all(|c| c.split('.').all(|n| n.parse::<u8>().is_ok())));
            }
            assert!(m.frameworks.keys().all(|k| k == CIS_FRAMEWORK), "{}: {:?}", m.id, m.frameworks);
            for r in p.rules() {
                assert!(!r.kinds().is_empty(), "{}: a rule judges every kind", m.id);
                assert!(r.kinds().iter().all(|k| kind::ALL.contains(&k.as_str())), "{}: unknown kind", m.id);
            }
            let file = cases.join(format!("{}.yaml", m.id));
            assert!(file.exists(), "{} has no rule-case file {}", m.id, file.display());
        }
        for entry in std::fs::read_dir(&cases).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let id = name.strip_suffix(".yaml").unwrap();
            assert!(ids.contains(id), "case file {name} names no policy of the pack");
        }
    }

    #[test]
    fn mandatory_tags_are_configurable() {
        let pack = policies(&PackConfig::default().with_mandatory_tags(Vec::<String>::new())).unwrap();
        assert!(pack.iter().all(|p| p.id() != MANDATORY_TAGS));
    }
}
