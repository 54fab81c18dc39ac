//! Vessels at sea (migration 7): AIS positions and static data of registered vessels, the
//! voyage each position belongs to, and what voyage tracking derived from them (state changes,
//! lock passages, section transits, progress snapshots), plus voyage plans.
//!
//! Positions are keyed by (MMSI, time): a repeated report is stored once. A vessel is linked
//! to its AIS station by `vessels.mmsi`. Which voyage a position belongs to is read from the
//! ledger: the vessel's voyage whose `departing` event is the latest at or before the
//! position's time and whose `arriving` event, if any, is not before it.

use chrono::{DateTime, Utc};
use jianghai_core::{Ident, Vessel, ledger::format_time};

use crate::registry::ident;
use crate::scoped::{VESSEL_COLUMNS, VesselRow, VoyageScope, vessel_from_row};
use crate::{Engine, Page, Store, StoreError, on_backend};

/// One AIS position report of a registered vessel.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionRecord {
    pub mmsi: u32,
    /// When the position was taken (the tag block's time, else when it was received).
    pub at: DateTime<Utc>,
    pub vessel: Ident,
    /// The voyage it was on, if any.
    pub voyage: Option<Ident>,
    pub lat: f64,
    pub lon: f64,
    pub sog_kn: Option<f64>,
    pub cog_deg: Option<f64>,
    pub heading: Option<u16>,
    /// AIS navigational status (0–15), for Class A reports.
    pub nav_status: Option<u8>,
    pub received_at: DateTime<Utc>,
}

/// Static and voyage data a vessel's AIS station reports (types 5, 19, 24).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StaticRecord {
    pub mmsi: u32,
    pub vessel: Option<Ident>,
    pub name: Option<String>,
    pub callsign: Option<String>,
    pub imo: Option<u32>,
    pub ship_type: Option<u8>,
    pub length_m: Option<u16>,
    pub beam_m: Option<u16>,
    pub draught_m: Option<f64>,
    pub destination: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The latest progress of a tracked voyage.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSnapshot {
    pub voyage: Ident,
    pub vessel: Ident,
    /// Time of the fix it was computed from.
    pub at: DateTime<Utc>,
    pub state: String,
    pub state_since: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    /// Unified km (km above Wusongkou).
    pub km: f64,
    pub offset_m: f64,
    pub sog_kn: f64,
    pub total_km: f64,
    pub done_km: f64,
    pub to_go_km: f64,
    pub percent: f64,
    pub next_place: Option<String>,
    pub next_p50: Option<DateTime<Utc>>,
    pub next_p90: Option<DateTime<Utc>>,
    pub arrival_p50: Option<DateTime<Utc>>,
    pub arrival_p90: Option<DateTime<Utc>>,
}

/// A change of a voyage's state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChangeRecord {
    pub at: DateTime<Utc>,
    pub state: String,
    pub km: f64,
}

/// One passage through a lock, also recorded on the ledger as event `event_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct LockPassageRecord {
    pub voyage: Ident,
    /// The lock's place id, e.g. `three-gorges-locks`.
    pub lock: String,
    /// `downstream` or `upstream`.
    pub direction: String,
    pub waiting_since: Option<DateTime<Utc>>,
    pub entered: DateTime<Utc>,
    pub left: DateTime<Utc>,
    /// No fix fell inside the lock area; entry and exit are interpolated.
    pub inferred: bool,
    pub wait_h: f64,
    pub passage_h: f64,
    pub event_id: uuid::Uuid,
}

/// One crossing of an ETA-model section (hours exclude lock waits).
#[derive(Debug, Clone, PartialEq)]
pub struct SectionTransitRecord {
    pub voyage: Ident,
    pub section: String,
    pub direction: String,
    pub entered: DateTime<Utc>,
    pub left: DateTime<Utc>,
    pub hours: f64,
}

/// A progress snapshot in a voyage's history.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressRecord {
    pub at: DateTime<Utc>,
    pub state: String,
    pub km: f64,
    pub sog_kn: f64,
    pub done_km: f64,
    pub percent: f64,
    pub arrival_p50: Option<DateTime<Utc>>,
}

/// Everything one accepted fix changed, written with its position in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingRecord {
    pub snapshot: TrackSnapshot,
    pub states: Vec<StateChangeRecord>,
    pub passages: Vec<LockPassageRecord>,
    pub transits: Vec<SectionTransitRecord>,
    /// Also add the snapshot to the voyage's progress history.
    pub keep_progress: bool,
}

/// The voyage a vessel was on at some time, per the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct VoyageWindow {
    pub voyage: Ident,
    pub departed: DateTime<Utc>,
    pub arrived: Option<DateTime<Utc>>,
}

impl VoyageWindow {
    /// Of a vessel's voyages, the one it was on at `at`: the latest departed at or before `at`
    /// and not arrived before it.
    pub fn at(windows: &[VoyageWindow], at: DateTime<Utc>) -> Option<&VoyageWindow> {
        windows
            .iter()
            .filter(|w| w.departed <= at && w.arrived.is_none_or(|a| at <= a))
            .max_by_key(|w| w.departed)
    }
}

/// A voyage's plan: what the ETA-slip and transit-limit detectors compare with.
#[derive(Debug, Clone, PartialEq)]
pub struct VoyagePlan {
    pub voyage: Ident,
    pub planned_arrival: Option<DateTime<Utc>>,
    /// The customs transit time limit (转关时限).
    pub transit_deadline: Option<DateTime<Utc>>,
}

/// Reads a stored time; the store writes them with [`format_time`].
pub(crate) fn time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

fn opt_time(s: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.as_deref().map(time).transpose()
}

fn fmt_opt(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(format_time)
}

fn small<T: TryFrom<i64>>(n: Option<i64>) -> Option<T> {
    n.and_then(|n| T::try_from(n).ok())
}

type PositionRow = (
    i64,
    String,
    String,
    Option<String>,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    String,
);
const POSITION_COLUMNS: &str = "p.mmsi, p.at, p.vessel, p.voyage, p.lat, p.lon, p.sog_kn, p.cog_deg, p.heading, \
     p.nav_status, p.received_at";

fn position(r: PositionRow) -> Result<PositionRecord, StoreError> {
    Ok(PositionRecord {
        mmsi: u32::try_from(r.0).map_err(|_| StoreError::Corrupt(format!("MMSI {}", r.0)))?,
        at: time(&r.1)?,
        vessel: ident(r.2)?,
        voyage: r.3.map(ident).transpose()?,
        lat: r.4,
        lon: r.5,
        sog_kn: r.6,
        cog_deg: r.7,
        heading: small(r.8),
        nav_status: small(r.9),
        received_at: time(&r.10)?,
    })
}

type SnapshotRow = (
    (String, String, String, String, String),
    (f64, f64, f64, f64, f64),
    (f64, f64, f64, f64),
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
);

fn snapshot(r: SnapshotRow) -> Result<TrackSnapshot, StoreError> {
    let ((voyage, vessel, at, state, state_since), (lat, lon, km, offset_m, sog_kn), progress, eta) =
        r;
    let (total_km, done_km, to_go_km, percent) = progress;
    let (next_place, next_p50, next_p90, arrival_p50, arrival_p90) = eta;
    Ok(TrackSnapshot {
        voyage: ident(voyage)?,
        vessel: ident(vessel)?,
        at: time(&at)?,
        state,
        state_since: time(&state_since)?,
        lat,
        lon,
        km,
        offset_m,
        sog_kn,
        total_km,
        done_km,
        to_go_km,
        percent,
        next_place,
        next_p50: opt_time(next_p50)?,
        next_p90: opt_time(next_p90)?,
        arrival_p50: opt_time(arrival_p50)?,
        arrival_p90: opt_time(arrival_p90)?,
    })
}

type PassageRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    f64,
    f64,
    String,
);
const PASSAGE_COLUMNS: &str = "voyage, lock_id, direction, waiting_since, entered, left_at, \
                               inferred, wait_h, passage_h, event_id";

fn passage(r: PassageRow) -> Result<LockPassageRecord, StoreError> {
    Ok(LockPassageRecord {
        voyage: ident(r.0)?,
        lock: r.1,
        direction: r.2,
        waiting_since: opt_time(r.3)?,
        entered: time(&r.4)?,
        left: time(&r.5)?,
        inferred: r.6 != 0,
        wait_h: r.7,
        passage_h: r.8,
        event_id: r
            .9
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("event id {:?}: {e}", r.9)))?,
    })
}

/// The voyage a ledger entry (`l`) names, per engine.
fn voyage_of_entry(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "json_extract(l.body, '$.subjects.voyage')",
        Engine::Postgres => "(l.body::jsonb #>> '{subjects,voyage}')",
    }
}

impl Store {
    /// The registered vessel with this MMSI; the first by id if several claim it.
    pub async fn vessel_by_mmsi(&self, mmsi: u32) -> Result<Option<Vessel>, StoreError> {
        let sql = format!(
            "SELECT {} FROM vessels ve WHERE ve.mmsi = $1 ORDER BY ve.id LIMIT 1",
            VESSEL_COLUMNS
        );
        let row: Option<VesselRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(i64::from(mmsi))
        .fetch_optional(pool)
        .await?);
        row.map(vessel_from_row).transpose()
    }

    /// The vessel `id` if it is in `scope` (the vessels of the voyages the reader may see).
    pub async fn vessel_in(
        &self,
        id: &str,
        scope: &VoyageScope,
    ) -> Result<Option<Vessel>, StoreError> {
        let sql = format!(
            "SELECT {} FROM vessels ve WHERE ve.id = $1 AND {}",
            VESSEL_COLUMNS,
            scope.vessel_predicate()
        );
        let row: Option<VesselRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id)
        .bind(scope.param())
        .fetch_optional(pool)
        .await?);
        row.map(vessel_from_row).transpose()
    }

    /// The voyages of `vessel` that have departed, with their departure and (first) arrival
    /// times from the ledger's `departing` and `arriving` events, in departure order.
    pub async fn voyage_windows(&self, vessel: &str) -> Result<Vec<VoyageWindow>, StoreError> {
        let v = voyage_of_entry(self.engine());
        let sql = format!(
            "SELECT {v}, l.biz_step, l.event_time FROM ledger l \
             WHERE l.biz_step IN ('departing', 'arriving') \
             AND {v} IN (SELECT id FROM voyages WHERE vessel = $1) \
             ORDER BY l.event_time, l.seq"
        );
        let rows: Vec<(String, String, String)> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(vessel)
                .fetch_all(pool)
                .await?
        });
        let mut windows: Vec<VoyageWindow> = Vec::new();
        for (voyage, step, t) in rows {
            let t = time(&t)?;
            let known = windows.iter_mut().find(|w| w.voyage.as_str() == voyage);
            match (step.as_str(), known) {
                ("departing", None) => windows.push(VoyageWindow {
                    voyage: ident(voyage)?,
                    departed: t,
                    arrived: None,
                }),
                ("arriving", Some(w)) if w.arrived.is_none() && t >= w.departed => {
                    w.arrived = Some(t)
                }
                _ => {}
            }
        }
        Ok(windows)
    }

    /// The voyage `vessel` was on at `at` (see [`VoyageWindow::at`]).
    pub async fn voyage_window(
        &self,
        vessel: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<VoyageWindow>, StoreError> {
        Ok(VoyageWindow::at(&self.voyage_windows(vessel).await?, at).cloned())
    }

    /// Records a position and, when voyage tracking accepted it, what it changed, in one
    /// transaction. Returns false (and writes nothing) when the position (same MMSI, same
    /// time) was already recorded.
    pub async fn record_fix(
        &self,
        p: &PositionRecord,
        tracking: Option<&TrackingRecord>,
    ) -> Result<bool, StoreError> {
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO ais_positions (mmsi, at, vessel, voyage, lat, lon, sog_kn, cog_deg, \
                 heading, nav_status, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (mmsi, at) DO NOTHING",
            )
            .bind(i64::from(p.mmsi))
            .bind(format_time(p.at))
            .bind(p.vessel.as_str())
            .bind(p.voyage.as_ref().map(|v| v.as_str()))
            .bind(p.lat)
            .bind(p.lon)
            .bind(p.sog_kn)
            .bind(p.cog_deg)
            .bind(p.heading.map(i64::from))
            .bind(p.nav_status.map(i64::from))
            .bind(format_time(p.received_at))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !inserted {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some(t) = tracking {
                let s = &t.snapshot;
                let voyage = s.voyage.as_str();
                for c in &t.states {
                    sqlx::query(
                        "INSERT INTO voyage_states (voyage, at, state, km) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (voyage, at) DO NOTHING",
                    )
                    .bind(voyage)
                    .bind(format_time(c.at))
                    .bind(&c.state)
                    .bind(c.km)
                    .execute(&mut *tx)
                    .await?;
                }
                for x in &t.passages {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO lock_passages ({PASSAGE_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (voyage, lock_id) DO NOTHING"
                    )))
                    .bind(x.voyage.as_str())
                    .bind(&x.lock)
                    .bind(&x.direction)
                    .bind(fmt_opt(x.waiting_since))
                    .bind(format_time(x.entered))
                    .bind(format_time(x.left))
                    .bind(i64::from(x.inferred))
                    .bind(x.wait_h)
                    .bind(x.passage_h)
                    .bind(x.event_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                for x in &t.transits {
                    sqlx::query(
                        "INSERT INTO section_transits (voyage, section, direction, entered, \
                         left_at, hours) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (voyage, section) DO NOTHING",
                    )
                    .bind(x.voyage.as_str())
                    .bind(&x.section)
                    .bind(&x.direction)
                    .bind(format_time(x.entered))
                    .bind(format_time(x.left))
                    .bind(x.hours)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "INSERT INTO voyage_tracks (voyage, vessel, at, state, state_since, lat, lon, \
                     km, offset_m, sog_kn, total_km, done_km, to_go_km, percent, next_place, \
                     next_p50, next_p90, arrival_p50, arrival_p90, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17, $18, $19, $20) \
                     ON CONFLICT (voyage) DO UPDATE SET vessel = excluded.vessel, \
                     at = excluded.at, state = excluded.state, state_since = excluded.state_since, \
                     lat = excluded.lat, lon = excluded.lon, km = excluded.km, \
                     offset_m = excluded.offset_m, sog_kn = excluded.sog_kn, \
                     total_km = excluded.total_km, done_km = excluded.done_km, \
                     to_go_km = excluded.to_go_km, percent = excluded.percent, \
                     next_place = excluded.next_place, next_p50 = excluded.next_p50, \
                     next_p90 = excluded.next_p90, arrival_p50 = excluded.arrival_p50, \
                     arrival_p90 = excluded.arrival_p90, updated_at = excluded.updated_at \
                     WHERE excluded.at >= voyage_tracks.at",
                )
                .bind(voyage)
                .bind(s.vessel.as_str())
                .bind(format_time(s.at))
                .bind(&s.state)
                .bind(format_time(s.state_since))
                .bind(s.lat)
                .bind(s.lon)
                .bind(s.km)
                .bind(s.offset_m)
                .bind(s.sog_kn)
                .bind(s.total_km)
                .bind(s.done_km)
                .bind(s.to_go_km)
                .bind(s.percent)
                .bind(&s.next_place)
                .bind(fmt_opt(s.next_p50))
                .bind(fmt_opt(s.next_p90))
                .bind(fmt_opt(s.arrival_p50))
                .bind(fmt_opt(s.arrival_p90))
                .bind(format_time(p.received_at))
                .execute(&mut *tx)
                .await?;
                if t.keep_progress {
                    sqlx::query(
                        "INSERT INTO voyage_progress (voyage, at, state, km, sog_kn, done_km, \
                         percent, arrival_p50) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (voyage, at) DO NOTHING",
                    )
                    .bind(voyage)
                    .bind(format_time(s.at))
                    .bind(&s.state)
                    .bind(s.km)
                    .bind(s.sog_kn)
                    .bind(s.done_km)
                    .bind(s.percent)
                    .bind(fmt_opt(s.arrival_p50))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Records (or replaces) what a vessel's AIS station says about itself. Fields it did not
    /// send keep their stored value.
    pub async fn record_static(&self, s: &StaticRecord) -> Result<(), StoreError> {
        let vessel = s
            .vessel
            .as_ref()
            .ok_or_else(|| StoreError::Missing {
                what: "vessel of MMSI",
                id: s.mmsi.to_string(),
            })?
            .as_str();
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO ais_static (mmsi, vessel, name, callsign, imo, ship_type, length_m, \
             beam_m, draught_m, destination, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (mmsi) DO UPDATE SET vessel = excluded.vessel, \
             name = COALESCE(excluded.name, ais_static.name), \
             callsign = COALESCE(excluded.callsign, ais_static.callsign), \
             imo = COALESCE(excluded.imo, ais_static.imo), \
             ship_type = COALESCE(excluded.ship_type, ais_static.ship_type), \
             length_m = COALESCE(excluded.length_m, ais_static.length_m), \
             beam_m = COALESCE(excluded.beam_m, ais_static.beam_m), \
             draught_m = COALESCE(excluded.draught_m, ais_static.draught_m), \
             destination = COALESCE(excluded.destination, ais_static.destination), \
             updated_at = excluded.updated_at"
        )
        .bind(i64::from(s.mmsi))
        .bind(vessel)
        .bind(&s.name)
        .bind(&s.callsign)
        .bind(s.imo.map(i64::from))
        .bind(s.ship_type.map(i64::from))
        .bind(s.length_m.map(i64::from))
        .bind(s.beam_m.map(i64::from))
        .bind(s.draught_m)
        .bind(&s.destination)
        .bind(format_time(s.updated_at.unwrap_or_else(Utc::now)))
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// What the AIS station with `mmsi` said about itself.
    pub async fn ais_static(&self, mmsi: u32) -> Result<Option<StaticRecord>, StoreError> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<f64>,
            Option<String>,
            String,
        );
        let row: Option<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT vessel, name, callsign, imo, ship_type, length_m, beam_m, draught_m, \
             destination, updated_at FROM ais_static WHERE mmsi = $1"
        )
        .bind(i64::from(mmsi))
        .fetch_optional(pool)
        .await?);
        row.map(|r| {
            Ok(StaticRecord {
                mmsi,
                vessel: Some(ident(r.0)?),
                name: r.1,
                callsign: r.2,
                imo: small(r.3),
                ship_type: small(r.4),
                length_m: small(r.5),
                beam_m: small(r.6),
                draught_m: r.7,
                destination: r.8,
                updated_at: Some(time(&r.9)?),
            })
        })
        .transpose()
    }

    /// The positions of a voyage, oldest first (what its tracker is rebuilt from).
    pub async fn voyage_positions(&self, voyage: &str) -> Result<Vec<PositionRecord>, StoreError> {
        let sql = format!(
            "SELECT {POSITION_COLUMNS} FROM ais_positions p WHERE p.voyage = $1 ORDER BY p.at"
        );
        let rows: Vec<PositionRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(voyage)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(position).collect()
    }

    /// A page of a voyage's positions (its track), oldest first, after the cursor `after` (a
    /// time, `""` for the first page).
    pub async fn voyage_track_page(
        &self,
        voyage: &str,
        after: &str,
        limit: i64,
    ) -> Result<Page<PositionRecord>, StoreError> {
        let sql = format!(
            "SELECT {POSITION_COLUMNS} FROM ais_positions p WHERE p.voyage = $1 AND p.at > $2 \
             ORDER BY p.at LIMIT $3"
        );
        let rows: Vec<PositionRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(voyage)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(position)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::access::page(items, limit, |p| format_time(p.at)))
    }

    /// A vessel's positions in `from..=to`, oldest first, after the cursor `after` (a time).
    pub async fn vessel_positions(
        &self,
        vessel: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: &str,
        limit: i64,
    ) -> Result<Page<PositionRecord>, StoreError> {
        let sql = format!(
            "SELECT {POSITION_COLUMNS} FROM ais_positions p WHERE p.vessel = $1 \
             AND p.at >= $2 AND p.at <= $3 AND p.at > $4 ORDER BY p.at LIMIT $5"
        );
        let rows: Vec<PositionRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(vessel)
        .bind(format_time(from))
        .bind(format_time(to))
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(position)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::access::page(items, limit, |p| format_time(p.at)))
    }

    /// The latest position of every vessel in `scope` that has one, by vessel id.
    pub async fn latest_positions(
        &self,
        scope: &VoyageScope,
    ) -> Result<Vec<(Vessel, PositionRecord)>, StoreError> {
        type Row = (PositionRow, (String, String, String, Option<i64>));
        let sql = format!(
            "SELECT {POSITION_COLUMNS}, ve.name, ve.kind, ve.carrier, ve.imo FROM vessels ve \
             JOIN ais_positions p ON p.vessel = ve.id AND p.at = (SELECT MAX(q.at) \
             FROM ais_positions q WHERE q.vessel = ve.id) WHERE $1 = '' AND {} ORDER BY ve.id",
            scope.vessel_predicate()
        );
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind("")
                .bind(scope.param())
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                use sqlx::Row as _;
                out.push((
                    (
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                        r.try_get(5)?,
                        r.try_get(6)?,
                        r.try_get(7)?,
                        r.try_get(8)?,
                        r.try_get(9)?,
                        r.try_get(10)?,
                    ),
                    (
                        r.try_get(11)?,
                        r.try_get(12)?,
                        r.try_get(13)?,
                        r.try_get(14)?,
                    ),
                ));
            }
            out
        });
        rows.into_iter()
            .map(|(p, (name, kind, carrier, imo))| {
                let p = position(p)?;
                let v = vessel_from_row((
                    p.vessel.to_string(),
                    name,
                    kind,
                    carrier,
                    Some(i64::from(p.mmsi)),
                    imo,
                ))?;
                Ok((v, p))
            })
            .collect()
    }

    /// The latest progress of a voyage, if it has been tracked.
    pub async fn voyage_track(&self, voyage: &str) -> Result<Option<TrackSnapshot>, StoreError> {
        let row: Option<SnapshotRow> = on_backend!(&self.backend, |pool| {
            let row = sqlx::query(
                "SELECT voyage, vessel, at, state, state_since, lat, lon, km, offset_m, sog_kn, \
                 total_km, done_km, to_go_km, percent, next_place, next_p50, next_p90, \
                 arrival_p50, arrival_p90 FROM voyage_tracks WHERE voyage = $1",
            )
            .bind(voyage)
            .fetch_optional(pool)
            .await?;
            match row {
                None => None,
                Some(r) => {
                    use sqlx::Row as _;
                    Some((
                        (
                            r.try_get(0)?,
                            r.try_get(1)?,
                            r.try_get(2)?,
                            r.try_get(3)?,
                            r.try_get(4)?,
                        ),
                        (
                            r.try_get(5)?,
                            r.try_get(6)?,
                            r.try_get(7)?,
                            r.try_get(8)?,
                            r.try_get(9)?,
                        ),
                        (
                            r.try_get(10)?,
                            r.try_get(11)?,
                            r.try_get(12)?,
                            r.try_get(13)?,
                        ),
                        (
                            r.try_get(14)?,
                            r.try_get(15)?,
                            r.try_get(16)?,
                            r.try_get(17)?,
                            r.try_get(18)?,
                        ),
                    ))
                }
            }
        });
        row.map(snapshot).transpose()
    }

    /// A voyage's state changes, oldest first.
    pub async fn voyage_states(&self, voyage: &str) -> Result<Vec<StateChangeRecord>, StoreError> {
        let rows: Vec<(String, String, f64)> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT at, state, km FROM voyage_states WHERE voyage = $1 ORDER BY at"
        )
        .bind(voyage)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|(at, state, km)| {
                Ok(StateChangeRecord {
                    at: time(&at)?,
                    state,
                    km,
                })
            })
            .collect()
    }

    /// A voyage's progress history (speed and ETA over time), oldest first.
    pub async fn voyage_progress(
        &self,
        voyage: &str,
        limit: i64,
    ) -> Result<Vec<ProgressRecord>, StoreError> {
        type Row = (String, String, f64, f64, f64, f64, Option<String>);
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT at, state, km, sog_kn, done_km, percent, arrival_p50 FROM \
             (SELECT * FROM voyage_progress WHERE voyage = $1 ORDER BY at DESC LIMIT $2) r \
             ORDER BY at"
        )
        .bind(voyage)
        .bind(limit)
        .fetch_all(pool)
        .await?);
        rows.into_iter()
            .map(|r| {
                Ok(ProgressRecord {
                    at: time(&r.0)?,
                    state: r.1,
                    km: r.2,
                    sog_kn: r.3,
                    done_km: r.4,
                    percent: r.5,
                    arrival_p50: opt_time(r.6)?,
                })
            })
            .collect()
    }

    /// A voyage's lock passages, in the order passed.
    pub async fn voyage_lock_passages(
        &self,
        voyage: &str,
    ) -> Result<Vec<LockPassageRecord>, StoreError> {
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS} FROM lock_passages WHERE voyage = $1 ORDER BY entered"
        );
        let rows: Vec<PassageRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(voyage)
        .fetch_all(pool)
        .await?);
        rows.into_iter().map(passage).collect()
    }

    /// The most recent `per_key` section transits per (section, direction) and lock waits per
    /// (lock, direction), oldest first: what the ETA model is loaded with.
    pub async fn eta_history(
        &self,
        limit: i64,
    ) -> Result<(Vec<SectionTransitRecord>, Vec<LockPassageRecord>), StoreError> {
        let rows: Vec<(String, String, String, String, String, f64)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT voyage, section, direction, entered, left_at, hours FROM \
                 (SELECT * FROM section_transits ORDER BY left_at DESC LIMIT $1) r ORDER BY left_at"
            )
            .bind(limit)
            .fetch_all(pool)
            .await?);
        let transits = rows
            .into_iter()
            .map(|r| {
                Ok(SectionTransitRecord {
                    voyage: ident(r.0)?,
                    section: r.1,
                    direction: r.2,
                    entered: time(&r.3)?,
                    left: time(&r.4)?,
                    hours: r.5,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS} FROM (SELECT * FROM lock_passages ORDER BY entered DESC \
             LIMIT $1) r ORDER BY entered"
        );
        let rows: Vec<PassageRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(limit)
        .fetch_all(pool)
        .await?);
        let passages = rows
            .into_iter()
            .map(passage)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((transits, passages))
    }

    /// Sets a voyage's plan (replacing the previous one).
    pub async fn set_voyage_plan(&self, plan: &VoyagePlan) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| sqlx::query(
            "INSERT INTO voyage_plans (voyage, planned_arrival, transit_deadline, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (voyage) DO UPDATE SET \
             planned_arrival = excluded.planned_arrival, \
             transit_deadline = excluded.transit_deadline, updated_at = excluded.updated_at"
        )
        .bind(plan.voyage.as_str())
        .bind(fmt_opt(plan.planned_arrival))
        .bind(fmt_opt(plan.transit_deadline))
        .bind(format_time(Utc::now()))
        .execute(pool)
        .await
        .map_err(|e| crate::registry::exists_error(e, "voyage", plan.voyage.as_str()))
        .map(drop)?);
        Ok(())
    }

    /// A voyage's plan, if it has one.
    pub async fn voyage_plan(&self, voyage: &str) -> Result<Option<VoyagePlan>, StoreError> {
        let row: Option<(String, Option<String>, Option<String>)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT voyage, planned_arrival, transit_deadline FROM voyage_plans \
                 WHERE voyage = $1"
            )
            .bind(voyage)
            .fetch_optional(pool)
            .await?);
        row.map(|(voyage, a, d)| {
            Ok(VoyagePlan {
                voyage: ident(voyage)?,
                planned_arrival: opt_time(a)?,
                transit_deadline: opt_time(d)?,
            })
        })
        .transpose()
    }
}
