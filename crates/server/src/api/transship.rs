//! Transshipment at Shanghai: an ocean voyage's leg (terminal, berth window, cut-off, ETD,
//! port of discharge, the river voyage feeding it), each car's transfer onto it (direct or
//! through the yard, dwell measured) and its export confirmation, one ledger event per car.
//!
//! The cut-off risk compares the feeding river voyage's tracked arrival ETA (P50/P90) plus the
//! handling time with the cut-off; at risk, late or missed raises a `cut-off-risk` alert on the
//! ocean voyage, which resolves itself once the cars are on time again with a margin. It is
//! judged when the leg is set and whenever the river voyage's ETA moves ([`watch_cut_off`],
//! called by the tracker).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use jianghai_core::{Ident, Step, Vin, Voyage};
use jianghai_customs::transship::{self, CutOffRisk, OceanLeg, Transfer};
use jianghai_store::{AlertDraft, Severity, Store, TransshipError, Transshipment};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Principal;
use crate::extract::ApiJson;
use crate::policy::{self, Command};
use crate::problem::{ApiError, Problem};

impl From<TransshipError> for ApiError {
    fn from(e: TransshipError) -> ApiError {
        match e {
            TransshipError::Missing { what, ref id } => ApiError::not_found(what, id),
            TransshipError::Problems(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "ocean-leg", e.to_string())
            }
            TransshipError::Refused(_) => {
                ApiError::new(StatusCode::CONFLICT, "transshipment", e.to_string())
            }
            TransshipError::Append(a) => a.into(),
            TransshipError::Store(s) => s.into(),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OceanLegRequest {
    /// The exit-port terminal (facility id).
    pub terminal: String,
    pub berth_from: DateTime<Utc>,
    pub berth_to: DateTime<Utc>,
    pub cut_off: DateTime<Utc>,
    pub etd: DateTime<Utc>,
    /// UN/LOCODE of the port of discharge, e.g. `MXZLO`.
    pub discharge_port: String,
    /// The river voyage whose cars continue on this leg.
    pub feeder: Option<String>,
    /// Minutes from river arrival until a car is ready for the ocean vessel.
    pub handling_minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransshipmentDto {
    pub vin: String,
    /// `direct` or `yard`.
    pub transfer: String,
    pub arrived_at: String,
    pub transshipped_at: String,
    pub dwell_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<String>,
}

fn transshipment_dto(t: Transshipment) -> TransshipmentDto {
    TransshipmentDto {
        vin: t.vin.to_string(),
        transfer: match t.transfer {
            Transfer::Direct => "direct".into(),
            Transfer::Yard => "yard".into(),
        },
        arrived_at: t.arrived_at,
        transshipped_at: t.transshipped_at,
        dwell_seconds: t.dwell_seconds,
        exported_at: t.exported_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OceanLegDto {
    pub voyage: String,
    pub terminal: String,
    pub berth_from: DateTime<Utc>,
    pub berth_to: DateTime<Utc>,
    pub cut_off: DateTime<Utc>,
    pub etd: DateTime<Utc>,
    pub discharge_port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feeder: Option<String>,
    pub handling_minutes: i64,
    /// `{"risk": "on_time"|"at_risk"|"late"|"missed"|"unknown", …}` from the feeder's ETA.
    #[schema(value_type = Object)]
    pub cut_off_risk: Value,
    pub transshipments: Vec<TransshipmentDto>,
}

/// The cut-off risk of `leg` at `now` from its feeder's tracked ETA.
async fn risk_of(
    store: &Store,
    leg: &OceanLeg,
    now: DateTime<Utc>,
) -> Result<CutOffRisk, ApiError> {
    let (p50, p90) = match &leg.feeder {
        Some(f) => match store.voyage_track(f).await? {
            Some(t) => (t.arrival_p50, t.arrival_p90),
            None => (None, None),
        },
        None => (None, None),
    };
    Ok(transship::cut_off_risk(
        now,
        p50,
        p90,
        Duration::minutes(leg.handling_minutes),
        leg.cut_off,
    ))
}

/// Raises (or repeats) the `cut-off-risk` alert on the ocean voyage when `risk` calls for one,
/// and resolves an open one when the risk has cleared with a margin
/// ([`CutOffRisk::clears`]).
async fn alert_risk(store: &Store, leg: &OceanLeg, risk: CutOffRisk, now: DateTime<Utc>) {
    if risk.clears() {
        if let Err(e) = store
            .clear_alert("cut-off-risk", "voyage", &leg.voyage, now)
            .await
        {
            tracing::warn!(error = %e, voyage = %leg.voyage, "Cannot resolve the cut-off-risk alert.");
        }
        return;
    }
    if !risk.alerts() {
        return;
    }
    let (severity, detail) = match risk {
        CutOffRisk::AtRisk { late_by_p90 } => (
            Severity::Warning,
            format!(
                "at the P90 ETA plus handling the cars are {} min past the cut-off {}",
                late_by_p90.num_minutes(),
                leg.cut_off
            ),
        ),
        CutOffRisk::Late { late_by_p50 } => (
            Severity::Critical,
            format!(
                "even at the P50 ETA plus handling the cars are {} min past the cut-off {}",
                late_by_p50.num_minutes(),
                leg.cut_off
            ),
        ),
        _ => (
            Severity::Critical,
            format!("the cut-off {} has passed", leg.cut_off),
        ),
    };
    let draft = AlertDraft {
        rule: "cut-off-risk".into(),
        subject_kind: "voyage".into(),
        subject_id: leg.voyage.clone(),
        severity,
        title: "River cars may miss the ocean vessel's cut-off".into(),
        detail,
        evidence: json!([{"feeder": leg.feeder, "risk": risk, "cutOff": leg.cut_off}]),
        at: now,
        source: "transshipment".into(),
    };
    if let Err(e) = store.raise_alert(&draft).await {
        tracing::warn!(error = %e, voyage = %leg.voyage, "Cannot raise the cut-off-risk alert.");
    }
}

/// Re-judges the cut-off of every ocean leg the river voyage `feeder` feeds (its ETA moved).
pub async fn watch_cut_off(store: &Store, feeder: &str, now: DateTime<Utc>) {
    let legs = match store.ocean_legs_fed_by(feeder).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read the ocean legs for the cut-off check.");
            return;
        }
    };
    for leg in legs {
        match risk_of(store, &leg, now).await {
            Ok(r) => alert_risk(store, &leg, r, now).await,
            Err(e) => tracing::warn!(error = ?e.detail, "Cannot judge the cut-off risk."),
        }
    }
}

async fn leg_dto(state: &AppState, leg: OceanLeg) -> Result<OceanLegDto, ApiError> {
    let risk = risk_of(&state.store, &leg, Utc::now()).await?;
    let ts = state.store.transshipments(&leg.voyage).await?;
    Ok(OceanLegDto {
        voyage: leg.voyage,
        terminal: leg.terminal,
        berth_from: leg.berth_from,
        berth_to: leg.berth_to,
        cut_off: leg.cut_off,
        etd: leg.etd,
        discharge_port: leg.discharge_port,
        feeder: leg.feeder,
        handling_minutes: leg.handling_minutes,
        cut_off_risk: serde_json::to_value(risk).unwrap_or_default(),
        transshipments: ts.into_iter().map(transshipment_dto).collect(),
    })
}

async fn voyage_of(state: &AppState, p: &Principal, id: &str) -> Result<(Voyage, Ident), ApiError> {
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
    Ok((v, vessel.carrier))
}

/// Set an ocean voyage's leg (its carrier): terminal, berth window, cut-off, ETD, port of
/// discharge, the feeding river voyage and the handling time. Answers with the cut-off risk.
#[utoipa::path(put, path = "/voyages/{id}/ocean-leg", tag = "transshipment", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = OceanLegRequest,
    responses((status = 200, body = OceanLegDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_ocean_leg(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<OceanLegRequest>,
) -> Result<Json<OceanLegDto>, ApiError> {
    let (v, carrier) = voyage_of(&state, &p, &id).await?;
    policy::may(&p, Command::Schedule { carrier: &carrier })?;
    if let Some(f) = &req.feeder
        && state.store.voyage(f).await?.is_none()
    {
        return Err(ApiError::field("feeder", format!("no voyage {f:?}")));
    }
    let leg = OceanLeg {
        voyage: v.id.to_string(),
        terminal: req.terminal,
        berth_from: req.berth_from,
        berth_to: req.berth_to,
        cut_off: req.cut_off,
        etd: req.etd,
        discharge_port: req.discharge_port,
        feeder: req.feeder,
        handling_minutes: req.handling_minutes,
    };
    state.store.set_ocean_leg(&leg, &p.organisation.id).await?;
    let now = Utc::now();
    let risk = risk_of(&state.store, &leg, now).await?;
    alert_risk(&state.store, &leg, risk, now).await;
    Ok(Json(leg_dto(&state, leg).await?))
}

/// An ocean voyage's leg with its cut-off risk and the cars transferred onto it.
#[utoipa::path(get, path = "/voyages/{id}/ocean-leg", tag = "transshipment", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OceanLegDto), (status = 404, body = Problem)))]
pub async fn get_ocean_leg(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<OceanLegDto>, ApiError> {
    let (v, _) = voyage_of(&state, &p, &id).await?;
    let leg = state
        .store
        .ocean_leg(v.id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("ocean leg of voyage", &id))?;
    Ok(Json(leg_dto(&state, leg).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransshipRequest {
    pub vins: Vec<String>,
    /// `direct` (ship to ship) or `yard`.
    #[schema(value_type = String)]
    pub transfer: Transfer,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VinsRequest {
    pub vins: Vec<String>,
}

/// The cars, parsed, which `p` must be able to see (404 otherwise, before any lifecycle check).
async fn cars(state: &AppState, p: &Principal, vins: &[String]) -> Result<Vec<Vin>, ApiError> {
    let parsed = vins
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Vin::parse(v).map_err(|e| ApiError::field(&format!("/vins/{i}"), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let seen = state
        .store
        .vehicles_visible(&parsed, &policy::vehicles(p))
        .await?;
    if let Some(v) = parsed.iter().find(|v| !seen.contains(v.as_str())) {
        return Err(ApiError::not_found("vehicle", v.as_str()));
    }
    Ok(parsed)
}

/// Transfer cars onto the ocean voyage (the exit terminal's port, a carrier or the operator):
/// one `transship` ledger event per car, with the yard dwell measured from its river arrival.
/// A car whose transit is not closed, or a held one, is refused (409).
#[utoipa::path(post, path = "/voyages/{id}/transshipments", tag = "transshipment", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = TransshipRequest,
    responses((status = 201, body = [TransshipmentDto]), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transship(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TransshipRequest>,
) -> Result<(StatusCode, Json<Vec<TransshipmentDto>>), ApiError> {
    let (v, _) = voyage_of(&state, &p, &id).await?;
    policy::may(
        &p,
        Command::Submit {
            step: Step::Transship,
        },
    )?;
    let vins = cars(&state, &p, &req.vins).await?;
    let done = state
        .store
        .transship(
            v.id.as_str(),
            &vins,
            req.transfer,
            &p.organisation.id,
            Utc::now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(done.into_iter().map(transshipment_dto).collect()),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedDto {
    pub exported: usize,
}

/// Confirm the export of cars on the ocean voyage (its carrier or the operator): one `export`
/// ledger event per car; a car not transshipped onto it is refused (409).
#[utoipa::path(post, path = "/voyages/{id}/exports", tag = "transshipment", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = VinsRequest,
    responses((status = 200, body = ExportedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn confirm_export(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<VinsRequest>,
) -> Result<Json<ExportedDto>, ApiError> {
    let (v, _) = voyage_of(&state, &p, &id).await?;
    policy::may(&p, Command::Submit { step: Step::Export })?;
    let vins = cars(&state, &p, &req.vins).await?;
    let n = state
        .store
        .confirm_export(v.id.as_str(), &vins, &p.organisation.id, Utc::now())
        .await?;
    Ok(Json(ExportedDto { exported: n }))
}
