//! The field app against a hostile world (issue 17, finding 9), with the real
//! `beatbook-app` binary: the liveview process serves nothing without its
//! launch key, to no other host and to no other page's WebSocket; the PIN is
//! never on a command line, and wrong PINs are counted across processes; a
//! revoked device says how much unsent work its wipe destroyed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use beatbook_core::store::Unsent;
use beatbook_core::sync::SyncError;
use beatbook_core::CoreError;
use beatbook_schema::protocol::{ErrorBody, ErrorCode};
use beatbook_tests::client::{app, app_binary, device, open_core, run_app, PIN};
use beatbook_tests::data::house;
use beatbook_tests::TestServer;
use reqwest::header::{HeaderName, HOST, ORIGIN};
use reqwest::{Method, StatusCode};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WRONG_PIN: &str = "135790";

/// A running `beatbook-app liveview`, killed on drop.
struct Liveview {
    child: Child,
    /// `127.0.0.1:<port>`.
    addr: String,
    key: String,
}

impl Drop for Liveview {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Liveview {
    /// Starts it on a free port and reads the address it prints.
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(app_binary())
            .arg("--dir")
            .arg(dir)
            .arg("--insecure-fast-keys")
            .env("BEATBOOK_LANG", "en")
            .args(["liveview", "--listen", "127.0.0.1:0"])
            .args(["--server", "http://127.0.0.1:9"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn beatbook-app liveview");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("liveview prints its address");
        let url = line
            .trim()
            .strip_prefix("field app on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        let (addr, path) = url.split_once('/').expect("a path");
        let key = path
            .strip_prefix("app/")
            .and_then(|k| k.strip_suffix('/'))
            .unwrap_or_else(|| panic!("unexpected address: {url}"));
        assert!(addr.starts_with("127.0.0.1:") && key.len() >= 32, "{url}");
        Self {
            addr: addr.to_owned(),
            key: key.to_owned(),
            child,
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap_or_default()
    }

    async fn http(
        &self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, String)],
    ) -> (StatusCode, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let mut req = client.request(method, format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let res = req.send().await.expect("an answer");
        let status = res.status();
        (status, res.text().await.expect("a body"))
    }

    /// The status of a WebSocket handshake (101: accepted).
    async fn websocket(&self, path: &str, origin: Option<&str>, host: Option<&str>) -> u16 {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .expect("request");
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", o.parse().expect("header value"));
        }
        if let Some(h) = host {
            req.headers_mut()
                .insert("host", h.parse().expect("header value"));
        }
        let connect = tokio_tungstenite::connect_async(req);
        match tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .expect("an answer in time")
        {
            Ok((_, res)) => res.status().as_u16(),
            Err(tungstenite::Error::Http(res)) => res.status().as_u16(),
            Err(e) => panic!("handshake failed otherwise: {e}"),
        }
    }
}

fn error_code(body: &str) -> ErrorCode {
    let e: ErrorBody = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(
        !e.message.zh.is_empty() && !e.message.en.is_empty(),
        "{body}"
    );
    e.code
}

/// A request to the liveview process and the refusal it must get.
struct Refused {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, String)>,
    status: StatusCode,
    code: ErrorCode,
}

impl Refused {
    fn new(method: Method, path: &str, headers: &[(HeaderName, &str)], forbidden: bool) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.clone(), (*v).to_owned()))
                .collect(),
            status: if forbidden {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            },
            code: if forbidden {
                ErrorCode::Forbidden
            } else {
                ErrorCode::NotFound
            },
        }
    }
}

/// Refused as if nothing were there (404 `not_found`).
fn not_found(method: Method, path: &str, headers: &[(HeaderName, &str)]) -> Refused {
    Refused::new(method, path, headers, false)
}

/// Refused as not allowed (403 `forbidden`).
fn forbidden(method: Method, path: &str, headers: &[(HeaderName, &str)]) -> Refused {
    Refused::new(method, path, headers, true)
}

#[tokio::test]
async fn liveview_serves_nothing_without_its_launch_key_and_to_no_other_host() {
    let dir = tempfile::tempdir().expect("dir");
    let lv = Liveview::start(dir.path());
    let (key, ours) = (lv.key.clone(), lv.origin());
    let other_key = "0".repeat(key.len());
    let rebound = format!("rebound.example:{}", lv.port());
    let localhost = format!("localhost:{}", lv.port());
    let page = format!("/app/{key}/");
    let upload = format!("/app/{key}/upload");
    let cases = [
        // No key, a wrong key, part of the key.
        not_found(Method::GET, "/", &[]),
        not_found(Method::GET, "/app/", &[]),
        not_found(Method::GET, "/ws", &[]),
        not_found(Method::GET, &format!("/app/{other_key}/"), &[]),
        not_found(Method::GET, &format!("/app/{}/", &key[1..]), &[]),
        not_found(Method::POST, "/upload", &[(ORIGIN, &ours)]),
        not_found(
            Method::POST,
            &format!("/app/{other_key}/upload"),
            &[(ORIGIN, &ours)],
        ),
        not_found(
            Method::GET,
            &format!("/app/{key}/nothing-here"),
            &[(ORIGIN, &ours)],
        ),
        // The key, but another host name (DNS rebinding) or another page.
        forbidden(Method::GET, &page, &[(HOST, &rebound)]),
        forbidden(Method::GET, &page, &[(HOST, &localhost)]),
        forbidden(Method::POST, &upload, &[]),
        forbidden(Method::POST, &upload, &[(ORIGIN, "http://evil.example")]),
    ];
    for case in cases {
        let (status, body) = lv
            .http(case.method.clone(), &case.path, &case.headers)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (case.status, case.code),
            "{} {} {:?}: {body}",
            case.method,
            case.path,
            case.headers
        );
    }
    // With the key: the page, whose socket address holds the key too.
    let (status, html) = lv.http(Method::GET, &page, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("/app/{key}/ws")), "{html}");
    // And the page's own upload.
    let (status, id) = lv.http(Method::POST, &upload, &[(ORIGIN, ours)]).await;
    assert_eq!(status, StatusCode::OK, "{id}");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

/// A WebSocket handshake and the status it must get (101: accepted).
struct Handshake<'a> {
    who: &'a str,
    path: &'a str,
    origin: Option<&'a str>,
    host: Option<&'a str>,
    status: u16,
}

#[tokio::test]
async fn liveview_websocket_opens_only_for_its_own_page() {
    let dir = tempfile::tempdir().expect("dir");
    let lv = Liveview::start(dir.path());
    let ws = format!("/app/{}/ws", lv.key);
    let ours = lv.origin();
    let rebound = format!("rebound.example:{}", lv.port());
    let rebound_origin = format!("http://{rebound}");
    let localhost_origin = format!("http://localhost:{}", lv.port());
    let from = |who, origin, status| Handshake {
        who,
        path: &ws,
        origin,
        host: None,
        status,
    };
    let cases = [
        from("another page", Some("http://evil.example"), 403),
        from("a sandboxed page", Some("null"), 403),
        from("no page at all", None, 403),
        from("another name for this port", Some(&localhost_origin), 403),
        Handshake {
            host: Some(&rebound),
            ..from("a rebound name", Some(&rebound_origin), 403)
        },
        Handshake {
            path: "/ws",
            ..from("liveview's default socket", Some(&ours), 404)
        },
        Handshake {
            path: "/app/00000000000000000000000000000000/ws",
            ..from("a wrong key", Some(&ours), 404)
        },
        from("the app's own page", Some(&ours), 101),
    ];
    for case in cases {
        assert_eq!(
            lv.websocket(case.path, case.origin, case.host).await,
            case.status,
            "{}",
            case.who
        );
    }
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_is_never_on_the_command_line() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let (path, url) = (dir.path().to_owned(), server.url.clone());
    tokio::task::spawn_blocking(move || {
        // The flag is gone: an attempt to use it is refused, nothing opened.
        let out = Command::new(app_binary())
            .arg("--dir")
            .arg(&path)
            .args(["--insecure-fast-keys", "--pin", PIN, "status"])
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert!(!out.status.success());
        assert!(stderr_of(&out).contains("--pin"), "{}", stderr_of(&out));
        assert!(!path.join("device.json").exists());

        run_app(&path, &["enroll", "--server", &url, "--badge", "o1"]);
        let file = path.join("one.ndjson");
        std::fs::write(
            &file,
            format!("{}\n", serde_json::Value::Object(house("管道"))),
        )
        .expect("write");
        // The PIN on standard input (then the records): the process, paused
        // with the device open, shows it neither in its command line nor in
        // its environment.
        let mut child = app(&path)
            .env_remove("BEATBOOK_PIN")
            .env("BEATBOOK_PAUSE_AT", "after-save")
            .args(["import", "--form", "house", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(
                format!("{PIN}\n{}", std::fs::read_to_string(&file).expect("read")).as_bytes(),
            )
            .expect("write the PIN");
        drop(stdin);
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("PAUSED ") {
                    let _ = tx.send(line);
                    return;
                }
            }
        });
        let paused = rx.recv_timeout(Duration::from_secs(60));
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("cmdline");
        let environ = std::fs::read(format!("/proc/{}/environ", child.id())).expect("environ");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            paused.ok().as_deref(),
            Some("PAUSED after-save"),
            "opened with the PIN from standard input"
        );
        let has_pin = |bytes: &[u8]| bytes.windows(PIN.len()).any(|w| w == PIN.as_bytes());
        assert!(!has_pin(&cmdline), "{}", String::from_utf8_lossy(&cmdline));
        assert!(
            !has_pin(&environ),
            "the PIN is not in the environment either"
        );
        assert!(
            String::from_utf8_lossy(&cmdline).contains("import"),
            "read the right process"
        );
    })
    .await
    .expect("blocking part");
}

#[test]
fn wrong_pins_are_counted_across_processes_and_then_even_the_right_one_waits() {
    let dir = tempfile::tempdir().expect("dir");
    run_app(dir.path(), &["status"]); // makes the device with PIN
    let status_with = |pin: &str| {
        app(dir.path())
            .env("BEATBOOK_PIN", pin)
            .arg("status")
            .output()
            .expect("run")
    };
    for left in [9, 8] {
        let out = status_with(WRONG_PIN);
        assert!(!out.status.success());
        let said = stderr_of(&out);
        assert!(
            said.contains(&format!("再错 {left} 次"))
                && said.contains(&format!("{left} more wrong PINs")),
            "{said}"
        );
    }
    let out = status_with(WRONG_PIN);
    let said = stderr_of(&out);
    assert!(
        said.contains("30 秒后再试") && said.contains("try again in 30 s"),
        "{said}"
    );
    // Each of those was its own process: the next one, even with the right
    // PIN, is told to wait, and the PIN is not tried.
    let out = status_with(PIN);
    assert!(!out.status.success(), "the right PIN must wait too");
    let said = stderr_of(&out);
    assert!(
        said.contains("秒后再试") && said.contains("Too many wrong PINs"),
        "{said}"
    );
    let attempts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("pin_attempts.json")).expect("the count is on disk"),
    )
    .expect("json");
    assert_eq!(attempts["failures"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_says_how_much_unsent_work_it_destroyed() {
    let server = TestServer::start().await;
    let mut devices = Vec::new();
    for _ in 0..2 {
        let (dir, core) = device(&server, "o1").await;
        let mut sent = core
            .new_record("house", None, house("已上传"))
            .expect("new");
        sent.finalize().expect("finalize");
        drop(sent);
        core.sync(&|_| {}).await.expect("sync");
        // Not sent: a finalized house with a photo, another one, and a draft.
        let mut with_photo = core
            .new_record("house", None, house("带照片"))
            .expect("new");
        let photo = beatbook_core::photos::synthetic_camera_jpeg(640, 480, 5).expect("jpeg");
        with_photo.add_photo("photos", &photo).expect("photo");
        with_photo.finalize().expect("finalize");
        let mut plain = core
            .new_record("house", None, house("未上传"))
            .expect("new");
        plain.finalize().expect("finalize");
        let draft = core
            .new_record("house", None, house("草稿"))
            .expect("draft");
        drop((with_photo, plain, draft));
        server
            .state
            .store
            .revoke_device(core.device_id(), chrono::Utc::now())
            .await
            .expect("revoke");
        devices.push((dir, core));
    }
    let lost = Unsent {
        records: 3,
        photos: 1,
    };

    // In process: the typed outcome, and the data is gone.
    let (_dir, core) = devices.pop().expect("device");
    let e = core.sync(&|_| {}).await.expect_err("revoked");
    assert!(
        matches!(&e, CoreError::Sync(SyncError::Revoked { unsent }) if *unsent == lost),
        "{e:?}"
    );
    assert!(core
        .records(&Default::default())
        .expect("records")
        .is_empty());

    // The command line says it in both languages.
    let (dir, core) = devices.pop().expect("device");
    drop(core);
    let path = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || app(&path).arg("sync").output().expect("run"))
        .await
        .expect("blocking");
    assert!(!out.status.success());
    let said = stderr_of(&out);
    assert!(
        said.contains("3 条尚未上传的记录和 1 张尚未上传的照片已被销毁")
            && said.contains("3 record(s) and 1 photo(s) that had not been sent were destroyed"),
        "{said}"
    );
    let after = open_core(dir.path());
    assert!(after
        .records(&Default::default())
        .expect("records")
        .is_empty());
    assert_eq!(after.status().expect("status").outbox, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_machine_is_refused_before_any_connection() {
    // 0.0.0.0 is not a loopback address, yet Linux delivers a connection to
    // it on this machine: a listener here sees whether the app tried.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let tries = Arc::new(AtomicUsize::new(0));
    let counted = tries.clone();
    let watcher = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let (path, url) = (dir.path().to_owned(), server.url.clone());
    let plain = format!("http://0.0.0.0:{port}");
    let outs = tokio::task::spawn_blocking(move || {
        let enroll = app(&path)
            .args(["enroll", "--server", &plain, "--badge", "o1"])
            .output()
            .expect("run");
        run_app(&path, &["enroll", "--server", &url, "--badge", "o1"]);
        let sync = app(&path)
            .args(["sync", "--server", &plain])
            .output()
            .expect("run");
        [enroll, sync]
    })
    .await
    .expect("blocking");
    for out in &outs {
        assert!(!out.status.success());
        let said = stderr_of(out);
        assert!(
            said.contains("http:// 仅限本机")
                && said.contains("plain http:// is accepted only for this machine"),
            "{said}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    watcher.abort();
    assert_eq!(tries.load(Ordering::SeqCst), 0, "no connection was made");
}
