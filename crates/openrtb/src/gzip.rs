//! `Content-Encoding: gzip` bodies, inflated for inspection under a size limit (SPEC §2.2).
//!
//! The gzip framing (RFC 1952) is read here and the deflate data by a raw inflater kept per
//! thread and reset between bodies: a new decoder per request costs a ~40 KB state and a 32 KiB
//! read buffer, both allocated and initialised, several times the inflate itself for a bid
//! request (BENCHMARKS.md).

use std::cell::RefCell;

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// Why a gzip body could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    /// The inflated body would exceed the limit (the proxy answers 413).
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The gzip stream ends early: a cut-off body, or an empty one (400).
    #[error("gzip body is truncated")]
    Truncated,
    /// Not gzip, a corrupt deflate stream, or a bad checksum (400).
    #[error("gzip body is corrupt")]
    Corrupt,
}

thread_local! {
    /// This thread's raw-deflate inflater, reset for every member.
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Inflates a gzip body (one or more concatenated members) of at most `limit` bytes.
///
/// Stops as soon as the output passes `limit`, so a small "zip bomb" body costs at most
/// `limit + 1` bytes of memory. Each member's CRC-32 and length are checked. Trailing bytes after
/// the last member are refused as corrupt.
///
/// # Errors
/// [`GzipError::TooLarge`] past `limit`; [`GzipError::Truncated`] when the stream ends early;
/// [`GzipError::Corrupt`] for anything else that is not valid gzip.
pub fn decompress_gzip(body: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    if body.is_empty() {
        return Err(GzipError::Truncated);
    }
    // Bid requests compress 3-10x; start near the likely size, never above the limit.
    let guess = body.len().saturating_mul(4).min(limit).saturating_add(1);
    let mut out = Vec::with_capacity(guess);
    INFLATER.with(|inflater| {
        let mut inflater = inflater.borrow_mut();
        let mut rest = body;
        loop {
            rest = &rest[member_header(rest)?..];
            let start = out.len();
            inflater.reset(false);
            let used = inflate(&mut inflater, rest, &mut out, limit)?;
            rest = &rest[used..];
            let Some((trailer, after)) = rest.split_first_chunk::<8>() else {
                return Err(GzipError::Truncated);
            };
            let mut crc = Crc::new();
            crc.update(&out[start..]);
            let [c0, c1, c2, c3, s0, s1, s2, s3] = *trailer;
            // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
            #[allow(clippy::cast_possible_truncation)]
            let size = (out.len() - start) as u32;
            if crc.sum() != u32::from_le_bytes([c0, c1, c2, c3])
                || size != u32::from_le_bytes([s0, s1, s2, s3])
            {
                return Err(GzipError::Corrupt);
            }
            rest = after;
            if rest.is_empty() {
                return Ok(());
            }
        }
    })?;
    Ok(out)
}

/// The length of the gzip member header at the start of `input` (RFC 1952 §2.3).
fn member_header(input: &[u8]) -> Result<usize, GzipError> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const RESERVED: u8 = 0xe0;
    let magic = [0x1f, 0x8b, 8];
    let seen = input.len().min(3);
    if input[..seen] != magic[..seen] {
        return Err(GzipError::Corrupt);
    }
    let Some(fixed) = input.first_chunk::<10>() else {
        return Err(GzipError::Truncated);
    };
    let flags = fixed[3];
    if flags & RESERVED != 0 {
        return Err(GzipError::Corrupt);
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = input.get(at..at + 2).ok_or(GzipError::Truncated)?;
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let field = input.get(at..).ok_or(GzipError::Truncated)?;
            let end = memchr::memchr(0, field).ok_or(GzipError::Truncated)?;
            at += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = input.get(at..at + 2).ok_or(GzipError::Truncated)?;
        let mut crc = Crc::new();
        crc.update(&input[..at]);
        #[allow(clippy::cast_possible_truncation)]
        let low = crc.sum() as u16;
        if low != u16::from_le_bytes([stored[0], stored[1]]) {
            return Err(GzipError::Corrupt);
        }
        at += 2;
    }
    if at > input.len() {
        return Err(GzipError::Truncated);
    }
    Ok(at)
}

/// Inflates one raw deflate stream from `input` onto `out` (at most `limit` bytes in all);
/// returns the input bytes it used.
fn inflate(
    inflater: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, GzipError> {
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(GzipError::TooLarge { limit });
            }
            // Double, but never past `limit + 1`: one byte over is enough to know.
            let room = out.capacity().max(4096).min(limit + 1 - out.len());
            out.reserve_exact(room);
        }
        let used = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let produced = out.len();
        let status = inflater
            .decompress_vec(&input[used.min(input.len())..], out, FlushDecompress::None)
            .map_err(|_| GzipError::Corrupt)?;
        if out.len() > limit {
            return Err(GzipError::TooLarge { limit });
        }
        let now_used = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        match status {
            Status::StreamEnd => return Ok(now_used),
            Status::Ok | Status::BufError => {
                let stalled = now_used == used && out.len() == produced;
                if stalled && out.len() < out.capacity() {
                    // Room to write and nothing written: the input ran out mid-stream.
                    return Err(GzipError::Truncated);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    const BODY: &[u8] = br#"{"id":"r1","imp":[{"id":"1","banner":{"w":300,"h":250}}]}"#;

    #[test]
    fn round_trip() {
        assert_eq!(decompress_gzip(&gzip(BODY), 1 << 20).unwrap(), BODY);
        assert_eq!(decompress_gzip(&gzip(b""), 10).unwrap(), b"");
    }

    #[test]
    fn limit_is_inclusive() {
        let z = gzip(BODY);
        assert_eq!(decompress_gzip(&z, BODY.len()).unwrap(), BODY);
        assert_eq!(
            decompress_gzip(&z, BODY.len() - 1),
            Err(GzipError::TooLarge {
                limit: BODY.len() - 1
            })
        );
        assert_eq!(
            decompress_gzip(&z, 0),
            Err(GzipError::TooLarge { limit: 0 })
        );
    }

    #[test]
    fn bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 64 << 20];
        let z = gzip(&zeros);
        assert!(z.len() < 200_000, "{}", z.len());
        assert_eq!(
            decompress_gzip(&z, 1 << 20),
            Err(GzipError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn truncated_at_every_length() {
        let z = gzip(BODY);
        for cut in 0..z.len() {
            let got = decompress_gzip(&z[..cut], 1 << 20);
            assert!(
                matches!(got, Err(GzipError::Truncated | GzipError::Corrupt)),
                "cut {cut}: {got:?}"
            );
        }
        assert_eq!(
            decompress_gzip(&z[..z.len() - 4], 1 << 20),
            Err(GzipError::Truncated)
        );
        assert_eq!(
            decompress_gzip(&z[..z.len() / 2], 1 << 20),
            Err(GzipError::Truncated)
        );
        assert_eq!(decompress_gzip(b"", 1 << 20), Err(GzipError::Truncated));
    }

    #[test]
    fn corrupt() {
        assert_eq!(decompress_gzip(BODY, 1 << 20), Err(GzipError::Corrupt));
        let mut z = gzip(BODY);
        let n = z.len();
        z[n - 6] ^= 0xff; // CRC32
        assert_eq!(decompress_gzip(&z, 1 << 20), Err(GzipError::Corrupt));
        let mut z = gzip(BODY);
        z.extend_from_slice(b"not another gzip member");
        assert_eq!(decompress_gzip(&z, 1 << 20), Err(GzipError::Corrupt));
    }

    #[test]
    fn optional_header_fields() {
        // FEXTRA, FNAME, FCOMMENT and FHCRC, written by hand around a real deflate stream.
        let plain = gzip(BODY);
        let deflate_and_trailer = &plain[10..];
        let mut header = vec![0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 0, 0, 0, 0, 0, 255];
        header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        header.extend_from_slice(b"name.json\0comment\0");
        let mut crc = Crc::new();
        crc.update(&header);
        #[allow(clippy::cast_possible_truncation)]
        let low = crc.sum() as u16;
        let mut z = header.clone();
        z.extend_from_slice(&low.to_le_bytes());
        z.extend_from_slice(deflate_and_trailer);
        assert_eq!(decompress_gzip(&z, 1 << 20).unwrap(), BODY);
        // A wrong header CRC, and a reserved flag, are corrupt.
        let at = header.len();
        z[at] ^= 1;
        assert_eq!(decompress_gzip(&z, 1 << 20), Err(GzipError::Corrupt));
        let mut reserved = plain.clone();
        reserved[3] = 0x20;
        assert_eq!(decompress_gzip(&reserved, 1 << 20), Err(GzipError::Corrupt));
        // The length in the trailer is checked too.
        let mut wrong_size = plain.clone();
        let n = wrong_size.len();
        wrong_size[n - 1] ^= 1;
        assert_eq!(
            decompress_gzip(&wrong_size, 1 << 20),
            Err(GzipError::Corrupt)
        );
    }

    #[test]
    fn matches_flate2_on_the_corpus_sizes() {
        // Bodies of many sizes and contents, each through the reused inflater in turn.
        for n in [0usize, 1, 100, 4095, 4096, 4097, 70_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            assert_eq!(
                decompress_gzip(&gzip(&data), 1 << 20).unwrap(),
                data,
                "size {n}"
            );
            assert_eq!(
                decompress_gzip(&gzip(&data), n).unwrap(),
                data,
                "size {n}, limit exact"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = decompress_gzip(&data, 4096);
        }

        /// One byte of a valid body changed: an error, or (a header byte that does not matter)
        /// the original data, never other data.
        #[test]
        fn a_changed_byte_never_gives_other_data(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            xor in 1u8..,
        ) {
            let mut z = gzip(&data);
            let i = at.index(z.len());
            z[i] ^= xor;
            if let Ok(out) = decompress_gzip(&z, 1 << 20) {
                proptest::prop_assert_eq!(out, data);
            }
        }
    }

    #[test]
    fn concatenated_members() {
        let mut z = gzip(b"ab");
        z.extend_from_slice(&gzip(b"cd"));
        assert_eq!(decompress_gzip(&z, 10).unwrap(), b"abcd");
    }
}
