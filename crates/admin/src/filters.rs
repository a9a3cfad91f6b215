//! The customer's filter tree (SPEC §5.4): `GET /api/filters` (tree), `GET /api/filters/{id}`
//! (flat), `POST` (single, bulk, nested), `PUT /api/filters/{id}` (partial), `PUT /api/filters`
//! (whole tree), `DELETE /api/filters/{id}` (subtree).
//!
//! Every change is planned and validated by the filter crate against the tree as it is, then
//! written in one store transaction that first checks the tree did not change since it was
//! read (optimistic concurrency, retried a few times). A rejected change writes nothing.

use axum::extract::State;
use bidsieve_filter::{
    FilterInput, FilterKind, FilterSpec, ListValues, ParentRef, PlannedFilter, plan_create,
    plan_delete, plan_replace, plan_update, render_tree,
};
use bidsieve_store::{FilterRecord, Store, StoreError, StoreTx};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::envelope::{Data, Deleted, Reply};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, QueryIds, RecordId};
use crate::list_cache::row;
use crate::state::AdminState;

/// How many times a change is re-planned when the tree changed under it.
const PLAN_ATTEMPTS: usize = 3;

// === API shapes (for the OpenAPI description; the JSON itself is built by the filter crate) ===

/// A filter as the API shows and accepts it (SPEC §3.1): flat with `parent_filter_id`, or in a
/// tree with its children in `filters`.
#[derive(ToSchema)]
#[schema(as = Filter)]
#[allow(dead_code)]
pub struct FilterDoc {
    /// Store-generated id (in a request: an existing filter, or a label other filters of the
    /// same request name as their parent).
    #[schema(value_type = Option<IdDoc>)]
    id: Option<i64>,
    /// What the filter reads (`and`/`or` for boolean nodes).
    field_type: Option<FieldTypeDoc>,
    /// `white`, `black`, `threshold` or `boolean`.
    filter_type: Option<FilterTypeDoc>,
    /// `equals` (lists), `greaterthan`/`lessthan` (thresholds).
    operator: Option<OperatorDoc>,
    /// List filters: the values, or "List too long to return: N" past the inline maximum.
    list: Option<ListDoc>,
    /// Threshold filters: a finite number.
    threshold: Option<f64>,
    /// The parent (a boolean filter); absent for the root and for nested children.
    #[schema(value_type = Option<IdDoc>)]
    parent_filter_id: Option<i64>,
    /// Input alias of `parent_filter_id`.
    #[schema(value_type = Option<IdDoc>)]
    parent_id: Option<i64>,
    /// Children of a boolean filter (tree shape).
    #[schema(no_recursion)]
    filters: Option<Vec<FilterDoc>>,
    /// `POST /api/filters/explain` only: whether this node passes for the request.
    result: Option<bool>,
}

/// An id: an integer, or a string holding one.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
#[schema(as = Id)]
pub enum IdDoc {
    /// An integer.
    Integer(i64),
    /// A string holding an integer.
    Text(String),
}

/// `field_type` values.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
#[schema(as = FieldType)]
pub enum FieldTypeDoc {
    /// `user.id`.
    User,
    /// The request's country.
    Country,
    /// Banner sizes `WxH`.
    Size,
    /// The stream id.
    Stream,
    /// The supplier id.
    Supplier,
    /// The authed score (threshold filters).
    Authed,
    /// `site.domain` or `app.bundle`.
    Domain,
    /// The decrypted UID2.
    Uid2,
    /// The UID2 decryption status.
    Uid2Status,
    /// Boolean: every child passes.
    And,
    /// Boolean: some child passes.
    Or,
}

/// `filter_type` values.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
#[schema(as = FilterType)]
pub enum FilterTypeDoc {
    /// Passes iff a value is in the list.
    White,
    /// Passes iff no value is in the list.
    Black,
    /// Compares the authed score.
    Threshold,
    /// `and` / `or` over the children.
    Boolean,
}

/// `operator` values.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
#[schema(as = Operator)]
pub enum OperatorDoc {
    /// List filters.
    Equals,
    /// Score >= threshold.
    Greaterthan,
    /// Score < threshold.
    Lessthan,
}

/// A list: values (strings or numbers), or the "List too long to return: N" text.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
#[schema(as = List)]
pub enum ListDoc {
    /// The values.
    Values(Vec<ListItemDoc>),
    /// "List too long to return: N".
    TooLong(String),
}

/// One list value.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
#[schema(as = ListItem)]
pub enum ListItemDoc {
    /// A string value.
    Text(String),
    /// A number (integers for `stream`/`supplier` lists).
    Number(f64),
}

/// `POST /api/filters` body: `{"filter": F}` (F may be a nested tree) or `{"filters": [F...]}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterCreateBody {
    /// One filter, possibly with `filters` inside (a whole subtree).
    #[schema(value_type = Option<FilterDoc>)]
    pub filter: Option<FilterInput>,
    /// Several filters, created all or none.
    #[schema(value_type = Option<Vec<FilterDoc>>)]
    pub filters: Option<Vec<FilterInput>>,
}

/// `PUT /api/filters/{id}` and `PUT /api/filters` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    /// The filter's changed attributes, or the whole tree.
    #[schema(value_type = FilterDoc)]
    pub filter: FilterInput,
}

/// The answer of `POST /api/filters`: one filter (flat, or a tree for a nested create) or the
/// created filters in request order.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
#[schema(as = Created)]
pub enum CreatedDoc {
    /// `{"filter": F}`.
    One(FilterDoc),
    /// `{"filters": [...]}`.
    Many(Vec<FilterDoc>),
}

// === reading ===

/// The specs of `records`, lists read from the store when they are at most `inline_max` long
/// (sorted, for stable output) and left [`ListValues::Stored`] otherwise.
pub(crate) async fn specs_with_lists(
    store: &Store,
    records: &[FilterRecord],
    inline_max: usize,
) -> Result<Vec<FilterSpec>, ApiError> {
    let mut specs = Vec::with_capacity(records.len());
    for record in records {
        let mut spec = row(record)
            .to_spec()
            .map_err(|e| ApiError::internal(format!("stored filter is invalid: {e}")))?;
        if let FilterKind::List { field, values, .. } = &mut spec.kind
            && values.len() <= inline_max
        {
            let texts = match store.list_values(record.id).await {
                Ok(texts) => texts,
                Err(StoreError::NotFound) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            if let Ok(mut read) = ListValues::from_texts(*field, texts.iter().map(String::as_str)) {
                sort_values(&mut read);
                *values = read;
            }
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Sorts a list's values and drops duplicates: the form the store keeps and `GET` shows.
fn sort_values(values: &mut ListValues) {
    match values {
        ListValues::Ints(v) => {
            v.sort_unstable();
            v.dedup();
        }
        ListValues::Strings(v) => {
            v.sort_unstable();
            v.dedup();
        }
        ListValues::Stored { .. } => {}
    }
}

/// `spec` as it reads back from the store (lists sorted, without duplicates).
fn as_stored(mut spec: FilterSpec) -> FilterSpec {
    if let FilterKind::List { values, .. } = &mut spec.kind {
        sort_values(values);
    }
    spec
}

/// The customer's tree as `GET /api/filters` shows it.
async fn tree_json(state: &AdminState, customer: i64) -> Result<Value, ApiError> {
    let store = state.store();
    let records = store.filters_of(customer).await?;
    let specs = specs_with_lists(store, &records, state.settings().list_inline_max).await?;
    render_tree(&specs, state.settings().list_inline_max, None)
        .ok_or_else(|| ApiError::NotFound(format!("customer {customer} has no filter tree")))
}

/// One filter of `customer`, or a 404 (another customer's filter included).
pub(crate) async fn owned_record(
    state: &AdminState,
    customer: i64,
    id: i64,
) -> Result<FilterRecord, ApiError> {
    match state.store().filter(id).await? {
        Some(record) if record.customer_id == customer => Ok(record),
        _ => Err(filter_not_found(id)),
    }
}

/// The 404 for a filter the caller cannot see.
pub(crate) fn filter_not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("filter {id} not found"))
}

// === writing ===

fn threshold_of(kind: &FilterKind) -> Option<f64> {
    match kind {
        FilterKind::Threshold { threshold, .. } => Some(*threshold),
        _ => None,
    }
}

/// Writes a list of `kind` (when it has values here: a [`ListValues::Stored`] list is already
/// in the store).
async fn write_list(tx: &mut StoreTx, id: i64, kind: &FilterKind) -> Result<(), ApiError> {
    if let FilterKind::List { values, .. } = kind
        && !matches!(values, ListValues::Stored { .. })
    {
        tx.replace_list(id, values.texts()).await?;
    }
    Ok(())
}

/// Inserts one node.
async fn insert(
    tx: &mut StoreTx,
    customer: i64,
    parent: Option<i64>,
    kind: &FilterKind,
) -> Result<i64, ApiError> {
    let id = tx
        .insert_filter(
            customer,
            parent,
            kind.filter_type().as_str(),
            kind.field_type().as_str(),
            kind.operator().map(|o| o.as_str()),
            threshold_of(kind),
        )
        .await?;
    write_list(tx, id, kind).await?;
    Ok(id)
}

/// Updates one node in place; its list is rewritten when it changed, and dropped when the node
/// is no longer a list filter.
async fn update_in_place(
    tx: &mut StoreTx,
    id: i64,
    parent: Option<i64>,
    kind: &FilterKind,
    list_changed: bool,
    had_list: bool,
) -> Result<(), ApiError> {
    tx.update_filter(
        id,
        parent,
        kind.filter_type().as_str(),
        kind.field_type().as_str(),
        kind.operator().map(|o| o.as_str()),
        threshold_of(kind),
    )
    .await?;
    match kind {
        FilterKind::List { .. } if list_changed => write_list(tx, id, kind).await?,
        FilterKind::List { .. } => {}
        _ if had_list => {
            tx.replace_list(id, std::iter::empty::<&str>()).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The id a planned parent reference resolves to.
fn parent_id(parent: Option<ParentRef>, written: &[i64]) -> Result<Option<i64>, ApiError> {
    match parent {
        None => Ok(None),
        Some(ParentRef::Existing(id)) => Ok(Some(id)),
        Some(ParentRef::Planned(index)) => written
            .get(index)
            .copied()
            .map(Some)
            .ok_or_else(|| ApiError::internal("a planned parent was not written first")),
    }
}

/// A customer's tree read outside, and confirmed inside, a write transaction.
struct TreeTx {
    records: Vec<FilterRecord>,
    specs: Vec<FilterSpec>,
    tx: StoreTx,
}

/// Reads the customer's tree, opens a transaction and checks the tree is still the same in it;
/// `None` when it changed in between (plan again).
async fn open_tree(state: &AdminState, customer: i64) -> Result<Option<TreeTx>, ApiError> {
    let store = state.store();
    let records = store.filters_of(customer).await?;
    let specs = specs_with_lists(store, &records, state.settings().list_inline_max).await?;
    let mut tx = store.begin().await?;
    if tx.filters_of(customer).await? != records {
        tx.rollback().await?;
        return Ok(None);
    }
    Ok(Some(TreeTx { records, specs, tx }))
}

/// The error when the tree kept changing under a change.
fn busy() -> ApiError {
    ApiError::Conflict {
        field: None,
        message: "the filter tree kept changing while this change was applied; retry".into(),
    }
}

// === handlers ===

/// The customer's whole filter tree.
#[utoipa::path(
    get,
    path = "/api/filters",
    tag = "filters",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "The root, each boolean node with its `filters`", body = Data<FilterDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn get_tree(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
) -> Result<Reply<Value>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    tree_json(&state, customer).await.map(Reply::ok)
}

/// One filter, flat (with `parent_filter_id`, without children).
#[utoipa::path(
    get,
    path = "/api/filters/{id}",
    tag = "filters",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "filter id"),
           ("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "The filter", body = Data<FilterDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub(crate) async fn get_filter(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    RecordId(id): RecordId,
) -> Result<Reply<Value>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let record = owned_record(&state, customer, id).await?;
    let inline_max = state.settings().list_inline_max;
    let specs = specs_with_lists(state.store(), std::slice::from_ref(&record), inline_max).await?;
    let spec = specs.first().ok_or_else(|| filter_not_found(id))?;
    Ok(Reply::ok(spec.to_json(inline_max)))
}

/// Creates one filter, a nested subtree, or several filters (all or nothing).
#[utoipa::path(
    post,
    path = "/api/filters",
    tag = "filters",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    request_body = FilterCreateBody,
    responses(
        (status = 201, description = "The created filter(s) with their ids", body = Data<CreatedDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn create_filters(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    ApiJson(body): ApiJson<FilterCreateBody>,
) -> Result<Reply<Value>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let (inputs, single) = match (body.filter, body.filters) {
        (Some(one), None) => (vec![one], true),
        (None, Some(many)) => (many, false),
        _ => {
            return Err(ApiError::validation(
                "filter",
                "send either {\"filter\": F} or {\"filters\": [F, ...]}",
            ));
        }
    };
    let nested = single && inputs.iter().any(|i| i.filters.is_some());
    let inline_max = state.settings().list_inline_max;
    let mut created: Option<Vec<(PlannedFilter, FilterSpec)>> = None;
    for _ in 0..PLAN_ATTEMPTS {
        let Some(TreeTx { specs, mut tx, .. }) = open_tree(&state, customer).await? else {
            continue;
        };
        let plan = plan_create(&specs, &inputs)?;
        let mut written: Vec<i64> = Vec::with_capacity(plan.len());
        let mut out = Vec::with_capacity(plan.len());
        for planned in plan {
            let parent = parent_id(planned.parent, &written)?;
            let id = insert(&mut tx, customer, parent, &planned.kind).await?;
            written.push(id);
            let spec = as_stored(FilterSpec {
                id,
                parent_id: parent,
                kind: planned.kind.clone(),
            });
            out.push((planned, spec));
        }
        tx.commit().await?;
        created = Some(out);
        break;
    }
    let created = created.ok_or_else(busy)?;
    tracing::info!(
        customer.id = customer,
        created = created.len(),
        "filters created"
    );

    if nested {
        // The subtree, its top keeping its parent.
        let top = created
            .iter()
            .find(|(p, _)| p.input == [0])
            .map(|(_, s)| s.clone())
            .ok_or_else(|| ApiError::internal("the nested create has no top"))?;
        let mut specs: Vec<FilterSpec> = created.into_iter().map(|(_, s)| s).collect();
        for spec in &mut specs {
            if spec.id == top.id {
                spec.parent_id = None;
            }
        }
        let mut tree = render_tree(&specs, inline_max, None)
            .ok_or_else(|| ApiError::internal("the created subtree has no top"))?;
        if let (Value::Object(map), Some(parent)) = (&mut tree, top.parent_id) {
            map.insert("parent_filter_id".into(), Value::from(parent));
        }
        return Ok(Reply::created(tree));
    }
    let mut created = created;
    created.sort_by(|a, b| a.0.input.cmp(&b.0.input));
    let mut flat: Vec<Value> = created
        .iter()
        .map(|(_, spec)| spec.to_json(inline_max))
        .collect();
    if single && let Some(one) = flat.pop() {
        return Ok(Reply::created(one));
    }
    Ok(Reply::created(Value::Array(flat)))
}

/// Changes one filter: the attributes given replace the stored ones (e.g. only `list`); a
/// `parent_filter_id` moves it.
#[utoipa::path(
    put,
    path = "/api/filters/{id}",
    tag = "filters",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "filter id"),
           ("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    request_body = FilterBody,
    responses(
        (status = 200, description = "The updated filter, flat", body = Data<FilterDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn update_filter(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    RecordId(id): RecordId,
    ApiJson(body): ApiJson<FilterBody>,
) -> Result<Reply<Value>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let input = body.filter;
    let mut updated = None;
    for _ in 0..PLAN_ATTEMPTS {
        let Some(TreeTx {
            records,
            specs,
            mut tx,
        }) = open_tree(&state, customer).await?
        else {
            continue;
        };
        let Some(record) = records.iter().find(|r| r.id == id) else {
            return Err(filter_not_found(id));
        };
        let update = plan_update(&specs, id, &input)?;
        update_in_place(
            &mut tx,
            id,
            update.spec.parent_id,
            &update.spec.kind,
            update.list_changed,
            record.list_len > 0,
        )
        .await?;
        tx.commit().await?;
        updated = Some(as_stored(update.spec));
        break;
    }
    let updated = updated.ok_or_else(busy)?;
    tracing::info!(customer.id = customer, filter.id = id, "filter updated");
    Ok(Reply::ok(updated.to_json(state.settings().list_inline_max)))
}

/// Replaces the customer's whole tree (declarative apply): nodes with a stored id are updated
/// in place, nodes without are created, stored nodes the tree leaves out are deleted.
#[utoipa::path(
    put,
    path = "/api/filters",
    tag = "filters",
    security(("bearer" = [])),
    params(("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    request_body = FilterBody,
    responses(
        (status = 200, description = "The new tree", body = Data<FilterDoc>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn replace_tree(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    ApiJson(body): ApiJson<FilterBody>,
) -> Result<Reply<Value>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let tree = body.filter;
    let mut done = false;
    for _ in 0..PLAN_ATTEMPTS {
        let Some(TreeTx {
            records,
            specs,
            mut tx,
        }) = open_tree(&state, customer).await?
        else {
            continue;
        };
        let plan = plan_replace(&specs, &tree)?;
        let mut written: Vec<i64> = Vec::with_capacity(plan.filters.len());
        for planned in &plan.filters {
            let parent = parent_id(planned.parent, &written)?;
            let id = match planned.id {
                Some(id) => {
                    let had_list = records.iter().any(|r| r.id == id && r.list_len > 0);
                    update_in_place(
                        &mut tx,
                        id,
                        parent,
                        &planned.kind,
                        planned.list_changed,
                        had_list,
                    )
                    .await?;
                    id
                }
                None => insert(&mut tx, customer, parent, &planned.kind).await?,
            };
            written.push(id);
        }
        for id in &plan.delete {
            match tx.delete_filter_subtree(*id).await {
                // Already gone with an ancestor.
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        done = true;
        break;
    }
    if !done {
        return Err(busy());
    }
    tracing::info!(customer.id = customer, "filter tree replaced");
    tree_json(&state, customer).await.map(Reply::ok)
}

/// Deletes a filter and its subtree (not the root).
#[utoipa::path(
    delete,
    path = "/api/filters/{id}",
    tag = "filters",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "filter id"),
           ("customer_id" = Option<i64>, Query, description = "operators: the customer")),
    responses(
        (status = 200, description = "The deleted ids, children first", body = Data<Deleted>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub(crate) async fn delete_filter(
    State(state): State<AdminState>,
    caller: Caller,
    query: QueryIds,
    RecordId(id): RecordId,
) -> Result<Reply<Deleted>, ApiError> {
    let customer = caller.scope(&state, query).await?;
    let mut deleted = None;
    for _ in 0..PLAN_ATTEMPTS {
        let Some(TreeTx {
            records,
            specs,
            mut tx,
        }) = open_tree(&state, customer).await?
        else {
            continue;
        };
        if !records.iter().any(|r| r.id == id) {
            return Err(filter_not_found(id));
        }
        let ids = plan_delete(&specs, id)?;
        tx.delete_filter_subtree(id).await?;
        tx.commit().await?;
        deleted = Some(ids);
        break;
    }
    let deleted = deleted.ok_or_else(busy)?;
    tracing::info!(
        customer.id = customer,
        filter.id = id,
        deleted = deleted.len(),
        "filters deleted"
    );
    Ok(Reply::ok(Deleted { deleted }))
}
