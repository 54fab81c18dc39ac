//! Ledger appends per second on SQLite and PostgreSQL, one event per transaction and 100 per
//! batch, each next to its ceiling: a raw parameterised INSERT of the same rows (same columns,
//! same body text, same durability settings) with no validation, chaining or projection.
//!
//! `cargo bench -p jianghai-store --bench ledger`; PostgreSQL from `JIANGHAI_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/test`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jianghai_core::{Actor, BizStep, Event, Ident, OrgKind, Organisation, Step, Vin};
use jianghai_store::Store;
use sqlx::Executor;

static NEXT: AtomicU64 = AtomicU64::new(1);

fn observation() -> Event {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let vin = Vin::with_check_digit(&format!("LS5A2GCA0SC{:06}", n % 1_000_000)).expect("vin");
    let mut e = Event::lifecycle(
        uuid::Uuid::from_u64_pair(0xbe_u64, n),
        Step::Tally,
        Utc::now().fixed_offset(),
        vec![vin],
        Actor {
            organisation: Ident::parse("bench-port").expect("id"),
            user: None,
            device: None,
        },
    );
    // An observation, not a lifecycle step: the ledger cost without the state machine.
    e.step = None;
    e.biz_step = BizStep("inspecting".into());
    e
}

const RAW_DDL: &str = "CREATE TABLE IF NOT EXISTS bench_raw (seq BIGINT PRIMARY KEY, \
    event_id TEXT NOT NULL UNIQUE, event_time TEXT NOT NULL, record_time TEXT NOT NULL, \
    biz_step TEXT NOT NULL, organisation TEXT NOT NULL, content_hash TEXT NOT NULL, \
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL)";

static RAW_SEQ: AtomicU64 = AtomicU64::new(1);

/// The ceiling: the same rows in one multi-row INSERT per transaction, nothing else.
macro_rules! raw_insert {
    ($pool:expr, $n:expr) => {{
        let rows: Vec<(i64, String, String, String, String)> = (0..$n)
            .map(|_| {
                let e = observation();
                let body = e.canonical();
                let seq = RAW_SEQ.fetch_add(1, Ordering::Relaxed) as i64;
                let hash = jianghai_core::ledger::sha256_hex(body.as_bytes());
                (
                    seq,
                    e.event_id.to_string(),
                    e.biz_step.0.clone(),
                    hash,
                    body,
                )
            })
            .collect();
        let now = jianghai_core::ledger::format_time(Utc::now());
        let mut tx = $pool.begin().await.expect("begin");
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO bench_raw (seq, event_id, event_time, record_time, biz_step, \
             organisation, content_hash, prev_hash, hash, body) ",
        );
        q.push_values(&rows, |mut b, (seq, id, step, hash, body)| {
            b.push_bind(*seq)
                .push_bind(id.as_str())
                .push_bind(now.as_str())
                .push_bind(now.as_str())
                .push_bind(step.as_str())
                .push_bind("bench-port")
                .push_bind(hash.as_str())
                .push_bind(hash.as_str())
                .push_bind(hash.as_str())
                .push_bind(body.as_str());
        });
        q.build().execute(&mut *tx).await.expect("insert");
        tx.commit().await.expect("commit");
    }};
}

enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn insert(&self, n: usize) {
        match self {
            Raw::Sqlite(p) => raw_insert!(p, n),
            Raw::Postgres(p) => raw_insert!(p, n),
        }
    }
}

async fn setup(engine: &str, dir: &std::path::Path) -> (Store, Raw) {
    let (store, raw) = if engine == "sqlite" {
        let path = dir.join("bench.db");
        let url = format!("sqlite://{}", path.display());
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
        let store = Store::open(&url).await.expect("open");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .expect("raw pool");
        (store, Raw::Sqlite(pool))
    } else {
        let base = std::env::var("JIANGHAI_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let store = Store::open(&format!("{base}?schema={schema}"))
            .await
            .expect("PostgreSQL is required for this benchmark");
        let opts: sqlx::postgres::PgConnectOptions = base.parse().expect("url");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.options([("search_path", schema.as_str())]))
            .await
            .expect("raw pool");
        (store, Raw::Postgres(pool))
    };
    store
        .create_organisation(&Organisation {
            id: Ident::parse("bench-port").expect("id"),
            name: "Bench port".into(),
            kind: OrgKind::Port,
        })
        .await
        .expect("org");
    match &raw {
        Raw::Sqlite(p) => drop(p.execute(RAW_DDL).await.expect("ddl")),
        Raw::Postgres(p) => drop(p.execute(RAW_DDL).await.expect("ddl")),
    }
    (store, raw)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    for engine in ["sqlite", "postgres"] {
        let (store, raw) = rt.block_on(setup(engine, dir.path()));
        for batch in [1usize, 100] {
            let mut g = c.benchmark_group(format!("ledger/{engine}/batch-{batch}"));
            g.throughput(Throughput::Elements(batch as u64));
            g.sample_size(20).measurement_time(Duration::from_secs(4));
            g.bench_function("append", |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            let events: Vec<Event> = (0..batch).map(|_| observation()).collect();
                            store.append_batch(events).await.expect("append");
                        }
                        start.elapsed()
                    })
                })
            });
            g.bench_function("raw-insert", |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            raw.insert(batch).await;
                        }
                        start.elapsed()
                    })
                })
            });
            g.finish();
        }
        rt.block_on(async {
            store
                .verify()
                .await
                .expect("the benchmarked ledger verifies");
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
