#![doc = include_str!("../README.md")]
// Errors carry the call, account, region and AWS code: large, and rare.
#![allow(clippy::result_large_err)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod collect;
mod connector;
mod ec2;
mod error;
mod iam;
pub mod pack;
mod s3;
pub mod shapes;
#[cfg(feature = "testing")]
pub mod testing;

pub use connector::{AwsConnector, AwsConnectorBuilder, s3control_client};
pub use error::{Error, FailureKind, classify};

pub use pack::{PackConfig, policies};

/// Reference documentation.
pub mod docs {
    #[doc = include_str!("shapes.md")]
    pub mod shapes {}
}
