#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod pack;
pub mod shapes;

pub use pack::{PackConfig, policies};

/// Reference documentation.
pub mod docs {
    #[doc = include_str!("shapes.md")]
    pub mod shapes {}
}
