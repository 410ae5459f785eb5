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
    /// Where the database and blobs live (unless `database` and `blob_dir`
    /// say otherwise), and this instance's own files (thumbnails, temporary
    /// exports).
    pub data_dir: PathBuf,
    /// The database: a SQLite file path, or a `postgres://` (or
    /// `postgresql://`) URL. Default: `<data_dir>/beatbook.sqlite3`.
    pub database: Option<Database>,
    /// Most connections to a PostgreSQL database this instance holds.
    pub database_pool_size: u32,
    /// Attachment bytes. Default: `<data_dir>/blobs`. Several instances
    /// must share it (shared storage with file locks, e.g. NFS).
    pub blob_dir: Option<PathBuf>,
    /// The field app's web build (what `scripts/web-build.sh` writes),
    /// served under `/m/` for phones to open and install. Unset: `/m/`
    /// answers how to build it.
    pub web_dir: Option<PathBuf>,
    /// The map renderer's files (what `scripts/map-assets.sh` installs),
    /// for the review pages' map. Unset: `map-assets/` of the source tree
    /// the server was built from; without them the map page says what to run.
    pub map_assets_dir: Option<PathBuf>,
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
    /// Failed logins per badge from all addresses together within the window
    /// before that badge is refused everywhere (429): guessing from many addresses.
    pub login_max_failures_per_badge: u32,
    /// Failed logins from one client address (IPv6: its /64) across all badges
    /// within the window before that address is refused (429): made-up badges.
    pub login_max_failures_per_address: u32,
    /// Officers' local time offset from UTC, in hours (China: 8).
    pub local_utc_offset_hours: i32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client (e.g. a TLS proxy
    /// on the same machine: `["127.0.0.1"]`). Empty: the peer address is the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Most unfinished uploads one device may hold at once.
    pub max_partial_uploads_per_device: u32,
    /// Most bytes of unfinished uploads one device may hold at once.
    pub max_partial_bytes_per_device: u64,
    /// Most bytes one device may hold in uploads no record references yet
    /// (finished and unfinished): its whole footprint until it pushes.
    pub max_unattached_bytes_per_device: u64,
    /// An unfinished upload not written to for this long is removed, in seconds.
    pub partial_upload_ttl_secs: u64,
    /// A finished upload that no record version references is removed once
    /// it was last uploaded this long ago, in seconds (devices upload photos
    /// before they push the records that use them).
    pub unreferenced_blob_grace_secs: u64,
    /// How often the janitor removes expired uploads and unreferenced blobs, in seconds.
    pub janitor_interval_secs: u64,
    /// Uploads are refused (507) when they would leave less free disk space
    /// than this in the blob directory's filesystem, in bytes.
    pub min_free_disk_bytes: u64,
    /// Pushes are refused (507) below this much free disk space, in bytes;
    /// smaller than [`Config::min_free_disk_bytes`], so records still sync
    /// when photos no longer do, and the database is never starved.
    pub push_min_free_disk_bytes: u64,
    /// Largest photo (width × height, from its header) the review pages make
    /// a thumbnail of; the decoder may use 4 bytes per pixel of it.
    pub thumbnail_max_pixels: u64,
    /// Photos decoded for thumbnails at once.
    pub thumbnail_concurrent_decodes: usize,
    /// A connection must deliver a complete request head (and finish the TLS
    /// handshake) within this many seconds of opening or of its first byte.
    pub header_timeout_secs: u64,
    /// A connection with no request in progress is closed after this many
    /// seconds without a byte either way.
    pub idle_timeout_secs: u64,
    /// The longest pause between bytes of a request body, or of a response
    /// the client has stopped reading, before the connection is cut.
    pub body_idle_timeout_secs: u64,
    /// Most connections served at once; lowered at start to what the
    /// process's open-file limit allows.
    pub max_connections: usize,
    /// PEM certificate chain: with `tls_key`, the server speaks HTTPS itself.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// If set, `/metrics` answers anyone sending `Authorization: Bearer <metrics_token>`
    /// and no one else; if not, it answers only direct loopback connections.
    pub metrics_token: Option<String>,
    /// Exports running at once; past this a download is refused (503) until one ends.
    pub max_concurrent_exports: usize,
    /// An export whose client accepts nothing for this many seconds is abandoned.
    pub export_stall_secs: u64,
    /// An enrollment code made on the review pages works for this many seconds.
    pub enrollment_code_ttl_secs: u64,
    /// The address phones reach this server at (`https://beatbook.example.cn`),
    /// written into enrollment QR codes. Unset: the address the review page
    /// was opened at.
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("beatbook-data"),
            database: None,
            database_pool_size: 16,
            blob_dir: None,
            web_dir: None,
            map_assets_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_changes: 2_000,
            max_blob_bytes: 25 * 1024 * 1024,
            pull_page_limit: 1_000,
            token_ttl_days: 180,
            max_clock_ahead_secs: 300,
            login_max_failures: 5,
            login_window_secs: 900,
            login_max_failures_per_badge: 20,
            login_max_failures_per_address: 30,
            local_utc_offset_hours: 8,
            trusted_proxies: Vec::new(),
            max_partial_uploads_per_device: 8,
            max_partial_bytes_per_device: 64 * 1024 * 1024,
            max_unattached_bytes_per_device: 512 * 1024 * 1024,
            partial_upload_ttl_secs: 48 * 3600,
            unreferenced_blob_grace_secs: 7 * 24 * 3600,
            janitor_interval_secs: 3600,
            min_free_disk_bytes: 1024 * 1024 * 1024,
            push_min_free_disk_bytes: 256 * 1024 * 1024,
            thumbnail_max_pixels: 40_000_000,
            thumbnail_concurrent_decodes: 2,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            body_idle_timeout_secs: 30,
            max_connections: 4096,
            tls_cert: None,
            tls_key: None,
            metrics_token: None,
            max_concurrent_exports: 8,
            export_stall_secs: 120,
            enrollment_code_ttl_secs: 15 * 60,
            public_url: None,
        }
    }
}

/// The database a configuration names. Shown (`Display`, `Debug`) without
/// the password of a URL, so it can go into logs and error messages.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server: its `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl From<String> for Database {
    fn from(s: String) -> Self {
        let scheme = s
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Database::Postgres(s),
            _ => Database::Sqlite(PathBuf::from(s)),
        }
    }
}

impl From<Database> for String {
    fn from(db: Database) -> Self {
        match db {
            Database::Sqlite(path) => path.to_string_lossy().into_owned(),
            Database::Postgres(url) => url,
        }
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "SQLite database {}", path.display()),
            Database::Postgres(url) => write!(f, "PostgreSQL database {}", redact_url(url)),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// `url` with the password of its user info and of a `password=` query
/// parameter replaced by `***`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The configuration keys, as `BEATBOOK_<KEY>` environment variables take them.
const KEYS: &[&str] = &[
    "data_dir",
    "database",
    "database_pool_size",
    "blob_dir",
    "web_dir",
    "map_assets_dir",
    "listen",
    "max_body_bytes",
    "max_batch_changes",
    "max_blob_bytes",
    "pull_page_limit",
    "token_ttl_days",
    "max_clock_ahead_secs",
    "login_max_failures",
    "login_window_secs",
    "login_max_failures_per_badge",
    "login_max_failures_per_address",
    "local_utc_offset_hours",
    "trusted_proxies",
    "max_partial_uploads_per_device",
    "max_partial_bytes_per_device",
    "max_unattached_bytes_per_device",
    "partial_upload_ttl_secs",
    "unreferenced_blob_grace_secs",
    "janitor_interval_secs",
    "min_free_disk_bytes",
    "push_min_free_disk_bytes",
    "thumbnail_max_pixels",
    "thumbnail_concurrent_decodes",
    "header_timeout_secs",
    "idle_timeout_secs",
    "body_idle_timeout_secs",
    "max_connections",
    "tls_cert",
    "tls_key",
    "metrics_token",
    "max_concurrent_exports",
    "export_stall_secs",
    "enrollment_code_ttl_secs",
    "public_url",
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

    /// The database: as configured, else the SQLite file in the data directory.
    pub fn database(&self) -> Database {
        self.database
            .clone()
            .unwrap_or_else(|| Database::Sqlite(self.data_dir.join("beatbook.sqlite3")))
    }

    /// The blob directory: as configured, else `blobs` in the data directory.
    pub fn blob_dir(&self) -> PathBuf {
        self.blob_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("blobs"))
    }

    /// Whether clients reach this server over HTTPS: it terminates TLS
    /// itself, or trusted proxies in front do. Then every cookie is `Secure`
    /// and every response carries HSTS.
    pub fn https(&self) -> bool {
        self.tls_cert.is_some() || !self.trusted_proxies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_a_path_or_a_postgres_url_shown_without_its_password() {
        let config = Config {
            data_dir: PathBuf::from("/srv/beatbook"),
            ..Config::default()
        };
        assert_eq!(
            config.database(),
            Database::Sqlite(PathBuf::from("/srv/beatbook/beatbook.sqlite3"))
        );
        assert_eq!(
            Database::from("/data/x.sqlite3".to_owned()),
            Database::Sqlite(PathBuf::from("/data/x.sqlite3"))
        );
        for (url, shown) in [
            (
                "postgres://bb:s3cret@127.0.0.1:5432/beatbook",
                "postgres://bb:***@127.0.0.1:5432/beatbook",
            ),
            (
                "postgresql://bb:p@ss:w@rd@db.internal/beatbook?sslmode=require&password=s3cret",
                "postgresql://bb:***@db.internal/beatbook?sslmode=require&password=***",
            ),
            (
                "POSTGRES://bb@127.0.0.1/beatbook",
                "POSTGRES://bb@127.0.0.1/beatbook",
            ),
        ] {
            let db = Database::from(url.to_owned());
            assert!(matches!(db, Database::Postgres(_)), "{url}");
            let text = format!("{db} {db:?}");
            assert!(text.contains(shown), "{text}");
            assert!(!text.contains("s3cret") && !text.contains("ss:w"), "{text}");
        }
    }

    #[test]
    fn database_and_blob_dir_come_from_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("beatbook.toml");
        std::fs::write(
            &file,
            "database = \"postgres://bb:pw@127.0.0.1/beatbook\"\n\
             database_pool_size = 4\nblob_dir = \"/mnt/shared/blobs\"\n",
        )
        .expect("write");
        let config = Config::load(Some(&file)).expect("loads");
        assert_eq!(
            config.database(),
            Database::Postgres("postgres://bb:pw@127.0.0.1/beatbook".into())
        );
        assert_eq!(config.database_pool_size, 4);
        assert_eq!(config.blob_dir(), PathBuf::from("/mnt/shared/blobs"));
    }

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
