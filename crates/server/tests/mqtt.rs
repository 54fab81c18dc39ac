//! The MQTT adapter against the real Mosquitto on 127.0.0.1:1883 (`JIANGHAI_TEST_MQTT` as
//! `host:port` to use another; a missing broker fails the test, it never skips). Each test
//! uses its own topic root and client ids, so runs do not see each other.
//!
//! What it proves: a device's readings published with QoS 1 are stored; unknown devices, wrong
//! credentials and invalid readings are refused with the reason on the device's error topic;
//! and the platform's PUBACK to the broker is sent only once the readings are durable. QoS 1
//! is acknowledged hop by hop (the device gets its PUBACK from the broker), so the platform's
//! acknowledgement is observed through its persistent session: after the platform goes away,
//! a client taking over its session is sent again exactly what the platform had not
//! acknowledged — the message it was still trying to store, not the one it had stored.

use std::time::Duration;

use chrono::Utc;
use jianghai_core::Ident;
use jianghai_server::ingest::mqtt::MqttConfig;
use jianghai_server::{AppState, Application, Config, bootstrap};
use jianghai_store::{Role, Store};
use reqwest::Client;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

fn broker() -> (String, u16) {
    let addr = std::env::var("JIANGHAI_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (h, p) = addr.rsplit_once(':').expect("host:port");
    (h.to_string(), p.parse().expect("port"))
}

struct W {
    base: String,
    store: Store,
    url: String,
    root: String,
    /// Stops the platform (its MQTT connection goes, its session stays with the broker).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

async fn world(capacity: usize) -> W {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("mqtt.db").display());
    let store = Store::open(&url).await.expect("open");
    let c = jianghai_sim::corridor_world(1);
    for o in &c.organisations {
        store.create_organisation(o).await.expect("org");
    }
    for v in &c.vessels {
        store.create_vessel(v).await.expect("vessel");
    }
    bootstrap::ensure_user(
        &store,
        &Ident::parse("minsheng-shipping").expect("ident"),
        "carrier",
        "pw-carrier",
        Role::Admin,
    )
    .await
    .expect("user");
    let root = format!("jhtest-{}", Uuid::new_v4().simple());
    let (host, port) = broker();
    let mut config = Config {
        mqtt: Some(MqttConfig {
            host,
            port,
            client_id: format!("{root}-platform"),
            root: root.clone(),
            in_flight: 8,
            keep_alive: Duration::from_secs(30),
        }),
        ..Config::default()
    };
    config.ingest.capacity = capacity;
    let app = Application::build("127.0.0.1:0", AppState::new(store.clone(), config))
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    W {
        base: format!("http://{addr}"),
        store,
        url,
        root,
        stop: Some(stop),
        _dir: dir,
    }
}

/// Registers device `d3-env` of the carrier with a temperature sensor on deck D3; returns its
/// credential.
async fn device(w: &W) -> String {
    let client = Client::new();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", w.base))
        .json(&json!({"username": "carrier", "password": "pw-carrier"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["token"].as_str().expect("token");
    let d: Value = client
        .post(format!("{}/api/v1/devices", w.base))
        .bearer_auth(token)
        .json(&json!({"id": "d3-env", "kind": "sensor", "name": "D3"}))
        .send()
        .await
        .expect("device")
        .json()
        .await
        .expect("json");
    let res = client
        .post(format!("{}/api/v1/sensors", w.base))
        .bearer_auth(token)
        .json(
            &json!({"device": "d3-env", "sensor": "air", "measurement": "Temperature",
                      "subject": "deck:minsheng-ro-ro-8/D3"}),
        )
        .send()
        .await
        .expect("sensor");
    assert_eq!(res.status(), 201);
    d["credential"].as_str().expect("credential").to_string()
}

/// A device-side client: publishes with QoS 1 and reports PUBACKs and error-topic messages.
struct Dev {
    client: AsyncClient,
    /// Packet ids as the client sends its publishes.
    sent: mpsc::UnboundedReceiver<u16>,
    acks: mpsc::UnboundedReceiver<u16>,
    /// PUBACKs seen while waiting for another.
    seen: Vec<u16>,
    errors: mpsc::UnboundedReceiver<Value>,
}

async fn dev(root: &str) -> Dev {
    let (host, port) = broker();
    let mut opts = MqttOptions::new(format!("{root}-device"), host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(opts, 64);
    let (ack_tx, acks) = mpsc::unbounded_channel();
    let (sent_tx, sent) = mpsc::unbounded_channel();
    let (err_tx, errors) = mpsc::unbounded_channel();
    let filter = format!("{root}/+/+/errors");
    let sub = client.clone();
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    sub.subscribe(filter.clone(), QoS::AtLeastOnce)
                        .await
                        .expect("subscribe");
                }
                Ok(Event::Incoming(Packet::PubAck(a))) => {
                    let _ = ack_tx.send(a.pkid);
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    let _ = sent_tx.send(pkid);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = err_tx.send(serde_json::from_slice(&p.payload).expect("json"));
                }
                Ok(_) => {}
                Err(e) => panic!("the broker at 127.0.0.1:1883 is required: {e}"),
            }
        }
    });
    Dev {
        client,
        sent,
        acks,
        seen: Vec::new(),
        errors,
    }
}

impl Dev {
    /// Publishes with QoS 1; returns the packet id.
    async fn publish(&mut self, topic: &str, payload: Value) -> u16 {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_string())
            .await
            .expect("publish");
        tokio::time::timeout(WAIT, self.sent.recv())
            .await
            .ok()
            .flatten()
            .expect("sent")
    }

    /// Waits for the PUBACK of `pkid`.
    async fn ack(&mut self, pkid: u16, wait: Duration) -> bool {
        if let Some(i) = self.seen.iter().position(|p| *p == pkid) {
            self.seen.remove(i);
            return true;
        }
        let until = tokio::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.acks.recv()).await {
                Ok(Some(p)) if p == pkid => return true,
                Ok(Some(p)) => self.seen.push(p),
                _ => return false,
            }
        }
    }

    async fn error(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.errors.recv())
            .await
            .ok()
            .flatten()
    }
}

fn ago(s: i64) -> String {
    jianghai_core::ledger::format_time(Utc::now() - chrono::Duration::seconds(s))
}

fn temp(value: f64, time: &str) -> Value {
    json!({"sensor": "air", "measurement": "Temperature", "value": value, "unit": "CEL", "time": time})
}

async fn stored(w: &W) -> usize {
    w.store
        .readings(
            "d3-env",
            "air",
            Utc::now() - chrono::Duration::hours(1),
            Utc::now(),
            "",
            1_000,
        )
        .await
        .expect("read")
        .items
        .len()
}

const WAIT: Duration = Duration::from_secs(10);

/// Publishes refused probes until the platform answers one on the error topic: from then on
/// it is subscribed.
async fn until_subscribed(w: &W, d: &mut Dev) {
    for _ in 0..50 {
        d.publish(
            &format!("{}/minsheng-shipping/probe/readings", w.root),
            json!("probe"),
        )
        .await;
        if d.error(Duration::from_millis(200)).await.is_some() {
            // Later probes' reports may still come.
            tokio::time::sleep(Duration::from_millis(500)).await;
            while d.errors.try_recv().is_ok() {}
            return;
        }
    }
    panic!("the platform never subscribed to {}/+/+/readings", w.root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_are_stored_and_refusals_reported() {
    let w = world(200_000).await;
    let cred = device(&w).await;
    let mut d = dev(&w.root).await;
    until_subscribed(&w, &mut d).await;
    let topic = format!("{}/minsheng-shipping/d3-env/readings", w.root);

    // Good readings: the PUBACK comes after they are stored.
    let p = d
        .publish(
            &topic,
            json!({"credential": cred, "readings": [temp(30.0, &ago(30)), temp(31.0, &ago(20))]}),
        )
        .await;
    assert!(d.ack(p, WAIT).await, "PUBACK");
    until_stored(&w, 2).await;
    assert!(d.error(Duration::from_millis(300)).await.is_none());

    // A message with one bad reading: the good one is stored, the bad one reported.
    let p = d
        .publish(
            &topic,
            json!({"credential": cred, "readings": [temp(32.0, &ago(10)), temp(-500.0, &ago(9))]}),
        )
        .await;
    assert!(d.ack(p, WAIT).await, "PUBACK");
    let e = d.error(WAIT).await.expect("an error report");
    assert_eq!(stored(&w).await, 3);
    assert_eq!(e["topic"], topic);
    assert_eq!(e["stored"], 1);
    assert_eq!(e["rejected"][0]["index"], 1);
    assert_eq!(e["rejected"][0]["field"], "value");
    assert!(
        e["rejected"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("physically impossible")),
        "{e}"
    );

    // Wrong credential, a credential for another device's topic, an unknown device, garbage.
    for (t, payload, reason) in [
        (
            topic.clone(),
            json!({"credential": "jhd_wrong", "readings": [temp(1.0, &ago(5))]}),
            "not known",
        ),
        (
            format!("{}/minsheng-shipping/d9-env/readings", w.root),
            json!({"credential": cred, "readings": [temp(1.0, &ago(5))]}),
            "not device \"d9-env\"",
        ),
        (topic.clone(), json!({"readings": []}), "payload is not"),
    ] {
        let p = d.publish(&t, payload).await;
        assert!(
            d.ack(p, WAIT).await,
            "a refused message is acknowledged too"
        );
        let e = d.error(WAIT).await.expect("an error report");
        assert!(
            e["reason"].as_str().is_some_and(|r| r.contains(reason)),
            "{reason}: {e}"
        );
        assert_eq!(e["topic"], t);
    }
    assert_eq!(stored(&w).await, 3, "nothing refused was stored");
}

async fn until_stored(w: &W, n: usize) {
    for _ in 0..100 {
        if stored(w).await >= n {
            assert_eq!(stored(w).await, n);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} readings were never stored (found {})", stored(w).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_acknowledges_only_what_is_durable() {
    use sqlx::Connection;
    let mut w = world(5).await;
    let cred = device(&w).await;
    let mut d = dev(&w.root).await;
    until_subscribed(&w, &mut d).await;
    let topic = format!("{}/minsheng-shipping/d3-env/readings", w.root);
    let message = |m: i64| {
        let readings: Vec<Value> = (0..5)
            .map(|i| temp(20.0 + m as f64, &ago(100 - m * 10 - i)))
            .collect();
        json!({"credential": cred, "readings": readings})
    };
    // M1 is stored (and so acknowledged).
    d.publish(&topic, message(1)).await;
    until_stored(&w, 5).await;
    // M2 arrives while another connection holds SQLite's write lock: it cannot be stored, so
    // the platform withholds its PUBACK — and the queue (five readings) is full meanwhile.
    let mut blocker = sqlx::SqliteConnection::connect(&w.url)
        .await
        .expect("connect");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    let m2 = message(2);
    d.publish(&topic, m2.clone()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stored(&w).await, 5);
    // The platform goes away with M2 unacknowledged.
    let _ = w.stop.take().expect("running").send(());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Whoever takes over its session is sent M2 again, and only M2.
    let (host, port) = broker();
    let mut opts = MqttOptions::new(format!("{}-platform", w.root), host.clone(), port);
    opts.set_clean_session(false).set_manual_acks(true);
    let (takeover, mut events) = AsyncClient::new(opts, 16);
    let mut again = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(ev) = tokio::time::timeout_at(until, events.poll()).await {
        if let Ok(Event::Incoming(Packet::Publish(p))) = ev {
            again.push(serde_json::from_slice::<Value>(&p.payload).expect("json"));
        }
    }
    assert_eq!(again, vec![m2], "exactly the unacknowledged message");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("unlock");
    drop(takeover);
    // Leave no session behind in the broker.
    let mut opts = MqttOptions::new(format!("{}-platform", w.root), host, port);
    opts.set_clean_session(true);
    let (_c, mut events) = AsyncClient::new(opts, 4);
    let _ = tokio::time::timeout(Duration::from_secs(2), events.poll()).await;
}
