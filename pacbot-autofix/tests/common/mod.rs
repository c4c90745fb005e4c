//! Test support: a fake fix that records what it is asked to do, and stores seeded with violations.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use pacbot_autofix::{ApplyOutcome, Change, Fix, FixInfo, FixPlan, FixTarget, ParamKind, ParamSpec, Params, Result};
use pacbot_core::{Asset, AssetId, Category, Coverage, Severity, Violation, ViolationKey, ViolationStatus};
use pacbot_store::{FixFilter, FixKind, MemoryStore, ScanCommit, ScanStart, SqliteStore, Store};
use serde_json::{Value, json};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// The two backends every planner test runs against.
pub async fn stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    vec![
        ("memory", Arc::new(MemoryStore::new()) as Arc<dyn Store>),
        ("sqlite", Arc::new(SqliteStore::open_in_memory().await.unwrap()) as Arc<dyn Store>),
    ]
}

pub const KIND: &str = "aws.s3.bucket";

pub fn asset(account: &str, id: &str) -> Asset {
    Asset::new(AssetId::new("aws", account, "us-east-1", KIND, id))
        .with_name(id)
        .with_tag("Owner", format!("{id}@example.com"))
        .with_tag("Env", if id.ends_with('p') { "prod" } else { "dev" })
}

pub fn violation(policy: &str, a: &Asset, at: DateTime<Utc>) -> Violation {
    Violation {
        key: ViolationKey { policy_id: policy.into(), rule_id: "r".into(), asset: a.id.clone() },
        status: ViolationStatus::Open,
        severity: Severity::High,
        category: Category::Security,
        reason: "the bucket is public".into(),
        details: Value::Null,
        exception_id: None,
        created_at: at,
        modified_at: at,
        closed_at: None,
        close_reason: None,
    }
}

/// Commits one scan holding these assets and open violations of `policy` on them.
pub async fn seed(store: &dyn Store, policy: &str, assets: &[Asset], at: DateTime<Utc>) {
    let scan = store.begin_scan(ScanStart::new("seed", at)).await.unwrap();
    let mut commit = ScanCommit::new(scan.id, at);
    let mut coverage = Coverage::new();
    for a in assets {
        coverage.complete(a.id.scope());
    }
    commit.coverage = coverage;
    commit.assets = assets.to_vec();
    commit.violations = assets.iter().map(|a| violation(policy, a, at)).collect();
    store.commit_scan(commit).await.unwrap();
}

/// What the fake fix was asked to do.
#[derive(Debug, Default)]
pub struct Calls {
    pub plans: Vec<String>,
    pub backups: Vec<String>,
    pub applies: Vec<String>,
    pub rollbacks: Vec<String>,
}

/// A fix over `aws.s3.bucket` that flips an in-memory "public" flag, and
/// checks at apply time that the backup and the audit record are stored.
#[derive(Debug)]
pub struct FakeFix {
    pub calls: Arc<Mutex<Calls>>,
    pub public: Arc<Mutex<BTreeSet<String>>>,
    pub store: Arc<dyn Store>,
    pub fail_apply: bool,
}

impl FakeFix {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { calls: Arc::default(), public: Arc::default(), store, fail_apply: false }
    }
}

const PARAMS: &[ParamSpec] =
    &[ParamSpec::with_default("level", ParamKind::OneOf(&["all", "acl"]), "all", "what to block")];

#[async_trait]
impl Fix for FakeFix {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "fake-block-public",
            aliases: &["fake_block"],
            title: "Blocks public access (in memory)",
            kinds: &[KIND],
            params: PARAMS,
            permissions: &["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, target: &FixTarget, _params: &Params) -> Result<FixPlan> {
        let id = target.resource_id().to_owned();
        self.calls.lock().unwrap().plans.push(id.clone());
        if !self.public.lock().unwrap().contains(&id) {
            return Ok(FixPlan::already_fixed("fake-block-public", target, "the bucket is private"));
        }
        Ok(FixPlan::changes(
            "fake-block-public",
            target,
            "block public access",
            vec![Change::new(
                "s3:PutBucketPublicAccessBlock",
                "block",
                json!({"public": true}),
                json!({"public": false}),
            )],
        ))
    }

    async fn backup(&self, target: &FixTarget, _params: &Params) -> Result<Value> {
        let id = target.resource_id().to_owned();
        self.calls.lock().unwrap().backups.push(id.clone());
        Ok(json!({"public": self.public.lock().unwrap().contains(&id)}))
    }

    async fn apply(&self, target: &FixTarget, _params: &Params) -> Result<ApplyOutcome> {
        let id = target.resource_id().to_owned();
        // Invariant 6: the backup and the audit record are stored before the change.
        let records = self
            .store
            .fix_records(&FixFilter { asset: Some(target.asset.id.clone()), ..FixFilter::default() })
            .await
            .unwrap();
        assert!(records.iter().any(|r| r.kind == FixKind::Backup), "no backup stored before apply on {id}");
        assert!(
            records.iter().any(|r| r.kind == FixKind::Action && r.status == "applying"),
            "no audit record before apply on {id}"
        );
        self.calls.lock().unwrap().applies.push(id.clone());
        if self.fail_apply {
            return Err(pacbot_autofix::Error::provider("aws", "s3:PutBucketPublicAccessBlock", "access denied"));
        }
        if self.public.lock().unwrap().remove(&id) {
            Ok(ApplyOutcome::applied("blocked", json!({"public": false})))
        } else {
            Ok(ApplyOutcome::already("already private"))
        }
    }

    async fn rollback(&self, target: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let id = target.resource_id().to_owned();
        self.calls.lock().unwrap().rollbacks.push(id.clone());
        if backup["public"] == json!(true) {
            self.public.lock().unwrap().insert(id);
        }
        Ok(ApplyOutcome::applied("restored", backup.clone()))
    }
}
