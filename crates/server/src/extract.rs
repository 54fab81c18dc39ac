//! Extractors whose rejections are problem documents: JSON bodies (content type, syntax,
//! unknown fields, with the JSON pointer of the offending field), query strings and
//! pagination.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::problem::{ApiError, FieldError};

/// A JSON request body. Wrong content type → 415; malformed JSON → 400; a well-formed body
/// that does not fit (unknown or missing fields, wrong types) → 422 naming the field.
pub struct ApiJson<T>(pub T);

pub(crate) fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

/// Reads a body, answering the body-size limit with a 413 problem.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "the request body is larger than the server accepts",
            )
        } else {
            ApiError::new(e.status(), "bad-body", e.body_text())
        }
    })
}

/// Parses JSON, classifying errors as syntax (400) or shape (422 with a pointer).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(de);
    parsed.map_err(|e| {
        let inner = e.inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let path = e.path().to_string();
                let pointer = if path == "." {
                    "/".to_string()
                } else {
                    format!("/{}", path.replace('.', "/"))
                };
                let msg = inner.to_string();
                let msg = msg
                    .rsplit_once(" at line ")
                    .map(|(m, _)| m.to_string())
                    .unwrap_or(msg);
                ApiError::validation(vec![FieldError::new(pointer, msg)])
            }
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("the body is not valid JSON: {inner}"),
            ),
        }
    })
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(ct) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "send the body as application/json (got {})",
                    ct.unwrap_or("no content type")
                ),
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Cursor pagination: `?after=CURSOR&limit=N` (1–500, default 50).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
}

/// Validated pagination.
pub struct Paging {
    pub after: String,
    pub limit: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let p: PageQuery = serde_urlencoded_like(q)?;
        Paging::new(p.after, p.limit)
    }
}

impl Paging {
    /// Validates a cursor and a page size given by a listing with more query parameters.
    pub fn new(after: Option<String>, limit: Option<i64>) -> Result<Paging, ApiError> {
        let limit = limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::field("limit", "must be between 1 and 500"));
        }
        Ok(Paging {
            after: after.unwrap_or_default(),
            limit,
        })
    }
}

/// A query string parsed into `T`; one that does not fit is a 400 problem.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded_like(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string with axum's own deserializer, as a 400 problem when it does not fit.
fn serde_urlencoded_like<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    let uri: axum::http::Uri = format!("/?{q}").parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-query",
            "malformed query string",
        )
    })?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|axum::extract::Query(v)| v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad-query", e.body_text()))
}

/// The client's address, when the server was started with connect info.
pub struct ClientAddr(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}
