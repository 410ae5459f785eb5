//! Real field-app cores (encrypted SQLite in a temporary directory), in
//! process, and the real `beatbook-app` binary as a child process for tests
//! that kill it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use beatbook_core::keys::PinKeys;
use beatbook_core::platform::{Desktop, Fix};
use beatbook_core::store::{LocalState, RecordFilter};
use beatbook_core::sync::{RetryPolicy, SyncEngine};
use beatbook_core::Core;
use beatbook_schema::ids::RecordId;
use tempfile::TempDir;

use crate::process::workspace_binary;
use crate::{TestServer, PASSWORD};

/// The PIN of every test device.
pub const PIN: &str = "246810";

/// A device position near Haimen.
pub const FIX: Fix = Fix {
    lat: 31.87,
    lon: 121.17,
    accuracy_m: 8.0,
    at: None,
};

/// Opens (creating) a core in `dir`, with cheap key derivation and quick retries.
pub fn open_core(dir: &Path) -> Core {
    Core::open(
        dir,
        PIN,
        &PinKeys::fast_for_tests(),
        Arc::new(Desktop { fix: Some(FIX) }),
    )
    .expect("core opens")
    .with_engine(SyncEngine {
        retry: RetryPolicy::immediate(2),
        ..SyncEngine::default()
    })
}

/// A device enrolled as `badge` at `url`.
pub async fn device_at(url: &str, badge: &str) -> (TempDir, Core) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = open_core(dir.path());
    core.enroll(url, badge, PASSWORD, "测试设备")
        .await
        .expect("enroll");
    (dir, core)
}

/// A device enrolled as `badge` on `server`.
pub async fn device(server: &TestServer, badge: &str) -> (TempDir, Core) {
    device_at(&server.url, badge).await
}

/// Syncs, panicking on failure.
pub async fn sync(core: &Core) -> beatbook_core::sync::SyncReport {
    core.sync(&|_| {}).await.expect("sync")
}

/// The `beatbook-app` binary, built (once per test process) so that it is
/// never older than the code under test.
pub fn app_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_binary("beatbook-app")).clone()
}

/// `beatbook-app` run on a device directory.
pub fn app(dir: &Path) -> Command {
    let mut cmd = Command::new(app_binary());
    cmd.arg("--dir")
        .arg(dir)
        .arg("--insecure-fast-keys")
        .env("BEATBOOK_PIN", PIN)
        .env("BEATBOOK_PASSWORD", PASSWORD)
        .env("BEATBOOK_LANG", "en");
    cmd
}

/// Runs `beatbook-app` to completion; returns stdout, panicking with stderr on failure.
pub fn run_app(dir: &Path, args: &[&str]) -> String {
    let out = app(dir).args(args).output().expect("run beatbook-app");
    assert!(
        out.status.success(),
        "beatbook-app {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `beatbook-app` so that it pauses at `point`, waits until it says so,
/// and kills it there with SIGKILL.
pub fn kill_at(dir: &Path, args: &[&str], point: &str) {
    let mut child: Child = app(dir)
        .args(args)
        .env("BEATBOOK_PAUSE_AT", point)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn beatbook-app");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("PAUSED ") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let reached = rx.recv_timeout(Duration::from_secs(60));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_eq!(
        reached.ok().as_deref(),
        Some(format!("PAUSED {point}").as_str()),
        "never reached {point}"
    );
}

/// The ids of the `house` records on a device, in `state` if given.
pub fn house_ids(core: &Core, state: Option<LocalState>) -> std::collections::HashSet<RecordId> {
    core.records(&RecordFilter {
        form: Some("house".into()),
        states: state.into_iter().collect(),
        ..Default::default()
    })
    .expect("records")
    .into_iter()
    .map(|r| r.id)
    .collect()
}
