//! Shared pieces of bidsieve's whole-server load tests (`loadtest/run` drives them).
//!
//! The helpers themselves are examples of this package (`stub_bidder`, `hyper204`, `seed`,
//! `uid2_tokens`, `probe`), so that `bidsieve` stays the workspace's only binary target. This
//! library holds what two of them, or them and the Python driver, must agree on:
//! - [`user_id`]: the generated user ids of the big user list (the driver's corpus generator
//!   computes the same ids to pick members and non-members);
//! - [`list_members`]: which ids a list generation holds;
//! - [`serve_http1`]: a minimal hyper accept loop for the stub servers;
//! - [`read_corpus`] / [`parse_corpus`]: the request corpora the driver writes (the probe sends them,
//!   `benches/examples/extract_loop` extracts them).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One step of the splitmix64 generator: a cheap, well-mixed 64-bit hash of `x`.
///
/// Python twin: `splitmix64` in `loadtest/gen_corpus.py`.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`-th generated user id: 32 lowercase hex characters, distinct for every `i`
/// (as the seed guide's user lists look).
pub fn user_id(i: u64, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(
        out,
        "{:016x}{:016x}",
        splitmix64(i.wrapping_mul(2)),
        splitmix64(i.wrapping_mul(2).wrapping_add(1))
    );
}

/// The id indexes list generation `generation` (1, 2, ...) of an `n`-entry user list holds:
/// generation 1 is `0..n`; each later one drops the oldest 1% and adds as many new ids, as a
/// daily refresh would. Ids in `n/100 * (g-1) .. n` belong to every generation up to `g`.
pub fn list_members(n: u64, generation: u64) -> std::ops::Range<u64> {
    let shift = (n / 100).saturating_mul(generation.saturating_sub(1));
    shift..shift.saturating_add(n)
}

/// Serves HTTP/1.1 on `listener` with `handler` until the process ends; connection errors are
/// ignored (a load generator closing its sockets is normal).
pub async fn serve_http1<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let conn = http.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await) }
            }),
        );
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// Parses `127.0.0.1:PORT`-style listen addresses, refusing anything but loopback.
///
/// # Errors
/// Not an address, or not a loopback one.
pub fn loopback_addr(text: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|e| anyhow::anyhow!("bad listen address {text:?}: {e}"))?;
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "the load tests bind loopback only, not {addr}"
    );
    Ok(addr)
}

/// Builds the runtime the stub servers use: `current_thread` (one core, no work stealing).
///
/// # Errors
/// The runtime cannot be built.
pub fn current_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// One request of a corpus.
pub struct CorpusRecord {
    /// The body is gzip-compressed (sent with `Content-Encoding: gzip`).
    pub gzip: bool,
    /// The body as sent.
    pub body: Bytes,
}

/// Reads the corpus file at `path`; see [`parse_corpus`].
///
/// # Errors
/// The file cannot be read, or [`parse_corpus`] refuses it.
pub fn read_corpus(path: &str) -> anyhow::Result<Vec<CorpusRecord>> {
    use anyhow::Context as _;
    let data = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    parse_corpus(&data)
}

/// Parses the corpus format `loadtest/run` writes: a `BSC1 <count>` line, then per record a
/// `<g|-> <pass|drop> <length>` line, the body, and a newline.
///
/// # Errors
/// `data` is not a `BSC1` corpus, is truncated or holds no record.
pub fn parse_corpus(data: &[u8]) -> anyhow::Result<Vec<CorpusRecord>> {
    use anyhow::Context as _;
    let mut pos = 0usize;
    let line = |pos: &mut usize| -> anyhow::Result<&str> {
        let rest = data.get(*pos..).context("corpus truncated")?;
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .context("corpus truncated")?;
        let text = std::str::from_utf8(rest.get(..end).unwrap_or_default())?;
        *pos += end + 1;
        Ok(text)
    };
    let head = line(&mut pos)?;
    let count: usize = head
        .strip_prefix("BSC1 ")
        .context("not a BSC1 corpus")?
        .trim()
        .parse()?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut parts = line(&mut pos)?.split(' ');
        let gzip = parts.next() == Some("g");
        let _expected = parts.next();
        let len: usize = parts.next().context("record length")?.parse()?;
        let body = data.get(pos..pos + len).context("corpus truncated")?;
        out.push(CorpusRecord {
            gzip,
            body: Bytes::copy_from_slice(body),
        });
        pos += len + 1;
    }
    anyhow::ensure!(!out.is_empty(), "empty corpus");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_values() {
        // Reference: splitmix64 seeded at 0 yields 0xe220a8397b1dcdaf first.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_ne!(splitmix64(1), splitmix64(2));
    }

    #[test]
    fn user_ids_are_32_hex_and_distinct() {
        let (mut a, mut b) = (String::new(), String::new());
        user_id(0, &mut a);
        user_id(1, &mut b);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn generations_overlap_by_99_percent() {
        assert_eq!(list_members(1000, 1), 0..1000);
        assert_eq!(list_members(1000, 2), 10..1010);
    }

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_addr("127.0.0.1:1").is_ok());
        assert!(loopback_addr("0.0.0.0:1").is_err());
        assert!(loopback_addr("nonsense").is_err());
    }
}
