//! The SQLite schema: numbered migrations, applied on open.
//!
//! The version is `PRAGMA user_version`. Migrations are append-only: a
//! released one is never edited; a change of schema is a new entry.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r"
CREATE TABLE scans (
    id            INTEGER PRIMARY KEY,
    label         TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    status        TEXT    NOT NULL,
    counts        TEXT    NOT NULL,
    failed_scopes TEXT    NOT NULL,
    error         TEXT
);

CREATE TABLE scan_scopes (
    scan_id  INTEGER NOT NULL REFERENCES scans (id),
    provider TEXT    NOT NULL,
    account  TEXT    NOT NULL,
    region   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    error    TEXT,  -- NULL when the scope was collected completely
    PRIMARY KEY (scan_id, provider, account, region, kind)
) WITHOUT ROWID;

CREATE TABLE scan_results (
    scan_id        INTEGER NOT NULL REFERENCES scans (id),
    seq            INTEGER NOT NULL,
    policy_id      TEXT    NOT NULL,
    rule_id        TEXT    NOT NULL,
    passed         INTEGER NOT NULL,
    failed         INTEGER NOT NULL,
    errors         INTEGER NOT NULL,
    not_applicable INTEGER NOT NULL,
    PRIMARY KEY (scan_id, seq)
) WITHOUT ROWID;

CREATE TABLE assets (
    pk          INTEGER PRIMARY KEY,
    provider    TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    resource_id TEXT    NOT NULL,
    name        TEXT,
    attributes  TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    first_scan  INTEGER NOT NULL,
    last_scan   INTEGER NOT NULL,
    removed_at  INTEGER,
    UNIQUE (provider, account, region, kind, resource_id)
);

CREATE TABLE asset_tags (
    asset_pk INTEGER NOT NULL REFERENCES assets (pk) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (asset_pk, key)
) WITHOUT ROWID;
CREATE INDEX asset_tags_by_key ON asset_tags (key, value);

CREATE TABLE violations (
    pk           INTEGER PRIMARY KEY,
    policy_id    TEXT    NOT NULL,
    rule_id      TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    account      TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    resource_id  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    severity     INTEGER NOT NULL,  -- low 0, medium 1, high 2, critical 3
    category     TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    details      TEXT,
    exception_id TEXT,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL,
    closed_at    INTEGER,
    close_reason TEXT,
    UNIQUE (policy_id, rule_id, provider, account, region, kind, resource_id)
);
CREATE INDEX violations_by_asset ON violations (provider, account, region, kind, resource_id);

CREATE TABLE transitions (
    pk           INTEGER PRIMARY KEY,
    violation_pk INTEGER NOT NULL REFERENCES violations (pk),
    scan_id      INTEGER NOT NULL REFERENCES scans (id),
    kind         TEXT    NOT NULL,
    from_status  TEXT,
    to_status    TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    reason       TEXT    NOT NULL
);
CREATE INDEX transitions_by_violation ON transitions (violation_pk, pk);

CREATE TABLE snapshots (
    pk         INTEGER PRIMARY KEY,
    scan_id    INTEGER NOT NULL REFERENCES scans (id),
    group_name TEXT,  -- NULL for the overall report
    at         INTEGER NOT NULL,
    report     TEXT    NOT NULL
);
CREATE INDEX snapshots_by_group ON snapshots (group_name, at);

CREATE TABLE exceptions (
    id         TEXT    PRIMARY KEY,
    doc        TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE asset_groups (
    name       TEXT    PRIMARY KEY,
    doc        TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE policies (
    id         TEXT    PRIMARY KEY,
    doc        TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE fix_records (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    policy_id   TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    region      TEXT    NOT NULL,
    asset_kind  TEXT    NOT NULL,
    resource_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
",
    // 2: rescans write only what changed. Fingerprints of an asset's content
    // and a violation's state (0 on older rows: not known, so rewritten once);
    // the last complete scan of each scope, from which an unchanged asset's
    // last-seen time follows.
    r"
ALTER TABLE assets ADD COLUMN hash INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations ADD COLUMN hash INTEGER NOT NULL DEFAULT 0;

CREATE TABLE asset_scopes (
    provider TEXT    NOT NULL,
    account  TEXT    NOT NULL,
    region   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    seen_at  INTEGER NOT NULL,  -- the time of the latest scan that completed the scope
    scan_id  INTEGER NOT NULL REFERENCES scans (id),
    PRIMARY KEY (provider, account, region, kind)
) WITHOUT ROWID;
",
    // 3: scans of one scope do not interleave. A clock counts commits; a scan
    // keeps its value when it began, and each scope the last commit that
    // covered it. A commit is refused when a scope of its coverage was
    // committed after it began (its reconcile may have read a stale state).
    r"
ALTER TABLE scans ADD COLUMN begin_seq INTEGER NOT NULL DEFAULT 0;

-- When an asset last changed (stored, rewritten, removed or back). Older rows:
-- not known, so their last-seen time, which is no earlier.
ALTER TABLE assets ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE assets SET changed_at = last_seen;

CREATE TABLE commit_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO commit_clock (id, seq) VALUES (1, 0);

CREATE TABLE scope_commits (
    provider TEXT    NOT NULL,
    account  TEXT    NOT NULL,
    region   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    seq      INTEGER NOT NULL,  -- the clock of the last commit that covered the scope
    scan_id  INTEGER NOT NULL REFERENCES scans (id),
    PRIMARY KEY (provider, account, region, kind)
) WITHOUT ROWID;
",
    // 4: a revision that every committed write advances (`Store::revision`),
    // for caches of what reads answered. Triggers advance it inside the
    // writing transaction: every write touches one of these tables (a scan
    // commit updates its scan's row once, whatever it wrote), so a scan
    // commit pays one extra row update, nothing per asset or violation.
    r"
CREATE TABLE revision (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO revision (id, seq) VALUES (1, 0);

CREATE TRIGGER revision_scans_insert AFTER INSERT ON scans
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_scans_update AFTER UPDATE ON scans
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_scans_delete AFTER DELETE ON scans
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_exceptions_insert AFTER INSERT ON exceptions
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_exceptions_update AFTER UPDATE ON exceptions
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_exceptions_delete AFTER DELETE ON exceptions
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_asset_groups_insert AFTER INSERT ON asset_groups
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_asset_groups_update AFTER UPDATE ON asset_groups
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_asset_groups_delete AFTER DELETE ON asset_groups
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_policies_insert AFTER INSERT ON policies
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_policies_update AFTER UPDATE ON policies
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_policies_delete AFTER DELETE ON policies
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_fix_records_insert AFTER INSERT ON fix_records
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_fix_records_update AFTER UPDATE ON fix_records
BEGIN UPDATE revision SET seq = seq + 1; END;
CREATE TRIGGER revision_fix_records_delete AFTER DELETE ON fix_records
BEGIN UPDATE revision SET seq = seq + 1; END;
",
    // 5: tag filters and search read each asset's tags document
    // (`json_each`), which costs about what a probe of a side table did; the
    // side table of tag rows, a third of a first commit's writing, is gone.
    r"
DROP TABLE asset_tags;
",
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// The database's schema version.
pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Applies the missing migrations, each in its own transaction; refuses a
/// database of a newer version.
pub(crate) fn migrate(conn: &mut Connection, location: &str) -> Result<()> {
    let found = version(conn)?;
    if found > VERSION {
        return Err(StoreError::SchemaTooNew { location: location.to_owned(), found, supported: VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Re-check under the write lock: another process may have migrated meanwhile.
        let now = version(&tx)?;
        if now > i64::try_from(i).unwrap_or(i64::MAX) {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))?;
        tx.commit()?;
    }
    Ok(())
}

/// The SQL of migration `version` (1-based), for the conformance suite's
/// databases of an older version.
#[cfg(feature = "testing")]
pub(crate) fn migration(version: usize) -> Option<&'static str> {
    MIGRATIONS.get(version.checked_sub(1)?).copied()
}
