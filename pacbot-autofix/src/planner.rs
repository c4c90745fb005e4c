//! The policy-fix planner: after each scan, per open violation of a policy
//! that names a fix, notify the owner → wait the grace period → remind →
//! fix; or fix at once and send a summary ("silent" fixes).
//!
//! ```text
//!              first seen open                 reminder time            due (grace over)
//!   (none) ───────────────────▶ notified ───────────────────▶ reminded ──────────────────▶ fix ─▶ fixed
//!                                  │  ▲                          │                        (dry-run: plan only,
//!        exception applies         ▼  │ exception gone            ▼                         stays due)
//!                                suspended ◀──────────────────────┘
//!   violation no longer open or exempted: resolved
//! ```
//!
//! Architecture invariant: a fix runs only for a violation that is open and
//! that no exception exempts *at the run's time* (an exception granted since
//! the last scan counts), on an asset in the policy's allow-listed accounts
//! (opt-in: none by default) matching its optional criteria, once the grace
//! period since the owner was notified has passed (silent fixes have none),
//! at most `max_per_run` per policy per run — and through the
//! [`Executor`], which never applies in dry-run and stores the backup and
//! audit first. The planner's state per violation is a [`FixKind::Plan`]
//! record in the store. An exception granted during the grace period
//! suspends the plan; when it expires the plan resumes with a new notice and
//! a due time no earlier than a full grace period later.
//!
//! The planner takes the time as an argument ([`Planner::run`]), so a test
//! drives it with a fake clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use pacbot_core::{Asset, Criteria, ExceptionSet, Violation, ViolationKey, ViolationStatus};
use pacbot_store::{FixFilter, FixKind, FixRecord, StoreExt, ViolationFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::executor::{Executor, FixRun, RunStatus};
use crate::fix::{Catalogue, Fix, FixTarget};
use crate::notify::{Message, MessageKind, Notifier, send_all};
use crate::params::Params;

fn default_grace() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_cap() -> usize {
    10
}

fn default_owner_tag() -> String {
    "Owner".to_owned()
}

mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
    }

    pub mod option {
        use std::time::Duration;

        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}

/// How one policy's violations are fixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFix {
    /// The policy.
    pub policy_id: String,
    /// The fix key (usually the policy's `fix`).
    pub fix: String,
    /// The fix's parameters, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    /// How long after notifying the owner the fix runs (`"24h"` by default).
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub grace: Duration,
    /// When to remind, counted from the notice (half the grace period by default).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "humantime_serde::option")]
    pub remind_after: Option<Duration>,
    /// Fix at once, without notice or grace, and send a summary.
    #[serde(default)]
    pub silent: bool,
    /// The accounts where the fix may run (opt-in: none when empty).
    #[serde(default)]
    pub allowed_accounts: BTreeSet<String>,
    /// Only assets matching these criteria are fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<Criteria>,
    /// At most this many fixes (or dry-run plans) per run (the blast radius).
    #[serde(default = "default_cap")]
    pub max_per_run: usize,
}

impl PolicyFix {
    /// A configuration with the defaults: 24 h grace, nothing allow-listed, cap 10.
    pub fn new(policy_id: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            policy_id: policy_id.into(),
            fix: fix.into(),
            params: BTreeMap::new(),
            grace: default_grace(),
            remind_after: None,
            silent: false,
            allowed_accounts: BTreeSet::new(),
            criteria: None,
            max_per_run: default_cap(),
        }
    }

    /// Allows an account.
    #[must_use]
    pub fn allow_account(mut self, account: impl Into<String>) -> Self {
        self.allowed_accounts.insert(account.into());
        self
    }

    /// Sets the grace period.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets the cap per run.
    #[must_use]
    pub fn with_cap(mut self, cap: usize) -> Self {
        self.max_per_run = cap;
        self
    }

    /// Makes the fix silent.
    #[must_use]
    pub fn silent(mut self) -> Self {
        self.silent = true;
        self
    }

    /// Sets the criteria filter.
    #[must_use]
    pub fn with_criteria(mut self, criteria: Criteria) -> Self {
        self.criteria = Some(criteria);
        self
    }

    fn remind_after(&self) -> Duration {
        self.remind_after.unwrap_or(self.grace / 2)
    }
}

/// The planner's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannerConfig {
    /// The fixed policies.
    pub policies: Vec<PolicyFix>,
    /// The tag naming an asset's owner (an e-mail address); `Owner` by default.
    #[serde(default = "default_owner_tag")]
    pub owner_tag: String,
    /// Who is notified when an asset has no owner tag.
    #[serde(default)]
    pub default_recipients: Vec<String>,
    /// Who receives the summaries of silent fixes.
    #[serde(default)]
    pub summary_recipients: Vec<String>,
}

impl PlannerConfig {
    /// A configuration of these policies with the defaults.
    #[must_use]
    pub fn new(policies: Vec<PolicyFix>) -> Self {
        Self {
            policies,
            owner_tag: default_owner_tag(),
            default_recipients: Vec::new(),
            summary_recipients: Vec::new(),
        }
    }

    /// Parses JSON; errors name the path (`policies[1].grace`).
    pub fn from_json(text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| Error::InvalidConfig { path: e.path().to_string(), reason: e.inner().to_string() })
    }
}

/// What the planner decided for one violation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The owner was told; the fix is due at `due_at`.
    Notified {
        /// When the fix becomes due.
        due_at: DateTime<Utc>,
    },
    /// The owner was reminded.
    Reminded {
        /// When the fix becomes due.
        due_at: DateTime<Utc>,
    },
    /// Nothing to do yet.
    Waiting {
        /// Why.
        reason: String,
    },
    /// An exception exempts the violation; the plan is suspended.
    Suspended {
        /// The exception.
        exception_id: String,
    },
    /// The exception ended; the owner was told again.
    Resumed {
        /// When the fix becomes due.
        due_at: DateTime<Utc>,
    },
    /// The fix ran (in dry-run: was planned).
    Ran {
        /// The run.
        run: Box<FixRun>,
    },
    /// Due, but the run's cap is reached.
    Deferred {
        /// Why.
        reason: String,
    },
    /// Not eligible: outside the allow-list or the criteria.
    Skipped {
        /// Why.
        reason: String,
    },
    /// The violation is no longer open; the plan is closed.
    Resolved,
    /// Something failed for this violation (the others went on).
    Failed {
        /// What.
        message: String,
    },
}

/// One decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanDecision {
    /// The violation.
    pub violation: ViolationKey,
    /// The decision.
    pub decision: Decision,
}

/// What one run of the planner did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlannerReport {
    /// When it ran.
    pub at: Option<DateTime<Utc>>,
    /// Per violation, in policy then key order.
    pub decisions: Vec<PlanDecision>,
    /// Notifications that could not be sent.
    pub notify_errors: Vec<String>,
}

impl PlannerReport {
    /// The runs of fixes.
    pub fn runs(&self) -> impl Iterator<Item = &FixRun> {
        self.decisions.iter().filter_map(|d| match &d.decision {
            Decision::Ran { run } => Some(&**run),
            _ => None,
        })
    }
}

/// The plan's stored state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PlanState {
    fix: String,
    violation: ViolationKey,
    notified_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reminded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspended_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_run: Option<Value>,
}

const NOTIFIED: &str = "notified";
const REMINDED: &str = "reminded";
const SUSPENDED: &str = "suspended";
const FIXED: &str = "fixed";
const FAILED: &str = "failed";
const RESOLVED: &str = "resolved";

fn plan_id(key: &ViolationKey) -> String {
    format!("plan:{}:{}:{}", key.policy_id, key.rule_id, key.asset)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// A policy's fix configuration checked against the catalogue: the fix it
/// names and its parameters, parsed.
#[derive(Debug)]
pub struct PreparedFix {
    /// The configuration as given.
    pub config: PolicyFix,
    /// The fix named by `config.fix`.
    pub fix: Arc<dyn Fix>,
    /// `config.params`, checked against the fix's parameters.
    pub params: Params,
}

impl PreparedFix {
    /// Checks each policy's entry against the catalogue: one entry per
    /// policy, a known fix, valid parameters. Errors name the entry
    /// (`policies[1].fix`).
    pub fn prepare_all(policies: Vec<PolicyFix>, catalogue: &Catalogue) -> Result<Vec<PreparedFix>> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(policies.len());
        for (i, p) in policies.into_iter().enumerate() {
            let invalid =
                |field: &str, reason: String| Error::InvalidConfig { path: format!("policies[{i}].{field}"), reason };
            if !seen.insert(p.policy_id.clone()) {
                return Err(invalid("policy_id", format!("`{}` is configured twice", p.policy_id)));
            }
            let fix = catalogue.get(&p.fix).map_err(|e| invalid("fix", e.to_string()))?.clone();
            let info = fix.info();
            let params =
                Params::from_config(info.key, info.params, &p.params).map_err(|e| invalid("params", e.to_string()))?;
            out.push(PreparedFix { config: p, fix, params });
        }
        Ok(out)
    }
}

/// Notify → grace → remind → fix, per violation, across runs.
#[derive(Debug)]
pub struct Planner {
    policies: Vec<PreparedFix>,
    owner_tag: String,
    default_recipients: Vec<String>,
    summary_recipients: Vec<String>,
    executor: Arc<Executor>,
    notifiers: Vec<Arc<dyn Notifier>>,
}

impl Planner {
    /// Checks the configuration against the catalogue: known fixes, valid
    /// parameters, one entry per policy, a cap of at least one.
    pub fn new(
        config: PlannerConfig,
        catalogue: &Catalogue,
        executor: Arc<Executor>,
        notifiers: Vec<Arc<dyn Notifier>>,
    ) -> Result<Self> {
        let policies = PreparedFix::prepare_all(config.policies, catalogue)?;
        if let Some(i) = policies.iter().position(|p| p.config.max_per_run == 0) {
            return Err(Error::InvalidConfig {
                path: format!("policies[{i}].max_per_run"),
                reason: "the cap must be at least 1".to_owned(),
            });
        }
        Ok(Self {
            policies,
            owner_tag: config.owner_tag,
            default_recipients: config.default_recipients,
            summary_recipients: config.summary_recipients,
            executor,
            notifiers,
        })
    }

    fn recipients(&self, asset: &Asset) -> Vec<String> {
        match asset.tag(&self.owner_tag) {
            Some(owner) if !owner.trim().is_empty() => vec![owner.trim().to_owned()],
            _ => self.default_recipients.clone(),
        }
    }

    async fn notify(&self, report: &mut PlannerReport, message: Message) {
        for e in send_all(&self.notifiers, &message).await {
            report.notify_errors.push(e.to_string());
        }
    }

    /// One run at `now`: reads the policies' open and exempted violations,
    /// the exceptions and the plans from the store, decides, acts, and
    /// stores the plans' new state.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<PlannerReport> {
        let store = self.executor.store().clone();
        let exceptions = store.exception_set().await?;
        let mut report = PlannerReport { at: Some(now), ..PlannerReport::default() };
        for p in &self.policies {
            let filter = ViolationFilter {
                policies: vec![p.config.policy_id.clone()],
                statuses: vec![ViolationStatus::Open, ViolationStatus::Exempted],
                ..ViolationFilter::default()
            };
            let violations = store.all_violations(filter).await?;
            let plan_filter = FixFilter {
                kind: Some(FixKind::Plan),
                policy_id: Some(p.config.policy_id.clone()),
                ..FixFilter::default()
            };
            let mut plans: BTreeMap<String, FixRecord> =
                store.fix_records(&plan_filter).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
            let mut ran = 0usize;
            let mut silent_runs = Vec::new();
            for v in &violations {
                let plan = plans.remove(&plan_id(&v.key));
                let decision = match self.decide(p, v, plan, &exceptions, now, &mut ran, &mut report).await {
                    Ok(d) => d,
                    Err(e) => Decision::Failed { message: e.to_string() },
                };
                if p.config.silent
                    && let Decision::Ran { run } = &decision
                {
                    silent_runs.push((**run).clone());
                }
                report.decisions.push(PlanDecision { violation: v.key.clone(), decision });
            }
            // Plans whose violation is no longer open or exempted.
            for (_, mut plan) in plans {
                if plan.status == RESOLVED {
                    continue;
                }
                let key: Option<ViolationKey> =
                    plan.data.get("violation").cloned().and_then(|v| serde_json::from_value(v).ok());
                plan.status = RESOLVED.to_owned();
                plan.updated_at = now;
                store.put_fix_record(plan).await?;
                if let Some(key) = key {
                    report.decisions.push(PlanDecision { violation: key, decision: Decision::Resolved });
                }
            }
            if !silent_runs.is_empty() {
                let lines: Vec<String> = silent_runs
                    .iter()
                    .map(|r| format!("- {} on {}: {} ({})", r.fix, r.target, r.message, r.status))
                    .collect();
                let message = Message::new(
                    MessageKind::FixSummary,
                    self.summary_recipients.clone(),
                    format!("{} silent fix(es) for policy {}", silent_runs.len(), p.config.policy_id),
                    format!("Mode: {}\n{}", self.executor.mode(), lines.join("\n")),
                )
                .with_data(json!({"policy_id": p.config.policy_id, "runs": silent_runs}));
                self.notify(&mut report, message).await;
            }
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        p: &PreparedFix,
        v: &Violation,
        plan: Option<FixRecord>,
        exceptions: &ExceptionSet,
        now: DateTime<Utc>,
        ran: &mut usize,
        report: &mut PlannerReport,
    ) -> Result<Decision> {
        let store = self.executor.store();
        let asset = store.asset(&v.key.asset).await?.asset;
        if !p.config.allowed_accounts.contains(&asset.id.account) {
            return Ok(Decision::Skipped {
                reason: format!("account `{}` is not allow-listed for this fix", asset.id.account),
            });
        }
        if let Some(c) = &p.config.criteria
            && !c.matches(&asset, now)
        {
            return Ok(Decision::Skipped { reason: "the asset does not match the fix's criteria".to_owned() });
        }
        let exemption = match exceptions.find(&asset, &v.key.policy_id, now) {
            Some(e) => Some(e.id.clone()),
            None if v.status == ViolationStatus::Exempted => v.exception_id.clone().or(Some(String::new())),
            None => None,
        };
        let recipients = self.recipients(&asset);
        let key = p.fix.info().key;
        let mut state: Option<(String, PlanState, FixRecord)> = plan.and_then(|r| {
            let s: PlanState = serde_json::from_value(r.data.clone()).ok()?;
            Some((r.status.clone(), s, r))
        });
        // A fixed (or resolved) plan whose violation changed since starts over.
        if let Some((status, s, r)) = &state
            && (status == RESOLVED || (status == FIXED && v.modified_at > s.fixed_at.unwrap_or(r.updated_at)))
        {
            state = None;
        }

        if let Some(exception_id) = exemption {
            if let Some((status, mut s, record)) = state
                && status != FIXED
            {
                s.suspended_by = Some(exception_id.clone());
                self.save(record, SUSPENDED, &s, now).await?;
            }
            return Ok(Decision::Suspended { exception_id });
        }

        if p.config.silent {
            if state.as_ref().is_some_and(|(status, ..)| status == FIXED) {
                return Ok(Decision::Waiting { reason: "fixed; waiting for a scan to confirm".to_owned() });
            }
            return self.fix_now(p, v, &asset, state, now, ran, &recipients, report).await;
        }

        let Some((status, mut s, record)) = state else {
            let due_at = now + delta(p.config.grace);
            let s = PlanState {
                fix: key.to_owned(),
                violation: v.key.clone(),
                notified_at: now,
                due_at,
                reminded_at: None,
                suspended_by: None,
                fixed_at: None,
                last_run: None,
            };
            self.save(self.new_record(v, now), NOTIFIED, &s, now).await?;
            let message = self.notice(MessageKind::FixNotice, p, v, &asset, recipients, due_at);
            self.notify(report, message).await;
            return Ok(Decision::Notified { due_at });
        };
        match status.as_str() {
            FIXED => Ok(Decision::Waiting { reason: "fixed; waiting for a scan to confirm".to_owned() }),
            SUSPENDED => {
                s.suspended_by = None;
                s.reminded_at = None;
                s.notified_at = now;
                s.due_at = s.due_at.max(now + delta(p.config.grace));
                let due_at = s.due_at;
                self.save(record, NOTIFIED, &s, now).await?;
                let message = self.notice(MessageKind::FixNotice, p, v, &asset, recipients, due_at);
                self.notify(report, message).await;
                Ok(Decision::Resumed { due_at })
            }
            _ if now >= s.due_at => {
                self.fix_now(p, v, &asset, Some((status, s, record)), now, ran, &recipients, report).await
            }
            _ if s.reminded_at.is_none() && now >= s.notified_at + delta(p.config.remind_after()) => {
                s.reminded_at = Some(now);
                let due_at = s.due_at;
                self.save(record, REMINDED, &s, now).await?;
                let message = self.notice(MessageKind::FixReminder, p, v, &asset, recipients, due_at);
                self.notify(report, message).await;
                Ok(Decision::Reminded { due_at })
            }
            _ => Ok(Decision::Waiting { reason: format!("grace period until {}", s.due_at.to_rfc3339()) }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn fix_now(
        &self,
        p: &PreparedFix,
        v: &Violation,
        asset: &Asset,
        state: Option<(String, PlanState, FixRecord)>,
        now: DateTime<Utc>,
        ran: &mut usize,
        recipients: &[String],
        report: &mut PlannerReport,
    ) -> Result<Decision> {
        if *ran >= p.config.max_per_run {
            return Ok(Decision::Deferred {
                reason: format!("the cap of {} fix(es) per run is reached", p.config.max_per_run),
            });
        }
        *ran += 1;
        let target = FixTarget { asset: asset.clone(), violation: Some(v.clone()) };
        let run = self.executor.run(p.fix.as_ref(), &target, &p.params, &v.key.policy_id, now).await?;
        let (status, mut s, record) = state.unwrap_or_else(|| {
            let s = PlanState {
                fix: p.fix.info().key.to_owned(),
                violation: v.key.clone(),
                notified_at: now,
                due_at: now,
                reminded_at: None,
                suspended_by: None,
                fixed_at: None,
                last_run: None,
            };
            (NOTIFIED.to_owned(), s, self.new_record(v, now))
        });
        s.last_run = serde_json::to_value(&run).ok();
        let new_status = match run.status {
            RunStatus::Applied | RunStatus::AlreadyFixed => {
                s.fixed_at = Some(now);
                FIXED
            }
            RunStatus::Failed => FAILED,
            RunStatus::Planned | RunStatus::RolledBack => status.as_str(),
        };
        let new_status = new_status.to_owned();
        self.save(record, &new_status, &s, now).await?;
        if !p.config.silent {
            let message = Message::new(
                MessageKind::FixDone,
                recipients.to_vec(),
                format!("[{}] {} on {}", run.status, run.fix, asset.id.resource_id),
                format!(
                    "{}\n\nPolicy: {}\nResource: {}\n{}",
                    run.message,
                    v.key.policy_id,
                    asset.id,
                    run.plan.as_ref().map(|p| p.render()).unwrap_or_default()
                ),
            )
            .with_data(json!({"violation": v.key, "run": run}));
            self.notify(report, message).await;
        }
        Ok(Decision::Ran { run: Box::new(run) })
    }

    fn notice(
        &self,
        kind: MessageKind,
        p: &PreparedFix,
        v: &Violation,
        asset: &Asset,
        to: Vec<String>,
        due_at: DateTime<Utc>,
    ) -> Message {
        let what = if kind == MessageKind::FixReminder { "Reminder: " } else { "" };
        let name = asset.name.as_deref().unwrap_or(&asset.id.resource_id);
        Message::new(
            kind,
            to,
            format!("{what}{} will be fixed on {} ({})", name, due_at.format("%Y-%m-%d %H:%M UTC"), v.key.policy_id),
            format!(
                "{what}the resource {} violates policy {}: {}\n\nThe fix `{}` will run after {} ({}) unless it is \
                 resolved or an exception is granted.",
                asset.id,
                v.key.policy_id,
                v.reason,
                p.fix.info().key,
                due_at.to_rfc3339(),
                self.executor.mode(),
            ),
        )
        .with_data(json!({"violation": v.key, "fix": p.fix.info().key, "due_at": due_at, "reason": v.reason}))
    }

    fn new_record(&self, v: &Violation, now: DateTime<Utc>) -> FixRecord {
        FixRecord {
            id: plan_id(&v.key),
            kind: FixKind::Plan,
            policy_id: v.key.policy_id.clone(),
            asset: v.key.asset.clone(),
            status: String::new(),
            data: Value::Null,
            created_at: now,
            updated_at: now,
        }
    }

    async fn save(&self, mut record: FixRecord, status: &str, state: &PlanState, now: DateTime<Utc>) -> Result<()> {
        record.status = status.to_owned();
        record.data = serde_json::to_value(state).unwrap_or(Value::Null);
        record.updated_at = now;
        self.executor.store().put_fix_record(record).await?;
        Ok(())
    }
}
