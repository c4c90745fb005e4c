//! Compliance maths.
//!
//! - **Policy**: `(assessed − open) / assessed` as a percentage, where the
//!   assessed assets are the assets in scope (judged by one of the policy's
//!   rules: pass, fail or error) less those whose result is unknown (the rule
//!   errored, and no rule of the policy has them open). 100 % when nothing was
//!   assessed. Exempted violations count as compliant. Unknown results are
//!   counted apart and leave the figure alone either way: a rule that starts
//!   erroring neither lowers nor raises compliance. In the counts each asset
//!   counts once, by its worst violation of the policy (open, else unknown,
//!   else exempted), and only assets in scope count.
//! - **Category**: the mean of its policies' figures weighted by severity
//!   (critical 10, high 5, medium 3, low 1), over the policies that assessed
//!   some asset; 100 % and `assessed: false` when none did.
//! - **Overall**: the mean of the assessed categories weighted by the
//!   category weights (security 50, governance 20, cost 20, tagging 10 by
//!   default); 100 % when nothing was assessed. The mandatory-tag figure
//!   below is reported on its own; the tagging *category* is made of tagging
//!   policies.
//! - **Tagging**: assets carrying every mandatory tag (with a non-empty value)
//!   over taggable assets; 100 % with no mandatory tags or no taggable asset.
//!
//! A report for an asset group restricts every figure to the group's members.

use std::collections::{BTreeMap, HashMap};

use fixedbitset::FixedBitSet;
use serde::{Deserialize, Serialize};

use crate::asset::ResourceKind;
use crate::engine::Evaluation;
use crate::inventory::Inventory;
use crate::policy::{Category, Severity};
use crate::violation::{Violation, ViolationStatus};

/// How to compute compliance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceConfig {
    /// The weight of each category in the overall figure.
    #[serde(default = "default_weights")]
    pub category_weights: BTreeMap<Category, f64>,
    /// The tags every taggable asset must carry.
    #[serde(default)]
    pub mandatory_tags: Vec<String>,
    /// The kinds that can carry tags; `None` for every kind.
    #[serde(default)]
    pub taggable_kinds: Option<Vec<ResourceKind>>,
}

fn default_weights() -> BTreeMap<Category, f64> {
    BTreeMap::from([
        (Category::Security, 50.0),
        (Category::Governance, 20.0),
        (Category::Cost, 20.0),
        (Category::Tagging, 10.0),
    ])
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self { category_weights: default_weights(), mandatory_tags: Vec::new(), taggable_kinds: None }
    }
}

/// One policy's compliance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyCompliance {
    /// The policy id.
    pub policy_id: String,
    /// The policy name.
    pub name: String,
    /// The policy severity.
    pub severity: Severity,
    /// The policy category.
    pub category: Category,
    /// Assets the policy judged.
    pub assets_in_scope: usize,
    /// Of those, assets with at least one open violation of the policy.
    pub open: usize,
    /// Assets whose only violations of the policy are exempted.
    pub exempted: usize,
    /// Assets with an unknown (errored) result and no open violation.
    pub unknown: usize,
    /// The compliance percentage, 0 to 100.
    pub percent: f64,
}

/// One category's compliance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryCompliance {
    /// The category.
    pub category: Category,
    /// The compliance percentage, 0 to 100.
    pub percent: f64,
    /// Whether some policy of the category had assets in scope.
    pub assessed: bool,
    /// How many policies of the category were evaluated.
    pub policies: usize,
    /// Open violations (distinct policy × asset) in the category.
    pub open: usize,
}

/// Tagging compliance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaggingCompliance {
    /// Assets that can carry tags.
    pub taggable: usize,
    /// Of those, assets carrying every mandatory tag.
    pub tagged: usize,
    /// The compliance percentage, 0 to 100.
    pub percent: f64,
    /// For each mandatory tag, how many taggable assets lack it.
    pub missing: BTreeMap<String, usize>,
}

/// A compliance report for the whole inventory or one asset group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    /// The asset group, or `None` for everything.
    pub group: Option<String>,
    /// Assets considered.
    pub assets: usize,
    /// The overall percentage, 0 to 100.
    pub overall: f64,
    /// Per category, in category order.
    pub categories: Vec<CategoryCompliance>,
    /// Per evaluated policy, in evaluation order.
    pub policies: Vec<PolicyCompliance>,
    /// Tagging.
    pub tagging: TaggingCompliance,
    /// Open violations (distinct policy × asset).
    pub open: usize,
    /// Exempted violations.
    pub exempted: usize,
    /// Unknown (errored) results, reported apart from compliance.
    pub unknown: usize,
}

/// Computes compliance reports from one scan's inventory, evaluation and
/// reconciled violations.
#[derive(Debug)]
pub struct Compliance<'a> {
    inventory: &'a Inventory,
    evaluation: &'a Evaluation,
    config: &'a ComplianceConfig,
    /// Per policy id: assets (by position) with an open, exempted, unknown violation.
    marks: HashMap<&'a str, [FixedBitSet; 3]>,
}

const OPEN: usize = 0;
const EXEMPTED: usize = 1;
const UNKNOWN: usize = 2;

impl<'a> Compliance<'a> {
    /// Prepares reports. `violations` are the reconciled violations; those
    /// of assets not in the inventory are ignored.
    #[must_use]
    pub fn new(
        inventory: &'a Inventory,
        evaluation: &'a Evaluation,
        violations: &'a [Violation],
        config: &'a ComplianceConfig,
    ) -> Self {
        let mut marks: HashMap<&str, [FixedBitSet; 3]> = HashMap::new();
        let n = inventory.len();
        for v in violations {
            let slot = match v.status {
                ViolationStatus::Open => OPEN,
                ViolationStatus::Exempted => EXEMPTED,
                ViolationStatus::Unknown => UNKNOWN,
                ViolationStatus::Closed => continue,
            };
            let Some(pos) = inventory.position(&v.key.asset) else { continue };
            let sets = marks.entry(v.key.policy_id.as_str()).or_insert_with(|| {
                [FixedBitSet::with_capacity(n), FixedBitSet::with_capacity(n), FixedBitSet::with_capacity(n)]
            });
            sets[slot].insert(pos);
        }
        Self { inventory, evaluation, config, marks }
    }

    /// The report over every asset.
    #[must_use]
    pub fn overall(&self) -> ComplianceReport {
        self.report(None, None)
    }

    /// The report restricted to the members (by position) of an asset group.
    #[must_use]
    pub fn for_group(&self, name: &str, members: &FixedBitSet) -> ComplianceReport {
        self.report(Some(name), Some(members))
    }

    fn report(&self, group: Option<&str>, members: Option<&FixedBitSet>) -> ComplianceReport {
        let restrict = |set: &FixedBitSet| -> FixedBitSet {
            match members {
                Some(m) => {
                    let mut s = set.clone();
                    s.intersect_with(m);
                    s
                }
                None => set.clone(),
            }
        };
        let mut policies = Vec::with_capacity(self.evaluation.policies.len());
        let (mut open_total, mut exempted_total, mut unknown_total) = (0, 0, 0);
        for p in &self.evaluation.policies {
            let in_scope = restrict(&p.in_scope);
            let scoped = in_scope.count_ones(..);
            // Marks count only for assets in scope, each asset once, by its worst status.
            let marked = |slot: usize, sets: &[FixedBitSet; 3]| {
                let mut s = sets[slot].clone();
                s.intersect_with(&in_scope);
                s
            };
            let (open, exempted, unknown) = match self.marks.get(p.meta.id.as_str()) {
                Some(sets) => {
                    let open_set = marked(OPEN, sets);
                    let open = open_set.count_ones(..);
                    let mut unknown = marked(UNKNOWN, sets);
                    unknown.difference_with(&open_set);
                    let mut exempted = marked(EXEMPTED, sets);
                    exempted.difference_with(&open_set);
                    exempted.difference_with(&unknown);
                    (open, exempted.count_ones(..), unknown.count_ones(..))
                }
                None => (0, 0, 0),
            };
            open_total += open;
            exempted_total += exempted;
            unknown_total += unknown;
            policies.push(PolicyCompliance {
                policy_id: p.meta.id.clone(),
                name: p.meta.name.clone(),
                severity: p.meta.severity,
                category: p.meta.category,
                assets_in_scope: scoped,
                open,
                exempted,
                unknown,
                percent: percent(scoped - open - unknown, scoped - unknown),
            });
        }

        let categories: Vec<CategoryCompliance> = Category::ALL
            .iter()
            .map(|&c| {
                let of_cat: Vec<&PolicyCompliance> = policies.iter().filter(|p| p.category == c).collect();
                let assessed: Vec<&&PolicyCompliance> =
                    of_cat.iter().filter(|p| p.assets_in_scope > p.unknown).collect();
                let weight: f64 = assessed.iter().map(|p| p.severity.weight()).sum();
                let percent = if weight > 0.0 {
                    clamp(assessed.iter().map(|p| p.severity.weight() * p.percent).sum::<f64>() / weight)
                } else {
                    100.0
                };
                CategoryCompliance {
                    category: c,
                    percent,
                    assessed: !assessed.is_empty(),
                    policies: of_cat.len(),
                    open: of_cat.iter().map(|p| p.open).sum(),
                }
            })
            .collect();

        let (num, den) = categories
            .iter()
            .filter(|c| c.assessed)
            .map(|c| {
                let w = self.config.category_weights.get(&c.category).copied().unwrap_or(0.0).max(0.0);
                (w * c.percent, w)
            })
            .fold((0.0, 0.0), |(n, d), (a, b)| (n + a, d + b));
        let overall = if den > 0.0 { clamp(num / den) } else { 100.0 };

        ComplianceReport {
            group: group.map(str::to_owned),
            assets: members.map_or(self.inventory.len(), |m| m.count_ones(..)),
            overall,
            categories,
            policies,
            tagging: self.tagging(members),
            open: open_total,
            exempted: exempted_total,
            unknown: unknown_total,
        }
    }

    fn tagging(&self, members: Option<&FixedBitSet>) -> TaggingCompliance {
        let tags = &self.config.mandatory_tags;
        let mut missing: BTreeMap<String, usize> = tags.iter().map(|t| (t.clone(), 0)).collect();
        let (mut taggable, mut tagged) = (0, 0);
        for (i, a) in self.inventory.assets().iter().enumerate() {
            if members.is_some_and(|m| !m.contains(i)) {
                continue;
            }
            if let Some(kinds) = &self.config.taggable_kinds
                && !kinds.contains(&a.id.kind)
            {
                continue;
            }
            taggable += 1;
            let mut ok = true;
            for t in tags {
                if a.tags.get(t).is_none_or(|v| v.trim().is_empty()) {
                    ok = false;
                    if let Some(n) = missing.get_mut(t) {
                        *n += 1;
                    }
                }
            }
            tagged += usize::from(ok);
        }
        let percent = if tags.is_empty() { 100.0 } else { percent(tagged, taggable) };
        TaggingCompliance { taggable, tagged, percent, missing }
    }
}

fn clamp(x: f64) -> f64 {
    if x.is_nan() { 100.0 } else { x.clamp(0.0, 100.0) }
}

/// `part / whole` as a percentage in 0..=100; 100 when `whole` is 0.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 100.0 } else { clamp(part.min(whole) as f64 * 100.0 / whole as f64) }
}
