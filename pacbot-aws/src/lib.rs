//! AWS discovery connectors and the AWS policy pack for pacbot.
//!
//! This crate is being built (see the project's AWS issue): connectors for
//! EC2, security groups, EBS, VPC, S3, IAM and account settings across
//! accounts (assume-role) and regions, and the AWS policy pack. It exposes
//! nothing yet.
