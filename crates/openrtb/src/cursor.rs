//! A validating JSON cursor over borrowed bytes: the lexer and skipper under [`crate::extract`].
//!
//! It accepts exactly the documents `serde_json` accepts (RFC 8259 grammar, strict: no comments,
//! no trailing commas, no leading zeros, paired `\u` surrogates, UTF-8 strings without raw control
//! characters, numbers that fit a finite `f64`, at most [`MAX_DEPTH`] open brackets). Strings and
//! numbers come back as offsets into the input; only the caller decides to decode one. Unknown
//! values are skipped by an iterative loop whose bracket stack is one `u128`, so input depth never
//! reaches the call stack.
//!
//! For speed every internal result is register-sized: a failure is the empty [`Fail`], with the
//! [`ParseError`] it stands for kept in the cursor (read it with [`Cursor::error`]), and tokens
//! are `u32` offsets (bodies are limited to `u32::MAX` bytes by the caller).

use std::borrow::Cow;

use wide::{CmpEq, CmpLt, i8x16};

use crate::error::{MAX_DEPTH, ParseError, SyntaxError};

/// A failure whose [`ParseError`] is stored in the [`Cursor`].
#[derive(Debug)]
pub(crate) struct Fail;

pub(crate) type Result<T> = std::result::Result<T, Fail>;

/// Results of the cold helpers, which carry their error themselves.
type Checked<T> = std::result::Result<T, ParseError>;

/// Position in the body, plus how many arrays and objects are open around it.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
    /// What went wrong, once a method returned [`Fail`].
    error: ParseError,
}

/// Where a token lies in the body, packed in one `u64` so that it travels in a register (and is
/// stored and reloaded whole): start offset in bits 0..32, end offset in bits 32..63, and a flag
/// in bit 63. Offsets fit because bodies are limited to [`MAX_BODY`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span(u64);

/// The largest body the cursor handles (2 GiB - 1; the proxy's limits are far lower).
pub(crate) const MAX_BODY: usize = (1 << 31) - 1;

const FLAG: u64 = 1 << 63;

impl Span {
    #[inline(always)]
    fn new(start: usize, end: usize, flag: bool) -> Self {
        // Offsets are at most the body length, so below 2^31; the masks only guard the packing.
        let start = (start as u64) & 0xFFFF_FFFF;
        let end = ((end as u64) & 0x7FFF_FFFF) << 32;
        Self(start | end | if flag { FLAG } else { 0 })
    }

    #[inline(always)]
    fn start(self) -> usize {
        (self.0 & 0xFFFF_FFFF) as usize
    }

    #[inline(always)]
    fn end(self) -> usize {
        ((self.0 >> 32) & 0x7FFF_FFFF) as usize
    }

    #[inline(always)]
    fn flag(self) -> bool {
        self.0 & FLAG != 0
    }

    fn slice(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start()..self.end()).unwrap_or_default()
    }
}

/// A string token: where its bytes (between the quotes, escapes not decoded) lie in the body,
/// flagged when they hold a `\` escape. Already validated: decoding cannot fail.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr(Span);

/// A number token, validated against the JSON grammar and the `f64` range; flagged when it has
/// no sign, fraction or exponent (`serde_json` would hold it as an unsigned integer).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Number(Span);

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is `"`, `\`, below 0x20, or (when `ascii`) at or
/// above 0x80. Bits above the lowest true hit may be false positives (borrows), the lowest never
/// is, which is all the scanner reads.
#[inline(always)]
fn special_mask(v: u64, ascii: bool) -> u64 {
    let quote = v ^ (LO * u64::from(b'"'));
    let backslash = v ^ (LO * u64::from(b'\\'));
    let hits = (quote.wrapping_sub(LO) & !quote)
        | (backslash.wrapping_sub(LO) & !backslash)
        | (v.wrapping_sub(LO * 0x20) & !v);
    if ascii { (hits | v) & HI } else { hits & HI }
}

/// Bit `i` set for each byte `i` of `chunk` that a plain string cannot hold: `"`, `\\`, below
/// 0x20 or at or above 0x80. Three SIMD compares (SSE2 on x86_64, through `wide`): bytes at or
/// above 0x80 are negative as `i8`, so one signed "less than 0x20" covers them and the controls.
#[inline(always)]
fn plain_mask(chunk: &[u8; 16]) -> u32 {
    let v = i8x16::new(chunk.map(|b| b as i8));
    let hits = v.cmp_eq(i8x16::splat(b'"' as i8))
        | v.cmp_eq(i8x16::splat(b'\\' as i8))
        | v.cmp_lt(i8x16::splat(0x20));
    hits.move_mask() as u32
}

#[inline(always)]
fn is_special(b: u8, ascii: bool) -> bool {
    b == b'"' || b == b'\\' || b < 0x20 || (ascii && b >= 0x80)
}

/// Index of the first special byte (see [`special_mask`]) at or after `from`, or `buf.len()`.
#[inline(always)]
fn find_special(buf: &[u8], from: usize, ascii: bool) -> usize {
    let mut i = from;
    while let Some(word) = buf.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let mask = special_mask(u64::from_le_bytes(*word), ascii);
        if mask != 0 {
            return i + (mask.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = buf.get(i) {
        if is_special(b, ascii) {
            return i;
        }
        i += 1;
    }
    i
}

fn hex_digit(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

fn syntax(kind: SyntaxError, at: usize) -> ParseError {
    ParseError::Syntax { kind, at }
}

/// The four hex digits at `buf[at..at + 4]`.
fn hex4(buf: &[u8], at: usize) -> Checked<u16> {
    let mut n = 0u16;
    for k in 0..4 {
        let i = at + k;
        let b = *buf.get(i).ok_or(syntax(SyntaxError::UnexpectedEnd, i))?;
        n = (n << 4) | hex_digit(b).ok_or(syntax(SyntaxError::InvalidEscape, i))?;
    }
    Ok(n)
}

fn is_digit(b: Option<&u8>) -> bool {
    matches!(b, Some(b'0'..=b'9'))
}

impl RawStr {
    /// True for `""` (a string with an escape is never empty).
    pub(crate) fn is_empty(self) -> bool {
        self.0.start() == self.0.end()
    }

    fn escaped(self) -> bool {
        self.0.flag()
    }

    /// True when the string held a `\\` escape (its bytes are then not its text).
    pub(crate) fn is_escaped(self) -> bool {
        self.escaped()
    }

    /// The bytes between the quotes, escapes not decoded.
    pub(crate) fn bytes(self, buf: &[u8]) -> &[u8] {
        self.0.slice(buf)
    }

    /// True when the decoded text equals `text`; decodes only if the string held escapes.
    pub(crate) fn equals(self, buf: &[u8], text: &str) -> bool {
        if self.escaped() {
            decode(self.bytes(buf)).is_some_and(|s| s == text)
        } else {
            self.bytes(buf) == text.as_bytes()
        }
    }

    /// The string's text, borrowed from `buf` unless it held escapes.
    pub(crate) fn to_cow(self, buf: &[u8]) -> Checked<Cow<'_, str>> {
        let raw = self.bytes(buf);
        let at = self.0.start();
        if self.escaped() {
            decode(raw)
                .map(Cow::Owned)
                .ok_or(syntax(SyntaxError::InvalidEscape, at))
        } else {
            std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|_| syntax(SyntaxError::InvalidUtf8, at))
        }
    }
}

/// Decodes the escapes of an already validated string body; `None` only if it was not valid.
fn decode(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(k) = memchr::memchr(b'\\', rest) {
        out.push_str(std::str::from_utf8(rest.get(..k)?).ok()?);
        let esc = *rest.get(k + 1)?;
        rest = rest.get(k + 2..)?;
        let c = match esc {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(rest, 0).ok()?;
                rest = rest.get(4..)?;
                if (0xD800..=0xDBFF).contains(&hi) {
                    // Validation guaranteed a `\uDC00`..`\uDFFF` follows.
                    let lo = hex4(rest, 2).ok()?;
                    rest = rest.get(6..)?;
                    let cp = 0x1_0000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                    char::from_u32(cp)?
                } else {
                    char::from_u32(u32::from(hi))?
                }
            }
            _ => return None,
        };
        out.push(c);
    }
    out.push_str(std::str::from_utf8(rest).ok()?);
    Some(out)
}

impl Number {
    fn text(self, buf: &[u8]) -> &[u8] {
        self.0.slice(buf)
    }

    /// The value when it is a non-negative integer that fits `u64` (`serde_json`'s `as_u64`).
    pub(crate) fn as_u64(self, buf: &[u8]) -> Option<u64> {
        if !self.0.flag() {
            return None;
        }
        self.text(buf).iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?
                .checked_add(u64::from(d.wrapping_sub(b'0')))
        })
    }

    /// The value as a (finite, by validation) `f64`.
    pub(crate) fn as_f64(self, buf: &[u8]) -> Option<f64> {
        let text = self.text(buf);
        exact_short_f64(text).or_else(|| parse_f64(text))
    }
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a validated number token without exponent whose digits, read as an integer,
/// are at most 2^53 and whose fraction has at most 22 digits: then the digits and the power of
/// ten are exact in an `f64` and one division rounds correctly, giving what a full parse gives.
/// `None` for any other number.
#[inline]
fn exact_short_f64(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa = 0u64;
    let mut count = 0u32;
    let mut fraction = None;
    for &b in digits {
        match b {
            b'0'..=b'9' if count < 19 => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                fraction = fraction.map(|n: usize| n + 1);
            }
            b'.' => fraction = Some(0),
            _ => return None,
        }
    }
    if mantissa > 1 << 53 {
        return None;
    }
    let value = mantissa as f64 / POW10.get(fraction.unwrap_or(0))?;
    Some(if negative { -value } else { value })
}

fn parse_f64(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

/// Validates the escape whose letter is at `buf[i]`; returns the index after it.
fn escape(buf: &[u8], i: usize) -> Checked<usize> {
    match buf.get(i) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
        Some(b'u') => {
            let n = hex4(buf, i + 1)?;
            if (0xDC00..=0xDFFF).contains(&n) {
                return Err(syntax(SyntaxError::LoneSurrogate, i));
            }
            if !(0xD800..=0xDBFF).contains(&n) {
                return Ok(i + 5);
            }
            let j = i + 5;
            match (buf.get(j), buf.get(j + 1)) {
                (Some(b'\\'), Some(b'u')) => {}
                (None, _) | (Some(b'\\'), None) => {
                    return Err(syntax(SyntaxError::UnexpectedEnd, j));
                }
                _ => return Err(syntax(SyntaxError::LoneSurrogate, j)),
            }
            let low = hex4(buf, j + 2)?;
            if (0xDC00..=0xDFFF).contains(&low) {
                Ok(j + 6)
            } else {
                Err(syntax(SyntaxError::LoneSurrogate, j))
            }
        }
        Some(_) => Err(syntax(SyntaxError::InvalidEscape, i)),
        None => Err(syntax(SyntaxError::UnexpectedEnd, i)),
    }
}

/// One or more digits from `i`; the index after them.
fn digits(buf: &[u8], mut i: usize) -> Checked<usize> {
    match buf.get(i) {
        Some(b'0'..=b'9') => {}
        Some(_) => return Err(syntax(SyntaxError::InvalidNumber, i)),
        None => return Err(syntax(SyntaxError::UnexpectedEnd, i)),
    }
    while is_digit(buf.get(i)) {
        i += 1;
    }
    Ok(i)
}

/// Scans the string body from `start` (just after the opening quote) in full generality;
/// returns the index of the closing quote and whether the body held escapes.
fn scan_string(buf: &[u8], start: usize) -> Checked<(usize, bool)> {
    let mut i = start;
    let mut escaped = false;
    let mut ascii = true;
    loop {
        i = find_special(buf, i, ascii);
        match buf.get(i) {
            Some(b'"') => break,
            Some(b'\\') => {
                escaped = true;
                i = escape(buf, i + 1)?;
            }
            Some(&b) if b < 0x20 => return Err(syntax(SyntaxError::ControlCharacter, i)),
            Some(_) => {
                ascii = false;
                i += 1;
            }
            None => return Err(syntax(SyntaxError::UnexpectedEnd, i)),
        }
    }
    if !ascii && let Err(e) = std::str::from_utf8(buf.get(start..i).unwrap_or_default()) {
        return Err(syntax(SyntaxError::InvalidUtf8, start + e.valid_up_to()));
    }
    Ok((i, escaped))
}

/// Scans a number from `start` in full generality; returns its end and whether it is an
/// unsigned integer.
fn scan_number(buf: &[u8], start: usize) -> Checked<(usize, bool)> {
    let mut i = start;
    let negative = buf.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    let int_start = i;
    match buf.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            i += 1;
            while is_digit(buf.get(i)) {
                i += 1;
            }
        }
        Some(_) => return Err(syntax(SyntaxError::InvalidNumber, i)),
        None => return Err(syntax(SyntaxError::UnexpectedEnd, i)),
    }
    let int_digits = i - int_start;
    let mut unsigned_int = !negative;
    if buf.get(i) == Some(&b'.') {
        unsigned_int = false;
        i = digits(buf, i + 1)?;
    }
    let mut exp_digits = 0;
    if let Some(b'e' | b'E') = buf.get(i) {
        unsigned_int = false;
        i += 1;
        if let Some(b'+' | b'-') = buf.get(i) {
            i += 1;
        }
        let exp_start = i;
        i = digits(buf, i)?;
        exp_digits = i - exp_start;
    }
    // Only a number with 200+ integer digits or a 3+ digit exponent can exceed f64::MAX
    // (~1.8e308); check those few exactly, as serde_json refuses them.
    if (exp_digits >= 3 || int_digits >= 200)
        && parse_f64(buf.get(start..i).unwrap_or_default()).is_none()
    {
        return Err(syntax(SyntaxError::NumberOutOfRange, start));
    }
    Ok((i, unsigned_int))
}

/// The index after the whitespace at and after `pos`.
#[inline(always)]
fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = buf.get(pos) {
        pos += 1;
    }
    pos
}

/// The index of the closing quote of the string whose body starts at `start`, when the string is
/// plain (printable ASCII without escapes) and not within 16 bytes of the end of `buf`; `None`
/// sends the caller to the general scanner. One 16-byte test when the string ends within 16
/// bytes (keys and most short values), else [`plain_string_end_long`].
#[inline(always)]
fn plain_string_end(buf: &[u8], start: usize) -> Option<usize> {
    let chunk = buf.get(start..)?.first_chunk::<16>()?;
    match plain_mask(chunk) {
        0 => plain_string_end_long(buf, start),
        mask => quote_at(chunk, mask).map(|k| start + k),
    }
}

/// The offset of the first byte flagged in `mask` (not zero) when that byte of `bytes` is the
/// closing quote; `None` when it is a byte a plain string cannot hold.
#[inline(always)]
fn quote_at(bytes: &[u8], mask: u32) -> Option<usize> {
    let k = mask.trailing_zeros() as usize;
    (bytes.get(k) == Some(&b'"')).then_some(k)
}

/// [`plain_string_end`] with the string's bytes (for keys), sliced from the tested chunk.
#[inline(always)]
fn plain_string(buf: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let chunk = buf.get(start..)?.first_chunk::<16>()?;
    match plain_mask(chunk) {
        0 => {
            let end = plain_string_end_long(buf, start)?;
            Some((buf.get(start..end)?, end))
        }
        mask => {
            let k = quote_at(chunk, mask)?;
            Some((chunk.get(..k)?, start + k))
        }
    }
}

/// [`plain_string_end`] for a string whose first 16 bytes are plain: 32 bytes at a time.
#[inline(never)]
fn plain_string_end_long(buf: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 16;
    while let Some(pair) = buf.get(i..).and_then(<[u8]>::first_chunk::<32>) {
        let (a, b) = pair.split_first_chunk::<16>()?;
        let mask = plain_mask(a) | plain_mask(b.first_chunk::<16>()?) << 16;
        if mask != 0 {
            return quote_at(pair, mask).map(|k| i + k);
        }
        i += 32;
    }
    if let Some(chunk) = buf.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        let mask = plain_mask(chunk);
        if mask != 0 {
            return quote_at(chunk, mask).map(|k| i + k);
        }
    }
    None
}

/// The end of the number at `start` when it is a short unsigned integer not followed by a
/// fraction, exponent or (for `0`) another digit; `None` sends the caller to the general scanner.
#[inline(always)]
fn int_end(buf: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    match buf.get(i) {
        Some(b'1'..=b'9') => {
            i += 1;
            while let Some(b'0'..=b'9') = buf.get(i) {
                i += 1;
            }
        }
        Some(b'0') => i += 1,
        _ => return None,
    }
    match buf.get(i) {
        Some(b'.' | b'e' | b'E' | b'0'..=b'9') => None,
        _ if i - start >= 200 => None,
        _ => Some(i),
    }
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf` (at most [`MAX_BODY`] bytes).
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            depth: 0,
            error: syntax(SyntaxError::UnexpectedEnd, 0),
        }
    }

    /// The body the cursor walks.
    pub(crate) fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The error behind the last [`Fail`].
    pub(crate) fn error(&self) -> ParseError {
        self.error
    }

    #[cold]
    #[inline(never)]
    fn fail_with(&mut self, error: ParseError) -> Fail {
        self.error = error;
        Fail
    }

    #[cold]
    #[inline(never)]
    fn fail_at(&mut self, kind: SyntaxError, at: usize) -> Fail {
        self.pos = at;
        self.fail_with(syntax(kind, at))
    }

    #[cold]
    #[inline(never)]
    fn fail(&mut self, kind: SyntaxError) -> Fail {
        self.fail_with(syntax(kind, self.pos))
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> Result<u8> {
        // Compact JSON has no whitespace between tokens: one comparison decides.
        if let Some(&b) = self.buf.get(self.pos)
            && b > b' '
        {
            return Ok(b);
        }
        self.skip_ws();
        match self.buf.get(self.pos) {
            Some(&b) => Ok(b),
            None => Err(self.fail(SyntaxError::UnexpectedEnd)),
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.skip_ws();
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.fail(SyntaxError::TrailingCharacters))
        }
    }

    #[inline(always)]
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail_with(ParseError::TooDeep));
        }
        Ok(())
    }

    /// Reads the string starting at the current byte (which must be `"`).
    ///
    /// The common string (printable ASCII, no escapes, not within 16 bytes of the end of the
    /// body) takes the fast path of [`plain_string_end`]; anything else goes to the general loop.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Result<RawStr> {
        let start = self.pos + 1;
        match plain_string_end(self.buf, start) {
            Some(end) => {
                self.pos = end + 1;
                Ok(RawStr(Span::new(start, end, false)))
            }
            None => self.string_general(start),
        }
    }

    /// [`Self::string`] for strings with escapes, non-ASCII or control bytes, or near the end.
    #[inline(never)]
    fn string_general(&mut self, start: usize) -> Result<RawStr> {
        match scan_string(self.buf, start) {
            Ok((end, escaped)) => {
                self.pos = end + 1;
                Ok(RawStr(Span::new(start, end, escaped)))
            }
            Err(e) => Err(self.fail_with(e)),
        }
    }

    /// Reads the number starting at the current byte (`-` or a digit).
    ///
    /// A short unsigned integer (the common case: sizes, enums, flags) is scanned inline; any
    /// other number goes to the general scanner.
    #[inline(always)]
    pub(crate) fn number(&mut self) -> Result<Number> {
        let start = self.pos;
        match int_end(self.buf, start) {
            Some(end) => {
                self.pos = end;
                Ok(Number(Span::new(start, end, true)))
            }
            None => self.number_general(start),
        }
    }

    #[inline(never)]
    fn number_general(&mut self, start: usize) -> Result<Number> {
        match scan_number(self.buf, start) {
            Ok((end, unsigned_int)) => {
                self.pos = end;
                Ok(Number(Span::new(start, end, unsigned_int)))
            }
            Err(e) => Err(self.fail_with(e)),
        }
    }

    #[inline(never)]
    fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        let end = self.pos + word.len();
        match self.buf.get(self.pos..end) {
            Some(got) if got == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(self.fail(SyntaxError::InvalidLiteral)),
            None => {
                let rest = self.buf.get(self.pos..).unwrap_or_default();
                if word.starts_with(rest) {
                    self.pos = self.buf.len();
                    Err(self.fail(SyntaxError::UnexpectedEnd))
                } else {
                    Err(self.fail(SyntaxError::InvalidLiteral))
                }
            }
        }
    }

    /// The error for an unexpected byte where a key or value should start: a trailing comma
    /// when the byte is a closing bracket right after `,`, else `otherwise`.
    #[cold]
    #[inline(never)]
    fn misplaced(&mut self, otherwise: SyntaxError) -> Fail {
        let closing = matches!(self.buf.get(self.pos), Some(b'}' | b']'));
        let before = self.buf.get(..self.pos).unwrap_or_default();
        let after_comma = before
            .iter()
            .rev()
            .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
            == Some(&b',');
        self.fail(if closing && after_comma {
            SyntaxError::TrailingComma
        } else {
            otherwise
        })
    }

    /// Skips (and validates) one value of any kind.
    #[inline(always)]
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => self.skip_nested(),
        }
    }

    /// [`Self::skip_value`] for literals, arrays and objects (any depth, without recursion).
    ///
    /// The position and depth live in locals for the whole walk (stored back on the way out),
    /// and plain strings and short integers are scanned inline; anything unusual goes through
    /// the general scanners.
    #[inline(never)]
    fn skip_nested(&mut self) -> Result<()> {
        let buf = self.buf;
        let mut pos = self.pos;
        // Bit `k` of `objects` is set when the container opened at level `k + 1` is an object;
        // `in_object` caches the bit of the innermost one. The depth check refuses more than
        // MAX_DEPTH (127) open brackets, so `level` stays below 128.
        let mut objects: u128 = 0;
        let mut level: u32 = 0;
        let mut in_object = false;
        // The next byte that is not whitespace, or a failure at the end of the body.
        macro_rules! next {
            () => {
                match buf.get(pos) {
                    Some(&b) if b > b' ' => b,
                    _ => {
                        pos = skip_ws(buf, pos);
                        match buf.get(pos) {
                            Some(&b) => b,
                            None => return Err(self.fail_at(SyntaxError::UnexpectedEnd, pos)),
                        }
                    }
                }
            };
        }
        macro_rules! string {
            () => {{
                pos = match plain_string_end(buf, pos + 1) {
                    Some(end) => end + 1,
                    None => {
                        self.pos = pos;
                        self.string_general(pos + 1)?;
                        self.pos
                    }
                }
            }};
        }
        // A key (the current byte being where it should start) and its colon.
        macro_rules! key_colon {
            () => {{
                if next!() != b'"' {
                    self.pos = pos;
                    return Err(self.misplaced(SyntaxError::ExpectedKey));
                }
                string!();
                if next!() != b':' {
                    return Err(self.fail_at(SyntaxError::ExpectedColon, pos));
                }
                pos += 1;
            }};
        }
        macro_rules! open {
            ($object:expr) => {{
                pos += 1;
                if self.depth + level >= MAX_DEPTH {
                    self.pos = pos;
                    return Err(self.fail_with(ParseError::TooDeep));
                }
                if $object {
                    objects |= 1u128 << level;
                } else {
                    objects &= !(1u128 << level);
                }
                level += 1;
                in_object = $object;
            }};
        }
        macro_rules! close {
            () => {{
                pos += 1;
                level -= 1;
                in_object = level > 0 && objects & (1u128 << (level - 1)) != 0;
            }};
        }
        loop {
            // A value is expected here.
            match next!() {
                b'"' => string!(),
                b'0'..=b'9' | b'-' => {
                    pos = match int_end(buf, pos) {
                        Some(end) => end,
                        None => {
                            self.pos = pos;
                            self.number_general(pos)?;
                            self.pos
                        }
                    }
                }
                b'{' => {
                    open!(true);
                    if next!() == b'}' {
                        close!();
                    } else {
                        key_colon!();
                        continue;
                    }
                }
                b'[' => {
                    open!(false);
                    if next!() == b']' {
                        close!();
                    } else {
                        continue;
                    }
                }
                b't' if buf.get(pos..pos + 4) == Some(b"true") => pos += 4,
                b'f' if buf.get(pos..pos + 5) == Some(b"false") => pos += 5,
                b'n' if buf.get(pos..pos + 4) == Some(b"null") => pos += 4,
                b't' | b'f' | b'n' => {
                    self.pos = pos;
                    let word: &'static [u8] = match buf.get(pos) {
                        Some(b't') => b"true",
                        Some(b'f') => b"false",
                        _ => b"null",
                    };
                    return self.literal(word);
                }
                _ => {
                    self.pos = pos;
                    return Err(self.misplaced(SyntaxError::UnexpectedCharacter));
                }
            }
            // A value just ended: close brackets until one expects another value.
            loop {
                if level == 0 {
                    self.pos = pos;
                    return Ok(());
                }
                match (next!(), in_object) {
                    (b',', true) => {
                        pos += 1;
                        key_colon!();
                        break;
                    }
                    (b',', false) => {
                        pos += 1;
                        break;
                    }
                    (b'}', true) | (b']', false) => close!(),
                    _ => return Err(self.fail_at(SyntaxError::ExpectedCommaOrEnd, pos)),
                }
            }
        }
    }

    /// Walks the object at the current byte (which must be `{`), calling `on_member` with each
    /// key's decoded bytes; `on_member` must consume exactly that member's value. Duplicate keys
    /// are all passed on, in order, so a caller that overwrites keeps the last (as `serde_json`).
    #[inline(always)]
    pub(crate) fn object<F>(&mut self, mut on_member: F) -> Result<()>
    where
        F: FnMut(&mut Self, &[u8]) -> Result<()>,
    {
        self.pos += 1;
        self.enter()?;
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            // A plain key followed straight by its colon (compact JSON) is borrowed without a
            // `Cow`; anything else (whitespace, escapes, errors) takes the general path.
            let general;
            let name = match self.plain_key() {
                Some(name) => name,
                None => {
                    general = self.key_name()?;
                    &*general
                }
            };
            on_member(self, name)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.fail(SyntaxError::ExpectedCommaOrEnd)),
            }
        }
    }

    /// The key at the current byte and its `:` when the key is plain and the colon follows it
    /// at once; `None` (the position untouched) sends the caller to [`Self::key_name`].
    #[inline(always)]
    fn plain_key(&mut self) -> Option<&'a [u8]> {
        let buf = self.buf;
        if buf.get(self.pos) != Some(&b'"') {
            return None;
        }
        let (name, end) = plain_string(buf, self.pos + 1)?;
        if buf.get(end + 1) != Some(&b':') {
            return None;
        }
        self.pos = end + 2;
        Some(name)
    }

    /// A key, decoded, and its `:`, the current byte being where the key should start. A plain
    /// key is borrowed straight from the body.
    #[inline(always)]
    fn key_name(&mut self) -> Result<Cow<'a, [u8]>> {
        let buf = self.buf;
        if self.peek()? != b'"' {
            return Err(self.misplaced(SyntaxError::ExpectedKey));
        }
        let start = self.pos + 1;
        let name = match plain_string(buf, start) {
            Some((name, end)) => {
                self.pos = end + 1;
                Cow::Borrowed(name)
            }
            None => self.key_general(start)?,
        };
        if self.peek()? != b':' {
            return Err(self.fail(SyntaxError::ExpectedColon));
        }
        self.pos += 1;
        Ok(name)
    }

    /// [`Self::key_name`] for a key that is not plain: validated, and decoded if it has escapes.
    #[inline(never)]
    fn key_general(&mut self, start: usize) -> Result<Cow<'a, [u8]>> {
        let raw = self.string_general(start)?;
        let buf = self.buf;
        if raw.escaped() {
            match raw.to_cow(buf) {
                Ok(name) => Ok(Cow::Owned(name.into_owned().into_bytes())),
                Err(e) => Err(self.fail_with(e)),
            }
        } else {
            Ok(Cow::Borrowed(raw.bytes(buf)))
        }
    }

    /// Walks the array at the current byte (which must be `[`), calling `on_element` once per
    /// element; `on_element` must consume exactly that element.
    #[inline(always)]
    pub(crate) fn array<F>(&mut self, mut on_element: F) -> Result<()>
    where
        F: FnMut(&mut Self) -> Result<()>,
    {
        self.pos += 1;
        self.enter()?;
        if self.peek()? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            on_element(self)?;
            match self.peek()? {
                b',' => {
                    // A `]` next is refused by `on_element`'s value dispatch (as a trailing
                    // comma, see `misplaced`).
                    self.pos += 1;
                }
                b']' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.fail(SyntaxError::ExpectedCommaOrEnd)),
            }
        }
    }

    /// The next value if it is a string (not yet decoded); any other value is skipped and gives
    /// `None`.
    #[inline(always)]
    pub(crate) fn string_value(&mut self) -> Result<Option<RawStr>> {
        if self.peek()? == b'"' {
            self.string().map(Some)
        } else {
            self.skip_value().map(|()| None)
        }
    }

    /// The next value if it is a non-negative integer that fits `u64`; any other value is
    /// skipped and gives `None`.
    #[inline]
    pub(crate) fn u64_value(&mut self) -> Result<Option<u64>> {
        match self.peek()? {
            b'0'..=b'9' => {
                // Up to 19 digits cannot overflow: read the value while scanning.
                let buf = self.buf;
                let start = self.pos;
                let mut i = start;
                let mut n = 0u64;
                if buf.get(i) == Some(&b'0') {
                    i += 1;
                } else {
                    while let Some(&d @ b'0'..=b'9') = buf.get(i) {
                        n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                        i += 1;
                    }
                }
                match buf.get(i) {
                    Some(b'.' | b'e' | b'E' | b'0'..=b'9') => {}
                    _ if i - start > 19 => {}
                    _ => {
                        self.pos = i;
                        return Ok(Some(n));
                    }
                }
                let number = self.number()?;
                Ok(number.as_u64(buf))
            }
            b'-' => {
                let number = self.number()?;
                Ok(number.as_u64(self.buf))
            }
            _ => self.skip_nested().map(|()| None),
        }
    }

    /// The next value if it is a number (as a finite `f64`); any other value is skipped and
    /// gives `None`.
    #[inline]
    pub(crate) fn f64_value(&mut self) -> Result<Option<f64>> {
        if let b'-' | b'0'..=b'9' = self.peek()? {
            let number = self.number()?;
            Ok(number.as_f64(self.buf))
        } else {
            self.skip_value().map(|()| None)
        }
    }

    /// Walks the next value with `on_member` if it is an object (returning true); skips any other
    /// value (returning false).
    #[inline(always)]
    pub(crate) fn if_object<F>(&mut self, on_member: F) -> Result<bool>
    where
        F: FnMut(&mut Self, &[u8]) -> Result<()>,
    {
        if self.peek()? == b'{' {
            self.object(on_member).map(|()| true)
        } else {
            self.skip_value().map(|()| false)
        }
    }

    /// Walks the next value with `on_element` if it is an array (returning true); skips any other
    /// value (returning false).
    #[inline(always)]
    pub(crate) fn if_array<F>(&mut self, on_element: F) -> Result<bool>
    where
        F: FnMut(&mut Self) -> Result<()>,
    {
        if self.peek()? == b'[' {
            self.array(on_element).map(|()| true)
        } else {
            self.skip_value().map(|()| false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(s: &[u8]) -> Checked<()> {
        let mut c = Cursor::new(s);
        c.skip_value()
            .and_then(|()| c.finish())
            .map_err(|Fail| c.error())
    }

    fn kind(s: &[u8]) -> SyntaxError {
        match validate(s) {
            Err(ParseError::Syntax { kind, .. }) => kind,
            other => panic!(
                "{:?}: expected a syntax error, got {other:?}",
                String::from_utf8_lossy(s)
            ),
        }
    }

    fn string_of(s: &str) -> Checked<Cow<'_, str>> {
        let mut c = Cursor::new(s.as_bytes());
        let raw = c.string().and_then(|raw| c.finish().map(|()| raw));
        raw.map_err(|Fail| c.error())?.to_cow(s.as_bytes())
    }

    #[test]
    fn special_mask_finds_the_first_special_byte() {
        for pos in 0..8 {
            for special in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xff] {
                let mut word = *b"abcdefgh";
                word[pos] = special;
                let mask = special_mask(u64::from_le_bytes(word), true);
                assert_eq!(
                    mask.trailing_zeros() / 8,
                    pos as u32,
                    "{special:#x} at {pos}"
                );
                let ascii_only = special_mask(u64::from_le_bytes(word), false);
                if special >= 0x80 {
                    assert_eq!(ascii_only, 0);
                } else {
                    assert_eq!(ascii_only.trailing_zeros() / 8, pos as u32);
                }
            }
        }
        assert_eq!(special_mask(u64::from_le_bytes(*b" !#[]~\x7f/"), true), 0);
        // A later hit does not hide an earlier one, nor borrow into it.
        let word = *b"ab\x00\"\\\x80gh";
        assert_eq!(
            special_mask(u64::from_le_bytes(word), true).trailing_zeros() / 8,
            2
        );
    }

    #[test]
    fn plain_mask_flags_exactly_the_bytes_a_plain_string_cannot_hold() {
        for b in 0..=255u8 {
            let special = b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b);
            for pos in 0..16 {
                let mut chunk = *b"abcdefghijklmnop";
                chunk[pos] = b;
                let want = if special { 1 << pos } else { 0 };
                assert_eq!(plain_mask(&chunk), want, "{b:#x} at {pos}");
            }
        }
        assert_eq!(plain_mask(b"\"\\\x00\x1f\x80\xff abcdefghi"), 0b11_1111);
    }

    #[test]
    fn plain_strings_end_at_their_quote_or_go_to_the_general_scanner() {
        // Every length around the 16- and 32-byte steps, with and without room after the quote.
        for len in 0..80 {
            let text = "x".repeat(len);
            for tail in [0, 1, 15, 16, 40] {
                let buf = format!("{text}\"{}", " ".repeat(tail));
                let end = plain_string_end(buf.as_bytes(), 0);
                let keyed = plain_string(buf.as_bytes(), 0);
                if tail >= 16 {
                    // Room for every read: the quote is found.
                    assert_eq!(end, Some(len), "len {len} tail {tail}");
                } else {
                    // Near the end of the body: found, or left to the general scanner.
                    assert!(end.is_none() || end == Some(len), "len {len} tail {tail}");
                }
                assert_eq!(keyed.map(|(k, e)| (k.len(), e)), end.map(|e| (e, e)));
            }
            // A byte a plain string cannot hold before the quote: never plain.
            for bad in [b'\\', 0x01, 0x80] {
                let mut buf = format!("{text}?\"{}", " ".repeat(40)).into_bytes();
                buf[len] = bad;
                assert_eq!(plain_string_end(&buf, 0), None, "len {len} bad {bad:#x}");
            }
        }
        // Long plain strings are found wherever the quote falls.
        let long = format!("{}\"{}", "y".repeat(100), " ".repeat(40));
        assert_eq!(plain_string_end(long.as_bytes(), 0), Some(100));
    }

    #[test]
    fn find_special_crosses_words_and_tails() {
        let text = b"0123456789abcdef0123\"";
        assert_eq!(find_special(text, 0, true), 20);
        assert_eq!(find_special(text, 19, true), 20);
        assert_eq!(find_special(b"abc", 0, true), 3);
        assert_eq!(find_special("héllo\"".as_bytes(), 0, true), 1);
        assert_eq!(find_special("héllo\"".as_bytes(), 0, false), 6);
    }

    /// Every length around the 8-byte word, with each kind of special byte at each position,
    /// through the word-at-a-time fast path and the general loop, against `serde_json`.
    #[test]
    fn string_scanner_agrees_with_serde_json_at_word_boundaries() {
        let specials: [&[u8]; 9] = [
            b"\"",
            b"\\n",
            b"\\u00e9",
            b"\\",
            b"\n",
            b"\x1f",
            "\u{e9}".as_bytes(),
            b"\xff",
            b"\x7f",
        ];
        for len in 0..40 {
            for pos in 0..=len {
                for special in specials {
                    for tail in [&b""[..], b" ", "\"\u{e9}\"".as_bytes(), b"1234567890"] {
                        let mut body = b"\"".to_vec();
                        body.extend(std::iter::repeat_n(b'a', pos));
                        body.extend_from_slice(special);
                        body.extend(std::iter::repeat_n(b'b', len - pos));
                        body.push(b'"');
                        body.extend_from_slice(tail);
                        let mut c = Cursor::new(&body);
                        let ours = c
                            .string()
                            .and_then(|raw| c.finish().map(|()| raw))
                            .map_err(|Fail| c.error())
                            .and_then(|raw| raw.to_cow(&body).map(Cow::into_owned));
                        let theirs = serde_json::from_slice::<String>(&body);
                        match (&ours, &theirs) {
                            (Ok(a), Ok(b)) => assert_eq!(a, b, "{body:?}"),
                            (Err(_), Err(_)) => {}
                            _ => panic!("{body:?}: ours {ours:?}, serde_json {theirs:?}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn plain_strings_borrow() {
        let s = string_of(r#""hello world, a long string with no escapes at all""#).unwrap();
        assert!(matches!(s, Cow::Borrowed(_)));
        assert_eq!(s, "hello world, a long string with no escapes at all");
        assert!(matches!(string_of(r#""""#).unwrap(), Cow::Borrowed("")));
        assert_eq!(string_of("\"ünïcödé ✓ 𝄞\"").unwrap(), "ünïcödé ✓ 𝄞");
    }

    #[test]
    fn escapes_decode() {
        let s = string_of(r#""a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\u20AC\ud834\udd1e""#).unwrap();
        assert!(matches!(s, Cow::Owned(_)));
        assert_eq!(s, "a\"b\\c/d\u{8}e\u{c}f\ng\rh\tiAé€𝄞");
        assert_eq!(string_of(r#""\u0000""#).unwrap(), "\0");
        assert_eq!(string_of(r#""ü\nü""#).unwrap(), "ü\nü");
    }

    #[test]
    fn bad_strings() {
        assert_eq!(kind(br#""\x""#), SyntaxError::InvalidEscape);
        assert_eq!(kind(br#""\u12G4""#), SyntaxError::InvalidEscape);
        assert_eq!(kind(br#""\'""#), SyntaxError::InvalidEscape);
        assert_eq!(kind(br#""\udc00""#), SyntaxError::LoneSurrogate);
        assert_eq!(kind(br#""\ud800""#), SyntaxError::LoneSurrogate);
        assert_eq!(kind(br#""\ud800x""#), SyntaxError::LoneSurrogate);
        assert_eq!(kind(br#""\ud800\n""#), SyntaxError::LoneSurrogate);
        assert_eq!(kind(br#""\ud800\u0041""#), SyntaxError::LoneSurrogate);
        assert_eq!(kind(br#""\ud800\ud800""#), SyntaxError::LoneSurrogate);
        assert_eq!(kind(b"\"a\nb\""), SyntaxError::ControlCharacter);
        assert_eq!(kind(b"\"a\tb\""), SyntaxError::ControlCharacter);
        assert_eq!(
            kind(b"\"long string with a raw \x01 control\""),
            SyntaxError::ControlCharacter
        );
        assert_eq!(kind(b"\"\xff\""), SyntaxError::InvalidUtf8);
        assert_eq!(
            kind(b"\"abcdefghijklmn\xc3\x28\""),
            SyntaxError::InvalidUtf8
        );
        assert_eq!(kind(b"\"\xed\xa0\x80\""), SyntaxError::InvalidUtf8);
        assert_eq!(kind(b"\"abc"), SyntaxError::UnexpectedEnd);
        assert_eq!(kind(b"\"abc\\"), SyntaxError::UnexpectedEnd);
        assert_eq!(kind(b"\"\\u12"), SyntaxError::UnexpectedEnd);
        assert_eq!(kind(b"\"\\ud800"), SyntaxError::UnexpectedEnd);
        assert_eq!(kind(b"\"\\ud800\\"), SyntaxError::UnexpectedEnd);
    }

    #[test]
    fn numbers() {
        for ok in [
            "0",
            "-0",
            "1",
            "-1",
            "10",
            "1.5",
            "-0.0",
            "1e5",
            "1E+5",
            "1e-5",
            "123.456e-7",
            "18446744073709551616",
            "1e308",
            "1.7976931348623157e308",
            "1e-400",
            "0e999",
            "-1e-99999999999999999999",
        ] {
            assert!(validate(ok.as_bytes()).is_ok(), "{ok}");
        }
        for (bad, want) in [
            ("01", SyntaxError::TrailingCharacters),
            ("-", SyntaxError::UnexpectedEnd),
            ("-a", SyntaxError::InvalidNumber),
            ("1.", SyntaxError::UnexpectedEnd),
            ("1.e5", SyntaxError::InvalidNumber),
            ("1e", SyntaxError::UnexpectedEnd),
            ("1e+", SyntaxError::UnexpectedEnd),
            (".5", SyntaxError::UnexpectedCharacter),
            ("+1", SyntaxError::UnexpectedCharacter),
            ("1e400", SyntaxError::NumberOutOfRange),
            ("-1e400", SyntaxError::NumberOutOfRange),
            ("1e99999999999999999999", SyntaxError::NumberOutOfRange),
        ] {
            assert_eq!(kind(bad.as_bytes()), want, "{bad}");
        }
        let huge = format!("1{}", "0".repeat(400));
        assert_eq!(kind(huge.as_bytes()), SyntaxError::NumberOutOfRange);
        let big_but_finite = format!("1{}", "0".repeat(300));
        assert!(validate(big_but_finite.as_bytes()).is_ok());
    }

    #[test]
    fn short_decimals_parse_exactly_as_the_full_parser() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0.87",
            "0.1",
            "0.3",
            "-0.1",
            "51.52",
            "3",
            "9007199254740992",
            "9007199254740993",
            "900719925474099.3",
            "0.1234567890123456789",
            "123456789.123456789",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "1.7976931348623157",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // A deterministic spread of decimals of every length.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = format!("{}", x >> (x % 64));
            let dot = (x >> 8) as usize % (digits.len() + 1);
            let (int, frac) = digits.split_at(dot);
            let int = if int.is_empty() {
                "0"
            } else {
                int.trim_start_matches('0')
            };
            let int = if int.is_empty() { "0" } else { int };
            let sign = if x & 1 == 0 { "" } else { "-" };
            texts.push(if frac.is_empty() {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            });
        }
        for text in &texts {
            let full = parse_f64(text.as_bytes());
            if let Some(fast) = exact_short_f64(text.as_bytes()) {
                assert_eq!(Some(fast.to_bits()), full.map(f64::to_bits), "{text}");
            }
            let mut c = Cursor::new(text.as_bytes());
            let n = c.number().unwrap();
            assert_eq!(
                n.as_f64(text.as_bytes()).map(f64::to_bits),
                full.map(f64::to_bits),
                "{text}"
            );
        }
        assert!(exact_short_f64(b"9007199254740993").is_none());
        assert!(exact_short_f64(b"1e5").is_none());
    }

    #[test]
    fn u64_values_read_while_scanning() {
        for (text, want) in [
            ("0]", Some(0)),
            ("7,", Some(7)),
            ("300}", Some(300)),
            ("1234567890123456789,", Some(1_234_567_890_123_456_789)),
            ("18446744073709551615,", Some(u64::MAX)),
            ("18446744073709551616,", None),
            ("99999999999999999999,", None),
            ("300.0,", None),
            ("3e2,", None),
            ("-1,", None),
            ("-0,", None),
            ("\"3\",", None),
            ("[3],", None),
        ] {
            let mut c = Cursor::new(text.as_bytes());
            assert_eq!(c.u64_value().unwrap(), want, "{text}");
            assert_eq!(c.pos, text.len() - 1, "{text}");
        }
        let mut c = Cursor::new(b"01");
        assert_eq!(c.u64_value().unwrap(), Some(0));
        assert_eq!(c.pos, 1);
    }

    #[test]
    fn number_values() {
        let num = |s: &'static str| {
            let mut c = Cursor::new(s.as_bytes());
            let n = c.number().unwrap();
            (n.as_u64(s.as_bytes()), n.as_f64(s.as_bytes()))
        };
        assert_eq!(num("0").0, Some(0));
        assert_eq!(num("300").0, Some(300));
        assert_eq!(num("18446744073709551615").0, Some(u64::MAX));
        assert_eq!(num("18446744073709551616").0, None);
        assert_eq!(num("-1").0, None);
        assert_eq!(num("-0").0, None);
        assert_eq!(num("300.0").0, None);
        assert_eq!(num("3e2").0, None);
        assert_eq!(num("0.75").1, Some(0.75));
        assert_eq!(num("-2").1, Some(-2.0));
        assert_eq!(num("1e-400").1, Some(0.0));
    }

    #[test]
    fn structure() {
        for ok in [
            "{}",
            "[]",
            " { } ",
            "[1,2,3]",
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            "\t\r\n[ 1 , { \"x\" : [ ] } ]\n",
            "true",
            "null",
            "\"s\"",
        ] {
            assert!(validate(ok.as_bytes()).is_ok(), "{ok}");
        }
        for (bad, want) in [
            ("", SyntaxError::UnexpectedEnd),
            ("   ", SyntaxError::UnexpectedEnd),
            ("[1,]", SyntaxError::TrailingComma),
            (r#"{"a":1,}"#, SyntaxError::TrailingComma),
            ("[1 2]", SyntaxError::ExpectedCommaOrEnd),
            (r#"{"a" 1}"#, SyntaxError::ExpectedColon),
            ("{a:1}", SyntaxError::ExpectedKey),
            ("{1:1}", SyntaxError::ExpectedKey),
            ("[1}", SyntaxError::ExpectedCommaOrEnd),
            (r#"{"a":1]"#, SyntaxError::ExpectedCommaOrEnd),
            ("[", SyntaxError::UnexpectedEnd),
            (r#"{"a":"#, SyntaxError::UnexpectedEnd),
            ("{} {}", SyntaxError::TrailingCharacters),
            ("[] x", SyntaxError::TrailingCharacters),
            ("tru", SyntaxError::UnexpectedEnd),
            ("trux", SyntaxError::InvalidLiteral),
            ("nul", SyntaxError::UnexpectedEnd),
            ("True", SyntaxError::UnexpectedCharacter),
            ("[1,,2]", SyntaxError::UnexpectedCharacter),
            ("// c\n{}", SyntaxError::UnexpectedCharacter),
            ("\u{feff}{}", SyntaxError::UnexpectedCharacter),
            ("\x0b{}", SyntaxError::UnexpectedCharacter),
        ] {
            assert_eq!(kind(bad.as_bytes()), want, "{bad:?}");
        }
    }

    #[test]
    fn depth_limit_matches_serde_json() {
        let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(validate(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(validate(deep.as_bytes()), Err(ParseError::TooDeep));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(128), "}".repeat(128));
        assert_eq!(validate(objects.as_bytes()), Err(ParseError::TooDeep));
        // Far deeper than any stack would take if the skipper recursed.
        let very_deep = "[".repeat(1_000_000);
        assert_eq!(validate(very_deep.as_bytes()), Err(ParseError::TooDeep));
        let objects_ok = format!("{}1{}", r#"{"a":"#.repeat(127), "}".repeat(127));
        assert!(validate(objects_ok.as_bytes()).is_ok());
    }

    #[test]
    fn object_walk_passes_decoded_keys_and_duplicates() {
        let mut c = Cursor::new(br#"{"a":1,"b\u0061":"x","a":2}"#);
        let mut seen = Vec::new();
        c.object(|c, key| {
            seen.push(String::from_utf8(key.to_vec()).unwrap());
            c.skip_value()
        })
        .unwrap();
        c.finish().unwrap();
        assert_eq!(seen, ["a", "ba", "a"]);
    }

    #[test]
    fn span_packs_offsets_and_flag() {
        for (start, end, flag) in [
            (0, 0, false),
            (1, 5, true),
            (MAX_BODY - 1, MAX_BODY, true),
            (7, MAX_BODY, false),
        ] {
            let span = Span::new(start, end, flag);
            assert_eq!((span.start(), span.end(), span.flag()), (start, end, flag));
        }
    }

    #[test]
    fn integer_fast_path_defers_to_the_general_scanner() {
        for (text, u) in [
            ("7,", Some(7)),
            ("70]", Some(70)),
            ("7.5,", None),
            ("7e1,", None),
            ("-7,", None),
        ] {
            let mut c = Cursor::new(text.as_bytes());
            let n = c.number().unwrap();
            assert_eq!(n.as_u64(text.as_bytes()), u, "{text}");
            assert_eq!(c.pos, text.len() - 1, "{text}");
        }
        // "01": the number is "0"; the "1" is then an error for the caller.
        let mut c = Cursor::new(b"01");
        let n = c.number().unwrap();
        assert_eq!((n.0.start(), n.0.end()), (0, 1));
    }
}
