//! IAM users and keys the credential report does not know yet.
//!
//! The report can be up to four hours old: a user created since is still
//! reported (through `GetLoginProfile`, `ListMFADevices`, `ListAccessKeys`,
//! with what only the report knows, such as the password's last use, `null`),
//! and a key created since the report gets its last use from
//! `GetAccessKeyLastUsed`. moto always answers with a fresh report, so the
//! proxy answers `GetCredentialReport` with a stale one (and
//! `GetAccessKeyLastUsed` with a use, which moto never records).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_sdk_iam::types as iamt;
use common::{ACCOUNT, connector, discover, runtime, sdk_config, serial};
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{Fault, FaultProxy, Match, moto_url, reset_moto};
use serde_json::{Value, json};

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

fn report_reply(csv: &str) -> String {
    let content = aws_smithy_types::base64::encode(csv);
    format!(
        "<GetCredentialReportResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetCredentialReportResult>\
         <Content>{content}</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-12-01T00:00:00Z</GeneratedTime>\
         </GetCredentialReportResult><ResponseMetadata><RequestId>stale</RequestId></ResponseMetadata></GetCredentialReportResponse>"
    )
}

const LAST_USED_REPLY: &str = "<GetAccessKeyLastUsedResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <GetAccessKeyLastUsedResult><UserName>someone</UserName><AccessKeyLastUsed><LastUsedDate>2026-11-20T10:00:00Z</LastUsedDate>\
    <ServiceName>ec2</ServiceName><Region>eu-west-1</Region></AccessKeyLastUsed></GetAccessKeyLastUsedResult>\
    <ResponseMetadata><RequestId>used</RequestId></ResponseMetadata></GetAccessKeyLastUsedResponse>";

fn rfc3339(t: &aws_smithy_types::DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).unwrap()
}

/// A time as the connector writes it.
fn chrono_time(t: &aws_smithy_types::DateTime) -> Value {
    serde_json::to_value(pacbot_core::chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())).unwrap()
}

fn user<'a>(d: &'a pacbot_core::Discovered, name: &str) -> &'a pacbot_core::Asset {
    d.inventory
        .of_kind(&kind::USER.into())
        .find(|a| a.id.resource_id == name)
        .unwrap_or_else(|| panic!("no user `{name}`"))
}

#[test]
fn users_and_keys_newer_than_the_credential_report_are_described_by_other_calls() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        let conf = sdk_config(&url).await;
        let c = aws_sdk_iam::Client::new(&conf);
        // In the report: `old` (console, one key) and `plain` (nothing).
        for u in ["old", "plain", "new"] {
            c.create_user().user_name(u).send().await.unwrap();
        }
        c.create_login_profile().user_name("old").password("Correct-Horse-1").send().await.unwrap();
        let old_key = c.create_access_key().user_name("old").send().await.unwrap().access_key.unwrap();
        // The report tells keys apart by their creation second.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        // Since the report: a second key of `old`, and the user `new` with a
        // console password, a virtual MFA device and a key.
        let old_key2 = c.create_access_key().user_name("old").send().await.unwrap().access_key.unwrap();
        c.create_login_profile().user_name("new").password("Correct-Horse-2").send().await.unwrap();
        let mfa = c.create_virtual_mfa_device().virtual_mfa_device_name("new").send().await.unwrap();
        let serial = mfa.virtual_mfa_device().unwrap().serial_number().to_owned();
        c.enable_mfa_device()
            .user_name("new")
            .serial_number(&serial)
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await
            .unwrap();
        let new_key = c.create_access_key().user_name("new").send().await.unwrap().access_key.unwrap();
        c.update_access_key()
            .user_name("new")
            .access_key_id(new_key.access_key_id())
            .status(iamt::StatusType::Inactive)
            .send()
            .await
            .unwrap();

        let old_created = rfc3339(old_key.create_date().unwrap());
        let csv = format!(
            "{HEADER}\n\
             old,arn:aws:iam::{ACCOUNT}:user/old,2026-10-01T00:00:00+00:00,true,2026-11-01T08:00:00+00:00,2026-10-01T00:00:00+00:00,N/A,false,\
             true,{old_created},2026-11-15T09:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
             plain,arn:aws:iam::{ACCOUNT}:user/plain,2026-10-01T00:00:00+00:00,false,N/A,N/A,N/A,false,\
             false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        let proxy = FaultProxy::start(&url).await.unwrap();
        proxy.inject(Match::service("iam").operation("GetCredentialReport"), Fault::Reply(report_reply(&csv)), None);
        proxy.inject(
            Match::service("iam").operation("GetAccessKeyLastUsed"),
            Fault::Reply(LAST_USED_REPLY.to_owned()),
            None,
        );
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1"]).kinds([kind::USER]).build().unwrap();
        let d = discover(&c).await;
        assert!(!d.coverage.is_partial(), "{:?}", d.coverage.failures().collect::<Vec<_>>());
        let mut names: Vec<&str> = d.inventory.of_kind(&kind::USER.into()).map(|a| a.id.resource_id.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["new", "old", "plain"], "the user newer than the report is reported");

        let key = |k: &iamt::AccessKey, status: &str, last_used: Option<(&str, &str, &str)>| {
            json!({"access_key_id": k.access_key_id(), "status": status,
                   "created": k.create_date().map(chrono_time),
                   "last_used": last_used.map(|u| u.0), "last_used_service": last_used.map(|u| u.1),
                   "last_used_region": last_used.map(|u| u.2)})
        };
        let by_id = |v: &Value| {
            let mut keys = v.as_array().unwrap().clone();
            keys.sort_by_key(|k| k["access_key_id"].as_str().unwrap().to_owned());
            Value::Array(keys)
        };
        let expect_keys = |mut keys: Vec<Value>| {
            keys.sort_by_key(|k| k["access_key_id"].as_str().unwrap().to_owned());
            Value::Array(keys)
        };

        // `old`: the report's row, its first key's use from the report, the
        // second key's (created since) from GetAccessKeyLastUsed.
        let old = user(&d, "old").attributes.to_value();
        assert_eq!(
            (&old["password_enabled"], &old["password_last_used"], &old["password_last_changed"], &old["mfa_active"]),
            (&json!(true), &json!("2026-11-01T08:00:00Z"), &json!("2026-10-01T00:00:00Z"), &json!(false))
        );
        assert_eq!(
            by_id(&old["access_keys"]),
            expect_keys(vec![
                key(&old_key, "Active", Some(("2026-11-15T09:00:00Z", "s3", "us-east-1"))),
                key(&old_key2, "Active", Some(("2026-11-20T10:00:00Z", "ec2", "eu-west-1"))),
            ])
        );

        // `new`: no row; console and MFA from per-user calls, what only the
        // report knows (the password's last use) unknown.
        let new = user(&d, "new").attributes.to_value();
        assert_eq!(new["password_enabled"], true);
        assert_eq!(new["password_last_used"], Value::Null);
        assert!(new["password_last_changed"].is_string(), "the login profile's creation: {}", new["password_last_changed"]);
        assert_eq!(new["mfa_active"], true);
        assert_eq!(new["mfa_devices"][0]["serial_number"], serial.as_str());
        assert_eq!(
            by_id(&new["access_keys"]),
            expect_keys(vec![key(&new_key, "Inactive", Some(("2026-11-20T10:00:00Z", "ec2", "eu-west-1")))])
        );

        let plain = user(&d, "plain").attributes.to_value();
        assert_eq!((&plain["password_enabled"], &plain["access_keys"]), (&json!(false), &json!([])));

        // Per-user calls only where the report falls short.
        let count = |op: &str| proxy.count(&Match::service("iam").operation(op));
        assert_eq!(count("GetLoginProfile"), 1, "only `new`");
        assert_eq!(count("ListMFADevices"), 1, "only `new`");
        assert_eq!(count("ListAccessKeys"), 2, "`old` and `new`, not `plain`");
        assert_eq!(count("GetAccessKeyLastUsed"), 2, "`old`'s second key and `new`'s key");
    });
}
