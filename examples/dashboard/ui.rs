//! The HTML pages: server-rendered, no script at all. Every value written
//! into a page goes through [`esc`] (text and attributes) or [`enc`] (URL
//! query parts, then escaped), so a tag value `<script>` shows as text.
//!
//! Browsers cannot send bearer headers on navigation, so the pages take the
//! token from a cookie set by the login form (`HttpOnly`, `SameSite=Strict`);
//! the forms that change something also refuse cross-site requests by their
//! `Origin` / `Sec-Fetch-Site` headers. The JSON API takes bearer headers only.

use std::fmt::Write as _;

use axum::Form;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pacbot::chrono::{Duration, Utc};
use pacbot::store::SearchHit;
use pacbot::{Criteria, ExceptionTarget, ViolationStatus};
use serde::Deserialize;

use super::api::{self, GroupParam, NewException, ViolationParams};
use super::app::{ApiQuery, AppState, COOKIE};
use super::auth::{Principal, Role};
use super::error::ApiError;

/// The UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/violations", get(violations))
        .route("/asset", get(asset))
        .route("/policies", get(policies))
        .route("/search", get(search))
        .route("/admin", get(admin))
        .route("/admin/groups", post(admin_put_group))
        .route("/admin/groups/delete", post(admin_delete_group))
        .route("/admin/exceptions", post(admin_add_exception))
        .route("/admin/exceptions/sticky", post(admin_add_sticky))
        .route("/admin/exceptions/revoke", post(admin_revoke_exception))
        .route("/admin/scan", post(admin_scan))
}

/// Escapes text for HTML content and attribute values (the scanner's HTML report's escaping).
pub use super::scanner::html::esc;

/// Percent-encodes a URL query value (the result still goes through [`esc`]).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The signed-in user of a page, from the session cookie; else a redirect to the login page.
pub struct User(pub Principal);

impl FromRequestParts<AppState> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, COOKIE) else { return Err(Redirect::to("/login").into_response()) };
        match state.auth.verify(&token).await {
            Ok(p) => Ok(User(p)),
            Err(_) => Err(Redirect::to("/login").into_response()),
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether a form was posted from another origin: by `Sec-Fetch-Site`
/// when the browser sends it (only `same-origin` and `none`, a typed URL,
/// pass), else by `Origin` against `Host` (an opaque `null` origin fails).
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    if let Some(origin) = header(header::ORIGIN.as_str()) {
        let host = header(header::HOST.as_str()).unwrap_or_default();
        return origin.split_once("://").is_none_or(|(_, h)| h != host);
    }
    false
}

pub(crate) fn refuse_cross_site() -> Response {
    error_page(&ApiError::forbidden("cross-site form submissions are refused"))
}

fn error_page(e: &ApiError) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status}</title>{STYLE}</head>\
         <body><main><h1>{status}</h1><p class=\"error\">{msg}</p><p><a href=\"/\">Overview</a></p></main></body></html>",
        status = e.status.as_u16(),
        msg = esc(&e.message)
    );
    (e.status, Html(body)).into_response()
}

pub(crate) fn fail(e: ApiError) -> Response {
    error_page(&e)
}

const STYLE: &str = "<style>\
body{font-family:system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}\
header{background:#1d3557;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}\
header a{color:#fff;text-decoration:none}header form{margin:0}\
main{padding:1rem;max-width:1200px}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #dde;padding:.3rem .5rem;text-align:left;vertical-align:top}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#fff;padding:.8rem 1rem;border-radius:6px;min-width:9rem}\
.big{font-size:2rem;font-weight:600}.error{color:#b00020}.sev-critical{color:#b00020;font-weight:600}.sev-high{color:#d35400}\
pre{background:#fff;padding:.6rem;overflow:auto}\
</style>";

/// The page frame: navigation, group selector, search box.
pub(crate) fn page(title: &str, who: &Principal, groups: &[String], group: Option<&str>, body: &str) -> Response {
    let g = group.map(|g| format!("?group={}", esc(&enc(g)))).unwrap_or_default();
    let mut options = String::new();
    match &who.groups {
        None => options.push_str("<option value=\"\">All assets</option>"),
        Some(gs) if gs.len() > 1 => options.push_str("<option value=\"\">All my groups</option>"),
        Some(_) => {}
    }
    for name in groups {
        let selected = if Some(name.as_str()) == group { " selected" } else { "" };
        let _ = write!(options, "<option value=\"{v}\"{selected}>{v}</option>", v = esc(name));
    }
    let admin = if who.role == Role::Admin && who.groups.is_none() { "<a href=\"/admin\">Admin</a>" } else { "" };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · pacbot</title>{STYLE}</head><body>\
         <header><strong>pacbot</strong><a href=\"/{g}\">Overview</a><a href=\"/violations{g}\">Violations</a>\
         <a href=\"/policies{g}\">Policies</a>{admin}\
         <form method=\"get\" action=\"/search\"><input type=\"search\" name=\"q\" placeholder=\"Search assets, violations, policies\" aria-label=\"Search\"></form>\
         <form method=\"get\" action=\"\" id=\"group-form\"><label>Group <select name=\"group\" id=\"group\">{options}</select></label> <button>Apply</button></form>\
         <span>{user} ({role})</span><form method=\"post\" action=\"/logout\"><button>Log out</button></form></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
        user = esc(&who.name),
        role = who.role.as_str(),
    );
    Html(html).into_response()
}

pub(crate) async fn visible_groups(state: &AppState, who: &Principal) -> Vec<String> {
    state
        .store
        .groups()
        .await
        .map(|gs| gs.into_iter().map(|g| g.group.name).filter(|n| who.may_see(n)).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- login

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login_page() -> Response {
    login_form(StatusCode::OK, "")
}

fn login_form(status: StatusCode, message: &str) -> Response {
    let error = if message.is_empty() { String::new() } else { format!("<p class=\"error\">{}</p>", esc(message)) };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · pacbot</title>{STYLE}</head><body>\
         <main><h1>pacbot dashboard</h1>{error}<form method=\"post\" action=\"/login\">\
         <label>API token or JWT <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\" required></label> \
         <button id=\"login\">Log in</button></form></main></body></html>"
    );
    (status, Html(html)).into_response()
}

async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let token = form.token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) || token.contains(';') {
        return login_form(StatusCode::UNAUTHORIZED, "that token is not valid");
    }
    match state.auth.verify(token).await {
        Ok(_) => {
            let mut response = Redirect::to("/").into_response();
            let secure = if state.secure_cookies { "; Secure" } else { "" };
            let value = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => login_form(StatusCode::UNAUTHORIZED, &e.message),
    }
}

async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    let value = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

// ---------------------------------------------------------------- overview

fn percent(p: f64) -> String {
    format!("{p:.1} %")
}

/// An inline SVG line chart of overall compliance per scan.
pub fn trend_svg(points: &[(String, f64)]) -> String {
    let (w, h, pad) = (600.0_f64, 180.0_f64, 30.0_f64);
    if points.is_empty() {
        return "<p>No scans yet.</p>".into();
    }
    let n = points.len();
    let x = |i: usize| if n == 1 { w / 2.0 } else { pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64 };
    let y = |p: f64| h - pad - (h - 2.0 * pad) * p.clamp(0.0, 100.0) / 100.0;
    let line: Vec<String> = points.iter().enumerate().map(|(i, (_, p))| format!("{:.1},{:.1}", x(i), y(*p))).collect();
    let mut svg = format!(
        "<svg id=\"trend\" role=\"img\" aria-label=\"Compliance trend\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\
         <line x1=\"{pad}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y0:.1}\" stroke=\"#ccc\"/>\
         <line x1=\"{pad}\" y1=\"{y100:.1}\" x2=\"{x1:.1}\" y2=\"{y100:.1}\" stroke=\"#eee\"/>\
         <text x=\"2\" y=\"{y0:.1}\" font-size=\"10\">0</text><text x=\"2\" y=\"{y100:.1}\" font-size=\"10\">100</text>\
         <polyline fill=\"none\" stroke=\"#1d3557\" stroke-width=\"2\" points=\"{}\"/>",
        line.join(" "),
        y0 = y(0.0),
        y100 = y(100.0),
        x1 = w - pad,
    );
    for (i, (label, p)) in points.iter().enumerate() {
        let _ = write!(
            svg,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"4\" fill=\"#1d3557\"><title>{label}: {p:.1} %</title></circle>\
             <text x=\"{cx:.1}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"middle\">{p:.1}</text>",
            cx = x(i),
            cy = y(*p),
            ty = y(*p) - 8.0,
            label = esc(label),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The group of the compliance figures a page shows: as the API's, but a
/// caller scoped to several groups who names none sees its first group's
/// (selected in the group selector, so it can switch).
fn figures_group(who: &Principal, asked: Option<&str>) -> Result<Option<String>, ApiError> {
    match api::scope(who, asked)? {
        api::Scope::Groups(gs) => Ok(gs.into_iter().next()),
        _ => api::effective_group(who, asked),
    }
}

async fn overview(State(state): State<AppState>, User(who): User, ApiQuery(q): ApiQuery<GroupParam>) -> Response {
    let groups = visible_groups(&state, &who).await;
    let group = match figures_group(&who, q.group.as_deref()) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let snapshot = match api::latest(&state, &who, group.as_deref()).await {
        Ok(s) => s,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return page("Overview", &who, &groups, group.as_deref(), &format!("<p>{}</p>", esc(&e.message)));
        }
        Err(e) => return fail(e),
    };
    let r = &snapshot.report;
    let mut body = format!(
        "<div class=\"cards\"><div class=\"card\"><div>Overall</div><div class=\"big\" id=\"overall\">{}</div></div>\
         <div class=\"card\"><div>Assets</div><div class=\"big\" id=\"assets\">{}</div></div>\
         <div class=\"card\"><div>Open violations</div><div class=\"big\" id=\"open\">{}</div></div>\
         <div class=\"card\"><div>Exempted</div><div class=\"big\">{}</div></div>\
         <div class=\"card\"><div>Tagging</div><div class=\"big\">{}</div></div></div>",
        percent(r.overall),
        r.assets,
        r.open,
        r.exempted,
        percent(r.tagging.percent)
    );
    body.push_str("<h2>Categories</h2><table id=\"categories\"><tr><th>Category</th><th>Compliance</th><th>Policies</th><th>Open</th></tr>");
    for c in &r.categories {
        let pct = if c.assessed { percent(c.percent) } else { "not assessed".into() };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{pct}</td><td>{}</td><td>{}</td></tr>",
            esc(c.category.as_str()),
            c.policies,
            c.open
        );
    }
    body.push_str("</table><h2>Trend</h2>");
    let trend =
        api::trend_points(&state, &who, &api::TrendParams { group: group.clone(), since: None, limit: Some(30) })
            .await
            .unwrap_or_default();
    let points: Vec<(String, f64)> =
        trend.iter().map(|t| (format!("scan {} at {}", t.scan, t.at.format("%Y-%m-%d %H:%M")), t.overall)).collect();
    body.push_str(&trend_svg(&points));
    body.push_str(
        "<h2>Worst policies</h2><table><tr><th>Policy</th><th>Severity</th><th>Compliance</th><th>Open</th></tr>",
    );
    let mut worst: Vec<_> = r.policies.iter().filter(|p| p.open > 0).collect();
    worst.sort_by(|a, b| a.percent.total_cmp(&b.percent));
    let g = group.as_deref().map(|g| format!("&group={}", enc(g))).unwrap_or_default();
    for p in worst.iter().take(10) {
        let _ = write!(
            body,
            "<tr><td><a href=\"{href}\">{name}</a></td><td class=\"sev-{sev}\">{sev}</td><td>{pct}</td><td>{open}</td></tr>",
            href = esc(&format!("/violations?status=open&policy={}{g}", enc(&p.policy_id))),
            name = esc(&p.name),
            sev = p.severity.as_str(),
            pct = percent(p.percent),
            open = p.open,
        );
    }
    body.push_str("</table>");
    page("Overview", &who, &groups, group.as_deref(), &body)
}

// ---------------------------------------------------------------- violations

fn asset_text(id: &pacbot::AssetId) -> String {
    id.to_string()
}

async fn violations(
    State(state): State<AppState>,
    User(who): User,
    ApiQuery(q): ApiQuery<ViolationParams>,
) -> Response {
    let groups = visible_groups(&state, &who).await;
    // No group: everything, or the union of a scoped caller's groups.
    let group = match api::scope(&who, q.group.as_deref()) {
        Ok(api::Scope::Group(g)) if q.group.as_deref().is_some_and(|a| !a.is_empty()) => Some(g),
        Ok(_) => None,
        Err(e) => return fail(e),
    };
    let page_of = match api::violation_page(&state, &who, &q).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let field = |name: &str, value: &Option<String>, hint: &str| {
        format!(
            "<label>{name} <input name=\"{name}\" value=\"{v}\" placeholder=\"{hint}\" size=\"12\"></label> ",
            v = esc(value.as_deref().unwrap_or_default())
        )
    };
    let mut body = String::from("<form method=\"get\" action=\"/violations\" id=\"filters\">");
    body.push_str(&field("status", &q.status, "open,exempted"));
    body.push_str(&field("severity", &q.severity, "critical,high"));
    body.push_str(&field("category", &q.category, "security"));
    body.push_str(&field("policy", &q.policy, "policy id"));
    body.push_str(&field("account", &q.account, "account"));
    body.push_str(&field("region", &q.region, "region"));
    body.push_str(&field("kind", &q.kind, "aws.s3.bucket"));
    body.push_str(&field("tag", &q.tag, "Key=Value"));
    if let Some(g) = &group {
        let _ = write!(body, "<input type=\"hidden\" name=\"group\" value=\"{}\">", esc(g));
    }
    body.push_str("<button>Filter</button></form>");
    body.push_str("<table id=\"violations\"><tr><th>Policy</th><th>Severity</th><th>Status</th><th>Asset</th><th>Reason</th><th>Since</th></tr>");
    for v in &page_of.items {
        let id = asset_text(&v.key.asset);
        let _ = write!(
            body,
            "<tr data-status=\"{status}\"><td>{policy}</td><td class=\"sev-{sev}\">{sev}</td><td>{status}</td>\
             <td><a href=\"{href}\">{id}</a></td><td>{reason}</td><td>{since}</td></tr>",
            policy = esc(&v.key.policy_id),
            sev = v.severity.as_str(),
            status = v.status.as_str(),
            href = esc(&format!("/asset?id={}", enc(&id))),
            id = esc(&id),
            reason = esc(&v.reason),
            since = v.created_at.format("%Y-%m-%d"),
        );
    }
    body.push_str("</table>");
    if page_of.items.is_empty() {
        body.push_str("<p>No violation matches.</p>");
    }
    if let Some(next) = &page_of.next {
        let mut params: Vec<(String, String)> = serde_urlencoded_pairs(&q);
        params.retain(|(k, _)| k != "cursor");
        params.push(("cursor".into(), next.as_str().to_owned()));
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        let _ = write!(body, "<p><a id=\"next\" href=\"/violations?{}\">Next page</a></p>", esc(&query.join("&")));
    }
    page("Violations", &who, &groups, group.as_deref(), &body)
}

/// The set parameters of a violation query, as (name, value) pairs.
fn serde_urlencoded_pairs(q: &ViolationParams) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(q) else { return Vec::new() };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------- asset 360

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetPageParams {
    id: String,
}

async fn asset(State(state): State<AppState>, User(who): User, ApiQuery(q): ApiQuery<AssetPageParams>) -> Response {
    let groups = visible_groups(&state, &who).await;
    let view = match api::asset_view(&state, &who, &q.id).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let a = &view.asset.asset;
    let mut body = format!(
        "<table id=\"identity\"><tr><th>Id</th><td>{id}</td></tr><tr><th>Name</th><td>{name}</td></tr>\
         <tr><th>Provider</th><td>{provider}</td></tr><tr><th>Account</th><td>{account}</td></tr>\
         <tr><th>Region</th><td>{region}</td></tr><tr><th>Kind</th><td>{kind}</td></tr>\
         <tr><th>First seen</th><td>{first}</td></tr><tr><th>Last seen</th><td>{last}</td></tr>\
         <tr><th>Removed</th><td>{removed}</td></tr></table>",
        id = esc(&a.id.to_string()),
        name = esc(a.name.as_deref().unwrap_or("")),
        provider = esc(&a.id.provider),
        account = esc(&a.id.account),
        region = esc(&a.id.region),
        kind = esc(a.id.kind.as_str()),
        first = a.first_seen.map(|t| t.to_rfc3339()).unwrap_or_default(),
        last = a.last_seen.map(|t| t.to_rfc3339()).unwrap_or_default(),
        removed = view.asset.removed_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "no".into()),
    );
    body.push_str("<h2>Tags</h2><table id=\"tags\"><tr><th>Key</th><th>Value</th></tr>");
    if let Ok(serde_json::Value::Object(tags)) = serde_json::to_value(&a.tags) {
        for (k, v) in tags {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            let _ = write!(body, "<tr><td>{}</td><td>{}</td></tr>", esc(&k), esc(&v));
        }
    }
    body.push_str("</table><h2>Violations</h2><table id=\"asset-violations\"><tr><th>Policy</th><th>Severity</th><th>Status</th><th>Reason</th><th>Exception</th></tr>");
    for v in &view.violations {
        let _ = write!(
            body,
            "<tr data-policy=\"{p}\" data-status=\"{s}\"><td>{p}</td><td class=\"sev-{sev}\">{sev}</td><td>{s}</td><td>{r}</td><td>{e}</td></tr>",
            p = esc(&v.key.policy_id),
            sev = v.severity.as_str(),
            s = v.status.as_str(),
            r = esc(&v.reason),
            e = esc(v.exception_id.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</table><h2>History</h2><table><tr><th>When</th><th>Policy</th><th>What</th><th>Why</th></tr>");
    for h in &view.history {
        let t = &h.transition;
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.at.format("%Y-%m-%d %H:%M"),
            esc(&t.key.policy_id),
            t.kind.as_str(),
            esc(&t.reason)
        );
    }
    body.push_str("</table><h2>Attributes</h2>");
    let attributes = serde_json::to_string_pretty(&a.attributes).unwrap_or_default();
    let _ = write!(body, "<pre id=\"attributes\">{}</pre>", esc(&attributes));
    if who.role == Role::Admin && who.groups.is_none() {
        let open: Vec<&str> = view
            .violations
            .iter()
            .filter(|v| v.status == ViolationStatus::Open)
            .map(|v| v.key.policy_id.as_str())
            .collect();
        if !open.is_empty() {
            let mut options = String::new();
            for p in open {
                let _ = write!(options, "<option value=\"{p}\">{p}</option>", p = esc(p));
            }
            let _ = write!(
                body,
                "<h2>Grant an exception</h2><form method=\"post\" action=\"/admin/exceptions\" id=\"exception-form\">\
                 <input type=\"hidden\" name=\"asset\" value=\"{id}\"><label>Policy <select name=\"policy\">{options}</select></label> \
                 <label>Reason <input name=\"reason\" required></label> <label>Days <input name=\"days\" type=\"number\" min=\"1\" value=\"30\"></label> \
                 <label><input type=\"checkbox\" name=\"rescan\" value=\"1\" checked> re-scan now</label> <button>Exempt</button></form>",
                id = esc(&a.id.to_string())
            );
        }
    }
    page(a.name.as_deref().unwrap_or(&a.id.resource_id), &who, &groups, None, &body)
}

// ---------------------------------------------------------------- policies and search

async fn policies(State(state): State<AppState>, User(who): User, ApiQuery(q): ApiQuery<GroupParam>) -> Response {
    let groups = visible_groups(&state, &who).await;
    let group = match figures_group(&who, q.group.as_deref()) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let infos = match api::policy_infos(&state, &who, group.as_deref()).await {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let mut body = String::from(
        "<table id=\"policies\"><tr><th>Policy</th><th>Severity</th><th>Category</th><th>Compliance</th>\
         <th>Frameworks</th><th>What and how to fix</th></tr>",
    );
    for p in &infos {
        let m = &p.record.meta;
        let frameworks: Vec<String> =
            m.frameworks.iter().map(|(f, ids)| format!("{}: {}", esc(f), esc(&ids.join(", ")))).collect();
        let compliance = match (&p.compliance, m.enabled) {
            (_, false) => "disabled".to_owned(),
            (Some(c), true) => format!("{} ({} open of {})", percent(c.percent), c.open, c.assets_in_scope),
            (None, true) => "not evaluated".to_owned(),
        };
        let mut rules = String::new();
        for r in state.rules.rules(&m.id) {
            let what = if r.description.is_empty() { String::new() } else { format!(": {}", esc(&r.description)) };
            let _ = match &r.criteria {
                Some(c) => write!(
                    rules,
                    "<details class=\"rule\" data-form=\"declarative\"><summary>Rule <code>{id}</code> (criteria){what}</summary><pre>{c}</pre></details>",
                    id = esc(&r.id),
                    c = esc(c),
                ),
                None => write!(
                    rules,
                    "<div class=\"rule\" data-form=\"code\">Rule <code>{id}</code> (in code){what}</div>",
                    id = esc(&r.id),
                ),
            };
        }
        let _ = write!(
            body,
            "<tr id=\"policy-{idattr}\"><td><strong>{name}</strong><br><code>{id}</code></td><td class=\"sev-{sev}\">{sev}</td>\
             <td>{cat}</td><td>{compliance}</td><td>{fw}</td><td>{desc}<br><em>Fix:</em> {res}{rules}</td></tr>",
            idattr = esc(&m.id),
            name = esc(&m.name),
            id = esc(&m.id),
            sev = m.severity.as_str(),
            cat = m.category.as_str(),
            fw = frameworks.join("<br>"),
            desc = esc(&m.description),
            res = esc(&m.resolution),
        );
    }
    body.push_str("</table>");
    page("Policy knowledge base", &who, &groups, group.as_deref(), &body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchPageParams {
    q: String,
}

async fn search(State(state): State<AppState>, User(who): User, ApiQuery(q): ApiQuery<SearchPageParams>) -> Response {
    let groups = visible_groups(&state, &who).await;
    let found = match api::search_all(&state, &who, &q.q, Some(100)).await {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let mut body = format!("<p>Results for <q id=\"query\">{}</q></p><ul id=\"results\">", esc(&q.q));
    for hit in &found.hits {
        match hit {
            SearchHit::Asset { id, name, .. } => {
                let text = id.to_string();
                let _ = write!(
                    body,
                    "<li class=\"asset\">Asset <a href=\"{}\">{}</a> {}</li>",
                    esc(&format!("/asset?id={}", enc(&text))),
                    esc(&text),
                    esc(name.as_deref().unwrap_or(""))
                );
            }
            SearchHit::Violation { key, status, reason } => {
                let text = key.asset.to_string();
                let _ = write!(
                    body,
                    "<li class=\"violation\">Violation of {} ({}) on <a href=\"{}\">{}</a>: {}</li>",
                    esc(&key.policy_id),
                    status.as_str(),
                    esc(&format!("/asset?id={}", enc(&text))),
                    esc(&text),
                    esc(reason)
                );
            }
        }
    }
    for p in &found.policies {
        let _ = write!(
            body,
            "<li class=\"policy\">Policy <a href=\"/policies#policy-{id}\">{name}</a> <code>{id}</code></li>",
            id = esc(&p.meta.id),
            name = esc(&p.meta.name)
        );
    }
    body.push_str("</ul>");
    if found.hits.is_empty() && found.policies.is_empty() {
        body.push_str("<p>Nothing found.</p>");
    }
    page("Search", &who, &groups, None, &body)
}

// ---------------------------------------------------------------- admin

async fn admin(State(state): State<AppState>, User(who): User) -> Response {
    if let Err(e) = who.require_admin() {
        return fail(e);
    }
    let groups = visible_groups(&state, &who).await;
    let mut body = String::from(
        "<h2>Asset groups</h2><table id=\"groups\"><tr><th>Name</th><th>Description</th><th>Criteria</th><th>Changed</th><th></th></tr>",
    );
    for g in state.store.groups().await.unwrap_or_default() {
        let criteria = serde_json::to_string(&g.group.criteria).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{n}</td><td>{d}</td><td><code>{c}</code></td><td>{by} {at}</td><td><form method=\"post\" action=\"/admin/groups/delete\">\
             <input type=\"hidden\" name=\"name\" value=\"{n}\"><button>Delete</button></form></td></tr>",
            n = esc(&g.group.name),
            d = esc(&g.group.description),
            c = esc(&criteria),
            by = esc(&g.updated.by),
            at = g.updated.at.format("%Y-%m-%d %H:%M"),
        );
    }
    body.push_str(
        "</table><form method=\"post\" action=\"/admin/groups\" id=\"group-add\"><label>Name <input name=\"name\" required></label> \
         <label>Description <input name=\"description\"></label> \
         <label>Criteria (JSON) <input name=\"criteria\" size=\"50\" required placeholder='{\"path\": \"tags.Team\", \"eq\": \"payments\"}'></label> \
         <button>Save group</button></form>",
    );
    body.push_str("<h2>Exceptions</h2><table id=\"exceptions\"><tr><th>Id</th><th>Target</th><th>Policies</th><th>Reason</th><th>By</th><th>Expires</th><th></th></tr>");
    for e in state.store.exceptions().await.unwrap_or_default() {
        let x = &e.exception;
        let target = match &x.target {
            ExceptionTarget::Asset { asset, .. } => asset.to_string(),
            ExceptionTarget::Sticky { criteria, .. } => {
                format!("sticky {}", serde_json::to_string(criteria).unwrap_or_default())
            }
        };
        let _ = write!(
            body,
            "<tr><td>{id}</td><td>{t}</td><td>{p}</td><td>{r}</td><td>{by}</td><td>{exp}</td><td><form method=\"post\" action=\"/admin/exceptions/revoke\">\
             <input type=\"hidden\" name=\"id\" value=\"{id}\"><button>Revoke</button></form></td></tr>",
            id = esc(&x.id),
            t = esc(&target),
            p = esc(&x.policies().join(", ")),
            r = esc(&x.reason),
            by = esc(&x.granted_by),
            exp = x.expires_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "never".into()),
        );
    }
    body.push_str(
        "</table><p>Exceptions for one asset are granted from its page; sticky ones, for every asset \
         matching criteria now and later, here:</p><form method=\"post\" action=\"/admin/exceptions/sticky\" id=\"sticky-add\">\
         <label>Criteria (JSON) <input name=\"criteria\" size=\"40\" required placeholder='{\"path\": \"tags.Environment\", \"eq\": \"sandbox\"}'></label> \
         <label>Policies <input name=\"policies\" required placeholder=\"ids, comma-separated, or *\"></label> \
         <label>Reason <input name=\"reason\" required></label> <label>Days <input name=\"days\" type=\"number\" min=\"1\" value=\"30\"></label> \
         <button>Grant</button></form>",
    );
    body.push_str("<h2>Auto-fix queue</h2><table id=\"fixes\"><tr><th>Id</th><th>Kind</th><th>Status</th><th>Policy or rule</th><th>Asset</th><th>Updated</th></tr>");
    let plans = pacbot::store::FixFilter { kind: Some(pacbot::store::FixKind::Plan), ..Default::default() };
    for f in state.store.fix_records(&plans).await.unwrap_or_default() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.id),
            f.kind.as_str(),
            esc(&f.status),
            esc(&f.policy_id),
            esc(&f.asset.to_string()),
            f.updated_at.format("%Y-%m-%d %H:%M"),
        );
    }
    body.push_str("</table>");
    body.push_str(
        "<p><a href=\"/admin/operations\" id=\"operations\">Operations</a>: scan one scope, re-evaluate an asset, \
         approve auto-fix plans, dispatch findings to bots.</p>",
    );
    if state.demo.is_some() {
        body.push_str("<h2>Scan</h2><form method=\"post\" action=\"/admin/scan\"><button id=\"rescan\">Run the demo scan now</button></form>");
    }
    page("Administration", &who, &groups, None, &body)
}

#[derive(Deserialize)]
struct GroupForm {
    name: String,
    #[serde(default)]
    description: String,
    criteria: String,
}

async fn admin_put_group(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<GroupForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    if let Err(e) = who.require_admin() {
        return fail(e);
    }
    let criteria: Criteria = match serde_json::from_str(&f.criteria) {
        Ok(c) => c,
        Err(e) => return fail(ApiError::bad_request(format!("invalid criteria: {e}"))),
    };
    let mut group = pacbot::AssetGroup::new(f.name.trim(), criteria);
    group.description = f.description;
    match state.store.put_group(group, pacbot::store::Stamp::new(&who.name, Utc::now())).await {
        Ok(_) => Redirect::to("/admin").into_response(),
        Err(e) => fail(e.into()),
    }
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn admin_delete_group(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<NameForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    if let Err(e) = who.require_admin() {
        return fail(e);
    }
    match state.store.delete_group(&f.name).await {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(e) => fail(e.into()),
    }
}

#[derive(Deserialize)]
struct ExceptionForm {
    asset: String,
    policy: String,
    reason: String,
    days: Option<String>,
    rescan: Option<String>,
}

async fn admin_add_exception(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<ExceptionForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let asset = match api::parse_asset_id(&f.asset) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let days = match parse_days(f.days.as_deref()) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let new = NewException {
        id: None,
        target: ExceptionTarget::Asset { asset: asset.clone(), policies: vec![f.policy] },
        reason: f.reason,
        expires_at: days.map(|d| Utc::now() + Duration::days(d)),
    };
    if let Err(e) = api::grant_exception(&state, &who, new).await {
        return fail(e);
    }
    if f.rescan.is_some()
        && let Some(demo) = &state.demo
        && let Err(e) = demo.rescan(state.store.as_ref()).await
    {
        return fail(ApiError::internal(e));
    }
    Redirect::to(&format!("/asset?id={}", enc(&asset.to_string()))).into_response()
}

/// An optional number of days, 1 to 3650.
fn parse_days(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request("`days` must be a whole number from 1 to 3650")),
        },
    }
}

#[derive(Deserialize)]
struct StickyForm {
    criteria: String,
    policies: String,
    reason: String,
    days: Option<String>,
}

async fn admin_add_sticky(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<StickyForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let criteria: Criteria = match serde_json::from_str(&f.criteria) {
        Ok(c) => c,
        Err(e) => return fail(ApiError::bad_request(format!("invalid criteria: {e}"))),
    };
    let days = match parse_days(f.days.as_deref()) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let policies: Vec<String> =
        f.policies.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
    let new = NewException {
        id: None,
        target: ExceptionTarget::Sticky { criteria, policies },
        reason: f.reason,
        expires_at: days.map(|d| Utc::now() + Duration::days(d)),
    };
    match api::grant_exception(&state, &who, new).await {
        Ok(_) => Redirect::to("/admin").into_response(),
        Err(e) => fail(e),
    }
}

#[derive(Deserialize)]
struct IdForm {
    id: String,
}

async fn admin_revoke_exception(
    State(state): State<AppState>,
    User(who): User,
    headers: HeaderMap,
    Form(f): Form<IdForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    if let Err(e) = who.require_admin() {
        return fail(e);
    }
    match state.store.delete_exception(&f.id).await {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(e) => fail(e.into()),
    }
}

async fn admin_scan(State(state): State<AppState>, User(who): User, headers: HeaderMap) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    if let Err(e) = who.require_admin() {
        return fail(e);
    }
    let Some(demo) = &state.demo else { return fail(ApiError::conflict("this server has no scan to run")) };
    match demo.rescan(state.store.as_ref()).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => fail(ApiError::internal(e)),
    }
}
