//! The TOML configuration: sources, policy packs, asset groups, compliance
//! settings and the store. Every problem names the file, the path inside it
//! and the reason.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use pacbot::{AssetGroup, ComplianceConfig};
use serde::Deserialize;

use super::cli::DemoVariant;
use super::demo;

/// One problem in a configuration or policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file (or other origin).
    pub file: String,
    /// Where inside it (`sources[1].regions[0]`); empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl Problem {
    pub fn new(file: impl Into<String>, path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { file: file.into(), path: path.into(), reason: reason.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: at `{}`: {}", self.file, self.path, self.reason)
        }
    }
}

/// Problems as one error.
pub fn problems_error(problems: &[Problem]) -> super::error::Error {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    super::error::Error::msg(format!("invalid configuration:\n{}", lines.join("\n")))
}

/// The configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Scan settings.
    #[serde(default)]
    pub scan: ScanSection,
    /// Where assets come from.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Which policies.
    #[serde(default)]
    pub policies: PolicySection,
    /// Asset groups (stored at each scan, beside those added with `groups add`).
    #[serde(default)]
    pub groups: Vec<AssetGroup>,
    /// Mandatory tags, taggable kinds, category weights.
    #[serde(default)]
    pub compliance: ComplianceConfig,
    /// Where scans are committed.
    #[serde(default)]
    pub store: StoreSection,
    /// Auto-fix: which policies are fixed, how, and who is told (`scanner fix`).
    #[serde(default)]
    pub autofix: AutofixSection,
}

/// `[autofix]`: the planner's configuration for `scanner fix` (read only in
/// builds with the `autofix` feature; checked in every build).
#[cfg_attr(not(feature = "autofix"), allow(dead_code))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutofixSection {
    /// The fixed policies: `policy_id`, and optionally `fix` (default: the
    /// policy's own fix key), `params`, `grace`, `remind_after`, `silent`,
    /// `allowed_accounts` (opt-in: none by default), `criteria`, `max_per_run`.
    #[serde(default)]
    pub policies: Vec<toml::Table>,
    /// The tag naming an asset's owner (default `Owner`).
    pub owner_tag: Option<String>,
    /// Who is told when an asset has no owner tag.
    #[serde(default)]
    pub default_recipients: Vec<String>,
    /// Who receives the summaries of silent fixes.
    #[serde(default)]
    pub summary_recipients: Vec<String>,
    /// Also offer the destructive fixes (delete a bucket, terminate an instance).
    #[serde(default)]
    pub impactful: bool,
    /// A webhook receiving every notice as a JSON POST.
    pub webhook: Option<String>,
    /// An SMTP server sending every notice as e-mail (`host`, `port`, `security`, `from`, …).
    pub smtp: Option<toml::Table>,
    /// Where fixes run on AWS.
    #[serde(default)]
    pub aws: AutofixAws,
}

/// `[autofix.aws]`: one account (`account`, the credentials' own) or any
/// account through a role of the same name in each (`role_name`).
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutofixAws {
    /// The account of the credentials (single-account mode).
    pub account: Option<String>,
    /// The role assumed in each violation's account (multi-account mode).
    pub role_name: Option<String>,
    /// The region of the clients that are not regional (default `us-east-1`).
    pub region: Option<String>,
    /// An endpoint instead of AWS's (moto, LocalStack).
    pub endpoint_url: Option<String>,
}

/// `[scan]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// The label of the scans.
    #[serde(default = "default_label")]
    pub label: String,
}

fn default_label() -> String {
    "scan".into()
}

impl Default for ScanSection {
    fn default() -> Self {
        Self { label: default_label() }
    }
}

/// One `[[sources]]` entry.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// A JSON or JSON-lines inventory file.
    Json(JsonSource),
    /// AWS accounts and regions (pacbot-aws's connector, feature `aws`).
    Aws(AwsSource),
    /// Azure subscriptions (pacbot-azure's connector, feature `azure`).
    Azure(AzureSource),
}

impl Source {
    /// One line about the source.
    pub fn describe(&self) -> String {
        match self {
            Source::Json(j) => format!("json inventory `{}`", j.path),
            Source::Aws(a) => format!(
                "aws: profile {}, {} account(s){}{}, regions {}",
                a.profile.as_deref().unwrap_or("(default chain)"),
                a.accounts.len().max(1),
                a.role_arn.as_ref().map(|r| format!(" through `{r}`")).unwrap_or_default(),
                a.external_id.as_ref().map(|_| " with an external id").unwrap_or_default(),
                a.regions.join(", ")
            ),
            Source::Azure(z) => format!(
                "azure: tenant {}, subscriptions {}",
                z.tenant.as_deref().unwrap_or("(default)"),
                z.subscriptions.join(", ")
            ),
        }
    }
}

/// `type = "json"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSource {
    /// The file, relative to the configuration file.
    pub path: String,
}

/// `type = "aws"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSource {
    /// A named profile of the shared AWS configuration; default: the default chain.
    pub profile: Option<String>,
    /// A role to assume in each account (`arn:aws:iam::ACCOUNT:role/NAME`);
    /// `{account}` in it is replaced by each of `accounts`.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires.
    pub external_id: Option<String>,
    /// Accounts to scan through `role_arn`; default: the credentials' own account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Regions to scan.
    pub regions: Vec<String>,
    /// An endpoint instead of AWS's (moto, LocalStack).
    pub endpoint_url: Option<String>,
}

/// `type = "azure"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureSource {
    /// The tenant id or domain.
    pub tenant: Option<String>,
    /// Subscription ids.
    pub subscriptions: Vec<String>,
    /// A service principal's application (client) id; without it the Azure
    /// CLI's login, then a managed identity.
    pub client_id: Option<String>,
    /// The environment variable holding the service principal's secret.
    pub client_secret_env: Option<String>,
    /// A Resource Manager endpoint instead of the public cloud's (sovereign
    /// clouds, a test server).
    pub arm_endpoint: Option<String>,
    /// An Entra ID authority host instead of the public cloud's.
    pub authority: Option<String>,
}

/// `[policies]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Built-in packs by name; `builtin` for every default pack.
    #[serde(default = "default_packs")]
    pub packs: Vec<String>,
    /// Directories of declarative YAML policies, relative to the configuration file.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Policy ids not to evaluate.
    #[serde(default)]
    pub disabled: Vec<String>,
}

fn default_packs() -> Vec<String> {
    vec!["builtin".into()]
}

impl Default for PolicySection {
    fn default() -> Self {
        Self { packs: default_packs(), dirs: Vec::new(), disabled: Vec::new() }
    }
}

/// `[store]`: one of `sqlite` and `postgres`; neither for the default SQLite file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A SQLite file, relative to the configuration file.
    pub sqlite: Option<String>,
    /// A PostgreSQL URL (needs the `postgres` feature).
    pub postgres: Option<String>,
}

/// Where the configuration and the files it names come from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// No configuration file: defaults, relative paths from the working directory.
    None,
    /// A file on disk; relative paths are relative to its directory.
    File(PathBuf),
    /// The bundled demo.
    Demo(DemoVariant),
}

/// A configuration with where it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Where it came from.
    pub origin: Origin,
}

impl Loaded {
    /// The defaults: built-in packs, no sources, the default store.
    pub fn defaults() -> Self {
        Self { config: Config::default(), origin: Origin::None }
    }

    /// Reads and checks a configuration file.
    pub fn from_file(path: &Path) -> Result<Self, Vec<Problem>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![Problem::new(&name, "", format!("cannot read the file: {e}"))])?;
        let config = parse(&name, &text).map_err(|p| vec![p])?;
        let loaded = Self { config, origin: Origin::File(path.to_owned()) };
        loaded.check()?;
        Ok(loaded)
    }

    /// The bundled demo configuration.
    pub fn demo(variant: DemoVariant) -> Result<Self, Vec<Problem>> {
        let config = parse(demo::CONFIG_NAME, demo::CONFIG).map_err(|p| vec![p])?;
        let loaded = Self { config, origin: Origin::Demo(variant) };
        loaded.check()?;
        Ok(loaded)
    }

    /// The configuration's name in messages.
    pub fn name(&self) -> String {
        match &self.origin {
            Origin::None => "(no configuration)".into(),
            Origin::File(p) => p.display().to_string(),
            Origin::Demo(_) => demo::CONFIG_NAME.into(),
        }
    }

    /// A path of the configuration, resolved against its directory.
    pub fn resolve(&self, rel: &str) -> PathBuf {
        let p = Path::new(rel);
        match &self.origin {
            Origin::File(f) if p.is_relative() => f.parent().unwrap_or(Path::new("")).join(p),
            _ => p.to_owned(),
        }
    }

    /// Reads a file the configuration names: its display name and text.
    pub fn read(&self, rel: &str) -> Result<(String, String), String> {
        if let Origin::Demo(variant) = &self.origin {
            return demo::file(*variant, rel)
                .map(|text| (format!("{}/{rel}", demo::DIR), text.to_owned()))
                .ok_or_else(|| format!("the demo has no file `{rel}`"));
        }
        let path = self.resolve(rel);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Ok((path.display().to_string(), text))
    }

    /// Checks what serde cannot: identifiers, formats, references between sections.
    pub fn check(&self) -> Result<(), Vec<Problem>> {
        let file = self.name();
        let mut out = Vec::new();
        let mut bad = |path: String, reason: String| out.push(Problem::new(&file, path, reason));
        let c = &self.config;
        if c.scan.label.trim().is_empty() {
            bad("scan.label".into(), "the label is empty".into());
        }
        for (i, s) in c.sources.iter().enumerate() {
            let at = format!("sources[{i}]");
            match s {
                Source::Json(j) => {
                    if j.path.trim().is_empty() {
                        bad(format!("{at}.path"), "the path is empty".into());
                    } else if !matches!(self.origin, Origin::Demo(_)) && !self.resolve(&j.path).is_file() {
                        bad(format!("{at}.path"), format!("no file `{}`", self.resolve(&j.path).display()));
                    }
                }
                Source::Aws(a) => {
                    if a.regions.is_empty() {
                        bad(format!("{at}.regions"), "name at least one region".into());
                    }
                    for (k, r) in a.regions.iter().enumerate() {
                        if !is_aws_region(r) {
                            bad(
                                format!("{at}.regions[{k}]"),
                                format!("`{r}` is not an AWS region such as `us-east-1`"),
                            );
                        }
                    }
                    for (k, acct) in a.accounts.iter().enumerate() {
                        if acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()) {
                            bad(format!("{at}.accounts[{k}]"), format!("`{acct}` is not a 12-digit account id"));
                        }
                    }
                    match &a.role_arn {
                        Some(arn) if !is_role_arn(arn) => bad(
                            format!("{at}.role_arn"),
                            format!("`{arn}` is not a role ARN such as `arn:aws:iam::{{account}}:role/Audit`"),
                        ),
                        None if !a.accounts.is_empty() => {
                            bad(format!("{at}.accounts"), "scanning other accounts needs a `role_arn` to assume".into())
                        }
                        _ => {}
                    }
                    if let Some(url) = &a.endpoint_url
                        && !(url.starts_with("http://") || url.starts_with("https://"))
                    {
                        bad(format!("{at}.endpoint_url"), format!("`{url}` is not an http(s) URL"));
                    }
                }
                Source::Azure(z) => {
                    if z.subscriptions.is_empty() {
                        bad(format!("{at}.subscriptions"), "name at least one subscription".into());
                    }
                    for (k, s) in z.subscriptions.iter().enumerate() {
                        if !is_guid(s) {
                            bad(format!("{at}.subscriptions[{k}]"), format!("`{s}` is not a subscription id (a GUID)"));
                        }
                    }
                    for (field, url) in [("arm_endpoint", &z.arm_endpoint), ("authority", &z.authority)] {
                        if let Some(url) = url
                            && !(url.starts_with("http://") || url.starts_with("https://"))
                        {
                            bad(format!("{at}.{field}"), format!("`{url}` is not an http(s) URL"));
                        }
                    }
                    if z.client_id.is_some() != z.client_secret_env.is_some() {
                        bad(at.clone(), "give `client_id` and `client_secret_env` together".into());
                    }
                }
            }
        }
        let mut names = BTreeSet::new();
        for (i, g) in c.groups.iter().enumerate() {
            if g.name.trim().is_empty() {
                bad(format!("groups[{i}].name"), "the name is empty".into());
            } else if !names.insert(g.name.as_str()) {
                bad(format!("groups[{i}].name"), format!("duplicate group `{}`", g.name));
            }
        }
        for (cat, w) in &c.compliance.category_weights {
            if !(w.is_finite() && *w >= 0.0) {
                bad(format!("compliance.category_weights.{cat}"), format!("{w} is not a weight of zero or more"));
            }
        }
        for (i, t) in c.compliance.mandatory_tags.iter().enumerate() {
            if t.trim().is_empty() {
                bad(format!("compliance.mandatory_tags[{i}]"), "the tag name is empty".into());
            }
        }
        match (&c.store.sqlite, &c.store.postgres) {
            (Some(_), Some(_)) => bad("store".into(), "give `sqlite` or `postgres`, not both".into()),
            (_, Some(url)) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                bad("store.postgres".into(), "the URL must start with `postgres://` or `postgresql://`".into())
            }
            (Some(p), _) if p.trim().is_empty() => bad("store.sqlite".into(), "the path is empty".into()),
            _ => {}
        }
        for (i, d) in c.policies.dirs.iter().enumerate() {
            if !matches!(self.origin, Origin::Demo(_)) && !self.resolve(d).is_dir() {
                bad(format!("policies.dirs[{i}]"), format!("no directory `{}`", self.resolve(d).display()));
            }
        }
        let fix = &c.autofix;
        for (i, p) in fix.policies.iter().enumerate() {
            if p.get("policy_id").is_none_or(|v| v.as_str().is_none_or(|s| s.trim().is_empty())) {
                bad(format!("autofix.policies[{i}].policy_id"), "name the policy (`policy_id = \"…\"`)".into());
            }
        }
        match (&fix.aws.account, &fix.aws.role_name) {
            (Some(_), Some(_)) => {
                bad("autofix.aws".into(), "give `account` (one account) or `role_name` (any account), not both".into())
            }
            (Some(a), None) if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) => {
                bad("autofix.aws.account".into(), format!("`{a}` is not a 12-digit account id"))
            }
            (None, Some(r)) if r.trim().is_empty() || r.contains('/') || r.contains(':') => {
                bad("autofix.aws.role_name".into(), format!("`{r}` is not a role name (no ARN, no path)"))
            }
            _ => {}
        }
        if let Some(url) = &fix.aws.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bad("autofix.aws.endpoint_url".into(), format!("`{url}` is not an http(s) URL"));
        }
        if let Some(r) = &fix.aws.region
            && !is_aws_region(r)
        {
            bad("autofix.aws.region".into(), format!("`{r}` is not an AWS region such as `us-east-1`"));
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}

/// Parses a configuration; the problem names the path and line.
pub fn parse(name: &str, text: &str) -> Result<Config, Problem> {
    let de = toml::Deserializer::parse(text).map_err(|e| toml_problem(name, text, "", &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        toml_problem(name, text, &path, e.inner())
    })
}

fn toml_problem(name: &str, text: &str, path: &str, e: &toml::de::Error) -> Problem {
    let file = match e.span() {
        Some(span) => {
            let line = text.get(..span.start).map_or(1, |t| t.matches('\n').count() + 1);
            format!("{name}:{line}")
        }
        None => name.to_owned(),
    };
    Problem::new(file, path, e.message().trim().to_owned())
}

fn is_aws_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::").or_else(|| arn.strip_prefix("arn:aws-us-gov:iam::")) else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else { return false };
    (account == "{account}" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))) && !role.is_empty()
}

fn is_guid(s: &str) -> bool {
    let lens: Vec<usize> = s.split('-').map(str::len).collect();
    lens == [8, 4, 4, 4, 12] && s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_aws_region("us-east-1") && is_aws_region("us-gov-west-1") && !is_aws_region("useast1"));
        assert!(is_role_arn("arn:aws:iam::{account}:role/Audit") && !is_role_arn("arn:aws:iam::1:role/x"));
        assert!(is_guid("5f0c8a1e-7c2d-4b7a-9a55-0b3c1d2e4f60") && !is_guid("sub-1"));
    }
}
