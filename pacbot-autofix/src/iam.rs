//! The least-privilege IAM policy for a set of enabled fixes and bots.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::bots::AccountMode;
use crate::error::{Error, Result};
use crate::fix::Catalogue;

/// The IAM policy document (JSON) allowing exactly the actions the named
/// fixes call — one statement per service, actions sorted — plus, in
/// multi-account mode, `sts:AssumeRole` on the bots' role in any account.
///
/// Fails with [`Error::UnknownFix`] for a key the catalogue lacks, and with
/// [`Error::InvalidConfig`] when no fix is named.
pub fn least_privilege_policy(catalogue: &Catalogue, keys: &[&str], accounts: Option<&AccountMode>) -> Result<Value> {
    if keys.is_empty() {
        return Err(Error::InvalidConfig { path: "fixes".to_owned(), reason: "name at least one fix".to_owned() });
    }
    let mut by_service: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for key in keys {
        for action in catalogue.get(key)?.info().permissions {
            let service = action.split(':').next().unwrap_or_default().to_owned();
            by_service.entry(service).or_default().insert(action);
        }
    }
    let mut statements: Vec<Value> = by_service
        .into_iter()
        .map(|(service, actions)| {
            let sid: String =
                service.chars().enumerate().map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c }).collect();
            json!({
                "Sid": format!("PacbotAutofix{sid}"),
                "Effect": "Allow",
                "Action": actions.into_iter().collect::<Vec<_>>(),
                "Resource": "*",
            })
        })
        .collect();
    if let Some(AccountMode::Multi { role_name }) = accounts {
        statements.push(json!({
            "Sid": "PacbotAutofixAssumeRole",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": format!("arn:aws:iam::*:role/{role_name}"),
        }));
    }
    Ok(json!({"Version": "2012-10-17", "Statement": statements}))
}
