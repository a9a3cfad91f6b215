//! `ListCache`: compiled filter lists kept between `POST /api/filters/explain` calls, keyed by
//! filter id and list version, so explaining against a 5,000,000-entry list reads and compiles
//! it once per change, as the proxy's snapshot builder does.

use std::collections::HashMap;
use std::sync::Arc;

use bidsieve_filter::{CompiledList, CompiledListBuilder, FilterKind, FilterRow};
use bidsieve_store::{FilterRecord, Store, StoreError};
use dashmap::DashMap;

/// Compiled lists kept at most (bytes of [`CompiledList::memory_bytes`]); past it, other
/// customers' lists are dropped first, and a list that alone is too big is not kept.
const MAX_CACHED_BYTES: usize = 256 * 1024 * 1024;

struct Cached {
    customer_id: i64,
    version: i64,
    list: Arc<CompiledList>,
}

/// The cache (one per [`crate::AdminState`]).
#[derive(Default)]
pub(crate) struct ListCache {
    map: DashMap<i64, Cached>,
}

/// The store row of a record, as the filter crate reads it.
pub(crate) fn row(record: &FilterRecord) -> FilterRow<'_> {
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

impl ListCache {
    /// The compiled list of every list filter of one customer's `records`, reading from the
    /// store the ones whose version is not cached.
    ///
    /// # Errors
    /// The store cannot be read.
    pub(crate) async fn lists_for(
        &self,
        store: &Store,
        customer_id: i64,
        records: &[FilterRecord],
    ) -> Result<HashMap<i64, Arc<CompiledList>>, StoreError> {
        let mut out = HashMap::new();
        for record in records {
            let Ok(spec) = row(record).to_spec() else {
                continue;
            };
            let FilterKind::List { field, .. } = spec.kind else {
                continue;
            };
            if let Some(cached) = self.map.get(&record.id)
                && cached.version == record.list_version
            {
                out.insert(record.id, cached.list.clone());
                continue;
            }
            let mut reader = match store.list_chunks(record.id).await {
                Ok(reader) => reader,
                // Deleted since the records were read: compile an empty list.
                Err(StoreError::NotFound) => {
                    out.insert(
                        record.id,
                        Arc::new(CompiledListBuilder::new(field, 0).finish()),
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            let version = reader.version();
            let capacity = usize::try_from(reader.len()).unwrap_or(0);
            let mut builder = CompiledListBuilder::new(field, capacity);
            while let Some(chunk) = reader.next_chunk().await? {
                for value in chunk.values() {
                    // Stored values were normalized on the way in; one that no longer
                    // normalizes is skipped, as the proxy does.
                    let _ = builder.push(value);
                }
            }
            let list = Arc::new(
                tokio::task::spawn_blocking(move || builder.finish())
                    .await
                    .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?,
            );
            self.insert(record.id, customer_id, version, list.clone());
            out.insert(record.id, list);
        }
        // Forget this customer's lists that are gone.
        self.map.retain(|id, cached| {
            cached.customer_id != customer_id || records.iter().any(|r| r.id == *id)
        });
        Ok(out)
    }

    fn insert(&self, filter_id: i64, customer_id: i64, version: i64, list: Arc<CompiledList>) {
        let size = list.memory_bytes();
        if size > MAX_CACHED_BYTES {
            return;
        }
        let used: usize = self.map.iter().map(|c| c.list.memory_bytes()).sum();
        if used + size > MAX_CACHED_BYTES {
            self.map.retain(|_, c| c.customer_id == customer_id);
            let used: usize = self.map.iter().map(|c| c.list.memory_bytes()).sum();
            if used + size > MAX_CACHED_BYTES {
                self.map.clear();
            }
        }
        self.map.insert(
            filter_id,
            Cached {
                customer_id,
                version,
                list,
            },
        );
    }

    /// Drops a deleted customer's lists.
    pub(crate) fn forget_customer(&self, customer_id: i64) {
        self.map.retain(|_, c| c.customer_id != customer_id);
    }
}
