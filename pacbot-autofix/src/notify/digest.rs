//! The weekly digest, per asset group owner: overall compliance (and its
//! change over the period), the top failing policies, the violations opened
//! in the period, and the fixes done.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use pacbot_core::{AssetId, ViolationStatus};
use pacbot_store::{FixFilter, FixKind, Store, StoreExt, TrendQuery, ViolationFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Message, MessageKind};
use crate::error::Result;

/// How many failing policies a digest lists.
pub const TOP_POLICIES: usize = 5;

/// A policy with open violations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailingPolicy {
    /// The policy id.
    pub policy_id: String,
    /// Its name.
    pub name: String,
    /// Open violations in the group.
    pub open: usize,
    /// The policy's compliance in the group, percent.
    pub percent: f64,
}

/// A violation opened during the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewViolation {
    /// The policy.
    pub policy_id: String,
    /// The asset.
    pub asset: AssetId,
    /// Why.
    pub reason: String,
    /// When it opened.
    pub created_at: DateTime<Utc>,
}

/// A fix done during the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixDone {
    /// The fix key.
    pub fix: String,
    /// The asset.
    pub asset: AssetId,
    /// `applied`, `already_fixed`, `rolled_back`.
    pub status: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// One group's digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The asset group.
    pub group: String,
    /// Its owner (the recipient).
    pub owner: Option<String>,
    /// The period's start.
    pub since: DateTime<Utc>,
    /// The period's end.
    pub until: DateTime<Utc>,
    /// Overall compliance at the end, percent (from the latest snapshot).
    pub overall: Option<f64>,
    /// Overall compliance at the start, percent.
    pub previous_overall: Option<f64>,
    /// The policies with the most open violations.
    pub top_failing: Vec<FailingPolicy>,
    /// Violations opened in the period (still open).
    pub new_violations: Vec<NewViolation>,
    /// Fixes done in the period.
    pub fixes: Vec<FixDone>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".to_owned(), |p| format!("{p:.1} %"))
}

impl Digest {
    /// Builds the digest of a stored asset group for the period `period` up to `now`.
    pub async fn build(store: &dyn Store, group: &str, period: Duration, now: DateTime<Utc>) -> Result<Digest> {
        let record = store.group(group).await?;
        let since = now - TimeDelta::from_std(period).unwrap_or(TimeDelta::MAX);
        let latest = store.latest_compliance(Some(group)).await?;
        let previous = store
            .compliance_trend(&TrendQuery {
                group: Some(group.to_owned()),
                until: Some(since + TimeDelta::microseconds(1)),
                limit: 1,
                ..TrendQuery::default()
            })
            .await?
            .pop();
        let mut top_failing: Vec<FailingPolicy> = latest
            .as_ref()
            .map(|s| {
                s.report
                    .policies
                    .iter()
                    .filter(|p| p.open > 0)
                    .map(|p| FailingPolicy {
                        policy_id: p.policy_id.clone(),
                        name: p.name.clone(),
                        open: p.open,
                        percent: p.percent,
                    })
                    .collect()
            })
            .unwrap_or_default();
        top_failing.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.policy_id.cmp(&b.policy_id)));
        top_failing.truncate(TOP_POLICIES);

        let filter = store.group_filter(group, now).await?;
        let open = store
            .all_violations(ViolationFilter {
                statuses: vec![ViolationStatus::Open],
                criteria: Some(filter.clone()),
                ..ViolationFilter::default()
            })
            .await?;
        let new_violations = open
            .into_iter()
            .filter(|v| v.created_at >= since)
            .map(|v| NewViolation {
                policy_id: v.key.policy_id,
                asset: v.key.asset,
                reason: v.reason,
                created_at: v.created_at,
            })
            .collect();

        let mut fixes = Vec::new();
        for r in store.fix_records(&FixFilter { kind: Some(FixKind::Action), ..FixFilter::default() }).await? {
            if r.updated_at < since || !matches!(r.status.as_str(), "applied" | "already_fixed" | "rolled_back") {
                continue;
            }
            let member = match store.asset(&r.asset).await {
                Ok(a) => filter.criteria.matches(&a.asset, now),
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e.into()),
            };
            if member {
                let fix = r.data.get("fix").and_then(Value::as_str).unwrap_or_default().to_owned();
                fixes.push(FixDone { fix, asset: r.asset, status: r.status, at: r.updated_at });
            }
        }
        Ok(Digest {
            group: group.to_owned(),
            owner: record.group.owner,
            since,
            until: now,
            overall: latest.map(|s| s.report.overall),
            previous_overall: previous.map(|s| s.report.overall),
            top_failing,
            new_violations,
            fixes,
        })
    }

    /// The digests of every stored group that has an owner.
    pub async fn build_all(store: &dyn Store, period: Duration, now: DateTime<Utc>) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for g in store.groups().await? {
            if g.group.owner.is_some() {
                out.push(Digest::build(store, &g.group.name, period, now).await?);
            }
        }
        Ok(out)
    }

    /// Plain text.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Compliance digest for {} ({} to {})",
            self.group,
            self.since.format("%Y-%m-%d"),
            self.until.format("%Y-%m-%d")
        );
        let _ =
            writeln!(s, "\nOverall compliance: {} (a week before: {})", pct(self.overall), pct(self.previous_overall));
        let _ = writeln!(s, "\nTop failing policies:");
        if self.top_failing.is_empty() {
            let _ = writeln!(s, "  none");
        }
        for p in &self.top_failing {
            let _ = writeln!(s, "  - {} ({}): {} open, {:.1} %", p.name, p.policy_id, p.open, p.percent);
        }
        let _ = writeln!(s, "\nNew violations: {}", self.new_violations.len());
        for v in &self.new_violations {
            let _ = writeln!(s, "  - {} on {}: {}", v.policy_id, v.asset, v.reason);
        }
        let _ = writeln!(s, "\nFixes done: {}", self.fixes.len());
        for f in &self.fixes {
            let _ = writeln!(s, "  - {} on {} ({}, {})", f.fix, f.asset, f.status, f.at.format("%Y-%m-%d %H:%M"));
        }
        s
    }

    /// HTML (every value escaped).
    #[must_use]
    pub fn render_html(&self) -> String {
        let e = html_escape;
        let mut s = format!(
            "<html><body><h1>Compliance digest for {}</h1><p>{} to {}</p><p>Overall compliance: <b>{}</b> (a week before: {})</p>",
            e(&self.group),
            self.since.format("%Y-%m-%d"),
            self.until.format("%Y-%m-%d"),
            pct(self.overall),
            pct(self.previous_overall)
        );
        s.push_str("<h2>Top failing policies</h2><table><tr><th>policy</th><th>open</th><th>compliance</th></tr>");
        for p in &self.top_failing {
            let _ = write!(
                s,
                "<tr><td>{} ({})</td><td>{}</td><td>{:.1} %</td></tr>",
                e(&p.name),
                e(&p.policy_id),
                p.open,
                p.percent
            );
        }
        let _ = write!(s, "</table><h2>New violations ({})</h2><ul>", self.new_violations.len());
        for v in &self.new_violations {
            let _ = write!(s, "<li>{} on {}: {}</li>", e(&v.policy_id), e(&v.asset.to_string()), e(&v.reason));
        }
        let _ = write!(s, "</ul><h2>Fixes done ({})</h2><ul>", self.fixes.len());
        for f in &self.fixes {
            let _ = write!(s, "<li>{} on {} ({})</li>", e(&f.fix), e(&f.asset.to_string()), e(&f.status));
        }
        s.push_str("</ul></body></html>");
        s
    }

    /// The digest as a message to the group's owner.
    #[must_use]
    pub fn message(&self) -> Message {
        let mut m = Message::new(
            MessageKind::Digest,
            self.owner.iter().cloned().collect(),
            format!("Weekly compliance digest: {} at {}", self.group, pct(self.overall)),
            self.render_text(),
        )
        .with_data(serde_json::to_value(self).unwrap_or(Value::Null));
        m.html = Some(self.render_html());
        m
    }
}
