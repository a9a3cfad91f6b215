//! The bidder's 200 answer, checked and prepared for the supplier (SPEC §2.2 step 7, §6).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};

use bidsieve_openrtb::{NoticeSealing, ResponseRewrite, rewrite_response};

use crate::forward::ForwardError;
use crate::server::Body;
use crate::snapshot::StreamRoute;
use crate::state::ProxyState;
use crate::win::WinMetrics;

/// The bidder's headers that matter to the relay.
#[derive(Clone, Copy)]
pub(crate) struct RelayHeaders<'a> {
    pub content_encoding: Option<&'a HeaderValue>,
    pub openrtb_version: Option<&'a HeaderValue>,
}

impl<'a> RelayHeaders<'a> {
    /// The two headers out of a full header map.
    pub(crate) fn of(headers: &'a HeaderMap) -> Self {
        Self {
            content_encoding: headers.get(header::CONTENT_ENCODING),
            openrtb_version: headers.get("x-openrtb-version"),
        }
    }
}

/// Turns a bidder's 200 body into the supplier's response: checked to be JSON (else an error,
/// so the supplier gets a 204), with the customer's rewrites of SPEC §6 applied in one pass
/// (notice URLs sealed unless `keep_nurl`, the tag appended to HTML `adm` with `inject_tag`).
///
/// A response that needs no change goes out as the bidder's bytes, `Content-Encoding` included.
/// A rewritten gzip response goes out uncompressed (no `Content-Encoding`): identity is always
/// acceptable to a client, and bid responses are small.
pub(crate) fn relay(
    state: &ProxyState,
    route: &StreamRoute,
    headers: RelayHeaders<'_>,
    body: Bytes,
) -> Result<Response<Body>, ForwardError> {
    let settings = state.settings();
    let encoding = headers.content_encoding;
    let gzipped = encoding.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let inflated;
    let json: &[u8] = if gzipped {
        inflated = bidsieve_openrtb::decompress_gzip(&body, settings.max_response_body)
            .map_err(|_| ForwardError::NotJson)?;
        &inflated
    } else {
        &body
    };

    let customer = &route.customer;
    let mut nonce = rand::random::<[u8; 12]>;
    let mut rewrite = ResponseRewrite {
        stream_id: route.id,
        seal: (!customer.keep_nurl).then_some(NoticeSealing {
            key: &settings.win_key,
            public_url: &settings.public_url,
            redirect: customer.redirect_wins,
            nonce: &mut nonce,
        }),
        tag_html: customer.inject_tag.then_some(settings.tag_html.as_str()),
    };
    let rewritten = rewrite_response(json, &mut rewrite).map_err(|_| ForwardError::NotJson)?;
    if rewritten.too_long > 0 {
        WinMetrics::get().unsealed(rewritten.too_long);
    }
    let (body, encoding) = match rewritten.body {
        Some(new) => (Bytes::from(new), None),
        None => (body, encoding),
    };

    let mut resp = Response::new(Body::new(body));
    let out = resp.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(encoding) = encoding {
        out.insert(header::CONTENT_ENCODING, encoding.clone());
    }
    if let Some(version) = headers.openrtb_version {
        out.insert("x-openrtb-version", version.clone());
    }
    Ok(resp)
}
