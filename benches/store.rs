// Run with `cargo bench --bench store --all-features` (a quick smoke run: `cargo test --benches --all-features`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! The store's write and read paths over synthetic estates of 10k, 100k and
//! 1M assets (the engine benchmark's generator and 30-policy pack): the
//! first scan's commit, then a rescan where 1 % of the assets changed, into
//! SQLite (a file in a temporary directory) and, with the `postgres`
//! feature, PostgreSQL (a scratch schema, dropped after); then, over the
//! largest estate, the queries a dashboard opens with: the compliance
//! summary, the first page of open violations, and a page filtered by an
//! asset group.
//!
//! Each figure is one run (a commit of 1M assets takes seconds), printed with
//! the load average at the time: the machine should be quiet. In test mode
//! (`cargo test --benches`) the estate is tiny and the figures are only
//! printed.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use pacbot_core::{
    Compliance, ComplianceConfig, Coverage, Engine, ExceptionSet, Inventory, ReconcileInput, Violation, reconcile,
};
use pacbot_store::{PageRequest, ScanCommit, ScanStart, Store, StoreExt, ViolationFilter, ViolationQuery};
use support::estate::{build_inventory, now};

/// Targets the figures are reported against.
const TARGET_FIRST_COMMIT_1M: Duration = Duration::from_secs(20);
const TARGET_RESCAN_SHARE: f64 = 0.05;
const TARGET_POSTGRES_RATIO: f64 = 2.0;
const TARGET_QUERY: Duration = Duration::from_millis(50);

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

/// The CPU time this process has used (user + system), from /proc: on a
/// busy machine a truer measure of the work than the wall time. (SQLite
/// works in the process; for PostgreSQL it is the client's share only.)
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn complete_coverage(inventory: &Inventory) -> Coverage {
    let scopes: HashSet<_> = inventory.assets().iter().map(|a| a.id.scope()).collect();
    let mut coverage = Coverage::new();
    for s in scopes {
        coverage.complete(s);
    }
    coverage
}

/// The policies the store benchmark evaluates: a part of the engine
/// benchmark's pack, chosen so that about 30 % of the generated assets
/// violate something (the whole pack fails most of them).
const POLICIES: [&str; 5] =
    ["mandatory-tags", "aws-ebs-unattached", "aws-ec2-imdsv2", "aws-s3-versioning", "aws-sg-ssh-open-world"];

fn engine() -> Engine {
    let pack = pacbot_core::parse_policies("pack.yaml", support::estate::PACK).unwrap();
    let policies = pack.into_iter().filter(|p| POLICIES.contains(&p.id())).collect::<Vec<_>>();
    assert_eq!(policies.len(), POLICIES.len());
    Engine::new(policies, support::estate::groups()).unwrap()
}

/// The estate one day later: every 100th asset re-tagged, its cost centre
/// made valid or invalid in turn (so some violations open and some close).
fn one_percent_changed(inventory: &Inventory) -> (Inventory, usize) {
    let mut changed = 0;
    let assets = inventory.assets().iter().enumerate().map(|(i, a)| {
        if i % 100 != 0 {
            return a.clone();
        }
        changed += 1;
        let cc = if a.tag("CostCenter").is_some_and(|v| v.starts_with("cc-")) { "CC-none" } else { "cc-4242" };
        a.clone().with_tag("CostCenter", cc)
    });
    let inventory = Inventory::from_assets(assets.collect::<Vec<_>>());
    (inventory, changed)
}

/// What a scanner would commit: evaluation and reconcile done, outside the timing.
fn plan(
    engine: &Engine,
    scan: pacbot_store::ScanId,
    inventory: &Inventory,
    previous: &[Violation],
    at: DateTime<Utc>,
) -> ScanCommit {
    let evaluation = engine.evaluate(inventory, at);
    let coverage = complete_coverage(inventory);
    let reconciliation = reconcile(&ReconcileInput {
        previous,
        inventory,
        evaluation: &evaluation,
        coverage: &coverage,
        exceptions: &ExceptionSet::default(),
        now: at,
    });
    let report =
        Compliance::new(inventory, &evaluation, &reconciliation.violations, &ComplianceConfig::default()).overall();
    ScanCommit::from_scan(scan, at, inventory, coverage, &evaluation, reconciliation).with_snapshot(report)
}

/// One backend's figures for one estate size.
struct Figures {
    backend: &'static str,
    assets: usize,
    violations: usize,
    violating_assets: usize,
    first: Duration,
    first_cpu: Duration,
    settle: Duration,
    first_load: String,
    changed: usize,
    changed_written: u64,
    violations_written: u64,
    previous_read: Duration,
    rescan: Duration,
    rescan_cpu: Duration,
    rescan_load: String,
}

/// The first scan and the 1 % rescan of an estate into a store. `settle`
/// finishes what the store does in the background after a commit (SQLite's
/// WAL checkpoint), timed apart, so that it does not weigh on the rescan.
async fn scans<S: Store>(
    backend: &'static str,
    store: &S,
    settle: impl AsyncFn(&S),
    engine: &Engine,
    inventory: &Inventory,
) -> Figures {
    let t0 = now();
    let scan = store.begin_scan(ScanStart::new("first", t0)).await.unwrap();
    let commit = plan(engine, scan.id, inventory, &[], t0);
    let violations = commit.violations.len();
    let violating_assets = commit.violations.iter().map(|v| &v.key.asset).collect::<HashSet<_>>().len();
    let first_load = load();
    let (start, cpu0) = (Instant::now(), cpu());
    let first = store.commit_scan(commit).await.unwrap();
    let (first_time, first_cpu) = (start.elapsed(), cpu() - cpu0);
    assert_eq!(first.counts.assets_new as usize, inventory.len());
    let start = Instant::now();
    settle(store).await;
    let settle_time = start.elapsed();

    let (next, changed) = one_percent_changed(inventory);
    let t1 = t0 + TimeDelta::days(1);
    let scan = store.begin_scan(ScanStart::new("rescan", t1)).await.unwrap();
    let start = Instant::now();
    let previous = store.previous_violations(&complete_coverage(&next)).await.unwrap();
    let previous_read = start.elapsed();
    let commit = plan(engine, scan.id, &next, &previous, t1);
    drop(previous);
    let rescan_load = load();
    let (start, cpu0) = (Instant::now(), cpu());
    let rescan = store.commit_scan(commit).await.unwrap();
    let (rescan_time, rescan_cpu) = (start.elapsed(), cpu() - cpu0);
    assert_eq!(rescan.counts.assets_changed as usize, changed, "the rescan rewrote the changed assets only");
    Figures {
        backend,
        assets: inventory.len(),
        violations,
        violating_assets,
        first: first_time,
        first_cpu,
        settle: settle_time,
        first_load,
        changed,
        changed_written: rescan.counts.assets_changed,
        violations_written: rescan.counts.violations_changed,
        previous_read,
        rescan: rescan_time,
        rescan_cpu,
        rescan_load,
    }
}

/// The dashboard's first queries, timed (best of three, after one warm-up).
async fn queries(store: &dyn Store, at: DateTime<Utc>) -> Vec<(&'static str, Duration, usize)> {
    let group = store.group_filter("production", at).await.ok();
    let open = ViolationFilter { statuses: vec![pacbot_core::ViolationStatus::Open], ..ViolationFilter::default() };
    let page = |filter: ViolationFilter| ViolationQuery { filter, page: PageRequest::first(50), ..Default::default() };
    let mut out = Vec::new();
    for name in ["compliance summary", "first page of open violations", "page filtered by a group"] {
        let mut best = Duration::MAX;
        let mut items = 0;
        for _ in 0..4 {
            let start = Instant::now();
            items = match name {
                "compliance summary" => usize::from(store.latest_compliance(None).await.unwrap().is_some()),
                "first page of open violations" => store.violations(&page(open.clone())).await.unwrap().items.len(),
                _ => {
                    let filter = ViolationFilter { criteria: group.clone(), ..open.clone() };
                    store.violations(&page(filter)).await.unwrap().items.len()
                }
            };
            best = best.min(start.elapsed());
        }
        out.push((name, best, items));
    }
    out
}

fn print_scans(all: &[Figures]) {
    println!("\nstore: commits (one run each; load average 1/5/15 min at the start of each)");
    for f in all {
        let sqlite_first = all.iter().find(|s| s.backend == "sqlite" && s.assets == f.assets).map(|s| s.first);
        let vs = match (f.backend, sqlite_first) {
            ("sqlite", _) | (_, None) => String::new(),
            (_, Some(s)) => format!(" = {:.2}× SQLite", f.first.as_secs_f64() / s.as_secs_f64()),
        };
        let settle = if f.settle > Duration::from_millis(1) {
            format!(", then a WAL checkpoint off the commit's path {}", secs(f.settle))
        } else {
            String::new()
        };
        println!(
            "  {:<8} {:>4} assets ({} violations on {:.0} % of assets): first commit {}{vs} ({:.0}k assets/s; \
             cpu {}){settle} [load {}]",
            f.backend,
            label(f.assets),
            f.violations,
            100.0 * f.violating_assets as f64 / f.assets as f64,
            secs(f.first),
            f.assets as f64 / f.first.as_secs_f64() / 1e3,
            secs(f.first_cpu),
            f.first_load,
        );
        println!(
            "  {:<8} {:>4} rescan, {} assets changed ({} rewritten, {} violations written): commit {} = {:.1} % of \
             the first (target ≤ {:.0} %; cpu {} = {:.1} %); previous violations read {} [load {}]",
            "",
            "",
            f.changed,
            f.changed_written,
            f.violations_written,
            secs(f.rescan),
            100.0 * f.rescan.as_secs_f64() / f.first.as_secs_f64(),
            TARGET_RESCAN_SHARE * 100.0,
            secs(f.rescan_cpu),
            100.0 * f.rescan_cpu.as_secs_f64() / f.first_cpu.as_secs_f64().max(1e-3),
            secs(f.previous_read),
            f.rescan_load,
        );
    }
    if let Some(f) = all.iter().find(|f| f.backend == "sqlite" && f.assets == 1_000_000) {
        println!("  SQLite 1M first commit target ≤ {}: {}", secs(TARGET_FIRST_COMMIT_1M), secs(f.first));
    }
    println!("  PostgreSQL target: within {TARGET_POSTGRES_RATIO}× SQLite");
}

fn print_queries(backend: &str, n: usize, timed: &[(&str, Duration, usize)]) {
    println!("\nstore: queries over {} assets, {backend} (best of 3 after a warm-up) [load {}]", label(n), load());
    for (name, d, items) in timed {
        let ok = if *d <= TARGET_QUERY { "ok" } else { "over target" };
        println!("  {name:<32} {:>9}  ({items} items; target ≤ {}: {ok})", secs(*d), secs(TARGET_QUERY));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let sizes: &[usize] = if bench_mode { &[10_000, 100_000, 1_000_000] } else { &[2_000] };
    // PACBOT_BENCH_ASSETS=100000 runs one size; PACBOT_BENCH_BACKENDS=sqlite,postgres chooses backends.
    let only: Option<usize> = std::env::var("PACBOT_BENCH_ASSETS").ok().and_then(|v| v.parse().ok());
    let backends = std::env::var("PACBOT_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let engine = engine();
    let mut all = Vec::new();
    for &n in sizes.iter().filter(|&&n| only.is_none_or(|o| o == n)) {
        let inventory = build_inventory(n);
        let largest = n == *sizes.last().unwrap_or(&n) || only.is_some();
        runtime.block_on(async {
            if backends.contains("sqlite") {
                let dir = tempfile::tempdir().unwrap();
                let store = pacbot_store::SqliteStore::open(dir.path().join("bench.db")).await.unwrap();
                let checkpoint = async |s: &pacbot_store::SqliteStore| s.checkpoint().await.unwrap();
                all.push(scans("sqlite", &store, checkpoint, &engine, &inventory).await);
                if largest {
                    put_groups(&store).await;
                    print_queries("SQLite", n, &queries(&store, now()).await);
                }
            }
            #[cfg(feature = "postgres")]
            if backends.contains("postgres") {
                let (store, schema) = pacbot_store::testing::postgres::scratch_store().await;
                all.push(
                    scans("postgres", &store, async |_: &pacbot_store::PostgresStore| {}, &engine, &inventory).await,
                );
                if largest {
                    put_groups(&store).await;
                    print_queries("PostgreSQL", n, &queries(&store, now()).await);
                    if std::env::var_os("PACBOT_BENCH_EXPLAIN").is_some() {
                        explain_group_page(schema.url()).await;
                    }
                }
                drop(store);
                drop(schema);
            }
        });
    }
    print_scans(&all);
}

/// The pack's asset groups, stored for the group-filtered query.
async fn put_groups(store: &dyn Store) {
    for g in support::estate::groups() {
        store.put_group(g, pacbot_store::Stamp::new("bench", now())).await.unwrap();
    }
}

/// With `PACBOT_BENCH_EXPLAIN` set: the group-filtered page once more, on a
/// connection whose statements' plans (`EXPLAIN (ANALYZE, BUFFERS)`) the
/// server's `auto_explain` writes to its log.
#[cfg(feature = "postgres")]
async fn explain_group_page(url: &str) {
    let options = ["session_preload_libraries=auto_explain", "auto_explain.log_min_duration=0"]
        .into_iter()
        .chain(["auto_explain.log_analyze=on", "auto_explain.log_buffers=on"])
        .map(|o| format!("%20-c{}", o.replace('=', "%3D")))
        .collect::<String>();
    let store = pacbot_store::PostgresStore::open(&format!("{url}{options}")).await.unwrap();
    let group = store.group_filter("production", now()).await.ok();
    let filter = ViolationFilter {
        statuses: vec![pacbot_core::ViolationStatus::Open],
        criteria: group,
        ..ViolationFilter::default()
    };
    let query = ViolationQuery { filter, page: PageRequest::first(50), ..Default::default() };
    let items = store.violations(&query).await.unwrap().items.len();
    println!("  (PACBOT_BENCH_EXPLAIN: the group-filtered page, {items} items, explained in the server's log)");
}
