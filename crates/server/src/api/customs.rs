//! Customs transit (转关): ships filed with customs, transit declarations and their lifecycle
//! (declare, amend, hold, release, arrive, close with the arrival seal check), holds on single
//! cars, the declaration log, credit records, and per shipment the departure-port tax refund
//! (启运港退税) eligibility and the savings against container transit (JSON, CSV or `.xlsx`).
//!
//! Every refusal is an RFC 9457 problem naming the reason, and the store logs it for customs
//! (the declaration's log) before the answer goes out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jianghai_core::{Step, Vin};
use jianghai_customs::refund::{self, Assessment, RefundRules, ShipmentFacts};
use jianghai_customs::savings::{self, CostModel};
use jianghai_customs::{
    CreditClass, FiledShip, Seal, SealObservation, TaxCredit, TransitAction, TransitDeclaration,
    TransitError,
};
use jianghai_store::{CreditRecord, CustomsError, TransitRecord, VehicleHold, VehicleScope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::extract::{ApiJson, ApiQuery};
use crate::policy::{self, Command, Filings};
use crate::problem::{ApiError, Problem};

impl From<CustomsError> for ApiError {
    fn from(e: CustomsError) -> ApiError {
        match e {
            CustomsError::Missing { what, ref id } => ApiError::not_found(what, id),
            CustomsError::Problems(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "transit-declaration",
                e.to_string(),
            ),
            CustomsError::Refused(TransitError::Seals(_)) => {
                ApiError::new(StatusCode::CONFLICT, "seal-verification", e.to_string())
            }
            CustomsError::Refused(TransitError::NoReason) | CustomsError::Hold(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "hold", e.to_string())
            }
            CustomsError::Refused(_) => {
                ApiError::new(StatusCode::CONFLICT, "transit-state", e.to_string())
            }
            CustomsError::Held { .. } => {
                ApiError::new(StatusCode::CONFLICT, "vehicle-held", e.to_string())
            }
            CustomsError::Append(a) => a.into(),
            CustomsError::Store(s) => s.into(),
            other => ApiError::internal(other),
        }
    }
}

fn vin(field: &str, s: &str) -> Result<Vin, ApiError> {
    Vin::parse(s).map_err(|e| ApiError::field(field, e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Ship filings

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileShipRequest {
    /// A registered vessel; its carrier is the one filing it.
    pub vessel: String,
    /// Navigation positioning equipment on board.
    pub positioning: bool,
    /// Full-voyage video monitoring on board.
    pub video: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShipFilingDto {
    pub vessel: String,
    pub carrier: String,
    pub positioning: bool,
    pub video: bool,
}

fn filing_dto(f: FiledShip) -> ShipFilingDto {
    ShipFilingDto {
        vessel: f.vessel,
        carrier: f.carrier,
        positioning: f.positioning,
        video: f.video,
    }
}

/// File a carrier's ship with customs, with its positioning and video equipment (customs).
#[utoipa::path(post, path = "/customs/ship-filings", tag = "customs", security(("bearer" = [])),
    request_body = FileShipRequest,
    responses((status = 201, body = ShipFilingDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn file_ship(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<FileShipRequest>,
) -> Result<(StatusCode, Json<ShipFilingDto>), ApiError> {
    policy::may(&p, Command::Supervise)?;
    let vessel = state
        .store
        .vessel(&req.vessel)
        .await?
        .ok_or_else(|| ApiError::field("vessel", format!("no vessel {:?}", req.vessel)))?;
    let f = FiledShip {
        vessel: vessel.id.to_string(),
        carrier: vessel.carrier.to_string(),
        positioning: req.positioning,
        video: req.video,
    };
    state.store.file_ship(&f).await?;
    Ok((StatusCode::CREATED, Json(filing_dto(f))))
}

async fn filings_of(state: &AppState, p: &Principal) -> Result<Vec<FiledShip>, ApiError> {
    let all = state.store.filed_ships().await?;
    Ok(match policy::ship_filings(p) {
        Filings::All => all,
        Filings::CarriedBy(c) => all
            .into_iter()
            .filter(|f| f.carrier == c.as_str())
            .collect(),
        Filings::Nothing => Vec::new(),
    })
}

/// The ships filed with customs: all for customs and supervisors, a carrier's own.
#[utoipa::path(get, path = "/customs/ship-filings", tag = "customs", security(("bearer" = [])),
    responses((status = 200, body = [ShipFilingDto])))]
pub async fn list_ship_filings(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<ShipFilingDto>>, ApiError> {
    Ok(Json(
        filings_of(&state, &p)
            .await?
            .into_iter()
            .map(filing_dto)
            .collect(),
    ))
}

/// One ship's filing.
#[utoipa::path(get, path = "/customs/ship-filings/{vessel}", tag = "customs", security(("bearer" = [])),
    params(("vessel" = String, Path)),
    responses((status = 200, body = ShipFilingDto), (status = 404, body = Problem)))]
pub async fn get_ship_filing(
    State(state): State<AppState>,
    p: Principal,
    Path(vessel): Path<String>,
) -> Result<Json<ShipFilingDto>, ApiError> {
    filings_of(&state, &p)
        .await?
        .into_iter()
        .find(|f| f.vessel == vessel)
        .map(|f| Json(filing_dto(f)))
        .ok_or_else(|| ApiError::not_found("ship filing", &vessel))
}

// ---------------------------------------------------------------------------------------------
// Declarations

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeclarationRequest {
    /// The declaration number (6 to 32 letters or digits). On amendment it must match the path.
    pub number: String,
    pub departure_customs: String,
    pub exit_customs: String,
    pub carrier: String,
    pub vessel: String,
    pub voyage: String,
    pub route: String,
    /// RFC 3339; defaults to now.
    pub declared_at: Option<DateTime<Utc>>,
    /// The time limit: the transit must arrive by then (RFC 3339).
    pub deadline: DateTime<Utc>,
    pub vins: Vec<String>,
    /// `{"number", "kind": "mechanical", "class": "I"|"S"|"H", "on"}` or
    /// `{"number", "kind": "electronic", "device", "on"}`; `on` is `deck:<vessel>/<deck>` or
    /// `vehicle:<VIN>`.
    #[schema(value_type = Vec<Object>)]
    pub seals: Vec<Seal>,
}

impl DeclarationRequest {
    fn into_declaration(self, now: DateTime<Utc>) -> Result<TransitDeclaration, ApiError> {
        let vins = self
            .vins
            .iter()
            .enumerate()
            .map(|(i, v)| vin(&format!("/vins/{i}"), v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TransitDeclaration {
            number: self.number,
            departure_customs: self.departure_customs,
            exit_customs: self.exit_customs,
            carrier: self.carrier,
            vessel: self.vessel,
            voyage: self.voyage,
            route: self.route,
            declared_at: self.declared_at.unwrap_or(now),
            deadline: self.deadline,
            vins,
            seals: self.seals,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleHoldDto {
    pub vin: String,
    /// `customs` or `damage`.
    pub kind: String,
    pub reason: String,
    pub held_at: String,
    pub held_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
}

fn hold_dto(h: VehicleHold) -> VehicleHoldDto {
    VehicleHoldDto {
        vin: h.vin.to_string(),
        kind: h.kind,
        reason: h.reason,
        held_at: h.held_at,
        held_by: h.held_by,
        released_at: h.released_at,
        released_by: h.released_by,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitDto {
    pub number: String,
    /// declared, released, held, arrived or closed.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_reason: Option<String>,
    pub declared_by: String,
    pub departure_customs: String,
    pub exit_customs: String,
    pub carrier: String,
    pub vessel: String,
    pub voyage: String,
    pub route: String,
    pub declared_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub vins: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub seals: Vec<Seal>,
    /// Holds on single cars, released ones included.
    pub vehicle_holds: Vec<VehicleHoldDto>,
}

async fn transit_dto(state: &AppState, t: TransitRecord) -> Result<TransitDto, ApiError> {
    let holds = state.store.vehicle_holds(&t.declaration.number).await?;
    let d = t.declaration;
    Ok(TransitDto {
        number: d.number,
        state: t.state.to_string(),
        hold_reason: t.hold_reason,
        declared_by: t.declared_by.to_string(),
        departure_customs: d.departure_customs,
        exit_customs: d.exit_customs,
        carrier: d.carrier,
        vessel: d.vessel,
        voyage: d.voyage,
        route: d.route,
        declared_at: d.declared_at,
        deadline: d.deadline,
        vins: d.vins.iter().map(ToString::to_string).collect(),
        seals: d.seals,
        vehicle_holds: holds.into_iter().map(hold_dto).collect(),
    })
}

async fn may_see(state: &AppState, p: &Principal, t: &TransitRecord) -> Result<bool, ApiError> {
    Ok(match policy::transits(p) {
        None => false,
        Some(VehicleScope::All) => true,
        Some(scope) => !state
            .store
            .vehicles_visible(&t.declaration.vins, &scope)
            .await?
            .is_empty(),
    })
}

/// The declaration `number` if `p` may read it; 404 otherwise.
async fn visible(state: &AppState, p: &Principal, number: &str) -> Result<TransitRecord, ApiError> {
    match state.store.transit(number).await? {
        Some(t) if may_see(state, p, &t).await? => Ok(t),
        _ => Err(ApiError::not_found("transit declaration", number)),
    }
}

/// Declare a transit (customs): refused with every problem (unfiled ship, overlap with another
/// open declaration, bad seals…), which the declaration's log records.
#[utoipa::path(post, path = "/customs/transits", tag = "customs", security(("bearer" = [])),
    request_body = DeclarationRequest,
    responses((status = 201, body = TransitDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn declare(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<DeclarationRequest>,
) -> Result<(StatusCode, Json<TransitDto>), ApiError> {
    policy::may(&p, Command::Supervise)?;
    let now = Utc::now();
    let d = req.into_declaration(now)?;
    let t = state
        .store
        .declare_transit(&d, &p.organisation.id, now)
        .await?;
    Ok((StatusCode::CREATED, Json(transit_dto(&state, t).await?)))
}

/// The declarations `p` may read: all for customs and supervisors, those naming an exporter's
/// cars for it, none for others.
#[utoipa::path(get, path = "/customs/transits", tag = "customs", security(("bearer" = [])),
    responses((status = 200, body = [TransitDto])))]
pub async fn list_transits(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<TransitDto>>, ApiError> {
    let mut out = Vec::new();
    for t in state.store.transits(None).await? {
        if may_see(&state, &p, &t).await? {
            out.push(transit_dto(&state, t).await?);
        }
    }
    Ok(Json(out))
}

/// One declaration with its holds.
#[utoipa::path(get, path = "/customs/transits/{number}", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)),
    responses((status = 200, body = TransitDto), (status = 404, body = Problem)))]
pub async fn get_transit(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> Result<Json<TransitDto>, ApiError> {
    let t = visible(&state, &p, &number).await?;
    Ok(Json(transit_dto(&state, t).await?))
}

/// Amend a declared (or held) transit (customs): the whole declaration again, checked like a
/// new one; it may keep or drop cars, not add them.
#[utoipa::path(put, path = "/customs/transits/{number}", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)), request_body = DeclarationRequest,
    responses((status = 200, body = TransitDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn amend(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(req): ApiJson<DeclarationRequest>,
) -> Result<Json<TransitDto>, ApiError> {
    visible(&state, &p, &number).await?;
    policy::may(&p, Command::Supervise)?;
    if req.number != number {
        return Err(ApiError::field(
            "number",
            "the declaration number cannot change on amendment",
        ));
    }
    let now = Utc::now();
    let d = req.into_declaration(now)?;
    let t = state
        .store
        .amend_transit(&d, &p.organisation.id, now)
        .await?;
    Ok(Json(transit_dto(&state, t).await?))
}

async fn act(
    state: &AppState,
    p: &Principal,
    number: &str,
    action: TransitAction,
) -> Result<Json<TransitDto>, ApiError> {
    visible(state, p, number).await?;
    policy::may(p, Command::Supervise)?;
    let t = state
        .store
        .act_on_transit(number, &action, &p.organisation.id, Utc::now())
        .await?;
    Ok(Json(transit_dto(state, t).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

/// Hold the whole transit with a reason (customs).
#[utoipa::path(post, path = "/customs/transits/{number}/hold", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = TransitDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn hold(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> Result<Json<TransitDto>, ApiError> {
    act(
        &state,
        &p,
        &number,
        TransitAction::Hold { reason: req.reason },
    )
    .await
}

/// Release the transit (customs): from declared, or from a hold. Refused while any of its cars
/// is under hold.
#[utoipa::path(post, path = "/customs/transits/{number}/release", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)),
    responses((status = 200, body = TransitDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> Result<Json<TransitDto>, ApiError> {
    act(&state, &p, &number, TransitAction::Release).await
}

/// Record the transit's arrival at the exit port (customs).
#[utoipa::path(post, path = "/customs/transits/{number}/arrive", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)),
    responses((status = 200, body = TransitDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn arrive(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> Result<Json<TransitDto>, ApiError> {
    act(&state, &p, &number, TransitAction::Arrive).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// The seals found on arrival: `{"number", "on", "state": "sealed"|"opened"}`.
    #[schema(value_type = Vec<Object>)]
    pub found: Vec<SealObservation>,
}

/// Close (核销) an arrived transit (customs) with the seals found: any missing, opened, moved
/// or unknown seal refuses it (409), naming each.
#[utoipa::path(post, path = "/customs/transits/{number}/close", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)), request_body = CloseRequest,
    responses((status = 200, body = TransitDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(req): ApiJson<CloseRequest>,
) -> Result<Json<TransitDto>, ApiError> {
    act(
        &state,
        &p,
        &number,
        TransitAction::Close { found: req.found },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleHoldRequest {
    /// `customs` or `damage`.
    pub kind: String,
    pub reason: String,
}

/// Hold one car of a transit with a reason (customs): a `hold` ledger event; the car cannot
/// move forward in its lifecycle, nor the transit be released, arrive or close, until released.
#[utoipa::path(post, path = "/customs/transits/{number}/vehicles/{vin}/hold", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path), ("vin" = String, Path)), request_body = VehicleHoldRequest,
    responses((status = 201, body = VehicleHoldDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn hold_vehicle(
    State(state): State<AppState>,
    p: Principal,
    Path((number, v)): Path<(String, String)>,
    ApiJson(req): ApiJson<VehicleHoldRequest>,
) -> Result<(StatusCode, Json<VehicleHoldDto>), ApiError> {
    visible(&state, &p, &number).await?;
    policy::may(&p, Command::Supervise)?;
    let v = vin("vin", &v)?;
    let h = state
        .store
        .hold_vehicle(
            &number,
            &v,
            &req.kind,
            &req.reason,
            &p.organisation.id,
            Utc::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(hold_dto(h))))
}

/// Release the hold on one car of a transit (customs): a `release` ledger event. A car not
/// under hold is refused.
#[utoipa::path(post, path = "/customs/transits/{number}/vehicles/{vin}/release", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path), ("vin" = String, Path)),
    responses((status = 200, body = VehicleHoldDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn release_vehicle(
    State(state): State<AppState>,
    p: Principal,
    Path((number, v)): Path<(String, String)>,
) -> Result<Json<VehicleHoldDto>, ApiError> {
    visible(&state, &p, &number).await?;
    policy::may(&p, Command::Supervise)?;
    let v = vin("vin", &v)?;
    let h = state
        .store
        .release_vehicle(&number, &v, &p.organisation.id, Utc::now())
        .await?;
    Ok(Json(hold_dto(h)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransitLogDto {
    pub seq: i64,
    pub at: String,
    pub organisation: String,
    pub action: String,
    /// `done` or `refused`.
    pub outcome: String,
    pub detail: String,
}

/// The declaration's log: every action on it, refusals included, oldest first.
#[utoipa::path(get, path = "/customs/transits/{number}/log", tag = "customs", security(("bearer" = [])),
    params(("number" = String, Path)),
    responses((status = 200, body = [TransitLogDto]), (status = 404, body = Problem)))]
pub async fn transit_log(
    State(state): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> Result<Json<Vec<TransitLogDto>>, ApiError> {
    // A refused declaration leaves a log but no declaration: customs still reads it.
    let log = state.store.transit_log(&number).await?;
    let seen = match state.store.transit(&number).await? {
        Some(t) => may_see(&state, &p, &t).await?,
        None => policy::transits(&p) == Some(VehicleScope::All) && !log.is_empty(),
    };
    if !seen {
        return Err(ApiError::not_found("transit declaration", &number));
    }
    Ok(Json(
        log.into_iter()
            .map(|e| TransitLogDto {
                seq: e.seq,
                at: e.at,
                organisation: e.organisation,
                action: e.action,
                outcome: e.outcome,
                detail: e.detail,
            })
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Credit records, refund, savings

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreditDto {
    /// Export-refund class 1 to 4 (exporters).
    pub refund_class: Option<u8>,
    /// `certified`, `general` or `untrustworthy`.
    #[schema(value_type = Option<String>)]
    pub customs_credit: Option<CreditClass>,
    /// `A`, `B`, `M`, `C` or `D`.
    #[schema(value_type = Option<String>)]
    pub tax_credit: Option<TaxCredit>,
}

/// Record an exporter's or carrier's credit classes (customs): facts of the tax refund.
#[utoipa::path(put, path = "/customs/credit/{organisation}", tag = "customs", security(("bearer" = [])),
    params(("organisation" = String, Path)), request_body = CreditDto,
    responses((status = 200, body = CreditDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_credit(
    State(state): State<AppState>,
    p: Principal,
    Path(org): Path<String>,
    ApiJson(req): ApiJson<CreditDto>,
) -> Result<Json<CreditDto>, ApiError> {
    policy::may(&p, Command::Supervise)?;
    let org = crate::api::ident("organisation", &org)?;
    if state.store.organisation(org.as_str()).await?.is_none() {
        return Err(ApiError::field(
            "organisation",
            format!("no organisation {org}"),
        ));
    }
    if req.refund_class.is_some_and(|c| !(1..=4).contains(&c)) {
        return Err(ApiError::field("refundClass", "1 to 4"));
    }
    let r = CreditRecord {
        refund_class: req.refund_class,
        customs_credit: req.customs_credit,
        tax_credit: req.tax_credit,
    };
    state
        .store
        .record_credit(&org, &r, &p.organisation.id, Utc::now())
        .await?;
    Ok(Json(req))
}

async fn shipment_of(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<jianghai_core::Shipment, ApiError> {
    state
        .store
        .shipment_in(id, &policy::shipments(p))
        .await?
        .ok_or_else(|| ApiError::not_found("shipment", id))
}

/// The declarations naming any of `vins`.
async fn transits_of(state: &AppState, vins: &[Vin]) -> Result<Vec<TransitRecord>, ApiError> {
    Ok(state.store.transits(Some(vins)).await?)
}

/// The recorded facts of a shipment's tax refund.
async fn refund_facts(
    state: &AppState,
    s: &jianghai_core::Shipment,
) -> Result<ShipmentFacts, ApiError> {
    let transits = transits_of(state, &s.vins).await?;
    let voyage = match (&s.voyage, transits.first()) {
        (Some(v), _) => state.store.voyage(v.as_str()).await?,
        (None, Some(t)) => state.store.voyage(&t.declaration.voyage).await?,
        (None, None) => None,
    };
    let (departure_port, exit_port, vessel) = match &voyage {
        Some(v) => (
            v.origin.to_string(),
            v.destination.to_string(),
            Some(v.vessel.clone()),
        ),
        None => (String::new(), String::new(), None),
    };
    let filing = match &vessel {
        Some(v) => state
            .store
            .filed_ships()
            .await?
            .into_iter()
            .find(|f| f.vessel == v.as_str()),
        None => None,
    };
    let carrier = match &vessel {
        Some(v) => state.store.vessel(v.as_str()).await?.map(|v| v.carrier),
        None => None,
    };
    let exporter = state.store.credit(s.exporter.as_str()).await?;
    let carrier_credit = match &carrier {
        Some(c) => state.store.credit(c.as_str()).await?,
        None => None,
    };
    let mut released_at = None;
    for t in &transits {
        if let Some(at) = state
            .store
            .transit_released_at(&t.declaration.number)
            .await?
        {
            released_at = Some(released_at.map_or(at, |r: DateTime<Utc>| r.min(at)));
        }
    }
    let mut ocean_departure = None;
    if let Some(first) = s.vins.first() {
        ocean_departure = state
            .store
            .timeline(first)
            .await?
            .into_iter()
            .filter(|r| r.event.step == Some(Step::Export))
            .map(|r| r.event.event_time.with_timezone(&Utc))
            .min();
    }
    Ok(ShipmentFacts {
        shipment: s.id.to_string(),
        departure_port,
        exit_port,
        exporter_refund_class: exporter.as_ref().and_then(|c| c.refund_class),
        exporter_customs_credit: exporter.as_ref().and_then(|c| c.customs_credit),
        carrier_customs_credit: carrier_credit.as_ref().and_then(|c| c.customs_credit),
        carrier_tax_credit: carrier_credit.as_ref().and_then(|c| c.tax_credit),
        ship_positioning: filing.as_ref().is_some_and(|f| f.positioning),
        ship_video: filing.as_ref().is_some_and(|f| f.video),
        dangerous_goods: !s.dangerous_goods.is_empty(),
        released_at,
        ocean_departure,
    })
}

/// The departure-port tax refund (启运港退税) eligibility of a shipment from recorded facts
/// (its voyage's ports, the filing of its ship, the credit customs recorded, the transit's
/// release and the ocean departure), against the corridor's rule set, with every condition.
#[utoipa::path(get, path = "/shipments/{id}/refund", tag = "customs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn shipment_refund(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = shipment_of(&state, &p, &id).await?;
    let facts = refund_facts(&state, &s).await?;
    let a: Assessment = refund::assess(&RefundRules::corridor_defaults(), &facts);
    Ok(Json(serde_json::json!({ "assessment": a, "facts": facts })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SavingsQuery {
    /// json (default), csv or xlsx.
    pub format: Option<String>,
    /// en (default) or zh.
    pub lang: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Start of the period (RFC 3339), inclusive: transits declared from then.
    pub from: DateTime<Utc>,
    /// End of the period (RFC 3339), exclusive.
    pub to: DateTime<Utc>,
    /// json (default), csv or xlsx.
    pub format: Option<String>,
    /// en (default) or zh.
    pub lang: Option<String>,
}

fn report(
    s: &savings::Savings,
    format: Option<&str>,
    lang: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    let zh = match lang {
        None | Some("en") => false,
        Some("zh") => true,
        Some(_) => return Err(ApiError::field("lang", "en or zh")),
    };
    let file = |bytes: Vec<u8>, ct: &str, ext: &str| {
        (
            [
                (header::CONTENT_TYPE, ct.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.{ext}\""),
                ),
            ],
            bytes,
        )
            .into_response()
    };
    match format {
        None | Some("json") => Ok(Json(s).into_response()),
        Some("csv") => Ok(file(
            savings::csv(s, zh).map_err(ApiError::internal)?,
            "text/csv; charset=utf-8",
            "csv",
        )),
        Some("xlsx") => Ok(file(
            savings::xlsx(s, zh).map_err(ApiError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )),
        Some(_) => Err(ApiError::field("format", "json, csv or xlsx")),
    }
}

/// What a shipment saved against container transit (storage and labour), by cost item, as
/// JSON, CSV or `.xlsx`.
#[utoipa::path(get, path = "/shipments/{id}/savings", tag = "customs", security(("bearer" = [])),
    params(("id" = String, Path), SavingsQuery),
    responses((status = 200, content((Object = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn shipment_savings(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SavingsQuery>,
) -> Result<Response, ApiError> {
    let s = shipment_of(&state, &p, &id).await?;
    let cars = u32::try_from(s.vins.len()).unwrap_or(u32::MAX);
    let report_of = savings::period(&CostModel::corridor_defaults(), &[(s.id.to_string(), cars)]);
    report(
        &report_of,
        q.format.as_deref(),
        q.lang.as_deref(),
        &format!("savings-{}", s.id),
    )
}

/// What the shipments `p` may read saved over a period: those with a car on a transit declared
/// in `[from, to)`, each and in total, as JSON, CSV or `.xlsx`.
#[utoipa::path(get, path = "/customs/savings", tag = "customs", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, content((Object = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn period_savings(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, ApiError> {
    if q.to <= q.from {
        return Err(ApiError::field("to", "must be after from"));
    }
    let declared: Vec<Vin> = state
        .store
        .transits(None)
        .await?
        .into_iter()
        .filter(|t| t.declaration.declared_at >= q.from && t.declaration.declared_at < q.to)
        .flat_map(|t| t.declaration.vins)
        .collect();
    let scope = policy::shipments(&p);
    let mut shipments = Vec::new();
    let mut after = String::new();
    loop {
        let page = state.store.shipments(&scope, &after, 500).await?;
        for s in &page.items {
            if s.vins.iter().any(|v| declared.contains(v)) {
                let cars = u32::try_from(s.vins.len()).unwrap_or(u32::MAX);
                shipments.push((s.id.to_string(), cars));
            }
        }
        match page.next {
            Some(n) => after = n,
            None => break,
        }
    }
    let r = savings::period(&CostModel::corridor_defaults(), &shipments);
    report(
        &r,
        q.format.as_deref(),
        q.lang.as_deref(),
        &format!(
            "savings-{}-{}",
            q.from.format("%Y%m%d"),
            q.to.format("%Y%m%d")
        ),
    )
}
