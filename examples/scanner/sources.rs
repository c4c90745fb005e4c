//! Sources: the connectors a configuration names, and discovery with progress.

use futures::StreamExt;
use pacbot::{Connector, Coverage, CoverageScope, Discovery, Inventory, JsonInventory};

use super::config::{Loaded, Problem, Source};

/// What discovery found.
#[derive(Debug, Default)]
pub struct Found {
    pub inventory: Inventory,
    pub coverage: Coverage,
    /// Sources that could not be read at all: (source, why).
    pub failed_sources: Vec<(String, String)>,
}

/// The connectors of a configuration.
pub type Connectors = Vec<Box<dyn Connector>>;

/// Sources that could not be read: (source, why).
pub type Unreadable = Vec<(String, String)>;

/// The connectors of the configured sources. Sources that cannot be read
/// are returned as failures (the scan goes on with the others); sources that
/// this build cannot run are problems of the configuration.
pub fn connectors(loaded: &Loaded) -> Result<(Connectors, Unreadable), Vec<Problem>> {
    let mut out: Vec<Box<dyn Connector>> = Vec::new();
    let mut failed = Vec::new();
    let mut problems = Vec::new();
    for (i, source) in loaded.config.sources.iter().enumerate() {
        match source {
            Source::Json(j) => match loaded.read(&j.path) {
                Ok((name, text)) => match JsonInventory::parse(&name, &text) {
                    Ok(inv) => out.push(Box::new(inv)),
                    Err(e) => failed.push((name, e.to_string())),
                },
                Err(e) => failed.push((j.path.clone(), e)),
            },
            #[cfg(feature = "aws")]
            Source::Aws(a) => match aws(a) {
                Ok(c) => out.push(Box::new(c)),
                Err(reason) => problems.push(Problem::new(loaded.name(), format!("sources[{i}]"), reason)),
            },
            #[cfg(not(feature = "aws"))]
            Source::Aws(_) => problems.push(unbuilt(loaded, i, "AWS", "aws")),
            #[cfg(feature = "azure")]
            Source::Azure(z) => match azure(z) {
                Ok(c) => out.push(Box::new(c)),
                Err((field, reason)) => {
                    problems.push(Problem::new(loaded.name(), format!("sources[{i}]{field}"), reason))
                }
            },
            #[cfg(not(feature = "azure"))]
            Source::Azure(_) => problems.push(unbuilt(loaded, i, "Azure", "azure")),
        }
    }
    if problems.is_empty() { Ok((out, failed)) } else { Err(problems) }
}

/// The AWS connector of an `aws` source.
#[cfg(feature = "aws")]
fn aws(a: &super::config::AwsSource) -> Result<pacbot::aws::AwsConnector, String> {
    let mut b = pacbot::aws::AwsConnector::builder().regions(a.regions.iter().cloned());
    if let Some(profile) = &a.profile
        && std::env::var("AWS_PROFILE").ok().as_deref() != Some(profile.as_str())
    {
        // The standard chain reads the profile from the environment.
        return Err(format!("profile `{profile}` is read from the environment: set `AWS_PROFILE={profile}`"));
    }
    if let Some(arn) = &a.role_arn {
        // Checked by the configuration: `arn:aws:iam::ACCOUNT:role/NAME`.
        let Some((account, role)) = arn.split_once(":role/") else {
            return Err(format!("`{arn}` is not a role ARN"));
        };
        let account = account.rsplit(':').next().unwrap_or_default();
        let mut accounts = a.accounts.clone();
        if accounts.is_empty() && account != "{account}" {
            accounts.push(account.to_owned());
        }
        // The role is assumed in the named accounts; the credentials' own
        // account is scanned only when none is named.
        b = b.role_name(role).include_own_account(accounts.is_empty()).accounts(accounts);
    }
    if let Some(id) = &a.external_id {
        b = b.external_id(id);
    }
    if let Some(url) = &a.endpoint_url {
        b = b.endpoint_url(url);
    }
    b.build().map_err(|e| e.to_string())
}

/// The Azure connector of an `azure` source: (field, reason) on failure.
#[cfg(feature = "azure")]
fn azure(z: &super::config::AzureSource) -> Result<pacbot::azure::AzureConnector, (String, String)> {
    use std::sync::Arc;

    use pacbot::azure::{
        AzureConfig, AzureConnector, ChainedCredential, ClientSecretCredential, Tenant, TokenCredential,
    };

    let tenant_id = z.tenant.clone().unwrap_or_else(|| "organizations".into());
    let credential: Arc<dyn TokenCredential> = match (&z.client_id, &z.client_secret_env) {
        (Some(client), Some(var)) => {
            let secret = std::env::var(var).map_err(|_| {
                (".client_secret_env".to_owned(), format!("the environment variable `{var}` is not set"))
            })?;
            let mut c = ClientSecretCredential::new(&tenant_id, client, secret);
            if let Some(authority) = &z.authority {
                c = c.with_authority(authority);
            }
            Arc::new(c)
        }
        (Some(_), None) => {
            return Err((".client_secret_env".into(), "a `client_id` needs `client_secret_env`".into()));
        }
        (None, Some(_)) => return Err((".client_id".into(), "`client_secret_env` needs a `client_id`".into())),
        (None, None) => Arc::new(ChainedCredential::cli_then_managed_identity()),
    };
    let tenant = Tenant::new(tenant_id, credential).with_subscriptions(z.subscriptions.iter().cloned());
    let mut config = AzureConfig::new(vec![tenant]);
    if let Some(endpoint) = &z.arm_endpoint {
        config = config.with_arm_endpoint(endpoint);
    }
    AzureConnector::new(config).map_err(|e| (String::new(), e.to_string()))
}

/// A source whose connector this build does not have.
#[cfg(not(all(feature = "aws", feature = "azure")))]
fn unbuilt(loaded: &Loaded, index: usize, provider: &str, feature: &str) -> Problem {
    Problem::new(
        loaded.name(),
        format!("sources[{index}]"),
        format!("{provider} sources need the {provider} connector: build with `--features {feature}`"),
    )
}

/// Runs the connectors one after the other, counting assets on `bar`.
pub async fn discover(
    connectors: &[Box<dyn Connector>],
    failed_sources: Vec<(String, String)>,
    bar: &indicatif::ProgressBar,
) -> Found {
    let mut found = Found { failed_sources, ..Found::default() };
    for c in connectors {
        bar.set_message(c.name().to_owned());
        let mut events = c.discover();
        while let Some(event) = events.next().await {
            match event {
                Discovery::Asset(a) => {
                    found.inventory.insert(*a);
                    bar.inc(1);
                }
                Discovery::Complete(scope) => found.coverage.complete(scope),
                Discovery::Failed { scope, error } => {
                    tracing::warn!(source = c.name(), %scope, %error, "collection failed");
                    found.coverage.fail(scope, error);
                }
            }
        }
    }
    // A source that could not be read at all is recorded as a failed scope of
    // its own, so the scan is stored as partial and says which.
    for (source, error) in &found.failed_sources {
        tracing::error!(%source, %error, "source failed");
        found.coverage.fail(CoverageScope::new("file", source.as_str(), "global", "inventory"), error.clone());
    }
    found
}
