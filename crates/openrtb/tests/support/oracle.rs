//! The reference extraction: the SPEC §2.4 rules written plainly over a `serde_json::Value`.
//!
//! It is the oracle the streaming extractor is compared with. It shares nothing with the crate's
//! walker; it calls the crate only for `normalize_country` (a data table, unit-tested on its own).
//! `serde_json::Value` keeps the last of duplicate keys, which is the rule `extract` documents.

use bidsieve_openrtb::{BidFields, ParseError, normalize_country};
use serde_json::Value;

/// The fields, owned, as the reference reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub id: String,
    pub imp_count: u32,
    pub tmax: Option<u64>,
    pub user_id: Option<String>,
    pub country: Option<String>,
    pub sizes: Vec<(u32, u32)>,
    pub authed: Option<f64>,
    pub domain: Option<String>,
    pub domain_is_app: bool,
    pub uid2_token: Option<String>,
}

/// Why the reference refuses a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotJson,
    NotObject,
    MissingId,
    MissingImp,
}

impl From<ParseError> for Refusal {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Syntax { .. } | ParseError::TooDeep | ParseError::TooLarge => Self::NotJson,
            ParseError::NotObject => Self::NotObject,
            ParseError::MissingId => Self::MissingId,
            ParseError::MissingImp => Self::MissingImp,
        }
    }
}

fn dimension(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn string_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn uid2_token(eids: Option<&Value>) -> Option<String> {
    for entry in eids?.as_array()? {
        if entry.get("source").and_then(Value::as_str) != Some("uidapi.com") {
            continue;
        }
        let Some(uids) = entry.get("uids").and_then(Value::as_array) else {
            continue;
        };
        for uid in uids {
            if let Some(id) = uid
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
            {
                return Some(id.to_owned());
            }
        }
    }
    None
}

/// The reference reading of `body`.
pub fn reference(body: &[u8]) -> Result<Expected, Refusal> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| Refusal::NotJson)?;
    let top = doc.as_object().ok_or(Refusal::NotObject)?;
    let id = top
        .get("id")
        .and_then(Value::as_str)
        .ok_or(Refusal::MissingId)?;
    let imps = top
        .get("imp")
        .and_then(Value::as_array)
        .filter(|imps| !imps.is_empty())
        .ok_or(Refusal::MissingImp)?;

    let mut sizes = Vec::new();
    for imp in imps {
        let Some(banner) = imp.get("banner").filter(|b| b.is_object()) else {
            continue;
        };
        if let (Some(w), Some(h)) = (dimension(banner.get("w")), dimension(banner.get("h"))) {
            sizes.push((w, h));
        }
        for format in banner
            .get("format")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(w), Some(h)) = (dimension(format.get("w")), dimension(format.get("h"))) {
                sizes.push((w, h));
            }
        }
    }

    let country = string_at(&doc, "/device/geo/country")
        .and_then(normalize_country)
        .or_else(|| string_at(&doc, "/user/geo/country").and_then(normalize_country))
        .map(|c| c.as_str().to_owned());

    let site_domain = string_at(&doc, "/site/domain").map(|d| {
        let lower = d.to_lowercase();
        lower
            .strip_prefix("www.")
            .map(str::to_owned)
            .unwrap_or(lower)
    });
    let (domain, domain_is_app) = match site_domain.filter(|d| !d.is_empty()) {
        Some(d) => (Some(d), false),
        None => match string_at(&doc, "/app/bundle").filter(|b| !b.is_empty()) {
            Some(b) => (Some(b.to_lowercase()), true),
            None => (None, false),
        },
    };

    let user = top.get("user");
    let uid2 = uid2_token(user.and_then(|u| u.get("eids")))
        .or_else(|| uid2_token(user.and_then(|u| u.get("ext")).and_then(|e| e.get("eids"))));

    Ok(Expected {
        id: id.to_owned(),
        imp_count: u32::try_from(imps.len()).unwrap(),
        tmax: top.get("tmax").and_then(Value::as_u64),
        user_id: string_at(&doc, "/user/id").map(str::to_owned),
        country,
        sizes,
        authed: doc
            .pointer("/ext/authenticated/authed/score")
            .and_then(Value::as_f64),
        domain,
        domain_is_app,
        uid2_token: uid2,
    })
}

/// The extractor's answer in the oracle's terms.
pub fn observed(fields: &BidFields<'_>) -> Expected {
    Expected {
        id: fields.id.to_string(),
        imp_count: fields.imp_count,
        tmax: fields.tmax,
        user_id: fields.user_id.as_deref().map(str::to_owned),
        country: fields.country.map(|c| c.as_str().to_owned()),
        sizes: fields.sizes.iter().map(|s| (s.w, s.h)).collect(),
        authed: fields.authed,
        domain: fields.domain.as_deref().map(str::to_owned),
        domain_is_app: fields.domain_is_app,
        uid2_token: fields.uid2_token.as_deref().map(str::to_owned),
    }
}

/// `serde_json` without its `float_roundtrip` feature may be one unit in the last place off the
/// correctly rounded value `extract` computes.
fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON,
        (None, None) => true,
        _ => false,
    }
}

/// Compares `extract(body)` with the reference; the error says how they differ.
pub fn check(body: &[u8]) -> Result<Result<Expected, Refusal>, String> {
    let want = reference(body);
    let got = bidsieve_openrtb::extract(body);
    match (&got, &want) {
        (Ok(fields), Ok(want)) => {
            let got = observed(fields);
            let same = Expected {
                authed: want.authed,
                ..got.clone()
            } == *want
                && close(got.authed, want.authed);
            if same {
                Ok(Ok(got))
            } else {
                Err(format!("fields differ:\n got {got:?}\nwant {want:?}"))
            }
        }
        (Err(e), Err(want)) if Refusal::from(*e) == *want => Ok(Err(*want)),
        _ => Err(format!("outcome differs: got {got:?}, want {want:?}")),
    }
}
