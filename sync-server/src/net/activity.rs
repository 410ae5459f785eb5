//! What a connection is doing, and when it has been silent or slow for too
//! long: the clock behind the header, idle and stall timeouts.
//!
//! The socket is wrapped in [`Tracked`], which notes every byte read or
//! written and every write that has to wait for the peer; the request
//! handler notes when a request starts and when its response is done
//! ([`Activity::request_started`]). [`Activity::expired`] resolves when one
//! of the limits is passed:
//!
//! - **head**: a connection must deliver a complete request head within the
//!   header timeout of opening (the TLS handshake included) or of the first
//!   byte after the previous response. A peer trickling a byte a second
//!   (slowloris) is cut at the deadline, however lively it looks.
//! - **idle**: with no request in progress, a connection that moves no byte
//!   for the idle timeout is closed (keep-alive between requests).
//! - **stalled write**: a response the peer stops reading (a write waiting for
//!   the peer's window) is cut after the body idle timeout without progress;
//!   a slow but live download keeps going.
//!
//! A request body that stops arriving is cut by the body itself
//! (`tower_http::timeout::TimeoutBody`, see [`super`]): only the handler
//! knows when it is waiting for body bytes rather than working.
//!
//! hyper's own `header_read_timeout` is not used: its timer starts when the
//! connection begins waiting for a request, so it would close keep-alive
//! connections after the (short) header timeout as well.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// "Not set" for the millisecond marks.
const NONE: u64 = u64::MAX;

/// The connection limits, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To deliver a complete request head.
    pub header: Duration,
    /// Without a byte and without a request in progress.
    pub idle: Duration,
    /// Between bytes of a request body, or of a response the peer is not reading.
    pub body_idle: Duration,
}

impl Timeouts {
    /// The longest the watchdog sleeps before looking again: short enough to
    /// notice a head or a stalled write that began while it slept.
    fn tick(&self) -> Duration {
        self.header
            .min(self.idle)
            .min(self.body_idle)
            .max(Duration::from_millis(10))
    }
}

/// Why a connection was closed by its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The request head (or the TLS handshake) did not complete in time.
    Head,
    /// No byte moved, and no request was in progress.
    Idle,
    /// The peer stopped reading a response.
    StalledWrite,
}

impl Expiry {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Expiry::Head => "header_timeout",
            Expiry::Idle => "idle_timeout",
            Expiry::StalledWrite => "write_stalled",
        }
    }
}

/// The clock of one connection. Times are milliseconds since it opened.
#[derive(Debug)]
pub struct Activity {
    origin: Instant,
    /// The last byte read or written.
    last: AtomicU64,
    /// When the request head now awaited began ([`NONE`]: no head pending).
    head: AtomicU64,
    /// Since when a write has been waiting for the peer ([`NONE`]: none is).
    write_blocked: AtomicU64,
    /// Requests whose response is not done yet.
    in_flight: AtomicUsize,
}

impl Activity {
    /// A connection that has just opened: its first head is awaited.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            head: AtomicU64::new(0),
            write_blocked: AtomicU64::new(NONE),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn read(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let now = self.now();
        self.last.store(now, Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            // The first byte of the next request starts its head's clock.
            let _ = self
                .head
                .compare_exchange(NONE, now, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    fn wrote(&self, bytes: usize) {
        self.write_blocked.store(NONE, Ordering::SeqCst);
        if bytes > 0 {
            self.last.store(self.now(), Ordering::SeqCst);
        }
    }

    fn write_waits(&self) {
        let now = self.now();
        let _ = self
            .write_blocked
            .compare_exchange(NONE, now, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// A request's head has arrived; the guard marks its response done when
    /// dropped (with the response body, or with the handler if it never answers).
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head.store(NONE, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    /// When the connection expires if nothing changes, and why (`None`:
    /// not while a request is in progress and its response is flowing).
    fn deadline(&self, limits: &Timeouts) -> Option<(u64, Expiry)> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(NONE / 2);
        let mut soonest: Option<(u64, Expiry)> = None;
        let mut consider = |at: u64, why: Expiry| {
            if soonest.is_none_or(|(t, _)| at < t) {
                soonest = Some((at, why));
            }
        };
        let blocked = self.write_blocked.load(Ordering::SeqCst);
        if blocked != NONE {
            consider(
                blocked.saturating_add(ms(limits.body_idle)),
                Expiry::StalledWrite,
            );
        }
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let last = self.last.load(Ordering::SeqCst);
            consider(last.saturating_add(ms(limits.idle)), Expiry::Idle);
            let head = self.head.load(Ordering::SeqCst);
            if head != NONE {
                consider(head.saturating_add(ms(limits.header)), Expiry::Head);
            }
        }
        soonest
    }

    /// Resolves when the connection has passed one of its limits.
    pub async fn expired(&self, limits: Timeouts) -> Expiry {
        let tick = limits.tick();
        loop {
            let now = self.now();
            let wait = match self.deadline(&limits) {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => Duration::from_millis(at - now).min(tick),
                None => tick,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request in progress; dropping it marks the response done.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // `last` first, so the idle clock never starts from before the response.
        self.0.last.store(self.0.now(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A socket (or any byte stream) that reports to an [`Activity`].
#[derive(Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.activity.read(buf.filled().len() - before);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> Tracked<S> {
    fn note_write(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) => self.activity.wrote(*n),
            Poll::Ready(Err(_)) => {}
            Poll::Pending => self.activity.write_waits(),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note_write(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note_write(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Timeouts = Timeouts {
        header: Duration::from_millis(100),
        idle: Duration::from_millis(600),
        body_idle: Duration::from_millis(300),
    };

    fn at(ms: u64) -> Activity {
        // An activity whose clock reads `ms` now.
        Activity {
            origin: Instant::now() - Duration::from_millis(ms),
            ..Activity::new()
        }
    }

    #[test]
    fn a_new_connection_owes_a_head_within_the_header_timeout() {
        let a = at(0);
        assert_eq!(a.deadline(&LIMITS), Some((100, Expiry::Head)));
    }

    #[test]
    fn trickled_bytes_do_not_move_the_head_deadline() {
        let a = at(90);
        a.read(1);
        assert_eq!(a.deadline(&LIMITS), Some((100, Expiry::Head)));
    }

    #[test]
    fn between_requests_the_idle_timeout_counts_from_the_last_byte() {
        let a = Arc::new(at(50));
        let request = a.request_started();
        a.read(500); // the body
        assert_eq!(
            a.deadline(&LIMITS),
            None,
            "no limit while a request is handled"
        );
        drop(request);
        let (deadline, why) = a.deadline(&LIMITS).expect("idle now");
        assert_eq!(why, Expiry::Idle);
        assert!((650..700).contains(&deadline), "{deadline}");
        a.read(1); // the next request begins
        let (deadline, why) = a.deadline(&LIMITS).expect("a head is pending");
        assert_eq!(why, Expiry::Head);
        assert!((150..200).contains(&deadline), "{deadline}");
    }

    #[test]
    fn a_write_waiting_for_the_peer_expires_after_the_body_idle_timeout() {
        let a = Arc::new(at(1_000));
        let _request = a.request_started();
        a.write_waits();
        a.write_waits(); // still the first wait's clock
        let (deadline, why) = a.deadline(&LIMITS).expect("a stalled write");
        assert_eq!(why, Expiry::StalledWrite);
        assert!((1_300..1_350).contains(&deadline), "{deadline}");
        a.wrote(10);
        assert_eq!(a.deadline(&LIMITS), None);
    }
}
