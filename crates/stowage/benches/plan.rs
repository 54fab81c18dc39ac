//! Planning time for generated instances (108, 600, 1,000 cars) on both fixture vessels,
//! best-fit against the first-fit baseline, plus `check` and the upper bound.
//!
//! Run: `cargo bench -p jianghai-stowage --bench plan`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jianghai_stowage as stowage;
use std::hint::black_box;

fn bench_plan(c: &mut Criterion) {
    let config = stowage::PlanConfig::default();
    let vessels = [
        ("yangtze", stowage::fixtures::YANGTZE_CAR_CARRIER),
        ("pctc", stowage::fixtures::OCEAN_PCTC),
    ];
    let mut group = c.benchmark_group("stowage");
    group.sample_size(30);
    for (name, json) in vessels {
        let Ok(vessel) = stowage::Vessel::from_json(json) else {
            eprintln!("fixture {name} does not parse");
            continue;
        };
        for n in [108usize, 600, 1_000] {
            let cars = stowage::generate_cars(n, 2026, &stowage::GenConfig::default());
            let id = format!("{name}/{n}");
            group.bench_with_input(BenchmarkId::new("plan_best_fit", &id), &cars, |b, cars| {
                b.iter(|| stowage::plan(black_box(&vessel), black_box(cars), &config))
            });
            group.bench_with_input(BenchmarkId::new("plan_first_fit", &id), &cars, |b, cars| {
                b.iter(|| stowage::plan_first_fit(black_box(&vessel), black_box(cars), &config))
            });
            if let Ok(plan) = stowage::plan(&vessel, &cars, &config) {
                group.bench_with_input(BenchmarkId::new("check", &id), &cars, |b, cars| {
                    b.iter(|| stowage::check(black_box(&plan), &vessel, black_box(cars)))
                });
            }
            group.bench_with_input(BenchmarkId::new("upper_bound", &id), &cars, |b, cars| {
                b.iter(|| {
                    stowage::upper_bound_lane_mm(black_box(&vessel), black_box(cars), &config)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
