//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pacbot::Severity;

/// A compliance scanner: discover assets, judge them against policies, track
/// violations across scans, report.
#[derive(Debug, Parser)]
#[command(name = "scanner", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The configuration file (TOML). Commands that need no sources or
    /// policies work without one.
    #[arg(long, short, global = true, env = "PACBOT_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database: a SQLite file, or a `postgres://` URL. Overrides the
    /// configuration's `[store]`; the default is `scanner.db` in the data
    /// directory (`$PACBOT_DATA_DIR`, else `$XDG_DATA_HOME/pacbot`, else
    /// `~/.local/share/pacbot`).
    #[arg(long, global = true, env = "PACBOT_DB")]
    pub db: Option<String>,
    /// Log format on standard error (the level comes from `RUST_LOG`, default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Never draw progress bars (they are drawn only on a terminal anyway).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan: discover, evaluate, reconcile, commit, and print the compliance report.
    Scan(ScanArgs),
    /// Check a configuration and policy directories without scanning.
    Validate(ValidateArgs),
    /// Report from the store.
    Report(ReportArgs),
    /// Exceptions: exempt violations of an asset, or of every asset matching criteria (sticky).
    #[command(subcommand)]
    Exceptions(ExceptionCommand),
    /// Asset groups: named criteria that scope reports and policies.
    #[command(subcommand)]
    Groups(GroupCommand),
    /// Show a policy: its metadata, its rules and its current results.
    Explain(ExplainArgs),
    /// Auto-fix the configured policies' open violations: notify, wait the
    /// grace period, remind, fix. Dry-run unless `--apply`.
    Fix(FixArgs),
}

/// `fix`.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// Plan and record only; change nothing (the default).
    #[arg(long, conflicts_with = "apply")]
    pub dry_run: bool,
    /// Apply the fixes that are due.
    #[arg(long)]
    pub apply: bool,
    /// Only these policies of `[autofix]` (repeat the flag for several).
    #[arg(long = "policy")]
    pub policies: Vec<String>,
    /// Print the planner's report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Who runs the fixes (recorded in the audit trail).
    #[arg(long, env = "USER", default_value = "scanner")]
    pub by: String,
}

/// Which demo estate to scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoVariant {
    /// The estate with its misconfigurations.
    Estate,
    /// The same estate a week later: a third fixed, some resources gone, two new.
    Fixed,
}

/// `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Scan the bundled demo estate with the bundled demo configuration
    /// (`--demo fixed` for the estate after some fixes).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "estate", conflicts_with = "config")]
    pub demo: Option<DemoVariant>,
    /// Keep scanning on a cadence until interrupted (ctrl-c, SIGTERM).
    #[arg(long)]
    pub continuous: bool,
    /// The cadence of `--continuous` (`6h`, `30m`, `1d`).
    #[arg(long, value_parser = parse_duration, default_value = "6h")]
    pub every: Duration,
    /// Stop `--continuous` after this many scans.
    #[arg(long, requires = "continuous")]
    pub max_scans: Option<u64>,
    /// Exit with code 1 when open violations of this severity or worse exist.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// How many of the worst policies to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// More directories of declarative YAML policies to check.
    #[arg(long = "policies")]
    pub policies: Vec<PathBuf>,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A text summary.
    Table,
    /// Everything, as one JSON document.
    Json,
    /// One row per violation.
    Csv,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// OCSF 1.5 compliance findings (class 2003), one JSON array.
    Ocsf,
    /// One self-contained HTML page with charts.
    Html,
}

/// `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only this asset group (its stored criteria and its compliance snapshot).
    #[arg(long)]
    pub group: Option<String>,
    /// Only these policies (repeat the flag for several).
    #[arg(long = "policy")]
    pub policies: Vec<String>,
    /// Only violations changed since this time: RFC 3339 (`2026-11-01T00:00:00Z`)
    /// or a duration back from now (`7d`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<pacbot::chrono::DateTime<pacbot::chrono::Utc>>,
    /// Include closed violations (by default: open, exempted and unknown).
    #[arg(long)]
    pub all: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Exit with code 1 when open violations of this severity or worse are reported.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
}

/// `exceptions …`.
#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// Grant an exception for one asset, or a sticky one for every asset matching criteria.
    Add(ExceptionAdd),
    /// List exceptions.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an exception; its violations re-open at the next scan.
    Revoke {
        /// The exception id.
        id: String,
    },
}

/// `exceptions add`.
#[derive(Debug, Args)]
pub struct ExceptionAdd {
    /// The exception id (default: generated from the target).
    #[arg(long)]
    pub id: Option<String>,
    /// Policies exempted (repeat; `*` for all).
    #[arg(long = "policy", required = true)]
    pub policies: Vec<String>,
    /// The asset: `provider/account/region/kind/resource-id`.
    #[arg(long, conflicts_with = "criteria", required_unless_present = "criteria")]
    pub asset: Option<String>,
    /// Sticky: criteria (YAML or JSON) matching the exempted assets, now and in future.
    #[arg(long)]
    pub criteria: Option<String>,
    /// Why.
    #[arg(long)]
    pub reason: String,
    /// Who grants it.
    #[arg(long, env = "USER", default_value = "scanner")]
    pub by: String,
    /// When it expires: RFC 3339 or a duration from now (`90d`). Default: never.
    #[arg(long, value_parser = parse_until)]
    pub expires: Option<pacbot::chrono::DateTime<pacbot::chrono::Utc>>,
}

/// `groups …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create or replace an asset group.
    Add {
        /// The group name.
        name: String,
        /// Which assets belong: criteria in YAML or JSON.
        #[arg(long)]
        criteria: String,
        /// What the group is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Who owns it.
        #[arg(long)]
        owner: Option<String>,
        /// Who creates it.
        #[arg(long, env = "USER", default_value = "scanner")]
        by: String,
    },
    /// List asset groups.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an asset group.
    Remove {
        /// The group name.
        name: String,
    },
}

/// `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The policy id.
    pub policy: String,
    /// Use the demo configuration's policies.
    #[arg(long)]
    pub demo: bool,
    /// How many current violations to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration such as `6h` or `30m`: {e}"))?;
    if d.is_zero() {
        return Err("the duration must be more than zero".into());
    }
    Ok(d)
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse().map_err(|_| format!("`{s}` is not a severity (low, medium, high, critical)"))
}

/// A time: RFC 3339, or a duration relative to now (`sign` -1 back, +1 ahead).
fn parse_time(s: &str, sign: i32) -> Result<pacbot::chrono::DateTime<pacbot::chrono::Utc>, String> {
    use pacbot::chrono::{DateTime, Utc};
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = humantime::parse_duration(s)
        .map_err(|_| format!("`{s}` is neither an RFC 3339 time nor a duration such as `7d`"))?;
    let d = pacbot::chrono::Duration::from_std(d).map_err(|_| format!("`{s}` is too long"))?;
    let now = Utc::now();
    let t = if sign < 0 { now.checked_sub_signed(d) } else { now.checked_add_signed(d) };
    t.ok_or_else(|| format!("`{s}` is too long"))
}

fn parse_since(s: &str) -> Result<pacbot::chrono::DateTime<pacbot::chrono::Utc>, String> {
    parse_time(s, -1)
}

fn parse_until(s: &str) -> Result<pacbot::chrono::DateTime<pacbot::chrono::Utc>, String> {
    parse_time(s, 1)
}
