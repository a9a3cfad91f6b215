//! The admin API's own extractors, whose rejections are [`ApiError`]s: [`ApiJson`] (a JSON
//! body), [`RecordId`] (an integer path segment), [`QueryIds`] (`?customer_id=`,
//! `?stream_id=`) and [`ClientAddr`] (the peer address for login throttling).

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AdminState;

/// A JSON request body, parsed with the admin API's error rules: a body that is not JSON is
/// `BAD_REQUEST`; JSON of the wrong shape is `VALIDATION` naming the field (its path).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T> FromRequest<AdminState> for ApiJson<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AdminState) -> Result<Self, Self::Rejection> {
        check_json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge {
                    limit: state.settings().max_body,
                }
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Accepts a JSON media type, and no `Content-Type` or curl's default form type (`curl -d`
/// without `-H`), whose bodies are read as JSON anyway.
///
/// # Errors
/// 415 `BAD_REQUEST` for any other media type.
pub(crate) fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let Ok(value) = value.to_str() else {
        return Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: application/json",
        ));
    };
    let essence = media_type(value);
    if essence == "application/json"
        || essence == "application/x-www-form-urlencoded"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            "expected Content-Type: application/json",
        ))
    }
}

/// The lower-cased `type/subtype` of a `Content-Type` value (parameters dropped).
pub(crate) fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Parses a JSON body.
///
/// # Errors
/// `BAD_REQUEST` when the bytes are not one JSON value; `VALIDATION` (with the path of the
/// offending field) when the value does not have the expected shape.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the body is empty; expected JSON"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        // A shape error in a body that is not even JSON is a syntax error.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return ApiError::bad_request(format!("invalid JSON: {syntax}"));
        }
        let path = err.path().to_string();
        let inner = err.into_inner();
        json_error(&path, &inner)
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    Ok(value)
}

fn json_error(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Data => {
            let field = field_of(path, &err.to_string());
            if field.is_empty() {
                ApiError::Validation {
                    field: None,
                    message: err.to_string(),
                }
            } else {
                let message = format!("{field}: {err}");
                ApiError::validation(field, message)
            }
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request(format!("invalid JSON: {err}"))
        }
    }
}

/// The path of the field a serde data error is about: its location, plus the key named by an
/// "unknown field" or "missing field" message.
fn field_of(path: &str, message: &str) -> String {
    let path = path.trim_start_matches('.');
    let path = if path == "?" { "" } else { path };
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (path.is_empty(), named) {
        (_, None) => path.to_owned(),
        // The path of an unknown field already ends with it.
        (false, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (true, Some(name)) => name.to_owned(),
        (false, Some(name)) => format!("{path}.{name}"),
    }
}

/// An integer record id from the last path segment (`/api/filters/{id}`); anything else is a
/// record that does not exist (404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordId(pub(crate) i64);

impl<S: Send + Sync> FromRequestParts<S> for RecordId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("no such record".into()))?;
        raw.parse::<i64>()
            .map(RecordId)
            .map_err(|_| ApiError::NotFound(format!("no record with id {raw:?}")))
    }
}

/// The integer query parameters the admin API reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueryIds {
    /// `?customer_id=N`: an operator names the customer (SPEC §5.2).
    pub(crate) customer_id: Option<i64>,
    /// `?stream_id=N`: the stream an explained request arrives on.
    pub(crate) stream_id: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        QueryIds::parse(parts.uri.query().unwrap_or(""))
    }
}

impl QueryIds {
    /// Reads `customer_id` and `stream_id`; other parameters are ignored.
    ///
    /// # Errors
    /// `VALIDATION` naming the parameter when it is not an integer.
    pub(crate) fn parse(query: &str) -> Result<Self, ApiError> {
        let mut ids = QueryIds::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "customer_id" => &mut ids.customer_id,
                "stream_id" => &mut ids.stream_id,
                _ => continue,
            };
            let parsed = value.parse::<i64>().map_err(|_| {
                ApiError::validation(key, format!("{key} must be an integer, found {value:?}"))
            })?;
            *slot = Some(parsed);
        }
        Ok(ids)
    }
}

/// The client's address, when the server was started with connection info
/// ([`crate::serve`] does); login throttling per client uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        customer: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        qps: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        qps: i64,
    }

    #[test]
    fn syntax_errors_are_bad_request_and_shape_errors_validation() {
        let err = parse_json::<Body>(b"{\"customer\": ").unwrap_err();
        assert_eq!(err.id(), "BAD_REQUEST");
        let err = parse_json::<Body>(b"").unwrap_err();
        assert_eq!(err.id(), "BAD_REQUEST");
        let err = parse_json::<Body>(b"{} x").unwrap_err();
        assert_eq!(err.id(), "BAD_REQUEST");
        let err = parse_json::<Body>(br#"{"customer": {"qps": "many"}}"#).unwrap_err();
        assert_eq!(err.id(), "VALIDATION");
        match err {
            ApiError::Validation { field, .. } => {
                assert_eq!(field.as_deref(), Some("customer.qps"))
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_json::<Body>(br#"{"customer": {"qps": 5}}"#).is_ok());
        match parse_json::<Body>(br#"{"customer": {}}"#).unwrap_err() {
            ApiError::Validation { field, .. } => {
                assert_eq!(field.as_deref(), Some("customer.qps"))
            }
            other => panic!("{other:?}"),
        }
        match parse_json::<Strict>(br#"{"slug": "x", "qps": 1}"#).unwrap_err() {
            ApiError::Validation { field, .. } => assert_eq!(field.as_deref(), Some("slug")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_and_curl_default_media_types_are_read() {
        let mut headers = HeaderMap::new();
        assert!(check_json_content_type(&headers).is_ok());
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/x-www-form-urlencoded",
            "application/merge-patch+json",
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_json_content_type(&headers).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/xml",
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(bad));
            let err = check_json_content_type(&headers).unwrap_err();
            assert_eq!(err.status().as_u16(), 415, "{bad}");
        }
    }

    #[test]
    fn query_ids() {
        assert_eq!(QueryIds::parse("").unwrap(), QueryIds::default());
        let ids = QueryIds::parse("customer_id=7&x=y&stream_id=-2").unwrap();
        assert_eq!(ids.customer_id, Some(7));
        assert_eq!(ids.stream_id, Some(-2));
        let err = QueryIds::parse("customer_id=abc").unwrap_err();
        assert_eq!(err.id(), "VALIDATION");
        assert!(QueryIds::parse("customer_id").is_err());
    }
}
