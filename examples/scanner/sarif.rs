//! SARIF 2.1.0: one run, a rule per policy of the catalogue, a result per
//! violation located on its cloud resource (a logical location).

use std::collections::HashMap;

use pacbot::{Severity, Violation, ViolationStatus};
use serde_json::{Value, json};

use super::report::ReportData;

/// SARIF's level for a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub code scanning's `security-severity` (0–10) for a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

fn result(v: &Violation, index: Option<usize>) -> Value {
    let (kind, level) = match v.status {
        ViolationStatus::Open | ViolationStatus::Exempted => ("fail", level(v.severity)),
        ViolationStatus::Unknown => ("open", "none"),
        ViolationStatus::Closed => ("pass", "none"),
    };
    let a = &v.key.asset;
    let mut r = json!({
        "ruleId": v.key.policy_id,
        "kind": kind,
        "level": level,
        "message": {"text": v.reason},
        "locations": [{
            "logicalLocations": [{
                "name": a.resource_id,
                "fullyQualifiedName": a.to_string(),
                "kind": "resource"
            }]
        }],
        "partialFingerprints": {"pacbotViolation/v1": v.key.to_string()},
        "properties": {
            "status": v.status.as_str(),
            "rule": v.key.rule_id,
            "provider": a.provider,
            "account": a.account,
            "region": a.region,
            "resourceKind": a.kind.as_str(),
            "createdAt": v.created_at.to_rfc3339(),
            "modifiedAt": v.modified_at.to_rfc3339()
        }
    });
    if let (Some(i), Some(obj)) = (index, r.as_object_mut()) {
        obj.insert("ruleIndex".into(), json!(i));
    }
    if let (Some(id), Some(obj)) = (&v.exception_id, r.as_object_mut()) {
        obj.insert(
            "suppressions".into(),
            json!([{"kind": "external", "status": "accepted", "justification": format!("exception `{id}`")}]),
        );
    }
    r
}

/// The SARIF log of a report.
pub fn log(data: &ReportData) -> Value {
    let index: HashMap<&str, usize> = data.policies.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let rules: Vec<Value> = data
        .policies
        .iter()
        .map(|p| {
            let mut tags = vec!["security".to_owned(), p.category.as_str().to_owned()];
            tags.extend(p.frameworks.keys().cloned());
            tags.dedup();
            json!({
                "id": p.id,
                "name": p.name,
                "shortDescription": {"text": p.name},
                "fullDescription": {"text": if p.description.is_empty() { &p.name } else { &p.description }},
                "help": {"text": if p.resolution.is_empty() { "See the policy's description." } else { &p.resolution }},
                "defaultConfiguration": {"level": level(p.severity), "enabled": p.enabled},
                "properties": {
                    "category": p.category.as_str(),
                    "severity": p.severity.as_str(),
                    "security-severity": security_severity(p.severity),
                    "frameworks": p.frameworks,
                    "tags": tags
                }
            })
        })
        .collect();
    let results: Vec<Value> =
        data.violations.iter().map(|v| result(v, index.get(v.key.policy_id.as_str()).copied())).collect();
    let mut invocation = json!({"executionSuccessful": true, "endTimeUtc": data.generated_at.to_rfc3339()});
    if let (Some(s), Some(obj)) = (&data.scan, invocation.as_object_mut()) {
        obj.insert("startTimeUtc".into(), json!(s.started_at.to_rfc3339()));
        obj.insert("executionSuccessful".into(), json!(s.failed_scopes.is_empty()));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pacbot-scanner",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/pacbot-rs",
                "rules": rules
            }},
            "invocations": [invocation],
            "results": results,
            "properties": {"database": data.database, "group": data.group}
        }]
    })
}
