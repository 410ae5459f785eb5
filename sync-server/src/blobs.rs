//! Attachment bytes on disk, content-addressed: `blobs/ab/abcdef…` for complete
//! blobs, `blobs/partial/<device>/<sha>.part` while a device's upload is under
//! way. A partial file's length *is* the upload's progress, so a resumed
//! upload continues from what was durably written, never from what was
//! remembered.
//!
//! Each device's unfinished uploads are its own: two devices sending the same
//! photo fill separate files, so neither can spoil or finish the other's, and
//! what a device leaves unfinished is counted against that device alone.
//!
//! Several server instances may share the directory (shared storage, config
//! `blob_dir`): an upload started on one resumes on another from the partial
//! file, and every lock is held across processes too, by an OS file lock on
//! a lock file under `locks/` (`locks/devices/<device>`, one per device, and
//! `locks/digests/<xx>`, one per first byte of a digest). The storage must
//! support `flock` (local disks; NFS emulates it with POSIX locks).

use std::collections::HashMap;
use std::fs::TryLockError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use beatbook_schema::ids::{DeviceId, Sha256};
use sha2::Digest;
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedMutexGuard;

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
    locks: Arc<Locks>,
}

/// One lock per device (its uploads, one at a time, so its quota is counted
/// on a settled directory) and one per digest stripe, i.e. first byte (a
/// complete blob is promoted, recorded or collected by one task at a time;
/// a stripe keeps the lock files few, at the cost of rare waits between
/// blobs that share it). A device lock is taken before a digest lock, never
/// after. In this process first, then the lock file: so at most one task
/// per key and process waits for another process (on a blocking thread).
#[derive(Debug)]
struct Locks {
    devices: Mutex<HashMap<DeviceId, Arc<tokio::sync::Mutex<()>>>>,
    stripes: Vec<Arc<tokio::sync::Mutex<()>>>,
}

impl Default for Locks {
    fn default() -> Self {
        Self {
            devices: Mutex::default(),
            stripes: (0..=u8::MAX).map(|_| Arc::default()).collect(),
        }
    }
}

fn entry<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
    key: K,
) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, l| Arc::strong_count(l) > 1);
    map.entry(key).or_default().clone()
}

/// A turn on a device's uploads or on a digest, held in this process and in
/// every process sharing the blob directory until dropped.
#[derive(Debug)]
#[must_use = "the turn ends when dropped"]
pub struct Turn {
    // Fields drop in order: the file lock is released before the local one.
    _file: std::fs::File,
    _local: OwnedMutexGuard<()>,
}

fn open_lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Waits for the OS lock on `path` (created if missing).
async fn lock_file(path: PathBuf) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        let file = open_lock_file(&path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The OS lock on `path` if no process holds it now.
async fn try_lock_file(path: PathBuf) -> std::io::Result<Option<std::fs::File>> {
    tokio::task::spawn_blocking(move || {
        let file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

/// An unfinished upload of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// The digest the bytes should have.
    pub sha: Sha256,
    /// Bytes received so far.
    pub len: u64,
}

/// What a sweep of unfinished uploads removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    /// Files removed.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

fn not_found_is_none<T>(r: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn partial_sha(name: &str) -> Option<Sha256> {
    name.strip_suffix(".part")?.parse().ok()
}

impl BlobDir {
    /// Opens (creating) the directory.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("partial"))?;
        std::fs::create_dir_all(root.join("locks").join("devices"))?;
        std::fs::create_dir_all(root.join("locks").join("digests"))?;
        Ok(Self {
            root: root.to_owned(),
            locks: Arc::default(),
        })
    }

    /// Where a complete blob lives.
    pub fn path(&self, sha: &Sha256) -> PathBuf {
        let hex = sha.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    fn device_dir(&self, device: DeviceId) -> PathBuf {
        self.partial_dir().join(device.to_string())
    }

    /// Where `device`'s upload of `sha` in progress lives.
    pub fn partial_path(&self, device: DeviceId, sha: &Sha256) -> PathBuf {
        self.device_dir(device)
            .join(format!("{}.part", sha.to_hex()))
    }

    fn device_lock_path(&self, device: DeviceId) -> PathBuf {
        self.root
            .join("locks")
            .join("devices")
            .join(device.to_string())
    }

    /// Waits for `device`'s turn to upload; its uploads run one at a time,
    /// whichever instance receives them.
    pub async fn lock_device(&self, device: DeviceId) -> std::io::Result<Turn> {
        let local = entry(&self.locks.devices, device).lock_owned().await;
        let file = lock_file(self.device_lock_path(device)).await?;
        Ok(Turn {
            _file: file,
            _local: local,
        })
    }

    /// `device`'s turn if no one (in any process) holds it now.
    async fn try_lock_device(&self, device: DeviceId) -> std::io::Result<Option<Turn>> {
        let Ok(local) = entry(&self.locks.devices, device).try_lock_owned() else {
            return Ok(None);
        };
        let file = try_lock_file(self.device_lock_path(device)).await?;
        Ok(file.map(|file| Turn {
            _file: file,
            _local: local,
        }))
    }

    /// Waits for the turn to promote, record or collect the blob `sha`,
    /// whichever instance does it.
    pub async fn lock_digest(&self, sha: Sha256) -> std::io::Result<Turn> {
        let stripe = sha.0[0];
        let local = self.locks.stripes[usize::from(stripe)]
            .clone()
            .lock_owned()
            .await;
        let path = self
            .root
            .join("locks")
            .join("digests")
            .join(format!("{stripe:02x}"));
        let file = lock_file(path).await?;
        Ok(Turn {
            _file: file,
            _local: local,
        })
    }

    /// Bytes of `device`'s upload of `sha` received so far.
    pub async fn received(&self, device: DeviceId, sha: &Sha256) -> std::io::Result<u64> {
        let meta = not_found_is_none(tokio::fs::metadata(self.partial_path(device, sha)).await)?;
        Ok(meta.map_or(0, |m| m.len()))
    }

    /// `device`'s unfinished uploads.
    pub async fn partials(&self, device: DeviceId) -> std::io::Result<Vec<Partial>> {
        let Some(mut dir) = not_found_is_none(tokio::fs::read_dir(self.device_dir(device)).await)?
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        while let Some(item) = dir.next_entry().await? {
            let Some(sha) = item.file_name().to_str().and_then(partial_sha) else {
                continue;
            };
            if let Some(meta) = not_found_is_none(item.metadata().await)? {
                out.push(Partial {
                    sha,
                    len: meta.len(),
                });
            }
        }
        Ok(out)
    }

    /// Opens `device`'s upload of `sha` for appending, creating it.
    pub async fn append_partial(
        &self,
        device: DeviceId,
        sha: &Sha256,
    ) -> std::io::Result<tokio::fs::File> {
        tokio::fs::create_dir_all(self.device_dir(device)).await?;
        tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.partial_path(device, sha))
            .await
    }

    /// SHA-256 of `device`'s partial file for `sha`.
    pub async fn hash_partial(&self, device: DeviceId, sha: &Sha256) -> std::io::Result<Sha256> {
        let mut file = tokio::fs::File::open(self.partial_path(device, sha)).await?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Sha256(hasher.finalize().into()))
    }

    /// Moves a verified upload into place, durably. The blob may be there
    /// already (another device sent the same bytes): the rename replaces it
    /// with identical bytes. Call with the digest's lock held.
    pub async fn promote(&self, device: DeviceId, sha: &Sha256) -> std::io::Result<()> {
        let target = self.path(sha);
        let dir = target
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(self.partial_path(device, sha), &target).await?;
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(std::io::Error::other)?
    }

    /// Discards `device`'s upload of `sha` (after a hash mismatch).
    pub async fn discard(&self, device: DeviceId, sha: &Sha256) -> std::io::Result<()> {
        not_found_is_none(tokio::fs::remove_file(self.partial_path(device, sha)).await)?;
        Ok(())
    }

    /// Removes a complete blob's bytes; returns how many there were. Call
    /// with the digest's lock held, after the blob was forgotten.
    pub async fn remove(&self, sha: &Sha256) -> std::io::Result<u64> {
        let path = self.path(sha);
        let Some(meta) = not_found_is_none(tokio::fs::metadata(&path).await)? else {
            return Ok(0);
        };
        not_found_is_none(tokio::fs::remove_file(&path).await)?;
        Ok(meta.len())
    }

    /// Removes every unfinished upload last written before `cutoff`. A
    /// device uploading right now (on any instance) is skipped (its files
    /// are not idle), and files of the layout before per-device uploads
    /// (`partial/<sha>.part`) expire the same way. Another instance sweeping
    /// at once is no error: what it removed first is simply not counted here.
    pub async fn expire_partials(&self, cutoff: SystemTime) -> std::io::Result<Removed> {
        let mut removed = Removed::default();
        let mut dir = tokio::fs::read_dir(self.partial_dir()).await?;
        while let Some(item) = dir.next_entry().await? {
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(device) = name.parse::<DeviceId>() {
                let Some(_turn) = self.try_lock_device(device).await? else {
                    continue;
                };
                let device_dir = item.path();
                let Some(mut files) = not_found_is_none(tokio::fs::read_dir(&device_dir).await)?
                else {
                    continue; // another instance's sweep removed it
                };
                while let Some(file) = files.next_entry().await? {
                    expire(&file.path(), cutoff, &mut removed).await?;
                }
                // Gone once empty; an upload recreates it under the device's lock.
                let _ = tokio::fs::remove_dir(&device_dir).await;
            } else if partial_sha(name).is_some() {
                expire(&item.path(), cutoff, &mut removed).await?;
            }
        }
        Ok(removed)
    }

    /// Complete blobs on disk last written before `cutoff`, with their sizes.
    pub async fn complete_before(&self, cutoff: SystemTime) -> std::io::Result<Vec<(Sha256, u64)>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for (sha, meta) in complete_files(&root)? {
                if meta.modified()? < cutoff {
                    out.push((sha, meta.len()));
                }
            }
            Ok(out)
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// Every complete blob file under `root` (`ab/abcdef…`), with its metadata.
fn complete_files(root: &Path) -> std::io::Result<Vec<(Sha256, std::fs::Metadata)>> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(root)? {
        let shard = shard?;
        let is_shard = shard.file_name().len() == 2 && shard.file_type()?.is_dir();
        if !is_shard {
            continue;
        }
        for file in std::fs::read_dir(shard.path())? {
            let file = file?;
            let Some(sha) = file.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(meta) = not_found_is_none(file.metadata())? {
                out.push((sha, meta));
            }
        }
    }
    Ok(out)
}

mod copy;
pub use copy::CopiedBlobs;

/// Removes `path` if it was last written before `cutoff`, counting it.
async fn expire(path: &Path, cutoff: SystemTime, removed: &mut Removed) -> std::io::Result<()> {
    let Some(meta) = not_found_is_none(tokio::fs::metadata(path).await)? else {
        return Ok(());
    };
    if !meta.is_file() || meta.modified()? >= cutoff {
        return Ok(());
    }
    if not_found_is_none(tokio::fs::remove_file(path).await)?.is_some() {
        removed.files += 1;
        removed.bytes += meta.len();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Two handles on one directory, as two server instances have: each has
    /// its own in-process locks, so only the lock files stand between them.
    fn two_instances() -> (tempfile::TempDir, BlobDir, BlobDir) {
        let dir = tempfile::tempdir().expect("dir");
        let one = BlobDir::open(dir.path()).expect("open");
        let two = BlobDir::open(dir.path()).expect("open");
        (dir, one, two)
    }

    async fn waits<T>(turn: impl std::future::Future<Output = T>) -> bool {
        tokio::time::timeout(Duration::from_millis(200), turn)
            .await
            .is_err()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_device_turn_holds_across_instances() {
        let (_dir, one, two) = two_instances();
        let device = DeviceId::new_v7();
        let held = one.lock_device(device).await.expect("lock");
        assert!(waits(two.lock_device(device)).await);
        assert!(two.try_lock_device(device).await.expect("try").is_none());
        assert!(two
            .try_lock_device(DeviceId::new_v7())
            .await
            .expect("try")
            .is_some());
        drop(held);
        let _turn = tokio::time::timeout(Duration::from_secs(5), two.lock_device(device))
            .await
            .expect("the turn passes")
            .expect("lock");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_digest_turn_holds_across_instances() {
        let (_dir, one, two) = two_instances();
        let sha = Sha256::digest(b"photo");
        let held = one.lock_digest(sha).await.expect("lock");
        assert!(waits(two.lock_digest(sha)).await);
        let mut elsewhere = sha;
        elsewhere.0[0] ^= 0xff;
        let _other = tokio::time::timeout(Duration::from_secs(5), two.lock_digest(elsewhere))
            .await
            .expect("another stripe is free")
            .expect("lock");
        drop(held);
        let _turn = tokio::time::timeout(Duration::from_secs(5), two.lock_digest(sha))
            .await
            .expect("the turn passes")
            .expect("lock");
    }
}
