//! Reading ingestion, shared by its adapters: HTTP (`POST /api/v1/readings`, in
//! [`crate::api::readings`]) and MQTT ([`mqtt`]).
//!
//! Every adapter MUST:
//! - authenticate the device against its credential ([`Intake::device`]) and refuse unknown
//!   devices, wrong, revoked or expired credentials and disabled devices, with the reason;
//! - check each reading on its own ([`Intake::check`]): the wire form, `ReadingInput::validate`
//!   (units, physical limits, time), that it is the authenticated device's, and that the sensor
//!   is registered for that measurement — a bad reading is refused with its reason and never
//!   stops the good ones of the same batch;
//! - acknowledge (HTTP 2xx, MQTT PUBACK) only after [`Intake::store`] has returned, that is
//!   after the group commit holding the readings; report duplicates as such;
//! - under overload, not acknowledge: HTTP answers 503 with `Retry-After`, MQTT waits (the
//!   PUBACK is withheld, so the broker stops sending once its in-flight window is full).
//!
//! What is stored goes on to the watch engine ([`watch_observations`]): each newly stored
//! reading becomes an observation of the subject its sensor is attached to, in transit when
//! that subject's vessel, voyage or vehicle was between departure and arrival at the reading's
//! time ([`TransitCache`]).

pub mod mqtt;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_core::Organisation;
use jianghai_core::reading::{ReadingError, ReadingInput, Subject};
use jianghai_store::{
    Bearer, Committed, DeviceRecord, IngestError, IngestRow, Ingestor, Outcome, SensorRecord,
    Store, StoreError, TokenUnusable, VoyageWindow,
};
use jianghai_watch::{Context, Observation};
use serde_json::value::RawValue;

use crate::auth::secret_hash;

/// Most readings accepted in one HTTP request or MQTT message.
pub const MAX_READINGS_PER_BATCH: usize = 10_000;

/// How long a device's registered sensors are remembered (registrations through this server
/// are seen at once; this bounds how stale another node's change can be).
const SENSOR_TTL: Duration = Duration::from_secs(10);

/// An authenticated device.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub device: DeviceRecord,
    pub organisation: Organisation,
    /// The credential's token id.
    pub token: uuid::Uuid,
}

/// Why a device credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token has this secret.
    Unknown,
    /// The secret is a user's token, not a device's.
    NotADevice,
    Revoked,
    Expired,
    DeviceDisabled,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unknown => "the device credential is not known",
            Refusal::NotADevice => {
                "a user token cannot submit readings; use the device's credential (jhd_…)"
            }
            Refusal::Revoked => "the device credential has been revoked",
            Refusal::Expired => "the device credential has expired",
            Refusal::DeviceDisabled => "the device has been disabled",
        }
    }
}

/// A reading refused, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Position in the submitted batch.
    pub index: usize,
    /// The field at fault (`unit`, `value`, `time`, …), or empty for the whole reading.
    pub field: &'static str,
    pub reason: String,
}

/// A batch after the per-reading checks.
#[derive(Debug, Default)]
pub struct Checked {
    /// The good readings, in batch order.
    pub rows: Vec<IngestRow>,
    /// The batch index of each good reading.
    pub index: Vec<usize>,
    pub rejected: Vec<Rejection>,
}

/// What became of a batch once stored.
#[derive(Debug, Default)]
pub struct Report {
    pub stored: usize,
    /// Batch indices of readings already stored (same device, sensor and event time).
    pub duplicates: Vec<usize>,
    pub rejected: Vec<Rejection>,
}

/// A device's registered sensors by key.
type DeviceSensors = Arc<HashMap<String, SensorRecord>>;

/// The ingestion pipeline shared by the adapters. Clones share everything.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    ingestor: Ingestor,
    sensors: Arc<Mutex<HashMap<String, (Instant, DeviceSensors)>>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("ingestor", &self.ingestor)
            .finish_non_exhaustive()
    }
}

impl Intake {
    pub fn new(store: Store, ingestor: Ingestor) -> Intake {
        Intake {
            store,
            ingestor,
            sensors: Default::default(),
        }
    }

    pub fn ingestor(&self) -> &Ingestor {
        &self.ingestor
    }

    /// Resolves a device credential (one store query).
    pub async fn device(&self, secret: &str) -> Result<Result<DeviceAuth, Refusal>, StoreError> {
        let now = Utc::now();
        Ok(match self.store.bearer(&secret_hash(secret)).await? {
            None => Err(Refusal::Unknown),
            Some(Bearer::User { .. }) => Err(Refusal::NotADevice),
            Some(Bearer::Device {
                token,
                device,
                organisation,
            }) => match token.usable_at(now) {
                Err(TokenUnusable::Revoked) => Err(Refusal::Revoked),
                Err(TokenUnusable::Expired) => Err(Refusal::Expired),
                Ok(()) if device.disabled_at.is_some() => Err(Refusal::DeviceDisabled),
                Ok(()) => Ok(DeviceAuth {
                    token: token.id,
                    device,
                    organisation,
                }),
            },
        })
    }

    /// Forgets what is remembered of `device`'s sensors (after a registration or attachment).
    pub fn forget_sensors(&self, device: &str) {
        self.sensors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(device);
    }

    async fn sensors_of(&self, device: &str) -> Result<DeviceSensors, StoreError> {
        {
            let cache = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, s)) = cache.get(device)
                && at.elapsed() < SENSOR_TTL
            {
                return Ok(s.clone());
            }
        }
        let fresh: HashMap<String, SensorRecord> = self
            .store
            .sensors_of_device(device)
            .await?
            .into_iter()
            .map(|s| (s.sensor.clone(), s))
            .collect();
        let fresh = Arc::new(fresh);
        let mut cache = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 100_000 {
            cache.retain(|_, (at, _)| at.elapsed() < SENSOR_TTL);
        }
        cache.insert(device.to_string(), (Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// Checks every reading of a batch from `dev` on its own, at `now`. A reading may leave out
    /// `device` (it is the authenticated one); naming another device refuses it. Each reading
    /// arrives as its own JSON text, so one that does not parse is refused alone.
    pub async fn check(
        &self,
        dev: &DeviceAuth,
        readings: Vec<Box<RawValue>>,
        now: DateTime<Utc>,
    ) -> Result<Checked, StoreError> {
        let sensors = self.sensors_of(dev.device.id.as_str()).await?;
        let mut out = Checked {
            rows: Vec::with_capacity(readings.len()),
            index: Vec::with_capacity(readings.len()),
            rejected: Vec::new(),
        };
        for (index, raw) in readings.iter().enumerate() {
            let mut reject = |field: &'static str, reason: String| {
                out.rejected.push(Rejection {
                    index,
                    field,
                    reason,
                })
            };
            // (A raw value starts at its first token: no whitespace to skip.)
            if !raw.get().starts_with('{') {
                reject("", "a reading is a JSON object".into());
                continue;
            }
            let mut input: ReadingInput = match serde_json::from_str(raw.get()) {
                Ok(i) => i,
                Err(e) => {
                    reject("", without_position(&e));
                    continue;
                }
            };
            if input.device.is_empty() {
                input.device = dev.device.id.to_string();
            }
            let reading = match input.validate(now) {
                Ok(r) => r,
                Err(e) => {
                    reject(field_of(&e), e.to_string());
                    continue;
                }
            };
            if reading.device != dev.device.id {
                reject(
                    "device",
                    format!(
                        "device {} is not the device of this credential ({})",
                        reading.device, dev.device.id
                    ),
                );
                continue;
            }
            let Some(sensor) = sensors.get(&reading.sensor) else {
                reject(
                    "sensor",
                    format!(
                        "sensor {:?} of device {} is not registered (POST /api/v1/sensors)",
                        reading.sensor, dev.device.id
                    ),
                );
                continue;
            };
            if sensor.measurement != reading.measurement {
                reject(
                    "measurement",
                    format!(
                        "sensor {:?} measures {}, not {}",
                        reading.sensor, sensor.measurement, reading.measurement
                    ),
                );
                continue;
            }
            out.index.push(index);
            out.rows.push(IngestRow {
                reading,
                organisation: sensor.organisation.clone(),
                subject: sensor.subject.clone(),
            });
        }
        Ok(out)
    }

    /// Stores the good readings of a checked batch with the next group commit; returns once
    /// they are durable. `wait`: wait for room in a full queue instead of refusing.
    pub async fn store(&self, checked: Checked, wait: bool) -> Result<Report, IngestError> {
        let Checked {
            rows,
            index,
            rejected,
        } = checked;
        let outcomes = if wait {
            self.ingestor.submit_waiting(rows).await?
        } else {
            self.ingestor.submit(rows).await?
        };
        let mut report = Report {
            rejected,
            ..Report::default()
        };
        for (o, i) in outcomes.into_iter().zip(index) {
            match o {
                Outcome::Stored => report.stored += 1,
                Outcome::Duplicate => report.duplicates.push(i),
            }
        }
        Ok(report)
    }
}

/// A JSON error's message without its "at line 1 column N": the position is within the one
/// reading (the reading's index is reported beside it), where it would mislead.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&at) {
        Some(m) => m.to_string(),
        None => message,
    }
}

/// The field a reading error is about.
fn field_of(e: &ReadingError) -> &'static str {
    match e {
        ReadingError::Device(_) => "device",
        ReadingError::Sensor(_) => "sensor",
        ReadingError::UnknownMeasurement(_) => "measurement",
        ReadingError::UnknownUnit(_)
        | ReadingError::MissingUnit(_)
        | ReadingError::UnitMismatch { .. } => "unit",
        ReadingError::NotFinite(_)
        | ReadingError::Impossible { .. }
        | ReadingError::NotAState { .. }
        | ReadingError::StateForQuantity(_) => "value",
        ReadingError::FromTheFuture { .. } | ReadingError::ClockNotSet { .. } => "time",
        ReadingError::BadPosition { .. } => "position",
        _ => "",
    }
}

/// When each subject was under way, remembered until the ledger moves on (its head is read
/// once per batch, so a departure or arrival is seen by the next batch after it). Subjects on
/// board share their vessel's windows ([`jianghai_store::transit_vessel`]), kept once per
/// vessel: the decks of a ship cost one ledger query when the ledger has moved, not one each
/// (a batch over 2,000 decks made 2,000 identical queries after every ledger append).
#[derive(Clone, Default)]
pub struct TransitCache {
    inner: Arc<tokio::sync::Mutex<TransitInner>>,
}

#[derive(Default)]
struct TransitInner {
    ledger_count: i64,
    /// By vessel, for vessels and what is on board.
    vessels: HashMap<String, Arc<Vec<VoyageWindow>>>,
    /// By subject, for the other kinds.
    windows: HashMap<Subject, Arc<Vec<VoyageWindow>>>,
}

impl TransitCache {
    /// Whether each of `subjects_at` (subject, time) was in transit, in order.
    pub async fn in_transit(
        &self,
        store: &Store,
        subjects_at: &[(&Subject, DateTime<Utc>)],
    ) -> Result<Vec<bool>, StoreError> {
        let mut inner = self.inner.lock().await;
        let (count, _) = store.head().await?;
        if count != inner.ledger_count || inner.windows.len() + inner.vessels.len() > 100_000 {
            inner.windows.clear();
            inner.vessels.clear();
            inner.ledger_count = count;
        }
        let mut out = Vec::with_capacity(subjects_at.len());
        for (subject, at) in subjects_at {
            let windows = match jianghai_store::transit_vessel(subject) {
                Some(vessel) => match inner.vessels.get(vessel) {
                    Some(w) => w.clone(),
                    None => {
                        let w = Arc::new(store.voyage_windows(vessel).await?);
                        inner.vessels.insert(vessel.to_string(), w.clone());
                        w
                    }
                },
                None => match inner.windows.get(*subject) {
                    Some(w) => w.clone(),
                    None => {
                        let w = Arc::new(store.transit_windows(subject).await?);
                        inner.windows.insert((*subject).clone(), w.clone());
                        w
                    }
                },
            };
            out.push(VoyageWindow::at(&windows, *at).is_some());
        }
        Ok(out)
    }
}

/// The watch engine's view of a committed batch: one observation per newly stored reading, of
/// the subject its sensor watches, with its transport context. When the ledger cannot be read
/// the readings are observed as not in transit (and it is logged).
pub async fn watch_observations(
    store: &Store,
    transit: &TransitCache,
    batch: &Committed,
) -> Vec<Observation> {
    let keys: Vec<(&Subject, DateTime<Utc>)> = batch
        .readings
        .iter()
        .map(|r| (&r.subject, r.reading.time))
        .collect();
    let flags = match transit.in_transit(store, &keys).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read transit windows; readings are watched as not in transit.");
            vec![false; keys.len()]
        }
    };
    batch
        .readings
        .iter()
        .zip(flags)
        .map(|(r, in_transit)| Observation {
            subject: r.subject.clone(),
            reading: r.reading.clone(),
            context: Context { in_transit },
        })
        .collect()
}

/// Runs the retention pass every `every` (the first one at once).
pub fn retention(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.prune_readings(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(readings = n, "Deleted readings past their retention."),
                Err(e) => tracing::warn!(error = %e, "Retention pass failed; retrying next time."),
            }
        }
    })
}
