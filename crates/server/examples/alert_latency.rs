//! Latency from a reading handed to the watch engine to its alert on the SSE stream, under a
//! background load of normal readings.
//!
//! ```text
//! cargo run --release -p jianghai-server --example alert_latency -- [RATE] [SECONDS] [STORE_URL] [engine|http]
//! ```
//!
//! RATE readings per second (default 50,000) of 30 °C air on 2,000 decks go to
//! `AppState::watch` in batches every 10 ms; 20 times a second a probe batch puts one more deck
//! over 55 °C for 60 s (the corridor's `deck-heat-critical`), and the time from handing the
//! probe over to its `raised` event arriving on a customs user's `/api/v1/alerts/stream` is
//! recorded. The corridor's default rules are used with a reorder window of 0 s (the default
//! 2 s window alone would hold every alert back 2 s).
//!
//! `engine` (the default) hands readings straight to the watch engine's input: the alert half of
//! the path. `http` sends every reading, load and probes alike, as a device would:
//! `POST /api/v1/readings` with the device's credential, one request per 10 ms batch, so the
//! figure also holds validation, the durable group commit of the readings and their rollups,
//! and the hand-over of committed batches to the engine. The request bodies are built before
//! the measurement starts (their event times are the ticks' planned times, so they trail the
//! wall clock by the time that took), so the load generator's JSON is not in the measured path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use chrono::Utc;
use futures_util::StreamExt;
use jianghai_core::reading::{MeasurementType, Reading, Subject, SubjectKind, Unit};
use jianghai_core::{Ident, OrgKind, Organisation};
use jianghai_server::{AppState, Application, Config, bootstrap};
use jianghai_store::{Role, Store};
use jianghai_watch::{Context, Observation, RuleSet};

mod common;
use common::{BenchDevice, readings_body};

const DECKS: usize = 2_000;
const PROBES_PER_SECOND: u64 = 20;

fn obs(
    deck: &str,
    value: f64,
    ago: i64,
    now: chrono::DateTime<Utc>,
    device: &Ident,
    key: String,
) -> Observation {
    Observation {
        subject: Subject::new(SubjectKind::Deck, deck).expect("deck subject"),
        reading: Reading::new(
            device.clone(),
            &key,
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
        .filter(|a| a.as_str() != "-")
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let over_http = match args.get(4).map(String::as_str) {
        None | Some("engine") => false,
        Some("http") => true,
        Some(other) => anyhow::bail!("mode must be engine or http, not {other}"),
    };
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
    // HTTP: from sending a probe to its answer (stored, durable): the ingestion share.
    let acks: Arc<Mutex<Vec<Duration>>> = Arc::default();
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
    let max_probes = (PROBES_PER_SECOND * (seconds + 1)) as usize;
    let sink = if over_http {
        seed_devices(&store, max_probes).await?;
        Sink::Http {
            client: client.clone(),
            url: format!("{base}/api/v1/readings"),
        }
    } else {
        Sink::Engine(input)
    };
    let per_tick = (rate / 100).max(1) as usize;
    // Every tick's load batch and probe, as observations (engine mode builds them as it goes).
    // Tick `k` has event time `t0 + k × 10 ms`; a probe deck gets 60 °C over the 60 s before.
    let t0 = Utc::now();
    let tick_time = |k: usize| t0 + chrono::Duration::milliseconds(10 * k as i64);
    let load = |k: usize| {
        let now = tick_time(k);
        let next = k * per_tick % DECKS;
        (0..per_tick).map(move |j| {
            let d = (next + j) % DECKS;
            (d, now)
        })
    };
    let probe_every = (100 / PROBES_PER_SECOND) as usize;
    let is_probe_tick = |k: usize| (k + 1).is_multiple_of(probe_every);
    // HTTP: every request body built before the clock starts, so the measured path does not
    // hold the load generator's JSON (a tick's bodies are sent as they are, without copying).
    let planned_ticks = seconds as usize * 100;
    let bodies: Vec<(Bytes, Option<Bytes>)> = if over_http {
        let load_keys: Vec<String> = (0..DECKS).map(|d| format!("d{d}")).collect();
        let built = Instant::now();
        let mut probe = 0usize;
        let b = (0..planned_ticks)
            .map(|k| {
                let main = readings_body(load(k).map(|(d, t)| (load_keys[d].as_str(), 30.0, t)));
                let p = is_probe_tick(k).then(|| {
                    let key = format!("p{probe}");
                    probe += 1;
                    let now = tick_time(k);
                    Bytes::from(readings_body((0..=6).map(|i| {
                        (
                            key.as_str(),
                            60.0,
                            now - chrono::Duration::seconds(60 - i * 10),
                        )
                    })))
                });
                (Bytes::from(main), p)
            })
            .collect();
        println!(
            "{planned_ticks} request bodies built in {:.1} s (before the measurement)",
            built.elapsed().as_secs_f64()
        );
        b
    } else {
        Vec::new()
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut readings, mut probes) = (0u64, 0u64);
    let mut tick = 0usize;
    let mut requests = tokio::task::JoinSet::new();
    while started.elapsed() < Duration::from_secs(seconds) && probes < max_probes as u64 {
        ticker.tick().await;
        let k = tick;
        tick += 1;
        if over_http && k >= bodies.len() {
            break;
        }
        readings += per_tick as u64;
        match &sink {
            Sink::Http { .. } => sink.post(bodies[k].0.clone(), None, &mut requests),
            Sink::Engine(input) => {
                let now = Utc::now();
                let batch: Vec<Observation> = load(k)
                    .map(|(d, _)| obs(&decks[d], 30.0, 0, now, &sensor, format!("d{d}")))
                    .collect();
                input.send(batch).await;
            }
        }
        if is_probe_tick(k) {
            // A deck of its own, 60 °C for the last 60 s: the last reading raises the alert.
            let deck = format!("probe-ship/D{probes}");
            readings += 7;
            sent.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(deck.clone(), Instant::now());
            match &sink {
                Sink::Http { .. } => {
                    if let Some(p) = &bodies[k].1 {
                        sink.post(p.clone(), Some(acks.clone()), &mut requests);
                    }
                }
                Sink::Engine(input) => {
                    let now = Utc::now();
                    let probe: Vec<Observation> = (0..=6)
                        .map(|i| obs(&deck, 60.0, 60 - i * 10, now, &sensor, format!("p{probes}")))
                        .collect();
                    input.send(probe).await;
                }
            }
            probes += 1;
        }
        while let Some(done) = requests.try_join_next() {
            done??;
        }
    }
    while let Some(done) = requests.join_next().await {
        done??;
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
        "mode {}, store {}: {readings} readings in {:.1} s = {:.0} readings/s; {probes} probes, {} alerts seen",
        if over_http { "http" } else { "engine" },
        if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        },
        elapsed.as_secs_f64(),
        readings as f64 / elapsed.as_secs_f64(),
        l.len()
    );
    if over_http {
        println!(
            "503 (queue full) retried: {}",
            RETRIES.load(std::sync::atomic::Ordering::Relaxed)
        );
        let mut a = acks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        a.sort();
        let at = |p: f64| {
            a.get(((a.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "probe sent → answered (durable): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            at(0.50),
            at(0.90),
            at(0.99),
            at(1.0)
        );
    }
    println!(
        "reading → alert on SSE: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

/// Where the bench's readings go: the engine's input, or a device's HTTP ingestion.
enum Sink {
    Engine(jianghai_server::alerting::WatchInput),
    Http {
        client: reqwest::Client,
        url: String,
    },
}

impl Sink {
    /// Posts one prepared body as the device; a 503 (queue full, nothing stored) is retried.
    /// With `acks`, the time to the answer is recorded there.
    fn post(
        &self,
        body: Bytes,
        acks: Option<Arc<Mutex<Vec<Duration>>>>,
        requests: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    ) {
        let Sink::Http { client, url } = self else {
            return;
        };
        let (client, url) = (client.clone(), url.clone());
        let sent = Instant::now();
        requests.spawn(async move {
            loop {
                let res = client
                    .post(&url)
                    .bearer_auth(DEVICE_SECRET)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                if res.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                    RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                anyhow::ensure!(res.status().is_success(), "readings: {}", res.status());
                if let Some(acks) = acks {
                    acks.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(sent.elapsed());
                }
                return Ok(());
            }
        });
    }
}

/// 503 answers (queue full) that the HTTP sink retried.
static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

const DEVICE_SECRET: &str = "jhd_alert-latency-bench";

/// A carrier with the load's ship and the probes' ship, one device, and a sensor per deck.
async fn seed_devices(store: &Store, probes: usize) -> anyhow::Result<()> {
    let sensors = (0..DECKS)
        .map(|d| (format!("d{d}"), format!("deck:bench-ship/D{d}")))
        .chain((0..probes).map(|p| (format!("p{p}"), format!("deck:probe-ship/D{p}"))));
    BenchDevice {
        carrier: "bench-carrier",
        vessels: &["bench-ship", "probe-ship"],
        device: "bench-sensor",
        secret: DEVICE_SECRET,
    }
    .seed(store, sensors)
    .await
}
