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
use crate::win_token::{MAX_NOTICE_URL, Notice, NoticeKind, SealError, WinKey};

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
pub fn rewrite_response(
    body: &[u8],
    rewrite: &mut ResponseRewrite<'_>,
) -> Result<Rewritten, ParseError> {
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

/// The win URL that stands for `notice.url`: `{public_url}/win/{token}` and the query string of
/// the macros the URL uses (one key per macro of [`crate::MACROS`]), as [`rewrite_response`]
/// writes it (there JSON-escaped) in place of a bid's `nurl` or `burl`.
///
/// # Errors
/// [`SealError::TooLong`] when the URL is over [`crate::MAX_NOTICE_URL`] bytes.
pub fn win_url(
    public_url: &str,
    key: &WinKey,
    notice: &Notice<'_>,
    nonce: [u8; 12],
) -> Result<String, SealError> {
    let mut out = String::with_capacity(public_url.len() + 64 + notice.url.len() * 2);
    out.push_str(public_url);
    push_win_path(key, notice, nonce, &mut out)?;
    Ok(out)
}

/// Appends `/win/{token}?{macros}` (text that needs no JSON escaping).
fn push_win_path(
    key: &WinKey,
    notice: &Notice<'_>,
    nonce: [u8; 12],
    out: &mut String,
) -> Result<(), SealError> {
    out.push_str("/win/");
    key.seal(notice, nonce, out)?;
    macros::push_query(macros::used_macros(notice.url), out);
    Ok(())
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
        // The token is 4/3 of the URL plus ~50 bytes; the macro query at most the URL again.
        self.text
            .reserve(seal.public_url.len() + 2 * url.len() + 128);
        push_json_escaped(&mut self.text, seal.public_url);
        let notice = Notice {
            kind,
            redirect: seal.redirect,
            stream_id: self.stream_id,
            url: &url,
        };
        if push_win_path(seal.key, &notice, (seal.nonce)(), &mut self.text).is_err() {
            self.text.truncate(from);
            self.out.too_long += 1;
            return;
        }
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
        let from = self.text.len();
        self.text.reserve(tag.len() + 64);
        render_tag(tag, self.stream_id, &bid_id, &imp_id, &mut self.text);
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
fn render_tag(tag: &str, stream_id: i64, bid_id: &str, imp_id: &str, out: &mut String) {
    use std::fmt::Write as _;
    let mut rest = tag;
    while let Some(k) = rest.find('{') {
        let (before, at) = rest.split_at(k);
        push_json_escaped(out, before);
        if let Some(after) = at.strip_prefix("{stream_id}") {
            // Digits need no escaping; writing to a String cannot fail.
            let _ = write!(out, "{stream_id}");
            rest = after;
        } else if let Some(after) = at.strip_prefix("{bid_id}") {
            push_html_json_escaped(out, bid_id);
            rest = after;
        } else if let Some(after) = at.strip_prefix("{imp_id}") {
            push_html_json_escaped(out, imp_id);
            rest = after;
        } else {
            out.push('{');
            rest = at.get(1..).unwrap_or_default();
        }
    }
    push_json_escaped(out, rest);
}

/// Appends `s` as the inside of a JSON string.
fn push_json_escaped(out: &mut String, s: &str) {
    // Control characters are rare: when there are none, only `"` and `\` need a look, and
    // memchr finds those a word at a time.
    if s.bytes().any(|b| b < 0x20) {
        return push_json_escaped_slow(out, s);
    }
    let mut rest = s;
    while let Some(k) = memchr::memchr2(b'"', b'\\', rest.as_bytes()) {
        let (plain, special) = rest.split_at(k);
        out.push_str(plain);
        out.push('\\');
        out.push_str(special.get(..1).unwrap_or_default());
        rest = special.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// [`push_json_escaped`] byte by byte, for text with control characters.
fn push_json_escaped_slow(out: &mut String, s: &str) {
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
    if !s
        .bytes()
        .any(|b| b < 0x20 || matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'' | b'\\'))
    {
        out.push_str(s);
        return;
    }
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
                    let hex = raw
                        .get(i + 2..i + 6)
                        .and_then(|h| std::str::from_utf8(h).ok());
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const PUBLIC: &str = "https://px.example";
    const TAG: &str =
        r#"<img src="https://t.example/i.gif?s={stream_id}&b={bid_id}&i={imp_id}&x={nope}">"#;

    fn key() -> WinKey {
        WinKey::new(&[3; 32])
    }

    /// Runs a rewrite with sealing and/or tagging on.
    fn run(body: &[u8], seal: bool, tag: bool, redirect: bool) -> Result<Rewritten, ParseError> {
        let key = key();
        let mut counter = 0u8;
        let mut nonce = || {
            counter = counter.wrapping_add(1);
            [counter; 12]
        };
        let mut rw = ResponseRewrite {
            stream_id: 17,
            seal: seal.then_some(NoticeSealing {
                key: &key,
                public_url: PUBLIC,
                redirect,
                nonce: &mut nonce,
            }),
            tag_html: tag.then_some(TAG),
        };
        rewrite_response(body, &mut rw)
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    /// The token and query of a win URL.
    fn win_parts(url: &str) -> (&str, &str) {
        let rest = url
            .strip_prefix(PUBLIC)
            .unwrap()
            .strip_prefix("/win/")
            .unwrap();
        rest.split_once('?').unwrap_or((rest, ""))
    }

    fn corpus(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../testdata/corpus/iab-2.6/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }

    #[test]
    fn nurl_and_burl_become_win_urls() {
        let body = json!({
            "id": "r1", "cur": "USD",
            "seatbid": [{"seat": "s", "bid": [{
                "id": "b1", "impid": "i1", "price": 1.5,
                "nurl": "http://bidder.example/win?price=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}",
                "burl": "http://bidder.example/bill?p=${AUCTION_PRICE:B64}&c=${AUCTION_CURRENCY}",
                "lurl": "http://bidder.example/loss?r=${AUCTION_LOSS}",
                "adm": "<div>ad</div>"
            }]}]
        })
        .to_string();
        let out = run(body.as_bytes(), true, false, true).unwrap();
        assert_eq!((out.sealed, out.too_long, out.tagged), (2, 0, 0));
        let new = parse(&out.body.unwrap());
        let bid = &new["seatbid"][0]["bid"][0];
        let (token, query) = win_parts(bid["nurl"].as_str().unwrap());
        assert_eq!(query, "imp=${AUCTION_IMP_ID}&price=${AUCTION_PRICE}");
        let opened = key().open(token).unwrap();
        assert_eq!(opened.kind, NoticeKind::Win);
        assert_eq!(opened.stream_id, 17);
        assert!(opened.redirect);
        assert_eq!(
            opened.url,
            "http://bidder.example/win?price=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}"
        );
        let (token, query) = win_parts(bid["burl"].as_str().unwrap());
        assert_eq!(
            query,
            "cur=${AUCTION_CURRENCY}&price_b64=${AUCTION_PRICE:B64}"
        );
        assert_eq!(key().open(token).unwrap().kind, NoticeKind::Billing);
        // Everything else is as it was, including lurl.
        let mut expected = parse(body.as_bytes());
        expected["seatbid"][0]["bid"][0]["nurl"] = bid["nurl"].clone();
        expected["seatbid"][0]["bid"][0]["burl"] = bid["burl"].clone();
        assert_eq!(new, expected);
    }

    #[test]
    fn only_the_changed_bytes_change() {
        let body = br#"{ "id" : "r",  "seatbid":[ {"bid" :[{"nurl": "http:\/\/b.example\/w?p=${AUCTION_PRICE}" , "price":1.0e0 }] } ] , "ext":{"a":[1,2]} }"#;
        let out = run(body, true, false, false).unwrap();
        let new = String::from_utf8(out.body.unwrap()).unwrap();
        let start = new.find("\"nurl\": \"").unwrap() + 9;
        let end = start + new[start..].find('"').unwrap();
        let url = &new[start..end];
        let (token, query) = win_parts(url);
        assert_eq!(query, "price=${AUCTION_PRICE}");
        // The escaped original was decoded before sealing.
        assert_eq!(
            key().open(token).unwrap().url,
            "http://b.example/w?p=${AUCTION_PRICE}"
        );
        let original = std::str::from_utf8(body).unwrap();
        let o_start = original.find("\"nurl\": \"").unwrap() + 9;
        let o_end = o_start + original[o_start..].find("\" ,").unwrap();
        assert_eq!(&new[..start], &original[..o_start]);
        assert_eq!(&new[end..], &original[o_end..]);
    }

    #[test]
    fn nothing_to_change_gives_no_body() {
        let no_nurl = json!({"id":"r","seatbid":[{"bid":[{"id":"b","impid":"1","price":1,
            "adm":"<?xml version=\"1.0\"?><VAST version=\"3.0\"></VAST>"}]}]})
        .to_string();
        for (seal, tag) in [(true, true), (true, false), (false, true), (false, false)] {
            assert_eq!(
                run(no_nurl.as_bytes(), seal, tag, false).unwrap(),
                Rewritten::default()
            );
        }
        // keep_nurl and no tag: nothing is even looked at, but the JSON is still checked.
        let with_nurl = br#"{"seatbid":[{"bid":[{"nurl":"http://b/"}]}]}"#;
        assert_eq!(run(with_nurl, false, false, false).unwrap().body, None);
        // Empty or non-string notice URLs and odd shapes are left alone.
        for body in [
            &br#"{"seatbid":[{"bid":[{"nurl":"","burl":null}]}]}"#[..],
            br#"{"seatbid":{"bid":[{"nurl":"http://b/"}]}}"#,
            br#"{"seatbid":[{"bid":{"nurl":"http://b/"}}, 3, "x", []]}"#,
            br#"{"seatbid":[{"bid":["http://b/", {"ext":{"nurl":"http://b/"}}]}]}"#,
            br#"[{"seatbid":[{"bid":[{"nurl":"http://b/"}]}]}]"#,
            br#""text""#,
            b"{}",
        ] {
            assert_eq!(run(body, true, true, false).unwrap(), Rewritten::default());
        }
    }

    #[test]
    fn invalid_json_is_refused() {
        for body in [
            &b""[..],
            b"{",
            b"{\"seatbid\":[{\"bid\":[{\"nurl\":\"http://b/\"}]}]",
            b"{\"seatbid\":[{\"bid\":[{\"nurl\":\"http://b/\",}]}]}",
            b"{} {}",
            b"<html>",
        ] {
            for (seal, tag) in [(true, true), (false, false)] {
                assert!(run(body, seal, tag, false).is_err(), "{body:?}");
            }
        }
    }

    #[test]
    fn duplicate_notice_keys_are_all_sealed() {
        let body = br#"{"seatbid":[{"bid":[{"nurl":"http://a/","nurl":"http://b/"}]}]}"#;
        let out = run(body, true, false, false).unwrap();
        assert_eq!(out.sealed, 2);
        let text = String::from_utf8(out.body.unwrap()).unwrap();
        assert!(!text.contains("http://a/") && !text.contains("http://b/"));
    }

    #[test]
    fn over_long_notice_urls_stay() {
        let url = format!("http://b.example/{}", "x".repeat(MAX_NOTICE_URL));
        let body = json!({"seatbid":[{"bid":[{"nurl": url, "burl": "http://b.example/bill"}]}]})
            .to_string();
        let out = run(body.as_bytes(), true, false, false).unwrap();
        assert_eq!((out.sealed, out.too_long), (1, 1));
        let new = parse(&out.body.unwrap());
        assert_eq!(new["seatbid"][0]["bid"][0]["nurl"], url.as_str());
    }

    #[test]
    fn tag_goes_into_html_only() {
        let html = json!({"id":"r","seatbid":[{"bid":[
            {"adm":"<div class=\"x\">ad</div>","id":"b<1>\"&'","impid":"i-1"},
            {"id":"b2","impid":"i2","adm":"  \n<!DOCTYPE html><html></html>"},
            {"id":"b3","adm":"<script src=\"x.js\"></script>","mtype":1},
            {"id":"b4","adm":"<div>video?</div>","mtype":2},
            {"id":"b5","adm":"<VAST version=\"4.0\"></VAST>"},
            {"id":"b6","adm":"<?xml version=\"1.0\"?><VAST/>"},
            {"id":"b7","adm":"{\"native\":{\"ver\":\"1.2\"}}"},
            {"id":"b8","adm":"https://ads.example/creative.html"},
            {"id":"b9","adm":""},
            {"id":"b10","adm":"\u{feff}<daast version=\"1.0\"></daast>"},
            {"id":"b11","adm":"<vastly-custom-element/>"}
        ]}]})
        .to_string();
        let out = run(html.as_bytes(), false, true, false).unwrap();
        assert_eq!(out.tagged, 4);
        let new = parse(&out.body.unwrap());
        let old = parse(html.as_bytes());
        let tag = |b: &str, i: &str| {
            format!(r#"<img src="https://t.example/i.gif?s=17&b={b}&i={i}&x={{nope}}">"#)
        };
        for (n, b, i) in [
            (0, "b&lt;1&gt;&quot;&amp;&#39;", "i-1"),
            (1, "b2", "i2"),
            (2, "b3", ""),
            (10, "b11", ""),
        ] {
            let want = format!(
                "{}{}",
                old["seatbid"][0]["bid"][n]["adm"].as_str().unwrap(),
                tag(b, i)
            );
            assert_eq!(new["seatbid"][0]["bid"][n]["adm"], want.as_str(), "bid {n}");
        }
        for n in 3..10 {
            assert_eq!(
                new["seatbid"][0]["bid"][n], old["seatbid"][0]["bid"][n],
                "bid {n}"
            );
        }
    }

    #[test]
    fn escaped_markup_is_recognised() {
        // Go's encoding/json writes < > & as \u003c \u003e \u0026.
        assert!(is_html(br"\u003cdiv\u003ead\u003c/div\u003e"));
        assert!(is_html(br"\n\t \u003C!-- c --\u003e"));
        assert!(!is_html(br"\u003cVAST version=\u00224.0\u0022\u003e"));
        assert!(!is_html(br"\u003c?xml version"));
        assert!(!is_html(br"\ufeff\u007b"));
        assert!(!is_html(br"\u00e9<div>"));
        assert!(!is_html(br"\u12"));
        assert!(!is_html(b"<"));
        assert!(!is_html(b"< div>"));
        assert!(is_html(b"</p>"));
    }

    #[test]
    fn tag_and_seal_together_on_the_iab_examples() {
        // 6.3.1: a nurl and no adm.
        let body = corpus("06-response-6-3-1-example-1-ad-served-on-win-notice.json");
        let out = run(&body, true, true, false).unwrap();
        assert_eq!((out.sealed, out.tagged), (1, 0));
        let new = parse(&out.body.unwrap());
        let (token, query) = win_parts(new["seatbid"][0]["bid"][0]["nurl"].as_str().unwrap());
        assert_eq!(query, "");
        assert_eq!(
            key().open(token).unwrap().url,
            "http://adserver.com/winnotice?impid=102"
        );
        // 6.3.2 (VAST) and 6.3.4 (native): sealed, never tagged.
        for name in [
            "07-response-6-3-2-example-2-vast-xml-document-returned-inline.json",
            "08-response-6-3-4-example-4-native-markup-returned-inline.json",
        ] {
            let body = corpus(name);
            let out = run(&body, true, true, false).unwrap();
            assert_eq!((out.sealed, out.tagged), (1, 0), "{name}");
            let new = parse(&out.body.unwrap());
            let old = parse(&body);
            assert_eq!(
                new["seatbid"][0]["bid"][0]["adm"],
                old["seatbid"][0]["bid"][0]["adm"]
            );
            // Tagging alone changes nothing.
            assert_eq!(run(&body, false, true, false).unwrap().body, None, "{name}");
        }
    }

    #[test]
    fn win_url_is_what_the_rewrite_writes() {
        let notice = Notice {
            kind: NoticeKind::Win,
            redirect: false,
            stream_id: 17,
            url: "http://b.example/w?p=${AUCTION_PRICE}",
        };
        // The test's nonce source starts at [1; 12].
        let url = win_url(PUBLIC, &key(), &notice, [1; 12]).unwrap();
        let body = json!({"seatbid":[{"bid":[{"nurl": notice.url}]}]}).to_string();
        let out = run(body.as_bytes(), true, false, false).unwrap();
        assert_eq!(
            parse(&out.body.unwrap())["seatbid"][0]["bid"][0]["nurl"],
            url.as_str()
        );
        let long = "x".repeat(MAX_NOTICE_URL + 1);
        let notice = Notice {
            url: &long,
            ..notice
        };
        assert!(win_url(PUBLIC, &key(), &notice, [1; 12]).is_err());
    }

    #[test]
    fn tag_rendering() {
        let mut out = String::new();
        render_tag("{a}{stream_id}\"\\\n{bid_id}{", 1, "x\u{1}\\", "", &mut out);
        assert_eq!(out, "{a}1\\\"\\\\\\nx\\u0001\\\\{");
    }

    fn reference_tag(bid_id: &str, imp_id: &str) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;")
        };
        TAG.replace("{stream_id}", "17")
            .replace("{bid_id}", &esc(bid_id))
            .replace("{imp_id}", &esc(imp_id))
    }

    fn any_adm() -> impl Strategy<Value = String> {
        prop_oneof![
            "<div>[^\u{0}]{0,20}</div>",
            "<\\?xml [a-z]{0,5}",
            "<VAST>[a-z]{0,5}",
            "\\{\"native\":[0-9]{0,3}\\}",
            "[^<]{0,10}",
            "\\PC{0,20}",
        ]
    }

    proptest! {
        /// Sealing then opening gives back every original notice URL; the tag lands exactly on
        /// the HTML adm values; everything else is untouched.
        #[test]
        fn rewrite_agrees_with_a_tree_reference(
            bids in proptest::collection::vec(
                ("\\PC{0,12}", "\\PC{0,6}", proptest::option::of("\\PC{0,40}"),
                 proptest::option::of(any_adm()), proptest::option::of(1u64..5)),
                0..4),
            seal in any::<bool>(), tag in any::<bool>(),
        ) {
            let bids_json: Vec<Value> = bids.iter().map(|(id, imp, nurl, adm, mtype)| {
                let mut b = json!({"id": id, "impid": imp, "price": 1.25});
                if let Some(n) = nurl { b["nurl"] = json!(n); }
                if let Some(a) = adm { b["adm"] = json!(a); }
                if let Some(t) = mtype { b["mtype"] = json!(t); }
                b
            }).collect();
            let doc = json!({"id": "r", "seatbid": [{"seat": "x", "bid": bids_json}], "cur": "EUR"});
            let body = doc.to_string();
            let out = run(body.as_bytes(), seal, tag, false).unwrap();
            let new = out.body.as_deref().map_or_else(|| doc.clone(), parse);
            let mut expected = doc.clone();
            for (k, (id, imp, nurl, adm, mtype)) in bids.iter().enumerate() {
                let got = &new["seatbid"][0]["bid"][k];
                if let Some(n) = nurl.as_ref().filter(|n| seal && !n.is_empty()) {
                    let (token, _) = win_parts(got["nurl"].as_str().unwrap());
                    prop_assert_eq!(&key().open(token).unwrap().url, n);
                    expected["seatbid"][0]["bid"][k]["nurl"] = got["nurl"].clone();
                }
                if let Some(a) = adm {
                    let trimmed = a.trim_start_matches([' ', '\t', '\n', '\r', '\u{feff}']).to_ascii_lowercase();
                    let html = trimmed.starts_with('<')
                        && !trimmed.starts_with("<?xml")
                        && !trimmed.starts_with("<vast>")
                        && trimmed[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '!' || c == '/')
                        && mtype.is_none_or(|t| t == 1);
                    if tag && html {
                        expected["seatbid"][0]["bid"][k]["adm"] = json!(format!("{a}{}", reference_tag(id, imp)));
                    }
                }
            }
            prop_assert_eq!(new, expected);
            prop_assert_eq!(out.body.is_none(), out.sealed == 0 && out.tagged == 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = run(&bytes, true, true, true);
        }
    }
}
