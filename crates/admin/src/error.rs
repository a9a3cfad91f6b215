//! `ApiError`: every failure of the admin API, answered as
//! `{"error": {"id": ID, "message": TEXT, "field"?: NAME}}` with the status of SPEC §5's table.
//!
//! Internal failures are logged here, once, and answered with a generic message. Responses that
//! did not come from an `ApiError` (axum's own 404/405, a rejection of an extractor) are
//! rewritten into the same shape by [`normalize_errors`].

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bidsieve_filter::ValidationError;
use bidsieve_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// Why an admin API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `BAD_REQUEST`: the body cannot be parsed (or is not of an accepted media type).
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
    },
    /// 400 `VALIDATION`: a rule of SPEC §3.3 or a field rule.
    #[error("{message}")]
    Validation {
        /// The offending field, when one is at fault.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 401 `NOAUTH`: no token, bad signature, expired, idle too long, revoked.
    #[error("{0}")]
    NoAuth(&'static str),
    /// 403 `UNAUTH`: authenticated, but the role does not allow it.
    #[error("{0}")]
    Unauth(&'static str),
    /// 404 `NOT_FOUND`: no such record for this caller, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// 405 `METHOD_NOT_ALLOWED`: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `CONFLICT`: a unique field is taken, or the record is still in use.
    #[error("{message}")]
    Conflict {
        /// The field at fault.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 413 `TOO_LARGE`: the body is over the route's limit.
    #[error("body over the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 415 `BAD_REQUEST`: the body's media type is not one the route reads.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// 429 `RATE_LIMITED`, with `Retry-After`.
    #[error("too many login attempts; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until a new attempt can succeed.
        retry_after: u64,
    },
    /// 500 `INTERNAL`: the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` object of an error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `BAD_REQUEST`, `VALIDATION`, `NOAUTH`, `UNAUTH`, `NOT_FOUND`, `METHOD_NOT_ALLOWED`,
    /// `CONFLICT`, `TOO_LARGE`, `RATE_LIMITED` or `INTERNAL`.
    pub id: &'static str,
    /// What went wrong, for a human.
    pub message: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// === impl ApiError ===

impl ApiError {
    /// A `VALIDATION` error about `field`.
    pub(crate) fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A `BAD_REQUEST` error.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
        }
    }

    /// An internal failure (logged when answered).
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } | Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::NoAuth(_) => StatusCode::UNAUTHORIZED,
            Self::Unauth(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error id of SPEC §5's table.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION",
            other => id_of_status(other.status()),
        }
    }

    fn body(&self) -> ErrorBody {
        let (message, field) = match self {
            Self::Validation { field, message } | Self::Conflict { field, message } => {
                (message.clone(), field.clone())
            }
            Self::Internal(_) => ("internal error".to_owned(), None),
            other => (other.to_string(), None),
        };
        ErrorBody {
            error: ErrorDetail {
                id: self.id(),
                message,
                field,
            },
        }
    }
}

/// The error id for a status (the one place the table of SPEC §5 lives).
fn id_of_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        // 415 is a body the route cannot read: the table's "unparsable body".
        400 | 415 => "BAD_REQUEST",
        401 => "NOAUTH",
        403 => "UNAUTH",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "TOO_LARGE",
        429 => "RATE_LIMITED",
        s if s >= 500 => "INTERNAL",
        _ => "BAD_REQUEST",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "admin API internal error");
        }
        let mut response = json_response(self.status(), &self.body());
        let headers = response.headers_mut();
        match &self {
            Self::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::NoAuth(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"bidsieve\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a response");
            let mut response = Response::new(Body::from(
                r#"{"error":{"id":"INTERNAL","message":"internal error"}}"#,
            ));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict { field: "streams" } => Self::Conflict {
                field: Some("streams".into()),
                message: "the record still has streams; delete or move them first".into(),
            },
            StoreError::Conflict { field } => Self::Conflict {
                field: Some(field.into()),
                message: format!("{field} is already taken"),
            },
            StoreError::MissingReference { field } => Self::Validation {
                field: Some(field.into()),
                message: format!("{field} refers to a record that does not exist"),
            },
            StoreError::Invalid { field, message } => Self::Validation {
                field: Some(field.into()),
                message: format!("{field}: {message}"),
            },
            other => Self::internal(other),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::Validation {
            field: Some(err.field.to_owned()),
            message: err.to_string(),
        }
    }
}

// === fallbacks and the normalizing layer ===

/// The fallback of the router: any unknown path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Largest non-JSON error body whose text is kept as the message.
const MAX_REWRITTEN_MESSAGE: usize = 512;

/// Rewrites every error response that is not JSON yet (axum's 405, an extractor's rejection)
/// into the `{"error": ...}` shape, keeping its status and headers such as `Allow`.
pub(crate) async fn normalize_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REWRITTEN_MESSAGE * 4)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= MAX_REWRITTEN_MESSAGE);
    let message = match (status.as_u16(), text) {
        (500.., _) => "internal error".to_owned(),
        (405, _) => "method not allowed".to_owned(),
        (_, Some(text)) => text,
        (_, None) => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let body = ErrorBody {
        error: ErrorDetail {
            id: id_of_status(status),
            message,
            field: None,
        },
    };
    let rewritten = json_response(status, &body);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, rewritten.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn every_variant_has_the_table_status_and_id() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::bad_request("x"), 400, "BAD_REQUEST"),
            (ApiError::validation("list", "x"), 400, "VALIDATION"),
            (ApiError::NoAuth("x"), 401, "NOAUTH"),
            (ApiError::Unauth("x"), 403, "UNAUTH"),
            (ApiError::NotFound("x".into()), 404, "NOT_FOUND"),
            (ApiError::MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
            (
                ApiError::Conflict {
                    field: Some("slug".into()),
                    message: "x".into(),
                },
                409,
                "CONFLICT",
            ),
            (ApiError::TooLarge { limit: 1 }, 413, "TOO_LARGE"),
            (ApiError::UnsupportedMediaType("x"), 415, "BAD_REQUEST"),
            (
                ApiError::RateLimited { retry_after: 3 },
                429,
                "RATE_LIMITED",
            ),
            (ApiError::internal("db down"), 500, "INTERNAL"),
        ];
        for (err, status, id) in cases {
            let response = err.into_response();
            assert_eq!(response.status().as_u16(), status);
            let body = body_json(response).await;
            assert_eq!(body["error"]["id"], id);
        }
    }

    #[tokio::test]
    async fn internal_details_never_reach_the_client() {
        let response = ApiError::internal("password=hunter2 at db:5432").into_response();
        let body = body_json(response).await;
        assert_eq!(body["error"]["message"], "internal error");
    }

    #[tokio::test]
    async fn rate_limited_carries_retry_after() {
        let response = ApiError::RateLimited { retry_after: 42 }.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }

    #[tokio::test]
    async fn plain_errors_are_rewritten_keeping_headers() {
        let mut response = Response::new(Body::from("Failed to parse the request body"));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
        let response = normalize_errors(response).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET,HEAD");
        let body = body_json(response).await;
        assert_eq!(body["error"]["id"], "METHOD_NOT_ALLOWED");

        let mut response = Response::new(Body::from("length limit exceeded"));
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        let body = body_json(normalize_errors(response).await).await;
        assert_eq!(body["error"]["id"], "TOO_LARGE");
        assert_eq!(body["error"]["message"], "length limit exceeded");
    }

    #[test]
    fn store_errors_map_to_the_table() {
        assert_eq!(ApiError::from(StoreError::NotFound).id(), "NOT_FOUND");
        assert_eq!(
            ApiError::from(StoreError::Conflict { field: "slug" }).id(),
            "CONFLICT"
        );
        assert_eq!(
            ApiError::from(StoreError::MissingReference {
                field: "customer_id"
            })
            .id(),
            "VALIDATION"
        );
        assert_eq!(ApiError::from(StoreError::UnsupportedUrl).id(), "INTERNAL");
    }
}
