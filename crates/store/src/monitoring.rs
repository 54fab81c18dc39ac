//! Monitoring (migration 4): sensors and what they are attached to, raw readings keyed by
//! (device, sensor, event time) so a duplicate is stored once, rollups per minute and per hour
//! kept current in the transaction that stores the readings, and retention per organisation.
//!
//! Readings are written by [`Store::store_readings`], one transaction per call; the group
//! commit that gathers many submitters into one call is [`crate::ingest::Ingestor`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{MeasurementType, Reading, Subject, SubjectKind, Unit};
use jianghai_core::{Ident, Position};

use crate::alerts::AlertScope;
use crate::registry::{exists_error, ident};
use crate::vessels::{VoyageWindow, time};
use crate::{Engine, Page, Store, StoreError, on_backend};

/// Raw readings are kept this many days unless the organisation sets its own retention.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// Readings per multi-row statement (7 parameters each: well inside both engines' limits).
const ROWS_PER_STATEMENT: usize = 1_000;

/// Appends `rows` parenthesised groups of `cols` placeholders to a multi-row `VALUES`.
///
/// SQLite gets anonymous `?` placeholders: for a numbered one (`$7000`) sqlx asks SQLite for
/// the parameter's name, which SQLite finds by a linear scan, so binding a statement of n
/// numbered parameters costs O(n²); at 7,000 parameters that was most of the ingestion time.
fn push_rows(sql: &mut String, engine: Engine, rows: usize, cols: usize) {
    use std::fmt::Write;
    sql.reserve(rows * cols * 7);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            match engine {
                Engine::Sqlite => sql.push('?'),
                // Writing to a String cannot fail.
                Engine::Postgres => {
                    let _ = write!(sql, "${}", r * cols + c + 1);
                }
            }
        }
        sql.push(')');
    }
}

/// The two rollup resolutions, in seconds.
pub const ROLLUP_RESOLUTIONS: [i64; 2] = [60, 3_600];

/// A sensor of a device: what it measures and what it watches.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorRecord {
    pub device: Ident,
    /// The sensor's key on its device (`air`, `bat-temp`).
    pub sensor: String,
    /// The device's organisation.
    pub organisation: Ident,
    pub measurement: MeasurementType,
    /// The unit the sensor reports in (readings may still come in any unit of the measurement).
    pub unit: Unit,
    /// What it is attached to: a deck or zone of a vessel, a vehicle, a seal, a facility.
    pub subject: Subject,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Which sensors (and so which readings) a reader may see: those of its own organisation's
/// devices, and those attached to a subject whose alerts it may see.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorScope(pub AlertScope);

impl SensorScope {
    /// A predicate over `a` (the sensors table) whose one parameter is `$2`.
    fn predicate(&self) -> String {
        match &self.0 {
            AlertScope::All => "$2 = ''".into(),
            other => format!("(a.organisation = $2 OR {})", other.predicate()),
        }
    }

    fn param(&self) -> &str {
        self.0.param()
    }
}

/// A reading to store, with what its sensor says about it (for the watch engine).
#[derive(Debug, Clone, PartialEq)]
pub struct IngestRow {
    pub reading: Reading,
    pub organisation: Ident,
    pub subject: Subject,
}

/// What became of one submitted reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Newly stored.
    Stored,
    /// The same (device, sensor, event time) was already stored; nothing changed.
    Duplicate,
}

/// A stored reading, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    pub device: Ident,
    pub sensor: String,
    pub at: DateTime<Utc>,
    /// In the measurement type's canonical unit.
    pub value: f64,
    /// The unit it was sent in.
    pub unit: Unit,
    pub position: Option<Position>,
}

/// Min, max, mean and count of one sensor over one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    /// Start of the bucket.
    pub bucket: DateTime<Utc>,
    /// Seconds: 60 or 3600.
    pub resolution: i64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: i64,
}

type SensorRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

const SENSOR_COLUMNS: &str = "a.device, a.sensor, a.organisation, a.measurement, a.unit, \
     a.subject_kind, a.subject_id, a.name, a.created_at, a.updated_at";

fn sensor_record(r: SensorRow) -> Result<SensorRecord, StoreError> {
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("sensor {what} {v:?}"));
    let kind = SubjectKind::parse(&r.5).map_err(|_| corrupt("subject kind", &r.5))?;
    Ok(SensorRecord {
        device: ident(r.0)?,
        sensor: r.1,
        organisation: ident(r.2)?,
        measurement: MeasurementType::parse(&r.3).map_err(|_| corrupt("measurement", &r.3))?,
        unit: Unit::parse(&r.4).map_err(|_| corrupt("unit", &r.4))?,
        subject: Subject::new(kind, &r.6).map_err(|_| corrupt("subject", &r.6))?,
        name: r.7,
        created_at: r.8,
        updated_at: r.9,
    })
}

/// What the subject belongs to, as the alerts table records it (`minsheng-1` for a deck).
fn owner(s: &Subject) -> &str {
    match s.kind() {
        SubjectKind::Deck | SubjectKind::Zone | SubjectKind::Seal => {
            s.id().split_once('/').map_or(s.id(), |(o, _)| o)
        }
        _ => s.id(),
    }
}

/// The vessel whose voyages are `subject`'s transit windows, for a vessel and for a deck, zone
/// or seal on board (the zone or seal of a facility names the facility, which has none):
/// [`Store::transit_windows`] of such a subject is [`Store::voyage_windows`] of this id, so a
/// cache can hold them once per vessel rather than once per deck. `None` for other kinds.
pub fn transit_vessel(subject: &Subject) -> Option<&str> {
    match subject.kind() {
        SubjectKind::Vessel | SubjectKind::Deck | SubjectKind::Zone | SubjectKind::Seal => {
            Some(owner(subject))
        }
        _ => None,
    }
}

/// Start of the `resolution`-second bucket holding `t`.
pub fn bucket(t: DateTime<Utc>, resolution: i64) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(resolution)).unwrap_or(t)
}

/// One rollup bucket being accumulated in memory.
#[derive(Debug, Clone, Copy)]
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    count: i64,
}

/// The sizes of the statements `n` rows are written with: whole statements of
/// [`ROWS_PER_STATEMENT`], then the rest in powers of two, largest first. A batch's last
/// statement used to have whatever size was left, so nearly every batch prepared (parsed and
/// compiled) a new multi-row statement of thousands of parameters, and the connection's
/// statement cache filled with them; these few sizes are prepared once per connection.
fn statement_sizes(n: usize) -> impl Iterator<Item = usize> {
    let rest = n % ROWS_PER_STATEMENT;
    std::iter::repeat_n(ROWS_PER_STATEMENT, n / ROWS_PER_STATEMENT).chain(
        (0..usize::BITS)
            .rev()
            .map(|b| 1usize << b)
            .filter(move |bit| rest & bit != 0),
    )
}

/// `items` cut into consecutive slices of [`statement_sizes`].
fn statements<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut at = 0;
    statement_sizes(items.len()).map(move |n| {
        let s = &items[at..at + n];
        at += n;
        s
    })
}

/// `INSERT` of `rows` readings that skips stored keys, returning the new ones' keys if asked.
///
/// SQLite gets `INSERT OR IGNORE`: with the default conflict resolution (ABORT, which `ON
/// CONFLICT DO NOTHING` leaves on for the NOT NULL constraints) a multi-row statement may fail
/// half-way, so SQLite first copied every page it was about to change into a statement journal
/// (a temporary file): a sixth of the writer's time with thousands of sensors. The values are
/// never NULL (they are bound from checked readings), so IGNORE only ever skips duplicates.
fn readings_insert(engine: Engine, rows: usize, returning: bool) -> String {
    let mut sql = String::from(match engine {
        Engine::Sqlite => "INSERT OR IGNORE INTO readings ",
        Engine::Postgres => "INSERT INTO readings ",
    });
    sql.push_str("(device, sensor, at, value, unit, lat, lon) VALUES ");
    push_rows(&mut sql, engine, rows, 7);
    if engine == Engine::Postgres {
        sql.push_str(" ON CONFLICT DO NOTHING");
    }
    if returning {
        sql.push_str(" RETURNING device, sensor, at");
    }
    sql
}

/// [`readings_insert`] with the values of `chunk` (rows of `plan`) bound; generic over the
/// engine's argument type, as `sqlx::query` is.
fn bind_readings<'q, DB>(
    plan: &Plan<'_>,
    chunk: &[usize],
    sql: String,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Arc<str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'static str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<f64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for &i in chunk {
        let r = &plan.rows[i].reading;
        let (device, sensor) = &plan.names[plan.name_of[i] as usize];
        q = q
            .bind(device.clone())
            .bind(sensor.clone())
            .bind(plan.times[i].clone())
            .bind(r.value)
            .bind(r.unit.code())
            .bind(r.position.map(|p| p.lat))
            .bind(r.position.map(|p| p.lon));
    }
    q
}

/// A batch of readings ready to be written: keys built once, duplicates within the batch
/// found, and the rows to insert in key order (consecutive inserts then land on the same
/// b-tree pages, and rollups come out grouped).
struct Plan<'a> {
    rows: &'a [IngestRow],
    /// Each row's event time as stored.
    times: Vec<Arc<str>>,
    /// Each distinct (device, sensor) once, bound by reference count rather than copied.
    names: Vec<(Arc<str>, Arc<str>)>,
    /// Each row's index into `names`.
    name_of: Vec<u32>,
    /// The first row of each distinct key, in key order: the rows to insert.
    candidates: Vec<usize>,
}

impl<'a> Plan<'a> {
    fn new(rows: &'a [IngestRow]) -> Plan<'a> {
        let mut index: HashMap<(&str, &str), u32> = HashMap::new();
        let mut names: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        let name_of: Vec<u32> = rows
            .iter()
            .map(|r| {
                let key = (r.reading.device.as_str(), r.reading.sensor.as_str());
                *index.entry(key).or_insert_with(|| {
                    names.push((Arc::from(key.0), Arc::from(key.1)));
                    // A batch is far smaller than 2³² readings.
                    (names.len() - 1) as u32
                })
            })
            .collect();
        // Names ranked in the stores' order (byte-wise, as SQLite's BINARY collation and
        // PostgreSQL's C collation of the key compare).
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
        let mut rank = vec![0u32; names.len()];
        for (r, &n) in order.iter().enumerate() {
            rank[n as usize] = r as u32;
        }
        // The stored time has microseconds: two times within the same microsecond are one key.
        let mut first: HashSet<(u32, i64)> = HashSet::with_capacity(rows.len());
        let mut candidates: Vec<usize> = (0..rows.len())
            .filter(|&i| first.insert((name_of[i], rows[i].reading.time.timestamp_micros())))
            .collect();
        candidates.sort_unstable_by_key(|&i| {
            (
                rank[name_of[i] as usize],
                rows[i].reading.time.timestamp_micros(),
            )
        });
        Plan {
            rows,
            times: rows
                .iter()
                .map(|r| Arc::from(format_time(r.reading.time)))
                .collect(),
            names,
            name_of,
            candidates,
        }
    }

    /// The rollup rows of the newly stored readings (`stored` per row), in key order:
    /// (name, resolution, bucket start, accumulated values).
    fn rollups(&self, stored: &[bool]) -> Vec<(u32, i64, DateTime<Utc>, Acc)> {
        let mut out = Vec::new();
        let new: Vec<usize> = self
            .candidates
            .iter()
            .copied()
            .filter(|&i| stored[i])
            .collect();
        // Candidates are sorted by name, then time: each name's readings are one run, and
        // within it each bucket's readings are consecutive.
        for run in new.chunk_by(|&a, &b| self.name_of[a] == self.name_of[b]) {
            let name = self.name_of[run[0]];
            for res in ROLLUP_RESOLUTIONS {
                let mut current: Option<(DateTime<Utc>, Acc)> = None;
                for &i in run {
                    let r = &self.rows[i].reading;
                    let b = bucket(r.time, res);
                    match &mut current {
                        Some((at, a)) if *at == b => {
                            a.min = a.min.min(r.value);
                            a.max = a.max.max(r.value);
                            a.sum += r.value;
                            a.count += 1;
                        }
                        _ => {
                            if let Some((at, a)) = current.take() {
                                out.push((name, res, at, a));
                            }
                            current = Some((
                                b,
                                Acc {
                                    min: r.value,
                                    max: r.value,
                                    sum: r.value,
                                    count: 1,
                                },
                            ));
                        }
                    }
                }
                if let Some((at, a)) = current {
                    out.push((name, res, at, a));
                }
            }
        }
        out
    }
}

/// Writes a [`Plan`] in the transaction `$tx` and commits it; evaluates to whether each row
/// was newly stored (a macro so that one body serves both engines' transaction types).
/// `$optimistic` (SQLite): insert without asking which rows were new, and when a statement
/// meets a duplicate, roll the transaction back and evaluate to `None` (to be written again,
/// not optimistic).
macro_rules! write_plan {
    ($plan:expr, $tx:expr, $engine:expr, $optimistic:expr) => {
        async {
            use sqlx::Row;
            let plan: &Plan<'_> = $plan;
            let engine: Engine = $engine;
            let rows = plan.rows;
            let mut stored = vec![false; rows.len()];
            let mut tx = $tx;
            // PostgreSQL copies large batches ([`crate::volume`]).
            let copied = if engine == Engine::Postgres {
                let bulk: Vec<crate::volume::BulkRow<'_>> = plan
                    .candidates
                    .iter()
                    .map(|&i| {
                        let r = &rows[i].reading;
                        (
                            r.device.as_str(),
                            r.sensor.as_str(),
                            &*plan.times[i],
                            r.value,
                            r.unit.code(),
                            r.position.map(|p| p.lat),
                            r.position.map(|p| p.lon),
                        )
                    })
                    .collect();
                crate::volume::Bulk::copy_new(&mut *tx, &bulk).await?
            } else {
                None
            };
            let by_insert: &[usize] = if copied.is_some() {
                &[]
            } else {
                &plan.candidates
            };
            // Which candidate a returned key is (built only when keys come back).
            let key_index = || -> HashMap<(&str, &str, &str), usize> {
                plan.candidates
                    .iter()
                    .map(|&i| {
                        let r = &rows[i].reading;
                        ((r.device.as_str(), r.sensor.as_str(), &*plan.times[i]), i)
                    })
                    .collect()
            };
            if let Some(copied) = &copied {
                let by_key = key_index();
                for (device, sensor, at) in copied {
                    if let Some(&i) = by_key.get(&(device.as_str(), sensor.as_str(), at.as_str())) {
                        stored[i] = true;
                    }
                }
            }
            // On SQLite (one writer: nobody else inserts meanwhile) the rows go in without
            // RETURNING: a statement that inserted all its rows (nearly always: duplicates are
            // resent batches) needs no answer row per reading, each of which sqlx copies and
            // hands across threads. Only when a statement fell short is the transaction rolled
            // back, and the batch written again returning which readings were new (a savepoint
            // instead would journal every page the inserts change). PostgreSQL always returns
            // them: its writers run side by side.
            let optimistic = $optimistic && engine == Engine::Sqlite && !by_insert.is_empty();
            if optimistic {
                for chunk in statements(by_insert) {
                    let q = bind_readings(plan, chunk, readings_insert(engine, chunk.len(), false));
                    if q.execute(&mut *tx).await?.rows_affected() != chunk.len() as u64 {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
            }
            let all_new = optimistic;
            if all_new {
                for &i in by_insert {
                    stored[i] = true;
                }
            } else {
                let by_key = key_index();
                for chunk in statements(by_insert) {
                    let q = bind_readings(plan, chunk, readings_insert(engine, chunk.len(), true));
                    for row in q.fetch_all(&mut *tx).await? {
                        let key: (&str, &str, &str) =
                            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                        if let Some(&i) = by_key.get(&key) {
                            stored[i] = true;
                        }
                    }
                }
            }
            let rollups = plan.rollups(&stored);
            for chunk in statements(&rollups) {
                let mut sql = String::from(
                    "INSERT INTO reading_rollups AS r (device, sensor, resolution, bucket, \
                     min, max, sum, count) VALUES ",
                );
                push_rows(&mut sql, engine, chunk.len(), 8);
                sql.push_str(
                    " ON CONFLICT (device, sensor, resolution, bucket) DO UPDATE SET \
                     min = CASE WHEN excluded.min < r.min THEN excluded.min ELSE r.min END, \
                     max = CASE WHEN excluded.max > r.max THEN excluded.max ELSE r.max END, \
                     sum = r.sum + excluded.sum, count = r.count + excluded.count",
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (name, res, b, a) in chunk {
                    let (device, sensor) = &plan.names[*name as usize];
                    q = q
                        .bind(device.clone())
                        .bind(sensor.clone())
                        .bind(*res)
                        .bind(format_time(*b))
                        .bind(a.min)
                        .bind(a.max)
                        .bind(a.sum)
                        .bind(a.count);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<Option<Vec<bool>>, StoreError>(Some(stored))
        }
    };
}

impl Store {
    /// Registers a sensor; (device, sensor) must be new, the device must belong to the
    /// sensor's organisation, and the subject must exist.
    pub async fn register_sensor(&self, s: &SensorRecord) -> Result<(), StoreError> {
        self.check_subject_exists(&s.subject).await?;
        let device = self.device(s.device.as_str()).await?;
        if device.is_none_or(|d| d.organisation != s.organisation) {
            return Err(StoreError::Missing {
                what: "device",
                id: s.device.to_string(),
            });
        }
        let key = format!("{}/{}", s.device, s.sensor);
        on_backend!(&self.backend, |pool| {
            sqlx::query(
                "INSERT INTO sensors (device, sensor, organisation, measurement, unit, \
                 subject_kind, subject_id, owner, name, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(s.device.as_str())
            .bind(&s.sensor)
            .bind(s.organisation.as_str())
            .bind(s.measurement.as_str())
            .bind(s.unit.code())
            .bind(s.subject.kind().as_str())
            .bind(s.subject.id())
            .bind(owner(&s.subject))
            .bind(&s.name)
            .bind(&s.created_at)
            .bind(&s.updated_at)
            .execute(pool)
            .await
            .map_err(|e| exists_error(e, "sensor", &key))?;
        });
        Ok(())
    }

    /// Attaches a sensor to another subject (which must exist). False when there is no such
    /// sensor.
    pub async fn attach_sensor(
        &self,
        device: &Ident,
        sensor: &str,
        subject: &Subject,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check_subject_exists(subject).await?;
        let n = on_backend!(&self.backend, |pool| {
            sqlx::query(
            "UPDATE sensors SET subject_kind = $3, subject_id = $4, owner = $5, updated_at = $6 \
             WHERE device = $1 AND sensor = $2"
        )
        .bind(device.as_str())
        .bind(sensor)
        .bind(subject.kind().as_str())
        .bind(subject.id())
        .bind(owner(subject))
        .bind(format_time(now))
        .execute(pool)
        .await?
        .rows_affected()
        });
        Ok(n > 0)
    }

    /// Refuses a subject that names nothing registered: a deck, zone or seal must belong to a
    /// registered vessel (or, for zones and seals, facility); a vehicle must be on the ledger.
    async fn check_subject_exists(&self, s: &Subject) -> Result<(), StoreError> {
        let sql = match s.kind() {
            SubjectKind::Vessel | SubjectKind::Deck => "SELECT COUNT(*) FROM vessels WHERE id = $1",
            SubjectKind::Zone | SubjectKind::Seal => {
                "SELECT (SELECT COUNT(*) FROM vessels WHERE id = $1) \
                 + (SELECT COUNT(*) FROM facilities WHERE id = $1)"
            }
            SubjectKind::Facility => "SELECT COUNT(*) FROM facilities WHERE id = $1",
            SubjectKind::Voyage => "SELECT COUNT(*) FROM voyages WHERE id = $1",
            SubjectKind::Vehicle => "SELECT COUNT(*) FROM vehicles WHERE vin = $1",
        };
        let (n,): (i64,) = on_backend!(&self.backend, |pool| sqlx::query_as(sql)
            .bind(owner(s))
            .fetch_one(pool)
            .await?);
        if n == 0 {
            return Err(StoreError::Missing {
                what: "subject",
                id: s.to_string(),
            });
        }
        Ok(())
    }

    /// Whether `subject` is one whose alerts `scope` may see (what a party may attach its
    /// sensors to).
    pub async fn subject_in(
        &self,
        scope: &AlertScope,
        subject: &Subject,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT CAST($1 AS TEXT) AS subject_kind, \
             CAST($3 AS TEXT) AS subject_id, CAST($4 AS TEXT) AS owner) a WHERE {}",
            scope.predicate()
        );
        let (n,): (i64,) = on_backend!(&self.backend, |pool| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(subject.kind().as_str())
        .bind(scope.param())
        .bind(subject.id())
        .bind(owner(subject))
        .fetch_one(pool)
        .await?);
        Ok(n > 0)
    }

    /// The sensor (device, key) if it is in `scope`.
    pub async fn sensor_in(
        &self,
        scope: &SensorScope,
        device: &str,
        sensor: &str,
    ) -> Result<Option<SensorRecord>, StoreError> {
        let sql = format!(
            "SELECT {SENSOR_COLUMNS} FROM sensors a WHERE a.device = $1 AND {} AND a.sensor = $3",
            scope.predicate()
        );
        let row: Option<SensorRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(device)
        .bind(scope.param())
        .bind(sensor)
        .fetch_optional(pool)
        .await?);
        row.map(sensor_record).transpose()
    }

    /// Every sensor of `device` (what ingestion checks readings against).
    pub async fn sensors_of_device(&self, device: &str) -> Result<Vec<SensorRecord>, StoreError> {
        let sql = format!("SELECT {SENSOR_COLUMNS} FROM sensors a WHERE a.device = $1");
        let rows: Vec<SensorRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(device)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(sensor_record).collect()
    }

    /// Sensors in `scope`, by (device, sensor); the cursor is `device/sensor`.
    pub async fn sensors(
        &self,
        scope: &SensorScope,
        subject: Option<&Subject>,
        after: &str,
        limit: i64,
    ) -> Result<Page<SensorRecord>, StoreError> {
        let (after_device, after_sensor) = after.split_once('/').unwrap_or((after, ""));
        let by_subject = if subject.is_some() {
            " AND a.subject_kind = $5 AND a.subject_id = $6"
        } else {
            " AND $5 = $6"
        };
        let sql = format!(
            "SELECT {SENSOR_COLUMNS} FROM sensors a \
             WHERE (a.device > $1 OR (a.device = $1 AND a.sensor > $4)) AND {}{by_subject} \
             ORDER BY a.device, a.sensor LIMIT $3",
            scope.predicate()
        );
        let (kind, id) = subject.map_or(("", ""), |s| (s.kind().as_str(), s.id()));
        let rows: Vec<SensorRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(after_device)
        .bind(scope.param())
        .bind(limit + 1)
        .bind(after_sensor)
        .bind(kind)
        .bind(id)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(sensor_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::access::page(items, limit, |s| {
            format!("{}/{}", s.device, s.sensor)
        }))
    }

    /// Stores readings in one write transaction: each new (device, sensor, event time) once,
    /// the minute and hour rollups of the new ones updated alongside. Returns, per input row,
    /// whether it was stored or a duplicate (of a stored reading or of an earlier row).
    pub async fn store_readings(&self, rows: &[IngestRow]) -> Result<Vec<Outcome>, StoreError> {
        let plan = Plan::new(rows);
        let engine = self.engine();
        let (begin, _writer) = self.writer().await;
        let first =
            crate::write_tx!(self, begin, |tx| write_plan!(&plan, tx, engine, true).await).await?;
        let stored = match first {
            Some(stored) => stored,
            // A duplicate was met: the same batch again, learning which readings were new.
            None => crate::write_tx!(self, begin, |tx| {
                write_plan!(&plan, tx, engine, false).await
            })
            .await?
            .ok_or_else(|| StoreError::Corrupt("a readings batch was not written".into()))?,
        };
        Ok((0..rows.len())
            .map(|i| {
                if stored[i] {
                    Outcome::Stored
                } else {
                    Outcome::Duplicate
                }
            })
            .collect())
    }

    /// Raw readings of one sensor with event time in `[from, to)`, oldest first, after the
    /// cursor (an event time).
    pub async fn readings(
        &self,
        device: &str,
        sensor: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: &str,
        limit: i64,
    ) -> Result<Page<StoredReading>, StoreError> {
        let from = format_time(from);
        let from = if after.is_empty() || after < from.as_str() {
            from
        } else {
            // Strictly after the cursor: the next microsecond.
            format_time(time(after)? + Duration::microseconds(1))
        };
        type Row = (
            String,
            String,
            String,
            f64,
            String,
            Option<f64>,
            Option<f64>,
        );
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT device, sensor, at, value, unit, lat, lon FROM readings \
             WHERE device = $1 AND sensor = $2 AND at >= $3 AND at < $4 ORDER BY at LIMIT $5"
        )
        .bind(device)
        .bind(sensor)
        .bind(&from)
        .bind(format_time(to))
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(StoredReading {
                    device: ident(r.0)?,
                    sensor: r.1,
                    at: time(&r.2)?,
                    value: r.3,
                    unit: Unit::parse(&r.4)
                        .map_err(|_| StoreError::Corrupt(format!("unit {:?}", r.4)))?,
                    position: match (r.5, r.6) {
                        (Some(lat), Some(lon)) => Some(Position { lat, lon }),
                        _ => None,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(crate::access::page(items, limit, |r| format_time(r.at)))
    }

    /// Rollups of one sensor at `resolution` (60 or 3600 s) whose buckets start in
    /// `[from, to)`, oldest first, at most `limit`.
    pub async fn rollups(
        &self,
        device: &str,
        sensor: &str,
        resolution: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Rollup>, StoreError> {
        type Row = (String, i64, f64, f64, f64, i64);
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT bucket, resolution, min, max, sum, count FROM reading_rollups \
             WHERE device = $1 AND sensor = $2 AND resolution = $3 AND bucket >= $4 \
             AND bucket < $5 ORDER BY bucket LIMIT $6"
        )
        .bind(device)
        .bind(sensor)
        .bind(resolution)
        .bind(format_time(bucket(from, resolution)))
        .bind(format_time(to))
        .bind(limit)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|r| {
                Ok(Rollup {
                    bucket: time(&r.0)?,
                    resolution: r.1,
                    min: r.2,
                    max: r.3,
                    mean: if r.5 > 0 { r.4 / r.5 as f64 } else { 0.0 },
                    count: r.5,
                })
            })
            .collect()
    }

    /// Sets how many days `org` keeps raw readings (and minute rollups); hour rollups stay.
    pub async fn set_retention(&self, org: &Ident, days: i64) -> Result<(), StoreError> {
        if !(1..=36_500).contains(&days) {
            return Err(StoreError::Invalid(format!(
                "retention of {days} days: it must be between 1 and 36500"
            )));
        }
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO reading_retention (organisation, days) VALUES ($1, $2) \
             ON CONFLICT (organisation) DO UPDATE SET days = excluded.days"
        )
        .bind(org.as_str())
        .bind(days)
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| exists_error(e, "organisation", org.as_str()))?);
        Ok(())
    }

    /// How many days `org` keeps raw readings.
    pub async fn retention(&self, org: &Ident) -> Result<i64, StoreError> {
        let row: Option<(i64,)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT days FROM reading_retention WHERE organisation = $1"
        )
        .bind(org.as_str())
        .fetch_optional(pool)
        .await?);
        Ok(row.map_or(DEFAULT_RETENTION_DAYS, |(d,)| d))
    }

    /// One retention pass at `now`: for every sensor, deletes its raw readings and minute
    /// rollups older than its organisation's retention. Returns how many readings went.
    pub async fn prune_readings(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // PostgreSQL: months ahead created, whole months past every retention dropped.
        let keep = self.longest_retention_days().await?;
        let months = self.maintain_reading_partitions(now, keep).await?;
        if !months.dropped.is_empty() || !months.created.is_empty() {
            tracing::info!(created = ?months.created, dropped = ?months.dropped, "Reading partitions maintained.");
        }
        let sensors: Vec<(String, String, Option<i64>)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(
                "SELECT s.device, s.sensor, r.days FROM sensors s \
                 LEFT JOIN reading_retention r ON r.organisation = s.organisation",
            )
            .fetch_all(pool)
            .await?
        });
        let mut deleted = 0;
        for (device, sensor, days) in sensors {
            let cutoff = format_time(now - Duration::days(days.unwrap_or(DEFAULT_RETENTION_DAYS)));
            let (begin, _writer) = self.writer().await;
            deleted += on_backend!(&self.backend, |pool| {
                let mut tx = pool.begin_with(begin).await?;
                let n = sqlx::query(
                    "DELETE FROM readings WHERE device = $1 AND sensor = $2 AND at < $3",
                )
                .bind(&device)
                .bind(&sensor)
                .bind(&cutoff)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query(
                    "DELETE FROM reading_rollups WHERE device = $1 AND sensor = $2 \
                     AND resolution = 60 AND bucket < $3",
                )
                .bind(&device)
                .bind(&sensor)
                .bind(&cutoff)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                n
            });
        }
        Ok(deleted)
    }

    /// When `subject` was under way, per the ledger's departing/arriving events: the windows
    /// of its vessel (a vessel, or the vessel a deck, zone or seal belongs to), of the voyage
    /// itself, or of the voyages a vehicle is tied to. Empty for facilities and for subjects
    /// tied to no vessel.
    pub async fn transit_windows(
        &self,
        subject: &Subject,
    ) -> Result<Vec<VoyageWindow>, StoreError> {
        match subject.kind() {
            SubjectKind::Vessel | SubjectKind::Deck | SubjectKind::Zone | SubjectKind::Seal => {
                self.voyage_windows(owner(subject)).await
            }
            SubjectKind::Facility => Ok(Vec::new()),
            SubjectKind::Voyage => {
                let vessel: Option<(String,)> = on_backend!(&self.backend, |pool| {
                    sqlx::query_as("SELECT vessel FROM voyages WHERE id = $1")
                        .bind(subject.id())
                        .fetch_optional(pool)
                        .await?
                });
                let Some((vessel,)) = vessel else {
                    return Ok(Vec::new());
                };
                let mut w = self.voyage_windows(&vessel).await?;
                w.retain(|w| w.voyage.as_str() == subject.id());
                Ok(w)
            }
            SubjectKind::Vehicle => {
                let voyages: Vec<(String, String)> = on_backend!(&self.backend, |pool| {
                    sqlx::query_as(
                        "SELECT vo.id, vo.vessel FROM vehicle_links l \
                         JOIN voyages vo ON vo.id = l.ref \
                         WHERE l.vin = $1 AND l.kind = 'voyage'",
                    )
                    .bind(subject.id())
                    .fetch_all(pool)
                    .await?
                });
                let mut out = Vec::new();
                for (voyage, vessel) in voyages {
                    out.extend(
                        self.voyage_windows(&vessel)
                            .await?
                            .into_iter()
                            .filter(|w| w.voyage.as_str() == voyage),
                    );
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_placeholders_per_engine() {
        let mut s = String::new();
        push_rows(&mut s, Engine::Sqlite, 2, 3);
        assert_eq!(s, "(?,?,?),(?,?,?)");
        let mut p = String::new();
        push_rows(&mut p, Engine::Postgres, 2, 3);
        assert_eq!(p, "($1,$2,$3),($4,$5,$6)");
    }

    #[test]
    fn statement_sizes_cover_every_row_with_few_distinct_sizes() {
        let mut seen = HashSet::new();
        for n in 0..5_000 {
            let sizes: Vec<usize> = statement_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "{n}");
            assert!(
                sizes.windows(2).all(|w| w[0] >= w[1]),
                "largest first: {sizes:?}"
            );
            // At most the whole statements and one of each power of two below 1,000.
            assert!(sizes.len() <= n / ROWS_PER_STATEMENT + 10, "{n}: {sizes:?}");
            seen.extend(sizes);
        }
        // 1,000 and 1, 2, 4, … 512: every batch size is written with these 11 statements.
        assert_eq!(seen.len(), 11, "{seen:?}");
        let items: Vec<usize> = (0..2_345).collect();
        let joined: Vec<usize> = statements(&items).flatten().copied().collect();
        assert_eq!(joined, items);
    }
}
