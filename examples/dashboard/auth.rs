//! Who is asking: static API tokens (kept as SHA-256 hashes only) and OIDC
//! JWTs validated against the issuer's key set — a file, or fetched from the
//! issuer (see [`keys`](super::keys)); roles and asset-group scopes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::keys::RemoteKeys;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read every view (of its groups, when scoped).
    Reader,
    /// Read, and change groups, exceptions and policies.
    Admin,
}

impl Role {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's name or the JWT's subject.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The asset groups the caller is limited to; `None` for everything.
    pub groups: Option<Vec<String>>,
}

impl Principal {
    /// Whether the caller may see this asset group.
    pub fn may_see(&self, group: &str) -> bool {
        self.groups.as_ref().is_none_or(|gs| gs.iter().any(|g| g == group))
    }

    /// Fails with 403 unless the caller is an unscoped admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role != Role::Admin {
            return Err(ApiError::forbidden(format!("`{}` is a reader; this needs the admin role", self.name)));
        }
        if self.groups.is_some() {
            return Err(ApiError::forbidden(format!(
                "`{}` is limited to some asset groups; administration needs an unscoped admin",
                self.name
            )));
        }
        Ok(())
    }
}

/// The SHA-256 of a token, in lowercase hex: what configurations store.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A static token, by the hash of its secret.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who the token is for (shown in audit stamps).
    pub name: String,
    /// The SHA-256 of the token, hex.
    pub sha256: String,
    /// The role it grants.
    pub role: Role,
    /// The asset groups it is limited to; absent for everything.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// OIDC: JWTs of one issuer and audience, signed by a key of the issuer's
/// key set: a file (`jwks_file`), else fetched from `jwks_url`, else from the
/// `jwks_uri` of the issuer's discovery document
/// (`{issuer}/.well-known/openid-configuration`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// The `aud` tokens must carry.
    pub audience: String,
    /// A file with the issuer's JSON Web Key Set (relative to the configuration file).
    #[serde(default)]
    pub jwks_file: Option<String>,
    /// Where to fetch the key set, instead of the issuer's discovery document.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// How long fetched keys are used before they are fetched again, in seconds.
    #[serde(default = "default_jwks_ttl")]
    pub jwks_ttl_secs: u64,
    /// The least time between two fetches caused by tokens naming a key the
    /// set does not have (or by failed fetches), in seconds: garbage tokens
    /// cannot make the server hammer the issuer.
    #[serde(default = "default_jwks_refresh")]
    pub jwks_min_refresh_secs: u64,
    /// The claim listing the caller's roles (a string or a list).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// The value of that claim that makes an admin; any other caller is a reader.
    #[serde(default = "default_admin_value")]
    pub admin_value: String,
    /// The claim listing the asset groups the caller is limited to; absent for everything.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
}

fn default_jwks_ttl() -> u64 {
    3600
}
fn default_jwks_refresh() -> u64 {
    60
}
fn default_roles_claim() -> String {
    "roles".into()
}
fn default_admin_value() -> String {
    "pacbot-admin".into()
}
fn default_groups_claim() -> String {
    "pacbot_groups".into()
}

impl OidcConfig {
    /// An issuer and audience; keys from the issuer's discovery document, the
    /// default claims and timings (for programs that set the dashboard up in
    /// code, as its tests do; the command line reads the file).
    #[allow(dead_code, reason = "the command line configures OIDC from a file")]
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_file: None,
            jwks_url: None,
            jwks_ttl_secs: default_jwks_ttl(),
            jwks_min_refresh_secs: default_jwks_refresh(),
            roles_claim: default_roles_claim(),
            admin_value: default_admin_value(),
            groups_claim: default_groups_claim(),
        }
    }
}

/// The authentication configuration file (TOML).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Static tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// OIDC.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

/// Where an issuer's keys are.
#[derive(Clone)]
enum Keys {
    /// A key set given once (a file).
    Fixed(Arc<JwkSet>),
    /// Fetched from the issuer, cached, refreshed.
    Remote(Arc<RemoteKeys>),
}

/// A configured OIDC issuer with its keys.
#[derive(Clone)]
struct Oidc {
    config: OidcConfig,
    keys: Keys,
}

/// Why a JWT was refused, and whether the issuer's current key set might
/// hold the key it names.
struct Refused {
    error: ApiError,
    unknown_key: bool,
}

/// Authenticates bearer credentials.
#[derive(Clone, Default)]
pub struct Auth {
    tokens: HashMap<String, TokenConfig>,
    oidc: Option<Oidc>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("tokens", &self.tokens.len()).field("oidc", &self.oidc.is_some()).finish()
    }
}

/// The algorithms a JWT may be signed with: asymmetric only, so a public
/// key can never be used as an HMAC secret.
const JWT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Auth {
    /// No credentials at all: every request is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether any way to authenticate is configured.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.oidc.is_none()
    }

    /// Adds a static token by its configuration (hash). Fails on a malformed hash.
    pub fn add_token(&mut self, token: TokenConfig) -> Result<(), String> {
        let hash = token.sha256.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("token `{}`: `sha256` must be 64 hexadecimal digits", token.name));
        }
        if token.name.trim().is_empty() {
            return Err("a token has an empty name".into());
        }
        self.tokens.insert(hash, token);
        Ok(())
    }

    /// Adds a static token given in clear (tests, `--demo`): only its hash is kept.
    pub fn with_token(mut self, name: &str, secret: &str, role: Role, groups: Option<Vec<String>>) -> Self {
        let config = TokenConfig { name: name.into(), sha256: hash_token(secret), role, groups };
        self.tokens.insert(config.sha256.clone(), config);
        self
    }

    /// Sets the OIDC issuer and its key set.
    pub fn with_oidc(mut self, config: OidcConfig, keys: JwkSet) -> Self {
        self.oidc = Some(Oidc { config, keys: Keys::Fixed(Arc::new(keys)) });
        self
    }

    /// Sets the OIDC issuer, its keys fetched from the issuer (`jwks_url`, or
    /// the discovery document); call [`Auth::connect`] before serving.
    pub fn with_remote_oidc(mut self, config: OidcConfig) -> Result<Self, String> {
        let remote = RemoteKeys::new(&config)?;
        self.oidc = Some(Oidc { config, keys: Keys::Remote(Arc::new(remote)) });
        Ok(self)
    }

    /// Fetches the issuer's keys when they come from the issuer: fails,
    /// saying why, when it is unreachable or answers something else than a
    /// discovery document and a key set with a usable key. Nothing to do
    /// for static tokens and key files.
    pub async fn connect(&self) -> Result<(), String> {
        match self.oidc.as_ref().map(|o| &o.keys) {
            Some(Keys::Remote(r)) => r.fetch_now().await.map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Who the bearer credential is, as [`Auth::authenticate`] — but a JWT
    /// naming a key the issuer's cached set lacks makes the server fetch the
    /// set again first (at most once per `jwks_min_refresh_secs`), and keys
    /// older than `jwks_ttl_secs` are fetched again.
    pub async fn verify(&self, credential: &str) -> Result<Principal, ApiError> {
        let Some(Oidc { keys: Keys::Remote(remote), .. }) = &self.oidc else {
            return self.authenticate(credential);
        };
        remote.refresh_if_stale().await;
        match self.check(credential) {
            Err(Refused { unknown_key: true, error }) => {
                if remote.refresh_for_unknown_key().await {
                    self.check(credential).map_err(|r| r.error)
                } else {
                    Err(error)
                }
            }
            other => other.map_err(|r| r.error),
        }
    }

    /// Reads an authentication configuration file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let config: AuthConfig = toml::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
        let mut auth = Auth::new();
        for t in config.tokens {
            auth.add_token(t).map_err(|e| format!("`{}`: {e}", path.display()))?;
        }
        if let Some(oidc) = config.oidc {
            match &oidc.jwks_file {
                Some(file) => {
                    let dir = path.parent().unwrap_or(Path::new(""));
                    let jwks_path = dir.join(file);
                    let text = std::fs::read_to_string(&jwks_path)
                        .map_err(|e| format!("cannot read the key set `{}`: {e}", jwks_path.display()))?;
                    let keys: JwkSet = serde_json::from_str(&text)
                        .map_err(|e| format!("the key set `{}` is not a JWK set: {e}", jwks_path.display()))?;
                    auth = auth.with_oidc(oidc, keys);
                }
                None => auth = auth.with_remote_oidc(oidc).map_err(|e| format!("`{}`: {e}", path.display()))?,
            }
        }
        Ok(auth)
    }

    /// Adds the tokens of `PACBOT_DASHBOARD_TOKENS`-style text:
    /// `name:role:sha256[:group,group]` entries separated by `;` or white space.
    pub fn add_env_tokens(&mut self, text: &str) -> Result<(), String> {
        for entry in text.split(|c: char| c == ';' || c.is_whitespace()).filter(|e| !e.is_empty()) {
            let parts: Vec<&str> = entry.split(':').collect();
            let (name, role, sha256, groups) = match parts.as_slice() {
                [n, r, h] => (*n, *r, *h, None),
                [n, r, h, g] => (*n, *r, *h, Some(g.split(',').map(str::to_owned).collect::<Vec<_>>())),
                _ => return Err(format!("token entry `{}…`: expected `name:role:sha256[:groups]`", short(entry))),
            };
            let role = match role {
                "reader" => Role::Reader,
                "admin" => Role::Admin,
                other => return Err(format!("token `{name}`: unknown role `{other}` (reader or admin)")),
            };
            self.add_token(TokenConfig { name: name.into(), sha256: sha256.into(), role, groups })?;
        }
        Ok(())
    }

    /// Who the bearer credential `credential` is: a static token or a JWT
    /// (checked against the keys at hand: no fetching; see [`Auth::verify`]).
    pub fn authenticate(&self, credential: &str) -> Result<Principal, ApiError> {
        self.check(credential).map_err(|r| r.error)
    }

    fn check(&self, credential: &str) -> Result<Principal, Refused> {
        let refuse = |error| Refused { error, unknown_key: false };
        let credential = credential.trim();
        if credential.is_empty() {
            return Err(refuse(ApiError::unauthorized("empty bearer token")));
        }
        if let Some(t) = self.tokens.get(&hash_token(credential)) {
            return Ok(Principal { name: t.name.clone(), role: t.role, groups: t.groups.clone() });
        }
        if credential.matches('.').count() == 2
            && let Some(oidc) = &self.oidc
        {
            return oidc.validate(credential);
        }
        Err(refuse(ApiError::unauthorized("unknown token")))
    }
}

impl Oidc {
    fn validate(&self, jwt: &str) -> Result<Principal, Refused> {
        let bad = |why: String| Refused {
            error: ApiError::unauthorized(format!("invalid token: {why}")),
            unknown_key: false,
        };
        let header = jsonwebtoken::decode_header(jwt).map_err(|e| bad(e.to_string()))?;
        if !JWT_ALGORITHMS.contains(&header.alg) {
            return Err(bad(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let keys = match &self.keys {
            Keys::Fixed(k) => k.clone(),
            Keys::Remote(r) => r.current(),
        };
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| Refused {
            unknown_key: true,
            ..bad("no key of the issuer's key set matches its `kid`".into())
        })?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(format!("unusable key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<HashMap<String, Value>>(jwt, &key, &validation).map_err(|e| bad(e.to_string()))?;
        let claims = data.claims;
        let name = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(bad("the `sub` claim is empty".into()));
        }
        let strings = |v: Option<&Value>| -> Option<Vec<String>> {
            match v? {
                Value::String(s) => Some(vec![s.clone()]),
                Value::Array(a) => Some(a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
                _ => Some(Vec::new()),
            }
        };
        let roles = strings(claims.get(&self.config.roles_claim)).unwrap_or_default();
        let role = if roles.contains(&self.config.admin_value) { Role::Admin } else { Role::Reader };
        let groups = strings(claims.get(&self.config.groups_claim));
        Ok(Principal { name, role, groups })
    }
}

fn short(s: &str) -> String {
    s.chars().take(24).collect()
}
