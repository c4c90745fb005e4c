//! The Azure connector: tenants, subscriptions, and coverage per
//! (subscription, location, kind).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use pacbot_core::{Connector, Coverage, CoverageScope, Discovery, ScopeStatus};

use crate::arm::{AZURE_PUBLIC_ARM, Arm, Counters, RetryConfig, Stats};
use crate::credential::{Cached, TokenCredential};
use crate::error::Error;
use crate::services::{self, Found, Scope};
use crate::shapes::{kind, normalize_location};

const SUBSCRIPTIONS_API: &str = "2022-12-01";

/// The region of a failed scope whose subscription's locations are unknown:
/// every location.
pub const EVERY_LOCATION: &str = "*";

/// The kind of the coverage scope recorded when a tenant's subscriptions
/// cannot be listed (its account is `tenant:{id}`).
pub const SUBSCRIPTION_LIST: &str = "azure.subscription";

/// One tenant: a credential and the subscriptions to scan.
#[derive(Clone)]
pub struct Tenant {
    /// The tenant id (or domain).
    pub tenant_id: String,
    /// Where tokens come from.
    pub credential: Arc<dyn TokenCredential>,
    /// Subscription ids; empty for every subscription the credential can see.
    pub subscriptions: Vec<String>,
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("tenant_id", &self.tenant_id)
            .field("credential", &self.credential)
            .field("subscriptions", &self.subscriptions)
            .finish()
    }
}

impl Tenant {
    /// A tenant whose every visible subscription is scanned.
    pub fn new(tenant_id: impl Into<String>, credential: Arc<dyn TokenCredential>) -> Self {
        Self { tenant_id: tenant_id.into(), credential, subscriptions: Vec::new() }
    }

    /// Scans only these subscriptions.
    #[must_use]
    pub fn with_subscriptions<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.subscriptions = ids.into_iter().map(Into::into).collect();
        self
    }
}

/// What to scan and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AzureConfig {
    /// The tenants.
    pub tenants: Vec<Tenant>,
    /// The Resource Manager endpoint (`https://management.azure.com`;
    /// `https://management.usgovcloudapi.net`, `https://management.chinacloudapi.cn`,
    /// a test server). Tokens are requested for `{endpoint}/.default`.
    pub arm_endpoint: String,
    /// Retries of throttled and failed requests.
    pub retry: RetryConfig,
    /// How many subscriptions are scanned at once.
    pub concurrency: usize,
}

impl AzureConfig {
    /// The public cloud, default retries, four subscriptions at once.
    #[must_use]
    pub fn new(tenants: Vec<Tenant>) -> Self {
        Self { tenants, arm_endpoint: AZURE_PUBLIC_ARM.into(), retry: RetryConfig::default(), concurrency: 4 }
    }

    /// Uses another Resource Manager endpoint.
    #[must_use]
    pub fn with_arm_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.arm_endpoint = endpoint.into();
        self
    }

    /// Uses other retry settings.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Scans this many subscriptions at once (at least one).
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// Discovers Azure resources of every configured tenant and subscription.
///
/// A failure never fails the scan: a subscription that cannot be read (403),
/// a kind whose listing keeps failing (500s after every retry), a storage
/// account whose containers cannot be listed — each is recorded as failed
/// coverage for the scopes it concerns, and the rest is collected.
#[derive(Debug)]
pub struct AzureConnector {
    tenants: Vec<(Tenant, Arm)>,
    retry: RetryConfig,
    counters: Arc<Counters>,
    concurrency: usize,
}

impl AzureConnector {
    /// A connector for the configuration.
    ///
    /// # Errors
    /// When there is no tenant, a tenant has no id, or the endpoint is not an
    /// `http(s)` URL.
    pub fn new(config: AzureConfig) -> Result<Self, Error> {
        let bad = |field: String, reason: String| Error::InvalidConfig { field, reason };
        if config.tenants.is_empty() {
            return Err(bad("tenants".into(), "name at least one tenant".into()));
        }
        let endpoint = azure_core::Url::parse(&config.arm_endpoint)
            .map_err(|e| bad("arm_endpoint".into(), format!("`{}` is not a URL: {e}", config.arm_endpoint)))?;
        if !matches!(endpoint.scheme(), "https" | "http") {
            return Err(bad("arm_endpoint".into(), format!("`{}` is not an http(s) URL", config.arm_endpoint)));
        }
        let counters = Arc::new(Counters::default());
        let mut tenants = Vec::new();
        for (i, t) in config.tenants.into_iter().enumerate() {
            if t.tenant_id.trim().is_empty() {
                return Err(bad(format!("tenants[{i}].tenant_id"), "the tenant id is empty".into()));
            }
            let cached = Arc::new(Cached::new(t.credential.clone(), &t.tenant_id));
            let arm = Arm::new(&endpoint, cached, &config.retry, &counters);
            tenants.push((t, arm));
        }
        Ok(Self { tenants, retry: config.retry, counters, concurrency: config.concurrency.max(1) })
    }

    /// Requests and retries sent so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        use std::sync::atomic::Ordering::Relaxed;
        Stats { requests: self.counters.requests.load(Relaxed), retries: self.counters.retries.load(Relaxed) }
    }

    /// The subscriptions of a tenant: the configured ones, or every one the
    /// credential sees (except disabled and deleted ones).
    async fn subscriptions(&self, tenant: &Tenant, arm: &Arm) -> Result<Vec<String>, Error> {
        if !tenant.subscriptions.is_empty() {
            return Ok(tenant.subscriptions.clone());
        }
        let subs = arm.list("/subscriptions", SUBSCRIPTIONS_API).await?;
        Ok(subs
            .iter()
            .filter(|s| !matches!(services::str_at(s, "/state").as_deref(), Some("Disabled" | "Deleted")))
            .filter_map(|s| services::str_at(s, "/subscriptionId"))
            .collect())
    }

    /// Everything about one subscription, as discovery events.
    async fn scan(&self, arm: &Arm, subscription: &str) -> Vec<Discovery> {
        let scope = Scope { arm, subscription, counters: &self.counters, retry: &self.retry };
        let locations =
            arm.list(&format!("/subscriptions/{subscription}/locations"), SUBSCRIPTIONS_API).await.ok().map(|ls| {
                ls.iter().filter_map(|l| services::str_at(l, "/name")).map(|n| normalize_location(&n)).collect()
            });
        let (groups, storage, compute, network, sql, vaults) = futures::join!(
            services::resources::collect(&scope),
            services::storage::collect(&scope),
            services::compute::collect(&scope),
            services::network::collect(&scope),
            services::sql::collect(&scope),
            services::keyvault::collect(&scope),
        );
        let mut found = groups;
        for f in [storage, compute, network, sql, vaults] {
            found.extend(f);
        }
        events(subscription, locations, found)
    }
}

/// The events of one subscription's collection: its assets, then the
/// coverage of every (location, kind).
///
/// Every kind is complete in every location of the subscription (and
/// `global`, and wherever an asset was found), except where a failure says
/// otherwise: a failure of a kind's whole listing fails the kind in every
/// location (and in [`EVERY_LOCATION`] when the subscription's locations are
/// unknown), a failure about one resource fails its location only.
fn events(subscription: &str, locations: Option<BTreeSet<String>>, found: Found) -> Vec<Discovery> {
    let account = subscription.to_lowercase();
    let locations_known = locations.is_some();
    let mut known = locations.unwrap_or_default();
    known.insert("global".into());
    known.extend(found.assets.iter().map(|a| a.id.region.clone()));
    known.extend(found.failures.iter().filter_map(|f| f.location.clone()));
    let scope = |loc: &str, k: &str| CoverageScope::new("azure", &account, loc, k);
    let mut coverage = Coverage::new();
    for f in &found.failures {
        let error = f.error.to_string();
        match &f.location {
            Some(l) => coverage.fail(scope(l, f.kind), error),
            None => {
                for l in &known {
                    coverage.fail(scope(l, f.kind), error.clone());
                }
                if !locations_known {
                    coverage.fail(scope(EVERY_LOCATION, f.kind), error);
                }
            }
        }
    }
    for k in kind::ALL {
        for l in &known {
            coverage.complete(scope(l, k));
        }
    }
    let mut out: Vec<Discovery> = found.assets.into_iter().map(|a| Discovery::Asset(Box::new(a))).collect();
    out.extend(coverage.scopes().map(|(s, st)| match st {
        ScopeStatus::Complete => Discovery::Complete(s.clone()),
        ScopeStatus::Failed { error } => Discovery::Failed { scope: s.clone(), error: error.clone() },
    }));
    out
}

enum Job<'a> {
    Scan(&'a Arm, String),
    Failed(Discovery),
}

impl Connector for AzureConnector {
    fn name(&self) -> &str {
        "azure"
    }

    fn discover(&self) -> BoxStream<'_, Discovery> {
        let jobs = stream::iter(self.tenants.iter())
            .then(move |(t, arm)| async move { (t, arm, self.subscriptions(t, arm).await) })
            .flat_map(|(t, arm, subs)| match subs {
                Ok(subs) => stream::iter(subs.into_iter().map(|s| Job::Scan(arm, s)).collect::<Vec<_>>()),
                Err(e) => stream::iter(vec![Job::Failed(Discovery::Failed {
                    scope: CoverageScope::new("azure", format!("tenant:{}", t.tenant_id), "global", SUBSCRIPTION_LIST),
                    error: e.to_string(),
                })]),
            });
        jobs.map(move |job| async move {
            match job {
                Job::Scan(arm, s) => self.scan(arm, &s).await,
                Job::Failed(event) => vec![event],
            }
        })
        .buffer_unordered(self.concurrency)
        .flat_map(stream::iter)
        .boxed()
    }
}
