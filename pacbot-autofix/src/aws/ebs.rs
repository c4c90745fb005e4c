//! EBS fixes: public snapshots made private.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{OperationType, PermissionGroup, SnapshotAttributeName};
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::Params;

aws_fix!(SnapshotMakePrivate);

pub(super) fn register(c: &mut Catalogue, s: &Arc<AwsSessions>) -> Result<()> {
    c.register(Arc::new(SnapshotMakePrivate(s.clone())))?;
    Ok(())
}

/// Who may create volumes from the snapshot: `all` (public) and account ids.
async fn permissions(c: &aws_sdk_ec2::Client, snapshot: &str) -> Result<Value> {
    let o = c
        .describe_snapshot_attribute()
        .snapshot_id(snapshot)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .map_err(|e| match code(&e) {
            Some(c) if c.starts_with("InvalidSnapshot") => {
                Error::NotFound { what: "snapshot".to_owned(), id: snapshot.to_owned() }
            }
            _ => sdk(format!("ec2:DescribeSnapshotAttribute `{snapshot}`"))(e),
        })?;
    let perms = o.create_volume_permissions();
    Ok(json!({
        "public": perms.iter().any(|p| p.group() == Some(&PermissionGroup::All)),
        "accounts": perms.iter().filter_map(|p| p.user_id()).collect::<Vec<_>>(),
    }))
}

/// Adds or removes the `all` group (the form both AWS and moto take).
async fn set_public(c: &aws_sdk_ec2::Client, snapshot: &str, public: bool) -> Result<()> {
    let operation = if public { OperationType::Add } else { OperationType::Remove };
    c.modify_snapshot_attribute()
        .snapshot_id(snapshot)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(operation)
        .group_names("all")
        .send()
        .await
        .map_err(sdk(format!("ec2:ModifySnapshotAttribute `{snapshot}`")))?;
    Ok(())
}

#[async_trait]
impl Fix for SnapshotMakePrivate {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ebs-snapshot-make-private",
            aliases: &["ebs_private_snapshot", "ebs_snapshot_make_private"],
            title: "Removes the public (`all`) create-volume permission of a snapshot; shares with accounts stay",
            kinds: &["aws.ec2.snapshot"],
            params: &[],
            permissions: &["ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute"],
            rollback: true,
            impactful: false,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let before = permissions(&self.0.ec2(t).await?, t.resource_id()).await?;
        if before["public"] == false {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the snapshot is not public"));
        }
        let mut after = before.clone();
        after["public"] = Value::Bool(false);
        let change =
            Change::new("ec2:ModifySnapshotAttribute", "remove the `all` create-volume permission", before, after);
        Ok(FixPlan::changes(self.info().key, t, "make the snapshot private", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"create_volume_permission": permissions(&self.0.ec2(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let id = t.resource_id();
        if permissions(&c, id).await?["public"] == false {
            return Ok(ApplyOutcome::already("the snapshot is not public"));
        }
        set_public(&c, id, false).await?;
        Ok(ApplyOutcome::applied("snapshot made private", permissions(&c, id).await?))
    }

    async fn rollback(&self, t: &FixTarget, backup: &Value) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        if backup["create_volume_permission"]["public"] == true {
            set_public(&c, t.resource_id(), true).await?;
        }
        Ok(ApplyOutcome::applied("snapshot permissions restored", backup.clone()))
    }
}
