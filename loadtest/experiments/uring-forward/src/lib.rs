//! What the two forwarders share: where a message ends.
//!
//! Both forwarders read one request from the client, write it to the bidder, read the bidder's
//! answer and write it back, on one upstream connection per client connection, parsing heads
//! with `httparse` as bidsieve does. No filtering, no pool: the experiment compares the I/O
//! models, nothing else.

/// The length of the complete message (a head and a `Content-Length` body) at the start of
/// `buf`, or `None` while it is incomplete or not understood.
pub fn complete(buf: &[u8], request: bool) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let parsed = if request {
        httparse::Request::new(&mut headers).parse(buf)
    } else {
        httparse::Response::new(&mut headers).parse(buf)
    };
    let Ok(httparse::Status::Complete(head)) = parsed else {
        return None;
    };
    let mut body = 0;
    for header in headers.iter().take_while(|h| !h.name.is_empty()) {
        if header.name.eq_ignore_ascii_case("content-length") {
            body = std::str::from_utf8(header.value)
                .ok()?
                .trim()
                .parse()
                .ok()?;
        }
    }
    (buf.len() >= head + body).then_some(head + body)
}

/// `LISTEN BIDDER` from the command line.
pub fn addresses() -> (std::net::SocketAddr, std::net::SocketAddr) {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("an address"));
    match (args.next(), args.next()) {
        (Some(listen), Some(bidder)) => (listen, bidder),
        _ => panic!("usage: LISTEN_ADDR BIDDER_ADDR"),
    }
}
