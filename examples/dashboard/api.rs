//! The REST API under `/api` (JSON), `/healthz` and `/metrics`.

use std::fmt::Write as _;
use std::str::FromStr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pacbot::chrono::{DateTime, Utc};
use pacbot::store::{
    Asset360, AssetFilter, AssetGroupRecord, AssetQuery, AssetSort, ComplianceSnapshot, CriteriaFilter, Cursor,
    ExceptionRecord, FixKind, FixRecord, HistoryEntry, Order, Page, PageRequest, PolicyRecord, SearchHit, Stamp, Store,
    StoreExt, TagFilter, TrendQuery, ViolationFilter, ViolationQuery, ViolationSort,
};
use pacbot::{AssetGroup, AssetId, Category, Criteria, ExceptionTarget, PolicyCompliance, ResourceKind, Severity};
use pacbot::{Exception, Violation, ViolationStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::app::{ApiJson, ApiQuery, AppState};
use super::auth::Principal;
use super::error::{ApiError, ApiResult};
use super::rules::RuleInfo;

/// The OpenAPI document, maintained by hand beside the router (a test checks
/// that they list the same routes).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page the API serves.
pub const MAX_LIMIT: usize = 1000;

// ---------------------------------------------------------------- scoping

/// The assets a list (violations, assets) covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every asset: an unscoped caller who names no group.
    All,
    /// One asset group: the one asked for, or a caller's only group.
    Group(String),
    /// The union of a caller's groups, when it is scoped to several and names
    /// none: an asset in two of them is listed once.
    Groups(Vec<String>),
}

/// What a list request covers: the group asked for (which the caller must
/// be allowed to see), else a scoped caller's groups (their union), else
/// everything.
pub fn scope(who: &Principal, asked: Option<&str>) -> ApiResult<Scope> {
    match (asked.filter(|g| !g.is_empty()), &who.groups) {
        (Some(g), _) if who.may_see(g) => Ok(Scope::Group(g.to_owned())),
        (Some(g), _) => Err(ApiError::forbidden(format!("`{}` may not see asset group `{g}`", who.name))),
        (None, None) => Ok(Scope::All),
        (None, Some(groups)) => match groups.as_slice() {
            [] => Err(ApiError::forbidden(format!("`{}` may see no asset group", who.name))),
            [g] => Ok(Scope::Group(g.clone())),
            _ => Ok(Scope::Groups(groups.clone())),
        },
    }
}

/// The asset group compliance figures are about: the one asked for (which
/// the caller must be allowed to see), else a scoped caller's only group,
/// else none (the overall report). Compliance is computed per group at scan
/// time, so a caller scoped to several groups must name one (400
/// `group_required`); `/api/compliance/groups` lists the figures of each.
pub fn effective_group(who: &Principal, asked: Option<&str>) -> ApiResult<Option<String>> {
    match scope(who, asked)? {
        Scope::All => Ok(None),
        Scope::Group(g) => Ok(Some(g)),
        Scope::Groups(gs) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "group_required",
            format!(
                "`{}` may see several asset groups ({}): compliance figures are per group, so name one with \
                 `?group=` (`/api/compliance/groups` lists each)",
                who.name,
                gs.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// The criteria filter of a scope, if any: one group's criteria (404 for an
/// unknown group), or any of several groups' (groups that do not exist add
/// nothing).
pub async fn scope_criteria(store: &dyn Store, scope: &Scope) -> ApiResult<Option<CriteriaFilter>> {
    let now = Utc::now();
    match scope {
        Scope::All => Ok(None),
        Scope::Group(g) => Ok(Some(store.group_filter(g, now).await?)),
        Scope::Groups(names) => {
            let all = store.groups().await?;
            let any = all
                .into_iter()
                .filter(|g| names.contains(&g.group.name))
                .map(|g| g.group.criteria)
                .collect::<Vec<Criteria>>();
            Ok(Some(CriteriaFilter { criteria: Criteria::Any(any), at: now }))
        }
    }
}

/// Fails with 404 unless a scoped caller's groups include the asset (an
/// asset outside them does not exist for the caller).
pub async fn check_asset_visible(store: &dyn Store, who: &Principal, asset: &AssetId) -> ApiResult<()> {
    let Some(groups) = &who.groups else { return Ok(()) };
    let record = store.asset(asset).await?;
    let now = Utc::now();
    let all = store.groups().await?;
    let visible =
        all.iter().filter(|g| groups.contains(&g.group.name)).any(|g| g.group.criteria.matches(&record.asset, now));
    if visible { Ok(()) } else { Err(ApiError::not_found(format!("asset `{asset}` not found"))) }
}

/// Parses `provider/account/region/kind/resource-id` (the resource id may contain `/`).
pub fn parse_asset_id(text: &str) -> ApiResult<AssetId> {
    let parts: Vec<&str> = text.splitn(5, '/').collect();
    match parts.as_slice() {
        [p, a, r, k, id] if [p, a, r, k, id].iter().all(|s| !s.is_empty()) => {
            Ok(AssetId::new(*p, *a, *r, ResourceKind::new(k), *id))
        }
        _ => Err(ApiError::bad_request(format!(
            "asset id `{}` is not `provider/account/region/kind/resource-id`",
            text.chars().take(80).collect::<String>()
        ))),
    }
}

fn list<T>(param: &str, text: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> ApiResult<Vec<T>> {
    let Some(text) = text else { return Ok(Vec::new()) };
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`{param}`: `{}` is not a valid value",
                    s.chars().take(80).collect::<String>()
                ))
            })
        })
        .collect()
}

/// `changed_since`: an RFC 3339 time.
fn changed_since(text: Option<&str>) -> Result<Option<pacbot::chrono::DateTime<pacbot::chrono::Utc>>, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => pacbot::chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| Some(d.to_utc()))
            .map_err(|e| ApiError::bad_request(format!("`changed_since`: not an RFC 3339 time: {e}"))),
    }
}

fn strings(text: Option<&str>) -> Vec<String> {
    text.map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

fn tag_filter(text: Option<&str>) -> Vec<TagFilter> {
    match text.filter(|t| !t.is_empty()) {
        Some(t) => match t.split_once('=') {
            Some((k, v)) => vec![TagFilter::eq(k, v)],
            None => vec![TagFilter::key(t)],
        },
        None => Vec::new(),
    }
}

fn page(limit: Option<usize>, cursor: Option<String>) -> ApiResult<PageRequest> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("`limit` must be 1 to {MAX_LIMIT}, not {limit}")));
    }
    Ok(PageRequest { limit, cursor: cursor.filter(|c| !c.is_empty()).map(Cursor::new) })
}

// ---------------------------------------------------------------- health, metrics, openapi

/// `GET /healthz`: the server answers (no authentication).
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /api/openapi.json`.
pub async fn openapi(_who: Principal) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`: Prometheus text — requests served, and the latest compliance.
pub async fn metrics(State(state): State<AppState>, who: Principal) -> ApiResult<Response> {
    if who.groups.is_some() {
        return Err(ApiError::forbidden("metrics cover every asset group; they need an unscoped token"));
    }
    let mut out = String::new();
    out.push_str("# HELP pacbot_http_requests_total Requests served, by route and status.\n");
    out.push_str("# TYPE pacbot_http_requests_total counter\n");
    if let Ok(m) = state.requests.lock() {
        for ((route, status), n) in m.iter() {
            let _ = writeln!(out, "pacbot_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", label(route));
        }
    }
    out.push_str(
        "# HELP pacbot_compliance_percent Compliance of the latest scan, overall (group \"\") and per asset group.\n",
    );
    out.push_str("# TYPE pacbot_compliance_percent gauge\n");
    let mut open = String::new();
    let mut names = vec![None];
    names.extend(state.store.groups().await?.into_iter().map(|g| Some(g.group.name)));
    for name in names {
        if let Some(s) = state.store.latest_compliance(name.as_deref()).await? {
            let g = label(name.as_deref().unwrap_or(""));
            let _ = writeln!(out, "pacbot_compliance_percent{{group=\"{g}\"}} {}", s.report.overall);
            let _ = writeln!(open, "pacbot_open_violations{{group=\"{g}\"}} {}", s.report.open);
        }
    }
    out.push_str("# HELP pacbot_open_violations Open violations of the latest scan.\n");
    out.push_str("# TYPE pacbot_open_violations gauge\n");
    out.push_str(&open);
    if state.cache.enabled() {
        out.push_str("# HELP pacbot_response_cache_hits_total API requests answered from the response cache.\n");
        out.push_str("# TYPE pacbot_response_cache_hits_total counter\n");
        let _ = writeln!(out, "pacbot_response_cache_hits_total {}", state.cache.hits());
        out.push_str("# HELP pacbot_response_cache_misses_total Cacheable API requests computed anew.\n");
        out.push_str("# TYPE pacbot_response_cache_misses_total counter\n");
        let _ = writeln!(out, "pacbot_response_cache_misses_total {}", state.cache.misses());
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}

// ---------------------------------------------------------------- compliance

/// `?group=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupParam {
    /// An asset group.
    pub group: Option<String>,
}

/// The latest snapshot of the caller's scope (404 before any scan).
pub async fn latest(state: &AppState, who: &Principal, group: Option<&str>) -> ApiResult<ComplianceSnapshot> {
    let group = effective_group(who, group)?;
    if let Some(g) = &group {
        state.store.group(g).await?;
    }
    state.store.latest_compliance(group.as_deref()).await?.ok_or_else(|| match &group {
        Some(g) => ApiError::not_found(format!("no compliance report for asset group `{g}` yet")),
        None => ApiError::not_found("no compliance report yet: no scan has been committed"),
    })
}

/// `GET /api/compliance`: the latest report of a group (or overall).
pub async fn compliance(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<GroupParam>,
) -> ApiResult<Json<ComplianceSnapshot>> {
    Ok(Json(latest(&state, &who, q.group.as_deref()).await?))
}

/// `GET /api/compliance/categories`.
pub async fn categories(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<GroupParam>,
) -> ApiResult<Json<Value>> {
    let s = latest(&state, &who, q.group.as_deref()).await?;
    Ok(Json(json!({"scan": s.scan, "at": s.at, "group": s.report.group, "categories": s.report.categories})))
}

/// `GET /api/compliance/policies`.
pub async fn policy_compliance(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<GroupParam>,
) -> ApiResult<Json<Value>> {
    let s = latest(&state, &who, q.group.as_deref()).await?;
    Ok(Json(json!({"scan": s.scan, "at": s.at, "group": s.report.group, "policies": s.report.policies})))
}

/// `GET /api/compliance/tagging`.
pub async fn tagging(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<GroupParam>,
) -> ApiResult<Json<Value>> {
    let s = latest(&state, &who, q.group.as_deref()).await?;
    Ok(Json(json!({"scan": s.scan, "at": s.at, "group": s.report.group, "tagging": s.report.tagging})))
}

/// One group's headline figures.
#[derive(Debug, Serialize)]
pub struct GroupFigures {
    /// The group.
    pub group: String,
    /// Its latest report's scan time, if any.
    pub at: Option<DateTime<Utc>>,
    /// Overall compliance.
    pub overall: Option<f64>,
    /// Assets in it.
    pub assets: usize,
    /// Open violations.
    pub open: usize,
}

/// The figures of every group the caller may see.
pub async fn group_figures(state: &AppState, who: &Principal) -> ApiResult<Vec<GroupFigures>> {
    let mut out = Vec::new();
    for g in state.store.groups().await?.into_iter().filter(|g| who.may_see(&g.group.name)) {
        let s = state.store.latest_compliance(Some(&g.group.name)).await?;
        out.push(GroupFigures {
            group: g.group.name,
            at: s.as_ref().map(|s| s.at),
            overall: s.as_ref().map(|s| s.report.overall),
            assets: s.as_ref().map_or(0, |s| s.report.assets),
            open: s.as_ref().map_or(0, |s| s.report.open),
        });
    }
    Ok(out)
}

/// `GET /api/compliance/groups`.
pub async fn group_compliance(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<GroupFigures>>> {
    Ok(Json(group_figures(&state, &who).await?))
}

/// `?group=&since=&limit=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendParams {
    /// An asset group.
    pub group: Option<String>,
    /// Scans at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// At most this many of the latest scans.
    pub limit: Option<usize>,
}

/// One point of a trend.
#[derive(Debug, Serialize)]
pub struct TrendPoint {
    /// The scan.
    pub scan: u64,
    /// Its time.
    pub at: DateTime<Utc>,
    /// Overall compliance.
    pub overall: f64,
    /// Open violations.
    pub open: usize,
    /// Per category: (category, percent).
    pub categories: Vec<(Category, f64)>,
}

/// The trend of the caller's scope.
pub async fn trend_points(state: &AppState, who: &Principal, q: &TrendParams) -> ApiResult<Vec<TrendPoint>> {
    let group = effective_group(who, q.group.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("`limit` must be 1 to {MAX_LIMIT}, not {limit}")));
    }
    let query = TrendQuery { group, since: q.since, until: None, limit };
    let points = state.store.compliance_trend(&query).await?;
    Ok(points
        .into_iter()
        .map(|s| TrendPoint {
            scan: s.scan.get(),
            at: s.at,
            overall: s.report.overall,
            open: s.report.open,
            categories: s.report.categories.iter().map(|c| (c.category, c.percent)).collect(),
        })
        .collect())
}

/// `GET /api/compliance/trend`.
pub async fn trend(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<TrendParams>,
) -> ApiResult<Json<Vec<TrendPoint>>> {
    Ok(Json(trend_points(&state, &who, &q).await?))
}

// ---------------------------------------------------------------- violations

/// Violation filters; lists are comma-separated.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationParams {
    /// Policy ids.
    pub policy: Option<String>,
    /// Severities.
    pub severity: Option<String>,
    /// Categories.
    pub category: Option<String>,
    /// Statuses (default: every status).
    pub status: Option<String>,
    /// Providers.
    pub provider: Option<String>,
    /// Accounts.
    pub account: Option<String>,
    /// Regions.
    pub region: Option<String>,
    /// Kinds.
    pub kind: Option<String>,
    /// An asset group.
    pub group: Option<String>,
    /// A tag `key` or `key=value`.
    pub tag: Option<String>,
    /// One asset.
    pub asset: Option<String>,
    /// Only violations changed at or after this time (RFC 3339).
    pub changed_since: Option<String>,
    /// The ordering.
    pub sort: Option<ViolationSort>,
    /// Its direction.
    pub order: Option<Order>,
    /// The page size.
    pub limit: Option<usize>,
    /// Where to continue.
    pub cursor: Option<String>,
}

/// A page of violations for the caller.
pub async fn violation_page(state: &AppState, who: &Principal, q: &ViolationParams) -> ApiResult<Page<Violation>> {
    let policies = strings(q.policy.as_deref());
    if !policies.is_empty() {
        let known = state.store.policies().await?;
        if let Some(p) = policies.iter().find(|p| !known.iter().any(|k| &k.meta.id == *p)) {
            return Err(ApiError::bad_request(format!(
                "`policy`: unknown policy `{}`",
                p.chars().take(80).collect::<String>()
            )));
        }
    }
    let scope = scope(who, q.group.as_deref())?;
    let filter = ViolationFilter {
        policies,
        severities: list("severity", q.severity.as_deref(), |s| Severity::from_str(s).ok())?,
        categories: list("category", q.category.as_deref(), |s| Category::from_str(s).ok())?,
        statuses: list("status", q.status.as_deref(), |s| ViolationStatus::from_str(s).ok())?,
        providers: strings(q.provider.as_deref()),
        accounts: strings(q.account.as_deref()),
        regions: strings(q.region.as_deref()),
        kinds: strings(q.kind.as_deref()).into_iter().map(ResourceKind::new).collect(),
        asset: q.asset.as_deref().filter(|a| !a.is_empty()).map(parse_asset_id).transpose()?,
        tags: tag_filter(q.tag.as_deref()),
        criteria: scope_criteria(state.store.as_ref(), &scope).await?,
        changed_since: changed_since(q.changed_since.as_deref())?,
    };
    let query = ViolationQuery {
        filter,
        sort: q.sort.unwrap_or_default(),
        order: q.order.unwrap_or_default(),
        page: page(q.limit, q.cursor.clone())?,
    };
    Ok(state.store.violations(&query).await?)
}

/// `GET /api/violations`.
pub async fn violations(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<ViolationParams>,
) -> ApiResult<Json<Page<Violation>>> {
    Ok(Json(violation_page(&state, &who, &q).await?))
}

/// `?policy=&rule=&asset=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneViolation {
    /// The policy.
    pub policy: String,
    /// The rule (optional when the policy has one rule failing on the asset).
    pub rule: Option<String>,
    /// The asset, `provider/account/region/kind/resource-id`.
    pub asset: String,
}

/// A violation with its history.
#[derive(Debug, Serialize)]
pub struct ViolationWithHistory {
    /// The violation.
    pub violation: Violation,
    /// Its transitions, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// `GET /api/violation`.
pub async fn violation(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<OneViolation>,
) -> ApiResult<Json<ViolationWithHistory>> {
    let asset = parse_asset_id(&q.asset)?;
    state.store.policy(&q.policy).await?;
    check_asset_visible(state.store.as_ref(), &who, &asset).await?;
    let filter =
        ViolationFilter { policies: vec![q.policy.clone()], asset: Some(asset.clone()), ..ViolationFilter::default() };
    let found = state.store.all_violations(filter).await?;
    let violation = found
        .into_iter()
        .find(|v| q.rule.as_ref().is_none_or(|r| &v.key.rule_id == r))
        .ok_or_else(|| ApiError::not_found(format!("no violation of `{}` on `{asset}`", q.policy)))?;
    let history = state.store.violation_history(&violation.key).await?;
    Ok(Json(ViolationWithHistory { violation, history }))
}

// ---------------------------------------------------------------- assets and search

/// Asset filters; lists are comma-separated.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetParams {
    /// Providers.
    pub provider: Option<String>,
    /// Accounts.
    pub account: Option<String>,
    /// Regions.
    pub region: Option<String>,
    /// Kinds.
    pub kind: Option<String>,
    /// A tag `key` or `key=value`.
    pub tag: Option<String>,
    /// An asset group.
    pub group: Option<String>,
    /// Whether to include removed assets.
    pub include_removed: Option<bool>,
    /// Only assets stored, changed or removed at or after this time (RFC 3339).
    pub changed_since: Option<String>,
    /// The ordering.
    pub sort: Option<AssetSort>,
    /// Its direction.
    pub order: Option<Order>,
    /// The page size.
    pub limit: Option<usize>,
    /// Where to continue.
    pub cursor: Option<String>,
}

/// `GET /api/assets`.
pub async fn assets(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<AssetParams>,
) -> ApiResult<Json<Page<pacbot::store::AssetRecord>>> {
    let scope = scope(&who, q.group.as_deref())?;
    let filter = AssetFilter {
        providers: strings(q.provider.as_deref()),
        accounts: strings(q.account.as_deref()),
        regions: strings(q.region.as_deref()),
        kinds: strings(q.kind.as_deref()).into_iter().map(ResourceKind::new).collect(),
        tags: tag_filter(q.tag.as_deref()),
        criteria: scope_criteria(state.store.as_ref(), &scope).await?,
        include_removed: q.include_removed.unwrap_or(false),
        changed_since: changed_since(q.changed_since.as_deref())?,
    };
    let query = AssetQuery {
        filter,
        sort: q.sort.unwrap_or_default(),
        order: q.order.unwrap_or_default(),
        page: page(q.limit, q.cursor)?,
    };
    Ok(Json(state.store.assets(&query).await?))
}

/// `?id=provider/account/region/kind/resource-id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetParam {
    /// The asset.
    pub id: String,
}

/// One asset's 360° view for the caller.
pub async fn asset_view(state: &AppState, who: &Principal, id: &str) -> ApiResult<Asset360> {
    let id = parse_asset_id(id)?;
    check_asset_visible(state.store.as_ref(), who, &id).await?;
    Ok(state.store.asset_360(&id).await?)
}

/// `GET /api/asset`: asset 360 — attributes, tags, violations and their history.
pub async fn asset_360(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<AssetParam>,
) -> ApiResult<Json<Asset360>> {
    Ok(Json(asset_view(&state, &who, &q.id).await?))
}

/// `?q=&limit=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// The text.
    pub q: String,
    /// At most this many hits.
    pub limit: Option<usize>,
}

/// What omni search finds: assets, violations and policies.
#[derive(Debug, Serialize)]
pub struct SearchResults {
    /// Asset and violation hits.
    pub hits: Vec<SearchHit>,
    /// Policies whose id, name or description contains the text.
    pub policies: Vec<PolicyRecord>,
}

/// Omni search for the caller.
pub async fn search_all(
    state: &AppState,
    who: &Principal,
    text: &str,
    limit: Option<usize>,
) -> ApiResult<SearchResults> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request("`q`: the search text is empty"));
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("`limit` must be 1 to {MAX_LIMIT}, not {limit}")));
    }
    let mut hits = state.store.search(text, limit).await?;
    if who.groups.is_some() {
        let mut kept = Vec::new();
        for hit in hits {
            let asset = match &hit {
                SearchHit::Asset { id, .. } => id,
                SearchHit::Violation { key, .. } => &key.asset,
            };
            if check_asset_visible(state.store.as_ref(), who, asset).await.is_ok() {
                kept.push(hit);
            }
        }
        hits = kept;
    }
    let needle = text.to_lowercase();
    let policies = state
        .store
        .policies()
        .await?
        .into_iter()
        .filter(|p| [&p.meta.id, &p.meta.name, &p.meta.description].iter().any(|f| f.to_lowercase().contains(&needle)))
        .take(limit)
        .collect();
    Ok(SearchResults { hits, policies })
}

/// `GET /api/search`: omni search.
pub async fn search(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchResults>> {
    Ok(Json(search_all(&state, &who, &q.q, q.limit).await?))
}

// ---------------------------------------------------------------- policies

/// A policy of the knowledge base with its current compliance.
#[derive(Debug, Serialize)]
pub struct PolicyInfo {
    /// The catalogue entry.
    #[serde(flatten)]
    pub record: PolicyRecord,
    /// Its compliance in the latest report of the caller's scope.
    pub compliance: Option<PolicyCompliance>,
}

/// The knowledge base for the caller's scope.
pub async fn policy_infos(state: &AppState, who: &Principal, group: Option<&str>) -> ApiResult<Vec<PolicyInfo>> {
    // A caller scoped to several groups who names none sees the policies
    // without figures: compliance is per group.
    let snapshot = match scope(who, group)? {
        Scope::All => state.store.latest_compliance(None).await?,
        Scope::Group(g) => state.store.latest_compliance(Some(&g)).await?,
        Scope::Groups(_) => None,
    };
    let figures = snapshot.map(|s| s.report.policies).unwrap_or_default();
    Ok(state
        .store
        .policies()
        .await?
        .into_iter()
        .map(|record| {
            let compliance = figures.iter().find(|f| f.policy_id == record.meta.id).cloned();
            PolicyInfo { record, compliance }
        })
        .collect())
}

/// `GET /api/policies`: every policy with its metadata and current compliance.
pub async fn policies(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<GroupParam>,
) -> ApiResult<Json<Vec<PolicyInfo>>> {
    Ok(Json(policy_infos(&state, &who, q.group.as_deref()).await?))
}

/// One policy of the knowledge base: metadata, compliance and its rules.
#[derive(Debug, Serialize)]
pub struct PolicyDetail {
    /// The catalogue entry and compliance.
    #[serde(flatten)]
    pub info: PolicyInfo,
    /// Its rules: what each checks, and a declarative rule's criteria as
    /// text (empty when the policy is not in the packs the server loaded).
    pub rules: Vec<RuleInfo>,
}

/// `GET /api/policies/{id}`.
pub async fn policy(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<GroupParam>,
) -> ApiResult<Json<PolicyDetail>> {
    state.store.policy(&id).await?;
    let all = policy_infos(&state, &who, q.group.as_deref()).await?;
    let info = all
        .into_iter()
        .find(|p| p.record.meta.id == id)
        .ok_or_else(|| ApiError::not_found(format!("policy `{id}` not found")))?;
    Ok(Json(PolicyDetail { info, rules: state.rules.rules(&id).to_vec() }))
}

// ---------------------------------------------------------------- groups (read) and administration

/// `GET /api/groups`: the asset groups the caller may see.
pub async fn groups(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<AssetGroupRecord>>> {
    let all = state.store.groups().await?;
    Ok(Json(all.into_iter().filter(|g| who.may_see(&g.group.name)).collect()))
}

/// `PUT /api/admin/groups/{name}`: creates or replaces a group.
pub async fn put_group(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    ApiJson(group): ApiJson<AssetGroup>,
) -> ApiResult<Json<AssetGroupRecord>> {
    who.require_admin()?;
    if group.name != name {
        return Err(ApiError::bad_request(format!("the body names group `{}`, the path `{name}`", group.name)));
    }
    Ok(Json(state.store.put_group(group, Stamp::new(&who.name, Utc::now())).await?))
}

/// `DELETE /api/admin/groups/{name}`.
pub async fn delete_group(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    who.require_admin()?;
    state.store.group(&name).await?;
    state.store.delete_group(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/exceptions`.
pub async fn exceptions(State(state): State<AppState>, who: Principal) -> ApiResult<Json<Vec<ExceptionRecord>>> {
    who.require_admin()?;
    Ok(Json(state.store.exceptions().await?))
}

/// A new exception: the granting admin and time are the caller and now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewException {
    /// An id; generated when absent.
    pub id: Option<String>,
    /// What is exempt.
    pub target: ExceptionTarget,
    /// Why.
    pub reason: String,
    /// Until when; absent for never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Adds an exception for the caller (validated; unknown policies refused).
pub async fn grant_exception(state: &AppState, who: &Principal, new: NewException) -> ApiResult<ExceptionRecord> {
    who.require_admin()?;
    let now = Utc::now();
    let exception = Exception {
        id: new.id.unwrap_or_else(|| format!("exc-{}", now.timestamp_micros())),
        target: new.target,
        reason: new.reason,
        granted_by: who.name.clone(),
        granted_at: now,
        expires_at: new.expires_at,
    };
    exception.validate().map_err(|e| ApiError::bad_request(e.to_string()))?;
    let known = state.store.policies().await?;
    if let Some(p) = exception.policies().iter().find(|p| *p != "*" && !known.iter().any(|k| &k.meta.id == *p)) {
        return Err(ApiError::bad_request(format!("unknown policy `{}`", p.chars().take(80).collect::<String>())));
    }
    Ok(state.store.put_exception(exception, Stamp::new(&who.name, now)).await?)
}

/// `POST /api/admin/exceptions`: exempts an asset or, sticky, every asset matching criteria.
pub async fn add_exception(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(new): ApiJson<NewException>,
) -> ApiResult<(StatusCode, Json<ExceptionRecord>)> {
    Ok((StatusCode::CREATED, Json(grant_exception(&state, &who, new).await?)))
}

/// `DELETE /api/admin/exceptions/{id}`: revokes; it stops applying at the next scan.
pub async fn revoke_exception(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require_admin()?;
    if !state.store.exceptions().await?.iter().any(|e| e.exception.id == id) {
        return Err(ApiError::not_found(format!("exception `{}` not found", id.chars().take(80).collect::<String>())));
    }
    state.store.delete_exception(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"enabled": bool}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    /// Whether the policy is evaluated.
    pub enabled: bool,
}

/// `PUT /api/admin/policies/{id}/enabled`: takes effect at the next scan.
pub async fn set_policy_enabled(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Enabled>,
) -> ApiResult<Json<PolicyRecord>> {
    who.require_admin()?;
    let mut record = state.store.policy(&id).await?;
    record.meta.enabled = body.enabled;
    let now = Utc::now();
    state.store.put_policies(vec![record.meta.clone()], now).await?;
    Ok(Json(state.store.policy(&id).await?))
}

/// `POST /api/admin/scan`: re-runs the demo scan (servers started with `--demo`).
pub async fn rescan(State(state): State<AppState>, who: Principal) -> ApiResult<Json<super::demo::ScanSummary>> {
    who.require_admin()?;
    let demo = state.demo.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "this server has no scan to run: ad-hoc scans need `--demo` (scanner sources are not configured here)",
        )
    })?;
    demo.rescan(state.store.as_ref()).await.map(Json).map_err(ApiError::internal)
}

/// `?kind=&status=&policy=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixParams {
    /// `plan`, `action` or `backup`.
    pub kind: Option<FixKind>,
    /// A status (`queued`, `planned`, `done`, …).
    pub status: Option<String>,
    /// A policy id.
    pub policy: Option<String>,
}

/// `GET /api/admin/fixes`: auto-fix records — plans (ingested findings
/// included), actions and backups — oldest first; a read-only view.
pub async fn fixes(
    State(state): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<FixParams>,
) -> ApiResult<Json<Vec<FixRecord>>> {
    who.require_admin()?;
    let filter = pacbot::store::FixFilter {
        kind: q.kind,
        policy_id: q.policy.filter(|p| !p.is_empty()),
        asset: None,
        status: q.status.filter(|s| !s.is_empty()),
    };
    Ok(Json(state.store.fix_records(&filter).await?))
}

/// `POST /api/ingest/findings`: a CloudBots-shaped finding, queued for the
/// auto-fix dispatcher as a `plan` record with status `queued`.
pub async fn ingest_finding(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    who.require_admin()?;
    let event = pacbot_autofix::FindingEvent::from_json(&body.to_string())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_finding", e.to_string()))?;
    let asset =
        event.asset().map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_finding", e.to_string()))?;
    let bots: Vec<String> = event.auto_lines().into_iter().filter_map(Result::ok).map(|l| l.bot).collect();
    let now = Utc::now();
    let id = match &event.id {
        Some(id) if !id.trim().is_empty() => format!("finding-{}", id.trim()),
        _ => format!("finding-{}", now.timestamp_micros()),
    };
    let record = FixRecord {
        id: id.clone(),
        kind: FixKind::Plan,
        policy_id: event.rule.name.clone(),
        asset: asset.id,
        status: "queued".into(),
        data: json!({"source": "webhook", "received_by": who.name, "event": body}),
        created_at: now,
        updated_at: now,
    };
    state.store.put_fix_record(record).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id, "status": "queued", "bots": bots}))))
}
