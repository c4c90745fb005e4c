//! Data the suite builds its scenarios from, and a scanner's whole flow.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pacbot_core::{
    Asset, AssetId, Category, CategoryCompliance, Compliance, ComplianceConfig, ComplianceReport, Coverage,
    CoverageScope, Engine, Inventory, PolicyCompliance, ReconcileInput, Reconciliation, Severity, TaggingCompliance,
    Transition, TransitionKind, Violation, ViolationKey, ViolationStatus, parse_policies, reconcile,
};
use serde_json::json;

use crate::model::{ScanCommit, ScanRecord, ScanStart};
use crate::store::{Store, StoreExt};

/// The kind of the suite's assets.
pub const BUCKET: &str = "aws.s3.bucket";

/// The policy failing buckets whose versioning is not enabled (medium, governance).
pub const VERSIONING: &str = "s3-versioning-off";

/// The policy failing public buckets (critical, security).
pub const PUBLIC: &str = "s3-public";

/// A scan time: 2026-01-01 plus `hours`, with a sub-microsecond part that
/// every store drops.
#[must_use]
pub fn at(hours: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    base + Duration::hours(hours) + Duration::nanoseconds(123_456_789)
}

/// `t` as the stores keep it (to the microsecond).
#[must_use]
pub fn kept(t: DateTime<Utc>) -> DateTime<Utc> {
    crate::codec::trunc(t)
}

/// An AWS asset id.
#[must_use]
pub fn id(account: &str, region: &str, kind: &str, resource_id: &str) -> AssetId {
    AssetId::new("aws", account, region, kind, resource_id)
}

/// An AWS scope.
#[must_use]
pub fn scope(account: &str, region: &str, kind: &str) -> CoverageScope {
    CoverageScope::new("aws", account, region, kind)
}

/// A bucket: `versioning` is its versioning status, `public` whether it is public.
#[must_use]
pub fn bucket(account: &str, region: &str, name: &str, versioning: &str, public: bool) -> Asset {
    Asset::new(id(account, region, BUCKET, name))
        .with_name(name)
        .with_attributes(json!({"versioning": {"status": versioning}, "public": public, "size": 3}))
        .with_tag("Env", if public { "web" } else { "prod" })
}

/// Coverage with these scopes complete.
#[must_use]
pub fn complete(scopes: &[CoverageScope]) -> Coverage {
    let mut c = Coverage::new();
    for s in scopes {
        c.complete(s.clone());
    }
    c
}

/// The suite's engine: the versioning and public-bucket policies.
#[must_use]
pub fn engine() -> Engine {
    let policies = parse_policies(
        "suite.yaml",
        r#"
policies:
  - id: s3-versioning-off
    name: S3 bucket versioning is off
    severity: medium
    category: governance
    resource: aws.s3.bucket
    fail_when: {path: versioning.status, ne: Enabled}
    reason: "bucket {resource_id} has versioning {versioning.status}"
  - id: s3-public
    name: S3 bucket is public
    severity: critical
    category: security
    resource: aws.s3.bucket
    fail_when: {path: public, eq: true}
    reason: "bucket {resource_id} is public"
"#,
    )
    .expect("the suite's policies parse");
    Engine::new(policies, vec![]).expect("the suite's engine builds")
}

/// What one scan of the suite did.
#[derive(Debug)]
pub struct Scanned {
    /// The committed scan.
    pub record: ScanRecord,
    /// Reconcile's output.
    pub reconciliation: Reconciliation,
}

impl Scanned {
    /// The transition of a violation, if the scan judged it.
    #[must_use]
    pub fn transition(&self, policy: &str, asset: &AssetId) -> Option<TransitionKind> {
        self.reconciliation
            .transitions
            .iter()
            .find(|t| t.key.policy_id == policy && t.key.asset == *asset)
            .map(|t| t.kind)
    }
}

/// A scanner's whole flow: begin, evaluate, read the previous violations of
/// the attempted scopes and the exceptions, reconcile, commit with an
/// overall compliance snapshot.
pub async fn run_scan(
    store: &dyn Store,
    engine: &Engine,
    label: &str,
    now: DateTime<Utc>,
    assets: Vec<Asset>,
    coverage: Coverage,
) -> Scanned {
    let (commit, reconciliation) = plan_scan(store, engine, label, now, assets, coverage).await;
    let record = store.commit_scan(commit).await.expect("commit_scan");
    Scanned { record, reconciliation }
}

/// [`run_scan`] up to the commit: begins the scan and returns what it would commit.
pub async fn plan_scan(
    store: &dyn Store,
    engine: &Engine,
    label: &str,
    now: DateTime<Utc>,
    assets: Vec<Asset>,
    coverage: Coverage,
) -> (ScanCommit, Reconciliation) {
    let scan = store.begin_scan(ScanStart::new(label, now)).await.expect("begin_scan");
    let inventory = Inventory::from_assets(assets);
    let evaluation = engine.evaluate(&inventory, now);
    let previous = store.previous_violations(&coverage).await.expect("previous violations");
    let exceptions = store.exception_set().await.expect("exceptions");
    let reconciliation = reconcile(&ReconcileInput {
        previous: &previous,
        inventory: &inventory,
        evaluation: &evaluation,
        coverage: &coverage,
        exceptions: &exceptions,
        now,
    });
    let report =
        Compliance::new(&inventory, &evaluation, &reconciliation.violations, &ComplianceConfig::default()).overall();
    let commit = ScanCommit::from_scan(scan.id, now, &inventory, coverage, &evaluation, reconciliation.clone())
        .with_snapshot(report);
    (commit, reconciliation)
}

/// A compliance report with round figures (exact in any encoding).
#[must_use]
pub fn report(group: Option<&str>, overall: f64, open: usize) -> ComplianceReport {
    ComplianceReport {
        group: group.map(str::to_owned),
        assets: 4,
        overall,
        categories: vec![CategoryCompliance {
            category: Category::Security,
            percent: overall,
            assessed: true,
            policies: 1,
            open,
        }],
        policies: vec![PolicyCompliance {
            policy_id: PUBLIC.to_owned(),
            name: "S3 bucket is public".to_owned(),
            severity: Severity::Critical,
            category: Category::Security,
            assets_in_scope: 4,
            open,
            exempted: 0,
            unknown: 0,
            percent: overall,
        }],
        tagging: TaggingCompliance { taggable: 4, tagged: 2, percent: 50.0, missing: [("Owner".to_owned(), 2)].into() },
        open,
        exempted: 0,
        unknown: 0,
    }
}

/// The violation as stores keep it (times to the microsecond).
#[must_use]
pub fn kept_violation(mut v: Violation) -> Violation {
    v.created_at = kept(v.created_at);
    v.modified_at = kept(v.modified_at);
    v.closed_at = v.closed_at.map(kept);
    v
}

/// The transition as stores keep it.
#[must_use]
pub fn kept_transition(mut t: Transition) -> Transition {
    t.at = kept(t.at);
    t
}

/// An open violation made by hand, with its `Opened` transition.
#[must_use]
pub fn opened(
    policy: &str,
    asset: AssetId,
    severity: Severity,
    now: DateTime<Utc>,
    reason: &str,
) -> (Violation, Transition) {
    let key = ViolationKey { policy_id: policy.to_owned(), rule_id: policy.to_owned(), asset };
    let v = Violation {
        key: key.clone(),
        status: ViolationStatus::Open,
        severity,
        category: if severity == Severity::Critical { Category::Security } else { Category::Governance },
        reason: reason.to_owned(),
        details: json!({"evidence": reason}),
        exception_id: None,
        created_at: now,
        modified_at: now,
        closed_at: None,
        close_reason: None,
    };
    let t = Transition {
        key,
        kind: TransitionKind::Opened,
        from: None,
        to: ViolationStatus::Open,
        at: now,
        reason: reason.to_owned(),
    };
    (v, t)
}
