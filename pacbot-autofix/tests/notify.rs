//! Notifiers against local servers: SMTP (aiosmtpd, started here) and a webhook listener; the digest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chrono::TimeDelta;
use common::*;
use pacbot_autofix::notify::digest::Digest;
use pacbot_autofix::notify::{SmtpConfig, SmtpNotifier, SmtpSecurity, WebhookNotifier};
use pacbot_autofix::{Message, MessageKind, Notifier};
use pacbot_core::{AssetGroup, ComplianceReport, Criteria};
use pacbot_store::{FixKind, FixRecord, ScanCommit, ScanStart, Stamp};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// aiosmtpd on a loopback port, storing mail in a Maildir; killed on drop.
struct SmtpServer {
    child: tokio::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    async fn start() -> Self {
        let ok = std::process::Command::new("python3").args(["-c", "import aiosmtpd"]).status().unwrap().success();
        assert!(ok, "aiosmtpd is missing: `pip install aiosmtpd` (scripts/test.sh installs it)");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let maildir = dir.path().join("mail");
        let child = tokio::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self { child, port, dir };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not start on 127.0.0.1:{port}");
    }

    async fn mails(&self, want: usize) -> Vec<String> {
        let new = self.dir.path().join("mail").join("new");
        for _ in 0..100 {
            let mails = read_dir(&new);
            if mails.len() >= want {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        read_dir(&new)
    }
}

fn read_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect()
}

fn message() -> Message {
    Message::new(
        MessageKind::FixNotice,
        vec!["owner@example.com".into(), "Sec Ops <secops@example.com>".into()],
        "bucket b1 will be fixed",
        "The fix s3-block-public-access runs after 2026-03-03.",
    )
    .with_data(json!({"due_at": "2026-03-03T09:00:00Z"}))
}

#[tokio::test]
async fn smtp_delivers_text_and_html_to_a_local_server() {
    let mut server = SmtpServer::start().await;
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(server.port),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "pacbot <pacbot@example.com>".into(),
    };
    let smtp = SmtpNotifier::new(&config).unwrap();
    smtp.send(&message()).await.unwrap();
    let mut html = message();
    html.subject = "digest".into();
    html.html = Some("<h1>Digest</h1>".into());
    smtp.send(&html).await.unwrap();
    let mails = server.mails(2).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    let plain = mails.iter().find(|m| m.contains("Subject: bucket b1 will be fixed")).unwrap();
    assert!(plain.contains("From: pacbot <pacbot@example.com>"), "{plain}");
    assert!(plain.contains("owner@example.com") && plain.contains("secops@example.com"));
    assert!(plain.contains("The fix s3-block-public-access runs after 2026-03-03."));
    let alt = mails.iter().find(|m| m.contains("Subject: digest")).unwrap();
    assert!(alt.contains("multipart/alternative") && alt.contains("<h1>Digest</h1>"), "{alt}");

    // Errors: a bad recipient, no recipients, a server that is gone.
    let mut bad = message();
    bad.to = vec!["not an address".into()];
    assert!(smtp.send(&bad).await.unwrap_err().to_string().contains("recipient `not an address`"));
    bad.to.clear();
    assert!(smtp.send(&bad).await.unwrap_err().to_string().contains("no recipients"));
    server.child.kill().await.unwrap();
    let _ = server.child.wait().await;
    let e = smtp.send(&message()).await.unwrap_err();
    assert!(e.to_string().starts_with("notifier `smtp` failed"), "{e}");
}

#[test]
fn smtp_configuration_is_checked() {
    let mut config = SmtpConfig {
        host: "mail.example.com".into(),
        port: None,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "pacbot@example.com".into(),
    };
    let e = SmtpNotifier::new(&config).unwrap_err().to_string();
    assert!(e.contains("smtp.security") && e.contains("only allowed to a loopback server"), "{e}");
    config.security = SmtpSecurity::StartTls;
    assert!(SmtpNotifier::new(&config).is_ok());
    config.username = Some("u".into());
    assert!(SmtpNotifier::new(&config).unwrap_err().to_string().contains("smtp.username"));
    config.username = None;
    config.from = "nobody".into();
    assert!(SmtpNotifier::new(&config).unwrap_err().to_string().contains("smtp.from"));
}

/// Answers each request with `status`, returning what it received (headers, body).
async fn listener(statuses: Vec<u16>) -> (String, tokio::task::JoinHandle<Vec<(String, Value)>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut got = Vec::new();
        for status in statuses {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = Vec::new();
            let (head, body) = loop {
                let mut chunk = [0u8; 4096];
                let n = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_owned(), body.to_owned());
                    }
                }
                assert!(n > 0, "connection closed early");
            };
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            s.write_all(reply.as_bytes()).await.unwrap();
            got.push((head, serde_json::from_str(&body).unwrap()));
        }
        got
    });
    (url, task)
}

#[tokio::test]
async fn webhook_posts_the_message_as_json() {
    let (url, task) = listener(vec![200, 503, 400]).await;
    let hook = WebhookNotifier::new(&url).unwrap().with_header("authorization", "Bearer t");
    hook.send(&message()).await.unwrap();
    let e = hook.send(&message()).await.unwrap_err();
    assert!(e.to_string().contains("answered HTTP 503") && e.is_retryable(), "{e}");
    let e = hook.send(&message()).await.unwrap_err();
    assert!(!e.is_retryable());
    let got = task.await.unwrap();
    let (head, body) = &got[0];
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"));
    assert!(head.to_ascii_lowercase().contains("authorization: bearer t"));
    assert_eq!(body["kind"], "fix_notice");
    assert_eq!(body["subject"], "bucket b1 will be fixed");
    assert_eq!(body["data"]["due_at"], "2026-03-03T09:00:00Z");
    assert_eq!(body["to"][0], "owner@example.com");

    for bad in ["http://example.com/hook", "ftp://127.0.0.1/x", "not a url"] {
        assert!(WebhookNotifier::new(bad).unwrap_err().to_string().contains("webhook.url"), "{bad}");
    }
    assert!(WebhookNotifier::new("https://hooks.example.com/x").is_ok());
}

fn report(group: &str, overall: f64, open: &[(&str, usize)]) -> ComplianceReport {
    let policies: Vec<Value> = open
        .iter()
        .map(|(id, n)| {
            json!({"policy_id": id, "name": format!("{id} name"), "severity": "high", "category": "security",
                   "assets_in_scope": 10, "open": n, "exempted": 0, "unknown": 0, "percent": 100.0 - 10.0 * (*n as f64)})
        })
        .collect();
    serde_json::from_value(json!({
        "group": group, "assets": 10, "overall": overall, "categories": [], "policies": policies,
        "tagging": {"taggable": 0, "tagged": 0, "percent": 100.0, "missing": {}},
        "open": 3, "exempted": 0, "unknown": 0
    }))
    .unwrap()
}

#[tokio::test]
async fn the_weekly_digest_sums_up_a_group_for_its_owner() {
    for (name, store) in stores().await {
        let now = t0() + TimeDelta::days(7);
        let mut group = AssetGroup::new("payments", Criteria::eq("tags.Env", "prod").unwrap());
        group.owner = Some("lead@example.com".into());
        store.put_group(group, Stamp::new("admin", t0())).await.unwrap();
        // A week ago: 70 %; now 80 %, with one new violation in the group and one outside.
        let scan = store.begin_scan(ScanStart::new("old", t0())).await.unwrap();
        store.commit_scan(ScanCommit::new(scan.id, t0()).with_snapshot(report("payments", 70.0, &[]))).await.unwrap();
        let assets = [asset("111", "newp"), asset("111", "dev1")];
        let later = t0() + TimeDelta::days(3);
        seed(store.as_ref(), "aws-s3-public-policy", &assets, later).await;
        let scan = store.begin_scan(ScanStart::new("new", now)).await.unwrap();
        let rep = report("payments", 80.0, &[("p-a", 1), ("p-b", 3), ("p-c", 0)]);
        store.commit_scan(ScanCommit::new(scan.id, now).with_snapshot(rep)).await.unwrap();
        store
            .put_fix_record(FixRecord {
                id: "action-1".into(),
                kind: FixKind::Action,
                policy_id: "aws-s3-public-policy".into(),
                asset: assets[0].id.clone(),
                status: "applied".into(),
                data: json!({"fix": "s3-block-public-access"}),
                created_at: later,
                updated_at: later,
            })
            .await
            .unwrap();

        let d = Digest::build(store.as_ref(), "payments", Duration::from_secs(7 * 86400), now).await.unwrap();
        assert_eq!(d.owner.as_deref(), Some("lead@example.com"), "{name}");
        assert_eq!(d.overall, Some(80.0));
        assert_eq!(d.previous_overall, Some(70.0));
        let top: Vec<_> = d.top_failing.iter().map(|p| (p.policy_id.as_str(), p.open)).collect();
        assert_eq!(top, vec![("p-b", 3), ("p-a", 1)]);
        assert_eq!(d.new_violations.len(), 1, "{name}: {:?}", d.new_violations);
        assert_eq!(d.new_violations[0].asset.resource_id, "newp");
        assert_eq!(d.fixes.len(), 1);
        let text = d.render_text();
        assert!(text.contains("Overall compliance: 80.0 % (a week before: 70.0 %)"), "{text}");
        assert!(text.contains("p-b name (p-b): 3 open"));
        assert!(text.contains("s3-block-public-access on aws/111/us-east-1/aws.s3.bucket/newp (applied"));
        let m = d.message();
        assert_eq!(m.to, vec!["lead@example.com".to_owned()]);
        assert!(m.html.unwrap().contains("<h1>Compliance digest for payments</h1>"));
        assert_eq!(Digest::build_all(store.as_ref(), Duration::from_secs(7 * 86400), now).await.unwrap().len(), 1);
    }
}
