//! Assumed-role credentials are cached per account for a scan: every region
//! and service of an account shares one `sts:AssumeRole`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{assumed_config, connector, discover, runtime, sdk_config, serial};
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{FaultProxy, Match, moto_url, reset_moto};

const A: &str = "222233334444";
const B: &str = "333344445555";

/// Creates user `name` in `account`, with credentials of a role assumed there.
async fn user_in(url: &str, account: &str, name: &str) {
    let conf = assumed_config(url, account).await;
    aws_sdk_iam::Client::new(&conf).create_user().user_name(name).send().await.unwrap();
}

#[test]
fn one_assume_role_per_account_per_scan() {
    let _turn = serial();
    let url = moto_url();
    reset_moto(&url);
    runtime().block_on(async {
        user_in(&url, A, "in-a").await;
        user_in(&url, B, "in-b").await;
        let proxy = FaultProxy::start(&url).await.unwrap();
        let c = connector(sdk_config(&proxy.url()).await, &["us-east-1", "eu-west-1"])
            .include_own_account(false)
            .accounts([A, B])
            .build()
            .unwrap();
        let assume = Match::service("sts").operation("AssumeRole");

        let d = discover(&c).await;
        assert!(!d.coverage.is_partial(), "{:?}", d.coverage.failures().collect::<Vec<_>>());
        assert_eq!(d.coverage.len(), 2 * (10 * 2 + 7), "two accounts, every kind of two regions");
        // Each account's clients (EC2 and S3 in two regions, S3 Control, IAM)
        // signed with its own role's credentials: each sees its own user.
        let mut users: Vec<(String, String)> =
            d.inventory.of_kind(&kind::USER.into()).map(|a| (a.id.account.clone(), a.id.resource_id.clone())).collect();
        users.sort();
        assert_eq!(users, [(A.to_owned(), "in-a".to_owned()), (B.to_owned(), "in-b".to_owned())]);
        assert_eq!(proxy.count(&assume), 2, "one AssumeRole per account");

        // A new scan assumes the roles anew (the cache lives for one scan).
        proxy.reset_log();
        discover(&c).await;
        assert_eq!(proxy.count(&assume), 2);
    });
}
