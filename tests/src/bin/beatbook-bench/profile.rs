//! Where the CPU of a push, of a fresh device's pull and of incremental
//! syncs goes: one Beatbook run of the comparison (the peer's records, no
//! peer) with `perf record` sampling the whole machine during each of the
//! three phases, every sample put under what the code was doing (its
//! stack's first frame that a rule below names) and what kind of work it
//! was (the frame nearest the leaf that a mechanism names). Shares, not
//! times: sampling slows both processes, so the profiled run's rates are
//! not the comparison's.
//!
//! `scripts/bench.sh profile` → `docs/bench/profile.json` (and
//! `profile-50k.json`), rendered by `beatbook-bench report
//! docs/bench/profile.json` (and `--incremental-growth`).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::compare::{self, Phase, Watch, WritePath};
use crate::{commit, fmt_int, machine, table, write_results};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Samples per second on each core.
    #[arg(long, default_value_t = 999)]
    frequency: u32,
    /// A prepared copy of ../shared/peers/pouchdb (its gen.js makes the records).
    #[arg(long, env = "BEATBOOK_PEER_DIR")]
    peer: PathBuf,
    /// Where the profile goes.
    #[arg(long, default_value = "docs/bench/profile.json")]
    out: PathBuf,
    /// Incremental syncs of 100 edited records sampled after the push and
    /// the pull (their edits are made with the sampling off), as a third
    /// phase; 0 leaves it out.
    #[arg(long, default_value_t = 50)]
    incremental_rounds: usize,
}

/// What the code was doing: the first rule (in this order) naming a frame of
/// the sample's stack. Device and server share the list; each names only
/// its own code.
const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "copying the log into the database (checkpoint)",
        &["sqlite3WalCheckpoint"],
    ),
    (
        "commit: the log's pages written",
        &["sqlite3PagerCommitPhaseOne", "sqlite3BtreeCommitPhaseTwo"],
    ),
    (
        "validating the values against the form",
        &["beatbook_schema::form::validate"],
    ),
    (
        "the sync rules (deciding, merging)",
        &["beatbook_server::sync::decide"],
    ),
    (
        "the record's stored state, written or read",
        &["beatbook_store::state"],
    ),
    (
        "writing the version: rows and indexes",
        &[
            "beatbook_store_sqlite::write_version",
            "beatbook_store_sqlite::push::",
            "beatbook_store_sqlite::group::apply",
        ],
    ),
    (
        "reading a pull's page from the log",
        &["as beatbook_store::Store>::pull"],
    ),
    ("recording the push's answers", &["::apply_push"]),
    ("making a push batch", &["::next_batch"]),
    ("applying a pulled page", &["::apply_pull"]),
    (
        "the device's pick lists (records changed)",
        &["beatbook_core::index", "beatbook_core::search"],
    ),
    (
        "decoding requests and answers (JSON)",
        &[
            "serde_json::de::from_slice",
            "serde_json::de::from_str",
            "serde_json::de::from_trait",
            "beatbook_server::http::extract",
            "beatbook_schema::protocol::_::<impl serde_core::de::Deserialize",
        ],
    ),
    ("gzip", &["flate2::", "zlib_rs::", "async_compression::"]),
    ("encoding JSON", &["serde_json::"]),
    (
        "HTTP and the async runtime",
        &[
            "hyper::",
            "hyper_util::",
            "reqwest::",
            "axum::",
            "tower::",
            "tokio::",
        ],
    ),
];

/// What kind of work it was: the frame nearest the leaf that one of these
/// names (tried frame by frame from the leaf).
const MECHANISMS: &[(&str, &[&str])] = &[
    (
        "kernel: fresh memory (page faults)",
        &["clear_page", "exc_page_fault", "do_anonymous_page"],
    ),
    (
        "kernel: file writes and syncs",
        &[
            "vfs_write",
            "__x64_sys_pwrite64",
            "vfs_fsync",
            "__x64_sys_fdatasync",
            "__x64_sys_fsync",
            "ext4_",
        ],
    ),
    (
        "kernel: file reads",
        &["vfs_read", "__x64_sys_pread64", "filemap_read"],
    ),
    (
        "kernel: network (loopback)",
        &[
            "tcp_",
            "__x64_sys_sendto",
            "__x64_sys_recvfrom",
            "sock_",
            "__sys_sendmsg",
        ],
    ),
    (
        "kernel: other",
        &["entry_SYSCALL_64", "asm_sysvec", "schedule", "__schedule"],
    ),
    (
        "SQLCipher: page encryption and HMAC",
        &[
            "sqlcipher_",
            "AES",
            "aes",
            "SHA256",
            "sha256",
            "EVP_",
            "HMAC",
        ],
    ),
    (
        "SQLite",
        &[
            "sqlite3",
            "walWrite",
            "walChecksum",
            "walIndex",
            "walFind",
            "walMerge",
            "walCheckpoint",
            "walRestart",
            "walTry",
            "pager",
            "btree",
            "pcache1",
            "vdbe",
            "moveTo",
            "getPageNormal",
            "readDbPage",
            "balance",
            "insertCell",
            "dropCell",
            "fillInCell",
            "allocateSpace",
            "freeSpace",
            "defragmentPage",
            "accessPayload",
            "getAndInitPage",
            "rebuildPage",
            "editPage",
            "findCell",
        ],
    ),
    (
        "JSON (serde_json)",
        &["serde_json::", "serde_core::", "indexmap::"],
    ),
    ("gzip", &["zlib_rs::", "flate2::"]),
    (
        "memory allocator",
        &[
            "_rjem_",
            "je_",
            "malloc",
            "free",
            "realloc",
            "__rust_dealloc",
            "__rust_alloc",
        ],
    ),
    ("memory copies", &["memmove", "memcpy", "memset"]),
];

/// The profile of the profiled phases of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileFile {
    pub machine: String,
    pub date: String,
    pub commit: String,
    pub n: usize,
    pub write: WritePath,
    pub frequency_hz: u32,
    pub phases: Vec<PhaseProfile>,
}

/// One phase: its samples by process, operation and mechanism.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseProfile {
    pub name: String,
    pub records: usize,
    /// The phase's time with the sampling on (longer than unprofiled).
    pub seconds: f64,
    /// Samples of the cores idle.
    pub idle: u64,
    pub processes: Vec<ProcessProfile>,
}

/// One process's samples in a phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessProfile {
    /// `server`, `device`, `proxy` (the benchmark's byte counter) or `other`.
    pub name: String,
    pub samples: u64,
    pub operations: Vec<Share>,
    pub mechanisms: Vec<Share>,
    /// The functions with the most samples of their own (the leaf frame),
    /// the first [`FUNCTIONS_KEPT`]: how flat the profile is.
    #[serde(default)]
    pub functions: Vec<Share>,
}

/// Functions kept per process in a profile (the README shows the first ten).
const FUNCTIONS_KEPT: usize = 20;

/// Samples under one label.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Share {
    pub label: String,
    pub samples: u64,
}

/// `perf record` of the whole machine, started paused, sampling while a
/// phase runs.
pub struct Recorder {
    child: Child,
    control: File,
    ack: File,
    data: PathBuf,
}

impl Recorder {
    /// Starts `perf record` (paused) writing `data`, with its control fifos
    /// beside it.
    pub fn start(data: &Path, frequency: u32) -> Result<Self> {
        let (ctl, ack) = (data.with_extension("ctl"), data.with_extension("ack"));
        for fifo in [&ctl, &ack] {
            let _ = std::fs::remove_file(fifo);
            let made = Command::new("mkfifo")
                .arg(fifo)
                .status()
                .context("running mkfifo")?;
            ensure!(made.success(), "mkfifo {} failed", fifo.display());
        }
        let child = Command::new("perf")
            .args([
                "record",
                "-a",
                "-F",
                &frequency.to_string(),
                "--call-graph",
                "dwarf,16384",
                "-D",
                "-1",
            ])
            .arg("--control")
            .arg(format!("fifo:{},{}", ctl.display(), ack.display()))
            .arg("-o")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("running perf (scripts/bench.sh profile installs linux-perf)")?;
        // Each open waits for perf to open the other end.
        let control = OpenOptions::new().write(true).open(&ctl)?;
        let ack = File::open(&ack)?;
        Ok(Self {
            child,
            control,
            ack,
            data: data.to_owned(),
        })
    }

    fn command(&mut self, what: &str) -> Result<()> {
        self.control.write_all(format!("{what}\n").as_bytes())?;
        let mut answer = [0u8; 5];
        self.ack
            .read_exact(&mut answer)
            .with_context(|| format!("perf did not acknowledge `{what}`"))?;
        Ok(())
    }

    /// Samples from now on.
    pub fn resume(&mut self) -> Result<()> {
        self.command("enable")
    }

    /// No more samples until resumed.
    pub fn pause(&mut self) -> Result<()> {
        self.command("disable")
    }

    /// Stops perf and returns its data file.
    pub fn finish(mut self) -> Result<PathBuf> {
        let status = stop_perf(&mut self.child)?;
        ensure!(
            status.success() || status.code() == Some(130) || status.code().is_none(),
            "perf record failed: {status}"
        );
        Ok(self.data)
    }
}

/// Stops a `perf record` as Ctrl-C would (it writes out its data then) and
/// waits for it.
pub fn stop_perf(perf: &mut Child) -> Result<ExitStatus> {
    Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status()
        .context("running kill")?;
    Ok(perf.wait()?)
}

/// A sample: its process id, thread name and stack, leaf first.
struct Sample {
    pid: u32,
    comm: String,
    stack: Vec<String>,
}

/// The samples `perf script` prints for `data`, one at a time.
fn samples(data: &Path, mut each: impl FnMut(Sample)) -> Result<()> {
    let mut child = Command::new("perf")
        .args(["script", "-F", "comm,pid,ip,sym,dso", "--no-inline", "-i"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("running perf script")?;
    let out = child.stdout.take().context("perf script's output")?;
    parse(BufReader::new(out), &mut each)?;
    let status = child.wait()?;
    ensure!(status.success(), "perf script failed: {status}");
    Ok(())
}

/// The samples in `perf script -F comm,pid,ip,sym,dso` output: a header line
/// ("comm pid"), a line per frame, a blank line.
fn parse(text: impl BufRead, mut each: impl FnMut(Sample)) -> Result<()> {
    let mut current: Option<Sample> = None;
    for line in text.lines() {
        let line = line?;
        if line.trim().is_empty() {
            current.take().map(&mut each);
        } else if line.starts_with(['\t', ' ']) && current.is_some() {
            // "\t    ffffffff8225f8ab symbol+0x1b (dso)" or "… [unknown] (dso)"
            let frame = line.trim().split_once(' ').map_or("", |(_, s)| s);
            let (symbol, dso) = frame.rsplit_once(" (").unwrap_or((frame, ""));
            // A frame without a symbol is named by its file (libcrypto's
            // assembly, say).
            let file = dso.trim_end_matches(')').rsplit('/').next().unwrap_or("");
            let symbol = match symbol {
                "[unknown]" if !file.is_empty() => format!("[unknown] in {file}"),
                s => s.to_owned(),
            };
            if let Some(s) = current.as_mut() {
                s.stack.push(symbol);
            }
        } else if let Some((comm, pid)) = header(&line) {
            current.take().map(&mut each);
            current = Some(Sample {
                pid,
                comm,
                stack: Vec::new(),
            });
        }
    }
    current.take().map(&mut each);
    Ok(())
}

/// "comm  1234" (the thread's name may hold spaces).
fn header(line: &str) -> Option<(String, u32)> {
    let line = line.trim_end();
    let (comm, pid) = line.rsplit_once(char::is_whitespace)?;
    Some((comm.trim().to_owned(), pid.parse().ok()?))
}

/// Whether `frame` is one a rule's `names` names.
fn names(names: &[&str], frame: &str) -> bool {
    names.iter().any(|n| frame.contains(n))
}

fn label<'a>(rules: &[(&'a str, &[&str])], frame: &str) -> Option<&'a str> {
    rules
        .iter()
        .find(|(_, n)| names(n, frame))
        .map(|(label, _)| *label)
}

/// The operation: the first rule, in order, that names any frame.
fn operation(stack: &[String]) -> &'static str {
    OPERATIONS
        .iter()
        .find(|(_, n)| stack.iter().any(|f| names(n, f)))
        .map_or("other", |(label, _)| label)
}

/// The function a sample was in: its leaf frame without the offset.
fn function(stack: &[String]) -> &str {
    let leaf = stack.first().map_or("[unknown]", String::as_str);
    leaf.rsplit_once("+0x").map_or(leaf, |(name, _)| name)
}

/// The mechanism: the frame nearest the leaf that a mechanism names.
fn mechanism(stack: &[String]) -> &'static str {
    stack
        .iter()
        .find_map(|f| label(MECHANISMS, f))
        .unwrap_or("other code")
}

/// Counts under labels, in first-seen order; sorted at the end.
#[derive(Default)]
struct Tally(Vec<Share>);

impl Tally {
    fn add(&mut self, label: &str) {
        match self.0.iter_mut().find(|s| s.label == label) {
            Some(s) => s.samples += 1,
            None => self.0.push(Share {
                label: label.to_owned(),
                samples: 1,
            }),
        }
    }

    fn sorted(mut self) -> Vec<Share> {
        self.0
            .sort_by(|a, b| b.samples.cmp(&a.samples).then(a.label.cmp(&b.label)));
        self.0
    }
}

/// The profile of one phase's `perf` data: the device is this process
/// (`device`), apart from its byte-counting proxy thread (`proxy`).
fn classify(
    name: &str,
    records: usize,
    seconds: f64,
    data: &Path,
    server: u32,
    device: u32,
) -> Result<PhaseProfile> {
    let names = ["server", "device", "proxy", "other"];
    let mut counts = [0u64; 4];
    let mut operations: [Tally; 4] = Default::default();
    let mut mechanisms: [Tally; 4] = Default::default();
    let mut functions: [Tally; 4] = Default::default();
    let mut idle = 0;
    samples(data, |s| {
        if s.pid == 0 {
            idle += 1;
            return;
        }
        let i = match s.pid {
            p if p == server => 0,
            p if p == device && s.comm == "counting-proxy" => 2,
            p if p == device => 1,
            _ => 3,
        };
        counts[i] += 1;
        operations[i].add(operation(&s.stack));
        mechanisms[i].add(mechanism(&s.stack));
        functions[i].add(function(&s.stack));
    })?;
    if counts[0] == 0 || counts[1] == 0 {
        bail!("perf recorded no samples of the server or the device in {name} (is perf allowed to record the whole machine? /proc/sys/kernel/perf_event_paranoid)");
    }
    let processes = names
        .iter()
        .zip(counts)
        .zip(operations.into_iter().zip(mechanisms).zip(functions))
        .map(|((name, samples), ((ops, mechs), funcs))| ProcessProfile {
            name: (*name).to_owned(),
            samples,
            operations: ops.sorted(),
            mechanisms: mechs.sorted(),
            functions: funcs.sorted().into_iter().take(FUNCTIONS_KEPT).collect(),
        })
        .collect();
    Ok(PhaseProfile {
        name: name.to_owned(),
        records,
        seconds,
        idle,
        processes,
    })
}

/// The profiles of a run's phases, each recorded by its own `perf`.
struct Profiles {
    dir: PathBuf,
    frequency: u32,
    incremental_rounds: usize,
    recording: Option<Recorder>,
    phases: Vec<PhaseProfile>,
}

impl Watch for Profiles {
    /// Starts perf (untimed), then its sampling.
    fn begin(&mut self) -> Result<()> {
        let data = self.dir.join(format!("phase-{}.data", self.phases.len()));
        let mut recorder = Recorder::start(&data, self.frequency)?;
        recorder.resume()?;
        self.recording = Some(recorder);
        Ok(())
    }

    /// Stops the sampling and sorts the phase's samples.
    fn end(&mut self, name: &str, phase: &Phase, server: u32) -> Result<()> {
        let mut recorder = self
            .recording
            .take()
            .context("a phase ended that was not begun")?;
        recorder.pause()?;
        let data = recorder.finish()?;
        eprintln!("  sorting the samples of {name}");
        self.phases.push(classify(
            name,
            phase.records,
            phase.seconds,
            &data,
            server,
            std::process::id(),
        )?);
        Ok(())
    }

    fn incremental_rounds(&self) -> usize {
        self.incremental_rounds
    }

    fn pause(&mut self) -> Result<()> {
        self.recording
            .as_mut()
            .context("paused while not recording")?
            .pause()
    }

    fn resume(&mut self) -> Result<()> {
        self.recording
            .as_mut()
            .context("resumed while not recording")?
            .resume()
    }
}

/// One profiled run; writes the profile and returns it.
pub async fn run(args: Args) -> Result<ProfileFile> {
    let peer = args.peer.canonicalize().with_context(|| {
        format!(
            "no peer at {} (scripts/bench.sh prepares one)",
            args.peer.display()
        )
    })?;
    let prepared = compare::prepare(&peer, args.n, 100)?;
    let dir = tempfile::tempdir()?;
    let mut profiles = Profiles {
        dir: dir.path().to_owned(),
        frequency: args.frequency,
        incremental_rounds: args.incremental_rounds,
        recording: None,
        phases: Vec::new(),
    };
    compare::beatbook_run(
        &prepared.records,
        &prepared.edits,
        &prepared.form,
        WritePath::Import,
        Some(&mut profiles),
    )
    .await?;
    let file = ProfileFile {
        machine: machine(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        commit: commit(),
        n: args.n,
        write: WritePath::Import,
        frequency_hz: args.frequency,
        phases: profiles.phases,
    };
    write_results(&args.out, &file)?;
    eprintln!("profile written to {}", args.out.display());
    Ok(file)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{:.0} %", 100.0 * part as f64 / whole as f64)
}

/// The README's tables: per phase, each process's operations and the
/// mechanisms underneath, as shares of its samples.
pub fn render(file: &ProfileFile) -> String {
    let mut out = format!(
        "`perf record` of the whole machine at {} Hz per core, {} records (the peer's, imported), {}; {}, commit {}.\n",
        file.frequency_hz,
        fmt_int(file.n as f64),
        file.machine,
        file.date,
        file.commit,
    );
    for phase in &file.phases {
        let by = |name: &str| phase.processes.iter().find(|p| p.name == name);
        let (Some(server), Some(device)) = (by("server"), by("device")) else {
            continue;
        };
        let busy: u64 = phase.processes.iter().map(|p| p.samples).sum();
        out.push_str(&format!(
            "\n{} of {} records ({:.2} s while sampled): of the samples of both cores, server {}, device {}, the benchmark's byte-counting proxy {}, other processes (perf itself among them) {}, idle {}.\n\n",
            phase.name,
            fmt_int(phase.records as f64),
            phase.seconds,
            percent(server.samples, busy + phase.idle),
            percent(device.samples, busy + phase.idle),
            percent(by("proxy").map_or(0, |p| p.samples), busy + phase.idle),
            percent(by("other").map_or(0, |p| p.samples), busy + phase.idle),
            percent(phase.idle, busy + phase.idle),
        ));
        let rows: Vec<Vec<String>> = [server, device]
            .iter()
            .flat_map(|p| {
                p.operations
                    .iter()
                    .filter(|s| s.samples * 100 >= p.samples)
                    .map(move |s| {
                        vec![
                            p.name.clone(),
                            s.label.clone(),
                            percent(s.samples, p.samples),
                        ]
                    })
            })
            .collect();
        out.push_str(&table(
            &["process", "what the code was doing", "share of its samples"],
            &rows,
        ));
        let mut labels: Vec<&str> = MECHANISMS.iter().map(|(l, _)| *l).collect();
        labels.extend(["other code"]);
        let share = |p: &ProcessProfile, label: &str| {
            percent(
                p.mechanisms
                    .iter()
                    .find(|s| s.label == label)
                    .map_or(0, |s| s.samples),
                p.samples,
            )
        };
        let rows: Vec<Vec<String>> = labels
            .iter()
            .map(|l| vec![(*l).to_owned(), share(server, l), share(device, l)])
            .collect();
        out.push('\n');
        out.push_str(&table(
            &["kind of work (nearest the leaf)", "server", "device"],
            &rows,
        ));
        out.push_str(&flatness(server, device));
    }
    out
}

/// The phase of a profile that holds its incremental syncs.
fn incremental(file: &ProfileFile) -> Result<&PhaseProfile> {
    file.phases
        .iter()
        .find(|p| p.name.contains(INCREMENTAL))
        .with_context(|| {
            format!(
                "the profile at {} records has no incremental syncs (`beatbook-bench profile --incremental-rounds N`)",
                file.n
            )
        })
}

/// Part of the name [`compare::beatbook_run`] gives its watched incremental
/// syncs.
pub(crate) const INCREMENTAL: &str = "incremental syncs";

/// What the incremental sync costs per changed record at two sizes of the
/// backlog, process by process and operation by operation: CPU time from
/// the samples (each one `1 / frequency` s of a core), wall time from the
/// phase's clock (slowed by the sampling in both). What grows, and where.
pub fn render_incremental_growth(small: &ProfileFile, large: &ProfileFile) -> Result<String> {
    let (a, b) = (incremental(small)?, incremental(large)?);
    let per_record = |file: &ProfileFile, phase: &PhaseProfile, samples: u64| {
        samples as f64 * 1e6 / f64::from(file.frequency_hz) / phase.records.max(1) as f64
    };
    let samples = |phase: &PhaseProfile, process: &str, label: Option<&str>| {
        phase
            .processes
            .iter()
            .find(|p| p.name == process)
            .map_or(0, |p| match label {
                None => p.samples,
                Some(l) => p
                    .operations
                    .iter()
                    .find(|s| s.label == l)
                    .map_or(0, |s| s.samples),
            })
    };
    let cells = |process: &str, label: Option<&str>| {
        let (x, y) = (
            per_record(small, a, samples(a, process, label)),
            per_record(large, b, samples(b, process, label)),
        );
        [
            format!("{x:.0}"),
            format!("{y:.0}"),
            format!("{:+.0}", y - x),
        ]
    };
    let mut rows = Vec::new();
    for process in ["server", "device"] {
        rows.push(
            [
                vec![process.to_owned(), "all of it".to_owned()],
                cells(process, None).to_vec(),
            ]
            .concat(),
        );
        let mut labels: Vec<&str> = [a, b]
            .iter()
            .filter_map(|phase| phase.processes.iter().find(|p| p.name == process))
            .flat_map(|p| {
                p.operations
                    .iter()
                    .filter(move |s| s.samples * 50 >= p.samples)
                    .map(|s| s.label.as_str())
            })
            .collect();
        labels.sort_unstable();
        labels.dedup();
        let mut labelled: Vec<_> = labels
            .into_iter()
            .map(|l| (per_record(large, b, samples(b, process, Some(l))), l))
            .collect();
        labelled.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (_, label) in labelled {
            rows.push(
                [
                    vec![process.to_owned(), label.to_owned()],
                    cells(process, Some(label)).to_vec(),
                ]
                .concat(),
            );
        }
    }
    let wall = |phase: &PhaseProfile| phase.seconds * 1e6 / phase.records.max(1) as f64;
    let (n_small, n_large) = (fmt_int(small.n as f64), fmt_int(large.n as f64));
    Ok(format!(
        "{} at {n_small} records and {} at {n_large} (`perf record` at {} Hz per core; {}, commits {} and {}): wall time per changed record {:.0} and {:.0} µs while sampled.\n\n{}",
        a.name,
        b.name,
        small.frequency_hz,
        small.machine,
        small.commit,
        large.commit,
        wall(a),
        wall(b),
        table(
            &[
                "process",
                "what the code was doing",
                &format!("CPU µs per changed record, {n_small} records"),
                &format!("{n_large} records"),
                "difference",
            ],
            &rows,
        )
    ))
}

/// [`render_incremental_growth`] of two profile files.
pub fn render_incremental_growth_files(small: &Path, large: &Path) -> Result<String> {
    let read = |path: &Path| -> Result<ProfileFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a profile file", path.display()))
    };
    render_incremental_growth(&read(small)?, &read(large)?)
}

/// The ten functions each process spent most samples in, and what share
/// the first and all ten hold: no single function stands out.
fn flatness(server: &ProcessProfile, device: &ProcessProfile) -> String {
    const SHOWN: usize = 10;
    if server.functions.is_empty() || device.functions.is_empty() {
        return String::new();
    }
    let top = |p: &ProcessProfile| {
        let first = p.functions.first().map_or(0, |f| f.samples);
        let ten = p.functions.iter().take(SHOWN).map(|f| f.samples).sum();
        (percent(first, p.samples), percent(ten, p.samples))
    };
    let ((server_first, server_ten), (device_first, device_ten)) = (top(server), top(device));
    let cell = |p: &ProcessProfile, i: usize| {
        p.functions.get(i).map_or_else(
            || vec!["".to_owned(), "".to_owned()],
            |f| vec![format!("`{}`", f.label), percent(f.samples, p.samples)],
        )
    };
    let rows: Vec<Vec<String>> = (0..SHOWN)
        .map(|i| [cell(server, i), cell(device, i)].concat())
        .collect();
    format!(
        "\nThe functions with the most samples of their own: on the server the first holds {server_first} of its samples and the first ten {server_ten}; on the device {device_first} and {device_ten}.\n\n{}",
        table(&["server: function", "share", "device: function", "share"], &rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(frames: &[&str]) -> Vec<String> {
        frames.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn a_sample_is_put_under_the_first_operation_and_the_leafmost_mechanism() {
        let s = stack(&[
            "clear_page_erms",
            "exc_page_fault",
            "alloc::collections::btree::map::BTreeMap<K,V,A>::insert",
            "beatbook_schema::form::validate::validate_scope",
            "beatbook_server::sync::decide::decide",
            "beatbook_store_sqlite::group::Queue::write",
            "tokio::runtime::blocking::pool::Inner::run",
        ]);
        assert_eq!(operation(&s), "validating the values against the form");
        assert_eq!(mechanism(&s), "kernel: fresh memory (page faults)");
        let commit = stack(&[
            "walWriteOneFrame",
            "sqlite3PagerCommitPhaseOne.part.0",
            "beatbook_store_sqlite::group::commit",
        ]);
        assert_eq!(operation(&commit), "commit: the log's pages written");
        assert_eq!(mechanism(&commit), "SQLite");
        assert_eq!(function(&s), "clear_page_erms");
        assert_eq!(
            function(&stack(&["sqlite3WalCheckpoint+0x1c", "main"])),
            "sqlite3WalCheckpoint"
        );
        assert_eq!(function(&[]), "[unknown]");
        assert_eq!(operation(&stack(&["[unknown]"])), "other");
        assert_eq!(mechanism(&stack(&["[unknown]"])), "other code");
    }

    #[test]
    fn the_incremental_growth_table_gives_cpu_per_changed_record_by_operation() {
        let process = |name: &str, label: &str, samples: u64| ProcessProfile {
            name: name.into(),
            samples,
            operations: vec![Share {
                label: label.into(),
                samples,
            }],
            mechanisms: Vec::new(),
            functions: Vec::new(),
        };
        let phase = |name: &str, applying: u64| PhaseProfile {
            name: name.into(),
            records: 200,
            seconds: 0.1,
            idle: 0,
            processes: vec![
                process("server", "validating the values against the form", 40),
                process("device", "applying a pulled page", applying),
            ],
        };
        let file = |n: usize, phase: PhaseProfile| ProfileFile {
            machine: "m".into(),
            date: "d".into(),
            commit: "c".into(),
            n,
            write: WritePath::Import,
            frequency_hz: 1000,
            phases: vec![phase],
        };
        let rounds = "2 incremental syncs of 100 changed records (push + pull)";
        let out = render_incremental_growth(
            &file(10_000, phase(rounds, 60)),
            &file(50_000, phase(rounds, 100)),
        )
        .expect("both profiles hold incremental syncs");
        // 60 samples at 1,000 Hz over 200 changed records: 300 µs each.
        assert!(
            out.contains("| device | applying a pulled page | 300 | 500 | +200 |"),
            "{out}"
        );
        assert!(
            out.contains("| server | all of it | 200 | 200 | +0 |"),
            "{out}"
        );
        assert!(out.contains("500 and 500 µs while sampled"), "{out}");
        let no_rounds = render_incremental_growth(
            &file(10_000, phase("push", 60)),
            &file(50_000, phase(rounds, 100)),
        );
        assert!(no_rounds.is_err_and(|e| e.to_string().contains("10000 records")));
    }

    #[test]
    fn perf_script_output_is_read_sample_by_sample() {
        let text = "swapper     0 \n\tffffffff8225f8ab pv_native_safe_halt+0xb ([kernel.kallsyms])\n\n\
                    tokio-rt-worker 10755 \n\t     55d0 sqlite3WalCheckpoint+0x1c (/srv)\n\t  55e0 [unknown] (/srv)\n\n\
                    bench-main 10735 \n";
        let mut seen = Vec::new();
        parse(text.as_bytes(), |s| seen.push((s.pid, s.comm, s.stack))).expect("parse");
        assert_eq!(
            seen,
            vec![
                (
                    0,
                    "swapper".into(),
                    vec!["pv_native_safe_halt+0xb".to_owned()]
                ),
                (
                    10755,
                    "tokio-rt-worker".into(),
                    vec![
                        "sqlite3WalCheckpoint+0x1c".to_owned(),
                        "[unknown] in srv".to_owned()
                    ]
                ),
                (10735, "bench-main".into(), vec![]),
            ]
        );
    }

    #[test]
    fn a_header_line_gives_the_thread_name_and_process() {
        assert_eq!(
            header("tokio-rt-worker 10755"),
            Some(("tokio-rt-worker".into(), 10755))
        );
        assert_eq!(
            header("  sqlite-checkpoi   42  "),
            Some(("sqlite-checkpoi".into(), 42))
        );
        assert_eq!(header("no pid here"), None);
    }
}
