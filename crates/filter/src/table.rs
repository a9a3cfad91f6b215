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
    /// Moves `fingerprints` into a table, mapped for huge pages when large.
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
        let length = bytes.checked_next_multiple_of(HUGE_PAGE)?;
        let mut map = MmapOptions::new().len(length).map_anon().ok()?;
        // Advice is a hint: without it (THP `never`, an old kernel) the table is in small pages.
        let _ = map.advise(Advice::HugePage);
        let table: &mut [u64] = bytemuck::try_cast_slice_mut(map.get_mut(..bytes)?).ok()?;
        table.copy_from_slice(fingerprints);
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

impl Clone for FingerprintTable {
    fn clone(&self) -> Self {
        Self::new(self.as_slice().to_vec())
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
}
