//! Shared by the moto tests: SDK configuration, a serialising lock, discovery.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use pacbot_aws::AwsConnector;
use pacbot_core::{Discovered, discover_all};

pub const ACCOUNT: &str = "123456789012";

static SERIAL: Mutex<()> = Mutex::new(());

/// Tests share one moto: they take turns (each resets it).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// SDK configuration for moto (or a proxy in front of it).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("AKIAIOSFODNN7EXAMPLE", "secret", None, None, "test"))
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await
}

/// [`sdk_config`] with the credentials of role `seeder` assumed in `account`
/// (moto answers each account's calls from its own state).
pub async fn assumed_config(endpoint: &str, account: &str) -> SdkConfig {
    let base = sdk_config(endpoint).await;
    let out = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/seeder"))
        .role_session_name("seed")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let creds =
        Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), None, "seed");
    base.into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// A connector for tests: fast retries; time-outs generous enough for a
/// loaded machine (moto creates an account's backends on first use).
pub fn connector(conf: SdkConfig, regions: &[&str]) -> pacbot_aws::AwsConnectorBuilder {
    AwsConnector::builder()
        .sdk_config(conf)
        .regions(regions.iter().copied())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
}

pub async fn discover(c: &AwsConnector) -> Discovered {
    discover_all(&[c]).await
}
