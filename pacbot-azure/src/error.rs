//! The one error type of `pacbot-azure`.

/// Everything that can go wrong talking to Azure.
///
/// Messages are lowercase and put identifiers in backticks; each names what
/// was being done and where (the URL, the tenant).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A token could not be obtained.
    #[error("cannot get a token for tenant `{tenant}`: {reason}")]
    Credential {
        /// The tenant (or the credential's name when it has no tenant).
        tenant: String,
        /// What happened.
        reason: String,
    },

    /// The caller may not read the resource (401/403).
    #[error("permission denied reading `{url}` (HTTP {status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    PermissionDenied {
        /// The request.
        url: String,
        /// 401 or 403.
        status: u16,
        /// ARM's error code (`AuthorizationFailed`).
        code: Option<String>,
        /// ARM's message.
        message: String,
    },

    /// The resource or collection does not exist (404).
    #[error("`{url}` not found{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    NotFound {
        /// The request.
        url: String,
        /// ARM's error code (`ResourceNotFound`, `SubscriptionNotFound`).
        code: Option<String>,
    },

    /// ARM kept throttling (429) after every retry.
    #[error("throttled reading `{url}` after {attempts} attempts")]
    Throttled {
        /// The request.
        url: String,
        /// How many requests were made.
        attempts: u32,
    },

    /// Any other unsuccessful HTTP status (5xx after every retry, 400, …).
    #[error("reading `{url}` failed with HTTP {status}{}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Http {
        /// The request.
        url: String,
        /// The status.
        status: u16,
        /// ARM's error code.
        code: Option<String>,
        /// ARM's message.
        message: Option<String>,
    },

    /// The request could not be sent or its response not read.
    #[error("cannot reach `{url}`: {reason}")]
    Transport {
        /// The request.
        url: String,
        /// What happened.
        reason: String,
    },

    /// A response was not the JSON document expected.
    #[error("unexpected response from `{url}`: {reason}")]
    InvalidResponse {
        /// The request.
        url: String,
        /// What was wrong.
        reason: String,
    },

    /// The configuration is unusable.
    #[error("invalid Azure configuration at `{field}`: {reason}")]
    InvalidConfig {
        /// The setting.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Whether repeating the operation later may succeed (throttling, 5xx,
    /// network trouble).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Throttled { .. } | Error::Transport { .. } => true,
            Error::Http { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }

    /// The error from an `azure_core` failure of a request to `url`.
    pub(crate) fn from_azure(url: &str, e: &azure_core::Error, attempts: u32) -> Self {
        let url = url.to_owned();
        match e.kind() {
            azure_core::error::ErrorKind::HttpResponse { status, error_code } => {
                let http = e.as_http_error();
                let code = error_code.clone().or_else(|| http.and_then(|h| h.error_code().map(str::to_owned)));
                let message = http.and_then(|h| h.error_message().map(str::to_owned));
                let status = u16::from(*status);
                match status {
                    401 | 403 => Error::PermissionDenied { url, status, code, message: message.unwrap_or_default() },
                    404 => Error::NotFound { url, code },
                    429 => Error::Throttled { url, attempts },
                    _ => Error::Http { url, status, code, message },
                }
            }
            azure_core::error::ErrorKind::Io => Error::Transport { url, reason: e.to_string() },
            azure_core::error::ErrorKind::Credential => {
                Error::Credential { tenant: String::new(), reason: e.to_string() }
            }
            azure_core::error::ErrorKind::DataConversion => Error::InvalidResponse { url, reason: e.to_string() },
            _ => Error::Transport { url, reason: e.to_string() },
        }
    }
}

impl From<Error> for pacbot_core::Error {
    fn from(e: Error) -> Self {
        let retryable = e.is_retryable();
        pacbot_core::Error::Provider { provider: "azure".into(), message: e.to_string(), retryable }
    }
}
