//! The server's alert workers, started by [`crate::Application::run_until`] and stopped with
//! it: the watch engine (observations in, raise/clear decisions persisted as alerts), the
//! escalation of unacknowledged alerts, and the webhook dispatcher.
//!
//! # Feeding the watch engine
//!
//! [`WatchInput`] on [`crate::AppState::watch`] is the receiving end: whoever has durable
//! readings (the ingestion queue, after its commit) sends batches of
//! [`jianghai_watch::Observation`]s to it. [`forward`] wires any broadcast channel of
//! batches to it with a mapping. The engine runs on one task; its decisions are written with
//! [`Store::raise_alert`] and [`Store::clear_alert`], which puts them on the alert log, hence
//! the live streams and webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use jianghai_store::{AlertDraft, Severity, Store, WatchHold};
use jianghai_watch::{Decision, Observation, RuleSet};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// Batches of observations waiting for the engine, at most; senders wait beyond it.
pub const WATCH_QUEUE: usize = 1_024;

/// A batch for the engine, and whom to tell once it is evaluated and what it raised written.
pub struct WatchBatch {
    observations: Vec<Observation>,
    done: Option<(WatchHold, u64)>,
}

/// The watch engine's input: a bounded channel of observation batches. Clones share it; the
/// receiving half is taken once by the engine task.
#[derive(Clone)]
pub struct WatchInput {
    tx: mpsc::Sender<WatchBatch>,
    rx: Arc<Mutex<Option<mpsc::Receiver<WatchBatch>>>>,
}

impl Default for WatchInput {
    fn default() -> WatchInput {
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        WatchInput {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
        }
    }
}

impl std::fmt::Debug for WatchInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchInput").finish_non_exhaustive()
    }
}

impl WatchInput {
    /// Hands durable readings to the engine; waits while its queue is full. False when no
    /// engine runs any more.
    pub async fn send(&self, batch: Vec<Observation>) -> bool {
        batch.is_empty()
            || self
                .tx
                .send(WatchBatch {
                    observations: batch,
                    done: None,
                })
                .await
                .is_ok()
    }

    /// [`WatchInput::send`] of the ingestion queue's batch `seq`, marked [`WatchHold::done`]
    /// once evaluated and what it raised written (also when it is empty).
    pub async fn send_marked(&self, batch: Vec<Observation>, hold: &WatchHold, seq: u64) -> bool {
        self.tx
            .send(WatchBatch {
                observations: batch,
                done: Some((hold.clone(), seq)),
            })
            .await
            .is_ok()
    }

    fn take(&self) -> Option<mpsc::Receiver<WatchBatch>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// A hold to mark batches done on, and how to read a batch's number.
pub type HoldBy<T> = (WatchHold, fn(&T) -> u64);

/// Forwards every batch of a broadcast channel (the ingestion queue's committed batches) to
/// the engine, mapped to observations, until either side closes; with `hold`, each batch is
/// marked done under its number (`seq`) once the engine is through with it. A lagging
/// forwarder logs what it missed.
pub fn forward<T, F, Fut>(
    mut from: broadcast::Receiver<T>,
    to: WatchInput,
    hold: Option<HoldBy<T>>,
    mut map: F,
) -> JoinHandle<()>
where
    T: Clone + Send + 'static,
    F: FnMut(T) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Vec<Observation>> + Send,
{
    tokio::spawn(async move {
        loop {
            match from.recv().await {
                Ok(batch) => {
                    let sent = match &hold {
                        Some((hold, seq)) => {
                            let seq = seq(&batch);
                            to.send_marked(map(batch).await, hold, seq).await
                        }
                        None => to.send(map(batch).await).await,
                    };
                    if !sent {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::error!(
                        batches = n,
                        "The watch engine fell behind and missed reading batches."
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

/// An alarm of the engine as a draft for the store.
pub fn draft(a: &jianghai_watch::Alarm) -> AlertDraft {
    AlertDraft {
        rule: a.rule.as_str().to_string(),
        subject_kind: a.subject.kind().as_str().to_string(),
        subject_id: a.subject.id().to_string(),
        severity: match a.severity {
            jianghai_watch::Severity::Info => Severity::Info,
            jianghai_watch::Severity::Warning => Severity::Warning,
            jianghai_watch::Severity::Critical => Severity::Critical,
        },
        title: a.title.clone(),
        detail: a.detail.clone(),
        evidence: serde_json::to_value(&a.evidence).unwrap_or_default(),
        at: a.at,
        source: "watch".into(),
    }
}

/// Writes the engine's decisions as alerts, in order; a failure is logged and the next goes on.
/// Raises in a row are written in one transaction ([`Store::raise_alerts`]: one wait for the
/// writer, one commit); should that fail, each is tried on its own.
pub async fn persist(store: &Store, decisions: Vec<Decision>) {
    let mut raises: Vec<AlertDraft> = Vec::new();
    for d in decisions {
        match d {
            Decision::Raise(a) => raises.push(draft(&a)),
            Decision::Clear { rule, subject, at } => {
                raise_all(store, std::mem::take(&mut raises)).await;
                if let Err(e) = store
                    .clear_alert(rule.as_str(), subject.kind().as_str(), subject.id(), at)
                    .await
                {
                    tracing::error!(error = %e, rule = %rule, subject = %subject, "Cannot record the watch engine's decision.");
                }
            }
        }
    }
    raise_all(store, raises).await;
}

async fn raise_all(store: &Store, drafts: Vec<AlertDraft>) {
    if drafts.is_empty() || store.raise_alerts(&drafts).await.is_ok() {
        return;
    }
    for d in drafts {
        if let Err(e) = store.raise_alert(&d).await {
            tracing::error!(error = %e, rule = %d.rule, subject = %format!("{}:{}", d.subject_kind, d.subject_id), "Cannot record the watch engine's decision.");
        }
    }
}

/// Runs the engine over `input` until it closes, ticking every `tick` (reorder window
/// releases, silence); time is the wall clock, handed to the pure engine.
///
/// The engine's decisions are written by a second loop of this task, in the order they were
/// made: writing an alert waits for the store's writer (on SQLite, behind the batch of
/// readings being committed, tens of milliseconds under load), and while the engine itself
/// waited for that, every reading after it waited too — at 20 alerts a second under a stream of
/// readings, the engine fell seconds behind.
pub async fn run_watch(
    store: Store,
    rules: RuleSet,
    mut input: mpsc::Receiver<WatchBatch>,
    tick: Duration,
) {
    type Decided = (Vec<Decision>, Option<(WatchHold, u64)>);
    let (decided, mut to_write) = mpsc::channel::<Decided>(WATCH_QUEUE);
    let evaluate = async move {
        let mut engine = jianghai_watch::Engine::new(rules);
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (decisions, done) = tokio::select! {
                batch = input.recv() => {
                    let Some(batch) = batch else { return };
                    let now = Utc::now();
                    let mut out = Vec::new();
                    for obs in &batch.observations {
                        out.extend(engine.observe(obs, now));
                    }
                    (out, batch.done)
                }
                _ = ticks.tick() => (engine.tick(Utc::now()), None),
            };
            // Waits for room when the writer is this far behind. On return `decided` is
            // dropped: the writer finishes what is queued, then ends.
            if (!decisions.is_empty() || done.is_some())
                && decided.send((decisions, done)).await.is_err()
            {
                return;
            }
        }
    };
    let write = async {
        while let Some((mut decisions, done)) = to_write.recv().await {
            // Everything waiting goes in together (in order): one transaction for the raises.
            let mut dones: Vec<(WatchHold, u64)> = done.into_iter().collect();
            while let Ok((more, done)) = to_write.try_recv() {
                decisions.extend(more);
                dones.extend(done);
            }
            if !decisions.is_empty() {
                persist(&store, decisions).await;
            }
            for (hold, seq) in dones {
                hold.done(seq);
            }
        }
    };
    tokio::join!(evaluate, write);
}

use crate::webhooks::WebhookConfig;

/// When and how far unacknowledged alerts escalate, and the webhook knobs.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// An open alert of this severity not acknowledged within this long is escalated one
    /// level, and again after each further period. Severities not listed never escalate.
    pub escalate_after: Vec<(Severity, chrono::Duration)>,
    /// The highest escalation level.
    pub max_escalation: i32,
    /// How often escalation is checked.
    pub escalation_tick: Duration,
    /// How often an idle live stream sends a keep-alive comment.
    pub keep_alive: Duration,
    /// The watch engine's rules (the corridor's defaults unless configured).
    pub rules: RuleSet,
    /// How often the engine is ticked (reorder-window releases, silence detection).
    pub watch_tick: Duration,
    pub webhooks: WebhookConfig,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            escalate_after: vec![
                (Severity::Critical, chrono::Duration::minutes(5)),
                (Severity::Warning, chrono::Duration::minutes(15)),
            ],
            max_escalation: 3,
            escalation_tick: Duration::from_secs(30),
            keep_alive: Duration::from_secs(15),
            rules: RuleSet::corridor_defaults(),
            watch_tick: Duration::from_millis(250),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// One escalation pass at `now`: every severity's due alerts go up a level (and onto the log,
/// hence the streams and webhooks). Returns how many were escalated.
pub async fn escalate(
    store: &Store,
    cfg: &AlertsConfig,
    now: chrono::DateTime<Utc>,
) -> Result<usize, jianghai_store::StoreError> {
    let mut n = 0;
    for (severity, after) in &cfg.escalate_after {
        let up = store
            .escalate_alerts(*severity, *after, cfg.max_escalation, now)
            .await?;
        for a in &up {
            tracing::warn!(alert = %a.id, rule = %a.rule, subject = %format!("{}:{}", a.subject_kind, a.subject_id),
                level = a.escalation, "Alert escalated: not acknowledged in time.");
        }
        n += up.len();
    }
    Ok(n)
}

/// Starts the workers; abort the handles to stop them. The watch engine starts only once per
/// [`WatchInput`] (its receiver is taken).
pub fn spawn(store: &Store, cfg: &AlertsConfig, input: &WatchInput) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    if let Some(rx) = input.take() {
        handles.push(tokio::spawn(run_watch(
            store.clone(),
            cfg.rules.clone(),
            rx,
            cfg.watch_tick,
        )));
    }
    let escalation = {
        let store = store.clone();
        let cfg = cfg.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.escalation_tick);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = escalate(&store, &cfg, Utc::now()).await {
                    tracing::warn!(error = %e, "Escalation pass failed; retrying next tick.");
                }
            }
        })
    };
    let webhooks = tokio::spawn(crate::webhooks::dispatch(
        store.clone(),
        cfg.webhooks.clone(),
    ));
    handles.extend([escalation, webhooks]);
    handles
}
