//! S3 fixes: public access block, public ACL grants, public policy
//! statements, default encryption, versioning, access logging, a statement
//! denying plain HTTP.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketLoggingStatus, BucketVersioningStatus, Grant, Grantee, LoggingEnabled, Owner,
    Permission, PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Type as GranteeType, VersioningConfiguration,
};
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::{ParamKind, ParamSpec, Params};

const BUCKET: &[&str] = &["aws.s3.bucket"];
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

aws_fix!(
    BlockPublicAccess,
    RemovePublicAcl,
    RemovePublicPolicy,
    EnableEncryption,
    EnableVersioning,
    EnableLogging,
    DenyInsecureTransport,
);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(BlockPublicAccess(s.clone())))?;
    c.register(Arc::new(RemovePublicAcl(s.clone())))?;
    c.register(Arc::new(RemovePublicPolicy(s.clone())))?;
    c.register(Arc::new(EnableEncryption(s.clone())))?;
    c.register(Arc::new(EnableVersioning(s.clone())))?;
    c.register(Arc::new(EnableLogging(s.clone())))?;
    c.register(Arc::new(DenyInsecureTransport(s.clone())))?;
    Ok(())
}

fn build_err(op: &str) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> Error + '_ {
    move |e| Error::provider("aws", op, e.to_string())
}

fn not_found(bucket: &str) -> Error {
    Error::NotFound { what: "bucket".to_owned(), id: bucket.to_owned() }
}

/// Maps NoSuchBucket to NotFound, and the given "absent" code to `Ok(None)`.
fn absent<T, E>(r: std::result::Result<T, E>, none_code: &str, bucket: &str, op: &str) -> Result<Option<T>>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if code(&e) == Some(none_code) => Ok(None),
        Err(e) if code(&e) == Some("NoSuchBucket") => Err(not_found(bucket)),
        Err(e) => Err(sdk(format!("{op} on `{bucket}`"))(e)),
    }
}

// ---------------------------------------------------------------- public access block

async fn read_pab(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Value> {
    let r = c.get_public_access_block().bucket(bucket).send().await;
    Ok(match absent(r, "NoSuchPublicAccessBlockConfiguration", bucket, "s3:GetBucketPublicAccessBlock")? {
        Some(o) => o.public_access_block_configuration().map_or(Value::Null, |p| {
            pab_value([
                p.block_public_acls(),
                p.ignore_public_acls(),
                p.block_public_policy(),
                p.restrict_public_buckets(),
            ])
        }),
        None => Value::Null,
    })
}

/// The four settings of a public access block, in this order (bucket and account alike).
const PAB_FLAGS: [&str; 4] =
    ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"];

/// A public access block as JSON (an absent setting is off).
pub(super) fn pab_value(flags: [Option<bool>; 4]) -> Value {
    Value::Object(
        PAB_FLAGS.iter().zip(flags).map(|(k, v)| ((*k).to_owned(), Value::Bool(v.unwrap_or(false)))).collect(),
    )
}

/// The four settings of a public access block's JSON (a missing one is off).
pub(super) fn pab_flags(v: &Value) -> [bool; 4] {
    PAB_FLAGS.map(|k| v.get(k).and_then(Value::as_bool).unwrap_or(false))
}

/// Every setting on.
pub(super) fn pab_all() -> Value {
    pab_value([Some(true); 4])
}

async fn put_pab(c: &aws_sdk_s3::Client, bucket: &str, v: &Value) -> Result<()> {
    let [acls, ignore, policy, restrict] = pab_flags(v);
    let conf = PublicAccessBlockConfiguration::builder()
        .block_public_acls(acls)
        .ignore_public_acls(ignore)
        .block_public_policy(policy)
        .restrict_public_buckets(restrict)
        .build();
    c.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(conf)
        .send()
        .await
        .map_err(sdk(format!("s3:PutBucketPublicAccessBlock on `{bucket}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for BlockPublicAccess {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-block-public-access",
            aliases: &["s3_block_public_access", "s3_enable_block_public_access"],
            title: "Turns on all four settings of the bucket's public access block",
            kinds: BUCKET,
            params: &[],
            permissions: &["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let before = read_pab(&self.0.s3(t).await?, t.resource_id()).await?;
        if before == pab_all() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the public access block is fully on"));
        }
        let change = Change::new("s3:PutBucketPublicAccessBlock", "block public ACLs and policies", before, pab_all());
        Ok(FixPlan::changes(self.info().key, t, "turn on the bucket's public access block", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"public_access_block": read_pab(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        if read_pab(&c, t.resource_id()).await? == pab_all() {
            return Ok(ApplyOutcome::already("the public access block is fully on"));
        }
        put_pab(&c, t.resource_id(), &pab_all()).await?;
        Ok(ApplyOutcome::applied("public access block turned on", read_pab(&c, t.resource_id()).await?))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        match backup.get("public_access_block") {
            Some(v) if v.is_object() => put_pab(&c, bucket, v).await?,
            _ => {
                c.delete_public_access_block()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(sdk(format!("s3:PutBucketPublicAccessBlock on `{bucket}`")))?;
            }
        }
        Ok(ApplyOutcome::applied("public access block restored", read_pab(&c, bucket).await?))
    }
}

// ---------------------------------------------------------------- ACL grants

fn grant_json(g: &Grant) -> Value {
    let grantee = g.grantee().map_or(Value::Null, |e| {
        json!({
            "type": e.r#type().as_str(), "id": e.id(), "uri": e.uri(),
            "display_name": e.display_name(), "email": e.email_address(),
        })
    });
    json!({"grantee": grantee, "permission": g.permission().map(Permission::as_str)})
}

fn is_public(g: &Value) -> bool {
    matches!(g["grantee"]["uri"].as_str(), Some(ALL_USERS | AUTH_USERS))
}

async fn read_acl(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Value> {
    let o = c.get_bucket_acl().bucket(bucket).send().await;
    let o = absent(o, "-", bucket, "s3:GetBucketAcl")?.ok_or_else(|| not_found(bucket))?;
    let owner = o.owner().map_or(Value::Null, |w| json!({"id": w.id(), "display_name": w.display_name()}));
    Ok(json!({"owner": owner, "grants": o.grants().iter().map(grant_json).collect::<Vec<_>>()}))
}

async fn put_acl(c: &aws_sdk_s3::Client, bucket: &str, acl: &Value) -> Result<()> {
    let op = "s3:PutBucketAcl";
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let owner =
        Owner::builder().set_id(s(&acl["owner"], "id")).set_display_name(s(&acl["owner"], "display_name")).build();
    let mut grants = Vec::new();
    for g in acl["grants"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let e = &g["grantee"];
        let grantee = Grantee::builder()
            .r#type(GranteeType::from(e["type"].as_str().unwrap_or_default()))
            .set_id(s(e, "id"))
            .set_uri(s(e, "uri"))
            .set_display_name(s(e, "display_name"))
            .set_email_address(s(e, "email"))
            .build()
            .map_err(build_err(op))?;
        grants.push(
            Grant::builder()
                .grantee(grantee)
                .set_permission(s(g, "permission").map(|p| Permission::from(p.as_str())))
                .build(),
        );
    }
    let policy = AccessControlPolicy::builder().owner(owner).set_grants(Some(grants)).build();
    c.put_bucket_acl()
        .bucket(bucket)
        .access_control_policy(policy)
        .send()
        .await
        .map_err(sdk(format!("{op} on `{bucket}`")))?;
    Ok(())
}

fn without_public(acl: &Value) -> (Value, Vec<Value>) {
    let grants = acl["grants"].as_array().cloned().unwrap_or_default();
    let (public, kept): (Vec<Value>, Vec<Value>) = grants.into_iter().partition(is_public);
    let mut out = acl.clone();
    out["grants"] = Value::Array(kept);
    (out, public)
}

#[async_trait]
impl Fix for RemovePublicAcl {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-remove-public-acl",
            aliases: &["s3_delete_acls", "s3_remove_public_acl_grants"],
            title: "Deletes the bucket ACL's grants to everyone and to any authenticated AWS user",
            kinds: BUCKET,
            params: &[],
            permissions: &["s3:GetBucketAcl", "s3:PutBucketAcl"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let acl = read_acl(&self.0.s3(t).await?, t.resource_id()).await?;
        let (_, public) = without_public(&acl);
        if public.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the ACL grants nothing to the public"));
        }
        let changes = public
            .into_iter()
            .map(|g| {
                let what = format!(
                    "delete the {} grant to {}",
                    g["permission"].as_str().unwrap_or("?"),
                    g["grantee"]["uri"].as_str().unwrap_or("?")
                );
                Change::new("s3:PutBucketAcl", what, g, Value::Null)
            })
            .collect();
        Ok(FixPlan::changes(self.info().key, t, "delete public grants from the bucket ACL", changes))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"acl": read_acl(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let acl = read_acl(&c, t.resource_id()).await?;
        let (kept, public) = without_public(&acl);
        if public.is_empty() {
            return Ok(ApplyOutcome::already("the ACL grants nothing to the public"));
        }
        put_acl(&c, t.resource_id(), &kept).await?;
        Ok(ApplyOutcome::applied(
            format!("{} public grant(s) deleted", public.len()),
            read_acl(&c, t.resource_id()).await?,
        ))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        put_acl(&c, t.resource_id(), &backup["acl"]).await?;
        Ok(ApplyOutcome::applied("ACL restored", read_acl(&c, t.resource_id()).await?))
    }
}

// ---------------------------------------------------------------- policy statements

/// Whether a statement allows anyone (principal `*`, unconditioned).
fn public_statement(s: &Value) -> bool {
    let anyone = |p: &Value| match p {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(|x| x == "*"),
        _ => false,
    };
    s["Effect"] == "Allow"
        && s.get("Condition").is_none_or(|c| c.as_object().is_none_or(serde_json::Map::is_empty))
        && match &s["Principal"] {
            Value::String(p) => p == "*",
            Value::Object(m) => m.get("AWS").is_some_and(anyone),
            _ => false,
        }
}

async fn read_policy(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<String>> {
    let r = c.get_bucket_policy().bucket(bucket).send().await;
    Ok(absent(r, "NoSuchBucketPolicy", bucket, "s3:GetBucketPolicy")?.and_then(|o| o.policy().map(str::to_owned)))
}

/// The policy without public statements, and the statements removed.
fn strip_public(text: &str) -> Result<(Option<Value>, Vec<Value>)> {
    let mut doc: Value = serde_json::from_str(text)
        .map_err(|e| Error::provider("aws", "s3:GetBucketPolicy", format!("the bucket policy is not JSON: {e}")))?;
    let statements = match doc.get("Statement").cloned() {
        Some(Value::Array(a)) => a,
        Some(single) => vec![single],
        None => Vec::new(),
    };
    let (public, kept): (Vec<Value>, Vec<Value>) = statements.into_iter().partition(public_statement);
    if kept.is_empty() {
        return Ok((None, public));
    }
    doc["Statement"] = Value::Array(kept);
    Ok((Some(doc), public))
}

async fn write_policy(c: &aws_sdk_s3::Client, bucket: &str, policy: Option<&str>) -> Result<()> {
    match policy {
        Some(p) => {
            c.put_bucket_policy()
                .bucket(bucket)
                .policy(p)
                .send()
                .await
                .map_err(sdk(format!("s3:PutBucketPolicy on `{bucket}`")))?;
        }
        None => {
            c.delete_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .map_err(sdk(format!("s3:DeleteBucketPolicy on `{bucket}`")))?;
        }
    }
    Ok(())
}

#[async_trait]
impl Fix for RemovePublicPolicy {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-remove-public-policy-statements",
            aliases: &["s3_remove_public_policy"],
            title: "Removes the bucket policy's statements that allow anyone (the policy is deleted when none is left)",
            kinds: BUCKET,
            params: &[],
            permissions: &["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let Some(text) = read_policy(&self.0.s3(t).await?, t.resource_id()).await? else {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the bucket has no policy"));
        };
        let (kept, public) = strip_public(&text)?;
        if public.is_empty() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "no statement allows anyone"));
        }
        let what = match &kept {
            Some(_) => format!("remove {} public statement(s)", public.len()),
            None => "delete the policy (every statement is public)".to_owned(),
        };
        let action = if kept.is_some() { "s3:PutBucketPolicy" } else { "s3:DeleteBucketPolicy" };
        let change = Change::new(action, what, Value::Array(public), kept.unwrap_or(Value::Null));
        Ok(FixPlan::changes(self.info().key, t, "remove public statements from the bucket policy", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"policy": read_policy(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        let Some(text) = read_policy(&c, bucket).await? else {
            return Ok(ApplyOutcome::already("the bucket has no policy"));
        };
        let (kept, public) = strip_public(&text)?;
        if public.is_empty() {
            return Ok(ApplyOutcome::already("no statement allows anyone"));
        }
        write_policy(&c, bucket, kept.as_ref().map(Value::to_string).as_deref()).await?;
        Ok(ApplyOutcome::applied(
            format!("{} public statement(s) removed", public.len()),
            json!({"policy": read_policy(&c, bucket).await?}),
        ))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        write_policy(&c, t.resource_id(), backup["policy"].as_str()).await?;
        Ok(ApplyOutcome::applied("bucket policy restored", backup.clone()))
    }
}

// ---------------------------------------------------------------- default encryption

const ENCRYPTION_PARAMS: &[ParamSpec] = &[
    ParamSpec::with_default(
        "algorithm",
        ParamKind::OneOf(&["AES256", "aws:kms"]),
        "AES256",
        "the server-side encryption",
    ),
    ParamSpec::optional("kms_key_id", ParamKind::Text, "the KMS key, with `aws:kms`"),
];

async fn read_encryption(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Value> {
    let r = c.get_bucket_encryption().bucket(bucket).send().await;
    let Some(o) = absent(r, "ServerSideEncryptionConfigurationNotFoundError", bucket, "s3:GetEncryptionConfiguration")?
    else {
        return Ok(Value::Null);
    };
    let rule = o
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default());
    Ok(rule
        .map_or(Value::Null, |d| json!({"algorithm": d.sse_algorithm().as_str(), "kms_key_id": d.kms_master_key_id()})))
}

async fn put_encryption(c: &aws_sdk_s3::Client, bucket: &str, algorithm: &str, key: Option<&str>) -> Result<()> {
    let op = "s3:PutEncryptionConfiguration";
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(algorithm))
        .set_kms_master_key_id(key.map(str::to_owned))
        .build()
        .map_err(build_err(op))?;
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
    let conf = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_err(op))?;
    c.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(conf)
        .send()
        .await
        .map_err(sdk(format!("{op} on `{bucket}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for EnableEncryption {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-enable-default-encryption",
            aliases: &["s3_enable_encryption"],
            title: "Sets the bucket's default encryption (SSE-S3, or SSE-KMS with a key)",
            kinds: BUCKET,
            params: ENCRYPTION_PARAMS,
            permissions: &["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let before = read_encryption(&self.0.s3(t).await?, t.resource_id()).await?;
        if !before.is_null() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "default encryption is on"));
        }
        let after = json!({"algorithm": p.text("algorithm"), "kms_key_id": p.text("kms_key_id")});
        let change = Change::new("s3:PutEncryptionConfiguration", "set default encryption", before, after);
        Ok(FixPlan::changes(self.info().key, t, "turn on default encryption", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"encryption": read_encryption(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        if !read_encryption(&c, bucket).await?.is_null() {
            return Ok(ApplyOutcome::already("default encryption is on"));
        }
        put_encryption(&c, bucket, p.text("algorithm").unwrap_or("AES256"), p.text("kms_key_id")).await?;
        Ok(ApplyOutcome::applied("default encryption turned on", read_encryption(&c, bucket).await?))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        match backup["encryption"]["algorithm"].as_str() {
            Some(a) => put_encryption(&c, bucket, a, backup["encryption"]["kms_key_id"].as_str()).await?,
            None => {
                c.delete_bucket_encryption()
                    .bucket(bucket)
                    .send()
                    .await
                    .map_err(sdk(format!("s3:PutEncryptionConfiguration on `{bucket}`")))?;
            }
        }
        Ok(ApplyOutcome::applied("default encryption restored", read_encryption(&c, bucket).await?))
    }
}

// ---------------------------------------------------------------- versioning

async fn read_versioning(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<String>> {
    let r = c.get_bucket_versioning().bucket(bucket).send().await;
    let o = absent(r, "-", bucket, "s3:GetBucketVersioning")?.ok_or_else(|| not_found(bucket))?;
    Ok(o.status().map(|s| s.as_str().to_owned()))
}

async fn put_versioning(c: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) -> Result<()> {
    c.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(sdk(format!("s3:PutBucketVersioning on `{bucket}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for EnableVersioning {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-enable-versioning",
            aliases: &["s3_enable_versioning"],
            title: "Turns on bucket versioning (a rollback suspends it: S3 cannot return to never-versioned)",
            kinds: BUCKET,
            params: &[],
            permissions: &["s3:GetBucketVersioning", "s3:PutBucketVersioning"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let before = read_versioning(&self.0.s3(t).await?, t.resource_id()).await?;
        if before.as_deref() == Some("Enabled") {
            return Ok(FixPlan::already_fixed(self.info().key, t, "versioning is on"));
        }
        let change = Change::new("s3:PutBucketVersioning", "turn on versioning", json!(before), json!("Enabled"));
        Ok(FixPlan::changes(self.info().key, t, "turn on versioning", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"status": read_versioning(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        if read_versioning(&c, t.resource_id()).await?.as_deref() == Some("Enabled") {
            return Ok(ApplyOutcome::already("versioning is on"));
        }
        put_versioning(&c, t.resource_id(), BucketVersioningStatus::Enabled).await?;
        Ok(ApplyOutcome::applied(
            "versioning turned on",
            json!({"status": read_versioning(&c, t.resource_id()).await?}),
        ))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        if backup["status"] == "Enabled" {
            return Ok(ApplyOutcome::already("versioning was on before the fix"));
        }
        let c = self.0.s3(t).await?;
        put_versioning(&c, t.resource_id(), BucketVersioningStatus::Suspended).await?;
        Ok(ApplyOutcome::applied("versioning suspended", json!({"status": "Suspended"})))
    }
}

// ---------------------------------------------------------------- access logging

const LOGGING_PARAMS: &[ParamSpec] = &[
    ParamSpec::required("target_bucket", ParamKind::Text, "the bucket receiving the logs"),
    ParamSpec::optional("prefix", ParamKind::Text, "the log objects' prefix (the bucket's name and `/` by default)"),
];

async fn read_logging(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Value> {
    let r = c.get_bucket_logging().bucket(bucket).send().await;
    let o = absent(r, "-", bucket, "s3:GetBucketLogging")?.ok_or_else(|| not_found(bucket))?;
    Ok(o.logging_enabled()
        .map_or(Value::Null, |l| json!({"target_bucket": l.target_bucket(), "prefix": l.target_prefix()})))
}

async fn put_logging(c: &aws_sdk_s3::Client, bucket: &str, target: Option<(&str, &str)>) -> Result<()> {
    let op = "s3:PutBucketLogging";
    let enabled = match target {
        Some((t, p)) => {
            Some(LoggingEnabled::builder().target_bucket(t).target_prefix(p).build().map_err(build_err(op))?)
        }
        None => None,
    };
    c.put_bucket_logging()
        .bucket(bucket)
        .bucket_logging_status(BucketLoggingStatus::builder().set_logging_enabled(enabled).build())
        .send()
        .await
        .map_err(sdk(format!("{op} on `{bucket}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for EnableLogging {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-enable-access-logging",
            aliases: &["s3_enable_logging"],
            title: "Turns on server access logging into a target bucket",
            kinds: BUCKET,
            params: LOGGING_PARAMS,
            permissions: &["s3:GetBucketLogging", "s3:PutBucketLogging"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let before = read_logging(&self.0.s3(t).await?, t.resource_id()).await?;
        if !before.is_null() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "access logging is on"));
        }
        let prefix = p.text("prefix").map_or_else(|| format!("{}/", t.resource_id()), str::to_owned);
        let after = json!({"target_bucket": p.text("target_bucket"), "prefix": prefix});
        Ok(FixPlan::changes(
            self.info().key,
            t,
            "turn on access logging",
            vec![Change::new("s3:PutBucketLogging", "log requests", before, after)],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"logging": read_logging(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        if !read_logging(&c, bucket).await?.is_null() {
            return Ok(ApplyOutcome::already("access logging is on"));
        }
        let prefix = p.text("prefix").map_or_else(|| format!("{bucket}/"), str::to_owned);
        let target = p.text("target_bucket").unwrap_or(bucket);
        put_logging(&c, bucket, Some((target, &prefix))).await?;
        Ok(ApplyOutcome::applied("access logging turned on", read_logging(&c, bucket).await?))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let l = &backup["logging"];
        let target = l["target_bucket"].as_str().map(|b| (b, l["prefix"].as_str().unwrap_or_default()));
        put_logging(&c, t.resource_id(), target).await?;
        Ok(ApplyOutcome::applied("access logging restored", read_logging(&c, t.resource_id()).await?))
    }
}

// ---------------------------------------------------------------- deny insecure transport

/// The statement this fix adds, recognised again by its `Sid`.
const SECURE_TRANSPORT_SID: &str = "PacbotDenyInsecureTransport";

fn deny_http_statement(bucket: &str) -> Value {
    json!({
        "Sid": SECURE_TRANSPORT_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })
}

/// Whether a statement denies every S3 action to everyone over plain HTTP.
fn denies_http(s: &Value) -> bool {
    let one_of = |v: &Value, wanted: &[&str]| match v {
        Value::String(x) => wanted.contains(&x.as_str()),
        Value::Array(a) => a.iter().any(|x| x.as_str().is_some_and(|x| wanted.contains(&x))),
        _ => false,
    };
    let insecure =
        s["Condition"]["Bool"]["aws:SecureTransport"].as_str().is_some_and(|v| v.eq_ignore_ascii_case("false"))
            || s["Condition"]["Bool"]["aws:SecureTransport"] == false;
    s["Effect"] == "Deny"
        && (s["Principal"] == "*" || one_of(&s["Principal"]["AWS"], &["*"]))
        && one_of(&s["Action"], &["s3:*", "*"])
        && insecure
}

/// The policy document (parsed, or a new empty one) and whether it already denies HTTP.
fn with_deny_http(text: Option<&str>, bucket: &str) -> Result<(Value, bool)> {
    let mut doc = match text {
        Some(t) => serde_json::from_str::<Value>(t).map_err(|e| {
            Error::provider("aws", "s3:GetBucketPolicy", format!("the policy of `{bucket}` is not JSON: {e}"))
        })?,
        None => json!({"Version": "2012-10-17", "Statement": []}),
    };
    let mut statements = match doc.get("Statement").cloned() {
        Some(Value::Array(a)) => a,
        Some(single) => vec![single],
        None => Vec::new(),
    };
    if statements.iter().any(denies_http) {
        return Ok((doc, true));
    }
    statements.push(deny_http_statement(bucket));
    doc["Statement"] = Value::Array(statements);
    Ok((doc, false))
}

#[async_trait]
impl Fix for DenyInsecureTransport {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-deny-insecure-transport",
            aliases: &["s3_deny_http", "s3_enforce_ssl"],
            title: "Adds a bucket-policy statement denying every request made over plain HTTP",
            kinds: BUCKET,
            params: &[],
            permissions: &["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let bucket = t.resource_id();
        let before = read_policy(&self.0.s3(t).await?, bucket).await?;
        let (after, done) = with_deny_http(before.as_deref(), bucket)?;
        if done {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the bucket policy already denies HTTP"));
        }
        let change = Change::new(
            "s3:PutBucketPolicy",
            "add a statement denying requests where aws:SecureTransport is false",
            before.map_or(Value::Null, Value::String),
            after,
        );
        Ok(FixPlan::changes(self.info().key, t, "deny insecure transport in the bucket policy", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"policy": read_policy(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        let (after, done) = with_deny_http(read_policy(&c, bucket).await?.as_deref(), bucket)?;
        if done {
            return Ok(ApplyOutcome::already("the bucket policy already denies HTTP"));
        }
        write_policy(&c, bucket, Some(&after.to_string())).await?;
        Ok(ApplyOutcome::applied("HTTP requests denied", json!({"policy": read_policy(&c, bucket).await?})))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        write_policy(&c, t.resource_id(), backup["policy"].as_str()).await?;
        Ok(ApplyOutcome::applied("bucket policy restored", backup.clone()))
    }
}
