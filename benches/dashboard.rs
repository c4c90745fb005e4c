// Run with `cargo bench --bench dashboard` (a quick smoke run: `cargo test --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! The dashboard's throughput and latency over HTTP: the example's router
//! served on a loopback port, over a SQLite store holding one committed scan
//! of the store benchmark's estate (its 5-policy part of the engine pack, so
//! about a third of the assets violate something), with the pack's asset
//! group. Clients keep their connections open (HTTP/1.1 keep-alive) and send
//! one request after another for a fixed time; each route is measured alone:
//!
//! - the compliance summary, `GET /api/compliance`;
//! - the first page of open violations, `GET /api/violations?status=open&limit=50`;
//! - the same page of one asset group, `…&group=production`.
//!
//! Each route twice: with the response cache (its default set-up, as a
//! server runs: repeated identical requests, as a busy dashboard sees,
//! answered from the cache but for one recomputation every 2 s, the
//! entries' maximum age), and without it (every request computed).
//!
//! Figures: requests per second, and the 50th and 99th percentile latency.
//! Server and clients share the machine (2 worker threads for the server,
//! the clients on the same runtime), so the figures are a lower bound of
//! what the server alone does. `PACBOT_BENCH_ASSETS` sets the estate size
//! (default 1 000 000 in bench mode, 2 000 in test mode), `PACBOT_BENCH_SECS`
//! the time per route (default 10; 1 in test mode), `PACBOT_BENCH_CLIENTS`
//! the connections (default 16).

#[path = "../examples/dashboard/main.rs"]
#[allow(dead_code, unreachable_pub, unused_imports)]
mod dashboard;
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pacbot_core::{Compliance, ComplianceConfig, Coverage, Engine, ExceptionSet, Inventory, ReconcileInput, reconcile};
use pacbot_store::{ScanCommit, ScanStart, Stamp, Store};
use support::estate::{build_inventory, now};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const POLICIES: [&str; 5] =
    ["mandatory-tags", "aws-ebs-unattached", "aws-ec2-imdsv2", "aws-s3-versioning", "aws-sg-ssh-open-world"];
const TOKEN: &str = "bench-reader-token";
const TARGET_P99: Duration = Duration::from_millis(50);
const TARGET_RPS: f64 = 5_000.0;

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Commits one scan of `n` assets, with the overall and per-group reports.
async fn seed(store: &dyn Store, n: usize) -> usize {
    let pack = pacbot_core::parse_policies("pack.yaml", support::estate::PACK).unwrap();
    let policies = pack.into_iter().filter(|p| POLICIES.contains(&p.id())).collect::<Vec<_>>();
    let groups = support::estate::groups();
    let engine = Engine::new(policies, groups.clone()).unwrap();
    let inventory: Inventory = build_inventory(n);
    let at = now();
    store.put_policies(engine.policies().iter().map(|p| p.meta().clone()).collect(), at).await.unwrap();
    for g in &groups {
        store.put_group(g.clone(), Stamp::new("bench", at)).await.unwrap();
    }
    let evaluation = engine.evaluate(&inventory, at);
    let scopes: HashSet<_> = inventory.assets().iter().map(|a| a.id.scope()).collect();
    let mut coverage = Coverage::new();
    for s in scopes {
        coverage.complete(s);
    }
    let result = reconcile(&ReconcileInput {
        previous: &[],
        inventory: &inventory,
        evaluation: &evaluation,
        coverage: &coverage,
        exceptions: &ExceptionSet::default(),
        now: at,
    });
    let violations = result.violations.len();
    let config = ComplianceConfig::default();
    let compliance = Compliance::new(&inventory, &evaluation, &result.violations, &config);
    let mut snapshots = vec![compliance.overall()];
    for g in &groups {
        snapshots.push(compliance.for_group(&g.name, &engine.group_members(g, &inventory, at)));
    }
    let scan = store.begin_scan(ScanStart::new("bench", at)).await.unwrap();
    let mut commit = ScanCommit::from_scan(scan.id, at, &inventory, coverage, &evaluation, result);
    commit.snapshots = snapshots;
    store.commit_scan(commit).await.unwrap();
    violations
}

/// Sends one GET on a kept-alive connection and reads the response; its status.
async fn get(conn: &mut TcpStream, buf: &mut Vec<u8>, request: &[u8]) -> u16 {
    conn.write_all(request).await.unwrap();
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, length) = loop {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap().to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .expect("responses carry a content-length");
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

struct Figures {
    requests: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(addr: std::net::SocketAddr, path: &str, clients: usize, secs: f64) -> Figures {
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").into_bytes();
    let request = Arc::new(request);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            conn.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let status = get(&mut conn, &mut buf, &request).await;
                latencies.push(t.elapsed());
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&buf));
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures { requests: all.len(), per_sec: all.len() as f64 / elapsed, p50: at(0.50), p99: at(0.99) }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let n = env("PACBOT_BENCH_ASSETS").unwrap_or(if bench_mode { 1_000_000 } else { 2_000 });
    let secs: f64 = env("PACBOT_BENCH_SECS").unwrap_or(if bench_mode { 10.0 } else { 1.0 });
    let clients: usize = env("PACBOT_BENCH_CLIENTS").unwrap_or(16);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = pacbot_store::SqliteStore::open(dir.path().join("dashboard.db")).await.unwrap();
        let t = Instant::now();
        let violations = seed(&store, n).await;
        store.checkpoint().await.unwrap();
        println!("seeded {n} assets, {violations} violations in {:.1} s", t.elapsed().as_secs_f64());
        let store: Arc<dyn Store> = Arc::new(store);
        let cached = serve(store.clone(), dashboard::cache::Config::default()).await;
        let uncached = serve(store, dashboard::cache::Config::disabled()).await;
        println!("{clients} clients, {secs} s per route, server on 2 worker threads (clients on the same runtime)");
        println!("| route ({n} assets) | response cache | requests | req/s | p50 | p99 |");
        println!("|---|---|---|---|---|---|");
        for (name, path) in [
            ("compliance summary", "/api/compliance"),
            ("open violations, first page of 50", "/api/violations?status=open&limit=50"),
            ("open violations of a group, first page", "/api/violations?status=open&limit=50&group=production"),
        ] {
            for (cache, addr) in [("on", cached), ("off", uncached)] {
                let f = measure(addr, path, clients, secs).await;
                println!(
                    "| {name} | {cache} | {} | {:.0} | {:.2} ms | {:.2} ms{} |",
                    f.requests,
                    f.per_sec,
                    f.p50.as_secs_f64() * 1e3,
                    f.p99.as_secs_f64() * 1e3,
                    if f.p99 <= TARGET_P99 && f.per_sec >= TARGET_RPS {
                        ""
                    } else {
                        " (target: p99 ≤ 50 ms, ≥ 5000 req/s)"
                    },
                );
            }
        }
    });
}

/// The dashboard over `store` on a loopback port, with this response cache; its address.
async fn serve(store: Arc<dyn Store>, cache: dashboard::cache::Config) -> std::net::SocketAddr {
    let auth = dashboard::auth::Auth::new().with_token("bench", TOKEN, dashboard::auth::Role::Reader, None);
    let mut settings = dashboard::app::Settings::new(auth);
    settings.response_cache = cache;
    let app = dashboard::app::router(store, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
