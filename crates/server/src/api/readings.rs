//! Sensors and readings: devices submit readings (`POST /readings`, device credential; the
//! HTTP adapter of [`crate::ingest`]); people register sensors, attach them to what they watch
//! and read raw readings and rollups for charts, within [`policy::sensors`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{MeasurementType, Subject, Unit};
use jianghai_store::{IngestError, OrgScope, SensorRecord, StoredReading};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::{PageDto, ident};
use crate::AppState;
use crate::auth::{DeviceCaller, Principal};
use crate::extract::{ApiJson, ApiQuery, Paging};
use crate::ingest::MAX_READINGS_PER_BATCH;
use crate::policy::{self, Command};
use crate::problem::{ApiError, FieldError, Problem};

/// A batch of readings from one device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingsBatch {
    /// Readings: `{"sensor": "air", "measurement": "Temperature", "value": 41.5, "unit": "CEL",
    /// "time": "2025-07-01T07:59:00Z"}`, optionally with `device` (the credential's) and
    /// `position` (`{"lat": …, "lon": …}`). States: `{"measurement": "DoorOpen", "value": true}`.
    #[schema(value_type = Vec<Object>)]
    pub readings: Vec<Box<RawValue>>,
}

/// A reading refused, and why.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedReading {
    pub index: usize,
    /// A JSON pointer into the request (`/readings/3/unit`).
    pub field: String,
    pub reason: String,
}

/// What became of a batch: every reading is stored, a duplicate, or refused.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadingsReceipt {
    /// Readings newly stored (durable: this answer comes after the commit).
    pub stored: usize,
    /// Positions of readings already stored (same device, sensor and time); not stored again.
    pub duplicates: Vec<usize>,
    /// Readings refused, with the reason; nothing of them was stored.
    pub rejected: Vec<RejectedReading>,
}

fn pointer(index: usize, field: &str) -> String {
    if field.is_empty() {
        format!("/readings/{index}")
    } else {
        format!("/readings/{index}/{field}")
    }
}

/// Submit readings (device credential). Answers after they are durable; each reading is
/// stored, a duplicate or refused with its reason. 422 when none is acceptable; 503 with
/// `Retry-After` when the server is overloaded (nothing of the batch was stored).
#[utoipa::path(post, path = "/readings", tag = "readings", security(("bearer" = [])), request_body = ReadingsBatch,
    responses((status = 200, body = ReadingsReceipt), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn submit_readings(
    State(state): State<AppState>,
    DeviceCaller(dev): DeviceCaller,
    ApiJson(batch): ApiJson<ReadingsBatch>,
) -> Result<Json<ReadingsReceipt>, ApiError> {
    let n = batch.readings.len();
    if n == 0 {
        return Err(ApiError::field("/readings", "holds no readings"));
    }
    if n > MAX_READINGS_PER_BATCH {
        return Err(ApiError::field(
            "/readings",
            format!("holds {n} readings; at most {MAX_READINGS_PER_BATCH} per request"),
        ));
    }
    let checked = state.intake.check(&dev, batch.readings, Utc::now()).await?;
    if checked.rows.is_empty() {
        return Err(ApiError::validation(
            checked
                .rejected
                .into_iter()
                .map(|r| FieldError::new(pointer(r.index, r.field), r.reason))
                .collect(),
        ));
    }
    let report = state
        .intake
        .store(checked, false)
        .await
        .map_err(|e| match e {
            IngestError::Overloaded { retry_after, .. } => ApiError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the server is taking in more readings than it can store; nothing of this \
                     batch was stored: send it again after Retry-After",
                )
            },
            IngestError::TooLarge { count, max } => ApiError::field(
                "/readings",
                format!("holds {count} readings; at most {max}"),
            ),
            other => {
                tracing::error!(error = %other, "Readings not stored.");
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "store-unavailable",
                        "the readings could not be stored; nothing of this batch was stored: \
                         send it again after Retry-After",
                    )
                }
            }
        })?;
    Ok(Json(ReadingsReceipt {
        stored: report.stored,
        duplicates: report.duplicates,
        rejected: report
            .rejected
            .into_iter()
            .map(|r| RejectedReading {
                field: pointer(r.index, r.field),
                index: r.index,
                reason: r.reason,
            })
            .collect(),
    }))
}

/// Which readings to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadingsQuery {
    pub device: String,
    pub sensor: String,
    /// Event times from (inclusive; default 24 hours before `to`).
    pub from: Option<DateTime<Utc>>,
    /// Event times up to (exclusive; default now).
    pub to: Option<DateTime<Utc>>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Readings per page, 1 to 10,000 (default 1,000).
    pub limit: Option<i64>,
}

/// A stored reading.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadingDto {
    pub time: String,
    /// In `unit`, the measurement's canonical unit.
    pub value: f64,
    pub unit: String,
    /// The unit the device sent the value in.
    pub sent_unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
}

fn reading_dto(r: StoredReading, unit: Unit) -> ReadingDto {
    ReadingDto {
        time: format_time(r.at),
        value: r.value,
        unit: unit.code().to_string(),
        sent_unit: r.unit.code().to_string(),
        lat: r.position.map(|p| p.lat),
        lon: r.position.map(|p| p.lon),
    }
}

fn window(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = to.unwrap_or_else(|| Utc::now() + Duration::minutes(5));
    let from = from.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ApiError::field("from", "must be before `to`"));
    }
    Ok((from, to))
}

/// The sensor if `p` may read it; 404 otherwise, as for no sensor.
async fn visible_sensor(
    state: &AppState,
    p: &Principal,
    device: &str,
    sensor: &str,
) -> Result<SensorRecord, ApiError> {
    state
        .store
        .sensor_in(&policy::sensors(p), device, sensor)
        .await?
        .ok_or_else(|| ApiError::not_found("sensor", &format!("{device}/{sensor}")))
}

/// Raw readings of one sensor, oldest first (values in the measurement's canonical unit).
#[utoipa::path(get, path = "/readings", tag = "readings", security(("bearer" = [])),
    params(ReadingsQuery), responses((status = 200, body = PageDto<ReadingDto>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_readings(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ReadingsQuery>,
) -> Result<Json<PageDto<ReadingDto>>, ApiError> {
    let limit = q.limit.unwrap_or(1_000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 10000"));
    }
    let (from, to) = window(q.from, q.to)?;
    let sensor = visible_sensor(&state, &p, &q.device, &q.sensor).await?;
    let after = q.after.unwrap_or_default();
    if !after.is_empty() && DateTime::parse_from_rfc3339(&after).is_err() {
        return Err(ApiError::field("after", "not a cursor of this listing"));
    }
    let page = state
        .store
        .readings(&q.device, &q.sensor, from, to, &after, limit)
        .await?;
    let unit = sensor.measurement.canonical_unit();
    Ok(Json(PageDto::map(page, |r| reading_dto(r, unit))))
}

/// Which rollups to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RollupQuery {
    pub device: String,
    pub sensor: String,
    /// `1m` or `1h` (default `1m`).
    pub resolution: Option<String>,
    /// Buckets from (default 24 hours before `to`).
    pub from: Option<DateTime<Utc>>,
    /// Buckets up to (exclusive; default now).
    pub to: Option<DateTime<Utc>>,
}

/// One bucket of a rollup.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketDto {
    /// Start of the bucket.
    pub bucket: String,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub count: i64,
}

/// Rollups of one sensor, for charts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollupsDto {
    pub device: String,
    pub sensor: String,
    pub measurement: String,
    /// The unit of min, max and mean.
    pub unit: String,
    /// `1m` or `1h`.
    pub resolution: String,
    pub buckets: Vec<BucketDto>,
}

/// Minute or hour rollups (min, max, mean, count) of one sensor, oldest first; at most 10,000
/// buckets.
#[utoipa::path(get, path = "/readings/rollups", tag = "readings", security(("bearer" = [])),
    params(RollupQuery), responses((status = 200, body = RollupsDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rollups(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<RollupQuery>,
) -> Result<Json<RollupsDto>, ApiError> {
    let resolution = q.resolution.unwrap_or_else(|| "1m".into());
    let seconds = match resolution.as_str() {
        "1m" => 60,
        "1h" => 3_600,
        _ => return Err(ApiError::field("resolution", "1m or 1h")),
    };
    let (from, to) = window(q.from, q.to)?;
    let sensor = visible_sensor(&state, &p, &q.device, &q.sensor).await?;
    let rows = state
        .store
        .rollups(&q.device, &q.sensor, seconds, from, to, 10_000)
        .await?;
    Ok(Json(RollupsDto {
        device: q.device,
        sensor: q.sensor,
        measurement: sensor.measurement.as_str().into(),
        unit: sensor.measurement.canonical_unit().code().into(),
        resolution,
        buckets: rows
            .into_iter()
            .map(|r| BucketDto {
                bucket: format_time(r.bucket),
                min: r.min,
                max: r.max,
                mean: r.mean,
                count: r.count,
            })
            .collect(),
    }))
}

/// A sensor to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSensor {
    /// A device of the caller's organisation.
    pub device: String,
    /// The sensor's key on the device (what readings name as `sensor`).
    pub sensor: String,
    /// An EPCIS MeasurementType name (Temperature, RelativeHumidity, DoorOpen, …).
    pub measurement: String,
    /// The UN/ECE Rec 20 unit it reports in (default: the measurement's canonical unit).
    pub unit: Option<String>,
    /// What it watches: `deck:VESSEL/DECK`, `zone:…`, `vehicle:VIN`, `seal:…`, `facility:ID`.
    pub subject: String,
    pub name: Option<String>,
}

/// A sensor as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SensorDto {
    pub device: String,
    pub sensor: String,
    pub organisation: String,
    pub measurement: String,
    pub unit: String,
    /// What it watches (`kind:id`).
    pub subject: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

fn sensor_dto(s: SensorRecord) -> SensorDto {
    SensorDto {
        device: s.device.to_string(),
        sensor: s.sensor,
        organisation: s.organisation.to_string(),
        measurement: s.measurement.as_str().into(),
        unit: s.unit.code().into(),
        subject: s.subject.to_string(),
        name: s.name,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

fn subject(field: &str, s: &str) -> Result<Subject, ApiError> {
    Subject::parse(s).map_err(|e| ApiError::field(field, e.to_string()))
}

/// Refuses a subject `p` may not attach sensors to (or that names nothing registered).
async fn check_attachable(state: &AppState, p: &Principal, s: &Subject) -> Result<(), ApiError> {
    if !state.store.subject_in(&policy::attachable(p), s).await? {
        return Err(ApiError::field(
            "/subject",
            format!("there is no {s} your organisation may attach sensors to"),
        ));
    }
    Ok(())
}

/// Register a sensor of one of the organisation's devices, attached to what it watches
/// (administrators and operators; not the coordinator).
#[utoipa::path(post, path = "/sensors", tag = "readings", security(("bearer" = [])), request_body = NewSensor,
    responses((status = 201, body = SensorDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register_sensor(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<NewSensor>,
) -> Result<(StatusCode, Json<SensorDto>), ApiError> {
    let device_id = ident("/device", &req.device)?;
    let device = state
        .store
        .device(device_id.as_str())
        .await?
        .filter(|d| {
            matches!(policy::organisations(&p), OrgScope::All)
                || d.organisation == p.organisation.id
        })
        .ok_or_else(|| {
            ApiError::field(
                "/device",
                format!("there is no device {device_id} of your organisation"),
            )
        })?;
    policy::may(
        &p,
        Command::ManageSensors {
            org: &device.organisation,
        },
    )?;
    let key = req.sensor.as_str();
    if key.is_empty()
        || key.chars().count() > 64
        || key
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::field(
            "/sensor",
            "1 to 64 characters, no spaces, control characters or '/'",
        ));
    }
    let measurement = MeasurementType::parse(&req.measurement)
        .map_err(|e| ApiError::field("/measurement", e.to_string()))?;
    let unit = match &req.unit {
        Some(u) => Unit::parse(u).map_err(|e| ApiError::field("/unit", e.to_string()))?,
        None => measurement.canonical_unit(),
    };
    if !unit.fits(measurement) {
        return Err(ApiError::field(
            "/unit",
            format!(
                "{unit} is not a unit of {measurement} (use {})",
                measurement.canonical_unit()
            ),
        ));
    }
    let watched = subject("/subject", &req.subject)?;
    check_attachable(&state, &p, &watched).await?;
    let name = req.name.as_deref().unwrap_or(key).trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("/name", "1 to 200 characters"));
    }
    let now = format_time(Utc::now());
    let s = SensorRecord {
        device: device.id.clone(),
        sensor: key.to_string(),
        organisation: device.organisation,
        measurement,
        unit,
        subject: watched,
        name,
        created_at: now.clone(),
        updated_at: now,
    };
    state.store.register_sensor(&s).await?;
    state.intake.forget_sensors(device.id.as_str());
    Ok((StatusCode::CREATED, Json(sensor_dto(s))))
}

/// Which sensors to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SensorQuery {
    /// Only those attached to this subject (`kind:id`).
    pub subject: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
}

/// Sensors the caller may see: its own devices' and those watching its subjects.
#[utoipa::path(get, path = "/sensors", tag = "readings", security(("bearer" = [])),
    params(SensorQuery), responses((status = 200, body = PageDto<SensorDto>), (status = 422, body = Problem)))]
pub async fn list_sensors(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<SensorQuery>,
) -> Result<Json<PageDto<SensorDto>>, ApiError> {
    let paging = Paging::new(q.after, q.limit)?;
    let watched = q
        .subject
        .as_deref()
        .map(|s| subject("subject", s))
        .transpose()?;
    let page = state
        .store
        .sensors(
            &policy::sensors(&p),
            watched.as_ref(),
            &paging.after,
            paging.limit,
        )
        .await?;
    Ok(Json(PageDto::map(page, sensor_dto)))
}

/// A new attachment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// What the sensor watches from now on (`kind:id`).
    pub subject: String,
}

/// Attach a sensor to another subject (its organisation's administrators and operators).
/// Readings stored later are watched as the new subject's.
#[utoipa::path(put, path = "/sensors/{device}/{sensor}/attachment", tag = "readings", security(("bearer" = [])),
    params(("device" = String, Path), ("sensor" = String, Path)), request_body = Attachment,
    responses((status = 200, body = SensorDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn attach_sensor(
    State(state): State<AppState>,
    p: Principal,
    Path((device, sensor)): Path<(String, String)>,
    ApiJson(req): ApiJson<Attachment>,
) -> Result<Json<SensorDto>, ApiError> {
    let current = visible_sensor(&state, &p, &device, &sensor).await?;
    policy::may(
        &p,
        Command::ManageSensors {
            org: &current.organisation,
        },
    )?;
    let watched = subject("/subject", &req.subject)?;
    check_attachable(&state, &p, &watched).await?;
    let now = Utc::now();
    if !state
        .store
        .attach_sensor(&current.device, &sensor, &watched, now)
        .await?
    {
        return Err(ApiError::not_found("sensor", &format!("{device}/{sensor}")));
    }
    state.intake.forget_sensors(current.device.as_str());
    Ok(Json(sensor_dto(SensorRecord {
        subject: watched,
        updated_at: format_time(now),
        ..current
    })))
}
