//! Rewrites of a bidder's bid response before it is relayed to the supplier (SPEC §6).
//!
//! [`rewrite_response`] walks the response once with the validating cursor of the extractor
//! (so it also decides whether the body is JSON at all, as `serde_json` would), visits every
//! `seatbid[].bid[]` object and records where the strings it must change lie in the body. The
//! output is the input with only those string values spliced in: nothing else is re-serialized,
//! and a response that needs no change is not copied at all ([`Rewritten::body`] is `None`: relay
//! the bidder's bytes as they are).
//!
//! - **Notice URLs** (`nurl`, `burl`), when sealing is on (the customer's `keep_nurl` is false):
//!   replaced by `{public_url}/win/{token}` plus the query string of the macros the URL used
//!   (see [`crate::macros`] and [`crate::WinKey`]). Empty strings and non-strings are left alone;
//!   so is a URL over [`crate::MAX_NOTICE_URL`] bytes (counted in [`Rewritten::too_long`]).
//!   Loss notices (`lurl`) are not touched.
//! - **Tag injection** (`inject_tag`): the tag is appended at the end of `adm` when `adm` is HTML
//!   markup. Recognised by the first characters of `adm` after whitespace (and a byte-order
//!   mark), with JSON escapes decoded (Go encoders write `<` as `\u003c`):
//!   - `{` or `[`: native JSON (OpenRTB Native 1.x): left alone;
//!   - `<?xml`, `<VAST` or `<DAAST` (any case): VAST/DAAST XML: left alone;
//!   - any other `<` followed by a letter, `!` or `/` (`<div`, `<script`, `<!DOCTYPE`, `<!--`):
//!     HTML: tagged;
//!   - anything else (a URL, text, empty): left alone.
//!
//!   A bid whose `mtype` (OpenRTB 2.6) says other than banner (1) is never tagged, whatever its
//!   markup looks like. The placeholders `{stream_id}`, `{bid_id}` (`bid.id`) and `{imp_id}`
//!   (`bid.impid`) are replaced by HTML-escaped values (`&<>"'`), then the whole tag is
//!   JSON-escaped into the string.
//!
//! Duplicate keys: every `nurl`/`burl` value is sealed (none escapes unsealed); the tag goes into
//! the last `adm`, the one a JSON reader keeps.

use std::borrow::Cow;

use crate::cursor::{Cursor, RawStr, Result as Walked};
use crate::error::ParseError;
use crate::macros;
use crate::win_token::{MAX_NOTICE_URL, Notice, NoticeKind, WinKey};

/// How to seal notice URLs (customer's `keep_nurl` is false).
pub struct NoticeSealing<'a> {
    /// The server's win key.
    pub key: &'a WinKey,
    /// Base of the win URLs, without a trailing slash (`proxy.public_url`).
    pub public_url: &'a str,
    /// The customer's `redirect_wins`, carried in the token.
    pub redirect: bool,
    /// A fresh random 96-bit nonce per call (the caller's CSPRNG).
    pub nonce: &'a mut dyn FnMut() -> [u8; 12],
}

impl std::fmt::Debug for NoticeSealing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeSealing")
            .field("public_url", &self.public_url)
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

/// What to change in one bid response.
#[derive(Debug)]
pub struct ResponseRewrite<'a> {
    /// The stream the response came through (sealed in tokens, the `{stream_id}` placeholder).
    pub stream_id: i64,
    /// Seal `nurl`/`burl`; `None` keeps them (`keep_nurl`).
    pub seal: Option<NoticeSealing<'a>>,
    /// The tag to append to HTML `adm`; `None` (or empty) when `inject_tag` is off.
    pub tag_html: Option<&'a str>,
}

/// The result of [`rewrite_response`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The new body, or `None` when nothing changed (relay the original bytes).
    pub body: Option<Vec<u8>>,
    /// Notice URLs sealed.
    pub sealed: u32,
    /// Notice URLs left unsealed because they were over [`crate::MAX_NOTICE_URL`] bytes.
    pub too_long: u32,
    /// `adm` values tagged.
    pub tagged: u32,
}

/// Rewrites a bid response as configured (see the module doc).
///
/// # Errors
/// The body is not one valid JSON document ([`ParseError`], as for a request): it must not be
/// relayed. Any valid JSON is accepted; a document that is not an object has nothing to rewrite.
pub fn rewrite_response(body: &[u8], rewrite: &mut ResponseRewrite<'_>) -> Result<Rewritten, ParseError> {
    if u32::try_from(body.len()).is_err() {
        return Err(ParseError::TooLarge);
    }
    let mut cursor = Cursor::new(body);
    let tag = rewrite.tag_html.filter(|t| !t.is_empty());
    let mut walk = Walk {
        buf: body,
        stream_id: rewrite.stream_id,
        seal: rewrite.seal.as_mut(),
        tag,
        edits: Vec::new(),
        text: String::new(),
        out: Rewritten::default(),
    };
    let walked = if walk.seal.is_none() && walk.tag.is_none() {
        cursor.skip_value()
    } else {
        top(&mut cursor, &mut walk)
    };
    if walked.and_then(|()| cursor.finish()).is_err() {
        return Err(cursor.error());
    }
    let mut out = std::mem::take(&mut walk.out);
    if !walk.edits.is_empty() {
        out.body = Some(walk.splice());
    }
    Ok(out)
}

/// One change: `buf[start..end]` becomes `text[from..to]` (an insertion when `start == end`).
struct Edit {
    start: usize,
    end: usize,
    from: usize,
    to: usize,
}

/// The walk's state: the settings, and the edits found so far.
struct Walk<'b, 's, 'a> {
    buf: &'b [u8],
    stream_id: i64,
    seal: Option<&'s mut NoticeSealing<'a>>,
    tag: Option<&'a str>,
    edits: Vec<Edit>,
    /// The replacement texts, back to back.
    text: String,
    out: Rewritten,
}

/// What the walk keeps of one bid until its object closes.
#[derive(Default)]
struct BidSeen {
    id: Option<RawStr>,
    impid: Option<RawStr>,
    adm: Option<RawStr>,
    mtype: Option<u64>,
}

/// The top-level object: only `seatbid` matters.
fn top(c: &mut Cursor<'_>, w: &mut Walk<'_, '_, '_>) -> Walked<()> {
    if c.peek()? != b'{' {
        return c.skip_value();
    }
    c.object(|c, key| {
        if key == b"seatbid" {
            c.if_array(|c| seatbid(c, w)).map(drop)
        } else {
            c.skip_value()
        }
    })
}

/// One `seatbid[]` element: only `bid` matters.
fn seatbid(c: &mut Cursor<'_>, w: &mut Walk<'_, '_, '_>) -> Walked<()> {
    c.if_object(|c, key| {
        if key == b"bid" {
            c.if_array(|c| bid(c, w)).map(drop)
        } else {
            c.skip_value()
        }
    })
    .map(drop)
}

/// One `bid[]` element: seal its notice URLs as they come, tag its `adm` once it closed (the
/// placeholders need `id` and `impid`, which may come after `adm`).
fn bid(c: &mut Cursor<'_>, w: &mut Walk<'_, '_, '_>) -> Walked<()> {
    let mut seen = BidSeen::default();
    let sealing = w.seal.is_some();
    let tagging = w.tag.is_some();
    let is_object = c.if_object(|c, key| match key {
        b"nurl" | b"burl" if sealing => {
            if let Some(url) = c.string_value()? {
                let kind = if key == b"nurl" {
                    NoticeKind::Win
                } else {
                    NoticeKind::Billing
                };
                w.seal_notice(url, kind);
            }
            Ok(())
        }
        b"adm" if tagging => c.string_value().map(|s| seen.adm = s),
        b"id" if tagging => c.string_value().map(|s| seen.id = s),
        b"impid" if tagging => c.string_value().map(|s| seen.impid = s),
        b"mtype" if tagging => c.u64_value().map(|n| seen.mtype = n),
        _ => c.skip_value(),
    })?;
    if is_object {
        w.tag_adm(&seen);
    }
    Ok(())
}

/// Where `part` (a subslice of `buf`) starts in `buf`.
fn offset_in(buf: &[u8], part: &[u8]) -> usize {
    part.as_ptr().addr().saturating_sub(buf.as_ptr().addr())
}

// === impl Walk ===

impl Walk<'_, '_, '_> {
    /// The span of a string's bytes between its quotes.
    fn span(&self, s: RawStr) -> (usize, usize) {
        let bytes = s.bytes(self.buf);
        let start = offset_in(self.buf, bytes);
        (start, start + bytes.len())
    }

    /// Replaces one notice URL by its win URL.
    fn seal_notice(&mut self, raw: RawStr, kind: NoticeKind) {
        let Some(seal) = self.seal.as_deref_mut() else {
            return;
        };
        if raw.is_empty() {
            return;
        }
        // The cursor validated the string: decoding cannot fail.
        let Ok(url) = raw.to_cow(self.buf) else {
            return;
        };
        if url.len() > MAX_NOTICE_URL {
            self.out.too_long += 1;
            return;
        }
        let from = self.text.len();
        push_json_escaped(&mut self.text, seal.public_url);
        self.text.push_str("/win/");
        let notice = Notice {
            kind,
            redirect: seal.redirect,
            stream_id: self.stream_id,
            url: &url,
        };
        if seal.key.seal(&notice, (seal.nonce)(), &mut self.text).is_err() {
            self.text.truncate(from);
            self.out.too_long += 1;
            return;
        }
        macros::push_query(macros::used_macros(&url), &mut self.text);
        let (start, end) = self.span(raw);
        self.edits.push(Edit {
            start,
            end,
            from,
            to: self.text.len(),
        });
        self.out.sealed += 1;
    }

    /// Appends the tag to the bid's `adm` if it is HTML.
    fn tag_adm(&mut self, seen: &BidSeen) {
        let (Some(tag), Some(adm)) = (self.tag, seen.adm) else {
            return;
        };
        if seen.mtype.is_some_and(|t| t != 1) || !is_html(adm.bytes(self.buf)) {
            return;
        }
        let buf = self.buf;
        let decoded = |s: Option<RawStr>| -> Cow<'_, str> {
            s.and_then(|s| s.to_cow(buf).ok())
                .unwrap_or(Cow::Borrowed(""))
        };
        let bid_id = decoded(seen.id);
        let imp_id = decoded(seen.impid);
        let stream_id = self.stream_id.to_string();
        let from = self.text.len();
        render_tag(tag, &stream_id, &bid_id, &imp_id, &mut self.text);
        let (_, end) = self.span(adm);
        self.edits.push(Edit {
            start: end,
            end,
            from,
            to: self.text.len(),
        });
        self.out.tagged += 1;
    }

    /// The body with every edit applied.
    fn splice(&mut self) -> Vec<u8> {
        // Notice edits are recorded as met, a tag edit when its bid closes: put them in order.
        self.edits.sort_by_key(|e| e.start);
        let grown: usize = self.edits.iter().map(|e| e.to - e.from).sum();
        let mut out = Vec::with_capacity(self.buf.len() + grown);
        let mut copied = 0;
        for e in &self.edits {
            out.extend_from_slice(self.buf.get(copied..e.start).unwrap_or_default());
            out.extend_from_slice(self.text.as_bytes().get(e.from..e.to).unwrap_or_default());
            copied = e.end;
        }
        out.extend_from_slice(self.buf.get(copied..).unwrap_or_default());
        out
    }
}

/// Appends `tag` with its placeholders replaced by HTML-escaped values, JSON-escaped.
fn render_tag(tag: &str, stream_id: &str, bid_id: &str, imp_id: &str, out: &mut String) {
    let mut rest = tag;
    while let Some(k) = rest.find('{') {
        let (before, at) = rest.split_at(k);
        push_json_escaped(out, before);
        let placeholder = [
            ("{stream_id}", stream_id),
            ("{bid_id}", bid_id),
            ("{imp_id}", imp_id),
        ]
        .into_iter()
        .find(|(name, _)| at.starts_with(name));
        match placeholder {
            Some((name, value)) => {
                push_html_json_escaped(out, value);
                rest = at.get(name.len()..).unwrap_or_default();
            }
            None => {
                out.push('{');
                rest = at.get(1..).unwrap_or_default();
            }
        }
    }
    push_json_escaped(out, rest);
}

/// Appends `s` as the inside of a JSON string.
fn push_json_escaped(out: &mut String, s: &str) {
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            out.push_str(s.get(plain..i).unwrap_or_default());
            push_escape(out, b);
            plain = i + 1;
        }
    }
    out.push_str(s.get(plain..).unwrap_or_default());
}

fn push_escape(out: &mut String, b: u8) {
    match b {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Appends `s` HTML-escaped, then JSON-escaped (an entity needs no JSON escape).
fn push_html_json_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c < ' ' || c == '\\' => {
                let mut one = [0u8; 4];
                push_json_escaped(out, c.encode_utf8(&mut one));
            }
            c => out.push(c),
        }
    }
}

/// The first characters of a JSON string body after leading whitespace and a byte-order mark,
/// with escapes decoded, lower-cased; at most 8 (enough to tell the kinds of markup apart).
/// Non-ASCII characters stop the prefix.
fn markup_prefix(raw: &[u8]) -> ([u8; 8], usize) {
    let mut out = [0u8; 8];
    let mut n = 0;
    let mut i = 0;
    while n < out.len() {
        let (c, next) = match raw.get(i) {
            None => break,
            Some(b'\\') => match raw.get(i + 1) {
                Some(b'u') => {
                    let hex = raw.get(i + 2..i + 6).and_then(|h| std::str::from_utf8(h).ok());
                    match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                        Some(code) => (code, i + 6),
                        None => break,
                    }
                }
                Some(b'n') => (u32::from('\n'), i + 2),
                Some(b'r') => (u32::from('\r'), i + 2),
                Some(b't') => (u32::from('\t'), i + 2),
                Some(&other) => (u32::from(other), i + 2),
                None => break,
            },
            Some(&b) if b < 0x80 => (u32::from(b), i + 1),
            // U+FEFF, the byte-order mark, raw in UTF-8.
            Some(0xef) if raw.get(i..i + 3) == Some(&[0xef, 0xbb, 0xbf]) && n == 0 => {
                i += 3;
                continue;
            }
            Some(_) => break,
        };
        i = next;
        if n == 0 && (c == 0xfeff || matches!(c, 0x20 | 0x09 | 0x0a | 0x0d)) {
            continue;
        }
        let Ok(byte) = u8::try_from(c) else {
            break;
        };
        if !byte.is_ascii() {
            break;
        }
        if let Some(slot) = out.get_mut(n) {
            *slot = byte.to_ascii_lowercase();
        }
        n += 1;
    }
    (out, n)
}

/// True when an `adm` string body (JSON-escaped) holds HTML markup (see the module doc).
fn is_html(raw: &[u8]) -> bool {
    let (prefix, n) = markup_prefix(raw);
    let text = prefix.get(..n).unwrap_or_default();
    let Some((&b'<', rest)) = text.split_first() else {
        return false;
    };
    if rest.starts_with(b"?xml") {
        return false;
    }
    for root in [&b"vast"[..], b"daast"] {
        if let Some(after) = rest.strip_prefix(root)
            && after
                .first()
                .is_none_or(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace())
        {
            return false;
        }
    }
    rest.first()
        .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'!' || b == b'/')
}

