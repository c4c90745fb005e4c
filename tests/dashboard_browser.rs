//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, Debian's `chromium-driver`) against the example's server
//! on a loopback port, seeded with the scanner's demo. Screenshots of each
//! step are saved under `target/tmp/dashboard-screenshots/`.
//!
//! scripts/test.sh installs Chromium and its driver when they are absent;
//! this test fails (never skips) without them. `PACBOT_TEST_CHROMIUM` and
//! `PACBOT_TEST_CHROMEDRIVER` name other binaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../examples/dashboard/main.rs"]
#[allow(dead_code, unreachable_pub)]
mod dashboard;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pacbot::store::{SqliteStore, Store, StoreExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use dashboard::app::{Settings, router};
use dashboard::auth::{Auth, Role};
use dashboard::demo::DemoScan;

const ADMIN: &str = "browser-admin-token";
const READER: &str = "browser-reader-token";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One HTTP/1.1 request on a new connection; the status and body (read by
/// its `Content-Length`: chromedriver keeps connections open).
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = conn.read(&mut chunk).await?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: Option<usize> =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
            let complete = match length {
                Some(len) => buf.len() >= end + 4 + len,
                None => n == 0,
            };
            if complete {
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                let body = String::from_utf8_lossy(&buf[end + 4..]).into_owned();
                return Ok((status, body));
            }
        }
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed mid-response"));
        }
    }
}

/// A chromedriver process and one browser session.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    shots: PathBuf,
}

impl Browser {
    async fn start() -> Self {
        let driver_bin = std::env::var("PACBOT_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("PACBOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{driver_bin}` (install chromium-driver): {e}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        loop {
            if let Ok((200, body)) = http(addr, "GET", "/status", None).await
                && serde_json::from_str::<Value>(&body).is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]
            }
        }}});
        let (status, body) = http(addr, "POST", "/session", Some(&caps)).await.unwrap();
        assert_eq!(status, 200, "cannot start a Chromium session: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let session = v["value"]["sessionId"].as_str().unwrap().to_owned();
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Self { driver, addr, session, shots }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let (status, text) = http(self.addr, method, &path, body.as_ref()).await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await;
    }

    async fn url(&self) -> String {
        self.cmd("GET", "/url", None).await.as_str().unwrap().to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element `{css}`: {v}")).to_owned()
    }

    async fn count(&self, css: &str) -> usize {
        let v = self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        v.as_array().unwrap().len()
    }

    /// Waits (up to 30 s) until `css` matches something: a form's POST
    /// may still be running (granting an exception re-runs the demo scan).
    async fn wait_for(&self, css: &str) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if self.count(css).await > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({}))).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd("POST", &format!("/element/{el}/value"), Some(json!({"text": text}))).await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.cmd("GET", &format!("/element/{el}/text"), None).await.as_str().unwrap().to_owned()
    }

    async fn source(&self) -> String {
        self.cmd("GET", "/source", None).await.as_str().unwrap().to_owned()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.cmd("GET", "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        std::fs::write(self.shots.join(format!("{name}.png")), bytes).unwrap();
    }

    async fn login(&self, base: &str, token: &str) {
        self.goto(&format!("{base}/login")).await;
        self.type_into("#token", token).await;
        self.click("#login").await;
        self.wait_for("#overall").await;
        assert_eq!(self.url().await, format!("{base}/"), "{}", self.source().await);
    }

    async fn quit(self) {
        let path = format!("/session/{}", self.session);
        let _ = http(self.addr, "DELETE", &path, None).await;
    }
}

impl Drop for Browser {
    /// Ends the session (and its browser) and stops chromedriver, also when a step failed.
    fn drop(&mut self) {
        use std::io::Write;
        if let Ok(mut conn) = std::net::TcpStream::connect(self.addr) {
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
                self.session, self.addr
            );
            let _ = conn.write_all(request.as_bytes());
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = std::io::Read::read(&mut conn, &mut [0u8; 1024]);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn percent(p: f64) -> String {
    format!("{p:.1} %")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_walks_through_the_dashboard_in_chromium() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(":memory:").await.unwrap());
    DemoScan::new(":memory:").seed(store.as_ref()).await.unwrap();
    let auth =
        Auth::new().with_token("admin", ADMIN, Role::Admin, None).with_token("reader", READER, Role::Reader, None);
    let mut settings = Settings::new(auth);
    settings.demo = Some(DemoScan::new(":memory:"));
    let app = router(store.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let b = Browser::start().await;
    // Log in with a token; the landing figures are the store's.
    b.goto(&format!("{base}/")).await;
    assert_eq!(b.url().await, format!("{base}/login"), "pages need a login");
    b.login(&base, READER).await;
    let overall = store.latest_compliance(None).await.unwrap().unwrap().report;
    assert_eq!(b.text("#overall").await, percent(overall.overall));
    assert_eq!(b.text("#open").await, overall.open.to_string());
    assert_eq!(b.count("#trend circle").await, 2);
    b.screenshot("1-landing").await;

    // Switch the asset group: the numbers change to the group's.
    b.click("#group option[value=\"production\"]").await;
    b.click("#group-form button").await;
    assert!(b.wait_for("#group option[value=\"production\"][selected]").await);
    let production = store.latest_compliance(Some("production")).await.unwrap().unwrap().report;
    assert!(b.url().await.ends_with("/?group=production"));
    assert_eq!(b.text("#overall").await, percent(production.overall));
    assert_ne!(b.text("#assets").await, overall.assets.to_string());
    b.screenshot("2-group-production").await;

    // Violations of the group, then one asset's 360 page.
    b.click("header a[href^=\"/violations\"]").await;
    assert!(b.wait_for("#filters").await);
    assert!(b.url().await.contains("/violations?group=production"));
    assert!(b.count("#violations tr[data-status]").await > 0);
    b.click("#violations tr[data-status] a").await;
    assert!(b.wait_for("#identity").await);
    assert!(b.url().await.contains("/asset?id="));
    assert!(b.count("#identity").await == 1 && b.count("#asset-violations tr[data-status]").await > 0);
    b.screenshot("3-asset-360").await;

    // Search.
    b.type_into("input[name=q]", "payments\u{E007}").await;
    assert!(b.wait_for("#results").await);
    assert!(b.url().await.contains("/search?q=payments"));
    assert!(b.count("#results li.asset").await > 0);
    b.screenshot("4-search").await;

    // As admin: exempt an open violation from its asset page; it shows exempted.
    b.click("form[action=\"/logout\"] button").await;
    assert!(b.wait_for("#token").await);
    b.login(&base, ADMIN).await;
    let open = store
        .violations(&pacbot::store::ViolationQuery {
            filter: pacbot::store::ViolationFilter {
                statuses: vec![pacbot::ViolationStatus::Open],
                severities: vec![pacbot::Severity::Critical],
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    let v = &open.items[0];
    let id = v.key.asset.to_string();
    b.goto(&format!("{base}/asset?id={}", dashboard::ui::enc(&id))).await;
    b.click(&format!("#exception-form select option[value=\"{}\"]", v.key.policy_id)).await;
    b.type_into("#exception-form input[name=reason]", "accepted in the browser test").await;
    b.click("#exception-form button").await;
    let row = format!("tr[data-policy=\"{}\"][data-status=\"exempted\"]", v.key.policy_id);
    assert!(b.wait_for(&row).await, "{}", b.source().await);
    assert_eq!(b.count(&row).await, 1);
    b.screenshot("5-exempted").await;
    b.goto(&format!("{base}/admin")).await;
    assert!(b.text("#exceptions").await.contains("accepted in the browser test"));
    b.screenshot("6-admin").await;
    b.quit().await;
}
