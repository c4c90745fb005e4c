//! The entry point: parse the command line, set up logging and the runtime,
//! dispatch, and turn the outcome into an exit code.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Parser;

use super::cli::{Cli, Command, LogFormat, ScanArgs};
use super::config::{Loaded, problems_error};
use super::error::{EXIT_ERROR, EXIT_OK, EXIT_VIOLATIONS, Error, Result};
use super::{admin, explain, fix, report, scan, store, table};

/// Runs the scanner with these arguments (the first is the program name),
/// writing results to `out` and errors to `err` (logs and progress bars go
/// to standard error). Returns the exit code: 0 clean, 1 violations at or
/// above `--fail-on`, 2 errors.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() {
                let _ = write!(err, "{}", e.render());
                return EXIT_ERROR;
            }
            let _ = write!(out, "{}", e.render());
            return EXIT_OK;
        }
    };
    init_logging(cli.global.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "error: cannot start the async runtime: {e}");
            return EXIT_ERROR;
        }
    };
    match runtime.block_on(dispatch(&cli, out, err)) {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!(error = %e, "command failed");
            let _ = writeln!(err, "error: {e}");
            EXIT_ERROR
        }
    }
}

/// Logs on standard error, filtered by `RUST_LOG` (default `warn`). Set once
/// per process; later calls (tests running several commands) keep the first.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The configuration the command line names: `--config`, the demo, or defaults.
fn load_config(cli: &Cli, demo: Option<super::cli::DemoVariant>) -> Result<Loaded> {
    match (demo, &cli.global.config) {
        (Some(variant), _) => Loaded::demo(variant).map_err(|p| problems_error(&p)),
        (None, Some(path)) => Loaded::from_file(path).map_err(|p| problems_error(&p)),
        (None, None) => Ok(Loaded::defaults()),
    }
}

async fn dispatch(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8> {
    let progress = !cli.global.no_progress && std::io::stderr().is_terminal();
    match &cli.command {
        Command::Scan(args) => run_scan(cli, args, out, err, progress).await,
        Command::Validate(args) => {
            let loaded = match &cli.global.config {
                Some(path) => Loaded::from_file(path),
                None => Ok(Loaded::defaults()),
            };
            let problems = match loaded {
                Ok(loaded) => match super::packs::load(&loaded, &args.policies) {
                    Ok(set) => {
                        let enabled = set.policies.iter().filter(|p| p.meta().enabled).count();
                        let groups: Vec<pacbot::AssetGroup> = loaded.config.groups.clone();
                        match pacbot::Engine::new(set.policies, groups) {
                            Ok(_) => {
                                writeln!(out, "{}: valid", loaded.name()).map_err(write_error)?;
                                writeln!(
                                    out,
                                    "  {} sources, {} policies ({enabled} enabled), {} asset groups",
                                    loaded.config.sources.len(),
                                    set.origins.len(),
                                    loaded.config.groups.len()
                                )
                                .map_err(write_error)?;
                                for s in &loaded.config.sources {
                                    writeln!(out, "  source: {}", s.describe()).map_err(write_error)?;
                                }
                                for pack in super::packs::registry() {
                                    let used =
                                        set.origins.values().filter(|o| **o == format!("pack `{}`", pack.name)).count();
                                    if used > 0 {
                                        writeln!(
                                            out,
                                            "  pack {} ({}): {used} policies; {}",
                                            pack.name, pack.provider, pack.description
                                        )
                                        .map_err(write_error)?;
                                    }
                                }
                                if let Err(p) = super::sources::connectors(&loaded) {
                                    for p in p {
                                        writeln!(out, "  note: {p}").map_err(write_error)?;
                                    }
                                }
                                return Ok(EXIT_OK);
                            }
                            Err(e) => vec![super::packs::core_problem(&loaded.name(), e)],
                        }
                    }
                    Err(p) => p,
                },
                Err(p) => p,
            };
            for p in &problems {
                writeln!(err, "error: {p}").map_err(write_error)?;
            }
            let n = problems.len();
            writeln!(err, "{n} problem{} found", if n == 1 { "" } else { "s" }).map_err(write_error)?;
            Ok(EXIT_ERROR)
        }
        Command::Report(args) => {
            let loaded = load_config(cli, None)?;
            let opened = store::open(cli.global.db.as_deref(), &loaded).await?;
            report::run(&*opened.store, &opened.location, args, out).await
        }
        Command::Exceptions(cmd) => {
            let loaded = load_config(cli, None)?;
            let opened = store::open(cli.global.db.as_deref(), &loaded).await?;
            admin::exceptions(&*opened.store, cmd, out).await
        }
        Command::Groups(cmd) => {
            let loaded = load_config(cli, None)?;
            let opened = store::open(cli.global.db.as_deref(), &loaded).await?;
            admin::groups(&*opened.store, &loaded, cmd, out).await
        }
        Command::Explain(args) => {
            let variant = args.demo.then_some(super::cli::DemoVariant::Estate);
            let loaded = load_config(cli, variant)?;
            let opened = store::open(cli.global.db.as_deref(), &loaded).await?;
            explain::run(&*opened.store, &loaded, args, out).await
        }
        Command::Fix(args) => {
            let loaded = load_config(cli, None)?;
            let opened = store::open(cli.global.db.as_deref(), &loaded).await?;
            fix::run(opened.store, &loaded, args, out).await
        }
    }
}

async fn run_scan(cli: &Cli, args: &ScanArgs, out: &mut dyn Write, err: &mut dyn Write, progress: bool) -> Result<u8> {
    let loaded = load_config(cli, args.demo)?;
    let opened = store::open(cli.global.db.as_deref(), &loaded).await?;
    let verdict = |o: &scan::ScanOutcome| -> u8 {
        if !o.failed_sources.is_empty() {
            EXIT_ERROR
        } else if args.fail_on.is_some_and(|s| o.fails(s)) {
            EXIT_VIOLATIONS
        } else {
            EXIT_OK
        }
    };
    if !args.continuous {
        let running = scan::Running::default();
        let outcome = scan::scan_once(&*opened.store, &opened.location, &loaded, progress, &running).await?;
        print_outcome(out, &outcome, args, args.demo.is_some())?;
        for (source, why) in &outcome.failed_sources {
            writeln!(err, "error: source `{source}` failed: {why}").map_err(write_error)?;
        }
        return Ok(verdict(&outcome));
    }
    let mut last = EXIT_OK;
    let mut write_failed = None;
    let running = scan::Running::default();
    let count = scan::continuous(
        args.every,
        args.max_scans,
        async || scan::scan_once(&*opened.store, &opened.location, &loaded, progress, &running).await,
        |n, result| {
            last = match result {
                Ok(o) => {
                    if let Err(e) = print_outcome(out, o, args, false) {
                        write_failed = Some(e);
                    }
                    verdict(o)
                }
                Err(e) => {
                    let _ = writeln!(err, "error: scan {n} failed: {e}");
                    EXIT_ERROR
                }
            };
        },
    )
    .await;
    // A scan interrupted by the signal is recorded as aborted, not left running.
    let interrupted = running.lock().ok().and_then(|r| *r);
    if let Some(id) = interrupted {
        opened.store.abort_scan(id, "interrupted by a signal").await?;
        writeln!(err, "scan {id} interrupted; nothing of it was committed").map_err(write_error)?;
    }
    if let Some(e) = write_failed {
        return Err(e);
    }
    tracing::info!(scans = count, "continuous scanning stopped");
    Ok(last)
}

fn print_outcome(out: &mut dyn Write, outcome: &scan::ScanOutcome, args: &ScanArgs, demo: bool) -> Result<()> {
    if args.json {
        return write_json(out, outcome);
    }
    table::scan_summary(out, outcome, args.top, demo).map_err(write_error)
}

/// Writes a value as pretty JSON and a newline.
pub fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| Error::with("cannot write JSON", e))?;
    writeln!(out).map_err(write_error)
}

/// An error writing the output.
pub fn write_error(e: std::io::Error) -> Error {
    Error::with("cannot write the output", e)
}
