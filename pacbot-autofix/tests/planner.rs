//! The planner's state machine with a fake clock, against MemoryStore and SqliteStore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use pacbot_autofix::{
    Catalogue, Decision, Executor, MemoryNotifier, MessageKind, Mode, Notifier, Planner, PlannerConfig, PolicyFix,
    RunStatus,
};
use pacbot_core::{Criteria, Exception, ExceptionTarget};
use pacbot_store::{FixFilter, FixKind, Stamp, Store};
use proptest::prelude::*;

const POLICY: &str = "aws-s3-public-policy";

fn h(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

struct Setup {
    store: Arc<dyn Store>,
    fix: Arc<FakeFix>,
    notifier: Arc<MemoryNotifier>,
    catalogue: Catalogue,
}

fn setup(store: Arc<dyn Store>) -> Setup {
    let fix = Arc::new(FakeFix::new(store.clone()));
    let catalogue = Catalogue::new().with(fix.clone()).unwrap();
    Setup { store, fix, notifier: Arc::new(MemoryNotifier::new()), catalogue }
}

impl Setup {
    fn planner(&self, config: PolicyFix, mode: Mode) -> Planner {
        let executor = Arc::new(Executor::new(self.store.clone(), "pacbot-autofix").with_mode(mode));
        let mut cfg = PlannerConfig::new(vec![config]);
        cfg.summary_recipients = vec!["secops@example.com".into()];
        Planner::new(cfg, &self.catalogue, executor, vec![self.notifier.clone() as Arc<dyn Notifier>]).unwrap()
    }

    fn make_public(&self, ids: &[&str]) {
        self.fix.public.lock().unwrap().extend(ids.iter().map(|s| (*s).to_owned()));
    }

    async fn grant(&self, id: &str, asset: &pacbot_core::Asset, now: DateTime<Utc>, hours: i64) {
        let e = Exception {
            id: id.into(),
            target: ExceptionTarget::Asset { asset: asset.id.clone(), policies: vec![POLICY.into()] },
            reason: "accepted for the migration".into(),
            granted_by: "alice".into(),
            granted_at: now,
            expires_at: Some(now + h(hours)),
        };
        self.store.put_exception(e, Stamp::new("alice", now)).await.unwrap();
    }
}

fn only(report: &pacbot_autofix::PlannerReport) -> &Decision {
    assert_eq!(report.decisions.len(), 1, "{:#?}", report.decisions);
    &report.decisions[0].decision
}

#[tokio::test]
async fn notify_wait_remind_then_fix_with_backup_and_audit() {
    for (name, store) in stores().await {
        let s = setup(store.clone());
        let a = asset("111", "b1");
        seed(store.as_ref(), POLICY, std::slice::from_ref(&a), t0()).await;
        s.make_public(&["b1"]);
        let config = PolicyFix::new(POLICY, "fake_block").allow_account("111");
        let dry = s.planner(config.clone(), Mode::DryRun);

        let r = dry.run(t0()).await.unwrap();
        assert_eq!(only(&r), &Decision::Notified { due_at: t0() + h(24) }, "{name}");
        let sent = s.notifier.take();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].kind, MessageKind::FixNotice);
        assert_eq!(sent[0].to, vec!["b1@example.com".to_owned()]);
        assert!(sent[0].text.contains("fake-block-public"), "{}", sent[0].text);

        assert!(matches!(only(&dry.run(t0() + h(6)).await.unwrap()), Decision::Waiting { .. }), "{name}");
        assert_eq!(only(&dry.run(t0() + h(12)).await.unwrap()), &Decision::Reminded { due_at: t0() + h(24) });
        assert_eq!(s.notifier.take()[0].kind, MessageKind::FixReminder);
        assert!(matches!(only(&dry.run(t0() + h(13)).await.unwrap()), Decision::Waiting { .. }));

        // Due, in dry-run: planned and recorded, never applied.
        let r = dry.run(t0() + h(24)).await.unwrap();
        let Decision::Ran { run } = only(&r) else { panic!("{r:?}") };
        assert_eq!(run.status, RunStatus::Planned, "{name}");
        assert!(run.plan.as_ref().unwrap().render().contains("s3:PutBucketPublicAccessBlock"));
        assert!(s.fix.calls.lock().unwrap().applies.is_empty());
        assert!(s.fix.calls.lock().unwrap().backups.is_empty());
        assert!(s.fix.public.lock().unwrap().contains("b1"));

        // The explicit switch: applied, after the backup and the audit record.
        let live = s.planner(config, Mode::Apply);
        let r = live.run(t0() + h(25)).await.unwrap();
        let Decision::Ran { run } = only(&r) else { panic!("{r:?}") };
        assert_eq!(run.status, RunStatus::Applied, "{name}: {run:?}");
        assert!(s.fix.public.lock().unwrap().is_empty());
        let audit = store.fix_record(&run.action_id).await.unwrap();
        assert_eq!(audit.status, "applied");
        assert_eq!(audit.data["actor"], "pacbot-autofix");
        assert_eq!(audit.data["before"], serde_json::json!({"public": true}));
        assert_eq!(audit.data["after"], serde_json::json!({"public": false}));
        let backup = store.fix_record(run.backup_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(backup.kind, FixKind::Backup);
        assert_eq!(s.notifier.take()[0].kind, MessageKind::FixDone);

        // Fixed: the planner waits for a scan, and does not fix again.
        assert!(matches!(only(&live.run(t0() + h(26)).await.unwrap()), Decision::Waiting { .. }));
        assert_eq!(s.fix.calls.lock().unwrap().applies.len(), 1);

        // Rollback restores from the backup.
        let rolled = Executor::new(store.clone(), "alice")
            .with_mode(Mode::Apply)
            .rollback(&s.catalogue, &run.action_id, t0() + h(27))
            .await
            .unwrap();
        assert_eq!(rolled.status, RunStatus::RolledBack);
        assert!(s.fix.public.lock().unwrap().contains("b1"));
        assert_eq!(store.fix_record(&run.action_id).await.unwrap().status, "rolled_back");
    }
}

#[tokio::test]
async fn idempotent_apply_and_failed_apply_are_recorded() {
    for (name, store) in stores().await {
        let s = setup(store.clone());
        let a = asset("111", "b1");
        let ex = Executor::new(store.clone(), "bot").with_mode(Mode::Apply);
        let target = pacbot_autofix::FixTarget::asset(a.clone());
        let params = pacbot_autofix::Params::new();
        // Already private: a no-op that says so, with no backup taken.
        let run = ex.run(s.fix.as_ref(), &target, &params, POLICY, t0()).await.unwrap();
        assert_eq!(run.status, RunStatus::AlreadyFixed, "{name}");
        assert!(run.message.contains("already fixed"), "{}", run.message);
        assert!(s.fix.calls.lock().unwrap().backups.is_empty());
        // A failing apply is a failed run with its audit, not an error.
        let mut failing = FakeFix::new(store.clone());
        failing.fail_apply = true;
        failing.public.lock().unwrap().insert("b1".into());
        let run = ex.run(&failing, &target, &params, POLICY, t0()).await.unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.message.contains("access denied"), "{}", run.message);
        assert_eq!(store.fix_record(&run.action_id).await.unwrap().status, "failed");
    }
}

#[tokio::test]
async fn an_exception_during_the_grace_period_suspends_and_its_expiry_resumes() {
    for (name, store) in stores().await {
        let s = setup(store.clone());
        let a = asset("111", "b1");
        seed(store.as_ref(), POLICY, std::slice::from_ref(&a), t0()).await;
        s.make_public(&["b1"]);
        let p = s.planner(PolicyFix::new(POLICY, "fake-block-public").allow_account("111"), Mode::Apply);
        assert!(matches!(only(&p.run(t0()).await.unwrap()), Decision::Notified { .. }));
        s.grant("exc-1", &a, t0() + h(2), 48).await;
        for at in [3, 24, 30, 49] {
            let d = p.run(t0() + h(at)).await.unwrap();
            assert_eq!(only(&d), &Decision::Suspended { exception_id: "exc-1".into() }, "{name} at +{at}h");
        }
        assert!(s.fix.calls.lock().unwrap().applies.is_empty());
        let plan = store.fix_records(&FixFilter { kind: Some(FixKind::Plan), ..FixFilter::default() }).await.unwrap();
        assert_eq!(plan[0].status, "suspended");
        // Expired at +50h: resumed with a new notice and a full grace period.
        let _ = s.notifier.take();
        let d = p.run(t0() + h(51)).await.unwrap();
        assert_eq!(only(&d), &Decision::Resumed { due_at: t0() + h(75) }, "{name}");
        assert_eq!(s.notifier.take()[0].kind, MessageKind::FixNotice);
        assert!(matches!(
            only(&p.run(t0() + h(74)).await.unwrap()),
            Decision::Reminded { .. } | Decision::Waiting { .. }
        ));
        let d = p.run(t0() + h(75)).await.unwrap();
        assert!(matches!(only(&d), Decision::Ran { run } if run.status == RunStatus::Applied), "{name}: {d:?}");
    }
}

#[tokio::test]
async fn allow_list_criteria_and_cap_limit_the_fixes() {
    for (name, store) in stores().await {
        let s = setup(store.clone());
        let assets: Vec<_> =
            ["a1p", "a2p", "a3p", "a4p", "a5"].iter().map(|id| asset("111", id)).chain([asset("222", "x1p")]).collect();
        seed(store.as_ref(), POLICY, &assets, t0()).await;
        s.make_public(&["a1p", "a2p", "a3p", "a4p", "a5", "x1p"]);
        let config = PolicyFix::new(POLICY, "fake-block-public")
            .allow_account("111")
            .with_cap(2)
            .with_grace(Duration::from_secs(3600))
            .with_criteria(Criteria::eq("tags.Env", "prod").unwrap());
        let p = s.planner(config, Mode::Apply);
        let r = p.run(t0()).await.unwrap();
        let skipped = r.decisions.iter().filter(|d| matches!(d.decision, Decision::Skipped { .. })).count();
        assert_eq!(skipped, 2, "{name}: a5 (criteria) and x1p (account)");
        let r = p.run(t0() + h(1)).await.unwrap();
        assert_eq!(r.runs().count(), 2, "{name}");
        assert_eq!(r.decisions.iter().filter(|d| matches!(d.decision, Decision::Deferred { .. })).count(), 2);
        let r = p.run(t0() + h(2)).await.unwrap();
        assert_eq!(r.runs().count(), 2);
        let applied = s.fix.calls.lock().unwrap().applies.clone();
        assert_eq!(applied, vec!["a1p", "a2p", "a3p", "a4p"], "{name}");
        // Nothing outside the allow-list or the criteria was notified.
        assert!(s.notifier.sent().iter().all(|m| !m.to.iter().any(|t| t.starts_with("x1p") || t.starts_with("a5@"))));
    }
}

#[tokio::test]
async fn silent_fixes_run_at_once_with_a_summary() {
    for (name, store) in stores().await {
        let s = setup(store.clone());
        let assets = [asset("111", "s1"), asset("111", "s2")];
        seed(store.as_ref(), POLICY, &assets, t0()).await;
        s.make_public(&["s1", "s2"]);
        let p = s.planner(PolicyFix::new(POLICY, "fake-block-public").allow_account("111").silent(), Mode::Apply);
        let r = p.run(t0()).await.unwrap();
        assert_eq!(r.runs().filter(|r| r.status == RunStatus::Applied).count(), 2, "{name}");
        let sent = s.notifier.take();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].kind, MessageKind::FixSummary);
        assert_eq!(sent[0].to, vec!["secops@example.com".to_owned()]);
        assert!(sent[0].text.contains("s1") && sent[0].text.contains("s2"));
    }
}

#[test]
fn configuration_errors_name_the_place() {
    let store: Arc<dyn Store> = Arc::new(pacbot_store::MemoryStore::new());
    let s = setup(store.clone());
    let ex = Arc::new(Executor::new(store, "x"));
    let e = PlannerConfig::from_json(r#"{"policies": [{"policy_id": "p", "fix": "f", "grace": "soon"}]}"#).unwrap_err();
    assert!(e.to_string().contains("policies[0].grace") && e.to_string().contains("`soon`"), "{e}");
    let c = PlannerConfig::from_json(r#"{"policies": [{"policy_id": "p", "fix": "nope"}]}"#).unwrap();
    let e = Planner::new(c, &s.catalogue, ex.clone(), vec![]).unwrap_err().to_string();
    assert!(e.contains("policies[0].fix") && e.contains("unknown fix `nope`"), "{e}");
    let c = PlannerConfig::from_json(
        r#"{"policies": [{"policy_id": "p", "fix": "fake-block-public", "params": {"level": "bucket"}, "grace": "2h"}]}"#,
    )
    .unwrap();
    assert_eq!(c.policies[0].grace, Duration::from_secs(7200));
    let e = Planner::new(c, &s.catalogue, ex.clone(), vec![]).unwrap_err().to_string();
    assert!(e.contains("policies[0].params") && e.contains("`bucket` is not one of all, acl"), "{e}");
    let c =
        PlannerConfig::from_json(r#"{"policies": [{"policy_id": "p", "fix": "fake-block-public", "max_per_run": 0}]}"#)
            .unwrap();
    assert!(Planner::new(c, &s.catalogue, ex, vec![]).unwrap_err().to_string().contains("max_per_run"));
}

#[derive(Clone, Debug)]
enum Event {
    Advance(i64),
    Grant(usize, i64),
    Revoke(usize),
    Run,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (0i64..40).prop_map(Event::Advance),
        1 => (0usize..6, 1i64..72).prop_map(|(i, h)| Event::Grant(i, h)),
        1 => (0usize..6).prop_map(Event::Revoke),
        4 => Just(Event::Run),
    ]
}

#[allow(clippy::too_many_arguments)]
async fn check_schedule(
    store: Arc<dyn Store>,
    apply: bool,
    accounts: Vec<bool>,
    prod: Vec<bool>,
    grace_h: i64,
    cap: usize,
    filter: bool,
    events: Vec<Event>,
) {
    let s = setup(store.clone());
    let assets: Vec<_> = accounts
        .iter()
        .zip(&prod)
        .enumerate()
        .map(|(i, (&allowed, &p))| {
            asset(if allowed { "111" } else { "222" }, &format!("b{i}{}", if p { "p" } else { "" }))
        })
        .collect();
    seed(store.as_ref(), POLICY, &assets, t0()).await;
    let ids: Vec<String> = assets.iter().map(|a| a.id.resource_id.clone()).collect();
    s.make_public(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    let mut config = PolicyFix::new(POLICY, "fake-block-public")
        .allow_account("111")
        .with_cap(cap)
        .with_grace(Duration::from_secs(u64::try_from(grace_h).unwrap() * 3600));
    if filter {
        config = config.with_criteria(Criteria::eq("tags.Env", "prod").unwrap());
    }
    let p = s.planner(config, if apply { Mode::Apply } else { Mode::DryRun });
    let mut now = t0();
    let mut notice: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for e in events {
        match e {
            Event::Advance(hours) => now += h(hours),
            Event::Grant(i, hours) if i < assets.len() => s.grant(&format!("e{i}"), &assets[i], now, hours).await,
            Event::Revoke(i) => {
                let _ = store.delete_exception(&format!("e{i}")).await;
            }
            Event::Grant(..) => {}
            Event::Run => {
                let before = s.fix.calls.lock().unwrap().applies.len();
                let exceptions = pacbot_store::StoreExt::exception_set(store.as_ref()).await.unwrap();
                let r = p.run(now).await.unwrap();
                let mut ran = 0;
                for d in &r.decisions {
                    let id = d.violation.asset.resource_id.clone();
                    match &d.decision {
                        Decision::Notified { .. } | Decision::Resumed { .. } => {
                            notice.insert(id, now);
                        }
                        Decision::Ran { run } => {
                            ran += 1;
                            let a = assets.iter().find(|a| a.id.resource_id == id).unwrap();
                            assert_eq!(a.id.account, "111", "fixed outside the allow-list");
                            assert!(!filter || id.ends_with('p'), "fixed outside the criteria");
                            assert!(exceptions.find(a, POLICY, now).is_none(), "fixed an exempted violation");
                            let n = notice.get(&id).copied().expect("fixed without a notice");
                            assert!(now >= n + h(grace_h), "fixed before the grace period: notice {n}, now {now}");
                            if !apply {
                                assert_eq!(run.status, RunStatus::Planned);
                            }
                        }
                        Decision::Failed { message } => panic!("{message}"),
                        _ => {}
                    }
                }
                assert!(ran <= cap, "{ran} runs over the cap {cap}");
                let after = s.fix.calls.lock().unwrap().applies.len();
                assert!(after - before <= ran);
                if !apply {
                    assert_eq!(after, 0, "dry-run called apply");
                    assert!(s.fix.calls.lock().unwrap().backups.is_empty(), "dry-run took a backup");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn random_schedules_keep_the_invariants(
        apply in any::<bool>(),
        accounts in proptest::collection::vec(any::<bool>(), 1..6),
        prod in proptest::collection::vec(any::<bool>(), 6),
        grace_h in 0i64..48,
        cap in 1usize..4,
        filter in any::<bool>(),
        events in proptest::collection::vec(event(), 1..30),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            for (_, store) in stores().await {
                check_schedule(store, apply, accounts.clone(), prod.clone(), grace_h, cap, filter, events.clone()).await;
            }
        });
    }
}
