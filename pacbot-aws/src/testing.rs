//! Test support (feature `testing`): the moto emulator and a fault proxy.
//!
//! - [`moto_url`] reads `PACBOT_TEST_MOTO_URL` (set by `scripts/test.sh`,
//!   which starts `moto_server` on a free loopback port) and checks that the
//!   server answers; it fails loudly otherwise, so tests never skip.
//! - [`FaultProxy`] sits between the SDK and moto on `127.0.0.1` and answers
//!   chosen requests (by service, region, operation) with throttling errors,
//!   server errors, access denied, silence or a canned answer, counting every
//!   request.
//!
//! The proxy also smooths one difference of moto 5.2 from AWS that the Rust
//! SDK rejects (the root element of `GetBucketVersioning`'s answer), so the
//! tests run discovery through a proxy even when they inject nothing.
//!
//! Only loopback addresses are ever targeted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream as AsyncStream};

/// The moto server of the test run, checked to answer.
///
/// # Panics
/// When `PACBOT_TEST_MOTO_URL` is not set, is not a loopback `http://` URL,
/// or the server does not answer (tests must fail, not skip).
#[must_use]
#[allow(clippy::panic)]
pub fn moto_url() -> String {
    let url = std::env::var("PACBOT_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!("PACBOT_TEST_MOTO_URL is not set: run the tests through scripts/test.sh, which starts moto_server")
    });
    let addr =
        loopback_addr(&url).unwrap_or_else(|| panic!("PACBOT_TEST_MOTO_URL=`{url}` is not http://127.0.0.1:PORT"));
    match http(addr, "GET", "/moto-api/data.json") {
        Ok((200, _)) => url,
        Ok((status, _)) => panic!("moto at `{url}` answered HTTP {status} to /moto-api/data.json"),
        Err(e) => panic!("moto at `{url}` does not answer: {e}"),
    }
}

/// Empties every moto backend.
///
/// # Panics
/// When the server does not answer.
#[allow(clippy::panic)]
pub fn reset_moto(url: &str) {
    let addr = loopback_addr(url).unwrap_or_else(|| panic!("`{url}` is not http://127.0.0.1:PORT"));
    match http(addr, "POST", "/moto-api/reset") {
        Ok((200, _)) => {}
        other => panic!("resetting moto at `{url}` failed: {other:?}"),
    }
}

/// The socket address of an `http://127.0.0.1:PORT` URL (loopback only).
#[must_use]
pub fn loopback_addr(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("http://")?.trim_end_matches('/');
    let addr: SocketAddr = rest.parse().ok()?;
    addr.ip().is_loopback().then_some(addr)
}

/// One blocking HTTP/1.1 exchange: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// A fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 `Throttling` (`RequestLimitExceeded` for EC2).
    Throttle,
    /// HTTP 503 `SlowDown` (S3's throttling).
    SlowDown,
    /// HTTP 500 `InternalError`.
    ServerError,
    /// HTTP 403 `AccessDenied` (`UnauthorizedOperation` for EC2).
    AccessDenied,
    /// No answer for this long, then the connection closes.
    Hang(Duration),
    /// This answer instead of moto's: HTTP 200 with this XML body (a stale
    /// credential report, an answer moto cannot give).
    Reply(String),
}

/// Which requests a rule matches; `None` matches any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Match {
    /// The signing name of the service (`ec2`, `s3`, `iam`, `sts`).
    pub service: Option<String>,
    /// The region of the signature.
    pub region: Option<String>,
    /// The operation (`DescribeInstances`; for S3 a query key such as `acl`).
    pub operation: Option<String>,
}

impl Match {
    /// Requests to a service.
    #[must_use]
    pub fn service(service: &str) -> Self {
        Self { service: Some(service.into()), ..Self::default() }
    }

    /// Narrows to a region.
    #[must_use]
    pub fn region(mut self, region: &str) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Narrows to an operation.
    #[must_use]
    pub fn operation(mut self, operation: &str) -> Self {
        self.operation = Some(operation.into());
        self
    }

    fn matches(&self, r: &RequestInfo) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.service, &r.service) && eq(&self.region, &r.region) && eq(&self.operation, &r.operation)
    }
}

#[derive(Clone, Debug)]
struct Rule {
    matches: Match,
    fault: Fault,
    /// How many more times to apply (`None`: always).
    remaining: Option<usize>,
}

/// What the proxy saw of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The signing name of the service.
    pub service: String,
    /// The region of the signature.
    pub region: String,
    /// The operation (query `Action`, JSON target, or S3's first query key / method).
    pub operation: String,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<RequestInfo>,
}

/// A fault-injecting HTTP proxy in front of moto, on `127.0.0.1`.
///
/// Runs on the Tokio runtime it was started in; stops when dropped... or when
/// that runtime ends.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("addr", &self.addr).finish()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (a loopback `http://` URL).
    ///
    /// # Errors
    /// When `upstream` is not loopback, or no port can be bound.
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let up = loopback_addr(upstream).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("`{upstream}` is not http://127.0.0.1:PORT"))
        })?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let _ = serve(sock, up, st).await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The proxy's URL, to use as the endpoint.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Injects `fault` into matching requests, `times` times (`None`: always).
    pub fn inject(&self, matches: Match, fault: Fault, times: Option<usize>) {
        lock(&self.state).rules.push(Rule { matches, fault, remaining: times });
    }

    /// Removes every rule.
    pub fn clear(&self) {
        lock(&self.state).rules.clear();
    }

    /// Every request seen so far.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestInfo> {
        lock(&self.state).log.clone()
    }

    /// Forgets the requests seen so far.
    pub fn reset_log(&self) {
        lock(&self.state).log.clear();
    }

    /// How many requests matched.
    #[must_use]
    pub fn count(&self, m: &Match) -> usize {
        lock(&self.state).log.iter().filter(|r| m.matches(r)).count()
    }
}

/// Reads one request (head and body) from the client.
async fn read_request(sock: &mut AsyncStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf.get(head_end..).map(<[u8]>::to_vec).unwrap_or_default();
    Ok(Some((head, body)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn describe(head: &str, body: &[u8]) -> RequestInfo {
    // Credential=AKID/20260101/us-east-1/ec2/aws4_request
    let scope = header(head, "authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split(['/', ',']).collect::<Vec<_>>())
        .unwrap_or_default();
    let region = scope.get(2).copied().unwrap_or_default().to_owned();
    let mut service = scope.get(3).copied().unwrap_or_default().to_owned();
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    if service == "s3" && target.starts_with("/v20180820/") {
        service = "s3control".into();
    }
    let body = String::from_utf8_lossy(body);
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let action = body
        .split('&')
        .chain(query.split('&'))
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(str::to_owned)
        .or_else(|| header(head, "x-amz-target").map(|t| t.rsplit('.').next().unwrap_or(t).to_owned()));
    let operation = action.unwrap_or_else(|| {
        // S3: the sub-resource (`acl`, `policy`, …) or the method.
        query
            .split('&')
            .map(|kv| kv.split('=').next().unwrap_or_default())
            .find(|k| !k.is_empty() && !k.starts_with("x-id"))
            .map_or_else(|| method.to_owned(), str::to_owned)
    });
    RequestInfo { service, region, operation, fault: None }
}

fn fault_response(fault: &Fault, service: &str) -> Vec<u8> {
    let (status, reason, code) = match fault {
        Fault::Throttle if service == "ec2" => (503, "Service Unavailable", "RequestLimitExceeded"),
        Fault::Throttle => (400, "Bad Request", "Throttling"),
        Fault::SlowDown => (503, "Slow Down", "SlowDown"),
        Fault::ServerError => (500, "Internal Server Error", "InternalError"),
        Fault::AccessDenied if service == "ec2" => (403, "Forbidden", "UnauthorizedOperation"),
        Fault::AccessDenied => (403, "Forbidden", "AccessDenied"),
        Fault::Hang(_) => (500, "Internal Server Error", "InternalError"),
        Fault::Reply(body) => {
            return format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nx-amzn-RequestId: reply\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes();
        }
    };
    let message = format!("injected by the test fault proxy: {code}");
    let body = match service {
        "ec2" => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
        ),
        "s3" => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
        ),
        _ => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        ),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(mut sock: AsyncStream, up: SocketAddr, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut sock).await? else { return Ok(()) };
    let mut info = describe(&head, &body);
    let fault = {
        let mut st = lock(&state);
        let fault = st.rules.iter_mut().find(|r| r.matches.matches(&info) && r.remaining != Some(0)).map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        });
        info.fault = fault.clone();
        st.log.push(info.clone());
        fault
    };
    match fault {
        Some(Fault::Hang(d)) => {
            tokio::time::sleep(d).await;
            return Ok(());
        }
        Some(f) => {
            sock.write_all(&fault_response(&f, &info.service)).await?;
            return sock.shutdown().await;
        }
        None => {}
    }
    // Forward with `Connection: close`, relay the answer, close.
    let mut upstream = AsyncStream::connect(up).await?;
    let mut out = Vec::with_capacity(head.len() + body.len() + 32);
    for (i, line) in head.trim_end_matches("\r\n").split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&body);
    upstream.write_all(&out).await?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).await?;
    sock.write_all(&moto_compat(answer)).await?;
    sock.shutdown().await
}

/// Fixes moto 5.2's answers where they differ from AWS in a way the Rust
/// SDK rejects: `GetBucketVersioning`'s root element is
/// `GetBucketVersioningResponse` instead of AWS's `VersioningConfiguration`.
fn moto_compat(answer: Vec<u8>) -> Vec<u8> {
    const WRONG: &str = "GetBucketVersioningResponse";
    const RIGHT: &str = "VersioningConfiguration";
    let Some(split) = find(&answer, b"\r\n\r\n") else { return answer };
    let (head, body) = answer.split_at(split + 4);
    let Ok(body) = std::str::from_utf8(body) else { return answer };
    if !body.contains(WRONG) {
        return answer;
    }
    let body = body.replace(WRONG, RIGHT);
    let head = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_described_by_their_signature_and_action() {
        let head = "POST / HTTP/1.1\r\nauthorization: AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/ec2/aws4_request, SignedHeaders=host\r\n\r\n";
        let r = describe(head, b"Action=DescribeInstances&Version=2016-11-15");
        assert_eq!(
            (r.service.as_str(), r.region.as_str(), r.operation.as_str()),
            ("ec2", "eu-west-1", "DescribeInstances")
        );
        let head = "GET /bucket?acl HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request\r\n\r\n";
        assert_eq!(describe(head, b"").operation, "acl");
        let head = "GET /v20180820/configuration/publicAccessBlock HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request\r\n\r\n";
        assert_eq!(describe(head, b"").service, "s3control");
        assert!(loopback_addr("http://10.0.0.1:80").is_none());
        let fixed = moto_compat(
            b"HTTP/1.1 200 OK\r\nContent-Length: 63\r\n\r\n<GetBucketVersioningResponse></GetBucketVersioningResponse>"
                .to_vec(),
        );
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 51\r\n\r\n<VersioningConfiguration></VersioningConfiguration>"
        );
        assert_eq!(loopback_addr("http://127.0.0.1:5000/").map(|a| a.port()), Some(5000));
    }
}

/// The AWS SDK crates this crate is built on, for tests that seed an
/// emulator without depending on them directly (the facade's tests).
pub mod sdk {
    pub use aws_config;
    pub use aws_credential_types;
    pub use aws_sdk_ec2;
    pub use aws_sdk_iam;
    pub use aws_sdk_s3;
    pub use aws_sdk_sts;
}

/// An SDK configuration for the emulator at `endpoint` (`us-east-1`, dummy
/// credentials); in `account` through an assumed role named `role` when
/// given (moto answers each account's calls from its own state).
pub async fn emulator_config(endpoint: &str, account: Option<(&str, &str)>) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;

    let base = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("AKIAIOSFODNN7EXAMPLE", "secret", None, None, "emulator"))
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    let Some((account, role)) = account else { return base };
    let provider = aws_config::sts::AssumeRoleProvider::builder(format!("arn:aws:iam::{account}:role/{role}"))
        .session_name("pacbot-test")
        .configure(&base)
        .build()
        .await;
    base.to_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
}

/// An S3 client for `conf` with path-style addressing (what an emulator on
/// `127.0.0.1` needs).
#[must_use]
pub fn s3_client(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(conf).force_path_style(true).build())
}
