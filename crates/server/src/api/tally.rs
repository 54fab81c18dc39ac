//! Consolidation and tally (集并理货): gate-ins, VIN identification (typed or scanned, from an
//! image, from an external vision system), condition reports with photos, tally sessions and
//! their sheets, and the damage-code table.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jianghai_core::{Ident, Vin};
use jianghai_store::{
    By, ConditionReport, DamageEntry, GateInRecord, IdentificationRecord, NewGateIn,
    NewIdentification, ResultRecord, SessionRecord, TallyError, TallyScope,
};
use jianghai_tally::{
    CodeTable, Identification, ImageLimits, LabelReading, Lang, Outcome, Rules, SheetHeader,
    SheetRow, Source, label, sheet,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{PageDto, ident};
use crate::AppState;
use crate::auth::Principal;
use crate::extract::{ApiJson, Paging, body_bytes};
use crate::policy::{self, Command};
use crate::problem::{ApiError, FieldError, Problem};

impl From<TallyError> for ApiError {
    fn from(e: TallyError) -> ApiError {
        match e {
            TallyError::Missing { .. } | TallyError::Invalid(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-tally",
                e.to_string(),
            ),
            TallyError::Closed(_) | TallyError::AlreadyOpen { .. } => {
                ApiError::new(StatusCode::CONFLICT, "tally-state", e.to_string())
            }
            TallyError::Append(a) => a.into(),
            TallyError::Store(s) => s.into(),
            other => ApiError::internal(other),
        }
    }
}

fn by(p: &Principal) -> By {
    By {
        organisation: p.organisation.id.clone(),
        username: p.username.clone(),
    }
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

fn short_text(field: &str, s: &Option<String>) -> Result<Option<String>, ApiError> {
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > 200 || t.chars().any(char::is_control) => Err(
            ApiError::field(field, "at most 200 characters, no control characters"),
        ),
        Some(t) => Ok(Some(t.to_string())),
    }
}

/// The facility `id`, which `p` must operate tallies at (403 otherwise).
async fn operated(
    state: &AppState,
    p: &Principal,
    field: &str,
    id: &str,
) -> Result<Ident, ApiError> {
    let fid = ident(field, id)?;
    let f = state
        .store
        .facility(fid.as_str())
        .await?
        .ok_or_else(|| ApiError::field(field, format!("there is no facility {fid}")))?;
    policy::may(
        p,
        Command::OperateTally {
            operator: &f.operator,
        },
    )?;
    Ok(fid)
}

// ---------------------------------------------------------------------------------------------
// Gate-in

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GateInRequest {
    /// Chosen by the client so a retry is recognised (default: a new id).
    pub id: Option<Uuid>,
    pub facility: String,
    /// The VIN read at the gate.
    pub vin: String,
    /// RFC 3339 with offset (default: now).
    pub time: Option<String>,
    pub truck: Option<String>,
    pub driver: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateInDto {
    pub id: Uuid,
    pub facility: String,
    pub vin: String,
    pub at: String,
    pub truck: Option<String>,
    pub driver: Option<String>,
    pub organisation: String,
    pub username: String,
    /// Whether the VIN is on a manifest (registered); a car on none is recorded for the tally
    /// to report as extra, but the ledger knows nothing of it.
    pub on_manifest: bool,
    /// The ledger entry that moved the car to gated_in.
    pub seq: Option<i64>,
}

fn gate_in_dto(g: GateInRecord) -> GateInDto {
    GateInDto {
        id: g.id,
        facility: g.facility.to_string(),
        vin: g.vin.to_string(),
        at: g.at,
        truck: g.truck,
        driver: g.driver,
        organisation: g.organisation.to_string(),
        username: g.username,
        on_manifest: g.seq.is_some(),
        seq: g.seq,
    }
}

/// Record a car entering a facility (ports at their own facilities; the operator).
#[utoipa::path(post, path = "/gate-ins", tag = "tally", security(("bearer" = [])),
    request_body = GateInRequest,
    responses((status = 201, body = GateInDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn gate_in(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<GateInRequest>,
) -> Result<(StatusCode, Json<GateInDto>), ApiError> {
    let facility = operated(&state, &p, "/facility", &req.facility).await?;
    let vin = Vin::parse(&req.vin).map_err(|e| ApiError::field("/vin", e.to_string()))?;
    let g = NewGateIn {
        id: req.id.unwrap_or_else(Uuid::new_v4),
        facility,
        vin,
        at: time("/time", &req.time, Utc::now())?,
        truck: short_text("/truck", &req.truck)?,
        driver: short_text("/driver", &req.driver)?,
    };
    let rec = state.store.gate_in(&g, &by(&p)).await?;
    Ok((StatusCode::CREATED, Json(gate_in_dto(rec))))
}

/// Gate-ins the caller may see.
#[utoipa::path(get, path = "/gate-ins", tag = "tally", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<GateInDto>)))]
pub async fn list_gate_ins(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<GateInDto>>, ApiError> {
    let page = state
        .store
        .gate_ins(&policy::tallies(&p), &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, gate_in_dto)))
}

// ---------------------------------------------------------------------------------------------
// Reading labels

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionDto {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The barcode's corner, finder or bar-end points, in pixels.
    pub points: Vec<[f32; 2]>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundDto {
    pub vin: String,
    /// code39, code128, data_matrix or qr.
    pub symbology: String,
    /// The barcode's text as read (a Code 39 label may carry a leading I).
    pub text: String,
    pub region: RegionDto,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedDto {
    pub symbology: String,
    pub text: String,
    /// Why it is not a VIN (for example a failed check digit).
    pub reason: String,
    pub region: RegionDto,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelReadingDto {
    pub width: u32,
    pub height: u32,
    pub vins: Vec<FoundDto>,
    pub rejected: Vec<RejectedDto>,
    /// A sentence for people: what was found, or that nothing readable was.
    pub message: String,
    /// SHA-256 of the stored image, when it was recorded in a session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The identifications recorded in the session, when one was named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recorded: Vec<IdentificationDto>,
}

fn region_dto(r: &jianghai_tally::Region) -> RegionDto {
    RegionDto {
        x: r.x,
        y: r.y,
        width: r.width,
        height: r.height,
        points: r.points.iter().map(|(x, y)| [*x, *y]).collect(),
    }
}

fn reading_dto(r: &LabelReading) -> LabelReadingDto {
    let message = match (r.vins.len(), r.rejected.len()) {
        (0, 0) => "no readable VIN label in the image: no barcode was found".to_string(),
        (0, n) => format!(
            "no readable VIN label in the image: {n} barcode(s) found, none carries a valid VIN"
        ),
        (n, _) => format!("{n} VIN(s) found"),
    };
    LabelReadingDto {
        width: r.width,
        height: r.height,
        vins: r
            .vins
            .iter()
            .map(|f| FoundDto {
                vin: f.vin.to_string(),
                symbology: f.symbology.as_str().into(),
                text: f.text.clone(),
                region: region_dto(&f.region),
            })
            .collect(),
        rejected: r
            .rejected
            .iter()
            .map(|f| RejectedDto {
                symbology: f.symbology.as_str().into(),
                text: f.text.clone(),
                reason: f.reason.clone(),
                region: region_dto(&f.region),
            })
            .collect(),
        message,
        image: None,
        recorded: Vec::new(),
    }
}

/// Reads an image body: the declared type must be image/png or image/jpeg and agree with the
/// bytes; the image is decoded off the async threads, with the size and dimension limits.
async fn read_image(state: &AppState, req: Request) -> Result<(Bytes, LabelReading), ApiError> {
    let declared = declared_image_type(req.headers())?;
    let bytes = body_bytes(req, state).await?;
    check_image_type(&bytes, declared)?;
    let limits = ImageLimits {
        max_bytes: state.config.body_limit,
        ..ImageLimits::default()
    };
    let b = bytes.clone();
    let reading = tokio::task::spawn_blocking(move || label::read(&b, &limits))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| {
            let status = match e {
                jianghai_tally::ImageError::TooLarge { .. }
                | jianghai_tally::ImageError::TooManyBytes { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            ApiError::new(status, "bad-image", e.to_string())
        })?;
    Ok((bytes, reading))
}

fn declared_image_type(h: &HeaderMap) -> Result<&'static str, ApiError> {
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    match ct.as_deref() {
        Some("image/png") => Ok("image/png"),
        Some("image/jpeg" | "image/jpg") => Ok("image/jpeg"),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "send the image as image/png or image/jpeg (got {})",
                other.unwrap_or("no content type")
            ),
        )),
    }
}

fn check_image_type(bytes: &[u8], declared: &str) -> Result<(), ApiError> {
    match jianghai_store::photo_type(bytes) {
        Some(t) if t == declared => Ok(()),
        Some(t) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "wrong-media-type",
            format!("the body is {t} but was declared {declared}"),
        )),
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-image",
            format!(
                "the body is not a {declared} image (its first bytes are not a PNG or JPEG signature)"
            ),
        )),
    }
}

/// Find and decode the VIN labels in a photo (Code 39, Code 128, Data Matrix, QR): the VINs
/// with their place in the image, and the barcodes that carry no valid VIN. Nothing is stored.
#[utoipa::path(post, path = "/identify", tag = "tally", security(("bearer" = [])),
    request_body(content((String = "image/png"), (String = "image/jpeg"))),
    responses((status = 200, body = LabelReadingDto), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn identify(
    State(state): State<AppState>,
    _p: Principal,
    req: Request,
) -> Result<Json<LabelReadingDto>, ApiError> {
    let (_, reading) = read_image(&state, req).await?;
    Ok(Json(reading_dto(&reading)))
}

// ---------------------------------------------------------------------------------------------
// Sessions

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenSessionRequest {
    pub id: Option<Uuid>,
    pub facility: String,
    pub shipment: String,
    /// External results below this confidence never count (default 0.9).
    pub min_confidence: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub id: Uuid,
    pub facility: String,
    pub shipment: String,
    pub organisation: String,
    pub tallyman: String,
    pub opened_at: String,
    /// open, closing or closed.
    pub state: String,
    pub min_confidence: f64,
    pub closed_at: Option<String>,
    pub identifications: i64,
}

fn session_dto(s: SessionRecord) -> SessionDto {
    SessionDto {
        id: s.id,
        facility: s.facility.to_string(),
        shipment: s.shipment.to_string(),
        organisation: s.organisation.to_string(),
        tallyman: s.tallyman,
        opened_at: s.opened_at,
        state: s.state.as_str().into(),
        min_confidence: s.min_confidence,
        closed_at: s.closed_at,
        identifications: s.identifications,
    }
}

/// Open a tally session for a shipment at a facility the caller operates.
#[utoipa::path(post, path = "/tally-sessions", tag = "tally", security(("bearer" = [])),
    request_body = OpenSessionRequest,
    responses((status = 201, body = SessionDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn open_session(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<OpenSessionRequest>,
) -> Result<(StatusCode, Json<SessionDto>), ApiError> {
    let facility = operated(&state, &p, "/facility", &req.facility).await?;
    let shipment = ident("/shipment", &req.shipment)?;
    let min = req
        .min_confidence
        .unwrap_or(Rules::default().min_confidence);
    if !min.is_finite() || !(0.0..=1.0).contains(&min) {
        return Err(ApiError::field("/minConfidence", "between 0 and 1"));
    }
    let s = state
        .store
        .open_tally_session(
            req.id.unwrap_or_else(Uuid::new_v4),
            &facility,
            &shipment,
            min,
            Utc::now(),
            &by(&p),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(session_dto(s))))
}

/// Tally sessions the caller may see.
#[utoipa::path(get, path = "/tally-sessions", tag = "tally", security(("bearer" = [])),
    params(crate::extract::PageQuery), responses((status = 200, body = PageDto<SessionDto>)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<SessionDto>>, ApiError> {
    let page = state
        .store
        .tally_sessions(&policy::tallies(&p), &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, session_dto)))
}

async fn visible_session(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<SessionRecord, ApiError> {
    let not_found = || ApiError::not_found("tally session", id);
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    state
        .store
        .tally_session_in(uuid, &policy::tallies(p))
        .await?
        .ok_or_else(not_found)
}

/// A visible session the caller may also operate (403 when it only reads it).
async fn operated_session(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<SessionRecord, ApiError> {
    let s = visible_session(state, p, id).await?;
    operated(state, p, "facility", s.facility.as_str()).await?;
    Ok(s)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedDto {
    pub line: u32,
    pub vin: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentificationDto {
    pub id: Uuid,
    pub seq: i64,
    /// typed, scanner, image or external.
    pub source: String,
    pub text: String,
    /// The VIN, when the text is one with a valid check digit.
    pub vin: Option<String>,
    pub confidence: Option<f64>,
    pub image: Option<String>,
    pub for_line: Option<u32>,
    pub at: String,
    pub username: String,
    /// Whether it can count as a match (valid check digit, enough confidence).
    pub trusted: bool,
    /// Why it cannot count, if it cannot.
    pub distrust: Option<String>,
}

fn identification_dto(r: IdentificationRecord, min_confidence: f64) -> IdentificationDto {
    let distrust = r.identification.distrust(min_confidence);
    IdentificationDto {
        id: r.id,
        seq: r.seq,
        source: r.identification.source.as_str().into(),
        text: r.identification.text,
        vin: r.identification.vin.map(|v| v.to_string()),
        confidence: r.identification.confidence,
        image: r.image,
        for_line: r.identification.for_line,
        at: r.at,
        username: r.username,
        trusted: distrust.is_none(),
        distrust,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultDto {
    /// matched, damaged, missing, extra, duplicate, mismatched or unconfirmed.
    pub outcome: String,
    pub line: Option<u32>,
    pub expected: Option<String>,
    pub observed: Option<String>,
    pub detail: String,
}

fn result_dto(r: &ResultRecord) -> ResultDto {
    ResultDto {
        outcome: r.line.outcome.as_str().into(),
        line: r.line.line,
        expected: r.line.expected.map(|v| v.to_string()),
        observed: r.line.observed.clone(),
        detail: r.line.detail.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDetailDto {
    pub session: SessionDto,
    pub expected: Vec<ExpectedDto>,
    pub identifications: Vec<IdentificationDto>,
    /// The result, once the session is closed.
    pub results: Vec<ResultDto>,
}

/// One session with what it expects, what was identified and, once closed, its result.
#[utoipa::path(get, path = "/tally-sessions/{id}", tag = "tally", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SessionDetailDto), (status = 404, body = Problem)))]
pub async fn get_session(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<SessionDetailDto>, ApiError> {
    let s = visible_session(&state, &p, &id).await?;
    let expected = state.store.tally_expected(&s).await?;
    let ids = state.store.identifications(s.id).await?;
    let results = state.store.tally_results(s.id).await?;
    let min = s.min_confidence;
    Ok(Json(SessionDetailDto {
        expected: expected
            .into_iter()
            .map(|e| ExpectedDto {
                line: e.line,
                vin: e.vin.to_string(),
            })
            .collect(),
        identifications: ids
            .into_iter()
            .map(|r| identification_dto(r, min))
            .collect(),
        results: results.iter().map(result_dto).collect(),
        session: session_dto(s),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanRequest {
    /// What was typed or scanned (a VIN; a Code 39 scan may carry a leading I).
    pub text: String,
    /// typed or scanner.
    pub source: String,
    /// The expected line the car was scanned for, if the tallyman named one.
    pub for_line: Option<u32>,
    pub time: Option<String>,
}

const MAX_READ_TEXT: usize = 200;

/// Record a VIN typed by a person or read by a handheld scanner. A VIN that fails its check
/// digit is recorded as read, and never counts as a match.
#[utoipa::path(post, path = "/tally-sessions/{id}/scans", tag = "tally", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ScanRequest,
    responses((status = 201, body = IdentificationDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn scan(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ScanRequest>,
) -> Result<(StatusCode, Json<IdentificationDto>), ApiError> {
    let s = operated_session(&state, &p, &id).await?;
    let source = match Source::parse(&req.source) {
        Some(src @ (Source::Typed | Source::Scanner)) => src,
        _ => return Err(ApiError::field("/source", "typed or scanner")),
    };
    let text = req.text.trim();
    if text.is_empty() || text.chars().count() > MAX_READ_TEXT {
        return Err(ApiError::field("/text", "1 to 200 characters"));
    }
    let n = NewIdentification {
        identification: Identification::new(text, source, None, req.for_line),
        image: None,
        at: time("/time", &req.time, Utc::now())?,
    };
    let rec = state.store.identify(s.id, &n, &by(&p)).await?;
    Ok((
        StatusCode::CREATED,
        Json(identification_dto(rec, s.min_confidence)),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalRequest {
    /// The VIN the vision system read.
    pub vin: String,
    /// Its confidence, 0–1.
    pub confidence: f64,
    /// Where the system keeps the image it read (URI or its own id).
    pub image_ref: String,
    pub for_line: Option<u32>,
    pub time: Option<String>,
}

/// Record a result posted by an external vision system. It counts as a match only with a
/// valid check digit and a confidence at or above the session's threshold.
#[utoipa::path(post, path = "/tally-sessions/{id}/external", tag = "tally", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ExternalRequest,
    responses((status = 201, body = IdentificationDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn external(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ExternalRequest>,
) -> Result<(StatusCode, Json<IdentificationDto>), ApiError> {
    let s = operated_session(&state, &p, &id).await?;
    if !req.confidence.is_finite() || !(0.0..=1.0).contains(&req.confidence) {
        return Err(ApiError::field("/confidence", "between 0 and 1"));
    }
    let text = req.vin.trim();
    if text.is_empty() || text.chars().count() > MAX_READ_TEXT {
        return Err(ApiError::field("/vin", "1 to 200 characters"));
    }
    let image = short_text("/imageRef", &Some(req.image_ref.clone()))?
        .ok_or_else(|| ApiError::field("/imageRef", "name the image the result comes from"))?;
    let n = NewIdentification {
        identification: Identification::new(
            text,
            Source::External,
            Some(req.confidence),
            req.for_line,
        ),
        image: Some(image),
        at: time("/time", &req.time, Utc::now())?,
    };
    let rec = state.store.identify(s.id, &n, &by(&p)).await?;
    Ok((
        StatusCode::CREATED,
        Json(identification_dto(rec, s.min_confidence)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageQuery {
    /// The expected line the photo was taken for.
    pub for_line: Option<u32>,
}

/// Identify by photo within a session: the image is decoded, stored under its SHA-256, and
/// every barcode of a VIN label is recorded (one that fails its check digit as unconfirmed).
/// A photo with no readable VIN is answered as such and records nothing.
#[utoipa::path(post, path = "/tally-sessions/{id}/images", tag = "tally", security(("bearer" = [])),
    params(("id" = String, Path), ImageQuery),
    request_body(content((String = "image/png"), (String = "image/jpeg"))),
    responses((status = 201, body = LabelReadingDto), (status = 200, body = LabelReadingDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn session_image(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ImageQuery>,
    req: Request,
) -> Result<(StatusCode, Json<LabelReadingDto>), ApiError> {
    let s = operated_session(&state, &p, &id).await?;
    if s.state != jianghai_store::SessionState::Open {
        return Err(TallyError::Closed(s.id.to_string()).into());
    }
    let (bytes, reading) = read_image(&state, req).await?;
    let mut dto = reading_dto(&reading);
    let reads: Vec<String> = reading
        .vins
        .iter()
        .map(|f| f.text.clone())
        .chain(
            reading
                .rejected
                .iter()
                .filter(|r| r.symbology != jianghai_tally::Symbology::Other)
                .map(|r| r.text.clone()),
        )
        .collect();
    if reads.is_empty() {
        return Ok((StatusCode::OK, Json(dto)));
    }
    let who = by(&p);
    let sha = state.store.put_photo(&bytes, &who).await?;
    let now = Utc::now();
    for text in reads {
        let n = NewIdentification {
            identification: Identification::new(&text, Source::Image, None, q.for_line),
            image: Some(sha.clone()),
            at: now,
        };
        let rec = state.store.identify(s.id, &n, &who).await?;
        dto.recorded.push(identification_dto(rec, s.min_confidence));
    }
    dto.image = Some(sha);
    Ok((StatusCode::CREATED, Json(dto)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClosedDto {
    pub session: SessionDto,
    pub results: Vec<ResultDto>,
    /// How many lines have each outcome.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// The cars moved to tallied.
    pub tallied: Vec<String>,
    /// The ledger entry of the tally event, if any car matched.
    pub seq: Option<i64>,
}

/// Close a session: reconcile the shipment against what was identified, move only the
/// matched cars to tallied (one ledger event), and raise an alert for every discrepancy.
/// Closing again returns the same result.
#[utoipa::path(post, path = "/tally-sessions/{id}/close", tag = "tally", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ClosedDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn close_session(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<ClosedDto>, ApiError> {
    let s = operated_session(&state, &p, &id).await?;
    let closed = state.store.close_tally_session(s.id, Utc::now()).await?;
    let mut counts = std::collections::BTreeMap::new();
    for o in Outcome::ALL {
        counts.insert(o.as_str().to_string(), 0);
    }
    for r in &closed.results {
        *counts
            .entry(r.line.outcome.as_str().to_string())
            .or_insert(0) += 1;
    }
    Ok(Json(ClosedDto {
        tallied: closed
            .results
            .iter()
            .filter(|r| r.line.outcome == Outcome::Matched)
            .filter_map(|r| r.line.expected.map(|v| v.to_string()))
            .collect(),
        results: closed.results.iter().map(result_dto).collect(),
        counts,
        seq: closed.receipt.map(|r| r.seq),
        session: session_dto(closed.session),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SheetQuery {
    /// csv (default) or xlsx.
    pub format: Option<String>,
    /// en (default) or zh.
    pub lang: Option<String>,
}

/// The tally sheet (理货单) of a closed session, as CSV or Excel, in English or Chinese.
#[utoipa::path(get, path = "/tally-sessions/{id}/sheet", tag = "tally", security(("bearer" = [])),
    params(("id" = String, Path), SheetQuery),
    responses((status = 200, content((String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn tally_sheet(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<SheetQuery>,
) -> Result<Response, ApiError> {
    let s = visible_session(&state, &p, &id).await?;
    let lang = match q.lang.as_deref() {
        None => Lang::En,
        Some(l) => Lang::parse(l).ok_or_else(|| ApiError::field("lang", "en or zh"))?,
    };
    let xlsx = match q.format.as_deref() {
        None | Some("csv") => false,
        Some("xlsx") => true,
        Some(_) => return Err(ApiError::field("format", "csv or xlsx")),
    };
    if s.state == jianghai_store::SessionState::Open {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "tally-state",
            "the session is still open; close it to get its sheet",
        ));
    }
    let results = state.store.tally_results(s.id).await?;
    let mut rows = Vec::with_capacity(results.len());
    for r in results {
        let damage = match r.line.expected {
            Some(v) => session_damage_codes(&state, s.id, &v).await?,
            None => Vec::new(),
        };
        rows.push(SheetRow {
            line: r.line,
            model: None,
            damage,
        });
    }
    let header = SheetHeader {
        session: s.id.to_string(),
        facility: s.facility.to_string(),
        shipment: s.shipment.to_string(),
        opened_at: s.opened_at.clone(),
        closed_at: s.closed_at.clone(),
        tallyman: s.tallyman.clone(),
    };
    let name = format!("tally-{}-{}", s.shipment, lang_code(lang));
    if xlsx {
        let bytes = sheet::xlsx(&header, &rows, lang).map_err(ApiError::internal)?;
        Ok(file(
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &format!("{name}.xlsx"),
        ))
    } else {
        Ok(file(
            sheet::csv(&header, &rows, lang),
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
        ))
    }
}

fn lang_code(l: Lang) -> &'static str {
    match l {
        Lang::En => "en",
        Lang::Zh => "zh",
    }
}

async fn session_damage_codes(
    state: &AppState,
    session: Uuid,
    vin: &Vin,
) -> Result<Vec<String>, ApiError> {
    let page = state
        .store
        .condition_reports(&TallyScope::All, Some(vin), "", 1_000)
        .await?;
    Ok(page
        .items
        .into_iter()
        .filter(|r| r.session == Some(session))
        .flat_map(|r| r.entries.into_iter().map(|e| e.code.to_string()))
        .collect())
}

fn file(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Condition reports and photos

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DamageEntryDto {
    /// Five digits: area (2), type (2), severity (1), from the loaded code table.
    pub code: String,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConditionReportRequest {
    pub id: Option<Uuid>,
    pub facility: String,
    pub vin: String,
    /// The tally session whose reconciliation this report feeds.
    pub session: Option<Uuid>,
    #[serde(default)]
    pub entries: Vec<DamageEntryDto>,
    pub note: Option<String>,
    /// SHA-256 of photos stored with POST /photos.
    #[serde(default)]
    pub photos: Vec<String>,
    pub time: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DamageDto {
    pub code: String,
    pub description_en: String,
    pub description_zh: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionReportDto {
    pub id: Uuid,
    pub facility: String,
    pub vin: String,
    pub session: Option<Uuid>,
    pub at: String,
    pub organisation: String,
    pub username: String,
    pub note: Option<String>,
    pub entries: Vec<DamageDto>,
    pub photos: Vec<String>,
}

fn report_dto(r: ConditionReport, table: Option<&CodeTable>) -> ConditionReportDto {
    ConditionReportDto {
        id: r.id,
        facility: r.facility.to_string(),
        vin: r.vin.to_string(),
        session: r.session,
        at: r.at,
        organisation: r.organisation.to_string(),
        username: r.username,
        note: r.note,
        entries: r
            .entries
            .into_iter()
            .map(|e| DamageDto {
                code: e.code.to_string(),
                description_en: table
                    .map(|t| t.describe(&e.code, false))
                    .unwrap_or_default(),
                description_zh: table.map(|t| t.describe(&e.code, true)).unwrap_or_default(),
                note: e.note,
            })
            .collect(),
        photos: r.photos,
    }
}

const MAX_DAMAGE_ENTRIES: usize = 50;
const MAX_PHOTOS: usize = 20;

/// Record a car's condition at a facility the caller operates: damage coded against the loaded
/// table, free text, and photos stored beforehand.
#[utoipa::path(post, path = "/condition-reports", tag = "tally", security(("bearer" = [])),
    request_body = ConditionReportRequest,
    responses((status = 201, body = ConditionReportDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_report(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<ConditionReportRequest>,
) -> Result<(StatusCode, Json<ConditionReportDto>), ApiError> {
    let facility = operated(&state, &p, "/facility", &req.facility).await?;
    let vin = Vin::parse(&req.vin).map_err(|e| ApiError::field("/vin", e.to_string()))?;
    if req.entries.len() > MAX_DAMAGE_ENTRIES || req.photos.len() > MAX_PHOTOS {
        return Err(ApiError::field(
            "/entries",
            format!("at most {MAX_DAMAGE_ENTRIES} entries and {MAX_PHOTOS} photos"),
        ));
    }
    let table = state.store.damage_codes().await?;
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, e) in req.entries.iter().enumerate() {
        let Some(t) = &table else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "no-damage-codes",
                "no damage-code table is loaded; the operator loads one with PUT /api/v1/damage-codes",
            ));
        };
        match t.parse(&e.code) {
            Ok(code) => entries.push(DamageEntry {
                code,
                note: short_text(&format!("/entries/{i}/note"), &e.note)?,
            }),
            Err(err) => errors.push(FieldError::new(
                format!("/entries/{i}/code"),
                err.to_string(),
            )),
        }
    }
    for (i, sha) in req.photos.iter().enumerate() {
        if sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            errors.push(FieldError::new(
                format!("/photos/{i}"),
                "a lower-case hex SHA-256",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let note = match req.note.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if n.chars().count() > 2_000 => {
            return Err(ApiError::field("/note", "at most 2,000 characters"));
        }
        Some(n) => Some(n.to_string()),
    };
    let r = ConditionReport {
        id: req.id.unwrap_or_else(Uuid::new_v4),
        facility,
        vin,
        session: req.session,
        at: jianghai_core::ledger::format_time(time("/time", &req.time, Utc::now())?),
        organisation: p.organisation.id.clone(),
        username: p.username.clone(),
        note,
        entries,
        photos: req.photos.clone(),
    };
    state.store.add_condition_report(&r).await?;
    Ok((StatusCode::CREATED, Json(report_dto(r, table.as_ref()))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Only reports about this VIN.
    pub vin: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// Condition reports the caller may see.
#[utoipa::path(get, path = "/condition-reports", tag = "tally", security(("bearer" = [])),
    params(ReportQuery), responses((status = 200, body = PageDto<ConditionReportDto>), (status = 422, body = Problem)))]
pub async fn list_reports(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ReportQuery>,
) -> Result<Json<PageDto<ConditionReportDto>>, ApiError> {
    let vin = q
        .vin
        .as_deref()
        .map(|v| Vin::parse(v).map_err(|e| ApiError::field("vin", e.to_string())))
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::field("limit", "1 to 1000"));
    }
    let table = state.store.damage_codes().await?;
    let page = state
        .store
        .condition_reports(
            &policy::tallies(&p),
            vin.as_ref(),
            q.after.as_deref().unwrap_or(""),
            limit,
        )
        .await?;
    Ok(Json(PageDto::map(page, |r| report_dto(r, table.as_ref()))))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhotoDto {
    /// The photo's content address.
    pub sha256: String,
    pub media_type: String,
    pub size: usize,
}

/// Store a photo (PNG or JPEG, checked by its bytes) under its SHA-256, for condition reports.
/// Ports and the operator; storing the same bytes again returns the same address.
#[utoipa::path(post, path = "/photos", tag = "tally", security(("bearer" = [])),
    request_body(content((String = "image/png"), (String = "image/jpeg"))),
    responses((status = 201, body = PhotoDto), (status = 403, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn upload_photo(
    State(state): State<AppState>,
    p: Principal,
    req: Request,
) -> Result<(StatusCode, Json<PhotoDto>), ApiError> {
    policy::may(
        &p,
        Command::OperateTally {
            operator: &p.organisation.id,
        },
    )?;
    let declared = declared_image_type(req.headers())?;
    let bytes = body_bytes(req, &state).await?;
    check_image_type(&bytes, declared)?;
    // A photo must at least decode: its header is read and its dimensions checked.
    let limits = ImageLimits {
        max_bytes: state.config.body_limit,
        ..ImageLimits::default()
    };
    let b = bytes.clone();
    tokio::task::spawn_blocking(move || label::decode_luma(&b, &limits).map(drop))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad-image", e.to_string()))?;
    let sha = state.store.put_photo(&bytes, &by(&p)).await?;
    Ok((
        StatusCode::CREATED,
        Json(PhotoDto {
            sha256: sha,
            media_type: declared.into(),
            size: bytes.len(),
        }),
    ))
}

/// A stored photo, if the caller uploaded it or may see a report or session that uses it.
#[utoipa::path(get, path = "/photos/{sha256}", tag = "tally", security(("bearer" = [])),
    params(("sha256" = String, Path)),
    responses((status = 200, content((String = "image/png"), (String = "image/jpeg"))), (status = 404, body = Problem)))]
pub async fn get_photo(
    State(state): State<AppState>,
    p: Principal,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    let (media, bytes) = state
        .store
        .photo_in(&sha, &p.organisation.id, &policy::tallies(&p))
        .await?
        .ok_or_else(|| ApiError::not_found("photo", &sha))?;
    Ok(([(header::CONTENT_TYPE, media)], bytes).into_response())
}

// ---------------------------------------------------------------------------------------------
// Damage codes

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeTableDto {
    pub edition: String,
    /// Rows of the table: part (area, type, severity), code, English and Chinese labels.
    pub codes: Vec<CodeDto>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeDto {
    pub part: String,
    pub code: String,
    pub en: String,
    pub zh: String,
}

fn table_dto(t: &CodeTable) -> CodeTableDto {
    CodeTableDto {
        edition: t.edition.clone(),
        codes: t
            .rows()
            .map(|(part, code, l)| CodeDto {
                part: part.to_string(),
                code: part.format(code),
                en: l.en.clone(),
                zh: l.zh.clone(),
            })
            .collect(),
    }
}

/// The damage-code table in force (every party reads it).
#[utoipa::path(get, path = "/damage-codes", tag = "tally", security(("bearer" = [])),
    responses((status = 200, body = CodeTableDto), (status = 404, body = Problem)))]
pub async fn get_damage_codes(
    State(state): State<AppState>,
    _p: Principal,
) -> Result<Json<CodeTableDto>, ApiError> {
    let t = state
        .store
        .damage_codes()
        .await?
        .ok_or_else(|| ApiError::not_found("damage-code table", "current"))?;
    Ok(Json(table_dto(&t)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EditionQuery {
    /// The edition loaded, e.g. "M-22 v4.1".
    pub edition: String,
}

/// Load the damage-code table (operator administrators): CSV `part,code,en,zh` with area,
/// type and severity rows. Every bad line is refused; the table in force is replaced whole.
#[utoipa::path(put, path = "/damage-codes", tag = "tally", security(("bearer" = [])),
    params(EditionQuery), request_body(content((String = "text/csv"))),
    responses((status = 200, body = CodeTableDto), (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_damage_codes(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<EditionQuery>,
    req: Request,
) -> Result<Json<CodeTableDto>, ApiError> {
    policy::may(&p, Command::LoadDamageCodes)?;
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the table as text/csv",
        ));
    }
    let edition = q.edition.trim();
    if edition.is_empty() || edition.chars().count() > 100 {
        return Err(ApiError::field("edition", "1 to 100 characters"));
    }
    let bytes = body_bytes(req, &state).await?;
    let text = jianghai_tally::manifest::decode_text(&bytes, None).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-encoding",
            e.to_string(),
        )
    })?;
    let table = CodeTable::from_csv(edition, &text).map_err(|e| match e {
        jianghai_tally::CodeError::Table { line, message } => {
            ApiError::validation(vec![FieldError::at_line(line, "row", message)])
        }
        other => ApiError::field("body", other.to_string()),
    })?;
    state.store.set_damage_codes(&table, &text, &by(&p)).await?;
    Ok(Json(table_dto(&table)))
}
