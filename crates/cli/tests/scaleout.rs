//! Three `jianghai serve` nodes on one PostgreSQL schema and one NATS JetStream bus (a fresh
//! schema and a fresh stream/subject prefix per run): readings posted to node A raise an alert
//! that node C's live stream (SSE) shows; then readings stream to A and B, B is killed with
//! SIGKILL mid-stream (the streams move on to C), and afterwards every acknowledged reading is
//! stored, every deck has its alerts (B's watch partitions were taken over) and no alert is
//! duplicated. And AIS: a voyage fed to node A is tracked once, by the node holding the
//! vessel's partition; that node is killed mid-lock and another takes the voyage up from the
//! store and tracks on; a fourth node joins and a full replay records nothing new. Needs
//! PostgreSQL and nats-server with JetStream (see .ci/run): it fails, not skips, without them.
//! Each run deletes its schema and streams.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_core::{Ident, ledger::format_time};
use jianghai_store::{AlertFilter, AlertScope, Store};
use serde_json::{Value, json};

const SECRET: &str = "jhd_scaleout-test-device-credential";
use common::{Deployment, Log, Node, PASSWORD};
/// Decks 1..=DECKS each get one sensor; deck 1 is the first phase's.
const DECKS: usize = 9;

type Acked = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

/// A node of the deployment `env` on its bus (`options` for it), with `extra` arguments.
fn node(env: &Deployment, options: &str, name: &str, extra: &[String], log: &Log) -> Node {
    let mut args = vec![
        "--bus".to_string(),
        format!("{}&node={name}", env.bus(options)),
    ];
    args.extend_from_slice(extra);
    common::serve(
        &env.store,
        name,
        &args,
        "warn,jianghai_server::bus=debug,jianghai_server::tracking=info",
        log,
    )
}

async fn seed(url: &str) {
    let sensors: Vec<(String, String)> = (1..=DECKS)
        .map(|d| (format!("air-{d}"), format!("deck:minsheng-8/D{d}")))
        .collect();
    common::seed_deck_sensors(url, "env-logger", SECRET, &sensors).await;
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
    let env = Deployment::new("scaleout", true);
    let url = env.store.clone();
    let options = "partitions=6&lease_ms=1500";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(seed(&url));

    // Node A first (it migrates nothing new: the seed did), then B and C.
    let log = Log::default();
    let a = node(&env, options, "a", &[], &log);
    let mut b = node(&env, options, "b", &[], &log);
    let c = node(&env, options, "c", &[], &log);
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
    for (n, k) in common::takes(&log, 0) {
        owner.insert(k, n);
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
    let before_kill = common::log_len(&log);
    b.kill();
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
            let taken_over: HashSet<u32> = common::takes(&log, before_kill)
                .into_iter()
                .filter(|(n, _)| n != "b")
                .map(|(_, k)| k)
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
    drop((a, b, c));
    let prefix = env.prefix().to_string();
    assert_eq!(
        env.clean_up(),
        Vec::<String>::new(),
        "the run's streams ({prefix}_*) are deleted"
    );
}

/// The corridor's river vessel, registered with this MMSI.
const MMSI: u32 = 413_801_008;

/// The simulator's corridor, and its river voyage rv-0001 departed at `departed`.
async fn seed_voyage(url: &str, departed: DateTime<Utc>) {
    let store = Store::open(url).await.expect("open");
    let w = jianghai_sim::corridor_world(1);
    for o in &w.organisations {
        store.create_organisation(o).await.expect("org");
    }
    for f in &w.facilities {
        store.create_facility(f).await.expect("facility");
    }
    for v in &w.vessels {
        store.create_vessel(v).await.expect("vessel");
    }
    assert!(
        w.vessels.iter().any(|v| v.mmsi == Some(MMSI)),
        "the corridor's vessel has MMSI {MMSI}"
    );
    for v in &w.voyages {
        store.create_voyage(v).await.expect("voyage");
    }
    store
        .append(jianghai_core::Event {
            event_id: uuid::Uuid::new_v4(),
            action: jianghai_core::Action::Observe,
            event_time: departed.fixed_offset(),
            biz_step: jianghai_core::BizStep("departing".into()),
            disposition: None,
            step: None,
            subjects: jianghai_core::Subjects {
                voyage: Some(id("rv-0001")),
                ..Default::default()
            },
            read_point: None,
            biz_location: None,
            position: None,
            actor: jianghai_core::Actor {
                organisation: id("minsheng-shipping"),
                user: None,
                device: None,
            },
            extensions: Default::default(),
        })
        .await
        .expect("departing");
    store.close().await;
}

/// Down to the Three Gorges anchorage from km U 70, three hours at anchor, through the locks
/// (slowly) and on to km U 30: a report every five minutes from `start`.
fn lock_voyage(start: DateTime<Utc>) -> Vec<jianghai_sim::ais::AisLine> {
    use jianghai_sim::ais::{Leg, Script};
    use jianghai_waterway::{Datum, DatumKm, Datums};
    let upper = |km| Datums::default().to_unified(DatumKm::new(Datum::Upper, km));
    let sail = |km, kn| Leg::Sail {
        to_km: upper(km),
        kn,
    };
    let script = Script {
        mmsi: MMSI,
        name: "Minsheng Ro-Ro 8".into(),
        callsign: "BOXM8".into(),
        destination: "SHANGHAI".into(),
        start,
        from_km: upper(70.0),
        every: chrono::Duration::minutes(5),
        legs: vec![
            sail(60.0, 10.0),
            Leg::Stop {
                hours: 3.0,
                status: jianghai_ais::message::NavigationStatus::AtAnchor,
            },
            sail(48.5, 6.0),
            sail(41.5, 1.2),
            sail(30.0, 10.0),
        ],
    };
    let waterway = jianghai_waterway::Waterway::yangtze(Datums::default()).expect("waterway");
    script.render(&waterway).expect("render")
}

/// AIS messages in `lines` (a message in two fragments is one).
fn messages(lines: &[jianghai_sim::ais::AisLine]) -> usize {
    let mut decoder = jianghai_ais::Decoder::default();
    lines
        .iter()
        .filter(|l| matches!(decoder.handle_line(&l.line, Duration::ZERO), Ok(Some(_))))
        .count()
}

/// A loopback AIS aggregator: the node connects, and gets what is sent.
struct Aggregator {
    addr: String,
    tx: std::sync::mpsc::Sender<String>,
}

impl Aggregator {
    fn start() -> Aggregator {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::Write;
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            for text in rx {
                if conn.write_all(text.as_bytes()).is_err() {
                    return;
                }
            }
        });
        Aggregator { addr, tx }
    }

    fn send(&self, lines: &[jianghai_sim::ais::AisLine]) {
        let text: String = lines.iter().map(|l| format!("{}\r\n", l.line)).collect();
        self.tx.send(text).expect("aggregator");
    }
}

/// AIS messages tracked per node so far, from the "AIS messages tracked." lines.
fn tracked(log: &Log) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (_, l) in log.lock().expect("log").iter() {
        if l.contains("AIS messages tracked.")
            && let (Some(n), Some(m)) = (common::field(l, "node"), common::field(l, "messages"))
        {
            *out.entry(n.to_string()).or_default() += m.parse::<usize>().expect("a count");
        }
    }
    out
}

/// Waits until `what` holds, polling every 100 ms for at most `secs`.
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Vessel tracking on the bus. AIS fed to node A is tracked once, by the node holding the
/// vessel's partition, and another node answers with the result; the owner is killed with
/// SIGKILL in the middle of the lock passage, the rest of the voyage comes in through a
/// surviving node, and another node tracks on from what the store has: the passage (whose
/// wait began before the kill) is recorded once, the state history has no repeat.
#[test]
fn ais_is_tracked_once_by_its_partition_owner_and_moves_on_after_sigkill() {
    let env = Deployment::new("scaleais", true);
    let options = "partitions=6&lease_ms=1500";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let start = Utc::now() - chrono::Duration::hours(10);
    rt.block_on(seed_voyage(&env.store, start - chrono::Duration::hours(1)));
    let lines = lock_voyage(start);
    // A cut in the lock: five hours in the ship is between its gates.
    let cut = lines
        .iter()
        .position(|l| l.at > start + chrono::Duration::hours(5) && !l.line.contains(",2,"))
        .expect("a cut in the lock");
    let (first, second) = (messages(&lines[..cut]), messages(&lines[cut..]));

    let feeds = [Aggregator::start(), Aggregator::start()];
    let log = Log::default();
    let feed = |a: &Aggregator| vec!["--ais-tcp".to_string(), a.addr.clone()];
    let mut nodes = [
        node(&env, options, "a", &feed(&feeds[0]), &log),
        node(&env, options, "b", &feed(&feeds[1]), &log),
        node(&env, options, "c", &[], &log),
    ];
    // The partitions settle at two per node.
    let owners = || {
        let mut owner: HashMap<u32, String> = HashMap::new();
        for (n, k) in common::takes(&log, 0) {
            owner.insert(k, n);
        }
        owner
    };
    wait_for("two partitions per node", 60, || {
        let o = owners();
        o.len() == 6
            && ["a", "b", "c"]
                .iter()
                .all(|n| o.values().filter(|v| v == n).count() == 2)
    });
    let k = jianghai_server::bus::ais_partition(MMSI, 6);
    let owner = owners()[&k].clone();

    // Up to the middle of the lock, through A: tracked once, all by the partition's owner.
    feeds[0].send(&lines[..cut]);
    wait_for("the first part tracked", 60, || {
        tracked(&log).values().sum::<usize>() >= first
    });
    assert_eq!(
        tracked(&log),
        HashMap::from([(owner.clone(), first)]),
        "every message tracked once, by {owner}, the owner of partition {k}"
    );
    let token = {
        let other = nodes
            .iter()
            .find(|n| n.name != owner)
            .expect("another node");
        let token = rt.block_on(login(&other.addr));
        let track: Value = rt.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "http://{}/api/v1/voyages/rv-0001/tracking",
                    other.addr
                ))
                .bearer_auth(&token)
                .send()
                .await
                .expect("tracking")
                .json()
                .await
                .expect("json")
        });
        assert_eq!(
            track["track"]["state"], "in_lock",
            "{} answers with {owner}'s tracking: {track}",
            other.name
        );
        let last = lines[..cut]
            .iter()
            .rev()
            .find(|l| !l.line.contains(",2,"))
            .expect("a position");
        assert_eq!(track["track"]["at"], format_time(last.at), "{track}");
        token
    };

    // The owner dies; the rest comes in through a node still alive.
    let dead = nodes.iter().position(|n| n.name == owner).expect("owner");
    let before_kill = common::log_len(&log);
    nodes[dead].kill();
    // The partition's new owner takes the voyage up from the store at once, not at its next
    // position (so it would raise AIS silence if none came).
    wait_for("the voyage taken up by the new owner", 60, || {
        log.lock().expect("log")[before_kill..]
            .iter()
            .any(|(n, l)| {
                *n != owner && l.contains("Voyage tracking resumed from the stored positions.")
            })
    });
    let via = if owner == "a" { &feeds[1] } else { &feeds[0] };
    via.send(&lines[cut..]);
    wait_for("the rest tracked by another node", 90, || {
        tracked(&log).values().sum::<usize>() >= first + second
    });
    let counts = tracked(&log);
    assert_eq!(
        counts.values().sum::<usize>(),
        first + second,
        "nothing tracked twice: {counts:?}"
    );
    assert_eq!(counts[&owner], first, "{counts:?}");
    let said = |what: &str| -> Vec<String> {
        log.lock()
            .expect("log")
            .iter()
            .filter(|(_, l)| l.contains(what))
            .map(|(n, _)| n.clone())
            .collect()
    };
    let passed = said("Lock passed.");
    assert_eq!(passed.len(), 1, "one lock passage: {passed:?}");
    assert_ne!(passed[0], owner);
    assert!(
        said("Voyage tracking resumed from the stored positions.").contains(&passed[0]),
        "{} rebuilt the voyage from the store",
        passed[0]
    );
    rt.block_on(async {
        let store = Store::open(&env.store).await.expect("open");
        let states: Vec<String> = store
            .voyage_states("rv-0001")
            .await
            .expect("states")
            .into_iter()
            .map(|s| s.state)
            .collect();
        assert_eq!(
            states,
            [
                "under_way",
                "waiting_for_lock",
                "under_way",
                "in_lock",
                "under_way"
            ]
        );
        let passages = store
            .voyage_lock_passages("rv-0001")
            .await
            .expect("passages");
        assert_eq!(passages.len(), 1, "{passages:?}");
        // The wait began at the anchorage, before the kill: three hours at anchor, 11.5 km at
        // 6 kn and 0.3 km at lock speed.
        assert!((passages[0].wait_h - 4.17).abs() < 0.2, "{passages:?}");
        assert!(
            store
                .event(passages[0].event_id)
                .await
                .expect("read")
                .is_some(),
            "the passage is on the ledger"
        );
        store.close().await;
    });
    let survivor = nodes
        .iter()
        .find(|n| n.name != owner && n.name != passed[0])
        .expect("a node that did not track the passage");
    let locks: Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "http://{}/api/v1/voyages/rv-0001/locks",
                survivor.addr
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("locks")
            .json()
            .await
            .expect("json")
    });
    assert_eq!(locks["items"].as_array().map(Vec::len), Some(1), "{locks}");

    // A fourth node joins: the others hand it a partition each (their tracking stops between
    // bus messages). The whole voyage sent again is tracked once more and records nothing new.
    let before = common::log_len(&log);
    let d = node(&env, options, "d", &[], &log);
    wait_for("d's share of the partitions", 60, || {
        owners().values().filter(|n| *n == "d").count() == 2
    });
    // The giving node logs its hand-over after d has taken the lease, and the lines of the
    // nodes reach this log by separate pipes: wait for them rather than read them at once. (A
    // lease that lapsed under load, "Lost", moved to d all the same.)
    let handed = || {
        log.lock().expect("log")[before..]
            .iter()
            .filter(|(_, l)| {
                l.contains("Handed the watch partition over.")
                    || l.contains("Lost the watch partition.")
            })
            .count()
    };
    wait_for("two partitions handed over to d", 30, || handed() >= 2);
    via.send(&lines);
    wait_for("the replay tracked", 60, || {
        tracked(&log).values().sum::<usize>() >= 2 * (first + second)
    });
    let counts = tracked(&log);
    assert_eq!(
        counts.values().sum::<usize>(),
        2 * (first + second),
        "nothing tracked twice: {counts:?}"
    );
    assert_eq!(said("Lock passed.").len(), 1, "still one lock passage");
    rt.block_on(async {
        let store = Store::open(&env.store).await.expect("open");
        assert_eq!(
            store.voyage_states("rv-0001").await.expect("states").len(),
            5,
            "no state repeated"
        );
        assert_eq!(
            store
                .voyage_lock_passages("rv-0001")
                .await
                .expect("passages")
                .len(),
            1
        );
        store.close().await;
    });
    drop((nodes, d));
    let prefix = env.prefix().to_string();
    assert_eq!(
        env.clean_up(),
        Vec::<String>::new(),
        "the run's streams ({prefix}_*) are deleted"
    );
}
