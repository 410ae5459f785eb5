//! Where the web build keeps its databases: SQLite's OPFS "sync access
//! handle pool" VFS (`sqlite-wasm-vfs`'s `sahpool`), made SQLite's default so
//! [`LocalStore::open`](super::LocalStore::open) and [`crate::files`] use it unchanged.
//!
//! Why this VFS: a local save must be acknowledged only once it is durable.
//! `sahpool` writes through OPFS sync access handles and flushes them on
//! every SQLite sync, so a commit under `synchronous = FULL` is on disk when
//! it returns. The IndexedDB alternative commits asynchronously and needs an
//! explicit wait per transaction. The cost: it runs only in a dedicated
//! worker of a secure context, and one worker owns the pool at a time.

use sqlite_wasm_rs::WasmOsCallback;
use sqlite_wasm_vfs::sahpool::{self, OpfsSAHError, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};

/// The pool's directory in the origin's private file system.
pub const POOL_DIRECTORY: &str = "beatbook";

/// Installs the pool as SQLite's default VFS (again: the same pool). Call it
/// once in the dedicated worker before opening a store; keep the handle to
/// manage the pool's files (e.g. to export a database for a check).
pub async fn install() -> Result<OpfsSAHPoolUtil, OpfsSAHError> {
    let cfg = OpfsSAHPoolCfgBuilder::new()
        .vfs_name("beatbook-opfs")
        .directory(POOL_DIRECTORY)
        .build();
    sahpool::install::<WasmOsCallback>(&cfg, true).await
}
