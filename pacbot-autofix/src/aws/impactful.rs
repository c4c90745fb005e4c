//! Fixes that destroy: opt in with [`catalogue`], which returns the standard
//! catalogue plus these. None can be rolled back (the volume one leaves a
//! snapshot to restore from by hand).

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{AwsSessions, aws_fix, code, sdk};
use crate::error::{Error, Result};
use crate::fix::{ApplyOutcome, Catalogue, Change, Fix, FixInfo, FixPlan, FixTarget};
use crate::params::{ParamKind, ParamSpec, Params};

aws_fix!(DeleteBucket, TerminateInstance, SnapshotAndDeleteVolume);

/// The standard AWS catalogue plus the destructive fixes.
pub fn catalogue(sessions: &Arc<AwsSessions>) -> Result<Catalogue> {
    let mut c = super::catalogue(sessions)?;
    c.register(Arc::new(DeleteBucket(sessions.clone())))?;
    c.register(Arc::new(TerminateInstance(sessions.clone())))?;
    c.register(Arc::new(SnapshotAndDeleteVolume(sessions.clone())))?;
    Ok(c)
}

const FORCE: &[ParamSpec] = &[ParamSpec::with_default(
    "force",
    ParamKind::Bool,
    "false",
    "delete the objects first (a non-empty bucket is refused otherwise)",
)];

async fn object_keys(c: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<Vec<String>>> {
    match c.list_objects_v2().bucket(bucket).max_keys(1000).send().await {
        Ok(o) => Ok(Some(o.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect())),
        Err(e) if code(&e) == Some("NoSuchBucket") => Ok(None),
        Err(e) => Err(sdk(format!("s3:ListBucket `{bucket}`"))(e)),
    }
}

#[async_trait]
impl Fix for DeleteBucket {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "s3-delete-bucket",
            aliases: &["s3_delete_bucket"],
            title: "Deletes a bucket (with `force=true`, its objects first)",
            kinds: &["aws.s3.bucket"],
            params: FORCE,
            permissions: &["s3:ListBucket", "s3:DeleteObject", "s3:DeleteBucket"],
            rollback: false,
            impactful: true,
        }
    }

    async fn plan(&self, t: &FixTarget, p: &Params) -> Result<FixPlan> {
        let Some(keys) = object_keys(&self.0.s3(t).await?, t.resource_id()).await? else {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the bucket is gone"));
        };
        self.refuse_non_empty(t, &keys, p)?;
        let change = Change::new(
            "s3:DeleteBucket",
            format!("delete the bucket and {} object(s)", keys.len()),
            json!(keys),
            Value::Null,
        );
        Ok(FixPlan::changes(self.info().key, t, "delete the bucket", vec![change]))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"objects": object_keys(&self.0.s3(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.s3(t).await?;
        let bucket = t.resource_id();
        let Some(keys) = object_keys(&c, bucket).await? else {
            return Ok(ApplyOutcome::already("the bucket is gone"));
        };
        self.refuse_non_empty(t, &keys, p)?;
        for k in &keys {
            c.delete_object().bucket(bucket).key(k).send().await.map_err(sdk(format!("s3:DeleteObject `{k}`")))?;
        }
        c.delete_bucket().bucket(bucket).send().await.map_err(sdk(format!("s3:DeleteBucket `{bucket}`")))?;
        Ok(ApplyOutcome::applied("bucket deleted", Value::Null))
    }
}

impl DeleteBucket {
    fn refuse_non_empty(&self, t: &FixTarget, keys: &[String], p: &Params) -> Result<()> {
        if !keys.is_empty() && p.flag("force") != Some(true) {
            return Err(Error::UnsupportedTarget {
                fix: "s3-delete-bucket".to_owned(),
                target: t.asset.id.to_string(),
                reason: format!("the bucket holds {} object(s); give `force=true` to delete them", keys.len()),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Fix for TerminateInstance {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ec2-terminate-instance",
            aliases: &["ec2_terminate_instance"],
            title: "Terminates an instance",
            kinds: &["aws.ec2.instance"],
            params: &[],
            permissions: &["ec2:DescribeInstances", "ec2:TerminateInstances"],
            rollback: false,
            impactful: true,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let state = instance_state(&self.0.ec2(t).await?, t.resource_id()).await?;
        if matches!(state.as_deref(), None | Some("terminated" | "shutting-down")) {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the instance is terminated"));
        }
        Ok(FixPlan::changes(
            self.info().key,
            t,
            "terminate the instance",
            vec![Change::new("ec2:TerminateInstances", "terminate", json!(state), json!("terminated"))],
        ))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"state": instance_state(&self.0.ec2(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let id = t.resource_id();
        let state = instance_state(&c, id).await?;
        if matches!(state.as_deref(), None | Some("terminated" | "shutting-down")) {
            return Ok(ApplyOutcome::already("the instance is terminated"));
        }
        c.terminate_instances().instance_ids(id).send().await.map_err(sdk(format!("ec2:TerminateInstances `{id}`")))?;
        Ok(ApplyOutcome::applied("instance terminated", json!({"state": instance_state(&c, id).await?})))
    }
}

async fn instance_state(c: &aws_sdk_ec2::Client, id: &str) -> Result<Option<String>> {
    match c.describe_instances().instance_ids(id).send().await {
        Ok(o) => Ok(o
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .and_then(|i| i.state())
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned())),
        Err(e) if code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => Ok(None),
        Err(e) => Err(sdk(format!("ec2:DescribeInstances `{id}`"))(e)),
    }
}

/// A volume's state and attachments (`None` when it is gone).
async fn volume(c: &aws_sdk_ec2::Client, id: &str) -> Result<Option<Value>> {
    match c.describe_volumes().volume_ids(id).send().await {
        Ok(o) => Ok(o.volumes().first().map(|v| {
            json!({
                "state": v.state().map(|s| s.as_str().to_owned()),
                "availability_zone": v.availability_zone(),
                "size": v.size(),
                "attached_to": v.attachments().iter().filter_map(|a| a.instance_id()).collect::<Vec<_>>(),
            })
        })),
        Err(e) if code(&e).is_some_and(|c| c.starts_with("InvalidVolume")) => Ok(None),
        Err(e) => Err(sdk(format!("ec2:DescribeVolumes `{id}`"))(e)),
    }
}

fn refuse_attached(t: &FixTarget, v: &Value) -> Result<()> {
    match v["attached_to"].as_array() {
        Some(a) if !a.is_empty() => Err(Error::UnsupportedTarget {
            fix: "ebs-snapshot-and-delete".to_owned(),
            target: t.asset.id.to_string(),
            reason: format!("the volume is attached to {}", Value::Array(a.clone())),
        }),
        _ => Ok(()),
    }
}

#[async_trait]
impl Fix for SnapshotAndDeleteVolume {
    fn info(&self) -> FixInfo {
        FixInfo {
            key: "ebs-snapshot-and-delete",
            aliases: &["ebs_snapshot_and_delete", "ec2_delete_unattached_volume"],
            title: "Snapshots an unattached volume (once) and deletes it; an attached volume is refused",
            kinds: &["aws.ec2.volume"],
            params: &[],
            permissions: &[
                "ec2:DescribeVolumes",
                "ec2:DescribeSnapshots",
                "ec2:CreateSnapshot",
                "ec2:CreateTags",
                "ec2:DeleteVolume",
            ],
            rollback: false,
            impactful: true,
        }
    }

    async fn plan(&self, t: &FixTarget, _p: &Params) -> Result<FixPlan> {
        let Some(v) = volume(&self.0.ec2(t).await?, t.resource_id()).await? else {
            return Ok(FixPlan::already_fixed(self.info().key, t, "the volume is gone"));
        };
        refuse_attached(t, &v)?;
        let changes = vec![
            Change::new("ec2:CreateSnapshot", "snapshot the volume first", Value::Null, Value::Null),
            Change::new("ec2:DeleteVolume", "delete the volume", v, Value::Null),
        ];
        Ok(FixPlan::changes(self.info().key, t, "snapshot and delete the unattached volume", changes))
    }

    async fn backup(&self, t: &FixTarget, _p: &Params) -> Result<Value> {
        Ok(json!({"volume": volume(&self.0.ec2(t).await?, t.resource_id()).await?}))
    }

    async fn apply(&self, t: &FixTarget, _p: &Params) -> Result<ApplyOutcome> {
        let c = self.0.ec2(t).await?;
        let id = t.resource_id();
        let Some(v) = volume(&c, id).await? else {
            return Ok(ApplyOutcome::already("the volume is gone"));
        };
        refuse_attached(t, &v)?;
        let owned = [id.to_owned()];
        let snapshot = if super::ec2::unsnapshotted(&c, &owned).await?.is_empty() {
            None
        } else {
            Some(super::ec2::take_snapshot(&c, id, id).await?)
        };
        c.delete_volume().volume_id(id).send().await.map_err(sdk(format!("ec2:DeleteVolume `{id}`")))?;
        Ok(ApplyOutcome::applied("volume snapshotted and deleted", json!({"snapshot": snapshot})))
    }
}
