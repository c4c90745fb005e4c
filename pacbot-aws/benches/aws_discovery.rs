// Run with `cargo bench -p pacbot-aws --bench aws_discovery` (moto: PACBOT_TEST_MOTO_URL, as for the tests;
// a quick smoke run: `cargo test -p pacbot-aws --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! Discovery of N× a fixed mix of resources seeded into moto (N = 1, 10, 50;
//! N = 1 only in test mode), through the fault proxy that counts every
//! request: requests per operation against the floor (the list pages the
//! counts need at AWS's maximum page sizes, plus the per-resource calls AWS
//! has no list for), the wall time and client CPU time of discovery and of
//! the pack's evaluation, and the peak RSS (target: 64 MB at N = 50).
//!
//! Every request costs moto about 7 ms of server CPU, so the wall time is
//! bounded by the request count; the figures are one run each, printed with
//! the load average.
//!
//! CPU time and peak RSS are read from `/proc/self` (`utime + stime` and
//! `VmHWM`, what `getrusage` reports), as the workspace forbids `unsafe`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::types as ec2t;
use common::{connector, discover, runtime, sdk_config};
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{FaultProxy, moto_url, reset_moto};
use pacbot_core::{Discovered, Engine};

const REGION: &str = "us-east-1";
const TARGET_RSS_MB: f64 = 64.0;

/// The mix seeded N times (moto adds the default VPC, its subnets, group and
/// route table, and a root volume per instance).
const MIX: &str = "2 instances (2 root volumes), 2 security groups, 2 volumes, 1 snapshot, 1 elastic IP, \
                   1 subnet, 1 route table, 2 buckets, 2 users (1 access key), 1 group, 1 role, 1 policy";

fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

async fn seed(conf: &SdkConfig, n: usize) {
    let ec2 =
        aws_sdk_ec2::Client::from_conf(aws_sdk_ec2::config::Builder::from(conf).region(Region::new(REGION)).build());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf).region(Region::new(REGION)).force_path_style(true).build(),
    );
    let iam = aws_sdk_iam::Client::new(conf);
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let everything = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    for i in 0..n {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap();
        let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
        let rt = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
        let rt = rt.route_table().unwrap().route_table_id().unwrap().to_owned();
        ec2.associate_route_table().route_table_id(&rt).subnet_id(&subnet).send().await.unwrap();
        let mut groups = Vec::new();
        for g in 0..2 {
            let id = ec2
                .create_security_group()
                .group_name(format!("g{i}-{g}"))
                .description("bench")
                .vpc_id(&vpc)
                .send()
                .await
                .unwrap()
                .group_id()
                .unwrap()
                .to_owned();
            ec2.authorize_security_group_ingress()
                .group_id(&id)
                .ip_permissions(
                    ec2t::IpPermission::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .ip_ranges(ec2t::IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
                .send()
                .await
                .unwrap();
            groups.push(id);
        }
        ec2.run_instances()
            .image_id("ami-12c6146b")
            .min_count(2)
            .max_count(2)
            .subnet_id(&subnet)
            .set_security_group_ids(Some(groups))
            .send()
            .await
            .unwrap();
        let mut first = String::new();
        for v in 0..2 {
            let vol = ec2.create_volume().availability_zone("us-east-1a").size(8).send().await.unwrap();
            if v == 0 {
                first = vol.volume_id().unwrap().to_owned();
            }
        }
        ec2.create_snapshot().volume_id(&first).send().await.unwrap();
        ec2.allocate_address().domain(ec2t::DomainType::Vpc).send().await.unwrap();
        for b in 0..2 {
            s3.create_bucket().bucket(format!("bench-{i}-{b}")).send().await.unwrap();
        }
        for u in 0..2 {
            iam.create_user().user_name(format!("u{i}-{u}")).send().await.unwrap();
        }
        iam.create_access_key().user_name(format!("u{i}-0")).send().await.unwrap();
        iam.create_group().group_name(format!("grp{i}")).send().await.unwrap();
        iam.create_role().role_name(format!("role{i}")).assume_role_policy_document(trust).send().await.unwrap();
        iam.create_policy().policy_name(format!("pol{i}")).policy_document(everything).send().await.unwrap();
    }
}

fn count(d: &Discovered, k: &str) -> usize {
    d.inventory.of_kind(&k.into()).count()
}

fn pages(n: usize, max: usize) -> usize {
    n.div_ceil(max).max(1)
}

/// The fewest requests a one-pass listing of what was found needs, per
/// operation: list pages at AWS's maximum page sizes, and the per-resource
/// calls no list carries (snapshot permissions, S3 bucket settings, the
/// access keys of users that have some).
fn floor(d: &Discovered) -> BTreeMap<&'static str, usize> {
    let attr = |k: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        d.inventory.of_kind(&k.into()).filter(|a| f(&a.attributes.to_value())).count()
    };
    let enis: usize = d
        .inventory
        .of_kind(&kind::INSTANCE.into())
        .map(|a| a.attributes.to_value()["network_interface_ids"].as_array().map_or(0, Vec::len))
        .sum();
    let buckets = count(d, kind::BUCKET);
    let with_policy = attr(kind::BUCKET, &|a| !a["policy"].is_null());
    let with_keys = attr(kind::USER, &|a| a["access_keys"].as_array().is_some_and(|k| !k.is_empty()));
    let iam_entities = count(d, kind::USER) + count(d, kind::GROUP) + count(d, kind::ROLE) + count(d, kind::POLICY);
    BTreeMap::from([
        ("sts GetCallerIdentity", 1),
        ("ec2 DescribeInstances", pages(count(d, kind::INSTANCE), 1000)),
        ("ec2 DescribeSecurityGroups", pages(count(d, kind::SECURITY_GROUP), 1000)),
        ("ec2 DescribeNetworkInterfaces", pages(enis, 1000)),
        ("ec2 DescribeVolumes", pages(count(d, kind::VOLUME), 500)),
        ("ec2 DescribeSnapshots", pages(count(d, kind::SNAPSHOT), 1000)),
        ("ec2 DescribeSnapshotAttribute", count(d, kind::SNAPSHOT)),
        ("ec2 DescribeVpcs", pages(count(d, kind::VPC), 1000)),
        ("ec2 DescribeInternetGateways", 1),
        ("ec2 DescribeFlowLogs", 1),
        ("ec2 DescribeSubnets", pages(count(d, kind::SUBNET), 1000)),
        ("ec2 DescribeRouteTables", pages(count(d, kind::ROUTE_TABLE), 100)),
        ("ec2 DescribeAddresses", 1),
        ("ec2 GetEbsEncryptionByDefault", 1),
        ("s3 max-buckets", 1), // ListBuckets
        ("s3 acl", buckets),
        ("s3 policy", buckets),
        ("s3 policyStatus", with_policy),
        ("s3 publicAccessBlock", buckets),
        ("s3 encryption", buckets),
        ("s3 versioning", buckets),
        ("s3 logging", buckets),
        ("s3 website", buckets),
        ("s3 tagging", buckets),
        ("s3 ownershipControls", buckets),
        ("s3control GET", 1), // the account's public access block
        ("iam GetAccountAuthorizationDetails", pages(iam_entities, 1000)),
        ("iam GenerateCredentialReport", 1),
        ("iam GetCredentialReport", 1),
        ("iam ListVirtualMFADevices", 1),
        ("iam ListAccessKeys", with_keys),
        ("iam GetAccountPasswordPolicy", 1),
        ("iam GetAccountSummary", 1),
    ])
}

struct Run {
    n: usize,
    assets: usize,
    requests: usize,
    floor: usize,
    discovery: Duration,
    discovery_cpu: Duration,
    evaluation: Duration,
    rss_mb: f64,
}

fn run(url: &str, n: usize) -> Run {
    reset_moto(url);
    runtime().block_on(async {
        seed(&sdk_config(url).await, n).await;
        let proxy = FaultProxy::start(url).await.unwrap();
        let c = connector(sdk_config(&proxy.url()).await, &[REGION]).build().unwrap();
        let (t0, c0) = (Instant::now(), cpu());
        let d = discover(&c).await;
        let (discovery, discovery_cpu) = (t0.elapsed(), cpu().saturating_sub(c0));
        let failed: Vec<_> = d.coverage.failures().collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(count(&d, kind::INSTANCE), 2 * n);
        assert_eq!(count(&d, kind::BUCKET), 2 * n);

        let config = pacbot_aws::PackConfig { approved_regions: vec![REGION.into()], ..Default::default() };
        let engine = Engine::new(pacbot_aws::policies(&config), vec![]).unwrap();
        let t1 = Instant::now();
        let eval = engine.evaluate(&d.inventory, pacbot_core::chrono::Utc::now());
        let evaluation = t1.elapsed();
        std::hint::black_box(eval.findings().count());

        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for r in proxy.requests() {
            *seen.entry(format!("{} {}", r.service, r.operation)).or_default() += 1;
        }
        let floor = floor(&d);
        println!("\nN = {n}: {} assets", d.inventory.len());
        println!("  {:<40} {:>8} {:>8}", "operation", "requests", "floor");
        let mut ops: Vec<&str> = floor.keys().copied().collect();
        ops.extend(seen.keys().map(String::as_str).filter(|k| !floor.contains_key(k)));
        ops.sort_unstable();
        ops.dedup();
        for op in ops {
            let got = seen.get(op).copied().unwrap_or(0);
            let want = floor.get(op).copied().unwrap_or(0);
            let mark = if got > want { "  above the floor" } else { "" };
            println!("  {op:<40} {got:>8} {want:>8}{mark}");
        }
        Run {
            n,
            assets: d.inventory.len(),
            requests: seen.values().sum(),
            floor: floor.values().sum(),
            discovery,
            discovery_cpu,
            evaluation,
            rss_mb: peak_rss_mb(),
        }
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let sizes: &[usize] = if bench_mode { &[1, 10, 50] } else { &[1] };
    let url = moto_url();
    println!("aws_discovery: N × ({MIX}) in {REGION}; load {}", load());
    let runs: Vec<Run> = sizes.iter().map(|&n| run(&url, n)).collect();
    println!(
        "\n{:>4} {:>7} {:>9} {:>7} {:>6} {:>12} {:>12} {:>12} {:>10}",
        "N", "assets", "requests", "floor", "ratio", "discovery", "client CPU", "evaluation", "peak RSS"
    );
    for r in &runs {
        println!(
            "{:>4} {:>7} {:>9} {:>7} {:>6.2} {:>10.2} s {:>10.2} s {:>9.1} ms {:>7.1} MB",
            r.n,
            r.assets,
            r.requests,
            r.floor,
            r.requests as f64 / r.floor as f64,
            r.discovery.as_secs_f64(),
            r.discovery_cpu.as_secs_f64(),
            r.evaluation.as_secs_f64() * 1000.0,
            r.rss_mb
        );
    }
    match runs.iter().find(|r| r.n == 50) {
        Some(r) => {
            let verdict = if r.rss_mb <= TARGET_RSS_MB { "met" } else { "NOT met" };
            println!("peak RSS {:.1} MB at N = 50: target ≤ {TARGET_RSS_MB} MB {verdict}; load {}", r.rss_mb, load());
        }
        None => println!("N = 50 not run (test mode): the RSS target is judged by `cargo bench`; load {}", load()),
    }
}
