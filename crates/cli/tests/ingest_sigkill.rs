//! Readings acknowledged over HTTP survive a SIGKILL of the real `jianghai serve`: four
//! streams post batches, the server is killed mid-stream with `kill -9`, restarted on the same
//! SQLite file, and every reading it had answered "stored" (or "duplicate") is there.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jianghai_core::ledger::format_time;
use jianghai_store::Store;
use serde_json::{Value, json};

/// (sensor, event time) of every acknowledged reading.
type Acked = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

const SECRET: &str = "jhd_sigkill-test-device-credential";

async fn seed(url: &str) {
    let sensors: Vec<(String, String)> = (0..4)
        .map(|s| (format!("air-{s}"), "deck:minsheng-8/D3".to_string()))
        .collect();
    common::seed_deck_sensors(url, "d3-env", SECRET, &sensors).await;
}

/// One stream: batches of 200 readings of sensor `air-{s}`, each a millisecond apart, until
/// the server stops answering; every acknowledged (sensor, time) goes into `acked`.
async fn stream(addr: String, s: usize, base: DateTime<Utc>, acked: Acked) {
    let client = reqwest::Client::new();
    let sensor = format!("air-{s}");
    for batch in 0..10_000_i64 {
        let times: Vec<DateTime<Utc>> = (0..200)
            .map(|i| base + chrono::Duration::milliseconds(batch * 200 + i))
            .collect();
        let readings: Vec<Value> = times
            .iter()
            .map(|t| json!({"sensor": sensor, "measurement": "Temperature", "value": 25.0, "unit": "CEL", "time": format_time(*t)}))
            .collect();
        let res = client
            .post(format!("http://{addr}/api/v1/readings"))
            .bearer_auth(SECRET)
            .json(&json!({ "readings": readings }))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let Ok(res) = res else { return };
        if res.status() == 503 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let status = res.status();
        let Ok(body) = res.json::<Value>().await else {
            return;
        };
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["rejected"], json!([]), "{body}");
        let mut a = acked.lock().expect("lock");
        a.extend(times.into_iter().map(|t| (sensor.clone(), t)));
    }
}

#[test]
fn acknowledged_readings_survive_sigkill_of_serve() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("ingest-kill.db").display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(seed(&url));
    let log = common::Log::default();
    let mut node = common::serve(&url, "first", &[], "warn", &log);
    let addr = node.addr.clone();
    let acked = Arc::new(Mutex::new(Vec::new()));
    // Whole minutes: times are stored to the microsecond.
    let base = jianghai_store::bucket(Utc::now() - chrono::Duration::hours(3), 60);
    let tasks: Vec<_> = (0..4)
        .map(|s| {
            rt.spawn(stream(
                addr.clone(),
                s,
                base + chrono::Duration::minutes(30 * s as i64),
                acked.clone(),
            ))
        })
        .collect();
    // Let the streams run until a good number of batches are acknowledged, then kill -9.
    for _ in 0..300 {
        if acked.lock().expect("lock").len() >= 8_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    node.kill();
    rt.block_on(async {
        for t in tasks {
            t.await.expect("stream");
        }
    });
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 800,
        "only {} readings acknowledged before the kill",
        acked.len()
    );

    // Restart on the same file: it comes up, and every acknowledged reading is there.
    let again = common::serve(&url, "again", &[], "warn", &log);
    let addr = again.addr.clone();
    let health = rt.block_on(async {
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .expect("healthz")
            .status()
    });
    assert_eq!(health, 200);
    rt.block_on(async {
        let store = Store::open(&url).await.expect("reopen after SIGKILL");
        for s in 0..4 {
            let sensor = format!("air-{s}");
            let mine: Vec<DateTime<Utc>> = acked
                .iter()
                .filter(|(k, _)| *k == sensor)
                .map(|(_, t)| *t)
                .collect();
            let (Some(first), Some(last)) = (mine.iter().min(), mine.iter().max()) else {
                continue;
            };
            let mut stored = std::collections::HashSet::new();
            let mut after = String::new();
            loop {
                let page = store
                    .readings(
                        "d3-env",
                        &sensor,
                        *first,
                        *last + chrono::Duration::milliseconds(1),
                        &after,
                        5_000,
                    )
                    .await
                    .expect("read");
                stored.extend(page.items.iter().map(|r| r.at));
                match page.next {
                    Some(n) => after = n,
                    None => break,
                }
            }
            let lost: Vec<_> = mine.iter().filter(|t| !stored.contains(t)).collect();
            assert!(
                lost.is_empty(),
                "{sensor}: {} acknowledged readings lost",
                lost.len()
            );
        }
    });
    drop(again);
}
