//! Watch engine throughput: readings per second through `Engine::observe` with 10 rules per
//! sensor (4 thresholds with durations and hysteresis, 3 rates of rise, 3 EWMA baselines).
//! The peer (`benches/watch_peer.py`, pandas/numpy) runs the same detectors on the same corpus;
//! both print how many alarms each rule raised, and the counts must agree.

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jianghai_core::Ident;
use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
use jianghai_watch::{Context, Decision, Engine, Observation, RuleSet};

/// The bench's rules: the same ten are written into `watch_peer.py`.
pub const RULES: &str = r#"
reorder_window_seconds = 2

[[rule]]
id = "hot-5min"
title = "above 45 for 5 minutes"
severity = "warning"
measurement = "Temperature"
threshold = { above = 45, for_seconds = 300, hysteresis = 2 }

[[rule]]
id = "very-hot-1min"
title = "above 55 for a minute"
severity = "critical"
measurement = "Temperature"
threshold = { above = 55, for_seconds = 60, hysteresis = 2 }

[[rule]]
id = "warm"
title = "above 40"
severity = "info"
measurement = "Temperature"
threshold = { above = 40, hysteresis = 1 }

[[rule]]
id = "freezing-10min"
title = "below 0 for 10 minutes"
severity = "warning"
measurement = "Temperature"
threshold = { below = 0, for_seconds = 600, hysteresis = 1 }

[[rule]]
id = "rise-3min"
title = "2 °C/min over 3 minutes"
severity = "critical"
measurement = "Temperature"
rate_of_rise = { per_minute = 2, over_seconds = 180, hysteresis = 1 }

[[rule]]
id = "rise-5min"
title = "1 °C/min over 5 minutes"
severity = "warning"
measurement = "Temperature"
rate_of_rise = { per_minute = 1, over_seconds = 300, hysteresis = 0.5 }

[[rule]]
id = "jump-1min"
title = "5 °C/min over a minute"
severity = "warning"
measurement = "Temperature"
rate_of_rise = { per_minute = 5, over_seconds = 60, hysteresis = 2 }

[[rule]]
id = "baseline-6"
title = "6 σ from baseline"
severity = "warning"
measurement = "Temperature"
baseline = { alpha = 0.05, z = 6, warmup = 30, min_sigma = 1, hysteresis = 2 }

[[rule]]
id = "baseline-4"
title = "4 σ from baseline"
severity = "info"
measurement = "Temperature"
baseline = { alpha = 0.1, z = 4, warmup = 30, min_sigma = 0.5, hysteresis = 1 }

[[rule]]
id = "baseline-8"
title = "8 σ from a slow baseline"
severity = "warning"
measurement = "Temperature"
baseline = { alpha = 0.02, z = 8, warmup = 60, min_sigma = 2, hysteresis = 3 }
"#;

const SENSORS: usize = 1_000;
const READINGS_PER_SENSOR: usize = 500;
const INTERVAL_S: i64 = 10;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_751_328_000, 0).unwrap_or_default()
}

/// Deterministic corpus, interleaved by time as it would arrive: a random walk around 25 °C per
/// sensor; one sensor in five heats at 3 °C/min for ten minutes at a random moment and cools
/// back; one in seven has one-reading spikes; one in eleven sits near freezing.
pub fn corpus() -> Vec<Observation> {
    let mut rng = fastrand::Rng::with_seed(7);
    let device = Ident::parse("bench-dev").unwrap_or_else(|_| unreachable!());
    let mut level: Vec<f64> = (0..SENSORS)
        .map(|i| if i % 11 == 0 { 1.0 } else { 25.0 })
        .collect();
    let heat_at: Vec<usize> = (0..SENSORS)
        .map(|_| rng.usize(40..READINGS_PER_SENSOR - 100))
        .collect();
    let subjects: Vec<Subject> = (0..SENSORS)
        .map(|i| Subject::parse(&format!("zone:bench/{i}")).unwrap_or_else(|_| unreachable!()))
        .collect();
    let mut out = Vec::with_capacity(SENSORS * READINGS_PER_SENSOR);
    for k in 0..READINGS_PER_SENSOR {
        let time = t0() + Duration::seconds(k as i64 * INTERVAL_S);
        for i in 0..SENSORS {
            level[i] += (rng.f64() - 0.5) * 0.4;
            let since = k as i64 - heat_at[i] as i64;
            if i % 5 == 0 && (0..60).contains(&since) {
                level[i] += 0.5; // 3 °C/min at one reading per 10 s
            } else if i % 5 == 0 && (60..180).contains(&since) {
                level[i] -= 0.25;
            }
            let spike = if i % 7 == 0 && k % 97 == 13 {
                12.0
            } else {
                0.0
            };
            let value = ((level[i] + spike) * 1000.0).round() / 1000.0;
            let reading = Reading::new(
                device.clone(),
                "air",
                MeasurementType::Temperature,
                value,
                Unit::Celsius,
                time,
                None,
                time,
            )
            .unwrap_or_else(|e| unreachable!("{e}"));
            out.push(Observation {
                subject: subjects[i].clone(),
                reading,
                context: Context::default(),
            });
        }
    }
    out
}

fn run(rules: &RuleSet, observations: &[Observation]) -> Vec<Decision> {
    let mut engine = Engine::new(rules.clone());
    let mut out = Vec::new();
    for o in observations {
        out.extend(engine.observe(o, o.reading.time));
    }
    out.extend(engine.flush());
    out
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::from_toml(RULES).unwrap_or_else(|e| unreachable!("{e}"));
    let observations = corpus();
    if let Ok(path) = std::env::var("JIANGHAI_WATCH_CORPUS_OUT") {
        let mut csv = String::from("sensor,time_s,value\n");
        for o in &observations {
            csv.push_str(&format!(
                "{},{},{}\n",
                o.subject.id().trim_start_matches("bench/"),
                o.reading.time.timestamp() - t0().timestamp(),
                o.reading.value
            ));
        }
        let _ = std::fs::write(path, csv);
    }
    // Printed so the peer's counts can be compared: both must raise the same alarms.
    let decisions = run(&rules, &observations);
    let mut counts: Vec<(String, usize)> = rules
        .rules()
        .iter()
        .map(|r| {
            let raised = decisions
                .iter()
                .filter(|d| matches!(d, Decision::Raise(a) if a.rule == r.id))
                .count();
            (r.id.to_string(), raised)
        })
        .collect();
    counts.sort();
    eprintln!(
        "corpus: {} readings, {} sensors, 10 rules each; raised: {counts:?}",
        observations.len(),
        SENSORS
    );

    // The default 2 s reorder window, and none (every reading evaluated on arrival).
    let configs = [
        ("observe/10-rules", rules.clone()),
        (
            "observe/10-rules/no-reorder-window",
            rules.with_reorder_window_ms(0),
        ),
    ];
    // Per core: the same work timed by the CPU time this thread got (the machine is shared, so
    // wall time undercounts); the peer measures itself the same way (time.thread_time).
    for (name, rules) in &configs {
        let mut per_cpu_second: Vec<f64> = (0..5)
            .filter_map(|_| {
                let start = thread_cpu_seconds()?;
                black_box(run(rules, &observations));
                let spent = thread_cpu_seconds()? - start;
                Some(observations.len() as f64 / spent)
            })
            .collect();
        per_cpu_second.sort_by(f64::total_cmp);
        if let Some(median) = per_cpu_second.get(per_cpu_second.len() / 2) {
            eprintln!("{name}: median {median:.0} readings per CPU-second over 5 passes");
        }
    }

    let mut g = c.benchmark_group("watch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(observations.len() as u64));
    for (name, rules) in &configs {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || Engine::new(rules.clone()),
                |mut engine| {
                    let mut n = 0;
                    for o in &observations {
                        n += engine.observe(black_box(o), o.reading.time).len();
                    }
                    n + engine.flush().len()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux), in seconds.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

criterion_group!(benches, bench);
criterion_main!(benches);
