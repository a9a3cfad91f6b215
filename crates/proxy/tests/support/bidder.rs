//! A test bidder on 127.0.0.1:0: answers as the test says and records every request it got.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How the bidder answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 `application/json` with this body.
    Bid(String),
    /// 204, no body.
    NoBid,
    /// 200 with an empty body.
    Empty,
    /// 200 `application/json` with a body that is not JSON.
    Garbage,
    /// This status with a small body.
    Status(u16),
    /// Waits, then answers as the inner reply.
    Slow(Duration, Box<Reply>),
}

impl Reply {
    /// `Slow(delay, reply)`.
    pub fn slow(delay: Duration, reply: Reply) -> Reply {
        Reply::Slow(delay, Box::new(reply))
    }
}

/// One request the bidder received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Its method.
    pub method: Method,
    /// Its path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as received.
    pub body: Bytes,
}

/// A running test bidder (stops with the test's runtime).
pub struct Bidder {
    /// Where it listens.
    pub addr: SocketAddr,
    reply: Arc<Mutex<Reply>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Bidder {
    /// A bidder answering `reply` to every request.
    pub async fn start(reply: Reply) -> Bidder {
        super::logs::install();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind bidder");
        let addr = listener.local_addr().expect("bidder addr");
        let reply = Arc::new(Mutex::new(reply));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (r, rec) = (reply.clone(), received.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (r, rec) = (r.clone(), rec.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (r, rec) = (r.clone(), rec.clone());
                        async move { Ok::<_, Infallible>(answer(req, &r, &rec).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Bidder {
            addr,
            reply,
            received,
        }
    }

    /// The bidder's URL (a stream's `customer_endpoint`).
    pub fn url(&self) -> String {
        format!("http://{}/openrtb/bid", self.addr)
    }

    /// Changes the answer to later requests.
    pub fn set_reply(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn answer(
    req: Request<Incoming>,
    reply: &Mutex<Reply>,
    received: &Mutex<Vec<Received>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    received.lock().unwrap().push(Received {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    });
    let mut reply = reply.lock().unwrap().clone();
    loop {
        match reply {
            Reply::Slow(delay, inner) => {
                tokio::time::sleep(delay).await;
                reply = *inner;
            }
            Reply::Bid(json) => return respond(StatusCode::OK, Some("application/json"), json),
            Reply::NoBid => return respond(StatusCode::NO_CONTENT, None, String::new()),
            Reply::Empty => return respond(StatusCode::OK, None, String::new()),
            Reply::Garbage => {
                return respond(
                    StatusCode::OK,
                    Some("application/json"),
                    "<html>502 Bad Gateway</html>{\"seatbid\":".to_owned(),
                );
            }
            Reply::Status(code) => {
                let status = StatusCode::from_u16(code).expect("status code");
                return respond(status, Some("text/plain"), "bidder error\n".to_owned());
            }
        }
    }
}

fn respond(status: StatusCode, content_type: Option<&str>, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Some(ct) = content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, ct.parse().expect("content type"));
    }
    resp
}

/// A bid response for request `request_id` (one seat, one bid, HTML creative, no nurl).
pub fn bid_response(request_id: &str) -> String {
    serde_json::json!({
        "id": request_id,
        "seatbid": [{"seat": "s1", "bid": [{
            "id": "b1", "impid": "1", "price": 1.25, "adm": "<div>ad</div>", "crid": "c1"
        }]}],
        "cur": "USD"
    })
    .to_string()
}

/// An `http://` URL on 127.0.0.1 where nothing listens (a bidder that is down).
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/openrtb/bid")
}
