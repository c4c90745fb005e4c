#![doc = include_str!("../README.md")]

pub use pacbot_core::*;

/// Persistence: the `Store` trait and its backends (memory always; SQLite and
/// PostgreSQL behind the `sqlite` and `postgres` features).
pub use pacbot_store as store;

/// The AWS policy pack ([`aws::pack`]) and attribute shapes ([`aws::shapes`]),
/// always; the AWS connector (`aws::AwsConnector`) with the `aws` feature.
pub use pacbot_aws as aws;

/// The Azure policy pack ([`azure::pack`]) and attribute shapes
/// ([`azure::shapes`]), always; the Azure connector (`azure::AzureConnector`)
/// with the `azure` feature.
pub use pacbot_azure as azure;

/// Auto-fix: notify, wait, fix — with dry-run, backups and audit.
#[cfg(feature = "autofix")]
pub use pacbot_autofix as autofix;
