//! EBS volumes, snapshots and the regional default encryption.

use pacbot_core::{Asset, Category, EvalContext, FnRule, Outcome, Policy, Severity};

use super::{Check, PackConfig, cis, declarative, meta};
use crate::shapes::kind::{EC2_ACCOUNT_SETTINGS, SNAPSHOT, VOLUME};

fn shared_externally(trusted: Vec<String>) -> FnRule<impl Fn(&Asset, &EvalContext<'_>) -> Outcome + Send + Sync> {
    FnRule::new("shared-externally", [SNAPSHOT], move |asset: &Asset, _: &EvalContext<'_>| {
        let own = &asset.id.account;
        let external: Vec<&str> = asset
            .attributes
            .field("create_volume_permissions")
            .elements()
            .filter_map(|p| p.field("user_id").as_str())
            .filter(|id| *id != own && !trusted.iter().any(|t| t == id))
            .collect();
        Outcome::check(external.is_empty(), || {
            format!("snapshot {} is shared with accounts not trusted: {}", asset.id.resource_id, external.join(", "))
        })
    })
}

pub(crate) fn policies(config: &PackConfig) -> Vec<Policy> {
    let live_volume = "{path: state, not-in: [deleting, deleted]}";
    vec![
        Policy::new(
            cis(
                meta(
                    "aws-ebs-volume-unencrypted",
                    "EBS volume is not encrypted",
                    Severity::Medium,
                    Category::Security,
                    "Data on an unencrypted volume, and on every snapshot taken of it, is readable by anyone who \
                     gets hold of the disk or a copy.",
                    "Snapshot the volume, copy the snapshot with encryption, create a volume from it and swap it in; \
                     turn on EBS default encryption so new volumes are encrypted.",
                ),
                &["2.2.1"],
                &["2.2.1"],
            ),
            declarative(
                "unencrypted",
                &[VOLUME],
                Some(live_volume),
                Check::FailWhen("{path: encrypted, ne: true}"),
                "volume {resource_id} is not encrypted",
            ),
        ),
        Policy::new(
            meta(
                "aws-ebs-volume-unattached",
                "EBS volume is not attached",
                Severity::Low,
                Category::Cost,
                "A volume in the `available` state is attached to no instance but is billed by the GiB.",
                "Snapshot the volume if its data matters, then delete it.",
            )
            .with_fix("ebs-snapshot-and-delete"),
            declarative(
                "unattached",
                &[VOLUME],
                None,
                Check::FailWhen("{path: state, eq: available}"),
                "volume {resource_id} ({size_gib} GiB) is attached to no instance",
            ),
        ),
        Policy::new(
            meta(
                "aws-ebs-snapshot-public",
                "EBS snapshot is public",
                Severity::Critical,
                Category::Security,
                "A snapshot whose create-volume permission includes the group `all` can be copied by any AWS \
                 account, with all the data of the volume it was taken from.",
                "Remove the `all` group from the snapshot's create-volume permissions.",
            )
            .with_fix("ebs-snapshot-make-private"),
            declarative(
                "public",
                &[SNAPSHOT],
                None,
                Check::FailWhen(
                    "{any: [{path: public, eq: true}, {path: 'create_volume_permissions[*].group', eq: all}]}",
                ),
                "snapshot {resource_id} of volume {volume_id} can be copied by every AWS account",
            ),
        ),
        Policy::new(
            meta(
                "aws-ebs-snapshot-shared-externally",
                "EBS snapshot is shared with an untrusted account",
                Severity::Medium,
                Category::Security,
                "A snapshot shared with an account outside the configured trusted accounts gives that account a \
                 full copy of the volume's data.",
                "Remove the account from the snapshot's create-volume permissions, or add it to the trusted accounts.",
            ),
            shared_externally(config.trusted_accounts.clone()),
        ),
        Policy::new(
            meta(
                "aws-ebs-snapshot-unencrypted",
                "EBS snapshot is not encrypted",
                Severity::Low,
                Category::Security,
                "An unencrypted snapshot can be shared publicly or with any account, and volumes made from it are \
                 unencrypted.",
                "Copy the snapshot with encryption enabled and delete the unencrypted original.",
            ),
            declarative(
                "unencrypted",
                &[SNAPSHOT],
                None,
                Check::FailWhen("{path: encrypted, ne: true}"),
                "snapshot {resource_id} is not encrypted",
            ),
        ),
        Policy::new(
            cis(
                meta(
                    "aws-ebs-default-encryption-off",
                    "EBS default encryption is off in a region",
                    Severity::Medium,
                    Category::Security,
                    "With EBS encryption by default off, every new volume in the region is unencrypted unless its \
                     creator asks otherwise.",
                    "Enable EBS encryption by default in the region (EC2 settings, or `EnableEbsEncryptionByDefault`).",
                ),
                &["2.2.1"],
                &["2.2.1"],
            )
            .with_fix("ebs-enable-default-encryption"),
            declarative(
                "default-encryption",
                &[EC2_ACCOUNT_SETTINGS],
                None,
                Check::PassWhen("{path: ebs_encryption_by_default, eq: true}"),
                "EBS encryption by default is off in {region}",
            ),
        ),
    ]
}
