//! Hostile connections: a peer that trickles its request head (slowloris),
//! floods the server with idle connections, or stalls its body must not hold
//! the server, and must not keep real clients from being served. Also TLS in
//! the server itself, and who may read `/metrics`.
//!
//! Raw TCP on 127.0.0.1 where a well-behaved client would not do what the
//! attack needs; every wait is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use beatbook_schema::protocol::{ErrorBody, ErrorCode};
use beatbook_tests::{TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Slack for scheduling on a busy two-core test machine.
const SLACK: Duration = Duration::from_millis(1500);

/// How long after `since` the server closed `stream` (EOF or reset),
/// reading and discarding whatever it sends; `None` if still open at `limit`.
async fn closed_after(stream: &mut TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(since.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// Whether the server still holds `stream` open (nothing to read, no EOF).
fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Sends a request head one byte a second, never finishing it; returns how
/// long after connecting the server closed the connection (`None`: not
/// within `limit`).
async fn trickle_head(addr: SocketAddr, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let mut bytes = head.iter().chain(std::iter::repeat(&b'a'));
    let mut buf = [0u8; 1024];
    while started.elapsed() < limit {
        let byte = *bytes.next().unwrap_or(&b'a');
        if stream.write_all(&[byte]).await.is_err() {
            return Some(started.elapsed());
        }
        // A second between bytes, or the server closing in the meantime.
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(1..)) => {}
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_at_the_header_timeout_while_real_clients_are_served() {
    const HEADER: Duration = Duration::from_secs(3);
    let server = TestServer::start_with(|c| c.header_timeout_secs = HEADER.as_secs()).await;
    let mut attackers = JoinSet::new();
    for _ in 0..50 {
        let addr = server.addr;
        attackers.spawn(trickle_head(addr, HEADER + Duration::from_secs(6)));
    }

    // A real client asks every 250 ms throughout, on fresh connections.
    let started = Instant::now();
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    while started.elapsed() < HEADER + SLACK {
        let http = reqwest::Client::new();
        let asked = Instant::now();
        let res = http
            .get(format!("{}/healthz", server.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .expect("a real client is served during the attack");
        assert_eq!(res.status(), StatusCode::OK);
        answered += 1;
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let mut cut = Vec::new();
    while let Some(closed) = attackers.join_next().await {
        cut.push(
            closed
                .expect("attacker task")
                .expect("the server cut the slow head"),
        );
    }
    let (first, last) = (cut.iter().min().copied(), cut.iter().max().copied());
    println!(
        "50 slow heads cut after {first:?}..{last:?} (header timeout {HEADER:?}); \
         {answered} real requests answered meanwhile, slowest {slowest:?}"
    );
    assert_eq!(cut.len(), 50);
    for after in cut {
        assert!(
            after + Duration::from_millis(300) >= HEADER && after <= HEADER + SLACK,
            "a slow head was cut after {after:?}, not at the header timeout {HEADER:?}"
        );
    }
    assert!(answered >= 10, "only {answered} real requests answered");
    assert!(
        slowest < Duration::from_secs(1),
        "a real request took {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_connections_wait_briefly_then_are_closed() {
    const CAP: usize = 20;
    const HEADER: Duration = Duration::from_secs(4);
    let server = TestServer::start_with(|c| {
        c.max_connections = CAP;
        c.header_timeout_secs = HEADER.as_secs();
    })
    .await;

    // 20 idle connections take every slot ...
    let opened = Instant::now();
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // ... so 20 more wait (at most a second) and are closed.
    let mut extra = JoinSet::new();
    for _ in 0..CAP {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        extra.spawn(async move {
            let since = Instant::now();
            closed_after(&mut stream, since, HEADER + SLACK).await
        });
    }
    let mut refused = Vec::new();
    while let Some(closed) = extra.join_next().await {
        refused.push(
            closed
                .expect("task")
                .expect("a connection beyond the cap is closed"),
        );
    }
    let slowest_refusal = refused.iter().max().copied().unwrap_or_default();
    assert!(
        slowest_refusal <= beatbook_server::net::slots::WAIT + SLACK,
        "a connection beyond the cap was held {slowest_refusal:?}"
    );
    assert!(
        held.iter().all(still_open),
        "the first {CAP} connections keep their slots"
    );

    // The held ones are idle heads: cut at the header timeout, freeing the slots.
    let mut cut = Vec::new();
    for stream in &mut held {
        cut.push(
            closed_after(stream, opened, HEADER + SLACK * 2)
                .await
                .expect("an idle connection is cut at the header timeout"),
        );
    }
    let last_cut = cut.iter().max().copied().unwrap_or_default();
    println!(
        "cap {CAP}: {CAP} extra connections closed within {slowest_refusal:?}; \
         the {CAP} held ones cut after {:?}..{last_cut:?}",
        cut.iter().min()
    );
    assert!(cut
        .iter()
        .all(|&after| after + Duration::from_millis(300) >= HEADER));

    let res = reqwest::get(format!("{}/healthz", server.url))
        .await
        .expect("served once slots are free");
    assert_eq!(res.status(), StatusCode::OK);
}

/// Writes a request head for `/v1/enroll` with a JSON body of `length` bytes.
async fn enroll_head(stream: &mut TcpStream, length: usize) {
    let head = format!(
        "POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
}

/// Reads an HTTP/1.1 response until the server closes; the status and body.
async fn read_response(stream: &mut TcpStream, limit: Duration) -> (u16, String) {
    let mut raw = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_cut_and_a_slow_steady_one_goes_through() {
    const BODY_IDLE: Duration = Duration::from_secs(2);
    let server = TestServer::start_with(|c| c.body_idle_timeout_secs = BODY_IDLE.as_secs()).await;
    let body = json!({
        "badge": "o1",
        "password": PASSWORD,
        "device_id": uuid::Uuid::now_v7(),
        "device_name": "slow phone",
    })
    .to_string();

    // A body that stops a quarter of the way: answered 408 at the body idle timeout.
    let mut stalled = TcpStream::connect(server.addr).await.expect("connect");
    enroll_head(&mut stalled, body.len()).await;
    stalled
        .write_all(&body.as_bytes()[..body.len() / 4])
        .await
        .expect("a quarter of the body");
    let since = Instant::now();
    let (status, answer) = read_response(&mut stalled, BODY_IDLE + SLACK * 2).await;
    let cut_after = since.elapsed();
    assert_eq!(status, 408, "{answer}");
    let error: ErrorBody = serde_json::from_str(&answer).expect("a JSON error body");
    assert!(error.code.is_retryable(), "{error:?}");
    assert_eq!(error.code, ErrorCode::Internal);
    assert!(!error.message.zh.is_empty() && error.message.en.contains("stopped arriving"));
    assert!(
        cut_after + Duration::from_millis(300) >= BODY_IDLE && cut_after <= BODY_IDLE + SLACK,
        "cut after {cut_after:?}, body idle timeout {BODY_IDLE:?}"
    );

    // The same body in eight pieces a second apart: 7 s in all, never 2 s silent.
    let mut steady = TcpStream::connect(server.addr).await.expect("connect");
    enroll_head(&mut steady, body.len()).await;
    let started = Instant::now();
    let pieces = body
        .as_bytes()
        .chunks(body.len().div_ceil(8))
        .collect::<Vec<_>>();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        steady.write_all(piece).await.expect("a piece of the body");
    }
    let took = started.elapsed();
    let mut raw = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), steady.read(&mut raw))
        .await
        .expect("an answer")
        .expect("read");
    let answer = String::from_utf8_lossy(&raw[..n]);
    println!("stalled body cut after {cut_after:?}; steady body over {took:?} answered");
    assert!(took > BODY_IDLE * 3, "the upload took only {took:?}");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"token\""), "{answer}");
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a certificate");
    let cert_pem = certified.cert.pem();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    (cert, key, cert_pem)
}

#[tokio::test]
async fn the_server_speaks_tls_with_hsts_and_secure_cookies() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, cert_pem) = self_signed(certs.path());
    let server = TestServer::start_with(|c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await;
    let https = format!("https://{}", server.addr);
    let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("a PEM certificate");
    let trusting = reqwest::Client::builder()
        .add_root_certificate(root)
        .build()
        .expect("client");

    let res = trusting
        .get(format!("{https}/healthz"))
        .send()
        .await
        .expect("HTTPS with the server's certificate");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );

    let login = trusting
        .get(format!("{https}/review/login"))
        .send()
        .await
        .expect("the sign-in page");
    let cookies: Vec<&str> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(!cookies.is_empty());
    assert!(
        cookies.iter().all(|c| c.ends_with("; Secure")),
        "{cookies:?}"
    );

    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.addr))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP to the TLS port: {plain:?}");
    let untrusting = reqwest::Client::new()
        .get(format!("{https}/healthz"))
        .send()
        .await;
    assert!(
        untrusting.is_err(),
        "a certificate no one vouches for is refused"
    );
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    const TOKEN: &str = "metrics-token-for-tests-0123456789";
    let server = TestServer::start_with(|c| c.metrics_token = Some(TOKEN.into())).await;
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", server.url);
    for auth in [None, Some("Bearer wrong-token"), Some(TOKEN)] {
        let mut req = http.get(&url);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.expect("metrics");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let error: ErrorBody = res.json().await.expect("a JSON error body");
        assert_eq!(error.code, ErrorCode::Unauthorized);
    }
    let res = http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("metrics");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("text");
    assert!(text.contains("beatbook_http_requests_total"), "{text}");
}

#[tokio::test]
async fn metrics_through_a_trusted_proxy_are_hidden_without_a_token() {
    // Every request arrives from 127.0.0.1, here the address of the proxy.
    let server = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    })
    .await;
    let res = reqwest::get(format!("{}/metrics", server.url))
        .await
        .expect("metrics");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Behind a TLS proxy the server's answers carry HSTS too.
    assert!(res.headers().contains_key("strict-transport-security"));
}
