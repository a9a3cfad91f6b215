//! Seeds a store for the load tests through `bidsieve-store`'s API, and swaps the big user list
//! the way the admin API will (a bucketed list replaced in one transaction).
//!
//! ```text
//! seed init --store URL --spec SPEC.json --bidder URL --out SEEDED.json [--users-out USERS.txt]
//! seed swap --store URL --filter ID --count N --generation G
//! seed users --count N --generation G --out USERS.txt
//! ```
//! `init` creates the main customer with its filter tree from SPEC.json (written by
//! `loadtest/run`; one node may carry `"user_list": {"count": N, "generation": G}`, the generated
//! ids of [`bidsieve_loadtest::user_id`]), its suppliers and streams, and `extra_customers` small
//! customers so the snapshot is not a toy; it writes what it made (ids, client ids, timings) to
//! SEEDED.json and, with `--users-out`, the user list one id a line (for the nginx + Lua peer).
//!
//! `swap` builds generation G of the list first, prints `READY`, waits for a line on standard
//! input, then replaces the list in one transaction and prints one JSON line of timings. It
//! stands in for `PUT /api/filters/{id}/list` when the admin API is not there. `users` writes
//! generation G of the list one id a line (the body of that PUT).
#![allow(clippy::print_stdout)] // a command-line tool: its output is the point

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use anyhow::{Context, bail};
use bidsieve_store::{BucketedList, CustomerInput, ListBuilder, Store, StoreTx, StreamInput};
use serde::Deserialize;
use serde_json::{Value, json};

/// SPEC.json as `loadtest/run` writes it.
#[derive(Deserialize)]
struct Spec {
    customer: CustomerSpec,
    suppliers: Vec<String>,
    tree: Node,
    #[serde(default)]
    extra_customers: u32,
}

#[derive(Deserialize)]
struct CustomerSpec {
    name: String,
    slug: String,
    qps: i64,
    #[serde(default)]
    keep_nurl: bool,
}

/// One filter node.
#[derive(Deserialize)]
struct Node {
    /// A label the driver uses to find the node's id afterwards.
    #[serde(default)]
    name: Option<String>,
    filter_type: String,
    field_type: String,
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    list: Option<Vec<Value>>,
    #[serde(default)]
    user_list: Option<UserList>,
    #[serde(default)]
    filters: Vec<Node>,
}

#[derive(Deserialize, Clone, Copy)]
struct UserList {
    count: u64,
    generation: u64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!("usage: seed init|swap|users ...");
    };
    let flags = flags(rest)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match command.as_str() {
        "init" => runtime.block_on(init(&flags)),
        "swap" => runtime.block_on(swap(&flags)),
        "users" => write_users(
            flag(&flags, "out")?,
            UserList {
                count: flag(&flags, "count")?.parse().context("--count")?,
                generation: flag(&flags, "generation")?
                    .parse()
                    .context("--generation")?,
            },
        ),
        other => bail!("unknown command {other:?}: init, swap or users"),
    }
}

fn flags(rest: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut it = rest.iter();
    while let Some(key) = it.next() {
        let name = key
            .strip_prefix("--")
            .with_context(|| format!("expected --flag, got {key:?}"))?;
        let value = it.next().with_context(|| format!("{key} needs a value"))?;
        out.insert(name.to_owned(), value.clone());
    }
    Ok(out)
}

fn flag<'a>(flags: &'a BTreeMap<String, String>, name: &str) -> anyhow::Result<&'a str> {
    flags
        .get(name)
        .map(String::as_str)
        .with_context(|| format!("--{name} is required"))
}

async fn init(flags: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let started = Instant::now();
    let spec: Spec = serde_json::from_str(
        &std::fs::read_to_string(flag(flags, "spec")?).context("cannot read --spec")?,
    )
    .context("--spec is not a valid spec")?;
    let bidder = flag(flags, "bidder")?;
    let store = Store::connect(flag(flags, "store")?).await?;

    let mut tx = store.begin().await?;
    let customer = tx
        .create_customer(&CustomerInput {
            name: spec.customer.name.clone(),
            slug: spec.customer.slug.clone(),
            qps: spec.customer.qps,
            redirect_wins: false,
            inject_tag: false,
            keep_nurl: spec.customer.keep_nurl,
        })
        .await?;
    let mut streams = Vec::new();
    for (i, name) in spec.suppliers.iter().enumerate() {
        let supplier = tx.create_supplier(name).await?;
        let stream = tx
            .create_stream(&StreamInput {
                client_id: None,
                supplier_id: supplier.id,
                customer_id: customer.id,
                seat_id: format!("acme-seat-{}", i + 1),
                customer_endpoint: bidder.to_owned(),
            })
            .await?;
        streams.push(json!({"id": stream.id, "client_id": stream.client_id,
            "supplier_id": supplier.id, "supplier": name}));
    }
    let root = tx
        .filters_of(customer.id)
        .await?
        .into_iter()
        .find(|f| f.parent_id.is_none())
        .context("a new customer has a root filter")?;
    if spec.tree.filter_type != "boolean" {
        bail!("the spec's root must be a boolean node");
    }
    if spec.tree.field_type != "and" {
        tx.update_filter(root.id, None, "boolean", &spec.tree.field_type, None, None)
            .await?;
    }
    let mut ids = BTreeMap::new();
    let mut user_lists = Vec::new();
    if let Some(name) = &spec.tree.name {
        ids.insert(name.clone(), root.id);
    }
    for child in &spec.tree.filters {
        insert_node(
            &mut tx,
            customer.id,
            root.id,
            child,
            &mut ids,
            &mut user_lists,
        )
        .await?;
    }

    // Small neighbours: other customers with their own streams and trees.
    for c in 0..spec.extra_customers {
        let other = tx
            .create_customer(&CustomerInput {
                name: format!("Neighbour {c}"),
                slug: format!("neighbour-{c}"),
                qps: 5000,
                redirect_wins: c % 3 == 0,
                inject_tag: c % 4 == 0,
                keep_nurl: c % 5 == 0,
            })
            .await?;
        let other_root = tx
            .filters_of(other.id)
            .await?
            .into_iter()
            .find(|f| f.parent_id.is_none())
            .context("a new customer has a root filter")?;
        let supplier = tx.create_supplier(&format!("Exchange {c}")).await?;
        for s in 0..2 {
            tx.create_stream(&StreamInput {
                client_id: None,
                supplier_id: supplier.id,
                customer_id: other.id,
                seat_id: format!("seat-{c}-{s}"),
                customer_endpoint: bidder.to_owned(),
            })
            .await?;
        }
        let country = tx
            .insert_filter(
                other.id,
                Some(other_root.id),
                "white",
                "country",
                Some("equals"),
                None,
            )
            .await?;
        tx.replace_list(country, ["US", "CA", "MX"][..=(c as usize % 3)].iter())
            .await?;
        let size = tx
            .insert_filter(
                other.id,
                Some(other_root.id),
                "black",
                "size",
                Some("equals"),
                None,
            )
            .await?;
        tx.replace_list(size, ["120x600", "468x60"]).await?;
    }
    let tree_version = tx.commit().await?;
    let tree_seconds = started.elapsed().as_secs_f64();

    // The big lists, each in its own transaction, bucketed off the runtime.
    let mut list_timings = Vec::new();
    for (filter_id, list) in &user_lists {
        let t0 = Instant::now();
        let bucketed = build_users(*list).await?;
        let built = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut tx = store.begin().await?;
        let state = tx.replace_list_bucketed(*filter_id, &bucketed).await?;
        tx.commit().await?;
        list_timings.push(json!({"filter_id": filter_id, "len": state.len,
            "build_seconds": built, "write_seconds": t1.elapsed().as_secs_f64()}));
    }
    if let Some(path) = flags.get("users-out") {
        let (_, list) = user_lists
            .first()
            .context("--users-out given but the spec has no user_list")?;
        write_users(path, *list)?;
    }
    let out = json!({
        "customer_id": customer.id,
        "streams": streams,
        "filter_ids": ids,
        "user_lists": list_timings,
        "version_after_tree": tree_version,
        "config_version": store.config_version().await?,
        "seconds": started.elapsed().as_secs_f64(),
        "tree_seconds": tree_seconds,
    });
    std::fs::write(flag(flags, "out")?, serde_json::to_vec_pretty(&out)?)
        .context("cannot write --out")?;
    println!("{out}");
    Ok(())
}

/// Inserts `node` and its subtree under `parent`.
async fn insert_node(
    tx: &mut StoreTx,
    customer_id: i64,
    parent: i64,
    node: &Node,
    ids: &mut BTreeMap<String, i64>,
    user_lists: &mut Vec<(i64, UserList)>,
) -> anyhow::Result<()> {
    // An explicit stack keeps the recursion out of async fns.
    let mut stack = vec![(parent, node)];
    while let Some((parent, node)) = stack.pop() {
        let operator = match (&node.operator, node.filter_type.as_str()) {
            (Some(op), _) => Some(op.as_str()),
            (None, "white" | "black") => Some("equals"),
            (None, _) => None,
        };
        let id = tx
            .insert_filter(
                customer_id,
                Some(parent),
                &node.filter_type,
                &node.field_type,
                operator,
                node.threshold,
            )
            .await?;
        if let Some(name) = &node.name {
            ids.insert(name.clone(), id);
        }
        if let Some(list) = &node.list {
            let values: Vec<String> = list
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            tx.replace_list(id, &values).await?;
        }
        if let Some(users) = node.user_list {
            user_lists.push((id, users));
        }
        for child in node.filters.iter().rev() {
            stack.push((id, child));
        }
    }
    Ok(())
}

/// Buckets generation `list.generation` of the generated user list.
async fn build_users(list: UserList) -> anyhow::Result<BucketedList> {
    tokio::task::spawn_blocking(move || {
        let members = bidsieve_loadtest::list_members(list.count, list.generation);
        let capacity = usize::try_from(list.count)?.saturating_mul(33);
        let mut builder = ListBuilder::with_capacity(capacity);
        let mut id = String::with_capacity(32);
        for i in members {
            bidsieve_loadtest::user_id(i, &mut id);
            builder.push(&id)?;
        }
        Ok(builder.build())
    })
    .await?
}

fn write_users(path: &str, list: UserList) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {path}"))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut id = String::with_capacity(32);
    for i in bidsieve_loadtest::list_members(list.count, list.generation) {
        bidsieve_loadtest::user_id(i, &mut id);
        out.write_all(id.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

async fn swap(flags: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let filter_id: i64 = flag(flags, "filter")?.parse().context("--filter")?;
    let list = UserList {
        count: flag(flags, "count")?.parse().context("--count")?,
        generation: flag(flags, "generation")?.parse().context("--generation")?,
    };
    let store = Store::connect(flag(flags, "store")?).await?;
    let t0 = Instant::now();
    let bucketed = build_users(list).await?;
    let build_seconds = t0.elapsed().as_secs_f64();
    println!("READY");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let started_unix = unix_seconds();
    let t1 = Instant::now();
    let mut tx = store.begin().await?;
    let state = tx.replace_list_bucketed(filter_id, &bucketed).await?;
    let version = tx.commit().await?;
    let out = json!({
        "filter_id": filter_id,
        "len": state.len,
        "list_version": state.version,
        "config_version": version,
        "build_seconds": build_seconds,
        "write_seconds": t1.elapsed().as_secs_f64(),
        "write_started_unix": started_unix,
        "committed_unix": unix_seconds(),
    });
    println!("{out}");
    Ok(())
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
