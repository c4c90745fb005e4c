//! Declarative policies: rules written as criteria, loaded from YAML or JSON.
//!
//! A policy file holds a list of policies:
//!
//! ```yaml
//! policies:
//!   - id: s3-versioning-off
//!     name: S3 bucket versioning is off
//!     description: Without versioning, overwritten or deleted objects cannot be recovered.
//!     resolution: Enable versioning on the bucket.
//!     severity: medium
//!     category: governance
//!     frameworks: {cis-aws-foundations-v3.0.0: ["2.1.3"]}
//!     fix: s3-enable-versioning
//!     scope: production              # optional asset group
//!     resource: aws.s3.bucket        # one kind or a list
//!     when: {path: state, ne: deleting}           # optional: where the rule applies
//!     fail_when: {path: versioning.status, ne: Enabled}
//!     reason: "bucket {resource_id} has versioning {versioning.status}"
//! ```
//!
//! Exactly one of `fail_when` (the asset fails when the criteria match) and
//! `pass_when` (the asset passes only when they match) is given. A policy with
//! several rules lists them under `rules:` instead, each with its own `id`,
//! `resource`, `when`, `fail_when`/`pass_when` and `reason`; the single-rule
//! form has the rule id `main`.
//!
//! `reason` is a template: `{path}` is replaced with the values at that
//! attribute path (joined with `, `; `none` when there are none) and `{{` /
//! `}}` are literal braces. Without a template, the reason explains the
//! deciding condition; with one, that explanation is the failure's details
//! (a JSON string).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::asset::{Asset, ResourceKind};
use crate::criteria::Criteria;
use crate::engine::EvalContext;
use crate::path::{AttributePath, ValueRef};
use crate::policy::{Category, Outcome, Policy, PolicyMeta, Rule, Severity};

/// How a declarative rule decides.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// The asset fails when the criteria match.
    FailWhen(Criteria),
    /// The asset passes only when the criteria match.
    PassWhen(Criteria),
}

/// A rule written as criteria.
#[derive(Clone, Debug)]
pub struct DeclarativeRule {
    id: String,
    kinds: Vec<ResourceKind>,
    when: Option<Criteria>,
    test: Test,
    reason: Option<ReasonTemplate>,
    description: String,
}

impl DeclarativeRule {
    /// A rule over `kinds` that decides by `test`.
    pub fn new<K: Into<ResourceKind>>(id: impl Into<String>, kinds: impl IntoIterator<Item = K>, test: Test) -> Self {
        Self {
            id: id.into(),
            kinds: kinds.into_iter().map(Into::into).collect(),
            when: None,
            test,
            reason: None,
            description: String::new(),
        }
    }

    /// Limits the rule to assets matching `when`; others are not applicable.
    #[must_use]
    pub fn when(mut self, when: Criteria) -> Self {
        self.when = Some(when);
        self
    }

    /// Sets the failure reason template (see the module docs).
    pub fn with_reason(mut self, template: &str) -> Result<Self, crate::Error> {
        self.reason = Some(ReasonTemplate::parse(template).map_err(|reason| crate::Error::InvalidPolicy {
            source_name: format!("rule `{}`", self.id),
            path: "reason".into(),
            reason,
        })?);
        Ok(self)
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// The decision criteria.
    #[must_use]
    pub fn test(&self) -> &Test {
        &self.test
    }
}

impl Rule for DeclarativeRule {
    fn id(&self) -> &str {
        &self.id
    }

    fn kinds(&self) -> &[ResourceKind] {
        &self.kinds
    }

    fn evaluate(&self, asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
        let now = ctx.now();
        if self.when.as_ref().is_some_and(|w| !w.matches(asset, now)) {
            return Outcome::NotApplicable;
        }
        let (criteria, fails) = match &self.test {
            Test::FailWhen(c) => (c, c.matches(asset, now)),
            Test::PassWhen(c) => (c, !c.matches(asset, now)),
        };
        if !fails {
            return Outcome::Pass;
        }
        // Without a template the reason is the evidence; with one, the
        // evidence (the deciding condition and the values found) goes in the
        // details as a plain string.
        match &self.reason {
            Some(t) => Outcome::fail_with(t.render(asset), Value::String(criteria.explain(asset, now))),
            None => {
                let mut out = Vec::with_capacity(128);
                out.extend_from_slice(match &self.test {
                    Test::FailWhen(_) => b"matches ",
                    Test::PassWhen(_) => b"does not satisfy ",
                });
                criteria.explain_into(&mut out, asset, now);
                Outcome::fail(crate::criteria::bytes_to_string(out))
            }
        }
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn definition(&self) -> Option<Value> {
        let mut def = serde_json::Map::new();
        def.insert("resource".into(), json!(self.kinds));
        if let Some(w) = &self.when {
            def.insert("when".into(), w.to_value());
        }
        match &self.test {
            Test::FailWhen(c) => def.insert("fail_when".into(), c.to_value()),
            Test::PassWhen(c) => def.insert("pass_when".into(), c.to_value()),
        };
        if let Some(r) = &self.reason {
            def.insert("reason".into(), Value::String(r.text.clone()));
        }
        Some(Value::Object(def))
    }
}

/// A reason with `{path}` placeholders.
#[derive(Clone)]
struct ReasonTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone)]
enum Part {
    Text(String),
    Value(AttributePath),
}

impl fmt::Debug for ReasonTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl ReasonTemplate {
    fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                lit.push_str(&tail[..1]);
                rest = &tail[2..];
            } else if tail.starts_with('}') {
                return Err(format!("unmatched `}}` in `{text}` (write `}}}}` for a brace)"));
            } else {
                let end = tail.find('}').ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
                let path: AttributePath =
                    tail[1..end].trim().parse().map_err(|e: crate::path::PathError| e.to_string())?;
                if !lit.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut lit)));
                }
                parts.push(Part::Value(path));
                rest = &tail[end + 1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Self { text: text.to_owned(), parts })
    }

    fn render(&self, asset: &Asset) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Value(path) => {
                    let values: Vec<String> = path
                        .values(asset)
                        .into_iter()
                        .map(|v| match v {
                            ValueRef::Attr(a) => a.as_str().map_or_else(|| a.to_string(), str::to_owned),
                            ValueRef::Str(s) => s.to_owned(),
                            ValueRef::Time(t) => t.to_rfc3339(),
                            ValueRef::Tags(t) => t.keys().collect::<Vec<_>>().join(", "),
                        })
                        .collect();
                    out.push_str(if values.is_empty() { "none" } else { "" });
                    out.push_str(&values.join(", "));
                }
            }
        }
        out
    }
}

fn de_kinds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<ResourceKind>>, D::Error> {
    let bad = || serde::de::Error::custom("expected a kind such as `aws.s3.bucket`, or a list of kinds");
    let kinds: Vec<String> = match Value::deserialize(d)? {
        Value::String(s) => vec![s],
        Value::Array(items) => {
            items.into_iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(bad)).collect::<Result<_, _>>()?
        }
        _ => return Err(bad()),
    };
    if kinds.is_empty() || kinds.iter().any(|k| k.trim().is_empty()) {
        return Err(bad());
    }
    Ok(Some(kinds.iter().map(ResourceKind::new).collect()))
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: Option<String>,
    #[serde(default, deserialize_with = "de_kinds")]
    resource: Option<Vec<ResourceKind>>,
    #[serde(default)]
    description: String,
    when: Option<Criteria>,
    fail_when: Option<Criteria>,
    pass_when: Option<Criteria>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySpec {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    resolution: String,
    severity: Severity,
    category: Category,
    #[serde(default)]
    frameworks: BTreeMap<String, Vec<String>>,
    fix: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    scope: Option<String>,
    // The single-rule form.
    #[serde(default, deserialize_with = "de_kinds")]
    resource: Option<Vec<ResourceKind>>,
    when: Option<Criteria>,
    fail_when: Option<Criteria>,
    pass_when: Option<Criteria>,
    reason: Option<String>,
    // The several-rules form.
    rules: Option<Vec<RuleSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policies: Vec<PolicySpec>,
}

fn build_rule(spec: RuleSpec, default_id: &str, at: &str) -> Result<DeclarativeRule, (String, String)> {
    let id = spec.id.unwrap_or_else(|| default_id.to_owned());
    if id.trim().is_empty() {
        return Err((format!("{at}.id"), "the rule id is empty".into()));
    }
    let kinds = spec.resource.ok_or_else(|| (at.to_owned(), "a rule needs a `resource` kind".to_owned()))?;
    let test = match (spec.fail_when, spec.pass_when) {
        (Some(c), None) => Test::FailWhen(c),
        (None, Some(c)) => Test::PassWhen(c),
        (None, None) => return Err((at.to_owned(), "a rule needs `fail_when` or `pass_when`".into())),
        (Some(_), Some(_)) => return Err((at.to_owned(), "give `fail_when` or `pass_when`, not both".into())),
    };
    let mut rule = DeclarativeRule::new(id, kinds, test).with_description(spec.description);
    rule.when = spec.when;
    if let Some(r) = spec.reason {
        rule.reason = Some(ReasonTemplate::parse(&r).map_err(|e| (format!("{at}.reason"), e))?);
    }
    Ok(rule)
}

fn build_policy(spec: PolicySpec, at: &str) -> Result<Policy, (String, String)> {
    if spec.id.trim().is_empty() {
        return Err((format!("{at}.id"), "the policy id is empty".into()));
    }
    if spec.name.trim().is_empty() {
        return Err((format!("{at}.name"), "the policy name is empty".into()));
    }
    let single = spec.resource.is_some()
        || spec.when.is_some()
        || spec.fail_when.is_some()
        || spec.pass_when.is_some()
        || spec.reason.is_some();
    let rules: Vec<DeclarativeRule> = match (spec.rules, single) {
        (Some(_), true) => {
            return Err((
                at.to_owned(),
                "use either `rules:` or the single-rule fields (`resource`, `fail_when`, …), not both".into(),
            ));
        }
        (Some(rules), false) => {
            if rules.is_empty() {
                return Err((format!("{at}.rules"), "a policy needs at least one rule".into()));
            }
            rules
                .into_iter()
                .enumerate()
                .map(|(i, r)| build_rule(r, &format!("rule-{}", i + 1), &format!("{at}.rules[{i}]")))
                .collect::<Result<_, _>>()?
        }
        (None, _) => {
            let spec_rule = RuleSpec {
                id: None,
                resource: spec.resource,
                description: String::new(),
                when: spec.when,
                fail_when: spec.fail_when,
                pass_when: spec.pass_when,
                reason: spec.reason,
            };
            vec![build_rule(spec_rule, "main", at)?]
        }
    };
    let meta = PolicyMeta {
        id: spec.id,
        name: spec.name,
        description: spec.description,
        resolution: spec.resolution,
        severity: spec.severity,
        category: spec.category,
        frameworks: spec.frameworks,
        fix: spec.fix,
        enabled: spec.enabled,
        scope: spec.scope,
    };
    let rules = rules.into_iter().map(|r| std::sync::Arc::new(r) as std::sync::Arc<dyn Rule>).collect();
    Policy::from_parts(meta, rules).map_err(|e| match e {
        crate::Error::InvalidPolicy { reason, .. } => (at.to_owned(), reason),
        other => (at.to_owned(), other.to_string()),
    })
}

/// Parses a policy document (YAML, or JSON when `source_name` ends in
/// `.json`). Errors name the source and the path inside the document.
pub fn parse_policies(source_name: &str, text: &str) -> Result<Vec<Policy>, crate::Error> {
    let invalid = |(path, reason): (String, String)| crate::Error::InvalidPolicy {
        source_name: source_name.to_owned(),
        path,
        reason,
    };
    let file: PolicyFile = crate::doc::from_named(source_name, text).map_err(invalid)?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(file.policies.len());
    for (i, spec) in file.policies.into_iter().enumerate() {
        let at = format!("policies[{i}]");
        if let Some(first) = seen.insert(spec.id.clone(), i) {
            return Err(invalid((
                format!("{at}.id"),
                format!("duplicate policy `{}` (first at policies[{first}])", spec.id),
            )));
        }
        out.push(build_policy(spec, &at).map_err(invalid)?);
    }
    Ok(out)
}

/// Reads one policy file.
pub fn load_policy_file(path: &Path) -> Result<Vec<Policy>, crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io { path: path.to_owned(), source })?;
    parse_policies(&path.display().to_string(), &text)
}

/// Reads every `.yaml`, `.yml` and `.json` file of a directory (not its
/// subdirectories), in name order, and checks that policy ids are unique
/// across files.
pub fn load_policy_dir(dir: &Path) -> Result<Vec<Policy>, crate::Error> {
    let io = |source| crate::Error::Io { path: dir.to_owned(), source };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
        .collect();
    files.sort();
    let mut out: Vec<Policy> = Vec::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for file in files {
        let name = file.display().to_string();
        for p in load_policy_file(&file)? {
            if let Some(first) = origin.insert(p.id().to_owned(), name.clone()) {
                return Err(crate::Error::InvalidPolicy {
                    source_name: name,
                    path: "policies".into(),
                    reason: format!("duplicate policy `{}` (first defined in {first})", p.id()),
                });
            }
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asset::AssetId;
    use crate::inventory::Inventory;
    use chrono::Utc;

    const DOC: &str = r#"
policies:
  - id: s3-versioning
    name: Versioning off
    severity: medium
    category: governance
    resource: aws.s3.bucket
    when: {path: state, ne: deleting}
    fail_when: {path: versioning.status, ne: Enabled}
    reason: "bucket {resource_id} has versioning {versioning.status} {{sic}}"
  - id: two-rules
    name: Two rules
    severity: low
    category: tagging
    rules:
      - {id: owner, resource: [aws.s3.bucket, aws.ec2.instance], pass_when: {path: tags.Owner, exists: true}}
      - {resource: aws.s3.bucket, fail_when: {path: name, glob: "tmp-*"}}
"#;

    #[test]
    fn loads_and_evaluates_declarative_policies() {
        let policies = parse_policies("pack.yaml", DOC).unwrap();
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[1].rules()[1].id(), "rule-2");
        let bucket = Asset::new(AssetId::new("aws", "1", "us-east-1", "aws.s3.bucket", "logs"))
            .with_name("tmp-logs")
            .with_attributes(json!({"versioning": {"status": "Suspended"}}));
        let inv = Inventory::from_assets([bucket.clone()]);
        let ctx = EvalContext::new(&inv, Utc::now());
        match policies[0].rules()[0].evaluate(&bucket, &ctx) {
            Outcome::Fail { reason, details } => {
                assert_eq!(reason, "bucket logs has versioning Suspended {sic}");
                assert_eq!(details, json!("`versioning.status` ne \"Enabled\" (found \"Suspended\")"));
            }
            other => panic!("{other:?}"),
        }
        match policies[1].rules()[0].evaluate(&bucket, &ctx) {
            Outcome::Fail { reason, .. } => {
                assert!(reason.starts_with("does not satisfy `tags.Owner` exists"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(policies[1].rules()[1].evaluate(&bucket, &ctx), Outcome::Fail { .. }));
        let deleting = bucket.clone().with_attributes(json!({"state": "deleting"}));
        assert_eq!(policies[0].rules()[0].evaluate(&deleting, &ctx), Outcome::NotApplicable);
        let def = policies[0].rules()[0].definition().unwrap();
        assert_eq!(def["fail_when"], json!({"path": "versioning.status", "ne": "Enabled"}));
    }

    fn err(text: &str) -> (String, String) {
        match parse_policies("p.yaml", text) {
            Err(crate::Error::InvalidPolicy { path, reason, .. }) => (path, reason),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted: {text}"),
        }
    }

    #[test]
    fn malformed_policy_files_name_the_place() {
        let head = "policies:\n  - {id: a, name: A, severity: low, category: cost, resource: k, fail_when: {path: x, eq: 1}}\n";
        let (path, reason) = err(&format!(
            "{head}  - {{id: b, name: B, severity: low, category: cost, resource: k, fail_when: {{any: [{{path: x, eq: 1}}, {{path: y, regex: '[' }}]}}}}\n"
        ));
        assert_eq!(path, "policies[1].fail_when.any[1].regex", "{reason}");
        let (path, reason) = err(
            "policies: [{id: a, name: A, severity: urgent, category: cost, resource: k, fail_when: {path: x, eq: 1}}]",
        );
        assert_eq!(path, "policies[0].severity");
        assert!(reason.contains("unknown variant `urgent`"), "{reason}");
        let (path, reason) = err("policies: [{id: a, name: A, severity: low, category: cost, resource: k}]");
        assert_eq!((path.as_str(), reason.as_str()), ("policies[0]", "a rule needs `fail_when` or `pass_when`"));
        let (path, _) = err(
            "policies: [{id: a, name: A, severity: low, category: cost, resource: k, fail_when: {all: []}, reason: 'x {a..b}'}]",
        );
        assert_eq!(path, "policies[0].reason");
        let (path, reason) = err(&format!(
            "{head}  - {{id: a, name: A2, severity: low, category: cost, resource: k, fail_when: {{all: []}}}}\n"
        ));
        assert_eq!(path, "policies[1].id");
        assert!(reason.contains("duplicate policy `a`"));
        let (path, reason) =
            err("policies: [{id: a, name: A, severity: low, category: cost, resource: 5, fail_when: {all: []}}]");
        assert_eq!(path, "policies[0].resource", "{reason}");
        let (path, reason) =
            err("policies: [{id: a, name: A, severity: low, category: cost, resourse: k, fail_when: {all: []}}]");
        assert!(reason.contains("unknown field `resourse`"), "{path} {reason}");
        let (path, reason) = err(
            "policies: [{id: a, name: A, severity: low, category: cost, rules: [{id: r, resource: k, fail_when: {all: []}, pass_when: {all: []}}]}]",
        );
        assert_eq!(path, "policies[0].rules[0]");
        assert!(reason.contains("not both"));
        let (path, _) = err("policies:\n  - id: a\n    name: [unclosed\n");
        assert!(!path.is_empty());
    }
}
