//! IAM fixes: access keys, attached and inline policies, the account
//! password policy, quarantining a user, removing a console password.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::types::StatusType;
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::{ParamKind, ParamSpec, Params};

const USER: &[&str] = &["aws.iam.user"];
const USER_OR_ROLE: &[&str] = &["aws.iam.user", "aws.iam.role"];
/// The inline policy [`QuarantineUser`] adds.
pub const QUARANTINE_POLICY: &str = "pacbot-quarantine-deny-all";

aws_fix!(DeactivateKey, DeleteUnusedKey, DeleteInline, PasswordPolicy, QuarantineUser, DeleteLoginProfile);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(DeactivateKey(s.clone())))?;
    c.register(Arc::new(DeleteUnusedKey(s.clone())))?;
    c.register(Arc::new(Attachment { sessions: s.clone(), attach: true }))?;
    c.register(Arc::new(Attachment { sessions: s.clone(), attach: false }))?;
    c.register(Arc::new(DeleteInline(s.clone())))?;
    c.register(Arc::new(PasswordPolicy(s.clone())))?;
    c.register(Arc::new(QuarantineUser(s.clone())))?;
    c.register(Arc::new(DeleteLoginProfile(s.clone())))?;
    Ok(())
}

fn is_role(t: &FixTarget) -> bool {
    t.asset.kind().as_str() == "aws.iam.role"
}

/// The user's access keys: id → status.
async fn keys(c: &aws_sdk_iam::Client, user: &str) -> Result<Vec<(String, String)>> {
    let o = c.list_access_keys().user_name(user).send().await;
    let o = match o {
        Ok(o) => o,
        Err(e) if code(&e) == Some("NoSuchEntity") => {
            return Err(Error::NotFound { what: "user".into(), id: user.into() });
        }
        Err(e) => return Err(sdk(format!("iam:ListAccessKeys `{user}`"))(e)),
    };
    Ok(o.access_key_metadata()
        .iter()
        .map(|k| (k.access_key_id().unwrap_or_default().to_owned(), k.status().map_or("", |s| s.as_str()).to_owned()))
        .collect())
}

const KEY_PARAMS: &[ParamSpec] =
    &[ParamSpec::optional("access_key_id", ParamKind::Text, "the key (every active key of the user when absent)")];

fn active_targets(all: &[(String, String)], p: &Params) -> Vec<String> {
    all.iter()
        .filter(|(id, status)| status == "Active" && p.text("access_key_id").is_none_or(|k| k == id))
        .map(|(id, _)| id.clone())
        .collect()
}

async fn set_key(c: &aws_sdk_iam::Client, user: &str, key: &str, status: StatusType) -> Result<()> {
    c.update_access_key()
        .user_name(user)
        .access_key_id(key)
        .status(status)
        .send()
        .await
        .map_err(sdk(format!("iam:UpdateAccessKey `{key}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for DeactivateKey {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "iam-deactivate-access-key",
            aliases: &["iam_turn_off_access_key", "iam_deactivate_access_key"],
            title: "Deactivates a user's access key (or all its active keys)",
            kinds: USER,
            params: KEY_PARAMS,
            permissions: &["iam:ListAccessKeys", "iam:UpdateAccessKey"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let todo = active_targets(&keys(&self.0.iam(t).await?, t.resource_id()).await?, p);
        if todo.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "no such active key"));
        }
        let changes = todo
            .iter()
            .map(|k| {
                Change::new("iam:UpdateAccessKey", format!("deactivate `{k}`"), json!("Active"), json!("Inactive"))
            })
            .collect();
        Ok(FixPlan::changes(self.info().key, t, "deactivate access keys", changes))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        let all = keys(&self.0.iam(t).await?, t.resource_id()).await?;
        Ok(json!({"keys": all.into_iter().map(|(k, s)| json!({"id": k, "status": s})).collect::<Vec<_>>()}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        let user = t.resource_id();
        let todo = active_targets(&keys(&c, user).await?, p);
        if todo.is_empty() {
            return Ok(ApplyOutcome::already("no such active key"));
        }
        for k in &todo {
            set_key(&c, user, k, StatusType::Inactive).await?;
        }
        Ok(ApplyOutcome::applied(format!("{} key(s) deactivated", todo.len()), json!(keys(&c, user).await?)))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        for k in backup["keys"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let (Some(id), Some("Active")) = (k["id"].as_str(), k["status"].as_str()) {
                set_key(&c, t.resource_id(), id, StatusType::Active).await?;
            }
        }
        Ok(ApplyOutcome::applied("key statuses restored", json!(keys(&c, t.resource_id()).await?)))
    }
}

const DELETE_KEY_PARAMS: &[ParamSpec] = &[
    ParamSpec::required("access_key_id", ParamKind::Text, "the key"),
    ParamSpec::with_default(
        "unused_days",
        ParamKind::Integer { min: 1, max: 3650 },
        "90",
        "how long unused before deleting",
    ),
];

#[async_trait]
impl Fix for DeleteUnusedKey {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "iam-delete-access-key",
            aliases: &["iam_delete_unused_access_key"],
            title: "Deletes an access key unused for a number of days (refuses a recently used one)",
            kinds: USER,
            params: DELETE_KEY_PARAMS,
            permissions: &["iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:DeleteAccessKey"],
            rollback: false,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let c = self.0.iam(t).await?;
        let key = p.text("access_key_id").unwrap_or_default();
        if !keys(&c, t.resource_id()).await?.iter().any(|(k, _)| k == key) {
            return Ok(FixPlan::already_fixed(self.info().key, t, format!("the key `{key}` is gone")));
        }
        let last = self.check_unused(&c, t, key, p).await?;
        Ok(FixPlan::changes(
            self.info().key,
            t,
            format!("delete the unused key `{key}`"),
            vec![Change::new("iam:DeleteAccessKey", "delete", json!({"last_used": last}), Value::Null)],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"keys": keys(&self.0.iam(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        let (user, key) = (t.resource_id(), p.text("access_key_id").unwrap_or_default());
        if !keys(&c, user).await?.iter().any(|(k, _)| k == key) {
            return Ok(ApplyOutcome::already(format!("the key `{key}` is gone")));
        }
        self.check_unused(&c, t, key, p).await?;
        c.delete_access_key()
            .user_name(user)
            .access_key_id(key)
            .send()
            .await
            .map_err(sdk(format!("iam:DeleteAccessKey `{key}`")))?;
        Ok(ApplyOutcome::applied(format!("key `{key}` deleted"), json!(keys(&c, user).await?)))
    }
}

impl DeleteUnusedKey {
    async fn check_unused(&self, c: &aws_sdk_iam::Client, t: &FixTarget, key: &str, p: &Params) -> Result<Value> {
        let o = c
            .get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
            .map_err(sdk(format!("iam:GetAccessKeyLastUsed `{key}`")))?;
        let last = o.access_key_last_used().and_then(|l| l.last_used_date()).map(|d| d.secs());
        let days = p.int("unused_days").unwrap_or(90);
        let now = chrono::Utc::now().timestamp();
        if let Some(secs) = last
            && now - secs < days * 86_400
        {
            return Err(Error::UnsupportedTarget {
                fix: "iam-delete-access-key".to_owned(),
                target: t.asset.id.to_string(),
                reason: format!("the key `{key}` was used in the last {days} days"),
            });
        }
        Ok(json!(last))
    }
}

async fn attached(c: &aws_sdk_iam::Client, t: &FixTarget) -> Result<Vec<String>> {
    let name = t.resource_id();
    let arns: Vec<String> = if is_role(t) {
        let o = c
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(sdk(format!("iam:ListAttachedRolePolicies `{name}`")))?;
        o.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_owned).collect()
    } else {
        let o = c
            .list_attached_user_policies()
            .user_name(name)
            .send()
            .await
            .map_err(sdk(format!("iam:ListAttachedUserPolicies `{name}`")))?;
        o.attached_policies().iter().filter_map(|p| p.policy_arn()).map(str::to_owned).collect()
    };
    Ok(arns)
}

async fn attach(c: &aws_sdk_iam::Client, t: &FixTarget, arn: &str, on: bool) -> Result<()> {
    let name = t.resource_id();
    let op = |what: &str| format!("iam:{what} `{arn}` on `{name}`");
    match (is_role(t), on) {
        (true, true) => c
            .attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(op("AttachRolePolicy"))),
        (true, false) => c
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(op("DetachRolePolicy"))),
        (false, true) => c
            .attach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(op("AttachUserPolicy"))),
        (false, false) => c
            .detach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk(op("DetachUserPolicy"))),
    }
}

const POLICY_ARN: &[ParamSpec] = &[ParamSpec::required("policy_arn", ParamKind::Arn, "the managed policy")];
const ATTACH_PERMS: &[&str] = &[
    "iam:ListAttachedUserPolicies",
    "iam:ListAttachedRolePolicies",
    "iam:AttachUserPolicy",
    "iam:AttachRolePolicy",
    "iam:DetachUserPolicy",
    "iam:DetachRolePolicy",
];

/// Attach (`true`) or detach (`false`) as a fix: shared by both directions.
async fn plan_attach(key: &str, c: &aws_sdk_iam::Client, t: &FixTarget, p: &Params, on: bool) -> Result<FixPlan> {
    let arn = p.text("policy_arn").unwrap_or_default();
    let has = attached(c, t).await?.iter().any(|a| a == arn);
    if has == on {
        let state = if on { "attached" } else { "not attached" };
        return Ok(FixPlan::already_fixed(key, t, format!("`{arn}` is {state}")));
    }
    let (action, what) = if on { ("iam:AttachUserPolicy", "attach") } else { ("iam:DetachUserPolicy", "detach") };
    Ok(FixPlan::changes(key, t, format!("{what} `{arn}`"), vec![Change::new(action, what, json!(has), json!(on))]))
}

async fn apply_attach(c: &aws_sdk_iam::Client, t: &FixTarget, p: &Params, on: bool) -> Result<ApplyOutcome> {
    let arn = p.text("policy_arn").unwrap_or_default();
    if attached(c, t).await?.iter().any(|a| a == arn) == on {
        return Ok(ApplyOutcome::already(format!("`{arn}` is already {}", if on { "attached" } else { "detached" })));
    }
    attach(c, t, arn, on).await?;
    Ok(ApplyOutcome::applied(
        format!("`{arn}` {}", if on { "attached" } else { "detached" }),
        json!(attached(c, t).await?),
    ))
}

async fn restore_attach(c: &aws_sdk_iam::Client, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
    let arn = backup["policy_arn"].as_str().unwrap_or_default();
    let was = backup["attached"].as_array().is_some_and(|a| a.iter().any(|x| x == arn));
    let now = attached(c, t).await?.iter().any(|a| a == arn);
    if was != now {
        attach(c, t, arn, was).await?;
    }
    Ok(ApplyOutcome::applied("attachments restored", json!(attached(c, t).await?)))
}

/// Attaches (`attach`) or detaches a managed policy: one fix each way.
#[derive(Debug)]
pub(crate) struct Attachment {
    sessions: Arc<AwsSessions>,
    attach: bool,
}

#[async_trait]
impl Fix for Attachment {
    fn info(&self) -> FixInfo {
        let (key, aliases, title): (&'static str, &'static [&'static str], &'static str) = if self.attach {
            (
                "iam-attach-policy",
                &["iam_user_attach_policy", "iam_role_attach_policy"],
                "Attaches a managed policy (`policy_arn=`) to a user or role",
            )
        } else {
            (
                "iam-detach-policy",
                &["iam_user_detach_policy", "iam_role_detach_policy"],
                "Detaches a managed policy (`policy_arn=`) from a user or role",
            )
        };
        FixInfo {
            key,
            aliases,
            title,
            kinds: USER_OR_ROLE,
            params: POLICY_ARN,
            permissions: ATTACH_PERMS,
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        plan_attach(self.info().key, &self.sessions.iam(t).await?, t, p, self.attach).await
    }

    async fn backup(&self, t: &FixTarget, p: &Params) -> Result<Value> {
        Ok(json!({"policy_arn": p.text("policy_arn"), "attached": attached(&self.sessions.iam(t).await?, t).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        apply_attach(&self.sessions.iam(t).await?, t, p, self.attach).await
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        restore_attach(&self.sessions.iam(t).await?, t, backup).await
    }
}

/// Decodes the URL-encoding IAM applies to policy documents (moto may not).
fn decode(doc: &str) -> String {
    if !doc.contains('%') {
        return doc.to_owned();
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The user's inline policies: name → document.
async fn inline(c: &aws_sdk_iam::Client, user: &str) -> Result<Vec<(String, String)>> {
    let o =
        c.list_user_policies().user_name(user).send().await.map_err(sdk(format!("iam:ListUserPolicies `{user}`")))?;
    let mut out = Vec::new();
    for name in o.policy_names() {
        let p = c
            .get_user_policy()
            .user_name(user)
            .policy_name(name)
            .send()
            .await
            .map_err(sdk(format!("iam:GetUserPolicy `{name}`")))?;
        out.push((name.clone(), decode(p.policy_document())));
    }
    Ok(out)
}

async fn put_inline(c: &aws_sdk_iam::Client, user: &str, name: &str, doc: &str) -> Result<()> {
    c.put_user_policy()
        .user_name(user)
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .map_err(sdk(format!("iam:PutUserPolicy `{name}` on `{user}`")))?;
    Ok(())
}

async fn delete_inline(c: &aws_sdk_iam::Client, user: &str, name: &str) -> Result<()> {
    c.delete_user_policy()
        .user_name(user)
        .policy_name(name)
        .send()
        .await
        .map_err(sdk(format!("iam:DeleteUserPolicy `{name}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for DeleteInline {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "iam-delete-inline-policies",
            aliases: &["iam_user_delete_inline_policies"],
            title: "Deletes a user's inline policies (their documents are kept in the backup)",
            kinds: USER,
            params: &[],
            permissions: &["iam:ListUserPolicies", "iam:GetUserPolicy", "iam:DeleteUserPolicy", "iam:PutUserPolicy"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let all = inline(&self.0.iam(t).await?, t.resource_id()).await?;
        if all.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the user has no inline policy"));
        }
        let changes = all
            .into_iter()
            .map(|(n, d)| Change::new("iam:DeleteUserPolicy", format!("delete `{n}`"), json!(d), Value::Null))
            .collect();
        Ok(FixPlan::changes(self.info().key, t, "delete the inline policies", changes))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        let all = inline(&self.0.iam(t).await?, t.resource_id()).await?;
        Ok(json!({"policies": all.into_iter().map(|(n, d)| json!({"name": n, "document": d})).collect::<Vec<_>>()}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        let user = t.resource_id();
        let all = inline(&c, user).await?;
        if all.is_empty() {
            return Ok(ApplyOutcome::already("the user has no inline policy"));
        }
        for (name, _) in &all {
            delete_inline(&c, user, name).await?;
        }
        Ok(ApplyOutcome::applied(format!("{} inline policy(ies) deleted", all.len()), json!(inline(&c, user).await?)))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        for p in backup["policies"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let (Some(n), Some(d)) = (p["name"].as_str(), p["document"].as_str()) {
                put_inline(&c, t.resource_id(), n, d).await?;
            }
        }
        Ok(ApplyOutcome::applied("inline policies restored", Value::Null))
    }
}

const PASSWORD_PARAMS: &[ParamSpec] = &[
    ParamSpec::with_default("min_length", ParamKind::Integer { min: 6, max: 128 }, "14", "the least password length"),
    ParamSpec::with_default(
        "reuse_prevention",
        ParamKind::Integer { min: 1, max: 24 },
        "24",
        "how many old passwords cannot be reused",
    ),
    ParamSpec::with_default("max_age_days", ParamKind::Integer { min: 1, max: 1095 }, "90", "the password lifetime"),
];

async fn read_password_policy(c: &aws_sdk_iam::Client) -> Result<Value> {
    match c.get_account_password_policy().send().await {
        Ok(o) => Ok(o.password_policy().map_or(Value::Null, |p| {
            json!({
                "min_length": p.minimum_password_length(),
                "require_symbols": p.require_symbols(),
                "require_numbers": p.require_numbers(),
                "require_uppercase": p.require_uppercase_characters(),
                "require_lowercase": p.require_lowercase_characters(),
                "allow_users_to_change": p.allow_users_to_change_password(),
                "max_age_days": p.max_password_age(),
                "reuse_prevention": p.password_reuse_prevention(),
                "hard_expiry": p.hard_expiry(),
            })
        })),
        Err(e) if code(&e) == Some("NoSuchEntity") => Ok(Value::Null),
        Err(e) => Err(sdk("iam:GetAccountPasswordPolicy")(e)),
    }
}

fn wanted(p: &Params) -> Value {
    json!({
        "min_length": p.int("min_length").unwrap_or(14), "require_symbols": true, "require_numbers": true,
        "require_uppercase": true, "require_lowercase": true, "allow_users_to_change": true,
        "max_age_days": p.int("max_age_days").unwrap_or(90), "reuse_prevention": p.int("reuse_prevention").unwrap_or(24),
        "hard_expiry": false,
    })
}

fn strict_enough(have: &Value, want: &Value) -> bool {
    let n = |v: &Value, k: &str| v[k].as_i64();
    have.is_object()
        && n(have, "min_length") >= n(want, "min_length")
        && ["require_symbols", "require_numbers", "require_uppercase", "require_lowercase"]
            .iter()
            .all(|k| have[*k] == true)
        && n(have, "reuse_prevention") >= n(want, "reuse_prevention")
        && n(have, "max_age_days").is_some_and(|a| a > 0 && Some(a) <= n(want, "max_age_days"))
}

async fn put_password_policy(c: &aws_sdk_iam::Client, v: &Value) -> Result<()> {
    let i = |k: &str| v[k].as_i64().and_then(|n| i32::try_from(n).ok()).filter(|n| *n > 0);
    let b = |k: &str| v[k].as_bool();
    c.update_account_password_policy()
        .set_minimum_password_length(i("min_length"))
        .set_require_symbols(b("require_symbols"))
        .set_require_numbers(b("require_numbers"))
        .set_require_uppercase_characters(b("require_uppercase"))
        .set_require_lowercase_characters(b("require_lowercase"))
        .set_allow_users_to_change_password(b("allow_users_to_change"))
        .set_max_password_age(i("max_age_days"))
        .set_password_reuse_prevention(i("reuse_prevention"))
        .set_hard_expiry(b("hard_expiry"))
        .send()
        .await
        .map_err(sdk("iam:UpdateAccountPasswordPolicy"))?;
    Ok(())
}

#[async_trait]
impl Fix for PasswordPolicy {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "iam-strict-password-policy",
            aliases: &["iam_set_password_policy", "iam_account_password_policy"],
            title: "Sets a strict account password policy (length, all character classes, reuse, maximum age)",
            kinds: &["aws.iam.password_policy", "aws.iam.account_summary"],
            params: PASSWORD_PARAMS,
            permissions: &[
                "iam:GetAccountPasswordPolicy",
                "iam:UpdateAccountPasswordPolicy",
                "iam:DeleteAccountPasswordPolicy",
            ],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let have = read_password_policy(&self.0.iam(t).await?).await?;
        let want = wanted(p);
        if strict_enough(&have, &want) {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the password policy is strict enough"));
        }
        Ok(FixPlan::changes(
            self.info().key,
            t,
            "set a strict password policy",
            vec![Change::new("iam:UpdateAccountPasswordPolicy", "update", have, want)],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"policy": read_password_policy(&self.0.iam(t).await?).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        let want = wanted(p);
        if strict_enough(&read_password_policy(&c).await?, &want) {
            return Ok(ApplyOutcome::already("the password policy is strict enough"));
        }
        put_password_policy(&c, &want).await?;
        Ok(ApplyOutcome::applied("password policy set", read_password_policy(&c).await?))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        if backup["policy"].is_object() {
            put_password_policy(&c, &backup["policy"]).await?;
        } else {
            c.delete_account_password_policy().send().await.map_err(sdk("iam:DeleteAccountPasswordPolicy"))?;
        }
        Ok(ApplyOutcome::applied("password policy restored", read_password_policy(&c).await?))
    }
}

fn deny_all() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "PacbotQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}]}).to_string()
}

#[async_trait]
impl Fix for QuarantineUser {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "iam-quarantine-user",
            aliases: &["iam_quarantine_user"],
            title: "Quarantines a user with an inline explicit deny-all policy",
            kinds: USER,
            params: &[],
            permissions: &["iam:ListUserPolicies", "iam:GetUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let all = inline(&self.0.iam(t).await?, t.resource_id()).await?;
        if all.iter().any(|(n, _)| n == QUARANTINE_POLICY) {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the user is quarantined"));
        }
        let change = Change::new(
            "iam:PutUserPolicy",
            format!("add `{QUARANTINE_POLICY}`"),
            Value::Null,
            serde_json::from_str(&deny_all()).unwrap_or(Value::Null),
        );
        Ok(FixPlan::changes(self.info().key, t, "deny the user everything", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        let all = inline(&self.0.iam(t).await?, t.resource_id()).await?;
        Ok(json!({"inline_policies": all.into_iter().map(|(n, _)| n).collect::<Vec<_>>()}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        let user = t.resource_id();
        if inline(&c, user).await?.iter().any(|(n, _)| n == QUARANTINE_POLICY) {
            return Ok(ApplyOutcome::already("the user is quarantined"));
        }
        put_inline(&c, user, QUARANTINE_POLICY, &deny_all()).await?;
        Ok(ApplyOutcome::applied("user quarantined", json!({"policy": QUARANTINE_POLICY})))
    }

    async fn rollback(&self, t: &FixTarget, _backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        if inline(&c, t.resource_id()).await?.iter().any(|(n, _)| n == QUARANTINE_POLICY) {
            delete_inline(&c, t.resource_id(), QUARANTINE_POLICY).await?;
        }
        Ok(ApplyOutcome::applied("quarantine lifted", Value::Null))
    }
}

// ---------------------------------------------------------------- console password

/// The user's console password (login profile): `null` when it has none.
async fn login_profile(c: &aws_sdk_iam::Client, user: &str) -> Result<Value> {
    match c.get_login_profile().user_name(user).send().await {
        Ok(o) => Ok(o.login_profile().map_or(Value::Null, |p| {
            json!({
                "created": p.create_date().to_string(),
                "password_reset_required": p.password_reset_required(),
            })
        })),
        Err(e) if code(&e) == Some("NoSuchEntity") => Ok(Value::Null),
        Err(e) => Err(sdk(format!("iam:GetLoginProfile `{user}`"))(e)),
    }
}

#[async_trait]
impl Fix for DeleteLoginProfile {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "iam-delete-login-profile",
            aliases: &["iam_delete_login_profile", "iam_remove_console_access"],
            title: "Removes a user's console password (access keys are untouched); it cannot be restored",
            kinds: USER,
            params: &[],
            permissions: &["iam:GetLoginProfile", "iam:DeleteLoginProfile"],
            rollback: false,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let before = login_profile(&self.0.iam(t).await?, t.resource_id()).await?;
        if before.is_null() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the user has no console password"));
        }
        let change = Change::new("iam:DeleteLoginProfile", "remove the console password", before, Value::Null);
        Ok(FixPlan::changes(self.info().key, t, "remove console access", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"login_profile": login_profile(&self.0.iam(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.iam(t).await?;
        let user = t.resource_id();
        if login_profile(&c, user).await?.is_null() {
            return Ok(ApplyOutcome::already("the user has no console password"));
        }
        c.delete_login_profile()
            .user_name(user)
            .send()
            .await
            .map_err(sdk(format!("iam:DeleteLoginProfile `{user}`")))?;
        Ok(ApplyOutcome::applied("console password removed", json!({"login_profile": login_profile(&c, user).await?})))
    }
}
