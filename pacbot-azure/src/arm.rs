//! ARM plumbing: authenticated GETs through one `azure_core` pipeline with
//! retries, and listing with `nextLink` paging.
//!
//! Every request of the connector, the storage client's included, goes
//! through an `azure_core` 0.21 pipeline built with [`RetryConfig`]: 408,
//! 429, 500, 502, 503 and 504 responses and network errors are retried with
//! exponential backoff, and a 429 or 503 with `Retry-After` (or
//! `retry-after-ms`, `x-ms-retry-after-ms`) waits at least that long (capped
//! at [`RetryConfig::max_retry_after`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::credential::Cached;
use crate::error::Error;

/// The public cloud's Resource Manager endpoint.
pub const AZURE_PUBLIC_ARM: &str = "https://management.azure.com";

/// At most this many pages are followed for one listing.
const MAX_PAGES: usize = 10_000;

/// How requests are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The delay before the first retry; it doubles with each retry.
    pub initial_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// The longest wait a server's `Retry-After` can impose.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    /// 4 retries, from 1 s doubling to at most 30 s; `Retry-After` honoured up
    /// to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// The same settings with other delays (tests use milliseconds).
    #[must_use]
    pub fn with_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }

    /// The same settings with another number of retries.
    #[must_use]
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
}

/// Counts of what the connector sent.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// Request statistics of a discovery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// HTTP requests sent to ARM, retries included.
    pub requests: u64,
    /// Retries (after 429, 5xx or a network error).
    pub retries: u64,
}

#[derive(Debug)]
struct Retry {
    config: RetryConfig,
    counters: Arc<Counters>,
}

#[async_trait]
impl azure_core::RetryPolicy for Retry {
    fn is_expired(&self, _since_start: Duration, retry_count: u32) -> bool {
        retry_count >= self.config.max_retries
    }

    fn sleep_duration(&self, retry_count: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry_count.saturating_sub(1));
        self.config.initial_delay.saturating_mul(factor).min(self.config.max_delay)
    }

    async fn wait(&self, _error: &azure_core::Error, retry_count: u32, retry_after: Option<Duration>) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        let backoff = self.sleep_duration(retry_count);
        let wait = retry_after.map_or(backoff, |ra| ra.min(self.config.max_retry_after).max(backoff));
        azure_core::sleep(wait).await;
    }
}

/// Counts every request that reaches the transport.
#[derive(Debug)]
struct Count(Arc<Counters>);

#[async_trait]
impl azure_core::Policy for Count {
    async fn send(
        &self,
        ctx: &azure_core::Context,
        request: &mut azure_core::Request,
        next: &[Arc<dyn azure_core::Policy>],
    ) -> azure_core::PolicyResult {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
        match next.split_first() {
            Some((first, rest)) => first.send(ctx, request, rest).await,
            None => {
                Err(azure_core::Error::message(azure_core::error::ErrorKind::Other, "no transport in the pipeline"))
            }
        }
    }
}

/// The `azure_core` client options every client of the connector uses.
pub(crate) fn client_options(retry: &RetryConfig, counters: &Arc<Counters>) -> azure_core::ClientOptions {
    let mut options = azure_core::ClientOptions::default()
        .retry(azure_core::RetryOptions::custom(Arc::new(Retry { config: retry.clone(), counters: counters.clone() })));
    options.per_retry_policies_mut().push(Arc::new(Count(counters.clone())));
    options
}

/// An authenticated ARM client for one tenant.
#[derive(Clone, Debug)]
pub(crate) struct Arm {
    endpoint: azure_core::Url,
    pipeline: azure_core::Pipeline,
    credential: Arc<Cached>,
    scope: String,
    max_retries: u32,
}

impl Arm {
    pub(crate) fn new(
        endpoint: &azure_core::Url,
        credential: Arc<Cached>,
        retry: &RetryConfig,
        counters: &Arc<Counters>,
    ) -> Self {
        let scope = format!("{}/.default", endpoint.as_str().trim_end_matches('/'));
        let pipeline = azure_core::Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            client_options(retry, counters),
            Vec::new(),
            Vec::new(),
        );
        Self { endpoint: endpoint.clone(), pipeline, credential, scope, max_retries: retry.max_retries }
    }

    /// The token scope of the endpoint (`https://management.azure.com/.default`).
    pub(crate) fn scope(&self) -> &str {
        &self.scope
    }

    /// The endpoint.
    pub(crate) fn endpoint(&self) -> &azure_core::Url {
        &self.endpoint
    }

    /// The credential, for `azure_core` clients.
    pub(crate) fn credential(&self) -> Arc<Cached> {
        self.credential.clone()
    }

    /// The URL of an ARM path (`/subscriptions/…`) with its api-version.
    pub(crate) fn url(&self, path: &str, api_version: &str) -> Result<azure_core::Url, Error> {
        let mut url = self.endpoint.join(path).map_err(|e| Error::InvalidConfig {
            field: "arm_endpoint".into(),
            reason: format!("cannot join `{path}` to `{}`: {e}", self.endpoint),
        })?;
        url.query_pairs_mut().append_pair("api-version", api_version);
        Ok(url)
    }

    /// GETs a JSON document.
    pub(crate) async fn get(&self, url: azure_core::Url) -> Result<Value, Error> {
        let shown = url.to_string();
        let token = self.credential.token(&self.scope).await?;
        let mut req = azure_core::Request::new(url, azure_core::Method::Get);
        req.insert_header(azure_core::headers::AUTHORIZATION, format!("Bearer {}", token.token));
        let ctx = azure_core::Context::new();
        let rsp = self
            .pipeline
            .send(&ctx, &mut req)
            .await
            .map_err(|e| Error::from_azure(&shown, &e, self.max_retries + 1))?;
        let body = rsp
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Transport { url: shown.clone(), reason: e.to_string() })?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::InvalidResponse { url: shown, reason: format!("not JSON: {e}") })
    }

    /// GETs a path with its api-version.
    pub(crate) async fn get_path(&self, path: &str, api_version: &str) -> Result<Value, Error> {
        self.get(self.url(path, api_version)?).await
    }

    /// Every element of a listing (`value`), following `nextLink`.
    ///
    /// A `nextLink` must stay on the endpoint's scheme, host and port (the
    /// bearer token is sent to it), must not repeat, and at most
    /// [`MAX_PAGES`] pages are read.
    pub(crate) async fn list(&self, path: &str, api_version: &str) -> Result<Vec<Value>, Error> {
        self.list_url(self.url(path, api_version)?).await
    }

    /// Every element of the listing at `url`, following `nextLink` (as [`Arm::list`]).
    pub(crate) async fn list_url(&self, mut url: azure_core::Url) -> Result<Vec<Value>, Error> {
        let first = url.to_string();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let shown = url.to_string();
            let page = self.get(url).await?;
            match page.get("value") {
                Some(Value::Array(items)) => out.extend(items.iter().cloned()),
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(Error::InvalidResponse { url: shown, reason: "`value` is not a list".into() });
                }
            }
            let next = match page.get("nextLink") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Ok(out),
            };
            let next_url = azure_core::Url::parse(&next).map_err(|e| Error::InvalidResponse {
                url: shown.clone(),
                reason: format!("`nextLink` `{next}` is not a URL: {e}"),
            })?;
            if next_url.origin() != self.endpoint.origin() {
                return Err(Error::InvalidResponse {
                    url: shown,
                    reason: format!("`nextLink` `{next}` leaves the endpoint `{}`", self.endpoint),
                });
            }
            if !seen.insert(next.clone()) {
                return Err(Error::InvalidResponse { url: shown, reason: format!("`nextLink` `{next}` repeats") });
            }
            url = next_url;
        }
        Err(Error::InvalidResponse { url: first, reason: format!("more than {MAX_PAGES} pages") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::RetryPolicy as _;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry {
            config: RetryConfig::default().with_delays(Duration::from_millis(100), Duration::from_millis(350)),
            counters: Arc::default(),
        };
        let d: Vec<u128> = (1..=4).map(|n| r.sleep_duration(n).as_millis()).collect();
        assert_eq!(d, [100, 200, 350, 350]);
        assert!(!r.is_expired(Duration::ZERO, 3));
        assert!(r.is_expired(Duration::ZERO, 4));
    }
}
