//! Group commit for readings: many submitters (HTTP requests, MQTT messages) hand their
//! readings to one bounded queue; a writer takes everything waiting (up to a batch size),
//! stores it in one transaction ([`Store::store_readings`]) and only then answers each
//! submitter with the outcome of its own readings. One fsync covers many requests, and no
//! submitter is told "stored" before the commit. SQLite has one writer; PostgreSQL
//! [`IngestConfig::postgres_writers`], taking turns at the queue.
//!
//! The queue is bounded in readings, not requests. [`Ingestor::submit`] refuses at once when
//! it is full ([`IngestError::Overloaded`]: HTTP answers 503 with `Retry-After`);
//! [`Ingestor::submit_waiting`] waits for room instead (MQTT withholds its PUBACK meanwhile).
//! Either way nothing is acknowledged that is not durable, and nothing acknowledged is lost.
//!
//! Every committed batch of newly stored readings (duplicates left out) is published on a
//! broadcast channel ([`Ingestor::subscribe`]) for the watch engine.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, broadcast, mpsc, oneshot};

use crate::monitoring::{IngestRow, Outcome};
use crate::{Store, StoreError};

/// Knobs of the group commit.
#[derive(Debug, Clone, Copy)]
pub struct IngestConfig {
    /// Readings that may wait for the writer (in the queue or in the transaction being
    /// written) before submitters are turned away.
    pub capacity: usize,
    /// Readings the writer puts in one transaction, at most (a single larger submission is
    /// written whole).
    pub max_batch: usize,
    /// Committed batches the broadcast keeps for slow subscribers.
    pub broadcast: usize,
    /// Group commits written side by side on PostgreSQL, whose backend spends most of a
    /// batch's time inserting into the readings' and rollups' indexes on one core while the
    /// other waits. SQLite has one writer whatever this says: it takes one write lock.
    pub postgres_writers: usize,
}

impl Default for IngestConfig {
    fn default() -> IngestConfig {
        IngestConfig {
            capacity: 200_000,
            max_batch: 20_000,
            broadcast: 1_024,
            postgres_writers: 2,
        }
    }
}

/// Why a submission was not stored. Nothing of it was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("the ingestion queue is full ({capacity} readings waiting); retry in {retry_after:?}")]
    Overloaded {
        capacity: usize,
        retry_after: Duration,
    },
    #[error("{count} readings in one submission; at most {max} are accepted")]
    TooLarge { count: usize, max: usize },
    #[error("the ingestion writer has stopped")]
    Closed,
    /// The transaction failed (the store is unreachable, the disk is full, …); retry later.
    #[error("the readings could not be stored: {0}")]
    Failed(Arc<StoreError>),
}

/// Readings newly stored by one committed transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub readings: Vec<IngestRow>,
    /// This batch's number among those published (from 1), for [`WatchHold::done`].
    pub seq: u64,
}

/// How long the writer holds its next commit for the watch engine at most.
const WATCH_HOLD: Duration = Duration::from_millis(20);

/// Lets the watch engine's alerts go before the next group commit. On SQLite an alert waits
/// for the one writer, and the next batch of readings took it the moment the last was
/// committed, so an alert raised by batch N waited for all of batch N+1 to be written. With a
/// hold, the writer, once it has published batch N, waits until the engine says it has
/// evaluated N and written what N raised ([`WatchHold::done`]), or 20 ms (`WATCH_HOLD`) at
/// most (so a slow or stopped engine costs throughput, never progress).
#[derive(Clone, Debug)]
pub struct WatchHold(Arc<tokio::sync::watch::Sender<u64>>);

impl WatchHold {
    /// Batch `seq` and everything it raised is written.
    pub fn done(&self, seq: u64) {
        self.0.send_if_modified(|d| {
            let later = seq > *d;
            *d = (*d).max(seq);
            later
        });
    }
}

struct Job {
    rows: Vec<IngestRow>,
    reply: oneshot::Sender<Result<Vec<Outcome>, Arc<StoreError>>>,
    _permit: OwnedSemaphorePermit,
}

/// The group-commit queue. Clones share it; the writers stop when the last clone is dropped
/// (after writing what is queued).
#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::UnboundedSender<Job>,
    room: Arc<Semaphore>,
    committed: broadcast::Sender<Arc<Committed>>,
    config: IngestConfig,
    /// Set once the watch engine asks for a hold ([`Ingestor::hold_for_watch`]).
    hold: Arc<std::sync::OnceLock<WatchHold>>,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("config", &self.config)
            .field("room", &self.room.available_permits())
            .finish_non_exhaustive()
    }
}

impl Ingestor {
    /// Starts the writer tasks on the current tokio runtime.
    pub fn start(store: Store, config: IngestConfig) -> Ingestor {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (committed, _) = broadcast::channel(config.broadcast.max(1));
        let hold: Arc<std::sync::OnceLock<WatchHold>> = Default::default();
        let writers = match store.engine() {
            crate::Engine::Sqlite => 1,
            crate::Engine::Postgres => config.postgres_writers.max(1),
        };
        let queue = Arc::new(tokio::sync::Mutex::new(Queue {
            jobs: rx,
            pending: None,
        }));
        let publisher = Arc::new(std::sync::Mutex::new(Publisher {
            committed: committed.clone(),
            published: 0,
        }));
        for _ in 0..writers {
            tokio::spawn(write(
                store.clone(),
                queue.clone(),
                publisher.clone(),
                config.max_batch.max(1),
                hold.clone(),
            ));
        }
        Ingestor {
            jobs,
            room: Arc::new(Semaphore::new(config.capacity.max(1))),
            committed,
            config,
            hold,
        }
    }

    /// From now on, the writers hold each next commit until the engine has marked the batch
    /// before it [`WatchHold::done`] (or 20 ms have passed). For the one engine that evaluates
    /// this node's committed batches.
    pub fn hold_for_watch(&self) -> WatchHold {
        self.hold
            .get_or_init(|| WatchHold(Arc::new(tokio::sync::watch::channel(0).0)))
            .clone()
    }

    /// Every committed batch of newly stored readings, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Committed>> {
        self.committed.subscribe()
    }

    /// Readings waiting for the writer now.
    pub fn queued(&self) -> usize {
        self.config
            .capacity
            .saturating_sub(self.room.available_permits())
    }

    /// Stores `rows` with the next group commit and returns, per row, whether it was stored
    /// or a duplicate — after the commit. Refuses at once when the queue is full.
    pub async fn submit(&self, rows: Vec<IngestRow>) -> Result<Vec<Outcome>, IngestError> {
        let n = self.check(&rows)?;
        let permit = match self.room.clone().try_acquire_many_owned(n) {
            Ok(p) => p,
            Err(TryAcquireError::NoPermits) => {
                return Err(IngestError::Overloaded {
                    capacity: self.config.capacity,
                    retry_after: Duration::from_secs(1),
                });
            }
            Err(TryAcquireError::Closed) => return Err(IngestError::Closed),
        };
        self.enqueue(rows, permit).await
    }

    /// Like [`Ingestor::submit`], but waits for room in the queue instead of refusing.
    pub async fn submit_waiting(&self, rows: Vec<IngestRow>) -> Result<Vec<Outcome>, IngestError> {
        let n = self.check(&rows)?;
        let permit = self
            .room
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| IngestError::Closed)?;
        self.enqueue(rows, permit).await
    }

    fn check(&self, rows: &[IngestRow]) -> Result<u32, IngestError> {
        let max = self.config.capacity;
        if rows.len() > max {
            return Err(IngestError::TooLarge {
                count: rows.len(),
                max,
            });
        }
        u32::try_from(rows.len()).map_err(|_| IngestError::TooLarge {
            count: rows.len(),
            max,
        })
    }

    async fn enqueue(
        &self,
        rows: Vec<IngestRow>,
        permit: OwnedSemaphorePermit,
    ) -> Result<Vec<Outcome>, IngestError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                rows,
                reply,
                _permit: permit,
            })
            .map_err(|_| IngestError::Closed)?;
        match answer.await {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(e)) => Err(IngestError::Failed(e)),
            Err(_) => Err(IngestError::Closed),
        }
    }
}

/// What the writers take their batches from, one writer at a time.
struct Queue {
    jobs: mpsc::UnboundedReceiver<Job>,
    /// A job that would have made the last batch too large: the next batch's first.
    pending: Option<Job>,
}

impl Queue {
    /// Every job waiting, up to `max_batch` readings (a larger single job whole), once there
    /// is one; `None` when the queue is closed and empty.
    async fn batch(&mut self, max_batch: usize) -> Option<Vec<Job>> {
        let first = match self.pending.take() {
            Some(j) => j,
            None => self.jobs.recv().await?,
        };
        let mut n = first.rows.len();
        let mut batch = vec![first];
        while n < max_batch {
            match self.jobs.try_recv() {
                Ok(j) if n + j.rows.len() > max_batch => {
                    self.pending = Some(j);
                    break;
                }
                Ok(j) => {
                    n += j.rows.len();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        Some(batch)
    }
}

/// Numbers committed batches in the order they are broadcast, whichever writer committed them.
struct Publisher {
    committed: broadcast::Sender<Arc<Committed>>,
    published: u64,
}

impl Publisher {
    /// Broadcasts `readings` as the next batch; its number, if anyone listens.
    fn publish(&mut self, readings: Vec<IngestRow>) -> Option<u64> {
        self.published += 1;
        let seq = self.published;
        self.committed
            .send(Arc::new(Committed { readings, seq }))
            .ok()
            .map(|_| seq)
    }
}

/// A writer: takes every job waiting (up to `max_batch` readings), writes them in one
/// transaction, answers each job, publishes what was new. On PostgreSQL two run side by side;
/// they cannot deadlock on each other, as both take their row locks in key order (readings,
/// then rollups, each sorted by key: [`Store::store_readings`]).
async fn write(
    store: Store,
    queue: Arc<tokio::sync::Mutex<Queue>>,
    publisher: Arc<std::sync::Mutex<Publisher>>,
    max_batch: usize,
    hold: Arc<std::sync::OnceLock<WatchHold>>,
) {
    loop {
        let Some(mut batch) = queue.lock().await.batch(max_batch).await else {
            return;
        };
        let lens: Vec<usize> = batch.iter().map(|j| j.rows.len()).collect();
        let mut rows: Vec<IngestRow> = Vec::with_capacity(lens.iter().sum());
        for j in &mut batch {
            rows.append(&mut j.rows);
        }
        match store.store_readings(&rows).await {
            Ok(outcomes) => {
                let mut new = Vec::new();
                let mut rows = rows.into_iter();
                let mut outcomes = outcomes.into_iter();
                for (job, len) in batch.into_iter().zip(lens) {
                    let mine: Vec<Outcome> = outcomes.by_ref().take(len).collect();
                    for (row, o) in rows.by_ref().take(len).zip(&mine) {
                        if *o == Outcome::Stored {
                            new.push(row);
                        }
                    }
                    // A submitter that gave up (dropped its request) is not an error: its
                    // readings are stored all the same.
                    let _ = job.reply.send(Ok(mine));
                }
                if new.is_empty() {
                    continue;
                }
                // No subscriber is not an error either.
                let seq = publisher
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .publish(new);
                if let (Some(seq), Some(WatchHold(done))) = (seq, hold.get()) {
                    let mut done = done.subscribe();
                    let _ = tokio::time::timeout(WATCH_HOLD, done.wait_for(|d| *d >= seq)).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, readings = rows.len(), "Cannot store a batch of readings; its submitters are told to retry.");
                let e = Arc::new(e);
                for job in batch {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use jianghai_core::Ident;
    use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};

    fn rows(sensor: &str, n: usize) -> Vec<IngestRow> {
        let now = Utc::now();
        (0..n)
            .map(|i| IngestRow {
                reading: Reading::new(
                    Ident::parse("dev-1").expect("ident"),
                    sensor,
                    MeasurementType::Temperature,
                    20.0,
                    Unit::Celsius,
                    now - chrono::Duration::seconds(i as i64),
                    None,
                    now,
                )
                .expect("reading"),
                organisation: Ident::parse("org-1").expect("ident"),
                subject: Subject::parse("facility:yard").expect("subject"),
            })
            .collect()
    }

    /// While the writer is stuck (the store's write lock held elsewhere), the queue fills:
    /// `submit` is refused with Overloaded, `submit_waiting` waits, and both earlier and
    /// waiting submissions are stored once the writer can go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_or_waits_and_loses_nothing() {
        let store = Store::open("sqlite::memory:").await.expect("open");
        let ingestor = Ingestor::start(
            store.clone(),
            IngestConfig {
                capacity: 4,
                max_batch: 100,
                broadcast: 8,
                ..IngestConfig::default()
            },
        );
        let held = store.write_lock.clone().lock_owned().await;
        let first = tokio::spawn({
            let i = ingestor.clone();
            async move { i.submit(rows("a", 3)).await }
        });
        while ingestor.queued() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match ingestor.submit(rows("b", 2)).await {
            Err(IngestError::Overloaded { retry_after, .. }) => {
                assert!(retry_after >= Duration::from_secs(1))
            }
            other => panic!("expected Overloaded, got {other:?}"),
        }
        let waiting = tokio::spawn({
            let i = ingestor.clone();
            async move { i.submit_waiting(rows("c", 2)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "it waits for room");
        drop(held);
        let first = first.await.expect("join").expect("stored");
        let waiting = waiting.await.expect("join").expect("stored");
        assert_eq!(first, vec![Outcome::Stored; 3]);
        assert_eq!(waiting, vec![Outcome::Stored; 2]);
        let far = Utc::now() + chrono::Duration::hours(1);
        let past = Utc::now() - chrono::Duration::hours(1);
        for (sensor, n) in [("a", 3), ("b", 0), ("c", 2)] {
            let page = store
                .readings("dev-1", sensor, past, far, "", 10)
                .await
                .expect("read");
            assert_eq!(page.items.len(), n, "{sensor}");
        }
        assert_eq!(ingestor.queued(), 0);
    }

    /// Batches are numbered as published; with a hold and an engine that never answers, the
    /// writer still goes on (the hold is bounded), and an engine that answers releases it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watch_hold_numbers_batches_and_never_stops_the_writer() {
        let store = Store::open("sqlite::memory:").await.expect("open");
        let ingestor = Ingestor::start(store.clone(), IngestConfig::default());
        let hold = ingestor.hold_for_watch();
        let mut committed = ingestor.subscribe();
        // Nobody marks anything done: each of these waits out the hold of the one before.
        for (n, sensor) in ["a", "b", "c"].into_iter().enumerate() {
            // (A liveness bound, far above the 20 ms hold: an unbounded hold never answers.)
            let out =
                tokio::time::timeout(Duration::from_secs(30), ingestor.submit(rows(sensor, 2)))
                    .await
                    .expect("the hold is bounded")
                    .expect("stored");
            assert_eq!(out, vec![Outcome::Stored; 2]);
            let batch = committed.recv().await.expect("published");
            assert_eq!(batch.seq, n as u64 + 1);
            assert_eq!(batch.readings.len(), 2);
        }
        // An engine that keeps up releases each batch at once; marks only ever move forward.
        hold.done(5);
        hold.done(3);
        assert_eq!(*hold.0.borrow(), 5);
        let d = rows("d", 1);
        let out = ingestor.submit(d.clone()).await.expect("stored");
        assert_eq!(out, vec![Outcome::Stored]);
        assert_eq!(committed.recv().await.expect("published").seq, 4);
        // Duplicates publish nothing, so take no number.
        let again = ingestor.submit(d).await.expect("answered");
        assert_eq!(again, vec![Outcome::Duplicate]);
        let out = ingestor.submit(rows("e", 1)).await.expect("stored");
        assert_eq!(out, vec![Outcome::Stored]);
        assert_eq!(committed.recv().await.expect("published").seq, 5);
    }
}
