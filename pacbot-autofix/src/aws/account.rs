//! Account-wide fixes: the account's S3 public access block (S3 Control).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::Result;
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::Params;

aws_fix!(AccountBlockPublicAccess);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(AccountBlockPublicAccess(s.clone())))?;
    Ok(())
}

const FLAGS: [&str; 4] = ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"];

/// The account's public access block in the shape of `aws.s3.account_settings`
/// (`null` when the account has none).
async fn read(c: &aws_sdk_s3control::Client, account: &str) -> Result<Value> {
    match c.get_public_access_block().account_id(account).send().await {
        Ok(o) => Ok(o.public_access_block_configuration().map_or(Value::Null, |p| {
            json!({
                "block_public_acls": p.block_public_acls().unwrap_or(false),
                "ignore_public_acls": p.ignore_public_acls().unwrap_or(false),
                "block_public_policy": p.block_public_policy().unwrap_or(false),
                "restrict_public_buckets": p.restrict_public_buckets().unwrap_or(false),
            })
        })),
        Err(e) if code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(Value::Null),
        Err(e) => Err(sdk(format!("s3:GetAccountPublicAccessBlock `{account}`"))(e)),
    }
}

fn all_on() -> Value {
    Value::Object(FLAGS.iter().map(|f| ((*f).to_owned(), Value::Bool(true))).collect())
}

async fn write(c: &aws_sdk_s3control::Client, account: &str, v: &Value) -> Result<()> {
    let f = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let conf = PublicAccessBlockConfiguration::builder()
        .block_public_acls(f("block_public_acls"))
        .ignore_public_acls(f("ignore_public_acls"))
        .block_public_policy(f("block_public_policy"))
        .restrict_public_buckets(f("restrict_public_buckets"))
        .build();
    c.put_public_access_block()
        .account_id(account)
        .public_access_block_configuration(conf)
        .send()
        .await
        .map_err(sdk(format!("s3:PutAccountPublicAccessBlock `{account}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for AccountBlockPublicAccess {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-account-block-public-access",
            aliases: &["s3_account_block_public_access", "s3_enable_account_block_public_access"],
            title: "Turns on all four settings of the account-wide S3 public access block",
            kinds: &["aws.s3.account_settings"],
            params: &[],
            permissions: &["s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let before = read(&self.0.s3control(t).await?, t.account()).await?;
        if before == all_on() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the account's public access block is fully on"));
        }
        let change = Change::new(
            "s3:PutAccountPublicAccessBlock",
            "block public ACLs and policies account-wide",
            before,
            all_on(),
        );
        Ok(FixPlan::changes(self.info().key, t, "turn on the account's S3 public access block", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"public_access_block": read(&self.0.s3control(t).await?, t.account()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3control(t).await?;
        let account = t.account();
        if read(&c, account).await? == all_on() {
            return Ok(ApplyOutcome::already("the account's public access block is fully on"));
        }
        write(&c, account, &all_on()).await?;
        Ok(ApplyOutcome::applied("account public access block turned on", read(&c, account).await?))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.s3control(t).await?;
        let account = t.account();
        match backup.get("public_access_block") {
            Some(v) if v.is_object() => write(&c, account, v).await?,
            _ => {
                c.delete_public_access_block()
                    .account_id(account)
                    .send()
                    .await
                    .map_err(sdk(format!("s3:PutAccountPublicAccessBlock `{account}`")))?;
            }
        }
        Ok(ApplyOutcome::applied("account public access block restored", backup.clone()))
    }
}
