//! The bidder's 200 answer, checked and prepared for the supplier (SPEC §2.2 step 7, §6).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};
use serde::de::IgnoredAny;

use crate::forward::ForwardError;
use crate::server::Body;
use crate::snapshot::StreamRoute;
use crate::state::ProxyState;

/// Turns a bidder's 200 body into the supplier's response. A body that is not JSON is not
/// relayed (an error, so the supplier gets a 204).
pub(crate) fn relay(
    state: &ProxyState,
    _route: &StreamRoute,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ForwardError> {
    let encoding = headers.get(header::CONTENT_ENCODING);
    let gzipped = encoding.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let valid = if gzipped {
        bidsieve_openrtb::decompress_gzip(&body, state.settings().max_response_body)
            .is_ok_and(|plain| serde_json::from_slice::<IgnoredAny>(&plain).is_ok())
    } else {
        serde_json::from_slice::<IgnoredAny>(&body).is_ok()
    };
    if !valid {
        return Err(ForwardError::NotJson);
    }
    let mut resp = Response::new(Body::new(body));
    let out = resp.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(encoding) = encoding {
        out.insert(header::CONTENT_ENCODING, encoding.clone());
    }
    if let Some(version) = headers.get("x-openrtb-version") {
        out.insert("x-openrtb-version", version.clone());
    }
    Ok(resp)
}
