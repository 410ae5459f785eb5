//! Wrong-PIN accounting. Every unlock — window, liveview, command line — goes
//! through [`unlock`], so they share one limit: from the third wrong PIN in a
//! row the next try must wait (30 s, doubling, at most an hour), and the
//! tenth erases the device's data.
//!
//! The count is kept in `pin_attempts.json` beside `device.json`: it must be
//! readable before the PIN is known, and it is not secret. An attempt is
//! written down *before* its key is tried, so killing the app mid-check does
//! not undo it; the PIN that opens the store clears it. Someone who can edit
//! the device directory can reset the count, but then holds the encrypted
//! files anyway, and each offline guess still costs a full Argon2id run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use beatbook_schema::text::Text;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{self, LocalStoreError};

/// The file holding the count, in the device directory.
pub const ATTEMPTS_FILE: &str = "pin_attempts.json";

/// How wrong PINs are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPolicy {
    /// The wrong PIN from which each next try must wait.
    pub delay_from: u32,
    /// The wait after that wrong PIN; it doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// The wrong PIN that erases the device's data.
    pub wipe_after: u32,
}

impl Default for PinPolicy {
    fn default() -> Self {
        Self {
            delay_from: 3,
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            wipe_after: 10,
        }
    }
}

impl PinPolicy {
    /// The wait before the next try after `failures` wrong PINs in a row.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures < self.delay_from {
            return Duration::ZERO;
        }
        let factor = 2u32.checked_pow(failures - self.delay_from);
        factor
            .and_then(|f| self.first_delay.checked_mul(f))
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

/// Why the PIN did not unlock the device.
#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    /// The PIN is wrong; nothing on disk but the count changed.
    #[error("wrong PIN: the local database did not open (no data was changed); {left} more wrong PIN(s) erase the data on this device{}", wait_clause(*.wait_secs))]
    WrongPin {
        /// Wrong PINs left before the data is erased.
        left: u32,
        /// Seconds before the next try is accepted (0: at once).
        wait_secs: u64,
    },
    /// Too early after the last wrong PIN; the PIN was not tried.
    #[error("too many wrong PINs: wait {seconds} s before trying again")]
    Wait {
        /// Seconds left.
        seconds: u64,
    },
    /// Too many wrong PINs: the device's data was erased.
    #[error("{failures} wrong PINs in a row: the data on this device was erased; enroll it again")]
    Erased {
        /// Wrong PINs counted.
        failures: u32,
    },
    /// The store failed otherwise (the count is as before the try).
    #[error(transparent)]
    Store(#[from] LocalStoreError),
}

fn wait_clause(secs: u64) -> String {
    if secs == 0 {
        String::new()
    } else {
        format!("; wait {secs} s before the next try")
    }
}

impl UnlockError {
    /// What to tell the officer, in both languages (`None` for store failures).
    pub fn message(&self) -> Option<Text> {
        Some(match self {
            UnlockError::WrongPin { left, wait_secs: 0 } => Text::new(
                format!("PIN错误，请重试（再错 {left} 次将清除本机数据）"),
                format!("Wrong PIN: try again ({left} more wrong PINs erase the data on this phone)"),
            ),
            UnlockError::WrongPin { left, wait_secs } => Text::new(
                format!("PIN错误（再错 {left} 次将清除本机数据），请 {wait_secs} 秒后再试"),
                format!("Wrong PIN ({left} more wrong PINs erase the data on this phone): try again in {wait_secs} s"),
            ),
            UnlockError::Wait { seconds } => Text::new(
                format!("PIN错误次数过多，请 {seconds} 秒后再试"),
                format!("Too many wrong PINs: try again in {seconds} s"),
            ),
            UnlockError::Erased { failures } => Text::new(
                format!("连续 {failures} 次PIN错误，本机数据已清除，请重新绑定设备"),
                format!("{failures} wrong PINs in a row: the data on this phone was erased; enroll it again"),
            ),
            UnlockError::Store(_) => return None,
        })
    }

    /// Seconds the officer must wait before the next try (0: none).
    pub fn wait_secs(&self) -> u64 {
        match self {
            UnlockError::WrongPin { wait_secs, .. } => *wait_secs,
            UnlockError::Wait { seconds } => *seconds,
            _ => 0,
        }
    }
}

/// What the attempts file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Attempts {
    /// Wrong PINs in a row, including a try whose outcome is not known yet.
    failures: u32,
    /// When the last of them was tried.
    last: Option<DateTime<Utc>>,
}

/// Unlocks with one try of a PIN: `try_pin` opens the store (or answers
/// [`LocalStoreError::WrongPin`]); `now` is the platform's clock.
pub fn unlock<T>(
    dir: &Path,
    policy: &PinPolicy,
    now: DateTime<Utc>,
    try_pin: impl FnOnce() -> Result<T, LocalStoreError>,
) -> Result<T, UnlockError> {
    std::fs::create_dir_all(dir).map_err(LocalStoreError::from)?;
    // One try at a time per device, across threads and processes (liveview
    // serves several pages; the command line may run beside it), so that no
    // two tries read the same count: an exclusive lock on the directory
    // itself, released when `device_lock` is dropped.
    let device_lock = std::fs::File::open(dir).map_err(LocalStoreError::from)?;
    device_lock.lock().map_err(LocalStoreError::from)?;
    let path = dir.join(ATTEMPTS_FILE);
    let before = match read(&path) {
        Some(attempts) => attempts,
        None => {
            let assumed = unreadable(policy, now);
            write(&path, &assumed)?;
            assumed
        }
    };
    if before.failures >= policy.wipe_after {
        // The last try was wrong, or cut short, or so was the erase after it.
        erase(dir)?;
        return Err(UnlockError::Erased {
            failures: before.failures,
        });
    }
    if let Some(last) = before.last {
        let delay = policy.delay(before.failures);
        if now < last {
            // The clock went back: the wait starts again from now.
            write(
                &path,
                &Attempts {
                    last: Some(now),
                    ..before
                },
            )?;
            return Err(wait_error(delay));
        }
        let ready = chrono::Duration::from_std(delay)
            .ok()
            .and_then(|d| last.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if now < ready {
            let left = (ready - now).to_std().unwrap_or(delay);
            return Err(wait_error(left));
        }
    }
    let counted = Attempts {
        failures: before.failures.saturating_add(1),
        last: Some(now),
    };
    write(&path, &counted)?;
    match try_pin() {
        Ok(opened) => {
            remove(&path)?;
            Ok(opened)
        }
        Err(LocalStoreError::WrongPin) if counted.failures >= policy.wipe_after => {
            tracing::warn!(
                failures = counted.failures,
                "too many wrong PINs: erasing the device's data"
            );
            erase(dir)?;
            Err(UnlockError::Erased {
                failures: counted.failures,
            })
        }
        Err(LocalStoreError::WrongPin) => Err(UnlockError::WrongPin {
            left: policy.wipe_after - counted.failures,
            wait_secs: ceil_secs(policy.delay(counted.failures)),
        }),
        Err(other) => {
            // Not an answer about the PIN (e.g. not 6–12 digits): it does not count.
            if before == Attempts::default() {
                remove(&path)?;
            } else {
                write(&path, &before)?;
            }
            Err(other.into())
        }
    }
}

/// Seconds to wait before the next try would be accepted (0: none), for a
/// screen that shows the wait before the officer types.
pub fn wait_secs(dir: &Path, policy: &PinPolicy, now: DateTime<Utc>) -> u64 {
    let attempts = read(&dir.join(ATTEMPTS_FILE)).unwrap_or_else(|| unreadable(policy, now));
    let Some(last) = attempts.last else { return 0 };
    let delay = policy.delay(attempts.failures);
    let elapsed = (now - last).to_std().unwrap_or(Duration::ZERO);
    ceil_secs(delay.saturating_sub(elapsed))
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn wait_error(d: Duration) -> UnlockError {
    UnlockError::Wait {
        seconds: ceil_secs(d).max(1),
    }
}

/// The count on disk (none yet: zero); `None` when the file is unreadable.
fn read(path: &Path) -> Option<Attempts> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .inspect_err(|e| tracing::warn!(error = %e, "{ATTEMPTS_FILE} is unreadable"))
            .ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Attempts::default()),
        Err(e) => {
            tracing::warn!(error = %e, "{ATTEMPTS_FILE} cannot be read");
            None
        }
    }
}

/// What an unreadable count stands for: the first wait, starting now —
/// never a clean slate, never an erase.
fn unreadable(policy: &PinPolicy, now: DateTime<Utc>) -> Attempts {
    Attempts {
        failures: policy.delay_from.min(policy.wipe_after.saturating_sub(1)),
        last: Some(now),
    }
}

/// Writes the count durably (temporary file, fsync, rename, fsync the directory).
fn write(path: &Path, attempts: &Attempts) -> Result<(), LocalStoreError> {
    use std::io::Write;
    let tmp: PathBuf = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec(attempts)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), LocalStoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Erases the device's files, the count last: an erase cut short is
/// finished by the next try.
fn erase(dir: &Path) -> Result<(), LocalStoreError> {
    store::erase_files(dir)?;
    remove(&dir.join(ATTEMPTS_FILE))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rstest::rstest;

    use super::*;
    use crate::keys::PinKeys;
    use crate::store::LocalStore;

    const PIN: &str = "246810";
    const WRONG: &str = "135790";

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("a time")
    }

    fn try_open(dir: &Path, pin: &str, at: DateTime<Utc>) -> Result<LocalStore, UnlockError> {
        unlock(dir, &PinPolicy::default(), at, || {
            LocalStore::open(dir, pin, &PinKeys::fast_for_tests())
        })
    }

    /// A device with one record's worth of data.
    fn device() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        let store = try_open(dir.path(), PIN, t(0)).expect("first open");
        store.set_meta("marker", &"秘密").expect("write");
        dir
    }

    fn failures(dir: &Path) -> u32 {
        read(&dir.join(ATTEMPTS_FILE)).expect("readable").failures
    }

    #[rstest]
    #[case(0, 0)]
    #[case(1, 0)]
    #[case(2, 0)]
    #[case(3, 30)]
    #[case(4, 60)]
    #[case(5, 120)]
    #[case(9, 1920)]
    #[case(10, 3600)]
    #[case(40, 3600)]
    #[case(u32::MAX, 3600)]
    fn the_wait_doubles_from_the_third_wrong_pin_up_to_an_hour(
        #[case] failures: u32,
        #[case] secs: u64,
    ) {
        assert_eq!(
            PinPolicy::default().delay(failures),
            Duration::from_secs(secs)
        );
    }

    #[test]
    fn an_attempt_is_on_disk_before_its_key_is_tried() {
        let dir = device();
        let seen = unlock(dir.path(), &PinPolicy::default(), t(1), || {
            Ok::<_, LocalStoreError>(failures(dir.path()))
        })
        .expect("opens");
        assert_eq!(seen, 1, "counted while the key was being tried");
        assert_eq!(failures(dir.path()), 0, "cleared by the right PIN");
        // Killed mid-check: the count stays.
        let killed = std::panic::catch_unwind(|| {
            let _ = unlock(
                dir.path(),
                &PinPolicy::default(),
                t(2),
                || -> Result<(), LocalStoreError> { panic!("killed while deriving the key") },
            );
        });
        assert!(killed.is_err());
        assert_eq!(failures(dir.path()), 1);
    }

    #[test]
    fn the_count_survives_a_restart_and_the_wait_is_enforced() {
        let dir = device();
        for (i, at) in [t(10), t(11)].into_iter().enumerate() {
            let e = try_open(dir.path(), WRONG, at).expect_err("wrong");
            assert!(
                matches!(e, UnlockError::WrongPin { left, wait_secs: 0 } if left == 9 - i as u32),
                "{e:?}"
            );
        }
        // A new process reads the same file: the third wrong PIN starts a wait.
        let e = try_open(dir.path(), WRONG, t(12)).expect_err("wrong");
        assert!(
            matches!(
                e,
                UnlockError::WrongPin {
                    left: 7,
                    wait_secs: 30
                }
            ),
            "{e:?}"
        );
        assert_eq!(wait_secs(dir.path(), &PinPolicy::default(), t(22)), 20);
        // Even the right PIN is not tried during the wait.
        let e = try_open(dir.path(), PIN, t(22)).expect_err("too early");
        assert!(matches!(e, UnlockError::Wait { seconds: 20 }), "{e:?}");
        assert_eq!(failures(dir.path()), 3, "a refused try is not counted");
        let e = try_open(dir.path(), WRONG, t(42)).expect_err("wrong");
        assert!(
            matches!(
                e,
                UnlockError::WrongPin {
                    left: 6,
                    wait_secs: 60
                }
            ),
            "{e:?}"
        );
        let e = try_open(dir.path(), PIN, t(101)).expect_err("too early");
        assert!(matches!(e, UnlockError::Wait { seconds: 1 }), "{e:?}");
        // Setting the clock back does not shorten the wait.
        let e = try_open(dir.path(), PIN, t(-5000)).expect_err("clock went back");
        assert!(matches!(e, UnlockError::Wait { seconds: 60 }), "{e:?}");
        let e = try_open(dir.path(), PIN, t(-4950)).expect_err("still waiting");
        assert!(matches!(e, UnlockError::Wait { seconds: 10 }), "{e:?}");
        let store = try_open(dir.path(), PIN, t(-4940)).expect("the right PIN, in time");
        assert_eq!(
            store.meta::<String>("marker").expect("read").as_deref(),
            Some("秘密")
        );
    }

    #[test]
    fn the_right_pin_resets_the_count() {
        let dir = device();
        for at in [t(1), t(2)] {
            try_open(dir.path(), WRONG, at).expect_err("wrong");
        }
        drop(try_open(dir.path(), PIN, t(3)).expect("right"));
        assert!(!dir.path().join(ATTEMPTS_FILE).exists());
        let e = try_open(dir.path(), WRONG, t(4)).expect_err("wrong");
        assert!(
            matches!(
                e,
                UnlockError::WrongPin {
                    left: 9,
                    wait_secs: 0
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_pin_that_is_not_six_to_twelve_digits_is_not_counted() {
        let dir = device();
        try_open(dir.path(), WRONG, t(1)).expect_err("wrong");
        let e = try_open(dir.path(), "12", t(2)).expect_err("malformed");
        assert!(matches!(e, UnlockError::Store(LocalStoreError::Key(_))), "{e:?}");
        assert_eq!(failures(dir.path()), 1);
    }

    #[test]
    fn the_tenth_wrong_pin_erases_the_device() {
        let dir = device();
        let policy = PinPolicy::default();
        let mut at = t(0);
        let mut outcome = None;
        for _ in 0..policy.wipe_after {
            at += chrono::Duration::hours(2);
            outcome = Some(try_open(dir.path(), WRONG, at).expect_err("wrong"));
        }
        assert!(
            matches!(outcome, Some(UnlockError::Erased { failures: 10 })),
            "{outcome:?}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(
            left.iter().all(|n| n == "photos"),
            "only an empty photo directory is left: {left:?}"
        );
        // The old PIN now makes a new, empty device.
        let store = try_open(dir.path(), PIN, at).expect("a fresh device");
        assert_eq!(store.meta::<String>("marker").expect("read"), None);
    }

    #[test]
    fn an_erase_cut_short_is_finished_on_the_next_try() {
        let dir = device();
        write(
            &dir.path().join(ATTEMPTS_FILE),
            &Attempts {
                failures: 10,
                last: Some(t(0)),
            },
        )
        .expect("write");
        let e = try_open(dir.path(), PIN, t(1)).expect_err("erased");
        assert!(matches!(e, UnlockError::Erased { failures: 10 }), "{e:?}");
        assert!(!dir.path().join("beatbook.db").exists());
        assert!(!dir.path().join("device.json").exists());
    }

    #[test]
    fn a_corrupt_count_means_a_wait_not_a_clean_slate() {
        let dir = device();
        std::fs::write(dir.path().join(ATTEMPTS_FILE), b"{\"failu").expect("write");
        let e = try_open(dir.path(), PIN, t(5)).expect_err("waits");
        assert!(matches!(e, UnlockError::Wait { seconds: 30 }), "{e:?}");
        let e = try_open(dir.path(), PIN, t(25)).expect_err("still waits");
        assert!(matches!(e, UnlockError::Wait { seconds: 10 }), "{e:?}");
        drop(try_open(dir.path(), PIN, t(35)).expect("the wait ends"));
    }

    #[test]
    fn a_try_in_parallel_is_not_lost() {
        let dir = Arc::new(device());
        // A malformed PIN that takes long, then a wrong one meanwhile:
        // restoring the count after the first must not undo the second.
        let slow = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                unlock(
                    dir.path(),
                    &PinPolicy::default(),
                    t(1),
                    || -> Result<(), _> {
                        std::thread::sleep(Duration::from_millis(300));
                        Err(LocalStoreError::Key(crate::keys::KeyError::BadPin))
                    },
                )
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        try_open(dir.path(), WRONG, t(2)).expect_err("wrong");
        assert!(matches!(
            slow.join().expect("thread"),
            Err(UnlockError::Store(LocalStoreError::Key(_)))
        ));
        assert_eq!(failures(dir.path()), 1);
    }
}
