//! Win tokens: a bid's notice URL (`nurl` or `burl`) sealed with the server's win key, so that
//! `GET /win/{token}` can only ever call a URL a bidder gave (SPEC §6: tamper-proof, never an
//! open redirect).
//!
//! A token is the base64url text (no padding) of
//!
//! ```text
//! version (1 byte, = 1) | nonce (12) | AES-256-GCM ciphertext of the notice | GCM tag (16)
//! notice = flags (1) | stream id (8, big-endian i64) | URL (UTF-8, at most MAX_NOTICE_URL bytes)
//! flags  = bit 0: billing notice (`burl`), else win notice (`nurl`); bit 1: answer with a redirect
//! ```
//!
//! The version byte and a fixed context string are the GCM associated data, so a token made for
//! another purpose with the same key, or under another version, does not open. The nonce is the
//! caller's (random 96 bits from a CSPRNG in the proxy): this module stays deterministic and
//! testable. With random nonces a key should seal well under 2^32 notices (NIST SP 800-38D §8.3);
//! at 100k sealed notices a second that is about half a day, so long-running deployments should
//! rotate `proxy.win_key` (tokens in flight under the old key then answer 400).
//!
//! The stream id lets `/win` count wins per stream; the redirect flag is the customer's
//! `redirect_wins` when the bid was made, so a win is handled the way the bid's settings said.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The token layout version this build writes and opens.
pub const TOKEN_VERSION: u8 = 1;
/// Longest notice URL sealed, in bytes. A longer `nurl`/`burl` is left as the bidder wrote it.
pub const MAX_NOTICE_URL: usize = 4096;
/// Longest token text [`WinKey::open`] reads (the token of a [`MAX_NOTICE_URL`]-byte URL).
pub const MAX_TOKEN_LEN: usize = (RAW_OVERHEAD + MAX_NOTICE_URL).div_ceil(3) * 4;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// flags + stream id.
const NOTICE_HEADER: usize = 1 + 8;
/// Bytes before the ciphertext: version + nonce.
const HEADER: usize = 1 + NONCE_LEN;
/// Every byte of a token that is not the URL.
const RAW_OVERHEAD: usize = HEADER + NOTICE_HEADER + TAG_LEN;
/// Associated data: binds the key's use to this purpose and version.
const AAD: &[u8; 19] = b"bidsieve/win-token\x01";

const FLAG_BILLING: u8 = 1;
const FLAG_REDIRECT: u8 = 2;

/// Which notice URL of a bid a token carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// `bid.nurl`, the win notice: counted as a win.
    Win,
    /// `bid.burl`, the billing notice.
    Billing,
}

impl NoticeKind {
    /// The metrics label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Win => "win",
            NoticeKind::Billing => "billing",
        }
    }
}

/// What a token carries, borrowed, for sealing.
#[derive(Clone, Copy, Debug)]
pub struct Notice<'a> {
    /// nurl or burl.
    pub kind: NoticeKind,
    /// Answer `/win` with a 302 to the URL instead of calling it.
    pub redirect: bool,
    /// The stream the bid came through.
    pub stream_id: i64,
    /// The bidder's URL, macros still in it.
    pub url: &'a str,
}

/// What an opened token carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNotice {
    /// nurl or burl.
    pub kind: NoticeKind,
    /// Answer with a 302 to the URL instead of calling it.
    pub redirect: bool,
    /// The stream the bid came through.
    pub stream_id: i64,
    /// The bidder's URL, macros still in it.
    pub url: String,
}

/// Why a notice could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The URL is longer than [`MAX_NOTICE_URL`].
    #[error("notice URL of {len} bytes is over the {MAX_NOTICE_URL}-byte limit")]
    TooLong {
        /// The URL's length in bytes.
        len: usize,
    },
}

/// Why a token did not open. None of these says anything about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("win token too long")]
    TooLong,
    /// Not base64url, too short, or of an unknown version.
    #[error("win token malformed")]
    Malformed,
    /// GCM authentication failed: tampered, truncated, or sealed with another key.
    #[error("win token does not open with this server's key")]
    Forged,
}

/// The server's win key, expanded once. `Debug` never shows it.
#[derive(Clone)]
pub struct WinKey(Aes256Gcm);

// === impl WinKey ===

impl WinKey {
    /// The key from its 32 bytes.
    pub fn new(key: &[u8; 32]) -> WinKey {
        WinKey(Aes256Gcm::new(&(*key).into()))
    }

    /// Appends the token of `notice`, sealed under `nonce`, to `out`.
    ///
    /// # Errors
    /// [`SealError::TooLong`] when the URL is over [`MAX_NOTICE_URL`] bytes (nothing is appended).
    pub fn seal(
        &self,
        notice: &Notice<'_>,
        nonce: [u8; 12],
        out: &mut String,
    ) -> Result<(), SealError> {
        let url = notice.url.as_bytes();
        if url.len() > MAX_NOTICE_URL {
            return Err(SealError::TooLong { len: url.len() });
        }
        let mut buf = Vec::with_capacity(RAW_OVERHEAD + url.len());
        buf.push(TOKEN_VERSION);
        buf.extend_from_slice(&nonce);
        let mut flags = 0;
        if notice.kind == NoticeKind::Billing {
            flags |= FLAG_BILLING;
        }
        if notice.redirect {
            flags |= FLAG_REDIRECT;
        }
        buf.push(flags);
        buf.extend_from_slice(&notice.stream_id.to_be_bytes());
        buf.extend_from_slice(url);
        let (_, plain) = buf.split_at_mut(HEADER);
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(nonce), AAD, InOutBuf::from(plain));
        match tag {
            Ok(tag) => buf.extend_from_slice(&tag),
            // aes-gcm refuses only plaintexts over 64 GiB; a notice is at most a few KiB.
            Err(_) => unreachable!("a notice is far below the GCM plaintext limit"),
        }
        URL_SAFE_NO_PAD.encode_string(&buf, out);
        Ok(())
    }

    /// Opens a token made by [`WinKey::seal`] with this key.
    ///
    /// # Errors
    /// [`OpenError`]: too long, malformed, or not authentic (tampered, truncated, foreign).
    pub fn open(&self, token: &str) -> Result<OpenedNotice, OpenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(OpenError::TooLong);
        }
        let mut buf = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| OpenError::Malformed)?;
        if buf.len() < RAW_OVERHEAD || buf.first() != Some(&TOKEN_VERSION) {
            return Err(OpenError::Malformed);
        }
        let ct_len = buf.len() - HEADER - TAG_LEN;
        let (head, rest) = buf.split_at_mut(HEADER);
        let (ct, tag) = rest.split_at_mut(ct_len);
        let nonce = head.get(1..).ok_or(OpenError::Malformed)?;
        let nonce = Nonce::try_from(nonce).map_err(|_| OpenError::Malformed)?;
        let tag = Tag::try_from(&*tag).map_err(|_| OpenError::Malformed)?;
        self.0
            .decrypt_inout_detached(&nonce, AAD, InOutBuf::from(&mut *ct), &tag)
            .map_err(|_| OpenError::Forged)?;
        let (header, url) = ct.split_at(NOTICE_HEADER);
        let (&flags, id) = header.split_first().ok_or(OpenError::Malformed)?;
        let stream_id = i64::from_be_bytes(id.try_into().map_err(|_| OpenError::Malformed)?);
        // An authentic token was written by `seal` from a `&str`: these cannot fail, but the
        // checks cost nothing next to the decryption.
        if flags & !(FLAG_BILLING | FLAG_REDIRECT) != 0 {
            return Err(OpenError::Malformed);
        }
        let url = std::str::from_utf8(url)
            .map_err(|_| OpenError::Malformed)?
            .to_owned();
        Ok(OpenedNotice {
            kind: if flags & FLAG_BILLING != 0 {
                NoticeKind::Billing
            } else {
                NoticeKind::Win
            },
            redirect: flags & FLAG_REDIRECT != 0,
            stream_id,
            url,
        })
    }
}

impl std::fmt::Debug for WinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WinKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const URL: &str = "http://bidder.example/win?price=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}";

    fn key(b: u8) -> WinKey {
        WinKey::new(&[b; 32])
    }

    fn sealed(k: &WinKey, notice: &Notice<'_>, nonce: u8) -> String {
        let mut t = String::new();
        k.seal(notice, [nonce; 12], &mut t).unwrap();
        t
    }

    fn notice(url: &str) -> Notice<'_> {
        Notice {
            kind: NoticeKind::Billing,
            redirect: true,
            stream_id: -7,
            url,
        }
    }

    #[test]
    fn round_trip() {
        let k = key(1);
        for (kind, redirect) in [
            (NoticeKind::Win, false),
            (NoticeKind::Win, true),
            (NoticeKind::Billing, false),
            (NoticeKind::Billing, true),
        ] {
            let n = Notice {
                kind,
                redirect,
                stream_id: 42,
                url: URL,
            };
            let t = sealed(&k, &n, 9);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            let opened = k.open(&t).unwrap();
            assert_eq!(
                opened,
                OpenedNotice {
                    kind,
                    redirect,
                    stream_id: 42,
                    url: URL.to_owned()
                }
            );
        }
        // Nonces differ, tokens differ.
        assert_ne!(sealed(&k, &notice(URL), 1), sealed(&k, &notice(URL), 2));
    }

    #[test]
    fn seal_appends() {
        let mut out = "http://p/win/".to_owned();
        key(1)
            .seal(&notice("http://b/"), [0; 12], &mut out)
            .unwrap();
        let token = out.strip_prefix("http://p/win/").unwrap();
        assert_eq!(key(1).open(token).unwrap().url, "http://b/");
    }

    #[test]
    fn foreign_tampered_and_truncated_tokens_do_not_open() {
        let k = key(1);
        let t = sealed(&k, &notice(URL), 3);
        assert_eq!(key(2).open(&t), Err(OpenError::Forged));
        // Truncated: a whole byte less, or a partial base64 group.
        assert_eq!(k.open(&t[..t.len() - 4]), Err(OpenError::Forged));
        assert!(k.open(&t[..t.len() - 1]).is_err());
        assert_eq!(k.open(&t[..20]), Err(OpenError::Malformed));
        assert_eq!(k.open(""), Err(OpenError::Malformed));
        assert_eq!(k.open("not base64!"), Err(OpenError::Malformed));
        // Every single-character change is refused.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..t.len() {
            let mut bytes = t.clone().into_bytes();
            let old = bytes[i];
            bytes[i] = *alphabet.iter().find(|&&c| c != old).unwrap();
            let changed = String::from_utf8(bytes).unwrap();
            assert!(k.open(&changed).is_err(), "position {i}");
        }
        // Another version byte.
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[0] = 2;
        assert_eq!(
            k.open(&URL_SAFE_NO_PAD.encode(&raw)),
            Err(OpenError::Malformed)
        );
    }

    #[test]
    fn size_limits() {
        let k = key(1);
        let long = format!("http://b/{}", "a".repeat(MAX_NOTICE_URL - 9));
        assert_eq!(long.len(), MAX_NOTICE_URL);
        let t = sealed(&k, &notice(&long), 0);
        assert!(t.len() <= MAX_TOKEN_LEN);
        assert_eq!(k.open(&t).unwrap().url, long);
        let over = format!("{long}a");
        let mut out = String::new();
        assert_eq!(
            k.seal(&notice(&over), [0; 12], &mut out),
            Err(SealError::TooLong {
                len: MAX_NOTICE_URL + 1
            })
        );
        assert!(out.is_empty());
        assert_eq!(
            k.open(&"A".repeat(MAX_TOKEN_LEN + 1)),
            Err(OpenError::TooLong)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", key(7)), "WinKey(<redacted>)");
    }

    proptest! {
        #[test]
        fn any_notice_round_trips(url in "\\PC{0,300}", id in any::<i64>(), nonce in any::<[u8; 12]>(),
                                  billing in any::<bool>(), redirect in any::<bool>()) {
            let k = key(5);
            let n = Notice {
                kind: if billing { NoticeKind::Billing } else { NoticeKind::Win },
                redirect,
                stream_id: id,
                url: &url,
            };
            let mut t = String::new();
            k.seal(&n, nonce, &mut t).unwrap();
            let opened = k.open(&t).unwrap();
            prop_assert_eq!(opened.url, url.clone());
            prop_assert_eq!(opened.stream_id, id);
            prop_assert_eq!(opened.redirect, redirect);
            prop_assert_eq!(opened.kind, n.kind);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[A-Za-z0-9_-]{0,200}") {
            prop_assert!(key(5).open(&text).is_err());
        }
    }
}
