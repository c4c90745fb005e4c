//! The dashboard example's API and pages, in-process (`cargo test --test dashboard`).
//!
//! The example's modules are compiled into this test (as tests/scanner.rs
//! does for the scanner) and its router is called with
//! `tower::ServiceExt::oneshot`: no port is bound. The store is an in-memory
//! SQLite seeded with the scanner's demo scans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../examples/dashboard/main.rs"]
#[allow(dead_code, unreachable_pub)]
mod dashboard;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use pacbot::store::{SqliteStore, Store, StoreExt};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use tower::ServiceExt;

use dashboard::app::{Settings, router};
use dashboard::auth::{Auth, OidcConfig, Role};
use dashboard::cache::Config as ResponseCacheConfig;
use dashboard::demo::DemoScan;

const ADMIN: &str = "admin-secret-token";
const READER: &str = "reader-secret-token";
const PAYMENTS: &str = "payments-reader-token";
const ISSUER: &str = "https://idp.example.test";
const AUDIENCE: &str = "pacbot-dashboard";

/// A local EC P-256 key: its PKCS#8 document and the JWK set publishing it.
struct Idp {
    pkcs8: Vec<u8>,
    jwks: Value,
}

impl Idp {
    fn new() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        assert_eq!(point.len(), 65);
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "test-key", "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]});
        Self { pkcs8: pkcs8.as_ref().to_vec(), jwks }
    }

    fn token(&self, claims: &Value) -> String {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("test-key".into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }

    fn claims(&self, sub: &str, roles: &[&str], exp_in: i64) -> Value {
        let now = pacbot::chrono::Utc::now().timestamp();
        json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now + exp_in, "iat": now, "roles": roles})
    }
}

struct Server {
    app: Router,
    store: Arc<dyn Store>,
    idp: Idp,
}

struct Reply {
    status: StatusCode,
    content_type: String,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a JSON error with this status.
    fn error(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(self.content_type.starts_with("application/json"), "{} {}", self.content_type, self.text);
        let body = self.json();
        assert_eq!(body["error"]["status"], status.as_u16(), "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        body
    }
}

async fn seeded() -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(":memory:").await.unwrap());
    DemoScan::new(":memory:").seed(store.as_ref()).await.unwrap();
    store
}

impl Server {
    async fn new() -> Self {
        Self::over(seeded().await, dashboard::app::DEFAULT_BODY_LIMIT)
    }

    fn over(store: Arc<dyn Store>, body_limit: usize) -> Self {
        Self::with_cache(store, body_limit, ResponseCacheConfig::default())
    }

    fn with_cache(store: Arc<dyn Store>, body_limit: usize, response_cache: ResponseCacheConfig) -> Self {
        let idp = Idp::new();
        let oidc = OidcConfig::new(ISSUER, AUDIENCE);
        let auth = Auth::new()
            .with_token("admin", ADMIN, Role::Admin, None)
            .with_token("reader", READER, Role::Reader, None)
            .with_token("payments", PAYMENTS, Role::Reader, Some(vec!["team-payments".into()]))
            .with_oidc(oidc, serde_json::from_value(idp.jwks.clone()).unwrap());
        let mut settings = Settings::new(auth);
        settings.body_limit = body_limit;
        settings.demo = Some(DemoScan::new(":memory:"));
        settings.response_cache = response_cache;
        Self { app: router(store.clone(), settings), store, idp }
    }

    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let content_type =
            headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply { status, content_type, headers, text: String::from_utf8(bytes.to_vec()).unwrap() }
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, Some(token), None).await
    }

    async fn ok(&self, uri: &str, token: &str) -> Value {
        let r = self.get(uri, token).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
        r.json()
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn every_api_route_needs_a_valid_token() {
    let s = Server::new().await;
    let routes = [
        "/api/compliance",
        "/api/compliance/categories",
        "/api/violations",
        "/api/assets",
        "/api/policies",
        "/api/search?q=web",
        "/api/openapi.json",
        "/metrics",
    ];
    for uri in routes {
        let missing = s.call(Method::GET, uri, None, None).await;
        let body = missing.error(StatusCode::UNAUTHORIZED);
        assert_eq!(missing.headers[header::WWW_AUTHENTICATE], "Bearer", "{uri}");
        assert!(body["error"]["message"].as_str().unwrap().contains("Authorization"), "{body}");
        s.get(uri, "not-a-token").await.error(StatusCode::UNAUTHORIZED);
        assert_eq!(s.get(uri, READER).await.status, StatusCode::OK, "{uri}");
    }
    // A Basic header is not a bearer token.
    let req =
        Request::get("/api/compliance").header(header::AUTHORIZATION, "Basic YWRtaW46YWRtaW4=").body(Body::empty());
    s.send(req.unwrap()).await.error(StatusCode::UNAUTHORIZED);
    // /healthz alone answers without one.
    let health = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
}

#[tokio::test]
async fn jwts_are_checked_against_the_key_set() {
    let s = Server::new().await;
    let reader = s.idp.token(&s.idp.claims("alice", &[], 300));
    assert_eq!(s.get("/api/compliance", &reader).await.status, StatusCode::OK);
    // A reader by JWT cannot administer; an admin by JWT can.
    s.call(Method::POST, "/api/admin/scan", Some(&reader), None).await.error(StatusCode::FORBIDDEN);
    let admin = s.idp.token(&s.idp.claims("bob", &["pacbot-admin"], 300));
    assert_eq!(s.get("/api/admin/exceptions", &admin).await.status, StatusCode::OK);

    // Expired (beyond the leeway), wrong audience, wrong issuer, another key, tampered, HMAC-signed.
    let expired = s.idp.token(&s.idp.claims("alice", &[], -3600));
    let body = s.get("/api/compliance", &expired).await.error(StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"].as_str().unwrap().contains("Expired"), "{body}");
    let mut claims = s.idp.claims("alice", &[], 300);
    claims["aud"] = json!("someone-else");
    s.get("/api/compliance", &s.idp.token(&claims)).await.error(StatusCode::UNAUTHORIZED);
    let mut claims = s.idp.claims("alice", &[], 300);
    claims["iss"] = json!("https://evil.example.test");
    s.get("/api/compliance", &s.idp.token(&claims)).await.error(StatusCode::UNAUTHORIZED);
    let other = Idp::new().token(&s.idp.claims("mallory", &["pacbot-admin"], 300));
    s.get("/api/compliance", &other).await.error(StatusCode::UNAUTHORIZED);
    let mut parts: Vec<String> = admin.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(s.idp.claims("root", &["pacbot-admin"], 300).to_string());
    s.get("/api/compliance", &parts.join(".")).await.error(StatusCode::UNAUTHORIZED);
    let mut hs = Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some("test-key".into());
    let forged =
        jsonwebtoken::encode(&hs, &s.idp.claims("eve", &["pacbot-admin"], 300), &EncodingKey::from_secret(b"x"))
            .unwrap();
    s.get("/api/compliance", &forged).await.error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn readers_never_write() {
    let s = Server::new().await;
    let group = json!({"name": "g", "criteria": {"path": "provider", "eq": "aws"}});
    let writes = [
        (Method::PUT, "/api/admin/groups/g", Some(group)),
        (Method::DELETE, "/api/admin/groups/production", None),
        (Method::GET, "/api/admin/exceptions", None),
        (Method::DELETE, "/api/admin/exceptions/x", None),
        (Method::PUT, "/api/admin/policies/demo-aws-s3-public-acl/enabled", Some(json!({"enabled": false}))),
        (Method::POST, "/api/admin/scan", None),
    ];
    for (method, uri, body) in writes {
        for token in [READER, PAYMENTS] {
            let r = s.call(method.clone(), uri, Some(token), body.clone()).await;
            r.error(StatusCode::FORBIDDEN);
        }
    }
    assert!(s.store.groups().await.unwrap().iter().any(|g| g.group.name == "production"));
}

#[tokio::test]
async fn compliance_views_agree_with_the_store() {
    let s = Server::new().await;
    let overall = s.ok("/api/compliance", READER).await;
    let latest = s.store.latest_compliance(None).await.unwrap().unwrap();
    assert_eq!(overall["report"]["overall"], json!(latest.report.overall));
    assert!(latest.report.open > 0 && latest.report.overall < 100.0);
    let categories = s.ok("/api/compliance/categories", READER).await;
    assert_eq!(categories["categories"].as_array().unwrap().len(), latest.report.categories.len());
    let policies = s.ok("/api/compliance/policies", READER).await;
    assert_eq!(policies["policies"].as_array().unwrap().len(), latest.report.policies.len());
    let tagging = s.ok("/api/compliance/tagging", READER).await;
    assert_eq!(tagging["tagging"]["taggable"], json!(latest.report.tagging.taggable));
    // Two demo scans: a trend of two points, the second better (a third was fixed).
    let trend = s.ok("/api/compliance/trend", READER).await;
    let points = trend.as_array().unwrap();
    assert_eq!(points.len(), 2, "{trend}");
    assert!(points[1]["overall"].as_f64().unwrap() > points[0]["overall"].as_f64().unwrap(), "{trend}");
    let groups = s.ok("/api/compliance/groups", READER).await;
    let names: BTreeSet<&str> = groups.as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["azure", "production", "team-payments"]));
    // A group's figures differ from the overall ones.
    let prod = s.ok("/api/compliance?group=production", READER).await;
    assert_eq!(prod["report"]["group"], "production");
    assert_ne!(prod["report"]["assets"], overall["report"]["assets"]);
    s.get("/api/compliance?group=nope", READER).await.error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn group_scoped_tokens_see_only_their_groups() {
    let s = Server::new().await;
    let mine = s.ok("/api/compliance", PAYMENTS).await;
    assert_eq!(mine["report"]["group"], "team-payments");
    s.get("/api/compliance?group=production", PAYMENTS).await.error(StatusCode::FORBIDDEN);
    s.get("/api/violations?group=azure", PAYMENTS).await.error(StatusCode::FORBIDDEN);
    let groups = s.ok("/api/groups", PAYMENTS).await;
    assert_eq!(groups.as_array().unwrap().len(), 1);
    let figures = s.ok("/api/compliance/groups", PAYMENTS).await;
    assert_eq!(figures.as_array().unwrap().len(), 1);
    // Every violation and asset listed carries the Team=payments tag.
    let violations = s.ok("/api/violations?limit=1000", PAYMENTS).await;
    let items = violations["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let all = s.ok("/api/violations?limit=1000", READER).await;
    assert!(all["items"].as_array().unwrap().len() > items.len());
    let assets = s.ok("/api/assets?limit=1000", PAYMENTS).await;
    for a in assets["items"].as_array().unwrap() {
        assert_eq!(a["asset"]["tags"]["Team"], "payments", "{a}");
    }
    // An asset outside the group does not exist for the scoped token.
    let outside = s.ok("/api/assets?provider=azure&limit=1", READER).await;
    let id = &outside["items"][0]["asset"]["id"];
    let id = format!(
        "{}/{}/{}/{}/{}",
        id["provider"].as_str().unwrap(),
        id["account"].as_str().unwrap(),
        id["region"].as_str().unwrap(),
        id["kind"].as_str().unwrap(),
        id["resource_id"].as_str().unwrap()
    );
    assert_eq!(s.get(&format!("/api/asset?id={}", enc(&id)), READER).await.status, StatusCode::OK);
    s.get(&format!("/api/asset?id={}", enc(&id)), PAYMENTS).await.error(StatusCode::NOT_FOUND);
    // Search hides it too.
    let hits = s.ok(&format!("/api/search?q={}", enc(id.rsplit('/').next().unwrap())), PAYMENTS).await;
    assert!(hits["hits"].as_array().unwrap().iter().all(|h| h["id"] != outside["items"][0]["asset"]["id"]), "{hits}");
    // Metrics span every group: not for a scoped token.
    s.get("/metrics", PAYMENTS).await.error(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn violation_filters_select_what_they_name() {
    let s = Server::new().await;
    let open_critical = s.ok("/api/violations?status=open&severity=critical&limit=1000", READER).await;
    let items = open_critical["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|v| v["status"] == "open" && v["severity"] == "critical"));
    let several = s.ok("/api/violations?severity=critical,high&category=security&limit=1000", READER).await;
    assert!(several["items"].as_array().unwrap().len() >= items.len());
    for v in several["items"].as_array().unwrap() {
        assert!(v["severity"] == "critical" || v["severity"] == "high");
        assert_eq!(v["category"], "security");
    }
    let azure = s.ok("/api/violations?provider=azure&limit=1000", READER).await;
    assert!(azure["items"].as_array().unwrap().iter().all(|v| v["key"]["asset"]["provider"] == "azure"));
    let closed = s.ok("/api/violations?status=closed&limit=1000", READER).await;
    assert!(!closed["items"].as_array().unwrap().is_empty(), "the fixed estate closed some");
    let tagged = s.ok("/api/violations?tag=Team%3Dpayments&limit=1000", READER).await;
    let scoped = s.ok("/api/violations?group=team-payments&limit=1000", READER).await;
    assert_eq!(tagged["items"], scoped["items"]);
    // One violation with its history.
    let v = &items[0];
    let a = &v["key"]["asset"];
    let asset = format!(
        "{}/{}/{}/{}/{}",
        a["provider"].as_str().unwrap(),
        a["account"].as_str().unwrap(),
        a["region"].as_str().unwrap(),
        a["kind"].as_str().unwrap(),
        a["resource_id"].as_str().unwrap()
    );
    let one = s
        .ok(
            &format!("/api/violation?policy={}&asset={}", enc(v["key"]["policy_id"].as_str().unwrap()), enc(&asset)),
            READER,
        )
        .await;
    assert_eq!(&one["violation"], v);
    assert_eq!(one["history"][0]["transition"]["kind"], "opened");
    let a360 = s.ok(&format!("/api/asset?id={}", enc(&asset)), READER).await;
    assert!(a360["violations"].as_array().unwrap().contains(v));
}

#[tokio::test]
async fn pages_walk_every_violation_once() {
    let s = Server::new().await;
    let everything = s.ok("/api/violations?limit=1000", READER).await;
    let all: Vec<Value> = everything["items"].as_array().unwrap().clone();
    assert!(all.len() > 20, "{}", all.len());
    assert!(everything["next"].is_null());
    for (sort, order) in [("key", "ascending"), ("severity", "descending"), ("created_at", "ascending")] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut uri = format!("/api/violations?limit=7&sort={sort}&order={order}");
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={}", enc(c)));
            }
            let page = s.ok(&uri, READER).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 7);
            seen.extend(items.iter().map(|v| v["key"].to_string()));
            pages += 1;
            match page["next"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert!(pages >= all.len() / 7);
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: a violation repeated");
        let expected: BTreeSet<String> = all.iter().map(|v| v["key"].to_string()).collect();
        assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), expected, "{sort}: a gap");
    }
    // Assets page the same way.
    let mut n = 0;
    let mut uri = "/api/assets?limit=50".to_owned();
    loop {
        let page = s.ok(&uri, READER).await;
        n += page["items"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(c) => uri = format!("/api/assets?limit=50&cursor={}", enc(c)),
            None => break,
        }
    }
    assert_eq!(n, s.ok("/api/assets?limit=1000", READER).await["items"].as_array().unwrap().len());
    // Nothing changed after now; everything changed since long ago.
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(s.ok(&format!("/api/assets?changed_since={future}"), READER).await["items"], serde_json::json!([]));
    assert_eq!(s.ok(&format!("/api/violations?changed_since={future}"), READER).await["items"], serde_json::json!([]));
    let all = s.ok("/api/violations?limit=20", READER).await["items"].as_array().unwrap().len();
    let since = s.ok("/api/violations?limit=20&changed_since=2000-01-01T00:00:00Z", READER).await;
    assert_eq!(since["items"].as_array().unwrap().len(), all);
}

#[tokio::test]
async fn bad_input_is_a_json_4xx() {
    let s = Server::new().await;
    let r = s.get("/api/violations?cursor=not-a-cursor", READER).await;
    let body = r.error(StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_cursor");
    // A cursor of the assets list is not one of the violations list.
    let assets = s.ok("/api/assets?limit=2", READER).await;
    let c = assets["next"].as_str().unwrap();
    s.get(&format!("/api/violations?cursor={}", enc(c)), READER).await.error(StatusCode::BAD_REQUEST);
    let body = s.get("/api/violations?policy=no-such-policy", READER).await.error(StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("no-such-policy"));
    s.get("/api/policies/no-such-policy", READER).await.error(StatusCode::NOT_FOUND);
    s.get("/api/violations?severity=apocalyptic", READER).await.error(StatusCode::BAD_REQUEST);
    let body = s.get("/api/assets?changed_since=yesterday", READER).await.error(StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("changed_since"), "{body}");
    s.get("/api/violations?sort=random", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/violations?limit=0", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/violations?limit=abc", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/violations?unknown=1", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/asset?id=aws/only-two", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/asset?id=aws/1/r/aws.s3.bucket/nope", READER).await.error(StatusCode::NOT_FOUND);
    s.get("/api/search?q=", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/no-such-route", READER).await.error(StatusCode::NOT_FOUND);
    s.call(Method::PATCH, "/api/compliance", Some(READER), None).await.error(StatusCode::METHOD_NOT_ALLOWED);
    // Bodies: not JSON, malformed, wrong shape, over the limit.
    let req = Request::post("/api/admin/exceptions")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hello"))
        .unwrap();
    s.send(req).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let req = Request::post("/api/admin/exceptions")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    s.send(req).await.error(StatusCode::UNPROCESSABLE_ENTITY);
    let body = s
        .call(
            Method::POST,
            "/api/admin/exceptions",
            Some(ADMIN),
            Some(json!({"target": {"type": "asset"}, "reason": "x"})),
        )
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap().contains("target"), "{body}");
    let big = json!({"reason": "x".repeat(100 * 1024)});
    s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(big.clone()))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length (streamed), the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(big.to_string().into_bytes())];
    let req = Request::post("/api/admin/exceptions")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    s.send(req).await.error(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn admins_manage_groups_exceptions_and_policies() {
    let s = Server::new().await;
    // Groups: create, read, replace, delete.
    let group = json!({"name": "eu", "description": "Europe", "criteria": {"path": "region", "glob": "eu-*"}});
    let r = s.call(Method::PUT, "/api/admin/groups/eu", Some(ADMIN), Some(group)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["created"]["by"], "admin");
    let groups = s.ok("/api/groups", READER).await;
    assert!(groups.as_array().unwrap().iter().any(|g| g["group"]["name"] == "eu"));
    let mismatch = json!({"name": "other", "criteria": {"path": "region", "glob": "eu-*"}});
    s.call(Method::PUT, "/api/admin/groups/eu", Some(ADMIN), Some(mismatch)).await.error(StatusCode::BAD_REQUEST);
    let bad = json!({"name": "eu", "criteria": {"path": "region", "regex": "("}});
    s.call(Method::PUT, "/api/admin/groups/eu", Some(ADMIN), Some(bad)).await.error(StatusCode::UNPROCESSABLE_ENTITY);
    let eu = s.ok("/api/assets?group=eu&limit=1000", READER).await;
    assert!(
        eu["items"].as_array().unwrap().iter().all(|a| a["asset"]["id"]["region"].as_str().unwrap().starts_with("eu-"))
    );
    assert_eq!(s.call(Method::DELETE, "/api/admin/groups/eu", Some(ADMIN), None).await.status, StatusCode::NO_CONTENT);
    s.call(Method::DELETE, "/api/admin/groups/eu", Some(ADMIN), None).await.error(StatusCode::NOT_FOUND);

    // An exception exempts an open violation at the next scan; revoking re-opens it.
    let open = s.ok("/api/violations?status=open&severity=critical&limit=1", READER).await;
    let v = open["items"][0].clone();
    let a = &v["key"]["asset"];
    let policy = v["key"]["policy_id"].as_str().unwrap().to_owned();
    let unknown = json!({"target": {"type": "asset", "asset": a, "policies": ["no-such-policy"]}, "reason": "r"});
    s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(unknown)).await.error(StatusCode::BAD_REQUEST);
    let new = json!({"id": "exc-1", "target": {"type": "asset", "asset": a, "policies": [policy]}, "reason": "accepted risk"});
    let r = s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(new)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["exception"]["granted_by"], "admin");
    let scan = s.call(Method::POST, "/api/admin/scan", Some(ADMIN), None).await;
    assert_eq!(scan.status, StatusCode::OK, "{}", scan.text);
    let asset = format!(
        "{}/{}/{}/{}/{}",
        a["provider"].as_str().unwrap(),
        a["account"].as_str().unwrap(),
        a["region"].as_str().unwrap(),
        a["kind"].as_str().unwrap(),
        a["resource_id"].as_str().unwrap()
    );
    let uri = format!("/api/violation?policy={}&asset={}", enc(&policy), enc(&asset));
    let after = s.ok(&uri, READER).await;
    assert_eq!(after["violation"]["status"], "exempted", "{after}");
    assert_eq!(after["violation"]["exception_id"], "exc-1");
    assert_eq!(after["history"].as_array().unwrap().last().unwrap()["transition"]["kind"], "exempted");
    assert_eq!(
        s.call(Method::DELETE, "/api/admin/exceptions/exc-1", Some(ADMIN), None).await.status,
        StatusCode::NO_CONTENT
    );
    s.call(Method::DELETE, "/api/admin/exceptions/exc-1", Some(ADMIN), None).await.error(StatusCode::NOT_FOUND);
    s.call(Method::POST, "/api/admin/scan", Some(ADMIN), None).await;
    assert_eq!(s.ok(&uri, READER).await["violation"]["status"], "open");

    // Disabling a policy keeps it in the knowledge base; the next scan stops evaluating it.
    let r = s
        .call(
            Method::PUT,
            &format!("/api/admin/policies/{policy}/enabled"),
            Some(ADMIN),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["meta"]["enabled"], false);
    s.call(Method::POST, "/api/admin/scan", Some(ADMIN), None).await;
    let kb = s.ok(&format!("/api/policies/{policy}"), READER).await;
    assert_eq!(kb["meta"]["enabled"], false, "{kb}");
    assert!(kb["compliance"].is_null(), "a disabled policy is not evaluated: {kb}");
    s.call(Method::PUT, "/api/admin/policies/nope/enabled", Some(ADMIN), Some(json!({"enabled": true})))
        .await
        .error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn knowledge_base_search_and_metrics() {
    let s = Server::new().await;
    let kb = s.ok("/api/policies", READER).await;
    let kb = kb.as_array().unwrap();
    assert_eq!(kb.len(), s.store.policies().await.unwrap().len());
    let one = kb.iter().find(|p| !p["compliance"].is_null()).unwrap();
    assert!(one["meta"]["description"].as_str().is_some_and(|d| !d.is_empty()));
    let id = one["meta"]["id"].as_str().unwrap();
    assert_eq!(s.ok(&format!("/api/policies/{id}"), READER).await["meta"]["id"], id);
    let found = s.ok("/api/search?q=payments", READER).await;
    assert!(!found["hits"].as_array().unwrap().is_empty(), "{found}");
    let found = s.ok(&format!("/api/search?q={id}"), READER).await;
    assert!(found["policies"].as_array().unwrap().iter().any(|p| p["meta"]["id"] == id));
    let metrics = s.get("/metrics", READER).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type.starts_with("text/plain"));
    assert!(metrics.text.contains("pacbot_compliance_percent{group=\"\"}"), "{}", metrics.text);
    assert!(metrics.text.contains("pacbot_compliance_percent{group=\"production\"}"));
    assert!(
        metrics.text.contains("pacbot_http_requests_total{route=\"/api/search\",status=\"200\"} 2"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn findings_are_queued_for_the_dispatcher() {
    let s = Server::new().await;
    let event = json!({
        "id": "finding-42",
        "account": {"id": "123456789012"},
        "region": "us-east-1",
        "entity": {"id": "i-0abc", "type": "Instance", "name": "web-1"},
        "rule": {"name": "Instances must not be public", "complianceTags": "CIS|AUTO: ec2_stop_instance"}
    });
    let r = s.call(Method::POST, "/api/ingest/findings", Some(ADMIN), Some(event.clone())).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json()["bots"], json!(["ec2_stop_instance"]));
    let stored = s.store.fix_record("finding-finding-42").await.unwrap();
    assert_eq!(stored.status, "queued");
    assert_eq!(stored.asset.kind.as_str(), "aws.ec2.instance");
    s.call(Method::POST, "/api/ingest/findings", Some(READER), Some(event.clone())).await.error(StatusCode::FORBIDDEN);
    let queue = s.ok("/api/admin/fixes?kind=plan&status=queued", ADMIN).await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["id"], "finding-finding-42");
    assert_eq!(queue[0]["data"]["event"]["entity"]["id"], "i-0abc");
    assert!(s.ok("/api/admin/fixes?status=done", ADMIN).await.as_array().unwrap().is_empty());
    s.get("/api/admin/fixes", READER).await.error(StatusCode::FORBIDDEN);
    s.get("/api/admin/fixes?kind=nope", ADMIN).await.error(StatusCode::BAD_REQUEST);
    let admin = s.page("/admin", ADMIN).await;
    assert!(admin.text.contains("<td>finding-finding-42</td><td>plan</td><td>queued</td>"), "{}", admin.text);
    let mut bad = event;
    bad["entity"]["type"] = json!("Spaceship");
    let body = s
        .call(Method::POST, "/api/ingest/findings", Some(ADMIN), Some(bad))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap().contains("entity.type"), "{body}");
}

#[tokio::test]
async fn cors_is_closed_by_default() {
    let s = Server::new().await;
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/compliance")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .unwrap();
    let r = s.send(req).await;
    assert!(r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let req = Request::get("/api/compliance")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::AUTHORIZATION, format!("Bearer {READER}"))
        .body(Body::empty())
        .unwrap();
    let r = s.send(req).await;
    assert!(r.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let s = Server::new().await;
    let doc = s.ok("/api/openapi.json", READER).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routes: BTreeSet<String> = [
        "/healthz",
        "/metrics",
        "/api/openapi.json",
        "/api/compliance",
        "/api/compliance/categories",
        "/api/compliance/policies",
        "/api/compliance/groups",
        "/api/compliance/tagging",
        "/api/compliance/trend",
        "/api/violations",
        "/api/violation",
        "/api/assets",
        "/api/asset",
        "/api/search",
        "/api/policies",
        "/api/policies/{id}",
        "/api/groups",
        "/api/admin/groups/{name}",
        "/api/admin/exceptions",
        "/api/admin/exceptions/{id}",
        "/api/admin/policies/{id}/enabled",
        "/api/admin/scan",
        "/api/admin/fixes",
        "/api/ingest/findings",
        "/api/admin/assets/reevaluate",
        "/api/admin/fixes/plans",
        "/api/admin/fixes/{id}/approve",
        "/api/admin/findings/{id}/dispatch",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(paths, routes);
    // Every documented method is routed (no 404 or 405 from the router).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "x").replace("{name}", "x");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s.call(m, &uri, Some(ADMIN), None).await;
            assert!(r.status != StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {}", r.text);
            if r.status == StatusCode::NOT_FOUND {
                assert!(!r.text.contains("no route"), "{method} {path} is not routed");
            }
        }
    }
}

// ---------------------------------------------------------------- the HTML pages

impl Server {
    async fn page(&self, uri: &str, token: &str) -> Reply {
        let req =
            Request::get(uri).header(header::COOKIE, format!("pacbot_token={token}")).body(Body::empty()).unwrap();
        self.send(req).await
    }

    async fn form(&self, uri: &str, token: Option<&str>, origin: Option<&str>, form: &str) -> Reply {
        let mut req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "dashboard.test");
        if let Some(t) = token {
            req = req.header(header::COOKIE, format!("pacbot_token={t}"));
        }
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        self.send(req.body(Body::from(form.to_owned())).unwrap()).await
    }
}

/// The text of the element with this id (up to its first closing tag).
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    &rest[start..start + end]
}

#[tokio::test]
async fn pages_need_a_login() {
    let s = Server::new().await;
    let r = s.send(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/login");
    let r = s.page("/", "wrong").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = s.form("/login", None, None, "token=wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("unknown token"));
    let r = s.form("/login", None, Some("http://dashboard.test"), &format!("token={READER}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let cookie = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with(&format!("pacbot_token={READER};")));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "plain HTTP by default");
    // A login form posted from another site is refused.
    let r = s.form("/login", None, Some("https://evil.example"), &format!("token={READER}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.form("/login", None, Some("null"), &format!("token={READER}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "an opaque origin is not the dashboard's");
    // Browsers that send Sec-Fetch-Site are judged by it.
    for (site, status) in [
        ("cross-site", StatusCode::FORBIDDEN),
        ("same-site", StatusCode::FORBIDDEN),
        ("same-origin", StatusCode::SEE_OTHER),
    ] {
        let req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site)
            .body(Body::from(format!("token={READER}")))
            .unwrap();
        assert_eq!(s.send(req).await.status, status, "{site}");
    }
}

#[tokio::test]
async fn the_landing_page_shows_the_figures_of_the_chosen_group() {
    let s = Server::new().await;
    let all = s.page("/", READER).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.content_type.starts_with("text/html"));
    let latest = s.store.latest_compliance(None).await.unwrap().unwrap();
    assert_eq!(element(&all.text, "overall"), format!("{:.1} %", latest.report.overall));
    assert_eq!(element(&all.text, "open"), latest.report.open.to_string());
    assert!(all.text.contains("<svg id=\"trend\""));
    assert_eq!(all.text.matches("<circle").count(), 2, "two scans, two points");
    for c in ["security", "governance", "cost", "tagging"] {
        assert!(all.text.contains(&format!("<td>{c}</td>")), "{c}");
    }
    let prod = s.page("/?group=production", READER).await;
    let group = s.store.latest_compliance(Some("production")).await.unwrap().unwrap();
    assert_eq!(element(&prod.text, "overall"), format!("{:.1} %", group.report.overall));
    assert_ne!(element(&prod.text, "assets"), element(&all.text, "assets"));
    assert!(prod.text.contains("<option value=\"production\" selected>"));
    // Links keep the group.
    assert!(prod.text.contains("href=\"/violations?group=production\""));
    // A scoped user lands on its group and cannot pick another.
    let mine = s.page("/", PAYMENTS).await;
    assert!(mine.text.contains("<option value=\"team-payments\" selected>"));
    assert!(!mine.text.contains("value=\"production\""));
    assert!(!mine.text.contains("All assets"));
    assert_eq!(s.page("/?group=production", PAYMENTS).await.status, StatusCode::FORBIDDEN);
    assert!(!mine.text.contains("href=\"/admin\""));
}

#[tokio::test]
async fn pages_list_violations_policies_and_search_results() {
    let s = Server::new().await;
    let r = s.page("/violations?status=open&severity=critical", READER).await;
    assert_eq!(r.status, StatusCode::OK);
    let rows = r.text.matches("<tr data-status=").count();
    let api = s.ok("/api/violations?status=open&severity=critical", READER).await;
    assert_eq!(rows, api["items"].as_array().unwrap().len());
    assert_eq!(r.text.matches("data-status=\"open\"").count(), rows);
    // Paging links carry the filters.
    let r = s.page("/violations?status=open&limit=5", READER).await;
    let next = r.text.split("id=\"next\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(next.contains("status=open") && next.contains("limit=5") && next.contains("cursor="), "{next}");
    let r2 = s.page(&next, READER).await;
    assert_eq!(r2.status, StatusCode::OK);
    assert_eq!(r2.text.matches("<tr data-status=").count(), 5);
    let kb = s.page("/policies", READER).await;
    assert_eq!(kb.text.matches("<tr id=\"policy-").count(), s.store.policies().await.unwrap().len());
    let found = s.page("/search?q=payments", READER).await;
    assert!(found.text.contains("<li class=\"asset\">"), "{}", found.text);
    assert_eq!(s.page("/violations?cursor=bad", READER).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn values_are_escaped_in_pages() {
    use pacbot::store::{ScanCommit, ScanStart};
    let s = Server::new().await;
    let evil = "<script>alert(1)</script>";
    let id = pacbot::AssetId::new("aws", "999999999999", "us-east-1", "aws.s3.bucket", "evil\"bucket<b>");
    let asset = pacbot::Asset::new(id.clone())
        .with_name("<img src=x onerror=alert(2)>")
        .with_tag("Owner", evil)
        .with_tag("<b>key</b>", "x'y\"z&");
    let now = pacbot::chrono::Utc::now();
    let scan = s.store.begin_scan(ScanStart::new("evil", now)).await.unwrap();
    let mut commit = ScanCommit::new(scan.id, now);
    commit.assets.push(asset);
    s.store.commit_scan(commit).await.unwrap();
    let r = s.page(&format!("/asset?id={}", enc(&id.to_string())), READER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", r.text);
    assert!(r.text.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(r.text.contains("&lt;b&gt;key&lt;/b&gt;") && r.text.contains("x&#39;y&quot;z&amp;"));
    assert!(r.text.contains("evil&quot;bucket&lt;b&gt;"));
    for raw in ["<script>", "<img", "<b>"] {
        assert!(!r.text.contains(raw), "{raw} unescaped");
    }
    let found = s.page(&format!("/search?q={}", enc(evil)), READER).await;
    assert!(found.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!found.text.contains("<script>"));
    // The JSON API returns the value as data, never as markup.
    let json = s.ok(&format!("/api/asset?id={}", enc(&id.to_string())), READER).await;
    assert_eq!(json["asset"]["asset"]["tags"]["Owner"], evil);
    // Errors quote input escaped too.
    let r = s.page(&format!("/asset?id={}", enc("<script>x")), READER).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.text.contains("<script>"));
}

#[tokio::test]
async fn admins_exempt_a_violation_from_its_asset_page() {
    let s = Server::new().await;
    let open = s.ok("/api/violations?status=open&severity=critical&limit=1", READER).await;
    let v = &open["items"][0];
    let a = &v["key"]["asset"];
    let asset = format!(
        "{}/{}/{}/{}/{}",
        a["provider"].as_str().unwrap(),
        a["account"].as_str().unwrap(),
        a["region"].as_str().unwrap(),
        a["kind"].as_str().unwrap(),
        a["resource_id"].as_str().unwrap()
    );
    let policy = v["key"]["policy_id"].as_str().unwrap();
    let page = s.page(&format!("/asset?id={}", enc(&asset)), ADMIN).await;
    assert!(page.text.contains("id=\"exception-form\""));
    assert!(!s.page(&format!("/asset?id={}", enc(&asset)), READER).await.text.contains("exception-form"));
    let form = format!("asset={}&policy={}&reason=accepted&days=30&rescan=1", enc(&asset), enc(policy));
    // Readers and other sites cannot.
    assert_eq!(s.form("/admin/exceptions", Some(READER), None, &form).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.form("/admin/exceptions", Some(ADMIN), Some("https://evil.example"), &form).await.status,
        StatusCode::FORBIDDEN
    );
    let r = s.form("/admin/exceptions", Some(ADMIN), Some("http://dashboard.test"), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let after = s.page(&format!("/asset?id={}", enc(&asset)), ADMIN).await;
    assert!(after.text.contains(&format!("<tr data-policy=\"{policy}\" data-status=\"exempted\">")), "{}", after.text);
    let admin = s.page("/admin", ADMIN).await;
    assert!(admin.text.contains("accepted"));
    assert_eq!(s.page("/admin", READER).await.status, StatusCode::FORBIDDEN);
    // Groups from the admin page.
    let r = s
        .form(
            "/admin/groups",
            Some(ADMIN),
            None,
            &format!("name=eu&description=&criteria={}", enc(r#"{"path": "region", "glob": "eu-*"}"#)),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(s.store.groups().await.unwrap().iter().any(|g| g.group.name == "eu"));
    let r = s.form("/admin/groups", Some(ADMIN), None, "name=bad&criteria=%7Bnope").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A sticky exception from the admin page.
    let sticky = format!(
        "criteria={}&policies={}&reason=sandbox&days=7",
        enc(r#"{"path": "tags.Environment", "eq": "sandbox"}"#),
        enc(policy)
    );
    assert_eq!(s.form("/admin/exceptions/sticky", Some(READER), None, &sticky).await.status, StatusCode::FORBIDDEN);
    let r = s.form("/admin/exceptions/sticky", Some(ADMIN), None, &sticky).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let stored = s.store.exceptions().await.unwrap();
    let x = stored.iter().find(|e| e.exception.reason == "sandbox").unwrap();
    assert!(
        matches!(&x.exception.target, pacbot::ExceptionTarget::Sticky { policies, .. } if policies == &vec![policy.to_owned()])
    );
    assert!(x.exception.expires_at.is_some());
    let bad = s.form("/admin/exceptions/sticky", Some(ADMIN), None, "criteria=%7B%7D&policies=no-such&reason=r").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = s.form("/admin/exceptions/sticky", Some(ADMIN), None, &sticky.replace("days=7", "days=-1")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------- configuration

#[tokio::test]
async fn authentication_comes_from_a_file_or_the_environment() {
    use dashboard::auth::hash_token;
    let dir = tempfile::tempdir().unwrap();
    let idp = Idp::new();
    std::fs::write(dir.path().join("jwks.json"), idp.jwks.to_string()).unwrap();
    let config = format!(
        "[[tokens]]\nname = \"ci\"\nsha256 = \"{}\"\nrole = \"reader\"\ngroups = [\"production\"]\n\n\
         [oidc]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_file = \"jwks.json\"\n",
        hash_token("ci-secret").to_uppercase()
    );
    let path = dir.path().join("auth.toml");
    std::fs::write(&path, config).unwrap();
    let auth = Auth::from_file(&path).unwrap();
    let ci = auth.authenticate("ci-secret").unwrap();
    assert_eq!((ci.name.as_str(), ci.role, ci.groups), ("ci", Role::Reader, Some(vec!["production".to_owned()])));
    let jwt = idp.token(&idp.claims("carol", &["pacbot-admin"], 60));
    assert_eq!(auth.authenticate(&jwt).unwrap().role, Role::Admin);
    assert_eq!(auth.authenticate("ci-secret ").unwrap().name, "ci");
    assert_eq!(auth.authenticate("other").unwrap_err().status, StatusCode::UNAUTHORIZED);

    // Errors name the file and what is wrong.
    std::fs::write(&path, "[[tokens]]\nname = \"x\"\nsha256 = \"abc\"\nrole = \"reader\"\n").unwrap();
    let e = Auth::from_file(&path).unwrap_err();
    assert!(e.contains("auth.toml") && e.contains("64 hexadecimal"), "{e}");
    std::fs::write(&path, "[[tokens]]\nname = \"x\"\nsha256 = \"abc\"\nrole = \"root\"\n").unwrap();
    assert!(Auth::from_file(&path).unwrap_err().contains("root"));
    std::fs::write(&path, "[oidc]\nissuer = \"i\"\naudience = \"a\"\njwks_file = \"missing.json\"\n").unwrap();
    assert!(Auth::from_file(&path).unwrap_err().contains("missing.json"));

    let mut env = Auth::new();
    env.add_env_tokens(&format!("ops:admin:{}; team:reader:{}:team-payments,azure", hash_token("a"), hash_token("b")))
        .unwrap();
    assert_eq!(env.authenticate("a").unwrap().role, Role::Admin);
    assert_eq!(env.authenticate("b").unwrap().groups, Some(vec!["team-payments".to_owned(), "azure".to_owned()]));
    assert!(Auth::new().add_env_tokens("ops:admin").unwrap_err().contains("name:role:sha256"));
    assert!(Auth::new().add_env_tokens(&format!("ops:god:{}", hash_token("a"))).unwrap_err().contains("god"));
}

#[tokio::test]
async fn secure_cookies_are_marked_so() {
    let mut settings = Settings::new(Auth::new().with_token("reader", READER, Role::Reader, None));
    settings.secure_cookies = true;
    let app = router(seeded().await, settings);
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={READER}")))
        .unwrap();
    let r = app.oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn cors_opens_only_to_configured_origins() {
    let store = seeded().await;
    let mut settings = Settings::new(Auth::new().with_token("reader", READER, Role::Reader, None));
    settings.cors_origins = vec!["https://portal.example".into()];
    let app = router(store, settings);
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/compliance")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.clone().oneshot(preflight("https://portal.example")).await.unwrap();
    assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://portal.example");
    let other = app.oneshot(preflight("https://evil.example")).await.unwrap();
    assert!(other.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

// ---------------------------------------------------------------- PostgreSQL

/// The same API over PostgreSQL (a scratch schema, dropped after): figures,
/// pages, scoping and an exception through a rescan.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn the_api_serves_a_postgres_store_alike() {
    let (pg, _schema) = pacbot::store::testing::postgres::scratch_store().await;
    let store: Arc<dyn Store> = Arc::new(pg);
    DemoScan::new("postgres").seed(store.as_ref()).await.unwrap();
    let s = Server::over(store, dashboard::app::DEFAULT_BODY_LIMIT);
    let sqlite = Server::new().await;
    for uri in ["/api/compliance", "/api/compliance?group=production", "/api/compliance/groups"] {
        let (a, b) = (s.ok(uri, READER).await, sqlite.ok(uri, READER).await);
        let figures = |v: &Value| if v.is_array() { v.clone() } else { v["report"].clone() };
        let strip = |mut v: Value| {
            if let Some(a) = v.as_array_mut() {
                for g in a {
                    g["at"] = Value::Null;
                }
            }
            v
        };
        assert_eq!(strip(figures(&a)), strip(figures(&b)), "{uri}");
    }
    let mut seen = BTreeSet::new();
    let mut uri = "/api/violations?limit=9&sort=severity&order=descending".to_owned();
    loop {
        let page = s.ok(&uri, READER).await;
        for v in page["items"].as_array().unwrap() {
            assert!(seen.insert(v["key"].to_string()), "repeated");
        }
        match page["next"].as_str() {
            Some(c) => uri = format!("/api/violations?limit=9&sort=severity&order=descending&cursor={}", enc(c)),
            None => break,
        }
    }
    assert_eq!(seen.len(), sqlite.ok("/api/violations?limit=1000", READER).await["items"].as_array().unwrap().len());
    s.get("/api/violations?cursor=zzz", READER).await.error(StatusCode::BAD_REQUEST);
    s.get("/api/compliance?group=production", PAYMENTS).await.error(StatusCode::FORBIDDEN);
    let open = s.ok("/api/violations?status=open&severity=critical&limit=1", READER).await;
    let v = &open["items"][0];
    let new = json!({"id": "pg-1", "target": {"type": "asset", "asset": v["key"]["asset"], "policies": [v["key"]["policy_id"]]}, "reason": "r"});
    assert_eq!(s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(new)).await.status, StatusCode::CREATED);
    assert_eq!(s.call(Method::POST, "/api/admin/scan", Some(ADMIN), None).await.status, StatusCode::OK);
    let exempted = s.ok("/api/violations?status=exempted", READER).await;
    assert_eq!(exempted["items"][0]["key"], v["key"]);
}

// ---------------------------------------------------------------- administration: scopes, re-evaluation, fixes, bots

mod admin_ops {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pacbot::store::{FixKind, ViolationFilter};
    use pacbot::{Violation, ViolationStatus};
    use pacbot_autofix::{
        AccountMode, ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget, Mode, Params, PlannerConfig,
        PolicyFix,
    };

    use super::*;
    use dashboard::admin::Autofix;
    use dashboard::scanner::cli::DemoVariant;

    /// A fix that changes nothing outside this process: it counts its runs.
    #[derive(Debug)]
    struct CountingFix {
        key: &'static str,
        applied: AtomicUsize,
        /// Applying fails while this is set.
        broken: std::sync::atomic::AtomicBool,
    }

    impl CountingFix {
        fn new(key: &'static str) -> Arc<Self> {
            Arc::new(Self { key, applied: AtomicUsize::new(0), broken: Default::default() })
        }

        fn runs(&self) -> usize {
            self.applied.load(Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl Fix for CountingFix {
        fn info(&self) -> FixInfo {
            FixInfo {
                key: self.key,
                aliases: &[],
                title: "Marks the resource fixed (test)",
                kinds: &[],
                params: &[],
                permissions: &[],
                rollback: false,
                impactful: false,
            }
        }

        async fn plan(&self, target: &FixTarget, _: &Params) -> pacbot_autofix::Result<FixPlan> {
            let change =
                Change::new("test:Fix", "marks the resource fixed", json!({"fixed": false}), json!({"fixed": true}));
            Ok(FixPlan::changes(self.key, target, "mark it fixed", vec![change]))
        }

        async fn backup(&self, target: &FixTarget, _: &Params) -> pacbot_autofix::Result<Value> {
            Ok(json!({"fixed": false, "resource": target.resource_id()}))
        }

        async fn apply(&self, _: &FixTarget, _: &Params) -> pacbot_autofix::Result<ApplyOutcome> {
            self.applied.fetch_add(1, Ordering::SeqCst);
            if self.broken.load(Ordering::SeqCst) {
                return Err(pacbot_autofix::Error::InvalidConfig { path: "test".into(), reason: "refused".into() });
            }
            Ok(ApplyOutcome::applied("marked fixed", json!({"fixed": true})))
        }
    }

    const ACCOUNT: &str = "111122223333";

    /// A server with static admin and reader tokens, the demo scan, and an auto-fix set-up.
    fn admin_server(store: Arc<dyn Store>, autofix: Option<Autofix>) -> Server {
        let auth =
            Auth::new().with_token("admin", ADMIN, Role::Admin, None).with_token("reader", READER, Role::Reader, None);
        let mut settings = Settings::new(auth);
        settings.demo = Some(DemoScan::new(":memory:"));
        settings.autofix = autofix.map(Arc::new);
        Server { app: router(store.clone(), settings), store, idp: Idp::new() }
    }

    fn autofix(fix: Arc<CountingFix>, policies: Vec<PolicyFix>) -> Autofix {
        let catalogue = Catalogue::new().with(fix).unwrap();
        let accounts = AccountMode::Multi { role_name: "pacbot-remediation".into() };
        Autofix::new(catalogue, PlannerConfig::new(policies), accounts, Mode::Apply).unwrap()
    }

    fn in_scope(v: &Violation, account: &str, region: &str) -> bool {
        v.key.asset.provider == "aws" && v.key.asset.account == account && v.key.asset.region == region
    }

    /// The HTML of the table with this id.
    fn table<'a>(html: &'a str, id: &str) -> &'a str {
        let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
        let end = html[at..].find("</table>").map_or(html.len(), |e| at + e);
        &html[at..end]
    }

    fn asset_text(v: &Violation) -> String {
        v.key.asset.to_string()
    }

    #[tokio::test]
    async fn a_scan_of_one_scope_closes_only_that_scopes_violations() {
        // The store knows the first estate; the estate then changed in both
        // regions of the account (the demo's second variant).
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(":memory:").await.unwrap());
        DemoScan::new(":memory:").scan_variant(store.as_ref(), DemoVariant::Estate).await.unwrap();
        let full = seeded().await; // the same two estates, scanned whole
        let before = store.all_violations(ViolationFilter::default()).await.unwrap();
        let after_full = full.all_violations(ViolationFilter::default()).await.unwrap();
        let closed_by_full = |region: &str| -> BTreeSet<String> {
            after_full
                .iter()
                .filter(|v| in_scope(v, ACCOUNT, region) && v.status == ViolationStatus::Closed)
                .filter(|v| before.iter().any(|b| b.key == v.key && b.status == ViolationStatus::Open))
                .map(|v| format!("{}|{}|{}", v.key.policy_id, v.key.rule_id, v.key.asset))
                .collect()
        };
        let (x_fixed, y_fixed) = (closed_by_full("eu-west-1"), closed_by_full("us-east-1"));
        assert!(!x_fixed.is_empty() && !y_fixed.is_empty(), "the estate changed in both scopes");

        let s = admin_server(store.clone(), None);
        let report = s.ok("/api/compliance", READER).await;
        let body = json!({"provider": "aws", "account": ACCOUNT, "region": "eu-west-1"});
        s.call(Method::POST, "/api/admin/scan", Some(READER), Some(body.clone())).await.error(StatusCode::FORBIDDEN);
        let r = s.call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let summary = r.json();
        assert_eq!(summary["scope"], format!("aws/{ACCOUNT}/eu-west-1/*"));
        let coverage = summary["coverage"].as_array().unwrap();
        assert!(!coverage.is_empty());
        assert!(
            coverage.iter().all(|c| c["account"] == ACCOUNT && c["region"] == "eu-west-1" && c["provider"] == "aws"),
            "{summary}"
        );
        let closed = ["closed_fixed", "closed_resource_gone"]
            .iter()
            .map(|k| summary["transitions"][k].as_u64().unwrap_or(0))
            .sum::<u64>();
        assert!(closed > 0 && closed as usize >= x_fixed.len(), "{summary}");

        let after = store.all_violations(ViolationFilter::default()).await.unwrap();
        let closed_here: BTreeSet<String> = after
            .iter()
            .filter(|v| v.status == ViolationStatus::Closed)
            .filter(|v| before.iter().any(|b| b.key == v.key && b.status == ViolationStatus::Open))
            .map(|v| format!("{}|{}|{}", v.key.policy_id, v.key.rule_id, v.key.asset))
            .collect();
        // Exactly the scope's fixed violations closed; nothing elsewhere was touched.
        assert_eq!(closed_here, x_fixed);
        for b in before.iter().filter(|b| !in_scope(b, ACCOUNT, "eu-west-1")) {
            let a = after.iter().find(|a| a.key == b.key).unwrap();
            assert_eq!((a.status, a.modified_at), (b.status, b.modified_at), "{}", asset_text(b));
        }
        for key in &y_fixed {
            let v = after.iter().find(|v| format!("{}|{}|{}", v.key.policy_id, v.key.rule_id, v.key.asset) == *key);
            assert_eq!(v.map(|v| v.status), Some(ViolationStatus::Open), "{key} stays open");
        }

        // One scope is not the estate: the reports stay the latest full scan's.
        assert_eq!(s.ok("/api/compliance", READER).await, report);
        assert_ne!(summary["scan"], report["scan"]);

        // One kind in the other region: its violations end as the full scan left
        // them (the rules saw the account's other resources); the rest of that
        // region is untouched.
        let buckets = json!({"provider": "aws", "account": ACCOUNT, "region": "us-east-1", "kind": "aws.s3.bucket"});
        let r = s.call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(buckets)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["coverage"].as_array().unwrap().len(), 1, "{}", r.text);
        let is_bucket =
            |v: &Violation| in_scope(v, ACCOUNT, "us-east-1") && v.key.asset.kind.as_str() == "aws.s3.bucket";
        let last = store.all_violations(ViolationFilter::default()).await.unwrap();
        let statuses = |vs: &[Violation]| -> BTreeSet<String> {
            vs.iter()
                .filter(|v| is_bucket(v))
                .map(|v| format!("{}|{}|{:?}", v.key.rule_id, v.key.asset, v.status))
                .collect()
        };
        assert!(!statuses(&last).is_empty());
        assert_eq!(statuses(&last), statuses(&after_full));
        for b in after.iter().filter(|b| !is_bucket(b)) {
            let a = last.iter().find(|a| a.key == b.key).unwrap();
            assert_eq!((a.status, a.modified_at), (b.status, b.modified_at), "{}", asset_text(b));
        }

        // Bad scopes: unknown, empty, incomplete, unexpected fields.
        let unknown = json!({"provider": "aws", "account": "999999999999", "region": "eu-west-1"});
        let e = s.call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(unknown)).await.error(StatusCode::NOT_FOUND);
        assert!(e["error"]["message"].as_str().unwrap().contains("999999999999"), "{e}");
        let kind = json!({"provider": "aws", "account": ACCOUNT, "region": "eu-west-1", "kind": "aws.nope"});
        s.call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(kind)).await.error(StatusCode::NOT_FOUND);
        let empty = json!({"provider": "aws", "account": " ", "region": "eu-west-1"});
        let e = s.call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(empty)).await.error(StatusCode::BAD_REQUEST);
        assert!(e["error"]["message"].as_str().unwrap().contains("account"), "{e}");
        let partial = json!({"provider": "aws", "account": ACCOUNT});
        let e = s
            .call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(partial))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e["error"]["message"].as_str().unwrap().contains("region"), "{e}");
        let extra = json!({"provider": "aws", "account": ACCOUNT, "region": "eu-west-1", "zone": "a"});
        s.call(Method::POST, "/api/admin/scan", Some(ADMIN), Some(extra)).await.error(StatusCode::UNPROCESSABLE_ENTITY);
        // Nothing of those failures was committed.
        let scans = store.scans(&pacbot::store::PageRequest::first(10)).await.unwrap();
        assert_eq!(scans.items.len(), 3);
    }

    #[tokio::test]
    async fn one_asset_is_re_evaluated_without_touching_the_store() {
        let store = seeded().await;
        let s = admin_server(store.clone(), None);
        let open = ViolationFilter { statuses: vec![ViolationStatus::Open], ..ViolationFilter::default() };
        let v = store.all_violations(open).await.unwrap().into_iter().next().unwrap();
        let before = store.all_violations(ViolationFilter::default()).await.unwrap();
        let uri = format!("/api/admin/assets/reevaluate?id={}", enc(&asset_text(&v)));
        s.call(Method::POST, &uri, Some(READER), None).await.error(StatusCode::FORBIDDEN);
        let r = s.call(Method::POST, &uri, Some(ADMIN), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let body = r.json();
        assert_eq!(body["committed"], false);
        let results = body["results"].as_array().unwrap();
        let mine = results
            .iter()
            .find(|o| o["policy"] == v.key.policy_id.as_str() && o["rule"] == v.key.rule_id.as_str())
            .unwrap_or_else(|| panic!("no outcome for the violated rule: {body}"));
        assert_eq!(mine["outcome"], "fail", "{mine}");
        assert_eq!(mine["stored_status"], "open", "{mine}");
        assert!(mine.get("exempted_by").is_none(), "{mine}");
        assert!(results.iter().all(|o| ["pass", "fail", "error"].contains(&o["outcome"].as_str().unwrap())));
        // The same judgement as the scan that stored the asset: it fails exactly
        // the rules it has open violations of.
        let failing: BTreeSet<String> = results
            .iter()
            .filter(|o| o["outcome"] == "fail")
            .map(|o| format!("{}|{}", o["policy"].as_str().unwrap(), o["rule"].as_str().unwrap()))
            .collect();
        let stored_open: BTreeSet<String> = before
            .iter()
            .filter(|b| b.key.asset == v.key.asset && b.status == ViolationStatus::Open)
            .map(|b| format!("{}|{}", b.key.policy_id, b.key.rule_id))
            .collect();
        assert_eq!(failing, stored_open);
        // So for one asset of every kind with open violations (related resources included).
        let mut kinds = BTreeSet::new();
        for o in before.iter().filter(|b| b.status == ViolationStatus::Open) {
            if !kinds.insert((o.key.asset.provider.clone(), o.key.asset.kind.clone())) {
                continue;
            }
            let uri = format!("/api/admin/assets/reevaluate?id={}", enc(&asset_text(o)));
            let body = s.call(Method::POST, &uri, Some(ADMIN), None).await.json();
            let failing: BTreeSet<String> = body["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["outcome"] == "fail")
                .map(|r| format!("{}|{}", r["policy"].as_str().unwrap(), r["rule"].as_str().unwrap()))
                .collect();
            let stored_open: BTreeSet<String> = before
                .iter()
                .filter(|b| b.key.asset == o.key.asset && b.status == ViolationStatus::Open)
                .map(|b| format!("{}|{}", b.key.policy_id, b.key.rule_id))
                .collect();
            assert_eq!(failing, stored_open, "{}", asset_text(o));
        }
        assert!(kinds.len() > 5, "{kinds:?}");

        // An exception shows at once; still nothing is committed.
        let a = serde_json::to_value(&v.key.asset).unwrap();
        let exc = json!({"id": "exc-re", "target": {"type": "asset", "asset": a, "policies": [v.key.policy_id]}, "reason": "r"});
        assert_eq!(
            s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(exc)).await.status,
            StatusCode::CREATED
        );
        let body = s.call(Method::POST, &uri, Some(ADMIN), None).await.json();
        let mine = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["policy"] == v.key.policy_id.as_str() && o["rule"] == v.key.rule_id.as_str())
            .cloned()
            .unwrap();
        assert_eq!(mine["exempted_by"], "exc-re", "{mine}");
        assert_eq!(store.all_violations(ViolationFilter::default()).await.unwrap(), before);

        // Unknown and malformed assets.
        let unknown = format!("/api/admin/assets/reevaluate?id={}", enc("aws/1/eu-west-1/aws.s3.bucket/nope"));
        s.call(Method::POST, &unknown, Some(ADMIN), None).await.error(StatusCode::NOT_FOUND);
        s.call(Method::POST, "/api/admin/assets/reevaluate?id=nope", Some(ADMIN), None)
            .await
            .error(StatusCode::BAD_REQUEST);
        s.call(Method::POST, "/api/admin/assets/reevaluate", Some(ADMIN), None).await.error(StatusCode::BAD_REQUEST);
    }

    /// The open violations of the account, by policy, most first.
    async fn policy_with_open_violations(store: &dyn Store) -> (String, Vec<Violation>) {
        let filter = ViolationFilter {
            statuses: vec![ViolationStatus::Open],
            accounts: vec![ACCOUNT.into()],
            ..ViolationFilter::default()
        };
        let mut by_policy: std::collections::BTreeMap<String, Vec<Violation>> = Default::default();
        for v in store.all_violations(filter).await.unwrap() {
            by_policy.entry(v.key.policy_id.clone()).or_default().push(v);
        }
        by_policy.into_iter().max_by_key(|(_, vs)| vs.len()).unwrap()
    }

    #[tokio::test]
    async fn approving_a_plan_fixes_once_with_backup_and_audit() {
        let store = seeded().await;
        let (policy, violations) = policy_with_open_violations(store.as_ref()).await;
        assert!(violations.len() >= 3, "{policy}");
        let fix = CountingFix::new("test-fix");
        let config = PolicyFix::new(policy.clone(), "test-fix").allow_account(ACCOUNT);
        let s = admin_server(store.clone(), Some(autofix(fix.clone(), vec![config])));

        // The dry-run view: every open violation of the policy; ready in the
        // allow-listed account, with the fix's plan; nothing written, nothing run.
        s.get("/api/admin/fixes/plans", READER).await.error(StatusCode::FORBIDDEN);
        let records_before = store.fix_records(&Default::default()).await.unwrap().len();
        let plans = s.ok("/api/admin/fixes/plans?limit=1000", ADMIN).await;
        let plans = plans.as_array().unwrap().clone();
        let all = ViolationFilter {
            policies: vec![policy.clone()],
            statuses: vec![ViolationStatus::Open, ViolationStatus::Exempted],
            ..ViolationFilter::default()
        };
        assert_eq!(plans.len(), store.all_violations(all).await.unwrap().len());
        for p in &plans {
            let expected = if p["asset"]["account"] == ACCOUNT { "ready" } else { "not_allowed" };
            assert_eq!(p["status"], expected, "{p}");
            if expected == "ready" {
                assert_eq!(p["plan"]["changes"][0]["action"], "test:Fix", "{p}");
            } else {
                assert!(p.get("plan").is_none(), "{p}");
            }
        }
        assert_eq!(store.fix_records(&Default::default()).await.unwrap().len(), records_before);
        assert_eq!(fix.runs(), 0);
        let plan_of = |v: &Violation| {
            plans
                .iter()
                .find(|p| {
                    p["asset"] == serde_json::to_value(&v.key.asset).unwrap() && p["rule"] == v.key.rule_id.as_str()
                })
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .unwrap()
        };
        let (first, second) = (plan_of(&violations[0]), plan_of(&violations[1]));

        // A reader cannot approve; an admin's approval runs the fix once, after the backup and audit.
        let uri = format!("/api/admin/fixes/{first}/approve");
        s.call(Method::POST, &uri, Some(READER), None).await.error(StatusCode::FORBIDDEN);
        assert_eq!(fix.runs(), 0);
        let r = s.call(Method::POST, &uri, Some(ADMIN), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(fix.runs(), 1);
        let run = r.json()["run"].clone();
        assert_eq!((run["mode"].as_str(), run["status"].as_str()), (Some("apply"), Some("applied")), "{run}");
        let action = store.fix_record(run["action_id"].as_str().unwrap()).await.unwrap();
        assert_eq!((action.kind, action.status.as_str()), (FixKind::Action, "applied"));
        assert_eq!(action.policy_id, policy);
        assert_eq!(action.asset, violations[0].key.asset);
        assert_eq!(action.data["actor"], "admin");
        assert_eq!(action.data["backup_id"], run["backup_id"]);
        let backup = store.fix_record(run["backup_id"].as_str().unwrap()).await.unwrap();
        assert_eq!((backup.kind, backup.status.as_str()), (FixKind::Backup, "stored"));
        assert_eq!(backup.data["before"], json!({"fixed": false, "resource": violations[0].key.asset.resource_id}));
        let approval = store.fix_record(&first).await.unwrap();
        assert_eq!((approval.kind, approval.status.as_str()), (FixKind::Plan, "applied"));
        assert_eq!(approval.data["approved_by"], "admin");

        // A second approval is refused; the fix did not run again.
        let e = s.call(Method::POST, &uri, Some(ADMIN), None).await.error(StatusCode::CONFLICT);
        assert!(e["error"]["message"].as_str().unwrap().contains("applied"), "{e}");
        assert_eq!(fix.runs(), 1);
        let view = s.ok("/api/admin/fixes/plans?limit=1000", ADMIN).await;
        let mine = view.as_array().unwrap().iter().find(|p| p["id"] == first.as_str()).cloned().unwrap();
        assert_eq!(mine["status"], "applied");

        // A failed run is recorded as failed and may be approved again.
        let third = plan_of(&violations[2]);
        let uri3 = format!("/api/admin/fixes/{third}/approve");
        fix.broken.store(true, Ordering::SeqCst);
        let r = s.call(Method::POST, &uri3, Some(ADMIN), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["run"]["status"], "failed");
        assert_eq!(store.fix_record(&third).await.unwrap().status, "failed");
        fix.broken.store(false, Ordering::SeqCst);
        let r = s.call(Method::POST, &uri3, Some(ADMIN), None).await;
        assert_eq!(r.json()["run"]["status"], "applied", "{}", r.text);
        assert_eq!(store.fix_record(&third).await.unwrap().status, "applied");
        assert_eq!(fix.runs(), 3);

        // A violation exempted since the view is refused with 409.
        let a = serde_json::to_value(&violations[1].key.asset).unwrap();
        let exc =
            json!({"id": "exc-fix", "target": {"type": "asset", "asset": a, "policies": [policy]}, "reason": "r"});
        assert_eq!(
            s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(exc)).await.status,
            StatusCode::CREATED
        );
        let e = s
            .call(Method::POST, &format!("/api/admin/fixes/{second}/approve"), Some(ADMIN), None)
            .await
            .error(StatusCode::CONFLICT);
        assert!(e["error"]["message"].as_str().unwrap().contains("exc-fix"), "{e}");
        assert_eq!(fix.runs(), 3);
        assert!(store.fix_record(&second).await.is_err());

        // Narrowed and bounded views (50 by default); bad parameters.
        let default = s.ok("/api/admin/fixes/plans", ADMIN).await;
        assert_eq!(default.as_array().unwrap().len(), plans.len().min(50));
        let one = s.ok(&format!("/api/admin/fixes/plans?policy={}&limit=1", enc(&policy)), ADMIN).await;
        assert_eq!(one.as_array().unwrap().len(), 1);
        assert_eq!(one[0]["id"], plans[0]["id"]);
        let e = s.get("/api/admin/fixes/plans?policy=no-such-policy", ADMIN).await.error(StatusCode::BAD_REQUEST);
        assert!(e["error"]["message"].as_str().unwrap().contains("no-such-policy"), "{e}");
        s.get("/api/admin/fixes/plans?limit=0", ADMIN).await.error(StatusCode::BAD_REQUEST);
        s.get("/api/admin/fixes/plans?nope=1", ADMIN).await.error(StatusCode::BAD_REQUEST);

        // Unknown plans; a server without auto-fix.
        s.call(Method::POST, "/api/admin/fixes/fix-0000/approve", Some(ADMIN), None).await.error(StatusCode::NOT_FOUND);
        let bare = admin_server(store.clone(), None);
        bare.get("/api/admin/fixes/plans", ADMIN).await.error(StatusCode::CONFLICT);
        bare.call(Method::POST, &uri, Some(ADMIN), None).await.error(StatusCode::CONFLICT);
        assert!(
            Autofix::new(
                Catalogue::new(),
                PlannerConfig::new(vec![PolicyFix::new(policy, "no-such-fix")]),
                AccountMode::Single { account: ACCOUNT.into() },
                Mode::DryRun
            )
            .unwrap_err()
            .contains("policies[0].fix")
        );
    }

    fn finding(id: &str, bot: &str) -> Value {
        json!({
            "id": id,
            "account": {"id": ACCOUNT},
            "region": "eu-west-1",
            "entity": {"id": "i-0abc", "type": "Instance", "name": "web-1"},
            "rule": {"name": "Instances must not be public", "complianceTags": format!("CIS|AUTO: {bot}")}
        })
    }

    #[tokio::test]
    async fn ingested_findings_are_dispatched_to_bots_and_recorded() {
        let store = seeded().await;
        let bot = CountingFix::new("test-bot");
        let s = admin_server(store.clone(), Some(autofix(bot.clone(), Vec::new())));
        for (id, name) in [("f-1", "test_bot"), ("f-2", "no_such_bot")] {
            let r = s.call(Method::POST, "/api/ingest/findings", Some(ADMIN), Some(finding(id, name))).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        }

        s.call(Method::POST, "/api/admin/findings/finding-f-1/dispatch", Some(READER), None)
            .await
            .error(StatusCode::FORBIDDEN);
        let r = s.call(Method::POST, "/api/admin/findings/finding-f-1/dispatch", Some(ADMIN), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let body = r.json();
        assert_eq!(body["status"], "done", "{body}");
        assert_eq!(body["records"], json!([["finding-f-1-bot-1", "done"]]));
        assert_eq!(bot.runs(), 1);
        let finding_record = store.fix_record("finding-f-1").await.unwrap();
        assert_eq!(finding_record.status, "done");
        assert_eq!(finding_record.data["results"], json!(["finding-f-1-bot-1"]));
        let result = store.fix_record("finding-f-1-bot-1").await.unwrap();
        assert_eq!((result.kind, result.status.as_str()), (FixKind::Action, "done"));
        assert_eq!(result.data["result"]["bot"], "test_bot");
        assert_eq!(result.data["result"]["status"], "passed");
        let audit = store.fix_record(result.data["result"]["run"]["action_id"].as_str().unwrap()).await.unwrap();
        assert_eq!((audit.status.as_str(), audit.asset.resource_id.as_str()), ("applied", "i-0abc"));
        // Dispatched once only.
        s.call(Method::POST, "/api/admin/findings/finding-f-1/dispatch", Some(ADMIN), None)
            .await
            .error(StatusCode::CONFLICT);
        assert_eq!(bot.runs(), 1);

        // An unknown bot is a recorded failure.
        let r = s.call(Method::POST, "/api/admin/findings/finding-f-2/dispatch", Some(ADMIN), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "failed");
        assert_eq!(store.fix_record("finding-f-2").await.unwrap().status, "failed");
        let failed = store.fix_record("finding-f-2-bot-1").await.unwrap();
        assert_eq!(failed.status, "failed");
        assert!(failed.data["result"]["message"].as_str().unwrap().contains("no_such_bot"), "{}", failed.data);
        assert_eq!(bot.runs(), 1);

        // In dry-run, the bot plans only: recorded as such, nothing applied.
        let catalogue = Catalogue::new().with(bot.clone()).unwrap();
        let accounts = AccountMode::Single { account: ACCOUNT.into() };
        let dry = Autofix::new(catalogue, PlannerConfig::new(Vec::new()), accounts, Mode::DryRun).unwrap();
        let d = admin_server(store.clone(), Some(dry));
        d.call(Method::POST, "/api/ingest/findings", Some(ADMIN), Some(finding("f-3", "test_bot"))).await;
        let r = d.call(Method::POST, "/api/admin/findings/finding-f-3/dispatch", Some(ADMIN), None).await;
        assert_eq!(r.json()["records"], json!([["finding-f-3-bot-1", "dry_run"]]), "{}", r.text);
        assert_eq!(store.fix_record("finding-f-3").await.unwrap().status, "done");
        assert_eq!(bot.runs(), 1);

        // Not a finding, or no such record.
        s.call(Method::POST, "/api/admin/findings/nope/dispatch", Some(ADMIN), None).await.error(StatusCode::NOT_FOUND);
        s.call(Method::POST, &format!("/api/admin/findings/{}/dispatch", failed.id), Some(ADMIN), None)
            .await
            .error(StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_operations_page_approves_and_dispatches_for_admins_only() {
        let store = seeded().await;
        let (policy, violations) = policy_with_open_violations(store.as_ref()).await;
        let fix = CountingFix::new("test-fix");
        let config = PolicyFix::new(policy, "test-fix").allow_account(ACCOUNT);
        let s = admin_server(store.clone(), Some(autofix(fix.clone(), vec![config])));
        let mut event = finding("f-<b>", "test_fix");
        event["rule"]["name"] = json!("<script>alert(1)</script>");
        assert_eq!(
            s.call(Method::POST, "/api/ingest/findings", Some(ADMIN), Some(event)).await.status,
            StatusCode::ACCEPTED
        );

        assert_eq!(s.page("/admin/operations", READER).await.status, StatusCode::FORBIDDEN);
        let page = s.page("/admin/operations", ADMIN).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("id=\"scope-scan\"") && page.text.contains("id=\"reevaluate\""));
        assert!(table(&page.text, "plans").contains("Approve and fix"));
        assert!(page.text.contains("Dispatch to bots"));
        assert!(!page.text.contains("<script>alert"), "escaped");
        assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(s.page("/admin", ADMIN).await.text.contains("href=\"/admin/operations\""));

        let plans = s.ok("/api/admin/fixes/plans?limit=1000", ADMIN).await;
        let id = plans
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["asset"] == serde_json::to_value(&violations[0].key.asset).unwrap())
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .unwrap();
        let form = format!("id={id}");
        let r = s.form("/admin/operations/approve", Some(ADMIN), Some("https://evil.example"), &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = s.form("/admin/operations/approve", Some(READER), Some("http://dashboard.test"), &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(fix.runs(), 0);
        let r = s.form("/admin/operations/approve", Some(ADMIN), Some("http://dashboard.test"), &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(fix.runs(), 1);
        let r = s.form("/admin/operations/approve", Some(ADMIN), Some("http://dashboard.test"), &form).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(fix.runs(), 1);

        let form = format!("id={}", enc("finding-f-<b>"));
        let r = s.form("/admin/operations/dispatch", Some(ADMIN), Some("https://evil.example"), &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = s.form("/admin/operations/dispatch", Some(ADMIN), Some("http://dashboard.test"), &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(fix.runs(), 2);
        assert_eq!(store.fix_record("finding-f-<b>").await.unwrap().status, "done");

        // Re-evaluation and a scoped scan from the page.
        let uri = format!("/admin/operations/reevaluate?id={}", enc(&asset_text(&violations[0])));
        let page = s.page(&uri, ADMIN).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(table(&page.text, "outcomes").contains("<td>fail</td>"), "{}", page.text);
        let form = format!("provider=aws&account={ACCOUNT}&region=eu-west-1&kind=aws.s3.bucket");
        let r = s.form("/admin/operations/scan", Some(ADMIN), Some("http://dashboard.test"), &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let r = s.form("/admin/operations/scan", Some(ADMIN), Some("https://evil.example"), &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

// ---------------------------------------------------------------- issuer keys, rules, group unions
//
// Keys fetched from an issuer (a fake one served on a loopback port), the
// knowledge base's rules, and callers scoped to several asset groups.

mod issuer {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::routing::get;
    use serde_json::{Value, json};

    /// What the fake issuer serves, and how often it was asked.
    pub struct Issuer {
        pub url: String,
        pub jwks: Mutex<Value>,
        pub discovery: Mutex<Value>,
        pub discovery_hits: AtomicUsize,
        pub jwks_hits: AtomicUsize,
    }

    impl Issuer {
        pub fn jwks_hits(&self) -> usize {
            self.jwks_hits.load(Ordering::SeqCst)
        }
    }

    async fn discovery(State(i): State<Arc<Issuer>>) -> String {
        i.discovery_hits.fetch_add(1, Ordering::SeqCst);
        let doc = i.discovery.lock().unwrap().clone();
        match doc {
            Value::String(junk) => junk,
            doc => doc.to_string(),
        }
    }

    async fn jwks(State(i): State<Arc<Issuer>>) -> String {
        i.jwks_hits.fetch_add(1, Ordering::SeqCst);
        i.jwks.lock().unwrap().to_string()
    }

    /// Serves `/.well-known/openid-configuration` and `/jwks` on 127.0.0.1.
    pub async fn start(keys: Value) -> Arc<Issuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let issuer = Arc::new(Issuer {
            discovery: Mutex::new(json!({"issuer": url, "jwks_uri": format!("{url}/jwks")})),
            url,
            jwks: Mutex::new(keys),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    }
}

/// A signing key with its own `kid`.
struct KidKey {
    idp: Idp,
    kid: String,
}

impl KidKey {
    fn new(kid: &str) -> Self {
        Self { idp: Idp::new(), kid: kid.into() }
    }

    /// The public key as one JWK.
    fn jwk(&self) -> Value {
        let mut k = self.idp.jwks["keys"][0].clone();
        k["kid"] = json!(self.kid);
        k
    }

    /// A token of `iss`, signed by this key and naming it.
    fn token(&self, iss: &str, sub: &str) -> String {
        let mut claims = self.idp.claims(sub, &[], 300);
        claims["iss"] = json!(iss);
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&self.idp.pkcs8)).unwrap()
    }
}

fn remote_oidc(issuer: &str, min_refresh_secs: u64) -> OidcConfig {
    let mut config = OidcConfig::new(issuer, AUDIENCE);
    config.jwks_min_refresh_secs = min_refresh_secs;
    config
}

fn server_with(store: Arc<dyn Store>, auth: Auth) -> Server {
    let mut settings = Settings::new(auth);
    settings.demo = Some(DemoScan::new(":memory:"));
    Server { app: router(store.clone(), settings), store, idp: Idp::new() }
}

#[tokio::test]
async fn issuer_keys_are_fetched_and_refreshed_when_a_token_names_a_new_key() {
    let old = KidKey::new("2026-old");
    let new = KidKey::new("2026-new");
    let later = KidKey::new("2026-later");
    let idp = issuer::start(json!({"keys": [old.jwk()]})).await;
    let auth = Auth::new().with_remote_oidc(remote_oidc(&idp.url, 3600)).unwrap();
    auth.connect().await.unwrap();
    assert_eq!((idp.discovery_hits.load(std::sync::atomic::Ordering::SeqCst), idp.jwks_hits()), (1, 1));
    let s = server_with(seeded().await, auth);

    // A token of the published key: accepted from the cache.
    let body = s.ok("/api/compliance", &old.token(&idp.url, "alice")).await;
    assert!(body["report"].is_object());
    assert_eq!(idp.jwks_hits(), 1);

    // The issuer rotates: a token of the new key makes the server fetch the set once.
    *idp.jwks.lock().unwrap() = json!({"keys": [old.jwk(), new.jwk()]});
    assert_eq!(s.get("/api/compliance", &new.token(&idp.url, "bob")).await.status, StatusCode::OK);
    assert_eq!(idp.jwks_hits(), 2);
    assert_eq!(s.get("/api/violations?limit=1", &new.token(&idp.url, "bob")).await.status, StatusCode::OK);
    assert_eq!(idp.jwks_hits(), 2, "a known key needs no fetch");

    // Tokens naming keys the issuer does not have: 401, and no more fetching
    // within the refresh interval however many come.
    let stranger = KidKey::new("made-up");
    for i in 0..25 {
        let body = s.get("/api/compliance", &stranger.token(&idp.url, &format!("eve{i}"))).await;
        let e = body.error(StatusCode::UNAUTHORIZED);
        assert!(e["error"]["message"].as_str().unwrap().contains("kid"), "{e}");
    }
    assert_eq!(idp.jwks_hits(), 2, "unknown keys are rate-limited");
    // So a key published right after a forced fetch waits for the interval.
    *idp.jwks.lock().unwrap() = json!({"keys": [old.jwk(), new.jwk(), later.jwk()]});
    s.get("/api/compliance", &later.token(&idp.url, "carol")).await.error(StatusCode::UNAUTHORIZED);
    assert_eq!(idp.jwks_hits(), 2);
    // Static tokens are not affected, and pages log in through the same keys.
    assert_eq!(idp.discovery_hits.load(std::sync::atomic::Ordering::SeqCst), 1, "discovery is read once");
}

#[tokio::test]
async fn an_unknown_key_is_refused_after_a_fetch_that_does_not_have_it() {
    let known = KidKey::new("k1");
    let idp = issuer::start(json!({"keys": [known.jwk()]})).await;
    // No refresh interval: every unknown key fetches (to show the fetch happened).
    let auth = Auth::new().with_remote_oidc(remote_oidc(&idp.url, 0)).unwrap();
    auth.connect().await.unwrap();
    let s = server_with(seeded().await, auth);
    let unknown = KidKey::new("k2");
    s.get("/api/compliance", &unknown.token(&idp.url, "mallory")).await.error(StatusCode::UNAUTHORIZED);
    assert_eq!(idp.jwks_hits(), 2, "one fetch for the unknown key");
    // A symmetric key published under the token's kid is never used.
    *idp.jwks.lock().unwrap() = json!({"keys": [known.jwk(), {"kty": "oct", "kid": "k2", "k": "c2VjcmV0"}]});
    s.get("/api/compliance", &unknown.token(&idp.url, "mallory")).await.error(StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/compliance", &known.token(&idp.url, "alice")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_or_junk_issuer_is_a_start_up_error() {
    // Nothing listens.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = Auth::new().with_remote_oidc(remote_oidc(&url, 60)).unwrap().connect().await.unwrap_err();
    assert!(e.contains("cannot fetch the issuer's discovery document") && e.contains(&url), "{e}");

    // Junk discovery, another issuer's discovery, junk and keyless key sets.
    let good = KidKey::new("k");
    let idp = issuer::start(json!({"keys": [good.jwk()]})).await;
    let connect = || async { Auth::new().with_remote_oidc(remote_oidc(&idp.url, 60)).unwrap().connect().await };
    *idp.discovery.lock().unwrap() = json!("<html>not json</html>");
    let e = connect().await.unwrap_err();
    assert!(e.contains("discovery document") && e.contains("not JSON"), "{e}");
    *idp.discovery.lock().unwrap() =
        json!({"issuer": "https://other.example.test", "jwks_uri": format!("{}/jwks", idp.url)});
    assert!(connect().await.unwrap_err().contains("other.example.test"));
    *idp.discovery.lock().unwrap() = json!({"issuer": idp.url});
    assert!(connect().await.unwrap_err().contains("no `jwks_uri`"));
    *idp.discovery.lock().unwrap() = json!({"issuer": idp.url, "jwks_uri": format!("{}/jwks", idp.url)});
    *idp.jwks.lock().unwrap() = json!({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]});
    let e = connect().await.unwrap_err();
    assert!(e.contains("no usable asymmetric key"), "{e}");
    *idp.jwks.lock().unwrap() = json!(["not", "a", "set"]);
    assert!(connect().await.unwrap_err().contains("not a JWK set"));
    *idp.jwks.lock().unwrap() = json!({"keys": [good.jwk()]});
    connect().await.unwrap();

    // Plain HTTP only to loopback; a configured `jwks_url` skips discovery.
    let e = Auth::new().with_remote_oidc(OidcConfig::new("http://idp.example.test", AUDIENCE)).unwrap_err();
    assert!(e.contains("https"), "{e}");
    let mut direct = remote_oidc("https://idp.example.test", 60);
    direct.jwks_url = Some(format!("{}/jwks", idp.url));
    let before = idp.discovery_hits.load(std::sync::atomic::Ordering::SeqCst);
    Auth::new().with_remote_oidc(direct).unwrap().connect().await.unwrap();
    assert_eq!(idp.discovery_hits.load(std::sync::atomic::Ordering::SeqCst), before);

    // From the configuration file: no `jwks_file` means the issuer's keys.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        format!("[oidc]\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\njwks_min_refresh_secs = 5\n", idp.url),
    )
    .unwrap();
    let auth = Auth::from_file(&path).unwrap();
    auth.connect().await.unwrap();
    assert_eq!(auth.verify(&good.token(&idp.url, "dan")).await.unwrap().name, "dan");
}

#[tokio::test]
async fn the_knowledge_base_shows_each_rule_and_declarative_criteria() {
    let s = Server::new().await;
    let kb = s.ok("/api/policies", READER).await;
    let mut declarative = 0;
    let mut code = 0;
    for p in kb.as_array().unwrap() {
        let id = p["meta"]["id"].as_str().unwrap();
        let one = s.ok(&format!("/api/policies/{}", enc(id)), READER).await;
        let rules = one["rules"].as_array().unwrap();
        assert!(!rules.is_empty(), "{id} has its rules: {one}");
        for r in rules {
            match r["form"].as_str().unwrap() {
                "declarative" => {
                    declarative += 1;
                    let text = r["criteria"].as_str().unwrap();
                    assert!(text.contains("fail_when") || text.contains("pass_when"), "{text}");
                    assert!(text.contains("resource"), "{text}");
                }
                "code" => {
                    code += 1;
                    assert!(r.get("criteria").is_none(), "{r}");
                    assert!(r["description"].is_string(), "{id}: {r}");
                }
                other => panic!("form {other}"),
            }
        }
    }
    assert!(declarative > 0 && code > 0, "{declarative} declarative, {code} code rules");

    // The demo's own policy file is declarative: its criteria are shown as written.
    let file = include_str!("../examples/scanner/demo/policies/production.yaml");
    let kb_ids: Vec<&str> = kb.as_array().unwrap().iter().map(|p| p["meta"]["id"].as_str().unwrap()).collect();
    let id = kb_ids.iter().find(|id| file.contains(&format!("id: {id}"))).expect("a demo policy in the catalogue");
    let one = s.ok(&format!("/api/policies/{}", enc(id)), READER).await;
    assert_eq!(one["rules"][0]["form"], "declarative", "{one}");

    // The page shows them too: criteria in a <pre>, code rules said to be code.
    let page = s.call(Method::GET, "/policies", None, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let html = page_as(&s, "/policies", READER).await;
    let row = until(&html, &format!("id=\"policy-{id}\""), "</tr>");
    assert!(row.contains("data-form=\"declarative\"") && row.contains("<pre>"), "{row}");
    assert!(html.contains("data-form=\"code\"") && html.contains("(in code)"));
}

/// The HTML from `start` to the next `end`.
fn until<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("no {start}"));
    let rest = &html[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// A page fetched with a session cookie.
async fn page_as(s: &Server, uri: &str, token: &str) -> String {
    let req = Request::builder()
        .uri(uri)
        .header(header::COOKIE, format!("{}={token}", dashboard::app::COOKIE))
        .body(Body::empty())
        .unwrap();
    let response = s.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Every item of a list, page by page.
async fn walk(s: &Server, uri: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let sep = if uri.contains('?') { '&' } else { '?' };
    let mut next = format!("{uri}{sep}limit=7");
    loop {
        let page = s.ok(&next, token).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(c) => next = format!("{uri}{sep}limit=7&cursor={}", enc(c)),
            None => return out,
        }
    }
}

const TWO_GROUPS: &str = "two-groups-reader-token";

async fn two_group_server(store: Arc<dyn Store>) -> Server {
    let auth = Auth::new().with_token("reader", READER, Role::Reader, None).with_token(
        "two",
        TWO_GROUPS,
        Role::Reader,
        Some(vec!["production".into(), "team-payments".into()]),
    );
    server_with(store, auth)
}

#[tokio::test]
async fn a_caller_of_several_groups_sees_their_union() {
    let s = two_group_server(seeded().await).await;
    let keys = |items: &[Value], field: &str| -> Vec<String> { items.iter().map(|v| v[field].to_string()).collect() };
    for (list, field) in [("/api/violations", "key"), ("/api/assets", "asset")] {
        let union = keys(&walk(&s, list, TWO_GROUPS).await, field);
        let production = keys(&walk(&s, &format!("{list}?group=production"), READER).await, field);
        let payments = keys(&walk(&s, &format!("{list}?group=team-payments"), READER).await, field);
        let everything = keys(&walk(&s, list, READER).await, field);
        let listed: BTreeSet<&String> = union.iter().collect();
        assert_eq!(listed.len(), union.len(), "{list}: each listed once");
        let expected: BTreeSet<&String> = production.iter().chain(&payments).collect();
        assert_eq!(listed, expected, "{list}: the union of both groups");
        let both = production.iter().filter(|k| payments.contains(k)).count();
        assert!(both > 0, "{list}: the demo's groups overlap");
        assert!(union.len() < production.len() + payments.len() && union.len() < everything.len(), "{list}");
        // Naming one of the groups narrows to it.
        let one = keys(&walk(&s, &format!("{list}?group=team-payments"), TWO_GROUPS).await, field);
        assert_eq!(one, payments);
    }
    // Filters combine with the union.
    let open = walk(&s, "/api/violations?status=open", TWO_GROUPS).await;
    assert!(!open.is_empty() && open.iter().all(|v| v["status"] == "open"));
    s.get("/api/violations?group=azure", TWO_GROUPS).await.error(StatusCode::FORBIDDEN);

    // Search finds what either group holds and nothing else.
    let hits = s.ok("/api/search?q=payments&limit=1000", TWO_GROUPS).await;
    let all_assets: BTreeSet<String> =
        walk(&s, "/api/assets", TWO_GROUPS).await.iter().map(|a| a["asset"]["id"].to_string()).collect();
    let hits = hits["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        let id = if h["id"].is_object() { &h["id"] } else { &h["key"]["asset"] };
        assert!(all_assets.contains(&id.to_string()), "{h}");
    }

    // Compliance is per group: name one, or read each from /compliance/groups.
    let e = s.get("/api/compliance", TWO_GROUPS).await.error(StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], "group_required", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("team-payments"), "{e}");
    s.get("/api/compliance/trend", TWO_GROUPS).await.error(StatusCode::BAD_REQUEST);
    let one = s.ok("/api/compliance?group=team-payments", TWO_GROUPS).await;
    assert_eq!(one, s.ok("/api/compliance?group=team-payments", READER).await);
    let each = s.ok("/api/compliance/groups", TWO_GROUPS).await;
    let names: BTreeSet<&str> = each.as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["production", "team-payments"]));
    // The knowledge base lists the policies, without figures unless a group is named.
    let kb = s.ok("/api/policies", TWO_GROUPS).await;
    assert!(kb.as_array().unwrap().iter().all(|p| p["compliance"].is_null()));
    let kb = s.ok("/api/policies?group=production", TWO_GROUPS).await;
    assert!(kb.as_array().unwrap().iter().any(|p| !p["compliance"].is_null()));

    // Pages: the overview shows the first group's figures; violations the union.
    let html = page_as(&s, "/", TWO_GROUPS).await;
    assert!(html.contains("<option value=\"\">All my groups</option>"), "{html}");
    assert!(html.contains("<option value=\"production\" selected>"), "{html}");
    let html = page_as(&s, "/violations?status=open", TWO_GROUPS).await;
    let rows = until(&html, "id=\"violations\"", "</table>").matches("<tr data-status").count();
    assert_eq!(rows, open.len().min(50));
}

/// The same union over PostgreSQL, whose SQL tests the groups' criteria.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_caller_of_several_groups_sees_their_union_on_postgres() {
    let (pg, _schema) = pacbot::store::testing::postgres::scratch_store().await;
    let store: Arc<dyn Store> = Arc::new(pg);
    DemoScan::new("postgres").seed(store.as_ref()).await.unwrap();
    let pg = two_group_server(store).await;
    let sqlite = two_group_server(seeded().await).await;
    for uri in ["/api/violations", "/api/assets", "/api/violations?group=production", "/api/assets?group=team-payments"]
    {
        let a: BTreeSet<String> = walk(&pg, uri, TWO_GROUPS).await.iter().map(|v| v.to_string()).collect();
        let b: BTreeSet<String> = walk(&sqlite, uri, TWO_GROUPS).await.iter().map(|v| v.to_string()).collect();
        let ids = |set: &BTreeSet<String>| -> BTreeSet<String> {
            set.iter()
                .map(|t| {
                    let v: Value = serde_json::from_str(t).unwrap();
                    if v["key"].is_object() { v["key"].to_string() } else { v["asset"]["id"].to_string() }
                })
                .collect()
        };
        assert!(!a.is_empty(), "{uri}");
        assert_eq!(ids(&a), ids(&b), "{uri}");
    }
}

// ---------------------------------------------------------------- the response cache

/// A cache whose entries do not expire during a test (only writes invalidate them).
fn lasting_cache() -> ResponseCacheConfig {
    ResponseCacheConfig { max_age: std::time::Duration::from_secs(600), ..ResponseCacheConfig::default() }
}

/// The response cache's (hits, misses), from `/metrics`.
async fn cache_counts(s: &Server) -> (u64, u64) {
    let metrics = s.get("/metrics", ADMIN).await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.text);
    let counter = |name: &str| {
        metrics
            .text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok()))
            .unwrap_or_else(|| panic!("no `{name}` in {}", metrics.text))
    };
    (counter("pacbot_response_cache_hits_total "), counter("pacbot_response_cache_misses_total "))
}

/// GETs `uri` and asserts whether the cache answered it; the body.
async fn cached_get(s: &Server, uri: &str, token: &str, from_cache: bool) -> String {
    let (hits, misses) = cache_counts(s).await;
    let r = s.get(uri, token).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
    let expected = if from_cache { (hits + 1, misses) } else { (hits, misses + 1) };
    assert_eq!(cache_counts(s).await, expected, "{uri}: served from the cache: {from_cache}?");
    r.text
}

#[tokio::test]
async fn repeated_gets_are_served_from_the_cache() {
    let s = Server::with_cache(seeded().await, dashboard::app::DEFAULT_BODY_LIMIT, lasting_cache());
    for uri in [
        "/api/violations?status=open&limit=50",
        "/api/violations?status=open&limit=50&group=production",
        "/api/compliance",
        "/api/compliance/trend",
        "/api/assets?limit=10",
        "/api/policies",
        "/api/search?q=payments",
        "/api/groups",
    ] {
        let first = cached_get(&s, uri, READER, false).await;
        let again = cached_get(&s, uri, READER, true).await;
        assert_eq!(first, again, "{uri}");
        let r = s.get(uri, READER).await;
        assert_eq!(r.content_type, "application/json", "{uri}");
        assert!(r.headers.contains_key(header::X_CONTENT_TYPE_OPTIONS), "security headers on cached answers");
    }
    // Another query string is another entry; errors are not kept.
    cached_get(&s, "/api/violations?status=open&limit=49", READER, false).await;
    for _ in 0..2 {
        s.get("/api/compliance?group=nope", READER).await.error(StatusCode::NOT_FOUND);
    }
    // Routes outside the cache (admin views, metrics) are not counted.
    let before = cache_counts(&s).await;
    s.ok("/api/admin/exceptions", ADMIN).await;
    s.ok("/api/openapi.json", READER).await;
    assert_eq!(cache_counts(&s).await, before);
    // A bad token is refused as before, cache or not.
    s.get("/api/violations?status=open&limit=50", "wrong-token").await.error(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_kind_of_write_invalidates_cached_answers() {
    let s = Server::with_cache(seeded().await, dashboard::app::DEFAULT_BODY_LIMIT, lasting_cache());
    let warm = async |uri: &str| {
        cached_get(&s, uri, READER, false).await;
        cached_get(&s, uri, READER, true).await
    };

    // Groups through the API: stored, then deleted.
    let before = warm("/api/groups").await;
    let group = json!({"name": "eu", "criteria": {"path": "region", "glob": "eu-*"}});
    assert_eq!(s.call(Method::PUT, "/api/admin/groups/eu", Some(ADMIN), Some(group)).await.status, StatusCode::OK);
    let after = cached_get(&s, "/api/groups", READER, false).await;
    assert!(!before.contains("\"eu\"") && after.contains("\"eu\""), "{after}");
    cached_get(&s, "/api/groups", READER, true).await;
    assert_eq!(s.call(Method::DELETE, "/api/admin/groups/eu", Some(ADMIN), None).await.status, StatusCode::NO_CONTENT);
    assert!(!cached_get(&s, "/api/groups", READER, false).await.contains("\"eu\""));

    // An exception: its grant and its revocation invalidate; the next scan exempts.
    let uri = "/api/violations?status=open&severity=critical&limit=1";
    let open: Value = serde_json::from_str(&warm(uri).await).unwrap();
    let v = &open["items"][0];
    let policy = v["key"]["policy_id"].as_str().unwrap().to_owned();
    let new = json!({"id": "exc-1", "target": {"type": "asset", "asset": v["key"]["asset"], "policies": [policy]},
                     "reason": "accepted risk"});
    assert_eq!(s.call(Method::POST, "/api/admin/exceptions", Some(ADMIN), Some(new)).await.status, StatusCode::CREATED);
    cached_get(&s, uri, READER, false).await;
    warm("/api/violations?status=exempted&limit=1000").await;
    assert_eq!(s.call(Method::POST, "/api/admin/scan", Some(ADMIN), None).await.status, StatusCode::OK);
    let exempted = cached_get(&s, "/api/violations?status=exempted&limit=1000", READER, false).await;
    assert!(exempted.contains("\"exc-1\""), "{exempted}");
    warm(uri).await;
    let r = s.call(Method::DELETE, "/api/admin/exceptions/exc-1", Some(ADMIN), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    cached_get(&s, uri, READER, false).await;

    // A policy disabled, then enabled again.
    let kb = format!("/api/policies/{policy}");
    assert!(warm(&kb).await.contains("\"enabled\":true"));
    let path = format!("/api/admin/policies/{policy}/enabled");
    let r = s.call(Method::PUT, &path, Some(ADMIN), Some(json!({"enabled": false}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(cached_get(&s, &kb, READER, false).await.contains("\"enabled\":false"));
    cached_get(&s, &kb, READER, true).await;
    let r = s.call(Method::PUT, &path, Some(ADMIN), Some(json!({"enabled": true}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(cached_get(&s, &kb, READER, false).await.contains("\"enabled\":true"));

    // A scan committed through the store directly, not through this server.
    let trend: Value = serde_json::from_str(&warm("/api/compliance/trend").await).unwrap();
    DemoScan::new(":memory:").rescan(s.store.as_ref()).await.unwrap();
    let after: Value = serde_json::from_str(&cached_get(&s, "/api/compliance/trend", READER, false).await).unwrap();
    assert_eq!(after.as_array().unwrap().len(), trend.as_array().unwrap().len() + 1, "{after}");
    // And a group stored directly.
    warm("/api/groups").await;
    let direct = pacbot::AssetGroup::new("direct", pacbot::Criteria::always());
    s.store.put_group(direct, pacbot::store::Stamp::new("test", pacbot::chrono::Utc::now())).await.unwrap();
    assert!(cached_get(&s, "/api/groups", READER, false).await.contains("\"direct\""));
}

#[tokio::test]
async fn callers_of_different_groups_never_share_cached_answers() {
    let store = seeded().await;
    let cached = Server::with_cache(store.clone(), dashboard::app::DEFAULT_BODY_LIMIT, lasting_cache());
    let plain = Server::with_cache(store, dashboard::app::DEFAULT_BODY_LIMIT, ResponseCacheConfig::disabled());
    for uri in ["/api/violations?limit=1000", "/api/assets?limit=1000", "/api/compliance", "/api/groups"] {
        let reader = plain.get(uri, READER).await.text;
        let payments = plain.get(uri, PAYMENTS).await.text;
        assert_ne!(reader, payments, "{uri}: the scopes see different things");
        // Each order, twice: every caller always gets their own answer.
        for token in [READER, PAYMENTS, PAYMENTS, READER, ADMIN, PAYMENTS] {
            let got = cached.get(uri, token).await;
            assert_eq!(got.status, StatusCode::OK);
            assert_eq!(&got.text, if token == PAYMENTS { &payments } else { &reader }, "{uri} as {token}");
        }
    }
    // A JWT caller with the same groups as a static token is the same scope.
    let jwt = cached.idp.token(&cached.idp.claims("someone", &[], 300));
    assert_eq!(cached.get("/api/compliance", &jwt).await.text, plain.get("/api/compliance", READER).await.text);
}

#[tokio::test]
async fn without_the_cache_answers_are_the_same_and_current() {
    let store = seeded().await;
    let cached = Server::with_cache(store.clone(), dashboard::app::DEFAULT_BODY_LIMIT, lasting_cache());
    let plain = Server::with_cache(store, dashboard::app::DEFAULT_BODY_LIMIT, ResponseCacheConfig::disabled());
    let uris = [
        "/api/violations?status=open&limit=50",
        "/api/violations?status=open&limit=50&group=production",
        "/api/compliance/policies",
        "/api/assets?limit=20&group=azure",
        "/api/policies",
    ];
    for _ in 0..2 {
        for uri in uris {
            assert_eq!(cached.get(uri, READER).await.text, plain.get(uri, READER).await.text, "{uri}");
        }
    }
    let metrics = plain.get("/metrics", ADMIN).await.text;
    assert!(!metrics.contains("pacbot_response_cache"), "{metrics}");
    // Writes show at once on both.
    let group = json!({"name": "eu", "criteria": {"path": "region", "glob": "eu-*"}});
    assert_eq!(plain.call(Method::PUT, "/api/admin/groups/eu", Some(ADMIN), Some(group)).await.status, StatusCode::OK);
    assert!(plain.get("/api/groups", READER).await.text.contains("\"eu\""));
    assert!(cached.get("/api/groups", READER).await.text.contains("\"eu\""));
    for uri in uris {
        assert_eq!(cached.get(uri, READER).await.text, plain.get(uri, READER).await.text, "{uri}");
    }
}

#[tokio::test]
async fn cached_answers_expire() {
    let config =
        ResponseCacheConfig { max_age: std::time::Duration::from_millis(50), ..ResponseCacheConfig::default() };
    let s = Server::with_cache(seeded().await, dashboard::app::DEFAULT_BODY_LIMIT, config);
    cached_get(&s, "/api/compliance", READER, false).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    cached_get(&s, "/api/compliance", READER, false).await;
}
