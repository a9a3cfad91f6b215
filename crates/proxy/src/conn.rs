//! One supplier connection.
//!
//! Bid requests of the common shape (`POST /{client_id}/bids`, HTTP/1.1, a `Content-Length`
//! body, no `Transfer-Encoding`, `Expect` or `Upgrade`) are read, run and answered by this loop:
//! the head parsed with `httparse` from the connection's reused buffer, the body sliced out of
//! it, the answer written with one `write`. Through hyper's server each of them cost a header
//! map, a body channel, a boxed header-read timer and the response's encoding (BENCHMARKS.md).
//!
//! At the first request of any other shape (another path or method, a chunked body, HTTP/1.0,
//! a head over [`MAX_HEAD`] or one `httparse` refuses) the connection, with the bytes already
//! read, goes to hyper's server for the rest of its life: everything unusual gets hyper's
//! handling, unchanged.
//!
//! Timeouts without a timer per request: the connection's one timer is pushed out at most every
//! few seconds while requests keep coming (a connection with no request for [`IDLE_TIMEOUT`] is
//! closed), and set to [`REQUEST_TIMEOUT`] only when a request did not arrive whole in one read.

use std::cell::RefCell;
use std::convert::Infallible;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use http::{Response, StatusCode};
use hyper::body::Body as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Sleep;

use crate::bid;
use crate::forward::Forwarded;
use crate::server::{Body, bid_path};
use crate::state::ProxyState;

/// Longest request head the loop reads; a longer one goes to hyper.
const MAX_HEAD: usize = 16 * 1024;
/// Most request headers the loop parses; more send the connection to hyper.
const MAX_HEADERS: usize = 32;
/// Read buffer reserved per read.
const READ_CHUNK: usize = 8 * 1024;
/// A buffer that grew past this (a large body) is not kept for the next request.
const KEEP_BUFFER: usize = 64 * 1024;
/// A connection with no request for this long is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How far the idle deadline may lag behind: the timer is reset at most this often.
const IDLE_SLACK: Duration = Duration::from_secs(15);
/// Longest a connection closed with its request body unread keeps reading (and dropping) it.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes read and dropped that way.
const LINGER_BYTES: usize = 4 * 1024 * 1024;
/// Time a request that did not arrive in one read gets for its head and body.
const REQUEST_TIMEOUT: Duration = bid::BODY_READ_TIMEOUT;

/// What every connection of one listener shares.
pub(crate) struct Shared {
    pub state: Arc<ProxyState>,
    /// hyper's server, for the connections handed to it.
    pub http: http1::Builder,
    /// Turns `true` when the listener drains.
    pub draining: watch::Receiver<bool>,
}

/// Where a connection is, for the drain: waiting for a request (its task may be aborted),
/// busy with one (it closes after answering), or handed to hyper (which drains it).
#[derive(Default)]
pub(crate) struct ConnState(AtomicU8);

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const CLOSING: u8 = 2;
const HYPER: u8 = 3;

impl ConnState {
    /// Asks the connection to close after the request it is on; true when it was waiting for
    /// a request, so that its task can be aborted.
    pub(crate) fn close(&self) -> bool {
        self.0.swap(CLOSING, Ordering::AcqRel) == IDLE
    }

    /// Waiting for a request from here; false when the connection is to close instead.
    fn idle(&self) -> bool {
        self.set(BUSY, IDLE) || self.0.load(Ordering::Acquire) == IDLE
    }

    fn set(&self, from: u8, to: u8) -> bool {
        self.0
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn closing(&self) -> bool {
        self.0.load(Ordering::Acquire) == CLOSING
    }
}

/// Serves one connection until the client closes it, it idles out, or the listener drains.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    state: Arc<ConnState>,
) -> Result<(), hyper::Error> {
    let now = Instant::now();
    let mut conn = Conn {
        stream,
        input: BytesMut::with_capacity(READ_CHUNK),
        output: Vec::with_capacity(512),
        timer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
            now + IDLE_TIMEOUT,
        ))),
    };
    let mut last = now;
    loop {
        if conn.input.is_empty() {
            if !state.idle() {
                return Ok(());
            }
            conn.arm_idle(last);
            if !matches!(conn.fill().await, Ok(Fill::Data)) {
                return Ok(());
            }
            if !state.set(IDLE, BUSY) {
                return Ok(());
            }
        }
        let mut armed = false;
        let head = loop {
            match parse(&conn.input) {
                Parsed::Bid(head) => break head,
                Parsed::Partial if conn.input.len() < MAX_HEAD => {
                    conn.arm_request(&mut armed);
                    if !matches!(conn.fill().await, Ok(Fill::Data)) {
                        return Ok(());
                    }
                }
                Parsed::Partial | Parsed::Other => return conn.hand_off(&shared, &state).await,
            }
        };
        let started = Instant::now();
        last = started;
        let Ok((response, must_close)) =
            bid_exchange(&shared.state, &mut conn, &head, started, armed).await
        else {
            return Ok(());
        };
        let close = must_close || head.close || state.closing();
        conn.encode(response, close);
        if conn.write(close).await.is_err() {
            return Ok(());
        }
        if must_close {
            // The body is still coming: closing now could reset the connection before the
            // client read the answer.
            conn.linger().await;
        }
        if close {
            return Ok(());
        }
        if conn.input.is_empty() && conn.input.capacity() > KEEP_BUFFER {
            conn.input = BytesMut::with_capacity(READ_CHUNK);
        }
    }
}

/// Reads the body of the bid request `head` and runs it: the answer, and whether the connection
/// must close after it (the body was not read); `Err` when it ended with no answer owed.
async fn bid_exchange(
    state: &ProxyState,
    conn: &mut Conn,
    head: &Head,
    started: Instant,
    mut armed: bool,
) -> Result<(Response<Body>, bool), ()> {
    let client_id = std::str::from_utf8(&conn.input[head.client_id.clone()]).unwrap_or_default();
    let route = bid::lookup(state, client_id);
    let max_body = state.settings().max_body;
    let too_long = head.body > max_body;
    let route = match route {
        Err(missing) => {
            let response = missing.response();
            // Unknown stream or no snapshot yet: the body is read (and dropped) when it is
            // within the limit, so that the connection can go on.
            if too_long {
                return Ok((response, true));
            }
            let Ok(_) = conn.read_message(head.len + head.body, &mut armed).await else {
                return Err(());
            };
            return Ok((response, false));
        }
        Ok(route) => route,
    };
    if too_long {
        let (outcome, response) = bid::too_large("body over the limit");
        bid::record(state, &route, started, outcome);
        return Ok((response, true));
    }
    let message = match conn.read_message(head.len + head.body, &mut armed).await {
        Ok(message) => message,
        Err(Fill::Late) => {
            let (outcome, response) = bid::timed_out();
            bid::record(state, &route, started, outcome);
            return Ok((response, true));
        }
        Err(_) => return Err(()),
    };
    let field = |range: &Option<Range<usize>>| range.clone().map(|r| &message[r]);
    let headers = Forwarded {
        content_type: field(&head.content_type),
        content_encoding: field(&head.content_encoding),
        openrtb_version: field(&head.openrtb_version),
    };
    let raw = message.slice(head.len..);
    let (outcome, response) = bid::run(state, &route, headers, raw).await;
    bid::record(state, &route, started, outcome);
    Ok((response, false))
}

struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet consumed: the current request, and any pipelined after it.
    input: BytesMut,
    /// The answer being written.
    output: Vec<u8>,
    timer: Pin<Box<Sleep>>,
}

/// What a read brought.
#[derive(Debug)]
enum Fill {
    Data,
    /// The client closed its side (or the connection failed).
    Eof,
    /// The timer fired first.
    Late,
}

impl Conn {
    /// Reads what is there into `input`, waiting for it (up to the timer) if nothing is.
    ///
    /// Through `AsyncRead`, not `try_read`: a read that does not fill the buffer tells tokio
    /// the socket is drained, so the next wait goes straight to epoll instead of costing a
    /// `recvfrom` that finds nothing (one per request, seen with `strace -c`).
    async fn fill(&mut self) -> io::Result<Fill> {
        self.input.reserve(READ_CHUNK);
        let Conn {
            stream,
            input,
            timer,
            ..
        } = self;
        tokio::select! {
            biased;
            read = stream.read_buf(input) => Ok(if read? == 0 { Fill::Eof } else { Fill::Data }),
            () = timer.as_mut() => Ok(Fill::Late),
        }
    }

    /// Reads until `input` holds the whole `len`-byte message, then takes it out.
    async fn read_message(&mut self, len: usize, armed: &mut bool) -> Result<Bytes, Fill> {
        if self.input.len() < len {
            self.input.reserve(len - self.input.len());
        }
        while self.input.len() < len {
            self.arm_request(armed);
            match self.fill().await {
                Ok(Fill::Data) => {}
                Ok(other) => return Err(other),
                Err(_) => return Err(Fill::Eof),
            }
        }
        Ok(self.input.split_to(len).freeze())
    }

    /// Keeps the timer at most [`IDLE_SLACK`] short of `IDLE_TIMEOUT` after `since`.
    fn arm_idle(&mut self, since: Instant) {
        let want = tokio::time::Instant::from_std(since + IDLE_TIMEOUT);
        let deadline = self.timer.deadline();
        if deadline + IDLE_SLACK < want || deadline > want {
            self.reset(want);
        }
    }

    /// Gives the current request [`REQUEST_TIMEOUT`] from now, once: `armed` says it was.
    fn arm_request(&mut self, armed: &mut bool) {
        if !*armed {
            self.reset(tokio::time::Instant::now() + REQUEST_TIMEOUT);
            *armed = true;
        }
    }

    fn reset(&mut self, deadline: tokio::time::Instant) {
        self.timer.as_mut().reset(deadline);
    }

    /// Encodes `response` as the next thing to write.
    fn encode(&mut self, response: Response<Body>, close: bool) {
        encode(&mut self.output, response, close);
    }

    /// Writes the encoded answer; on `close`, ends the connection after it.
    async fn write(&mut self, close: bool) -> io::Result<()> {
        self.stream.write_all(&self.output).await?;
        if self.output.capacity() > KEEP_BUFFER {
            self.output = Vec::with_capacity(512);
        }
        if close {
            self.stream.shutdown().await?;
        }
        Ok(())
    }

    /// After an answer that left the body unread (and a FIN sent): reads and drops what the
    /// client still sends, until it closes, for at most [`LINGER`] and [`LINGER_BYTES`], so that
    /// the close does not turn into a reset that destroys the answer (nginx's lingering close).
    async fn linger(&mut self) {
        self.reset(tokio::time::Instant::now() + LINGER);
        let mut dropped = 0usize;
        while dropped < LINGER_BYTES {
            self.input.clear();
            match self.fill().await {
                Ok(Fill::Data) => dropped += self.input.len(),
                _ => return,
            }
        }
    }

    /// Serves the rest of the connection with hyper, starting with the bytes already read.
    async fn hand_off(self, shared: &Shared, state: &ConnState) -> Result<(), hyper::Error> {
        // From BUSY only: once CLOSING, the drain signal below is already set.
        state.set(BUSY, HYPER);
        let io = Rewind {
            prefix: self.input.freeze(),
            inner: self.stream,
        };
        let proxy = shared.state.clone();
        let service = service_fn(move |req| {
            let proxy = proxy.clone();
            async move { Ok::<_, Infallible>(crate::server::route(&proxy, req).await) }
        });
        let conn = shared.http.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut draining = shared.draining.clone();
        let drain = async move {
            // The listener gone without a signal counts as one.
            let _ = draining.wait_for(|draining| *draining).await.is_ok();
        };
        tokio::select! {
            result = conn.as_mut() => result,
            () = drain => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    }
}

/// The HTTP/1.1 encoding of `response` into `out`, `connection: close` on `close`.
fn encode(out: &mut Vec<u8>, response: Response<Body>, close: bool) {
    let (parts, body) = response.into_parts();
    let body = into_bytes(body);
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    let reason = parts.status.canonical_reason().unwrap_or("");
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    write_date(out);
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    // RFC 9110 §8.6: no Content-Length on a 204 (bid answers are never 1xx or 304).
    if parts.status != StatusCode::NO_CONTENT {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
}

/// The answer body's bytes (a `Full` body is one ready frame).
fn into_bytes(mut body: Body) -> Bytes {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// `date: <IMF-fixdate>\r\n`, formatted once a second per thread (RFC 9110 §6.6.1).
fn write_date(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((0, Vec::new())) };
    }
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(cached, line)| {
        if *cached != second || line.is_empty() {
            *cached = second;
            line.clear();
            line.extend_from_slice(b"date: ");
            line.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
            line.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    });
}

/// A bid request's head, as offsets into the connection's input.
#[derive(Debug)]
struct Head {
    /// Length of the head, blank line included.
    len: usize,
    /// Declared body length (0 when none).
    body: usize,
    client_id: Range<usize>,
    content_type: Option<Range<usize>>,
    content_encoding: Option<Range<usize>>,
    openrtb_version: Option<Range<usize>>,
    /// `Connection: close`.
    close: bool,
}

#[derive(Debug)]
enum Parsed {
    Bid(Head),
    /// The head is not complete yet.
    Partial,
    /// Anything else: hyper's.
    Other,
}

/// Parses the request head at the start of `buf`.
fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    if req.method != Some("POST") || req.version != Some(1) {
        return Parsed::Other;
    }
    let Some(client_id) = req.path.and_then(bid_path) else {
        return Parsed::Other;
    };
    let base = buf.as_ptr() as usize;
    let range = |part: &[u8]| {
        let start = part.as_ptr() as usize - base;
        start..start + part.len()
    };
    let mut head = Head {
        len,
        body: 0,
        client_id: range(client_id.as_bytes()),
        content_type: None,
        content_encoding: None,
        openrtb_version: None,
        close: false,
    };
    let mut length = None;
    for header in req.headers.iter() {
        let (name, value) = (header.name, header.value);
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        if is("content-length") {
            if length.is_some() {
                return Parsed::Other;
            }
            let Some(declared) = crate::h1::parse_length(value) else {
                return Parsed::Other;
            };
            length = Some(declared);
        } else if is("content-type") {
            head.content_type.get_or_insert_with(|| range(value));
        } else if is("content-encoding") {
            head.content_encoding.get_or_insert_with(|| range(value));
        } else if is("x-openrtb-version") {
            head.openrtb_version.get_or_insert_with(|| range(value));
        } else if is("connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    head.close = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    return Parsed::Other;
                }
            }
        } else if is("transfer-encoding") || is("expect") || is("upgrade") {
            return Parsed::Other;
        }
    }
    head.body = length.unwrap_or(0);
    Parsed::Bid(head)
}

/// [`parse`] over arbitrary bytes, checking what it returns points inside the head (for the
/// tests and `fuzz/`).
#[cfg(any(test, fuzzing))]
pub(crate) fn check_parse(data: &[u8]) {
    if let Parsed::Bid(head) = parse(data) {
        assert!(head.len <= data.len());
        let inside = |range: &Range<usize>| range.start <= range.end && range.end <= head.len;
        assert!(inside(&head.client_id) && !head.client_id.is_empty());
        let id = &data[head.client_id.clone()];
        assert!(!id.contains(&b'/'));
        for range in [
            &head.content_type,
            &head.content_encoding,
            &head.openrtb_version,
        ]
        .into_iter()
        .flatten()
        {
            assert!(inside(range));
        }
    }
}

/// The connection handed to hyper: the bytes the loop read first, then the socket.
struct Rewind {
    prefix: Bytes,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bid_head(raw: &[u8]) -> Head {
        match parse(raw) {
            Parsed::Bid(head) => head,
            other => panic!("not a bid head: {other:?}"),
        }
    }

    #[test]
    fn bid_heads_are_read_as_offsets() {
        let raw = b"POST /c1/bids HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                    CONTENT-ENCODING: gzip\r\nx-openrtb-version: 2.6\r\nContent-Length: 12\r\n\
                    Connection: keep-alive, Close\r\n\r\n{\"id\":\"r1\"}";
        let head = bid_head(raw);
        assert_eq!(&raw[head.client_id.clone()], b"c1");
        assert_eq!(head.body, 12);
        assert_eq!(&raw[head.len..], b"{\"id\":\"r1\"}");
        let field = |r: &Option<Range<usize>>| &raw[r.clone().unwrap()];
        assert_eq!(field(&head.content_type), b"application/json");
        assert_eq!(field(&head.content_encoding), b"gzip");
        assert_eq!(field(&head.openrtb_version), b"2.6");
        assert!(head.close);

        let bare = bid_head(b"POST /c1/bids HTTP/1.1\r\n\r\n");
        assert_eq!(bare.body, 0);
        assert!(bare.content_type.is_none() && !bare.close);
    }

    #[test]
    fn partial_heads_wait_for_more() {
        assert!(matches!(parse(b""), Parsed::Partial));
        assert!(matches!(
            parse(b"POST /c1/bids HTTP/1.1\r\nContent-Le"),
            Parsed::Partial
        ));
    }

    #[test]
    fn every_other_shape_goes_to_hyper() {
        for raw in [
            &b"GET /c1/bids HTTP/1.1\r\n\r\n"[..],
            b"POST /c1/bids HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}",
            b"POST /healthz HTTP/1.1\r\n\r\n",
            b"POST /a/b/bids HTTP/1.1\r\n\r\n",
            b"POST /c1/bids?x=1 HTTP/1.1\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\nupgrade: h2c\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\nconnection: Upgrade\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\ncontent-length: +2\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\ncontent-length: 1234567890123456789\r\n\r\n",
            b"POST /c1/bids HTTP/1.1\r\nbad header\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ] {
            assert!(
                matches!(parse(raw), Parsed::Other),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let mut many = b"POST /c1/bids HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(parse(&many), Parsed::Other));
    }

    #[test]
    fn every_prefix_and_one_byte_change_of_a_head_parses_without_panic() {
        let raw = b"POST /c1/bids HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                    Content-Encoding: gzip\r\nx-openrtb-version: 2.6\r\nContent-Length: 2\r\n\r\n{}";
        let head_len = raw.len() - 2;
        for end in 0..head_len {
            assert!(matches!(
                parse(&raw[..end]),
                Parsed::Partial | Parsed::Other
            ));
        }
        let mut changed = raw.to_vec();
        for i in 0..raw.len() {
            for byte in [0u8, b'\r', b'\n', b' ', b':', b'/', b'?', 0x80, 0xff, b'9'] {
                changed[i] = byte;
                check_parse(&changed);
            }
            changed[i] = raw[i];
        }
    }

    #[test]
    fn answers_are_encoded_with_length_date_and_close() {
        let date = {
            let mut line = Vec::new();
            write_date(&mut line);
            String::from_utf8(line).unwrap()
        };
        assert!(
            date.starts_with("date: ") && date.ends_with(" GMT\r\n"),
            "{date}"
        );
        assert_eq!(date.len(), "date: \r\n".len() + 29);
        let text = |response, close| {
            let mut out = Vec::new();
            encode(&mut out, response, close);
            // The clock may have ticked since `date` was taken: compare without it.
            let text = String::from_utf8(out).unwrap();
            let (before, rest) = text.split_once("date: ").unwrap();
            let (_, after) = rest.split_once("\r\n").unwrap();
            format!("{before}{after}")
        };
        assert_eq!(
            text(crate::server::empty(StatusCode::NO_CONTENT), false),
            "HTTP/1.1 204 No Content\r\n\r\n"
        );
        let error = crate::server::error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown stream");
        assert_eq!(
            text(error, true),
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nconnection: close\r\n\
             content-length: 55\r\n\r\n{\"error\":{\"id\":\"NOT_FOUND\",\"message\":\"unknown stream\"}}"
        );
    }
}
