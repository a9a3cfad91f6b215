//! Suppliers: `GET /api/suppliers` (customer-scoped: the suppliers of the customer's streams)
//! and the operator's `POST /api/suppliers`, `PUT`/`DELETE /api/suppliers/{id}` (SPEC §5.3).

use axum::extract::State;
use bidsieve_store::Supplier;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::{Caller, Operator};
use crate::envelope::{Data, Deleted, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, QueryIds, RecordId};
use crate::state::AdminState;

/// Longest supplier name.
const MAX_NAME_LEN: usize = 200;

/// A supplier (SSP / exchange).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SupplierView {
    /// Display name.
    pub name: String,
    /// Store-generated id.
    pub id: i64,
}

impl From<Supplier> for SupplierView {
    fn from(s: Supplier) -> Self {
        Self {
            name: s.name,
            id: s.id,
        }
    }
}

/// A supplier as an operator creates or renames it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierFields {
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

/// `POST /api/suppliers` and `PUT /api/suppliers/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierBody {
    /// The supplier.
    pub supplier: SupplierFields,
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::validation(
            "supplier.name",
            format!("name must be 1 to {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn supplier_error(e: bidsieve_store::StoreError) -> ApiError {
    match e {
        bidsieve_store::StoreError::NotFound => ApiError::NotFound("supplier not found".into()),
        other => other.into(),
    }
}

/// The suppliers of the caller's customer's streams.
#[utoipa::path(
    get,
    path = "/api/suppliers",
    tag = "customer",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "Suppliers, by id", body = Data<Vec<SupplierView>>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn list_suppliers(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
) -> Result<Reply<Vec<SupplierView>>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let suppliers = state.store().suppliers_of_customer(customer).await?;
    Ok(Reply::ok(suppliers.into_iter().map(Into::into).collect()))
}

/// Creates a supplier (operators).
#[utoipa::path(
    post,
    path = "/api/suppliers",
    tag = "operator",
    security(("bearer" = [])),
    request_body = SupplierBody,
    responses(
        (status = 201, description = "The created supplier", body = Data<SupplierView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
pub(crate) async fn create_supplier(
    State(state): State<AdminState>,
    _operator: Operator,
    ApiJson(body): ApiJson<SupplierBody>,
) -> Result<Reply<SupplierView>, ApiError> {
    let name = check_name(&body.supplier.name)?;
    let supplier = state.store().create_supplier(&name).await?;
    tracing::info!(supplier.id = supplier.id, "supplier created");
    Ok(Reply::created(supplier.into()))
}

/// Renames a supplier (operators).
#[utoipa::path(
    put,
    path = "/api/suppliers/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "supplier id")),
    request_body = SupplierBody,
    responses(
        (status = 200, description = "The renamed supplier", body = Data<SupplierView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn update_supplier(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
    ApiJson(body): ApiJson<SupplierBody>,
) -> Result<Reply<SupplierView>, ApiError> {
    let name = check_name(&body.supplier.name)?;
    let supplier = state
        .store()
        .update_supplier(id, &name)
        .await
        .map_err(supplier_error)?;
    Ok(Reply::ok(supplier.into()))
}

/// Deletes a supplier (operators); 409 while streams use it.
#[utoipa::path(
    delete,
    path = "/api/suppliers/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "supplier id")),
    responses(
        (status = 200, description = "Deleted", body = Data<Deleted>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn delete_supplier(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
) -> Result<Reply<Deleted>, ApiError> {
    state
        .store()
        .delete_supplier(id)
        .await
        .map_err(supplier_error)?;
    tracing::info!(supplier.id = id, "supplier deleted");
    Ok(Reply::ok(Deleted { deleted: vec![id] }))
}
