#![cfg_attr(feature = "connector", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "connector"),
    doc = "The Azure policy pack ([`pack`]) and attribute shapes ([`shapes`]) of pacbot; the connector needs the `connector` feature (default)."
)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "connector")]
pub mod arm;
#[cfg(feature = "connector")]
mod connector;
#[cfg(feature = "connector")]
pub mod credential;
#[cfg(feature = "connector")]
mod error;
pub mod pack;
#[cfg(feature = "connector")]
mod services;
pub mod shapes;

#[cfg(feature = "connector")]
pub use arm::{RetryConfig, Stats};
#[cfg(feature = "connector")]
pub use connector::{AzureConfig, AzureConnector, EVERY_LOCATION, SUBSCRIPTION_LIST, Tenant};
#[cfg(feature = "connector")]
pub use credential::{
    AccessToken, AzureCliCredential, ChainedCredential, ClientSecretCredential, ManagedIdentityCredential,
    StaticTokenCredential, TokenCredential,
};
#[cfg(feature = "connector")]
pub use error::Error;

/// Reference documentation.
pub mod docs {
    #[doc = include_str!("shapes.md")]
    pub mod shapes {}
}
