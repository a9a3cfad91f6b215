//! The customer record: `GET`/`PUT /api/customer` (customer-scoped) and the operator's
//! `/api/customers` (SPEC §5.3).

use axum::extract::State;
use bidsieve_store::{Customer, CustomerInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::{Caller, Operator, customer_not_found};
use crate::envelope::{Data, Deleted, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, QueryIds, RecordId};
use crate::state::AdminState;

/// Default `qps` of a new customer.
pub(crate) const DEFAULT_QPS: i64 = 1000;
/// Longest customer name.
const MAX_NAME_LEN: usize = 200;
/// Longest slug.
const MAX_SLUG_LEN: usize = 64;

/// A customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    /// Store-generated id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Unique, `[a-z0-9-]+`.
    pub slug: String,
    /// Forwarded requests per second over all the customer's streams; 0 pauses forwarding.
    pub qps: i64,
    /// Answer win notices with a 302 to the bidder's nurl instead of calling it.
    pub redirect_wins: bool,
    /// Append the configured tag to HTML creatives.
    pub inject_tag: bool,
    /// Leave the bidder's nurl in bid responses.
    pub keep_nurl: bool,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id,
            name: c.name,
            slug: c.slug,
            qps: c.qps,
            redirect_wins: c.redirect_wins,
            inject_tag: c.inject_tag,
            keep_nurl: c.keep_nurl,
        }
    }
}

/// The fields a customer's users may change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerSettings {
    /// QPS cap (integer >= 0).
    #[schema(minimum = 0)]
    pub qps: Option<i64>,
    /// See [`CustomerView::redirect_wins`].
    pub redirect_wins: Option<bool>,
    /// See [`CustomerView::inject_tag`].
    pub inject_tag: Option<bool>,
    /// See [`CustomerView::keep_nurl`].
    pub keep_nurl: Option<bool>,
}

/// `PUT /api/customer` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerSettingsBody {
    /// The fields to change; only `qps`, `redirect_wins`, `inject_tag`, `keep_nurl`.
    pub customer: CustomerSettings,
}

/// A customer's fields an operator changes; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// Unique `[a-z0-9-]+`.
    #[schema(pattern = r"^[a-z0-9-]{1,64}$")]
    pub slug: Option<String>,
    /// QPS cap (integer >= 0).
    #[schema(minimum = 0)]
    pub qps: Option<i64>,
    /// Default false.
    pub redirect_wins: Option<bool>,
    /// Default false.
    pub inject_tag: Option<bool>,
    /// Default false.
    pub keep_nurl: Option<bool>,
}

/// `PUT /api/customers/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    /// The customer.
    pub customer: CustomerFields,
}

/// A new customer; absent fields default to qps 1000 and false.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    /// Display name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Unique `[a-z0-9-]+`.
    #[schema(pattern = r"^[a-z0-9-]{1,64}$")]
    pub slug: String,
    /// QPS cap (integer >= 0), default 1000.
    #[schema(minimum = 0)]
    pub qps: Option<i64>,
    /// Default false.
    pub redirect_wins: Option<bool>,
    /// Default false.
    pub inject_tag: Option<bool>,
    /// Default false.
    pub keep_nurl: Option<bool>,
}

/// `POST /api/customers` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreateBody {
    /// The customer.
    pub customer: CustomerCreate,
}

fn check_qps(qps: i64) -> Result<i64, ApiError> {
    if qps < 0 {
        return Err(ApiError::validation(
            "customer.qps",
            "qps must be an integer >= 0",
        ));
    }
    Ok(qps)
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::validation(
            "customer.name",
            format!("name must be 1 to {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_slug(slug: &str) -> Result<String, ApiError> {
    let ok = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(ApiError::validation(
            "customer.slug",
            format!("slug must be 1 to {MAX_SLUG_LEN} characters of [a-z0-9-]"),
        ));
    }
    Ok(slug.to_owned())
}

fn apply(fields: CustomerFields, mut input: CustomerInput) -> Result<CustomerInput, ApiError> {
    if let Some(name) = fields.name {
        input.name = check_name(&name)?;
    }
    if let Some(slug) = fields.slug {
        input.slug = check_slug(&slug)?;
    }
    if let Some(qps) = fields.qps {
        input.qps = check_qps(qps)?;
    }
    if let Some(v) = fields.redirect_wins {
        input.redirect_wins = v;
    }
    if let Some(v) = fields.inject_tag {
        input.inject_tag = v;
    }
    if let Some(v) = fields.keep_nurl {
        input.keep_nurl = v;
    }
    Ok(input)
}

fn input_of(c: Customer) -> CustomerInput {
    CustomerInput {
        name: c.name,
        slug: c.slug,
        qps: c.qps,
        redirect_wins: c.redirect_wins,
        inject_tag: c.inject_tag,
        keep_nurl: c.keep_nurl,
    }
}

/// Store `NotFound` for customer `id` as the caller's 404.
fn not_found_as(id: i64) -> impl Fn(bidsieve_store::StoreError) -> ApiError {
    move |e| match e {
        bidsieve_store::StoreError::NotFound => customer_not_found(id),
        other => other.into(),
    }
}

/// The caller's customer.
#[utoipa::path(
    get,
    path = "/api/customer",
    tag = "customer",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "The customer", body = Data<CustomerView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn get_customer(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
) -> Result<Reply<CustomerView>, ApiError> {
    let id = caller.scope(&state, query).await?;
    let customer = state.store().customer(id).await.map_err(not_found_as(id))?;
    Ok(Reply::ok(customer.into()))
}

/// Changes the caller's customer: only `qps`, `redirect_wins`, `inject_tag`, `keep_nurl`.
#[utoipa::path(
    put,
    path = "/api/customer",
    tag = "customer",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    request_body = CustomerSettingsBody,
    responses(
        (status = 200, description = "The updated customer", body = Data<CustomerView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn put_customer(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    ApiJson(body): ApiJson<CustomerSettingsBody>,
) -> Result<Reply<CustomerView>, ApiError> {
    let id = caller.scope(&state, query).await?;
    let settings = body.customer;
    let fields = CustomerFields {
        qps: settings.qps,
        redirect_wins: settings.redirect_wins,
        inject_tag: settings.inject_tag,
        keep_nurl: settings.keep_nurl,
        ..CustomerFields::default()
    };
    update(&state, id, fields).await.map(Reply::ok)
}

async fn update(
    state: &AdminState,
    id: i64,
    fields: CustomerFields,
) -> Result<CustomerView, ApiError> {
    let mut tx = state.store().begin().await?;
    let current = tx.customer(id).await.map_err(not_found_as(id))?;
    let input = apply(fields, input_of(current))?;
    let updated = tx.update_customer(id, &input).await.map_err(|e| match e {
        bidsieve_store::StoreError::Conflict { field } => ApiError::Conflict {
            field: Some(format!("customer.{field}")),
            message: format!("{field} is already taken"),
        },
        other => not_found_as(id)(other),
    })?;
    tx.commit().await?;
    Ok(updated.into())
}

/// Creates a customer and its root filter (operators).
#[utoipa::path(
    post,
    path = "/api/customers",
    tag = "operator",
    security(("bearer" = [])),
    request_body = CustomerCreateBody,
    responses(
        (status = 201, description = "The created customer", body = Data<CustomerView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn create_customer(
    State(state): State<AdminState>,
    _operator: Operator,
    ApiJson(body): ApiJson<CustomerCreateBody>,
) -> Result<Reply<CustomerView>, ApiError> {
    let new = body.customer;
    let input = CustomerInput {
        name: check_name(&new.name)?,
        slug: check_slug(&new.slug)?,
        qps: check_qps(new.qps.unwrap_or(DEFAULT_QPS))?,
        redirect_wins: new.redirect_wins.unwrap_or(false),
        inject_tag: new.inject_tag.unwrap_or(false),
        keep_nurl: new.keep_nurl.unwrap_or(false),
    };
    let created = state
        .store()
        .create_customer(&input)
        .await
        .map_err(|e| match e {
            bidsieve_store::StoreError::Conflict { field } => ApiError::Conflict {
                field: Some(format!("customer.{field}")),
                message: format!("{field} is already taken"),
            },
            other => other.into(),
        })?;
    tracing::info!(customer.id = created.id, "customer created");
    Ok(Reply::created(created.into()))
}

/// Every customer (operators).
#[utoipa::path(
    get,
    path = "/api/customers",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All customers, by id", body = Data<Vec<CustomerView>>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
pub(crate) async fn list_customers(
    State(state): State<AdminState>,
    _operator: Operator,
) -> Result<Reply<Vec<CustomerView>>, ApiError> {
    let customers = state.store().customers().await?;
    Ok(Reply::ok(customers.into_iter().map(Into::into).collect()))
}

/// One customer (operators).
#[utoipa::path(
    get,
    path = "/api/customers/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses(
        (status = 200, description = "The customer", body = Data<CustomerView>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn get_customer_by_id(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
) -> Result<Reply<CustomerView>, ApiError> {
    let customer = state.store().customer(id).await.map_err(not_found_as(id))?;
    Ok(Reply::ok(customer.into()))
}

/// Changes a customer (operators): any of its fields; absent ones stay.
#[utoipa::path(
    put,
    path = "/api/customers/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    request_body = CustomerBody,
    responses(
        (status = 200, description = "The updated customer", body = Data<CustomerView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn put_customer_by_id(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
    ApiJson(body): ApiJson<CustomerBody>,
) -> Result<Reply<CustomerView>, ApiError> {
    update(&state, id, body.customer).await.map(Reply::ok)
}

/// Deletes a customer with its users and filters (operators); 409 while it has streams.
#[utoipa::path(
    delete,
    path = "/api/customers/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses(
        (status = 200, description = "Deleted", body = Data<Deleted>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn delete_customer(
    State(state): State<AdminState>,
    _operator: Operator,
    RecordId(id): RecordId,
) -> Result<Reply<Deleted>, ApiError> {
    state
        .store()
        .delete_customer(id)
        .await
        .map_err(not_found_as(id))?;
    state.inner().sessions.end_customer(id);
    state.inner().lists.forget_customer(id);
    tracing::info!(customer.id = id, "customer deleted");
    Ok(Reply::ok(Deleted { deleted: vec![id] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_names() {
        assert_eq!(check_slug("acme-2").unwrap(), "acme-2");
        for bad in ["", "Acme", "a_b", "a b", &"a".repeat(65)] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
        assert_eq!(check_name("  Acme  ").unwrap(), "Acme");
        assert!(check_name("   ").is_err());
        assert!(check_qps(-1).is_err());
        assert_eq!(check_qps(0).unwrap(), 0);
    }

    #[test]
    fn absent_fields_stay() {
        let base = CustomerInput {
            name: "A".into(),
            slug: "a".into(),
            qps: 5,
            redirect_wins: true,
            inject_tag: false,
            keep_nurl: true,
        };
        let out = apply(
            CustomerFields {
                qps: Some(9),
                ..CustomerFields::default()
            },
            base.clone(),
        )
        .unwrap();
        assert_eq!(out, CustomerInput { qps: 9, ..base });
    }
}
