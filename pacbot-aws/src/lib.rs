#![cfg_attr(feature = "connector", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "connector"),
    doc = "The AWS policy pack ([`pack`]) and attribute shapes ([`shapes`]) of pacbot; the connector needs the `connector` feature (default)."
)]
// Errors carry the call, account, region and AWS code: large, and rare.
#![allow(clippy::result_large_err)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "connector")]
mod collect;
#[cfg(feature = "connector")]
mod connector;
#[cfg(feature = "connector")]
mod ec2;
#[cfg(feature = "connector")]
mod error;
#[cfg(feature = "connector")]
mod iam;
pub mod pack;
#[cfg(feature = "connector")]
mod s3;
pub mod shapes;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "connector")]
pub use connector::{AwsConnector, AwsConnectorBuilder, s3control_client};
#[cfg(feature = "connector")]
pub use error::{Error, FailureKind, classify};

pub use pack::{PackConfig, policies};

/// Reference documentation.
pub mod docs {
    #[doc = include_str!("shapes.md")]
    pub mod shapes {}
}
