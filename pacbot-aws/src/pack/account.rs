//! Account-wide settings: the password policy and the root user.

use pacbot_core::{Asset, Category, EvalContext, FnRule, Outcome, Policy, Severity};

use super::{Check, PackConfig, cis, declarative, meta};
use crate::shapes::kind::{ACCOUNT_SUMMARY, PASSWORD_POLICY};

/// The reason when the account has no password policy, or `None`.
fn absent(asset: &Asset) -> Option<Outcome> {
    (asset.attributes.field("present").as_bool() != Some(true)).then(|| {
        Outcome::fail(format!(
            "account {} has no password policy (IAM then accepts any 8-character password, reused at will)",
            asset.id.account
        ))
    })
}

fn min_length(min: u32) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("min-length", [PASSWORD_POLICY], move |asset: &Asset, _: &EvalContext<'_>| {
        if let Some(o) = absent(asset) {
            return o;
        }
        let len = asset.attributes.field("minimum_password_length").as_u64().unwrap_or(0);
        Outcome::check(len >= u64::from(min), || {
            format!("account {} password policy minimum length is {len}, less than {min}", asset.id.account)
        })
    })
}

fn reuse(min: u32) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("reuse", [PASSWORD_POLICY], move |asset: &Asset, _: &EvalContext<'_>| {
        if let Some(o) = absent(asset) {
            return o;
        }
        match asset.attributes.field("password_reuse_prevention").as_u64() {
            None | Some(0) => {
                Outcome::fail(format!("account {} password policy does not prevent password reuse", asset.id.account))
            }
            Some(n) => Outcome::check(n >= u64::from(min), || {
                format!(
                    "account {} password policy remembers {n} previous passwords, fewer than {min}",
                    asset.id.account
                )
            }),
        }
    })
}

fn complexity(asset: &Asset, _: &EvalContext<'_>) -> Outcome {
    if let Some(o) = absent(asset) {
        return o;
    }
    let a = asset.attributes.root();
    let missing: Vec<&str> = [
        ("require_uppercase_characters", "an uppercase letter"),
        ("require_lowercase_characters", "a lowercase letter"),
        ("require_numbers", "a number"),
        ("require_symbols", "a symbol"),
    ]
    .into_iter()
    .filter(|(field, _)| a.field(field).as_bool() != Some(true))
    .map(|(_, what)| what)
    .collect();
    Outcome::check(missing.is_empty(), || {
        format!("account {} password policy does not require {}", asset.id.account, missing.join(", "))
    })
}

pub(crate) fn policies(config: &PackConfig) -> Vec<Policy> {
    vec![
        Policy::new(
            cis(
                meta(
                    "aws-iam-password-policy-min-length",
                    "Password policy allows short passwords",
                    Severity::Medium,
                    Category::Security,
                    &format!(
                        "The account password policy must require at least {} characters (a missing policy \
                         fails).",
                        config.min_password_length
                    ),
                    "Set the account password policy's minimum length to 14 or more.",
                ),
                &["1.8"],
                &["1.8"],
            )
            .with_fix("iam-strict-password-policy"),
            min_length(config.min_password_length),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-password-policy-reuse",
                    "Password policy allows password reuse",
                    Severity::Medium,
                    Category::Security,
                    &format!(
                        "The account password policy must remember the last {} passwords so users cannot cycle \
                         back to an old one (a missing policy fails).",
                        config.password_reuse_prevention
                    ),
                    "Set the account password policy's reuse prevention to 24.",
                ),
                &["1.9"],
                &["1.9"],
            )
            .with_fix("iam-strict-password-policy"),
            reuse(config.password_reuse_prevention),
        ),
        Policy::new(
            meta(
                "aws-iam-password-policy-complexity",
                "Password policy does not require complex passwords",
                Severity::Low,
                Category::Security,
                "The account password policy should require uppercase and lowercase letters, numbers and symbols \
                 (CIS v1.2 1.5–1.8; later versions rely on length alone).",
                "Turn on every character class requirement of the account password policy.",
            )
            .with_fix("iam-strict-password-policy"),
            FnRule::new("complexity", [PASSWORD_POLICY], complexity),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-root-mfa-off",
                    "Root user has no MFA",
                    Severity::Critical,
                    Category::Security,
                    "The root user can do anything in the account, including close it; a password alone must not \
                     be enough to sign in as root.",
                    "Sign in as root and register an MFA device (hardware preferred).",
                ),
                &["1.5"],
                &["1.5"],
            ),
            declarative(
                "root-mfa",
                &[ACCOUNT_SUMMARY],
                None,
                Check::PassWhen("{path: root_mfa_enabled, eq: true}"),
                "the root user of account {account} has no MFA device",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-root-hardware-mfa-off",
                    "Root user has no hardware MFA",
                    Severity::High,
                    Category::Security,
                    "A virtual MFA device lives on a phone or laptop that other people and software use too; the \
                     root user's second factor should be a dedicated hardware or security-key device. Fails when \
                     the root user has no MFA at all, or only a virtual device.",
                    "Sign in as root, register a hardware TOTP token or FIDO security key, and remove the virtual \
                     device.",
                ),
                &["1.6"],
                &["1.6"],
            ),
            declarative(
                "root-hardware-mfa",
                &[ACCOUNT_SUMMARY],
                None,
                Check::PassWhen("{path: root_hardware_mfa, eq: true}"),
                "the root user of account {account} has no hardware MFA device (none, or only a virtual one)",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-iam-root-access-keys",
                    "Root user has access keys",
                    Severity::Critical,
                    Category::Security,
                    "Access keys of the root user give unrestricted, unrestrictable API access to the account.",
                    "Sign in as root, delete its access keys, and use IAM roles instead.",
                ),
                &["1.4"],
                &["1.4"],
            ),
            declarative(
                "root-keys",
                &[ACCOUNT_SUMMARY],
                None,
                Check::FailWhen("{path: root_access_keys_present, eq: true}"),
                "the root user of account {account} has access keys",
            ),
        ),
    ]
}
