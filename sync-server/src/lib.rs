//! Beatbook sync server: the service every device trusts with its data.
//!
//! A library with [`router`] and [`serve`]; the `beatbook-server` binary only
//! parses arguments and calls them, and tests start the same [`serve`] on
//! `127.0.0.1:0`.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod cores;
pub mod demo;
pub mod deploy;
pub mod disk;
pub mod enrollment;
pub mod error;
pub mod http;
pub mod janitor;
pub mod net;
pub mod review;
pub mod state;
pub mod sync;
pub mod throttle;
pub mod thumbs;

use std::future::Future;
use std::sync::Arc;

pub use config::{Config, Database};
pub use http::router;
pub use state::{AppState, Retirement, StartError};

use beatbook_store::Store;
use beatbook_store_postgres::PgStore;
use beatbook_store_sqlite::SqliteStore;

/// Opens the database `config` names (creating the data directory, and a
/// SQLite file's directory) and builds the state.
pub async fn open(config: Config) -> Result<AppState, StartError> {
    let store = open_store(&config).await?;
    AppState::new(store, config).await
}

/// Opens the database `config` names (creating the data directory, and a
/// SQLite file's directory), without the rest of the state: for tools and
/// tests that read or write the store beside the servers.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    std::fs::create_dir_all(&config.data_dir)?;
    Ok(match config.database() {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Arc::new(SqliteStore::open(&path)?)
        }
        Database::Postgres(url) => {
            let store = PgStore::connect(&url, config.database_pool_size as usize)
                .await
                .map_err(|source| StartError::Open {
                    database: Database::Postgres(url.clone()).to_string(),
                    source,
                })?;
            Arc::new(store)
        }
    })
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes the
/// requests in flight. Speaks HTTPS if the configuration names a
/// certificate; fails only if that certificate cannot be loaded.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = net::tls::acceptor(&state.config).map_err(std::io::Error::other)?;
    serve_with(state, listener, tls, shutdown).await;
    Ok(())
}

/// [`serve`] with a TLS acceptor loaded beforehand (the binary checks the
/// certificate before it binds the address). The [`janitor`] sweeps
/// alongside while it serves.
pub async fn serve_with(
    state: AppState,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let janitor = tokio::spawn(janitor::run(state.clone()));
    let limits = net::Limits::of(&state.config);
    net::serve(router(state), limits, listener, tls, shutdown).await;
    janitor.abort();
}
