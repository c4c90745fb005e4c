//! Webhooks: each message as a JSON POST.

use std::time::Duration;

use async_trait::async_trait;

use super::{Message, Notifier};
use crate::error::{Error, Result};

/// POSTs each [`Message`] as JSON (its serde form: `kind`, `to`,
/// `subject`, `text`, `html`, `data`) to a URL. The URL must be `https://`,
/// or `http://` to a loopback address.
#[derive(Debug, Clone)]
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: Vec<(String, String)>,
}

impl WebhookNotifier {
    /// A webhook to `url`, with a 30 s time-out.
    pub fn new(url: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidConfig { path: "webhook.url".to_owned(), reason };
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("`{url}`: {e}")))?;
        let loopback = parsed.host_str().is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(invalid(format!("`{url}` must be https (http only to a loopback address)"))),
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| invalid(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self { client, url: parsed, headers: Vec::new() })
    }

    /// Adds a header to every request (`Authorization`, a signature).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn send(&self, message: &Message) -> Result<()> {
        let fail = |m: String, retryable: bool| Error::Notify { notifier: "webhook".to_owned(), message: m, retryable };
        let mut request = self.client.post(self.url.clone()).json(message);
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        let response = request.send().await.map_err(|e| fail(format!("POST {}: {e}", self.url), true))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let retry = status.is_server_error() || status.as_u16() == 429;
            Err(fail(format!("POST {} answered HTTP {}", self.url, status.as_u16()), retry))
        }
    }
}
