//! A byte-counting TCP proxy on loopback: what a client and the server send
//! each other, headers and bodies, counted at the socket (as the PouchDB
//! peer's server hook counts them). It runs on its own OS thread so that its
//! CPU time can be told apart from the client's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
}

/// Bytes seen since the last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Client → server.
    pub up: u64,
    /// Server → client.
    pub down: u64,
    /// Connections accepted.
    pub connections: u64,
}

impl Traffic {
    /// Both directions.
    pub fn total(&self) -> u64 {
        self.up + self.down
    }
}

/// A running counting proxy.
pub struct CountingProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    counters: Arc<Counters>,
    thread_stat: String,
}

impl CountingProxy {
    /// Proxies a new loopback port to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let counters = Arc::new(Counters::default());
        let inner = counters.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("counting-proxy".into())
            .spawn(move || {
                let stat = std::fs::read_link("/proc/thread-self")
                    .map(|p| format!("/proc/{}/stat", p.display()))
                    .unwrap_or_default();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                    let addr = listener.local_addr().expect("addr");
                    let _ = tx.send((addr, stat));
                    while let Ok((client, _)) = listener.accept().await {
                        inner.connections.fetch_add(1, Ordering::Relaxed);
                        let counters = inner.clone();
                        tokio::spawn(async move {
                            if let Ok(server) = TcpStream::connect(upstream).await {
                                relay(client, server, counters).await;
                            }
                        });
                    }
                });
            })
            .expect("proxy thread");
        let (addr, thread_stat) = rx.recv().expect("the proxy starts");
        Self {
            url: format!("http://{addr}"),
            counters,
            thread_stat,
        }
    }

    /// Bytes since the last reset.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            up: self.counters.up.load(Ordering::Relaxed),
            down: self.counters.down.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
        }
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        self.counters.up.store(0, Ordering::Relaxed);
        self.counters.down.store(0, Ordering::Relaxed);
        self.counters.connections.store(0, Ordering::Relaxed);
    }

    /// CPU seconds the proxy's thread has used (to subtract from the
    /// client process's time).
    pub fn cpu_seconds(&self) -> f64 {
        if self.thread_stat.is_empty() {
            return 0.0;
        }
        crate::process::cpu_seconds_of(&self.thread_stat)
    }
}

async fn relay(client: TcpStream, server: TcpStream, counters: Arc<Counters>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pipe(cr, sw, counters.clone(), true);
    let down = pipe(sr, cw, counters, false);
    let _ = tokio::join!(up, down);
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counters: Arc<Counters>,
    upward: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let counter = if upward { &counters.up } else { &counters.down };
        counter.fetch_add(n as u64, Ordering::Relaxed);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
