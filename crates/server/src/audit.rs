//! The audit log: every `/api/v1` request is recorded with who made it, the route, the object
//! (the concrete path), the outcome (status) and the request id, before the response leaves.
//!
//! The middleware puts an [`AuditSlot`] in the request; the [`crate::auth::Principal`]
//! extractor fills it in, so the log names the caller even when the policy refuses them.

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use jianghai_core::ledger::format_time;
use jianghai_store::AuditEntry;

use crate::AppState;

/// (organisation, `user:NAME` / `device:ID`).
type Who = (Option<String>, String);

/// Who the request turned out to be.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<Who>>>);

impl AuditSlot {
    pub fn set(&self, organisation: Option<String>, principal: String) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some((organisation, principal));
    }

    fn take(&self) -> Option<Who> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Records the request once its response is ready. A failure to write the audit log turns the
/// response into a 500: nothing goes unaudited.
pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let object = req.uri().path().to_string();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let res = next.run(req).await;
    let who = slot.take();
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: format_time(Utc::now()),
        organisation: who.as_ref().and_then(|(o, _)| o.clone()),
        principal: Some(who.map(|(_, p)| p).unwrap_or_else(|| "anonymous".into())),
        method,
        route,
        object,
        status: i32::from(res.status().as_u16()),
        request_id,
    };
    match state.store.audit(&entry).await {
        Ok(()) => res,
        Err(e) => {
            use axum::response::IntoResponse;
            crate::problem::ApiError::internal(format!("cannot write the audit log: {e}"))
                .into_response()
        }
    }
}
