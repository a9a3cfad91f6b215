//! Streams: `GET /api/streams` (customer-scoped) and the operator's `POST /api/streams`,
//! `PUT`/`DELETE /api/streams/{id}` (SPEC §5.3).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::Uri;
use bidsieve_store::{Stream, StreamInput, Supplier};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::{Caller, Operator};
use crate::envelope::{Data, Deleted, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, QueryIds, RecordId};
use crate::state::AdminState;
use crate::suppliers::SupplierView;

/// Longest seat id.
const MAX_SEAT_ID_LEN: usize = 256;
/// Longest customer endpoint URL.
const MAX_ENDPOINT_LEN: usize = 2048;

/// A stream, with its supplier.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamView {
    /// Store-generated id.
    pub id: i64,
    /// 32 lowercase hex chars: suppliers post to `/{client_id}/bids`.
    pub client_id: String,
    /// The supplier sending this traffic.
    pub supplier: SupplierView,
    /// The customer receiving it.
    pub customer_id: i64,
    /// The customer's seat on this supplier.
    pub seat_id: String,
    /// `/{client_id}/bids`.
    pub endpoint_path: String,
    /// The customer's bidder URL.
    pub customer_endpoint: String,
}

impl StreamView {
    fn new(stream: Stream, supplier: SupplierView) -> Self {
        Self {
            endpoint_path: format!("/{}/bids", stream.client_id),
            id: stream.id,
            client_id: stream.client_id,
            supplier,
            customer_id: stream.customer_id,
            seat_id: stream.seat_id,
            customer_endpoint: stream.customer_endpoint,
        }
    }
}

/// A stream's fields an operator changes; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamFields {
    /// The customer receiving the traffic.
    pub customer_id: Option<i64>,
    /// The supplier sending it.
    pub supplier_id: Option<i64>,
    /// The customer's seat on this supplier.
    #[schema(max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub seat_id: Option<String>,
    /// Absolute http/https URL of the customer's bidder.
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub customer_endpoint: Option<String>,
    /// 32 lowercase hex chars.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub client_id: Option<String>,
}

/// `PUT /api/streams/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamBody {
    /// The stream.
    pub stream: StreamFields,
}

/// A new stream.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamCreate {
    /// The customer receiving the traffic.
    pub customer_id: i64,
    /// The supplier sending it.
    pub supplier_id: i64,
    /// The customer's seat on this supplier.
    #[schema(max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub seat_id: String,
    /// Absolute http/https URL of the customer's bidder.
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub customer_endpoint: String,
    /// 32 lowercase hex chars; generated when absent.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub client_id: Option<String>,
}

/// `POST /api/streams` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamCreateBody {
    /// The stream.
    pub stream: StreamCreate,
}

// The patterns above are what the description promises to accept; the API itself accepts any
// seat id without control characters and any absolute http/https URL.

/// Checks that `url` is an absolute http or https URL.
pub(crate) fn check_endpoint(url: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::validation(
            "stream.customer_endpoint",
            "customer_endpoint must be an absolute http:// or https:// URL",
        )
    };
    if url.len() > MAX_ENDPOINT_LEN {
        return Err(bad());
    }
    let uri: Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if scheme_ok && host_ok {
        Ok(url.to_owned())
    } else {
        Err(bad())
    }
}

fn check_seat(seat: &str) -> Result<String, ApiError> {
    if seat.len() > MAX_SEAT_ID_LEN || seat.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "stream.seat_id",
            format!("seat_id must be at most {MAX_SEAT_ID_LEN} printable characters"),
        ));
    }
    Ok(seat.to_owned())
}

fn stream_error(e: bidsieve_store::StoreError) -> ApiError {
    use bidsieve_store::StoreError;
    match e {
        StoreError::Conflict { field } => ApiError::Conflict {
            field: Some(format!("stream.{field}")),
            message: format!("{field} is already taken"),
        },
        StoreError::MissingReference { field } => ApiError::validation(
            format!("stream.{field}"),
            format!("{field} refers to a record that does not exist"),
        ),
        StoreError::Invalid { field, message } => {
            ApiError::validation(format!("stream.{field}"), format!("{field}: {message}"))
        }
        StoreError::NotFound => ApiError::NotFound("stream not found".into()),
        other => other.into(),
    }
}

/// The streams of the caller's customer.
#[utoipa::path(
    get,
    path = "/api/streams",
    tag = "customer",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "The customer's streams, by id", body = Data<Vec<StreamView>>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn list_streams(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
) -> Result<Reply<Vec<StreamView>>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let streams = state.store().streams_of(customer).await?;
    let suppliers: HashMap<i64, Supplier> = state
        .store()
        .suppliers_of_customer(customer)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let views = streams
        .into_iter()
        .map(|stream| {
            let supplier = suppliers
                .get(&stream.supplier_id)
                .cloned()
                .map(SupplierView::from)
                .unwrap_or(SupplierView {
                    id: stream.supplier_id,
                    name: String::new(),
                });
            StreamView::new(stream, supplier)
        })
        .collect();
    Ok(Reply::ok(views))
}

/// Creates a stream (operators); its `client_id` is generated unless given.
#[utoipa::path(
    post,
    path = "/api/streams",
    tag = "operator",
    security(("bearer" = [])),
    request_body = StreamCreateBody,
    responses(
        (status = 201, description = "The created stream", body = Data<StreamView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn create_stream(
    State(state): State<AdminState>,
    _operator: Operator,
    ApiJson(body): ApiJson<StreamCreateBody>,
) -> Result<Reply<StreamView>, ApiError> {
    let f = body.stream;
    let input = StreamInput {
        customer_id: f.customer_id,
        supplier_id: f.supplier_id,
        seat_id: check_seat(&f.seat_id)?,
        customer_endpoint: check_endpoint(&f.customer_endpoint)?,
        client_id: f.client_id,
    };
    let mut tx = state.store().begin().await?;
    let stream = tx.create_stream(&input).await.map_err(stream_error)?;
    let supplier = tx
        .supplier(stream.supplier_id)
        .await
        .map_err(stream_error)?;
    tx.commit().await?;
    tracing::info!(stream.id = stream.id, "stream created");
    Ok(Reply::created(StreamView::new(stream, supplier.into())))
}

/// Changes a stream (operators); absent fields stay.
#[utoipa::path(
    put,
    path = "/api/streams/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "stream id")),
    request_body = StreamBody,
    responses(
        (status = 200, description = "The updated stream", body = Data<StreamView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn update_stream(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
    ApiJson(body): ApiJson<StreamBody>,
) -> Result<Reply<StreamView>, ApiError> {
    let f = body.stream;
    let mut tx = state.store().begin().await?;
    let current = tx.stream(id).await.map_err(stream_error)?;
    let input = StreamInput {
        customer_id: f.customer_id.unwrap_or(current.customer_id),
        supplier_id: f.supplier_id.unwrap_or(current.supplier_id),
        seat_id: match f.seat_id {
            Some(seat) => check_seat(&seat)?,
            None => current.seat_id,
        },
        customer_endpoint: match f.customer_endpoint {
            Some(url) => check_endpoint(&url)?,
            None => current.customer_endpoint,
        },
        client_id: f.client_id,
    };
    let stream = tx.update_stream(id, &input).await.map_err(stream_error)?;
    let supplier = tx
        .supplier(stream.supplier_id)
        .await
        .map_err(stream_error)?;
    tx.commit().await?;
    Ok(Reply::ok(StreamView::new(stream, supplier.into())))
}

/// Deletes a stream (operators).
#[utoipa::path(
    delete,
    path = "/api/streams/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "stream id")),
    responses(
        (status = 200, description = "Deleted", body = Data<Deleted>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn delete_stream(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
) -> Result<Reply<Deleted>, ApiError> {
    state
        .store()
        .delete_stream(id)
        .await
        .map_err(stream_error)?;
    tracing::info!(stream.id = id, "stream deleted");
    Ok(Reply::ok(Deleted { deleted: vec![id] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_absolute_http_urls() {
        for ok in [
            "http://bidder.example.com/bids",
            "https://10.0.0.1:8443/rtb?x=1",
            "http://localhost:9000",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/bids",
            "bidder.example.com/bids",
            "ftp://x/y",
            "http://",
            "javascript:alert(1)",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seats() {
        assert!(check_seat("123").is_ok());
        assert!(check_seat("").is_ok());
        assert!(check_seat("a\nb").is_err());
        assert!(check_seat(&"x".repeat(257)).is_err());
    }
}
