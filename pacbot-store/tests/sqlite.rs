//! The conformance suite on SQLite databases in temporary files, plus what
//! only SQLite has: reopening, migrations, schema versions, `:memory:`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pacbot_store::{ScanStart, SqliteStore, Store, StoreError, StoreExt};

/// A store in a fresh temporary directory, deleted when the test ends.
async fn temp_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("pacbot.db")).await.unwrap();
    (store, dir)
}

pacbot_store::conformance_tests!(temp_store());

mod in_memory {
    pacbot_store::conformance_tests!(async { pacbot_store::SqliteStore::open_in_memory().await.unwrap() });
}

fn t(hours: i64) -> pacbot_store::model::ScanStart {
    ScanStart::new("s", pacbot_store::testing::fixtures::at(hours))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pacbot.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let scan = store.begin_scan(t(0)).await.unwrap();
    store.commit_scan(pacbot_store::ScanCommit::new(scan.id, pacbot_store::testing::fixtures::at(0))).await.unwrap();
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.scan(scan.id).await.unwrap().status, pacbot_store::ScanStatus::Complete);
    assert_eq!(store.begin_scan(t(1)).await.unwrap().id.get(), scan.id.get() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE from_the_future (x); PRAGMA user_version = 99;").unwrap();
    }
    let err = SqliteStore::open(&path).await.unwrap_err();
    match &err {
        StoreError::SchemaTooNew { found, supported, location } => {
            assert_eq!((*found, *supported), (99, SqliteStore::schema_version()));
            assert!(location.ends_with("future.db"));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("schema version 99") && msg.contains("newer"), "{msg}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 99, "the database is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_migrates_to_the_current_version_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.location(), path.display().to_string());
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    // Opening again applies nothing and keeps the version.
    SqliteStore::open(&path).await.unwrap();
}

fn page_size(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_gets_16_kib_pages_and_an_existing_one_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.db");
    drop(SqliteStore::open(&new).await.unwrap());
    assert_eq!(page_size(&new), 16 * 1024);

    // A database some earlier version created with SQLite's default pages.
    let old = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);").unwrap();
    }
    let store = SqliteStore::open(&old).await.unwrap();
    let scan = store.begin_scan(t(0)).await.unwrap();
    let at = pacbot_store::testing::fixtures::at(0);
    store.commit_scan(pacbot_store::ScanCommit::new(scan.id, at)).await.unwrap();
    drop(store);
    assert_eq!(page_size(&old), 4096, "an existing database's pages are left as they are");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_cannot_be_opened_is_an_error_naming_it() {
    let err = SqliteStore::open("/nonexistent-dir/for/pacbot.db").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent-dir/for/pacbot.db") && msg.starts_with("sqlite failed while opening"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_usable_as_a_trait_object() {
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::open_in_memory().await.unwrap());
    assert!(store.exceptions().await.unwrap().is_empty());
    assert!(store.latest_compliance(None).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_migrates_and_answers_as_before() {
    use pacbot_store::testing::migration::{after_migration_from_v1, create_sqlite_at, v1_sqlite_fixture};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        create_sqlite_at(&conn, 1);
        conn.execute_batch(&v1_sqlite_fixture()).unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    after_migration_from_v1(&store).await;
}

/// Two stores on one file commit the same scope in turn: what one remembers
/// of its last commit must not hide the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_between_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pacbot.db");
    let first = SqliteStore::open(&path).await.unwrap();
    let second = SqliteStore::open(&path).await.unwrap();
    pacbot_store::testing::another_writer_between_commits(&first, &second).await;
}

/// Two stores on one file: each sees the revision the other's writes advanced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_seen_by_another_instance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pacbot.db");
    let first = SqliteStore::open(&path).await.unwrap();
    let second = SqliteStore::open(&path).await.unwrap();
    pacbot_store::testing::revision_seen_by_another_instance(&first, &second).await;
}

/// Rows of an earlier version (its fingerprints) are recognized and restamped, not rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_fingerprints_are_restamped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pacbot.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let raw = || rusqlite::Connection::open(&path).unwrap();
    pacbot_store::testing::earlier_fingerprints_are_restamped(
        &store,
        async || SqliteStore::open(&path).await.unwrap(),
        async |rid: &str, hash: i64| {
            let n = raw().execute("UPDATE assets SET hash = ?2 WHERE resource_id = ?1", (rid, hash)).unwrap();
            assert_eq!(n, 1);
        },
        async |rid: &str| {
            raw().query_row("SELECT hash FROM assets WHERE resource_id = ?1", [rid], |r| r.get(0)).unwrap()
        },
    )
    .await;
}
