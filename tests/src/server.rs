//! A real server on `127.0.0.1:0` over a temporary data directory.

use std::net::SocketAddr;

use beatbook_server::{AppState, Config};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::device::TestDevice;
use crate::org::Org;
use crate::PASSWORD;

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The listening address.
    pub addr: SocketAddr,
    /// The server's state (its store, for assertions from the inside).
    pub state: AppState,
    dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with the default test configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `tweak` adjusts the configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = crate::backend::config(dir.path());
        tweak(&mut config);
        let state = beatbook_server::open(config)
            .await
            .expect("server state opens");
        seed(&state).await;
        Self::serve(state, dir).await
    }

    /// Serves an existing state (e.g. after a restart over the same directory).
    pub async fn serve(state: AppState, dir: TempDir) -> Self {
        Self::serve_on(state, dir, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Another instance beside this one, as behind a load balancer: the same
    /// configuration, database and blob directory (named explicitly), its
    /// own data directory (its thumbnails and temporary files) and its own
    /// state (store handle, caches, throttle) on its own port. Drop it
    /// before this one, whose data directory holds the database.
    pub async fn another_instance(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: dir.path().to_owned(),
            database: Some(self.state.config.database()),
            blob_dir: Some(self.state.config.blob_dir()),
            ..(*self.state.config).clone()
        };
        let state = beatbook_server::open(config)
            .await
            .expect("another instance opens");
        Self::serve(state, dir).await
    }

    async fn serve_on(state: AppState, dir: TempDir, addr: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(beatbook_server::serve(state.clone(), listener, async {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            addr,
            state,
            dir: Some(dir),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Enrolls a new device for `badge`.
    pub async fn device(&self, badge: &str) -> TestDevice {
        TestDevice::enroll(&self.url, badge, PASSWORD)
            .await
            .expect("enrollment succeeds")
    }

    /// How many versions of a record the server keeps (its audit trail).
    pub async fn history_len(&self, id: beatbook_schema::ids::RecordId) -> usize {
        self.state
            .store
            .record_history(id)
            .await
            .expect("history")
            .len()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir
            .as_ref()
            .map_or(std::path::Path::new("."), |d| d.path())
    }

    /// Stops the server and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.dir.take().expect("a running server has its directory")
    }

    /// Starts a server again over a stopped server's data directory.
    pub async fn restart(dir: TempDir) -> Self {
        Self::restart_on(dir, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server again over a stopped server's data directory, on the
    /// same address (devices keep the server address they enrolled with).
    pub async fn restart_on(dir: TempDir, addr: SocketAddr) -> Self {
        let state = beatbook_server::open(crate::backend::config(dir.path()))
            .await
            .expect("server state reopens");
        Self::serve_on(state, dir, addr).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn seed(state: &AppState) {
    crate::org::seed_state(state, &Org::standard(), &[]).await;
}
