//! Asset groups: named criteria that scope reports and policies.

use serde::{Deserialize, Serialize};

use crate::criteria::Criteria;

/// A named set of assets, described by criteria over their attributes
/// (tags, account, region, state, …).
///
/// Groups scope compliance reports ("production", "team-payments") and the
/// assets a policy evaluates (a policy's [`crate::PolicyMeta::scope`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetGroup {
    /// Unique name.
    pub name: String,
    /// What the group is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Who owns the group (receives its digests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Which assets belong.
    pub criteria: Criteria,
}

impl AssetGroup {
    /// A group with a name and criteria.
    pub fn new(name: impl Into<String>, criteria: Criteria) -> Self {
        Self { name: name.into(), description: String::new(), owner: None, criteria }
    }

    /// Parses a document of groups — `groups: [{name, criteria, …}, …]` — in
    /// YAML, or JSON when `source_name` ends in `.json`. Errors name the
    /// source and the path, such as `groups[2].criteria.any[1].regex`.
    pub fn parse_document(source_name: &str, text: &str) -> Result<Vec<AssetGroup>, crate::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            groups: Vec<AssetGroup>,
        }
        let invalid = |path: String, reason: String| crate::Error::InvalidDocument {
            source_name: source_name.to_owned(),
            path,
            reason,
        };
        let doc: Doc = crate::doc::from_named(source_name, text).map_err(|(p, r)| invalid(p, r))?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, g) in doc.groups.iter().enumerate() {
            if g.name.trim().is_empty() {
                return Err(invalid(format!("groups[{i}].name"), "the name is empty".into()));
            }
            if !seen.insert(g.name.as_str()) {
                return Err(invalid(format!("groups[{i}].name"), format!("duplicate group `{}`", g.name)));
            }
        }
        Ok(doc.groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_errors_name_the_path() {
        let text = "groups:\n  - {name: a, criteria: {path: x, eq: 1}}\n  - {name: b, criteria: {path: x, eq: 1}}\n  - name: c\n    criteria:\n      any:\n        - {path: x, eq: 1}\n        - {path: y, regex: '(['}\n";
        let err = AssetGroup::parse_document("groups.yaml", text).unwrap_err();
        match err {
            crate::Error::InvalidDocument { source_name, path, reason } => {
                assert_eq!(source_name, "groups.yaml");
                assert_eq!(path, "groups[2].criteria.any[1].regex");
                assert!(reason.contains("invalid regex"));
            }
            other => panic!("{other:?}"),
        }
        let dup = "groups: [{name: a, criteria: {all: []}}, {name: a, criteria: {all: []}}]";
        let err = AssetGroup::parse_document("g.yaml", dup).unwrap_err().to_string();
        assert!(err.contains("groups[1].name") && err.contains("duplicate group `a`"), "{err}");
        let json = r#"{"groups": [{"name": "p", "criteria": {"path": "tags.Env", "eq": "prod"}}]}"#;
        let groups = AssetGroup::parse_document("g.json", json).unwrap();
        assert_eq!(groups[0].name, "p");
    }
}
