//! Attachment bytes on disk, content-addressed: `blobs/ab/abcdef…` for complete
//! blobs, `blobs/partial/<device>/<sha>.part` while a device's upload is under
//! way. A partial file's length *is* the upload's progress, so a resumed
//! upload continues from what was durably written, never from what was
//! remembered.
//!
//! Each device's unfinished uploads are its own: two devices sending the same
//! photo fill separate files, so neither can spoil or finish the other's, and
//! what a device leaves unfinished is counted against that device alone.

use std::collections::HashMap;
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
/// on a settled directory) and one per digest (a complete blob is promoted,
/// recorded or collected by one task at a time). A device lock is taken
/// before a digest lock, never after.
#[derive(Debug, Default)]
struct Locks {
    devices: Mutex<HashMap<DeviceId, Arc<tokio::sync::Mutex<()>>>>,
    digests: Mutex<HashMap<Sha256, Arc<tokio::sync::Mutex<()>>>>,
}

fn entry<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
    key: K,
) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, l| Arc::strong_count(l) > 1);
    map.entry(key).or_default().clone()
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

    /// Waits for `device`'s turn to upload; its uploads run one at a time.
    pub async fn lock_device(&self, device: DeviceId) -> OwnedMutexGuard<()> {
        entry(&self.locks.devices, device).lock_owned().await
    }

    /// Waits for the turn to promote, record or collect the blob `sha`.
    pub async fn lock_digest(&self, sha: Sha256) -> OwnedMutexGuard<()> {
        entry(&self.locks.digests, sha).lock_owned().await
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
    /// device uploading right now is skipped (its files are not idle), and
    /// files of the layout before per-device uploads (`partial/<sha>.part`)
    /// expire the same way.
    pub async fn expire_partials(&self, cutoff: SystemTime) -> std::io::Result<Removed> {
        let mut removed = Removed::default();
        let mut dir = tokio::fs::read_dir(self.partial_dir()).await?;
        while let Some(item) = dir.next_entry().await? {
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Ok(device) = name.parse::<DeviceId>() {
                let Ok(_turn) = entry(&self.locks.devices, device).try_lock_owned() else {
                    continue;
                };
                let device_dir = item.path();
                let mut files = tokio::fs::read_dir(&device_dir).await?;
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
