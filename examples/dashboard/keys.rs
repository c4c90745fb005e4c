//! An OIDC issuer's signing keys, fetched over HTTP: the `jwks_uri` of its
//! discovery document (`{issuer}/.well-known/openid-configuration`) or a
//! configured `jwks_url`; cached for a time to live, fetched again early
//! when a token names a key the cached set lacks (a key rotation) — at most
//! once per `jwks_min_refresh_secs`, so tokens naming made-up keys cannot
//! make the server hammer the issuer. Only asymmetric keys (RSA, EC, OKP)
//! are kept: a published key can never serve as an HMAC secret.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use serde_json::Value;

use super::auth::OidcConfig;

/// The largest discovery document or key set accepted.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// When the keys were fetched, and when fetching was last forced.
#[derive(Debug, Default)]
struct Timing {
    /// The last successful fetch.
    fetched: Option<Instant>,
    /// The last fetch caused by an unknown key or a failure (rate-limited).
    forced: Option<Instant>,
}

/// The keys of one issuer, fetched and cached.
pub struct RemoteKeys {
    issuer: String,
    configured_url: Option<String>,
    ttl: Duration,
    min_refresh: Duration,
    client: reqwest::Client,
    keys: RwLock<Arc<JwkSet>>,
    /// The key set's URL, once discovered.
    jwks_url: Mutex<Option<String>>,
    timing: Mutex<Timing>,
    /// One fetch at a time.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// Checks that a URL is `https`, or `http` to a loopback host (a local test
/// issuer); `what` names it in the error.
fn check_url(what: &str, url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{what} `{url}` is not a URL: {e}"))?;
    let loopback = match parsed.host_str() {
        Some("localhost") => true,
        Some(h) => {
            h.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
        }
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        other => {
            Err(format!("{what} `{url}`: the scheme must be https (not `{other}`; http only to a loopback address)"))
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RemoteKeys {
    /// The keys of the configured issuer (nothing is fetched yet).
    pub fn new(config: &OidcConfig) -> Result<Self, String> {
        match &config.jwks_url {
            Some(url) => check_url("`jwks_url`", url).map(|_| ())?,
            None => check_url("the issuer", &config.issuer).map(|_| ())?,
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
        Ok(Self {
            issuer: config.issuer.clone(),
            configured_url: config.jwks_url.clone(),
            ttl: Duration::from_secs(config.jwks_ttl_secs),
            min_refresh: Duration::from_secs(config.jwks_min_refresh_secs),
            client,
            keys: RwLock::new(Arc::new(JwkSet { keys: Vec::new() })),
            jwks_url: Mutex::new(None),
            timing: Mutex::new(Timing::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The keys at hand.
    pub fn current(&self) -> Arc<JwkSet> {
        self.keys.read().map(|k| k.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Fetches the key set now (at start-up); how many usable keys it has.
    pub async fn fetch_now(&self) -> Result<usize, String> {
        let _one = self.fetching.lock().await;
        self.fetch().await
    }

    /// Fetches the keys again when they are older than their time to live
    /// (a failure keeps the old keys, and waits the refresh interval).
    pub async fn refresh_if_stale(&self) {
        let stale = {
            let t = lock(&self.timing);
            let expired = t.fetched.is_none_or(|at| at.elapsed() >= self.ttl);
            expired && t.forced.is_none_or(|at| at.elapsed() >= self.min_refresh)
        };
        if stale {
            let _one = self.fetching.lock().await;
            let still = lock(&self.timing).fetched.is_none_or(|at| at.elapsed() >= self.ttl);
            if still && let Err(e) = self.fetch().await {
                lock(&self.timing).forced = Some(Instant::now());
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot refresh the issuer's keys; keeping the cached ones");
            }
        }
    }

    /// A token names a key the cached set lacks: fetches the set again,
    /// unless that was done less than the refresh interval ago. Whether the
    /// set was fetched (and the token is worth checking again).
    pub async fn refresh_for_unknown_key(&self) -> bool {
        let allowed = |t: &Timing| t.forced.is_none_or(|at| at.elapsed() >= self.min_refresh);
        if !allowed(&lock(&self.timing)) {
            return false;
        }
        let _one = self.fetching.lock().await;
        {
            // Checked again: another request may have fetched meanwhile.
            let mut t = lock(&self.timing);
            if !allowed(&t) {
                return false;
            }
            t.forced = Some(Instant::now());
        }
        match self.fetch().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "cannot refresh the issuer's keys");
                false
            }
        }
    }

    /// Fetches (the caller holds `fetching`): discovers the key set's URL
    /// the first time, then the set; replaces the cached keys.
    async fn fetch(&self) -> Result<usize, String> {
        let known = lock(&self.jwks_url).clone();
        let url = match known.or_else(|| self.configured_url.clone()) {
            Some(u) => u,
            None => {
                let u = self.discover().await?;
                *lock(&self.jwks_url) = Some(u.clone());
                u
            }
        };
        let doc = self.get_json("the key set", &url).await?;
        let keys = usable_keys(&doc).map_err(|e| format!("the key set at `{url}` {e}"))?;
        let n = keys.len();
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(JwkSet { keys }),
            Err(p) => *p.into_inner() = Arc::new(JwkSet { keys }),
        }
        lock(&self.timing).fetched = Some(Instant::now());
        tracing::info!(issuer = %self.issuer, keys = n, "fetched the issuer's keys");
        Ok(n)
    }

    /// The `jwks_uri` of the issuer's discovery document.
    async fn discover(&self) -> Result<String, String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let doc = self.get_json("the issuer's discovery document", &url).await?;
        let issuer = doc.get("issuer").and_then(Value::as_str);
        if issuer != Some(self.issuer.as_str()) {
            return Err(format!(
                "the discovery document `{url}` names issuer {}, not `{}`",
                issuer.map_or_else(|| "nothing".to_owned(), |i| format!("`{i}`")),
                self.issuer
            ));
        }
        let jwks = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the discovery document `{url}` has no `jwks_uri`"))?;
        check_url("the discovery document's `jwks_uri`", jwks)?;
        Ok(jwks.to_owned())
    }

    async fn get_json(&self, what: &str, url: &str) -> Result<Value, String> {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot fetch {what} `{url}`: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("cannot fetch {what} `{url}`: HTTP {status}"));
        }
        if response.content_length().is_some_and(|n| n > MAX_DOCUMENT as u64) {
            return Err(format!("{what} `{url}` is over {MAX_DOCUMENT} bytes"));
        }
        let bytes = response.bytes().await.map_err(|e| format!("cannot read {what} `{url}`: {e}"))?;
        if bytes.len() > MAX_DOCUMENT {
            return Err(format!("{what} `{url}` is over {MAX_DOCUMENT} bytes"));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{what} `{url}` is not JSON: {e}"))
    }
}

/// The asymmetric keys of a JWK set document that parse; fails when there is none.
fn usable_keys(doc: &Value) -> Result<Vec<Jwk>, String> {
    let keys = doc.get("keys").and_then(Value::as_array).ok_or("is not a JWK set (no `keys` list)")?;
    let usable: Vec<Jwk> = keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|k| {
            matches!(
                k.algorithm,
                AlgorithmParameters::RSA(_)
                    | AlgorithmParameters::EllipticCurve(_)
                    | AlgorithmParameters::OctetKeyPair(_)
            )
        })
        .collect();
    if usable.is_empty() {
        return Err(format!("has no usable asymmetric key (of {} listed)", keys.len()));
    }
    Ok(usable)
}
