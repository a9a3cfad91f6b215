//! Base64 as UID2 tokens use it, decoded into caller-provided (stack) buffers.
//!
//! Strict on purpose (`ref/uid2.md` §2, §10): v2/v3 tokens are canonical standard base64 with
//! padding; v4 tokens are base64url with or without padding, or standard base64. No whitespace,
//! no stray characters, no non-zero trailing bits.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Longest token text accepted; anything longer is `INVALID_PAYLOAD` without being decoded.
/// Today's tokens are 180 (v2), 220 (v3) and 219 (v4) characters.
pub const MAX_TOKEN_CHARS: usize = 1024;
/// Bytes that [`MAX_TOKEN_CHARS`] characters of base64 can decode to.
pub const MAX_TOKEN_BYTES: usize = MAX_TOKEN_CHARS / 4 * 3;

/// Decodes canonical, padded standard base64 into `out`; returns the decoded length.
/// `None` on any invalid input, or when `out` is too small.
pub fn decode_standard(text: &[u8], out: &mut [u8]) -> Option<usize> {
    STANDARD.decode_slice(text, out).ok()
}

/// Decodes base64url (`-`, `_`) with or without `=` padding, or standard base64, the way the
/// SDKs read v4 tokens: `-`→`+`, `_`→`/`, pad to a multiple of 4, decode. Returns the decoded
/// length; `None` on invalid input, input over [`MAX_TOKEN_CHARS`] or `out` too small.
pub fn decode_url_or_standard(text: &[u8], out: &mut [u8]) -> Option<usize> {
    if text.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let mut buf = [0u8; MAX_TOKEN_CHARS + 3];
    let mut n = 0;
    for (dst, &c) in buf.iter_mut().zip(text) {
        *dst = match c {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        };
        n += 1;
    }
    while n % 4 != 0 {
        *buf.get_mut(n)? = b'=';
        n += 1;
    }
    decode_standard(buf.get(..n)?, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_padded_unpadded_and_standard_agree() {
        let mut out = [0u8; 16];
        for t in ["_-CI_-6ZmQ", "_-CI_-6ZmQ==", "/+CI/+6ZmQ=="] {
            let n = decode_url_or_standard(t.as_bytes(), &mut out).unwrap();
            assert_eq!(
                &out[..n],
                &[0xff, 0xe0, 0x88, 0xff, 0xee, 0x99, 0x99],
                "{t}"
            );
        }
    }

    #[test]
    fn strictness() {
        let mut out = [0u8; 16];
        // whitespace, stray characters, wrong padding, a lone trailing char, trailing bits
        for bad in ["QUJD\n", "QU*D", "QUI", "QUJDR", "QUJ=", "QR=="] {
            assert_eq!(decode_standard(bad.as_bytes(), &mut out), None, "{bad:?}");
        }
        assert_eq!(decode_url_or_standard(b"QUJDR", &mut out), None);
        assert_eq!(decode_url_or_standard(b"QU JD", &mut out), None);
        assert_eq!(decode_standard(b"QUJD", &mut out), Some(3));
        // out too small is an answer, not a panic
        assert_eq!(decode_standard(b"QUJDQUJD", &mut out[..2]), None);
        let long = vec![b'A'; MAX_TOKEN_CHARS + 4];
        assert_eq!(decode_url_or_standard(&long, &mut [0u8; 2000]), None);
    }
}
