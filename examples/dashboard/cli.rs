//! The command line: open the store, seed the demo, authenticate, serve.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use pacbot::store::Store;

use super::app::{DEFAULT_BODY_LIMIT, Settings, router};
use super::auth::{Auth, Role, hash_token};
use super::cache::Config as ResponseCacheConfig;
use super::demo::DemoScan;
use super::rules::RuleCatalogue;

/// The pacbot compliance dashboard.
#[derive(Debug, Parser)]
#[command(name = "dashboard", version, about)]
pub struct Cli {
    /// The store: a SQLite file or a `postgres://` URL.
    #[arg(long, env = "PACBOT_DB", global = true)]
    pub db: Option<String>,
    /// Seed an empty store with the scanner's demo scans (a scratch SQLite file when `--db` is absent).
    #[arg(long, global = true)]
    pub demo: bool,
    /// Where to listen.
    #[arg(long, env = "PACBOT_DASHBOARD_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    pub listen: SocketAddr,
    /// The authentication file (TOML: `[[tokens]]` with `name`, `sha256`, `role`, `groups`; `[oidc]`).
    #[arg(long, env = "PACBOT_DASHBOARD_AUTH", global = true)]
    pub auth: Option<PathBuf>,
    /// Origins allowed to call the API from a browser (CORS is closed without them).
    #[arg(long = "cors-origin", global = true)]
    pub cors_origins: Vec<String>,
    /// Mark the session cookie `Secure` (when a TLS proxy serves the dashboard over HTTPS).
    #[arg(long, global = true)]
    pub secure_cookies: bool,
    /// A scanner configuration whose policy packs give the knowledge base its
    /// rules (default: the demo's with `--demo`, else the built-in packs).
    #[arg(long, env = "PACBOT_SCANNER_CONFIG", global = true)]
    pub scanner_config: Option<PathBuf>,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT, global = true)]
    pub body_limit: usize,
    /// Whether answers of the read-only JSON routes are cached until the
    /// store changes (or they reach `--response-cache-max-age`).
    #[arg(long, value_enum, env = "PACBOT_DASHBOARD_RESPONSE_CACHE", default_value = "on", global = true)]
    pub response_cache: Switch,
    /// How long a cached answer may be served at most, in seconds: answers
    /// that depend on the clock (group criteria evaluated now) are this stale at most.
    #[arg(long, default_value_t = 2.0, value_parser = seconds, global = true)]
    pub response_cache_max_age: f64,
    /// A subcommand instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// A duration in seconds: finite, not negative, at most a day.
fn seconds(text: &str) -> Result<f64, String> {
    let secs: f64 = text.parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if secs.is_finite() && (0.0..=86_400.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("`{text}`: give 0 to 86400 seconds"))
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the SHA-256 of a token, for the authentication file or `PACBOT_DASHBOARD_TOKENS`.
    HashToken {
        /// The token.
        token: String,
    },
}

/// Runs the command line; the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if let Some(Command::HashToken { token }) = &cli.command {
        println!("{}", hash_token(token));
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn open(target: &str) -> Result<Arc<dyn Store>, String> {
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let store = pacbot::store::PostgresStore::open(target).await.map_err(|e| {
                format!("cannot open the PostgreSQL database `{}`: {e}", super::scanner::store::redact(target))
            })?;
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "postgres"))]
        return Err("a PostgreSQL URL needs the dashboard built with `--features postgres`".into());
    }
    let store = pacbot::store::SqliteStore::open(std::path::Path::new(target))
        .await
        .map_err(|e| format!("cannot open the SQLite database `{target}`: {e}"))?;
    Ok(Arc::new(store))
}

/// A random token for `--demo` when no authentication is configured.
fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "cannot draw a random token".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn serve(cli: Cli) -> Result<(), String> {
    let target = match (&cli.db, cli.demo) {
        (Some(db), _) => db.clone(),
        (None, true) => {
            let dir = std::env::temp_dir().join(format!("pacbot-dashboard-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
            dir.join("demo.db").display().to_string()
        }
        (None, false) => return Err("name a store with `--db` (or `PACBOT_DB`), or run `--demo`".into()),
    };
    let store = open(&target).await?;
    let mut auth = match &cli.auth {
        Some(path) => Auth::from_file(path)?,
        None => Auth::new(),
    };
    if let Ok(text) = std::env::var("PACBOT_DASHBOARD_TOKENS") {
        auth.add_env_tokens(&text).map_err(|e| format!("PACBOT_DASHBOARD_TOKENS: {e}"))?;
    }
    let demo = if cli.demo {
        // The location is for messages: without a PostgreSQL URL's password.
        let location = super::scanner::store::redact(&target);
        let demo = DemoScan::new(&location);
        tracing::info!(store = %location, "seeding the demo");
        demo.seed(store.as_ref()).await?;
        if auth.is_empty() {
            let token = random_token()?;
            auth = auth.with_token("demo-admin", &token, Role::Admin, None);
            eprintln!("demo admin token (shown once, only its hash is kept): {token}");
        }
        Some(demo)
    } else {
        None
    };
    if auth.is_empty() {
        return Err("no way to authenticate: give `--auth FILE` or `PACBOT_DASHBOARD_TOKENS`".into());
    }
    // An issuer whose keys are fetched must answer now, not at the first login.
    auth.connect().await.map_err(|e| format!("OIDC: {e}"))?;
    let rules = match &cli.scanner_config {
        Some(path) => {
            let loaded = super::scanner::config::Loaded::from_file(path)
                .map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
            Some(RuleCatalogue::from_scanner(&loaded)?)
        }
        None => None,
    };
    let mut settings = Settings::new(auth);
    settings.rules = rules;
    settings.cors_origins = cli.cors_origins;
    settings.body_limit = cli.body_limit;
    settings.demo = demo;
    settings.secure_cookies = cli.secure_cookies;
    settings.response_cache = ResponseCacheConfig {
        enabled: cli.response_cache == Switch::On,
        max_age: Duration::from_secs_f64(cli.response_cache_max_age),
        ..ResponseCacheConfig::default()
    };
    let app = router(store, settings);
    let listener =
        tokio::net::TcpListener::bind(cli.listen).await.map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    eprintln!("dashboard on http://{}", cli.listen);
    axum::serve(listener, app)
        .with_graceful_shutdown(super::scanner::scan::shutdown_signal())
        .await
        .map_err(|e| format!("the server failed: {e}"))
}
