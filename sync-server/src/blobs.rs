//! Attachment bytes on disk, content-addressed: `blobs/ab/abcdef…` for complete
//! blobs, `blobs/partial/<sha>.part` while an upload is under way. A partial
//! file's length *is* the upload's progress, so a resumed upload continues
//! from what was durably written, never from what was remembered.

use std::path::{Path, PathBuf};

use beatbook_schema::ids::Sha256;
use sha2::Digest;
use tokio::io::AsyncReadExt;

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    /// Opens (creating) the directory.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("partial"))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// Where a complete blob lives.
    pub fn path(&self, sha: &Sha256) -> PathBuf {
        let hex = sha.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Where an upload in progress lives.
    pub fn partial_path(&self, sha: &Sha256) -> PathBuf {
        self.root
            .join("partial")
            .join(format!("{}.part", sha.to_hex()))
    }

    /// Bytes of an upload received so far.
    pub async fn received(&self, sha: &Sha256) -> std::io::Result<u64> {
        match tokio::fs::metadata(self.partial_path(sha)).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// SHA-256 of the partial file.
    pub async fn hash_partial(&self, sha: &Sha256) -> std::io::Result<Sha256> {
        let mut file = tokio::fs::File::open(self.partial_path(sha)).await?;
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

    /// Moves a verified upload into place, durably.
    pub async fn promote(&self, sha: &Sha256) -> std::io::Result<()> {
        let target = self.path(sha);
        let dir = target
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(self.partial_path(sha), &target).await?;
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(std::io::Error::other)?
    }

    /// Discards an upload (after a hash mismatch).
    pub async fn discard(&self, sha: &Sha256) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.partial_path(sha)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
