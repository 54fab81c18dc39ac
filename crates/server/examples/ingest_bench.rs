//! Reading ingestion throughput into a durable SQLite store (WAL, `synchronous=FULL`), all in
//! one run on one machine:
//!
//! 1. the raw insert ceiling: the same rows with plain multi-row INSERTs (1,000 rows per
//!    statement) into a table shaped like `readings`, 10,000 per transaction, on a bare sqlx
//!    connection;
//! 2. `Store::store_readings` (readings and their minute/hour rollups), 10,000 per call;
//! 3. end to end over HTTP: `POST /api/v1/readings` on loopback, device credential, batches of
//!    `BATCH` readings from `CLIENTS` concurrent clients, counted when answered (durable);
//! 4. end to end over MQTT (with `mqtt` as the fourth argument): QoS 1 messages of `BATCH`
//!    readings through Mosquitto on 127.0.0.1:1883, counted when committed.
//!
//! `cargo run --release -p jianghai-server --example ingest_bench -- SECONDS BATCH CLIENTS [mqtt]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_core::Ident;
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
use jianghai_server::ingest::mqtt::MqttConfig;
use jianghai_server::{AppState, Application, Config};
use jianghai_store::{IngestRow, Store};
use sqlx::Connection;

mod common;
use common::{BenchDevice, push_reading};

const SECRET: &str = "jhd_ingest-bench-device";
const SENSORS: usize = 100;

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

fn sensor(i: usize) -> String {
    format!("s{:03}", i % SENSORS)
}

/// Reading number `n`: sensor `n % 100`, a microsecond-distinct time.
fn time(base: DateTime<Utc>, n: usize) -> DateTime<Utc> {
    base + chrono::Duration::microseconds(n as i64 * 7)
}

async fn seed(store: &Store) {
    BenchDevice {
        carrier: "minsheng-shipping",
        vessels: &["minsheng-8"],
        device: "bench-dev",
        secret: SECRET,
    }
    .seed(
        store,
        (0..SENSORS).map(|i| (sensor(i), format!("deck:minsheng-8/D{}", i % 5))),
    )
    .await
    .expect("seed");
}

fn rows(base: DateTime<Utc>, from: usize, n: usize) -> Vec<IngestRow> {
    let now = Utc::now();
    (from..from + n)
        .map(|k| IngestRow {
            reading: Reading::new(
                id("bench-dev"),
                &sensor(k),
                MeasurementType::Temperature,
                20.0 + (k % 50) as f64 / 10.0,
                Unit::Celsius,
                time(base, k),
                None,
                now,
            )
            .expect("reading"),
            organisation: id("minsheng-shipping"),
            subject: Subject::parse("deck:minsheng-8/D1").expect("subject"),
        })
        .collect()
}

fn body(base: DateTime<Utc>, from: usize, n: usize, credential: bool) -> String {
    let mut s = String::with_capacity(n * 110 + 64);
    if credential {
        s.push_str(&format!("{{\"credential\":\"{SECRET}\",\"readings\":["));
    } else {
        s.push_str("{\"readings\":[");
    }
    for k in from..from + n {
        if k > from {
            s.push(',');
        }
        push_reading(
            &mut s,
            &sensor(k),
            20.0 + (k % 50) as f64 / 10.0,
            time(base, k),
        );
    }
    s.push_str("]}");
    s
}

async fn fresh(dir: &tempfile::TempDir, name: &str) -> (Store, String) {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    let store = Store::open(&url).await.expect("open");
    seed(&store).await;
    (store, url)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// CPU seconds this process has used (user + system, from /proc/self/stat), so a phase's
/// readings per CPU-second can be given on a machine shared with other work.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn per_cpu(n: usize, cpu0: f64) -> f64 {
    n as f64 / (cpu_seconds() - cpu0).max(0.01)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let batch: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4);
    let with_mqtt = args.get(3).is_some_and(|a| a == "mqtt");
    let dir = tempfile::tempdir().expect("dir");
    let base = jianghai_store::bucket(Utc::now() - chrono::Duration::hours(6), 60);
    let total = 400_000;

    // 1. Raw INSERT ceiling.
    let (_, url) = fresh(&dir, "raw.db").await;
    let mut conn = sqlx::SqliteConnection::connect_with(
        &url.parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("url")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .pragma("cache_size", "-32768"),
    )
    .await
    .expect("connect");
    sqlx::raw_sql(
        "CREATE TABLE raw_readings (device TEXT NOT NULL, sensor TEXT NOT NULL, at TEXT NOT NULL, \
         value DOUBLE PRECISION NOT NULL, unit TEXT NOT NULL, lat DOUBLE PRECISION, \
         lon DOUBLE PRECISION, PRIMARY KEY (device, sensor, at)) WITHOUT ROWID",
    )
    .execute(&mut conn)
    .await
    .expect("table");
    let all = rows(base, 0, total);
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    for tx_rows in all.chunks(10_000) {
        let mut tx = conn.begin().await.expect("begin");
        for chunk in tx_rows.chunks(1_000) {
            let mut sql = String::from(
                "INSERT INTO raw_readings (device, sensor, at, value, unit, lat, lon) VALUES ",
            );
            // Anonymous placeholders, as the store uses on SQLite (numbered ones bind in O(n²)).
            sql.push_str(&vec!["(?,?,?,?,?,?,?)"; chunk.len()].join(","));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.reading.device.to_string())
                    .bind(r.reading.sensor.clone())
                    .bind(format_time(r.reading.time))
                    .bind(r.reading.value)
                    .bind(r.reading.unit.code())
                    .bind(None::<f64>)
                    .bind(None::<f64>);
            }
            q.execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    let raw = rate(total, started.elapsed());
    let raw_cpu = per_cpu(total, cpu0);
    println!(
        "raw INSERT ceiling (10,000 rows per transaction): {raw:.0} rows/s, {raw_cpu:.0} per CPU-second"
    );

    // 2. The store's ingestion transaction (readings + rollups).
    let (store, _) = fresh(&dir, "store.db").await;
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    for chunk in all.chunks(10_000) {
        store.store_readings(chunk).await.expect("store");
    }
    let stored = rate(total, started.elapsed());
    let stored_cpu = per_cpu(total, cpu0);
    println!(
        "Store::store_readings (10,000 per call, with rollups): {stored:.0} readings/s ({:.2} of the ceiling), {stored_cpu:.0} per CPU-second ({:.2})",
        stored / raw,
        stored_cpu / raw_cpu
    );
    drop(all);

    // 3. HTTP end to end.
    let (store, _) = fresh(&dir, "http.db").await;
    let config = Config {
        rate_burst: 1_000_000,
        rate_per_second: 1_000_000,
        ..Config::default()
    };
    let app = Application::build("127.0.0.1:0", AppState::new(store.clone(), config))
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    tokio::spawn(app.run_until(std::future::pending()));
    let per_client = 20 * 1_000_000 / batch / clients.max(1) / 10; // 2 M readings in all, at most
    println!("preparing {clients} clients × {per_client} bodies of {batch} readings …");
    // Built before the clock starts; a request sends one without copying it.
    // Live devices send their latest readings, so requests in flight together hold readings
    // of about the same time: client c's b-th body is the (b × CLIENTS + c)-th block of
    // readings. `JIANGHAI_BENCH_LAYOUT=periods` gives each client a period of its own instead
    // (the 16 clients then replay 16 distant stretches of history of the same sensors, so a
    // group commit inserts in 16 places of every sensor's key range): this bench's layout
    // until 2026-12-04, kept to compare with its earlier figures.
    let periods = std::env::var("JIANGHAI_BENCH_LAYOUT").as_deref() == Ok("periods");
    let block = |c: usize, b: usize| {
        if periods {
            c * per_client + b
        } else {
            b * clients + c
        }
    };
    let bodies: Vec<Vec<bytes::Bytes>> = (0..clients)
        .map(|c| {
            (0..per_client)
                .map(|b| body(base, block(c, b) * batch, batch, false).into())
                .collect()
        })
        .collect();
    let acked = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    let mut tasks = Vec::new();
    for mine in bodies {
        let (acked, refused) = (acked.clone(), refused.clone());
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/api/v1/readings");
        tasks.push(tokio::spawn(async move {
            for b in mine {
                if Instant::now() >= deadline {
                    return;
                }
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
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    assert!(res.status().is_success(), "{}", res.status());
                    let v: serde_json::Value =
                        serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
                    acked.fetch_add(
                        v["stored"].as_u64().unwrap_or(0) as usize,
                        Ordering::Relaxed,
                    );
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let elapsed = started.elapsed();
    let http = rate(acked.load(Ordering::Relaxed), elapsed);
    let http_cpu = per_cpu(acked.load(Ordering::Relaxed), cpu0);
    println!(
        "HTTP end to end ({clients} clients, {batch} per request): {} readings in {:.1} s = {http:.0} readings/s ({:.2} of the ceiling); 503s: {}; {http_cpu:.0} per CPU-second, clients included ({:.2})",
        acked.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        http / raw,
        refused.load(Ordering::Relaxed),
        http_cpu / raw_cpu
    );

    if !with_mqtt {
        return;
    }
    // 4. MQTT end to end through Mosquitto.
    let (store, _) = fresh(&dir, "mqtt.db").await;
    let root = format!("jhbench-{}", uuid::Uuid::new_v4().simple());
    let config = Config {
        mqtt: Some(MqttConfig {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: format!("{root}-platform"),
            root: root.clone(),
            in_flight: 64,
            keep_alive: Duration::from_secs(30),
        }),
        ..Config::default()
    };
    let state = AppState::new(store.clone(), config);
    let mut committed = state.intake.ingestor().subscribe();
    let app = Application::build("127.0.0.1:0", state)
        .await
        .expect("bind");
    tokio::spawn(app.run_until(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(1)).await; // subscribed
    let messages = (seconds as usize * 150_000 / batch).max(10);
    let bodies: Vec<String> = (0..messages)
        .map(|m| body(base, 50_000_000 + m * batch, batch, true))
        .collect();
    let mut opts = rumqttc::MqttOptions::new(format!("{root}-device"), "127.0.0.1", 1883);
    opts.set_max_packet_size(16 * 1024 * 1024, 16 * 1024 * 1024)
        .set_inflight(100);
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 100);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let topic = format!("{root}/minsheng-shipping/bench-dev/readings");
    let expected = messages * batch;
    let started = Instant::now();
    let cpu0 = cpu_seconds();
    let counter = tokio::spawn(async move {
        let mut n = 0;
        while n < expected {
            match tokio::time::timeout(Duration::from_secs(30), committed.recv()).await {
                Ok(Ok(c)) => n += c.readings.len(),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                _ => break,
            }
        }
        (n, started.elapsed())
    });
    for b in bodies {
        client
            .publish(&topic, rumqttc::QoS::AtLeastOnce, false, b)
            .await
            .expect("publish");
    }
    let (n, elapsed) = counter.await.expect("counter");
    let mqtt = rate(n, elapsed);
    let mqtt_cpu = per_cpu(n, cpu0);
    println!(
        "MQTT end to end (QoS 1 via Mosquitto, {batch} per message): {n} readings in {:.1} s = {mqtt:.0} readings/s ({:.2} of the ceiling); {mqtt_cpu:.0} per CPU-second of this process, publisher included, broker not ({:.2})",
        elapsed.as_secs_f64(),
        mqtt / raw,
        mqtt_cpu / raw_cpu
    );
}
