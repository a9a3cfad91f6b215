//! `POST /api/filters/explain` (SPEC §5.4): a bid request run through the customer's tree,
//! compiled by the filter crate exactly as the proxy compiles it, with every node's result.
//! Nothing is forwarded.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use bidsieve_filter::{Facts, FilterTree, render_tree};
use bidsieve_openrtb::{GzipError, decompress_gzip, extract};
use bidsieve_uid2::ClientType;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::envelope::{Data, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryIds;
use crate::filters::{FilterDoc, specs_with_lists};
use crate::list_cache::row;
use crate::state::AdminState;

/// The `uid2_status` of a request without a UID2 token (SPEC §2.4).
const STATUS_NONE: &str = "NONE";

/// The explained decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explained {
    /// `forward` when the root passes, else `drop`.
    pub decision: &'static str,
    /// The tree (shape of `GET /api/filters`), every node with its `result`.
    #[schema(value_type = FilterDoc)]
    pub tree: Value,
}

/// Explains how the customer's filters decide a bid request (the body), on the stream named
/// by `?stream_id=N` (without it, the stream and supplier ids are 0).
#[utoipa::path(
    post,
    path = "/api/filters/explain",
    tag = "filters",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer"),
           ("stream_id" = Option<i64>, Query, description = "the stream the request arrives on")),
    request_body(content = Object, description = "An OpenRTB 2.5/2.6 bid request (gzip accepted)", content_type = "application/json"),
    responses(
        (status = 200, description = "The decision and the annotated tree", body = Data<Explained>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
    )
)]
pub(crate) async fn explain(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Reply<Explained>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let max_body = state.settings().max_body;
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit: max_body }
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    let (stream_id, supplier_id) = match query.stream_id {
        None => (0, 0),
        Some(id) => match state.store().stream(id).await {
            Ok(stream) if stream.customer_id == customer => (stream.id, stream.supplier_id),
            Ok(_) | Err(bidsieve_store::StoreError::NotFound) => {
                return Err(ApiError::NotFound(format!("stream {id} not found")));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let bytes: Bytes = if gzipped {
        decompress_gzip(&body, max_body)
            .map_err(|e| match e {
                GzipError::TooLarge { limit } => ApiError::TooLarge { limit },
                other => {
                    ApiError::bad_request(format!("the gzip body does not decompress: {other}"))
                }
            })?
            .into()
    } else {
        body
    };
    let fields = extract(&bytes)
        .map_err(|e| ApiError::bad_request(format!("not a bid request: {}", e.message())))?;

    let uid2 = match fields.uid2_token.as_deref() {
        None => None,
        Some(token) => {
            let name = fields.domain.as_deref().map(|domain| {
                if fields.domain_is_app {
                    domain
                } else {
                    registrable_domain(domain)
                }
            });
            Some(
                state
                    .inner()
                    .uid2
                    .decrypt(token, now_ms(), name, ClientType::Bidstream),
            )
        }
    };
    let uid2_status = uid2.as_ref().map_or(STATUS_NONE, |d| d.status.as_str());

    let store = state.store();
    let records = store.filters_of(customer).await?;
    let stored_specs = records
        .iter()
        .map(|r| row(r).to_spec())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal(format!("stored filter is invalid: {e}")))?;
    let lists = state
        .inner()
        .lists
        .lists_for(store, customer, &records)
        .await?;
    let tree = FilterTree::compile(&stored_specs, &lists)
        .map_err(|e| ApiError::internal(format!("stored tree does not compile: {e}")))?;
    let facts = Facts {
        request: &fields,
        stream_id,
        supplier_id,
        uid2: uid2.as_ref().and_then(|d| d.uid.as_deref()),
        uid2_status,
    };
    let results = tree.explain(&facts);
    let pass = results
        .iter()
        .find(|(id, _)| *id == tree.root_id())
        .is_some_and(|(_, pass)| *pass);

    let inline_max = state.settings().list_inline_max;
    let specs = specs_with_lists(store, &records, inline_max).await?;
    let rendered = render_tree(&specs, inline_max, Some(&results))
        .ok_or_else(|| ApiError::NotFound(format!("customer {customer} has no filter tree")))?;
    Ok(Reply::ok(Explained {
        decision: if pass { "forward" } else { "drop" },
        tree: rendered,
    }))
}

/// The registrable domain (public suffix + one label) of a lower-case host name, as the proxy
/// checks UID2 tokens' domains; the name itself when the public suffix list does not know it.
fn registrable_domain(host: &str) -> &str {
    psl::domain_str(host).unwrap_or(host)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable_domain("news.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("example.com"), "example.com");
    }
}
