//! A TCP proxy on loopback that loses answers: it forwards requests to the
//! server, and for the first `lose` connections, closes the client side as
//! soon as the server starts answering — the server has committed, the client
//! never hears of it. (A lost acknowledgement, for real.)

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy.
pub struct LossyProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// How many answers were lost.
    pub lost: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    /// Proxies to `upstream`, losing the answers of the first `lose` connections.
    pub async fn start(upstream: SocketAddr, lose: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let lost = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = lost.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let lose_this = seen.fetch_add(1, Ordering::SeqCst) < lose;
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = relay(client, upstream, lose_this, counter).await;
                });
            }
        });
        Self { url, lost, task }
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    lose: bool,
    lost: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = sr.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if lose {
            // The server has answered, so it has committed. Hang up on the client.
            lost.fetch_add(1, Ordering::SeqCst);
            up.abort();
            return Ok(());
        }
        cw.write_all(&buf[..n]).await?;
    }
    let _ = cw.shutdown().await;
    up.abort();
    Ok(())
}
