//! Settings shared by the fault-injection tests: how many trials (short in CI,
//! `BEATBOOK_FAULT_TRIALS=200` for the long mode) and the random seed
//! (`BEATBOOK_FAULT_SEED` replays a failing trial), and what the trials found
//! ([`Tally`], written as a results file in the long mode).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Trials to run: `short` unless `BEATBOOK_FAULT_TRIALS` says otherwise.
pub fn trials(short: usize) -> usize {
    std::env::var("BEATBOOK_FAULT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(short)
}

/// The base seed: `BEATBOOK_FAULT_SEED`, or the clock.
pub fn seed() -> u64 {
    std::env::var("BEATBOOK_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// What one fault-injection test found over all its trials. Written as
/// `DIR/<name>.json` when `BEATBOOK_FAULT_RESULTS=DIR` is set
/// (`scripts/faults-long.sh` writes `docs/reliability/`), from which
/// `beatbook-bench report docs/reliability` renders the README's long-run
/// results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultResults {
    /// The test, `<file>::<function>`.
    pub test: String,
    /// The commit tested (`-dirty` when the work tree had changes).
    pub commit: String,
    /// When the test ended (UTC, RFC 3339).
    pub date: String,
    /// Cores, CPU model and memory.
    pub machine: String,
    /// The profile the test ran in: "debug" or "release".
    pub profile: String,
    /// The first trial's seed, trial `i` running with `seed + i`; none
    /// when the trials are not random.
    pub seed: Option<u64>,
    pub trials: usize,
    /// What was done to the system: "kills" (SIGKILL of a process) or
    /// "faults" (a connection refused, cut, reset, truncated or delayed).
    pub injected: String,
    /// How many of them.
    pub faults: usize,
    /// Records the devices saved, each of which must end on the server once.
    pub records: usize,
    /// Saved records (or versions of them) the server does not hold.
    pub lost: usize,
    /// Records (or versions) the server holds more than once.
    pub duplicated: usize,
    /// Every device ended synced with nothing queued, the server held
    /// exactly what was saved, and a fresh pull saw every record once.
    pub converged: bool,
    /// What went wrong, each with its trial's seed; empty when all is well.
    pub problems: Vec<String>,
    /// Wall-clock seconds from the first trial to the last check.
    pub seconds: f64,
}

/// Counts what a fault test's trials find, then writes the results (when
/// asked) and fails the test on any loss, duplicate or problem — after the
/// last trial, so that the file holds every trial's count.
#[derive(Debug)]
pub struct Tally {
    name: String,
    started: Instant,
    results: FaultResults,
}

impl Tally {
    /// Starts counting for `test` (`<file>::<function>`), whose results go
    /// to `<name>.json`; `injected` is "kills" or "faults".
    pub fn start(name: &str, test: &str, seed: Option<u64>, trials: usize, injected: &str) -> Self {
        Self {
            name: name.to_owned(),
            started: Instant::now(),
            results: FaultResults {
                test: test.to_owned(),
                commit: String::new(),
                date: String::new(),
                machine: String::new(),
                profile: if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                }
                .to_owned(),
                seed,
                trials,
                injected: injected.to_owned(),
                faults: 0,
                records: 0,
                lost: 0,
                duplicated: 0,
                converged: true,
                problems: Vec::new(),
                seconds: 0.0,
            },
        }
    }

    /// `n` more kills or faults injected.
    pub fn injected(&mut self, n: usize) {
        self.results.faults += n;
    }

    /// `n` more records saved by the devices.
    pub fn saved(&mut self, n: usize) {
        self.results.records += n;
    }

    /// A record the server should hold `expected` times (versions) and holds
    /// `stored` times: fewer are lost, more are duplicated.
    pub fn stored(&mut self, what: impl std::fmt::Display, stored: usize, expected: usize) {
        if stored == expected {
            return;
        }
        if stored < expected {
            self.results.lost += expected - stored;
        } else {
            self.results.duplicated += stored - expected;
        }
        self.problem(format!("{what}: {stored} stored, {expected} expected"));
    }

    /// Something that should hold did not: the run did not converge.
    pub fn problem(&mut self, what: String) {
        eprintln!("PROBLEM: {what}");
        self.results.converged = false;
        self.results.problems.push(what);
    }

    /// Writes `$BEATBOOK_FAULT_RESULTS/<name>.json` when that is set, then
    /// fails the test if anything was lost, duplicated or did not converge,
    /// or if no fault was injected at all.
    pub fn finish(self) {
        let dir = std::env::var_os("BEATBOOK_FAULT_RESULTS");
        self.finish_into(dir.as_deref().map(Path::new));
    }

    fn finish_into(mut self, dir: Option<&Path>) {
        if self.results.faults == 0 {
            self.problem(format!("no {} were injected", self.results.injected));
        }
        let r = &mut self.results;
        r.seconds = self.started.elapsed().as_secs_f64();
        r.commit = crate::results::commit();
        r.date = crate::results::date();
        r.machine = crate::results::machine();
        if let Some(dir) = dir {
            let path = dir.join(format!("{}.json", self.name));
            if let Err(e) = crate::results::write_results(&path, r) {
                panic!("BEATBOOK_FAULT_RESULTS: {e:#} — set it to a writable directory");
            }
            eprintln!("results written to {}", path.display());
        }
        assert!(
            r.lost == 0 && r.duplicated == 0 && r.converged,
            "{}: {} lost, {} duplicated; {} problem(s):\n{}",
            r.test,
            r.lost,
            r.duplicated,
            r.problems.len(),
            r.problems.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(dir: &Path, name: &str) -> FaultResults {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("written");
        serde_json::from_str(&text).expect("fault results")
    }

    #[test]
    fn a_clean_run_is_written_with_its_counts_and_passes() {
        let dir = tempfile::tempdir().expect("dir");
        let mut tally = Tally::start("clean", "fault_x::clean", Some(42), 2, "kills");
        tally.injected(3);
        tally.saved(10);
        tally.stored("record 1", 1, 1);
        tally.finish_into(Some(dir.path()));
        let r = written(dir.path(), "clean");
        assert_eq!(
            (r.test.as_str(), r.seed, r.trials, r.faults, r.records),
            ("fault_x::clean", Some(42), 2, 3, 10)
        );
        assert_eq!((r.lost, r.duplicated, r.converged), (0, 0, true));
        assert!(r.problems.is_empty());
    }

    #[test]
    fn losses_and_duplicates_are_counted_written_and_then_fail_the_test() {
        let dir = tempfile::tempdir().expect("dir");
        let mut tally = Tally::start("broken", "fault_x::broken", Some(7), 1, "faults");
        tally.injected(1);
        tally.saved(3);
        tally.stored("trial 0 (seed 7): record a", 0, 1);
        tally.stored("trial 0 (seed 7): record b", 3, 1);
        tally.stored("trial 0 (seed 7): record c", 1, 1);
        let path = dir.path().to_owned();
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tally.finish_into(Some(&path))
        }));
        let message = *failed
            .expect_err("the test fails")
            .downcast::<String>()
            .expect("text");
        assert!(message.contains("1 lost, 2 duplicated"), "{message}");
        assert!(
            message.contains("record b: 3 stored, 1 expected"),
            "{message}"
        );
        let r = written(dir.path(), "broken");
        assert_eq!((r.lost, r.duplicated, r.converged), (1, 2, false));
        assert_eq!(r.problems.len(), 2);
    }

    #[test]
    fn a_run_that_injected_nothing_fails() {
        let tally = Tally::start("idle", "fault_x::idle", None, 1, "kills");
        let failed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tally.finish_into(None)));
        let message = *failed
            .expect_err("the test fails")
            .downcast::<String>()
            .expect("text");
        assert!(message.contains("no kills were injected"), "{message}");
    }
}
