//! `ListUpload`: the body of `PUT /api/filters/{id}/list` parsed as it arrives — `text/plain`
//! (one value a line) or a JSON array, optionally gzip — straight into the store's
//! [`ListBuilder`], each value normalized for the filter's field. The body is never held whole:
//! memory is the builder (about the size of the values) plus one partial value.
//!
//! CPU-bound: run it off the async runtime (the handler feeds it from a blocking task).

use std::io::Write;

use bidsieve_filter::{ListField, ListItem, normalize_item};
use bidsieve_store::{BucketedList, ListBuilder};

/// The UTF-8 byte order mark.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";
/// [`ListParser::bom`] once the start of the body is past.
const BOM_DONE: usize = usize::MAX;

/// Longest single value accepted (a line, or a JSON token).
pub(crate) const MAX_VALUE_LEN: usize = 64 * 1024;

/// How the body is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// One value a line (`\n` or `\r\n`); blank lines skipped, values trimmed.
    Lines,
    /// A JSON array of strings and numbers.
    JsonArray,
}

/// Why an upload was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UploadError {
    /// A value is not valid for the field, or the body is not of its format (400 `VALIDATION`,
    /// field `list`).
    #[error("{0}")]
    Invalid(String),
    /// The decompressed body is over the limit (413).
    #[error("the decompressed body is over {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The gzip stream is corrupt or truncated (400 `BAD_REQUEST`).
    #[error("the gzip body does not decompress: {0}")]
    Gzip(String),
}

/// Where the JSON array parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonState {
    /// Before `[`.
    Start,
    /// After `[`: a value or `]`.
    FirstValue,
    /// After `,`: a value.
    Value,
    /// Inside a string token; `escaped` after a backslash.
    InString { escaped: bool },
    /// Inside a number token.
    InNumber,
    /// After a value: `,` or `]`.
    AfterValue,
    /// After `]`: only whitespace.
    Done,
}

/// The values of one list, normalized and bucketed as they arrive.
pub(crate) struct ListParser {
    format: Format,
    field: ListField,
    builder: ListBuilder,
    /// The partial line or JSON token.
    pending: Vec<u8>,
    json: JsonState,
    /// Values seen so far (for messages).
    count: usize,
    /// Lines seen so far (for messages, text only).
    line: usize,
    /// Bytes seen so far.
    seen: usize,
    /// Bytes of a leading UTF-8 byte order mark matched so far; [`BOM_DONE`] once decided.
    bom: usize,
    /// Text normalization buffer.
    scratch: String,
}

impl ListParser {
    /// A parser for a list of `field`, expecting about `capacity` bytes of values.
    pub(crate) fn new(format: Format, field: ListField, capacity: usize) -> Self {
        Self {
            format,
            field,
            builder: ListBuilder::with_capacity(capacity),
            pending: Vec::new(),
            json: JsonState::Start,
            count: 0,
            line: 0,
            seen: 0,
            bom: 0,
            scratch: String::new(),
        }
    }

    /// Parses the next bytes of the body.
    ///
    /// # Errors
    /// The first invalid value or syntax error.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), UploadError> {
        // A leading byte order mark is skipped, even when it arrives split.
        while self.bom < BOM.len() {
            let Some((&first, rest)) = bytes.split_first() else {
                return Ok(());
            };
            if BOM.get(self.bom) == Some(&first) {
                self.bom += 1;
                bytes = rest;
            } else {
                let matched = BOM.get(..self.bom).unwrap_or(&[]);
                self.bom = BOM_DONE;
                self.feed_format(matched)?;
            }
        }
        self.feed_format(bytes)
    }

    fn feed_format(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        self.seen += bytes.len();
        match self.format {
            Format::Lines => self.feed_lines(bytes),
            Format::JsonArray => self.feed_json(bytes),
        }
    }

    /// Ends the body; returns the list.
    ///
    /// # Errors
    /// A last invalid value, or an unfinished JSON array.
    pub(crate) fn finish(mut self) -> Result<BucketedList, UploadError> {
        match self.format {
            Format::Lines => {
                if !self.pending.is_empty() {
                    let line = std::mem::take(&mut self.pending);
                    self.line += 1;
                    self.line_value(&line)?;
                }
            }
            Format::JsonArray => match self.json {
                JsonState::Done => {}
                JsonState::InNumber => {
                    return Err(UploadError::Invalid(
                        "the JSON array is not closed with ]".into(),
                    ));
                }
                _ => {
                    return Err(UploadError::Invalid(if self.seen == 0 {
                        "the body is empty; expected a JSON array".into()
                    } else {
                        "the JSON array is not closed with ]".into()
                    }));
                }
            },
        }
        Ok(self.builder.build())
    }

    // === lines ===

    fn feed_lines(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        let mut rest = bytes;
        while let Some(end) = memchr_newline(rest) {
            let (line, after) = rest.split_at(end);
            rest = after.get(1..).unwrap_or(&[]);
            self.line += 1;
            if self.pending.is_empty() {
                self.line_value(line)?;
            } else {
                let mut whole = std::mem::take(&mut self.pending);
                whole.extend_from_slice(line);
                self.check_len(whole.len())?;
                self.line_value(&whole)?;
                // Keep the allocation for the next partial line.
                whole.clear();
                self.pending = whole;
            }
        }
        self.pending.extend_from_slice(rest);
        self.check_len(self.pending.len())
    }

    fn check_len(&self, len: usize) -> Result<(), UploadError> {
        if len > MAX_VALUE_LEN {
            return Err(UploadError::Invalid(format!(
                "value {} is longer than {MAX_VALUE_LEN} bytes",
                self.count + 1
            )));
        }
        Ok(())
    }

    fn line_value(&mut self, line: &[u8]) -> Result<(), UploadError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line)
            .map_err(|_| UploadError::Invalid(format!("line {} is not valid UTF-8", self.line)))?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let line = self.line;
        self.push_text(text)
            .map_err(|m| UploadError::Invalid(format!("line {line}: {m}")))
    }

    // === JSON ===

    fn feed_json(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match self.json {
                JsonState::Start => {
                    if b == b'[' {
                        self.json = JsonState::FirstValue;
                    } else if !is_ws(b) {
                        return Err(self.syntax("expected a JSON array"));
                    }
                    i += 1;
                }
                JsonState::FirstValue | JsonState::Value => {
                    if is_ws(b) {
                        i += 1;
                    } else if b == b']' && self.json == JsonState::FirstValue {
                        self.json = JsonState::Done;
                        i += 1;
                    } else if b == b'"' {
                        self.pending.clear();
                        self.pending.push(b);
                        self.json = JsonState::InString { escaped: false };
                        i += 1;
                    } else if b == b'-' || b.is_ascii_digit() {
                        self.pending.clear();
                        self.json = JsonState::InNumber;
                    } else {
                        return Err(self.value_type_error(b));
                    }
                }
                JsonState::InString { escaped } => {
                    // Take the run of bytes up to the next quote or backslash at once.
                    let run = bytes
                        .get(i..)
                        .unwrap_or(&[])
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')
                        .map_or(bytes.len(), |p| i + p);
                    if escaped {
                        self.pending.push(b);
                        self.json = JsonState::InString { escaped: false };
                        i += 1;
                        continue;
                    }
                    if run > i {
                        self.pending
                            .extend_from_slice(bytes.get(i..run).unwrap_or(&[]));
                        self.check_len(self.pending.len())?;
                        i = run;
                        continue;
                    }
                    self.pending.push(b);
                    i += 1;
                    if b == b'\\' {
                        self.json = JsonState::InString { escaped: true };
                    } else {
                        self.string_value()?;
                        self.json = JsonState::AfterValue;
                    }
                }
                JsonState::InNumber => {
                    if matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                        self.pending.push(b);
                        self.check_len(self.pending.len())?;
                        i += 1;
                    } else {
                        self.number_value()?;
                        self.json = JsonState::AfterValue;
                    }
                }
                JsonState::AfterValue => {
                    if is_ws(b) {
                    } else if b == b',' {
                        self.json = JsonState::Value;
                    } else if b == b']' {
                        self.json = JsonState::Done;
                    } else {
                        return Err(self.syntax("expected , or ] after a value"));
                    }
                    i += 1;
                }
                JsonState::Done => {
                    if !is_ws(b) {
                        return Err(self.syntax("unexpected data after the array"));
                    }
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn syntax(&self, what: &str) -> UploadError {
        UploadError::Invalid(format!(
            "invalid JSON after {} value(s): {what}",
            self.count
        ))
    }

    fn value_type_error(&self, b: u8) -> UploadError {
        let found = match b {
            b'{' => "an object",
            b'[' => "an array",
            b't' | b'f' => "a boolean",
            b'n' => "null",
            b']' => return self.syntax("a value is missing after ,"),
            _ => return self.syntax("expected a string or a number"),
        };
        UploadError::Invalid(format!(
            "item {}: expected a string or a number, found {found}",
            self.count
        ))
    }

    /// The complete string token in `pending` (quotes included).
    fn string_value(&mut self) -> Result<(), UploadError> {
        let index = self.count;
        let raw = std::mem::take(&mut self.pending);
        let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or(&[]);
        let decoded: String;
        let text: &str = if !inner.contains(&b'\\') && !inner.iter().any(|&c| c < 0x20) {
            std::str::from_utf8(inner)
                .map_err(|_| UploadError::Invalid(format!("item {index}: not valid UTF-8")))?
        } else {
            decoded = serde_json::from_slice::<String>(&raw)
                .map_err(|e| UploadError::Invalid(format!("item {index}: invalid string ({e})")))?;
            &decoded
        };
        let result = self.push_text(text);
        self.pending = raw;
        self.pending.clear();
        result.map_err(|m| UploadError::Invalid(format!("item {index}: {m}")))
    }

    /// The complete number token in `pending`.
    fn number_value(&mut self) -> Result<(), UploadError> {
        let index = self.count;
        let number: serde_json::Number = serde_json::from_slice(&self.pending).map_err(|_| {
            UploadError::Invalid(format!(
                "item {index}: {:?} is not a JSON number",
                String::from_utf8_lossy(&self.pending)
            ))
        })?;
        self.pending.clear();
        let text = if self.field.holds_integers() {
            match number.as_i64() {
                Some(i) => i.to_string(),
                None => {
                    return Err(UploadError::Invalid(format!(
                        "item {index}: {number} is not an integer id"
                    )));
                }
            }
        } else {
            number.to_string()
        };
        self.push_text(&text)
            .map_err(|m| UploadError::Invalid(format!("item {index}: {m}")))
    }

    // === values ===

    /// Normalizes one value for the field and adds it.
    fn push_text(&mut self, text: &str) -> Result<(), String> {
        self.count += 1;
        let item = normalize_item(self.field, text)?;
        let stored: &str = match &item {
            ListItem::Int(i) => {
                self.scratch.clear();
                // Writing to a String cannot fail.
                let _ = std::fmt::Write::write_fmt(&mut self.scratch, format_args!("{i}"));
                &self.scratch
            }
            ListItem::Str(s) => s,
        };
        self.builder.push(stored).map_err(|e| e.to_string())
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

// === gzip and limits ===

/// A [`ListParser`] as an `io::Write` sink (what the gzip decoder writes into), counting the
/// decompressed bytes.
struct Sink {
    parser: ListParser,
    error: Option<UploadError>,
    written: usize,
    limit: usize,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > self.limit {
            self.error = Some(UploadError::TooLarge { limit: self.limit });
            return Err(std::io::Error::other("over the limit"));
        }
        if let Err(e) = self.parser.feed(buf) {
            self.error = Some(e);
            return Err(std::io::Error::other("invalid list"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A list upload: a parser behind an optional gzip decoder.
pub(crate) struct ListUpload(Decoder);

enum Decoder {
    /// An uncompressed body.
    Plain(ListParser),
    /// A gzip body.
    Gzip(Box<flate2::write::GzDecoder<Sink>>),
}

impl ListUpload {
    /// An upload of `format` for `field`; `gzip` bodies are decompressed up to `limit` bytes.
    pub(crate) fn new(
        format: Format,
        field: ListField,
        gzip: bool,
        capacity: usize,
        limit: usize,
    ) -> Self {
        let parser = ListParser::new(format, field, capacity);
        ListUpload(if gzip {
            Decoder::Gzip(Box::new(flate2::write::GzDecoder::new(Sink {
                parser,
                error: None,
                written: 0,
                limit,
            })))
        } else {
            Decoder::Plain(parser)
        })
    }

    /// Parses the next bytes of the body.
    ///
    /// # Errors
    /// An invalid value, a decompressed size over the limit, a corrupt gzip stream.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        match &mut self.0 {
            Decoder::Plain(parser) => parser.feed(bytes),
            Decoder::Gzip(decoder) => match decoder.write_all(bytes) {
                Ok(()) => Ok(()),
                Err(e) => Err(decoder
                    .get_mut()
                    .error
                    .take()
                    .unwrap_or_else(|| UploadError::Gzip(e.to_string()))),
            },
        }
    }

    /// Ends the body; returns the list.
    ///
    /// # Errors
    /// As [`ListUpload::feed`], plus a truncated gzip stream or an unfinished JSON array.
    pub(crate) fn finish(self) -> Result<BucketedList, UploadError> {
        match self.0 {
            Decoder::Plain(parser) => parser.finish(),
            Decoder::Gzip(mut decoder) => {
                if let Err(e) = decoder.try_finish() {
                    return Err(decoder
                        .get_mut()
                        .error
                        .take()
                        .unwrap_or_else(|| UploadError::Gzip(e.to_string())));
                }
                let sink = decoder
                    .finish()
                    .map_err(|e| UploadError::Gzip(e.to_string()))?;
                if sink.written == 0 {
                    return Err(UploadError::Gzip("empty gzip stream".into()));
                }
                sink.parser.finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn values(list: &BucketedList) -> Vec<String> {
        let mut v: Vec<String> = list
            .chunks()
            .flat_map(|c| c.values().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        v.sort();
        v
    }

    fn parse_in_pieces(
        format: Format,
        field: ListField,
        body: &[u8],
        piece: usize,
    ) -> Result<Vec<String>, UploadError> {
        let mut parser = ListParser::new(format, field, 0);
        for chunk in body.chunks(piece.max(1)) {
            parser.feed(chunk)?;
        }
        parser.finish().map(|l| values(&l))
    }

    #[test]
    fn lines_are_trimmed_blank_lines_skipped_and_values_normalized() {
        let body = b"\xEF\xBB\xBFuser-1\r\n  user-2  \n\n\nuser-1\nlast";
        for piece in [1, 2, 3, 7, 100] {
            assert_eq!(
                parse_in_pieces(Format::Lines, ListField::User, body, piece).unwrap(),
                ["last", "user-1", "user-2"],
                "piece {piece}"
            );
        }
        assert_eq!(
            parse_in_pieces(Format::Lines, ListField::Country, b"UK\ngbr\nUS\n", 2).unwrap(),
            ["GB", "US"]
        );
        assert_eq!(
            parse_in_pieces(Format::Lines, ListField::Stream, b"3\n 04 \n", 1).unwrap(),
            ["3", "4"]
        );
        assert!(
            parse_in_pieces(Format::Lines, ListField::User, b"", 1)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn invalid_lines_name_the_line() {
        let err =
            parse_in_pieces(Format::Lines, ListField::Size, b"300x250\nhuge\n", 4).unwrap_err();
        assert!(
            matches!(&err, UploadError::Invalid(m) if m.starts_with("line 2:")),
            "{err}"
        );
        let err =
            parse_in_pieces(Format::Lines, ListField::User, b"ok\n\xff\xfe\n", 4).unwrap_err();
        assert!(
            matches!(&err, UploadError::Invalid(m) if m.contains("UTF-8")),
            "{err}"
        );
        let err = parse_in_pieces(Format::Lines, ListField::User, b"a\0b\n", 4).unwrap_err();
        assert!(matches!(err, UploadError::Invalid(_)));
        let long = vec![b'x'; MAX_VALUE_LEN + 1];
        assert!(parse_in_pieces(Format::Lines, ListField::User, &long, 1000).is_err());
    }

    #[test]
    fn json_arrays_of_strings_and_numbers() {
        let body = br#" [ "a", "b\"q", 12, -3.5e2, "\u00e9", "a" ] "#;
        for piece in [1, 2, 5, 100] {
            assert_eq!(
                parse_in_pieces(Format::JsonArray, ListField::User, body, piece).unwrap(),
                ["-350.0", "12", "a", "b\"q", "é"],
                "piece {piece}"
            );
        }
        assert_eq!(
            parse_in_pieces(Format::JsonArray, ListField::Supplier, b"[1, \"2\", 3]", 1).unwrap(),
            ["1", "2", "3"]
        );
        assert!(
            parse_in_pieces(Format::JsonArray, ListField::User, b"[]", 1)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_json_is_refused() {
        for (body, field) in [
            (&b""[..], ListField::User),
            (b"[", ListField::User),
            (b"[1,]", ListField::User),
            (b"[1 2]", ListField::User),
            (b"{}", ListField::User),
            (b"[true]", ListField::User),
            (b"[null]", ListField::User),
            (b"[[1]]", ListField::User),
            (b"[{\"a\":1}]", ListField::User),
            (b"[1] x", ListField::User),
            (b"[\"a]", ListField::User),
            (b"[1.5]", ListField::Stream),
            (b"[\"x\"]", ListField::Stream),
            (b"[--1]", ListField::User),
            (b"[\"a\tb\"]", ListField::User),
            (b"[\"\\x\"]", ListField::User),
        ] {
            let result = parse_in_pieces(Format::JsonArray, field, body, 1);
            assert!(
                matches!(result, Err(UploadError::Invalid(_))),
                "{:?}: {result:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn gzip_bodies_in_pieces_and_their_limit() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let text: String = (0..1000).map(|i| format!("id-{i}\n")).collect();
        gz.write_all(text.as_bytes()).unwrap();
        let compressed = gz.finish().unwrap();
        let mut upload = ListUpload::new(Format::Lines, ListField::User, true, 0, 1 << 20);
        for chunk in compressed.chunks(7) {
            upload.feed(chunk).unwrap();
        }
        assert_eq!(upload.finish().unwrap().len(), 1000);

        let mut upload = ListUpload::new(Format::Lines, ListField::User, true, 0, 100);
        let result = upload.feed(&compressed).and_then(|()| upload.finish());
        assert_eq!(result.unwrap_err(), UploadError::TooLarge { limit: 100 });

        let mut upload = ListUpload::new(Format::Lines, ListField::User, true, 0, 1 << 20);
        let result = upload
            .feed(b"not gzip at all")
            .and_then(|()| upload.finish());
        assert!(matches!(result, Err(UploadError::Gzip(_))), "{result:?}");

        let upload = ListUpload::new(Format::Lines, ListField::User, true, 0, 1 << 20);
        assert!(matches!(upload.finish(), Err(UploadError::Gzip(_))));

        let mut upload = ListUpload::new(Format::Lines, ListField::User, true, 0, 1 << 20);
        upload.feed(&compressed[..compressed.len() / 2]).unwrap();
        assert!(upload.finish().is_err(), "truncated");
    }

    /// What a body parsed whole by serde_json and normalized by `ListValues::from_json`
    /// holds: the reference.
    fn reference(field: ListField, body: &[u8]) -> Option<Vec<String>> {
        let parsed: Value = serde_json::from_slice(body).ok()?;
        let values = bidsieve_filter::ListValues::from_json(field, &parsed).ok()?;
        let mut texts: Vec<String> = values.texts().map(|t| t.into_owned()).collect();
        texts.sort();
        texts.dedup();
        Some(texts)
    }

    fn item() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[a-zA-Z0-9 _\\-\"\\\\é€😀]{0,12}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            proptest::sample::select(vec!["300x250", "GB", "UK", "gbr", "3", "x"])
                .prop_map(Value::from),
        ]
    }

    proptest! {
        #[test]
        fn streamed_json_agrees_with_serde_json(
            items in proptest::collection::vec(item(), 0..30),
            piece in 1usize..40,
            field in proptest::sample::select(vec![
                ListField::User, ListField::Stream, ListField::Country, ListField::Size,
            ]),
        ) {
            let body = serde_json::to_vec_pretty(&items).unwrap();
            let streamed = parse_in_pieces(Format::JsonArray, field, &body, piece).ok();
            prop_assert_eq!(streamed, reference(field, &body));
        }

        #[test]
        fn streamed_lines_agree_with_one_value_a_line(
            lines in proptest::collection::vec("[a-z0-9]{1,10}", 0..50),
            piece in 1usize..30,
        ) {
            let body = lines.join("\n");
            let streamed = parse_in_pieces(Format::Lines, ListField::User, body.as_bytes(), piece).unwrap();
            let mut expected = lines.clone();
            expected.sort();
            expected.dedup();
            prop_assert_eq!(streamed, expected);
        }
    }
}
