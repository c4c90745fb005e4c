//! The server: shared state, the router, extractors and middleware.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use pacbot::store::Store;
use serde::de::DeserializeOwned;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::auth::{Auth, Principal};
use super::cache::{self, ResponseCache};
use super::error::{ApiError, ApiResult};
use super::rules::RuleCatalogue;
use super::{admin, api, demo, ui};

/// The largest request body accepted, by default (64 KiB: exceptions, groups and findings are small).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The name of the UI's session cookie (it holds the token the user logged in with).
pub const COOKIE: &str = "pacbot_token";

/// How the server is set up.
#[derive(Debug)]
pub struct Settings {
    /// Who may call it.
    pub auth: Auth,
    /// Origins allowed to call the API from a browser; none (the default) closes CORS.
    pub cors_origins: Vec<String>,
    /// The largest request body accepted.
    pub body_limit: usize,
    /// The demo scan `POST /api/admin/scan` re-runs, when the server seeded the demo.
    pub demo: Option<demo::DemoScan>,
    /// Whether the session cookie is `Secure` (sent over HTTPS only): set it
    /// when the dashboard is served over HTTPS (a TLS proxy in front).
    pub secure_cookies: bool,
    /// The auto-fix catalogue and plans (fix approval, bot dispatch); none by default.
    pub autofix: Option<Arc<admin::Autofix>>,
    /// The policies' rules for the knowledge base; `None`: the demo's with a
    /// demo, else the built-in packs'.
    pub rules: Option<RuleCatalogue>,
    /// The response cache of the read-only JSON routes (on by default; see [`cache`]).
    pub response_cache: cache::Config,
}

impl Settings {
    /// Settings with this authentication, CORS closed, the default body limit, no demo, plain-HTTP cookies.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth,
            cors_origins: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            demo: None,
            secure_cookies: false,
            autofix: None,
            rules: None,
            response_cache: cache::Config::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The state's contents.
#[derive(Debug)]
pub struct Inner {
    /// The store every view reads.
    pub store: Arc<dyn Store>,
    /// Authentication.
    pub auth: Auth,
    /// The demo scan, if seeded.
    pub demo: Option<demo::DemoScan>,
    /// Requests served, by route and status.
    pub requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Whether the session cookie is `Secure`.
    pub secure_cookies: bool,
    /// The auto-fix set-up, if configured.
    pub autofix: Option<Arc<admin::Autofix>>,
    /// The policies' rules, for the knowledge base.
    pub rules: RuleCatalogue,
    /// Responses of the read-only JSON routes, by store revision.
    pub cache: ResponseCache,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The state over a store, with the rules of the knowledge base.
    pub fn new(
        store: Arc<dyn Store>,
        auth: Auth,
        demo: Option<demo::DemoScan>,
        secure_cookies: bool,
        rules: RuleCatalogue,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            auth,
            demo,
            requests: Mutex::new(BTreeMap::new()),
            secure_cookies,
            autofix: None,
            rules,
            cache: ResponseCache::new(cache::Config::disabled()),
        }))
    }

    /// The state with a response cache (before it is shared).
    pub fn with_response_cache(mut self, config: cache::Config) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.cache = ResponseCache::new(config);
        }
        self
    }

    /// The state with an auto-fix set-up (before it is shared).
    pub fn with_autofix(mut self, autofix: Option<Arc<admin::Autofix>>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.autofix = autofix;
        }
        self
    }
}

/// The whole application: the API under `/api`, the UI, `/healthz` and `/metrics`.
pub fn router(store: Arc<dyn Store>, settings: Settings) -> Router {
    let rules = settings.rules.unwrap_or_else(|| {
        let loaded = if settings.demo.is_some() { RuleCatalogue::demo() } else { RuleCatalogue::builtin() };
        loaded.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the knowledge base shows no rules: the policy packs did not load");
            RuleCatalogue::default()
        })
    });
    let state = AppState::new(store, settings.auth, settings.demo, settings.secure_cookies, rules)
        .with_autofix(settings.autofix)
        .with_response_cache(settings.response_cache);
    // The read-only JSON routes whose answers depend only on the store, the
    // URI and the caller's role and groups: cached (see `cache`).
    let cached = Router::new()
        .route("/compliance", get(api::compliance))
        .route("/compliance/categories", get(api::categories))
        .route("/compliance/policies", get(api::policy_compliance))
        .route("/compliance/groups", get(api::group_compliance))
        .route("/compliance/tagging", get(api::tagging))
        .route("/compliance/trend", get(api::trend))
        .route("/violations", get(api::violations))
        .route("/violation", get(api::violation))
        .route("/assets", get(api::assets))
        .route("/asset", get(api::asset_360))
        .route("/search", get(api::search))
        .route("/policies", get(api::policies))
        .route("/policies/{id}", get(api::policy))
        .route("/groups", get(api::groups))
        .route_layer(middleware::from_fn_with_state(state.clone(), cache::serve));
    let api = cached
        .route("/openapi.json", get(api::openapi))
        .route("/admin/groups/{name}", put(api::put_group).delete(api::delete_group))
        .route("/admin/exceptions", get(api::exceptions).post(api::add_exception))
        .route("/admin/exceptions/{id}", delete(api::revoke_exception))
        .route("/admin/policies/{id}/enabled", put(api::set_policy_enabled))
        .route("/admin/scan", post(admin::scan))
        .route("/admin/assets/reevaluate", post(admin::reevaluate))
        .route("/admin/fixes", get(api::fixes))
        .route("/admin/fixes/plans", get(admin::plans))
        .route("/admin/fixes/{id}/approve", post(admin::approve))
        .route("/admin/findings/{id}/dispatch", post(admin::dispatch))
        .route("/ingest/findings", post(api::ingest_finding));
    let mut app = Router::new()
        .nest("/api", api)
        .merge(ui::routes())
        .merge(admin::ui_routes())
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(middleware::from_fn(json_errors))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit));
    if !settings.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> =
            settings.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    app.layer(middleware::from_fn(security_headers)).with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} `{}`", uri.path()))
}

/// Counts requests by matched route and status, for `/metrics`.
async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    if let Ok(mut m) = state.requests.lock() {
        *m.entry((route, response.status().as_u16())).or_insert(0) += 1;
    }
    response
}

/// Turns the framework's own error responses (unknown method, oversized or
/// malformed body) into the API's JSON errors.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let is_html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_html {
        return response;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is over the size limit".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".to_owned(),
        _ => {
            let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text }
        }
    };
    ApiError::for_status(status, message).into_response()
}

/// Headers on every response: no sniffing, no framing, a strict content
/// security policy (inline styles and the UI's one inline script only).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

/// The caller of an API route, from its `Authorization: Bearer …` header.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        // Authenticated already by the response cache.
        if let Some(who) = parts.extensions.get::<Principal>() {
            return Ok(who.clone());
        }
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>` header"))?;
        let value = value.to_str().map_err(|_| ApiError::unauthorized("malformed authorization header"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("the authorization header is not a bearer token"))?;
        state.auth.verify(token).await
    }
}

/// Query parameters, with JSON errors naming what is wrong.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
    }
}

/// A JSON body, with JSON errors naming the path of what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &S) -> ApiResult<Self> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (`Content-Type: application/json`)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::for_status(e.status(), format!("cannot read the request body: {}", e.body_text()))
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(ApiJson).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("invalid body at `{}`: {}", e.path(), e.inner()),
            )
        })
    }
}
