//! Errors as RFC 9457 problem documents (`application/problem+json`), from one type with one
//! [`IntoResponse`]. Internal errors are logged with the request's span and never described
//! to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jianghai_store::{AppendError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// Base of the problem `type` URIs.
pub const PROBLEM_BASE: &str = "https://jianghai.dev/problems/";

/// One problem with one field or row of the input.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// A JSON pointer into the request body (`/vins/3`), or a CSV column name.
    pub field: String,
    /// The line of a CSV upload (1 is the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            line: None,
            detail: detail.into(),
        }
    }

    pub fn at_line(line: u64, field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            line: Some(line),
            detail: detail.into(),
        }
    }
}

/// The problem document as sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://jianghai.dev/problems/<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Per-field (or per-row) errors of a validation problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An API error: status, a stable slug, a human detail, and optional per-field errors.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            slug,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 404, the same whether the object is absent or belongs to someone else.
    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("there is no {what} {id:?}"),
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn unauthorized(slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, slug, detail)
    }

    /// 422 with per-field errors.
    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let n = errors.len();
        ApiError {
            errors,
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                format!(
                    "the request has {n} invalid field{}",
                    if n == 1 { "" } else { "s" }
                ),
            )
        }
    }

    pub fn field(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::validation(vec![FieldError::new(field, detail)])
    }

    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn too_many(detail: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", detail)
        }
    }

    /// 500; the cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "Request failed.");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; it has been logged",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.slug),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Exists { what, id } => {
                ApiError::conflict(format!("{what} {id:?} already exists"))
            }
            StoreError::Missing { what, id } => {
                ApiError::field("/", format!("{what} {id:?} does not exist"))
            }
            StoreError::Invalid(detail) => ApiError::field("/", detail),
            other => ApiError::internal(other),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> ApiError {
        match e {
            AppendError::Store(s) => s.into(),
            AppendError::Lifecycle { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "lifecycle",
                format!("{e}; nothing was recorded"),
            ),
            AppendError::Conflict { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "event-id-reused",
                format!("{e}; nothing was recorded"),
            ),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-event",
                format!("{other}; nothing was recorded"),
            ),
        }
    }
}

/// Turns every error response that is not already a problem (unknown routes, wrong methods,
/// the body-size limit of tower-http) into one, so clients see a single error shape.
pub async fn problemize(res: Response) -> Response {
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let (slug, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "there is nothing at this address"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "this address does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "the request body is larger than the server accepts",
        ),
        _ => ("error", "the request could not be handled"),
    };
    let mut problem = ApiError::new(status, slug, detail);
    problem.retry_after = res
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    problem.into_response()
}
