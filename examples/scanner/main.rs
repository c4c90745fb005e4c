//! Run with `cargo run --example scanner -- scan --demo`.
//!
//! A complete compliance scanner assembled from the crates: sources (JSON
//! inventories; AWS and Azure with the `aws` / `azure` features) → the engine
//! with the built-in packs (pacbot-aws's, pacbot-azure's and a tagging pack,
//! in every build) and your declarative policies → reconcile with the
//! previous scan → one atomic commit to SQLite or PostgreSQL → reports
//! (table, JSON, CSV, SARIF, OCSF, HTML).
//!
//! ```text
//! scanner scan --demo                  # the bundled demo estate, into the default database
//! scanner scan --demo fixed            # the same estate a week later: fixes close violations
//! scanner scan --config scanner.toml [--continuous --every 6h] [--fail-on high]
//! scanner validate --config scanner.toml [--policies DIR]
//! scanner report --format html --output report.html
//! scanner exceptions add --policy ID --asset aws/111122223333/us-east-1/aws.s3.bucket/www --reason … --expires 30d
//! scanner groups add production --criteria '{path: tags.Environment, eq: production}'
//! scanner explain aws-s3-public-acl-read
//! scanner fix [--apply] [--policy ID]   # auto-fix ([autofix] in the configuration; dry-run by default)
//! ```
//!
//! Exit codes: 0 clean, 1 violations at or above `--fail-on`, 2 errors.

pub(crate) mod admin;
pub(crate) mod cli;
pub(crate) mod config;
pub(crate) mod demo;
pub(crate) mod error;
pub(crate) mod explain;
pub(crate) mod fix;
pub(crate) mod html;
pub(crate) mod ocsf;
pub(crate) mod packs;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod sarif;
pub(crate) mod scan;
pub(crate) mod sources;
pub(crate) mod store;
pub(crate) mod table;

pub(crate) use run::run;

fn main() -> std::process::ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let code = run(std::env::args_os(), &mut stdout, &mut stderr);
    std::process::ExitCode::from(code)
}
