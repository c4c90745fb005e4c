//! S3 buckets and the account-wide public access block.

use pacbot_core::{Asset, Attr, Category, EvalContext, FnRule, Outcome, Policy, Severity};
use serde_json::json;

use super::document::{denies_insecure_transport, public_statements};
use super::{Check, cis, declarative, meta};
use crate::shapes::kind::{BUCKET, S3_ACCOUNT_SETTINGS};

/// The four public access block settings.
const PAB_FLAGS: [&str; 4] =
    ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"];

/// The account's public access block, when the account settings are in the inventory.
fn account_block<'a>(bucket: &Asset, ctx: &EvalContext<'a>) -> Option<Attr<'a>> {
    ctx.related(bucket, S3_ACCOUNT_SETTINGS, &bucket.id.account)
        .map(|s| s.attributes.field("public_access_block"))
        .filter(|b| !b.is_null())
}

/// Whether a public access block setting is on for the bucket or its account.
/// `Some("the bucket")` / `Some("the account")` says where.
fn block_setting(bucket: &Asset, ctx: &EvalContext<'_>, flag: &str) -> Option<&'static str> {
    if bucket.attributes.field("public_access_block").field(flag).as_bool() == Some(true) {
        Some("the bucket")
    } else if account_block(bucket, ctx).is_some_and(|b| b.field(flag).as_bool() == Some(true)) {
        Some("the account")
    } else {
        None
    }
}

/// Who a public grantee is, by the group URI's last part.
fn public_grantee(uri: &str) -> Option<&'static str> {
    match uri.rsplit('/').next() {
        Some("AllUsers") => Some("AllUsers (everyone)"),
        Some("AuthenticatedUsers") => Some("AuthenticatedUsers (any AWS account)"),
        _ => None,
    }
}

/// Fails a bucket whose ACL gives `permission` (or `FULL_CONTROL`) to a
/// public group, unless `ignore_public_acls` neutralises the ACL.
fn acl_rule(permission: &'static str) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("acl", [BUCKET], move |asset: &Asset, ctx: &EvalContext<'_>| {
        let acl = asset.attributes.field("acl");
        if acl.is_null() {
            return Outcome::error("the bucket's ACL was not collected");
        }
        let grants: Vec<String> = acl
            .field("grants")
            .elements()
            .filter_map(|g| {
                let who = public_grantee(g.field("grantee").field("uri").as_str()?)?;
                match g.field("permission").as_str()? {
                    p if p == permission => Some(format!("{permission} to {who}")),
                    "FULL_CONTROL" => Some(format!("FULL_CONTROL (which includes {permission}) to {who}")),
                    _ => None,
                }
            })
            .collect();
        if grants.is_empty() {
            return Outcome::Pass;
        }
        if block_setting(asset, ctx, "ignore_public_acls").is_some() {
            return Outcome::Pass; // S3 ignores the grant
        }
        Outcome::fail_with(
            format!("bucket {} ACL grants {}", asset.id.resource_id, grants.join(" and ")),
            json!({"grants": grants}),
        )
    })
}

fn public_policy(asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
    let policy = asset.attributes.field("policy");
    if policy.is_null() {
        return Outcome::Pass;
    }
    let public = public_statements(policy, &[]);
    if public.is_empty() {
        return Outcome::Pass;
    }
    if block_setting(asset, ctx, "restrict_public_buckets").is_some() {
        return Outcome::Pass; // S3 limits the policy to the account and AWS services
    }
    Outcome::fail_with(
        format!("bucket {} policy {} without a restricting condition", asset.id.resource_id, public.join("; ")),
        json!({"statements": public, "aws_policy_is_public": asset.attributes.field("policy_is_public").to_value()}),
    )
}

fn bucket_block(asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
    let off: Vec<&str> = PAB_FLAGS.into_iter().filter(|f| block_setting(asset, ctx, f).is_none()).collect();
    Outcome::check(off.is_empty(), || {
        let account = if account_block(asset, ctx).is_some() {
            "nor the account"
        } else if ctx.related(asset, S3_ACCOUNT_SETTINGS, &asset.id.account).is_some() {
            "and the account has no block"
        } else {
            "and no account-wide block is known"
        };
        format!(
            "bucket {}: public access block settings off on the bucket {account}: {}",
            asset.id.resource_id,
            off.join(", ")
        )
    })
}

fn account_block_rule(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let block = asset.attributes.field("public_access_block");
    if block.is_null() {
        return Outcome::fail(format!("account {} has no account-wide S3 public access block", asset.id.account));
    }
    let off: Vec<&str> = PAB_FLAGS.into_iter().filter(|f| block.field(f).as_bool() != Some(true)).collect();
    Outcome::check(off.is_empty(), || {
        format!("account {} S3 public access block settings off: {}", asset.id.account, off.join(", "))
    })
}

fn deny_http(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let policy = asset.attributes.field("policy");
    Outcome::check(!policy.is_null() && denies_insecure_transport(policy), || {
        let what = if policy.is_null() { "has no bucket policy" } else { "has a policy without such a statement" };
        format!(
            "bucket {} does not deny requests without TLS (a Deny on aws:SecureTransport false): it {what}",
            asset.id.resource_id
        )
    })
}

fn acl_policy(permission: &'static str, id_part: &str, effect: &str, severity: Severity) -> Policy {
    Policy::new(
        meta(
            &format!("aws-s3-public-acl-{id_part}"),
            &format!("S3 bucket ACL grants {permission} to everyone"),
            severity,
            Category::Security,
            &format!(
                "The bucket's ACL grants {permission} (or FULL_CONTROL) to AllUsers or AuthenticatedUsers: {effect} \
                 A public access block that ignores public ACLs (bucket or account) neutralises the grant."
            ),
            "Remove the grant from the bucket ACL, and turn on the bucket's public access block (ignore_public_acls).",
        )
        .with_fix("s3-remove-public-acl"),
        acl_rule(permission),
    )
}

pub(crate) fn policies() -> Vec<Policy> {
    vec![
        acl_policy("READ", "read", "anyone can list the bucket's objects.", Severity::High),
        acl_policy("WRITE", "write", "anyone can create, overwrite and delete objects.", Severity::Critical),
        acl_policy(
            "READ_ACP",
            "read-acp",
            "anyone can read the bucket's ACL and learn who has access.",
            Severity::Medium,
        ),
        acl_policy(
            "WRITE_ACP",
            "write-acp",
            "anyone can rewrite the ACL and so give themselves full control.",
            Severity::Critical,
        ),
        Policy::new(
            meta(
                "aws-s3-public-policy",
                "S3 bucket policy allows public access",
                Severity::Critical,
                Category::Security,
                "A bucket policy statement allows the principal `*` (or {\"AWS\": \"*\"}) without a condition that \
                 pins callers to a source IP range, VPC, endpoint, account or organisation. Deny statements and \
                 statements naming principals (the own account included) are not public; restrict_public_buckets \
                 on the bucket or account neutralises the statement.",
                "Name the principals that need access, or add a condition on aws:SourceVpce / aws:PrincipalOrgID; \
                 turn on the bucket's public access block.",
            )
            .with_fix("s3-block-public-access"),
            FnRule::new("policy", [BUCKET], public_policy),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-s3-public-access-block-off",
                    "S3 bucket is not covered by a public access block",
                    Severity::Medium,
                    Category::Security,
                    "Each of the four public access block settings must be on for the bucket, either on the bucket \
                     itself or account-wide, so that no future ACL or policy can make it public.",
                    "Turn on all four public access block settings on the bucket (or for the account).",
                ),
                &["2.1.5"],
                &["2.1.4"],
            )
            .with_fix("s3-block-public-access"),
            FnRule::new("public-access-block", [BUCKET], bucket_block),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-s3-account-public-access-block-off",
                    "Account-wide S3 public access block is off",
                    Severity::High,
                    Category::Security,
                    "The account-level public access block protects every bucket, present and future, from being \
                     made public by an ACL or policy.",
                    "Turn on all four settings of the account's S3 public access block (S3 Control).",
                ),
                &["2.1.5"],
                &["2.1.4"],
            )
            .with_fix("s3-account-block-public-access"),
            FnRule::new("account-public-access-block", [S3_ACCOUNT_SETTINGS], account_block_rule),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-s3-default-encryption-off",
                    "S3 bucket has no default encryption",
                    Severity::Medium,
                    Category::Security,
                    "Without a default encryption rule, objects uploaded without encryption headers are stored as \
                     sent (buckets created since 2023 get SSE-S3 by default).",
                    "Configure default encryption (SSE-S3 or SSE-KMS) on the bucket.",
                ),
                &["2.1.1"],
                &[],
            )
            .with_fix("s3-enable-default-encryption"),
            declarative(
                "encryption",
                &[BUCKET],
                None,
                Check::PassWhen("{path: 'encryption.rules[*].sse_algorithm', exists: true}"),
                "bucket {resource_id} has no default encryption",
            ),
        ),
        Policy::new(
            meta(
                "aws-s3-versioning-off",
                "S3 bucket versioning is off",
                Severity::Low,
                Category::Governance,
                "Without versioning, an overwritten or deleted object cannot be recovered.",
                "Enable versioning on the bucket (and a lifecycle rule to expire old versions).",
            )
            .with_fix("s3-enable-versioning"),
            declarative(
                "versioning",
                &[BUCKET],
                None,
                Check::FailWhen("{path: versioning.status, ne: Enabled}"),
                "bucket {resource_id} does not have versioning enabled (status: {versioning.status})",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-s3-mfa-delete-off",
                    "S3 bucket does not require MFA to delete versions",
                    Severity::Low,
                    Category::Governance,
                    "MFA delete makes deleting object versions or suspending versioning require the root user's MFA \
                     code, protecting against a stolen credential wiping the bucket's history.",
                    "As the root user, enable versioning with MFA delete on the bucket.",
                ),
                &["2.1.3"],
                &["2.1.2"],
            ),
            declarative(
                "mfa-delete",
                &[BUCKET],
                None,
                Check::FailWhen("{path: versioning.mfa_delete, ne: Enabled}"),
                "bucket {resource_id} does not have MFA delete enabled",
            ),
        ),
        Policy::new(
            meta(
                "aws-s3-access-logging-off",
                "S3 bucket access logging is off",
                Severity::Low,
                Category::Governance,
                "Without server access logging there is no record of who read or changed the bucket's objects.",
                "Enable server access logging to a dedicated log bucket.",
            )
            .with_fix("s3-enable-access-logging"),
            declarative(
                "logging",
                &[BUCKET],
                None,
                Check::PassWhen("{path: logging.target_bucket, exists: true}"),
                "bucket {resource_id} has no server access logging",
            ),
        ),
        Policy::new(
            meta(
                "aws-s3-website-hosting",
                "S3 bucket hosts a static website",
                Severity::Medium,
                Category::Security,
                "A website endpoint serves the bucket over plain HTTP and usually comes with public read access; \
                 CloudFront with an origin access control serves the same content privately.",
                "Remove the website configuration and serve the content through CloudFront.",
            ),
            declarative(
                "website",
                &[BUCKET],
                None,
                Check::FailWhen("{path: website, exists: true}"),
                "bucket {resource_id} is configured as a static website",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-s3-insecure-transport-allowed",
                    "S3 bucket policy does not deny HTTP requests",
                    Severity::Medium,
                    Category::Security,
                    "Unless the bucket policy denies requests where aws:SecureTransport is false, objects can be \
                     read and written over unencrypted HTTP.",
                    "Add a statement that denies s3:* to * when aws:SecureTransport is false.",
                ),
                &["2.1.2"],
                &["2.1.1"],
            )
            .with_fix("s3-deny-insecure-transport"),
            FnRule::new("deny-http", [BUCKET], deny_http),
        ),
    ]
}
