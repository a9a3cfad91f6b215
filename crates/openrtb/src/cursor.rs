//! A validating JSON cursor over borrowed bytes: the lexer and skipper under [`crate::extract`].
//!
//! It accepts exactly the documents `serde_json` accepts (RFC 8259 grammar, strict: no comments,
//! no trailing commas, no leading zeros, paired `\u` surrogates, UTF-8 strings without raw control
//! characters, numbers that fit a finite `f64`, at most [`MAX_DEPTH`] open brackets). Strings come
//! back as slices of the input; only the caller decides to decode one. Unknown values are skipped
//! by an iterative loop whose bracket stack is one `u128`, so input depth never reaches the call
//! stack.

use std::borrow::Cow;

use crate::error::{MAX_DEPTH, ParseError, SyntaxError};

pub(crate) type Result<T> = std::result::Result<T, ParseError>;

/// Position in the body, plus how many arrays and objects are open around it.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u32,
}

/// A string token: the bytes between its quotes, already validated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawStr<'a> {
    /// The bytes between the quotes, escapes not decoded.
    raw: &'a [u8],
    /// True when `raw` holds at least one `\` escape.
    escaped: bool,
    /// Offset of `raw` in the body (for errors).
    at: usize,
}

/// A number token, validated against the JSON grammar and the `f64` range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Number<'a> {
    text: &'a [u8],
    /// No sign, no fraction, no exponent: `serde_json` would hold it as an unsigned integer.
    unsigned_int: bool,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each zero byte of `x`; only the lowest set bit is exact (borrows may set bits
/// above it), which is all the callers read.
#[inline(always)]
fn has_zero_byte(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

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
fn hex4(buf: &[u8], at: usize) -> Result<u16> {
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

impl<'a> RawStr<'a> {
    /// True for `""` (a string with an escape is never empty).
    pub(crate) fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True when the decoded text equals `text`; decodes only if the string held escapes.
    pub(crate) fn equals(&self, text: &str) -> bool {
        if self.escaped {
            decode(self.raw).is_some_and(|s| s == text)
        } else {
            self.raw == text.as_bytes()
        }
    }

    /// The string's text, borrowed unless it held escapes.
    pub(crate) fn to_cow(self) -> Result<Cow<'a, str>> {
        if self.escaped {
            decode(self.raw)
                .map(Cow::Owned)
                .ok_or(syntax(SyntaxError::InvalidEscape, self.at))
        } else {
            std::str::from_utf8(self.raw)
                .map(Cow::Borrowed)
                .map_err(|_| syntax(SyntaxError::InvalidUtf8, self.at))
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

impl Number<'_> {
    /// The value when it is a non-negative integer that fits `u64` (`serde_json`'s `as_u64`).
    pub(crate) fn as_u64(&self) -> Option<u64> {
        if !self.unsigned_int {
            return None;
        }
        self.text.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?
                .checked_add(u64::from(d.wrapping_sub(b'0')))
        })
    }

    /// The value as a (finite, by validation) `f64`.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        std::str::from_utf8(self.text)
            .ok()?
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
    }
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, kind: SyntaxError) -> ParseError {
        syntax(kind, self.pos)
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
            None => Err(self.err(SyntaxError::UnexpectedEnd)),
        }
    }

    /// After the top-level value: only whitespace may follow.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.skip_ws();
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.err(SyntaxError::TrailingCharacters))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        Ok(())
    }

    /// Reads the string starting at the current byte (which must be `"`).
    ///
    /// The common string (printable ASCII, no escapes, not within 8 bytes of the end of the
    /// body) is found a word at a time here; anything else goes to the general loop.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Result<RawStr<'a>> {
        let buf = self.buf;
        let start = self.pos + 1;
        let mut i = start;
        while let Some(word) = buf.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let v = u64::from_le_bytes(*word);
            let quote = has_zero_byte(v ^ (LO * u64::from(b'"')));
            let other =
                (has_zero_byte(v ^ (LO * u64::from(b'\\'))) | (v.wrapping_sub(LO * 0x20) & !v) | v)
                    & HI;
            if quote | other == 0 {
                i += 8;
                continue;
            }
            // Each mask's lowest bit is exact: the string ends here if no other special byte
            // comes before the first quote.
            let first_quote = quote & quote.wrapping_neg();
            if quote != 0 && other & first_quote.wrapping_sub(1) == 0 {
                let end = i + (quote.trailing_zeros() / 8) as usize;
                self.pos = end + 1;
                let raw = buf.get(start..end).unwrap_or_default();
                return Ok(RawStr {
                    raw,
                    escaped: false,
                    at: start,
                });
            }
            break;
        }
        self.string_general(start)
    }

    /// [`Self::string`] for strings with escapes, non-ASCII or control bytes, or near the end.
    #[inline(never)]
    fn string_general(&mut self, start: usize) -> Result<RawStr<'a>> {
        let buf = self.buf;
        let mut i = start;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            i = find_special(buf, i, ascii);
            match buf.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i = Self::escape(buf, i + 1)?;
                }
                Some(&b) if b < 0x20 => return Err(syntax(SyntaxError::ControlCharacter, i)),
                Some(_) => {
                    ascii = false;
                    i += 1;
                }
                None => return Err(syntax(SyntaxError::UnexpectedEnd, i)),
            }
        }
        let raw = buf.get(start..i).unwrap_or_default();
        if !ascii && let Err(e) = std::str::from_utf8(raw) {
            return Err(syntax(SyntaxError::InvalidUtf8, start + e.valid_up_to()));
        }
        self.pos = i + 1;
        Ok(RawStr {
            raw,
            escaped,
            at: start,
        })
    }

    /// Validates the escape whose letter is at `buf[i]`; returns the index after it.
    fn escape(buf: &[u8], i: usize) -> Result<usize> {
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

    /// Reads the number starting at the current byte (`-` or a digit).
    pub(crate) fn number(&mut self) -> Result<Number<'a>> {
        let buf = self.buf;
        let start = self.pos;
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
            i = Self::digits(buf, i + 1)?;
        }
        let mut exp_digits = 0;
        if let Some(b'e' | b'E') = buf.get(i) {
            unsigned_int = false;
            i += 1;
            if let Some(b'+' | b'-') = buf.get(i) {
                i += 1;
            }
            let exp_start = i;
            i = Self::digits(buf, i)?;
            exp_digits = i - exp_start;
        }
        let text = buf.get(start..i).unwrap_or_default();
        let number = Number { text, unsigned_int };
        // Only a number with 200+ integer digits or a 3+ digit exponent can exceed f64::MAX
        // (~1.8e308); check those few exactly, as serde_json refuses them.
        if (exp_digits >= 3 || int_digits >= 200) && number.as_f64().is_none() {
            return Err(syntax(SyntaxError::NumberOutOfRange, start));
        }
        self.pos = i;
        Ok(number)
    }

    /// One or more digits from `i`; the index after them.
    fn digits(buf: &[u8], mut i: usize) -> Result<usize> {
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

    fn literal(&mut self, word: &'static [u8]) -> Result<()> {
        let end = self.pos + word.len();
        match self.buf.get(self.pos..end) {
            Some(got) if got == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(self.err(SyntaxError::InvalidLiteral)),
            None => {
                let rest = self.buf.get(self.pos..).unwrap_or_default();
                if word.starts_with(rest) {
                    Err(syntax(SyntaxError::UnexpectedEnd, self.buf.len()))
                } else {
                    Err(self.err(SyntaxError::InvalidLiteral))
                }
            }
        }
    }

    /// After `,` in an object: a key, then `:`. Returns the key.
    #[inline(always)]
    fn key(&mut self) -> Result<RawStr<'a>> {
        let key = match self.peek()? {
            b'"' => self.string()?,
            b'}' => return Err(self.err(SyntaxError::TrailingComma)),
            _ => return Err(self.err(SyntaxError::ExpectedKey)),
        };
        if self.peek()? != b':' {
            return Err(self.err(SyntaxError::ExpectedColon));
        }
        self.pos += 1;
        Ok(key)
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
    #[inline(never)]
    fn skip_nested(&mut self) -> Result<()> {
        // Bit `k` of `objects` is set when the container opened at level `k + 1` is an object.
        // `enter` refuses more than MAX_DEPTH (127) open brackets, so `level` stays below 128.
        let mut objects: u128 = 0;
        let mut level: u32 = 0;
        loop {
            // A value is expected here.
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                open @ (b'{' | b'[') => {
                    self.pos += 1;
                    self.enter()?;
                    let bit = 1u128 << level;
                    level += 1;
                    let close = if open == b'{' {
                        objects |= bit;
                        b'}'
                    } else {
                        objects &= !bit;
                        b']'
                    };
                    if self.peek()? == close {
                        self.pos += 1;
                        self.depth -= 1;
                        level -= 1;
                    } else {
                        if open == b'{' {
                            self.first_key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => return Err(self.err(SyntaxError::UnexpectedCharacter)),
            }
            // A value just ended: close brackets until one expects another value.
            loop {
                if level == 0 {
                    return Ok(());
                }
                let in_object = objects & (1u128 << (level - 1)) != 0;
                match (self.peek()?, in_object) {
                    (b',', true) => {
                        self.pos += 1;
                        self.key()?;
                        break;
                    }
                    (b',', false) => {
                        self.pos += 1;
                        if self.peek()? == b']' {
                            return Err(self.err(SyntaxError::TrailingComma));
                        }
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        self.depth -= 1;
                        level -= 1;
                    }
                    _ => return Err(self.err(SyntaxError::ExpectedCommaOrEnd)),
                }
            }
        }
    }

    /// The first key of a non-empty object (the current byte is not `}`).
    #[inline(always)]
    fn first_key(&mut self) -> Result<RawStr<'a>> {
        if self.peek()? != b'"' {
            return Err(self.err(SyntaxError::ExpectedKey));
        }
        let key = self.string()?;
        if self.peek()? != b':' {
            return Err(self.err(SyntaxError::ExpectedColon));
        }
        self.pos += 1;
        Ok(key)
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
        let mut key = self.first_key()?;
        loop {
            if key.escaped {
                let name = key.to_cow()?;
                on_member(self, name.as_bytes())?;
            } else {
                on_member(self, key.raw)?;
            }
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    key = self.key()?;
                }
                b'}' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err(SyntaxError::ExpectedCommaOrEnd)),
            }
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
                    self.pos += 1;
                    if self.peek()? == b']' {
                        return Err(self.err(SyntaxError::TrailingComma));
                    }
                }
                b']' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err(SyntaxError::ExpectedCommaOrEnd)),
            }
        }
    }

    /// The next value if it is a string (not yet decoded); any other value is skipped and gives
    /// `None`.
    #[inline]
    pub(crate) fn string_value(&mut self) -> Result<Option<RawStr<'a>>> {
        if self.peek()? == b'"' {
            self.string().map(Some)
        } else {
            self.skip_nested().map(|()| None)
        }
    }

    /// The next value if it is a number; any other value is skipped and gives `None`.
    #[inline]
    pub(crate) fn number_value(&mut self) -> Result<Option<Number<'a>>> {
        if let b'-' | b'0'..=b'9' = self.peek()? {
            self.number().map(Some)
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

    fn validate(s: &[u8]) -> Result<()> {
        let mut c = Cursor::new(s);
        c.skip_value()?;
        c.finish()
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

    fn string_of(s: &str) -> Result<Cow<'_, str>> {
        let mut c = Cursor::new(s.as_bytes());
        let raw = c.string()?;
        c.finish()?;
        raw.to_cow()
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
        for len in 0..20 {
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
                        let ours = c.string().and_then(|raw| {
                            c.finish()?;
                            raw.to_cow().map(Cow::into_owned)
                        });
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
    fn number_values() {
        let num = |s: &'static str| {
            let mut c = Cursor::new(s.as_bytes());
            c.number().unwrap()
        };
        assert_eq!(num("0").as_u64(), Some(0));
        assert_eq!(num("300").as_u64(), Some(300));
        assert_eq!(num("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(num("18446744073709551616").as_u64(), None);
        assert_eq!(num("-1").as_u64(), None);
        assert_eq!(num("-0").as_u64(), None);
        assert_eq!(num("300.0").as_u64(), None);
        assert_eq!(num("3e2").as_u64(), None);
        assert_eq!(num("0.75").as_f64(), Some(0.75));
        assert_eq!(num("-2").as_f64(), Some(-2.0));
        assert_eq!(num("1e-400").as_f64(), Some(0.0));
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
}
