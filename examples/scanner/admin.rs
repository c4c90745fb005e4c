//! `exceptions …` and `groups …`: what people grant and define between scans.

use std::io::Write;

use pacbot::chrono::Utc;
use pacbot::store::{Stamp, Store, StoreError};
use pacbot::{AssetGroup, AssetId, Criteria, Exception, ExceptionTarget};

use super::cli::{ExceptionAdd, ExceptionCommand, GroupCommand};
use super::config::Loaded;
use super::error::{EXIT_OK, Error, Result};
use super::run::{write_error, write_json};

/// Parses `provider/account/region/kind/resource-id` (the resource id may hold `/`).
pub fn parse_asset(text: &str) -> Result<AssetId> {
    let parts: Vec<&str> = text.splitn(5, '/').collect();
    match parts.as_slice() {
        [p, a, r, k, id] if [p, a, r, k, id].iter().all(|s| !s.trim().is_empty()) => {
            Ok(AssetId::new(*p, *a, *r, *k, *id))
        }
        _ => Err(Error::msg(format!(
            "--asset: `{text}` is not `provider/account/region/kind/resource-id` \
             (such as `aws/111122223333/us-east-1/aws.s3.bucket/www`)"
        ))),
    }
}

/// Parses criteria given on the command line, in YAML or JSON.
pub fn parse_criteria(flag: &str, text: &str) -> Result<Criteria> {
    serde_yaml_ng::from_str::<Criteria>(text).map_err(|e| Error::msg(format!("{flag}: invalid criteria: {e}")))
}

fn not_found(e: StoreError, what: &str, id: &str) -> Error {
    if e.is_not_found() { Error::msg(format!("no {what} `{id}`")) } else { e.into() }
}

async fn add_exception(store: &dyn Store, a: &ExceptionAdd, out: &mut dyn Write) -> Result<()> {
    let now = Utc::now();
    let target = match (&a.asset, &a.criteria) {
        (Some(asset), None) => {
            let asset = parse_asset(asset)?;
            if let Err(e) = store.asset(&asset).await {
                if !e.is_not_found() {
                    return Err(e.into());
                }
                writeln!(
                    out,
                    "note: asset `{asset}` is not in the store yet; the exception applies once it is scanned"
                )
                .map_err(write_error)?;
            }
            ExceptionTarget::Asset { asset, policies: a.policies.clone() }
        }
        (None, Some(c)) => {
            ExceptionTarget::Sticky { criteria: parse_criteria("--criteria", c)?, policies: a.policies.clone() }
        }
        _ => return Err(Error::msg("give --asset or --criteria (sticky), not both")),
    };
    let catalogue = store.policies().await?;
    for p in &a.policies {
        if p != "*" && !catalogue.iter().any(|r| &r.meta.id == p) {
            writeln!(out, "note: policy `{p}` is not in the catalogue (has a scan run with it?)")
                .map_err(write_error)?;
        }
    }
    let id = match &a.id {
        Some(id) => id.clone(),
        None => {
            let existing: Vec<String> = store.exceptions().await?.into_iter().map(|e| e.exception.id).collect();
            let base = format!("exc-{}", now.format("%Y%m%d%H%M%S"));
            let mut id = base.clone();
            let mut n = 1;
            while existing.contains(&id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            id
        }
    };
    let exception = Exception {
        id,
        target,
        reason: a.reason.clone(),
        granted_by: a.by.clone(),
        granted_at: now,
        expires_at: a.expires,
    };
    exception.validate()?;
    if a.expires.is_some_and(|t| t <= now) {
        return Err(Error::msg("--expires: the expiry is in the past"));
    }
    let record = store.put_exception(exception, Stamp::new(&a.by, now)).await?;
    writeln!(out, "exception `{}` stored; it applies from the next scan", record.exception.id).map_err(write_error)?;
    Ok(())
}

/// `exceptions add|list|revoke`.
pub async fn exceptions(store: &dyn Store, cmd: &ExceptionCommand, out: &mut dyn Write) -> Result<u8> {
    match cmd {
        ExceptionCommand::Add(a) => add_exception(store, a, out).await?,
        ExceptionCommand::List { json } => {
            let all = store.exceptions().await?;
            if *json {
                write_json(out, &all)?;
            } else if all.is_empty() {
                writeln!(out, "no exceptions").map_err(write_error)?;
            } else {
                for r in all {
                    let e = &r.exception;
                    let target = match &e.target {
                        ExceptionTarget::Asset { asset, .. } => format!("asset {asset}"),
                        ExceptionTarget::Sticky { criteria, .. } => format!("sticky {}", criteria.to_value()),
                    };
                    let expires = e.expires_at.map_or("never".to_owned(), |t| t.to_rfc3339());
                    let active = if e.is_active(Utc::now()) { "active" } else { "expired" };
                    writeln!(
                        out,
                        "{}  [{active}, expires {expires}]  policies {}  {target}\n    {} (granted by {})",
                        e.id,
                        e.policies().join(","),
                        e.reason,
                        e.granted_by
                    )
                    .map_err(write_error)?;
                }
            }
        }
        ExceptionCommand::Revoke { id } => {
            store.delete_exception(id).await.map_err(|e| not_found(e, "exception", id))?;
            writeln!(out, "exception `{id}` revoked; its violations re-open at the next scan").map_err(write_error)?;
        }
    }
    Ok(EXIT_OK)
}

/// `groups add|list|remove`.
pub async fn groups(store: &dyn Store, loaded: &Loaded, cmd: &GroupCommand, out: &mut dyn Write) -> Result<u8> {
    match cmd {
        GroupCommand::Add { name, criteria, description, owner, by } => {
            if name.trim().is_empty() {
                return Err(Error::msg("the group name is empty"));
            }
            let group = AssetGroup {
                name: name.clone(),
                description: description.clone(),
                owner: owner.clone(),
                criteria: parse_criteria("--criteria", criteria)?,
            };
            store.put_group(group, Stamp::new(by, Utc::now())).await?;
            writeln!(out, "asset group `{name}` stored").map_err(write_error)?;
        }
        GroupCommand::List { json } => {
            let all = store.groups().await?;
            if *json {
                write_json(out, &all)?;
            } else if all.is_empty() {
                writeln!(out, "no asset groups").map_err(write_error)?;
            } else {
                for r in all {
                    let g = &r.group;
                    writeln!(
                        out,
                        "{}{}  {}  (by {})",
                        g.name,
                        g.owner.as_ref().map(|o| format!(" <{o}>")).unwrap_or_default(),
                        g.criteria.to_value(),
                        r.updated.by
                    )
                    .map_err(write_error)?;
                }
            }
        }
        GroupCommand::Remove { name } => {
            store.delete_group(name).await.map_err(|e| not_found(e, "asset group", name))?;
            writeln!(out, "asset group `{name}` removed").map_err(write_error)?;
            if loaded.config.groups.iter().any(|g| &g.name == name) {
                writeln!(out, "note: the configuration defines `{name}`; the next scan stores it again")
                    .map_err(write_error)?;
            }
        }
    }
    Ok(EXIT_OK)
}
