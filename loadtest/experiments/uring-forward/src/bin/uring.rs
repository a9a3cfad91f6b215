//! The forwarder on io_uring (tokio-uring): reads and writes are submitted to the ring and
//! completed by the kernel, so the thread enters the kernel once per batch instead of once
//! per socket operation. `--coop` sets up the ring with `IORING_SETUP_COOP_TASKRUN` and
//! `IORING_SETUP_SINGLE_ISSUER` (completions without interrupting the thread).

use std::io;
use std::net::SocketAddr;

use tokio_uring::buf::BoundedBuf;
use tokio_uring::net::{TcpListener, TcpStream};
use uring_forward::{addresses, complete};

fn main() -> io::Result<()> {
    let (listen, bidder) = addresses();
    let mut ring = tokio_uring::uring_builder();
    if std::env::args().any(|a| a == "--coop") {
        ring.setup_coop_taskrun().setup_single_issuer();
    }
    tokio_uring::builder()
        .entries(1024)
        .uring_builder(&ring)
        .start(async move {
            let listener = TcpListener::bind(listen)?;
            loop {
                let (client, _) = listener.accept().await?;
                client.set_nodelay(true)?;
                tokio_uring::spawn(async move {
                    let _ = serve(client, bidder).await;
                });
            }
        })
}

async fn serve(client: TcpStream, bidder: SocketAddr) -> io::Result<()> {
    let upstream = TcpStream::connect(bidder).await?;
    upstream.set_nodelay(true)?;
    let mut request = Vec::with_capacity(16 * 1024);
    let mut answer = Vec::with_capacity(16 * 1024);
    // The ring owns a buffer while an operation is in flight: each write goes from its own.
    let mut out = Vec::with_capacity(16 * 1024);
    loop {
        let n;
        (n, request) = read_message(&client, request, true).await?;
        let Some(n) = n else { return Ok(()) };
        out = send_front(&upstream, &mut request, n, out).await?;
        let m;
        (m, answer) = read_message(&upstream, answer, false).await?;
        let Some(m) = m else { return Ok(()) };
        out = send_front(&client, &mut answer, m, out).await?;
    }
}

/// Moves the first `n` bytes of `buf` into `out`, writes them to `to`, and gives `out` back.
async fn send_front(
    to: &TcpStream,
    buf: &mut Vec<u8>,
    n: usize,
    mut out: Vec<u8>,
) -> io::Result<Vec<u8>> {
    out.clear();
    out.extend_from_slice(&buf[..n]);
    buf.drain(..n);
    let (written, out) = to.write_all(out).await;
    written.map(|()| out)
}

async fn read_message(
    io: &TcpStream,
    mut buf: Vec<u8>,
    request: bool,
) -> io::Result<(Option<usize>, Vec<u8>)> {
    loop {
        if let Some(n) = complete(&buf, request) {
            return Ok((Some(n), buf));
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        // Read into the spare capacity after what is already there.
        let (start, end) = (buf.len(), buf.capacity());
        let (read, slice) = io.read(buf.slice(start..end)).await;
        buf = slice.into_inner();
        if read? == 0 {
            return Ok((None, buf));
        }
    }
}
