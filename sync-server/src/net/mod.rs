//! The network side of the server: accepting connections, at most
//! `max_connections` at once ([`slots`]); TLS ([`tls`]); and the timeouts that
//! keep a silent or slow peer from holding a connection ([`activity`]: request
//! head, idle keep-alive, a response the peer stopped reading; a request body
//! that stops arriving is cut by `TimeoutBody` here).
//!
//! HTTP/1.1 only: the devices' client and the review pages' browsers (behind
//! a proxy, or through the server's own TLS, which offers only `http/1.1`)
//! speak it, and HTTP/2 would need limits of its own.

mod activity;
pub mod slots;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

pub use activity::Timeouts;
use activity::{Activity, InFlight, Tracked};
use slots::Slots;

use crate::config::Config;

/// The connection limits of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The timeouts.
    pub timeouts: Timeouts,
    /// Most connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits `config` asks for, the cap lowered to fit the process's
    /// open-file limit (see [`slots::fitting_cap`]).
    pub fn of(config: &Config) -> Self {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        let wanted = config.max_connections;
        let max_connections = match slots::open_file_limit() {
            Some(files) => slots::fitting_cap(wanted, files),
            None => wanted.max(1),
        };
        if max_connections < wanted {
            tracing::warn!(
                wanted,
                max_connections,
                "max_connections lowered to fit the open-file limit (raise it with ulimit -n or LimitNOFILE)"
            );
        }
        Self {
            timeouts: Timeouts {
                header: secs(config.header_timeout_secs),
                idle: secs(config.idle_timeout_secs),
                body_idle: secs(config.body_idle_timeout_secs),
            },
            max_connections,
        }
    }
}

/// Serves `router` on `listener` (over TLS if `tls` is given) until
/// `shutdown` resolves; then stops accepting, lets each connection finish
/// its request in flight and waits for them all.
pub async fn serve(
    router: Router,
    limits: Limits,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    crate::http::metrics_handle();
    let slots = Slots::new(limits.max_connections);
    // Connection tasks hold a receiver each: all are gone when `closed` resolves.
    let (done_tx, done_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let conn = Connection {
            router: router.clone(),
            timeouts: limits.timeouts,
            tls: tls.clone(),
            peer,
            stop: stop_rx.clone(),
            _done: done_rx.clone(),
        };
        if let Some(slot) = slots.try_take() {
            tokio::spawn(conn.run(stream, slot));
        } else {
            let slots = slots.clone();
            tokio::spawn(async move {
                match slots.wait_for_one().await {
                    Some(slot) => conn.run(stream, slot).await,
                    None => {
                        metrics::counter!("beatbook_connections_refused_total").increment(1);
                        tracing::debug!("connection refused: all slots taken");
                    }
                }
            });
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
}

/// A failed `accept` never stops the server. Out of file descriptors (or
/// memory), it pauses so the connections in progress can finish.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection: pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One accepted connection and what it needs.
struct Connection {
    router: Router,
    timeouts: Timeouts,
    tls: Option<TlsAcceptor>,
    peer: SocketAddr,
    /// Turns true when the server shuts down.
    stop: watch::Receiver<bool>,
    /// Dropped when the connection is done.
    _done: watch::Receiver<()>,
}

impl Connection {
    /// Serves the connection until it ends or its watchdog expires; `slot`
    /// is given back when it closes.
    async fn run(self, stream: TcpStream, slot: OwnedSemaphorePermit) {
        let _open = OpenGauge::new();
        let activity = Arc::new(Activity::new());
        let timeouts = self.timeouts;
        let io = Tracked::new(stream, Arc::clone(&activity));
        tokio::select! {
            why = activity.expired(timeouts) => {
                metrics::counter!("beatbook_connections_closed_total", "reason" => why.label())
                    .increment(1);
                tracing::debug!(reason = why.label(), "connection closed");
            }
            () = self.serve(io, Arc::clone(&activity)) => {}
        }
        drop(slot);
    }

    async fn serve(self, io: Tracked<TcpStream>, activity: Arc<Activity>) {
        match self.tls.clone() {
            None => self.http(io, activity).await,
            Some(acceptor) => match acceptor.accept(io).await {
                Ok(tls) => self.http(tls, activity).await,
                Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
            },
        }
    }

    async fn http<I>(self, io: I, activity: Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            router,
            timeouts,
            peer,
            mut stop,
            ..
        } = self;
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let in_flight = activity.request_started();
            let mut request =
                request.map(|body| Body::new(TimeoutBody::new(timeouts.body_idle, body)));
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| Answer {
                    body,
                    _in_flight: in_flight,
                }))
            }
        });
        let mut conn =
            pin!(hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(io), service));
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = stop.wait_for(|stop| *stop), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A response body that keeps its request "in flight" until it is sent (or dropped).
struct Answer {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Counts a connection in `beatbook_connections_open` while it lives.
struct OpenGauge;

impl OpenGauge {
    fn new() -> Self {
        metrics::gauge!("beatbook_connections_open").increment(1.0);
        Self
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::gauge!("beatbook_connections_open").decrement(1.0);
    }
}
