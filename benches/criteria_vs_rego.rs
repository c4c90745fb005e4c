// Run with `cargo bench --bench criteria_vs_rego` (a quick smoke run: `cargo test --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! One simple check — "the S3 bucket's ACL grants access to AllUsers or
//! AuthenticatedUsers" — written as declarative `Criteria` and as Rego run by
//! `regorus`, over the same assets. The two must agree; the bench then times
//! them side by side and prints how many times faster Criteria are.
//!
//! Regorus gets a fair chance: the policy is parsed and prepared once, the
//! engine is reused, and only the input changes per asset. Three Rego forms
//! are measured: the input converted up front (one `regorus::Value` per
//! asset, then `set_input` + `eval_rule` per asset), the input converted per
//! call (asset → JSON value → `regorus::Value`, as an engine would do when
//! handed assets), and one batch evaluation with every asset in a single
//! input and a Rego comprehension counting the public ones. The ratio is
//! reported against the fastest of them. (Also tried, and no faster than
//! the up-front conversion: inputs parsed with `Value::from_json_str`, and
//! `CompiledPolicy::eval_with_input` from `Engine::compile_with_entrypoint`.)

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput};
use pacbot_core::{Asset, AssetId, Criteria};
use serde_json::{Value, json};
use support::Lcg;

/// How many assets each side judges.
const ASSETS: usize = 1_000;

/// The target: Criteria at least this many times faster than Rego.
const TARGET_RATIO: f64 = 50.0;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTH_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// The check as Criteria (what a declarative policy's `fail_when` holds).
const CRITERIA: &str = r#"
path: "acl.grants[*].grantee.uri"
in:
  - http://acs.amazonaws.com/groups/global/AllUsers
  - http://acs.amazonaws.com/groups/global/AuthenticatedUsers
"#;

/// The same check in Rego, for one asset (`public`) and for many (`public_count`).
const REGO: &str = r#"
package pacbot.s3

import rego.v1

public_groups := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

# The input is one asset.
default public := false

public if {
	some grant in input.attributes.acl.grants
	grant.grantee.uri in public_groups
}

# The input is {"assets": [...]}.
public_count := count([i | some i, asset in input.assets; grants_public(asset)])

grants_public(asset) if {
	some grant in asset.attributes.acl.grants
	grant.grantee.uri in public_groups
}
"#;

const RULE_ONE: &str = "data.pacbot.s3.public";
const RULE_MANY: &str = "data.pacbot.s3.public_count";

// ---------------------------------------------------------------------------
// Assets
// ---------------------------------------------------------------------------

/// S3 buckets with realistic ACLs: the owner's grant, sometimes a log
/// delivery grant, now and then a public one (about 10 % of buckets).
fn buckets(n: usize) -> Vec<Asset> {
    let mut rng = Lcg(0x0b0c_4e75);
    (0..n)
        .map(|i| {
            let name = format!("{}-bucket-{i:06}", ["logs", "data", "web", "backup"][i % 4]);
            let owner = format!("{:016x}{:016x}", rng.next(), rng.next());
            let mut grants = vec![json!({
                "grantee": {"type": "CanonicalUser", "id": owner, "display_name": "ops"},
                "permission": "FULL_CONTROL",
            })];
            if rng.chance(30) {
                grants.push(json!({"grantee": {"type": "Group", "uri": LOG_DELIVERY}, "permission": "WRITE"}));
            }
            if rng.chance(7) {
                grants.push(json!({"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ"}));
            }
            if rng.chance(4) {
                grants.push(json!({"grantee": {"type": "Group", "uri": AUTH_USERS}, "permission": "READ_ACP"}));
            }
            if rng.chance(20) {
                let other = format!("{:016x}", rng.next());
                grants.push(json!({"grantee": {"type": "CanonicalUser", "id": other}, "permission": "READ"}));
            }
            let attributes = json!({
                "bucket_name": name,
                "arn": format!("arn:aws:s3:::{name}"),
                "creation_date": "2024-03-14T09:26:53Z",
                "state": "available",
                "acl": {"owner": {"id": owner, "display_name": "ops"}, "grants": grants},
                "versioning": {"status": if rng.chance(80) { "Enabled" } else { "Suspended" }, "mfa_delete": "Disabled"},
                "encryption": {"rules": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": false}]},
                "public_access_block": {"block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": rng.chance(90)},
                "logging": {"target_bucket": "central-logs", "target_prefix": format!("s3/{name}/")},
                "lifecycle_rules": [{"id": "expire-noncurrent", "status": "Enabled", "noncurrent_version_expiration_days": 90}],
                "object_lock_enabled": false,
                "request_payer": "BucketOwner",
            });
            Asset::new(AssetId::new("aws", "210987654321", "eu-west-1", "aws.s3.bucket", name.clone()))
                .with_name(name)
                .with_attributes(attributes)
                .with_tag("Environment", if i % 3 == 0 { "production" } else { "staging" })
                .with_tag("Owner", "team-data")
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The two sides
// ---------------------------------------------------------------------------

fn criteria_count(criteria: &Criteria, assets: &[Asset], now: DateTime<Utc>) -> usize {
    assets.iter().filter(|a| criteria.matches(a, now)).count()
}

fn rego_engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.add_policy("s3.rego".to_owned(), REGO.to_owned()).expect("the Rego policy compiles");
    // Prepare the engine (and check the rule) once, before anything is timed.
    engine.set_input(regorus::Value::new_object());
    assert_eq!(engine.eval_rule(RULE_ONE.to_owned()).unwrap(), regorus::Value::Bool(false));
    engine
}

/// What `set_input` receives for an asset: the asset as JSON.
fn rego_input(asset: &Asset) -> regorus::Value {
    regorus::Value::from(serde_json::to_value(asset).unwrap())
}

fn rego_public(engine: &mut regorus::Engine, input: regorus::Value) -> bool {
    engine.set_input(input);
    match engine.eval_rule(RULE_ONE.to_owned()).unwrap() {
        regorus::Value::Bool(b) => b,
        other => panic!("`{RULE_ONE}` gave {other:?}"),
    }
}

/// Rego, one asset per evaluation, inputs converted up front.
fn rego_count_preconverted(engine: &mut regorus::Engine, inputs: &[regorus::Value]) -> usize {
    inputs.iter().filter(|v| rego_public(engine, (*v).clone())).count()
}

/// Rego, one asset per evaluation, each input converted when it is evaluated.
fn rego_count_converting(engine: &mut regorus::Engine, assets: &[Asset]) -> usize {
    assets.iter().filter(|a| rego_public(engine, rego_input(a))).count()
}

/// Rego, every asset in one input, one evaluation.
fn rego_count_batch(engine: &mut regorus::Engine, batch: &regorus::Value) -> usize {
    engine.set_input(batch.clone());
    let v = engine.eval_rule(RULE_MANY.to_owned()).unwrap();
    usize::try_from(v.as_u64().unwrap()).unwrap()
}

/// The best time of `rounds` rounds, each running `f` enough times to last
/// about `round` (at least once), divided per run.
fn best_time(rounds: usize, round: Duration, mut f: impl FnMut() -> usize) -> Duration {
    let start = Instant::now();
    black_box(f());
    let once = start.elapsed().max(Duration::from_nanos(1));
    let reps = (round.as_secs_f64() / once.as_secs_f64()).ceil().max(1.0) as u32;
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                black_box(f());
            }
            start.elapsed() / reps
        })
        .min()
        .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not (criterion's test mode).
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");

    let now = Utc::now();
    let assets = buckets(ASSETS);
    let criteria = Criteria::from_yaml(CRITERIA).expect("the criteria parse");
    let mut engine = rego_engine();
    let inputs: Vec<regorus::Value> = assets.iter().map(rego_input).collect();
    let batch = regorus::Value::from(json!({
        "assets": assets.iter().map(|a| serde_json::to_value(a).unwrap()).collect::<Vec<Value>>()
    }));

    // Both sides must agree, asset by asset, before anything is timed.
    let by_criteria: Vec<bool> = assets.iter().map(|a| criteria.matches(a, now)).collect();
    let by_rego: Vec<bool> = inputs.iter().map(|v| rego_public(&mut engine, v.clone())).collect();
    assert_eq!(by_criteria, by_rego, "Criteria and Rego disagree");
    let expected = by_criteria.iter().filter(|&&b| b).count();
    assert!(expected > 0 && expected < ASSETS, "the mix has public and private buckets: {expected}");
    assert_eq!(criteria_count(&criteria, &assets, now), expected);
    assert_eq!(rego_count_preconverted(&mut engine, &inputs), expected);
    assert_eq!(rego_count_converting(&mut engine, &assets), expected);
    assert_eq!(rego_count_batch(&mut engine, &batch), expected);

    // Figures, outside criterion (criterion does not hand its estimates back).
    let (rounds, round) = if bench_mode { (7, Duration::from_millis(300)) } else { (1, Duration::ZERO) };
    let t_criteria = best_time(rounds, round, || criteria_count(&criteria, &assets, now));
    let t_pre = best_time(rounds, round, || rego_count_preconverted(&mut engine, &inputs));
    let t_conv = best_time(rounds, round, || rego_count_converting(&mut engine, &assets));
    let t_batch = best_time(rounds, round, || rego_count_batch(&mut engine, &batch));

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group("criteria_vs_rego/s3-public-grant");
        group.throughput(Throughput::Elements(ASSETS as u64));
        group.bench_function(BenchmarkId::new("criteria", ASSETS), |b| {
            b.iter(|| criteria_count(&criteria, &assets, now));
        });
        group.bench_function(BenchmarkId::new("rego-preconverted", ASSETS), |b| {
            b.iter(|| rego_count_preconverted(&mut engine, &inputs));
        });
        group.bench_function(BenchmarkId::new("rego-convert-per-call", ASSETS), |b| {
            b.iter(|| rego_count_converting(&mut engine, &assets));
        });
        group.bench_function(BenchmarkId::new("rego-batch", ASSETS), |b| {
            b.iter(|| rego_count_batch(&mut engine, &batch));
        });
        group.finish();
    }

    let per_asset = |t: Duration| t.as_nanos() as f64 / ASSETS as f64;
    let ratio = |t: Duration| t.as_secs_f64() / t_criteria.as_secs_f64();
    let best_rego = t_pre.min(t_conv).min(t_batch);
    println!();
    println!("=============== criteria vs rego (regorus 0.14) ===============");
    println!("check: S3 bucket ACL grants to AllUsers or AuthenticatedUsers; {ASSETS} buckets, {expected} public");
    if !bench_mode {
        println!("(test mode: unoptimized build, single runs: these numbers are not the figures)");
    }
    println!("{:>34} | {:>11} | {:>10} | {:>8}", "variant", "1000 assets", "ns/asset", "vs crit.");
    for (name, t) in [
        ("criteria (Criteria::matches)", t_criteria),
        ("rego, input converted up front", t_pre),
        ("rego, input converted per call", t_conv),
        ("rego, one batch input", t_batch),
    ] {
        println!("{name:>34} | {t:>11.1?} | {:>10.1} | {:>7.1}x", per_asset(t), ratio(t));
    }
    println!("(best of {rounds} rounds; all variants agree on every asset)");
    let r = ratio(best_rego);
    println!(
        "ratio rego / criteria, against the fastest rego variant: {r:.0}x (target >= {TARGET_RATIO}x: {})",
        if r >= TARGET_RATIO { "MET" } else { "MISSED" }
    );
    println!("ratio per asset, rego with pre-converted input (the engine's model): {:.0}x", ratio(t_pre));
    println!("===============================================================");
    criterion.final_summary();
}
