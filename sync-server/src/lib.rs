//! Beatbook sync server: the service every device trusts with its data.
//!
//! A library with [`router`] and [`serve`]; the `beatbook-server` binary only
//! parses arguments and calls them, and tests start the same [`serve`] on
//! `127.0.0.1:0`.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod demo;
pub mod disk;
pub mod error;
pub mod http;
pub mod janitor;
pub mod review;
pub mod state;
pub mod storage;
pub mod sync;
pub mod thumbs;

use std::future::Future;
use std::sync::Arc;

pub use config::Config;
pub use http::router;
pub use state::{AppState, StartError};

use storage::SqliteStore;

/// Opens the SQLite store of `config` (creating the data directory) and builds the state.
pub async fn open(config: Config) -> Result<AppState, StartError> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = SqliteStore::open(&config.database_path())?;
    AppState::new(Arc::new(store), config).await
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes the
/// requests in flight. The [`janitor`] sweeps alongside while it serves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let janitor = tokio::spawn(janitor::run(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    janitor.abort();
    served
}
