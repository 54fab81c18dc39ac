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
//! and the hand-over of committed batches to the engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use jianghai_core::reading::{MeasurementType, Reading, Subject, SubjectKind, Unit};
use jianghai_core::{Ident, OrgKind, Organisation, Vessel, VesselKind};
use jianghai_server::{AppState, Application, Config, bootstrap};
use jianghai_store::{
    DeviceKind, DeviceRecord, Role, SensorRecord, Store, TokenOwner, TokenRecord,
};
use jianghai_watch::{Context, Observation, RuleSet};

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
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut readings, mut probes, mut next) = (0u64, 0u64, 0usize);
    let mut ticks = 0u64;
    let mut requests = tokio::task::JoinSet::new();
    while started.elapsed() < Duration::from_secs(seconds) && probes < max_probes as u64 {
        ticker.tick().await;
        ticks += 1;
        let now = Utc::now();
        let batch: Vec<Observation> = (0..per_tick)
            .map(|k| {
                let d = (next + k) % DECKS;
                obs(&decks[d], 30.0, 0, now, &sensor, format!("d{d}"))
            })
            .collect();
        next = (next + per_tick) % DECKS;
        readings += batch.len() as u64;
        sink.send(batch, &mut requests).await;
        if ticks.is_multiple_of(100 / PROBES_PER_SECOND) {
            // A deck of its own, 60 °C for the last 60 s: the last reading raises the alert.
            let deck = format!("probe-ship/D{probes}");
            let probe: Vec<Observation> = (0..=6)
                .map(|i| obs(&deck, 60.0, 60 - i * 10, now, &sensor, format!("p{probes}")))
                .collect();
            readings += probe.len() as u64;
            sent.lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(deck, Instant::now());
            sink.send(probe, &mut requests).await;
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
    async fn send(
        &self,
        batch: Vec<Observation>,
        requests: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    ) {
        match self {
            Sink::Engine(input) => {
                input.send(batch).await;
            }
            Sink::Http { client, url } => {
                let readings: Vec<serde_json::Value> = batch
                    .iter()
                    .map(|o| {
                        serde_json::json!({
                            "sensor": o.reading.sensor,
                            "measurement": "Temperature",
                            "value": o.reading.value,
                            "unit": "CEL",
                            "time": jianghai_core::ledger::format_time(o.reading.time),
                        })
                    })
                    .collect();
                let body = serde_json::json!({ "readings": readings });
                let (client, url) = (client.clone(), url.clone());
                requests.spawn(async move {
                    // A full queue answers 503 and stores nothing: send the batch again.
                    loop {
                        let res = client
                            .post(&url)
                            .bearer_auth(DEVICE_SECRET)
                            .json(&body)
                            .send()
                            .await?;
                        if res.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                            RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        anyhow::ensure!(res.status().is_success(), "readings: {}", res.status());
                        return Ok(());
                    }
                });
            }
        }
    }
}

/// 503 answers (queue full) that the HTTP sink retried.
static RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

const DEVICE_SECRET: &str = "jhd_alert-latency-bench";

/// A carrier with the load's ship and the probes' ship, one device, and a sensor per deck.
async fn seed_devices(store: &Store, probes: usize) -> anyhow::Result<()> {
    let carrier = Ident::parse("bench-carrier")?;
    store
        .create_organisation(&Organisation {
            id: carrier.clone(),
            name: "Carrier".into(),
            kind: OrgKind::Carrier,
        })
        .await?;
    for ship in ["bench-ship", "probe-ship"] {
        store
            .create_vessel(&Vessel {
                id: Ident::parse(ship)?,
                name: ship.into(),
                kind: VesselKind::RiverRoRo,
                carrier: carrier.clone(),
                mmsi: None,
                imo: None,
            })
            .await?;
    }
    let now = jianghai_core::ledger::format_time(Utc::now());
    let device = DeviceRecord {
        id: Ident::parse("bench-sensor")?,
        organisation: carrier.clone(),
        kind: DeviceKind::Sensor,
        name: "bench".into(),
        created_at: now.clone(),
        disabled_at: None,
    };
    let token = TokenRecord {
        id: uuid::Uuid::new_v4(),
        secret_hash: jianghai_server::auth::secret_hash(DEVICE_SECRET),
        owner: TokenOwner::Device(device.id.clone()),
        name: "bench".into(),
        created_at: now.clone(),
        expires_at: None,
        revoked_at: None,
    };
    store.create_device(&device, &token).await?;
    let sensors = (0..DECKS)
        .map(|d| (format!("d{d}"), format!("deck:bench-ship/D{d}")))
        .chain((0..probes).map(|p| (format!("p{p}"), format!("deck:probe-ship/D{p}"))));
    for (key, subject) in sensors {
        store
            .register_sensor(&SensorRecord {
                device: device.id.clone(),
                sensor: key.clone(),
                organisation: carrier.clone(),
                measurement: MeasurementType::Temperature,
                unit: Unit::Celsius,
                subject: Subject::parse(&subject)?,
                name: key,
                created_at: now.clone(),
                updated_at: now.clone(),
            })
            .await?;
    }
    Ok(())
}
