//! Copying the complete blobs to another blob directory (`migrate-to
//! --blob-dir`): each file checked against its name as it is copied.

use std::io::{Read, Write};
use std::path::Path;

use beatbook_schema::ids::Sha256;
use sha2::Digest;

use super::{complete_files, BlobDir};

impl BlobDir {
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

/// SHA-256 of a file's bytes.
fn hash_file(path: &Path) -> std::io::Result<Sha256> {
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(Sha256(hasher.finalize().into()))
}

/// Copies `from` to `to` durably (a temporary file renamed into place),
/// failing if the bytes do not hash to `sha`.
fn copy_checked(from: &Path, to: &Path, sha: &Sha256) -> std::io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{}.copying", sha.to_hex()));
    let mut hasher = sha2::Sha256::new();
    let result = (|| {
        let mut source = std::fs::File::open(from)?;
        let mut target = std::fs::File::create(&temp)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = source.read(&mut buf)?;
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

#[cfg(test)]
mod tests {
    use beatbook_schema::ids::DeviceId;

    use super::*;

    async fn store(dir: &BlobDir, bytes: &[u8]) -> Sha256 {
        let sha = Sha256::digest(bytes);
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
            .append_partial(device, &Sha256::digest(b"half"))
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
