//! Where resources live and how they are tagged.

use pacbot_core::{Asset, Category, EvalContext, FnRule, Outcome, Policy, Severity};

use super::{PackConfig, meta};
use crate::shapes::kind::{ADDRESS, BUCKET, INSTANCE, SECURITY_GROUP, SNAPSHOT, VOLUME, VPC};

/// The kinds the tagging and region policies judge: resources someone
/// created and owns. Default VPCs and default security groups, which AWS
/// creates in every region, are not judged.
pub(crate) const OWNED: [&str; 7] = [INSTANCE, VOLUME, SNAPSHOT, ADDRESS, BUCKET, SECURITY_GROUP, VPC];

fn is_aws_default(asset: &Asset) -> bool {
    asset.attributes.field("is_default").as_bool() == Some(true)
}

/// The kind in reasons: `security group`.
fn what(asset: &Asset) -> String {
    asset.id.kind.as_str().rsplit('.').next().unwrap_or("resource").replace('_', " ")
}

fn region_rule(approved: Vec<String>) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("approved-region", OWNED, move |asset: &Asset, _: &EvalContext<'_>| {
        if approved.is_empty() || is_aws_default(asset) {
            return Outcome::NotApplicable;
        }
        let region = &asset.id.region;
        Outcome::check(approved.iter().any(|r| r == region), || {
            format!(
                "{} {} is in {region}, not an approved region ({})",
                what(asset),
                asset.id.resource_id,
                approved.join(", ")
            )
        })
    })
}

fn tags_rule(mandatory: Vec<String>) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("mandatory-tags", OWNED, move |asset: &Asset, _: &EvalContext<'_>| {
        if mandatory.is_empty() || is_aws_default(asset) {
            return Outcome::NotApplicable;
        }
        let missing: Vec<String> = mandatory
            .iter()
            .filter(|key| asset.tags.get(key).is_none_or(|v| v.trim().is_empty()))
            .map(|key| {
                let near = asset.tags.keys().find(|k| k != key && k.eq_ignore_ascii_case(key));
                match (near, asset.tags.get(key)) {
                    (_, Some(_)) => format!("{key} (empty)"),
                    (Some(k), None) => format!("{key} (found `{k}`: tag keys are case-sensitive)"),
                    (None, None) => key.clone(),
                }
            })
            .collect();
        Outcome::check(missing.is_empty(), || {
            format!("{} {} lacks mandatory tags: {}", what(asset), asset.id.resource_id, missing.join(", "))
        })
    })
}

pub(crate) fn policies(config: &PackConfig) -> Vec<Policy> {
    vec![
        Policy::new(
            meta(
                "aws-region-not-approved",
                "Resource in a region that is not approved",
                Severity::Medium,
                Category::Governance,
                "Instances, volumes, snapshots, elastic IPs, buckets, and security groups and VPCs other than AWS's \
                 defaults must live in the configured approved regions; anything elsewhere escapes the controls \
                 set up there (and may break data residency). Disabled until approved regions are configured.",
                "Move the resource to an approved region and delete it where it is, or approve the region.",
            ),
            region_rule(config.approved_regions.clone()),
        )
        .enabled(!config.approved_regions.is_empty()),
        Policy::new(
            meta(
                "aws-tagging-mandatory-tags",
                "Resource lacks mandatory tags",
                Severity::Low,
                Category::Tagging,
                &format!(
                    "Instances, volumes, snapshots, elastic IPs, buckets, and non-default security groups and \
                     VPCs must carry the tags {} with a non-empty value; keys match exactly (`environment` is \
                     not `Environment`).",
                    config.mandatory_tags.join(", ")
                ),
                "Add the missing tags with their exact keys (and enforce them with a tag policy or SCP).",
            ),
            tags_rule(config.mandatory_tags.clone()),
        )
        .enabled(!config.mandatory_tags.is_empty()),
    ]
}
