//! OCSF 1.5.0 Compliance Finding events (class 2003, with the `cloud`
//! profile): one per violation.

use pacbot::{PolicyMeta, Severity, Violation, ViolationStatus};
use serde_json::{Value, json};

use super::report::ReportData;

/// The OCSF schema version written.
pub const VERSION: &str = "1.5.0";

fn severity_id(s: Severity) -> u8 {
    match s {
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// OCSF's cloud provider name.
fn provider(p: &str) -> String {
    match p {
        "aws" => "AWS".into(),
        "azure" => "Azure".into(),
        "gcp" => "GCP".into(),
        other => other.to_owned(),
    }
}

fn finding(v: &Violation, meta: Option<&PolicyMeta>, data: &ReportData) -> Value {
    // Activity: 1 create (first seen this scan), 3 close, 2 update otherwise.
    let activity_id: u32 = match v.status {
        ViolationStatus::Closed => 3,
        _ if v.created_at == v.modified_at => 1,
        _ => 2,
    };
    // Finding status: 1 new, 3 suppressed, 4 resolved, 99 other; compliance status: 1 pass, 3 fail, 0 unknown.
    let (status_id, status, compliance_status_id, compliance_status) = match v.status {
        ViolationStatus::Open => (1, "New", 3, "Fail"),
        ViolationStatus::Exempted => (3, "Suppressed", 3, "Fail"),
        ViolationStatus::Closed => (4, "Resolved", 1, "Pass"),
        ViolationStatus::Unknown => (99, "Unknown", 0, "Unknown"),
    };
    let a = &v.key.asset;
    let title = meta.map_or(v.key.policy_id.as_str(), |m| m.name.as_str());
    let mut standards: Vec<&str> = Vec::new();
    let mut requirements: Vec<String> = Vec::new();
    if let Some(m) = meta {
        for (framework, controls) in &m.frameworks {
            standards.push(framework);
            requirements.extend(controls.iter().map(|c| format!("{framework} {c}")));
        }
    }
    let mut event = json!({
        "activity_id": activity_id,
        "category_uid": 2,
        "class_uid": 2003,
        "type_uid": 2003 * 100 + activity_id,
        "severity_id": severity_id(v.severity),
        "severity": match v.severity {
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        },
        "status_id": status_id,
        "status": status,
        "time": data.generated_at.timestamp_millis(),
        "message": v.reason,
        "metadata": {
            "version": VERSION,
            "profiles": ["cloud"],
            "product": {"name": "pacbot scanner", "vendor_name": "pacbot-rs", "version": env!("CARGO_PKG_VERSION")},
            "uid": v.key.to_string()
        },
        "cloud": {"provider": provider(&a.provider), "region": a.region, "account": {"uid": a.account}},
        "finding_info": {
            "uid": v.key.to_string(),
            "title": title,
            "desc": v.reason,
            "created_time": v.created_at.timestamp_millis(),
            "modified_time": v.modified_at.timestamp_millis(),
            "types": [v.category.as_str()],
            "product_uid": v.key.policy_id
        },
        "compliance": {
            "control": v.key.policy_id,
            "standards": standards,
            "requirements": requirements,
            "status_id": compliance_status_id,
            "status": compliance_status
        },
        "resources": [{
            "uid": a.resource_id,
            "type": a.kind.as_str(),
            "region": a.region
        }],
        "unmapped": {"rule_id": v.key.rule_id, "exception_id": v.exception_id}
    });
    if let (Some(m), Some(obj)) = (meta.filter(|m| !m.resolution.is_empty()), event.as_object_mut()) {
        obj.insert("remediation".into(), json!({"desc": m.resolution}));
    }
    event
}

/// The findings of a report, as one JSON array.
pub fn findings(data: &ReportData) -> Value {
    Value::Array(data.violations.iter().map(|v| finding(v, data.policy(&v.key.policy_id), data)).collect())
}
