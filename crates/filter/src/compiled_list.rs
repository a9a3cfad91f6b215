//! [`CompiledList`]: one filter list in the form the evaluator reads, built once per list
//! version and shared (`Arc`) between snapshots, so a rebuild after a change elsewhere reuses it.
//!
//! Representations, chosen by field and size:
//! - strings (`user`, `domain`, `uid2`, `uid2_status`), up to [`SMALL_STRING_SET`] distinct
//!   values: the values themselves, compared exactly;
//! - strings, more values: sorted 64-bit xxh3 fingerprints (seeded per list) with a radix
//!   directory on their top bits. About 8 bytes per distinct value plus 1/16 byte per value of
//!   directory: a 5,000,000-entry list takes about 40 MB whatever the length of its values. A
//!   lookup hashes the value once, reads two directory words (the directory, 256 KiB for 5M
//!   values, stays in cache) and compares the window of 32 fingerprints around where
//!   interpolation puts the value's in its bucket of ~64: one memory access (into huge pages
//!   for large lists, see the `table` module). A value that is
//!   not in the list is reported as present only if its fingerprint equals one of the list's:
//!   with `n` distinct values the probability is about `n / 2^64` per lookup (3e-13 for 5M),
//!   and the per-list random seed keeps an outsider from aiming at a collision;
//! - countries: a bitset over the 26 × 26 alpha-2 codes, plus the unknown alpha-3 codes;
//! - sizes: the sorted `Size::key()`s;
//! - stream / supplier ids: the sorted ids.
//!
//! Lookups never allocate.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use bidsieve_openrtb::{Country, Size};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::ListItemError;
use crate::list::{ListItem, ListValues, normalize_item, parse_size};
use crate::model::ListField;
use crate::table::{FingerprintBuffer, FingerprintTable};

/// String lists with at most this many distinct values are kept as exact strings; longer ones
/// become fingerprints.
pub const SMALL_STRING_SET: usize = 16;

/// At most this many bits of fingerprint index the directory (16M buckets, 64 MiB, for lists
/// of a billion values).
const MAX_DIRECTORY_BITS: u32 = 24;

/// The shape of a compiled list, which must match the field of the filter using it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// Strings: `user`, `domain`, `uid2`, `uid2_status`.
    Strings,
    /// Integers: `stream`, `supplier`.
    Ints,
    /// Country codes.
    Countries,
    /// Banner sizes.
    Sizes,
}

impl ListKind {
    /// The kind a list of `field` must have.
    #[must_use]
    pub const fn of_field(field: ListField) -> Self {
        match field {
            ListField::User | ListField::Domain | ListField::Uid2 | ListField::Uid2Status => {
                Self::Strings
            }
            ListField::Stream | ListField::Supplier => Self::Ints,
            ListField::Country => Self::Countries,
            ListField::Size => Self::Sizes,
        }
    }

    /// A name for messages.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Strings => "strings",
            Self::Ints => "integers",
            Self::Countries => "country codes",
            Self::Sizes => "sizes",
        }
    }
}

/// One compiled filter list (see the module documentation for the representations).
#[derive(Clone, Debug)]
pub struct CompiledList {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Strings(Box<[Box<str>]>),
    Fingerprints(Fingerprints),
    Ints(Box<[i64]>),
    Countries(CountrySet),
    Sizes(Box<[u64]>),
}

// === impl CompiledList ===

impl CompiledList {
    /// Compiles the values of a `field` list given as text, normalizing each one as
    /// [`crate::normalize_item`] does.
    ///
    /// # Errors
    /// The first value that is not valid for `field`.
    pub fn build<'a>(
        field: ListField,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ListItemError> {
        let values = values.into_iter();
        let mut builder = CompiledListBuilder::new(field, values.size_hint().0);
        for value in values {
            builder.push(value)?;
        }
        Ok(builder.finish())
    }

    /// Compiles a `stream` or `supplier` list.
    #[must_use]
    pub fn from_ints(values: impl IntoIterator<Item = i64>) -> Self {
        let mut ints: Vec<i64> = values.into_iter().collect();
        ints.sort_unstable();
        ints.dedup();
        Self {
            repr: Repr::Ints(ints.into_boxed_slice()),
        }
    }

    /// Compiles validated list values for `field`.
    ///
    /// # Errors
    /// A value that is not valid for `field`, or a [`ListValues::Stored`] list (which has no
    /// values here to compile).
    pub fn from_values(field: ListField, values: &ListValues) -> Result<Self, ListItemError> {
        match values {
            ListValues::Ints(ints) if field.holds_integers() => {
                Ok(Self::from_ints(ints.iter().copied()))
            }
            ListValues::Ints(ints) => {
                let mut builder = CompiledListBuilder::new(field, ints.len());
                for i in ints {
                    builder.push(&i.to_string())?;
                }
                Ok(builder.finish())
            }
            ListValues::Strings(strings) => Self::build(field, strings.iter().map(String::as_str)),
            ListValues::Stored { .. } => Err(ListItemError {
                index: 0,
                message: "the list is kept in the store; compile it from the stored values".into(),
            }),
        }
    }

    /// The kind of values this list holds.
    #[must_use]
    pub fn kind(&self) -> ListKind {
        match &self.repr {
            Repr::Strings(_) | Repr::Fingerprints(_) => ListKind::Strings,
            Repr::Ints(_) => ListKind::Ints,
            Repr::Countries(_) => ListKind::Countries,
            Repr::Sizes(_) => ListKind::Sizes,
        }
    }

    /// Number of distinct values.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Strings(v) => v.len(),
            Repr::Fingerprints(f) => f.fingerprints.len(),
            Repr::Ints(v) => v.len(),
            Repr::Countries(c) => c.len(),
            Repr::Sizes(v) => v.len(),
        }
    }

    /// True when the list holds no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// False when lookups may report a false positive (fingerprinted string lists).
    #[must_use]
    pub fn is_exact(&self) -> bool {
        !matches!(self.repr, Repr::Fingerprints(_))
    }

    /// Bytes of memory this list holds (the struct and its heap allocations).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let heap = match &self.repr {
            Repr::Strings(v) => v
                .iter()
                .map(|s| s.len() + size_of::<Box<str>>())
                .sum::<usize>(),
            Repr::Fingerprints(f) => {
                f.fingerprints.memory_bytes() + f.directory.len() * size_of::<u32>()
            }
            Repr::Ints(v) => v.len() * size_of::<i64>(),
            Repr::Countries(c) => c.other.len() * size_of::<[u8; 3]>(),
            Repr::Sizes(v) => v.len() * size_of::<u64>(),
        };
        size_of::<Self>() + heap
    }

    /// True when `value` is in a string list (see the module doc for the fingerprint case).
    /// Always false for lists of another kind.
    #[must_use]
    pub fn contains_str(&self, value: &str) -> bool {
        match &self.repr {
            Repr::Strings(v) => v.iter().any(|s| s.as_ref() == value),
            Repr::Fingerprints(f) => f.contains(value.as_bytes()),
            _ => false,
        }
    }

    /// True when `value` is in an integer list.
    #[must_use]
    pub fn contains_int(&self, value: i64) -> bool {
        match &self.repr {
            Repr::Ints(v) => sorted_contains(v, &value),
            _ => false,
        }
    }

    /// True when `country` is in a country list.
    #[must_use]
    pub fn contains_country(&self, country: Country) -> bool {
        match &self.repr {
            Repr::Countries(c) => c.contains(country.bytes()),
            _ => false,
        }
    }

    /// True when `size` is in a size list.
    #[must_use]
    pub fn contains_size(&self, size: Size) -> bool {
        match &self.repr {
            Repr::Sizes(v) => sorted_contains(v, &size.key()),
            _ => false,
        }
    }

    /// A rough cost of one lookup, for ordering a node's children (cheap first).
    pub(crate) fn lookup_cost(&self) -> u32 {
        match &self.repr {
            Repr::Countries(_) => 1,
            Repr::Ints(v) if v.len() <= 8 => 2,
            Repr::Sizes(v) if v.len() <= 8 => 2,
            Repr::Ints(_) | Repr::Sizes(_) => 3,
            Repr::Strings(_) => 4,
            // Hashing plus, for big lists, two likely cache misses.
            Repr::Fingerprints(f) if f.fingerprints.len() > 100_000 => 12,
            Repr::Fingerprints(_) => 6,
        }
    }
}

/// Membership in a sorted slice: a scan for short ones, a binary search otherwise.
fn sorted_contains<T: Ord>(sorted: &[T], value: &T) -> bool {
    if sorted.len() <= 16 {
        sorted.contains(value)
    } else {
        sorted.binary_search(value).is_ok()
    }
}

/// Builds a [`CompiledList`] one value at a time, so a caller streaming millions of rows from
/// the store never holds them all as strings.
#[derive(Debug)]
pub struct CompiledListBuilder {
    field: ListField,
    seed: u64,
    strings: Vec<Box<str>>,
    fingerprints: FingerprintBuffer,
    ints: Vec<i64>,
    countries: CountrySet,
    sizes: Vec<u64>,
    pushed: usize,
}

// === impl CompiledListBuilder ===

impl CompiledListBuilder {
    /// A builder for a list of `field` expected to hold about `capacity` values.
    #[must_use]
    pub fn new(field: ListField, capacity: usize) -> Self {
        Self::with_seed(field, capacity, random_seed())
    }

    /// A builder whose fingerprints use `seed` (tests, reproducible benches).
    #[must_use]
    pub fn with_seed(field: ListField, capacity: usize, seed: u64) -> Self {
        let mut builder = Self {
            field,
            seed,
            strings: Vec::new(),
            fingerprints: FingerprintBuffer::with_capacity(0),
            ints: Vec::new(),
            countries: CountrySet::default(),
            sizes: Vec::new(),
            pushed: 0,
        };
        match ListKind::of_field(field) {
            ListKind::Strings if capacity > SMALL_STRING_SET => {
                // Large lists collect straight into huge-page memory (see the `table` module).
                builder.fingerprints = FingerprintBuffer::with_capacity(capacity);
            }
            ListKind::Ints => builder.ints.reserve_exact(capacity),
            ListKind::Sizes => builder.sizes.reserve(capacity.min(1024)),
            ListKind::Strings | ListKind::Countries => {}
        }
        builder
    }

    /// Normalizes and adds one value.
    ///
    /// # Errors
    /// The value is not valid for the builder's field (the error's index counts every value
    /// pushed so far).
    pub fn push(&mut self, value: &str) -> Result<(), ListItemError> {
        let index = self.pushed;
        self.pushed += 1;
        let item = normalize_item(self.field, value)
            .map_err(|message| ListItemError { index, message })?;
        match (self.field, item) {
            (_, ListItem::Int(i)) => self.ints.push(i),
            (ListField::Country, ListItem::Str(code)) => self.countries.insert(code.as_bytes()),
            (ListField::Size, ListItem::Str(text)) => match parse_size(&text) {
                Some(size) => self.sizes.push(size.key()),
                None => {
                    return Err(ListItemError {
                        index,
                        message: format!("{text:?} is not a size"),
                    });
                }
            },
            (_, ListItem::Str(text)) => self.push_string(&text),
        }
        Ok(())
    }

    /// Adds one `stream`/`supplier` id (ignored by builders of other fields' lists, whose values
    /// are text: use [`CompiledListBuilder::push`]).
    pub fn push_int(&mut self, value: i64) {
        self.pushed += 1;
        if self.field.holds_integers() {
            self.ints.push(value);
        }
    }

    fn push_string(&mut self, text: &str) {
        if self.fingerprints.is_empty() {
            if self.strings.iter().any(|s| s.as_ref() == text) {
                return;
            }
            if self.strings.len() < SMALL_STRING_SET {
                self.strings.push(text.into());
                return;
            }
            // One distinct value too many for an exact set: switch to fingerprints.
            for s in self.strings.drain(..) {
                self.fingerprints
                    .push(xxh3_64_with_seed(s.as_bytes(), self.seed));
            }
        }
        self.fingerprints
            .push(xxh3_64_with_seed(text.as_bytes(), self.seed));
    }

    /// The compiled list.
    #[must_use]
    pub fn finish(self) -> CompiledList {
        let repr = match ListKind::of_field(self.field) {
            ListKind::Ints => {
                let mut ints = self.ints;
                ints.sort_unstable();
                ints.dedup();
                Repr::Ints(ints.into_boxed_slice())
            }
            ListKind::Countries => Repr::Countries(self.countries.finish()),
            ListKind::Sizes => {
                let mut sizes = self.sizes;
                sizes.sort_unstable();
                sizes.dedup();
                Repr::Sizes(sizes.into_boxed_slice())
            }
            ListKind::Strings if self.fingerprints.is_empty() => {
                let mut strings = self.strings;
                strings.sort_unstable();
                Repr::Strings(strings.into_boxed_slice())
            }
            ListKind::Strings => {
                Repr::Fingerprints(Fingerprints::new(self.seed, self.fingerprints.finish()))
            }
        };
        CompiledList { repr }
    }
}

/// A fresh per-list seed from the standard library's per-process random keys.
fn random_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x6269_6473_6965_7665);
    hasher.finish()
}

/// Sorted fingerprints with a directory: `directory[b]..directory[b + 1]` is the range of
/// fingerprints whose top `bits` bits equal `b`.
#[derive(Clone, Debug)]
struct Fingerprints {
    seed: u64,
    bits: u32,
    directory: Box<[u32]>,
    fingerprints: FingerprintTable,
}

impl Fingerprints {
    /// The directory over `table`'s sorted, distinct fingerprints.
    fn new(seed: u64, table: FingerprintTable) -> Self {
        let fingerprints = table.as_slice();
        // Offsets are u32: a list of more than 4 billion values would need 32 GB of
        // fingerprints, far beyond any store row count this system accepts; saturate anyway.
        let n = fingerprints.len();
        let bits = directory_bits(n);
        let buckets = 1usize << bits;
        let mut directory = vec![0u32; buckets + 1];
        let mut position = 0usize;
        for (bucket, slot) in directory.iter_mut().enumerate() {
            while let Some(&fp) = fingerprints.get(position) {
                if bucket_of(fp, bits) < bucket {
                    position += 1;
                } else {
                    break;
                }
            }
            *slot = u32::try_from(position).unwrap_or(u32::MAX);
        }
        if let Some(last) = directory.last_mut() {
            *last = u32::try_from(n).unwrap_or(u32::MAX);
        }
        Self {
            seed,
            bits,
            directory: directory.into_boxed_slice(),
            fingerprints: table,
        }
    }

    fn contains(&self, value: &[u8]) -> bool {
        self.probe(xxh3_64_with_seed(value, self.seed)).found
    }

    /// One directory read (the directory is small enough to stay in cache), then one window of
    /// [`WINDOW`] fingerprints where interpolation puts `fp`: a single memory access in the
    /// common case. A window that does not bracket `fp` falls back to a binary search of the
    /// bucket.
    #[inline]
    fn probe(&self, fp: u64) -> Probe {
        let bucket = bucket_of(fp, self.bits);
        let (Some(&start), Some(&end)) =
            (self.directory.get(bucket), self.directory.get(bucket + 1))
        else {
            return Probe::NOT_FOUND;
        };
        let Some(slice) = self
            .fingerprints
            .as_slice()
            .get(start as usize..end as usize)
        else {
            return Probe::NOT_FOUND;
        };
        if slice.len() <= WINDOW {
            return Probe::in_window(slice.contains(&fp));
        }
        let guess = interpolate(fp, self.bits, slice.len());
        let lo = guess.saturating_sub(WINDOW / 2).min(slice.len() - WINDOW);
        let Some(window) = slice.get(lo..lo + WINDOW) else {
            return Probe::NOT_FOUND;
        };
        let (Some(&first), Some(&last)) = (window.first(), window.last()) else {
            return Probe::NOT_FOUND;
        };
        if (lo == 0 || first <= fp) && (lo + WINDOW == slice.len() || fp <= last) {
            Probe::in_window(window.contains(&fp))
        } else {
            Probe {
                found: slice.binary_search(&fp).is_ok(),
                windowed: false,
            }
        }
    }
}

/// What [`Fingerprints::probe`] found, and whether the interpolated window decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Probe {
    found: bool,
    windowed: bool,
}

impl Probe {
    const NOT_FOUND: Self = Self {
        found: false,
        windowed: true,
    };

    fn in_window(found: bool) -> Self {
        Self {
            found,
            windowed: true,
        }
    }
}

/// Fingerprints read around the interpolated position: 32 × 8 bytes, four cache lines fetched
/// together. Within a bucket of ~64 uniform fingerprints the interpolation is off by more than
/// 16 places about once in 7,000 lookups (54 of 400,000 in the unit test below).
const WINDOW: usize = 32;

/// Directory bits for `n` fingerprints: about 64 fingerprints a bucket, so that the directory
/// (4 bytes a bucket, 256 KiB for 5M values) stays in cache and a lookup's one miss is the
/// fingerprint window.
fn directory_bits(n: usize) -> u32 {
    if n < 128 {
        0
    } else {
        (usize::BITS - 1 - n.leading_zeros())
            .saturating_sub(6)
            .min(MAX_DIRECTORY_BITS)
    }
}

fn bucket_of(fp: u64, bits: u32) -> usize {
    // `bits` is at most MAX_DIRECTORY_BITS, so the result fits any usize of 32 bits or more.
    fp.checked_shr(64 - bits).unwrap_or(0) as usize
}

/// Where `fp` should sit among the `len` sorted fingerprints of its bucket, the bucket's
/// fingerprints being uniform over the bits below the directory's `bits`.
fn interpolate(fp: u64, bits: u32, len: usize) -> usize {
    let within = fp.checked_shl(bits).unwrap_or(0) >> 32;
    ((within * len as u64) >> 32) as usize
}

/// Countries: alpha-2 codes as bits, unknown alpha-3 codes in a small sorted list.
#[derive(Clone, Debug, Default)]
struct CountrySet {
    alpha2: [u64; 11],
    other: Box<[[u8; 3]]>,
    other_building: Vec<[u8; 3]>,
}

impl CountrySet {
    fn alpha2_index(code: [u8; 3]) -> Option<usize> {
        if code[2] != 0 {
            return None;
        }
        let a = code[0].checked_sub(b'A').filter(|a| *a < 26)?;
        let b = code[1].checked_sub(b'A').filter(|b| *b < 26)?;
        Some(usize::from(a) * 26 + usize::from(b))
    }

    fn insert(&mut self, code: &[u8]) {
        let mut bytes = [0u8; 3];
        for (slot, b) in bytes.iter_mut().zip(code.iter().take(3)) {
            *slot = *b;
        }
        match Self::alpha2_index(bytes) {
            Some(i) => {
                if let Some(word) = self.alpha2.get_mut(i / 64) {
                    *word |= 1 << (i % 64);
                }
            }
            None => self.other_building.push(bytes),
        }
    }

    fn finish(mut self) -> Self {
        let mut other = std::mem::take(&mut self.other_building);
        other.sort_unstable();
        other.dedup();
        self.other = other.into_boxed_slice();
        self
    }

    fn contains(&self, code: [u8; 3]) -> bool {
        match Self::alpha2_index(code) {
            Some(i) => self
                .alpha2
                .get(i / 64)
                .is_some_and(|word| word & (1 << (i % 64)) != 0),
            None => self.other.contains(&code),
        }
    }

    fn len(&self) -> usize {
        self.alpha2
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum::<usize>()
            + self.other.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn fingerprints_of(members: &[u64]) -> Fingerprints {
        let mut buffer = FingerprintBuffer::with_capacity(members.len());
        for &fp in members {
            buffer.push(fp);
        }
        Fingerprints::new(0, buffer.finish())
    }

    #[test]
    fn lists_in_huge_page_memory_find_every_member_and_no_outsider() {
        // 600,000 fingerprints are 4.8 MB: over the threshold, collected into a mapping.
        let members: Vec<String> = (0..600_000).map(|i| format!("member-{i}")).collect();
        let mut builder = CompiledListBuilder::with_seed(ListField::User, members.len(), 7);
        for m in &members {
            builder.push(m).unwrap();
        }
        let list = builder.finish();
        assert_eq!(list.len(), members.len());
        assert!(!list.is_exact());
        // The table's mapping is counted whole, in 2 MiB pages (4.8 MB → 6 MiB).
        assert!(list.memory_bytes() >= 6 << 20, "{}", list.memory_bytes());
        assert!(members.iter().all(|m| list.contains_str(m)));
        assert!((0..600_000).all(|i| !list.contains_str(&format!("outsider-{i}"))));
    }

    fn strings(field: ListField, values: &[&str]) -> CompiledList {
        CompiledList::build(field, values.iter().copied()).unwrap()
    }

    #[test]
    fn small_string_lists_are_exact() {
        let list = strings(ListField::User, &["a", "bb", "a", ""]);
        assert!(list.is_exact());
        assert_eq!(list.len(), 3);
        assert!(list.contains_str("a"));
        assert!(list.contains_str(""));
        assert!(!list.contains_str("b"));
        assert!(!list.contains_int(1));
        assert_eq!(list.kind(), ListKind::Strings);
    }

    #[test]
    fn large_string_lists_use_fingerprints() {
        let values: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
        let list = CompiledList::build(ListField::User, values.iter().map(String::as_str)).unwrap();
        assert!(!list.is_exact());
        assert_eq!(list.len(), 10_000);
        for v in &values {
            assert!(list.contains_str(v), "{v}");
        }
        let misses = (10_000..60_000)
            .filter(|i| list.contains_str(&format!("user-{i}")))
            .count();
        assert_eq!(misses, 0);
        // ~8 bytes a value plus the directory.
        assert!(list.memory_bytes() < 10_000 * 10, "{}", list.memory_bytes());
    }

    #[test]
    fn spilling_from_small_to_fingerprints_keeps_every_value() {
        for n in [
            SMALL_STRING_SET,
            SMALL_STRING_SET + 1,
            SMALL_STRING_SET + 2,
            100,
        ] {
            let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            let mut doubled = values.clone();
            doubled.extend(values.iter().cloned());
            let list =
                CompiledList::build(ListField::Uid2, doubled.iter().map(String::as_str)).unwrap();
            assert_eq!(list.len(), n);
            assert_eq!(list.is_exact(), n <= SMALL_STRING_SET);
            assert!(values.iter().all(|v| list.contains_str(v)));
            assert!(!list.contains_str("nope"));
        }
    }

    #[test]
    fn domain_lists_are_normalized_when_built() {
        let list = strings(ListField::Domain, &["WWW.Example.com"]);
        assert!(list.contains_str("example.com"));
        assert!(!list.contains_str("www.example.com"));
    }

    #[test]
    fn int_lists() {
        let list = CompiledList::build(ListField::Stream, ["3", "1", "3"]).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.contains_int(3) && list.contains_int(1) && !list.contains_int(2));
        assert_eq!(list.kind(), ListKind::Ints);
        assert!(CompiledList::build(ListField::Supplier, ["x"]).is_err());
        let big = CompiledList::from_ints((0..1000).map(|i| i * 2));
        assert!(big.contains_int(998) && !big.contains_int(999));
        let from_values =
            CompiledList::from_values(ListField::Stream, &ListValues::Ints(vec![5])).unwrap();
        assert!(from_values.contains_int(5));
        assert!(!from_values.contains_str("5"));
    }

    #[test]
    fn size_lists() {
        let list = strings(ListField::Size, &["300x250", "320X50"]);
        assert!(list.contains_size(Size { w: 300, h: 250 }));
        assert!(list.contains_size(Size { w: 320, h: 50 }));
        assert!(!list.contains_size(Size { w: 250, h: 300 }));
        assert!(CompiledList::build(ListField::Size, ["300"]).is_err());
        assert_eq!(list.kind(), ListKind::Sizes);
    }

    #[test]
    fn user_lists_built_from_integer_values_hold_their_text() {
        let list = CompiledList::from_values(ListField::User, &ListValues::Ints(vec![4])).unwrap();
        assert!(list.contains_str("4"));
    }

    #[test]
    fn stored_lists_cannot_be_compiled_from_values() {
        assert!(
            CompiledList::from_values(ListField::User, &ListValues::Stored { len: 3 }).is_err()
        );
    }

    #[test]
    fn country_bitset_and_fallback() {
        let mut set = CountrySet::default();
        set.insert(b"GB");
        set.insert(b"ZZ");
        set.insert(b"AA");
        set.insert(b"XKX");
        let set = set.finish();
        assert!(set.contains(*b"GB\0"));
        assert!(set.contains(*b"ZZ\0"));
        assert!(set.contains(*b"AA\0"));
        assert!(set.contains(*b"XKX"));
        assert!(!set.contains(*b"US\0"));
        assert!(!set.contains(*b"XKY"));
        assert!(!set.contains(*b"a1\0"));
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn country_lists_normalize_their_values() {
        let list = strings(ListField::Country, &["UK", "us"]);
        let gb = bidsieve_openrtb::normalize_country("GB").unwrap();
        let us = bidsieve_openrtb::normalize_country("US").unwrap();
        let de = bidsieve_openrtb::normalize_country("DE").unwrap();
        assert!(list.contains_country(gb));
        assert!(list.contains_country(us));
        assert!(!list.contains_country(de));
        assert_eq!(list.kind(), ListKind::Countries);
    }

    #[test]
    fn memory_of_small_lists_is_small() {
        assert!(strings(ListField::User, &["a"]).memory_bytes() < 200);
        assert!(CompiledList::from_ints([1, 2]).memory_bytes() < 200);
    }

    #[test]
    fn bucket_of_handles_zero_bits() {
        assert_eq!(bucket_of(u64::MAX, 0), 0);
        assert_eq!(bucket_of(u64::MAX, 4), 15);
        assert_eq!(bucket_of(1 << 60, 4), 1);
    }

    /// splitmix64: uniform 64-bit values, as xxh3 fingerprints are.
    fn uniform(count: usize, mut state: u64) -> Vec<u64> {
        (0..count)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            })
            .collect()
    }

    #[test]
    fn uniform_fingerprints_are_found_in_their_interpolated_window() {
        let members = uniform(300_000, 1);
        let outsiders = uniform(100_000, 2);
        let set = fingerprints_of(&members);
        assert_eq!(set.bits, 12, "about 64 fingerprints a bucket");
        let mut fallbacks = 0;
        for &fp in &members {
            let probe = set.probe(fp);
            assert!(probe.found, "member {fp:#x} not found");
            fallbacks += usize::from(!probe.windowed);
        }
        for &fp in &outsiders {
            let probe = set.probe(fp);
            assert!(!probe.found, "outsider {fp:#x} found");
            fallbacks += usize::from(!probe.windowed);
        }
        // The window is ±16 places around the guess, ~3.6 standard deviations of the
        // interpolation error in a bucket of ~73: 54 of these 400,000 lookups fall back.
        assert!(
            fallbacks < 800,
            "{fallbacks} of 400000 lookups missed the window"
        );
    }

    #[test]
    fn clustered_fingerprints_fall_back_to_the_bucket_search() {
        // Everything in one bucket's low corner, then a far outlier: interpolation is wrong for
        // most of them, and the binary search must still find each and nothing else.
        let mut members: Vec<u64> = (0..5_000u64).map(|i| i * 7).collect();
        members.push(u64::MAX - 3);
        let set = fingerprints_of(&members);
        let mut fallbacks = 0;
        for &fp in &members {
            let probe = set.probe(fp);
            assert!(probe.found, "member {fp} not found");
            fallbacks += usize::from(!probe.windowed);
        }
        assert!(fallbacks > 0, "the clustered layout never left the window");
        for fp in (0..5_000u64)
            .map(|i| i * 7 + 3)
            .chain([u64::MAX, u64::MAX - 4, 1 << 63])
        {
            assert!(!set.probe(fp).found, "outsider {fp} found");
        }
    }

    #[test]
    fn interpolation_stays_inside_the_bucket() {
        for bits in [0, 1, 12, 16, MAX_DIRECTORY_BITS] {
            for len in [1, 33, 64, 1000] {
                for fp in [0, 1, u64::MAX, u64::MAX >> 1, 0x8000_0000_0000_0000] {
                    assert!(interpolate(fp, bits, len) < len, "{fp:#x} {bits} {len}");
                }
            }
        }
        assert_eq!(interpolate(u64::MAX >> 1, 1, 100), 99);
        assert_eq!(interpolate(0x4000_0000_0000_0000, 1, 100), 50);
    }

    proptest! {
        #[test]
        fn string_membership_matches_a_hash_set(
            values in proptest::collection::vec("[a-z0-9]{0,6}", 0..200),
            probes in proptest::collection::vec("[a-z0-9]{0,6}", 0..50),
            seed in any::<u64>(),
        ) {
            let mut builder = CompiledListBuilder::with_seed(ListField::User, values.len(), seed);
            for v in &values {
                builder.push(v).unwrap();
            }
            let list = builder.finish();
            let set: HashSet<&str> = values.iter().map(String::as_str).collect();
            prop_assert_eq!(list.len(), set.len());
            for v in values.iter().chain(probes.iter()) {
                prop_assert_eq!(list.contains_str(v), set.contains(v.as_str()), "{}", v);
            }
        }

        #[test]
        fn int_membership_matches_a_hash_set(
            values in proptest::collection::vec(-50i64..50, 0..100),
            probe in -60i64..60,
        ) {
            let list = CompiledList::from_ints(values.iter().copied());
            prop_assert_eq!(list.contains_int(probe), values.contains(&probe));
        }
    }
}
