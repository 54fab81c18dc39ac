//! Voyage tracking: where a voyage's ship is and how far it has come (from AIS, see
//! [`crate::tracking`]), its state history, lock passages, track, ETAs, and its plan.
//!
//! Every route reads the voyage through [`policy::voyage_tracking`]: a voyage outside the
//! caller's scope answers 404 exactly like an absent one.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use jianghai_core::ledger::format_time;
use jianghai_core::{Ident, Voyage};
use jianghai_store::{
    LockPassageRecord, PositionRecord, ProgressRecord, StateChangeRecord, TrackSnapshot, VoyagePlan,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageDto;
use crate::AppState;
use crate::auth::Principal;
use crate::extract::{ApiJson, ApiQuery, Paging};
use crate::policy::{self, Command};
use crate::problem::{ApiError, Problem};

/// The voyage `id` if the caller may see its tracking; 404 otherwise.
async fn visible(state: &AppState, p: &Principal, id: &str) -> Result<Voyage, ApiError> {
    state
        .store
        .voyage_in(id, &policy::voyage_tracking(p))
        .await?
        .ok_or_else(|| ApiError::not_found("voyage", id))
}

/// An estimated arrival: median and 90th percentile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EtaDto {
    /// The place (port, lock, bridge) for the next-place estimate; absent for the destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    pub p50: String,
    pub p90: String,
}

/// How far a voyage has come, after its latest tracked position.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackDto {
    /// Time of the position this was computed from.
    pub at: String,
    /// berthed, under_way, at_anchor, waiting_for_lock, in_lock, moored or stopped.
    pub state: String,
    pub state_since: String,
    pub lat: f64,
    pub lon: f64,
    /// River km above Wusongkou (the corridor's unified chainage).
    pub km: f64,
    /// Distance from the centre line, m (positive towards the right bank).
    pub offset_m: f64,
    pub sog_kn: f64,
    pub total_km: f64,
    pub done_km: f64,
    pub to_go_km: f64,
    pub percent: f64,
    /// The next port, lock or bridge ahead and when the ship should reach it.
    pub next_place: Option<EtaDto>,
    /// Arrival at the destination.
    pub arrival: Option<EtaDto>,
}

/// A voyage and its tracking.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoyageTrackingDto {
    pub voyage: String,
    pub vessel: String,
    pub origin: String,
    pub destination: String,
    /// Absent until a position of the voyage has been tracked.
    pub track: Option<TrackDto>,
}

fn track_dto(s: TrackSnapshot) -> TrackDto {
    let next_place = match (s.next_place, s.next_p50, s.next_p90) {
        (Some(place), Some(a), Some(b)) => Some(EtaDto {
            place: Some(place),
            p50: format_time(a),
            p90: format_time(b),
        }),
        _ => None,
    };
    let arrival = s.arrival_p50.zip(s.arrival_p90).map(|(a, b)| EtaDto {
        place: None,
        p50: format_time(a),
        p90: format_time(b),
    });
    TrackDto {
        at: format_time(s.at),
        state: s.state,
        state_since: format_time(s.state_since),
        lat: s.lat,
        lon: s.lon,
        km: s.km,
        offset_m: s.offset_m,
        sog_kn: s.sog_kn,
        total_km: s.total_km,
        done_km: s.done_km,
        to_go_km: s.to_go_km,
        percent: s.percent,
        next_place,
        arrival,
    }
}

/// A voyage's progress (km done, km to go, percent), state and ETAs (P50/P90) to the next
/// place and the destination, from its latest tracked AIS position.
#[utoipa::path(get, path = "/voyages/{id}/tracking", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = VoyageTrackingDto), (status = 404, body = Problem)))]
pub async fn get_tracking(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<VoyageTrackingDto>, ApiError> {
    let v = visible(&state, &p, &id).await?;
    let track = state.store.voyage_track(v.id.as_str()).await?;
    Ok(Json(VoyageTrackingDto {
        voyage: v.id.to_string(),
        vessel: v.vessel.to_string(),
        origin: v.origin.to_string(),
        destination: v.destination.to_string(),
        track: track.map(track_dto),
    }))
}

/// A change of state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateChangeDto {
    pub at: String,
    pub state: String,
    pub km: f64,
}

/// A voyage's state history, oldest first.
#[utoipa::path(get, path = "/voyages/{id}/states", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PageDto<StateChangeDto>), (status = 404, body = Problem)))]
pub async fn list_states(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<PageDto<StateChangeDto>>, ApiError> {
    let v = visible(&state, &p, &id).await?;
    let items = state.store.voyage_states(v.id.as_str()).await?;
    Ok(Json(PageDto {
        items: items
            .into_iter()
            .map(|s: StateChangeRecord| StateChangeDto {
                at: format_time(s.at),
                state: s.state,
                km: s.km,
            })
            .collect(),
        next: None,
    }))
}

/// One sample of a voyage's progress history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressDto {
    pub at: String,
    pub state: String,
    pub km: f64,
    pub sog_kn: f64,
    pub done_km: f64,
    pub percent: f64,
    /// The P50 arrival estimated then.
    pub arrival_p50: Option<String>,
}

/// How many samples of the history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The latest samples, 1 to 5,000 (default 500).
    pub limit: Option<i64>,
}

/// A voyage's progress and speed history (a sample every ten minutes of voyage and at each
/// change of state), oldest first.
#[utoipa::path(get, path = "/voyages/{id}/progress", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path), HistoryQuery),
    responses((status = 200, body = PageDto<ProgressDto>), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_progress(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<PageDto<ProgressDto>>, ApiError> {
    let limit = q.limit.unwrap_or(500);
    if !(1..=5_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 5000"));
    }
    let v = visible(&state, &p, &id).await?;
    let items = state.store.voyage_progress(v.id.as_str(), limit).await?;
    Ok(Json(PageDto {
        items: items
            .into_iter()
            .map(|s: ProgressRecord| ProgressDto {
                at: format_time(s.at),
                state: s.state,
                km: s.km,
                sog_kn: s.sog_kn,
                done_km: s.done_km,
                percent: s.percent,
                arrival_p50: s.arrival_p50.map(format_time),
            })
            .collect(),
        next: None,
    }))
}

/// One passage through a lock (also on the ledger as `eventId`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LockPassageDto {
    /// e.g. three-gorges-locks, gezhouba-locks.
    pub lock: String,
    /// downstream or upstream.
    pub direction: String,
    /// When the ship stopped to wait for the lock, if it did.
    pub waiting_since: Option<String>,
    pub entered: String,
    pub left: String,
    /// No position fell inside the lock area (an AIS gap): entry and exit are interpolated.
    pub inferred: bool,
    pub wait_h: f64,
    pub passage_h: f64,
    pub event_id: Uuid,
}

/// A voyage's lock passages, in the order passed.
#[utoipa::path(get, path = "/voyages/{id}/locks", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PageDto<LockPassageDto>), (status = 404, body = Problem)))]
pub async fn list_locks(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<PageDto<LockPassageDto>>, ApiError> {
    let v = visible(&state, &p, &id).await?;
    let items = state.store.voyage_lock_passages(v.id.as_str()).await?;
    Ok(Json(PageDto {
        items: items
            .into_iter()
            .map(|x: LockPassageRecord| LockPassageDto {
                lock: x.lock,
                direction: x.direction,
                waiting_since: x.waiting_since.map(format_time),
                entered: format_time(x.entered),
                left: format_time(x.left),
                inferred: x.inferred,
                wait_h: x.wait_h,
                passage_h: x.passage_h,
                event_id: x.event_id,
            })
            .collect(),
        next: None,
    }))
}

/// One AIS position.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PositionDto {
    /// When it was taken (the tag block's time, else when it was received).
    pub at: String,
    pub lat: f64,
    pub lon: f64,
    pub sog_kn: Option<f64>,
    pub cog_deg: Option<f64>,
    pub heading: Option<u16>,
    /// AIS navigational status 0–15 (Class A reports).
    pub nav_status: Option<u8>,
    pub mmsi: u32,
    pub received_at: String,
}

/// A voyage's track: its AIS positions, oldest first, paged by time.
#[utoipa::path(get, path = "/voyages/{id}/positions", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path), crate::extract::PageQuery),
    responses((status = 200, body = PageDto<PositionDto>), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_positions(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    page: Paging,
) -> Result<Json<PageDto<PositionDto>>, ApiError> {
    let v = visible(&state, &p, &id).await?;
    let page = state
        .store
        .voyage_track_page(v.id.as_str(), &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, |x: PositionRecord| PositionDto {
        at: format_time(x.at),
        lat: x.lat,
        lon: x.lon,
        sog_kn: x.sog_kn,
        cog_deg: x.cog_deg,
        heading: x.heading,
        nav_status: x.nav_status,
        mmsi: x.mmsi,
        received_at: format_time(x.received_at),
    })))
}

/// A voyage's plan: what the ETA-slip and transit-limit alerts compare the ETAs with.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlanDto {
    /// Planned arrival at the destination (RFC 3339).
    #[serde(default)]
    pub planned_arrival: Option<String>,
    /// The customs transit time limit (转关时限, RFC 3339).
    #[serde(default)]
    pub transit_deadline: Option<String>,
}

fn plan_dto(p: Option<VoyagePlan>) -> PlanDto {
    PlanDto {
        planned_arrival: p.as_ref().and_then(|p| p.planned_arrival).map(format_time),
        transit_deadline: p.and_then(|p| p.transit_deadline).map(format_time),
    }
}

/// A voyage's plan (both times absent when none was set).
#[utoipa::path(get, path = "/voyages/{id}/plan", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PlanDto), (status = 404, body = Problem)))]
pub async fn get_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<PlanDto>, ApiError> {
    let v = visible(&state, &p, &id).await?;
    Ok(Json(plan_dto(
        state.store.voyage_plan(v.id.as_str()).await?,
    )))
}

fn plan_time(field: &str, t: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(s) = t else { return Ok(None) };
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| ApiError::field(field, format!("not an RFC 3339 time: {e}")))?
        .with_timezone(&Utc);
    let lo = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
    let hi = DateTime::<Utc>::from_timestamp(4_102_444_800, 0).unwrap_or_default();
    if t < lo || t >= hi {
        return Err(ApiError::field(field, "must be between 2000 and 2100"));
    }
    Ok(Some(t))
}

/// Set (replace) a voyage's plan: its carrier, customs (the transit time limit) or the
/// operator.
#[utoipa::path(put, path = "/voyages/{id}/plan", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PlanDto,
    responses((status = 200, body = PlanDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PlanDto>,
) -> Result<Json<PlanDto>, ApiError> {
    let v = visible(&state, &p, &id).await?;
    let carrier: Ident = match state.store.vessel(v.vessel.as_str()).await? {
        Some(vessel) => vessel.carrier,
        None => return Err(ApiError::not_found("voyage", &id)),
    };
    policy::may(&p, Command::PlanVoyage { carrier: &carrier })?;
    let plan = VoyagePlan {
        voyage: v.id.clone(),
        planned_arrival: plan_time("/plannedArrival", &req.planned_arrival)?,
        transit_deadline: plan_time("/transitDeadline", &req.transit_deadline)?,
    };
    state.store.set_voyage_plan(&plan).await?;
    Ok(Json(plan_dto(Some(plan))))
}
