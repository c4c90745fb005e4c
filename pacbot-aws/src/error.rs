//! The one error type of `pacbot-aws`.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Why an AWS call failed, as far as discovery cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// Throttled even after the retries (`Throttling`, `SlowDown`, `RequestLimitExceeded`, …).
    Throttled,
    /// The credentials lack a permission (`AccessDenied`, `UnauthorizedOperation`, …).
    PermissionDenied,
    /// The service or region is not enabled for the account (`OptInRequired`, …).
    NotEnabled,
    /// No answer in time.
    Timeout,
    /// The resource does not exist (`NoSuchBucket`, `NoSuchEntity`, …).
    NotFound,
    /// A server error (5xx) that outlasted the retries.
    Server,
    /// Anything else (a network failure, an unexpected answer, …).
    Other,
}

impl FailureKind {
    /// A short lowercase name (`throttled`, `permission denied`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Throttled => "throttled",
            FailureKind::PermissionDenied => "permission denied",
            FailureKind::NotEnabled => "not enabled",
            FailureKind::Timeout => "timed out",
            FailureKind::NotFound => "not found",
            FailureKind::Server => "server error",
            FailureKind::Other => "failed",
        }
    }
}

/// Everything that can go wrong in `pacbot-aws`.
///
/// Messages are lowercase and name the service, operation, account and region
/// concerned. A failed API call during discovery does not fail the scan: it
/// becomes a failed scope in the coverage, with this error's message.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An AWS API call failed (after the SDK's retries).
    #[error("{operation} ({service}) in account `{account}`, region `{region}` {}: {message}", kind.as_str())]
    Api {
        /// The service (`ec2`, `s3`, `iam`, …).
        service: &'static str,
        /// The operation (`DescribeInstances`, …).
        operation: &'static str,
        /// The account.
        account: String,
        /// The region (`global` for global services).
        region: String,
        /// What kind of failure.
        kind: FailureKind,
        /// AWS's error code, when it sent one.
        code: Option<String>,
        /// What happened.
        message: String,
    },

    /// Credentials for an account could not be had (the caller's identity, or `sts:AssumeRole`).
    #[error("cannot get credentials for account `{account}`: {message}")]
    Credentials {
        /// The account (`self` while the caller's own account is unknown).
        account: String,
        /// What happened.
        message: String,
    },

    /// The connector's configuration is invalid.
    #[error("invalid AWS connector configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether trying again later may help (throttling, time-outs, server errors).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Api { kind: FailureKind::Throttled | FailureKind::Timeout | FailureKind::Server, .. })
    }

    /// The failure kind of an API error.
    #[must_use]
    pub fn kind(&self) -> Option<FailureKind> {
        match self {
            Error::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// AWS's error code of an API error.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

impl From<Error> for pacbot_core::Error {
    fn from(e: Error) -> Self {
        let retryable = e.is_retryable();
        pacbot_core::Error::Provider { provider: "aws".into(), message: e.to_string(), retryable }
    }
}

/// Where a call was made, to name it in errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    pub service: &'static str,
    pub operation: &'static str,
    pub account: &'a str,
    pub region: &'a str,
}

impl Call<'_> {
    /// Turns an SDK error into an [`Error::Api`].
    pub(crate) fn error<E>(&self, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = match &err {
            SdkError::ServiceError(s) => Some(s.raw().status().as_u16()),
            _ => None,
        };
        let code = err.code().map(str::to_owned);
        let (kind, message) = match &err {
            SdkError::TimeoutError(_) => (FailureKind::Timeout, "no answer in time".to_owned()),
            SdkError::DispatchFailure(d) if d.is_timeout() => (FailureKind::Timeout, "no answer in time".to_owned()),
            SdkError::DispatchFailure(_) => (FailureKind::Other, format!("cannot reach the endpoint: {}", chain(&err))),
            SdkError::ResponseError(_) => (FailureKind::Other, format!("unexpected answer: {}", chain(&err))),
            _ => {
                let message = err.message().map_or_else(|| chain(&err), str::to_owned);
                (classify(code.as_deref(), status), message)
            }
        };
        Error::Api {
            service: self.service,
            operation: self.operation,
            account: self.account.to_owned(),
            region: self.region.to_owned(),
            kind,
            code,
            message,
        }
    }
}

/// An error and its sources, as one line.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The failure kind of an AWS error code (and HTTP status).
#[must_use]
pub fn classify(code: Option<&str>, status: Option<u16>) -> FailureKind {
    match code.unwrap_or_default() {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "BandwidthLimitExceeded"
        | "EC2ThrottledException"
        | "RequestThrottledError"
        | "PriorRequestNotComplete" => FailureKind::Throttled,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedAccess"
        | "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "AllAccessDisabled"
        | "InvalidAccessKeyId" => FailureKind::PermissionDenied,
        "OptInRequired" | "SubscriptionRequiredException" | "InvalidRegion" | "ServiceNotEnabled" | "NotSignedUp" => {
            FailureKind::NotEnabled
        }
        "RequestTimeout" | "RequestTimeoutException" => FailureKind::Timeout,
        c if c.starts_with("NoSuch") || c.contains("NotFound") => FailureKind::NotFound,
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "InternalServerError" => FailureKind::Server,
        _ => match status {
            Some(401 | 403) => FailureKind::PermissionDenied,
            Some(404) => FailureKind::NotFound,
            Some(429) => FailureKind::Throttled,
            Some(500..=599) => FailureKind::Server,
            _ => FailureKind::Other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_classify() {
        assert_eq!(classify(Some("Throttling"), Some(400)), FailureKind::Throttled);
        assert_eq!(classify(Some("SlowDown"), Some(503)), FailureKind::Throttled);
        assert_eq!(classify(Some("AccessDenied"), Some(403)), FailureKind::PermissionDenied);
        assert_eq!(classify(Some("UnauthorizedOperation"), None), FailureKind::PermissionDenied);
        assert_eq!(classify(Some("OptInRequired"), None), FailureKind::NotEnabled);
        assert_eq!(classify(Some("NoSuchBucketPolicy"), Some(404)), FailureKind::NotFound);
        assert_eq!(classify(Some("InvalidGroup.NotFound"), Some(400)), FailureKind::NotFound);
        assert_eq!(classify(None, Some(500)), FailureKind::Server);
        assert_eq!(classify(Some("Weird"), Some(400)), FailureKind::Other);
    }

    #[test]
    fn messages_name_the_call() {
        let e = Error::Api {
            service: "ec2",
            operation: "DescribeInstances",
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            kind: FailureKind::PermissionDenied,
            code: Some("UnauthorizedOperation".into()),
            message: "You are not authorized".into(),
        };
        assert_eq!(
            e.to_string(),
            "DescribeInstances (ec2) in account `123456789012`, region `eu-west-1` permission denied: You are not authorized"
        );
        assert!(!e.is_retryable());
        let core: pacbot_core::Error = e.into();
        assert!(core.to_string().starts_with("aws failed: DescribeInstances"));
    }
}
