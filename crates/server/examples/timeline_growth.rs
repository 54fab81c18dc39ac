//! VIN-timeline read latency as the ledger grows.
//!
//! ```text
//! cargo run --release -p jianghai-server --example timeline_growth -- [STORE_URL] [CHECKPOINTS]
//! ```
//!
//! Appends observation events through the real ledger path (`append_batch_at`: validation,
//! hash chain, VIN index, head), 10,000 a batch, ten events per VIN interleaved across blocks of
//! 1,000 VINs as a yard's scans would be. At each checkpoint (default 100,000, 1,000,000 and
//! 10,000,000 events) it reads the timeline of 2,000 random VINs whose ten events are all in,
//! one at a time, and prints p50/p90/p99/max with the database's size. The default store is a
//! fresh schema on `postgres://postgres@127.0.0.1:5432/test`, dropped at the end.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_core::{Actor, BizStep, Event, Ident, OrgKind, Organisation, Step, Vin};
use jianghai_store::{Engine, Store};

const VINS_PER_BLOCK: u64 = 1_000;
const EVENTS_PER_VIN: u64 = 10;
const BATCH: u64 = 10_000;
const SAMPLES: usize = 2_000;

fn vin(n: u64) -> Vin {
    Vin::with_check_digit(&format!("LS5A2GCA0S{:07}", n % 10_000_000)).expect("vin")
}

/// Event number `n`: which VIN it names and when it happened.
fn event(n: u64, base: DateTime<Utc>) -> Event {
    let block = n / (VINS_PER_BLOCK * EVENTS_PER_VIN);
    let k = n % (VINS_PER_BLOCK * EVENTS_PER_VIN);
    let v = block * VINS_PER_BLOCK + k % VINS_PER_BLOCK;
    let at = base + chrono::Duration::microseconds(n as i64 * 200);
    let mut e = Event::lifecycle(
        uuid::Uuid::from_u64_pair(0x7e_u64, n),
        Step::Tally,
        at.fixed_offset(),
        vec![vin(v)],
        Actor {
            organisation: Ident::parse("bench-port").expect("id"),
            user: None,
            device: None,
        },
    );
    // Observations (scans, inspections): the ledger and its index without the state machine.
    e.step = None;
    e.biz_step = BizStep("inspecting".into());
    e
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1))
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let schema = format!("bench_timeline_{}", uuid::Uuid::new_v4().simple());
    let url = args
        .get(1)
        .filter(|a| a.as_str() != "-")
        .cloned()
        .unwrap_or_else(|| format!("postgres://postgres@127.0.0.1:5432/test?schema={schema}"));
    let checkpoints: Vec<u64> = match args.get(2) {
        Some(list) => list
            .split(',')
            .map(|c| c.trim().parse())
            .collect::<Result<_, _>>()?,
        None => vec![100_000, 1_000_000, 10_000_000],
    };
    let store = Store::open(&url).await?;
    // The default schema is ours: sized at each checkpoint and dropped at the end.
    let admin =
        if args.get(1).is_none_or(|a| a.as_str() == "-") && store.engine() == Engine::Postgres {
            Some(sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/test").await?)
        } else {
            None
        };
    store
        .create_organisation(&Organisation {
            id: Ident::parse("bench-port")?,
            name: "Bench port".into(),
            kind: OrgKind::Port,
        })
        .await?;
    let now = Utc::now();
    let base = now - chrono::Duration::days(60);
    let mut rng = fastrand::Rng::with_seed(7);
    let (mut appended, started) = (0u64, Instant::now());
    println!("| events | VINs | append rate so far | timeline p50 | p90 | p99 | max | database |");
    println!("|---|---|---|---|---|---|---|---|");
    for &target in &checkpoints {
        while appended < target {
            let n = BATCH.min(target - appended);
            let events: Vec<Event> = (appended..appended + n).map(|i| event(i, base)).collect();
            store.append_batch_at(events, now).await?;
            appended += n;
        }
        // VINs whose ten events are all in: every block before the current one.
        let complete = appended / (VINS_PER_BLOCK * EVENTS_PER_VIN) * VINS_PER_BLOCK;
        anyhow::ensure!(
            complete > 0,
            "checkpoint {target} is below one block of VINs"
        );
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let v = vin(rng.u64(0..complete));
            let t0 = Instant::now();
            let timeline = store.timeline(&v).await?;
            times.push(t0.elapsed());
            anyhow::ensure!(
                timeline.len() == EVENTS_PER_VIN as usize,
                "{v}: {} events",
                timeline.len()
            );
        }
        times.sort();
        let size: i64 = match &admin {
            Some(pool) => {
                sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind = 'r'",
                )
                .bind(&schema)
                .fetch_one(pool)
                .await?
            }
            None => 0,
        };
        println!(
            "| {appended} | {complete} | {:.0} events/s | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            appended as f64 / started.elapsed().as_secs_f64(),
            pct(&times, 0.5),
            pct(&times, 0.9),
            pct(&times, 0.99),
            pct(&times, 1.0),
            if size > 0 {
                format!("{:.2} GB", size as f64 / 1e9)
            } else {
                "—".into()
            }
        );
    }
    if let Some(pool) = admin {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&pool)
            .await?;
    }
    Ok(())
}
