//! Alerts: listing, reading and acting on them, the live stream (Server-Sent Events), and the
//! webhooks organisations register to receive them.
//!
//! Every handler takes its scope from [`policy::alerts`]: another party's alert reads as
//! absent (404) whether one reads it, acts on it or waits for it on the stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures_util::Stream;
use jianghai_store::{
    Alert, AlertComment, AlertError, AlertEvent, AlertFilter, AlertScope, AlertState, Delivery,
    Severity, Store, WebhookRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageDto;
use crate::AppState;
use crate::auth::Principal;
use crate::extract::{ApiJson, ApiQuery, Paging, body_bytes, is_json, parse_json};
use crate::policy::{self, Command};
use crate::problem::{ApiError, Problem};

/// An alert as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertDto {
    pub id: Uuid,
    /// The rule that fired.
    pub rule: String,
    /// `kind:id`, e.g. `deck:minsheng-ro-ro-8/D3`.
    pub subject: String,
    pub subject_kind: String,
    pub subject_id: String,
    /// watch, tally, loading, …
    pub source: String,
    /// info, warning or critical.
    pub severity: String,
    /// open, acknowledged or resolved.
    pub state: String,
    pub title: String,
    pub detail: String,
    /// The readings (or scans) that opened the alert.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// The readings of the latest repeat.
    #[schema(value_type = Object)]
    pub last_evidence: serde_json::Value,
    pub opened_at: String,
    pub last_seen: String,
    /// Raises absorbed by this alert.
    pub count: i64,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<String>,
    /// Who resolved it; absent when the condition cleared by itself.
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    pub assignee: Option<String>,
    /// Escalation level reached for want of an acknowledgement (0: none).
    pub escalation: i32,
    pub escalated_at: Option<String>,
}

pub fn alert_dto(a: Alert) -> AlertDto {
    AlertDto {
        id: a.id,
        subject: format!("{}:{}", a.subject_kind, a.subject_id),
        rule: a.rule,
        subject_kind: a.subject_kind,
        subject_id: a.subject_id,
        source: a.source,
        severity: a.severity.as_str().into(),
        state: a.state.as_str().into(),
        title: a.title,
        detail: a.detail,
        evidence: a.evidence,
        last_evidence: a.last_evidence,
        opened_at: a.opened_at,
        last_seen: a.last_seen,
        count: a.count,
        acknowledged_at: a.acknowledged_at,
        acknowledged_by: a.acknowledged_by,
        resolved_at: a.resolved_at,
        resolved_by: a.resolved_by,
        resolution: a.resolution,
        assignee: a.assignee,
        escalation: a.escalation,
        escalated_at: a.escalated_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentDto {
    pub id: Uuid,
    pub at: String,
    /// `user:NAME`.
    pub author: String,
    pub body: String,
}

fn comment_dto(c: AlertComment) -> CommentDto {
    CommentDto {
        id: c.id,
        at: c.at,
        author: c.author,
        body: c.body,
    }
}

/// An alert with its comments.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertDetailDto {
    #[serde(flatten)]
    pub alert: AlertDto,
    pub comments: Vec<CommentDto>,
}

/// One entry of the alert log, as the stream and webhooks send it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertEventDto {
    /// The log's sequence number: the SSE `id`, and what `Last-Event-ID` resumes after.
    pub seq: i64,
    pub at: String,
    /// raised, updated, acknowledged, assigned, commented, escalated or resolved.
    pub kind: String,
    pub actor: String,
    pub detail: String,
    /// The alert as it is now.
    pub alert: AlertDto,
}

pub fn event_dto(e: AlertEvent) -> AlertEventDto {
    AlertEventDto {
        seq: e.seq,
        at: e.at,
        kind: e.kind,
        actor: e.actor,
        detail: e.detail,
        alert: alert_dto(e.alert),
    }
}

fn actor(p: &Principal) -> String {
    format!("user:{}", p.username)
}

/// An alert id from the path; one that is not a UUID names no alert.
fn alert_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found("alert", id))
}

fn alert_error(e: AlertError) -> ApiError {
    match e {
        AlertError::NotFound(id) => ApiError::not_found("alert", &id.to_string()),
        AlertError::State { .. } => {
            ApiError::new(StatusCode::CONFLICT, "alert-state", e.to_string())
        }
        AlertError::Invalid(m) => ApiError::field("/", m),
        AlertError::Store(s) => s.into(),
        other => ApiError::internal(other),
    }
}

/// Filters and paging of the alert listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// open, acknowledged or resolved.
    pub state: Option<String>,
    /// info, warning or critical.
    pub severity: Option<String>,
    /// `kind:id`, e.g. `deck:minsheng-ro-ro-8/D3` or `vehicle:LS5A3ABE0RB000011`.
    pub subject: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
}

/// Alerts the caller may see, newest first.
#[utoipa::path(get, path = "/alerts", tag = "alerts", security(("bearer" = [])),
    params(AlertQuery), responses((status = 200, body = PageDto<AlertDto>), (status = 422, body = Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<PageDto<AlertDto>>, ApiError> {
    let paging = Paging::new(q.after, q.limit)?;
    let filter = AlertFilter {
        state: q
            .state
            .map(|s| {
                AlertState::parse(&s)
                    .ok_or_else(|| ApiError::field("state", "open, acknowledged or resolved"))
            })
            .transpose()?,
        severity: q
            .severity
            .map(|s| {
                Severity::parse(&s)
                    .ok_or_else(|| ApiError::field("severity", "info, warning or critical"))
            })
            .transpose()?,
        subject: q
            .subject
            .map(|s| {
                s.split_once(':')
                    .filter(|(k, i)| jianghai_store::SUBJECT_KINDS.contains(k) && !i.is_empty())
                    .map(|(k, i)| (k.to_string(), i.to_string()))
                    .ok_or_else(|| {
                        ApiError::field(
                            "subject",
                            format!(
                                "kind:id with a kind of {}",
                                jianghai_store::SUBJECT_KINDS.join(", ")
                            ),
                        )
                    })
            })
            .transpose()?,
    };
    let page = state
        .store
        .alerts(&policy::alerts(&p), &filter, &paging.after, paging.limit)
        .await?;
    Ok(Json(PageDto::map(page, alert_dto)))
}

/// One alert with its comments, if visible to the caller (404 otherwise).
#[utoipa::path(get, path = "/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = AlertDetailDto), (status = 404, body = Problem)))]
pub async fn get_alert(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<AlertDetailDto>, ApiError> {
    let uid = alert_id(&id)?;
    let a = state
        .store
        .alert_in(uid, &policy::alerts(&p))
        .await?
        .ok_or_else(|| ApiError::not_found("alert", &id))?;
    let comments = state.store.alert_comments(uid).await?;
    Ok(Json(AlertDetailDto {
        alert: alert_dto(a),
        comments: comments.into_iter().map(comment_dto).collect(),
    }))
}

/// Runs an idempotent action: repeating it on an alert already in its target state answers
/// with the alert as it is.
async fn idempotent(
    store: &Store,
    scope: &AlertScope,
    id: Uuid,
    done: AlertState,
    result: Result<Alert, AlertError>,
) -> Result<Json<AlertDto>, ApiError> {
    match result {
        Ok(a) => Ok(Json(alert_dto(a))),
        Err(AlertError::State { state, .. }) if state == done => store
            .alert_in(id, scope)
            .await?
            .map(|a| Json(alert_dto(a)))
            .ok_or_else(|| ApiError::not_found("alert", &id.to_string())),
        Err(e) => Err(alert_error(e)),
    }
}

/// Acknowledge an open alert: someone is on it, and its escalation stops. Repeating it is
/// harmless.
#[utoipa::path(post, path = "/alerts/{id}/acknowledge", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = AlertDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn acknowledge_alert(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<AlertDto>, ApiError> {
    policy::may(&p, Command::HandleAlert)?;
    let uid = alert_id(&id)?;
    let scope = policy::alerts(&p);
    let r = state
        .store
        .acknowledge_alert(uid, &scope, &actor(&p), Utc::now())
        .await;
    idempotent(&state.store, &scope, uid, AlertState::Acknowledged, r).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResolveRequest {
    /// What was done (default "resolved by hand").
    pub note: Option<String>,
}

/// Resolve an alert by hand, with an optional JSON body `{"note": "…"}`. Repeating it is
/// harmless.
#[utoipa::path(post, path = "/alerts/{id}/resolve", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ResolveRequest>),
    responses((status = 200, body = AlertDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn resolve_alert(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<AlertDto>, ApiError> {
    policy::may(&p, Command::HandleAlert)?;
    let uid = alert_id(&id)?;
    let ct = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = body_bytes(req, &state).await?;
    let body: ResolveRequest = if bytes.is_empty() {
        ResolveRequest::default()
    } else if is_json(ct.as_deref()) {
        parse_json(&bytes)?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the note as application/json, or no body",
        ));
    };
    let scope = policy::alerts(&p);
    let r = state
        .store
        .resolve_alert(uid, &scope, &actor(&p), body.note.as_deref(), Utc::now())
        .await;
    idempotent(&state.store, &scope, uid, AlertState::Resolved, r).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignRequest {
    /// A username of the caller's organisation; null unassigns.
    pub assignee: Option<String>,
}

/// Assign an open alert to a user of the caller's organisation (or unassign it).
#[utoipa::path(post, path = "/alerts/{id}/assign", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = AssignRequest,
    responses((status = 200, body = AlertDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn assign_alert(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> Result<Json<AlertDto>, ApiError> {
    policy::may(&p, Command::HandleAlert)?;
    let uid = alert_id(&id)?;
    if let Some(name) = &req.assignee {
        let ours = state
            .store
            .user_by_username(name)
            .await?
            .is_some_and(|u| u.organisation == p.organisation.id && u.disabled_at.is_none());
        if !ours {
            return Err(ApiError::field(
                "/assignee",
                format!("there is no active user {name:?} in your organisation"),
            ));
        }
    }
    state
        .store
        .assign_alert(
            uid,
            &policy::alerts(&p),
            req.assignee.as_deref(),
            &actor(&p),
        )
        .await
        .map(|a| Json(alert_dto(a)))
        .map_err(alert_error)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommentRequest {
    /// 1 to 4,000 characters.
    pub body: String,
}

/// Comment on an alert (also after it is resolved).
#[utoipa::path(post, path = "/alerts/{id}/comments", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = CommentRequest,
    responses((status = 201, body = CommentDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn comment_alert(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<CommentDto>), ApiError> {
    policy::may(&p, Command::HandleAlert)?;
    let uid = alert_id(&id)?;
    let c = state
        .store
        .comment_alert(uid, &policy::alerts(&p), &actor(&p), &req.body, Utc::now())
        .await
        .map_err(|e| match e {
            AlertError::Invalid(m) => ApiError::field("/body", m),
            other => alert_error(other),
        })?;
    Ok((StatusCode::CREATED, Json(comment_dto(c))))
}

/// How many log entries one read of the stream fetches.
const STREAM_BATCH: i64 = 500;

/// How often a stream looks at the store even without a wake-up (writers in other processes).
const STREAM_POLL: Duration = Duration::from_secs(1);

/// The alert log, live, as Server-Sent Events: one event per change to an alert the caller may
/// see (`event:` the kind, `id:` the log's sequence number, `data:` an [`AlertEventDto`]).
/// Without `Last-Event-ID` the stream starts now; with it, it first replays what the caller
/// missed from the store. A comment line keeps idle connections open.
#[utoipa::path(get, path = "/alerts/stream", tag = "alerts", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<i64>, Header, description = "Resume after this sequence number")),
    responses((status = 200, content_type = "text/event-stream", body = AlertEventDto), (status = 400, body = Problem)))]
pub async fn stream(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad-last-event-id",
                        "Last-Event-ID must be a sequence number this stream sent",
                    )
                })
        })
        .transpose()?;
    let cursor = match resume {
        Some(n) => n,
        None => state.store.alert_log_head().await?,
    };
    let feed = Feed {
        store: state.store.clone(),
        scope: policy::alerts(&p),
        cursor,
        buffer: VecDeque::new(),
        changes: state.store.alert_log_changes(),
        stopping: state.stopping.subscribe(),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let e = feed.next().await?;
        Some((Ok(sse_event(e)), feed))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(state.config.alerts.keep_alive)))
}

fn sse_event(e: AlertEvent) -> Event {
    let seq = e.seq;
    let kind = e.kind.clone();
    Event::default()
        .id(seq.to_string())
        .event(kind)
        .data(serde_json::to_string(&event_dto(e)).unwrap_or_default())
}

/// A reader of the alert log for one scope: reads from the store after its cursor, and waits
/// for a wake-up (or the poll interval) when it has caught up.
pub struct Feed {
    pub store: Store,
    pub scope: AlertScope,
    pub cursor: i64,
    pub buffer: VecDeque<AlertEvent>,
    pub changes: tokio::sync::watch::Receiver<i64>,
    /// Ends the feed when it turns true (the server is shutting down).
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

impl Feed {
    /// The next log entry in scope; waits as long as it takes, or `None` once the server is
    /// stopping.
    pub async fn next(&mut self) -> Option<AlertEvent> {
        loop {
            if *self.stopping.borrow() {
                return None;
            }
            if let Some(e) = self.buffer.pop_front() {
                return Some(e);
            }
            // Before reading, not after: a commit that lands while the log is being read
            // must still wake the wait below. Marked after the read, such a wake-up was lost
            // and the stream sat out the poll interval (the slow tail of reading → alert).
            self.changes.mark_unchanged();
            match self.fill().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Alert stream cannot read the store; retrying.")
                }
            }
            tokio::select! {
                _ = self.changes.changed() => {}
                _ = self.stopping.changed() => {}
                _ = tokio::time::sleep(STREAM_POLL) => {}
            }
        }
    }

    /// Reads the next batch; true when it found something in scope.
    async fn fill(&mut self) -> Result<bool, jianghai_store::StoreError> {
        let head = self.store.alert_log_head().await?;
        if head <= self.cursor {
            return Ok(false);
        }
        let batch = self
            .store
            .alert_events_after(&self.scope, self.cursor, head, STREAM_BATCH)
            .await?;
        self.cursor = match batch.last() {
            Some(last) if batch.len() as i64 == STREAM_BATCH => last.seq,
            _ => head,
        };
        let found = !batch.is_empty();
        self.buffer.extend(batch);
        Ok(found)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookRequest {
    /// Where to POST alert events: http:// or https://.
    pub url: String,
    /// The signing secret, 16 to 256 characters (default: a new random one, shown once).
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDto {
    pub id: Uuid,
    pub url: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
    /// Only in the answer to the registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn webhook_dto(w: WebhookRecord) -> WebhookDto {
    WebhookDto {
        id: w.id,
        url: w.url,
        created_at: w.created_at,
        disabled_at: w.disabled_at,
        secret: None,
    }
}

/// Register a webhook for the caller's organisation (administrators). It receives every alert
/// event the organisation may see from now on, signed (see the README: `Jianghai-Signature`).
#[utoipa::path(post, path = "/webhooks", tag = "alerts", security(("bearer" = [])),
    request_body = WebhookRequest,
    responses((status = 201, body = WebhookDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> Result<(StatusCode, Json<WebhookDto>), ApiError> {
    policy::may(
        &p,
        Command::ManageWebhooks {
            org: &p.organisation.id,
        },
    )?;
    let url = crate::webhooks::check_url(&req.url).map_err(|m| ApiError::field("/url", m))?;
    let secret = match req.secret {
        Some(s) if (16..=256).contains(&s.chars().count()) => s,
        Some(_) => return Err(ApiError::field("/secret", "16 to 256 characters")),
        None => crate::auth::new_secret("whsec_")?,
    };
    let w = WebhookRecord {
        id: Uuid::now_v7(),
        organisation: p.organisation.id.clone(),
        url,
        secret: secret.clone(),
        created_at: jianghai_core::ledger::format_time(Utc::now()),
        disabled_at: None,
        cursor: 0,
    };
    state.store.create_webhook(&w).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookDto {
            secret: Some(secret),
            ..webhook_dto(w)
        }),
    ))
}

/// The caller's organisation's webhooks (administrators).
#[utoipa::path(get, path = "/webhooks", tag = "alerts", security(("bearer" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, body = PageDto<WebhookDto>), (status = 403, body = Problem)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<WebhookDto>>, ApiError> {
    let org = &p.organisation.id;
    policy::may(&p, Command::ManageWebhooks { org })?;
    let page = state
        .store
        .webhooks_of(org, &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, webhook_dto)))
}

/// The webhook `id` of the caller's organisation, after the policy allowed managing them.
async fn own_webhook(state: &AppState, p: &Principal, id: &str) -> Result<WebhookRecord, ApiError> {
    policy::may(
        p,
        Command::ManageWebhooks {
            org: &p.organisation.id,
        },
    )?;
    let uid = Uuid::parse_str(id).map_err(|_| ApiError::not_found("webhook", id))?;
    state
        .store
        .webhook_of(uid, &p.organisation.id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))
}

/// Disable a webhook of the caller's organisation; its pending deliveries stop.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let w = own_webhook(&state, &p, &id).await?;
    state
        .store
        .disable_webhook(w.id, &p.organisation.id, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptDto {
    pub attempt: i32,
    pub at: String,
    /// The receiver's status; absent when it did not answer.
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDto {
    pub id: Uuid,
    /// The alert-log sequence number delivered.
    pub event_seq: i64,
    /// pending, delivered or failed.
    pub state: String,
    pub attempts: i32,
    pub next_at: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub attempt_log: Vec<AttemptDto>,
}

fn delivery_dto(d: Delivery) -> DeliveryDto {
    DeliveryDto {
        id: d.id,
        event_seq: d.event_seq,
        state: d.state.as_str().into(),
        attempts: d.attempts,
        next_at: d.next_at,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
        attempt_log: d
            .attempt_log
            .into_iter()
            .map(|a| AttemptDto {
                attempt: a.attempt,
                at: a.at,
                status: a.status,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}

/// Deliveries of a webhook of the caller's organisation, newest first, with every attempt.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path), crate::extract::PageQuery),
    responses((status = 200, body = PageDto<DeliveryDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    page: Paging,
) -> Result<Json<PageDto<DeliveryDto>>, ApiError> {
    let w = own_webhook(&state, &p, &id).await?;
    let page = state
        .store
        .deliveries(w.id, &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, delivery_dto)))
}
