//! Scratch schemas on a real PostgreSQL server, for the PostgreSQL tests.
//!
//! The server is `PACBOT_TEST_POSTGRES_URL`, or
//! `postgres://postgres@127.0.0.1:5432/postgres`. Each test gets a schema of
//! its own with a unique name, dropped with everything in it when the test
//! ends, so tests running at once never see each other's tables. When the
//! server cannot be reached, the test fails and says how to start one: the
//! PostgreSQL tests never skip.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::PostgresStore;

/// The variable naming the test server.
pub const URL_VARIABLE: &str = "PACBOT_TEST_POSTGRES_URL";

/// The test server when [`URL_VARIABLE`] is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The test server's URL.
#[must_use]
pub fn server_url() -> String {
    std::env::var(URL_VARIABLE).ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// `url` with its connections' search path set to `schema`.
#[must_use]
pub fn with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{schema}")
    } else {
        format!("{url} options='-csearch_path={schema}'")
    }
}

/// Connects to the test server, or fails the test saying how to start one.
pub async fn connect_server() -> tokio_postgres::Client {
    let url = server_url();
    let connected = match url.parse::<tokio_postgres::Config>() {
        Ok(config) => config.connect(tokio_postgres::NoTls).await,
        Err(e) => panic!("{URL_VARIABLE} is not a valid PostgreSQL URL: {e}"),
    };
    match connected {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => panic!(
            "\n\nthe PostgreSQL tests need a server, and none answers at {where_} ({e}: {cause}).\n\
             Run `scripts/test.sh`, which installs and starts one on 127.0.0.1:5432 (trust auth for local TCP);\n\
             or start yours (`service postgresql start`, or `pg_ctlcluster <version> main start`);\n\
             or set {URL_VARIABLE} to a server where the user may create schemas.\n",
            where_ = redact(&url),
            cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default(),
        ),
    }
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(c) if c.get_password().is_some() => {
            format!("`{}` (password hidden)", url.split('@').next_back().unwrap_or_default())
        }
        _ => format!("`{url}`"),
    }
}

/// A schema of its own on the test server, dropped (`CASCADE`) when this is dropped.
#[derive(Debug)]
pub struct ScratchSchema {
    name: String,
    url: String,
}

impl ScratchSchema {
    /// Creates a schema with a name no other test uses.
    pub async fn create() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
        let name = format!("pacbot_test_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let client = connect_server().await;
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating the test schema `{name}`: {e:?}"));
        Self { url: with_search_path(&server_url(), &name), name }
    }

    /// The schema's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test server's URL with the search path set to this schema.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // Drop may run inside a runtime: use a thread with a runtime of its own.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let (client, connection) =
                    server_url().parse::<tokio_postgres::Config>()?.connect(tokio_postgres::NoTls).await?;
                let task = tokio::spawn(connection);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await?;
                drop(client);
                let _ = task.await;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test schema `{}`: {e}", self.name);
        }
    }
}

/// A [`PostgresStore`] in a fresh scratch schema: the conformance suite's factory.
pub async fn scratch_store() -> (PostgresStore, ScratchSchema) {
    let schema = ScratchSchema::create().await;
    let store = PostgresStore::open(schema.url())
        .await
        .unwrap_or_else(|e| panic!("opening a store in the test schema `{}`: {e}", schema.name()));
    (store, schema)
}
