//! S3 discovery for one account: buckets (listed once, described in their
//! own region) and the account-wide public access block (S3 Control).
//!
//! S3 has no bulk read of bucket settings, so each bucket costs one call per
//! setting (ACL, policy, public access block, encryption, versioning, logging,
//! website, tags, ownership controls; policy status only when there is a
//! policy). One scanned region costs one `ListBuckets` filtered by it; for
//! several, a bucket's region comes from one unfiltered `ListBuckets` when
//! the endpoint reports it, else from one filtered `ListBuckets` per region.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_s3::Client;
use aws_sdk_s3::types as t;
use futures::{StreamExt, stream};
use pacbot_core::Discovery;

use crate::collect::{Place, owned, time};
use crate::error::{Error, FailureKind};
use crate::shapes::{self, kind, parse_policy};

type R<T> = Result<T, Error>;

/// A bucket as listed.
struct Listed {
    name: String,
    created: Option<chrono::DateTime<chrono::Utc>>,
}

/// One `ListBuckets` (all pages), filtered by region when `region` is given.
async fn list_once(client: &Client, place: &Place, region: Option<&str>) -> R<Vec<t::Bucket>> {
    let call = place.call("s3", "ListBuckets");
    let pages: Vec<aws_sdk_s3::operation::list_buckets::ListBucketsOutput> = client
        .list_buckets()
        .max_buckets(10_000)
        .set_bucket_region(region.map(str::to_owned))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call.error(e))?;
    Ok(pages.into_iter().flat_map(|p| p.buckets.unwrap_or_default()).collect())
}

fn listed(b: &t::Bucket) -> Option<Listed> {
    Some(Listed { name: b.name()?.to_owned(), created: time(b.creation_date()) })
}

/// Lists the buckets of the account by region (only the `regions` scanned).
///
/// One region: one `ListBuckets` filtered by it. Several: one unfiltered
/// `ListBuckets`, whose entries carry their region on AWS; an endpoint that
/// leaves the region out is asked again region by region.
async fn list(client: &Client, place: &Place, regions: &[String]) -> R<BTreeMap<String, Vec<Listed>>> {
    let mut by_region: BTreeMap<String, Vec<Listed>> = regions.iter().map(|r| (r.clone(), Vec::new())).collect();
    if let [region] = regions {
        let buckets = list_once(client, place, Some(region)).await?;
        // An entry naming another region (an endpoint ignoring the filter
        // but saying where buckets live) is not this region's.
        let here = buckets.iter().filter(|b| b.bucket_region().is_none_or(|r| r == region));
        by_region.insert(region.clone(), here.filter_map(listed).collect());
        return Ok(by_region);
    }
    let buckets = list_once(client, place, None).await?;
    if buckets.iter().all(|b| b.bucket_region().is_some()) {
        for b in &buckets {
            if let (Some(l), Some(list)) = (listed(b), b.bucket_region().and_then(|r| by_region.get_mut(r))) {
                list.push(l);
            }
        }
        return Ok(by_region);
    }
    // The endpoint does not say where buckets live: ask region by region.
    for region in regions {
        let buckets = list_once(client, place, Some(region)).await?;
        if let Some(list) = by_region.get_mut(region) {
            list.extend(buckets.iter().filter_map(listed));
        }
    }
    Ok(by_region)
}

/// Collects the buckets of the scanned regions. `client_for` gives the
/// client of a region.
pub(crate) async fn collect_buckets(
    list_client: &Client,
    clients: &HashMap<String, Client>,
    account: &str,
    regions: &[String],
    concurrency: usize,
) -> Vec<Discovery> {
    let global = Place::new(account, "global");
    let mut out = Vec::new();
    let by_region = match list(list_client, &global, regions).await {
        Ok(b) => b,
        Err(e) => {
            for r in regions {
                out.push(Discovery::Failed { scope: Place::new(account, r).scope(kind::BUCKET), error: e.to_string() });
            }
            return out;
        }
    };
    for (region, buckets) in by_region {
        let place = Place::new(account, &region);
        let Some(client) = clients.get(&region) else { continue };
        let results: Vec<R<Option<Discovery>>> = stream::iter(buckets)
            .map(|b| bucket(client, &place, b))
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut assets = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(Some(a)) => assets.push(a),
                Ok(None) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        let scope = place.scope(kind::BUCKET);
        if errors.is_empty() {
            out.extend(assets);
            out.push(Discovery::Complete(scope));
        } else {
            // Buckets described completely are still reported; the scope is
            // failed so that nothing of it closes for want of an asset.
            out.extend(assets);
            errors.sort();
            out.push(Discovery::Failed { scope, error: errors.join("; ") });
        }
    }
    out
}

/// `Ok(None)` for a setting that is not configured.
fn absent<T>(r: R<T>) -> R<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == Some(FailureKind::NotFound) && e.code() != Some("NoSuchBucket") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Describes one bucket; `Ok(None)` when it was deleted meanwhile.
async fn bucket(c: &Client, p: &Place, b: Listed) -> R<Option<Discovery>> {
    let name = b.name.as_str();
    let call = |op| p.call("s3", op);
    let (acl, policy, pab, enc, ver, log, web, tags, own) = futures::join!(
        async { c.get_bucket_acl().bucket(name).send().await.map_err(|e| call("GetBucketAcl").error(e)) },
        async { c.get_bucket_policy().bucket(name).send().await.map_err(|e| call("GetBucketPolicy").error(e)) },
        async {
            c.get_public_access_block().bucket(name).send().await.map_err(|e| call("GetPublicAccessBlock").error(e))
        },
        async { c.get_bucket_encryption().bucket(name).send().await.map_err(|e| call("GetBucketEncryption").error(e)) },
        async { c.get_bucket_versioning().bucket(name).send().await.map_err(|e| call("GetBucketVersioning").error(e)) },
        async { c.get_bucket_logging().bucket(name).send().await.map_err(|e| call("GetBucketLogging").error(e)) },
        async { c.get_bucket_website().bucket(name).send().await.map_err(|e| call("GetBucketWebsite").error(e)) },
        async { c.get_bucket_tagging().bucket(name).send().await.map_err(|e| call("GetBucketTagging").error(e)) },
        async {
            let out = c.get_bucket_ownership_controls().bucket(name).send().await;
            out.map_err(|e| call("GetBucketOwnershipControls").error(e))
        },
    );
    let results = [
        acl.as_ref().err(),
        policy.as_ref().err(),
        pab.as_ref().err(),
        enc.as_ref().err(),
        ver.as_ref().err(),
        log.as_ref().err(),
        web.as_ref().err(),
        tags.as_ref().err(),
        own.as_ref().err(),
    ];
    if results.iter().flatten().any(|e| e.code() == Some("NoSuchBucket")) {
        return Ok(None);
    }
    let acl = acl?;
    let policy = absent(policy)?.and_then(|o| o.policy).and_then(|text| parse_policy(&text));
    let policy_is_public = if policy.is_some() {
        let status = c.get_bucket_policy_status().bucket(name).send().await;
        let status = absent(status.map_err(|e| call("GetBucketPolicyStatus").error(e)))?;
        status.and_then(|s| s.policy_status().and_then(|s| s.is_public())).unwrap_or(false)
    } else {
        false
    };
    let pab = absent(pab)?.and_then(|o| o.public_access_block_configuration).map(|c| shapes::PublicAccessBlock {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    });
    let encryption = absent(enc)?.and_then(|o| o.server_side_encryption_configuration).map(|c| shapes::Encryption {
        rules: c
            .rules()
            .iter()
            .map(|r| shapes::EncryptionRule {
                sse_algorithm: r
                    .apply_server_side_encryption_by_default()
                    .map(|d| d.sse_algorithm().as_str().to_owned()),
                kms_master_key_id: owned(
                    r.apply_server_side_encryption_by_default().and_then(|d| d.kms_master_key_id()),
                ),
                bucket_key_enabled: r.bucket_key_enabled().unwrap_or(false),
            })
            .collect(),
    });
    let ver = ver?;
    let log = log?;
    let web = absent(web)?;
    let tags = absent(tags)?;
    let object_ownership = object_ownership(absent(own)?.as_ref().and_then(|o| o.ownership_controls()));
    let attrs = shapes::Bucket {
        name: name.to_owned(),
        arn: format!("arn:aws:s3:::{name}"),
        creation_date: b.created,
        acl: shapes::Acl {
            owner_id: owned(acl.owner().and_then(|o| o.id())),
            grants: acl
                .grants()
                .iter()
                .map(|g| shapes::Grant {
                    grantee: shapes::Grantee {
                        kind: g.grantee().map(|x| x.r#type().as_str().to_owned()),
                        uri: owned(g.grantee().and_then(|x| x.uri())),
                        id: owned(g.grantee().and_then(|x| x.id())),
                        display_name: owned(g.grantee().and_then(|x| x.display_name())),
                        email: owned(g.grantee().and_then(|x| x.email_address())),
                    },
                    permission: g.permission().map(|x| x.as_str().to_owned()),
                })
                .collect(),
        },
        policy,
        policy_is_public,
        public_access_block: pab,
        encryption,
        versioning: shapes::Versioning {
            status: ver.status().map(|x| x.as_str().to_owned()),
            mfa_delete: ver.mfa_delete().map(|x| x.as_str().to_owned()),
        },
        logging: log.logging_enabled().map(|l| shapes::Logging {
            target_bucket: Some(l.target_bucket().to_owned()),
            target_prefix: Some(l.target_prefix().to_owned()),
        }),
        object_ownership,
        website: web.map(|w| shapes::Website {
            index_document: w.index_document().map(|d| d.suffix().to_owned()),
            error_document: w.error_document().map(|d| d.key().to_owned()),
            redirect_all_requests_to: w.redirect_all_requests_to().map(|r| r.host_name().to_owned()),
        }),
    };
    let tags: Vec<(String, String)> = tags
        .map(|t| t.tag_set().iter().map(|x| (x.key().to_owned(), x.value().to_owned())).collect())
        .unwrap_or_default();
    Ok(Some(p.asset(kind::BUCKET, name, Some(name), &attrs, tags)))
}

/// The bucket's object ownership setting: its (first) ownership controls
/// rule, or `ObjectWriter`, how AWS treats a bucket without ownership
/// controls (ACLs in effect, the uploading account owns its objects).
fn object_ownership(controls: Option<&t::OwnershipControls>) -> String {
    controls.and_then(|c| c.rules().first()).map_or(OBJECT_WRITER, |r| r.object_ownership().as_str()).to_owned()
}

const OBJECT_WRITER: &str = "ObjectWriter";

/// Collects the account-wide public access block.
pub(crate) async fn collect_account(client: &aws_sdk_s3control::Client, account: &str) -> Vec<Discovery> {
    let place = Place::new(account, "global");
    let scope = place.scope(kind::S3_ACCOUNT_SETTINGS);
    let call = place.call("s3control", "GetPublicAccessBlock");
    let result = absent(client.get_public_access_block().account_id(account).send().await.map_err(|e| call.error(e)));
    match result {
        Ok(out) => {
            let pab = out.and_then(|o| o.public_access_block_configuration).map(|c| shapes::PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            });
            let attrs = shapes::S3AccountSettings { public_access_block: pab };
            vec![place.asset(kind::S3_ACCOUNT_SETTINGS, account, None, &attrs, []), Discovery::Complete(scope)]
        }
        Err(e) => vec![Discovery::Failed { scope, error: e.to_string() }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ownership_defaults_to_object_writer() {
        assert_eq!(object_ownership(None), "ObjectWriter");
        let rule = |o: t::ObjectOwnership| t::OwnershipControlsRule::builder().object_ownership(o).build().unwrap();
        let controls =
            t::OwnershipControls::builder().rules(rule(t::ObjectOwnership::BucketOwnerEnforced)).build().unwrap();
        assert_eq!(object_ownership(Some(&controls)), "BucketOwnerEnforced");
        let empty = t::OwnershipControls::builder().set_rules(Some(vec![])).build().unwrap();
        assert_eq!(object_ownership(Some(&empty)), "ObjectWriter");
    }
}
