//! Remediation bots (CloudBots style): a finding event from outside whose
//! compliance tags carry `AUTO: bot_name params…` lines dispatches those
//! bots; each run yields a [`BotResult`] sent to the configured sinks.
//!
//! ```json
//! {
//!   "id": "finding-42",
//!   "account": {"id": "123456789012", "name": "prod"},
//!   "region": "us-east-1",
//!   "entity": {"id": "i-0abc", "type": "Instance", "name": "web-1"},
//!   "rule": {"name": "Instances must not be reachable from the internet",
//!            "complianceTags": "CIS|AUTO: ec2_stop_instance|AUTO: ec2_create_snapshot"}
//! }
//! ```
//!
//! `complianceTags` may be one string (parts separated by `|` or new
//! lines) or a list. The entity type is a CloudBots name (`Instance`,
//! `SecurityGroup`, `S3Bucket`, `IamUser`, …) or a pacbot kind
//! (`aws.ec2.instance`). In single-account mode a finding of another
//! account is skipped; in multi-account mode the bots act in the finding's
//! account (the AWS catalogue assumes the configured role there).
//!
//! Nothing here panics on input: a malformed event, an unknown bot or bad
//! parameters give a `failed` result with the reason.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::executor::{Executor, FixRun, RunStatus};
use crate::fix::{Catalogue, FixExt, FixTarget};
use crate::notify::{Message, MessageKind, Notifier, send_all};
use crate::params::AutoLine;

/// Where bots act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum AccountMode {
    /// Only in the account of the bots' own credentials.
    Single {
        /// That account's id.
        account: String,
    },
    /// In any account, through a role assumed there.
    Multi {
        /// The role's name in every target account.
        role_name: String,
    },
}

impl AccountMode {
    /// The role ARN to assume in `account`, in multi-account mode.
    #[must_use]
    pub fn role_arn(&self, account: &str) -> Option<String> {
        match self {
            AccountMode::Multi { role_name } => Some(format!("arn:aws:iam::{account}:role/{role_name}")),
            AccountMode::Single { .. } => None,
        }
    }
}

/// The event's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAccount {
    /// The account id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
}

/// The resource the finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// The resource id (instance id, bucket name, group id, user name).
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Compliance tags: one text, or a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ComplianceTags {
    /// `"CIS|AUTO: bot a=1"`.
    Text(String),
    /// `["CIS", "AUTO: bot a=1"]`.
    List(Vec<String>),
}

/// The rule that produced the finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRule {
    /// The rule's name.
    pub name: String,
    /// Its compliance tags, with the `AUTO:` lines.
    #[serde(rename = "complianceTags", alias = "compliance_tags")]
    pub compliance_tags: ComplianceTags,
}

/// A finding event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEvent {
    /// The finding's id.
    #[serde(default, alias = "findingKey")]
    pub id: Option<String>,
    /// The account.
    pub account: EventAccount,
    /// The region (`global` for global resources).
    pub region: String,
    /// The resource.
    pub entity: Entity,
    /// The rule.
    pub rule: EventRule,
}

/// CloudBots entity types and pacbot kinds.
const KINDS: &[(&str, &str)] = &[
    ("instance", "aws.ec2.instance"),
    ("ec2", "aws.ec2.instance"),
    ("securitygroup", "aws.ec2.security_group"),
    ("s3bucket", "aws.s3.bucket"),
    ("s3", "aws.s3.bucket"),
    ("bucket", "aws.s3.bucket"),
    ("volume", "aws.ec2.volume"),
    ("ebs", "aws.ec2.volume"),
    ("elasticip", "aws.ec2.address"),
    ("eip", "aws.ec2.address"),
    ("address", "aws.ec2.address"),
    ("iamuser", "aws.iam.user"),
    ("user", "aws.iam.user"),
    ("iamrole", "aws.iam.role"),
    ("role", "aws.iam.role"),
    ("iampolicy", "aws.iam.policy"),
    ("accesskey", "aws.iam.user"),
    ("account", "aws.iam.account_summary"),
    ("iam", "aws.iam.account_summary"),
    ("passwordpolicy", "aws.iam.password_policy"),
    ("region", "aws.ec2.account_settings"),
];

impl FindingEvent {
    /// Parses and checks an event; errors name the path (`entity.id`).
    pub fn from_json(text: &str) -> Result<FindingEvent> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let event: FindingEvent = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Error::InvalidEvent { path, reason: e.inner().to_string() }
        })?;
        event.validate()?;
        Ok(event)
    }

    fn validate(&self) -> Result<()> {
        let invalid =
            |path: &str, reason: &str| Err(Error::InvalidEvent { path: path.to_owned(), reason: reason.to_owned() });
        if self.account.id.trim().is_empty() {
            return invalid("account.id", "the account id is empty");
        }
        if self.region.trim().is_empty() {
            return invalid("region", "the region is empty");
        }
        if self.entity.id.trim().is_empty() {
            return invalid("entity.id", "the entity id is empty");
        }
        if self.rule.name.trim().is_empty() {
            return invalid("rule.name", "the rule name is empty");
        }
        self.kind().map(|_| ())
    }

    /// The pacbot kind of the entity.
    pub fn kind(&self) -> Result<&'static str> {
        let t = self.entity.kind.trim();
        let squashed: String = t.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        KINDS
            .iter()
            .find(|(name, kind)| *name == squashed || kind.eq_ignore_ascii_case(t))
            .map(|(_, kind)| *kind)
            .ok_or_else(|| Error::InvalidEvent {
                path: "entity.type".to_owned(),
                reason: format!("unknown entity type `{t}`"),
            })
    }

    /// The `AUTO:` lines of the rule's compliance tags, each parsed.
    #[must_use]
    pub fn auto_lines(&self) -> Vec<Result<AutoLine>> {
        match &self.rule.compliance_tags {
            ComplianceTags::Text(t) => AutoLine::find_all(t),
            ComplianceTags::List(l) => l.iter().flat_map(|t| AutoLine::find_all(t)).collect(),
        }
    }

    /// The entity as an asset.
    pub fn asset(&self) -> Result<Asset> {
        let id = AssetId::new("aws", self.account.id.trim(), self.region.trim(), self.kind()?, self.entity.id.trim());
        let mut asset = Asset::new(id);
        asset.name = self.entity.name.clone();
        Ok(asset)
    }
}

/// How a bot's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotStatus {
    /// It did its job (or, in dry-run, planned it; or nothing was needed).
    Passed,
    /// It failed, or could not start (bad line, unknown bot, bad event).
    Failed,
    /// It did not run (another account in single-account mode, no `AUTO:` line).
    Skipped,
}

/// One bot's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotResult {
    /// The bot, as named in the line (`-` when the event itself was bad).
    pub bot: String,
    /// How it ended.
    pub status: BotStatus,
    /// What happened.
    pub message: String,
    /// The finding's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    /// The resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<AssetId>,
    /// The fix's run, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<FixRun>,
}

impl BotResult {
    fn failed(bot: &str, finding: Option<String>, target: Option<AssetId>, e: &Error) -> Self {
        Self { bot: bot.to_owned(), status: BotStatus::Failed, message: e.to_string(), finding, target, run: None }
    }
}

/// Dispatches finding events to bots.
#[derive(Debug)]
pub struct Dispatcher {
    catalogue: Arc<Catalogue>,
    executor: Arc<Executor>,
    accounts: AccountMode,
    sinks: Vec<Arc<dyn Notifier>>,
}

impl Dispatcher {
    /// A dispatcher; the executor's mode (dry-run by default) applies to every bot.
    pub fn new(catalogue: Arc<Catalogue>, executor: Arc<Executor>, accounts: AccountMode) -> Self {
        Self { catalogue, executor, accounts, sinks: Vec::new() }
    }

    /// Adds a sink for the results.
    #[must_use]
    pub fn with_sink(mut self, sink: Arc<dyn Notifier>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Handles an event given as JSON text. Never fails: a malformed event
    /// is one failed result.
    pub async fn handle_json(&self, text: &str, now: DateTime<Utc>) -> Vec<BotResult> {
        match FindingEvent::from_json(text) {
            Ok(event) => self.handle(&event, now).await,
            Err(e) => {
                let results = vec![BotResult::failed("-", None, None, &e)];
                self.send(&results).await;
                results
            }
        }
    }

    /// Runs every bot the event's `AUTO:` lines name, in order, and sends the results.
    pub async fn handle(&self, event: &FindingEvent, now: DateTime<Utc>) -> Vec<BotResult> {
        let results = self.dispatch(event, now).await;
        self.send(&results).await;
        results
    }

    async fn dispatch(&self, event: &FindingEvent, now: DateTime<Utc>) -> Vec<BotResult> {
        let finding = event.id.clone();
        let asset = match event.validate().and_then(|()| event.asset()) {
            Ok(a) => a,
            Err(e) => return vec![BotResult::failed("-", finding, None, &e)],
        };
        let target_id = Some(asset.id.clone());
        let lines = event.auto_lines();
        if lines.is_empty() {
            return vec![BotResult {
                bot: "-".to_owned(),
                status: BotStatus::Skipped,
                message: "the finding's compliance tags have no `AUTO:` line".to_owned(),
                finding,
                target: target_id,
                run: None,
            }];
        }
        let mut out = Vec::new();
        for line in lines {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    out.push(BotResult::failed("-", finding.clone(), target_id.clone(), &e));
                    continue;
                }
            };
            if let AccountMode::Single { account } = &self.accounts
                && account != &asset.id.account
            {
                out.push(BotResult {
                    bot: line.bot.clone(),
                    status: BotStatus::Skipped,
                    message: format!(
                        "account `{}` is not this bot's account `{account}` (single-account mode)",
                        asset.id.account
                    ),
                    finding: finding.clone(),
                    target: target_id.clone(),
                    run: None,
                });
                continue;
            }
            let prepared = self.catalogue.get(&line.bot).and_then(|fix| {
                let params = fix.parse_params(&line.args)?;
                let target = FixTarget::asset(asset.clone());
                fix.check_kind(&target)?;
                Ok((fix.clone(), params, target))
            });
            let (fix, params, target) = match prepared {
                Ok(p) => p,
                Err(e) => {
                    let e = Error::InvalidAutoLine { line: line.to_string(), reason: e.to_string() };
                    out.push(BotResult::failed(&line.bot, finding.clone(), target_id.clone(), &e));
                    continue;
                }
            };
            let result = match self.executor.run(fix.as_ref(), &target, &params, &event.rule.name, now).await {
                Ok(run) => BotResult {
                    bot: line.bot.clone(),
                    status: if run.status == RunStatus::Failed { BotStatus::Failed } else { BotStatus::Passed },
                    message: run.message.clone(),
                    finding: finding.clone(),
                    target: target_id.clone(),
                    run: Some(run),
                },
                Err(e) => BotResult::failed(&line.bot, finding.clone(), target_id.clone(), &e),
            };
            out.push(result);
        }
        out
    }

    async fn send(&self, results: &[BotResult]) {
        for r in results {
            let target = r.target.as_ref().map(ToString::to_string).unwrap_or_default();
            let message = Message::new(
                MessageKind::BotResult,
                Vec::new(),
                format!("[{}] {} {}", json!(r.status).as_str().unwrap_or_default(), r.bot, target),
                r.message.clone(),
            )
            .with_data(serde_json::to_value(r).unwrap_or(Value::Null));
            // A sink that fails does not stop the others, nor the bots.
            let _ = send_all(&self.sinks, &message).await;
        }
    }
}
