//! Bid request bodies: a small OpenRTB 2.5 banner request with the fields filters read.

use std::io::Write;

use serde_json::{Value, json};

/// A bid request under construction (serialize with [`BidRequest::body`]).
#[derive(Clone, Debug)]
pub struct BidRequest(Value);

/// A request with `id` and one 300x250 banner impression, `tmax` 200 ms, and nothing else the
/// filters read (no user, no country, no score, no site).
pub fn bid(id: &str) -> BidRequest {
    BidRequest(json!({
        "id": id,
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250}, "bidfloor": 0.5}],
        "at": 1,
        "tmax": 200,
        "device": {"ua": "Mozilla/5.0", "ip": "192.0.2.1"},
    }))
}

impl BidRequest {
    /// Replaces the impressions' sizes: one impression per size, `banner.w`/`h`.
    pub fn sizes(mut self, sizes: &[(u32, u32)]) -> Self {
        self.0["imp"] = sizes
            .iter()
            .enumerate()
            .map(|(i, (w, h))| json!({"id": (i + 1).to_string(), "banner": {"w": w, "h": h}}))
            .collect();
        self
    }

    /// One impression whose banner lists these sizes in `banner.format[]` (no `w`/`h`).
    pub fn formats(mut self, sizes: &[(u32, u32)]) -> Self {
        let format: Vec<Value> = sizes.iter().map(|(w, h)| json!({"w": w, "h": h})).collect();
        self.0["imp"] = json!([{"id": "1", "banner": {"format": format}}]);
        self
    }

    /// One video impression (no banner: the request has no size).
    pub fn video_only(mut self) -> Self {
        self.0["imp"] = json!([{"id": "1", "video": {"mimes": ["video/mp4"], "w": 640, "h": 480}}]);
        self
    }

    /// `ext.authenticated.authed.score`.
    pub fn authed(mut self, score: f64) -> Self {
        self.0["ext"] = json!({"authenticated": {"authed": {"score": score}}});
        self
    }

    /// `device.geo.country`.
    pub fn device_country(mut self, country: &str) -> Self {
        self.0["device"]["geo"] = json!({"country": country});
        self
    }

    /// `user.geo.country`.
    pub fn user_country(mut self, country: &str) -> Self {
        self.user_object()["geo"] = json!({"country": country});
        self
    }

    /// `user.id`.
    pub fn user(mut self, id: &str) -> Self {
        self.user_object()["id"] = json!(id);
        self
    }

    /// `site.domain`.
    pub fn site_domain(mut self, domain: &str) -> Self {
        self.0["site"] =
            json!({"id": "s1", "domain": domain, "page": format!("https://{domain}/")});
        self
    }

    /// `app.bundle` (and no site).
    pub fn app_bundle(mut self, bundle: &str) -> Self {
        self.0.as_object_mut().expect("object").remove("site");
        self.0["app"] = json!({"id": "a1", "bundle": bundle});
        self
    }

    /// `tmax` in milliseconds.
    pub fn tmax(mut self, ms: u64) -> Self {
        self.0["tmax"] = json!(ms);
        self
    }

    /// The JSON text.
    pub fn body(&self) -> String {
        self.0.to_string()
    }

    fn user_object(&mut self) -> &mut Value {
        if !self.0["user"].is_object() {
            self.0["user"] = json!({});
        }
        &mut self.0["user"]
    }
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}
