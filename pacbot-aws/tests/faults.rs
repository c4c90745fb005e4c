//! Failure injection: a fault proxy between discovery and moto.
//!
//! Throttling and server errors are retried (by the SDK); what outlasts the
//! retries, access denied and time-outs become failed scopes in the coverage;
//! and reconciliation closes nothing in a failed scope.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/world.rs"]
mod world;

use common::{ACCOUNT, connector, discover, runtime, sdk_config, serial};
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{Fault, FaultProxy, Match, moto_url, reset_moto};
use pacbot_core::{
    CoverageScope, Discovered, Engine, ExceptionSet, FnRule, Outcome, Policy, PolicyMeta, ReconcileInput, Severity,
    TransitionKind, reconcile,
};

fn scope(region: &str, kind: &str) -> CoverageScope {
    CoverageScope::new("aws", ACCOUNT, region, kind)
}

fn failure<'a>(d: &'a Discovered, s: &CoverageScope) -> Option<&'a str> {
    d.coverage.failures().find(|(f, _)| *f == s).map(|(_, e)| e)
}

/// Two instances in us-east-1, one bucket, one user.
async fn small_world(url: &str) -> Vec<String> {
    let conf = sdk_config(url).await;
    let c = world::ec2(&conf, "us-east-1");
    let out = c.run_instances().image_id(world::AMI).min_count(2).max_count(2).send().await.unwrap();
    world::s3(&conf, "us-east-1").create_bucket().bucket("bucket-one").send().await.unwrap();
    aws_sdk_iam::Client::new(&conf).create_user().user_name("u1").send().await.unwrap();
    out.instances().iter().map(|i| i.instance_id().unwrap().to_owned()).collect()
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        small_world(&url).await;
        let proxy = FaultProxy::start(&url).await.unwrap();
        let instances = Match::service("ec2").region("us-east-1").operation("DescribeInstances");
        proxy.inject(instances.clone(), Fault::Throttle, Some(2));
        proxy.inject(Match::service("s3").operation("acl"), Fault::SlowDown, Some(1));
        proxy.inject(Match::service("iam").operation("GetAccountAuthorizationDetails"), Fault::ServerError, Some(1));
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1"]).build().unwrap();
        let d = discover(&c).await;
        let failures: Vec<_> = d.coverage.failures().collect();
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(proxy.count(&instances), 3, "two throttled attempts, then success");
        assert_eq!(proxy.count(&Match::service("s3").operation("acl")), 2);
        assert_eq!(proxy.count(&Match::service("iam").operation("GetAccountAuthorizationDetails")), 2);
        assert_eq!(d.inventory.of_kind(&kind::INSTANCE.into()).count(), 2);
        assert_eq!(d.inventory.of_kind(&kind::BUCKET.into()).count(), 1);
        assert_eq!(d.inventory.of_kind(&kind::USER.into()).count(), 1);
    });
}

#[test]
fn what_outlasts_the_retries_fails_its_scope_only() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        small_world(&url).await;
        let proxy = FaultProxy::start(&url).await.unwrap();
        // EC2 refused in eu-west-1, volumes hang in us-east-1, S3 ACLs always throttled,
        // IAM always failing on its credential report.
        proxy.inject(Match::service("ec2").region("eu-west-1"), Fault::AccessDenied, None);
        proxy.inject(
            Match::service("ec2").region("us-east-1").operation("DescribeVolumes"),
            Fault::Hang(std::time::Duration::from_secs(8)),
            None,
        );
        proxy.inject(Match::service("s3").operation("acl"), Fault::SlowDown, None);
        proxy.inject(Match::service("iam").operation("GenerateCredentialReport"), Fault::ServerError, None);
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1", "eu-west-1"])
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(std::time::Duration::from_secs(2))
                    .operation_timeout(std::time::Duration::from_secs(30))
                    .build(),
            )
            .build()
            .unwrap();
        let d = discover(&c).await;

        let eu_instances = failure(&d, &scope("eu-west-1", kind::INSTANCE)).unwrap();
        assert!(
            eu_instances.contains("DescribeInstances (ec2)") && eu_instances.contains("permission denied"),
            "{eu_instances}"
        );
        for k in [
            kind::SECURITY_GROUP,
            kind::VOLUME,
            kind::SNAPSHOT,
            kind::VPC,
            kind::SUBNET,
            kind::ROUTE_TABLE,
            kind::ADDRESS,
            kind::EC2_ACCOUNT_SETTINGS,
        ] {
            assert!(failure(&d, &scope("eu-west-1", k)).is_some(), "{k} in eu-west-1");
        }
        let volumes = failure(&d, &scope("us-east-1", kind::VOLUME)).unwrap();
        assert!(volumes.contains("DescribeVolumes") && volumes.contains("timed out"), "{volumes}");
        let buckets = failure(&d, &scope("us-east-1", kind::BUCKET)).unwrap();
        assert!(buckets.contains("GetBucketAcl") && buckets.contains("throttled"), "{buckets}");
        let users = failure(&d, &scope("global", kind::USER)).unwrap();
        assert!(users.contains("GenerateCredentialReport") && users.contains("server error"), "{users}");
        assert_eq!(proxy.count(&Match::service("iam").operation("GenerateCredentialReport")), 3, "three attempts");

        // Everything else completed, and its assets are there.
        for k in [kind::INSTANCE, kind::SECURITY_GROUP, kind::SNAPSHOT, kind::VPC, kind::SUBNET, kind::ROUTE_TABLE] {
            assert!(d.coverage.is_complete(&scope("us-east-1", k)), "{k} in us-east-1");
        }
        for k in [
            kind::GROUP,
            kind::ROLE,
            kind::POLICY,
            kind::PASSWORD_POLICY,
            kind::ACCOUNT_SUMMARY,
            kind::S3_ACCOUNT_SETTINGS,
        ] {
            assert!(d.coverage.is_complete(&scope("global", k)), "{k}");
        }
        assert!(d.coverage.is_complete(&scope("eu-west-1", kind::BUCKET)));
        assert_eq!(d.inventory.of_kind(&kind::INSTANCE.into()).count(), 2);
        assert_eq!(d.inventory.of_kind(&kind::USER.into()).count(), 0, "a failed scope's partial view is left out");
    });
}

/// Evaluates a discovery and reconciles it with the previous violations.
fn judge(
    engine: &Engine,
    d: &Discovered,
    previous: &[pacbot_core::Violation],
    now: pacbot_core::chrono::DateTime<pacbot_core::chrono::Utc>,
) -> pacbot_core::Reconciliation {
    let evaluation = engine.evaluate(&d.inventory, now);
    let exceptions = ExceptionSet::default();
    reconcile(&ReconcileInput {
        previous,
        inventory: &d.inventory,
        evaluation: &evaluation,
        coverage: &d.coverage,
        exceptions: &exceptions,
        now,
    })
}

#[test]
fn a_failed_scope_closes_nothing_and_a_complete_one_closes_what_is_gone() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        let instances = small_world(&url).await;
        let proxy = FaultProxy::start(&url).await.unwrap();
        let conf = sdk_config(&proxy.url()).await;
        let c = connector(conf.clone(), &["us-east-1"]).kinds([kind::INSTANCE]).build().unwrap();
        let policy = Policy::new(
            PolicyMeta::new(
                "every-instance-fails",
                "every instance fails",
                Severity::Low,
                pacbot_core::Category::Security,
            ),
            FnRule::new("r", [kind::INSTANCE], |_, _| Outcome::fail("flagged")),
        );
        let engine = Engine::new(vec![policy], vec![]).unwrap();
        let now = pacbot_core::chrono::Utc::now();

        let first = discover(&c).await;
        let r1 = judge(&engine, &first, &[], now);
        assert_eq!(r1.counts().get(&TransitionKind::Opened), Some(&2));

        // One instance terminated, and EC2 refused: nothing closes.
        world::ec2(&conf, "us-east-1").terminate_instances().instance_ids(&instances[0]).send().await.unwrap();
        proxy.inject(Match::service("ec2"), Fault::AccessDenied, None);
        let second = discover(&c).await;
        assert!(second.coverage.is_partial());
        let r2 = judge(&engine, &second, &r1.violations, now);
        assert!(r2.changes().next().is_none(), "{:?}", r2.transitions);
        assert_eq!(r2.violations, r1.violations);

        // EC2 answers again: the terminated instance's violation closes as gone.
        proxy.clear();
        let third = discover(&c).await;
        assert!(!third.coverage.is_partial());
        let r3 = judge(&engine, &third, &r2.violations, now);
        assert_eq!(r3.counts().get(&TransitionKind::ClosedResourceGone), Some(&1));
        assert_eq!(r3.counts().get(&TransitionKind::StillOpen), Some(&1));
    });
}

#[test]
fn a_refused_role_fails_that_account_only() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        small_world(&url).await;
        let proxy = FaultProxy::start(&url).await.unwrap();
        proxy.inject(Match::service("sts").operation("AssumeRole"), Fault::AccessDenied, None);
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1"])
            .accounts(["111111111111"])
            .kinds([kind::INSTANCE, kind::USER])
            .build()
            .unwrap();
        let d = discover(&c).await;
        let other = CoverageScope::new("aws", "111111111111", "us-east-1", kind::INSTANCE);
        let e = failure(&d, &other).unwrap();
        assert!(e.contains("cannot assume `arn:aws:iam::111111111111:role/pacbot_ro`"), "{e}");
        assert!(failure(&d, &CoverageScope::new("aws", "111111111111", "global", kind::USER)).is_some());
        assert!(d.coverage.is_complete(&scope("us-east-1", kind::INSTANCE)));
        assert!(d.coverage.is_complete(&scope("global", kind::USER)));
    });
}

#[test]
fn other_accounts_are_scanned_through_an_assumed_role() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        small_world(&url).await;
        let proxy = FaultProxy::start(&url).await.unwrap();
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1"])
            .include_own_account(false)
            .accounts(["111111111111"])
            .role_name("audit")
            .external_id("xyz")
            .kinds([kind::INSTANCE, kind::USER])
            .build()
            .unwrap();
        let d = discover(&c).await;
        assert!(!d.coverage.is_partial(), "{:?}", d.coverage.failures().collect::<Vec<_>>());
        assert_eq!(d.coverage.len(), 2);
        // moto keeps each account apart: the other account is empty.
        assert!(d.inventory.is_empty(), "{:?}", d.inventory.assets());
        // Once for the account: its clients share the credentials.
        assert_eq!(proxy.count(&Match::service("sts").operation("AssumeRole")), 1);
    });
}
