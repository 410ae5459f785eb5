//! The real `beatbook-server` binary as a child process over its own data
//! directory: seeded in-process, started, killed for real (SIGKILL) and
//! restarted on the same port, with its CPU time and peak memory read from
//! `/proc` — for fault-injection tests and benchmarks that must measure the
//! server alone.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beatbook_schema::form::FormDef;
use beatbook_server::Config;

pub use crate::org::Org;

/// A binary of this workspace, built (once per process) in the profile of
/// the running executable, so that it is never older than the code under
/// test. `BEATBOOK_<NAME>_BIN` (e.g. `BEATBOOK_SERVER_BIN`) overrides it.
pub fn workspace_binary(bin: &str) -> PathBuf {
    let var = format!(
        "BEATBOOK_{}_BIN",
        bin.trim_start_matches("beatbook-")
            .to_uppercase()
            .replace('-', "_")
    );
    if let Some(path) = std::env::var_os(&var) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running executable's path");
    // target/<profile>/deps/<test> or target/<profile>/<bin>
    let mut dir = exe.parent().expect("a directory").to_owned();
    let in_deps = dir.ends_with("deps") || dir.ends_with("examples");
    if in_deps {
        dir.pop();
    }
    // A benchmark binary runs beside the binaries its script built with it.
    if !in_deps && dir.join(bin).exists() {
        return dir.join(bin);
    }
    let release = dir.ends_with("release");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The whole workspace's binaries, so that dependencies are built with the
    // same features as the tests' (building one package alone would rebuild
    // them with fewer).
    cmd.args(["build", "--quiet", "--workspace", "--bins"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "building {bin} failed");
    dir.join(bin)
}

/// The `beatbook-server` binary.
pub fn server_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_binary("beatbook-server"))
        .clone()
}

/// `beatbook-server --data-dir <dir>` on the test database of `dir` (see
/// [`crate::backend`]): add the subcommand and its arguments.
pub fn server_command(dir: &Path) -> Command {
    let mut cmd = Command::new(server_binary());
    cmd.arg("--data-dir").arg(dir);
    if let Some(database) = crate::backend::database(dir) {
        cmd.arg("--database").arg(String::from(database));
    }
    cmd
}

/// Where one server instance keeps its data: its own data directory, and
/// the database and blob directory it may share with other instances.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The instance's own directory (thumbnails, temporary files, its log).
    pub data_dir: PathBuf,
    /// A SQLite path or `postgres://` URL; `None`: the SQLite file in `data_dir`.
    pub database: Option<String>,
    /// The blob directory; `None`: `blobs` in `data_dir`.
    pub blob_dir: Option<PathBuf>,
}

impl Storage {
    /// Everything in `dir`, as one instance alone keeps it.
    pub fn local(dir: &Path) -> Self {
        Self {
            data_dir: dir.to_owned(),
            database: None,
            blob_dir: None,
        }
    }

    /// An instance with its own `dir` on a database and blob directory that
    /// other instances share.
    pub fn shared(dir: &Path, database: &str, blob_dir: &Path) -> Self {
        Self {
            data_dir: dir.to_owned(),
            database: Some(database.to_owned()),
            blob_dir: Some(blob_dir.to_owned()),
        }
    }

    /// The server configuration naming this storage.
    pub fn config(&self) -> Config {
        Config {
            data_dir: self.data_dir.clone(),
            database: self.database.clone().map(beatbook_server::Database::from),
            blob_dir: self.blob_dir.clone(),
            ..Config::default()
        }
    }

    /// The configuration's environment variables for a server process (not
    /// its command line, where a database password would be visible).
    fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let mut env = Vec::new();
        if let Some(database) = &self.database {
            env.push(("BEATBOOK_DATABASE", database.into()));
        }
        if let Some(blob_dir) = &self.blob_dir {
            env.push(("BEATBOOK_BLOB_DIR", blob_dir.into()));
        }
        env
    }
}

/// Creates the database in `dir` with `org` and publishes `forms` (besides
/// the standard ones), in-process through the server's own library.
pub async fn seed(dir: &Path, org: &Org, forms: &[FormDef]) {
    seed_config(crate::backend::config(dir), org, forms).await;
}

/// [`seed`] into the database `storage` names.
pub async fn seed_storage(storage: &Storage, org: &Org, forms: &[FormDef]) {
    seed_config(storage.config(), org, forms).await;
}

async fn seed_config(config: Config, org: &Org, forms: &[FormDef]) {
    let state = beatbook_server::open(config)
        .await
        .expect("server state opens");
    crate::org::seed_state(&state, org, forms).await;
}

/// A free loopback address (bound and released; good enough on a test machine).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A running `beatbook-server serve` child process.
pub struct ServerProcess {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The address it listens on (kept across restarts).
    pub addr: SocketAddr,
    dir: PathBuf,
    storage: Storage,
    child: Option<Child>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the server over the (seeded) data directory `dir` on `addr`
    /// and waits until it answers `/healthz`.
    pub async fn start(dir: &Path, addr: SocketAddr) -> Self {
        Self::start_on(Storage::local(dir), addr).await
    }

    /// Starts the server over `storage` (seeded) on `addr` and waits until
    /// it answers `/healthz`.
    pub async fn start_on(storage: Storage, addr: SocketAddr) -> Self {
        let dir = storage.data_dir.clone();
        std::fs::create_dir_all(&dir).expect("the instance's data directory");
        let mut server = Self {
            url: format!("http://{addr}"),
            addr,
            log: dir.join("server.log"),
            dir,
            storage,
            child: None,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log");
        let child = server_command(&self.dir)
            .args(["serve", "--listen", &self.addr.to_string()])
            .envs(self.storage.env())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn beatbook-server");
        self.child = Some(child);
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "beatbook-server exited at start ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            let ok = http
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "beatbook-server did not answer within a minute"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server with SIGKILL (no shutdown, no flush) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same address over the same data.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// User + system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid()))
    }

    /// Bytes the server has sent to storage so far (its database files and
    /// logs; `/proc/<pid>/io`).
    pub fn written_bytes(&self) -> u64 {
        written_bytes_of(&format!("/proc/{}/io", self.pid()))
    }

    /// Peak resident memory since the last [`Self::reset_peak`] (or start), bytes.
    pub fn peak_rss(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// Current resident memory, bytes.
    pub fn rss(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:") * 1024
    }

    /// Resets the peak-RSS mark to the current RSS (`/proc/<pid>/clear_refs`,
    /// value 5). Returns false where the kernel refuses, so the peak is the
    /// lifetime peak.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// The server's log so far (standard error).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The fields of a `/proc/…/stat` file after the command name (which may
/// hold spaces, in parentheses): [0] is field 3 (state), [1] the parent's
/// pid, …; `None` if the file cannot be read.
pub fn stat_fields(stat_path: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The niceness of process `pid` (`/proc/<pid>/stat`, field 19), if shown.
pub fn nice_of(pid: u32) -> Option<i32> {
    stat_fields(&format!("/proc/{pid}/stat"))?
        .get(16)?
        .parse()
        .ok()
}

/// User + system CPU seconds from a `/proc/…/stat` file (clock ticks of 1/100 s).
pub fn cpu_seconds_of(stat_path: &str) -> f64 {
    let fields = stat_fields(stat_path).unwrap_or_default();
    // utime is field 14, stime field 15.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// CPU seconds of this whole process.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// `write_bytes` of a `/proc/…/io` file: the bytes a process caused to be
/// sent to storage (0 where the kernel keeps no such count).
pub fn written_bytes_of(io_path: &str) -> u64 {
    std::fs::read_to_string(io_path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes this whole process has sent to storage.
pub fn own_written_bytes() -> u64 {
    written_bytes_of("/proc/self/io")
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
