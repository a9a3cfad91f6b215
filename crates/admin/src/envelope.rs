//! The success envelope `{"data": ...}` (SPEC §5) and small shared response shapes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::json_response;

/// A success body: `{"data": T}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    /// The result.
    pub data: T,
}

/// A `{"data": T}` response with a status (200, or 201 for a creation).
#[derive(Debug)]
pub(crate) struct Reply<T> {
    status: StatusCode,
    body: Data<T>,
}

impl<T: Serialize> Reply<T> {
    /// 200 with `data`.
    pub(crate) fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            body: Data { data },
        }
    }

    /// 201 with `data` (a record was created).
    pub(crate) fn created(data: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            body: Data { data },
        }
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// What a `DELETE` removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// The ids of every record removed (a filter's whole subtree, children first).
    pub deleted: Vec<i64>,
}
