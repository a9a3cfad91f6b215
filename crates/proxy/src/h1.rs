//! The client for `http://` bidders: HTTP/1.1 over keep-alive connections that the request's own
//! task writes and reads.
//!
//! hyper's pooled client costs a forward a pool checkout, a channel hop to a connection task and
//! back, and their allocations and wake-ups: most of the gap to nginx `proxy_pass` in the
//! profiles (BENCHMARKS.md). Here a connection is taken from the current worker thread's idle
//! list (no lock: one list per thread), the request goes out in one write, the answer is parsed
//! with `httparse` straight from the connection's buffer, and the connection goes back to the
//! list. `https://` bidders keep hyper's client with rustls.
//!
//! Framing follows RFC 9112 §6: no body for 1xx/204/304, then `Transfer-Encoding: chunked`,
//! then `Content-Length`, else the body runs to the end of the connection. A connection is kept
//! only after a complete, well-framed answer with nothing after it and no `Connection: close`.
//! A kept connection the bidder closed in the meantime is noticed before use (a read that must
//! find nothing), and one that fails before the first byte of an answer is retried once on a new
//! connection, as a pooled client must: the bidder closed it while the request was on its way.

use std::cell::RefCell;
use std::io;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, StatusCode, Uri};
use thread_local::ThreadLocal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::forward::Forwarded;

/// Most response headers read; a bidder sending more is answered as a protocol error.
const MAX_HEADERS: usize = 64;
/// Longest response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Read buffer reserved per read.
const READ_CHUNK: usize = 8 * 1024;
/// Buffers that grew past this (a large request or answer) are not kept with the connection.
const KEEP_BUFFER: usize = 64 * 1024;
/// An idle connection older than this is closed rather than used (bidders close theirs too).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum H1Error {
    /// Connecting, writing or reading failed.
    #[error("bidder connection: {0}")]
    Io(#[from] io::Error),
    /// The bidder closed the connection before a complete answer.
    #[error("bidder closed the connection mid-answer")]
    Closed,
    /// The answer is not HTTP/1.x as RFC 9112 frames it.
    #[error("bidder answer is not valid HTTP/1.1: {0}")]
    Protocol(&'static str),
    /// The answer's body is over the limit.
    #[error("bidder answer body over the limit")]
    TooLarge,
    /// The endpoint's host does not resolve.
    #[error("bidder host does not resolve")]
    Resolve,
}

/// A bidder's answer: status, the two headers the relay needs, and the body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub content_encoding: Option<HeaderValue>,
    pub openrtb_version: Option<HeaderValue>,
    pub body: Bytes,
}

/// Bounds of one exchange.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Largest answer body read.
    pub max_body: usize,
    /// Idle connections kept per endpoint and worker thread.
    pub max_idle: usize,
}

/// One plain-HTTP bidder endpoint and its idle connections, one list per worker thread.
pub(crate) struct Endpoint {
    /// `POST {path} HTTP/1.1\r\nhost: {authority}\r\n`: the part of every request that never
    /// changes.
    head: Box<[u8]>,
    host: String,
    port: u16,
    idle: ThreadLocal<RefCell<Vec<Conn>>>,
}

/// A keep-alive connection with its buffers (reused from request to request).
struct Conn {
    io: TcpStream,
    /// Bytes read and not yet consumed.
    input: BytesMut,
    /// The request being written.
    output: Vec<u8>,
    idle_since: Instant,
}

impl Endpoint {
    /// The endpoint of `uri` if it is `http://`; `None` for other schemes.
    pub(crate) fn for_uri(uri: &Uri) -> Option<Self> {
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return None;
        }
        let authority = uri.authority()?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let path = if path.is_empty() { "/" } else { path };
        let host = authority.host();
        // `host` as RFC 9110 §7.2 has it: never the URL's userinfo.
        let head = match authority.port() {
            Some(port) => format!("POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\n"),
            None => format!("POST {path} HTTP/1.1\r\nhost: {host}\r\n"),
        };
        // `[::1]` in a URI is `::1` to the resolver.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Some(Self {
            head: head.into_bytes().into_boxed_slice(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            idle: ThreadLocal::new(),
        })
    }

    /// POSTs `body` with the forwarded `headers` and reads the whole answer, its body capped at
    /// `limits.max_body` bytes. Not bounded in time: the caller wraps it in its budget, and a
    /// connection dropped mid-exchange is closed, never reused.
    ///
    /// `now` is the caller's clock reading at the start of the exchange: it dates both the idle
    /// check and the connection's return to the list (an exchange is bounded by the bid's
    /// budget, far below the idle timeout), so the exchange reads no clock of its own.
    pub(crate) async fn post(
        &self,
        headers: Forwarded<'_>,
        body: &[u8],
        limits: Limits,
        now: Instant,
    ) -> Result<Answer, H1Error> {
        let max_body = limits.max_body;
        let (mut conn, mut reused) = match self.checkout(now) {
            Some(conn) => (conn, true),
            None => (self.connect().await?, false),
        };
        loop {
            match conn.exchange(self, headers, body, max_body).await {
                Ok((answer, keep)) => {
                    if keep {
                        self.checkin(conn, limits.max_idle, now);
                    }
                    return Ok(answer);
                }
                // A kept connection closed or reset before any byte of an answer: the bidder
                // dropped it as the request went out. Once more on a new connection.
                Err(Failure::BeforeAnswer(_)) if reused => {
                    conn = self.connect().await?;
                    reused = false;
                }
                Err(Failure::BeforeAnswer(err) | Failure::During(err)) => return Err(err),
            }
        }
    }

    /// The most recently used idle connection of this thread that is still open.
    fn checkout(&self, now: Instant) -> Option<Conn> {
        let list = self.idle.get()?;
        loop {
            let conn = list.borrow_mut().pop()?;
            if now.duration_since(conn.idle_since) > IDLE_TIMEOUT {
                // The rest of the list is older still.
                list.borrow_mut().clear();
                return None;
            }
            // An idle connection has nothing to read: end of stream means the bidder closed
            // it, bytes mean it broke the protocol. Either way it goes. (This read also leaves
            // the socket's readiness clear, so the answer's first read waits without a call.)
            let mut probe = [0u8; 1];
            match conn.io.try_read(&mut probe) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Some(conn),
                _ => {}
            }
        }
    }

    fn checkin(&self, mut conn: Conn, max_idle: usize, since: Instant) {
        let list = self.idle.get_or(|| RefCell::new(Vec::new()));
        let mut list = list.borrow_mut();
        if list.len() < max_idle {
            conn.idle_since = since;
            list.push(conn);
        }
    }

    async fn connect(&self) -> Result<Conn, H1Error> {
        let mut last = None;
        for addr in tokio::net::lookup_host((self.host.as_str(), self.port)).await? {
            match TcpStream::connect(addr).await {
                Ok(io) => {
                    io.set_nodelay(true)?;
                    return Ok(Conn {
                        io,
                        input: BytesMut::with_capacity(READ_CHUNK),
                        output: Vec::with_capacity(4 * 1024),
                        idle_since: Instant::now(),
                    });
                }
                Err(err) => last = Some(err),
            }
        }
        Err(last.map_or(H1Error::Resolve, H1Error::Io))
    }
}

/// An exchange's failure, by whether any byte of an answer had arrived.
enum Failure {
    BeforeAnswer(H1Error),
    During(H1Error),
}

/// How the answer's body is delimited.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

impl Conn {
    /// Writes the request and reads the answer; also says whether the connection can be kept.
    async fn exchange(
        &mut self,
        endpoint: &Endpoint,
        headers: Forwarded<'_>,
        body: &[u8],
        max_body: usize,
    ) -> Result<(Answer, bool), Failure> {
        self.write_request(endpoint, headers, body);
        // One `sendto` with the body copied after the head: a `writev` of head and body saves
        // the copy (~0.15% of a forward's CPU under perf) but costs more in the kernel's VFS
        // path (`vfs_writev`, `import_iovec`, `fput`, `fdget_pos`, `rw_verify_area`: ~1.9%;
        // BENCHMARKS.md, session 10).
        if let Err(err) = self.io.write_all(&self.output).await {
            return Err(Failure::BeforeAnswer(err.into()));
        }
        if self.output.capacity() > KEEP_BUFFER {
            self.output = Vec::new();
        }
        self.input.clear();
        match self.fill().await {
            Ok(0) => return Err(Failure::BeforeAnswer(H1Error::Closed)),
            Ok(_) => {}
            Err(err) => return Err(Failure::BeforeAnswer(err.into())),
        }
        let answer = self.read_answer(max_body).await.map_err(Failure::During)?;
        if self.input.capacity() > KEEP_BUFFER {
            self.input = BytesMut::new();
        }
        Ok(answer)
    }

    fn write_request(&mut self, endpoint: &Endpoint, headers: Forwarded<'_>, body: &[u8]) {
        let out = &mut self.output;
        out.clear();
        out.extend_from_slice(&endpoint.head);
        for (name, value) in headers.each() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    }

    /// Reads more into `input`; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        self.input.reserve(READ_CHUNK);
        self.io.read_buf(&mut self.input).await
    }

    /// Like `fill`, with the end of the stream an error (the answer is not complete).
    async fn fill_more(&mut self) -> Result<(), H1Error> {
        match self.fill().await? {
            0 => Err(H1Error::Closed),
            _ => Ok(()),
        }
    }

    async fn read_answer(&mut self, max_body: usize) -> Result<(Answer, bool), H1Error> {
        loop {
            let head = loop {
                match parse_head(&self.input)? {
                    Some(head) => break head,
                    None if self.input.len() >= MAX_HEAD => {
                        return Err(H1Error::Protocol("response head too long"));
                    }
                    None => self.fill_more().await?,
                }
            };
            self.input.advance(head.len);
            if head.status.is_informational() {
                // 100 Continue and friends precede the real answer.
                continue;
            }
            let (body, clean_end) = match head.framing {
                Framing::None => (Bytes::new(), true),
                Framing::Length(len) => {
                    if len > max_body {
                        return Err(H1Error::TooLarge);
                    }
                    while self.input.len() < len {
                        self.fill_more().await?;
                    }
                    (self.input.split_to(len).freeze(), true)
                }
                Framing::Chunked => (self.read_chunked(max_body).await?, true),
                Framing::UntilClose => {
                    while self.fill().await? > 0 {
                        if self.input.len() > max_body {
                            return Err(H1Error::TooLarge);
                        }
                    }
                    (self.input.split().freeze(), false)
                }
            };
            // Bytes after the answer were never asked for: the connection is out of step.
            let keep = clean_end && head.keep_alive && self.input.is_empty();
            let answer = Answer {
                status: head.status,
                content_encoding: head.content_encoding,
                openrtb_version: head.openrtb_version,
                body,
            };
            return Ok((answer, keep));
        }
    }

    /// Decodes a chunked body (RFC 9112 §7.1), trailers read and dropped.
    async fn read_chunked(&mut self, max_body: usize) -> Result<Bytes, H1Error> {
        let mut body = BytesMut::new();
        loop {
            let (size, line) = loop {
                match parse_chunk_size(&self.input)? {
                    Some(found) => break found,
                    None if self.input.len() > 1024 => {
                        return Err(H1Error::Protocol("chunk size line too long"));
                    }
                    None => self.fill_more().await?,
                }
            };
            self.input.advance(line);
            if size == 0 {
                break;
            }
            if body.len().saturating_add(size) > max_body {
                return Err(H1Error::TooLarge);
            }
            while self.input.len() < size + 2 {
                self.fill_more().await?;
            }
            body.extend_from_slice(&self.input[..size]);
            if &self.input[size..size + 2] != b"\r\n" {
                return Err(H1Error::Protocol("chunk not followed by CRLF"));
            }
            self.input.advance(size + 2);
        }
        // Trailer fields, up to the empty line.
        loop {
            match memchr::memmem::find(&self.input, b"\r\n") {
                Some(0) => {
                    self.input.advance(2);
                    return Ok(body.freeze());
                }
                Some(end) => self.input.advance(end + 2),
                None if self.input.len() > MAX_HEAD => {
                    return Err(H1Error::Protocol("trailers too long"));
                }
                None => self.fill_more().await?,
            }
        }
    }
}

/// A parsed response head.
struct Head {
    len: usize,
    status: StatusCode,
    framing: Framing,
    keep_alive: bool,
    content_encoding: Option<HeaderValue>,
    openrtb_version: Option<HeaderValue>,
}

/// The head at the start of `input`, `None` while incomplete.
fn parse_head(input: &[u8]) -> Result<Option<Head>, H1Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(H1Error::Protocol("too many headers"));
        }
        Err(_) => return Err(H1Error::Protocol("malformed response head")),
    };
    let code = response.code.unwrap_or(0);
    let status =
        StatusCode::from_u16(code).map_err(|_| H1Error::Protocol("status code out of range"))?;
    // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 closes it.
    let mut keep_alive = response.version == Some(1);
    let mut length: Option<usize> = None;
    let mut chunked = None;
    let mut content_encoding = None;
    let mut openrtb_version = None;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(h.value).ok_or(H1Error::Protocol("bad content-length"))?;
            if length.is_some_and(|seen| seen != n) {
                return Err(H1Error::Protocol("conflicting content-length"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only if it is the last coding (RFC 9112 §6.3 rule 4).
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-encoding") {
            content_encoding = HeaderValue::from_bytes(h.value).ok();
        } else if h.name.eq_ignore_ascii_case("x-openrtb-version") {
            openrtb_version = HeaderValue::from_bytes(h.value).ok();
        }
    }
    let framing = if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::None
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::UntilClose,
            (None, Some(0)) => Framing::None,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    if chunked.is_some() && length.is_some() {
        // Both framings at once is how request smuggling starts: never reuse it.
        keep_alive = false;
    }
    Ok(Some(Head {
        len,
        status,
        framing,
        keep_alive,
        content_encoding,
        openrtb_version,
    }))
}

/// A `Content-Length` value: ASCII digits only.
pub(crate) fn parse_length(value: &[u8]) -> Option<usize> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0')),
    )
}

/// A chunk-size line at the start of `input`: the size and the line's length with its CRLF;
/// `None` while incomplete. Chunk extensions are ignored.
fn parse_chunk_size(input: &[u8]) -> Result<Option<(usize, usize)>, H1Error> {
    let Some(end) = memchr::memchr(b'\n', input) else {
        return Ok(None);
    };
    let line = input[..end]
        .strip_suffix(b"\r")
        .ok_or(H1Error::Protocol("chunk size line without CRLF"))?;
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(H1Error::Protocol("bad chunk size"));
    }
    let mut size = 0usize;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(H1Error::Protocol("bad chunk size")),
        };
        size = size * 16 + usize::from(v);
    }
    Ok(Some((size, end + 1)))
}

/// Both parsers over arbitrary bytes (for `fuzz/`): errors, never panics.
#[cfg(fuzzing)]
pub(crate) fn fuzz_parsers(data: &[u8]) {
    if let Ok(Some(head)) = parse_head(data) {
        assert!(head.len <= data.len());
    }
    if let Ok(Some((_, line))) = parse_chunk_size(data) {
        assert!(line <= data.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// What the scripted bidder does after reading a request.
    enum Act {
        /// Write these bytes and wait for the next request.
        Answer(&'static [u8]),
        /// Write these bytes and close the connection.
        AnswerClose(&'static [u8]),
        /// Close without answering.
        Close,
    }

    /// A bidder that plays one script per accepted connection, in order; it returns every
    /// request it read.
    async fn scripted(script: Vec<Vec<Act>>) -> (Uri, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/bid?x=1", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for acts in script {
                let (mut io, _) = listener.accept().await.unwrap();
                for act in acts {
                    // The client may drop the connection: on to the next script.
                    let Some(request) = read_request(&mut io).await else {
                        break;
                    };
                    seen.push(request);
                    match act {
                        Act::Answer(bytes) => io.write_all(bytes).await.unwrap(),
                        Act::AnswerClose(bytes) => {
                            io.write_all(bytes).await.unwrap();
                            break;
                        }
                        Act::Close => break,
                    }
                }
            }
            seen
        });
        (uri, task)
    }

    async fn read_request(io: &mut TcpStream) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = io.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                assert!(buf.is_empty(), "client closed mid-request");
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = req.parse(&buf) {
                let len = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| {
                        std::str::from_utf8(h.value)
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                    })
                    .unwrap();
                if buf.len() >= head + len {
                    return Some(buf);
                }
            }
        }
    }

    fn forwarded_headers() -> Forwarded<'static> {
        Forwarded {
            content_type: None,
            content_encoding: Some(b"gzip"),
            openrtb_version: Some(b"2.6"),
        }
    }

    fn limits(max_body: usize) -> Limits {
        Limits {
            max_body,
            max_idle: 8,
        }
    }

    /// `{}` with no forwarded headers, answers up to 1 KiB.
    async fn post_empty(endpoint: &Endpoint) -> Result<Answer, H1Error> {
        endpoint
            .post(Forwarded::default(), b"{}", limits(1024), Instant::now())
            .await
    }

    const NO_BID: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

    #[tokio::test]
    async fn request_bytes_and_keep_alive_reuse() {
        let (uri, bidder) = scripted(vec![vec![
            Act::Answer(NO_BID),
            Act::Answer(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-OpenRTB-Version: 2.5\r\n\r\n{}",
            ),
        ]])
        .await;
        let endpoint = Endpoint::for_uri(&uri).unwrap();
        let a = endpoint
            .post(
                forwarded_headers(),
                b"{\"id\":1}",
                limits(1024),
                Instant::now(),
            )
            .await
            .unwrap();
        assert_eq!(a.status, StatusCode::NO_CONTENT);
        assert!(a.body.is_empty());
        let b = post_empty(&endpoint).await.unwrap();
        assert_eq!(b.status, StatusCode::OK);
        assert_eq!(&b.body[..], b"{}");
        assert_eq!(b.openrtb_version.unwrap(), "2.5");
        // Both on the one connection the script accepts.
        let seen = bidder.await.unwrap();
        let port = uri.port_u16().unwrap();
        assert_eq!(
            String::from_utf8(seen[0].clone()).unwrap(),
            format!(
                "POST /bid?x=1 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n\
                 content-encoding: gzip\r\nx-openrtb-version: 2.6\r\n\
                 content-length: 8\r\n\r\n{{\"id\":1}}"
            )
        );
        assert!(seen[1].ends_with(b"content-length: 2\r\n\r\n{}"));
    }

    #[test]
    fn host_header_leaves_out_userinfo_and_keeps_the_port() {
        let head = |url: &str| {
            let endpoint = Endpoint::for_uri(&url.parse().unwrap()).unwrap();
            String::from_utf8(endpoint.head.to_vec()).unwrap()
        };
        assert_eq!(
            head("http://user:secret@bidder.example:8080/rtb?a=1"),
            "POST /rtb?a=1 HTTP/1.1\r\nhost: bidder.example:8080\r\n"
        );
        assert_eq!(
            head("http://bidder.example"),
            "POST / HTTP/1.1\r\nhost: bidder.example\r\n"
        );
        assert_eq!(
            head("http://[::1]:9000/b"),
            "POST /b HTTP/1.1\r\nhost: [::1]:9000\r\n"
        );
        let endpoint = Endpoint::for_uri(&"http://[::1]:9000/b".parse().unwrap()).unwrap();
        assert_eq!((endpoint.host.as_str(), endpoint.port), ("::1", 9000));
        assert!(Endpoint::for_uri(&"https://bidder.example/".parse().unwrap()).is_none());
    }

    #[tokio::test]
    async fn chunked_body_with_extensions_and_trailers() {
        let (uri, bidder) = scripted(vec![vec![
            Act::Answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"a\"\r\nA\r\n:1234567}\n\r\n0\r\nx-trailer: y\r\n\r\n"),
            Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]"),
        ]])
        .await;
        let endpoint = Endpoint::for_uri(&uri).unwrap();
        let a = post_empty(&endpoint).await.unwrap();
        assert_eq!(&a.body[..], b"{\"a\":1234567}\n");
        // The connection was kept and is in step for the next answer.
        let b = post_empty(&endpoint).await.unwrap();
        assert_eq!(&b.body[..], b"[]");
        assert_eq!(bidder.await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn close_delimited_and_http10_answers_are_not_kept() {
        let (uri, bidder) = scripted(vec![
            vec![Act::AnswerClose(b"HTTP/1.1 200 OK\r\n\r\n{\"x\":1}")],
            vec![Act::AnswerClose(
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            )],
            vec![Act::Answer(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n[]",
            )],
            vec![Act::Answer(NO_BID)],
        ])
        .await;
        let endpoint = Endpoint::for_uri(&uri).unwrap();
        let a = post_empty(&endpoint).await.unwrap();
        assert_eq!(&a.body[..], b"{\"x\":1}");
        let b = post_empty(&endpoint).await.unwrap();
        assert_eq!(&b.body[..], b"{}");
        let c = post_empty(&endpoint).await.unwrap();
        assert_eq!(&c.body[..], b"[]");
        // Each answer above went on a connection of its own: the fourth script is reached.
        let d = post_empty(&endpoint).await.unwrap();
        assert_eq!(d.status, StatusCode::NO_CONTENT);
        assert_eq!(bidder.await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn idle_connection_closed_by_the_bidder_is_not_used() {
        let (uri, bidder) = scripted(vec![
            vec![Act::AnswerClose(NO_BID)],
            vec![Act::Answer(NO_BID)],
        ])
        .await;
        let endpoint = Endpoint::for_uri(&uri).unwrap();
        post_empty(&endpoint).await.unwrap();
        // Let the bidder's FIN arrive: the check before use sees it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let b = post_empty(&endpoint).await.unwrap();
        assert_eq!(b.status, StatusCode::NO_CONTENT);
        assert_eq!(
            bidder.await.unwrap().len(),
            2,
            "no request was lost on the closed one"
        );
    }

    #[tokio::test]
    async fn kept_connection_closed_under_the_request_is_retried_once() {
        let (uri, bidder) = scripted(vec![
            vec![Act::Answer(NO_BID), Act::Close],
            vec![Act::Answer(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
            )],
            vec![Act::Close],
        ])
        .await;
        let endpoint = Endpoint::for_uri(&uri).unwrap();
        post_empty(&endpoint).await.unwrap();
        let b = post_empty(&endpoint).await.unwrap();
        assert_eq!(&b.body[..], b"{}");
        // A new connection that closes before answering is an error, not retried again.
        drop(endpoint.checkout(Instant::now()));
        let c = post_empty(&endpoint).await;
        assert!(matches!(c, Err(H1Error::Closed)), "{c:?}");
        assert_eq!(bidder.await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_and_broken_framing_are_errors() {
        let (uri, bidder) = scripted(vec![
            vec![Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n01234567890")],
            vec![Act::Answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n")],
            vec![Act::Answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n012\r\n0\r\n\r\n")],
            vec![Act::AnswerClose(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234")],
            vec![Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")],
        ])
        .await;
        let endpoint = Endpoint::for_uri(&uri).unwrap();
        let post = || endpoint.post(Forwarded::default(), b"{}", limits(10), Instant::now());
        assert!(matches!(post().await, Err(H1Error::TooLarge)));
        assert!(matches!(post().await, Err(H1Error::TooLarge)));
        assert!(matches!(post().await, Err(H1Error::Protocol(_))));
        assert!(matches!(post().await, Err(H1Error::Closed)));
        // None of the broken connections was kept: the last script answers on a new one.
        assert_eq!(&post().await.unwrap().body[..], b"{}");
        assert_eq!(bidder.await.unwrap().len(), 5);
    }

    #[test]
    fn head_framing() {
        let head = |raw: &[u8]| parse_head(raw).unwrap().unwrap();
        assert!(matches!(
            head(b"HTTP/1.1 200 OK\r\n\r\n").framing,
            Framing::UntilClose
        ));
        assert!(matches!(
            head(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").framing,
            Framing::None
        ));
        assert!(matches!(
            head(b"HTTP/1.1 204 No Content\r\ncontent-length: 10\r\n\r\n").framing,
            Framing::None
        ));
        assert!(matches!(
            head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").framing,
            Framing::Chunked
        ));
        assert!(matches!(
            head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").framing,
            Framing::UntilClose
        ));
        let both =
            head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
        assert!(matches!(both.framing, Framing::Chunked));
        assert!(!both.keep_alive);
        assert!(!head(b"HTTP/1.0 204 No Content\r\n\r\n").keep_alive);
        assert!(head(b"HTTP/1.0 204 No Content\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!head(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-")
                .unwrap()
                .is_none()
        );
        for bad in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(parse_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1F\r\n").unwrap(), Some((31, 4)));
        assert_eq!(parse_chunk_size(b"0;name=v\r\n").unwrap(), Some((0, 10)));
        assert_eq!(parse_chunk_size(b"10").unwrap(), None);
        assert!(parse_chunk_size(b"zz\r\n").is_err());
        assert!(parse_chunk_size(b"\r\n").is_err());
        assert!(parse_chunk_size(b"1\n").is_err());
        assert!(parse_chunk_size(b"ffffffffffffffff\r\n").is_err());
    }
}
