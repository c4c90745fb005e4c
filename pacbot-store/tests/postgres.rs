//! The conformance suite on a real PostgreSQL server, each test in a schema
//! of its own, plus what only PostgreSQL has: migrations tracked in a table,
//! a newer schema refused, reopening, connection errors, many shard writers
//! at once.
//!
//! The server is `PACBOT_TEST_POSTGRES_URL`, or
//! `postgres://postgres@127.0.0.1:5432/postgres` (`scripts/test.sh` starts
//! one). When none answers, these tests fail, saying how to start one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pacbot_store::testing::fixtures::{at, bucket, complete, engine, run_scan, scope};
use pacbot_store::testing::postgres::{ScratchSchema, connect_server, scratch_store};
use pacbot_store::{
    AssetFilter, PostgresStore, ScanCommit, ScanStart, ScanStatus, Store, StoreError, StoreExt, ViolationFilter,
};

pacbot_store::conformance_tests!(scratch_store());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_migrates_and_records_the_version() {
    let schema = ScratchSchema::create().await;
    let store = PostgresStore::open(schema.url()).await.unwrap();
    assert_eq!(store.schema(), schema.name());
    assert!(!store.location().contains("options"), "{}", store.location());
    let client = connect_server().await;
    let rows = client
        .query(
            &format!("SELECT version, description FROM {}.pacbot_schema_migrations ORDER BY version", schema.name()),
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=PostgresStore::schema_version()).collect::<Vec<_>>());
    let gin: i64 = client
        .query_one(
            // From the catalogs, not `pg_indexes`: its `pg_get_indexdef` fails on
            // the indexes of other tests' schemas being dropped at the same time.
            "SELECT count(*) FROM pg_index i
               JOIN pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_am am ON am.oid = ic.relam
               JOIN pg_class t ON t.oid = i.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)
              WHERE n.nspname = $1 AND t.relname = 'assets' AND am.amname = 'gin' AND a.attname = 'attributes'",
            &[&schema.name()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(gin, 1, "attributes have a GIN index");
    drop(store);
    // Opening again applies nothing; several openers at once agree.
    let (a, b) = futures::future::join(PostgresStore::open(schema.url()), PostgresStore::open(schema.url())).await;
    a.unwrap();
    b.unwrap();
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}.pacbot_schema_migrations", schema.name()), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, PostgresStore::schema_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_migrate_once() {
    let schema = ScratchSchema::create().await;
    let opens = (0..4).map(|_| PostgresStore::open(schema.url()));
    for store in futures::future::join_all(opens).await {
        store.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_left_alone() {
    let schema = ScratchSchema::create().await;
    let client = connect_server().await;
    let s = schema.name();
    client
        .batch_execute(&format!(
            "CREATE TABLE {s}.pacbot_schema_migrations (version bigint PRIMARY KEY, description text NOT NULL,
                                                        applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO {s}.pacbot_schema_migrations (version, description) VALUES (1, 'first'), (99, 'future');
             CREATE TABLE {s}.from_the_future (x int);"
        ))
        .await
        .unwrap();
    let err = PostgresStore::open(schema.url()).await.unwrap_err();
    match &err {
        StoreError::SchemaTooNew { found, supported, location } => {
            assert_eq!((*found, *supported), (99, PostgresStore::schema_version()));
            assert!(location.starts_with("postgres://") && location.contains("127.0.0.1") || location.contains('@'));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("schema version 99") && msg.contains("newer"), "{msg}");
    let tables: Vec<String> = client
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1", &[&s])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, vec!["from_the_future", "pacbot_schema_migrations"], "nothing was created");
    let max: i64 =
        client.query_one(&format!("SELECT max(version) FROM {s}.pacbot_schema_migrations"), &[]).await.unwrap().get(0);
    assert_eq!(max, 99, "the version is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopening() {
    let schema = ScratchSchema::create().await;
    let e = engine();
    let s = scope("111", "eu-west-1", pacbot_store::testing::fixtures::BUCKET);
    let assets =
        vec![bucket("111", "eu-west-1", "a", "Suspended", true), bucket("111", "eu-west-1", "b", "Enabled", false)];
    let store = PostgresStore::open(schema.url()).await.unwrap();
    let first = run_scan(&store, &e, "s1", at(0), assets.clone(), complete(std::slice::from_ref(&s))).await;
    let violations = store.all_violations(ViolationFilter::default()).await.unwrap();
    assert_eq!(violations.len(), 2);
    drop(store);

    let store = PostgresStore::open(schema.url()).await.unwrap();
    assert_eq!(store.scan(first.record.id).await.unwrap(), first.record);
    assert_eq!(store.all_violations(ViolationFilter::default()).await.unwrap(), violations);
    let stored = store.all_assets(AssetFilter::default()).await.unwrap();
    assert_eq!(
        stored.iter().map(|r| r.asset.attributes.clone()).collect::<Vec<_>>(),
        vec![assets[0].attributes.clone(), assets[1].attributes.clone()]
    );
    let next = store.begin_scan(ScanStart::new("s2", at(1))).await.unwrap();
    assert!(next.id > first.record.id, "scan ids keep increasing");
    let second = run_scan(&store, &e, "s3", at(2), assets, complete(&[s])).await;
    assert_eq!(second.record.counts.assets_new, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_name_the_problem() {
    // A URL that does not parse: the message says what is wrong, and echoes no password.
    let err = PostgresStore::open("postgres://pacbot:s3cret@127.0.0.1:notaport/db").await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(msg.contains("PostgreSQL connection URL") && msg.contains("port"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");

    // Nothing listens: the message names the server (without the password) and the failure.
    let err = PostgresStore::open("postgres://pacbot:s3cret@127.0.0.1:1/db").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("postgres failed while connecting to `postgres://pacbot@127.0.0.1:1/db`"), "{msg}");
    assert!(msg.contains("error connecting to server") && msg.contains("refused"), "{msg}");
    assert!(!msg.contains("s3cret"), "{msg}");
    assert!(err.is_retryable(), "a server that is down may come up");

    // The server answers, the database does not exist.
    let url = pacbot_store::testing::postgres::server_url();
    let missing = match url.rsplit_once('/') {
        Some((server, _)) if url.starts_with("postgres") => format!("{server}/pacbot_no_such_database"),
        _ => format!("{url} dbname=pacbot_no_such_database"),
    };
    let msg = PostgresStore::open(&missing).await.unwrap_err().to_string();
    assert!(msg.contains("pacbot_no_such_database") && msg.contains("does not exist"), "{msg}");

    // The search path names no existing schema.
    let nowhere = pacbot_store::testing::postgres::with_search_path(&url, "pacbot_no_such_schema");
    let err = PostgresStore::open(&nowhere).await.unwrap_err();
    assert!(err.to_string().contains("search_path"), "{err}");
}

/// Eight shards commit at once, three rounds, each round removing some of
/// every shard's assets: every commit succeeds (no deadlock, no lost write),
/// and each shard ends exactly as its own scans left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_shard_writers_at_once() {
    let (store, _schema) = scratch_store().await;
    let e = engine();
    let shards: Vec<(String, &str)> =
        (0..8).map(|i| (format!("{}", 100 + i / 2), if i % 2 == 0 { "eu-west-1" } else { "us-east-1" })).collect();
    for round in 0..3_usize {
        let scans = shards.iter().map(|(account, region)| {
            let assets: Vec<_> = (round * 5..60)
                .map(|n| {
                    bucket(
                        account,
                        region,
                        &format!("{account}-{region}-{n:02}"),
                        if n % 3 == 0 { "Suspended" } else { "Enabled" },
                        n % 7 == 0,
                    )
                })
                .collect();
            let coverage = complete(&[scope(account, region, pacbot_store::testing::fixtures::BUCKET)]);
            let (store, e) = (&store, &e);
            async move { run_scan(store, e, "shard", at(i64::try_from(round).unwrap()), assets, coverage).await }
        });
        let done = futures::future::join_all(scans).await;
        for d in &done {
            assert_eq!(d.record.status, ScanStatus::Complete);
            assert_eq!(d.record.counts.assets_seen, u64::try_from(60 - round * 5).unwrap());
            assert_eq!(d.record.counts.assets_removed, if round == 0 { 0 } else { 5 });
        }
    }
    for (account, region) in &shards {
        let filter =
            AssetFilter { accounts: vec![account.clone()], regions: vec![(*region).to_owned()], ..Default::default() };
        assert_eq!(store.all_assets(filter.clone()).await.unwrap().len(), 50);
        let all = store.all_assets(AssetFilter { include_removed: true, ..filter }).await.unwrap();
        assert_eq!(all.len(), 60);
    }
}

/// Two commits of the same scan at once: exactly one wins, the other is told the scan is no longer running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_racing_commits_of_a_scan_wins() {
    let (store, _schema) = scratch_store().await;
    let scan = store.begin_scan(ScanStart::new("race", at(0))).await.unwrap();
    let mut commit = ScanCommit::new(scan.id, at(0));
    commit.assets = (0..200).map(|i| bucket("111", "eu-west-1", &format!("b{i}"), "Enabled", false)).collect();
    commit.coverage = complete(&[scope("111", "eu-west-1", pacbot_store::testing::fixtures::BUCKET)]);
    let (a, b) = futures::future::join(store.commit_scan(commit.clone()), store.commit_scan(commit)).await;
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("expected one success and one failure, got {other:?}"),
    };
    assert_eq!(won.counts.assets_new, 200);
    assert!(matches!(lost, StoreError::ScanNotRunning { status: ScanStatus::Complete, .. }), "{lost}");
}

/// Two scans of one scope, begun before either commits, commit at once:
/// exactly one wins, the other is refused with `ScopeConflict` (the shard
/// lock orders them; the clock says the loser began before the winner committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_scans_of_one_scope_do_not_both_commit() {
    let (store, _schema) = scratch_store().await;
    let s = scope("111", "eu-west-1", pacbot_store::testing::fixtures::BUCKET);
    let mut commits = Vec::new();
    for label in ["a", "b"] {
        let scan = store.begin_scan(ScanStart::new(label, at(0))).await.unwrap();
        let mut commit = ScanCommit::new(scan.id, at(0));
        commit.assets =
            (0..200).map(|i| bucket("111", "eu-west-1", &format!("{label}{i}"), "Enabled", false)).collect();
        commit.coverage = complete(std::slice::from_ref(&s));
        commits.push(commit);
    }
    let (a, b) =
        futures::future::join(store.commit_scan(commits[0].clone()), store.commit_scan(commits[1].clone())).await;
    let (won, lost) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("expected one success and one failure, got {other:?}"),
    };
    assert!(matches!(lost, StoreError::ScopeConflict { by, .. } if by == won.id), "{lost}");
    assert_eq!(store.all_assets(AssetFilter::default()).await.unwrap().len(), 200);
}

/// Six commits whose shards overlap, each listing them in another order:
/// they take their shard locks in one global order, so they run one after
/// the other instead of deadlocking, and exactly one of them inserts each asset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_shard_commits_serialize_without_deadlock() {
    let (store, _schema) = scratch_store().await;
    let places = [("111", "eu-west-1"), ("111", "us-east-1"), ("222", "eu-west-1")];
    let commits = (0..6).map(|i| {
        let store = &store;
        async move {
            let scan = store.begin_scan(ScanStart::new("overlap", at(0))).await.unwrap();
            let mut commit = ScanCommit::new(scan.id, at(0));
            let mut order = places.to_vec();
            order.rotate_left(i % 3);
            if i % 2 == 1 {
                order.reverse();
            }
            for (account, region) in order {
                commit.assets.extend(
                    (0..50).map(|n| bucket(account, region, &format!("{account}-{region}-{n}"), "Enabled", false)),
                );
            }
            store.commit_scan(commit).await.unwrap()
        }
    });
    let done = futures::future::join_all(commits).await;
    assert_eq!(done.iter().map(|r| r.counts.assets_new).sum::<u64>(), 150);
    assert_eq!(store.all_assets(AssetFilter::default()).await.unwrap().len(), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_migrates_and_answers_as_before() {
    use pacbot_store::testing::migration::{after_migration_from_v1, create_postgres_at, v1_postgres_fixture};
    let schema = ScratchSchema::create().await;
    let client = connect_server().await;
    client.batch_execute(&format!("SET search_path TO {}", schema.name())).await.unwrap();
    create_postgres_at(&client, 1).await;
    client.batch_execute(&v1_postgres_fixture()).await.unwrap();
    let store = PostgresStore::open(schema.url()).await.unwrap();
    let n: i64 = client.query_one("SELECT max(version) FROM pacbot_schema_migrations", &[]).await.unwrap().get(0);
    assert_eq!(n, PostgresStore::schema_version());
    after_migration_from_v1(&store).await;
}

/// Two stores on one database commit the same scope in turn: what one
/// knows of its last commit must not hide the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_between_commits() {
    let (first, schema) = scratch_store().await;
    let second = PostgresStore::open(schema.url()).await.unwrap();
    pacbot_store::testing::another_writer_between_commits(&first, &second).await;
}

/// Two stores on one database: each sees the revision the other's writes advanced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_seen_by_another_instance() {
    let (first, schema) = scratch_store().await;
    let second = PostgresStore::open(schema.url()).await.unwrap();
    pacbot_store::testing::revision_seen_by_another_instance(&first, &second).await;
}

/// Rows of an earlier version (its fingerprints) are recognized and restamped, not rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_fingerprints_are_restamped() {
    let schema = ScratchSchema::create().await;
    let store = PostgresStore::open(schema.url()).await.unwrap();
    let client = connect_server().await;
    let table = format!("{}.assets", schema.name());
    pacbot_store::testing::earlier_fingerprints_are_restamped(
        &store,
        async || PostgresStore::open(schema.url()).await.unwrap(),
        async |rid: &str, hash: i64| {
            let sql = format!("UPDATE {table} SET hash = $2 WHERE resource_id = $1");
            assert_eq!(client.execute(&sql, &[&rid, &hash]).await.unwrap(), 1);
        },
        async |rid: &str| {
            let sql = format!("SELECT hash FROM {table} WHERE resource_id = $1");
            client.query_one(&sql, &[&rid]).await.unwrap().get(0)
        },
    )
    .await;
}
