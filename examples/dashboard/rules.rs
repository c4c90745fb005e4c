//! The rules of the knowledge base: what each policy's rules check, as
//! text. The store keeps policies' metadata only; the rules come from the
//! policy packs the scanner would load (the demo's configuration with
//! `--demo`, a scanner configuration with `--scanner-config`, else the
//! built-in packs).

use std::collections::HashMap;

use pacbot::Policy;
use serde::Serialize;

use super::scanner::config::Loaded;

/// How a rule is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleForm {
    /// Criteria (a declarative policy file): the criteria are shown.
    Declarative,
    /// Rust code: only its description can be shown.
    Code,
}

/// One rule of a policy, for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// The rule's id within its policy.
    pub id: String,
    /// The asset kinds it judges (empty for every kind).
    pub kinds: Vec<String>,
    /// Declarative or code.
    pub form: RuleForm,
    /// What it checks.
    pub description: String,
    /// A declarative rule's definition (`resource`, `when`, `fail_when` or
    /// `pass_when`, `reason`) as YAML; absent for code rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criteria: Option<String>,
}

/// The rules of every known policy, by policy id.
#[derive(Clone, Debug, Default)]
pub struct RuleCatalogue {
    by_policy: HashMap<String, Vec<RuleInfo>>,
}

impl RuleCatalogue {
    /// The rules of these policies.
    pub fn new(policies: &[Policy]) -> Self {
        let by_policy = policies
            .iter()
            .map(|p| {
                let rules = p
                    .rules()
                    .iter()
                    .map(|r| {
                        let criteria = r.definition().map(|def| {
                            serde_yaml_ng::to_string(&def)
                                .unwrap_or_else(|_| serde_json::to_string_pretty(&def).unwrap_or_default())
                        });
                        RuleInfo {
                            id: r.id().to_owned(),
                            kinds: r.kinds().iter().map(|k| k.as_str().to_owned()).collect(),
                            form: if criteria.is_some() { RuleForm::Declarative } else { RuleForm::Code },
                            description: r.description(),
                            criteria,
                        }
                    })
                    .collect();
                (p.id().to_owned(), rules)
            })
            .collect();
        Self { by_policy }
    }

    /// The rules of the packs a scanner configuration selects.
    pub fn from_scanner(loaded: &Loaded) -> Result<Self, String> {
        let set = super::scanner::packs::load(loaded, &[])
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        Ok(Self::new(&set.policies))
    }

    /// The rules of the demo's policies.
    pub fn demo() -> Result<Self, String> {
        let loaded = Loaded::demo(super::scanner::cli::DemoVariant::Estate)
            .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        Self::from_scanner(&loaded)
    }

    /// The rules of the built-in packs.
    pub fn builtin() -> Result<Self, String> {
        Self::from_scanner(&Loaded::defaults())
    }

    /// A policy's rules; empty when the policy is not in the loaded packs.
    pub fn rules(&self, policy: &str) -> &[RuleInfo] {
        self.by_policy.get(policy).map_or(&[], Vec::as_slice)
    }
}
