//! The forwarder on tokio's readiness model: epoll, then `recvfrom`/`sendto` per message.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uring_forward::{addresses, complete};

fn main() -> io::Result<()> {
    let (listen, bidder) = addresses();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(listen).await?;
        loop {
            let (client, _) = listener.accept().await?;
            client.set_nodelay(true)?;
            tokio::task::spawn_local(async move {
                let _ = serve(client, bidder).await;
            });
        }
    })
}

async fn serve(mut client: TcpStream, bidder: std::net::SocketAddr) -> io::Result<()> {
    let mut upstream = TcpStream::connect(bidder).await?;
    upstream.set_nodelay(true)?;
    let mut request = Vec::with_capacity(16 * 1024);
    let mut answer = Vec::with_capacity(16 * 1024);
    loop {
        let Some(n) = read_message(&mut client, &mut request, true).await? else {
            return Ok(());
        };
        upstream.write_all(&request[..n]).await?;
        request.drain(..n);
        let Some(m) = read_message(&mut upstream, &mut answer, false).await? else {
            return Ok(());
        };
        client.write_all(&answer[..m]).await?;
        answer.drain(..m);
    }
}

async fn read_message(
    io: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: bool,
) -> io::Result<Option<usize>> {
    loop {
        if let Some(n) = complete(buf, request) {
            return Ok(Some(n));
        }
        if io.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}
