//! Latency from a reading handed to the watch engine to its alert on the SSE stream, under a
//! background load of normal readings.
//!
//! ```text
//! cargo run --release -p jianghai-server --example alert_latency -- [RATE] [SECONDS] [STORE_URL]
//! ```
//!
//! RATE readings per second (default 50,000) of 30 °C air on 2,000 decks go to
//! `AppState::watch` in batches every 10 ms; 20 times a second a probe batch puts one more deck
//! over 55 °C for 60 s (the corridor's `deck-heat-critical`), and the time from handing the
//! probe over to its `raised` event arriving on a customs user's `/api/v1/alerts/stream` is
//! recorded. The corridor's default rules are used with a reorder window of 0 s (the default
//! 2 s window alone would hold every alert back 2 s). Ingestion over HTTP/MQTT and the durable
//! write of the readings are NOT in this path; see BENCHMARKS.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use jianghai_core::reading::{MeasurementType, Reading, Subject, SubjectKind, Unit};
use jianghai_core::{Ident, OrgKind, Organisation};
use jianghai_server::{AppState, Application, Config, bootstrap};
use jianghai_store::{Role, Store};
use jianghai_watch::{Context, Observation, RuleSet};

const DECKS: usize = 2_000;
const PROBES_PER_SECOND: u64 = 20;

fn obs(
    deck: &str,
    value: f64,
    ago: i64,
    now: chrono::DateTime<Utc>,
    sensor: &Ident,
) -> Observation {
    Observation {
        subject: Subject::new(SubjectKind::Deck, deck).expect("deck subject"),
        reading: Reading::new(
            sensor.clone(),
            "air-1",
            MeasurementType::Temperature,
            value,
            Unit::Celsius,
            now - chrono::Duration::seconds(ago),
            None,
            now,
        )
        .expect("reading"),
        context: Context { in_transit: true },
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rate: u64 = args.get(1).map_or(Ok(50_000), |s| s.parse())?;
    let seconds: u64 = args.get(2).map_or(Ok(20), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let url = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await?;
    let customs = Ident::parse("bench-customs")?;
    store
        .create_organisation(&Organisation {
            id: customs.clone(),
            name: "Customs".into(),
            kind: OrgKind::Customs,
        })
        .await?;
    bootstrap::ensure_user(&store, &customs, "bench", "bench-password", Role::Admin).await?;

    let mut config = Config {
        rate_burst: 1_000_000,
        rate_per_second: 1_000_000,
        ..Config::default()
    };
    let rules = RuleSet::corridor_defaults_toml()
        .replace("reorder_window_seconds = 2", "reorder_window_seconds = 0");
    config.alerts.rules = RuleSet::from_toml(&rules)?;
    let state = AppState::new(store.clone(), config);
    let input = state.watch.clone();
    let app = Application::build("127.0.0.1:0", state).await?;
    let base = format!("http://{}", app.local_addr()?);
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "bench", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    let res = client
        .get(format!("{base}/api/v1/alerts/stream"))
        .bearer_auth(&token)
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "stream: {}", res.status());

    // Probe deck → when it was handed over; the reader turns arrivals into latencies.
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let reader = {
        let sent = sent.clone();
        let latencies = latencies.clone();
        let mut body = res.bytes_stream();
        tokio::spawn(async move {
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                let arrived = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    if !block.contains("event: raised") {
                        continue;
                    }
                    let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
                        continue;
                    };
                    let subject = v["alert"]["subjectId"].as_str().unwrap_or_default();
                    let t0 = sent
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(subject);
                    if let Some(t0) = t0 {
                        latencies
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(arrived - t0);
                    }
                }
            }
        })
    };

    let sensor = Ident::parse("bench-sensor")?;
    let decks: Vec<String> = (0..DECKS).map(|i| format!("bench-ship/D{i}")).collect();
    let per_tick = (rate / 100).max(1) as usize;
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut readings, mut probes, mut next) = (0u64, 0u64, 0usize);
    let mut ticks = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        ticks += 1;
        let now = Utc::now();
        let batch: Vec<Observation> = (0..per_tick)
            .map(|k| obs(&decks[(next + k) % DECKS], 30.0, 0, now, &sensor))
            .collect();
        next = (next + per_tick) % DECKS;
        readings += batch.len() as u64;
        input.send(batch).await;
        if ticks.is_multiple_of(100 / PROBES_PER_SECOND) {
            // A deck of its own, 60 °C for the last 60 s: the last reading raises the alert.
            let deck = format!("probe-ship/D{probes}");
            let probe: Vec<Observation> = (0..=6)
                .map(|i| obs(&deck, 60.0, 60 - i * 10, now, &sensor))
                .collect();
            readings += probe.len() as u64;
            sent.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(deck, Instant::now());
            input.send(probe).await;
            probes += 1;
        }
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    reader.abort();
    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    l.sort();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "store {}: {readings} readings in {:.1} s = {:.0} readings/s; {probes} probes, {} alerts seen",
        if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        },
        elapsed.as_secs_f64(),
        readings as f64 / elapsed.as_secs_f64(),
        l.len()
    );
    println!(
        "reading → alert on SSE: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
