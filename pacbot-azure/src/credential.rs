//! Credentials: where the connector's bearer tokens come from.
//!
//! [`TokenCredential`] is the one small trait to implement for any other
//! source of tokens. The crate provides:
//!
//! - [`ClientSecretCredential`]: a service principal's client id and secret,
//!   exchanged at the Microsoft Entra ID token endpoint (the authority host is
//!   configurable: sovereign clouds, tests);
//! - [`AzureCliCredential`]: the signed-in Azure CLI (`az account get-access-token`);
//! - [`ManagedIdentityCredential`]: the managed identity of the VM, App Service
//!   or container the scanner runs on (IMDS, or the `IDENTITY_ENDPOINT` of App
//!   Service and Container Apps);
//! - [`StaticTokenCredential`]: a token obtained elsewhere;
//! - [`ChainedCredential`]: the first of several that works.
//!
//! Tokens are cached by the connector until five minutes before they expire.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::error::Error;

/// The public cloud's Microsoft Entra ID authority.
pub const AZURE_PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";

/// A bearer token and when it expires.
#[derive(Clone)]
pub struct AccessToken {
    /// The token.
    pub token: String,
    /// When it stops being valid.
    pub expires_on: DateTime<Utc>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("token", &"<redacted>").field("expires_on", &self.expires_on).finish()
    }
}

/// A source of bearer tokens for a scope (`https://management.azure.com/.default`).
#[async_trait]
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// A token for the scope.
    async fn get_token(&self, scope: &str) -> Result<AccessToken, Error>;
}

/// A service principal with a client secret.
#[derive(Clone)]
pub struct ClientSecretCredential {
    tenant_id: String,
    client_id: String,
    secret: String,
    authority: String,
    http: Arc<dyn azure_core::HttpClient>,
}

impl fmt::Debug for ClientSecretCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecretCredential")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl ClientSecretCredential {
    /// A service principal of `tenant_id` with the public cloud's authority.
    pub fn new(tenant_id: impl Into<String>, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            secret: secret.into(),
            authority: AZURE_PUBLIC_AUTHORITY.into(),
            http: azure_core::new_http_client(),
        }
    }

    /// Uses another authority host (`https://login.microsoftonline.us`,
    /// `https://login.chinacloudapi.cn`, a test server).
    #[must_use]
    pub fn with_authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into().trim_end_matches('/').to_owned();
        self
    }

    fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    /// Seconds; Entra ID sends a number, some endpoints a string.
    expires_in: Option<serde_json::Value>,
    /// Seconds since the epoch (managed identity endpoints), number or string.
    expires_on: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

fn seconds(v: Option<&serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl TokenResponse {
    /// The token of a response body, or why there is none.
    fn parse(tenant: &str, status: u16, body: &[u8]) -> Result<AccessToken, Error> {
        let err = |reason: String| Error::Credential { tenant: tenant.to_owned(), reason };
        let r: TokenResponse = serde_json::from_slice(body)
            .map_err(|e| err(format!("HTTP {status}, the token response is not JSON ({e})")))?;
        if let Some(e) = r.error {
            return Err(err(format!("{e}: {}", r.error_description.unwrap_or_default())));
        }
        let token = r.access_token.ok_or_else(|| err(format!("HTTP {status}, the response has no access_token")))?;
        let now = Utc::now();
        let expires_on = match (seconds(r.expires_on.as_ref()), seconds(r.expires_in.as_ref())) {
            (Some(at), _) => DateTime::from_timestamp(at, 0).unwrap_or(now),
            (None, Some(secs)) => now + Duration::seconds(secs),
            (None, None) => now + Duration::minutes(5),
        };
        Ok(AccessToken { token, expires_on })
    }
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let Ok(mut u) = azure_core::Url::parse("x:/") else { return String::new() };
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or_default().to_owned()
}

async fn send(
    http: &dyn azure_core::HttpClient,
    tenant: &str,
    req: &azure_core::Request,
) -> Result<(u16, bytes::Bytes), Error> {
    let err = |reason: String| Error::Credential { tenant: tenant.to_owned(), reason };
    let rsp = http.execute_request(req).await.map_err(|e| err(format!("`{}`: {e}", req.url())))?;
    let (status, _, body) = rsp.deconstruct();
    let body = body.collect().await.map_err(|e| err(format!("`{}`: {e}", req.url())))?;
    Ok((u16::from(status), body))
}

#[async_trait]
impl TokenCredential for ClientSecretCredential {
    async fn get_token(&self, scope: &str) -> Result<AccessToken, Error> {
        let url = self.token_url();
        let parsed = azure_core::Url::parse(&url).map_err(|e| Error::InvalidConfig {
            field: "authority".into(),
            reason: format!("`{url}` is not a URL: {e}"),
        })?;
        let mut req = azure_core::Request::new(parsed, azure_core::Method::Post);
        req.insert_header(azure_core::headers::CONTENT_TYPE, "application/x-www-form-urlencoded");
        req.set_body(form_encode(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_secret", &self.secret),
            ("scope", scope),
        ]));
        let (status, body) = send(self.http.as_ref(), &self.tenant_id, &req).await?;
        TokenResponse::parse(&self.tenant_id, status, &body)
    }
}

/// The Azure CLI's signed-in account (`az account get-access-token`).
///
/// The program is `az`, found on `PATH`, unless [`with_program`] names
/// another (an absolute path, a wrapper script, a test double).
///
/// [`with_program`]: AzureCliCredential::with_program
#[derive(Clone, Debug)]
pub struct AzureCliCredential {
    tenant_id: Option<String>,
    program: std::path::PathBuf,
}

impl Default for AzureCliCredential {
    fn default() -> Self {
        Self { tenant_id: None, program: "az".into() }
    }
}

impl AzureCliCredential {
    /// The CLI's default tenant.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs this program instead of `az` from `PATH`. It is given the same
    /// arguments (`account get-access-token --output json --scope …`).
    #[must_use]
    pub fn with_program(mut self, program: impl Into<std::path::PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// A token of another tenant the signed-in account belongs to.
    #[must_use]
    pub fn with_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CliToken {
    access_token: String,
    /// Seconds since the epoch (Azure CLI 2.54 and later), in snake case
    /// beside the camel-case `expiresOn`, which is a local time without
    /// zone (`2030-01-01 00:00:00.000000`) and is not used.
    #[serde(rename = "expires_on")]
    expires_on: Option<i64>,
}

#[async_trait]
impl TokenCredential for AzureCliCredential {
    async fn get_token(&self, scope: &str) -> Result<AccessToken, Error> {
        let tenant = self.tenant_id.clone().unwrap_or_else(|| "(azure cli default)".into());
        let err = |reason: String| Error::Credential { tenant: tenant.clone(), reason };
        let program = self.program.display().to_string();
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(["account", "get-access-token", "--output", "json", "--scope", scope]);
        if let Some(t) = &self.tenant_id {
            cmd.args(["--tenant", t]);
        }
        let out = cmd.output().await.map_err(|e| err(format!("cannot run `{program}`: {e}")))?;
        if !out.status.success() {
            return Err(err(format!(
                "`{program} account get-access-token` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let t: CliToken = serde_json::from_slice(&out.stdout)
            .map_err(|e| err(format!("unexpected output of `{program} account get-access-token`: {e}")))?;
        let expires_on = t
            .expires_on
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .unwrap_or_else(|| Utc::now() + Duration::minutes(5));
        Ok(AccessToken { token: t.access_token, expires_on })
    }
}

/// The managed identity of the host.
///
/// With `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` set (App Service, Functions,
/// Container Apps) it asks that endpoint; otherwise the instance metadata
/// service (`http://169.254.169.254`) of a VM or scale set. `with_client_id`
/// picks a user-assigned identity.
#[derive(Clone)]
pub struct ManagedIdentityCredential {
    client_id: Option<String>,
    endpoint: Option<(String, String)>,
    imds: String,
    http: Arc<dyn azure_core::HttpClient>,
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityCredential").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl Default for ManagedIdentityCredential {
    fn default() -> Self {
        Self::new()
    }
}

impl ManagedIdentityCredential {
    /// The system-assigned identity, found from the environment.
    #[must_use]
    pub fn new() -> Self {
        let endpoint = match (std::env::var("IDENTITY_ENDPOINT"), std::env::var("IDENTITY_HEADER")) {
            (Ok(e), Ok(h)) => Some((e, h)),
            _ => None,
        };
        Self {
            client_id: None,
            endpoint,
            imds: "http://169.254.169.254/metadata/identity/oauth2/token".into(),
            http: azure_core::new_http_client(),
        }
    }

    /// A user-assigned identity, by client id.
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Asks another instance metadata endpoint (tests).
    #[must_use]
    pub fn with_imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.imds = url.into();
        self.endpoint = None;
        self
    }
}

#[async_trait]
impl TokenCredential for ManagedIdentityCredential {
    async fn get_token(&self, scope: &str) -> Result<AccessToken, Error> {
        let tenant = "managed identity";
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        let (url, header, api) = match &self.endpoint {
            Some((e, h)) => (e.clone(), Some(("x-identity-header", h.clone())), "2019-08-01"),
            None => (self.imds.clone(), Some(("metadata", "true".to_owned())), "2018-02-01"),
        };
        let mut parsed = azure_core::Url::parse(&url).map_err(|e| Error::InvalidConfig {
            field: "IDENTITY_ENDPOINT".into(),
            reason: format!("`{url}` is not a URL: {e}"),
        })?;
        {
            let mut q = parsed.query_pairs_mut();
            q.append_pair("api-version", api).append_pair("resource", resource);
            if let Some(c) = &self.client_id {
                q.append_pair("client_id", c);
            }
        }
        let mut req = azure_core::Request::new(parsed, azure_core::Method::Get);
        if let Some((k, v)) = header {
            req.insert_header(k, v);
        }
        let (status, body) = send(self.http.as_ref(), tenant, &req).await?;
        TokenResponse::parse(tenant, status, &body)
    }
}

/// A fixed token obtained elsewhere (valid for an hour from creation unless
/// told otherwise).
#[derive(Clone)]
pub struct StaticTokenCredential {
    token: AccessToken,
}

impl fmt::Debug for StaticTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenCredential").finish_non_exhaustive()
    }
}

impl StaticTokenCredential {
    /// A token valid for an hour.
    pub fn new(token: impl Into<String>) -> Self {
        Self { token: AccessToken { token: token.into(), expires_on: Utc::now() + Duration::hours(1) } }
    }
}

#[async_trait]
impl TokenCredential for StaticTokenCredential {
    async fn get_token(&self, _scope: &str) -> Result<AccessToken, Error> {
        Ok(self.token.clone())
    }
}

/// Tries credentials in order and uses the first that gives a token.
#[derive(Clone, Debug)]
pub struct ChainedCredential {
    chain: Vec<Arc<dyn TokenCredential>>,
}

impl ChainedCredential {
    /// A chain of credentials.
    #[must_use]
    pub fn new(chain: Vec<Arc<dyn TokenCredential>>) -> Self {
        Self { chain }
    }

    /// The Azure CLI, then the host's managed identity.
    #[must_use]
    pub fn cli_then_managed_identity() -> Self {
        Self::new(vec![Arc::new(AzureCliCredential::new()), Arc::new(ManagedIdentityCredential::new())])
    }
}

#[async_trait]
impl TokenCredential for ChainedCredential {
    async fn get_token(&self, scope: &str) -> Result<AccessToken, Error> {
        let mut reasons = Vec::new();
        for c in &self.chain {
            match c.get_token(scope).await {
                Ok(t) => return Ok(t),
                Err(e) => reasons.push(e.to_string()),
            }
        }
        Err(Error::Credential {
            tenant: "(chain)".into(),
            reason: format!("no credential worked: {}", reasons.join("; ")),
        })
    }
}

/// A credential with a token cache, usable by `azure_core` clients.
#[derive(Debug)]
pub(crate) struct Cached {
    inner: Arc<dyn TokenCredential>,
    tenant: String,
    cache: tokio::sync::Mutex<Option<(String, AccessToken)>>,
}

impl Cached {
    pub(crate) fn new(inner: Arc<dyn TokenCredential>, tenant: &str) -> Self {
        Self { inner, tenant: tenant.to_owned(), cache: tokio::sync::Mutex::new(None) }
    }

    pub(crate) async fn token(&self, scope: &str) -> Result<AccessToken, Error> {
        let mut cache = self.cache.lock().await;
        if let Some((s, t)) = cache.as_ref()
            && s == scope
            && t.expires_on - Duration::minutes(5) > Utc::now()
        {
            return Ok(t.clone());
        }
        let t = self.inner.get_token(scope).await.map_err(|e| match e {
            Error::Credential { reason, .. } => Error::Credential { tenant: self.tenant.clone(), reason },
            other => other,
        })?;
        *cache = Some((scope.to_owned(), t.clone()));
        Ok(t)
    }
}

#[async_trait]
impl azure_core::auth::TokenCredential for Cached {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<azure_core::auth::AccessToken> {
        let scope = scopes.first().copied().unwrap_or_default();
        let t =
            self.token(scope).await.map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Credential, e))?;
        let expires = time::OffsetDateTime::from_unix_timestamp(t.expires_on.timestamp())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Ok(azure_core::auth::AccessToken::new(t.token, expires))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        *self.cache.lock().await = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_responses() {
        let t = TokenResponse::parse("t", 200, br#"{"token_type":"Bearer","expires_in":3599,"access_token":"abc"}"#)
            .unwrap();
        assert_eq!(t.token, "abc");
        assert!(t.expires_on > Utc::now() + Duration::minutes(59));
        let t = TokenResponse::parse("t", 200, br#"{"access_token":"x","expires_on":"1900000000"}"#).unwrap();
        assert_eq!(t.expires_on.timestamp(), 1_900_000_000);
        let e = TokenResponse::parse("t1", 401, br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`t1`") && e.contains("invalid_client") && e.contains("AADSTS7000215"), "{e}");
        let e = TokenResponse::parse("t1", 502, b"<html>").unwrap_err().to_string();
        assert!(e.contains("HTTP 502") && e.contains("not JSON"), "{e}");
        assert!(format!("{t:?}").contains("redacted"));
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(form_encode(&[("a", "b c"), ("s", "x&y=z/")]), "a=b+c&s=x%26y%3Dz%2F");
    }
}
