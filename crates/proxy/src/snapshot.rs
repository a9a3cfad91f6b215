//! The immutable configuration snapshot every request reads (SPEC §2.3), and how it is built
//! from the store.

use std::collections::HashMap;
use std::sync::Arc;

use ahash::RandomState;
use bidsieve_filter::{
    BoolOp, CompiledList, CompiledListBuilder, FilterKind, FilterRow, FilterSpec, FilterTree,
};
use bidsieve_store::{ConfigData, FilterRecord, Store, StoreError};
use http::Uri;
use metrics::Counter;
use tracing::{error, warn};

use crate::outcome::StreamMetrics;
use crate::throttle::Throttle;

/// Everything a bid request reads, immutable once published.
pub struct Snapshot {
    /// The store's configuration version this snapshot was built from.
    pub version: i64,
    streams: HashMap<Box<str>, Arc<StreamRoute>, RandomState>,
}

impl Snapshot {
    /// The route of a stream by its `client_id`.
    pub fn stream(&self, client_id: &str) -> Option<&Arc<StreamRoute>> {
        self.streams.get(client_id)
    }

    /// Number of streams served.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }
}

/// One stream: where its requests go and the filter tree they meet.
pub struct StreamRoute {
    /// The stream's id (the `stream` filter field and metrics label).
    pub id: i64,
    /// Its supplier's id (the `supplier` filter field).
    pub supplier_id: i64,
    /// The bidder's URL.
    pub endpoint: Uri,
    /// The lean client's endpoint when the URL is `http://` (else hyper's client is used).
    pub(crate) plain: Option<Arc<crate::h1::Endpoint>>,
    /// The customer's tree, specialised for this stream (stream/supplier leaves folded).
    pub tree: FilterTree,
    /// The customer this stream belongs to.
    pub customer: Arc<CustomerRoute>,
    /// Pre-registered counters of this stream.
    pub metrics: StreamMetrics,
}

/// A customer's settings as the proxy needs them.
pub struct CustomerRoute {
    /// The customer's id.
    pub id: i64,
    /// The QPS cap shared by all its streams (carried over between snapshots).
    pub throttle: Arc<Throttle>,
    /// 302 on a win notice instead of calling the bidder's nurl.
    pub redirect_wins: bool,
    /// Append the tag to HTML creatives.
    pub inject_tag: bool,
    /// Leave the bidder's nurl alone.
    pub keep_nurl: bool,
    /// `bidsieve_filter_blocks_total{customer,filter_id}` by filter id.
    blocks: HashMap<i64, Counter, RandomState>,
}

impl CustomerRoute {
    /// Counts a block decided by leaf `filter_id`.
    pub fn count_block(&self, filter_id: i64) {
        if let Some(counter) = self.blocks.get(&filter_id) {
            counter.increment(1);
        }
    }
}

/// Why a snapshot could not be built (the previous one stays in service).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The store could not be read.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Reads of the configuration per build when filters keep vanishing under it (deleted while
/// their lists are being read).
const BUILD_ATTEMPTS: u32 = 3;

/// What survives from one snapshot build to the next: compiled lists by list version, throttle
/// buckets, metric handles, bidder endpoints with their idle connections.
#[derive(Default)]
pub struct SnapshotCache {
    lists: HashMap<i64, (i64, Arc<CompiledList>)>,
    endpoints: HashMap<String, Arc<crate::h1::Endpoint>>,
    throttles: HashMap<i64, Arc<Throttle>>,
    stream_metrics: HashMap<i64, StreamMetrics>,
    block_counters: HashMap<(i64, i64), Counter>,
}

impl SnapshotCache {
    /// Builds a snapshot of the store's current configuration, reusing what did not change.
    ///
    /// # Errors
    /// The store could not be read; nothing is published then.
    pub async fn build(&mut self, store: &Store) -> Result<Snapshot, BuildError> {
        let mut attempt = 1;
        loop {
            let data = store.load_config().await?;
            match self.refresh_lists(store, &data.filters).await {
                Ok(()) => return Ok(self.assemble(&data)),
                // Lists are read after the configuration: a filter deleted in between has no
                // list any more. The configuration is newer then; read it again.
                Err(BuildError::Store(StoreError::NotFound)) if attempt < BUILD_ATTEMPTS => {
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Loads and compiles the lists whose version is not cached; forgets lists that are gone.
    async fn refresh_lists(
        &mut self,
        store: &Store,
        filters: &[FilterRecord],
    ) -> Result<(), BuildError> {
        let mut wanted = HashMap::with_capacity(filters.len());
        for record in filters {
            let Ok(spec) = row(record).to_spec() else {
                continue;
            };
            if let FilterKind::List { field, .. } = spec.kind {
                wanted.insert(record.id, (record.list_version, field));
            }
        }
        self.lists.retain(|id, _| wanted.contains_key(id));
        for (id, (version, field)) in wanted {
            if self.lists.get(&id).is_some_and(|(v, _)| *v == version) {
                continue;
            }
            // Reading, normalizing, hashing and sorting millions of values is a second of CPU:
            // it runs as a background job (nice 19, with a private connection whose SQLite
            // worker thread is niced too), so that where the proxy shares a core with it,
            // bids go first, and the async workers only wait for its result.
            let job = store.background("bidsieve-list-build", move |store| async move {
                let mut reader = store.list_chunks(id).await?;
                let capacity = usize::try_from(reader.len()).unwrap_or(0);
                let mut builder = CompiledListBuilder::new(field, capacity);
                let mut rejected = 0usize;
                while let Some(chunk) = reader.next_chunk().await? {
                    for value in chunk.values() {
                        if builder.push(value).is_err() {
                            rejected += 1;
                        }
                    }
                }
                Ok::<_, StoreError>((reader.version(), builder.finish(), rejected))
            })?;
            let (read_version, list, rejected) = job.await??;
            if rejected > 0 {
                warn!(
                    filter.id = id,
                    rejected, "stored list values that do not normalize were skipped"
                );
            }
            self.lists.insert(id, (read_version, Arc::new(list)));
        }
        Ok(())
    }

    /// Compiles every customer's tree and lays out the routes (no I/O).
    fn assemble(&mut self, data: &ConfigData) -> Snapshot {
        let lists: HashMap<i64, Arc<CompiledList>> = self
            .lists
            .iter()
            .map(|(id, (_, list))| (*id, list.clone()))
            .collect();
        let mut by_customer: HashMap<i64, Vec<FilterSpec>> = HashMap::new();
        for record in &data.filters {
            match row(record).to_spec() {
                Ok(spec) => by_customer
                    .entry(record.customer_id)
                    .or_default()
                    .push(spec),
                Err(err) => error!(filter.id = record.id, error = %err, "stored filter is invalid"),
            }
        }

        let mut customers = HashMap::with_capacity(data.customers.len());
        let mut trees = HashMap::with_capacity(data.customers.len());
        for customer in &data.customers {
            let specs = by_customer.remove(&customer.id).unwrap_or_default();
            let tree = FilterTree::compile(&specs, &lists).unwrap_or_else(|err| {
                error!(customer.id = customer.id, error = %err,
                    "stored filter tree does not compile: the customer's requests are all dropped");
                drop_everything()
            });
            let qps = u64::try_from(customer.qps).unwrap_or(0);
            let throttle = self
                .throttles
                .entry(customer.id)
                .or_insert_with(|| Arc::new(Throttle::new(qps)))
                .clone();
            if throttle.qps() != qps {
                throttle.set_qps(qps);
            }
            let blocks = specs
                .iter()
                .filter(|s| !s.kind.is_boolean())
                .map(|s| {
                    let counter = self
                        .block_counters
                        .entry((customer.id, s.id))
                        .or_insert_with(|| {
                            crate::outcome::prometheus();
                            metrics::counter!("bidsieve_filter_blocks_total",
                                "customer" => customer.id.to_string(), "filter_id" => s.id.to_string())
                        })
                        .clone();
                    (s.id, counter)
                })
                .collect();
            customers.insert(
                customer.id,
                Arc::new(CustomerRoute {
                    id: customer.id,
                    throttle,
                    redirect_wins: customer.redirect_wins,
                    inject_tag: customer.inject_tag,
                    keep_nurl: customer.keep_nurl,
                    blocks,
                }),
            );
            trees.insert(customer.id, tree);
        }
        let live: std::collections::HashSet<i64> = customers.keys().copied().collect();
        self.throttles.retain(|id, _| live.contains(id));

        let mut streams = HashMap::with_capacity_and_hasher(data.streams.len(), RandomState::new());
        let mut used_endpoints = std::collections::HashSet::new();
        for stream in &data.streams {
            let (Some(customer), Some(tree)) = (
                customers.get(&stream.customer_id),
                trees.get(&stream.customer_id),
            ) else {
                continue;
            };
            let endpoint = match stream.customer_endpoint.parse::<Uri>() {
                Ok(uri) if uri.scheme().is_some() && uri.authority().is_some() => uri,
                _ => {
                    error!(
                        stream.id = stream.id,
                        "stored customer_endpoint is not an absolute URL; stream not served"
                    );
                    continue;
                }
            };
            let plain = match self.endpoints.get(&stream.customer_endpoint) {
                Some(known) => Some(known.clone()),
                None => crate::h1::Endpoint::for_uri(&endpoint).map(|new| {
                    let new = Arc::new(new);
                    self.endpoints
                        .insert(stream.customer_endpoint.clone(), new.clone());
                    new
                }),
            };
            if plain.is_some() {
                used_endpoints.insert(stream.customer_endpoint.as_str());
            }
            let metrics = self
                .stream_metrics
                .entry(stream.id)
                .or_insert_with(|| StreamMetrics::new(stream.id))
                .clone();
            streams.insert(
                stream.client_id.clone().into_boxed_str(),
                Arc::new(StreamRoute {
                    id: stream.id,
                    supplier_id: stream.supplier_id,
                    endpoint,
                    plain,
                    tree: tree.specialize(stream.id, stream.supplier_id),
                    customer: customer.clone(),
                    metrics,
                }),
            );
        }
        // Endpoints no stream uses any more go, with their idle connections, once the last
        // snapshot holding them does.
        self.endpoints
            .retain(|url, _| used_endpoints.contains(url.as_str()));
        Snapshot {
            version: data.version,
            streams,
        }
    }
}

fn row(record: &FilterRecord) -> FilterRow<'_> {
    FilterRow {
        id: record.id,
        parent_id: record.parent_id,
        field_type: &record.field_type,
        filter_type: &record.filter_type,
        operator: record.operator.as_deref(),
        threshold: record.threshold,
        list_len: usize::try_from(record.list_len).unwrap_or(0),
    }
}

/// A tree that passes nothing (an `or` without children), for a customer whose stored tree is
/// damaged: failing closed drops its traffic rather than flooding its bidder.
fn drop_everything() -> FilterTree {
    let root = FilterSpec {
        id: 0,
        parent_id: None,
        kind: FilterKind::Boolean(BoolOp::Or),
    };
    match FilterTree::compile(std::slice::from_ref(&root), &bidsieve_filter::NoLists) {
        Ok(tree) => tree,
        // A lone boolean root always compiles.
        Err(_) => unreachable!("a lone boolean root compiles"),
    }
}
