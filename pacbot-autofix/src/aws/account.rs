//! Account-wide fixes: the account's S3 public access block (S3 Control).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use serde_json::{Value, json};

use super::s3::{pab_all, pab_flags, pab_value};
use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::Result;
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::Params;

aws_fix!(AccountBlockPublicAccess);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(AccountBlockPublicAccess(s.clone())))?;
    Ok(())
}

/// The account's public access block in the shape of `aws.s3.account_settings`
/// (`null` when the account has none).
async fn read(c: &aws_sdk_s3control::Client, account: &str) -> Result<Value> {
    match c.get_public_access_block().account_id(account).send().await {
        Ok(o) => Ok(o.public_access_block_configuration().map_or(Value::Null, |p| {
            pab_value([
                p.block_public_acls(),
                p.ignore_public_acls(),
                p.block_public_policy(),
                p.restrict_public_buckets(),
            ])
        })),
        Err(e) if code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(Value::Null),
        Err(e) => Err(sdk(format!("s3:GetAccountPublicAccessBlock `{account}`"))(e)),
    }
}

async fn write(c: &aws_sdk_s3control::Client, account: &str, v: &Value) -> Result<()> {
    let [acls, ignore, policy, restrict] = pab_flags(v);
    let conf = PublicAccessBlockConfiguration::builder()
        .block_public_acls(acls)
        .ignore_public_acls(ignore)
        .block_public_policy(policy)
        .restrict_public_buckets(restrict)
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
        if before == pab_all() {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the account's public access block is fully on"));
        }
        let change = Change::new(
            "s3:PutAccountPublicAccessBlock",
            "block public ACLs and policies account-wide",
            before,
            pab_all(),
        );
        Ok(FixPlan::changes(self.info().key, t, "turn on the account's S3 public access block", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"public_access_block": read(&self.0.s3control(t).await?, t.account()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3control(t).await?;
        let account = t.account();
        if read(&c, account).await? == pab_all() {
            return Ok(ApplyOutcome::already("the account's public access block is fully on"));
        }
        write(&c, account, &pab_all()).await?;
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
