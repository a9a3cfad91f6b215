//! The encrypted envelope of the UID2 operator's v2 API (`ref/uid2.md` §7.2–§7.3), pure.
//!
//! Request body: base64 of `0x01 | iv(12) | GCM(secret, timestamp_ms(8) | nonce(8) | payload) |
//! tag(16)`. Response body: base64 of `iv(12) | GCM(secret, timestamp_ms(8) | echoed nonce(8) |
//! JSON) | tag(16)`. Randomness (iv, nonce) and the clock are the caller's, so this module is
//! deterministic and testable against known answers.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Version byte that opens every request envelope.
pub const ENVELOPE_VERSION: u8 = 1;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 16; // timestamp(8) + nonce(8)

/// The client secret shared with the operator (32 bytes). `Debug` never shows it.
#[derive(Clone)]
pub struct ClientSecret([u8; 32]);

/// Why a client secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The text is not standard base64 of exactly 32 bytes (the text is not shown).
    #[error("client secret must be the standard base64 of 32 bytes")]
    Invalid,
}

/// Why a response envelope could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is not standard base64.
    #[error("response body is not base64")]
    NotBase64,
    /// Too short to hold an iv, a timestamp, a nonce and a tag.
    #[error("response envelope too short")]
    TooShort,
    /// GCM authentication failed (wrong secret or tampered body).
    #[error("response envelope does not decrypt with the client secret")]
    Decrypt,
    /// The echoed nonce is not the one the request carried.
    #[error("response nonce does not match the request's")]
    NonceMismatch,
}

/// A response envelope that opened and echoed the right nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedResponse {
    /// The operator's clock when it answered (Unix milliseconds; informational).
    pub timestamp_ms: i64,
    /// The decrypted JSON document (`{"status":..,"body":..}`).
    pub json: Vec<u8>,
}

// === impl ClientSecret ===

impl ClientSecret {
    /// Reads the secret as the UID2 portal shows it (standard base64).
    ///
    /// # Errors
    /// [`SecretError::Invalid`] unless the text is base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<ClientSecret, SecretError> {
        let mut buf = [0u8; 48];
        let text = text.trim();
        if text.len() > 64 {
            return Err(SecretError::Invalid);
        }
        let n = STANDARD
            .decode_slice(text.as_bytes(), &mut buf)
            .map_err(|_| SecretError::Invalid)?;
        let bytes: [u8; 32] = buf
            .get(..n)
            .and_then(|b| b.try_into().ok())
            .ok_or(SecretError::Invalid)?;
        Ok(ClientSecret(bytes))
    }

    /// A secret from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ClientSecret {
        ClientSecret(bytes)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Builds a request body: the base64 text to POST.
pub fn seal_request(
    secret: &ClientSecret,
    timestamp_ms: i64,
    nonce: [u8; 8],
    iv: [u8; 12],
    payload: &[u8],
) -> String {
    let mut env = Vec::with_capacity(1 + IV_LEN + HEADER_LEN + payload.len() + TAG_LEN);
    env.push(ENVELOPE_VERSION);
    env.extend_from_slice(&iv);
    env.extend_from_slice(&timestamp_ms.to_be_bytes());
    env.extend_from_slice(&nonce);
    env.extend_from_slice(payload);
    let start = 1 + IV_LEN;
    let tag = secret.cipher().encrypt_inout_detached(
        &Nonce::from(iv),
        &[],
        InOutBuf::from(&mut env[start..]),
    );
    match tag {
        Ok(tag) => env.extend_from_slice(&tag),
        // aes-gcm refuses only plaintexts over 64 GiB; a request payload is never that large.
        Err(_) => env.truncate(0),
    }
    STANDARD.encode(&env)
}

/// Opens a response body (base64 text; surrounding whitespace ignored) and checks that it
/// echoes `nonce`.
///
/// # Errors
/// [`EnvelopeError`] when the body is not base64, too short, fails GCM or echoes another nonce.
pub fn open_response(
    secret: &ClientSecret,
    body: &[u8],
    nonce: &[u8; 8],
) -> Result<OpenedResponse, EnvelopeError> {
    let text = body.trim_ascii();
    let mut sealed = STANDARD
        .decode(text)
        .map_err(|_| EnvelopeError::NotBase64)?;
    open_binary(secret, &mut sealed, nonce)
}

/// Opens a binary response (`iv | ciphertext | tag`) in place; see [`open_response`].
///
/// # Errors
/// As [`open_response`], except `NotBase64`.
pub fn open_binary(
    secret: &ClientSecret,
    sealed: &mut [u8],
    nonce: &[u8; 8],
) -> Result<OpenedResponse, EnvelopeError> {
    let ct_len = sealed
        .len()
        .checked_sub(IV_LEN + TAG_LEN)
        .filter(|&n| n >= HEADER_LEN)
        .ok_or(EnvelopeError::TooShort)?;
    let (iv, rest) = sealed.split_at_mut(IV_LEN);
    let (ct, tag) = rest.split_at_mut(ct_len);
    let iv = Nonce::try_from(&*iv).map_err(|_| EnvelopeError::TooShort)?;
    let tag = Tag::try_from(&*tag).map_err(|_| EnvelopeError::TooShort)?;
    secret
        .cipher()
        .decrypt_inout_detached(&iv, &[], InOutBuf::from(&mut *ct), &tag)
        .map_err(|_| EnvelopeError::Decrypt)?;
    let (head, json) = ct.split_at(HEADER_LEN);
    let (ts, echoed) = head.split_at(8);
    if echoed != nonce {
        return Err(EnvelopeError::NonceMismatch);
    }
    let timestamp_ms = ts
        .try_into()
        .map(i64::from_be_bytes)
        .map_err(|_| EnvelopeError::TooShort)?;
    Ok(OpenedResponse {
        timestamp_ms,
        json: json.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ClientSecret {
        ClientSecret::from_base64("KQXOZIGhsuAh6JhXFmXw9EKtuo3icqv3rh1IRDlGxS0=").unwrap()
    }

    /// Seals a response the way the operator does (the test's own inverse of `open_response`).
    fn seal_response(
        s: &ClientSecret,
        iv: [u8; 12],
        ts: i64,
        nonce: [u8; 8],
        json: &[u8],
    ) -> String {
        let mut buf = iv.to_vec();
        buf.extend_from_slice(&ts.to_be_bytes());
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(json);
        let tag = s
            .cipher()
            .encrypt_inout_detached(&Nonce::from(iv), &[], InOutBuf::from(&mut buf[12..]))
            .unwrap();
        buf.extend_from_slice(&tag);
        STANDARD.encode(&buf)
    }

    #[test]
    fn response_round_trip_and_failures() {
        let s = secret();
        let body = seal_response(&s, [7; 12], 42, [1; 8], b"{}");
        let opened = open_response(&s, format!("{body}\n").as_bytes(), &[1; 8]).unwrap();
        assert_eq!(opened.timestamp_ms, 42);
        assert_eq!(opened.json, b"{}");
        assert_eq!(
            open_response(&s, body.as_bytes(), &[2; 8]),
            Err(EnvelopeError::NonceMismatch)
        );
        let other = ClientSecret::from_bytes([9; 32]);
        assert_eq!(
            open_response(&other, body.as_bytes(), &[1; 8]),
            Err(EnvelopeError::Decrypt)
        );
        assert_eq!(
            open_response(&s, b"not base64!", &[1; 8]),
            Err(EnvelopeError::NotBase64)
        );
        assert_eq!(
            open_response(&s, b"AAAA", &[1; 8]),
            Err(EnvelopeError::TooShort)
        );
    }

    #[test]
    fn secret_validation_and_redaction() {
        assert!(ClientSecret::from_base64("AAAA").is_err());
        assert!(ClientSecret::from_base64("not base64").is_err());
        let s = secret();
        assert_eq!(format!("{s:?}"), "ClientSecret(<redacted>)");
    }

    #[test]
    fn empty_request_is_60_chars() {
        let body = seal_request(&secret(), 1, [0; 8], [0; 12], &[]);
        assert_eq!(body.len(), 60);
    }
}
