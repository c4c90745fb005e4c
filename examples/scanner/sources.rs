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
            Source::Aws(_) => problems.push(unwired(loaded, i, "AWS", "aws")),
            Source::Azure(_) => problems.push(unwired(loaded, i, "Azure", "azure")),
        }
    }
    if problems.is_empty() { Ok((out, failed)) } else { Err(problems) }
}

/// A source whose connector this build cannot run yet.
fn unwired(loaded: &Loaded, index: usize, provider: &str, feature: &str) -> Problem {
    let built = match feature {
        "aws" => cfg!(feature = "aws"),
        _ => cfg!(feature = "azure"),
    };
    let reason = if built {
        format!("{provider} sources are checked but not wired yet: pacbot-{feature} has no connector to run")
    } else {
        format!(
            "{provider} sources need the {provider} connector: build with `--features {feature}` \
             (once pacbot-{feature} has its connector)"
        )
    };
    Problem::new(loaded.name(), format!("sources[{index}]"), reason)
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
