//! A TCP proxy on loopback that misbehaves on purpose: it loses the server's
//! answer after the server committed, cuts, stalls or resets a request
//! part-way through its body, truncates or resets an answer mid-body,
//! refuses connections, or delays everything. Either for the first few
//! requests that match ([`FaultyProxy::start`]), or at random on a share of
//! the connections ([`FaultyProxy::start_random`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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
    /// Forward this many request bytes, then reset both sides (TCP RST).
    ResetRequestAfter(usize),
    /// Forward this many bytes of the server's answer, then close the
    /// client's side (a truncated answer; the server has committed).
    TruncateAnswerAfter(usize),
    /// Forward this many bytes of the server's answer, then reset the
    /// client's side (TCP RST mid-body).
    ResetAnswerAfter(usize),
    /// Accept the connection and drop it at once, before any byte
    /// (a dropped connection; nothing reaches the server).
    Refuse,
    /// Forward everything, each chunk this many milliseconds late, both ways.
    Delay(u64),
}

impl Fault {
    fn resets(self) -> bool {
        matches!(
            self,
            Fault::ResetRequestAfter(_) | Fault::ResetAnswerAfter(_)
        )
    }
}

/// How faults are handed out.
enum Plan {
    /// `fault` on the first `count` requests containing `only`.
    First {
        fault: Fault,
        count: usize,
        only: &'static [u8],
    },
    /// On each new connection, with probability `p`, one of `faults` at
    /// random (at most `max` in all), armed at its first request.
    Random {
        faults: Vec<Fault>,
        p: f64,
        max: usize,
        rng: Box<Mutex<StdRng>>,
    },
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
        Self::start_plan(upstream, Plan::First { fault, count, only }).await
    }

    /// Proxies to `upstream`; each new connection gets, with probability
    /// `p`, one of `faults` chosen at random (seeded: a failing run can be
    /// replayed), at most `max` faults in all.
    pub async fn start_random(
        upstream: SocketAddr,
        faults: &[Fault],
        p: f64,
        max: usize,
        seed: u64,
    ) -> Self {
        Self::start_plan(
            upstream,
            Plan::Random {
                faults: faults.to_vec(),
                p,
                max,
                rng: Box::new(Mutex::new(StdRng::seed_from_u64(seed))),
            },
        )
        .await
    }

    async fn start_plan(upstream: SocketAddr, plan: Plan) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let hurt = Arc::new(AtomicUsize::new(0));
        let counter = hurt.clone();
        let plan = Arc::new(plan);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                let plan = plan.clone();
                tokio::spawn(async move {
                    let _ = relay(client, upstream, &plan, counter).await;
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

/// Claims one of `max` fault slots.
fn claim(hurt: &AtomicUsize, max: usize) -> bool {
    hurt.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
        (h < max).then_some(h + 1)
    })
    .is_ok()
}

/// Relays one connection. With [`Plan::First`] the fault arms on the first
/// request (on this connection, which may carry several) that contains
/// `only`, if a fault slot is left; counting for cuts and stalls starts at
/// that request. With [`Plan::Random`] the connection's fault, if any, is
/// drawn when it opens and arms at its first request.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    plan: &Plan,
    hurt: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let (fault, only, drawn): (Option<Fault>, &'static [u8], bool) = match plan {
        Plan::First { fault, only, .. } => (Some(*fault), only, false),
        Plan::Random {
            faults,
            p,
            max,
            rng,
        } => {
            let pick = {
                let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
                (!faults.is_empty() && rng.gen_bool(p.clamp(0.0, 1.0)))
                    .then(|| faults[rng.gen_range(0..faults.len())])
            };
            match pick {
                Some(f) if claim(&hurt, *max) => (Some(f), b"", true),
                _ => (None, b"", false),
            }
        }
    };
    if drawn && fault == Some(Fault::Refuse) {
        let _ = client.set_zero_linger();
        return Ok(()); // dropped: reset before a byte is read
    }
    let server = TcpStream::connect(upstream).await?;
    if fault.is_some_and(Fault::resets) {
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
    let delay = match fault {
        Some(Fault::Delay(ms)) if drawn || matches!(plan, Plan::First { .. }) => {
            Some(Duration::from_millis(ms))
        }
        _ => None,
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let armed = Arc::new(AtomicBool::new(false));
    let armed_up = armed.clone();
    let hurt_up = hurt.clone();
    let first_count = match plan {
        Plan::First { count, .. } => Some(*count),
        Plan::Random { .. } => None,
    };
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
            if armed_at.is_none() && fault.is_some() {
                if let Some(pos) = find(chunk, only) {
                    // Random faults claimed their slot when drawn.
                    let claimed = match first_count {
                        Some(count) => claim(&hurt_up, count),
                        None => drawn,
                    };
                    if claimed {
                        armed_at = Some(sent + pos);
                        armed_up.store(true, Ordering::SeqCst);
                    }
                }
            }
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            let limit = match (armed_at, fault) {
                (
                    Some(at),
                    Some(
                        Fault::CutRequestAfter(l)
                        | Fault::StallRequestAfter(l)
                        | Fault::ResetRequestAfter(l),
                    ),
                ) => Some(at + l),
                (Some(at), Some(Fault::Refuse)) => Some(at),
                _ => None,
            };
            let take = limit.map_or(n, |l| n.min(l.saturating_sub(sent)));
            if sw.write_all(&chunk[..take]).await.is_err() {
                return;
            }
            sent += take;
            if limit.is_some_and(|l| sent >= l) {
                if let Some(Fault::StallRequestAfter(_)) = fault {
                    std::future::pending::<()>().await;
                }
                return; // cut or reset: both halves dropped
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut answered = 0usize;
    loop {
        let n = tokio::select! {
            read = sr.read(&mut buf) => read?,
            _ = wait_finished(&up) => 0,
        };
        if n == 0 {
            break;
        }
        let is_armed = armed.load(Ordering::SeqCst);
        match fault {
            Some(Fault::LoseAnswer) if is_armed => {
                // The server has answered the armed request, so it has committed. Hang up.
                up.abort();
                return Ok(());
            }
            Some(Fault::TruncateAnswerAfter(l) | Fault::ResetAnswerAfter(l)) if is_armed => {
                let take = n.min(l.saturating_sub(answered));
                cw.write_all(&buf[..take]).await?;
                answered += take;
                if answered >= l {
                    up.abort();
                    if matches!(fault, Some(Fault::TruncateAnswerAfter(_))) {
                        let _ = cw.shutdown().await;
                    }
                    return Ok(()); // halves dropped (with RST where lingering is 0)
                }
                continue;
            }
            _ => {}
        }
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
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
