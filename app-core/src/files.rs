//! The device's small files — `device.json`, `pin_attempts.json`, sealed
//! photos — and the removal of its database files. Besides SQLite itself,
//! only native [`crate::sealed::write_sealed`] touches files on its own (its
//! unique temporary names let two writers of one photo race safely).
//!
//! Native builds use the operating system's files. The web build (wasm32)
//! has no file system: there the same files are rows of a plain SQLite
//! database, [`web::FILES_DB`], kept by SQLite's default VFS (the OPFS pool
//! of [`crate::store::opfs`]), so each write is one durable SQLite commit.
//! What these files hold is either not secret (the salt, the wrong-PIN count)
//! or sealed before it gets here (photos).

use std::io;
use std::path::Path;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;
#[cfg(target_arch = "wasm32")]
pub(crate) use web::*;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::fs;
    use std::io::{self, Write};
    use std::path::Path;

    /// The file's bytes (`NotFound` when there is none).
    pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    /// Replaces the file's contents durably: a temporary file beside it
    /// (`<name>.tmp`), fsynced, renamed over it, and the directory fsynced.
    pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
            _ => Ok(()),
        }
    }

    /// Makes a rename in `dir` durable (POSIX needs the directory fsynced too).
    #[cfg(unix)]
    pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
        fs::File::open(dir)?.sync_all()
    }

    #[cfg(not(unix))]
    pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
        Ok(())
    }

    /// Removes the file; one that is not there is fine.
    pub(crate) fn remove(path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes a database file (SQLite's own files are plain files here).
    pub(crate) fn remove_database(path: &Path) -> io::Result<()> {
        remove(path)
    }

    /// Removes every file directly in `dir`; a missing `dir` is fine.
    pub(crate) fn remove_all_in(dir: &Path) -> io::Result<()> {
        match fs::read_dir(dir) {
            Ok(entries) => {
                for entry in entries {
                    remove(&entry?.path())?;
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes `dir` and its parents.
    pub(crate) fn create_dir_all(dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    /// An exclusive lock on a device directory, held until dropped: one
    /// holder across threads and processes.
    pub(crate) struct DirLock(#[allow(dead_code)] fs::File);

    /// Waits for and takes the lock on `dir`.
    pub(crate) fn lock_dir(dir: &Path) -> io::Result<DirLock> {
        let file = fs::File::open(dir)?;
        file.lock()?;
        Ok(DirLock(file))
    }
}

#[cfg(target_arch = "wasm32")]
mod web {
    use std::io;
    use std::path::Path;

    use rusqlite::{Connection, OptionalExtension};

    /// The database that holds the small files, at the root of the VFS.
    pub(crate) const FILES_DB: &str = "/beatbook-files.db";

    fn db_error(e: rusqlite::Error) -> io::Error {
        io::Error::other(format!("{FILES_DB}: {e}"))
    }

    /// Opens the files database (a plain one: see the module comment).
    fn open() -> io::Result<Connection> {
        let conn = Connection::open(FILES_DB).map_err(db_error)?;
        conn.execute_batch(
            // secure_delete: a removed or replaced file (the device file of
            // a revoked device) leaves no bytes behind in free pages.
            "PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             CREATE TABLE IF NOT EXISTS files (
                 dir TEXT NOT NULL, name TEXT NOT NULL, bytes BLOB NOT NULL,
                 PRIMARY KEY (dir, name));",
        )
        .map_err(db_error)?;
        Ok(conn)
    }

    /// `(directory, file name)` of a path, as the table keys it.
    fn key(path: &Path) -> io::Result<(String, String)> {
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a file name", path.display()),
            )
        })?;
        let dir = path.parent().map(dir_key).unwrap_or_default();
        Ok((dir, name.to_owned()))
    }

    fn dir_key(dir: &Path) -> String {
        dir.to_string_lossy().trim_end_matches('/').to_owned()
    }

    /// The file's bytes (`NotFound` when there is none).
    pub(crate) fn read(path: &Path) -> io::Result<Vec<u8>> {
        let (dir, name) = key(path)?;
        open()?
            .query_row(
                "SELECT bytes FROM files WHERE dir = ?1 AND name = ?2",
                [&dir, &name],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Replaces the file's contents: one SQLite commit, acknowledged once
    /// the VFS has flushed it (`synchronous = FULL`).
    pub(crate) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let (dir, name) = key(path)?;
        open()?
            .execute(
                "INSERT INTO files (dir, name, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dir, name) DO UPDATE SET bytes = excluded.bytes",
                rusqlite::params![dir, name, bytes],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Removes the file; one that is not there is fine.
    pub(crate) fn remove(path: &Path) -> io::Result<()> {
        let (dir, name) = key(path)?;
        open()?
            .execute(
                "DELETE FROM files WHERE dir = ?1 AND name = ?2",
                [&dir, &name],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Removes a database file through SQLite's default VFS, which holds it.
    pub(crate) fn remove_database(path: &Path) -> io::Result<()> {
        use sqlite_wasm_rs as ffi;
        let name = std::ffi::CString::new(path.to_string_lossy().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the default VFS is registered before any store opens and
        // lives as long as the worker; `name` outlives the call.
        let code = unsafe {
            let vfs = ffi::sqlite3_vfs_find(std::ptr::null());
            match vfs
                .as_ref()
                .and_then(|v| v.xDelete.map(|delete| (vfs, delete)))
            {
                Some((vfs, delete)) => delete(vfs, name.as_ptr(), 0),
                None => {
                    return Err(io::Error::other(
                        "no SQLite VFS is installed: call store::opfs::install first",
                    ))
                }
            }
        };
        match code {
            ffi::SQLITE_OK | ffi::SQLITE_IOERR_DELETE_NOENT => Ok(()),
            code => Err(io::Error::other(format!(
                "removing {}: SQLite error {code}",
                path.display()
            ))),
        }
    }

    /// Removes every file directly in `dir`.
    pub(crate) fn remove_all_in(dir: &Path) -> io::Result<()> {
        open()?
            .execute("DELETE FROM files WHERE dir = ?1", [dir_key(dir)])
            .map_err(db_error)?;
        Ok(())
    }

    /// Directories are implicit in the table: nothing to make.
    pub(crate) fn create_dir_all(_dir: &Path) -> io::Result<()> {
        Ok(())
    }

    /// Stands for the native directory lock. None is needed here: the OPFS
    /// pool's sync access handles are exclusive, so one dedicated worker owns
    /// the device's storage, and the callers that hold this lock run
    /// synchronously within that worker.
    pub(crate) struct DirLock;

    /// See [`DirLock`].
    pub(crate) fn lock_dir(_dir: &Path) -> io::Result<DirLock> {
        Ok(DirLock)
    }
}

/// Whether a file can be read (`NotFound` is `Ok(None)`).
pub(crate) fn read_if_present(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
