//! Opening the store the command line or the configuration names.

use std::path::PathBuf;
use std::sync::Arc;

use pacbot::store::Store;

use super::config::Loaded;
use super::error::{Context, Error, Result};

/// An open store and where it is, for messages.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub location: String,
}

/// The default data directory: `$PACBOT_DATA_DIR`, else `$XDG_DATA_HOME/pacbot`,
/// else `~/.local/share/pacbot` (`%APPDATA%\pacbot` on Windows), else `./.pacbot`.
pub fn data_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("PACBOT_DATA_DIR") {
        return d;
    }
    if let Some(d) = var("XDG_DATA_HOME") {
        return d.join("pacbot");
    }
    if let Some(d) = var("APPDATA") {
        return d.join("pacbot");
    }
    if let Some(h) = var("HOME") {
        return h.join(".local").join("share").join("pacbot");
    }
    PathBuf::from(".pacbot")
}

/// Opens the store: `--db` first, then the configuration's `[store]`, then
/// `scanner.db` in the data directory.
pub async fn open(db: Option<&str>, loaded: &Loaded) -> Result<Opened> {
    let section = &loaded.config.store;
    let target = match (db, &section.postgres, &section.sqlite) {
        (Some(d), _, _) => d.to_owned(),
        (None, Some(url), _) => url.clone(),
        (None, None, Some(path)) => loaded.resolve(path).display().to_string(),
        (None, None, None) => {
            let dir = data_dir();
            std::fs::create_dir_all(&dir)
                .context(|| format!("cannot create the data directory `{}`", dir.display()))?;
            dir.join("scanner.db").display().to_string()
        }
    };
    if target.starts_with("postgres://") || target.starts_with("postgresql://") {
        return open_postgres(&target).await;
    }
    let path = PathBuf::from(&target);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).context(|| format!("cannot create the directory `{}`", parent.display()))?;
    }
    let store = pacbot::store::SqliteStore::open(&path)
        .await
        .map_err(|e| Error::msg(format!("cannot open the SQLite database `{target}`: {e}")))?;
    Ok(Opened { store: Arc::new(store), location: target })
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Opened> {
    let store = pacbot::store::PostgresStore::open(url)
        .await
        .map_err(|e| Error::msg(format!("cannot open the PostgreSQL database `{}`: {e}", redact(url))))?;
    Ok(Opened { store: Arc::new(store), location: redact(url) })
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> Result<Opened> {
    Err(Error::msg(format!(
        "`{}` is a PostgreSQL URL, but this scanner was built without PostgreSQL support; \
         build it with `--features postgres`",
        redact(url)
    )))
}

/// The URL without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
