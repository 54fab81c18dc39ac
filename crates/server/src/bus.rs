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
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::ingest::TransitCache;

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

/// Starts the bus workers: committed readings out to the partitions, the partition owners'
/// watch engines, the notifications in and out. Abort the handles to stop them.
pub fn spawn(
    bus: &Bus,
    store: &Store,
    rules: &RuleSet,
    tick: Duration,
    committed: broadcast::Receiver<Arc<Committed>>,
) -> Vec<JoinHandle<()>> {
    let mut handles = vec![
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

/// Competes for partition `k`'s lease; while held, runs its watch engine.
async fn partition_worker(bus: Bus, store: Store, rules: RuleSet, tick: Duration, k: u32) {
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
        match own(&bus, &store, &rules, tick, k, revision).await {
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
                // More than our share: hand this one over (no unacknowledged work).
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
}
