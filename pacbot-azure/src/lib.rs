//! Azure discovery connectors and the Azure policy pack for pacbot.
//!
//! This crate is being built (see the project's Azure issue): connectors for
//! storage accounts, VMs, disks, network security groups, SQL and Key Vault
//! across tenants and subscriptions, and the Azure policy pack. It exposes
//! nothing yet.
