//! Shared harness for Beatbook's end-to-end tests: the real server on a random
//! loopback port with a real database (a SQLite file in a temporary
//! directory, or a throwaway PostgreSQL database: see [`backend`]), and
//! devices that speak the v1 protocol over real HTTP.

pub mod backend;
pub mod browser;
pub mod client;
pub mod data;
pub mod device;
pub mod fault;
pub mod gps;
pub mod metrics;
pub mod org;
pub mod process;
pub mod proxy;
pub mod results;
pub mod server;
pub mod wire;

pub use device::TestDevice;
pub use server::TestServer;

/// The password of every test account.
pub const PASSWORD: &str = "test-password-1";
