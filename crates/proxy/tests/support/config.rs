//! The configuration the tests serve, written through the store API (the admin API is built
//! separately). Filter changes go the admin API's way: the filter crate plans them against the
//! customer's current tree (validation of SPEC §3.3, list normalization), then one store
//! transaction writes the plan.

use std::sync::atomic::{AtomicU32, Ordering};

use bidsieve_filter::{
    FilterInput, FilterKind, FilterRow, FilterSpec, ParentRef, PlannedFilter, plan_create,
    plan_replace, plan_update,
};
use bidsieve_store::{CustomerInput, Store, StoreTx, StreamInput};
use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// One stream of one customer, with the ids the tests name.
#[derive(Clone, Debug)]
pub struct Route {
    /// The customer's id.
    pub customer_id: i64,
    /// The customer's root filter.
    pub root_id: i64,
    /// The stream's supplier.
    pub supplier_id: i64,
    /// The stream's id.
    pub stream_id: i64,
    /// The path segment suppliers post to.
    pub client_id: String,
}

/// A new customer (unique slug) with this QPS cap; returns `(customer id, root filter id)`.
pub async fn customer(store: &Store, qps: i64) -> (i64, i64) {
    let slug = unique("customer");
    let customer = store
        .create_customer(&CustomerInput {
            name: slug.clone(),
            slug,
            qps,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: false,
        })
        .await
        .expect("create customer");
    let root = root_of(store, customer.id).await;
    (customer.id, root)
}

/// The id of a customer's root filter.
pub async fn root_of(store: &Store, customer_id: i64) -> i64 {
    store
        .filters_of(customer_id)
        .await
        .expect("filters")
        .iter()
        .find(|f| f.parent_id.is_none())
        .expect("every customer has a root")
        .id
}

/// A new supplier.
pub async fn supplier(store: &Store) -> i64 {
    store
        .create_supplier(&unique("supplier"))
        .await
        .expect("create supplier")
        .id
}

/// A new stream of `customer_id` from `supplier_id` to `endpoint`; returns `(id, client_id)`.
pub async fn stream(
    store: &Store,
    customer_id: i64,
    supplier_id: i64,
    endpoint: &str,
) -> (i64, String) {
    let stream = store
        .create_stream(&StreamInput {
            client_id: None,
            supplier_id,
            customer_id,
            seat_id: "seat-1".to_owned(),
            customer_endpoint: endpoint.to_owned(),
        })
        .await
        .expect("create stream");
    (stream.id, stream.client_id)
}

/// A new customer with QPS `qps`, a new supplier, and one stream to `endpoint`.
pub async fn route(store: &Store, qps: i64, endpoint: &str) -> Route {
    let (customer_id, root_id) = customer(store, qps).await;
    let supplier_id = supplier(store).await;
    let (stream_id, client_id) = stream(store, customer_id, supplier_id, endpoint).await;
    Route {
        customer_id,
        root_id,
        supplier_id,
        stream_id,
        client_id,
    }
}

/// Another stream of `route`'s customer, from `supplier_id`, to `endpoint`.
pub async fn sibling(store: &Store, route: &Route, supplier_id: i64, endpoint: &str) -> Route {
    let (stream_id, client_id) = stream(store, route.customer_id, supplier_id, endpoint).await;
    Route {
        supplier_id,
        stream_id,
        client_id,
        ..route.clone()
    }
}

/// Sets a customer's QPS cap.
pub async fn set_qps(store: &Store, customer_id: i64, qps: i64) {
    let current = store.customer(customer_id).await.expect("customer");
    store
        .update_customer(
            customer_id,
            &CustomerInput {
                name: current.name,
                slug: current.slug,
                qps,
                redirect_wins: current.redirect_wins,
                inject_tag: current.inject_tag,
                keep_nurl: current.keep_nurl,
            },
        )
        .await
        .expect("update customer");
}

/// The stored ids of filters written from a request body, by their position in it: `[i]` for
/// the i-th filter of a bulk body (or the top of a tree), `[i, j]` for its j-th nested child.
#[derive(Debug)]
pub struct Written {
    ids: Vec<(Vec<usize>, i64)>,
}

impl Written {
    /// The stored id of the filter at `path` in the request body.
    pub fn id(&self, path: &[usize]) -> i64 {
        self.ids
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no filter at {path:?} in {:?}", self.ids))
            .1
    }
}

/// `POST /api/filters` with `{"filters": inputs}` (an array: a bulk body, possibly with
/// labels and nested trees, as in the seed guide).
pub async fn create_filters(store: &Store, customer_id: i64, inputs: Value) -> Written {
    let inputs: Vec<FilterInput> = serde_json::from_value(inputs).expect("filter inputs");
    let mut tx = store.begin().await.expect("begin");
    let current = current_specs(&mut tx, customer_id).await;
    let plan = plan_create(&current, &inputs).expect("the filters are valid");
    let ids = write_plan(&mut tx, customer_id, &plan).await;
    tx.commit().await.expect("commit");
    Written {
        ids: plan.iter().map(|p| p.input.clone()).zip(ids).collect(),
    }
}

/// `PUT /api/filters` with `{"filter": tree}`: the customer's whole tree becomes `tree`
/// (its top is the root).
pub async fn replace_tree(store: &Store, customer_id: i64, tree: Value) -> Written {
    let tree: FilterInput = serde_json::from_value(tree).expect("filter tree");
    let mut tx = store.begin().await.expect("begin");
    let current = current_specs(&mut tx, customer_id).await;
    let plan = plan_replace(&current, &tree).expect("the tree is valid");
    let ids = write_plan(&mut tx, customer_id, &plan.filters).await;
    for id in &plan.delete {
        tx.delete_filter_subtree(*id).await.expect("delete filter");
    }
    tx.commit().await.expect("commit");
    Written {
        ids: plan
            .filters
            .iter()
            .map(|p| {
                // Positions in a tree body are below its top: report them from the top ([0]).
                let mut path = vec![0];
                path.extend(&p.input);
                path
            })
            .zip(ids)
            .collect(),
    }
}

/// `PUT /api/filters/{id}` with `{"filter": input}` (a partial update, e.g. only `list`);
/// returns the committed version.
pub async fn update_filter(store: &Store, customer_id: i64, id: i64, input: Value) -> i64 {
    let input: FilterInput = serde_json::from_value(input).expect("filter input");
    let mut tx = store.begin().await.expect("begin");
    let current = current_specs(&mut tx, customer_id).await;
    let update = plan_update(&current, id, &input).expect("the update is valid");
    write_kind(
        &mut tx,
        Some(id),
        customer_id,
        update.spec.parent_id,
        &update.spec.kind,
        update.list_changed,
    )
    .await;
    tx.commit().await.expect("commit")
}

/// `DELETE /api/filters/{id}`; returns the committed version.
pub async fn delete_filter(store: &Store, id: i64) -> i64 {
    let mut tx = store.begin().await.expect("begin");
    tx.delete_filter_subtree(id).await.expect("delete filter");
    tx.commit().await.expect("commit")
}

/// The customer's tree as specs (lists as `Stored`: plans only need the shapes).
async fn current_specs(tx: &mut StoreTx, customer_id: i64) -> Vec<FilterSpec> {
    tx.filters_of(customer_id)
        .await
        .expect("filters")
        .iter()
        .map(|r| {
            FilterRow {
                id: r.id,
                parent_id: r.parent_id,
                field_type: &r.field_type,
                filter_type: &r.filter_type,
                operator: r.operator.as_deref(),
                threshold: r.threshold,
                list_len: usize::try_from(r.list_len).unwrap_or(0),
            }
            .to_spec()
            .expect("stored filter is valid")
        })
        .collect()
}

/// Writes a plan (parents first) and returns the stored ids in plan order.
async fn write_plan(tx: &mut StoreTx, customer_id: i64, plan: &[PlannedFilter]) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::with_capacity(plan.len());
    for planned in plan {
        let parent = match planned.parent {
            Some(ParentRef::Existing(id)) => Some(id),
            Some(ParentRef::Planned(index)) => Some(ids[index]),
            None => None,
        };
        let id = write_kind(
            tx,
            planned.id,
            customer_id,
            parent,
            &planned.kind,
            planned.list_changed,
        )
        .await;
        ids.push(id);
    }
    ids
}

/// Inserts (`id: None`) or updates one filter node, and writes its list when it changed.
async fn write_kind(
    tx: &mut StoreTx,
    id: Option<i64>,
    customer_id: i64,
    parent: Option<i64>,
    kind: &FilterKind,
    list_changed: bool,
) -> i64 {
    let filter_type = kind.filter_type().as_str();
    let field_type = kind.field_type().as_str();
    let operator = kind.operator().map(|o| o.as_str());
    let threshold = match kind {
        FilterKind::Threshold { threshold, .. } => Some(*threshold),
        _ => None,
    };
    let id = match id {
        Some(id) => {
            tx.update_filter(id, parent, filter_type, field_type, operator, threshold)
                .await
                .expect("update filter");
            id
        }
        None => tx
            .insert_filter(
                customer_id,
                parent,
                filter_type,
                field_type,
                operator,
                threshold,
            )
            .await
            .expect("insert filter"),
    };
    if list_changed && let FilterKind::List { values, .. } = kind {
        tx.replace_list(id, values.texts())
            .await
            .expect("write list");
    }
    id
}
