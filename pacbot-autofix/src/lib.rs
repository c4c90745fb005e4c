//! Auto-fix for pacbot: notify the owner, wait a grace period, then fix —
//! with dry-run, backups of the prior configuration and an audit trail — and
//! a catalogue of remediation bots dispatched from `AUTO:` findings.
//!
//! This crate is being built (see the project's auto-fix issue). It exposes
//! nothing yet.
