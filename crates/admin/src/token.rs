//! Session tokens: HS256 JWTs with the claims of SPEC §5.1. The algorithm is fixed here; a
//! token with any other `alg` (`none` included) does not decode.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The `iss` of every token.
pub(crate) const ISSUER: &str = "bidsieve";
/// The `aud` of every token.
pub(crate) const AUDIENCE: &str = "bidsieve-admin";

/// The claims of a session token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user id, as a string (JWT `sub`).
    pub(crate) sub: String,
    /// `operator` or `customer`.
    pub(crate) role: String,
    /// The customer id of a customer user; `null` for operators.
    pub(crate) cid: Option<i64>,
    /// The session id.
    pub(crate) jti: String,
    /// Issued at (unix seconds).
    pub(crate) iat: u64,
    /// The hard expiry (unix seconds).
    pub(crate) exp: u64,
    /// [`ISSUER`].
    pub(crate) iss: String,
    /// [`AUDIENCE`].
    pub(crate) aud: String,
}

/// Why a token was refused (all of them are 401 `NOAUTH`; the kind only picks the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Past its `exp`.
    Expired,
    /// Bad shape, bad signature, wrong algorithm, issuer or audience, missing claim.
    Invalid,
}

/// The signing and verification keys, with the validation rules.
pub(crate) struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    /// Keys for `secret` (HMAC-SHA256).
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs `claims`.
    ///
    /// # Errors
    /// The signing failed (never expected with an HMAC key).
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Verifies a token's algorithm, signature, issuer, audience and expiry.
    ///
    /// # Errors
    /// [`TokenError::Expired`] past `exp`, [`TokenError::Invalid`] for anything else.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => {
                // `exp == now` still passes the library's check; a session ends at its `exp`.
                if data.claims.exp <= unix_now() {
                    return Err(TokenError::Expired);
                }
                Ok(data.claims)
            }
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn encode_segment(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "1".into(),
            role: "operator".into(),
            cid: None,
            jti: "abc".into(),
            iat: unix_now(),
            exp,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        }
    }

    #[test]
    fn round_trip() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let c = claims(unix_now() + 60);
        let token = keys.sign(&c).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), c);
    }

    #[test]
    fn expired_wrong_key_and_garbage_are_refused() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let other = TokenKeys::new(b"another key, another signature!!");
        let token = keys.sign(&claims(unix_now() - 1)).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
        let token = other.sign(&claims(unix_now() + 60)).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::Invalid));
        assert_eq!(keys.verify("not.a.token"), Err(TokenError::Invalid));
        assert_eq!(keys.verify(""), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let payload = serde_json::to_vec(&claims(unix_now() + 60)).unwrap();
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
        ] {
            let token = format!(
                "{}.{}.",
                encode_segment(header.as_bytes()),
                encode_segment(&payload)
            );
            assert_eq!(keys.verify(&token), Err(TokenError::Invalid), "{header}");
        }
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef");
        let mut c = claims(unix_now() + 60);
        c.aud = "someone-else".into();
        assert_eq!(
            keys.verify(&keys.sign(&c).unwrap()),
            Err(TokenError::Invalid)
        );
        let mut c = claims(unix_now() + 60);
        c.iss = "someone-else".into();
        assert_eq!(
            keys.verify(&keys.sign(&c).unwrap()),
            Err(TokenError::Invalid)
        );
    }
}
