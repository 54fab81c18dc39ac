//! The corridor: facilities, vessels, voyages, shipments, vehicles (with manifests and their
//! timelines), business-step events and the ledger's verification status.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use chrono::{DateTime, FixedOffset, Utc};
use jianghai_core::{
    Actor, Event, Facility, FacilityKind, Ident, OrgKind, Position, Shipment, Step, UnNumber,
    Vessel, VesselKind, Vin, Voyage,
};
use jianghai_store::{AppendError, Recorded, ShipmentError, VehicleRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{PageDto, ident};
use crate::AppState;
use crate::auth::Principal;
use crate::extract::{ApiJson, Paging, body_bytes, is_json, parse_json};
use crate::policy::{self, Command};
use crate::problem::{ApiError, FieldError, Problem};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FacilityDto {
    pub id: String,
    pub name: String,
    /// consolidation_yard, river_terminal, sea_terminal or customs_office.
    pub kind: String,
    /// The organisation operating it.
    pub operator: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

fn facility_dto(f: Facility) -> FacilityDto {
    FacilityDto {
        id: f.id.to_string(),
        name: f.name,
        kind: f.kind.as_str().to_string(),
        operator: f.operator.to_string(),
        lat: f.position.map(|p| p.lat),
        lon: f.position.map(|p| p.lon),
    }
}

/// Register a facility (operator administrators, or a port's administrators for its own).
#[utoipa::path(post, path = "/facilities", tag = "facilities", security(("bearer" = [])),
    request_body = FacilityDto,
    responses((status = 201, body = FacilityDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_facility(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<FacilityDto>,
) -> Result<(StatusCode, Json<FacilityDto>), ApiError> {
    let operator = ident("/operator", &req.operator)?;
    policy::may(
        &p,
        Command::CreateFacility {
            operator: &operator,
        },
    )?;
    let position = match (req.lat, req.lon) {
        (Some(lat), Some(lon)) => {
            let pos = Position { lat, lon };
            if !pos.is_valid() {
                return Err(ApiError::field("/lat", "not a WGS-84 coordinate"));
            }
            Some(pos)
        }
        (None, None) => None,
        _ => return Err(ApiError::field("/lon", "give both lat and lon, or neither")),
    };
    let f = Facility {
        id: ident("/id", &req.id)?,
        name: non_empty("/name", &req.name)?,
        kind: FacilityKind::parse(&req.kind).ok_or_else(|| {
            ApiError::field(
                "/kind",
                "one of consolidation_yard, river_terminal, sea_terminal, customs_office",
            )
        })?,
        operator,
        position,
    };
    state.store.create_facility(&f).await?;
    Ok((StatusCode::CREATED, Json(facility_dto(f))))
}

fn non_empty(field: &str, s: &str) -> Result<String, ApiError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(ApiError::field(field, "1 to 200 characters"));
    }
    Ok(t.to_string())
}

/// Facilities: corridor reference data every party reads.
#[utoipa::path(get, path = "/facilities", tag = "facilities", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<FacilityDto>)))]
pub async fn list_facilities(
    State(state): State<AppState>,
    _p: Principal,
    page: Paging,
) -> Result<Json<PageDto<FacilityDto>>, ApiError> {
    let page = state.store.facilities(&page.after, page.limit).await?;
    Ok(Json(PageDto::map(page, facility_dto)))
}

/// One facility.
#[utoipa::path(get, path = "/facilities/{id}", tag = "facilities", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = FacilityDto), (status = 404, body = Problem)))]
pub async fn get_facility(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> Result<Json<FacilityDto>, ApiError> {
    state
        .store
        .facility(&id)
        .await?
        .map(|f| Json(facility_dto(f)))
        .ok_or_else(|| ApiError::not_found("facility", &id))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VesselDto {
    pub id: String,
    pub name: String,
    /// river_ro_ro or ocean_pctc.
    pub kind: String,
    pub carrier: String,
    pub mmsi: Option<u32>,
    pub imo: Option<u32>,
}

fn vessel_dto(v: Vessel) -> VesselDto {
    VesselDto {
        id: v.id.to_string(),
        name: v.name,
        kind: match v.kind {
            VesselKind::RiverRoRo => "river_ro_ro",
            VesselKind::OceanPctc => "ocean_pctc",
        }
        .into(),
        carrier: v.carrier.to_string(),
        mmsi: v.mmsi,
        imo: v.imo,
    }
}

/// Register a vessel (its carrier, or operator administrators).
#[utoipa::path(post, path = "/vessels", tag = "voyages", security(("bearer" = [])),
    request_body = VesselDto,
    responses((status = 201, body = VesselDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_vessel(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<VesselDto>,
) -> Result<(StatusCode, Json<VesselDto>), ApiError> {
    let carrier = ident("/carrier", &req.carrier)?;
    policy::may(&p, Command::Schedule { carrier: &carrier })?;
    let v = Vessel {
        id: ident("/id", &req.id)?,
        name: non_empty("/name", &req.name)?,
        kind: match req.kind.as_str() {
            "river_ro_ro" => VesselKind::RiverRoRo,
            "ocean_pctc" => VesselKind::OceanPctc,
            _ => return Err(ApiError::field("/kind", "river_ro_ro or ocean_pctc")),
        },
        carrier,
        mmsi: req.mmsi,
        imo: req.imo,
    };
    state.store.create_vessel(&v).await?;
    Ok((StatusCode::CREATED, Json(vessel_dto(v))))
}

/// Vessels the caller may see.
#[utoipa::path(get, path = "/vessels", tag = "voyages", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<VesselDto>)))]
pub async fn list_vessels(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<VesselDto>>, ApiError> {
    let scope = policy::voyages(&p);
    let page = state.store.vessels(&scope, &page.after, page.limit).await?;
    Ok(Json(PageDto::map(page, vessel_dto)))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VoyageDto {
    pub id: String,
    pub vessel: String,
    pub origin: String,
    pub destination: String,
}

fn voyage_dto(v: Voyage) -> VoyageDto {
    VoyageDto {
        id: v.id.to_string(),
        vessel: v.vessel.to_string(),
        origin: v.origin.to_string(),
        destination: v.destination.to_string(),
    }
}

/// Schedule a voyage of one of the caller's vessels (carriers, operator administrators).
#[utoipa::path(post, path = "/voyages", tag = "voyages", security(("bearer" = [])),
    request_body = VoyageDto,
    responses((status = 201, body = VoyageDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_voyage(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<VoyageDto>,
) -> Result<(StatusCode, Json<VoyageDto>), ApiError> {
    let vessel_id = ident("/vessel", &req.vessel)?;
    // A vessel of another carrier reads as absent, like any object outside the caller's scope.
    let Some(vessel) = state.store.vessel(vessel_id.as_str()).await? else {
        policy::may(
            &p,
            Command::Schedule {
                carrier: &p.organisation.id,
            },
        )?;
        return Err(ApiError::field(
            "/vessel",
            format!("there is no vessel {vessel_id} of yours"),
        ));
    };
    policy::may(
        &p,
        Command::Schedule {
            carrier: &vessel.carrier,
        },
    )
    .map_err(|e| {
        if p.kind() == OrgKind::Carrier {
            ApiError::field(
                "/vessel",
                format!("there is no vessel {vessel_id} of yours"),
            )
        } else {
            e
        }
    })?;
    let v = Voyage {
        id: ident("/id", &req.id)?,
        vessel: vessel_id,
        origin: ident("/origin", &req.origin)?,
        destination: ident("/destination", &req.destination)?,
    };
    state.store.create_voyage(&v).await?;
    Ok((StatusCode::CREATED, Json(voyage_dto(v))))
}

/// Voyages the caller may see.
#[utoipa::path(get, path = "/voyages", tag = "voyages", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<VoyageDto>)))]
pub async fn list_voyages(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<VoyageDto>>, ApiError> {
    let scope = policy::voyages(&p);
    let page = state.store.voyages(&scope, &page.after, page.limit).await?;
    Ok(Json(PageDto::map(page, voyage_dto)))
}

/// One voyage, if visible to the caller (404 otherwise).
#[utoipa::path(get, path = "/voyages/{id}", tag = "voyages", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = VoyageDto), (status = 404, body = Problem)))]
pub async fn get_voyage(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<VoyageDto>, ApiError> {
    let scope = policy::voyages(&p);
    state
        .store
        .voyage_in(&id, &scope)
        .await?
        .map(|v| Json(voyage_dto(v)))
        .ok_or_else(|| ApiError::not_found("voyage", &id))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ShipmentDto {
    pub id: String,
    /// Set by the server to the caller's organisation.
    #[serde(default)]
    pub exporter: Option<String>,
    /// ISO 3166 alpha-2, e.g. MX.
    pub destination_country: String,
    pub vins: Vec<String>,
    /// The river voyage the shipment is booked on; its carrier and ports then see its cars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voyage: Option<String>,
    /// Dangerous goods declared with the shipment, as UN numbers (e.g. `UN3171`, a
    /// battery-powered vehicle); absent or empty when none. The tax-refund assessment reads it.
    #[serde(default)]
    pub dangerous_goods: Vec<String>,
}

fn shipment_dto(s: Shipment) -> ShipmentDto {
    ShipmentDto {
        id: s.id.to_string(),
        exporter: Some(s.exporter.to_string()),
        destination_country: s.destination_country,
        vins: s.vins.iter().map(|v| v.to_string()).collect(),
        voyage: s.voyage.map(|v| v.to_string()),
        dangerous_goods: s.dangerous_goods.iter().map(ToString::to_string).collect(),
    }
}

/// Booking a shipment on a voyage.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Booking {
    pub voyage: String,
}

/// A voyage that the caller may book on, or a field error naming it.
async fn bookable(
    state: &AppState,
    p: &Principal,
    field: &str,
    v: &str,
) -> Result<Ident, ApiError> {
    let voyage = ident(field, v)?;
    match state
        .store
        .voyage_in(voyage.as_str(), &policy::voyages(p))
        .await?
    {
        Some(_) => Ok(voyage),
        None => Err(ApiError::field(
            field,
            format!("there is no voyage {voyage}"),
        )),
    }
}

/// Book one of the caller's shipments on a river voyage (exporters). From then on the voyage's
/// carrier and the ports it touches see the shipment's cars, so they can gate, tally and load
/// them.
#[utoipa::path(put, path = "/shipments/{id}/voyage", tag = "shipments", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Booking,
    responses((status = 200, body = ShipmentDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn book_shipment(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Booking>,
) -> Result<Json<ShipmentDto>, ApiError> {
    policy::may(&p, Command::CreateShipment)?;
    let voyage = bookable(&state, &p, "/voyage", &req.voyage).await?;
    if !state
        .store
        .book_shipment(&id, &p.organisation.id, &voyage)
        .await?
    {
        return Err(ApiError::not_found("shipment", &id));
    }
    get_shipment(State(state), p, Path(id)).await
}

fn parse_vins(field: &str, vins: &[String]) -> Result<Vec<Vin>, ApiError> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(vins.len());
    let mut seen = std::collections::HashSet::new();
    for (i, v) in vins.iter().enumerate() {
        match Vin::parse(v) {
            Ok(vin) if seen.insert(vin) => out.push(vin),
            Ok(vin) => errors.push(FieldError::new(
                format!("{field}/{i}"),
                format!("VIN {vin} appears more than once"),
            )),
            Err(e) => errors.push(FieldError::new(format!("{field}/{i}"), e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Book registered vehicles of the caller (an exporter) into a shipment, all or nothing.
#[utoipa::path(post, path = "/shipments", tag = "shipments", security(("bearer" = [])),
    request_body = ShipmentDto,
    responses((status = 201, body = ShipmentDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_shipment(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<ShipmentDto>,
) -> Result<(StatusCode, Json<ShipmentDto>), ApiError> {
    policy::may(&p, Command::CreateShipment)?;
    let id = ident("/id", &req.id)?;
    let country = req.destination_country.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ApiError::field(
            "/destinationCountry",
            "an ISO 3166 alpha-2 code, e.g. MX",
        ));
    }
    if req.vins.is_empty() || req.vins.len() > 10_000 {
        return Err(ApiError::field("/vins", "1 to 10,000 VINs"));
    }
    let vins = parse_vins("/vins", &req.vins)?;
    let mut dangerous_goods = Vec::with_capacity(req.dangerous_goods.len());
    for (i, u) in req.dangerous_goods.iter().enumerate() {
        let u = UnNumber::parse(u)
            .map_err(|e| ApiError::field(&format!("/dangerousGoods/{i}"), e.to_string()))?;
        if !dangerous_goods.contains(&u) {
            dangerous_goods.push(u);
        }
    }
    dangerous_goods.sort();
    let voyage = match &req.voyage {
        Some(v) => Some(bookable(&state, &p, "/voyage", v).await?),
        None => None,
    };
    let s = Shipment {
        id,
        exporter: p.organisation.id.clone(),
        destination_country: country,
        vins,
        voyage,
        dangerous_goods,
    };
    match state.store.create_shipment(&s).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(shipment_dto(s)))),
        Err(ShipmentError::UnknownVin(v)) => {
            let i = s.vins.iter().position(|x| *x == v).unwrap_or(0);
            Err(ApiError::field(
                &format!("/vins/{i}"),
                format!("there is no registered vehicle {v} of yours"),
            ))
        }
        Err(ShipmentError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Shipments the caller may see.
#[utoipa::path(get, path = "/shipments", tag = "shipments", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<ShipmentDto>)))]
pub async fn list_shipments(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<ShipmentDto>>, ApiError> {
    let scope = policy::shipments(&p);
    let page = state
        .store
        .shipments(&scope, &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, shipment_dto)))
}

/// One shipment, if visible to the caller (404 otherwise).
#[utoipa::path(get, path = "/shipments/{id}", tag = "shipments", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ShipmentDto), (status = 404, body = Problem)))]
pub async fn get_shipment(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ShipmentDto>, ApiError> {
    let scope = policy::shipments(&p);
    state
        .store
        .shipment_in(&id, &scope)
        .await?
        .map(|s| Json(shipment_dto(s)))
        .ok_or_else(|| ApiError::not_found("shipment", &id))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleDto {
    pub vin: String,
    pub state: String,
    pub held_from: Option<String>,
    pub exporter: String,
    pub manufacturer: Option<String>,
    pub model_year: Option<i32>,
    pub last_seq: i64,
    pub updated_at: String,
}

fn vehicle_dto(v: VehicleRecord) -> VehicleDto {
    VehicleDto {
        vin: v.vin.to_string(),
        state: v.status.state.as_str().to_string(),
        held_from: v.status.held_from.map(|s| s.as_str().to_string()),
        exporter: v.exporter.to_string(),
        manufacturer: v.manufacturer,
        model_year: v.model_year,
        last_seq: v.last_seq,
        updated_at: v.updated_at,
    }
}

/// Vehicles the caller may see, by VIN.
#[utoipa::path(get, path = "/vehicles", tag = "vehicles", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<VehicleDto>)))]
pub async fn list_vehicles(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<VehicleDto>>, ApiError> {
    let scope = policy::vehicles(&p);
    let page = state
        .store
        .vehicles(&scope, &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, vehicle_dto)))
}

async fn visible_vehicle(
    state: &AppState,
    p: &Principal,
    vin: &str,
) -> Result<VehicleRecord, ApiError> {
    let not_found = || ApiError::not_found("vehicle", vin);
    let parsed = Vin::parse(vin).map_err(|_| not_found())?;
    state
        .store
        .vehicle_in(&parsed, &policy::vehicles(p))
        .await?
        .ok_or_else(not_found)
}

/// One vehicle's current state, if visible to the caller (404 otherwise).
#[utoipa::path(get, path = "/vehicles/{vin}", tag = "vehicles", security(("bearer" = [])),
    params(("vin" = String, Path)),
    responses((status = 200, body = VehicleDto), (status = 404, body = Problem)))]
pub async fn get_vehicle(
    State(state): State<AppState>,
    p: Principal,
    Path(vin): Path<String>,
) -> Result<Json<VehicleDto>, ApiError> {
    Ok(Json(vehicle_dto(visible_vehicle(&state, &p, &vin).await?)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedDto {
    pub seq: i64,
    pub record_time: String,
    pub hash: String,
    /// The event as an EPCIS 2.0 ObjectEvent.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
}

fn recorded_dto(r: Recorded) -> RecordedDto {
    RecordedDto {
        seq: r.seq,
        event: jianghai_core::epcis::object_event(&r.event, Some(&r.record_time)),
        record_time: r.record_time,
        hash: r.hash,
    }
}

/// A vehicle's full timeline in event-time order, if visible to the caller.
#[utoipa::path(get, path = "/vehicles/{vin}/timeline", tag = "vehicles", security(("bearer" = [])),
    params(("vin" = String, Path)),
    responses((status = 200, body = Vec<RecordedDto>), (status = 404, body = Problem)))]
pub async fn timeline(
    State(state): State<AppState>,
    p: Principal,
    Path(vin): Path<String>,
) -> Result<Json<Vec<RecordedDto>>, ApiError> {
    let v = visible_vehicle(&state, &p, &vin).await?;
    let events = state.store.timeline(&v.vin).await?;
    Ok(Json(events.into_iter().map(recorded_dto).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestJson {
    pub vins: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptDto {
    pub event_id: Uuid,
    pub seq: i64,
    pub record_time: String,
    pub hash: String,
    /// The event id was already recorded with the same content; nothing new was written.
    pub duplicate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestAccepted {
    pub registered: usize,
    pub receipts: Vec<ReceiptDto>,
}

/// The media type of an Excel workbook.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Parses a CSV or `.xlsx` manifest with the tally crate's row validation (VIN, make and
/// model, dimensions, weight, powertrain, state of charge, destination); every bad row is
/// reported with its line. Returns the VINs and their lines.
fn parse_manifest(
    bytes: &[u8],
    xlsx: bool,
    charset: Option<&str>,
) -> Result<(Vec<Vin>, Vec<u64>), ApiError> {
    use jianghai_tally::ManifestError as E;
    let parsed = if xlsx {
        jianghai_tally::manifest::parse_xlsx(bytes)
    } else {
        jianghai_tally::manifest::parse_csv(bytes, charset)
    };
    match parsed {
        Ok(m) => Ok(m.lines.iter().map(|l| (l.vin, u64::from(l.line))).unzip()),
        Err(E::Rows(rows)) => Err(ApiError::validation(
            rows.into_iter()
                .map(|r| FieldError::at_line(u64::from(r.line), r.column, r.message))
                .collect(),
        )),
        Err(e @ E::Charset(_)) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-charset",
            e.to_string(),
        )),
        Err(e @ E::Encoding(_)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-encoding",
            e.to_string(),
        )),
        Err(E::NoVinColumn { line }) => Err(ApiError::validation(vec![FieldError::at_line(
            u64::from(line),
            "header",
            E::NoVinColumn { line }.to_string(),
        )])),
        Err(e) => Err(ApiError::field("manifest", e.to_string())),
    }
}

/// Register vehicles from a manifest (exporters): JSON `{"vins": [...]}`, CSV (UTF-8 with or
/// without BOM, or GBK) or an Excel `.xlsx` workbook with a VIN column and optional make,
/// model, dimensions, weight, powertrain, state of charge and destination columns. Every bad
/// row is reported with its line, and the manifest is recorded whole, in one ledger append,
/// or not at all.
#[utoipa::path(post, path = "/manifests", tag = "vehicles", security(("bearer" = [])),
    request_body(content((ManifestJson = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    responses((status = 201, body = ManifestAccepted), (status = 403, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn submit_manifest(
    State(state): State<AppState>,
    p: Principal,
    req: Request,
) -> Result<(StatusCode, Json<ManifestAccepted>), ApiError> {
    policy::may(&p, Command::RegisterVehicles)?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes: Bytes = body_bytes(req, &state).await?;
    let media = ct
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let (vins, lines) = if is_json(ct.as_deref()) {
        let m: ManifestJson = parse_json(&bytes)?;
        let vins = parse_vins("/vins", &m.vins)?;
        (vins, Vec::new())
    } else if media.as_deref() == Some("text/csv") {
        let charset = ct.as_deref().and_then(|c| {
            c.split(';')
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
                .map(|(_, v)| v.to_string())
        });
        parse_manifest(&bytes, false, charset.as_deref())?
    } else if media.as_deref() == Some(XLSX) {
        parse_manifest(&bytes, true, None)?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the manifest as application/json, text/csv or {XLSX} (.xlsx)"),
        ));
    };
    if vins.is_empty() {
        return Err(ApiError::field("/vins", "the manifest lists no vehicles"));
    }
    let now = Utc::now();
    let actor = Actor {
        organisation: p.organisation.id.clone(),
        user: Some(p.username.clone()),
        device: None,
    };
    let events: Vec<Event> = vins
        .chunks(jianghai_core::event::limits::MAX_VINS)
        .map(|chunk| {
            Event::lifecycle(
                Uuid::new_v4(),
                Step::Register,
                now.fixed_offset(),
                chunk.to_vec(),
                actor.clone(),
            )
        })
        .collect();
    match state.store.append_batch_at(events, now).await {
        Ok(receipts) => Ok((
            StatusCode::CREATED,
            Json(ManifestAccepted {
                registered: vins.len(),
                receipts: receipts.into_iter().map(receipt_dto).collect(),
            }),
        )),
        Err(AppendError::Lifecycle { vin, error, .. }) => {
            let error = refusal(&state, &p, &vin, &error).await?;
            let at = vins.iter().position(|v| *v == vin);
            let fe = match (at, lines.is_empty()) {
                (Some(i), false) => FieldError::at_line(lines[i], "vin", format!("{vin}: {error}")),
                (Some(i), true) => FieldError::new(format!("/vins/{i}"), format!("{vin}: {error}")),
                (None, _) => FieldError::new("/vins", format!("{vin}: {error}")),
            };
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "lifecycle",
                "a vehicle of the manifest cannot be registered; nothing was recorded",
            );
            e.errors = vec![fe];
            Err(e)
        }
        Err(e) => Err(e.into()),
    }
}

/// Why `vin` cannot take a step, as far as `p` may know: the lifecycle's reason for a car it
/// may see, and no more than "already registered" for another party's car.
async fn refusal(
    state: &AppState,
    p: &Principal,
    vin: &Vin,
    error: &jianghai_core::LifecycleError,
) -> Result<String, ApiError> {
    let visible = state
        .store
        .vehicles_visible(std::slice::from_ref(vin), &policy::vehicles(p))
        .await?;
    Ok(if visible.is_empty() {
        "is already registered by another organisation".to_string()
    } else {
        error.to_string()
    })
}

fn receipt_dto(r: jianghai_store::Receipt) -> ReceiptDto {
    ReceiptDto {
        event_id: r.event_id,
        seq: r.seq,
        record_time: r.record_time,
        hash: r.hash,
        duplicate: r.duplicate,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StepRequest {
    /// Chosen by the client so a retry is recognised (default: a new id).
    pub event_id: Option<Uuid>,
    /// register, gate_in, tally, declare, load, depart, arrive, close_transit, transship,
    /// export, hold, release or return.
    pub step: String,
    /// RFC 3339 with offset (default: now).
    pub event_time: Option<String>,
    pub vins: Vec<String>,
    pub voyage: Option<String>,
    pub read_point: Option<String>,
    pub biz_location: Option<String>,
    #[serde(default)]
    pub seals: Vec<String>,
}

/// Submit one business step for one or many VINs; acknowledged once durable on the ledger.
///
/// Carriers name one of their voyages; ports name a facility they operate; exporters may
/// return only their own vehicles. The coordinator only reads.
#[utoipa::path(post, path = "/events", tag = "events", security(("bearer" = [])),
    request_body = StepRequest,
    responses((status = 201, body = ReceiptDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn submit_events(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<StepRequest>,
) -> Result<(StatusCode, Json<ReceiptDto>), ApiError> {
    let step = Step::parse(&req.step).ok_or_else(|| {
        ApiError::field("/step", "not a lifecycle step (gate_in, tally, load, …)")
    })?;
    policy::may(&p, Command::Submit { step })?;
    if req.vins.is_empty() || req.vins.len() > jianghai_core::event::limits::MAX_VINS {
        return Err(ApiError::field("/vins", "1 to 5,000 VINs"));
    }
    let vins = parse_vins("/vins", &req.vins)?;
    let now = Utc::now();
    let event_time: DateTime<FixedOffset> = match &req.event_time {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| ApiError::field("/eventTime", format!("not an RFC 3339 time: {e}")))?,
        None => now.fixed_offset(),
    };
    let voyage = req
        .voyage
        .as_deref()
        .map(|v| ident("/voyage", v))
        .transpose()?;
    let read_point = req
        .read_point
        .as_deref()
        .map(|v| ident("/readPoint", v))
        .transpose()?;
    let biz_location = req
        .biz_location
        .as_deref()
        .map(|v| ident("/bizLocation", v))
        .transpose()?;
    let seals = req
        .seals
        .iter()
        .enumerate()
        .map(|(i, s)| ident(&format!("/seals/{i}"), s))
        .collect::<Result<Vec<Ident>, _>>()?;
    // Relationships the step must stand in, per party.
    if let Some(v) = &voyage
        && state
            .store
            .voyage_in(v.as_str(), &policy::voyages(&p))
            .await?
            .is_none()
    {
        return Err(ApiError::field(
            "/voyage",
            format!("there is no voyage {v} of yours"),
        ));
    }
    match p.kind() {
        OrgKind::Carrier if voyage.is_none() => {
            return Err(ApiError::field(
                "/voyage",
                "a carrier names the voyage the step belongs to",
            ));
        }
        OrgKind::Port => {
            let mut ours = false;
            for f in [&read_point, &biz_location].into_iter().flatten() {
                ours |= state
                    .store
                    .facility(f.as_str())
                    .await?
                    .is_some_and(|f| f.operator == p.organisation.id);
            }
            if !ours {
                return Err(ApiError::field(
                    "/readPoint",
                    "a port names one of its own facilities as read point or business location",
                ));
            }
        }
        _ => {}
    }
    // A voyage loaded by stowage plan departs only after a load-complete that allowed it.
    if step == Step::Depart
        && let Some(v) = &voyage
    {
        super::loading::departure_gate(&state, v).await?;
    }
    // Every VIN must be one the submitter may read, checked before the lifecycle so that a
    // refusal never tells a party the state of a car it may not see. A new registration names
    // cars nobody may see yet; the store refuses one already registered without saying by whom.
    if step != Step::Register {
        let visible = state
            .store
            .vehicles_visible(&vins, &policy::vehicles(&p))
            .await?;
        if let Some((i, vin)) = vins
            .iter()
            .enumerate()
            .find(|(_, v)| !visible.contains(v.as_str()))
        {
            return Err(ApiError::field(
                &format!("/vins/{i}"),
                format!("there is no vehicle {vin} of yours"),
            ));
        }
    }
    let mut event = Event::lifecycle(
        req.event_id.unwrap_or_else(Uuid::new_v4),
        step,
        event_time,
        vins,
        Actor {
            organisation: p.organisation.id.clone(),
            user: Some(p.username.clone()),
            device: None,
        },
    );
    event.subjects.voyage = voyage;
    event.subjects.seals = seals;
    event.read_point = read_point;
    event.biz_location = biz_location;
    let receipt = match state.store.append_batch_at(vec![event], now).await {
        Ok(r) => r,
        Err(AppendError::Lifecycle { vin, error, .. }) => {
            let why = refusal(&state, &p, &vin, &error).await?;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "lifecycle",
                format!("VIN {vin} {why}; nothing was recorded"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let r = receipt
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("append returned no receipt"))?;
    let status = if r.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(receipt_dto(r))))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerStatus {
    pub verified: bool,
    pub count: Option<i64>,
    pub head: Option<String>,
    /// Why verification failed, naming the first bad entry.
    pub problem: Option<String>,
}

/// Recompute the hash chain and the projections now (customs, coordinator, operator).
#[utoipa::path(get, path = "/ledger", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, body = LedgerStatus), (status = 403, body = Problem)))]
pub async fn ledger_status(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<LedgerStatus>, ApiError> {
    policy::may(&p, Command::ReadLedger)?;
    Ok(Json(match state.store.verify().await {
        Ok(s) => LedgerStatus {
            verified: true,
            count: Some(s.count),
            head: Some(s.head),
            problem: None,
        },
        Err(jianghai_store::VerifyError::Store(e)) => return Err(e.into()),
        Err(e) => LedgerStatus {
            verified: false,
            count: None,
            head: None,
            problem: Some(e.to_string()),
        },
    }))
}
