//! The AWS connector: accounts × regions, collected concurrently.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use pacbot_core::{Connector, CoverageScope, Discovery};

use crate::collect::Place;
use crate::error::{Error, chain};
use crate::shapes::kind;

/// Kinds collected once per account (region `global`).
const GLOBAL_KINDS: [&str; 7] = [
    kind::S3_ACCOUNT_SETTINGS,
    kind::USER,
    kind::GROUP,
    kind::ROLE,
    kind::POLICY,
    kind::PASSWORD_POLICY,
    kind::ACCOUNT_SUMMARY,
];

/// Kinds collected per region (buckets live in a region too).
const REGIONAL_KINDS: [&str; 10] = [
    kind::INSTANCE,
    kind::SECURITY_GROUP,
    kind::VOLUME,
    kind::SNAPSHOT,
    kind::VPC,
    kind::SUBNET,
    kind::ROUTE_TABLE,
    kind::ADDRESS,
    kind::EC2_ACCOUNT_SETTINGS,
    kind::BUCKET,
];

/// Discovers AWS resources across accounts and regions.
///
/// Build it with [`AwsConnector::builder`]. Its [`Connector::discover`]
/// stream must be polled inside a Tokio runtime (the AWS SDK's).
///
/// - **Accounts**: the caller's own (from the standard credential chain:
///   environment, profile, SSO, web identity, container or instance role), and
///   others through `sts:AssumeRole` of `arn:aws:iam::{account}:role/{role_name}`
///   with an optional external id.
/// - **Regions**: the ones given, or the configured default region.
/// - **Scopes**: every (account, region, kind) is reported `Complete` or
///   `Failed` (access denied, a service or region not enabled, throttled or
///   timed out after the retries); a failure never ends the scan.
/// - **Concurrency**: at most `concurrency` accounts being set up, scopes
///   being collected, and per-resource calls of one scope in flight.
/// - **Retries**: the SDK's retry configuration (adaptive by default: backoff
///   with jitter on throttling, time-outs and 5xx, and client-side rate
///   limiting once throttled).
#[derive(Clone, Debug)]
pub struct AwsConnector {
    settings: Settings,
}

#[derive(Clone, Debug)]
struct Settings {
    regions: Vec<String>,
    include_own: bool,
    accounts: Vec<String>,
    role_name: String,
    external_id: Option<String>,
    session_name: String,
    endpoint_url: Option<String>,
    concurrency: usize,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
    kinds: Option<BTreeSet<String>>,
    sdk_config: Option<SdkConfig>,
}

/// Builds an [`AwsConnector`].
#[derive(Clone, Debug)]
pub struct AwsConnectorBuilder {
    settings: Settings,
}

impl AwsConnector {
    /// A builder with the defaults: the caller's account, the default region,
    /// role `pacbot_ro` for other accounts, concurrency 8, adaptive retries
    /// (5 attempts), 60 s per operation.
    #[must_use]
    pub fn builder() -> AwsConnectorBuilder {
        AwsConnectorBuilder {
            settings: Settings {
                regions: Vec::new(),
                include_own: true,
                accounts: Vec::new(),
                role_name: "pacbot_ro".into(),
                external_id: None,
                session_name: "pacbot".into(),
                endpoint_url: None,
                concurrency: 8,
                retry: RetryConfig::adaptive().with_max_attempts(5),
                timeouts: TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(60))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .connect_timeout(Duration::from_secs(5))
                    .build(),
                kinds: None,
                sdk_config: None,
            },
        }
    }

    /// The kinds this connector collects.
    #[must_use]
    pub fn kinds(&self) -> Vec<&str> {
        kind::ALL.into_iter().filter(|k| self.settings.wants(k)).collect()
    }
}

impl AwsConnectorBuilder {
    /// The regions to scan (default: the configured default region).
    #[must_use]
    pub fn regions<S: Into<String>>(mut self, regions: impl IntoIterator<Item = S>) -> Self {
        self.settings.regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Other accounts to scan, through `sts:AssumeRole`.
    #[must_use]
    pub fn accounts<S: Into<String>>(mut self, accounts: impl IntoIterator<Item = S>) -> Self {
        self.settings.accounts = accounts.into_iter().map(Into::into).collect();
        self
    }

    /// Whether to scan the caller's own account (default: yes).
    #[must_use]
    pub fn include_own_account(mut self, yes: bool) -> Self {
        self.settings.include_own = yes;
        self
    }

    /// The role assumed in other accounts (default `pacbot_ro`).
    #[must_use]
    pub fn role_name(mut self, name: impl Into<String>) -> Self {
        self.settings.role_name = name.into();
        self
    }

    /// The external id the role's trust policy requires.
    #[must_use]
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.settings.external_id = Some(id.into());
        self
    }

    /// The session name of assumed roles (default `pacbot`).
    #[must_use]
    pub fn session_name(mut self, name: impl Into<String>) -> Self {
        self.settings.session_name = name.into();
        self
    }

    /// An endpoint for every service (an emulator, a proxy). `AWS_ENDPOINT_URL`
    /// in the environment does the same. S3 is then addressed path-style.
    #[must_use]
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.settings.endpoint_url = Some(url.into());
        self
    }

    /// How many scopes (and per-resource calls of a scope) run at once (default 8).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.settings.concurrency = n;
        self
    }

    /// The SDK retry configuration (default: adaptive, 5 attempts).
    #[must_use]
    pub fn retry_config(mut self, retry: RetryConfig) -> Self {
        self.settings.retry = retry;
        self
    }

    /// The SDK time-outs (default: 60 s per operation, 20 s per attempt, 5 s to connect).
    #[must_use]
    pub fn timeout_config(mut self, timeouts: TimeoutConfig) -> Self {
        self.settings.timeouts = timeouts;
        self
    }

    /// Collect only these kinds (default: all of [`kind::ALL`]).
    #[must_use]
    pub fn kinds<S: Into<String>>(mut self, kinds: impl IntoIterator<Item = S>) -> Self {
        self.settings.kinds = Some(kinds.into_iter().map(Into::into).collect());
        self
    }

    /// Start from this SDK configuration instead of loading the standard
    /// chain (its credentials, region, HTTP client; the retry and time-out
    /// settings of this builder still apply).
    #[must_use]
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.settings.sdk_config = Some(config);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting: an unknown kind, an account id
    /// that is not 12 digits, an empty role name, a concurrency of 0, no
    /// account at all.
    pub fn build(self) -> Result<AwsConnector, Error> {
        let s = &self.settings;
        if s.concurrency == 0 {
            return Err(Error::Config("`concurrency` must be at least 1".into()));
        }
        if !s.include_own && s.accounts.is_empty() {
            return Err(Error::Config(
                "no account to scan: the own account is excluded and `accounts` is empty".into(),
            ));
        }
        for a in &s.accounts {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Config(format!("account `{a}` is not a 12-digit AWS account id")));
            }
        }
        if !s.accounts.is_empty() && s.role_name.trim().is_empty() {
            return Err(Error::Config("`role_name` is empty".into()));
        }
        if let Some(kinds) = &s.kinds {
            for k in kinds {
                if !kind::ALL.contains(&k.as_str()) {
                    return Err(Error::Config(format!("unknown kind `{k}` (known: {})", kind::ALL.join(", "))));
                }
            }
        }
        for r in &s.regions {
            if r.is_empty() || !r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(Error::Config(format!("`{r}` is not a region name")));
            }
        }
        Ok(AwsConnector { settings: self.settings })
    }
}

impl Settings {
    fn wants(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(kind))
    }

    async fn base_config(&self) -> SdkConfig {
        let loaded = match &self.sdk_config {
            Some(c) => c.clone(),
            None => {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(r) = self.regions.first() {
                    loader = loader.region(Region::new(r.clone()));
                }
                if let Some(u) = &self.endpoint_url {
                    loader = loader.endpoint_url(u);
                }
                loader.load().await
            }
        };
        let mut b = loaded.into_builder();
        b.set_retry_config(Some(self.retry.clone()));
        b.set_timeout_config(Some(self.timeouts.clone()));
        if let (Some(u), true) = (&self.endpoint_url, self.sdk_config.is_some()) {
            b.set_endpoint_url(Some(u.clone()));
        }
        b.build()
    }

    /// Failed events for every wanted scope of an account.
    fn all_failed(&self, account: &str, regions: &[String], error: &str) -> Vec<Discovery> {
        let mut out = Vec::new();
        for k in REGIONAL_KINDS.into_iter().filter(|k| self.wants(k)) {
            for r in regions {
                out.push(Discovery::Failed {
                    scope: CoverageScope::new("aws", account, r, k),
                    error: error.to_owned(),
                });
            }
        }
        for k in GLOBAL_KINDS.into_iter().filter(|k| self.wants(k)) {
            out.push(Discovery::Failed {
                scope: CoverageScope::new("aws", account, "global", k),
                error: error.to_owned(),
            });
        }
        out
    }
}

type Unit<'a> = BoxFuture<'a, Vec<Discovery>>;

impl AwsConnector {
    /// The units of work of every account.
    async fn plan(&self) -> Vec<BoxFuture<'_, Vec<Unit<'_>>>> {
        let s = &self.settings;
        let base = s.base_config().await;
        let regions: Vec<String> = if s.regions.is_empty() {
            base.region().map(|r| vec![r.to_string()]).unwrap_or_default()
        } else {
            s.regions.clone()
        };
        let mut out: Vec<BoxFuture<'_, Vec<Unit<'_>>>> = Vec::new();
        if regions.is_empty() {
            let error = Error::Config("no region: give regions or configure a default region".into()).to_string();
            out.push(futures::future::ready(vec![failed_unit(s.all_failed("self", &[], &error))]).boxed());
            return out;
        }
        if s.include_own {
            let (base, regions) = (base.clone(), regions.clone());
            out.push(
                async move {
                    match own_account(&base).await {
                        Ok(id) => self.units(id, base, regions),
                        Err(e) => vec![failed_unit(s.all_failed("self", &regions, &e.to_string()))],
                    }
                }
                .boxed(),
            );
        }
        for account in s.accounts.clone() {
            let (base, regions) = (base.clone(), regions.clone());
            out.push(
                async move {
                    match self.assume(&base, &account).await {
                        Ok(conf) => self.units(account, conf, regions),
                        Err(e) => vec![failed_unit(s.all_failed(&account, &regions, &e.to_string()))],
                    }
                }
                .boxed(),
            );
        }
        out
    }

    async fn assume(&self, base: &SdkConfig, account: &str) -> Result<SdkConfig, Error> {
        let s = &self.settings;
        let arn = format!("arn:aws:iam::{account}:role/{}", s.role_name);
        let mut b = AssumeRoleProvider::builder(&arn).session_name(&s.session_name).configure(base);
        if let Some(id) = &s.external_id {
            b = b.external_id(id);
        }
        let provider = AssumedRole::new(b.build().await);
        // Assume once now, so that a refused role fails the account once; the
        // credentials are then shared by every client of the account.
        provider.provide_credentials().await.map_err(|e| Error::Credentials {
            account: account.to_owned(),
            message: format!("cannot assume `{arn}`: {}", chain(&e)),
        })?;
        Ok(base.to_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build())
    }

    /// The units of one account: EC2 per region, S3 buckets, S3 account
    /// settings, IAM.
    fn units(&self, account: String, conf: SdkConfig, regions: Vec<String>) -> Vec<Unit<'_>> {
        let s = &self.settings;
        let conc = s.concurrency;
        let mut units: Vec<Unit<'_>> = Vec::new();
        let ec2_kinds = REGIONAL_KINDS.iter().any(|k| *k != kind::BUCKET && s.wants(k));
        if ec2_kinds {
            for r in &regions {
                let client = ec2_client(&conf, r);
                let place = Place::new(&account, r);
                units.push(
                    async move {
                        let wants = |k: &str| k != kind::BUCKET && s.wants(k);
                        crate::ec2::collect(&client, &place, &wants, conc).await
                    }
                    .boxed(),
                );
            }
        }
        let path_style = conf.endpoint_url().is_some();
        if s.wants(kind::BUCKET) {
            let clients: HashMap<String, aws_sdk_s3::Client> =
                regions.iter().map(|r| (r.clone(), s3_client(&conf, r, path_style))).collect();
            let list_client = s3_client(&conf, &regions[0], path_style);
            let (account, regions) = (account.clone(), regions.clone());
            units.push(
                async move { crate::s3::collect_buckets(&list_client, &clients, &account, &regions, conc).await }
                    .boxed(),
            );
        }
        if s.wants(kind::S3_ACCOUNT_SETTINGS) {
            let client = s3control_client(&conf, &regions[0]);
            let account = account.clone();
            units.push(async move { crate::s3::collect_account(&client, &account).await }.boxed());
        }
        let iam_kinds =
            [kind::USER, kind::GROUP, kind::ROLE, kind::POLICY, kind::PASSWORD_POLICY, kind::ACCOUNT_SUMMARY];
        if iam_kinds.iter().any(|k| s.wants(k)) {
            let client = aws_sdk_iam::Client::new(&conf.to_builder().region(Region::new(regions[0].clone())).build());
            units.push(
                async move {
                    let wants = |k: &str| s.wants(k);
                    crate::iam::collect(&client, &account, &wants, conc).await
                }
                .boxed(),
            );
        }
        units
    }
}

/// The credentials of one assumed role, shared by every client (regions,
/// services) of its account for the scan: `AssumeRole` is called once, and
/// again only when the credentials are about to expire. (The SDK's own
/// identity cache is per client, so each client would assume the role anew.)
#[derive(Debug)]
struct AssumedRole {
    provider: AssumeRoleProvider,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

/// Credentials closer than this to their expiry are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

impl AssumedRole {
    fn new(provider: AssumeRoleProvider) -> Self {
        Self { provider, current: tokio::sync::Mutex::new(None) }
    }

    async fn credentials(&self) -> aws_credential_types::provider::Result {
        // One caller at a time: the others wait for its answer instead of
        // assuming the role too.
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref() {
            let fresh = c.expiry().is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE);
            if fresh {
                return Ok(c.clone());
            }
        }
        let c = self.provider.provide_credentials().await?;
        *current = Some(c.clone());
        Ok(c)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(self.credentials())
    }
}

fn failed_unit<'a>(events: Vec<Discovery>) -> Unit<'a> {
    futures::future::ready(events).boxed()
}

async fn own_account(conf: &SdkConfig) -> Result<String, Error> {
    let client = aws_sdk_sts::Client::new(conf);
    let out = client.get_caller_identity().send().await.map_err(|e| Error::Credentials {
        account: "self".into(),
        message: format!("GetCallerIdentity failed: {}", chain(&e)),
    })?;
    out.account().map(str::to_owned).ok_or_else(|| Error::Credentials {
        account: "self".into(),
        message: "GetCallerIdentity returned no account".into(),
    })
}

fn ec2_client(conf: &SdkConfig, region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(conf).region(Region::new(region.to_owned())).build(),
    )
}

fn s3_client(conf: &SdkConfig, region: &str, path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .region(Region::new(region.to_owned()))
            .force_path_style(path_style)
            .build(),
    )
}

/// An S3 Control client for `conf` in `region`.
///
/// S3 Control addresses `{account}.{endpoint}`: with a custom endpoint (an
/// emulator on `127.0.0.1`) that host does not resolve, so the endpoint is
/// used as it is (the account travels in the `x-amz-account-id` header).
/// Public for the auto-fix catalogue, which writes what this crate reads.
#[must_use]
pub fn s3control_client(conf: &SdkConfig, region: &str) -> aws_sdk_s3control::Client {
    let mut b = aws_sdk_s3control::config::Builder::from(conf).region(Region::new(region.to_owned()));
    if let Some(url) = conf.endpoint_url() {
        b = b.endpoint_resolver(FixedEndpoint(url.to_owned()));
    }
    aws_sdk_s3control::Client::from_conf(b.build())
}

#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(aws_smithy_types::endpoint::Endpoint::builder()
            .url(self.0.clone())
            .build()))
    }
}

impl Connector for AwsConnector {
    fn name(&self) -> &str {
        "aws"
    }

    fn discover(&self) -> BoxStream<'_, Discovery> {
        let conc = self.settings.concurrency.max(1);
        stream::once(self.plan())
            .flat_map(stream::iter)
            .buffer_unordered(conc)
            .flat_map(stream::iter)
            .buffer_unordered(conc)
            .flat_map(stream::iter)
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let e = |b: AwsConnectorBuilder| b.build().unwrap_err().to_string();
        assert!(e(AwsConnector::builder().concurrency(0)).contains("`concurrency`"));
        assert!(e(AwsConnector::builder().accounts(["12"])).contains("`12` is not a 12-digit"));
        assert!(e(AwsConnector::builder().kinds(["aws.ec2.instanse"])).contains("unknown kind `aws.ec2.instanse`"));
        assert!(e(AwsConnector::builder().include_own_account(false)).contains("no account"));
        assert!(e(AwsConnector::builder().regions(["EU West"])).contains("`EU West` is not a region"));
        let c = AwsConnector::builder().kinds([kind::BUCKET, kind::USER]).build().unwrap();
        assert_eq!(c.kinds(), [kind::BUCKET, kind::USER]);
    }
}
