//! Filter lists at scale: each list is kept as up to [`LIST_BUCKETS`] hash buckets.
//!
//! A value lives in bucket `xxh3_64(value) % 256` ([`list_bucket`]); a bucket's row holds its
//! distinct values sorted bytewise, each followed by `'\n'`. A 5,000,000-entry list is ~256 rows
//! of a few hundred KB: a replace rewrites those rows (no row per entry), a patch rewrites only
//! the buckets it touches, and readers take one bucket at a time ([`ListReader`]), so nobody
//! needs the whole list as separate `String`s. Because every line ends in `'\n'`, a bucket's
//! text is also ready-made `text/plain` output.
//!
//! Values must not contain `'\n'`, `'\r'` or NUL (they would break the line format and
//! PostgreSQL text). Every change bumps the filter's `list_version` and sets its `list_len`.

use std::collections::BTreeMap;

use futures_util::Stream;
use sqlx::AnyConnection;
use sqlx::{Any, Row, Transaction};
use xxhash_rust::xxh3::xxh3_64;

use crate::{Engine, Store, StoreError, StoreTx};

/// How many buckets a list is split into (fixed: it is part of the stored format).
pub const LIST_BUCKETS: usize = 256;

/// The bucket a list value is stored in.
pub fn list_bucket(value: &str) -> u8 {
    // `% 256` keeps the low byte; the truncation is the point.
    (xxh3_64(value.as_bytes()) % LIST_BUCKETS as u64) as u8
}

fn validate_value(value: &str) -> Result<(), StoreError> {
    if value.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)) {
        return Err(StoreError::Invalid {
            field: "list",
            message: "list values must not contain line breaks or NUL characters",
        });
    }
    Ok(())
}

/// The stored state of a list after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListState {
    /// Distinct values now in the list.
    pub len: i64,
    /// The filter's `list_version` now.
    pub version: i64,
}

// === ListBuilder ===

/// Collects the values of a new list into buckets, without one allocation per value.
///
/// The work is CPU-bound (hashing, sorting): for big lists run it off the async runtime, e.g.
/// in `tokio::task::spawn_blocking`, then hand the [`BucketedList`] to
/// [`StoreTx::replace_list_bucketed`]. Memory: about the total size of the values, plus one
/// bucket while [`ListBuilder::build`] sorts it.
#[derive(Debug, Clone)]
pub struct ListBuilder {
    /// Unsorted, possibly duplicated values, each followed by `'\n'`.
    buckets: Vec<String>,
}

impl Default for ListBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ListBuilder {
    /// An empty list.
    pub fn new() -> Self {
        ListBuilder {
            buckets: vec![String::new(); LIST_BUCKETS],
        }
    }

    /// An empty list expecting about `total_bytes` of values (with one byte per value for its
    /// line break): reserving up front keeps the builder near the size of its content instead
    /// of up to twice that while its buffers grow.
    pub fn with_capacity(total_bytes: usize) -> Self {
        let per_bucket = total_bytes / LIST_BUCKETS;
        // Hash buckets are not perfectly even: leave ~6% headroom.
        let per_bucket = per_bucket + per_bucket / 16;
        ListBuilder {
            buckets: (0..LIST_BUCKETS)
                .map(|_| String::with_capacity(per_bucket))
                .collect(),
        }
    }

    /// Adds one value (duplicates are dropped by [`ListBuilder::build`]).
    ///
    /// # Errors
    /// `Invalid { field: "list" }` for a value with `'\n'`, `'\r'` or NUL.
    pub fn push(&mut self, value: &str) -> Result<(), StoreError> {
        validate_value(value)?;
        let bucket = &mut self.buckets[usize::from(list_bucket(value))];
        bucket.push_str(value);
        bucket.push('\n');
        Ok(())
    }

    /// Adds every value of `values`.
    ///
    /// # Errors
    /// As [`ListBuilder::push`]; the values before the bad one stay added.
    pub fn extend<I>(&mut self, values: I) -> Result<(), StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for value in values {
            self.push(value.as_ref())?;
        }
        Ok(())
    }

    /// Sorts and de-duplicates each bucket.
    pub fn build(self) -> BucketedList {
        let mut chunks = Vec::new();
        let mut len = 0usize;
        for (bucket, raw) in self.buckets.into_iter().enumerate() {
            if raw.is_empty() {
                continue;
            }
            let mut values: Vec<&str> = raw.split_terminator('\n').collect();
            values.sort_unstable();
            values.dedup();
            len += values.len();
            let text = join_lines(&values, raw.len());
            // `bucket` < LIST_BUCKETS = 256.
            chunks.push((bucket as u8, text));
        }
        BucketedList {
            chunks,
            len: i64::try_from(len).unwrap_or(i64::MAX),
        }
    }
}

fn join_lines(values: &[&str], capacity: usize) -> String {
    let mut text = String::with_capacity(capacity);
    for value in values {
        text.push_str(value);
        text.push('\n');
    }
    text
}

/// A list ready to store: non-empty buckets, each sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketedList {
    chunks: Vec<(u8, String)>,
    len: i64,
}

impl BucketedList {
    /// Distinct values in the list.
    pub fn len(&self) -> i64 {
        self.len
    }

    /// True when the list holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The non-empty buckets, by bucket number.
    pub fn chunks(&self) -> impl Iterator<Item = ListChunk> + '_ {
        self.chunks.iter().map(|(bucket, text)| ListChunk {
            bucket: *bucket,
            text: text.clone(),
        })
    }
}

// === ListChunk ===

/// One stored bucket of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChunk {
    /// The bucket number (0..256).
    pub bucket: u8,
    /// The bucket's values sorted bytewise, each followed by `'\n'`.
    pub text: String,
}

impl ListChunk {
    /// The bucket's values, sorted.
    pub fn values(&self) -> impl Iterator<Item = &str> + '_ {
        self.text.split_terminator('\n')
    }
}

// === impl StoreTx ===

impl StoreTx {
    /// Replaces a filter's list with `values` (duplicates stored once).
    ///
    /// Convenience over [`ListBuilder`] + [`StoreTx::replace_list_bucketed`]; the bucketing
    /// runs inline, so prefer those two for lists of more than a few thousand values.
    ///
    /// # Errors
    /// `NotFound`, `Invalid { field: "list" }`, `Database`.
    pub async fn replace_list<I>(
        &mut self,
        filter_id: i64,
        values: I,
    ) -> Result<ListState, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut builder = ListBuilder::new();
        builder.extend(values)?;
        self.replace_list_bucketed(filter_id, &builder.build())
            .await
    }

    /// Replaces a filter's list with a prepared one: deletes the old buckets, writes the new.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn replace_list_bucketed(
        &mut self,
        filter_id: i64,
        list: &BucketedList,
    ) -> Result<ListState, StoreError> {
        list_state_of(self.conn(), filter_id).await?;
        sqlx::query("DELETE FROM filter_list_chunks WHERE filter_id = $1")
            .bind(filter_id)
            .execute(self.conn())
            .await?;
        for (bucket, text) in &list.chunks {
            sqlx::query(
                "INSERT INTO filter_list_chunks (filter_id, bucket, items) VALUES ($1, $2, $3)",
            )
            .bind(filter_id)
            .bind(i64::from(*bucket))
            .bind(text.as_str())
            .execute(self.conn())
            .await?;
        }
        set_list_state(self.conn(), filter_id, list.len).await
    }

    /// Adds and removes values, rewriting only the buckets they fall in. Adds are applied
    /// first, then removes: a value in both ends up absent. Adding a present value or removing
    /// an absent one is not an error. A patch that changes nothing keeps `list_version`.
    ///
    /// # Errors
    /// `NotFound`, `Invalid { field: "list" }` (checked before anything is written), `Database`.
    pub async fn patch_list<A, R>(
        &mut self,
        filter_id: i64,
        add: A,
        remove: R,
    ) -> Result<ListState, StoreError>
    where
        A: IntoIterator,
        A::Item: AsRef<str>,
        R: IntoIterator,
        R::Item: AsRef<str>,
    {
        // bucket -> (adds, removes)
        let mut touched: BTreeMap<u8, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for value in add {
            let value = value.as_ref();
            validate_value(value)?;
            touched
                .entry(list_bucket(value))
                .or_default()
                .0
                .push(value.to_owned());
        }
        for value in remove {
            let value = value.as_ref();
            validate_value(value)?;
            touched
                .entry(list_bucket(value))
                .or_default()
                .1
                .push(value.to_owned());
        }
        let (old_len, old_version) = list_state_of(self.conn(), filter_id).await?;
        let mut delta: i64 = 0;
        let mut changed = false;
        for (bucket, (adds, mut removes)) in touched {
            let row = sqlx::query(
                "SELECT items FROM filter_list_chunks WHERE filter_id = $1 AND bucket = $2",
            )
            .bind(filter_id)
            .bind(i64::from(bucket))
            .fetch_optional(self.conn())
            .await?;
            let old_text: String = match row {
                Some(row) => row.try_get("items")?,
                None => String::new(),
            };
            let old: Vec<&str> = old_text.split_terminator('\n').collect();
            removes.sort_unstable();
            let mut new: Vec<&str> = old
                .iter()
                .copied()
                .chain(adds.iter().map(String::as_str))
                .filter(|v| removes.binary_search_by(|r| r.as_str().cmp(v)).is_err())
                .collect();
            new.sort_unstable();
            new.dedup();
            if new == old {
                continue;
            }
            changed = true;
            // Bucket sizes are bounded by the list length, which fits in i64.
            delta += new.len() as i64 - old.len() as i64;
            if new.is_empty() {
                sqlx::query("DELETE FROM filter_list_chunks WHERE filter_id = $1 AND bucket = $2")
                    .bind(filter_id)
                    .bind(i64::from(bucket))
                    .execute(self.conn())
                    .await?;
            } else {
                let capacity = old_text.len() + adds.iter().map(|a| a.len() + 1).sum::<usize>();
                let text = join_lines(&new, capacity);
                sqlx::query(
                    "INSERT INTO filter_list_chunks (filter_id, bucket, items) VALUES ($1, $2, $3) \
                     ON CONFLICT (filter_id, bucket) DO UPDATE SET items = excluded.items",
                )
                .bind(filter_id)
                .bind(i64::from(bucket))
                .bind(text.as_str())
                .execute(self.conn())
                .await?;
            }
        }
        if !changed {
            return Ok(ListState {
                len: old_len,
                version: old_version,
            });
        }
        set_list_state(self.conn(), filter_id, old_len + delta).await
    }
}

/// Checks the filter exists and returns its `(list_len, list_version)`.
async fn list_state_of(conn: &mut AnyConnection, filter_id: i64) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query("SELECT list_len, list_version FROM filters WHERE id = $1")
        .bind(filter_id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((row.try_get("list_len")?, row.try_get("list_version")?))
}

async fn set_list_state(
    conn: &mut AnyConnection,
    filter_id: i64,
    len: i64,
) -> Result<ListState, StoreError> {
    let row = sqlx::query(
        "UPDATE filters SET list_len = $1, list_version = list_version + 1 WHERE id = $2 \
         RETURNING list_version",
    )
    .bind(len)
    .bind(filter_id)
    .fetch_one(conn)
    .await?;
    Ok(ListState {
        len,
        version: row.try_get("list_version")?,
    })
}

// === ListReader ===

/// Reads one list bucket by bucket from a consistent snapshot, holding one bucket in memory.
///
/// It keeps a read transaction (and so a pooled connection) open until the last bucket is read
/// or the reader is dropped: read it promptly.
pub struct ListReader {
    tx: Option<Transaction<'static, Any>>,
    filter_id: i64,
    /// The next bucket number to look at.
    next_bucket: i64,
    len: i64,
    version: i64,
}

impl std::fmt::Debug for ListReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListReader")
            .field("filter_id", &self.filter_id)
            .field("next_bucket", &self.next_bucket)
            .field("len", &self.len)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl ListReader {
    /// Distinct values in the list at the snapshot read.
    pub fn len(&self) -> i64 {
        self.len
    }

    /// True when the list holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The filter's `list_version` at the snapshot read: the content this reader yields.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The next non-empty bucket, by bucket number; `None` after the last.
    ///
    /// # Errors
    /// `Database`; the reader is then finished.
    pub async fn next_chunk(&mut self) -> Result<Option<ListChunk>, StoreError> {
        let Some(tx) = self.tx.as_mut() else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT bucket, items FROM filter_list_chunks \
             WHERE filter_id = $1 AND bucket >= $2 ORDER BY bucket LIMIT 1",
        )
        .bind(self.filter_id)
        .bind(self.next_bucket)
        .fetch_optional(&mut **tx)
        .await;
        let row = match row {
            Ok(Some(row)) => row,
            Ok(None) => {
                self.finish().await;
                return Ok(None);
            }
            Err(e) => {
                self.tx = None;
                return Err(e.into());
            }
        };
        let bucket: i64 = row.try_get("bucket")?;
        let text: String = row.try_get("items")?;
        let Ok(bucket) = u8::try_from(bucket) else {
            self.tx = None;
            return Err(StoreError::Invalid {
                field: "bucket",
                message: "stored list bucket out of range",
            });
        };
        self.next_bucket = i64::from(bucket) + 1;
        Ok(Some(ListChunk { bucket, text }))
    }

    /// The remaining buckets as a `'static` stream (e.g. for a streamed HTTP body).
    pub fn into_stream(self) -> impl Stream<Item = Result<ListChunk, StoreError>> + Send + 'static {
        futures_util::stream::unfold(self, |mut reader| async move {
            match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), reader)),
                Ok(None) => None,
                Err(e) => Some((Err(e), reader)),
            }
        })
    }

    async fn finish(&mut self) {
        if let Some(tx) = self.tx.take()
            && let Err(e) = tx.rollback().await
        {
            tracing::debug!(error = %e, "closing a list read transaction failed");
        }
    }
}

// === impl Store ===

impl Store {
    /// Opens a bucket-at-a-time reader on a filter's list.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn list_chunks(&self, filter_id: i64) -> Result<ListReader, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.engine() == Engine::Postgres {
            // One snapshot for the length, the version and every bucket.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let (len, version) = list_state_of(&mut tx, filter_id).await?;
        Ok(ListReader {
            tx: Some(tx),
            filter_id,
            next_bucket: 0,
            len,
            version,
        })
    }

    /// A filter's whole list (sorted within buckets, buckets in order). For small lists; read
    /// big ones with [`Store::list_chunks`].
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn list_values(&self, filter_id: i64) -> Result<Vec<String>, StoreError> {
        let mut reader = self.list_chunks(filter_id).await?;
        let mut values = Vec::with_capacity(usize::try_from(reader.len()).unwrap_or(0));
        while let Some(chunk) = reader.next_chunk().await? {
            values.extend(chunk.values().map(str::to_owned));
        }
        Ok(values)
    }

    /// Replaces a filter's list in its own transaction (see [`StoreTx::replace_list`]).
    ///
    /// # Errors
    /// `NotFound`, `Invalid { field: "list" }`, `Database`.
    pub async fn replace_list<I>(&self, filter_id: i64, values: I) -> Result<ListState, StoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut builder = ListBuilder::new();
        builder.extend(values)?;
        let list = builder.build();
        let mut tx = self.begin().await?;
        let state = tx.replace_list_bucketed(filter_id, &list).await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Patches a filter's list in its own transaction (see [`StoreTx::patch_list`]).
    ///
    /// # Errors
    /// `NotFound`, `Invalid { field: "list" }`, `Database`.
    pub async fn patch_list<A, R>(
        &self,
        filter_id: i64,
        add: A,
        remove: R,
    ) -> Result<ListState, StoreError>
    where
        A: IntoIterator,
        A::Item: AsRef<str>,
        R: IntoIterator,
        R::Item: AsRef<str>,
    {
        let mut tx = self.begin().await?;
        let state = tx.patch_list(filter_id, add, remove).await?;
        tx.commit().await?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn build(values: &[&str]) -> BucketedList {
        let mut b = ListBuilder::new();
        b.extend(values).unwrap();
        b.build()
    }

    fn all_values(list: &BucketedList) -> Vec<String> {
        let mut v: Vec<String> = list
            .chunks()
            .flat_map(|c| c.values().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn duplicates_are_stored_once() {
        let list = build(&["b", "a", "b", "", "a", "c"]);
        assert_eq!(list.len(), 4);
        assert_eq!(all_values(&list), ["", "a", "b", "c"]);
    }

    #[test]
    fn values_sit_in_their_hash_bucket_sorted_and_newline_terminated() {
        let values: Vec<String> = (0..5000).map(|i| format!("user-{i}")).collect();
        let list = build(&values.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(list.len(), 5000);
        let mut seen = 0;
        for chunk in list.chunks() {
            assert!(chunk.text.ends_with('\n'));
            let vals: Vec<&str> = chunk.values().collect();
            assert!(vals.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
            assert!(vals.iter().all(|v| list_bucket(v) == chunk.bucket));
            seen += vals.len();
        }
        assert_eq!(seen, 5000);
        // 5000 values spread over (nearly) all 256 buckets.
        assert!(list.chunks().count() > 250);
    }

    #[test]
    fn line_breaks_and_nul_are_refused() {
        let mut b = ListBuilder::new();
        for bad in ["a\nb", "a\r", "\0"] {
            assert!(matches!(
                b.push(bad),
                Err(StoreError::Invalid { field: "list", .. })
            ));
        }
        assert!(b.push("fine value, with spaces").is_ok());
    }

    #[test]
    fn capacity_hint_changes_nothing_but_allocation() {
        let values = ["x", "y", "x", "z"];
        let mut hinted = ListBuilder::with_capacity(1 << 16);
        hinted.extend(values).unwrap();
        assert_eq!(hinted.build(), build(&values));
        let mut tiny = ListBuilder::with_capacity(0);
        tiny.extend(values).unwrap();
        assert_eq!(tiny.build(), build(&values));
    }

    #[test]
    fn empty_list_has_no_chunks() {
        let list = ListBuilder::new().build();
        assert!(list.is_empty());
        assert_eq!(list.chunks().count(), 0);
    }

    #[test]
    fn bucket_is_stable() {
        // The bucket of a value is part of the stored format: it must never change.
        assert_eq!(list_bucket(""), (xxh3_64(b"") % 256) as u8);
        assert_eq!(list_bucket("300x250"), (xxh3_64(b"300x250") % 256) as u8);
    }

    proptest! {
        #[test]
        fn build_keeps_exactly_the_distinct_values(values in proptest::collection::vec("[^\n\r\u{0}]{0,12}", 0..200)) {
            let list = build(&values.iter().map(String::as_str).collect::<Vec<_>>());
            let mut expected = values.clone();
            expected.sort();
            expected.dedup();
            prop_assert_eq!(list.len() as usize, expected.len());
            prop_assert_eq!(all_values(&list), expected);
        }
    }
}
