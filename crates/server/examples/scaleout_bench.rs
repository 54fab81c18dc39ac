//! Readings per second over HTTP with 1, 2 and 3 nodes on one PostgreSQL schema and the NATS
//! JetStream bus (127.0.0.1:4222), against one node on the SQLite default, all on this machine.
//! Nodes run in this process, each with its own store pool, ingestor and bus connection (as
//! separate processes would; they share the same cores either way). `CLIENTS` clients post
//! batches of `BATCH` readings round-robin over the nodes for `SECONDS`; a reading counts once
//! answered (durable).
//!
//! `cargo run --release -p jianghai-server --example scaleout_bench -- SECONDS BATCH CLIENTS`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_server::bus::BusConfig;
use jianghai_server::{AppState, Application, Config};
use jianghai_store::Store;

mod common;
use common::{BenchDevice, readings_body};

const SECRET: &str = "jhd_scaleout-bench-device";
const SENSORS: usize = 100;

async fn seed(store: &Store) {
    BenchDevice {
        carrier: "minsheng-shipping",
        vessels: &["minsheng-8"],
        device: "bench-dev",
        secret: SECRET,
    }
    .seed(
        store,
        (0..SENSORS).map(|i| (format!("s{i:03}"), format!("deck:minsheng-8/D{i}"))),
    )
    .await
    .expect("seed");
}

fn body(base: DateTime<Utc>, first: usize, batch: usize) -> String {
    let sensors: Vec<String> = (0..SENSORS).map(|i| format!("s{i:03}")).collect();
    readings_body((first..first + batch).map(|n| {
        (
            sensors[n % SENSORS].as_str(),
            20.0 + (n % 7) as f64,
            base + chrono::Duration::microseconds(n as i64 * 7),
        )
    }))
}

/// Starts `nodes` nodes on `url` (with the bus when `bus` is set); readings/s over `seconds`.
async fn run(
    url: &str,
    nodes: usize,
    bus: Option<&str>,
    seconds: u64,
    batch: usize,
    clients: usize,
) -> f64 {
    let mut addrs = Vec::new();
    for n in 0..nodes {
        let store = Store::open(url).await.expect("open");
        if n == 0 {
            seed(&store).await;
        }
        let config = Config {
            rate_burst: 1_000_000,
            rate_per_second: 1_000_000,
            bus: bus.map(|b| BusConfig::from_url(&format!("{b}&node=n{n}")).expect("bus")),
            ..Config::default()
        };
        let app = Application::build("127.0.0.1:0", AppState::new(store, config))
            .await
            .expect("bind");
        addrs.push(app.local_addr().expect("addr"));
        tokio::spawn(app.run_until(std::future::pending()));
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // leases taken
    let base = jianghai_store::bucket(Utc::now() - chrono::Duration::hours(2), 60);
    let acked = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (acked, next) = (acked.clone(), next.clone());
        let addr = addrs[c % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let url = format!("http://{addr}/api/v1/readings");
            while Instant::now() < deadline {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                let b = body(base, first, batch);
                loop {
                    let res = client
                        .post(&url)
                        .bearer_auth(SECRET)
                        .header("content-type", "application/json")
                        .body(b.clone())
                        .send()
                        .await
                        .expect("send");
                    if res.status() == 503 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    assert!(res.status().is_success(), "{}", res.status());
                    acked.fetch_add(batch, Ordering::Relaxed);
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    acked.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let batch: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(6);
    let pg = std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let r = run(&sqlite, 1, None, seconds, batch, clients).await;
    println!("sqlite, 1 node:            {r:>9.0} readings/s");
    for nodes in 1..=3 {
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let url = format!("{pg}?schema=bench_{run_id}");
        let bus = format!("nats://127.0.0.1:4222?prefix=b{}", &run_id[..12]);
        let r = run(&url, nodes, Some(&bus), seconds, batch, clients).await;
        println!("postgres + bus, {nodes} node(s): {r:>9.0} readings/s");
        let pool = sqlx::PgPool::connect(&pg).await.expect("pg");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA bench_{run_id} CASCADE"
        )))
        .execute(&pool)
        .await
        .ok();
    }
}
