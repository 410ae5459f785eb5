//! Server configuration: defaults, then a TOML file, then `BEATBOOK_*`
//! environment variables (e.g. `BEATBOOK_LISTEN=127.0.0.1:8700`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything the server can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database and blobs live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body after decompression, in bytes.
    pub max_body_bytes: usize,
    /// Most changes in one push.
    pub max_batch_changes: usize,
    /// Largest attachment, in bytes.
    pub max_blob_bytes: u64,
    /// Most items in one pull page.
    pub pull_page_limit: u32,
    /// Device tokens expire this many days after enrollment.
    pub token_ttl_days: u32,
    /// A device clock running further ahead than this is clamped.
    pub max_clock_ahead_secs: u64,
    /// Failed logins per badge within the window before enrollment is refused (429).
    pub login_max_failures: u32,
    /// The failed-login window, in seconds.
    pub login_window_secs: u64,
    /// Officers' local time offset from UTC, in hours (China: 8).
    pub local_utc_offset_hours: i32,
    /// Largest photo (width × height, from its header) the review pages make
    /// a thumbnail of; the decoder may use 4 bytes per pixel of it.
    pub thumbnail_max_pixels: u64,
    /// Photos decoded for thumbnails at once.
    pub thumbnail_concurrent_decodes: usize,
    /// Exports running at once; past this a download is refused (503) until one ends.
    pub max_concurrent_exports: usize,
    /// An export whose client accepts nothing for this many seconds is abandoned.
    pub export_stall_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("beatbook-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_changes: 2_000,
            max_blob_bytes: 25 * 1024 * 1024,
            pull_page_limit: 1_000,
            token_ttl_days: 180,
            max_clock_ahead_secs: 300,
            login_max_failures: 5,
            login_window_secs: 900,
            local_utc_offset_hours: 8,
            thumbnail_max_pixels: 40_000_000,
            thumbnail_concurrent_decodes: 2,
            max_concurrent_exports: 8,
            export_stall_secs: 120,
        }
    }
}

/// The configuration keys, as `BEATBOOK_<KEY>` environment variables take them.
const KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "max_body_bytes",
    "max_batch_changes",
    "max_blob_bytes",
    "pull_page_limit",
    "token_ttl_days",
    "max_clock_ahead_secs",
    "login_max_failures",
    "login_window_secs",
    "local_utc_offset_hours",
    "thumbnail_max_pixels",
    "thumbnail_concurrent_decodes",
    "max_concurrent_exports",
    "export_stall_secs",
];

impl Config {
    /// Loads the configuration: defaults, the file if given (or
    /// `beatbook.toml` in the working directory if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => fig = fig.merge(Toml::file_exact(f)),
            None => fig = fig.merge(Toml::file("beatbook.toml")),
        }
        // Only the settings' own names: other BEATBOOK_* variables (e.g. a
        // password for the admin CLI) are not configuration.
        fig.merge(Env::prefixed("BEATBOOK_").only(KEYS))
            .extract()
            .map_err(Box::new)
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("beatbook.sqlite3")
    }

    /// The blob directory.
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_can_come_from_the_environment() {
        let json = serde_json::to_value(Config::default()).expect("serializes");
        let mut fields: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }
}
