//! Persistence for pacbot: the `Store` trait and its backends.
//!
//! This crate is being built (see the project's store issue): it will hold
//! the `Store` trait, the in-memory backend (always on), the SQLite backend
//! (feature `sqlite`, the default) and the PostgreSQL backend (feature
//! `postgres`), with one conformance suite that every backend passes. It
//! exposes nothing yet.
