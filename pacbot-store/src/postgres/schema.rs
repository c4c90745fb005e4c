//! The PostgreSQL schema: numbered migrations, applied on open, tracked in
//! the table `pacbot_schema_migrations` (one row per applied version).
//!
//! Migrations are append-only: a released one is never edited; a change of
//! schema is a new entry. Each runs in its own transaction under an advisory
//! lock, so scanners opening the same new database at once apply it once.
//!
//! Text columns use the `C` collation: they sort by bytes, as the other
//! backends and the keyset cursors do, and `lower()` folds ASCII only, as
//! search promises, whatever the database's default collation.

use tokio_postgres::GenericClient;

use super::locks;
use crate::error::{Result, StoreError};

/// Migration `i` brings the schema from version `i` to `i + 1`: (what it does, its SQL).
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "the first schema",
        r#"
CREATE TABLE scans (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label         text COLLATE "C" NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    status        text COLLATE "C" NOT NULL,
    counts        jsonb NOT NULL,
    failed_scopes jsonb NOT NULL,
    error         text COLLATE "C"
);

CREATE TABLE scan_scopes (
    scan_id  bigint NOT NULL REFERENCES scans (id),
    provider text COLLATE "C" NOT NULL,
    account  text COLLATE "C" NOT NULL,
    region   text COLLATE "C" NOT NULL,
    kind     text COLLATE "C" NOT NULL,
    error    text COLLATE "C",  -- NULL when the scope was collected completely
    PRIMARY KEY (scan_id, provider, account, region, kind)
);

CREATE TABLE scan_results (
    scan_id        bigint NOT NULL REFERENCES scans (id),
    seq            bigint NOT NULL,
    policy_id      text COLLATE "C" NOT NULL,
    rule_id        text COLLATE "C" NOT NULL,
    passed         bigint NOT NULL,
    failed         bigint NOT NULL,
    errors         bigint NOT NULL,
    not_applicable bigint NOT NULL,
    PRIMARY KEY (scan_id, seq)
);

-- Every scan rewrites the rows it sees (last seen): room on each page lets
-- those updates stay on the page (HOT) when no indexed column changed.
CREATE TABLE assets (
    provider    text COLLATE "C" NOT NULL,
    account     text COLLATE "C" NOT NULL,
    region      text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    resource_id text COLLATE "C" NOT NULL,
    name        text COLLATE "C",
    attributes  jsonb NOT NULL,
    tags        jsonb NOT NULL,  -- {"key": "value", ...}
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    first_scan  bigint NOT NULL,
    last_scan   bigint NOT NULL,
    removed_at  timestamptz,
    PRIMARY KEY (provider, account, region, kind, resource_id)
) WITH (fillfactor = 80);
CREATE INDEX assets_attributes ON assets USING gin (attributes jsonb_path_ops);
CREATE INDEX assets_tags ON assets USING gin (tags);

CREATE TABLE violations (
    pk           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy_id    text COLLATE "C" NOT NULL,
    rule_id      text COLLATE "C" NOT NULL,
    provider     text COLLATE "C" NOT NULL,
    account      text COLLATE "C" NOT NULL,
    region       text COLLATE "C" NOT NULL,
    kind         text COLLATE "C" NOT NULL,
    resource_id  text COLLATE "C" NOT NULL,
    status       text COLLATE "C" NOT NULL,
    severity     smallint NOT NULL,  -- low 0, medium 1, high 2, critical 3
    category     text COLLATE "C" NOT NULL,
    reason       text COLLATE "C" NOT NULL,
    details      jsonb,
    exception_id text COLLATE "C",
    created_at   timestamptz NOT NULL,
    modified_at  timestamptz NOT NULL,
    closed_at    timestamptz,
    close_reason text COLLATE "C",
    UNIQUE (policy_id, rule_id, provider, account, region, kind, resource_id)
);
CREATE INDEX violations_by_asset ON violations (provider, account, region, kind, resource_id);

CREATE TABLE transitions (
    pk           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    violation_pk bigint NOT NULL REFERENCES violations (pk),
    scan_id      bigint NOT NULL REFERENCES scans (id),
    kind         text COLLATE "C" NOT NULL,
    from_status  text COLLATE "C",
    to_status    text COLLATE "C" NOT NULL,
    at           timestamptz NOT NULL,
    reason       text COLLATE "C" NOT NULL
);
CREATE INDEX transitions_by_violation ON transitions (violation_pk, pk);

CREATE TABLE snapshots (
    pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scan_id    bigint NOT NULL REFERENCES scans (id),
    group_name text COLLATE "C",  -- NULL for the overall report
    at         timestamptz NOT NULL,
    report     jsonb NOT NULL
);
CREATE INDEX snapshots_by_group ON snapshots (group_name, at);

CREATE TABLE exceptions (
    id         text COLLATE "C" PRIMARY KEY,
    doc        jsonb NOT NULL,
    created_by text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    updated_by text COLLATE "C" NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE asset_groups (
    name       text COLLATE "C" PRIMARY KEY,
    doc        jsonb NOT NULL,
    created_by text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    updated_by text COLLATE "C" NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE policies (
    id         text COLLATE "C" PRIMARY KEY,
    doc        jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE fix_records (
    id          text COLLATE "C" PRIMARY KEY,
    kind        text COLLATE "C" NOT NULL,
    policy_id   text COLLATE "C" NOT NULL,
    provider    text COLLATE "C" NOT NULL,
    account     text COLLATE "C" NOT NULL,
    region      text COLLATE "C" NOT NULL,
    asset_kind  text COLLATE "C" NOT NULL,
    resource_id text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX fix_records_by_creation ON fix_records (created_at, id);
"#,
    ),
    (
        "rescans write only what changed: content fingerprints, the last complete scan of each scope",
        r#"
-- 0 on older rows: not known, so rewritten once by the next scan that sees them.
ALTER TABLE assets ADD COLUMN hash bigint NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN hash bigint NOT NULL DEFAULT 0;

-- An unchanged asset's last-seen time follows from its scope's latest complete scan.
CREATE TABLE asset_scopes (
    provider text COLLATE "C" NOT NULL,
    account  text COLLATE "C" NOT NULL,
    region   text COLLATE "C" NOT NULL,
    kind     text COLLATE "C" NOT NULL,
    seen_at  timestamptz NOT NULL,
    scan_id  bigint NOT NULL REFERENCES scans (id),
    PRIMARY KEY (provider, account, region, kind)
);
"#,
    ),
    (
        "scans of one scope do not interleave: a commit clock, each scan's clock at its start, each scope's last commit",
        r#"
-- A commit is refused when a scope of its coverage was committed after the scan began.
ALTER TABLE scans ADD COLUMN begin_seq bigint NOT NULL DEFAULT 0;

-- When an asset last changed (stored, rewritten, removed or back). Older rows:
-- not known, so their last-seen time, which is no earlier.
ALTER TABLE assets ADD COLUMN changed_at timestamptz;
UPDATE assets SET changed_at = last_seen;
ALTER TABLE assets ALTER COLUMN changed_at SET NOT NULL;

-- One row; a commit advances it last, holding its row lock until it ends, so
-- the clock's order is the order in which commits became visible.
CREATE TABLE commit_clock (
    id  int PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO commit_clock (id, seq) VALUES (1, 0);

CREATE TABLE scope_commits (
    provider text COLLATE "C" NOT NULL,
    account  text COLLATE "C" NOT NULL,
    region   text COLLATE "C" NOT NULL,
    kind     text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    scan_id  bigint NOT NULL REFERENCES scans (id),
    PRIMARY KEY (provider, account, region, kind)
);
"#,
    ),
    (
        "a revision every committed write advances",
        r#"
-- One row; every writing transaction advances it last, just before it
-- commits (see `writing!`), so it changes exactly when a write becomes
-- visible, and its row lock is held only for the end of the transaction.
CREATE TABLE revision (
    id  int PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO revision (id, seq) VALUES (1, 0);
"#,
    ),
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

const TRACKING: &str = r#"
CREATE TABLE IF NOT EXISTS pacbot_schema_migrations (
    version     bigint PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"#;

/// The database's schema version: 0 when nothing was ever applied.
async fn version(c: &impl GenericClient) -> Result<i64> {
    // Read from the catalog with the statement's snapshot: `to_regclass` may
    // answer from a cache that has not yet seen a table another session just
    // committed (while we waited for the migration lock).
    let exists: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = current_schema() AND c.relname = 'pacbot_schema_migrations')",
            &[],
        )
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    Ok(c.query_one("SELECT COALESCE(max(version), 0) FROM pacbot_schema_migrations", &[]).await?.try_get(0)?)
}

fn too_new(location: &str, found: i64) -> StoreError {
    StoreError::SchemaTooNew { location: location.to_owned(), found, supported: VERSION }
}

/// Applies the missing migrations, each in its own transaction; refuses a
/// database of a newer version, writing nothing to it. Returns the schema
/// the tables live in.
pub(super) async fn migrate(client: &mut deadpool_postgres::Client, location: &str) -> Result<String> {
    let pg: &tokio_postgres::Client = client;
    let schema: Option<String> = pg.query_one("SELECT current_schema()", &[]).await?.try_get(0)?;
    let schema = schema.ok_or_else(|| {
        StoreError::invalid(
            format!("database `{location}`"),
            "its search_path names no schema that exists: create the schema first",
        )
    })?;
    let found = version(pg).await?;
    if found > VERSION {
        return Err(too_new(location, found));
    }
    for (i, (description, sql)) in (0..).zip(MIGRATIONS).skip(usize::try_from(found).unwrap_or(0)) {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::key(&schema, &["migrations"])]).await?;
        // Re-check under the lock: another process may have migrated meanwhile.
        let now = version(&*tx).await?;
        if now > VERSION {
            return Err(too_new(location, now));
        }
        if now > i {
            tx.rollback().await?;
            continue;
        }
        tx.batch_execute(TRACKING).await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO pacbot_schema_migrations (version, description) VALUES ($1, $2)",
            &[&(i + 1), description],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(schema)
}

/// The SQL of migration `version` (1-based) with its description, and the
/// tracking table's, for the conformance suite's databases of an older version.
#[cfg(feature = "testing")]
pub(crate) fn migration(version: usize) -> Option<(&'static str, &'static str, &'static str)> {
    let (description, sql) = MIGRATIONS.get(version.checked_sub(1)?)?;
    Some((TRACKING, description, sql))
}
