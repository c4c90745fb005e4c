//! IAM users, access keys, administrator rights, policies and roles.

use pacbot_core::{Asset, Attr, Category, EvalContext, FnRule, Outcome, Policy, Severity};
use serde_json::json;

use super::document::{denies_everything, grants_everything, public_statements};
use super::{Check, PackConfig, cis, days_since, declarative, meta, strings, time};
use crate::shapes::kind::{GROUP, POLICY, ROLE, USER};

/// Whether an ARN is AWS's managed `AdministratorAccess` (any partition).
fn is_aws_admin(arn: &str) -> bool {
    arn.starts_with("arn:") && arn.ends_with(":iam::aws:policy/AdministratorAccess")
}

fn is_aws_managed(arn: &str) -> bool {
    arn.contains(":iam::aws:policy/")
}

/// What the policies attached to or inlined in one principal grant.
#[derive(Default)]
struct Grants {
    /// Where administrator rights come from: `group admins: attached AWS managed policy AdministratorAccess`.
    admin: Vec<String>,
    /// Whether some policy denies everything unconditionally.
    denied: bool,
    /// Related assets that were needed and not found.
    missing: Vec<String>,
}

impl Grants {
    fn read_document(&mut self, doc: Attr<'_>, source: String) {
        if denies_everything(doc) {
            self.denied = true;
        }
        if let Some(st) = grants_everything(doc) {
            self.admin.push(format!("{source} ({st} allows * on *)"));
        }
    }

    /// Reads the attached and inline policies of a user, group or role.
    fn read_principal(&mut self, owner: &Asset, ctx: &EvalContext<'_>, via: &str) {
        let a = owner.attributes.root();
        for attached in a.field("attached_policies").elements() {
            let Some(arn) = attached.field("policy_arn").as_str() else { continue };
            if is_aws_admin(arn) {
                self.admin.push(format!("{via}attached AWS managed policy AdministratorAccess"));
            } else if is_aws_managed(arn) {
                // Other AWS managed policies are not assets; none grants `*` on `*`.
            } else if let Some(policy) = ctx.related(owner, POLICY, arn) {
                let name = policy.attributes.field("policy_name").as_str().unwrap_or(arn);
                self.read_document(policy.attributes.field("document"), format!("{via}attached policy `{name}`"));
            } else {
                self.missing.push(format!("policy {arn}"));
            }
        }
        for inline in a.field("inline_policies").elements() {
            let name = inline.field("policy_name").as_str().unwrap_or("?");
            self.read_document(inline.field("document"), format!("{via}inline policy `{name}`"));
        }
    }
}

/// Whether a permissions boundary leaves the user below administrator.
fn boundary_caps(user: &Asset, ctx: &EvalContext<'_>) -> Option<String> {
    let arn = user.attributes.field("permissions_boundary_arn").as_str()?;
    if is_aws_admin(arn) {
        return None;
    }
    let grants_all =
        ctx.related(user, POLICY, arn).is_some_and(|p| grants_everything(p.attributes.field("document")).is_some());
    (!grants_all).then(|| arn.to_owned())
}

fn user_admin(asset: &Asset, ctx: &EvalContext<'_>) -> Outcome {
    let mut grants = Grants::default();
    grants.read_principal(asset, ctx, "");
    for group in strings(asset.attributes.field("groups")) {
        match ctx.related(asset, GROUP, group) {
            Some(g) => grants.read_principal(g, ctx, &format!("group `{group}`: ")),
            None => grants.missing.push(format!("group {group}")),
        }
    }
    if grants.admin.is_empty() {
        return if grants.missing.is_empty() {
            Outcome::Pass
        } else {
            Outcome::error(format!("not in the inventory: {}", grants.missing.join(", ")))
        };
    }
    if grants.denied || boundary_caps(asset, ctx).is_some() {
        return Outcome::Pass;
    }
    Outcome::fail_with(
        format!("user {} has administrator rights via {}", asset.id.resource_id, grants.admin.join("; ")),
        json!({"sources": grants.admin}),
    )
}

fn active_keys(user: &Asset) -> impl Iterator<Item = Attr<'_>> {
    user.attributes.field("access_keys").elements().filter(|k| k.field("status").as_str() == Some("Active"))
}

fn key_id(key: Attr<'_>) -> &str {
    key.field("access_key_id").as_str().unwrap_or("?")
}

/// Fails a user when `judge` finds something wrong with one of its active
/// keys: `user dave has active access keys {what}: AKIA… is 151 days old`.
fn key_check(asset: &Asset, what: &str, judge: impl Fn(Attr<'_>) -> Option<String>) -> Outcome {
    let found: Vec<String> = active_keys(asset).filter_map(judge).collect();
    Outcome::check(found.is_empty(), || {
        format!("user {} has active access keys {what}: {}", asset.id.resource_id, found.join(", "))
    })
}

fn old_keys(max_days: u32) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    let what = format!("older than {max_days} days");
    FnRule::new("key-age", [USER], move |asset: &Asset, ctx: &EvalContext<'_>| {
        key_check(asset, &what, |k| {
            let age = days_since(time(k.field("created"))?, ctx.now());
            (age > i64::from(max_days)).then(|| format!("{} is {age} days old", key_id(k)))
        })
    })
}

fn unused_keys(days: u32) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    let what = format!("unused for {days} days or more");
    FnRule::new("key-unused", [USER], move |asset: &Asset, ctx: &EvalContext<'_>| {
        let limit = i64::from(days);
        key_check(asset, &what, |k| match time(k.field("last_used")) {
            Some(used) => {
                let idle = days_since(used, ctx.now());
                (idle >= limit).then(|| format!("{} last used {idle} days ago", key_id(k)))
            }
            None => {
                let age = days_since(time(k.field("created"))?, ctx.now());
                (age >= limit).then(|| format!("{} never used in {age} days", key_id(k)))
            }
        })
    })
}

fn unused_password(days: u32) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("password-unused", [USER], move |asset: &Asset, ctx: &EvalContext<'_>| {
        let a = asset.attributes.root();
        if a.field("password_enabled").as_bool() != Some(true) {
            return Outcome::NotApplicable;
        }
        let limit = i64::from(days);
        let (since, what) = match time(a.field("password_last_used")) {
            Some(t) => (t, "last used"),
            None => match time(a.field("password_last_changed")).or_else(|| time(a.field("create_date"))) {
                Some(t) => (t, "never used since it was set"),
                None => return Outcome::error("the user has a password but no dates to judge its use by"),
            },
        };
        let idle = days_since(since, ctx.now());
        Outcome::check(idle < limit, || {
            format!(
                "user {} console password {what} {idle} days ago ({}), {days} days or more",
                asset.id.resource_id,
                since.format("%Y-%m-%d")
            )
        })
    })
}

fn multiple_keys(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let keys: Vec<&str> = active_keys(asset).map(key_id).collect();
    Outcome::check(keys.len() <= 1, || {
        format!("user {} has {} active access keys: {}", asset.id.resource_id, keys.len(), keys.join(", "))
    })
}

fn direct_policies(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let a = asset.attributes.root();
    let names = |list: &str| -> Vec<String> {
        a.field(list).elements().filter_map(|p| p.field("policy_name").as_str()).map(|n| format!("`{n}`")).collect()
    };
    let (attached, inline) = (names("attached_policies"), names("inline_policies"));
    Outcome::check(attached.is_empty() && inline.is_empty(), || {
        let mut parts = Vec::new();
        if !attached.is_empty() {
            parts.push(format!("attached {}", attached.join(", ")));
        }
        if !inline.is_empty() {
            parts.push(format!("inline {}", inline.join(", ")));
        }
        format!(
            "user {} has policies of its own rather than through groups: {}",
            asset.id.resource_id,
            parts.join("; ")
        )
    })
}

fn managed_full_admin(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let a = asset.attributes.root();
    let attachments = a.field("attachment_count").as_u64().unwrap_or(0);
    if attachments == 0 {
        return Outcome::Pass; // an unattached policy grants nothing
    }
    let doc = a.field("document");
    match grants_everything(doc) {
        Some(st) if !denies_everything(doc) => Outcome::fail(format!(
            "policy `{}` {st} allows * on * and is attached to {attachments} identities",
            a.field("policy_name").as_str().unwrap_or(&asset.id.resource_id)
        )),
        _ => Outcome::Pass,
    }
}

fn inline_full_admin(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let what = asset.id.kind.as_str().rsplit('.').next().unwrap_or("identity");
    let found: Vec<String> = asset
        .attributes
        .field("inline_policies")
        .elements()
        .filter_map(|p| {
            let doc = p.field("document");
            let st = grants_everything(doc).filter(|_| !denies_everything(doc))?;
            Some(format!("inline policy `{}` {st} allows * on *", p.field("policy_name").as_str().unwrap_or("?")))
        })
        .collect();
    Outcome::check(found.is_empty(), || format!("{what} {}: {}", asset.id.resource_id, found.join("; ")))
}

fn public_trust(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    let public = public_statements(asset.attributes.field("assume_role_policy"), &["sts:ExternalId"]);
    Outcome::check(public.is_empty(), || {
        format!("role {} trust policy {} without a restricting condition", asset.id.resource_id, public.join("; "))
    })
}

pub(crate) fn policies(config: &PackConfig) -> Vec<Policy> {
    let days = config.unused_credentials_days;
    vec![
        Policy::new(
            cis(
                meta(
                    "aws-iam-user-console-no-mfa",
                    "IAM user with a console password has no MFA",
                    Severity::High,
                    Category::Security,
                    "A user who can sign in to the console with only a password is one phished or reused password \
                     away from compromise.",
                    "Have the user register an MFA device, or remove the console password if it is not needed.",
                ),
                &["1.10"],
                &["1.10"],
            ),
            declarative(
                "console-mfa",
                &[USER],
                Some("{path: password_enabled, eq: true}"),
                Check::FailWhen("{path: mfa_active, ne: true}"),
                "user {resource_id} can sign in to the console without MFA",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-access-key-old",
                    "IAM access key not rotated",
                    Severity::Medium,
                    Category::Security,
                    &format!(
                        "An active access key older than {} days has had a long time to leak. Inactive keys are \
                         not judged.",
                        config.access_key_max_age_days
                    ),
                    "Create a new key, move its users to it, then deactivate and delete the old one.",
                ),
                &["1.14"],
                &["1.14"],
            )
            .with_fix("iam-deactivate-access-key"),
            old_keys(config.access_key_max_age_days),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-access-key-unused",
                    "IAM access key unused",
                    Severity::Medium,
                    Category::Security,
                    &format!(
                        "An active access key not used for {days} days or more (or never used and that old) is \
                         a credential nobody needs; inactive keys are already disabled and not judged."
                    ),
                    "Deactivate the key, and delete it once nothing breaks.",
                ),
                &["1.12"],
                &["1.12"],
            )
            .with_fix("iam-deactivate-access-key"),
            unused_keys(days),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-user-console-unused",
                    "IAM console password unused",
                    Severity::Medium,
                    Category::Security,
                    &format!("A console password not used for {days} days or more should be disabled."),
                    "Delete the user's login profile; create a new one if the user comes back.",
                ),
                &["1.12"],
                &["1.12"],
            )
            .with_fix("iam-delete-login-profile"),
            unused_password(days),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-user-multiple-active-keys",
                    "IAM user has more than one active access key",
                    Severity::Low,
                    Category::Security,
                    "Two active keys mean twice the credentials to protect; outside a rotation, one is enough.",
                    "Finish the rotation: deactivate and delete the key no longer in use.",
                ),
                &["1.13"],
                &["1.13"],
            ),
            FnRule::new("active-keys", [USER], multiple_keys),
        ),
        Policy::new(
            meta(
                "aws-iam-user-admin",
                "IAM user has administrator rights",
                Severity::High,
                Category::Security,
                "The user is allowed every action on every resource: through the AWS managed AdministratorAccess \
                 policy, a customer managed or inline policy allowing `*` on `*`, or any of those on one of its \
                 groups. An unconditional Deny of everything, or a permissions boundary that does not grant \
                 everything, takes the rights away.",
                "Grant the user (or its group) least-privilege policies; keep administrator access for a few roles \
                 assumed with MFA.",
            ),
            FnRule::new("admin", [USER], user_admin),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-user-direct-policies",
                    "IAM user has policies attached directly",
                    Severity::Low,
                    Category::Governance,
                    "Permissions granted to users one by one drift and are hard to review; they belong on groups \
                     or roles.",
                    "Move the user's policies to a group and add the user to it.",
                ),
                &["1.15"],
                &["1.15"],
            ),
            FnRule::new("direct-policies", [USER], direct_policies),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-policy-full-admin",
                    "IAM policy allows `*:*`",
                    Severity::High,
                    Category::Security,
                    "An attached customer managed policy, or an inline policy of a user, group or role, has a \
                     statement allowing every action on every resource. Unattached managed policies grant nothing \
                     and pass.",
                    "Replace the statement with the actions and resources actually needed.",
                ),
                &["1.16"],
                &["1.16"],
            ),
            FnRule::new("managed", [POLICY], managed_full_admin),
        )
        .with_rule(FnRule::new("inline", [USER, GROUP, ROLE], inline_full_admin)),
        Policy::new(
            meta(
                "aws-iam-role-trust-public",
                "IAM role can be assumed by anyone",
                Severity::Critical,
                Category::Security,
                "The role's trust policy allows the principal `*` to assume it without a condition pinning the \
                 caller's account, organisation or an external id: any AWS account can get its permissions.",
                "Name the accounts or services that may assume the role, or add an aws:PrincipalOrgID or \
                 sts:ExternalId condition.",
            ),
            FnRule::new("trust", [ROLE], public_trust),
        ),
    ]
}
