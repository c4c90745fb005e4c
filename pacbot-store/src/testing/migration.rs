//! Databases written by an older schema version: what the store wrote
//! then, inserted with plain SQL, and the checks that a store opening such a
//! database (migrating it) answers every query as before, then rescans it.
//!
//! The fixture, as two scans of schema version 1 left it: buckets `a`
//! (versioning suspended, tagged `Owner=ops`) and `b` seen by both scans,
//! `c` seen by the first and removed by the second; `a`'s versioning
//! violation opened by the first scan, with a `still_open` entry from the
//! second (version 1 kept those).

use chrono::{DateTime, Utc};
use pacbot_core::{Asset, TransitionKind, ViolationStatus};

use super::Harness;
use super::fixtures::*;
use crate::model::{AssetFilter, TagFilter, ViolationFilter};
use crate::store::StoreExt;

/// The fixture's assets: `a`, `b` and `c`.
#[must_use]
pub fn v1_assets() -> [Asset; 3] {
    [
        bucket("111", "eu-west-1", "a", "Suspended", false).with_tag("Owner", "ops"),
        bucket("111", "eu-west-1", "b", "Enabled", false),
        bucket("111", "eu-west-1", "c", "Enabled", false),
    ]
}

const REASON: &str = "bucket a has versioning Suspended";

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap().replace('\'', "''")
}

/// Makes an empty SQLite database of schema version `version`.
#[cfg(feature = "sqlite")]
pub fn create_sqlite_at(conn: &rusqlite::Connection, version: usize) {
    for v in 1..=version {
        conn.execute_batch(crate::sqlite::migration(v).expect("a known version")).unwrap();
    }
    conn.pragma_update(None, "user_version", i64::try_from(version).unwrap()).unwrap();
}

/// Makes an empty PostgreSQL schema of version `version`, with the client's search path.
#[cfg(feature = "postgres")]
pub async fn create_postgres_at(client: &tokio_postgres::Client, version: usize) {
    for v in 1..=version {
        let (tracking, description, sql) = crate::postgres::migration(v).expect("a known version");
        client.batch_execute(tracking).await.unwrap();
        client.batch_execute(sql).await.unwrap();
        client
            .execute(
                "INSERT INTO pacbot_schema_migrations (version, description) VALUES ($1, $2)",
                &[&i64::try_from(v).unwrap(), &description],
            )
            .await
            .unwrap();
    }
}

/// The fixture's rows in schema version 1 of SQLite (after migration 1).
#[cfg(feature = "sqlite")]
#[must_use]
pub fn v1_sqlite_fixture() -> String {
    let t = |h: i64| kept(at(h)).timestamp_micros();
    let (t0, t1) = (t(0), t(1));
    let mut sql = format!(
        "INSERT INTO scans (id, label, started_at, finished_at, status, counts, failed_scopes)
         VALUES (1, 's1', {t0}, {t0}, 'complete', '{{}}', '[]'), (2, 's2', {t1}, {t1}, 'complete', '{{}}', '[]');
         INSERT INTO scan_scopes VALUES (1, 'aws', '111', 'eu-west-1', '{BUCKET}', NULL),
                                        (2, 'aws', '111', 'eu-west-1', '{BUCKET}', NULL);\n"
    );
    for (pk, a) in (1..).zip(v1_assets()) {
        let (last, last_scan, removed) = if pk == 3 { (t0, 1, t1.to_string()) } else { (t1, 2, "NULL".into()) };
        sql += &format!(
            "INSERT INTO assets VALUES ({pk}, 'aws', '111', 'eu-west-1', '{BUCKET}', '{id}', '{id}', '{attrs}', \
             '{tags}', {t0}, {last}, 1, {last_scan}, {removed});\n",
            id = a.id.resource_id,
            attrs = json(&a.attributes),
            tags = json(&a.tags),
        );
        for (k, v) in a.tags.iter() {
            sql += &format!("INSERT INTO asset_tags VALUES ({pk}, '{k}', '{v}');\n");
        }
    }
    sql += &format!(
        "INSERT INTO violations (pk, policy_id, rule_id, provider, account, region, kind, resource_id, status,
                                 severity, category, reason, details, exception_id, created_at, modified_at)
         VALUES (1, '{VERSIONING}', 'main', 'aws', '111', 'eu-west-1', '{BUCKET}', 'a', 'open', 1,
                 'governance', '{REASON}', NULL, NULL, {t0}, {t0});
         INSERT INTO transitions (violation_pk, scan_id, kind, from_status, to_status, at, reason)
         VALUES (1, 1, 'opened', NULL, 'open', {t0}, '{REASON}'), (1, 2, 'still_open', 'open', 'open', {t1}, '{REASON}');"
    );
    sql
}

/// The fixture's rows in schema version 1 of PostgreSQL (after migration 1).
#[cfg(feature = "postgres")]
#[must_use]
pub fn v1_postgres_fixture() -> String {
    let t = |h: i64| format!("'{}'::timestamptz", kept(at(h)).to_rfc3339());
    let (t0, t1) = (t(0), t(1));
    let mut sql = format!(
        "INSERT INTO scans (label, started_at, finished_at, status, counts, failed_scopes)
         VALUES ('s1', {t0}, {t0}, 'complete', '{{}}', '[]'), ('s2', {t1}, {t1}, 'complete', '{{}}', '[]');
         INSERT INTO scan_scopes VALUES (1, 'aws', '111', 'eu-west-1', '{BUCKET}', NULL),
                                        (2, 'aws', '111', 'eu-west-1', '{BUCKET}', NULL);\n"
    );
    for (n, a) in (1..).zip(v1_assets()) {
        let (last, last_scan, removed) = if n == 3 { (&t0, 1, t1.clone()) } else { (&t1, 2, "NULL".into()) };
        sql += &format!(
            "INSERT INTO assets VALUES ('aws', '111', 'eu-west-1', '{BUCKET}', '{id}', '{id}', '{attrs}', '{tags}', \
             {t0}, {last}, 1, {last_scan}, {removed});\n",
            id = a.id.resource_id,
            attrs = json(&a.attributes),
            tags = json(&a.tags),
        );
    }
    sql += &format!(
        "INSERT INTO violations (policy_id, rule_id, provider, account, region, kind, resource_id, status,
                                 severity, category, reason, details, exception_id, created_at, modified_at)
         VALUES ('{VERSIONING}', 'main', 'aws', '111', 'eu-west-1', '{BUCKET}', 'a', 'open', 1,
                 'governance', '{REASON}', NULL, NULL, {t0}, {t0});
         INSERT INTO transitions (violation_pk, scan_id, kind, from_status, to_status, at, reason)
         VALUES (1, 1, 'opened', NULL, 'open', {t0}, '{REASON}'), (1, 2, 'still_open', 'open', 'open', {t1}, '{REASON}');"
    );
    sql
}

type Seen = (Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// First seen, last seen, removed.
fn seen(r: &crate::model::AssetRecord) -> Seen {
    (r.asset.first_seen, r.asset.last_seen, r.removed_at)
}

/// Checks a store opened on the version-1 fixture: the queries answer as
/// before the migration (asset 360 with first/last seen, history, tag
/// filters); the first rescan rewrites the rows it sees once (their
/// fingerprints were not known) and adds no `still_open` entry; the next
/// writes nothing but its own records, and the queries still answer.
pub async fn after_migration_from_v1(store: &dyn Harness) {
    let [a, b, c] = v1_assets();
    let check = |when: &'static str| async move {
        let [a, _, c] = v1_assets();
        let view = store.asset_360(&a.id).await.unwrap();
        assert_eq!(view.asset.asset.attributes, a.attributes, "{when}");
        assert_eq!(view.asset.asset.first_seen, Some(kept(at(0))), "{when}");
        assert_eq!(view.violations.len(), 1, "{when}");
        assert_eq!(view.violations[0].status, ViolationStatus::Open, "{when}");
        let kinds: Vec<_> = view.history.iter().map(|h| h.transition.kind).collect();
        assert_eq!(kinds, vec![TransitionKind::Opened, TransitionKind::StillOpen], "{when}: history as stored");
        let ops = AssetFilter { tags: vec![TagFilter::eq("Owner", "ops")], ..AssetFilter::default() };
        let found = store.all_assets(ops).await.unwrap();
        assert_eq!(found.iter().map(|r| r.asset.id.clone()).collect::<Vec<_>>(), vec![a.id.clone()], "{when}");
        let gone = store.asset(&c.id).await.unwrap();
        assert_eq!(seen(&gone), (Some(kept(at(0))), Some(kept(at(0))), Some(kept(at(1)))), "{when}");
        view.asset.asset.last_seen
    };
    assert_eq!(check("migrated").await, Some(kept(at(1))));
    let open = ViolationFilter { statuses: vec![ViolationStatus::Open], ..ViolationFilter::default() };
    assert_eq!(store.all_violations(open.clone()).await.unwrap().len(), 1);

    let e = engine();
    let cov = || complete(&[scope("111", "eu-west-1", BUCKET)]);
    let first = run_scan(store, &e, "s3", at(2), vec![a.clone(), b.clone()], cov()).await;
    let counts = &first.record.counts;
    assert_eq!((counts.assets_new, counts.assets_changed, counts.assets_removed), (0, 2, 0), "rewritten once");
    assert_eq!(check("first rescan").await, Some(kept(at(2))));
    let second = run_scan(store, &e, "s4", at(3), vec![a, b], cov()).await;
    let counts = &second.record.counts;
    assert_eq!((counts.assets_changed, counts.violations_changed), (0, 0), "then left alone");
    assert_eq!(check("second rescan").await, Some(kept(at(3))));
    assert_eq!(store.all_violations(open).await.unwrap().len(), 1);
    assert!(store.asset(&c.id).await.unwrap().is_removed());
}
