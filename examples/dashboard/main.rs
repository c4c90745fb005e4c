//! Run with `cargo run --example dashboard -- --demo`.
//!
//! A compliance dashboard over any store: a JSON REST API under `/api`
//! (documented by `/api/openapi.json`), server-rendered HTML pages, `/healthz`
//! and `/metrics`. Every route but `/healthz` needs a bearer token (static
//! tokens kept as SHA-256 hashes, or OIDC JWTs checked against the issuer's
//! key set); readers read, admins also change groups, exceptions and policies,
//! scan one scope, re-evaluate an asset, approve auto-fix plans and dispatch
//! ingested findings to bots (`admin`); tokens limited to asset groups see
//! only those groups.
//!
//! ```text
//! dashboard --demo                         # seed a scratch SQLite store with the scanner's demo; prints an admin token
//! dashboard --db scanner.db --auth auth.toml --listen 127.0.0.1:8080
//! dashboard --db postgres://pacbot@db/pacbot --auth auth.toml   # with --features postgres
//! dashboard hash-token SECRET              # the sha256 to put in auth.toml or PACBOT_DASHBOARD_TOKENS
//! ```

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod app;
pub(crate) mod auth;
pub(crate) mod cache;
pub(crate) mod cli;
pub(crate) mod demo;
pub(crate) mod error;
pub(crate) mod keys;
pub(crate) mod rules;
pub(crate) mod ui;

/// The scanner example, compiled in for its demo scan (see `demo`).
#[path = "../scanner/main.rs"]
#[allow(dead_code, unreachable_pub, missing_docs)]
pub(crate) mod scanner;

fn main() -> std::process::ExitCode {
    cli::main(std::env::args_os())
}
