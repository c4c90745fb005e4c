//! Administration beyond the catalogue: a scan of one scope, re-evaluating
//! one asset, auto-fix plans and their approval (one-click fix), and
//! dispatching ingested findings to the remediation bots — the JSON API
//! under `/api/admin` and the `/admin/operations` page.
//!
//! Architecture invariants kept here: a scoped scan's coverage names only
//! its scope, so it closes nothing elsewhere; re-evaluating an asset commits
//! nothing; an approved fix never runs on an exempted violation nor outside
//! its allow-list and criteria, and goes through the [`Executor`], which
//! stores the backup and the audit record first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use pacbot::chrono::{DateTime, Utc};
use pacbot::store::{
    AssetFilter, FixFilter, FixKind, FixRecord, RuleResult, ScanCommit, ScanStart, Store, StoreExt, ViolationFilter,
};
use pacbot::{
    Asset, AssetId, Coverage, CoverageScope, Engine, Inventory, Outcome, ReconcileInput, ScopeStatus, Severity,
    Violation, ViolationStatus, reconcile,
};
use pacbot_autofix::{
    AccountMode, BotStatus, Catalogue, Dispatcher, Executor, FixPlan, FixRun, FixTarget, Mode, PlannerConfig,
    PreparedFix, RunStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::api::{self, AssetParam};
use super::app::{ApiQuery, AppState};
use super::auth::Principal;
use super::demo::DemoScan;
use super::error::{ApiError, ApiResult};
use super::scanner::cli::DemoVariant;
use super::scanner::config::Loaded;
use super::scanner::{packs, sources};
use super::ui::{self, User, enc, esc};

// ---------------------------------------------------------------- settings

/// The dashboard's auto-fix set-up: the catalogue of fixes and bots, which
/// policies' violations are fixed by which fix (the planner's
/// configuration: allow-listed accounts, criteria, parameters), and how the
/// bots of ingested findings act.
#[derive(Debug)]
pub struct Autofix {
    catalogue: Arc<Catalogue>,
    policies: Vec<PreparedFix>,
    accounts: AccountMode,
    bot_mode: Mode,
    /// One approval or dispatch at a time, so a double click runs a fix once.
    lock: tokio::sync::Mutex<()>,
}

impl Autofix {
    /// Checks the configuration against the catalogue (known fixes, valid
    /// parameters, one entry per policy); errors name the entry.
    ///
    /// A program embedding the dashboard calls it for [`super::app::Settings::autofix`];
    /// the command line has no fix catalogue to offer (the AWS fixes need the `aws` build).
    #[allow(dead_code)]
    pub fn new(
        catalogue: Catalogue,
        config: PlannerConfig,
        accounts: AccountMode,
        bot_mode: Mode,
    ) -> Result<Self, String> {
        let policies = PreparedFix::prepare_all(config.policies, &catalogue).map_err(|e| e.to_string())?;
        Ok(Self { catalogue: Arc::new(catalogue), policies, accounts, bot_mode, lock: tokio::sync::Mutex::new(()) })
    }
}

fn autofix(state: &AppState) -> ApiResult<&Autofix> {
    state.autofix.as_deref().ok_or_else(|| {
        ApiError::conflict("auto-fix is not configured on this server (no fix catalogue in its settings)")
    })
}

fn demo(state: &AppState) -> ApiResult<&DemoScan> {
    state.demo.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "this server has no scanner configuration: scans and re-evaluation need `--demo` \
             (scanner sources are not configured here)",
        )
    })
}

fn problems(p: &[super::scanner::config::Problem]) -> ApiError {
    ApiError::internal(p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

fn short(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The demo configuration's policies and the stored asset groups, as an engine.
async fn engine(store: &dyn Store, loaded: &Loaded) -> ApiResult<Engine> {
    let policies = packs::load(loaded, &[]).map_err(|p| problems(&p))?;
    let groups = store.groups().await?.into_iter().map(|g| g.group).collect();
    Engine::new(policies.policies, groups).map_err(ApiError::internal)
}

// ---------------------------------------------------------------- scan of one scope

/// The scope of an ad-hoc scan: a provider's account and region, and
/// optionally one kind of resource (the store's coverage scopes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanScope {
    /// `aws`, `azure`, …
    pub provider: String,
    /// The account or subscription.
    pub account: String,
    /// The region or location (`global` for global resources).
    pub region: String,
    /// One kind of resource; every kind when absent.
    #[serde(default)]
    pub kind: Option<String>,
}

impl ScanScope {
    fn validate(&self) -> ApiResult<()> {
        for (field, value) in [("provider", &self.provider), ("account", &self.account), ("region", &self.region)] {
            if value.trim().is_empty() {
                return Err(ApiError::bad_request(format!("`{field}` is empty")));
            }
        }
        if self.kind.as_ref().is_some_and(|k| k.trim().is_empty()) {
            return Err(ApiError::bad_request("`kind` is empty (leave it out for every kind)"));
        }
        Ok(())
    }

    fn covers(&self, s: &CoverageScope) -> bool {
        s.provider == self.provider
            && s.account == self.account
            && s.region == self.region
            && self.kind.as_ref().is_none_or(|k| s.kind.as_str() == k)
    }

    fn contains(&self, a: &AssetId) -> bool {
        a.provider == self.provider
            && a.account == self.account
            && a.region == self.region
            && self.kind.as_ref().is_none_or(|k| a.kind.as_str() == k)
    }
}

impl std::fmt::Display for ScanScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/{}", self.provider, self.account, self.region, self.kind.as_deref().unwrap_or("*"))
    }
}

/// What a scan of one scope did.
#[derive(Debug, Serialize)]
pub struct ScopeScanSummary {
    /// The scan id.
    pub scan: u64,
    /// Its status.
    pub status: String,
    /// The scope asked for.
    pub scope: String,
    /// The coverage scopes the scan committed (only the asked scope's).
    pub coverage: Vec<CoverageScope>,
    /// Assets seen in the scope.
    pub assets: usize,
    /// Transitions by kind (`opened`, `closed_fixed`, …).
    pub transitions: BTreeMap<String, usize>,
}

/// Scans one scope of the demo estate (its latest variant): discovers
/// everything, keeps the scope's assets and coverage, evaluates them and
/// commits them with that coverage alone, so violations elsewhere are
/// neither closed nor touched. The scan records no compliance snapshot (one
/// scope is not the estate): the reports stay those of the latest full scan.
pub async fn scan_scope(demo: &DemoScan, store: &dyn Store, scope: &ScanScope) -> ApiResult<ScopeScanSummary> {
    scope.validate()?;
    let _one_at_a_time = demo.lock.lock().await;
    let loaded = DemoScan::configuration(store, DemoVariant::Fixed).await.map_err(ApiError::internal)?;
    let (connectors, unreadable) = sources::connectors(&loaded).map_err(|p| problems(&p))?;
    let found = sources::discover(&connectors, unreadable, &indicatif::ProgressBar::hidden()).await;
    let mut coverage = Coverage::new();
    for (s, status) in found.coverage.scopes().filter(|(s, _)| scope.covers(s)) {
        match status {
            ScopeStatus::Complete => coverage.complete(s.clone()),
            ScopeStatus::Failed { error } => coverage.fail(s.clone(), error.clone()),
        }
    }
    if coverage.is_empty() {
        return Err(ApiError::not_found(format!(
            "unknown scope `{}`: the configured sources have no such provider, account, region and kind",
            short(&scope.to_string())
        )));
    }
    // The account's assets, every region and global ones, are the context
    // rules look related resources up in (a bucket's account settings, an
    // instance's security groups); only the scope's are judged and committed.
    let context = Inventory::from_assets(
        found
            .inventory
            .assets()
            .iter()
            .filter(|a| a.id.provider == scope.provider && a.id.account == scope.account)
            .cloned(),
    );
    let positions: Vec<usize> =
        context.assets().iter().enumerate().filter(|(_, a)| scope.contains(&a.id)).map(|(i, _)| i).collect();
    let engine = engine(store, &loaded).await?;
    let now = Utc::now();
    let scan = store.begin_scan(ScanStart::new(format!("{} (scope {scope})", loaded.config.scan.label), now)).await?;
    let evaluation = engine.evaluate(&context, now);
    let previous = store.previous_violations(&coverage).await?;
    let exceptions = store.exception_set().await?;
    let mut result = reconcile(&ReconcileInput {
        previous: &previous,
        inventory: &context,
        evaluation: &evaluation,
        coverage: &coverage,
        exceptions: &exceptions,
        now,
    });
    // Findings on the context's other assets are not this scan's to record.
    result.violations.retain(|v| scope.contains(&v.key.asset));
    result.transitions.retain(|t| scope.contains(&t.key.asset));
    let transitions = result
        .counts()
        .into_iter()
        .map(|(k, n)| (serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(), n))
        .collect();
    let scopes: Vec<CoverageScope> = coverage.scopes().map(|(s, _)| s.clone()).collect();
    let mut commit = ScanCommit::from_scan(scan.id, Utc::now(), &context, coverage, &evaluation, result);
    commit.assets.retain(|a| scope.contains(&a.id));
    commit.results = scope_results(&evaluation, &positions);
    let record = match store.commit_scan(commit).await {
        Ok(r) => r,
        Err(e) => {
            let _ = store.abort_scan(scan.id, &e.to_string()).await;
            return Err(e.into());
        }
    };
    Ok(ScopeScanSummary {
        scan: record.id.get(),
        status: record.status.to_string(),
        scope: scope.to_string(),
        coverage: scopes,
        assets: positions.len(),
        transitions,
    })
}

/// The per-rule counts of an evaluation over some of its assets (by position).
fn scope_results(evaluation: &pacbot::Evaluation, positions: &[usize]) -> Vec<RuleResult> {
    let mut out = Vec::new();
    for p in &evaluation.policies {
        for r in &p.rules {
            let mut counts = RuleResult {
                policy_id: p.meta.id.clone(),
                rule_id: r.rule_id.clone(),
                passed: 0,
                failed: 0,
                errors: 0,
                not_applicable: 0,
            };
            for &i in positions {
                match r.outcome(i) {
                    Outcome::Pass => counts.passed += 1,
                    Outcome::Fail { .. } => counts.failed += 1,
                    Outcome::Error { .. } => counts.errors += 1,
                    Outcome::NotApplicable => counts.not_applicable += 1,
                }
            }
            out.push(counts);
        }
    }
    out
}

/// A JSON body that may be absent, parsed after the caller is known to be an
/// admin (a reader gets 403 whatever it sends).
fn optional_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> ApiResult<Option<T>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (`Content-Type: application/json`)",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map(Some).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("invalid body at `{}`: {}", e.path(), e.inner()),
        )
    })
}

/// `POST /api/admin/scan`: without a body, re-runs the whole demo scan; with
/// `{"provider", "account", "region", "kind"?}`, scans that scope alone.
pub async fn scan(State(state): State<AppState>, who: Principal, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = who.require_admin() {
        return e.into_response();
    }
    let scope: Option<ScanScope> = match optional_json(&headers, &body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    match scope {
        None => api::rescan(State(state), who).await.into_response(),
        Some(scope) => {
            let result = match demo(&state) {
                Ok(d) => scan_scope(d, state.store.as_ref(), &scope).await,
                Err(e) => Err(e),
            };
            result.map(Json).into_response()
        }
    }
}

// ---------------------------------------------------------------- re-evaluating one asset

/// One rule's outcome on the asset.
#[derive(Debug, Serialize)]
pub struct RuleOutcome {
    /// The policy.
    pub policy: String,
    /// Its severity.
    pub severity: Severity,
    /// The rule.
    pub rule: String,
    /// `pass`, `fail` or `error`.
    pub outcome: &'static str,
    /// Why it failed, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The exception exempting the asset from the policy now, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempted_by: Option<String>,
    /// The stored violation's status, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_status: Option<ViolationStatus>,
}

/// What re-evaluating an asset found.
#[derive(Debug, Serialize)]
pub struct Reevaluation {
    /// The asset.
    pub asset: AssetId,
    /// When.
    pub at: DateTime<Utc>,
    /// Always `false`: the result is not committed; the next scan commits.
    pub committed: bool,
    /// Every enabled policy's rules that apply to the asset, in policy order.
    pub results: Vec<RuleOutcome>,
}

/// Evaluates a stored asset, as last scanned, against the enabled policies
/// (with its account's other stored assets as context) and the exceptions in
/// force. Nothing is written.
pub async fn reevaluate_asset(state: &AppState, id: &str) -> ApiResult<Reevaluation> {
    let id = api::parse_asset_id(id)?;
    demo(state)?;
    let store = state.store.as_ref();
    let record = store.asset(&id).await?;
    if record.is_removed() {
        return Err(ApiError::conflict(format!(
            "asset `{id}` was removed by a later scan; there is nothing to evaluate"
        )));
    }
    let loaded = DemoScan::configuration(store, DemoVariant::Fixed).await.map_err(ApiError::internal)?;
    let engine = engine(store, &loaded).await?;
    let filter = AssetFilter {
        providers: vec![id.provider.clone()],
        accounts: vec![id.account.clone()],
        ..AssetFilter::default()
    };
    let context = store.all_assets(filter).await?;
    let mut inventory = Inventory::from_assets(context.into_iter().map(|r| r.asset).filter(|a| a.id != id));
    let position = inventory.insert(record.asset.clone());
    let now = Utc::now();
    let evaluation = engine.evaluate(&inventory, now);
    let exceptions = store.exception_set().await?;
    let stored =
        store.all_violations(ViolationFilter { asset: Some(id.clone()), ..ViolationFilter::default() }).await?;
    let mut results = Vec::new();
    for p in &evaluation.policies {
        let exempted_by = exceptions.find(&record.asset, &p.meta.id, now).map(|e| e.id.clone());
        for r in &p.rules {
            let (outcome, reason) = match r.outcome(position) {
                Outcome::NotApplicable => continue,
                Outcome::Pass => ("pass", None),
                Outcome::Fail { reason, .. } => ("fail", Some(reason)),
                Outcome::Error { message } => ("error", Some(message)),
            };
            let stored_status =
                stored.iter().find(|v| v.key.policy_id == p.meta.id && v.key.rule_id == r.rule_id).map(|v| v.status);
            results.push(RuleOutcome {
                policy: p.meta.id.clone(),
                severity: p.meta.severity,
                rule: r.rule_id.clone(),
                outcome,
                reason,
                exempted_by: exempted_by.clone(),
                stored_status,
            });
        }
    }
    Ok(Reevaluation { asset: id, at: now, committed: false, results })
}

/// `POST /api/admin/assets/reevaluate?id=`: one asset's outcome per policy and rule, now.
pub async fn reevaluate(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<AssetParam>,
) -> ApiResult<Json<Reevaluation>> {
    who.require_admin()?;
    Ok(Json(reevaluate_asset(&state, &q.id).await?))
}

// ---------------------------------------------------------------- auto-fix plans and approval

/// Where a planned fix stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// It may be approved.
    Ready,
    /// An exception exempts the violation: it is not fixed.
    Exempted,
    /// The asset's account is not allow-listed for the fix.
    NotAllowed,
    /// The asset does not match the fix's criteria.
    OutOfCriteria,
    /// It was approved and applied; a scan will confirm.
    Applied,
}

impl PlanStatus {
    fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Ready => "ready",
            PlanStatus::Exempted => "exempted",
            PlanStatus::NotAllowed => "not_allowed",
            PlanStatus::OutOfCriteria => "out_of_criteria",
            PlanStatus::Applied => "applied",
        }
    }
}

/// What the fix would do to one open violation (a dry run: nothing is
/// written or changed).
#[derive(Debug, Serialize)]
pub struct PlannedFix {
    /// The plan's id (stable for the violation), to approve it by.
    pub id: String,
    /// The policy.
    pub policy: String,
    /// The rule.
    pub rule: String,
    /// The asset.
    pub asset: AssetId,
    /// The fix key.
    pub fix: String,
    /// Whether it may run.
    pub status: PlanStatus,
    /// Why not, when it may not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the fix would change (for ready plans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<FixPlan>,
    /// Planning failed: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The id of the plan fixing a violation.
fn plan_id(v: &Violation) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{}", v.key.policy_id, v.key.rule_id, v.key.asset).as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("fix-{hex}")
}

/// The fix's stored approval for a plan id, if any.
async fn approval(store: &dyn Store, id: &str) -> ApiResult<Option<FixRecord>> {
    match store.fix_record(id).await {
        Ok(r) => Ok(Some(r)),
        Err(pacbot::store::StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn applied(record: &FixRecord) -> bool {
    record.status == RunStatus::Applied.as_str() || record.status == RunStatus::AlreadyFixed.as_str()
}

/// A violation under a configured fix, with what is known about it.
struct Candidate<'a> {
    prepared: &'a PreparedFix,
    violation: Violation,
    asset: Asset,
    status: PlanStatus,
    reason: Option<String>,
}

/// Every open or exempted violation of the configured policies, judged at
/// `now` against the exceptions in force, the allow-lists and criteria, and
/// the approvals stored.
async fn candidates<'a>(
    store: &dyn Store,
    autofix: &'a Autofix,
    policy: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Candidate<'a>>> {
    let exceptions = store.exception_set().await?;
    let mut out = Vec::new();
    for p in autofix.policies.iter().filter(|p| policy.is_none_or(|id| p.config.policy_id == id)) {
        let filter = ViolationFilter {
            policies: vec![p.config.policy_id.clone()],
            statuses: vec![ViolationStatus::Open, ViolationStatus::Exempted],
            ..ViolationFilter::default()
        };
        for v in store.all_violations(filter).await? {
            let asset = store.asset(&v.key.asset).await?.asset;
            let exemption = match exceptions.find(&asset, &v.key.policy_id, now) {
                Some(e) => Some(e.id.clone()),
                None if v.status == ViolationStatus::Exempted => Some(v.exception_id.clone().unwrap_or_default()),
                None => None,
            };
            let approved = approval(store, &plan_id(&v)).await?;
            let (status, reason) = if let Some(e) = exemption {
                (PlanStatus::Exempted, Some(format!("exception `{e}` exempts the violation")))
            } else if !p.config.allowed_accounts.contains(&asset.id.account) {
                (
                    PlanStatus::NotAllowed,
                    Some(format!("account `{}` is not allow-listed for this fix", asset.id.account)),
                )
            } else if p.config.criteria.as_ref().is_some_and(|c| !c.matches(&asset, now)) {
                (PlanStatus::OutOfCriteria, Some("the asset does not match the fix's criteria".to_owned()))
            } else if let Some(r) = approved.filter(|r| applied(r) && r.updated_at >= v.modified_at) {
                (PlanStatus::Applied, Some(format!("approved and applied by `{}`; a scan will confirm", r.id)))
            } else {
                (PlanStatus::Ready, None)
            };
            out.push(Candidate { prepared: p, violation: v, asset, status, reason });
        }
    }
    Ok(out)
}

fn target(c: &Candidate<'_>) -> FixTarget {
    FixTarget { asset: c.asset.clone(), violation: Some(c.violation.clone()) }
}

/// The dry-run view: per open violation of a configured policy, whether its
/// fix may run and, for those that may, the fix's plan (the fix only reads).
pub async fn planned_fixes(state: &AppState, q: &PlanParams) -> ApiResult<Vec<PlannedFix>> {
    let autofix = autofix(state)?;
    let limit = q.limit.unwrap_or(api::DEFAULT_LIMIT);
    if limit == 0 || limit > api::MAX_LIMIT {
        return Err(ApiError::bad_request(format!("`limit` must be 1 to {}, not {limit}", api::MAX_LIMIT)));
    }
    let policy = q.policy.as_deref().filter(|p| !p.is_empty());
    if let Some(id) = policy
        && !autofix.policies.iter().any(|p| p.config.policy_id == id)
    {
        return Err(ApiError::bad_request(format!("`policy`: no auto-fix is configured for policy `{}`", short(id))));
    }
    let now = Utc::now();
    let mut out = Vec::new();
    for c in candidates(state.store.as_ref(), autofix, policy, now).await?.into_iter().take(limit) {
        let (plan, error) = if c.status == PlanStatus::Ready {
            match c.prepared.fix.plan(&target(&c), &c.prepared.params).await {
                Ok(mut p) => {
                    p.params = c.prepared.params.clone();
                    (Some(p), None)
                }
                Err(e) => (None, Some(format!("planning failed: {e}"))),
            }
        } else {
            (None, None)
        };
        out.push(PlannedFix {
            id: plan_id(&c.violation),
            policy: c.violation.key.policy_id.clone(),
            rule: c.violation.key.rule_id.clone(),
            asset: c.violation.key.asset.clone(),
            fix: c.prepared.fix.info().key.to_owned(),
            status: c.status,
            reason: c.reason,
            plan,
            error,
        });
    }
    Ok(out)
}

/// `?policy=&limit=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanParams {
    /// One configured policy.
    pub policy: Option<String>,
    /// At most this many plans (the fixes' planning reads the resources).
    pub limit: Option<usize>,
}

/// `GET /api/admin/fixes/plans`: the dry-run view of the configured fixes.
pub async fn plans(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<PlanParams>,
) -> ApiResult<Json<Vec<PlannedFix>>> {
    who.require_admin()?;
    Ok(Json(planned_fixes(&state, &q).await?))
}

/// What approving a plan did.
#[derive(Debug, Serialize)]
pub struct Approval {
    /// The plan.
    pub id: String,
    /// The fix's run (apply mode): its audit and backup records.
    pub run: FixRun,
}

/// Approves a plan: runs its fix in apply mode through the executor (backup,
/// audit, then the change), unless an exception exempts the violation now,
/// the asset is outside the fix's allow-list or criteria, or the plan was
/// already applied (409 each).
pub async fn approve_plan(state: &AppState, who: &Principal, id: &str) -> ApiResult<Approval> {
    who.require_admin()?;
    let autofix = autofix(state)?;
    let _one_at_a_time = autofix.lock.lock().await;
    let store = state.store.as_ref();
    let now = Utc::now();
    let c = candidates(store, autofix, None, now)
        .await?
        .into_iter()
        .find(|c| plan_id(&c.violation) == id)
        .ok_or_else(|| ApiError::not_found(format!("no fix plan `{}` (no open violation has it)", short(id))))?;
    if c.status != PlanStatus::Ready {
        let why = c.reason.clone().unwrap_or_else(|| c.status.as_str().to_owned());
        return Err(ApiError::conflict(format!("plan `{id}` cannot be approved: {why}")));
    }
    let executor = Executor::new(state.store.clone(), who.name.clone()).with_mode(Mode::Apply);
    let run = executor
        .run(c.prepared.fix.as_ref(), &target(&c), &c.prepared.params, &c.violation.key.policy_id, now)
        .await
        .map_err(ApiError::internal)?;
    let record = FixRecord {
        id: id.to_owned(),
        kind: FixKind::Plan,
        policy_id: c.violation.key.policy_id.clone(),
        asset: c.violation.key.asset.clone(),
        status: run.status.as_str().to_owned(),
        data: json!({
            "source": "approval", "approved_by": who.name, "approved_at": now,
            "violation": c.violation.key, "fix": run.fix, "action_id": run.action_id,
            "backup_id": run.backup_id, "message": run.message,
        }),
        created_at: now,
        updated_at: now,
    };
    store.put_fix_record(record).await?;
    Ok(Approval { id: id.to_owned(), run })
}

/// `POST /api/admin/fixes/{id}/approve`: one-click fix.
pub async fn approve(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Approval>> {
    Ok(Json(approve_plan(&state, &who, &id).await?))
}

// ---------------------------------------------------------------- dispatching findings to bots

/// What dispatching a finding did.
#[derive(Debug, Serialize)]
pub struct Dispatch {
    /// The finding's record.
    pub id: String,
    /// `done` when no bot failed, else `failed`.
    pub status: String,
    /// One record per bot result: (record id, status).
    pub records: Vec<(String, String)>,
    /// The bots' results.
    pub results: Vec<pacbot_autofix::BotResult>,
}

/// A bot result's record status: `done`, `dry_run` (passed, but planned only), `failed` or `skipped`.
fn bot_status(r: &pacbot_autofix::BotResult) -> &'static str {
    match r.status {
        BotStatus::Passed if r.run.as_ref().is_some_and(|run| run.status == RunStatus::Planned) => "dry_run",
        BotStatus::Passed => "done",
        BotStatus::Failed => "failed",
        BotStatus::Skipped => "skipped",
    }
}

/// Runs the bots a queued finding's `AUTO:` lines name (the catalogue's
/// dispatcher, in the configured mode) and records each result as an
/// `action` fix record `<finding>-bot-<n>` with status `done`, `dry_run`,
/// `failed` or `skipped`; the finding's record gets `done` or `failed` and the results.
/// A finding already dispatched is a 409; an unknown bot is a failed result.
pub async fn dispatch_finding(state: &AppState, who: &Principal, id: &str) -> ApiResult<Dispatch> {
    who.require_admin()?;
    let autofix = autofix(state)?;
    let _one_at_a_time = autofix.lock.lock().await;
    let store = state.store.as_ref();
    let not_found = || ApiError::not_found(format!("no ingested finding `{}`", short(id)));
    let mut record = approval(store, id).await?.ok_or_else(not_found)?;
    let from_webhook = record.data.get("source").and_then(Value::as_str) == Some("webhook");
    let event = match record.data.get("event") {
        Some(e) if from_webhook && record.kind == FixKind::Plan => e.clone(),
        _ => return Err(not_found()),
    };
    if record.status != "queued" {
        return Err(ApiError::conflict(format!(
            "finding `{}` was already dispatched (status `{}`)",
            short(id),
            record.status
        )));
    }
    let now = Utc::now();
    let executor = Arc::new(Executor::new(state.store.clone(), who.name.clone()).with_mode(autofix.bot_mode));
    let dispatcher = Dispatcher::new(autofix.catalogue.clone(), executor, autofix.accounts.clone());
    let results = dispatcher.handle_json(&event.to_string(), now).await;
    let mut records = Vec::new();
    for (n, r) in results.iter().enumerate() {
        let rid = format!("{id}-bot-{}", n + 1);
        let status = bot_status(r);
        store
            .put_fix_record(FixRecord {
                id: rid.clone(),
                kind: FixKind::Action,
                policy_id: record.policy_id.clone(),
                asset: r.target.clone().unwrap_or_else(|| record.asset.clone()),
                status: status.to_owned(),
                data: json!({"source": "bot", "finding": id, "dispatched_by": who.name, "result": r}),
                created_at: now,
                updated_at: now,
            })
            .await?;
        records.push((rid, status.to_owned()));
    }
    let status = if results.iter().any(|r| r.status == BotStatus::Failed) { "failed" } else { "done" };
    record.status = status.to_owned();
    record.data["dispatched_by"] = json!(who.name);
    record.data["dispatched_at"] = json!(now);
    record.data["results"] = json!(records.iter().map(|(rid, _)| rid).collect::<Vec<_>>());
    record.updated_at = now;
    store.put_fix_record(record).await?;
    Ok(Dispatch { id: id.to_owned(), status: status.to_owned(), records, results })
}

/// `POST /api/admin/findings/{id}/dispatch`: runs the bots of a queued finding.
pub async fn dispatch(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Dispatch>> {
    Ok(Json(dispatch_finding(&state, &who, &id).await?))
}

// ---------------------------------------------------------------- the operations page

/// The operations page and its forms.
pub fn ui_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/operations", get(operations))
        .route("/admin/operations/scan", post(ui_scan))
        .route("/admin/operations/reevaluate", get(ui_reevaluate))
        .route("/admin/operations/approve", post(ui_approve))
        .route("/admin/operations/dispatch", post(ui_dispatch))
}

async fn operations(State(state): State<AppState>, User(who): User) -> Response {
    if let Err(e) = who.require_admin() {
        return ui::fail(e);
    }
    let groups = ui::visible_groups(&state, &who).await;
    let mut body = String::new();
    if state.demo.is_some() {
        body.push_str(
            "<h2>Scan one scope</h2><form method=\"post\" action=\"/admin/operations/scan\" id=\"scope-scan\">\
             <label>Provider <input name=\"provider\" required value=\"aws\"></label> \
             <label>Account <input name=\"account\" required></label> \
             <label>Region <input name=\"region\" required></label> \
             <label>Kind <input name=\"kind\" placeholder=\"every kind\"></label> <button>Scan</button></form>\
             <h2>Re-evaluate one asset</h2><form method=\"get\" action=\"/admin/operations/reevaluate\" id=\"reevaluate\">\
             <label>Asset <input name=\"id\" size=\"60\" required placeholder=\"provider/account/region/kind/resource-id\"></label> \
             <button>Evaluate</button></form>",
        );
    }
    match planned_fixes(&state, &PlanParams::default()).await {
        Ok(plans) => {
            body.push_str(
                "<h2>Auto-fix plans (dry run)</h2><table id=\"plans\"><tr><th>Plan</th><th>Policy</th><th>Asset</th>\
                 <th>Fix</th><th>Status</th><th>What it would do</th><th></th></tr>",
            );
            for p in &plans {
                let what = match (&p.plan, &p.error, &p.reason) {
                    (Some(plan), _, _) => plan.render(),
                    (None, Some(e), _) => e.clone(),
                    (None, None, Some(r)) => r.clone(),
                    (None, None, None) => String::new(),
                };
                let button = if p.status == PlanStatus::Ready {
                    post_button("/admin/operations/approve", &p.id, "Approve and fix")
                } else {
                    String::new()
                };
                let _ = write!(
                    body,
                    "<tr><td>{id}</td><td>{policy}</td><td><a href=\"/asset?id={href}\">{asset}</a></td><td>{fix}</td>\
                     <td>{status}</td><td><pre>{what}</pre></td><td>{button}</td></tr>",
                    id = esc(&p.id),
                    policy = esc(&p.policy),
                    href = esc(&enc(&p.asset.to_string())),
                    asset = esc(&p.asset.to_string()),
                    fix = esc(&p.fix),
                    status = p.status.as_str(),
                    what = esc(&what),
                );
            }
            body.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(body, "<h2>Auto-fix plans</h2><p id=\"plans\">{}</p>", esc(&e.message));
        }
    }
    body.push_str(
        "<h2>Ingested findings</h2><table id=\"findings\"><tr><th>Finding</th><th>Rule</th><th>Asset</th><th>Status</th><th></th></tr>",
    );
    let filter = FixFilter { kind: Some(FixKind::Plan), ..FixFilter::default() };
    // A store that cannot answer is said so, not shown as an empty table.
    let findings = match state.store.fix_records(&filter).await {
        Ok(found) => found,
        Err(e) => {
            let _ = write!(body, "</table><p id=\"findings-error\">{}</p>", esc(&e.to_string()));
            return ui::page("Operations", &who, &groups, None, &body);
        }
    };
    for f in findings {
        if f.data.get("source").and_then(Value::as_str) != Some("webhook") {
            continue;
        }
        let button = if f.status == "queued" && state.autofix.is_some() {
            post_button("/admin/operations/dispatch", &f.id, "Dispatch to bots")
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{button}</td></tr>",
            esc(&f.id),
            esc(&f.policy_id),
            esc(&f.asset.to_string()),
            esc(&f.status),
        );
    }
    body.push_str("</table>");
    ui::page("Operations", &who, &groups, None, &body)
}

/// A one-button form posting `id` to `action` (`action` and `label` are the
/// page's own text; `id` is escaped).
fn post_button(action: &str, id: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button>{label}</button></form>",
        esc(id)
    )
}

#[derive(Deserialize)]
struct ScopeForm {
    provider: String,
    account: String,
    region: String,
    #[serde(default)]
    kind: String,
}

async fn ui_scan(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<ScopeForm>,
) -> Response {
    let kind = Some(f.kind.trim().to_owned()).filter(|k| !k.is_empty());
    let scope = ScanScope {
        provider: f.provider.trim().to_owned(),
        account: f.account.trim().to_owned(),
        region: f.region.trim().to_owned(),
        kind,
    };
    let operation = async {
        who.require_admin()?;
        scan_scope(demo(&state)?, state.store.as_ref(), &scope).await
    };
    form_action(&headers, operation).await
}

async fn ui_reevaluate(State(state): State<AppState>, User(who): User, ApiQuery(q): ApiQuery<AssetParam>) -> Response {
    if let Err(e) = who.require_admin() {
        return ui::fail(e);
    }
    let r = match reevaluate_asset(&state, &q.id).await {
        Ok(r) => r,
        Err(e) => return ui::fail(e),
    };
    let groups = ui::visible_groups(&state, &who).await;
    let mut body = format!(
        "<p>{} evaluated at {} (not committed: the next scan commits).</p><table id=\"outcomes\"><tr><th>Policy</th>\
         <th>Rule</th><th>Outcome</th><th>Reason</th><th>Exempted by</th><th>Stored</th></tr>",
        esc(&r.asset.to_string()),
        r.at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    for o in &r.results {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&o.policy),
            esc(&o.rule),
            o.outcome,
            esc(o.reason.as_deref().unwrap_or("")),
            esc(o.exempted_by.as_deref().unwrap_or("")),
            o.stored_status.map(|s| s.to_string()).unwrap_or_default(),
        );
    }
    body.push_str("</table>");
    ui::page("Re-evaluation", &who, &groups, None, &body)
}

#[derive(Deserialize)]
struct IdForm {
    id: String,
}

/// A form post that runs one admin operation and returns to the operations
/// page (the operation is not started for a cross-site post).
async fn form_action<T>(headers: &HeaderMap, operation: impl Future<Output = ApiResult<T>>) -> Response {
    if ui::cross_site(headers) {
        return ui::refuse_cross_site();
    }
    match operation.await {
        Ok(_) => Redirect::to("/admin/operations").into_response(),
        Err(e) => ui::fail(e),
    }
}

async fn ui_approve(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<IdForm>,
) -> Response {
    form_action(&headers, approve_plan(&state, &who, &f.id)).await
}

async fn ui_dispatch(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<IdForm>,
) -> Response {
    form_action(&headers, dispatch_finding(&state, &who, &f.id)).await
}
