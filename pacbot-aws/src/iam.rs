//! IAM discovery for one account: users, groups, roles, customer managed
//! policies, the password policy and the account summary.
//!
//! Few calls: `GetAccountAuthorizationDetails` carries users, groups, roles
//! and policies with every policy document; the credential report carries
//! each user's console password, MFA and key use; `ListVirtualMFADevices`
//! the MFA serials. Per user, only `ListAccessKeys` (for users the report
//! shows with keys) is needed; users newer than the report (it may be up to
//! four hours old) are described with per-user calls instead.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{self as t, EntityType, ReportStateType};
use futures::{StreamExt, TryStreamExt, stream};
use pacbot_core::Discovery;

use crate::collect::{Place, finish, owned, time};
use crate::error::{Error, FailureKind};
use crate::shapes::{self, kind, parse_policy};

type R<T> = Result<T, Error>;

/// Collects IAM for one account (region `global`).
pub(crate) async fn collect(
    c: &Client,
    account: &str,
    wants: &(dyn Fn(&str) -> bool + Sync),
    concurrency: usize,
) -> Vec<Discovery> {
    let p = Place::new(account, "global");
    let need_details = [kind::USER, kind::GROUP, kind::ROLE, kind::POLICY].iter().any(|k| wants(k));
    let (details, report, password, summary) = futures::join!(
        async { if need_details { details(c, &p).await.map(Some) } else { Ok(None) } },
        async { if wants(kind::USER) { report_and_mfa(c, &p).await.map(Some) } else { Ok(None) } },
        async { if wants(kind::PASSWORD_POLICY) { password_policy(c, &p).await.map(Some) } else { Ok(None) } },
        async { if wants(kind::ACCOUNT_SUMMARY) { account_summary(c, &p).await.map(Some) } else { Ok(None) } },
    );
    let summary = match summary {
        Ok(Some(Some(s))) => {
            let known = match &report {
                Ok(Some((_, mfa))) => Some(mfa.as_slice()),
                _ => None,
            };
            root_hardware_mfa(c, &p, s, known).await.map(|s| Some(Some(s)))
        }
        other => other,
    };
    let mut out = Vec::new();
    let details = details.map(Option::unwrap_or_default);
    if wants(kind::USER) {
        let r = match (&details, report) {
            (Ok(d), Ok(Some((report, mfa)))) => user_credentials(c, &p, &d.users, &report, &mfa, concurrency)
                .await
                .map(|creds| user_assets(&p, d, &creds)),
            (Err(e), _) => Err(e.clone()),
            (_, Err(e)) => Err(e),
            (Ok(_), Ok(None)) => Ok(Vec::new()),
        };
        finish(&mut out, p.scope(kind::USER), r);
    }
    if wants(kind::GROUP) {
        finish(&mut out, p.scope(kind::GROUP), details.as_ref().map(|d| group_assets(&p, d)));
    }
    if wants(kind::ROLE) {
        finish(&mut out, p.scope(kind::ROLE), details.as_ref().map(|d| role_assets(&p, d)));
    }
    if wants(kind::POLICY) {
        finish(&mut out, p.scope(kind::POLICY), details.as_ref().map(|d| policy_assets(&p, d)));
    }
    if wants(kind::PASSWORD_POLICY) {
        let r = password.map(|pp| vec![p.asset(kind::PASSWORD_POLICY, account, None, &pp.unwrap_or_default(), [])]);
        finish(&mut out, p.scope(kind::PASSWORD_POLICY), r);
    }
    if wants(kind::ACCOUNT_SUMMARY) {
        let r = summary.map(|s| s.map(|s| p.asset(kind::ACCOUNT_SUMMARY, account, None, &s, [])).into_iter().collect());
        finish(&mut out, p.scope(kind::ACCOUNT_SUMMARY), r);
    }
    out
}

// ---- authorization details --------------------------------------------

#[derive(Default)]
struct Details {
    users: Vec<t::UserDetail>,
    groups: Vec<t::GroupDetail>,
    roles: Vec<t::RoleDetail>,
    policies: Vec<t::ManagedPolicyDetail>,
}

async fn details(c: &Client, p: &Place) -> R<Details> {
    let call = p.call("iam", "GetAccountAuthorizationDetails");
    let pages: Vec<_> = c
        .get_account_authorization_details()
        .filter(EntityType::User)
        .filter(EntityType::Group)
        .filter(EntityType::Role)
        .filter(EntityType::LocalManagedPolicy)
        .max_items(1000)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| call.error(e))?;
    let mut d = Details::default();
    for page in pages {
        d.users.extend(page.user_detail_list.unwrap_or_default());
        d.groups.extend(page.group_detail_list.unwrap_or_default());
        d.roles.extend(page.role_detail_list.unwrap_or_default());
        d.policies.extend(page.policies.unwrap_or_default());
    }
    Ok(d)
}

fn attached(list: &[t::AttachedPolicy]) -> Vec<shapes::AttachedPolicy> {
    let mut out: Vec<_> = list
        .iter()
        .map(|a| shapes::AttachedPolicy { policy_name: owned(a.policy_name()), policy_arn: owned(a.policy_arn()) })
        .collect();
    out.sort();
    out
}

fn inline(list: &[t::PolicyDetail]) -> Vec<shapes::InlinePolicy> {
    list.iter()
        .map(|d| shapes::InlinePolicy {
            policy_name: owned(d.policy_name()),
            document: d.policy_document().and_then(parse_policy),
        })
        .collect()
}

fn iam_tags(tags: &[t::Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn group_assets(p: &Place, d: &Details) -> Vec<Discovery> {
    let mut members: HashMap<&str, Vec<String>> = HashMap::new();
    for u in &d.users {
        for g in u.group_list() {
            if let Some(name) = u.user_name() {
                members.entry(g.as_str()).or_default().push(name.to_owned());
            }
        }
    }
    d.groups
        .iter()
        .filter_map(|g| {
            let name = g.group_name()?;
            let mut users = members.remove(name).unwrap_or_default();
            users.sort();
            let attrs = shapes::Group {
                group_name: name.to_owned(),
                group_id: owned(g.group_id()),
                arn: owned(g.arn()),
                path: owned(g.path()),
                create_date: time(g.create_date()),
                users,
                attached_policies: attached(g.attached_managed_policies()),
                inline_policies: inline(g.group_policy_list()),
            };
            Some(p.asset(kind::GROUP, name, Some(name), &attrs, []))
        })
        .collect()
}

fn role_assets(p: &Place, d: &Details) -> Vec<Discovery> {
    d.roles
        .iter()
        .filter_map(|r| {
            let name = r.role_name()?;
            let attrs = shapes::Role {
                role_name: name.to_owned(),
                role_id: owned(r.role_id()),
                arn: owned(r.arn()),
                path: owned(r.path()),
                create_date: time(r.create_date()),
                assume_role_policy: r.assume_role_policy_document().and_then(parse_policy),
                attached_policies: attached(r.attached_managed_policies()),
                inline_policies: inline(r.role_policy_list()),
                instance_profile_arns: r.instance_profile_list().iter().map(|i| i.arn().to_owned()).collect(),
                last_used: time(r.role_last_used().and_then(|l| l.last_used_date())),
                last_used_region: owned(r.role_last_used().and_then(|l| l.region())),
                permissions_boundary_arn: owned(r.permissions_boundary().and_then(|b| b.permissions_boundary_arn())),
            };
            Some(p.asset(kind::ROLE, name, Some(name), &attrs, iam_tags(r.tags())))
        })
        .collect()
}

fn policy_assets(p: &Place, d: &Details) -> Vec<Discovery> {
    d.policies
        .iter()
        .filter_map(|m| {
            let arn = m.arn()?;
            let default = m.default_version_id();
            let doc = m
                .policy_version_list()
                .iter()
                .find(|v| v.is_default_version() || (default.is_some() && v.version_id() == default))
                .and_then(|v| v.document())
                .and_then(parse_policy);
            let attrs = shapes::ManagedPolicy {
                policy_name: owned(m.policy_name()),
                policy_id: owned(m.policy_id()),
                arn: arn.to_owned(),
                path: owned(m.path()),
                default_version_id: owned(default),
                attachment_count: m.attachment_count(),
                is_attachable: m.is_attachable(),
                create_date: time(m.create_date()),
                update_date: time(m.update_date()),
                document: doc,
            };
            Some(p.asset(kind::POLICY, arn, m.policy_name(), &attrs, []))
        })
        .collect()
}

// ---- credentials: report, MFA, keys ----------------------------------

/// One row of the credential report.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReportRow {
    pub password_enabled: bool,
    pub password_last_used: Option<chrono::DateTime<chrono::Utc>>,
    pub password_last_changed: Option<chrono::DateTime<chrono::Utc>>,
    pub mfa_active: bool,
    /// Per key slot: (created, last used, service, region); `None` for an empty slot.
    pub keys: [Option<KeySlot>; 2],
}

#[derive(Clone, Debug, Default)]
pub(crate) struct KeySlot {
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used: Option<chrono::DateTime<chrono::Utc>>,
    pub service: Option<String>,
    pub region: Option<String>,
}

/// What each user's credentials look like.
struct Credentials {
    by_user: HashMap<String, UserCredentials>,
}

#[derive(Default)]
struct UserCredentials {
    password_enabled: bool,
    password_last_used: Option<chrono::DateTime<chrono::Utc>>,
    password_last_changed: Option<chrono::DateTime<chrono::Utc>>,
    mfa_active: bool,
    mfa_devices: Vec<shapes::MfaDevice>,
    access_keys: Vec<shapes::AccessKey>,
}

fn report_value(v: &str) -> Option<&str> {
    match v {
        "" | "N/A" | "not_supported" | "no_information" => None,
        v => Some(v),
    }
}

fn report_time(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    report_value(v).and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok()).map(|t| t.to_utc())
}

/// Parses the credential report (CSV with a header line), keyed by user name.
/// The root account's row (`<root_account>`) is left out.
pub(crate) fn parse_report(text: &str) -> BTreeMap<String, ReportRow> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return BTreeMap::new() };
    let cols: HashMap<&str, usize> = header.split(',').enumerate().map(|(i, c)| (c.trim(), i)).collect();
    let mut out = BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let get = |name: &str| cols.get(name).and_then(|&i| fields.get(i)).copied().unwrap_or("");
        let user = get("user");
        if user.is_empty() || user == "<root_account>" {
            continue;
        }
        let slot = |n: u8| {
            let created = report_time(get(&format!("access_key_{n}_last_rotated")));
            let active = get(&format!("access_key_{n}_active"));
            (created.is_some() || active == "true").then(|| KeySlot {
                created,
                last_used: report_time(get(&format!("access_key_{n}_last_used_date"))),
                service: report_value(get(&format!("access_key_{n}_last_used_service"))).map(str::to_owned),
                region: report_value(get(&format!("access_key_{n}_last_used_region"))).map(str::to_owned),
            })
        };
        out.insert(
            user.to_owned(),
            ReportRow {
                password_enabled: get("password_enabled") == "true",
                password_last_used: report_time(get("password_last_used")),
                password_last_changed: report_time(get("password_last_changed")),
                mfa_active: get("mfa_active") == "true",
                keys: [slot(1), slot(2)],
            },
        );
    }
    out
}

async fn credential_report(c: &Client, p: &Place) -> R<BTreeMap<String, ReportRow>> {
    let gen_call = p.call("iam", "GenerateCredentialReport");
    for _ in 0..60 {
        let state = c.generate_credential_report().send().await.map_err(|e| gen_call.error(e))?;
        if matches!(state.state(), Some(ReportStateType::Complete) | None) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let call = p.call("iam", "GetCredentialReport");
    let out = c.get_credential_report().send().await.map_err(|e| call.error(e))?;
    let text = out.content().map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()).unwrap_or_default();
    Ok(parse_report(&text))
}

async fn report_and_mfa(c: &Client, p: &Place) -> R<(BTreeMap<String, ReportRow>, Vec<t::VirtualMfaDevice>)> {
    let (report, mfa) = futures::join!(credential_report(c, p), virtual_mfa(c, p));
    Ok((report?, mfa?))
}

/// The virtual MFA devices assigned to a user (the root user's included).
async fn virtual_mfa(c: &Client, p: &Place) -> R<Vec<t::VirtualMfaDevice>> {
    let call = p.call("iam", "ListVirtualMFADevices");
    let devices: Result<Vec<t::VirtualMfaDevice>, _> = c
        .list_virtual_mfa_devices()
        .assignment_status(t::AssignmentStatusType::Assigned)
        .max_items(1000)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    devices.map_err(|e| call.error(e))
}

/// Whether one of the virtual MFA devices is the root user's (its serial is
/// `arn:aws:iam::{account}:mfa/root-account-mfa-device`, its user the
/// account's `…:root`).
fn root_has_virtual_mfa(devices: &[t::VirtualMfaDevice]) -> bool {
    devices.iter().any(|d| {
        d.serial_number().ends_with(":mfa/root-account-mfa-device")
            || d.user().is_some_and(|u| u.arn().ends_with(":root"))
    })
}

/// Sets `root_hardware_mfa`: the root user has MFA and it is not a virtual
/// device (IAM lists virtual devices only; a root MFA that is not among them
/// is a hardware or security key device). The virtual devices are listed
/// only when the root user has MFA and the users' collection did not list
/// them already.
async fn root_hardware_mfa(
    c: &Client,
    p: &Place,
    mut summary: shapes::AccountSummary,
    known: Option<&[t::VirtualMfaDevice]>,
) -> R<shapes::AccountSummary> {
    summary.root_hardware_mfa = summary.root_mfa_enabled
        && !match known {
            Some(devices) => root_has_virtual_mfa(devices),
            None => root_has_virtual_mfa(&virtual_mfa(c, p).await?),
        };
    Ok(summary)
}

async fn user_credentials(
    c: &Client,
    p: &Place,
    users: &[t::UserDetail],
    report: &BTreeMap<String, ReportRow>,
    mfa: &[t::VirtualMfaDevice],
    concurrency: usize,
) -> R<Credentials> {
    let mut devices: HashMap<String, Vec<shapes::MfaDevice>> = HashMap::new();
    for d in mfa {
        if let Some(user) = d.user().map(|u| u.user_name().to_owned()) {
            devices.entry(user).or_default().push(shapes::MfaDevice {
                serial_number: d.serial_number().to_owned(),
                enable_date: time(d.enable_date()),
            });
        }
    }
    let names: Vec<String> = users.iter().filter_map(|u| u.user_name()).map(str::to_owned).collect();
    let by_user: Vec<(String, UserCredentials)> = stream::iter(names)
        .map(|name| {
            let row = report.get(&name).cloned();
            let devs = devices.remove(&name).unwrap_or_default();
            async move {
                let creds = user_detail(c, p, &name, row, devs).await?;
                Ok::<_, Error>((name, creds))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(Credentials { by_user: by_user.into_iter().collect() })
}

/// A user's credentials: from the report row when there is one, else (a
/// user newer than the report) from per-user calls.
async fn user_detail(
    c: &Client,
    p: &Place,
    name: &str,
    row: Option<ReportRow>,
    mfa_devices: Vec<shapes::MfaDevice>,
) -> R<UserCredentials> {
    let has_keys = row.as_ref().is_none_or(|r| r.keys.iter().any(Option::is_some));
    let keys = if has_keys {
        let call = p.call("iam", "ListAccessKeys");
        let keys: Result<Vec<t::AccessKeyMetadata>, _> =
            c.list_access_keys().user_name(name).into_paginator().items().send().try_collect().await;
        keys.map_err(|e| call.error(e))?
    } else {
        Vec::new()
    };
    let mut access_keys = Vec::new();
    let created: Vec<_> = keys.iter().map(|k| time(k.create_date())).collect();
    let slots = row.as_ref().map(|r| report_slots(&created, &r.keys)).unwrap_or_default();
    for (i, k) in keys.iter().enumerate() {
        let created = created.get(i).copied().flatten();
        let slot = slots.get(i).copied().flatten();
        let (last_used, service, region) = match slot {
            Some(s) => (s.last_used, s.service.clone(), s.region.clone()),
            None => {
                let call = p.call("iam", "GetAccessKeyLastUsed");
                let id = k.access_key_id().unwrap_or_default();
                let out = c.get_access_key_last_used().access_key_id(id).send().await.map_err(|e| call.error(e))?;
                let u = out.access_key_last_used();
                (
                    time(u.and_then(|u| u.last_used_date())),
                    u.map(|u| u.service_name().to_owned()).filter(|s| report_value(s).is_some()),
                    u.map(|u| u.region().to_owned()).filter(|s| report_value(s).is_some()),
                )
            }
        };
        access_keys.push(shapes::AccessKey {
            access_key_id: k.access_key_id().unwrap_or_default().to_owned(),
            status: k.status().map(|s| s.as_str().to_owned()),
            created,
            last_used,
            last_used_service: service,
            last_used_region: region,
        });
    }
    access_keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    match row {
        Some(r) => Ok(UserCredentials {
            password_enabled: r.password_enabled,
            password_last_used: r.password_last_used,
            password_last_changed: r.password_last_changed,
            mfa_active: r.mfa_active,
            mfa_devices,
            access_keys,
        }),
        None => {
            let profile = c.get_login_profile().user_name(name).send().await;
            let profile = match profile {
                Ok(o) => o.login_profile,
                Err(e) => {
                    let e = p.call("iam", "GetLoginProfile").error(e);
                    if e.kind() == Some(FailureKind::NotFound) { None } else { return Err(e) }
                }
            };
            let call = p.call("iam", "ListMFADevices");
            let mfa: Vec<_> = c
                .list_mfa_devices()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| call.error(e))?;
            Ok(UserCredentials {
                password_enabled: profile.is_some(),
                password_last_used: None,
                password_last_changed: time(profile.as_ref().map(|p| p.create_date())),
                mfa_active: !mfa.is_empty() || !mfa_devices.is_empty(),
                mfa_devices,
                access_keys,
            })
        }
    }
}

/// The report's slot of each key: the one created in the same second (the
/// report's precision). A key without one, or sharing its second with
/// another key or slot, has none (it is newer than the report, or it cannot
/// be told apart: its last use is then asked for).
fn report_slots<'a>(
    created: &[Option<chrono::DateTime<chrono::Utc>>],
    slots: &'a [Option<KeySlot>; 2],
) -> Vec<Option<&'a KeySlot>> {
    let second = |t: &Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp());
    created
        .iter()
        .map(|c| {
            let c = second(c)?;
            let keys = created.iter().filter(|o| second(o) == Some(c)).count();
            let mut matching = slots.iter().flatten().filter(|s| second(&s.created) == Some(c));
            match (matching.next(), matching.next()) {
                (Some(slot), None) if keys == 1 => Some(slot),
                _ => None,
            }
        })
        .collect()
}

fn user_assets(p: &Place, d: &Details, creds: &Credentials) -> Vec<Discovery> {
    d.users
        .iter()
        .filter_map(|u| {
            let name = u.user_name()?;
            let cr = creds.by_user.get(name);
            let mut groups: Vec<String> = u.group_list().to_vec();
            groups.sort();
            let attrs = shapes::User {
                user_name: name.to_owned(),
                user_id: owned(u.user_id()),
                arn: owned(u.arn()),
                path: owned(u.path()),
                create_date: time(u.create_date()),
                password_enabled: cr.is_some_and(|c| c.password_enabled),
                password_last_used: cr.and_then(|c| c.password_last_used),
                password_last_changed: cr.and_then(|c| c.password_last_changed),
                mfa_active: cr.is_some_and(|c| c.mfa_active),
                mfa_devices: cr.map(|c| c.mfa_devices.clone()).unwrap_or_default(),
                access_keys: cr.map(|c| c.access_keys.clone()).unwrap_or_default(),
                groups,
                attached_policies: attached(u.attached_managed_policies()),
                inline_policies: inline(u.user_policy_list()),
                permissions_boundary_arn: owned(u.permissions_boundary().and_then(|b| b.permissions_boundary_arn())),
            };
            Some(p.asset(kind::USER, name, Some(name), &attrs, iam_tags(u.tags())))
        })
        .collect()
}

// ---- account ----------------------------------------------------------

async fn password_policy(c: &Client, p: &Place) -> R<Option<shapes::PasswordPolicy>> {
    let call = p.call("iam", "GetAccountPasswordPolicy");
    match c.get_account_password_policy().send().await {
        Ok(o) => Ok(o.password_policy().map(|pp| shapes::PasswordPolicy {
            present: true,
            minimum_password_length: pp.minimum_password_length(),
            require_symbols: Some(pp.require_symbols()),
            require_numbers: Some(pp.require_numbers()),
            require_uppercase_characters: Some(pp.require_uppercase_characters()),
            require_lowercase_characters: Some(pp.require_lowercase_characters()),
            allow_users_to_change_password: Some(pp.allow_users_to_change_password()),
            expire_passwords: Some(pp.expire_passwords()),
            max_password_age: pp.max_password_age(),
            password_reuse_prevention: pp.password_reuse_prevention(),
            hard_expiry: pp.hard_expiry(),
        })),
        Err(e) => {
            let e = call.error(e);
            if e.kind() == Some(FailureKind::NotFound) { Ok(None) } else { Err(e) }
        }
    }
}

async fn account_summary(c: &Client, p: &Place) -> R<Option<shapes::AccountSummary>> {
    let call = p.call("iam", "GetAccountSummary");
    let out = c.get_account_summary().send().await.map_err(|e| call.error(e))?;
    let summary: BTreeMap<String, i64> = out
        .summary_map()
        .map(|m| m.iter().map(|(k, v)| (shapes::snake_case(k.as_str()), i64::from(*v))).collect())
        .unwrap_or_default();
    Ok(Some(shapes::AccountSummary {
        root_mfa_enabled: summary.get("account_mfa_enabled").is_some_and(|v| *v > 0),
        root_access_keys_present: summary.get("account_access_keys_present").is_some_and(|v| *v > 0),
        root_hardware_mfa: false,
        summary,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(serial: &str, user_arn: Option<&str>) -> t::VirtualMfaDevice {
        let user = user_arn.map(|arn| {
            t::User::builder()
                .user_name("u")
                .user_id("AIDA")
                .arn(arn)
                .path("/")
                .create_date(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .unwrap()
        });
        t::VirtualMfaDevice::builder().serial_number(serial).set_user(user).build().unwrap()
    }

    #[test]
    fn root_hardware_mfa_is_root_mfa_without_a_root_virtual_device() {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(root_hardware_mfa_cases());
    }

    async fn root_hardware_mfa_cases() {
        // No call is made: the devices are known, or the root has no MFA.
        let c = Client::from_conf(
            aws_sdk_iam::Config::builder().behavior_version(aws_sdk_iam::config::BehaviorVersion::latest()).build(),
        );
        let p = Place::new("123456789012", "global");
        let summary = |mfa: bool| shapes::AccountSummary {
            root_mfa_enabled: mfa,
            root_access_keys_present: false,
            root_hardware_mfa: false,
            summary: BTreeMap::new(),
        };
        let alice = device("arn:aws:iam::123456789012:mfa/alice", Some("arn:aws:iam::123456789012:user/alice"));
        let root_by_serial = device("arn:aws:iam::123456789012:mfa/root-account-mfa-device", None);
        let root_by_user = device("arn:aws:iam::123456789012:mfa/mine", Some("arn:aws:iam::123456789012:root"));
        let hw = |mfa: bool, devices: &[t::VirtualMfaDevice]| {
            let (c, p) = (&c, &p);
            let devices = devices.to_vec();
            async move { root_hardware_mfa(c, p, summary(mfa), Some(&devices)).await.unwrap().root_hardware_mfa }
        };
        assert!(hw(true, std::slice::from_ref(&alice)).await, "root MFA, no root virtual device: hardware");
        assert!(hw(true, &[]).await);
        assert!(!hw(true, &[alice.clone(), root_by_serial]).await, "root's device is virtual");
        assert!(!hw(true, &[root_by_user]).await);
        assert!(!hw(false, &[alice]).await, "no root MFA at all");
        let no_mfa = root_hardware_mfa(&c, &p, summary(false), None).await.unwrap();
        assert!(!no_mfa.root_hardware_mfa);
    }

    #[test]
    fn keys_find_their_report_slot_by_creation_second_unless_ambiguous() {
        let t = |s: &str| Some(chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc());
        let slot =
            |s: &str, used: &str| Some(KeySlot { created: t(s), last_used: t(used), service: None, region: None });
        let slots = [
            slot("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            slot("2026-01-02T00:00:00Z", "2026-03-01T00:00:00Z"),
        ];
        let used = |found: Vec<Option<&KeySlot>>| -> Vec<Option<String>> {
            found.iter().map(|s| s.and_then(|s| s.last_used).map(|t| t.to_rfc3339())).collect()
        };
        // Sub-second parts are not in the report.
        let keys = [t("2026-01-02T00:00:00.250Z"), t("2026-01-01T00:00:00.900Z")];
        assert_eq!(
            used(report_slots(&keys, &slots)),
            [Some("2026-03-01T00:00:00+00:00".to_owned()), Some("2026-02-01T00:00:00+00:00".to_owned())]
        );
        // A key newer than the report, and one without a creation time.
        assert_eq!(used(report_slots(&[t("2026-01-05T00:00:00Z"), None], &slots)), [None, None]);
        // Two keys in the same second as one slot: neither can be told apart.
        let same = [t("2026-01-01T00:00:00.100Z"), t("2026-01-01T00:00:00.700Z")];
        assert_eq!(used(report_slots(&same, &slots)), [None, None]);
        // Two slots in the same second: ambiguous too.
        let twin = [
            slot("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
            slot("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"),
        ];
        assert_eq!(used(report_slots(&[t("2026-01-01T00:00:00Z")], &twin)), [None]);
    }

    #[test]
    fn the_credential_report_parses() {
        let text = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
<root_account>,arn:aws:iam::1:root,2020-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
alice,arn:aws:iam::1:user/alice,2020-01-01T00:00:00+00:00,true,no_information,2020-01-01T00:00:00+00:00,not_supported,false,true,2020-02-01T00:00:00+00:00,2020-03-01T00:00:00+00:00,us-east-1,s3,false,2020-04-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n\
bob,arn:aws:iam::1:user/bob,2020-01-01T00:00:00+00:00,false,not_supported,2020-01-01T00:00:00+00:00,not_supported,true,false,N/A,N/A,not_supported,not_supported,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n";
        let rows = parse_report(text);
        assert_eq!(rows.keys().collect::<Vec<_>>(), ["alice", "bob"]);
        let a = &rows["alice"];
        assert!(a.password_enabled && !a.mfa_active && a.password_last_used.is_none());
        let k1 = a.keys[0].as_ref().unwrap();
        assert_eq!(k1.last_used.unwrap().to_rfc3339(), "2020-03-01T00:00:00+00:00");
        assert_eq!((k1.service.as_deref(), k1.region.as_deref()), (Some("s3"), Some("us-east-1")));
        assert!(a.keys[1].as_ref().unwrap().last_used.is_none());
        let b = &rows["bob"];
        assert!(!b.password_enabled && b.mfa_active && b.keys.iter().all(Option::is_none));
        assert!(parse_report("").is_empty());
    }
}
