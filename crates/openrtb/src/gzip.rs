//! `Content-Encoding: gzip` bodies, inflated for inspection under a size limit (SPEC §2.2).

use std::io::{ErrorKind, Read};

use flate2::read::MultiGzDecoder;

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

/// Inflates a gzip body (one or more concatenated members) of at most `limit` bytes.
///
/// Stops reading as soon as the output passes `limit`, so a small "zip bomb" body costs at most
/// `limit + 1` bytes of memory. Trailing bytes after the last member are refused as corrupt.
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
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut reader = MultiGzDecoder::new(body).take(cap);
    match reader.read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(GzipError::TooLarge { limit }),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(GzipError::Truncated),
        Err(_) => Err(GzipError::Corrupt),
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
    fn concatenated_members() {
        let mut z = gzip(b"ab");
        z.extend_from_slice(&gzip(b"cd"));
        assert_eq!(decompress_gzip(&z, 10).unwrap(), b"abcd");
    }
}
