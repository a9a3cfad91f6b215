//! Why a request body was refused: the text of the proxy's 400 answer.

/// The deepest nesting of arrays and objects [`crate::extract`] accepts: 127 open brackets, the
/// same limit as `serde_json`, so both refuse the same documents. Deeper input is refused with
/// [`ParseError::TooDeep`]; the walker never recurses on unknown values, so nothing overflows.
pub const MAX_DEPTH: u32 = 127;

/// Why a body is not an acceptable bid request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not valid JSON; `at` is the byte offset where that became certain.
    #[error("invalid JSON at byte {at}: {kind}")]
    Syntax {
        /// What was wrong.
        kind: SyntaxError,
        /// Byte offset into the body.
        at: usize,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("JSON nested too deeply")]
    TooDeep,
    /// Valid JSON, but the top-level value is not an object.
    #[error("bid request is not a JSON object")]
    NotObject,
    /// No `id`, or an `id` that is not a string.
    #[error("bid request has no string \"id\"")]
    MissingId,
    /// No `imp`, an `imp` that is not an array, or an empty one.
    #[error("bid request has no non-empty \"imp\" array")]
    MissingImp,
    /// A body of 2 GiB or more (the proxy's body limits stop far earlier).
    #[error("bid request body too large")]
    TooLarge,
}

impl ParseError {
    /// A short fixed description (no byte offset), for bodies built without formatting.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        match self {
            Self::Syntax { kind, .. } => kind.message(),
            Self::TooDeep => "JSON nested too deeply",
            Self::NotObject => "bid request is not a JSON object",
            Self::MissingId => "bid request has no string \"id\"",
            Self::MissingImp => "bid request has no non-empty \"imp\" array",
            Self::TooLarge => "bid request body too large",
        }
    }

    /// True when the body is not JSON at all (syntax, or nesting past the limit), false when it
    /// is JSON but not a bid request.
    #[must_use]
    pub const fn is_json_error(&self) -> bool {
        matches!(self, Self::Syntax { .. } | Self::TooDeep)
    }
}

/// The ways a body can fail to be JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// The body ended inside a value (or was empty).
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected character")]
    UnexpectedCharacter,
    /// Something after the top-level value other than whitespace.
    #[error("trailing characters after the JSON value")]
    TrailingCharacters,
    /// A misspelt `true`, `false` or `null`.
    #[error("invalid literal")]
    InvalidLiteral,
    /// A number that does not follow the JSON grammar (`01`, `1.`, `.5`, `+1`, `1e`).
    #[error("invalid number")]
    InvalidNumber,
    /// A number too large for a 64-bit float (`1e400`).
    #[error("number out of range")]
    NumberOutOfRange,
    /// A `\` escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
    #[error("invalid escape in string")]
    InvalidEscape,
    /// A `\u` escape naming half of a UTF-16 surrogate pair without the other half.
    #[error("unpaired surrogate in string escape")]
    LoneSurrogate,
    /// A raw byte below 0x20 inside a string.
    #[error("control character in string")]
    ControlCharacter,
    /// String bytes that are not UTF-8.
    #[error("invalid UTF-8 in string")]
    InvalidUtf8,
    /// An object key that is not a string.
    #[error("expected a string key")]
    ExpectedKey,
    /// A key not followed by `:`.
    #[error("expected ':' after key")]
    ExpectedColon,
    /// A value not followed by `,` or the closing bracket.
    #[error("expected ',' or closing bracket")]
    ExpectedCommaOrEnd,
    /// A `,` followed by a closing bracket.
    #[error("trailing comma")]
    TrailingComma,
}

impl SyntaxError {
    /// The same text as `Display`, as a `&'static str`.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        match self {
            Self::UnexpectedEnd => "unexpected end of input",
            Self::UnexpectedCharacter => "unexpected character",
            Self::TrailingCharacters => "trailing characters after the JSON value",
            Self::InvalidLiteral => "invalid literal",
            Self::InvalidNumber => "invalid number",
            Self::NumberOutOfRange => "number out of range",
            Self::InvalidEscape => "invalid escape in string",
            Self::LoneSurrogate => "unpaired surrogate in string escape",
            Self::ControlCharacter => "control character in string",
            Self::InvalidUtf8 => "invalid UTF-8 in string",
            Self::ExpectedKey => "expected a string key",
            Self::ExpectedColon => "expected ':' after key",
            Self::ExpectedCommaOrEnd => "expected ',' or closing bracket",
            Self::TrailingComma => "trailing comma",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_problem_and_offset() {
        let e = ParseError::Syntax {
            kind: SyntaxError::InvalidEscape,
            at: 17,
        };
        assert_eq!(
            e.to_string(),
            "invalid JSON at byte 17: invalid escape in string"
        );
        assert_eq!(e.message(), "invalid escape in string");
        assert!(e.is_json_error());
        assert!(ParseError::TooDeep.is_json_error());
        assert!(!ParseError::MissingImp.is_json_error());
    }

    #[test]
    fn static_messages_match_display() {
        let kinds = [
            SyntaxError::UnexpectedEnd,
            SyntaxError::UnexpectedCharacter,
            SyntaxError::TrailingCharacters,
            SyntaxError::InvalidLiteral,
            SyntaxError::InvalidNumber,
            SyntaxError::NumberOutOfRange,
            SyntaxError::InvalidEscape,
            SyntaxError::LoneSurrogate,
            SyntaxError::ControlCharacter,
            SyntaxError::InvalidUtf8,
            SyntaxError::ExpectedKey,
            SyntaxError::ExpectedColon,
            SyntaxError::ExpectedCommaOrEnd,
            SyntaxError::TrailingComma,
        ];
        for kind in kinds {
            assert_eq!(kind.to_string(), kind.message());
        }
        for e in [
            ParseError::TooDeep,
            ParseError::NotObject,
            ParseError::MissingId,
            ParseError::MissingImp,
            ParseError::TooLarge,
        ] {
            assert_eq!(e.to_string(), e.message());
        }
    }
}
