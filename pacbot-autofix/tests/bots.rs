//! Remediation bots from finding events; the least-privilege policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::Arc;

use common::*;
use pacbot_autofix::{
    AccountMode, BotStatus, Catalogue, Dispatcher, Executor, FindingEvent, MemoryNotifier, MessageKind, Mode,
    RunStatus, least_privilege_policy,
};
use pacbot_store::{MemoryStore, Store};
use serde_json::json;

fn event(account: &str, tags: serde_json::Value) -> String {
    json!({
        "findingKey": "f-1",
        "account": {"id": account, "name": "prod"},
        "region": "us-east-1",
        "entity": {"id": "b1", "type": "S3Bucket", "name": "b1"},
        "rule": {"name": "S3 buckets must not be public", "complianceTags": tags},
        "status": "Failed",
        "reportTime": "2026-03-02T09:00:00Z"
    })
    .to_string()
}

struct Bots {
    fix: Arc<FakeFix>,
    sink: Arc<MemoryNotifier>,
    dispatcher: Dispatcher,
}

fn bots(mode: Mode, accounts: AccountMode) -> Bots {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let fix = Arc::new(FakeFix::new(store.clone()));
    fix.public.lock().unwrap().insert("b1".into());
    let catalogue = Arc::new(Catalogue::new().with(fix.clone()).unwrap());
    let executor = Arc::new(Executor::new(store, "cloudbots").with_mode(mode));
    let sink = Arc::new(MemoryNotifier::new());
    let dispatcher = Dispatcher::new(catalogue, executor, accounts).with_sink(sink.clone());
    Bots { fix, sink, dispatcher }
}

fn single() -> AccountMode {
    AccountMode::Single { account: "111".into() }
}

#[tokio::test]
async fn auto_lines_dispatch_their_bots_and_results_go_to_the_sinks() {
    let b = bots(Mode::DryRun, single());
    let text = event("111", json!("CIS 2.1|AUTO: fake_block level=acl|AUTO: fake-block-public"));
    let results = b.dispatcher.handle_json(&text, t0()).await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.status, BotStatus::Passed, "{r:?}");
        assert_eq!(r.run.as_ref().unwrap().status, RunStatus::Planned);
        assert_eq!(r.finding.as_deref(), Some("f-1"));
    }
    assert_eq!(results[0].run.as_ref().unwrap().plan.as_ref().unwrap().params.text("level"), Some("acl"));
    assert!(b.fix.calls.lock().unwrap().applies.is_empty(), "dry-run applied");
    let sent = b.sink.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|m| m.kind == MessageKind::BotResult && m.data["status"] == "passed"));

    // Applying: the first bot fixes, the second finds nothing to do.
    let b = bots(Mode::Apply, AccountMode::Multi { role_name: "pacbot-remediation".into() });
    let text = event("999", json!(["AUTO: fake_block", "AUTO: fake_block"]));
    let results = b.dispatcher.handle_json(&text, t0()).await;
    let statuses: Vec<_> = results.iter().map(|r| r.run.as_ref().unwrap().status).collect();
    assert_eq!(statuses, vec![RunStatus::Applied, RunStatus::AlreadyFixed]);
    assert_eq!(b.fix.calls.lock().unwrap().applies, vec!["b1"]);
}

#[tokio::test]
async fn bad_lines_give_failed_results_and_the_good_ones_still_run() {
    let b = bots(Mode::DryRun, single());
    let text = event(
        "111",
        json!("AUTO: nope|AUTO: fake_block level=bucket|AUTO: bad/name|AUTO: fake_block colour=red|AUTO: fake_block"),
    );
    let results = b.dispatcher.handle_json(&text, t0()).await;
    let got: Vec<(BotStatus, &str)> = results.iter().map(|r| (r.status, r.message.as_str())).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got[0].0 == BotStatus::Failed && got[0].1.contains("unknown fix `nope`"), "{got:?}");
    assert!(got[1].1.contains("parameter `level`: `bucket` is not one of all, acl"), "{}", got[1].1);
    assert!(got[2].1.contains("`bad/name` is not a bot name"), "{}", got[2].1);
    assert!(got[3].1.contains("unknown parameter (known: level)"), "{}", got[3].1);
    assert_eq!(got[4].0, BotStatus::Passed);
    assert_eq!(b.sink.sent().len(), 5);

    // Another account in single-account mode is skipped; a finding without AUTO: too.
    let results = b.dispatcher.handle_json(&event("222", json!("AUTO: fake_block")), t0()).await;
    assert_eq!(results[0].status, BotStatus::Skipped);
    assert!(results[0].message.contains("account `222` is not this bot's account `111`"));
    let results = b.dispatcher.handle_json(&event("111", json!("CIS 2.1")), t0()).await;
    assert_eq!(results[0].status, BotStatus::Skipped);
    // A bot for another kind of resource.
    let mut ev: serde_json::Value = serde_json::from_str(&event("111", json!("AUTO: fake_block"))).unwrap();
    ev["entity"]["type"] = json!("Instance");
    let results = b.dispatcher.handle_json(&ev.to_string(), t0()).await;
    assert!(results[0].message.contains("handles aws.s3.bucket, not `aws.ec2.instance`"), "{}", results[0].message);
}

#[tokio::test]
async fn malformed_events_give_one_failed_result_naming_the_place() {
    let b = bots(Mode::DryRun, single());
    let good: serde_json::Value = serde_json::from_str(&event("111", json!("AUTO: fake_block"))).unwrap();
    let mut cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "invalid finding event"),
        ("[]".into(), "invalid finding event"),
        ("null".into(), "invalid finding event"),
    ];
    let mut e = good.clone();
    e["entity"].as_object_mut().unwrap().remove("id");
    cases.push((e.to_string(), "missing field `id`"));
    let mut e = good.clone();
    e["entity"]["type"] = json!("Spaceship");
    cases.push((e.to_string(), "at `entity.type`: unknown entity type `Spaceship`"));
    let mut e = good.clone();
    e["account"]["id"] = json!(" ");
    cases.push((e.to_string(), "at `account.id`"));
    let mut e = good.clone();
    e["region"] = json!(42);
    cases.push((e.to_string(), "at `region`"));
    let mut e = good;
    e["rule"]["complianceTags"] = json!({"a": 1});
    cases.push((e.to_string(), "at `rule.complianceTags`"));
    for (text, says) in cases {
        let results = b.dispatcher.handle_json(&text, t0()).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].status, BotStatus::Failed);
        assert!(results[0].message.contains(says), "{text}: {}", results[0].message);
    }
    assert!(b.fix.calls.lock().unwrap().plans.is_empty());
    assert!(FindingEvent::from_json("{}").is_err());
}

#[test]
fn the_least_privilege_policy_lists_exactly_the_needed_actions() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let catalogue = Catalogue::new().with(Arc::new(FakeFix::new(store))).unwrap();
    let p = least_privilege_policy(&catalogue, &["fake_block"], None).unwrap();
    assert_eq!(
        p,
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "PacbotAutofixS3", "Effect": "Allow", "Resource": "*",
            "Action": ["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"]}]})
    );
    let multi = AccountMode::Multi { role_name: "pacbot-bots".into() };
    let p = least_privilege_policy(&catalogue, &["fake-block-public"], Some(&multi)).unwrap();
    assert_eq!(p["Statement"][1]["Resource"], "arn:aws:iam::*:role/pacbot-bots");
    assert_eq!(multi.role_arn("123"), Some("arn:aws:iam::123:role/pacbot-bots".into()));
    assert!(
        least_privilege_policy(&catalogue, &["nope"], None).unwrap_err().to_string().contains("unknown fix `nope`")
    );
    assert!(least_privilege_policy(&catalogue, &[], None).is_err());
}
