//! Kill -9 in the middle of a commit: a child process (this test binary,
//! run again for the one test `child_commits_a_large_scan`) commits a large
//! scan to an SQLite file and is killed with SIGKILL while the commit is
//! being written; the reopened database holds exactly the previously
//! committed scan, and takes the next commit.
//!
//! The parent checks that the kill landed mid-commit: the child said it
//! started the commit, had not said it finished, was still running, had
//! already written part of the transaction to the WAL, and died of the signal.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pacbot_core::Asset;
use pacbot_store::testing::fixtures::{at, bucket, complete, engine, run_scan, scope};
use pacbot_store::{
    AssetFilter, AssetRecord, HistoryEntry, PageRequest, ScanRecord, ScanStatus, SqliteStore, Store, StoreExt,
    ViolationFilter,
};

/// Where the child writes; set only in the child.
const CHILD_DB: &str = "PACBOT_CRASH_CHILD_DB";
/// The child's line just before `commit_scan`, and just after it.
const COMMITTING: &str = "pacbot-crash: committing";
const COMMITTED: &str = "pacbot-crash: committed";
/// Assets in the child's scan: enough that its commit takes seconds.
const CHILD_ASSETS: usize = 200_000;
/// How much of the commit must be in the WAL before the kill.
const WAL_GROWTH: u64 = 4 << 20;

fn buckets(n: usize, from: usize, versioning: &str) -> Vec<Asset> {
    (from..from + n)
        .map(|i| {
            // About 30 % fail a policy.
            let v = if i % 10 < 3 { "Suspended" } else { versioning };
            bucket("111", "eu-west-1", &format!("bucket-{i:07}"), v, i % 20 == 0)
                .with_tag("Owner", format!("team-{}", i % 7))
        })
        .collect()
}

/// Everything the test compares before and after the crash.
#[derive(Debug, PartialEq)]
struct State {
    assets: Vec<AssetRecord>,
    violations: Vec<pacbot_core::Violation>,
    history: Vec<Vec<HistoryEntry>>,
    scans: Vec<ScanRecord>,
}

async fn state(store: &SqliteStore) -> State {
    let assets = store.all_assets(AssetFilter { include_removed: true, ..AssetFilter::default() }).await.unwrap();
    let violations = store.all_violations(ViolationFilter::default()).await.unwrap();
    let mut history = Vec::new();
    for v in &violations {
        history.push(store.violation_history(&v.key).await.unwrap());
    }
    let scans = store.scans(&PageRequest::default()).await.unwrap().items;
    State { assets, violations, history, scans }
}

fn wal_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map(|m| m.len()).unwrap_or(0)
}

/// The child: commits a large scan to the database named by the
/// environment. Run alone by the parent; does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_commits_a_large_scan() {
    let Some(path) = std::env::var_os(CHILD_DB) else { return };
    let store = SqliteStore::open(PathBuf::from(path)).await.unwrap();
    let s = scope("111", "eu-west-1", pacbot_store::testing::fixtures::BUCKET);
    let (commit, _) = pacbot_store::testing::fixtures::plan_scan(
        &store,
        &engine(),
        "large",
        at(2),
        buckets(CHILD_ASSETS, 0, "Enabled"),
        complete(&[s]),
    )
    .await;
    println!("{COMMITTING}");
    store.commit_scan(commit).await.unwrap();
    println!("{COMMITTED}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_commit_leaves_the_previous_scan() {
    if std::env::var_os(CHILD_DB).is_some() {
        return; // in the child, only the child's test runs
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let s = scope("111", "eu-west-1", pacbot_store::testing::fixtures::BUCKET);
    let e = engine();

    // Two committed scans, so there is history and a removed asset.
    let store = SqliteStore::open(&path).await.unwrap();
    run_scan(&store, &e, "first", at(0), buckets(300, 0, "Suspended"), complete(std::slice::from_ref(&s))).await;
    let second =
        run_scan(&store, &e, "second", at(1), buckets(280, 10, "Enabled"), complete(std::slice::from_ref(&s))).await;
    assert_eq!(second.record.status, ScanStatus::Complete);
    let before = state(&store).await;
    assert!(before.violations.len() > 100 && before.assets.len() == 300, "the scenario has substance");
    drop(store);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_commits_a_large_scan", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the child ends before it commits").unwrap();
        if line.contains(COMMITTING) {
            break;
        }
    }
    // The commit is under way: wait until part of it is in the WAL.
    let start_size = wal_size(&path);
    let deadline = Instant::now() + Duration::from_secs(120);
    while wal_size(&path) < start_size + WAL_GROWTH {
        assert!(child.try_wait().unwrap().is_none(), "the child ended before the kill: the kill did not land");
        assert!(Instant::now() < deadline, "the commit wrote nothing to the WAL in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(child.try_wait().unwrap().is_none(), "the child ended before the kill: the kill did not land");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the child died of SIGKILL, not on its own ({status})");
    let rest: Vec<String> = lines.map_while(std::io::Result::ok).collect();
    assert!(!rest.iter().any(|l| l.contains(COMMITTED)), "the commit had finished before the kill: {rest:?}");
    assert!(wal_size(&path) > start_size, "the WAL holds the interrupted commit's frames");

    // Reopened: exactly the previous state, plus the child's scan, still running.
    let store = SqliteStore::open(&path).await.unwrap();
    let mut after = state(&store).await;
    assert_eq!(after.scans.len(), before.scans.len() + 1, "the child's scan is listed");
    let orphan = after.scans.remove(0);
    assert_eq!(orphan.status, ScanStatus::Running, "the killed commit did not complete the scan");
    assert!(orphan.id > second.record.id);
    assert_eq!(after, before, "the database holds exactly the previously committed scans");

    // The store carries on: the orphan can be aborted and a new scan committed.
    store.abort_scan(orphan.id, "scanner killed").await.unwrap();
    let third = run_scan(&store, &e, "third", at(3), buckets(50, 0, "Enabled"), complete(&[s])).await;
    assert_eq!(third.record.status, ScanStatus::Complete);
    assert_eq!(third.record.counts.assets_removed, 240);
    assert_eq!(store.all_assets(AssetFilter::default()).await.unwrap().len(), 50);
}
