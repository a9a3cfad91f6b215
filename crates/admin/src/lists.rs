//! Large lists (SPEC §3.4, §5.5): `GET /api/filters/{id}/list` streams the list as text, one
//! value a line; `PUT` replaces it from a streamed body (text or JSON array, gzip accepted) in
//! one transaction; `PATCH` adds and removes values atomically.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bidsieve_filter::{FilterKind, ListField, ListValues};
use bidsieve_store::{FilterRecord, StoreError};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::envelope::{Data, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryIds, RecordId, media_type, parse_json};
use crate::filters::{FilterDoc, filter_not_found, owned_record, specs_with_lists};
use crate::list_cache::row;
use crate::list_upload::{Format, ListUpload, UploadError};
use crate::state::AdminState;

/// Body chunks queued between the connection and the parsing thread.
const UPLOAD_QUEUE: usize = 16;
/// How long after a replaced list's commit its SQLite checkpoint runs: after the proxies
/// following the store (woken at once, or polling every `proxy.poll_interval`, 250 ms by
/// default) have read and compiled the new list, which takes under 1.3 s for 5M entries in
/// BENCHMARKS.md.
const LIST_CHECKPOINT_DELAY: std::time::Duration = std::time::Duration::from_secs(8);

/// `PATCH /api/filters/{id}/list` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPatch {
    /// Values to add (strings or numbers).
    #[schema(value_type = Option<Vec<crate::filters::ListItemDoc>>)]
    pub add: Option<Value>,
    /// Values to remove; a value both added and removed ends up absent.
    #[schema(value_type = Option<Vec<crate::filters::ListItemDoc>>)]
    pub remove: Option<Value>,
}

/// The list field of one of the caller's filters, or a 404 when it has no list.
async fn list_filter(
    state: &AdminState,
    caller: &Caller,
    query: QueryIds,
    id: i64,
) -> Result<(i64, FilterRecord, ListField), ApiError> {
    let customer = caller.scope(state, query).await?;
    let record = owned_record(state, customer, id).await?;
    let field = list_field(&record)?;
    Ok((customer, record, field))
}

fn list_field(record: &FilterRecord) -> Result<ListField, ApiError> {
    let spec = row(record)
        .to_spec()
        .map_err(|e| ApiError::internal(format!("stored filter is invalid: {e}")))?;
    match spec.kind {
        FilterKind::List { field, .. } => Ok(field),
        other => Err(ApiError::NotFound(format!(
            "filter {} is a {} filter and has no list",
            record.id,
            other.filter_type().as_str()
        ))),
    }
}

/// Checks, inside the write transaction, that the filter is still the same list filter.
async fn still_list(
    tx: &mut bidsieve_store::StoreTx,
    record: &FilterRecord,
    field: ListField,
) -> Result<(), ApiError> {
    match tx.filter(record.id).await? {
        Some(now) if now.customer_id == record.customer_id => {
            if list_field(&now).ok() == Some(field) {
                Ok(())
            } else {
                Err(ApiError::Conflict {
                    field: Some("filter_type".into()),
                    message: format!(
                        "filter {} changed while its list was uploaded; retry",
                        record.id
                    ),
                })
            }
        }
        _ => Err(filter_not_found(record.id)),
    }
}

/// The filter as `GET /api/filters/{id}` shows it, after a list change.
async fn flat_filter(state: &AdminState, customer: i64, id: i64) -> Result<Value, ApiError> {
    let record = owned_record(state, customer, id).await?;
    let inline_max = state.settings().list_inline_max;
    let specs = specs_with_lists(state.store(), std::slice::from_ref(&record), inline_max).await?;
    specs
        .first()
        .map(|s| s.to_json(inline_max))
        .ok_or_else(|| filter_not_found(id))
}

/// The whole list as text, one value a line (streamed, bucket by bucket; the order within
/// the list carries no meaning).
#[utoipa::path(
    get,
    path = "/api/filters/{id}/list",
    tag = "lists",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "filter id"),
           ("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "One value a line; `x-list-length` gives the count",
            content_type = "text/plain", body = String,
            headers(("x-list-length" = u64, description = "number of values"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn get_list(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    RecordId(id): RecordId,
) -> Result<Response, ApiError> {
    let (_, record, _) = list_filter(&state, &caller, query, id).await?;
    let reader = state
        .store()
        .list_chunks(record.id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => filter_not_found(id),
            other => other.into(),
        })?;
    let len = reader.len();
    let stream = reader.into_stream().map(|chunk| match chunk {
        Ok(chunk) => Ok(Bytes::from(chunk.text)),
        Err(e) => {
            tracing::warn!(error = %e, "list stream failed");
            Err(std::io::Error::other("list read failed"))
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("x-list-length", HeaderValue::from(len));
    Ok(response)
}

/// Replaces the list with the body: `text/plain`, one value a line, or a JSON array; gzip
/// accepted (`Content-Encoding: gzip`). Applied in one transaction.
#[utoipa::path(
    put,
    path = "/api/filters/{id}/list",
    tag = "lists",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "filter id"),
           ("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    request_body(
        description = "The new list: one value a line (text/plain) or a JSON array",
        content(
            (String = "text/plain"),
            (Vec<crate::filters::ListItemDoc> = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "The filter, flat, with its new list", body = Data<FilterDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody),
    )
)]
pub(crate) async fn put_list(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    RecordId(id): RecordId,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<Value>, ApiError> {
    let (customer, record, field) = list_filter(&state, &caller, query, id).await?;
    let limit = state.settings().max_list_body;
    let format = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(media_type)
    {
        None => Format::Lines,
        Some(t) if t == "text/plain" || t == "application/x-www-form-urlencoded" => Format::Lines,
        Some(t)
            if t == "application/json"
                || (t.starts_with("application/") && t.ends_with("+json")) =>
        {
            Format::JsonArray
        }
        Some(_) => {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: text/plain or application/json",
            ));
        }
    };
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => false,
        Some(v) if v == "gzip" || v == "x-gzip" => true,
        Some(v) if v == "identity" => false,
        Some(_) => {
            return Err(ApiError::UnsupportedMediaType(
                "expected no Content-Encoding, or gzip",
            ));
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    // Plain text reserves the builder up front; JSON and gzip grow as they go.
    let capacity = match (gzip, declared) {
        (false, Some(n)) => n,
        _ => 0,
    };

    let _permit = state
        .inner()
        .uploads
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let started = std::time::Instant::now();
    let (chunks, mut queue) = tokio::sync::mpsc::channel::<Bytes>(UPLOAD_QUEUE);
    // Parsing and committing millions of values is seconds of CPU: both run as background
    // jobs (nice 19), so that bids on the same machine go first; the commit's SQLite
    // checkpoint waits until the proxies have read the new list.
    let parser = bidsieve_store::low_priority("bidsieve-list-parse", move || {
        let mut upload = ListUpload::new(format, field, gzip, capacity, limit);
        while let Some(chunk) = queue.blocking_recv() {
            upload.feed(&chunk)?;
        }
        upload.finish()
    })?;
    let received = read_into(body, &chunks, limit).await;
    drop(chunks);
    let parsed = parser.await?;
    // A body error first (too large, cut off), then what the parser found.
    received?;
    let list = parsed?;
    let parsed_in = started.elapsed();

    let target = record.clone();
    let commit = state.store().background_write(
        "bidsieve-list-commit",
        LIST_CHECKPOINT_DELAY,
        move |store| async move {
            let mut tx = store.begin().await?;
            still_list(&mut tx, &target, field).await?;
            let applied = tx.replace_list_bucketed(target.id, &list).await?;
            tx.commit().await?;
            Ok::<_, ApiError>(applied)
        },
    )?;
    let applied = commit.await??;
    tracing::info!(
        customer.id = customer,
        filter.id = id,
        list.len = applied.len,
        parse_ms = u64::try_from(parsed_in.as_millis()).unwrap_or(u64::MAX),
        total_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "list replaced"
    );
    flat_filter(&state, customer, id).await.map(Reply::ok)
}

/// Reads the body frame by frame into `chunks`, enforcing `limit` on the wire. Stops early
/// when the parser has given up (its receiver is gone).
async fn read_into(
    mut body: Body,
    chunks: &tokio::sync::mpsc::Sender<Bytes>,
    limit: usize,
) -> Result<(), ApiError> {
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the body failed: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(ApiError::TooLarge { limit });
        }
        if chunks.send(data).await.is_err() {
            // The parser stopped on an error; it reports it.
            break;
        }
    }
    Ok(())
}

/// Adds and removes values in one transaction.
#[utoipa::path(
    patch,
    path = "/api/filters/{id}/list",
    tag = "lists",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "filter id"),
           ("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    request_body = ListPatch,
    responses(
        (status = 200, description = "The filter, flat, with its new list", body = Data<FilterDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody),
    )
)]
pub(crate) async fn patch_list(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    RecordId(id): RecordId,
    headers: HeaderMap,
    body: Body,
) -> Result<Reply<Value>, ApiError> {
    let (customer, record, field) = list_filter(&state, &caller, query, id).await?;
    crate::extract::check_json_content_type(&headers)?;
    let limit = state.settings().max_list_body;
    let bytes = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ApiError::TooLarge { limit }
            } else {
                ApiError::bad_request(format!("reading the body failed: {e}"))
            }
        })?
        .to_bytes();
    let patch: ListPatch = parse_json(&bytes)?;
    drop(bytes);
    let values = |name: &'static str, value: Option<Value>| -> Result<ListValues, ApiError> {
        match value {
            None | Some(Value::Null) => Ok(ListValues::empty(field)),
            Some(v) => ListValues::from_json(field, &v)
                .map_err(|e| ApiError::validation(name, format!("{name}: {e}"))),
        }
    };
    let add = values("add", patch.add)?;
    let remove = values("remove", patch.remove)?;
    let mut tx = state.store().begin().await?;
    still_list(&mut tx, &record, field).await?;
    let applied = tx
        .patch_list(record.id, add.texts(), remove.texts())
        .await?;
    tx.commit().await?;
    tracing::info!(
        customer.id = customer,
        filter.id = id,
        list.len = applied.len,
        "list patched"
    );
    flat_filter(&state, customer, id).await.map(Reply::ok)
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Invalid(message) => ApiError::validation("list", message),
            UploadError::TooLarge { limit } => ApiError::TooLarge { limit },
            UploadError::Gzip(message) => ApiError::bad_request(message),
        }
    }
}
