//! Deployment defaults: the real `beatbook-server` binary refuses to expose
//! the published demo accounts, to serve plain HTTP beyond this machine, or
//! to seed the demo into a directory with real accounts — before it binds
//! any address, with a message that says what to do next.
//!
//! Some cases ask for `--listen 0.0.0.0:0`: the server must exit before it
//! listens, and no test ever sends traffic to it.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use beatbook_tests::backend::open_store;
use beatbook_tests::process::{seed, server_command, Org};

/// Runs the binary over `dir` with `args` (and `config` as its configuration
/// file, if given), killing it if it has not exited within a minute.
fn run(dir: &Path, config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = server_command(dir);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let mut child = cmd
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn beatbook-server");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "beatbook-server {args:?} did not exit: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a refusal before listening: non-zero exit, no "listening", and
/// each of `says` in the message.
fn assert_refused(out: &Output, says: &[&str]) {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), stderr(out));
    assert!(!out.status.success(), "it started: {stdout}{stderr}");
    assert!(!stdout.contains("listening"), "it listened: {stdout}");
    for s in says {
        assert!(stderr.contains(s), "{s:?} missing from: {stderr}");
    }
}

/// A configuration file with a self-signed certificate (and `extra` TOML lines).
fn tls_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let file = dir.join("beatbook.toml");
    let toml = format!(
        "tls_cert = {:?}\ntls_key = {:?}\n{extra}",
        cert.display().to_string(),
        key.display().to_string()
    );
    std::fs::write(&file, toml).expect("write config");
    file
}

fn seed_demo(dir: &Path) {
    let out = run(
        dir,
        None,
        &["demo", "--addresses", "10", "--households", "0"],
    );
    assert!(out.status.success(), "demo: {}", stderr(&out));
}

#[test]
fn demo_accounts_are_not_served_beyond_this_machine() {
    let data = tempfile::tempdir().expect("temp dir");
    let etc = tempfile::tempdir().expect("temp dir");
    seed_demo(data.path());

    // Without --allow-remote: refused, as before.
    let out = run(data.path(), None, &["serve", "--listen", "0.0.0.0:0"]);
    assert_refused(&out, &["--allow-remote", "127.0.0.1"]);

    // With it, but plain HTTP: refused.
    let out = run(
        data.path(),
        None,
        &["serve", "--listen", "0.0.0.0:0", "--allow-remote"],
    );
    assert_refused(&out, &["tls_cert", "trusted_proxies", "明文"]);

    // With TLS: still refused while the demo accounts have the published password.
    let tls = tls_config(etc.path(), "");
    let out = run(
        data.path(),
        Some(&tls),
        &["serve", "--listen", "0.0.0.0:0", "--allow-remote"],
    );
    assert_refused(
        &out,
        &[
            "061201",
            "060001",
            "demo password",
            "user passwd",
            "演示密码",
        ],
    );

    // On loopback behind a trusted proxy the demo is exposed just the same.
    let proxied = etc.path().join("proxied.toml");
    std::fs::write(&proxied, "trusted_proxies = [\"127.0.0.1\"]\n").expect("write config");
    let out = run(
        data.path(),
        Some(&proxied),
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert_refused(&out, &["demo password"]);
}

#[test]
fn demo_refuses_a_directory_with_accounts_and_leaves_it_untouched() {
    let data = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(seed(data.path(), &Org::standard(), &[]));

    let out = run(
        data.path(),
        None,
        &["demo", "--addresses", "10", "--households", "0"],
    );
    assert_refused(&out, &["already has 7 account(s)", "--data-dir", "账号"]);

    runtime.block_on(async {
        let store = open_store(data.path()).await.expect("opens");
        let badges: Vec<String> = store
            .users()
            .await
            .expect("users")
            .into_iter()
            .map(|a| a.info.badge)
            .collect();
        assert_eq!(badges.len(), 7, "{badges:?}");
        assert!(!badges.iter().any(|b| b == "061201"));
        let stations = store.stations().await.expect("stations");
        assert_eq!(stations.len(), 2);
        assert!(store.record_counts().await.expect("counts").is_empty());
    });
}
