//! The AWS catalogue (feature `aws`): fixes and bots over EC2, S3 and IAM.
//!
//! [`catalogue`] holds the standard fixes; [`impactful::catalogue`] adds the
//! ones that destroy (delete a bucket, terminate an instance), for those who
//! opt in. Every fix plans and backs up by reading the API, is idempotent,
//! and declares the IAM actions it calls (see
//! [`crate::least_privilege_policy`]).
//!
//! Clients come from [`AwsSessions`]: the base `SdkConfig` (the credential
//! chain, or one pointed at an emulator with `endpoint_url`), used as is in
//! single-account mode, or to assume `arn:aws:iam::{account}:role/{role}`
//! in multi-account mode.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::Mutex;

use crate::bots::AccountMode;
use crate::error::{Error, Result};
use crate::fix::{Catalogue, FixTarget};

mod account;
mod ebs;
mod ec2;
mod iam;
pub mod impactful;
mod s3;
mod vpc;

/// Clients per (account, region), in single- or multi-account mode.
#[derive(Debug)]
pub struct AwsSessions {
    base: SdkConfig,
    accounts: AccountMode,
    assumed: Mutex<HashMap<String, SdkConfig>>,
}

impl AwsSessions {
    /// Sessions over a base configuration.
    #[must_use]
    pub fn new(base: SdkConfig, accounts: AccountMode) -> Arc<Self> {
        Arc::new(Self { base, accounts, assumed: Mutex::new(HashMap::new()) })
    }

    /// Sessions over the standard credential chain (environment, shared
    /// profile, SSO, instance role) in `region`, at `endpoint_url` when given
    /// (an emulator; `AWS_ENDPOINT_URL` is honoured as well).
    pub async fn from_env(region: &str, endpoint_url: Option<&str>, accounts: AccountMode) -> Arc<Self> {
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).region(Region::new(region.to_owned()));
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Self::new(loader.load().await, accounts)
    }

    async fn config(&self, target: &FixTarget) -> Result<SdkConfig> {
        let account = target.account();
        match &self.accounts {
            AccountMode::Single { account: own } if own == account => Ok(self.base.clone()),
            AccountMode::Single { account: own } => Err(Error::UnsupportedTarget {
                fix: "aws".to_owned(),
                target: target.asset.id.to_string(),
                reason: format!("account `{account}` is not this session's account `{own}`"),
            }),
            AccountMode::Multi { .. } => {
                let mut cache = self.assumed.lock().await;
                if let Some(c) = cache.get(account) {
                    return Ok(c.clone());
                }
                let arn = self.accounts.role_arn(account).unwrap_or_default();
                let provider = aws_config::sts::AssumeRoleProvider::builder(arn)
                    .session_name("pacbot-autofix")
                    .configure(&self.base)
                    .build()
                    .await;
                let conf =
                    self.base.to_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build();
                cache.insert(account.to_owned(), conf.clone());
                Ok(conf)
            }
        }
    }

    fn region(target: &FixTarget) -> Region {
        let r = target.region();
        Region::new(if r == "global" || r.is_empty() { "us-east-1".to_owned() } else { r.to_owned() })
    }

    /// An EC2 client for the target's account and region.
    pub async fn ec2(&self, target: &FixTarget) -> Result<aws_sdk_ec2::Client> {
        let conf = self.config(target).await?;
        let b = aws_sdk_ec2::config::Builder::from(&conf).region(Self::region(target));
        Ok(aws_sdk_ec2::Client::from_conf(b.build()))
    }

    /// An S3 client (path-style addressing with a custom endpoint).
    pub async fn s3(&self, target: &FixTarget) -> Result<aws_sdk_s3::Client> {
        let conf = self.config(target).await?;
        let path_style = conf.endpoint_url().is_some();
        let b = aws_sdk_s3::config::Builder::from(&conf).region(Self::region(target)).force_path_style(path_style);
        Ok(aws_sdk_s3::Client::from_conf(b.build()))
    }

    /// An S3 Control client (account-wide S3 settings).
    pub async fn s3control(&self, target: &FixTarget) -> Result<aws_sdk_s3control::Client> {
        let conf = self.config(target).await?;
        Ok(pacbot_aws::s3control_client(&conf, Self::region(target).as_ref()))
    }

    /// An IAM client.
    pub async fn iam(&self, target: &FixTarget) -> Result<aws_sdk_iam::Client> {
        let conf = self.config(target).await?;
        Ok(aws_sdk_iam::Client::new(&conf))
    }
}

/// The standard AWS fixes (nothing is deleted but rules, grants, statements,
/// an unused security group, unassociated addresses and unused keys).
pub fn catalogue(sessions: &Arc<AwsSessions>) -> Result<Catalogue> {
    let mut c = Catalogue::new();
    s3::register(&mut c, sessions)?;
    ec2::register(&mut c, sessions)?;
    iam::register(&mut c, sessions)?;
    account::register(&mut c, sessions)?;
    ebs::register(&mut c, sessions)?;
    vpc::register(&mut c, sessions)?;
    Ok(c)
}

/// The error code of a failed call, if the service sent one.
fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

/// An SDK error as ours: the call, the code and message, and whether a retry may help.
fn sdk<E>(operation: impl Into<String>) -> impl FnOnce(E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| {
        let c = e.code().unwrap_or_default().to_owned();
        let retryable =
            matches!(c.as_str(), "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "SlowDown")
                || c.is_empty();
        let message = match (e.code(), e.message()) {
            (Some(code), Some(m)) => format!("{code}: {m}"),
            (Some(code), None) => code.to_owned(),
            _ => aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        };
        Error::Provider { provider: "aws".to_owned(), operation: operation.into(), message, retryable }
    }
}

/// Declares a fix type holding the sessions.
macro_rules! aws_fix {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug)]
        pub(crate) struct $name(pub(crate) std::sync::Arc<crate::aws::AwsSessions>);
    )*};
}
pub(crate) use aws_fix;
