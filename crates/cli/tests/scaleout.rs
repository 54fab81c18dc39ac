//! Three `jianghai serve` nodes on one PostgreSQL schema and one NATS JetStream bus (a fresh
//! schema and a fresh stream/subject prefix per run): readings posted to node A raise an alert
//! that node C's live stream (SSE) shows; then readings stream to A and B, B is killed with
//! SIGKILL mid-stream (the streams move on to C), and afterwards every acknowledged reading is
//! stored, every deck has its alerts (B's watch partitions were taken over) and no alert is
//! duplicated. Needs PostgreSQL and nats-server with JetStream (see .ci/run): it fails, not
//! skips, without them.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_core::reading::{MeasurementType, Subject, Unit};
use jianghai_core::{Ident, OrgKind, Organisation, Vessel, VesselKind, ledger::format_time};
use jianghai_store::{
    AlertFilter, AlertScope, DeviceKind, DeviceRecord, SensorRecord, Store, TokenOwner, TokenRecord,
};
use serde_json::{Value, json};

const SECRET: &str = "jhd_scaleout-test-device-credential";
const PASSWORD: &str = "a long admin password";
/// Decks 1..=DECKS each get one sensor; deck 1 is the first phase's.
const DECKS: usize = 9;

type Acked = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

struct Node {
    child: Child,
    addr: String,
}

/// (node, partition) for every "Took the watch partition" line of the nodes' logs, in order.
type Takes = Arc<Mutex<Vec<(String, u32)>>>;

/// Without the terminal colour sequences.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("{name}="))? + name.len() + 1;
    line[at..].split_whitespace().next()
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &str, bus: &str, name: &str, takes: &Takes) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jianghai"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .arg("--bus")
        .arg(format!("{bus}&node={name}"))
        .env("JIANGHAI_ADMIN_PASSWORD", PASSWORD)
        .env("JIANGHAI_RATE_PER_SECOND", "100000")
        .env("JIANGHAI_RATE_BURST", "100000")
        .env("RUST_LOG", "warn,jianghai_server::bus=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let log = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let takes = takes.clone();
    std::thread::spawn(move || {
        for l in log.map_while(Result::ok) {
            let l = plain(&l);
            if l.contains("Took the watch partition")
                && let (Some(n), Some(k)) = (field(&l, "node"), field(&l, "partition"))
            {
                let k = k.parse().expect("partition number");
                takes.lock().expect("lock").push((n.to_string(), k));
            }
            eprintln!("{l}");
        }
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = lines.next().expect("banner").expect("line");
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading stdout so the child never blocks; report when the node is ready (the
    // administrator exists and the API line is printed).
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if l.contains("API:") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("node ready");
    Node { child, addr }
}

async fn seed(url: &str) {
    let store = Store::open(url).await.expect("open");
    store
        .create_organisation(&Organisation {
            id: id("minsheng-shipping"),
            name: "Minsheng Shipping".into(),
            kind: OrgKind::Carrier,
        })
        .await
        .expect("org");
    store
        .create_vessel(&Vessel {
            id: id("minsheng-8"),
            name: "Minsheng 8".into(),
            kind: VesselKind::RiverRoRo,
            carrier: id("minsheng-shipping"),
            mmsi: None,
            imo: None,
        })
        .await
        .expect("vessel");
    let now = format_time(Utc::now());
    let device = DeviceRecord {
        id: id("env-logger"),
        organisation: id("minsheng-shipping"),
        kind: DeviceKind::Sensor,
        name: "deck climate".into(),
        created_at: now.clone(),
        disabled_at: None,
    };
    let credential = TokenRecord {
        id: uuid::Uuid::new_v4(),
        secret_hash: jianghai_server::auth::secret_hash(SECRET),
        owner: TokenOwner::Device(device.id.clone()),
        name: "credential".into(),
        created_at: now.clone(),
        expires_at: None,
        revoked_at: None,
    };
    store
        .create_device(&device, &credential)
        .await
        .expect("device");
    for d in 1..=DECKS {
        store
            .register_sensor(&SensorRecord {
                device: id("env-logger"),
                sensor: format!("air-{d}"),
                organisation: id("minsheng-shipping"),
                measurement: MeasurementType::Temperature,
                unit: Unit::Celsius,
                subject: Subject::parse(&format!("deck:minsheng-8/D{d}")).expect("subject"),
                name: "air".into(),
                created_at: now.clone(),
                updated_at: now.clone(),
            })
            .await
            .expect("sensor");
    }
    store.close().await;
}

/// Posts `count` readings of deck `d` at 60 °C, a second apart from `base`, in batches of
/// `per`, to the first node of `addrs` that answers (moving on when one stops answering).
/// Every acknowledged (sensor, time) goes into `acked`.
async fn stream(
    addrs: Vec<String>,
    d: usize,
    base: DateTime<Utc>,
    count: i64,
    per: i64,
    acked: Acked,
) {
    let client = reqwest::Client::new();
    let sensor = format!("air-{d}");
    let mut node = 0;
    let mut batch = 0;
    while batch * per < count {
        let times: Vec<DateTime<Utc>> = (0..per)
            .map(|i| base + chrono::Duration::seconds(batch * per + i))
            .collect();
        let readings: Vec<Value> = times
            .iter()
            .map(|t| json!({"sensor": sensor, "measurement": "Temperature", "value": 60.0, "unit": "CEL", "time": format_time(*t)}))
            .collect();
        let res = client
            .post(format!("http://{}/api/v1/readings", addrs[node]))
            .bearer_auth(SECRET)
            .json(&json!({ "readings": readings }))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let body = match res {
            Ok(r) if r.status() == 503 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Ok(r) => {
                let status = r.status();
                match r.json::<Value>().await {
                    Ok(b) => {
                        assert_eq!(status, 200, "{b}");
                        b
                    }
                    Err(_) => {
                        node += 1;
                        assert!(node < addrs.len(), "no node left to post to");
                        continue;
                    }
                }
            }
            Err(_) => {
                // This node is gone: the same batch goes to the next one.
                node += 1;
                assert!(node < addrs.len(), "no node left to post to");
                continue;
            }
        };
        assert_eq!(body["rejected"], json!([]), "{body}");
        acked
            .lock()
            .expect("lock")
            .extend(times.into_iter().map(|t| (sensor.clone(), t)));
        batch += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn login(addr: &str) -> String {
    let res: Value = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    res["token"].as_str().expect("token").to_string()
}

/// Reads node `addr`'s live alert stream until an event of `rule` on `subject` arrives;
/// the event's data.
async fn sse_until(addr: &str, token: &str, rule: &str, subject: &str) -> Value {
    let mut res = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/alerts/stream"))
        .bearer_auth(token)
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200);
    let mut text = String::new();
    loop {
        let chunk = res.chunk().await.expect("chunk").expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            for line in event.lines() {
                if let Some(data) = line.strip_prefix("data:") {
                    let v: Value = serde_json::from_str(data.trim()).expect("event json");
                    let a = &v["alert"];
                    let subj = format!(
                        "{}:{}",
                        a["subjectKind"].as_str().unwrap_or(""),
                        a["subjectId"].as_str().unwrap_or("")
                    );
                    if a["rule"] == rule && subj == subject {
                        return v;
                    }
                }
            }
        }
    }
}

async fn stored_times(
    store: &Store,
    sensor: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> HashSet<DateTime<Utc>> {
    let mut stored = HashSet::new();
    let mut after = String::new();
    loop {
        let page = store
            .readings("env-logger", sensor, from, to, &after, 5_000)
            .await
            .expect("read");
        stored.extend(page.items.iter().map(|r| r.at));
        match page.next {
            Some(n) => after = n,
            None => return stored,
        }
    }
}

#[test]
fn three_nodes_share_the_watch_and_survive_sigkill() {
    let pg = std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let run = uuid::Uuid::new_v4().simple().to_string();
    let url = format!("{pg}?schema=scaleout_{run}");
    let nats = std::env::var("JIANGHAI_TEST_NATS").unwrap_or_else(|_| "127.0.0.1:4222".into());
    std::net::TcpStream::connect(&nats)
        .unwrap_or_else(|e| panic!("NATS with JetStream is required at {nats}: {e}"));
    let bus = format!(
        "nats://{nats}?prefix=t{}&partitions=6&lease_ms=1500",
        &run[..12]
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(seed(&url));

    // Node A first (it migrates nothing new: the seed did), then B and C.
    let takes: Takes = Arc::default();
    let a = serve(&url, &bus, "a", &takes);
    let mut b = serve(&url, &bus, "b", &takes);
    let c = serve(&url, &bus, "c", &takes);
    let token = rt.block_on(login(&c.addr));

    // Phase 1: deck 1's readings go to A; C's live stream shows the alert.
    let sse = {
        let (addr, token) = (c.addr.clone(), token.clone());
        rt.spawn(async move {
            sse_until(&addr, &token, "deck-heat-critical", "deck:minsheng-8/D1").await
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let base = jianghai_store::bucket(Utc::now() - chrono::Duration::hours(3), 60);
    let acked: Acked = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(stream(
        vec![a.addr.clone()],
        1,
        base,
        400,
        20,
        acked.clone(),
    ));
    let event = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), sse).await })
        .expect("C's stream shows the alert raised from A's readings within 30 s")
        .expect("sse task");
    assert_eq!(event["kind"], "raised", "{event}");

    // Phase 2: decks 2..=DECKS stream to A and B (falling back to C); B dies mid-stream.
    let tasks: Vec<_> = (2..=DECKS)
        .map(|d| {
            let first = if d % 2 == 0 { &a.addr } else { &b.addr };
            rt.spawn(stream(
                vec![first.clone(), c.addr.clone()],
                d,
                base + chrono::Duration::hours(1),
                900,
                30,
                acked.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    while acked.lock().expect("lock").len() < 400 + 4_000
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The partitions whose latest owner is B.
    let mut owner: HashMap<u32, String> = HashMap::new();
    for (n, k) in takes.lock().expect("lock").iter() {
        owner.insert(*k, n.clone());
    }
    let held_by_b: HashSet<u32> = owner
        .into_iter()
        .filter(|(_, n)| n == "b")
        .map(|(k, _)| k)
        .collect();
    assert!(
        !held_by_b.is_empty(),
        "B held watch partitions before the kill"
    );
    let before_kill = takes.lock().expect("lock").len();
    b.child.kill().expect("SIGKILL B");
    let _ = b.child.wait();
    rt.block_on(async {
        for t in tasks {
            t.await.expect("stream");
        }
    });
    let acked = acked.lock().expect("lock").clone();
    assert_eq!(
        acked.len(),
        400 + (DECKS - 1) * 900,
        "every batch was acknowledged by some node"
    );

    rt.block_on(async {
        let store = Store::open(&url).await.expect("open");
        // No acknowledged reading lost.
        let mut by_sensor: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
        for (s, t) in &acked {
            by_sensor.entry(s).or_default().push(*t);
        }
        for (sensor, times) in &by_sensor {
            let (first, last) = (
                times.iter().min().expect("min"),
                times.iter().max().expect("max"),
            );
            let stored =
                stored_times(&store, sensor, *first, *last + chrono::Duration::seconds(1)).await;
            let lost = times.iter().filter(|t| !stored.contains(t)).count();
            assert_eq!(lost, 0, "{sensor}: acknowledged readings lost");
        }
        // Processing resumed on A and C: every deck gets both heat alerts (the warning needs
        // five minutes of heat, so it is raised after the kill for the partitions B held).
        let want: HashSet<(String, String)> = (1..=DECKS)
            .flat_map(|d| {
                ["deck-heat-critical", "deck-heat-warning"]
                    .map(|r| (r.to_string(), format!("minsheng-8/D{d}")))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let alerts = loop {
            let page = store
                .alerts(&AlertScope::All, &AlertFilter::default(), "", 1_000)
                .await
                .expect("alerts");
            let have: HashSet<(String, String)> = page
                .items
                .iter()
                .map(|a| (a.rule.clone(), a.subject_id.clone()))
                .collect();
            let taken_over: HashSet<u32> = takes.lock().expect("lock")[before_kill..]
                .iter()
                .filter(|(n, _)| n != "b")
                .map(|(_, k)| *k)
                .collect();
            if (have.is_superset(&want) && taken_over.is_superset(&held_by_b))
                || Instant::now() > deadline
            {
                assert!(
                    taken_over.is_superset(&held_by_b),
                    "B's partitions {held_by_b:?} moved to A or C (taken after the kill: {taken_over:?})"
                );
                break page.items;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let mut count: HashMap<(String, String), usize> = HashMap::new();
        for a in &alerts {
            *count
                .entry((a.rule.clone(), a.subject_id.clone()))
                .or_default() += 1;
        }
        for w in &want {
            assert_eq!(
                count.get(w),
                Some(&1),
                "{w:?}: one alert, no duplicate ({count:?})"
            );
        }
        // ... and the alert log raised each exactly once.
        let head = store.alert_log_head().await.expect("head");
        let events = store
            .alert_events_after(&AlertScope::All, 0, head, 10_000)
            .await
            .expect("log");
        let mut raised: HashMap<(String, String), usize> = HashMap::new();
        for e in events.iter().filter(|e| e.kind == "raised") {
            *raised
                .entry((e.alert.rule.clone(), e.alert.subject_id.clone()))
                .or_default() += 1;
        }
        assert!(raised.values().all(|n| *n == 1), "raised twice: {raised:?}");
        store.close().await;
    });
    drop((a, c));
}
