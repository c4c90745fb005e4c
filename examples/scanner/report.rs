//! `report`: read the store, filter, and write one of the formats.

use std::io::Write;

use pacbot::chrono::{DateTime, Utc};
use pacbot::store::{ComplianceSnapshot, PageRequest, ScanRecord, Store, StoreExt, TrendQuery, ViolationFilter};
use pacbot::{PolicyMeta, Severity, Violation, ViolationStatus};
use serde::{Deserialize, Serialize};

use super::cli::{Format, ReportArgs};
use super::error::{Context, EXIT_OK, EXIT_VIOLATIONS, Error, Result};
use super::run::write_error;

/// Everything a report shows.
#[derive(Debug, Serialize)]
pub struct ReportData {
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The database.
    pub database: String,
    /// The asset group the report is limited to.
    pub group: Option<String>,
    /// The policies it is limited to (empty: all).
    pub policies_filter: Vec<String>,
    /// Violations changed at or after this time only.
    pub since: Option<DateTime<Utc>>,
    /// The latest scan.
    pub scan: Option<ScanRecord>,
    /// The latest compliance snapshot (the group's with `--group`).
    pub compliance: Option<ComplianceSnapshot>,
    /// The latest snapshot of each asset group (without `--group`).
    pub groups: Vec<ComplianceSnapshot>,
    /// Compliance over time, oldest first.
    pub trend: Vec<ComplianceSnapshot>,
    /// The policy catalogue.
    pub policies: Vec<PolicyMeta>,
    /// The violations, by key.
    pub violations: Vec<Violation>,
}

impl ReportData {
    /// The catalogue entry of a policy.
    pub fn policy(&self, id: &str) -> Option<&PolicyMeta> {
        self.policies.iter().find(|p| p.id == id)
    }
}

/// Reads what a report shows.
pub async fn gather(store: &dyn Store, database: &str, args: &ReportArgs) -> Result<ReportData> {
    let now = Utc::now();
    let scan = store.scans(&PageRequest::first(1)).await?.items.into_iter().next();
    let mut filter = ViolationFilter { policies: args.policies.clone(), ..ViolationFilter::default() };
    if !args.all {
        filter.statuses = vec![ViolationStatus::Open, ViolationStatus::Exempted, ViolationStatus::Unknown];
    }
    if let Some(g) = &args.group {
        filter.criteria = Some(store.group_filter(g, now).await.map_err(|e| match e {
            pacbot::store::StoreError::NotFound { .. } => {
                Error::msg(format!("--group: no asset group `{g}` (see `scanner groups list`)"))
            }
            other => other.into(),
        })?);
    }
    let mut violations = store.all_violations(filter).await?;
    if let Some(since) = args.since {
        violations.retain(|v| v.modified_at >= since);
    }
    let compliance = store.latest_compliance(args.group.as_deref()).await?;
    let mut groups = Vec::new();
    if args.group.is_none() {
        for g in store.groups().await? {
            if let Some(s) = store.latest_compliance(Some(&g.group.name)).await? {
                groups.push(s);
            }
        }
    }
    let trend = store
        .compliance_trend(&TrendQuery { group: args.group.clone(), since: args.since, until: None, limit: 60 })
        .await?;
    let policies = store.policies().await?.into_iter().map(|p| p.meta).collect();
    Ok(ReportData {
        generated_at: now,
        database: database.to_owned(),
        group: args.group.clone(),
        policies_filter: args.policies.clone(),
        since: args.since,
        scan,
        compliance,
        groups,
        trend,
        policies,
        violations,
    })
}

/// `report`.
pub async fn run(store: &dyn Store, database: &str, args: &ReportArgs, out: &mut dyn Write) -> Result<u8> {
    let data = gather(store, database, args).await?;
    let mut buf: Vec<u8> = Vec::new();
    match args.format {
        Format::Table => super::table::report(&mut buf, &data, 25).map_err(write_error)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut buf, &data).map_err(|e| Error::with("cannot write JSON", e))?;
            buf.push(b'\n');
        }
        Format::Csv => csv(&mut buf, &data.violations)?,
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut buf, &super::sarif::log(&data))
                .map_err(|e| Error::with("cannot write SARIF", e))?;
            buf.push(b'\n');
        }
        Format::Ocsf => {
            serde_json::to_writer_pretty(&mut buf, &super::ocsf::findings(&data))
                .map_err(|e| Error::with("cannot write OCSF", e))?;
            buf.push(b'\n');
        }
        Format::Html => buf.extend_from_slice(super::html::page(&data).as_bytes()),
    }
    match &args.output {
        Some(path) => {
            std::fs::write(path, &buf).context(|| format!("cannot write `{}`", path.display()))?;
            writeln!(out, "wrote {}", path.display()).map_err(write_error)?;
        }
        None => out.write_all(&buf).map_err(write_error)?,
    }
    let failing = |s: Severity| data.violations.iter().any(|v| v.status == ViolationStatus::Open && v.severity >= s);
    Ok(if args.fail_on.is_some_and(failing) { EXIT_VIOLATIONS } else { EXIT_OK })
}

/// One CSV row: a violation, flattened.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct CsvRow {
    pub policy_id: String,
    pub rule_id: String,
    pub provider: String,
    pub account: String,
    pub region: String,
    pub kind: String,
    pub resource_id: String,
    pub status: ViolationStatus,
    pub severity: Severity,
    pub category: pacbot::Category,
    pub reason: String,
    pub exception_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<&Violation> for CsvRow {
    fn from(v: &Violation) -> Self {
        let a = &v.key.asset;
        Self {
            policy_id: v.key.policy_id.clone(),
            rule_id: v.key.rule_id.clone(),
            provider: a.provider.clone(),
            account: a.account.clone(),
            region: a.region.clone(),
            kind: a.kind.to_string(),
            resource_id: a.resource_id.clone(),
            status: v.status,
            severity: v.severity,
            category: v.category,
            reason: v.reason.clone(),
            exception_id: v.exception_id.clone(),
            created_at: v.created_at,
            modified_at: v.modified_at,
            closed_at: v.closed_at,
        }
    }
}

fn csv(out: &mut Vec<u8>, violations: &[Violation]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for v in violations {
        w.serialize(CsvRow::from(v)).map_err(|e| Error::with("cannot write CSV", e))?;
    }
    w.flush().map_err(write_error)
}
