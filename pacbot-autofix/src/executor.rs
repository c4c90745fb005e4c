//! Running one fix on one resource: dry-run by default; when applying, the
//! backup and the audit record are stored before anything changes.
//!
//! Architecture invariant: [`Executor::run`] never calls [`Fix::apply`] in
//! [`Mode::DryRun`], and in [`Mode::Apply`] it calls it only after the
//! backup and an audit record (status `applying`) are in the store; the
//! audit record then gets the result.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, AssetId};
use pacbot_store::{FixKind, FixRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Fix, FixPlan, FixTarget};
use crate::params::Params;

/// Whether fixes change anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Plan and record only; touch nothing (the default).
    #[default]
    DryRun,
    /// Back up, audit, then change the resource.
    Apply,
}

impl Mode {
    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry_run",
            Mode::Apply => "apply",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Dry-run: the plan was recorded, nothing changed.
    Planned,
    /// The resource was changed.
    Applied,
    /// The resource needed no change.
    AlreadyFixed,
    /// A backup was restored.
    RolledBack,
    /// Planning, backing up or applying failed.
    Failed,
}

impl RunStatus {
    /// The snake-case name (also the audit record's status).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Planned => "dry_run",
            RunStatus::Applied => "applied",
            RunStatus::AlreadyFixed => "already_fixed",
            RunStatus::RolledBack => "rolled_back",
            RunStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one run of a fix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixRun {
    /// The fix key.
    pub fix: String,
    /// The resource.
    pub target: AssetId,
    /// The mode it ran in.
    pub mode: Mode,
    /// How it ended.
    pub status: RunStatus,
    /// The plan (absent when planning failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<FixPlan>,
    /// What happened, for humans.
    pub message: String,
    /// The audit record.
    pub action_id: String,
    /// The backup record, when one was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
}

/// Runs fixes, recording plans, backups and audits in a [`Store`].
#[derive(Debug)]
pub struct Executor {
    store: Arc<dyn Store>,
    actor: String,
    mode: Mode,
    seq: AtomicU64,
}

impl Executor {
    /// An executor in dry-run mode; `actor` is who the audit records name.
    pub fn new(store: Arc<dyn Store>, actor: impl Into<String>) -> Self {
        Self { store, actor: actor.into(), mode: Mode::DryRun, seq: AtomicU64::new(0) }
    }

    /// Sets the mode: [`Mode::Apply`] is the explicit switch that lets fixes change things.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn next_id(&self, kind: &str, now: DateTime<Utc>) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{kind}-{}-{n}", now.timestamp_micros())
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        id: &str,
        kind: FixKind,
        policy_id: &str,
        asset: &AssetId,
        status: &str,
        data: Value,
        now: DateTime<Utc>,
    ) -> FixRecord {
        FixRecord {
            id: id.to_owned(),
            kind,
            policy_id: policy_id.to_owned(),
            asset: asset.clone(),
            status: status.to_owned(),
            data,
            created_at: now,
            updated_at: now,
        }
    }

    /// Plans the fix on the target and, in apply mode, backs up, audits and
    /// applies it. `policy_id` names the policy (or a finding's rule) the
    /// records belong to. A failure of the fix is a [`RunStatus::Failed`]
    /// run (recorded); only a store failure is an `Err`.
    pub async fn run(
        &self,
        fix: &dyn Fix,
        target: &FixTarget,
        params: &Params,
        policy_id: &str,
        now: DateTime<Utc>,
    ) -> Result<FixRun> {
        let key = fix.info().key.to_owned();
        let asset = target.asset.id.clone();
        let action_id = self.next_id("action", now);
        let mut audit = json!({
            "fix": key, "mode": self.mode, "actor": self.actor, "at": now,
            "target": asset, "params": params,
        });
        let finish = |status: RunStatus, plan: Option<FixPlan>, message: String, backup_id: Option<String>| FixRun {
            fix: key.clone(),
            target: asset.clone(),
            mode: self.mode,
            status,
            plan,
            message,
            action_id: action_id.clone(),
            backup_id,
        };
        let put = |status: RunStatus, audit: &Value| {
            self.record(&action_id, FixKind::Action, policy_id, &asset, status.as_str(), audit.clone(), now)
        };

        let plan = match fix.plan(target, params).await {
            Ok(mut p) => {
                p.params = params.clone();
                p
            }
            Err(e) => {
                let message = format!("planning failed: {e}");
                audit["result"] = json!({"status": RunStatus::Failed, "message": message});
                self.store.put_fix_record(put(RunStatus::Failed, &audit)).await?;
                return Ok(finish(RunStatus::Failed, None, message, None));
            }
        };
        audit["plan"] = plan.to_json();
        if self.mode == Mode::DryRun || plan.is_noop() {
            let (status, message) = if plan.is_noop() {
                (RunStatus::AlreadyFixed, format!("already fixed: {}", plan.summary))
            } else {
                (RunStatus::Planned, format!("dry run, nothing changed: {}", plan.summary))
            };
            audit["result"] = json!({"status": status, "message": message});
            self.store.put_fix_record(put(status, &audit)).await?;
            return Ok(finish(status, Some(plan), message, None));
        }

        // Apply: the backup first.
        let before = match fix.backup(target, params).await {
            Ok(b) => b,
            Err(e) => {
                let message = format!("backup failed, nothing changed: {e}");
                audit["result"] = json!({"status": RunStatus::Failed, "message": message});
                self.store.put_fix_record(put(RunStatus::Failed, &audit)).await?;
                return Ok(finish(RunStatus::Failed, Some(plan), message, None));
            }
        };
        let backup_id = self.next_id("backup", now);
        let backup_data = json!({
            "fix": key, "asset": target.asset, "params": params, "taken_at": now, "before": before,
        });
        self.store
            .put_fix_record(self.record(&backup_id, FixKind::Backup, policy_id, &asset, "stored", backup_data, now))
            .await?;
        // Then the audit record, before the change.
        audit["before"] = before;
        audit["backup_id"] = json!(backup_id);
        audit["result"] = json!({"status": "applying"});
        let mut record = put(RunStatus::Applied, &audit);
        record.status = "applying".to_owned();
        self.store.put_fix_record(record).await?;

        let (status, message, after) = match fix.apply(target, params).await {
            Ok(ApplyOutcome::Applied { message, after }) => (RunStatus::Applied, message, after),
            Ok(ApplyOutcome::AlreadyFixed { message }) => (RunStatus::AlreadyFixed, message, Value::Null),
            Err(e) => (RunStatus::Failed, format!("applying failed: {e}"), Value::Null),
        };
        audit["after"] = after;
        audit["result"] = json!({"status": status, "message": message});
        self.store.put_fix_record(put(status, &audit)).await?;
        Ok(finish(status, Some(plan), message, Some(backup_id)))
    }

    /// Rolls back an applied fix from its backup (by the audit record's id).
    /// In dry-run, says what it would restore and changes nothing.
    pub async fn rollback(&self, catalogue: &Catalogue, action_id: &str, now: DateTime<Utc>) -> Result<FixRun> {
        let action = self.store.fix_record(action_id).await?;
        if action.kind != FixKind::Action || action.status != RunStatus::Applied.as_str() {
            return Err(Error::InvalidConfig {
                path: format!("rollback.{action_id}"),
                reason: format!(
                    "only an applied fix can be rolled back; this record is a {} {}",
                    action.status, action.kind
                ),
            });
        }
        let backup_id = action.data.get("backup_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let backup = self.store.fix_record(&backup_id).await?;
        let key = backup.data.get("fix").and_then(Value::as_str).unwrap_or_default();
        let fix = catalogue.get(key)?;
        let asset: Asset = serde_json::from_value(backup.data.get("asset").cloned().unwrap_or(Value::Null))
            .map_err(|e| Error::InvalidConfig { path: format!("backup.{backup_id}.asset"), reason: e.to_string() })?;
        let before = backup.data.get("before").cloned().unwrap_or(Value::Null);
        let target = FixTarget::asset(asset);
        let id = self.next_id("rollback", now);
        let mut audit = json!({
            "fix": key, "mode": self.mode, "actor": self.actor, "at": now, "target": backup.asset,
            "rollback_of": action_id, "backup_id": backup_id, "restore": before,
        });
        let (status, message) = if self.mode == Mode::DryRun {
            (RunStatus::Planned, format!("dry run: would restore the backup `{backup_id}`"))
        } else if !fix.info().rollback {
            return Err(Error::RollbackUnsupported { fix: key.to_owned() });
        } else {
            match fix.rollback(&target, &before).await {
                Ok(outcome) => (RunStatus::RolledBack, outcome.message().to_owned()),
                Err(e) => (RunStatus::Failed, format!("rollback failed: {e}")),
            }
        };
        audit["result"] = json!({"status": status, "message": message});
        self.store
            .put_fix_record(self.record(
                &id,
                FixKind::Action,
                &backup.policy_id,
                &backup.asset,
                status.as_str(),
                audit,
                now,
            ))
            .await?;
        if status == RunStatus::RolledBack {
            let mut original = action;
            original.status = RunStatus::RolledBack.as_str().to_owned();
            original.data["rolled_back_by"] = json!(id);
            original.updated_at = now;
            self.store.put_fix_record(original).await?;
        }
        Ok(FixRun {
            fix: key.to_owned(),
            target: backup.asset,
            mode: self.mode,
            status,
            plan: None,
            message,
            action_id: id,
            backup_id: Some(backup_id),
        })
    }
}
