//! Sign-in against hostile users: device enrollment (`POST /v1/enroll`) and
//! the review pages' sign-in share one workflow, and it holds.
//!
//! - Hostile requests are refused cheaply, before any Argon2 check, and leave
//!   the server's memory where it was (the real binary, its RSS from /proc).
//! - Failures are counted before the password is checked: attempts sent all
//!   at once get at most the limit of checks.
//! - Limits per badge and address, per badge across addresses and per address
//!   across badges; `X-Forwarded-For` counts only from a trusted proxy.
//! - Every field is bounded (400 naming it) and sign-in bodies are small (413,
//!   also when a small compressed body inflates).
//! - A password change signs the account out of its sessions and devices.
//!
//! Every connection is to 127.0.0.1; other client addresses exist only as
//! `X-Forwarded-For` values.

use std::io::Write;
use std::time::{Duration, Instant};

use beatbook_schema::ids::DeviceId;
use beatbook_schema::protocol::{EnrollRequest, ErrorCode};
use beatbook_server::Config;
use beatbook_tests::process::{free_addr, seed, Org, ServerProcess};
use beatbook_tests::{TestDevice, TestServer, PASSWORD};
use futures_util::stream::{self, StreamExt};
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value as Json};

const MIB: u64 = 1024 * 1024;

/// Memory of one Argon2id check (the argon2 crate's default m = 19 MiB).
const ARGON2_BYTES: u64 = 19 * MIB;

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn enroll_body(badge: &str, password: &str, device_name: &str) -> Vec<u8> {
    serde_json::to_vec(&EnrollRequest {
        badge: badge.into(),
        password: password.into(),
        device_id: DeviceId::new_v7(),
        device_name: device_name.into(),
    })
    .expect("json")
}

fn random_badge() -> String {
    let bytes: [u8; 12] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An answer: status, `Retry-After` in seconds, and the body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    async fn of(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = res.text().await.unwrap_or_default();
        Self {
            status,
            retry_after,
            headers,
            body,
        }
    }

    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or(Json::Null)
    }

    /// The value of a cookie this answer sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .filter_map(|c| c.split(';').next()?.split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_owned())
    }
}

/// `POST /v1/enroll`, optionally as forwarded for `client`.
async fn enroll(
    http: &Client,
    url: &str,
    badge: &str,
    password: &str,
    client: Option<&str>,
) -> Answer {
    let mut req = http
        .post(format!("{url}/v1/enroll"))
        .header("content-type", "application/json")
        .body(enroll_body(badge, password, "测试手机"));
    if let Some(ip) = client {
        req = req.header("x-forwarded-for", ip);
    }
    Answer::of(req.send().await.expect("enroll request")).await
}

/// The review sign-in form's cookie (which is also its CSRF token).
async fn login_cookie(http: &Client, url: &str) -> String {
    let page = Answer::of(
        http.get(format!("{url}/review/login"))
            .send()
            .await
            .expect("sign-in page"),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    page.cookie("bb_review_login").expect("a sign-in cookie")
}

/// Posts the review sign-in form with a cookie from [`login_cookie`].
async fn post_login(
    http: &Client,
    url: &str,
    cookie: &str,
    badge: &str,
    password: &str,
    client: Option<&str>,
) -> Answer {
    let mut req = http
        .post(format!("{url}/review/login"))
        .header("cookie", format!("bb_review_login={cookie}"))
        .form(&[("csrf", cookie), ("badge", badge), ("password", password)]);
    if let Some(ip) = client {
        req = req.header("x-forwarded-for", ip);
    }
    Answer::of(req.send().await.expect("sign-in request")).await
}

/// Signs in to the review pages as a browser does: the form, then the post.
async fn review_sign_in(
    http: &Client,
    url: &str,
    badge: &str,
    password: &str,
    client: Option<&str>,
) -> Answer {
    let cookie = login_cookie(http, url).await;
    post_login(http, url, &cookie, badge, password, client).await
}

fn count(answers: &[Answer], status: StatusCode) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

async fn seeded_process() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().expect("temp dir");
    seed(dir.path(), &Org::standard(), &[]).await;
    let server = ServerProcess::start(dir.path(), free_addr()).await;
    (dir, server)
}

// ---- memory and cost ----

/// One request of the hostile mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    /// A gzipped enrollment whose badge inflates to 4 MiB.
    EnrollBomb,
    /// A made-up badge with a wrong password.
    MadeUpBadge,
    /// A password of 5,000 bytes.
    LongPassword,
    /// A badge of 2,000 bytes, uncompressed.
    LongBadge,
    /// A gzipped review sign-in form that inflates to 4 MiB.
    FormBomb,
}

const MIX: [Hostile; 5] = [
    Hostile::EnrollBomb,
    Hostile::MadeUpBadge,
    Hostile::LongPassword,
    Hostile::LongBadge,
    Hostile::FormBomb,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_hostile_sign_ins_are_refused_cheaply_and_memory_stays_flat() {
    let (_dir, server) = seeded_process().await;
    let http = http();
    // Distinct bombs (each badge different), made once: ~4 KB on the wire
    // each, 4 MiB inflated: a server that keeps a badge keeps 4 MiB.
    let inflated = 4 * MIB as usize;
    let enroll_bombs: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            gzip(&enroll_body(
                &format!("{i}{}", "9".repeat(inflated)),
                "x",
                "p",
            ))
        })
        .collect();
    let form_bombs: Vec<Vec<u8>> = (0..8)
        .map(|i| gzip(format!("csrf=x&badge={i}{}&password=x", "9".repeat(inflated)).as_bytes()))
        .collect();
    // Settle: the first requests allocate the server's buffers for good.
    for _ in 0..10 {
        enroll(&http, &server.url, "o1", PASSWORD, None).await;
    }
    let before = server.rss();
    let peak_reset = server.reset_peak();
    let started = Instant::now();

    let answers: Vec<(Hostile, Answer)> = stream::iter(0..2_000usize)
        .map(|i| {
            let kind = MIX[i % MIX.len()];
            let url = &server.url;
            let req = match kind {
                // The server stops reading a body at its limit and closes the
                // connection: not one to reuse.
                Hostile::EnrollBomb => http
                    .post(format!("{url}/v1/enroll"))
                    .header("connection", "close")
                    .header("content-type", "application/json")
                    .header("content-encoding", "gzip")
                    .body(enroll_bombs[i % enroll_bombs.len()].clone()),
                Hostile::MadeUpBadge => http
                    .post(format!("{url}/v1/enroll"))
                    .header("content-type", "application/json")
                    .body(enroll_body(&random_badge(), "wrong-password", "p")),
                Hostile::LongPassword => http
                    .post(format!("{url}/v1/enroll"))
                    .header("content-type", "application/json")
                    .body(enroll_body(&random_badge(), &"p".repeat(5_000), "p")),
                Hostile::LongBadge => http
                    .post(format!("{url}/v1/enroll"))
                    .header("content-type", "application/json")
                    .body(enroll_body(&"b".repeat(2_000), "x", "p")),
                Hostile::FormBomb => http
                    .post(format!("{url}/review/login"))
                    .header("connection", "close")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("content-encoding", "gzip")
                    .body(form_bombs[i % form_bombs.len()].clone()),
            };
            async move { (kind, Answer::of(req.send().await.expect("request")).await) }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let elapsed = started.elapsed();
    let after = server.rss();
    let peak = server.peak_rss();
    let answered = |status| answers.iter().filter(|(_, a)| a.status == status).count();
    let checked = answered(StatusCode::UNAUTHORIZED);
    let figures = json!({
        "requests": answers.len(),
        "seconds": elapsed.as_secs_f64(),
        "rss_before_mib": before as f64 / MIB as f64,
        "rss_after_mib": after as f64 / MIB as f64,
        "peak_rss_mib": peak as f64 / MIB as f64,
        "peak_since_start_of_trial": peak_reset,
        "answers": {
            "400": answered(StatusCode::BAD_REQUEST),
            "401 (an Argon2 check each)": checked,
            "413": answered(StatusCode::PAYLOAD_TOO_LARGE),
            "429": answered(StatusCode::TOO_MANY_REQUESTS),
        },
    });
    println!("hostile sign-ins: {figures:#}");
    for (kind, answer) in &answers {
        let expected: &[StatusCode] = match kind {
            Hostile::EnrollBomb | Hostile::FormBomb => &[StatusCode::PAYLOAD_TOO_LARGE],
            Hostile::MadeUpBadge => &[StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS],
            Hostile::LongPassword | Hostile::LongBadge => &[StatusCode::BAD_REQUEST],
        };
        assert!(
            expected.contains(&answer.status),
            "{kind:?}: {} {}",
            answer.status,
            answer.body
        );
    }
    let per_address = Config::default().login_max_failures_per_address as usize;
    assert!(
        checked <= per_address,
        "{checked} Argon2 checks for one address (limit {per_address})"
    );
    assert!(
        after <= before + 50 * MIB,
        "resident memory grew from {before} to {after} bytes"
    );
    assert!(
        elapsed < Duration::from_secs(60),
        "2,000 hostile sign-ins took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_sign_ins_wait_for_an_argon2_turn() {
    let (_dir, server) = seeded_process().await;
    let http = http();
    // The server runs on this machine: one turn per core, like the server's.
    let turns = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let n = 4 * turns + 8;
    let mut cookies = Vec::new();
    for _ in 0..n {
        cookies.push(login_cookie(&http, &server.url).await);
    }
    let before = server.rss();
    let peak_reset = server.reset_peak();
    // Made-up badges, so the throttle lets every one through to its check.
    let answers: Vec<Answer> = futures_util::future::join_all(cookies.iter().map(|cookie| {
        let badge = random_badge();
        let http = &http;
        let url = &server.url;
        async move { post_login(http, url, cookie, &badge, "wrong-password", None).await }
    }))
    .await;
    let peak = server.peak_rss();
    assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), n as usize);
    let grew = peak.saturating_sub(before);
    println!(
        "{n} simultaneous review sign-ins, {turns} turns: peak grew {:.0} MiB (peak reset: {peak_reset})",
        grew as f64 / MIB as f64
    );
    // Unlimited, all n checks would hold their 19 MiB at once.
    assert!(
        grew < (2 * turns + 4) * ARGON2_BYTES,
        "peak memory grew {grew} bytes for {n} checks: more than {turns} at once"
    );
}

// ---- counted before the check ----

#[tokio::test]
async fn simultaneous_wrong_passwords_get_at_most_the_limit_of_checks() {
    let server = TestServer::start().await;
    let limit = server.state.config.login_max_failures as usize;
    let http = http();
    let answers = futures_util::future::join_all(
        (0..20).map(|_| enroll(&http, &server.url, "o1", "wrong-password", None)),
    )
    .await;
    assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), limit);
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 20 - limit);
    for a in answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
    {
        assert_eq!(a.json()["code"], "too_many_requests");
        let wait = a.retry_after.expect("Retry-After");
        assert!(wait > 0 && wait <= server.state.config.login_window_secs);
    }
    let right = enroll(&http, &server.url, "o1", PASSWORD, None).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        right.body
    );
}

#[tokio::test]
async fn the_review_sign_in_shares_the_throttle_and_its_limits() {
    let server = TestServer::start().await;
    let http = http();
    let url = &server.url;
    // One budget for both doors: three wrong enrollments, two wrong sign-ins.
    for _ in 0..3 {
        let a = enroll(&http, url, "s1", "wrong-password", None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..2 {
        let a = review_sign_in(&http, url, "s1", "wrong-password", None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = review_sign_in(&http, url, "s1", PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.retry_after.is_some_and(|s| s > 0));
    assert!(a.body.contains("密码错误次数过多"));
    assert!(a.cookie("bb_review").is_none());
    let a = enroll(&http, url, "s1", PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);

    // Sent all at once to the review sign-in: at most the limit checked.
    let limit = server.state.config.login_max_failures as usize;
    let mut cookies = Vec::new();
    for _ in 0..20 {
        cookies.push(login_cookie(&http, url).await);
    }
    let answers = futures_util::future::join_all(
        cookies
            .iter()
            .map(|c| post_login(&http, url, c, "s2", "wrong-password", None)),
    )
    .await;
    assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), limit);
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 20 - limit);
}

// ---- whose address ----

#[tokio::test]
async fn a_badge_is_limited_across_addresses_and_an_address_across_badges() {
    let server = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
        c.login_max_failures = 3;
        c.login_max_failures_per_badge = 6;
        c.login_max_failures_per_address = 8;
    })
    .await;
    let http = http();
    let url = &server.url;

    // Guessing one badge from many addresses: six in all, then refused everywhere.
    for i in 1..=6 {
        let ip = format!("203.0.113.{i}");
        let a = enroll(&http, url, "s1", "wrong-password", Some(&ip)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "from {ip}");
    }
    let a = enroll(&http, url, "s1", PASSWORD, Some("203.0.113.99")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = review_sign_in(&http, url, "s1", PASSWORD, Some("203.0.113.98")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);

    // Made-up badges from one address: eight, then that address is refused
    // (even for a real badge and password), other addresses are not.
    let flood = "198.51.100.7";
    for i in 0..8 {
        let a = enroll(&http, url, &format!("made-up-{i}"), "x", Some(flood)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = enroll(&http, url, "o1", PASSWORD, Some(flood)).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = enroll(&http, url, "o1", PASSWORD, Some("198.51.100.8")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // One badge from one address: three; the officer elsewhere is not held.
    for _ in 0..3 {
        let a = enroll(&http, url, "o2", "wrong-password", Some("192.0.2.1")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = enroll(&http, url, "o2", PASSWORD, Some("192.0.2.1")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = enroll(&http, url, "o2", PASSWORD, Some("192.0.2.2")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let server = TestServer::start().await;
    let limit = server.state.config.login_max_failures;
    let http = http();
    for i in 0..limit {
        let ip = format!("203.0.113.{}", i + 1);
        let a = enroll(&http, &server.url, "o1", "wrong-password", Some(&ip)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = enroll(&http, &server.url, "o1", PASSWORD, Some("203.0.113.200")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = review_sign_in(&http, &server.url, "o1", PASSWORD, Some("203.0.113.201")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
}

// ---- bounded fields and bodies ----

#[tokio::test]
async fn oversized_fields_are_400_naming_them_and_big_bodies_413() {
    let server = TestServer::start().await;
    let http = http();
    let url = &server.url;
    let send = |body: Vec<u8>, gzipped: bool| {
        let mut req = http
            .post(format!("{url}/v1/enroll"))
            .header("connection", "close")
            .header("content-type", "application/json");
        if gzipped {
            req = req.header("content-encoding", "gzip");
        }
        async move { Answer::of(req.body(body).send().await.expect("request")).await }
    };
    let long_badge = "警".repeat(22); // 66 bytes
    let cases = [
        ("badge", enroll_body(&long_badge, "x", "p")),
        ("password", enroll_body("o1", &"p".repeat(1025), "p")),
        (
            "device_name",
            enroll_body("o1", PASSWORD, &"机".repeat(101)),
        ),
    ];
    for (field, body) in cases {
        let a = send(body, false).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{field}: {}", a.body);
        let body = a.json();
        assert_eq!(body["code"], "malformed_request");
        assert!(
            body["message"]["en"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("{field} is too long"))),
            "{body}"
        );
        assert!(body["message"]["zh"]
            .as_str()
            .is_some_and(|m| m.contains(field)));
        assert_eq!(body["errors"][0]["path"], field);
    }
    // At the limits, the fields are fine (and the password wrong).
    let a = send(
        enroll_body(&"b".repeat(64), &"p".repeat(1024), &"机".repeat(100)),
        false,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
    // No throttle counter for an oversized field: the officer's budget is untouched.
    for _ in 0..10 {
        let a = send(enroll_body("o1", &"p".repeat(2000), "p"), false).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
    }
    assert!(TestDevice::enroll(url, "o1", PASSWORD).await.is_ok());

    // Bodies: 9 KiB plain, and 16 MiB inflated from a few KB.
    let padded = format!(
        "{{\"badge\":\"o1\",\"password\":\"x\",\"device_id\":\"{}\",\"device_name\":\"p\",\"pad\":\"{}\"}}",
        DeviceId::new_v7(),
        "x".repeat(9 * 1024)
    );
    let a = send(padded.into_bytes(), false).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    assert_eq!(a.json()["code"], "payload_too_large");
    let inflated = enroll_body(&"9".repeat(16 << 20), "x", "p");
    let bomb = gzip(&inflated);
    assert!(bomb.len() * 100 < inflated.len(), "{} bytes", bomb.len());
    let a = send(bomb, true).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);

    // The review sign-in: the same bounds, as pages.
    let a = review_sign_in(&http, url, &long_badge, "x", None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("badge") && a.body.contains("64"));
    let a = review_sign_in(&http, url, "s1", &"p".repeat(1025), None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("password"));
    let cookie = login_cookie(&http, url).await;
    let form = format!(
        "csrf={cookie}&badge=s1&password=x&next={}",
        "x".repeat(16 << 20)
    );
    let a = Answer::of(
        http.post(format!("{url}/review/login"))
            .header("connection", "close")
            .header("cookie", format!("bb_review_login={cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-encoding", "gzip")
            .body(gzip(form.as_bytes()))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
}

// ---- a password change ----

#[tokio::test]
async fn a_password_change_ends_sessions_and_device_tokens() {
    let server = TestServer::start().await;
    let http = http();
    let url = &server.url;
    let signed_in = review_sign_in(&http, url, "s1", PASSWORD, None).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let session = signed_in.cookie("bb_review").expect("a session");
    let page = |session: String| {
        let req = http
            .get(format!("{url}/review/batches"))
            .header("cookie", format!("bb_review={session}"));
        async move { req.send().await.expect("page").status() }
    };
    assert_eq!(page(session.clone()).await, StatusCode::OK);
    let device = server.device("s1").await;
    assert!(device.pull_page(Default::default(), 1).await.is_ok());
    // Another account is not touched.
    let other = server.device("o2").await;
    let other_session = review_sign_in(&http, url, "s2", PASSWORD, None)
        .await
        .cookie("bb_review")
        .expect("a session");

    let new_password = "a-new-password-2";
    beatbook_server::admin::set_password(&*server.state.store, "s1", new_password.into())
        .await
        .expect("password changed");

    let after = page(session).await;
    assert_eq!(after, StatusCode::SEE_OTHER, "the session ended");
    let e = device
        .pull_page(Default::default(), 1)
        .await
        .expect_err("the token no longer works");
    assert_eq!(
        (e.status, e.body.code),
        (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
        "signed out, not revoked: {:?}",
        e.body
    );
    assert_eq!(page(other_session).await, StatusCode::OK);
    assert!(other.pull_page(Default::default(), 1).await.is_ok());
    let signed_in = |id| {
        let store = server.state.store.clone();
        async move {
            let devices = store.devices().await.expect("devices");
            let d = devices.into_iter().find(|d| d.id == id).expect("listed");
            (d.signed_in, d.revoked_at.is_some())
        }
    };
    assert_eq!(
        signed_in(device.id).await,
        (false, false),
        "signed out, not revoked"
    );
    assert_eq!(signed_in(other.id).await, (true, false));

    // The old password is refused; the same device enrolls with the new one.
    let old = TestDevice::enroll_as(url, "s1", PASSWORD, device.id).await;
    assert_eq!(old.err().map(|e| e.status), Some(StatusCode::UNAUTHORIZED));
    let again = TestDevice::enroll_as(url, "s1", new_password, device.id)
        .await
        .expect("enrolls again");
    assert!(again.pull_page(Default::default(), 1).await.is_ok());
    assert_eq!(signed_in(device.id).await, (true, false));
    let a = review_sign_in(&http, url, "s1", new_password, None).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
}
