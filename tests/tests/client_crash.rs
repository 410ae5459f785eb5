//! The field app killed for real (SIGKILL of the `beatbook-app` process) at
//! each step of a save and a sync: after restarting, every record ends on the
//! server exactly once and nothing entered is lost.

use std::io::Write;
use std::path::Path;

use beatbook_tests::client::{kill_at, run_app};
use beatbook_tests::data::house;
use beatbook_tests::proxy::{Fault, FaultyProxy};
use beatbook_tests::TestServer;
use serde_json::Value;

fn houses_file(dir: &Path, n: usize) -> std::path::PathBuf {
    let path = dir.join("houses.ndjson");
    let mut f = std::fs::File::create(&path).expect("create");
    for i in 0..n {
        writeln!(f, "{}", Value::Object(house(&format!("崩溃测试{i}")))).expect("write");
    }
    path
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// Every house on the server, by owner, with how many versions each has.
async fn server_houses(server: &TestServer) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let d = server.device("admin").await;
    for v in d
        .records()
        .await
        .into_iter()
        .filter(|v| v.record.form_id.as_str() == "house")
    {
        let history = server
            .state
            .store
            .record_history(v.record.id)
            .await
            .expect("history")
            .len();
        out.push((
            v.record.values["owner_name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            history,
        ));
    }
    out.sort();
    out
}

fn status(dir: &Path) -> String {
    run_app(dir, &["status"])
}

async fn enrolled_device(server: &TestServer) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let (path, url) = (dir.path().to_owned(), server.url.clone());
    blocking(move || run_app(&path, &["enroll", "--server", &url, "--badge", "o1"])).await;
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_a_local_save_the_record_survives_and_syncs_once() {
    let server = TestServer::start().await;
    let dir = enrolled_device(&server).await;
    let path = dir.path().to_owned();
    let file = houses_file(&path, 5);
    blocking(move || {
        kill_at(
            &path,
            &[
                "import",
                "--form",
                "house",
                file.to_str().unwrap_or_default(),
            ],
            "after-save",
        )
    })
    .await;
    let path = dir.path().to_owned();
    let before = blocking(move || status(&path)).await;
    assert!(
        before.contains("outbox: 1"),
        "the first saved record is queued: {before}"
    );
    let path = dir.path().to_owned();
    blocking(move || run_app(&path, &["sync"])).await;
    assert_eq!(
        server_houses(&server).await,
        vec![("崩溃测试0".to_owned(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_push_mid_push_and_after_commit_every_record_lands_once() {
    let server = TestServer::start().await;
    let dir = enrolled_device(&server).await;
    let path = dir.path().to_owned();
    let file = houses_file(&path, 20);
    let p = path.clone();
    blocking(move || {
        run_app(
            &p,
            &[
                "import",
                "--form",
                "house",
                file.to_str().unwrap_or_default(),
            ],
        )
    })
    .await;

    // 1. Killed after the batch is written down, before it is sent.
    let p = path.clone();
    blocking(move || kill_at(&p, &["sync"], "before-push")).await;
    assert!(server_houses(&server).await.is_empty());

    // 2. Killed mid-push: the request stalls half-way through its body.
    let proxy = FaultyProxy::start(
        server.addr,
        Fault::StallRequestAfter(600),
        1,
        b"POST /v1/push",
    )
    .await;
    let p = path.clone();
    let url = proxy.url.clone();
    blocking(move || {
        let mut child = beatbook_tests::client::app(&p)
            .args(["sync", "--server", &url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    })
    .await;
    assert_eq!(proxy.hurt(), 1, "the push went through the stalling proxy");
    assert!(
        server_houses(&server).await.is_empty(),
        "half a request commits nothing"
    );

    // 3. Killed after the server committed, before the device recorded it.
    let p = path.clone();
    blocking(move || kill_at(&p, &["sync"], "after-push")).await;
    assert_eq!(
        server_houses(&server).await.len(),
        20,
        "the server committed"
    );
    let p = path.clone();
    let s = blocking(move || status(&p)).await;
    assert!(s.contains("outbox: 20"), "the device never heard: {s}");

    // Restarted, the device resends the same batch; the server stores nothing twice.
    let p = path.clone();
    blocking(move || run_app(&p, &["sync"])).await;
    let houses = server_houses(&server).await;
    assert_eq!(houses.len(), 20);
    assert!(
        houses.iter().all(|(_, versions)| *versions == 1),
        "{houses:?}"
    );
    let p = path.clone();
    let s = blocking(move || status(&p)).await;
    assert!(s.contains("outbox: 0"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_pull_the_next_pull_resumes_without_gaps() {
    let server = TestServer::start().await;
    let writer = enrolled_device(&server).await;
    let p = writer.path().to_owned();
    let file = houses_file(&p, 30);
    blocking(move || {
        run_app(
            &p,
            &[
                "import",
                "--form",
                "house",
                file.to_str().unwrap_or_default(),
            ],
        );
        run_app(&p, &["sync"]);
    })
    .await;
    let reader = enrolled_device(&server).await;
    let p = reader.path().to_owned();
    blocking(move || kill_at(&p, &["sync"], "before-apply-pull")).await;
    let p = reader.path().to_owned();
    let list = blocking(move || {
        run_app(&p, &["sync"]);
        run_app(&p, &["list", "--form", "house", "--limit", "100"])
    })
    .await;
    assert_eq!(list.lines().count(), 30, "{list}");
}
