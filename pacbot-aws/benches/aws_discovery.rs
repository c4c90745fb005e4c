// Run with `cargo bench -p pacbot-aws --bench aws_discovery` (moto: PACBOT_TEST_MOTO_URL, as for the tests;
// a quick smoke run: `cargo test -p pacbot-aws --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! Discovery of N× a fixed mix of about 110 resources seeded into moto
//! (N = 1, 10, 50: ~110, ~1,100, ~5,400 resources; N = 1 only in test mode),
//! through the fault proxy that counts every request, compared with a
//! *plain one-pass listing* of the same resources run through the same proxy.
//!
//! The floor is measured, not computed: `plain_listing` is what a careful
//! hand-written script would do with the raw SDK — every list/describe call
//! the inventory's data needs (EC2 describes at their maximum page sizes,
//! per-snapshot permissions, S3 `ListBuckets` then each bucket's settings,
//! the account's public access block, IAM `GetAccountAuthorizationDetails`,
//! the credential report, virtual MFA devices, `ListAccessKeys` for the users
//! the report shows with keys, password policy, account summary), paginated,
//! sequential within a service and concurrent across services. (The earlier
//! computed floor — the same calls' page counts derived from the discovered
//! counts — is replaced by it: measuring gives the wall time and CPU as well.)
//! Discovery runs first, so moto's first-use costs fall on it, not the floor.
//!
//! Printed: requests per operation (discovery vs the plain listing), wall
//! time, client CPU, evaluation time and peak RSS, and the ratios
//! discovery/plain for wall, requests and CPU against the targets (wall ≤
//! 1.05×, requests ≤ 1×, peak RSS ≤ 64 MB at N = 50), as "met"/"missed"; the
//! figures are not asserted (one run each, printed with the load average).
//!
//! Every request costs moto about 7 ms of server CPU, so both wall times are
//! bounded by their request counts.
//!
//! Discovery and evaluation run in a child process (this binary again, with
//! `PACBOT_BENCH_CHILD=N`), so the peak RSS is theirs, not the seeding's; the
//! child prints its figures as one JSON line. CPU time and peak RSS are read
//! from `/proc/self` (`utime + stime` and `VmHWM`, what `getrusage` reports),
//! as the workspace forbids `unsafe`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_ec2::types as ec2t;
use common::{connector, discover, runtime, sdk_config};
use futures::StreamExt;
use pacbot_aws::shapes::kind;
use pacbot_aws::testing::{FaultProxy, moto_url, reset_moto};
use pacbot_core::{Discovered, Engine};

const REGION: &str = "us-east-1";
const TARGET_RSS_MB: f64 = 64.0;

/// The mix seeded N times (moto adds the default VPC, its subnets, group and
/// route table, and a root volume per instance).
const MIX: &str = "10 instances (10 root volumes), 10 security groups (3 rules each), 20 volumes, 10 snapshots, \
                   5 elastic IPs, 2 subnets, 2 route tables, 10 buckets (versioning, tags), 15 users (10 access \
                   keys, 5 attached policies), 3 groups, 8 roles, 8 policies";
const INSTANCES: usize = 10;
const BUCKETS: usize = 10;
/// Seeding units in flight at once (moto is one process; a few overlap its
/// parsing with the client's).
const SEED_CONCURRENCY: usize = 4;

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

struct Clients {
    ec2: aws_sdk_ec2::Client,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
}

impl Clients {
    fn new(conf: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(conf).region(Region::new(REGION)).build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(conf).region(Region::new(REGION)).force_path_style(true).build(),
            ),
            iam: aws_sdk_iam::Client::new(conf),
        }
    }
}

fn rule(port: i32, cidr: &str) -> ec2t::IpPermission {
    ec2t::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(ec2t::IpRange::builder().cidr_ip(cidr).build())
        .build()
}

async fn seed_ec2(c: &Clients, vpc: &str, i: usize) {
    let ec2 = &c.ec2;
    let mut subnets = Vec::new();
    for k in 0..2 {
        let subnet = ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(format!("10.0.{}.0/24", 2 * i + k))
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap();
        let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
        let rt = ec2.create_route_table().vpc_id(vpc).send().await.unwrap();
        let rt = rt.route_table().unwrap().route_table_id().unwrap().to_owned();
        ec2.associate_route_table().route_table_id(&rt).subnet_id(&subnet).send().await.unwrap();
        subnets.push(subnet);
    }
    let mut groups = Vec::new();
    for g in 0..10 {
        let id = ec2
            .create_security_group()
            .group_name(format!("g{i}-{g}"))
            .description("bench")
            .vpc_id(vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_owned();
        ec2.authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(rule(22, "0.0.0.0/0"))
            .ip_permissions(rule(443, "0.0.0.0/0"))
            .ip_permissions(rule(5432, "10.0.0.0/8"))
            .send()
            .await
            .unwrap();
        groups.push(id);
    }
    // One RunInstances for the unit's instances.
    ec2.run_instances()
        .image_id("ami-12c6146b")
        .min_count(INSTANCES as i32)
        .max_count(INSTANCES as i32)
        .subnet_id(&subnets[0])
        .security_group_ids(&groups[0])
        .security_group_ids(&groups[1])
        .send()
        .await
        .unwrap();
    let mut volumes = Vec::new();
    for _ in 0..20 {
        let vol = ec2.create_volume().availability_zone("us-east-1a").size(8).send().await.unwrap();
        volumes.push(vol.volume_id().unwrap().to_owned());
    }
    for v in volumes.iter().take(10) {
        ec2.create_snapshot().volume_id(v).send().await.unwrap();
    }
    for _ in 0..5 {
        ec2.allocate_address().domain(ec2t::DomainType::Vpc).send().await.unwrap();
    }
}

async fn seed_s3(c: &Clients, i: usize) {
    let s3 = &c.s3;
    for b in 0..BUCKETS {
        let bucket = format!("bench-{i}-{b}");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        if b % 2 == 0 {
            s3.put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        let tag = aws_sdk_s3::types::Tag::builder().key("team").value("bench").build().unwrap();
        s3.put_bucket_tagging()
            .bucket(&bucket)
            .tagging(aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap())
            .send()
            .await
            .unwrap();
    }
}

async fn seed_iam(c: &Clients, i: usize) {
    let iam = &c.iam;
    let everything = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    for p in 0..8 {
        iam.create_policy().policy_name(format!("pol{i}-{p}")).policy_document(everything).send().await.unwrap();
    }
    for r in 0..8 {
        iam.create_role().role_name(format!("role{i}-{r}")).assume_role_policy_document(trust).send().await.unwrap();
    }
    for g in 0..3 {
        iam.create_group().group_name(format!("grp{i}-{g}")).send().await.unwrap();
    }
    for u in 0..15 {
        let user = format!("u{i}-{u}");
        iam.create_user().user_name(&user).send().await.unwrap();
        if u < 10 {
            iam.create_access_key().user_name(&user).send().await.unwrap();
        }
        if u < 5 {
            iam.attach_user_policy()
                .user_name(&user)
                .policy_arn(format!("arn:aws:iam::{}:policy/pol{i}-{u}", common::ACCOUNT))
                .send()
                .await
                .unwrap();
        }
    }
}

/// Seeds N units, `SEED_CONCURRENCY` at a time; each unit's EC2, S3 and IAM
/// parts run concurrently. Then generates the IAM credential report, so that
/// discovery and the plain listing both find one ready, as a scanner running
/// on a cadence does (IAM regenerates it at most every four hours): whichever
/// ran first would otherwise pay for a `STARTED` answer and a second poll.
async fn seed(conf: &SdkConfig, n: usize) {
    let c = Clients::new(conf);
    let vpc = c.ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    futures::stream::iter(0..n)
        .map(|i| {
            let (c, vpc) = (&c, &vpc);
            async move {
                futures::join!(seed_ec2(c, vpc, i), seed_s3(c, i), seed_iam(c, i));
            }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    while c.iam.generate_credential_report().send().await.unwrap().state()
        != Some(&aws_sdk_iam::types::ReportStateType::Complete)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The plain one-pass listing (the floor): every call the inventory's data
/// needs, paginated at the maximum page sizes, sequential within a service,
/// the services concurrently. Errors (a bucket without a policy…) are answers.
async fn plain_listing(conf: &SdkConfig) {
    let c = Clients::new(conf);
    let ec2 = async {
        let e = &c.ec2;
        e.describe_instances().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_security_groups().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_network_interfaces().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_volumes().max_results(500).into_paginator().send().try_collect().await.unwrap();
        // The account's own snapshots (moto does not resolve `owner-ids self`).
        let own = ec2t::Filter::builder().name("owner-id").values(common::ACCOUNT).build();
        let snaps = e.describe_snapshots().filters(own).max_results(1000).into_paginator().send().try_collect().await;
        for page in snaps.unwrap() {
            for s in page.snapshots() {
                e.describe_snapshot_attribute()
                    .snapshot_id(s.snapshot_id().unwrap_or_default())
                    .attribute(ec2t::SnapshotAttributeName::CreateVolumePermission)
                    .send()
                    .await
                    .unwrap();
            }
        }
        e.describe_vpcs().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_internet_gateways().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_flow_logs().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_subnets().max_results(1000).into_paginator().send().try_collect().await.unwrap();
        e.describe_route_tables().max_results(100).into_paginator().send().try_collect().await.unwrap();
        e.describe_addresses().send().await.unwrap();
        e.get_ebs_encryption_by_default().send().await.unwrap();
    };
    let s3 = async {
        let s = &c.s3;
        let buckets = s.list_buckets().max_buckets(10_000).send().await.unwrap();
        for b in buckets.buckets() {
            let b = b.name().unwrap_or_default();
            let _ = s.get_bucket_acl().bucket(b).send().await;
            if s.get_bucket_policy().bucket(b).send().await.is_ok() {
                let _ = s.get_bucket_policy_status().bucket(b).send().await;
            }
            let _ = s.get_public_access_block().bucket(b).send().await;
            let _ = s.get_bucket_encryption().bucket(b).send().await;
            let _ = s.get_bucket_versioning().bucket(b).send().await;
            let _ = s.get_bucket_logging().bucket(b).send().await;
            let _ = s.get_bucket_website().bucket(b).send().await;
            let _ = s.get_bucket_tagging().bucket(b).send().await;
            let _ = s.get_bucket_ownership_controls().bucket(b).send().await;
        }
    };
    let iam = async {
        let i = &c.iam;
        i.get_account_authorization_details().max_items(1000).into_paginator().send().try_collect().await.unwrap();
        while i.generate_credential_report().send().await.unwrap().state()
            != Some(&aws_sdk_iam::types::ReportStateType::Complete)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let report = i.get_credential_report().send().await.unwrap();
        let csv = String::from_utf8_lossy(report.content().map_or(&[][..], |b| b.as_ref())).into_owned();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let keys = [col("access_key_1_active"), col("access_key_2_active")];
        i.list_virtual_mfa_devices().max_items(1000).into_paginator().send().try_collect().await.unwrap();
        for line in lines {
            let row: Vec<&str> = line.split(',').collect();
            let has_keys = keys.iter().flatten().any(|&k| row.get(k) == Some(&"true"));
            if has_keys && row[0] != "<root_account>" {
                i.list_access_keys().user_name(row[0]).send().await.unwrap();
            }
        }
        let _ = i.get_account_password_policy().send().await;
        i.get_account_summary().send().await.unwrap();
    };
    let account = async {
        aws_sdk_sts::Client::new(conf).get_caller_identity().send().await.unwrap();
        let _ = pacbot_aws::s3control_client(conf, REGION)
            .get_public_access_block()
            .account_id(common::ACCOUNT)
            .send()
            .await;
    };
    futures::join!(ec2, s3, iam, account);
}

fn count(d: &Discovered, k: &str) -> usize {
    d.inventory.of_kind(&k.into()).count()
}

fn by_operation(proxy: &FaultProxy) -> BTreeMap<String, usize> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in proxy.requests() {
        *seen.entry(format!("{} {}", r.service, r.operation)).or_default() += 1;
    }
    seen
}

struct Run {
    n: usize,
    assets: usize,
    requests: usize,
    plain_requests: usize,
    discovery: Duration,
    discovery_cpu: Duration,
    plain: Duration,
    plain_cpu: Duration,
    evaluation: Duration,
    rss_mb: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// What the child process measured: discovery and evaluation alone.
#[derive(serde::Serialize, serde::Deserialize)]
struct Measured {
    assets: usize,
    requests: BTreeMap<String, usize>,
    discovery_ms: f64,
    discovery_cpu_ms: f64,
    evaluation_ms: f64,
    rss_mb: f64,
}

/// The child's side: discovery + evaluation of the seeded world through a
/// counting proxy, printed as one JSON line. Run in a process of its own so
/// that its peak RSS is discovery's and evaluation's, not the seeding's.
fn measure(url: &str, n: usize) -> Measured {
    runtime().block_on(async {
        let proxy = FaultProxy::start(url).await.unwrap();
        let c = connector(sdk_config(&proxy.url()).await, &[REGION]).build().unwrap();
        let (t0, c0) = (Instant::now(), cpu());
        let d = discover(&c).await;
        let (discovery, discovery_cpu) = (t0.elapsed(), cpu().saturating_sub(c0));
        let failed: Vec<_> = d.coverage.failures().collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(count(&d, kind::INSTANCE), INSTANCES * n);
        assert_eq!(count(&d, kind::BUCKET), BUCKETS * n);
        let requests = by_operation(&proxy);

        let config = pacbot_aws::PackConfig { approved_regions: vec![REGION.into()], ..Default::default() };
        let engine = Engine::new(pacbot_aws::policies(&config), vec![]).unwrap();
        let t1 = Instant::now();
        let eval = engine.evaluate(&d.inventory, pacbot_core::chrono::Utc::now());
        let evaluation = t1.elapsed();
        std::hint::black_box(eval.findings().count());
        Measured {
            assets: d.inventory.len(),
            requests,
            discovery_ms: discovery.as_secs_f64() * 1000.0,
            discovery_cpu_ms: discovery_cpu.as_secs_f64() * 1000.0,
            evaluation_ms: evaluation.as_secs_f64() * 1000.0,
            rss_mb: peak_rss_mb(),
        }
    })
}

/// Runs [`measure`] in a child process (this binary, with
/// `PACBOT_BENCH_CHILD=n`) and reads its JSON line.
fn measure_in_child(url: &str, n: usize) -> Measured {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .env("PACBOT_BENCH_CHILD", n.to_string())
        .env("PACBOT_TEST_MOTO_URL", url)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the measuring child failed ({}): {stdout}", out.status);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("the child's figures ({e}): {stdout}"))
}

fn run(url: &str, n: usize) -> Run {
    reset_moto(url);
    let rt = runtime();
    rt.block_on(async {
        let t = Instant::now();
        seed(&sdk_config(url).await, n).await;
        println!("\nN = {n}: seeded in {:.1} s", t.elapsed().as_secs_f64());
    });
    // Discovery first, so moto's first-use costs fall on it, not the floor.
    let m = measure_in_child(url, n);
    rt.block_on(async {
        let proxy = FaultProxy::start(url).await.unwrap();
        let plain_conf = sdk_config(&proxy.url()).await;
        let (t2, c2) = (Instant::now(), cpu());
        plain_listing(&plain_conf).await;
        let (plain, plain_cpu) = (t2.elapsed(), cpu().saturating_sub(c2));
        let floor = by_operation(&proxy);
        let seen = &m.requests;

        println!("N = {n}: {} assets", m.assets);
        println!("  {:<40} {:>9} {:>8}", "operation", "discovery", "plain");
        let mut ops: Vec<&str> = floor.keys().chain(seen.keys()).map(String::as_str).collect();
        ops.sort_unstable();
        ops.dedup();
        for op in ops {
            let got = seen.get(op).copied().unwrap_or(0);
            let want = floor.get(op).copied().unwrap_or(0);
            let mark = if got > want { "  above the plain listing" } else { "" };
            println!("  {op:<40} {got:>9} {want:>8}{mark}");
        }
        Run {
            n,
            assets: m.assets,
            requests: seen.values().sum(),
            plain_requests: floor.values().sum(),
            discovery: Duration::from_secs_f64(m.discovery_ms / 1000.0),
            discovery_cpu: Duration::from_secs_f64(m.discovery_cpu_ms / 1000.0),
            plain,
            plain_cpu,
            evaluation: Duration::from_secs_f64(m.evaluation_ms / 1000.0),
            rss_mb: m.rss_mb,
        }
    })
}

fn main() {
    if let Some(n) = std::env::var("PACBOT_BENCH_CHILD").ok().and_then(|n| n.parse().ok()) {
        println!("{}", serde_json::to_string(&measure(&moto_url(), n)).unwrap());
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let only: Option<Vec<usize>> =
        std::env::var("PACBOT_BENCH_N").ok().map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let sizes: Vec<usize> = only.unwrap_or_else(|| if bench_mode { vec![1, 10, 50] } else { vec![1] });
    let url = moto_url();
    println!("aws_discovery: N × ({MIX}) in {REGION}; load {}", load());
    let runs: Vec<Run> = sizes.iter().map(|&n| run(&url, n)).collect();
    println!(
        "\n{:>4} {:>7} {:>9} {:>7} {:>11} {:>11} {:>6} {:>6} {:>10} {:>10} {:>6} {:>11} {:>9}",
        "N",
        "assets",
        "requests",
        "plain",
        "discovery",
        "plain",
        "wall×",
        "req×",
        "disc CPU",
        "plain CPU",
        "CPU×",
        "evaluation",
        "peak RSS"
    );
    for r in &runs {
        println!(
            "{:>4} {:>7} {:>9} {:>7} {:>9.2} s {:>9.2} s {:>6.2} {:>6.2} {:>8.2} s {:>8.2} s {:>6.2} {:>8.1} ms {:>6.1} MB",
            r.n,
            r.assets,
            r.requests,
            r.plain_requests,
            r.discovery.as_secs_f64(),
            r.plain.as_secs_f64(),
            ratio(r.discovery.as_secs_f64(), r.plain.as_secs_f64()),
            ratio(r.requests as f64, r.plain_requests as f64),
            r.discovery_cpu.as_secs_f64(),
            r.plain_cpu.as_secs_f64(),
            ratio(r.discovery_cpu.as_secs_f64(), r.plain_cpu.as_secs_f64()),
            r.evaluation.as_secs_f64() * 1000.0,
            r.rss_mb
        );
    }
    for r in &runs {
        let wall = ratio(r.discovery.as_secs_f64(), r.plain.as_secs_f64());
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        println!(
            "N = {}: wall {wall:.2}× the plain listing (target ≤ 1.05×: {}); requests {} vs {} (target ≤: {})",
            r.n,
            verdict(wall <= 1.05),
            r.requests,
            r.plain_requests,
            verdict(r.requests <= r.plain_requests)
        );
    }
    match runs.iter().find(|r| r.n == 50) {
        Some(r) => {
            let verdict = if r.rss_mb <= TARGET_RSS_MB { "met" } else { "missed" };
            println!("peak RSS {:.1} MB at N = 50: target ≤ {TARGET_RSS_MB} MB {verdict}; load {}", r.rss_mb, load());
        }
        None => println!("N = 50 not run: the RSS target is judged at N = 50; load {}", load()),
    }
}
