//! [`FingerprintTable`]: the sorted fingerprints of a large string list, in memory the kernel
//! may back with 2 MiB pages.
//!
//! A lookup in a 5,000,000-entry list reads one window of fingerprints at a random place in a
//! 40 MB table. With 4 KiB pages that place is almost never in the TLB, and in a VM each miss is
//! a two-level (guest and host) page walk on top of the cache miss. Tables of at least
//! [`HUGE_PAGE_MIN_BYTES`] live in an anonymous mapping whose length is a multiple of 2 MiB
//! (so the kernel places it on a 2 MiB boundary) advised `MADV_HUGEPAGE`: with transparent huge
//! pages in `madvise` or `always` mode the whole table takes ~20 TLB entries. Where the mapping
//! or the advice is refused, or the kernel has THP off, the table is still correct, in small
//! pages; smaller tables stay on the heap.
//!
//! A [`FingerprintBuffer`] collects a list's fingerprints while it is built, straight into such
//! a mapping when the expected count is large, and sorts them there: a large list's
//! fingerprints never exist twice during its build.

use memmap2::{Advice, MmapMut, MmapOptions};

/// Tables this large or larger are mapped and advised for huge pages: 512K fingerprints
/// (~4 MiB), where a list stops fitting in the last-level cache and the TLB's reach.
pub(crate) const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

/// The huge page size the mapping length is rounded to (x86_64 and aarch64 with 4 KiB pages).
const HUGE_PAGE: usize = 2 << 20;

/// Sorted fingerprints, read-only once built.
pub(crate) struct FingerprintTable {
    memory: Memory,
}

enum Memory {
    Heap(Box<[u64]>),
    /// `len` fingerprints at the start of `map` (which is longer, rounded up to [`HUGE_PAGE`]).
    Mapped {
        map: MmapMut,
        len: usize,
    },
}

// === impl FingerprintTable ===

impl FingerprintTable {
    /// Moves `fingerprints` (sorted, distinct) into a table, mapped for huge pages when large.
    pub(crate) fn new(fingerprints: Vec<u64>) -> Self {
        if size_of_val(fingerprints.as_slice()) >= HUGE_PAGE_MIN_BYTES
            && let Some(memory) = Self::mapped(&fingerprints)
        {
            return Self { memory };
        }
        Self {
            memory: Memory::Heap(fingerprints.into_boxed_slice()),
        }
    }

    fn mapped(fingerprints: &[u64]) -> Option<Memory> {
        let bytes = size_of_val(fingerprints);
        let mut map = huge_page_mapping(bytes)?;
        words_mut(&mut map, fingerprints.len())?.copy_from_slice(fingerprints);
        Some(Memory::Mapped {
            map,
            len: fingerprints.len(),
        })
    }

    /// The fingerprints, sorted.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u64] {
        match &self.memory {
            Memory::Heap(v) => v,
            // `new` checked that this prefix casts (a mapping is page-aligned); an empty slice
            // here would only make lookups miss, never read out of bounds.
            Memory::Mapped { map, len } => map
                .get(..len * size_of::<u64>())
                .and_then(|bytes| bytemuck::try_cast_slice(bytes).ok())
                .unwrap_or(&[]),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.memory {
            Memory::Heap(v) => v.len(),
            Memory::Mapped { len, .. } => *len,
        }
    }

    /// Bytes of memory the table holds: a mapping counts whole, with its rounding.
    pub(crate) fn memory_bytes(&self) -> usize {
        match &self.memory {
            Memory::Heap(v) => size_of_val::<[u64]>(v),
            Memory::Mapped { map, .. } => map.len(),
        }
    }

    /// Whether the table lives in a mapping advised for huge pages.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self.memory, Memory::Mapped { .. })
    }
}

/// An anonymous mapping of at least `bytes`, rounded up to whole huge pages and advised
/// `MADV_HUGEPAGE`; `None` when the system refuses the mapping.
fn huge_page_mapping(bytes: usize) -> Option<MmapMut> {
    let length = bytes.checked_next_multiple_of(HUGE_PAGE)?;
    let map = MmapOptions::new().len(length).map_anon().ok()?;
    // Advice is a hint: without it (THP `never`, an old kernel) the table is in small pages.
    let _ = map.advise(Advice::HugePage);
    Some(map)
}

/// The first `len` words of a mapping (page-aligned, so the cast holds), or `None` past its end.
fn words_mut(map: &mut MmapMut, len: usize) -> Option<&mut [u64]> {
    let bytes = len.checked_mul(size_of::<u64>())?;
    bytemuck::try_cast_slice_mut(map.get_mut(..bytes)?).ok()
}

/// Fingerprints collected while a list is built, in build order; [`FingerprintBuffer::finish`]
/// sorts and deduplicates them into a [`FingerprintTable`] in the same memory.
pub(crate) struct FingerprintBuffer {
    memory: Collecting,
}

enum Collecting {
    Heap(Vec<u64>),
    /// `len` fingerprints pushed at the start of `map`, room for `map.len() / 8`.
    Mapped {
        map: MmapMut,
        len: usize,
    },
}

// === impl FingerprintBuffer ===

impl FingerprintBuffer {
    /// A buffer for about `capacity` fingerprints: mapped for huge pages when that many make a
    /// large table. Pushing past the mapping's room moves the buffer to the heap.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let bytes = capacity.saturating_mul(size_of::<u64>());
        if bytes >= HUGE_PAGE_MIN_BYTES
            && let Some(map) = huge_page_mapping(bytes)
        {
            return Self {
                memory: Collecting::Mapped { map, len: 0 },
            };
        }
        Self {
            memory: Collecting::Heap(Vec::with_capacity(capacity)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.memory {
            Collecting::Heap(v) => v.is_empty(),
            Collecting::Mapped { len, .. } => *len == 0,
        }
    }

    pub(crate) fn push(&mut self, fingerprint: u64) {
        match &mut self.memory {
            Collecting::Heap(v) => v.push(fingerprint),
            Collecting::Mapped { map, len } => {
                let at = *len * size_of::<u64>();
                if let Some(slot) = map.get_mut(at..at + size_of::<u64>()) {
                    slot.copy_from_slice(&fingerprint.to_ne_bytes());
                    *len += 1;
                } else {
                    // More values than the expected count: continue on the heap. Only this
                    // rare path holds the fingerprints twice for a moment (here, and again when
                    // `finish` maps the heap's table).
                    let mut heap = Vec::with_capacity(*len * 2);
                    heap.extend_from_slice(words_mut(map, *len).unwrap_or_default());
                    heap.push(fingerprint);
                    self.memory = Collecting::Heap(heap);
                }
            }
        }
    }

    /// The fingerprints sorted, without repeats.
    pub(crate) fn finish(self) -> FingerprintTable {
        match self.memory {
            Collecting::Heap(mut v) => {
                v.sort_unstable();
                v.dedup();
                FingerprintTable::new(v)
            }
            Collecting::Mapped { mut map, len } => {
                let Some(words) = words_mut(&mut map, len) else {
                    return FingerprintTable::new(Vec::new());
                };
                words.sort_unstable();
                let distinct = dedup_sorted(words);
                if distinct.saturating_mul(size_of::<u64>()) < HUGE_PAGE_MIN_BYTES {
                    // Fewer distinct values than expected (repeats, rejected values): a small
                    // table goes to the heap and the mapping is returned.
                    return FingerprintTable::new(words[..distinct].to_vec());
                }
                FingerprintTable {
                    memory: Memory::Mapped { map, len: distinct },
                }
            }
        }
    }
}

/// Moves the distinct values of sorted `words` to its front; returns how many there are.
fn dedup_sorted(words: &mut [u64]) -> usize {
    let mut kept = 0usize;
    for i in 0..words.len() {
        if kept == 0 || words[i] != words[kept - 1] {
            words[kept] = words[i];
            kept += 1;
        }
    }
    kept
}

impl Clone for FingerprintTable {
    fn clone(&self) -> Self {
        Self::new(self.as_slice().to_vec())
    }
}

impl std::fmt::Debug for FingerprintBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (len, mapped) = match &self.memory {
            Collecting::Heap(v) => (v.len(), false),
            Collecting::Mapped { len, .. } => (*len, true),
        };
        f.debug_struct("FingerprintBuffer")
            .field("len", &len)
            .field("mapped", &mapped)
            .finish()
    }
}

impl std::fmt::Debug for FingerprintTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintTable")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tables_stay_on_the_heap() {
        let table = FingerprintTable::new(vec![1, 5, 9]);
        assert!(!table.is_mapped());
        assert_eq!(table.as_slice(), &[1, 5, 9]);
        assert_eq!(table.len(), 3);
        assert_eq!(table.memory_bytes(), 24);
    }

    #[test]
    fn large_tables_are_mapped_whole_and_keep_every_value() {
        let n = HUGE_PAGE_MIN_BYTES / size_of::<u64>() + 3;
        let values: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
        let table = FingerprintTable::new(values.clone());
        assert!(
            table.is_mapped(),
            "an anonymous mapping is available in tests"
        );
        assert_eq!(table.len(), n);
        assert_eq!(table.as_slice(), values.as_slice());
        // Rounded up to whole 2 MiB pages: 4 MiB + 24 bytes needs three.
        assert_eq!(table.memory_bytes(), 3 * HUGE_PAGE);
        let copy = table.clone();
        assert!(copy.is_mapped());
        assert_eq!(copy.as_slice(), values.as_slice());
    }

    #[test]
    fn a_large_buffer_is_sorted_and_deduplicated_in_its_mapping() {
        let n = HUGE_PAGE_MIN_BYTES / size_of::<u64>() + 5;
        let mut buffer = FingerprintBuffer::with_capacity(n);
        assert!(buffer.is_empty());
        // Descending, the last five values twice: n pushes, n - 5 distinct values.
        let distinct = n - 5;
        for i in (0..distinct as u64).rev() {
            buffer.push(i * 7);
            if i < 5 {
                buffer.push(i * 7);
            }
        }
        assert!(!buffer.is_empty());
        assert!(matches!(buffer.memory, Collecting::Mapped { .. }));
        let table = buffer.finish();
        assert!(table.is_mapped());
        assert_eq!(table.len(), distinct);
        let expected: Vec<u64> = (0..distinct as u64).map(|i| i * 7).collect();
        assert_eq!(table.as_slice(), expected.as_slice());
        assert_eq!(table.memory_bytes(), 3 * HUGE_PAGE);
    }

    #[test]
    fn pushing_past_the_expected_count_moves_to_the_heap_and_keeps_every_value() {
        let n = HUGE_PAGE_MIN_BYTES / size_of::<u64>();
        let mut buffer = FingerprintBuffer::with_capacity(n);
        // The mapping is exactly 4 MiB: its room is n values.
        for i in 0..=n as u64 {
            buffer.push(u64::MAX - i);
        }
        assert!(matches!(buffer.memory, Collecting::Heap(_)));
        let table = buffer.finish();
        assert_eq!(table.len(), n + 1);
        assert!(table.as_slice().windows(2).all(|w| w[0] < w[1]));
        assert_eq!(table.as_slice().first(), Some(&(u64::MAX - n as u64)));
        assert_eq!(table.as_slice().last(), Some(&u64::MAX));
    }

    #[test]
    fn a_mapped_buffer_with_few_distinct_values_ends_on_the_heap() {
        let n = HUGE_PAGE_MIN_BYTES / size_of::<u64>() + 5;
        let mut buffer = FingerprintBuffer::with_capacity(n);
        for i in 0..n as u64 {
            buffer.push(i % 3);
        }
        assert!(matches!(buffer.memory, Collecting::Mapped { .. }));
        let table = buffer.finish();
        assert!(!table.is_mapped());
        assert_eq!(table.as_slice(), &[0, 1, 2]);
        assert_eq!(table.memory_bytes(), 3 * size_of::<u64>());
    }

    #[test]
    fn small_buffers_stay_on_the_heap() {
        let mut buffer = FingerprintBuffer::with_capacity(10);
        for v in [9, 1, 9, 5] {
            buffer.push(v);
        }
        let table = buffer.finish();
        assert!(!table.is_mapped());
        assert_eq!(table.as_slice(), &[1, 5, 9]);
    }

    #[test]
    fn dedup_sorted_keeps_one_of_each() {
        let mut words = [1, 1, 2, 3, 3, 3, 7];
        let kept = dedup_sorted(&mut words);
        assert_eq!(&words[..kept], &[1, 2, 3, 7]);
        let mut empty: [u64; 0] = [];
        assert_eq!(dedup_sorted(&mut empty), 0);
    }
}
