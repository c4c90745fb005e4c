//! The response cache of the read-only JSON routes.
//!
//! A body of these routes depends only on what the store holds, the request
//! URI and who asks (role and asset groups), so it is kept, serialized, and
//! served again to the same question while the store has not changed:
//!
//! - Each request reads the store's revision ([`Store::revision`], one
//!   point query), which changes whenever a write commits — through this
//!   server, another one or a scanner. An entry is served only to a request
//!   that read the revision it was computed at; a response is stored with
//!   the revision read *before* computing it, so a write that commits while
//!   it is computed leaves it unused. When the revision moves, every entry
//!   is dropped.
//! - Entries also expire after a short maximum age (2 s by default): some
//!   answers depend on the clock as well as on the store — a group's
//!   criteria are evaluated at the request's time, so are the asset
//!   visibility checks of scoped callers — and would otherwise keep the
//!   answer of the time they were computed.
//! - Only `200` responses whose only header is their content type are kept.
//!   The cache is bounded (entries and bytes); when full, expired entries go
//!   first, then everything.
//!
//! Architecture invariant: a route behind this cache reads no state but the
//! store's, its URI and the caller's role and groups (not the caller's name,
//! not the server's other state, except what is fixed at start-up).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::app::AppState;
use super::auth::{Principal, Role};
use super::error::ApiError;

/// How the response cache is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Whether responses are cached at all.
    pub enabled: bool,
    /// How long an entry may be served, at most (for answers that depend on the clock).
    pub max_age: Duration,
    /// How many entries it keeps, at most.
    pub max_entries: usize,
    /// How many body bytes it keeps, at most (a larger body is not kept).
    pub max_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { enabled: true, max_age: Duration::from_secs(2), max_entries: 1024, max_bytes: 64 * 1024 * 1024 }
    }
}

impl Config {
    /// No caching: every request is computed.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::default() }
    }
}

/// What a response is cached under: the request and who asks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    /// The path and the raw query string.
    uri: String,
    role: Role,
    /// The caller's asset groups (`None`: every group).
    groups: Option<Vec<String>>,
}

#[derive(Debug)]
struct Entry {
    body: Bytes,
    content_type: HeaderValue,
    at: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    /// The revision of every entry.
    revision: u64,
    map: HashMap<Key, Entry>,
    bytes: usize,
}

impl Entries {
    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

/// The cache: entries of one store revision, and counters for `/metrics`.
#[derive(Debug)]
pub struct ResponseCache {
    config: Config,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResponseCache {
    /// An empty cache.
    pub fn new(config: Config) -> Self {
        Self { config, entries: Mutex::new(Entries::default()), hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// Whether it caches.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Requests served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Requests the cache could not serve (computed, and stored if they could be).
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The body and content type stored for `key` at `revision`, if fresh.
    fn get(&self, key: &Key, revision: u64) -> Option<(Bytes, HeaderValue)> {
        let mut entries = self.entries.lock().ok()?;
        if entries.revision != revision {
            // The store changed (or this request read an older revision than
            // another one did): nothing kept is known to be current.
            entries.clear();
            entries.revision = revision;
            return None;
        }
        let entry = entries.map.get(key)?;
        (entry.at.elapsed() < self.config.max_age).then(|| (entry.body.clone(), entry.content_type.clone()))
    }

    /// Stores a body computed after reading `revision` — unless the revision
    /// moved meanwhile, or the body does not fit.
    fn put(&self, key: Key, revision: u64, body: Bytes, content_type: HeaderValue) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.revision != revision || body.len() > self.config.max_bytes {
            return;
        }
        if let Some(old) = entries.map.remove(&key) {
            entries.bytes -= old.body.len();
        }
        if entries.map.len() >= self.config.max_entries || entries.bytes + body.len() > self.config.max_bytes {
            let max_age = self.config.max_age;
            entries.map.retain(|_, e| e.at.elapsed() < max_age);
            entries.bytes = entries.map.values().map(|e| e.body.len()).sum();
            if entries.map.len() >= self.config.max_entries || entries.bytes + body.len() > self.config.max_bytes {
                entries.clear();
            }
        }
        entries.bytes += body.len();
        entries.map.insert(key, Entry { body, content_type, at: Instant::now() });
    }
}

/// Middleware of the cached routes: serves a fresh entry, or runs the route
/// and keeps its answer. The caller is authenticated here (and passed on to
/// the handler in the request's extensions): a request that fails to
/// authenticate gets the error the route would answer. When the revision
/// cannot be read, the route answers, uncached.
pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cache = &state.cache;
    if !cache.enabled() || req.method() != Method::GET {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let who = match Principal::from_request_parts(&mut parts, &state).await {
        Ok(who) => who,
        // What the route's handler would answer (without asking the issuer twice).
        Err(e) => return e.into_response(),
    };
    let Ok(revision) = state.store.revision().await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let uri = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |pq| pq.as_str()).to_owned();
    let key = Key { uri, role: who.role, groups: who.groups.clone() };
    if let Some((body, content_type)) = cache.get(&key, revision) {
        cache.hits.fetch_add(1, Ordering::Relaxed);
        return ([(header::CONTENT_TYPE, content_type)], body).into_response();
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    parts.extensions.insert(who);
    let response = next.run(Request::from_parts(parts, body)).await;
    let only_content_type = response.headers().len() == 1;
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let (Some(content_type), StatusCode::OK, true) = (content_type, response.status(), only_content_type) else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(format!("cannot read the response body: {e}")).into_response(),
    };
    cache.put(key, revision, bytes.clone(), content_type);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(uri: &str) -> Key {
        Key { uri: uri.to_owned(), role: Role::Reader, groups: None }
    }

    fn json() -> HeaderValue {
        HeaderValue::from_static("application/json")
    }

    #[test]
    fn entries_are_kept_per_revision_and_within_bounds() {
        let config = Config { max_entries: 2, max_bytes: 10, ..Config::default() };
        let cache = ResponseCache::new(config);
        assert!(cache.get(&key("/a"), 7).is_none(), "a new revision starts empty");
        cache.put(key("/a"), 7, Bytes::from_static(b"aaaa"), json());
        assert_eq!(cache.get(&key("/a"), 7).unwrap().0, Bytes::from_static(b"aaaa"));
        // Computed at an older revision than the cache's: not kept.
        cache.put(key("/b"), 6, Bytes::from_static(b"bb"), json());
        assert!(cache.get(&key("/b"), 7).is_none());
        // Over the byte budget alone: not kept; over the entry budget: emptied first.
        cache.put(key("/big"), 7, Bytes::from_static(b"0123456789x"), json());
        assert!(cache.get(&key("/big"), 7).is_none());
        cache.put(key("/b"), 7, Bytes::from_static(b"bb"), json());
        cache.put(key("/c"), 7, Bytes::from_static(b"cc"), json());
        let entries = cache.entries.lock().unwrap();
        assert!(entries.map.len() <= 2 && entries.bytes <= 10, "{entries:?}");
        assert_eq!(entries.bytes, entries.map.values().map(|e| e.body.len()).sum::<usize>());
        drop(entries);
        assert!(cache.get(&key("/c"), 7).is_some());
        // Another revision: nothing kept is served.
        assert!(cache.get(&key("/c"), 8).is_none());
        assert!(cache.entries.lock().unwrap().map.is_empty());
    }
}
