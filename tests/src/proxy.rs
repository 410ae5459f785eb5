//! A TCP proxy on loopback that misbehaves on purpose, for the first few
//! connections: it loses the server's answer after the server committed, or
//! cuts or stalls the request part-way through its body.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to a faulty connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward the request; hang up on the client as soon as the server
    /// starts answering (the server has committed; the client never hears).
    LoseAnswer,
    /// Forward this many request bytes, then hang up both sides.
    CutRequestAfter(usize),
    /// Forward this many request bytes, then stall (until the client gives up or dies).
    StallRequestAfter(usize),
}

/// A running proxy.
pub struct FaultyProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// How many connections were hurt.
    pub hurt: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultyProxy {
    /// Proxies to `upstream`, applying `fault` to the first `count` requests
    /// that contain `only` (e.g. `b"PUT /v1/blobs"`, or `b""` for any).
    pub async fn start(
        upstream: SocketAddr,
        fault: Fault,
        count: usize,
        only: &'static [u8],
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hurt = Arc::new(AtomicUsize::new(0));
        let counter = hurt.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = relay(client, upstream, fault, count, only, counter).await;
                });
            }
        });
        Self { url, hurt, task }
    }

    /// How many connections were hurt so far.
    pub fn hurt(&self) -> usize {
        self.hurt.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Relays one connection. The fault arms on the first request (on this
/// connection, which may carry several) that contains `only`, if a fault slot
/// is left; counting for cuts and stalls starts at that request.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    count: usize,
    only: &'static [u8],
    hurt: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let armed_up = armed.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        let mut armed_at: Option<usize> = None;
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = sw.shutdown().await;
                    return;
                }
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            if armed_at.is_none() {
                if let Some(pos) = find(chunk, only) {
                    let claimed = hurt
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                            (h < count).then_some(h + 1)
                        })
                        .is_ok();
                    if claimed {
                        armed_at = Some(sent + pos);
                        armed_up.store(true, Ordering::SeqCst);
                    }
                }
            }
            let limit = match (armed_at, fault) {
                (Some(at), Fault::CutRequestAfter(l) | Fault::StallRequestAfter(l)) => Some(at + l),
                _ => None,
            };
            let take = limit.map_or(n, |l| n.min(l.saturating_sub(sent)));
            if sw.write_all(&chunk[..take]).await.is_err() {
                return;
            }
            sent += take;
            if limit.is_some_and(|l| sent >= l) {
                if let Fault::StallRequestAfter(_) = fault {
                    std::future::pending::<()>().await;
                }
                return; // cut: both halves dropped
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = sr.read(&mut buf) => read?,
            _ = wait_finished(&up) => 0,
        };
        if n == 0 {
            break;
        }
        if fault == Fault::LoseAnswer && armed.load(Ordering::SeqCst) {
            // The server has answered the armed request, so it has committed. Hang up.
            up.abort();
            return Ok(());
        }
        cw.write_all(&buf[..n]).await?;
    }
    let _ = cw.shutdown().await;
    up.abort();
    Ok(())
}

/// Resolves when the upstream half has ended because of a cut.
async fn wait_finished(task: &tokio::task::JoinHandle<()>) {
    while !task.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
