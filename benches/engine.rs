// Run with `cargo bench --bench engine` (a quick smoke run: `cargo test --benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

//! Engine throughput over synthetic inventories of 10k, 100k and 1M assets
//! with a representative pack of 30 policies (27 declarative, 3 in code).
//!
//! Besides the criterion report, the bench prints a figures block: per size
//! the wall time of one evaluation, assets/s and checks/s, and the memory per
//! asset of the inventory and of an evaluation (measured with `stats_alloc`).

mod support;

use std::alloc::System;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use pacbot_core::{Asset, Attr, AttrKind, Engine, Evaluation, Inventory, ResourceKind};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::estate::{NOW, build_engine, build_inventory, now, world_open_port};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Targets the figures are reported against.
const TARGET_SECONDS_1M: f64 = 2.0;
const TARGET_BYTES_PER_ASSET: f64 = 2048.0;

// ---------------------------------------------------------------------------
// The policy pack
// ----------------)
// ---------------------------------------------------------------------------

/// Bytes currently allocated through the instrumented allocator.
fn live_bytes() -> i64 {
    let s = GLOBAL.stats();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

/// Runs `f` while a thread samples the allocator every 250 µs; returns its
/// result and the peak of live bytes above the level at the start.
fn with_peak<T>(f: impl FnOnce() -> T) -> (T, i64) {
    let done = AtomicBool::new(false);
    let base = live_bytes();
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(live_bytes() - base);
                std::thread::sleep(Duration::from_micros(250));
            }
            peak
        });
        let out = f();
        let retained = live_bytes() - base;
        done.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap().max(retained);
        (out, peak)
    })
}

struct SizeFigures {
    assets: usize,
    build: Duration,
    inventory_bytes: i64,
    runs: usize,
    best: Duration,
    median: Duration,
    drop: Duration,
    checks: usize,
    failed: usize,
    errors: usize,
    retained_bytes: i64,
    peak_bytes: i64,
}

fn label(assets: usize) -> String {
    match assets {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn outcome_counts(eval: &Evaluation) -> (usize, usize) {
    let rules = eval.policies.iter().flat_map(|p| &p.rules);
    rules.fold((0, 0), |(f, e), r| (f + r.failed, e + r.errors))
}

fn measure(engine: &Engine, inventory: &Inventory, build: Duration, inventory_bytes: i64, runs: usize) -> SizeFigures {
    let now = now();
    // Warm up (caches, rayon's pool) once.
    drop(black_box(engine.evaluate(inventory, now)));
    let mut times = Vec::with_capacity(runs);
    let mut drop_time = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let eval = black_box(engine.evaluate(inventory, now));
        times.push(start.elapsed());
        if let Some(prev) = last.replace(eval) {
            let start = Instant::now();
            drop(prev);
            drop_time = drop_time.min(start.elapsed());
        }
    }
    let eval = last.unwrap();
    let checks = eval.checks();
    let (failed, errors) = outcome_counts(&eval);
    let start = Instant::now();
    drop(eval);
    drop_time = drop_time.min(start.elapsed());
    times.sort();
    let (eval, peak_bytes) = with_peak(|| engine.evaluate(inventory, now));
    let before_drop = live_bytes();
    drop(eval);
    let retained_bytes = before_drop - live_bytes();
    SizeFigures {
        assets: inventory.len(),
        build,
        inventory_bytes,
        runs,
        best: times[0],
        median: times[times.len() / 2],
        drop: drop_time,
        checks,
        failed,
        errors,
        retained_bytes,
        peak_bytes,
    }
}

/// Where an inventory's bytes go: the attribute documents, the tag maps, the
/// rest (ids, names, the asset vector, the indexes). Measured by cloning the
/// documents and the tags under the instrumented allocator.
struct Breakdown {
    assets: usize,
    attributes: i64,
    tags: i64,
    objects: usize,
    arrays: usize,
    entries: usize,
    scalars: usize,
    /// Bytes of the information itself: key and string bytes, 8 per other scalar.
    payload: usize,
}

fn breakdown(inventory: &Inventory) -> Breakdown {
    fn walk(v: Attr<'_>, b: &mut Breakdown) {
        match v.kind() {
            AttrKind::Object => {
                b.objects += 1;
                for (k, v) in v.entries() {
                    b.entries += 1;
                    b.payload += k.len();
                    walk(v, b);
                }
            }
            AttrKind::Array => {
                b.arrays += 1;
                v.elements().for_each(|v| walk(v, b));
            }
            AttrKind::String => {
                b.scalars += 1;
                b.payload += v.as_str().map_or(0, str::len);
            }
            _ => {
                b.scalars += 1;
                b.payload += 8;
            }
        }
    }
    let assets = inventory.assets();
    let mut b = Breakdown {
        assets: assets.len(),
        attributes: 0,
        tags: 0,
        objects: 0,
        arrays: 0,
        entries: 0,
        scalars: 0,
        payload: 0,
    };
    let mut docs = Vec::with_capacity(assets.len());
    let region = Region::new(GLOBAL);
    docs.extend(assets.iter().map(|a| a.attributes.clone()));
    let c = region.change();
    b.attributes = c.bytes_allocated as i64 - c.bytes_deallocated as i64;
    drop(docs);
    let mut tags = Vec::with_capacity(assets.len());
    let region = Region::new(GLOBAL);
    tags.extend(assets.iter().map(|a| a.tags.clone()));
    let c = region.change();
    b.tags = c.bytes_allocated as i64 - c.bytes_deallocated as i64;
    drop(tags);
    for a in assets {
        walk(a.attributes.root(), &mut b);
    }
    b
}

fn per_asset(bytes: i64, assets: usize) -> f64 {
    bytes as f64 / assets as f64
}

fn print_figures(figures: &[SizeFigures], parts: Option<&Breakdown>, engine: &Engine, bench_mode: bool) {
    let threads = rayon_threads();
    println!();
    println!("==================== pacbot engine figures ====================");
    println!(
        "pack: {} policies / {} rules ({} scoped to an asset group); rayon threads: {threads}; scan time {NOW}",
        engine.policies().len(),
        engine.policies().iter().map(|p| p.rules().len()).sum::<usize>(),
        engine.policies().iter().filter(|p| p.meta().scope.is_some()).count(),
    );
    if !bench_mode {
        println!("(test mode: 10k only, one run, unoptimized build: these numbers are not the figures)");
    }
    println!(
        "{:>6} | {:>4} {:>10} {:>10} | {:>13} | {:>14} | {:>9} {:>7} | {:>8} | {:>9}",
        "assets", "runs", "eval best", "eval med", "assets/s", "checks/s", "checks", "fails", "drop", "build"
    );
    for f in figures {
        let secs = f.best.as_secs_f64();
        println!(
            "{:>6} | {:>4} {:>10.1?} {:>10.1?} | {:>13.0} | {:>14.0} | {:>9} {:>7} | {:>8.1?} | {:>9.1?}",
            label(f.assets),
            f.runs,
            f.best,
            f.median,
            f.assets as f64 / secs,
            f.checks as f64 / secs,
            f.checks,
            f.failed + f.errors,
            f.drop,
            f.build,
        );
    }
    println!("(assets/s and checks/s from the best run; checks = judged (asset, rule) pairs = Evaluation::checks();");
    println!(" fails = failures + errors; drop = dropping one Evaluation; build = generating the inventory)");
    println!();
    println!("memory (bytes requested from the allocator, stats_alloc):");
    println!(
        "{:>6} | {:>14} {:>11} | {:>16} {:>11} | {:>16} {:>11}",
        "assets", "inventory", "per asset", "eval retained", "per asset", "eval peak", "per asset"
    );
    for f in figures {
        println!(
            "{:>6} | {:>14} {:>11.0} | {:>16} {:>11.0} | {:>16} {:>11.0}",
            label(f.assets),
            f.inventory_bytes,
            per_asset(f.inventory_bytes, f.assets),
            f.retained_bytes,
            per_asset(f.retained_bytes, f.assets),
            f.peak_bytes,
            per_asset(f.peak_bytes, f.assets),
        );
    }
    println!("(peak = max live bytes above the pre-evaluation level, sampled every 250 µs, at least what is retained)");
    if let Some(b) = parts {
        let n = b.assets as f64;
        println!(
            "inventory breakdown ({}): attribute documents {:.0} B/asset ({:.1} objects, {:.1} arrays, {:.1} object entries, {:.1} scalars; payload {:.0} B), tag maps {:.0} B/asset, size_of::<Asset>() = {} B",
            label(b.assets),
            b.attributes as f64 / n,
            b.objects as f64 / n,
            b.arrays as f64 / n,
            b.entries as f64 / n,
            b.scalars as f64 / n,
            b.payload as f64 / n,
            b.tags as f64 / n,
            std::mem::size_of::<Asset>(),
        );
        if let Some(f) = figures.iter().find(|f| f.assets == b.assets) {
            println!(
                "  the rest (Asset structs, id and name strings, the asset vector, id and kind indexes): {:.0} B/asset",
                (f.inventory_bytes - b.attributes - b.tags) as f64 / n
            );
        }
    }
    println!();
    if let Some(f) = figures.iter().find(|f| f.assets == 1_000_000) {
        let secs = f.best.as_secs_f64();
        let bytes = per_asset(f.inventory_bytes, f.assets);
        let verdict = |ok: bool| if ok { "MET" } else { "MISSED" };
        println!(
            "target: 1M assets in <= {TARGET_SECONDS_1M} s ............ {:.3} s best, {:.3} s median: {}",
            secs,
            f.median.as_secs_f64(),
            verdict(f.median.as_secs_f64() <= TARGET_SECONDS_1M)
        );
        println!(
            "target: <= {TARGET_BYTES_PER_ASSET} B per asset (inventory) .... {bytes:.0} B: {}",
            verdict(bytes <= TARGET_BYTES_PER_ASSET)
        );
        println!(
            "         inventory + evaluation peak ........ {:.0} B: {}",
            bytes + per_asset(f.peak_bytes, f.assets),
            verdict(bytes + per_asset(f.peak_bytes, f.assets) <= TARGET_BYTES_PER_ASSET)
        );
    } else {
        println!(
            "targets (1M in <= {TARGET_SECONDS_1M} s, <= {TARGET_BYTES_PER_ASSET} B/asset) are judged at 1M: not run"
        );
    }
    println!("===============================================================");
}

fn rayon_threads() -> usize {
    // The engine uses rayon's global pool.
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Per-policy cost over one inventory: which policies the time goes to.
fn print_policy_breakdown(engine: &Engine, inventory: &Inventory) {
    let now = now();
    let mut rows: Vec<(Duration, String, usize, usize)> = engine
        .policies()
        .iter()
        .map(|p| {
            let single = Engine::new(vec![p.clone()], engine.groups().values().cloned().collect()).unwrap();
            let mut best = Duration::MAX;
            let mut counts = (0, 0);
            for _ in 0..3 {
                let start = Instant::now();
                let eval = single.evaluate(inventory, now);
                best = best.min(start.elapsed());
                counts = (eval.checks(), outcome_counts(&eval).0 + outcome_counts(&eval).1);
            }
            (best, p.id().to_owned(), counts.0, counts.1)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let total: Duration = rows.iter().map(|r| r.0).sum();
    println!();
    println!("per-policy cost over {} assets (each policy alone, best of 3; sum {total:.1?}):", label(inventory.len()));
    println!("{:>32} | {:>9} | {:>8} {:>7} | {:>9}", "policy", "time", "checks", "fails", "ns/check");
    for (t, id, checks, fails) in rows.iter().take(12) {
        println!(
            "{id:>32} | {t:>9.1?} | {checks:>8} {fails:>7} | {:>9.0}",
            t.as_nanos() as f64 / (*checks).max(1) as f64
        );
    }
}

/// The declarative SSH rule (with `match`) and the code rule's port check
/// must agree on which security groups are open to the world on port 22.
fn check_consistency(engine: &Engine, inventory: &Inventory) {
    let eval = engine.evaluate(inventory, now());
    let declarative = eval.policy("aws-sg-ssh-open-world").unwrap().rules[0].failed;
    let sgs = inventory.of_kind(&ResourceKind::new("aws.ec2.security_group"));
    let by_code = sgs.filter(|sg| world_open_port(sg, &[22]).is_some()).count();
    assert_eq!(declarative, by_code, "declarative and code SSH checks disagree");
    assert!(declarative > 0, "the inventory has world-open SSH");
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not (criterion's test mode).
    let bench_mode = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let sizes: &[usize] = if bench_mode { &[10_000, 100_000, 1_000_000] } else { &[10_000] };

    let engine = build_engine();
    assert_eq!(engine.policies().len(), 30, "the pack is 30 policies");
    // Start rayon's pool before anything is measured.
    let _ = engine.evaluate(&Inventory::new(), now());

    let mut criterion = Criterion::default().sample_size(10).configure_from_args();
    let mut figures = Vec::new();
    let mut parts = None;
    {
        let mut group = criterion.benchmark_group("engine/evaluate");
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        for &n in sizes {
            let region = Region::new(GLOBAL);
            let start = Instant::now();
            let inventory = build_inventory(n);
            let build = start.elapsed();
            let change = region.change();
            let inventory_bytes = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
            assert_eq!(inventory.len(), n);
            if n == sizes[0] {
                check_consistency(&engine, &inventory);
            }

            let runs = match (bench_mode, n) {
                (false, _) => 1,
                (true, 1_000_000) => 3,
                (true, 100_000) => 10,
                (true, _) => 30,
            };
            figures.push(measure(&engine, &inventory, build, inventory_bytes, runs));
            if bench_mode && n == 100_000 {
                print_policy_breakdown(&engine, &inventory);
            }
            if n == 100_000 || !bench_mode {
                parts = Some(breakdown(&inventory));
            }

            // Enough time for criterion's 10 samples, given the evaluation time just measured.
            let budget = (figures.last().unwrap().median * 12).max(Duration::from_secs(3));
            group.throughput(Throughput::Elements(n as u64)).measurement_time(budget);
            group.sampling_mode(if n >= 1_000_000 { SamplingMode::Flat } else { SamplingMode::Auto });
            let now = now();
            group.bench_with_input(BenchmarkId::from_parameter(label(n)), &inventory, |b, inv| {
                b.iter_with_large_drop(|| engine.evaluate(inv, now));
            });
        }
        group.finish();
    }
    print_figures(&figures, parts.as_ref(), &engine, bench_mode);
    criterion.final_summary();
}
