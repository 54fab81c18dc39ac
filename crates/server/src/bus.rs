//! Several nodes on one PostgreSQL: the NATS JetStream bus (`jianghai serve --bus nats://…`).
//!
//! Without a bus everything stays in-process ([`crate::alerting`]). With one:
//!
//! - **Committed readings** leave the node that stored them as observations (reading, subject,
//!   in-transit context) on `PREFIX.readings.K`, where `K` is the partition of the reading's
//!   subject (a stable hash of `kind:id` modulo the partition count). The stream
//!   `PREFIX_readings` keeps them (24 h).
//! - **The watch engine runs per partition.** Each partition has a lease in the KV bucket
//!   `PREFIX_leases` (entries expire after the lease TTL; the owner renews them) and a durable
//!   pull consumer `watch-K` on its subject. Only the lease holder pulls, evaluates in order with
//!   its own [`jianghai_watch::Engine`], writes the decisions as alerts and acks. Acks wait until
//!   the engine's reorder window has released the readings, so a node that dies leaves what it
//!   had not evaluated unacknowledged: JetStream redelivers it (after the consumer's ack wait)
//!   to whichever node takes the lease next. Nodes take partitions up to their fair share of
//!   the live nodes (heartbeats in the same bucket), so load spreads and moves back.
//! - **Warm-up after a takeover:** the new owner's engine starts empty (no history per
//!   subject): rules that need several readings fire once it has seen them again. The store
//!   allows one open alert per (rule, subject), so a re-raise is counted on the open alert,
//!   never a duplicate.
//! - **AIS positions** (and every other AIS message) leave the node whose feed received them
//!   on `PREFIX.ais.K`, `K` the partition of the sender's MMSI (stream `PREFIX_ais`, 24 h),
//!   re-armoured as payloads with the tag-block time and the reception time, in the order the
//!   feed decoded them and with a message id (JetStream drops a republished batch). Vessel
//!   tracking runs under the same partition leases as the watch: the holder of partition `K`
//!   pulls `track-K` one bus message at a time (at most one unacknowledged, so a vessel's
//!   messages are tracked in order even across a takeover), hands them to its node's one
//!   [`Tracking`], and acks once handled. A new owner first lets go of whatever it
//!   remembered of the partition's voyages and takes those under way up again from the store
//!   ([`Tracking::resume`]); AIS silence is checked only for the voyages of partitions held. Tracking writes are idempotent
//!   (positions by MMSI and time, lock passages by a derived event id), so a batch handled
//!   again after a takeover records nothing twice.
//! - **Notifications:** alert decisions go on `PREFIX.events.decisions`, the alert log's head
//!   on `PREFIX.events.alerts` and the ledger's head on `PREFIX.events.ledger` (stream
//!   `PREFIX_events`). Every node listens to the alert heads and wakes its live streams (SSE)
//!   at once; they would otherwise see another node's alerts at their next poll of the store.
//!
//! Only the NATS 2.9 subset of JetStream is used (one filter subject per consumer).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, kv, stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use jianghai_core::Ident;
use jianghai_core::party::Position;
use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
use jianghai_store::{Committed, Store};
use jianghai_watch::{Context, Decision, Observation, RuleSet};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::feeds::Input;
use crate::ingest::TransitCache;
use crate::tracking::Tracking;

/// The bus, as configured on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct BusConfig {
    /// `host:port` of a NATS server with JetStream.
    pub server: String,
    /// Names the streams, subjects, consumers and lease bucket: nodes with the same prefix
    /// (and the same store) form one deployment.
    pub prefix: String,
    /// How many watch partitions (fixed for a deployment's life: it decides who evaluates
    /// which subject).
    pub partitions: u32,
    /// A partition lease (and a node's heartbeat) lapses this long after its last renewal.
    pub lease_ttl: Duration,
    /// This node's name in leases and notifications.
    pub node: String,
}

impl BusConfig {
    /// `nats://HOST[:PORT][?prefix=P&partitions=N&lease_ms=MS&node=NAME]`; the port defaults
    /// to 4222, the prefix to `jianghai`, partitions to 16, the lease to 3000 ms and the node
    /// name to a random one.
    pub fn from_url(url: &str) -> Result<BusConfig, String> {
        let rest = url
            .strip_prefix("nats://")
            .ok_or_else(|| format!("bus URL {url:?} must start with nats://"))?;
        let (addr, query) = rest.split_once('?').unwrap_or((rest, ""));
        let addr = addr.trim_end_matches('/');
        if addr.is_empty() {
            return Err(format!("bus URL {url:?} names no host"));
        }
        let server = match addr.rsplit_once(':') {
            Some((_, port)) => {
                port.parse::<u16>()
                    .map_err(|_| format!("bus URL {url:?}: {port:?} is not a port"))?;
                addr.to_string()
            }
            None => format!("{addr}:4222"),
        };
        let mut cfg = BusConfig {
            server,
            prefix: "jianghai".into(),
            partitions: 16,
            lease_ttl: Duration::from_millis(3_000),
            node: format!("node-{:08x}", fastrand::u32(..)),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("bus URL {url:?}: {pair:?} is not name=value"))?;
            match k {
                "prefix" => cfg.prefix = v.to_string(),
                "partitions" => {
                    cfg.partitions = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=1024).contains(n))
                        .ok_or_else(|| format!("bus URL {url:?}: partitions must be 1 to 1024"))?
                }
                "lease_ms" => {
                    cfg.lease_ttl = v
                        .parse()
                        .ok()
                        .filter(|n| (300..=600_000).contains(n))
                        .map(Duration::from_millis)
                        .ok_or_else(|| format!("bus URL {url:?}: lease_ms must be 300 to 600000"))?
                }
                "node" => cfg.node = v.to_string(),
                _ => {
                    return Err(format!(
                        "bus URL {url:?}: unknown option {k:?} (prefix, partitions, lease_ms, node)"
                    ));
                }
            }
        }
        for (what, v) in [("prefix", &cfg.prefix), ("node", &cfg.node)] {
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "bus URL {url:?}: {what} must be 1 to 64 letters, digits, '-' or '_'"
                ));
            }
        }
        Ok(cfg)
    }

    fn subject(&self, tail: &str) -> String {
        format!("{}.{tail}", self.prefix)
    }

    fn readings_stream(&self) -> String {
        format!("{}_readings", self.prefix)
    }

    fn ais_stream(&self) -> String {
        format!("{}_ais", self.prefix)
    }

    fn events_stream(&self) -> String {
        format!("{}_events", self.prefix)
    }

    fn bucket(&self) -> String {
        format!("{}_leases", self.prefix)
    }
}

/// Observations per bus message (about 250 bytes each in JSON).
const MAX_OBSERVATIONS_PER_MESSAGE: usize = 1_000;

/// The partition of a watch subject: FNV-1a of `kind:id`, stable across builds and nodes.
pub fn partition(subject: &Subject, partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in subject.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u32
}

/// The partition of a vessel's AIS messages: FNV-1a of `mmsi:N`, stable across builds and
/// nodes.
pub fn ais_partition(mmsi: u32, partitions: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("mmsi:{mmsi}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(partitions.max(1))) as u32
}

/// AIS messages per bus message (about 120 bytes each in JSON).
const MAX_AIS_PER_MESSAGE: usize = 500;

/// How long a partition owner has to ack a bus message of AIS before JetStream offers it
/// again (to whoever holds the partition then). Long batches send progress meanwhile.
const AIS_ACK_WAIT: Duration = Duration::from_secs(10);

/// A bus message of AIS that failed this often is given up (logged), so one message the
/// store keeps refusing does not stall its partition.
const AIS_MAX_TRIES: i64 = 5;

/// One decoded AIS message on the wire (JSON): its payloads re-armoured as in a sentence,
/// and what the transport said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAis {
    /// Armoured payload and fill bits: one, or two for a type 24 report with both parts
    /// (part A first).
    pub payloads: Vec<(String, u8)>,
    /// The tag block's `c:` time (unix seconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u8>,
    #[serde(default)]
    pub own_ship: bool,
    /// When the feed received it.
    pub received: DateTime<Utc>,
}

impl WireAis {
    /// The wire form of a decoded message; `None` if the message cannot be encoded again
    /// (a field out of range: not a message the decoder gives).
    pub fn new(d: &jianghai_ais::Decoded, received: DateTime<Utc>) -> Option<WireAis> {
        let payloads = jianghai_ais::message::encode(&d.message).ok()?;
        Some(WireAis {
            payloads: payloads
                .iter()
                .map(jianghai_ais::Payload::to_armored)
                .collect(),
            unix_time: d.unix_time,
            channel: d.channel,
            own_ship: d.own_ship,
            received,
        })
    }

    /// Back to the decoded message; `None` for payloads that do not decode (not written by
    /// us).
    pub fn decoded(&self) -> Option<jianghai_ais::Decoded> {
        use jianghai_ais::Message;
        let mut parts = self.payloads.iter().map(|(text, fill)| {
            jianghai_ais::Payload::from_armored(text, *fill)
                .ok()
                .and_then(|p| jianghai_ais::message::decode(&p).ok())
        });
        let first = parts.next()??;
        let message = match (first, parts.next()) {
            (m, None) => m,
            // Part A's name joined to part B, as the feed's decoder had joined them.
            (Message::StaticData(a), Some(Some(Message::StaticData(mut b))))
                if a.mmsi == b.mmsi && a.part_b.is_none() && b.part_b.is_some() =>
            {
                b.shipname = a.shipname;
                Message::StaticData(b)
            }
            _ => return None,
        };
        Some(jianghai_ais::Decoded {
            message,
            unix_time: self.unix_time,
            channel: self.channel,
            own_ship: self.own_ship,
        })
    }
}

/// An observation on the wire (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireObservation {
    pub subject: String,
    pub device: Ident,
    pub sensor: String,
    pub measurement: MeasurementType,
    /// In the measurement's canonical unit.
    pub value: f64,
    pub unit: Unit,
    pub time: DateTime<Utc>,
    pub position: Option<Position>,
    pub in_transit: bool,
}

impl From<&Observation> for WireObservation {
    fn from(o: &Observation) -> WireObservation {
        WireObservation {
            subject: o.subject.to_string(),
            device: o.reading.device.clone(),
            sensor: o.reading.sensor.clone(),
            measurement: o.reading.measurement,
            value: o.reading.value,
            unit: o.reading.unit,
            time: o.reading.time,
            position: o.reading.position,
            in_transit: o.context.in_transit,
        }
    }
}

impl WireObservation {
    /// Back to an observation; `None` for a subject that does not parse (not written by us).
    pub fn observation(self) -> Option<Observation> {
        Some(Observation {
            subject: Subject::parse(&self.subject).ok()?,
            reading: Reading {
                device: self.device,
                sensor: self.sensor,
                measurement: self.measurement,
                value: self.value,
                unit: self.unit,
                time: self.time,
                position: self.position,
            },
            context: Context {
                in_transit: self.in_transit,
            },
        })
    }
}

/// A notification on `PREFIX.events.*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub node: String,
    /// Head of the alert log or ledger (entries committed so far), or the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<serde_json::Value>,
}

/// A connected bus: streams and lease bucket ensured.
#[derive(Clone)]
pub struct Bus {
    pub config: Arc<BusConfig>,
    client: async_nats::Client,
    js: jetstream::Context,
    readings: stream::Stream,
    ais: stream::Stream,
    leases: kv::Store,
    /// Partitions this node holds, and how many it should (its share of the live nodes).
    held: Arc<AtomicU32>,
    share: Arc<AtomicU32>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects and creates (or updates) the streams and the lease bucket.
    pub async fn connect(config: BusConfig) -> anyhow::Result<Bus> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("jianghai {}", config.node))
            .connect(config.server.as_str())
            .await
            .with_context(|| format!("cannot connect to NATS at {}", config.server))?;
        let js = jetstream::new(client.clone());
        js.create_or_update_stream(stream::Config {
            name: config.readings_stream(),
            subjects: vec![config.subject("readings.*")],
            max_age: Duration::from_secs(24 * 3600),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| {
            format!(
                "cannot create the JetStream stream {} (is JetStream on?)",
                config.readings_stream()
            )
        })?;
        js.create_or_update_stream(stream::Config {
            name: config.events_stream(),
            subjects: vec![config.subject("events.>")],
            max_age: Duration::from_secs(24 * 3600),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot create the stream {}", config.events_stream()))?;
        let readings = js
            .get_stream(config.readings_stream())
            .await
            .context("cannot open the readings stream")?;
        js.create_or_update_stream(stream::Config {
            name: config.ais_stream(),
            subjects: vec![config.subject("ais.*")],
            max_age: Duration::from_secs(24 * 3600),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot create the stream {}", config.ais_stream()))?;
        let ais = js
            .get_stream(config.ais_stream())
            .await
            .context("cannot open the AIS stream")?;
        // The bucket's stream as the KV convention lays it out, created directly: the
        // client's own bucket creation first reads the account's limits, whose answer from a
        // 2.9 server it cannot parse.
        js.create_or_update_stream(stream::Config {
            name: format!("KV_{}", config.bucket()),
            subjects: vec![format!("$KV.{}.>", config.bucket())],
            max_messages_per_subject: 1,
            max_age: config.lease_ttl,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .with_context(|| format!("cannot create the lease bucket {}", config.bucket()))?;
        let leases = js
            .get_key_value(config.bucket())
            .await
            .with_context(|| format!("cannot open the lease bucket {}", config.bucket()))?;
        Ok(Bus {
            config: Arc::new(config),
            client,
            js,
            readings,
            ais,
            leases,
            held: Arc::new(AtomicU32::new(0)),
            share: Arc::new(AtomicU32::new(1)),
        })
    }

    /// Publishes observations to their partitions and waits for JetStream to have stored them.
    pub async fn publish_observations(&self, batch: &[Observation]) -> anyhow::Result<()> {
        let mut parts: HashMap<u32, Vec<WireObservation>> = HashMap::new();
        for o in batch {
            parts
                .entry(partition(&o.subject, self.config.partitions))
                .or_default()
                .push(o.into());
        }
        let mut acks = Vec::with_capacity(parts.len());
        for (k, obs) in parts {
            // Well under NATS's default 1 MB message limit.
            for chunk in obs.chunks(MAX_OBSERVATIONS_PER_MESSAGE) {
                let payload = Bytes::from(serde_json::to_vec(chunk)?);
                acks.push(
                    self.js
                        .publish(self.config.subject(&format!("readings.{k}")), payload)
                        .await?,
                );
            }
        }
        for ack in acks {
            ack.await?;
        }
        Ok(())
    }

    /// Publishes `(message id, partition, messages)` bus messages of AIS and waits for
    /// JetStream to have stored them. Ids make a retry after a lost answer harmless (the
    /// stream drops a message id it has seen within two minutes).
    async fn publish_ais(&self, batch: &[(String, u32, Bytes)]) -> anyhow::Result<()> {
        use jetstream::message::PublishMessage;
        let mut acks = Vec::with_capacity(batch.len());
        for (id, k, payload) in batch {
            acks.push(
                self.js
                    .send_publish(
                        self.config.subject(&format!("ais.{k}")),
                        PublishMessage::build()
                            .payload(payload.clone())
                            .message_id(id),
                    )
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
        Ok(())
    }

    /// Publishes a notification on `PREFIX.events.KIND` (stored in the events stream).
    pub async fn notify(&self, kind: &str, notice: &Notice) -> anyhow::Result<()> {
        let payload = Bytes::from(serde_json::to_vec(notice)?);
        self.js
            .publish(self.config.subject(&format!("events.{kind}")), payload)
            .await?
            .await?;
        Ok(())
    }
}

/// This node's vessel tracking, shared by the AIS partitions it holds.
#[derive(Clone)]
pub struct AisTracking {
    tracking: Arc<tokio::sync::Mutex<Tracking>>,
    /// The partitions whose AIS this node tracks now.
    held: Arc<std::sync::Mutex<std::collections::HashSet<u32>>>,
    /// How often AIS silence is checked.
    silence_tick: Duration,
}

impl AisTracking {
    pub fn new(tracking: Tracking, silence_tick: Duration) -> AisTracking {
        AisTracking {
            tracking: Arc::new(tokio::sync::Mutex::new(tracking)),
            held: Arc::default(),
            silence_tick,
        }
    }

    fn held(&self) -> std::collections::HashSet<u32> {
        self.held.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// Marks an AIS partition held while alive (also when its task is aborted).
struct Holding(AisTracking, u32);

impl Holding {
    fn new(ais: &AisTracking, k: u32) -> Holding {
        if let Ok(mut h) = ais.held.lock() {
            h.insert(k);
        }
        Holding(ais.clone(), k)
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        if let Ok(mut h) = self.0.held.lock() {
            h.remove(&self.1);
        }
    }
}

/// A partition's vessel tracking task while its node holds the lease: stopped gently on a
/// hand-over ([`PartitionTracking::finish`]), aborted when dropped (the lease is lost).
struct PartitionTracking {
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl PartitionTracking {
    fn start(bus: &Bus, ais: &AisTracking, k: u32) -> PartitionTracking {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        PartitionTracking {
            stop,
            task: tokio::spawn(track(bus.clone(), ais.clone(), k, stopping)),
        }
    }

    /// Lets the task finish the AIS batch in hand, for at most `within` (after which it is
    /// aborted, and the batch comes again to the next owner after the ack wait).
    async fn finish(&mut self, within: Duration) {
        self.stop.send_replace(true);
        let _ = tokio::time::timeout(within, &mut self.task).await;
    }
}

impl Drop for PartitionTracking {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the bus workers: committed readings out to the partitions, the partition owners'
/// watch engines and vessel tracking, the notifications in and out. Abort the handles to
/// stop them.
pub fn spawn(
    bus: &Bus,
    store: &Store,
    rules: &RuleSet,
    tick: Duration,
    committed: broadcast::Receiver<Arc<Committed>>,
    ais: &AisTracking,
) -> Vec<JoinHandle<()>> {
    let mut handles = vec![
        tokio::spawn(silence(bus.clone(), ais.clone())),
        tokio::spawn(publish_committed(bus.clone(), store.clone(), committed)),
        tokio::spawn(heartbeat(bus.clone())),
        tokio::spawn(alert_heads_out(bus.clone(), store.clone())),
        tokio::spawn(alert_heads_in(bus.clone(), store.clone())),
        tokio::spawn(ledger_heads_out(bus.clone(), store.clone())),
    ];
    for k in 0..bus.config.partitions {
        handles.push(tokio::spawn(partition_worker(
            bus.clone(),
            store.clone(),
            rules.clone(),
            tick,
            k,
            ais.clone(),
        )));
    }
    handles
}

/// Committed batches -> observations -> the bus. A publication that fails is retried (the
/// readings are stored already; only their evaluation waits).
async fn publish_committed(bus: Bus, store: Store, mut from: broadcast::Receiver<Arc<Committed>>) {
    let transit = TransitCache::default();
    loop {
        let batch = match from.recv().await {
            Ok(b) => b,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(
                    batches = n,
                    "The bus publisher fell behind and missed reading batches."
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let obs = crate::ingest::watch_observations(&store, &transit, &batch).await;
        let mut wait = Duration::from_millis(100);
        while let Err(e) = bus.publish_observations(&obs).await {
            tracing::warn!(error = %e, "Cannot publish readings on the bus; retrying.");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

fn lease_key(k: u32) -> String {
    format!("partition-{k}")
}

fn node_key(node: &str) -> String {
    format!("node-{node}")
}

/// Keeps this node's heartbeat in the lease bucket and, from the others', its fair share.
async fn heartbeat(bus: Bus) {
    let key = node_key(&bus.config.node);
    let mut tick = tokio::time::interval(bus.config.lease_ttl / 3);
    loop {
        tick.tick().await;
        if let Err(e) = bus
            .leases
            .put(&key, Bytes::from(bus.config.node.clone()))
            .await
        {
            tracing::warn!(error = %e, "Cannot renew this node's heartbeat on the bus.");
            continue;
        }
        let share = fair_share(&bus).await;
        bus.share.store(share, Ordering::Relaxed);
    }
}

/// How many partitions this node should hold: its share of the live nodes, rounded up.
async fn fair_share(bus: &Bus) -> u32 {
    let mut nodes = 0u32;
    if let Ok(mut keys) = bus.leases.keys().await {
        while let Some(k) = keys.next().await {
            if matches!(k, Ok(k) if k.starts_with("node-")) {
                nodes += 1;
            }
        }
    }
    bus.config.partitions.div_ceil(nodes.max(1))
}

/// Competes for partition `k`'s lease; while held, runs its watch engine and its vessel
/// tracking.
async fn partition_worker(
    bus: Bus,
    store: Store,
    rules: RuleSet,
    tick: Duration,
    k: u32,
    ais: AisTracking,
) {
    let key = lease_key(k);
    let retry = bus.config.lease_ttl / 3;
    loop {
        // Spread the attempts so nodes started together share the partitions.
        tokio::time::sleep(retry + Duration::from_millis(fastrand::u64(0..200))).await;
        if bus.held.load(Ordering::Relaxed) >= bus.share.load(Ordering::Relaxed) {
            continue;
        }
        let revision = match bus
            .leases
            .create(&key, Bytes::from(bus.config.node.clone()))
            .await
        {
            Ok(r) => r,
            Err(_) => continue,
        };
        bus.held.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            partition = k,
            node = %bus.config.node,
            "Took the watch partition."
        );
        // The partition's vessel tracking runs beside its watch for as long as `own` holds
        // the lease.
        let mut tracking = PartitionTracking::start(&bus, &ais, k);
        let owned = own(&bus, &store, &rules, tick, k, revision, &mut tracking).await;
        drop(tracking);
        match owned {
            // `own` gave it up and counted that.
            Ok(()) => tracing::info!(partition = k, "Handed the watch partition over."),
            Err(e) => {
                bus.held.fetch_sub(1, Ordering::Relaxed);
                tracing::warn!(partition = k, error = %e, "Lost the watch partition.")
            }
        }
    }
}

/// Runs partition `k` while the lease holds: pull, evaluate in order, persist, ack once
/// evaluated. Returns when the lease is lost or given up (fair share).
async fn own(
    bus: &Bus,
    store: &Store,
    rules: &RuleSet,
    tick: Duration,
    k: u32,
    mut revision: u64,
    tracking: &mut PartitionTracking,
) -> anyhow::Result<()> {
    let name = format!("watch-{k}");
    let consumer: consumer::PullConsumer = bus
        .readings
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: bus.config.subject(&format!("readings.{k}")),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(15),
                max_ack_pending: 10_000,
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .context("cannot open the partition's consumer")?;
    let key = lease_key(k);
    let renew_every = bus.config.lease_ttl / 3;
    let hold = rules_reorder_window(rules) + tick * 2;
    let mut engine = jianghai_watch::Engine::new(rules.clone());
    let mut next_renew = Instant::now() + renew_every;
    let mut next_tick = Instant::now() + tick;
    // Delivered and observed, waiting for the engine to have evaluated them.
    let mut pending: std::collections::VecDeque<(Instant, jetstream::Message)> = Default::default();
    loop {
        let now = Instant::now();
        if now >= next_renew {
            revision = bus
                .leases
                .update(&key, Bytes::from(bus.config.node.clone()), revision)
                .await
                .context("lease renewal refused")?;
            next_renew = now + renew_every;
            let share = bus.share.load(Ordering::Relaxed);
            if pending.is_empty()
                && bus
                    .held
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| {
                        (h > share).then(|| h - 1)
                    })
                    .is_ok()
            {
                // More than our share: hand this one over (no unacknowledged work). The lease
                // was just renewed, so the tracking's last batch may take a third of it.
                tracking.finish(renew_every).await;
                bus.leases
                    .delete_expect_revision(&key, Some(revision))
                    .await
                    .ok();
                return Ok(());
            }
        }
        if now >= next_tick {
            let decisions = engine.tick(Utc::now());
            persist(bus, store, decisions).await;
            next_tick = now + tick;
            while pending.front().is_some_and(|(at, _)| now >= *at + hold) {
                if let Some((_, m)) = pending.pop_front()
                    && let Err(e) = m.ack().await
                {
                    tracing::warn!(error = %e, partition = k, "Cannot ack evaluated readings; they will be redelivered.");
                }
            }
        }
        let mut batch = consumer
            .fetch()
            .max_messages(64)
            .expires(tick.min(renew_every))
            .messages()
            .await
            .map_err(|e| anyhow::anyhow!("cannot pull: {e}"))?;
        while let Some(m) = batch.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, partition = k, "Pull failed.");
                    break;
                }
            };
            let obs: Vec<WireObservation> = match serde_json::from_slice(&m.payload) {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(error = %e, partition = k, "Unreadable readings on the bus; dropped.");
                    let _ = m.ack().await;
                    continue;
                }
            };
            let now = Utc::now();
            let mut decisions = Vec::new();
            for o in obs.into_iter().filter_map(WireObservation::observation) {
                decisions.extend(engine.observe(&o, now));
            }
            persist(bus, store, decisions).await;
            pending.push_back((Instant::now(), m));
        }
    }
}

/// Decoded AIS from this node's feeds -> the bus, batched by partition in arrival order. A
/// publication that fails is retried with the same message ids; the feeds wait meanwhile.
pub async fn publish_ais(bus: Bus, mut input: mpsc::Receiver<Input>) {
    // Message ids: this process's, so a node restarted under the same name starts afresh.
    let run = format!("{}-{:016x}", bus.config.node, fastrand::u64(..));
    let mut seq: u64 = 0;
    let mut pending: Vec<Input> = Vec::new();
    loop {
        pending.clear();
        if input.recv_many(&mut pending, 4 * MAX_AIS_PER_MESSAGE).await == 0 {
            return;
        }
        let mut parts: Vec<(u32, Vec<WireAis>)> = Vec::new();
        for i in &pending {
            let Some(w) = WireAis::new(&i.decoded, i.received) else {
                tracing::warn!(
                    mmsi = i.decoded.message.mmsi(),
                    "An AIS message cannot be put on the bus; skipped."
                );
                continue;
            };
            let k = ais_partition(i.decoded.message.mmsi(), bus.config.partitions);
            match parts.iter_mut().find(|(p, _)| *p == k) {
                Some((_, v)) => v.push(w),
                None => parts.push((k, vec![w])),
            }
        }
        let mut batch = Vec::new();
        for (k, msgs) in &parts {
            for chunk in msgs.chunks(MAX_AIS_PER_MESSAGE) {
                match serde_json::to_vec(chunk) {
                    Ok(p) => {
                        seq += 1;
                        batch.push((format!("{run}-{seq}"), *k, Bytes::from(p)));
                    }
                    Err(e) => tracing::error!(error = %e, "Cannot serialise AIS for the bus."),
                }
            }
        }
        let mut wait = Duration::from_millis(100);
        while let Err(e) = bus.publish_ais(&batch).await {
            tracing::warn!(error = %e, "Cannot publish AIS on the bus; retrying.");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// Tracks partition `k`'s AIS while this node holds it (aborted when it does not).
async fn track(
    bus: Bus,
    ais: AisTracking,
    k: u32,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let _holding = Holding::new(&ais, k);
    // Another node may have tracked these voyages since this one last held the partition:
    // what it remembers of them is stale, the store is not.
    let parts = bus.config.partitions;
    {
        let mut t = ais.tracking.lock().await;
        t.retain_vessels(|mmsi| ais_partition(mmsi, parts) != k);
        // Taken up now rather than at their next position: a vessel whose AIS stopped with
        // the node that tracked it is then still watched for silence.
        if let Err(e) = t
            .resume(|mmsi| ais_partition(mmsi, parts) == k, Utc::now())
            .await
        {
            tracing::warn!(partition = k, error = %e, "Cannot resume the partition's voyages; they resume at their next position.");
        }
    }
    loop {
        match track_pulls(&bus, &ais, k, &stopping).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(partition = k, error = %e, "AIS tracking of the partition failed; retrying.")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// Pulls and tracks partition `k`'s AIS until `stopping` turns true (between bus messages).
async fn track_pulls(
    bus: &Bus,
    ais: &AisTracking,
    k: u32,
    stopping: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let name = format!("track-{k}");
    let consumer: consumer::PullConsumer = bus
        .ais
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: bus.config.subject(&format!("ais.{k}")),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: AIS_ACK_WAIT,
                // One at a time: a vessel's messages are tracked in the order received, and
                // what a dead owner left unacknowledged comes again before anything newer.
                max_ack_pending: 1,
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .context("cannot open the partition's AIS consumer")?;
    while !*stopping.borrow() {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            // Short, so a hand-over (which waits a third of the lease) finds it between pulls.
            .expires((bus.config.lease_ttl / 6).min(Duration::from_secs(1)))
            .messages()
            .await
            .map_err(|e| anyhow::anyhow!("cannot pull: {e}"))?;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow::anyhow!("pull failed: {e}"))?;
            let wire: Vec<WireAis> = match serde_json::from_slice(&m.payload) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, partition = k, "Unreadable AIS on the bus; dropped.");
                    let _ = m.ack().await;
                    continue;
                }
            };
            let mut failed = None;
            let mut progress = Instant::now();
            {
                let mut t = ais.tracking.lock().await;
                for w in &wire {
                    let Some(d) = w.decoded() else {
                        tracing::error!(
                            partition = k,
                            "An AIS message on the bus does not decode; skipped."
                        );
                        continue;
                    };
                    if let Err(e) = t.handle(&d, w.received).await {
                        failed = Some((e, d.message.mmsi()));
                        break;
                    }
                    if progress.elapsed() >= AIS_ACK_WAIT / 4 {
                        let _ = m.ack_with(jetstream::AckKind::Progress).await;
                        progress = Instant::now();
                    }
                }
            }
            match failed {
                // Acked with the server's confirmation: once this is logged, no other node
                // will be offered the batch again.
                None => match m.double_ack().await {
                    Ok(()) => {
                        tracing::debug!(partition = k, node = %bus.config.node, messages = wire.len(),
                            "AIS messages tracked.");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, partition = k, "Cannot ack tracked AIS; it will be tracked again.");
                    }
                },
                Some((e, mmsi)) => {
                    let tries = m.info().map(|i| i.delivered).unwrap_or(1);
                    if tries < AIS_MAX_TRIES {
                        tracing::warn!(error = %e, mmsi, partition = k, tries,
                            "Cannot record an AIS message; its batch will be tracked again.");
                        let _ = m
                            .ack_with(jetstream::AckKind::Nak(Some(Duration::from_secs(1))))
                            .await;
                    } else {
                        tracing::error!(error = %e, mmsi, partition = k, tries,
                            "Cannot record an AIS message; the rest of its batch is given up.");
                        let _ = m.ack().await;
                    }
                }
            }
        }
    }
    Ok(())
}

/// AIS silence, for the voyages of the partitions held (the others' are let go).
async fn silence(bus: Bus, ais: AisTracking) {
    let parts = bus.config.partitions;
    let mut tick = tokio::time::interval(ais.silence_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let held = ais.held();
        let mut t = ais.tracking.lock().await;
        t.retain_vessels(|mmsi| held.contains(&ais_partition(mmsi, parts)));
        if let Err(e) = t.tick(Utc::now()).await {
            tracing::warn!(error = %e, "AIS silence check failed; retrying next tick.");
        }
    }
}

/// The longest reorder window of the rules (readings wait that long in the engine).
fn rules_reorder_window(rules: &RuleSet) -> Duration {
    Duration::from_millis(rules.reorder_window_ms().max(0) as u64)
}

/// Writes decisions as alerts and announces them on the bus.
async fn persist(bus: &Bus, store: &Store, decisions: Vec<Decision>) {
    if decisions.is_empty() {
        return;
    }
    let notices: Vec<Notice> = decisions
        .iter()
        .map(|d| Notice {
            node: bus.config.node.clone(),
            head: None,
            decision: serde_json::to_value(d).ok(),
        })
        .collect();
    crate::alerting::persist(store, decisions).await;
    for n in notices {
        if let Err(e) = bus.notify("decisions", &n).await {
            tracing::warn!(error = %e, "Cannot announce a watch decision on the bus.");
        }
    }
}

/// This node's alert-log commits -> `PREFIX.events.alerts`.
async fn alert_heads_out(bus: Bus, store: Store) {
    let mut changes = store.alert_log_changes();
    while changes.changed().await.is_ok() {
        let head = *changes.borrow_and_update();
        let n = Notice {
            node: bus.config.node.clone(),
            head: Some(head),
            decision: None,
        };
        if let Err(e) = bus.notify("alerts", &n).await {
            tracing::warn!(error = %e, "Cannot announce the alert log's head on the bus.");
        }
    }
}

/// Other nodes' alert-log heads -> this node's live streams.
async fn alert_heads_in(bus: Bus, store: Store) {
    loop {
        match bus
            .client
            .subscribe(bus.config.subject("events.alerts"))
            .await
        {
            Ok(mut sub) => {
                while let Some(m) = sub.next().await {
                    if let Ok(Notice {
                        node,
                        head: Some(head),
                        ..
                    }) = serde_json::from_slice::<Notice>(&m.payload)
                        && node != bus.config.node
                    {
                        store.alert_log_seen(head);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "Cannot subscribe to alert notifications."),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The ledger's head, when it moves -> `PREFIX.events.ledger` (checked every second).
async fn ledger_heads_out(bus: Bus, store: Store) {
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Ok((count, _)) = store.head().await else {
            continue;
        };
        if last != Some(count) {
            let n = Notice {
                node: bus.config.node.clone(),
                head: Some(count),
                decision: None,
            };
            if bus.notify("ledger", &n).await.is_ok() {
                last = Some(count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_url_defaults_and_options() {
        let c = BusConfig::from_url("nats://127.0.0.1").expect("url");
        assert_eq!(c.server, "127.0.0.1:4222");
        assert_eq!((c.prefix.as_str(), c.partitions), ("jianghai", 16));
        let c = BusConfig::from_url("nats://h:4333?prefix=t_1&partitions=4&lease_ms=900&node=a")
            .expect("url");
        assert_eq!(c.server, "h:4333");
        assert_eq!(
            (c.prefix.as_str(), c.partitions, c.node.as_str()),
            ("t_1", 4, "a")
        );
        assert_eq!(c.lease_ttl, Duration::from_millis(900));
        for bad in [
            "mqtt://h",
            "nats://",
            "nats://h:x",
            "nats://h?partitions=0",
            "nats://h?prefix=a.b",
            "nats://h?colour=red",
            "nats://h?lease_ms=10",
        ] {
            assert!(BusConfig::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partitions_are_stable_and_spread() {
        let s = Subject::parse("deck:minsheng-8/D3").expect("subject");
        assert_eq!(partition(&s, 16), partition(&s.clone(), 16));
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let s = Subject::parse(&format!("vehicle:V{i}")).expect("subject");
            let p = partition(&s, 8);
            assert!(p < 8);
            seen.insert(p);
        }
        assert_eq!(seen.len(), 8, "200 subjects land on every partition");
    }

    #[test]
    fn observations_round_trip_on_the_wire() {
        let o = Observation {
            subject: Subject::parse("vehicle:LRW3E7FS5PC695355").expect("subject"),
            reading: Reading {
                device: Ident::parse("ev-logger").expect("ident"),
                sensor: "battery".into(),
                measurement: MeasurementType::Temperature,
                value: 61.5,
                unit: Unit::Celsius,
                time: Utc::now(),
                position: None,
            },
            context: Context { in_transit: true },
        };
        let wire = serde_json::to_vec(&WireObservation::from(&o)).expect("json");
        let back: WireObservation = serde_json::from_slice(&wire).expect("parse");
        assert_eq!(back.observation(), Some(o));
    }

    #[test]
    fn ais_round_trips_on_the_wire_and_partitions_by_vessel() {
        let mut decoder = jianghai_ais::Decoder::default();
        let at = Duration::ZERO;
        // With a tag block's time, which the wire keeps.
        let position = decoder
            .handle_line(
                "\\c:1700000000*5F\\!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
                at,
            )
            .expect("line")
            .expect("a position");
        assert_eq!(position.unix_time, Some(1_700_000_000));
        assert_eq!(
            decoder.handle_line("!AIVDM,1,1,,A,H42O55i18tMET00000000000000,2*6D", at),
            Ok(None)
        );
        let joined = decoder
            .handle_line("!AIVDM,1,1,,A,H42O55lti4hhhilD3nink000?050,0*40", at)
            .expect("line")
            .expect("parts A and B joined");
        let received = Utc::now();
        for d in [position, joined] {
            let w = WireAis::new(&d, received).expect("encodes");
            let json = serde_json::to_vec(&w).expect("json");
            let back: WireAis = serde_json::from_slice(&json).expect("parse");
            assert_eq!(back.received, received);
            assert_eq!(back.decoded(), Some(d));
        }
        let garbage = WireAis {
            payloads: vec![("!!".into(), 0)],
            unix_time: None,
            channel: None,
            own_ship: false,
            received,
        };
        assert_eq!(garbage.decoded(), None);
        assert_eq!(
            ais_partition(477_553_000, 16),
            ais_partition(477_553_000, 16)
        );
        let spread: std::collections::HashSet<u32> = (0..200)
            .map(|i| ais_partition(413_000_000 + i, 8))
            .collect();
        assert_eq!(spread.len(), 8, "200 MMSIs land on every partition");
    }
}
