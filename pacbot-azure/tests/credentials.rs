//! The credentials other than the client secret (which `tests/discovery.rs`
//! uses against the fake token endpoint): the Azure CLI through a fake `az`
//! program, the managed identity against a fake instance metadata service on
//! 127.0.0.1, and the chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pacbot_azure::{AzureCliCredential, ChainedCredential, Error, ManagedIdentityCredential, TokenCredential};
use serde_json::json;

const SCOPE: &str = "https://management.azure.com/.default";

/// Writes an executable shell script standing in for `az`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn reason(e: Error) -> String {
    match e {
        Error::Credential { reason, .. } => reason,
        other => panic!("not a credential error: {other}"),
    }
}

#[tokio::test]
async fn azure_cli_token_comes_from_the_configured_program() {
    let dir = tempfile::tempdir().unwrap();
    // The fake records its arguments and prints what Azure CLI 2.54+ prints.
    let args = dir.path().join("args");
    let az = script(
        dir.path(),
        "az",
        &format!(
            "echo \"$@\" > '{}'\ncat <<'JSON'\n{{\"accessToken\": \"cli-token\", \"expiresOn\": \"2030-01-01 00:00:00.000000\", \
             \"expires_on\": 1893456000, \"subscription\": \"00000000-0000-0000-0000-000000000001\", \
             \"tenant\": \"11111111-1111-1111-1111-111111111111\", \"tokenType\": \"Bearer\"}}\nJSON",
            args.display()
        ),
    );
    let t = AzureCliCredential::new().with_tenant("t-1").with_program(&az).get_token(SCOPE).await.unwrap();
    assert_eq!(t.token, "cli-token");
    assert_eq!(t.expires_on.timestamp(), 1_893_456_000);
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        format!("account get-access-token --output json --scope {SCOPE} --tenant t-1")
    );
}

#[tokio::test]
async fn azure_cli_failures_name_the_program_and_say_why() {
    let dir = tempfile::tempdir().unwrap();

    // Not signed in: az exits 1 with a message on stderr.
    let az = script(dir.path(), "az-logged-out", "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1");
    let e = reason(AzureCliCredential::new().with_program(&az).get_token(SCOPE).await.unwrap_err());
    assert!(e.contains("az-logged-out account get-access-token` failed"), "{e}");
    assert!(e.contains("exit status: 1") && e.contains("Please run 'az login'"), "{e}");

    // Garbage on stdout.
    let az = script(dir.path(), "az-garbage", "echo 'WARNING: this is not JSON'");
    let e = reason(AzureCliCredential::new().with_program(&az).get_token(SCOPE).await.unwrap_err());
    assert!(e.contains("unexpected output of `") && e.contains("az-garbage account get-access-token`"), "{e}");

    // JSON without a token.
    let az = script(dir.path(), "az-no-token", "echo '{\"tokenType\": \"Bearer\"}'");
    let e = reason(AzureCliCredential::new().with_program(&az).get_token(SCOPE).await.unwrap_err());
    assert!(e.contains("unexpected output") && e.contains("accessToken"), "{e}");

    // No such program.
    let missing = dir.path().join("not-installed");
    let e = reason(AzureCliCredential::new().with_program(&missing).get_token(SCOPE).await.unwrap_err());
    assert!(e.starts_with(&format!("cannot run `{}`", missing.display())), "{e}");
}

/// What the fake metadata service saw: (query, Metadata header).
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Option<String>)>>>;

/// A fake instance metadata service: the token endpoint answers as IMDS
/// does (string numbers), for the system identity and the user-assigned
/// identity `known-client`; other client ids get IMDS's 400, and without
/// the `Metadata: true` header its 400 too. `/broken/...` answers a 500 with
/// an HTML body.
async fn fake_imds() -> (String, Seen) {
    async fn token(State(seen): State<Seen>, Query(q): Query<Vec<(String, String)>>, headers: HeaderMap) -> Response {
        let metadata = headers.get("metadata").and_then(|v| v.to_str().ok()).map(str::to_owned);
        seen.lock().unwrap().push((q.clone(), metadata.clone()));
        let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        if metadata.as_deref() != Some("true") {
            let body =
                json!({"error": "invalid_request", "error_description": "Required metadata header not specified"});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        if get("client_id").is_some_and(|c| c != "known-client") {
            let body = json!({"error": "invalid_request", "error_description": "Identity not found"});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        axum::Json(json!({
            "access_token": format!("mi-token-{}", get("client_id").unwrap_or("system")),
            "client_id": "known-client",
            "expires_in": "86399",
            "expires_on": "1893456000",
            "ext_expires_in": "86399",
            "not_before": "1893369600",
            "resource": get("resource").unwrap_or_default(),
            "token_type": "Bearer"
        }))
        .into_response()
    }
    async fn broken() -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "<html>upstream error</html>").into_response()
    }
    let seen = Seen::default();
    let app = Router::new()
        .route("/metadata/identity/oauth2/token", axum::routing::get(token))
        .route("/broken/metadata/identity/oauth2/token", axum::routing::get(broken))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

#[tokio::test]
async fn managed_identity_token_comes_from_the_metadata_service() {
    let (base, seen) = fake_imds().await;
    let url = format!("{base}/metadata/identity/oauth2/token");

    let t = ManagedIdentityCredential::new().with_imds_endpoint(&url).get_token(SCOPE).await.unwrap();
    assert_eq!(t.token, "mi-token-system");
    assert_eq!(t.expires_on.timestamp(), 1_893_456_000);
    let user = ManagedIdentityCredential::new().with_client_id("known-client").with_imds_endpoint(&url);
    assert_eq!(user.get_token(SCOPE).await.unwrap().token, "mi-token-known-client");

    // IMDS is asked for the resource (the scope without `/.default`), with its header.
    let seen = seen.lock().unwrap().clone();
    let pairs = |q: &[(String, String)]| q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
    assert_eq!(pairs(&seen[0].0), ["api-version=2018-02-01", "resource=https://management.azure.com"]);
    assert_eq!(seen[0].1.as_deref(), Some("true"));
    assert_eq!(
        pairs(&seen[1].0),
        ["api-version=2018-02-01", "resource=https://management.azure.com", "client_id=known-client"]
    );
}

#[tokio::test]
async fn managed_identity_failures_say_why() {
    let (base, _) = fake_imds().await;

    let unknown = ManagedIdentityCredential::new()
        .with_client_id("someone-else")
        .with_imds_endpoint(format!("{base}/metadata/identity/oauth2/token"));
    let e = reason(unknown.get_token(SCOPE).await.unwrap_err());
    assert_eq!(e, "invalid_request: Identity not found");

    let broken =
        ManagedIdentityCredential::new().with_imds_endpoint(format!("{base}/broken/metadata/identity/oauth2/token"));
    let e = reason(broken.get_token(SCOPE).await.unwrap_err());
    assert!(e.starts_with("HTTP 500, the token response is not JSON"), "{e}");

    // Nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("http://{addr}/metadata/identity/oauth2/token");
    let e = reason(ManagedIdentityCredential::new().with_imds_endpoint(&url).get_token(SCOPE).await.unwrap_err());
    assert!(e.contains(&addr.to_string()), "{e}");

    let bad = ManagedIdentityCredential::new().with_imds_endpoint("not a url");
    let e = bad.get_token(SCOPE).await.unwrap_err().to_string();
    assert!(e.contains("`not a url` is not a URL"), "{e}");
}

#[tokio::test]
async fn the_chain_uses_the_first_credential_that_works_and_lists_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (base, seen) = fake_imds().await;
    let imds = ManagedIdentityCredential::new().with_imds_endpoint(format!("{base}/metadata/identity/oauth2/token"));
    let logged_out = AzureCliCredential::new().with_program(script(
        dir.path(),
        "az",
        "echo 'ERROR: Please run az login' >&2\nexit 1",
    ));

    // The CLI fails, the managed identity answers.
    let chain = ChainedCredential::new(vec![Arc::new(logged_out.clone()), Arc::new(imds.clone())]);
    assert_eq!(chain.get_token(SCOPE).await.unwrap().token, "mi-token-system");
    assert_eq!(seen.lock().unwrap().len(), 1);

    // A working first credential: the second is never asked.
    let cli = AzureCliCredential::new().with_program(script(
        dir.path(),
        "az-ok",
        "echo '{\"accessToken\": \"cli\", \"expires_on\": 1893456000}'",
    ));
    let chain = ChainedCredential::new(vec![Arc::new(cli), Arc::new(imds)]);
    assert_eq!(chain.get_token(SCOPE).await.unwrap().token, "cli");
    assert_eq!(seen.lock().unwrap().len(), 1);

    // Every one failing: one error naming each reason, in order.
    let unknown = ManagedIdentityCredential::new()
        .with_client_id("nobody")
        .with_imds_endpoint(format!("{base}/metadata/identity/oauth2/token"));
    let chain = ChainedCredential::new(vec![Arc::new(logged_out), Arc::new(unknown)]);
    let e = chain.get_token(SCOPE).await.unwrap_err().to_string();
    let cli_at = e.find("Please run az login").unwrap_or_else(|| panic!("{e}"));
    let mi_at = e.find("Identity not found").unwrap_or_else(|| panic!("{e}"));
    assert!(e.contains("no credential worked") && cli_at < mi_at, "{e}");
}
