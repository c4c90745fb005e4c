#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod arm;
mod connector;
pub mod credential;
mod error;
pub mod pack;
mod services;
pub mod shapes;

pub use arm::{RetryConfig, Stats};
pub use connector::{AzureConfig, AzureConnector, EVERY_LOCATION, SUBSCRIPTION_LIST, Tenant};
pub use credential::{
    AccessToken, AzureCliCredential, ChainedCredential, ClientSecretCredential, ManagedIdentityCredential,
    StaticTokenCredential, TokenCredential,
};
pub use error::Error;

/// Reference documentation.
pub mod docs {
    #[doc = include_str!("shapes.md")]
    pub mod shapes {}
}
