//! Precise loading (精准装船): vessel deck plans, a voyage's stowage plan and its edits, ramp
//! scans judged against the plan, and load-complete, which departure waits for.
//!
//! Plans, vessels and verdicts are the stowage crate's JSON, passed through as objects.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jianghai_core::{Ident, Vin, Voyage};
use jianghai_store::{
    By, LoadCompletion, LoadingError, NewRampScan, RampScanRecord, StowagePlanRecord,
};
use jianghai_stowage::{self as stowage, Car, Edit, LaneRef, PlanConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{ApiJson, body_bytes};
use crate::policy::{self, Command};
use crate::problem::{ApiError, FieldError, Problem};

impl From<LoadingError> for ApiError {
    fn from(e: LoadingError) -> ApiError {
        match e {
            LoadingError::Missing { .. } | LoadingError::Invalid(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-loading",
                e.to_string(),
            ),
            LoadingError::Violations(_) => {
                ApiError::new(StatusCode::CONFLICT, "plan-violations", e.to_string())
            }
            LoadingError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "loading-state", e.to_string())
            }
            LoadingError::Append(a) => a.into(),
            LoadingError::Store(s) => s.into(),
            other => ApiError::internal(other),
        }
    }
}

/// A problem document with one extension member (RFC 9457 §3.2).
fn problem_with(e: ApiError, key: &str, value: Value) -> Response {
    let mut doc = serde_json::to_value(e.problem()).unwrap_or_default();
    if let Some(o) = doc.as_object_mut() {
        o.insert(key.to_string(), value);
    }
    let mut res = (e.status, Json(doc)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

fn by(p: &Principal) -> By {
    By {
        organisation: p.organisation.id.clone(),
        username: p.username.clone(),
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn media(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn unsupported(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!("send {what}"),
    )
}

fn time(field: &str, t: &Option<String>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    match t {
        None => Ok(now),
        Some(s) => {
            let t = DateTime::parse_from_rfc3339(s)
                .map_err(|e| ApiError::field(field, format!("not an RFC 3339 time: {e}")))?
                .with_timezone(&Utc);
            if t > now + chrono::Duration::minutes(5) {
                return Err(ApiError::field(field, "more than 5 minutes in the future"));
            }
            Ok(t)
        }
    }
}

/// The voyage `id` if `p` may see it (404 otherwise), with the carrier of its vessel and the
/// operator of its loading facility.
async fn voyage_of(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<(Voyage, Ident, Ident), ApiError> {
    let v = state
        .store
        .voyage_in(id, &policy::voyages(p))
        .await?
        .ok_or_else(|| ApiError::not_found("voyage", id))?;
    let vessel = state
        .store
        .vessel(v.vessel.as_str())
        .await?
        .ok_or_else(|| ApiError::internal("voyage without its vessel"))?;
    let port = state
        .store
        .facility(v.origin.as_str())
        .await?
        .ok_or_else(|| ApiError::internal("voyage without its origin"))?;
    Ok((v, vessel.carrier, port.operator))
}

// ---------------------------------------------------------------------------------------------
// Deck plans

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeckPlanDto {
    pub vessel: String,
    /// The vessel model: decks, lanes, spacing, fire and EV zones, balance limits (the
    /// format `jianghai stowage plan --vessel` takes).
    #[schema(value_type = Object)]
    pub deck_plan: Value,
    pub decks: usize,
    pub lanes: usize,
    /// Total lane length, metres.
    pub lane_metres: f64,
    /// Rough capacity in car equivalent units.
    pub ceu_estimate: i64,
    pub updated_at: String,
    pub organisation: String,
    pub username: String,
}

fn deck_plan_dto(r: jianghai_store::DeckPlanRecord) -> DeckPlanDto {
    DeckPlanDto {
        vessel: r.vessel.to_string(),
        decks: r.deck_plan.decks.len(),
        lanes: r.deck_plan.lanes().count(),
        lane_metres: r.deck_plan.total_lane_mm() as f64 / 1000.0,
        ceu_estimate: r.deck_plan.ceu_estimate(),
        deck_plan: to_value(&r.deck_plan),
        updated_at: r.updated_at,
        organisation: r.organisation.to_string(),
        username: r.username,
    }
}

/// Set a vessel's deck plan (its carrier): the vessel JSON, validated whole (every problem
/// is listed).
#[utoipa::path(put, path = "/vessels/{id}/deck-plan", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content((Object = "application/json"))),
    responses((status = 200, body = DeckPlanDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_deck_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<DeckPlanDto>, ApiError> {
    if !state
        .store
        .vessel_visible(&id, &policy::voyages(&p))
        .await?
    {
        return Err(ApiError::not_found("vessel", &id));
    }
    let vessel = state
        .store
        .vessel(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("vessel", &id))?;
    policy::may(
        &p,
        Command::Stow {
            carrier: &vessel.carrier,
        },
    )?;
    if !crate::extract::is_json(Some(&media(&req))) {
        return Err(unsupported("the deck plan as application/json"));
    }
    let bytes = body_bytes(req, &state).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::field("/", "the deck plan is not UTF-8"))?;
    let deck_plan = stowage::Vessel::from_json(text).map_err(|e| match e {
        stowage::VesselError::Invalid(problems) => ApiError::validation(
            problems
                .iter()
                .map(|pr| FieldError::new(pr.at.clone(), pr.what.clone()))
                .collect(),
        ),
        other => ApiError::field("/", other.to_string()),
    })?;
    let rec = state
        .store
        .put_deck_plan(&vessel.id, &deck_plan, &by(&p), Utc::now())
        .await?;
    Ok(Json(deck_plan_dto(rec)))
}

/// A vessel's deck plan (404 when the vessel is not visible or has none).
#[utoipa::path(get, path = "/vessels/{id}/deck-plan", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeckPlanDto), (status = 404, body = Problem)))]
pub async fn get_deck_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<DeckPlanDto>, ApiError> {
    state
        .store
        .deck_plan_in(&id, &policy::voyages(&p))
        .await?
        .map(|r| Json(deck_plan_dto(r)))
        .ok_or_else(|| ApiError::not_found("deck plan of vessel", &id))
}

// ---------------------------------------------------------------------------------------------
// Stowage plans

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnplacedDto {
    pub vin: String,
    /// Position in the car list, from 0.
    pub car_index: usize,
    #[schema(value_type = Object)]
    pub reason: Value,
    /// The reason in words.
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StowagePlanDto {
    pub voyage: String,
    pub vessel: String,
    pub version: i64,
    /// Placements (VIN, deck, lane, position from the lane's fore end, load sequence),
    /// unplaced cars and locked lanes.
    #[schema(value_type = Object)]
    pub plan: Value,
    /// Cars the planner could not place, with the reason.
    pub unplaced: Vec<UnplacedDto>,
    /// `check` of the plan: always empty for a stored plan.
    pub violations: Vec<String>,
    /// Lane-metre utilisation against the computed upper bound, balance moments (absent when
    /// the plan is narrowed to one exporter's cars).
    #[schema(value_type = Option<Object>)]
    pub quality: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub cars: Vec<Value>,
    /// Only the caller's own cars are shown.
    pub narrowed: bool,
    pub created_at: String,
    pub updated_at: String,
    pub organisation: String,
    pub username: String,
}

fn plan_dto(r: StowagePlanRecord) -> StowagePlanDto {
    let violations = stowage::check(&r.plan, &r.deck_plan, &r.cars)
        .iter()
        .map(ToString::to_string)
        .collect();
    let quality = (!r.narrowed).then(|| {
        let q = stowage::quality(&r.plan, &r.deck_plan, &r.cars);
        let mut v = to_value(&q);
        if let Some(o) = v.as_object_mut() {
            o.insert("pctOfBound".into(), q.pct_of_bound().into());
            o.insert("utilisationPct".into(), q.utilisation_pct().into());
        }
        v
    });
    StowagePlanDto {
        voyage: r.voyage.to_string(),
        vessel: r.vessel.to_string(),
        version: r.version,
        unplaced: r
            .plan
            .unplaced
            .iter()
            .map(|u| UnplacedDto {
                vin: u.vin.clone(),
                car_index: u.car_index,
                reason: to_value(&u.reason),
                explanation: u.reason.to_string(),
            })
            .collect(),
        plan: to_value(&r.plan),
        violations,
        quality,
        cars: r.cars.iter().map(to_value).collect(),
        narrowed: r.narrowed,
        created_at: r.created_at,
        updated_at: r.updated_at,
        organisation: r.organisation.to_string(),
        username: r.username,
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CarsBody {
    List(Vec<Car>),
    WithConfig {
        cars: Vec<Car>,
        #[serde(default)]
        config: Option<PlanConfig>,
    },
}

/// Plan a voyage's cars on its vessel's deck plan (the vessel's carrier): a JSON array of
/// cars (or `{"cars": [...], "config": {...}}`), or the CSV `jianghai stowage plan --cars`
/// takes (`text/csv`; every bad row is listed). Cars that cannot be placed come back with
/// the reason. Replaces the voyage's plan until loading starts.
#[utoipa::path(post, path = "/voyages/{id}/stowage-plan", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content((Object = "application/json"), (String = "text/csv"))),
    responses((status = 201, body = StowagePlanDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create_stowage_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    req: Request,
) -> Result<(StatusCode, Json<StowagePlanDto>), ApiError> {
    let (voyage, carrier, _) = voyage_of(&state, &p, &id).await?;
    policy::may(&p, Command::Stow { carrier: &carrier })?;
    let m = media(&req);
    let bytes = body_bytes(req, &state).await?;
    let (cars, config) = if m == "text/csv" {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::field("/", "the car list is not UTF-8"))?;
        let (cars, errors) =
            stowage::parse_cars_csv(text).map_err(|e| ApiError::field("/", e.to_string()))?;
        if !errors.is_empty() {
            return Err(ApiError::validation(
                errors
                    .iter()
                    .map(|r| FieldError::at_line(r.line, "/", r.message.clone()))
                    .collect(),
            ));
        }
        (cars, PlanConfig::default())
    } else if crate::extract::is_json(Some(&m)) {
        match serde_json::from_slice::<CarsBody>(&bytes) {
            Ok(CarsBody::List(cars)) => (cars, PlanConfig::default()),
            Ok(CarsBody::WithConfig { cars, config }) => (cars, config.unwrap_or_default()),
            Err(e) => {
                return Err(ApiError::field(
                    "/",
                    format!(
                        "not a car list (an array of cars with vin, model, length_mm, width_mm, height_mm, weight_kg, powertrain, discharge): {e}"
                    ),
                ));
            }
        }
    } else {
        return Err(unsupported("the car list as application/json or text/csv"));
    };
    let rec = state
        .store
        .create_stowage_plan(&voyage.id, cars, &config, &by(&p), Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(plan_dto(rec))))
}

/// A voyage's stowage plan, re-checked, with its quality (404 outside the caller's scope; an
/// exporter sees only its own cars).
#[utoipa::path(get, path = "/voyages/{id}/stowage-plan", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = StowagePlanDto), (status = 404, body = Problem)))]
pub async fn get_stowage_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<StowagePlanDto>, ApiError> {
    state
        .store
        .stowage_plan_in(&id, &policy::loading(&p))
        .await?
        .map(|r| Json(plan_dto(r)))
        .ok_or_else(|| ApiError::not_found("stowage plan of voyage", &id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EditRequest {
    /// `{"kind": "move_car", "vin", "to": {"deck", "lane"}, "position_mm"?}`,
    /// `{"kind": "leave_behind", "vin"}`, `{"kind": "lock_lane", "lane": {"deck", "lane"}}`
    /// or `{"kind": "unlock_lane", …}`.
    #[schema(value_type = Object)]
    pub edit: Value,
    /// The version the edit was made on; a stale one is refused (409).
    pub version: Option<i64>,
}

/// Edit a voyage's plan (its carrier): the plan is re-checked, and an edit that leaves
/// violations is refused with them (409, `violations`), changing nothing. Each accepted edit
/// is a ledger event.
#[utoipa::path(post, path = "/voyages/{id}/stowage-plan/edits", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = EditRequest,
    responses((status = 200, body = StowagePlanDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn edit_stowage_plan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EditRequest>,
) -> Result<Response, ApiError> {
    let (voyage, carrier, _) = voyage_of(&state, &p, &id).await?;
    policy::may(&p, Command::Stow { carrier: &carrier })?;
    let edit: Edit = serde_json::from_value(req.edit)
        .map_err(|e| ApiError::field("/edit", format!("not a plan edit: {e}")))?;
    match state
        .store
        .edit_stowage_plan(&voyage.id, &edit, req.version, &by(&p), Utc::now())
        .await
    {
        Ok(rec) => Ok(Json(plan_dto(rec)).into_response()),
        Err(LoadingError::Violations(v)) => {
            let list: Vec<String> = v.iter().map(ToString::to_string).collect();
            let e: ApiError = LoadingError::Violations(v).into();
            Ok(problem_with(e, "violations", to_value(&list)))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Ramp scans and load-complete

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RampScanRequest {
    /// Chosen by the client so a retry is recognised (default: a new id).
    pub id: Option<Uuid>,
    pub vin: String,
    pub deck: String,
    pub lane: String,
    /// RFC 3339 with offset (default: now).
    pub time: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RampScanDto {
    pub id: Uuid,
    pub voyage: String,
    pub n: i64,
    pub vin: String,
    pub deck: String,
    pub lane: String,
    pub at: String,
    /// ok, wrong_slot (with planned and scanned), unplanned, not_tallied, out_of_sequence
    /// (with waiting_for) or duplicate.
    #[schema(value_type = Object)]
    pub verdict: Value,
    /// Why the ledger refused the load step of a scan the plan accepted.
    pub refusal: Option<String>,
    /// The car is aboard (its load step is on the ledger).
    pub accepted: bool,
    pub seq: Option<i64>,
    /// The alert a refused scan raised.
    pub alert: Option<Uuid>,
    pub username: String,
}

fn scan_dto(r: RampScanRecord) -> RampScanDto {
    RampScanDto {
        id: r.id,
        voyage: r.voyage.to_string(),
        n: r.n,
        vin: r.vin.to_string(),
        deck: r.slot.deck,
        lane: r.slot.lane,
        at: r.at,
        verdict: to_value(&r.outcome),
        refusal: r.refusal,
        accepted: r.accepted,
        seq: r.seq,
        alert: r.alert,
        username: r.username,
    }
}

/// A scan at the ramp (the vessel's carrier or the port of the loading facility): 201 when
/// the car is loaded (its load step on the ledger); 200 for a car already aboard; 409 with
/// the verdict when refused (wrong slot: planned vs scanned; out of sequence: the cars it
/// waits for; not tallied; not in the plan), which also raises an alert on the car.
#[utoipa::path(post, path = "/voyages/{id}/ramp-scans", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RampScanRequest,
    responses((status = 201, body = RampScanDto), (status = 200, body = RampScanDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn ramp_scan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RampScanRequest>,
) -> Result<Response, ApiError> {
    let (voyage, carrier, port) = voyage_of(&state, &p, &id).await?;
    policy::may(
        &p,
        Command::ScanAtRamp {
            carrier: &carrier,
            port: &port,
        },
    )?;
    let vin = Vin::parse(req.vin.trim()).map_err(|e| ApiError::field("/vin", e.to_string()))?;
    for (field, v) in [("/deck", &req.deck), ("/lane", &req.lane)] {
        if v.trim().is_empty() || v.len() > 64 {
            return Err(ApiError::field(field, "1 to 64 characters"));
        }
    }
    let now = Utc::now();
    let scan = NewRampScan {
        id: req.id.unwrap_or_else(Uuid::new_v4),
        vin,
        slot: LaneRef {
            deck: req.deck.trim().to_string(),
            lane: req.lane.trim().to_string(),
        },
        at: time("/time", &req.time, now)?,
    };
    let r = state.store.load_scan(&voyage.id, &scan, &by(&p)).await?;
    if r.accepted {
        return Ok((StatusCode::CREATED, Json(scan_dto(r))).into_response());
    }
    if r.outcome == stowage::ScanOutcome::Duplicate {
        return Ok((StatusCode::OK, Json(scan_dto(r))).into_response());
    }
    let detail = match (&r.outcome, &r.refusal) {
        (stowage::ScanOutcome::WrongSlot { planned, scanned }, _) => {
            format!(
                "{} is planned for {planned}, not {scanned}; not loaded",
                r.vin
            )
        }
        (stowage::ScanOutcome::OutOfSequence { waiting_for }, _) => format!(
            "{} is out of sequence in {}: waiting for {}; not loaded",
            r.vin,
            r.slot,
            waiting_for.join(", ")
        ),
        (stowage::ScanOutcome::NotTallied, _) => {
            format!("{} was not tallied at the yard; not loaded", r.vin)
        }
        (stowage::ScanOutcome::Unplanned, _) => {
            format!("{} is not in the stowage plan; not loaded", r.vin)
        }
        (_, Some(why)) => format!("{} cannot be loaded: {why}", r.vin),
        _ => format!("{} was not loaded", r.vin),
    };
    let e = ApiError::new(StatusCode::CONFLICT, "scan-refused", detail);
    Ok(problem_with(e, "scan", to_value(&scan_dto(r))))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadCompleteDto {
    pub voyage: String,
    pub at: String,
    pub loaded_ok: usize,
    pub left_behind: Vec<String>,
    pub extra: Vec<String>,
    /// (VIN, planned, aboard in) of cars in another lane than planned.
    #[schema(value_type = Vec<Object>)]
    pub wrong_slot: Vec<Value>,
    pub not_tallied: Vec<String>,
    /// Whether the voyage may depart: nothing left behind, extra, misplaced or untallied.
    pub departure_allowed: bool,
    pub event_id: Uuid,
}

fn completion_dto(c: LoadCompletion) -> LoadCompleteDto {
    let r = c.reconciliation;
    LoadCompleteDto {
        voyage: c.voyage.to_string(),
        at: c.at,
        loaded_ok: r.loaded_ok,
        wrong_slot: r
            .wrong_slot
            .iter()
            .map(|(v, planned, aboard)| {
                serde_json::json!({"vin": v, "planned": planned, "aboard": aboard})
            })
            .collect(),
        left_behind: r.left_behind,
        extra: r.extra,
        not_tallied: r.not_tallied,
        departure_allowed: r.departure_allowed,
        event_id: c.event_id,
    }
}

/// Reconcile the plan against what was loaded (the vessel's carrier); a ledger event. The
/// voyage's `depart` step is refused until a load-complete allowed it.
#[utoipa::path(post, path = "/voyages/{id}/load-complete", tag = "loading", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = LoadCompleteDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn load_complete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<LoadCompleteDto>, ApiError> {
    let (voyage, carrier, _) = voyage_of(&state, &p, &id).await?;
    policy::may(&p, Command::Stow { carrier: &carrier })?;
    let c = state
        .store
        .load_complete(&voyage.id, &by(&p), Utc::now())
        .await?;
    Ok(Json(completion_dto(c)))
}

/// The voyage's departure gate, for the `depart` step: 409 naming what is left behind,
/// extra or misplaced while a voyage with a stowage plan has no load-complete allowing it.
pub(crate) async fn departure_gate(state: &AppState, voyage: &Ident) -> Result<(), ApiError> {
    match state.store.departure_blocker(voyage.as_str()).await? {
        None => Ok(()),
        Some(why) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "departure-blocked",
            format!("{why}; nothing was recorded"),
        )),
    }
}
