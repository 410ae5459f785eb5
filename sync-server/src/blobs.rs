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

    /// Copies every complete blob (not unfinished uploads) into `dest`,
    /// which takes the same layout. Each file's SHA-256 is checked against
    /// its name as it is copied, and a damaged file stops the copy, naming
    /// it. A blob `dest` already holds intact is skipped, so the copy can be
    /// run again after an interruption. `progress` hears of each blob: done
    /// and total.
    pub async fn copy_complete_to(
        &self,
        dest: &BlobDir,
        mut progress: impl FnMut(u64, u64) + Send + 'static,
    ) -> std::io::Result<CopiedBlobs> {
        let (from, to) = (self.clone(), dest.clone());
        tokio::task::spawn_blocking(move || {
            let blobs = complete_files(&from.root)?;
            let mut copied = CopiedBlobs::default();
            let total = blobs.len() as u64;
            for (done, (sha, meta)) in blobs.into_iter().enumerate() {
                let target = to.path(&sha);
                if hash_file(&target).ok() == Some(sha) {
                    copied.skipped += 1;
                } else {
                    copy_checked(&from.path(&sha), &target, &sha)?;
                    copied.files += 1;
                    copied.bytes += meta.len();
                }
                progress(done as u64 + 1, total);
            }
            Ok(copied)
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// What [`BlobDir::copy_complete_to`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopiedBlobs {
    /// Files copied.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files the destination already held intact.
    pub skipped: u64,
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

/// SHA-256 of a file's bytes.
fn hash_file(path: &Path) -> std::io::Result<Sha256> {
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(Sha256(hasher.finalize().into()))
}

/// Copies `from` to `to` durably (a temporary file renamed into place),
/// failing if the bytes do not hash to `sha`.
fn copy_checked(from: &Path, to: &Path, sha: &Sha256) -> std::io::Result<()> {
    use std::io::Write;

    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{}.copying", sha.to_hex()));
    let mut hasher = sha2::Sha256::new();
    let result = (|| {
        let mut source = std::fs::File::open(from)?;
        let mut target = std::fs::File::create(&temp)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = std::io::Read::read(&mut source, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            target.write_all(&buf[..n])?;
        }
        target.sync_all()
    })();
    let damaged = result.is_ok() && Sha256(hasher.finalize().into()) != *sha;
    if result.is_err() || damaged {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    if damaged {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "blob file {} does not hash to its name: it is damaged. Restore it from a \
                 backup (or remove it: records that show it lose the photo), then run again",
                from.display()
            ),
        ));
    }
    std::fs::rename(&temp, to)?;
    std::fs::File::open(dir)?.sync_all()
}

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
    use super::*;

    fn sha(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    async fn store(dir: &BlobDir, bytes: &[u8]) -> Sha256 {
        let sha = sha(bytes);
        let path = dir.path(&sha);
        tokio::fs::create_dir_all(path.parent().expect("shard"))
            .await
            .expect("shard");
        tokio::fs::write(&path, bytes).await.expect("write");
        sha
    }

    #[tokio::test]
    async fn copying_takes_complete_blobs_skips_intact_ones_and_refuses_damaged_ones() {
        let tmp = tempfile::tempdir().expect("tmp");
        let from = BlobDir::open(&tmp.path().join("from")).expect("from");
        let to = BlobDir::open(&tmp.path().join("to")).expect("to");
        let a = store(&from, b"photo a").await;
        let b = store(&from, b"photo b, longer").await;
        let device = DeviceId::new_v7();
        let mut part = from
            .append_partial(device, &sha(b"half"))
            .await
            .expect("partial");
        tokio::io::AsyncWriteExt::write_all(&mut part, b"ha")
            .await
            .expect("partial");

        let copied = from.copy_complete_to(&to, |_, _| {}).await.expect("copy");
        assert_eq!(
            copied,
            CopiedBlobs {
                files: 2,
                bytes: 22,
                skipped: 0
            }
        );
        assert_eq!(tokio::fs::read(to.path(&a)).await.expect("a"), b"photo a");
        assert_eq!(
            tokio::fs::read(to.path(&b)).await.expect("b"),
            b"photo b, longer"
        );
        assert!(to.partials(device).await.expect("partials").is_empty());

        // Again: what is there intact is skipped, a damaged copy replaced.
        tokio::fs::write(to.path(&b), b"photo b, longe")
            .await
            .expect("damage");
        let copied = from.copy_complete_to(&to, |_, _| {}).await.expect("copy");
        assert_eq!(
            copied,
            CopiedBlobs {
                files: 1,
                bytes: 15,
                skipped: 1
            }
        );
        assert_eq!(
            tokio::fs::read(to.path(&b)).await.expect("b"),
            b"photo b, longer"
        );

        // A damaged source stops the copy, naming the file, and leaves nothing half-written.
        let c = store(&from, b"photo c").await;
        tokio::fs::write(from.path(&c), b"photo C")
            .await
            .expect("damage");
        let err = from
            .copy_complete_to(&to, |_, _| {})
            .await
            .expect_err("damaged");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains(&c.to_hex()), "{err}");
        assert!(!to.path(&c).exists());
        let shard = to.path(&c).parent().expect("shard").to_owned();
        let left: Vec<_> = std::fs::read_dir(shard).expect("shard").collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
